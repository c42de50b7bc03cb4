/* test-accesslog.c: PHP-FPM's access.format codes, rendered to exact strings */
#include <stdlib.h>
#include <time.h>

#include "accesslog.h"
#include "test.h"

static const char *env_lookup(void *userdata, const char *name)
{
        (void)userdata;
        return streq(name, "HTTP_HOST") ? "example.org" : NULL;
}

static const char *header_lookup(void *userdata, const char *name)
{
        (void)userdata;
        return streq(name, "Content-Type") ? "text/html; charset=UTF-8" : NULL;
}

static AccessEntry entry(void)
{
        return (AccessEntry){
                .pool = "www",
                .pid = 1234,
                .ppid = 1200,
                .client_ip = "127.0.0.1",
                .auth_user = NULL,
                .method = "GET",
                .request_uri = "/index.php",
                .query_string = "a=1&b=2",
                .script = "/srv/www/index.php",
                .status = 200,
                .content_length = 42,
                .duration_usec = 1234567,
                .wait_usec = 2500,
                .cpu_user_usec = 600000,
                .cpu_system_usec = 17284,
                .memory_peak = 3 * 1024 * 1024 + 512,
                .start_realtime = 1764000000ULL * USEC_PER_SEC, /* 2025-11-24 16:00:00 UTC */
                .now_realtime = 1764000001ULL * USEC_PER_SEC,
                .env = env_lookup,
                .header = header_lookup,
        };
}

static void assert_renders(const char *format, const char *expected)
{
        AccessEntry e = entry();
        char *line = NULL;

        ck_assert_int_eq(access_format(format, &e, &line), 0);
        ck_assert_str_eq(line, expected);
        free(line);
}

START_TEST(test_default_format)
{
        assert_renders("%R - %u %t \"%m %r\" %s", "127.0.0.1 - - 24/Nov/2025:16:00:00 +0000 \"GET /index.php\" 200");
}
END_TEST

START_TEST(test_every_code)
{
        assert_renders("%f|%l|%m|%n|%p|%P|%q|%Q|%r|%R|%s|%u|%%", "/srv/www/index.php|42|GET|www|1234|1200|a=1&b=2|?|"
                                                                 "/index.php|127.0.0.1|200|-|%");
        assert_renders("%d %{seconds}d %{mili}d %{miliseconds}d %{micro}d", "1.235 1.235 1234.567 1234.567 1234567");
        assert_renders("%w %{mili}w %{micro}w", "0.003 2.500 2500");
        assert_renders("%C %{total}C %{user}C %{system}C", "50.00 50.00 48.60 1.40");
        assert_renders("%M %{bytes}M %{kilo}M %{mega}M", "3146240 3146240 3072 3");
        assert_renders(
                "%{HTTP_HOST}e %{NOPE}e %{Content-Type}o %{X-None}o", "example.org - text/html; charset=UTF-8 -");
        assert_renders("%T %{%Y-%m-%dT%H:%M:%S}t", "24/Nov/2025:16:00:01 +0000 2025-11-24T16:00:00");
}
END_TEST

START_TEST(test_empty_values)
{
        AccessEntry e = entry();
        char *line = NULL;

        e.query_string = "";
        e.client_ip = NULL;
        e.auth_user = "alice";
        e.method = NULL;
        ck_assert_int_eq(access_format("%R %u %m %q%Q|", &e, &line), 0);
        ck_assert_str_eq(line, "- alice - |");
        free(line);
}
END_TEST

START_TEST(test_bad_formats)
{
        const char *error = NULL;

        ck_assert_int_eq(access_format_check("%R - %u %t \"%m %r\" %s", &error), 0);
        ck_assert_int_eq(access_format_check("%x", &error), -EINVAL);
        ck_assert_str_eq(error, "invalid token in the access.format");
        ck_assert_int_eq(access_format_check("%{seconds", &error), -EINVAL);
        ck_assert_str_eq(error, "missing closing embrace in the access.format");
        ck_assert_int_eq(access_format_check("%e", &error), -EINVAL);
        ck_assert_str_eq(error, "the name of the environment variable must be set between embraces for %e");
        ck_assert_int_eq(access_format_check("%{hours}d", &error), -EINVAL);
        ck_assert_str_eq(error, "only 'seconds', 'mili', 'miliseconds', 'micro' or 'microseconds' are allowed as a "
                                "modifier for %d");
        ck_assert_int_eq(access_format_check("%{hours}w", &error), -EINVAL);
        ck_assert_str_eq(error, "only 'seconds', 'mili', 'miliseconds', 'micro' or 'microseconds' are allowed as a "
                                "modifier for %w");
        ck_assert_int_eq(access_format_check("%{x}s", &error), -EINVAL);
        ck_assert_str_eq(error, "embrace is not allowed for this modifier");
        ck_assert_int_eq(access_format_check("100%", &error), -EINVAL);
        ck_assert_str_eq(error, "the access.format ends with a lone %");
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("accesslog");
        TCase *tc = tcase_create("format");

        setenv("TZ", "UTC", 1);
        tzset();
        tcase_add_test(tc, test_default_format);
        tcase_add_test(tc, test_every_code);
        tcase_add_test(tc, test_empty_values);
        tcase_add_test(tc, test_bad_formats);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
