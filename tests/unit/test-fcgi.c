/* test-fcgi: the FastCGI codec against exact byte images */
#include <limits.h>
#include <stdio.h>

#include "fcgi.h"
#include "test.h"

/* String literals are the easiest way to spell byte images; sizeof includes the literal's NUL */
#define IMAGE(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

START_TEST(test_header_write)
{
        uint8_t out[FCGI_HEADER_LEN];

        ck_assert_uint_eq(fcgi_header_write(out, FCGI_STDOUT, 0x1234, 0x0102), 6);
        ck_assert_mem_eq(out, "\x01\x06\x12\x34\x01\x02\x06\x00", 8);

        ck_assert_uint_eq(fcgi_header_write(out, FCGI_GET_VALUES, 0, 0), 0);
        ck_assert_mem_eq(out, "\x01\x09\x00\x00\x00\x00\x00\x00", 8);
}
END_TEST

START_TEST(test_header_padding)
{
        static const struct {
                uint16_t len;
                uint8_t padding;
        } cases[] = {
                {0, 0},
                {1, 7},
                {7, 1},
                {8, 0},
                {9, 7},
                {65535, 1},
        };
        uint8_t out[FCGI_HEADER_LEN];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ck_assert_uint_eq(fcgi_header_write(out, FCGI_STDIN, 1, cases[i].len), cases[i].padding);
                ck_assert_uint_eq(out[6], cases[i].padding);
        }
}
END_TEST

START_TEST(test_header_round_trip)
{
        static const uint16_t lens[] = {0, 1, 7, 8, 9, 65535};

        for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                FcgiRecord r;
                uint8_t padding;
                size_t total;

                buf = malloc(FCGI_HEADER_LEN + 65535 + 255);
                ck_assert_ptr_nonnull(buf);
                padding = fcgi_header_write(buf, FCGI_PARAMS, 0xbeef, lens[i]);
                total = FCGI_HEADER_LEN + lens[i] + padding;
                ck_assert_uint_eq(total % 8, 0);
                memset(buf + FCGI_HEADER_LEN, 'x', lens[i] + padding);

                ck_assert_int_eq(fcgi_record_next(buf, total, &r), (int)total);
                ck_assert_uint_eq(r.type, FCGI_PARAMS);
                ck_assert_uint_eq(r.request_id, 0xbeef);
                ck_assert_uint_eq(r.content_length, lens[i]);
                ck_assert_uint_eq(r.padding_length, padding);
                ck_assert_ptr_eq(r.content, buf + FCGI_HEADER_LEN);
        }
}
END_TEST

/* STDIN, request 1, "hello" and 3 padding bytes: 16 bytes */
static const uint8_t record_hello[] = "\x01\x05\x00\x01\x00\x05\x03\x00"
                                      "hello\x00\x00\x00";

START_TEST(test_record_next_partial)
{
        const FcgiRecord sentinel = {.type = 0xee, .request_id = 0xeeee, .content = NULL};

        /* 0..7: partial header; 8..12: partial content; 13..15: partial padding */
        for (size_t cut = 0; cut < 16; cut++) {
                FcgiRecord r = sentinel;

                ck_assert_int_eq(fcgi_record_next(record_hello, cut, &r), 0);
                ck_assert_uint_eq(r.type, 0xee);
                ck_assert_uint_eq(r.request_id, 0xeeee);
                ck_assert_ptr_null(r.content);
        }
}
END_TEST

START_TEST(test_record_next_exact)
{
        FcgiRecord r;

        ck_assert_int_eq(fcgi_record_next(record_hello, 16, &r), 16);
        ck_assert_uint_eq(r.type, FCGI_STDIN);
        ck_assert_uint_eq(r.request_id, 1);
        ck_assert_uint_eq(r.content_length, 5);
        ck_assert_uint_eq(r.padding_length, 3);
        ck_assert_ptr_eq(r.content, record_hello + 8);
        ck_assert_mem_eq(r.content, "hello", 5);
}
END_TEST

START_TEST(test_record_next_two)
{
        /* BEGIN_REQUEST (responder, keep-conn) then an empty PARAMS, and 3 bytes of the next record */
        static const uint8_t buf[] = "\x01\x01\x00\x01\x00\x08\x00\x00"
                                     "\x00\x01\x01\x00\x00\x00\x00\x00"
                                     "\x01\x04\x00\x01\x00\x00\x00\x00"
                                     "\x01\x05\x00";
        size_t len = sizeof(buf) - 1, o = 0;
        FcgiRecord r;
        uint16_t role;
        uint8_t flags;

        ck_assert_int_eq(fcgi_record_next(buf + o, len - o, &r), 16);
        ck_assert_uint_eq(r.type, FCGI_BEGIN_REQUEST);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), 0);
        ck_assert_uint_eq(role, FCGI_RESPONDER);
        ck_assert_uint_eq(flags, FCGI_KEEP_CONN);
        o += 16;

        ck_assert_int_eq(fcgi_record_next(buf + o, len - o, &r), 8);
        ck_assert_uint_eq(r.type, FCGI_PARAMS);
        ck_assert_uint_eq(r.request_id, 1);
        ck_assert_uint_eq(r.content_length, 0);
        ck_assert_uint_eq(r.padding_length, 0);
        o += 8;

        ck_assert_int_eq(fcgi_record_next(buf + o, len - o, &r), 0);
}
END_TEST

START_TEST(test_record_next_bad_version)
{
        FcgiRecord r = {.type = 0xee};

        ck_assert_int_eq(fcgi_record_next(IMAGE("\x00\x05\x00\x01\x00\x00\x00\x00"), &r), -EPROTO);
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x02\x05\x00\x01\x00\x00\x00\x00"), &r), -EPROTO);
        /* The header alone is enough to tell, the content need not be there */
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x00\x05\x00\x01\x10\x00\x00\x00"), &r), -EPROTO);
        ck_assert_uint_eq(r.type, 0xee);
        /* Not even a whole header yet */
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x00\x05\x00"), &r), 0);
}
END_TEST

