#!/usr/bin/python3
"""The process manager: how many workers each pm mode keeps, counted from outside as the living children of
the pool's leader (/proc), while requests come in.

- static keeps exactly max_children, whatever the load;
- dynamic starts start_servers, grows by one per tick while no worker is idle, never past max_children (and
  says so once), and reaps idle workers down to max_spare_servers one per tick;
- ondemand starts none, spawns when a connection waits, and reaps workers idle for process_idle_timeout;
- max_requests recycles a worker after that many requests without failing one, also on kept connections;
- a flood larger than the pool waits in the listen backlog and is served whole.

fpmd-only: the harness writes PHP-FPM's pm as static only, and the log lines checked are fpmd's."""

import os
import re
import signal
import time

import harness

harness.require_fpmd("test_pm")

SUP = r"fpmd\[\d+\]: "  # the supervisor's prefix of each line on stderr


def pid_of(resp):
    """The body of pid.php: the worker's pid and a newline, nothing else."""
    m = re.fullmatch(rb"(\d+)\n", resp.body)
    return int(m.group(1)) if resp.status == 200 and m else None


class Pm(harness.FpmdTestCase):
    def pid_request(self, server, ms=0):
        return self.raw("/pid.php", query="ms=%d" % ms if ms else "", server=server)

    def test_static(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 3}}})
        workers = s.pool_workers()
        self.assertEqual(len(workers), 3, workers)
        self.assertIsNotNone(s.leader())

        with harness.Sampler(lambda: len(s.pool_workers())) as counts:
            served = set()
            for i in range(100):
                r = self.pid_request(s)
                self.assertIsNotNone(pid_of(r), r)
                served.add(pid_of(r))
        self.assertEqual(set(counts.values()), {3})
        self.assertEqual(s.pool_workers(), workers)
        self.assertLessEqual(served, set(workers))

    def test_dynamic(self):
        s = self.fpmd({"www": {"pm": {"mode": "dynamic", "max_children": 6, "start_servers": 2,
                                      "min_spare_servers": 1, "max_spare_servers": 3}}})
        self.assertEqual(len(s.pool_workers()), 2)
        time.sleep(1.5)  # a tick or more: idle 2 is within [1, 3], nothing to do
        self.assertEqual(len(s.pool_workers()), 2)
        offset = s.log_offset()

        # 12 clients, each sending three 1 s requests one after the other: more requests wait than there are
        # workers all along, so no worker is idle at a tick and the pool grows by one per tick up to 6.
        def client(i):
            return [self.pid_request(s, 1000) for _ in range(3)]

        t0 = time.monotonic()
        counts = harness.Sampler(lambda: len(s.pool_workers())).start()
        try:
            results = harness.run_concurrently(client, [(i,) for i in range(12)])
            took = time.monotonic() - t0
            # Reaping: max_spare_servers 3, so idle workers go, one per tick (1 s) as PHP-FPM does, down to 3;
            # the first may go while the last requests still run.
            reaped = harness.wait_for(lambda: len(s.pool_workers()) <= 3, 5)
            time.sleep(1.5)  # and it stays at 3: idle 3 is not above max_spare_servers
        finally:
            counts.stop()
        steps = transitions(counts.samples)
        harness.log("dynamic: 36 requests in %.2fs; worker counts %s"
                    % (took, [("%.2f" % (t - t0), v) for t, v in steps]))

        for r in results:
            self.assertIsInstance(r, list, r)
            for resp in r:
                self.assertIsNotNone(pid_of(resp), resp)
        self.assertLessEqual(max(counts.values()), 6)
        self.assertEqual(max(counts.values()), 6)  # 36 request-seconds at +1 worker per second reach 6
        self.assertEqual(len(s.log_find(r"^" + SUP + r"warning: \[pool www\] server reached pm.max_children "
                                        r"setting \(6\), consider raising it$", offset)), 1, s.log_text())

        self.assertTrue(reaped, "still %d workers 5 s after the burst" % len(s.pool_workers()))
        self.assertEqual(len(s.pool_workers()), 3)
        peak = max(i for i, (t, v) in enumerate(steps) if v == 6)
        down = steps[peak:]
        self.assertEqual(down[-1][1], 3)
        # Timing is loose (a tick is 1 s, a worker's exit takes a few ms), so only: one worker per step, and
        # steps at least half a tick apart.
        self.assertEqual([a[1] - b[1] for a, b in zip(down, down[1:])], [1] * (len(down) - 1),
                         "reaped more than one idle worker at once: %s" % down)
        self.assertTrue(all(b[0] - a[0] >= 0.5 for a, b in zip(down[1:], down[2:])),
                        "reaped faster than one idle worker per tick: %s" % down)

    def test_ondemand(self):
        # leader_idle_timeout = 0: the leader starts with fpmd and stays (TestLazyLeader has the leader on demand)
        s = self.fpmd({"www": {"pm": {"mode": "ondemand", "max_children": 4, "process_idle_timeout": "1s",
                                      "leader_idle_timeout": 0}}})
        self.assertIsNotNone(s.leader())
        self.assertEqual(s.pool_workers(), [])
        time.sleep(1.2)  # a tick: still none without a connection
        self.assertEqual(s.pool_workers(), [])

        # The first request waits for a worker to be forked: time from connect to the first byte of the answer.
        with harness.FcgiClient(s.port, timeout=10) as c:
            t0 = time.monotonic()
            c.send_request(self.params("/pid.php"))
            res = c.read_response()
            first_byte = res.records[0][0] - t0
        harness.log("ondemand: first request's first response byte after %.1f ms" % (first_byte * 1000))
        self.assertEqual(res.response().status, 200)
        pid = pid_of(res.response())
        self.assertEqual(s.pool_workers(), [pid])
        # fpmd spawns on the socket becoming readable, not on its next 1 s tick (loose: fork + PHP request)
        self.assertLess(first_byte, 0.5)

        # Sequential requests reuse the idle worker.
        for _ in range(5):
            self.assertEqual(pid_of(self.pid_request(s)), pid)
        last = time.monotonic()
        # Idle for process_idle_timeout (1 s), seen at the next tick (1 s): gone within ~3 s of the last request
        self.assertTrue(harness.wait_for(lambda: s.pool_workers() == [], 3.5),
                        "workers %r still there %.1f s after the last request"
                        % (s.pool_workers(), time.monotonic() - last))
        harness.log("ondemand: reaped %.2fs after the last request" % (time.monotonic() - last))
        self.assertGreater(time.monotonic() - last, 1.0)

        # A burst of 8 concurrent 300 ms requests: never more than max_children 4, all answered.
        offset = s.log_offset()
        with harness.Sampler(lambda: len(s.pool_workers())) as counts:
            results = harness.run_concurrently(lambda i: self.pid_request(s, 300), [(i,) for i in range(8)])
        harness.log("ondemand burst: worker counts %s" % dedup(counts.values()))
        for r in results:
            self.assertIsNotNone(pid_of(r), r)
        self.assertLessEqual(max(counts.values()), 4)
        self.assertGreaterEqual(max(counts.values()), 1)
        self.assertTrue(harness.wait_for(lambda: s.pool_workers() == [], 8),
                        "workers %r still there after the burst" % s.pool_workers())
        self.assertEqual(s.log_find(SUP + r"(error|warning): (?!\[pool www\] server reached pm.max_children)",
                                    offset), [])

    def check_recycled(self, pids, every):
        """pids of consecutive requests to a 1-worker pool: a new worker every `every` requests, never back."""
        groups = [pids[i:i + every] for i in range(0, len(pids), every)]
        for g in groups:
            self.assertEqual(len(set(g)), 1, "one worker per %d requests: %s" % (every, pids))
        firsts = [g[0] for g in groups]
        self.assertEqual(len(set(firsts)), len(firsts), "a worker came back after max_requests: %s" % pids)

    def test_max_requests(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1, "max_requests": 5}}})
        offset = s.log_offset()

        pids = []
        for i in range(30):
            r = harness.cgi_fcgi(s, self.params("/pid.php"))
            self.assertIsNotNone(pid_of(r), "request %d: %r" % (i, r))
            pids.append(pid_of(r))
        self.check_recycled(pids, 5)
        harness.log("max_requests, cgi-fcgi: %s" % dedup(pids))

        # nginx keeps the upstream connection: the worker closes it after its 5th request and exits.
        nginx = self.nginx(s)
        conn = nginx.connection(timeout=15)
        pids = []
        try:
            for i in range(30):
                r = nginx.request("GET", "/pid.php", conn=conn)
                self.assertIsNotNone(pid_of(r), "request %d: %r" % (i, r))
                pids.append(pid_of(r))
        finally:
            conn.close()
        harness.log("max_requests, nginx keepalive: %s" % dedup(pids))
        self.check_recycled(pids, 5)
        self.assertEqual(s.log_find(SUP + r"(error|warning): ", offset), [])
        # nginx may have sent a request on the kept connection just as the recycled worker closed it: it logs
        # an upstream error and retries a GET on a new connection (a POST it would not retry: PHP-FPM has the
        # same race). The client saw no failure, asserted above.
        harness.log("max_requests, nginx keepalive: %d upstream errors retried by nginx"
                    % nginx.log_text().count("[error]"))

    def test_flood(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}}})
        workers = s.pool_workers()
        t0 = time.monotonic()
        with harness.Sampler(lambda: len(s.pool_workers())) as counts:
            results = harness.run_concurrently(lambda i: self.pid_request(s, 200), [(i,) for i in range(40)])
        took = time.monotonic() - t0
        harness.log("flood: 40 x 200 ms on 2 workers in %.2fs" % took)
        for r in results:
            self.assertIn(pid_of(r), workers, r)
        self.assertEqual(set(counts.values()), {2})
        self.assertEqual(s.pool_workers(), workers)
        self.assertGreaterEqual(took, 40 * 0.2 / 2)  # two at a time: the backlog held the rest

    def test_fork_failing(self):
        harness.require_root("test_fork_failing")
        # fpmd runs in a pids cgroup of the test's with room for 3 processes: the supervisor, the leader and one
        # worker; the leader's next fork() fails with EAGAIN.
        cg = pids_cgroup(self)
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write("3")
        # Without the zygote, which would take a pid of the 3 and fork through a middle process
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 3}}}, global_settings={"zygote": False},
                      start=False)
        fpmd = s.argv()
        s.argv = lambda: ["/bin/sh", "-c", 'echo $$ > "%s/cgroup.procs" && exec "$0" "$@"' % cg] + fpmd
        s._wait_started = lambda: None
        s.start()
        error = (SUP + r"error: \[pool www\] could not start a worker: fork\(\) failed: Resource temporarily "
                 r"unavailable \(a process limit: cgroup pids_max, TasksMax= or RLIMIT_NPROC of the pool's "
                 r"user\?\); trying again once a second\.$")
        # Ready with the one worker it could start, as PHP-FPM goes on with the children it could fork
        self.assertIsNotNone(s.wait_log(error), s.log_text())
        self.assertEqual(len(s.pool_workers()), 1)
        self.assertIsNotNone(pid_of(self.pid_request(s)))
        cpu0 = harness.proc_cpu_seconds(s.pid)
        # Absence takes a while to see: three ticks, each trying again, say nothing more and cost no CPU to
        # speak of (before, a failed fork read as a clean exit and was asked again at once, in a loop)
        time.sleep(3.5)
        self.assertEqual(len(s.log_find(error)), 1, s.log_text())
        self.assertLess(harness.proc_cpu_seconds(s.pid) - cpu0, 0.5)
        self.assertEqual(len(s.pool_workers()), 1)
        self.assertIsNotNone(pid_of(self.pid_request(s)))

        # The limit lifted: the pool fills up, and says so once
        offset = s.log_offset()
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write("max")
        self.assertTrue(harness.wait_for(lambda: len(s.pool_workers()) == 3, 10), s.log_text())
        self.assertIsNotNone(s.wait_log(SUP + r"notice: \[pool www\] workers start again\.$", offset))
        self.assertEqual(len(s.log_find(error)), 1)
        self.assertEqual(s.stop(), 0)


