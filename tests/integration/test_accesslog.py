#!/usr/bin/python3
"""The access log: access_log = true writes one line per request, rendered from the pool's access_format (PHP-FPM's
access.format codes), to stderr when fpmd runs by hand (to the journal under systemd).

- the default format, "%R - %u %t \"%m %r\" %s";
- a format with every code and the modifiers: exact values where they are deterministic (method, URI, query, status
  of 200/404/302 answers, pool, worker and leader pids, body length of a POST, %R of a TCP and of a unix socket
  pool, the basic-auth user, a response header the script set, a param of the request), the shape and range of the
  others (times, durations, memory, CPU);
- an invalid access_format stops fpmd from starting, naming the file and the line of the setting;
- access_log = false writes nothing.

Expectations were checked against PHP-FPM 8.2 with the same format. fpmd differs on purpose in two places: %u of a
request without a user is "-" (PHP-FPM 8.2 prints nothing, though its code means "-"), and %{Name}o finds a header
whatever the case of its name (PHP-FPM compares case-sensitively, so it misses "Content-type", the spelling PHP uses
for a text/ type it appended the charset to).

fpmd-only: the pool settings and the log lines are fpmd's."""

import base64
import datetime
import re
import subprocess
import time

import harness

harness.require_fpmd("test_accesslog")

SUP = r"fpmd\[\d+\]: "

# Every code, in one line, '|'-separated, behind a marker no other line of fpmd's starts with
EVERY = ("ACCESS|%C|%{user}C|%{system}C|%{total}C|%d|%{seconds}d|%{mili}d|%{milli}d|%{micro}d|%{HTTP_HOST}e|"
         "%{NO_SUCH_PARAM}e|%f|%l|%m|%M|%{bytes}M|%{kilo}M|%{mega}M|%n|%{X-Log}o|%{Content-Type}o|%{content-type}o|"
         "%{Location}o|%p|%P|%q|%Q|%r|%R|%s|%t|%T|%{%Y-%m-%d}t|%{%H:%M}T|%u|%%")
FIELDS = ["marker", "C", "C_user", "C_system", "C_total", "d", "d_seconds", "d_mili", "d_milli", "d_micro",
          "e_host", "e_missing", "f", "l", "m", "M", "M_bytes", "M_kilo", "M_mega", "n", "o_xlog", "o_ct",
          "o_ct_lower", "o_location", "p", "P", "q", "Q", "r", "R", "s", "t", "T", "t_date", "T_hm", "u", "percent"]

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def parse_time(text):
    return datetime.datetime.strptime(text, TIME_FORMAT).timestamp()


