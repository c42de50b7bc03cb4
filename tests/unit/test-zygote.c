/* test-zygote: what the leaders' zygote preloads, from php.ini files, scan folders and pool values, resolved
 * as PHP resolves extension= and zend_extension= */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "test.h"
#include "zygote.h"

static char root[] = "/tmp/test-zygote-XXXXXX";

static void write_file(const char *rel, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static char *at(const char *rel)
{
        char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", root, rel), 0);
        return p;
}

static void setup(void)
{
        char path[512];

        strcpy(root, "/tmp/test-zygote-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(root));
        for (const char *const *d = (const char *const[]){"ext", "conf.d", "other", NULL}; *d; d++) {
                snprintf(path, sizeof(path), "%s/%s", root, *d);
                ck_assert_int_eq(mkdir(path, 0755), 0);
        }
        /* The extension folder: what exists there */
        for (const char *const *e = (const char *const[]){"ext/mysqlnd.so", "ext/mysqli.so", "ext/opcache.so",
                     "ext/plain", "ext/calendar.so", "other/custom.so", NULL};
                *e; e++)
                write_file(*e, "");
}

static void teardown(void)
{
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        ck_assert_int_eq(system(cmd), 0);
}

/* A spec as zygote_preload_spec() writes it: kind, value pairs, each NUL-terminated */
static size_t spec_of(char *buf, size_t size, const char *const *pairs)
{
        size_t n = 0;

        for (; *pairs; pairs++) {
                size_t l = strlen(*pairs) + 1;
                ck_assert_uint_le(n + l, size);
                memcpy(buf + n, *pairs, l);
                n += l;
        }
        return n;
}

static void assert_paths(char **got, const char *const *want)
{
        size_t i = 0;

        for (; want[i]; i++) {
                _cleanup_free_ char *w = want[i][0] == '/' ? strdup(want[i]) : at(want[i]);
                ck_assert_msg(got[i], "missing %s", w);
                ck_assert_str_eq(got[i], w);
        }
        ck_assert_msg(!got[i], "one too many: %s", got[i]);
}

START_TEST(test_ini_and_scan_folder_in_php_order)
{
        _cleanup_free_ char *ini = at("php.ini"), *scan = at("conf.d"), *ext = at("ext");
        _cleanup_strv_free_ char **paths = NULL;
        char spec[1024];
        size_t n;

        write_file("php.ini", "[PHP]\n; extension=calendar\nextension = \"calendar\"\nmemory_limit = 128M\n"
                              "extension=missing\n");
        /* Read in name order: mysqlnd (10-) before mysqli (20-), as PHP loads them */
        write_file("conf.d/20-mysqli.ini", "; priority=20\nextension=mysqli.so\n");
        write_file("conf.d/10-mysqlnd.ini", "extension=mysqlnd\n");
        write_file("conf.d/10-opcache.ini", "zend_extension=opcache.so\nopcache.enable=1\n");
        write_file("conf.d/README", "extension=plain\n");
        write_file("conf.d/30-custom.ini", "extension=");
        n = spec_of(spec, sizeof(spec), (const char *const[]){"ini", ini, "scan", scan, NULL});
        ck_assert_int_eq(zygote_preload_paths(spec, n, ext, &paths), 0);
        assert_paths(paths,
                (const char *const[]){"ext/calendar.so", "ext/mysqlnd.so", "ext/opcache.so", "ext/mysqli.so", NULL});
}
END_TEST

START_TEST(test_names_paths_and_duplicates)
{
        _cleanup_free_ char *ext = at("ext"), *custom = at("other/custom.so"), *scan = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        char spec[1024];
        size_t n;

        /* A file named as written first (PHP tries NAME, then NAME.so); a path as it is; each file once; a
         * scan list with ':' and a folder that does not exist */
        ck_assert_int_ge(asprintf(&scan, "%s/nope:%s/conf.d", root, root), 0);
        write_file("conf.d/a.ini", "extension=mysqlnd.so\n");
        n = spec_of(spec, sizeof(spec),
                (const char *const[]){"ext", "plain", "ext", custom, "ext", "mysqlnd", "ext", "/no/such.so", "scan",
                        scan, "ext", "", NULL});
        ck_assert_int_eq(zygote_preload_paths(spec, n, ext, &paths), 0);
        assert_paths(paths, (const char *const[]){"ext/plain", custom, "ext/mysqlnd.so", NULL});
}
END_TEST

START_TEST(test_bad_specs)
{
        _cleanup_free_ char *ext = at("ext");
        _cleanup_strv_free_ char **a = NULL, **b = NULL, **c = NULL;

        /* Empty, an unknown kind, a value without its NUL: nothing, no read past the end */
        ck_assert_int_eq(zygote_preload_paths("", 0, ext, &a), 0);
        ck_assert_ptr_null(a[0]);
        ck_assert_int_eq(zygote_preload_paths("what\0mysqlnd\0", 13, ext, &b), 0);
        ck_assert_ptr_null(b[0]);
        ck_assert_int_eq(zygote_preload_paths("ext\0mysqlnd", 11, ext, &c), 0);
        ck_assert_ptr_null(c[0]);
}
END_TEST

static Suite *zygote_suite(void)
{
        Suite *s = suite_create("zygote");
        TCase *t = tcase_create("preload");

        tcase_add_checked_fixture(t, setup, teardown);
        tcase_add_test(t, test_ini_and_scan_folder_in_php_order);
        tcase_add_test(t, test_names_paths_and_duplicates);
        tcase_add_test(t, test_bad_specs);
        suite_add_tcase(s, t);
        return s;
}

TEST_MAIN(zygote_suite)
