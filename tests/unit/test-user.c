/* test-user: lookups answered in a child process are the ones libc gives here, and load no NSS module here */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"
#include "user.h"

static bool nss_module_loaded(void)
{
        FILE *f = fopen("/proc/self/maps", "re");
        char line[4096];
        bool found = false;

        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "/libnss_") != NULL;
        fclose(f);
        return found;
}

/* Every answer, for both ways: here (the leader, fpmd -t) and in a child (the supervisor) */
static void check_lookups(bool in_child)
{
        _cleanup_(user_record_done) UserRecord root = {}, bare = {};
        gid_t gid = 12345, *groups = NULL, expected[256];
        int n = 256;
        size_t n_groups = 0;

        ck_assert_int_eq(user_lookup("root", &root), 0);
        ck_assert_uint_eq(root.uid, 0);
        ck_assert_uint_eq(root.gid, 0);
        ck_assert_str_eq(root.name, "root");
        ck_assert_ptr_nonnull(root.home);

        /* A number without an entry: the uid alone, its group left as it is */
        ck_assert_int_eq(user_lookup("3999999", &bare), 0);
        ck_assert_uint_eq(bare.uid, 3999999);
        ck_assert_uint_eq(bare.gid, (gid_t)-1);
        ck_assert_ptr_null(bare.name);
        ck_assert_ptr_null(bare.home);

        ck_assert_int_eq(user_lookup("fpmd-no-such-user", &bare), -ESRCH);
        ck_assert_int_eq(group_lookup("root", &gid), 0);
        ck_assert_uint_eq(gid, 0);
        ck_assert_int_eq(group_lookup("77", &gid), 0);
        ck_assert_uint_eq(gid, 77);
        gid = 12345;
        ck_assert_int_eq(group_lookup("fpmd-no-such-group", &gid), -ESRCH);
        ck_assert_uint_eq(gid, 12345);

        ck_assert_int_eq(user_groups("root", 0, &groups, &n_groups), 0);

        /* Then what libc says here, which loads the modules here */
        ck_assert_msg(!in_child || !nss_module_loaded(), "a lookup in a child loaded an NSS module in this process");
        ck_assert_str_eq(root.home, getpwnam("root")->pw_dir);
        user_record_done(&root);
        ck_assert_int_eq(user_lookup("0", &root), 0);
        ck_assert_str_eq(root.name, "root");
        ck_assert_int_ge(getgrouplist("root", 0, expected, &n), 0);
        ck_assert_uint_eq(n_groups, (size_t)n);
        ck_assert_mem_eq(groups, expected, sizeof(gid_t) * n_groups);
        free(groups);
}

START_TEST(test_lookups_here)
{
        check_lookups(false);
}
END_TEST

START_TEST(test_lookups_in_child)
{
        user_lookups_in_child();
        check_lookups(true);
        /* The helper is gone, reaped: no child of ours is left, not even a zombie */
        user_lookups_done();
        errno = 0;
        ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        /* and a lookup after it starts one again */
        {
                _cleanup_(user_record_done) UserRecord again = {};

                ck_assert_int_eq(user_lookup("root", &again), 0);
                ck_assert_str_eq(again.name, "root");
        }
        user_lookups_done();
        ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("user");
        TCase *tc = tcase_create("core");

        /* Each test in a process of its own: the child one must start with no NSS module loaded */
        tcase_add_test(tc, test_lookups_in_child);
        tcase_add_test(tc, test_lookups_here);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
