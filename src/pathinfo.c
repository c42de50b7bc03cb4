/* pathinfo.c: the script of a request and its SCRIPT_FILENAME, SCRIPT_NAME, PATH_INFO and PATH_TRANSLATED, as
 * PHP-FPM 8.2 derives them from the web server's params (cgi.fix_pathinfo), with no I/O of its own */
#include <stdio.h>

#include "pathinfo.h"

/* The resolution's state: the web server's values as sent (they stay valid while params change), the current
 * ones, and what it found */
typedef struct Walk {
        FcgiParams *p;
        const PathinfoFs *fs;
        /* The web server's SCRIPT_FILENAME (after an Apache URL is cut), PATH_TRANSLATED and SCRIPT_NAME: the
         * params' own strings, which stay valid while the params are replaced and unset on the way */
        const char *orig_sf, *orig_pt, *orig_sn;
        const char *orig_pi;
        const char *pi, *sn; /* current PATH_INFO and SCRIPT_NAME */
        char *sf;            /* SCRIPT_FILENAME when Apache's URL is cut in it (owned), else NULL */
        bool apache;         /* mod_proxy_fcgi sent a proxy: URL; it sends no usable PATH_INFO then */
        PathinfoResult *ret;
} Walk;

static int put(Walk *w, const char *name, const char *value)
{
        if (!value)
                return fcgi_params_unset(w->p, name) < 0 ? -ENOMEM : 0;
        return fcgi_params_set(w->p, name, value);
}

static int put_orig(Walk *w, const char *name, const char *orig)
{
        char buf[32];

        if (!orig)
                return 0;
        snprintf(buf, sizeof(buf), "ORIG_%s", name);
        return put(w, buf, orig);
}

static char **result_field(PathinfoResult *r, PathinfoString which)
{
        switch (which) {
        case PATHINFO_SCRIPT:
                return &r->script;
        case PATHINFO_SCRIPT_NAME:
                return &r->script_name;
        default:
                return &r->script_real;
        }
}

/* One of the result's strings becomes a copy of value (NULL: none), in its buffer, which grows as needed and is
 * kept for the next request. value may be that buffer's own string. */
static int result_set(PathinfoResult *r, PathinfoString which, const char *value)
{
        char **field = result_field(r, which);
        size_t n;

        if (!value) {
                *field = NULL;
                return 0;
        }
        n = strlen(value) + 1;
        if (r->sizes[which] < n) {
                size_t size = MAX(n, (size_t)256);
                char *b = malloc(size);

                if (!b)
                        return -ENOMEM;
                memcpy(b, value, n);
                free(r->bufs[which]);
                r->bufs[which] = b;
                r->sizes[which] = size;
        } else
                memmove(r->bufs[which], value, n);
        *field = r->bufs[which];
        return 0;
}

static int set_script_name(Walk *w, const char *value)
{
        return result_set(w->ret, PATHINFO_SCRIPT_NAME, value);
}

/* SCRIPT_NAME becomes value, with the web server's in ORIG_SCRIPT_NAME when it differs */
static int replace_script_name(Walk *w, const char *value)
{
        int r;

        if (!w->orig_sn || !value || strcmp(w->orig_sn, value) != 0) {
                r = put_orig(w, "SCRIPT_NAME", w->orig_sn);
                if (r >= 0)
                        r = put(w, "SCRIPT_NAME", value);
                if (r < 0)
                        return r;
        }
        return set_script_name(w, value);
}

