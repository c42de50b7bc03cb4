/* pool.h: the supervisor's view of one generation of a pool: its socket, scoreboard, leader and workers */
#pragma once

#include <sys/resource.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "listen.h"
#include "pm.h"
#include "scoreboard.h"

typedef enum PoolState {
        POOL_NEW,      /* set up (socket, scoreboard), not brought into service yet: pool_activate() */
        POOL_STARTING, /* leader started, PHP starting */
        POOL_RUNNING,  /* PHP up, workers managed */
        POOL_STOPPING, /* told to stop, workers finishing */
        POOL_FAILED,   /* leader died or PHP failed; restarted with a backoff */
        POOL_RESTING,  /* ondemand with pm.leader_idle_timeout: no leader; the first waiting connection starts it */
        POOL_DOZING,   /* its leader, without workers for pm.leader_idle_timeout, is told to stop; it rests after */
        _POOL_STATE_MAX,
        _POOL_STATE_INVALID = -EINVAL,
} PoolState;

typedef struct Pool Pool;

/* What the supervisor lends its pools, and what a pool tells it: passed down, so pool.c knows nothing above */
typedef struct PoolOwner {
        sd_event *event;
        Cgroups *cgroups;
        ListenFds *systemd_fds;
        const char *leader_path; /* the fpmd-leader binary */
        usec_t watchdog_usec;
        rlim_t nofile_soft; /* the open file limit fpmd started with, for its leaders; 0: unknown */
        bool (*stopping)(void *userdata);
        void (*serving)(Pool *p, void *userdata); /* its first workers accept */
        void (*settle)(void *userdata);           /* a worker started: readiness may follow soon */
        void (*gone)(Pool *p, void *userdata);    /* leader gone for good (stopped, or a new generation that failed) */
        void (*restart)(Pool *p, void *userdata); /* emergency restart: a new generation with the same settings */
        void (*changed)(void *userdata);          /* what STATUS= shows changed */
        /* A leader with these fds (LEADER_FD_*), started elsewhere (the zygote) as our child: its pid, or
         * negative errno and the pool execs fpmd-leader itself */
        pid_t (*spawn_leader)(Pool *p, const int *fds, int cgroup_fd, void *userdata);
        void *userdata;
} PoolOwner;

/* The supervisor's own record of a worker slot: the scoreboard beside it is the workers', display data */
typedef struct SlotInfo {
        bool taken;         /* a worker was asked for (SPAWN sent) and has not exited */
        pid_t pid;          /* from the leader's fork(), 0 until SPAWNED */
        usec_t stop_sent;   /* CLOCK_MONOTONIC when we asked it to stop, 0 if not */
        usec_t kill_sent;   /* request_terminate_timeout: when the leader was told to kill it */
        usec_t slow_logged; /* request_mono_usec of the request already logged as slow */
        bool trace_pending; /* its backtrace was asked for (slowlog) */
        uint32_t trace_seq; /* trace_seq of the slot before asking */
        usec_t trace_asked;
        usec_t trace_duration;
} SlotInfo;

struct Pool {
        const PoolOwner *owner;
        Config *config_owner; /* one reference: holds config */
        const PoolConfig *config;
        uint64_t php_fingerprint;

        int listen_fd;
        bool listen_from_systemd;
        bool listen_bound; /* bound by this generation: for systemd's fd store once the generation is committed */
        int handover[2];   /* receiving and sending end of the pair on which workers hand connections on */
        Scoreboard *scoreboard;
        int scoreboard_fd;
        unsigned n_slots; /* pm.max_children: the scoreboard's size and every bound on its indexes */
        SlotInfo *slots;
        PoolState state;
        PmState pm;

        pid_t leader;
        int leader_pidfd; /* the leader as a pidfd, -1 where the kernel has none: what one signal goes to */
        int ctl_fd;
        char *cgroup; /* the leaf of the running leader's generation, NULL without pool cgroups */
        sd_event_source *ctl_source;
        sd_event_source *restart_timer;
        sd_event_source *listen_source;   /* ondemand: a connection is waiting */
        sd_event_source *handover_source; /* ondemand: a connection was handed on */

        int32_t ping_sent; /* heartbeat number last sent to the leader, and last answered */
        int32_t pong_received;
        Pool *replaces;               /* the previous generation, stopped once this one serves */
        bool stop_acked;              /* told to stop, its leader says no worker takes a new connection any more */
        bool replaced_for_scoreboard; /* a worker wrote over the scoreboard; a new generation replaces it */
        bool served;                  /* has had its first workers up */
        usec_t workerless_since;      /* CLOCK_MONOTONIC since when a running lazy pool has had no worker, or 0 */
        unsigned quick_failures;
        bool spawn_failing;     /* the leader's fork() failed, said once until a worker starts again */
        bool memory_held;       /* no new worker: the cgroup is near its memory limit (said once per episode) */
        unsigned boot_failures; /* workers in a row whose worker.script failed before serving */
        bool boot_failed;       /* that many that the pool's application is taken as broken (said once) */
        unsigned leader_failures;
        usec_t *faults; /* ring of the times of the last emergency_restart_threshold faults */
        size_t n_faults, fault_next;
};

/* A pool of a configuration; its socket is the previous generation's when the address is the same (so no
 * connection is refused while both run), else systemd's by name, else bound anew */
int pool_new(const PoolOwner *owner, Config *config, const PoolConfig *c, const Pool *previous, Pool **ret);
Pool *pool_free(Pool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Pool *, pool_free);

const char *pool_name(const Pool *p);
/* A socket the pool bound goes to systemd's fd store under the pool's name (replacing what was stored under it):
 * after a crash or a watchdog restart it comes back in LISTEN_FDS, with the connections that queued meanwhile */
void pool_store_socket(const Pool *p, bool replace);
/* A pool gone from the configuration takes its socket out of the store */
void pool_unstore_socket(const Pool *p);
/* Whether the pool runs with these settings and the same PHP setup (php.ini and the ini files beside it) */
bool pool_unchanged(const Pool *p, const Config *c, const PoolConfig *pc);

/* Starts the leader (again): a fresh scoreboard and cgroup leaf, fpmd-leader exec'd with the pool's settings */
int pool_start(Pool *p);
/* Brings a pool into service: its leader starts now, or (ondemand with pm.leader_idle_timeout, unless now is
 * set) when the first connection waits */
int pool_activate(Pool *p, bool now);
/* Graceful (workers finish their request) or at once (the pool's processes killed) */
void pool_stop(Pool *p, bool wait);
void pool_kill(Pool *p);
/* The leader exited (the supervisor reaped it) */
void pool_leader_exited(Pool *p, int status);

/* Its first workers are in their loop, accepting */
bool pool_serving(const Pool *p);
void pool_check_served(Pool *p);

/* Once per tick: timeouts and the slowlog, peaks for the status page, the process manager */
void pool_tick(Pool *p);
/* Of an old generation: only its requests' timeouts */
void pool_check_requests(Pool *p);

void pool_counts(const Pool *p, ScoreboardCounts *ret);
/* "www: 3 active, 5 idle, 1204 req, 0 slow" */
int pool_status_line(const Pool *p, char *buf, size_t size);
/* Why the watchdog should not be pinged for this pool, NULL when it is healthy */
const char *pool_unhealthy(const Pool *p);
/* Sends heartbeat n unless the previous one is unanswered */
void pool_heartbeat(Pool *p, int32_t n);