class LazyLeader(harness.FpmdTestCase):
    """ondemand pools with pm.leader_idle_timeout (on by default): no leader until the first connection waits,
    which starts it and is served; the leader stops once the pool has had no worker for the timeout; a
    connection that comes while it stops is served by the next leader."""

    LAZY = {"pm": {"mode": "ondemand", "max_children": 2, "process_idle_timeout": "1s",
                   "leader_idle_timeout": "1s"}, "status_path": "/status"}
    DOZE = (SUP + r"info: \[pool www\] no worker for 1 s \(pm.leader_idle_timeout\): stopping its PHP \(leader "
            r"(\d+)\) until the next connection\.$")

    def first_byte(self, s, script="/pid.php"):
        with harness.FcgiClient(s.port, timeout=10) as c:
            t0 = time.monotonic()
            c.send_request(self.params(script))
            res = c.read_response()
        return res.response(), (res.records[0][0] - t0) * 1000

    def test_leader_on_demand_and_at_rest(self):
        s = self.fpmd({"www": self.LAZY}, log_level="debug")
        # Ready, serving, and no process but the supervisor
        self.assertEqual(s.pool_processes(), [])
        self.assertIsNotNone(s.log_find(SUP + r"debug: \[pool www\] at rest until its first connection\.$"))

        r, ms = self.first_byte(s)
        harness.log("first request to a pool at rest: first byte after %.1f ms" % ms)
        self.assertEqual(r.status, 200)
        leader = s.leader()
        self.assertIsNotNone(leader)
        self.assertEqual(s.pool_workers(), [pid_of(r)])

        # No worker for process_idle_timeout, then none for leader_idle_timeout: the leader goes too
        m = s.wait_log(self.DOZE, timeout=10)
        self.assertIsNotNone(m, s.log_text())
        self.assertEqual(int(m.group(1)), leader)
        self.assertTrue(harness.wait_for(lambda: s.pool_processes() == [], 5), s.pool_processes())

        # And comes back for the next connection, the pool's counters kept across its leaders
        offset = s.log_offset()
        r, ms = self.first_byte(s)
        self.assertEqual(r.status, 200)
        self.assertNotIn(s.leader(), (None, leader))
        st = self.cgi("/status", server=s, query="json").json()
        self.assertEqual((st["accepted conn"], st["process manager"]), (3, "ondemand"))
        self.assertEqual(s.log_find(SUP + r"(error|warning): ", offset), [])
        self.assertEqual(s.stop(), 0)

    def test_request_while_the_leader_stops(self):
        # 3 s without a worker before the leader goes: time to hold it first
        s = self.fpmd({"www": dict(self.LAZY, pm=dict(self.LAZY["pm"], leader_idle_timeout="3s"))}, log_level="debug")
        r = self.pid_request(s)
        self.assertEqual(r.status, 200)
        leader = s.leader()
        self.assertTrue(harness.wait_for(lambda: s.pool_workers() == [], 10))
        # ...and the supervisor has heard of it from the leader (held too early, the leader would never tell)
        self.assertIsNotNone(s.wait_log(SUP + r"debug: \[pool www\] child %d exited$" % pid_of(r)), s.log_text())
        # The leader is held (SIGSTOP) while the supervisor tells it to stop: a connection that comes now waits
        # in the backlog, with no worker and a leader on its way out
        offset = s.log_offset()
        os.kill(leader, signal.SIGSTOP)
        try:
            self.assertIsNotNone(s.wait_log(self.DOZE.replace("for 1 s", "for 3 s"), offset, timeout=10),
                                 s.log_text()[offset:])
            with harness.FcgiClient(s.port, timeout=20) as c:
                c.send_request(self.params("/pid.php"))
                self.assertTrue(harness.wait_for(lambda: harness.listen_queue(s.port) == 1, 5))
                os.kill(leader, signal.SIGCONT)
                res = c.read_response()
        finally:
            try:
                os.kill(leader, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.assertEqual(res.response().status, 200)
        self.assertIsNotNone(pid_of(res.response()))
        self.assertNotIn(s.leader(), (None, leader))
        self.assertEqual(s.log_find(SUP + r"(error|warning): ", offset), [])

    def pid_request(self, server, ms=0):
        return self.raw("/pid.php", query="ms=%d" % ms if ms else "", server=server)

    def test_reload_keeps_a_pool_at_rest(self):
        s = self.fpmd({"www": self.LAZY, "api": dict(self.LAZY, php_value={"precision": "11"})})
        offset = s.reload()
        self.assertIsNotNone(s.wait_log(SUP + r"notice: Reloaded: 2 pools serving\.$", offset), s.log_text())
        self.assertEqual(s.pool_processes(), [])
        # A running pool's new generation starts its leader at once, a resting one's stays at rest
        self.assertEqual(self.pid_request(s).status, 200)
        www = s.leader()
        s.set_pool("api", dict(self.LAZY, php_value={"precision": "12"}))
        offset = s.reload()
        self.assertIsNotNone(s.wait_log(SUP + r"notice: Reloaded: 2 pools serving\.$", offset), s.log_text())
        # (the old leader may still be on its way out)
        self.assertTrue(harness.wait_for(lambda: s.leader("www") not in (None, www), 5), s.leaders("www"))
        self.assertEqual(s.leaders("api"), [])
        r = self.cgi("/ini.php", server=s.endpoint("api"), query="get[]=precision")
        self.assertEqual(r.json()["get"], {"precision": "12"})


def cmdline(pid):
    """/proc/PID/cmdline, its arguments joined by spaces"""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return " ".join(a.decode() for a in f.read().split(b"\0") if a)


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


class Zygote(harness.FpmdTestCase):
    """Leaders are forked from the leaders' zygote (zygote = true, the default), which has loaded the pools'
    extension libraries and holds nothing of any pool; they are the supervisor's children all the same, titled
    like PHP-FPM's processes; a zygote that dies is started again when a leader is needed."""

    def zygotes(self, s):
        return [c for c in harness.children(s.pid) if harness.is_zygote(c)]

    def test_leaders_from_the_zygote(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}},
                       "api": {"pm": {"mode": "ondemand", "max_children": 2}}})
        zygotes = self.zygotes(s)
        self.assertEqual(len(zygotes), 1)
        z = zygotes[0]
        self.assertEqual((comm(z), cmdline(z)), ("fpmd-zygote", "fpmd-zygote"))
        # Only its channel to the supervisor, besides stdin/out/err: no pool's socket, scoreboard or settings
        self.assertEqual(sorted(int(f) for f in os.listdir("/proc/%d/fd" % z)), [0, 1, 2, 3])
        with open("/proc/%d/maps" % z) as f:
            maps = f.read()
        self.assertIn("/opcache.so", maps)  # Debian's conf.d/10-opcache.ini: preloaded
        self.assertNotIn("fpmd-scoreboard", maps)

        leader = s.leader("www")
        self.assertEqual(harness.proc_stat_ppid(leader), s.pid)
        self.assertEqual((comm(leader), cmdline(leader)), ("fpmd-leader", "fpmd-leader: pool www"))
        for w in s.pool_workers("www"):
            self.assertEqual(cmdline(w), "fpmd-worker: pool www")
        self.assertEqual(self.raw("/hello.php", server=s).body, b"hello\n")
        self.assertEqual(self.raw("/hello.php", server=s.endpoint("api")).body, b"hello\n")
        self.assertEqual(cmdline(s.leader("api")), "fpmd-leader: pool api")

        # Killed, it is started again for the next leader (here: a reload's)
        offset = s.log_offset()
        os.kill(z, signal.SIGKILL)
        self.assertIsNotNone(s.wait_log(SUP + r"warning: The leaders' zygote %d exited \(signal 9\); it is "
                                        r"started again when a leader is needed\.$" % z, offset), s.log_text())
        r = s.reload_command()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(harness.wait_for(lambda: self.zygotes(s) not in ([], [z]), 5), self.zygotes(s))
        self.assertEqual(self.raw("/hello.php", server=s).body, b"hello\n")
        self.assertEqual(s.log_find(SUP + r"(error|warning): (?!\[pool \w+\] runs PHP as root)", offset)[1:], [],
                         s.log_text()[offset:])

    def test_without_the_zygote(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}}}, global_settings={"zygote": False})
        self.assertEqual(self.zygotes(s), [])
        self.assertEqual(cmdline(s.leader()), "fpmd-leader: pool www")
        self.assertEqual(self.raw("/hello.php", server=s).body, b"hello\n")