/* A prefix of a string plus a string: PATH_TRANSLATED from a document root and PATH_INFO */
static char *concat(const char *a, size_t a_len, const char *b)
{
        size_t b_len = b ? strlen(b) : 0;
        char *s = malloc(a_len + b_len + 1);

        if (!s)
                return NULL;
        memcpy(s, a, a_len);
        if (b_len > 0)
                memcpy(s + a_len, b, b_len);
        s[a_len + b_len] = 0;
        return s;
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* PHP's rawurldecode(): %XX to its byte, nothing else */
static char *raw_url_decode(const char *s)
{
        char *out = malloc(strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                int hi, lo;

                if (*s == '%' && (hi = hex_digit(s[1])) >= 0 && (lo = hex_digit(s[2])) >= 0) {
                        *o++ = (char)(hi * 16 + lo);
                        s += 2;
                } else
                        *o++ = *s;
        }
        *o = 0;
        return out;
}

/* Apache's mod_proxy_fcgi and mod_proxy_balancer send "proxy:fcgi://host:port/path/script.php/info?query":
 * the path starts at the first '/' after the host (bug 54152, 62172) */
static int cut_proxy_url(Walk *w, const char *sf)
{
        static const char *const prefixes[] = {"proxy:fcgi://", "proxy:balancer://"};

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t l = strlen(prefixes[i]);
                char *s, *q;

                if (strncasecmp(w->sf ?: sf, prefixes[i], l) != 0)
                        continue;
                if (!w->sf) {
                        w->sf = strdup(sf);
                        if (!w->sf)
                                return -ENOMEM;
                }
                s = w->sf + l;
                while (*s && *s != '/')
                        s++;
                if (*s) {
                        memmove(w->sf, s, strlen(s) + 1);
                        w->apache = true;
                }
                q = strchr(w->sf, '?');
                if (q)
                        *q = 0;
        }
        return 0;
}

/* IIS sends PATH_INFO with SCRIPT_NAME in front */
static int fix_iis(Walk *w)
{
        const char *software = fcgi_params_known(w->p, FCGI_KNOWN_SERVER_SOFTWARE);
        const char *rest;
        int r;

        if (!software || !w->sn || !w->pi || strncmp(software, "Microsoft-IIS", 13) != 0 ||
                strncmp(w->pi, w->sn, strlen(w->sn)) != 0)
                return 0;
        r = put(w, "ORIG_PATH_INFO", w->pi);
        if (r < 0)
                return r;
        rest = w->pi + strlen(w->sn);
        r = put(w, "PATH_INFO", *rest ? rest : NULL);
        if (r < 0)
                return r;
        w->pi = fcgi_params_known(w->p, FCGI_KNOWN_PATH_INFO);
        return 0;
}

/* PATH_TRANSLATED = DOCUMENT_ROOT + PATH_INFO, or SCRIPT_FILENAME - SCRIPT_NAME + PATH_INFO */
static int set_path_translated(Walk *w, const char *doc_root, const char *script)
{
        _cleanup_free_ char *t = NULL;
        int r;

        if (doc_root) {
                size_t l = strlen(doc_root);

                if (l > 0 && doc_root[l - 1] == '/')
                        l--;
                t = concat(doc_root, l, w->pi);
        } else if (w->sn && strstr(script, w->sn))
                t = concat(script, strlen(script) - strlen(w->sn), w->pi);
        else
                return 0;
        if (!t)
                return -ENOMEM;
        r = put_orig(w, "PATH_TRANSLATED", w->orig_pt);
        return r < 0 ? r : put(w, "PATH_TRANSLATED", t);
}

/* script (at spt, of length len) does not exist: its longest prefix ending before a '/' that is a regular file
 * is the script, the rest is path info. Found at pt (cut in place). */
