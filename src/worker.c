/* worker.c: a worker process: accept on the pool's socket, speak FastCGI, hand each request to PHP */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "php.h"
#include "request.h"
#include "worker.h"

/* accept() failures that mean "not for us this time" */
#define IN_SET_ACCEPT_RETRY(e) ((e) == EAGAIN || (e) == EINTR || (e) == ECONNABORTED || (e) == EPROTO || (e) == EPERM)

static volatile sig_atomic_t stop_requested;
static int listen_fd_copy = -1;
static const WorkerContext *worker;

/* The worker keeps these signals blocked and reads them from a signalfd; this handler is what PHP's zend_signal
 * records at startup (see worker_install_signal_handlers()) */
static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static ScoreboardSlot *my_slot(void)
{
        return &worker->scoreboard->slots[worker->slot];
}

static void slot_set_state(WorkerState s)
{
        ScoreboardSlot *slot = my_slot();

        if (s == WORKER_IDLE && slot->state != WORKER_IDLE)
                slot->idle_since_usec = now_usec(CLOCK_MONOTONIC);
        slot->state = s;
}

/* A request begins on a connection: as PHP-FPM, "accepted conn" counts requests, also those on a kept
 * connection, and a worker's "requests" includes the one it is serving */
static void on_request_begin(void *userdata)
{
        (void)userdata;
        slot_set_state(WORKER_READING);
        __atomic_fetch_add(&worker->scoreboard->accepted_conn, 1, __ATOMIC_RELAXED);
        my_slot()->requests++;
}

static void log_malformed(const Conn *c, int error)
{
        log_warning_errno(error, "Malformed FastCGI data on connection %d, closing it: %s", c->fd,
                error == -EPROTO ? "unsupported protocol version" : strerror(-error));
}

/* A connection between requests: the web server keeps it (FCGI_KEEP_CONN) and may send the next request on it
 * at any time, so the worker never closes it on its own; bytes already read past the last request wait here */
typedef struct Kept {
        int fd;
        uint8_t *leftover;
        size_t leftover_len;
} Kept;

#define KEPT_MAX 64

typedef struct Loop {
        int epoll_fd;
        int signal_fd; /* the stop signals, always blocked, read from the epoll set with everything else */
        bool watching_listen;
        Kept kept[KEPT_MAX];
        size_t n_kept;
        uint64_t requests;
        Conn conn; /* buffers of the connection being served */
        Request request;
} Loop;

