#!/usr/bin/env python3
"""STATUS=: fpmd keeps systemd's StatusText a one-line summary of its pools,
`NAME: A active, I idle, N req, S slow`, pools joined by " | " in configuration order (pool files in name
order), as `systemctl status fpmd` and `systemctl show -p StatusText` show it."""

import json
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

API_POOL = """\
pool = {
  name = "api";
  user = "www-data";
  group = "www-data";
  php_ini = "%s";
  pm = { mode = "static"; max_children = 1; };
  status_path = "/status";
};
""" % h.PHP_INI


class Status(h.TestCase):
    SCRIPTS = {
        "/hello.php": "<?php echo \"hello\\n\";\n",
        "/sleep.php": "<?php sleep(2); echo \"slept\\n\";\n",
    }
    POOL = 'slowlog = true;\nrequest_slowlog_timeout = "1s";'

    def status_is(self, expected, timeout=10):
        """Waits for StatusText to be expected (a string, or a compiled regex); returns the last text."""
        def match():
            t = self.status_text()
            ok = t == expected if isinstance(expected, str) else expected.fullmatch(t)
            return ok and t
        got = h.wait_for(match, timeout, 0.05)
        if not got:
            self.fail("StatusText is %r, expected %r" % (self.status_text(), expected))
        return got

    def line(self, api, www):
        return "api: %s | www: %s" % (api, www)

    def test_status_line(self):
        box = self.box
        self.ws._write(os.path.join(self.ws.conf, "pool.d", "api.conf"), API_POOL)
        box.systemctl("start", "fpmd@www.socket", "fpmd@api.socket")
        box.systemctl("start", "fpmd.service")  # Type=notify: returns after READY=1
        self.assertEqual(box.show("fpmd.service", "ActiveState", "SubState"),
                         {"ActiveState": "active", "SubState": "running"})

        idle = self.line("0 active, 1 idle, 0 req, 0 slow", "0 active, 2 idle, 0 req, 0 slow")
        self.status_is(idle)

        for _ in range(3):
            self.assertServes()
        r = h.fcgi_request(box.host_path("/run/fpmd/api.sock"), "/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.status_is(self.line("0 active, 1 idle, 1 req, 0 slow", "0 active, 2 idle, 3 req, 0 slow"))

        # One request in flight for 2 s, past request_slowlog_timeout (1 s)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.request("/sleep.php", timeout=30)))
        t.start()
        try:
            busy = self.status_is(re.compile(r"api: 0 active, 1 idle, 1 req, 0 slow \| "
                                             r"www: 1 active, 1 idle, [34] req, [01] slow"), 5)
            h.log("while busy: %s" % busy)
        finally:
            t.join(30)
        self.assertEqual((result["r"].status, result["r"].body), (200, b"slept\n"))

        final = self.line("0 active, 1 idle, 1 req, 0 slow", "0 active, 2 idle, 4 req, 1 slow")
        self.status_is(final)
        self.assertEqual(box.systemctl("show", "-p", "StatusText", "fpmd.service").stdout, "StatusText=%s\n" % final)
        text = box.systemctl("status", "--full", "fpmd.service").stdout
        self.assertRegex(text, r'(?m)^ +Status: "%s"$' % re.escape(final), text)

        # The unix socket's accept queue as the kernel has it (sock_diag: the unit allows AF_NETLINK), where
        # PHP-FPM says 0 for any unix socket
        r = h.fcgi_request(box.host_path("/run/fpmd/api.sock"), "/status", query="json")
        self.assertEqual(r.status, 200, r)
        ss = [l.split() for l in box.run(["ss", "-xlnH"]).stdout.splitlines()]
        backlog = [int(f[3]) for f in ss if len(f) >= 5 and f[4] == "/run/fpmd/api.sock"]
        self.assertEqual(len(backlog), 1, ss)
        self.assertGreater(backlog[0], 0)
        j = json.loads(r.body)
        self.assertEqual((j["listen queue"], j["listen queue len"]), (0, backlog[0]), j)


if __name__ == "__main__":
    h.main()
