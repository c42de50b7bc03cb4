/* fuzz-request: a FastCGI connection served as a worker serves it. The input is what the web server sends on
 * the connection; it goes in over a socketpair, and request_read(), the body through request_read_stdin(), a
 * response through request_write() and request_end(), request_drain() run the way worker.c runs them (the head
 * gathered by conn_receive() and request_head_complete() first), for as long as the peer keeps the connection. A peer
 * thread writes the input and reads everything we send, so that neither side can block the other; our output must be
 * whole, well-formed records carrying exactly the bytes the "script" wrote. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "request.h"

typedef struct Bytes {
        uint8_t *data;
        size_t len, size;
} Bytes;

static void bytes_add(Bytes *b, const void *p, size_t n)
{
        if (b->len + n > b->size) {
                b->size = MAX(b->len + n, b->size * 2);
                b->data = realloc(b->data, b->size);
                if (!b->data)
                        abort();
        }
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

/* The web server's side: sends the input, reads the responses until we close. Like nginx with keepalive it
 * keeps the connection open once it has sent everything, and closes its side only when the worker waits to
 * read with nothing left to read (__wrap_poll below), so that request.c's non-blocking look for pending
 * requests (request_refuse_pending) sees no end of stream. With the first record header's reserved byte odd, it
 * closes its side at once after the input instead: a client that pipelines requests and half-closes. */
typedef struct Peer {
        int fd;
        const uint8_t *in;
        size_t in_len, in_off;
        bool eager_eof;
        bool all_sent; /* atomic: read by the serving thread */
        Bytes out;
} Peer;

static bool peer_send(Peer *p)
{
        while (p->in_off < p->in_len) {
                ssize_t n = send(p->fd, p->in + p->in_off, p->in_len - p->in_off, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return true;
                        p->in_off = p->in_len; /* we closed: the rest cannot go */
                        break;
                }
                p->in_off += (size_t)n;
        }
        if (p->eager_eof)
                (void)shutdown(p->fd, SHUT_WR);
        __atomic_store_n(&p->all_sent, true, __ATOMIC_RELEASE);
        return true;
}