static int found_script(Walk *w, const char *spt, size_t len, const char *pt, const char *doc_root)
{
        size_t ptlen = strlen(pt), slen = len - ptlen, pilen = w->pi ? strlen(w->pi) : 0;
        const char *path_info;
        bool changed;
        int r;

        if (w->apache) {
                /* Apache sends no PATH_INFO: it is the rest of SCRIPT_FILENAME */
                path_info = spt + ptlen;
                changed = slen != 0 && (!w->orig_pi || strcmp(w->orig_pi, path_info) != 0);
        } else {
                /* The path info is the tail of PATH_INFO as long as what was cut off; a shorter PATH_INFO has
                 * none (CVE-2019-11043: PHP-FPM read before the buffer here) */
                path_info = w->pi && pilen > slen ? w->pi + pilen - slen : NULL;
                changed = path_info && path_info != w->orig_pi;
        }

        if (changed) {
                _cleanup_free_ char *info = strdup(path_info);

                if (!info)
                        return -ENOMEM;
                if (w->orig_pi) {
                        /* SCRIPT_NAME becomes PATH_INFO up to the path info found (all of it for Apache) */
                        size_t n = w->apache ? pilen : (size_t)(path_info - w->pi);
                        _cleanup_free_ char *prefix = strndup(w->pi, n);

                        if (!prefix)
                                return -ENOMEM;
                        r = put(w, "ORIG_PATH_INFO", w->orig_pi);
                        if (r < 0)
                                return r;
                        r = replace_script_name(w, prefix);
                        if (r < 0)
                                return r;
                } else if (w->apache && w->sn) {
                        /* ProxyPass: SCRIPT_NAME holds the path info too, and loses it. Apache sends
                         * SCRIPT_FILENAME percent-encoded and SCRIPT_NAME decoded, so the path info is compared
                         * both ways */
                        _cleanup_free_ char *decoded = strchr(path_info, '%') ? raw_url_decode(path_info) : NULL;
                        size_t snlen = strlen(w->sn), cut_at = SIZE_MAX;

                        if (snlen > slen && streq(w->sn + snlen - slen, path_info))
                                cut_at = snlen - slen;
                        else if (decoded && snlen > strlen(decoded) && streq(w->sn + snlen - strlen(decoded), decoded))
                                cut_at = snlen - strlen(decoded);
                        if (cut_at != SIZE_MAX) {
                                _cleanup_free_ char *cut = strndup(w->sn, cut_at);

                                if (!cut)
                                        return -ENOMEM;
                                r = put_orig(w, "SCRIPT_NAME", w->orig_sn);
                                if (r >= 0)
                                        r = put(w, "SCRIPT_NAME", cut);
                                if (r >= 0)
                                        r = set_script_name(w, cut);
                                if (r < 0)
                                        return r;
                                w->sn = fcgi_params_known(w->p, FCGI_KNOWN_SCRIPT_NAME);
                        }
                }
                r = put(w, "PATH_INFO", info);
                if (r < 0)
                        return r;
                w->pi = fcgi_params_known(w->p, FCGI_KNOWN_PATH_INFO);
        }

        if (!w->orig_sf || strcmp(w->orig_sf, pt) != 0) {
                r = put_orig(w, "SCRIPT_FILENAME", w->orig_sf);
                if (r >= 0)
                        r = put(w, "SCRIPT_FILENAME", pt);
                if (r < 0)
                        return r;
        }
        return set_path_translated(w, doc_root, pt);
}

static int resolve_fixed(Walk *w, const PathinfoOptions *o, const char *spt)
{
        const char *redirect_url = fcgi_params_known(w->p, FCGI_KNOWN_REDIRECT_URL);
        const char *doc_root = fcgi_params_known(w->p, FCGI_KNOWN_DOCUMENT_ROOT);
        char real[PATH_MAX];
        size_t len;
        int r;

        w->orig_pi = w->pi;
        if (!doc_root && o->doc_root) {
                r = put(w, "DOCUMENT_ROOT", o->doc_root);
                if (r < 0)
                        return r;
                doc_root = fcgi_params_known(w->p, FCGI_KNOWN_DOCUMENT_ROOT);
        }
        /* Apache's mod_fastcgi: with a REDIRECT_URL, SCRIPT_FILENAME and SCRIPT_NAME name the PHP binary */
        if (!w->apache && w->orig_pt && redirect_url && !streq(w->orig_pt, spt)) {
                spt = w->orig_pt;
                w->sn = redirect_url;
        }

        len = strlen(spt);
        if (len > 0 && spt[len - 1] != '/' && w->fs->realpath(spt, real, w->fs->userdata)) {
                /* The script exists as named */
                if (!w->orig_sf || strcmp(spt, w->orig_sf) != 0) {
                        r = put_orig(w, "SCRIPT_FILENAME", w->orig_sf);
                        if (r >= 0)
                                r = put(w, "SCRIPT_FILENAME", spt);
                        if (r < 0)
                                return r;
                }
                if (!w->apache && redirect_url) {
                        r = 0;
                        if (w->orig_pi)
                                r = put(w, "ORIG_PATH_INFO", w->orig_pi) < 0 ? -ENOMEM : put(w, "PATH_INFO", NULL);
                        if (r >= 0 && w->orig_pt)
                                r = put(w, "ORIG_PATH_TRANSLATED", w->orig_pt) < 0 ? -ENOMEM
                                                                                   : put(w, "PATH_TRANSLATED", NULL);
                        if (r < 0)
                                return r;
                }
                if (result_set(w->ret, PATHINFO_SCRIPT, spt) < 0 || result_set(w->ret, PATHINFO_SCRIPT_REAL, real) < 0)
                        return -ENOMEM;
                if (w->sn != w->orig_sn) {
                        /* REDIRECT_URL took SCRIPT_NAME's place */
                        r = put_orig(w, "SCRIPT_NAME", w->orig_sn);
                        if (r >= 0)
                                r = put(w, "SCRIPT_NAME", w->sn);
                        if (r < 0)
                                return r;
                }
                return set_script_name(w, w->sn);
        }

        /* Walk back through the '/' (and '\', as PHP-FPM) until a prefix is a regular file */
        {
                _cleanup_free_ char *pt = strdup(spt);
                char *slash = NULL;

                if (!pt)
                        return -ENOMEM;
                while ((slash = strrchr(pt, '/')) || (slash = strrchr(pt, '\\'))) {
                        *slash = 0;
                        if (!w->fs->is_file(pt, w->fs->userdata))
                                continue;
                        r = found_script(w, spt, len, pt, doc_root);
                        if (r < 0)
                                return r;
                        r = result_set(w->ret, PATHINFO_SCRIPT, pt);
                        if (r < 0)
                                return r;
                        break;
                }
                if (!slash) {
                        /* Nothing: 404 "File not found." */
                        r = put_orig(w, "SCRIPT_FILENAME", w->orig_sf);
                        if (r >= 0)
                                r = put(w, "SCRIPT_FILENAME", NULL);
                        if (r < 0)
                                return r;
                }
        }
        if (!w->ret->script_name) {
                if (w->sn != w->orig_sn && (!w->orig_sn || !w->sn || strcmp(w->orig_sn, w->sn) != 0))
                        return replace_script_name(w, w->sn);
                if (!w->orig_sn && !w->sn)
                        return put(w, "SCRIPT_NAME", NULL);
                return set_script_name(w, w->orig_sn);
        }
        return 0;
}

