/* log.h: fpmd's own messages, to the journal with structured fields, or readably to stderr */
#pragma once

#include <stdarg.h>
#include <syslog.h>
#include <sys/uio.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal when stderr is connected to it (JOURNAL_STREAM), else console */
        LOG_TARGET_CONSOLE, /* stderr, one readable line per message */
        LOG_TARGET_JOURNAL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

void log_setup(LogTarget target);
bool log_to_journal(void);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Context for every message of this process: the pool it works for (NULL for the supervisor) */
void log_set_pool(const char *pool);

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
        _printf_(6, 7);

/* Workers add FPMD_WORKER_PID= to each message */
void log_set_worker(bool worker);

/* The one writer of structured entries: an entry with a MESSAGE_ID (see units/fpmd.catalog, NULL for none), a
 * SYSLOG_IDENTIFIER of its own (NULL: the process's; with one, the console shows the message bare, as a line of
 * a log file) and fields as a NULL-terminated array of "KEY=value" strings whose values may hold newlines, plus
 * this process's FPMD_POOL= and FPMD_WORKER_PID=. Without a journal only the message is shown. Not filtered by
 * log_level: PHP's messages and the access log always go out; log_event() is fpmd's own, filtered. */
int log_struct(int level, const char *message_id, const char *identifier, char *const *fields, const char *message);
/* Fields of a structured entry, built one "KEY=value" at a time; items stays NULL-terminated */
typedef struct LogFields {
        char *items[24];
        size_t n;
} LogFields;
_printf_(3, 4) void log_fields_add(LogFields *f, const char *key, const char *format, ...);
void log_fields_done(LogFields *f);

#define log_event(level, message_id, fields, message)                                                      \
        ({                                                                                                 \
                int _l_ = (level);                                                                         \
                log_get_max_level() >= _l_ ? log_struct(_l_, (message_id), NULL, (fields), (message)) : 0; \
        })

#define log_full_errno(level, error, ...)                                                                            \
        ({                                                                                                           \
                int _l_ = (level);                                                                                   \
                (log_get_max_level() >= _l_) ? log_internal(_l_, (error), __FILE__, __LINE__, __func__, __VA_ARGS__) \
                                             : -abs(error);                                                          \
        })
#define log_full(level, ...) (void)log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...)  log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* For allocation failures: one message, -ENOMEM */
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
