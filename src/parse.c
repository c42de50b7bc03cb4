/* parse.c: durations, sizes and other small value parsers shared by the configuration and the CLI */
#include "parse.h"

static const char *const pm_mode_names[_PM_MODE_MAX] = {
        [PM_STATIC] = "static",
        [PM_DYNAMIC] = "dynamic",
        [PM_ONDEMAND] = "ondemand",
};

DEFINE_STRING_TABLE(pm_mode, PmMode, pm_mode_names, _PM_MODE_INVALID)

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* The unsigned decimal number at the start of s; no sign, no blanks. *ret_end points past its digits. */
static int parse_digits(const char *s, uint64_t *ret, const char **ret_end)
{
        uint64_t v = 0;
        const char *p = s;

        if (!is_digit(*p))
                return -EINVAL;

        for (; is_digit(*p); p++) {
                unsigned d = (unsigned)(*p - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }

        *ret = v;
        *ret_end = p;
        return 0;
}

static int multiply(uint64_t v, uint64_t factor, uint64_t *ret)
{
        if (factor != 0 && v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

typedef struct Unit {
        const char *suffix;
        uint64_t factor;
} Unit;

/* A decimal number and one of the units' suffixes right after it (the empty suffix: none), scaled */
static int parse_scaled(const char *s, const Unit *units, size_t n_units, bool fold_case, uint64_t *ret)
{
        const char *end;
        uint64_t v;
        int r;

        if (isempty(s))
                return -EINVAL;

        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_units; i++)
                if (fold_case ? strcaseeq(end, units[i].suffix) : streq(end, units[i].suffix))
                        return multiply(v, units[i].factor, ret);
        return -EINVAL;
}

int parse_duration(const char *s, usec_t *ret)
{
        static const Unit units[] = {
                {"", USEC_PER_SEC},
                {"ms", USEC_PER_MSEC},
                {"s", USEC_PER_SEC},
                {"m", 60 * USEC_PER_SEC},
                {"h", 60 * 60 * USEC_PER_SEC},
                {"d", 24 * 60 * 60 * USEC_PER_SEC},
        };
        uint64_t usec;
        int r;

        r = parse_scaled(s, units, ELEMENTSOF(units), false, &usec);
        if (r < 0)
                return r;
        /* USEC_INFINITY means "never" elsewhere; a configured duration cannot be it */
        if (usec == USEC_INFINITY)
                return -ERANGE;
        *ret = usec;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        /* Any case, with or without a B */
        static const Unit units[] = {
                {"", 1},
                {"b", 1},
                {"k", UINT64_C(1) << 10},
                {"kb", UINT64_C(1) << 10},
                {"m", UINT64_C(1) << 20},
                {"mb", UINT64_C(1) << 20},
                {"g", UINT64_C(1) << 30},
                {"gb", UINT64_C(1) << 30},
                {"t", UINT64_C(1) << 40},
                {"tb", UINT64_C(1) << 40},
        };

        return parse_scaled(s, units, ELEMENTSOF(units), true, ret);
}

int parse_mode(const char *s, unsigned *ret)
{
        unsigned v = 0;

        if (isempty(s))
                return -EINVAL;

        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -EINVAL;
                v = v * 8 + (unsigned)(*p - '0');
                if (v > 07777)
                        return -ERANGE;
        }

        *ret = v;
        return 0;
}

int parse_percent(const char *s, unsigned *ret)
{
        const char *end;
        uint64_t v;
        int r;

        if (isempty(s))
                return -EINVAL;

        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;
        if (!streq(end, "%"))
                return -EINVAL;
        if (v == 0 || v > UINT32_MAX)
                return -ERANGE;

        *ret = (unsigned)v;
        return 0;
}

size_t string_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        _cleanup_free_ size_t *row = NULL;

        /* One row of the edit-distance matrix: row[j] is the distance between a[0..i) and b[0..j) */
        row = malloc((lb + 1) * sizeof(size_t));
        if (!row)
                return SIZE_MAX;

        for (size_t j = 0; j <= lb; j++)
                row[j] = j;

        for (size_t i = 1; i <= la; i++) {
                size_t diagonal = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t above = row[j];
                        size_t cost = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);

                        row[j] = MIN(MIN(above + 1, row[j - 1] + 1), cost);
                        diagonal = above;
                }
        }

        return row[lb];
}