START_TEST(test_begin_request)
{
        static const uint8_t keep[] = "\x01\x01\x00\x07\x00\x08\x00\x00"
                                      "\x00\x01\x01\x00\x00\x00\x00\x00";
        static const uint8_t no_keep[] = "\x01\x01\x01\x00\x00\x08\x00\x00"
                                         "\x00\x01\x00\x00\x00\x00\x00\x00";
        uint8_t out[16];
        FcgiRecord r;
        uint16_t role = 0;
        uint8_t flags = 0xee;

        ck_assert_int_eq(fcgi_record_next(keep, 16, &r), 16);
        ck_assert_uint_eq(r.request_id, 7);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), 0);
        ck_assert_uint_eq(role, FCGI_RESPONDER);
        ck_assert_uint_eq(flags, FCGI_KEEP_CONN);
        ck_assert_uint_eq(fcgi_begin_request_write(out, 7, FCGI_RESPONDER, FCGI_KEEP_CONN), 16);
        ck_assert_mem_eq(out, keep, 16);

        ck_assert_int_eq(fcgi_record_next(no_keep, 16, &r), 16);
        ck_assert_uint_eq(r.request_id, 256);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), 0);
        ck_assert_uint_eq(role, FCGI_RESPONDER);
        ck_assert_uint_eq(flags, 0);
        ck_assert_uint_eq(fcgi_begin_request_write(out, 256, FCGI_RESPONDER, 0), 16);
        ck_assert_mem_eq(out, no_keep, 16);

        /* Other roles come through as they are: refusing them is the caller's business */
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x01\x01\x00\x01\x00\x08\x00\x00"
                                                "\x00\x03\x00\x00\x00\x00\x00\x00"),
                                 &r),
                16);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, NULL), 0);
        ck_assert_uint_eq(role, FCGI_FILTER);
}
END_TEST

START_TEST(test_begin_request_bad)
{
        FcgiRecord r;
        uint16_t role = 0xeeee;
        uint8_t flags = 0xee;

        /* 7 bytes of body, 1 byte of padding */
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x01\x01\x00\x01\x00\x07\x01\x00"
                                                "\x00\x01\x01\x00\x00\x00\x00\x00"),
                                 &r),
                16);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), -EBADMSG);

        /* 9 bytes of body */
        ck_assert_int_eq(fcgi_record_next(IMAGE("\x01\x01\x00\x01\x00\x09\x07\x00"
                                                "\x00\x01\x01\x00\x00\x00\x00\x00"
                                                "\x00\x00\x00\x00\x00\x00\x00\x00"),
                                 &r),
                24);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), -EBADMSG);

        /* Not a BEGIN_REQUEST at all */
        ck_assert_int_eq(fcgi_record_next(record_hello, 16, &r), 16);
        ck_assert_int_eq(fcgi_begin_request_parse(&r, &role, &flags), -EINVAL);

        ck_assert_uint_eq(role, 0xeeee);
        ck_assert_uint_eq(flags, 0xee);
}
END_TEST

START_TEST(test_end_request)
{
        uint8_t out[16];

        ck_assert_uint_eq(fcgi_end_request_write(out, 0x0102, 0x0a0b0c0d, FCGI_OVERLOADED), 16);
        ck_assert_mem_eq(out,
                "\x01\x03\x01\x02\x00\x08\x00\x00"
                "\x0a\x0b\x0c\x0d\x02\x00\x00\x00",
                16);

        memset(out, 0xaa, sizeof(out));
        ck_assert_uint_eq(fcgi_end_request_write(out, 1, 0, FCGI_REQUEST_COMPLETE), 16);
        ck_assert_mem_eq(out,
                "\x01\x03\x00\x01\x00\x08\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00",
                16);

        ck_assert_uint_eq(fcgi_end_request_write(out, 65535, 255, FCGI_UNKNOWN_ROLE), 16);
        ck_assert_mem_eq(out,
                "\x01\x03\xff\xff\x00\x08\x00\x00"
                "\x00\x00\x00\xff\x03\x00\x00\x00",
                16);
}
END_TEST

START_TEST(test_unknown_type)
{
        uint8_t out[16];

        memset(out, 0xaa, sizeof(out));
        ck_assert_uint_eq(fcgi_unknown_type_write(out, 42), 16);
        ck_assert_mem_eq(out,
                "\x01\x0b\x00\x00\x00\x08\x00\x00"
                "\x2a\x00\x00\x00\x00\x00\x00\x00",
                16);
}
END_TEST

/* Encodes, checks the image against the expected length prefix, and decodes it back */
static void nv_round_trip(size_t name_len, size_t value_len, const uint8_t *prefix, size_t prefix_len)
{
        _cleanup_free_ char *name = NULL, *value = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t total = prefix_len + name_len + value_len, o = 0, nl, vl;
        const uint8_t *n, *v;

        name = malloc(name_len + 1);
        value = malloc(value_len + 1);
        buf = malloc(total);
        ck_assert_ptr_nonnull(name);
        ck_assert_ptr_nonnull(value);
        ck_assert_ptr_nonnull(buf);
        memset(name, 'n', name_len);
        memset(value, 'v', value_len);

        ck_assert_uint_eq(fcgi_nv_write(NULL, 0, name, name_len, value, value_len), total);
        ck_assert_uint_eq(fcgi_nv_write(buf, total, name, name_len, value, value_len), total);
        ck_assert_mem_eq(buf, prefix, prefix_len);
        ck_assert_mem_eq(buf + prefix_len, name, name_len);
        if (value_len > 0)
                ck_assert_mem_eq(buf + prefix_len + name_len, value, value_len);

        ck_assert_int_eq(fcgi_nv_next(buf, total, &o, &n, &nl, &v, &vl), 1);
        ck_assert_uint_eq(o, total);
        ck_assert_ptr_eq(n, buf + prefix_len);
        ck_assert_uint_eq(nl, name_len);
        ck_assert_ptr_eq(v, buf + prefix_len + name_len);
        ck_assert_uint_eq(vl, value_len);
        ck_assert_int_eq(fcgi_nv_next(buf, total, &o, &n, &nl, &v, &vl), 0);
        ck_assert_uint_eq(o, total);
}

