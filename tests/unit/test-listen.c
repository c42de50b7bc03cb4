/* test-listen.c: listen addresses, allowed_clients, binding and the sockets systemd passes */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "listen.h"
#include "test.h"

/* ---- socket_address_parse / socket_address_format ---- */

START_TEST(test_parse_unix)
{
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse("/run/fpmd/www.sock", &a), 0);
        ck_assert_int_eq(a.sa.sa_family, AF_UNIX);
        ck_assert_str_eq(a.un.sun_path, "/run/fpmd/www.sock");
        ck_assert_uint_eq(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/fpmd/www.sock") + 1);
}
END_TEST

START_TEST(test_parse_unix_too_long)
{
        char path[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1];
        SocketAddress a;

        /* 107 bytes and the NUL fit in sun_path[108] */
        memset(path, 'x', sizeof(path));
        path[0] = '/';
        path[107] = '\0';
        ck_assert_int_eq(socket_address_parse(path, &a), 0);
        ck_assert_uint_eq(a.len, offsetof(struct sockaddr_un, sun_path) + 108);

        path[107] = 'x';
        path[108] = '\0';
        ck_assert_int_eq(socket_address_parse(path, &a), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_parse_ipv4)
{
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse("127.0.0.1:9000", &a), 0);
        ck_assert_int_eq(a.sa.sa_family, AF_INET);
        ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
        ck_assert_uint_eq(ntohl(a.in.sin_addr.s_addr), 0x7f000001);
        ck_assert_uint_eq(ntohs(a.in.sin_port), 9000);

        ck_assert_int_eq(socket_address_parse("0.0.0.0:0", &a), 0);
        ck_assert_uint_eq(a.in.sin_addr.s_addr, htonl(INADDR_ANY));
        ck_assert_uint_eq(ntohs(a.in.sin_port), 0);

        ck_assert_int_eq(socket_address_parse("10.20.30.40:65535", &a), 0);
        ck_assert_uint_eq(ntohl(a.in.sin_addr.s_addr), 0x0a141e28);
        ck_assert_uint_eq(ntohs(a.in.sin_port), 65535);
}
END_TEST

START_TEST(test_parse_ipv6)
{
        static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse("[::1]:9000", &a), 0);
        ck_assert_int_eq(a.sa.sa_family, AF_INET6);
        ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
        ck_assert_mem_eq(&a.in6.sin6_addr, &in6addr_loopback, 16);
        ck_assert_uint_eq(ntohs(a.in6.sin6_port), 9000);

        ck_assert_int_eq(socket_address_parse("[::ffff:192.0.2.1]:80", &a), 0);
        ck_assert_mem_eq(&a.in6.sin6_addr, mapped, 16);
        ck_assert_uint_eq(ntohs(a.in6.sin6_port), 80);
}
END_TEST

START_TEST(test_parse_bare_port)
{
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse("9000", &a), 0);
        ck_assert_int_eq(a.sa.sa_family, AF_INET6);
        ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
        ck_assert_mem_eq(&a.in6.sin6_addr, &in6addr_any, 16);
        ck_assert_uint_eq(ntohs(a.in6.sin6_port), 9000);

        ck_assert_int_eq(socket_address_parse("0", &a), 0);
        ck_assert_uint_eq(ntohs(a.in6.sin6_port), 0);
}
END_TEST

static const char *const bad_addresses[] = {
        "",
        ":",
        "1.2.3.4:",
        "1.2.3.4:70000",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:+80",
        "1.2.3.4: 80",
        "1.2.3.4:80 ",
        "1.2.3.4:123456",
        "1.2.3:80",
        "1.2.3.4",
        ":80",
        "[::1",
        "[::1]",
        "[::1]:",
        "[::1]9000",
        "[]:80",
        "[1.2.3.4]:80",
        "::1:9000",
        "abc:1",
        "localhost:9000",
        "70000",
        "-1",
        "run/fpmd/www.sock",
        "./www.sock",
        "www.sock",
};

START_TEST(test_parse_bad)
{
        SocketAddress a = {.len = 4242};

        ck_assert_int_eq(socket_address_parse(bad_addresses[_i], &a), -EINVAL);
        /* untouched on failure */
        ck_assert_uint_eq(a.len, 4242);
}
END_TEST

START_TEST(test_parse_null)
{
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse(NULL, &a), -EINVAL);
}
END_TEST

static const char *const round_trips[] = {
        "/run/fpmd/www.sock",
        "127.0.0.1:9000",
        "0.0.0.0:0",
        "255.255.255.255:65535",
        "[::1]:9000",
        "[::]:9000",
        "[2001:db8::42]:443",
        "[::ffff:192.0.2.1]:80",
};

