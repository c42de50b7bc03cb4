/* worker.c: a worker process: the connections it holds, each request handed to PHP, kept connections handed on
 * when it goes */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <systemd/sd-journal.h>

#include "channel.h"
#include "log.h"
#include "php.h"
#include "proctitle.h"
#include "request.h"
#include "worker.h"

/* accept() failures that mean "not for us this time" */
#define IN_SET_ACCEPT_RETRY(e) ((e) == EAGAIN || (e) == EINTR || (e) == ECONNABORTED || (e) == EPROTO || (e) == EPERM)
/* A request head (BEGIN_REQUEST and PARAMS) is read whole before PHP runs; it is at most this long */
#define HEAD_MAX (REQUEST_PARAMS_MAX + 64 * 1024)
/* What a handed-over connection may carry along of bytes already read from it */
#define HANDOVER_BYTES_MAX (64 * 1024)

static volatile sig_atomic_t stop_requested;
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

/* A connection the worker holds between requests: a new one whose request head is still arriving, or one the
 * web server keeps (FCGI_KEEP_CONN) and may send the next request on at any time. Bytes read from it that are
 * not yet a whole request head wait here. */
typedef struct Held {
        int fd;
        uint8_t *buf;
        size_t len;
        usec_t deadline; /* CLOCK_MONOTONIC: closed when it passes */
        bool kept;
        bool in_head;   /* the deadline is the request head's, which more bytes do not extend */
        usec_t arrival; /* CLOCK_REALTIME: when the bytes in buf arrived (Conn.arrival), 0 unknown */
} Held;

/* epoll_event.data.ptr of what is not a connection */
static char TAG_LISTEN, TAG_SIGNAL, TAG_HANDOVER;

typedef struct Loop {
        int epoll_fd;
        int signal_fd; /* the stop signals, always blocked, read from the epoll set with everything else */
        bool watching_listen, watching_handover;
        Held **held;
        size_t n_held;
        uint64_t requests;
        bool done; /* stop asked, or pm.max_requests served */
        bool once; /* worker mode: return once a request is served (fpmd_handle_request() serves one per call) */
        bool served;
        Conn conn; /* buffers of the connection being served */
        Request request;
} Loop;

static usec_t usec_of(usec_t d, usec_t fallback)
{
        return d > 0 ? d : fallback;
}

static void log_malformed(int fd, int error)
{
        log_warning_errno(error, "Malformed FastCGI data on connection %d, closing it: %s", fd,
                error == -EPROTO ? "unsupported protocol version" : strerror(-error));
}

static int loop_watch(Loop *l, int fd, void *tag, bool *watching, bool on)
{
        /* EPOLLEXCLUSIVE on the listening socket: a new connection wakes one idle worker, not all. Not on the
         * handover pair: a worker woken alone that then stops without taking the connection would leave it
         * there unseen, and handovers are few. */
        struct epoll_event ev = {.events = EPOLLIN | (tag == &TAG_LISTEN ? EPOLLEXCLUSIVE : 0), .data.ptr = tag};

        if (on == *watching || fd < 0)
                return 0;
        if (epoll_ctl(l->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, on ? &ev : NULL) < 0)
                return log_error_errno(errno, "Failed to watch fd %d: %m", fd);
        *watching = on;
        return 0;
}

/* New connections and handed-over ones are taken while the worker serves on and has room */
static void loop_update_watches(Loop *l)
{
        bool take = !l->done && l->n_held < worker->pool->worker_connections;

        (void)loop_watch(l, worker->listen_fd, &TAG_LISTEN, &l->watching_listen, take);
        (void)loop_watch(l, worker->handover_rx, &TAG_HANDOVER, &l->watching_handover, take);
}

static Held *held_add(Loop *l, int fd, bool kept)
{
        struct epoll_event ev = {.events = EPOLLIN};
        Held **list, *h;

        list = realloc(l->held, (l->n_held + 1) * sizeof(Held *));
        if (!list)
                return NULL;
        l->held = list;
        h = calloc(1, sizeof(Held));
        if (!h)
                return NULL;
        *h = (Held){.fd = fd, .kept = kept};
        ev.data.ptr = h;
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                free(h);
                return NULL;
        }
        l->held[l->n_held++] = h;
        return h;
}

