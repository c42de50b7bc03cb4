/* fuzz-status: the status page. The input gives a query string for status_parse_query(), then the pool's and
 * the workers' strings and numbers; every format is rendered, full and not, and checked: JSON parses as JSON
 * (and is ASCII), XML is well-formed with no '<' or bare '&' in a value, every format is valid UTF-8 and has the
 * same lines and tags as the same page with plain strings, OpenMetrics lines are comments or samples. With the
 * first byte odd, the rest of the input is a scoreboard as a worker could have written it, read by
 * status_snapshot() after the size check scoreboard_open() makes. */
#include <stdio.h>

#include "fuzz.h"
#include "scoreboard.h"
#include "status.h"

#define PROCS_MAX 6

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_quiet();
        /* Dates in a fixed zone, so that a run does not depend on the machine's */
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        return 0;
}

/* ---- A strict JSON checker (RFC 8259) ---- */

typedef struct Json {
        const char *p, *end;
        int depth;
} Json;

static bool json_value(Json *j);

static void json_blank(Json *j)
{
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
                j->p++;
}

static bool json_lit(Json *j, const char *word)
{
        size_t n = strlen(word);

        if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
                return false;
        j->p += n;
        return true;
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool json_string(Json *j)
{
        if (j->p >= j->end || *j->p != '"')
                return false;
        for (j->p++; j->p < j->end; j->p++) {
                unsigned char c = (unsigned char)*j->p;

                if (c == '"') {
                        j->p++;
                        return true;
                }
                if (c < 0x20)
                        return false;
                if (c != '\\')
                        continue;
                if (++j->p >= j->end)
                        return false;
                if (*j->p == 'u') {
                        for (int i = 1; i <= 4; i++)
                                if (j->p + i >= j->end || !is_hex(j->p[i]))
                                        return false;
                        j->p += 4;
                } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p)
                        return false;
        }
        return false;
}

static bool json_digits(Json *j)
{
        const char *s = j->p;

        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                j->p++;
        return j->p > s;
}

static bool json_number(Json *j)
{
        if (j->p < j->end && *j->p == '-')
                j->p++;
        if (j->p < j->end && *j->p == '0')
                j->p++;
        else if (!json_digits(j))
                return false;
        if (j->p < j->end && *j->p == '.') {
                j->p++;
                if (!json_digits(j))
                        return false;
        }
        if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
                j->p++;
                if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                        j->p++;
                if (!json_digits(j))
                        return false;
        }
        return true;
}

static bool json_members(Json *j, char close, bool object)
{
        json_blank(j);
        if (j->p < j->end && *j->p == close) {
                j->p++;
                return true;
        }
        for (;;) {
                if (object) {
                        json_blank(j);
                        if (!json_string(j))
                                return false;
                        json_blank(j);
                        if (j->p >= j->end || *j->p++ != ':')
                                return false;
                }
                if (!json_value(j))
                        return false;
                json_blank(j);
                if (j->p >= j->end)
                        return false;
                if (*j->p == close) {
                        j->p++;
                        return true;
                }
                if (*j->p++ != ',')
                        return false;
        }
}

static bool json_value(Json *j)
{
        bool ok;

        json_blank(j);
        if (j->p >= j->end || ++j->depth > 64)
                return false;
        switch (*j->p) {
        case '{':
                j->p++;
                ok = json_members(j, '}', true);
                break;
        case '[':
                j->p++;
                ok = json_members(j, ']', false);
                break;
        case '"':
                ok = json_string(j);
                break;
        case 't':
                ok = json_lit(j, "true");
                break;
        case 'f':
                ok = json_lit(j, "false");
                break;
        case 'n':
                ok = json_lit(j, "null");
                break;
        default:
                ok = json_number(j);
        }
        j->depth--;
        return ok;
}

static bool json_valid(const char *s, size_t n)
{
        Json j = {s, s + n, 0};

        if (!json_value(&j))
                return false;
        json_blank(&j);
        return j.p == j.end;
}

/* ---- UTF-8, XML and line checks ---- */

