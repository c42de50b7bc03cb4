/* accesslog.c: one line per request from PHP-FPM's access.format codes, without any I/O */
#include <stdio.h>
#include <time.h>

#include "accesslog.h"

#define MODIFIER_MAX 128

static bool streq_any(const char *s, const char *a, const char *b)
{
        return strcasecmp(s, a) == 0 || (b && strcasecmp(s, b) == 0);
}

/* Renders one code into f; with e NULL only checks it. 0, or -EINVAL and *ret_error. */
static int render_code(FILE *f, char code, const char *mod, const AccessEntry *e, const char **ret_error)
{
        char buf[256];
        const char *v;

        switch (code) {
        case '%':
                if (e)
                        fputc('%', f);
                break;
        case 'C': {
                uint64_t cpu;
                if (mod[0] && !streq_any(mod, "total", NULL) && !streq_any(mod, "user", NULL) &&
                        !streq_any(mod, "system", NULL))
                        return *ret_error = "only 'total', 'user' or 'system' are allowed as a modifier for %C",
                               -EINVAL;
                if (!e)
                        break;
                cpu = streq_any(mod, "user", NULL)     ? e->cpu_user_usec
                      : streq_any(mod, "system", NULL) ? e->cpu_system_usec
                                                       : e->cpu_user_usec + e->cpu_system_usec;
                fprintf(f, "%.2f", e->duration_usec > 0 ? 100.0 * (double)cpu / (double)e->duration_usec : 0.0);
                break;
        }
        case 'd':
        case 'w': {
                uint64_t usec;

                if (mod[0] && !streq_any(mod, "seconds", NULL) && !streq_any(mod, "miliseconds", "mili") &&
                        !streq_any(mod, "milliseconds", "milli") && !streq_any(mod, "microseconds", "micro"))
                        return *ret_error = code == 'd' ? "only 'seconds', 'mili', 'miliseconds', 'micro' or "
                                                          "'microseconds' are allowed as a modifier for %d"
                                                        : "only 'seconds', 'mili', 'miliseconds', 'micro' or "
                                                          "'microseconds' are allowed as a modifier for %w",
                               -EINVAL;
                if (!e)
                        break;
                /* %w (fpmd): how long the request waited before a worker took it */
                usec = code == 'd' ? e->duration_usec : e->wait_usec;
                if (streq_any(mod, "microseconds", "micro"))
                        fprintf(f, "%llu", (unsigned long long)usec);
                else if (mod[0] && !streq_any(mod, "seconds", NULL))
                        fprintf(f, "%.3f", (double)usec / 1e3);
                else
                        fprintf(f, "%.3f", (double)usec / 1e6);
                break;
        }
        case 'e':
        case 'o':
                if (!mod[0])
                        return *ret_error = code == 'e' ? "the name of the environment variable must be set "
                                                          "between embraces for %e"
                                                        : "the name of the header must be set between embraces "
                                                          "for %o",
                               -EINVAL;
                if (!e)
                        break;
                v = code == 'e' ? (e->env ? e->env(e->userdata, mod) : NULL)
                                : (e->header ? e->header(e->userdata, mod) : NULL);
                fputs(isempty(v) ? "-" : v, f);
                break;
        case 'M':
                if (mod[0] && !streq_any(mod, "bytes", NULL) && !streq_any(mod, "kilobytes", "kilo") &&
                        !streq_any(mod, "megabytes", "mega"))
                        return *ret_error = "only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed "
                                            "as a modifier for %M",
                               -EINVAL;
                if (!e)
                        break;
                fprintf(f, "%llu",
                        (unsigned long long)(streq_any(mod, "kilobytes", "kilo")   ? e->memory_peak / 1024
                                             : streq_any(mod, "megabytes", "mega") ? e->memory_peak / 1024 / 1024
                                                                                   : e->memory_peak));
                break;
        case 't':
        case 'T': {
                time_t t;
                struct tm tm;

                if (!e)
                        break;
                t = (time_t)((code == 't' ? e->start_realtime : e->now_realtime) / USEC_PER_SEC);
                if (!localtime_r(&t, &tm) ||
                        strftime(buf, sizeof(buf), mod[0] ? mod : "%d/%b/%Y:%H:%M:%S %z", &tm) == 0)
                        buf[0] = 0;
                fputs(buf, f);
                break;
        }
        case 'f':
        case 'l':
        case 'm':
        case 'n':
        case 'p':
        case 'P':
        case 'q':
        case 'Q':
        case 'r':
        case 'R':
        case 's':
        case 'u':
                if (mod[0])
                        return *ret_error = "embrace is not allowed for this modifier", -EINVAL;
                if (!e)
                        break;
                switch (code) {
                case 'f':
                        fputs(isempty(e->script) ? "-" : e->script, f);
                        break;
                case 'l':
                        fprintf(f, "%llu", (unsigned long long)e->content_length);
                        break;
                case 'm':
                        fputs(isempty(e->method) ? "-" : e->method, f);
                        break;
                case 'n':
                        fputs(isempty(e->pool) ? "-" : e->pool, f);
                        break;
                case 'p':
                        fprintf(f, "%ld", e->pid);
                        break;
                case 'P':
                        fprintf(f, "%ld", e->ppid);
                        break;
                case 'q':
                        fputs(strempty(e->query_string), f);
                        break;
                case 'Q':
                        fputs(isempty(e->query_string) ? "" : "?", f);
                        break;
                case 'r':
                        fputs(strempty(e->request_uri), f);
                        break;
                case 'R':
                        fputs(isempty(e->client_ip) ? "-" : e->client_ip, f);
                        break;
                case 's':
                        fprintf(f, "%d", e->status);
                        break;
                case 'u':
                        fputs(isempty(e->auth_user) ? "-" : e->auth_user, f);
                        break;
                }
                break;
        default:
                return *ret_error = "invalid token in the access.format", -EINVAL;
        }
        return 0;
}

/* Walks the format; with e NULL only checks it */
static int walk(const char *format, const AccessEntry *e, FILE *f, const char **ret_error)
{
        for (const char *s = format; *s; s++) {
                char mod[MODIFIER_MAX] = "";
                int r;

                if (*s != '%') {
                        if (e)
                                fputc(*s, f);
                        continue;
                }
                s++;
                if (*s == '{') {
                        const char *end = strchr(s + 1, '}');
                        size_t l;

                        if (!end || end[1] == 0)
                                return *ret_error = "missing closing embrace in the access.format", -EINVAL;
                        l = MIN((size_t)(end - s - 1), sizeof(mod) - 1);
                        memcpy(mod, s + 1, l);
                        mod[l] = 0;
                        s = end + 1;
                }
                if (*s == 0)
                        return *ret_error = "the access.format ends with a lone %", -EINVAL;
                r = render_code(f, *s, mod, e, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int access_format_check(const char *format, const char **ret_error)
{
        const char *error = NULL;
        int r = walk(format, NULL, NULL, &error);

        if (r < 0 && ret_error)
                *ret_error = error;
        return r;
}

int access_format(const char *format, const AccessEntry *e, char **ret)
{
        const char *error = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = walk(format, e, f, &error);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}
