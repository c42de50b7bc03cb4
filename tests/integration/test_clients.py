#!/usr/bin/python3
"""Hostile and slow clients cannot hold a pool: silent connections, a request head trickling in byte by byte,
idle kept connections and a body that stops arriving each cost a connection, never a worker, and end at their
deadline (request_header_timeout, keepalive_timeout, request_io_timeout); a normal client is answered at once
with 200 of them open against 4 workers, on TCP and on a unix socket.

PHP-FPM reads a request inside the worker (after waiting 5 s for a first byte), so there the silent
connections do hold its workers: the PHP-FPM run records how long the normal client waited and asserts only
what both do."""

import os
import socket
import threading
import time

import harness

WORKERS = 4


def connect(server):
    if server.unix_path():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(server.unix_path())
        return s
    return socket.create_connection(("127.0.0.1", server.port))


def client(server, timeout=30):
    if server.unix_path():
        return harness.FcgiUnixClient(server.unix_path(), timeout=timeout)
    return harness.FcgiClient(server.port, timeout=timeout)


def closed_within(sock, seconds):
    """Seconds until the peer closed sock (reading and dropping what it sends), or None if it did not."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def head(ws, keep_conn=False, rid=1):
    params = harness.cgi_params(ws, "/hello.php")
    pairs = b"".join(harness.fcgi_pair(k, v) for k, v in params.items())
    return (harness.fcgi_begin(rid, harness.FCGI_RESPONDER, harness.FCGI_KEEP_CONN if keep_conn else 0)
            + harness.fcgi_stream(harness.FCGI_PARAMS, rid, pairs))


class Clients(harness.TestCase):
    POOL = {"max_children": WORKERS}

    def normal_request(self, server, timeout=60):
        """A normal request on a new connection: (seconds it took, response)."""
        t0 = time.monotonic()
        with client(server, timeout) as c:
            res = c.request(harness.cgi_params(self.ws, "/hello.php"))
        return time.monotonic() - t0, res.response()

    def silent_connections_do_not_hold_workers(self, server):
        silent = []
        try:
            for _ in range(200):
                silent.append(connect(server))
            # Each silent connection is accepted by a worker (a TCP handshake completes in the kernel alone)
            try:
                took, r = self.normal_request(server, timeout=10)
            except TimeoutError:
                # PHP-FPM: each worker waits 5 s on one silent connection after another
                took, r = None, None
            harness.log("%s: a normal request with 200 silent connections open took %s"
                        % (server.describe(), "%.3f s" % took if took is not None else "over 10 s"))
            if harness.IS_FPMD:
                self.assertEqual((r.status, r.body), (200, b"hello\n"))
                self.assertLess(took, 1.0)
        finally:
            for s in silent:
                s.close()
        self.assertEqual(self.normal_request(server)[1].body, b"hello\n")

    def test_silent_connections_tcp(self):
        self.silent_connections_do_not_hold_workers(self.server)

    def test_silent_connections_unix(self):
        s = self.start_server({"max_children": WORKERS, "listen": self.ws.path("clients.sock")})
        self.silent_connections_do_not_hold_workers(s)


class Slowloris:
    """n connections to server, each sent the next byte of data every interval seconds (all of them in one
    thread), never the last byte: a request head that never ends. Counts the bytes each has sent and notes the
    ones the server closed."""

    def __init__(self, server, data, n, interval=0.2):
        self.data = data
        self.interval = interval
        self.socks = []
        for _ in range(n):
            self.socks.append(connect(server))
            self.socks[-1].setblocking(False)
        self.sent = [0] * n
        self.closed = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            for i, s in enumerate(self.socks):
                if i in self.closed:
                    continue
                try:
                    if s.recv(1) == b"":
                        self.closed.add(i)
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    self.closed.add(i)
                    continue
                if self.sent[i] < len(self.data) - 1:
                    try:
                        self.sent[i] += s.send(self.data[self.sent[i]:self.sent[i] + 1])
                    except OSError:
                        self.closed.add(i)
            self._stop.wait(self.interval)

    def close(self):
        self._stop.set()
        self._thread.join(10)
        for s in self.socks:
            s.close()


@harness.fpmd_only("request_header_timeout, keepalive_timeout, request_io_timeout and worker_connections are "
                   "fpmd's")
class Deadlines(harness.FpmdTestCase):
    """On TCP; DeadlinesUnix runs the same on a unix socket."""

    UNIX = False

    @classmethod
    def settings(cls, sock="deadlines.sock", **overrides):
        """Pool www's settings: 4 workers, every deadline 1 s, on a port of its own or on unix socket sock."""
        s = {"pm": {"mode": "static", "max_children": WORKERS}, "request_header_timeout": "1s",
             "keepalive_timeout": "1s", "request_io_timeout": "1s"}
        if cls.UNIX:
            s["listen"] = {"address": cls.ws.path(sock)}
        s.update(overrides)
        return s

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = harness.FpmdServer(cls.ws, {"www": cls.settings()})
        cls.addClassCleanup(cls.s.stop)
        cls.s.start()

    def test_silent_connection_closed(self):
        sock = connect(self.s)
        took = closed_within(sock, 5)
        sock.close()
        self.assertIsNotNone(took, "a silent connection is still open after 5 s")
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 2.5)

    def test_trickling_head_closed(self):
        # A slowloris: the request head one byte every 0.1 s, which never ends within 1 s
        data = head(self.ws)
        sock = connect(self.s)
        sock.setblocking(False)
        t0 = time.monotonic()
        took = None
        try:
            for b in data:
                try:
                    sock.send(bytes([b]))
                except OSError:
                    took = time.monotonic() - t0
                    break
                try:
                    if sock.recv(1) == b"":
                        took = time.monotonic() - t0
                        break
                except BlockingIOError:
                    pass
                if time.monotonic() - t0 > 5:
                    break
                time.sleep(0.1)
        finally:
            sock.close()
        self.assertIsNotNone(took, "a trickling request head is still being read after 5 s")
        self.assertLess(took, 2.5)

    def test_idle_kept_connection_closed(self):
        with client(self.s, timeout=10) as c:
            res = c.request(harness.cgi_params(self.ws, "/hello.php"), keep_conn=True)
            self.assertEqual(res.response().body, b"hello\n")
            # kept: a second request on it is served
            res = c.request(harness.cgi_params(self.ws, "/hello.php"), keep_conn=True)
            self.assertEqual(res.response().body, b"hello\n")
            took = closed_within(c.sock, 5)
        self.assertIsNotNone(took, "an idle kept connection is still open after 5 s")
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 2.5)

    def test_stalled_body_ends_request(self):
        # A POST whose body stops half way: the worker gives up after request_io_timeout and serves again
        params = harness.cgi_params(self.ws, "/echo.php", method="POST", content_type="text/plain")
        params["CONTENT_LENGTH"] = "100000"
        pairs = b"".join(harness.fcgi_pair(k, v) for k, v in params.items())
        with client(self.s, timeout=10) as c:
            c.send(harness.fcgi_begin(1) + harness.fcgi_stream(harness.FCGI_PARAMS, 1, pairs)
                   + harness.fcgi_record(harness.FCGI_STDIN, 1, b"x" * 1000))
            took = closed_within(c.sock, 5)
        self.assertIsNotNone(took, "a stalled body still holds its worker after 5 s")
        self.assertLess(took, 2.5)
        t0 = time.monotonic()
        for _ in range(WORKERS * 2):
            r, _ = harness.fcgi_request(self.s.endpoint(), harness.cgi_params(self.ws, "/hello.php"), timeout=5)
            self.assertEqual(r.body, b"hello\n")
        self.assertLess(time.monotonic() - t0, 2)

    def test_many_idle_kept_connections(self):
        # More kept connections than 4 workers held before (64 each): 300 idle ones, and new clients are still
        # answered at once
        kept = []
        try:
            for _ in range(300):
                c = client(self.s, timeout=10)
                kept.append(c)
                c.request(harness.cgi_params(self.ws, "/hello.php"), keep_conn=True)
            t0 = time.monotonic()
            r, _ = harness.fcgi_request(self.s.endpoint(), harness.cgi_params(self.ws, "/hello.php"), timeout=5)
            self.assertEqual(r.body, b"hello\n")
            self.assertLess(time.monotonic() - t0, 0.5)
        finally:
            for c in kept:
                c.close()

    def test_slowloris_connections_do_not_hold_workers(self):
        # 200 request heads trickling in a byte every 0.2 s against 4 workers. A pool of its own whose
        # request_header_timeout (60 s) cannot close them during the test: they are all open and trickling
        # while the normal clients ask
        s = self.fpmd({"www": self.settings("slowloris.sock", request_header_timeout="60s")})
        data = head(self.ws)
        loris = Slowloris(s, data, 200)
        self.addCleanup(loris.close)
        # Every one is under way (2 bytes sent), and every one was accepted: none waits in the accept queue, where
        # it would queue the normal clients behind it
        self.assertTrue(harness.wait_for(lambda: min(loris.sent) >= 2, 10), sorted(loris.sent)[:5])
        queue = s.unix_path() or s.port
        self.assertTrue(harness.wait_for(lambda: harness.listen_queue(queue) == 0, 10), harness.listen_queue(queue))
        sent = list(loris.sent)
        # A normal client on a new connection is answered, twice as many times as there are workers
        for _ in range(WORKERS * 2):
            r, _ = harness.fcgi_request(s.endpoint(), harness.cgi_params(self.ws, "/hello.php"), timeout=10)
            self.assertEqual((r.status, r.body), (200, b"hello\n"))
        # ... while the slow ones went on trickling, none of them finished and fpmd closed none
        self.assertTrue(harness.wait_for(lambda: all(a > b for a, b in zip(loris.sent, sent)), 10))
        self.assertEqual(loris.closed, set())
        self.assertLess(max(loris.sent), len(data))
        self.assertEqual(len(s.pool_workers()), WORKERS)


class DeadlinesUnix(Deadlines):
    UNIX = True


if __name__ == "__main__":
    harness.main()
