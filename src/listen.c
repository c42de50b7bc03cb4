/* listen.c: the pools' listening sockets: taken from systemd by name, or bound from listen.address */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "listen.h"
#include "user.h"
#include "log.h"

#define LISTEN_BACKLOG_DEFAULT 511

/* mkdir -p of every directory above path (the last component is the socket itself) */
static int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;

        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

/* A socket file is stale when nobody accepts on it any more: connect() is refused. Taking over one that
 * another fpmd (or PHP-FPM) still serves would leave that one running but unreachable. */
static int unix_socket_remove_stale(const SocketAddress *a, const char *address)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (lstat(a->un.sun_path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                r = negative_errno();
                return log_error_errno(r, "Failed to check %s: %m", address);
        }
        if (!S_ISSOCK(st.st_mode))
                return log_error_errno(EEXIST, "%s exists and is not a socket, refusing to replace it.", address);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to create a socket to probe %s: %m", address);
        }
        /* A full backlog answers EAGAIN on a non-blocking unix socket: that one is alive too */
        if (connect(fd, &a->sa, a->len) >= 0 || errno == EAGAIN || errno == EINPROGRESS)
                return log_error_errno(EADDRINUSE, "Another process listens on %s already.", address);

        if (unlink(a->un.sun_path) < 0 && errno != ENOENT) {
                r = negative_errno();
                return log_error_errno(r, "Failed to remove stale socket %s: %m", address);
        }
        log_debug("Removed stale socket %s", address);
        return 0;
}

static int socket_listen(int fd, const ListenConfig *c)
{
        int backlog = c->backlog > 0 ? c->backlog : LISTEN_BACKLOG_DEFAULT;

        if (listen(fd, backlog) < 0) {
                int r = negative_errno();
                return log_error_errno(r, "Failed to listen on %s: %m", c->address);
        }
        return 0;
}

static int listen_open_unix(const ListenConfig *c, const SocketAddress *a, int *ret_fd)
{
        const char *path = a->un.sun_path;
        _cleanup_close_ int fd = -1;
        uid_t uid = (uid_t)-1;
        gid_t gid = (gid_t)-1;
        int r;

        /* Before anything is created, so an unknown name leaves nothing behind */
        if (c->owner) {
                _cleanup_(user_record_done) UserRecord u = {};

                r = user_lookup(c->owner, &u);
                if (r == -ESRCH)
                        return log_error_errno(r, "Unknown user '%s' in listen.owner.", c->owner);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up user '%s' of listen.owner: %m", c->owner);
                uid = u.uid;
        }
        if (c->group) {
                r = group_lookup(c->group, &gid);
                if (r == -ESRCH)
                        return log_error_errno(r, "Unknown group '%s' in listen.group.", c->group);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up group '%s' of listen.group: %m", c->group);
        }

        r = mkdir_parents(path, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", c->address);

        r = unix_socket_remove_stale(a, c->address);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to create socket for %s: %m", c->address);
        }
        if (bind(fd, &a->sa, a->len) < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to bind %s: %m", c->address);
        }

        /* The file is ours from here: it goes again if anything fails. Permissions are set before listen(),
         * so no client ever connects through the umask's mode. */
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(path, uid, gid) < 0) {
                r = negative_errno();
                log_error_errno(
                        r, "Failed to change owner of %s to %s:%s: %m", c->address, strna(c->owner), strna(c->group));
                goto fail;
        }
        if (c->mode != 0 && chmod(path, (mode_t)c->mode) < 0) {
                r = negative_errno();
                log_error_errno(r, "Failed to change mode of %s to %04o: %m", c->address, c->mode);
                goto fail;
        }
        r = socket_listen(fd, c);
        if (r < 0)
                goto fail;

        *ret_fd = TAKE_FD(fd);
        return 0;

fail:
        (void)unlink(path);
        return r;
}

