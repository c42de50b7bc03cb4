/* test-request: a FastCGI connection over a socketpair, the web server's side written and read as exact bytes */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "request.h"
#include "test.h"

/* The web server's end (peer) and ours (fd) */
typedef struct Pair {
        int peer, fd;
        Conn conn;
        Request req;
        unsigned begins;
} Pair;

static void on_begin(void *userdata)
{
        ((Pair *)userdata)->begins++;
}

static void pair_open(Pair *p)
{
        static ConnHooks hooks = {.request_begin = on_begin};
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        p->peer = sv[0];
        p->fd = sv[1];
        p->begins = 0;
        hooks.userdata = p;
        ck_assert_int_eq(conn_init(&p->conn, 7, &hooks), 0);
        conn_attach(&p->conn, p->fd, NULL, 0);
        request_init(&p->req, &p->conn);
}

static void pair_close(Pair *p)
{
        request_done(&p->req);
        conn_done(&p->conn);
        safe_close(p->peer);
        safe_close(p->fd);
}

/* What the web server sends, built record by record */
typedef struct Buf {
        uint8_t data[1200 * 1024];
        size_t len;
} Buf;

static void put_record(Buf *b, uint8_t type, uint16_t id, const void *content, size_t len)
{
        uint8_t pad = fcgi_header_write(b->data + b->len, type, id, (uint16_t)len);

        b->len += FCGI_HEADER_LEN;
        if (len > 0)
                memcpy(b->data + b->len, content, len);
        memset(b->data + b->len + len, 0, pad);
        b->len += len + pad;
}

static void put_begin(Buf *b, uint16_t id, uint16_t role, uint8_t flags)
{
        b->len += fcgi_begin_request_write(b->data + b->len, id, role, flags);
}

static void put_params(Buf *b, uint16_t id, const char *const *nv)
{
        uint8_t content[8192];
        size_t n = 0;

        for (size_t i = 0; nv[i]; i += 2)
                n += fcgi_nv_write(
                        content + n, sizeof(content) - n, nv[i], strlen(nv[i]), nv[i + 1], strlen(nv[i + 1]));
        put_record(b, FCGI_PARAMS, id, content, n);
        put_record(b, FCGI_PARAMS, id, NULL, 0);
}

static void peer_send(Pair *p, const Buf *b)
{
        ck_assert_int_eq(write(p->peer, b->data, b->len), (ssize_t)b->len);
}

/* Everything the peer can read within a short while: our side writes before the call returns */
static size_t peer_read(Pair *p, uint8_t *out, size_t size)
{
        size_t n = 0;

        for (;;) {
                struct pollfd pfd = {.fd = p->peer, .events = POLLIN};
                ssize_t k;

                if (poll(&pfd, 1, 0) <= 0 || n == size)
                        break;
                k = read(p->peer, out + n, size - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
        }
        return n;
}

static bool peer_sees_eof(Pair *p)
{
        struct pollfd pfd = {.fd = p->peer, .events = POLLIN};
        uint8_t c;

        return poll(&pfd, 1, 1000) == 1 && read(p->peer, &c, 1) == 0;
}

static const char *const simple_params[] = {"SCRIPT_FILENAME", "/srv/www/a.php", "REQUEST_METHOD", "GET", NULL};

START_TEST(test_read_request)
{
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_params(&b, 1, simple_params);
        put_record(&b, FCGI_STDIN, 1, NULL, 0);
        peer_send(&p, &b);

        ck_assert_int_eq(request_read(&p.req), 1);
        ck_assert_uint_eq(p.begins, 1);
        ck_assert_uint_eq(p.req.id, 1);
        ck_assert(p.req.keep_conn);
        /* PHP-FPM gives scripts the role first */
        ck_assert_uint_eq(p.req.params.n, 3);
        ck_assert_str_eq(p.req.params.names[0], "FCGI_ROLE");
        ck_assert_str_eq(fcgi_params_get(&p.req.params, "FCGI_ROLE"), "RESPONDER");
        ck_assert_str_eq(fcgi_params_get(&p.req.params, "SCRIPT_FILENAME"), "/srv/www/a.php");
        ck_assert_str_eq(fcgi_params_get(&p.req.params, "REQUEST_METHOD"), "GET");
        pair_close(&p);
}
END_TEST

START_TEST(test_read_request_byte_by_byte)
{
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 0x1234, FCGI_RESPONDER, 0);
        put_params(&b, 0x1234, simple_params);
        /* The request arrives one byte per write: each partial record waits for the rest */
        for (size_t i = 0; i < b.len; i++)
                ck_assert_int_eq(write(p.peer, b.data + i, 1), 1);
        ck_assert_int_eq(request_read(&p.req), 1);
        ck_assert_uint_eq(p.req.id, 0x1234);
        ck_assert(!p.req.keep_conn);
        ck_assert_str_eq(fcgi_params_get(&p.req.params, "SCRIPT_FILENAME"), "/srv/www/a.php");
        pair_close(&p);
}
END_TEST