static bool utf8_valid(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len = c < 0x80                 ? 1
                             : c >= 0xC2 && c <= 0xDF ? 2
                             : c >= 0xE0 && c <= 0xEF ? 3
                             : c >= 0xF0 && c <= 0xF4 ? 4
                                                      : 0;
                uint32_t cp;

                if (len == 0 || i + len > n)
                        return false;
                cp = len == 1 ? c : c & (0xFF >> (len + 1));
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3F);
                }
                if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
                        return false;
                i += len;
        }
        return true;
}

/* Well-formed as far as the status page goes: "<?xml ...?>", <name> and </name> balanced, text without '<', '&'
 * only in &amp; &lt; &gt; &quot; &apos; or &#NN;, no control character but tab, LF and CR */
static void check_xml(const char *s, size_t n)
{
        char stack[8][32];
        int depth = 0;
        const char *p = s, *end = s + n;

        FUZZ_CHECK(strneq(s, "<?xml version=\"1.0\" ?>\n", 23), "XML declaration");
        p += 23;
        while (p < end) {
                if (*p == '<') {
                        const char *close = memchr(p, '>', (size_t)(end - p));
                        bool closing = p[1] == '/';
                        const char *name = p + 1 + closing;
                        size_t len;

                        FUZZ_CHECK(close, "unclosed tag");
                        len = (size_t)(close - name);
                        /* Names of our own fields: a lower-case letter first, then XML name characters ('.' in the
                         * histograms' bounds, "request-duration-le-0.005") */
                        FUZZ_CHECK(len > 0 && len < 32 && name[0] >= 'a' && name[0] <= 'z' &&
                                           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") == len,
                                "bad tag '%.*s'", (int)(close - p + 1), p);
                        if (closing) {
                                FUZZ_CHECK(depth > 0 && strlen(stack[depth - 1]) == len &&
                                                   memcmp(stack[depth - 1], name, len) == 0,
                                        "</%.*s> does not close the open tag", (int)len, name);
                                depth--;
                        } else {
                                FUZZ_CHECK(depth < 8, "too deep");
                                memcpy(stack[depth], name, len);
                                stack[depth++][len] = 0;
                        }
                        p = close + 1;
                        continue;
                }
                if (*p == '&') {
                        static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
                        bool ok = false;

                        for (size_t i = 0; i < ELEMENTSOF(entities); i++)
                                if (strneq(p, entities[i], strlen(entities[i])))
                                        ok = true;
                        if (!ok && p[1] == '#') {
                                size_t d = strspn(p + 2, "0123456789");
                                ok = d > 0 && p[2 + d] == ';';
                        }
                        FUZZ_CHECK(ok, "a bare '&' in XML: '%.10s'", p);
                }
                FUZZ_CHECK(*p != '>' || p == s, "a bare '>' in XML text");
                FUZZ_CHECK((unsigned char)*p >= 0x20 || *p == '\t' || *p == '\n' || *p == '\r', "control 0x%02x in XML",
                        (unsigned char)*p);
                p++;
        }
        FUZZ_CHECK(depth == 0, "%d tags left open", depth);
}

static size_t count(const char *s, size_t n, char c)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += s[i] == c;
        return k;
}

/* A label value: escaped-string, a '\\' only in \\\\, \\n or \\", up to its closing '"'; returns its length with the
 * quote */
static size_t label_value(const char *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK((unsigned char)v[i] >= 0x20 && v[i] != 0x7f, "a control in a label value");
                if (v[i] == '"')
                        return i + 1;
                if (v[i] == '\\') {
                        FUZZ_CHECK(i + 1 < n && strchr("\\n\"", v[i + 1]), "a bad escape in a label value");
                        i++;
                }
        }
        FUZZ_CHECK(false, "an unterminated label value");
        return n;
}

