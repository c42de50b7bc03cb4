/* convert.c: a PHP-FPM configuration (php-fpm.conf, its [global] and pool sections and include= files) as fpmd's
 * libconfig files, with a note for every setting that does not carry over as it was
 *
 * It works as php-fpm 8.2 does (sapi/fpm/fpm/fpm_conf.c): the lines are read in order, following include=
 * where it stands, every value checked by PHP-FPM's own parser for it, and a setting given twice keeps its
 * last value; then each pool is looked at as a whole (paths against its prefix, pm settings against pm), and
 * written as fpmd's settings. */
#include <arpa/inet.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

#include "accesslog.h"
#include "cfgtext.h"
#include "convert.h"
#include "ini.h"
#include "parse.h"

#define INCLUDE_DEPTH_MAX 5 /* PHP-FPM: "failed to include more than 5 files recursively" */
#define POOL_NAME_MAX     255

/* ---- what was read: PHP-FPM's settings as it holds them ---- */

typedef struct Raw {
        char *name; /* as written; NULL: not set */
        char *value;
        char *written; /* the value as written, for the notes */
        const char *file;
        unsigned line, seq;
} Raw;

typedef struct Item {
        char *name; /* "php_value" */
        char *key;
        char *value;
        char *written;
        const char *file;
        unsigned line, seq;
} Item;

typedef struct ItemList {
        Item *items;
        size_t n;
} ItemList;

/* fpmd's settings as written, in the order of fpmd's own tables (config.c), so the files read alike */
static const char *const global_order[] = {
        "log_level",
        "include_dir",
        "php_ini",
        "emergency_restart_threshold",
        "emergency_restart_interval",
        "process_control_timeout",
};

static const char *const pool_order[] = {
        "name",
        "listen.address",
        "listen.backlog",
        "listen.owner",
        "listen.group",
        "listen.mode",
        "listen.allowed_clients",
        "user",
        "group",
        "chroot",
        "chdir",
        "pm.mode",
        "pm.max_children",
        "pm.start_servers",
        "pm.min_spare_servers",
        "pm.max_spare_servers",
        "pm.max_spawn_rate",
        "pm.process_idle_timeout",
        "pm.max_requests",
        "status_path",
        "ping_path",
        "ping_response",
        "access_log",
        "access_format",
        "slowlog",
        "request_slowlog_timeout",
        "request_slowlog_trace_depth",
        "request_terminate_timeout",
        "catch_workers_output",
        "clear_env",
        "env",
        "security.limit_extensions",
        "php_value",
        "php_admin_value",
        "php_flag",
        "php_admin_flag",
        "rlimit_files",
        "rlimit_core",
        "process_dumpable",
};

/* The name[key] groups of a pool: PHP-FPM's and fpmd's names are the same */
typedef enum PoolList {
        LIST_ENV,
        LIST_PHP_VALUE,
        LIST_PHP_ADMIN_VALUE,
        LIST_PHP_FLAG,
        LIST_PHP_ADMIN_FLAG,
        _LIST_MAX,
        _LIST_INVALID = -EINVAL,
} PoolList;

static const char *const list_names[_LIST_MAX] = {
        [LIST_ENV] = "env",
        [LIST_PHP_VALUE] = "php_value",
        [LIST_PHP_ADMIN_VALUE] = "php_admin_value",
        [LIST_PHP_FLAG] = "php_flag",
        [LIST_PHP_ADMIN_FLAG] = "php_admin_flag",
};

/* Declared static first, so that the functions DEFINE_STRING_TABLE() defines stay this file's own */
static const char *pool_list_to_string(PoolList i);
static PoolList pool_list_from_string(const char *s);
DEFINE_STRING_TABLE(pool_list, PoolList, list_names, _LIST_INVALID)

typedef struct Directive Directive;

typedef struct FpmPool {
        char *name;      /* PHP-FPM's, from its first [section] */
        char *fpmd_name; /* as fpmd takes it: letters, digits, _ . - */
        const char *file;
        unsigned line, seq;

        Raw *raw;                  /* parallel to pool_directives[] */
        ItemList lists[_LIST_MAX]; /* as read, first value of a key only */
        ItemList suppress_paths;
        char *prefix; /* its prefix made absolute, or NULL */

        char *out[ELEMENTSOF(pool_order)]; /* fpmd's settings as libconfig text */
        ItemList out_lists[_LIST_MAX];     /* keys and values as libconfig text */
} FpmPool;

typedef struct Note {
        unsigned seq;
        char *text; /* "FILE:LINE: SETTING: why" */
        char *why;
} Note;

typedef struct Converter {
        const ConvertSource *src;
        const char *prefix;
        const char *php_ini;

        char **files; /* every file read; Raw.file and Item.file point here */
        size_t n_files;

        Raw *global; /* parallel to global_directives[] */
        char *global_out[ELEMENTSOF(global_order)];

        FpmPool *pools;
        size_t n_pools;
        FpmPool *current; /* NULL: [global] */

        unsigned seq; /* one per line read, to keep the notes in the order of the lines */
        unsigned depth;

        Note *notes;
        size_t n_notes;
        char *error;
} Converter;

/* ---- strings ---- */

static int strv_push(char ***l, size_t *n, char *s)
{
        char **t;

        if (!s)
                return -ENOMEM;
        t = realloc(*l, (*n + 2) * sizeof(char *));
        if (!t) {
                free(s);
                return -ENOMEM;
        }
        t[(*n)++] = s;
        t[*n] = NULL;
        *l = t;
        return 0;
}

_printf_(1, 2) static char *strf(const char *format, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* A value in a note, on one line */
static char *note_value(const char *v)
{
        char *s = malloc(strlen(v) * 4 + 1), *o = s;

        if (!s)
                return NULL;
        for (; *v; v++) {
                if (*v == '\n')
                        o = stpcpy(o, "\\n");
                else if (*v == '\r')
                        o = stpcpy(o, "\\r");
                else if ((unsigned char)*v < 0x20)
                        o += sprintf(o, "\\x%02x", (unsigned char)*v);
                else
                        *o++ = *v;
        }
        *o = '\0';
        return s;
}

/* Every "$pool" replaced by the pool's name, as fpm_conf_expand_pool_name() */
static char *expand_pool(const char *v, const char *pool)
{
        char *s = strdup(""), *t;
        const char *p;

        while (s && (p = strstr(v, "$pool"))) {
                t = strf("%s%.*s%s", s, (int)(p - v), v, pool);
                free(s);
                s = t;
                v = p + strlen("$pool");
        }
        if (s) {
                t = strf("%s%s", s, v);
                free(s);
                s = t;
        }
        return s;
}

/* ---- notes ---- */

static void note_done(Note *n)
{
        free(n->text);
        free(n->why);
}

/* Takes why; setting is "NAME = VALUE" or NULL; line 0 names the file alone */
static int note_add(Converter *c, const char *file, unsigned line, unsigned seq, const char *setting, char *why)
{
        Note *n;
        char *text;

        if (!why)
                return -ENOMEM;
        if (line == 0)
                text = strf("%s: %s", file, why);
        else if (setting)
                text = strf("%s:%u: %s: %s", file, line, setting, why);
        else
                text = strf("%s:%u: %s", file, line, why);
        n = text ? realloc(c->notes, (c->n_notes + 1) * sizeof(Note)) : NULL;
        if (!n) {
                free(text);
                free(why);
                return -ENOMEM;
        }
        c->notes = n;
        n[c->n_notes++] = (Note){.seq = seq, .text = text, .why = why};
        return 0;
}

_printf_(4, 5) static int note_line(Converter *c, const char *file, unsigned line, const char *format, ...)
{
        va_list ap;
        char *why;
        int r;

        va_start(ap, format);
        r = vasprintf(&why, format, ap);
        va_end(ap);
        return note_add(c, file, line, c->seq, NULL, r < 0 ? NULL : why);
}

static int note_v(Converter *c, const char *file, unsigned line, unsigned seq, const char *name, const char *key,
        const char *value, const char *format, va_list ap)
{
        _cleanup_free_ char *v = note_value(value), *setting = NULL;
        char *why;

        if (!v || vasprintf(&why, format, ap) < 0)
                return -ENOMEM;
        setting = key ? strf("%s[%s] = %s", name, key, v) : strf("%s = %s", name, v);
        if (!setting) {
                free(why);
                return -ENOMEM;
        }
        return note_add(c, file, line, seq, setting, why);
}

_printf_(3, 4) static int note_raw(Converter *c, const Raw *r, const char *format, ...)
{
        va_list ap;
        int k;

        va_start(ap, format);
        k = note_v(c, r->file, r->line, r->seq, r->name, NULL, r->written, format, ap);
        va_end(ap);
        return k;
}

_printf_(3, 4) static int note_item(Converter *c, const Item *i, const char *format, ...)
{
        va_list ap;
        int k;

        va_start(ap, format);
        k = note_v(c, i->file, i->line, i->seq, i->name, i->key, i->written, format, ap);
        va_end(ap);
        return k;
}

static int fail(Converter *c, const char *file, unsigned line, char *why)
{
        if (!why)
                return -ENOMEM;
        free(c->error);
        c->error = line > 0 ? strf("%s:%u: %s", file, line, why) : strf("%s: %s", file, why);
        free(why);
        return c->error ? -EINVAL : -ENOMEM;
}

/* ---- PHP-FPM's value parsers (fpm_conf_set_*), as checks: NULL, or PHP-FPM's complaint ---- */

typedef enum Parse {
        P_STRING,
        P_INTEGER,
        P_TIME,
        P_BOOLEAN,
        P_LOG_LEVEL,
        P_RLIMIT_CORE,
        P_PM,
        P_FACILITY,
} Parse;

static const char *check_integer(const char *v)
{
        for (const char *p = v; *p; p++)
                if (!(p == v && *p == '-') && !(*p >= '0' && *p <= '9'))
                        return "is not a valid number (greater or equal than zero)";
        return NULL;
}

static const char *check_time(const char *v)
{
        size_t l = strlen(v);
        char suffix;

        if (l == 0)
                return "invalid time value";
        suffix = v[l - 1];
        if (!strchr("mhds", suffix) && !(suffix >= '0' && suffix <= '9'))
                return "unknown suffix used in time value";
        return NULL;
}

/* What the scanner leaves of yes/on/true and no/off/false/none, and what a quoted or ${} value may hold */
static int boolean_value(const char *v)
{
        static const char *const yes[] = {"1", "yes", "true", "on"};
        static const char *const no[] = {"", "0", "no", "none", "false", "off"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(v, yes[i]))
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(v, no[i]))
                        return 0;
        return -EINVAL;
}

