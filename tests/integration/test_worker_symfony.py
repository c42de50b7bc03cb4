#!/usr/bin/python3
"""A Symfony 5.4 application from Debian's packages (HttpKernel, Routing, HttpFoundation with its session
storage, a Twig page; apps/symfony) served in worker mode answers exactly as the same application in classic
mode, and as PHP-FPM serves it: routes with parameters and a query, a Twig page escaping what it was given, a
form POST, an upload, a cookie set and one sent back, a session counting visits, a redirect, a 404 and a 500
page, twice in a row (so nothing of one request shows in the next). Status, body and headers but Date; through a
raw FastCGI client, nginx and Apache.

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
        ("GET", "/page/w%3Cx%3E", "a=%3Cb%3E&n=2", b"", None, None),
        ("POST", "/form", "", b"a=1&b=two", "application/x-www-form-urlencoded", None),
        ("POST", "/form", "", frameworks.UPLOAD, frameworks.UPLOAD_TYPE, None),
        ("GET", "/cookie", "", b"", None, None),
        ("GET", "/cookie", "", b"", None, "c=abc"),
        ("GET", "/session", "", b"", None, "PHPSESSID={sid}"),
        ("GET", "/session", "", b"", None, "PHPSESSID={sid}"),
        ("GET", "/redirect", "", b"", None, None),
        ("GET", "/nothere", "", b"", None, None),
        ("GET", "/boom", "", b"", None, None),
    ]

    def check(self, answers):
        self.assertEqual([r[0] for r in answers], [200, 200, 200, 200, 200, 200, 200, 200, 200, 302, 404, 500])
        self.assertEqual(answers[0][2], b"Hello world (GET, 1)\n")
        self.assertEqual(answers[2][2], b"<h1>Hello w&lt;x&gt;</h1>\n<ul>\n  <li>a = &lt;b&gt;</li>\n"
                                        b"  <li>n = 2</li>\n</ul>\n")
        self.assertEqual(answers[4][2], b'{"post":{"title":"t1"},"files":{"doc":["a.txt","file body"]}}\n')
        self.assertIn(("set-cookie", "c=set; path=/; httponly"), answers[5][1])
        self.assertEqual(answers[6][2], b"cookie=abc\n")
        self.assertEqual((answers[7][2], answers[8][2]), (b"visits=1\n", b"visits=2\n"))
        self.assertIn(("location", "/hello/there"), answers[9][1])


if __name__ == "__main__":
    harness.main()
