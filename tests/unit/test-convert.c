/* test-convert: PHP-FPM's lines read as php-fpm 8.2 reads them (values taken from php-fpm8.2 -tt), Debian's
 * php-fpm.conf and pool files written the way people write them converted to exact text and notes, the fpmd -t
 * line hints */
#include <fnmatch.h>
#include <stdio.h>
#include <sys/stat.h>

#include "convert.h"
#include "ini.h"
#include "test.h"

static const char *data_dir(void)
{
        const char *d = getenv("TEST_DATA");

        ck_assert_msg(d, "TEST_DATA is not set");
        return d;
}

static char *read_data(const char *relative)
{
        _cleanup_free_ char *path = NULL;
        char *text = NULL;
        size_t size = 0;

        ck_assert_int_ge(asprintf(&path, "%s/%s", data_dir(), relative), 0);
        ck_assert_msg(convert_source_system.read_file(path, &text, &size, NULL) == 0, "cannot read %s", path);
        return text;
}

/* The environment of the tests: HOME alone */
static const char *test_getenv(const char *name, void *userdata)
{
        (void)userdata;
        return streq(name, "HOME") ? "/home/site" : NULL;
}

/* ---- one line ---- */

static void assert_line(const char *line, IniStatementType type, const char *name, const char *key, const char *value,
        const char *written)
{
        _cleanup_free_ char *error = NULL;
        IniLine l = {};
        int r;

        r = ini_parse_line(line, test_getenv, NULL, &l, &error);
        ck_assert_msg(r == 0, "ini_parse_line(%s) = %d: %s", line, r, strna(error));
        ck_assert_msg(l.n_statements == 1, "%s: %zu statements", line, l.n_statements);
        ck_assert_int_eq(l.statements[0].type, type);
        ck_assert_str_eq(l.statements[0].name, name);
        if (key)
                ck_assert_str_eq(l.statements[0].key, key);
        else
                ck_assert_ptr_null(l.statements[0].key);
        if (value) {
                ck_assert_msg(l.statements[0].value && streq(l.statements[0].value, value),
                        "%s: value \"%s\", not \"%s\"", line, strna(l.statements[0].value), value);
                ck_assert_str_eq(l.statements[0].written, written);
        } else
                ck_assert_ptr_null(l.statements[0].value);
        ini_line_done(&l);
}

/* php_value[k] = VALUE gives what php-fpm8.2 -tt printed for it */
static void assert_value(const char *value_text, const char *expected)
{
        _cleanup_free_ char *line = NULL, *error = NULL;
        IniLine l = {};
        int r;

        ck_assert_int_ge(asprintf(&line, "php_value[k] = %s", value_text), 0);
        r = ini_parse_line(line, test_getenv, NULL, &l, &error);
        ck_assert_msg(r == 0, "%s: %d %s", line, r, strna(error));
        ck_assert_uint_eq(l.n_statements, 1);
        ck_assert_msg(streq(l.statements[0].value, expected), "%s: \"%s\", PHP-FPM reads \"%s\"", line,
                l.statements[0].value, expected);
        ini_line_done(&l);
}

