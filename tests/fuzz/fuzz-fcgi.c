/* fuzz-fcgi: the FastCGI codec on any bytes. The input is read as a record stream, the way a worker reads a
 * connection: each record is checked to lie inside the buffer, BEGIN_REQUEST and GET_VALUES bodies are parsed
 * and answered, PARAMS records feed one FcgiParams that is parsed at each empty PARAMS record (then edited with
 * set/unset and reused, as a kept connection reuses it) and compared with an independent walk of its pairs.
 * Every record's content, and the whole input (also repeated, past 65535 bytes), are written back as streams and
 * must parse to the same bytes. */
#include <limits.h>

#include "fcgi.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_quiet();
        return 0;
}

/* A pair as the walk saw it: the name cut at its first NUL, as FcgiParams keeps names */
typedef struct Pair {
        const uint8_t *name, *value;
        size_t name_len, value_len;
        size_t raw_name_len; /* before the cut */
} Pair;

/* The stream's pairs in order, NULL and 0 when malformed, with *ret_valid false */
static Pair *walk_pairs(const uint8_t *buf, size_t len, size_t *ret_n, bool *ret_valid)
{
        Pair *pairs = NULL;
        size_t n = 0, offset = 0;
        int r;

        for (;;) {
                Pair p;
                size_t before = offset;

                r = fcgi_nv_next(buf, len, &offset, &p.name, &p.name_len, &p.value, &p.value_len);
                if (r <= 0)
                        break;
                FUZZ_CHECK(offset > before && offset <= len, "offset %zu -> %zu of %zu", before, offset, len);
                FUZZ_CHECK(p.name >= buf && p.name + p.name_len <= buf + len, "name outside the buffer");
                FUZZ_CHECK(p.value == p.name + p.name_len && p.value + p.value_len == buf + offset,
                        "value not right after the name");
                p.raw_name_len = p.name_len;
                p.name_len = strnlen((const char *)p.name, p.name_len);
                pairs = realloc(pairs, (n + 1) * sizeof(Pair));
                if (!pairs)
                        abort();
                pairs[n++] = p;
        }
        *ret_valid = r == 0;
        *ret_n = n;
        return pairs;
}

