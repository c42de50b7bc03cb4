/* test-pathinfo: the script paths of requests as PHP-FPM 8.2 gave them behind real web servers, replayed on a
 * table of files (data/pathinfo-*.txt: the params each web server sent, and PHP-FPM's $_SERVER for them) */
#include <stdio.h>

#include "pathinfo.h"
#include "test.h"

#define MAX_ITEMS 128

typedef struct Pair {
        char *name, *value; /* value NULL: "unset NAME" */
} Pair;

typedef struct Case {
        char *title;
        Pair params[MAX_ITEMS], expects[MAX_ITEMS];
        size_t n_params, n_expects;
        int status;
} Case;

typedef struct Table {
        char *files[MAX_ITEMS * 4], *dirs[MAX_ITEMS];
        size_t n_files, n_dirs;
        Case *cases;
        size_t n_cases;
} Table;

/* "\n", "\\" and "\t" in values, as the generator writes them */
static char *unescape(const char *s)
{
        char *out = malloc(strlen(s) + 1), *o = out;

        ck_assert_ptr_nonnull(out);
        for (; *s; s++) {
                if (*s != '\\' || !s[1]) {
                        *o++ = *s;
                        continue;
                }
                s++;
                *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
        }
        *o = 0;
        return out;
}

static Pair pair_parse(const char *s, bool has_value)
{
        const char *eq = has_value ? strchr(s, '=') : NULL;
        Pair p;

        if (has_value)
                ck_assert_msg(eq != NULL, "no '=' in '%s'", s);
        p.name = has_value ? strndup(s, (size_t)(eq - s)) : strdup(s);
        p.value = has_value ? unescape(eq + 1) : NULL;
        return p;
}

static void table_load(Table *t, const char *name)
{
        char path[1024], line[8192];
        const char *dir = getenv("TEST_DATA");
        Case *c = NULL;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
        f = fopen(path, "re");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (line[0] == '#' || line[0] == 0)
                        continue;
                if (strneq(line, "file ", 5)) {
                        ck_assert_uint_lt(t->n_files, ELEMENTSOF(t->files));
                        t->files[t->n_files++] = strdup(line + 5);
                } else if (strneq(line, "dir ", 4)) {
                        ck_assert_uint_lt(t->n_dirs, ELEMENTSOF(t->dirs));
                        t->dirs[t->n_dirs++] = strdup(line + 4);
                } else if (strneq(line, "case ", 5)) {
                        t->cases = realloc(t->cases, (t->n_cases + 1) * sizeof(Case));
                        ck_assert_ptr_nonnull(t->cases);
                        c = &t->cases[t->n_cases++];
                        *c = (Case){.title = strdup(line + 5), .status = 200};
                } else if (c && strneq(line, "param ", 6)) {
                        ck_assert_uint_lt(c->n_params, MAX_ITEMS);
                        c->params[c->n_params++] = pair_parse(line + 6, true);
                } else if (c && strneq(line, "expect ", 7)) {
                        ck_assert_uint_lt(c->n_expects, MAX_ITEMS);
                        c->expects[c->n_expects++] = pair_parse(line + 7, true);
                } else if (c && strneq(line, "unset ", 6)) {
                        ck_assert_uint_lt(c->n_expects, MAX_ITEMS);
                        c->expects[c->n_expects++] = pair_parse(line + 6, false);
                } else if (c && strneq(line, "status ", 7))
                        c->status = atoi(line + 7);
                else if (c && streq(line, "end"))
                        c = NULL;
                else
                        ck_abort_msg("%s: cannot read line '%s'", path, line);
        }
        fclose(f);
}

/* The path as realpath() sees it: "//", "/./" and "/x/../" folded; NULL when it runs above the root */
static char *normalize(const char *path)
{
        char *out = malloc(strlen(path) + 2), *copy = strdup(path), *save = NULL;
        size_t n = 0;

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
                if (streq(list[i], path))
                        return true;
        return false;
}

static bool fake_realpath(const char *path, char ret[PATH_MAX], void *userdata)
{
        const Table *t = userdata;
        _cleanup_free_ char *n = NULL;
        size_t l = strlen(path);

        if (path[0] != '/')
                return false;
        n = normalize(path);
        if (!n)
                return false;
        /* A file named with a trailing '/' is ENOTDIR */
        if (in_list(t->files, t->n_files, n) && path[l - 1] != '/') {
                snprintf(ret, PATH_MAX, "%s", n);
                return true;
        }
        if (in_list(t->dirs, t->n_dirs, n) || streq(n, "/")) {
                snprintf(ret, PATH_MAX, "%s", n);
                return true;
        }
        return false;
}

static bool fake_is_file(const char *path, void *userdata)
{
        const Table *t = userdata;
        _cleanup_free_ char *n = path[0] == '/' ? normalize(path) : NULL;

        return n && in_list(t->files, t->n_files, n);
}

