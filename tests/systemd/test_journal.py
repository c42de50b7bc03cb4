#!/usr/bin/env python3
"""The journal as ARCHITECTURE.md describes it: a worker's stdout/stderr reach the journal on a stream the
worker opened itself (sd_journal_stream_fd(), so _PID is the worker's); PHP's error_log, the access log and
fpmd's own messages are sent with sd_journal_send() and fields FPMD_POOL=, FPMD_WORKER_PID=, REQUEST_METHOD=,
REQUEST_URI=, SCRIPT_FILENAME=, STATUS=, DURATION_USEC=, MEMORY_PEAK=; nothing is cut at 1024 bytes.

Methods whose name ends in _lead test what the lead is implementing now (structured journal fields): they may
fail until that lands; each docstring says what it needs. The others must pass already."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

STDERR_MARK = "marker-stderr-7c1f"
ERRLOG_MARK = "marker2-errorlog-7c1f"
LONG = 3000  # bytes of message beyond the marker: past journald's and syslog's usual 1024/2048 limits


def message(entry):
    """MESSAGE of a journal JSON entry as text (journalctl gives bytes as a list of numbers when not UTF-8)."""
    m = entry.get("MESSAGE", "")
    if isinstance(m, list):
        m = bytes(m).decode("utf-8", "replace")
    return m


class Journal(h.TestCase):
    SCRIPTS = {
        "/hello.php": "<?php echo \"hello\\n\";\n",
        "/stderr.php": "<?php file_put_contents('php://stderr', \"%s\\n\"); echo getmypid(), \"\\n\";\n"
                       % STDERR_MARK,
        "/errorlog.php": "<?php error_log(\"%s\"); echo getmypid(), \"\\n\";\n" % ERRLOG_MARK,
        "/stderr_long.php": "<?php file_put_contents('php://stderr', \"%s-long \" . str_repeat('s', %d) . \"\\n\");"
                            " echo getmypid(), \"\\n\";\n" % (STDERR_MARK, LONG),
        "/errorlog_long.php": "<?php error_log(\"%s-long \" . str_repeat('e', %d)); echo getmypid(), \"\\n\";\n"
                              % (ERRLOG_MARK, LONG),
    }
    POOL = "access_log = true;\ncatch_workers_output = true;"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.box.systemctl("start", "fpmd@www.socket")
        cls.pids = {}
        for script in ("/hello.php", "/stderr.php", "/errorlog.php", "/stderr_long.php", "/errorlog_long.php"):
            r = h.fcgi_request(cls.address, script, timeout=60)
            if r.status != 200:
                raise AssertionError("%s: %r" % (script, r))
            if script != "/hello.php":
                cls.pids[script] = int(r.body.decode().strip())
        cls.main_pid = int(cls.box.prop("fpmd.service", "MainPID"))
        h.log("worker pids: %s, supervisor %d" % (cls.pids, cls.main_pid))
        # journald reads streams asynchronously: wait until the last markers are in
        h.wait_for(lambda: sum(1 for e in cls.box.journal("-u", "fpmd.service")
                               if STDERR_MARK + "-long" in message(e) or ERRLOG_MARK + "-long" in message(e)) >= 2,
                   10, 0.2)

    def entries(self, *match):
        return self.box.journal("-u", "fpmd.service", *match)

    def find(self, marker, *match):
        """The entries of fpmd.service whose MESSAGE holds marker on a line of its own (not the -long one)."""
        return [e for e in self.entries(*match)
                if re.search(r"(^|\s)%s($|\s)" % re.escape(marker), message(e))]

    def show(self, entries):
        keys = ("MESSAGE", "_PID", "_COMM", "SYSLOG_IDENTIFIER", "PRIORITY", "FPMD_POOL", "FPMD_WORKER_PID",
                "REQUEST_URI", "SCRIPT_FILENAME", "_TRANSPORT")
        return [{k: (message(e)[:120] if k == "MESSAGE" else e.get(k)) for k in keys if k in e} for e in entries]

    # -- stderr of a worker -------------------------------------------------------------------------------

    def test_stderr_reaches_journal(self):
        found = self.find(STDERR_MARK)
        self.assertEqual(len(found), 1, self.show(found))
        e = found[0]
        self.assertEqual(message(e), STDERR_MARK)
        self.assertEqual(e.get("_SYSTEMD_UNIT"), "fpmd.service")
        h.log("stderr line: %s" % self.show(found))

    def test_stderr_pid_is_the_worker_lead(self):
        """LEAD: each worker opens its own journal stream (sd_journal_stream_fd()), so _PID is the worker's, not
        the supervisor's (as it would be on the stream systemd gives the service)."""
        found = self.find(STDERR_MARK)
        self.assertEqual(len(found), 1, self.show(found))
        self.assertEqual(found[0].get("_TRANSPORT"), "stdout")
        self.assertEqual(int(found[0]["_PID"]), self.pids["/stderr.php"],
                         "stderr line not attributed to the worker (supervisor is %d): %s"
                         % (self.main_pid, self.show(found)))

    def test_stderr_long_line_whole(self):
        found = [e for e in self.entries() if STDERR_MARK + "-long" in message(e)]
        self.assertEqual([message(e) for e in found], ["%s-long %s" % (STDERR_MARK, "s" * LONG)])

    # -- PHP's error_log ---------------------------------------------------------------------------------

    def test_error_log_reaches_journal(self):
        found = [e for e in self.entries() if ERRLOG_MARK in message(e) and "-long" not in message(e)]
        self.assertEqual(len(found), 1, self.show(found))
        self.assertIn(ERRLOG_MARK, message(found[0]))

    def test_error_log_fields_lead(self):
        """LEAD: error_log goes through sd_journal_send() from the worker with FPMD_POOL=, FPMD_WORKER_PID=,
        REQUEST_URI=, SCRIPT_FILENAME=."""
        found = [e for e in self.entries() if ERRLOG_MARK in message(e) and "-long" not in message(e)]
        self.assertEqual(len(found), 1, self.show(found))
        e = found[0]
        pid = self.pids["/errorlog.php"]
        got = {k: e.get(k) for k in ("FPMD_POOL", "FPMD_WORKER_PID", "_PID", "REQUEST_URI", "SCRIPT_FILENAME",
                                     "_TRANSPORT", "_SYSTEMD_UNIT")}
        self.assertEqual(got, {"FPMD_POOL": "www", "FPMD_WORKER_PID": str(pid), "_PID": str(pid),
                               "REQUEST_URI": "/errorlog.php", "SCRIPT_FILENAME": "/srv/www/errorlog.php",
                               "_TRANSPORT": "journal", "_SYSTEMD_UNIT": "fpmd.service"}, self.show(found))
        self.assertEqual(message(e), "PHP message: " + ERRLOG_MARK)
        # journalctl -u fpmd FPMD_POOL=www works
        by_pool = [x for x in self.entries("FPMD_POOL=www") if ERRLOG_MARK in message(x)]
        self.assertEqual(len(by_pool), 2, self.show(by_pool))  # this one and the -long one

    def test_error_log_long_whole(self):
        found = [e for e in self.entries() if ERRLOG_MARK + "-long" in message(e)]
        self.assertEqual(len(found), 1, self.show(found))
        self.assertTrue(message(found[0]).endswith("%s-long %s" % (ERRLOG_MARK, "e" * LONG)),
                        "error_log message cut: %d bytes" % len(message(found[0])))

    # -- access log -----------------------------------------------------------------------------------------

    def test_access_log_fields_lead(self):
        """LEAD: access_log = true sends one structured entry per request: FPMD_POOL=, FPMD_WORKER_PID=,
        REQUEST_METHOD=, REQUEST_URI=, SCRIPT_FILENAME=, STATUS=, DURATION_USEC=, MEMORY_PEAK=."""
        found = [e for e in self.entries() if e.get("REQUEST_URI") == "/stderr.php" and "REQUEST_METHOD" in e]
        self.assertEqual(len(found), 1, "no access log entry (one with REQUEST_METHOD=) for /stderr.php in: %s"
                         % self.show(self.entries()))
        e = found[0]
        got = {k: e.get(k) for k in ("FPMD_POOL", "FPMD_WORKER_PID", "REQUEST_METHOD", "REQUEST_URI",
                                     "SCRIPT_FILENAME", "STATUS")}
        self.assertEqual(got, {"FPMD_POOL": "www", "FPMD_WORKER_PID": str(self.pids["/stderr.php"]),
                               "REQUEST_METHOD": "GET", "REQUEST_URI": "/stderr.php",
                               "SCRIPT_FILENAME": "/srv/www/stderr.php", "STATUS": "200"})
        self.assertRegex(e.get("DURATION_USEC", ""), r"^[1-9][0-9]*$")
        self.assertRegex(e.get("MEMORY_PEAK", ""), r"^[1-9][0-9]*$")


if __name__ == "__main__":
    h.main()
