/* fcgi: FastCGI 1.0 wire format, encoded and decoded in memory */
#include <limits.h>
#include <stdio.h>

#include "fcgi.h"

/* Record body length of BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE (FCGI 1.0 sections 5.1, 5.5, 4.2) */
#define FCGI_BODY_LEN 8

static uint16_t get_be16(const uint8_t *p)
{
        return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint8_t padding_for(size_t content_length)
{
        return (uint8_t)((8 - content_length % 8) % 8);
}

int fcgi_record_next(const uint8_t *buf, size_t len, FcgiRecord *ret)
{
        uint16_t content_length;
        uint8_t padding_length;
        size_t total;

        if (len < FCGI_HEADER_LEN)
                return 0;

        /* Nothing after a bad version byte can be framed, so the stream is lost */
        if (buf[0] != FCGI_VERSION_1)
                return -EPROTO;

        content_length = get_be16(buf + 4);
        padding_length = buf[6];
        /* At most 8 + 65535 + 255: no overflow, and it fits in the int we return */
        total = FCGI_HEADER_LEN + (size_t)content_length + padding_length;
        if (len < total)
                return 0;

        *ret = (FcgiRecord){
                .type = buf[1],
                .request_id = get_be16(buf + 2),
                .content_length = content_length,
                .padding_length = padding_length,
                .content = buf + FCGI_HEADER_LEN,
        };
        return (int)total;
}

uint8_t fcgi_header_write(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t content_length)
{
        uint8_t padding = padding_for(content_length);

        out[0] = FCGI_VERSION_1;
        out[1] = type;
        put_be16(out + 2, request_id);
        put_be16(out + 4, content_length);
        out[6] = padding;
        out[7] = 0;
        return padding;
}

int fcgi_begin_request_parse(const FcgiRecord *r, uint16_t *ret_role, uint8_t *ret_flags)
{
        if (r->type != FCGI_BEGIN_REQUEST)
                return -EINVAL;
        if (r->content_length != FCGI_BODY_LEN)
                return -EBADMSG;

        if (ret_role)
                *ret_role = get_be16(r->content);
        if (ret_flags)
                *ret_flags = r->content[2];
        return 0;
}

/* Header plus an 8-byte body, zeroed so that the reserved bytes the caller does not fill are 0 */
static size_t fixed_record_write(uint8_t out[16], uint8_t type, uint16_t request_id)
{
        fcgi_header_write(out, type, request_id, FCGI_BODY_LEN);
        memset(out + FCGI_HEADER_LEN, 0, FCGI_BODY_LEN);
        return FCGI_HEADER_LEN + FCGI_BODY_LEN;
}

size_t fcgi_begin_request_write(uint8_t out[16], uint16_t request_id, uint16_t role, uint8_t flags)
{
        size_t n = fixed_record_write(out, FCGI_BEGIN_REQUEST, request_id);

        put_be16(out + FCGI_HEADER_LEN, role);
        out[FCGI_HEADER_LEN + 2] = flags;
        return n;
}

size_t fcgi_end_request_write(uint8_t out[16], uint16_t request_id, uint32_t app_status, uint8_t protocol_status)
{
        size_t n = fixed_record_write(out, FCGI_END_REQUEST, request_id);

        put_be32(out + FCGI_HEADER_LEN, app_status);
        out[FCGI_HEADER_LEN + 4] = protocol_status;
        return n;
}

size_t fcgi_unknown_type_write(uint8_t out[16], uint8_t type)
{
        /* Management records travel on request id 0 (FCGI 1.0 section 3.3) */
        size_t n = fixed_record_write(out, FCGI_UNKNOWN_TYPE, 0);

        out[FCGI_HEADER_LEN] = type;
        return n;
}

/* One length of a pair at buf[*offset]: 1 byte below 128, else 4 bytes with the top bit as the marker */
static _always_inline_ int nv_length_read(const uint8_t *buf, size_t len, size_t *offset, size_t *ret)
{
        size_t o = *offset;

        if (o >= len)
                return -EBADMSG;
        if (!(buf[o] & 0x80)) {
                *ret = buf[o];
                *offset = o + 1;
                return 0;
        }
        if (len - o < 4)
                return -EBADMSG;
        *ret = get_be32(buf + o) & FCGI_NV_MAX_LEN;
        *offset = o + 4;
        return 0;
}

int fcgi_nv_next(const uint8_t *buf, size_t len, size_t *offset, const uint8_t **ret_name, size_t *ret_name_len,
        const uint8_t **ret_value, size_t *ret_value_len)
{
        size_t o = *offset, name_len, value_len;
        int r;

        if (o == len)
                return 0;
        if (o > len)
                return -EBADMSG;

        r = nv_length_read(buf, len, &o, &name_len);
        if (r < 0)
                return r;
        r = nv_length_read(buf, len, &o, &value_len);
        if (r < 0)
                return r;

        /* Compare against what is left rather than adding the lengths, which could wrap on 32-bit */
        if (name_len > len - o || value_len > len - o - name_len)
                return -EBADMSG;

        if (ret_name)
                *ret_name = buf + o;
        if (ret_name_len)
                *ret_name_len = name_len;
        if (ret_value)
                *ret_value = buf + o + name_len;
        if (ret_value_len)
                *ret_value_len = value_len;
        *offset = o + name_len + value_len;
        return 1;
}

static size_t nv_length_size(size_t n)
{
        return n < 128 ? 1 : 4;
}

static uint8_t *nv_length_put(uint8_t *p, size_t n)
{
        if (n < 128) {
                *p = (uint8_t)n;
                return p + 1;
        }
        put_be32(p, (uint32_t)n | 0x80000000u);
        return p + 4;
}

size_t fcgi_nv_write(uint8_t *out, size_t size, const char *name, size_t name_len, const char *value, size_t value_len)
{
        size_t need;
        uint8_t *p;

        if (name_len > FCGI_NV_MAX_LEN || value_len > FCGI_NV_MAX_LEN)
                return 0;
        if (__builtin_add_overflow(nv_length_size(name_len) + nv_length_size(value_len), name_len, &need) ||
                __builtin_add_overflow(need, value_len, &need))
                return 0;

        if (need > size)
                return need;

        p = nv_length_put(out, name_len);
        p = nv_length_put(p, value_len);
        /* memcpy() with a NULL pointer is undefined even for 0 bytes */
        if (name_len > 0)
                memcpy(p, name, name_len);
        if (value_len > 0)
                memcpy(p + name_len, value, value_len);
        return need;
}

int fcgi_params_append(FcgiParams *p, const uint8_t *data, size_t len)
{
        if (len == 0)
                return 0;
        /* raw_len never exceeds max_len, so the subtraction cannot wrap */
        if (len > p->max_len - p->raw_len)
                return -E2BIG;

        if (p->raw_len + len > p->raw_size) {
                size_t want = p->raw_len + len, grow;
                uint8_t *n;

                /* Double to keep appends amortized, but never past max_len: that memory could not be used */
                if (__builtin_mul_overflow(p->raw_size, 2, &grow))
                        grow = SIZE_MAX;
                want = MAX(want, MIN(MAX(grow, (size_t)256), p->max_len));

                n = realloc(p->raw, want);
                if (!n)
                        return -ENOMEM;
                p->raw = n;
                p->raw_size = want;
        }

        memcpy(p->raw + p->raw_len, data, len);
        p->raw_len += len;
        return 0;
}

/* Index of the entry whose name is the len bytes at name (no NUL among them), or -1 */
enum {
        FCGI_PARAM_OWNED_NAME = 1 << 0,
        FCGI_PARAM_OWNED_VALUE = 1 << 1,
};

/* CGI names differ in length or in their first or last eight bytes ("HTTP_ACCEPT" / "HTTP_ACCEPT_LANGUAGE",
 * "SCRIPT_NAME" / "SCRIPT_FILENAME"): mixing just those is enough to index them, and costs a few instructions
 * where hashing every byte costs one per byte. A collision only means a memcmp() more. */
static void name_words(const char *name, size_t len, uint64_t *ret_head, uint64_t *ret_tail)
{
        uint64_t head = 0, tail = 0;

        /* Fixed-size copies are single loads; a copy of a variable size would be a call to memcpy() (most names
         * of a request, HTTP_* and the CGI ones, are 8 bytes or longer) */
        if (len >= sizeof(head)) {
                memcpy(&head, name, sizeof(head));
                memcpy(&tail, name + len - sizeof(tail), sizeof(tail));
        } else
                for (size_t i = 0; i < len; i++)
                        head |= (uint64_t)(uint8_t)name[i] << (8 * i);
        *ret_head = head;
        *ret_tail = tail;
}

static _always_inline_ uint32_t words_hash(uint64_t head, uint64_t tail, size_t len)
{
        uint64_t h = (head * 0x9e3779b97f4a7c15ULL) ^ (tail * 0xc2b2ae3d27d4eb4fULL) ^ ((uint64_t)len << 32);

        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        return (uint32_t)(h >> 32);
}

static uint32_t name_hash(const char *name, size_t len)
{
        uint64_t head, tail;

        name_words(name, len, &head, &tail);
        return words_hash(head, tail, len);
}

static const char *const known_names[_FCGI_KNOWN_MAX] = {
        [FCGI_KNOWN_SCRIPT_FILENAME] = "SCRIPT_FILENAME",
        [FCGI_KNOWN_SCRIPT_NAME] = "SCRIPT_NAME",
        [FCGI_KNOWN_PATH_INFO] = "PATH_INFO",
        [FCGI_KNOWN_PATH_TRANSLATED] = "PATH_TRANSLATED",
        [FCGI_KNOWN_DOCUMENT_ROOT] = "DOCUMENT_ROOT",
        [FCGI_KNOWN_REQUEST_METHOD] = "REQUEST_METHOD",
        [FCGI_KNOWN_REQUEST_URI] = "REQUEST_URI",
        [FCGI_KNOWN_QUERY_STRING] = "QUERY_STRING",
        [FCGI_KNOWN_CONTENT_TYPE] = "CONTENT_TYPE",
        [FCGI_KNOWN_CONTENT_LENGTH] = "CONTENT_LENGTH",
        [FCGI_KNOWN_HTTP_COOKIE] = "HTTP_COOKIE",
        [FCGI_KNOWN_HTTP_AUTHORIZATION] = "HTTP_AUTHORIZATION",
        [FCGI_KNOWN_REMOTE_ADDR] = "REMOTE_ADDR",
        [FCGI_KNOWN_REMOTE_USER] = "REMOTE_USER",
        [FCGI_KNOWN_SERVER_NAME] = "SERVER_NAME",
        [FCGI_KNOWN_SERVER_SOFTWARE] = "SERVER_SOFTWARE",
        [FCGI_KNOWN_REDIRECT_URL] = "REDIRECT_URL",
        [FCGI_KNOWN_REQUEST_BODY_FILE] = "REQUEST_BODY_FILE",
        [FCGI_KNOWN_PHP_VALUE] = "PHP_VALUE",
        [FCGI_KNOWN_PHP_ADMIN_VALUE] = "PHP_ADMIN_VALUE",
};

DEFINE_STRING_TABLE_TO(fcgi_known, FcgiKnown, known_names)

/* The known names by their hash, built once: a new parameter finds out in a probe or two whether it is one */
#define KNOWN_SLOTS 64
static struct {
        bool built;
        uint8_t slots[KNOWN_SLOTS]; /* FcgiKnown + 1, 0: empty */
        uint32_t hashes[_FCGI_KNOWN_MAX];
        uint8_t lens[_FCGI_KNOWN_MAX];
        uint64_t heads[_FCGI_KNOWN_MAX], tails[_FCGI_KNOWN_MAX]; /* the words name_hash() mixes */
} known;

/* The index of a request's params takes the hash's low bits: these take its high ones, where today's 20 names
 * happen to fall in 20 slots, so most names are found, or found not to be known, in one probe */
static size_t known_slot(uint32_t hash)
{
        return (hash >> 24) % KNOWN_SLOTS;
}

static void known_build(void)
{
        if (known.built)
                return;
        for (int k = 0; k < _FCGI_KNOWN_MAX; k++) {
                size_t len = strlen(known_names[k]), s;

                known.lens[k] = (uint8_t)len;
                known.hashes[k] = name_hash(known_names[k], len);
                name_words(known_names[k], len, &known.heads[k], &known.tails[k]);
                for (s = known_slot(known.hashes[k]); known.slots[s] != 0; s = (s + 1) % KNOWN_SLOTS)
                        ;
                known.slots[s] = (uint8_t)(k + 1);
        }
        known.built = true;
}

static _always_inline_ uint64_t load64(const void *p)
{
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

static _always_inline_ uint32_t load32(const void *p)
{
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

/* memcmp() == 0 of two names whose hashes and lengths are equal: most are 8 to 16 bytes, two words each */
static _always_inline_ bool names_equal(const char *a, const char *b, size_t len)
{
        if (len >= 8 && len <= 16)
                return load64(a) == load64(b) && load64(a + len - 8) == load64(b + len - 8);
        return memcmp(a, b, len) == 0;
}

/* The known name of that length, hash and words (name_words()), or -1: compared in registers. known_build()
 * first. */
static _always_inline_ int known_find_words(const char *name, size_t len, uint32_t hash, uint64_t head, uint64_t tail)
{
        for (size_t s = known_slot(hash); known.slots[s] != 0; s = (s + 1) % KNOWN_SLOTS) {
                int k = known.slots[s] - 1;

                if (known.hashes[k] == hash && known.lens[k] == len && known.heads[k] == head &&
                        known.tails[k] == tail && (len <= 16 || memcmp(known_names[k] + 8, name + 8, len - 16) == 0))
                        return k;
        }
        return -1;
}

void fcgi_params_init(FcgiParams *p, size_t max_len)
{
        *p = (FcgiParams){.max_len = max_len};
}

/* The index has twice as many slots as entries can be, a power of two: a probe ends at an empty slot soon */
static size_t index_slots(const FcgiParams *p)
{
        return p->n_alloc * 2;
}

/* The entry of that name, or -1 and the empty slot its probe ended at, where a new entry of that name goes: one
 * walk for a parameter that is not there yet, not two. The index has twice as many slots as entries can be, so
 * there is always an empty one, once allocated (n_alloc > 0). */
static _always_inline_ ssize_t params_find_slot(
        const FcgiParams *p, const char *name, size_t len, uint32_t hash, size_t *ret_slot)
{
        size_t mask = index_slots(p) - 1;

        for (size_t s = hash & mask;; s = (s + 1) & mask) {
                uint32_t e = p->index[s];

                if (e == 0) {
                        *ret_slot = s;
                        return -1;
                }
                e--;
                if (p->hashes[e] == hash && p->name_lens[e] == len && names_equal(p->names[e], name, len))
                        return (ssize_t)e;
        }
}

static ssize_t params_find(const FcgiParams *p, const char *name, size_t len, uint32_t hash)
{
        size_t slot;

        return p->n_alloc == 0 ? -1 : params_find_slot(p, name, len, hash, &slot);
}

static void index_insert(FcgiParams *p, size_t entry)
{
        size_t mask = index_slots(p) - 1, s;

        for (s = p->hashes[entry] & mask; p->index[s] != 0; s = (s + 1) & mask)
                ;
        p->index[s] = (uint32_t)entry + 1;
}

static void index_rebuild(FcgiParams *p)
{
        memset(p->index, 0, index_slots(p) * sizeof(uint32_t));
        for (size_t i = 0; i < p->n; i++)
                index_insert(p, i);
}

static char *memdup_nul(const void *data, size_t len)
{
        char *s;

        if (len == SIZE_MAX)
                return NULL;
        s = malloc(len + 1);
        if (!s)
                return NULL;
        if (len > 0)
                memcpy(s, data, len);
        s[len] = '\0';
        return s;
}

static int params_grow(FcgiParams *p)
{
        size_t na = p->n_alloc == 0 ? 32 : p->n_alloc * 2;
        void *q;

        if (na > SIZE_MAX / sizeof(size_t))
                return -ENOMEM;
        /* If a later realloc() fails, the earlier arrays are merely larger than n_alloc */
        if (!(q = realloc(p->names, na * sizeof(char *))))
                return -ENOMEM;
        p->names = q;
        if (!(q = realloc(p->values, na * sizeof(char *))))
                return -ENOMEM;
        p->values = q;
        if (!(q = realloc(p->value_lens, na * sizeof(size_t))))
                return -ENOMEM;
        p->value_lens = q;
        if (!(q = realloc(p->name_lens, na * sizeof(size_t))))
                return -ENOMEM;
        p->name_lens = q;
        if (!(q = realloc(p->hashes, na * sizeof(uint32_t))))
                return -ENOMEM;
        p->hashes = q;
        if (!(q = realloc(p->owned, na)))
                return -ENOMEM;
        p->owned = q;
        if (!(q = realloc(p->index, 2 * na * sizeof(uint32_t))))
                return -ENOMEM;
        p->index = q;
        p->n_alloc = na;
        index_rebuild(p);
        return 0;
}

/* A heap string the params no longer hold is freed at the next reset, not now: whatever a lookup gave stays
 * valid until then (the path resolver keeps the web server's values while it replaces them). Without memory
 * for the list it is left allocated rather than freed under a reader. */
static void params_retire(FcgiParams *p, char *s)
{
        if (p->n_retired == p->n_retired_alloc) {
                size_t na = p->n_retired_alloc == 0 ? 8 : p->n_retired_alloc * 2;
                char **q = realloc(p->retired, na * sizeof(char *));

                if (!q)
                        return;
                p->retired = q;
                p->n_retired_alloc = na;
        }
        p->retired[p->n_retired++] = s;
}

static void params_free_value(FcgiParams *p, size_t i)
{
        if (p->owned[i] & FCGI_PARAM_OWNED_VALUE)
                params_retire(p, p->values[i]);
}

/* Entry i (from params_find_slot()) takes the value, or with i < 0 a new entry in slot takes name and value;
 * owned: which of the strings given are heap copies (FCGI_PARAM_OWNED_*). The one place an entry is written:
 * parsing and set() share it. known_build() first. */
static _always_inline_ void params_store(FcgiParams *p, ssize_t i, size_t slot, char *name, size_t name_len,
        uint32_t hash, uint64_t head, uint64_t tail, char *value, size_t value_len, uint8_t owned)
{
        int k;

        p->copied = p->copied || owned != 0;
        if (i >= 0) {
                params_free_value(p, (size_t)i);
                p->values[i] = value;
                p->value_lens[i] = value_len;
                p->owned[i] = (uint8_t)((p->owned[i] & ~FCGI_PARAM_OWNED_VALUE) | (owned & FCGI_PARAM_OWNED_VALUE));
                return;
        }
        i = (ssize_t)p->n; /* read once: the byte stores below may alias p */
        p->names[i] = name;
        p->values[i] = value;
        p->value_lens[i] = value_len;
        p->name_lens[i] = name_len;
        p->hashes[i] = hash;
        p->index[slot] = (uint32_t)i + 1;
        k = known_find_words(name, name_len, hash, head, tail);
        if (k >= 0)
                p->known[k] = (uint32_t)i + 1;
        p->n = (size_t)i + 1;
        p->owned[i] = owned;
}

/* Room for one more entry before a params_find_slot() (a name already there then grew the arrays a step early):
 * 0 or -ENOMEM */
static _always_inline_ int params_reserve(FcgiParams *p)
{
        return _likely_(p->n < p->n_alloc) ? 0 : params_grow(p);
}

/* Adds or replaces. name and value are either NUL-terminated strings that outlive the params (borrowed), or
 * copied to the heap. name is a C string of name_len bytes (set and set_static take its strlen()). */
static int params_put(
        FcgiParams *p, const char *name, size_t name_len, const char *value, size_t value_len, bool borrowed)
{
        _cleanup_free_ char *v = NULL, *k = NULL;
        uint64_t head, tail;
        uint32_t hash;
        size_t slot = SIZE_MAX; /* set when the name is not there */
        ssize_t i;
        int r;

        name_words(name, name_len, &head, &tail);
        hash = words_hash(head, tail, name_len);
        r = params_reserve(p);
        if (r < 0)
                return r;
        i = params_find_slot(p, name, name_len, hash, &slot);
        if (borrowed) {
                known_build();
                params_store(p, i, slot, (char *)name, name_len, hash, head, tail, (char *)value, value_len, 0);
                return 0;
        }
        v = memdup_nul(value, value_len);
        if (!v)
                return -ENOMEM;
        if (i < 0) {
                k = memdup_nul(name, name_len);
                if (!k)
                        return -ENOMEM;
        }
        known_build();
        params_store(p, i, slot, k ? TAKE_PTR(k) : (char *)name, name_len, hash, head, tail, TAKE_PTR(v), value_len,
                i >= 0 ? FCGI_PARAM_OWNED_VALUE : FCGI_PARAM_OWNED_NAME | FCGI_PARAM_OWNED_VALUE);
        return 0;
}

/* Eight bytes of which some are zero */
static _always_inline_ bool has_zero_byte(uint64_t v)
{
        return ((v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL) != 0;
}

/* name_hash() of the len bytes at src, which it moves to dst (dst < src, the two may overlap): a short name is read
 * once, into the words the hash mixes anyway. *ret_nul: whether a NUL byte may be among them (a name cut there
 * needs its hash again). */
static _always_inline_ uint32_t name_move_hash(
        uint8_t *dst, const uint8_t *src, size_t len, bool *ret_nul, uint64_t *ret_head, uint64_t *ret_tail)
{
        uint64_t head = 0, tail = 0;

        if (len >= 8 && len <= 16) {
                head = load64(src);
                tail = load64(src + len - 8);
                memcpy(dst, &head, 8);
                memcpy(dst + len - 8, &tail, 8);
                *ret_nul = has_zero_byte(head) || has_zero_byte(tail);
        } else if (len > 16) {
                memmove(dst, src, len);
                head = load64(dst);
                tail = load64(dst + len - 8);
                *ret_nul = memchr(dst, 0, len) != NULL;
        } else if (len >= 4) {
                uint32_t lo = load32(src), hi = load32(src + len - 4);

                memcpy(dst, &lo, 4);
                memcpy(dst + len - 4, &hi, 4);
                /* The bytes the two words share are the same: or-ing them places every byte once */
                head = (uint64_t)lo | ((uint64_t)hi << (8 * (len - 4)));
                *ret_nul = has_zero_byte(head | (~0ULL << (8 * len)));
        } else {
                *ret_nul = false;
                for (size_t i = 0; i < len; i++) {
                        dst[i] = src[i];
                        head |= (uint64_t)src[i] << (8 * i);
                        *ret_nul |= src[i] == 0;
                }
        }
        *ret_head = head;
        *ret_tail = tail;
        return words_hash(head, tail, len);
}

/* The pairs are parsed where they are, in raw: each name moves one byte past the start of its pair's lengths
 * (they take two bytes or more), which leaves room for its NUL, and the first length byte of the next pair, read
 * by then, takes the NUL of the value before it (raw has a byte more for the last). No copy of the values, no
 * memory of its own. */
int fcgi_params_parse(FcgiParams *p)
{
        uint8_t *raw, *pending_nul = NULL;
        size_t o = 0, len = p->raw_len;
        int r = 0;

        if (p->raw_size < len + 1) {
                uint8_t *grown = realloc(p->raw, len + 1);

                if (!grown)
                        return -ENOMEM;
                p->raw = grown;
                p->raw_size = len + 1;
        }
        raw = p->raw;
        known_build();

        while (o < len) {
                size_t start = o, name_len, name_size, value_len, slot;
                uint8_t *name, *value;
                uint64_t head, tail;
                uint32_t hash;
                ssize_t i;
                bool nul;

                /* Both lengths below 128, one byte each: most pairs */
                if (_likely_(len - o >= 2 && !((raw[o] | raw[o + 1]) & 0x80))) {
                        name_len = raw[o];
                        value_len = raw[o + 1];
                        o += 2;
                        r = 0;
                } else {
                        r = nv_length_read(raw, len, &o, &name_len);
                        if (r >= 0)
                                r = nv_length_read(raw, len, &o, &value_len);
                }
                /* Each length is below 2^31: their sum cannot wrap */
                if (r >= 0 && name_len + value_len > len - o)
                        r = -EBADMSG;
                /* The lengths are read: their first byte is free for the NUL of the value before */
                if (pending_nul)
                        *pending_nul = '\0';
                pending_nul = NULL;
                if (r < 0)
                        return r;

                name_size = name_len;
                name = raw + start + 1;
                value = raw + o + name_size;
                hash = name_move_hash(name, raw + o, name_len, &nul, &head, &tail);
                name[name_len] = '\0';
                if (nul) {
                        name_len = strlen((char *)name);
                        name_words((char *)name, name_len, &head, &tail);
                        hash = words_hash(head, tail, name_len);
                }
                o += name_size + value_len;
                pending_nul = value + value_len;

                r = params_reserve(p);
                if (r < 0)
                        return r;
                i = params_find_slot(p, (char *)name, name_len, hash, &slot);
                params_store(p, i, slot, (char *)name, name_len, hash, head, tail, (char *)value, value_len, 0);
        }
        if (pending_nul)
                *pending_nul = '\0';
        return 0;
}

const char *fcgi_params_get_len(const FcgiParams *p, const char *name, size_t *ret_len)
{
        size_t len = strlen(name);
        ssize_t i = params_find(p, name, len, name_hash(name, len));

        if (i < 0)
                return NULL;
        if (ret_len)
                *ret_len = p->value_lens[i];
        return p->values[i];
}

const char *fcgi_params_get(const FcgiParams *p, const char *name)
{
        return fcgi_params_get_len(p, name, NULL);
}

int fcgi_params_set(FcgiParams *p, const char *name, const char *value)
{
        return params_put(p, name, strlen(name), value, strlen(value), false);
}

int fcgi_params_set_static(FcgiParams *p, const char *name, const char *value)
{
        return params_put(p, name, strlen(name), value, strlen(value), true);
}

int fcgi_params_unset(FcgiParams *p, const char *name)
{
        size_t len = strlen(name), tail;
        ssize_t i = params_find(p, name, len, name_hash(name, len));

        if (i < 0)
                return 0;
        if (p->owned[i] & FCGI_PARAM_OWNED_NAME)
                params_retire(p, p->names[i]);
        params_free_value(p, (size_t)i);
        /* Keep the order of the others: $_SERVER lists them by it (the last sent first, as PHP-FPM) */
        tail = p->n - (size_t)i - 1;
        memmove(p->names + i, p->names + i + 1, tail * sizeof(char *));
        memmove(p->values + i, p->values + i + 1, tail * sizeof(char *));
        memmove(p->value_lens + i, p->value_lens + i + 1, tail * sizeof(size_t));
        memmove(p->name_lens + i, p->name_lens + i + 1, tail * sizeof(size_t));
        memmove(p->hashes + i, p->hashes + i + 1, tail * sizeof(uint32_t));
        memmove(p->owned + i, p->owned + i + 1, tail);
        p->n--;
        /* Entries moved: rare enough (PATH_INFO fixes) to rebuild the index */
        index_rebuild(p);
        for (size_t k = 0; k < _FCGI_KNOWN_MAX; k++)
                if (p->known[k] == (uint32_t)i + 1)
                        p->known[k] = 0;
                else if (p->known[k] > (uint32_t)i + 1)
                        p->known[k]--;
        return 1;
}

void fcgi_params_reset(FcgiParams *p)
{
        /* A request the path resolver did not change has nothing of its own */
        for (size_t i = 0; p->copied && i < p->n; i++) {
                if (p->owned[i] & FCGI_PARAM_OWNED_NAME)
                        free(p->names[i]);
                if (p->owned[i] & FCGI_PARAM_OWNED_VALUE)
                        free(p->values[i]);
        }
        p->copied = false;
        for (size_t i = 0; i < p->n_retired; i++)
                free(p->retired[i]);
        p->n_retired = 0;
        if (p->n > 0) {
                memset(p->index, 0, index_slots(p) * sizeof(uint32_t));
                memset(p->known, 0, sizeof(p->known));
        }
        p->n = 0;
        p->raw_len = 0;
}

void fcgi_params_done(FcgiParams *p)
{
        fcgi_params_reset(p);
        free(p->raw);
        free(p->names);
        free(p->values);
        free(p->value_lens);
        free(p->name_lens);
        free(p->hashes);
        free(p->owned);
        free(p->index);
        free(p->retired);
        fcgi_params_init(p, p->max_len);
}

enum {
        GET_VALUE_MAX_CONNS,
        GET_VALUE_MAX_REQS,
        GET_VALUE_MPXS_CONNS,
        _GET_VALUE_MAX,
};

static const char *const get_value_names[_GET_VALUE_MAX] = {
        [GET_VALUE_MAX_CONNS] = "FCGI_MAX_CONNS",
        [GET_VALUE_MAX_REQS] = "FCGI_MAX_REQS",
        [GET_VALUE_MPXS_CONNS] = "FCGI_MPXS_CONNS",
};

/* Not DEFINE_STRING_TABLE()'s NAME_from_string(): a name in a record is counted bytes, not a C string, and
 * "FCGI_MAX_CONNS\0" must not match */
static int get_value_lookup(const uint8_t *name, size_t len)
{
        for (int i = 0; i < _GET_VALUE_MAX; i++)
                if (strlen(get_value_names[i]) == len && memcmp(get_value_names[i], name, len) == 0)
                        return i;
        return -ENOENT;
}

/* Encodes the reply's pairs into out (NULL with size 0 only measures); returns the content length or
 * -EBADMSG. With three names answered once each, the content stays far below FCGI_MAX_CONTENT_LEN. */
static int get_values_content(
        const uint8_t *query, size_t query_len, char values[_GET_VALUE_MAX][16], uint8_t *out, size_t size)
{
        bool answered[_GET_VALUE_MAX] = {false};
        size_t offset = 0, n = 0;

        for (;;) {
                const uint8_t *name;
                size_t name_len, m;
                int r, v;

                r = fcgi_nv_next(query, query_len, &offset, &name, &name_len, NULL, NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        return (int)n;

                v = get_value_lookup(name, name_len);
                /* Unknown names are skipped, and a repeated name answered once, which also keeps the reply
                 * within one record however long the query */
                if (v < 0 || answered[v])
                        continue;
                answered[v] = true;

                m = fcgi_nv_write(out ? out + n : NULL, out ? size - n : 0, get_value_names[v],
                        strlen(get_value_names[v]), values[v], strlen(values[v]));
                n += m;
        }
}

int fcgi_get_values_result_write(
        const uint8_t *query, size_t query_len, unsigned max_conns, unsigned max_reqs, uint8_t *out, size_t size)
{
        char values[_GET_VALUE_MAX][16];
        size_t total;
        uint8_t padding;
        int n;

        snprintf(values[GET_VALUE_MAX_CONNS], sizeof(values[0]), "%u", max_conns);
        snprintf(values[GET_VALUE_MAX_REQS], sizeof(values[0]), "%u", max_reqs);
        /* One request per connection at a time: we never multiplex */
        snprintf(values[GET_VALUE_MPXS_CONNS], sizeof(values[0]), "0");

        /* Measure first, so that out is left alone on any failure */
        n = get_values_content(query, query_len, values, NULL, 0);
        if (n < 0)
                return n;

        total = FCGI_HEADER_LEN + (size_t)n + padding_for((size_t)n);
        if (total > size)
                return -ENOBUFS;

        padding = fcgi_header_write(out, FCGI_GET_VALUES_RESULT, 0, (uint16_t)n);
        (void)get_values_content(query, query_len, values, out + FCGI_HEADER_LEN, (size_t)n);
        memset(out + FCGI_HEADER_LEN + n, 0, padding);
        return (int)total;
}

size_t fcgi_stream_size(size_t len)
{
        /* A full record: header, 65535 content bytes, 1 padding byte */
        const size_t full_record = FCGI_HEADER_LEN + FCGI_MAX_CONTENT_LEN + 1;
        size_t full = len / FCGI_MAX_CONTENT_LEN, rest = len % FCGI_MAX_CONTENT_LEN, total;

        if (len == 0)
                return FCGI_HEADER_LEN;

        if (__builtin_mul_overflow(full, full_record, &total))
                return SIZE_MAX;
        if (rest > 0 && __builtin_add_overflow(total, FCGI_HEADER_LEN + rest + padding_for(rest), &total))
                return SIZE_MAX;
        return total;
}

static bool is_stream_type(uint8_t type)
{
        switch (type) {
        case FCGI_PARAMS:
        case FCGI_STDIN:
        case FCGI_STDOUT:
        case FCGI_STDERR:
        case FCGI_DATA:
                return true;
        default:
                return false;
        }
}

int fcgi_stream_write(uint8_t *out, size_t size, uint8_t type, uint16_t request_id, const uint8_t *data, size_t len)
{
        size_t total, o = 0;

        if (!is_stream_type(type))
                return -EINVAL;

        total = fcgi_stream_size(len);
        if (total > INT_MAX)
                return -EOVERFLOW;
        if (total > size)
                return -ENOBUFS;

        /* do-while: len 0 still gets its one (empty) record */
        do {
                uint16_t chunk = (uint16_t)MIN(len, (size_t)FCGI_MAX_CONTENT_LEN);
                uint8_t padding;

                padding = fcgi_header_write(out + o, type, request_id, chunk);
                o += FCGI_HEADER_LEN;
                /* data may be NULL when len is 0, and neither memcpy() nor arithmetic may touch it then */
                if (chunk > 0) {
                        memcpy(out + o, data, chunk);
                        o += chunk;
                        data += chunk;
                        len -= chunk;
                }
                memset(out + o, 0, padding);
                o += padding;
        } while (len > 0);

        return (int)o;
}
