/* fuzz-pathinfo: PHP-FPM's script path resolution on any params and any file table. The input is text, one item
 * a line, in the words of tests/unit/data/pathinfo-*.txt:
 *   file /srv/www/index.php     a regular file of the fake file system
 *   dir /srv/www                a folder of it ("/" always exists)
 *   param NAME=VALUE            a param as the web server sends it (\n \t \r \\ \0 \xHH escapes)
 *   option fix_pathinfo=0       cgi.fix_pathinfo (default 1); also discard_path=1 and doc_root=VALUE
 * Other lines are ignored. The params are resolved twice: parsed from a FastCGI stream into the arena, as a
 * worker gets them, and set one by one into heap strings of their own, so that ASan sees a read past any value.
 * Both must give the same result, and the resolved PATH_INFO is always a part of what was sent (CVE-2019-11043):
 * a suffix of PATH_INFO, or with Apache's proxy: URL a piece of SCRIPT_FILENAME.
 */
#include <stdio.h>

#include "fuzz.h"
#include "pathinfo.h"

#define ITEMS_MAX 64

typedef struct Case {
        char *files[ITEMS_MAX], *dirs[ITEMS_MAX];
        size_t n_files, n_dirs;
        char *names[ITEMS_MAX], *values[ITEMS_MAX];
        size_t value_lens[ITEMS_MAX], n_params;
        PathinfoOptions options;
        char *doc_root;
} Case;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_quiet();
        return 0;
}

static int hex(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* Unescapes in place; returns the length (NUL bytes may be inside) */
static size_t unescape(char *s)
{
        char *o = s;

        for (char *p = s; *p; p++) {
                if (*p != '\\' || !p[1]) {
                        *o++ = *p;
                        continue;
                }
                p++;
                if (*p == 'x' && hex(p[1]) >= 0 && hex(p[2]) >= 0) {
                        *o++ = (char)(hex(p[1]) * 16 + hex(p[2]));
                        p += 2;
                } else
                        *o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p == '0' ? '\0' : *p;
        }
        *o = 0;
        return (size_t)(o - s);
}

static void case_parse(Case *c, const uint8_t *data, size_t size)
{
        Input in = {data, size};

        c->options.fix_pathinfo = true;
        while (in.left > 0) {
                _cleanup_free_ char *line = input_until(&in, '\n', NULL);
                char *eq;

                if (strneq(line, "file ", 5) && c->n_files < ITEMS_MAX)
                        c->files[c->n_files++] = strdup(line + 5);
                else if (strneq(line, "dir ", 4) && c->n_dirs < ITEMS_MAX)
                        c->dirs[c->n_dirs++] = strdup(line + 4);
                else if (strneq(line, "param ", 6) && (eq = strchr(line + 6, '=')) && c->n_params < ITEMS_MAX) {
                        c->names[c->n_params] = strndup(line + 6, (size_t)(eq - line - 6));
                        c->values[c->n_params] = strdup(eq + 1);
                        c->value_lens[c->n_params] = unescape(c->values[c->n_params]);
                        c->n_params++;
                } else if (streq(line, "option fix_pathinfo=0"))
                        c->options.fix_pathinfo = false;
                else if (streq(line, "option discard_path=1"))
                        c->options.discard_path = true;
                else if (strneq(line, "option doc_root=", 16)) {
                        free(c->doc_root);
                        c->doc_root = strdup(line + 16);
                        unescape(c->doc_root);
                        c->options.doc_root = c->doc_root;
                }
        }
}

static void case_done(Case *c)
{
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        for (size_t i = 0; i < c->n_dirs; i++)
                free(c->dirs[i]);
        for (size_t i = 0; i < c->n_params; i++) {
                free(c->names[i]);
                free(c->values[i]);
        }
        free(c->doc_root);
}

/* The path as realpath() sees it: "//", "/./" and "/x/../" folded; NULL when it runs above the root */
static char *normalize(const char *path)
{
        char *out = malloc(strlen(path) + 2), *copy = strdup(path), *save = NULL;
        size_t n = 0;

        if (!out || !copy)
                abort();
        out[0] = 0;
        for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                if (streq(part, "."))
                        continue;
                if (streq(part, "..")) {
                        char *slash = strrchr(out, '/');

                        if (!slash) {
                                free(copy);
                                free(out);
                                return NULL;
                        }
                        *slash = 0;
                        n = (size_t)(slash - out);
                        continue;
                }
                n += (size_t)sprintf(out + n, "/%s", part);
        }
        if (n == 0)
                strcpy(out, "/");
        free(copy);
        return out;
}

static bool in_list(char *const *list, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] && streq(list[i], path))
                        return true;
        return false;
}

static bool fake_realpath(const char *path, char ret[PATH_MAX], void *userdata)
{
        const Case *c = userdata;
        _cleanup_free_ char *n = NULL;
        size_t l = strlen(path);

        FUZZ_CHECK(l > 0, "realpath of an empty path");
        if (path[0] != '/')
                return false;
        n = normalize(path);
        if (!n)
                return false;
        /* A file named with a trailing '/' is ENOTDIR */
        if ((in_list(c->files, c->n_files, n) && path[l - 1] != '/') || in_list(c->dirs, c->n_dirs, n) ||
                streq(n, "/")) {
                snprintf(ret, PATH_MAX, "%s", n);
                return true;
        }
        return false;
}

static bool fake_is_file(const char *path, void *userdata)
{
        const Case *c = userdata;
        _cleanup_free_ char *n = path[0] == '/' ? normalize(path) : NULL;

        return n && in_list(c->files, c->n_files, n);
}

