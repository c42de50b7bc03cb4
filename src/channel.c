/* channel.c: the messages between the supervisor and a pool's leader, datagrams on a SOCK_SEQPACKET pair */
#include <sys/socket.h>

#include "channel.h"

int channel_send(int fd, ChannelMessageType type, int slot, pid_t pid, int status)
{
        ChannelMessage m = {.type = type, .slot = slot, .pid = pid, .status = status};

        if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int channel_receive(int fd, ChannelMessage *ret)
{
        ssize_t n = recv(fd, ret, sizeof(*ret), MSG_DONTWAIT);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -EPIPE;
        return n == (ssize_t)sizeof(*ret) ? 1 : 0;
}