def pids_cgroup(test):
    """A new cgroup with the pids controller (v1's pids hierarchy, or cgroup v2 where the root offers it to its
    children), removed when the test ends; the test is skipped where there is none."""
    for root, ok in (("/sys/fs/cgroup/pids", lambda: os.path.exists("/sys/fs/cgroup/pids/pids.max") or
                      os.path.exists("/sys/fs/cgroup/pids/cgroup.procs")),
                     ("/sys/fs/cgroup", lambda: "pids" in open("/sys/fs/cgroup/cgroup.subtree_control").read())):
        try:
            if not ok():
                continue
            path = os.path.join(root, "fpmd-test-%d" % os.getpid())
            os.mkdir(path)
        except OSError:
            continue
        test.addCleanup(lambda: harness.wait_for(lambda: rmdir_ok(path), 10))
        return path
    test.skipTest("no pids cgroup controller this test may use")


def rmdir_ok(path):
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def dedup(values):
    """Consecutive repeats folded: [2, 2, 3, 3, 2] -> [2, 3, 2]."""
    out = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def transitions(samples):
    """(time, value) where the value changed, the first sample included."""
    out = []
    for t, v in samples:
        if not out or out[-1][1] != v:
            out.append((t, v))
    return out


if __name__ == "__main__":
    harness.main()