START_TEST(test_ini_values)
{
        /* Each as php-fpm8.2 -tt -y printed it (HOME=/home/site in place of its /root) */
        assert_value("abc", "abc");
        assert_value("\"quoted\"", "quoted");
        assert_value("'single'", "single");
        assert_value("\"a\" 'b' c", "ab c");
        assert_value("foo bar", "foo bar");
        assert_value("foo   bar  ; c", "foo   bar");
        assert_value("E_ALL & ~E_NOTICE", "32759");
        assert_value("E_ALL & ~E_DEPRECATED & ~E_STRICT", "22527");
        assert_value("(1|2)&3", "3");
        assert_value("!0", "1");
        assert_value("~0", "-1");
        assert_value("1 ^ 3", "2");
        assert_value("on", "1");
        assert_value("Off", "");
        assert_value("YES", "1");
        assert_value("none", "");
        assert_value("null", "");
        assert_value("NULL", "");
        assert_value("true", "1");
        assert_value("128M", "128M");
        assert_value("-1", "-1");
        assert_value("1.5", "1.5");
        assert_value("-1.5", "-1.5");
        assert_value("/var/www/$pool/tmp", "/var/www/$pool/tmp"); /* $pool is PHP-FPM's, after the scanner */
        assert_value("${HOME}/x", "/home/site/x");
        assert_value("\"${HOME}/y\"", "/home/site/y");
        assert_value("'${HOME}'", "${HOME}");
        assert_value("\"a\\\"b\"", "a\"b");
        assert_value("\"a\\\\b\"", "a\\b");
        assert_value("\"a\\$b\"", "a$b");
        assert_value("\"a\\nb\"", "a\\nb");
        assert_value("\"C:\\path\\\"", "C:\\path\\");
        assert_value("x$y", "x$y");
        assert_value("foo#bar", "foo#bar");
        assert_value("a \"b\" c", "abc");
        assert_value("a   \"b\"   c", "abc");
        assert_value("\"a\"b", "ab");
        assert_value("E_ALL", "32767");
        assert_value("e_all", "e_all");
        assert_value("1.2.3", "1.2.3");
        assert_value("0660", "0660");
        assert_value("www-data", "www-data");
        assert_value("a,b, c", "a,b, c");
        assert_value("\"semi;colon\"", "semi;colon");
        assert_value("'semi;colon'", "semi;colon");
        assert_value("\"x\" ; comment", "x");
        assert_value("  lead", "lead");
        assert_value("tab\tin", "tab\tin");
        assert_value("x${HOME}y", "x/home/sitey");
        assert_value("\"multi ${HOME} and ${USER}\"", "multi /home/site and ");
        assert_value("12 | 3", "15");
        assert_value("E_ALL|E_STRICT", "32767");
        assert_value("~E_ALL", "-32768");
        assert_value("a & b", "0");
        assert_value("${NOPE}", "");
        assert_value("\"\"", "");
        assert_value("'a''b'", "ab");
        assert_value("$$", "$$");
        /* "$" takes the newline php-fpm adds to the line: getenv() in the script sees "a$\n" */
        assert_value("a$", "a$\n");
        assert_value("\"quoted\"   trailing", "quotedtrailing");
        assert_value("http://example.com/x?a", "http://example.com/x?a");
        assert_value("dir/sub.file.php", "dir/sub.file.php");
        assert_value(".php .phar", ".php .phar");
        assert_value("\"open\" unclosed", "openunclosed");
        assert_value("", "");
}
END_TEST

START_TEST(test_ini_statements)
{
        assert_line("[www]", INI_SECTION, "www", NULL, NULL, NULL);
        assert_line("[example.com] ; a site", INI_SECTION, "example.com", NULL, NULL, NULL);
        assert_line("[ sp ace ]", INI_SECTION, " sp ace ", NULL, NULL, NULL); /* php-fpm -tt: "[ sp ace ]" */
        assert_line("[E_ALL]", INI_SECTION, "E_ALL", NULL, NULL, NULL);       /* sections keep constants */
        assert_line("listen = 127.0.0.1:9000", INI_ENTRY, "listen", NULL, "127.0.0.1:9000", "127.0.0.1:9000");
        assert_line("  pm.max_children=5 ", INI_ENTRY, "pm.max_children", NULL, "5", "5");
        assert_line("user = www-data     ; who runs the workers", INI_ENTRY, "user", NULL, "www-data", "www-data");
        assert_line("daemonize = no", INI_ENTRY, "daemonize", NULL, "", "no");
        assert_line("catch_workers_output = yes  ", INI_ENTRY, "catch_workers_output", NULL, "1", "yes");
        assert_line("pm.max_requests =", INI_ENTRY, "pm.max_requests", NULL, "", "");
        assert_line("PM = static", INI_ENTRY, "PM", NULL, "static", "static");
        assert_line("php_value[ k ] = 1", INI_ARRAY_ENTRY, "php_value", "k ", "1", "1"); /* php-fpm -tt: "[k ]" */
        assert_line("php_value [x] = 1", INI_ARRAY_ENTRY, "php_value", "x", "1", "1");
        assert_line("php_admin_value[E_ALL] = x", INI_ARRAY_ENTRY, "php_admin_value", "32767", "x", "x");
        assert_line("php_admin_value[\"quoted.key\"] = x", INI_ARRAY_ENTRY, "php_admin_value", "quoted.key", "x", "x");
        assert_line("php_admin_value['raw.key'] = x", INI_ARRAY_ENTRY, "php_admin_value", "raw.key", "x", "x");
        assert_line("access.suppress_path[] = /ping", INI_ARRAY_ENTRY, "access.suppress_path", "", "/ping", "/ping");
        assert_line("php_value[error_reporting] = E_ALL & ~E_NOTICE ; less", INI_ARRAY_ENTRY, "php_value",
                "error_reporting", "32759", "E_ALL & ~E_NOTICE");
        /* A name alone, which PHP-FPM refuses ("value is NULL"): what a '#' comment is to PHP 8.2 */
        assert_line("# a comment", INI_ENTRY, "# a comment", NULL, NULL, NULL);
        assert_line("listen", INI_ENTRY, "listen", NULL, NULL, NULL);
}
END_TEST

