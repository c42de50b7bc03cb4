/* php.c: fpmd's PHP SAPI "fpm-fcgi" on libphp embed: started once per pool, one request at a time per worker */
#include <main/php.h>
#include <SAPI.h>
#include <ext/standard/dl.h>
#include <ext/standard/head.h>
#include <ext/standard/info.h>
#include <main/http_status_codes.h>
#include <main/php_ini.h>
#include <main/php_main.h>
#include <main/php_output.h>
#include <main/php_variables.h>
#include <main/fopen_wrappers.h>
#include <Zend/zend_exceptions.h>
#include <Zend/zend_ini.h>
#include <Zend/zend_signal.h>
#include <Zend/zend_virtual_cwd.h>

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "accesslog.h"
#include "fpmd-config.h"
#include "listen.h"
#include "log.h"
#include "messages.h"
#include "pathinfo.h"
#include "php.h"
#include "slowlog.h"
#include "status.h"

typedef struct FpmdGlobals {
        bool fix_pathinfo;
        bool discard_path;
        bool fcgi_logging;
        bool rfc2616_headers;
        bool nph;
        char *error_header;
} FpmdGlobals;

static FpmdGlobals fpmd_globals;
static const PoolConfig *pool;
static PhpWorker worker_ctx; /* a copy: set in a worker, scoreboard NULL elsewhere */
static Request *current;
static int body_fd = -1;        /* REQUEST_BODY_FILE; -2: the body comes in STDIN records */
static bool stderr_started;     /* FCGI_STDERR messages of one request are joined with "; " */
static PathinfoResult resolved; /* the script of the request and SCRIPT_NAME as PHP sees it */
static HashTable user_ini_cache;
static void (*import_process_environment)(zval *array);

typedef struct UserIniEntry {
        time_t expires;
        HashTable config;
} UserIniEntry;

const char *php_version_string(void)
{
        return PHP_VERSION;
}

const char *php_extension_dir(void)
{
        return PHP_EXTENSION_DIR;
}

/* ---- output ---- */

static bool worker_booted; /* worker mode: the worker script's own request state is ended, requests have theirs */

static size_t sapi_fpmd_ub_write(const char *str, size_t len)
{
        if (!current && worker_booted)
                return len; /* worker mode, between requests: output goes nowhere */
        if (!current) {
                /* Before any request (startup errors): the leader's stderr */
                (void)!write(STDERR_FILENO, str, len);
                return len;
        }
        if (current->ended)
                return len; /* after fastcgi_finish_request() output goes nowhere, the script keeps running */
        if (request_write(current, FCGI_STDOUT, str, len) < 0)
                php_handle_aborted_connection();
        return len;
}

static void sapi_fpmd_flush(void *server_context)
{
        if (!server_context || current->ended)
                return;
        sapi_send_headers();
        if (request_flush(current) < 0)
                php_handle_aborted_connection();
}

static void write_header_line(const char *line, size_t len)
{
        request_write(current, FCGI_STDOUT, line, len);
        request_write(current, FCGI_STDOUT, "\r\n", 2);
}

/* As PHP-FPM: a "Status:" line for any code but 200, the headers, no Content-Type on a 304 */
static int sapi_fpmd_send_headers(sapi_headers_struct *headers)
{
        zend_llist_position pos;
        sapi_header_struct *h;
        int status = SG(sapi_headers).http_response_code;
        bool status_sent = false;
        char buf[1024];

        if (SG(request_info).no_headers == 1 || !current)
                return SAPI_HEADER_SENT_SUCCESSFULLY;

        if (fpmd_globals.nph || status != 200) {
                const char *line = SG(sapi_headers).http_status_line;
                const char *sp = line ? strchr(line, ' ') : NULL;
                bool has_status_header = false;
                int len = -1;

                if (line && sp && fpmd_globals.rfc2616_headers) {
                        len = snprintf(buf, sizeof(buf), "%s", line);
                        status = atoi(sp + 1);
                } else if (line && sp && sp - line >= 5 && strncasecmp(line, "HTTP/", 5) == 0) {
                        len = snprintf(buf, sizeof(buf), "Status:%s", sp);
                        status = atoi(sp + 1);
                } else {
                        for (h = zend_llist_get_first_ex(&headers->headers, &pos); h;
                                h = zend_llist_get_next_ex(&headers->headers, &pos))
                                if (h->header_len > 7 && strncasecmp(h->header, "Status:", 7) == 0) {
                                        has_status_header = true;
                                        status = atoi(h->header + 7);
                                        break;
                                }
                        if (!has_status_header) {
                                const char *reason = NULL;

                                for (const http_response_status_code_pair *e = http_status_map; e->code; e++)
                                        if (e->code == status) {
                                                reason = e->str;
                                                break;
                                        }
                                len = reason ? snprintf(buf, sizeof(buf), "Status: %d %s", status, reason)
                                             : snprintf(buf, sizeof(buf), "Status: %d", status);
                        }
                }
                if (len >= 0) {
                        write_header_line(buf, MIN((size_t)len, sizeof(buf) - 1));
                        status_sent = true;
                }
        }

        for (h = zend_llist_get_first_ex(&headers->headers, &pos); h;
                h = zend_llist_get_next_ex(&headers->headers, &pos)) {
                if (h->header_len == 0)
                        continue;
                if (h->header_len > 7 && strncasecmp(h->header, "Status:", 7) == 0) {
                        if (!status_sent) {
                                status_sent = true;
                                status = atoi(h->header + 7);
                                write_header_line(h->header, h->header_len);
                        }
                        continue;
                }
                if (status == 304 && h->header_len > 13 && strncasecmp(h->header, "Content-Type:", 13) == 0)
                        continue;
                write_header_line(h->header, h->header_len);
        }
        request_write(current, FCGI_STDOUT, "\r\n", 2);
        current->status = status;
        return SAPI_HEADER_SENT_SUCCESSFULLY;
}

/* ---- input ---- */

static size_t sapi_fpmd_read_post(char *buffer, size_t count)
{
        size_t remaining = (size_t)SG(request_info).content_length - SG(read_post_bytes);
        size_t done = 0;

        if (!current)
                return 0;
        if (remaining < count)
                count = remaining;

        if (body_fd == -1) {
                /* nginx client_body_in_file_only: the web server already wrote the body to a file */
                const char *file = fcgi_params_known(&current->params, FCGI_KNOWN_REQUEST_BODY_FILE);

                body_fd = -2;
                if (!isempty(file)) {
                        body_fd = open(file, O_RDONLY | O_CLOEXEC);
                        if (body_fd < 0) {
                                php_error(E_WARNING, "REQUEST_BODY_FILE: open('%s') failed: %s (%d)", file,
                                        strerror(errno), errno);
                                body_fd = -2;
                                return 0;
                        }
                }
        }

        while (done < count) {
                ssize_t n;

                if (body_fd >= 0) {
                        n = read(body_fd, buffer + done, count - done);
                        if (n < 0 && errno == EINTR)
                                continue;
                } else
                        n = request_read_stdin(current, buffer + done, count - done);
                if (n <= 0)
                        break;
                done += (size_t)n;
        }
        return done;
}

static char *sapi_fpmd_read_cookies(void)
{
        return current ? (char *)fcgi_params_known(&current->params, FCGI_KNOWN_HTTP_COOKIE) : NULL;
}

static char *sapi_fpmd_getenv(const char *name, size_t name_len)
{
        (void)name_len;
        if (current)
                return (char *)fcgi_params_get(&current->params, name);
        return getenv(name);
}

/* In CGI the environment is part of the server variables: the worker's own, then every FastCGI param */
static void import_environment(zval *array)
{
        int arg = Z_ARR_P(array) == Z_ARR(PG(http_globals)[TRACK_VARS_ENV]) ? PARSE_ENV : PARSE_SERVER;

        import_process_environment(array);
        if (!current)
                return;
        /* Through the input filter, as PHP-FPM: ext/filter keeps its raw copy (filter_input(INPUT_SERVER)) and
         * applies filter.default. Last sent first, as PHP-FPM lists them (its table puts each new name in front):
         * FCGI_ROLE comes last, and a name the path resolver added (ORIG_SCRIPT_NAME...) first. */
        for (size_t i = current->params.n; i-- > 0;) {
                char *value = (char *)current->params.values[i];
                size_t len = current->params.value_lens[i];

                if (sapi_module.input_filter(arg, current->params.names[i], &value, len, &len))
                        php_register_variable_safe(current->params.names[i], value, len, array);
        }
}

/* getenv() without a name: the worker's environment, then every FastCGI param as it is, unfiltered (PHP-FPM's
 * answer, in its order) */
static void load_environment(zval *array)
{
        import_process_environment(array);
        if (!current)
                return;
        for (size_t i = current->params.n; i-- > 0;)
                php_register_variable_safe(
                        current->params.names[i], current->params.values[i], current->params.value_lens[i], array);
}

