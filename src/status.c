/* status.c: the status page in PHP-FPM's formats (text, JSON, XML, HTML, OpenMetrics), from plain numbers */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "scoreboard.h"
#include "status.h"

static const char *const format_names[_STATUS_FORMAT_MAX] = {
        [STATUS_FORMAT_TEXT] = "text",
        [STATUS_FORMAT_JSON] = "json",
        [STATUS_FORMAT_XML] = "xml",
        [STATUS_FORMAT_HTML] = "html",
        [STATUS_FORMAT_OPENMETRICS] = "openmetrics",
};

/* What PHP-FPM 8.2 sends: PHP appends its default_charset to the text/ types it sets */
static const char *const content_types[_STATUS_FORMAT_MAX] = {
        [STATUS_FORMAT_TEXT] = "text/plain;charset=UTF-8",
        [STATUS_FORMAT_JSON] = "application/json",
        [STATUS_FORMAT_XML] = "text/xml;charset=UTF-8",
        [STATUS_FORMAT_HTML] = "text/html;charset=UTF-8",
        [STATUS_FORMAT_OPENMETRICS] = "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

DEFINE_STRING_TABLE_TO(status_format, StatusFormat, format_names)

/* ---- The query string ---- */

enum {
        WORD_HTML = 1 << 0,
        WORD_XML = 1 << 1,
        WORD_JSON = 1 << 2,
        WORD_OPENMETRICS = 1 << 3,
        WORD_FULL = 1 << 4,
};

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* One byte of s[*i..n) URL-decoded as PHP's urldecode() does: '+' is a blank, "%XX" a byte, and a '%'
 * without two hex digits stays a '%' */
static unsigned char url_decode_next(const char *s, size_t n, size_t *i)
{
        char c = s[(*i)++];

        if (c == '+')
                return ' ';
        if (c == '%' && n - *i >= 2) {
                int hi = hex_digit(s[*i]), lo = hex_digit(s[*i + 1]);

                if (hi >= 0 && lo >= 0) {
                        *i += 2;
                        return (unsigned char)(hi << 4 | lo);
                }
        }
        return (unsigned char)c;
}

/* The word that the name of one "name=value" piece registers in PHP's $_GET, as a WORD_* bit (0 for any
 * other name). PHP's variable names are C strings, so a decoded NUL ends the name; leading blanks are
 * dropped; "name[...]" is an array named "name", while a '[' with no ']' after it becomes part of the name
 * (as '_'). */
static unsigned query_name_word(const char *s, size_t n)
{
        static const struct {
                const char *word;
                unsigned bit;
        } words[] = {
                {"html", WORD_HTML},
                {"xml", WORD_XML},
                {"json", WORD_JSON},
                {"openmetrics", WORD_OPENMETRICS},
                {"full", WORD_FULL},
        };
        char name[16];
        size_t len = 0, i = 0;
        bool in_index = false, closed = false;

        while (i < n) {
                unsigned char c = url_decode_next(s, n, &i);

                if (c == '\0')
                        break;
                if (in_index) {
                        if (c == ']') {
                                closed = true;
                                break;
                        }
                        continue;
                }
                if (c == ' ' && len == 0)
                        continue;
                if (c == '[') {
                        in_index = true;
                        continue;
                }
                if (len >= sizeof(name))
                        return 0; /* longer than any word */
                name[len++] = (char)c;
        }
        if (in_index && !closed)
                return 0;

        for (size_t k = 0; k < ELEMENTSOF(words); k++)
                if (strlen(words[k].word) == len && memcmp(words[k].word, name, len) == 0)
                        return words[k].bit;
        return 0;
}

void status_parse_query(const char *query, StatusFormat *ret_format, bool *ret_full)
{
        unsigned seen = 0;

        for (const char *p = strempty(query); *p;) {
                /* the name ends at the first '=' of its "name=value" piece */
                seen |= query_name_word(p, strcspn(p, "=&"));
                p += strcspn(p, "&");
                if (*p == '&')
                        p++;
        }

        /* PHP-FPM tries the formats in this order, whatever their order in the query. Unlike PHP-FPM 8.2,
         * only the whole words count: it compares a name by the name's own length, so that "?x=1" picks XML
         * and
         * "?f" means full, which no documented query needs. */
        if (ret_format)
                *ret_format = seen & WORD_HTML          ? STATUS_FORMAT_HTML
                              : seen & WORD_XML         ? STATUS_FORMAT_XML
                              : seen & WORD_JSON        ? STATUS_FORMAT_JSON
                              : seen & WORD_OPENMETRICS ? STATUS_FORMAT_OPENMETRICS
                                                        : STATUS_FORMAT_TEXT;
        if (ret_full)
                *ret_full = seen & WORD_FULL;
}

/* ---- An output buffer that remembers its first error ---- */

typedef struct Buf {
        char *data;
        size_t len, size;
        int error;
} Buf;

static void buf_done(Buf *b)
{
        b->data = mfree(b->data);
}

static void buf_fail(Buf *b, int error)
{
        if (b->error >= 0)
                b->error = error;
}

static bool buf_reserve(Buf *b, size_t extra)
{
        size_t want;
        char *p;

        if (b->error < 0)
                return false;
        if (extra < b->size - b->len)
                return true; /* room for the bytes and the NUL */

        if (extra > SIZE_MAX / 2 - b->len) {
                buf_fail(b, -ENOMEM);
                return false;
        }
        want = MAX(b->len + extra + 1, MAX(b->size * 2, (size_t)1024));
        p = realloc(b->data, want);
        if (!p) {
                buf_fail(b, -ENOMEM);
                return false;
        }
        b->data = p;
        b->size = want;
        return true;
}

static void buf_put(Buf *b, const void *p, size_t n)
{
        if (!buf_reserve(b, n))
                return;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static void buf_puts(Buf *b, const char *s)
{
        buf_put(b, s, strlen(s));
}

static void buf_putc(Buf *b, char c)
{
        buf_put(b, &c, 1);
}

_printf_(2, 3) static void buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (b->error < 0)
                return;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                buf_fail(b, -EINVAL);
                return;
        }
        if (!buf_reserve(b, (size_t)n))
                return;

        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

/* ---- Escaping ---- */

typedef enum Escape {
        ESCAPE_TEXT,
        ESCAPE_JSON,
        ESCAPE_XML,
        ESCAPE_HTML,
        ESCAPE_OPENMETRICS,
} Escape;

#define REPLACEMENT_CHARACTER 0xFFFDu

/* Decodes the UTF-8 character at s[0..n), n > 0, and returns its length. A byte that cannot start a
 * character, or a sequence cut short, becomes one U+FFFD that spans its longest valid-looking prefix
 * (Unicode's "maximal subpart" practice, as Python and browsers do). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret)
{
        unsigned char lo = 0x80, hi = 0xBF;
        uint32_t c;
        size_t len;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if (s[0] >= 0xC2 && s[0] <= 0xDF) {
                len = 2;
                c = s[0] & 0x1Fu;
        } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
                len = 3;
                c = s[0] & 0x0Fu;
                if (s[0] == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (s[0] == 0xED)
                        hi = 0x9F; /* UTF-16 surrogates */
        } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
                len = 4;
                c = s[0] & 0x07u;
                if (s[0] == 0xF0)
                        lo = 0x90; /* overlong */
                else if (s[0] == 0xF4)
                        hi = 0x8F; /* above U+10FFFF */
        } else {
                *ret = REPLACEMENT_CHARACTER;
                return 1;
        }

        for (size_t i = 1; i < len; i++) {
                if (i >= n || s[i] < lo || s[i] > hi) {
                        *ret = REPLACEMENT_CHARACTER;
                        return i;
                }
                c = c << 6 | (s[i] & 0x3Fu);
                lo = 0x80;
                hi = 0xBF;
        }
        *ret = c;
        return len;
}

