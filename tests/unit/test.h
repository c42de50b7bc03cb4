/* test.h: the one main() of every Check suite */
#pragma once

#include <check.h>
#include <stdlib.h>

#define TEST_MAIN(suite_fn)                                       \
        int main(void)                                            \
        {                                                         \
                SRunner *sr = srunner_create(suite_fn());         \
                int failed;                                       \
                srunner_run_all(sr, CK_NORMAL);                   \
                failed = srunner_ntests_failed(sr);               \
                srunner_free(sr);                                 \
                return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE; \
        }