static int listen_open_inet(const ListenConfig *c, SocketAddress *a, int *ret_fd)
{
        bool any6 = a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
        _cleanup_close_ int fd = -1;
        int one = 1, zero = 0, r;

        fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0 && errno == EAFNOSUPPORT && any6) {
                /* A kernel booted with ipv6.disable=1: every address is every IPv4 address */
                in_port_t port = a->in6.sin6_port;

                log_warning("IPv6 is not available, listening on 0.0.0.0:%u only for %s", (unsigned)ntohs(port),
                        c->address);
                memset(a, 0, sizeof(*a));
                a->in.sin_family = AF_INET;
                a->in.sin_port = port;
                a->in.sin_addr.s_addr = htonl(INADDR_ANY);
                a->len = sizeof(struct sockaddr_in);
                any6 = false;
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
        }
        if (fd < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to create socket for %s: %m", c->address);
        }

        /* A restart must not wait for the TIME_WAIT connections of the previous run */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to set SO_REUSEADDR on %s: %m", c->address);
        }
        /* Dual-stack whatever net.ipv6.bindv6only says, so a bare port also serves IPv4 */
        if (any6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to clear IPV6_V6ONLY on %s: %m", c->address);
        }

        if (bind(fd, &a->sa, a->len) < 0) {
                r = negative_errno();
                return log_error_errno(r, "Failed to bind %s: %m", c->address);
        }
        r = socket_listen(fd, c);
        if (r < 0)
                return r;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int listen_open(const ListenConfig *c, int *ret_fd)
{
        SocketAddress a;
        int r;

        if (isempty(c->address))
                return log_error_errno(EINVAL, "No listen.address set.");

        r = socket_address_parse(c->address, &a);
        if (r == -ENAMETOOLONG)
                return log_error_errno(r, "Path of unix socket %s is too long: at most %zu bytes are possible.",
                        c->address, sizeof(a.un.sun_path) - 1);
        if (r < 0)
                return log_error_errno(r,
                        "Invalid listen.address '%s': expected an absolute path, IPV4:PORT, [IPV6]:PORT or "
                        "PORT.",
                        c->address);

        if (a.sa.sa_family == AF_UNIX)
                return listen_open_unix(c, &a, ret_fd);
        return listen_open_inet(c, &a, ret_fd);
}

int listen_fds_from_systemd(ListenFds *ret)
{
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ int *fds = NULL;
        int n, r;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to get the sockets passed by systemd: %m");
        if (n == 0) {
                *ret = (ListenFds){.n = 0};
                return 0;
        }
        if (!names)
                return log_error_errno(EIO, "systemd passed %d sockets without names.", n);

        fds = calloc((size_t)n, sizeof(int));
        if (!fds)
                return log_oom();

        for (int i = 0; i < n; i++) {
                fds[i] = SD_LISTEN_FDS_START + i;
                /* systemd hands them over inheritable; fork() passes them on to the workers anyway, but
                 * nothing we exec should get them */
                if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
                        r = negative_errno();
                        (void)log_warning_errno(
                                r, "Failed to set FD_CLOEXEC on socket '%s' (fd %d), ignoring: %m", names[i], fds[i]);
                }
        }

        *ret = (ListenFds){.names = TAKE_PTR(names), .fds = TAKE_PTR(fds), .n = (size_t)n};
        return n;
}

int listen_fds_take(ListenFds *l, const char *name)
{
        for (size_t i = 0; i < l->n; i++) {
                int fd;

                if (!streq(l->names[i], name))
                        continue;

                fd = l->fds[i];
                free(l->names[i]);
                /* Names move down with their NULL terminator; a second socket of the same name stays */
                memmove(l->names + i, l->names + i + 1, (l->n - i) * sizeof(char *));
                memmove(l->fds + i, l->fds + i + 1, (l->n - i - 1) * sizeof(int));
                l->n--;
                return fd;
        }
        return -1;
}

void listen_fds_done(ListenFds *l)
{
        if (!l)
                return;

        for (size_t i = 0; i < l->n; i++) {
                safe_close(l->fds[i]);
                free(l->names[i]);
        }
        free(l->names);
        free(l->fds);
        *l = (ListenFds){.n = 0};
}