static void buf_put_utf8(Buf *b, uint32_t c)
{
        char u[4];

        if (c < 0x80) {
                buf_putc(b, (char)c);
        } else if (c < 0x800) {
                u[0] = (char)(0xC0 | c >> 6);
                u[1] = (char)(0x80 | (c & 0x3F));
                buf_put(b, u, 2);
        } else if (c < 0x10000) {
                u[0] = (char)(0xE0 | c >> 12);
                u[1] = (char)(0x80 | (c >> 6 & 0x3F));
                u[2] = (char)(0x80 | (c & 0x3F));
                buf_put(b, u, 3);
        } else {
                u[0] = (char)(0xF0 | c >> 18);
                u[1] = (char)(0x80 | (c >> 12 & 0x3F));
                u[2] = (char)(0x80 | (c >> 6 & 0x3F));
                u[3] = (char)(0x80 | (c & 0x3F));
                buf_put(b, u, 4);
        }
}

static bool is_control(uint32_t c)
{
        return c < 0x20 || c == 0x7F;
}

/* JSON as PHP's json_encode() writes it (so that PHP-FPM's bytes come out unchanged): "\/", the short
 * escapes, every other control and every non-ASCII character as \uXXXX (lower-case hex, surrogate pairs
 * above U+FFFF). The output is ASCII and thus valid UTF-8 whatever the input. */
static void json_escape_char(Buf *b, uint32_t c)
{
        switch (c) {
        case '"':
                buf_puts(b, "\\\"");
                return;
        case '\\':
                buf_puts(b, "\\\\");
                return;
        case '/':
                buf_puts(b, "\\/");
                return;
        case '\b':
                buf_puts(b, "\\b");
                return;
        case '\f':
                buf_puts(b, "\\f");
                return;
        case '\n':
                buf_puts(b, "\\n");
                return;
        case '\r':
                buf_puts(b, "\\r");
                return;
        case '\t':
                buf_puts(b, "\\t");
                return;
        }

        if (c >= 0x20 && c < 0x80)
                buf_putc(b, (char)c);
        else if (c < 0x10000)
                buf_printf(b, "\\u%04" PRIx32, c);
        else
                buf_printf(b, "\\u%04" PRIx32 "\\u%04" PRIx32, 0xD800 + ((c - 0x10000) >> 10),
                        0xDC00 + ((c - 0x10000) & 0x3FF));
}

/* XML 1.0 allows no control characters but tab, LF and CR, nor U+FFFE/U+FFFF; HTML takes the same rules.
 * A CR is written as a reference, as XML parsers turn a literal one into LF. */
static void markup_escape_char(Buf *b, uint32_t c, bool html)
{
        switch (c) {
        case '&':
                buf_puts(b, "&amp;");
                return;
        case '<':
                buf_puts(b, "&lt;");
                return;
        case '>':
                buf_puts(b, "&gt;");
                return;
        case '"':
                buf_puts(b, "&quot;");
                return;
        case '\'':
                /* &apos; is XML's; HTML 4 lacks it */
                buf_puts(b, html ? "&#39;" : "&apos;");
                return;
        case '\r':
                buf_puts(b, "&#13;");
                return;
        case '\t':
        case '\n':
                buf_putc(b, (char)c);
                return;
        }

        if (is_control(c) || c == 0xFFFE || c == 0xFFFF)
                c = REPLACEMENT_CHARACTER;
        buf_put_utf8(b, c);
}

/* OpenMetrics escaped-string (label values and HELP): backslash, double quote and LF are escaped. Other
 * controls are legal there but are replaced so that no line-oriented parser trips on a CR. */
static void openmetrics_escape_char(Buf *b, uint32_t c)
{
        switch (c) {
        case '\\':
                buf_puts(b, "\\\\");
                return;
        case '"':
                buf_puts(b, "\\\"");
                return;
        case '\n':
                buf_puts(b, "\\n");
                return;
        }

        if (is_control(c))
                c = REPLACEMENT_CHARACTER;
        buf_put_utf8(b, c);
}

/* Writes s escaped for the format; NULL or "" is written as "-", like PHP-FPM's empty fields. Invalid
 * UTF-8 becomes U+FFFD in every format, as every content type promises UTF-8. */