static const char *const watched[] = {
        "SCRIPT_FILENAME",
        "SCRIPT_NAME",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "DOCUMENT_ROOT",
        "ORIG_SCRIPT_FILENAME",
        "ORIG_SCRIPT_NAME",
        "ORIG_PATH_INFO",
        "ORIG_PATH_TRANSLATED",
        "REDIRECT_URL",
        "SERVER_SOFTWARE",
};

static bool streq_null(const char *a, const char *b)
{
        return a && b ? streq(a, b) : a == b;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && streq(s + a - b, suffix);
}

static char *strdup_null(const char *s)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                abort();
        return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PathinfoFs fs = {.realpath = fake_realpath, .is_file = fake_is_file};
        PathinfoResult ra = {}, rb = {};
        FcgiParams a, b;
        Case c = {};
        _cleanup_free_ char *sent_pi = NULL, *sent_sf = NULL, *sent_pt = NULL;
        const char *pi;
        bool apache;

        case_parse(&c, data, size);
        fs.userdata = &c;

        /* a: as a worker gets them, from the stream into the arena, after request.c's FCGI_ROLE */
        fcgi_params_init(&a, SIZE_MAX);
        FUZZ_CHECK(fcgi_params_set_static(&a, "FCGI_ROLE", "RESPONDER") == 0, "set_static");
        for (size_t i = 0; i < c.n_params; i++) {
                size_t nl = strlen(c.names[i]);
                size_t need = fcgi_nv_write(NULL, 0, c.names[i], nl, c.values[i], c.value_lens[i]);
                _cleanup_free_ uint8_t *pair = malloc(need);

                if (!pair)
                        abort();
                fcgi_nv_write(pair, need, c.names[i], nl, c.values[i], c.value_lens[i]);
                FUZZ_CHECK(fcgi_params_append(&a, pair, need) == 0, "append");
        }
        FUZZ_CHECK(fcgi_params_parse(&a) == 0, "parse");

        /* b: each value a heap string of its own */
        fcgi_params_init(&b, SIZE_MAX);
        FUZZ_CHECK(fcgi_params_set_static(&b, "FCGI_ROLE", "RESPONDER") == 0, "set_static");
        for (size_t i = 0; i < c.n_params; i++)
                FUZZ_CHECK(fcgi_params_set(&b, c.names[i], c.values[i]) == 0, "set");

        sent_pi = strdup_null(fcgi_params_get(&a, "PATH_INFO"));
        sent_sf = strdup_null(fcgi_params_get(&a, "SCRIPT_FILENAME"));
        sent_pt = strdup_null(fcgi_params_get(&a, "PATH_TRANSLATED"));
        apache = sent_sf &&
                 (strncasecmp(sent_sf, "proxy:fcgi://", 13) == 0 || strncasecmp(sent_sf, "proxy:balancer://", 17) == 0);

        FUZZ_CHECK(pathinfo_resolve(&a, &c.options, &fs, &ra) == 0, "resolve");
        rb = (PathinfoResult){};
        FUZZ_CHECK(pathinfo_resolve(&b, &c.options, &fs, &rb) == 0, "resolve");

        /* Where the values live makes no difference */
        FUZZ_CHECK(streq_null(ra.script, rb.script) && streq_null(ra.script_name, rb.script_name) &&
                           streq_null(ra.script_real, rb.script_real),
                "results differ: script %s / %s", strna(ra.script), strna(rb.script));
        for (size_t i = 0; i < ELEMENTSOF(watched); i++)
                FUZZ_CHECK(streq_null(fcgi_params_get(&a, watched[i]), fcgi_params_get(&b, watched[i])),
                        "%s differs: '%s' / '%s'", watched[i], strna(fcgi_params_get(&a, watched[i])),
                        strna(fcgi_params_get(&b, watched[i])));

        /* CVE-2019-11043: PATH_INFO never grows beyond what the web server sent */
        pi = fcgi_params_get(&a, "PATH_INFO");
        if (pi && !apache)
                FUZZ_CHECK(sent_pi && has_suffix(sent_pi, pi), "PATH_INFO '%s' is no suffix of the sent '%s'", pi,
                        strna(sent_pi));
        if (pi && apache)
                FUZZ_CHECK((sent_pi && has_suffix(sent_pi, pi)) || strstr(sent_sf, pi),
                        "PATH_INFO '%s' comes from neither PATH_INFO '%s' nor SCRIPT_FILENAME '%s'", pi, strna(sent_pi),
                        sent_sf);

        /* The script is the path sent, or a part of it cut at a '/' */
        if (ra.script) {
                FUZZ_CHECK((sent_sf && strstr(sent_sf, ra.script)) ||
                                   (sent_pt && strneq(sent_pt, ra.script, strlen(ra.script))),
                        "script '%s' from neither SCRIPT_FILENAME '%s' nor PATH_TRANSLATED '%s'", ra.script,
                        strna(sent_sf), strna(sent_pt));
                (void)pathinfo_path_valid(ra.script);
                if (c.options.fix_pathinfo)
                        FUZZ_CHECK(streq_null(fcgi_params_get(&a, "SCRIPT_FILENAME"), ra.script),
                                "SCRIPT_FILENAME '%s', script '%s'", strna(fcgi_params_get(&a, "SCRIPT_FILENAME")),
                                ra.script);
        }
        if (ra.script_real)
                FUZZ_CHECK(strlen(ra.script_real) < PATH_MAX && ra.script, "script_real without a script");

        pathinfo_result_done(&ra);
        pathinfo_result_done(&rb);
        fcgi_params_done(&a);
        fcgi_params_done(&b);
        case_done(&c);
        return 0;
}
