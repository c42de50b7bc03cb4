/* test-config-doc: man/fpmd.conf.5 documents exactly the settings config.c accepts
 *
 * The page's convention: under ".SH GLOBAL SETTINGS" and ".SH POOL SETTINGS" each setting is a ".TP" item
 * whose tag line is exactly "\fBNAME\fR" (NAME as config.c spells it: "pm.max_children"), and whose body has
 * the lines "\fIType:\fR ...", "\fIDefault:\fR ..." and "\fIPHP\-FPM:\fR ..." and one example between ".EX"
 * and ".EE" that fpmd loads as it stands. ".SS" subheadings may group the items; no other ".TP" is used there.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "test.h"

typedef enum Scope {
        SCOPE_GLOBAL,
        SCOPE_POOL,
        _SCOPE_MAX,
        _SCOPE_INVALID = -EINVAL,
} Scope;

static const char *const scope_sections[_SCOPE_MAX] = {
        [SCOPE_GLOBAL] = ".SH GLOBAL SETTINGS",
        [SCOPE_POOL] = ".SH POOL SETTINGS",
};

typedef struct Entry {
        Scope scope;
        char *name;
        unsigned line;
        bool type, default_, twin;
        unsigned n_examples;
        char *example; /* the first, unescaped */
} Entry;

typedef struct Page {
        Entry *entries;
        size_t n;
        char *problems; /* the lines that break the convention, comma-separated; NULL when none */
} Page;

static void page_done(Page *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free(p->entries[i].name);
                free(p->entries[i].example);
        }
        free(p->entries);
        free(p->problems);
        *p = (Page){};
}

static const char *setting_name(Scope scope, size_t i)
{
        return scope == SCOPE_GLOBAL ? config_global_setting_name(i) : config_pool_setting_name(i);
}

static bool setting_known(Scope scope, const char *name)
{
        const char *s;

        for (size_t i = 0; (s = setting_name(scope, i)); i++)
                if (streq(s, name))
                        return true;
        return false;
}

/* Appends ", item" (or the first item) to a growing list */
_printf_(2, 3) static void list_add(char **list, const char *format, ...)
{
        _cleanup_free_ char *item = NULL;
        char *joined;
        va_list ap;

        va_start(ap, format);
        ck_assert_int_ge(vasprintf(&item, format, ap), 0);
        va_end(ap);
        ck_assert_int_ge(asprintf(&joined, "%s%s%s", strempty(*list), *list ? ", " : "", item), 0);
        free(*list);
        *list = joined;
}

static char *read_text(const char *path)
{
        FILE *f = fopen(path, "re");
        char *text = NULL;
        size_t size = 0;
        ssize_t n;

        ck_assert_msg(f, "cannot read %s: %s", path, strerror(errno));
        n = getdelim(&text, &size, '\0', f);
        ck_assert_msg(n >= 0, "cannot read %s", path);
        fclose(f);
        return text;
}

static const char *man_page_path(void)
{
        const char *p = getenv("FPMD_CONF_MAN");

        ck_assert_msg(p, "FPMD_CONF_MAN (the path of man/fpmd.conf.5) is not set");
        return p;
}

