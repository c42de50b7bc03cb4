#!/usr/bin/python3
"""Apache 2.4 + mod_proxy_fcgi (Debian 12's apache2) in front of the server under test, the ways PHP-FPM users
set it up (harness.Apache): the Apache manual's ProxyPassMatch over TCP; Debian's php8.2-fpm.conf SetHandler
over a unix socket, alone, with ProxyFCGIBackendType GENERIC, with enablereuse=on, and with an Alias to a
folder outside DocumentRoot. For each, the $_SERVER path variables PHP-FPM 8.2 gives for each URL shape, and the
status, headers and bodies of a few responses.

What Apache sends (tests/unit/data/pathinfo-cases.txt has every param):
- ProxyPassMatch: SCRIPT_FILENAME=proxy:fcgi://127.0.0.1:PORT/DOCROOT/info.php/foo/bar (the path info still
  URL-encoded), SCRIPT_NAME=/info.php/foo/bar (decoded), no PATH_INFO: PHP-FPM splits the script off itself.
- SetHandler: SCRIPT_FILENAME=proxy:fcgi://localhost/DOCROOT/info.php, SCRIPT_NAME=/info.php, PATH_INFO and
  PATH_TRANSLATED (decoded); GENERIC sends SCRIPT_FILENAME without the proxy:fcgi://localhost prefix.
- Alias: SCRIPT_FILENAME under the Alias folder, DOCUMENT_ROOT the DocumentRoot, CONTEXT_PREFIX=/app,
  CONTEXT_DOCUMENT_ROOT the Alias folder."""

import harness
from webcases import NO_INPUT, NOT_FOUND, WebServerCase, fpm_error, php, web

# The Apache manual's ProxyPassMatch "^/(.*\.php(/.*)?)$" "fcgi://127.0.0.1:PORT/DOCROOT/$1"
PROXYPASSMATCH = {
    "/info.php": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                     DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php", QUERY_STRING="", FILE="{D}/info.php"),
    "/info.php?x=1": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                         DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php?x=1", QUERY_STRING="x=1", FILE="{D}/info.php"),
    "/sub/info.php": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php", PHP_SELF="/sub/info.php",
                         DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php", QUERY_STRING="",
                         FILE="{D}/sub/info.php"),
    # PHP-FPM cuts the script off SCRIPT_FILENAME: PATH_INFO is the rest, still URL-encoded; ORIG_SCRIPT_NAME
    # keeps Apache's (decoded) SCRIPT_NAME, ORIG_SCRIPT_FILENAME Apache's SCRIPT_FILENAME without its prefix
    "/info.php/foo/bar": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php/foo/bar",
                             PATH_INFO="/foo/bar", PATH_TRANSLATED="{D}/foo/bar", DOCUMENT_ROOT="{D}",
                             REQUEST_URI="/info.php/foo/bar", QUERY_STRING="", ORIG_SCRIPT_NAME="/info.php/foo/bar",
                             ORIG_SCRIPT_FILENAME="{D}/info.php/foo/bar", FILE="{D}/info.php"),
    "/info.php/caf%C3%A9/a%20b": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php",
                                     PHP_SELF="/info.php/caf%C3%A9/a%20b", PATH_INFO="/caf%C3%A9/a%20b",
                                     PATH_TRANSLATED="{D}/caf%C3%A9/a%20b", DOCUMENT_ROOT="{D}",
                                     REQUEST_URI="/info.php/caf%C3%A9/a%20b", QUERY_STRING="",
                                     ORIG_SCRIPT_NAME="/info.php/café/a b",
                                     ORIG_SCRIPT_FILENAME="{D}/info.php/caf%C3%A9/a%20b", FILE="{D}/info.php"),
    "/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php",
                                   PHP_SELF="/sub/info.php/a%20b/c", PATH_INFO="/a%20b/c",
                                   PATH_TRANSLATED="{D}/a%20b/c", DOCUMENT_ROOT="{D}",
                                   REQUEST_URI="/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                   ORIG_SCRIPT_NAME="/sub/info.php/a b/c",
                                   ORIG_SCRIPT_FILENAME="{D}/sub/info.php/a%20b/c", FILE="{D}/sub/info.php"),
    # mod_dir's DirectoryIndex finds index.php through the ProxyPassMatch
    "/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php", DOCUMENT_ROOT="{D}",
             REQUEST_URI="/", QUERY_STRING="", FILE="{D}/index.php"),
    # the regex matches folders named *.php too: Apache proxies them as they are
    "/dir.php/": fpm_error(404, NOT_FOUND),
    "/dir.php": fpm_error(404, NO_INPUT),
    "/nothere.php": fpm_error(404, NOT_FOUND),
    "/nothere.php/foo": fpm_error(404, NOT_FOUND),
}