static void buf_put_escaped(Buf *b, const char *s, Escape e)
{
        const unsigned char *p;
        size_t n;

        if (isempty(s))
                s = "-";
        p = (const unsigned char *)s;
        n = strlen(s);

        while (n > 0) {
                uint32_t c;
                size_t k = utf8_decode(p, n, &c);

                switch (e) {
                case ESCAPE_TEXT:
                        /* a control (LF, CR) would split the "name: value" line */
                        buf_put_utf8(b, is_control(c) ? REPLACEMENT_CHARACTER : c);
                        break;
                case ESCAPE_JSON:
                        json_escape_char(b, c);
                        break;
                case ESCAPE_XML:
                case ESCAPE_HTML:
                        markup_escape_char(b, c, e == ESCAPE_HTML);
                        break;
                case ESCAPE_OPENMETRICS:
                        openmetrics_escape_char(b, c);
                        break;
                }
                p += k;
                n -= k;
        }
}

/* ---- Values ---- */

/* PHP-FPM's "%d/%b/%Y:%H:%M:%S %z" in local time, with English month names whatever the locale */
static void buf_put_date(Buf *b, uint64_t t)
{
        static const char months[12][4] = {
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        struct tm tm;
        time_t tt;
        long off;

        if (t > (uint64_t)INT64_MAX || (uint64_t)(time_t)t != t) {
                buf_fail(b, -ERANGE);
                return;
        }
        tt = (time_t)t;
        if (!localtime_r(&tt, &tm) || tm.tm_mon < 0 || tm.tm_mon > 11) {
                buf_fail(b, -ERANGE);
                return;
        }

        off = tm.tm_gmtoff;
        buf_printf(b, "%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 3600, labs(off) % 3600 / 60);
}

/* "%.2f" with a '.' whatever LC_NUMERIC says: the pages are machine-read */
static void buf_put_percent(Buf *b, double v)
{
        char tmp[64];
        size_t digits, n;
        int r;

        /* NaN fails the comparison, and -0.0 would print as "-0.00"; a CPU share is never negative nor this
         * large */
        if (!(v > 0.0))
                v = 0.0;
        if (v > 1e15)
                v = 1e15;

        r = snprintf(tmp, sizeof(tmp), "%.2f", v);
        if (r < 4 || (size_t)r >= sizeof(tmp)) {
                buf_fail(b, -EINVAL);
                return;
        }
        n = (size_t)r;
        digits = strspn(tmp, "0123456789");
        buf_put(b, tmp, digits);
        buf_putc(b, '.');
        buf_put(b, tmp + n - 2, 2);
}

/* ---- Fields, in PHP-FPM's order ---- */

typedef enum FieldType {
        FIELD_STRING,
        FIELD_URI, /* string, then "?query" when there is a query */
        FIELD_TIME,
        FIELD_UNSIGNED,
        FIELD_SIGNED,
        FIELD_PERCENT,
} FieldType;

typedef struct Field {
        const char *name; /* as the text format prints it; the other formats lower-case it */
        FieldType type;
        const char *string, *query;
        uint64_t unsigned_value;
        int64_t signed_value;
        double percent;
} Field;

#define FIELD_STR(n, s)  ((Field){.name = (n), .type = FIELD_STRING, .string = (s)})
#define FIELD_TIME(n, t) ((Field){.name = (n), .type = FIELD_TIME, .unsigned_value = (t)})
#define FIELD_U(n, v)    ((Field){.name = (n), .type = FIELD_UNSIGNED, .unsigned_value = (v)})

#define POOL_FIELDS_MAX 80
#define PROC_FIELDS     13

/* "request duration le 0.005" ... "request duration le inf": a histogram's cumulative buckets as fields, the bounds
 * in seconds as OpenMetrics' "le" labels */
static const char *bucket_field_name(bool wait, size_t i)
{
        static char names[2][STATUS_BUCKETS][40];
        char *n = names[wait][i];

        if (!n[0]) {
                if (i == STATUS_BUCKETS - 1)
                        snprintf(n, sizeof(names[0][0]), "%s le inf", wait ? "queue wait" : "request duration");
                else
                        snprintf(n, sizeof(names[0][0]), "%s le %g", wait ? "queue wait" : "request duration",
                                (double)scoreboard_bucket_bounds[i] / USEC_PER_SEC);
        }
        return n;
}

static size_t histogram_fields(const StatusHistogram *h, bool wait, Field *f)
{
        uint64_t total = 0;
        size_t n = 0;

        for (size_t i = 0; i < STATUS_BUCKETS; i++) {
                total += h->buckets[i];
                f[n++] = FIELD_U(bucket_field_name(wait, i), total);
        }
        f[n++] = FIELD_U(wait ? "queue wait count" : "request duration count", total);
        f[n++] = FIELD_U(wait ? "queue wait sum usec" : "request duration sum usec", h->sum_usec);
        return n;
}

static size_t pool_fields(const StatusPool *p, Field f[static POOL_FIELDS_MAX])
{
        size_t n = 0;

        f[n++] = FIELD_STR("pool", p->pool);
        f[n++] = FIELD_STR("process manager", p->process_manager);
        f[n++] = FIELD_TIME("start time", p->start_time);
        f[n++] = FIELD_U("start since", p->start_since);
        f[n++] = FIELD_U("accepted conn", p->accepted_conn);
        f[n++] = FIELD_U("listen queue", p->listen_queue);
        f[n++] = FIELD_U("max listen queue", p->max_listen_queue);
        f[n++] = FIELD_U("listen queue len", p->listen_queue_len);
        f[n++] = FIELD_U("idle processes", p->idle_processes);
        f[n++] = FIELD_U("active processes", p->active_processes);
        f[n++] = FIELD_U("total processes", p->total_processes);
        f[n++] = FIELD_U("max active processes", p->max_active_processes);
        f[n++] = FIELD_U("max children reached", p->max_children_reached);
        f[n++] = FIELD_U("slow requests", p->slow_requests);

        /* Not PHP-FPM 8.2's: after its fields, so that parsers that count lines or keys keep working */
        if (p->memory_peak != UINT64_MAX)
                f[n++] = FIELD_U("memory peak", p->memory_peak);
        if (p->cgroup_memory_current != UINT64_MAX)
                f[n++] = FIELD_U("cgroup memory current", p->cgroup_memory_current);
        if (p->cgroup_cpu_usage_usec != UINT64_MAX)
                f[n++] = FIELD_U("cgroup cpu usage usec", p->cgroup_cpu_usage_usec);
        if (p->requests_abandoned != UINT64_MAX)
                f[n++] = FIELD_U("requests abandoned", p->requests_abandoned);
        if (p->requests_aborted != UINT64_MAX)
                f[n++] = FIELD_U("requests aborted", p->requests_aborted);
        if (p->requests_shed != UINT64_MAX)
                f[n++] = FIELD_U("requests shed", p->requests_shed);
        if (p->extra) {
                static const char *const classes[5] = {
                        "responses 1xx", "responses 2xx", "responses 3xx", "responses 4xx", "responses 5xx"};

                f[n++] = FIELD_U("max children", p->extra->max_children);
                for (size_t i = 0; i < 5; i++)
                        f[n++] = FIELD_U(classes[i], p->extra->status_classes[i]);
                f[n++] = FIELD_U("requests terminated", p->extra->requests_terminated);
                f[n++] = FIELD_U("workers killed", p->extra->workers_killed);
                n += histogram_fields(&p->extra->duration, false, f + n);
                n += histogram_fields(&p->extra->wait, true, f + n);
                if (p->extra->has_opcache) {
                        const StatusOpcache *o = &p->extra->opcache;

                        f[n++] = FIELD_U("opcache enabled", o->enabled);
                        f[n++] = FIELD_U("opcache used memory", o->used);
                        f[n++] = FIELD_U("opcache free memory", o->free);
                        f[n++] = FIELD_U("opcache wasted memory", o->wasted);
                        f[n++] = FIELD_U("opcache cached keys", o->cached_keys);
                        f[n++] = FIELD_U("opcache hits", o->hits);
                        f[n++] = FIELD_U("opcache misses", o->misses);
                        f[n++] = FIELD_U("opcache oom restarts", o->oom_restarts);
                        f[n++] = FIELD_U("opcache hash restarts", o->hash_restarts);
                        f[n++] = FIELD_U("opcache manual restarts", o->manual_restarts);
                }
        }

        return n;
}

static void proc_fields(const StatusProc *p, Field f[static PROC_FIELDS])
{
        size_t n = 0;

        f[n++] = (Field){.name = "pid", .type = FIELD_SIGNED, .signed_value = p->pid};
        f[n++] = FIELD_STR("state", p->state);
        f[n++] = FIELD_TIME("start time", p->start_time);
        f[n++] = FIELD_U("start since", p->start_since);
        f[n++] = FIELD_U("requests", p->requests);
        f[n++] = FIELD_U("request duration", p->request_duration);
        f[n++] = FIELD_STR("request method", p->request_method);
        f[n++] = (Field){.name = "request URI", .type = FIELD_URI, .string = p->request_uri, .query = p->query_string};
        f[n++] = FIELD_U("content length", p->content_length);
        f[n++] = FIELD_STR("user", p->user);
        f[n++] = FIELD_STR("script", p->script);
        f[n++] = (Field){.name = "last request cpu", .type = FIELD_PERCENT, .percent = p->last_request_cpu};
        f[n++] = FIELD_U("last request memory", p->last_request_memory);
}

/* The field's name as JSON, XML and HTML print it: lower case, and for XML with '-' for blanks */
static void buf_put_name(Buf *b, const char *name, bool xml)
{
        for (const char *c = name; *c; c++) {
                if (xml && *c == ' ')
                        buf_putc(b, '-');
                else if (*c >= 'A' && *c <= 'Z')
                        buf_putc(b, (char)(*c - 'A' + 'a'));
                else
                        buf_putc(b, *c);
        }
}

/* The value alone. Text and HTML print times as dates, JSON and XML as seconds since the epoch. */
static void buf_put_value(Buf *b, const Field *f, Escape e)
{
        switch (f->type) {
        case FIELD_STRING:
                buf_put_escaped(b, f->string, e);
                break;
        case FIELD_URI:
                buf_put_escaped(b, f->string, e);
                if (!isempty(f->query)) {
                        buf_putc(b, '?');
                        buf_put_escaped(b, f->query, e);
                }
                break;
        case FIELD_TIME:
                if (e == ESCAPE_TEXT || e == ESCAPE_HTML)
                        buf_put_date(b, f->unsigned_value);
                else
                        buf_printf(b, "%" PRIu64, f->unsigned_value);
                break;
        case FIELD_UNSIGNED:
                buf_printf(b, "%" PRIu64, f->unsigned_value);
                break;
        case FIELD_SIGNED:
                buf_printf(b, "%" PRId64, f->signed_value);
                break;
        case FIELD_PERCENT:
                buf_put_percent(b, f->percent);
                break;
        }
}

/* ---- The formats ---- */

/* "name:" padded to PHP-FPM's column; longer names (fpmd's) get one blank */
static void text_fields(Buf *b, const Field *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(f[i].name) + 1;

                buf_puts(b, f[i].name);
                buf_putc(b, ':');
                do
                        buf_putc(b, ' ');
                while (++len < 22);
                buf_put_value(b, &f[i], ESCAPE_TEXT);
                buf_putc(b, '\n');
        }
}

static void render_text(Buf *b, const Field *pf, size_t n_pf, bool full, const StatusProc *procs, size_t n_procs)
{
        text_fields(b, pf, n_pf);
        if (!full)
                return;

        for (size_t i = 0; i < n_procs; i++) {
                Field f[PROC_FIELDS];

                proc_fields(&procs[i], f);
                buf_puts(b, "\n************************\n");
                text_fields(b, f, PROC_FIELDS);
        }
}

static void json_fields(Buf *b, const Field *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                bool quoted = f[i].type == FIELD_STRING || f[i].type == FIELD_URI;

                if (i > 0)
                        buf_putc(b, ',');
                buf_putc(b, '"');
                buf_put_name(b, f[i].name, false);
                buf_puts(b, quoted ? "\":\"" : "\":");
                buf_put_value(b, &f[i], ESCAPE_JSON);
                if (quoted)
                        buf_putc(b, '"');
        }
}

