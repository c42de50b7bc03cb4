/* cfgtext.c: libconfig text written from values and dotted names: strings quoted and escaped, integers bare,
 * the dotted names nested into groups */
#include <stdio.h>

#include "cfgtext.h"

/* A libconfig string: "..." with \\ \" and the control characters escaped */
char *cfgtext_string(const char *v)
{
        char *s = malloc(strlen(v) * 4 + 3), *o = s;

        if (!s)
                return NULL;
        *o++ = '"';
        for (; *v; v++) {
                switch (*v) {
                case '"':
                case '\\':
                        *o++ = '\\';
                        *o++ = *v;
                        break;
                case '\n':
                        o = stpcpy(o, "\\n");
                        break;
                case '\r':
                        o = stpcpy(o, "\\r");
                        break;
                case '\t':
                        o = stpcpy(o, "\\t");
                        break;
                case '\f':
                        o = stpcpy(o, "\\f");
                        break;
                default:
                        if ((unsigned char)*v < 0x20)
                                o += sprintf(o, "\\x%02x", (unsigned char)*v);
                        else
                                *o++ = *v;
                }
        }
        *o++ = '"';
        *o = '\0';
        return s;
}

/* A value that libconfig reads back as the same decimal int: written bare, as the shipped files do */
static bool is_plain_int(const char *v)
{
        const char *d = v[0] == '-' ? v + 1 : v;
        size_t n = strspn(d, "0123456789");

        return n > 0 && n <= 9 && d[n] == '\0' && (d[0] != '0' || n == 1) && !streq(v, "-0");
}

char *cfgtext_ini_value(const char *v)
{
        return is_plain_int(v) ? strdup(v) : cfgtext_string(v);
}

/* libconfig's names: [A-Za-z*][-A-Za-z0-9_*]* */
bool cfgtext_is_name(const char *s)
{
        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '*'))
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_*") == strlen(s);
}

void cfgtext_done(CfgNode *n)
{
        for (size_t i = 0; i < n->n; i++)
                cfgtext_done(&n->children[i]);
        free(n->children);
        free(n->name);
        free(n->value);
        *n = (CfgNode){};
}

/* Adds "a.b.c" = value under root, making the groups a and a.b as needed */
int cfgtext_insert(CfgNode *root, const char *path, const char *value)
{
        CfgNode *g = root;

        for (const char *p = path;;) {
                const char *dot = strchr(p, '.');
                size_t len = dot ? (size_t)(dot - p) : strlen(p);
                CfgNode *n = NULL, *t;

                for (size_t i = 0; i < g->n; i++)
                        if (strlen(g->children[i].name) == len && strneq(g->children[i].name, p, len))
                                n = &g->children[i];
                if (n && (!dot || n->value))
                        return -EEXIST;
                if (!n) {
                        t = realloc(g->children, (g->n + 1) * sizeof(CfgNode));
                        if (!t)
                                return -ENOMEM;
                        g->children = t;
                        n = &t[g->n++];
                        *n = (CfgNode){.name = strndup(p, len), .value = dot ? NULL : strdup(value)};
                        if (!n->name || (!dot && !n->value))
                                return -ENOMEM;
                }
                if (!dot)
                        return 0;
                g = n;
                p = dot + 1;
        }
}

static void node_render(FILE *f, const CfgNode *g, unsigned indent, bool compact)
{
        for (size_t i = 0; i < g->n; i++) {
                const CfgNode *n = &g->children[i];

                if (compact && i > 0)
                        fputc(' ', f);
                if (!compact)
                        fprintf(f, "%*s", (int)indent, "");
                if (n->value)
                        fprintf(f, "%s = %s;", n->name, n->value);
                else if (compact) {
                        fprintf(f, "%s = { ", n->name);
                        node_render(f, n, 0, true);
                        fputs(" };", f);
                } else {
                        fprintf(f, "%s = {\n", n->name);
                        node_render(f, n, indent + 2, false);
                        fprintf(f, "%*s};", (int)indent, "");
                }
                if (!compact)
                        fputc('\n', f);
        }
}

char *cfgtext_render(const CfgNode *g, const char *header, bool compact)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (header)
                fprintf(f, "# %s\n", header);
        node_render(f, g, 0, compact);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