static void sapi_fpmd_register_variables(zval *track_vars_array)
{
        const char *path_info;
        size_t sn_len, pi_len, len;
        char *self;

        php_import_environment_variables(track_vars_array);

        /* PHP_SELF is SCRIPT_NAME followed by PATH_INFO */
        path_info =
                fpmd_globals.fix_pathinfo && current ? fcgi_params_known(&current->params, FCGI_KNOWN_PATH_INFO) : NULL;
        sn_len = resolved.script_name ? strlen(resolved.script_name) : 0;
        pi_len = path_info ? strlen(path_info) : 0;
        self = emalloc(sn_len + pi_len + 1);
        if (sn_len > 0)
                memcpy(self, resolved.script_name, sn_len);
        if (pi_len > 0)
                memcpy(self + sn_len, path_info, pi_len);
        self[sn_len + pi_len] = 0;
        len = sn_len + pi_len;
        if (sapi_module.input_filter(PARSE_SERVER, "PHP_SELF", &self, len, &len))
                php_register_variable_safe("PHP_SELF", self, len, track_vars_array);
        efree(self);
}

static zend_result sapi_fpmd_get_request_time(double *t)
{
        if (!current)
                return FAILURE;
        *t = (double)current->start_real / 1e6;
        return SUCCESS;
}

/* ---- logs ---- */

/* PHP's errors and error_log(), with the request they belong to */
static void journal_php_message(const char *message, int priority)
{
        _cleanup_free_ char *text = NULL, *uri = NULL, *method = NULL, *script = NULL;
        char *fields[4] = {};

        if (asprintf(&text, "PHP message: %s", message) < 0)
                return;
        if (log_to_journal()) {
                if (asprintf(&uri, "REQUEST_URI=%s",
                            strempty(current ? fcgi_params_known(&current->params, FCGI_KNOWN_REQUEST_URI) : NULL)) <
                                0 ||
                        asprintf(&method, "REQUEST_METHOD=%s",
                                strempty(current ? fcgi_params_known(&current->params, FCGI_KNOWN_REQUEST_METHOD)
                                                 : NULL)) < 0 ||
                        asprintf(&script, "SCRIPT_FILENAME=%s", strempty(SG(request_info).path_translated)) < 0)
                        return;
                fields[0] = uri;
                fields[1] = method;
                fields[2] = script;
        } else
                /* On a terminal it shows however fpmd's log_level is set, as a notice at least */
                priority = MIN(priority, LOG_NOTICE);
        (void)log_struct(priority, NULL, NULL, fields, text);
}

static void sapi_fpmd_log_message(const char *message, int syslog_type)
{
        int priority = syslog_type >= 0 && syslog_type <= LOG_DEBUG ? syslog_type : LOG_NOTICE;

        /* Always the journal; also the web server's error log through FCGI_STDERR, as PHP-FPM does */
        journal_php_message(message, priority);

        if (fpmd_globals.fcgi_logging && current && !current->ended && message && *message) {
                if (stderr_started)
                        request_write(current, FCGI_STDERR, "; ", 2);
                stderr_started = true;
                request_write(current, FCGI_STDERR, "PHP message: ", 13);
                request_write(current, FCGI_STDERR, message, strlen(message));
        }
}

/* ---- per directory ini: php.ini [PATH=] sections and .user.ini files, as PHP-FPM ---- */

static void user_ini_entry_free(zval *zv)
{
        UserIniEntry *e = Z_PTR_P(zv);

        zend_hash_destroy(&e->config);
        free(e);
}

static void activate_user_ini(const char *dir, size_t dir_len, const char *doc_root, size_t doc_root_len)
{
        time_t now = sapi_get_request_time();
        UserIniEntry *e = zend_hash_str_find_ptr(&user_ini_cache, dir, dir_len);

        if (!e) {
                e = malloc(sizeof(UserIniEntry));
                if (!e)
                        return;
                e->expires = 0;
                zend_hash_init(&e->config, 8, NULL, config_zval_dtor, 1);
                zend_hash_str_update_ptr(&user_ini_cache, dir, dir_len, e);
        }

        if (now > e->expires) {
                _cleanup_free_ char *path = strndup(dir, dir_len);

                zend_hash_clean(&e->config);
                if (!path)
                        return;
                /* Inside the document root every folder from it down to the script's may hold one */
                if (doc_root_len > 0 && dir_len >= doc_root_len && strncmp(path, doc_root, doc_root_len) == 0) {
                        for (char *p = path + doc_root_len; (p = strchr(p, '/')); p++) {
                                *p = 0;
                                php_parse_user_ini_file(path, PG(user_ini_filename), &e->config);
                                *p = '/';
                        }
                        php_parse_user_ini_file(path, PG(user_ini_filename), &e->config);
                } else
                        php_parse_user_ini_file(path, PG(user_ini_filename), &e->config);
                e->expires = now + PG(user_ini_cache_ttl);
        }
        php_ini_activate_config(&e->config, PHP_INI_PERDIR, PHP_INI_STAGE_HTACCESS);
}

static int sapi_fpmd_activate(void)
{
        const char *translated = SG(request_info).path_translated;
        char dir[MAXPATHLEN];
        size_t dir_len;

        if (!current || !translated)
                return SUCCESS;

        if (php_ini_has_per_host_config()) {
                const char *server_name = fcgi_params_known(&current->params, FCGI_KNOWN_SERVER_NAME);
                if (server_name) {
                        char *lower = estrdup(server_name);
                        zend_str_tolower(lower, strlen(lower));
                        php_ini_activate_per_host_config(lower, strlen(lower));
                        efree(lower);
                }
        }

        if (!php_ini_has_per_dir_config() && isempty(PG(user_ini_filename)))
                return SUCCESS;

        dir_len = strlen(translated);
        if (dir_len >= sizeof(dir))
                return SUCCESS;
        memcpy(dir, translated, dir_len + 1);
        dir_len = zend_dirname(dir, dir_len);
        dir[dir_len] = 0;

        php_ini_activate_per_dir_config(dir, dir_len);

        if (!isempty(PG(user_ini_filename))) {
                const char *doc_root = fcgi_params_known(&current->params, FCGI_KNOWN_DOCUMENT_ROOT);
                size_t doc_root_len = doc_root ? strlen(doc_root) : 0;

                if (doc_root_len > 0 && doc_root[doc_root_len - 1] == '/')
                        doc_root_len--;
                if (doc_root)
                        activate_user_ini(dir, dir_len, doc_root, doc_root_len);
        }
        return SUCCESS;
}

static int sapi_fpmd_deactivate(void)
{
        /* The response ends when PHP is done with output, before the rest of the shutdown */
        if (SG(sapi_started) && current)
                (void)request_end(current, 0); /* PHP-FPM's appStatus is always 0 */
        return SUCCESS;
}

/* ---- PHP functions of the SAPI ---- */

static PHP_FUNCTION(fastcgi_finish_request)
{
        ZEND_PARSE_PARAMETERS_NONE();

        if (!current || current->ended)
                RETURN_FALSE;
        php_output_end_all();
        php_header();
        (void)request_end(current, 0);
        RETURN_TRUE;
}

/* HTTP_ACCEPT_LANGUAGE -> Accept-Language, CONTENT_TYPE -> Content-Type */
static PHP_FUNCTION(apache_request_headers)
{
        ZEND_PARSE_PARAMETERS_NONE();

        array_init(return_value);
        if (!current)
                return;
        /* In PHP-FPM's order, as $_SERVER */
        for (size_t i = current->params.n; i-- > 0;) {
                const char *name = current->params.names[i];
                char *value = current->params.values[i];
                unsigned vlen = (unsigned)current->params.value_lens[i];

                sapi_add_request_header(name, (unsigned)strlen(name), value, vlen, return_value);
        }
}

/* A worker's resident memory from /proc/PID/statm (the pool's workers share a uid); UINT64_MAX where /proc is not
 * there (a chroot) or hides it */