/* Forgets it; the caller closes or hands on its fd */
static void held_remove(Loop *l, Held *h)
{
        for (size_t i = 0; i < l->n_held; i++)
                if (l->held[i] == h) {
                        l->held[i] = l->held[--l->n_held];
                        break;
                }
        /* Explicitly: a handed-over connection lives on in another process, so closing the fd here would not take
         * it out of this epoll set */
        (void)epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
        free(h->buf);
        free(h);
}

static void held_close(Loop *l, Held *h)
{
        int fd = h->fd;

        held_remove(l, h);
        safe_close(fd);
}

/* Keeps the bytes of the connection not yet parsed, and when it must be whole */
static int held_park(Held *h, const Conn *c, bool kept)
{
        const uint8_t *rest;
        size_t n = conn_leftover(c, &rest);
        const PoolConfig *pool = worker->pool;

        free(h->buf);
        h->buf = NULL;
        h->len = 0;
        h->arrival = n > 0 ? c->arrival : 0;
        if (n > 0) {
                h->buf = malloc(n);
                if (!h->buf)
                        return -ENOMEM;
                memcpy(h->buf, rest, n);
                h->len = n;
        }
        h->kept = kept;
        /* Between requests a kept connection may idle; once a request has begun, its head must come within its
         * own deadline, however slowly the bytes trickle */
        if (kept && n == 0) {
                h->deadline = now_usec(CLOCK_MONOTONIC) + usec_of(pool->keepalive_timeout, USEC_INFINITY / 2);
                h->in_head = false;
        } else if (!h->in_head) {
                h->deadline = now_usec(CLOCK_MONOTONIC) + usec_of(pool->request_header_timeout, USEC_INFINITY / 2);
                h->in_head = true;
        }
        return 0;
}

/* What goes with a handed-over connection, before the bytes already read from it */
typedef struct HandoverHead {
        uint8_t kept;    /* between requests on a connection the web server keeps, else a new one */
        uint8_t in_head; /* its deadline is a request head's */
        uint8_t pad[6];
        uint64_t deadline; /* CLOCK_MONOTONIC, the same clock in every process: handing on does not extend it */
} HandoverHead;

/* The connection goes to another worker of the pool (a sibling, or the new generation after a reload) with the
 * bytes already read from it: nothing the web server sent or will send on it is lost, as it would be if it were
 * closed. Returns 0 when it went; the caller closes its fd either way. */
