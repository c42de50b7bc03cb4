/* main.c: command line of fpmd */
#include <getopt.h>
#include <stdio.h>

#include "config.h"
#include "control.h"
#include "convert.h"
#include "ctl.h"
#include "fpmd-config.h"
#include "isolation.h"
#include "log.h"
#include "manager.h"
#include "parse.h"
#include "user.h"

static void help(void)
{
        printf("fpmd %s: a PHP FastCGI process manager native to systemd\n\n"
               "Usage: fpmd [OPTIONS]\n\n"
               "  -c, --config FILE    global configuration file (default %s)\n"
               "  -t, --test-config    check the configuration, print what is wrong, exit 0 or 1\n"
               "      --version        versions of fpmd, PHP, libsystemd and libconfig\n"
               "  -h, --help           this help\n\n"
               "\n"
               "       fpmd status [POOL] [--json] [--full] [--pid PID]\n"
               "                       the pools of a running fpmd, from their scoreboards\n"
               "       fpmd reload [POOL...] [--pid PID] [--timeout SECONDS]\n"
               "                       new generations of every pool (or of those named), fresh PHP and opcache;\n"
               "                       waits until they serve, exits 1 with the reason when the configuration is\n"
               "                       bad or a pool cannot start (the running configuration stays)\n\n"
               "       fpmd convert [--output DIR] [--force] [--prefix DIR] [--php-ini FILE] PHP-FPM.CONF\n"
               "                       PHP-FPM's configuration (php-fpm.conf and what it includes) as\n"
               "                       DIR/fpmd.conf and DIR/pool.d/NAME.conf, or on stdout without\n"
               "                       --output; what does not carry over as it was is told on stderr.\n"
               "                       --prefix is php-fpm's -p (default %s), --php-ini the php.ini of\n"
               "                       the pools (default: the php.ini beside PHP-FPM.CONF)\n\n"
               "Signals: HUP/USR2 reload, TERM/INT/QUIT graceful stop (a second one: at once), USR1 nothing to "
               "reopen.\n",
                FPMD_VERSION, DEFAULT_CONFIG_FILE, CONVERT_DEFAULT_PREFIX);
}

static int test_config(const char *path)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = config_load(path, DEFAULT_PHP_INI, &c, &error);
        if (r < 0) {
                fprintf(stderr, "fpmd: %s\n", error ? error : strerror(-r));
                fprintf(stderr, "fpmd: configuration file %s test failed\n", path);
                return 1;
        }
        /* What a start would refuse: unknown users, a pool as root, a missing chroot */
        for (size_t i = 0; i < c->n_pools; i++) {
                Isolation iso;

                if (isolation_plan(&c->pools[i], true, &iso) < 0) {
                        fprintf(stderr, "fpmd: configuration file %s test failed\n", path);
                        return 1;
                }
                isolation_done(&iso);
        }
        printf("fpmd: configuration file %s test is successful (%zu pool%s)\n", path, c->n_pools,
                c->n_pools == 1 ? "" : "s");
        return 0;
}

static int run_status(int argc, char *argv[])
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"full", no_argument, NULL, 'f'},
                {"pid", required_argument, NULL, 'p'},
                {},
        };
        const char *pool = NULL;
        bool json = false, full = false;
        pid_t pid = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "jfp:", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'f':
                        full = true;
                        break;
                case 'p':
                        pid = (pid_t)atoi(optarg);
                        break;
                default:
                        return 2;
                }
        if (optind < argc)
                pool = argv[optind++];

        if (pid <= 0) {
                r = control_find_supervisor(&pid);
                if (r == -ENOTUNIQ) {
                        fprintf(stderr, "fpmd: several fpmd are running, name one with --pid\n");
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "fpmd: no running fpmd found (or not allowed to look: try as root)\n");
                        return 1;
                }
        }
        r = ctl_status(pid, pool, json, full);
        if (r == -ENOENT)
                fprintf(stderr, "fpmd: fpmd %d has no pool named '%s'\n", (int)pid, strna(pool));
        else if (r == -ESRCH)
                fprintf(stderr, "fpmd: no process %d\n", (int)pid);
        else if (r == -ENOTSUP)
                fprintf(stderr, "fpmd: process %d is not an fpmd supervisor (it holds no scoreboard)\n", (int)pid);
        else if (r < 0)
                fprintf(stderr, "fpmd: cannot read the status of fpmd %d: %s\n", (int)pid, strerror(-r));
        return r < 0 ? 1 : 0;
}