START_TEST(test_ini_blank_and_comments)
{
        static const char *const lines[] = {
                "", "   ", "\t", "; comment", "   ;; indented comment", "\r", "\xef\xbb\xbf"};
        IniLine l = {};

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                ck_assert_int_eq(ini_parse_line(lines[i], NULL, NULL, &l, NULL), 0);
                ck_assert_uint_eq(l.n_statements, 0);
                ini_line_done(&l);
        }
        /* A byte order mark before a section */
        assert_line("\xef\xbb\xbf[www]", INI_SECTION, "www", NULL, NULL, NULL);
        /* CRLF */
        assert_line("pm = static\r", INI_ENTRY, "pm", NULL, "static", "static");
}
END_TEST

static void assert_syntax_error(const char *line, const char *expected)
{
        _cleanup_free_ char *error = NULL;
        IniLine l = {};

        ck_assert_int_eq(ini_parse_line(line, NULL, NULL, &l, &error), -EINVAL);
        ck_assert_uint_eq(l.n_statements, 0);
        ck_assert_str_eq(error, expected);
}

START_TEST(test_ini_syntax_errors)
{
        /* Each refused by php-fpm8.2 -t ("PHP:  syntax error, unexpected ...") */
        assert_syntax_error("php_value[k48] = on off", "unexpected ''");
        assert_syntax_error("a = b = c", "unexpected '='");
        assert_syntax_error("[www", "unexpected end of line");
        assert_syntax_error("x = \"open", "unexpected end of line");
        assert_syntax_error("x = (1", "unexpected end of line");
        assert_syntax_error("= 5", "unexpected '='");
        assert_syntax_error("php_value[x = 1", "unexpected end of line");
        assert_syntax_error("x = ${}", "unexpected '}'");
        assert_syntax_error("x = ~", "unexpected end of line");
        assert_syntax_error("x = a)", "unexpected ')'");
}
END_TEST

START_TEST(test_ini_variables_and_constants)
{
        IniLine l = {};

        ck_assert_int_eq(ini_parse_line("x = ${HOME}${NOPE} FOO_BAR E_ALL", test_getenv, NULL, &l, NULL), 0);
        ck_assert_str_eq(l.statements[0].value, "/home/site FOO_BAR 32767");
        ck_assert(l.statements[0].evaluated);
        ck_assert_str_eq(l.variables[0], "HOME");
        ck_assert_str_eq(l.variables[1], "NOPE");
        ck_assert_ptr_null(l.variables[2]);
        ck_assert_str_eq(l.unknown_constants[0], "FOO_BAR");
        ck_assert_ptr_null(l.unknown_constants[1]);
        ini_line_done(&l);

        /* env[APP_ENV]: keys shaped like constants are no news */
        ck_assert_int_eq(ini_parse_line("env[APP_ENV] = prod", test_getenv, NULL, &l, NULL), 0);
        ck_assert_ptr_null(l.unknown_constants);
        ck_assert(!l.statements[0].evaluated);
        ini_line_done(&l);

        ck_assert_str_eq(ini_constant("E_ALL"), "32767");
        ck_assert_str_eq(ini_constant("TRUE"), "1");
        ck_assert_str_eq(ini_constant("Null"), "");
        ck_assert_ptr_null(ini_constant("e_all"));
}
END_TEST

/* ---- whole configurations, from files under a folder seen at another path ---- */

typedef struct Mapped {
        const char *virtual; /* "/etc/php/8.2/fpm" */
        char *real;          /* TEST_DATA/convert/debian */
} Mapped;

static char *map_path(const Mapped *m, const char *path, bool to_real)
{
        const char *from = to_real ? m->virtual : m->real, *to = to_real ? m->real : m->virtual;
        size_t l = strlen(from);
        char *s;

        if (!strneq(path, from, l) || (path[l] != '/' && path[l] != '\0'))
                return NULL;
        ck_assert_int_ge(asprintf(&s, "%s%s", to, path + l), 0);
        return s;
}

static int mapped_read(const char *path, char **ret, size_t *ret_size, void *userdata)
{
        _cleanup_free_ char *real = map_path(userdata, path, true);

        if (!real)
                return -ENOENT;
        return convert_source_system.read_file(real, ret, ret_size, NULL);
}

static int mapped_glob(const char *pattern, char ***ret, void *userdata)
{
        _cleanup_free_ char *real = map_path(userdata, pattern, true);
        char **paths = NULL;
        int r;

        if (!real) {
                *ret = calloc(1, sizeof(char *));
                return 0;
        }
        r = convert_source_system.glob(real, &paths, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; paths[i]; i++) {
                char *v = map_path(userdata, paths[i], false);
                free(paths[i]);
                paths[i] = v;
        }
        *ret = paths;
        return 0;
}

/* Long texts compared line by line, so that a difference shows as the first line that differs (Check's messages
 * are too short for whole files) */
