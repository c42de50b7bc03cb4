/* test-config: the fixtures under tests/unit/data parsed into exact structs and exact error texts */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "config.h"
#include "test.h"

#define DEFAULT_PHP_INI "/usr/lib/php/default/php.ini"

static const char *data_dir(void)
{
        const char *d = getenv("TEST_DATA");

        ck_assert_msg(d, "TEST_DATA is not set");
        return d;
}

static char *data_path(const char *relative)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s/%s", data_dir(), relative), 0);
        return s;
}

static Config *load(const char *relative)
{
        _cleanup_free_ char *path = data_path(relative), *error = NULL;
        Config *c = NULL;
        int r;

        r = config_load(path, DEFAULT_PHP_INI, &c, &error);
        ck_assert_msg(r == 0, "config_load(%s) = %d: %s", path, r, strna(error));
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Loads a global file that must fail with exactly this error; "%s" in the format is the data folder */
_printf_(3, 4) static void expect_error(const char *relative, int expected_r, const char *format, ...)
{
        _cleanup_free_ char *path = data_path(relative), *error = NULL, *expected = NULL;
        Config *c = (Config *)0x1;
        va_list ap;
        int r;

        va_start(ap, format);
        ck_assert_int_ge(vasprintf(&expected, format, ap), 0);
        va_end(ap);

        r = config_load(path, DEFAULT_PHP_INI, &c, &error);
        ck_assert_int_eq(r, expected_r);
        ck_assert_ptr_eq(c, (Config *)0x1);
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, expected);
}

static void assert_strings(const StringList *l, size_t n, ...)
{
        va_list ap;

        ck_assert_uint_eq(l->n, n);
        ck_assert_ptr_nonnull(l->items);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(l->items[i], va_arg(ap, const char *));
        va_end(ap);
        ck_assert_ptr_null(l->items[n]);
}

/* n pairs of key and value */
static void assert_key_values(const KeyValueList *l, size_t n, ...)
{
        va_list ap;

        ck_assert_uint_eq(l->n, n);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++) {
                ck_assert_str_eq(l->items[i].key, va_arg(ap, const char *));
                ck_assert_str_eq(l->items[i].value, va_arg(ap, const char *));
        }
        va_end(ap);
}

