#!/usr/bin/python3
"""Responses: headers, status codes, redirects, large and streamed output, exit(), fatal errors.

The expected bytes are PHP-FPM 8.2's, with Debian's fpm php.ini (output_buffering = 4096,
display_errors = Off, default_charset = UTF-8)."""

import hashlib
import time

import harness

CT = ("Content-type", "text/html; charset=UTF-8")


def big_body():
    return b"".join(b"%063d\n" % i for i in range(163840))


class Responses(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx = cls.start_nginx()

    def both(self, script):
        """The same request through cgi-fcgi and the raw client: they must agree byte for byte."""
        a = self.cgi(script)
        b, res = harness.fcgi_request(self.server, self.params(script))
        self.assertEqual((a.status, a.header_list, a.body), (b.status, b.header_list, b.body))
        self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
        return b, res

    def test_custom_headers(self):
        r, _ = self.both("/headers.php")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header_list, [("X-Custom", "custom value"), ("X-Multi", "one"), ("X-Multi", "two"),
                                         ("Cache-Control", "no-store"),
                                         ("Set-Cookie", "session=abc123; path=/; HttpOnly"), CT])
        self.assertEqual(r.body, b"headers\n")
        n = self.nginx.request("GET", "/headers.php")
        self.assertEqual(n.status, 200)
        self.assertEqual(n.header_values("X-Multi"), ["one", "two"])
        self.assertEqual(n.headers["x-custom"], "custom value")
        self.assertEqual(n.headers["set-cookie"], "session=abc123; path=/; HttpOnly")
        self.assertEqual(n.body, b"headers\n")

    def test_http_response_code_418(self):
        r, res = self.both("/teapot.php")
        self.assertEqual(res.stdout, b"Status: 418\r\nContent-type: text/html; charset=UTF-8\r\n\r\nshort and stout\n")
        self.assertEqual(r.status, 418)
        n = self.nginx.request("GET", "/teapot.php")
        self.assertEqual((n.status, n.body), (418, b"short and stout\n"))

    def test_location_redirect(self):
        r, res = self.both("/redirect.php")
        self.assertEqual(res.stdout, b"Status: 302 Found\r\nLocation: /x\r\nContent-type: text/html; charset=UTF-8\r\n\r\n")
        self.assertEqual((r.status, r.headers["location"], r.body), (302, "/x", b""))
        n = self.nginx.request("GET", "/redirect.php")
        self.assertEqual((n.status, n.headers["location"], n.body), (302, "/x", b""))

    def test_status_header(self):
        r, res = self.both("/status404.php")
        self.assertEqual(res.stdout, b"Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\ngone\n")
        n = self.nginx.request("GET", "/status404.php")
        self.assertEqual((n.status, n.body), (404, b"gone\n"))

    def test_large_output(self):
        expected = hashlib.md5(big_body()).hexdigest()
        r = self.cgi("/big.php")
        self.assertEqual((r.status, len(r.body), harness.md5(r.body)), (200, 10 * 1024 * 1024, expected))
        r, res = harness.fcgi_request(self.server, self.params("/big.php"))
        self.assertEqual((r.status, len(r.body), harness.md5(r.body)), (200, 10 * 1024 * 1024, expected))
        self.assertEqual(res.stderr, b"")
        for _ in range(2):  # the second one over nginx's kept upstream connection
            n = self.nginx.request("GET", "/big.php")
            self.assertEqual((n.status, len(n.body), harness.md5(n.body)), (200, 10 * 1024 * 1024, expected))

    def test_streamed_output(self):
        with harness.FcgiClient(self.server.port) as c:
            t0 = time.monotonic()
            c.send_request(self.params("/stream.php", query="us=1500000"))
            res = c.read_response()
        end = [t for t, rtype, _, _ in res.records if rtype == harness.FCGI_END_REQUEST][0]
        # when the STDOUT received so far first holds the whole "first\n"
        stdout, first_body = b"", None
        for t, rtype, _, content in res.records:
            if rtype == harness.FCGI_STDOUT:
                stdout += content
                if first_body is None and b"first\n" in stdout:
                    first_body = t
        harness.log("stream.php: 'first' after %.3fs, END_REQUEST after %.3fs" % (first_body - t0, end - t0))
        self.assertLess(first_body - t0, 1.0)
        self.assertGreater(end - first_body, 1.0)
        r = res.response()
        self.assertEqual((r.status, r.body), (200, b"first\nsecond\n"))

    def test_exit_in_function(self):
        r, _ = self.both("/exit.php")
        self.assertEqual((r.status, r.header_list, r.body), (200, [CT], b"before\nin function\n"))

    def test_fatal_error(self):
        # display_errors = Off: a 500 with an empty body; the message goes to FastCGI stderr.
        r, res = self.both("/fatal.php")
        self.assertEqual(res.stdout, b"Status: 500 Internal Server Error\r\nContent-type: text/html; charset=UTF-8\r\n\r\n")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.body, b"")
        self.assertIn(b"PHP Fatal error:  Uncaught Error: Call to undefined function this_function_does_not_exist()",
                      res.stderr)
        n = self.nginx.request("GET", "/fatal.php")
        self.assertEqual((n.status, n.body), (500, b""))
        self.assertServes()

    def test_fatal_error_after_buffered_output(self):
        # The output before the error was still buffered: the status can still become 500 and it is sent.
        r, res = self.both("/fatal_after_output.php")
        self.assertEqual(res.stdout, b"Status: 500 Internal Server Error\r\nContent-type: text/html; charset=UTF-8"
                                     b"\r\n\r\nbefore the error\n")
        n = self.nginx.request("GET", "/fatal_after_output.php")
        self.assertEqual((n.status, n.body), (500, b"before the error\n"))


if __name__ == "__main__":
    harness.main()
