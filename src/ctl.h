/* ctl.h: `fpmd status`: a running instance's pools from their scoreboards, for an operator's terminal */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Prints the status of every pool of the supervisor (or of one) as text, or JSON with --json; 0, or -errno */
int ctl_status(pid_t pid, const char *pool, bool json, bool full);