static void assert_text_eq(const char *actual, const char *expected)
{
        unsigned line = 1;

        for (const char *a = actual, *e = expected;; line++) {
                size_t la = strcspn(a, "\n"), le = strcspn(e, "\n");

                ck_assert_msg(la == le && strneq(a, e, la) && a[la] == e[le],
                        "line %u differs:\n  got      \"%.*s\"\n  expected \"%.*s\"", line, (int)MIN(la, 500u), a,
                        (int)MIN(le, 500u), e);
                if (!a[la])
                        break;
                a += la + 1;
                e += le + 1;
        }
}

/* The files and the notes in one text: what fpmd convert prints on stdout, then on stderr */
static char *result_text(const ConvertResult *r)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(convert_print(r, f), 0);
        fputs("==> notes <==\n", f);
        for (size_t i = 0; i < r->n_notes; i++)
                fprintf(f, "%s\n", r->notes[i]);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static void assert_converts(
        const Mapped *m, const char *path, const ConvertOptions *o, const char *expected, const char *name)
{
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *error = NULL, *text = NULL;
        ConvertSource source = {
                .read_file = mapped_read,
                .glob = mapped_glob,
                .getenv = test_getenv,
                .userdata = (void *)m,
        };
        int r;

        r = convert_config(path, &source, o, &result, &error);
        ck_assert_msg(r == 0, "convert_config(%s) = %d: %s", path, r, strna(error));
        text = result_text(&result);
        if (!streq(text, expected)) {
                /* What came out, to compare by hand */
                _cleanup_free_ char *out = NULL;
                FILE *f;

                ck_assert_int_ge(asprintf(&out, "convert-%s.actual", name), 0);
                f = fopen(out, "we");
                if (f) {
                        fputs(text, f);
                        fclose(f);
                }
        }
        assert_text_eq(text, expected);
}

START_TEST(test_debian)
{
        /* Debian 12's php-fpm.conf and pool.d/www.conf, as php8.2-fpm (8.2.36-1~deb12u1) ships them */
        Mapped m = {.virtual = "/etc/php/8.2/fpm"};
        ConvertOptions o = {.prefix = "/usr", .php_ini = "/etc/php/8.2/fpm/php.ini"};

        ck_assert_int_ge(asprintf(&m.real, "%s/convert/debian", data_dir()), 0);
        assert_converts(&m, "/etc/php/8.2/fpm/php-fpm.conf", &o,
                "==> fpmd.conf <==\n"
                "# fpmd's global file, converted by fpmd convert from /etc/php/8.2/fpm/php-fpm.conf\n"
                "include_dir = \"pool.d\";\n"
                "php_ini = \"/etc/php/8.2/fpm/php.ini\";\n"
                "\n"
                "==> pool.d/www.conf <==\n"
                "# Pool www, converted by fpmd convert from /etc/php/8.2/fpm/pool.d/www.conf\n"
                "pool = {\n"
                "  name = \"www\";\n"
                "  listen = {\n"
                "    address = \"/run/php/php8.2-fpm.sock\";\n"
                "    owner = \"www-data\";\n"
                "    group = \"www-data\";\n"
                "  };\n"
                "  user = \"www-data\";\n"
                "  group = \"www-data\";\n"
                "  pm = {\n"
                "    mode = \"dynamic\";\n"
                "    max_children = 5;\n"
                "    start_servers = 2;\n"
                "    min_spare_servers = 1;\n"
                "    max_spare_servers = 3;\n"
                "  };\n"
                "};\n"
                "==> notes <==\n"
                "/etc/php/8.2/fpm/php-fpm.conf:19: pid = /run/php/php8.2-fpm.pid: fpmd writes no pid file: systemd "
                "knows its main process\n"
                "/etc/php/8.2/fpm/php-fpm.conf:26: error_log = /var/log/php8.2-fpm.log: fpmd logs to the journal "
                "(journalctl -u fpmd), or to stderr when run by hand\n",
                "debian");
        free(m.real);
}
END_TEST

static const char *const samples[] = {
        "01-plesk",
        "02-ispconfig",
        "03-cpanel",
        "04-docker",
        "05-multi",
        "06-tcp-static",
        "07-booleans",
        "08-quoted",
        "09-include",
        "10-ondemand-sizes",
        "11-status-ping",
        "12-legacy",
        "13-home-env",
};

START_TEST(test_samples)
{
        /* The samples as if in /etc/php-fpm, PHP-FPM's prefix (php-fpm -p /etc/php-fpm) */
        Mapped m = {.virtual = "/etc/php-fpm"};
        ConvertOptions o = {.prefix = "/etc/php-fpm"};
        _cleanup_free_ char *path = NULL, *expected_file = NULL, *expected = NULL;

        ck_assert_int_ge(asprintf(&m.real, "%s/convert/samples", data_dir()), 0);
        ck_assert_int_ge(asprintf(&path, "/etc/php-fpm/%s.conf", samples[_i]), 0);
        ck_assert_int_ge(asprintf(&expected_file, "convert/expected/%s.out", samples[_i]), 0);
        expected = read_data(expected_file);
        assert_converts(&m, path, &o, expected, samples[_i]);
        free(m.real);
}
END_TEST

