/* isolation.h: what a pool's workers drop into before their first request: user, groups, chroot, limits */
#pragma once

#include <sys/types.h>

#include "config.h"

typedef struct Isolation {
        bool change_user; /* false when fpmd itself runs unprivileged, or the pool runs as root */
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups, resolved before any chroot hides /etc/group */
        size_t n_groups;
        char *user;       /* the name the pool's workers run as, for logs and the status page */
        char *home;       /* its home: HOME of the workers, with USER (as PHP-FPM, for a user given by name) */
        char *chroot;     /* NULL: none */
        char *chdir;      /* inside the chroot; "/" when NULL and chrooted */
        int rlimit_files; /* -1: unchanged */
        int rlimit_core;  /* -1: unchanged, -2: unlimited */
        bool dumpable;
} Isolation;

/* Resolves names and decides, with clear errors (a pool as root needs allow_root); announce: also the notices
 * and warnings about the plan, which the supervisor gives and a leader, planning again, leaves out */
int isolation_plan(const PoolConfig *p, bool announce, Isolation *ret);
/* In a worker, before its first request; every failure is fatal for the worker */
int isolation_apply(const Isolation *i);
void isolation_done(Isolation *i);
