#!/usr/bin/python3
"""Requests the web server gave up on are not run, and a script whose web server went away ends:

- a request that waited behind a busy worker while its client closed the connection (nginx does so when
  fastcgi_read_timeout passes: 504) never runs PHP in fpmd, and is counted and logged; PHP-FPM runs it
  (php-src #14548);
- FCGI_ABORT_REQUEST for a waiting request: not run, answered END_REQUEST;
- a script that runs on (no output) after its web server closed the connection is ended within a tick or two
  (connection_aborted() is true in its shutdown functions); with ignore_user_abort(true) it runs to its end and
  sees connection_aborted() true; PHP-FPM notices neither until the script writes;
- the same through nginx: fastcgi_read_timeout 1s in front of a busy worker, and a client that leaves with
  fastcgi_ignore_client_abort off.

Each test runs against PHP-FPM too: what PHP-FPM does is recorded in the log and not asserted where it differs."""

import os
import socket
import time

import harness


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


class Abandoned(harness.TestCase):
    POOL = {"max_children": 1}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marks = cls.ws.shared_folder("marks")

    def mark(self, name):
        return os.path.join(self.marks, name)

    def busy(self, ms):
        """A client whose request keeps the only worker busy for ms; read its answer with read_response()."""
        c = harness.FcgiClient(self.server.port, timeout=30)
        c.send_request(self.params("/busy.php", query="ms=%d" % ms))
        harness.wait_running(self.server)
        return c

    def assert_not_run(self, mark, what):
        ran = read(mark) is not None
        harness.log("%s: %s" % (what, "ran" if ran else "not run"))
        if harness.IS_FPMD:
            self.assertFalse(ran, what)

    def test_closed_while_waiting(self):
        mark = self.mark("closed")
        offset = len(self.server.log_text())
        busy = self.busy(1500)
        with harness.FcgiClient(self.server.port, timeout=30) as c:
            c.send_request(self.params("/mark.php", query="m=" + mark))
        # the worker takes it once free, and sees the web server gone
        self.assertEqual(busy.read_response().response().body, b"busy\n")
        busy.close()
        self.assertServes()
        self.assert_not_run(mark, "a request whose connection was closed while it waited")
        if harness.IS_FPMD:
            self.assertTrue(harness.wait_for(
                lambda: "not running /mark.php?m=%s: the web server gave up on it before PHP started" % mark
                in self.server.log_text()[offset:], 5), self.server.log_text()[offset:])

    def test_abort_request_while_waiting(self):
        mark = self.mark("aborted")
        busy = self.busy(1000)
        with harness.FcgiClient(self.server.port, timeout=30) as c:
            c.send_request(self.params("/mark.php", query="m=" + mark), keep_conn=True)
            c.send(harness.fcgi_record(harness.FCGI_ABORT_REQUEST, 1))
            self.assertEqual(busy.read_response().response().body, b"busy\n")
            busy.close()
            res = c.read_response()
            harness.log("FCGI_ABORT_REQUEST while waiting: END_REQUEST %r, %d stdout bytes"
                        % (res.protocol_status, len(res.stdout)))
            if harness.IS_FPMD:
                self.assertEqual((res.protocol_status, res.stdout), (0, b""))
                # the connection serves on
                r = c.request(self.params("/hello.php"), keep_conn=True).response()
                self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.assert_not_run(mark, "a request aborted while it waited")

    def leave_long(self, mark, ignore):
        """Starts /long.php, closes the connection once it runs; returns the progress file's path."""
        c = harness.FcgiClient(self.server.port, timeout=30)
        c.send_request(self.params("/long.php", query="m=%s%s" % (mark, "&ignore=1" if ignore else "")))
        self.assertTrue(harness.wait_for(lambda: read(mark + ".progress"), 10))
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        return time.monotonic()

    def test_client_gone_while_running(self):
        mark = self.mark("long")
        left = self.leave_long(mark, ignore=False)
        ended = harness.wait_for(lambda: read(mark + ".shutdown"), 10)
        took = time.monotonic() - left
        progress = int(read(mark + ".progress"))
        harness.log("script left by its client: shutdown %r %.1f s later, at step %d of 50" % (ended, took, progress))
        if harness.IS_FPMD:
            self.assertEqual(ended, "aborted=1")
            self.assertLess(progress, 50)
        self.assertServes()

    def test_client_gone_ignore_user_abort(self):
        mark = self.mark("ignore")
        self.leave_long(mark, ignore=True)
        ended = harness.wait_for(lambda: read(mark + ".shutdown"), 15)
        harness.log("ignore_user_abort(true): shutdown %r at step %s" % (ended, read(mark + ".progress")))
        self.assertEqual(read(mark + ".progress"), "50")
        if harness.IS_FPMD:
            self.assertEqual(ended, "aborted=1")
        self.assertServes()


class ThroughNginx(harness.TestCase):
    POOL = {"max_children": 1}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marks = cls.ws.shared_folder("marks")
        # a location whose upstream times out after 1 s (504), as a loaded site's would
        cls.nginx = cls.start_nginx(extra_server="""
        location = /t/mark.php {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root/mark.php;
            fastcgi_read_timeout 1s;
            fastcgi_pass php;
            fastcgi_keep_conn on;
        }
""")

    def test_read_timeout_request_not_run(self):
        mark = os.path.join(self.marks, "t")
        busy = harness.FcgiClient(self.server.port, timeout=30)
        busy.send_request(self.params("/busy.php", query="ms=2500"))
        harness.wait_running(self.server)
        t0 = time.monotonic()
        r = self.nginx.request("GET", "/t/mark.php?m=" + mark)
        harness.log("nginx answered %d after %.1f s" % (r.status, time.monotonic() - t0))
        self.assertEqual(r.status, 504)
        self.assertEqual(busy.read_response().response().body, b"busy\n")
        busy.close()
        r = self.nginx.request("GET", "/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        ran = read(mark) is not None
        harness.log("nginx 504'd request: %s" % ("ran" if ran else "not run"))
        if harness.IS_FPMD:
            self.assertFalse(ran)

    def test_client_leaves(self):
        # fastcgi_ignore_client_abort off (nginx's default): the client leaves, nginx closes the connection
        mark = os.path.join(self.marks, "n")
        conn = self.nginx.connection(timeout=30)
        conn.request("GET", "/long.php?m=" + mark)
        self.assertTrue(harness.wait_for(lambda: read(mark + ".progress"), 10))
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        ended = harness.wait_for(lambda: read(mark + ".shutdown"), 10)
        harness.log("through nginx, the client left: shutdown %r at step %s" % (ended, read(mark + ".progress")))
        if harness.IS_FPMD:
            self.assertEqual(ended, "aborted=1")
            self.assertLess(int(read(mark + ".progress")), 50)


if __name__ == "__main__":
    harness.main()
