/* channel.h: the messages between the supervisor and a pool's leader, datagrams on a SOCK_SEQPACKET pair */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* fpmd-leader's command line: a leader of another build refuses to start */
#define LEADER_PROTOCOL "2"

/* The fds the supervisor passes fpmd-leader, at these numbers */
enum {
        LEADER_FD_CTL = 3,     /* the channel */
        LEADER_FD_LISTEN,      /* the pool's listening socket */
        LEADER_FD_SCOREBOARD,  /* the scoreboard's memfd, closed once mapped */
        LEADER_FD_CONFIG,      /* the pool's settings, libconfig text in a sealed memfd */
        LEADER_FD_HANDOVER_RX, /* the pool's pair on which workers hand connections on */
        LEADER_FD_HANDOVER_TX,
        _LEADER_FD_END,
};
#define LEADER_N_FDS (_LEADER_FD_END - LEADER_FD_CTL)

/* A worker's exit code (in CHANNEL_EXITED's wait status) when its pool's worker.script ended or failed before its
 * first fpmd_handle_request(): the application cannot boot, a fault of the pool's */
#define WORKER_EXIT_NEVER_SERVED 3
/* ... when it could not set itself up (rlimits, chroot, chdir, user) before serving: a fault of the pool's too */
#define WORKER_EXIT_SETUP_FAILED 4

typedef enum ChannelMessageType {
        CHANNEL_READY,        /* leader -> supervisor: PHP is up */
        CHANNEL_FAILED,       /* leader -> supervisor: PHP could not start; status: negative errno */
        CHANNEL_SPAWN,        /* supervisor -> leader: fork a worker into slot */
        CHANNEL_SPAWNED,      /* leader -> supervisor: slot, pid */
        CHANNEL_SPAWN_FAILED, /* leader -> supervisor: slot, status: the fork's negative errno */
        CHANNEL_EXITED,       /* leader -> supervisor: slot, pid, wait status */
        CHANNEL_SIGNAL,       /* supervisor -> leader: send signal `status` to the worker of slot */
        CHANNEL_STOP,         /* supervisor -> leader: stop every worker gracefully, then exit */
        CHANNEL_STOPPING,     /* leader -> supervisor: every worker was told; none takes a new connection */
        CHANNEL_PING,         /* supervisor -> leader: heartbeat, answered with PONG and the same slot value */
        CHANNEL_PONG,
        _CHANNEL_MESSAGE_MAX,
        _CHANNEL_MESSAGE_INVALID = -EINVAL,
} ChannelMessageType;

typedef struct ChannelMessage {
        int32_t type;
        int32_t slot;
        int32_t pid;
        int32_t status;
} ChannelMessage;

int channel_send(int fd, ChannelMessageType type, int slot, pid_t pid, int status);
/* 1 and a message, 0 when there is none now (or a datagram of another size, ignored), -EPIPE when the other
 * end is gone, negative errno */
int channel_receive(int fd, ChannelMessage *ret);