static bool is_one_of(const char *v, const char *const *words)
{
        for (size_t i = 0; words[i]; i++)
                if (strcaseeq(v, words[i]))
                        return true;
        return false;
}

/* PHP-FPM's process managers are fpmd's pm modes (map_pm() passes the name on), but PHP-FPM takes them in any
 * case, which pm_mode_from_string() does not */
static bool is_pm_mode(const char *v)
{
        for (PmMode m = 0; m < _PM_MODE_MAX; m++)
                if (strcaseeq(v, pm_mode_to_string(m)))
                        return true;
        return false;
}

static const char *check_value(Parse parse, const char *v)
{
        static const char *const levels[] = {"debug", "notice", "warning", "warn", "error", "alert", NULL};
        static const char *const facilities[] = {"AUTH", "AUTHPRIV", "CRON", "DAEMON", "FTP", "KERN", "LPR", "MAIL",
                "NEWS", "SYSLOG", "USER", "UUCP", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6",
                "LOCAL7", NULL};

        switch (parse) {
        case P_INTEGER:
                return check_integer(v);
        case P_TIME:
                return check_time(v);
        case P_BOOLEAN:
                return boolean_value(v) < 0 ? "invalid boolean value" : NULL;
        case P_LOG_LEVEL:
                return is_one_of(v, levels) ? NULL : "invalid value for 'log_level'";
        case P_RLIMIT_CORE:
                if (strcaseeq(v, "unlimited"))
                        return NULL;
                if (check_integer(v))
                        return check_integer(v);
                return atoi(v) < 0 ? "must be greater than zero or 'unlimited'" : NULL;
        case P_PM:
                return is_pm_mode(v) ? NULL : "invalid process manager (static, dynamic or ondemand)";
        case P_FACILITY:
                return is_one_of(v, facilities) ? NULL : "invalid value";
        default:
                return NULL;
        }
}

/* ---- from PHP-FPM's settings to fpmd's ---- */

typedef int (*MapFn)(Converter *c, FpmPool *p, const Directive *d, const Raw *r);

struct Directive {
        const char *name;
        Parse parse;
        MapFn map;
        const char *fpmd;   /* the fpmd setting it becomes */
        long long min, max; /* fpmd's range, for integers */
        const char *why;    /* what fpmd does instead, for a setting it has no use for */
};

static char **out_slot(Converter *c, FpmPool *p, const char *path)
{
        const char *const *order = p ? pool_order : global_order;
        size_t n = p ? ELEMENTSOF(pool_order) : ELEMENTSOF(global_order);

        for (size_t i = 0; i < n; i++)
                if (streq(order[i], path))
                        return p ? &p->out[i] : &c->global_out[i];
        return NULL;
}

/* Takes text */
static int out_set(Converter *c, FpmPool *p, const char *path, char *text)
{
        char **slot = out_slot(c, p, path);

        if (!text)
                return -ENOMEM;
        if (!slot) {
                free(text);
                return -EINVAL;
        }
        free(*slot);
        *slot = text;
        return 0;
}

static int map_drop(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        (void)p;
        return note_raw(c, r, "%s", d->why);
}

static int map_string(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        return out_set(c, p, d->fpmd, cfgtext_string(r->value));
}

static int map_bool(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        return out_set(c, p, d->fpmd, strdup(boolean_value(r->value) > 0 ? "true" : "false"));
}

static int map_int(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        long long v = atoi(r->value);

        if (v < d->min || v > d->max)
                return note_raw(c, r, "fpmd's %s takes %lld to %lld; dropped", d->fpmd, d->min, d->max);
        return out_set(c, p, d->fpmd, strf("%lld", v));
}

/* PHP-FPM's seconds with an s, m, h or d after them, as fpmd's duration: "30" is "30s", "5m" stays "5m" */
static int map_time(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        size_t l = strlen(r->value);
        char unit = r->value[l - 1];
        _cleanup_free_ char *number = NULL;
        long v;
        int k;

        if (unit >= '0' && unit <= '9') {
                number = strdup(r->value);
                unit = 's';
        } else
                number = strndup(r->value, l - 1);
        if (!number)
                return -ENOMEM;

        /* atoi(): whatever digits come first, "1.5h" is 1h */
        v = strtol(number, NULL, 10);
        if (v < 0 || v > INT_MAX / 86400)
                return note_raw(c, r, "fpmd takes no negative or so long a duration; dropped");
        if (isempty(number) || strspn(number, "0123456789") != strlen(number)) {
                k = note_raw(c, r, "PHP-FPM reads it as %ld%c", v, unit);
                if (k < 0)
                        return k;
        }
        if (v == 0)
                return out_set(c, p, d->fpmd, strdup("0"));
        return out_set(c, p, d->fpmd, strf("\"%ld%c\"", v, unit));
}

static int map_log_level(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        static const char *const levels[] = {"debug", "notice", "warning", "error"};
        const char *level = "error";
        int k;

        if (strcaseeq(r->value, "warn"))
                level = "warning";
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcaseeq(r->value, levels[i]))
                        level = levels[i];
        if (strcaseeq(r->value, "alert")) {
                k = note_raw(c, r, "fpmd has no alert level; error is the nearest");
                if (k < 0)
                        return k;
        }
        return out_set(c, p, d->fpmd, cfgtext_string(level));
}

static bool rlimit_unset(const Raw *r)
{
        /* 0 is PHP-FPM's "leave the limit as it is", fpmd's unset */
        return !strcaseeq(r->value, "unlimited") && atoi(r->value) == 0;
}

static char *rlimit_text(const Raw *r)
{
        return strcaseeq(r->value, "unlimited") ? strdup("\"unlimited\"") : strf("%d", atoi(r->value));
}

static int map_rlimit(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        if (rlimit_unset(r))
                return 0;
        return out_set(c, p, d->fpmd, rlimit_text(r));
}

/* PHP-FPM's master sets these on itself and its workers inherit them; fpmd has them per pool */
static int map_global_rlimit(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        (void)p;
        if (rlimit_unset(r))
                return 0;
        return note_raw(c, r, "PHP-FPM's own limit, which its workers inherit: set as %s in every pool that sets none",
                d->fpmd);
}

/* fpm_evaluate_full_path(): relative to the pool's prefix, else to PHP-FPM's */
static char *resolve_path(Converter *c, FpmPool *p, const char *path)
{
        const char *prefix = p && p->prefix ? p->prefix : c->prefix;
        size_t l = strlen(prefix);

        if (path[0] == '/')
                return strdup(path);
        if (isempty(path))
                return strdup(prefix);
        return strf("%s%s%s", prefix, l > 0 && prefix[l - 1] == '/' ? "" : "/", path);
}

static const char *prefix_owner(const FpmPool *p)
{
        return p && p->prefix ? "the pool's" : "PHP-FPM's";
}

static int map_prefix(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        (void)d;
        if (isempty(r->value))
                return 0;
        return note_raw(c, r, "fpmd has no prefix: the pool's relative paths are made absolute against %s",
                strna(p ? p->prefix : NULL));
}

static const char *pool_raw_value(const FpmPool *p, const char *name);