START_TEST(test_nv_lengths)
{
        nv_round_trip(127, 1, IMAGE("\x7f\x01"));
        nv_round_trip(128, 1, IMAGE("\x80\x00\x00\x80\x01"));
        nv_round_trip(1, 127, IMAGE("\x01\x7f"));
        nv_round_trip(1, 128, IMAGE("\x01\x80\x00\x00\x80"));
        nv_round_trip(128, 128, IMAGE("\x80\x00\x00\x80\x80\x00\x00\x80"));
        nv_round_trip(1, 0, IMAGE("\x01\x00"));
        nv_round_trip(0, 0, IMAGE("\x00\x00"));
        nv_round_trip(70000, 3, IMAGE("\x80\x01\x11\x70\x03"));
}
END_TEST

START_TEST(test_nv_write_exact)
{
        uint8_t out[32];

        memset(out, 0xaa, sizeof(out));
        ck_assert_uint_eq(fcgi_nv_write(out, sizeof(out), "SCRIPT_NAME", 11, "/x.php", 6), 19);
        ck_assert_mem_eq(out, "\x0b\x06SCRIPT_NAME/x.php\xaa", 20);

        /* Empty value */
        ck_assert_uint_eq(fcgi_nv_write(out, sizeof(out), "HTTPS", 5, NULL, 0), 7);
        ck_assert_mem_eq(out, "\x05\x00HTTPS", 7);

        /* Too small: the size is returned and nothing written */
        memset(out, 0xaa, sizeof(out));
        ck_assert_uint_eq(fcgi_nv_write(out, 18, "SCRIPT_NAME", 11, "/x.php", 6), 19);
        for (size_t i = 0; i < sizeof(out); i++)
                ck_assert_uint_eq(out[i], 0xaa);

        /* Lengths beyond 31 bits cannot be encoded; the pointers are not touched */
        ck_assert_uint_eq(fcgi_nv_write(out, sizeof(out), "a", (size_t)FCGI_NV_MAX_LEN + 1, "b", 1), 0);
        ck_assert_uint_eq(fcgi_nv_write(out, sizeof(out), "a", 1, "b", (size_t)FCGI_NV_MAX_LEN + 1), 0);
        ck_assert_uint_eq(out[0], 0xaa);
}
END_TEST

START_TEST(test_nv_sequence)
{
        static const uint8_t buf[] = "\x01\x01"
                                     "ab"
                                     "\x00\x00"
                                     "\x02\x80\x00\x00\x00"
                                     "cd";
        size_t len = sizeof(buf) - 1, o = 0, nl, vl;
        const uint8_t *n, *v;

        ck_assert_int_eq(fcgi_nv_next(buf, len, &o, &n, &nl, &v, &vl), 1);
        ck_assert_uint_eq(o, 4);
        ck_assert_mem_eq(n, "a", nl);
        ck_assert_mem_eq(v, "b", vl);

        ck_assert_int_eq(fcgi_nv_next(buf, len, &o, &n, &nl, &v, &vl), 1);
        ck_assert_uint_eq(o, 6);
        ck_assert_uint_eq(nl, 0);
        ck_assert_uint_eq(vl, 0);

        /* A 4-byte length may encode a small number */
        ck_assert_int_eq(fcgi_nv_next(buf, len, &o, &n, &nl, &v, &vl), 1);
        ck_assert_uint_eq(o, len);
        ck_assert_uint_eq(nl, 2);
        ck_assert_uint_eq(vl, 0);
        ck_assert_mem_eq(n, "cd", 2);

        ck_assert_int_eq(fcgi_nv_next(buf, len, &o, &n, &nl, &v, &vl), 0);
        ck_assert_uint_eq(o, len);

        /* An offset past the end is a caller's bug, but must not read */
        o = len + 1;
        ck_assert_int_eq(fcgi_nv_next(buf, len, &o, &n, &nl, &v, &vl), -EBADMSG);
}
END_TEST

static void nv_check_truncated(const uint8_t *buf, size_t len)
{
        /* 0 is simply the end; every other cut leaves part of a pair */
        for (size_t cut = 1; cut < len; cut++) {
                const uint8_t *n = NULL, *v = NULL;
                size_t o = 0, nl = 0xee, vl = 0xee;

                ck_assert_int_eq(fcgi_nv_next(buf, cut, &o, &n, &nl, &v, &vl), -EBADMSG);
                ck_assert_uint_eq(o, 0);
                ck_assert_ptr_null(n);
                ck_assert_ptr_null(v);
                ck_assert_uint_eq(nl, 0xee);
                ck_assert_uint_eq(vl, 0xee);
        }
}

START_TEST(test_nv_truncated)
{
        uint8_t buf[300];
        char src[128];
        size_t n;

        n = fcgi_nv_write(buf, sizeof(buf), "NAME", 4, "value", 5);
        ck_assert_uint_eq(n, 11);
        nv_check_truncated(buf, n);

        memset(src, 's', sizeof(src));
        n = fcgi_nv_write(buf, sizeof(buf), src, sizeof(src), src, sizeof(src));
        ck_assert_uint_eq(n, 264);
        nv_check_truncated(buf, n);

        n = fcgi_nv_write(buf, sizeof(buf), "N", 1, "", 0);
        ck_assert_uint_eq(n, 3);
        nv_check_truncated(buf, n);
}
END_TEST

START_TEST(test_nv_too_long)
{
        size_t o, nl = 0xee, vl = 0xee;
        const uint8_t *n = NULL, *v = NULL;

        /* Name length 256, 3 bytes left */
        o = 0;
        ck_assert_int_eq(fcgi_nv_next(IMAGE("\x80\x00\x01\x00\x00"
                                            "abc"),
                                 &o, &n, &nl, &v, &vl),
                -EBADMSG);
        /* Value length 128, 2 bytes left after the name */
        o = 0;
        ck_assert_int_eq(fcgi_nv_next(IMAGE("\x01\x80\x00\x00\x80"
                                            "abc"),
                                 &o, &n, &nl, &v, &vl),
                -EBADMSG);
        /* Both at 2^31-1 (the top bit is the marker, not part of the length): the sum must not wrap */
        o = 0;
        ck_assert_int_eq(fcgi_nv_next(IMAGE("\xff\xff\xff\xff\xff\xff\xff\xff"
                                            "abc"),
                                 &o, &n, &nl, &v, &vl),
                -EBADMSG);
        /* One byte more than left, from a non-zero offset */
        o = 3;
        ck_assert_int_eq(fcgi_nv_next(IMAGE("\x01\x00"
                                            "a"
                                            "\x02\x01"
                                            "ab"),
                                 &o, &n, &nl, &v, &vl),
                -EBADMSG);

        ck_assert_uint_eq(o, 3);
        ck_assert_ptr_null(n);
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(nl, 0xee);
        ck_assert_uint_eq(vl, 0xee);
}
END_TEST

