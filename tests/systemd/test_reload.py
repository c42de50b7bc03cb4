#!/usr/bin/env python3
"""systemctl reload fpmd under load: every reload starts a new generation of workers, is invisible to clients
and returns once the new generation serves (ExecReload= runs `fpmd reload`, which waits), the main process
stays; a symlink deploy with opcache.validate_timestamps=0 serves the new release from the moment the reload
returns; a bad configuration, or a pool whose new generation cannot start, makes `systemctl reload` fail and
leaves the running one serving, with the reason in STATUS=. The methods run in name order on one container."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

RELOADS = 10
POOL_FILE_BAD_LINE = 8
GOOD_POOL = """\
pool = {
  name = "www";
  user = "www-data";
  group = "www-data";
  php_ini = "%s";
  pm = { mode = "static"; max_children = 2; };
  env = { GEN = "%s"; };
};
"""
BAD_POOL = GOOD_POOL.replace('  env = { GEN = "%s"; };\n', '  env = { GEN = "%s"; };\n  oops = = 1;\n')
COUNTS_RE = r"^www: \d+ active, \d+ idle, \d+ req, \d+ slow$"


class Reload(h.TestCase):
    SCRIPTS = {
        "/hello.php": "<?php echo \"hello\\n\";\n",
        "/gen.php": "<?php echo 'gen=', getenv('GEN'), \"\\n\";\n",
        # In flight while the reloads happen: the old worker must finish it
        "/slow.php": "<?php usleep(150000); echo 'gen=', getenv('GEN'), \"\\n\";\n",
    }
    gen = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.write_gen(0)
        cls.box.systemctl("start", "fpmd@www.socket")
        r = h.fcgi_request(cls.address, "/gen.php", timeout=60)
        if (r.status, r.body) != (200, b"gen=0\n"):
            raise AssertionError("first request: %r" % r)
        # A worker answers before fpmd has told systemd READY=1 (every initial worker started): until then the
        # start job runs, and a `systemctl reload` is merged into it (systemd reloads nothing)
        if not h.wait_for(lambda: cls.box.show("fpmd.service", "ActiveState", "SubState", "Job")
                          == {"ActiveState": "active", "SubState": "running", "Job": ""}, 20, 0.05):
            raise AssertionError("fpmd.service never became active: %r" % cls.box.show("fpmd.service", "ActiveState",
                                                                                       "SubState", "Job"))
        cls.main_pid = cls.box.prop("fpmd.service", "MainPID")

    @classmethod
    def write_gen(cls, gen, bad=False):
        cls.gen = gen
        cls.ws.write_pool(text=(BAD_POOL if bad else GOOD_POOL) % (h.PHP_INI, gen))

    def wait_serving_gen(self, gen, timeout=20):
        want = b"gen=%d\n" % gen

        def serving():
            try:
                r = self.request("/gen.php", timeout=10)
                return r.status == 200 and r.body == want
            except Exception:
                return False

        return h.wait_for(serving, timeout, 0.05)

    def wait_active_running(self, timeout=20):
        return h.wait_for(lambda: self.box.show("fpmd.service", "ActiveState", "SubState")
                          == {"ActiveState": "active", "SubState": "running"}, timeout, 0.05)

    def wait_status_still(self, seconds, timeout=20):
        """Waits until StatusText has not changed for seconds."""
        last, since = None, time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            t = self.status_text()
            if t != last:
                last, since = t, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return t
            time.sleep(0.1)
        self.fail("StatusText kept changing for %ds: %r" % (timeout, last))

    def test_1_reloads_under_load(self):
        loops = [h.RequestLoop(self.address, "/gen.php", lambda b: re.fullmatch(rb"gen=\d+\n", b)),
                 h.RequestLoop(self.address, "/slow.php", lambda b: re.fullmatch(rb"gen=\d+\n", b))]
        for lp in loops:
            lp.start()
        try:
            self.assertTrue(h.wait_for(lambda: all(lp.ok for lp in loops), 30), "the load never ran")
            times = []
            for i in range(1, RELOADS + 1):
                self.write_gen(i)
                t0 = time.monotonic()
                self.box.systemctl("reload", "fpmd.service")
                times.append(time.monotonic() - t0)
                # Honest: systemctl returned once the new generation served
                self.assertServesGen(i)
                self.assertEqual(self.box.show("fpmd.service", "ActiveState", "SubState"),
                                 {"ActiveState": "active", "SubState": "running"})
                # let both loops run on the new generation
                marks = [lp.ok for lp in loops]
                h.wait_for(lambda: all(lp.ok > m for lp, m in zip(loops, marks)), 10)
            h.log("systemctl reload took %s ms" % ", ".join("%.0f" % (t * 1e3) for t in times))
        finally:
            for lp in loops:
                lp.stop()
        for lp in loops:
            h.log("loop %s: %d ok, %d failed, bodies %s" % (lp.script, lp.ok, len(lp.failures),
                                                          sorted(lp.bodies.items())))
        failures = [f for lp in loops for f in lp.failures]
        self.assertEqual(failures, [], "requests failed during the reloads")
        for lp in loops:  # both loops ran across the reloads, on many generations
            self.assertGreater(lp.ok, 10, lp.script)
            self.assertGreaterEqual(len(lp.bodies), RELOADS // 2, (lp.script, sorted(lp.bodies)))
        st = self.box.show("fpmd.service", "MainPID", "ActiveState", "SubState", "NRestarts", "Result")
        self.assertEqual(st, {"MainPID": self.main_pid, "ActiveState": "active", "SubState": "running",
                              "NRestarts": "0", "Result": "success"})
        # The generations in between were really replaced: the journal saw RELOADS reloads
        reloads = [e for e in self.box.journal("-u", "fpmd.service", "_PID=" + self.main_pid)
                   if str(e.get("MESSAGE", "")).startswith("Reloading ")]
        self.assertEqual(len(reloads), RELOADS, [e.get("MESSAGE") for e in reloads])

    def bad_reload(self):
        """Writes the bad pool file (GEN bumped, so a wrongly applied file would show) and reloads: systemctl
        reload fails, and the journal has `fpmd reload`'s reason."""
        good = self.gen
        self.write_gen(good + 1, bad=True)
        cursor = self.box.cursor()
        r = self.box.systemctl("reload", "fpmd.service", check=False)
        self.assertNotEqual(r.returncode, 0, "systemctl reload of a bad configuration succeeded: %r" % r)
        self.assertIn("Job for fpmd.service failed", r.stderr)
        reason = "fpmd: reload failed: /etc/fpmd/pool.d/www.conf:%d: syntax error" % POOL_FILE_BAD_LINE
        self.assertTrue(h.wait_for(lambda: reason in self.box.journal_text("-u", "fpmd.service", "--after-cursor",
                                                                            cursor), 10),
                        self.box.journal_text("-u", "fpmd.service", "--after-cursor", cursor))
        type(self).gen = good
        return good

    def test_2_bad_config_keeps_serving(self):
        good = self.gen
        reason = "/etc/fpmd/pool.d/www.conf:%d: syntax error" % POOL_FILE_BAD_LINE
        # Checked while no request runs and the pool's counts are still (the previous generation has gone), so
        # that this test does not depend on test_3's point
        self.wait_status_still(2.5)
        self.bad_reload()
        status = h.wait_for(lambda: reason in self.status_text() and self.status_text(), 10)
        self.assertTrue(status, "StatusText never told of the failed reload: %r" % self.status_text())
        self.assertRegex(status, r"(?i)reload failed")
        text = self.box.systemctl("status", "--full", "fpmd.service").stdout
        self.assertRegex(text, r'(?mi)^\s+Status: ".*reload failed.*%s' % re.escape(reason), text)
        self.assertIn(reason, self.box.journal_text("-u", "fpmd.service"))
        # The previous configuration keeps serving
        loop = h.RequestLoop(self.address, "/gen.php", lambda b: b == b"gen=%d\n" % good)
        loop.start()
        h.wait_for(lambda: loop.ok > 5 or loop.failures, 30)
        loop.stop()
        self.assertEqual(loop.failures, [])
        self.assertGreater(loop.ok, 5)
        st = self.box.show("fpmd.service", "MainPID", "ActiveState", "SubState", "NRestarts")
        self.assertEqual(st, {"MainPID": self.main_pid, "ActiveState": "active", "SubState": "running",
                              "NRestarts": "0"})

    def assertServesGen(self, gen):
        r = self.request("/gen.php")
        self.assertEqual((r.status, r.body), (200, b"gen=%d\n" % gen))

    def test_3_bad_config_reason_stays_in_status(self):
        # The running configuration is not the one on disk until a reload succeeds: `systemctl status` must keep
        # saying so, also after the pool's counts have changed many times (requests, idle/active flips).
        loop = h.RequestLoop(self.address, "/slow.php", lambda b: True)
        loop.start()
        try:
            # many requests of 0.1 s or more: the counts flip between idle and active many times
            self.assertTrue(h.wait_for(lambda: loop.ok >= 20, 60), "only %d requests in 60 s" % loop.ok)
        finally:
            loop.stop()
        status = self.status_text()
        self.assertIn("/etc/fpmd/pool.d/www.conf:%d: syntax error" % POOL_FILE_BAD_LINE, status,
                      "the reason of the failed reload left STATUS= while the bad file is still on disk")

    def test_4_good_reload_after_bad(self):
        gen = self.gen + 2
        self.write_gen(gen)
        self.box.systemctl("reload", "fpmd.service")
        self.assertServesGen(gen)
        self.assertTrue(self.wait_active_running())
        status = h.wait_for(lambda: re.fullmatch(COUNTS_RE, self.status_text()), 10)
        self.assertTrue(status, "StatusText after a good reload: %r" % self.status_text())
        self.assertEqual(self.box.prop("fpmd.service", "MainPID"), self.main_pid)

    def test_5_symlink_deploy_under_load(self):
        # Deployer/Capistrano: `current` switches to a new release, then `systemctl reload fpmd`. With
        # opcache.validate_timestamps=0 only fresh PHP sees the new files.
        for n in (1, 2):
            os.makedirs(os.path.join(self.ws.docroot, "releases", str(n)), mode=0o755)
            self.ws.script("/releases/%d/version.php" % n, "<?php echo 'release %d', \"\\n\";\n" % n)
        current = os.path.join(self.ws.docroot, "current")
        os.symlink("releases/1", current)
        self.ws.write_pool(text=GOOD_POOL.replace("  env = ", "  php_admin_flag = { opcache = { "
                                                  "validate_timestamps = false; }; };\n  env = ")
                           % (h.PHP_INI, self.gen))
        self.box.systemctl("reload", "fpmd.service")
        self.assertEqual(self.request("/current/version.php").body, b"release 1\n")
        loop = h.RequestLoop(self.address, "/current/version.php", lambda b: b in (b"release 1\n", b"release 2\n"))
        loop.start()
        try:
            # Every worker has run the script from release 1 (and cached it) before the switch: a hundred
            # requests on new connections through 2 workers
            self.assertTrue(h.wait_for(lambda: loop.ok >= 100, 30), "the load never ran")

            def all_served():
                r = self.box.run(["fpmd", "status", "www", "--json", "--full"], check=False)
                procs = json.loads(r.stdout).get("processes", []) if r.returncode == 0 else []
                return len(procs) == 2 and all(p["requests"] > 0 for p in procs)
            # ...and each of the 2 workers has served some (a worker that never ran it would resolve the new link)
            self.assertTrue(h.wait_for(all_served, 30), "a worker never served release 1")
            os.symlink("releases/2", current + ".new")
            os.replace(current + ".new", current)
            # Not reloaded yet: PHP still serves what it cached of release 1
            for _ in range(5):
                self.assertEqual(self.request("/current/version.php").body, b"release 1\n")
            self.box.systemctl("reload", "fpmd.service")
            t_reloaded = time.monotonic()
            h.wait_for(lambda: len([1 for t, b in loop.answers if t > t_reloaded]) > 5, 30)
        finally:
            loop.stop()
        late = {b for t, b in loop.answers if t > t_reloaded}
        h.log("symlink deploy under load: %d answers (%s), %d failed; after the reload: %s"
              % (loop.ok, sorted(loop.bodies.items()), len(loop.failures), late))
        self.assertEqual(loop.failures, [])
        self.assertEqual(late, {b"release 2\n"})
        self.assertGreater(len([1 for t, b in loop.answers if t > t_reloaded]), 5)
        self.assertEqual(self.request("/current/version.php").body, b"release 2\n")


    def test_6_pool_that_cannot_start(self):
        # Not a syntax error: a configuration that parses but whose pool cannot start. Its user does not exist
        # (refused before anything changes), then its workers cannot set themselves up (rlimit_files above the
        # kernel's nr_open, which setrlimit() refuses: the new generation starts and is stopped after three). Each
        # time `systemctl reload` fails, the journal and STATUS= say why, and the service stays active, served by
        # the previous generation throughout.
        good = self.gen
        with open("/proc/sys/fs/nr_open") as f:
            too_many = int(f.read()) + 1
        cases = [
            (GOOD_POOL.replace('  user = "www-data";', '  user = "fpmd-no-such-user";'),
             "pool www could not be set up, see the journal",
             ["[pool www] user 'fpmd-no-such-user' does not exist.",
              "Reload failed for pool www, keeping the running configuration."]),
            (GOOD_POOL.replace("  env = ", "  rlimit_files = %d;\n  env = " % too_many),
             "pool www: its new generation failed to start; the previous one keeps serving, see the journal",
             ["[pool www] 3 workers of the new generation could not start: stopping it.",
              "[pool www] the new generation failed to start; the previous one keeps serving.",
              "Reload failed: pool www: its new generation failed to start; the previous one keeps serving, see "
              "the journal."]),
        ]
        loop = h.RequestLoop(self.address, "/gen.php", lambda b: b == b"gen=%d\n" % good)
        loop.start()
        try:
            self.assertTrue(h.wait_for(lambda: loop.ok > 5 or loop.failures, 30), "the load never ran")
            for text, why, causes in cases:
                self.ws.write_pool(text=text % (h.PHP_INI, good + 1))
                cursor = self.box.cursor()
                r = self.box.systemctl("reload", "fpmd.service", check=False)
                self.assertNotEqual(r.returncode, 0, "systemctl reload of a pool that cannot start succeeded: %r" % r)
                self.assertIn("Job for fpmd.service failed", r.stderr)
                # `fpmd reload`'s line (ExecReload=), then the supervisor's lines with the cause: each once
                want = ["fpmd: reload failed: " + why] + causes
                messages = h.wait_for(lambda: set(want) <= set(self.box.messages("-u", "fpmd.service", after=cursor))
                                      and self.box.messages("-u", "fpmd.service", after=cursor), 10)
                self.assertTrue(messages, self.box.messages("-u", "fpmd.service", after=cursor))
                for m in want:
                    self.assertEqual(messages.count(m), 1, (m, messages))
                status = h.wait_for(lambda: self.status_text().startswith(
                    "Reload failed, running the previous configuration: %s | " % why) and self.status_text(), 10)
                self.assertTrue(status, "StatusText never told of the failed reload: %r" % self.status_text())
                self.assertRegex(status.split(" | ", 1)[1], COUNTS_RE)
                self.assertEqual(self.box.show("fpmd.service", "MainPID", "ActiveState", "SubState", "NRestarts"),
                                 {"MainPID": self.main_pid, "ActiveState": "active", "SubState": "running",
                                  "NRestarts": "0"})
                marks = loop.ok
                self.assertTrue(h.wait_for(lambda: loop.ok > marks + 5 or loop.failures, 30), "the load stopped")
        finally:
            loop.stop()
        self.assertEqual(loop.failures, [], "requests failed around the failed reloads")
        # Fixed: the reload takes, and STATUS= is the pool's counts again
        self.write_gen(good + 2)
        self.box.systemctl("reload", "fpmd.service")
        self.assertServesGen(good + 2)
        self.assertTrue(h.wait_for(lambda: re.fullmatch(COUNTS_RE, self.status_text()), 10), self.status_text())


if __name__ == "__main__":
    h.main()
