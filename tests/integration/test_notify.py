#!/usr/bin/env python3
"""What fpmd tells systemd and takes from it, with systemd's own protocol but no systemd: the sd_notify
datagrams (READY=1 only once the pool serves, STATUS= (a line per pool; past 4 pools a summary: counts, pools at
rest, failed, the 3 busiest), RELOADING=1 with MONOTONIC_USEC=, READY=1 again,
STOPPING=1) read from a NOTIFY_SOCKET the test binds, and a listening socket passed by name the way a socket
unit does (systemd-socket-activate --fdname). fpmd-only: PHP-FPM speaks neither."""

import os
import signal
import socket
import subprocess
import sys
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"


class Fpmd:
    """fpmd started by hand with an environment of our choosing, optionally behind a wrapper command."""

    def __init__(self, ws, pool_lines, wrapper=(), env=None, name="www", pass_fds=()):
        self.ws = ws
        self.dir = ws.path("fpmd-" + name)
        os.makedirs(os.path.join(self.dir, "pool.d"), exist_ok=True)
        with open(os.path.join(self.dir, "fpmd.conf"), "w") as f:
            f.write('log_level = "info";\ninclude_dir = "pool.d";\nphp_ini = "%s";\n' % harness.PHP_INI)
        self.pool_file = os.path.join(self.dir, "pool.d", "www.conf")
        self.write_pool(pool_lines)
        self.log_path = os.path.join(self.dir, "log")
        argv = list(wrapper) + [os.environ["FPMD"], "--config", os.path.join(self.dir, "fpmd.conf")]
        e = dict(os.environ)
        e.update(env or {})
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=e,
                                         start_new_session=True, pass_fds=pass_fds)

    def write_pool(self, lines):
        body = ["pool = {", '  name = "www";'] + ["  " + l for l in lines]
        if os.geteuid() == 0:
            body.append("  allow_root = true;")
        body.append("};")
        with open(self.pool_file, "w") as f:
            f.write("\n".join(body) + "\n")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.proc.wait()


