/* worker.h: a worker process: accept on the pool's socket, speak FastCGI, hand each request to PHP */
#pragma once

#include "config.h"
#include "isolation.h"
#include "listen.h"
#include "scoreboard.h"

typedef struct WorkerContext {
        const Config *config;
        const PoolConfig *pool;
        int listen_fd;
        int handover_rx, handover_tx; /* the pool's pair for handing connections to siblings, -1 without */
        const AllowedClients *allowed;
        const Isolation *isolation;
        Scoreboard *scoreboard;
        unsigned slot;
} WorkerContext;

/* In the leader, before PHP starts: PHP's zend_signal records the handlers present at its startup and reinstates
 * them at every request, so the workers' handlers must already be there. The leader itself has these signals
 * blocked and reads them from its event loop. */
void worker_install_signal_handlers(void);

/* Runs the worker until it is told to stop or has served pm.max_requests; returns the exit code */
int worker_run(const WorkerContext *w);