START_TEST(test_format_round_trip)
{
        char buf[SOCKET_ADDRESS_STRING_MAX];
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse(round_trips[_i], &a), 0);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, round_trips[_i]);
}
END_TEST

START_TEST(test_format)
{
        char buf[SOCKET_ADDRESS_STRING_MAX], longest[108];
        SocketAddress a;

        /* The bare port is shown as what it is bound to */
        ck_assert_int_eq(socket_address_parse("9000", &a), 0);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "[::]:9000");

        /* Exactly enough room, then one byte short */
        ck_assert_int_eq(socket_address_parse("127.0.0.1:9000", &a), 0);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof("127.0.0.1:9000")), 0);
        ck_assert_str_eq(buf, "127.0.0.1:9000");
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof("127.0.0.1:9000") - 1), -ENOSPC);

        /* The longest unix path fits SOCKET_ADDRESS_STRING_MAX */
        memset(longest, 'y', sizeof(longest));
        longest[0] = '/';
        longest[107] = '\0';
        ck_assert_int_eq(socket_address_parse(longest, &a), 0);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, longest);

        /* Abstract and unnamed unix sockets, as accept() and getsockname() return them */
        memset(&a, 0, sizeof(a));
        a.un.sun_family = AF_UNIX;
        memcpy(a.un.sun_path, "\0fpmd", 5);
        a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 5);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "@fpmd");
        a.len = sizeof(sa_family_t);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "");

        memset(&a, 0, sizeof(a));
        a.sa.sa_family = AF_PACKET;
        a.len = sizeof(a.storage);
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
}
END_TEST

/* ---- allowed_clients ---- */

static StringList strings(char **items)
{
        StringList l = {.items = items};

        while (items[l.n])
                l.n++;
        return l;
}

static struct sockaddr_in peer4(const char *s)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};

        ck_assert_int_eq(inet_pton(AF_INET, s, &a.sin_addr), 1);
        return a;
}

static struct sockaddr_in6 peer6(const char *s)
{
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};

        ck_assert_int_eq(inet_pton(AF_INET6, s, &a.sin6_addr), 1);
        return a;
}

static bool match4(const AllowedClients *a, const char *s)
{
        struct sockaddr_in p = peer4(s);

        return allowed_clients_match(a, (const struct sockaddr *)&p, sizeof(p));
}

static bool match6(const AllowedClients *a, const char *s)
{
        struct sockaddr_in6 p = peer6(s);

        return allowed_clients_match(a, (const struct sockaddr *)&p, sizeof(p));
}

START_TEST(test_allowed_parse)
{
        StringList l = strings(
                (char *[]){"127.0.0.1", "10.1.2.3/8", "2001:db8::1/32", "::ffff:192.0.2.0/120", "0.0.0.0/0", NULL});
        static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
        AllowedClients a;

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert_uint_eq(a.n, 5);

        ck_assert_int_eq(a.nets[0].family, AF_INET);
        ck_assert_uint_eq(a.nets[0].prefix, 32);
        ck_assert_mem_eq(a.nets[0].addr, ((uint8_t[16]){127, 0, 0, 1}), 16);

        /* Host bits beyond the prefix are dropped */
        ck_assert_int_eq(a.nets[1].family, AF_INET);
        ck_assert_uint_eq(a.nets[1].prefix, 8);
        ck_assert_mem_eq(a.nets[1].addr, ((uint8_t[16]){10}), 16);

        ck_assert_int_eq(a.nets[2].family, AF_INET6);
        ck_assert_uint_eq(a.nets[2].prefix, 32);
        ck_assert_mem_eq(a.nets[2].addr, v6, 16);

        /* A v4-mapped entry is the IPv4 net it stands for */
        ck_assert_int_eq(a.nets[3].family, AF_INET);
        ck_assert_uint_eq(a.nets[3].prefix, 24);
        ck_assert_mem_eq(a.nets[3].addr, ((uint8_t[16]){192, 0, 2}), 16);

        ck_assert_int_eq(a.nets[4].family, AF_INET);
        ck_assert_uint_eq(a.nets[4].prefix, 0);

        allowed_clients_done(&a);
        ck_assert_ptr_null(a.nets);
        ck_assert_uint_eq(a.n, 0);
}
END_TEST

static const char *const bad_clients[] = {
        "",
        "localhost",
        "127.0.0.1/",
        "127.0.0.1/33",
        "127.0.0.1/-1",
        "127.0.0.1/8/8",
        "127.0.0.1/a",
        "::1/129",
        "::1/1234",
        "1.2.3",
        "1.2.3.4 ",
        "[::1]",
        "any",
};