static void render_json(Buf *b, const Field *pf, size_t n_pf, bool full, const StatusProc *procs, size_t n_procs)
{
        buf_putc(b, '{');
        json_fields(b, pf, n_pf);
        if (!full) {
                buf_putc(b, '}');
                return;
        }

        buf_puts(b, ", \"processes\":[");
        for (size_t i = 0; i < n_procs; i++) {
                Field f[PROC_FIELDS];

                proc_fields(&procs[i], f);
                if (i > 0)
                        buf_putc(b, ',');
                buf_putc(b, '{');
                json_fields(b, f, PROC_FIELDS);
                buf_putc(b, '}');
        }
        buf_puts(b, "]}");
}

static void xml_fields(Buf *b, const Field *f, size_t n, const char *separator)
{
        for (size_t i = 0; i < n; i++) {
                buf_putc(b, '<');
                buf_put_name(b, f[i].name, true);
                buf_putc(b, '>');
                buf_put_value(b, &f[i], ESCAPE_XML);
                buf_puts(b, "</");
                buf_put_name(b, f[i].name, true);
                buf_putc(b, '>');
                buf_puts(b, separator);
        }
}

static void render_xml(Buf *b, const Field *pf, size_t n_pf, bool full, const StatusProc *procs, size_t n_procs)
{
        buf_puts(b, "<?xml version=\"1.0\" ?>\n<status>\n");
        xml_fields(b, pf, n_pf, "\n");
        if (!full) {
                buf_puts(b, "</status>");
                return;
        }

        buf_puts(b, "<processes>\n");
        for (size_t i = 0; i < n_procs; i++) {
                Field f[PROC_FIELDS];

                proc_fields(&procs[i], f);
                buf_puts(b, "<process>");
                xml_fields(b, f, PROC_FIELDS, "");
                buf_puts(b, "</process>\n");
        }
        buf_puts(b, "</processes>\n</status>");
}

