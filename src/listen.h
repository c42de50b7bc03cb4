/* listen.h: the pools' listening sockets: taken from systemd by name, or bound from listen.address */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"

typedef struct SocketAddress {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                struct sockaddr_storage storage;
        };
        socklen_t len;
} SocketAddress;

/* Room for any formatted address: the longest is a unix path (sun_path and its NUL) */
#define SOCKET_ADDRESS_STRING_MAX 128

/* "/run/fpmd/www.sock" (absolute path: unix), "127.0.0.1:9000", "[::1]:9000", "9000" (every address:
 * [::]:9000 dual-stack, as PHP-FPM's bare port). Port 0 asks the kernel for a free port. "localhost:9000" is
 * NOT resolved: -EINVAL (no DNS at start). A unix path too long for sun_path is -ENAMETOOLONG. Logs nothing.
 */
int socket_address_parse(const char *s, SocketAddress *ret);
/* "127.0.0.1:9000", "[::1]:9000", "/run/x.sock" ("@name" for an abstract socket, "" for an unnamed one).
 * -ENOSPC if buf is too small (SOCKET_ADDRESS_STRING_MAX always suffices), -EAFNOSUPPORT for other families.
 */
int socket_address_format(const SocketAddress *a, char *buf, size_t size);

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

/* listen.allowed_clients: IPv4/IPv6 addresses, optionally with a /prefix ("10.0.0.0/8", "::1"). IPv4-mapped
 * IPv6 peers ("::ffff:127.0.0.1") match IPv4 entries. An empty list allows everyone; unix peers are always
 * allowed. Host bits beyond the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8); an IPv4-mapped IPv6 entry
 * is stored as the IPv4 entry it stands for. */
typedef struct AllowedClients {
        struct AllowedNet {
                int family;
                uint8_t addr[16];
                unsigned prefix;
        } * nets;
        size_t n;
} AllowedClients;
int allowed_clients_parse(const StringList *l, AllowedClients *ret); /* -EINVAL naming the bad entry in the log */
bool allowed_clients_match(const AllowedClients *a, const struct sockaddr *peer, socklen_t len);
void allowed_clients_done(AllowedClients *a);

/* The kernel's accept queue of a listening TCP socket: connections waiting, and the queue's size (backlog);
 * -EOPNOTSUPP for other sockets (PHP-FPM reports 0 for unix sockets too) */
int listen_queue(int fd, unsigned *ret_waiting, unsigned *ret_size);

/* Whether the socket fd is bound to the address string: 1 yes, 0 no, negative errno when unknown */
int listen_fd_matches(int fd, const char *address);

/* Whether fd is a listening stream socket, and its family (for checks on fds from systemd): 1 if it is, 0 if
 * not (*ret_family is still the socket's family, AF_UNSPEC for something that is no socket), negative errno
 * (-EBADF) on failure. ret_family may be NULL. */
int listen_fd_check(int fd, int *ret_family);
