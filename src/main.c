/* main.c: command line of fpmd */
#include <getopt.h>
#include <stdio.h>

#include "config.h"
#include "fpmd-config.h"
#include "isolation.h"
#include "log.h"
#include "manager.h"
#include "php.h"

static void help(void)
{
        printf("fpmd %s: a PHP FastCGI process manager native to systemd\n\n"
               "Usage: fpmd [OPTIONS]\n\n"
               "  -c, --config FILE    global configuration file (default %s)\n"
               "  -t, --test-config    check the configuration, print what is wrong, exit 0 or 1\n"
               "      --version        versions of fpmd, PHP, libsystemd and libconfig\n"
               "  -h, --help           this help\n\n"
               "Signals: HUP/USR2 reload, TERM/INT graceful stop, QUIT stop without waiting.\n",
                FPMD_VERSION, DEFAULT_CONFIG_FILE);
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

                if (isolation_plan(&c->pools[i], &iso) < 0) {
                        fprintf(stderr, "fpmd: configuration file %s test failed\n", path);
                        return 1;
                }
                isolation_done(&iso);
        }
        printf("fpmd: configuration file %s test is successful (%zu pool%s)\n", path, c->n_pools,
                c->n_pools == 1 ? "" : "s");
        return 0;
}

int main(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "test-config", no_argument, NULL, 't' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *config_path = DEFAULT_CONFIG_FILE;
        bool test = false;
        int c;

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
                        printf("fpmd %s\nPHP %s\nlibsystemd %s\nlibconfig %s\n", FPMD_VERSION, php_version_string(),
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

        if (manager_new(config_path, &m) < 0)
                return 1;
        return manager_run(m);
}
