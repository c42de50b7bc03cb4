/* control.c: the supervisor's control socket, where `fpmd reload` asks for a reload and waits for its outcome */
#include <dirent.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "log.h"

#define MESSAGE_MAX 65536

struct ControlRequest {
        Control *control;
        int fd;
        sd_event_source *source;
        ControlRequest *next;
};

struct Control {
        int fd;
        sd_event_source *source;
        const ControlHandler *handler;
        ControlRequest *requests;
};

/* "fpmd-control-PIDNS-": the names of the supervisors in our pid namespace (a client runs in the supervisor's:
 * ExecReload=, or a shell in the same container) */
static void control_prefix(char *buf, size_t size)
{
        struct stat st;

        snprintf(buf, size, CONTROL_ADDRESS_PREFIX "%llu-",
                stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long long)st.st_ino : 0ULL);
}

static socklen_t control_address(pid_t pid, struct sockaddr_un *ret)
{
        char prefix[64];
        int n;

        control_prefix(prefix, sizeof(prefix));
        *ret = (struct sockaddr_un){.sun_family = AF_UNIX};
        /* Abstract: sun_path starts with a NUL, the name's length is the address's */
        n = snprintf(ret->sun_path + 1, sizeof(ret->sun_path) - 1, "%s%d", prefix, (int)pid);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static ControlRequest *request_free(ControlRequest *req)
{
        ControlRequest **p;

        if (!req)
                return NULL;
        for (p = &req->control->requests; *p; p = &(*p)->next)
                if (*p == req) {
                        *p = req->next;
                        break;
                }
        sd_event_source_disable_unref(req->source);
        safe_close(req->fd);
        return mfree(req);
}

void control_reply(ControlRequest *req, bool ok, const char *text)
{
        _cleanup_free_ char *m = NULL;
        int n;

        if (!req)
                return;
        n = asprintf(&m, "%s%c%s", ok ? "ok" : "error", 0, strempty(text));
        if (n > 0 && req->fd >= 0)
                (void)send(req->fd, m, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        request_free(req);
}

/* The client went before its answer (its --timeout passed): the connection goes, the request stays until the
 * reload's outcome answers it, as the handler holds it until then */
static int on_request_hangup(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        ControlRequest *req = userdata;

        (void)s;
        (void)fd;
        (void)revents;
        req->source = sd_event_source_disable_unref(req->source);
        req->fd = safe_close(req->fd);
        return 0;
}

static int control_read_request(Control *c, int fd)
{
        _cleanup_free_ char *buf = malloc(MESSAGE_MAX + 1);
        _cleanup_free_ char **pools = NULL;
        ControlRequest *req;
        size_t n = 0;
        ssize_t len;
        int r;

        if (!buf)
                return -ENOMEM;
        len = recv(fd, buf, MESSAGE_MAX, 0);
        if (len <= 0)
                return len < 0 ? -errno : -EPIPE;
        buf[len] = 0;
        if (!streq(buf, "reload"))
                return log_warning_errno(EBADMSG, "Unknown control request '%.32s', ignoring.", buf);

        /* "reload\0POOL\0POOL..." */
        pools = calloc((size_t)len, sizeof(char *));
        if (!pools)
                return -ENOMEM;
        for (char *s = buf + strlen(buf) + 1; s < buf + len; s += strlen(s) + 1)
                if (*s)
                        pools[n++] = s;

        req = calloc(1, sizeof(ControlRequest));
        if (!req)
                return -ENOMEM;
        *req = (ControlRequest){.control = c, .fd = fd, .next = c->requests};
        c->requests = req;
        r = sd_event_add_io(sd_event_source_get_event(c->source), &req->source, fd, EPOLLRDHUP, on_request_hangup, req);
        if (r < 0) {
                req->fd = -1;
                request_free(req);
                return r;
        }
        c->handler->reload(req, pools, n, c->handler->userdata);
        return 0;
}

static int on_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Control *c = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int conn;

        (void)s;
        (void)revents;
        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
                return 0;
        /* Only root and fpmd's own user may steer it */
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || (cred.uid != 0 && cred.uid != geteuid())) {
                log_warning("Refusing a control request of uid %d.", len == sizeof(cred) ? (int)cred.uid : -1);
                safe_close(conn);
                return 0;
        }
        if (control_read_request(c, conn) < 0)
                safe_close(conn);
        return 0;
}

