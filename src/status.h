/* status.h: the status page in PHP-FPM's formats (text, JSON, XML, HTML, OpenMetrics), from plain numbers */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef enum StatusFormat {
        STATUS_FORMAT_TEXT,
        STATUS_FORMAT_JSON,
        STATUS_FORMAT_XML,
        STATUS_FORMAT_HTML,
        STATUS_FORMAT_OPENMETRICS,
        _STATUS_FORMAT_MAX,
        _STATUS_FORMAT_INVALID = -EINVAL,
} StatusFormat;

/* One pool's counters. Strings may be NULL (printed as "-"). */
#define STATUS_BUCKETS 12 /* as SCOREBOARD_BUCKETS */

typedef struct StatusHistogram {
        uint64_t buckets[STATUS_BUCKETS]; /* per bucket, the last +Inf; bounds as scoreboard_bucket_bounds */
        uint64_t sum_usec;
} StatusHistogram;

/* The pool's own opcache (each pool has its own), from opcache_get_status() in the worker answering */
typedef struct StatusOpcache {
        bool enabled;
        uint64_t used, free, wasted; /* bytes of its shared memory */
        uint64_t cached_keys, hits, misses, oom_restarts, hash_restarts, manual_restarts;
} StatusOpcache;

/* fpmd's figures beyond PHP-FPM's page, printed when a pool has them (StatusPool.extra) */
typedef struct StatusExtra {
        uint64_t max_children;
        uint64_t status_classes[5]; /* responses 1xx to 5xx */
        uint64_t requests_terminated, workers_killed;
        StatusHistogram duration, wait;
        bool has_opcache;
        StatusOpcache opcache;
} StatusExtra;

typedef struct StatusPool {
        const char *pool;
        const char *process_manager; /* "static", "dynamic", "ondemand" */
        uint64_t start_time;         /* seconds since the epoch */
        uint64_t start_since;        /* seconds */
        uint64_t accepted_conn;
        uint64_t listen_queue, max_listen_queue, listen_queue_len;
        uint64_t idle_processes, active_processes, total_processes, max_active_processes;
        uint64_t max_children_reached, slow_requests;
        /* The rest are not in PHP-FPM 8.2's page; UINT64_MAX = unknown, and then left out. memory_peak
         * (bytes) is printed the way PHP-FPM 8.4 prints it; the cgroup numbers are fpmd's own. */
        uint64_t memory_peak;
        uint64_t cgroup_memory_current; /* bytes, memory.current */
        uint64_t cgroup_cpu_usage_usec; /* cpu.stat usage_usec */
        /* Requests not run because the web server had given up on them, scripts ended because it went while
         * they ran, requests answered 503 by the queue bounds (request_queue_timeout, request_queue_max) */
        uint64_t requests_abandoned, requests_aborted, requests_shed;
        const StatusExtra *extra; /* NULL: none */
} StatusPool;

/* One worker, for the "full" page. Strings may be NULL or empty: printed as "-" (the query string is then
 * left out of the URI, which is printed as "uri?query" otherwise). */
typedef struct StatusProc {
        int pid;
        const char *state; /* "Idle", "Running", "Reading headers", "Finishing", "Ending", "Starting" */
        uint64_t start_time, start_since;
        uint64_t requests;
        uint64_t request_duration; /* microseconds */
        const char *request_method, *request_uri, *query_string;
        uint64_t content_length;
        const char *user, *script;
        double last_request_cpu;      /* percent */
        uint64_t last_request_memory; /* bytes */
        uint64_t rss;                 /* bytes, resident; UINT64_MAX unknown (OpenMetrics "full" only) */
} StatusProc;

const char *status_format_to_string(StatusFormat f) _pure_;

/* A consistent copy of a pool's scoreboard, in the renderer's terms: the strings are the snapshot's own */
typedef struct Scoreboard Scoreboard;
typedef struct StatusSnapshot {
        StatusPool pool;
        StatusProc *procs;
        size_t n_procs;
        char *strings; /* storage of the procs' strings */
        char pool_name[64], pm_name[16];
        StatusExtra extra;
} StatusSnapshot;

/* n_slots is the reader's own count of the scoreboard's slots, never its header's. listen_queue and
 * listen_queue_len come from the caller (the kernel's accept queue), -1 when unknown */
int status_snapshot(const Scoreboard *sb, unsigned n_slots, usec_t now_realtime, long long listen_queue,
        long long listen_queue_len, StatusSnapshot *ret);
void status_snapshot_done(StatusSnapshot *s);

/* Decides the format and "full" from the status request's query string the way PHP-FPM 8.2 reads $_GET:
 * '&'-separated, names URL-decoded, "json=1" and "json[]" count as "json". html wins over xml, xml over
 * json, json over openmetrics; anything else is text. Only whole names count, where PHP-FPM 8.2 also takes
 * a prefix ("j", "f"). query may be NULL, either output too. */
void status_parse_query(const char *query, StatusFormat *ret_format, bool *ret_full);

/* Renders the response body into a malloc'd, NUL-terminated buffer (*ret_len excludes the NUL) and points
 * *ret_content_type at the Content-Type value PHP-FPM 8.2 sends for the format. PHP-FPM also sends
 * "Expires: Thu, 01 Jan 1970 00:00:00 GMT" and "Cache-Control: no-cache, no-store, must-revalidate,
 * max-age=0" with every status page. Text and HTML print times in the local time zone, as PHP-FPM does.
 * Returns 0, -EINVAL for a bad format or arguments, -ENOMEM, -ERANGE for a time localtime() cannot take. */
int status_render(StatusFormat format, bool full, const StatusPool *pool, const StatusProc *procs, size_t n_procs,
        char **ret_body, size_t *ret_len, const char **ret_content_type);
