/* ini.c: one line of PHP-FPM's configuration, read as php-fpm 8.2 reads it (the Zend INI scanner in normal mode,
 * one line at a time), without any I/O
 *
 * php-fpm hands every line, with a newline added, to zend_parse_ini_string() on its own, so nothing spans two
 * lines. The scanner below follows Zend/zend_ini_scanner.l rule by rule: at each point every rule of the
 * current state is tried, the longest match wins and, between equally long ones, the rule written first (as
 * re2c decides). The parser follows Zend/zend_ini_parser.y. */
#include <stdio.h>
#include <strings.h>

#include "ini.h"

enum {
        T_END = 0, /* the scanner's "return 0": end of input, or a character no rule takes */
        T_EOL = 256,
        T_SECTION,
        T_LABEL,
        T_OFFSET,
        T_RAW,
        T_CONSTANT,
        T_NUMBER,
        T_STRING,
        T_WHITESPACE,
        T_DOLLAR_CURLY,
        T_VARNAME,
        T_QUOTED,
        T_TRUE,
        T_FALSE,
        T_NULL,
};

typedef enum ScanState {
        ST_INITIAL,
        ST_VALUE,
        ST_SECTION_VALUE,
        ST_OFFSET,
        ST_DOUBLE_QUOTES,
        ST_VARNAME,
} ScanState;

#define STATE_STACK_MAX 16

typedef struct Token {
        int type;
        char *text; /* NULL for tokens that carry none */
} Token;

typedef struct Parser {
        const char *start, *p, *end;
        ScanState state;
        ScanState stack[STATE_STACK_MAX];
        size_t depth;

        Token look;
        bool have_look;
        const char *look_start; /* where the lookahead token begins in the line */
        bool evaluated;

        IniGetenv getenv_fn;
        void *userdata;
        IniLine *line;
        char *error;
} Parser;

static const struct {
        const char *name;
        const char *value;
} constants[] = {
        /* PHP 8.2's error levels, the constants php-fpm.conf files use (error_reporting = E_ALL & ~E_NOTICE) */
        {"E_ERROR", "1"},
        {"E_WARNING", "2"},
        {"E_PARSE", "4"},
        {"E_NOTICE", "8"},
        {"E_CORE_ERROR", "16"},
        {"E_CORE_WARNING", "32"},
        {"E_COMPILE_ERROR", "64"},
        {"E_COMPILE_WARNING", "128"},
        {"E_USER_ERROR", "256"},
        {"E_USER_WARNING", "512"},
        {"E_USER_NOTICE", "1024"},
        {"E_STRICT", "2048"},
        {"E_RECOVERABLE_ERROR", "4096"},
        {"E_DEPRECATED", "8192"},
        {"E_USER_DEPRECATED", "16384"},
        {"E_ALL", "32767"},
};

const char *ini_constant(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(constants); i++)
                if (streq(constants[i].name, name))
                        return constants[i].value;
        /* zend_get_special_const(): these three in any case */
        if (strcaseeq(name, "true"))
                return "1";
        if (strcaseeq(name, "false") || strcaseeq(name, "null"))
                return "";
        return NULL;
}

/* ---- strings ---- */

static int str_append(char **s, const char *a, size_t n)
{
        size_t l = *s ? strlen(*s) : 0;
        char *t;

        t = realloc(*s, l + n + 1);
        if (!t)
                return -ENOMEM;
        memcpy(t + l, a, n);
        t[l + n] = '\0';
        *s = t;
        return 0;
}

static int strv_push(char ***l, const char *s)
{
        size_t n = 0;
        char **t;

        while (*l && (*l)[n])
                n++;
        t = realloc(*l, (n + 2) * sizeof(char *));
        if (!t)
                return -ENOMEM;
        *l = t;
        t[n] = strdup(s);
        t[n + 1] = NULL;
        return t[n] ? 0 : -ENOMEM;
}

/* ---- character classes of zend_ini_scanner.l ---- */

