/* zygote.h: the leaders' zygote, a process that has loaded the shared libraries of PHP's extensions once and
 * forks each pool's leader from there.
 *
 * A leader exec'd afresh spends most of its start in the dynamic linker (Debian's extensions pull in some 250
 * libraries) and keeps their relocated pages to itself. Forked from the zygote it finds them loaded and shares
 * them with every other leader; it then starts PHP with its own pool's php.ini as before, so each pool keeps
 * its own settings, extensions' state and opcache. The zygote never starts PHP.
 *
 * The leader is the supervisor's child, as an exec'd one is: the zygote forks a short-lived middle process
 * which forks the leader and exits, and the orphan goes to the supervisor, a child subreaper. */
#pragma once

#include <sys/types.h>

#include "channel.h"
#include "config.h"

/* fpmd-leader --zygote: its channel to the supervisor, SOCK_SEQPACKET */
#define ZYGOTE_FD 3

typedef enum ZygoteMessageType {
        ZYGOTE_PRELOAD, /* supervisor -> zygote, first: what to load, "ini\0PATH\0scan\0DIR\0ext\0NAME\0..." */
        ZYGOTE_READY,   /* zygote -> supervisor: loaded; error: how many libraries it could not load */
        ZYGOTE_SPAWN,   /* supervisor -> zygote: a leader for pool, with LEADER_N_FDS fds (and a cgroup's) */
        ZYGOTE_SPAWNED, /* middle process -> supervisor: the leader's pid, or error (negative errno) */
        _ZYGOTE_MESSAGE_MAX,
        _ZYGOTE_MESSAGE_INVALID = -EINVAL,
} ZygoteMessageType;

#define ZYGOTE_POOL_MAX 256

typedef struct ZygoteMessage {
        int32_t type;
        int32_t pid;   /* ZYGOTE_SPAWN: the supervisor, the leader's parent; ZYGOTE_SPAWNED: the leader */
        int32_t error; /* negative errno */
        int32_t has_cgroup;
        char pool[ZYGOTE_POOL_MAX];
} ZygoteMessage;

/* What the leaders of c will load: every pool's php.ini and scan folder, and extensions named in its
 * php_admin_value/php_value, as the ZYGOTE_PRELOAD payload (NUL-separated kind, value pairs) */
int zygote_preload_spec(const Config *c, const char *default_php_ini, char **ret, size_t *ret_size);

/* The shared objects a preload spec names, in the order PHP would load them: extension= and zend_extension=
 * lines of each php.ini and then of its scan folder's *.ini files in name order, names resolved against
 * extension_dir (as PHP does: NAME, then NAME.so). Files that do not exist are left out. NULL-terminated. */
int zygote_preload_paths(const char *spec, size_t size, const char *extension_dir, char ***ret);

/* ---- the supervisor's side ---- */

typedef struct Zygote {
        pid_t pid;  /* 0: not running */
        int fd;     /* the channel */
        char *spec; /* what it preloaded */
        size_t spec_size;
        unsigned failures; /* in a row: after 3, leaders are exec'd as before */
        bool ready;
} Zygote;

#define ZYGOTE_NULL ((Zygote){.fd = -1})

/* Starts the zygote (fpmd-leader --zygote) with what to preload; it loads in the background */
int zygote_start(Zygote *z, const char *leader_path, char *spec, size_t spec_size);
/* A leader for pool from the zygote, as the caller's child: its pid, or negative errno (the caller then starts
 * the leader itself). fds: LEADER_N_FDS fds for LEADER_FD_CTL..; cgroup_fd: the leaf to start it in, or -1 */
pid_t zygote_spawn(Zygote *z, const char *pool, const int fds[LEADER_N_FDS], int cgroup_fd);
/* The zygote exited (SIGCHLD): forget it */
void zygote_exited(Zygote *z, int status);
/* Closes its channel: it exits */
void zygote_stop(Zygote *z);