/* A small PARAMS stream with a 4-byte value length, a duplicate, an empty value and a value with a NUL */
static size_t params_stream(uint8_t *buf, size_t size)
{
        char long_value[128];
        size_t n = 0;

        memset(long_value, 'L', sizeof(long_value));
        n += fcgi_nv_write(buf + n, size - n, "SCRIPT_FILENAME", 15, "/srv/a.php", 10);
        n += fcgi_nv_write(buf + n, size - n, "HTTP_X_LONG", 11, long_value, sizeof(long_value));
        n += fcgi_nv_write(buf + n, size - n, "QUERY_STRING", 12, "", 0);
        n += fcgi_nv_write(buf + n, size - n, "SCRIPT_FILENAME", 15, "/srv/b.php", 10);
        n += fcgi_nv_write(buf + n, size - n, "HTTP_BIN", 8, "a\0b", 3);
        return n;
}

static void params_check(const FcgiParams *p)
{
        char expected[129];
        const char *s;
        size_t len = 0;

        ck_assert_uint_eq(p->n, 4);
        /* The duplicate replaced the value in place */
        ck_assert_str_eq(p->names[0], "SCRIPT_FILENAME");
        ck_assert_str_eq(p->names[1], "HTTP_X_LONG");
        ck_assert_str_eq(p->names[2], "QUERY_STRING");
        ck_assert_str_eq(p->names[3], "HTTP_BIN");
        ck_assert_str_eq(fcgi_params_get(p, "SCRIPT_FILENAME"), "/srv/b.php");
        ck_assert_uint_eq(p->value_lens[0], 10);

        s = fcgi_params_get_len(p, "HTTP_X_LONG", &len);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(len, 128);
        memset(expected, 'L', 128);
        expected[128] = '\0';
        ck_assert_mem_eq(s, expected, 129);

        ck_assert_str_eq(fcgi_params_get(p, "QUERY_STRING"), "");
        ck_assert_uint_eq(p->value_lens[2], 0);

        s = fcgi_params_get_len(p, "HTTP_BIN", &len);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(s, "a\0b", 4);

        /* Exact, case-sensitive, whole-name matches only */
        ck_assert_ptr_null(fcgi_params_get(p, "script_filename"));
        ck_assert_ptr_null(fcgi_params_get(p, "SCRIPT_FILENAM"));
        ck_assert_ptr_null(fcgi_params_get(p, "SCRIPT_FILENAMES"));
        ck_assert_ptr_null(fcgi_params_get(p, ""));
}

/* Same entries, in the same order, with the same bytes */
static bool params_equal(const FcgiParams *a, const FcgiParams *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->names[i], b->names[i]) || a->value_lens[i] != b->value_lens[i] ||
                        memcmp(a->values[i], b->values[i], a->value_lens[i] + 1) != 0)
                        return false;
        return true;
}

START_TEST(test_params_split)
{
        uint8_t buf[512];
        size_t len = params_stream(buf, sizeof(buf));
        FcgiParams whole, p;

        ck_assert_uint_eq(len, 2 + 15 + 10 + 5 + 11 + 128 + 2 + 12 + 2 + 15 + 10 + 2 + 8 + 3);

        fcgi_params_init(&whole, 4096);
        ck_assert_int_eq(fcgi_params_append(&whole, buf, len), 0);
        ck_assert_int_eq(fcgi_params_parse(&whole), 0);
        params_check(&whole);

        /* Two appends, cut at every offset */
        for (size_t i = 0; i <= len; i++) {
                fcgi_params_init(&p, 4096);
                ck_assert_int_eq(fcgi_params_append(&p, buf, i), 0);
                ck_assert_int_eq(fcgi_params_append(&p, buf + i, len - i), 0);
                ck_assert_uint_eq(p.raw_len, len);
                ck_assert_mem_eq(p.raw, buf, len);
                ck_assert_int_eq(fcgi_params_parse(&p), 0);
                params_check(&p);
                fcgi_params_done(&p);
        }

        /* One byte at a time: every length field arrives in pieces */
        fcgi_params_init(&p, 4096);
        for (size_t i = 0; i < len; i++)
                ck_assert_int_eq(fcgi_params_append(&p, buf + i, 1), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        params_check(&p);
        fcgi_params_done(&p);

        /* Three appends, cut at every pair of offsets; compared as a whole, since Check's asserts are slow
         */
        for (size_t i = 0; i <= len; i++)
                for (size_t j = i; j <= len; j++) {
                        bool ok;

                        fcgi_params_init(&p, 4096);
                        ok = fcgi_params_append(&p, buf, i) == 0 && fcgi_params_append(&p, buf + i, j - i) == 0 &&
                             fcgi_params_append(&p, buf + j, len - j) == 0 && fcgi_params_parse(&p) == 0 &&
                             params_equal(&p, &whole);
                        fcgi_params_done(&p);
                        ck_assert_msg(ok, "split at %zu and %zu", i, j);
                }

        fcgi_params_done(&whole);
}
END_TEST

START_TEST(test_params_duplicates)
{
        uint8_t buf[64];
        size_t n = 0;
        FcgiParams p;

        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "A", 1, "1", 1);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "B", 1, "2", 1);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "A", 1, "3", 1);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "A", 1, "4", 1);
        /* A name is cut at a NUL, so "B\0x" is "B" again */
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "B\0x", 3, "5", 1);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "a", 1, "6", 1);

        fcgi_params_init(&p, SIZE_MAX);
        ck_assert_int_eq(fcgi_params_append(&p, buf, n), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_uint_eq(p.n, 3);
        ck_assert_str_eq(p.names[0], "A");
        ck_assert_str_eq(p.names[1], "B");
        ck_assert_str_eq(p.names[2], "a");
        ck_assert_str_eq(fcgi_params_get(&p, "A"), "4");
        ck_assert_str_eq(fcgi_params_get(&p, "B"), "5");
        ck_assert_str_eq(fcgi_params_get(&p, "a"), "6");
        fcgi_params_done(&p);
}
END_TEST

