/* request.c: one FastCGI connection and the request on it: reading PARAMS and STDIN, writing STDOUT/STDERR
 * records, END_REQUEST, keep-alive, management records and FCGI_CANT_MPX_CONN */
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "request.h"

/* The connection's fd is non-blocking: a read or write that would block waits here, at most io_timeout_ms, so a
 * web server that stops sending a body or taking a response costs a worker a bounded time */
static int conn_wait(const Conn *c, short events)
{
        struct pollfd p = {.fd = c->fd, .events = events};

        for (;;) {
                int r = poll(&p, 1, c->io_timeout_ms);

                if (r > 0)
                        return 0;
                if (r == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

static int write_all(const Conn *c, struct iovec *iov, int n)
{
        while (n > 0) {
                ssize_t k = writev(c->fd, iov, n);

                if (k < 0) {
                        int r;

                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        r = conn_wait(c, POLLOUT);
                        if (r < 0)
                                return r;
                        continue;
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
        r = write_all(c, &iov, 1);
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

/* recv() that also returns the kernel's receive time of the bytes (SO_TIMESTAMPNS), 0 when it gave none */
static ssize_t recv_stamped(int fd, void *buf, size_t size, usec_t *ret_time)
{
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct timespec))];
        } control;
        struct iovec iov = {buf, size};
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)};
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

        *ret_time = 0;
        if (n <= 0)
                return n;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
                        cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                        struct timespec ts;

                        memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                        *ret_time = (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
                }
        return n;
}

int conn_receive(Conn *c)
{
        usec_t stamp = 0;
        bool fresh;
        ssize_t n;

        conn_compact(c);
        if (c->in_len == c->in_size)
                return -ENOBUFS;
        fresh = c->in_len == 0;
        do
                n = c->timestamps ? recv_stamped(c->fd, c->in + c->in_len, c->in_size - c->in_len, &stamp)
                                  : recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                c->eof = true;
        /* The first bytes of what is now buffered: the next request's arrival */
        if (n > 0 && (fresh || c->arrival == 0))
                c->arrival = stamp > 0 ? stamp : now_usec(CLOCK_REALTIME);
        c->in_len += (size_t)n;
        return (int)MIN(n, INT_MAX);
}