/* ---- what fails: PHP-FPM could not read these either ---- */

typedef struct MemoryFile {
        const char *path;
        const char *text;
} MemoryFile;

static int memory_read(const char *path, char **ret, size_t *ret_size, void *userdata)
{
        for (const MemoryFile *f = userdata; f->path; f++)
                if (f->text && streq(f->path, path)) {
                        *ret = strdup(f->text);
                        *ret_size = strlen(f->text);
                        return 0;
                }
        return -ENOENT;
}

static int memory_glob(const char *pattern, char ***ret, void *userdata)
{
        size_t n = 0;

        *ret = calloc(16, sizeof(char *));
        for (const MemoryFile *f = userdata; f->path && n < 15; f++)
                if (fnmatch(pattern, f->path, FNM_PATHNAME | FNM_PERIOD) == 0)
                        (*ret)[n++] = strdup(f->path);
        return 0;
}

static int convert_memory(const MemoryFile *files, ConvertResult *result, char **error)
{
        ConvertSource source = {.read_file = memory_read, .glob = memory_glob, .userdata = (void *)files};

        return convert_config(files[0].path, &source, NULL, result, error);
}

static void assert_fails(const MemoryFile *files, const char *expected)
{
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(convert_memory(files, &result, &error), -EINVAL);
        ck_assert_str_eq(error, expected);
        ck_assert_uint_eq(result.n_files, 0);
}

START_TEST(test_failures)
{
        assert_fails((const MemoryFile[]){{"/etc/fpm.conf", "[www]\nlisten = 9000\nphp_value[x] = a = b\n"}, {}},
                "/etc/fpm.conf:3: PHP-FPM cannot read this line: unexpected '='");
        assert_fails((const MemoryFile[]){{"/etc/fpm.conf", "[www]\n\n\n; x\n[broken\n"}, {}},
                "/etc/fpm.conf:5: PHP-FPM cannot read this line: unexpected end of line");
        /* A file that includes itself: PHP-FPM gives up at the sixth file open at once */
        assert_fails((const MemoryFile[]){{"/etc/fpm.conf", "[www]\ninclude = /etc/*.conf\n"}, {}},
                "/etc/fpm.conf:2: cannot include /etc/fpm.conf: more than 5 files included in one another");
        assert_fails(
                (const MemoryFile[]){{"/nope.conf", NULL}, {}}, "/nope.conf: cannot read: No such file or directory");
}
END_TEST

START_TEST(test_include_here)
{
        /* An include is read where it stands: the included file goes on in the section it was included from,
         * and its own section stays open after it */
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *text = NULL;
        const MemoryFile files[] = {
                {"/etc/fpm/main.conf", "[www]\nuser = www-data\ninclude = /etc/fpm/inc/*.conf\npm.max_children = 9\n"
                                       "include=/etc/fpm/none/*.conf\n"},
                {"/etc/fpm/inc/a.conf", "listen = /run/a.sock\n[b]\nlisten = /run/b.sock\npm = static\n"},
                {"/etc/fpm/inc/c.conf", "pm.max_children = 3\n"},
                {},
        };

        ck_assert_int_eq(convert_memory(files, &result, NULL), 0);
        text = result_text(&result);
        assert_text_eq(text,
                "==> fpmd.conf <==\n"
                "# fpmd's global file, converted by fpmd convert from /etc/fpm/main.conf\n"
                "include_dir = \"pool.d\";\n"
                "\n"
                "==> pool.d/www.conf <==\n"
                "# Pool www, converted by fpmd convert from /etc/fpm/main.conf\n"
                "pool = {\n"
                "  name = \"www\";\n"
                "  listen = {\n"
                "    address = \"/run/a.sock\";\n"
                "  };\n"
                "  user = \"www-data\";\n"
                "};\n"
                "\n"
                "==> pool.d/b.conf <==\n"
                "# Pool b, converted by fpmd convert from /etc/fpm/inc/a.conf\n"
                "pool = {\n"
                "  name = \"b\";\n"
                "  listen = {\n"
                "    address = \"/run/b.sock\";\n"
                "  };\n"
                "  pm = {\n"
                "    mode = \"static\";\n"
                "    max_children = 9;\n"
                "  };\n"
                "};\n"
                "==> notes <==\n"
                "/etc/fpm/main.conf:1: [www]: no pm: PHP-FPM refuses a pool without it; fpmd's default is dynamic\n"
                "/etc/fpm/main.conf:5: include = /etc/fpm/none/*.conf: nothing matches /etc/fpm/none/*.conf (PHP-FPM "
                "warns and goes on)\n");
}
END_TEST