START_TEST(test_allowed_parse_bad)
{
        StringList l = strings((char *[]){"127.0.0.1", (char *)bad_clients[_i], NULL});
        AllowedClients a = {.n = 4242};

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), -EINVAL);
        ck_assert_uint_eq(a.n, 4242);
}
END_TEST

START_TEST(test_allowed_exact_ipv4)
{
        StringList l = strings((char *[]){"127.0.0.1", "192.0.2.10", NULL});
        AllowedClients a;

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert(match4(&a, "127.0.0.1"));
        ck_assert(match4(&a, "192.0.2.10"));
        ck_assert(!match4(&a, "127.0.0.2"));
        ck_assert(!match4(&a, "192.0.2.11"));
        ck_assert(!match4(&a, "0.0.0.0"));
        /* An IPv4 entry says nothing of native IPv6 peers */
        ck_assert(!match6(&a, "::1"));
        ck_assert(!match6(&a, "::127.0.0.1"));
        allowed_clients_done(&a);
}
END_TEST

START_TEST(test_allowed_ipv4_cidr)
{
        StringList l8 = strings((char *[]){"10.0.0.0/8", NULL});
        StringList l32 = strings((char *[]){"192.0.2.7/32", NULL});
        StringList l0 = strings((char *[]){"0.0.0.0/0", NULL});
        StringList l23 = strings((char *[]){"192.0.2.0/23", NULL});
        AllowedClients a;

        ck_assert_int_eq(allowed_clients_parse(l8.items, l8.n, &a, NULL), 0);
        ck_assert(!match4(&a, "9.255.255.255"));
        ck_assert(match4(&a, "10.0.0.0"));
        ck_assert(match4(&a, "10.255.255.255"));
        ck_assert(!match4(&a, "11.0.0.0"));
        allowed_clients_done(&a);

        ck_assert_int_eq(allowed_clients_parse(l32.items, l32.n, &a, NULL), 0);
        ck_assert(!match4(&a, "192.0.2.6"));
        ck_assert(match4(&a, "192.0.2.7"));
        ck_assert(!match4(&a, "192.0.2.8"));
        allowed_clients_done(&a);

        ck_assert_int_eq(allowed_clients_parse(l0.items, l0.n, &a, NULL), 0);
        ck_assert(match4(&a, "0.0.0.0"));
        ck_assert(match4(&a, "203.0.113.9"));
        ck_assert(match4(&a, "255.255.255.255"));
        ck_assert(!match6(&a, "2001:db8::1"));
        allowed_clients_done(&a);

        /* A prefix that ends inside a byte: 192.0.2.0 - 192.0.3.255 */
        ck_assert_int_eq(allowed_clients_parse(l23.items, l23.n, &a, NULL), 0);
        ck_assert(!match4(&a, "192.0.1.255"));
        ck_assert(match4(&a, "192.0.2.0"));
        ck_assert(match4(&a, "192.0.3.255"));
        ck_assert(!match4(&a, "192.0.4.0"));
        allowed_clients_done(&a);
}
END_TEST

START_TEST(test_allowed_ipv6)
{
        StringList l = strings((char *[]){"::1", "2001:db8:aa::/48", "fe80::/10", NULL});
        AllowedClients a;

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert(match6(&a, "::1"));
        ck_assert(!match6(&a, "::2"));
        ck_assert(match6(&a, "2001:db8:aa::"));
        ck_assert(match6(&a, "2001:db8:aa:ffff:ffff:ffff:ffff:ffff"));
        ck_assert(!match6(&a, "2001:db8:ab::"));
        ck_assert(!match6(&a, "2001:db8:a9:ffff::1"));
        ck_assert(match6(&a, "fe80::1"));
        ck_assert(match6(&a, "febf:ffff::1"));
        ck_assert(!match6(&a, "fec0::1"));
        ck_assert(!match4(&a, "127.0.0.1"));
        allowed_clients_done(&a);
}
END_TEST

START_TEST(test_allowed_v4_mapped_peer)
{
        StringList l = strings((char *[]){"127.0.0.1", "10.0.0.0/8", NULL});
        StringList lm = strings((char *[]){"::ffff:192.0.2.1", NULL});
        AllowedClients a;

        /* What accept() on a dual-stack [::] socket returns for IPv4 clients */
        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert(match6(&a, "::ffff:127.0.0.1"));
        ck_assert(match6(&a, "::ffff:10.9.8.7"));
        ck_assert(!match6(&a, "::ffff:127.0.0.2"));
        ck_assert(!match6(&a, "::ffff:11.0.0.0"));
        allowed_clients_done(&a);

        ck_assert_int_eq(allowed_clients_parse(lm.items, lm.n, &a, NULL), 0);
        ck_assert(match4(&a, "192.0.2.1"));
        ck_assert(match6(&a, "::ffff:192.0.2.1"));
        ck_assert(!match4(&a, "192.0.2.2"));
        allowed_clients_done(&a);
}
END_TEST

