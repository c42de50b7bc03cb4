#!/usr/bin/python3
"""A visible, bounded queue (fpmd only: PHP-FPM has neither bound, php-src #11260 and bug 65503):

- request_queue_timeout: a request that waited longer behind busy workers is answered 503 with Retry-After,
  without running PHP, counted and logged once for the episode; the wait is the kernel's (TCP receive time);
- request_queue_max: with more connections waiting in the accept queue than the bound, the requests a worker
  takes are answered 503 until the queue is back at it, on a unix socket (the queue read through sock_diag);
- the access log's %w is the wait, and its journal fields QUEUE_WAIT_USEC."""

import os
import re

import harness

harness.require_fpmd("test_queue")


class Queue(harness.FpmdTestCase):
    def setUp(self):
        super().setUp()
        self.marks = self.ws.shared_folder("marks-" + self._testMethodName)

    def client(self, s, path=None):
        return harness.FcgiUnixClient(path, timeout=30) if path else harness.FcgiClient(s.port, timeout=30)

    def test_queue_timeout(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "request_queue_timeout": "1s", "status_path": "/status",
                               "access_log": True, "access_format": "%r %s waited %{mili}w ms"}})
        offset = s.log_offset()
        busy = self.client(s)
        busy.send_request(self.params("/busy.php", query="ms=1600"))
        harness.wait_running(s)
        late = []
        for i in range(3):
            c = self.client(s)
            c.send_request(self.params("/mark.php", query="m=%s/%d" % (self.marks, i)))
            late.append(c)
        self.assertEqual(busy.read_response().response().body, b"busy\n")
        for c in late:
            r = c.read_response().response()
            self.assertEqual((r.status, r.header_values("Retry-After"), r.body), (503, ["1"], b"Service Unavailable\n"))
            c.close()
        busy.close()
        self.assertEqual(os.listdir(self.marks), [])
        # the pool catches up: a request that did not wait runs
        r = self.raw("/hello.php", server=s)
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        log = s.log_text()[offset:]
        episode = re.findall(r"\[pool www\] answering 503 without running PHP: it waited longer than "
                             r"request_queue_timeout \(waited 1\.\d+ s\)", log)
        self.assertEqual(len(episode), 1, log)
        # %w: the busy request did not wait, the one after the 503s did not either
        waits = [float(m) for m in re.findall(r"/busy\.php 200 waited ([\d.]+) ms", log)]
        self.assertEqual(len(waits), 1, log)
        self.assertLess(waits[0], 500)
        self.assertEqual(self.status(s)["requests shed"], 3)

    def test_queue_wait_in_access_log(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "access_log": True,
                               "access_format": "%r %s waited %{mili}w ms"}})
        offset = s.log_offset()
        busy = self.client(s)
        busy.send_request(self.params("/busy.php", query="ms=800"))
        harness.wait_running(s)
        c = self.client(s)
        c.send_request(self.params("/hello.php"))
        busy.read_response()
        r = c.read_response().response()
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        waited = s.wait_log(r"/hello\.php 200 waited ([\d.]+) ms", offset)
        self.assertIsNotNone(waited, s.log_text()[offset:])
        # the kernel's receive time: the whole time the busy request ran after it came
        self.assertGreater(float(waited.group(1)), 600)
        self.assertLess(float(waited.group(1)), 5000)

    def test_queue_max_unix(self):
        path = self.ws.path("queue.sock")
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "request_queue_max": 2, "status_path": "/status",
                               "listen": {"address": path}}})
        busy = self.client(s, path)
        busy.send_request(self.params("/busy.php", query="ms=1000"))
        harness.wait_running(s)
        waiting = []
        for i in range(5):
            c = self.client(s, path)
            c.send_request(self.params("/mark.php", query="m=%s/%d" % (self.marks, i)))
            waiting.append(c)
        self.assertTrue(harness.wait_for(lambda: harness.listen_queue(path) == 5, 5), harness.listen_queue(path))
        busy.read_response()
        statuses = []
        for c in waiting:
            statuses.append(c.read_response().response().status)
            c.close()
        # taken in order: the first two find 4 and 3 waiting behind them (past 2), the rest run
        self.assertEqual(statuses, [503, 503, 200, 200, 200])
        self.assertEqual(sorted(os.listdir(self.marks)), ["2", "3", "4"])
        self.assertEqual(self.status(s)["requests shed"], 2)

    def status(self, s):
        r = harness.fcgi_request(s.endpoint(), harness.cgi_params(self.ws, "/status", query="json"))[0]
        return r.json()


if __name__ == "__main__":
    harness.main()
