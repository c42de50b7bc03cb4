#!/usr/bin/python3
"""A worker cannot steer the supervisor: a script with code execution (FFI here) writes over its pool's whole
scoreboard, with random bytes, then with the supervisor's pid, 1, and the pid of an unrelated process in every
32-bit word. The supervisor (root when the tests are) kills nothing outside the pool, does not crash, says so
once per overwrite, and the pool recovers with a new generation; another pool is not touched. Leaders and
workers hold their own pool's scoreboard and socket only, and no file of the supervisor's event loop or its
control socket; workers none of their leader's event loop.

When the tests run as root, the workers run as nobody/nogroup, as a pool's workers would: the supervisor and
the leaders stay root. fpmd-only: the scoreboard, its mapping and the supervisor's account of it are fpmd's."""

import ctypes
import os
import subprocess

import harness

harness.require_fpmd("test_trust")

SUP = r"fpmd\[\d+\]: "
OVERWRITTEN = SUP + r"warning: \[pool www\] its scoreboard was overwritten by one of its workers"

ROOT = os.geteuid() == 0
# The pools' workers: unprivileged when the tests can switch users
WORKERS_AS = {"user": "nobody", "group": "nogroup", "allow_root": None} if ROOT else {}
NOBODY = 65534  # Debian's nobody and nogroup

# What an event loop is made of (sd-event's, and the worker's own loop)
EVENT_LOOP = ("anon_inode:[eventpoll]", "anon_inode:[signalfd]", "anon_inode:[timerfd]")

_libc = ctypes.CDLL(None, use_errno=True)
SYS_KCMP, KCMP_FILE = 312, 0  # x86_64


def fd_links(pid):
    """{fd: link target} of process pid (an fd closed while listing is left out)."""
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return out


def same_file(pid1, fd1, pid2, fd2):
    """Whether fd1 of pid1 and fd2 of pid2 are one open file (kcmp(2) KCMP_FILE): a copy passed by fork() or
    SCM_RIGHTS, not merely another file of the same kind."""
    r = _libc.syscall(SYS_KCMP, pid1, pid2, KCMP_FILE, fd1, fd2)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "kcmp(%d, %d, KCMP_FILE, %d, %d): %s" % (pid1, pid2, fd1, fd2, os.strerror(e)))
    return r == 0


def shared(pid, files, owner):
    """The fds of pid that are one open file with one of owner's fds in files ({fd: link}): [(fd, link)]."""
    return [(fd, link) for fd, link in fd_links(pid).items()
            for ofd, olink in files.items() if link == olink and same_file(pid, fd, owner, ofd)]


