#!/usr/bin/python3
"""lighttpd 1.4 (Debian 12's lighttpd) mod_fastcgi in front of the server under test (harness.Lighttpd), with
Debian's conf-available/15-fastcgi-php-fpm.conf settings over a unix socket ("socket",
"broken-scriptfilename" => "enable") and the same with "host"/"port" over TCP, and an alias.url /app to a folder
outside the docroot (Debian's phpmyadmin layout). For each, the $_SERVER path variables PHP-FPM 8.2 gives for
each URL shape, and the status, headers and bodies of a few responses.

What lighttpd sends (tests/unit/data/pathinfo-cases.txt has every param): with broken-scriptfilename,
SCRIPT_FILENAME is the script followed by the path info, or by "/" when there is none (DOCROOT/info.php/), so
PHP-FPM always splits it and sets ORIG_SCRIPT_FILENAME; SCRIPT_NAME the script, PATH_INFO and PATH_TRANSLATED
(decoded) only when there is a path info. A script that does not exist is lighttpd's own 404 (check-local):
nothing reaches PHP. Under alias.url, DOCUMENT_ROOT is the alias folder and SCRIPT_NAME keeps /app."""

import harness
from webcases import WebServerCase, php, web

EXPECT = {
    "/info.php": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                     PATH_TRANSLATED="{D}", DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php", QUERY_STRING="",
                     ORIG_SCRIPT_FILENAME="{D}/info.php/", FILE="{D}/info.php"),
    "/info.php?x=1": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                         PATH_TRANSLATED="{D}", DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php?x=1", QUERY_STRING="x=1",
                         ORIG_SCRIPT_FILENAME="{D}/info.php/", FILE="{D}/info.php"),
    "/sub/info.php": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php", PHP_SELF="/sub/info.php",
                         PATH_TRANSLATED="{D}", DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php", QUERY_STRING="",
                         ORIG_SCRIPT_FILENAME="{D}/sub/info.php/", FILE="{D}/sub/info.php"),
    "/info.php/foo/bar": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php/foo/bar",
                             PATH_INFO="/foo/bar", PATH_TRANSLATED="{D}/foo/bar", DOCUMENT_ROOT="{D}",
                             REQUEST_URI="/info.php/foo/bar", QUERY_STRING="",
                             ORIG_SCRIPT_FILENAME="{D}/info.php/foo/bar", ORIG_PATH_TRANSLATED="{D}/foo/bar",
                             FILE="{D}/info.php"),
    "/info.php/caf%C3%A9/a%20b": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php",
                                     PHP_SELF="/info.php/café/a b", PATH_INFO="/café/a b",
                                     PATH_TRANSLATED="{D}/café/a b", DOCUMENT_ROOT="{D}",
                                     REQUEST_URI="/info.php/caf%C3%A9/a%20b", QUERY_STRING="",
                                     ORIG_SCRIPT_FILENAME="{D}/info.php/café/a b",
                                     ORIG_PATH_TRANSLATED="{D}/café/a b", FILE="{D}/info.php"),
    "/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php",
                                   PHP_SELF="/sub/info.php/a b/c", PATH_INFO="/a b/c", PATH_TRANSLATED="{D}/a b/c",
                                   DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                   ORIG_SCRIPT_FILENAME="{D}/sub/info.php/a b/c", ORIG_PATH_TRANSLATED="{D}/a b/c",
                                   FILE="{D}/sub/info.php"),
    "/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php",
             PATH_TRANSLATED="{D}", DOCUMENT_ROOT="{D}", REQUEST_URI="/", QUERY_STRING="",
             ORIG_SCRIPT_FILENAME="{D}/index.php/", FILE="{D}/index.php"),
    "/dir.php/": php(SCRIPT_NAME="/dir.php/index.php", SCRIPT_FILENAME="{D}/dir.php/index.php",
                     PHP_SELF="/dir.php/index.php", PATH_TRANSLATED="{D}", DOCUMENT_ROOT="{D}",
                     REQUEST_URI="/dir.php/", QUERY_STRING="", ORIG_SCRIPT_FILENAME="{D}/dir.php/index.php/",
                     FILE="{D}/dir.php/index.php"),
    "/dir.php": web(301, "/dir.php/"),
    "/nothere.php": web(404),
    "/nothere.php/foo": web(404),
    "/app/info.php": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/app/info.php",
                         PATH_TRANSLATED="{A}", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/info.php", QUERY_STRING="",
                         ORIG_SCRIPT_FILENAME="{A}/info.php/", FILE="{A}/info.php"),
    "/app/info.php?x=1": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/app/info.php",
                             PATH_TRANSLATED="{A}", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/info.php?x=1",
                             QUERY_STRING="x=1", ORIG_SCRIPT_FILENAME="{A}/info.php/", FILE="{A}/info.php"),
    "/app/info.php/foo/bar": php(SCRIPT_NAME="/app/info.php", SCRIPT_FILENAME="{A}/info.php",
                                 PHP_SELF="/app/info.php/foo/bar", PATH_INFO="/foo/bar",
                                 PATH_TRANSLATED="{A}/foo/bar", DOCUMENT_ROOT="{A}",
                                 REQUEST_URI="/app/info.php/foo/bar", QUERY_STRING="",
                                 ORIG_SCRIPT_FILENAME="{A}/info.php/foo/bar", ORIG_PATH_TRANSLATED="{A}/foo/bar",
                                 FILE="{A}/info.php"),
    "/app/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/app/sub/info.php", SCRIPT_FILENAME="{A}/sub/info.php",
                                       PHP_SELF="/app/sub/info.php/a b/c", PATH_INFO="/a b/c",
                                       PATH_TRANSLATED="{A}/a b/c", DOCUMENT_ROOT="{A}",
                                       REQUEST_URI="/app/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                       ORIG_SCRIPT_FILENAME="{A}/sub/info.php/a b/c",
                                       ORIG_PATH_TRANSLATED="{A}/a b/c", FILE="{A}/sub/info.php"),
    "/app/": php(SCRIPT_NAME="/app/index.php", SCRIPT_FILENAME="{A}/index.php", PHP_SELF="/app/index.php",
                 PATH_TRANSLATED="{A}", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/", QUERY_STRING="",
                 ORIG_SCRIPT_FILENAME="{A}/index.php/", FILE="{A}/index.php"),
    "/app/nothere.php": web(404),
    "/app/nothere.php/foo": web(404),
}