static int map_listen(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        const char *v = r->value, *colon = strrchr(v, ':');
        _cleanup_free_ char *host = NULL, *address = NULL;
        unsigned char buf[sizeof(struct in6_addr)];
        int k;

        if (isempty(v))
                return 0; /* as unset: see pool_finish() */

        if (!colon && strspn(v, "0123456789") != strlen(v)) {
                /* A unix socket */
                if (v[0] == '/')
                        return out_set(c, p, d->fpmd, cfgtext_string(v));
                address = resolve_path(c, p, v);
                if (!address)
                        return -ENOMEM;
                k = note_raw(c, r, "a relative path is relative to %s prefix: %s", prefix_owner(p), address);
                if (k < 0)
                        return k;
                return out_set(c, p, d->fpmd, cfgtext_string(address));
        }
        if (!colon)
                return out_set(c, p, d->fpmd, cfgtext_string(v)); /* a port: every address */

        host = strndup(v, (size_t)(colon - v));
        if (!host)
                return -ENOMEM;
        if (host[0] == '[' && strlen(host) > 1 && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        if (inet_pton(AF_INET, host, buf) > 0)
                return out_set(c, p, d->fpmd, cfgtext_string(v));
        if (inet_pton(AF_INET6, host, buf) > 0)
                /* fpmd wants an IPv6 address in brackets */
                return out_set(c, p, d->fpmd, strf("\"[%s]%s\"", host, colon));
        if (streq(host, "localhost")) {
                k = note_raw(c, r, "fpmd does not look host names up: localhost is written as 127.0.0.1");
                if (k < 0)
                        return k;
                return out_set(c, p, d->fpmd, strf("\"127.0.0.1%s\"", colon));
        }
        k = note_raw(c, r,
                "fpmd does not look host names up: write the address it stands for, or fpmd cannot start the pool");
        if (k < 0)
                return k;
        return out_set(c, p, d->fpmd, cfgtext_string(v));
}

/* PHP-FPM reads the mode as strtoul(mode, NULL, 8) */
static int map_mode(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        char *end;
        unsigned long mode;
        int k;

        if (isempty(r->value))
                return 0;
        mode = strtoul(r->value, &end, 8);
        if (mode > 07777)
                return note_raw(c, r, "not a file mode; dropped");
        if (*end) {
                k = note_raw(c, r, "PHP-FPM reads it as %04lo", mode);
                if (k < 0)
                        return k;
        }
        return out_set(c, p, d->fpmd, strf("\"%04lo\"", mode));
}

static int list_add(char **list, const char *item)
{
        _cleanup_free_ char *quoted = cfgtext_string(item);
        char *s;

        if (!quoted)
                return -ENOMEM;
        s = *list ? strf("%s, %s", *list, quoted) : strdup(quoted);
        if (!s)
                return -ENOMEM;
        free(*list);
        *list = s;
        return 0;
}

/* fcgi_set_allowed_clients(): split at commas, nothing trimmed, what inet_pton() refuses is left out */
static int map_allowed_clients(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        _cleanup_free_ char *copy = strdup(r->value), *list = NULL;
        unsigned char buf[sizeof(struct in6_addr)];
        char *cur, *end;
        int k;

        if (!copy)
                return -ENOMEM;
        for (cur = copy; cur; cur = end) {
                end = strchr(cur, ',');
                if (end)
                        *end++ = '\0';
                if (inet_pton(AF_INET, cur, buf) > 0 || inet_pton(AF_INET6, cur, buf) > 0)
                        k = list_add(&list, cur);
                else
                        k = note_raw(c, r, "PHP-FPM leaves '%s' out (\"Wrong IP address\"), and so does fpmd", cur);
                if (k < 0)
                        return k;
        }
        if (!list)
                return note_raw(c, r,
                        "no address is left: PHP-FPM then lets no client in, while fpmd without allowed_clients lets "
                        "any in; dropped");
        return out_set(c, p, d->fpmd, strf("[ %s ]", list));
}

static int map_pm(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        _cleanup_free_ char *mode = strdup(r->value);

        if (!mode)
                return -ENOMEM;
        for (char *s = mode; *s; s++)
                *s = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
        return out_set(c, p, d->fpmd, cfgtext_string(mode));
}

/* start_servers, min_spare_servers and max_spare_servers mean something with pm = dynamic only */
static int map_spare(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        const char *pm = pool_raw_value(p, "pm");

        if (pm && !strcaseeq(pm, "dynamic"))
                return note_raw(c, r, "PHP-FPM uses it with pm = dynamic only; dropped");
        /* start_servers 0 is PHP-FPM's "min_spare_servers + (max_spare_servers - min_spare_servers) / 2", as fpmd's
         * unset */
        if (streq(d->fpmd, "pm.start_servers") && atoi(r->value) == 0)
                return 0;
        return map_int(c, p, d, r);
}

static int map_uri(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        const char *v = r->value;

        if (isempty(v))
                return 0; /* off */
        if (v[0] != '/' || strlen(v) < 2 ||
                strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-.~") != strlen(v))
                return note_raw(
                        c, r, "PHP-FPM refuses it (a path starting with /, of letters, digits and /_-.~); dropped");
        return out_set(c, p, d->fpmd, cfgtext_string(v));
}

/* access.log and slowlog: files in PHP-FPM, the journal in fpmd */
static int map_log_file(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        int k;

        if (isempty(r->value))
                return 0;
        k = note_raw(c, r, "fpmd writes %s to the journal (journalctl -u fpmd FPMD_POOL=%s), not to a file: %s = true",
                d->why, p->fpmd_name, d->fpmd);
        if (k < 0)
                return k;
        return out_set(c, p, d->fpmd, strdup("true"));
}

static int map_access_format(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        const char *why = NULL;

        if (access_format_check(r->value, &why) < 0)
                return note_raw(c, r, "fpmd cannot read this format (%s); dropped", why);
        return map_string(c, p, d, r);
}

static int map_track_finished(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        if (boolean_value(r->value) <= 0)
                return 0; /* what fpmd does */
        return map_drop(c, p, d, r);
}

/* chroot (where PHP-FPM replaces a leading $prefix) and chdir */
static int map_path(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        const char *v = r->value;
        _cleanup_free_ char *path = NULL;
        int k;

        if (isempty(v))
                return 0;
        if (streq(d->name, "chroot") && strstr(v, "$prefix")) {
                if (!strneq(v, "$prefix", strlen("$prefix")))
                        return note_raw(c, r, "PHP-FPM refuses $prefix other than at the start; dropped");
                v += strlen("$prefix");
                while (*v == '/')
                        v++;
                path = resolve_path(c, p, v);
        } else if (v[0] != '/') {
                path = resolve_path(c, p, v);
                if (!path)
                        return -ENOMEM;
                k = note_raw(c, r, "a relative path is relative to %s prefix: %s", prefix_owner(p), path);
                if (k < 0)
                        return k;
        } else
                path = strdup(v);
        if (!path)
                return -ENOMEM;
        return out_set(c, p, d->fpmd, cfgtext_string(path));
}

/* Split at blanks as PHP-FPM does; "" lets any script run, as fpmd's [ ] */
static int map_extensions(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        _cleanup_free_ char *copy = strdup(r->value), *list = NULL;
        char *save = NULL;
        int k;

        if (!copy)
                return -ENOMEM;
        for (char *e = strtok_r(copy, " \t", &save); e; e = strtok_r(NULL, " \t", &save)) {
                _cleanup_free_ char *dotted = NULL;

                if (strchr(e, '/')) {
                        k = note_raw(c, r, "'%s' is no extension; left out", e);
                } else if (e[0] != '.' || e[1] == '\0') {
                        dotted = strf(".%s", e);
                        if (!dotted)
                                return -ENOMEM;
                        k = note_raw(c, r,
                                "fpmd's extensions start with a dot: '%s' is '%s' (PHP-FPM also let 'x%s' through)", e,
                                dotted, e);
                        if (k >= 0)
                                k = list_add(&list, dotted);
                } else
                        k = list_add(&list, e);
                if (k < 0)
                        return k;
        }
        return out_set(c, p, d->fpmd, list ? strf("[ %s ]", list) : strdup("[ ]"));
}

#define WHY_JOURNAL "fpmd logs to the journal (journalctl -u fpmd), or to stderr when run by hand"

static const Directive global_directives[] = {
        {"pid", P_STRING, map_drop, .why = "fpmd writes no pid file: systemd knows its main process"},
        {"error_log", P_STRING, map_drop, .why = WHY_JOURNAL},
        {"syslog.ident", P_STRING, map_drop, .why = "fpmd logs to the journal: SyslogIdentifier= of the unit names it"},
        {"syslog.facility", P_FACILITY, map_drop,
                .why = "fpmd logs to the journal: SyslogFacility= of the unit sets the facility"},
        {"log_buffering", P_BOOLEAN, map_drop, .why = "the journal takes every message whole; nothing to buffer"},
        {"log_level", P_LOG_LEVEL, map_log_level, "log_level"},
        {"log_limit", P_INTEGER, map_drop, .why = "fpmd does not cut long log lines: the journal takes them whole"},
        {"emergency_restart_threshold", P_INTEGER, map_int, "emergency_restart_threshold", 0, INT_MAX},
        {"emergency_restart_interval", P_TIME, map_time, "emergency_restart_interval"},
        {"process_control_timeout", P_TIME, map_time, "process_control_timeout"},
        {"process.max", P_INTEGER, map_drop,
                .why = "fpmd has no limit on all processes together: limit each pool with pm.max_children or "
                       "cgroup = { pids_max = N; }, or the service with TasksMax="},
        {"process.priority", P_INTEGER, map_drop, .why = "fpmd sets no nice level: Nice= of the unit does"},
        {"daemonize", P_BOOLEAN, map_drop, .why = "fpmd never daemonizes: systemd runs it in the foreground"},
        {"rlimit_files", P_INTEGER, map_global_rlimit, "rlimit_files", 1, INT_MAX},
        {"rlimit_core", P_RLIMIT_CORE, map_global_rlimit, "rlimit_core", 0, INT_MAX},
        {"events.mechanism", P_STRING, map_drop, .why = "fpmd always uses epoll"},
        {"systemd_interval", P_TIME, map_drop,
                .why = "fpmd tells systemd its status whenever it changes, and pings its watchdog as WatchdogSec= of "
                       "the unit asks"},
};

static const Directive pool_directives[] = {
        {"prefix", P_STRING, map_prefix},
        {"user", P_STRING, map_string, "user"},
        {"group", P_STRING, map_string, "group"},
        {"listen", P_STRING, map_listen, "listen.address"},
        {"listen.backlog", P_INTEGER, map_int, "listen.backlog", -1, INT_MAX},
        {"listen.acl_users", P_STRING, map_drop,
                .why = "fpmd sets no ACL on its sockets: use listen.owner, listen.group and listen.mode, or a socket "
                       "unit (fpmd@.socket) with SocketUser=, SocketGroup= and SocketMode="},
        {"listen.acl_groups", P_STRING, map_drop,
                .why = "fpmd sets no ACL on its sockets: use listen.owner, listen.group and listen.mode, or a socket "
                       "unit (fpmd@.socket) with SocketUser=, SocketGroup= and SocketMode="},
        {"listen.owner", P_STRING, map_string, "listen.owner"},
        {"listen.group", P_STRING, map_string, "listen.group"},
        {"listen.mode", P_STRING, map_mode, "listen.mode"},
        {"listen.allowed_clients", P_STRING, map_allowed_clients, "listen.allowed_clients"},
        {"process.priority", P_INTEGER, map_drop,
                .why = "fpmd sets no nice level per pool: Nice= of the unit sets one for all pools, and "
                       "cgroup = { cpu_weight = N; } shares the CPU between pools"},
        {"process.dumpable", P_BOOLEAN, map_bool, "process_dumpable"},
        {"pm", P_PM, map_pm, "pm.mode"},
        {"pm.max_children", P_INTEGER, map_int, "pm.max_children", 1, 65535},
        {"pm.start_servers", P_INTEGER, map_spare, "pm.start_servers", 1, 65535},
        {"pm.min_spare_servers", P_INTEGER, map_spare, "pm.min_spare_servers", 1, 65535},
        {"pm.max_spare_servers", P_INTEGER, map_spare, "pm.max_spare_servers", 1, 65535},
        {"pm.max_spawn_rate", P_INTEGER, map_int, "pm.max_spawn_rate", 1, 65535},
        {"pm.process_idle_timeout", P_TIME, map_time, "pm.process_idle_timeout"},
        {"pm.max_requests", P_INTEGER, map_int, "pm.max_requests", 0, INT_MAX},
        {"pm.status_path", P_STRING, map_uri, "status_path"},
        {"pm.status_listen", P_STRING, map_drop,
                .why = "fpmd answers status_path on the pool's own socket only; there is no second socket for it"},
        {"ping.path", P_STRING, map_uri, "ping_path"},
        {"ping.response", P_STRING, map_string, "ping_response"},
        {"access.log", P_STRING, map_log_file, "access_log", .why = "the access log"},
        {"access.format", P_STRING, map_access_format, "access_format"},
        {"slowlog", P_STRING, map_log_file, "slowlog", .why = "the slow requests' backtraces"},
        {"request_slowlog_timeout", P_TIME, map_time, "request_slowlog_timeout"},
        {"request_slowlog_trace_depth", P_INTEGER, map_int, "request_slowlog_trace_depth", 1, 65535},
        {"request_terminate_timeout", P_TIME, map_time, "request_terminate_timeout"},
        {"request_terminate_timeout_track_finished", P_BOOLEAN, map_track_finished,
                .why = "fpmd stops counting request_terminate_timeout once the response is sent "
                       "(fastcgi_finish_request()), and cannot count on"},
        {"rlimit_files", P_INTEGER, map_rlimit, "rlimit_files", 1, INT_MAX},
        {"rlimit_core", P_RLIMIT_CORE, map_rlimit, "rlimit_core", 0, INT_MAX},
        {"chroot", P_STRING, map_path, "chroot"},
        {"chdir", P_STRING, map_path, "chdir"},
        {"catch_workers_output", P_BOOLEAN, map_bool, "catch_workers_output"},
        {"decorate_workers_output", P_BOOLEAN, map_drop,
                .why = "the journal keeps each line of a worker with its pool and pid as fields; nothing is added to "
                       "the line"},
        {"clear_env", P_BOOLEAN, map_bool, "clear_env"},
        {"security.limit_extensions", P_STRING, map_extensions, "security.limit_extensions"},
        {"apparmor_hat", P_STRING, map_drop,
                .why = "fpmd changes no AppArmor hat: AppArmorProfile= of the unit confines all pools"},
};

/* php_value and php_admin_value keys whose relative path PHP-FPM makes absolute (FPM_PHP_INI_TO_EXPAND) */
static const char *const ini_paths[] = {
        "error_log",
        "extension_dir",
        "mime_magic.magicfile",
        "sendmail_path",
        "session.cookie_path",
        "session_pgsql.sem_file_name",
        "soap.wsdl_cache_dir",
        "uploadprogress.file.filename_template",
        "xdebug.output_dir",
        "xdebug.profiler_output_dir",
        "xdebug.trace_output_dir",
        "xmms.path",
        "axis2.client_home",
        "blenc.key_file",
        "coin_acceptor.device",
};

static const Directive *directive_find(const Directive *table, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcaseeq(table[i].name, name))
                        return table + i;
        return NULL;
}

static const Directive *pool_directive(const char *name)
{
        return directive_find(pool_directives, ELEMENTSOF(pool_directives), name);
}

static const Directive *global_directive(const char *name)
{
        return directive_find(global_directives, ELEMENTSOF(global_directives), name);
}

static const char *pool_raw_value(const FpmPool *p, const char *name)
{
        const Directive *d = pool_directive(name);
        const Raw *r = p && d ? &p->raw[d - pool_directives] : NULL;

        return r && r->name ? r->value : NULL;
}

static bool is_array_name(const char *name)
{
        return pool_list_from_string(name) >= 0 || streq(name, "access.suppress_path");
}

/* The known name nearest to an unknown one, if near enough to be a typo */
static const char *suggest(const Directive *table, size_t n, const char *name)
{
        const char *best = NULL;
        size_t best_d = SIZE_MAX;

        for (size_t i = 0; i < n; i++) {
                size_t d = string_distance(name, table[i].name);
                if (d < best_d && d <= 3 && d < strlen(name)) {
                        best = table[i].name;
                        best_d = d;
                }
        }
        return best;
}

/* ---- reading ---- */

static void raw_done(Raw *r)
{
        free(r->name);
        free(r->value);
        free(r->written);
        *r = (Raw){};
}

static void item_list_done(ItemList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].name);
                free(l->items[i].key);
                free(l->items[i].value);
                free(l->items[i].written);
        }
        free(l->items);
        *l = (ItemList){};
}

