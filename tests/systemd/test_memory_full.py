#!/usr/bin/env python3
"""A pool near its cgroup memory limit starts no new worker, rather than meeting the OOM killer, in a real
systemd with the memory controller delegated to fpmd.service (tests/vm runs this file in a VM booted on cgroup
v2: this machine's container has no memory controller in its cgroup2 hierarchy).

Pool `mem`: ondemand, max_children 6, cgroup memory_max 256 MiB; /hold.php takes 58 MiB and holds it until the
test creates a file. Four held requests put the pool's cgroup above 90 % of the limit; a fifth connection
finds no idle worker, and instead of a fifth worker (which would push the cgroup past memory_max: the OOM killer)
fpmd says once in the journal and in systemd's status text (STATUS=) that it starts none. Released, the four
answer 200, the fifth is served by one of them, memory falls and fpmd says so; nothing was OOM-killed.

fpmd only: PHP-FPM has no such hold (php-src #18863). Skipped (exit 77) where the memory controller is not
offered to fpmd.service."""

import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_sd as h  # noqa: E402

LIMIT_MIB = 256
HOLD_MIB = 58
HOLD_PHP = """<?php
ini_set('memory_limit', '-1');
$held = str_repeat('x', %d << 20);
$end = microtime(true) + 120;
while (!file_exists(__DIR__ . '/release') && microtime(true) < $end) { usleep(20000); clearstatcache(); }
echo 'held ', strlen($held) >> 20, ' MiB in ', getmypid(), "\\n";
""" % HOLD_MIB
HELD = ("[pool mem] starting no new worker: its cgroup uses %s MiB, near its memory limit (%d MiB); the "
        "workers it has serve the queue.")
BELOW = "[pool mem] memory below its limit again."


def mem_pool(port):
    return h.pool_conf("mem", port, 6, 'cgroup = { memory_max = "%dM"; };' % LIMIT_MIB).replace(
        'mode = "static"; max_children = 6;', 'mode = "ondemand"; max_children = 6; process_idle_timeout = "60s";')


class MemoryFull(h.TestCase):
    SOCKET_DROPIN = None
    SCRIPTS = {"/hello.php": "<?php echo \"hello\\n\";\n", "/hold.php": HOLD_PHP}

    def setUp(self):
        self.box.systemctl("stop", "fpmd.service", check=False, timeout=90)
        self.ws.set_pools({"mem.conf": mem_pool(self.port)})
        self.cursor = self.box.cursor()
        self.box.systemctl("start", "fpmd.service", timeout=120)
        st = self.box.show("fpmd.service", "MainPID", "ControlGroup")
        self.main = int(st["MainPID"])
        self.svc = "/sys/fs/cgroup" + st["ControlGroup"]
        offered = set((self.box.read(self.svc + "/cgroup.controllers") or "").split())
        if "memory" not in offered:
            self.skipTest("the memory controller is not offered to fpmd.service here (%s)" % sorted(offered))

    def tearDown(self):
        try:
            os.unlink(os.path.join(self.ws.docroot, "release"))
        except FileNotFoundError:
            pass
        self.box.systemctl("stop", "fpmd.service", check=False, timeout=90)

    def workers(self):
        procs = self.box.fpmd_procs()
        leaders = {p.pid for p in procs.values() if p.ppid == self.main and not p.zygote}
        return sorted(p.pid for p in procs.values() if p.ppid in leaders)

    def messages(self):
        return self.box.messages("-u", "fpmd.service", "_PID=%d" % self.main, after=self.cursor)

    def test_no_worker_past_the_limit(self):
        results, threads = {}, []

        def hold(i):
            try:
                results[i] = h.fcgi_request(self.address, "/hold.php", timeout=150)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        for i in range(4):
            threads.append(threading.Thread(target=hold, args=(i,)))
            threads[-1].start()
            # one at a time: each takes its own worker, and the cgroup has grown by HOLD_MIB before the next
            self.assertTrue(h.wait_for(lambda: len(self.workers()) == i + 1, 60, 0.1), self.workers())
            if i == 0:  # the ondemand pool at rest had no leader, and no cgroup, before its first connection
                self.assertEqual(self.box.read(self.svc + "/pool-mem/memory.max").strip(), str(LIMIT_MIB << 20))
        used = lambda: int(self.box.read(self.svc + "/pool-mem/memory.current"))  # noqa: E731
        self.assertTrue(h.wait_for(lambda: used() >= (LIMIT_MIB << 20) * 9 // 10, 60, 0.2),
                        "the pool's cgroup uses %d MiB" % (used() >> 20))
        four = self.workers()

        # The fifth connection waits; fpmd holds the spawn and says so, once
        threads.append(threading.Thread(target=hold, args=(4,)))
        threads[-1].start()
        held = h.wait_for(lambda: [m for m in self.messages() if m.startswith("[pool mem] starting no new worker")],
                          30, 0.2)
        self.assertEqual(len(held), 1, self.messages())
        self.assertRegex(held[0], "^" + re.escape(HELD % ("NUM", LIMIT_MIB)).replace("NUM", r"\d+") + "$")
        self.assertTrue(h.wait_for(lambda: "mem: 4 active, 0 idle" in self.status_text()
                                   and "(memory full)" in self.status_text(), 10, 0.1), self.status_text())
        self.assertEqual(self.workers(), four)
        self.assertNotIn(4, results)

        # Released: the four answer, the fifth is served by one of them, and memory is below the limit again
        h.Workspace._write(os.path.join(self.ws.docroot, "release"), "")
        for t in threads:
            t.join(150)
        for i in range(5):
            r = results.get(i)
            self.assertFalse(isinstance(r, Exception) or r is None, "request %d: %r" % (i, r))
            self.assertEqual(r.status, 200, "request %d" % i)
            self.assertRegex(r.body.decode(), r"^held %d MiB in \d+\n$" % HOLD_MIB)
        pids = [int(results[i].body.split()[-1]) for i in range(5)]
        self.assertEqual(sorted(set(pids)), four, pids)
        self.assertTrue(h.wait_for(lambda: BELOW in self.messages(), 30, 0.2), self.messages())
        self.assertEqual([m for m in self.messages() if m.startswith("[pool mem] starting no new worker")], held)
        events = dict(l.split() for l in self.box.read(self.svc + "/pool-mem/memory.events").splitlines())
        self.assertEqual((events["oom"], events["oom_kill"]), ("0", "0"), events)
        self.assertNotIn("(memory full)", self.status_text())


if __name__ == "__main__":
    h.main()