CONTENT_TYPE = ("Content-type", "text/html; charset=UTF-8")

# lighttpd keeps PHP's headers as sent (Content-type as PHP spells it), then adds its own (Accept-Ranges for a
# 200)
HEADERS = {
    "/teapot.php": [CONTENT_TYPE],
    "/status404.php": [CONTENT_TYPE],
    "/redirect.php": [("Location", "/x"), CONTENT_TYPE],
    "/cookies.php": [("Set-Cookie", "a=1"), ("Set-Cookie", "b=two%20words; path=/sub; HttpOnly"),
                     ("Set-Cookie", "c=3; SameSite=Strict"), CONTENT_TYPE, ("Accept-Ranges", "bytes")],
    "/headers.php": [("X-Custom", "custom value"), ("X-Multi", "one"), ("X-Multi", "two"),
                     ("Cache-Control", "no-store"), ("Set-Cookie", "session=abc123; path=/; HttpOnly"),
                     CONTENT_TYPE, ("Accept-Ranges", "bytes")],
}


class LighttpdCase(WebServerCase):
    EXPECT = EXPECT
    HEADERS = HEADERS

    @classmethod
    def make_web(cls, ws, server):
        return harness.Lighttpd(ws, server)


class LighttpdTcp(LighttpdCase, harness.TestCase):
    UNIX = False


class LighttpdUnix(LighttpdCase, harness.TestCase):
    UNIX = True


if __name__ == "__main__":
    harness.main()
