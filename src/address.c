/* address.c: socket addresses as listen.address writes them, and listen.allowed_clients, without any I/O */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>

#include "address.h"

_Static_assert(SOCKET_ADDRESS_STRING_MAX >= sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1,
        "a unix path and its NUL must fit");
_Static_assert(SOCKET_ADDRESS_STRING_MAX >= INET6_ADDRSTRLEN + sizeof("[]:65535"), "an IPv6 address must fit");

/* Decimal digits only: no sign, no blanks, nothing after */
static int parse_port(const char *s, uint16_t *ret)
{
        unsigned long v = 0;

        if (isempty(s) || strlen(s) > 5)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v > UINT16_MAX)
                return -EINVAL;

        *ret = (uint16_t)v;
        return 0;
}

/* Copies s[0..n) into buf as a string, if it fits */
static int copy_host(const char *s, size_t n, char *buf, size_t size)
{
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return 0;
}

int socket_address_parse(const char *s, SocketAddress *ret)
{
        SocketAddress a;
        uint16_t port;
        int r;

        if (isempty(s))
                return -EINVAL;

        memset(&a, 0, sizeof(a));

        if (s[0] == '/') {
                size_t l = strlen(s);

                /* Keep the NUL inside sun_path: every tool that prints the address expects it */
                if (l >= sizeof(a.un.sun_path))
                        return -ENAMETOOLONG;
                a.un.sun_family = AF_UNIX;
                memcpy(a.un.sun_path, s, l + 1);
                a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1);

        } else if (s[0] == '[') {
                char host[INET6_ADDRSTRLEN];
                const char *e = strchr(s, ']');

                if (!e || e[1] != ':')
                        return -EINVAL;
                r = copy_host(s + 1, (size_t)(e - s - 1), host, sizeof(host));
                if (r < 0)
                        return r;
                if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
                        return -EINVAL;
                r = parse_port(e + 2, &port);
                if (r < 0)
                        return r;
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(port);
                a.len = sizeof(struct sockaddr_in6);

        } else if (parse_port(s, &port) >= 0) {
                /* A bare port: every address of both families, as PHP-FPM does */
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_addr = in6addr_any;
                a.in6.sin6_port = htons(port);
                a.len = sizeof(struct sockaddr_in6);

        } else {
                char host[INET_ADDRSTRLEN];
                const char *colon = strrchr(s, ':');

                /* Only numeric IPv4 here: names would need DNS before the network may be up */
                if (!colon)
                        return -EINVAL;
                r = copy_host(s, (size_t)(colon - s), host, sizeof(host));
                if (r < 0)
                        return r;
                if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
                        return -EINVAL;
                r = parse_port(colon + 1, &port);
                if (r < 0)
                        return r;
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(port);
                a.len = sizeof(struct sockaddr_in);
        }

        *ret = a;
        return 0;
}

int socket_address_format(const SocketAddress *a, char *buf, size_t size)
{
        char host[INET6_ADDRSTRLEN];
        int n;

        switch (a->sa.sa_family) {
        case AF_INET:
                if (a->len < sizeof(struct sockaddr_in) || !inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof(host)))
                        return -EINVAL;
                n = snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(a->in.sin_port));
                break;

        case AF_INET6:
                if (a->len < sizeof(struct sockaddr_in6) || !inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host)))
                        return -EINVAL;
                n = snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(a->in6.sin6_port));
                break;

        case AF_UNIX: {
                size_t off = offsetof(struct sockaddr_un, sun_path);
                size_t max = a->len > off ? MIN((size_t)a->len - off, sizeof(a->un.sun_path)) : 0;

                if (max == 0)
                        n = snprintf(buf, size, "%s", "");
                else if (a->un.sun_path[0] == '\0')
                        /* Abstract: the name is every byte after the NUL, as ss(8) shows it */
                        n = snprintf(buf, size, "@%.*s", (int)(max - 1), a->un.sun_path + 1);
                else
                        n = snprintf(buf, size, "%.*s", (int)strnlen(a->un.sun_path, max), a->un.sun_path);
                break;
        }

        default:
                return -EAFNOSUPPORT;
        }

        if (n < 0)
                return -EINVAL;
        if ((size_t)n >= size)
                return -ENOSPC;
        return 0;
}