/* Every line a comment ("# HELP", "# TYPE", "# UNIT", "# EOF") or "name[{label="value",...}] value" */
static void check_openmetrics(const char *s, size_t n)
{
        FUZZ_CHECK(n >= 6 && streq(s + n - 6, "# EOF\n"), "no # EOF at the end");
        for (const char *line = s; line < s + n;) {
                const char *nl = memchr(line, '\n', (size_t)(s + n - line));
                size_t len;

                FUZZ_CHECK(nl, "an unterminated line");
                len = (size_t)(nl - line);
                if (line[0] == '#') {
                        FUZZ_CHECK(strneq(line, "# HELP ", 7) || strneq(line, "# TYPE ", 7) ||
                                           strneq(line, "# UNIT ", 7) || (len == 5 && strneq(line, "# EOF", 5)),
                                "comment '%.*s'", (int)len, line);
                        /* escaped-string: a '\\' only in \\\\, \\n or \\", no other '"' */
                        for (size_t i = 0; i < len; i++) {
                                FUZZ_CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f, "a control in a line");
                                FUZZ_CHECK(line[i] != '"', "an unescaped '\"' in '%.*s'", (int)len, line);
                                if (line[i] == '\\') {
                                        FUZZ_CHECK(i + 1 < len && strchr("\\n\"", line[i + 1]),
                                                "a bad escape in '%.*s'", (int)len, line);
                                        i++;
                                }
                        }
                } else {
                        size_t i = strspn(line, "abcdefghijklmnopqrstuvwxyz_");

                        FUZZ_CHECK(i > 0, "sample '%.*s'", (int)len, line);
                        if (i < len && line[i] == '{') {
                                i++;
                                for (;;) {
                                        size_t k = strspn(line + i, "abcdefghijklmnopqrstuvwxyz_");

                                        FUZZ_CHECK(k > 0 && i + k + 1 < len && line[i + k] == '=' &&
                                                           line[i + k + 1] == '"',
                                                "a label in '%.*s'", (int)len, line);
                                        i += k + 2;
                                        i += label_value(line + i, len - i);
                                        FUZZ_CHECK(i < len && (line[i] == ',' || line[i] == '}'), "labels in '%.*s'",
                                                (int)len, line);
                                        if (line[i++] == '}')
                                                break;
                                }
                        }
                        FUZZ_CHECK(i < len && line[i] == ' ' && strspn(line + i + 1, "0123456789.") == len - i - 1 &&
                                           len > i + 1,
                                "sample '%.*s'", (int)len, line);
                }
                line = nl + 1;
        }
}

/* ---- The pages ---- */

typedef struct Page {
        StatusPool pool;
        StatusProc procs[PROCS_MAX];
        size_t n_procs;
} Page;

/* The same page with every non-empty string "x": the page's shape without anything to escape */
static void page_plain(const Page *in, Page *out)
{
        *out = *in;
#define PLAIN(s) (s) = isempty(s) ? (s) : "x"
        PLAIN(out->pool.pool);
        PLAIN(out->pool.process_manager);
        for (size_t i = 0; i < out->n_procs; i++) {
                StatusProc *p = &out->procs[i];
                PLAIN(p->state);
                PLAIN(p->request_method);
                PLAIN(p->request_uri);
                PLAIN(p->query_string);
                PLAIN(p->user);
                PLAIN(p->script);
        }
#undef PLAIN
}

static int render(const Page *page, const StatusProc *procs, StatusFormat f, bool full, char **ret, size_t *ret_len)
{
        const char *type = NULL;
        int r = status_render(f, full, &page->pool, procs, page->n_procs, ret, ret_len, &type);

        FUZZ_CHECK(r == 0 || r == -ERANGE, "status_render returned %d", r);
        if (r == 0)
                FUZZ_CHECK(type && strlen(*ret) == *ret_len, "length %zu, strlen %zu", *ret_len, strlen(*ret));
        return r;
}

