/* address.h: socket addresses as listen.address writes them, and listen.allowed_clients, without any I/O */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"

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
/* -EINVAL with the index of the bad entry in *ret_bad (may be NULL), -ENOMEM; logs nothing */
int allowed_clients_parse(char *const *items, size_t n, AllowedClients *ret, size_t *ret_bad);
bool allowed_clients_match(const AllowedClients *a, const struct sockaddr *peer, socklen_t len);
void allowed_clients_done(AllowedClients *a);