static int loop_watch_listen(Loop *l, bool on)
{
        /* EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd_copy};

        if (on == l->watching_listen)
                return 0;
        if (epoll_ctl(l->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_copy, on ? &ev : NULL) < 0)
                return log_error_errno(errno, "Failed to watch the listening socket: %m");
        l->watching_listen = on;
        return 0;
}

/* Serves requests on fd while it has whole ones buffered or arriving; true when the connection is to be kept */
static bool loop_serve(Loop *l, int fd, const uint8_t *leftover, size_t leftover_len, bool *ret_more)
{
        const PoolConfig *pool = worker->pool;
        Conn *c = &l->conn;
        Request *r = &l->request;
        bool first = true;

        conn_attach(c, fd, leftover, leftover_len);
        *ret_more = true;

        while (first || c->in_len > c->in_off) {
                int k;

                first = false;
                k = request_read(r);
                if (k < 0) {
                        if (k == -EPROTO || k == -EBADMSG || k == -E2BIG)
                                log_malformed(c, k);
                        else
                                log_debug_errno(k, "FastCGI connection failed: %m");
                        return false;
                }
                if (k == 0)
                        return false;

                php_handle_request(r);
                (void)request_end(r, 0);
                slot_set_state(WORKER_FINISHING);
                request_drain(r);

                l->requests++;
                if (pool->pm.max_requests > 0 && l->requests >= pool->pm.max_requests)
                        *ret_more = false;
                if (!r->keep_conn || c->broken || c->eof || !*ret_more)
                        return false;
                slot_set_state(WORKER_IDLE);
        }
        return true;
}

static int loop_park(Loop *l, int fd, bool registered)
{
        Conn *c = &l->conn;
        const uint8_t *rest;
        Kept *k;

        if (!registered) {
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

                if (l->n_kept >= KEPT_MAX || epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        return -ENOSPC;
                k = &l->kept[l->n_kept++];
                *k = (Kept){.fd = fd};
        } else {
                k = NULL;
                for (size_t i = 0; i < l->n_kept; i++)
                        if (l->kept[i].fd == fd)
                                k = &l->kept[i];
                if (!k)
                        return -ENOENT;
        }

        k->leftover = mfree(k->leftover);
        k->leftover_len = 0;
        if (conn_leftover(c, &rest) > 0) {
                k->leftover = malloc(conn_leftover(c, &rest));
                if (!k->leftover)
                        return -ENOMEM;
                k->leftover_len = conn_leftover(c, &rest);
                memcpy(k->leftover, rest, k->leftover_len);
        }
        return 0;
}

static void loop_forget(Loop *l, int fd)
{
        for (size_t i = 0; i < l->n_kept; i++)
                if (l->kept[i].fd == fd) {
                        free(l->kept[i].leftover);
                        l->kept[i] = l->kept[--l->n_kept];
                        break;
                }
        /* Closing removes it from the epoll set: this process holds its only descriptor */
        safe_close(fd);
}

static int loop_accept(void)
{
        SocketAddress peer = {.len = sizeof(peer.storage)};
        int fd;

        fd = accept4(listen_fd_copy, &peer.sa, &peer.len, SOCK_CLOEXEC);
        if (fd < 0) {
                /* Another worker took it, or it is gone: nothing to do */
                if (IN_SET_ACCEPT_RETRY(errno))
                        return -EAGAIN;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        log_warning_errno(errno, "Failed to accept a connection, retrying: %m");
                        (void)poll(NULL, 0, 100);
                        return -EAGAIN;
                }
                return log_error_errno(errno, "Failed to accept a connection: %m");
        }
        if (peer.sa.sa_family == AF_INET || peer.sa.sa_family == AF_INET6) {
                int one = 1;

                if (!allowed_clients_match(worker->allowed, &peer.sa, peer.len)) {
                        char buf[SOCKET_ADDRESS_STRING_MAX];

                        if (socket_address_format(&peer, buf, sizeof(buf)) < 0)
                                strcpy(buf, "?");
                        log_warning("Connection from disallowed IP address '%s' is dropped.", buf);
                        safe_close(fd);
                        return -EPERM;
                }
                /* Responses go out in few writes; Nagle would hold the last one back for an ACK */
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        return fd;
}

/* One ready descriptor: a new connection, or a request on a kept one. False when the worker is done. */
static bool loop_handle(Loop *l, int fd)
{
        bool keep, more, registered = fd != listen_fd_copy;
        const uint8_t *leftover = NULL;
        size_t leftover_len = 0;

        if (!registered) {
                fd = loop_accept();
                if (fd < 0)
                        return fd != -EAGAIN && fd != -EPERM ? false : true;
        } else
                for (size_t i = 0; i < l->n_kept; i++)
                        if (l->kept[i].fd == fd) {
                                leftover = l->kept[i].leftover;
                                leftover_len = l->kept[i].leftover_len;
                        }

        keep = loop_serve(l, fd, leftover, leftover_len, &more);
        if (keep && loop_park(l, fd, registered) >= 0)
                ;
        else if (registered)
                loop_forget(l, fd);
        else
                safe_close(fd);

        /* Kept connections are bounded: at the limit the others take new ones */
        (void)loop_watch_listen(l, l->n_kept < KEPT_MAX);
        slot_set_state(WORKER_IDLE);
        return more;
}

/* Before exiting: a request already sent on a kept connection is served, then they all close */
static void loop_finish(Loop *l)
{
        (void)loop_watch_listen(l, false);
        for (size_t i = 0; i < l->n_kept;) {
                struct pollfd p = {.fd = l->kept[i].fd, .events = POLLIN};
                size_t n = l->n_kept;

                if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN))
                        (void)loop_handle(l, l->kept[i].fd);
                if (l->n_kept == n)
                        i++;
        }
        while (l->n_kept > 0)
                loop_forget(l, l->kept[0].fd);
}

void worker_install_signal_handlers(void)
{
        struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
        struct sigaction ign = {.sa_handler = SIG_IGN};

        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGQUIT, &sa, NULL);
        /* Ctrl-C in a terminal reaches every process of the group: a worker finishes its request too */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGPIPE, &ign, NULL);
        sigaction(SIGHUP, &ign, NULL);
        sigaction(SIGUSR1, &ign, NULL);
        sigaction(SIGUSR2, &ign, NULL);
}