static void check_page(const Page *page, const StatusProc *procs)
{
        Page plain;

        page_plain(page, &plain);
        for (StatusFormat f = 0; f < _STATUS_FORMAT_MAX; f++)
                for (int full = 0; full <= 1; full++) {
                        _cleanup_free_ char *body = NULL, *plain_body = NULL;
                        size_t len = 0, plain_len = 0;
                        int r;

                        r = render(page, procs, f, full, &body, &len);
                        FUZZ_CHECK(r == 0 || f == STATUS_FORMAT_TEXT || f == STATUS_FORMAT_HTML,
                                "%s has no dates, yet returned %d", status_format_to_string(f), r);
                        if (r < 0)
                                continue;
                        FUZZ_CHECK(render(&plain, procs ? plain.procs : NULL, f, full, &plain_body, &plain_len) == 0,
                                "the plain page failed where the real one did not");
                        FUZZ_CHECK(utf8_valid((const unsigned char *)body, len), "%s is not UTF-8",
                                status_format_to_string(f));
                        /* Markup keeps a value's LF (it is text there), and only markup has to escape '<' */
                        if (f == STATUS_FORMAT_XML || f == STATUS_FORMAT_HTML)
                                FUZZ_CHECK(count(body, len, '<') == count(plain_body, plain_len, '<'),
                                        "%s: a value adds a '<'", status_format_to_string(f));
                        else
                                FUZZ_CHECK(count(body, len, '\n') == count(plain_body, plain_len, '\n'),
                                        "%s: a value adds lines", status_format_to_string(f));
                        switch (f) {
                        case STATUS_FORMAT_JSON:
                                FUZZ_CHECK(json_valid(body, len), "invalid JSON:\n%s", body);
                                for (size_t i = 0; i < len; i++)
                                        FUZZ_CHECK((unsigned char)body[i] < 0x80, "JSON is not ASCII");
                                break;
                        case STATUS_FORMAT_XML:
                                check_xml(body, len);
                                break;
                        case STATUS_FORMAT_HTML:
                                FUZZ_CHECK(count(body, len, '>') == count(plain_body, plain_len, '>') &&
                                                   count(body, len, '"') == count(plain_body, plain_len, '"'),
                                        "HTML: a value adds markup");
                                break;
                        case STATUS_FORMAT_OPENMETRICS:
                                check_openmetrics(body, len);
                                break;
                        default:
                                for (size_t i = 0; i < len; i++)
                                        FUZZ_CHECK((unsigned char)body[i] >= 0x20 || body[i] == '\n',
                                                "a control in the text page");
                        }
                }
}

/* ---- The query ---- */

/* The query URL-decoded as a whole, '+' a blank: a word the parser found must be in it */
static char *query_decode(const char *q, size_t *ret_len)
{
        char *out = malloc(strlen(q) + 1), *o = out;

        if (!out)
                abort();
        for (; *q; q++) {
                if (*q == '%' && is_hex(q[1]) && is_hex(q[2])) {
                        char hex[3] = {q[1], q[2], 0};
                        *o++ = (char)strtol(hex, NULL, 16);
                        q += 2;
                } else
                        *o++ = *q == '+' ? ' ' : *q;
        }
        *o = 0;
        *ret_len = (size_t)(o - out);
        return out;
}

/* Whether word is in the decoded query; a NUL decoded from %00 does not hide what follows it */
static bool decoded_has(const char *decoded, size_t len, const char *word)
{
        for (const char *s = decoded; s < decoded + len; s += strlen(s) + 1)
                if (strstr(s, word))
                        return true;
        return false;
}

static void check_query(const char *query)
{
        static const char *const words[_STATUS_FORMAT_MAX] = {
                [STATUS_FORMAT_JSON] = "json",
                [STATUS_FORMAT_XML] = "xml",
                [STATUS_FORMAT_HTML] = "html",
                [STATUS_FORMAT_OPENMETRICS] = "openmetrics",
        };
        size_t len;
        _cleanup_free_ char *decoded = query_decode(query, &len);
        StatusFormat f = _STATUS_FORMAT_INVALID, g = _STATUS_FORMAT_INVALID;
        bool full = false, full2 = true;

        status_parse_query(query, &f, &full);
        FUZZ_CHECK(f >= 0 && f < _STATUS_FORMAT_MAX, "format %d", f);
        status_parse_query(query, &g, NULL);
        status_parse_query(query, NULL, &full2);
        FUZZ_CHECK(f == g && full == full2, "the outputs depend on each other");
        if (words[f])
                FUZZ_CHECK(decoded_has(decoded, len, words[f]), "format %s from '%s'", words[f], query);
        if (full)
                FUZZ_CHECK(decoded_has(decoded, len, "full"), "full from '%s'", query);
}

