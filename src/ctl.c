/* ctl.c: `fpmd status`: a running instance's pools from their scoreboards, for an operator's terminal */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "ctl.h"
#include "scoreboard.h"
#include "status.h"

#define MEMFD_LINK_PREFIX "/memfd:" SCOREBOARD_MEMFD_PREFIX
/* More pools than this, and none named: a table, a line per pool, instead of every pool's page */
#define CTL_POOLS_PAGES 8

/* Calls f for each scoreboard memfd of pid: its fd number and pool name */
static int foreach_scoreboard(pid_t pid, int (*f)(pid_t pid, int fd, const char *pool, void *userdata), void *userdata)
{
        char dir[64];
        struct dirent *de;
        DIR *d;
        int r = 0, found = 0;

        snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[384], link[256];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                n = readlink(path, link, sizeof(link) - 1);
                if (n <= 0)
                        continue;
                link[n] = 0;
                if (!strneq(link, MEMFD_LINK_PREFIX, strlen(MEMFD_LINK_PREFIX)))
                        continue;
                /* "/memfd:fpmd-scoreboard:www (deleted)" */
                link[strcspn(link, " ")] = 0;
                found++;
                if (f) {
                        r = f(pid, atoi(de->d_name), link + strlen(MEMFD_LINK_PREFIX), userdata);
                        if (r < 0)
                                break;
                }
        }
        closedir(d);
        return r < 0 ? r : found;
}

typedef struct PoolSearch {
        const char *name;
        bool found;
} PoolSearch;

static int has_pool(pid_t pid, int fd, const char *pool, void *userdata)
{
        PoolSearch *search = userdata;

        (void)pid;
        (void)fd;
        search->found = search->found || streq(pool, search->name);
        return 0;
}

typedef struct StatusRun {
        const char *pool;
        bool json, full;
        unsigned printed;
} StatusRun;

static int print_one(pid_t pid, int fd, const char *pool, void *userdata)
{
        StatusRun *run = userdata;
        _cleanup_free_ char *body = NULL;
        const char *content_type;
        const Scoreboard *sb;
        StatusSnapshot snap;
        char path[64];
        size_t size, len;
        unsigned n_slots;
        int own, r;

        if (run->pool && !streq(run->pool, pool))
                return 0;
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
        own = open(path, O_RDONLY | O_CLOEXEC);
        if (own < 0)
                return -errno;
        r = scoreboard_open(own, &sb, &size, &n_slots);
        close(own);
        if (r < 0)
                return r;
        /* The accept queue is the worker's to ask the kernel; from outside it is the peak only */
        r = status_snapshot(sb, n_slots, now_usec(CLOCK_REALTIME), -1, -1, &snap);
        if (r >= 0) {
                r = status_render(run->json ? STATUS_FORMAT_JSON : STATUS_FORMAT_TEXT, run->full, &snap.pool,
                        snap.procs, snap.n_procs, &body, &len, &content_type);
                status_snapshot_done(&snap);
        }
        munmap((void *)sb, size);
        if (r < 0)
                return r;

        if (run->json)
                printf("%s%s", run->printed > 0 ? ",\n" : "", body);
        else
                printf("%s%s", run->printed > 0 ? "\n" : "", body);
        run->printed++;
        return 0;
}

/* ---- many pools: a line each ---- */

typedef struct Row {
        char *text;
        char *name;
} Row;

typedef struct Table {
        Row *rows;
        size_t n;
        int error;
} Table;

static int add_row(pid_t pid, int fd, const char *pool, void *userdata)
{
        Table *t = userdata;
        const Scoreboard *sb;
        ScoreboardCounts c;
        char path[64], *text = NULL, *name = NULL;
        unsigned n_slots;
        size_t size;
        Row *rows;
        int own, r;

        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
        own = open(path, O_RDONLY | O_CLOEXEC);
        if (own < 0)
                return -errno;
        r = scoreboard_open(own, &sb, &size, &n_slots);
        close(own);
        if (r < 0)
                return r;
        scoreboard_count(sb, n_slots, &c);
        if (asprintf(&text, "%-24s %-9.9s %9u %6u %6u %12llu %6llu %10llu", pool, (const char *)sb->pm, c.total,
                    c.active, c.idle, (unsigned long long)sb->accepted_conn, (unsigned long long)sb->slow_requests,
                    (unsigned long long)sb->max_children_reached) < 0)
                text = NULL;
        munmap((void *)sb, size);
        name = strdup(pool);
        rows = realloc(t->rows, (t->n + 1) * sizeof(Row));
        if (!text || !name || !rows) {
                free(text);
                free(name);
                if (rows)
                        t->rows = rows;
                return -ENOMEM;
        }
        t->rows = rows;
        t->rows[t->n++] = (Row){.text = text, .name = name};
        return 0;
}

static int row_compare(const void *a, const void *b)
{
        return strcmp(((const Row *)a)->name, ((const Row *)b)->name);
}

/* One line per pool, by name: with hundreds of pools their pages would not fit a terminal */
static int print_table(pid_t pid)
{
        Table t = {};
        int r;

        r = foreach_scoreboard(pid, add_row, &t);
        if (r >= 0) {
                qsort(t.rows, t.n, sizeof(Row), row_compare);
                printf("%-24s %-9s %9s %6s %6s %12s %6s %10s\n", "POOL", "PM", "PROCESSES", "ACTIVE", "IDLE",
                        "ACCEPTED", "SLOW", "MAX-REACHED");
                for (size_t i = 0; i < t.n; i++)
                        printf("%s\n", t.rows[i].text);
                printf("\n%zu pools; `fpmd status POOL` shows one pool's page.\n", t.n);
        }
        for (size_t i = 0; i < t.n; i++) {
                free(t.rows[i].text);
                free(t.rows[i].name);
        }
        free(t.rows);
        return r < 0 ? r : 0;
}

int ctl_status(pid_t pid, const char *pool, bool json, bool full)
{
        StatusRun run = {.pool = pool, .json = json, .full = full};
        int r;

        /* What is wrong comes before anything is printed: no such process, or not an fpmd supervisor */
        r = foreach_scoreboard(pid, NULL, NULL);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTSUP;
        if (!pool && !json && !full && r > CTL_POOLS_PAGES)
                return print_table(pid);
        if (pool) {
                PoolSearch search = {.name = pool};

                r = foreach_scoreboard(pid, has_pool, &search);
                if (r < 0)
                        return r;
                if (!search.found)
                        return -ENOENT;
        }

        if (json && !pool)
                printf("[");
        r = foreach_scoreboard(pid, print_one, &run);
        if (json && !pool)
                printf("]");
        if (json)
                printf("\n");
        return r < 0 ? r : 0;
}
