/* proctitle.h: a process title in `ps` (/proc/PID/cmdline), as PHP-FPM's "php-fpm: pool www": written over the
 * memory of argv and environ, environ moved away first */
#pragma once

#include "macro.h"

/* Once, at the start of main(): takes the area of argv and environ for titles */
void proctitle_init(int argc, char *argv[]);
/* The title; longer than the area, it is cut */
void proctitle_set(const char *format, ...) _printf_(1, 2);