START_TEST(test_stdin_across_records)
{
        static const char part1[] = "name=value", part2[] = "&more=1";
        char body[64] = {};
        size_t n = 0;
        ssize_t k;
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        put_params(&b, 1, simple_params);
        put_record(&b, FCGI_STDIN, 1, part1, strlen(part1));
        put_record(&b, FCGI_STDIN, 1, part2, strlen(part2));
        put_record(&b, FCGI_STDIN, 1, NULL, 0);
        peer_send(&p, &b);

        ck_assert_int_eq(request_read(&p.req), 1);
        /* Small reads cross the record boundary */
        while ((k = request_read_stdin(&p.req, body + n, 4)) > 0)
                n += (size_t)k;
        ck_assert_int_eq(k, 0);
        ck_assert_str_eq(body, "name=value&more=1");
        ck_assert_uint_eq(p.req.stdin_bytes, 17);
        ck_assert(p.req.stdin_eof);
        pair_close(&p);
}
END_TEST

START_TEST(test_response_bytes)
{
        uint8_t out[256];
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        put_params(&b, 1, simple_params);
        put_record(&b, FCGI_STDIN, 1, NULL, 0);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), 1);

        /* Two writes of PHP land in one record; STDERR closes it and opens its own */
        ck_assert_int_eq(request_write(&p.req, FCGI_STDOUT, "Status: 404\r\n\r\n", 15), 0);
        ck_assert_int_eq(request_write(&p.req, FCGI_STDOUT, "gone", 4), 0);
        ck_assert_int_eq(request_write(&p.req, FCGI_STDERR, "oops", 4), 0);
        ck_assert_uint_eq(peer_read(&p, out, sizeof(out)), 0); /* buffered until the end or a flush */
        ck_assert_int_eq(request_end(&p.req, 0), 0);

        static const uint8_t expected[] =
                /* STDOUT, 19 bytes and 5 padding */
                "\x01\x06\x00\x01\x00\x13\x05\x00"
                "Status: 404\r\n\r\ngone\0\0\0\0\0"
                /* STDERR, 4 bytes and 4 padding */
                "\x01\x07\x00\x01\x00\x04\x04\x00"
                "oops\0\0\0\0"
                /* the empty STDOUT, then END_REQUEST: app status 0, FCGI_REQUEST_COMPLETE */
                "\x01\x06\x00\x01\x00\x00\x00\x00"
                "\x01\x03\x00\x01\x00\x08\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00";
        ck_assert_uint_eq(peer_read(&p, out, sizeof(out)), sizeof(expected) - 1);
        ck_assert_mem_eq(out, expected, sizeof(expected) - 1);
        ck_assert_uint_eq(p.req.bytes_out, 19);
        /* Not kept: the peer sees the end of the stream */
        ck_assert(peer_sees_eof(&p));
        pair_close(&p);
}
END_TEST

START_TEST(test_response_records_of_8k)
{
        static uint8_t big[20000], out[32768];
        size_t n, off = 0, content = 0;
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 3, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_params(&b, 3, simple_params);
        put_record(&b, FCGI_STDIN, 3, NULL, 0);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), 1);

        memset(big, 'x', sizeof(big));
        /* Written in uneven pieces: records are still 8 KiB each but the last */
        ck_assert_int_eq(request_write(&p.req, FCGI_STDOUT, big, 7000), 0);
        ck_assert_int_eq(request_write(&p.req, FCGI_STDOUT, big, 13000), 0);
        ck_assert_int_eq(request_end(&p.req, 0), 0);
        n = peer_read(&p, out, sizeof(out));

        static const size_t lens[] = {8184, 8184, 3632, 0};
        for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
                FcgiRecord rec;
                int k = fcgi_record_next(out + off, n - off, &rec);

                ck_assert_int_gt(k, 0);
                ck_assert_uint_eq(rec.type, FCGI_STDOUT);
                ck_assert_uint_eq(rec.request_id, 3);
                ck_assert_uint_eq(rec.content_length, lens[i]);
                /* 8 KiB records need no padding: headers stay 8 KiB apart */
                ck_assert_uint_eq(rec.padding_length, 0);
                content += rec.content_length;
                off += (size_t)k;
        }
        ck_assert_uint_eq(content, 20000);
        ck_assert_uint_eq(n - off, 16); /* END_REQUEST */
        /* Kept: no end of stream */
        ck_assert(!peer_sees_eof(&p));
        pair_close(&p);
}
END_TEST