# Debian's php8.2-fpm.conf: <FilesMatch ".+\.ph(?:ar|p|tml)$"> SetHandler "proxy:unix:SOCK|fcgi://localhost"
DEBIAN = {
    "/info.php": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                     DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php", QUERY_STRING="", FILE="{D}/info.php"),
    "/info.php?x=1": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                         DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php?x=1", QUERY_STRING="x=1", FILE="{D}/info.php"),
    "/sub/info.php": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php", PHP_SELF="/sub/info.php",
                         DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php", QUERY_STRING="",
                         FILE="{D}/sub/info.php"),
    "/info.php/foo/bar": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php/foo/bar",
                             PATH_INFO="/foo/bar", PATH_TRANSLATED="{D}/foo/bar", DOCUMENT_ROOT="{D}",
                             REQUEST_URI="/info.php/foo/bar", QUERY_STRING="", FILE="{D}/info.php"),
    "/info.php/caf%C3%A9/a%20b": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php",
                                     PHP_SELF="/info.php/café/a b", PATH_INFO="/café/a b",
                                     PATH_TRANSLATED="{D}/café/a b", DOCUMENT_ROOT="{D}",
                                     REQUEST_URI="/info.php/caf%C3%A9/a%20b", QUERY_STRING="", FILE="{D}/info.php"),
    "/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php",
                                   PHP_SELF="/sub/info.php/a b/c", PATH_INFO="/a b/c", PATH_TRANSLATED="{D}/a b/c",
                                   DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                   FILE="{D}/sub/info.php"),
    "/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php", DOCUMENT_ROOT="{D}",
             REQUEST_URI="/", QUERY_STRING="", FILE="{D}/index.php"),
    "/dir.php/": php(SCRIPT_NAME="/dir.php/index.php", SCRIPT_FILENAME="{D}/dir.php/index.php",
                     PHP_SELF="/dir.php/index.php", DOCUMENT_ROOT="{D}", REQUEST_URI="/dir.php/", QUERY_STRING="",
                     FILE="{D}/dir.php/index.php"),
    "/dir.php": web(301, "http://127.0.0.1:{PORT}/dir.php/"),
    # FilesMatch sets the handler whether the file exists or not: PHP-FPM answers
    "/nothere.php": fpm_error(404, NOT_FOUND),
    "/nothere.php/foo": fpm_error(404, NOT_FOUND),
}