START_TEST(test_allowed_unix_peer)
{
        StringList l = strings((char *[]){"127.0.0.1", NULL});
        struct sockaddr_un named = {.sun_family = AF_UNIX, .sun_path = "/run/x.sock"};
        struct sockaddr_un unnamed = {.sun_family = AF_UNIX};
        struct sockaddr_storage other = {.ss_family = AF_PACKET};
        AllowedClients a;

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert(allowed_clients_match(&a, (struct sockaddr *)&named, sizeof(named)));
        /* accept() gives an unnamed client just the family */
        ck_assert(allowed_clients_match(&a, (struct sockaddr *)&unnamed, sizeof(sa_family_t)));
        ck_assert(!allowed_clients_match(&a, (struct sockaddr *)&other, sizeof(other)));
        ck_assert(!allowed_clients_match(&a, NULL, 0));
        /* A truncated address matches nothing */
        {
                struct sockaddr_in p = peer4("127.0.0.1");
                ck_assert(!allowed_clients_match(&a, (struct sockaddr *)&p, sizeof(p) - 1));
        }
        allowed_clients_done(&a);
}
END_TEST

START_TEST(test_allowed_empty)
{
        StringList l = {.items = (char *[]){NULL}, .n = 0};
        struct sockaddr_un named = {.sun_family = AF_UNIX, .sun_path = "/run/x.sock"};
        AllowedClients a = {.n = 4242};

        ck_assert_int_eq(allowed_clients_parse(l.items, l.n, &a, NULL), 0);
        ck_assert_uint_eq(a.n, 0);
        ck_assert(match4(&a, "203.0.113.1"));
        ck_assert(match6(&a, "2001:db8::1"));
        ck_assert(allowed_clients_match(&a, (struct sockaddr *)&named, sizeof(named)));
        allowed_clients_done(&a);

        /* Nothing parsed at all: a zeroed set */
        a = (AllowedClients){.n = 0};
        ck_assert(match4(&a, "203.0.113.1"));
        allowed_clients_done(&a);
        allowed_clients_done(NULL);
}
END_TEST

/* ---- listen_open ---- */

static char tmpdir[] = "/tmp/test-listen-XXXXXX";

static void tmpdir_setup(void)
{
        strcpy(tmpdir, "/tmp/test-listen-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
        char cmd[sizeof(tmpdir) + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static char *tmppath(const char *name)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, name), 0);
        return p;
}

static int connect_to(const struct sockaddr *sa, socklen_t len)
{
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r;

        ck_assert_int_ge(fd, 0);
        r = connect(fd, sa, len);
        safe_close(fd);
        return r < 0 ? -errno : 0;
}

static int connect_unix(const char *path)
{
        SocketAddress a;

        ck_assert_int_eq(socket_address_parse(path, &a), 0);
        return connect_to(&a.sa, a.len);
}

START_TEST(test_listen_unix)
{
        _cleanup_free_ char *path = tmppath("run/fpmd/www.sock");
        _cleanup_free_ char *dir = tmppath("run/fpmd");
        ListenConfig c = {.address = path, .backlog = 0, .mode = 0600};
        _cleanup_close_ int fd = -1, conn = -1;
        struct stat st;
        int family = -1;

        /* The missing directories are created */
        umask(022);
        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_ge(fd, 0);

        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0755);

        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
        ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        ck_assert_int_eq(listen_fd_check(fd, &family), 1);
        ck_assert_int_eq(family, AF_UNIX);

        ck_assert_int_eq(connect_unix(path), 0);
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(conn, 0);
}
END_TEST

START_TEST(test_listen_unix_mode)
{
        _cleanup_free_ char *path = tmppath("www.sock");
        ListenConfig c = {.address = path, .mode = 0666};
        _cleanup_close_ int fd = -1;
        mode_t old = umask(077);
        struct stat st;

        /* chmod(), not the umask, decides */
        ck_assert_int_eq(listen_open(&c, &fd), 0);
        umask(old);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0666);
}
END_TEST

