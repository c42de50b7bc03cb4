/* pathinfo.h: the script of a request and its SCRIPT_FILENAME, SCRIPT_NAME, PATH_INFO and PATH_TRANSLATED, as
 * PHP-FPM 8.2 derives them from the web server's params (cgi.fix_pathinfo), with no I/O of its own */
#pragma once

#include <limits.h>

#include "fcgi.h"

/* The file system as PHP sees it: the caller's functions, so tests give a table of files instead */
typedef struct PathinfoFs {
        /* PHP's tsrm_realpath(): whether path names something that exists; its real path into ret (PATH_MAX) */
        bool (*realpath)(const char *path, char ret[PATH_MAX], void *userdata);
        /* stat() and S_ISREG: whether path is a regular file */
        bool (*is_file)(const char *path, void *userdata);
        void *userdata;
} PathinfoFs;

typedef struct PathinfoOptions {
        bool fix_pathinfo;    /* cgi.fix_pathinfo */
        bool discard_path;    /* cgi.discard_path */
        const char *doc_root; /* php.ini doc_root: DOCUMENT_ROOT when the web server sends none; NULL */
} PathinfoOptions;

typedef enum PathinfoString {
        PATHINFO_SCRIPT,
        PATHINFO_SCRIPT_NAME,
        PATHINFO_SCRIPT_REAL,
        _PATHINFO_STRING_MAX,
} PathinfoString;

/* Zero it before its first pathinfo_resolve(); a later one reuses its buffers (no allocation per request) */
typedef struct PathinfoResult {
        char *script;      /* the path PHP opens (SG(request_info).path_translated), NULL when there is none */
        char *script_name; /* SCRIPT_NAME as PHP sees it (SG(request_info).request_uri): PHP_SELF's start */
        char *script_real; /* the real path of script when the resolution learned it, else NULL */
        char *bufs[_PATHINFO_STRING_MAX]; /* where the three point (PathinfoString order) */
        size_t sizes[_PATHINFO_STRING_MAX];
} PathinfoResult;

/* Rewrites the params as PHP-FPM does (ORIG_* copies of what it changes, "proxy:fcgi://" and
 * "proxy:balancer://" URLs of Apache's mod_proxy_fcgi cut to their path, the path info walk back through the
 * '/' of SCRIPT_FILENAME) and fills *ret. Every offset is checked: PATH_INFO shorter than what the walk cut off
 * (CVE-2019-11043) gives no path info. The params' earlier values stay valid. 0 or -ENOMEM. */
int pathinfo_resolve(FcgiParams *p, const PathinfoOptions *o, const PathinfoFs *fs, PathinfoResult *ret);
void pathinfo_result_done(PathinfoResult *r); /* frees the buffers: zeroed again */

/* PHP-FPM's is_valid_path(): false for NULL and for a path with a ".." segment */
bool pathinfo_path_valid(const char *path);
