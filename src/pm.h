/* pm.h: PHP-FPM's process manager as a pure function: a pool's settings, its workers' states and the time in,
 * how many workers to start and which one to stop out; static, dynamic and ondemand */
#pragma once

#include "config.h"
#include "scoreboard.h"

/* One worker slot as the supervisor sees it */
typedef struct PmSlot {
        WorkerState state; /* WORKER_FREE when no worker holds the slot */
        usec_t idle_since; /* CLOCK_MONOTONIC, when state is WORKER_IDLE */
        bool stop_asked;   /* told to stop, still finishing */
} PmSlot;

/* What the process manager keeps between decisions */
typedef struct PmState {
        unsigned spawn_rate;   /* dynamic: doubles each tick that still has too few idle workers */
        bool max_children_hit; /* in an episode of max_children reached: logged once per episode */
} PmState;

typedef struct PmInput {
        const PmConfig *config;
        const PmSlot *slots; /* config->max_children of them */
        usec_t now;          /* CLOCK_MONOTONIC */
        bool tick;           /* the periodic decision: idle workers may be stopped; else only missing ones started */
        bool waiting;        /* a connection waits in the listen queue (ondemand) */
        bool throttled;      /* workers die right after their start: at most one new worker */
        bool memory_full;    /* the pool's cgroup is near its memory limit: no new worker while one serves */
} PmInput;

typedef struct PmDecision {
        unsigned spawn;       /* workers to start now */
        int stop;             /* the slot of the worker to stop, -1 for none */
        bool max_children;    /* pm.max_children was reached, first time in this episode: say so */
        bool busy;            /* dynamic spawns at a rate of 8 or more: PHP-FPM's "seems busy" notice */
        bool memory_held;     /* workers were wanted, but the pool's memory is near its limit */
        unsigned idle, total; /* the counts the decision saw */
} PmDecision;

void pm_state_init(PmState *s);
/* Workers a pool starts with: max_children (static), start_servers (dynamic), none (ondemand) */
unsigned pm_initial_workers(const PmConfig *c);
void pm_decide(PmState *s, const PmInput *in, PmDecision *ret);
