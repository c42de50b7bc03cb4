/* ini.h: one line of PHP-FPM's configuration, read as php-fpm 8.2 reads it (the Zend INI scanner in normal mode,
 * one line at a time), without any I/O */
#pragma once

#include "macro.h"

typedef enum IniStatementType {
        INI_SECTION,     /* [name] */
        INI_ENTRY,       /* name = value; value NULL for a name alone, which PHP-FPM refuses */
        INI_ARRAY_ENTRY, /* name[key] = value */
        _INI_STATEMENT_TYPE_MAX,
        _INI_STATEMENT_TYPE_INVALID = -EINVAL,
} IniStatementType;

typedef struct IniStatement {
        IniStatementType type;
        char *name;
        char *key;
        char *value;
        char *written;  /* the value as the line has it, blanks and comment around it left out */
        bool evaluated; /* a constant or an operator made the value differ from what is written */
} IniStatement;

typedef struct IniLine {
        IniStatement *statements;
        size_t n_statements;
        /* What the values depended on beyond the line itself, for the converter to tell: the ${NAME} variables
         * substituted, and bare words shaped like PHP constants (FOO_BAR) that are not among the few this
         * module knows, which PHP-FPM would replace if an extension defines them. NULL-terminated. */
        char **variables;
        char **unknown_constants;
} IniLine;

/* Looks a ${NAME} variable up (PHP-FPM: its environment); NULL when unset */
typedef const char *(*IniGetenv)(const char *name, void *userdata);

/* Parses one line (its newline left out; PHP-FPM adds one back, and so does this). Values are as PHP-FPM gets
 * them: quotes and escapes resolved, yes/on/true as "1", no/off/false/none/null as "", ${NAME} substituted,
 * E_* constants and the | & ^ ~ ! operators evaluated. A line holding only blanks or a ; comment has no
 * statement. On a syntax error returns -EINVAL and sets *ret_error ("unexpected '='"). */
int ini_parse_line(const char *line, IniGetenv getenv_fn, void *userdata, IniLine *ret, char **ret_error);
void ini_line_done(IniLine *l);

/* The value of one of the PHP constants this module knows (E_ALL, E_NOTICE, ...), or NULL */
const char *ini_constant(const char *name);

/* A value of php_value & co. that is a constant expression of PHP's ini syntax ("E_ALL & ~E_NOTICE", "E_ALL")
 * evaluated as PHP-FPM's configuration parser does: 1 and *ret ("32759"), 0 when the value is not one and is
 * taken as written */
int ini_evaluate_expression(const char *value, char **ret);