START_TEST(test_listen_unix_stale)
{
        _cleanup_free_ char *path = tmppath("www.sock");
        ListenConfig c = {.address = path, .mode = 0660};
        _cleanup_close_ int fd = -1, fd2 = -1;
        struct stat st1, st2;

        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_eq(lstat(path, &st1), 0);

        /* Someone still listens: the socket is not stale */
        ck_assert_int_eq(listen_open(&c, &fd2), -EADDRINUSE);
        ck_assert_int_eq(fd2, -1);
        ck_assert_int_eq(connect_unix(path), 0);

        /* The previous run is gone, its file is left: replaced by a new socket */
        fd = safe_close(fd);
        ck_assert_int_eq(connect_unix(path), -ECONNREFUSED);
        ck_assert_int_eq(listen_open(&c, &fd2), 0);
        ck_assert_int_eq(lstat(path, &st2), 0);
        ck_assert(S_ISSOCK(st2.st_mode));
        ck_assert_uint_eq(st2.st_mode & 07777, 0660);
        ck_assert_int_eq(connect_unix(path), 0);
}
END_TEST

START_TEST(test_listen_unix_not_a_socket)
{
        _cleanup_free_ char *path = tmppath("www.sock");
        _cleanup_free_ char *dirpath = tmppath("dir.sock");
        ListenConfig c = {.address = path, .mode = 0660};
        _cleanup_close_ int fd = -1;
        char buf[16] = "";
        struct stat st;
        FILE *f;

        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("precious", f);
        ck_assert_int_eq(fclose(f), 0);

        ck_assert_int_eq(listen_open(&c, &fd), -EEXIST);
        ck_assert_int_eq(fd, -1);

        /* Left as it was */
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
        fclose(f);
        ck_assert_str_eq(buf, "precious");

        /* Nor is a directory taken for a stale socket */
        ck_assert_int_eq(mkdir(dirpath, 0755), 0);
        c.address = dirpath;
        ck_assert_int_eq(listen_open(&c, &fd), -EEXIST);
        ck_assert_int_eq(lstat(dirpath, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(test_listen_unix_owner)
{
        _cleanup_free_ char *path = tmppath("www.sock");
        _cleanup_free_ char *user = NULL, *group = NULL;
        ListenConfig c = {.address = path, .mode = 0660};
        _cleanup_close_ int fd = -1;
        struct passwd *pw;
        struct group *gr;
        uid_t uid;
        gid_t gid;
        struct stat st;

        /* Root can give it away; anyone else can still chown to themselves */
        pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
        if (!pw)
                pw = getpwuid(geteuid());
        ck_assert_ptr_nonnull(pw);
        user = strdup(pw->pw_name);
        uid = pw->pw_uid;
        gr = getgrgid(getegid());
        ck_assert_ptr_nonnull(gr);
        group = strdup(gr->gr_name);
        gid = gr->gr_gid;

        c.owner = user;
        c.group = group;
        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_uint_eq(st.st_uid, uid);
        ck_assert_uint_eq(st.st_gid, gid);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        fd = safe_close(fd);
        ck_assert_int_eq(unlink(path), 0);

        /* Only the group */
        c.owner = NULL;
        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_uint_eq(st.st_uid, geteuid());
        ck_assert_uint_eq(st.st_gid, gid);
        fd = safe_close(fd);
        ck_assert_int_eq(unlink(path), 0);

        /* Unknown names fail before anything is created */
        c.owner = (char *)"fpmd-no-such-user";
        ck_assert_int_eq(listen_open(&c, &fd), -ESRCH);
        ck_assert_int_eq(fd, -1);
        ck_assert_int_eq(lstat(path, &st), -1);
        ck_assert_int_eq(errno, ENOENT);

        c.owner = NULL;
        c.group = (char *)"fpmd-no-such-group";
        ck_assert_int_eq(listen_open(&c, &fd), -ESRCH);
        ck_assert_int_eq(lstat(path, &st), -1);
}
END_TEST

START_TEST(test_listen_unix_too_long)
{
        char path[200];
        ListenConfig c = {.address = path, .mode = 0660};
        int fd = -1;

        memset(path, 'z', sizeof(path));
        memcpy(path, "/tmp/", 5);
        path[sizeof(path) - 1] = '\0';
        ck_assert_int_eq(listen_open(&c, &fd), -ENAMETOOLONG);
        ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_listen_bad_address)
{
        ListenConfig c = {.address = (char *)"localhost:9000"};
        int fd = -1;

        ck_assert_int_eq(listen_open(&c, &fd), -EINVAL);
        c.address = NULL;
        ck_assert_int_eq(listen_open(&c, &fd), -EINVAL);
        c.address = (char *)"";
        ck_assert_int_eq(listen_open(&c, &fd), -EINVAL);
        ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_listen_tcp)
{
        ListenConfig c = {.address = (char *)"127.0.0.1:0", .backlog = 16};
        _cleanup_close_ int fd = -1, fd2 = -1, conn = -1;
        SocketAddress a = {.len = sizeof(a.storage)};
        char buf[SOCKET_ADDRESS_STRING_MAX], *again;
        int family = -1, one = 0;
        socklen_t l = sizeof(one);

        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
        ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, &l), 0);
        ck_assert_int_eq(one, 1);
        ck_assert_int_eq(listen_fd_check(fd, &family), 1);
        ck_assert_int_eq(family, AF_INET);

        ck_assert_int_eq(getsockname(fd, &a.sa, &a.len), 0);
        ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
        ck_assert_uint_eq(ntohl(a.in.sin_addr.s_addr), INADDR_LOOPBACK);
        ck_assert_uint_ne(ntohs(a.in.sin_port), 0);

        ck_assert_int_eq(connect_to(&a.sa, a.len), 0);
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(conn, 0);

        /* The same port again, while the first still listens */
        ck_assert_int_eq(socket_address_format(&a, buf, sizeof(buf)), 0);
        ck_assert_int_ge(asprintf(&again, "%s", buf), 0);
        c.address = again;
        ck_assert_int_eq(listen_open(&c, &fd2), -EADDRINUSE);
        free(again);
}
END_TEST

START_TEST(test_listen_tcp_any)
{
        /* A bare port: every address, IPv4 clients included */
        ListenConfig c = {.address = (char *)"0"};
        _cleanup_close_ int fd = -1, conn = -1;
        SocketAddress a = {.len = sizeof(a.storage)};
        struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int family = -1;

        ck_assert_int_eq(listen_open(&c, &fd), 0);
        ck_assert_int_eq(listen_fd_check(fd, &family), 1);
        ck_assert_int_eq(getsockname(fd, &a.sa, &a.len), 0);
        ck_assert_int_eq(a.sa.sa_family, family);

        if (family == AF_INET6) {
                int v6only = -1;
                socklen_t l = sizeof(v6only);

                ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l), 0);
                ck_assert_int_eq(v6only, 0);
                ck_assert_mem_eq(&a.in6.sin6_addr, &in6addr_any, 16);
                v4.sin_port = a.in6.sin6_port;
                v6.sin6_port = a.in6.sin6_port;
        } else {
                /* A kernel without IPv6 */
                ck_assert_int_eq(family, AF_INET);
                v4.sin_port = a.in.sin_port;
        }

        ck_assert_int_eq(connect_to((struct sockaddr *)&v4, sizeof(v4)), 0);
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(conn, 0);
        conn = safe_close(conn);

        if (family == AF_INET6) {
                /* The loopback may lack ::1 in a container without IPv6 addresses */
                int r = connect_to((struct sockaddr *)&v6, sizeof(v6));

                if (r != -EADDRNOTAVAIL && r != -ENETUNREACH)
                        ck_assert_int_eq(r, 0);
        }
}
END_TEST

