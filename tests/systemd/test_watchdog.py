#!/usr/bin/env python3
"""The watchdog with a real systemd: fpmd.service with a drop-in WatchdogSec=2s, RestartSec=100ms, serving the
TCP socket of fpmd@www.socket (socket activation: the socket stays in systemd while fpmd restarts).

- No stall: fpmd's pings keep it up (6 s, same MainPID, NRestarts unchanged).
- The supervisor stalls (kill -STOP MainPID): systemd's watchdog fires (SIGABRT), Restart=on-failure starts a
  new fpmd; the pool's workers, which do not need the supervisor to serve, answer a request sent during the
  stall; the new fpmd serves on the same socket.
- The whole of fpmd stalls (supervisor SIGSTOPped, the pool's cgroup frozen): a request sent during the stall
  waits in the socket's queue and is answered by a worker of the new fpmd after the restart.
- A pool leader stops answering the supervisor's heartbeat (kill -STOP of the leader alone): the supervisor
  stops pinging, so systemd restarts fpmd although its main process is fine.

The methods share one container and run in name order."""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

WD_DROPIN = "[Service]\nWatchdogSec=2s\nRestartSec=100ms\n"
GLOBAL = h.GLOBAL_CONF.replace('log_level = "notice";', 'log_level = "info";')
BODY_RE = rb"hello (\d+)\n"