static int handover_send(int fd, const Held *h)
{
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        HandoverHead head = {.kept = h ? h->kept : 0, .in_head = h ? h->in_head : 0, .deadline = h ? h->deadline : 0};
        size_t len = h ? h->len : 0;
        struct iovec iov[2] = {{&head, sizeof(head)}, {h ? h->buf : NULL, len}};
        struct msghdr mh = {.msg_iov = iov,
                .msg_iovlen = len > 0 ? 2 : 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        if (len > HANDOVER_BYTES_MAX || worker->handover_tx < 0)
                return -E2BIG;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        if (sendmsg(worker->handover_tx, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

/* A connection another worker handed over: -EAGAIN when a sibling took it first */
static int handover_receive(int *ret_fd, HandoverHead *ret_head, uint8_t *buf, size_t size, size_t *ret_len)
{
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov[2] = {{ret_head, sizeof(*ret_head)}, {buf, size}};
        struct msghdr mh = {
                .msg_iov = iov, .msg_iovlen = 2, .msg_control = &control, .msg_controllen = sizeof(control)};
        struct cmsghdr *cm;
        ssize_t n;
        int fd = -1;

        n = recvmsg(worker->handover_rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                        cm->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        if (fd < 0 || (size_t)n < sizeof(*ret_head) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                safe_close(fd);
                return -EBADMSG;
        }
        *ret_fd = fd;
        *ret_len = (size_t)n - sizeof(*ret_head);
        return 0;
}

/* Hands h on, or closes it when no worker can take it */
static void held_hand_on(Loop *l, Held *h)
{
        int r = handover_send(h->fd, h);

        if (r < 0)
                log_notice_errno(r, "Failed to hand a connection over, closing it: %m");
        held_close(l, h);
}

/* Before this worker runs PHP: the new connections whose request has not arrived yet go to a sibling that is
 * free, rather than wait behind this request. Kept ones stay: their next request comes after a response. */
static void loop_release_waiting(Loop *l, const Held *serving)
{
        for (size_t i = 0; i < l->n_held;) {
                Held *h = l->held[i];

                if (h == serving || h->kept || handover_send(h->fd, h) < 0) {
                        i++;
                        continue;
                }
                held_close(l, h);
        }
}

/* A request the web server gave up on while it waited (nginx's fastcgi_read_timeout passed, or its client went) is
 * not run: under overload, running it would only make the queue longer. Counted on the status page, and said
 * in the journal at most once a second per worker. */
static void note_abandoned(const Request *r)
{
        static usec_t last_log;
        static uint64_t unlogged;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        const char *uri = fcgi_params_get(&r->params, "REQUEST_URI");

        __atomic_fetch_add(&worker->scoreboard->requests_abandoned, 1, __ATOMIC_RELAXED);
        unlogged++;
        if (now - last_log < USEC_PER_SEC && last_log != 0)
                return;
        if (unlogged == 1)
                log_notice("not running %s: the web server gave up on it before PHP started (closed the "
                           "connection or aborted the request).",
                        uri ? uri : "a request");
        else
                log_notice("not running %llu requests (the last %s): the web server gave up on them before "
                           "PHP started.",
                        (unsigned long long)unlogged, uri ? uri : "unknown");
        last_log = now;
        unlogged = 0;
}

/* A bounded wait and a bounded queue (request_queue_timeout, request_queue_max): why this request is to be
 * answered 503 at once, or NULL to run it */
static const char *shed_reason(const Request *r)
{
        const PoolConfig *pool = worker->pool;
        unsigned waiting, size;

        if (pool->request_queue_timeout > 0 && r->wait_usec > pool->request_queue_timeout)
                return "it waited longer than request_queue_timeout";
        if (pool->request_queue_max > 0 && listen_queue(worker->listen_fd, &waiting, &size) >= 0 &&
                waiting > pool->request_queue_max)
                return "more requests wait than request_queue_max";
        return NULL;
}

/* 503 with Retry-After, no PHP; an episode of them is logged once, by whichever worker starts it */
static void shed(Request *r, const char *why)
{
        static const char response[] = "Status: 503 Service Unavailable\r\n"
                                       "Retry-After: 1\r\n"
                                       "Content-Type: text/plain; charset=UTF-8\r\n"
                                       "\r\n"
                                       "Service Unavailable\n";
        Scoreboard *sb = worker->scoreboard;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t last = __atomic_exchange_n(&sb->last_shed_usec, now, __ATOMIC_RELAXED);

        __atomic_fetch_add(&sb->requests_shed, 1, __ATOMIC_RELAXED);
        if (last == 0 || now - last > 5 * USEC_PER_SEC)
                log_warning("answering 503 without running PHP: %s (waited %.3f s). Until the pool "
                            "catches up, the status page counts them (requests shed).",
                        why, (double)r->wait_usec / 1e6);
        r->status = 503;
        (void)request_write(r, FCGI_STDOUT, response, sizeof(response) - 1);
}

/* pm.max_memory: the worker's resident memory after a request; above the limit it ends after this request and
 * the pool replaces it */
static int statm_fd = -1; /* opened before any chroot */

static bool worker_over_memory(uint64_t limit)
{
        unsigned long long size, resident;
        char buf[128];
        ssize_t n;

        if (statm_fd < 0 || (n = pread(statm_fd, buf, sizeof(buf) - 1, 0)) <= 0)
                return false;
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return false;
        resident *= (unsigned long long)sysconf(_SC_PAGESIZE);
        if (resident <= limit)
                return false;
        log_notice("worker uses %llu MiB after its request, above pm.max_memory (%llu MiB): replacing it.",
                resident >> 20, (unsigned long long)(limit >> 20));
        return true;
}

/* Serves the request whose head is buffered; false when the connection is to be closed */
static bool loop_serve_one(Loop *l)
{
        const PoolConfig *pool = worker->pool;
        Conn *c = &l->conn;
        Request *r = &l->request;
        const char *why;
        int k;

        k = request_read(r);
        if (k < 0) {
                if (k == -EPROTO || k == -EBADMSG || k == -E2BIG)
                        log_malformed(c->fd, k);
                else
                        log_debug_errno(k, "FastCGI connection failed: %m");
                return false;
        }
        if (k == 0)
                return false;

        if (request_gone_before_start(r))
                note_abandoned(r);
        else if ((why = shed_reason(r)))
                shed(r, why);
        else
                php_handle_request(r);
        (void)request_end(r, 0);
        scoreboard_note_request(worker->scoreboard, now_usec(CLOCK_MONOTONIC) - r->start_mono, r->wait_usec, r->status);
        slot_set_state(WORKER_FINISHING);
        request_drain(r);

        l->requests++;
        l->served = true;
        if (pool->pm.max_requests > 0 && l->requests >= pool->pm.max_requests)
                l->done = true;
        if (pool->worker_max_requests > 0 && l->requests >= pool->worker_max_requests)
                l->done = true;
        if (pool->pm.max_memory > 0 && !l->done && worker_over_memory(pool->pm.max_memory))
                l->done = true;
        return r->keep_conn && !c->broken && !c->eof;
}

/* Reads what the connection has and serves every whole request in it; the connection is then kept, handed on,
 * or closed */
static void loop_handle(Loop *l, Held *h, bool readable)
{
        Conn *c = &l->conn;
        bool kept = h->kept;
        int k;

        if (conn_attach(c, h->fd, h->buf, h->len) < 0) {
                held_close(l, h);
                return;
        }
        c->arrival = h->arrival;
        for (;;) {
                if (readable) {
                        k = conn_receive(c);
                        if (k == -ENOBUFS)
                                k = conn_grow(c, HEAD_MAX) < 0 ? -E2BIG : conn_receive(c);
                        if (k == -EAGAIN)
                                k = 1;
                        if (k < 0 && k != -EAGAIN) {
                                if (k == -E2BIG)
                                        log_malformed(h->fd, k);
                                held_close(l, h);
                                return;
                        }
                        readable = false;
                }
                k = conn_answer_management(c);
                if (k >= 0)
                        k = request_head_complete(c->in + c->in_off, c->in_len - c->in_off);
                if (k < 0) {
                        log_malformed(h->fd, k);
                        held_close(l, h);
                        return;
                }
                if (k == 0) {
                        /* Not a whole request yet: wait for more, unless the peer is gone */
                        if (c->eof || held_park(h, c, kept) < 0)
                                held_close(l, h);
                        else if (c->in_len > c->in_off && !h->buf)
                                held_close(l, h);
                        if (c->out_len > 0)
                                (void)request_flush(&l->request);
                        return;
                }
                loop_release_waiting(l, h);
                if (!loop_serve_one(l)) {
                        held_close(l, h);
                        slot_set_state(WORKER_IDLE);
                        return;
                }
                slot_set_state(WORKER_IDLE);
                kept = true;
                h->in_head = false;
                /* The next request on it: more bytes may be buffered already (a pipelining peer); if not, it comes
                 * after this response, so the worker waits for it in epoll rather than trying to read now. In
                 * worker mode the script gets back control after each request. */
                if (c->in_len == c->in_off || l->done || l->once) {
                        if (held_park(h, c, true) < 0)
                                held_close(l, h);
                        return;
                }
        }
}

static int loop_accept(void)
{
        SocketAddress peer = {.len = sizeof(peer.storage)};
        int fd;

        fd = accept4(worker->listen_fd, &peer.sa, &peer.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
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

/* A generation being replaced: what it accepts now goes to the one that replaces it */
static bool pool_draining(void)
{
        return __atomic_load_n(&worker->scoreboard->draining, __ATOMIC_ACQUIRE) != 0;
}

static void loop_on_listen(Loop *l)
{
        Held *h;
        int fd = loop_accept();

        if (fd == -EAGAIN || fd == -EPERM)
                return;
        if (fd < 0) {
                l->done = true;
                return;
        }
        if (pool_draining()) {
                l->done = true;
                (void)handover_send(fd, NULL);
                safe_close(fd);
                return;
        }
        h = held_add(l, fd, false);
        if (!h) {
                safe_close(fd);
                return;
        }
        h->deadline = now_usec(CLOCK_MONOTONIC) + usec_of(worker->pool->request_header_timeout, USEC_INFINITY / 2);
        h->in_head = true;
        /* The request is often there already: read it now rather than after another wait */
        loop_handle(l, h, true);
}

static void loop_on_handover(Loop *l)
{
        static uint8_t buf[HANDOVER_BYTES_MAX];
        HandoverHead head;
        size_t len = 0;
        Held *h;
        int fd = -1;

        if (handover_receive(&fd, &head, buf, sizeof(buf), &len) < 0)
                return;
        h = held_add(l, fd, head.kept);
        if (!h) {
                safe_close(fd);
                return;
        }
        h->in_head = head.in_head;
        h->deadline = head.deadline > 0 ? head.deadline
                                        : now_usec(CLOCK_MONOTONIC) +
                                                  usec_of(worker->pool->request_header_timeout, USEC_INFINITY / 2);
        if (len > 0) {
                h->buf = malloc(len);
                if (!h->buf) {
                        held_close(l, h);
                        return;
                }
                memcpy(h->buf, buf, len);
                h->len = len;
        }
        /* What it carries may be a whole request, and the web server may have sent more meanwhile */
        loop_handle(l, h, true);
}

/* Closes what passed its deadline; returns the time until the next one, for epoll_wait() */
static int loop_expire(Loop *l)
{
        usec_t now = now_usec(CLOCK_MONOTONIC), next = USEC_INFINITY;

        for (size_t i = 0; i < l->n_held;) {
                Held *h = l->held[i];

                if (h->deadline <= now) {
                        log_debug("Closing connection %d: %s.", h->fd,
                                h->kept && h->len == 0 ? "kept idle past keepalive_timeout"
                                                       : "no whole request within request_header_timeout");
                        held_close(l, h);
                        continue;
                }
                next = MIN(next, h->deadline);
                i++;
        }
        if (next == USEC_INFINITY)
                return -1;
        return (int)MIN((next - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (usec_t)INT32_MAX);
}

/* Before exiting: every connection still held goes to a sibling or the next generation */
/* A worker of a replaced generation may have been the one woken (EPOLLEXCLUSIVE) for a connection it then
 * did not take, and no other worker was woken for it: what waits on the socket is taken and handed on to the
 * new generation, rather than left until the next connection comes */
static void loop_pass_on_waiting(void)
{
        for (unsigned i = 0; i < 64 && pool_draining(); i++) {
                int fd = loop_accept();

                if (fd < 0)
                        return;
                (void)handover_send(fd, NULL);
                safe_close(fd);
        }
}

static void loop_finish(Loop *l)
{
        l->done = true;
        loop_update_watches(l);
        while (l->n_held > 0)
                held_hand_on(l, l->held[0]);
        loop_pass_on_waiting();
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

static int loop_setup(Loop *l, const sigset_t *stop_signals)
{
        static const ConnHooks hooks = {.request_begin = on_request_begin};
        const PoolConfig *pool = worker->pool;

        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        l->signal_fd = signalfd(-1, stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
        if (l->epoll_fd < 0 || l->signal_fd < 0 || conn_init(&l->conn, pool->pm.max_children, &hooks) < 0)
                return log_oom();
        /* TCP: accepted connections inherit SO_TIMESTAMPNS, so a request's wait counts from its arrival in the
         * kernel (unix sockets have no receive times: from when a worker reads it) */
        {
                int domain = 0, one = 1;
                socklen_t len = sizeof(domain);

                if (getsockopt(worker->listen_fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
                        (domain == AF_INET || domain == AF_INET6))
                        l->conn.timestamps =
                                setsockopt(worker->listen_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == 0;
        }
        l->conn.io_timeout_ms = pool->request_io_timeout > 0
                                        ? (int)MIN(pool->request_io_timeout / USEC_PER_MSEC, (usec_t)INT32_MAX)
                                        : -1;
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->signal_fd,
                    &(struct epoll_event){.events = EPOLLIN, .data.ptr = &TAG_SIGNAL}) < 0)
                return log_error_errno(errno, "Failed to watch the stop signals: %m");
        request_init(&l->request, &l->conn);
        loop_update_watches(l);
        return 0;
}

static void loop_done(Loop *l)
{
        request_done(&l->request);
        conn_done(&l->conn);
        free(l->held);
        safe_close(l->epoll_fd);
        safe_close(l->signal_fd);
}

/* Waits for connections and serves their requests until the worker is to stop (or, in worker mode, one request
 * has been served) */
static void loop_run(Loop *l)
{
        while (!l->done && !stop_requested && !(l->once && l->served)) {
                struct epoll_event ev[16];
                int n = epoll_wait(l->epoll_fd, ev, ELEMENTSOF(ev), loop_expire(l));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "Failed to wait for connections: %m");
                        break;
                }
                /* A stop first: nothing new is begun after it */
                for (int i = 0; i < n; i++)
                        if (ev[i].data.ptr == &TAG_SIGNAL) {
                                struct signalfd_siginfo si;

                                while (read(l->signal_fd, &si, sizeof(si)) == sizeof(si))
                                        stop_requested = 1;
                        }
                for (int i = 0; i < n && !l->done && !stop_requested && !(l->once && l->served); i++) {
                        void *p = ev[i].data.ptr;

                        if (p == &TAG_SIGNAL)
                                continue;
                        if (p == &TAG_LISTEN)
                                loop_on_listen(l);
                        else if (p == &TAG_HANDOVER)
                                loop_on_handover(l);
                        else {
                                /* A connection closed while another event of this batch was served */
                                bool known = false;
                                for (size_t j = 0; j < l->n_held && !known; j++)
                                        known = l->held[j] == p;
                                if (known)
                                        loop_handle(l, p, true);
                        }
                        loop_update_watches(l);
                }
        }
}

/* Worker mode: fpmd_handle_request() serves the next request through the loop; false when the worker stops */
static Loop *the_loop;

static bool worker_serve_one(void)
{
        Loop *l = the_loop;

        if (l->done || stop_requested)
                return false;
        /* The application has booted: the worker counts as started from now on (see worker_run()) */
        if (my_slot()->state == WORKER_STARTING)
                slot_set_state(WORKER_IDLE);
        l->once = true;
        l->served = false;
        loop_run(l);
        l->once = false;
        return l->served;
}

/* Worker mode, before a worker whose script failed exits at once: what it holds goes to its siblings */
static void worker_finish(void)
{
        loop_finish(the_loop);
        slot_set_state(WORKER_EXITING);
}

int worker_run(const WorkerContext *w)
{
        sigset_t stop_signals;
        ScoreboardSlot *slot;
        pid_t parent = getppid();
        Loop l = {.epoll_fd = -1, .signal_fd = -1};
        int status = 0;

        worker = w;
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                return 0; /* the leader died before we could ask to be told */
        proctitle_set("fpmd-worker: pool %s", w->pool->name);

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
        if (w->pool->pm.max_memory > 0)
                statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        /* A worker that cannot set itself up never served: a new generation none of whose workers gets this far
         * is stopped (the reload fails, the previous one keeps serving) */
        if (isolation_apply(w->isolation) < 0)
                return WORKER_EXIT_SETUP_FAILED;
        (void)php_worker_init(&(PhpWorker){
                .pool = w->pool,
                .listen_fd = w->listen_fd,
                .scoreboard = w->scoreboard,
                .slot = w->slot,
        });

        if (loop_setup(&l, &stop_signals) < 0)
                return WORKER_EXIT_SETUP_FAILED;

        slot = my_slot();
        slot->requests = 0;
        slot->started_usec = now_usec(CLOCK_REALTIME);
        slot->pid = getpid();

        if (w->pool->worker_script) {
                /* Starting until the script reaches its loop: a new generation serves, and the one it replaces
                 * stops, only once the application has booted */
                slot_set_state(WORKER_STARTING);
                the_loop = &l;
                if (php_run_worker(&(PhpWorkerLoop){.serve_one = worker_serve_one, .finish = worker_finish}) < 0)
                        status = WORKER_EXIT_NEVER_SERVED;
        } else {
                slot_set_state(WORKER_IDLE);
                loop_run(&l);
        }

        loop_finish(&l);
        slot_set_state(WORKER_EXITING);
        loop_done(&l);
        return status;
}
