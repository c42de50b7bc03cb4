#!/usr/bin/python3
"""Graceful stop: a request in flight when the stop signal comes completes with its whole body, then the
server exits 0 within process_control_timeout, leaving no process behind. SIGUSR1 (logrotate's "reopen your
logs") never stops it; a signal fpmd does not use stops it with a non-zero exit status, so that systemd's
Restart= applies.

fpmd's graceful stop is SIGTERM; PHP-FPM's is SIGQUIT (its SIGTERM stops at once)."""

import os
import signal
import time

import harness

SLEEP_BODY = b"start\n" + b"0123456789abcdef" * 4096 + b"\nend\n"


# What each says when SIGUSR1 has been handled
REOPENED = {"fpmd": "SIGUSR1: no log files to reopen, fpmd logs to the journal.",
            "php-fpm": "NOTICE: error log file re-opened"}


def gone(pids):
    return all(not os.path.exists("/proc/%d" % p) for p in pids)


class Stop(harness.TestCase):
    START_SERVER = False
    GLOBAL = {"process_control_timeout": 10}

    def test_request_in_flight_completes(self):
        server = self.start_server(global_=self.GLOBAL)
        pids = server.workers()
        with harness.FcgiClient(server.port, timeout=15) as c:
            t0 = time.monotonic()
            c.send_request(self.params("/sleep.php", query="ms=2000"))
            harness.wait_running(server)
            server.signal(server.graceful_signal())
            res = c.read_response()
            took = time.monotonic() - t0
        self.assertEqual(res.response().status, 200)
        self.assertEqual(res.response().body, SLEEP_BODY)
        self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
        self.assertGreater(took, 1.9)
        status = server.wait(12)
        stopped = time.monotonic() - t0
        harness.log("request done after %.2fs, server exited with %r after %.2fs" % (took, status, stopped))
        self.assertEqual(status, 0, server.log_text())
        self.assertLess(stopped, 10.0)
        self.assertTrue(harness.wait_for(lambda: gone(pids), 2), "workers left behind: %r" % pids)

    def nginx_request_during_stop(self, path):
        """GET path through a new nginx, stop the server while it runs; returns (status, body or exception)."""
        server = self.start_server(global_=self.GLOBAL)
        nginx = self.start_nginx(server, extra_server="""
        # a plain upstream connection per request, no keepalive
        location ^~ /nokeep/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root/sleep.php;
            fastcgi_param SCRIPT_NAME /sleep.php;
            fastcgi_pass 127.0.0.1:%d;
        }
""" % server.port)
        conn = nginx.connection(timeout=15)
        try:
            self.assertEqual(nginx.request("GET", "/hello.php", conn=conn).body, b"hello\n")
            conn.request("GET", path)
            harness.wait_running(server)
            server.signal(server.graceful_signal())
            r = conn.getresponse()
            try:
                result = (r.status, r.read())
            except Exception as e:
                result = (r.status, e)
        finally:
            conn.close()
        self.assertEqual(server.wait(12), 0, server.log_text())
        return result

    def test_request_in_flight_through_nginx(self):
        self.assertEqual(self.nginx_request_during_stop("/nokeep/?ms=2000"), (200, SLEEP_BODY))

    def test_request_in_flight_through_nginx_keepalive(self):
        result = self.nginx_request_during_stop("/sleep.php?ms=2000")
        if harness.IS_PHP_FPM:
            # PHP-FPM's exiting worker resets the kept connection (apparently with nginx's empty STDIN
            # record still unread), and the reset throws away the end of the response nginx had not read.
            harness.log("PHP-FPM, graceful stop during a request on a kept nginx connection: %d %s"
                        % (result[0], repr(result[1])[:200] if not isinstance(result[1], bytes)
                           else "complete" if result[1] == SLEEP_BODY else "%d bytes" % len(result[1])))
            return
        # fpmd-only: not cut, kept upstream connection or not
        self.assertEqual(result, (200, SLEEP_BODY))

    def test_sigusr1_reopens_and_serves_on(self):
        # Debian's logrotate rule for PHP-FPM sends SIGUSR1 after each rotation
        server = self.start_server()
        workers = server.workers()
        offset = len(server.log_text())
        said = REOPENED[harness.SERVER]
        for i in range(3):
            server.signal(signal.SIGUSR1)
            self.assertTrue(harness.wait_for(lambda: server.log_text()[offset:].count(said) == i + 1, 10),
                            server.log_text())
            self.assertTrue(server.alive())
            self.assertServes(server)
        self.assertEqual(server.workers(), workers)
        self.assertEqual(server.log_text()[offset:].count(said), 3)

    @harness.fpmd_only("PHP-FPM dies by the signal itself")
    def test_unused_signal_stops_with_failure(self):
        server = self.start_server()
        pids = server.workers()
        server.signal(signal.SIGPWR)
        self.assertEqual(server.wait(10), 128 + signal.SIGPWR)
        self.assertIn("Received SIGPWR, which fpmd does not use: stopping, with exit status 158.", server.log_text())
        self.assertTrue(harness.wait_for(lambda: gone(pids), 5))

    def test_idle_stop_is_quick(self):
        server = self.start_server(global_=self.GLOBAL)
        pids = server.workers()
        self.assertServes(server)
        t0 = time.monotonic()
        server.signal(server.graceful_signal())
        self.assertEqual(server.wait(12), 0, server.log_text())
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertTrue(harness.wait_for(lambda: gone(pids), 2), "workers left behind: %r" % pids)


if __name__ == "__main__":
    harness.main()
