/* pool.h: a pool's leader process: PHP started once, workers forked on the supervisor's request */
#pragma once

#include "config.h"
#include "isolation.h"
#include "listen.h"
#include "scoreboard.h"

/* Datagrams on the SOCK_SEQPACKET pair between the supervisor and a leader */
typedef enum PoolMessageType {
        POOL_MSG_READY,   /* leader -> supervisor: PHP is up */
        POOL_MSG_FAILED,  /* leader -> supervisor: PHP could not start */
        POOL_MSG_SPAWN,   /* supervisor -> leader: fork a worker into slot */
        POOL_MSG_SPAWNED, /* leader -> supervisor: slot, pid */
        POOL_MSG_EXITED,  /* leader -> supervisor: slot, pid, wait status */
        POOL_MSG_STOP,    /* supervisor -> leader: stop every worker gracefully, then exit */
        POOL_MSG_PING,    /* supervisor -> leader: heartbeat, answered with PONG and the same slot value */
        POOL_MSG_PONG,
        _POOL_MSG_MAX,
        _POOL_MSG_INVALID = -EINVAL,
} PoolMessageType;

typedef struct PoolMessage {
        int32_t type;
        int32_t slot;
        int32_t pid;
        int32_t status;
} PoolMessage;

typedef struct PoolLeaderArgs {
        const Config *config;
        const PoolConfig *pool;
        int listen_fd;
        int ctl_fd;
        Scoreboard *scoreboard;
        const AllowedClients *allowed;
        const Isolation *isolation;
} PoolLeaderArgs;

/* Runs in the forked leader; returns its exit code */
int pool_leader_run(const PoolLeaderArgs *a);

int pool_message_send(int fd, PoolMessageType type, int slot, pid_t pid, int status);
