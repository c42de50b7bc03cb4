#!/usr/bin/python3
"""Timeouts and dying workers: request_terminate_timeout kills a runaway script and the worker is replaced;
a worker killed by a signal is replaced at once and logged; emergency_restart_threshold deaths within
emergency_restart_interval restart the pool (a new leader: fresh PHP and opcache); request_slowlog_timeout
logs a slow request without touching it.

fpmd-only: the log lines are fpmd's (PHP-FPM's twins differ in prefix and detail)."""

import os
import re
import signal
import subprocess
import time

import harness

harness.require_fpmd("test_timeouts")

SUP = r"fpmd\[(\d+)\]: "  # the supervisor's prefix of each line on stderr
SLEEP_BODY = b"start\n" + b"0123456789abcdef" * 4096 + b"\nend\n"


def pid_of(resp):
    m = re.fullmatch(rb"(\d+)\n", resp.body)
    return int(m.group(1)) if resp.status == 200 and m else None


class Timeouts(harness.FpmdTestCase):
    def one_worker(self, **extra):
        settings = {"pm": {"mode": "static", "max_children": 1}, "rlimit_core": 0}
        settings.update(extra)
        return self.fpmd({"www": settings})

    def worker_pid(self, s):
        r = self.raw("/pid.php", server=s)
        pid = pid_of(r)
        self.assertIsNotNone(pid, r)
        self.assertEqual(s.pool_workers(), [pid])
        return pid

    def assert_timed_out(self, s, offset, pid, uri):
        line = s.wait_log(r"^" + SUP + r"warning: \[pool www\] child (\d+), script '(.*)' \(request: \"(.*)\"\) "
                          r"execution timed out \((\d+\.\d{6}) sec\), terminating$", offset, 2)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertEqual(int(line.group(1)), s.pid)
        self.assertEqual(int(line.group(2)), pid)
        self.assertEqual(line.group(3), self.ws.script("/spin.php"))
        self.assertEqual(line.group(4), "GET " + uri)
        # a tick is a tenth of the timeout here: killed between 1.0 and ~1.3 s (loose, scheduling)
        self.assertGreaterEqual(float(line.group(5)), 1.0)
        self.assertLess(float(line.group(5)), 1.5)

    def test_terminate_timeout(self):
        s = self.one_worker(request_terminate_timeout="1s")
        nginx = self.nginx(s, extra_server="""
        # one upstream connection per request: nginx retries a GET cut on a kept connection it had cached
        location = /nokeep/spin.php {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root/spin.php;
            fastcgi_param SCRIPT_NAME /spin.php;
            fastcgi_pass 127.0.0.1:%d;
        }
""" % s.port)

        # raw client: the connection ends without END_REQUEST
        pid = self.worker_pid(s)
        offset = s.log_offset()
        with harness.FcgiClient(s.port, timeout=10) as c:
            t0 = time.monotonic()
            c.send_request(self.params("/spin.php"))
            with self.assertRaises((EOFError, ConnectionResetError)):
                c.read_response()
            took = time.monotonic() - t0
        harness.log("raw client: cut after %.2fs" % took)
        self.assertGreaterEqual(took, 1.0)
        self.assertLess(took, 2.5)
        self.assert_timed_out(s, offset, pid, "/spin.php")
        self.assertEqual(s.log_find(r"exited on signal", offset), [])
        new = self.worker_pid(s)
        self.assertNotEqual(new, pid)

        # cgi-fcgi: no complete answer, an error status
        offset = s.log_offset()
        env = {k: str(v) for k, v in self.params("/spin.php", query="via=cgi-fcgi").items()}
        t0 = time.monotonic()
        r = subprocess.run([harness.CGI_FCGI, "-bind", "-connect", "127.0.0.1:%d" % s.port], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        took = time.monotonic() - t0
        harness.log("cgi-fcgi: exit %d after %.2fs, stdout %r, stderr %r" % (r.returncode, took, r.stdout[:100],
                                                                             r.stderr[:200]))
        self.assertNotEqual(r.returncode, 0)
        self.assertGreaterEqual(took, 1.0)
        self.assertLess(took, 2.5)
        self.assert_timed_out(s, offset, new, "/spin.php?via=cgi-fcgi")
        newer = self.worker_pid(s)
        self.assertNotIn(newer, (pid, new))

        # nginx: 502
        offset = s.log_offset()
        t0 = time.monotonic()
        r = nginx.request("GET", "/nokeep/spin.php")
        took = time.monotonic() - t0
        harness.log("nginx: %d after %.2fs" % (r.status, took))
        self.assertEqual(r.status, 502)
        self.assertGreaterEqual(took, 1.0)
        self.assertLess(took, 2.5)
        # As PHP-FPM's log line: SCRIPT_NAME (here set to /spin.php by the location), not the REQUEST_URI
        self.assert_timed_out(s, offset, newer, "/spin.php")
        last = self.worker_pid(s)
        self.assertNotIn(last, (pid, new, newer))
        r = nginx.request("GET", "/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"))

    def test_worker_killed_by_signal(self):
        s = self.one_worker()
        pid = self.worker_pid(s)
        offset = s.log_offset()
        os.kill(pid, signal.SIGSEGV)
        t0 = time.monotonic()
        replaced = harness.wait_for(lambda: [w for w in s.pool_workers() if w != pid], 1.0, 0.01)
        harness.log("SIGSEGV: replaced after %.3fs" % (time.monotonic() - t0))
        self.assertTrue(replaced, "no new worker within 1 s: %r" % s.pool_workers())
        line = s.wait_log(r"^" + SUP + r"warning: \[pool www\] child %d exited on signal 11 \(SEGV\)$" % pid,
                          offset, 2)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertEqual(int(line.group(1)), s.pid)
        self.assertEqual(self.worker_pid(s), replaced[0])

    def test_emergency_restart(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 3}, "rlimit_core": 0}},
                      global_settings={"emergency_restart_threshold": 3, "emergency_restart_interval": "10s"})
        leader = s.leader()
        workers = s.pool_workers()
        self.assertEqual(len(workers), 3)
        offset = s.log_offset()
        for i, w in enumerate(workers):
            os.kill(w, signal.SIGSEGV)
            # one at a time, each seen dead by the supervisor before the next
            harness.wait_for(lambda: len(s.log_find(r"exited on signal 11 \(SEGV\)$", offset)) > i, 5)
        line = s.wait_log(r"^" + SUP + r"warning: \[pool www\] 3 children died by signal within 10 s, emergency "
                          r"restart of the pool \(fresh PHP and opcache\)\.$", offset, 3)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertEqual(len(s.log_find(r"exited on signal 11 \(SEGV\)$", offset)), 3)
        # a new leader alone, with its 3 workers, none of the old ones
        self.assertTrue(harness.wait_for(lambda: s.leader() not in (None, leader)
                                         and len(s.pool_workers()) == 3, 5),
                        "leaders %r workers %r" % (s.leaders(), s.pool_workers()))
        self.assertIsNone(harness.proc_state(leader))
        self.assertFalse(set(s.pool_workers()) & set(workers))
        self.assertEqual(len(s.log_find(r"emergency restart", offset)), 1)
        for _ in range(6):
            self.assertIn(pid_of(self.raw("/pid.php", server=s)), s.pool_workers())
        self.assertServes(s)

    def test_slowlog(self):
        s = self.one_worker(request_slowlog_timeout="1s")
        pid = self.worker_pid(s)
        offset = s.log_offset()
        t0 = time.monotonic()
        r = self.raw("/sleep.php", query="ms=2000", server=s)
        took = time.monotonic() - t0
        self.assertEqual((r.status, r.body), (200, SLEEP_BODY))
        self.assertGreaterEqual(took, 2.0)
        lines = s.log_find(r"^" + SUP + r"warning: \[pool www\] child (\d+), script '(.*)' \(request: \"(.*)\"\) "
                           r"executing too slow \((\d+\.\d{6}) sec\), logging$", offset)
        self.assertEqual(len(lines), 1, s.log_text()[offset:])
        line = lines[0]
        self.assertEqual(int(line.group(1)), s.pid)
        self.assertEqual(int(line.group(2)), pid)
        self.assertEqual(line.group(3), self.ws.script("/sleep.php"))
        self.assertEqual(line.group(4), "GET /sleep.php?ms=2000")
        self.assertGreaterEqual(float(line.group(5)), 1.0)
        self.assertLess(float(line.group(5)), 1.5)  # loose: a tick is a tenth of the timeout
        self.assertEqual(self.worker_pid(s), pid)  # not killed
        self.assertEqual(s.log_find(r"(timed out|exited)", offset), [])


if __name__ == "__main__":
    harness.main()