static void render_html(Buf *b, const Field *pf, size_t n_pf, bool full, const StatusProc *procs, size_t n_procs)
{
        Field f[PROC_FIELDS];

        buf_puts(b, "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
                    "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
                    "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
                    "<head><title>PHP-FPM Status Page</title></head>\n"
                    "<body>\n"
                    "<table>\n");
        for (size_t i = 0; i < n_pf; i++) {
                buf_puts(b, "<tr><th>");
                buf_put_name(b, pf[i].name, false);
                buf_puts(b, "</th><td>");
                buf_put_value(b, &pf[i], ESCAPE_HTML);
                buf_puts(b, "</td></tr>\n");
        }
        buf_puts(b, "</table>\n");
        if (!full) {
                buf_puts(b, "</body></html>");
                return;
        }

        /* The header row takes the names from an empty process */
        proc_fields(&(const StatusProc){}, f);
        buf_puts(b, "<table border=\"1\">\n<tr>");
        for (size_t k = 0; k < PROC_FIELDS; k++) {
                buf_puts(b, "<th>");
                buf_put_name(b, f[k].name, false);
                buf_puts(b, "</th>");
        }
        buf_puts(b, "</tr>\n");

        for (size_t i = 0; i < n_procs; i++) {
                proc_fields(&procs[i], f);
                buf_puts(b, "<tr>");
                for (size_t k = 0; k < PROC_FIELDS; k++) {
                        buf_puts(b, "<td>");
                        buf_put_value(b, &f[k], ESCAPE_HTML);
                        buf_puts(b, "</td>");
                }
                buf_puts(b, "</tr>\n");
        }
        buf_puts(b, "</table></body></html>");
}

typedef struct Metric {
        const char *name, *help, *type;
        uint64_t value;
} Metric;

/* One metric family with one sample. OpenMetrics 1.0 names a counter's sample "<family>_total"; PHP-FPM 8.2
 * leaves the suffix out, which strict parsers reject ("clashing name"). */
static void openmetrics_family(Buf *b, const Metric *m, bool type_first)
{
        bool counter = streq(m->type, "counter");

        if (type_first)
                buf_printf(b, "# TYPE %s %s\n", m->name, m->type);
        buf_printf(b, "# HELP %s %s\n", m->name, m->help);
        if (!type_first)
                buf_printf(b, "# TYPE %s %s\n", m->name, m->type);
        buf_printf(b, "%s%s %" PRIu64 "\n", m->name, counter ? "_total" : "", m->value);
}

/* {pool="NAME"[,NAME2="VALUE"]} */
static void om_labels(Buf *b, const StatusPool *p, const char *name, const char *value)
{
        buf_puts(b, "{pool=\"");
        buf_put_escaped(b, p->pool, ESCAPE_OPENMETRICS);
        buf_puts(b, "\"");
        if (name) {
                buf_printf(b, ",%s=\"", name);
                buf_put_escaped(b, value, ESCAPE_OPENMETRICS);
                buf_puts(b, "\"");
        }
        buf_puts(b, "}");
}

static void om_head(Buf *b, const char *name, const char *type, const char *unit, const char *help)
{
        buf_printf(b, "# TYPE %s %s\n", name, type);
        if (unit)
                buf_printf(b, "# UNIT %s %s\n", name, unit);
        buf_printf(b, "# HELP %s %s\n", name, help);
}

static void om_sample(Buf *b, const StatusPool *p, const char *name, const char *suffix, const char *label,
        const char *value, uint64_t v)
{
        buf_printf(b, "%s%s", name, suffix);
        om_labels(b, p, label, value);
        buf_printf(b, " %" PRIu64 "\n", v);
}

