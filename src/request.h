/* request.h: one FastCGI connection and the request on it: reading PARAMS and STDIN, writing STDOUT/STDERR
 * records, END_REQUEST, keep-alive, management records and FCGI_CANT_MPX_CONN */
#pragma once

#include <sys/types.h>

#include "fcgi.h"
#include "macro.h"

/* A record is at most 8 + 65535 + 255 bytes: room for two lets a partial one wait while a whole one is parsed */
#define CONN_IN_SIZE  (2 * (FCGI_HEADER_LEN + FCGI_MAX_CONTENT_LEN + 255))
#define CONN_OUT_SIZE (64 * 1024)
/* Output goes out in records of 8 KiB (header and 8184 bytes of content, no padding), each write of PHP appended
 * to the open record, as PHP-FPM does. Some clients mishandle a record header split across two reads (libfcgi's
 * cgi-fcgi copies its second part to the wrong place): with records of 8 KiB and reads of 8 KiB, headers stay
 * off read boundaries. It also spends one header on 8 KiB, not on each write. */
#define REQUEST_RECORD_CONTENT_MAX (8192 - FCGI_HEADER_LEN)
#define REQUEST_PARAMS_MAX         (1024 * 1024)

/* What the connection's owner wants to hear of: passed down, so this module calls nothing above it */
typedef struct ConnHooks {
        void (*request_begin)(void *userdata); /* a BEGIN_REQUEST this connection will serve arrived */
        void *userdata;
} ConnHooks;

typedef struct Conn {
        int fd;
        uint8_t *in; /* records read from the peer: [in_off, in_len) not yet parsed */
        size_t in_off, in_len, in_size;
        uint8_t *out; /* records waiting to be written; the last one may still be open */
        size_t out_len, out_size;
        size_t open_record; /* offset of the open STDOUT/STDERR record's header in out, or SIZE_MAX */
        bool eof;           /* the peer closed its side */
        bool broken;        /* protocol error or write failure: close after this request */
        unsigned max_conns; /* FCGI_MAX_CONNS / FCGI_MAX_REQS answered to FCGI_GET_VALUES */
        int io_timeout_ms;  /* the fd is non-blocking; a body read or a write waits this long at most, -1 for ever */
        bool timestamps;    /* the socket has SO_TIMESTAMPNS (TCP): reads learn when their bytes arrived */
        usec_t arrival;     /* CLOCK_REALTIME: when the first of the buffered bytes arrived (the kernel's receive
                             * time with timestamps, else when they were read); 0 unknown */
        const ConnHooks *hooks;
} Conn;

typedef struct Request {
        Conn *conn;
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
        usec_t wait_usec; /* from its arrival (Conn.arrival) to a worker reading its head */
        int status;       /* HTTP status sent, for the logs */
        uint64_t bytes_out;
} Request;

/* Buffers of CONN_IN_SIZE and CONN_OUT_SIZE, kept for every connection the owner serves in turn */
int conn_init(Conn *c, unsigned max_conns, const ConnHooks *hooks);
void conn_done(Conn *c);
/* Starts serving fd (non-blocking) with bytes already read from it (a kept connection's leftover) */
int conn_attach(Conn *c, int fd, const uint8_t *leftover, size_t leftover_len);
/* One recv() of what is there now: bytes read, 0 at the end of the stream, -EAGAIN when nothing is, -ENOBUFS
 * when the buffer is full of unparsed bytes (conn_grow() then) */
int conn_receive(Conn *c);
/* Makes room for a request head of up to max bytes once the buffer is full of it: 0, or -E2BIG past max */
int conn_grow(Conn *c, size_t max);
/* Answers the management records (request id 0: FCGI_GET_VALUES) at the front of what is buffered, so a client
 * that asks only that is answered: 1 if it answered any, 0 if none, negative errno on a malformed record */
int conn_answer_management(Conn *c);
/* 1 when buf holds a whole request head (BEGIN_REQUEST and its PARAMS up to the empty one, or any record that
 * decides the request early), 0 while it does not, negative errno (-EPROTO, -EBADMSG) for a malformed record */
int request_head_complete(const uint8_t *buf, size_t len);
/* Bytes read past the last request, to keep with the connection while it waits */
static inline size_t conn_leftover(const Conn *c, const uint8_t **ret)
{
        *ret = c->in + c->in_off;
        return c->in_len - c->in_off;
}

void request_init(Request *r, Conn *c);
void request_done(Request *r);

/* Reads records up to the end of a request's PARAMS: 1 with a request ready, 0 when the peer closed the
 * connection between requests, negative errno when the connection must be dropped (-EPROTO, -EBADMSG, -E2BIG
 * for malformed data). */
int request_read(Request *r);

/* The request's STDIN stream, read on demand: bytes read, 0 at its end, negative errno */
ssize_t request_read_stdin(Request *r, void *buf, size_t size);
/* Whether the web server has given up on the request: it sent FCGI_ABORT_REQUEST (buffered, or arriving once the
 * body is read) or closed the connection (nginx closes it when its client goes or fastcgi_read_timeout passes;
 * a half-close counts too, as TCP cannot tell the two apart). One poll() when nothing says so yet. Sets
 * r->aborted. */
bool request_client_gone(Request *r);
/* The same before PHP starts the request, without a syscall for one that has just arrived over TCP */
bool request_gone_before_start(Request *r);
/* Appends to the STDOUT or STDERR stream (split into records, buffered) */
int request_write(Request *r, uint8_t type, const void *data, size_t len);
/* Sends what is buffered */
int request_flush(Request *r);
/* Closes the streams and sends END_REQUEST; the connection closes unless the peer asked to keep it */
int request_end(Request *r, uint32_t app_status);
/* Reads what is left of the body, so a kept connection stays in step and a closed one is not reset under the
 * peer while it still sends */
void request_drain(Request *r);
