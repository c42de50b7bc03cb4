/* worker.h: a worker process: accept on the pool's socket, speak FastCGI, hand each request to PHP */
#pragma once

#include "config.h"
#include "fcgi.h"
#include "isolation.h"
#include "listen.h"
#include "scoreboard.h"

typedef struct Conn {
        int fd;
        uint8_t *in; /* records read from the peer: [in_off, in_len) not yet parsed */
        size_t in_off, in_len, in_size;
        uint8_t *out; /* records waiting to be written; the last one may still be open */
        size_t out_len, out_size;
        size_t open_record; /* offset of the open STDOUT/STDERR record's header in out, or SIZE_MAX */
        bool eof;           /* the peer closed its side */
        bool broken;        /* protocol error or write failure: close after this request */
} Conn;

typedef struct Request {
        Conn *conn;
        const PoolConfig *pool;
        uint16_t id;
        bool keep_conn;
        FcgiParams params;

        const uint8_t *stdin_ptr; /* unread part of the current STDIN record, inside conn->in */
        size_t stdin_avail;
        bool stdin_eof;
        uint64_t stdin_bytes;

        bool ended;   /* END_REQUEST sent (the script may still run: fastcgi_finish_request()) */
        bool aborted; /* ABORT_REQUEST received or the connection is gone */
        usec_t start_real, start_mono;
        int status; /* HTTP status sent, for the logs */
        uint64_t bytes_out;
} Request;

typedef struct WorkerContext {
        const Config *config;
        const PoolConfig *pool;
        int listen_fd;
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

/* The request's STDIN stream, read on demand: bytes read, 0 at its end, negative errno */
ssize_t request_read_stdin(Request *r, void *buf, size_t size);
/* Appends to the STDOUT or STDERR stream (split into records, buffered) */
int request_write(Request *r, uint8_t type, const void *data, size_t len);
/* Sends what is buffered */
int request_flush(Request *r);
/* Closes the streams and sends END_REQUEST; the connection closes unless the peer asked to keep it */
int request_end(Request *r, uint32_t app_status);