/* $_SERVER as the SAPI builds it: the params, then PHP_SELF from SCRIPT_NAME and PATH_INFO */
static const char *server_var(const FcgiParams *p, const PathinfoResult *r, const char *name, char *buf, size_t size)
{
        if (streq(name, "PHP_SELF")) {
                const char *pi = fcgi_params_get(p, "PATH_INFO");
                snprintf(buf, size, "%s%s", strempty(r->script_name), strempty(pi));
                return buf;
        }
        if (streq(name, "__FILE__")) {
                /* The script PHP opened, by its real path */
                _cleanup_free_ char *n = r->script ? normalize(r->script) : NULL;
                if (!n)
                        return NULL;
                snprintf(buf, size, "%s", n);
                return buf;
        }
        return fcgi_params_get(p, name);
}

static unsigned run_case(const Table *t, const Case *c, char **ret_report)
{
        PathinfoFs fs = {.realpath = fake_realpath, .is_file = fake_is_file, .userdata = (void *)t};
        PathinfoOptions o = {.fix_pathinfo = true};
        PathinfoResult r = {};
        FcgiParams p;
        char *report = NULL, buf[8192];
        size_t report_size = 0;
        FILE *out = open_memstream(&report, &report_size);
        unsigned failures = 0;
        int status;

        fcgi_params_init(&p, SIZE_MAX);
        for (size_t i = 0; i < c->n_params; i++)
                ck_assert_int_eq(fcgi_params_set(&p, c->params[i].name, c->params[i].value), 0);
        ck_assert_int_eq(pathinfo_resolve(&p, &o, &fs, &r), 0);

        /* PHP-FPM answers 404 when there is no script, or it is not a file it can open */
        status = r.script && pathinfo_path_valid(r.script) && fake_is_file(r.script, (void *)t) ? 200 : 404;
        if (status != c->status) {
                fprintf(out, "  status: %d, PHP-FPM %d\n", status, c->status);
                failures++;
        }
        for (size_t i = 0; c->status == 200 && i < c->n_expects; i++) {
                const Pair *e = &c->expects[i];
                const char *v = server_var(&p, &r, e->name, buf, sizeof(buf));

                if ((v == NULL) != (e->value == NULL) || (v && !streq(v, e->value))) {
                        fprintf(out, "  %s: '%s', PHP-FPM '%s'\n", e->name, v ? v : "(unset)",
                                e->value ? e->value : "(unset)");
                        failures++;
                }
        }
        fclose(out);
        pathinfo_result_done(&r);
        fcgi_params_done(&p);
        *ret_report = report;
        return failures;
}

static void table_free(Table *t)
{
        for (size_t i = 0; i < t->n_files; i++)
                free(t->files[i]);
        for (size_t i = 0; i < t->n_dirs; i++)
                free(t->dirs[i]);
        for (size_t i = 0; i < t->n_cases; i++) {
                Case *c = &t->cases[i];

                free(c->title);
                for (size_t j = 0; j < c->n_params; j++)
                        free(c->params[j].name), free(c->params[j].value);
                for (size_t j = 0; j < c->n_expects; j++)
                        free(c->expects[j].name), free(c->expects[j].value);
        }
        free(t->cases);
}

static void run_table(const char *file)
{
        Table t = {};
        unsigned failed = 0;

        table_load(&t, file);
        ck_assert_uint_gt(t.n_cases, 0);
        for (size_t i = 0; i < t.n_cases; i++) {
                char *report = NULL;

                if (run_case(&t, &t.cases[i], &report) > 0) {
                        fprintf(stderr, "%s: case %s:\n%s", file, t.cases[i].title, report);
                        failed++;
                }
                free(report);
        }
        table_free(&t);
        ck_assert_msg(failed == 0, "%u of %zu cases of %s differ from PHP-FPM (listed above)", failed, t.n_cases, file);
}

START_TEST(test_manual_cases)
{
        run_table("pathinfo-manual.txt");
}
END_TEST

/* Recorded behind Apache (ProxyPassMatch, SetHandler, GENERIC, reuse, Alias), Caddy and lighttpd by
 * gen-pathinfo-cases.py: what each sent, and what PHP-FPM 8.2 made of it */
START_TEST(test_recorded_cases)
{
        run_table("pathinfo-cases.txt");
}
END_TEST

START_TEST(test_path_valid)
{
        static const struct {
                const char *path;
                bool valid;
        } cases[] = {
                {"/srv/www/info.php", true},
                {"/srv/www/../info.php", false},
                {"/srv/www/..", false},
                {"../x.php", false},
                {"..", false},
                {"/srv/www/..x/a.php", true},
                {"/srv/www/x../a.php", true},
                {"/srv/www/.../a.php", true},
                {"/srv/www/./a.php", true},
        };

        ck_assert(!pathinfo_path_valid(NULL));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(pathinfo_path_valid(cases[i].path) == cases[i].valid, "%s", cases[i].path);
}
END_TEST

