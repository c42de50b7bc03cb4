#!/usr/bin/python3
"""fpmd convert on Debian's real php-fpm.conf and on the samples of tests/unit/data/convert/samples: PHP-FPM 8.2
takes each sample (php-fpm8.2 -t), fpmd convert writes the expected files and notes, fpmd -t passes on every
output, the converted settings are the ones php-fpm8.2 -tt prints for the same file, and fpmd serves a request
on a converted Debian configuration. fpmd -t's hint for a line of PHP-FPM syntax, exactly.

With SERVER=php-fpm the PHP-FPM side runs alone: php-fpm8.2 -t on the samples, and PHP-FPM serving Debian's
pool on a temporary socket, the request the converted configuration must answer the same way."""

import ipaddress
import os
import re
import shutil
import signal
import subprocess

import harness

SRCDIR = os.environ.get("SRCDIR") or os.path.dirname(os.path.dirname(harness.HERE))
DATA = os.path.join(SRCDIR, "tests", "unit", "data", "convert")
SAMPLES = sorted(f[:-5] for f in os.listdir(os.path.join(DATA, "samples")) if f.endswith(".conf"))
REFUSED_BY_PHP_FPM = {"12-legacy"}  # '#' comments
DEBIAN_CONF = "/etc/php/8.2/fpm/php-fpm.conf"
TAIL = " (fpmd convert turns a whole PHP-FPM configuration into fpmd's)"
# The environment the expected files were written with (test-convert.c)
ENV = dict(os.environ, HOME="/home/site")
ENV.pop("USER", None)


def fpmd():
    return os.path.abspath(os.environ["FPMD"])


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


# ---------------------------------------------------------------------------------------------------------
# The libconfig fpmd convert writes, read back (names, groups, strings, integers, booleans, lists)

_TOKEN = re.compile(r'\s*(?:#[^\n]*\n|"((?:[^"\\]|\\.)*)"|(-?\d+)|(true|false)|([A-Za-z*][-A-Za-z0-9_*]*)|(.))', re.S)