def control_socket(pid):
    """The inode of the supervisor's control socket: listening, abstract, "@fpmd-control-PIDNS-PID"."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (len(fields) >= 8 and fields[7].startswith("@fpmd-control-") and fields[7].endswith("-%d" % pid)
                    and int(fields[3], 16) & 0x10000):
                return fields[6]
    return None


class Scribble(harness.FpmdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if ROOT:
            # workers running as nobody must reach the docroot: mkdtemp made the workspace 0700
            os.chmod(cls.ws.dir, 0o755)
            for d, dirs, files in os.walk(cls.ws.docroot):
                os.chmod(d, 0o755)
                for f in files:
                    os.chmod(os.path.join(d, f), 0o644)

    def assert_workers_unprivileged(self, s, *pools):
        """As root: the supervisor and the leaders are root, the workers nobody/nogroup (real, effective, saved
        and filesystem ids)."""
        if not ROOT:
            return
        for name in pools:
            for pid, want in [(s.pid, 0), (s.leader(name), 0)] + [(w, NOBODY) for w in s.pool_workers(name)]:
                st = harness.proc_status(pid)
                self.assertEqual((st["Uid"].split(), st["Gid"].split()), ([str(want)] * 4, [str(want)] * 4),
                                 (name, pid, st.get("Name")))

    def test_overwritten_scoreboard(self):
        bystander = subprocess.Popen(["sleep", "300"])
        self.addCleanup(bystander.wait)
        self.addCleanup(bystander.kill)
        s = self.fpmd({"www": dict(WORKERS_AS, pm={"mode": "static", "max_children": 2},
                                   php_admin_value={"ffi.enable": "1"}),
                       "other": dict(WORKERS_AS, pm={"mode": "static", "max_children": 1})})
        self.assert_workers_unprivileged(s, "www", "other")
        supervisor = s.pid
        other = (s.leader("other"), s.pool_workers("other"))
        offset = s.log_offset()
        modes = [("random", None), ("pid", supervisor), ("pid", 1), ("pid", bystander.pid)]
        for n, (mode, pid) in enumerate(modes, 1):
            www_before = s.leaders("www") + s.pool_workers("www")
            query = "mode=%s" % mode + ("&pid=%d" % pid if pid else "")
            r, _ = harness.fcgi_request(s, self.params("/scribble.php", query=query), timeout=10)
            self.assertEqual(r.status, 200, r.body)
            self.assertRegex(r.body.decode(), r"^wrote \d+ bytes\n$")
            # Said once per overwrite, and the pool is renewed: its processes go, new ones serve
            self.assertTrue(harness.wait_for(lambda: len(s.log_find(OVERWRITTEN, offset)) >= n, 5),
                            s.log_text()[offset:])
            self.assertTrue(harness.wait_for(lambda: not set(www_before) & set(s.leaders("www") +
                                                                                s.pool_workers("www")), 10),
                            "the overwritten generation still runs: %r" % www_before)
            self.assertTrue(harness.wait_for(lambda: len(s.pool_workers("www")) == 2, 5))
            self.assert_workers_unprivileged(s, "www")
            for _ in range(4):
                r, _ = harness.fcgi_request(s, self.params("/hello.php"), timeout=10)
                self.assertEqual((r.status, r.body), (200, b"hello\n"), (mode, pid))
            # Nothing outside the pool was touched
            self.assertTrue(s.alive())
            self.assertEqual(s.pid, supervisor)
            self.assertIsNone(bystander.poll(), "the unrelated process was killed (%s %s)" % (mode, pid))
            self.assertEqual((s.leader("other"), s.pool_workers("other")), other)
            r, _ = harness.fcgi_request(s, self.params("/hello.php"), timeout=10)
        self.assertEqual(len(s.log_find(OVERWRITTEN, offset)), len(modes), s.log_text()[offset:])
        # fpmd status reads the scoreboards as root: it copes with what is in them
        status = subprocess.run([s.argv()[0], "status", "--pid", str(supervisor), "--json", "--full"],
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(status.returncode, 0, status.stderr)

    def test_processes_hold_their_own_pool_only(self):
        # A leader starts from a fresh image (exec): nothing of the supervisor or of another pool reaches it
        s = self.fpmd({"www": dict(WORKERS_AS, pm={"mode": "static", "max_children": 2}),
                       "other": dict(WORKERS_AS, pm={"mode": "static", "max_children": 1})})
        self.assert_workers_unprivileged(s, "www", "other")
        other_socket = harness.listening_inodes(s.ports["other"])
        for pid in [s.leader("www")] + s.pool_workers("www"):
            with open("/proc/%d/maps" % pid) as f:
                maps = f.read()
            self.assertIn("/memfd:fpmd-scoreboard:www ", maps, pid)
            self.assertNotIn("fpmd-scoreboard:other", maps, pid)
            links = [os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in os.listdir("/proc/%d/fd" % pid)]
            self.assertEqual([l for l in links if l.startswith("/memfd:")], [], (pid, links))
            self.assertFalse(harness.holds_socket(pid, other_socket), pid)
        # The supervisor holds every pool's scoreboard (fpmd status reads them there)
        with open("/proc/%d/maps" % s.pid) as f:
            maps = f.read()
        self.assertIn("fpmd-scoreboard:www", maps)
        self.assertIn("fpmd-scoreboard:other", maps)

        # The supervisor's event loop (its epoll, signalfd and timers) and its control socket are its own: no
        # leader or worker of either pool holds them. A process holding the epoll could add fds of its own to it
        # with any event data, which the supervisor would take for its event sources; one holding the signalfd
        # could change which signals it reports
        supervisor = fd_links(s.pid)
        loop = {fd: link for fd, link in supervisor.items() if link in EVENT_LOOP}
        self.assertEqual(sorted(set(loop.values()) - {"anon_inode:[timerfd]"}), list(EVENT_LOOP[:2]), supervisor)
        control = control_socket(s.pid)
        self.assertIsNotNone(control)
        self.assertIn("socket:[%s]" % control, supervisor.values())
        for name in ("www", "other"):
            leader = s.leader(name)
            workers = s.pool_workers(name)
            for pid in [leader] + workers:
                self.assertEqual(shared(pid, loop, s.pid), [], (name, pid))
                self.assertNotIn("socket:[%s]" % control, fd_links(pid).values(), (name, pid))
            # The leader runs an event loop of its own, which is not its workers' either: each worker has its
            # own
            own = {fd: link for fd, link in fd_links(leader).items() if link in EVENT_LOOP}
            self.assertEqual(sorted(set(own.values()) - {"anon_inode:[timerfd]"}), list(EVENT_LOOP[:2]),
                             (name, leader, fd_links(leader)))
            for w in workers:
                self.assertEqual(shared(w, own, leader), [], (name, w))
                self.assertEqual(sorted(link for link in fd_links(w).values() if link in EVENT_LOOP),
                                 list(EVENT_LOOP[:2]), (name, w, fd_links(w)))


if __name__ == "__main__":
    harness.main()
