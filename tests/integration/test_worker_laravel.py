#!/usr/bin/python3
"""A Laravel 8 application from Debian's php-laravel-framework (Illuminate Routing, Container, Events, Http;
apps/laravel) served in worker mode answers exactly as the same application in classic mode, and as PHP-FPM
serves it: a route with a parameter and a query, a form POST, an upload, a redirect, a 404 and a 500 page, twice
in a row (so nothing of one request shows in the next). Status, body and headers but Date.

fpmd-only for its worker mode; PHP-FPM (classic) is the reference when it is installed."""

import frameworks
import harness

harness.require_fpmd("test_worker_laravel")


class Laravel(frameworks.FrameworkCase):
    APP = "laravel"
    AUTOLOAD = "/usr/share/php/Illuminate/autoload.php"
    PACKAGE = "php-laravel-framework"
    CASES = [
        ("GET", "/hello/world", "q=1", b"", None, None),
        ("POST", "/form", "", b"a=1&b=two", "application/x-www-form-urlencoded", None),
        ("POST", "/form", "", frameworks.UPLOAD, frameworks.UPLOAD_TYPE, None),
        ("GET", "/redirect", "", b"", None, None),
        ("GET", "/nothere", "", b"", None, None),
        ("GET", "/boom", "", b"", None, None),
    ]

    def test_worker_answers_as_classic_and_php_fpm(self):
        classic = self.answers()
        self.assertEqual([r[0] for r in classic], [200, 200, 200, 302, 404, 500])
        self.assertEqual(classic[0][2], b"Hello world (GET, 1)\n")
        self.assertEqual(classic[1][2], b'{"post":{"a":"1","b":"two"},"files":[]}\n')
        self.assertEqual(classic[2][2], b'{"post":{"title":"t1"},"files":{"doc":["a.txt","file body"]}}\n')


if __name__ == "__main__":
    harness.main()
