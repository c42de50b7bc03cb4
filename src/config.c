/* config.c: the global file and the pool files (libconfig) as plain structs */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "accesslog.h"
#include "address.h"
#include "config.h"
#include "ini.h"
#include "convert.h"
#include "log.h"
#include "parse.h"

#define DEFAULT_INCLUDE_DIR   "conf.d"
#define DEFAULT_PING_RESPONSE "pong"
#define DEFAULT_ACCESS_FORMAT "%R - %u %t \"%m %r\" %s"
#define POOL_NAME_MAX         255 /* systemd's limit for FileDescriptorName=, as in the message below */
#define PID_MAX_LIMIT         4194304

#define EXPECTED_DURATION "expected seconds or a number with ms, s, m, h or d"
#define EXPECTED_SIZE     "expected bytes or a number with K, M, G or T"
#define EXPECTED_FLAG     "true, false, on, off, yes, no, 1 or 0"

/* How one known setting is read and where it lands */
typedef enum SettingType {
        SETTING_STRING,     /* copied as is, "" included */
        SETTING_STRING_OPT, /* "" leaves it NULL (unset) */
        SETTING_DIRECTORY,  /* a non-empty string */
        SETTING_ABS_PATH,   /* "" is NULL, else must start with "/" */
        SETTING_URI_PATH,   /* "" is NULL (off), else must start with "/" */
        SETTING_POOL_NAME,
        SETTING_BOOL,
        SETTING_INT,      /* int within [min, max] */
        SETTING_UNSIGNED, /* unsigned within [min, max] */
        SETTING_UINT64,   /* uint64_t within [min, max] */
        SETTING_RLIMIT,   /* int within [min, max], or "unlimited" as -2 */
        SETTING_DURATION,
        SETTING_SIZE,
        SETTING_MODE,
        SETTING_PERCENT, /* into an uint64_t */
        SETTING_PM_MODE,
        SETTING_LOG_LEVEL,
        SETTING_STRINGS,    /* StringList */
        SETTING_EXTENSIONS, /* StringList of ".ext" */
        SETTING_ROOTS,      /* StringList of absolute folders or "$DOCUMENT_ROOT" */
        SETTING_ENV,        /* KeyValueList of strings */
        SETTING_INI_VALUES, /* KeyValueList, nested groups flattened to dotted names */
        SETTING_INI_FLAGS,  /* as SETTING_INI_VALUES, with boolean values */
} SettingType;

typedef struct Setting {
        const char *path; /* dotted, relative to the global file's root or to the pool group */
        SettingType type;
        size_t offset;
        long long min, max;
} Setting;

#define G(path, type, field)                              \
        {                                                 \
                path, type, offsetof(Config, field), 0, 0 \
        }
#define G_RANGE(path, type, field, a, b)                  \
        {                                                 \
                path, type, offsetof(Config, field), a, b \
        }
#define P(path, type, field)                                  \
        {                                                     \
                path, type, offsetof(PoolConfig, field), 0, 0 \
        }
#define P_RANGE(path, type, field, a, b)                      \
        {                                                     \
                path, type, offsetof(PoolConfig, field), a, b \
        }

static const Setting global_settings[] = {
        G("log_level", SETTING_LOG_LEVEL, log_level),
        G("include_dir", SETTING_DIRECTORY, include_dir),
        G("php_ini", SETTING_STRING_OPT, php_ini),
        G_RANGE("emergency_restart_threshold", SETTING_UNSIGNED, emergency_restart_threshold, 0, INT_MAX),
        G("emergency_restart_interval", SETTING_DURATION, emergency_restart_interval),
        G("process_control_timeout", SETTING_DURATION, process_control_timeout),
        G("watchdog", SETTING_BOOL, watchdog),
        G("zygote", SETTING_BOOL, zygote),
};

static const Setting pool_settings[] = {
        P("name", SETTING_POOL_NAME, name),
        P("listen.address", SETTING_STRING_OPT, listen.address),
        P_RANGE("listen.backlog", SETTING_INT, listen.backlog, -1, INT_MAX),
        P("listen.owner", SETTING_STRING_OPT, listen.owner),
        P("listen.group", SETTING_STRING_OPT, listen.group),
        P("listen.mode", SETTING_MODE, listen.mode),
        P("listen.allowed_clients", SETTING_STRINGS, listen.allowed_clients),
        P("user", SETTING_STRING_OPT, user),
        P("group", SETTING_STRING_OPT, group),
        P("chroot", SETTING_ABS_PATH, chroot),
        P("chdir", SETTING_ABS_PATH, chdir),
        P("worker.script", SETTING_ABS_PATH, worker_script),
        P_RANGE("worker.max_requests", SETTING_UNSIGNED, worker_max_requests, 0, INT_MAX),
        P("php_ini", SETTING_STRING_OPT, php_ini),
        P("php_ini_scan_dir", SETTING_STRING, php_ini_scan_dir),
        P("allow_pcntl", SETTING_BOOL, allow_pcntl),
        P("pm.mode", SETTING_PM_MODE, pm.mode),
        P_RANGE("pm.max_children", SETTING_UNSIGNED, pm.max_children, 1, 65535),
        P_RANGE("pm.start_servers", SETTING_UNSIGNED, pm.start_servers, 1, 65535),
        P_RANGE("pm.min_spare_servers", SETTING_UNSIGNED, pm.min_spare_servers, 1, 65535),
        P_RANGE("pm.max_spare_servers", SETTING_UNSIGNED, pm.max_spare_servers, 1, 65535),
        P_RANGE("pm.max_spawn_rate", SETTING_UNSIGNED, pm.max_spawn_rate, 1, 65535),
        P("pm.process_idle_timeout", SETTING_DURATION, pm.process_idle_timeout),
        P("pm.leader_idle_timeout", SETTING_DURATION, pm.leader_idle_timeout),
        P_RANGE("pm.max_requests", SETTING_UNSIGNED, pm.max_requests, 0, INT_MAX),
        P("pm.max_memory", SETTING_SIZE, pm.max_memory),
        P("status_path", SETTING_URI_PATH, status_path),
        P("ping_path", SETTING_URI_PATH, ping_path),
        P("ping_response", SETTING_STRING, ping_response),
        P("access_log", SETTING_BOOL, access_log),
        P("access_format", SETTING_STRING, access_format),
        P("slowlog", SETTING_BOOL, slowlog),
        P("request_slowlog_timeout", SETTING_DURATION, request_slowlog_timeout),
        P_RANGE("request_slowlog_trace_depth", SETTING_UNSIGNED, request_slowlog_trace_depth, 1, 65535),
        P("request_terminate_timeout", SETTING_DURATION, request_terminate_timeout),
        P("request_header_timeout", SETTING_DURATION, request_header_timeout),
        P("request_io_timeout", SETTING_DURATION, request_io_timeout),
        P("keepalive_timeout", SETTING_DURATION, keepalive_timeout),
        P("request_queue_timeout", SETTING_DURATION, request_queue_timeout),
        P_RANGE("request_queue_max", SETTING_UNSIGNED, request_queue_max, 0, INT_MAX),
        P_RANGE("worker_connections", SETTING_UNSIGNED, worker_connections, 1, 65536),
        P("catch_workers_output", SETTING_BOOL, catch_workers_output),
        P("clear_env", SETTING_BOOL, clear_env),
        P("env", SETTING_ENV, env),
        P("security.limit_extensions", SETTING_EXTENSIONS, limit_extensions),
        P("security.allow_php_value_params", SETTING_BOOL, allow_php_value_params),
        P("security.script_roots", SETTING_ROOTS, script_roots),
        P("php_value", SETTING_INI_VALUES, php_value),
        P("php_admin_value", SETTING_INI_VALUES, php_admin_value),
        P("php_flag", SETTING_INI_FLAGS, php_flag),
        P("php_admin_flag", SETTING_INI_FLAGS, php_admin_flag),
        P_RANGE("rlimit_files", SETTING_INT, rlimit_files, 1, INT_MAX),
        P_RANGE("rlimit_core", SETTING_RLIMIT, rlimit_core, 0, INT_MAX),
        P("cgroup.memory_max", SETTING_SIZE, cgroup.memory_max),
        P("cgroup.memory_high", SETTING_SIZE, cgroup.memory_high),
        P_RANGE("cgroup.pids_max", SETTING_UINT64, cgroup.pids_max, 1, PID_MAX_LIMIT),
        P_RANGE("cgroup.cpu_weight", SETTING_UINT64, cgroup.cpu_weight, 1, 10000),
        P("cgroup.cpu_max", SETTING_PERCENT, cgroup.cpu_max),
        P("process_dumpable", SETTING_BOOL, process_dumpable),
        P("allow_root", SETTING_BOOL, allow_root),
};