class Watchdog(h.TestCase):
    SCRIPTS = {"/hello.php": "<?php echo 'hello ', getmypid(), \"\\n\";\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert 'log_level = "info";' in GLOBAL
        cls.ws.write_global(GLOBAL)
        cls.box.dropin("fpmd.service", "wd.conf", WD_DROPIN)
        cls.box.systemctl("start", "fpmd@www.socket")

    def setUp(self):
        box = self.box
        box.systemctl("reset-failed", "fpmd.service", check=False)
        if box.prop("fpmd.service", "ActiveState") != "active":
            box.systemctl("start", "fpmd.service", timeout=90)
        st = box.wait_props("fpmd.service", {"ActiveState": "active", "SubState": "running"}, 30)
        self.assertEqual((st["ActiveState"], st["SubState"]), ("active", "running"), st)
        self.assertEqual(box.prop("fpmd.service", "WatchdogUSec"), "2s")
        self.check_hello(self.request("/hello.php", timeout=30))

    # -- helpers ---------------------------------------------------------------------------------------------

    def check_hello(self, r):
        self.assertEqual(r.status, 200, r)
        m = re.fullmatch(BODY_RE, r.body)
        self.assertTrue(m, r)
        return int(m.group(1))

    def state(self):
        st = self.box.show("fpmd.service", "MainPID", "NRestarts", "ActiveState", "SubState", "Result")
        st["MainPID"], st["NRestarts"] = int(st["MainPID"] or 0), int(st["NRestarts"] or 0)
        return st

    def wait_restarted(self, old_main, timeout=30):
        """Waits until fpmd.service runs again with a MainPID other than old_main; returns state()."""
        last = {}

        def restarted():
            last.update(self.state())
            return last["MainPID"] not in (0, old_main) and last["ActiveState"] == "active" \
                and last["SubState"] == "running"

        self.assertTrue(h.wait_for(restarted, timeout, 0.05), "fpmd was not restarted: %r" % last)
        return dict(last)

    def request_in_thread(self):
        """A request from the host, in a thread, with a long client timeout: (thread, result dict, sent Event)."""
        result, sent = {}, threading.Event()

        def run():
            try:
                result["r"] = h.fcgi_request(self.address, "/hello.php", timeout=60, on_sent=sent.set)
                result["t"] = time.monotonic()
            except Exception as e:
                result["e"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, result, sent

    def worker_of(self, pid, main):
        """Whether pid is a worker of the fpmd whose MainPID is main (worker -> leader -> main)."""
        procs = self.box.fpmd_procs()
        return pid in procs and procs[pid].ppid in procs and procs[procs[pid].ppid].ppid == main

    def assertWatchdogRestart(self, cursor, old_main):
        """systemd's own journal lines of a watchdog restart, and the new fpmd took the socket from systemd."""
        box = self.box
        msgs = h.wait_for(lambda: (lambda m: m if any("Scheduled restart job" in x for x in m) else None)(
            box.messages("-u", "fpmd.service", after=cursor)), 10, 0.2) \
            or box.messages("-u", "fpmd.service", after=cursor)
        text = "\n".join(msgs)
        self.assertTrue([m for m in msgs if m.startswith("fpmd.service: Watchdog timeout (limit 2s)")], text)
        self.assertIn("fpmd.service: Killing process %d (fpmd) with signal SIGABRT." % old_main, msgs, text)
        self.assertIn("fpmd.service: Failed with result 'watchdog'.", msgs, text)
        self.assertTrue([m for m in msgs if m.startswith("fpmd.service: Scheduled restart job")], text)
        new_main = self.box.main_pid()

        def socket_line():
            m = box.messages("-u", "fpmd.service", "_PID=%d" % new_main, after=cursor)
            return m if any(x.startswith("[pool www] ") and "socket" in x or "listening" in x for x in m) else None

        new = h.wait_for(socket_line, 10, 0.2) or []
        self.assertIn("[pool www] using the socket systemd passed.", new, new)
        return msgs

    # -- tests -----------------------------------------------------------------------------------------------

    def test_1_pings_keep_it_up(self):
        box = self.box
        before = self.state()
        cursor = box.cursor()
        # fpmd saw the watchdog and pings it
        started = box.messages("-u", "fpmd.service", "_PID=%d" % before["MainPID"])
        self.assertIn("Watchdog every 2.0 s: pinged while every pool leader answers.", started, started)
        t_end = time.monotonic() + 6
        n = 0
        while time.monotonic() < t_end:
            self.check_hello(self.request("/hello.php", timeout=30))
            n += 1
            time.sleep(0.25)
        after = self.state()
        self.assertEqual((after["MainPID"], after["NRestarts"], after["ActiveState"], after["SubState"]),
                         (before["MainPID"], before["NRestarts"], "active", "running"))
        msgs = box.messages("-u", "fpmd.service", after=cursor)
        self.assertFalse([m for m in msgs if "Watchdog timeout" in m], msgs)
        h.log("6 s with WatchdogSec=2s: %d requests, MainPID %d, NRestarts %d"
              % (n, after["MainPID"], after["NRestarts"]))

    def test_2_supervisor_stall(self):
        box = self.box
        before = self.state()
        main = before["MainPID"]
        cursor = box.cursor()
        box.run(["kill", "-STOP", str(main)])
        t_stop = time.monotonic()
        try:
            t, result, sent = self.request_in_thread()
            self.assertTrue(sent.wait(10), "the request could not be sent")
            after = self.wait_restarted(main)
            t_restarted = time.monotonic()
        finally:
            box.run(["kill", "-CONT", str(main)], check=False)  # no-op when it is gone, as it should be
        t.join(60)
        self.assertNotIn("e", result, "the request sent during the stall failed: %r" % result.get("e"))
        pid = self.check_hello(result["r"])
        h.log("supervisor stalled: restarted after %.2fs; the request sent during the stall was answered %.2fs "
              "after the stall began by worker %d (%s)" % (
                  t_restarted - t_stop, result["t"] - t_stop, pid,
                  "a worker of the stalled fpmd: they serve without the supervisor"
                  if result["t"] < t_restarted - 0.3 else "after the restart"))
        self.assertNotEqual(after["MainPID"], main)
        self.assertEqual(after["NRestarts"], before["NRestarts"] + 1)
        # The watchdog, not anything else, ended it: not before 2 s without a ping (one ping may be 2/3 s old)
        self.assertGreater(t_restarted - t_stop, 1.2)
        self.assertWatchdogRestart(cursor, main)
        self.assertNotIn(main, box.proc_table())
        self.check_hello(self.request("/hello.php", timeout=30))

    def test_3_whole_fpmd_stall(self):
        box = self.box
        before = self.state()
        main = before["MainPID"]
        procs = box.fpmd_procs()
        self.assertGreaterEqual(len(procs), 5, procs)  # supervisor, zygote, leader, 2 workers
        leaves = {p.cgroup for p in procs.values() if p.pid != main and not p.zygote}
        self.assertEqual(len(leaves), 1, procs)
        leaf = "/sys/fs/cgroup" + leaves.pop()
        cursor = box.cursor()
        # The pool is frozen (cgroup.freeze of its leaf) rather than SIGSTOPped: when the stopped supervisor dies,
        # the kernel sends SIGHUP and SIGCONT to a process group left orphaned with stopped members, which would
        # wake the old workers for the moments before systemd's SIGKILL. A frozen task stays frozen until killed.
        box.run("echo 1 > %s/cgroup.freeze" % leaf)
        self.assertTrue(h.wait_for(lambda: "frozen 1" in (box.read(leaf + "/cgroup.events", check=False) or ""),
                                   10), "the pool's cgroup did not freeze")
        box.run(["kill", "-STOP", str(main)])
        t_stop = time.monotonic()
        try:
            t, result, sent = self.request_in_thread()
            self.assertTrue(sent.wait(10), "the request could not be sent")
            time.sleep(0.5)
            self.assertTrue(t.is_alive(), "answered while every fpmd process was stalled: %r" % result)
            after = self.wait_restarted(main)
            t_restarted = time.monotonic()
        finally:
            box.run("kill -CONT %d; test -e %s && echo 0 > %s/cgroup.freeze" % (main, leaf, leaf), check=False)
        t.join(60)
        self.assertNotIn("e", result, "the request sent during the stall failed: %r" % result.get("e"))
        pid = self.check_hello(result["r"])
        h.log("whole fpmd stalled: restarted after %.2fs, the queued request answered %.2fs after the stall "
              "began, by worker %d" % (t_restarted - t_stop, result["t"] - t_stop, pid))
        self.assertNotIn(pid, procs, "answered by a process of the stalled fpmd")
        self.assertTrue(self.worker_of(pid, after["MainPID"]), "worker %d is not one of the new fpmd %d"
                        % (pid, after["MainPID"]))
        self.assertGreater(result["t"], t_stop + 1.2, "answered before the watchdog could have fired")
        self.assertNotEqual(after["MainPID"], main)
        self.assertEqual(after["NRestarts"], before["NRestarts"] + 1)
        self.assertGreater(t_restarted - t_stop, 1.2)
        self.assertWatchdogRestart(cursor, main)
        left = set(procs) & set(box.proc_table())
        self.assertEqual(left, set(), "processes of the stalled fpmd survived the restart")
        self.check_hello(self.request("/hello.php", timeout=30))

    def test_4_leader_stall(self):
        box = self.box
        before = self.state()
        main = before["MainPID"]
        procs = box.fpmd_procs()
        leaders = [p for p in procs.values() if p.ppid == main and not p.zygote]
        self.assertEqual(len(leaders), 1, procs)
        leader = leaders[0].pid
        cursor = box.cursor()
        box.run(["kill", "-STOP", str(leader)])
        t_stop = time.monotonic()
        try:
            # The workers keep serving while their leader is stopped
            self.check_hello(self.request("/hello.php", timeout=30))
            after = self.wait_restarted(main)
            t_restarted = time.monotonic()
        finally:
            box.run(["kill", "-CONT", str(leader)], check=False)
        h.log("leader stalled: fpmd restarted after %.2fs" % (t_restarted - t_stop))
        self.assertEqual(after["NRestarts"], before["NRestarts"] + 1)
        msgs = self.assertWatchdogRestart(cursor, main)
        self.assertIn("[pool www] its leader does not answer: no longer pinging the watchdog.", msgs, msgs)
        self.assertNotIn(leader, box.proc_table())
        self.check_hello(self.request("/hello.php", timeout=30))


if __name__ == "__main__":
    h.main()