# An Alias /app to a folder outside DocumentRoot: DOCUMENT_ROOT stays the DocumentRoot, and PATH_TRANSLATED is
# the DocumentRoot + PATH_INFO (Apache's own, passed on)
ALIAS = dict(DEBIAN, **{
    "/app/info.php": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/app/info.php",
                         DOCUMENT_ROOT="{D}", REQUEST_URI="/app/info.php", QUERY_STRING="", FILE="{A}/info.php"),
    "/app/info.php?x=1": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/app/info.php",
                             DOCUMENT_ROOT="{D}", REQUEST_URI="/app/info.php?x=1", QUERY_STRING="x=1",
                             FILE="{A}/info.php"),
    "/app/info.php/foo/bar": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php",
                                 PHP_SELF="/app/info.php/foo/bar", PATH_INFO="/foo/bar",
                                 PATH_TRANSLATED="{D}/foo/bar", DOCUMENT_ROOT="{D}",
                                 REQUEST_URI="/app/info.php/foo/bar", QUERY_STRING="", FILE="{A}/info.php"),
    "/app/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/app/sub/info.php", SCRIPT_FILENAME="{A}/sub/info.php",
                                       PHP_SELF="/app/sub/info.php/a b/c", PATH_INFO="/a b/c",
                                       PATH_TRANSLATED="{D}/a b/c", DOCUMENT_ROOT="{D}",
                                       REQUEST_URI="/app/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                       FILE="{A}/sub/info.php"),
    "/app/": php(SCRIPT_NAME="/app/index.php", SCRIPT_FILENAME="{A}/index.php", PHP_SELF="/app/index.php",
                 DOCUMENT_ROOT="{D}", REQUEST_URI="/app/", QUERY_STRING="", FILE="{A}/index.php"),
    "/app/nothere.php": fpm_error(404, NOT_FOUND),
    "/app/nothere.php/foo": fpm_error(404, NOT_FOUND),
})

CONTENT_TYPE = ("Content-Type", "text/html; charset=UTF-8")

# Apache joins a repeated header into one line ("one, two"); the rest as PHP sent it, Content-Type last
HEADERS = {
    "/teapot.php": [CONTENT_TYPE],
    "/status404.php": [CONTENT_TYPE],
    "/redirect.php": [("Location", "/x"), CONTENT_TYPE],
    "/cookies.php": [("Set-Cookie", "a=1"), ("Set-Cookie", "b=two%20words; path=/sub; HttpOnly"),
                     ("Set-Cookie", "c=3; SameSite=Strict"), CONTENT_TYPE],
    "/headers.php": [("X-Custom", "custom value"), ("X-Multi", "one, two"), ("Cache-Control", "no-store"),
                     ("Set-Cookie", "session=abc123; path=/; HttpOnly"), CONTENT_TYPE],
}


class ApacheCase(WebServerCase):
    VARIANT = None
    HEADERS = HEADERS

    @classmethod
    def make_web(cls, ws, server):
        return harness.Apache(ws, server, cls.VARIANT)


class ApacheProxyPassMatchTcp(ApacheCase, harness.TestCase):
    VARIANT = "proxypassmatch"
    UNIX = False
    EXPECT = PROXYPASSMATCH


class ApacheSetHandlerUnix(ApacheCase, harness.TestCase):
    VARIANT = "sethandler"
    UNIX = True
    EXPECT = DEBIAN


class ApacheGenericUnix(ApacheCase, harness.TestCase):
    VARIANT = "generic"
    UNIX = True
    EXPECT = DEBIAN


class ApacheReuseUnix(ApacheCase, harness.TestCase):
    VARIANT = "reuse"
    UNIX = True
    EXPECT = DEBIAN

    def test_fastcgi_connection_reused(self):
        # enablereuse=on: Apache sends FCGI_KEEP_CONN and keeps its connection to the pool between requests;
        # the server keeps it open and serves the next request on it. One HTTP connection is served by one
        # Apache process, so the ten requests share one FastCGI connection.
        path = self.server.unix_path()
        seen = []
        conn = self.web.connection()
        try:
            for _ in range(10):
                r = self.web.request("GET", "/hello.php", conn=conn)
                self.assertEqual((r.status, r.body), (200, b"hello\n"))
                seen.append(frozenset(harness.connected_unix_inodes(path)))
        finally:
            conn.close()
        self.assertEqual(len(set(seen)), 1, seen)
        self.assertEqual(len(seen[0]), 1, seen)


class ApacheAliasUnix(ApacheCase, harness.TestCase):
    VARIANT = "alias"
    UNIX = True
    EXPECT = ALIAS


class ApacheGenericAliasUnix(ApacheCase, harness.TestCase):
    """The Alias with SCRIPT_FILENAME free of the proxy:fcgi:// prefix: only the folder outside DOCUMENT_ROOT."""
    VARIANT = "generic-alias"
    UNIX = True
    EXPECT = ALIAS


if __name__ == "__main__":
    harness.main()
