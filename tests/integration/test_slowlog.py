#!/usr/bin/python3
"""The slowlog: a request running longer than request_slowlog_timeout is logged ("executing too slow"), and with
slowlog = true the worker's PHP backtrace follows as one multi-line entry:

    fpmd[SUP]: notice: [pool www] pid WORKER
    script_filename = /path/slowlog_nested.php
    [0x<16 hex>] usleep() /path/slowlog_nested.php:5
    [0x<16 hex>] c() /path/slowlog_nested.php:5
    [0x<16 hex>] b() /path/slowlog_nested.php:9
    [0x<16 hex>] a() /path/slowlog_nested.php:13
    [0x<16 hex>] {main}() /path/slowlog_nested.php:16

innermost first; a user function's frame shows the line it runs (the call into the next frame), an internal
function's frame its caller's. (PHP-FPM 8.2 pairs each function with its call site instead - "c() ...:9",
"b() ...:13", "a() ...:16" - and prints no {main}() frame: the same lines, one frame further out.)

The request itself is left alone: it completes with its full body, and the status page counts it as slow. Also
with workers of another uid (user = nobody), with slowlog = false (the warning, no backtrace), and with
request_slowlog_trace_depth = 2 (two frames).

fpmd-only: the log lines are fpmd's."""

import os
import pwd
import re
import time

import harness

harness.require_fpmd("test_slowlog")

SUP = r"fpmd\[(\d+)\]: "
SCRIPT = "/slowlog_nested.php"
BODY_TAIL = b"0123456789abcdef" * 4096 + b"\nend\n"
# the frames of slowlog_nested.php, innermost first: (function, line)
FRAMES = [("usleep", 5), ("c", 5), ("b", 9), ("a", 13), ("{main}", 16)]


