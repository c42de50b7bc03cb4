#!/usr/bin/python3
"""Caddy 2.6 (Debian 12's caddy) php_fastcgi in front of the server under test, over TCP and over a unix socket
(harness.Caddy), with an application folder outside the docroot under handle_path /app/*. For each, the
$_SERVER path variables PHP-FPM 8.2 gives for each URL shape, and the status, headers and bodies of a few
responses.

What Caddy sends (tests/unit/data/pathinfo-cases.txt has every param, in the order of one run: Caddy sends
them in random order, a Go map): SCRIPT_FILENAME the script alone, SCRIPT_NAME, PATH_INFO always (empty when
there is none, decoded), PATH_TRANSLATED only with a PATH_INFO, DOCUMENT_URI, and empty AUTH_TYPE, REMOTE_IDENT,
REMOTE_USER, HTTP_USER_AGENT. php_fastcgi's try_files sends any URL without an existing script to index.php
(/nothere.php, /dir.php/), and redirects a folder with an index.php to its slash (308). handle_path strips
/app: SCRIPT_NAME=/info.php, DOCUMENT_ROOT the application folder."""

import harness
from webcases import WebServerCase, php, web

EXPECT = {
    "/info.php": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php", PATH_INFO="",
                     DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php", QUERY_STRING="", FILE="{D}/info.php"),
    "/info.php?x=1": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{D}/info.php", PHP_SELF="/info.php",
                         PATH_INFO="", DOCUMENT_ROOT="{D}", REQUEST_URI="/info.php?x=1", QUERY_STRING="x=1",
                         FILE="{D}/info.php"),
    "/sub/info.php": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{D}/sub/info.php", PHP_SELF="/sub/info.php",
                         PATH_INFO="", DOCUMENT_ROOT="{D}", REQUEST_URI="/sub/info.php", QUERY_STRING="",
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
    "/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php", PATH_INFO="",
             DOCUMENT_ROOT="{D}", REQUEST_URI="/", QUERY_STRING="", FILE="{D}/index.php"),
    # split_path .php finds no file in /dir.php (a folder): try_files falls back to /index.php
    "/dir.php/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php", PATH_INFO="",
                     DOCUMENT_ROOT="{D}", REQUEST_URI="/dir.php/", QUERY_STRING="", FILE="{D}/index.php"),
    "/dir.php": web(308, "/dir.php/"),
    "/nothere.php": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php",
                        PATH_INFO="", DOCUMENT_ROOT="{D}", REQUEST_URI="/nothere.php", QUERY_STRING="",
                        FILE="{D}/index.php"),
    "/nothere.php/foo": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{D}/index.php", PHP_SELF="/index.php",
                            PATH_INFO="", DOCUMENT_ROOT="{D}", REQUEST_URI="/nothere.php/foo", QUERY_STRING="",
                            FILE="{D}/index.php"),
    # handle_path /app/* { root * {A} ... }
    "/app/info.php": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/info.php", PATH_INFO="",
                         DOCUMENT_ROOT="{A}", REQUEST_URI="/app/info.php", QUERY_STRING="", FILE="{A}/info.php"),
    "/app/info.php?x=1": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{A}/info.php", PHP_SELF="/info.php",
                             PATH_INFO="", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/info.php?x=1", QUERY_STRING="x=1",
                             FILE="{A}/info.php"),
    "/app/info.php/foo/bar": php(SCRIPT_NAME="/info.php", SCRIPT_FILENAME="{A}/info.php",
                                 PHP_SELF="/info.php/foo/bar", PATH_INFO="/foo/bar", PATH_TRANSLATED="{A}/foo/bar",
                                 DOCUMENT_ROOT="{A}", REQUEST_URI="/app/info.php/foo/bar", QUERY_STRING="",
                                 FILE="{A}/info.php"),
    "/app/sub/info.php/a%20b/c?y": php(SCRIPT_NAME="/sub/info.php", SCRIPT_FILENAME="{A}/sub/info.php",
                                       PHP_SELF="/sub/info.php/a b/c", PATH_INFO="/a b/c",
                                       PATH_TRANSLATED="{A}/a b/c", DOCUMENT_ROOT="{A}",
                                       REQUEST_URI="/app/sub/info.php/a%20b/c?y", QUERY_STRING="y",
                                       FILE="{A}/sub/info.php"),
    "/app/": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{A}/index.php", PHP_SELF="/index.php", PATH_INFO="",
                 DOCUMENT_ROOT="{A}", REQUEST_URI="/app/", QUERY_STRING="", FILE="{A}/index.php"),
    "/app/nothere.php": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{A}/index.php", PHP_SELF="/index.php",
                            PATH_INFO="", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/nothere.php", QUERY_STRING="",
                            FILE="{A}/index.php"),
    "/app/nothere.php/foo": php(SCRIPT_NAME="/index.php", SCRIPT_FILENAME="{A}/index.php", PHP_SELF="/index.php",
                                PATH_INFO="", DOCUMENT_ROOT="{A}", REQUEST_URI="/app/nothere.php/foo",
                                QUERY_STRING="", FILE="{A}/index.php"),
}

CONTENT_TYPE = ("Content-Type", "text/html; charset=UTF-8")

# Caddy writes the headers sorted by name, a repeated one as separate lines, and passes PHP's Status: on
HEADERS = {
    "/teapot.php": [CONTENT_TYPE, ("Status", "418")],
    "/status404.php": [CONTENT_TYPE, ("Status", "404 Not Found")],
    "/redirect.php": [CONTENT_TYPE, ("Location", "/x"), ("Status", "302 Found")],
    "/cookies.php": [CONTENT_TYPE, ("Set-Cookie", "a=1"), ("Set-Cookie", "b=two%20words; path=/sub; HttpOnly"),
                     ("Set-Cookie", "c=3; SameSite=Strict")],
    "/headers.php": [("Cache-Control", "no-store"), CONTENT_TYPE, ("Set-Cookie", "session=abc123; path=/; HttpOnly"),
                     ("X-Custom", "custom value"), ("X-Multi", "one"), ("X-Multi", "two")],
}


class CaddyCase(WebServerCase):
    EXPECT = EXPECT
    HEADERS = HEADERS

    @classmethod
    def make_web(cls, ws, server):
        return harness.Caddy(ws, server)


class CaddyTcp(CaddyCase, harness.TestCase):
    UNIX = False


class CaddyUnix(CaddyCase, harness.TestCase):
    UNIX = True


if __name__ == "__main__":
    harness.main()