static void om_histogram(Buf *b, const StatusPool *p, const char *name, const char *help, const StatusHistogram *h)
{
        uint64_t total = 0;

        om_head(b, name, "histogram", "seconds", help);
        for (size_t i = 0; i < STATUS_BUCKETS; i++) {
                char le[32];

                total += h->buckets[i];
                if (i == STATUS_BUCKETS - 1)
                        strcpy(le, "+Inf");
                else
                        snprintf(le, sizeof(le), "%" PRIu64 ".%06" PRIu64, scoreboard_bucket_bounds[i] / USEC_PER_SEC,
                                scoreboard_bucket_bounds[i] % USEC_PER_SEC);
                om_sample(b, p, name, "_bucket", "le", le, total);
        }
        om_sample(b, p, name, "_count", NULL, NULL, total);
        buf_printf(b, "%s_sum", name);
        om_labels(b, p, NULL, NULL);
        buf_printf(b, " %" PRIu64 ".%06" PRIu64 "\n", h->sum_usec / USEC_PER_SEC, h->sum_usec % USEC_PER_SEC);
}

/* fpmd's own families, every sample labelled with its pool */
static void render_openmetrics_extra(Buf *b, const StatusPool *p, const StatusExtra *x)
{
        static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

        om_head(b, "phpfpm_max_children", "gauge", NULL, "The pool's pm.max_children.");
        om_sample(b, p, "phpfpm_max_children", "", NULL, NULL, x->max_children);
        om_head(b, "phpfpm_responses", "counter", NULL, "The responses of the pool by HTTP status class.");
        for (size_t i = 0; i < 5; i++)
                om_sample(b, p, "phpfpm_responses", "_total", "class", classes[i], x->status_classes[i]);
        om_head(b, "phpfpm_requests_terminated", "counter", NULL,
                "The number of requests ended by request_terminate_timeout.");
        om_sample(b, p, "phpfpm_requests_terminated", "_total", NULL, NULL, x->requests_terminated);
        om_head(b, "phpfpm_workers_killed", "counter", NULL, "The number of workers that died by a signal.");
        om_sample(b, p, "phpfpm_workers_killed", "_total", NULL, NULL, x->workers_killed);
        om_histogram(b, p, "phpfpm_request_duration_seconds",
                "How long requests ran, from their head read to their end.", &x->duration);
        om_histogram(b, p, "phpfpm_request_queue_wait_seconds",
                "How long requests waited before a worker took them (TCP: from their arrival).", &x->wait);
        if (!x->has_opcache)
                return;
        om_head(b, "phpfpm_opcache_enabled", "gauge", NULL, "Whether the pool's opcache is on.");
        om_sample(b, p, "phpfpm_opcache_enabled", "", NULL, NULL, x->opcache.enabled);
        om_head(b, "phpfpm_opcache_memory_bytes", "gauge", "bytes", "The pool's opcache shared memory by use.");
        om_sample(b, p, "phpfpm_opcache_memory_bytes", "", "use", "used", x->opcache.used);
        om_sample(b, p, "phpfpm_opcache_memory_bytes", "", "use", "free", x->opcache.free);
        om_sample(b, p, "phpfpm_opcache_memory_bytes", "", "use", "wasted", x->opcache.wasted);
        om_head(b, "phpfpm_opcache_cached_keys", "gauge", NULL, "The keys in the pool's opcache.");
        om_sample(b, p, "phpfpm_opcache_cached_keys", "", NULL, NULL, x->opcache.cached_keys);
        om_head(b, "phpfpm_opcache_hits", "counter", NULL, "Scripts found in the pool's opcache.");
        om_sample(b, p, "phpfpm_opcache_hits", "_total", NULL, NULL, x->opcache.hits);
        om_head(b, "phpfpm_opcache_misses", "counter", NULL, "Scripts not found in the pool's opcache.");
        om_sample(b, p, "phpfpm_opcache_misses", "_total", NULL, NULL, x->opcache.misses);
        om_head(b, "phpfpm_opcache_restarts", "counter", NULL, "Restarts of the pool's opcache by reason.");
        om_sample(b, p, "phpfpm_opcache_restarts", "_total", "reason", "oom", x->opcache.oom_restarts);
        om_sample(b, p, "phpfpm_opcache_restarts", "_total", "reason", "hash", x->opcache.hash_restarts);
        om_sample(b, p, "phpfpm_opcache_restarts", "_total", "reason", "manual", x->opcache.manual_restarts);
}

/* "full": one sample per worker, labelled pool and pid (and state, in its own family) */
static void render_openmetrics_procs(Buf *b, const StatusPool *p, const StatusProc *procs, size_t n)
{
        char pid[16];

#define EACH(name, suffix, value)                                   \
        for (size_t i = 0; i < n; i++) {                            \
                snprintf(pid, sizeof(pid), "%d", procs[i].pid);     \
                om_sample(b, p, name, suffix, "pid", pid, (value)); \
        }
        om_head(b, "phpfpm_process_requests", "counter", NULL, "The requests a worker has served.");
        EACH("phpfpm_process_requests", "_total", procs[i].requests);
        om_head(b, "phpfpm_process_request_duration_microseconds", "gauge", NULL,
                "The running request's time so far, else the last one's (the status page's request duration).");
        EACH("phpfpm_process_request_duration_microseconds", "", procs[i].request_duration);
        om_head(b, "phpfpm_process_last_request_memory_bytes", "gauge", "bytes",
                "The memory peak of a worker's last request.");
        EACH("phpfpm_process_last_request_memory_bytes", "", procs[i].last_request_memory);
        om_head(b, "phpfpm_process_resident_memory_bytes", "gauge", "bytes", "A worker's resident memory.");
        for (size_t i = 0; i < n; i++)
                if (procs[i].rss != UINT64_MAX) {
                        snprintf(pid, sizeof(pid), "%d", procs[i].pid);
                        om_sample(b, p, "phpfpm_process_resident_memory_bytes", "", "pid", pid, procs[i].rss);
                }
#undef EACH
        om_head(b, "phpfpm_process_state", "gauge", NULL, "What a worker does now: 1 with its state as a label.");
        for (size_t i = 0; i < n; i++) {
                snprintf(pid, sizeof(pid), "%d", procs[i].pid);
                buf_puts(b, "phpfpm_process_state{pool=\"");
                buf_put_escaped(b, p->pool, ESCAPE_OPENMETRICS);
                buf_printf(b, "\",pid=\"%s\",state=\"", pid);
                buf_put_escaped(b, procs[i].state, ESCAPE_OPENMETRICS);
                buf_puts(b, "\"} 1\n");
        }
}

