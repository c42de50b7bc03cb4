#!/usr/bin/env python3
"""The fd store: fpmd.service alone (no socket unit), its pool binding listen.address 127.0.0.1:PORT itself.
fpmd hands the socket to systemd (FDSTORE=1, FDNAME=www); when fpmd crashes, systemd restarts it
(Restart=on-failure, drop-in RestartSec=500ms) and passes the socket back in LISTEN_FDS/LISTEN_FDNAMES, with
the connections that queued while no fpmd ran.

systemd 252 shows how many fds the store holds (NFileDescriptorStore) but not which: that it is the pool's
listening socket is shown by behaviour (a connection made while fpmd is down is answered after the restart,
and the new fpmd says it uses the socket systemd passed rather than binding again). The methods share one
container and run in name order."""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

GLOBAL = h.GLOBAL_CONF.replace('log_level = "notice";', 'log_level = "info";')
BODY_RE = rb"hello (\d+)\n"
PASSED = "[pool www] using the socket systemd passed."


class FdStore(h.TestCase):
    SOCKET_DROPIN = None
    SCRIPTS = {"/hello.php": "<?php echo 'hello ', getmypid(), \"\\n\";\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert 'log_level = "info";' in GLOBAL
        cls.ws.write_global(GLOBAL)
        cls.ws.set_pools({"www.conf": h.pool_conf("www", cls.port, 2)})
        cls.box.dropin("fpmd.service", "restart.conf", "[Service]\nRestartSec=500ms\n")
        cls.start_cursor = cls.box.cursor()
        cls.box.systemctl("start", "fpmd.service", timeout=90)

    def setUp(self):
        st = self.box.wait_props("fpmd.service", {"ActiveState": "active", "SubState": "running"}, 30)
        self.assertEqual((st["ActiveState"], st["SubState"]), ("active", "running"), st)

    # -- helpers ---------------------------------------------------------------------------------------------

    def listening_line(self):
        return "[pool www] listening on 127.0.0.1:%d." % self.port

    def check_hello(self, r):
        self.assertEqual(r.status, 200, r)
        m = re.fullmatch(BODY_RE, r.body)
        self.assertTrue(m, r)
        return int(m.group(1))

    def state(self):
        st = self.box.show("fpmd.service", "MainPID", "NRestarts", "ActiveState", "SubState", "Result",
                           "NFileDescriptorStore")
        st["MainPID"], st["NRestarts"] = int(st["MainPID"] or 0), int(st["NRestarts"] or 0)
        return st

    def socket_lines(self, pid, cursor):
        """fpmd's lines about where pool www's socket came from, of the process pid (waits for one)."""
        def lines():
            m = [x for x in self.box.messages("-u", "fpmd.service", "_PID=%d" % pid, after=cursor)
                 if x in (PASSED, self.listening_line()) or x.startswith("[pool www] ") and "socket" in x]
            return m or None

        return h.wait_for(lines, 10, 0.2) or []

    def worker_of(self, pid, main):
        procs = self.box.fpmd_procs()
        return pid in procs and procs[pid].ppid in procs and procs[procs[pid].ppid].ppid == main

    def crash_and_queue(self):
        """kill -9 the main process; once systemd has cleaned up and waits to restart it (auto-restart), connect
        and send a whole request. Returns (state before, state after, response, pid of the answering worker)."""
        box = self.box
        before = self.state()
        main = before["MainPID"]
        cursor = box.cursor()
        box.run(["kill", "-9", str(main)])
        t_kill = time.monotonic()
        waiting = box.wait_props("fpmd.service", {"SubState": "auto-restart"}, 10, 0.01)
        self.assertEqual(waiting.get("SubState"), "auto-restart", waiting)
        self.assertEqual(box.fpmd_procs(), {}, "fpmd processes left during the restart delay")
        result, sent = {}, threading.Event()

        def run():
            try:
                result["r"] = h.fcgi_request(self.address, "/hello.php", timeout=60, on_sent=sent.set)
                result["t"] = time.monotonic()
            except Exception as e:
                result["e"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(sent.wait(10), "could not connect and send while fpmd was down: %r" % result)
        t_sent = time.monotonic()
        during = self.state()
        # Still down when the whole request had been written: it waits in the queue of the stored socket
        self.assertEqual((during["MainPID"], during["SubState"]), (0, "auto-restart"), during)
        t.join(60)
        self.assertNotIn("e", result, "the request queued during the downtime failed: %r" % result.get("e"))
        pid = self.check_hello(result["r"])
        h.wait_for(lambda: self.state()["SubState"] == "running", 30)
        after = self.state()
        h.log("kill -9 %d: request sent %.0f ms after the kill, answered %.0f ms after it by worker %d of fpmd %d"
              % (main, (t_sent - t_kill) * 1e3, (result["t"] - t_kill) * 1e3, pid, after["MainPID"]))
        self.assertNotIn(main, box.proc_table())
        self.assertNotEqual(after["MainPID"], main)
        self.assertNotEqual(after["MainPID"], 0)
        self.assertTrue(self.worker_of(pid, after["MainPID"]), "worker %d is not one of the new fpmd %d"
                        % (pid, after["MainPID"]))
        self.assertEqual(after["NRestarts"], before["NRestarts"] + 1)
        self.assertEqual((after["ActiveState"], after["SubState"]), ("active", "running"), after)
        msgs = box.messages("-u", "fpmd.service", after=cursor)
        self.assertIn("fpmd.service: Main process exited, code=killed, status=9/KILL", msgs, msgs)
        self.assertTrue([m for m in msgs if m.startswith("fpmd.service: Scheduled restart job")], msgs)
        lines = self.socket_lines(after["MainPID"], cursor)
        self.assertEqual(lines, [PASSED], "where the restarted fpmd took its socket from")
        self.assertFalse([m for m in msgs if "Address already in use" in m], msgs)
        self.assertEqual(after["NFileDescriptorStore"], "1")
        return after

    # -- tests -----------------------------------------------------------------------------------------------

    def test_1_store_holds_the_socket(self):
        box = self.box
        st = self.state()
        self.check_hello(h.fcgi_request(self.address, "/hello.php", timeout=30))
        store_max = box.prop("fpmd.service", "FileDescriptorStoreMax")
        h.log("FileDescriptorStoreMax=%s NFileDescriptorStore=%s" % (store_max, st["NFileDescriptorStore"]))
        self.assertNotEqual(store_max, "0")
        self.assertTrue(store_max.isdigit(), store_max)
        # The first fpmd bound the address itself and gave the socket to the store
        self.assertEqual(self.socket_lines(st["MainPID"], self.start_cursor), [self.listening_line()])
        self.assertEqual(st["NFileDescriptorStore"], "1")

    def test_2_crash_keeps_the_socket(self):
        self.crash_and_queue()

    def test_3_second_crash(self):
        # The restarted fpmd took its socket from the store without giving it again: the store still holds it
        self.crash_and_queue()

    def test_4_explicit_restart(self):
        box = self.box
        before = self.state()
        cursor = box.cursor()
        box.systemctl("restart", "fpmd.service", timeout=90)
        after = self.state()
        self.assertEqual((after["ActiveState"], after["SubState"]), ("active", "running"), after)
        self.assertNotEqual(after["MainPID"], before["MainPID"])
        self.check_hello(h.fcgi_request(self.address, "/hello.php", timeout=30))
        lines = self.socket_lines(after["MainPID"], cursor)
        h.log("systemctl restart: the new fpmd says %r (NFileDescriptorStore=%s)"
              % (lines, after["NFileDescriptorStore"]))
        # Either way (systemd 252 may flush the store on an explicit stop), one socket and it serves
        self.assertIn(lines, ([PASSED], [self.listening_line()]))
        self.assertEqual(after["NFileDescriptorStore"], "1")
        # ... and a crash after it still finds the socket in the store
        self.crash_and_queue()

    def test_5_stop_then_start(self):
        box = self.box
        box.systemctl("stop", "fpmd.service", timeout=90)
        stopped = self.state()
        self.assertEqual(stopped["ActiveState"], "inactive", stopped)
        h.log("after systemctl stop: NFileDescriptorStore=%s" % stopped["NFileDescriptorStore"])
        cursor = box.cursor()
        box.systemctl("start", "fpmd.service", timeout=90)
        after = self.state()
        self.assertEqual((after["ActiveState"], after["SubState"]), ("active", "running"), after)
        self.check_hello(h.fcgi_request(self.address, "/hello.php", timeout=30))
        lines = self.socket_lines(after["MainPID"], cursor)
        h.log("stop + start: the new fpmd says %r" % lines)
        self.assertIn(lines, ([PASSED], [self.listening_line()]))
        self.assertEqual(after["NFileDescriptorStore"], "1")
        self.crash_and_queue()


if __name__ == "__main__":
    h.main()
