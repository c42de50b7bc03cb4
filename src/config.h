/* config.h: the global file and the pool files (libconfig) as plain structs */
#pragma once

#include <sys/types.h>

#include "macro.h"
#include "parse.h"

/* One "name = value" of env, php_value, php_admin_value, php_flag, php_admin_flag.
 * Names of ini settings are dotted again ("session.save_path"); flags are "1" or "0". */
typedef struct KeyValue {
        char *key;
        char *value;
} KeyValue;

typedef struct KeyValueList {
        KeyValue *items;
        size_t n;
} KeyValueList;

typedef struct StringList {
        char **items; /* NULL-terminated too */
        size_t n;
} StringList;

typedef struct ListenConfig {
        char *address;              /* NULL when unset: then systemd must pass a socket named after the pool */
        int backlog;                /* 511 */
        char *owner;                /* NULL: unchanged */
        char *group;                /* NULL: unchanged */
        unsigned mode;              /* 0660 */
        StringList allowed_clients; /* empty: any */
} ListenConfig;

/* Unset spare settings default to PHP-FPM's usual values, kept within max_children:
 * min_spare_servers 1, max_spare_servers MIN(MAX(3, min), max_children),
 * start_servers min + (max - min) / 2, that is 1, 3 and 2 with the defaults */
typedef struct PmConfig {
        PmMode mode;                 /* dynamic */
        unsigned max_children;       /* 5 */
        unsigned start_servers;      /* 2 */
        unsigned min_spare_servers;  /* 1 */
        unsigned max_spare_servers;  /* 3 */
        unsigned max_spawn_rate;     /* 32 */
        usec_t process_idle_timeout; /* 10s */
        usec_t leader_idle_timeout;  /* 10m: ondemand, the leader starts on demand and stops this long after
                                      * its last worker; 0: it starts with fpmd and stays */
        unsigned max_requests;       /* 0: never recycle */
        uint64_t max_memory;         /* bytes, 0: off; a worker above it after a request is replaced */
} PmConfig;

#define CGROUP_LIMIT_UNSET UINT64_MAX

typedef struct CgroupConfig {
        uint64_t memory_max;  /* bytes, CGROUP_LIMIT_UNSET */
        uint64_t memory_high; /* bytes, CGROUP_LIMIT_UNSET */
        uint64_t pids_max;    /* CGROUP_LIMIT_UNSET */
        uint64_t cpu_weight;  /* 1..10000, CGROUP_LIMIT_UNSET */
        uint64_t cpu_max;     /* percent of one CPU ("200%" = 200), CGROUP_LIMIT_UNSET */
} CgroupConfig;

