#!/usr/bin/env python3
"""What an operator's tools send fpmd under systemd. logrotate's postrotate, written as Debian's rule for PHP-FPM
is (SIGUSR1, "reopen the logs"), to the main process and to the whole unit (`systemctl kill -s USR1`): fpmd
serves on with every process it had, and says once per signal that the journal needs no reopening. A signal
fpmd does not use ends it with a failure, so the unit's Restart=on-failure starts it again."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

LOGROTATE_CONF = """\
/var/log/fpmd-test/*.log {
    rotate 2
    missingok
    sharedscripts
    postrotate
        %s
    endscript
}
"""
REOPEN = "SIGUSR1: no log files to reopen, fpmd logs to the journal."


class Signals(h.TestCase):
    def fpmd_pids(self):
        return sorted(self.box.fpmd_procs())

    def rotate(self, postrotate):
        box = self.box
        box.write("/var/log/fpmd-test/app.log", "a line\n")
        box.write("/etc/fpmd-test-logrotate.conf", LOGROTATE_CONF % postrotate)
        r = box.run(["logrotate", "--force", "--state", "/run/fpmd-test-logrotate.state",
                     "/etc/fpmd-test-logrotate.conf"], check=False)
        self.assertEqual(r.returncode, 0, "logrotate failed: %s%s" % (r.stdout, r.stderr))
        self.assertTrue(box.exists("/var/log/fpmd-test/app.log.1"), "logrotate did not rotate")

    def test_1_logrotate_signals(self):
        box = self.box
        box.systemctl("start", "fpmd@www.socket")
        self.assertServes()
        # Both workers up: the process list below is complete
        h.wait_for(lambda: sum(1 for p in box.fpmd_procs().values()
                               if p.argv[0].startswith("fpmd-worker")) == 2, 30)
        main_pid = box.main_pid()
        before = self.fpmd_pids()
        h.log("fpmd processes: %s" % before)
        self.assertGreaterEqual(len(before), 4)  # supervisor, zygote, leader, workers

        for postrotate in ("systemctl kill --kill-whom=main --signal=USR1 fpmd.service",
                           "systemctl kill --signal=USR1 fpmd.service"):
            cursor = box.cursor()
            self.rotate(postrotate)
            h.wait_for(lambda: REOPEN in box.messages("-u", "fpmd.service", after=cursor), 30)
            self.assertEqual(box.messages("-u", "fpmd.service", "-p", "notice", after=cursor).count(REOPEN), 1,
                             postrotate)
            self.assertServes(postrotate)
            st = box.show("fpmd.service", "ActiveState", "SubState", "MainPID", "NRestarts")
            self.assertEqual((st["ActiveState"], st["SubState"], st["MainPID"], st["NRestarts"]),
                             ("active", "running", str(main_pid), "0"), postrotate)
            # No process of fpmd ended or was replaced
            self.assertEqual(self.fpmd_pids(), before, postrotate)

    def test_2_unused_signal_restarts(self):
        box = self.box
        box.systemctl("start", "fpmd@www.socket")
        self.assertServes()
        main_pid = box.main_pid()
        cursor = box.cursor()
        box.systemctl("kill", "--kill-whom=main", "--signal=SIGPWR", "fpmd.service")
        # Exit status 128 + SIGPWR (30), then Restart=on-failure after RestartSec=1s: a new main process
        st = box.wait_props("fpmd.service", {"ActiveState": "active", "SubState": "running", "NRestarts": "1"})
        self.assertNotEqual(int(st.get("MainPID", "0")), main_pid)
        self.assertServes()
        texts = box.messages("-u", "fpmd.service", after=cursor)
        self.assertTrue(any("Main process exited, code=exited, status=158/n/a" in t for t in texts), texts)


if __name__ == "__main__":
    h.main()
