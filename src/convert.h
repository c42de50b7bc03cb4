/* convert.h: a PHP-FPM configuration (php-fpm.conf, its [global] and pool sections and include= files) as fpmd's
 * libconfig files, with a note for every setting that does not carry over as it was */
#pragma once

#include <stdio.h>

#include "macro.h"

/* The prefix php-fpm8.2 was built with (Debian's), for relative paths when no --prefix (php-fpm -p) is given */
#define CONVERT_DEFAULT_PREFIX "/usr"

typedef struct ConvertFile {
        char *path; /* relative to the output folder: "fpmd.conf", "pool.d/www.conf" */
        char *text;
} ConvertFile;

typedef struct ConvertResult {
        ConvertFile *files; /* fpmd.conf, then one file per pool in the order PHP-FPM defines them */
        size_t n_files;
        char **notes; /* "FILE:LINE: SETTING = VALUE: why", in the order of the lines */
        size_t n_notes;
} ConvertResult;

/* Where the configuration comes from, so that the conversion itself does no I/O */
typedef struct ConvertSource {
        /* The whole file: 0, a malloc'd text and its size (it may hold NUL bytes), or negative errno */
        int (*read_file)(const char *path, char **ret_text, size_t *ret_size, void *userdata);
        /* The files an include= pattern matches, sorted, NULL-terminated (none is not an error), as glob(3) */
        int (*glob)(const char *pattern, char ***ret_paths, void *userdata);
        /* ${NAME} of a value; NULL when unset */
        const char *(*getenv)(const char *name, void *userdata);
        void *userdata;
} ConvertSource;

typedef struct ConvertOptions {
        const char *prefix;  /* PHP-FPM's prefix (php-fpm -p) for relative paths; NULL: CONVERT_DEFAULT_PREFIX */
        const char *php_ini; /* php_ini of fpmd.conf; NULL writes none (fpmd's default) */
} ConvertOptions;

/* Reads path and what it includes as php-fpm 8.2 does. Fails with -EINVAL and *ret_error "FILE:LINE: why" only
 * where PHP-FPM cannot read the files at all (a syntax error, an unreadable file, includes nested too deep);
 * everything else PHP-FPM would refuse or fpmd does otherwise is a note. */
int convert_config(const char *path, const ConvertSource *source, const ConvertOptions *options, ConvertResult *ret,
        char **ret_error);
void convert_result_done(ConvertResult *r);

/* For fpmd -t: when a line that libconfig could not read is PHP-FPM syntax, returns 1 and (caller frees) what it
 * is in fpmd: "PHP-FPM syntax; in fpmd this is: pm = { max_children = 5; };". pool: the line is in a pool file
 * (else the global file). 0 when the line is not PHP-FPM syntax. */
int convert_line(const char *line, bool pool, char **ret);

/* ---- the thin layer with I/O, for the command ---- */

/* The file system and the environment of this process */
extern const ConvertSource convert_source_system;
/* The php.ini beside a php-fpm.conf (Debian's layout: /etc/php/8.2/fpm/), if there is one; NULL otherwise */
char *convert_find_php_ini(const char *php_fpm_conf);
/* Each file under dir (created as needed), replacing none that exists unless force; -EEXIST and *ret_error
 * naming the file when one does, before anything is written */
int convert_write(const ConvertResult *r, const char *dir, bool force, char **ret_error);
/* Each file on f after a "==> PATH <==" line */
int convert_print(const ConvertResult *r, FILE *f);
