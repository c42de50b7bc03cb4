/* parse.h: durations, sizes and other small value parsers shared by the configuration and the CLI */
#pragma once

#include "macro.h"

/* pm.mode: here, below both the configuration and fpmd convert, which reads PHP-FPM's pm */
typedef enum PmMode {
        PM_STATIC,
        PM_DYNAMIC,
        PM_ONDEMAND,
        _PM_MODE_MAX,
        _PM_MODE_INVALID = -EINVAL,
} PmMode;

const char *pm_mode_to_string(PmMode m);
PmMode pm_mode_from_string(const char *s);

/* "250ms", "10s", "5m", "1h", "1d", or a bare number of seconds ("10"); "0" is 0 (off) */
int parse_duration(const char *s, usec_t *ret);
/* "64K", "512M", "1G", "2T" (powers of 1024, an optional trailing "B"), or a bare number of bytes */
int parse_size(const char *s, uint64_t *ret);
/* "0660" (octal, as chmod takes it) */
int parse_mode(const char *s, unsigned *ret);
/* "200%" of one CPU, as cpu.max takes it: 200 */
int parse_percent(const char *s, unsigned *ret);
/* Levenshtein distance, for "did you mean" suggestions */
size_t string_distance(const char *a, const char *b);
