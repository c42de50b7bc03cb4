/* manager.h: the supervisor: configuration, sockets, one leader per pool, worker counts, systemd */
#pragma once

#include "config.h"

typedef struct Manager Manager;

int manager_new(const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Runs until stopped; returns the process exit code */
int manager_run(Manager *m);