/* "\fBpm.max_children\fR" -> "pm.max_children"; NULL unless the line is exactly that */
static char *tag_name(const char *line)
{
        size_t l = strlen(line), n;

        if (l <= strlen("\\fB\\fR") || !strneq(line, "\\fB", 3) || !streq(line + l - 3, "\\fR"))
                return NULL;
        n = l - 6;
        if (strspn(line + 3, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
                return NULL;
        return strndup(line + 3, n);
}

/* Example lines use only \e (a backslash) and \- (a minus) of roff's escapes */
static int unescape_example(const char *line, char **ret)
{
        _cleanup_free_ char *s = malloc(strlen(line) + 1);
        char *o = s;

        ck_assert_ptr_nonnull(s);
        for (const char *i = line; *i; i++) {
                if (*i != '\\') {
                        *o++ = *i;
                        continue;
                }
                i++;
                if (*i == 'e')
                        *o++ = '\\';
                else if (*i == '-')
                        *o++ = '-';
                else
                        return -EINVAL;
        }
        *o = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

static void page_parse(const char *text, Page *ret)
{
        _cleanup_free_ char *copy = strdup(text);
        Page p = {};
        Scope scope = _SCOPE_INVALID;
        Entry *e = NULL;
        bool in_example = false, after_tp = false;
        unsigned line = 0;
        char *next = copy;

        ck_assert_ptr_nonnull(copy);
        while (next) {
                char *l = next;

                next = strchr(next, '\n');
                if (next)
                        *next++ = '\0';
                line++;

                if (strneq(l, ".SH", 3)) {
                        scope = _SCOPE_INVALID;
                        for (Scope s = 0; s < _SCOPE_MAX; s++)
                                if (streq(l, scope_sections[s]))
                                        scope = s;
                        e = NULL;
                        in_example = after_tp = false;
                        continue;
                }
                if (scope < 0)
                        continue;

                if (after_tp) {
                        _cleanup_free_ char *name = tag_name(l);
                        Entry *entries;

                        after_tp = false;
                        if (!name) {
                                list_add(&p.problems, "line %u: a .TP tag that is not \\fBNAME\\fR: \"%s\"", line, l);
                                e = NULL;
                                continue;
                        }
                        entries = realloc(p.entries, (p.n + 1) * sizeof(Entry));
                        ck_assert_ptr_nonnull(entries);
                        p.entries = entries;
                        e = &p.entries[p.n++];
                        *e = (Entry){.scope = scope, .name = TAKE_PTR(name), .line = line};
                        continue;
                }
                if (in_example) {
                        _cleanup_free_ char *u = NULL;
                        char *joined;

                        if (streq(l, ".EE")) {
                                in_example = false;
                                continue;
                        }
                        if (unescape_example(l, &u) < 0) {
                                list_add(&p.problems, "line %u: an escape other than \\e or \\- in an example", line);
                                continue;
                        }
                        if (e->n_examples == 1) {
                                ck_assert_int_ge(asprintf(&joined, "%s%s\n", strempty(e->example), u), 0);
                                free(e->example);
                                e->example = joined;
                        }
                        continue;
                }
                if (strneq(l, ".TP", 3)) {
                        after_tp = true;
                        continue;
                }
                if (strneq(l, ".SS", 3)) {
                        e = NULL;
                        continue;
                }
                if (!e)
                        continue;
                if (streq(l, ".EX")) {
                        in_example = true;
                        e->n_examples++;
                } else if (strneq(l, "\\fIType:\\fR ", 12))
                        e->type = true;
                else if (strneq(l, "\\fIDefault:\\fR ", 15))
                        e->default_ = true;
                else if (strneq(l, "\\fIPHP\\-FPM:\\fR ", 16))
                        e->twin = true;
        }
        if (in_example || after_tp)
                list_add(&p.problems, "the page ends inside an entry");
        *ret = p;
}

/* The settings config.c accepts that have no entry in their section; NULL when none */
static char *missing_entries(const Page *p)
{
        char *missing = NULL;
        const char *name;

        for (Scope s = 0; s < _SCOPE_MAX; s++)
                for (size_t i = 0; (name = setting_name(s, i)); i++) {
                        bool found = false;

                        for (size_t j = 0; j < p->n && !found; j++)
                                found = p->entries[j].scope == s && streq(p->entries[j].name, name);
                        if (!found)
                                list_add(&missing, "%s (%s)", name, s == SCOPE_GLOBAL ? "global" : "pool");
                }
        return missing;
}

/* Entries for settings config.c does not accept, and entries given twice; NULL when none */
static char *unknown_entries(const Page *p)
{
        char *unknown = NULL;

        for (size_t j = 0; j < p->n; j++) {
                const Entry *e = &p->entries[j];

                if (!setting_known(e->scope, e->name))
                        list_add(&unknown, "%s (%s, line %u)", e->name, e->scope == SCOPE_GLOBAL ? "global" : "pool",
                                e->line);
                for (size_t k = 0; k < j; k++)
                        if (p->entries[k].scope == e->scope && streq(p->entries[k].name, e->name))
                                list_add(&unknown, "%s again (line %u)", e->name, e->line);
        }
        return unknown;
}

static void page_load(Page *ret)
{
        _cleanup_free_ char *text = read_text(man_page_path());

        page_parse(text, ret);
}

START_TEST(test_every_setting_has_an_entry)
{
        _cleanup_(page_done) Page p = {};
        _cleanup_free_ char *missing = NULL;

        page_load(&p);
        missing = missing_entries(&p);
        ck_assert_msg(!missing, "settings src/config.c accepts but man/fpmd.conf.5 does not document: %s", missing);
}
END_TEST

START_TEST(test_every_entry_is_a_setting)
{
        _cleanup_(page_done) Page p = {};
        _cleanup_free_ char *unknown = NULL;

        page_load(&p);
        ck_assert_msg(!p.problems, "man/fpmd.conf.5 breaks its entry convention: %s", p.problems);
        unknown = unknown_entries(&p);
        ck_assert_msg(!unknown, "entries of man/fpmd.conf.5 that src/config.c does not accept: %s", unknown);
}
END_TEST

START_TEST(test_every_entry_is_complete)
{
        _cleanup_(page_done) Page p = {};
        char *incomplete = NULL;

        page_load(&p);
        for (size_t j = 0; j < p.n; j++) {
                const Entry *e = &p.entries[j];

                if (!e->type || !e->default_ || !e->twin || e->n_examples != 1)
                        list_add(&incomplete, "%s (line %u:%s%s%s%s)", e->name, e->line, e->type ? "" : " no Type",
                                e->default_ ? "" : " no Default", e->twin ? "" : " no PHP-FPM",
                                e->n_examples == 1 ? "" : " not one example");
        }
        ck_assert_msg(!incomplete, "entries of man/fpmd.conf.5 without their fields: %s", incomplete);
        free(incomplete);
}
END_TEST

static void write_text(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *path = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        f = fopen(path, "we");
        ck_assert_msg(f, "cannot write %s: %s", path, strerror(errno));
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* An entry's example, loaded as the global file's or a pool's settings; NULL when fpmd accepts it */
static char *example_error(const Entry *e)
{
        char dir[] = "/tmp/fpmd-test-config-doc-XXXXXX";
        _cleanup_free_ char *global = NULL, *pool = NULL, *pool_dir = NULL, *path = NULL, *error = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        const char *leaf = strrchr(e->name, '.') ? strrchr(e->name, '.') + 1 : e->name;
        _cleanup_free_ char *assignment = NULL;
        char *result = NULL;
        int r;

        ck_assert_int_ge(asprintf(&assignment, "%s =", leaf), 0);
        if (!strstr(e->example, assignment)) {
                ck_assert_int_ge(asprintf(&result, "no \"%s\" in it", assignment), 0);
                return result;
        }

        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf(&pool_dir, "%s/pool.d", dir), 0);
        ck_assert_int_eq(mkdir(pool_dir, 0755), 0);
        if (e->scope == SCOPE_GLOBAL) {
                ck_assert_int_ge(
                        asprintf(&global, "%s%s", streq(e->name, "include_dir") ? "" : "include_dir = \"pool.d\";\n",
                                e->example),
                        0);
                pool = strdup("pool = { name = \"doc\"; };\n");
        } else {
                global = strdup("include_dir = \"pool.d\";\n");
                ck_assert_int_ge(asprintf(&pool, "pool = {\n%s%s};\n",
                                         streq(e->name, "name") ? "" : "name = \"doc\";\n", e->example),
                        0);
        }
        ck_assert_ptr_nonnull(global);
        ck_assert_ptr_nonnull(pool);
        write_text(dir, "fpmd.conf", global);
        write_text(pool_dir, "doc.conf", pool);

        ck_assert_int_ge(asprintf(&path, "%s/fpmd.conf", dir), 0);
        r = config_load(path, NULL, &c, &error);
        if (r < 0)
                ck_assert_int_ge(asprintf(&result, "%s", error ? error : strerror(-r)), 0);

        ck_assert_int_eq(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
        return result;
}

START_TEST(test_every_example_loads)
{
        _cleanup_(page_done) Page p = {};
        _cleanup_free_ char *failed = NULL;

        page_load(&p);
        ck_assert_uint_gt(p.n, 0);
        for (size_t j = 0; j < p.n; j++) {
                _cleanup_free_ char *error = NULL;

                if (!p.entries[j].example)
                        continue;
                error = example_error(&p.entries[j]);
                if (error)
                        list_add(&failed, "%s (line %u): %s", p.entries[j].name, p.entries[j].line, error);
        }
        ck_assert_msg(!failed, "examples of man/fpmd.conf.5 that fpmd refuses: %s", failed);
}
END_TEST

/* text with its first "old" replaced by "new" */
static char *replace_once(const char *text, const char *old, const char *new)
{
        const char *at = strstr(text, old);
        char *s;

        ck_assert_msg(at, "\"%s\" is not in the page", old);
        ck_assert_int_ge(asprintf(&s, "%.*s%s%s", (int)(at - text), text, new, at + strlen(old)), 0);
        return s;
}

/* The checks can fail: a page with one entry renamed lacks one setting and documents an unknown one */
START_TEST(test_checks_see_a_renamed_entry)
{
        _cleanup_(page_done) Page p = {};
        _cleanup_free_ char *text = read_text(man_page_path()), *missing = NULL, *unknown = NULL, *renamed = NULL;

        renamed = replace_once(text, "\n.TP\n\\fBpm.max_children\\fR\n", "\n.TP\n\\fBpm.max_kiddies\\fR\n");
        page_parse(renamed, &p);

        ck_assert_ptr_null(p.problems);
        missing = missing_entries(&p);
        unknown = unknown_entries(&p);
        ck_assert_str_eq(missing, "pm.max_children (pool)");
        ck_assert_ptr_nonnull(unknown);
        ck_assert_msg(strneq(unknown, "pm.max_kiddies (pool, line ", strlen("pm.max_kiddies (pool, line ")),
                "unknown: %s", unknown);
}
END_TEST

START_TEST(test_checks_see_a_malformed_tag)
{
        _cleanup_(page_done) Page p = {};

        page_parse(".SH POOL SETTINGS\n.TP\n\\fBname\\fP\nThe name.\n.SH GLOBAL SETTINGS\n.TP\n\\fBlog_level\\fR\n"
                   "\\fIType:\\fR string.\n.SH SEE ALSO\n.TP\nanything\n",
                &p);
        ck_assert_str_eq(p.problems, "line 3: a .TP tag that is not \\fBNAME\\fR: \"\\fBname\\fP\"");
        ck_assert_uint_eq(p.n, 1);
        ck_assert_str_eq(p.entries[0].name, "log_level");
        ck_assert_int_eq(p.entries[0].scope, SCOPE_GLOBAL);
        ck_assert(p.entries[0].type);
        ck_assert(!p.entries[0].default_);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("config-doc");
        TCase *tc = tcase_create("fpmd.conf.5");

        tcase_add_test(tc, test_every_setting_has_an_entry);
        tcase_add_test(tc, test_every_entry_is_a_setting);
        tcase_add_test(tc, test_every_entry_is_complete);
        tcase_add_test(tc, test_every_example_loads);
        tcase_add_test(tc, test_checks_see_a_renamed_entry);
        tcase_add_test(tc, test_checks_see_a_malformed_tag);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
