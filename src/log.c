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

int log_level_from_string(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (level_names[i] && streq(level_names[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *log_level_to_string(int level)
{
        if (level < 0 || (size_t)level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

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

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
{
        char buf[4096];
        va_list ap;

        error = abs(error);
        /* %m in the format means the error passed in, as in systemd */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (target == LOG_TARGET_JOURNAL) {
                char prio[16], cfile[512], cline[32], cfunc[256], perr[32], ppool[300], pworker[48];
                struct iovec iov[10];
                size_t n = 0;

                snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
                snprintf(cfile, sizeof(cfile), "CODE_FILE=%s", file);
                snprintf(cline, sizeof(cline), "CODE_LINE=%d", line);
                snprintf(cfunc, sizeof(cfunc), "CODE_FUNC=%s", func);
                char msg[sizeof(buf) + 8];
                snprintf(msg, sizeof(msg), "MESSAGE=%s", buf);
                iov[n++] = (struct iovec){msg, strlen(msg)};
                iov[n++] = (struct iovec){prio, strlen(prio)};
                iov[n++] = (struct iovec){cfile, strlen(cfile)};
                iov[n++] = (struct iovec){cline, strlen(cline)};
                iov[n++] = (struct iovec){cfunc, strlen(cfunc)};
                if (error > 0) {
                        snprintf(perr, sizeof(perr), "ERRNO=%d", error);
                        iov[n++] = (struct iovec){perr, strlen(perr)};
                }
                if (pool_name) {
                        snprintf(ppool, sizeof(ppool), "FPMD_POOL=%s", pool_name);
                        iov[n++] = (struct iovec){ppool, strlen(ppool)};
                }
                if (in_worker) {
                        snprintf(pworker, sizeof(pworker), "FPMD_WORKER_PID=%d", (int)getpid());
                        iov[n++] = (struct iovec){pworker, strlen(pworker)};
                }
                if (sd_journal_sendv(iov, (int)n) >= 0)
                        return -error;
        }

        write_console(level, buf);
        return -error;
}

int log_event_strv(int level, const char *message_id, char *const *fields, const char *message)
{
        _cleanup_free_ char *m = NULL;
        char prio[16], id[64];
        struct iovec iov[32];
        size_t n = 0;

        if (level > max_level)
                return 0;
        if (target != LOG_TARGET_JOURNAL) {
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
        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec){fields[i], strlen(fields[i])};
        if (sd_journal_sendv(iov, (int)n) < 0)
                write_console(level, message);
        return 0;
}