const char *config_global_setting_name(size_t i)
{
        return i < ELEMENTSOF(global_settings) ? global_settings[i].path : NULL;
}

const char *config_pool_setting_name(size_t i)
{
        return i < ELEMENTSOF(pool_settings) ? pool_settings[i].path : NULL;
}

/* The file being read and the first thing wrong with it */
typedef struct Parser {
        const char *file;
        bool pool_file; /* a pool file, else the global file */
        char *error;
} Parser;

static void config_destroyp(config_t *c)
{
        config_destroy(c);
}

/* The file a setting or an error comes from: ours, or an @include'd one, which libconfig names as written
 * in the directive and looks up relative to our folder (read_file() sets that) */
static char *source_file(const char *file, const char *source)
{
        const char *slash = strrchr(file, '/');
        char *path;

        if (!source || streq(source, file) || source[0] == '/' || !slash)
                return strdup(source ? source : file);
        if (asprintf(&path, "%.*s/%s", (int)(slash - file), file, source) < 0)
                return NULL;
        return path;
}

/* Records "FILE:LINE: message" (or "FILE: message" without a setting) and returns -EINVAL */
_printf_(3, 4) static int parse_error(Parser *p, const config_setting_t *s, const char *format, ...)
{
        _cleanup_free_ char *message = NULL, *file = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        free(p->error);
        if (s) {
                file = source_file(p->file, config_setting_source_file(s));
                r = file ? asprintf(&p->error, "%s:%u: %s", file, config_setting_source_line(s), message) : -1;
        } else
                r = asprintf(&p->error, "%s: %s", p->file, message);
        if (r < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static int invalid_value(
        Parser *p, const config_setting_t *s, const char *path, const char *value, const char *expected)
{
        return parse_error(p, s, "invalid value for '%s': \"%s\" (expected %s)", path, value, expected);
}

static char *path_join(const char *prefix, const char *name, char separator)
{
        char *s;

        if (isempty(prefix))
                return strdup(name);
        if (asprintf(&s, "%s%c%s", prefix, separator, name) < 0)
                return NULL;
        return s;
}

static int string_list_add(StringList *l, const char *s)
{
        char **items;

        items = realloc(l->items, (l->n + 2) * sizeof(char *));
        if (!items)
                return -ENOMEM;
        l->items = items;

        items[l->n] = strdup(s);
        if (!items[l->n])
                return -ENOMEM;
        items[++l->n] = NULL;
        return 0;
}

static void string_list_done(StringList *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        l->items = mfree(l->items);
        l->n = 0;
}

/* An empty list still has its NULL terminator, so items is never NULL */
static int string_list_init(StringList *l)
{
        *l = (StringList){.items = calloc(1, sizeof(char *))};
        return l->items ? 0 : -ENOMEM;
}

static bool string_list_equal(const StringList *a, const StringList *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->items[i], b->items[i]))
                        return false;
        return true;
}

static int key_value_list_add(KeyValueList *l, char *key, char *value)
{
        KeyValue *items;

        items = realloc(l->items, (l->n + 1) * sizeof(KeyValue));
        if (!items)
                return -ENOMEM;
        l->items = items;
        items[l->n++] = (KeyValue){.key = key, .value = value};
        return 0;
}

static void key_value_list_done(KeyValueList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].value);
        }
        l->items = mfree(l->items);
        l->n = 0;
}

static bool key_value_list_equal(const KeyValueList *a, const KeyValueList *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->items[i].key, b->items[i].key) || !streq(a->items[i].value, b->items[i].value))
                        return false;
        return true;
}

