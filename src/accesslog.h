/* accesslog.h: one line per request from PHP-FPM's access.format codes, without any I/O */
#pragma once

#include "macro.h"

typedef struct AccessEntry {
        const char *pool;
        long pid, ppid;
        const char *client_ip; /* of the FastCGI connection (PHP-FPM's %R); NULL for a unix socket */
        const char *auth_user; /* NULL: "-" */
        const char *method;
        const char *request_uri; /* as PHP-FPM: SCRIPT_NAME */
        const char *query_string;
        const char *script;
        int status;
        uint64_t content_length;
        uint64_t duration_usec;
        uint64_t wait_usec; /* %w: from its arrival to a worker taking it */
        uint64_t cpu_user_usec, cpu_system_usec;
        uint64_t memory_peak;
        usec_t start_realtime; /* %t */
        usec_t now_realtime;   /* %T */
        /* %{NAME}e: a FastCGI param; %{Name}o: a response header value; NULL when absent */
        const char *(*env)(void *userdata, const char *name);
        const char *(*header)(void *userdata, const char *name);
        void *userdata;
} AccessEntry;

/* Checks a format as PHP-FPM does at startup: 0, or -EINVAL with *ret_error set (static text) */
int access_format_check(const char *format, const char **ret_error);
/* Renders the line (no newline) into a malloc'd string */
int access_format(const char *format, const AccessEntry *e, char **ret);
