/* proctitle.c: the process title, over argv and environ (see proctitle.h) */
#include <stdarg.h>
#include <stdio.h>

#include "proctitle.h"

extern char **environ;

static char *area;
static size_t area_size, args_size; /* all of it, and argv's part */

void proctitle_init(int argc, char *argv[])
{
        char *end, **copy;
        size_t n = 0;

        if (argc <= 0 || !argv[0])
                return;
        /* The area: argv's strings and, where they follow them in memory, environ's */
        end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
        args_size = (size_t)(end - argv[0]);
        for (; environ[n]; n++)
                if (environ[n] == end)
                        end = environ[n] + strlen(environ[n]) + 1;
        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(environ[i]);
                if (!copy[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(copy[j]);
                        free(copy);
                        return;
                }
        }
        environ = copy;
        area = argv[0];
        area_size = (size_t)(end - argv[0]);
}

void proctitle_set(const char *format, ...)
{
        va_list ap;

        if (!area || area_size < 2)
                return;
        memset(area, 0, area_size);
        va_start(ap, format);
        (void)vsnprintf(area, area_size - 1, format, ap);
        va_end(ap);
        /* When the last byte of argv's own part is not NUL, the kernel shows the title up to its first NUL (else
         * every NUL-separated string of argv's part) */
        if (strlen(area) + 1 < args_size)
                area[args_size - 1] = ' ';
}
