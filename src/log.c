/* log.c: fpmd's own messages, to the journal with structured fields, or readably to stderr */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_NOTICE;
static LogTarget target = LOG_TARGET_CONSOLE;
static const char *pool_name;
static bool in_worker;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",
        [LOG_ALERT] = "alert",
        [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

usec_t now_usec(int clock_id)
{
        struct timespec ts;

        clock_gettime(clock_id, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* systemd sets JOURNAL_STREAM=dev:ino when stderr is a journal stream; only then is the journal ours */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_setup(LogTarget t)
{
        if (t == LOG_TARGET_AUTO)
                t = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        target = t;
}

bool log_to_journal(void)
{
        return target == LOG_TARGET_JOURNAL;
}

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

DEFINE_STRING_TABLE(log_level, int, level_names, -EINVAL)

void log_set_pool(const char *pool)
{
        pool_name = pool;
}

void log_set_worker(bool worker)
{
        in_worker = worker;
}

static void write_console(int level, const char *message)
{
        /* One write(2) per line, so lines of concurrent workers never interleave */
        char prefix[128];
        struct iovec iov[3];

        if (pool_name)
                snprintf(prefix, sizeof(prefix), "fpmd[%d]: %s: [pool %s] ", (int)getpid(),
                        strna(log_level_to_string(level)), pool_name);
        else
                snprintf(prefix, sizeof(prefix), "fpmd[%d]: %s: ", (int)getpid(), strna(log_level_to_string(level)));
        iov[0] = (struct iovec){prefix, strlen(prefix)};
        iov[1] = (struct iovec){(char *)message, strlen(message)};
        iov[2] = (struct iovec){(char *)"\n", 1};
        (void)!writev(STDERR_FILENO, iov, 3);
}

/* The one writer of journal entries: MESSAGE, PRIORITY, MESSAGE_ID, SYSLOG_IDENTIFIER, this process's context
 * (FPMD_POOL=, FPMD_WORKER_PID=), then the caller's fields */
int log_struct(int level, const char *message_id, const char *identifier, char *const *fields, const char *message)
{
        char prio[16], id[64], ident[96], ppool[300], pworker[48];
        _cleanup_free_ char *m = NULL;
        struct iovec iov[40];
        size_t n = 0;

        if (target != LOG_TARGET_JOURNAL) {
                /* An entry of its own stream (the access log) reads as a line of its log file */
                if (identifier) {
                        struct iovec out[2] = {{(char *)message, strlen(message)}, {(char *)"\n", 1}};
                        (void)!writev(STDERR_FILENO, out, 2);
                } else
                        write_console(level, message);
                return 0;
        }

        if (asprintf(&m, "MESSAGE=%s", message) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec){m, strlen(m)};
        snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
        iov[n++] = (struct iovec){prio, strlen(prio)};
        if (message_id) {
                snprintf(id, sizeof(id), "MESSAGE_ID=%s", message_id);
                iov[n++] = (struct iovec){id, strlen(id)};
        }
        if (identifier) {
                snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", identifier);
                iov[n++] = (struct iovec){ident, strlen(ident)};
        }
        if (pool_name) {
                snprintf(ppool, sizeof(ppool), "FPMD_POOL=%s", pool_name);
                iov[n++] = (struct iovec){ppool, strlen(ppool)};
        }
        if (in_worker) {
                snprintf(pworker, sizeof(pworker), "FPMD_WORKER_PID=%d", (int)getpid());
                iov[n++] = (struct iovec){pworker, strlen(pworker)};
        }
        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++) {
                /* A field the caller gives wins over the context's (FPMD_POOL= of another pool's event) */
                const char *eq = strchr(fields[i], '=');
                size_t klen = eq ? (size_t)(eq - fields[i]) + 1 : 0;

                for (size_t j = 0; klen > 0 && j < n; j++)
                        if (iov[j].iov_len >= klen && memcmp(iov[j].iov_base, fields[i], klen) == 0) {
                                iov[j] = iov[--n];
                                break;
                        }
                iov[n++] = (struct iovec){fields[i], strlen(fields[i])};
        }
        if (sd_journal_sendv(iov, (int)n) < 0)
                write_console(level, message);
        return 0;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
{
        char buf[4096], cfile[512], cline[32], cfunc[256], perr[32];
        char *fields[] = {cfile, cline, cfunc, error != 0 ? perr : NULL, NULL};
        va_list ap;

        error = abs(error);
        /* %m in the format means the error passed in, as in systemd */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        snprintf(cfile, sizeof(cfile), "CODE_FILE=%s", file);
        snprintf(cline, sizeof(cline), "CODE_LINE=%d", line);
        snprintf(cfunc, sizeof(cfunc), "CODE_FUNC=%s", func);
        snprintf(perr, sizeof(perr), "ERRNO=%d", error);
        (void)log_struct(level, NULL, NULL, fields, buf); /* log_full_errno() filtered by level */
        return -error;
}

void log_fields_add(LogFields *f, const char *key, const char *format, ...)
{
        _cleanup_free_ char *value = NULL;
        va_list ap;
        int r;

        if (f->n + 1 >= ELEMENTSOF(f->items))
                return;
        va_start(ap, format);
        r = vasprintf(&value, format, ap);
        va_end(ap);
        if (r < 0 || asprintf(&f->items[f->n], "%s=%s", key, value) < 0) {
                f->items[f->n] = NULL;
                return;
        }
        f->n++;
}

void log_fields_done(LogFields *f)
{
        for (size_t i = 0; i < f->n; i++)
                free(f->items[i]);
        *f = (LogFields){};
}