typedef struct PoolConfig {
        char *name;
        char *file; /* the pool file it came from */
        int line;   /* line of its pool group */

        ListenConfig listen;

        char *user;                   /* NULL: the supervisor's user */
        char *group;                  /* NULL: the user's primary group */
        char *chroot;                 /* NULL: none */
        char *chdir;                  /* NULL: "/" */
        char *worker_script;          /* NULL: classic mode; else each worker runs it once (fpmd_handle_request()) */
        unsigned worker_max_requests; /* 0: no limit; worker mode, the requests a worker script serves */
        char *php_ini;                /* NULL: the global php_ini */
        char *php_ini_scan_dir; /* NULL: PHP_INI_SCAN_DIR of fpmd's environment, else conf.d beside php_ini; "": none */
        bool allow_pcntl;       /* false: the pcntl extension is not loaded, as in PHP-FPM (a worker must not fork) */

        PmConfig pm;

        char *status_path;   /* NULL: off */
        char *ping_path;     /* NULL: off */
        char *ping_response; /* "pong" */

        bool access_log;                      /* false */
        char *access_format;                  /* "%R - %u %t \"%m %r\" %s" */
        bool slowlog;                         /* true; acts only with request_slowlog_timeout */
        usec_t request_slowlog_timeout;       /* 0: off */
        unsigned request_slowlog_trace_depth; /* 20 */
        usec_t request_terminate_timeout;     /* 0: off */
        usec_t request_header_timeout;        /* 5s: a connection's whole request head (PARAMS) arrives within; 0 off */
        usec_t request_io_timeout;            /* 60s: the longest a body read or a response write waits; 0 off */
        usec_t keepalive_timeout;             /* 120s: a kept connection idle this long is closed; 0 off */
        unsigned worker_connections;          /* 256: connections one worker holds (arriving and kept) */
        usec_t request_queue_timeout;         /* 0 off: a request that waited longer before a worker took it is
                                               * answered 503 without running PHP */
        unsigned request_queue_max;           /* 0 off: with more connections than this waiting in the accept
                                               * queue, the request a worker takes is answered 503 */

        bool catch_workers_output;   /* true */
        bool clear_env;              /* true */
        bool allow_php_value_params; /* false: PHP_VALUE/PHP_ADMIN_VALUE FastCGI params are ignored */
        KeyValueList env;            /* values as written: "$NAME" is for the worker to take from fpmd's environment */
        StringList limit_extensions; /* ".php", ".phar"; an explicit empty list allows any */
        StringList script_roots;     /* empty: a script may be anywhere, as in PHP-FPM; else only inside these
                                      * folders ("$DOCUMENT_ROOT": the request's DOCUMENT_ROOT) */

        KeyValueList php_value;
        KeyValueList php_admin_value;
        KeyValueList php_flag;
        KeyValueList php_admin_flag;

        int rlimit_files; /* -1: unchanged */
        int rlimit_core;  /* -1: unchanged; "unlimited" is RLIM_INFINITY as -2 */

        CgroupConfig cgroup;

        /* false: left as the kernel sets it on the user switch; true: PR_SET_DUMPABLE 1 afterwards,
         * as PHP-FPM's process.dumpable */
        bool process_dumpable;
        bool allow_root; /* false: refuse to run workers as root (PHP-FPM's --allow-to-run-as-root) */
} PoolConfig;

typedef struct Config {
        char *file;                           /* the global file */
        int log_level;                        /* LOG_NOTICE */
        char *include_dir;                    /* absolute: resolved against the global file's folder */
        char *php_ini;                        /* default php.ini of pools */
        unsigned emergency_restart_threshold; /* 0: off */
        usec_t emergency_restart_interval;    /* 0 */
        usec_t process_control_timeout;       /* 10s */
        bool watchdog;                        /* true */
        bool zygote;                          /* true: leaders forked from a process with PHP's libraries loaded */

        PoolConfig *pools;
        size_t n_pools;

        unsigned n_ref; /* the supervisor's: pools of older generations keep their configuration alive */
} Config;

/* Reads the global file and every include_dir/\*.conf in name order. On failure returns negative errno and,
 * where the fault is in the configuration, sets *ret_error to "FILE:LINE: what is wrong" (caller frees). */
int config_load(const char *path, const char *default_php_ini, Config **ret, char **ret_error);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);
/* The supervisor's references: pools of older generations keep their configuration alive */
Config *config_ref(Config *c);
Config *config_unref(Config *c); /* frees it with the last reference; returns NULL */

/* The dotted names of every setting the global file, or a pool group, accepts ("pm.max_children"), one per i
 * from 0, then NULL: the list man/fpmd.conf.5 documents (tests/unit/test-config-doc.c holds them together) */
const char *config_global_setting_name(size_t i);
const char *config_pool_setting_name(size_t i);

const PoolConfig *config_find_pool(const Config *c, const char *name);
/* The php.ini a pool starts PHP with */
const char *pool_php_ini(const Config *c, const PoolConfig *p);
/* The folder of ini files PHP scans after php.ini (PHP_INI_SCAN_DIR): *ret NULL for none known, "" for none */
int pool_php_ini_scan_dir(const Config *c, const PoolConfig *p, char **ret);

/* One pool of a configuration as one libconfig text, its global settings and "pool = { ... };", that
 * config_load_single() reads back to equal structs: how the supervisor hands a leader its pool */
int config_format_pool(const Config *c, const PoolConfig *p, char **ret);
/* Reads such a file: the global settings and exactly one pool */
int config_load_single(const char *path, Config **ret, char **ret_error);
/* Whether two pools' settings are the same (a reload keeps such a pool running untouched) */
bool pool_config_equal(const PoolConfig *a, const PoolConfig *b);