static int item_list_add(ItemList *l, const Item *i)
{
        Item *t = realloc(l->items, (l->n + 1) * sizeof(Item));

        if (!t)
                return -ENOMEM;
        l->items = t;
        t[l->n] = (Item){
                .name = strdup(i->name),
                .key = strdup(i->key),
                .value = strdup(i->value),
                .written = strdup(i->written),
                .file = i->file,
                .line = i->line,
                .seq = i->seq,
        };
        if (!t[l->n].name || !t[l->n].key || !t[l->n].value || !t[l->n].written) {
                l->n++;
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

static void pool_done(FpmPool *p)
{
        free(p->name);
        free(p->fpmd_name);
        for (size_t i = 0; p->raw && i < ELEMENTSOF(pool_directives); i++)
                raw_done(&p->raw[i]);
        free(p->raw);
        for (size_t i = 0; i < _LIST_MAX; i++) {
                item_list_done(&p->lists[i]);
                item_list_done(&p->out_lists[i]);
        }
        item_list_done(&p->suppress_paths);
        free(p->prefix);
        for (size_t i = 0; i < ELEMENTSOF(pool_order); i++)
                free(p->out[i]);
}

static int section(Converter *c, const char *name, const char *file, unsigned line)
{
        FpmPool *pools;

        if (strcaseeq(name, "global")) {
                c->current = NULL;
                return 0;
        }
        /* A name seen before, in any case, continues that pool */
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcaseeq(c->pools[i].name, name)) {
                        c->current = &c->pools[i];
                        return 0;
                }

        pools = realloc(c->pools, (c->n_pools + 1) * sizeof(FpmPool));
        if (!pools)
                return -ENOMEM;
        c->pools = pools;
        pools[c->n_pools] = (FpmPool){
                .name = strdup(name),
                .raw = calloc(ELEMENTSOF(pool_directives), sizeof(Raw)),
                .file = file,
                .line = line,
                .seq = c->seq,
        };
        c->current = &pools[c->n_pools++];
        return c->current->name && c->current->raw ? 0 : -ENOMEM;
}

static int value_notes(
        Converter *c, const char *file, unsigned line, const char *name, const char *key, const char *value)
{
        _cleanup_free_ char *setting = key ? strf("%s[%s]", name, key) : strdup(name);
        int k = 0;

        if (!setting)
                return -ENOMEM;
        if (strchr(value, '\n'))
                k = note_line(c, file, line,
                        "%s: the value ends with a newline: in PHP-FPM a '$' at the end of a line takes the line's "
                        "newline into the value, and fpmd keeps it",
                        setting);
        if (k >= 0 && (value[0] == '#' || strstr(value, " #") || strstr(value, "\t#")))
                k = note_line(c, file, line,
                        "%s: '#' starts no comment in PHP-FPM 8.2: it is part of the value, and stays so", setting);
        return k;
}

static int entry(Converter *c, const IniStatement *st, const char *file, unsigned line, char **include)
{
        const Directive *table = c->current ? pool_directives : global_directives, *d;
        size_t n = c->current ? ELEMENTSOF(pool_directives) : ELEMENTSOF(global_directives);
        _cleanup_free_ char *value = NULL, *v = NULL;
        const char *why, *near;
        Raw *r;

        if (!st->value)
                return note_line(c, file, line,
                        "%s: a name without '= value': PHP-FPM refuses it (\"value is NULL\"); dropped", st->name);

        if (streq(st->name, "include")) {
                if (*include)
                        return note_line(c, file, line,
                                "include = %s: a second include on one line: PHP-FPM refuses it; dropped", st->value);
                *include = strdup(st->value);
                return *include ? 0 : -ENOMEM;
        }

        v = note_value(st->written);
        if (!v)
                return -ENOMEM;
        d = directive_find(table, n, st->name);
        if (!d) {
                if (c->current ? global_directive(st->name) : pool_directive(st->name))
                        return note_line(c, file, line, "%s = %s: %s; PHP-FPM refuses it here; dropped", st->name, v,
                                c->current ? "a [global] setting in a pool" : "a pool setting in [global]");
                near = suggest(table, n, st->name);
                if (near)
                        return note_line(c, file, line,
                                "%s = %s: unknown to PHP-FPM 8.2, which refuses it (did you mean '%s'?); dropped",
                                st->name, v, near);
                return note_line(
                        c, file, line, "%s = %s: unknown to PHP-FPM 8.2, which refuses it; dropped", st->name, v);
        }

        why = check_value(d->parse, st->value);
        if (why)
                return note_line(c, file, line, "%s = %s: PHP-FPM refuses it (%s); dropped", st->name, v, why);
        if (d->parse == P_STRING && strstr(st->value, "$pool") && !c->current)
                return note_line(c, file, line,
                        "%s = %s: PHP-FPM refuses $pool outside a pool (\"Can't use '$pool' when the pool is not "
                        "defined\"); dropped",
                        st->name, v);
        value = d->parse == P_STRING && c->current ? expand_pool(st->value, c->current->name) : strdup(st->value);
        if (!value)
                return -ENOMEM;

        /* Set again: the last value counts, as in PHP-FPM */
        r = c->current ? &c->current->raw[d - pool_directives] : &c->global[d - global_directives];
        raw_done(r);
        *r = (Raw){
                .name = strdup(st->name),
                .value = TAKE_PTR(value),
                .written = strdup(st->written),
                .file = file,
                .line = line,
                .seq = c->seq,
        };
        if (!r->name || !r->written)
                return -ENOMEM;
        if (st->evaluated && note_raw(c, r, "PHP-FPM computes it to %s", r->value) < 0)
                return -ENOMEM;
        return value_notes(c, file, line, st->name, NULL, r->value);
}

static int array_entry(Converter *c, const IniStatement *st, const char *file, unsigned line)
{
        _cleanup_free_ char *v = note_value(st->written), *value = NULL;
        Item item = {
                .name = st->name,
                .key = st->key,
                .written = st->written,
                .file = file,
                .line = line,
                .seq = c->seq,
        };
        PoolList list;
        int b;

        if (!v)
                return -ENOMEM;
        if (streq(st->name, "access.suppress_path")) {
                if (!isempty(st->key) || st->value[0] != '/')
                        return note_line(c, file, line,
                                "%s[%s] = %s: PHP-FPM refuses it (no key, and a path starting with /); dropped",
                                st->name, st->key, v);
        } else if (isempty(st->key))
                return note_line(c, file, line, "%s[] = %s: PHP-FPM refuses it (\"You must provide a key\"); dropped",
                        st->name, v);
        if (!is_array_name(st->name)) {
                const char *near = NULL;
                size_t best = SIZE_MAX;

                for (size_t i = 0; i < _LIST_MAX; i++)
                        if (string_distance(st->name, list_names[i]) < MIN(best, 4u)) {
                                best = string_distance(st->name, list_names[i]);
                                near = list_names[i];
                        }
                if (near)
                        return note_line(c, file, line,
                                "%s[%s] = %s: unknown to PHP-FPM 8.2, which refuses it (did you mean '%s'?); dropped",
                                st->name, st->key, v, near);
                return note_line(c, file, line, "%s[%s] = %s: unknown to PHP-FPM 8.2, which refuses it; dropped",
                        st->name, st->key, v);
        }
        if (!c->current)
                return note_line(
                        c, file, line, "%s[%s] = %s: PHP-FPM refuses it in [global]; dropped", st->name, st->key, v);

        if (streq(st->name, "access.suppress_path")) {
                item.value = st->value;
                return item_list_add(&c->current->suppress_paths, &item);
        }
        list = pool_list_from_string(st->name);

        if (list == LIST_PHP_FLAG || list == LIST_PHP_ADMIN_FLAG) {
                b = boolean_value(st->value);
                if (b < 0)
                        return note_line(c, file, line,
                                "%s[%s] = %s: PHP-FPM refuses it (invalid boolean value); dropped", st->name, st->key,
                                v);
                value = strdup(b ? "1" : "0");
        } else {
                if (list == LIST_ENV && isempty(st->value))
                        return note_line(c, file, line, "%s[%s] = %s: PHP-FPM refuses it (\"empty value\"); dropped",
                                st->name, st->key, v);
                value = expand_pool(st->value, c->current->name);
        }
        if (!value)
                return -ENOMEM;
        item.value = value;

        /* PHP-FPM prepends each value to its list and applies the list in order, so the first value of a key is
         * the one that counts; php_value and php_flag share one list, php_admin_value and php_admin_flag another */
        for (PoolList i = 0; i < _LIST_MAX; i++) {
                bool same = i == list || (list == LIST_PHP_VALUE && i == LIST_PHP_FLAG) ||
                            (list == LIST_PHP_FLAG && i == LIST_PHP_VALUE) ||
                            (list == LIST_PHP_ADMIN_VALUE && i == LIST_PHP_ADMIN_FLAG) ||
                            (list == LIST_PHP_ADMIN_FLAG && i == LIST_PHP_ADMIN_VALUE);

                for (size_t j = 0; same && j < c->current->lists[i].n; j++) {
                        const Item *first = &c->current->lists[i].items[j];
                        if (!streq(first->key, st->key))
                                continue;
                        /* fpm_php_apply_defines_ex(): each extension= loads its module */
                        if (streq(st->key, "extension") && list != LIST_ENV)
                                return note_item(c, &item,
                                        "PHP-FPM loads every extension given, and fpmd's group holds one value per "
                                        "name (the first, from %s:%u): load this one in php.ini; dropped",
                                        first->file, first->line);
                        return note_item(c, &item, "set before at %s:%u, and PHP-FPM keeps the first value; dropped",
                                first->file, first->line);
                }
        }
        if (st->evaluated && note_item(c, &item, "PHP-FPM computes it to %s", item.value) < 0)
                return -ENOMEM;
        if (value_notes(c, file, line, st->name, st->key, item.value) < 0)
                return -ENOMEM;
        return item_list_add(&c->current->lists[list], &item);
}

static const char *source_getenv(const char *name, void *userdata)
{
        const ConvertSource *src = ((Converter *)userdata)->src;

        return src->getenv ? src->getenv(name, src->userdata) : NULL;
}

static int convert_file(Converter *c, const char *path, const char *from, unsigned from_line);

/* include=: a glob, relative to PHP-FPM's prefix, read where it stands */
static int include(Converter *c, const char *file, unsigned line, const char *pattern)
{
        _cleanup_free_ char *full = NULL;
        char **paths = NULL;
        int r;

        full = pattern[0] == '/' ? strdup(pattern) : strf("%s/%s", c->prefix, pattern);
        if (!full)
                return -ENOMEM;
        if (pattern[0] != '/') {
                r = note_line(c, file, line, "include = %s: a relative pattern is relative to PHP-FPM's prefix: %s",
                        pattern, full);
                if (r < 0)
                        return r;
        }

        r = c->src->glob(full, &paths, c->src->userdata);
        if (r < 0)
                return fail(c, file, line, strf("cannot expand include = %s: %s", full, strerror(-r)));
        if (!paths || !paths[0])
                r = note_line(
                        c, file, line, "include = %s: nothing matches %s (PHP-FPM warns and goes on)", pattern, full);
        for (size_t i = 0; r >= 0 && paths && paths[i]; i++)
                r = convert_file(c, paths[i], file, line);
        for (size_t i = 0; paths && paths[i]; i++)
                free(paths[i]);
        free(paths);
        return r;
}

static int convert_line_text(Converter *c, const char *file, unsigned line, const char *text)
{
        _cleanup_free_ char *include_pattern = NULL, *why = NULL;
        IniLine l = {};
        int r;

        r = ini_parse_line(text, source_getenv, c, &l, &why);
        if (r == -EINVAL)
                return fail(c, file, line, strf("PHP-FPM cannot read this line: %s", why));
        if (r < 0)
                return r;

        for (size_t i = 0; r >= 0 && l.variables && l.variables[i]; i++) {
                const char *v = source_getenv(l.variables[i], c);
                _cleanup_free_ char *nv = v ? note_value(v) : NULL;

                if (v && !nv)
                        r = -ENOMEM;
                else if (v)
                        r = note_line(c, file, line,
                                "${%s} is \"%s\" here, where fpmd convert runs; PHP-FPM would take it from its own "
                                "environment when it starts",
                                l.variables[i], nv);
                else
                        r = note_line(c, file, line,
                                "${%s} is not set here, where fpmd convert runs, so it is empty; PHP-FPM would take "
                                "it from its own environment when it starts",
                                l.variables[i]);
        }
        for (size_t i = 0; r >= 0 && l.unknown_constants && l.unknown_constants[i]; i++)
                r = note_line(c, file, line,
                        "%s is kept as written: PHP-FPM would put the value of a PHP constant of that name in its "
                        "place",
                        l.unknown_constants[i]);

        for (size_t i = 0; r >= 0 && i < l.n_statements; i++) {
                const IniStatement *st = &l.statements[i];

                if (st->type == INI_SECTION)
                        r = section(c, st->name, file, line);
                else if (st->type == INI_ENTRY)
                        r = entry(c, st, file, line, &include_pattern);
                else
                        r = array_entry(c, st, file, line);
        }
        ini_line_done(&l);
        if (r >= 0 && include_pattern)
                r = include(c, file, line, include_pattern);
        return r;
}

static int convert_file(Converter *c, const char *path, const char *from, unsigned from_line)
{
        _cleanup_free_ char *text = NULL;
        const char *file;
        unsigned line = 0, hash_lines = 0, hash_first = 0, hash_seq = 0;
        size_t size = 0, pos = 0;
        int r;

        if (c->depth >= INCLUDE_DEPTH_MAX)
                return fail(c, from, from_line,
                        strf("cannot include %s: more than %d files included in one another", path, INCLUDE_DEPTH_MAX));
        r = c->src->read_file(path, &text, &size, c->src->userdata);
        if (r < 0)
                return from ? fail(c, from, from_line, strf("cannot include %s: %s", path, strerror(-r)))
                            : fail(c, path, 0, strf("cannot read: %s", strerror(-r)));

        r = strv_push(&c->files, &c->n_files, strdup(path));
        if (r < 0)
                return r;
        file = c->files[c->n_files - 1];

        c->depth++;
        while (pos < size && r >= 0) {
                const char *start = text + pos, *nl = memchr(start, '\n', size - pos);
                size_t len = nl ? (size_t)(nl - start) : size - pos;
                _cleanup_free_ char *one = NULL;
                size_t blank;

                pos += len + 1;
                line++;
                if (len == 0)
                        continue;
                c->seq++;
                one = strndup(start, len);
                if (!one) {
                        r = -ENOMEM;
                        break;
                }

                /* '#' comments are gone since PHP 7.0: PHP-FPM 8.2 refuses these lines. Taken as comments here. */
                blank = strspn(one, " \t");
                if (one[blank] == '#') {
                        if (hash_lines++ == 0) {
                                hash_first = line;
                                hash_seq = c->seq;
                        }
                        continue;
                }
                r = convert_line_text(c, file, line, one);
        }
        c->depth--;
        if (r >= 0 && hash_lines > 0)
                r = note_add(c, file, hash_first, hash_seq, NULL,
                        strf("%u line%s starting with '#' (the first here): PHP-FPM 8.2 refuses them, as '#' "
                             "comments ended with PHP 7.0; taken as comments",
                                hash_lines, hash_lines == 1 ? "" : "s"));
        return r;
}

/* ---- each pool as a whole ---- */

/* fpmd's pool names become FileDescriptorName= and cgroup names: letters, digits, _ . - */
static char *fpmd_pool_name(const char *name)
{
        char *s = strndup(name, MIN(strlen(name), (size_t)POOL_NAME_MAX));

        if (!s)
                return NULL;
        for (char *p = s; *p; p++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", *p))
                        *p = '_';
        if (isempty(s) || streq(s, ".") || streq(s, "..")) {
                free(s);
                s = strdup("pool");
        }
        return s;
}

static int check_pool_name(Converter *c, FpmPool *p)
{
        _cleanup_free_ char *base = fpmd_pool_name(p->name), *v = note_value(p->name);
        char *name;
        bool taken = true;

        if (!base || !v)
                return -ENOMEM;
        name = strdup(base);
        for (unsigned n = 2; name && taken; n++) {
                taken = false;
                for (FpmPool *q = c->pools; q < p; q++)
                        if (streq(q->fpmd_name, name))
                                taken = true;
                if (taken) {
                        free(name);
                        name = strf("%s-%u", base, n);
                }
        }
        if (!name)
                return -ENOMEM;
        p->fpmd_name = name;

        if (!streq(name, p->name)) {
                int k = note_add(c, p->file, p->line, p->seq, NULL,
                        strf("[%s]: fpmd's pool names are unique and hold letters, digits, _ . and - only: this pool "
                             "is "
                             "'%s'",
                                v, name));
                if (k < 0)
                        return k;
        }
        return out_set(c, p, "name", cfgtext_string(name));
}

/* Each dotted part of an ini name becomes a libconfig group */
static bool ini_name_fits(const char *key)
{
        _cleanup_free_ char *copy = strdup(key);
        char *save = NULL;
        size_t parts = 0;

        if (!copy || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
                return false;
        for (char *s = strtok_r(copy, ".", &save); s; s = strtok_r(NULL, ".", &save), parts++)
                if (!cfgtext_is_name(s))
                        return false;
        return parts > 0;
}

/* A key that is a dotted prefix of another (session and session.name) would be a value and a group at once */
static const char *key_conflict(const ItemList *l, const char *key)
{
        for (size_t i = 0; i < l->n; i++) {
                const char *a = l->items[i].key, *longer, *shorter;

                longer = strlen(a) > strlen(key) ? a : key;
                shorter = longer == a ? key : a;
                if (strneq(longer, shorter, strlen(shorter)) && longer[strlen(shorter)] == '.')
                        return a;
        }
        return NULL;
}

static bool is_ini_path(const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(ini_paths); i++)
                if (strcaseeq(ini_paths[i], key))
                        return true;
        return false;
}

static int map_item(Converter *c, FpmPool *p, PoolList list, const Item *it)
{
        _cleanup_free_ char *resolved = NULL;
        const char *value = it->value, *with;
        Item out = *it;
        char *text;
        int k;

        if (list == LIST_ENV ? !cfgtext_is_name(it->key) : !ini_name_fits(it->key))
                return note_item(c, it,
                        "fpmd cannot hold this name: a libconfig name (each dotted part of an ini name) starts with a "
                        "letter and holds letters, digits, - and _; dropped");
        with = key_conflict(&p->out_lists[list], it->key);
        if (with)
                return note_item(c, it,
                        "fpmd cannot hold both %s and %s in %s: one would be a group and a value; dropped", with,
                        it->key, pool_list_to_string(list));

        /* fpm_conf_process_all_pools(): without a chroot, these ini paths are made absolute against the prefix */
        if ((list == LIST_PHP_VALUE || list == LIST_PHP_ADMIN_VALUE) && !pool_raw_value(p, "chroot") &&
                is_ini_path(it->key) && !isempty(value) && value[0] != '/' &&
                !(list == LIST_PHP_ADMIN_VALUE && strcaseeq(it->key, "error_log") && strcaseeq(value, "syslog"))) {
                resolved = resolve_path(c, p, value);
                if (!resolved)
                        return -ENOMEM;
                k = note_item(c, it, "a relative path, made absolute against %s prefix as PHP-FPM does: %s",
                        prefix_owner(p), resolved);
                if (k < 0)
                        return k;
                value = resolved;
        }

        if (list == LIST_PHP_FLAG || list == LIST_PHP_ADMIN_FLAG)
                text = strdup(streq(value, "1") ? "true" : "false");
        else if (list == LIST_ENV)
                text = cfgtext_string(value);
        else
                text = cfgtext_ini_value(value);
        if (!text)
                return -ENOMEM;
        out.value = text;
        k = item_list_add(&p->out_lists[list], &out);
        free(text);
        return k;
}

static int map_lists(Converter *c, FpmPool *p)
{
        int k = 0;

        for (PoolList list = 0; list < _LIST_MAX; list++)
                for (size_t i = 0; k >= 0 && i < p->lists[list].n; i++)
                        k = map_item(c, p, list, &p->lists[list].items[i]);
        for (size_t i = 0; k >= 0 && i < p->suppress_paths.n; i++)
                k = note_item(c, &p->suppress_paths.items[i],
                        "fpmd logs every request to the journal and cannot leave a path out; dropped");
        return k;
}

static int map_raw(Converter *c, FpmPool *p, const Directive *d, const Raw *r)
{
        return r->name ? d->map(c, p, d, r) : 0;
}

static int pool_finish(Converter *c, FpmPool *p)
{
        const char *prefix = pool_raw_value(p, "prefix"), *timeout = pool_raw_value(p, "request_slowlog_timeout");
        int k;

        k = check_pool_name(c, p);
        if (k < 0)
                return k;
        if (!isempty(prefix)) {
                p->prefix = resolve_path(c, NULL, prefix);
                if (!p->prefix)
                        return -ENOMEM;
        }
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(pool_directives); i++)
                k = map_raw(c, p, &pool_directives[i], &p->raw[i]);
        if (k < 0)
                return k;

        if (isempty(pool_raw_value(p, "listen")))
                k = note_add(c, p->file, p->line, p->seq, NULL,
                        strf("[%s]: no listen: PHP-FPM refuses a pool without it; fpmd expects a socket named '%s' "
                             "from systemd (fpmd@%s.socket)",
                                p->fpmd_name, p->fpmd_name, p->fpmd_name));
        if (k >= 0 && !pool_raw_value(p, "pm"))
                k = note_add(c, p->file, p->line, p->seq, NULL,
                        strf("[%s]: no pm: PHP-FPM refuses a pool without it; fpmd's default is dynamic",
                                p->fpmd_name));
        if (k >= 0 && pool_raw_value(p, "pm") && atoi(strempty(pool_raw_value(p, "pm.max_children"))) < 1)
                k = note_add(c, p->file, p->line, p->seq, NULL,
                        strf("[%s]: no pm.max_children: PHP-FPM refuses a pool without it; fpmd's default is 5",
                                p->fpmd_name));
        if (k >= 0 && strcaseeq(strempty(pool_raw_value(p, "pm")), "dynamic") &&
                (atoi(strempty(pool_raw_value(p, "pm.min_spare_servers"))) < 1 ||
                        atoi(strempty(pool_raw_value(p, "pm.max_spare_servers"))) < 1))
                k = note_add(c, p->file, p->line, p->seq, NULL,
                        strf("[%s]: pm = dynamic without pm.min_spare_servers and pm.max_spare_servers: PHP-FPM "
                             "refuses it; fpmd takes 1 and 3 (at most pm.max_children)",
                                p->fpmd_name));
        if (k >= 0 && timeout && atoi(timeout) > 0 && isempty(pool_raw_value(p, "slowlog")))
                k = note_raw(c, &p->raw[pool_directive("request_slowlog_timeout") - pool_directives],
                        "PHP-FPM refuses it without slowlog; fpmd writes the slow requests' backtraces to the "
                        "journal");
        if (k < 0)
                return k;
        return map_lists(c, p);
}

static int finish(Converter *c, const char *path)
{
        int k = 0;

        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(global_directives); i++)
                k = map_raw(c, NULL, &global_directives[i], &c->global[i]);
        if (k >= 0)
                k = out_set(c, NULL, "include_dir", strdup("\"pool.d\""));
        if (k >= 0 && c->php_ini)
                k = out_set(c, NULL, "php_ini", cfgtext_string(c->php_ini));
        for (size_t i = 0; k >= 0 && i < c->n_pools; i++)
                k = pool_finish(c, &c->pools[i]);
        if (k < 0)
                return k;

        /* The master's limits, inherited by PHP-FPM's workers, for every pool without its own */
        for (size_t i = 0; i < ELEMENTSOF(global_directives); i++) {
                const Raw *r = &c->global[i];

                if (global_directives[i].map != map_global_rlimit || !r->name || rlimit_unset(r))
                        continue;
                for (size_t j = 0; k >= 0 && j < c->n_pools; j++) {
                        char **slot = out_slot(c, &c->pools[j], global_directives[i].fpmd);
                        if (!*slot)
                                k = out_set(c, &c->pools[j], global_directives[i].fpmd, rlimit_text(r));
                }
        }
        if (k >= 0 && c->n_pools == 0)
                k = note_add(c, path, 0, 0, NULL,
                        strdup("no pool: PHP-FPM refuses a configuration without one, and so does fpmd"));
        return k;
}

