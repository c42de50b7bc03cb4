#!/usr/bin/python3
"""A worker cannot steer the supervisor: a script with code execution (FFI here) writes over its pool's whole
scoreboard, with random bytes, then with the supervisor's pid, 1, and the pid of an unrelated process in every
32-bit word. The supervisor (root when the tests are) kills nothing outside the pool, does not crash, says so
once per overwrite, and the pool recovers with a new generation; another pool is not touched.

fpmd-only: the scoreboard, its mapping and the supervisor's account of it are fpmd's."""

import os
import subprocess
import time

import harness

harness.require_fpmd("test_trust")

SUP = r"fpmd\[\d+\]: "
OVERWRITTEN = SUP + r"warning: \[pool www\] its scoreboard was overwritten by one of its workers"


class Scribble(harness.FpmdTestCase):
    def test_overwritten_scoreboard(self):
        bystander = subprocess.Popen(["sleep", "300"])
        self.addCleanup(bystander.kill)
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2},
                               "php_admin_value": {"ffi.enable": "1"}},
                       "other": {"pm": {"mode": "static", "max_children": 1}}})
        supervisor = s.pid
        other = (s.leader("other"), s.pool_workers("other"))
        offset = s.log_offset()
        modes = [("random", None), ("pid", supervisor), ("pid", 1), ("pid", bystander.pid)]
        for n, (mode, pid) in enumerate(modes, 1):
            www_before = s.leaders("www") + s.pool_workers("www")
            query = "mode=%s" % mode + ("&pid=%d" % pid if pid else "")
            r, _ = harness.fcgi_request(s, self.params("/scribble.php", query=query), timeout=10)
            self.assertEqual(r.status, 200, r.body)
            self.assertRegex(r.body.decode(), r"^wrote \d+ bytes\n$")
            # Said once per overwrite, and the pool is renewed: its processes go, new ones serve
            self.assertTrue(harness.wait_for(lambda: len(s.log_find(OVERWRITTEN, offset)) >= n, 5),
                            s.log_text()[offset:])
            self.assertTrue(harness.wait_for(lambda: not set(www_before) & set(s.leaders("www") +
                                                                                s.pool_workers("www")), 10),
                            "the overwritten generation still runs: %r" % www_before)
            self.assertTrue(harness.wait_for(lambda: len(s.pool_workers("www")) == 2, 5))
            for _ in range(4):
                r, _ = harness.fcgi_request(s, self.params("/hello.php"), timeout=10)
                self.assertEqual((r.status, r.body), (200, b"hello\n"), (mode, pid))
            # Nothing outside the pool was touched
            self.assertTrue(s.alive())
            self.assertEqual(s.pid, supervisor)
            self.assertIsNone(bystander.poll(), "the unrelated process was killed (%s %s)" % (mode, pid))
            self.assertEqual((s.leader("other"), s.pool_workers("other")), other)
            r, _ = harness.fcgi_request(s, self.params("/hello.php"), timeout=10)
        self.assertEqual(len(s.log_find(OVERWRITTEN, offset)), len(modes), s.log_text()[offset:])
        # fpmd status reads the scoreboards as root: it copes with what is in them
        status = subprocess.run([s.argv()[0], "status", "--pid", str(supervisor), "--json", "--full"],
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(status.returncode, 0, status.stderr)

    def test_processes_hold_their_own_pool_only(self):
        # A leader starts from a fresh image (exec): nothing of the supervisor or of another pool reaches it
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}},
                       "other": {"pm": {"mode": "static", "max_children": 1}}})
        other_socket = harness.listening_inodes(s.ports["other"])
        for pid in [s.leader("www")] + s.pool_workers("www"):
            with open("/proc/%d/maps" % pid) as f:
                maps = f.read()
            self.assertIn("/memfd:fpmd-scoreboard:www ", maps, pid)
            self.assertNotIn("fpmd-scoreboard:other", maps, pid)
            links = [os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in os.listdir("/proc/%d/fd" % pid)]
            self.assertEqual([l for l in links if l.startswith("/memfd:")], [], (pid, links))
            self.assertFalse(harness.holds_socket(pid, other_socket), pid)
        # The supervisor holds every pool's scoreboard (fpmd status reads them there)
        with open("/proc/%d/maps" % s.pid) as f:
            maps = f.read()
        self.assertIn("fpmd-scoreboard:www", maps)
        self.assertIn("fpmd-scoreboard:other", maps)


if __name__ == "__main__":
    harness.main()
