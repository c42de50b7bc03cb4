/* test-parse: durations, sizes, modes, percentages and the edit distance, with their boundaries */
#include "parse.h"
#include "test.h"

static void assert_duration(const char *s, usec_t expected)
{
        usec_t v = 12345;

        ck_assert_msg(parse_duration(s, &v) == 0, "parse_duration(\"%s\") failed", s);
        ck_assert_msg(v == expected, "parse_duration(\"%s\") = %llu, expected %llu", s, (unsigned long long)v,
                (unsigned long long)expected);
}

static void assert_duration_fails(const char *s, int expected)
{
        usec_t v = 12345;

        ck_assert_int_eq(parse_duration(s, &v), expected);
        ck_assert_msg(v == 12345, "parse_duration(\"%s\") touched its output on failure", s);
}

START_TEST(test_duration_units)
{
        assert_duration("0", 0);
        assert_duration("0s", 0);
        assert_duration("0ms", 0);
        assert_duration("10", 10 * USEC_PER_SEC);
        assert_duration("250ms", 250 * USEC_PER_MSEC);
        assert_duration("1ms", 1000);
        assert_duration("10s", 10 * USEC_PER_SEC);
        assert_duration("5m", 300 * USEC_PER_SEC);
        assert_duration("1h", 3600 * USEC_PER_SEC);
        assert_duration("1d", 86400 * USEC_PER_SEC);
        assert_duration("007s", 7 * USEC_PER_SEC);
        assert_duration("1500ms", 1500 * USEC_PER_MSEC);
}
END_TEST

START_TEST(test_duration_boundaries)
{
        /* The largest whole number of seconds below USEC_INFINITY */
        assert_duration("18446744073709s", UINT64_C(18446744073709) * USEC_PER_SEC);
        assert_duration("18446744073709551ms", UINT64_C(18446744073709551) * USEC_PER_MSEC);
        assert_duration_fails("18446744073710s", -ERANGE);
        assert_duration_fails("18446744073710", -ERANGE);
        assert_duration_fails("18446744073709552ms", -ERANGE);
        assert_duration("213503982d", UINT64_C(213503982) * 86400 * USEC_PER_SEC);
        assert_duration_fails("213503983d", -ERANGE);
        /* Overflow of the number itself */
        assert_duration_fails("18446744073709551616", -ERANGE);
        assert_duration_fails("99999999999999999999999ms", -ERANGE);
}
END_TEST

START_TEST(test_duration_rejects)
{
        assert_duration_fails(NULL, -EINVAL);
        assert_duration_fails("", -EINVAL);
        assert_duration_fails("-1", -EINVAL);
        assert_duration_fails("-1s", -EINVAL);
        assert_duration_fails("+1s", -EINVAL);
        assert_duration_fails(" 1s", -EINVAL);
        assert_duration_fails("1s ", -EINVAL);
        assert_duration_fails("1 s", -EINVAL);
        assert_duration_fails("s", -EINVAL);
        assert_duration_fails("ms", -EINVAL);
        assert_duration_fails("5x", -EINVAL);
        assert_duration_fails("1.5s", -EINVAL);
        assert_duration_fails("1S", -EINVAL);
        assert_duration_fails("1sec", -EINVAL);
        assert_duration_fails("1h30m", -EINVAL);
        assert_duration_fails("0x10", -EINVAL);
        assert_duration_fails("10mss", -EINVAL);
}
END_TEST

static void assert_size(const char *s, uint64_t expected)
{
        uint64_t v = 12345;

        ck_assert_msg(parse_size(s, &v) == 0, "parse_size(\"%s\") failed", s);
        ck_assert_msg(v == expected, "parse_size(\"%s\") = %llu, expected %llu", s, (unsigned long long)v,
                (unsigned long long)expected);
}

static void assert_size_fails(const char *s, int expected)
{
        uint64_t v = 12345;

        ck_assert_int_eq(parse_size(s, &v), expected);
        ck_assert_msg(v == 12345, "parse_size(\"%s\") touched its output on failure", s);
}

START_TEST(test_size_units)
{
        assert_size("0", 0);
        assert_size("1", 1);
        assert_size("4096", 4096);
        assert_size("64B", 64);
        assert_size("64b", 64);
        assert_size("64K", 64 * 1024);
        assert_size("64k", 64 * 1024);
        assert_size("64KB", 64 * 1024);
        assert_size("64kb", 64 * 1024);
        assert_size("512M", UINT64_C(512) << 20);
        assert_size("512m", UINT64_C(512) << 20);
        assert_size("512MB", UINT64_C(512) << 20);
        assert_size("1G", UINT64_C(1) << 30);
        assert_size("1g", UINT64_C(1) << 30);
        assert_size("900M", UINT64_C(900) << 20);
        assert_size("2T", UINT64_C(2) << 40);
        assert_size("2tB", UINT64_C(2) << 40);
        assert_size("0G", 0);
}
END_TEST

