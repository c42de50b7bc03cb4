/* fcgi.h: FastCGI 1.0 records, name-value pairs and management replies, without any I/O */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define FCGI_VERSION_1       1
#define FCGI_HEADER_LEN      8
#define FCGI_MAX_CONTENT_LEN 65535u
/* The longest name or value length a name-value pair can carry (31 bits) */
#define FCGI_NV_MAX_LEN 0x7fffffffu

enum {
        FCGI_BEGIN_REQUEST = 1,
        FCGI_ABORT_REQUEST = 2,
        FCGI_END_REQUEST = 3,
        FCGI_PARAMS = 4,
        FCGI_STDIN = 5,
        FCGI_STDOUT = 6,
        FCGI_STDERR = 7,
        FCGI_DATA = 8,
        FCGI_GET_VALUES = 9,
        FCGI_GET_VALUES_RESULT = 10,
        FCGI_UNKNOWN_TYPE = 11,
};
enum { FCGI_RESPONDER = 1, FCGI_AUTHORIZER = 2, FCGI_FILTER = 3 };
#define FCGI_KEEP_CONN 1
enum { FCGI_REQUEST_COMPLETE = 0, FCGI_CANT_MPX_CONN = 1, FCGI_OVERLOADED = 2, FCGI_UNKNOWN_ROLE = 3 };

typedef struct FcgiRecord {
        uint8_t type;
        uint16_t request_id;
        uint16_t content_length;
        uint8_t padding_length;
        const uint8_t *content; /* points into the caller's buffer */
} FcgiRecord;

/* Takes one whole record (header, content and padding) from the front of buf.
 * Returns the bytes it spans (> 0) and fills *ret, 0 when buf holds no whole record yet,
 * -EPROTO when the version byte is not 1 (the caller closes the connection). The version is checked as
 * soon as the 8 header bytes are there, without waiting for the content. */
int fcgi_record_next(const uint8_t *buf, size_t len, FcgiRecord *ret);

/* Writes an 8-byte record header; returns the padding length that makes content+padding a multiple of 8 */
uint8_t fcgi_header_write(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t content_length);

/* BEGIN_REQUEST body: 8 bytes; -EBADMSG if content_length != 8, -EINVAL if r is not a BEGIN_REQUEST */
int fcgi_begin_request_parse(const FcgiRecord *r, uint16_t *ret_role, uint8_t *ret_flags);
/* BEGIN_REQUEST record, 16 bytes (header + body), returns 16; the web server's side, for tests and probes */
size_t fcgi_begin_request_write(uint8_t out[16], uint16_t request_id, uint16_t role, uint8_t flags);

/* END_REQUEST record, 16 bytes (header + body), returns 16 */
size_t fcgi_end_request_write(uint8_t out[16], uint16_t request_id, uint32_t app_status, uint8_t protocol_status);
/* UNKNOWN_TYPE record for an unknown management record type, 16 bytes, returns 16 */
size_t fcgi_unknown_type_write(uint8_t out[16], uint8_t type);

/* Name-value pairs (FCGI 1.0 section 3.4): lengths < 128 in 1 byte, else 4 bytes with the top bit set.
 * Reads the pair at buf[*offset]; returns 1 and advances *offset, 0 at the end of buf, -EBADMSG when the
 * pair is truncated or a length exceeds what is left (or *offset is past len). The returned pointers point
 * into buf. */
int fcgi_nv_next(const uint8_t *buf, size_t len, size_t *offset, const uint8_t **ret_name, size_t *ret_name_len,
        const uint8_t **ret_value, size_t *ret_value_len);
/* Encodes one pair; returns the bytes it needs, writes them only if they fit in size (out may be NULL with
 * size 0). Returns 0 (never a valid pair size) when a length exceeds FCGI_NV_MAX_LEN. */
size_t fcgi_nv_write(uint8_t *out, size_t size, const char *name, size_t name_len, const char *value, size_t value_len);

/* The request's PARAMS: the stream content is appended as records arrive (pairs may be split across
 * records), then parsed once the empty PARAMS record ends the stream.
 *
 * Names are unique C strings: a name is cut at its first NUL byte, and a later pair whose (cut) name equals
 * an earlier one replaces its value. Values keep any NUL bytes; value_lens holds their real lengths, and
 * every value is NUL-terminated after that length as well. Parsing leaves the names and values where they are, in
 * raw (which it changes: the stream is gone once parsed). */
/* The parameters fpmd itself reads for every request: found by index, their names not hashed again per lookup
 * (known_names in fcgi.c lists them in this order) */
typedef enum FcgiKnown {
        FCGI_KNOWN_SCRIPT_FILENAME,
        FCGI_KNOWN_SCRIPT_NAME,
        FCGI_KNOWN_PATH_INFO,
        FCGI_KNOWN_PATH_TRANSLATED,
        FCGI_KNOWN_DOCUMENT_ROOT,
        FCGI_KNOWN_REQUEST_METHOD,
        FCGI_KNOWN_REQUEST_URI,
        FCGI_KNOWN_QUERY_STRING,
        FCGI_KNOWN_CONTENT_TYPE,
        FCGI_KNOWN_CONTENT_LENGTH,
        FCGI_KNOWN_HTTP_COOKIE,
        FCGI_KNOWN_HTTP_AUTHORIZATION,
        FCGI_KNOWN_REMOTE_ADDR,
        FCGI_KNOWN_REMOTE_USER,
        FCGI_KNOWN_SERVER_NAME,
        FCGI_KNOWN_SERVER_SOFTWARE,
        FCGI_KNOWN_REDIRECT_URL,
        FCGI_KNOWN_REQUEST_BODY_FILE,
        FCGI_KNOWN_PHP_VALUE,
        FCGI_KNOWN_PHP_ADMIN_VALUE,
        _FCGI_KNOWN_MAX,
        _FCGI_KNOWN_INVALID = -EINVAL,
} FcgiKnown;

