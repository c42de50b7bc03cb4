/* scoreboard.h: per-pool shared memory table of workers, written by workers without locks, read by the supervisor */
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "macro.h"

typedef enum WorkerState {
        WORKER_FREE,      /* slot unused */
        WORKER_STARTING,  /* forked, not yet accepting */
        WORKER_IDLE,      /* waiting in accept() or for the next request on a kept connection */
        WORKER_READING,   /* reading the request's headers */
        WORKER_RUNNING,   /* running PHP */
        WORKER_FINISHING, /* response sent, running shutdown functions or draining */
        WORKER_EXITING,
        _WORKER_STATE_MAX,
        _WORKER_STATE_INVALID = -EINVAL,
} WorkerState;

const char *worker_state_to_string(WorkerState s);

#define SCOREBOARD_STR_MAX 256

typedef struct ScoreboardSlot {
        /* Written by one worker only; readers tolerate a torn string, never a torn integer */
        volatile int32_t pid;
        volatile int32_t state;
        volatile uint64_t requests;
        volatile uint64_t started_usec;       /* CLOCK_REALTIME of the worker's start */
        volatile uint64_t request_start_usec; /* CLOCK_REALTIME of the current/last request's start */
        volatile uint64_t request_mono_usec;  /* CLOCK_MONOTONIC of the same, for timeouts */
        volatile uint64_t idle_since_usec;    /* CLOCK_MONOTONIC of the last change to idle */
        volatile uint64_t last_duration_usec;
        volatile uint64_t content_length;
        volatile uint64_t last_cpu_usec;
        volatile uint64_t last_memory;
        char method[16];
        char uri[SCOREBOARD_STR_MAX];
        char query[SCOREBOARD_STR_MAX];
        char script[SCOREBOARD_STR_MAX];
        char user[64];
        /* slowlog: the worker writes its PHP backtrace here when asked (SCOREBOARD_TRACE_SIGNAL), then bumps
         * trace_seq */
        volatile uint32_t trace_seq;
        char trace[4096];
} ScoreboardSlot;

/* Real-time: PHP's zend_signal does not manage them, and they queue */
#define SCOREBOARD_TRACE_SIGNAL (SIGRTMIN + 1)
/* Sent each tick to a worker whose request has run a second or more: is its web server still there? */
#define SCOREBOARD_CLIENT_SIGNAL (SIGRTMIN + 2)

#define SCOREBOARD_MAGIC 0x66706d6473620003ULL /* "fpmdsb", layout 3 */

#define SCOREBOARD_BUCKETS 12
/* The histograms' upper bounds in microseconds (Prometheus' default buckets from 5 ms to 10 s), +Inf last */
extern const uint64_t scoreboard_bucket_bounds[SCOREBOARD_BUCKETS];

typedef struct Scoreboard {
        uint64_t magic;
        char pool[64];
        char pm[16];
        uint32_t n_slots;
        uint64_t start_usec;
        volatile uint64_t accepted_conn; /* updated with atomic adds by workers */
        volatile uint64_t max_children_reached;
        volatile uint64_t slow_requests;
        volatile uint64_t max_active;       /* written by the supervisor's tick */
        volatile uint64_t max_listen_queue; /* likewise */
        volatile uint64_t memory_peak;      /* the largest request memory peak of the pool's workers */
        volatile uint64_t cgroup_memory;    /* the pool cgroup's memory.current, UINT64_MAX unknown (tick) */
        volatile uint64_t cgroup_cpu_usec;  /* its cpu.stat usage_usec, likewise */
        volatile uint32_t draining;         /* set by the leader when the generation is replaced: workers take
                                             * nothing new, what they accept they hand on */
        /* Counted with atomic adds by workers: requests not run because the web server had given up on them
         * (closed the connection or sent FCGI_ABORT_REQUEST) before PHP started, and scripts whose client went
         * while they ran */
        volatile uint64_t requests_abandoned;
        volatile uint64_t requests_aborted;
        /* answered 503 without PHP: waited past request_queue_timeout, or the queue past request_queue_max */
        volatile uint64_t requests_shed;
        volatile uint64_t last_shed_usec; /* CLOCK_MONOTONIC of the last, to log an episode once */
        /* Written by workers at the end of each request (atomic adds): how long requests ran and waited, as
         * histograms of SCOREBOARD_BUCKETS (bounds in scoreboard_bucket_bounds, the last +Inf; per bucket, not
         * cumulative), and their HTTP status by class (1xx to 5xx) */
        volatile uint64_t duration_buckets[SCOREBOARD_BUCKETS];
        volatile uint64_t duration_sum_usec;
        volatile uint64_t wait_buckets[SCOREBOARD_BUCKETS];
        volatile uint64_t wait_sum_usec;
        volatile uint64_t status_classes[5];
        /* Written by the supervisor: requests ended by request_terminate_timeout, workers that died by a signal */
        volatile uint64_t requests_terminated;
        volatile uint64_t workers_killed;
        ScoreboardSlot slots[];
} Scoreboard;

/* A shared mapping of a memfd named "fpmd-scoreboard:POOL", passed to the pool's leader and inherited by its
 * workers; the supervisor keeps the fd open so `fpmd status` finds it in /proc/PID/fd. Workers can write all of
 * it: whoever reads it bounds every index by a slot count of its own and takes nothing in it for more than
 * display, but the states the process manager counts. */
int scoreboard_new(const char *pool, const char *pm, unsigned n_slots, Scoreboard **ret, int *ret_fd);
/* Maps another process's scoreboard read-only from its memfd; the slot count is the memfd's size's */
int scoreboard_open(int fd, const Scoreboard **ret, size_t *ret_size, unsigned *ret_n_slots);
/* A leader's read-write mapping of its pool's scoreboard of n_slots (its own setting, never the shared header) */
int scoreboard_map(int fd, unsigned n_slots, Scoreboard **ret);

#define SCOREBOARD_MEMFD_PREFIX "fpmd-scoreboard:"
size_t scoreboard_size(unsigned n_slots);

typedef struct ScoreboardCounts {
        unsigned idle, active, total;
        unsigned started; /* in their loop: accepting or serving, not merely forked */
        uint64_t requests;
} ScoreboardCounts;
void scoreboard_count(const Scoreboard *s, unsigned n_slots, ScoreboardCounts *ret);

/* A worker that just became busy raises max_active if the pool never had as many busy at once */
void scoreboard_note_active(Scoreboard *s, unsigned n_slots);

/* A worker's request is done: its duration and wait into the histograms, its status into its class */
void scoreboard_note_request(Scoreboard *s, uint64_t duration_usec, uint64_t wait_usec, int status);

/* Bounded copy into a fixed field, always NUL-terminated */
void scoreboard_set_str(char *dst, size_t size, const char *src);