class Notify(harness.TestCase):
    START_SERVER = False

    def setUp(self):
        if harness.IS_PHP_FPM:
            self.skipTest("fpmd-only: PHP-FPM has no sd_notify support in Debian's build")
        self.port = harness.free_port()
        self.sock_path = self.ws.path("notify-%d" % self.port)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.sock_path)
        self.addCleanup(self.notify.close)

    def messages_until(self, key, timeout=10):
        """Datagrams received until one holds the line `key` (e.g. READY=1); each as a dict."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, fds, _, _ = socket.recv_fds(self.notify, 4096, 8)
            except socket.timeout:
                break
            data = data.decode()
            fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            for fd in fds:
                os.close(fd)
            if fds:
                fields["fds"] = len(fds)  # how many came with it (FDSTORE=1)
            got.append(fields)
            if key in data.split("\n"):
                return got
        e = self.failureException("no %s within %ds; got %r" % (key, timeout, got))
        e.got = got
        raise e

    def request(self, script="/hello.php", port=None):
        srv = type("S", (), {"port": port or self.port})
        return harness.cgi_fcgi(srv, harness.cgi_params(self.ws, script))

    def test_ready_status_reload_stopping(self):
        f = Fpmd(self.ws, ['listen = { address = "127.0.0.1:%d"; };' % self.port,
                           'pm = { mode = "static"; max_children = 2; };',
                           'php_value = { precision = "11"; };'],
                 env={"NOTIFY_SOCKET": self.sock_path})
        self.addCleanup(f.stop)

        msgs = self.messages_until("READY=1")
        ready = msgs[-1]
        # READY=1 comes with the first STATUS= line: both workers are up, nothing served yet
        self.assertEqual(ready["STATUS"], "www: 0 active, 2 idle, 0 req, 0 slow")
        # ... and the pool serves at that moment already
        r = self.request("/ini.php", )
        self.assertEqual(r.status, 200)

        # A reload that changes the pool: RELOADING=1 with the monotonic clock, then READY=1 again
        f.write_pool(['listen = { address = "127.0.0.1:%d"; };' % self.port,
                      'pm = { mode = "static"; max_children = 2; };',
                      'php_value = { precision = "12"; };'])
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        f.proc.send_signal(signal.SIGHUP)
        msgs = self.messages_until("READY=1")
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        reloading = [m for m in msgs if m.get("RELOADING") == "1"]
        self.assertEqual(len(reloading), 1, msgs)
        usec = int(reloading[0]["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, int(before * 1e6))
        self.assertLessEqual(usec, int(after * 1e6))
        self.assertIn("READY", msgs[-1])

        # A bad file: RELOADING=1, then READY=1 at once with the reason, and the same workers serve
        with open(f.pool_file, "a") as fp:
            fp.write("pool = { nonsense = 1; };\n")
        f.proc.send_signal(signal.SIGHUP)
        msgs = self.messages_until("READY=1")
        self.assertTrue(msgs[-1]["STATUS"].startswith("Reload failed, running the previous configuration: "),
                        msgs[-1])
        self.assertIn("www.conf:", msgs[-1]["STATUS"])
        self.assertEqual(self.request().status, 200)

        f.proc.send_signal(signal.SIGTERM)
        msgs = self.messages_until("STOPPING=1")
        self.assertEqual(f.proc.wait(15), 0)

    def datagrams(self, timeout):
        """Every datagram until none came for timeout seconds, as messages_until() gives them."""
        try:
            return self.messages_until("never", timeout)
        except AssertionError as e:
            return e.got

    def wait_status(self, expected, timeout=15):
        """Datagrams until one says STATUS=expected (it is sent only when it changes); fails with the STATUS= lines
        that came instead."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msgs = self.messages_until("STATUS=" + expected, max(0.01, deadline - time.monotonic()))
            except AssertionError as e:
                seen += [m["STATUS"] for m in e.got if "STATUS" in m]
                break
            return msgs
        self.fail("no STATUS=%s within %ds; came: %r" % (expected, timeout, seen))

    def test_status_summary_of_many_pools(self):
        # More than 4 pools: STATUS= sums them up. a1, b2, d4 and g7 run all along; c3, e5 and f6 are ondemand
        # pools whose leader starts on demand (at rest until then)
        lazy = {"pm": {"mode": "ondemand", "max_children": 2, "process_idle_timeout": "1s",
                       "leader_idle_timeout": "1s"}}
        static = lambda n, **kw: dict({"pm": {"mode": "static", "max_children": n}}, **kw)
        pools = {"a1": static(3), "b2": static(2, request_slowlog_timeout="1s", slowlog=False), "c3": lazy,
                 "d4": static(2), "e5": lazy, "f6": lazy, "g7": static(1)}
        s = harness.FpmdServer(self.ws, pools)
        self.addCleanup(s.stop)
        with mock.patch.dict(os.environ, {"NOTIFY_SOCKET": self.sock_path}):
            s.start()
        ready = self.messages_until("READY=1")[-1]
        self.assertEqual(ready["STATUS"], "7 pools: 0 active, 8 idle, 0 req, 0 slow; 3 at rest")

        # Requests that run until their client goes: 3 in a1, 1 in b2 (slow after 1 s), 2 in c3 (its leader
        # starts), 1 in d4. The 3 busiest are named, the first of equals first: b2 before d4
        running = {"a1": 3, "b2": 1, "c3": 2, "d4": 1}
        clients = []
        for name, n in running.items():
            for _ in range(n):
                c = harness.FcgiClient(s.ports[name], timeout=30)
                self.addCleanup(c.close)
                c.send_request(harness.cgi_params(self.ws, "/sleep.php", query="ms=120000"))
                clients.append(c)
        for name, n in running.items():
            self.assertTrue(harness.wait_for(lambda: len([w for w in s.pool_workers(name)
                                                          if harness.sleeping_in_php(w)]) == n, 10), name)
        busiest = "busiest: a1 3 active, c3 2 active, b2 1 active"
        self.wait_status("7 pools: 7 active, 3 idle, 7 req, 1 slow; 2 at rest; " + busiest)

        # A leader that dies: its pool is failed until it starts again (a second later)
        os.kill(s.leader("g7"), signal.SIGKILL)
        self.wait_status("7 pools: 7 active, 2 idle, 7 req, 1 slow; 2 at rest; 1 failed; " + busiest)
        self.wait_status("7 pools: 7 active, 3 idle, 7 req, 1 slow; 2 at rest; " + busiest)

        # The clients go: their requests end, c3's worker and then its leader stop after their idle timeouts
        for c in clients:
            c.close()
        self.wait_status("7 pools: 0 active, 8 idle, 7 req, 1 slow; 3 at rest")
        # (c3's leader may still be on its way out)
        leaders = sorted(s.leader(name) for name in ("a1", "b2", "d4", "g7"))
        self.assertTrue(harness.wait_for(lambda: sorted(s.pool_processes()) == leaders, 10), s.pool_processes())
        self.assertEqual(s.stop(), 0)

    def test_failed_reload_stores_nothing(self):
        api, bad = harness.free_port(), harness.free_port()
        f = Fpmd(self.ws, ['listen = { address = "127.0.0.1:%d"; };' % self.port,
                           'pm = { mode = "static"; max_children = 1; };'],
                 env={"NOTIFY_SOCKET": self.sock_path}, name="failed-reload")
        self.addCleanup(f.stop)
        msgs = self.messages_until("READY=1")
        self.assertIn({"FDSTORE": "1", "FDNAME": "www", "fds": 1}, msgs)
        leader = harness.children(f.proc.pid)

        # A reload adding pool api (its socket binds) and pool bad, whose address is taken: it fails as a
        # whole. api's socket is closed again, and systemd is told nothing about it
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", bad))
        holder.listen()
        self.addCleanup(holder.close)
        def pool_file(name, port):
            path = os.path.join(f.dir, "pool.d", name + ".conf")
            with open(path, "w") as fp:
                fp.write('pool = { name = "%s"; listen = { address = "127.0.0.1:%d"; }; allow_root = true; '
                         'pm = { mode = "static"; max_children = 1; }; };\n' % (name, port))
            return path

        pool_file("api", api)
        bad_file = pool_file("bad", bad)
        f.proc.send_signal(signal.SIGHUP)
        msgs = self.messages_until("READY=1")
        self.assertEqual(msgs[-1]["STATUS"].split(" | ")[0].split(": ", 1)[0],
                         "Reload failed, running the previous configuration", msgs[-1])
        self.assertRegex(msgs[-1]["STATUS"], "pool bad could not (be set up|start)")
        # Nothing else arrives: no FDSTORE=1 or FDSTOREREMOVE=1 for any pool
        self.assertEqual([m for m in self.datagrams(1.0) if "FDSTORE" in m or "FDSTOREREMOVE" in m], [])
        self.assertFalse([m for m in msgs if "FDSTORE" in m or "FDSTOREREMOVE" in m], msgs)
        self.assertTrue(harness.connect_refused(api))
        self.assertEqual(harness.children(f.proc.pid), leader)
        self.assertEqual(self.request().status, 200)

        # The same without pool bad: api's socket is stored under its name, once, with its fd
        os.unlink(bad_file)
        f.proc.send_signal(signal.SIGHUP)
        msgs = self.messages_until("READY=1")
        stored = [m for m in msgs + self.datagrams(0.5) if "FDSTORE" in m or "FDSTOREREMOVE" in m]
        self.assertEqual(stored, [{"FDSTORE": "1", "FDNAME": "api", "fds": 1}], msgs)
        self.assertEqual(self.request(port=api).status, 200)
        self.assertEqual(f.stop(), 0)

    def test_socket_passed_by_name(self):
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            self.fail("missing %s (package systemd)" % SOCKET_ACTIVATE)
        # The pool has no listen.address: its socket can only come from the environment, named after it
        f = Fpmd(self.ws, ['pm = { mode = "static"; max_children = 1; };'],
                 wrapper=[SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % self.port, "--fdname=www",
                          "-E", "NOTIFY_SOCKET=" + self.sock_path],
                 env={"NOTIFY_SOCKET": self.sock_path})
        self.addCleanup(f.stop)
        # systemd-socket-activate passes only the variables named with -E
        # On demand: nothing runs PHP until the first connection, which starts fpmd and is answered
        harness.wait_for(lambda: "Listening on" in f.log(), 5)
        t0 = time.monotonic()
        r = self.request()
        harness.log("socket-activated cold start, first request answered in %.1f ms" % ((time.monotonic() - t0) * 1e3))
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.messages_until("READY=1")
        self.assertIn("[pool www] using the socket systemd passed.", f.log())
        self.assertEqual(f.stop(), 0)

    def test_wrong_sockets_refused(self):
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            self.fail("missing %s (package systemd)" % SOCKET_ACTIVATE)
        error = ('[pool www] systemd passed a socket named "www" that is not a listening stream socket of IPv4, '
                 'IPv6 or a unix path (%s): refusing it. Its socket unit needs ListenStream= and no Accept=yes.')
        # A datagram socket (ListenDatagram=): the first datagram starts fpmd, which refuses it and exits 1
        port = harness.free_port()
        f = Fpmd(self.ws, ['pm = { mode = "static"; max_children = 1; };'], name="datagram",
                 wrapper=[SOCKET_ACTIVATE, "--datagram", "-l", "127.0.0.1:%d" % port, "--fdname=www"])
        self.addCleanup(f.stop)
        harness.wait_for(lambda: "Datagram socket" in f.log() or "Listening on" in f.log(), 5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as d:
            d.sendto(b"x", ("127.0.0.1", port))
        self.assertEqual(f.proc.wait(10), 1, f.log())
        self.assertIn(error % "a datagram socket", f.log())

        # A connection instead of a listening socket (Accept=yes): refused the same way
        g = Fpmd(self.ws, ['pm = { mode = "static"; max_children = 1; };'], name="accept",
                 wrapper=[SOCKET_ACTIVATE, "--accept", "-l", "127.0.0.1:%d" % port, "--fdname=www"])
        self.addCleanup(g.stop)
        harness.wait_for(lambda: "Listening on" in g.log(), 5)
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(c.close)
        self.assertTrue(harness.wait_for(lambda: error % "a stream socket that is not listening, a connection" in g.log(), 10),
                        g.log())
        # The connection is closed, not left hanging
        c.settimeout(10)
        try:
            self.assertEqual(c.recv(1), b"")
        except ConnectionResetError:
            pass

    def test_socket_of_another_family_refused(self):
        # systemd's ListenStream= also takes vsock:CID:PORT, and ListenNetlink= passes a netlink socket:
        # sockets fpmd cannot serve FastCGI on. systemd-socket-activate starts its child on a first connection,
        # which a vsock socket without a loopback transport never gets; so the sockets are passed here the
        # way systemd does it (fd 3, LISTEN_FDS=1, LISTEN_PID= fpmd's pid, LISTEN_FDNAMES=www).
        error = ('[pool www] systemd passed a socket named "www" that is not a listening stream socket of IPv4, '
                 'IPv6 or a unix path (a socket of another address family): refusing it. Its socket unit needs '
                 'ListenStream= and no Accept=yes.')
        vsock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        self.addCleanup(vsock.close)
        vsock.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        vsock.listen()
        # A listening stream socket: only its family is wrong
        self.assertEqual((vsock.family, vsock.type, vsock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)),
                         (socket.AF_VSOCK, socket.SOCK_STREAM, 1))
        netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.addCleanup(netlink.close)
        for name, sock in (("vsock", vsock), ("netlink", netlink)):
            fd = sock.fileno()
            f = Fpmd(self.ws, ['pm = { mode = "static"; max_children = 1; };'], name=name, pass_fds=(fd,),
                     wrapper=["/bin/sh", "-c", 'export LISTEN_PID=$$; exec "$@" 3<&%d%s' %
                              (fd, "" if fd == 3 else " %d<&-" % fd), "sh"],
                     env={"LISTEN_FDS": "1", "LISTEN_FDNAMES": "www"})
            self.addCleanup(f.stop)
            self.assertEqual(f.proc.wait(10), 1, (name, f.log()))
            # (sh execs fpmd: the pid is fpmd's)
            self.assertEqual([l for l in f.log().splitlines() if "systemd passed" in l],
                             ["fpmd[%d]: error: %s" % (f.proc.pid, error)], (name, f.log()))
            self.assertNotIn("using the socket systemd passed", f.log(), name)

    def test_socket_without_pool_and_pool_without_socket(self):
        other = harness.free_port()
        # A socket named after no pool is logged and closed; the pool with an address serves
        f = Fpmd(self.ws, ['listen = { address = "127.0.0.1:%d"; };' % self.port,
                           'pm = { mode = "static"; max_children = 1; };'],
                 wrapper=[SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % other, "--fdname=api",
                          "-E", "NOTIFY_SOCKET=" + self.sock_path],
                 env={"NOTIFY_SOCKET": self.sock_path})
        self.addCleanup(f.stop)
        # The first connection to the "api" socket starts fpmd, which has no pool for it: dropped
        harness.wait_for(lambda: "Listening on" in f.log(), 5)
        # fpmd may close that socket, resetting the connection, before connect() has returned here
        try:
            trigger = socket.create_connection(("127.0.0.1", other), timeout=5)
        except ConnectionResetError:
            trigger = None
        self.messages_until("READY=1")
        if trigger:
            trigger.settimeout(5)
            try:
                self.assertEqual(trigger.recv(1), b"")
            except ConnectionResetError:
                pass
            trigger.close()
        self.assertEqual(self.request().status, 200)
        self.assertIn('systemd passed a socket named "api" but no pool has that name, closing it.', f.log())
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", other), timeout=1).close()
        f.stop()

        # A pool with neither: an error naming it, exit status 1
        g = Fpmd(self.ws, ['pm = { mode = "static"; max_children = 1; };'], name="nosocket")
        self.assertEqual(g.proc.wait(10), 1)
        self.assertIn('[pool www] has no socket: systemd passed none named "www" and listen.address is not set.',
                      g.log())


if __name__ == "__main__":
    harness.main()