static bool is_ts(char c) /* TABS_AND_SPACES */
{
        return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_label_char(char c) /* LABEL [^=\n\r\t;&|^$~(){}!"\[]+ */
{
        return !strchr("=\n\r\t;&|^$~(){}!\"[", c);
}

static bool is_constant_start(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_constant_char(char c)
{
        return is_constant_start(c) || is_digit(c);
}

static size_t span(const Parser *s, const char *p, bool (*f)(char))
{
        const char *q = p;

        while (q < s->end && f(*q))
                q++;
        return (size_t)(q - p);
}

static size_t newline_len(const Parser *s, const char *p) /* NEWLINE ("\r"|"\n"|"\r\n") */
{
        if (p >= s->end)
                return 0;
        if (*p == '\r')
                return p + 1 < s->end && p[1] == '\n' ? 2 : 1;
        return *p == '\n' ? 1 : 0;
}

/* "$" followed by anything but "{": LITERAL_DOLLAR ("$"([^{\000]|("\\"{ANY_CHAR}))) */
static size_t literal_dollar_len(const Parser *s, const char *p)
{
        if (p + 1 >= s->end || p[1] == '{')
                return 0;
        if (p[1] == '\\' && p + 2 < s->end)
                return 3;
        return 2;
}

/* VALUE_CHARS ([^$= \t\n\r;&|^~()!"'\000]|{LITERAL_DOLLAR}), repeated */
static size_t value_chars_len(const Parser *s, const char *p)
{
        const char *q = p;

        while (q < s->end) {
                size_t n;

                if (*q == '$')
                        n = literal_dollar_len(s, q);
                else
                        n = strchr("$= \t\n\r;&|^~()!\"'", *q) ? 0 : 1;
                if (n == 0)
                        break;
                q += n;
        }
        return (size_t)(q - p);
}

/* SECTION_VALUE_CHARS ([^$\n\r;"'\]\\]|("\\"{ANY_CHAR})|{LITERAL_DOLLAR}), repeated */
static size_t section_value_chars_len(const Parser *s, const char *p)
{
        const char *q = p;

        while (q < s->end) {
                size_t n;

                if (*q == '$')
                        n = literal_dollar_len(s, q);
                else if (*q == '\\')
                        n = q + 1 < s->end ? 2 : 0;
                else
                        n = strchr("\n\r;\"']", *q) ? 0 : 1;
                if (n == 0)
                        break;
                q += n;
        }
        return (size_t)(q - p);
}

static size_t constant_len(const Parser *s, const char *p) /* [a-zA-Z_][a-zA-Z0-9_]* */
{
        if (p >= s->end || !is_constant_start(*p))
                return 0;
        return 1 + span(s, p + 1, is_constant_char);
}

/* NUMBER [-]?{LNUM}|{DNUM}, DNUM ([0-9]*[\.][0-9]+)|([0-9]+[\.][0-9]*) */
static size_t number_len(const Parser *s, const char *p)
{
        size_t lnum = 0, dnum = 0, a, b;

        if (p < s->end && *p == '-') {
                a = span(s, p + 1, is_digit);
                lnum = a > 0 ? a + 1 : 0;
        } else
                lnum = span(s, p, is_digit);

        a = span(s, p, is_digit);
        if (p + a < s->end && p[a] == '.') {
                b = span(s, p + a + 1, is_digit);
                if (a > 0 || b > 0)
                        dnum = a + 1 + b;
        }
        return MAX(lnum, dnum);
}

/* ("true"|"on"|"yes"), ("false"|"off"|"no"|"none") or "null", in any case, then {TABS_AND_SPACES}* */
static size_t word_len(const Parser *s, const char *p, const char *const *words)
{
        size_t best = 0;

        for (size_t i = 0; words[i]; i++) {
                size_t n = strlen(words[i]);

                if ((size_t)(s->end - p) >= n && strncasecmp(p, words[i], n) == 0 && n > best)
                        best = n;
        }
        return best > 0 ? best + span(s, p + best, is_ts) : 0;
}

static const char *const words_true[] = {"true", "on", "yes", NULL};
static const char *const words_false[] = {"false", "off", "no", "none", NULL};
static const char *const words_null[] = {"null", NULL};

/* "'" SINGLE_QUOTED_CHARS+ "'" */
static size_t raw_len(const Parser *s, const char *p)
{
        const char *q;

        if (p >= s->end || *p != '\'')
                return 0;
        q = memchr(p + 1, '\'', (size_t)(s->end - p - 1));
        return q && q > p + 1 ? (size_t)(q - p) + 1 : 0;
}

/* {TABS_AND_SPACES}*[;][^\r\n]*{NEWLINE} */
static size_t comment_len(const Parser *s, const char *p)
{
        const char *q = p + span(s, p, is_ts);
        size_t n;

        if (q >= s->end || *q != ';')
                return 0;
        while (q < s->end && *q != '\r' && *q != '\n')
                q++;
        n = newline_len(s, q);
        return n > 0 ? (size_t)(q - p) + n : 0;
}

/* {TABS_AND_SPACES}*{NEWLINE} */
static size_t blank_newline_len(const Parser *s, const char *p)
{
        size_t t = span(s, p, is_ts), n = newline_len(s, p + t);

        return n > 0 ? t + n : 0;
}

/* {TABS_AND_SPACES}*["] */
static size_t open_quote_len(const Parser *s, const char *p)
{
        size_t t = span(s, p, is_ts);

        return p + t < s->end && p[t] == '"' ? t + 1 : 0;
}

/* ---- the scanner ---- */

typedef struct Rule {
        int id;
        size_t len;
} Rule;

/* Keeps the longest match; the first rule of equal length stays, as rules are offered in the file's order */
static void consider(Rule *best, int id, size_t len)
{
        if (len > best->len) {
                best->id = id;
                best->len = len;
        }
}

static void push_state(Parser *s, ScanState st)
{
        /* The grammar nests at most VALUE > "..." > ${...} */
        if (s->depth < STATE_STACK_MAX)
                s->stack[s->depth++] = s->state;
        s->state = st;
}

static void pop_state(Parser *s)
{
        if (s->depth > 0)
                s->state = s->stack[--s->depth];
        else
                s->state = ST_INITIAL;
}

static int token_set(Token *t, int type, const char *text, size_t n)
{
        t->type = type;
        t->text = NULL;
        if (!text)
                return 0;
        t->text = strndup(text, n);
        return t->text ? 0 : -ENOMEM;
}

static bool is_trailing_blank(char c, char extra)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || (extra && c == extra);
}

/* EAT_LEADING_WHITESPACE and EAT_TRAILING_WHITESPACE_EX */
static int token_set_trimmed(Token *t, int type, const char *text, size_t n, char extra)
{
        while (n > 0 && is_ts(*text)) {
                text++;
                n--;
        }
        while (n > 0 && is_trailing_blank(text[n - 1], extra))
                n--;
        return token_set(t, type, text, n);
}

/* zend_ini_escape_string() for double quotes: \" \\ \$ lose their backslash, other escapes stay as written */
static int token_set_escaped(Token *t, const char *text, size_t n)
{
        char *v, *o;

        v = o = malloc(n + 1);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (text[i] != '\\') {
                        *o++ = text[i];
                        continue;
                }
                if (i + 1 >= n) {
                        *o++ = '\\';
                        continue;
                }
                i++;
                if (text[i] != '"' && text[i] != '\\' && text[i] != '$')
                        *o++ = '\\';
                *o++ = text[i];
        }
        *o = '\0';
        t->type = T_QUOTED;
        t->text = v;
        return 0;
}

