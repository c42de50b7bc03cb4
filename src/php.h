/* php.h: fpmd's PHP SAPI "fpm-fcgi" on libphp embed: started once per pool, one request at a time per worker */
#pragma once

#include "config.h"
#include "request.h"
#include "scoreboard.h"

/* In the pool leader: PHP with the pool's php.ini and values; workers forked after it share opcache */
int php_startup(const Config *c, const PoolConfig *pool);
void php_shutdown(void);

/* What the SAPI of a worker works with: its pool, its socket (for the status page) and its scoreboard slot */
typedef struct PhpWorker {
        const PoolConfig *pool;
        int listen_fd;
        Scoreboard *scoreboard;
        unsigned slot;
} PhpWorker;

/* In a worker, before its first request: the slowlog's backtrace handler */
int php_worker_init(const PhpWorker *w);

/* In a worker: runs one request whose PARAMS are read, up to and including END_REQUEST (in worker mode: the
 * handler fpmd_handle_request() was given) */
void php_handle_request(Request *r);

/* Worker mode: what the worker's loop offers the worker script */
typedef struct PhpWorkerLoop {
        bool (*serve_one)(void); /* waits for the next request and serves it (php_handle_request()); false: stop */
        void (*finish)(void);    /* hands on what the worker holds, before it exits after a fatal error */
} PhpWorkerLoop;

/* Worker mode: runs the pool's worker.script once, in a PHP request of its own; returns when it ends, 0, or
 * -ENOEXEC when it ended (or failed) before its first fpmd_handle_request() */
int php_run_worker(const PhpWorkerLoop *loop);

const char *php_version_string(void);
/* Where PHP looks for extensions named without a path (PHP_EXTENSION_DIR of the build) */
const char *php_extension_dir(void);