static uint64_t proc_resident(int pid)
{
        char path[64], buf[128];
        unsigned long long size, resident;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/statm", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
                return UINT64_MAX;
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return UINT64_MAX;
        return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t array_u64(HashTable *h, const char *key)
{
        zval *v = h ? zend_hash_str_find(h, key, strlen(key)) : NULL;

        if (!v)
                return 0;
        if (Z_TYPE_P(v) == IS_LONG)
                return Z_LVAL_P(v) > 0 ? (uint64_t)Z_LVAL_P(v) : 0;
        if (Z_TYPE_P(v) == IS_DOUBLE)
                return Z_DVAL_P(v) > 0 ? (uint64_t)Z_DVAL_P(v) : 0;
        return zend_is_true(v) ? 1 : 0;
}

static HashTable *array_sub(HashTable *h, const char *key)
{
        zval *v = h ? zend_hash_str_find(h, key, strlen(key)) : NULL;

        return v && Z_TYPE_P(v) == IS_ARRAY ? Z_ARRVAL_P(v) : NULL;
}

/* The pool's own opcache, as opcache_get_status(false) tells it; false without opcache */
static bool opcache_figures(StatusOpcache *ret)
{
        zval fn, rv, arg;
        HashTable *h, *mem, *stats;
        bool ok = false;

        if (!zend_hash_str_exists(CG(function_table), "opcache_get_status", strlen("opcache_get_status")))
                return false;
        ZVAL_STRING(&fn, "opcache_get_status");
        ZVAL_FALSE(&arg);
        ZVAL_UNDEF(&rv);
        if (call_user_function(CG(function_table), NULL, &fn, &rv, 1, &arg) == SUCCESS && Z_TYPE(rv) == IS_ARRAY) {
                h = Z_ARRVAL(rv);
                mem = array_sub(h, "memory_usage");
                stats = array_sub(h, "opcache_statistics");
                *ret = (StatusOpcache){
                        .enabled = array_u64(h, "opcache_enabled") != 0,
                        .used = array_u64(mem, "used_memory"),
                        .free = array_u64(mem, "free_memory"),
                        .wasted = array_u64(mem, "wasted_memory"),
                        .cached_keys = array_u64(stats, "num_cached_keys"),
                        .hits = array_u64(stats, "hits"),
                        .misses = array_u64(stats, "misses"),
                        .oom_restarts = array_u64(stats, "oom_restarts"),
                        .hash_restarts = array_u64(stats, "hash_restarts"),
                        .manual_restarts = array_u64(stats, "manual_restarts"),
                };
                ok = true;
        }
        zval_ptr_dtor(&rv);
        zval_ptr_dtor(&fn);
        return ok;
}

/* The pool's snapshot; with opcache, its opcache figures (the status page, every format) and with rss each
 * worker's resident memory, which only the OpenMetrics page ("full") shows: a /proc read per worker */
static int status_take(StatusSnapshot *ret, bool opcache, bool rss)
{
        unsigned waiting = 0, size = 0;
        bool tcp;
        int r;

        if (!worker_ctx.scoreboard)
                return -ENODATA;
        tcp = listen_queue(worker_ctx.listen_fd, &waiting, &size) >= 0;
        /* A peak seen here counts as one seen at a tick */
        if (tcp && waiting > worker_ctx.scoreboard->max_listen_queue)
                worker_ctx.scoreboard->max_listen_queue = waiting;
        r = status_snapshot(worker_ctx.scoreboard, worker_ctx.pool->pm.max_children, now_usec(CLOCK_REALTIME),
                tcp ? (long long)waiting : -1, tcp ? (long long)size : -1, ret);
        if (r < 0)
                return r;
        for (size_t i = 0; rss && i < ret->n_procs; i++)
                ret->procs[i].rss = proc_resident(ret->procs[i].pid);
        ret->extra.has_opcache = opcache && opcache_figures(&ret->extra.opcache);
        return 0;
}

/* The same data as the status page, with PHP-FPM's array keys */
static PHP_FUNCTION(fpm_get_status)
{
        StatusSnapshot snap;
        const StatusPool *sp;
        zval procs;

        ZEND_PARSE_PARAMETERS_NONE();

        if (status_take(&snap, false, false) < 0)
                RETURN_FALSE;
        sp = &snap.pool;
        array_init(return_value);
        add_assoc_string(return_value, "pool", (char *)sp->pool);
        add_assoc_string(return_value, "process-manager", (char *)sp->process_manager);
        add_assoc_long(return_value, "start-time", (zend_long)sp->start_time);
        add_assoc_long(return_value, "start-since", (zend_long)sp->start_since);
        add_assoc_long(return_value, "accepted-conn", (zend_long)sp->accepted_conn);
        add_assoc_long(return_value, "listen-queue", (zend_long)sp->listen_queue);
        add_assoc_long(return_value, "max-listen-queue", (zend_long)sp->max_listen_queue);
        add_assoc_long(return_value, "listen-queue-len", (zend_long)sp->listen_queue_len);
        add_assoc_long(return_value, "idle-processes", (zend_long)sp->idle_processes);
        add_assoc_long(return_value, "active-processes", (zend_long)sp->active_processes);
        add_assoc_long(return_value, "total-processes", (zend_long)sp->total_processes);
        add_assoc_long(return_value, "max-active-processes", (zend_long)sp->max_active_processes);
        add_assoc_long(return_value, "max-children-reached", (zend_long)sp->max_children_reached);
        add_assoc_long(return_value, "slow-requests", (zend_long)sp->slow_requests);

        array_init(&procs);
        for (size_t i = 0; i < snap.n_procs; i++) {
                const StatusProc *s = &snap.procs[i];
                zval proc;

                array_init(&proc);
                add_assoc_long(&proc, "pid", s->pid);
                add_assoc_string(&proc, "state", (char *)strna(s->state));
                add_assoc_long(&proc, "start-time", (zend_long)s->start_time);
                add_assoc_long(&proc, "start-since", (zend_long)s->start_since);
                add_assoc_long(&proc, "requests", (zend_long)s->requests);
                add_assoc_long(&proc, "request-duration", (zend_long)s->request_duration);
                add_assoc_string(
                        &proc, "request-method", (char *)(isempty(s->request_method) ? "-" : s->request_method));
                add_assoc_string(&proc, "request-uri", (char *)(isempty(s->request_uri) ? "-" : s->request_uri));
                add_assoc_string(&proc, "query-string", (char *)strempty(s->query_string));
                add_assoc_long(&proc, "request-length", (zend_long)s->content_length);
                add_assoc_string(&proc, "user", (char *)(isempty(s->user) ? "-" : s->user));
                add_assoc_string(&proc, "script", (char *)(isempty(s->script) ? "-" : s->script));
                add_assoc_double(&proc, "last-request-cpu", s->last_request_cpu);
                add_assoc_long(&proc, "last-request-memory", (zend_long)s->last_request_memory);
                add_next_index_zval(&procs, &proc);
        }
        add_assoc_zval(return_value, "procs", &procs);
        status_snapshot_done(&snap);
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_fastcgi_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_apache_request_headers, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_fpm_get_status, 0, 0, MAY_BE_ARRAY | MAY_BE_FALSE)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_fpmd_handle_request, 0, 1, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, handler, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

static PHP_FUNCTION(fpmd_handle_request);

/* clang-format off */
/* PHP-FPM's functions; a worker pool's (worker.script) have fpmd_handle_request() and its FrankenPHP name too, a
 * classic pool's function list stays PHP-FPM's */
static const zend_function_entry fpmd_functions[] = {
        PHP_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
        PHP_FE(apache_request_headers, arginfo_apache_request_headers)
        PHP_FALIAS(getallheaders, apache_request_headers, arginfo_apache_request_headers)
        PHP_FE(fpm_get_status, arginfo_fpm_get_status)
        PHP_FE_END};
static const zend_function_entry fpmd_worker_functions[] = {
        PHP_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
        PHP_FE(apache_request_headers, arginfo_apache_request_headers)
        PHP_FALIAS(getallheaders, apache_request_headers, arginfo_apache_request_headers)
        PHP_FE(fpm_get_status, arginfo_fpm_get_status)
        PHP_FE(fpmd_handle_request, arginfo_fpmd_handle_request)
        PHP_FALIAS(frankenphp_handle_request, fpmd_handle_request, arginfo_fpmd_handle_request)
        PHP_FE_END};
/* clang-format on */

PHP_INI_BEGIN()
STD_PHP_INI_BOOLEAN("cgi.fix_pathinfo", "1", PHP_INI_SYSTEM, OnUpdateBool, fix_pathinfo, FpmdGlobals, fpmd_globals)
STD_PHP_INI_BOOLEAN("cgi.discard_path", "0", PHP_INI_SYSTEM, OnUpdateBool, discard_path, FpmdGlobals, fpmd_globals)
STD_PHP_INI_BOOLEAN("cgi.rfc2616_headers", "0", PHP_INI_ALL, OnUpdateBool, rfc2616_headers, FpmdGlobals, fpmd_globals)
STD_PHP_INI_BOOLEAN("cgi.nph", "0", PHP_INI_ALL, OnUpdateBool, nph, FpmdGlobals, fpmd_globals)
STD_PHP_INI_BOOLEAN("fastcgi.logging", "1", PHP_INI_SYSTEM, OnUpdateBool, fcgi_logging, FpmdGlobals, fpmd_globals)
STD_PHP_INI_ENTRY("fastcgi.error_header", NULL, PHP_INI_SYSTEM, OnUpdateString, error_header, FpmdGlobals, fpmd_globals)
/* PHP-FPM registers these too; nothing reads them in the FastCGI SAPI, scripts do */
PHP_INI_ENTRY("cgi.force_redirect", "1", PHP_INI_SYSTEM, NULL)
PHP_INI_ENTRY("cgi.redirect_status_env", NULL, PHP_INI_SYSTEM, NULL)
PHP_INI_ENTRY("fpm.config", NULL, PHP_INI_SYSTEM, NULL)
PHP_INI_END()

static PHP_MINIT_FUNCTION(fpmd)
{
        (void)type;
        (void)module_number;
        REGISTER_INI_ENTRIES();
        return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(fpmd)
{
        (void)type;
        (void)module_number;
        UNREGISTER_INI_ENTRIES();
        return SUCCESS;
}

static PHP_MINFO_FUNCTION(fpmd)
{
        (void)zend_module;
        php_info_print_table_start();
        php_info_print_table_row(2, "fpmd", "active");
        php_info_print_table_row(2, "fpmd version", FPMD_VERSION);
        php_info_print_table_end();
        DISPLAY_INI_ENTRIES();
}

/* Named like PHP-FPM's module, so extension_loaded('cgi-fcgi') answers as there */
static zend_module_entry fpmd_module_entry = {
        STANDARD_MODULE_HEADER,
        "cgi-fcgi",
        fpmd_functions,
        PHP_MINIT(fpmd),
        PHP_MSHUTDOWN(fpmd),
        NULL,
        NULL,
        PHP_MINFO(fpmd),
        PHP_VERSION,
        STANDARD_MODULE_PROPERTIES,
};

static int sapi_fpmd_startup(sapi_module_struct *module)
{
        return php_module_startup(module, &fpmd_module_entry);
}

/* opcache enables itself only for known SAPI names, and applications test PHP_SAPI === 'fpm-fcgi' */
static sapi_module_struct fpmd_sapi_module = {
        .name = (char *)"fpm-fcgi",
        .pretty_name = (char *)"FPM/FastCGI (fpmd)",
        .startup = sapi_fpmd_startup,
        .shutdown = php_module_shutdown_wrapper,
        .activate = sapi_fpmd_activate,
        .deactivate = sapi_fpmd_deactivate,
        .ub_write = sapi_fpmd_ub_write,
        .flush = sapi_fpmd_flush,
        .getenv = sapi_fpmd_getenv,
        .sapi_error = php_error,
        .send_headers = sapi_fpmd_send_headers,
        .read_post = sapi_fpmd_read_post,
        .read_cookies = sapi_fpmd_read_cookies,
        .register_server_variables = sapi_fpmd_register_variables,
        .log_message = sapi_fpmd_log_message,
        .get_request_time = sapi_fpmd_get_request_time,
        .default_post_reader = NULL,
        .treat_data = NULL,
        .input_filter = NULL,
};

/* ---- pool values ---- */

/* As PHP-FPM applies php_value/php_admin_value: the master value changes, and an admin one is locked so
 * ini_set() and .user.ini cannot change it. "extension" and "zend_extension" were loaded at startup, from the
 * ini entries ini_entries_build() gave PHP. */
static int ini_apply(const char *name, const char *value, bool admin)
{
        zend_ini_entry *e;
        zend_string *v;

        if (streq(name, "extension") || streq(name, "zend_extension"))
                return 0;

        e = zend_hash_str_find_ptr(EG(ini_directives), name, strlen(name));
        if (!e)
                return log_warning_errno(ENOENT, "Unknown PHP setting '%s' in the pool configuration, ignoring.", name);

        v = zend_string_init(value, strlen(value), 1);
        if (e->on_modify &&
                e->on_modify(e, v, e->mh_arg1, e->mh_arg2, e->mh_arg3, ZEND_INI_STAGE_ACTIVATE) != SUCCESS) {
                zend_string_release_ex(v, 1);
                return log_warning_errno(EINVAL, "Invalid value '%s' for PHP setting '%s', ignoring.", value, name);
        }
        e->value = v;
        if (admin)
                e->modifiable = ZEND_INI_SYSTEM;
        return 0;
}

/* Values that PHP must see at startup (opcache.*, extension=) go in as ini entries too, where they can be
 * written without quoting trouble; all are applied again after startup, which locks the admin ones. */
static char *ini_entries_build(const PoolConfig *p)
{
        const KeyValueList *lists[] = {&p->php_value, &p->php_flag, &p->php_admin_value, &p->php_admin_flag};
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (size_t i = 0; i < lists[l]->n; i++) {
                        const KeyValue *kv = &lists[l]->items[i];
                        if (strpbrk(kv->value, "\"\\$\n\r") || strpbrk(kv->key, "=\n\r[]")) {
                                /* Applied after startup instead, but for what only startup reads */
                                if (streq(kv->key, "extension") || streq(kv->key, "zend_extension"))
                                        log_warning("[pool %s] cannot load %s '%s': the value holds a quote, a "
                                                    "backslash, a $ or a newline.",
                                                p->name, kv->key, kv->value);
                                continue;
                        }
                        fprintf(f, "%s=\"%s\"\n", kv->key, kv->value);
                }
        fclose(f);
        return buf;
}

static void pool_values_apply(const PoolConfig *p)
{
        for (size_t i = 0; i < p->php_value.n; i++)
                ini_apply(p->php_value.items[i].key, p->php_value.items[i].value, false);
        for (size_t i = 0; i < p->php_flag.n; i++)
                ini_apply(p->php_flag.items[i].key, p->php_flag.items[i].value, false);
        for (size_t i = 0; i < p->php_admin_value.n; i++)
                ini_apply(p->php_admin_value.items[i].key, p->php_admin_value.items[i].value, true);
        for (size_t i = 0; i < p->php_admin_flag.n; i++)
                ini_apply(p->php_admin_flag.items[i].key, p->php_admin_flag.items[i].value, true);
}

/* PHP-FPM is built without the pcntl extension (a web worker must not fork) and without chroot(), which the
 * embed SAPI has: they go before any extension starts, unless the pool asks for pcntl */
static int register_internal_extensions(void)
{
        int r = php_register_internal_extensions();

        if (!pool->allow_pcntl) {
                zend_module_entry *m = zend_hash_str_find_ptr(&module_registry, "pcntl", strlen("pcntl"));

                /* Only a temporary module takes its functions along */
                if (m && m->functions)
                        zend_unregister_functions(m->functions, -1, NULL);
                (void)zend_hash_str_del(&module_registry, "pcntl", strlen("pcntl"));
        }
        (void)zend_hash_str_del(CG(function_table), "chroot", strlen("chroot"));
        return r;
}

int php_startup(const Config *c, const PoolConfig *p)
{
        const char *ini = pool_php_ini(c, p);
        _cleanup_free_ char *scan_dir = NULL;

        pool = p;

        /* Debian's layout: the conf.d beside the php.ini holds the extension ini files (opcache among them) */
        if (pool_php_ini_scan_dir(c, p, &scan_dir) < 0)
                return log_oom();
        if (scan_dir)
                setenv("PHP_INI_SCAN_DIR", scan_dir, 1);
        else
                unsetenv("PHP_INI_SCAN_DIR");
        if (ini && access(ini, R_OK) < 0)
                log_warning_errno(errno, "Cannot read php.ini %s, PHP starts with its defaults: %m", ini);

        fpmd_module_entry.functions = p->worker_script ? fpmd_worker_functions : fpmd_functions;
        zend_signal_startup();
        sapi_startup(&fpmd_sapi_module);
        fpmd_sapi_module.php_ini_path_override = ini ? strdup(ini) : NULL;
        fpmd_sapi_module.php_ini_ignore_cwd = 1;
        fpmd_sapi_module.ini_entries = ini_entries_build(p);
        fpmd_sapi_module.executable_location = NULL;

        import_process_environment = php_import_environment_variables;
        php_import_environment_variables = import_environment;
        php_load_environment_variables = load_environment;
        php_register_internal_extensions_func = register_internal_extensions;

        if (fpmd_sapi_module.startup(&fpmd_sapi_module) == FAILURE)
                return log_error_errno(EIO, "PHP failed to start with %s.", strna(ini));

        zend_hash_init(&user_ini_cache, 8, NULL, user_ini_entry_free, 1);
        pool_values_apply(p);
        log_debug("PHP %s started with %s.", PHP_VERSION, strna(ini));
        return 0;
}

void php_shutdown(void)
{
        php_module_shutdown();
        sapi_shutdown();
}

/* ---- one request ---- */

/* What the realpath cache said of the path fs_realpath() last found there: a string of the params, so that
 * script_check() knows it by its address for the rest of the request */
static struct {
        const char *path;
        bool is_dir;
} realpath_hit;

static bool fs_realpath(const char *path, char ret[PATH_MAX], void *userdata)
{
        size_t len = strlen(path);
        const realpath_cache_bucket *b;

        (void)userdata;
        /* PHP's realpath cache answers without a syscall once it has seen the path. tsrm_realpath() looks there
         * too, but after copying and normalising the path, a few thousand instructions: a path that is in the
         * cache as it is written (its keys are normalised paths) is answered at once, with what tsrm_realpath()
         * would find. The time is the request's, as tsrm_realpath()'s is now: an entry past
         * realpath_cache_ttl is not used. */
        b = len > 0 && len < MAXPATHLEN - 1 && current
                    ? realpath_cache_lookup(path, len, (time_t)(current->start_real / USEC_PER_SEC))
                    : NULL;
        if (b && b->realpath_len < PATH_MAX) {
                memcpy(ret, b->realpath, b->realpath_len);
                ret[b->realpath_len] = '\0';
                realpath_hit.path = path;
                realpath_hit.is_dir = b->is_dir;
                return true;
        }
        return tsrm_realpath(path, ret) != NULL;
}

static bool fs_is_file(const char *path, void *userdata)
{
        struct stat st;

        (void)userdata;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The script of the request, and SCRIPT_NAME as PHP sees it, from the web server's params */
static void resolve_script(FcgiParams *p)
{
        static const PathinfoFs fs = {.realpath = fs_realpath, .is_file = fs_is_file};
        PathinfoOptions o = {
                .fix_pathinfo = fpmd_globals.fix_pathinfo,
                .discard_path = fpmd_globals.discard_path,
                .doc_root = PG(doc_root),
        };

        realpath_hit.path = NULL;
        /* The previous request's strings: their buffers are reused */
        if (pathinfo_resolve(p, &o, &fs, &resolved) < 0)
                log_oom();
}

/* PHP_VALUE / PHP_ADMIN_VALUE params: "name=value" lines, applied for this request only */
static void apply_value_param(const char *text, bool admin)
{
        _cleanup_free_ char *copy = strdup(text);
        char *line, *save = NULL;

        for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                char *name, *value;

                if (!eq)
                        continue;
                *eq = 0;
                name = line;
                value = eq + 1;
                while (*name == ' ' || *name == '\t')
                        name++;
                for (char *e = name + strlen(name); e > name && (e[-1] == ' ' || e[-1] == '\t'); e--)
                        e[-1] = 0;
                while (*value == ' ' || *value == '\t')
                        value++;
                if (*name == 0)
                        continue;
                if (zend_alter_ini_entry_chars_ex(zend_string_init_interned(name, strlen(name), 0), value,
                            strlen(value), admin ? ZEND_INI_SYSTEM : ZEND_INI_USER, ZEND_INI_STAGE_HTACCESS,
                            0) != SUCCESS)
                        log_warning("Passing INI directive through FastCGI: unable to set '%s'", name);
        }
}

static void init_request_info(Request *r, const char *script)
{
        FcgiParams *p = &r->params;
        const char *content_length, *auth;

        /* fpmd also refuses a ".." segment in SCRIPT_NAME: PHP_SELF must not name another path than the script */
        SG(request_info).path_translated =
                pathinfo_path_valid(script) && (!resolved.script_name || pathinfo_path_valid(resolved.script_name))
                        ? estrdup(script)
                        : NULL;
        SG(request_info).request_method = fcgi_params_known(p, FCGI_KNOWN_REQUEST_METHOD);
        SG(request_info).proto_num = 1000;
        SG(request_info).request_uri = resolved.script_name;
        SG(request_info).query_string = (char *)fcgi_params_known(p, FCGI_KNOWN_QUERY_STRING);
        SG(request_info).content_type = fcgi_params_known(p, FCGI_KNOWN_CONTENT_TYPE);
        if (!SG(request_info).content_type)
                SG(request_info).content_type = "";
        content_length = fcgi_params_known(p, FCGI_KNOWN_CONTENT_LENGTH);
        SG(request_info).content_length = content_length ? atol(content_length) : 0;
        SG(sapi_headers).http_response_code = 200;

        /* The CGI RFC lets the server pass the Authorization header on unvalidated */
        auth = fcgi_params_known(p, FCGI_KNOWN_HTTP_AUTHORIZATION);
        php_handle_auth_data(auth);
}

static bool extension_allowed(const PoolConfig *p, const char *path)
{
        size_t len = strlen(path);

        if (p->limit_extensions.n == 0)
                return true;
        for (size_t i = 0; i < p->limit_extensions.n; i++) {
                const char *ext = p->limit_extensions.items[i];
                size_t l = strlen(ext);
                if (len > l && streq(path + len - l, ext))
                        return true;
        }
        return false;
}

/* A folder's real path, kept as long as PHP keeps realpaths: DOCUMENT_ROOT is the same for most requests */
static const char *root_realpath(const char *root)
{
        static char last[MAXPATHLEN], real[MAXPATHLEN];
        static time_t expires;
        time_t now = (time_t)sapi_get_request_time();

        if (now < expires && streq(last, root))
                return real;
        if (strlen(root) >= sizeof(last) || !tsrm_realpath(root, real)) {
                expires = 0;
                return NULL;
        }
        strcpy(last, root);
        expires = now + MAX(zend_ini_long((char *)"realpath_cache_ttl", sizeof("realpath_cache_ttl") - 1, 0), 1);
        return real;
}

static bool path_inside(const char *real, const char *root)
{
        const char *real_root = root_realpath(root);
        size_t l;

        if (!real_root)
                return false;
        l = strlen(real_root);
        if (l == 1 && real_root[0] == '/')
                return true;
        return strncmp(real, real_root, l) == 0 && real[l] == '/';
}

typedef enum ScriptCheck {
        SCRIPT_OK,
        SCRIPT_MISSING,  /* nothing there: 404 "File not found." */
        SCRIPT_NOT_FILE, /* a folder or a device: PHP-FPM cannot open it, 404 "No input file specified." */
        SCRIPT_OUTSIDE,  /* outside security.script_roots: as missing */
} ScriptCheck;

/* PHP-FPM runs any regular file it is given (security.limit_extensions was checked before): under an Apache Alias
 * outside DOCUMENT_ROOT, or a symlink into another tree. security.script_roots confines a pool to folders. */
static ScriptCheck script_check(const char *script)
{
        const StringList *roots = &pool->script_roots;
        const char *real_script = resolved.script_real;
        const char *sf = fcgi_params_known(&current->params, FCGI_KNOWN_SCRIPT_FILENAME);
        const realpath_cache_bucket *b;
        char real_buf[MAXPATHLEN];
        struct stat st;
        bool same = real_script && sf && streq(script, sf);

        /* pathinfo_resolve() learned it, unless the path info walk found the script */
        if (!same) {
                if (!tsrm_realpath(script, real_buf))
                        return SCRIPT_MISSING;
                real_script = real_buf;
        }
        /* The realpath cache knows a folder from a file (fs_realpath() asked it already when it found the params'
         * SCRIPT_FILENAME there); only a miss costs a stat() */
        if (same && realpath_hit.path == sf) {
                if (realpath_hit.is_dir)
                        return SCRIPT_NOT_FILE;
        } else {
                b = realpath_cache_lookup(script, strlen(script), (time_t)sapi_get_request_time());
                if (b ? b->is_dir : (stat(real_script, &st) < 0 || !S_ISREG(st.st_mode)))
                        return SCRIPT_NOT_FILE;
        }
        if (roots->n == 0)
                return SCRIPT_OK;
        for (size_t i = 0; i < roots->n; i++) {
                const char *root = roots->items[i];

                if (streq(root, "$DOCUMENT_ROOT"))
                        root = fcgi_params_known(&current->params, FCGI_KNOWN_DOCUMENT_ROOT);
                if (!isempty(root) && path_inside(real_script, root))
                        return SCRIPT_OK;
        }
        log_notice("Refusing %s (%s): outside security.script_roots.", script, real_script);
        return SCRIPT_OUTSIDE;
}

/* Messages PHP-FPM sends the web server on FCGI_STDERR (and we log) */
static void request_stderr(const char *msg)
{
        if (!fpmd_globals.fcgi_logging || !current || current->ended)
                return;
        if (stderr_started)
                request_write(current, FCGI_STDERR, "; ", 2);
        stderr_started = true;
        request_write(current, FCGI_STDERR, msg, strlen(msg));
}

static void send_plain(int code, const char *body)
{
        SG(sapi_headers).http_response_code = code;
        PUTS(body);
}

static bool handle_ping(void)
{
        if (isempty(pool->ping_path) || !resolved.script_name || !streq(resolved.script_name, pool->ping_path))
                return false;
        sapi_add_header_ex(ZEND_STRL("Content-Type: text/plain"), 1, 1);
        sapi_add_header_ex(ZEND_STRL("Expires: Thu, 01 Jan 1970 00:00:00 GMT"), 1, 1);
        sapi_add_header_ex(ZEND_STRL("Cache-Control: no-cache, no-store, must-revalidate, max-age=0"), 1, 1);
        SG(sapi_headers).http_response_code = 200;
        PUTS(pool->ping_response ? pool->ping_response : "pong");
        return true;
}

static struct rusage request_rusage_start;
/* Where the previous request's measure ended: the next one starts there (one getrusage() a request, not two).
 * PHP-FPM starts at reading the request's headers; between the two a worker waits in epoll, which costs no CPU,
 * and reads the request, which PHP-FPM counts too. */
static struct rusage request_rusage_end;
static bool request_rusage_end_valid;
static uint64_t request_cpu_user, request_cpu_system;

static uint64_t timeval_usec(const struct timeval *tv)
{
        return (uint64_t)tv->tv_sec * USEC_PER_SEC + (uint64_t)tv->tv_usec;
}

/* status_path: PHP-FPM's status page in the format the query asks for, answered before any script */
static bool handle_status(void)
{
        _cleanup_free_ char *body = NULL, *ct = NULL;
        const char *content_type;
        StatusSnapshot snap;
        StatusFormat format;
        size_t len;
        bool full;
        int r;

        if (isempty(pool->status_path) || !resolved.script_name || !streq(resolved.script_name, pool->status_path))
                return false;
        status_parse_query(SG(request_info).query_string, &format, &full);
        r = status_take(&snap, true, format == STATUS_FORMAT_OPENMETRICS && full);
        if (r >= 0) {
                r = status_render(format, full, &snap.pool, snap.procs, snap.n_procs, &body, &len, &content_type);
                status_snapshot_done(&snap);
        }
        if (r < 0) {
                SG(sapi_headers).http_response_code = 500;
                PUTS("Internal error while rendering the status page.\n");
                return true;
        }
        if (asprintf(&ct, "Content-Type: %s", content_type) >= 0)
                sapi_add_header_ex(ct, strlen(ct), 1, 1);
        sapi_add_header_ex(ZEND_STRL("Expires: Thu, 01 Jan 1970 00:00:00 GMT"), 1, 1);
        sapi_add_header_ex(ZEND_STRL("Cache-Control: no-cache, no-store, must-revalidate, max-age=0"), 1, 1);
        SG(sapi_headers).http_response_code = 200;
        PHPWRITE(body, len);
        return true;
}

static void slot_request_start(const Request *r, const PhpWorker *w, const char *script)
{
        ScoreboardSlot *s = &w->scoreboard->slots[w->slot];

        if (request_rusage_end_valid)
                request_rusage_start = request_rusage_end;
        else
                (void)getrusage(RUSAGE_SELF, &request_rusage_start);
        const char *cl = fcgi_params_known(&r->params, FCGI_KNOWN_CONTENT_LENGTH);

        s->request_start_usec = r->start_real;
        s->request_mono_usec = r->start_mono;
        s->content_length = cl ? strtoull(cl, NULL, 10) : 0;
        scoreboard_set_str(s->method, sizeof(s->method), fcgi_params_known(&r->params, FCGI_KNOWN_REQUEST_METHOD));
        /* As PHP-FPM's status page and log lines: SCRIPT_NAME, the query apart */
        scoreboard_set_str(s->uri, sizeof(s->uri), resolved.script_name);
        scoreboard_set_str(s->query, sizeof(s->query), fcgi_params_known(&r->params, FCGI_KNOWN_QUERY_STRING));
        scoreboard_set_str(s->script, sizeof(s->script), script);
        scoreboard_set_str(s->user, sizeof(s->user), fcgi_params_known(&r->params, FCGI_KNOWN_REMOTE_USER));
        s->state = WORKER_RUNNING;
        scoreboard_note_active(w->scoreboard, w->pool->pm.max_children);
}

static void slot_request_end(const PhpWorker *w, size_t memory)
{
        ScoreboardSlot *s = &w->scoreboard->slots[w->slot];

        s->last_duration_usec = now_usec(CLOCK_MONOTONIC) - s->request_mono_usec;
        s->last_cpu_usec = request_cpu_user + request_cpu_system;
        s->last_memory = memory;
        for (uint64_t peak = w->scoreboard->memory_peak; memory > peak;)
                if (__atomic_compare_exchange_n(
                            &w->scoreboard->memory_peak, &peak, memory, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                        break;
}

/* ---- the script's folder as the working directory ----
 *
 * php_execute_script() would getcwd(), chdir() into the script's folder and chdir() back: three syscalls a
 * request. fpmd tells it not to (SAPI_OPTION_NO_CHDIR) and changes folder itself, only when the script's folder
 * is not the one it is in already. A script's chdir() (wrapped below) makes it change again on the next request.
 * Unlike PHP-FPM, shutdown functions and destructors run in the script's folder rather than the worker's. */
static char *cwd_now; /* the folder fpmd last changed into; NULL: unknown */
static zif_handler php_chdir_handler;

static ZEND_NAMED_FUNCTION(fpmd_chdir)
{
        cwd_now = mfree(cwd_now);
        php_chdir_handler(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

static void wrap_chdir(void)
{
        zend_function *f = zend_hash_str_find_ptr(CG(function_table), ZEND_STRL("chdir"));

        if (f && f->type == ZEND_INTERNAL_FUNCTION && f->internal_function.handler != fpmd_chdir) {
                php_chdir_handler = f->internal_function.handler;
                f->internal_function.handler = fpmd_chdir;
        }
}

/* As PHP's VCWD_CHDIR_FILE(): into the folder of path, "/" for a file at the root; failures ignored as PHP does */
static void script_chdir(const char *path)
{
        const char *slash = strrchr(path, '/');
        size_t n;
        char *dir;

        if (!slash)
                return;
        n = slash == path ? 1 : (size_t)(slash - path);
        if (cwd_now && strlen(cwd_now) == n && memcmp(cwd_now, path, n) == 0)
                return;
        cwd_now = mfree(cwd_now);
        dir = strndup(path, n);
        if (!dir)
                return;
        if (chdir(dir) < 0) {
                free(dir);
                return;
        }
        cwd_now = dir;
}

static size_t request_memory;

/* The supervisor asks a worker whose request has run a second or more to look at its web server: gone (it closed
 * the connection, as nginx does when its client leaves with fastcgi_ignore_client_abort off, or sent
 * FCGI_ABORT_REQUEST), the script ends as PHP ends it under Apache when the client leaves: connection_aborted()
 * becomes true, shutdown functions run, and unless the script called ignore_user_abort(true) it stops here */
static bool client_gone(void)
{
        return current && !current->ended && !(PG(connection_status) & PHP_CONNECTION_ABORTED) &&
               request_client_gone(current);
}

static void client_check(void)
{
        if (!client_gone())
                return;
        __atomic_fetch_add(&worker_ctx.scoreboard->requests_aborted, 1, __ATOMIC_RELAXED);
        log_info("the web server gave up on %s while it ran%s.",
                strna(fcgi_params_known(&current->params, FCGI_KNOWN_REQUEST_URI)),
                PG(ignore_user_abort) ? " (ignore_user_abort: it goes on)" : ": ending it");
        php_handle_aborted_connection();
}

int php_worker_init(const PhpWorker *w)
{
        static const SlowlogHooks hooks = {.client_gone = client_gone, .client_check = client_check};

        worker_ctx = *w;
        /* fpmd changes into the script's folder itself (script_chdir()) */
        SG(options) |= SAPI_OPTION_NO_CHDIR;
        wrap_chdir();
        return slowlog_init(&w->scoreboard->slots[w->slot], MAX(w->pool->request_slowlog_trace_depth, 1u), &hooks);
}

/* The request's CPU time, user and system, measured when its response is complete (as PHP-FPM) */
static void request_measure_cpu(void)
{
        struct rusage ru;

        (void)getrusage(RUSAGE_SELF, &ru);
        request_cpu_user = timeval_usec(&ru.ru_utime) - timeval_usec(&request_rusage_start.ru_utime);
        request_cpu_system = timeval_usec(&ru.ru_stime) - timeval_usec(&request_rusage_start.ru_stime);
        request_rusage_end = ru;
        request_rusage_end_valid = true;
}

static const char *access_env(void *userdata, const char *name)
{
        return fcgi_params_get(&((Request *)userdata)->params, name);
}

/* %{Name}o: the value of a response header PHP set, as PHP-FPM finds it */
static const char *access_header(void *userdata, const char *name)
{
        zend_llist_position pos;
        size_t l = strlen(name);

        (void)userdata;
        for (sapi_header_struct *h = zend_llist_get_first_ex(&SG(sapi_headers).headers, &pos); h;
                h = zend_llist_get_next_ex(&SG(sapi_headers).headers, &pos))
                if (h->header_len > l + 2 && strncasecmp(h->header, name, l) == 0 && h->header[l] == ':' &&
                        h->header[l + 1] == ' ')
                        return h->header + l + 2;
        return NULL;
}

/* One entry per request: structured fields for journalctl filters, MESSAGE from access_format */
static void access_log_write(Request *r, size_t memory)
{
        SocketAddress peer = {.len = sizeof(peer.storage)};
        char ip[SOCKET_ADDRESS_STRING_MAX] = "";
        _cleanup_free_ char *line = NULL;
        const char *cl = fcgi_params_known(&r->params, FCGI_KNOWN_CONTENT_LENGTH);
        usec_t now = now_usec(CLOCK_REALTIME);
        AccessEntry e = {
                .pool = pool->name,
                .pid = (long)getpid(),
                .ppid = (long)getppid(),
                .auth_user = SG(request_info).auth_user,
                .method = SG(request_info).request_method,
                .request_uri = resolved.script_name,
                .query_string = SG(request_info).query_string,
                .script = SG(request_info).path_translated ? SG(request_info).path_translated
                                                           : fcgi_params_known(&r->params, FCGI_KNOWN_SCRIPT_FILENAME),
                .status = SG(sapi_headers).http_response_code,
                .content_length = cl ? strtoull(cl, NULL, 10) : 0,
                .duration_usec = now > r->start_real ? now - r->start_real : 0,
                .wait_usec = r->wait_usec,
                .cpu_user_usec = request_cpu_user,
                .cpu_system_usec = request_cpu_system,
                .memory_peak = memory,
                .start_realtime = r->start_real,
                .now_realtime = now,
                .env = access_env,
                .header = access_header,
                .userdata = r,
        };
        _cleanup_(log_fields_done) LogFields f = {};

        /* PHP-FPM's %R is the address of the FastCGI peer (the web server), "-" on a unix socket */
        if (getpeername(r->conn->fd, &peer.sa, &peer.len) == 0 &&
                (peer.sa.sa_family == AF_INET || peer.sa.sa_family == AF_INET6)) {
                char *colon;

                if (socket_address_format(&peer, ip, sizeof(ip)) >= 0 && (colon = strrchr(ip, ':'))) {
                        *colon = 0;
                        if (ip[0] == '[') {
                                memmove(ip, ip + 1, strlen(ip));
                                ip[strlen(ip) - 1] = 0;
                        }
                }
                e.client_ip = ip;
        }

        if (access_format(pool->access_format, &e, &line) < 0)
                return;

        if (log_to_journal()) {
                log_fields_add(&f, "REQUEST_METHOD", "%s", strempty(e.method));
                log_fields_add(
                        &f, "REQUEST_URI", "%s", strempty(fcgi_params_known(&r->params, FCGI_KNOWN_REQUEST_URI)));
                log_fields_add(&f, "QUERY_STRING", "%s", strempty(e.query_string));
                log_fields_add(&f, "SCRIPT_FILENAME", "%s", strempty(e.script));
                log_fields_add(
                        &f, "REMOTE_ADDR", "%s", strempty(fcgi_params_known(&r->params, FCGI_KNOWN_REMOTE_ADDR)));
                log_fields_add(&f, "STATUS", "%d", e.status);
                log_fields_add(&f, "DURATION_USEC", "%llu", (unsigned long long)e.duration_usec);
                log_fields_add(&f, "QUEUE_WAIT_USEC", "%llu", (unsigned long long)e.wait_usec);
                log_fields_add(&f, "MEMORY_PEAK", "%llu", (unsigned long long)e.memory_peak);
                log_fields_add(&f, "CPU_USEC", "%llu", (unsigned long long)(e.cpu_user_usec + e.cpu_system_usec));
                log_fields_add(&f, "CONTENT_LENGTH", "%llu", (unsigned long long)e.content_length);
        }
        (void)log_struct(LOG_INFO, FPMD_MESSAGE_ACCESS, "fpmd-access", f.items, line);
}

/* As PHP-FPM when the script cannot be opened */
static void unable_to_open(int error)
{
        log_error("Unable to open primary script: %s (%s)", SG(request_info).path_translated, strerror(error));
        if (error == EACCES)
                send_plain(403, "Access denied.\n");
        else
                send_plain(404, "No input file specified.\n");
}

/* The script of the request, PHP's request started; returns early for what it answers itself */
static void serve_script(void)
{
        zend_file_handle fh;

        if (!SG(request_info).request_method)
                return; /* not an HTTP request */
        if (handle_ping() || handle_status())
                return;

        if (!SG(request_info).path_translated) {
                log_debug("Primary script unknown: %s", strna(SG(request_info).path_translated));
                request_stderr("Primary script unknown");
                send_plain(404, "File not found.\n");
                return;
        }
        if (!extension_allowed(pool, SG(request_info).path_translated)) {
                char msg[MAXPATHLEN + 80];

                snprintf(msg, sizeof(msg), "Access to the script '%s' has been denied (see security.limit_extensions)",
                        SG(request_info).path_translated);
                log_warning("%s", msg);
                request_stderr(msg);
                send_plain(403, "Access denied.\n");
                return;
        }

        switch (script_check(SG(request_info).path_translated)) {
        case SCRIPT_OK:
                break;
        case SCRIPT_NOT_FILE:
                unable_to_open(EISDIR);
                return;
        default:
                request_stderr("Primary script unknown");
                send_plain(404, "File not found.\n");
                return;
        }
        zend_stream_init_filename(&fh, SG(request_info).path_translated);
        if (php_fopen_primary_script(&fh) == FAILURE)
                unable_to_open(errno);
        else {
                EG(exit_status) = 0;
                script_chdir(SG(request_info).path_translated);
                php_execute_script(&fh);
        }
        if (!fh.in_list)
                zend_destroy_file_handle(&fh);
}

/* The response is complete: its memory peak, its CPU time and its access log line, in classic and worker mode */
static void request_account(Request *r)
{
        request_memory = zend_memory_peak_usage(1);
        request_measure_cpu();
        if (pool->access_log)
                access_log_write(r, request_memory);
}

/* What a request held of fpmd's: its body file and the script's path */
static void request_release(void)
{
        if (body_fd >= 0)
                close(body_fd);
        body_fd = -1;
        if (SG(request_info).path_translated) {
                efree(SG(request_info).path_translated);
                SG(request_info).path_translated = NULL;
        }
}

/* Separate from php_handle_request() so nothing of the caller is live across the longjmp of a bailout. Every
 * request ends the same way, whether PHP could start it or not and wherever a bailout came from: its body file
 * closed, its access log line written, php_request_shutdown() (as mod_php does after a failed startup; PHP-FPM
 * ends the worker instead), and the worker goes on. */
static void run_request(Request *r)
{
        volatile bool started = false;

        request_memory = 0;
        request_cpu_user = request_cpu_system = 0;
        zend_first_try
        {
                if (pool->allow_php_value_params) {
                        const char *v = fcgi_params_known(&r->params, FCGI_KNOWN_PHP_VALUE);
                        const char *a = fcgi_params_known(&r->params, FCGI_KNOWN_PHP_ADMIN_VALUE);
                        if (v)
                                apply_value_param(v, false);
                        if (a)
                                apply_value_param(a, true);
                }
                /* A bailout inside (a fatal error while PHP reads the POST data) is caught there: FAILURE */
                if (php_request_startup() == FAILURE)
                        log_error("PHP failed to start the request for %s.", strna(SG(request_info).path_translated));
                else {
                        started = true;
                        serve_script();
                }
        }
        zend_end_try();

        zend_try
        {
                if (!started) {
                        if (!SG(headers_sent)) {
                                SG(sapi_headers).http_response_code = 500;
                                sapi_send_headers();
                        }
                } else if (EG(exit_status) == 255 && !isempty(fpmd_globals.error_header) && !SG(headers_sent)) {
                        sapi_header_line ctr = {
                                .line = fpmd_globals.error_header, .line_len = strlen(fpmd_globals.error_header)};
                        sapi_header_op(SAPI_HEADER_REPLACE, &ctr);
                }
                request_account(r);
        }
        zend_end_try();

        request_release();
        php_request_shutdown(NULL);
}

/* ---- worker mode: the pool's worker.script runs once per worker, fpmd_handle_request() serves each request ---- */

static const PhpWorkerLoop *worker_loop;
static zend_fcall_info *worker_fci;
static zend_fcall_info_cache *worker_fcc;
static bool worker_failed; /* a fatal error or an uncaught exception in the handler: the worker is replaced */

/* The worker script's own "request" ends where its first fpmd_handle_request() is: its output buffers, headers
 * and superglobals are its own, and each request then gets fresh ones */
static void worker_state_end(void)
{
        zend_try
        {
                php_output_end_all();
        }
        zend_end_try();
        zend_try
        {
                php_output_deactivate();
        }
        zend_end_try();
        for (int i = 0; i < NUM_TRACK_VARS; i++)
                zval_ptr_dtor(&PG(http_globals)[i]);
        memset(&PG(http_globals), 0, sizeof(PG(http_globals)));
        zend_try
        {
                sapi_deactivate();
        }
        zend_end_try();
}

/* $_SERVER, $_ENV and $_REQUEST are made when a script that names them is compiled (auto_globals_jit): the worker
 * script was compiled once, for its own request. Each request makes them again from its own params. */
static void worker_rearm_globals(void)
{
        static const char *const names[] = {"_SERVER", "_ENV", "_REQUEST"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                zend_auto_global *g = zend_hash_str_find_ptr(CG(auto_globals), names[i], strlen(names[i]));

                if (g && g->auto_global_callback)
                        g->armed = g->auto_global_callback(g->name);
        }
}

/* Modules whose request state a worker-mode request must not inherit, ended and begun again after each request as
 * a classic request's shutdown and startup do:
 * - session: its request shutdown writes and closes a session the handler left open, its startup clears the id
 *   and $_SESSION, so the next request starts with none (session_start() then reads that request's cookie);
 * - filter: its raw copies of each request's variables (filter_input()), which sapi_activate() forgets without
 *   freeing (a leak of every request's copies, and of $_SERVER's, in a worker that never shut a request down). */
static void worker_reset_modules(void)
{
        static const char *const names[] = {"session", "filter"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                zend_module_entry *m = zend_hash_str_find_ptr(&module_registry, names[i], strlen(names[i]));

                if (!m)
                        continue;
                zend_try
                {
                        if (m->request_shutdown_func)
                                (void)m->request_shutdown_func(m->type, m->module_number);
                        if (m->request_startup_func)
                                (void)m->request_startup_func(m->type, m->module_number);
                }
                zend_end_try();
        }
}

/* ini_set() of a request stays in it: after each request every directive is put back to what the worker script
 * left it at (the php.ini's value, or the script's own ini_set() before its first request) */
static HashTable *worker_ini_snapshot; /* name -> value string, of what the script had changed at boot */

static void worker_ini_snapshot_take(void)
{
        zend_ini_entry *e;

        worker_ini_snapshot = pemalloc(sizeof(HashTable), 1);
        zend_hash_init(worker_ini_snapshot, 8, NULL, ZVAL_PTR_DTOR, 1);
        if (!EG(modified_ini_directives))
                return;
        ZEND_HASH_FOREACH_PTR(EG(modified_ini_directives), e)
        {
                zval v;

                ZVAL_STR(&v, e->value ? zend_string_dup(e->value, 1) : zend_string_init("", 0, 1));
                zend_hash_update(worker_ini_snapshot, e->name, &v);
        }
        ZEND_HASH_FOREACH_END();
}

static void worker_ini_restore(void)
{
        zend_ini_entry *e;
        zend_string *name;
        zval *v;

        zend_string *undo[64];
        size_t n = 0;

        if (!EG(modified_ini_directives) || !worker_ini_snapshot)
                return;
        /* Restoring takes an entry out of the table being walked: collect first */
        ZEND_HASH_FOREACH_PTR(EG(modified_ini_directives), e)
        {
                v = zend_hash_find(worker_ini_snapshot, e->name);
                if (n < ELEMENTSOF(undo) && (!v || !e->value || !zend_string_equals(e->value, Z_STR_P(v))))
                        undo[n++] = zend_string_copy(e->name);
        }
        ZEND_HASH_FOREACH_END();
        for (size_t i = 0; i < n; i++) {
                zend_restore_ini_entry(undo[i], ZEND_INI_STAGE_RUNTIME);
                zend_string_release(undo[i]);
        }
        ZEND_HASH_FOREACH_STR_KEY_VAL(worker_ini_snapshot, name, v)
        {
                zend_ini_entry *cur = zend_hash_find_ptr(EG(ini_directives), name);

                if (cur && (!cur->value || !zend_string_equals(cur->value, Z_STR_P(v))))
                        (void)zend_alter_ini_entry(name, Z_STR_P(v), ZEND_INI_USER, ZEND_INI_STAGE_RUNTIME);
        }
        ZEND_HASH_FOREACH_END();
}

/* One request in worker mode: the handler runs with the request's superglobals, headers, status and output; what
 * it leaves (buffers, headers, uploads, superglobals) is gone before the next request */
static void worker_request(Request *r)
{
        zend_execute_data *frame = EG(current_execute_data);
        volatile bool handled = false;

        request_memory = 0;
        request_cpu_user = request_cpu_system = 0;
        (void)getrusage(RUSAGE_SELF, &request_rusage_start);
        zend_try
        {
                php_output_activate();
                PG(header_is_being_sent) = 0;
                PG(connection_status) = PHP_CONNECTION_NORMAL;
                sapi_activate();
                if (PG(output_buffering))
                        php_output_start_default();
                /* $_GET, $_POST, $_COOKIE, $_FILES anew (php_hash_environment() runs their callbacks once: a
                 * second run would find the POST body taken and leave $_POST empty) */
                php_hash_environment();
                worker_rearm_globals();
                if (!handle_ping() && !handle_status()) {
                        zval rv;

                        ZVAL_UNDEF(&rv);
                        EG(exit_status) = 0;
                        worker_fci->retval = &rv;
                        worker_fci->param_count = 0;
                        worker_fci->params = NULL;
                        (void)zend_call_function(worker_fci, worker_fcc);
                        zval_ptr_dtor(&rv);
                        if (EG(exception) && !zend_is_unwind_exit(EG(exception)) &&
                                !zend_is_graceful_exit(EG(exception))) {
                                /* Reported as PHP reports an uncaught exception (a fatal error); the request is
                                 * answered 500 and the worker replaced, as FrankenPHP does */
                                zend_exception_error(EG(exception), E_ERROR);
                                worker_failed = true;
                        }
                }
                handled = true;
        }
        zend_catch
        {
                worker_failed = true;
        }
        zend_end_try();
        /* A fatal error (255) the engine did not unwind through here still leaves the worker unfit */
        if (EG(exit_status) == 255)
                worker_failed = true;
        EG(current_execute_data) = frame;

        zend_try
        {
                if (!handled && !SG(headers_sent)) {
                        SG(sapi_headers).http_response_code = 500;
                        sapi_send_headers();
                }
                php_output_end_all();
                if (!SG(headers_sent))
                        sapi_send_headers();
                request_account(r);
        }
        zend_end_try();
        worker_reset_modules();
        worker_ini_restore();
        worker_state_end();
        request_release();
}

static PHP_FUNCTION(fpmd_handle_request)
{
        zend_fcall_info fci;
        zend_fcall_info_cache fcc;
        bool served;

        ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_FUNC(fci, fcc)
        ZEND_PARSE_PARAMETERS_END();

        if (!worker_loop || worker_fci) {
                zend_throw_error(NULL, "fpmd_handle_request() is for the worker script of a pool (worker.script)");
                RETURN_THROWS();
        }
        if (!worker_booted) {
                worker_state_end();
                worker_ini_snapshot_take();
                worker_booted = true;
        }
        worker_fci = &fci;
        worker_fcc = &fcc;
        served = worker_loop->serve_one();
        worker_fci = NULL;
        worker_fcc = NULL;
        if (worker_failed) {
                /* The engine unwound the handler's frames under a fatal error: nothing of this process can be trusted
                 * to run PHP again. The request was answered; the worker goes and the pool replaces it. */
                log_notice("worker script failed in a request: replacing the worker.");
                worker_loop->finish();
                _exit(0);
        }
        RETURN_BOOL(served && !(EG(exception) && zend_is_unwind_exit(EG(exception))));
}

int php_run_worker(const PhpWorkerLoop *loop)
{
        bool booted;
        zend_file_handle fh;

        worker_loop = loop;
        current = NULL;
        SG(server_context) = NULL;
        SG(request_info).path_translated = estrdup(pool->worker_script);
        SG(request_info).request_method = NULL;
        SG(request_info).query_string = NULL;
        SG(request_info).request_uri = NULL;
        SG(request_info).content_type = "";
        SG(request_info).content_length = 0;
        zend_first_try
        {
                if (php_request_startup() == SUCCESS) {
                        zend_stream_init_filename(&fh, pool->worker_script);
                        if (php_fopen_primary_script(&fh) == FAILURE)
                                log_error("cannot open worker.script %s: %m", pool->worker_script);
                        else {
                                script_chdir(pool->worker_script);
                                php_execute_script(&fh);
                        }
                        if (!fh.in_list)
                                zend_destroy_file_handle(&fh);
                }
        }
        zend_end_try();
        if (!worker_booted)
                log_error("worker.script %s ended before its first fpmd_handle_request().", pool->worker_script);
        if (worker_booted) {
                /* php_request_shutdown() ends a request state: give it one to end */
                zend_try
                {
                        php_output_activate();
                        sapi_activate();
                }
                zend_end_try();
        }
        if (SG(request_info).path_translated) {
                efree(SG(request_info).path_translated);
                SG(request_info).path_translated = NULL;
        }
        php_request_shutdown(NULL);
        worker_loop = NULL;
        booted = worker_booted;
        /* One that never served is a fault of the pool's (counted, and not restarted in a loop) */
        return booted ? 0 : -ENOEXEC;
}

void php_handle_request(Request *r)
{
        current = r;
        body_fd = -1;
        stderr_started = false;
        SG(server_context) = r;

        resolve_script(&r->params);
        slot_request_start(r, &worker_ctx, resolved.script);
        init_request_info(r, resolved.script);

        /* Worker mode: the handler fpmd_handle_request() was given, in the worker script's PHP */
        if (worker_fci)
                worker_request(r);
        else
                run_request(r);

        (void)request_end(r, 0);
        slot_request_end(&worker_ctx, request_memory);
        SG(server_context) = NULL;
        current = NULL;
        /* Each request's startup (zend_signal_activate()) would look at the handlers of SIGPROF, SIGHUP, SIGINT,
         * SIGQUIT, SIGTERM, SIGUSR1 and SIGUSR2, seven sigaction() calls, to install Zend's deferring handler
         * where it is not yet. After the first request it is there, and nothing in a worker replaces it: no
         * pcntl (as PHP-FPM), and fpmd sets its own handlers once, before PHP records them. The handlers Zend
         * forwards to are restored from what it recorded either way. */
        SIGG(reset) = 0;
}