/* ---- libconfig text ---- */

/* A pool's settings under g, in fpmd's order; with_name false leaves the name out */
static int pool_tree(const FpmPool *p, CfgNode *g, bool with_name)
{
        int k = 0;

        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(pool_order); i++) {
                PoolList list = pool_list_from_string(pool_order[i]);

                if (list >= 0) {
                        for (size_t j = 0; k >= 0 && j < p->out_lists[list].n; j++) {
                                const Item *it = &p->out_lists[list].items[j];
                                _cleanup_free_ char *path = strf("%s.%s", pool_list_to_string(list), it->key);
                                k = path ? cfgtext_insert(g, path, it->value) : -ENOMEM;
                        }
                } else if (p->out[i] && (with_name || !streq(pool_order[i], "name")))
                        k = cfgtext_insert(g, pool_order[i], p->out[i]);
        }
        return k == -EEXIST ? 0 : k;
}

static int global_tree(const Converter *c, CfgNode *g)
{
        int k = 0;

        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(global_order); i++)
                if (c->global_out[i])
                        k = cfgtext_insert(g, global_order[i], c->global_out[i]);
        return k;
}

static int file_add(ConvertResult *r, char *path, char *text)
{
        ConvertFile *f;

        if (!path || !text) {
                free(path);
                free(text);
                return -ENOMEM;
        }
        f = realloc(r->files, (r->n_files + 1) * sizeof(ConvertFile));
        if (!f) {
                free(path);
                free(text);
                return -ENOMEM;
        }
        r->files = f;
        f[r->n_files++] = (ConvertFile){.path = path, .text = text};
        return 0;
}