/* ---- listen_fd_check ---- */

START_TEST(test_fd_check)
{
        _cleanup_close_ int tcp = -1, udp = -1, unx = -1;
        int pipefd[2], family = -1;

        tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(tcp, 0);
        ck_assert_int_eq(listen_fd_check(tcp, &family), 0);
        ck_assert_int_eq(family, AF_INET);

        udp = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udp >= 0) {
                ck_assert_int_eq(listen_fd_check(udp, &family), 0);
                ck_assert_int_eq(family, AF_INET6);
        }

        unx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(unx, 0);
        ck_assert_int_eq(listen_fd_check(unx, NULL), 0);

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        ck_assert_int_eq(listen_fd_check(pipefd[0], &family), 0);
        ck_assert_int_eq(family, AF_UNSPEC);
        safe_close(pipefd[0]);
        safe_close(pipefd[1]);

        ck_assert_int_eq(listen_fd_check(pipefd[0], &family), -EBADF);
        ck_assert_int_eq(listen_fd_check(-1, &family), -EBADF);
}
END_TEST

/* ---- listen_fds_from_systemd ---- */

/* Check's own reporting may sit on fds 3 and 4, which the child below overwrites: it reports by exit code */
#define CHILD_ASSERT(expr)                                                                             \
        do {                                                                                           \
                if (!(expr)) {                                                                         \
                        fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #expr); \
                        _exit(EXIT_FAILURE);                                                           \
                }                                                                                      \
        } while (0)

static in_port_t fd_port(int fd)
{
        struct sockaddr_in a;
        socklen_t l = sizeof(a);

        if (getsockname(fd, (struct sockaddr *)&a, &l) < 0 || a.sin_family != AF_INET)
                return 0;
        return ntohs(a.sin_port);
}

static bool fd_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