static int scan_initial(Parser *s, Token *t)
{
        enum {
                R_SECTION = 1,
                R_OFFSET,
                R_TRUE,
                R_FALSE,
                R_NULL,
                R_LABEL,
                R_EQUALS,
                R_TOKEN,
                R_BLANKS,
                R_EOL,
                R_COMMENT
        };
        const char *p = s->p;
        Rule best = {0, 0};
        size_t label;

        /* A UTF-8 byte order mark at the start of the buffer is skipped */
        if (p == s->start && s->end - p > 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                s->p = p = p + 3;
        if (p >= s->end)
                return token_set(t, T_END, NULL, 0);

        label = span(s, p, is_label_char);
        consider(&best, R_SECTION, *p == '[' ? 1 : 0);
        consider(&best, R_OFFSET,
                label > 0 && p + label < s->end && p[label] == '[' ? label + 1 + span(s, p + label + 1, is_ts) : 0);
        consider(&best, R_TRUE, word_len(s, p, words_true));
        consider(&best, R_FALSE, word_len(s, p, words_false));
        consider(&best, R_NULL, word_len(s, p, words_null));
        consider(&best, R_LABEL, label);
        if (p + span(s, p, is_ts) < s->end && p[span(s, p, is_ts)] == '=') {
                size_t n = span(s, p, is_ts) + 1;
                consider(&best, R_EQUALS, n + span(s, p + n, is_ts));
        }
        consider(&best, R_TOKEN, strchr(":,.[]\"'()&|^+-/*=%$!~<>?@{}", *p) ? 1 : 0);
        consider(&best, R_BLANKS, span(s, p, is_ts));
        consider(&best, R_EOL, blank_newline_len(s, p));
        consider(&best, R_COMMENT, comment_len(s, p));

        s->p = p + best.len;
        switch (best.id) {
        case R_SECTION:
                s->state = ST_SECTION_VALUE;
                return token_set(t, T_SECTION, NULL, 0);
        case R_OFFSET:
                s->state = ST_OFFSET;
                return token_set_trimmed(t, T_OFFSET, p, best.len, '[');
        case R_TRUE:
                return token_set(t, T_TRUE, "1", 1);
        case R_FALSE:
                return token_set(t, T_FALSE, "", 0);
        case R_NULL:
                return token_set(t, T_NULL, "", 0);
        case R_LABEL:
                return token_set_trimmed(t, T_LABEL, p, best.len, 0);
        case R_EQUALS:
                s->state = ST_VALUE;
                return token_set(t, '=', NULL, 0);
        case R_TOKEN:
                return token_set(t, (unsigned char)*p, NULL, 0);
        case R_BLANKS:
                return 1; /* eaten: scan again */
        case R_EOL:
        case R_COMMENT:
                return token_set(t, T_EOL, NULL, 0);
        default:
                s->p = p + 1;
                return token_set(t, T_END, NULL, 0);
        }
}

static int scan_value(Parser *s, Token *t)
{
        enum {
                R_RAW = 1,
                R_DOLLAR_CURLY,
                R_TRUE,
                R_FALSE,
                R_NULL,
                R_EOL,
                R_CONSTANT,
                R_NUMBER,
                R_OPERATOR,
                R_EQUALS,
                R_STRING,
                R_QUOTE,
                R_WHITESPACE,
                R_COMMENT,
        };
        const char *p = s->p;
        Rule best = {0, 0};

        if (p >= s->end) {
                s->state = ST_INITIAL;
                return token_set(t, T_EOL, NULL, 0);
        }

        consider(&best, R_RAW, raw_len(s, p));
        consider(&best, R_DOLLAR_CURLY, s->end - p >= 2 && p[0] == '$' && p[1] == '{' ? 2 : 0);
        consider(&best, R_TRUE, word_len(s, p, words_true));
        consider(&best, R_FALSE, word_len(s, p, words_false));
        consider(&best, R_NULL, word_len(s, p, words_null));
        consider(&best, R_EOL, blank_newline_len(s, p));
        consider(&best, R_CONSTANT, constant_len(s, p));
        consider(&best, R_NUMBER, number_len(s, p));
        consider(&best, R_OPERATOR, strchr("&|^~()!", *p) ? 1 + span(s, p + 1, is_ts) : 0);
        consider(&best, R_EQUALS, *p == '=' ? 1 : 0);
        consider(&best, R_STRING, value_chars_len(s, p));
        consider(&best, R_QUOTE, open_quote_len(s, p));
        consider(&best, R_WHITESPACE, span(s, p, is_ts));
        consider(&best, R_COMMENT, comment_len(s, p));

        s->p = p + best.len;
        switch (best.id) {
        case R_RAW:
                return token_set(t, T_RAW, p + 1, best.len - 2);
        case R_DOLLAR_CURLY:
                push_state(s, ST_VARNAME);
                return token_set(t, T_DOLLAR_CURLY, NULL, 0);
        case R_TRUE:
                return token_set(t, T_TRUE, "1", 1);
        case R_FALSE:
                return token_set(t, T_FALSE, "", 0);
        case R_NULL:
                return token_set(t, T_NULL, "", 0);
        case R_CONSTANT:
                return token_set(t, T_CONSTANT, p, best.len);
        case R_NUMBER:
                return token_set(t, T_NUMBER, p, best.len);
        case R_OPERATOR:
                return token_set(t, (unsigned char)*p, NULL, 0);
        case R_EQUALS:
                /* yyless(0): the "=" is scanned again, outside the value, where it is a syntax error */
                s->p = p;
                s->state = ST_INITIAL;
                return token_set(t, T_EOL, NULL, 0);
        case R_STRING:
                return token_set(t, T_STRING, p, best.len);
        case R_QUOTE:
                push_state(s, ST_DOUBLE_QUOTES);
                return token_set(t, '"', NULL, 0);
        case R_WHITESPACE:
                return token_set(t, T_WHITESPACE, p, best.len);
        case R_EOL:
        case R_COMMENT:
                s->state = ST_INITIAL;
                return token_set(t, T_EOL, NULL, 0);
        default:
                /* Any other character ends the value, and is gone */
                s->p = p + 1;
                s->state = ST_INITIAL;
                return token_set(t, T_EOL, NULL, 0);
        }
}

/* ST_SECTION_VALUE ([name]) and ST_OFFSET (name[key]) */
static int scan_section_or_offset(Parser *s, Token *t)
{
        enum { R_RAW = 1, R_CLOSE, R_DOLLAR_CURLY, R_CONSTANT, R_NUMBER, R_STRING, R_QUOTE, R_WHITESPACE };
        const char *p = s->p;
        Rule best = {0, 0};
        size_t n;

        if (p >= s->end)
                return token_set(t, T_END, NULL, 0);

        consider(&best, R_RAW, raw_len(s, p));
        if (s->state == ST_SECTION_VALUE) {
                /* "]"{TABS_AND_SPACES}*{NEWLINE}? */
                if (*p == ']') {
                        n = 1 + span(s, p + 1, is_ts);
                        consider(&best, R_CLOSE, n + newline_len(s, p + n));
                }
        } else {
                /* {TABS_AND_SPACES}*"]" */
                n = span(s, p, is_ts);
                consider(&best, R_CLOSE, p + n < s->end && p[n] == ']' ? n + 1 : 0);
        }
        consider(&best, R_DOLLAR_CURLY, s->end - p >= 2 && p[0] == '$' && p[1] == '{' ? 2 : 0);
        consider(&best, R_CONSTANT, constant_len(s, p));
        consider(&best, R_NUMBER, number_len(s, p));
        consider(&best, R_STRING, section_value_chars_len(s, p));
        consider(&best, R_QUOTE, open_quote_len(s, p));
        consider(&best, R_WHITESPACE, span(s, p, is_ts));

        s->p = p + best.len;
        switch (best.id) {
        case R_RAW:
                return token_set(t, T_RAW, p + 1, best.len - 2);
        case R_CLOSE:
                s->state = ST_INITIAL;
                return token_set(t, ']', NULL, 0);
        case R_DOLLAR_CURLY:
                push_state(s, ST_VARNAME);
                return token_set(t, T_DOLLAR_CURLY, NULL, 0);
        case R_CONSTANT:
                return token_set(t, T_CONSTANT, p, best.len);
        case R_NUMBER:
                return token_set(t, T_NUMBER, p, best.len);
        case R_STRING:
                return token_set(t, T_STRING, p, best.len);
        case R_QUOTE:
                push_state(s, ST_DOUBLE_QUOTES);
                return token_set(t, '"', NULL, 0);
        case R_WHITESPACE:
                return token_set(t, T_WHITESPACE, p, best.len);
        default:
                s->p = p + 1;
                return token_set(t, T_END, NULL, 0);
        }
}

static int scan_double_quotes(Parser *s, Token *t)
{
        const char *p = s->p, *q;

        if (p >= s->end)
                return token_set(t, T_END, NULL, 0);
        if (s->end - p >= 2 && p[0] == '$' && p[1] == '{') {
                s->p = p + 2;
                push_state(s, ST_VARNAME);
                return token_set(t, T_DOLLAR_CURLY, NULL, 0);
        }
        if (*p == '"') {
                s->p = p + 1 + span(s, p + 1, is_ts);
                pop_state(s);
                return token_set(t, '"', NULL, 0);
        }

        /* The string runs to the closing quote or the next ${; a backslash takes the next character with it,
         * except a \" at the end of the line, which closes the string (key="C:\path\") */
        for (q = p; q < s->end;) {
                char c = *q++;

                if (c == '"' || (c == '$' && q < s->end && *q == '{')) {
                        q--;
                        break;
                }
                if (c == '\\' && q < s->end) {
                        char e = *q++;
                        if (e == '"' && (q >= s->end || *q == '\n' || *q == '\r')) {
                                q--;
                                break;
                        }
                }
        }
        s->p = q;
        return token_set_escaped(t, p, (size_t)(q - p));
}

static int scan_varname(Parser *s, Token *t)
{
        const char *p = s->p;
        size_t label;

        if (p >= s->end)
                return token_set(t, T_END, NULL, 0);
        if (*p == '}') {
                s->p = p + 1;
                pop_state(s);
                return token_set(t, '}', NULL, 0);
        }
        label = span(s, p, is_label_char);
        if (label == 0) {
                s->p = p + 1;
                return token_set(t, T_END, NULL, 0);
        }
        s->p = p + label;
        return token_set_trimmed(t, T_VARNAME, p, label, 0);
}

static int scan(Parser *s, Token *t)
{
        int r;

        do {
                switch (s->state) {
                case ST_INITIAL:
                        r = scan_initial(s, t);
                        break;
                case ST_VALUE:
                        r = scan_value(s, t);
                        break;
                case ST_SECTION_VALUE:
                case ST_OFFSET:
                        r = scan_section_or_offset(s, t);
                        break;
                case ST_DOUBLE_QUOTES:
                        r = scan_double_quotes(s, t);
                        break;
                default:
                        r = scan_varname(s, t);
                        break;
                }
        } while (r > 0);
        return r;
}

/* ---- the parser ---- */

static int peek(Parser *s)
{
        int r;

        if (!s->have_look) {
                s->look_start = s->p;
                r = scan(s, &s->look);
                if (r < 0)
                        return r;
                s->have_look = true;
        }
        return s->look.type;
}

/* Hands the current token's text over (the caller frees it) and moves on */
static char *take(Parser *s)
{
        s->have_look = false;
        return TAKE_PTR(s->look.text);
}

static int syntax_error(Parser *s)
{
        int type = s->look.type;

        char c[2] = {(char)type, '\0'};
        const char *what;

        if (type == T_END || type == T_EOL)
                what = NULL;
        else if (type < 256)
                what = c;
        else if (type == T_SECTION)
                what = "[";
        else if (type == T_DOLLAR_CURLY)
                what = "${";
        else
                what = strempty(s->look.text);

        free(s->error);
        if (!what)
                s->error = strdup("unexpected end of line");
        else if (asprintf(&s->error, "unexpected '%s'", what) < 0)
                s->error = NULL;
        return s->error ? -EINVAL : -ENOMEM;
}

static int expect(Parser *s, int type)
{
        int r = peek(s);

        if (r < 0)
                return r;
        if (r != type)
                return syntax_error(s);
        free(take(s));
        return 0;
}

static bool looks_like_constant(const char *name)
{
        /* FOO_BAR: the shape of the constants of PHP's extensions */
        if (!(name[0] >= 'A' && name[0] <= 'Z') || !strchr(name, '_'))
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || is_digit(*c) || *c == '_'))
                        return false;
        return true;
}

