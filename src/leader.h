/* leader.h: a pool's leader process: PHP started once, workers forked on the supervisor's request */
#pragma once

#include "config.h"
#include "scoreboard.h"

typedef struct LeaderArgs {
        const Config *config;
        const PoolConfig *pool;
        int listen_fd;
        int ctl_fd; /* the channel to the supervisor */
        int handover_rx, handover_tx;
        Scoreboard *scoreboard;
        pid_t parent; /* the supervisor: the leader ends with it */
} LeaderArgs;

/* Runs the leader until it is told to stop and its workers are gone; returns its exit code */
int leader_run(const LeaderArgs *a);