int pathinfo_resolve(FcgiParams *p, const PathinfoOptions *o, const PathinfoFs *fs, PathinfoResult *ret)
{
        Walk w = {
                .p = p,
                .fs = fs,
                .pi = fcgi_params_known(p, FCGI_KNOWN_PATH_INFO),
                .ret = ret,
        };
        const char *sf = fcgi_params_known(p, FCGI_KNOWN_SCRIPT_FILENAME),
                   *pt = fcgi_params_known(p, FCGI_KNOWN_PATH_TRANSLATED),
                   *sn = fcgi_params_known(p, FCGI_KNOWN_SCRIPT_NAME);
        int r = 0;

        ret->script = ret->script_name = ret->script_real = NULL;
        w.orig_pt = pt;
        w.orig_sn = sn;
        w.sn = w.orig_sn;
        if (!sf && !w.orig_pt) {
                /* No script at all: still a SCRIPT_NAME, so the ping and status paths answer */
                r = set_script_name(&w, w.sn);
                goto finish;
        }

        r = fix_iis(&w);
        if (r < 0)
                goto finish;
        if (sf) {
                r = cut_proxy_url(&w, sf);
                if (r < 0)
                        goto finish;
                if (w.sf && !streq(w.sf, sf)) {
                        r = put(&w, "SCRIPT_FILENAME", w.sf);
                        if (r < 0)
                                goto finish;
                }
                w.orig_sf = fcgi_params_known(p, FCGI_KNOWN_SCRIPT_FILENAME);
        }

        if (o->fix_pathinfo)
                r = resolve_fixed(&w, o, w.orig_sf ? w.orig_sf : w.orig_pt);
        else {
                /* PHP's behaviour before 4.3 */
                const char *spt = !o->discard_path && w.orig_pt ? w.orig_pt : w.orig_sf ? w.orig_sf : w.orig_pt;

                r = set_script_name(&w, w.pi ? w.pi : w.sn);
                if (r >= 0)
                        r = result_set(ret, PATHINFO_SCRIPT, spt);
        }

finish:
        free(w.sf);
        if (r < 0)
                pathinfo_result_done(ret);
        return r;
}

void pathinfo_result_done(PathinfoResult *r)
{
        for (size_t i = 0; i < _PATHINFO_STRING_MAX; i++)
                free(r->bufs[i]);
        *r = (PathinfoResult){};
}

bool pathinfo_path_valid(const char *path)
{
        if (!path)
                return false;
        for (const char *p = strstr(path, ".."); p; p = strstr(p + 1, ".."))
                if ((p == path || p[-1] == '/' || p[-1] == '\\') && (p[2] == 0 || p[2] == '/' || p[2] == '\\'))
                        return false;
        return true;
}
