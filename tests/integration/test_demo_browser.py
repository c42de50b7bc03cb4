#!/usr/bin/python3
"""README command 1 as a person sees it: tests/demo/serve (what `sh tests/demo/run` runs after installing and
building) starts fpmd on the shipped configuration and a throw-away nginx in front of it, here on free ports with
the built fpmd. Headless Debian chromium loads the demo page, the pool's HTML status page and the ping page, and
what it rendered is checked exactly; SIGINT then stops the script, and nginx, fpmd (with its leader and workers)
and the script's temporary folder must be gone."""

import html.parser
import os
import re
import shutil
import signal
import subprocess
import time

import harness

if harness.IS_PHP_FPM:
    harness.skip_file("test_demo_browser: fpmd-only: tests/demo/serve runs README command 1, fpmd on its shipped "
                      "libconfig files; PHP-FPM has no such command (test_demo.py serves the same demo app "
                      "through both servers)")

SERVE = os.path.join(os.path.dirname(harness.HERE), "demo", "serve")
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
PHP_CONFIG = os.environ.get("PHP_CONFIG", shutil.which("php-config8.2") or "/usr/bin/php-config8.2")
READY = "Open in a browser"


class Dom(html.parser.HTMLParser):
    """What a page's DOM holds that the tests look at: the title, the h1, each table's rows as (th, td) text,
    the forms' attributes, the text of each pre and of each p with a class."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.title = None
        self.h1 = None
        self.tables = []
        self.forms = []
        self.pres = []
        self.classed = []
        self._open = []  # (tag, text so far) of the elements whose text is collected
        self._row = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag == "form":
            self.forms.append(attrs)
        if tag in ("title", "h1", "th", "td", "pre") or (tag == "p" and attrs.get("class")):
            self._open.append([tag, "", attrs.get("class")])

    def handle_data(self, data):
        for element in self._open:
            element[1] += data

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, text, cls = self._open.pop()
            if tag == "title":
                self.title = text
            elif tag == "h1":
                self.h1 = text
            elif tag in ("th", "td") and self._row is not None:
                self._row.append(text)
            elif tag == "pre":
                self.pres.append(text)
            elif tag == "p":
                self.classed.append((cls, text))
        if tag == "tr" and self._row is not None:
            if self.tables:
                self.tables[-1].append(tuple(self._row))
            self._row = None


def php_version():
    return subprocess.run([PHP_CONFIG, "--version"], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.strip()


def nginx_version():
    r = subprocess.run([harness.NGINX, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, check=True)
    return re.search(r"nginx/(\S+)", r.stdout).group(1)


def ini_value(path, name):
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*%s\s*=\s*(\S+)" % re.escape(name), line)
            if m:
                return m.group(1)
    return None


def proc_exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def two_free_ports():
    a = harness.free_port()
    b = harness.free_port()
    while b == a:
        b = harness.free_port()
    return a, b


def same_process_alive(pid, starttime):
    """Whether pid is still the process that started at starttime, and not a zombie."""
    st = harness._proc_stat(pid)
    return bool(st and st[2] == starttime and harness.proc_state(pid) not in (None, "Z"))


class DemoBrowser(harness.TestCase):
    START_SERVER = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fpmd = os.environ.get("FPMD")
        if not fpmd or not os.access(fpmd, os.X_OK):
            raise RuntimeError("$FPMD=%r is not an executable (meson passes it)" % fpmd)
        cls.http_port, cls.fpmd_port = two_free_ports()
        # Run as root, the pool's workers are www-data (conf.d/pool.d/www.conf): they must reach the app in the
        # script's folder under this one
        cls.tmpdir = cls.ws.path("tmp")
        os.makedirs(cls.tmpdir)
        os.chmod(cls.ws.dir, 0o755)
        os.chmod(cls.tmpdir, 0o755)

        cls.serve = ServeScript(cls.ws, os.path.realpath(fpmd), cls.fpmd_port, cls.http_port, cls.tmpdir)
        cls.addClassCleanup(cls.serve.kill)
        cls.serve.start()

    def chromium(self, path):
        """The DOM chromium built from http://127.0.0.1:HTTP_PORT + path."""
        profile = os.path.join(self.ws.dir, "chromium-%d" % time.monotonic_ns())
        os.makedirs(profile)
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--dump-dom", "http://127.0.0.1:%d%s" % (self.http_port, path)]
        t0 = time.monotonic()
        # Its caches and settings (dconf, fontconfig) in the profile too, not in the user's home
        env = dict(os.environ, HOME=profile, XDG_CACHE_HOME=profile + "/cache", XDG_CONFIG_HOME=profile + "/config")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env=env)
        started = harness._proc_stat(p.pid)[2]
        try:
            out, err = p.communicate(timeout=90)
        finally:
            # chromium's helpers (zygote, crashpad) share its session: none outlives the page
            harness.kill_group(p.pid, started)
            p.wait()
            shutil.rmtree(profile, ignore_errors=True)
        harness.log("chromium %s: %.1f s, exit %d" % (path, time.monotonic() - t0, p.returncode))
        self.assertEqual(p.returncode, 0, "chromium failed on %s: %s" % (path, err.decode(errors="replace")[-3000:]))
        dom = out.decode("utf-8")
        self.assertRegex(dom, r"^(<!DOCTYPE [^>]*>\s*)?<html", "not a page: " + dom[:500])
        return Dom(dom)

    def test_1_demo_page(self):
        dom = self.chromium("/?name=you")
        version = php_version()
        self.assertEqual(dom.title, "fpmd demo")
        self.assertEqual(dom.h1, "Hello from fpm-fcgi on PHP " + version)
        self.assertEqual(dom.forms, [{"method": "post", "action": "/index.php"}])
        self.assertEqual(len(dom.tables), 3, dom.tables)
        runtime, request, headers = (dict(t) for t in dom.tables)

        self.assertEqual(list(runtime), ["PHP version", "SAPI", "Worker pid", "OPcache", "memory_limit",
                                         "Peak memory"])
        self.assertEqual(runtime["PHP version"], version)
        self.assertEqual(runtime["SAPI"], "fpm-fcgi")
        # a worker of the shipped pool: a child of the pool's leader, itself a child of the fpmd the script started
        worker = int(runtime["Worker pid"])
        leaders = harness.children(self.serve.fpmd_pid)
        self.assertIn(worker, [w for leader in leaders for w in harness.children(leader)])
        self.assertEqual(runtime["OPcache"], "enabled")
        self.assertEqual(runtime["memory_limit"], ini_value(harness.PHP_INI, "memory_limit"))
        self.assertRegex(runtime["Peak memory"], r"^\d+\.\d MiB$")

        self.assertEqual(request, {
            "Method": "GET",
            "URI": "/?name=you",
            "Script": "/index.php",
            "Path info": "",
            "Query": "name=you",
            "Remote address": "127.0.0.1",
            "Server software": "nginx/" + nginx_version(),
            "Protocol": "HTTP/1.1",
        })
        # Debian's fastcgi_params passes $host (without the port) as HTTP_HOST
        self.assertEqual(headers["Host"], "127.0.0.1")
        self.assertRegex(headers["User-Agent"], r"\bHeadlessChrome/\d+\.")
        self.assertEqual([cls for cls, _ in dom.classed], [])  # no "You posted" on a GET

    def test_2_status_page(self):
        dom = self.chromium("/status?html")
        self.assertEqual(dom.title, "PHP-FPM Status Page")
        self.assertEqual(len(dom.tables), 1, dom.tables)
        rows = dom.tables[0]
        self.assertEqual(rows[:2], [("pool", "www"), ("process manager", "dynamic")])
        names = [r[0] for r in rows]
        self.assertEqual(names[2:14], ["start time", "start since", "accepted conn", "listen queue",
                                       "max listen queue", "listen queue len", "idle processes",
                                       "active processes", "total processes", "max active processes",
                                       "max children reached", "slow requests"])
        values = dict(rows)
        # conf.d/pool.d/www.conf: dynamic, start_servers 2; the page itself is one active request
        self.assertEqual(values["active processes"], "1")
        self.assertEqual(int(values["idle processes"]) + 1, int(values["total processes"]))
        self.assertGreaterEqual(int(values["accepted conn"]), 1)

    def test_3_ping_page(self):
        dom = self.chromium("/ping")
        self.assertEqual(dom.pres, ["pong"])

    def test_4_sigint_stops_everything(self):
        serve = self.serve
        procs = serve.processes()
        exes = sorted(set(os.path.basename(e) for e in (proc_exe(p) for p, _ in procs) if e))
        self.assertEqual(exes, ["fpmd", "fpmd-leader", "nginx"])  # supervisor; leader and workers; nginx
        self.assertTrue(os.path.isdir(serve.dir), serve.dir)

        t0 = time.monotonic()
        serve.proc.send_signal(signal.SIGINT)
        try:
            status = serve.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("tests/demo/serve still runs 30 s after SIGINT; its output:\n" + serve.log_text())
        harness.log("serve stopped %.2f s after SIGINT, exit %d" % (time.monotonic() - t0, status))
        self.assertEqual(status, 0, serve.log_text())
        alive = [p for p, st in procs if same_process_alive(p, st)]
        self.assertEqual(alive, [], "left behind: %r" % [(p, proc_exe(p)) for p in alive])
        self.assertFalse(os.path.exists(serve.dir), serve.dir)
        self.assertTrue(harness.connect_refused(self.http_port))
        self.assertTrue(harness.connect_refused(self.fpmd_port))
        self.assertIn("Stopping: finishing requests in flight", serve.log_text())

    def test_5_fpmd_exiting_stops_nginx(self):
        """fpmd ending on its own (SIGTERM to it alone) ends the script, which stops nginx and removes its folder."""
        http_port, fpmd_port = two_free_ports()
        serve = ServeScript(self.ws, self.serve.env["FPMD"], fpmd_port, http_port, self.tmpdir)
        self.addCleanup(serve.kill)
        serve.start()
        procs = serve.processes()
        os.kill(serve.fpmd_pid, signal.SIGTERM)
        try:
            status = serve.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("tests/demo/serve still runs 30 s after fpmd was stopped; its output:\n" + serve.log_text())
        self.assertEqual(status, 0, serve.log_text())
        alive = [p for p, st in procs if same_process_alive(p, st)]
        self.assertEqual(alive, [], "left behind: %r" % [(p, proc_exe(p)) for p in alive])
        self.assertFalse(os.path.exists(serve.dir), serve.dir)
        self.assertTrue(harness.connect_refused(http_port))


