/* fuzz-config: the input is a pool file. config_load() reads it next to a global file in a temporary folder;
 * a refusal must come with "FILE:LINE: why" (or -ENOMEM), and a pool that loads must survive the trip a leader's
 * settings take: config_format_pool() -> config_load_single() gives an equal pool (pool_config_equal) and the
 * same text again. */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"

/* libconfig 1.5 (Debian 12) leaks the string token its scanner made when a syntax error follows it:
 * config_read_string() then config_destroy() alone show it, so it is libconfig's. Its stacks stop in libconfig (no
 * frame pointers), at the scanner's allocation. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static char dir[PATH_MAX], global_path[PATH_MAX], pool_path[PATH_MAX], single_path[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void cleanup(void)
{
        (void)nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t size)
{
        FILE *f = fopen(path, "we");

        FUZZ_CHECK(f, "cannot write %s: %m", path);
        FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s: %m", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static const char global[] = "include_dir = \"conf.d\";\nlog_level = \"notice\";\n";
        /* Files in memory when the machine has a tmpfs there: a disk write per run costs more than the parse */
        const char *tmp = getenv("TMPDIR") ?: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        char conf_d[PATH_MAX + 8];

        (void)argc;
        (void)argv;
        fuzz_quiet();
        snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX", tmp);
        FUZZ_CHECK(mkdtemp(dir), "mkdtemp %s: %m", dir);
        atexit(cleanup);
        snprintf(conf_d, sizeof(conf_d), "%s/conf.d", dir);
        FUZZ_CHECK(mkdir(conf_d, 0700) == 0, "mkdir: %m");
        snprintf(global_path, sizeof(global_path), "%s/fpmd.conf", dir);
        snprintf(pool_path, sizeof(pool_path), "%s/conf.d/pool.conf", dir);
        snprintf(single_path, sizeof(single_path), "%s/single.conf", dir);
        write_file(global_path, global, sizeof(global) - 1);
        return 0;
}

/* An @include could name any file of the machine (/dev/zero, a FIFO): a finding about the machine, not fpmd */
static bool has_include(const uint8_t *data, size_t size)
{
        static const char word[] = "@include";

        for (size_t i = 0; i + sizeof(word) - 1 <= size; i++)
                if (strncasecmp((const char *)data + i, word, sizeof(word) - 1) == 0)
                        return true;
        return false;
}

/* The error names a file of ours, with a line when it is about a setting */
static void check_error(int r, const char *error)
{
        FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "config_load returned %d", r);
        if (r != -EINVAL)
                return;
        FUZZ_CHECK(error, "-EINVAL without a message");
        FUZZ_CHECK(strneq(error, pool_path, strlen(pool_path)) || strneq(error, global_path, strlen(global_path)),
                "error names no file of ours: %s", error);
}

static void check_round_trip(const Config *c)
{
        _cleanup_(config_freep) Config *single = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL, *error = NULL;
        const PoolConfig *a, *b;
        int r;

        FUZZ_CHECK(c->n_pools == 1, "%zu pools from one file", c->n_pools);
        a = &c->pools[0];
        FUZZ_CHECK(config_format_pool(c, a, &text) == 0, "config_format_pool");
        write_file(single_path, text, strlen(text));

        r = config_load_single(single_path, &single, &error);
        FUZZ_CHECK(r == 0, "pool '%s' does not read back (%d): %s\n--- formatted:\n%s", a->name, r, strna(error), text);
        b = &single->pools[0];
        FUZZ_CHECK(single->n_pools == 1 && pool_config_equal(a, b), "pool '%s' differs after the round trip:\n%s",
                a->name, text);
        FUZZ_CHECK(single->log_level == c->log_level && streq(strempty(single->php_ini), strempty(c->php_ini)) &&
                           single->emergency_restart_threshold == c->emergency_restart_threshold &&
                           single->emergency_restart_interval == c->emergency_restart_interval &&
                           single->process_control_timeout == c->process_control_timeout &&
                           single->watchdog == c->watchdog,
                "global settings differ after the round trip:\n%s", text);

        /* Fields pool_config_equal() might miss still show in the text */
        FUZZ_CHECK(config_format_pool(single, b, &text2) == 0, "config_format_pool");
        FUZZ_CHECK(streq(text, text2), "the text changes on a second round trip:\n%s\n--- then:\n%s", text, text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (has_include(data, size))
                return -1; /* not added to the corpus */

        write_file(pool_path, data, size);
        r = config_load(global_path, "/etc/php/8.2/fpm/php.ini", &c, &error);
        if (r < 0) {
                check_error(r, error);
                return 0;
        }
        FUZZ_CHECK(!error, "an error with success: %s", error);
        check_round_trip(c);
        return 0;
}
