#!/usr/bin/env python3
"""systemctl stop fpmd while a 2 s request runs: the request completes with its whole body, then every fpmd
process is gone (the unit's cgroup is empty), and the unit is inactive, not failed, without systemd having
had to kill anything."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

PAYLOAD = b"start\n" + b"x" * 100000 + b"\nend\n"


class Stop(h.TestCase):
    SCRIPTS = {
        "/hello.php": "<?php echo \"hello\\n\";\n",
        # 2 s of wall time even when a signal cuts a usleep() short (fpmd's graceful stop interrupts sleep())
        "/long.php": "<?php echo \"start\\n\"; flush(); $end = microtime(true) + 2;\n"
                     "while (microtime(true) < $end) usleep(20000);\n"
                     "echo str_repeat('x', 100000), \"\\nend\\n\";\n",
    }

    def fpmd_processes(self):
        return [p for p in self.box.processes() if "fpmd" in p[2] and p[1] != "ps"]

    def test_stop_during_request(self):
        box = self.box
        box.systemctl("start", "fpmd@www.socket")
        self.assertServes()
        main_pid = box.prop("fpmd.service", "MainPID")
        cgroup = box.prop("fpmd.service", "ControlGroup")
        self.assertEqual(cgroup, "/system.slice/fpmd.service")
        self.assertGreaterEqual(len(self.fpmd_processes()), 4)  # supervisor, leader, 2 workers
        h.log("running: %s" % self.fpmd_processes())

        result = {}
        started = threading.Event()

        def long_request():
            try:
                result["r"] = self.request("/long.php", timeout=60, on_first_byte=started.set)
            except Exception as e:
                result["e"] = e

        t = threading.Thread(target=long_request)
        t.start()
        try:
            # The script flushed "start\n": it runs, with 2 s to go
            self.assertTrue(started.wait(10), "no first byte of the long request")
            t0 = time.monotonic()
            box.systemctl("stop", "fpmd.service", timeout=60)
            stop_seconds = time.monotonic() - t0
        finally:
            t.join(60)
        h.log("systemctl stop took %.2fs" % stop_seconds)
        self.assertNotIn("e", result, "the request in flight failed: %r" % result.get("e"))
        r = result["r"]
        self.assertEqual((r.status, r.protocol_status, r.app_status, len(r.body)), (200, 0, 0, len(PAYLOAD)))
        self.assertEqual(r.body, PAYLOAD)
        self.assertGreater(stop_seconds, 1.5, "stop did not wait for the request in flight")
        self.assertLess(stop_seconds, 10, "stop waited for more than the request in flight")

        st = box.show("fpmd.service", "ActiveState", "SubState", "Result", "MainPID", "ExecMainPID",
                      "ExecMainCode", "ExecMainStatus", "ControlGroup")
        h.log("after stop: %s" % st)
        self.assertEqual((st["ActiveState"], st["SubState"], st["Result"], st["MainPID"], st["ControlGroup"]),
                         ("inactive", "dead", "success", "0", ""))
        self.assertEqual(st["ExecMainPID"], main_pid)
        # The main process exited by itself with 0 (CLD_EXITED = 1), not by a signal
        self.assertEqual((st["ExecMainCode"], st["ExecMainStatus"]), ("1", "0"))

        self.assertEqual(self.fpmd_processes(), [])
        left = box.run("find /sys/fs/cgroup/system.slice/fpmd.service -name cgroup.procs -exec cat {} + "
                       "2>/dev/null; true").stdout.split()
        self.assertEqual(left, [], "processes left in fpmd.service's cgroup")

        # Nothing was left for systemd to kill after SIGTERM
        journal = box.journal_text("-u", "fpmd.service")
        for bad in ("Killing process", "timed out", "Failed with result", "left-over process"):
            self.assertNotIn(bad, journal)
        # The socket stays with systemd
        self.assertEqual(box.prop("fpmd@www.socket", "SubState"), "listening")


if __name__ == "__main__":
    h.main()