int listen_fd_check(int fd, int *ret_family)
{
        int type = 0, family = AF_UNSPEC, accepting = 0;
        socklen_t l;

        if (fd < 0)
                return -EBADF;

        l = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0) {
                if (errno != ENOTSOCK)
                        return negative_errno();
                if (ret_family)
                        *ret_family = AF_UNSPEC;
                return 0;
        }
        l = sizeof(family);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l) < 0)
                return negative_errno();
        l = sizeof(accepting);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &l) < 0)
                return negative_errno();

        if (ret_family)
                *ret_family = family;
        return type == SOCK_STREAM && accepting;
}

const char *listen_fd_describe(int fd)
{
        int type = 0, family = AF_UNSPEC, accepting = 0;
        socklen_t l = sizeof(type);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
                return errno == ENOTSOCK ? "not a socket" : "it cannot be inspected";
        l = sizeof(family);
        (void)getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l);
        if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
                return "a socket of another address family";
        if (type == SOCK_DGRAM)
                return "a datagram socket";
        if (type == SOCK_SEQPACKET)
                return "a seqpacket socket";
        if (type != SOCK_STREAM)
                return "a socket of another type";
        l = sizeof(accepting);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &l) == 0 && !accepting)
                return "a stream socket that is not listening, a connection";
        return "a listening stream socket";
}

int listen_fd_matches(int fd, const char *address)
{
        SocketAddress want, have = {.len = sizeof(have.storage)};
        int r;

        r = socket_address_parse(address, &want);
        if (r < 0)
                return r;
        if (getsockname(fd, &have.sa, &have.len) < 0)
                return -errno;
        if (have.sa.sa_family != want.sa.sa_family)
                return 0;
        switch (want.sa.sa_family) {
        case AF_UNIX:
                return streq(have.un.sun_path, want.un.sun_path);
        case AF_INET:
                return have.in.sin_port == want.in.sin_port && have.in.sin_addr.s_addr == want.in.sin_addr.s_addr;
        case AF_INET6:
                return have.in6.sin6_port == want.in6.sin6_port &&
                       memcmp(&have.in6.sin6_addr, &want.in6.sin6_addr, sizeof(want.in6.sin6_addr)) == 0;
        default:
                return -EAFNOSUPPORT;
        }
}

/* A unix socket's accept queue from the kernel's sock_diag (what `ss -xl` shows): looked up by inode, its
 * UNIX_DIAG_RQLEN is the queue's length and its size for a listening socket */
static int unix_listen_queue(int fd, unsigned *ret_waiting, unsigned *ret_size)
{
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } msg = {
                .nlh = {.nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
                .req = {.sdiag_family = AF_UNIX,
                        .udiag_states = 1U << TCP_LISTEN,
                        .udiag_show = UDIAG_SHOW_RQLEN,
                        .udiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}},
        };
        union {
                struct nlmsghdr nlh;
                uint8_t bytes[1024];
        } buf;
        _cleanup_close_ int nl = -EBADF;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return -errno;
        msg.req.udiag_ino = (uint32_t)st.st_ino;
        nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (nl < 0)
                return -errno;
        if (send(nl, &msg, sizeof(msg), 0) < 0)
                return -errno;
        do
                n = recv(nl, &buf, sizeof(buf), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = &buf.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
                struct unix_diag_msg *m = NLMSG_DATA(h);
                size_t len;

                if (h->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(h);

                        return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ? e->error : -EIO;
                }
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
                        m->udiag_ino != msg.req.udiag_ino)
                        continue;
                len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
                for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
                        if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
                                const struct unix_diag_rqlen *q = RTA_DATA(a);

                                *ret_waiting = q->udiag_rqueue;
                                *ret_size = q->udiag_wqueue;
                                return 0;
                        }
        }
        return -ENODATA;
}

int listen_queue(int fd, unsigned *ret_waiting, unsigned *ret_size)
{
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        int domain;
        socklen_t dlen = sizeof(domain);

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0)
                return -errno;
        if (domain == AF_UNIX)
                return unix_listen_queue(fd, ret_waiting, ret_size);
        /* For a listening socket Linux reports the accept queue in tcpi_unacked and its size in tcpi_sacked */
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                return errno == EOPNOTSUPP || errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
        if (ti.tcpi_state != TCP_LISTEN)
                return -EOPNOTSUPP;
        *ret_waiting = ti.tcpi_unacked;
        *ret_size = ti.tcpi_sacked;
        return 0;
}