/* cfg_var_ref: "${" TC_VARNAME "}", from the environment ("" when unset) */
static int parse_variable(Parser *s, char **value)
{
        _cleanup_free_ char *name = NULL;
        const char *v;
        int r;

        free(take(s)); /* ${ */
        r = peek(s);
        if (r < 0)
                return r;
        if (r != T_VARNAME)
                return syntax_error(s);
        name = take(s);
        r = expect(s, '}');
        if (r < 0)
                return r;

        r = strv_push(&s->line->variables, name);
        if (r < 0)
                return r;
        v = s->getenv_fn ? s->getenv_fn(name, s->userdata) : NULL;
        return str_append(value, strempty(v), strlen(strempty(v)));
}

/* '"' encapsed_list '"' */
static int parse_quoted(Parser *s, char **value)
{
        int r;

        free(take(s)); /* " */
        for (;;) {
                r = peek(s);
                if (r < 0)
                        return r;
                if (r == T_DOLLAR_CURLY)
                        r = parse_variable(s, value);
                else if (r == T_QUOTED) {
                        _cleanup_free_ char *text = take(s);
                        r = str_append(value, text, strlen(text));
                } else
                        return expect(s, '"');
                if (r < 0)
                        return r;
        }
}

typedef enum Constants {
        CONSTANTS_KEPT,     /* var_string_list_section: [section] */
        CONSTANTS_REPLACED, /* var_string_list: values */
        CONSTANTS_QUIET,    /* var_string_list of a name[key]: replaced, and unknown ones not told */
} Constants;

