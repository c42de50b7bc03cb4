/* listen.h: the pools' listening sockets: taken from systemd by name, or bound from listen.address */
#pragma once

#include "address.h"
#include "config.h"

/* Creates, binds and listens: unix sockets get a stale file removed first (only if it is a socket nobody
 * listens on any more: a live one is -EADDRINUSE, anything else at the path -EEXIST), their parent directory
 * created (0755) if missing, then chown(owner, group) and chmod(mode) from ListenConfig when set (mode 0:
 * unchanged); TCP gets SO_REUSEADDR, IPV6_V6ONLY=0 for "[::]" (and falls back to 0.0.0.0 where the kernel
 * has no IPv6). Fd is CLOEXEC and blocking. Logs the failure with the address and returns negative errno. */
int listen_open(const ListenConfig *c, int *ret_fd);

/* The sockets systemd passed (sd_listen_fds_with_names, environment unset): arrays of n names and fds.
 * names is NULL-terminated too. The fds are made CLOEXEC (fork() still hands them to the workers). */
typedef struct ListenFds {
        char **names;
        int *fds;
        size_t n;
} ListenFds;
/* Returns the number of sockets (0 when systemd passed none), negative errno (logged) on failure */
int listen_fds_from_systemd(ListenFds *ret);
/* Takes (removes from the set) the fd named `name`; -1 if none. What is left in the set after every pool
 * took its socket was passed for no pool. */
int listen_fds_take(ListenFds *l, const char *name);
void listen_fds_done(ListenFds *l); /* closes what was not taken; accepts a zeroed set */

/* The kernel's accept queue of a listening socket: connections waiting, and the queue's size (backlog). TCP from
 * TCP_INFO, unix from sock_diag (PHP-FPM reports 0 for unix sockets: php-src #9943); -EOPNOTSUPP for others */
int listen_queue(int fd, unsigned *ret_waiting, unsigned *ret_size);

/* Whether the socket fd is bound to the address string: 1 yes, 0 no, negative errno when unknown */
int listen_fd_matches(int fd, const char *address);

/* Whether fd is a listening stream socket, and its family (for checks on fds from systemd): 1 if it is, 0 if
 * not (*ret_family is still the socket's family, AF_UNSPEC for something that is no socket), negative errno
 * (-EBADF) on failure. ret_family may be NULL. */
int listen_fd_check(int fd, int *ret_family);
/* What listen_fd_check() found, in words for an error message */
const char *listen_fd_describe(int fd);