static void render_openmetrics(Buf *b, const StatusPool *p, bool full, const StatusProc *procs, size_t n_procs)
{
        const Metric metrics[] = {
                {"phpfpm_start_since", "The number of seconds since FPM has started.", "counter", p->start_since},
                {"phpfpm_accepted_connections", "The number of requests accepted by the pool.", "counter",
                        p->accepted_conn},
                {"phpfpm_listen_queue", "The number of requests in the queue of pending connections.", "gauge",
                        p->listen_queue},
                {"phpfpm_max_listen_queue",
                        "The maximum number of requests in the queue of pending connections since FPM has "
                        "started.",
                        "counter", p->max_listen_queue},
                {"phpfpm_listen_queue_length", "The size of the socket queue of pending connections.", "gauge",
                        p->listen_queue_len},
                {"phpfpm_idle_processes", "The number of idle processes.", "gauge", p->idle_processes},
                {"phpfpm_active_processes", "The number of active processes.", "gauge", p->active_processes},
                {"phpfpm_total_processes", "The number of idle + active processes.", "gauge", p->total_processes},
                {"phpfpm_max_active_processes", "The maximum number of active processes since FPM has started.",
                        "counter", p->max_active_processes},
                {"phpfpm_max_children_reached",
                        "The number of times, the process limit has been reached, when pm tries to start "
                        "more "
                        "children (works only for pm 'dynamic' and 'ondemand').",
                        "counter", p->max_children_reached},
                {"phpfpm_slow_requests", "The number of requests that exceeded your 'request_slowlog_timeout' value.",
                        "counter", p->slow_requests},
        };

        /* The pool's name is the page's only free text; PHP-FPM puts it in phpfpm_up's help, unescaped */
        buf_puts(b, "# HELP phpfpm_up Could pool ");
        buf_put_escaped(b, p->pool, ESCAPE_OPENMETRICS);
        buf_puts(b, " using a ");
        buf_put_escaped(b, p->process_manager, ESCAPE_OPENMETRICS);
        buf_puts(b, " PM on PHP-FPM be reached?\n"
                    "# TYPE phpfpm_up gauge\n"
                    "phpfpm_up 1\n");

        for (size_t i = 0; i < ELEMENTSOF(metrics); i++)
                /* PHP-FPM's one family with TYPE before HELP: valid, and kept byte for byte */
                openmetrics_family(b, &metrics[i], streq(metrics[i].name, "phpfpm_listen_queue_length"));

        if (p->memory_peak != UINT64_MAX)
                /* as PHP-FPM 8.4 names it */
                openmetrics_family(b,
                        &(const Metric){"phpfpm_memory_peak", "The memory usage peak since FPM has started.", "gauge",
                                p->memory_peak},
                        false);

        if (p->cgroup_memory_current != UINT64_MAX)
                buf_printf(b,
                        "# HELP phpfpm_cgroup_memory_current_bytes The memory the pool's cgroup uses "
                        "(memory.current).\n"
                        "# TYPE phpfpm_cgroup_memory_current_bytes gauge\n"
                        "# UNIT phpfpm_cgroup_memory_current_bytes bytes\n"
                        "phpfpm_cgroup_memory_current_bytes %" PRIu64 "\n",
                        p->cgroup_memory_current);

        if (p->cgroup_cpu_usage_usec != UINT64_MAX)
                /* seconds, the base unit, printed exactly from the microseconds */
                buf_printf(b,
                        "# HELP phpfpm_cgroup_cpu_usage_seconds The CPU time the pool's cgroup has used "
                        "(cpu.stat usage_usec).\n"
                        "# TYPE phpfpm_cgroup_cpu_usage_seconds counter\n"
                        "# UNIT phpfpm_cgroup_cpu_usage_seconds seconds\n"
                        "phpfpm_cgroup_cpu_usage_seconds_total %" PRIu64 ".%06" PRIu64 "\n",
                        p->cgroup_cpu_usage_usec / USEC_PER_SEC, p->cgroup_cpu_usage_usec % USEC_PER_SEC);

        if (p->requests_abandoned != UINT64_MAX)
                openmetrics_family(b,
                        &(const Metric){"phpfpm_requests_abandoned",
                                "The number of requests not run because the web server had given up on them.",
                                "counter", p->requests_abandoned},
                        false);
        if (p->requests_aborted != UINT64_MAX)
                openmetrics_family(b,
                        &(const Metric){"phpfpm_requests_aborted",
                                "The number of scripts whose web server went away while they ran.", "counter",
                                p->requests_aborted},
                        false);
        if (p->requests_shed != UINT64_MAX)
                openmetrics_family(b,
                        &(const Metric){"phpfpm_requests_shed",
                                "The number of requests answered 503 by request_queue_timeout or "
                                "request_queue_max.",
                                "counter", p->requests_shed},
                        false);

        if (p->extra)
                render_openmetrics_extra(b, p, p->extra);
        if (p->extra && full)
                render_openmetrics_procs(b, p, procs, n_procs);

        buf_puts(b, "# EOF\n");
}

int status_render(StatusFormat format, bool full, const StatusPool *pool, const StatusProc *procs, size_t n_procs,
        char **ret_body, size_t *ret_len, const char **ret_content_type)
{
        _cleanup_(buf_done) Buf b = {};
        Field pf[POOL_FIELDS_MAX];
        size_t n_pf;

        if (format < 0 || format >= _STATUS_FORMAT_MAX || !pool || (n_procs > 0 && !procs) || !ret_body)
                return -EINVAL;

        n_pf = pool_fields(pool, pf);
        switch (format) {
        case STATUS_FORMAT_TEXT:
                render_text(&b, pf, n_pf, full, procs, n_procs);
                break;
        case STATUS_FORMAT_JSON:
                render_json(&b, pf, n_pf, full, procs, n_procs);
                break;
        case STATUS_FORMAT_XML:
                render_xml(&b, pf, n_pf, full, procs, n_procs);
                break;
        case STATUS_FORMAT_HTML:
                render_html(&b, pf, n_pf, full, procs, n_procs);
                break;
        case STATUS_FORMAT_OPENMETRICS:
                /* PHP-FPM 8.2 has no per-process metrics, and "full" changes nothing there; fpmd's come after */
                render_openmetrics(&b, pool, full, procs, n_procs);
                break;
        default:
                return -EINVAL;
        }
        if (b.error < 0)
                return b.error;

        if (ret_len)
                *ret_len = b.len;
        if (ret_content_type)
                *ret_content_type = content_types[format];
        *ret_body = TAKE_PTR(b.data);
        return 0;
}

