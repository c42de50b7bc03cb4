#!/usr/bin/python3
"""Errors: missing script, a script outside security.limit_extensions, malformed FastCGI records.
After each, the same server still serves a normal request."""

import os
import re
import struct

import harness

NOT_FOUND = b"Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\nFile not found.\n"
DENIED = b"Status: 403 Forbidden\r\nContent-type: text/html; charset=UTF-8\r\n\r\nAccess denied.\n"


class Errors(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx = cls.start_nginx()

    def test_missing_script(self):
        for script in ("/missing.php", "/sub/nope.php", "/"):
            r, res = harness.fcgi_request(self.server, self.params(script))
            self.assertEqual(res.stdout, NOT_FOUND, script)
            self.assertEqual((r.status, r.body), (404, b"File not found.\n"))
            self.assertEqual(res.stderr, b"Primary script unknown")
            self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
            self.assertServes()
        r = self.cgi("/missing.php")
        self.assertEqual((r.status, r.header_list, r.body),
                         (404, [("Status", "404 Not Found"), ("Content-type", "text/html; charset=UTF-8")],
                          b"File not found.\n"))
        n = self.nginx.request("GET", "/missing.php?x=1")
        self.assertEqual((n.status, n.body), (404, b"File not found.\n"))
        self.assertEqual(self.nginx.request("GET", "/hello.php").body, b"hello\n")

    def test_limit_extensions(self):
        for script in ("/note.txt", "/code.txt", "/sub"):
            r, res = harness.fcgi_request(self.server, self.params(script))
            self.assertEqual(res.stdout, DENIED, script)
            self.assertEqual((r.status, r.body), (403, b"Access denied.\n"))
            self.assertEqual(res.stderr, ("Access to the script '%s' has been denied (see security.limit_extensions)"
                                          % (self.ws.docroot + script)).encode())
            self.assertServes()
        r = self.cgi("/code.txt")
        self.assertEqual((r.status, r.body), (403, b"Access denied.\n"))  # never parsed as PHP

    def test_directory_named_like_a_script(self):
        # docroot/dir.php is a directory: PHP-FPM cannot open it as a script
        r, res = harness.fcgi_request(self.server, self.params("/dir.php"))
        self.assertEqual((r.status, r.body), (404, b"No input file specified.\n"))
        self.assertServes()
        # Again on one kept connection, so one worker: from the second request on, PHP's realpath cache knows it
        with harness.FcgiClient(self.server.port, timeout=10) as c:
            for i in range(4):
                res = c.request(self.params("/dir.php"), keep_conn=True)
                self.assertEqual(harness.parse_cgi(res.stdout).body, b"No input file specified.\n", i)
                res = c.request(self.params("/hello.php"), keep_conn=True)
                self.assertEqual(harness.parse_cgi(res.stdout).body, b"hello\n", i)

    def assertClosedAndStillServing(self, data, what):
        workers = self.server.workers()
        with harness.FcgiClient(self.server.port, timeout=10) as c:
            c.send(data)
            self.assertTrue(c.is_closed(5), "%s: the connection stays open" % what)
        self.assertServes(msg=what)
        self.assertEqual(self.server.workers(), workers, "%s: a worker died" % what)

    def hello_records(self):
        pairs = b"".join(harness.fcgi_pair(k, v) for k, v in self.params("/hello.php").items())
        return harness.fcgi_stream(harness.FCGI_PARAMS, 1, pairs) + harness.fcgi_stream(harness.FCGI_STDIN, 1, b"")

    def test_bad_version_zero(self):
        begin = harness.fcgi_record(harness.FCGI_BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0), version=0)
        self.assertClosedAndStillServing(begin + self.hello_records(), "version 0")

    @harness.fpmd_only("PHP-FPM accepts any version >= 1 and serves the request")
    def test_bad_version_two(self):
        begin = harness.fcgi_record(harness.FCGI_BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0), version=2)
        self.assertClosedAndStillServing(begin + self.hello_records(), "version 2")

    def test_bad_version_two_php_fpm_record(self):
        if harness.IS_FPMD:
            self.skipTest("records what PHP-FPM does")
        begin = harness.fcgi_record(harness.FCGI_BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0), version=2)
        with harness.FcgiClient(self.server.port) as c:
            c.send(begin + self.hello_records())
            res = c.read_response()
        harness.log("PHP-FPM, version 2 record: served %r" % res.stdout)

    def test_pair_length_past_record(self):
        # name length 5, value length 127, but the record holds 10 bytes of them
        params = harness.fcgi_record(harness.FCGI_PARAMS, 1, b"\x05\x7fABCDEvalue") + \
            harness.fcgi_record(harness.FCGI_PARAMS, 1)
        self.assertClosedAndStillServing(harness.fcgi_begin(1) + params +
                                         harness.fcgi_stream(harness.FCGI_STDIN, 1, b""), "1-byte lengths")

    def test_pair_four_byte_length_past_record(self):
        params = harness.fcgi_record(harness.FCGI_PARAMS, 1, b"\x05\xff\xff\xff\xffABCDEvalue") + \
            harness.fcgi_record(harness.FCGI_PARAMS, 1)
        self.assertClosedAndStillServing(harness.fcgi_begin(1) + params +
                                         harness.fcgi_stream(harness.FCGI_STDIN, 1, b""), "4-byte lengths")

    def test_pair_past_record_after_good_pairs(self):
        good = b"".join(harness.fcgi_pair(k, v) for k, v in self.params("/hello.php").items())
        params = harness.fcgi_record(harness.FCGI_PARAMS, 1, good + b"\x80\x00\x01\x00\x01X") + \
            harness.fcgi_record(harness.FCGI_PARAMS, 1)
        self.assertClosedAndStillServing(harness.fcgi_begin(1) + params +
                                         harness.fcgi_stream(harness.FCGI_STDIN, 1, b""), "long name")

    def test_http_on_the_fastcgi_port(self):
        self.assertClosedAndStillServing(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP request")

    def test_truncated_then_closed_by_client(self):
        # The client hangs up in the middle of a record: the worker goes back to serving.
        workers = self.server.workers()
        for cut in (3, 8, 20):
            data = harness.fcgi_begin(1) + self.hello_records()
            with harness.FcgiClient(self.server.port) as c:
                c.send(data[:cut])
        self.assertServes()
        self.assertEqual(self.server.workers(), workers)


class StartupFailure(harness.FpmdTestCase):
    """A request PHP cannot start: a form POST whose variables exceed memory_limit while PHP reads them, a fatal
    error inside php_request_startup(). fpmd answers 500, logs it and its access line, closes the body's file
    and ends PHP's request, and the same worker serves on. (PHP-FPM's worker exits and the client gets no
    answer at all.)"""

    def setUp(self):
        super().setUp()
        if harness.IS_PHP_FPM:
            self.skipTest("fpmd-only: PHP-FPM's worker exits")

    def test_fatal_while_php_starts_the_request(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "access_log": True,
                               "php_admin_value": {"memory_limit": "4M"}}})
        worker = s.pool_workers()
        fds = len(os.listdir("/proc/%d/fd" % worker[0]))
        offset = s.log_offset()
        form = "&".join("v%d=%s" % (i, "x" * 8000) for i in range(900)).encode()
        for i in range(3):
            r = harness.cgi_fcgi(s, harness.cgi_params(self.ws, "/post_echo.php", method="POST", body=form,
                                                       content_type="application/x-www-form-urlencoded"), form)
            self.assertEqual((r.status, r.body), (500, b""))
        lines = s.log_lines(offset)
        self.assertEqual(len([l for l in lines if "PHP failed to start the request for %s."
                              % self.ws.script("/post_echo.php") in l]), 3, lines)
        self.assertEqual(len([l for l in lines if re.search(r'^127\.0\.0\.1 - - .* "POST /post_echo\.php" 500$', l)]),
                         3, lines)
        self.assertEqual(s.pool_workers(), worker)
        # the last connection is closed just after its END_REQUEST went out: wait for that, not for a leak
        harness.wait_for(lambda: len(os.listdir("/proc/%d/fd" % worker[0])) == fds, 5)
        self.assertEqual(len(os.listdir("/proc/%d/fd" % worker[0])), fds)

        # The worker goes on: a fatal error of a script (a bailout of its own) and then a normal request
        r = harness.cgi_fcgi(s, harness.cgi_params(self.ws, "/fatal.php"))
        self.assertEqual(r.status, 500)
        r = harness.cgi_fcgi(s, harness.cgi_params(self.ws, "/post_echo.php", method="POST", body=b"seq=7&text=abc",
                                                   content_type="application/x-www-form-urlencoded"), b"seq=7&text=abc")
        self.assertEqual((r.status, r.body), (200, b"4M 7 3\n"))
        self.assertEqual(s.pool_workers(), worker)
        # the last connection is closed just after its END_REQUEST went out: wait for that, not for a leak
        harness.wait_for(lambda: len(os.listdir("/proc/%d/fd" % worker[0])) == fds, 5)
        self.assertEqual(len(os.listdir("/proc/%d/fd" % worker[0])), fds)


if __name__ == "__main__":
    harness.main()
