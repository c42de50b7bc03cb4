#!/usr/bin/env python3
"""Socket activation: systemd owns the listening socket (fpmd@www.socket), the first request starts
fpmd.service, and fpmd serves it on the socket it was handed by name; the pool file names no listen address."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402


class Activation:
    """The common sequence; the subclasses choose the socket (TCP through a drop-in, or the unit's unix one)."""

    def connect_address(self):
        raise NotImplementedError

    def check_socket(self):
        pass

    def wait_started(self):
        """Workers may answer before systemd has processed the supervisor's READY=1: give it a moment."""
        t = time.monotonic()
        h.wait_for(lambda: self.box.prop("fpmd.service", "ActiveState") != "activating", 10)
        h.log("%s: fpmd.service left 'activating' %.0f ms after the first answer"
              % (self.KIND, (time.monotonic() - t) * 1e3))

    def test_first_request_starts_the_service(self):
        box = self.box
        box.systemctl("start", "fpmd@www.socket")
        self.assertEqual(box.prop("fpmd@www.socket", "ActiveState"), "active")
        self.assertEqual(box.prop("fpmd@www.socket", "SubState"), "listening")
        self.check_socket()
        # Nothing has connected yet: the service must not be running
        st = box.show("fpmd.service", "ActiveState", "MainPID")
        self.assertEqual(st, {"ActiveState": "inactive", "MainPID": "0"})
        self.assertEqual([p for p in box.processes() if "fpmd" in p[2]], [])

        r = h.fcgi_request(self.connect_address(), "/hello.php", timeout=60)
        h.log("%s cold start: connect %.1f ms, first response byte %.1f ms after connect(), END_REQUEST %.1f ms"
              % (self.KIND, r.t_connected * 1e3, r.t_first_byte * 1e3, r.t_end * 1e3))
        print("COLD START (%s): %.1f ms from connect to the first response byte" % (self.KIND, r.t_first_byte * 1e3))
        self.assertEqual((r.status, r.body, r.protocol_status, r.app_status), (200, b"hello\n", 0, 0))

        self.wait_started()
        st = box.show("fpmd.service", "ActiveState", "SubState", "MainPID", "TriggeredBy")
        self.assertEqual((st["ActiveState"], st["SubState"]), ("active", "running"), st)
        self.assertIn("fpmd@www.socket", st["TriggeredBy"].split())
        self.assertNotEqual(st["MainPID"], "0")

        # Warm: the same answer, fast
        r = h.fcgi_request(self.connect_address(), "/hello.php")
        h.log("%s warm request: first byte %.1f ms" % (self.KIND, r.t_first_byte * 1e3))
        self.assertEqual((r.status, r.body), (200, b"hello\n"))

        # Stopping the service leaves the socket with systemd: the next request starts fpmd again
        box.systemctl("stop", "fpmd.service")
        self.assertEqual(box.prop("fpmd.service", "ActiveState"), "inactive")
        self.assertEqual(box.prop("fpmd@www.socket", "SubState"), "listening")
        r = h.fcgi_request(self.connect_address(), "/hello.php", timeout=60)
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.wait_started()
        self.assertEqual(box.prop("fpmd.service", "ActiveState"), "active")
        pid2 = box.prop("fpmd.service", "MainPID")
        self.assertNotIn(pid2, ("0", st["MainPID"]))

        # No complaint about the sockets in fpmd's journal
        text = box.journal_text("-u", "fpmd.service", "-p", "err")
        self.assertNotRegex(text, r"(?i)socket|listen", text)


class TcpActivation(Activation, h.TestCase):
    """fpmd@www.socket.d/tcp.conf: ListenStream= (reset) and ListenStream=127.0.0.1:PORT."""

    KIND = "tcp"

    def connect_address(self):
        return self.address

    def check_socket(self):
        listen = self.box.prop("fpmd@www.socket", "Listen")
        self.assertEqual(listen, "127.0.0.1:%d (Stream)" % self.port)
        self.assertEqual(self.box.prop("fpmd@www.socket", "FileDescriptorName"), "www")


class UnixActivation(Activation, h.TestCase):
    """The template as shipped: /run/fpmd/www.sock, www-data:www-data 0660, reached through /proc/PID1/root."""

    KIND = "unix"
    SOCKET_DROPIN = None

    def connect_address(self):
        return self.box.host_path("/run/fpmd/www.sock")

    def check_socket(self):
        self.assertEqual(self.box.prop("fpmd@www.socket", "Listen"), "/run/fpmd/www.sock (Stream)")
        st = self.box.run(["stat", "-c", "%F %a %U %G", "/run/fpmd/www.sock"]).stdout.strip()
        self.assertEqual(st, "socket 660 www-data www-data")


if __name__ == "__main__":
    h.main()