static int conn_fill(Conn *c)
{
        for (;;) {
                int r = conn_receive(c);

                if (r != -EAGAIN)
                        return MIN(r, 0);
                r = conn_wait(c, POLLIN);
                if (r < 0)
                        return r;
        }
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
                unsigned n = c->max_conns;

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

/* An FCGI_ABORT_REQUEST for the request among the records buffered behind what was read */
static bool conn_buffered_abort(const Conn *c, uint16_t id)
{
        size_t off = c->in_off;
        FcgiRecord rec;
        int k;

        while ((k = fcgi_record_next(c->in + off, c->in_len - off, &rec)) > 0) {
                if (rec.type == FCGI_ABORT_REQUEST && rec.request_id == id)
                        return true;
                off += (size_t)k;
        }
        return false;
}

/* ask: also ask the kernel (a poll()) when nothing buffered says so yet */
static bool client_gone(Request *r, bool ask)
{
        Conn *c = r->conn;
        struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
        int k;

        if (r->aborted)
                return true;
        if (c->eof || conn_buffered_abort(c, r->id))
                return (r->aborted = true);
        if (!ask)
                return false;
        do
                k = poll(&p, 1, 0);
        while (k < 0 && errno == EINTR);
        if (k <= 0)
                return false;
        if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
                return (r->aborted = true);
        /* Once the body is read, what comes can only be an abort (or the next request of a pipelining peer,
         * which stays buffered); before, it is the body, for PHP to read */
        if ((p.revents & POLLIN) && r->stdin_eof && r->stdin_avail == 0) {
                k = conn_receive(c);
                if (k == 0 || (k < 0 && k != -EAGAIN && k != -ENOBUFS) || conn_buffered_abort(c, r->id))
                        return (r->aborted = true);
        }
        return false;
}

bool request_client_gone(Request *r)
{
        return client_gone(r, true);
}

/* Before PHP starts it: a request that reached the worker less than this ago over TCP (whose receive timestamps
 * tell exactly when it arrived) is not asked about, a poll() a request saved: no web server gives up that fast
 * (nginx: when its client leaves, or after fastcgi_read_timeout), and a script running a second or more is
 * asked again while it runs. Over a unix socket the time spent in the listen queue is not known: always asked. */
#define REQUEST_FRESH_USEC (100 * USEC_PER_MSEC)

bool request_gone_before_start(Request *r)
{
        return client_gone(r, !r->conn->timestamps || r->wait_usec >= REQUEST_FRESH_USEC);
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

                room = MIN(REQUEST_RECORD_CONTENT_MAX - (c->out_len - c->open_record - FCGI_HEADER_LEN),
                        c->out_size - c->out_len - 8);
                n = MIN(len, room);
                memcpy(c->out + c->out_len, p, n);
                c->out_len += n;
                p += n;
                len -= n;

                if (c->out_len - c->open_record - FCGI_HEADER_LEN == REQUEST_RECORD_CONTENT_MAX)
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

int request_end(Request *r, uint32_t app_status)
{
        uint8_t buf[FCGI_HEADER_LEN + 16];
        int k;

        if (r->ended)
                return 0;
        /* What the peer sent on a kept connection while this request ran is not looked at now (that would be a
         * recv() a request, nearly always EAGAIN): it is read after the response, a BEGIN_REQUEST of another id
         * included, which is then served next, as PHP-FPM serves it */

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

int request_read(Request *r)
{
        Conn *c = r->conn;
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
                        r->wait_usec = c->arrival > 0 && r->start_real > c->arrival ? r->start_real - c->arrival : 0;
                        if (c->hooks && c->hooks->request_begin)
                                c->hooks->request_begin(c->hooks->userdata);
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
                                        k, "FastCGI PARAMS exceed %u bytes, closing connection.", REQUEST_PARAMS_MAX);
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

void request_drain(Request *r)
{
        uint8_t scratch[16384];

        while (!r->stdin_eof && !r->aborted && !r->conn->broken)
                if (request_read_stdin(r, scratch, sizeof(scratch)) <= 0)
                        break;
}

int conn_answer_management(Conn *c)
{
        int r = 0;

        for (;;) {
                FcgiRecord rec;
                int k = fcgi_record_next(c->in + c->in_off, c->in_len - c->in_off, &rec);

                if (k <= 0 || rec.request_id != 0)
                        return k < 0 ? k : r;
                c->in_off += (size_t)k;
                r = 1;
                (void)conn_handle_management(c, &rec);
        }
}

int request_head_complete(const uint8_t *buf, size_t len)
{
        bool begun = false;
        uint16_t id = 0;

        for (size_t off = 0; off < len;) {
                FcgiRecord rec;
                int k = fcgi_record_next(buf + off, len - off, &rec);

                if (k <= 0)
                        return k;
                off += (size_t)k;
                if (rec.request_id == 0)
                        continue;
                if (!begun) {
                        uint16_t role;
                        uint8_t flags;

                        /* What comes before a BEGIN_REQUEST is the tail of an ended request, skipped */
                        if (rec.type != FCGI_BEGIN_REQUEST)
                                continue;
                        /* A role we refuse is answered at once */
                        if (fcgi_begin_request_parse(&rec, &role, &flags) < 0 || role != FCGI_RESPONDER)
                                return 1;
                        begun = true;
                        id = rec.request_id;
                        continue;
                }
                /* The empty PARAMS ends the head; any other record of the request (a body too early, an
                 * abort, a second BEGIN) is for request_read() to judge */
                if (rec.request_id == id && (rec.type != FCGI_PARAMS || rec.content_length == 0))
                        return 1;
        }
        return 0;
}

int conn_init(Conn *c, unsigned max_conns, const ConnHooks *hooks)
{
        *c = (Conn){
                .fd = -1,
                .io_timeout_ms = -1,
                .in = malloc(CONN_IN_SIZE),
                .in_size = CONN_IN_SIZE,
                .out = malloc(CONN_OUT_SIZE),
                .out_size = CONN_OUT_SIZE,
                .open_record = SIZE_MAX,
                .max_conns = max_conns,
                .hooks = hooks,
        };
        if (!c->in || !c->out) {
                conn_done(c);
                return -ENOMEM;
        }
        return 0;
}

void conn_done(Conn *c)
{
        c->in = mfree(c->in);
        c->out = mfree(c->out);
}

int conn_attach(Conn *c, int fd, const uint8_t *leftover, size_t leftover_len)
{
        /* Room for what is kept and a whole record after it; a request head of large PARAMS needs more */
        if (leftover_len + CONN_IN_SIZE / 2 > c->in_size) {
                size_t size = leftover_len + CONN_IN_SIZE / 2;
                uint8_t *in = realloc(c->in, size);

                if (!in)
                        return -ENOMEM;
                c->in = in;
                c->in_size = size;
        }
        c->fd = fd;
        c->in_off = 0;
        c->in_len = leftover_len;
        if (c->in_len > 0)
                memcpy(c->in, leftover, c->in_len);
        c->out_len = 0;
        c->open_record = SIZE_MAX;
        c->eof = c->broken = false;
        c->arrival = 0;
        return 0;
}

int conn_grow(Conn *c, size_t max)
{
        size_t size = MIN(c->in_size * 2, max);
        uint8_t *in;

        if (c->in_len - c->in_off < c->in_size || size <= c->in_size)
                return c->in_size >= max ? -E2BIG : 0;
        in = realloc(c->in, size);
        if (!in)
                return -ENOMEM;
        c->in = in;
        c->in_size = size;
        return 0;
}

void request_init(Request *r, Conn *c)
{
        *r = (Request){.conn = c};
        fcgi_params_init(&r->params, REQUEST_PARAMS_MAX);
}

void request_done(Request *r)
{
        fcgi_params_done(&r->params);
}