/* var_string_list (constants replaced by their values) or var_string_list_section (kept as written). Returns
 * the number of pieces read, so that an empty list can be told from an empty string. */
static int parse_string_list(Parser *s, Constants mode, char **value)
{
        int n = 0, r;

        if (!*value) {
                *value = strdup("");
                if (!*value)
                        return -ENOMEM;
        }
        for (;; n++) {
                _cleanup_free_ char *text = NULL;
                const char *c;

                r = peek(s);
                if (r < 0)
                        return r;
                switch (r) {
                case T_DOLLAR_CURLY:
                        r = parse_variable(s, value);
                        break;
                case '"':
                        r = parse_quoted(s, value);
                        break;
                case T_CONSTANT:
                        text = take(s);
                        c = mode != CONSTANTS_KEPT ? ini_constant(text) : NULL;
                        if (c)
                                s->evaluated = true;
                        if (mode == CONSTANTS_REPLACED && !c && looks_like_constant(text)) {
                                r = strv_push(&s->line->unknown_constants, text);
                                if (r < 0)
                                        return r;
                        }
                        r = str_append(value, c ? c : text, strlen(c ? c : text));
                        break;
                case T_RAW:
                case T_NUMBER:
                case T_STRING:
                case T_WHITESPACE:
                        text = take(s);
                        r = str_append(value, text, strlen(text));
                        break;
                default:
                        return n;
                }
                if (r < 0)
                        return r;
        }
}

