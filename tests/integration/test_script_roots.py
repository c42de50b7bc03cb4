#!/usr/bin/python3
"""security.script_roots: where a pool's scripts may be, by their real path (symlinks followed).

Without it a script may be anywhere, as in PHP-FPM: an Apache Alias's SCRIPT_FILENAME outside DOCUMENT_ROOT
(Debian's phpMyAdmin), a symlink in the document root leading out of it (Debian's MediaWiki) are served, with
PHP-FPM's exact answers (both servers). With it (fpmd only), a script inside a root is served and one outside
every root is answered as a missing script is (404 "File not found.", "Primary script unknown" on FCGI_STDERR)
and logged; "$DOCUMENT_ROOT" is the request's DOCUMENT_ROOT.

The workspace: www/ (the document root) holds in.php -> where.php, out.php -> ../outside/where.php and wiki ->
../app; app/ is the Alias's folder; www2/ a sibling whose path starts with the document root's."""

import os
import re

import harness

NOT_FOUND = b"Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\nFile not found.\n"
REFUSED = r"^fpmd\[\d+\]: notice: \[pool www\] Refusing %s \(%s\): outside security\.script_roots\.$"
WHERE = "<?php\n// Where the script believes it is: its own path and the working directory\n" \
        "echo __FILE__, \"\\n\", getcwd(), \"\\n\";\n"


def layout(ws):
    """The folders and symlinks around the document root (see the module comment)."""
    for folder in ("app", "outside", "www2"):
        ws.write("../%s/where.php" % folder, WHERE)
    os.symlink("where.php", ws.script("/in.php"))
    os.symlink("../outside/where.php", ws.script("/out.php"))
    os.symlink("../app", ws.script("/wiki"))


class Requests:
    """The requests every case sends, as a web server would: (name, params)."""

    def __init__(self, ws):
        self.ws = ws

    def params(self, script, script_filename=None):
        return harness.cgi_params(self.ws, script, script_filename=script_filename)

    def docroot(self):
        return self.params("/where.php")

    def symlink_inside(self):
        return self.params("/in.php")

    def alias(self):
        # Apache: Alias /app WS/app, ProxyPassMatch or SetHandler: SCRIPT_FILENAME is the Alias's file, DOCUMENT_ROOT
        # stays the DocumentRoot
        return self.params("/app/where.php", script_filename=self.ws.path("app", "where.php"))

    def symlink_out(self):
        return self.params("/out.php")

    def symlinked_folder(self):
        return self.params("/wiki/where.php")

    def sibling(self):
        return self.params("/where.php", script_filename=self.ws.path("www2", "where.php"))


def where(ws, real_file, cwd):
    """where.php's answer: the script's real path and the folder it runs in."""
    return (200, ("%s\n%s\n" % (real_file, cwd)).encode())


class Anywhere(harness.TestCase):
    """No script_roots, both servers: PHP-FPM's answers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        layout(cls.ws)
        cls.requests = Requests(cls.ws)

    def answer(self, params):
        r, res = harness.fcgi_request(self.server, params)
        self.assertEqual(res.stderr, b"", params["SCRIPT_FILENAME"])
        return r.status, r.body

    def test_served_anywhere(self):
        ws, q = self.ws, self.requests
        self.assertEqual(self.answer(q.docroot()), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertEqual(self.answer(q.symlink_inside()), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertEqual(self.answer(q.alias()), where(ws, ws.path("app", "where.php"), ws.path("app")))
        # PHP resolves __FILE__; the script runs in the folder of the path it was given, as the kernel resolves it
        self.assertEqual(self.answer(q.symlink_out()), where(ws, ws.path("outside", "where.php"), ws.docroot))
        self.assertEqual(self.answer(q.symlinked_folder()), where(ws, ws.path("app", "where.php"), ws.path("app")))
        self.assertEqual(self.answer(q.sibling()), where(ws, ws.path("www2", "where.php"), ws.path("www2")))


@harness.fpmd_only("security.script_roots is fpmd's setting")
class Confined(harness.FpmdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        layout(cls.ws)
        cls.requests = Requests(cls.ws)

    def confined(self, roots):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1},
                               "security": {"limit_extensions": [".php"], "script_roots": roots}}})
        return s

    def assertServed(self, s, params, expected):
        r, res = harness.fcgi_request(s, params)
        self.assertEqual(((r.status, r.body), res.stderr), (expected, b""), params["SCRIPT_FILENAME"])

    def assertRefused(self, s, params, real):
        """The exact answer to a missing script, and one notice naming the script and its real path."""
        offset = s.log_offset()
        r, res = harness.fcgi_request(s, params)
        script = params["SCRIPT_FILENAME"]
        self.assertEqual((res.stdout, res.stderr), (NOT_FOUND, b"Primary script unknown"), script)
        self.assertEqual((r.status, r.body), (404, b"File not found.\n"))
        self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
        line = REFUSED % (re.escape(script), re.escape(real))
        self.assertIsNotNone(s.wait_log(line, offset, 5), s.log_text()[offset:])

    def test_document_root_only(self):
        ws, q = self.ws, self.requests
        s = self.confined(["$DOCUMENT_ROOT"])
        worker = s.pool_workers()
        self.assertServed(s, q.docroot(), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertServed(s, q.symlink_inside(), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertRefused(s, q.alias(), ws.path("app", "where.php"))
        self.assertRefused(s, q.symlink_out(), ws.path("outside", "where.php"))
        self.assertRefused(s, q.symlinked_folder(), ws.path("app", "where.php"))
        # www2 begins with www's path but is not inside it
        self.assertRefused(s, q.sibling(), ws.path("www2", "where.php"))
        # "$DOCUMENT_ROOT" is the request's: the Alias's folder as DOCUMENT_ROOT lets its scripts in
        self.assertServed(s, dict(q.alias(), DOCUMENT_ROOT=ws.path("app")),
                          where(ws, ws.path("app", "where.php"), ws.path("app")))
        # the same worker served and refused them all
        self.assertServed(s, q.docroot(), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertEqual(s.pool_workers(), worker)

    def test_document_root_and_an_alias_folder(self):
        # Debian's phpMyAdmin: script_roots = [ "$DOCUMENT_ROOT", "/usr/share/phpmyadmin" ]
        ws, q = self.ws, self.requests
        s = self.confined(["$DOCUMENT_ROOT", ws.path("app")])
        self.assertServed(s, q.docroot(), where(ws, ws.script("/where.php"), ws.docroot))
        self.assertServed(s, q.alias(), where(ws, ws.path("app", "where.php"), ws.path("app")))
        # by the real path: the symlinked folder leads into app, a root
        self.assertServed(s, q.symlinked_folder(), where(ws, ws.path("app", "where.php"), ws.path("app")))
        self.assertRefused(s, q.symlink_out(), ws.path("outside", "where.php"))
        self.assertRefused(s, q.sibling(), ws.path("www2", "where.php"))

    def test_roots_without_the_document_root(self):
        # A root given by its path only: the document root's own scripts are outside it
        ws, q = self.ws, self.requests
        s = self.confined([ws.path("outside")])
        self.assertRefused(s, q.docroot(), ws.script("/where.php"))
        self.assertServed(s, q.symlink_out(), where(ws, ws.path("outside", "where.php"), ws.docroot))
        self.assertRefused(s, q.alias(), ws.path("app", "where.php"))


if __name__ == "__main__":
    harness.main()