START_TEST(test_proxy_url_cut)
{
        static const struct {
                const char *sent, *script, *query_cut;
        } cases[] = {
                /* the colon of the port is not the end of the scheme */
                {"proxy:fcgi://127.0.0.1:9000/srv/www/info.php", "/srv/www/info.php", NULL},
                {"proxy:fcgi://localhost/srv/www/info.php", "/srv/www/info.php", NULL},
                {"PROXY:FCGI://[::1]:9000/srv/www/info.php", "/srv/www/info.php", NULL},
                {"proxy:balancer://mycluster/srv/www/info.php", "/srv/www/info.php", NULL},
                {"proxy:fcgi://localhost/srv/www/info.php?a=1", "/srv/www/info.php", NULL},
        };
        Table t = {.n_files = 1};

        t.files[0] = (char *)"/srv/www/info.php";
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PathinfoFs fs = {.realpath = fake_realpath, .is_file = fake_is_file, .userdata = &t};
                PathinfoOptions o = {.fix_pathinfo = true};
                PathinfoResult r = {};
                FcgiParams p;

                fcgi_params_init(&p, SIZE_MAX);
                ck_assert_int_eq(fcgi_params_set(&p, "SCRIPT_FILENAME", cases[i].sent), 0);
                ck_assert_int_eq(pathinfo_resolve(&p, &o, &fs, &r), 0);
                ck_assert_str_eq(r.script, cases[i].script);
                ck_assert_str_eq(fcgi_params_get(&p, "SCRIPT_FILENAME"), cases[i].script);
                pathinfo_result_done(&r);
                fcgi_params_done(&p);
        }
}
END_TEST

/* A worker keeps one result for all its requests: each resolution gives its own strings, shorter or longer than
 * the last (past the first buffer's 256 bytes), none left over from the request before */
START_TEST(test_result_reused)
{
        char long_dir[600], long_file[700], long_sn[700];
        Table t = {.n_files = 2};
        PathinfoFs fs = {.realpath = fake_realpath, .is_file = fake_is_file, .userdata = &t};
        PathinfoOptions o = {.fix_pathinfo = true};
        PathinfoResult r = {};

        memset(long_dir, 'd', sizeof(long_dir) - 1);
        long_dir[0] = '/';
        long_dir[sizeof(long_dir) - 1] = 0;
        snprintf(long_file, sizeof(long_file), "%s/x.php", long_dir);
        snprintf(long_sn, sizeof(long_sn), "%s/x.php", long_dir);
        t.files[0] = (char *)"/srv/www/a.php";
        t.files[1] = long_file;

        for (int round = 0; round < 3; round++) {
                static const char *const short_case[] = {"/srv/www/a.php", "/a.php"};
                const char *const long_case[] = {long_file, long_sn};
                const char *const *cases[] = {short_case, long_case, short_case};
                FcgiParams p;

                fcgi_params_init(&p, SIZE_MAX);
                ck_assert_int_eq(fcgi_params_set(&p, "SCRIPT_FILENAME", cases[round][0]), 0);
                ck_assert_int_eq(fcgi_params_set(&p, "SCRIPT_NAME", cases[round][1]), 0);
                ck_assert_int_eq(pathinfo_resolve(&p, &o, &fs, &r), 0);
                ck_assert_str_eq(r.script, cases[round][0]);
                ck_assert_str_eq(r.script_name, cases[round][1]);
                ck_assert_str_eq(r.script_real, cases[round][0]);
                fcgi_params_done(&p);
        }

        /* No script at all: none is left from the request before */
        {
                FcgiParams p;

                fcgi_params_init(&p, SIZE_MAX);
                ck_assert_int_eq(fcgi_params_set(&p, "SCRIPT_NAME", "/ping"), 0);
                ck_assert_int_eq(pathinfo_resolve(&p, &o, &fs, &r), 0);
                ck_assert_ptr_null(r.script);
                ck_assert_ptr_null(r.script_real);
                ck_assert_str_eq(r.script_name, "/ping");
                fcgi_params_done(&p);
        }
        pathinfo_result_done(&r);
        ck_assert_ptr_null(r.bufs[PATHINFO_SCRIPT]);
}
END_TEST

static Suite *pathinfo_suite(void)
{
        Suite *s = suite_create("pathinfo");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_manual_cases);
        tcase_add_test(tc, test_recorded_cases);
        tcase_add_test(tc, test_path_valid);
        tcase_add_test(tc, test_proxy_url_cut);
        tcase_add_test(tc, test_result_reused);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(pathinfo_suite)