int status_snapshot(const Scoreboard *sb, unsigned n_slots, usec_t now, long long listen_queue,
        long long listen_queue_len, StatusSnapshot *ret)
{
        /* per worker: method, uri, query, user, script */
        const size_t per = sizeof(sb->slots[0].method) + sizeof(sb->slots[0].uri) + sizeof(sb->slots[0].query) +
                           sizeof(sb->slots[0].user) + sizeof(sb->slots[0].script);
        StatusSnapshot s = {};
        ScoreboardCounts c;

        scoreboard_count(sb, n_slots, &c);
        s.procs = calloc(MAX(c.total, 1u), sizeof(StatusProc));
        s.strings = malloc(per * MAX(c.total, 1u));
        if (!s.procs || !s.strings) {
                status_snapshot_done(&s);
                return -ENOMEM;
        }

        /* Bounded copies: a worker may have written anything there */
        memcpy(s.pool_name, (const char *)sb->pool, sizeof(s.pool_name) - 1);
        memcpy(s.pm_name, (const char *)sb->pm, sizeof(s.pm_name) - 1);
        s.pool = (StatusPool){
                .pool = s.pool_name,
                .process_manager = s.pm_name,
                .start_time = sb->start_usec / USEC_PER_SEC,
                .start_since = now > sb->start_usec ? (now - sb->start_usec) / USEC_PER_SEC : 0,
                .accepted_conn = sb->accepted_conn,
                .listen_queue = listen_queue >= 0 ? (uint64_t)listen_queue : 0,
                .max_listen_queue = sb->max_listen_queue,
                .listen_queue_len = listen_queue_len >= 0 ? (uint64_t)listen_queue_len : 0,
                .idle_processes = c.idle,
                .active_processes = c.active,
                .total_processes = c.total,
                .max_active_processes = MAX(sb->max_active, (uint64_t)c.active),
                .max_children_reached = sb->max_children_reached,
                .slow_requests = sb->slow_requests,
                .memory_peak = sb->memory_peak,
                .cgroup_memory_current = sb->cgroup_memory,
                .cgroup_cpu_usage_usec = sb->cgroup_cpu_usec,
                .requests_abandoned = sb->requests_abandoned,
                .requests_aborted = sb->requests_aborted,
                .requests_shed = sb->requests_shed,
        };

        for (unsigned i = 0; i < n_slots && s.n_procs < c.total; i++) {
                const ScoreboardSlot *slot = &sb->slots[i];
                int32_t state = slot->state;
                StatusProc *p;
                char *o;

                if (state == WORKER_FREE)
                        continue;
                p = &s.procs[s.n_procs];
                o = s.strings + per * s.n_procs;
                s.n_procs++;

                /* The worker may write while we read: each copy is bounded and NUL-terminated */
#define COPY(field)                                                        \
        ({                                                                 \
                char *_d_ = o;                                             \
                memcpy(o, (const char *)slot->field, sizeof(slot->field)); \
                o[sizeof(slot->field) - 1] = 0;                            \
                o += sizeof(slot->field);                                  \
                _d_;                                                       \
        })
                *p = (StatusProc){
                        .pid = slot->pid,
                        .state = worker_state_to_string(state),
                        .start_time = slot->started_usec / USEC_PER_SEC,
                        .start_since = now > slot->started_usec ? (now - slot->started_usec) / USEC_PER_SEC : 0,
                        .requests = slot->requests,
                        .content_length = slot->content_length,
                        .last_request_memory = slot->last_memory,
                        .rss = UINT64_MAX,
                        .last_request_cpu = slot->last_duration_usec > 0 ? 100.0 * (double)slot->last_cpu_usec /
                                                                                   (double)slot->last_duration_usec
                                                                         : 0.0,
                };
                p->request_method = COPY(method);
                p->request_uri = COPY(uri);
                p->query_string = COPY(query);
                p->user = COPY(user);
                p->script = COPY(script);
#undef COPY
                /* As PHP-FPM: the running request's time so far, else the last one's; the last request's CPU and
                 * memory only for an idle worker */
                if (state == WORKER_IDLE || state == WORKER_STARTING)
                        p->request_duration = slot->last_duration_usec;
                else {
                        p->request_duration = now > slot->request_start_usec ? now - slot->request_start_usec : 0;
                        p->last_request_cpu = 0.0;
                        p->last_request_memory = 0;
                }
        }

        for (size_t i = 0; i < STATUS_BUCKETS; i++) {
                s.extra.duration.buckets[i] = sb->duration_buckets[i];
                s.extra.wait.buckets[i] = sb->wait_buckets[i];
        }
        s.extra.duration.sum_usec = sb->duration_sum_usec;
        s.extra.wait.sum_usec = sb->wait_sum_usec;
        for (size_t i = 0; i < 5; i++)
                s.extra.status_classes[i] = sb->status_classes[i];
        s.extra.requests_terminated = sb->requests_terminated;
        s.extra.workers_killed = sb->workers_killed;
        s.extra.max_children = n_slots;

        *ret = s;
        /* The pool's strings and extras live in the snapshot itself: point into the caller's copy, not into ours */
        ret->pool.pool = ret->pool_name;
        ret->pool.process_manager = ret->pm_name;
        ret->pool.extra = &ret->extra;
        return 0;
}

void status_snapshot_done(StatusSnapshot *s)
{
        free(s->procs);
        free(s->strings);
        *s = (StatusSnapshot){};
}