static int render(Converter *c, const char *path, ConvertResult *ret)
{
        _cleanup_(cfgtext_done) CfgNode g = {};
        _cleanup_free_ char *header = strf("fpmd's global file, converted by fpmd convert from %s", path);
        int k;

        if (!header)
                return -ENOMEM;
        k = global_tree(c, &g);
        if (k < 0)
                return k;
        k = file_add(ret, strdup("fpmd.conf"), cfgtext_render(&g, header, false));
        for (size_t i = 0; k >= 0 && i < c->n_pools; i++) {
                const FpmPool *p = &c->pools[i];
                _cleanup_(cfgtext_done) CfgNode root = {};
                _cleanup_free_ char *h = strf("Pool %s, converted by fpmd convert from %s", p->fpmd_name, p->file);

                root.children = calloc(1, sizeof(CfgNode));
                if (!h || !root.children)
                        return -ENOMEM;
                root.n = 1;
                root.children[0].name = strdup("pool");
                if (!root.children[0].name)
                        return -ENOMEM;
                k = pool_tree(p, &root.children[0], true);
                if (k >= 0)
                        k = file_add(ret, strf("pool.d/%s.conf", p->fpmd_name), cfgtext_render(&root, h, false));
        }
        return k;
}

/* ---- the whole ---- */

