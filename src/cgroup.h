/* cgroup.h: the pools' own cgroups under fpmd's delegated service cgroup (cgroup v2) */
#pragma once

#include <sys/types.h>

#include "config.h"

typedef struct RetiredCgroup {
        char *leaf;
        usec_t since;
} RetiredCgroup;

typedef struct Cgroups {
        char *root;             /* the service's cgroup folder, NULL when fpmd does not manage cgroups */
        unsigned controllers;   /* CGROUP_CONTROLLER_* bits enabled for the pools */
        unsigned warned;        /* controllers already warned about */
        unsigned generation;    /* of the last gen-N leaf made */
        RetiredCgroup *retired; /* leaves of leaders gone, removed once their last worker is */
        size_t n_retired;
} Cgroups;

enum {
        CGROUP_CONTROLLER_CPU = 1 << 0,
        CGROUP_CONTROLLER_MEMORY = 1 << 1,
        CGROUP_CONTROLLER_PIDS = 1 << 2,
};

/* In the supervisor, before any fork: when fpmd runs in a cgroup v2 that systemd delegated to it (Delegate=yes),
 * it moves itself into the leaf "supervisor" and enables the controllers it has for the pools. Anywhere else it
 * leaves cgroups alone and says so once. Never fails fpmd's start: returns 0 either way. */
int cgroup_setup(Cgroups *c);
void cgroup_done(Cgroups *c);
bool cgroup_enabled(const Cgroups *c);

/* pool-NAME (with the pool's limits) and in it the leaf of a new generation, gen-N; returns the leaf's path and
 * an O_PATH|O_DIRECTORY fd for CLONE_INTO_CGROUP */
int cgroup_pool_create(Cgroups *c, const char *pool, const CgroupConfig *limits, char **ret_path, int *ret_fd);
/* Kills every process of a leaf (cgroup.kill), then removes it when it is empty; 0 removed, -EBUSY not yet */
int cgroup_kill_and_remove(const char *leaf);
/* A leaf whose leader is gone (taken over): removed once empty, by cgroup_sweep() */
void cgroup_retire(Cgroups *c, char *leaf);
/* Removes the retired leaves that are empty, kills what runs in those retired longer than grace ago (all of them
 * with force), and removes pool-NAME with its last leaf unless in_use(NAME) */
void cgroup_sweep(
        Cgroups *c, usec_t grace, bool force, bool (*in_use)(const char *pool, void *userdata), void *userdata);
/* At exit: after a forced sweep the killed processes still take time to exit (a large heap to free); waits until
 * the leaves are gone, reaping what exits meanwhile (we are the subreaper), for at most timeout */
void cgroup_wait(Cgroups *c, usec_t timeout);

/* fork() whose child starts inside the cgroup behind fd (clone3 with CLONE_INTO_CGROUP, so no moment is spent
 * outside it); fd < 0 is a plain fork() */
pid_t cgroup_fork_into(int fd);

/* The pool's memory.current and cpu.stat usage_usec; -ENODATA when unknown */
int cgroup_pool_stats(const Cgroups *c, const char *pool, uint64_t *ret_memory, uint64_t *ret_cpu_usec);