/* Every known name is found by index exactly as by its name: what the web server sent, a value replaced, an
 * entry before it removed (the entries after it move), names that only look alike, and none after a reset */
static void assert_known_as_named(const FcgiParams *p)
{
        for (int k = 0; k < _FCGI_KNOWN_MAX; k++) {
                size_t a = 4242, b = 4242;
                const char *by_index = fcgi_params_known_len(p, (FcgiKnown)k, &a);
                const char *by_name = fcgi_params_get_len(p, fcgi_known_to_string((FcgiKnown)k), &b);

                ck_assert_msg(by_index == by_name, "%s: %p by index, %p by name", fcgi_known_to_string((FcgiKnown)k),
                        (const void *)by_index, (const void *)by_name);
                ck_assert_uint_eq(a, b);
        }
}

START_TEST(test_params_known)
{
        uint8_t buf[512];
        size_t n = 0, len;
        FcgiParams p;

        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "HTTP_HOST", 9, "example.org", 11);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "SCRIPT_FILENAME", 15, "/srv/a.php", 10);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "REQUEST_METHOD", 14, "GET", 3);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "SCRIPT_NAME", 11, "/a.php", 6);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "PATH_INFO", 9, "/x", 2);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "QUERY_STRING", 12, "", 0);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "SCRIPT_FILENAMEX", 16, "/no", 3);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "script_name", 11, "/no", 3);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "CONTENT_LENGTH\0x", 16, "12", 2);
        n += fcgi_nv_write(buf + n, sizeof(buf) - n, "REQUEST_METHOD", 14, "POST", 4);

        fcgi_params_init(&p, SIZE_MAX);
        ck_assert_int_eq(fcgi_params_append(&p, buf, n), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_SCRIPT_FILENAME), "/srv/a.php");
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_REQUEST_METHOD), "POST");
        ck_assert_str_eq(fcgi_params_known_len(&p, FCGI_KNOWN_QUERY_STRING, &len), "");
        ck_assert_uint_eq(len, 0);
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_CONTENT_LENGTH), "12");
        ck_assert_ptr_null(fcgi_params_known(&p, FCGI_KNOWN_DOCUMENT_ROOT));
        assert_known_as_named(&p);

        ck_assert_int_eq(fcgi_params_set(&p, "DOCUMENT_ROOT", "/srv"), 0);
        ck_assert_int_eq(fcgi_params_set(&p, "PATH_INFO", "/y"), 0);
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_DOCUMENT_ROOT), "/srv");
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_PATH_INFO), "/y");
        assert_known_as_named(&p);

        ck_assert_int_eq(fcgi_params_unset(&p, "SCRIPT_FILENAME"), 1);
        ck_assert_ptr_null(fcgi_params_known(&p, FCGI_KNOWN_SCRIPT_FILENAME));
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_SCRIPT_NAME), "/a.php");
        assert_known_as_named(&p);
        ck_assert_int_eq(fcgi_params_unset(&p, "HTTP_HOST"), 1);
        ck_assert_str_eq(fcgi_params_known(&p, FCGI_KNOWN_REQUEST_METHOD), "POST");
        assert_known_as_named(&p);

        fcgi_params_reset(&p);
        for (int k = 0; k < _FCGI_KNOWN_MAX; k++)
                ck_assert_ptr_null(fcgi_params_known(&p, (FcgiKnown)k));
        fcgi_params_done(&p);
}
END_TEST

START_TEST(test_params_set)
{
        FcgiParams p;
        size_t len;

        fcgi_params_init(&p, 1024);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x04\x03NAMEold")), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_str_eq(fcgi_params_get(&p, "NAME"), "old");

        ck_assert_int_eq(fcgi_params_set(&p, "NAME", "newer"), 0);
        ck_assert_uint_eq(p.n, 1);
        ck_assert_str_eq(fcgi_params_get_len(&p, "NAME", &len), "newer");
        ck_assert_uint_eq(len, 5);

        ck_assert_int_eq(fcgi_params_set(&p, "OTHER", ""), 0);
        ck_assert_uint_eq(p.n, 2);
        ck_assert_str_eq(fcgi_params_get_len(&p, "OTHER", &len), "");
        ck_assert_uint_eq(len, 0);

        /* Setting a value from the table itself */
        ck_assert_int_eq(fcgi_params_set(&p, "NAME", fcgi_params_get(&p, "NAME")), 0);
        ck_assert_str_eq(fcgi_params_get(&p, "NAME"), "newer");

        /* Many entries, past the first allocation */
        for (unsigned i = 0; i < 100; i++) {
                char name[16];

                snprintf(name, sizeof(name), "N%u", i);
                ck_assert_int_eq(fcgi_params_set(&p, name, name), 0);
        }
        ck_assert_uint_eq(p.n, 102);
        ck_assert_str_eq(fcgi_params_get(&p, "N0"), "N0");
        ck_assert_str_eq(fcgi_params_get(&p, "N99"), "N99");
        ck_assert_str_eq(fcgi_params_get(&p, "NAME"), "newer");

        /* The raw stream is not touched by set */
        ck_assert_uint_eq(p.raw_len, 9);

        len = 0xee;
        ck_assert_ptr_null(fcgi_params_get_len(&p, "MISSING", &len));
        ck_assert_uint_eq(len, 0xee);
        fcgi_params_done(&p);
}
END_TEST

START_TEST(test_params_max_len)
{
        FcgiParams p;

        fcgi_params_init(&p, 10);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x01\x03"
                                                      "Aabc")),
                0);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x01\x03"
                                                      "Bab")),
                -E2BIG);
        ck_assert_uint_eq(p.raw_len, 6);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x01\x01"
                                                      "Cc")),
                0);
        ck_assert_uint_eq(p.raw_len, 10);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x00")), -E2BIG);
        ck_assert_int_eq(fcgi_params_append(&p, NULL, 0), 0);
        ck_assert_uint_eq(p.raw_len, 10);
        ck_assert_uint_le(p.raw_size, 10);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_str_eq(fcgi_params_get(&p, "A"), "abc");
        ck_assert_str_eq(fcgi_params_get(&p, "C"), "c");
        fcgi_params_done(&p);

        /* done keeps max_len: the struct can be used again */
        ck_assert_uint_eq(p.max_len, 10);
        ck_assert_ptr_null(p.raw);
        ck_assert_uint_eq(p.n, 0);

        fcgi_params_init(&p, 0);
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x00")), -E2BIG);
        fcgi_params_done(&p);
}
END_TEST