START_TEST(test_names_and_refusals)
{
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *text = NULL;
        const MemoryFile files[] = {
                {"/etc/fpm.conf",
                        "[global]\n"
                        "user = nobody\n"
                        "error_log = /var/log/$pool.log\n"
                        "php_value[x] = 1\n"
                        "log_level = alert\n"
                        "[my site]\n"
                        "listen = [::1]:9000\n"
                        "pm = dynamic\npm.max_children = 4\npm.min_spare_servers = 1\npm.max_spare_servers = 2\n"
                        "pm.start_servers = 0\n"
                        "pid = /run/x.pid\n"
                        "catch_workers_output = maybe\n"
                        "request_terminate_timeout = 1.5h\n"
                        "listen.mode = 0666x\n"
                        "listen.allowed_clients = localhost\n"
                        "security.limit_extensions = php .inc /x\n"
                        "env[] = x\n"
                        "env[EMPTY] =\n"
                        "env[_UNDERSCORE] = 1\n"
                        "php_value[session] = a\n"
                        "php_value[session.name] = b\n"
                        "php_value[extension] = a.so\n"
                        "php_value[extension] = b.so\n"
                        "php_flag[x] = maybe\n"
                        "php_values[x] = 1\n"
                        "pm.status_path = status\n"
                        "ping.path = /ping\n"
                        "access.format = \"%Z\"\n"
                        "rlimit_core = 0\n"
                        "[MY SITE]\n"
                        "user = www-data\n"
                        "[my_site]\n"
                        "listen = 9001\n"},
                {},
        };

        ck_assert_int_eq(convert_memory(files, &result, NULL), 0);
        text = result_text(&result);
        assert_text_eq(text,
                "==> fpmd.conf <==\n"
                "# fpmd's global file, converted by fpmd convert from /etc/fpm.conf\n"
                "log_level = \"error\";\n"
                "include_dir = \"pool.d\";\n"
                "\n"
                "==> pool.d/my_site.conf <==\n"
                "# Pool my_site, converted by fpmd convert from /etc/fpm.conf\n"
                "pool = {\n"
                "  name = \"my_site\";\n"
                "  listen = {\n"
                "    address = \"[::1]:9000\";\n"
                "    mode = \"0666\";\n"
                "  };\n"
                "  user = \"www-data\";\n"
                "  pm = {\n"
                "    mode = \"dynamic\";\n"
                "    max_children = 4;\n"
                "    min_spare_servers = 1;\n"
                "    max_spare_servers = 2;\n"
                "  };\n"
                "  ping_path = \"/ping\";\n"
                "  request_terminate_timeout = \"1h\";\n"
                "  security = {\n"
                "    limit_extensions = [ \".php\", \".inc\" ];\n"
                "  };\n"
                "  php_value = {\n"
                "    session = \"a\";\n"
                "    extension = \"a.so\";\n"
                "  };\n"
                "};\n"
                "\n"
                "==> pool.d/my_site-2.conf <==\n"
                "# Pool my_site-2, converted by fpmd convert from /etc/fpm.conf\n"
                "pool = {\n"
                "  name = \"my_site-2\";\n"
                "  listen = {\n"
                "    address = \"9001\";\n"
                "  };\n"
                "};\n"
                "==> notes <==\n"
                "/etc/fpm.conf:2: user = nobody: a pool setting in [global]; PHP-FPM refuses it here; dropped\n"
                "/etc/fpm.conf:3: error_log = /var/log/$pool.log: PHP-FPM refuses $pool outside a pool (\"Can't use "
                "'$pool' when the pool is not defined\"); dropped\n"
                "/etc/fpm.conf:4: php_value[x] = 1: PHP-FPM refuses it in [global]; dropped\n"
                "/etc/fpm.conf:5: log_level = alert: fpmd has no alert level; error is the nearest\n"
                "/etc/fpm.conf:6: [my site]: fpmd's pool names are unique and hold letters, digits, _ . and - only: "
                "this pool is 'my_site'\n"
                "/etc/fpm.conf:13: pid = /run/x.pid: a [global] setting in a pool; PHP-FPM refuses it here; dropped\n"
                "/etc/fpm.conf:14: catch_workers_output = maybe: PHP-FPM refuses it (invalid boolean value); dropped\n"
                "/etc/fpm.conf:15: request_terminate_timeout = 1.5h: PHP-FPM reads it as 1h\n"
                "/etc/fpm.conf:16: listen.mode = 0666x: PHP-FPM reads it as 0666\n"
                "/etc/fpm.conf:17: listen.allowed_clients = localhost: PHP-FPM leaves 'localhost' out (\"Wrong IP "
                "address\"), and so does fpmd\n"
                "/etc/fpm.conf:17: listen.allowed_clients = localhost: no address is left: PHP-FPM then lets no client "
                "in, while fpmd without allowed_clients lets any in; dropped\n"
                "/etc/fpm.conf:18: security.limit_extensions = php .inc /x: fpmd's extensions start with a dot: 'php' "
                "is '.php' (PHP-FPM also let 'xphp' through)\n"
                "/etc/fpm.conf:18: security.limit_extensions = php .inc /x: '/x' is no extension; left out\n"
                "/etc/fpm.conf:19: env[] = x: PHP-FPM refuses it (\"You must provide a key\"); dropped\n"
                "/etc/fpm.conf:20: env[EMPTY] = : PHP-FPM refuses it (\"empty value\"); dropped\n"
                "/etc/fpm.conf:21: env[_UNDERSCORE] = 1: fpmd cannot hold this name: a libconfig name (each dotted "
                "part of an ini name) starts with a letter and holds letters, digits, - and _; dropped\n"
                "/etc/fpm.conf:23: php_value[session.name] = b: fpmd cannot hold both session and session.name in "
                "php_value: one would be a group and a value; dropped\n"
                "/etc/fpm.conf:25: php_value[extension] = b.so: PHP-FPM loads every extension given, and fpmd's group "
                "holds one value per name (the first, from /etc/fpm.conf:24): load this one in php.ini; dropped\n"
                "/etc/fpm.conf:26: php_flag[x] = maybe: PHP-FPM refuses it (invalid boolean value); dropped\n"
                "/etc/fpm.conf:27: php_values[x] = 1: unknown to PHP-FPM 8.2, which refuses it (did you mean "
                "'php_value'?); dropped\n"
                "/etc/fpm.conf:28: pm.status_path = status: PHP-FPM refuses it (a path starting with /, of letters, "
                "digits and /_-.~); dropped\n"
                "/etc/fpm.conf:30: access.format = \"%Z\": fpmd cannot read this format (invalid token in the "
                "access.format); "
                "dropped\n"
                "/etc/fpm.conf:34: [my_site]: fpmd's pool names are unique and hold letters, digits, _ . and - only: "
                "this pool is 'my_site-2'\n"
                "/etc/fpm.conf:34: [my_site-2]: no pm: PHP-FPM refuses a pool without it; fpmd's default is dynamic\n");
}
END_TEST

