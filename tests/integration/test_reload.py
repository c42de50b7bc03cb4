#!/usr/bin/python3
"""Reload (SIGHUP; SIGUSR2 does the same; `fpmd reload` waits for it and reports): every pool gets a new
generation (fresh PHP, opcache and realpath cache) on the same socket while the old one finishes its requests,
so no request fails and a symlink deploy serves its new release; `fpmd reload POOL` renews that pool only; a
bad configuration, or a pool whose new generation cannot start, keeps the running one and `fpmd reload` says
why; pools come and go with their files.

fpmd-only: the files written, the log lines and the generations are fpmd's."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import harness

harness.require_fpmd("test_reload")

SUP = r"fpmd\[\d+\]: "  # the supervisor's prefix of each line on stderr
RELOADED = r"^" + SUP + r"notice: Reloaded: 1 pool serving\.$"
FAILED = r"^" + SUP + r"error: Reload failed, keeping the running configuration: (.*)$"


class Reload(harness.FpmdTestCase):
    def settings(self, memory_limit):
        return {"pm": {"mode": "static", "max_children": 4}, "php_value": {"memory_limit": memory_limit}}

    def pids(self, s):
        return s.leader(), s.pool_workers()

    def assert_answers(self, s, body, n=8, name="www"):
        """n requests on new connections all get exactly body."""
        for _ in range(n):
            r = self.raw("/memory_limit.php", server=s.endpoint(name))
            self.assertEqual((r.status, r.body), (200, body))

    def test_reloads_under_load(self):
        s = self.fpmd({"www": self.settings("200M")})
        supervisor = s.pid
        first_leader = s.leader()
        nginx = self.nginx(s)
        configured = {b"memory_limit=200M\n"}
        stop = threading.Event()
        failures = []
        counts = [0] * 4
        answers = []

        def load(i):
            conn = nginx.connection(timeout=15)
            try:
                while not stop.is_set():
                    try:
                        r = nginx.request("GET", "/memory_limit.php", conn=conn)
                    except Exception as e:  # a failed request is what this test looks for
                        failures.append((i, repr(e)))
                        conn.close()
                        conn = nginx.connection(timeout=15)
                        continue
                    answers.append((time.monotonic(), r.body))
                    counts[i] += 1
                    # Any value configured so far may answer while generations overlap.
                    if r.status != 200 or r.body not in configured:
                        failures.append((i, r.status, r.body[:200]))
            finally:
                conn.close()

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        offset = s.log_offset()
        try:
            self.assertTrue(harness.wait_for(lambda: all(counts), 10), "the load never ran: %r" % counts)
            for n in range(20):
                value = "%dM" % (201 + n)
                configured.add(("memory_limit=%s\n" % value).encode())
                s.set_pool("www", self.settings(value))
                s.reload(signal.SIGHUP if n % 2 == 0 else signal.SIGUSR2)
                time.sleep(0.3)
            # Still under load: the last generation alone serves (one leader, its 4 workers) within a few
            # seconds, the older ones having finished their requests (loose: PHP starts in ~0.1 s).
            t_last = time.monotonic()
            settled = harness.wait_for(lambda: s.leader() is not None and len(s.pool_workers()) == 4, 5)
            t_settled = time.monotonic()
            harness.log("%s %.2fs after the last reload: leaders %r, workers %r"
                        % ("settled" if settled else "NOT settled", t_settled - t_last, s.leaders(),
                           s.pool_workers()))
            harness.wait_for(lambda: len([t for t, b in answers if t > t_settled + 0.1]) >= 40, 10)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        late = [b for t, b in answers if t > t_settled + 0.1]
        harness.log("20 reloads: %d requests (%s), %d failed; %d 'Reloaded' lines, %d generations served; "
                    "answers once settled: %s"
                    % (sum(counts), counts, len(failures), len(s.log_find(RELOADED, offset)),
                       len(s.log_find(r"new generation serving", offset)),
                       {b.decode().strip(): late.count(b) for b in set(late)}))
        self.assertEqual(failures, [])
        self.assertTrue(all(c > 20 for c in counts), counts)
        self.assertTrue(s.alive())
        self.assertEqual(s.pid, supervisor)
        self.assertNotEqual(s.leader(), first_leader)
        self.assertEqual(len(s.log_find(r"^" + SUP + r"notice: Reloading ", offset)), 20)
        self.assertEqual(s.log_find(FAILED, offset), [])
        self.assertEqual(s.log_find(SUP + r"(error|warning): (?!\[pool www\] runs PHP as root)", offset), [])
        self.assertTrue(settled, "older generations still running under load 5 s after the last reload: "
                        "leaders %r, workers %r" % (s.leaders(), s.pool_workers()))
        # the last value only, under load and then on new connections and through nginx's kept ones
        self.assertEqual(set(late), {b"memory_limit=220M\n"})
        self.assert_answers(s, b"memory_limit=220M\n")
        for _ in range(8):
            r = nginx.request("GET", "/memory_limit.php")
            self.assertEqual((r.status, r.body), (200, b"memory_limit=220M\n"))

    def test_reloads_under_post_load(self):
        # nginx keeps its FastCGI connections (keepalive + fastcgi_keep_conn on) and sends POSTs, which it does not
        # retry: a worker that closed a kept connection while nginx wrote a request into it would fail one. The
        # old workers hand their connections to the new generation instead, so 20 reloads lose nothing.
        s = self.fpmd({"www": self.settings("200M")})
        nginx = self.nginx(s)
        stop = threading.Event()
        failures, counts = [], [0] * 4
        body = "text=" + "x" * 3000

        def load(i):
            conn = nginx.connection(timeout=15)
            n = 0
            try:
                while not stop.is_set():
                    n += 1
                    try:
                        r = nginx.request("POST", "/post_echo.php", body="seq=%d&%s" % (n, body), conn=conn,
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
                    except Exception as e:  # a failed request is what this test looks for
                        failures.append((i, repr(e)))
                        conn.close()
                        conn = nginx.connection(timeout=15)
                        continue
                    counts[i] += 1
                    parts = r.body.split()
                    if r.status != 200 or len(parts) != 3 or parts[1:] != [b"%d" % n, b"3000"]:
                        failures.append((i, r.status, r.body[:200]))
            finally:
                conn.close()

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        offset = s.log_offset()
        try:
            self.assertTrue(harness.wait_for(lambda: all(counts), 10), "the load never ran: %r" % counts)
            for n in range(20):
                s.set_pool("www", self.settings("%dM" % (201 + n)))
                s.reload()
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        errors = [l for l in nginx.log_text().splitlines() if "[error]" in l or "upstream" in l]
        harness.log("20 reloads under POST load through nginx keepalive: %d requests (%s), %d failed, %d nginx "
                    "errors, %d 'Reloaded'" % (sum(counts), counts, len(failures), len(errors),
                                                len(s.log_find(RELOADED, offset))))
        self.assertEqual(failures, [])
        self.assertEqual(errors, [])
        self.assertTrue(all(c > 20 for c in counts), counts)
        # A reload that arrives while the previous one still waits for its old generation takes it over
        self.assertEqual(len(s.log_find(r"^" + SUP + r"notice: Reloading ", offset)), 20)
        self.assertGreater(len(s.log_find(RELOADED, offset)), 0)

    def test_symlink_deploy(self):
        # Deployer/Capistrano: `current` switches to the new release, then a reload. With
        # opcache.validate_timestamps=0 PHP never looks at the files again, so only fresh PHP serves the release.
        for n in (1, 2):
            self.ws.write("../releases/%d/version.php" % n, "<?php echo 'release %d', \"\\n\";\n" % n)
        current = self.ws.path("current")
        os.symlink(self.ws.path("releases", "1"), current)
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 4},
                               "php_admin_flag": {"opcache.validate_timestamps": False}}})

        def version():
            r = harness.fcgi_request(s, self.params("/version.php", script_filename=current + "/version.php"))[0]
            return r.status, r.body

        stop = threading.Event()
        answers = []

        def load():
            while not stop.is_set():
                try:
                    answers.append((time.monotonic(), version()))
                except Exception as e:  # a failed request is what this test looks for
                    answers.append((time.monotonic(), repr(e)))

        for _ in range(8):
            self.assertEqual(version(), (200, b"release 1\n"))
        threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            # every worker has run the script from release 1 before the switch
            self.assertTrue(harness.wait_for(lambda: len(answers) >= 100, 20), "the load never ran")
            os.symlink(self.ws.path("releases", "2"), current + ".new")
            os.replace(current + ".new", current)
            # Switched, not yet reloaded: the running PHP still serves release 1 (the test could fail)
            for _ in range(8):
                self.assertEqual(version(), (200, b"release 1\n"))
            r = s.reload_command()
            t_reloaded = time.monotonic()
            harness.wait_for(lambda: len([t for t, a in answers if t > t_reloaded]) >= 20, 10)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({a for t, a in answers} - {(200, b"release 1\n"), (200, b"release 2\n")}, set())
        self.assertEqual({a for t, a in answers if t > t_reloaded}, {(200, b"release 2\n")})
        for _ in range(8):
            self.assertEqual(version(), (200, b"release 2\n"))

    def test_old_generation_stops_under_load(self):
        # One worker kept busy by 8 clients through nginx keepalive: after a reload the old worker finishes
        # the request it runs and exits, it does not go on serving the old configuration.
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1},
                               "php_value": {"memory_limit": "200M"}}})
        old_leader, old_workers = self.pids(s)
        nginx = self.nginx(s)
        stop = threading.Event()
        answers, failures = [], []

        def load(i):
            conn = nginx.connection(timeout=15)
            try:
                while not stop.is_set():
                    try:
                        r = nginx.request("GET", "/memory_limit.php", conn=conn)
                    except Exception as e:  # a failed request is what this test looks for
                        failures.append(repr(e))
                        conn.close()
                        conn = nginx.connection(timeout=15)
                        continue
                    answers.append((time.monotonic(), r.status, r.body))
            finally:
                conn.close()

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        try:
            self.assertTrue(harness.wait_for(lambda: len(answers) >= 20, 10), "the load never ran")
            s.set_pool("www", {"pm": {"mode": "static", "max_children": 1},
                               "php_value": {"memory_limit": "300M"}})
            t0 = time.monotonic()
            s.reload()
            # loose: the new PHP starts in ~0.1 s and the old worker's request takes 20 ms
            gone = harness.wait_for(lambda: harness.proc_state(old_leader) is None, 3)
            took = time.monotonic() - t0
            t_late = time.monotonic() + 0.2
            harness.wait_for(lambda: len([t for t, st, b in answers if t > t_late]) >= 20, 10)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        late = [b for t, st, b in answers if t > t_late]
        harness.log("reload under load, 1 worker: old leader %s after %.2fs; answers from 0.2 s after: %s"
                    % ("gone" if gone else "STILL THERE", took,
                       {b.decode().strip(): late.count(b) for b in set(late)}))
        self.assertEqual(failures, [])
        self.assertEqual({st for t, st, b in answers}, {200})
        self.assertTrue(gone, "the old generation (leader %d, worker %r) still serves 3 s after the reload"
                        % (old_leader, old_workers))
        self.assertEqual(set(late), {b"memory_limit=300M\n"})

    def test_reload_renews_every_pool(self):
        # Unchanged settings too: a reload is how a deploy reaches PHP (opcache.validate_timestamps=0)
        s = self.fpmd({"www": self.settings("200M"), "api": self.settings("64M")})
        before = {name: (s.leader(name), s.pool_workers(name)) for name in ("www", "api")}
        offset = s.reload()
        self.assertTrue(s.wait_log(r"^" + SUP + r"notice: Reloaded: 2 pools serving\.$", offset, 10),
                        s.log_text()[offset:])
        for name in ("www", "api"):
            self.assertTrue(harness.wait_for(lambda: s.leader(name) not in (None, before[name][0]), 5), name)
            self.assertTrue(harness.wait_for(lambda: len(s.pool_workers(name)) == 4 and
                                             not set(s.pool_workers(name)) & set(before[name][1]), 5), name)
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assert_answers(s, b"memory_limit=64M\n", name="api")

    def test_old_leader_gone_without_a_word(self):
        # The old generation's leader dies before it says STOPPING (its exit read first, or killed): the reload
        # still completes once the new generation serves (it waited forever when the exit came first and no
        # worker was starting: an ondemand pool's new leader has none)
        s = self.fpmd({"www": {"pm": {"mode": "ondemand", "max_children": 2},
                               "php_value": {"memory_limit": "200M"}}})
        self.assert_answers(s, b"memory_limit=200M\n", n=1)
        old = s.leader()
        os.kill(old, signal.SIGSTOP)
        offset = s.log_offset()
        cmd = subprocess.Popen([s.argv()[0], "reload", "--pid", str(s.pid), "--timeout", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(cmd.kill)
        self.assertIsNotNone(s.wait_log(r"\[pool www\] new generation serving, stopping the previous one\.$",
                                        offset), s.log_text()[offset:])
        os.kill(old, signal.SIGKILL)
        out, err = cmd.communicate(timeout=15)
        self.assertEqual((cmd.returncode, out.strip()), (0, "fpmd: reloaded: 1 pool serving, 1 new generation"),
                         err)
        self.assert_answers(s, b"memory_limit=200M\n")

    def test_reload_command_gives_up(self):
        # `fpmd reload --timeout 1` leaves before the reload is done (the old leader is held): fpmd goes on,
        # answers nobody, does not spin, and stops (it spun at 100% CPU, the request freed under the reload)
        s = self.fpmd({"www": {"pm": {"mode": "ondemand", "max_children": 2},
                               "php_value": {"memory_limit": "200M"}}})
        self.assert_answers(s, b"memory_limit=200M\n", n=1)
        old = s.leader()
        os.kill(old, signal.SIGSTOP)
        r = subprocess.run([s.argv()[0], "reload", "--pid", str(s.pid), "--timeout", "1"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr.strip()),
                         (1, "fpmd: reload of fpmd %d still not done after the timeout" % s.pid))
        os.kill(old, signal.SIGKILL)
        self.assertIsNotNone(s.wait_log(r"notice: Reloaded: 1 pool serving\.$"), s.log_text())
        cpu = harness.proc_cpu_seconds(s.pid)
        self.assert_answers(s, b"memory_limit=200M\n")
        harness.wait_for(lambda: False, 1.0)  # a second of nothing to do
        self.assertLess(harness.proc_cpu_seconds(s.pid) - cpu, 0.3)
        r = s.reload_command()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(s.stop(), 0)

    def test_supervisors_in_pid_namespaces_of_their_own(self):
        # Containers often share the host's network namespace (and with it the abstract socket names) while each
        # has pids of its own: two supervisors that are both pid 1 both run, and `fpmd reload` in each namespace
        # (with --pid 1, as ExecReload= passes $MAINPID, and without) reloads its own. The second supervisor
        # failed to start ("Failed to set up the event loop: Address already in use"), and in systemd tests a
        # container's reload went to another container's fpmd.
        class Unshared(harness.FpmdServer):
            def _write_fpmd(self):
                return [shutil.which("unshare"), "--pid", "--fork", "--mount-proc", "--kill-child"] + \
                    super()._write_fpmd()

            def _wait_started(self):
                pass  # the pools' processes are fpmd's children, not unshare's

        servers = []
        for limit in ("200M", "64M"):
            s = Unshared(self.ws, {"www": self.settings(limit)}, None, "info")
            self.addCleanup(s.stop)
            s.start()
            servers.append(s)
        for s, limit in zip(servers, ("200M", "64M")):
            inner = harness.children(s.pid)
            self.assertEqual(len(inner), 1, inner)
            enter = ["nsenter", "--target", str(inner[0]), "--pid", "--mount", "--", s.argv()[0]]
            for args in (["reload", "--pid", "1"], ["reload"]):
                offset = s.log_offset()
                r = subprocess.run(enter + args, capture_output=True, text=True, timeout=60)
                self.assertEqual((r.returncode, r.stdout, r.stderr),
                                 (0, "fpmd: reloaded: 1 pool serving, 1 new generation\n", ""), args)
                self.assertEqual(len(s.log_find(RELOADED, offset)), 1, s.log_text()[offset:])
            for other in servers:
                if other is not s:
                    self.assertEqual(len(other.log_find(RELOADED)), 2 if servers.index(other) < servers.index(s)
                                     else 0, other.log_text())
            self.assert_answers(s, b"memory_limit=%s\n" % limit.encode())
            os.kill(inner[0], signal.SIGTERM)
            self.assertEqual(s.wait(15), 0, s.log_text())

    def test_reload_command_named_pools(self):
        # One site's deploy does not restart another's: `fpmd reload www` renews www and leaves api alone
        s = self.fpmd({"www": self.settings("200M"), "api": self.settings("64M")})
        www, api = self.pids(s), (s.leader("api"), s.pool_workers("api"))
        r = s.reload_command("www")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, "fpmd: reloaded: 2 pools serving, 1 new generation\n")
        # It returned once the new generation served and the old one took nothing new: what follows is the
        # new generation's, on new connections and whatever worker answers (the old leader goes once its workers
        # have)
        new = [l for l in s.leaders() if l != www[0]]
        self.assertEqual(len(new), 1, s.leaders())
        new = new[0]
        for _ in range(8):
            r2 = self.raw("/pid.php", server=s)
            self.assertEqual(r2.status, 200)
            self.assertNotIn(int(r2.body), www[1])
        self.assertEqual((s.leader("api"), s.pool_workers("api")), api)
        self.assert_answers(s, b"memory_limit=64M\n", name="api")
        # An unknown pool: nothing reloads
        r = s.reload_command("nothere")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "fpmd: reload failed: no pool named 'nothere' in the configuration\n")
        self.assertTrue(harness.wait_for(lambda: s.leaders() == [new], 5), s.leaders())

    def bad_reload(self, s, text, expected_error):
        """Writes text as the pool file, reloads (the signal, then the command): the exact error line and exit
        status, and the same processes serve."""
        before = self.pids(s)
        s.write_file(s.pool_path("www"), text)
        offset = s.reload()
        line = s.wait_log(FAILED, offset, 10)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertEqual(line.group(1), expected_error)
        r = s.reload_command()
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", "fpmd: reload failed: %s\n" % expected_error))
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(self.pids(s), before)
        self.assertTrue(s.alive())
        self.assertEqual(s.log_find(RELOADED, offset), [])

    def test_bad_config_keeps_running(self):
        s = self.fpmd({"www": self.settings("200M")})
        path = s.pool_path("www")
        good = s.pool_text("www")
        self.assert_answers(s, b"memory_limit=200M\n")

        # a syntax error: the '=' of max_children left out
        lines = good.splitlines()
        n = next(i for i, l in enumerate(lines) if l.strip() == "max_children = 4;")
        lines[n] = lines[n].replace(" = ", " ")
        self.bad_reload(s, "\n".join(lines) + "\n", "%s:%d: syntax error" % (path, n + 1))

        # an unknown setting, on the line after "pool = {"
        lines = good.splitlines()
        lines.insert(1, '  max_chilren = 4;')
        self.bad_reload(s, "\n".join(lines) + "\n",
                        "%s:2: unknown setting 'max_chilren', did you mean 'pm.max_children'?" % path)

        # fixed, with another value: the reload takes, and the command says so once it serves
        s.set_pool("www", self.settings("300M"))
        r = s.reload_command()
        self.assertEqual((r.returncode, r.stdout), (0, "fpmd: reloaded: 1 pool serving, 1 new generation\n"))
        self.assert_answers(s, b"memory_limit=300M\n")

    def cannot_start(self, s, change, causes, why):
        """Rewrites pool www with change (and another memory_limit) and runs `fpmd reload`: it exits 1 with why,
        the log has each cause line once (regexes) and no reload succeeded, and the generation that ran before
        (the same leader and workers) answered before and answers after with its own settings."""
        before = self.pids(s)
        self.assert_answers(s, b"memory_limit=200M\n")
        s.set_pool("www", dict(self.settings("300M"), **change))
        offset = s.log_offset()
        r = subprocess.run([s.argv()[0], "reload", "--pid", str(s.pid), "--timeout", "30"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", "fpmd: reload failed: %s\n" % why),
                         s.log_text()[offset:])
        for cause in causes:
            self.assertEqual(len(s.log_find(cause, offset)), 1, (cause, s.log_text()[offset:]))
        self.assertEqual(s.log_find(RELOADED, offset), [])
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertTrue(harness.wait_for(lambda: self.pids(s) == before, 5), (self.pids(s), before))
        self.assertTrue(s.alive())

    def assert_reload_fixed(self, s):
        """The pool's settings back to sound ones: the reload takes."""
        s.set_pool("www", self.settings("300M"))
        r = s.reload_command()
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "fpmd: reloaded: 1 pool serving, 1 new generation\n",
                                                              ""))
        self.assert_answers(s, b"memory_limit=300M\n")

    def test_new_generation_cannot_be_set_up(self):
        # A configuration that parses but whose pool cannot start is refused before anything changes: its listen
        # address taken by another process, a chroot or chdir folder that does not exist, a user that does not
        # exist. `fpmd reload` (ExecReload=) names the pool, the journal (here stderr) has the cause.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        self.addCleanup(holder.close)
        taken = "127.0.0.1:%d" % holder.getsockname()[1]
        missing = self.ws.path("no-such-folder")
        why = "pool www could not be set up, see the journal"
        refused = r"^" + SUP + r"error: Reload failed for pool www, keeping the running configuration\.$"
        s = self.fpmd({"www": self.settings("200M")})

        self.cannot_start(s, {"listen": {"address": taken}},
                          [r"^" + SUP + r"error: Failed to bind %s: Address already in use$" % re.escape(taken),
                           refused], why)
        if os.geteuid() == 0:
            self.cannot_start(s, {"chroot": missing},
                              [r"^" + SUP + r"error: \[pool www\] chroot '%s' is not a folder: No such file or "
                               r"directory$" % re.escape(missing), refused], why)
            self.cannot_start(s, {"user": "fpmd-no-such-user", "allow_root": None},
                              [r"^" + SUP + r"error: \[pool www\] user 'fpmd-no-such-user' does not exist\.$",
                               refused], why)
        else:
            harness.log("not root: the chroot and user cases are left out (fpmd ignores 'user' unprivileged)")
        # PHP-FPM refuses a chdir that is not a folder when it reads the configuration: so does fpmd, in every pm
        # (an ondemand pool's workers start after the previous generation is gone)
        no_chdir = r"^" + SUP + r"error: \[pool www\] chdir '%s' is not a folder: No such file or directory$" \
            % re.escape(missing)
        self.cannot_start(s, {"chdir": missing}, [no_chdir, refused], why)
        self.cannot_start(s, {"chdir": missing, "pm": {"mode": "ondemand", "max_children": 4}}, [no_chdir, refused],
                          why)
        self.assert_reload_fixed(s)

    def test_new_generation_workers_cannot_start(self):
        # The settings are sound but no worker of the new generation gets past its setup: rlimit_files above the
        # kernel's nr_open, which setrlimit() refuses in each worker (root too; PHP-FPM logs it and goes on). After
        # three the new generation is stopped and `fpmd reload` says so (it waited for its timeout while the
        # workers failed once a second), and the previous generation serves throughout.
        with open("/proc/sys/fs/nr_open") as f:
            too_many = int(f.read()) + 1
        s = self.fpmd({"www": self.settings("200M")})
        stop = threading.Event()
        answers = []

        def load():
            while not stop.is_set():
                try:
                    r = harness.fcgi_request(s, self.params("/memory_limit.php"), timeout=10)[0]
                    answers.append((r.status, r.body))
                except Exception as e:  # a failed request is what this test looks for
                    answers.append(repr(e))

        t = threading.Thread(target=load, daemon=True)
        t.start()
        try:
            self.assertTrue(harness.wait_for(lambda: len(answers) >= 10, 10), "the load never ran")
            self.cannot_start(
                s, {"rlimit_files": too_many},
                [r"^" + SUP + r"error: \[pool www\] 3 workers of the new generation could not start: stopping "
                 r"it\.$",
                 r"^" + SUP + r"error: \[pool www\] the new generation failed to start; the previous one keeps "
                 r"serving\.$",
                 r"^" + SUP + r"error: Reload failed: pool www: its new generation failed to start; the previous "
                 r"one keeps serving, see the journal\.$"],
                "pool www: its new generation failed to start; the previous one keeps serving, see the journal")
            # each worker said why before it exited
            self.assertGreaterEqual(len(s.log_find(r"^fpmd\[\d+\]: error: \[pool www\] Failed to set rlimit_files "
                                                   r"to %d: Operation not permitted$" % too_many)), 3, s.log_text())
            n = len(answers)
            self.assertTrue(harness.wait_for(lambda: len(answers) >= n + 10, 10), "the load stopped")
        finally:
            stop.set()
            t.join(20)
        self.assertEqual(set(map(str, answers)), {str((200, b"memory_limit=200M\n"))})
        self.assert_reload_fixed(s)

    def test_pool_added_and_removed(self):
        s = self.fpmd({"www": self.settings("200M")})
        before = self.pids(s)

        port = s.set_pool("api", {"pm": {"mode": "static", "max_children": 2},
                                  "php_value": {"memory_limit": "64M"}})
        self.assertTrue(harness.connect_refused(port))
        # Named: only the new pool starts, www goes on
        r = s.reload_command("api")
        self.assertEqual((r.returncode, r.stdout), (0, "fpmd: reloaded: 2 pools serving, 1 new generation\n"))
        self.assertTrue(harness.wait_for(lambda: len(s.pool_workers("api")) == 2, 5))
        self.assert_answers(s, b"memory_limit=64M\n", name="api")
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertEqual(self.pids(s), before)
        api_processes = s.leaders("api") + s.pool_workers("api")

        s.remove_pool("api")
        offset = s.log_offset()
        r = s.reload_command("www")
        self.assertEqual((r.returncode, r.stdout), (0, "fpmd: reloaded: 1 pool serving, 1 new generation\n"))
        self.assertTrue(harness.wait_for(lambda: harness.connect_refused(port), 5),
                        "the removed pool's port still accepts")
        self.assertTrue(harness.wait_for(lambda: not any(harness.proc_state(p) for p in api_processes), 5),
                        "processes of the removed pool left: %r" % api_processes)
        self.assertTrue(s.wait_log(r"^" + SUP + r"info: \[pool api\] removed from the configuration, stopping "
                                   r"it\.$", offset, 1))
        self.assert_answers(s, b"memory_limit=200M\n")
        self.assertNotEqual(self.pids(s), before)


if __name__ == "__main__":
    harness.main()
