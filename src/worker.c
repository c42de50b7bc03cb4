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
#include <sys/uio.h>

/* accept() failures that mean "not for us this time" */
#define IN_SET_ACCEPT_RETRY(e) ((e) == EAGAIN || (e) == EINTR || (e) == ECONNABORTED || (e) == EPROTO || (e) == EPERM)

#include <systemd/sd-journal.h>

#include "log.h"
#include "php.h"
#include "worker.h"

/* A record is at most 8 + 65535 + 255 bytes: room for two lets a partial one wait while a whole one is parsed */
#define CONN_IN_SIZE  (2 * (FCGI_HEADER_LEN + FCGI_MAX_CONTENT_LEN + 255))
#define CONN_OUT_SIZE (64 * 1024)
/* Output goes out in records of 8 KiB (header and 8184 bytes of content, no padding), each write of PHP appended
 * to the open record, as PHP-FPM does. Some clients mishandle a record header split across two reads (libfcgi's
 * cgi-fcgi copies its second part to the wrong place): with records of 8 KiB and reads of 8 KiB, headers stay
 * off read boundaries. It also spends one header on 8 KiB, not on each write. */
#define RECORD_CONTENT_MAX (8192 - FCGI_HEADER_LEN)
#define PARAMS_MAX         (1024 * 1024)

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