/* ---- fpmd -t ---- */

static void assert_hint(const char *line, bool pool, const char *expected)
{
        _cleanup_free_ char *hint = NULL;
        int r = convert_line(line, pool, &hint);

        if (!expected) {
                ck_assert_msg(r == 0, "%s: %s", line, strna(hint));
                ck_assert_ptr_null(hint);
                return;
        }
        ck_assert_msg(r == 1, "%s: %d", line, r);
        ck_assert_str_eq(hint, expected);
}

#define TAIL " (fpmd convert turns a whole PHP-FPM configuration into fpmd's)"

START_TEST(test_line_hints)
{
        assert_hint("php_admin_value[opcache.memory_consumption] = 256", true,
                "PHP-FPM syntax; in fpmd this is: php_admin_value = { opcache = { memory_consumption = 256; }; "
                "};" TAIL);
        assert_hint("  pm.max_children = 5", true, "PHP-FPM syntax; in fpmd this is: pm = { max_children = 5; };" TAIL);
        assert_hint("pm = dynamic", true, "PHP-FPM syntax; in fpmd this is: pm = { mode = \"dynamic\"; };" TAIL);
        assert_hint("user = www-data", true, "PHP-FPM syntax; in fpmd this is: user = \"www-data\";" TAIL);
        assert_hint("listen = 127.0.0.1:9000", true,
                "PHP-FPM syntax; in fpmd this is: listen = { address = \"127.0.0.1:9000\"; };" TAIL);
        assert_hint("listen.allowed_clients = 127.0.0.1,::1", true,
                "PHP-FPM syntax; in fpmd this is: listen = { allowed_clients = [ \"127.0.0.1\", \"::1\" ]; };" TAIL);
        assert_hint("clear_env = no", true, "PHP-FPM syntax; in fpmd this is: clear_env = false;" TAIL);
        assert_hint("request_terminate_timeout = 30s ; half a minute", true,
                "PHP-FPM syntax; in fpmd this is: request_terminate_timeout = \"30s\";" TAIL);
        assert_hint("php_flag[display_errors] = off", true,
                "PHP-FPM syntax; in fpmd this is: php_flag = { display_errors = false; };" TAIL);
        assert_hint(
                "env[APP_ENV] = prod", true, "PHP-FPM syntax; in fpmd this is: env = { APP_ENV = \"prod\"; };" TAIL);
        assert_hint("security.limit_extensions = .php .php7", true,
                "PHP-FPM syntax; in fpmd this is: security = { limit_extensions = [ \".php\", \".php7\" ]; };" TAIL);
        assert_hint("access.log = /var/log/x.log", true, "PHP-FPM syntax; in fpmd this is: access_log = true;" TAIL);
        assert_hint(
                "pm.status_path = /status", true, "PHP-FPM syntax; in fpmd this is: status_path = \"/status\";" TAIL);
        assert_hint("pid = /run/php-fpm.pid", true,
                "PHP-FPM syntax; fpmd has no such setting: fpmd writes no pid file: systemd knows its main "
                "process" TAIL);
        assert_hint("rlimit_core = 0", true, "PHP-FPM syntax; fpmd needs nothing for it: leave it out" TAIL);
        assert_hint("; Pool settings", true, "PHP-FPM syntax; in fpmd this is: # Pool settings" TAIL);
        assert_hint("[www]", true,
                "PHP-FPM syntax; in fpmd this is: pool = { name = \"www\"; ... }; in a file of its own" TAIL);
        assert_hint("[global]", false,
                "PHP-FPM syntax; in fpmd the [global] settings are those of the global file, fpmd.conf" TAIL);
        assert_hint("include=/etc/php/8.2/fpm/pool.d/*.conf", false,
                "PHP-FPM syntax; fpmd reads every *.conf file in the include_dir of fpmd.conf as a pool" TAIL);
        /* In fpmd.conf */
        assert_hint("log_level = notice", false, "PHP-FPM syntax; in fpmd this is: log_level = \"notice\";" TAIL);
        assert_hint("process_control_timeout = 10s", false,
                "PHP-FPM syntax; in fpmd this is: process_control_timeout = \"10s\";" TAIL);
        /* Not PHP-FPM's */
        assert_hint("foo.bar = 1", true, NULL);
        assert_hint("pm = { max_children = 5 ;; }", true, NULL);
        assert_hint("};", true, NULL);
        assert_hint("pool = {", true, NULL);
        assert_hint("", true, NULL);
}
END_TEST

