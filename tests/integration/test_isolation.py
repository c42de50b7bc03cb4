#!/usr/bin/python3
"""Pool isolation, seen from outside (/proc) and from the script: workers drop to the pool's user and group
(real, effective, saved and filesystem ids, supplementary groups of the user only) while the supervisor and
the leader stay root; chroot and chdir; rlimit_files; a pool that would run PHP as root is refused unless
allow_root says so; each pool has its own opcache.

Needs root (skipped with 77 otherwise). fpmd-only: the settings and process tree are fpmd's."""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import time

import harness

harness.require_fpmd("test_isolation")
harness.require_root("test_isolation")


def id_fields(status, name):
    """The numbers of a /proc/PID/status line (Uid: real effective saved fs)."""
    return [int(x) for x in status.get(name, "").split()]


class Isolation(harness.FpmdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # workers running as nobody must reach the docroot: mkdtemp made the workspace 0700
        os.chmod(cls.ws.dir, 0o755)
        for d, dirs, files in os.walk(cls.ws.docroot):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        cls.nobody = pwd.getpwnam("nobody")
        cls.nogroup = grp.getgrnam("nogroup")

    def setUp(self):
        # Debian's nobody/nogroup are 65534/65534; the expectations below are written with them
        self.assertEqual((self.nobody.pw_uid, self.nogroup.gr_gid), (65534, 65534))

    def assert_root(self, pid):
        st = harness.proc_status(pid)
        self.assertEqual(id_fields(st, "Uid"), [0, 0, 0, 0], (pid, st.get("Name")))
        self.assertEqual(id_fields(st, "Gid"), [0, 0, 0, 0], (pid, st.get("Name")))

    def assert_nobody(self, pid):
        st = harness.proc_status(pid)
        self.assertEqual(id_fields(st, "Uid"), [65534] * 4, pid)
        self.assertEqual(id_fields(st, "Gid"), [65534] * 4, pid)
        self.assertEqual(id_fields(st, "Groups"), [65534], pid)

    def test_user_and_group(self):
        s = self.fpmd({"www": {"user": "nobody", "group": "nogroup", "allow_root": None,
                               "pm": {"mode": "static", "max_children": 2}}})
        self.assert_root(s.pid)
        self.assert_root(s.leader())
        workers = s.pool_workers()
        self.assertEqual(len(workers), 2)
        for w in workers:
            self.assert_nobody(w)

        r = self.raw("/whoami.php", server=s)
        self.assertEqual(r.status, 200, r)
        lines = r.body.decode().splitlines()
        self.assertEqual(lines, ["Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534",
                                 "Groups:\t65534 ", "posix_getuid=65534"])
        # after a request too (PHP ran in the process)
        for w in s.pool_workers():
            self.assert_nobody(w)
        self.assertEqual(s.log_find(r"runs PHP as root"), [])

    def test_chroot(self):
        root = self.ws.path("root")
        os.makedirs(os.path.join(root, "www"))
        for name in ("where.php", "pid.php", "hello.php"):
            shutil.copy(self.ws.script("/" + name), os.path.join(root, "www", name))
        for d in (root, os.path.join(root, "www")):
            os.chmod(d, 0o755)
        s = self.fpmd({"www": {"user": "nobody", "group": "nogroup", "allow_root": None,
                               "chroot": root, "chdir": "/www",
                               "pm": {"mode": "static", "max_children": 1}}})

        def in_chroot(script):
            return harness.fcgi_request(s, harness.cgi_params(self.ws, script, script_filename="/www" + script,
                                                              extra={"DOCUMENT_ROOT": "/www"}))[0]

        r = in_chroot("/where.php")
        self.assertEqual((r.status, r.body), (200, b"/www/where.php\n/www\n"))
        r = in_chroot("/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        worker = int(in_chroot("/pid.php").body)
        self.assertEqual(s.pool_workers(), [worker])
        self.assertEqual(os.readlink("/proc/%d/root" % worker), root)
        self.assertEqual(os.readlink("/proc/%d/cwd" % worker), os.path.join(root, "www"))
        self.assert_nobody(worker)
        # the leader is not chrooted: it forks the next workers
        self.assertEqual(os.readlink("/proc/%d/root" % s.leader()), "/")
        # a path outside the chroot does not exist for the worker
        r = self.raw("/hello.php", server=s)
        self.assertEqual(r.status, 404)

    def test_rlimit_files(self):
        s = self.fpmd({"www": {"rlimit_files": 1234, "pm": {"mode": "static", "max_children": 2}}})
        for w in s.pool_workers():
            with open("/proc/%d/limits" % w) as f:
                line = next(l for l in f if l.startswith("Max open files"))
            self.assertEqual(line.split()[3:6], ["1234", "1234", "files"], line)
        self.assertServes(s)

    def test_root_refused_without_allow_root(self):
        s = harness.FpmdServer(self.ws, {"www": {"allow_root": None}})
        s.write_config()
        t0 = time.monotonic()
        p = subprocess.Popen(s.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)  # it started after all: stop it and its pools
            out, err = p.communicate(timeout=15)
            self.fail("fpmd started a pool that would run PHP as root:\n" + err)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        harness.log("without user nor allow_root: exit %d after %.2fs: %r"
                    % (r.returncode, time.monotonic() - t0, r.stderr))
        self.assertNotEqual(r.returncode, 0)
        lines = [l.split(": ", 1)[1] for l in r.stderr.splitlines() if l.startswith("fpmd[")]
        self.assertIn("error: [pool www] would run PHP as root: set 'user' (and 'group'), or "
                      "'allow_root = true;' if that is really meant.", lines)
        self.assertTrue(harness.connect_refused(s.port))

    def test_test_config_refuses_root_pool(self):
        # fpmd -t checks what starting would check: the same error, exit 1 (php-fpm -t refuses a pool
        # without user too: "ALERT: [pool www] user has not been defined", exit 78)
        s = harness.FpmdServer(self.ws, {"www": {"allow_root": None}})
        s.write_config()
        t = subprocess.run(s.argv() + ["-t"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=15)
        harness.log("fpmd -t: exit %d, %r %r" % (t.returncode, t.stdout, t.stderr))
        self.assertEqual(t.returncode, 1, t.stdout + t.stderr)
        self.assertIn("[pool www] would run PHP as root", t.stderr)

    def test_opcache_per_pool(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}},
                       "other": {"pm": {"mode": "static", "max_children": 2}}})
        other = s.endpoint("other")
        self.assertNotEqual(s.leader("www"), s.leader("other"))

        r = self.raw("/a.php", server=s)
        self.assertEqual((r.status, r.body), (200, b"a\n"))
        a = self.ws.script("/a.php")

        mine = self.raw("/opcache.php", server=s).json()
        theirs = self.raw("/opcache.php", server=other).json()
        harness.log("opcache www: %s; other: %s" % (mine, theirs))
        self.assertTrue(mine["enabled"])
        self.assertTrue(theirs["enabled"])
        self.assertIn(a, mine["scripts"])
        self.assertNotIn(a, theirs["scripts"])
        self.assertIn(self.ws.script("/opcache.php"), theirs["scripts"])

        # the other way round
        r = self.raw("/hello.php", server=other)
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        mine = self.raw("/opcache.php", server=s).json()
        theirs = self.raw("/opcache.php", server=other).json()
        self.assertIn(self.ws.script("/hello.php"), theirs["scripts"])
        self.assertNotIn(self.ws.script("/hello.php"), mine["scripts"])


if __name__ == "__main__":
    harness.main()
