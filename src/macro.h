/* macro.h: cleanup attributes, ownership transfer and small helpers used everywhere */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _unused_        __attribute__((unused))
#define _printf_(a, b)  __attribute__((format(printf, a, b)))
#define _pure_          __attribute__((pure))
#define _always_inline_ inline __attribute__((always_inline))
#define _noreturn_      __attribute__((noreturn))
#define _likely_(x)     __builtin_expect(!!(x), 1)
#define _unlikely_(x)   __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define streq(a, b) (strcmp((a), (b)) == 0)

/* NAME_to_string(value) and NAME_from_string(text) over a table of names indexed by an enum (NULL where a
 * value has no name): out of range or unknown gives NULL and invalid */
#define DEFINE_STRING_TABLE_TO(name, type, table)                        \
        const char *name##_to_string(type i)                             \
        {                                                                \
                if ((long)i < 0 || (size_t)(long)i >= ELEMENTSOF(table)) \
                        return NULL;                                     \
                return table[i];                                         \
        }
#define DEFINE_STRING_TABLE(name, type, table, invalid)        \
        DEFINE_STRING_TABLE_TO(name, type, table)              \
        type name##_from_string(const char *s)                 \
        {                                                      \
                if (!s)                                        \
                        return (invalid);                      \
                for (size_t i = 0; i < ELEMENTSOF(table); i++) \
                        if (table[i] && streq(table[i], s))    \
                                return (type)i;                \
                return (invalid);                              \
        }
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define strcaseeq(a, b) (strcasecmp((a), (b)) == 0)
#define isempty(s)      (!(s) || !(s)[0])
#define strempty(s)     ((s) ? (s) : "")
#define strna(s)        ((s) ? (s) : "n/a")

/* Hand ownership over: the variable is reset so its cleanup does nothing */
#define TAKE_PTR(p)                        \
        ({                                 \
                __typeof__(p) _ptr_ = (p); \
                (p) = NULL;                \
                _ptr_;                     \
        })
#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -1;       \
                _fd_;            \
        })

static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() that keeps errno, so it can run in error paths */
static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}

static inline void closep(int *fd)
{
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void strv_freep_impl(char ***p)
{
        if (*p)
                for (char **s = *p; *s; s++)
                        free(*s);
        free(*p);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep_impl)

static inline void *memdup(const void *p, size_t n)
{
        void *q = malloc(n > 0 ? n : 1);

        if (q && n > 0)
                memcpy(q, p, n);
        return q;
}

static inline char **strv_free(char **l)
{
        strv_freep_impl(&l);
        return NULL;
}

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p)     \
        {                                       \
                if (*p)                         \
                        *p = func(*p);          \
        }

/* Negative errno from a libc call that set errno */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_SEC  ((usec_t)1000000ULL)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define NSEC_PER_USEC ((uint64_t)1000ULL)

usec_t now_usec(int clock_id);
