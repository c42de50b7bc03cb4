#!/usr/bin/python3
"""Hosting scale: 500 ondemand pools, one per site, each with its own uid, unix socket, settings and opcache.

- they start at rest: the supervisor alone, no leader, no worker; `fpmd -t` checks the 500 files;
- a request to a pool starts its leader and is answered by that pool, as its user, with its settings and an
  opcache of its own; the other pools stay at rest;
- the log does not grow while they sit idle (no line per pool per tick); `fpmd status` prints a line per pool;
- `fpmd reload` renews every pool (the running ones start a new leader, the resting ones stay at rest);
  `fpmd reload POOL` renews that one only;
- a stop ends them all, exit status 0.

fpmd-only; as root (each pool runs as a uid of its own)."""

import os
import re
import subprocess

import harness

harness.require_fpmd("test_pools")

N = 500
SAMPLE = [1, 2, 77, 250, 499, 500]
UID0 = 20000

POOL_PHP = """<?php
header('Content-Type: application/json');
$s = function_exists('opcache_get_status') ? opcache_get_status(true) : false;
echo json_encode(['pool' => getenv('POOL'), 'uid' => posix_getuid(), 'memory_limit' => ini_get('memory_limit'),
                  'scripts' => $s ? array_keys($s['scripts']) : null], JSON_UNESCAPED_SLASHES), "\\n";
"""


def name(i):
    return "site%03d" % i


class Pools(harness.FpmdTestCase):
    def setUp(self):
        super().setUp()
        harness.require_root("test_pools")
        os.makedirs(self.ws.path("sock"), exist_ok=True)
        self.ws.write("/pool.php", POOL_PHP)
        # A script each sampled site touches alone: it must show in that pool's opcache only
        for i in SAMPLE:
            self.ws.write("/only-%s.php" % name(i), "<?php echo 'only %s', \"\\n\";\n" % name(i))
        # The pools' users must reach the docroot: mkdtemp made the workspace 0700
        os.chmod(self.ws.dir, 0o755)
        for d, _, files in os.walk(self.ws.docroot):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    def settings(self, i, memory=None):
        return {"listen": {"address": self.ws.path("sock", name(i) + ".sock"), "mode": "0666"},
                "allow_root": None, "user": str(UID0 + i), "group": str(UID0 + i),
                "pm": {"mode": "ondemand", "max_children": 5},
                "env": {"POOL": name(i)}, "clear_env": True,
                "php_admin_value": {"memory_limit": memory or "%dM" % (100 + i)}}

    def ask(self, s, i, script="/pool.php"):
        client = harness.FcgiUnixClient(self.ws.path("sock", name(i) + ".sock"), timeout=30)
        with client as c:
            r = c.request(self.params(script)).response()
        self.assertEqual(r.status, 200, r)
        return r

    def test_five_hundred_pools(self):
        s = self.fpmd({name(i): self.settings(i) for i in range(1, N + 1)}, log_level="info", start=False)
        s.write_config()
        t = subprocess.run([s.argv()[0], "--config", s.conf_path, "-t"], capture_output=True, text=True)
        self.assertEqual((t.returncode, (t.stdout + t.stderr).strip()),
                         (0, "fpmd: configuration file %s test is successful (%d pools)" % (s.conf_path, N)))
        s.start(timeout=30)

        # At rest: the supervisor alone, one socket per pool
        self.assertEqual(s.pool_processes(), [])
        for i in range(1, N + 1):
            self.assertTrue(os.path.exists(self.ws.path("sock", name(i) + ".sock")), name(i))
        lines = len(s.log_lines())

        # Each sampled pool answers as itself: its uid, its settings, its opcache
        for i in SAMPLE:
            self.ask(s, i, "/only-%s.php" % name(i))
            j = self.ask(s, i).json()
            self.assertEqual((j["pool"], j["uid"], j["memory_limit"]), (name(i), UID0 + i, "%dM" % (100 + i)))
            mine = self.ws.script("/only-%s.php" % name(i))
            self.assertIn(mine, j["scripts"])
            self.assertEqual([x for x in j["scripts"] if "/only-" in x], [mine], j["scripts"])
        leaders = {i: s.leader(name(i)) for i in SAMPLE}
        self.assertNotIn(None, leaders.values())
        self.assertEqual(sorted(s.pool_processes()), sorted(leaders.values()))

        # One line per pool in `fpmd status`, sorted by name
        st = subprocess.run([s.argv()[0], "status", "--pid", str(s.pid)], capture_output=True, text=True)
        self.assertEqual(st.returncode, 0, st.stderr)
        rows = st.stdout.splitlines()
        self.assertEqual(rows[0].split(), ["POOL", "PM", "PROCESSES", "ACTIVE", "IDLE", "ACCEPTED", "SLOW",
                                           "MAX-REACHED"])
        self.assertEqual([r.split()[0] for r in rows[1:N + 1]], [name(i) for i in range(1, N + 1)])
        self.assertEqual(rows[N + 1:], ["", "%d pools; `fpmd status POOL` shows one pool's page." % N])
        accepted = {r.split()[0]: int(r.split()[5]) for r in rows[1:N + 1]}
        self.assertEqual({k: v for k, v in accepted.items() if v}, {name(i): 2 for i in SAMPLE})

        # Idle: three ticks add no line (the workers of the sampled pools go after 10 s, later)
        marker = len(s.log_lines())
        harness.wait_for(lambda: False, 3.2)
        self.assertEqual(s.log_lines()[marker:], [])
        harness.log("500 pools: %d log lines up to ready, %d after six first requests" % (lines, marker))

        # `fpmd reload POOL`: that pool alone gets a new leader
        r = s.reload_command(name(77))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "fpmd: reloaded: %d pools serving, 1 new generation"
                                                                % N), r.stderr)
        self.assertTrue(harness.wait_for(lambda: s.leader(name(77)) not in (None, leaders[77]), 10))
        for i in SAMPLE:
            if i != 77:
                self.assertEqual(s.leader(name(i)), leaders[i], name(i))

        # `fpmd reload`: every pool renewed; the running ones have new leaders, the resting ones none
        s.set_pool(name(2), self.settings(2, memory="64M"))
        leaders[77] = s.leader(name(77))
        r = s.reload_command()
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "fpmd: reloaded: %d pools serving, %d new generations"
                                                                % (N, N)), r.stderr)
        for i in SAMPLE:
            self.assertTrue(harness.wait_for(lambda: s.leader(name(i)) not in (None, leaders[i]), 10), name(i))
        self.assertTrue(harness.wait_for(lambda: len(s.pool_processes()) == len(SAMPLE), 10),
                        s.pool_processes())
        self.assertEqual(self.ask(s, 2).json()["memory_limit"], "64M")
        self.assertEqual(self.ask(s, 3).json()["pool"], name(3))

        self.assertEqual(s.log_find(r"^fpmd\[\d+\]: (error|warning): (?!cgroup v2 is not mounted)"), [])
        self.assertEqual(s.stop(timeout=30), 0)
        self.assertTrue(s.log_find(r"^fpmd\[\d+\]: notice: Stopped\.$"))


if __name__ == "__main__":
    harness.main()
