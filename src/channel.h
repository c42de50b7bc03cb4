/* channel.h: the messages between the supervisor and a pool's leader, datagrams on a SOCK_SEQPACKET pair */
#pragma once

#include <sys/types.h>

#include "macro.h"

typedef enum ChannelMessageType {
        CHANNEL_READY,        /* leader -> supervisor: PHP is up */
        CHANNEL_FAILED,       /* leader -> supervisor: PHP could not start; status: negative errno */
        CHANNEL_SPAWN,        /* supervisor -> leader: fork a worker into slot */
        CHANNEL_SPAWNED,      /* leader -> supervisor: slot, pid */
        CHANNEL_SPAWN_FAILED, /* leader -> supervisor: slot, status: the fork's negative errno */
        CHANNEL_EXITED,       /* leader -> supervisor: slot, pid, wait status */
        CHANNEL_SIGNAL,       /* supervisor -> leader: send signal `status` to the worker of slot */
        CHANNEL_STOP,         /* supervisor -> leader: stop every worker gracefully, then exit */
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