/* catch_workers_output: the worker's stdout and stderr become journal streams of its own, opened here so their
 * _PID is the worker's (and before any chroot hides the journal's socket); off, they go to /dev/null as in
 * PHP-FPM. Run by hand without a journal, they stay the terminal's. */
static void worker_setup_output(const PoolConfig *p)
{
        _cleanup_free_ char *identifier = NULL;
        int out = -1, err = -1;

        if (!p->catch_workers_output) {
                out = open("/dev/null", O_WRONLY | O_CLOEXEC);
                err = out >= 0 ? fcntl(out, F_DUPFD_CLOEXEC, 3) : -1;
        } else if (log_to_journal()) {
                if (asprintf(&identifier, "fpmd-%s", p->name) < 0)
                        return;
                out = sd_journal_stream_fd(identifier, LOG_NOTICE, false);
                err = sd_journal_stream_fd(identifier, LOG_WARNING, false);
        } else
                return;

        if (out >= 0 && err >= 0) {
                (void)dup2(out, STDOUT_FILENO);
                (void)dup2(err, STDERR_FILENO);
        } else
                log_warning("Failed to set up the output of the worker, keeping the leader's.");
        safe_close(out);
        safe_close(err);
}

int worker_run(const WorkerContext *w)
{
        static const ConnHooks hooks = {.request_begin = on_request_begin};
        sigset_t stop_signals;
        ScoreboardSlot *slot;
        pid_t parent = getppid();
        Loop l = {.epoll_fd = -1, .signal_fd = -1};
        bool more = true;

        worker = w;
        listen_fd_copy = w->listen_fd;
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                return 0; /* the leader died before we could ask to be told */

        /* The stop signals stay blocked and arrive through a signalfd in the epoll set: a stop never cuts a
         * request, and a worker busy with one ready connection after another still sees it at once */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGQUIT);
        sigaddset(&stop_signals, SIGINT);
        sigprocmask(SIG_SETMASK, &stop_signals, NULL);
        sigaction(SIGCHLD, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);

        log_set_worker(true);
        worker_setup_output(w->pool);
        if (isolation_apply(w->isolation) < 0)
                return 1;
        (void)php_worker_init(&(PhpWorker){
                .pool = w->pool,
                .listen_fd = w->listen_fd,
                .scoreboard = w->scoreboard,
                .slot = w->slot,
        });

        l.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        l.signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
        if (l.epoll_fd < 0 || l.signal_fd < 0 || conn_init(&l.conn, w->pool->pm.max_children, &hooks) < 0)
                return log_oom(), 1;
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.signal_fd,
                    &(struct epoll_event){.events = EPOLLIN, .data.fd = l.signal_fd}) < 0)
                return log_error_errno(errno, "Failed to watch the stop signals: %m"), 1;
        request_init(&l.request, &l.conn);
        if (loop_watch_listen(&l, true) < 0)
                return 1;

        slot = my_slot();
        slot->requests = 0;
        slot->started_usec = now_usec(CLOCK_REALTIME);
        slot->pid = getpid();
        slot_set_state(WORKER_IDLE);

        while (more && !stop_requested) {
                struct epoll_event ev[16];
                int n = epoll_wait(l.epoll_fd, ev, ELEMENTSOF(ev), -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "Failed to wait for connections: %m");
                        break;
                }
                for (int i = 0; i < n && more; i++) {
                        int fd = ev[i].data.fd;

                        if (fd == l.signal_fd) {
                                struct signalfd_siginfo si;

                                while (read(l.signal_fd, &si, sizeof(si)) == sizeof(si))
                                        stop_requested = 1;
                                continue;
                        }

                        /* A kept connection closed while another event of this batch was served */
                        if (fd != listen_fd_copy) {
                                bool known = false;
                                for (size_t j = 0; j < l.n_kept; j++)
                                        known = known || l.kept[j].fd == fd;
                                if (!known)
                                        continue;
                        }
                        more = loop_handle(&l, fd);
                        /* A stop that arrived while serving: the next wait reports it, nothing new is begun */
                        if (stop_requested)
                                break;
                }
        }

        loop_finish(&l);
        slot_set_state(WORKER_EXITING);
        request_done(&l.request);
        conn_done(&l.conn);
        safe_close(l.epoll_fd);
        safe_close(l.signal_fd);
        return 0;
}
