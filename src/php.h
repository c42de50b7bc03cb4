/* php.h: fpmd's PHP SAPI "fpm-fcgi" on libphp embed: started once per pool, one request at a time per worker */
#pragma once

#include "config.h"
#include "worker.h"

/* In the pool leader: PHP with the pool's php.ini and values; workers forked after it share opcache */
int php_startup(const Config *c, const PoolConfig *pool);
void php_shutdown(void);

/* In a worker, before its first request: the slowlog's backtrace handler */
int php_worker_init(const WorkerContext *w);

/* In a worker: runs one request whose PARAMS are read, up to and including END_REQUEST */
void php_handle_request(Request *r, const WorkerContext *w);

const char *php_version_string(void);