/* ---- writing ---- */

START_TEST(test_write)
{
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *error = NULL, *dir = NULL, *text = NULL, *path = NULL;
        char template[] = "/tmp/fpmd-test-convert-XXXXXX";
        const MemoryFile files[] = {{"/etc/fpm.conf", "[www]\nlisten = 9000\npm = static\npm.max_children = 2\n"}, {}};
        size_t size;

        ck_assert_ptr_nonnull(mkdtemp(template));
        ck_assert_int_ge(asprintf(&dir, "%s/out", template), 0);
        ck_assert_int_eq(convert_memory(files, &result, NULL), 0);

        ck_assert_int_eq(convert_write(&result, dir, false, &error), 0);
        ck_assert_int_ge(asprintf(&path, "%s/pool.d/www.conf", dir), 0);
        ck_assert_int_eq(convert_source_system.read_file(path, &text, &size, NULL), 0);
        ck_assert_str_eq(text, result.files[1].text);

        /* Nothing is replaced without force, and the refusal names the first file in the way */
        ck_assert_int_eq(convert_write(&result, dir, false, &error), -EEXIST);
        ck_assert_str_eq(error + strlen(template), "/out/fpmd.conf exists (--force replaces it)");
        ck_assert_int_eq(convert_write(&result, dir, true, &error), 0);

        ck_assert_int_eq(unlink(path), 0);
        free(path);
        ck_assert_int_ge(asprintf(&path, "%s/fpmd.conf", dir), 0);
        ck_assert_int_eq(unlink(path), 0);
        free(path);
        ck_assert_int_ge(asprintf(&path, "%s/pool.d", dir), 0);
        ck_assert_int_eq(rmdir(path), 0);
        ck_assert_int_eq(rmdir(dir), 0);
        ck_assert_int_eq(rmdir(template), 0);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("convert");
        TCase *ini = tcase_create("ini");
        TCase *files = tcase_create("files");
        TCase *hints = tcase_create("hints");

        tcase_add_test(ini, test_ini_values);
        tcase_add_test(ini, test_ini_statements);
        tcase_add_test(ini, test_ini_blank_and_comments);
        tcase_add_test(ini, test_ini_syntax_errors);
        tcase_add_test(ini, test_ini_variables_and_constants);
        suite_add_tcase(s, ini);

        tcase_add_test(files, test_debian);
        tcase_add_loop_test(files, test_samples, 0, ELEMENTSOF(samples));
        tcase_add_test(files, test_failures);
        tcase_add_test(files, test_include_here);
        tcase_add_test(files, test_names_and_refusals);
        tcase_add_test(files, test_write);
        suite_add_tcase(s, files);

        tcase_add_test(hints, test_line_hints);
        suite_add_tcase(s, hints);
        return s;
}

TEST_MAIN(suite)
