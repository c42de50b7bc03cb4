#!/usr/bin/python3
"""`fpmd status [POOL] [--json] [--full] [--pid PID]`: a running fpmd's pools, read from their scoreboards.

- text: the status page's fields, one block per pool;
- `fpmd status www --json --full --pid PID`: one JSON object, with the pool's real worker pids, the worker
  serving a request "Running" with its URI;
- an unknown pool: exit 1 and a message naming it;
- two pools and --json without a pool: a JSON array of both;
- without --pid, the running fpmd is searched for in /proc: checked only when this test's fpmd is the only one
  running (other fpmd instances may run on this machine; otherwise skipped, saying why).

Every other call passes --pid: other fpmd instances may be running here.

fpmd-only: the command is fpmd's."""

import json
import os
import re
import shutil
import subprocess
import threading

import harness

harness.require_fpmd("test_ctl")

SCOREBOARD_LINK = "/memfd:fpmd-scoreboard:"
POOL_FIELDS = ["pool", "process manager", "start time", "start since", "accepted conn", "listen queue",
               "max listen queue", "listen queue len", "idle processes", "active processes", "total processes",
               "max active processes", "max children reached", "slow requests"]


def text_blocks(text):
    """The text output: a list of pools, each a list of (name, value); processes come as their own blocks."""
    blocks = []
    for chunk in re.split(r"\n\n+", text.strip("\n")):
        fields = []
        for line in chunk.splitlines():
            if line == "************************":
                continue
            m = re.fullmatch(r"([A-Za-z0-9 .]+):\s+(.*)", line)
            assert m, "line %r" % line
            fields.append((m.group(1), m.group(2)))
        blocks.append(fields)
    return blocks


def supervisors():
    """Processes holding a scoreboard memfd open (what `fpmd status` looks for), as far as we may look."""
    found = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % d)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (d, fd)).startswith(SCOREBOARD_LINK):
                    found.add(int(d))
                    break
            except OSError:
                pass
    return found


