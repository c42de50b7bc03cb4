/* placeholder: replaced by the config suite */
#include "test.h"

START_TEST(test_placeholder)
{
        ck_assert_int_eq(1, 1);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_placeholder);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