START_TEST(test_size_boundaries)
{
        assert_size("18446744073709551615", UINT64_MAX);
        assert_size_fails("18446744073709551616", -ERANGE);
        assert_size("16777215T", UINT64_C(16777215) << 40);
        assert_size_fails("16777216T", -ERANGE);
        assert_size("17179869183G", UINT64_C(17179869183) << 30);
        assert_size_fails("17179869184G", -ERANGE);
        assert_size_fails("18014398509481984K", -ERANGE);
}
END_TEST

START_TEST(test_size_rejects)
{
        assert_size_fails(NULL, -EINVAL);
        assert_size_fails("", -EINVAL);
        assert_size_fails("-1", -EINVAL);
        assert_size_fails("-1K", -EINVAL);
        assert_size_fails("K", -EINVAL);
        assert_size_fails("B", -EINVAL);
        assert_size_fails("1Q", -EINVAL);
        assert_size_fails("1KiB", -EINVAL);
        assert_size_fails("1BB", -EINVAL);
        assert_size_fails("1KK", -EINVAL);
        assert_size_fails("1 K", -EINVAL);
        assert_size_fails("1.5G", -EINVAL);
        assert_size_fails("1P", -EINVAL);
        assert_size_fails(" 1", -EINVAL);
}
END_TEST

START_TEST(test_mode)
{
        unsigned v = 12345;

        ck_assert_int_eq(parse_mode("0660", &v), 0);
        ck_assert_uint_eq(v, 0660);
        ck_assert_int_eq(parse_mode("660", &v), 0);
        ck_assert_uint_eq(v, 0660);
        ck_assert_int_eq(parse_mode("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_mode("0000", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_mode("07777", &v), 0);
        ck_assert_uint_eq(v, 07777);
        ck_assert_int_eq(parse_mode("4755", &v), 0);
        ck_assert_uint_eq(v, 04755);
        ck_assert_int_eq(parse_mode("000000777", &v), 0);
        ck_assert_uint_eq(v, 0777);

        v = 12345;
        ck_assert_int_eq(parse_mode("010000", &v), -ERANGE);
        ck_assert_int_eq(parse_mode("77777777777777777777", &v), -ERANGE);
        ck_assert_int_eq(parse_mode(NULL, &v), -EINVAL);
        ck_assert_int_eq(parse_mode("", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("0668", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("0699", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("-660", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("0x1ff", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("rw-rw----", &v), -EINVAL);
        ck_assert_int_eq(parse_mode("0660 ", &v), -EINVAL);
        ck_assert_uint_eq(v, 12345);
}
END_TEST

START_TEST(test_percent)
{
        unsigned v = 12345;

        ck_assert_int_eq(parse_percent("200%", &v), 0);
        ck_assert_uint_eq(v, 200);
        ck_assert_int_eq(parse_percent("1%", &v), 0);
        ck_assert_uint_eq(v, 1);
        ck_assert_int_eq(parse_percent("50%", &v), 0);
        ck_assert_uint_eq(v, 50);
        ck_assert_int_eq(parse_percent("4294967295%", &v), 0);
        ck_assert_uint_eq(v, 4294967295u);

        v = 12345;
        ck_assert_int_eq(parse_percent("0%", &v), -ERANGE);
        ck_assert_int_eq(parse_percent("4294967296%", &v), -ERANGE);
        ck_assert_int_eq(parse_percent("99999999999999999999999%", &v), -ERANGE);
        ck_assert_int_eq(parse_percent(NULL, &v), -EINVAL);
        ck_assert_int_eq(parse_percent("", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("%", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("200", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("-5%", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("1.5%", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("200%%", &v), -EINVAL);
        ck_assert_int_eq(parse_percent("200 %", &v), -EINVAL);
        ck_assert_uint_eq(v, 12345);
}
END_TEST

START_TEST(test_string_distance)
{
        ck_assert_uint_eq(string_distance("", ""), 0);
        ck_assert_uint_eq(string_distance("abc", ""), 3);
        ck_assert_uint_eq(string_distance("", "abc"), 3);
        ck_assert_uint_eq(string_distance("pm.mode", "pm.mode"), 0);
        ck_assert_uint_eq(string_distance("kitten", "sitting"), 3);
        ck_assert_uint_eq(string_distance("sitting", "kitten"), 3);
        ck_assert_uint_eq(string_distance("flaw", "lawn"), 2);
        ck_assert_uint_eq(string_distance("pm.max_chidren", "pm.max_children"), 1);
        ck_assert_uint_eq(string_distance("log_levle", "log_level"), 2);
        ck_assert_uint_eq(string_distance("listen.adress", "listen.address"), 1);
        ck_assert_uint_eq(string_distance("pm.xyz", "pm.mode"), 4);
        ck_assert_uint_eq(string_distance("abc", "xyz"), 3);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("parse");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_duration_units);
        tcase_add_test(tc, test_duration_boundaries);
        tcase_add_test(tc, test_duration_rejects);
        tcase_add_test(tc, test_size_units);
        tcase_add_test(tc, test_size_boundaries);
        tcase_add_test(tc, test_size_rejects);
        tcase_add_test(tc, test_mode);
        tcase_add_test(tc, test_percent);
        tcase_add_test(tc, test_string_distance);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
