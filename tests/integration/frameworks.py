"""What test_worker_symfony.py and test_worker_laravel.py share: one application of apps/NAME served in classic
mode, in worker mode (twice over, so nothing of one request shows in the next) and by PHP-FPM, compared request
by request (status, body, every header but Date)."""

import os
import shutil

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNDARY = "fpmdboundary"
UPLOAD = ("--%s\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
          "file body\r\n--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt1\r\n--%s--\r\n"
          % (BOUNDARY, BOUNDARY, BOUNDARY)).encode()
UPLOAD_TYPE = "multipart/form-data; boundary=" + BOUNDARY


class FrameworkCase(harness.FpmdTestCase):
    APP = None       # the folder of apps/ (index.php, worker.php)
    AUTOLOAD = None  # a file of the Debian package the app needs
    PACKAGE = None
    CASES = []       # (method, uri, query, body, content type, cookie)

    def setUp(self):
        super().setUp()
        if not os.path.exists(self.AUTOLOAD):
            self.skipTest("%s is not installed" % self.PACKAGE)
        self.app = os.path.join(self.ws.docroot, self.APP)
        if not os.path.isdir(self.app):
            shutil.copytree(os.path.join(HERE, "apps", self.APP), self.app)

    def request(self, endpoint, case):
        method, uri, query, body, ctype, cookie = case
        p = harness.cgi_params(self.ws, "/%s/index.php" % self.APP, query=query, method=method, body=body)
        p["REQUEST_URI"] = uri + ("?" + query if query else "")
        if ctype:
            p["CONTENT_TYPE"] = ctype
        if cookie:
            p["HTTP_COOKIE"] = cookie
        r = harness.fcgi_request(endpoint, p, body)[0]
        headers = sorted((k.lower(), v) for k, v in r.header_list if k.lower() not in ("date", "x-powered-by"))
        return r.status, headers, r.body

    def answers(self):
        """The classic pool's answers to CASES, once the worker pool's answered them alike twice over and
        PHP-FPM's (when installed) once."""
        s = self.fpmd({"classic": {"pm": {"mode": "static", "max_children": 1}},
                       "worker": {"pm": {"mode": "static", "max_children": 1},
                                  "worker": {"script": os.path.join(self.app, "worker.php")}}})
        classic = [self.request(s.endpoint("classic"), c) for c in self.CASES]
        worker = [self.request(s.endpoint("worker"), c) for c in self.CASES * 2]
        for i, c in enumerate(self.CASES):
            self.assertEqual(worker[i], classic[i], c)
            self.assertEqual(worker[len(self.CASES) + i], classic[i], ("second round", c))
        # the worker kept one application: the same worker served every request
        self.assertEqual(len(s.pool_workers("worker")), 1)
        if harness.php_fpm_available():
            ref = harness.PhpFpmServer(self.ws, {"max_children": 1})
            self.addCleanup(ref.stop)
            ref.start()
            self.assertEqual([self.request(ref, c) for c in self.CASES], classic)
        return classic