/* Puts n listening sockets on fds 3... as systemd would, with these names; returns their ports in ports[] */
static void child_pass_fds(size_t n, const char *names, in_port_t *ports)
{
        ListenConfig c = {.address = (char *)"127.0.0.1:0"};
        int high[8];
        char s[32];

        CHILD_ASSERT(n <= ELEMENTSOF(high));
        /* Out of the way first, so dup2() does not overwrite one of our own */
        for (size_t i = 0; i < n; i++) {
                int fd;

                CHILD_ASSERT(listen_open(&c, &fd) == 0);
                high[i] = fcntl(fd, F_DUPFD, 100);
                CHILD_ASSERT(high[i] >= 100);
                close(fd);
        }
        for (size_t i = 0; i < n; i++) {
                CHILD_ASSERT(dup2(high[i], SD_LISTEN_FDS_START + (int)i) == SD_LISTEN_FDS_START + (int)i);
                close(high[i]);
                ports[i] = fd_port(SD_LISTEN_FDS_START + (int)i);
                CHILD_ASSERT(ports[i] != 0);
        }

        snprintf(s, sizeof(s), "%d", (int)getpid());
        CHILD_ASSERT(setenv("LISTEN_PID", s, 1) == 0);
        snprintf(s, sizeof(s), "%zu", n);
        CHILD_ASSERT(setenv("LISTEN_FDS", s, 1) == 0);
        CHILD_ASSERT(setenv("LISTEN_FDNAMES", names, 1) == 0);
}

static void run_in_child(void (*fn)(void))
{
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                fn();
                _exit(EXIT_SUCCESS);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), EXIT_SUCCESS);
}

static void child_two_fds(void)
{
        ListenFds l;
        in_port_t ports[2];
        int fd;

        child_pass_fds(2, "www:api", ports);

        CHILD_ASSERT(listen_fds_from_systemd(&l) == 2);
        CHILD_ASSERT(l.n == 2);
        CHILD_ASSERT(streq(l.names[0], "www"));
        CHILD_ASSERT(streq(l.names[1], "api"));
        CHILD_ASSERT(l.names[2] == NULL);
        CHILD_ASSERT(l.fds[0] == 3);
        CHILD_ASSERT(l.fds[1] == 4);
        /* Unset, so nothing we start believes the sockets are its own */
        CHILD_ASSERT(getenv("LISTEN_PID") == NULL);
        CHILD_ASSERT(getenv("LISTEN_FDS") == NULL);
        CHILD_ASSERT(getenv("LISTEN_FDNAMES") == NULL);
        CHILD_ASSERT(fcntl(3, F_GETFD) == FD_CLOEXEC);
        CHILD_ASSERT(fcntl(4, F_GETFD) == FD_CLOEXEC);

        fd = listen_fds_take(&l, "api");
        CHILD_ASSERT(fd == 4);
        CHILD_ASSERT(fd_port(fd) == ports[1]);
        CHILD_ASSERT(l.n == 1);
        CHILD_ASSERT(streq(l.names[0], "www"));
        CHILD_ASSERT(l.names[1] == NULL);
        CHILD_ASSERT(l.fds[0] == 3);

        CHILD_ASSERT(listen_fds_take(&l, "api") == -1);
        CHILD_ASSERT(listen_fds_take(&l, "nope") == -1);
        CHILD_ASSERT(listen_fds_take(&l, "") == -1);

        listen_fds_done(&l);
        CHILD_ASSERT(l.n == 0 && !l.names && !l.fds);
        CHILD_ASSERT(!fd_open(3));
        CHILD_ASSERT(fd_open(4));
        CHILD_ASSERT(listen_fd_check(4, NULL) == 1);
        listen_fds_done(&l);
}

START_TEST(test_fds_from_systemd)
{
        run_in_child(child_two_fds);
}
END_TEST

static void child_same_name(void)
{
        ListenFds l;
        in_port_t ports[3];
        int fd;

        /* Two ListenStream= in one socket unit share its FileDescriptorName= */
        child_pass_fds(3, "www:api:www", ports);

        CHILD_ASSERT(listen_fds_from_systemd(&l) == 3);
        fd = listen_fds_take(&l, "www");
        CHILD_ASSERT(fd == 3);
        CHILD_ASSERT(fd_port(fd) == ports[0]);
        fd = listen_fds_take(&l, "www");
        CHILD_ASSERT(fd == 5);
        CHILD_ASSERT(fd_port(fd) == ports[2]);
        CHILD_ASSERT(listen_fds_take(&l, "www") == -1);
        CHILD_ASSERT(l.n == 1);
        CHILD_ASSERT(streq(l.names[0], "api"));
        CHILD_ASSERT(l.names[1] == NULL);
        CHILD_ASSERT(l.fds[0] == 4);

        listen_fds_done(&l);
        CHILD_ASSERT(fd_open(3));
        CHILD_ASSERT(!fd_open(4));
        CHILD_ASSERT(fd_open(5));
}