static bool is_v4_mapped(const uint8_t a[16])
{
        static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static uint8_t prefix_mask(unsigned bits)
{
        return (uint8_t)(0xff << (8 - bits));
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
        size_t full = prefix / 8;
        unsigned rest = prefix % 8;

        if (memcmp(a, b, full) != 0)
                return false;
        return rest == 0 || ((a[full] ^ b[full]) & prefix_mask(rest)) == 0;
}

static int allowed_net_parse(const char *s, struct AllowedNet *ret)
{
        struct AllowedNet net = {.family = AF_UNSPEC};
        char host[INET6_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        unsigned bits;
        size_t full;
        int r;

        r = copy_host(s, slash ? (size_t)(slash - s) : strlen(s), host, sizeof(host));
        if (r < 0)
                return r;

        if (inet_pton(AF_INET, host, net.addr) == 1) {
                net.family = AF_INET;
                bits = 32;
        } else if (inet_pton(AF_INET6, host, net.addr) == 1) {
                net.family = AF_INET6;
                bits = 128;
        } else
                return -EINVAL;

        net.prefix = bits;
        if (slash) {
                const char *p = slash + 1;
                unsigned v = 0;

                if (isempty(p) || strlen(p) > 3)
                        return -EINVAL;
                for (; *p; p++) {
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned)(*p - '0');
                }
                if (v > bits)
                        return -EINVAL;
                net.prefix = v;
        }

        /* Peers are compared as IPv4 when they are v4-mapped, so such an entry must be IPv4 as well */
        if (net.family == AF_INET6 && net.prefix >= 96 && is_v4_mapped(net.addr)) {
                memmove(net.addr, net.addr + 12, 4);
                memset(net.addr + 4, 0, 12);
                net.family = AF_INET;
                net.prefix -= 96;
                bits = 32;
        }

        full = net.prefix / 8;
        if (net.prefix % 8 != 0) {
                net.addr[full] &= prefix_mask(net.prefix % 8);
                full++;
        }
        memset(net.addr + full, 0, bits / 8 - full);

        *ret = net;
        return 0;
}

int allowed_clients_parse(char *const *items, size_t n, AllowedClients *ret, size_t *ret_bad)
{
        _cleanup_free_ struct AllowedNet *nets = NULL;

        if (n > 0) {
                nets = calloc(n, sizeof(struct AllowedNet));
                if (!nets)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < n; i++)
                if (!items[i] || allowed_net_parse(items[i], nets + i) < 0) {
                        if (ret_bad)
                                *ret_bad = i;
                        return -EINVAL;
                }

        *ret = (AllowedClients){.nets = TAKE_PTR(nets), .n = n};
        return 0;
}

bool allowed_clients_match(const AllowedClients *a, const struct sockaddr *peer, socklen_t len)
{
        SocketAddress p;
        uint8_t addr[16];
        int family;

        if (!a || a->n == 0)
                return true;
        if (!peer || len < sizeof(sa_family_t))
                return false;

        memset(&p, 0, sizeof(p));
        memcpy(&p.storage, peer, MIN((size_t)len, sizeof(p.storage)));

        switch (p.sa.sa_family) {
        case AF_UNIX:
                return true;
        case AF_INET:
                if (len < sizeof(struct sockaddr_in))
                        return false;
                family = AF_INET;
                memcpy(addr, &p.in.sin_addr, 4);
                break;
        case AF_INET6:
                if (len < sizeof(struct sockaddr_in6))
                        return false;
                memcpy(addr, &p.in6.sin6_addr, 16);
                family = AF_INET6;
                if (is_v4_mapped(addr)) {
                        memmove(addr, addr + 12, 4);
                        family = AF_INET;
                }
                break;
        default:
                return false;
        }

        for (size_t i = 0; i < a->n; i++)
                if (a->nets[i].family == family && prefix_equal(a->nets[i].addr, addr, a->nets[i].prefix))
                        return true;
        return false;
}

void allowed_clients_done(AllowedClients *a)
{
        if (!a)
                return;
        free(a->nets);
        *a = (AllowedClients){.n = 0};
}
