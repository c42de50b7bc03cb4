"""What test_worker_symfony.py and test_worker_laravel.py share: one application of apps/NAME (a front controller,
index.php, and its worker script, worker.php) served by fpmd in classic mode, by fpmd in worker mode (twice over,
so nothing of one request shows in the next) and by PHP-FPM, compared request by request: status, body and every
header but Date (and Server, Keep-Alive from the web server). Three paths to each: a raw FastCGI client, nginx
with the frameworks' own documented configuration (try_files to the front controller), and Apache with
Debian's php8.2-fpm.conf SetHandler and a FallbackResource to the front controller."""

import os
import shutil
import uuid

import appkit
import harness

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNDARY = "fpmdboundary"
UPLOAD = ("--%s\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
          "file body\r\n--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt1\r\n--%s--\r\n"
          % (BOUNDARY, BOUNDARY, BOUNDARY)).encode()
UPLOAD_TYPE = "multipart/form-data; boundary=" + BOUNDARY
# Headers the web server writes itself, or that differ by the second
IGNORED = ("date", "x-powered-by", "server", "keep-alive")


class FrameworkCase(harness.FpmdTestCase):
    APP = None       # the folder of apps/ (index.php, worker.php)
    AUTOLOAD = None  # a file of the Debian package the app needs
    PACKAGE = None
    # (method, uri, query, body, content type, cookie); "{sid}" in a cookie is a session id of the round's own
    CASES = []

    def check(self, answers):
        """The application's own expectations of the classic answers (which the others must equal)."""
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        if not os.path.exists(self.AUTOLOAD):
            self.skipTest("%s is not installed" % self.PACKAGE)
        self.app = os.path.join(self.ws.docroot, self.APP)
        if not os.path.isdir(self.app):
            shutil.copytree(os.path.join(HERE, "apps", self.APP), self.app)

    def cookie(self, case, sid):
        return case[5].replace("{sid}", sid) if case[5] else None

    # -- the three paths --------------------------------------------------------------------------------------

    def fcgi(self, backend, case, sid):
        method, uri, query, body, ctype, _ = case
        p = harness.cgi_params(self.ws, "/%s/index.php" % self.APP, query=query, method=method, body=body)
        p["REQUEST_URI"] = uri + ("?" + query if query else "")
        if ctype:
            p["CONTENT_TYPE"] = ctype
        if self.cookie(case, sid):
            p["HTTP_COOKIE"] = self.cookie(case, sid)
        r = harness.fcgi_request(backend, p, body)[0]
        return r.status, r.header_list, r.body

    def http(self, front, case, sid):
        method, uri, query, body, ctype, _ = case
        headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        if self.cookie(case, sid):
            headers["Cookie"] = self.cookie(case, sid)
        r = front.request(method, "/%s%s%s" % (self.APP, uri, "?" + query if query else ""), body=body or None,
                          headers=headers)
        return r.status, r.header_list, r.body

    def nginx(self, backend):
        # Symfony's and Laravel's documented nginx server block, the app in a folder of the docroot
        conf = """\
        root {docroot};
        location /{app}/ {{
            try_files $uri /{app}/index.php$is_args$args;
        }}
        location ~ ^/{app}/index\\.php(/|$) {{
            fastcgi_split_path_info ^(.+\\.php)(/.*)$;
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
            fastcgi_param DOCUMENT_ROOT $realpath_root;
            fastcgi_pass php;
        }}
""".format(docroot=self.ws.docroot, app=self.APP)
        n = appkit.AppNginx(self.ws, backend, conf)
        self.addCleanup(n.stop)
        return n.start()

    def apache(self, backend):
        # Debian's php8.2-fpm.conf (SetHandler to the pool) and the frameworks' FallbackResource
        a = harness.Apache(self.ws, backend, "sethandler", "<Directory %s>\n    FallbackResource /%s/index.php\n"
                           "</Directory>\n" % (self.app, self.APP))
        self.addCleanup(a.stop)
        return a.start()

    # -- the comparison ---------------------------------------------------------------------------------------

    def round(self, ask, target):
        """CASES asked of target, each answer (status, headers but IGNORED, sorted, body)."""
        sid = "fpmdtest" + uuid.uuid4().hex  # a session of its own: the session files outlive the test
        out = []
        for c in self.CASES:
            status, headers, body = ask(target, c, sid)
            out.append((status, sorted((k.lower(), v) for k, v in headers if k.lower() not in IGNORED), body))
        return out

    def answers(self, front=None):
        """The classic pool's answers to CASES, once the worker pool's answered them alike twice over and
        PHP-FPM's (when installed) once; front: None (raw FastCGI), "nginx" or "apache"."""
        s = self.fpmd({"classic": {"pm": {"mode": "static", "max_children": 1}},
                       "worker": {"pm": {"mode": "static", "max_children": 1},
                                  "worker": {"script": os.path.join(self.app, "worker.php")}}})
        ask = {None: self.fcgi, "nginx": self.http, "apache": self.http}[front]
        start = {None: lambda backend: backend, "nginx": self.nginx, "apache": self.apache}[front]
        classic = self.round(ask, start(s.endpoint("classic")))
        worker = start(s.endpoint("worker"))
        for n in ("first", "second"):
            got = self.round(ask, worker)
            for i, c in enumerate(self.CASES):
                self.assertEqual(got[i], classic[i], (front, n, "round", c))
        # the worker kept one application: the same worker served every request
        self.assertEqual(len(s.pool_workers("worker")), 1)
        if harness.php_fpm_available():
            ref = harness.PhpFpmServer(self.ws, {"max_children": 1})
            self.addCleanup(ref.stop)
            ref.start()
            got = self.round(ask, start(ref))
            for i, c in enumerate(self.CASES):
                self.assertEqual(got[i], classic[i], (front, "PHP-FPM", c))
        return classic

    # -- the tests every application runs --------------------------------------------------------------------

    def test_worker_answers_as_classic_and_php_fpm(self):
        self.check(self.answers())

    def test_behind_nginx(self):
        self.check(self.answers("nginx"))

    def test_behind_apache(self):
        self.check(self.answers("apache"))