START_TEST(test_fds_same_name)
{
        run_in_child(child_same_name);
}
END_TEST

static void child_no_names(void)
{
        ListenFds l;
        in_port_t ports[1];

        /* Without FileDescriptorName= systemd names every socket "unknown" */
        child_pass_fds(1, "", ports);
        CHILD_ASSERT(unsetenv("LISTEN_FDNAMES") == 0);
        CHILD_ASSERT(listen_fds_from_systemd(&l) == 1);
        CHILD_ASSERT(streq(l.names[0], "unknown"));
        CHILD_ASSERT(listen_fds_take(&l, "www") == -1);
        listen_fds_done(&l);
        CHILD_ASSERT(!fd_open(3));
}

START_TEST(test_fds_no_names)
{
        run_in_child(child_no_names);
}
END_TEST

static void child_other_pid(void)
{
        ListenFds l = {.n = 4242};
        in_port_t ports[1];

        /* Meant for another process (our parent, say): not ours to take */
        child_pass_fds(1, "www", ports);
        CHILD_ASSERT(setenv("LISTEN_PID", "1", 1) == 0);
        CHILD_ASSERT(listen_fds_from_systemd(&l) == 0);
        CHILD_ASSERT(l.n == 0 && !l.names && !l.fds);
        CHILD_ASSERT(fd_open(3));
        listen_fds_done(&l);
}

START_TEST(test_fds_other_pid)
{
        run_in_child(child_other_pid);
}
END_TEST

START_TEST(test_fds_none)
{
        ListenFds l = {.n = 4242};

        ck_assert_int_eq(unsetenv("LISTEN_PID"), 0);
        ck_assert_int_eq(unsetenv("LISTEN_FDS"), 0);
        ck_assert_int_eq(unsetenv("LISTEN_FDNAMES"), 0);
        ck_assert_int_eq(listen_fds_from_systemd(&l), 0);
        ck_assert_uint_eq(l.n, 0);
        ck_assert_ptr_null(l.names);
        ck_assert_ptr_null(l.fds);
        ck_assert_int_eq(listen_fds_take(&l, "www"), -1);
        listen_fds_done(&l);
        listen_fds_done(NULL);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("listen");
        TCase *tc;

        tc = tcase_create("address");
        tcase_add_test(tc, test_parse_unix);
        tcase_add_test(tc, test_parse_unix_too_long);
        tcase_add_test(tc, test_parse_ipv4);
        tcase_add_test(tc, test_parse_ipv6);
        tcase_add_test(tc, test_parse_bare_port);
        tcase_add_loop_test(tc, test_parse_bad, 0, (int)ELEMENTSOF(bad_addresses));
        tcase_add_test(tc, test_parse_null);
        tcase_add_loop_test(tc, test_format_round_trip, 0, (int)ELEMENTSOF(round_trips));
        tcase_add_test(tc, test_format);
        suite_add_tcase(s, tc);

        tc = tcase_create("allowed_clients");
        tcase_add_test(tc, test_allowed_parse);
        tcase_add_loop_test(tc, test_allowed_parse_bad, 0, (int)ELEMENTSOF(bad_clients));
        tcase_add_test(tc, test_allowed_exact_ipv4);
        tcase_add_test(tc, test_allowed_ipv4_cidr);
        tcase_add_test(tc, test_allowed_ipv6);
        tcase_add_test(tc, test_allowed_v4_mapped_peer);
        tcase_add_test(tc, test_allowed_unix_peer);
        tcase_add_test(tc, test_allowed_empty);
        suite_add_tcase(s, tc);

        tc = tcase_create("open");
        tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
        tcase_add_test(tc, test_listen_unix);
        tcase_add_test(tc, test_listen_unix_mode);
        tcase_add_test(tc, test_listen_unix_stale);
        tcase_add_test(tc, test_listen_unix_not_a_socket);
        tcase_add_test(tc, test_listen_unix_owner);
        tcase_add_test(tc, test_listen_unix_too_long);
        tcase_add_test(tc, test_listen_bad_address);
        tcase_add_test(tc, test_listen_tcp);
        tcase_add_test(tc, test_listen_tcp_any);
        tcase_add_test(tc, test_fd_check);
        suite_add_tcase(s, tc);

        tc = tcase_create("systemd");
        tcase_add_test(tc, test_fds_from_systemd);
        tcase_add_test(tc, test_fds_same_name);
        tcase_add_test(tc, test_fds_no_names);
        tcase_add_test(tc, test_fds_other_pid);
        tcase_add_test(tc, test_fds_none);
        suite_add_tcase(s, tc);

        return s;
}

TEST_MAIN(suite)