class Ctl(harness.FpmdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = harness.FpmdServer(cls.ws, {
            "www": {"pm": {"mode": "static", "max_children": 2}, "status_path": "/status"},
            "two": {"pm": {"mode": "static", "max_children": 1}},
        })
        cls.addClassCleanup(cls.s.stop)
        cls.s.start()

    def test_text(self):
        s = self.s
        for i in range(3):
            self.assertEqual(self.raw("/hello.php", server=s).status, 200)
        r = harness.fpmd_status("--pid", s.pid)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        blocks = text_blocks(r.stdout)
        self.assertEqual(len(blocks), 2, r.stdout)
        pools = {dict(b)["pool"]: b for b in blocks}
        self.assertEqual(set(pools), {"www", "two"})
        # the field names of the status page, in its order
        page = self.raw("/status", server=s)
        # the opcache figures come from the pool's PHP, which answers the page; `fpmd status` reads the
        # scoreboards from the supervisor, which runs no PHP, and has the rest
        page_names = [l.split(":")[0] for l in page.body.decode().splitlines() if l and not l.startswith("opcache ")]
        for name, b in pools.items():
            self.assertEqual([k for k, _ in b], page_names, name)
            self.assertEqual([k for k, _ in b][:len(POOL_FIELDS)], POOL_FIELDS)
        www, two = dict(pools["www"]), dict(pools["two"])
        self.assertEqual((www["process manager"], www["total processes"]), ("static", "2"))
        self.assertEqual((two["total processes"], two["idle processes"], two["active processes"]), ("1", "1", "0"))
        self.assertGreaterEqual(int(www["accepted conn"]), 3)
        self.assertEqual(two["accepted conn"], "0")

    def test_json_full_one_pool(self):
        s = self.s
        result = {}

        def slow():
            result["r"] = self.raw("/pid.php", server=s, query="ms=1000")

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        try:
            def running():
                r = harness.fpmd_status("www", "--json", "--full", "--pid", s.pid)
                self.assertEqual(r.returncode, 0, r.stderr)
                j = json.loads(r.stdout)
                return j if any(p["state"] == "Running" for p in j["processes"]) else None
            j = harness.wait_for(running, 3)
            self.assertIsNotNone(j, "no Running worker seen")
        finally:
            t.join(10)
        self.assertIsInstance(j, dict)
        self.assertEqual(j["pool"], "www")
        self.assertEqual(sorted(p["pid"] for p in j["processes"]), s.pool_workers("www"))
        running = [p for p in j["processes"] if p["state"] == "Running"]
        self.assertEqual([(p["request uri"], p["request method"], p["script"]) for p in running],
                         [("/pid.php?ms=1000", "GET", self.ws.script("/pid.php"))])
        self.assertEqual(running[0]["pid"], int(result["r"].body))
        # not the other pool
        self.assertNotIn('"two"', json.dumps(j))
        # the other pool by its name
        r = harness.fpmd_status("two", "--json", "--pid", s.pid)
        self.assertEqual(r.returncode, 0)
        j = json.loads(r.stdout)
        self.assertEqual((j["pool"], j["total processes"]), ("two", 1))
        self.assertNotIn("processes", j)

    def test_unknown_pool(self):
        for args in (("nope",), ("nope", "--json"), ("nope", "--full")):
            with self.subTest(args=args):
                r = harness.fpmd_status(*args, "--pid", self.s.pid)
                self.assertEqual(r.returncode, 1)
                self.assertIn("'nope'", r.stderr)
                self.assertEqual(r.stdout.strip(), "")

    def test_two_pools_json(self):
        r = harness.fpmd_status("--json", "--pid", self.s.pid)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        j = json.loads(r.stdout)
        self.assertIsInstance(j, list)
        self.assertEqual(sorted(p["pool"] for p in j), ["two", "www"])
        for p in j:
            self.assertEqual(list(p)[:len(POOL_FIELDS)], POOL_FIELDS)
            self.assertNotIn("processes", p)
        r = harness.fpmd_status("--json", "--full", "--pid", self.s.pid)
        j = {p["pool"]: p for p in json.loads(r.stdout)}
        self.assertEqual(sorted(x["pid"] for x in j["www"]["processes"]), self.s.pool_workers("www"))
        self.assertEqual(sorted(x["pid"] for x in j["two"]["processes"]), self.s.pool_workers("two"))

    def test_not_fpmd(self):
        # a pid that is no fpmd (ourselves) and one that does not exist: exit 1, with a message
        for pid in (os.getpid(), 2 ** 22 + 1):
            with self.subTest(pid=pid):
                r = harness.fpmd_status("--pid", pid)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(r.stdout, "")
                self.assertIn(str(pid), r.stderr)
                # no pool was named: the message must not be about one (nor print a NULL pointer)
                self.assertNotIn("(null)", r.stderr)
                self.assertNotIn("no pool named", r.stderr)

    def test_search_without_pid(self):
        # Sure to be alone: an fpmd of its own in a new pid namespace with its own /proc (unshare, root only),
        # where `fpmd status` without --pid can find no other instance. Else on this machine, if no other fpmd
        # runs here; skipped, saying why, when one does.
        if shutil.which("unshare") and os.geteuid() == 0:
            probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
            if probe.returncode == 0:
                self.search_in_own_pid_namespace()
                return
            harness.log("unshare --pid failed (%r): searching on this machine" % probe.stderr)
        others = supervisors() - {self.s.pid}
        if os.geteuid() != 0:
            print("skipped: not root, other users' fpmd cannot be seen")
            self.skipTest("not root: other users' fpmd instances cannot be seen, the search cannot be checked")
        if others:
            print("skipped: other fpmd instances are running: %s" % sorted(others))
            self.skipTest("other fpmd instances run on this machine (pids %s): the search would find several"
                          % sorted(others))
        r = harness.fpmd_status("--json")
        if supervisors() - {self.s.pid}:
            self.skipTest("another fpmd started meanwhile")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(sorted(p["pool"] for p in json.loads(r.stdout)), ["two", "www"])

    def search_in_own_pid_namespace(self):
        s = harness.FpmdServer(self.ws, {"ns": {"pm": {"mode": "static", "max_children": 1}}})
        s.write_config()
        out = self.ws.path("ns-status.json")
        # fpmd in the background; `fpmd status --json` until it answers with the worker started, then
        # `fpmd status` (text) and a graceful stop; the namespace ends with its first process
        script = """
            "$1" --config "$2" 2>"$3" &
            fpmd=$!
            found=1
            for i in $(seq 100); do
                if "$1" status --json >"$4.json" 2>"$4.err" && grep -q '"total processes":1' "$4.json"; then
                    found=0; break
                fi
                sleep 0.1
            done
            "$1" status >"$4.text" 2>>"$4.err"
            echo "$fpmd" >"$4.pid"
            kill -TERM "$fpmd"
            wait "$fpmd"
            exit $found
        """
        fpmd = os.path.abspath(os.environ["FPMD"])
        r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh", fpmd,
                            s.conf_path, self.ws.path("ns-fpmd.log"), out], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)

        def read(suffix):
            try:
                with open(out + suffix) as f:
                    return f.read()
            except OSError:
                return ""
        harness.log("in a pid namespace of its own: exit %d; fpmd status --json: %r; errors %r; fpmd's log %r"
                    % (r.returncode, read(".json"), read(".err"), read_file(self.ws.path("ns-fpmd.log"))))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(".err"), "")
        j = json.loads(read(".json"))
        self.assertEqual([p["pool"] for p in j], ["ns"])
        self.assertEqual(j[0]["total processes"], 1)
        blocks = text_blocks(read(".text"))
        self.assertEqual([dict(b)["pool"] for b in blocks], ["ns"])
        self.assertEqual([k for k, _ in blocks[0]][:len(POOL_FIELDS)], POOL_FIELDS)


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""

if __name__ == "__main__":
    harness.main()