/* zend_ini_do_op(): both sides as C ints (atoi), the result printed with %d */
static int do_op(Parser *p, int op, char **a, const char *b, char **ret)
{
        int x = (int)strtol(*a, NULL, 10), y = b ? (int)strtol(b, NULL, 10) : 0, v;
        char *s;

        switch (op) {
        case '|':
                v = x | y;
                break;
        case '&':
                v = x & y;
                break;
        case '^':
                v = x ^ y;
                break;
        case '~':
                v = ~x;
                break;
        default:
                v = !x;
                break;
        }
        if (asprintf(&s, "%d", v) < 0)
                return -ENOMEM;
        p->evaluated = true;
        free(*a);
        *a = NULL;
        *ret = s;
        return 0;
}

static int parse_expr(Parser *s, char **ret);

/* '~' expr, '!' expr and '(' expr ')' bind tighter than the binary operators; a plain operand is a string list */
static int parse_operand(Parser *s, char **ret)
{
        _cleanup_free_ char *v = NULL;
        int op, r;

        r = peek(s);
        if (r < 0)
                return r;
        if (r == '~' || r == '!') {
                op = r;
                free(take(s));
                r = parse_operand(s, &v);
                if (r < 0)
                        return r;
                return do_op(s, op, &v, NULL, ret);
        }
        if (r == '(') {
                free(take(s));
                r = parse_expr(s, &v);
                if (r < 0)
                        return r;
                r = expect(s, ')');
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(v);
                return 0;
        }
        r = parse_string_list(s, CONSTANTS_REPLACED, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return syntax_error(s);
        *ret = TAKE_PTR(v);
        return 0;
}

/* | & ^ share one precedence and group to the left */
static int parse_expr(Parser *s, char **ret)
{
        _cleanup_free_ char *left = NULL;
        int op, r;

        r = parse_operand(s, &left);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *right = NULL;

                op = peek(s);
                if (op < 0)
                        return op;
                if (op != '|' && op != '&' && op != '^')
                        break;
                free(take(s));
                r = parse_operand(s, &right);
                if (r < 0)
                        return r;
                r = do_op(s, op, &left, right, &left);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(left);
        return 0;
}

/* string_or_value: expr, a boolean or null word alone, or nothing at all up to the end of the line; and the
 * value as written, from the scanner's position after "=" to the start of what follows the value */
static int parse_value(Parser *s, char **ret, char **ret_written)
{
        const char *start = s->p, *end;
        int r;

        s->evaluated = false;
        r = peek(s);
        if (r < 0)
                return r;
        if (r == T_EOL) {
                free(take(s));
                *ret = strdup("");
                *ret_written = strdup("");
                return *ret && *ret_written ? 0 : -ENOMEM;
        }
        if (r == T_TRUE || r == T_FALSE || r == T_NULL)
                *ret = take(s);
        else {
                r = parse_expr(s, ret);
                if (r < 0)
                        return r;
        }
        end = s->have_look ? s->look_start : s->p;
        while (end > start && is_trailing_blank(end[-1], 0))
                end--;
        *ret_written = strndup(start, (size_t)(end - start));
        return *ret && *ret_written ? 0 : -ENOMEM;
}

static int statement_add(Parser *s, IniStatementType type, char **name, char **key, char **value, char **written)
{
        IniLine *l = s->line;
        IniStatement *st;

        st = realloc(l->statements, (l->n_statements + 1) * sizeof(IniStatement));
        if (!st)
                return -ENOMEM;
        l->statements = st;
        st[l->n_statements++] = (IniStatement){
                .type = type,
                .name = TAKE_PTR(*name),
                .key = key ? TAKE_PTR(*key) : NULL,
                .value = value ? TAKE_PTR(*value) : NULL,
                .written = written ? TAKE_PTR(*written) : NULL,
                .evaluated = written && s->evaluated,
        };
        return 0;
}

static int parse_statement(Parser *s, int type)
{
        _cleanup_free_ char *name = NULL, *key = NULL, *value = NULL, *written = NULL;
        int r;

        switch (type) {
        case T_EOL:
                free(take(s));
                return 0;

        case T_SECTION:
                free(take(s));
                r = parse_string_list(s, CONSTANTS_KEPT, &name);
                if (r < 0)
                        return r;
                r = expect(s, ']');
                if (r < 0)
                        return r;
                return statement_add(s, INI_SECTION, &name, NULL, NULL, NULL);

        case T_LABEL:
                name = take(s);
                r = peek(s);
                if (r < 0)
                        return r;
                if (r != '=')
                        return statement_add(s, INI_ENTRY, &name, NULL, NULL, NULL);
                free(take(s));
                r = parse_value(s, &value, &written);
                if (r < 0)
                        return r;
                return statement_add(s, INI_ENTRY, &name, NULL, &value, &written);

        case T_OFFSET:
                name = take(s);
                r = parse_string_list(s, CONSTANTS_QUIET, &key);
                if (r < 0)
                        return r;
                r = expect(s, ']');
                if (r < 0)
                        return r;
                r = expect(s, '=');
                if (r < 0)
                        return r;
                r = parse_value(s, &value, &written);
                if (r < 0)
                        return r;
                return statement_add(s, INI_ARRAY_ENTRY, &name, &key, &value, &written);

        default:
                return syntax_error(s);
        }
}

void ini_line_done(IniLine *l)
{
        for (size_t i = 0; i < l->n_statements; i++) {
                free(l->statements[i].name);
                free(l->statements[i].key);
                free(l->statements[i].value);
                free(l->statements[i].written);
        }
        free(l->statements);
        strv_free(l->variables);
        strv_free(l->unknown_constants);
        *l = (IniLine){};
}

int ini_parse_line(const char *line, IniGetenv getenv_fn, void *userdata, IniLine *ret, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        IniLine l = {};
        Parser s = {
                .getenv_fn = getenv_fn,
                .userdata = userdata,
                .line = &l,
        };
        int r;

        /* As php-fpm: the line and a newline, read up to the first NUL */
        if (asprintf(&buf, "%s\n", line) < 0)
                return -ENOMEM;
        s.start = s.p = buf;
        s.end = buf + strlen(buf);

        for (;;) {
                r = peek(&s);
                if (r <= 0)
                        break;
                r = parse_statement(&s, r);
                if (r < 0)
                        break;
        }
        free(s.look.text);

        if (r < 0) {
                ini_line_done(&l);
                if (r == -EINVAL && ret_error)
                        *ret_error = TAKE_PTR(s.error);
                free(s.error);
                return r;
        }
        *ret = l;
        return 0;
}

int ini_evaluate_expression(const char *value, char **ret)
{
        _cleanup_free_ char *line = NULL, *error = NULL;
        bool expression = false;
        IniLine l = {};
        int r;

        /* Only words that are constants this module knows, numbers, blanks and the operators: a value such as
         * "none" or "Off" stays the text it is */
        if (isempty(value) ||
                strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_ |&^~!()") !=
                        strlen(value))
                return 0;
        for (const char *p = value; *p;) {
                size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

                if (n == 0) {
                        expression = expression || strchr("|&^~!", *p);
                        p++;
                        continue;
                }
                if (!(p[0] >= '0' && p[0] <= '9')) {
                        _cleanup_free_ char *word = strndup(p, n);

                        if (!word)
                                return -ENOMEM;
                        if (!ini_constant(word) || strcaseeq(word, "true") || strcaseeq(word, "false") ||
                                strcaseeq(word, "null"))
                                return 0;
                        expression = true;
                }
                p += n;
        }
        if (!expression)
                return 0;
        if (asprintf(&line, "v = %s", value) < 0)
                return -ENOMEM;
        r = ini_parse_line(line, NULL, NULL, &l, &error);
        if (r < 0 || l.n_statements != 1 || !l.statements[0].value) {
                ini_line_done(&l);
                return 0;
        }
        *ret = TAKE_PTR(l.statements[0].value);
        ini_line_done(&l);
        return 1;
}