class ServeScript:
    """tests/demo/serve in a session of its own, output in the workspace."""

    def __init__(self, ws, fpmd, fpmd_port, http_port, tmpdir):
        self.ws = ws
        self.env = dict(os.environ, FPMD=fpmd, FPMD_PORT=str(fpmd_port), HTTP_PORT=str(http_port),
                        TMPDIR=tmpdir, NGINX_BIN=harness.NGINX)
        self.log_path = ws.path("serve.log")
        self.proc = None
        self.dir = None
        self.fpmd_pid = None
        harness._processes.append(self)

    def start(self, timeout=60):
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(["sh", SERVE], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         env=self.env, start_new_session=True)
        self.started = harness._proc_stat(self.proc.pid)[2]
        if not harness.wait_for(lambda: READY in self.log_text() or self.proc.poll() is not None, timeout):
            raise RuntimeError("tests/demo/serve printed no URLs within %ds:\n%s" % (timeout, self.log_text()))
        if self.proc.poll() is not None:
            raise RuntimeError("tests/demo/serve exited with %d:\n%s" % (self.proc.returncode, self.log_text()))
        m = re.search(r"^nginx's configuration and logs are in (/\S+)/nginx/\.", self.log_text(), re.M)
        if not m:
            raise RuntimeError("tests/demo/serve named no folder:\n" + self.log_text())
        self.dir = m.group(1)
        fpmds = [c for c in harness.children(self.proc.pid) if proc_exe(c) == self.env["FPMD"]]
        if len(fpmds) != 1:
            raise RuntimeError("not one fpmd under tests/demo/serve: %r" % fpmds)
        self.fpmd_pid = fpmds[0]
        return self

    def processes(self):
        """(pid, start time) of everything the script runs: nginx, fpmd, fpmd's leader and workers."""
        return [(p, harness._proc_stat(p)[2]) for p in harness.descendants(self.proc.pid) if harness._proc_stat(p)]

    def kill(self):
        """After a failure: whatever is left of the script's session (nothing after a clean stop)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        harness.kill_group(self.proc.pid, self.started)
        self.proc.wait()

    stop = kill

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def describe(self):
        return "tests/demo/serve (log %s)" % self.log_path


if __name__ == "__main__":
    harness.main()
