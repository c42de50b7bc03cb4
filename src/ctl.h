/* ctl.h: `fpmd status`: a running instance's pools from their scoreboards, for an operator's terminal */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* The supervisor holding scoreboards: the given pid, or the only one running; -ESRCH none, -ENOTUNIQ several */
int ctl_find_supervisor(pid_t *ret);
/* Prints the status of every pool of the supervisor (or of one) as text, or JSON with --json; 0, or -errno */
int ctl_status(pid_t pid, const char *pool, bool json, bool full);