static void converter_done(Converter *c)
{
        for (size_t i = 0; c->global && i < ELEMENTSOF(global_directives); i++)
                raw_done(&c->global[i]);
        free(c->global);
        for (size_t i = 0; i < ELEMENTSOF(global_order); i++)
                free(c->global_out[i]);
        for (size_t i = 0; i < c->n_pools; i++)
                pool_done(&c->pools[i]);
        free(c->pools);
        for (size_t i = 0; i < c->n_notes; i++)
                note_done(&c->notes[i]);
        free(c->notes);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c->error);
}

/* In the order of the lines read; notes about one line in the order they came */
static void notes_sort(Note *notes, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                Note t = notes[i];
                size_t j = i;

                for (; j > 0 && notes[j - 1].seq > t.seq; j--)
                        notes[j] = notes[j - 1];
                notes[j] = t;
        }
}

void convert_result_done(ConvertResult *r)
{
        for (size_t i = 0; i < r->n_files; i++) {
                free(r->files[i].path);
                free(r->files[i].text);
        }
        free(r->files);
        for (size_t i = 0; i < r->n_notes; i++)
                free(r->notes[i]);
        free(r->notes);
        *r = (ConvertResult){};
}

int convert_config(const char *path, const ConvertSource *source, const ConvertOptions *options, ConvertResult *ret,
        char **ret_error)
{
        Converter c = {
                .src = source,
                .prefix = options && options->prefix ? options->prefix : CONVERT_DEFAULT_PREFIX,
                .php_ini = options ? options->php_ini : NULL,
        };
        ConvertResult result = {};
        int r;

        c.global = calloc(ELEMENTSOF(global_directives), sizeof(Raw));
        r = c.global ? convert_file(&c, path, NULL, 0) : -ENOMEM;
        if (r >= 0)
                r = finish(&c, path);
        if (r >= 0)
                r = render(&c, path, &result);
        if (r >= 0) {
                notes_sort(c.notes, c.n_notes);
                result.notes = calloc(c.n_notes + 1, sizeof(char *));
                if (!result.notes)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < c.n_notes; i++)
                        result.notes[result.n_notes++] = TAKE_PTR(c.notes[i].text);
        }
        if (r < 0) {
                if (r == -EINVAL && ret_error)
                        *ret_error = TAKE_PTR(c.error);
                convert_result_done(&result);
                converter_done(&c);
                return r;
        }
        converter_done(&c);
        *ret = result;
        return 0;
}