static bool pair_name_eq(const Pair *a, const Pair *b)
{
        return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* Each known name is found by its index as by its name */
static void check_known(const FcgiParams *p)
{
        for (int k = 0; k < _FCGI_KNOWN_MAX; k++)
                FUZZ_CHECK(fcgi_params_known(p, (FcgiKnown)k) == fcgi_params_get(p, fcgi_known_to_string((FcgiKnown)k)),
                        "%s by index and by name differ", fcgi_known_to_string((FcgiKnown)k));
}

/* What a parsed FcgiParams must hold: the last value of each name, one entry per name, in first-seen order */
static void check_params(const FcgiParams *p, const Pair *pairs, size_t n, size_t n_before)
{
        size_t unique = 0, replaced = 0;

        for (size_t i = 0; i < n; i++) {
                const Pair *last = &pairs[i];
                bool first = true;
                _cleanup_free_ char *name = NULL;
                const char *v;
                size_t len = SIZE_MAX;

                for (size_t j = 0; j < i; j++)
                        if (pair_name_eq(&pairs[j], &pairs[i]))
                                first = false;
                if (!first)
                        continue;
                unique++;
                /* A pair may replace an entry set before the stream: FCGI_ROLE */
                if (pairs[i].name_len == strlen("FCGI_ROLE") && memcmp(pairs[i].name, "FCGI_ROLE", 9) == 0)
                        replaced++;
                for (size_t j = i + 1; j < n; j++)
                        if (pair_name_eq(&pairs[j], &pairs[i]))
                                last = &pairs[j];

                name = strndup((const char *)pairs[i].name, pairs[i].name_len);
                if (!name)
                        abort();
                v = fcgi_params_get_len(p, name, &len);
                FUZZ_CHECK(v, "name '%s' not found", name);
                FUZZ_CHECK(len == last->value_len, "'%s': length %zu, sent %zu", name, len, last->value_len);
                FUZZ_CHECK(memcmp(v, last->value, len) == 0 && v[len] == 0, "'%s': value differs", name);
                FUZZ_CHECK(fcgi_params_get(p, name) == v, "get and get_len differ");
        }
        FUZZ_CHECK(p->n == n_before + unique - replaced, "%zu entries, expected %zu + %zu - %zu", p->n, n_before,
                unique, replaced);
        for (size_t i = 0; i < p->n; i++) {
                FUZZ_CHECK(strlen(p->names[i]) == p->name_lens[i], "name length of entry %zu", i);
                FUZZ_CHECK(p->values[i][p->value_lens[i]] == 0, "value of entry %zu not NUL-terminated", i);
        }
        check_known(p);
}

/* set, set again, unset and get on a parsed FcgiParams, as pathinfo.c and php.c edit them */
static void edit_params(FcgiParams *p, Input *in)
{
        _cleanup_free_ char *name = NULL, *value = NULL;
        size_t n_before = p->n;
        const char *v;
        bool existed;

        name = input_until(in, 0, NULL);
        value = input_until(in, 0, NULL);
        existed = fcgi_params_get(p, name) != NULL;

        FUZZ_CHECK(fcgi_params_set(p, name, value) == 0, "set failed");
        v = fcgi_params_get(p, name);
        FUZZ_CHECK(v && streq(v, value), "set '%s' did not take", name);
        FUZZ_CHECK(p->n == n_before + !existed, "set changed the count wrongly");

        FUZZ_CHECK(fcgi_params_set_static(p, name, "static") == 0, "set_static failed");
        FUZZ_CHECK(streq(fcgi_params_get(p, name), "static"), "set_static did not take");

        /* Every other entry stays findable after an unset moves the entries behind it */
        FUZZ_CHECK(fcgi_params_unset(p, name) == 1, "unset of a present name");
        FUZZ_CHECK(!fcgi_params_get(p, name), "unset name still found");
        FUZZ_CHECK(fcgi_params_unset(p, name) == 0, "second unset found it");
        for (size_t i = 0; i < p->n; i++) {
                size_t len;
                const char *w = fcgi_params_get_len(p, p->names[i], &len);

                FUZZ_CHECK(w == p->values[i] && len == p->value_lens[i], "entry %zu lost after unset", i);
        }
        check_known(p);
        if (existed)
                FUZZ_CHECK(p->n == n_before - 1, "count after unset");
}

/* A stream written from data parses back into records of that type and id carrying exactly data */
static void check_stream(const uint8_t *data, size_t len, uint8_t type, uint16_t id)
{
        size_t size = fcgi_stream_size(len), off = 0, got = 0;
        _cleanup_free_ uint8_t *out = NULL;
        int k;

        FUZZ_CHECK(size != SIZE_MAX && size >= len + FCGI_HEADER_LEN && size % 8 == 0, "stream size %zu", size);
        out = malloc(size);
        if (!out)
                abort();
        if (size > 0)
                FUZZ_CHECK(fcgi_stream_write(out, size - 1, type, id, data, len) == -ENOBUFS, "short buffer");
        k = fcgi_stream_write(out, size, type, id, data, len);
        FUZZ_CHECK(k >= 0 && (size_t)k == size, "stream_write returned %d for %zu", k, size);

        while (off < size) {
                FcgiRecord rec;
                int r = fcgi_record_next(out + off, size - off, &rec);

                FUZZ_CHECK(r > 0, "written stream does not parse at %zu: %d", off, r);
                FUZZ_CHECK(rec.type == type && rec.request_id == id, "record type or id changed");
                FUZZ_CHECK(rec.padding_length < 8 && (rec.content_length + rec.padding_length) % 8 == 0,
                        "padding %u for %u", rec.padding_length, rec.content_length);
                FUZZ_CHECK(got + rec.content_length <= len && memcmp(rec.content, data + got, rec.content_length) == 0,
                        "content differs at %zu", got);
                for (unsigned i = 0; i < rec.padding_length; i++)
                        FUZZ_CHECK(rec.content[rec.content_length + i] == 0, "padding not zero");
                got += rec.content_length;
                off += (size_t)r;
                /* A record of fewer than 65535 bytes ends the data, or is the empty record of len 0 */
                FUZZ_CHECK(rec.content_length == FCGI_MAX_CONTENT_LEN || off == size, "short record inside");
        }
        FUZZ_CHECK(got == len, "stream carried %zu of %zu bytes", got, len);
}

/* The answer to a GET_VALUES query: one GET_VALUES_RESULT record holding known names only, each once */
static void check_get_values(const uint8_t *query, size_t len, unsigned conns, unsigned reqs, size_t size)
{
        static const char *const known[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
        uint8_t *out = malloc(size > 0 ? size : 1), big[4096];
        _cleanup_free_ Pair *pairs = NULL, *query_pairs = NULL;
        size_t n, nq;
        bool valid, query_valid;
        FcgiRecord rec;
        int k, r;

        if (!out)
                abort();
        query_pairs = walk_pairs(query, len, &nq, &query_valid);
        k = fcgi_get_values_result_write(query, len, conns, reqs, out, size);
        free(out);
        FUZZ_CHECK(k > 0 || k == -ENOBUFS || k == -EBADMSG, "get_values returned %d", k);
        FUZZ_CHECK((k == -EBADMSG) == !query_valid, "malformed query judged differently");
        if (k == -EBADMSG)
                return;
        k = fcgi_get_values_result_write(query, len, conns, reqs, big, sizeof(big));
        FUZZ_CHECK(k > 0, "get_values into %zu bytes returned %d", sizeof(big), k);

        r = fcgi_record_next(big, (size_t)k, &rec);
        FUZZ_CHECK(r == k, "reply is not one record: %d of %d", r, k);
        FUZZ_CHECK(rec.type == FCGI_GET_VALUES_RESULT && rec.request_id == 0, "reply type or id");
        pairs = walk_pairs(rec.content, rec.content_length, &n, &valid);
        FUZZ_CHECK(valid && n <= 3, "reply pairs: valid %d, %zu", valid, n);
        bool answered[ELEMENTSOF(known)] = {};
        for (size_t i = 0; i < n; i++) {
                char expect[16];
                bool asked = false;
                size_t which = ELEMENTSOF(known);

                for (size_t j = 0; j < ELEMENTSOF(known); j++)
                        if (pairs[i].name_len == strlen(known[j]) &&
                                memcmp(pairs[i].name, known[j], strlen(known[j])) == 0)
                                which = j;
                FUZZ_CHECK(which < ELEMENTSOF(known), "unknown name answered");
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(!pair_name_eq(&pairs[i], &pairs[j]), "%s answered twice", known[which]);
                for (size_t j = 0; j < nq; j++)
                        if (pair_name_eq(&pairs[i], &query_pairs[j]) &&
                                query_pairs[j].raw_name_len == pairs[i].name_len)
                                asked = true;
                FUZZ_CHECK(asked, "%s answered but not asked", known[which]);
                answered[which] = true;
                snprintf(expect, sizeof(expect), "%u", which == 0 ? conns : which == 1 ? reqs : 0);
                FUZZ_CHECK(pairs[i].value_len == strlen(expect) && memcmp(pairs[i].value, expect, strlen(expect)) == 0,
                        "%s has the wrong value", known[which]);
        }
        /* Every known name asked (whole, NULs and all) is answered */
        for (size_t j = 0; j < nq; j++)
                for (size_t w = 0; w < ELEMENTSOF(known); w++)
                        if (query_pairs[j].raw_name_len == strlen(known[w]) &&
                                memcmp(query_pairs[j].name, known[w], strlen(known[w])) == 0)
                                FUZZ_CHECK(answered[w], "%s asked but not answered", known[w]);
}

/* Each pair re-encoded decodes to itself, in exactly the bytes fcgi_nv_write() announced */
static void check_nv_round_trip(const Pair *pairs, size_t n)
{
        for (size_t i = 0; i < n && i < 16; i++) {
                size_t need = fcgi_nv_write(NULL, 0, (const char *)pairs[i].name, pairs[i].name_len,
                        (const char *)pairs[i].value, pairs[i].value_len);
                _cleanup_free_ uint8_t *buf = malloc(need);
                const uint8_t *name, *value;
                size_t off = 0, name_len, value_len;

                if (!buf)
                        abort();
                FUZZ_CHECK(need == (pairs[i].name_len < 128 ? 1 : 4) + (pairs[i].value_len < 128 ? 1 : 4) +
                                           pairs[i].name_len + pairs[i].value_len,
                        "nv size %zu", need);
                FUZZ_CHECK(fcgi_nv_write(buf, need, (const char *)pairs[i].name, pairs[i].name_len,
                                   (const char *)pairs[i].value, pairs[i].value_len) == need,
                        "nv_write");
                FUZZ_CHECK(fcgi_nv_next(buf, need, &off, &name, &name_len, &value, &value_len) == 1 && off == need,
                        "re-encoded pair does not decode");
                FUZZ_CHECK(name_len == pairs[i].name_len && memcmp(name, pairs[i].name, name_len) == 0 &&
                                   value_len == pairs[i].value_len && memcmp(value, pairs[i].value, value_len) == 0,
                        "re-encoded pair differs");
                FUZZ_CHECK(fcgi_nv_next(buf, need, &off, &name, &name_len, &value, &value_len) == 0, "end");
        }
}

/* The PARAMS stream so far is complete: parse it and compare with the walk */
static void params_end(FcgiParams *p, Input *edits)
{
        _cleanup_free_ Pair *pairs = NULL;
        _cleanup_free_ uint8_t *raw = NULL;
        size_t n, n_before = p->n, raw_len = p->raw_len;
        bool valid;
        int r;

        /* The walk reads a copy: parsing may not touch raw, but the check should not rely on it */
        raw = malloc(raw_len + 1);
        if (!raw)
                abort();
        if (raw_len > 0)
                memcpy(raw, p->raw, raw_len);
        pairs = walk_pairs(raw, raw_len, &n, &valid);
        r = fcgi_params_parse(p);
        FUZZ_CHECK(r == (valid ? 0 : -EBADMSG), "parse returned %d, walk says valid %d", r, valid);
        if (r == 0) {
                check_params(p, pairs, n, n_before);
                check_nv_round_trip(pairs, n);
                edit_params(p, edits);
        }
        fcgi_params_reset(p);
        FUZZ_CHECK(p->n == 0 && p->raw_len == 0 && !fcgi_params_get(p, "FCGI_ROLE"), "reset left entries");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Input edits = {data, size};
        FcgiParams params;
        size_t off = 0;

        /* A small bound on the PARAMS stream, as request.c sets one, so that -E2BIG is reached too */
        fcgi_params_init(&params, size > 0 ? 64u + data[0] * 64u : SIZE_MAX);
        /* Like request.c: a static entry before the pairs */
        FUZZ_CHECK(fcgi_params_set_static(&params, "FCGI_ROLE", "RESPONDER") == 0, "set_static");

        while (off < size) {
                FcgiRecord rec;
                int k = fcgi_record_next(data + off, size - off, &rec);

                if (k == 0) {
                        FUZZ_CHECK(size - off < FCGI_HEADER_LEN ||
                                           size - off < FCGI_HEADER_LEN + ((size_t)data[off + 4] << 8 | data[off + 5]) +
                                                                data[off + 6],
                                "a whole record left unparsed at %zu", off);
                        break;
                }
                if (k < 0) {
                        FUZZ_CHECK(k == -EPROTO && data[off] != FCGI_VERSION_1, "record_next returned %d", k);
                        break;
                }
                FUZZ_CHECK((size_t)k == FCGI_HEADER_LEN + rec.content_length + rec.padding_length &&
                                   (size_t)k <= size - off,
                        "record of %d bytes at %zu", k, off);
                FUZZ_CHECK(rec.content == data + off + FCGI_HEADER_LEN &&
                                   rec.content + rec.content_length + rec.padding_length <= data + size,
                        "content outside the buffer");

                switch (rec.type) {
                case FCGI_BEGIN_REQUEST: {
                        uint16_t role = 0;
                        uint8_t flags = 0;
                        int r = fcgi_begin_request_parse(&rec, &role, &flags);

                        FUZZ_CHECK(r == (rec.content_length == 8 ? 0 : -EBADMSG), "begin_request_parse %d", r);
                        if (r == 0)
                                FUZZ_CHECK(role == (rec.content[0] << 8 | rec.content[1]) && flags == rec.content[2],
                                        "role or flags");
                        break;
                }
                case FCGI_GET_VALUES:
                        check_get_values(rec.content, rec.content_length, rec.request_id, rec.padding_length * 1000u,
                                rec.request_id % 64);
                        break;
                case FCGI_PARAMS:
                        if (rec.content_length == 0) {
                                params_end(&params, &edits);
                                FUZZ_CHECK(fcgi_params_set_static(&params, "FCGI_ROLE", "RESPONDER") == 0, "set");
                        } else {
                                size_t before = params.raw_len;
                                int r = fcgi_params_append(&params, rec.content, rec.content_length);

                                FUZZ_CHECK(r == 0 || r == -E2BIG, "append returned %d", r);
                                FUZZ_CHECK(r < 0 || params.raw_len == before + rec.content_length, "append length");
                                FUZZ_CHECK(r == 0 || params.raw_len == before, "failed append changed raw");
                                FUZZ_CHECK(params.raw_len <= params.max_len, "raw beyond max_len");
                        }
                        break;
                default:
                        break;
                }
                if (rec.type <= FCGI_DATA + 3)
                        check_stream(rec.content, rec.content_length,
                                (const uint8_t[]){
                                        FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR, FCGI_DATA}[rec.type % 5],
                                rec.request_id);
                off += (size_t)k;
        }

        /* The whole input as one stream, and repeated as often as its last byte says (up to about two records
         * of 65535 bytes): long streams without long inputs, which would slow every run */
        check_stream(data, size, FCGI_STDOUT, 1);
        if (size > 0 && data[size - 1] > 1) {
                size_t times = MIN((size_t)data[size - 1], 1 + 140000 / size), len = size * times;
                _cleanup_free_ uint8_t *big = malloc(len);

                if (!big)
                        abort();
                for (size_t i = 0; i < times; i++)
                        memcpy(big + i * size, data, size);
                check_stream(big, len, FCGI_STDERR, 0xffff);
        }
        {
                uint8_t out[64];
                FUZZ_CHECK(fcgi_stream_write(out, sizeof(out), FCGI_BEGIN_REQUEST, 1, data, 0) == -EINVAL,
                        "a non-stream type");
        }
        fcgi_params_done(&params);
        return 0;
}
