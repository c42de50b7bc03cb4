#!/usr/bin/python3
"""Reload (SIGHUP; SIGUSR2 does the same): a changed pool gets a new generation on the same socket while the
old one finishes its requests, so no request fails; an unchanged pool is not touched; a bad configuration
keeps the running one; pools come and go with their files.

fpmd-only: the files written, the log lines and the generations are fpmd's."""

import signal
import threading
import time

import harness

harness.require_fpmd("test_reload")

SUP = r"fpmd\[\d+\]: "  # the supervisor's prefix of each line on stderr
RELOADED = r"^" + SUP + r"notice: Reloaded: 1 pool serving\.$"
FAILED = r"^" + SUP + r"error: Reload failed, keeping the running configuration: (.*)$"


class Reload(harness.FpmdTestCase):
    def settings(self, memory_limit):
        return {"pm": {"mode": "static", "max_children": 4}, "php_value": {"memory_limit": memory_limit}}

    def pids(self, s):
        return s.leader(), s.pool_workers()

    def assert_answers(self, s, body, n=8, name="www"):
        """n requests on new connections all get exactly body."""
        for _ in range(n):
            r = self.raw("/memory_limit.php", server=s.endpoint(name))
            self.assertEqual((r.status, r.body), (200, body))

    def test_reloads_under_load(self):
        s = self.fpmd({"www": self.settings("200M")})
        supervisor = s.pid
        first_leader = s.leader()
        nginx = self.nginx(s)
        configured = {b"memory_limit=200M\n"}
        stop = threading.Event()
        failures = []
        counts = [0] * 4
        answers = []

        def load(i):
            conn = nginx.connection(timeout=15)
            try:
                while not stop.is_set():
                    try:
                        r = nginx.request("GET", "/memory_limit.php", conn=conn)
                    except Exception as e:  # a failed request is what this test looks for
                        failures.append((i, repr(e)))
                        conn.close()
                        conn = nginx.connection(timeout=15)
                        continue
                    answers.append((time.monotonic(), r.body))
                    counts[i] += 1
                    # Any value configured so far may answer while generations overlap.
                    if r.status != 200 or r.body not in configured:
                        failures.append((i, r.status, r.body[:200]))
            finally:
                conn.close()

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        offset = s.log_offset()
        try:
            time.sleep(0.5)
            for n in range(20):
                value = "%dM" % (201 + n)
                configured.add(("memory_limit=%s\n" % value).encode())
                s.set_pool("www", self.settings(value))
                s.reload(signal.SIGHUP if n % 2 == 0 else signal.SIGUSR2)
                time.sleep(0.3)
            # Still under load: the last generation alone serves (one leader, its 4 workers) within a few
            # seconds, the older ones having finished their requests (loose: PHP starts in ~0.1 s).
            t_last = time.monotonic()
            settled = harness.wait_for(lambda: s.leader() is not None and len(s.pool_workers()) == 4, 5)
            t_settled = time.monotonic()
            harness.log("%s %.2fs after the last reload: leaders %r, workers %r"
                        % ("settled" if settled else "NOT settled", t_settled - t_last, s.leaders(),
                           s.pool_workers()))
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        late = [b for t, b in answers if t > t_settled + 0.1]
        harness.log("20 reloads: %d requests (%s), %d failed; %d 'Reloaded' lines, %d generations served; "
                    "answers in the last second: %s"
                    % (sum(counts), counts, len(failures), len(s.log_find(RELOADED, offset)),
                       len(s.log_find(r"new generation serving", offset)),
                       {b.decode().strip(): late.count(b) for b in set(late)}))
        self.assertEqual(failures, [])
        self.assertTrue(all(c > 20 for c in counts), counts)
        self.assertTrue(s.alive())
        self.assertEqual(s.pid, supervisor)
        self.assertNotEqual(s.leader(), first_leader)
        self.assertEqual(len(s.log_find(r"^" + SUP + r"notice: Reloading ", offset)), 20)
        self.assertEqual(s.log_find(FAILED, offset), [])
        self.assertEqual(s.log_find(SUP + r"(error|warning): (?!\[pool www\] runs PHP as root)", offset), [])
        self.assertTrue(settled, "older generations still running under load 5 s after the last reload: "
                        "leaders %r, workers %r" % (s.leaders(), s.pool_workers()))
        # the last value only, under load and then on new connections and through nginx's kept ones
        self.assertEqual(set(late), {b"memory_limit=220M\n"})
        self.assert_answers(s, b"memory_limit=220M\n")
        for _ in range(8):
            r = nginx.request("GET", "/memory_limit.php")
            self.assertEqual((r.status, r.body), (200, b"memory_limit=220M\n"))

    def test_old_generation_stops_under_load(self):
        # One worker kept busy by 8 clients through nginx keepalive: after a reload the old worker finishes
        # the request it runs and exits, it does not go on serving the old configuration.
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1},
                               "php_value": {"memory_limit": "200M"}}})
        old_leader, old_workers = self.pids(s)
        nginx = self.nginx(s)
        stop = threading.Event()
        answers, failures = [], []

        def load(i):
            conn = nginx.connection(timeout=15)
            try:
                while not stop.is_set():
                    try:
                        r = nginx.request("GET", "/memory_limit.php", conn=conn)
                    except Exception as e:  # a failed request is what this test looks for
                        failures.append(repr(e))
                        conn.close()
                        conn = nginx.connection(timeout=15)
                        continue
                    answers.append((time.monotonic(), r.status, r.body))
            finally:
                conn.close()

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            s.set_pool("www", {"pm": {"mode": "static", "max_children": 1},
                               "php_value": {"memory_limit": "300M"}})
            t0 = time.monotonic()
            s.reload()
            # loose: the new PHP starts in ~0.1 s and the old worker's request takes 20 ms
            gone = harness.wait_for(lambda: harness.proc_state(old_leader) is None, 3)
            took = time.monotonic() - t0
            time.sleep(1.0)
            t_late = time.monotonic() - 0.8
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        late = [b for t, st, b in answers if t > t_late]
        harness.log("reload under load, 1 worker: old leader %s after %.2fs; answers in the last 0.8 s: %s"
                    % ("gone" if gone else "STILL THERE", took,
                       {b.decode().strip(): late.count(b) for b in set(late)}))
        self.assertEqual(failures, [])
        self.assertEqual({st for t, st, b in answers}, {200})
        self.assertTrue(gone, "the old generation (leader %d, worker %r) still serves 3 s after the reload"
                        % (old_leader, old_workers))
        self.assertEqual(set(late), {b"memory_limit=300M\n"})

    def test_unchanged_reload_keeps_workers(self):
        s = self.fpmd({"www": self.settings("200M")})
        before = self.pids(s)
        self.assert_answers(s, b"memory_limit=200M\n")
        offset = s.reload()
        self.assertTrue(s.wait_log(RELOADED, offset, 10), s.log_text()[offset:])
        time.sleep(1.2)  # a tick: nothing restarts later either
        self.assertEqual(self.pids(s), before)
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(s.log_find(r"new generation serving|stopped\.", offset), [])

    def bad_reload(self, s, text, expected_error):
        """Writes text as the pool file, reloads: the exact error line, and the same processes serve."""
        before = self.pids(s)
        s.write_file(s.pool_path("www"), text)
        offset = s.reload()
        line = s.wait_log(FAILED, offset, 10)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertEqual(line.group(1), expected_error)
        time.sleep(1.2)  # a tick
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(self.pids(s), before)
        self.assertTrue(s.alive())
        self.assertEqual(s.log_find(RELOADED, offset), [])

    def test_bad_config_keeps_running(self):
        s = self.fpmd({"www": self.settings("200M")})
        path = s.pool_path("www")
        good = s.pool_text("www")
        self.assert_answers(s, b"memory_limit=200M\n")

        # a syntax error: the '=' of max_children left out
        lines = good.splitlines()
        n = next(i for i, l in enumerate(lines) if l.strip() == "max_children = 4;")
        lines[n] = lines[n].replace(" = ", " ")
        self.bad_reload(s, "\n".join(lines) + "\n", "%s:%d: syntax error" % (path, n + 1))

        # an unknown setting, on the line after "pool = {"
        lines = good.splitlines()
        lines.insert(1, '  max_chilren = 4;')
        self.bad_reload(s, "\n".join(lines) + "\n",
                        "%s:2: unknown setting 'max_chilren', did you mean 'pm.max_children'?" % path)

        # fixed, with another value: the reload takes
        s.set_pool("www", self.settings("300M"))
        offset = s.reload()
        self.assertTrue(s.wait_log(RELOADED, offset, 10), s.log_text()[offset:])
        self.assertTrue(harness.wait_for(lambda: s.leader() and len(s.pool_workers()) == 4, 10))
        self.assert_answers(s, b"memory_limit=300M\n")

    def test_failing_new_generation_keeps_previous(self):
        # A reload to a configuration that parses but whose workers cannot start (the chroot folder does not
        # exist): whether fpmd refuses it up front (PHP-FPM checks the chroot path when it reads the
        # configuration) or sees the new workers die, the running generation must go on serving.
        s = self.fpmd({"www": self.settings("200M")})
        before = self.pids(s)
        s.set_pool("www", dict(self.settings("300M"), chroot=self.ws.path("no-such-root")))
        offset = s.reload()
        t0 = time.monotonic()
        served = []
        while time.monotonic() - t0 < 3:
            try:
                r = harness.fcgi_request(s, self.params("/memory_limit.php"), timeout=2)[0]
                served.append((r.status, r.body))
            except Exception as e:  # a refused or unanswered request is what this test looks for
                served.append(repr(e))
            time.sleep(0.1)
        harness.log("reload to a missing chroot: %d of %d requests answered; leaders %r; log: %s"
                    % (served.count((200, b"memory_limit=200M\n")), len(served), s.leaders(),
                       [l for l in s.log_lines(offset) if "Failed to chroot" not in l
                        and "exited with code" not in l][:8]))
        self.assertEqual(set(map(str, served)), {str((200, b"memory_limit=200M\n"))})
        self.assertIn(before[0], s.leaders())
        self.assertTrue(set(before[1]) <= set(s.pool_workers()))

    def test_pool_added_and_removed(self):
        s = self.fpmd({"www": self.settings("200M")})
        before = self.pids(s)

        port = s.set_pool("api", {"pm": {"mode": "static", "max_children": 2},
                                  "php_value": {"memory_limit": "64M"}})
        self.assertTrue(harness.connect_refused(port))
        offset = s.reload()
        self.assertTrue(s.wait_log(r"^" + SUP + r"notice: Reloaded: 2 pools serving\.$", offset, 10),
                        s.log_text()[offset:])
        self.assertTrue(harness.wait_for(lambda: len(s.pool_workers("api")) == 2, 5))
        self.assert_answers(s, b"memory_limit=64M\n", name="api")
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(self.pids(s), before)
        api_processes = s.leaders("api") + s.pool_workers("api")

        s.remove_pool("api")
        offset = s.reload()
        self.assertTrue(s.wait_log(RELOADED, offset, 10), s.log_text()[offset:])
        self.assertTrue(harness.wait_for(lambda: harness.connect_refused(port), 5),
                        "the removed pool's port still accepts")
        self.assertTrue(harness.wait_for(lambda: not any(harness.proc_state(p) for p in api_processes), 5),
                        "processes of the removed pool left: %r" % api_processes)
        self.assertTrue(s.wait_log(r"^" + SUP + r"info: \[pool api\] removed from the configuration, stopping "
                                   r"it\.$", offset, 1))
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(self.pids(s), before)


if __name__ == "__main__":
    harness.main()