static int run_convert(int argc, char *argv[])
{
        enum { ARG_PHP_INI = 0x100 };
        static const struct option options[] = {
                {"output", required_argument, NULL, 'o'},
                {"force", no_argument, NULL, 'f'},
                {"prefix", required_argument, NULL, 'p'},
                {"php-ini", required_argument, NULL, ARG_PHP_INI},
                {},
        };
        _cleanup_(convert_result_done) ConvertResult result = {};
        _cleanup_free_ char *error = NULL, *found_ini = NULL;
        ConvertOptions o = {.prefix = CONVERT_DEFAULT_PREFIX};
        const char *output = NULL, *path;
        bool force = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "o:fp:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'p':
                        o.prefix = optarg;
                        break;
                case ARG_PHP_INI:
                        o.php_ini = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind != argc - 1) {
                fprintf(stderr, "fpmd: convert takes one PHP-FPM configuration file (see fpmd --help)\n");
                return 2;
        }
        path = argv[optind];
        if (!o.php_ini)
                o.php_ini = found_ini = convert_find_php_ini(path);

        r = convert_config(path, &convert_source_system, &o, &result, &error);
        if (r < 0) {
                fprintf(stderr, "fpmd: %s\n", error ? error : strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < result.n_notes; i++)
                fprintf(stderr, "%s\n", result.notes[i]);

        if (!output)
                return convert_print(&result, stdout) < 0 ? 1 : 0;
        r = convert_write(&result, output, force, &error);
        if (r < 0) {
                fprintf(stderr, "fpmd: %s\n", error ? error : strerror(-r));
                return 1;
        }
        fprintf(stderr, "fpmd: wrote %s/fpmd.conf and %zu pool file%s; check them with: fpmd -t -c %s/fpmd.conf\n",
                output, result.n_files - 1, result.n_files == 2 ? "" : "s", output);
        return 0;
}

static int run_reload(int argc, char *argv[])
{
        static const struct option options[] = {
                {"pid", required_argument, NULL, 'p'},
                {"timeout", required_argument, NULL, 't'},
                {},
        };
        _cleanup_free_ char *text = NULL;
        usec_t timeout = 90 * USEC_PER_SEC; /* systemd's default for ExecReload= */
        pid_t pid = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "p:t:", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        pid = (pid_t)atoi(optarg);
                        break;
                case 't':
                        if (parse_duration(optarg, &timeout) < 0) {
                                fprintf(stderr, "fpmd: invalid --timeout '%s'\n", optarg);
                                return 2;
                        }
                        if (timeout == 0)
                                timeout = USEC_INFINITY;
                        break;
                default:
                        return 2;
                }
        if (pid <= 0) {
                r = control_find_supervisor(&pid);
                if (r == -ENOTUNIQ) {
                        fprintf(stderr, "fpmd: several fpmd are running, name one with --pid\n");
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "fpmd: no running fpmd found\n");
                        return 1;
                }
        }
        r = control_reload(pid, argv + optind, (size_t)(argc - optind), timeout, &text);
        if (r == 0) {
                printf("fpmd: reloaded: %s\n", strempty(text));
                return 0;
        }
        if (r == -EBADE)
                fprintf(stderr, "fpmd: reload failed: %s\n", strempty(text));
        else if (r == -ETIMEDOUT)
                fprintf(stderr, "fpmd: reload of fpmd %d still not done after the timeout\n", (int)pid);
        else if (r == -ESRCH || r == -ENOENT)
                fprintf(stderr, "fpmd: no fpmd %d to reload\n", (int)pid);
        else
                fprintf(stderr, "fpmd: cannot reload fpmd %d: %s\n", (int)pid, strerror(-r));
        return 1;
}

int main(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"test-config", no_argument, NULL, 't'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *config_path = DEFAULT_CONFIG_FILE;
        bool test = false;
        int c;

        if (argc > 1 && streq(argv[1], "status"))
                return run_status(argc - 1, argv + 1);
        if (argc > 1 && streq(argv[1], "reload"))
                return run_reload(argc - 1, argv + 1);
        if (argc > 1 && streq(argv[1], "convert"))
                return run_convert(argc - 1, argv + 1);

        while ((c = getopt_long(argc, argv, "c:y:th", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                case 'y': /* php-fpm's option for its configuration file */
                        config_path = optarg;
                        break;
                case 't':
                        test = true;
                        break;
                case ARG_VERSION:
                        printf("fpmd %s\nPHP %s\nlibsystemd %s\nlibconfig %s\n", FPMD_VERSION, FPMD_PHP_VERSION,
                                FPMD_LIBSYSTEMD_VERSION, FPMD_LIBCONFIG_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "fpmd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        log_setup(LOG_TARGET_AUTO);
        if (test)
                return test_config(config_path);

        user_lookups_in_child();
        if (manager_new(config_path, &m) < 0)
                return 1;
        return manager_run(m);
}