typedef struct FcgiParams {
        uint8_t *raw; /* the stream bytes, until parsed; then the names and values */
        size_t raw_len, raw_size;
        size_t max_len; /* fcgi_params_append fails with -E2BIG beyond this; set by fcgi_params_init */
        char **names;   /* NUL-terminated, n entries: in raw, or owned (set after parsing) */
        char **values;
        size_t *value_lens; /* values may contain NUL bytes: their real lengths */
        size_t *name_lens;
        uint32_t *hashes; /* of the names: a lookup compares few bytes */
        uint8_t *owned;   /* FCGI_PARAM_OWNED_*: which strings are heap copies rather than in raw or static */
        bool copied;      /* some are, since the last reset */
        size_t n, n_alloc;
        uint32_t *index;                 /* open addressing by hash: entry + 1, 0 empty; 2 * n_alloc slots */
        uint32_t known[_FCGI_KNOWN_MAX]; /* the entry of each FcgiKnown name + 1, 0: absent */
        char **retired;                  /* heap strings replaced or unset since the last reset, freed by it */
        size_t n_retired, n_retired_alloc;
} FcgiParams;

/* max_len bounds the raw stream; SIZE_MAX for no bound */
void fcgi_params_init(FcgiParams *p, size_t max_len);
int fcgi_params_append(FcgiParams *p, const uint8_t *data, size_t len); /* -E2BIG, -ENOMEM */
/* -EBADMSG on a malformed pair, -ENOMEM; on failure the pairs before the bad one stay, reset before reuse */
int fcgi_params_parse(FcgiParams *p);
/* NULL when absent. Every string a lookup gives stays valid until fcgi_params_reset(), even after its name was
 * set again or unset. */
const char *fcgi_params_get(const FcgiParams *p, const char *name);
/* Same, and the value's real length in *ret_len (untouched when absent); ret_len may be NULL */
const char *fcgi_params_get_len(const FcgiParams *p, const char *name, size_t *ret_len);
/* fcgi_params_get_len() of a known name, without a lookup */
static inline const char *fcgi_params_known_len(const FcgiParams *p, FcgiKnown k, size_t *ret_len)
{
        uint32_t e = p->known[k];

        if (e == 0)
                return NULL;
        if (ret_len)
                *ret_len = p->value_lens[e - 1];
        return p->values[e - 1];
}
static inline const char *fcgi_params_known(const FcgiParams *p, FcgiKnown k)
{
        return fcgi_params_known_len(p, k, NULL);
}
const char *fcgi_known_to_string(FcgiKnown k);
int fcgi_params_set(FcgiParams *p, const char *name, const char *value); /* add or replace; -ENOMEM */
/* Same with strings that outlive the params (literals): nothing is copied */
int fcgi_params_set_static(FcgiParams *p, const char *name, const char *value);
/* Removes a name: 1 if it was there, 0 if not */
int fcgi_params_unset(FcgiParams *p, const char *name);
/* Empty for the next request on a kept connection, keeps allocations */
void fcgi_params_reset(FcgiParams *p);
void fcgi_params_done(FcgiParams *p); /* frees everything; max_len is kept, so p can be used again */

/* GET_VALUES query content -> GET_VALUES_RESULT record (header included, padded). Known names:
 * FCGI_MAX_CONNS, FCGI_MAX_REQS (both answered with the numbers given), FCGI_MPXS_CONNS (always "0").
 * Unknown names are left out of the reply, as the spec says; a name asked twice is answered once, in the
 * order of the query. Returns bytes written, -ENOBUFS if out is too small, -EBADMSG if the query is
 * malformed. */
int fcgi_get_values_result_write(
        const uint8_t *query, size_t query_len, unsigned max_conns, unsigned max_reqs, uint8_t *out, size_t size);

/* Stream output helper: how many bytes the records for `len` bytes of a STDOUT/STDERR stream take when split
 * into records of at most FCGI_MAX_CONTENT_LEN content each, padded to 8 (used to size buffers). len 0 is
 * the 8-byte closing record. SIZE_MAX if the size does not fit in size_t. */
size_t fcgi_stream_size(size_t len);
/* Writes the records carrying data (split at 65535, padded to 8 with zero bytes) into out; returns bytes
 * written or -ENOBUFS. len 0 writes the empty record that closes a stream. type is any stream type (PARAMS,
 * STDIN, STDOUT, STDERR, DATA), else -EINVAL; -EOVERFLOW when the result would not fit in an int (write < 2
 * GiB at a time). */
int fcgi_stream_write(uint8_t *out, size_t size, uint8_t type, uint16_t request_id, const uint8_t *data, size_t len);
