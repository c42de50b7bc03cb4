#!/usr/bin/python3
"""A Symfony 5.4 application from Debian's packages (HttpKernel, Routing, HttpFoundation; apps/symfony) served
in worker mode answers exactly as the same application in classic mode, and as PHP-FPM serves it: routes with
parameters and a query, a form POST, an upload, a cookie set and one sent back, a redirect, a 404 and a 500
page, twice in a row (so nothing of one request shows in the next). Status, body and headers but Date.

fpmd-only for its worker mode; PHP-FPM (classic) is the reference when it is installed."""

import frameworks
import harness

harness.require_fpmd("test_worker_symfony")


class Symfony(frameworks.FrameworkCase):
    APP = "symfony"
    AUTOLOAD = "/usr/share/php/Symfony/Component/HttpKernel/autoload.php"
    PACKAGE = "php-symfony-http-kernel"
    CASES = [
        ("GET", "/hello/world", "q=1", b"", None, None),
        ("POST", "/hello/post", "", b"", None, None),
        ("POST", "/form", "", b"a=1&b=two", "application/x-www-form-urlencoded", None),
        ("POST", "/form", "", frameworks.UPLOAD, frameworks.UPLOAD_TYPE, None),
        ("GET", "/cookie", "", b"", None, None),
        ("GET", "/cookie", "", b"", None, "c=abc"),
        ("GET", "/redirect", "", b"", None, None),
        ("GET", "/nothere", "", b"", None, None),
        ("GET", "/boom", "", b"", None, None),
    ]

    def test_worker_answers_as_classic_and_php_fpm(self):
        classic = self.answers()
        self.assertEqual([r[0] for r in classic], [200, 200, 200, 200, 200, 200, 302, 404, 500])
        self.assertEqual(classic[0][2], b"Hello world (GET, 1)\n")
        self.assertIn(("set-cookie", "c=set; path=/; httponly"), classic[4][1])
        self.assertEqual(classic[5][2], b"cookie=abc\n")
        self.assertEqual(classic[3][2], b'{"post":{"title":"t1"},"files":{"doc":["a.txt","file body"]}}\n')


if __name__ == "__main__":
    harness.main()