START_TEST(test_full_example)
{
        _cleanup_(config_freep) Config *c = load("full/fpmd.conf");
        _cleanup_free_ char *global = data_path("full/fpmd.conf"), *dir = data_path("full/conf.d"),
                            *file = data_path("full/conf.d/www.conf");
        const PoolConfig *p;

        ck_assert_str_eq(c->file, global);
        ck_assert_int_eq(c->log_level, LOG_NOTICE);
        ck_assert_str_eq(c->include_dir, dir);
        ck_assert_str_eq(c->php_ini, "/etc/php/8.2/fpm/php.ini");
        ck_assert_uint_eq(c->emergency_restart_threshold, 10);
        ck_assert_uint_eq(c->emergency_restart_interval, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->process_control_timeout, 10 * USEC_PER_SEC);
        ck_assert(c->watchdog);

        ck_assert_uint_eq(c->n_pools, 1);
        p = &c->pools[0];
        ck_assert_str_eq(p->name, "www");
        ck_assert_str_eq(p->file, file);
        ck_assert_int_eq(p->line, 2);

        ck_assert_str_eq(p->listen.address, "/run/fpmd/www.sock");
        ck_assert_int_eq(p->listen.backlog, 511);
        ck_assert_str_eq(p->listen.owner, "www-data");
        ck_assert_str_eq(p->listen.group, "www-data");
        ck_assert_uint_eq(p->listen.mode, 0660);
        assert_strings(&p->listen.allowed_clients, 1, "127.0.0.1");

        ck_assert_str_eq(p->user, "www-data");
        ck_assert_str_eq(p->group, "www-data");
        ck_assert_ptr_null(p->chroot);
        ck_assert_str_eq(p->chdir, "/");
        ck_assert_str_eq(p->php_ini, "/etc/php/8.2/fpm/php.ini");

        ck_assert_int_eq(p->pm.mode, PM_DYNAMIC);
        ck_assert_uint_eq(p->pm.max_children, 8);
        ck_assert_uint_eq(p->pm.start_servers, 2);
        ck_assert_uint_eq(p->pm.min_spare_servers, 1);
        ck_assert_uint_eq(p->pm.max_spare_servers, 3);
        ck_assert_uint_eq(p->pm.max_spawn_rate, 32);
        ck_assert_uint_eq(p->pm.process_idle_timeout, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(p->pm.max_requests, 0);

        ck_assert_str_eq(p->status_path, "/status");
        ck_assert_str_eq(p->ping_path, "/ping");
        ck_assert_str_eq(p->ping_response, "pong");
        ck_assert(p->access_log);
        ck_assert_str_eq(p->access_format, "%R - %u %t \"%m %r\" %s");
        ck_assert(p->slowlog);
        ck_assert_uint_eq(p->request_slowlog_timeout, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(p->request_slowlog_trace_depth, 20);
        ck_assert_uint_eq(p->request_terminate_timeout, 30 * USEC_PER_SEC);
        ck_assert(p->catch_workers_output);
        ck_assert(p->clear_env);
        ck_assert(!p->allow_php_value_params);

        assert_key_values(&p->env, 1, "APP_ENV", "prod");
        assert_strings(&p->limit_extensions, 1, ".php");
        assert_key_values(&p->php_value, 1, "memory_limit", "128M");
        assert_key_values(&p->php_admin_value, 1, "open_basedir", "/srv/www");
        assert_key_values(&p->php_flag, 1, "display_errors", "0");
        assert_key_values(&p->php_admin_flag, 1, "log_errors", "1");

        ck_assert_int_eq(p->rlimit_files, 4096);
        ck_assert_int_eq(p->rlimit_core, 0);

        ck_assert_uint_eq(p->cgroup.memory_max, UINT64_C(1) << 30);
        ck_assert_uint_eq(p->cgroup.memory_high, UINT64_C(900) << 20);
        ck_assert_uint_eq(p->cgroup.pids_max, 64);
        ck_assert_uint_eq(p->cgroup.cpu_weight, 100);
        ck_assert_uint_eq(p->cgroup.cpu_max, 200);

        ck_assert(!p->process_dumpable);
        ck_assert(!p->allow_root);
}
END_TEST

START_TEST(test_minimal_defaults)
{
        _cleanup_(config_freep) Config *c = load("minimal/fpmd.conf");
        _cleanup_free_ char *dir = data_path("minimal/conf.d"), *file = data_path("minimal/conf.d/min.conf");
        const PoolConfig *p;

        ck_assert_int_eq(c->log_level, LOG_NOTICE);
        ck_assert_str_eq(c->include_dir, dir);
        ck_assert_str_eq(c->php_ini, DEFAULT_PHP_INI);
        ck_assert_uint_eq(c->emergency_restart_threshold, 0);
        ck_assert_uint_eq(c->emergency_restart_interval, 0);
        ck_assert_uint_eq(c->process_control_timeout, 10 * USEC_PER_SEC);
        ck_assert(c->watchdog);

        ck_assert_uint_eq(c->n_pools, 1);
        p = &c->pools[0];
        ck_assert_str_eq(p->name, "min");
        ck_assert_str_eq(p->file, file);
        ck_assert_int_eq(p->line, 1);

        ck_assert_ptr_null(p->listen.address);
        ck_assert_int_eq(p->listen.backlog, 511);
        ck_assert_ptr_null(p->listen.owner);
        ck_assert_ptr_null(p->listen.group);
        ck_assert_uint_eq(p->listen.mode, 0660);
        assert_strings(&p->listen.allowed_clients, 0);

        ck_assert_ptr_null(p->user);
        ck_assert_ptr_null(p->group);
        ck_assert_ptr_null(p->chroot);
        ck_assert_ptr_null(p->chdir);
        ck_assert_ptr_null(p->php_ini);

        ck_assert_int_eq(p->pm.mode, PM_DYNAMIC);
        ck_assert_uint_eq(p->pm.max_children, 5);
        ck_assert_uint_eq(p->pm.start_servers, 2);
        ck_assert_uint_eq(p->pm.min_spare_servers, 1);
        ck_assert_uint_eq(p->pm.max_spare_servers, 3);
        ck_assert_uint_eq(p->pm.max_spawn_rate, 32);
        ck_assert_uint_eq(p->pm.process_idle_timeout, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(p->pm.max_requests, 0);

        ck_assert_ptr_null(p->status_path);
        ck_assert_ptr_null(p->ping_path);
        ck_assert_str_eq(p->ping_response, "pong");
        ck_assert(!p->access_log);
        ck_assert_str_eq(p->access_format, "%R - %u %t \"%m %r\" %s");
        ck_assert(p->slowlog);
        ck_assert_uint_eq(p->request_slowlog_timeout, 0);
        ck_assert_uint_eq(p->request_slowlog_trace_depth, 20);
        ck_assert_uint_eq(p->request_terminate_timeout, 0);
        ck_assert(p->catch_workers_output);
        ck_assert(p->clear_env);
        ck_assert(!p->allow_php_value_params);

        assert_key_values(&p->env, 0);
        assert_strings(&p->limit_extensions, 2, ".php", ".phar");
        assert_key_values(&p->php_value, 0);
        assert_key_values(&p->php_admin_value, 0);
        assert_key_values(&p->php_flag, 0);
        assert_key_values(&p->php_admin_flag, 0);

        ck_assert_int_eq(p->rlimit_files, -1);
        ck_assert_int_eq(p->rlimit_core, -1);

        ck_assert_uint_eq(p->cgroup.memory_max, CGROUP_LIMIT_UNSET);
        ck_assert_uint_eq(p->cgroup.memory_high, CGROUP_LIMIT_UNSET);
        ck_assert_uint_eq(p->cgroup.pids_max, CGROUP_LIMIT_UNSET);
        ck_assert_uint_eq(p->cgroup.cpu_weight, CGROUP_LIMIT_UNSET);
        ck_assert_uint_eq(p->cgroup.cpu_max, CGROUP_LIMIT_UNSET);

        ck_assert(!p->process_dumpable);
        ck_assert(!p->allow_root);
}
END_TEST

START_TEST(test_no_default_php_ini)
{
        _cleanup_free_ char *path = data_path("minimal/fpmd.conf");
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_eq(config_load(path, NULL, &c, NULL), 0);
        ck_assert_ptr_null(c->php_ini);
}
END_TEST

START_TEST(test_nested_and_extras)
{
        _cleanup_(config_freep) Config *c = load("nested/fpmd.conf");
        const PoolConfig *p;

        ck_assert_int_eq(c->log_level, LOG_DEBUG);
        ck_assert(!c->watchdog);
        ck_assert_uint_eq(c->process_control_timeout, 0);
        ck_assert_uint_eq(c->emergency_restart_interval, 250 * USEC_PER_MSEC);

        ck_assert_uint_eq(c->n_pools, 1);
        p = &c->pools[0];
        ck_assert_str_eq(p->name, "app.v2-x_1");
        ck_assert_str_eq(p->listen.address, "127.0.0.1:9001");
        ck_assert_int_eq(p->listen.backlog, -1);
        ck_assert_uint_eq(p->listen.mode, 0600);
        assert_strings(&p->listen.allowed_clients, 2, "127.0.0.1", "::1");
        ck_assert_str_eq(p->chroot, "/srv/jail");
        ck_assert_ptr_null(p->status_path);

        /* ondemand with 2 children: the unset spare settings stay within max_children */
        ck_assert_int_eq(p->pm.mode, PM_ONDEMAND);
        ck_assert_uint_eq(p->pm.max_children, 2);
        ck_assert_uint_eq(p->pm.min_spare_servers, 1);
        ck_assert_uint_eq(p->pm.max_spare_servers, 2);
        ck_assert_uint_eq(p->pm.start_servers, 1);
        ck_assert_uint_eq(p->pm.process_idle_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(p->pm.max_requests, 500);

        assert_key_values(&p->env, 3, "PATH", "$PATH", "WORKERS", "4", "EMPTY", "");
        assert_strings(&p->limit_extensions, 0);
        ck_assert(p->allow_php_value_params);

        assert_key_values(&p->php_value, 6, "memory_limit", "256M", "precision", "14", "big", "5000000000", "ratio",
                "0.1", "huge", "1.5e+300", "short_open_tag", "1");
        assert_key_values(&p->php_admin_value, 3, "session.save_path", "/var/lib/php/sessions",
                "session.gc.probability", "0", "open_basedir", "/srv/www");
        assert_key_values(&p->php_flag, 3, "display_errors", "0", "html_errors", "1", "opcache.enable", "1");
        assert_key_values(&p->php_admin_flag, 2, "log_errors", "1", "expose_php", "0");

        ck_assert_int_eq(p->rlimit_core, -2);
        ck_assert_uint_eq(p->cgroup.memory_max, 1048576);
        ck_assert_uint_eq(p->cgroup.memory_high, CGROUP_LIMIT_UNSET);
        ck_assert_uint_eq(p->cgroup.cpu_max, 50);
        ck_assert(p->process_dumpable);
        ck_assert(p->allow_root);
}
END_TEST

START_TEST(test_include_dir_order)
{
        _cleanup_(config_freep) Config *c = load("order/fpmd.conf");
        _cleanup_free_ char *a10 = data_path("order/conf.d/a-10.conf"), *a = data_path("order/conf.d/a.conf"),
                            *b = data_path("order/conf.d/b.conf");

        /* c.conf.disabled, .hidden.conf, README and the folder sub.conf are no pools */
        ck_assert_uint_eq(c->n_pools, 3);
        ck_assert_str_eq(c->pools[0].name, "a-10");
        ck_assert_str_eq(c->pools[0].file, a10);
        ck_assert_str_eq(c->pools[1].name, "a");
        ck_assert_str_eq(c->pools[1].file, a);
        ck_assert_str_eq(c->pools[2].name, "b");
        ck_assert_str_eq(c->pools[2].file, b);

        ck_assert_ptr_eq(config_find_pool(c, "b"), &c->pools[2]);
        ck_assert_ptr_eq(config_find_pool(c, "a"), &c->pools[1]);
        ck_assert_ptr_null(config_find_pool(c, "c"));
        ck_assert_ptr_null(config_find_pool(c, "hidden"));
        ck_assert_ptr_null(config_find_pool(c, "sub"));
        ck_assert_ptr_null(config_find_pool(c, NULL));
        ck_assert_ptr_null(config_find_pool(NULL, "a"));
}
END_TEST

START_TEST(test_pool_config_equal)
{
        _cleanup_(config_freep) Config *a = load("full/fpmd.conf");
        _cleanup_(config_freep) Config *b = load("full/fpmd.conf");
        _cleanup_(config_freep) Config *n = load("nested/fpmd.conf");
        PoolConfig *pa = &a->pools[0], *pb = &b->pools[0];
        char *saved;

        ck_assert(pool_config_equal(pa, pb));
        ck_assert(pool_config_equal(pa, pa));
        ck_assert(!pool_config_equal(pa, &n->pools[0]));

        /* Where a pool was read does not matter */
        pb->line = 99;
        saved = pb->file;
        pb->file = (char *)"/elsewhere.conf";
        ck_assert(pool_config_equal(pa, pb));
        pb->file = saved;

        pb->pm.max_requests = 1;
        ck_assert(!pool_config_equal(pa, pb));
        pb->pm.max_requests = 0;
        ck_assert(pool_config_equal(pa, pb));

        pb->cgroup.cpu_max = 100;
        ck_assert(!pool_config_equal(pa, pb));
        pb->cgroup.cpu_max = 200;

        saved = pb->php_value.items[0].value;
        pb->php_value.items[0].value = (char *)"256M";
        ck_assert(!pool_config_equal(pa, pb));
        pb->php_value.items[0].value = saved;

        pb->limit_extensions.n = 0;
        ck_assert(!pool_config_equal(pa, pb));
        pb->limit_extensions.n = 1;

        saved = pb->chdir;
        pb->chdir = NULL;
        ck_assert(!pool_config_equal(pa, pb));
        pb->chdir = saved;

        pb->allow_root = true;
        ck_assert(!pool_config_equal(pa, pb));
        pb->allow_root = false;
        ck_assert(pool_config_equal(pa, pb));
}
END_TEST

START_TEST(test_pm_mode_strings)
{
        ck_assert_str_eq(pm_mode_to_string(PM_STATIC), "static");
        ck_assert_str_eq(pm_mode_to_string(PM_DYNAMIC), "dynamic");
        ck_assert_str_eq(pm_mode_to_string(PM_ONDEMAND), "ondemand");
        ck_assert_ptr_null(pm_mode_to_string(_PM_MODE_MAX));
        ck_assert_ptr_null(pm_mode_to_string(_PM_MODE_INVALID));
        ck_assert_int_eq(pm_mode_from_string("static"), PM_STATIC);
        ck_assert_int_eq(pm_mode_from_string("dynamic"), PM_DYNAMIC);
        ck_assert_int_eq(pm_mode_from_string("ondemand"), PM_ONDEMAND);
        ck_assert_int_eq(pm_mode_from_string("Static"), _PM_MODE_INVALID);
        ck_assert_int_eq(pm_mode_from_string(""), _PM_MODE_INVALID);
        ck_assert_int_eq(pm_mode_from_string(NULL), _PM_MODE_INVALID);
}
END_TEST

START_TEST(test_shipped_configuration)
{
        _cleanup_(config_freep) Config *c = load("../../../conf.d/fpmd.conf");
        _cleanup_free_ char *dir = data_path("../../../conf.d/pool.d");
        const PoolConfig *p;

        ck_assert_str_eq(c->include_dir, dir);
        ck_assert_int_eq(c->log_level, LOG_NOTICE);
        ck_assert_str_eq(c->php_ini, DEFAULT_PHP_INI);
        ck_assert_uint_eq(c->n_pools, 1);

        p = config_find_pool(c, "www");
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->listen.address, "127.0.0.1:9000");
        ck_assert_str_eq(p->user, "www-data");
        ck_assert_str_eq(p->group, "www-data");
        ck_assert_str_eq(p->php_ini, "/etc/php/8.2/fpm/php.ini");
        ck_assert_int_eq(p->pm.mode, PM_DYNAMIC);
        ck_assert_uint_eq(p->pm.max_children, 5);
        ck_assert_uint_eq(p->pm.start_servers, 2);
        ck_assert_uint_eq(p->pm.min_spare_servers, 1);
        ck_assert_uint_eq(p->pm.max_spare_servers, 3);
        ck_assert_str_eq(p->status_path, "/status");
        ck_assert_str_eq(p->ping_path, "/ping");
        ck_assert(!p->allow_root);
}
END_TEST

START_TEST(test_error_syntax)
{
        expect_error("errors/syntax.conf", -EINVAL, "%s/errors/syntax.d/www.conf:3: syntax error", data_dir());
        expect_error("errors/global-syntax.conf", -EINVAL, "%s/errors/global-syntax.conf:2: syntax error", data_dir());
}
END_TEST

START_TEST(test_error_unknown_setting)
{
        expect_error("errors/unknown.conf", -EINVAL,
                "%s/errors/unknown.d/www.conf:4: unknown setting 'pm.max_chidren', did you mean "
                "'pm.max_children'?",
                data_dir());
        expect_error("errors/unknown-nosuggest.conf", -EINVAL,
                "%s/errors/unknown-nosuggest.d/www.conf:3: unknown setting 'pm.xyz'", data_dir());
        expect_error("errors/global-unknown.conf", -EINVAL,
                "%s/errors/global-unknown.conf:2: unknown setting 'log_levle', did you mean 'log_level'?", data_dir());
        expect_error("errors/global-pool.conf", -EINVAL,
                "%s/errors/global-pool.conf:3: unknown setting 'pool' (each pool goes in its own file in "
                "include_dir)",
                data_dir());
        expect_error("errors/outside.conf", -EINVAL,
                "%s/errors/outside.d/www.conf:1: unknown setting 'name' (pool settings go inside 'pool = { "
                "... };')",
                data_dir());
}
END_TEST

START_TEST(test_error_type)
{
        expect_error("errors/type.conf", -EINVAL, "%s/errors/type.d/www.conf:5: 'pm.max_children' must be an integer",
                data_dir());
        expect_error("errors/group.conf", -EINVAL, "%s/errors/group.d/www.conf:3: 'pm' must be a group", data_dir());
}
END_TEST

START_TEST(test_error_range)
{
        expect_error("errors/range.conf", -EINVAL,
                "%s/errors/range.d/www.conf:3: 'pm.max_children' must be between 1 and 65535, got 0", data_dir());
}
END_TEST

START_TEST(test_error_duration)
{
        expect_error("errors/duration.conf", -EINVAL,
                "%s/errors/duration.d/www.conf:4: invalid duration for 'request_terminate_timeout': \"5x\" "
                "(expected seconds or a number with ms, s, m, h or d)",
                data_dir());
        expect_error("errors/global-duration.conf", -EINVAL,
                "%s/errors/global-duration.conf:1: invalid duration for 'process_control_timeout': -5 "
                "(expected seconds or a number with ms, s, m, h or d)",
                data_dir());
}
END_TEST

START_TEST(test_error_size)
{
        expect_error("errors/size.conf", -EINVAL,
                "%s/errors/size.d/www.conf:5: invalid size for 'cgroup.memory_max': \"1Q\" "
                "(expected bytes or a number with K, M, G or T)",
                data_dir());
        /* Found by fuzz-config: above what a libconfig integer holds, the leader could not read it back */
        expect_error("errors/size-huge.conf", -EINVAL,
                "%s/errors/size-huge.d/www.conf:3: invalid size for 'cgroup.memory_max': \"16000000T\" "
                "(at most 8388607T: 2^63 - 1 bytes)",
                data_dir());
}
END_TEST

START_TEST(test_error_values)
{
        expect_error("errors/pm-mode.conf", -EINVAL,
                "%s/errors/pm-mode.d/www.conf:3: invalid value for 'pm.mode': \"statik\" "
                "(expected static, dynamic or ondemand)",
                data_dir());
        expect_error("errors/global-log-level.conf", -EINVAL,
                "%s/errors/global-log-level.conf:1: invalid value for 'log_level': \"verbose\" "
                "(expected debug, info, notice, warning or error)",
                data_dir());
        expect_error("errors/bad-name.conf", -EINVAL,
                "%s/errors/bad-name.d/www.conf:2: invalid value for 'name': \"my pool\" "
                "(expected up to 255 letters, digits, _, . or -)",
                data_dir());
        expect_error("errors/status-path.conf", -EINVAL,
                "%s/errors/status-path.d/www.conf:3: invalid value for 'status_path': \"status\" "
                "(expected a path starting with /)",
                data_dir());
        expect_error("errors/extension.conf", -EINVAL,
                "%s/errors/extension.d/www.conf:3: invalid value for 'security.limit_extensions': \"php5\" "
                "(expected an extension like \".php\")",
                data_dir());
        expect_error("errors/address.conf", -EINVAL,
                "%s/errors/address.d/www.conf:4: invalid value for 'listen.address': \"localhost:9000\" "
                "(expected a unix socket path, IPv4:port, [IPv6]:port or a port)",
                data_dir());
        expect_error("errors/clients.conf", -EINVAL,
                "%s/errors/clients.d/www.conf:4: invalid value for 'listen.allowed_clients': \"10.0.0.0/33\" "
                "(expected an IPv4 or IPv6 address, optionally with a /prefix)",
                data_dir());
        expect_error("errors/roots.conf", -EINVAL,
                "%s/errors/roots.d/www.conf:3: invalid value for 'security.script_roots': \"srv/www\" "
                "(expected an absolute folder or \"$DOCUMENT_ROOT\")",
                data_dir());
        expect_error("errors/flag.conf", -EINVAL,
                "%s/errors/flag.d/www.conf:3: invalid value for 'php_flag.session.use_strict_mode': "
                "\"maybe\" "
                "(expected true, false, on, off, yes, no, 1 or 0)",
                data_dir());
}
END_TEST

START_TEST(test_error_pools)
{
        expect_error("errors/duplicate.conf", -EINVAL,
                "%s/errors/duplicate.d/b.conf:2: pool 'www' is already defined in "
                "%s/errors/duplicate.d/a.conf:1",
                data_dir(), data_dir());
        expect_error("errors/no-name.conf", -EINVAL, "%s/errors/no-name.d/www.conf:2: pool has no 'name'", data_dir());
        expect_error("errors/no-pool.conf", -EINVAL, "%s/errors/no-pool.conf: no pool defined in %s/errors/empty.d",
                data_dir(), data_dir());
}
END_TEST

START_TEST(test_error_spare_servers)
{
        expect_error("errors/spare.conf", -EINVAL,
                "%s/errors/spare.d/www.conf:3: pool 'www': pm.start_servers (5) must be between "
                "pm.min_spare_servers (2) and pm.max_spare_servers (4)",
                data_dir());
        expect_error("errors/spare-order.conf", -EINVAL,
                "%s/errors/spare-order.d/www.conf:3: pool 'www': pm.max_spare_servers (3) must not be less "
                "than "
                "pm.min_spare_servers (4)",
                data_dir());
}
END_TEST

START_TEST(test_error_files)
{
        _cleanup_free_ char *error = NULL;
        Config *c = NULL;

        expect_error("errors/no-include.conf", -ENOENT,
                "%s/errors/no-include.conf:1: cannot open include_dir '%s/errors/missing.d': No such file "
                "or directory",
                data_dir(), data_dir());
        expect_error("errors/absent.conf", -ENOENT, "%s/errors/absent.conf: cannot read: No such file or directory",
                data_dir());

        /* ret_error is optional */
        ck_assert_int_eq(config_load("/nonexistent/fpmd.conf", NULL, &c, NULL), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(config_load("/nonexistent/fpmd.conf", NULL, &c, &error), -ENOENT);
        ck_assert_str_eq(error, "/nonexistent/fpmd.conf: cannot read: No such file or directory");
}
END_TEST

/* What a leader reads is what the supervisor loaded: every fixture's every pool through text and back */
START_TEST(test_format_round_trip)
{
        static const char *const fixtures[] = {
                "full/fpmd.conf", "minimal/fpmd.conf", "nested/fpmd.conf", "order/fpmd.conf"};

        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_(config_freep) Config *c = load(fixtures[i]);

                for (size_t j = 0; j < c->n_pools; j++) {
                        _cleanup_(config_freep) Config *back = NULL;
                        _cleanup_free_ char *text = NULL, *error = NULL;
                        char path[] = "/tmp/fpmd-test-config-XXXXXX";
                        int fd = mkstemp(path);

                        ck_assert_int_ge(fd, 0);
                        ck_assert_int_eq(config_format_pool(c, &c->pools[j], &text), 0);
                        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
                        close(fd);
                        ck_assert_msg(config_load_single(path, &back, &error) == 0, "%s pool %s: %s\n%s", fixtures[i],
                                c->pools[j].name, strna(error), text);
                        unlink(path);
                        ck_assert_uint_eq(back->n_pools, 1);
                        ck_assert_msg(pool_config_equal(&c->pools[j], &back->pools[0]), "%s pool %s:\n%s", fixtures[i],
                                c->pools[j].name, text);
                        ck_assert_int_eq(back->log_level, c->log_level);
                        ck_assert_str_eq(back->include_dir, c->include_dir);
                        ck_assert_str_eq(strna(back->php_ini), strna(c->php_ini));
                        ck_assert_uint_eq(back->emergency_restart_threshold, c->emergency_restart_threshold);
                        ck_assert_uint_eq(back->emergency_restart_interval, c->emergency_restart_interval);
                        ck_assert_uint_eq(back->process_control_timeout, c->process_control_timeout);
                        ck_assert_int_eq(back->watchdog, c->watchdog);
                }
        }
}
END_TEST

START_TEST(test_free_null)
{
        ck_assert_ptr_null(config_free(NULL));
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("load");
        TCase *errors = tcase_create("errors");

        tcase_add_test(tc, test_full_example);
        tcase_add_test(tc, test_minimal_defaults);
        tcase_add_test(tc, test_no_default_php_ini);
        tcase_add_test(tc, test_nested_and_extras);
        tcase_add_test(tc, test_include_dir_order);
        tcase_add_test(tc, test_pool_config_equal);
        tcase_add_test(tc, test_pm_mode_strings);
        tcase_add_test(tc, test_shipped_configuration);
        tcase_add_test(tc, test_format_round_trip);
        tcase_add_test(tc, test_free_null);
        suite_add_tcase(s, tc);

        tcase_add_test(errors, test_error_syntax);
        tcase_add_test(errors, test_error_unknown_setting);
        tcase_add_test(errors, test_error_type);
        tcase_add_test(errors, test_error_range);
        tcase_add_test(errors, test_error_duration);
        tcase_add_test(errors, test_error_size);
        tcase_add_test(errors, test_error_values);
        tcase_add_test(errors, test_error_pools);
        tcase_add_test(errors, test_error_spare_servers);
        tcase_add_test(errors, test_error_files);
        suite_add_tcase(s, errors);
        return s;
}

TEST_MAIN(suite)
