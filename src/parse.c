/* parse.c: durations, sizes and other small value parsers shared by the configuration and the CLI */
#include "parse.h"

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

int parse_duration(const char *s, usec_t *ret)
{
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                {"", USEC_PER_SEC},
                {"ms", USEC_PER_MSEC},
                {"s", USEC_PER_SEC},
                {"m", 60 * USEC_PER_SEC},
                {"h", 60 * 60 * USEC_PER_SEC},
                {"d", 24 * 60 * 60 * USEC_PER_SEC},
        };
        const char *end;
        uint64_t v, usec;
        int r;

        if (isempty(s))
                return -EINVAL;

        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (!streq(end, units[i].suffix))
                        continue;

                r = multiply(v, units[i].usec, &usec);
                if (r < 0)
                        return r;
                /* USEC_INFINITY means "never" elsewhere; a configured duration cannot be it */
                if (usec == USEC_INFINITY)
                        return -ERANGE;

                *ret = usec;
                return 0;
        }

        return -EINVAL;
}

static int size_unit_factor(char c, uint64_t *ret)
{
        switch (c) {
        case 'K':
        case 'k':
                *ret = UINT64_C(1) << 10;
                return 0;
        case 'M':
        case 'm':
                *ret = UINT64_C(1) << 20;
                return 0;
        case 'G':
        case 'g':
                *ret = UINT64_C(1) << 30;
                return 0;
        case 'T':
        case 't':
                *ret = UINT64_C(1) << 40;
                return 0;
        default:
                return -EINVAL;
        }
}

int parse_size(const char *s, uint64_t *ret)
{
        const char *end;
        uint64_t v, factor = 1;
        int r;

        if (isempty(s))
                return -EINVAL;

        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;

        if (size_unit_factor(*end, &factor) >= 0)
                end++;
        if (*end == 'B' || *end == 'b')
                end++;
        if (*end != '\0')
                return -EINVAL;

        r = multiply(v, factor, &v);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
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
