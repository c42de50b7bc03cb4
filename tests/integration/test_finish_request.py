#!/usr/bin/python3
"""fastcgi_finish_request(): the client has the whole response at once, the script goes on after it."""

import os
import time

import harness


class FinishRequest(harness.TestCase):
    def wait_marker(self, marker, t0):
        self.assertTrue(harness.wait_for(lambda: os.path.exists(marker) and os.path.getsize(marker) > 0, 6),
                        "the script did not write its marker after fastcgi_finish_request()")
        with open(marker) as f:
            return float(f.read()) - t0

    def test_raw_client(self):
        marker = self.ws.path("marker-raw")
        with harness.FcgiClient(self.server.port) as c:
            t0 = time.time()
            res = c.request(self.params("/finish.php", query="marker=" + marker))
            elapsed = time.time() - t0
            self.assertFalse(os.path.exists(marker))
            self.assertEqual(res.stdout, b"Content-type: text/html; charset=UTF-8\r\n\r\ndone")
            self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
            self.assertLess(elapsed, 1.5)
            # without FCGI_KEEP_CONN the server also closes at once, not after the script's end
            t1 = time.time()
            self.assertTrue(c.is_closed(1.5))
            self.assertLess(time.time() - t1, 1.0)
        after = self.wait_marker(marker, t0)
        harness.log("response after %.3fs, marker written %.3fs after the request" % (elapsed, after))
        self.assertGreater(after, 1.8)
        self.assertLess(after, 4.0)

    def test_keep_conn_next_request_waits_for_the_worker(self):
        # With FCGI_KEEP_CONN the connection stays; the next request on it is served once the script ends.
        marker = self.ws.path("marker-keep")
        with harness.FcgiClient(self.server.port, timeout=10) as c:
            t0 = time.time()
            res = c.request(self.params("/finish.php", query="marker=" + marker), keep_conn=True)
            self.assertLess(time.time() - t0, 1.5)
            self.assertEqual(res.response().body, b"done")
            res = c.request(self.params("/id.php", query="i=2"), keep_conn=True)
            self.assertEqual(res.response().body, b"request 2\n")
        self.assertGreater(self.wait_marker(marker, t0), 1.8)

    def test_cgi_fcgi(self):
        marker = self.ws.path("marker-cgi")
        t0 = time.time()
        r = self.cgi("/finish.php", query="marker=" + marker)
        elapsed = time.time() - t0
        self.assertEqual((r.status, r.body), (200, b"done"))
        self.assertLess(elapsed, 1.5)
        self.assertGreater(self.wait_marker(marker, t0), 1.8)

    def test_nginx(self):
        nginx = self.start_nginx()
        marker = self.ws.path("marker-nginx")
        t0 = time.time()
        r = nginx.request("GET", "/finish.php?marker=" + marker)
        elapsed = time.time() - t0
        self.assertEqual((r.status, r.body), (200, b"done"))
        self.assertLess(elapsed, 1.5)
        self.assertGreater(self.wait_marker(marker, t0), 1.8)


if __name__ == "__main__":
    harness.main()