def _unescape(s):
    return re.sub(r'\\(x[0-9a-fA-F]{2}|.)', lambda m: {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}.get(
        m.group(1), chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" else m.group(1)), s)


def libconfig(text):
    tokens = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(("str", _unescape(m.group(1))))
        elif m.group(2) is not None:
            tokens.append(("int", int(m.group(2))))
        elif m.group(3) is not None:
            tokens.append(("bool", m.group(3) == "true"))
        elif m.group(4) is not None:
            tokens.append(("name", m.group(4)))
        elif m.group(5) is not None and m.group(5).strip():
            tokens.append(("op", m.group(5)))
    pos = [0]

    def take(kind=None, value=None):
        t = tokens[pos[0]]
        assert kind is None or t[0] == kind, (t, kind)
        assert value is None or t[1] == value, (t, value)
        pos[0] += 1
        return t

    def val():
        t = tokens[pos[0]]
        if t == ("op", "{"):
            take()
            return group("}")
        if t == ("op", "["):
            take()
            items = []
            while tokens[pos[0]] != ("op", "]"):
                items.append(take()[1])
                if tokens[pos[0]] == ("op", ","):
                    take()
            take()
            return items
        return take()[1]

    def group(end):
        d = {}
        while pos[0] < len(tokens) and tokens[pos[0]] != ("op", end):
            name = take("name")[1]
            take("op", "=")
            d[name] = val()
            take("op", ";")
        if end:
            take()
        return d

    return group(None)


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def ini_text(v):
    """A php_value as PHP gets it: fpmd's integers and booleans as their ini strings."""
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


# ---------------------------------------------------------------------------------------------------------
# php-fpm8.2 -tt: the configuration as PHP-FPM holds it


def php_fpm_dump(conf, prefix):
    # The dump is at notice level: a configuration that sets log_level higher is included, then lowered
    wrapper = conf + ".dump"
    with open(wrapper, "w") as f:
        f.write("include = %s\n[global]\nlog_level = notice\n" % conf)
    r = run([harness.PHP_FPM, "-tt", "-p", prefix, "-y", wrapper] + (["-R"] if os.geteuid() == 0 else []), env=ENV)
    os.unlink(wrapper)
    assert r.returncode == 0, r.stderr
    sections, cur = {}, None
    for line in r.stderr.splitlines():
        m = re.search(r"NOTICE: (?:\t(.*?) = (.*)|\[(.*)\])$", line)
        if not m:
            continue
        if m.group(3) is not None:
            cur = sections.setdefault(m.group(3), {"lists": {}})
        elif cur is not None:
            name, value = m.group(1), m.group(2)
            a = re.match(r"(\w+)\[(.*)\]$", name)
            if a:
                # printed newest first: the last line of a key is the first value, the one PHP-FPM applies
                cur["lists"].setdefault(a.group(1), {})[a.group(2)] = value
            else:
                cur[name] = value
    return sections


def seconds(v):
    if v is None or v == 0:
        return 0
    if isinstance(v, int):
        return v
    n, unit = int(v[:-1]), v[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


class ConvertSamples(harness.TestCase):
    START_SERVER = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # PHP-FPM's prefix (-p) for both: the samples' relative include= and paths, and PHP-FPM's log/
        cls.prefix = cls.ws.path("prefix")
        shutil.copytree(os.path.join(DATA, "samples"), cls.prefix)
        os.makedirs(os.path.join(cls.prefix, "log"))

    def sample(self, name):
        return os.path.join(self.prefix, name + ".conf")

    def expected(self, name):
        """The unit test's expected text for a sample, its /etc/php-fpm made this prefix: the files as
        'fpmd convert' prints them, then the notes."""
        with open(os.path.join(DATA, "expected", name + ".out")) as f:
            text = f.read().replace("/etc/php-fpm", self.prefix)
        files, _, notes = text.partition("==> notes <==\n")
        parts = re.split(r"(?:^|\n)==> (.*?) <==\n", files)
        return dict(zip(parts[1::2], parts[2::2])), notes

    def test_php_fpm_takes_the_samples(self):
        """Each sample is PHP-FPM 8.2 input (as root: the users are resolved), but 12-legacy with its '#'."""
        if os.geteuid() != 0:
            self.skipTest("php-fpm8.2 -t resolves users and groups as root only")
        for name in SAMPLES:
            r = run([harness.PHP_FPM, "-t", "-p", self.prefix, "-y", self.sample(name)], env=ENV)
            if name in REFUSED_BY_PHP_FPM:
                self.assertNotEqual(r.returncode, 0, name)
                self.assertRegex(r.stderr, r"\] ERROR: \[%s:1\] value is NULL for a ZEND_INI_PARSER_ENTRY\n"
                                 % re.escape(self.sample(name)))
            else:
                self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))
                # 09-include sets log_level = warning, which keeps the notice back
                if name != "09-include":
                    self.assertIn("configuration file %s test is successful" % self.sample(name), r.stderr)

    @harness.fpmd_only("fpmd convert")
    def test_convert_writes_the_expected_files(self):
        for name in SAMPLES:
            out = self.ws.path("out-" + name)
            r = run([fpmd(), "convert", "-p", self.prefix, "-o", out, self.sample(name)], env=ENV)
            files, notes = self.expected(name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, notes + "fpmd: wrote %s/fpmd.conf and %d pool file%s; check them with: "
                             "fpmd -t -c %s/fpmd.conf\n" % (out, len(files) - 1, "" if len(files) == 2 else "s", out))
            written = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
            self.assertEqual(written, sorted(files), name)
            for path, text in files.items():
                with open(os.path.join(out, path)) as f:
                    self.assertEqual(f.read(), text, "%s: %s" % (name, path))

            # fpmd -t takes what it wrote
            t = run([fpmd(), "-t", "-c", os.path.join(out, "fpmd.conf")])
            self.assertEqual(t.returncode, 0, "%s: %s" % (name, t.stderr))
            n = len(files) - 1
            self.assertEqual(t.stdout, "fpmd: configuration file %s/fpmd.conf test is successful (%d pool%s)\n"
                             % (out, n, "" if n == 1 else "s"))

    @harness.fpmd_only("fpmd convert")
    def test_converted_values_are_php_fpms(self):
        """What php-fpm8.2 -tt holds for each sample, setting by setting, is what the converted files say (or
        fpmd's default for it), where fpmd has the setting."""
        if os.geteuid() != 0:
            self.skipTest("php-fpm8.2 -tt resolves users and groups as root only")
        compared = 0
        for name in SAMPLES:
            if name in REFUSED_BY_PHP_FPM:
                continue
            out = self.ws.path("cmp-" + name)
            r = run([fpmd(), "convert", "-p", self.prefix, "-o", out, self.sample(name)], env=ENV)
            self.assertEqual(r.returncode, 0, r.stderr)
            dump = php_fpm_dump(self.sample(name), self.prefix)
            with open(os.path.join(out, "fpmd.conf")) as f:
                glob = libconfig(f.read())
            compared += self.compare_global(name, dump["global"], glob)
            pools = [p for p in dump if p != "global"]
            self.assertEqual(sorted(os.listdir(os.path.join(out, "pool.d"))), sorted(p + ".conf" for p in pools))
            for p in pools:
                with open(os.path.join(out, "pool.d", p + ".conf")) as f:
                    ours = libconfig(f.read())["pool"]
                compared += self.compare_pool("%s [%s]" % (name, p), dump[p], ours, dump["global"])
        harness.log("%d settings of %d samples compared with php-fpm8.2 -tt" % (compared, len(SAMPLES) - 1))

    def compare_global(self, name, g, ours):
        # log_level is the dump's own (notice); the unit test has the converted one
        n = 0
        self.assertEqual(ours.get("emergency_restart_threshold", 0), int(g["emergency_restart_threshold"]), name)
        self.assertEqual(seconds(ours.get("emergency_restart_interval", 0)), int(g["emergency_restart_interval"][:-1]))
        if "process_control_timeout" in ours:
            self.assertEqual(seconds(ours["process_control_timeout"]), int(g["process_control_timeout"][:-1]))
        return n + 2

    def compare_pool(self, name, d, ours, g):
        listen = ours.get("listen", {})
        pm = ours.get("pm", {})
        checks = []

        def same(a, b, what):
            checks.append(what)
            self.assertEqual(a, b, "%s: %s" % (name, what))

        undefined = lambda v: None if v == "undefined" else v  # noqa: E731
        same(ours.get("user"), undefined(d["user"]), "user")
        same(ours.get("group"), undefined(d["group"]), "group")
        address = d["listen"]
        if address.startswith("localhost:"):
            address = "127.0.0.1:" + address.split(":")[1]  # fpmd looks no names up: the converter's change
        same(listen.get("address"), address, "listen")
        same(listen.get("owner"), undefined(d["listen.owner"]), "listen.owner")
        same(listen.get("group"), undefined(d["listen.group"]), "listen.group")
        same(int(listen["mode"], 8) if "mode" in listen else None,
             int(d["listen.mode"], 8) if d["listen.mode"] != "undefined" else None, "listen.mode")
        if "backlog" in listen:  # unset, fpmd's is 511 and PHP-FPM's -1 (the kernel's somaxconn)
            same(listen["backlog"], int(d["listen.backlog"]), "listen.backlog")
        clients = [c for c in d["listen.allowed_clients"].split(",") if d["listen.allowed_clients"] != "undefined"
                   and _is_ip(c)]
        same(listen.get("allowed_clients", []), clients, "listen.allowed_clients")

        ondemand = d["pm"] == "dynamic" and d["pm.start_servers"] == "0" and d["pm.min_spare_servers"] == "0"
        mode = "ondemand" if ondemand else d["pm"]  # PHP-FPM's dump prints ondemand as dynamic
        same(pm.get("mode", "dynamic"), mode, "pm")
        same(pm.get("max_children"), int(d["pm.max_children"]), "pm.max_children")
        if mode == "dynamic":
            lo, hi = pm.get("min_spare_servers", 1), pm.get("max_spare_servers")
            same(lo, int(d["pm.min_spare_servers"]), "pm.min_spare_servers")
            same(hi, int(d["pm.max_spare_servers"]), "pm.max_spare_servers")
            same(pm.get("start_servers", lo + (hi - lo) // 2), int(d["pm.start_servers"]), "pm.start_servers")
        same(pm.get("max_spawn_rate", 32), int(d["pm.max_spawn_rate"]), "pm.max_spawn_rate")
        same(seconds(pm.get("process_idle_timeout", "10s")), int(d["pm.process_idle_timeout"]),
             "pm.process_idle_timeout")
        same(pm.get("max_requests", 0), int(d["pm.max_requests"]), "pm.max_requests")
        same(ours.get("status_path"), undefined(d["pm.status_path"]), "pm.status_path")
        same(ours.get("ping_path"), undefined(d["ping.path"]), "ping.path")
        if "ping_path" in ours:
            same(ours.get("ping_response", "pong"), d["ping.response"], "ping.response")
        same(ours.get("access_log", False), d["access.log"] != "undefined", "access.log")
        if "access_format" in ours:
            same(ours["access_format"], d["access.format"], "access.format")
        same(ours.get("slowlog", False), d["slowlog"] != "undefined", "slowlog")
        same(seconds(ours.get("request_slowlog_timeout", 0)), int(d["request_slowlog_timeout"][:-1]),
             "request_slowlog_timeout")
        same(ours.get("request_slowlog_trace_depth", 20), int(d["request_slowlog_trace_depth"]),
             "request_slowlog_trace_depth")
        same(seconds(ours.get("request_terminate_timeout", 0)), int(d["request_terminate_timeout"][:-1]),
             "request_terminate_timeout")
        # 0 in a pool: PHP-FPM's master limit, which the workers inherit
        files = int(d["rlimit_files"]) or int(g["rlimit_files"]) or None
        same(ours.get("rlimit_files"), files, "rlimit_files")
        core = int(d["rlimit_core"]) or int(g["rlimit_core"]) or None
        same(ours.get("rlimit_core"), "unlimited" if core == -1 else core, "rlimit_core")
        same(ours.get("chroot"), undefined(d["chroot"]), "chroot")
        same(ours.get("chdir"), undefined(d["chdir"]), "chdir")
        if "catch_workers_output" in ours:  # unset, fpmd catches the output and PHP-FPM does not
            same(ours["catch_workers_output"], d["catch_workers_output"] == "yes", "catch_workers_output")
        same(ours.get("clear_env", True), d["clear_env"] == "yes", "clear_env")
        same(ours.get("process_dumpable", False), d["process.dumpable"] == "yes", "process.dumpable")
        same(ours.get("security", {}).get("limit_extensions", [".php", ".phar"]),
             d["security.limit_extensions"].split(), "security.limit_extensions")
        lists = d["lists"]
        same(ours.get("env", {}), lists.get("env", {}), "env")
        values = {k: ini_text(v) for k, v in flatten(ours.get("php_value", {})).items()}
        values.update({k: ini_text(v) for k, v in flatten(ours.get("php_flag", {})).items()})
        same(values, lists.get("php_value", {}), "php_value and php_flag")
        admin = {k: ini_text(v) for k, v in flatten(ours.get("php_admin_value", {})).items()}
        admin.update({k: ini_text(v) for k, v in flatten(ours.get("php_admin_flag", {})).items()})
        same(admin, lists.get("php_admin_value", {}), "php_admin_value and php_admin_flag")
        return len(checks)


def _is_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


class ConvertDebian(harness.TestCase):
    START_SERVER = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The pool runs as www-data: it must reach the docroot (mkdtemp made the workspace 0700)
        os.chmod(cls.ws.dir, 0o755)
        for d, dirs, files in os.walk(cls.ws.docroot):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    def test_php_fpm_takes_debians_files(self):
        if os.geteuid() != 0:
            self.skipTest("php-fpm8.2 -t on Debian's files opens /var/log/php8.2-fpm.log, root's")
        r = run([harness.PHP_FPM, "-t", "-y", DEBIAN_CONF])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration file %s test is successful" % DEBIAN_CONF, r.stderr)

    def test_host_has_debians_files(self):
        """The expectations below are those of the files php8.2-fpm ships, copied into the test data"""
        for copy, real in (("php-fpm.conf", DEBIAN_CONF), ("pool.d/www.conf", "/etc/php/8.2/fpm/pool.d/www.conf")):
            with open(os.path.join(DATA, "debian", copy)) as a, open(real) as b:
                self.assertEqual(a.read(), b.read(), "%s is not the file Debian ships" % real)

    @harness.fpmd_only("fpmd convert")
    def test_convert_debian(self):
        out = self.ws.path("debian")
        r = run([fpmd(), "convert", "--output", out, DEBIAN_CONF])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr,
                         DEBIAN_CONF + ":19: pid = /run/php/php8.2-fpm.pid: fpmd writes no pid file: systemd knows "
                         "its main process\n" + DEBIAN_CONF + ":26: error_log = /var/log/php8.2-fpm.log: fpmd logs to "
                         "the journal (journalctl -u fpmd), or to stderr when run by hand\n"
                         "fpmd: wrote %s/fpmd.conf and 1 pool file; check them with: fpmd -t -c %s/fpmd.conf\n"
                         % (out, out))
        with open(os.path.join(out, "fpmd.conf")) as f:
            self.assertEqual(f.read(), "# fpmd's global file, converted by fpmd convert from %s\n"
                             "include_dir = \"pool.d\";\nphp_ini = \"/etc/php/8.2/fpm/php.ini\";\n" % DEBIAN_CONF)
        t = run([fpmd(), "-t", "-c", os.path.join(out, "fpmd.conf")])
        self.assertEqual((t.returncode, t.stdout),
                         (0, "fpmd: configuration file %s/fpmd.conf test is successful (1 pool)\n" % out), t.stderr)

        # Refuses to replace what is there, and replaces it with --force
        r = run([fpmd(), "convert", "-o", out, DEBIAN_CONF])
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.endswith("fpmd: %s/fpmd.conf exists (--force replaces it)\n" % out), r.stderr)
        r = run([fpmd(), "convert", "-o", out, "--force", DEBIAN_CONF])
        self.assertEqual(r.returncode, 0, r.stderr)

        # Without --output: the files on stdout, each after a header line
        r = run([fpmd(), "convert", DEBIAN_CONF])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("==> fpmd.conf <==\n# fpmd's global file"), r.stdout)
        self.assertIn("\n\n==> pool.d/www.conf <==\n# Pool www, converted by fpmd convert from "
                      "/etc/php/8.2/fpm/pool.d/www.conf\npool = {\n  name = \"www\";\n", r.stdout)

    def start(self, argv, sock, log_name):
        log = open(self.ws.path(log_name), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             cwd=self.ws.dir)
        log.close()

        def stop():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM if harness.IS_FPMD else signal.SIGQUIT)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()

        self.addCleanup(stop)
        up = harness.wait_for(lambda: p.poll() is not None or self.accepts(sock), 20)
        with open(self.ws.path(log_name), "rb") as f:
            self.assertTrue(up and p.poll() is None, "not serving on %s: %r" % (sock, f.read()))
        return p

    @staticmethod
    def accepts(sock):
        import socket
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
            return True
        except OSError:
            return False

    def request(self, sock, script):
        params = harness.cgi_params(self.ws, script)
        r = subprocess.run([harness.CGI_FCGI, "-bind", "-connect", sock], env=params, capture_output=True,
                           timeout=30)
        return harness.parse_cgi(r.stdout)

    def test_serves_a_request(self):
        """Debian's pool, its socket on a temporary path, answers 200 as www-data (as root): fpmd on the converted
        files, PHP-FPM on Debian's own."""
        sock = self.ws.path("www.sock")
        if harness.IS_FPMD:
            out = self.ws.path("serve")
            r = run([fpmd(), "convert", "-o", out, DEBIAN_CONF])
            self.assertEqual(r.returncode, 0, r.stderr)
            pool = os.path.join(out, "pool.d", "www.conf")
            with open(pool) as f:
                text = f.read()
            self.assertEqual(text.count('address = "/run/php/php8.2-fpm.sock";'), 1, text)
            text = text.replace('address = "/run/php/php8.2-fpm.sock";', 'address = "%s";' % sock)
            if os.geteuid() != 0:
                text = re.sub(r'\n    (owner|group) = "www-data";', "", text)
            with open(pool, "w") as f:
                f.write(text)
            self.start([fpmd(), "--config", os.path.join(out, "fpmd.conf")], sock, "fpmd-debian.log")
        else:
            os.makedirs(self.ws.path("fpm", "pool.d"))
            with open("/etc/php/8.2/fpm/pool.d/www.conf") as f:
                text = f.read()
            with open(self.ws.path("fpm", "pool.d", "www.conf"), "w") as f:
                f.write(text.replace("listen = /run/php/php8.2-fpm.sock", "listen = " + sock))
            with open(self.ws.path("fpm", "php-fpm.conf"), "w") as f:
                f.write("[global]\npid = %s\nerror_log = /dev/stderr\ndaemonize = no\ninclude = %s/*.conf\n"
                        % (self.ws.path("fpm", "pid"), self.ws.path("fpm", "pool.d")))
            self.start([harness.PHP_FPM, "-F", "-y", self.ws.path("fpm", "php-fpm.conf"), "-c", harness.PHP_INI],
                       sock, "php-fpm-debian.log")

        r = self.request(sock, "/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        if os.geteuid() == 0:
            r = self.request(sock, "/whoami.php")
            self.assertEqual(r.status, 200)
            self.assertIn("Uid:\t33\t33\t33\t33\n", r.body.decode())
        st = os.stat(sock)
        harness.log("socket %s: mode %o, uid %d, gid %d" % (sock, st.st_mode & 0o7777, st.st_uid, st.st_gid))
        self.assertEqual(st.st_mode & 0o7777, 0o660)
        if os.geteuid() == 0:
            self.assertEqual((st.st_uid, st.st_gid), (33, 33))


@harness.fpmd_only("fpmd -t and fpmd convert")
class Hints(harness.TestCase):
    START_SERVER = False

    def conf(self, pool_text):
        d = self.ws.path("hint-%d" % len(os.listdir(self.ws.dir)))
        os.makedirs(os.path.join(d, "pool.d"))
        with open(os.path.join(d, "fpmd.conf"), "w") as f:
            f.write('include_dir = "pool.d";\n')
        with open(os.path.join(d, "pool.d", "www.conf"), "w") as f:
            f.write(pool_text)
        return d

    def test_php_fpm_line_in_a_pool_file(self):
        lines = ["# A pool file with PHP-FPM lines pasted in", "pool = {", '  name = "www";',
                 '  listen = { address = "127.0.0.1:9000"; };', '  user = "www-data";', "", "  pm = {",
                 '    mode = "static";', "    max_children = 2;", "  };", "",
                 "  php_admin_value[opcache.memory_consumption] = 256", "};"]
        d = self.conf("\n".join(lines) + "\n")
        r = run([fpmd(), "-t", "-c", os.path.join(d, "fpmd.conf")])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr,
                         "fpmd: %s/pool.d/www.conf:12: PHP-FPM syntax; in fpmd this is: php_admin_value = { opcache "
                         "= { memory_consumption = 256; }; };%s\n"
                         "fpmd: configuration file %s/fpmd.conf test failed\n" % (d, TAIL, d))

    def test_php_fpm_pool_file_in_pool_d(self):
        """Debian's www.conf dropped into fpmd's pool.d as it is: its first line is a ';' comment."""
        with open(os.path.join(DATA, "debian", "pool.d", "www.conf")) as f:
            d = self.conf(f.read())
        r = run([fpmd(), "-t", "-c", os.path.join(d, "fpmd.conf")])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         "fpmd: %s/pool.d/www.conf:1: PHP-FPM syntax; in fpmd this is: # Start a new pool named "
                         "'www'.%s\nfpmd: configuration file %s/fpmd.conf test failed\n" % (d, TAIL, d))

    def test_libconfig_errors_stay_libconfigs(self):
        d = self.conf('pool = {\n  name = "www";\n  pm = { max_children = 5 ;; };\n};\n')
        r = run([fpmd(), "-t", "-c", os.path.join(d, "fpmd.conf")])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "fpmd: %s/pool.d/www.conf:3: syntax error\n"
                         "fpmd: configuration file %s/fpmd.conf test failed\n" % (d, d))

    def test_convert_failures(self):
        missing = self.ws.path("nope.conf")
        r = run([fpmd(), "convert", missing])
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, "", "fpmd: %s: cannot read: No such file or directory\n" % missing))
        bad = self.ws.path("bad.conf")
        with open(bad, "w") as f:
            f.write("[www]\nlisten = 9000\nphp_value[x] = a = b\n")
        r = run([fpmd(), "convert", bad])
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, "", "fpmd: %s:3: PHP-FPM cannot read this line: unexpected '='\n" % bad))
        r = run([fpmd(), "convert"])
        self.assertEqual(r.returncode, 2)
        r = run([fpmd(), "convert", bad, bad])
        self.assertEqual(r.returncode, 2)

    def test_help(self):
        r = run([fpmd(), "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("fpmd convert [--output DIR] [--force] [--prefix DIR] [--php-ini FILE] PHP-FPM.CONF\n",
                      r.stdout)


if __name__ == "__main__":
    harness.main()