class AccessLog(harness.FpmdTestCase):
    def access_lines(self, s, since, marker="ACCESS|", count=1, timeout=5):
        """The access lines (with the marker) written after log offset since, waiting until there are count."""
        def lines():
            found = [l for l in s.log_lines(since) if l.startswith(marker)]
            return found if len(found) >= count else None
        found = harness.wait_for(lines, timeout) or [l for l in s.log_lines(since) if l.startswith(marker)]
        return found

    def one_request(self, s, script, server=None, **kw):
        """One request through cgi-fcgi; returns (response, its access line as a dict, start, end)."""
        offset = s.log_offset()
        t0 = time.time()
        body = kw.pop("body", b"")
        r = harness.cgi_fcgi(server or s, self.params(script, body=body, **kw), body)
        t1 = time.time()
        lines = self.access_lines(s, offset)
        self.assertEqual(len(lines), 1, s.log_text()[offset:])
        values = lines[0].split("|")
        self.assertEqual(len(values), len(FIELDS), lines[0])
        return r, dict(zip(FIELDS, values)), t0, t1

    def assert_common(self, s, line, t0, t1, script_file, pool="shop"):
        """What every line of the EVERY format holds, whatever the request."""
        # the request was served by the pool's only worker; %P is its parent, the pool's leader
        self.assertEqual(int(line["p"]), s.pool_workers(pool)[0], line)
        self.assertEqual(int(line["P"]), s.leader(pool), line)
        self.assertEqual(line["n"], pool)
        self.assertEqual(line["e_host"], "localhost")
        self.assertEqual(line["e_missing"], "-")
        self.assertEqual(line["f"], script_file)
        self.assertEqual(line["percent"], "%")
        # times: the request's start (%t) and the line's (%T), within the request, in the default layout
        for k in ("t", "T"):
            self.assertRegex(line[k], r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")
            self.assertGreaterEqual(parse_time(line[k]), int(t0) - 1, line)
            self.assertLessEqual(parse_time(line[k]), t1 + 1, line)
        self.assertLessEqual(parse_time(line["t"]), parse_time(line["T"]))
        self.assertIn(line["t_date"], {time.strftime("%Y-%m-%d", time.localtime(t)) for t in (t0, t1)})
        self.assertIn(line["T_hm"], {time.strftime("%H:%M", time.localtime(t)) for t in (t0, t1)})
        # durations: %d and %{seconds}d in seconds, %{mili}d in milliseconds, all with three decimals
        for k in ("d", "d_seconds", "d_mili", "d_milli"):
            self.assertRegex(line[k], r"^\d+\.\d{3}$", k)
        self.assertRegex(line["d_micro"], r"^\d+$")
        micro = int(line["d_micro"])
        self.assertLessEqual(micro, (t1 - t0) * 1e6 + 1000)
        self.assertAlmostEqual(float(line["d"]), micro / 1e6, delta=0.002)
        self.assertEqual(line["d"], line["d_seconds"])
        self.assertAlmostEqual(float(line["d_mili"]), micro / 1e3, delta=2)
        self.assertEqual(line["d_mili"], line["d_milli"])
        # memory: bytes, kilobytes and megabytes of the same peak
        for k in ("M", "M_bytes", "M_kilo", "M_mega"):
            self.assertRegex(line[k], r"^\d+$", k)
        self.assertGreater(int(line["M"]), 0)
        self.assertEqual(line["M"], line["M_bytes"])
        self.assertEqual(int(line["M_kilo"]), int(line["M"]) // 1024)
        self.assertEqual(int(line["M_mega"]), int(line["M"]) // 1024 // 1024)
        # CPU shares: percents with two decimals
        for k in ("C", "C_user", "C_system", "C_total"):
            self.assertRegex(line[k], r"^\d+\.\d\d$", k)
        self.assertAlmostEqual(float(line["C"]), float(line["C_user"]) + float(line["C_system"]), delta=0.02)
        self.assertEqual(line["C"], line["C_total"])

    def every_code_server(self):
        return self.fpmd({"shop": {"pm": {"mode": "static", "max_children": 1}, "access_log": True,
                                   "access_format": EVERY}})

    # -------------------------------------------------------------------------------------------------------

    def test_default_format(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "access_log": True}})
        offset = s.log_offset()
        t0 = time.time()
        r = self.cgi("/hello.php", server=s, query="a=1")
        t1 = time.time()
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        r = self.cgi("/nope.php", server=s)
        self.assertEqual(r.status, 404)
        lines = self.access_lines(s, offset, marker="127.0.0.1 ", count=2)
        self.assertEqual(len(lines), 2, s.log_text()[offset:])
        # PHP-FPM's default: %R - %u %t "%m %r" %s (%r is the script's URI, without the query)
        m = re.fullmatch(r'127\.0\.0\.1 - - (\S+ [+-]\d{4}) "GET /hello\.php" 200', lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertGreaterEqual(parse_time(m.group(1)), int(t0) - 1)
        self.assertLessEqual(parse_time(m.group(1)), t1 + 1)
        self.assertRegex(lines[1], r'^127\.0\.0\.1 - - \S+ [+-]\d{4} "GET /nope\.php" 404$')
        # nothing else but the two lines: no line of fpmd's own for a request
        others = [l for l in s.log_lines(offset) if not l.startswith("127.0.0.1 ")]
        self.assertEqual(others, [])

    def test_every_code_get(self):
        s = self.every_code_server()
        r, line, t0, t1 = self.one_request(s, "/accesslog.php", server=s.endpoint("shop"), query="h=one&ms=300")
        self.assertEqual((r.status, r.body), (200, b"0\n"))
        self.assert_common(s, line, t0, t1, self.ws.script("/accesslog.php"))
        self.assertEqual((line["m"], line["r"], line["q"], line["Q"], line["s"]),
                         ("GET", "/accesslog.php", "h=one&ms=300", "?", "200"))
        self.assertEqual(line["l"], "0")
        self.assertEqual(line["R"], "127.0.0.1")
        self.assertEqual(line["u"], "-")
        self.assertEqual(line["o_xlog"], "one")
        # no Content-Type set by the script: PHP's default one is not a header of the script's
        self.assertEqual((line["o_ct"], line["o_ct_lower"], line["o_location"]), ("-", "-", "-"))
        # the 300 ms wait is in the duration
        self.assertGreaterEqual(int(line["d_micro"]), 300000)
        self.assertLess(int(line["d_micro"]), 1000000)
        self.assertGreaterEqual(float(line["d_mili"]), 300.0)

    def test_every_code_post(self):
        s = self.every_code_server()
        body = b"x" * 1234
        r, line, t0, t1 = self.one_request(s, "/accesslog.php", server=s.endpoint("shop"), method="POST",
                                           body=body, content_type="text/plain", query="ct=application/json")
        self.assertEqual((r.status, r.body), (200, b"1234\n"))
        self.assert_common(s, line, t0, t1, self.ws.script("/accesslog.php"))
        self.assertEqual((line["m"], line["r"], line["q"], line["Q"], line["s"], line["l"]),
                         ("POST", "/accesslog.php", "ct=application/json", "?", "200", "1234"))
        self.assertEqual(line["o_ct"], "application/json")
        self.assertEqual(line["o_ct_lower"], "application/json")  # header names are not case-sensitive
        self.assertEqual(line["o_xlog"], "-")

    def test_status_codes(self):
        s = self.every_code_server()
        ep = s.endpoint("shop")
        r, line, t0, t1 = self.one_request(s, "/accesslog.php", server=ep, query="code=404")
        self.assertEqual(r.status, 404)
        self.assertEqual((line["s"], line["q"], line["r"]), ("404", "code=404", "/accesslog.php"))
        self.assert_common(s, line, t0, t1, self.ws.script("/accesslog.php"))

        r, line, t0, t1 = self.one_request(s, "/redirect.php", server=ep)
        self.assertEqual((r.status, r.headers.get("location")), (302, "/x"))
        self.assertEqual((line["s"], line["q"], line["Q"], line["r"], line["o_location"]),
                         ("302", "", "", "/redirect.php", "/x"))
        self.assert_common(s, line, t0, t1, self.ws.script("/redirect.php"))

        # no such script: 404, and %f is "-" as PHP-FPM's
        r, line, t0, t1 = self.one_request(s, "/nope.php", server=ep)
        self.assertEqual(r.status, 404)
        self.assertEqual((line["s"], line["r"], line["f"], line["m"]), ("404", "/nope.php", "-", "GET"))

        # a "Status:" header is the web server's business: PHP-FPM logs 200 for it, and so does fpmd
        r, line, t0, t1 = self.one_request(s, "/status404.php", server=ep)
        self.assertEqual(r.status, 404)
        self.assertEqual(line["s"], "200")

    def test_user_of_basic_auth(self):
        s = self.every_code_server()
        auth = "Basic " + base64.b64encode(b"alice:secret").decode()
        r, line, t0, t1 = self.one_request(s, "/hello.php", server=s.endpoint("shop"),
                                           headers={"Authorization": auth})
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.assertEqual(line["u"], "alice")
        self.assert_common(s, line, t0, t1, self.ws.script("/hello.php"))
        # a scheme PHP does not decode: no user
        r, line, t0, t1 = self.one_request(s, "/hello.php", server=s.endpoint("shop"),
                                           headers={"Authorization": 'Digest username="bob"'})
        self.assertEqual(line["u"], "-")

    def test_unix_socket_has_no_remote_address(self):
        sock = self.ws.path("acc.sock")
        s = self.fpmd({"shop": {"pm": {"mode": "static", "max_children": 1}, "access_log": True,
                                "access_format": EVERY, "listen": {"address": sock}}})
        offset = s.log_offset()
        t0 = time.time()
        with harness.FcgiUnixClient(sock, timeout=10) as c:
            res = c.request(self.params("/accesslog.php", query="h=unix"))
        t1 = time.time()
        r = res.response()
        self.assertEqual((r.status, r.body), (200, b"0\n"))
        lines = self.access_lines(s, offset)
        self.assertEqual(len(lines), 1, s.log_text()[offset:])
        line = dict(zip(FIELDS, lines[0].split("|")))
        self.assertEqual(line["R"], "-")
        self.assertEqual((line["m"], line["r"], line["q"], line["o_xlog"]), ("GET", "/accesslog.php", "h=unix", "unix"))
        self.assert_common(s, line, t0, t1, self.ws.script("/accesslog.php"))

    def test_one_line_per_request(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}, "access_log": True,
                               "access_format": "ONE|%m|%r|%q|%s|%p"}})
        offset = s.log_offset()
        n = 20
        for i in range(n):
            r = self.raw("/hello.php", server=s, query="i=%d" % i)
            self.assertEqual(r.status, 200)
        # and three on one kept connection
        with harness.FcgiClient(s.port) as c:
            for i in range(3):
                res = c.request(self.params("/hello.php", query="k=%d" % i), keep_conn=True)
                self.assertEqual(res.response().status, 200)
        lines = self.access_lines(s, offset, marker="ONE|", count=n + 3)
        self.assertEqual(len(lines), n + 3, s.log_text()[offset:])
        workers = set(s.pool_workers())
        queries = []
        for l in lines:
            f = l.split("|")
            self.assertEqual(f[1:3] + [f[4]], ["GET", "/hello.php", "200"], l)
            self.assertIn(int(f[5]), workers)
            queries.append(f[3])
        self.assertEqual(queries, ["i=%d" % i for i in range(n)] + ["k=%d" % i for i in range(3)])

    def test_access_log_false(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "access_log": False,
                               "access_format": "NEVER|%m %r %s"}})
        offset = s.log_offset()
        for script in ("/hello.php", "/nope.php", "/redirect.php"):
            self.raw(script, server=s)
        # A worker writes its access line before it ends the request: none can come after the answer
        self.assertServes(s)
        self.assertEqual([l for l in s.log_lines(offset) if "NEVER" in l or "hello.php" in l], [],
                         s.log_text()[offset:])

    def test_invalid_format_refuses_to_start(self):
        for fmt, why in (("%x", "invalid token in the access.format"),
                         ("%{foo}d", "only 'seconds', 'mili', 'miliseconds', 'micro' or 'microseconds' are "
                                     "allowed as a modifier for %d"),
                         ("%e", "the name of the environment variable must be set between embraces for %e"),
                         ("%{HTTP_HOST", "missing closing embrace in the access.format")):
            with self.subTest(access_format=fmt):
                s = harness.FpmdServer(self.ws, {"www": {"access_log": True, "access_format": fmt}})
                s.write_config()
                path = s.pool_path("www")
                with open(path) as f:
                    line_no = next(i for i, l in enumerate(f, 1) if l.strip().startswith("access_format"))
                try:
                    r = subprocess.run(s.argv(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       timeout=10)
                except subprocess.TimeoutExpired:
                    self.fail("fpmd started with access_format %r" % fmt)
                harness.log("access_format %r: exit %d, %r" % (fmt, r.returncode, r.stderr))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertTrue(harness.connect_refused(s.port))
                errors = [l for l in r.stderr.splitlines() if re.match(SUP + "error: ", l)]
                self.assertEqual(len(errors), 1, r.stderr)
                # the file, and the line of the access_format setting in it
                self.assertIn("%s:%d: " % (path, line_no), errors[0])
                self.assertIn('invalid access_format "%s": %s' % (fmt, why), errors[0])
                # fpmd -t says the same
                t = subprocess.run(s.argv() + ["-t"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=10)
                self.assertEqual(t.returncode, 1, t.stderr)
                self.assertIn("%s:%d: " % (path, line_no), t.stderr)


if __name__ == "__main__":
    harness.main()