/* ---- one line, for fpmd -t ---- */

#define HINT_TAIL " (fpmd convert turns a whole PHP-FPM configuration into fpmd's)"

static const char *system_getenv(const char *name, void *userdata);

static int hint_setting(const IniStatement *st, bool pool, char **ret)
{
        static const ConvertSource source = {.getenv = system_getenv};
        Converter c = {.src = &source, .prefix = CONVERT_DEFAULT_PREFIX};
        _cleanup_(cfgtext_done) CfgNode g = {};
        _cleanup_free_ char *text = NULL, *include_pattern = NULL;
        bool in_pool;
        int k;

        if (st->type == INI_ARRAY_ENTRY) {
                if (!is_array_name(st->name))
                        return 0;
                in_pool = true;
        } else if (pool_directive(st->name) || global_directive(st->name))
                in_pool = pool ? !!pool_directive(st->name) : !global_directive(st->name);
        else
                return 0;

        c.global = calloc(ELEMENTSOF(global_directives), sizeof(Raw));
        k = c.global ? strv_push(&c.files, &c.n_files, strdup("-")) : -ENOMEM;
        if (k >= 0 && in_pool)
                k = section(&c, "$pool", c.files[0], 1);
        if (k >= 0)
                k = st->type == INI_ARRAY_ENTRY ? array_entry(&c, st, c.files[0], 1)
                                                : entry(&c, st, c.files[0], 1, &include_pattern);
        if (k >= 0 && in_pool) {
                for (size_t i = 0; k >= 0 && i < ELEMENTSOF(pool_directives); i++)
                        k = map_raw(&c, c.current, &pool_directives[i], &c.current->raw[i]);
                if (k >= 0)
                        k = map_lists(&c, c.current);
                if (k >= 0)
                        k = pool_tree(c.current, &g, false);
        } else if (k >= 0) {
                for (size_t i = 0; k >= 0 && i < ELEMENTSOF(global_directives); i++)
                        k = map_raw(&c, NULL, &global_directives[i], &c.global[i]);
                if (k >= 0)
                        k = global_tree(&c, &g);
        }
        if (k >= 0 && g.n > 0) {
                text = cfgtext_render(&g, NULL, true);
                *ret = text ? strf("PHP-FPM syntax; in fpmd this is: %s" HINT_TAIL, text) : NULL;
        } else if (k >= 0 && c.n_notes > 0)
                *ret = strf("PHP-FPM syntax; fpmd has no such setting: %s" HINT_TAIL, c.notes[0].why);
        else if (k >= 0)
                *ret = strf("PHP-FPM syntax; fpmd needs nothing for it: leave it out" HINT_TAIL);
        converter_done(&c);
        if (k < 0)
                return k;
        return *ret ? 1 : -ENOMEM;
}

int convert_line(const char *line, bool pool, char **ret)
{
        const char *p = line + strspn(line, " \t");
        _cleanup_free_ char *name = NULL;
        const IniStatement *st;
        IniLine l = {};
        int k;

        if (*p == ';') {
                *ret = strf("PHP-FPM syntax; in fpmd this is: #%s" HINT_TAIL, p + 1);
                return *ret ? 1 : -ENOMEM;
        }
        if (ini_parse_line(line, NULL, NULL, &l, NULL) < 0)
                return 0;
        if (l.n_statements == 0) {
                ini_line_done(&l);
                return 0;
        }

        st = &l.statements[0];
        if (st->type == INI_SECTION && strcaseeq(st->name, "global"))
                *ret = strf("PHP-FPM syntax; in fpmd the [global] settings are those of the global file, "
                            "fpmd.conf" HINT_TAIL);
        else if (st->type == INI_SECTION) {
                name = cfgtext_string(st->name);
                *ret = name ? strf("PHP-FPM syntax; in fpmd this is: pool = { name = %s; ... }; in a file of its "
                                   "own" HINT_TAIL,
                                      name)
                            : NULL;
        } else if (st->type == INI_ENTRY && streq(st->name, "include"))
                *ret = strf("PHP-FPM syntax; fpmd reads every *.conf file in the include_dir of fpmd.conf as a "
                            "pool" HINT_TAIL);
        else {
                k = hint_setting(st, pool, ret);
                ini_line_done(&l);
                return k;
        }
        ini_line_done(&l);
        return *ret ? 1 : -ENOMEM;
}

/* ---- the file system and the environment ---- */

static int system_read_file(const char *path, char **ret_text, size_t *ret_size, void *userdata)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;
        FILE *f;
        int r = 0;

        (void)userdata;
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                size_t n;
                if (allocated - size < 4096) {
                        char *t = realloc(buf, allocated + 65536);
                        if (!t) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = t;
                        allocated += 65536;
                }
                n = fread(buf + size, 1, allocated - size - 1, f);
                size += n;
                if (n == 0) {
                        if (ferror(f))
                                r = negative_errno();
                        break;
                }
        }
        fclose(f);
        if (r < 0)
                return r;
        if (!buf) {
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = '\0';
        *ret_text = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int system_glob(const char *pattern, char ***ret_paths, void *userdata)
{
        glob_t g = {};
        char **paths = NULL;
        size_t n = 0;
        int r;

        (void)userdata;
        /* As PHP-FPM: GLOB_ERR | GLOB_MARK, and the folders left out by their trailing slash */
        r = glob(pattern, GLOB_ERR | GLOB_MARK, NULL, &g);
        if (r == GLOB_NOMATCH) {
                globfree(&g);
                *ret_paths = calloc(1, sizeof(char *));
                return *ret_paths ? 0 : -ENOMEM;
        }
        if (r != 0) {
                globfree(&g);
                return r == GLOB_NOSPACE ? -ENOMEM : -EIO;
        }
        r = 0;
        for (size_t i = 0; r >= 0 && i < g.gl_pathc; i++) {
                size_t l = strlen(g.gl_pathv[i]);
                if (l > 0 && g.gl_pathv[i][l - 1] != '/')
                        r = strv_push(&paths, &n, strdup(g.gl_pathv[i]));
        }
        globfree(&g);
        if (r >= 0 && !paths) {
                paths = calloc(1, sizeof(char *));
                if (!paths)
                        r = -ENOMEM;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(paths[i]);
                free(paths);
                return r;
        }
        *ret_paths = paths;
        return 0;
}

static const char *system_getenv(const char *name, void *userdata)
{
        (void)userdata;
        return getenv(name);
}

const ConvertSource convert_source_system = {
        .read_file = system_read_file,
        .glob = system_glob,
        .getenv = system_getenv,
};

char *convert_find_php_ini(const char *php_fpm_conf)
{
        const char *slash = strrchr(php_fpm_conf, '/');
        _cleanup_free_ char *path = NULL;

        if (slash)
                path = strf("%.*s/php.ini", (int)(slash - php_fpm_conf), php_fpm_conf);
        else
                path = strdup("php.ini");
        if (!path || access(path, R_OK) < 0)
                return NULL;
        return realpath(path, NULL);
}

static int mkdir_parents(char *path)
{
        for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        *s = '/';
                        return r;
                }
                *s = '/';
        }
        return 0;
}

static int write_file(const char *path, const char *text)
{
        _cleanup_free_ char *tmp = strf("%s.tmp", path);
        FILE *f;
        int r = 0;

        if (!tmp)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        if (fputs(text, f) < 0)
                r = negative_errno();
        if (fclose(f) != 0 && r == 0)
                r = negative_errno();
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int convert_write(const ConvertResult *res, const char *dir, bool force, char **ret_error)
{
        struct stat st;
        int r;

        for (size_t i = 0; !force && i < res->n_files; i++) {
                _cleanup_free_ char *path = strf("%s/%s", dir, res->files[i].path);

                if (!path)
                        return -ENOMEM;
                if (lstat(path, &st) == 0) {
                        *ret_error = strf("%s exists (--force replaces it)", path);
                        return *ret_error ? -EEXIST : -ENOMEM;
                }
        }
        for (size_t i = 0; i < res->n_files; i++) {
                _cleanup_free_ char *path = strf("%s/%s", dir, res->files[i].path);

                if (!path)
                        return -ENOMEM;
                r = mkdir_parents(path);
                if (r >= 0)
                        r = write_file(path, res->files[i].text);
                if (r < 0) {
                        *ret_error = strf("cannot write %s: %s", path, strerror(-r));
                        return *ret_error ? r : -ENOMEM;
                }
        }
        return 0;
}

int convert_print(const ConvertResult *r, FILE *f)
{
        for (size_t i = 0; i < r->n_files; i++)
                fprintf(f, "%s==> %s <==\n%s", i > 0 ? "\n" : "", r->files[i].path, r->files[i].text);
        return fflush(f) == 0 ? 0 : negative_errno();
}