static int write_all(int fd, struct iovec *iov, int n)
{
        while (n > 0) {
                ssize_t k = writev(fd, iov, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                while (n > 0 && (size_t)k >= iov->iov_len) {
                        k -= (ssize_t)iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (uint8_t *)iov->iov_base + k;
                        iov->iov_len -= (size_t)k;
                }
        }
        return 0;
}

static void conn_close_record(Conn *c);

static int conn_flush(Conn *c)
{
        struct iovec iov;
        int r;

        conn_close_record(c);
        if (c->out_len == 0)
                return 0;
        if (c->broken) {
                c->out_len = 0;
                return -EPIPE;
        }
        iov = (struct iovec){c->out, c->out_len};
        r = write_all(c->fd, &iov, 1);
        c->out_len = 0;
        if (r < 0) {
                c->broken = true;
                return log_debug_errno(r, "Failed to write to the FastCGI connection: %m");
        }
        return 0;
}

/* Appends bytes that must go out as they are (whole records) */
static int conn_queue(Conn *c, const void *data, size_t len)
{
        conn_close_record(c);
        if (c->out_len + len > c->out_size) {
                int r = conn_flush(c);
                if (r < 0)
                        return r;
        }
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
        return 0;
}

/* Moves the unparsed tail to the front, so a whole record always fits behind it */
static void conn_compact(Conn *c)
{
        if (c->in_off == 0)
                return;
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
}

static int conn_fill(Conn *c)
{
        ssize_t n;

        conn_compact(c);
        if (c->in_len == c->in_size)
                return -ENOBUFS;

        for (;;) {
                n = read(c->fd, c->in + c->in_len, c->in_size - c->in_len);
                if (n >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                return -errno;
        }
        if (n == 0)
                c->eof = true;
        c->in_len += (size_t)n;
        return 0;
}

/* 1 and a record, 0 at a clean end of the stream, negative errno on a broken or malformed one */
static int conn_read_record(Conn *c, FcgiRecord *rec)
{
        for (;;) {
                int k = fcgi_record_next(c->in + c->in_off, c->in_len - c->in_off, rec);
                int r;

                if (k < 0)
                        return k;
                if (k > 0) {
                        c->in_off += (size_t)k;
                        return 1;
                }
                if (c->eof)
                        return c->in_len > c->in_off ? -EBADMSG : 0;
                r = conn_fill(c);
                if (r < 0)
                        return r;
        }
}

static int conn_send_end_request(Conn *c, uint16_t id, uint8_t protocol_status)
{
        uint8_t buf[16];

        fcgi_end_request_write(buf, id, 0, protocol_status);
        return conn_queue(c, buf, sizeof(buf));
}

/* Records with request id 0 are about the application, not a request */
static int conn_handle_management(Conn *c, const FcgiRecord *rec)
{
        uint8_t buf[256];
        int k;

        if (rec->type == FCGI_GET_VALUES) {
                unsigned n = worker->pool->pm.max_children;

                k = fcgi_get_values_result_write(rec->content, rec->content_length, n, n, buf, sizeof(buf));
                if (k < 0)
                        return log_warning_errno(k, "Malformed FCGI_GET_VALUES record, ignoring: %m");
                (void)conn_queue(c, buf, (size_t)k);
        } else {
                fcgi_unknown_type_write(buf, rec->type);
                (void)conn_queue(c, buf, 16);
        }
        return conn_flush(c);
}

ssize_t request_read_stdin(Request *r, void *buf, size_t size)
{
        Conn *c = r->conn;
        size_t n;

        while (r->stdin_avail == 0) {
                FcgiRecord rec;
                int k;

                if (r->stdin_eof || r->aborted)
                        return 0;

                k = conn_read_record(c, &rec);
                if (k <= 0) {
                        r->aborted = true;
                        c->broken = true;
                        if (k < 0)
                                log_warning_errno(k, "Failed to read the request body: %m");
                        return k;
                }
                if (rec.request_id == 0) {
                        (void)conn_handle_management(c, &rec);
                        continue;
                }
                if (rec.request_id != r->id) {
                        /* One request at a time per connection, as FCGI_MPXS_CONNS=0 told the peer */
                        if (rec.type == FCGI_BEGIN_REQUEST) {
                                (void)conn_send_end_request(c, rec.request_id, FCGI_CANT_MPX_CONN);
                                (void)conn_flush(c);
                        }
                        continue;
                }
                switch (rec.type) {
                case FCGI_STDIN:
                        if (rec.content_length == 0)
                                r->stdin_eof = true;
                        r->stdin_ptr = rec.content;
                        r->stdin_avail = rec.content_length;
                        break;
                case FCGI_ABORT_REQUEST:
                        r->aborted = true;
                        return 0;
                default:
                        break;
                }
        }

        n = MIN(size, r->stdin_avail);
        memcpy(buf, r->stdin_ptr, n);
        r->stdin_ptr += n;
        r->stdin_avail -= n;
        r->stdin_bytes += n;
        return (ssize_t)n;
}

/* Ends the open record: its length in the header, padded to 8 */
static void conn_close_record(Conn *c)
{
        size_t content;
        uint8_t *h, pad;

        if (c->open_record == SIZE_MAX)
                return;
        h = c->out + c->open_record;
        content = c->out_len - c->open_record - FCGI_HEADER_LEN;
        pad = fcgi_header_write(h, h[1], (uint16_t)((h[2] << 8) | h[3]), (uint16_t)content);
        memset(c->out + c->out_len, 0, pad);
        c->out_len += pad;
        c->open_record = SIZE_MAX;
}

int request_write(Request *r, uint8_t type, const void *data, size_t len)
{
        Conn *c = r->conn;
        const uint8_t *p = data;

        if (r->ended)
                return 0;
        if (c->broken)
                return -EPIPE;
        if (type == FCGI_STDOUT)
                r->bytes_out += len;

        while (len > 0) {
                size_t room, n;

                /* Appends to the open record of the same stream, else opens one */
                if (c->open_record != SIZE_MAX && c->out[c->open_record + 1] != type)
                        conn_close_record(c);
                if (c->open_record == SIZE_MAX) {
                        if (c->out_size - c->out_len < FCGI_HEADER_LEN + 8 + 1) {
                                int k = conn_flush(c);
                                if (k < 0)
                                        return k;
                        }
                        c->open_record = c->out_len;
                        (void)fcgi_header_write(c->out + c->out_len, type, r->id, 0);
                        c->out_len += FCGI_HEADER_LEN;
                }

                room = MIN(RECORD_CONTENT_MAX - (c->out_len - c->open_record - FCGI_HEADER_LEN),
                        c->out_size - c->out_len - 8);
                n = MIN(len, room);
                memcpy(c->out + c->out_len, p, n);
                c->out_len += n;
                p += n;
                len -= n;

                if (c->out_len - c->open_record - FCGI_HEADER_LEN == RECORD_CONTENT_MAX)
                        conn_close_record(c);
                if (c->out_size - c->out_len < FCGI_HEADER_LEN + 8 + 1) {
                        int k = conn_flush(c);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

int request_flush(Request *r)
{
        if (r->ended)
                return 0;
        return conn_flush(r->conn);
}

/* BEGIN_REQUESTs of other ids that arrived while this request ran are refused with FCGI_CANT_MPX_CONN (one
 * request at a time per connection, as FCGI_MPXS_CONNS=0 says). Only what is already readable is looked at;
 * the refused record's type is blanked so the next read skips it, and its PARAMS and STDIN are skipped as
 * records of no running request. */
static void request_refuse_pending(Request *r)
{
        Conn *c = r->conn;
        size_t off;
        ssize_t n;

        /* stdin_ptr points into the buffer: it must not move */
        if (r->stdin_avail > 0 || c->broken || c->eof)
                return;
        conn_compact(c);
        n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, MSG_DONTWAIT);
        if (n > 0)
                c->in_len += (size_t)n;
        else if (n == 0)
                c->eof = true;

        for (off = c->in_off; off < c->in_len;) {
                FcgiRecord rec;
                int k = fcgi_record_next(c->in + off, c->in_len - off, &rec);

                if (k <= 0)
                        break;
                if (rec.type == FCGI_BEGIN_REQUEST && rec.request_id != 0 && rec.request_id != r->id) {
                        c->in[off + 1] = 0; /* no FastCGI type is 0 */
                        (void)conn_send_end_request(c, rec.request_id, FCGI_CANT_MPX_CONN);
                }
                off += (size_t)k;
        }
}

int request_end(Request *r, uint32_t app_status)
{
        uint8_t buf[FCGI_HEADER_LEN + 16];
        int k;

        if (r->ended)
                return 0;
        if (r->keep_conn)
                request_refuse_pending(r);

        /* The empty STDOUT record closes the stream, END_REQUEST closes the request */
        fcgi_header_write(buf, FCGI_STDOUT, r->id, 0);
        fcgi_end_request_write(buf + FCGI_HEADER_LEN, r->id, app_status, FCGI_REQUEST_COMPLETE);
        (void)conn_queue(r->conn, buf, sizeof(buf));
        r->ended = true;
        k = conn_flush(r->conn);
        /* Not kept: the peer may wait for the end of the stream (cgi-fcgi does), also while the script goes on
         * after fastcgi_finish_request() */
        if (!r->keep_conn)
                (void)shutdown(r->conn->fd, SHUT_WR);
        return k;
}

static void request_reset(Request *r)
{
        fcgi_params_reset(&r->params);
        r->id = 0;
        r->keep_conn = false;
        r->stdin_ptr = NULL;
        r->stdin_avail = 0;
        r->stdin_eof = false;
        r->stdin_bytes = 0;
        r->ended = false;
        r->aborted = false;
        r->status = 0;
        r->bytes_out = 0;
}

/* Reads records up to the end of a request's PARAMS: 1 with a request ready, 0 when the peer closed the
 * connection between requests, negative errno when the connection must be dropped. */
static int conn_read_request(Conn *c, Request *r)
{
        bool begun = false;

        request_reset(r);
        for (;;) {
                FcgiRecord rec;
                uint16_t role;
                uint8_t flags;
                int k;

                k = conn_read_record(c, &rec);
                if (k == 0)
                        return begun ? -EBADMSG : 0;
                if (k < 0)
                        return k;

                if (rec.request_id == 0) {
                        (void)conn_handle_management(c, &rec);
                        continue;
                }

                switch (rec.type) {
                case FCGI_BEGIN_REQUEST:
                        if (begun) {
                                if (rec.request_id == r->id)
                                        return -EBADMSG;
                                (void)conn_send_end_request(c, rec.request_id, FCGI_CANT_MPX_CONN);
                                (void)conn_flush(c);
                                continue;
                        }
                        k = fcgi_begin_request_parse(&rec, &role, &flags);
                        if (k < 0)
                                return k;
                        if (role != FCGI_RESPONDER) {
                                log_notice(
                                        "FastCGI role %u is not supported, refusing request %u.", role, rec.request_id);
                                (void)conn_send_end_request(c, rec.request_id, FCGI_UNKNOWN_ROLE);
                                (void)conn_flush(c);
                                if (!(flags & FCGI_KEEP_CONN))
                                        return 0;
                                continue;
                        }
                        begun = true;
                        r->id = rec.request_id;
                        /* PHP-FPM gives scripts the role as the first variable */
                        k = fcgi_params_set_static(&r->params, "FCGI_ROLE", "RESPONDER");
                        if (k < 0)
                                return k;
                        r->keep_conn = flags & FCGI_KEEP_CONN;
                        r->start_real = now_usec(CLOCK_REALTIME);
                        r->start_mono = now_usec(CLOCK_MONOTONIC);
                        slot_set_state(WORKER_READING);
                        /* As PHP-FPM: "accepted conn" counts requests, also those on a kept connection, and a
                         * worker's "requests" includes the one it is serving */
                        __atomic_fetch_add(&worker->scoreboard->accepted_conn, 1, __ATOMIC_RELAXED);
                        my_slot()->requests++;
                        break;

                case FCGI_PARAMS:
                        if (!begun || rec.request_id != r->id)
                                continue; /* left over from a request that ended */
                        if (rec.content_length == 0) {
                                k = fcgi_params_parse(&r->params);
                                if (k < 0)
                                        return k;
                                return 1;
                        }
                        k = fcgi_params_append(&r->params, rec.content, rec.content_length);
                        if (k == -E2BIG)
                                return log_warning_errno(
                                        k, "FastCGI PARAMS exceed %u bytes, closing connection.", PARAMS_MAX);
                        if (k < 0)
                                return k;
                        break;

                case FCGI_ABORT_REQUEST:
                        if (begun && rec.request_id == r->id) {
                                (void)conn_send_end_request(c, r->id, FCGI_REQUEST_COMPLETE);
                                (void)conn_flush(c);
                                if (!r->keep_conn)
                                        return 0;
                                request_reset(r);
                                begun = false;
                        }
                        break;

                case FCGI_STDIN:
                case FCGI_DATA:
                        if (begun && rec.request_id == r->id)
                                return -EBADMSG; /* a body before the end of PARAMS */
                        break;                   /* the unread tail of a request that ended */

                default:
                        log_debug("Ignoring FastCGI record of type %u.", rec.type);
                        break;
                }
        }
}

/* Reads what is left of the body, so a kept connection stays in step and a closed one is not reset under
 * the peer while it still sends. */
static void request_drain(Request *r)
{
        uint8_t scratch[16384];

        while (!r->stdin_eof && !r->aborted && !r->conn->broken)
                if (request_read_stdin(r, scratch, sizeof(scratch)) <= 0)
                        break;
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

        c->fd = fd;
        c->in_off = 0;
        c->in_len = leftover_len;
        if (leftover_len > 0)
                memcpy(c->in, leftover, leftover_len);
        c->out_len = 0;
        c->open_record = SIZE_MAX;
        c->eof = c->broken = false;
        r->conn = c;
        *ret_more = true;

        while (first || c->in_len > c->in_off) {
                int k;

                first = false;
                k = conn_read_request(c, r);
                if (k < 0) {
                        if (k == -EPROTO || k == -EBADMSG || k == -E2BIG)
                                log_malformed(c, k);
                        else
                                log_debug_errno(k, "FastCGI connection failed: %m");
                        return false;
                }
                if (k == 0)
                        return false;

                php_handle_request(r, worker);
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
        if (c->in_len > c->in_off) {
                k->leftover = malloc(c->in_len - c->in_off);
                if (!k->leftover)
                        return -ENOMEM;
                memcpy(k->leftover, c->in + c->in_off, c->in_len - c->in_off);
                k->leftover_len = c->in_len - c->in_off;
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
        _cleanup_free_ uint8_t *in = NULL, *out = NULL;
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
        (void)php_worker_init(w);

        in = malloc(CONN_IN_SIZE);
        out = malloc(CONN_OUT_SIZE);
        l.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        l.signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
        if (!in || !out || l.epoll_fd < 0 || l.signal_fd < 0)
                return log_oom(), 1;
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.signal_fd,
                    &(struct epoll_event){.events = EPOLLIN, .data.fd = l.signal_fd}) < 0)
                return log_error_errno(errno, "Failed to watch the stop signals: %m"), 1;
        l.conn = (Conn){.fd = -1,
                .in = in,
                .in_size = CONN_IN_SIZE,
                .out = out,
                .out_size = CONN_OUT_SIZE,
                .open_record = SIZE_MAX};
        fcgi_params_init(&l.request.params, PARAMS_MAX);
        l.request.pool = w->pool;
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
        fcgi_params_done(&l.request.params);
        safe_close(l.epoll_fd);
        safe_close(l.signal_fd);
        return 0;
}