static bool streq_null(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static bool is_integer(const config_setting_t *s)
{
        return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

static int get_integer(Parser *p, const config_setting_t *s, const char *path, long long *ret)
{
        if (!is_integer(s))
                return parse_error(p, s, "'%s' must be an integer", path);
        *ret = config_setting_get_int64(s);
        return 0;
}

static int get_integer_in_range(
        Parser *p, const config_setting_t *s, const char *path, long long min, long long max, long long *ret)
{
        long long v = 0;
        int r;

        r = get_integer(p, s, path, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return parse_error(p, s, "'%s' must be between %lld and %lld, got %lld", path, min, max, v);
        *ret = v;
        return 0;
}

static int get_string(Parser *p, const config_setting_t *s, const char *path, const char **ret)
{
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return parse_error(p, s, "'%s' must be a string", path);
        *ret = config_setting_get_string(s);
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *copy = NULL;

        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

static int convert_mode(const char *v, void *ret)
{
        return parse_mode(v, ret);
}

/* Held as an uint64_t, as the other cgroup limits */
static int convert_percent(const char *v, void *ret)
{
        unsigned u;
        int r;

        r = parse_percent(v, &u);
        if (r < 0)
                return r;
        *(uint64_t *)ret = u;
        return 0;
}

static int convert_pm_mode(const char *v, void *ret)
{
        PmMode m = pm_mode_from_string(v);

        if (m < 0)
                return m;
        *(PmMode *)ret = m;
        return 0;
}

/* The levels fpmd logs at: not alert and above */
static int convert_log_level(const char *v, void *ret)
{
        int level = log_level_from_string(v);

        if (level < LOG_ERR || level > LOG_DEBUG)
                return -EINVAL;
        *(int *)ret = level;
        return 0;
}

static int convert_unlimited(const char *v, void *ret)
{
        if (!streq(v, "unlimited"))
                return -EINVAL;
        *(int *)ret = -2; /* RLIM_INFINITY */
        return 0;
}

/* A setting given as a word that convert() turns into its field: what else it must be, what was expected */
typedef struct Word {
        const char *must_be; /* when it is no string */
        int (*convert)(const char *v, void *ret);
        const char *expected; /* when convert() refuses it */
} Word;

static const Word words[] = {
        [SETTING_RLIMIT] = {"an integer or \"unlimited\"", convert_unlimited, "a number or unlimited"},
        /* A string, since libconfig would read 0660 as the decimal 660 */
        [SETTING_MODE] = {"a string like \"0660\"", convert_mode, "an octal mode like \"0660\""},
        [SETTING_PERCENT] = {"a string like \"200%\"", convert_percent, "a percentage of one CPU like \"200%\""},
        [SETTING_PM_MODE] = {"a string", convert_pm_mode, "static, dynamic or ondemand"},
        [SETTING_LOG_LEVEL] = {"a string", convert_log_level, "debug, info, notice, warning or error"},
};

static int parse_word(Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        const Word *w = &words[setting->type];
        const char *v;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return parse_error(p, s, "'%s' must be %s", path, w->must_be);
        v = config_setting_get_string(s);
        if (w->convert(v, field) < 0)
                return invalid_value(p, s, path, v, w->expected);
        return 0;
}

/* A duration or a size: an integer counts whole units, a string names its unit */
typedef struct Quantity {
        const char *name;     /* "duration" or "size", in the messages */
        const char *must_be;  /* what the setting is, when it is neither an integer nor a string */
        const char *expected; /* the units a string may have */
        uint64_t unit;        /* what an integer counts */
        int (*parse)(const char *v, uint64_t *ret);
        uint64_t max;        /* of a string's value */
        const char *too_big; /* why a string above max is refused */
} Quantity;

static const Quantity quantities[] = {
        [SETTING_DURATION] = {.name = "duration",
                .must_be = "a number of seconds or a string like \"10s\"",
                .expected = EXPECTED_DURATION,
                .unit = USEC_PER_SEC,
                .parse = parse_duration,
                /* parse_duration() refuses USEC_INFINITY ("never") itself */
                .max = UINT64_MAX},
        [SETTING_SIZE] = {.name = "size",
                .must_be = "a number of bytes or a string like \"512M\"",
                .expected = EXPECTED_SIZE,
                .unit = 1,
                .parse = parse_size,
                /* What a libconfig integer holds: the leader reads its settings back from libconfig text */
                .max = INT64_MAX,
                .too_big = "at most 8388607T: 2^63 - 1 bytes"},
};

static int parse_quantity(Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        const Quantity *q = &quantities[setting->type];
        const char *v;
        long long n;
        uint64_t value;

        if (is_integer(s)) {
                n = config_setting_get_int64(s);
                /* n * unit stays below UINT64_MAX, which for a duration is USEC_INFINITY ("never") */
                if (n < 0 || (uint64_t)n >= UINT64_MAX / q->unit)
                        return parse_error(p, s, "invalid %s for '%s': %lld (%s)", q->name, path, n, q->expected);
                *(uint64_t *)field = (uint64_t)n * q->unit;
                return 0;
        }
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return parse_error(p, s, "'%s' must be %s", path, q->must_be);

        v = config_setting_get_string(s);
        if (q->parse(v, &value) < 0)
                return parse_error(p, s, "invalid %s for '%s': \"%s\" (%s)", q->name, path, v, q->expected);
        if (value > q->max)
                return parse_error(p, s, "invalid %s for '%s': \"%s\" (%s)", q->name, path, v, q->too_big);
        *(uint64_t *)field = value;
        return 0;
}

static int parse_string_list(
        Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        _cleanup_(string_list_done) StringList l = {};
        StringList *ret = field;
        int n, r;

        r = string_list_init(&l);
        if (r < 0)
                return r;

        /* A single string is a list of one */
        if (config_setting_type(s) == CONFIG_TYPE_STRING)
                n = 1;
        else if (config_setting_is_array(s) || config_setting_is_list(s))
                n = config_setting_length(s);
        else
                return parse_error(p, s, "'%s' must be a list of strings", path);

        for (int i = 0; i < n; i++) {
                const config_setting_t *e =
                        config_setting_type(s) == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, (unsigned)i);
                const char *v;

                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                        return parse_error(p, e, "'%s' must be a list of strings", path);
                v = config_setting_get_string(e);
                if (setting->type == SETTING_EXTENSIONS && (v[0] != '.' || v[1] == '\0' || strchr(v, '/')))
                        return invalid_value(p, e, path, v, "an extension like \".php\"");
                if (setting->type == SETTING_ROOTS && v[0] != '/' && !streq(v, "$DOCUMENT_ROOT"))
                        return invalid_value(p, e, path, v, "an absolute folder or \"$DOCUMENT_ROOT\"");

                r = string_list_add(&l, v);
                if (r < 0)
                        return r;
        }

        string_list_done(ret);
        *ret = l;
        l = (StringList){};
        return 0;
}

static int parse_env(
        Parser *p, const config_setting_t *s, const char *path, _unused_ const Setting *setting, void *field)
{
        KeyValueList *ret = field;

        if (!config_setting_is_group(s))
                return parse_error(p, s, "'%s' must be a group", path);

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                _cleanup_free_ char *key = NULL, *value = NULL;
                int r;

                if (config_setting_type(e) == CONFIG_TYPE_STRING)
                        value = strdup(config_setting_get_string(e));
                else if (is_integer(e)) {
                        if (asprintf(&value, "%lld", config_setting_get_int64(e)) < 0)
                                value = NULL;
                } else
                        return parse_error(p, e, "'%s.%s' must be a string", path, config_setting_name(e));
                key = strdup(config_setting_name(e));
                if (!key || !value)
                        return -ENOMEM;

                r = key_value_list_add(ret, key, value);
                if (r < 0)
                        return r;
                key = value = NULL;
        }
        return 0;
}

/* The shortest "%g" that reads back as the same double: 0.1 rather than 0.10000000000000001 */
static char *format_double(double d)
{
        char buf[64];

        for (int precision = 1; precision <= 17; precision++) {
                snprintf(buf, sizeof(buf), "%.*g", precision, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        return strdup(buf);
}

static int parse_flag_string(const char *v, bool *ret)
{
        static const char *const yes[] = {"1", "on", "true", "yes"};
        static const char *const no[] = {"0", "off", "false", "no"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcaseeq(v, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcaseeq(v, no[i])) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

static int format_ini_value(Parser *p, const config_setting_t *s, const char *path, bool flag, char **ret)
{
        char *v = NULL;
        bool b;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_BOOL:
                v = strdup(config_setting_get_bool(s) ? "1" : "0");
                break;
        case CONFIG_TYPE_STRING:
                if (!flag) {
                        /* "E_ALL & ~E_NOTICE" means what it means in PHP-FPM's pool file and in php.ini */
                        int r = ini_evaluate_expression(config_setting_get_string(s), &v);

                        if (r < 0)
                                return r;
                        if (r == 0)
                                v = strdup(config_setting_get_string(s));
                        break;
                }
                if (parse_flag_string(config_setting_get_string(s), &b) < 0)
                        return invalid_value(p, s, path, config_setting_get_string(s), EXPECTED_FLAG);
                v = strdup(b ? "1" : "0");
                break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                if (flag && config_setting_get_int64(s) != 0 && config_setting_get_int64(s) != 1)
                        return parse_error(p, s, "invalid value for '%s': %lld (expected " EXPECTED_FLAG ")", path,
                                config_setting_get_int64(s));
                if (asprintf(&v, "%lld", config_setting_get_int64(s)) < 0)
                        v = NULL;
                break;
        case CONFIG_TYPE_FLOAT:
                if (flag)
                        return parse_error(p, s, "'%s' must be a boolean", path);
                v = format_double(config_setting_get_float(s));
                break;
        default:
                return parse_error(p, s, "'%s' must be a string, a number or a boolean", path);
        }

        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

/* php_value = { session = { save_path = "/x"; }; } is the ini setting "session.save_path" */
static int parse_ini_group(
        Parser *p, const config_setting_t *s, const char *path, const char *key_prefix, bool flag, KeyValueList *ret)
{
        if (!config_setting_is_group(s))
                return parse_error(p, s, "'%s' must be a group", path);

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                _cleanup_free_ char *key = NULL, *value = NULL, *child_path = NULL;
                int r;

                key = path_join(key_prefix, config_setting_name(e), '.');
                child_path = path_join(path, config_setting_name(e), '.');
                if (!key || !child_path)
                        return -ENOMEM;

                if (config_setting_is_group(e)) {
                        r = parse_ini_group(p, e, child_path, key, flag, ret);
                        if (r < 0)
                                return r;
                        continue;
                }

                r = format_ini_value(p, e, child_path, flag, &value);
                if (r < 0)
                        return r;
                r = key_value_list_add(ret, key, value);
                if (r < 0)
                        return r;
                key = value = NULL;
        }
        return 0;
}

static bool is_pool_name(const char *s)
{
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

        return n > 0 && s[n] == '\0';
}

static int parse_string_setting(
        Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        SettingType type = setting->type;
        const char *v = NULL;
        int r;

        r = get_string(p, s, path, &v);
        if (r < 0)
                return r;

        switch (type) {
        case SETTING_DIRECTORY:
                if (isempty(v))
                        return invalid_value(p, s, path, v, "a directory");
                break;
        case SETTING_ABS_PATH:
                if (!isempty(v) && v[0] != '/')
                        return invalid_value(p, s, path, v, "an absolute path");
                break;
        case SETTING_URI_PATH:
                if (!isempty(v) && v[0] != '/')
                        return invalid_value(p, s, path, v, "a path starting with /");
                break;
        case SETTING_POOL_NAME:
                /* It becomes a FileDescriptorName= and a cgroup's name */
                if (!is_pool_name(v) || strlen(v) > POOL_NAME_MAX)
                        return invalid_value(p, s, path, v, "up to 255 letters, digits, _, . or -");
                if (streq(v, ".") || streq(v, ".."))
                        return invalid_value(p, s, path, v, "a name other than . and ..");
                break;
        default:
                break;
        }

        if (type != SETTING_STRING && type != SETTING_DIRECTORY && isempty(v))
                v = NULL;
        return set_string(field, v);
}

static int parse_bool(
        Parser *p, const config_setting_t *s, const char *path, _unused_ const Setting *setting, void *field)
{
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return parse_error(p, s, "'%s' must be a boolean", path);
        *(bool *)field = config_setting_get_bool(s);
        return 0;
}

static int parse_integer(Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        long long i = 0;
        int r;

        r = get_integer_in_range(p, s, path, setting->min, setting->max, &i);
        if (r < 0)
                return r;
        if (setting->type == SETTING_UNSIGNED)
                *(unsigned *)field = (unsigned)i;
        else if (setting->type == SETTING_UINT64)
                *(uint64_t *)field = (uint64_t)i;
        else /* SETTING_INT, SETTING_RLIMIT */
                *(int *)field = (int)i;
        return 0;
}

/* An integer within [min, max], or a word (parse_word()) */
static int parse_rlimit(Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        if (is_integer(s))
                return parse_integer(p, s, path, setting, field);
        return parse_word(p, s, path, setting, field);
}

static int parse_ini_setting(
        Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field)
{
        return parse_ini_group(p, s, path, NULL, setting->type == SETTING_INI_FLAGS, field);
}

typedef int (*SettingParser)(
        Parser *p, const config_setting_t *s, const char *path, const Setting *setting, void *field);

static const SettingParser setting_parsers[] = {
        [SETTING_STRING] = parse_string_setting,
        [SETTING_STRING_OPT] = parse_string_setting,
        [SETTING_DIRECTORY] = parse_string_setting,
        [SETTING_ABS_PATH] = parse_string_setting,
        [SETTING_URI_PATH] = parse_string_setting,
        [SETTING_POOL_NAME] = parse_string_setting,
        [SETTING_BOOL] = parse_bool,
        [SETTING_INT] = parse_integer,
        [SETTING_UNSIGNED] = parse_integer,
        [SETTING_UINT64] = parse_integer,
        [SETTING_RLIMIT] = parse_rlimit,
        [SETTING_DURATION] = parse_quantity,
        [SETTING_SIZE] = parse_quantity,
        [SETTING_MODE] = parse_word,
        [SETTING_PERCENT] = parse_word,
        [SETTING_PM_MODE] = parse_word,
        [SETTING_LOG_LEVEL] = parse_word,
        [SETTING_STRINGS] = parse_string_list,
        [SETTING_EXTENSIONS] = parse_string_list,
        [SETTING_ROOTS] = parse_string_list,
        [SETTING_ENV] = parse_env,
        [SETTING_INI_VALUES] = parse_ini_setting,
        [SETTING_INI_FLAGS] = parse_ini_setting,
};

static int parse_setting(Parser *p, const config_setting_t *s, const char *path, const Setting *e, void *base)
{
        return setting_parsers[e->type](p, s, path, e, (uint8_t *)base + e->offset);
}

static const Setting *setting_find(const Setting *table, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].path, path))
                        return table + i;
        return NULL;
}

/* Whether path is a group holding known settings ("pm" for "pm.mode") */
static bool setting_is_group(const Setting *table, size_t n, const char *path)
{
        size_t l = strlen(path);

        for (size_t i = 0; i < n; i++)
                if (strneq(table[i].path, path, l) && table[i].path[l] == '.')
                        return true;
        return false;
}

static bool suggestion_fits(const char *name, const char *candidate, size_t *best)
{
        size_t d = string_distance(name, candidate);

        /* Close enough to be a typo, but not a rewrite of the whole name */
        if (d >= *best || d >= strlen(name) || (d > 3 && d > strlen(name) / 2))
                return false;
        *best = d;
        return true;
}

/* The known setting or group ("pm" of "pm.mode") nearest to an unknown name, if any is near enough */
static char *setting_suggest(const Setting *table, size_t n, const char *path)
{
        _cleanup_free_ char *best = NULL;
        size_t best_distance = SIZE_MAX;

        for (size_t i = 0; i < n; i++) {
                const char *end = table[i].path;

                do {
                        _cleanup_free_ char *candidate = NULL;

                        end = strchr(end + 1, '.');
                        candidate = end ? strndup(table[i].path, (size_t)(end - table[i].path)) : strdup(table[i].path);
                        if (!candidate)
                                return NULL;
                        if (suggestion_fits(path, candidate, &best_distance)) {
                                free(best);
                                best = TAKE_PTR(candidate);
                        }
                } while (end);
        }
        return TAKE_PTR(best);
}

static int unknown_setting(Parser *p, const config_setting_t *s, const char *path, const Setting *table, size_t n)
{
        _cleanup_free_ char *suggestion = setting_suggest(table, n, path);

        if (suggestion)
                return parse_error(p, s, "unknown setting '%s', did you mean '%s'?", path, suggestion);
        return parse_error(p, s, "unknown setting '%s'", path);
}

/* Walks a group so that every setting in it is either known or an error */
static int parse_group(
        Parser *p, const config_setting_t *group, const char *prefix, const Setting *table, size_t n, void *base)
{
        for (int i = 0; i < config_setting_length(group); i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
                _cleanup_free_ char *path = path_join(prefix, config_setting_name(s), '.');
                const Setting *e;
                int r;

                if (!path)
                        return -ENOMEM;

                e = setting_find(table, n, path);
                if (e)
                        r = parse_setting(p, s, path, e, base);
                else if (setting_is_group(table, n, path)) {
                        if (!config_setting_is_group(s))
                                return parse_error(p, s, "'%s' must be a group", path);
                        r = parse_group(p, s, path, table, n, base);
                } else
                        r = unknown_setting(p, s, path, table, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Line n of a file without its newline, or NULL */
static char *file_line(const char *path, int n)
{
        char *line = NULL;
        size_t size = 0;
        ssize_t l = -1;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return NULL;
        for (int i = 1; i <= n && (l = getline(&line, &size, f)) >= 0; i++)
                ;
        fclose(f);
        if (l < 0) {
                free(line);
                return NULL;
        }
        line[strcspn(line, "\n")] = '\0';
        return line;
}

/* A syntax error: libconfig's words, or, when the line is PHP-FPM's syntax, what the line is in fpmd */
static int syntax_error(Parser *p, const char *source, int line, const char *what)
{
        _cleanup_free_ char *text = file_line(source, line), *hint = NULL;

        free(p->error);
        if (text && convert_line(text, p->pool_file, &hint) > 0)
                what = hint;
        if (asprintf(&p->error, "%s:%d: %s", source, line, what) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static int read_file(Parser *p, config_t *lc, const char *file)
{
        _cleanup_free_ char *dir = NULL, *source = NULL;
        const char *slash;
        FILE *f;

        /* libconfig says only "file I/O error"; ask the system why */
        f = fopen(file, "re");
        if (!f) {
                int r = negative_errno();

                parse_error(p, NULL, "cannot read: %s", strerror(-r));
                return r;
        }
        fclose(f);

        /* @include paths are relative to the including file */
        slash = strrchr(file, '/');
        if (slash == file)
                dir = strdup("/");
        else
                dir = slash ? strndup(file, (size_t)(slash - file)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        config_set_include_dir(lc, dir);

        if (!config_read_file(lc, file)) {
                if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
                        return parse_error(p, NULL, "cannot read: %s", strempty(config_error_text(lc)));

                source = source_file(file, config_error_file(lc));
                if (!source)
                        return -ENOMEM;
                return syntax_error(p, source, config_error_line(lc), strempty(config_error_text(lc)));
        }
        return 0;
}

static void pool_config_done(PoolConfig *pc)
{
        free(pc->name);
        free(pc->file);
        free(pc->listen.address);
        free(pc->listen.owner);
        free(pc->listen.group);
        string_list_done(&pc->listen.allowed_clients);
        free(pc->user);
        free(pc->group);
        free(pc->chroot);
        free(pc->chdir);
        free(pc->worker_script);
        free(pc->php_ini);
        free(pc->php_ini_scan_dir);
        free(pc->status_path);
        free(pc->ping_path);
        free(pc->ping_response);
        free(pc->access_format);
        key_value_list_done(&pc->env);
        string_list_done(&pc->limit_extensions);
        string_list_done(&pc->script_roots);
        key_value_list_done(&pc->php_value);
        key_value_list_done(&pc->php_admin_value);
        key_value_list_done(&pc->php_flag);
        key_value_list_done(&pc->php_admin_flag);
        *pc = (PoolConfig){};
}

static int pool_config_init(PoolConfig *pc, const char *file)
{
        /* start_servers, min_spare_servers and max_spare_servers stay 0 until set, then get defaults
         * that fit max_children (pool_config_check()) */
        *pc = (PoolConfig){
                .listen.backlog = 511,
                .listen.mode = 0660,
                .pm.mode = PM_DYNAMIC,
                .pm.max_children = 5,
                .pm.max_spawn_rate = 32,
                .pm.process_idle_timeout = 10 * USEC_PER_SEC,
                .pm.leader_idle_timeout = 10 * 60 * USEC_PER_SEC,
                .slowlog = true,
                .request_slowlog_trace_depth = 20,
                .request_header_timeout = 5 * USEC_PER_SEC,
                .request_io_timeout = 60 * USEC_PER_SEC,
                .keepalive_timeout = 120 * USEC_PER_SEC,
                .worker_connections = 256,
                .catch_workers_output = true,
                .clear_env = true,
                .rlimit_files = -1,
                .rlimit_core = -1,
                .cgroup.memory_max = CGROUP_LIMIT_UNSET,
                .cgroup.memory_high = CGROUP_LIMIT_UNSET,
                .cgroup.pids_max = CGROUP_LIMIT_UNSET,
                .cgroup.cpu_weight = CGROUP_LIMIT_UNSET,
                .cgroup.cpu_max = CGROUP_LIMIT_UNSET,
        };

        pc->file = strdup(file);
        pc->ping_response = strdup(DEFAULT_PING_RESPONSE);
        pc->access_format = strdup(DEFAULT_ACCESS_FORMAT);
        if (!pc->file || !pc->ping_response || !pc->access_format)
                return -ENOMEM;
        if (string_list_init(&pc->listen.allowed_clients) < 0 || string_list_init(&pc->limit_extensions) < 0 ||
                string_list_init(&pc->script_roots) < 0)
                return -ENOMEM;
        if (string_list_add(&pc->limit_extensions, ".php") < 0 || string_list_add(&pc->limit_extensions, ".phar") < 0)
                return -ENOMEM;
        return 0;
}

/* PHP-FPM's checks of a pool's settings against each other */
static int pool_config_check(Parser *p, PoolConfig *pc, const config_setting_t *pool)
{
        PmConfig *pm = &pc->pm;
        const config_setting_t *where = config_setting_get_member(pool, "pm");

        if (!where)
                where = pool;

        if (pm->min_spare_servers == 0)
                pm->min_spare_servers = 1;
        if (pm->max_spare_servers == 0)
                pm->max_spare_servers = MIN(MAX(3u, pm->min_spare_servers), pm->max_children);
        if (pm->start_servers == 0)
                pm->start_servers = pm->min_spare_servers +
                                    (pm->max_spare_servers - MIN(pm->min_spare_servers, pm->max_spare_servers)) / 2;

        if (pm->mode == PM_DYNAMIC) {
                if (pm->min_spare_servers > pm->max_children)
                        return parse_error(p, where,
                                "pool '%s': pm.min_spare_servers (%u) must not be greater than "
                                "pm.max_children (%u)",
                                pc->name, pm->min_spare_servers, pm->max_children);
                if (pm->max_spare_servers > pm->max_children)
                        return parse_error(p, where,
                                "pool '%s': pm.max_spare_servers (%u) must not be greater than "
                                "pm.max_children (%u)",
                                pc->name, pm->max_spare_servers, pm->max_children);
                if (pm->max_spare_servers < pm->min_spare_servers)
                        return parse_error(p, where,
                                "pool '%s': pm.max_spare_servers (%u) must not be less than "
                                "pm.min_spare_servers (%u)",
                                pc->name, pm->max_spare_servers, pm->min_spare_servers);
                if (pm->start_servers < pm->min_spare_servers || pm->start_servers > pm->max_spare_servers)
                        return parse_error(p, where,
                                "pool '%s': pm.start_servers (%u) must be between pm.min_spare_servers (%u) "
                                "and pm.max_spare_servers (%u)",
                                pc->name, pm->start_servers, pm->min_spare_servers, pm->max_spare_servers);
        }

        if (pm->mode == PM_ONDEMAND && pm->process_idle_timeout == 0)
                return parse_error(p, where,
                        "pool '%s': pm.process_idle_timeout must be greater than 0 with pm.mode ondemand", pc->name);

        /* The line of the setting at fault, not the pool's */
        if (pc->status_path && pc->ping_path && streq(pc->status_path, pc->ping_path)) {
                const config_setting_t *s = config_setting_get_member(pool, "ping_path");
                return parse_error(p, s ? s : pool, "pool '%s': status_path and ping_path must differ", pc->name);
        }

        /* The addresses are checked here, with the file and line, not when the pool starts */
        if (pc->listen.address) {
                const config_setting_t *l = config_setting_get_member(pool, "listen");
                const config_setting_t *s = l ? config_setting_get_member(l, "address") : NULL;
                SocketAddress a;
                int r = socket_address_parse(pc->listen.address, &a);

                if (r < 0)
                        return invalid_value(p, s ? s : pool, "listen.address", pc->listen.address,
                                r == -ENAMETOOLONG ? "a unix socket path of at most 107 bytes"
                                                   : "a unix socket path, IPv4:port, [IPv6]:port or a port");
        }
        if (pc->listen.allowed_clients.n > 0) {
                const config_setting_t *l = config_setting_get_member(pool, "listen");
                const config_setting_t *s = l ? config_setting_get_member(l, "allowed_clients") : NULL;
                AllowedClients a;
                size_t bad = 0;
                int r = allowed_clients_parse(pc->listen.allowed_clients.items, pc->listen.allowed_clients.n, &a, &bad);

                if (r == -EINVAL)
                        return invalid_value(p, s ? s : pool, "listen.allowed_clients",
                                pc->listen.allowed_clients.items[bad],
                                "an IPv4 or IPv6 address, optionally with a /prefix");
                if (r < 0)
                        return r;
                allowed_clients_done(&a);
        }

        if (pc->access_format) {
                const config_setting_t *s = config_setting_get_member(pool, "access_format");
                const char *why = NULL;

                if (access_format_check(pc->access_format, &why) < 0)
                        return parse_error(p, s ? s : pool, "pool '%s': invalid access_format \"%s\": %s", pc->name,
                                pc->access_format, why);
        }

        return 0;
}

/* The settings inside "pool = { ... };" */
static int pool_config_parse(Parser *p, const char *file, const config_setting_t *pool, PoolConfig *ret)
{
        _cleanup_(pool_config_done) PoolConfig pc = {};
        int r;

        r = pool_config_init(&pc, file);
        if (r < 0)
                return r;
        if (!config_setting_is_group(pool))
                return parse_error(p, pool, "'pool' must be a group");

        pc.line = (int)config_setting_source_line(pool);

        r = parse_group(p, pool, NULL, pool_settings, ELEMENTSOF(pool_settings), &pc);
        if (r < 0)
                return r;

        if (!pc.name)
                return parse_error(p, pool, "pool has no 'name'");

        r = pool_config_check(p, &pc, pool);
        if (r < 0)
                return r;

        *ret = pc;
        pc = (PoolConfig){};
        return 0;
}

static int pool_config_load(Parser *p, const char *file, PoolConfig *ret)
{
        _cleanup_(config_destroyp) config_t lc;
        const config_setting_t *root, *pool = NULL;
        int r;

        config_init(&lc);
        p->file = file;
        p->pool_file = true;

        r = read_file(p, &lc, file);
        if (r < 0)
                return r;

        root = config_root_setting(&lc);
        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
                const char *name = config_setting_name(s);

                if (streq(name, "pool")) {
                        pool = s;
                        continue;
                }
                if (setting_find(pool_settings, ELEMENTSOF(pool_settings), name) ||
                        setting_is_group(pool_settings, ELEMENTSOF(pool_settings), name))
                        return parse_error(
                                p, s, "unknown setting '%s' (pool settings go inside 'pool = { ... };')", name);
                return unknown_setting(p, s, name, &(Setting){.path = "pool"}, 1);
        }
        if (!pool)
                return parse_error(p, NULL, "no pool defined (expected 'pool = { ... };')");
        return pool_config_parse(p, file, pool, ret);
}

static int pool_file_filter(const struct dirent *de)
{
        size_t l = strlen(de->d_name);

        /* As the glob "*.conf": hidden files are not pools */
        return de->d_name[0] != '.' && l > strlen(".conf") && streq(de->d_name + l - strlen(".conf"), ".conf");
}

static int config_load_pools(Parser *p, Config *c, const config_setting_t *include_dir_setting)
{
        struct dirent **entries = NULL;
        int n, r = 0;

        n = scandir(c->include_dir, &entries, pool_file_filter, alphasort);
        if (n < 0) {
                r = negative_errno();
                p->file = c->file;
                parse_error(p, include_dir_setting, "cannot open include_dir '%s': %s", c->include_dir, strerror(-r));
                return r;
        }

        for (int i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *file = path_join(c->include_dir, entries[i]->d_name, '/');
                PoolConfig *pools;
                struct stat st;

                if (!file) {
                        r = -ENOMEM;
                        break;
                }
                /* A directory called x.conf is not a pool file */
                if (stat(file, &st) >= 0 && S_ISDIR(st.st_mode))
                        continue;

                pools = realloc(c->pools, (c->n_pools + 1) * sizeof(PoolConfig));
                if (!pools) {
                        r = -ENOMEM;
                        break;
                }
                c->pools = pools;

                r = pool_config_load(p, file, &pools[c->n_pools]);
                if (r < 0)
                        break;
                c->n_pools++;

                for (size_t j = 0; j + 1 < c->n_pools; j++) {
                        const PoolConfig *a = &pools[j], *b = &pools[c->n_pools - 1];

                        if (!streq(a->name, b->name))
                                continue;
                        free(p->error);
                        if (asprintf(&p->error, "%s:%d: pool '%s' is already defined in %s:%d", b->file, b->line,
                                    b->name, a->file, a->line) < 0) {
                                p->error = NULL;
                                r = -ENOMEM;
                        } else
                                r = -EINVAL;
                        break;
                }
        }

        for (int i = 0; i < n; i++)
                free(entries[i]);
        free(entries);
        if (r < 0)
                return r;

        if (c->n_pools == 0) {
                p->file = c->file;
                return parse_error(p, NULL, "no pool defined in %s", c->include_dir);
        }
        return 0;
}

/* include_dir relative to the global file's folder, made absolute */
static int resolve_include_dir(const char *file, const char *dir, char **ret)
{
        _cleanup_free_ char *base = NULL, *cwd = NULL;
        const char *slash;
        char *s;

        if (dir[0] == '/') {
                s = strdup(dir);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }

        slash = strrchr(file, '/');
        if (slash == file)
                base = strdup("");
        else if (slash)
                base = strndup(file, (size_t)(slash - file));
        else
                base = strdup(".");
        if (!base)
                return -ENOMEM;

        if (base[0] != '/' && file[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return negative_errno();
                if (streq(base, "."))
                        s = path_join(cwd, dir, '/');
                else if (asprintf(&s, "%s/%s/%s", streq(cwd, "/") ? "" : cwd, base, dir) < 0)
                        s = NULL;
        } else
                s = path_join(base, dir, '/');
        if (!s)
                return -ENOMEM;

        *ret = s;
        return 0;
}

static int config_new(const char *path, const char *default_php_ini, Config **ret)
{
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));

        if (!c)
                return -ENOMEM;
        *c = (Config){
                .log_level = LOG_NOTICE,
                .process_control_timeout = 10 * USEC_PER_SEC,
                .watchdog = true,
                .zygote = true,
        };
        c->file = strdup(path);
        c->include_dir = strdup(DEFAULT_INCLUDE_DIR);
        if (!c->file || !c->include_dir)
                return -ENOMEM;
        if (default_php_ini) {
                c->php_ini = strdup(default_php_ini);
                if (!c->php_ini)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, const char *default_php_ini, Config **ret, char **ret_error)
{
        _cleanup_(config_destroyp) config_t lc;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *include_dir = NULL;
        const config_setting_t *include_dir_setting;
        Parser p = {.file = path};
        int r;

        config_init(&lc);

        r = config_new(path, default_php_ini, &c);
        if (r < 0)
                return r;

        r = read_file(&p, &lc, path);
        if (r >= 0 && config_lookup(&lc, "pool"))
                r = parse_error(&p, config_lookup(&lc, "pool"),
                        "unknown setting 'pool' (each pool goes in its own file in include_dir)");
        if (r >= 0)
                r = parse_group(&p, config_root_setting(&lc), NULL, global_settings, ELEMENTSOF(global_settings), c);
        if (r >= 0) {
                r = resolve_include_dir(path, c->include_dir, &include_dir);
                if (r >= 0) {
                        free(c->include_dir);
                        c->include_dir = TAKE_PTR(include_dir);
                }
        }
        if (r >= 0) {
                include_dir_setting = config_lookup(&lc, "include_dir");
                r = config_load_pools(&p, c, include_dir_setting);
        }

        if (r < 0) {
                if (ret_error && p.error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c)
{
        if (!c)
                return NULL;

        for (size_t i = 0; i < c->n_pools; i++)
                pool_config_done(&c->pools[i]);
        free(c->pools);
        free(c->file);
        free(c->include_dir);
        free(c->php_ini);
        return mfree(c);
}

Config *config_ref(Config *c)
{
        c->n_ref++;
        return c;
}

Config *config_unref(Config *c)
{
        if (c && --c->n_ref == 0)
                config_free(c);
        return NULL;
}

const char *pool_php_ini(const Config *c, const PoolConfig *p)
{
        return p->php_ini ? p->php_ini : c->php_ini;
}

int pool_php_ini_scan_dir(const Config *c, const PoolConfig *p, char **ret)
{
        const char *ini = pool_php_ini(c, p), *slash, *env = getenv("PHP_INI_SCAN_DIR");
        char *s = NULL;

        if (p->php_ini_scan_dir)
                s = strdup(p->php_ini_scan_dir);
        else if (env)
                s = strdup(env);
        else if (!ini || !(slash = strrchr(ini, '/'))) {
                *ret = NULL;
                return 0;
        } else if (asprintf(&s, "%.*s/conf.d", (int)(slash - ini), ini) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

const PoolConfig *config_find_pool(const Config *c, const char *name)
{
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_pools; i++)
                if (streq(c->pools[i].name, name))
                        return &c->pools[i];
        return NULL;
}

static bool pm_config_equal(const PmConfig *a, const PmConfig *b)
{
        return a->mode == b->mode && a->max_children == b->max_children && a->start_servers == b->start_servers &&
               a->min_spare_servers == b->min_spare_servers && a->max_spare_servers == b->max_spare_servers &&
               a->max_spawn_rate == b->max_spawn_rate && a->process_idle_timeout == b->process_idle_timeout &&
               a->leader_idle_timeout == b->leader_idle_timeout && a->max_requests == b->max_requests &&
               a->max_memory == b->max_memory;
}

static bool cgroup_config_equal(const CgroupConfig *a, const CgroupConfig *b)
{
        return a->memory_max == b->memory_max && a->memory_high == b->memory_high && a->pids_max == b->pids_max &&
               a->cpu_weight == b->cpu_weight && a->cpu_max == b->cpu_max;
}

bool pool_config_equal(const PoolConfig *a, const PoolConfig *b)
{
        const ListenConfig *la = &a->listen, *lb = &b->listen;

        if (a == b)
                return true;

        return streq_null(a->name, b->name) && streq_null(la->address, lb->address) && la->backlog == lb->backlog &&
               streq_null(la->owner, lb->owner) && streq_null(la->group, lb->group) && la->mode == lb->mode &&
               string_list_equal(&la->allowed_clients, &lb->allowed_clients) && streq_null(a->user, b->user) &&
               streq_null(a->group, b->group) && streq_null(a->chroot, b->chroot) && streq_null(a->chdir, b->chdir) &&
               streq_null(a->worker_script, b->worker_script) && a->worker_max_requests == b->worker_max_requests &&
               streq_null(a->php_ini, b->php_ini) && streq_null(a->php_ini_scan_dir, b->php_ini_scan_dir) &&
               a->allow_pcntl == b->allow_pcntl && pm_config_equal(&a->pm, &b->pm) &&
               streq_null(a->status_path, b->status_path) && streq_null(a->ping_path, b->ping_path) &&
               streq_null(a->ping_response, b->ping_response) && a->access_log == b->access_log &&
               streq_null(a->access_format, b->access_format) && a->slowlog == b->slowlog &&
               a->request_slowlog_timeout == b->request_slowlog_timeout &&
               a->request_slowlog_trace_depth == b->request_slowlog_trace_depth &&
               a->request_terminate_timeout == b->request_terminate_timeout &&
               a->request_header_timeout == b->request_header_timeout &&
               a->request_io_timeout == b->request_io_timeout && a->keepalive_timeout == b->keepalive_timeout &&
               a->request_queue_timeout == b->request_queue_timeout && a->request_queue_max == b->request_queue_max &&
               a->worker_connections == b->worker_connections && a->catch_workers_output == b->catch_workers_output &&
               a->clear_env == b->clear_env && a->allow_php_value_params == b->allow_php_value_params &&
               key_value_list_equal(&a->env, &b->env) &&
               string_list_equal(&a->limit_extensions, &b->limit_extensions) &&
               string_list_equal(&a->script_roots, &b->script_roots) &&
               key_value_list_equal(&a->php_value, &b->php_value) &&
               key_value_list_equal(&a->php_admin_value, &b->php_admin_value) &&
               key_value_list_equal(&a->php_flag, &b->php_flag) &&
               key_value_list_equal(&a->php_admin_flag, &b->php_admin_flag) && a->rlimit_files == b->rlimit_files &&
               a->rlimit_core == b->rlimit_core && cgroup_config_equal(&a->cgroup, &b->cgroup) &&
               a->process_dumpable == b->process_dumpable && a->allow_root == b->allow_root;
}

/* ---- one pool as one libconfig text, for its leader ---- */

static void format_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static void format_integer(FILE *f, long long v)
{
        /* libconfig reads a number beyond 32 bits only with the L suffix */
        fprintf(f, v > INT_MAX || v < INT_MIN ? "%lldL" : "%lld", v);
}

/* Dotted ini names back into nested groups; names sharing a group are next to each other, as parsing left them */
static void format_ini_items(FILE *f, const KeyValue *items, size_t n, size_t prefix_len, bool flag, int indent)
{
        for (size_t i = 0; i < n;) {
                const char *name = items[i].key + prefix_len;
                const char *dot = strchr(name, '.');

                if (!dot) {
                        fprintf(f, "%*s%s = ", indent, "", name);
                        if (flag)
                                fputs(streq(items[i].value, "1") ? "true" : "false", f);
                        else
                                format_string(f, items[i].value);
                        fputs(";\n", f);
                        i++;
                        continue;
                }

                size_t len = (size_t)(dot - name), j = i;
                while (j < n && strneq(items[j].key + prefix_len, name, len + 1))
                        j++;
                fprintf(f, "%*s%.*s = {\n", indent, "", (int)len, name);
                format_ini_items(f, items + i, j - i, prefix_len + len + 1, flag, indent + 2);
                fprintf(f, "%*s};\n", indent, "");
                i = j;
        }
}

/* One setting as "name = value;", nothing for a value that is unset */
static void format_setting(FILE *f, const Setting *e, const void *base, const char *name, int indent)
{
        const void *field = (const uint8_t *)base + e->offset;

        switch (e->type) {
        case SETTING_STRING:
        case SETTING_STRING_OPT:
        case SETTING_DIRECTORY:
        case SETTING_ABS_PATH:
        case SETTING_URI_PATH:
        case SETTING_POOL_NAME:
                if (!*(char *const *)field)
                        return;
                fprintf(f, "%*s%s = ", indent, "", name);
                format_string(f, *(char *const *)field);
                break;
        case SETTING_BOOL:
                fprintf(f, "%*s%s = %s", indent, "", name, *(const bool *)field ? "true" : "false");
                break;
        case SETTING_INT:
        case SETTING_RLIMIT:
                if (*(const int *)field == -1 && (e->type == SETTING_RLIMIT || e->min > -1))
                        return; /* unchanged */
                fprintf(f, "%*s%s = ", indent, "", name);
                if (*(const int *)field == -2 && e->type == SETTING_RLIMIT)
                        fputs("\"unlimited\"", f);
                else
                        format_integer(f, *(const int *)field);
                break;
        case SETTING_UNSIGNED:
                fprintf(f, "%*s%s = ", indent, "", name);
                format_integer(f, *(const unsigned *)field);
                break;
        case SETTING_UINT64:
        case SETTING_SIZE:
                if (*(const uint64_t *)field == CGROUP_LIMIT_UNSET)
                        return;
                fprintf(f, "%*s%s = ", indent, "", name);
                format_integer(f, (long long)*(const uint64_t *)field);
                break;
        case SETTING_PERCENT:
                if (*(const uint64_t *)field == CGROUP_LIMIT_UNSET)
                        return;
                fprintf(f, "%*s%s = \"%llu%%\"", indent, "", name, (unsigned long long)*(const uint64_t *)field);
                break;
        case SETTING_DURATION:
                /* Durations are read in milliseconds at the finest */
                fprintf(f, "%*s%s = \"%llums\"", indent, "", name,
                        (unsigned long long)(*(const usec_t *)field / USEC_PER_MSEC));
                break;
        case SETTING_MODE:
                fprintf(f, "%*s%s = \"0%o\"", indent, "", name, *(const unsigned *)field);
                break;
        case SETTING_PM_MODE:
                fprintf(f, "%*s%s = \"%s\"", indent, "", name, pm_mode_to_string(*(const PmMode *)field));
                break;
        case SETTING_LOG_LEVEL:
                fprintf(f, "%*s%s = \"%s\"", indent, "", name, log_level_to_string(*(const int *)field));
                break;
        case SETTING_STRINGS:
        case SETTING_EXTENSIONS:
        case SETTING_ROOTS: {
                const StringList *l = field;

                fprintf(f, "%*s%s = [", indent, "", name);
                for (size_t i = 0; i < l->n; i++) {
                        fputs(i > 0 ? ", " : " ", f);
                        format_string(f, l->items[i]);
                }
                fputs(" ]", f);
                break;
        }
        case SETTING_ENV:
        case SETTING_INI_VALUES:
        case SETTING_INI_FLAGS: {
                const KeyValueList *l = field;

                fprintf(f, "%*s%s = {\n", indent, "", name);
                if (e->type == SETTING_ENV)
                        for (size_t i = 0; i < l->n; i++) {
                                fprintf(f, "%*s%s = ", indent + 2, "", l->items[i].key);
                                format_string(f, l->items[i].value);
                                fputs(";\n", f);
                        }
                else
                        format_ini_items(f, l->items, l->n, 0, e->type == SETTING_INI_FLAGS, indent + 2);
                fprintf(f, "%*s}", indent, "");
                break;
        }
        }
        fputs(";\n", f);
}

/* A table's settings, "a.b" inside a group "a" written once: the tables keep a group's settings together */
static void format_table(FILE *f, const Setting *table, size_t n, const void *base, int indent)
{
        for (size_t i = 0; i < n;) {
                const char *dot = strchr(table[i].path, '.');

                if (!dot) {
                        format_setting(f, &table[i], base, table[i].path, indent);
                        i++;
                        continue;
                }

                size_t len = (size_t)(dot - table[i].path) + 1, j = i;
                fprintf(f, "%*s%.*s = {\n", indent, "", (int)len - 1, table[i].path);
                for (; j < n && strneq(table[j].path, table[i].path, len); j++)
                        format_setting(f, &table[j], base, table[j].path + len, indent + 2);
                fprintf(f, "%*s};\n", indent, "");
                i = j;
        }
}

int config_format_pool(const Config *c, const PoolConfig *p, char **ret)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        format_table(f, global_settings, ELEMENTSOF(global_settings), c, 0);
        fputs("pool = {\n", f);
        format_table(f, pool_settings, ELEMENTSOF(pool_settings), p, 2);
        fputs("};\n", f);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

int config_load_single(const char *path, Config **ret, char **ret_error)
{
        _cleanup_(config_destroyp) config_t lc;
        _cleanup_(config_freep) Config *c = NULL;
        const config_setting_t *root, *pool = NULL;
        Parser p = {.file = path};
        int r;

        config_init(&lc);
        r = config_new(path, NULL, &c);
        if (r < 0)
                return r;
        r = read_file(&p, &lc, path);
        root = config_root_setting(&lc);
        for (int i = 0; r >= 0 && i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
                const char *name = config_setting_name(s);
                const Setting *e = setting_find(global_settings, ELEMENTSOF(global_settings), name);

                if (streq(name, "pool"))
                        pool = s;
                else if (e)
                        r = parse_setting(&p, s, name, e, c);
                else
                        r = unknown_setting(&p, s, name, global_settings, ELEMENTSOF(global_settings));
        }
        if (r >= 0 && !pool)
                r = parse_error(&p, NULL, "no pool defined (expected 'pool = { ... };')");
        if (r >= 0) {
                c->pools = calloc(1, sizeof(PoolConfig));
                r = c->pools ? pool_config_parse(&p, path, pool, c->pools) : -ENOMEM;
                if (r >= 0)
                        c->n_pools = 1;
        }
        if (r < 0) {
                if (ret_error && p.error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}
