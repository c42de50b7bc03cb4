/* fuzz.h: what the libFuzzer targets share: a failed invariant as a crash, and the input read as a stream */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant that does not hold is a finding: abort() so that libFuzzer saves the input */
#define FUZZ_CHECK(cond, ...)                                                                                \
        do {                                                                                                 \
                if (_unlikely_(!(cond))) {                                                                   \
                        fprintf(stderr, "%s:%d: invariant '%s' does not hold: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                                        \
                        fputc('\n', stderr);                                                                 \
                        abort();                                                                             \
                }                                                                                            \
        } while (0)

/* fpmd's messages would drown libFuzzer's and slow every run: only a crash speaks */
static inline void fuzz_quiet(void)
{
        log_set_max_level(LOG_EMERG);
}

/* The input, consumed from the front: numbers and pieces, 0 or empty once it runs out */
typedef struct Input {
        const uint8_t *p;
        size_t left;
} Input;

static inline uint64_t input_uint(Input *in, size_t bytes)
{
        uint64_t v = 0;

        for (size_t i = 0; i < bytes && in->left > 0; i++, in->p++, in->left--)
                v = v << 8 | *in->p;
        return v;
}

static inline uint8_t input_u8(Input *in)
{
        return (uint8_t)input_uint(in, 1);
}

static inline bool input_bool(Input *in)
{
        return input_u8(in) & 1;
}

/* Up to n bytes, pointing into the input */
static inline size_t input_bytes(Input *in, size_t n, const uint8_t **ret)
{
        n = MIN(n, in->left);
        *ret = in->p;
        in->p += n;
        in->left -= n;
        return n;
}

/* The bytes up to the next sep (dropped) or the end, as a malloc'd NUL-terminated string (NUL bytes inside
 * stay, the length tells) */
static inline char *input_until(Input *in, uint8_t sep, size_t *ret_len)
{
        const uint8_t *end = memchr(in->p, sep, in->left);
        size_t n = end ? (size_t)(end - in->p) : in->left;
        char *s = malloc(n + 1);

        if (!s)
                abort();
        if (n > 0)
                memcpy(s, in->p, n);
        s[n] = 0;
        in->p += n;
        in->left -= n;
        if (end) {
                in->p++;
                in->left--;
        }
        if (ret_len)
                *ret_len = n;
        return s;
}