START_TEST(test_management_records)
{
        uint8_t out[256], q[64];
        size_t qn = 0;
        Pair p;
        Buf b = {};

        pair_open(&p);
        qn += fcgi_nv_write(q + qn, sizeof(q) - qn, "FCGI_MAX_CONNS", 14, "", 0);
        qn += fcgi_nv_write(q + qn, sizeof(q) - qn, "FCGI_MPXS_CONNS", 15, "", 0);
        put_record(&b, FCGI_GET_VALUES, 0, q, qn);
        put_record(&b, 42, 0, "\x01\x02", 2); /* a management record nobody knows */
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        put_params(&b, 1, simple_params);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), 1);

        static const uint8_t expected[] =
                /* GET_VALUES_RESULT: FCGI_MAX_CONNS=7, FCGI_MPXS_CONNS=0, 35 bytes and 5 padding */
                "\x01\x0a\x00\x00\x00\x23\x05\x00"
                "\x0e\x01"
                "FCGI_MAX_CONNS"
                "7"
                "\x0f\x01"
                "FCGI_MPXS_CONNS"
                "0"
                "\0\0\0\0\0"
                /* UNKNOWN_TYPE of type 42 */
                "\x01\x0b\x00\x00\x00\x08\x00\x00"
                "\x2a\x00\x00\x00\x00\x00\x00\x00";
        ck_assert_uint_eq(peer_read(&p, out, sizeof(out)), sizeof(expected) - 1);
        ck_assert_mem_eq(out, expected, sizeof(expected) - 1);
        pair_close(&p);
}
END_TEST

START_TEST(test_cant_mpx_conn)
{
        uint8_t out[256];
        char body[16];
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_params(&b, 1, simple_params);
        /* a second request on the same connection before the first one's body ended */
        put_begin(&b, 2, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_record(&b, FCGI_STDIN, 1, NULL, 0);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), 1);
        ck_assert_int_eq(request_read_stdin(&p.req, body, sizeof(body)), 0);
        ck_assert_int_eq(request_end(&p.req, 0), 0);

        static const uint8_t expected[] =
                /* END_REQUEST of request 2: FCGI_CANT_MPX_CONN (1) */
                "\x01\x03\x00\x02\x00\x08\x00\x00"
                "\x00\x00\x00\x00\x01\x00\x00\x00"
                /* request 1: empty STDOUT, END_REQUEST complete */
                "\x01\x06\x00\x01\x00\x00\x00\x00"
                "\x01\x03\x00\x01\x00\x08\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00";
        ck_assert_uint_eq(peer_read(&p, out, sizeof(out)), sizeof(expected) - 1);
        ck_assert_mem_eq(out, expected, sizeof(expected) - 1);
        pair_close(&p);
}
END_TEST

START_TEST(test_unknown_role)
{
        uint8_t out[64];
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 5, FCGI_AUTHORIZER, 0);
        peer_send(&p, &b);
        /* Refused, and the connection is not kept */
        ck_assert_int_eq(request_read(&p.req), 0);
        static const uint8_t expected[] = "\x01\x03\x00\x05\x00\x08\x00\x00"
                                          "\x00\x00\x00\x00\x03\x00\x00\x00";
        ck_assert_uint_eq(peer_read(&p, out, sizeof(out)), sizeof(expected) - 1);
        ck_assert_mem_eq(out, expected, sizeof(expected) - 1);
        ck_assert_uint_eq(p.begins, 0);
        pair_close(&p);
}
END_TEST