class Slowlog(harness.FpmdTestCase):
    def pool(self, **extra):
        settings = {"pm": {"mode": "static", "max_children": 2}, "status_path": "/status",
                    "request_slowlog_timeout": "1s", "request_slowlog_trace_depth": 20, "slowlog": True}
        settings.update(extra)
        return self.fpmd({"www": settings})

    def slow_request(self, s, us=2500000):
        """The nested script through the raw client; returns (response, seconds it took, worker pid)."""
        t0 = time.monotonic()
        r = self.raw(SCRIPT, server=s, query="us=%d" % us)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.body, rb"^slept \d+\.\d{3}\n")
        self.assertTrue(r.body.endswith(b"\n" + BODY_TAIL), r.body[:100])  # the whole body
        return r, took

    def too_slow_line(self, s, offset, us=2500000):
        lines = s.log_find(r"^" + SUP + r"warning: \[pool www\] child (\d+), script '(.*)' \(request: \"(.*)\"\) "
                           r"executing too slow \((\d+\.\d{6}) sec\), logging$", offset)
        self.assertEqual(len(lines), 1, s.log_text()[offset:])
        m = lines[0]
        self.assertEqual(int(m.group(1)), s.pid)
        self.assertIn(int(m.group(2)), s.pool_workers())
        self.assertEqual(m.group(3), self.ws.script(SCRIPT))
        # As PHP-FPM: "METHOD SCRIPT_NAME?QUERY"
        self.assertEqual(m.group(4), "GET %s?us=%d" % (SCRIPT, us))
        self.assertGreaterEqual(float(m.group(5)), 1.0)
        self.assertLess(float(m.group(5)), 1.5)  # a tick is a tenth of the timeout
        return m

    def trace_entry(self, s, offset, timeout=5):
        """The slowlog entry: (its match, [(address, function, file, line)])."""
        entry = s.wait_log(r"^" + SUP + r"notice: \[pool www\] pid (\d+)\nscript_filename = (.*)\n"
                           r"((?:\[0x[0-9a-f]+\] .*\n)*)", offset, timeout)
        self.assertIsNotNone(entry, s.log_text()[offset:])
        frames = []
        for line in entry.group(4).splitlines():
            m = re.fullmatch(r"\[0x([0-9a-f]{16})\] (\S+)\(\) (/.*):(\d+)", line)
            self.assertIsNotNone(m, "frame line %r" % line)
            frames.append((m.group(1), m.group(2), m.group(3), int(m.group(4))))
        return entry, frames

    def status_json(self, s):
        r = self.raw("/status", server=s, query="json")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def check_full_trace(self, s):
        offset = s.log_offset()
        r, took = self.slow_request(s)
        slow = self.too_slow_line(s, offset)
        entry, frames = self.trace_entry(s, offset)
        # the entry comes after the warning, for the same worker and script
        self.assertGreater(entry.start(), slow.start())
        self.assertEqual(int(entry.group(1)), s.pid)
        self.assertEqual(int(entry.group(2)), int(slow.group(2)))
        self.assertEqual(entry.group(3), self.ws.script(SCRIPT))
        script = self.ws.script(SCRIPT)
        self.assertEqual([(f, file, line) for _, f, file, line in frames],
                         [(f, script, line) for f, line in FRAMES], entry.group(0))
        # one address per frame
        self.assertEqual(len({a for a, _, _, _ in frames}), len(frames))
        self.assertEqual(self.status_json(s)["slow requests"], 1)
        # one warning and one entry: the request is logged once however long it runs
        self.assertEqual(len(s.log_find(r"executing too slow", offset)), 1)
        self.assertEqual(len(s.log_find(r"^" + SUP + r"notice: \[pool www\] pid \d+$", offset)), 1)
        self.assertEqual(s.log_find(r"(timed out|exited)", offset), [])
        return entry

    # -------------------------------------------------------------------------------------------------------

    def test_backtrace(self):
        s = self.pool()
        self.assertEqual(self.status_json(s)["slow requests"], 0)
        self.check_full_trace(s)
        self.assertServes(s)

    def test_request_runs_undisturbed(self):
        # The backtrace is taken while the script sleeps; the sleep must still last its 2.5 s, as under PHP-FPM
        # (which stops the worker with ptrace: usleep() resumes where it was). A signal handler in the worker
        # cuts nanosleep() short (it is never restarted, SA_RESTART or not), and the script goes on early.
        s = self.pool()
        offset = s.log_offset()
        r, took = self.slow_request(s)
        self.trace_entry(s, offset)
        slept = float(re.match(rb"slept (\d+\.\d{3})\n", r.body).group(1))
        harness.log("usleep(2500000) slept %.3fs, the request took %.3fs" % (slept, took))
        self.assertGreaterEqual(slept, 2.499, "usleep(2500000) in the slow request returned after %.3fs" % slept)
        self.assertGreaterEqual(took, 2.5)

    def test_backtrace_of_another_uid(self):
        if os.geteuid() != 0:
            self.skipTest("workers of another uid (user = nobody) need root")
        # workers running as nobody must reach the docroot: mkdtemp made the workspace 0700
        os.chmod(self.ws.dir, 0o755)
        for d, dirs, files in os.walk(self.ws.docroot):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        s = self.pool(user="nobody", group="nogroup", allow_root=None)
        nobody = pwd.getpwnam("nobody").pw_uid
        for w in s.pool_workers():
            self.assertEqual(harness.proc_status(w)["Uid"].split(), [str(nobody)] * 4)
        self.check_full_trace(s)

    def test_slowlog_off(self):
        s = self.pool(slowlog=False)
        offset = s.log_offset()
        self.slow_request(s, us=1500000)
        self.too_slow_line(s, offset, us=1500000)
        time.sleep(0.5)  # a backtrace would be collected within a few ticks
        self.assertEqual(s.log_find(r"script_filename = |\[0x[0-9a-f]+\] ", offset), [], s.log_text()[offset:])
        self.assertEqual(self.status_json(s)["slow requests"], 1)

    def test_trace_depth(self):
        s = self.pool(request_slowlog_trace_depth=2)
        offset = s.log_offset()
        self.slow_request(s)
        self.too_slow_line(s, offset)
        entry, frames = self.trace_entry(s, offset)
        script = self.ws.script(SCRIPT)
        self.assertEqual([(f, file, line) for _, f, file, line in frames],
                         [(f, script, line) for f, line in FRAMES[:2]], entry.group(0))


if __name__ == "__main__":
    harness.main()