START_TEST(test_params_malformed)
{
        FcgiParams p;

        fcgi_params_init(&p, 1024);
        /* One good pair, then a name length that runs past the end */
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x01\x01"
                                                      "ab"
                                                      "\x05\x00"
                                                      "abc")),
                0);
        ck_assert_int_eq(fcgi_params_parse(&p), -EBADMSG);
        fcgi_params_done(&p);

        /* An empty stream is no params at all */
        fcgi_params_init(&p, 1024);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_ptr_null(fcgi_params_get(&p, "A"));
        fcgi_params_done(&p);
}
END_TEST

START_TEST(test_params_reset)
{
        uint8_t buf[512];
        size_t len = params_stream(buf, sizeof(buf)), raw_size, n_alloc;
        uint8_t *raw;
        FcgiParams p;

        fcgi_params_init(&p, 4096);
        ck_assert_int_eq(fcgi_params_append(&p, buf, len), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        params_check(&p);

        raw = p.raw;
        raw_size = p.raw_size;
        n_alloc = p.n_alloc;
        fcgi_params_reset(&p);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_uint_eq(p.raw_len, 0);
        ck_assert_ptr_eq(p.raw, raw);
        ck_assert_uint_eq(p.raw_size, raw_size);
        ck_assert_uint_eq(p.n_alloc, n_alloc);
        ck_assert_uint_eq(p.max_len, 4096);
        ck_assert_ptr_null(fcgi_params_get(&p, "SCRIPT_FILENAME"));

        /* The next request on the kept connection */
        ck_assert_int_eq(fcgi_params_append(&p, IMAGE("\x0c\x03QUERY_STRINGa=1")), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        ck_assert_uint_eq(p.n, 1);
        ck_assert_str_eq(fcgi_params_get(&p, "QUERY_STRING"), "a=1");
        ck_assert_ptr_null(fcgi_params_get(&p, "SCRIPT_FILENAME"));

        /* And once more, with the first stream again */
        fcgi_params_reset(&p);
        ck_assert_int_eq(fcgi_params_append(&p, buf, len), 0);
        ck_assert_int_eq(fcgi_params_parse(&p), 0);
        params_check(&p);
        fcgi_params_done(&p);
}
END_TEST

/* Parsing happens in place: every name length (the short, word and long paths, 1 and 4 byte lengths), a NUL at
 * every place in a name, and values of every kind after them, against what the pairs say */
START_TEST(test_params_in_place)
{
        static const size_t value_lens[] = {0, 1, 7, 8, 127, 128, 300};
        uint8_t buf[16384];
        char name[200], value[300], want[200];

        for (size_t nl = 0; nl <= 160; nl += nl < 40 ? 1 : 40)
                for (size_t nul = 0; nul <= nl + 1; nul += nl < 20 ? 1 : 7)
                        for (size_t vi = 0; vi < ELEMENTSOF(value_lens); vi++) {
                                size_t vl = value_lens[vi], n = 0, len, got_len = 4242;
                                const char *got;
                                FcgiParams p;

                                for (size_t i = 0; i < nl; i++)
                                        name[i] = (char)('A' + (i * 7) % 26);
                                if (nul < nl)
                                        name[nul] = '\0'; /* nul == nl (or nl + 1): no NUL */
                                for (size_t i = 0; i < vl; i++)
                                        value[i] = (char)('a' + i % 26);
                                if (vl > 3)
                                        value[vl / 2] = '\0'; /* values keep their NULs */
                                /* A pair before and after, so that the moves and NULs meet neighbours */
                                n += fcgi_nv_write(buf + n, sizeof(buf) - n, "BEFORE", 6, "b", 1);
                                n += fcgi_nv_write(buf + n, sizeof(buf) - n, name, nl, value, vl);
                                n += fcgi_nv_write(buf + n, sizeof(buf) - n, "AFTER_IT", 8, "after", 5);

                                fcgi_params_init(&p, SIZE_MAX);
                                ck_assert_int_eq(fcgi_params_append(&p, buf, n), 0);
                                ck_assert_int_eq(fcgi_params_parse(&p), 0);
                                len = nul < nl ? nul : nl;
                                memcpy(want, name, len);
                                want[len] = '\0';
                                ck_assert_str_eq(fcgi_params_get(&p, "BEFORE"), "b");
                                ck_assert_str_eq(fcgi_params_get(&p, "AFTER_IT"), "after");
                                got = fcgi_params_get_len(&p, want, &got_len);
                                ck_assert_msg(
                                        got, "name %zu bytes, NUL at %zu, value %zu bytes: not found", nl, nul, vl);
                                ck_assert_uint_eq(got_len, vl);
                                ck_assert_mem_eq(got, value, vl);
                                ck_assert_int_eq(got[vl], '\0');
                                ck_assert_uint_eq(p.n, 3);
                                ck_assert_str_eq(p.names[1], want);
                                fcgi_params_done(&p);
                        }
}
END_TEST

static const uint8_t get_values_query[] = "\x0e\x00"
                                          "FCGI_MAX_CONNS"
                                          "\x0d\x00"
                                          "FCGI_MAX_REQS"
                                          "\x0f\x00"
                                          "FCGI_MPXS_CONNS";

/* 18 + 17 + 18 = 53 bytes of content, 3 of padding */
static const uint8_t get_values_reply[] = "\x01\x0a\x00\x00\x00\x35\x03\x00"
                                          "\x0e\x02"
                                          "FCGI_MAX_CONNS"
                                          "50"
                                          "\x0d\x02"
                                          "FCGI_MAX_REQS"
                                          "50"
                                          "\x0f\x01"
                                          "FCGI_MPXS_CONNS"
                                          "0"
                                          "\x00\x00\x00";

START_TEST(test_get_values)
{
        uint8_t out[128];
        FcgiRecord r;

        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(
                fcgi_get_values_result_write(get_values_query, sizeof(get_values_query) - 1, 50, 50, out, sizeof(out)),
                64);
        ck_assert_uint_eq(sizeof(get_values_reply) - 1, 64);
        ck_assert_mem_eq(out, get_values_reply, 64);
        ck_assert_uint_eq(out[64], 0xaa);

        /* The reply frames as a record of its own */
        ck_assert_int_eq(fcgi_record_next(out, 64, &r), 64);
        ck_assert_uint_eq(r.type, FCGI_GET_VALUES_RESULT);
        ck_assert_uint_eq(r.request_id, 0);

        /* Exactly enough room */
        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(
                fcgi_get_values_result_write(get_values_query, sizeof(get_values_query) - 1, 50, 50, out, 64), 64);
        ck_assert_mem_eq(out, get_values_reply, 64);
}
END_TEST

START_TEST(test_get_values_numbers)
{
        uint8_t out[128];

        /* Values sent with the query are ignored; numbers are decimal */
        ck_assert_int_eq(fcgi_get_values_result_write(IMAGE("\x0d\x01"
                                                            "FCGI_MAX_REQSx"
                                                            "\x0e\x00"
                                                            "FCGI_MAX_CONNS"),
                                 4294967295u, 7, out, sizeof(out)),
                56);
        /* 16 + 26 = 42 bytes of content, 6 of padding */
        ck_assert_mem_eq(out,
                "\x01\x0a\x00\x00\x00\x2a\x06\x00"
                "\x0d\x01"
                "FCGI_MAX_REQS"
                "7"
                "\x0e\x0a"
                "FCGI_MAX_CONNS"
                "4294967295"
                "\x00\x00\x00\x00\x00\x00",
                56);
}
END_TEST

START_TEST(test_get_values_unknown)
{
        uint8_t out[128];

        /* Unknown, differently cased and prefixed names are left out; a repeated name is answered once */
        ck_assert_int_eq(fcgi_get_values_result_write(IMAGE("\x08\x00"
                                                            "FCGI_FOO"
                                                            "\x0f\x00"
                                                            "fcgi_mpxs_conns"
                                                            "\x0e\x00"
                                                            "FCGI_MPXS_CONN"
                                                            "\x0f\x00"
                                                            "FCGI_MPXS_CONNS"
                                                            "\x0f\x00"
                                                            "FCGI_MPXS_CONNS"),
                                 1, 1, out, sizeof(out)),
                32);
        ck_assert_mem_eq(out,
                "\x01\x0a\x00\x00\x00\x12\x06\x00"
                "\x0f\x01"
                "FCGI_MPXS_CONNS"
                "0"
                "\x00\x00\x00\x00\x00\x00",
                32);

        /* Nothing known asked: an empty reply */
        ck_assert_int_eq(fcgi_get_values_result_write(IMAGE("\x03\x00"
                                                            "FOO"),
                                 1, 1, out, sizeof(out)),
                8);
        ck_assert_mem_eq(out, "\x01\x0a\x00\x00\x00\x00\x00\x00", 8);
        ck_assert_int_eq(fcgi_get_values_result_write(NULL, 0, 1, 1, out, sizeof(out)), 8);
        ck_assert_mem_eq(out, "\x01\x0a\x00\x00\x00\x00\x00\x00", 8);

        /* A name is its counted bytes: one with a NUL after a known name is another name */
        ck_assert_int_eq(fcgi_get_values_result_write(IMAGE("\x0f\x00"
                                                            "FCGI_MAX_CONNS\0"),
                                 1, 1, out, sizeof(out)),
                8);
        ck_assert_mem_eq(out, "\x01\x0a\x00\x00\x00\x00\x00\x00", 8);
}
END_TEST

START_TEST(test_get_values_errors)
{
        uint8_t out[128];

        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(fcgi_get_values_result_write(get_values_query, sizeof(get_values_query) - 1, 50, 50, out, 63),
                -ENOBUFS);
        ck_assert_int_eq(fcgi_get_values_result_write(NULL, 0, 1, 1, out, 7), -ENOBUFS);
        ck_assert_int_eq(fcgi_get_values_result_write(NULL, 0, 1, 1, NULL, 0), -ENOBUFS);

        /* A truncated query, even after a good pair */
        ck_assert_int_eq(
                fcgi_get_values_result_write(get_values_query, sizeof(get_values_query) - 2, 50, 50, out, sizeof(out)),
                -EBADMSG);
        ck_assert_int_eq(fcgi_get_values_result_write(IMAGE("\x80\x00"), 50, 50, out, sizeof(out)), -EBADMSG);

        for (size_t i = 0; i < sizeof(out); i++)
                ck_assert_uint_eq(out[i], 0xaa);
}
END_TEST

START_TEST(test_stream_empty)
{
        uint8_t out[16];

        ck_assert_uint_eq(fcgi_stream_size(0), 8);
        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(fcgi_stream_write(out, sizeof(out), FCGI_STDOUT, 1, NULL, 0), 8);
        ck_assert_mem_eq(out, "\x01\x06\x00\x01\x00\x00\x00\x00\xaa", 9);

        ck_assert_int_eq(fcgi_stream_write(out, 8, FCGI_STDERR, 0x0203, NULL, 0), 8);
        ck_assert_mem_eq(out, "\x01\x07\x02\x03\x00\x00\x00\x00", 8);

        ck_assert_int_eq(fcgi_stream_write(out, 7, FCGI_STDOUT, 1, NULL, 0), -ENOBUFS);
}
END_TEST

START_TEST(test_stream_one)
{
        uint8_t out[32];

        ck_assert_uint_eq(fcgi_stream_size(1), 16);
        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(fcgi_stream_write(out, sizeof(out), FCGI_STDOUT, 1, (const uint8_t *)"x", 1), 16);
        ck_assert_mem_eq(out,
                "\x01\x06\x00\x01\x00\x01\x07\x00"
                "x\x00\x00\x00\x00\x00\x00\x00"
                "\xaa",
                17);

        ck_assert_int_eq(fcgi_stream_write(out, 15, FCGI_STDOUT, 1, (const uint8_t *)"x", 1), -ENOBUFS);
        ck_assert_int_eq(fcgi_stream_write(out, sizeof(out), FCGI_END_REQUEST, 1, (const uint8_t *)"x", 1), -EINVAL);
        ck_assert_int_eq(fcgi_stream_write(out, sizeof(out), FCGI_GET_VALUES, 0, NULL, 0), -EINVAL);
}
END_TEST

static uint8_t *pattern_new(size_t len)
{
        uint8_t *data = malloc(len);

        ck_assert_ptr_nonnull(data);
        for (size_t i = 0; i < len; i++)
                data[i] = (uint8_t)(i * 7 + i / 251);
        return data;
}

START_TEST(test_stream_65535)
{
        _cleanup_free_ uint8_t *data = pattern_new(65535), *out = NULL;
        size_t size = 65544 + 8;

        ck_assert_uint_eq(fcgi_stream_size(65535), 65544);
        out = malloc(size);
        ck_assert_ptr_nonnull(out);
        memset(out, 0xaa, size);

        ck_assert_int_eq(fcgi_stream_write(out, size, FCGI_STDOUT, 1, data, 65535), 65544);
        ck_assert_mem_eq(out, "\x01\x06\x00\x01\xff\xff\x01\x00", 8);
        ck_assert_mem_eq(out + 8, data, 65535);
        ck_assert_mem_eq(out + 8 + 65535, "\x00\xaa", 2);

        ck_assert_int_eq(fcgi_stream_write(out, 65543, FCGI_STDOUT, 1, data, 65535), -ENOBUFS);
}
END_TEST

START_TEST(test_stream_65536)
{
        _cleanup_free_ uint8_t *data = pattern_new(65536), *out = NULL;
        size_t size = 65560 + 8;
        FcgiRecord r;

        ck_assert_uint_eq(fcgi_stream_size(65536), 65560);
        out = malloc(size);
        ck_assert_ptr_nonnull(out);
        memset(out, 0xaa, size);

        ck_assert_int_eq(fcgi_stream_write(out, size, FCGI_STDERR, 0x0102, data, 65536), 65560);
        ck_assert_mem_eq(out, "\x01\x07\x01\x02\xff\xff\x01\x00", 8);
        ck_assert_mem_eq(out + 8, data, 65535);
        ck_assert_mem_eq(out + 65543, "\x00", 1);
        ck_assert_mem_eq(out + 65544, "\x01\x07\x01\x02\x00\x01\x07\x00", 8);
        ck_assert_uint_eq(out[65552], data[65535]);
        ck_assert_mem_eq(out + 65553, "\x00\x00\x00\x00\x00\x00\x00\xaa", 8);

        /* And it frames back into the same two records */
        ck_assert_int_eq(fcgi_record_next(out, 65560, &r), 65544);
        ck_assert_uint_eq(r.content_length, 65535);
        ck_assert_int_eq(fcgi_record_next(out + 65544, 65560 - 65544, &r), 16);
        ck_assert_uint_eq(r.content_length, 1);

        ck_assert_int_eq(fcgi_stream_write(out, 65559, FCGI_STDERR, 0x0102, data, 65536), -ENOBUFS);
}
END_TEST

START_TEST(test_stream_size)
{
        ck_assert_uint_eq(fcgi_stream_size(7), 16);
        ck_assert_uint_eq(fcgi_stream_size(8), 16);
        ck_assert_uint_eq(fcgi_stream_size(9), 24);
        ck_assert_uint_eq(fcgi_stream_size(65534), 65544);
        /* An exact multiple needs no extra record: the closing one is written separately */
        ck_assert_uint_eq(fcgi_stream_size(2 * 65535), 2 * 65544);
        ck_assert_uint_eq(fcgi_stream_size(2 * 65535 + 9), 2 * 65544 + 24);
        ck_assert_uint_eq(fcgi_stream_size(SIZE_MAX), SIZE_MAX);
        ck_assert_uint_eq(fcgi_stream_size(SIZE_MAX - 65535 * 2), SIZE_MAX);

        /* Beyond what an int can report */
        ck_assert_int_eq(fcgi_stream_write(NULL, SIZE_MAX, FCGI_STDOUT, 1, NULL, (size_t)INT_MAX), -EOVERFLOW);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("fcgi");
        TCase *tc;

        tc = tcase_create("record");
        tcase_add_test(tc, test_header_write);
        tcase_add_test(tc, test_header_padding);
        tcase_add_test(tc, test_header_round_trip);
        tcase_add_test(tc, test_record_next_partial);
        tcase_add_test(tc, test_record_next_exact);
        tcase_add_test(tc, test_record_next_two);
        tcase_add_test(tc, test_record_next_bad_version);
        tcase_add_test(tc, test_begin_request);
        tcase_add_test(tc, test_begin_request_bad);
        tcase_add_test(tc, test_end_request);
        tcase_add_test(tc, test_unknown_type);
        suite_add_tcase(s, tc);

        tc = tcase_create("nv");
        tcase_add_test(tc, test_nv_lengths);
        tcase_add_test(tc, test_nv_write_exact);
        tcase_add_test(tc, test_nv_sequence);
        tcase_add_test(tc, test_nv_truncated);
        tcase_add_test(tc, test_nv_too_long);
        suite_add_tcase(s, tc);

        tc = tcase_create("params");
        tcase_add_test(tc, test_params_split);
        tcase_add_test(tc, test_params_duplicates);
        tcase_add_test(tc, test_params_known);
        tcase_add_test(tc, test_params_set);
        tcase_add_test(tc, test_params_max_len);
        tcase_add_test(tc, test_params_malformed);
        tcase_add_test(tc, test_params_reset);
        tcase_add_test(tc, test_params_in_place);
        suite_add_tcase(s, tc);

        tc = tcase_create("management");
        tcase_add_test(tc, test_get_values);
        tcase_add_test(tc, test_get_values_numbers);
        tcase_add_test(tc, test_get_values_unknown);
        tcase_add_test(tc, test_get_values_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("stream");
        tcase_add_test(tc, test_stream_empty);
        tcase_add_test(tc, test_stream_one);
        tcase_add_test(tc, test_stream_65535);
        tcase_add_test(tc, test_stream_65536);
        tcase_add_test(tc, test_stream_size);
        suite_add_tcase(s, tc);

        return s;
}

TEST_MAIN(suite)