int control_new(sd_event *event, const ControlHandler *handler, Control **ret)
{
        _cleanup_(control_freep) Control *c = calloc(1, sizeof(Control));
        struct sockaddr_un a;
        socklen_t len = control_address(getpid(), &a);
        int r;

        if (!c)
                return -ENOMEM;
        c->handler = handler;
        c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0)
                return -errno;
        if (bind(c->fd, (struct sockaddr *)&a, len) < 0 || listen(c->fd, 16) < 0)
                return log_error_errno(errno, "Failed to listen on the control socket @%.*s: %m",
                        (int)(len - offsetof(struct sockaddr_un, sun_path) - 1), a.sun_path + 1);
        r = sd_event_add_io(event, &c->source, c->fd, EPOLLIN, on_connection, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Control *control_free(Control *c)
{
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        sd_event_source_disable_unref(c->source);
        safe_close(c->fd);
        return mfree(c);
}

/* ---- the client ---- */

int control_reload(pid_t pid, char *const *pools, size_t n, usec_t timeout, char **ret_text)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *msg = NULL, *answer = NULL;
        struct sockaddr_un a;
        socklen_t alen = control_address(pid, &a);
        size_t len = strlen("reload") + 1;
        struct pollfd p;
        ssize_t k;
        int r;

        for (size_t i = 0; i < n; i++)
                len += strlen(pools[i]) + 1;
        if (len > MESSAGE_MAX)
                return -E2BIG;
        msg = malloc(len);
        answer = malloc(MESSAGE_MAX + 1);
        if (!msg || !answer)
                return -ENOMEM;
        memcpy(msg, "reload", strlen("reload") + 1);
        for (size_t i = 0, off = strlen("reload") + 1; i < n; off += strlen(pools[i]) + 1, i++)
                memcpy(msg + off, pools[i], strlen(pools[i]) + 1);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&a, alen) < 0)
                return errno == ECONNREFUSED ? -ESRCH : -errno;
        if (send(fd, msg, len, MSG_NOSIGNAL) < 0)
                return -errno;

        p = (struct pollfd){.fd = fd, .events = POLLIN};
        do
                r = poll(&p, 1, timeout == USEC_INFINITY ? -1 : (int)MIN(timeout / USEC_PER_MSEC, (usec_t)INT32_MAX));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        k = recv(fd, answer, MESSAGE_MAX, 0);
        if (k < 0)
                return -errno;
        if (k == 0)
                return -ECONNRESET; /* the supervisor went (stopped, or crashed) */
        answer[k] = 0;
        if (ret_text) {
                *ret_text = strdup(answer + strlen(answer) + 1 <= answer + k ? answer + strlen(answer) + 1 : "");
                if (!*ret_text)
                        return -ENOMEM;
        }
        return streq(answer, "ok") ? 0 : -EBADE;
}

/* Whether process pid holds the socket of this inode: a name in /proc/net/unix is the network namespace's, its
 * pid maybe another pid namespace's */
static bool pid_holds_socket(pid_t pid, unsigned long inode)
{
        char dir[64], want[64];
        struct dirent *de;
        bool found = false;
        DIR *d;

        snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
        snprintf(want, sizeof(want), "socket:[%lu]", inode);
        d = opendir(dir);
        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                char path[320], link[64];
                ssize_t n;

                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                n = readlink(path, link, sizeof(link) - 1);
                if (n > 0) {
                        link[n] = 0;
                        found = streq(link, want);
                }
        }
        closedir(d);
        return found;
}

int control_find_supervisor(pid_t *ret)
{
        char line[512], prefix[64];
        pid_t pids[16];
        size_t n = 0;
        bool more = false;
        FILE *f = fopen("/proc/net/unix", "re");

        if (!f)
                return -errno;
        prefix[0] = ' ';
        prefix[1] = '@';
        control_prefix(prefix + 2, sizeof(prefix) - 2);
        /* "Num RefCount Protocol Flags Type St Inode Path": the socket's path is "@fpmd-control-PIDNS-PID", on the
         * listening socket (state 01, listening: flags 00010000) and on the connections to it */
        while (fgets(line, sizeof(line), f)) {
                char *path = strrchr(line, ' ');
                unsigned long flags, inode;
                bool seen = false;
                int p;

                if (!path || !strneq(path, prefix, strlen(prefix)) || sscanf(path + strlen(prefix), "%d", &p) != 1 ||
                        p <= 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu", &flags, &inode) != 2 || !(flags & 0x10000))
                        continue;
                for (size_t i = 0; i < n; i++)
                        seen = seen || pids[i] == p;
                if (seen || !pid_holds_socket(p, inode))
                        continue;
                if (n < ELEMENTSOF(pids))
                        pids[n++] = p;
                else
                        more = true;
        }
        fclose(f);
        if (n == 0)
                return -ESRCH;
        if (n > 1 || more)
                return -ENOTUNIQ;
        *ret = pids[0];
        return 0;
}