START_TEST(test_abort_during_body)
{
        char body[16];
        Pair p;
        Buf b = {};

        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_params(&b, 1, simple_params);
        put_record(&b, FCGI_STDIN, 1, "abc", 3);
        put_record(&b, FCGI_ABORT_REQUEST, 1, NULL, 0);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), 1);
        ck_assert_int_eq(request_read_stdin(&p.req, body, sizeof(body)), 3);
        ck_assert_int_eq(request_read_stdin(&p.req, body, sizeof(body)), 0);
        ck_assert(p.req.aborted);
        pair_close(&p);
}
END_TEST

START_TEST(test_end_of_stream)
{
        Pair p;
        Buf b = {};

        /* Closed between requests: a clean end */
        pair_open(&p);
        shutdown(p.peer, SHUT_WR);
        ck_assert_int_eq(request_read(&p.req), 0);
        pair_close(&p);

        /* Closed in the middle of PARAMS: malformed */
        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        put_record(&b, FCGI_PARAMS, 1,
                "\x01\x01"
                "ab",
                4);
        peer_send(&p, &b);
        shutdown(p.peer, SHUT_WR);
        ck_assert_int_eq(request_read(&p.req), -EBADMSG);
        pair_close(&p);
}
END_TEST

START_TEST(test_malformed)
{
        Pair p;
        Buf b = {};

        /* An unknown protocol version */
        pair_open(&p);
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        b.data[0] = 2;
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), -EPROTO);
        pair_close(&p);

        /* A body before PARAMS ended */
        pair_open(&p);
        b.len = 0;
        put_begin(&b, 1, FCGI_RESPONDER, 0);
        put_record(&b, FCGI_STDIN, 1, "x", 1);
        peer_send(&p, &b);
        ck_assert_int_eq(request_read(&p.req), -EBADMSG);
        pair_close(&p);
}
END_TEST

START_TEST(test_params_too_large)
{
        static uint8_t value[60000], content[65535];
        size_t n;
        pid_t writer;
        Pair p;

        pair_open(&p);
        memset(value, 'v', sizeof(value));
        n = fcgi_nv_write(content, sizeof(content), "BIG", 3, (const char *)value, sizeof(value));
        /* 18 records of 60 KB pass the 1 MiB limit; a child writes them while we read */
        writer = fork();
        ck_assert_int_ge(writer, 0);
        if (writer == 0) {
                static Buf b;

                put_begin(&b, 1, FCGI_RESPONDER, 0);
                for (unsigned i = 0; i < 18; i++)
                        put_record(&b, FCGI_PARAMS, 1, content, n);
                (void)!write(p.peer, b.data, b.len);
                _exit(0);
        }
        ck_assert_int_eq(request_read(&p.req), -E2BIG);
        pair_close(&p);
        (void)kill(writer, SIGKILL);
        (void)waitpid(writer, NULL, 0);
}
END_TEST

START_TEST(test_leftover_of_kept_connection)
{
        Pair p;
        Buf b = {};

        /* A kept connection comes back with the bytes read past its last request: a request already whole in
         * them is served without reading the socket (nothing is written to it here) */
        pair_open(&p);
        put_begin(&b, 7, FCGI_RESPONDER, FCGI_KEEP_CONN);
        put_params(&b, 7, simple_params);
        conn_attach(&p.conn, p.fd, b.data, b.len);
        ck_assert_int_eq(request_read(&p.req), 1);
        ck_assert_uint_eq(p.req.id, 7);
        ck_assert_uint_eq(p.begins, 1);
        ck_assert_str_eq(fcgi_params_get(&p.req.params, "REQUEST_METHOD"), "GET");
        pair_close(&p);
}
END_TEST

static Suite *request_suite(void)
{
        Suite *s = suite_create("request");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_read_request);
        tcase_add_test(tc, test_read_request_byte_by_byte);
        tcase_add_test(tc, test_stdin_across_records);
        tcase_add_test(tc, test_response_bytes);
        tcase_add_test(tc, test_response_records_of_8k);
        tcase_add_test(tc, test_management_records);
        tcase_add_test(tc, test_cant_mpx_conn);
        tcase_add_test(tc, test_unknown_role);
        tcase_add_test(tc, test_abort_during_body);
        tcase_add_test(tc, test_end_of_stream);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_params_too_large);
        tcase_add_test(tc, test_leftover_of_kept_connection);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(request_suite)