static char *take_string(Input *in, char **strings, size_t *n)
{
        char *s = input_until(in, 0, NULL);

        strings[(*n)++] = s;
        /* An empty string or NULL: both print "-" */
        if (!s[0] && input_bool(in))
                return NULL;
        return s;
}

static void fill_page(Page *page, Input *in, char **strings, size_t *n_strings)
{
        StatusPool *p = &page->pool;

        p->pool = take_string(in, strings, n_strings);
        p->process_manager = take_string(in, strings, n_strings);
        p->start_time = input_uint(in, 5);
        p->start_since = input_uint(in, 8);
        p->accepted_conn = input_uint(in, 8);
        p->listen_queue = input_uint(in, 2);
        p->max_listen_queue = input_uint(in, 2);
        p->listen_queue_len = input_uint(in, 2);
        p->idle_processes = input_uint(in, 2);
        p->active_processes = input_uint(in, 2);
        p->total_processes = input_uint(in, 2);
        p->max_active_processes = input_uint(in, 2);
        p->max_children_reached = input_uint(in, 2);
        p->slow_requests = input_uint(in, 8);
        p->memory_peak = input_bool(in) ? UINT64_MAX : input_uint(in, 8);
        p->cgroup_memory_current = input_bool(in) ? UINT64_MAX : input_uint(in, 8);
        p->cgroup_cpu_usage_usec = input_bool(in) ? UINT64_MAX : input_uint(in, 8);

        page->n_procs = input_u8(in) % (PROCS_MAX + 1);
        for (size_t i = 0; i < page->n_procs; i++) {
                StatusProc *w = &page->procs[i];
                uint64_t bits;

                w->pid = (int)input_uint(in, 4);
                w->state = take_string(in, strings, n_strings);
                w->start_time = input_uint(in, 5);
                w->start_since = input_uint(in, 4);
                w->requests = input_uint(in, 8);
                w->request_duration = input_uint(in, 8);
                w->request_method = take_string(in, strings, n_strings);
                w->request_uri = take_string(in, strings, n_strings);
                w->query_string = take_string(in, strings, n_strings);
                w->content_length = input_uint(in, 8);
                w->user = take_string(in, strings, n_strings);
                w->script = take_string(in, strings, n_strings);
                bits = input_uint(in, 8);
                memcpy(&w->last_request_cpu, &bits, sizeof(bits));
                w->last_request_memory = input_uint(in, 8);
        }
}

/* The scoreboard: a copy of the input, as large as the input says, with the checks of scoreboard_open() */
static void check_snapshot(Input *in)
{
        _cleanup_free_ Scoreboard *sb = NULL;
        StatusSnapshot snap;
        size_t size = MAX(in->left, sizeof(Scoreboard));
        unsigned n_slots = 0;
        Page page = {};

        sb = calloc(1, size);
        if (!sb)
                abort();
        memcpy(sb, in->p, in->left);
        sb->magic = SCOREBOARD_MAGIC;
        /* The reader's own slot count (what fits), whatever the header's n_slots says */
        while (n_slots < 64 && scoreboard_size(n_slots + 1) <= size)
                n_slots++;
        FUZZ_CHECK(status_snapshot(sb, n_slots, 1700000000 * USEC_PER_SEC, -1, (long long)sb->start_usec % 4096 - 1,
                           &snap) == 0,
                "status_snapshot");
        page.pool = snap.pool;
        page.n_procs = MIN(snap.n_procs, (size_t)PROCS_MAX);
        memcpy(page.procs, snap.procs, page.n_procs * sizeof(StatusProc));
        check_page(&page, page.procs);
        status_snapshot_done(&snap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Input in = {data, size};
        char *strings[2 + PROCS_MAX * 6];
        size_t n_strings = 0;
        bool scoreboard = input_u8(&in) & 1;
        Page page = {};

        {
                _cleanup_free_ char *query = input_until(&in, 0, NULL);
                check_query(query);
        }
        if (scoreboard) {
                check_snapshot(&in);
                return 0;
        }
        fill_page(&page, &in, strings, &n_strings);
        check_page(&page, page.n_procs > 0 ? page.procs : NULL);
        for (size_t i = 0; i < n_strings; i++)
                free(strings[i]);
        return 0;
}
