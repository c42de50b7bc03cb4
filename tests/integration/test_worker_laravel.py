#!/usr/bin/python3
"""A Laravel 8 application from Debian's php-laravel-framework (Illuminate Routing, Container, Events, Http;
apps/laravel) served in worker mode answers exactly as the same application in classic mode, and as PHP-FPM
serves it: a route with a parameter and a query, a form POST, an upload, a redirect, a 404 and a 500 page, twice
in a row (so nothing of one request shows in the next). Status, body and headers but Date.

fpmd-only for its worker mode; PHP-FPM (classic) is the reference when it is installed."""

import os
import shutil

import harness

harness.require_fpmd("test_worker_laravel")

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNDARY = "fpmdboundary"
UPLOAD = ("--%s\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
          "file body\r\n--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt1\r\n--%s--\r\n"
          % (BOUNDARY, BOUNDARY, BOUNDARY)).encode()
CASES = [
    ("GET", "/hello/world", "q=1", b"", None, None),
    ("POST", "/form", "", b"a=1&b=two", "application/x-www-form-urlencoded", None),
    ("POST", "/form", "", UPLOAD, "multipart/form-data; boundary=" + BOUNDARY, None),
    ("GET", "/redirect", "", b"", None, None),
    ("GET", "/nothere", "", b"", None, None),
    ("GET", "/boom", "", b"", None, None),
]


class Laravel(harness.FpmdTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists("/usr/share/php/Illuminate/autoload.php"):
            self.skipTest("php-laravel-framework is not installed")
        self.app = os.path.join(self.ws.docroot, "laravel")
        if not os.path.isdir(self.app):
            shutil.copytree(os.path.join(HERE, "apps", "laravel"), self.app)

    def request(self, endpoint, case):
        method, uri, query, body, ctype, cookie = case
        p = harness.cgi_params(self.ws, "/laravel/index.php", query=query, method=method, body=body)
        p["REQUEST_URI"] = uri + ("?" + query if query else "")
        if ctype:
            p["CONTENT_TYPE"] = ctype
        if cookie:
            p["HTTP_COOKIE"] = cookie
        r = harness.fcgi_request(endpoint, p, body)[0]
        headers = sorted((k.lower(), v) for k, v in r.header_list if k.lower() not in ("date", "x-powered-by"))
        return r.status, headers, r.body

    def test_worker_answers_as_classic_and_php_fpm(self):
        s = self.fpmd({"classic": {"pm": {"mode": "static", "max_children": 1}},
                       "worker": {"pm": {"mode": "static", "max_children": 1},
                                  "worker": {"script": os.path.join(self.app, "worker.php")}}})
        classic = [self.request(s.endpoint("classic"), c) for c in CASES]
        worker = [self.request(s.endpoint("worker"), c) for c in CASES * 2]
        for i, c in enumerate(CASES):
            self.assertEqual(worker[i], classic[i], c)
            self.assertEqual(worker[len(CASES) + i], classic[i], ("second round", c))
        self.assertEqual([r[0] for r in classic], [200, 200, 200, 302, 404, 500])
        self.assertEqual(classic[0][2], b"Hello world (GET, 1)\n")
        self.assertEqual(classic[1][2], b'{"post":{"a":"1","b":"two"},"files":[]}\n')
        self.assertEqual(classic[2][2], b'{"post":{"title":"t1"},"files":{"doc":["a.txt","file body"]}}\n')
        # the worker kept one application: the same worker served every request
        self.assertEqual(len(s.pool_workers("worker")), 1)
        if harness.php_fpm_available():
            ref = harness.PhpFpmServer(self.ws, {"max_children": 1})
            self.addCleanup(ref.stop)
            ref.start()
            self.assertEqual([self.request(ref, c) for c in CASES], classic)


if __name__ == "__main__":
    harness.main()