static void peer_run(Peer *p)
{
        static uint8_t buf[65536];

        for (;;) {
                struct pollfd pfd = {.fd = p->fd, .events = POLLIN | (p->in_off < p->in_len ? POLLOUT : 0)};
                ssize_t n;

                if (poll(&pfd, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                if (pfd.revents & POLLOUT)
                        (void)peer_send(p);
                if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return; /* we closed the connection */
                bytes_add(&p->out, buf, (size_t)n);
        }
}

/* One peer thread for every run: a thread per connection costs more than the connection (stack, mmap) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static Peer *job;
static bool job_done;

static void *peer_thread(void *userdata)
{
        (void)userdata;
        for (;;) {
                Peer *p;

                pthread_mutex_lock(&lock);
                while (!job)
                        pthread_cond_wait(&cond, &lock);
                p = job;
                pthread_mutex_unlock(&lock);

                peer_run(p);

                pthread_mutex_lock(&lock);
                job = NULL;
                job_done = true;
                pthread_cond_broadcast(&cond);
                pthread_mutex_unlock(&lock);
        }
        return NULL;
}

/* The connection being served and its peer, for __wrap_poll */
static int serving_fd = -1;
static Peer *serving_peer;

/* poll(), linked with -Wl,--wrap=poll: before the worker waits to read the connection (in its event loop for the
 * next request head, or in request.c for more of a body) with nothing there, a peer that has sent everything
 * closes its side, as a web server closes an idle kept connection */
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
        if (n == 1 && fds[0].fd == serving_fd && (fds[0].events & POLLIN) && serving_peer &&
                __atomic_load_n(&serving_peer->all_sent, __ATOMIC_ACQUIRE)) {
                struct pollfd pfd = {.fd = serving_fd, .events = POLLIN};

                if (__real_poll(&pfd, 1, 0) == 0)
                        (void)shutdown(serving_peer->fd, SHUT_WR);
        }
        return __real_poll(fds, n, timeout);
}

/* What the "script" wrote, per stream, and whether all of it must have reached the peer */
typedef struct Script {
        Bytes out, err;
        unsigned requests, begins, ends;
        bool lossy; /* a request broke the connection: its buffered output was dropped */
} Script;

static void on_begin(void *userdata)
{
        ((Script *)userdata)->begins++;
}

static void script_write(Script *s, Request *r, uint8_t type, const void *p, size_t n)
{
        if (request_write(r, type, p, n) == 0)
                bytes_add(type == FCGI_STDOUT ? &s->out : &s->err, p, n);
}

/* A PHP script that prints its params and echoes its body, the way php.c drives a request: headers, the params
 * as many times as the request id says modulo 128 (so that a small request can fill the 64 KiB output buffer),
 * the body read in pieces up to CONTENT_LENGTH and echoed to STDOUT, or to STDERR where a piece starts with 'E',
 * flushed where one starts with 'F' */
static void script_run(Script *s, Request *r)
{
        static const char headers[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        const char *cl = fcgi_params_get(&r->params, "CONTENT_LENGTH");
        uint64_t want = cl ? strtoull(cl, NULL, 10) : 0, got = 0;
        uint8_t buf[20000];

        script_write(s, r, FCGI_STDOUT, headers, sizeof(headers) - 1);
        for (unsigned k = 0; k < r->id % 128u; k++)
                for (size_t i = 0; i < r->params.n; i++) {
                        script_write(s, r, FCGI_STDOUT, r->params.names[i], r->params.name_lens[i]);
                        script_write(s, r, FCGI_STDOUT, "=", 1);
                        script_write(s, r, FCGI_STDOUT, r->params.values[i], r->params.value_lens[i]);
                        script_write(s, r, FCGI_STDOUT, "\n", 1);
                }

        while (got < want) {
                /* Reads of 1 byte up to more than a record, decided by the body so far */
                size_t chunk = MIN((size_t)(want - got), 1 + (got * 7919 + r->stdin_bytes) % sizeof(buf));
                ssize_t n = request_read_stdin(r, buf, chunk);

                if (n <= 0)
                        break;
                got += (uint64_t)n;
                script_write(s, r, buf[0] == 'E' ? FCGI_STDERR : FCGI_STDOUT, buf, (size_t)n);
                if (buf[0] == 'F' && request_flush(r) < 0)
                        s->lossy = true;
        }
}

/* As a worker, one Conn and one Request serve every connection in turn */
static ConnHooks hooks = {.request_begin = on_begin};
static Conn c;
static Request r;

/* Serves one whole request as worker.c's loop_serve_one() does; false when the connection is to be closed */
static bool serve_one(Script *s)
{
        int k = request_read(&r);

        FUZZ_CHECK(k <= 1, "request_read returned %d", k);
        if (k <= 0)
                return false;
        FUZZ_CHECK(r.id != 0, "a request with id 0");
        /* "RESPONDER", unless the web server sent FCGI_ROLE itself (PHP-FPM's value is replaced too) */
        FUZZ_CHECK(fcgi_params_get(&r.params, "FCGI_ROLE"), "no FCGI_ROLE");
        s->requests++;
        script_run(s, &r);
        if (request_end(&r, 0) < 0)
                s->lossy = true;
        s->ends++;
        FUZZ_CHECK(r.ended, "request_end did not end it");
        /* After fastcgi_finish_request(), PHP's output goes nowhere (check_output counts the bytes) */
        FUZZ_CHECK(request_write(&r, FCGI_STDOUT, "late", 4) == 0 && request_flush(&r) == 0, "a write after the end");
        request_drain(&r);
        if (c.broken)
                s->lossy = true;
        return r.keep_conn && !c.broken && !c.eof;
}

/* Keeps what was read past the last request, as worker.c's held_park() does */
static void park(uint8_t **buf, size_t *len)
{
        const uint8_t *rest;
        size_t n = conn_leftover(&c, &rest);

        free(*buf);
        *buf = NULL;
        *len = n;
        if (n > 0) {
                *buf = malloc(n);
                if (!*buf)
                        abort();
                memcpy(*buf, rest, n);
        }
}

/* Serves the connection as worker.c's loop_handle() does each time epoll finds it readable: what is there is
 * read, the management records answered, whole request heads served; then the connection is parked with its
 * leftover until it is readable again */
static void serve(Script *s, int fd)
{
        _cleanup_free_ uint8_t *parked = NULL;
        size_t parked_len = 0;

        hooks.userdata = s;
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                bool readable = true;

                if (conn_attach(&c, fd, parked, parked_len) < 0)
                        return;
                for (;;) {
                        int k;

                        if (readable) {
                                k = conn_receive(&c);
                                if (k == -ENOBUFS)
                                        k = conn_grow(&c, REQUEST_PARAMS_MAX + 64 * 1024) < 0 ? -E2BIG
                                                                                              : conn_receive(&c);
                                if (k < 0 && k != -EAGAIN)
                                        return;
                                readable = false;
                        }
                        k = conn_answer_management(&c);
                        if (k >= 0)
                                k = request_head_complete(c.in + c.in_off, c.in_len - c.in_off);
                        if (k < 0)
                                return;
                        if (k == 0) {
                                /* Not a whole request yet: wait for more, unless the peer is gone */
                                if (c.eof)
                                        return;
                                if (c.out_len > 0)
                                        (void)request_flush(&r);
                                break;
                        }
                        if (!serve_one(s))
                                return;
                        /* More bytes may be buffered already (a pipelining peer); if not, wait in "epoll" */
                        if (c.in_len == c.in_off)
                                break;
                }
                park(&parked, &parked_len);
                while (poll(&pfd, 1, -1) < 0)
                        FUZZ_CHECK(errno == EINTR, "poll: %m");
        }
}

/* Everything we sent: whole records of the types a responder sends, STDOUT/STDERR in records of at most 8 KiB
 * that carry what the script wrote */
static void check_output(const Script *s, const Bytes *out)
{
        Bytes sout = {}, serr = {};
        size_t off = 0;
        unsigned completes = 0;

        while (off < out->len) {
                FcgiRecord rec;
                int k = fcgi_record_next(out->data + off, out->len - off, &rec);

                FUZZ_CHECK(k > 0, "our output does not parse at %zu of %zu: %d", off, out->len, k);
                FUZZ_CHECK(rec.padding_length == (8 - rec.content_length % 8) % 8, "padding");
                switch (rec.type) {
                case FCGI_STDOUT:
                case FCGI_STDERR:
                        FUZZ_CHECK(rec.content_length <= REQUEST_RECORD_CONTENT_MAX, "a record of %u bytes",
                                rec.content_length);
                        FUZZ_CHECK(rec.request_id != 0, "stream on id 0");
                        bytes_add(rec.type == FCGI_STDOUT ? &sout : &serr, rec.content, rec.content_length);
                        break;
                case FCGI_END_REQUEST:
                        FUZZ_CHECK(rec.content_length == 8, "END_REQUEST body");
                        if (rec.content[4] == FCGI_REQUEST_COMPLETE)
                                completes++;
                        break;
                case FCGI_GET_VALUES_RESULT:
                case FCGI_UNKNOWN_TYPE:
                        FUZZ_CHECK(rec.request_id == 0, "management reply on id %u", rec.request_id);
                        break;
                default:
                        FUZZ_CHECK(false, "we sent a record of type %u", rec.type);
                }
                off += (size_t)k;
        }
        FUZZ_CHECK(completes >= s->ends || s->lossy, "%u requests ended, %u END_REQUEST sent", s->ends, completes);
        if (!s->lossy) {
                FUZZ_CHECK(sout.len == s->out.len && (sout.len == 0 || memcmp(sout.data, s->out.data, sout.len) == 0),
                        "STDOUT: sent %zu bytes, the script wrote %zu", sout.len, s->out.len);
                FUZZ_CHECK(serr.len == s->err.len && (serr.len == 0 || memcmp(serr.data, s->err.data, serr.len) == 0),
                        "STDERR: sent %zu bytes, the script wrote %zu", serr.len, s->err.len);
        }
        free(sout.data);
        free(serr.data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_quiet();
        /* As worker.c: a write after the peer (or our own shutdown()) closed the stream is an error, not death */
        signal(SIGPIPE, SIG_IGN);
        FUZZ_CHECK(conn_init(&c, 7, &hooks) == 0, "conn_init");
        request_init(&r, &c);
        {
                pthread_t thread;
                FUZZ_CHECK(pthread_create(&thread, NULL, peer_thread, NULL) == 0, "pthread_create");
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Peer peer = {.in = data, .in_len = size};
        Script script = {};
        int sv[2];

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %m");
        peer.fd = sv[0];
        peer.eager_eof = size > 7 && (data[7] & 1);
        /* As a worker's accepted connections, ours is non-blocking (request.c waits in poll) */
        FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "fcntl: %m");
        serving_fd = sv[1];
        serving_peer = &peer;
        /* What fits goes in before we read, so that reads see the same bytes every run */
        (void)peer_send(&peer);
        pthread_mutex_lock(&lock);
        job = &peer;
        job_done = false;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);

        serve(&script, sv[1]);
        FUZZ_CHECK(script.begins >= script.requests, "%u requests, %u begins", script.requests, script.begins);
        serving_fd = -1;
        serving_peer = NULL;
        safe_close(sv[1]);
        pthread_mutex_lock(&lock);
        while (!job_done)
                pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        safe_close(sv[0]);

        check_output(&script, &peer.out);
        free(peer.out.data);
        free(script.out.data);
        free(script.err.data);
        return 0;
}
