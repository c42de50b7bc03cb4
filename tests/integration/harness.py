"""Integration test harness for fpmd (Python 3 standard library only).

Every test runs against one of two servers, chosen by the environment:

    SERVER=fpmd     (default) the built fpmd, path in $FPMD (meson passes it)
    SERVER=php-fpm  Debian's PHP-FPM 8.2 ($PHP_FPM, default /usr/sbin/php-fpm8.2), the reference

A test describes its pool once as a Python dict; Server writes it as fpmd's libconfig files or as a
php-fpm.conf.  Clients: cgi-fcgi (libfcgi-bin), real web servers started on loopback (Nginx, Apache, Caddy,
Lighttpd), and FcgiClient, a raw FastCGI client that builds records byte by byte.

Exit status of a test file: 0 pass, 1 fail, 77 skip (missing privilege only).
"""

import atexit
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

SERVER = os.environ.get("SERVER", "fpmd")
if SERVER not in ("fpmd", "php-fpm"):
    sys.stderr.write("SERVER must be 'fpmd' or 'php-fpm', not %r\n" % SERVER)
    sys.exit(1)
IS_FPMD = SERVER == "fpmd"
IS_PHP_FPM = SERVER == "php-fpm"

HERE = os.path.dirname(os.path.abspath(__file__))
PHP_DIR = os.path.join(HERE, "php")
PHP_INI = os.environ.get("PHP_INI", "/etc/php/8.2/fpm/php.ini")
PHP_FPM = os.environ.get("PHP_FPM", "/usr/sbin/php-fpm8.2")
NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
CGI_FCGI = os.environ.get("CGI_FCGI", shutil.which("cgi-fcgi") or "/usr/bin/cgi-fcgi")
KEEP_TMP = os.environ.get("KEEP_TMP") == "1"

EXIT_SKIP = 77

# Every Server and Nginx ever started, so logs can be shown when a test fails and nothing outlives us.
_processes = []
_workspaces = []


def log(msg):
    sys.stderr.write("[%s] %s\n" % (SERVER, msg))
    sys.stderr.flush()


def fpmd_only(reason):
    """Decorator: an expectation that holds for fpmd only (PHP-FPM differs or does not have the feature)."""
    return unittest.skipUnless(IS_FPMD, "fpmd-only: " + reason)


def can_connect(address, timeout=0.5):
    """True when something accepts connections on address ("/unix/socket/path" or "HOST:PORT")."""
    try:
        if address.startswith("/"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(address)
        else:
            host, _, port = address.rpartition(":")
            socket.create_connection((host, int(port)), timeout=timeout).close()
        return True
    except OSError:
        return False


_ports_given = set()


def free_port():
    """A loopback TCP port free now, and not handed out before by this process: the pools of one configuration
    get their ports before any of them is bound, so the kernel may offer the same free port twice."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no loopback port left that this process has not handed out")


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


NANOSLEEP_SYSCALLS = {"35", "230"}  # x86_64 nanosleep, clock_nanosleep (what PHP's usleep() ends in)


def sleeping_in_php(pid):
    """Whether process pid sleeps in usleep()/sleep() right now: a worker running sleep.php and the like, not
    one waiting for a connection (epoll, accept) or reading a request."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        if wchan not in ("", "0"):
            return "nanosleep" in wchan
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split(" ", 1)[0] in NANOSLEEP_SYSCALLS
    except OSError:
        return False


def wait_running(server, n=1, timeout=10):
    """Until n of the server's processes sleep in a script (the request is running in a worker); fails the
    caller with the server's log otherwise. For any server with workers(): fpmd and PHP-FPM alike."""
    pids = wait_for(lambda: [p for p in server.workers() if sleeping_in_php(p)][:n] if
                    len([p for p in server.workers() if sleeping_in_php(p)]) >= n else None, timeout)
    if not pids:
        raise AssertionError("no %d request(s) running within %ds; the server's output:\n%s"
                             % (n, timeout, server.log_text()))
    return pids

def md5(data):
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Workspace: one temporary folder per test class with a docroot copied from tests/integration/php/


class Workspace:
    def __init__(self, name="fpmd-it"):
        self.dir = tempfile.mkdtemp(prefix=name + "-")
        self.docroot = os.path.join(self.dir, "www")
        shutil.copytree(PHP_DIR, self.docroot)
        _workspaces.append(self)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def script(self, name):
        """Absolute SCRIPT_FILENAME of a docroot-relative script ("/echo.php")."""
        return self.docroot + name

    def shared_folder(self, name):
        """A folder of the workspace every worker may write in (php/mark.php leaves its marks there)."""
        path = self.path(name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)
        return path

    def write(self, rel, data, docroot=True):
        p = os.path.join(self.docroot if docroot else self.dir, rel.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p

    def cleanup(self):
        if KEEP_TMP:
            log("keeping " + self.dir)
            return
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# /proc helpers


def _proc_ppids():
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _proc_stat(int(d))
            if st:
                m[int(d)] = st[0]
    return m


def _proc_stat(pid):
    """(ppid, pgrp, starttime in ticks) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2:].split()
    return int(rest[1]), int(rest[2]), int(rest[19])


def kill_group(pgid, started):
    """SIGKILL what is left of a process group we created (start_new_session), and only that: members must
    have started no earlier than its leader did, so a recycled id is never hit."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _proc_stat(int(d))
        if st and st[1] == pgid and st[2] >= started:
            try:
                os.kill(int(d), signal.SIGKILL)
            except OSError:
                pass


def descendants(pid):
    """All living descendants of pid (children, grandchildren, ...), sorted."""
    ppids = _proc_ppids()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, pp in ppids.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return sorted(out)


def proc_stat_ppid(pid):
    """The parent of pid, or None."""
    st = _proc_stat(pid)
    return st[0] if st else None


def is_zygote(pid):
    """Whether pid is fpmd's leaders' zygote (its comm is fpmd-zygote)."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "fpmd-zygote"
    except OSError:
        return False


def proc_status_kb(pid, field):
    """A kB field of /proc/PID/status (VmHWM, VmRSS ...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_seconds(pid):
    """User and system CPU time a process has used (/proc/PID/stat utime + stime), in seconds."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------------
# Server configuration: one dict, two formats


def _libconfig_str(v):
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _libconfig_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return _libconfig_str(v)


def _ini_tree(d):
    """{'user_ini.cache_ttl': 2, 'memory_limit': '64M'} -> nested dicts, dotted names as groups."""
    tree = {}
    for k, v in d.items():
        node = tree
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return tree


def _libconfig_group(tree, indent):
    pad = " " * indent
    lines = []
    for k, v in tree.items():
        if isinstance(v, dict):
            lines.append("%s%s = {" % (pad, k))
            lines.extend(_libconfig_group(v, indent + 2))
            lines.append("%s};" % pad)
        else:
            lines.append("%s%s = %s;" % (pad, k, _libconfig_scalar(v)))
    return lines


class IniExpr(str):
    """An ini value written bare in php-fpm.conf, as PHP's ini syntax evaluates it: IniExpr("E_ALL & ~E_NOTICE")"""


def _fpm_value(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, IniExpr):
        return str(v)
    s = str(v)
    if s and all(c.isalnum() or c in "._-/:" for c in s):
        return s
    return '"' + s.replace('"', '\\"') + '"'


POOL_DEFAULTS = {
    "max_children": 2,
    "clear_env": True,
    "limit_extensions": [".php"],
    "php_value": {},
    "php_admin_value": {},
    "php_flag": {},
    "php_admin_flag": {},
    "env": {},
    # fpmd only: security = { allow_php_value_params = ...; } (PHP-FPM always honours PHP_VALUE)
    "allow_php_value_params": None,
    # A unix socket path to listen on instead of 127.0.0.1:port (Server.port is then unused), with its mode:
    # 0666 so a web server whose workers run as www-data can connect (PHP-FPM's default is 0660, root's).
    "listen": None,
    "listen_mode": "0666",
    # The pool's user and group (as root only; None: the workers stay root, php-fpm -R and allow_root)
    "user": None,
}

GLOBAL_DEFAULTS = {
    "process_control_timeout": 10,  # seconds
}


class Server:
    """fpmd or php-fpm in the foreground, listening on a free 127.0.0.1 port of its own."""

    def __init__(self, ws, pool=None, global_=None, kind=None):
        self.ws = ws
        self.kind = kind or SERVER
        self.pool = dict(POOL_DEFAULTS)
        for k, v in (pool or {}).items():
            if k not in POOL_DEFAULTS:
                raise KeyError("unknown pool setting %r" % k)
            self.pool[k] = v
        self.glob = dict(GLOBAL_DEFAULTS)
        self.glob.update(global_ or {})
        self.port = free_port()
        self.proc = None
        self.log_path = ws.path("%s-%d.log" % (self.kind, self.port))
        self.exit_status = None
        _processes.append(self)

    # -- configuration ----------------------------------------------------------------------------------

    def _write_fpmd(self):
        d = self.ws.path("fpmd-%d" % self.port)
        os.makedirs(os.path.join(d, "pool.d"), exist_ok=True)
        with open(os.path.join(d, "fpmd.conf"), "w") as f:
            f.write('log_level = "notice";\n')
            f.write('include_dir = "pool.d";\n')
            f.write("php_ini = %s;\n" % _libconfig_str(PHP_INI))
            f.write('process_control_timeout = "%ds";\n' % self.glob["process_control_timeout"])
        p = self.pool
        if p["listen"]:
            listen = '  listen = { address = %s; mode = %s; };' % (_libconfig_str(p["listen"]),
                                                                   _libconfig_str(p["listen_mode"]))
        else:
            listen = '  listen = { address = "127.0.0.1:%d"; };' % self.port
        lines = ["pool = {", '  name = "www";', listen,
                 '  pm = { mode = "static"; max_children = %d; };' % p["max_children"],
                 "  php_ini = %s;" % _libconfig_str(PHP_INI),
                 "  clear_env = %s;" % ("true" if p["clear_env"] else "false")]
        if os.geteuid() == 0 and p["user"]:
            lines.append("  user = %s;" % _libconfig_str(p["user"]))
        elif os.geteuid() == 0:
            # as php-fpm -R: the tests run as root (CI does) and the workers stay root
            lines.append("  allow_root = true;")
        sec = ["limit_extensions = [ %s ];" % ", ".join(_libconfig_str(e) for e in p["limit_extensions"])]
        if p["allow_php_value_params"] is not None:
            sec.append("allow_php_value_params = %s;" % ("true" if p["allow_php_value_params"] else "false"))
        lines.append("  security = { %s };" % " ".join(sec))
        if p["env"]:
            lines.append("  env = {")
            lines.extend(_libconfig_group(p["env"], 4))
            lines.append("  };")
        for group in ("php_value", "php_admin_value", "php_flag", "php_admin_flag"):
            if p[group]:
                lines.append("  %s = {" % group)
                lines.extend(_libconfig_group(_ini_tree(p[group]), 4))
                lines.append("  };")
        lines.append("};")
        with open(os.path.join(d, "pool.d", "www.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        fpmd = os.environ.get("FPMD")
        return [os.path.abspath(fpmd) if fpmd else "", "--config", os.path.join(d, "fpmd.conf")]

    def _write_php_fpm(self):
        path = self.ws.path("php-fpm-%d.conf" % self.port)
        p = self.pool
        lines = ["[global]",
                 "error_log = /dev/stderr",
                 "log_level = notice",
                 "daemonize = no",
                 "pid = " + self.ws.path("php-fpm-%d.pid" % self.port),
                 "process_control_timeout = %ds" % self.glob["process_control_timeout"],
                 "",
                 "[www]",
                 "listen = " + (p["listen"] or "127.0.0.1:%d" % self.port)]
        if p["listen"]:
            lines.append("listen.mode = " + p["listen_mode"])
        lines += ["pm = static",
                 "pm.max_children = %d" % p["max_children"],
                 "clear_env = " + ("yes" if p["clear_env"] else "no"),
                 "catch_workers_output = yes",
                 "decorate_workers_output = no",
                 "security.limit_extensions = " + " ".join(p["limit_extensions"])]
        if os.geteuid() == 0 and p["user"]:
            lines.append("user = " + p["user"])
        for k, v in p["env"].items():
            lines.append("env[%s] = %s" % (k, _fpm_value(v)))
        for group in ("php_value", "php_admin_value", "php_flag", "php_admin_flag"):
            for k, v in p[group].items():
                lines.append("%s[%s] = %s" % (group, k, _fpm_value(v)))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        argv = [PHP_FPM, "-F", "-y", path, "-c", PHP_INI]
        if os.geteuid() == 0:
            argv.insert(2, "-R")
        return argv

    # -- life -------------------------------------------------------------------------------------------

    def start(self, timeout=10):
        if self.kind == "fpmd":
            argv = self._write_fpmd()
            if not argv[0]:
                raise RuntimeError("SERVER=fpmd but $FPMD is not set (run through meson test, "
                                   "or export FPMD=build/src/fpmd, or SERVER=php-fpm)")
            if not os.access(argv[0], os.X_OK):
                raise RuntimeError("$FPMD=%s is not an executable" % argv[0])
        else:
            argv = self._write_php_fpm()
        logf = open(self.log_path, "ab")
        env = dict(os.environ)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     start_new_session=True, env=env, cwd=self.ws.dir)
        logf.close()
        self.started = _proc_stat(self.proc.pid)[2]
        self._wait_accepting(timeout)
        self._wait_started()
        return self

    def _wait_accepting(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s before accepting; its output:\n%s"
                                   % (self.kind, self.proc.returncode, self.log_text()))
            if can_connect(self.address()):
                break
            if time.monotonic() >= deadline:
                raise RuntimeError("%s did not accept on %s within %ds; its output:\n%s"
                                   % (self.kind, self.address(), timeout, self.log_text()))
            time.sleep(0.05)

    def _wait_started(self):
        # Static pools: wait until the workers exist so pid and memory checks see them (fpmd: and the leader).
        want = self.pool["max_children"] + (1 if self.kind == "fpmd" else 0)
        wait_for(lambda: len(self.workers()) >= want, 5)

    @property
    def pid(self):
        return self.proc.pid

    def unix_path(self, name="www"):
        """The unix socket the pool listens on (pool setting "listen"), or None: it listens on 127.0.0.1:port."""
        return self.pool["listen"]

    def address(self):
        """Where the pool listens: a unix socket path, or "127.0.0.1:PORT"."""
        return self.unix_path() or "127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def workers(self):
        """Descendants of the server process (php-fpm: the pool's workers; fpmd: leaders and workers, not the
        leaders' zygote)."""
        if not self.alive():
            return []
        return [p for p in descendants(self.proc.pid) if not is_zygote(p)]

    def pool_processes(self):
        """fpmd: the supervisor's children but its zygote: the leaders (and workers whose leader died)."""
        if not self.alive():
            return []
        return [c for c in children(self.proc.pid) if not is_zygote(c)]

    def graceful_signal(self):
        """fpmd's graceful stop is SIGTERM; PHP-FPM's is SIGQUIT (its SIGTERM is a fast stop)."""
        return signal.SIGTERM if self.kind == "fpmd" else signal.SIGQUIT

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            self.exit_status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_status

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        # Its processes, in case one of them left the process group (setsid) and outlives the server.
        self.known = [(p, _proc_stat(p)) for p in self.workers()]
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(self.graceful_signal())
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                log("%s did not stop within %ds, killing its process group" % (self.kind, timeout))
        self._kill_group()
        self.exit_status = self.proc.returncode
        return self.exit_status

    def _kill_group(self):
        # The server ran in a session of its own (start_new_session): its process group id is its pid.
        kill_group(self.proc.pid, self.started)
        for pid, st in getattr(self, "known", []):
            now = _proc_stat(pid)
            # the same process (not a recycled pid) that left the server's process group
            if st and now and now[2] == st[2] and now[1] != self.proc.pid:
                log("%s left pid %d behind, killing it" % (self.kind, pid))
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def describe(self):
        return "%s on %s (log %s)" % (self.kind, self.address(), self.log_path)


class PhpFpmServer(Server):
    """PHP-FPM 8.2, the reference, whatever SERVER says: Server's pool dict, plus php-fpm.conf lines of the
    pool's own ("pm.status_path = /status", "access.format = ..."), for tests that compare fpmd with PHP-FPM."""

    def __init__(self, ws, pool=None, extra_lines=(), global_=None):
        Server.__init__(self, ws, pool, global_, kind="php-fpm")
        self.extra_lines = list(extra_lines)

    def _write_php_fpm(self):
        argv = Server._write_php_fpm(self)
        # the pool's section is the file's last: its settings go at the end
        with open(self.ws.path("php-fpm-%d.conf" % self.port), "a") as f:
            f.write("".join(line + "\n" for line in self.extra_lines))
        return argv


def php_fpm_available():
    return os.access(PHP_FPM, os.X_OK)


# ---------------------------------------------------------------------------------------------------------
# Responses


class Response:
    def __init__(self, status, header_list, body):
        self.status = status
        self.header_list = header_list  # [(name, value)] as sent
        self.body = body

    @property
    def headers(self):
        """Lower-cased name -> value (the last one when repeated)."""
        return {k.lower(): v for k, v in self.header_list}

    def header_values(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.header_list, self.body[:300])


def parse_cgi(data):
    """CGI output (headers, blank line, body) -> Response; Status: header gives the status, else 200."""
    sep = data.find(b"\r\n\r\n")
    seplen = 4
    lf = data.find(b"\n\n")
    if lf != -1 and (sep == -1 or lf < sep):
        sep, seplen = lf, 2
    if sep == -1:
        raise ValueError("no end of headers in CGI output: %r" % data[:500])
    head, body = data[:sep], data[sep + seplen:]
    header_list = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        name, _, value = line.partition(b":")
        header_list.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    status = 200
    for k, v in header_list:
        if k.lower() == "status":
            status = int(v.split()[0])
    return Response(status, header_list, body)


def cgi_params(ws, script, method="GET", query="", headers=None, body=b"", content_type=None,
               script_filename=None, request_uri=None, extra=None):
    """The FastCGI params a web server would send for GET/POST DOCROOT/script?query."""
    uri = request_uri if request_uri is not None else script + ("?" + query if query else "")
    p = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "fpmd-tests",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "REQUEST_SCHEME": "http",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "REQUEST_URI": uri,
        "DOCUMENT_URI": script,
        "DOCUMENT_ROOT": ws.docroot,
        "SCRIPT_NAME": script,
        "SCRIPT_FILENAME": script_filename if script_filename is not None else ws.docroot + script,
        "HTTP_HOST": "localhost",
        "REDIRECT_STATUS": "200",
    }
    if body or method in ("POST", "PUT", "PATCH"):
        p["CONTENT_LENGTH"] = str(len(body))
        p["CONTENT_TYPE"] = content_type or "application/octet-stream"
    elif content_type:
        p["CONTENT_TYPE"] = content_type
    for k, v in (headers or {}).items():
        p["HTTP_" + k.upper().replace("-", "_")] = v
    p.update(extra or {})
    return p


def cgi_fcgi(server, params, body=b"", timeout=60):
    """One request through libfcgi's cgi-fcgi: params in its environment, the body on its stdin."""
    # cgi-fcgi sends its whole environment as the params: give it exactly the params, nothing else.
    env = {k: str(v) for k, v in params.items()}
    r = subprocess.run([CGI_FCGI, "-bind", "-connect", "127.0.0.1:%d" % server.port], env=env,
                       input=body, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0 and not r.stdout:
        raise RuntimeError("cgi-fcgi failed with %d: %r" % (r.returncode, r.stderr))
    resp = parse_cgi(r.stdout)
    resp.stderr = r.stderr
    return resp


# ---------------------------------------------------------------------------------------------------------
# Raw FastCGI client

FCGI_VERSION_1 = 1
FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11

FCGI_RESPONDER = 1
FCGI_KEEP_CONN = 1

FCGI_REQUEST_COMPLETE = 0
FCGI_CANT_MPX_CONN = 1
FCGI_OVERLOADED = 2
FCGI_UNKNOWN_ROLE = 3


def fcgi_record(rtype, rid, content=b"", version=FCGI_VERSION_1, padding=None):
    """One record; padded to a multiple of 8 unless padding says otherwise."""
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", version, rtype, rid, len(content), padding, 0) + content + b"\0" * padding


def fcgi_length(n):
    """A name or value length: one byte below 128, else four bytes with the top bit set."""
    if n < 128:
        return bytes([n])
    return struct.pack(">I", n | 0x80000000)


def fcgi_pair(name, value):
    if isinstance(name, str):
        name = name.encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return fcgi_length(len(name)) + fcgi_length(len(value)) + name + value


def fcgi_stream(rtype, rid, data, chunk=65535):
    """data as records of at most chunk bytes, then the empty record that ends the stream."""
    out = b""
    for i in range(0, len(data), chunk):
        out += fcgi_record(rtype, rid, data[i:i + chunk])
    return out + fcgi_record(rtype, rid)


def fcgi_begin(rid=1, role=FCGI_RESPONDER, flags=0):
    return fcgi_record(FCGI_BEGIN_REQUEST, rid, struct.pack(">HB5x", role, flags))


def parse_pairs(data):
    out, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]]
        i += lens[0]
        value = data[i:i + lens[1]]
        i += lens[1]
        out[name.decode("latin-1")] = value.decode("latin-1")
    return out


class FcgiResult:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.app_status = None
        self.protocol_status = None
        self.records = []  # (monotonic time, type, request id, content)
        self.ended = False

    def response(self):
        return parse_cgi(self.stdout)


class FcgiClient:
    """A FastCGI client that writes records itself. Not for production: for tests that need every byte."""

    def __init__(self, port, timeout=30, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def read_record(self):
        """(type, request id, content, version), or None at end of stream."""
        while len(self.buf) < 8:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        version, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", self.buf[:8])
        need = 8 + clen + plen
        while len(self.buf) < need:
            chunk = self.sock.recv(max(65536, need - len(self.buf)))
            if not chunk:
                raise EOFError("connection closed inside a record")
            self.buf += chunk
        content = self.buf[8:8 + clen]
        self.buf = self.buf[need:]
        return rtype, rid, content, version

    def is_closed(self, timeout=5):
        """True when the peer closes the connection (EOF or reset) within timeout, whatever it sent before."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def send_request(self, params, body=b"", rid=1, keep_conn=False, params_chunk=65535):
        pairs = b"".join(fcgi_pair(k, v) for k, v in params.items())
        self.send(fcgi_begin(rid, FCGI_RESPONDER, FCGI_KEEP_CONN if keep_conn else 0)
                  + fcgi_stream(FCGI_PARAMS, rid, pairs, params_chunk)
                  + fcgi_stream(FCGI_STDIN, rid, body))

    def read_response(self, rid=1):
        """Reads records until END_REQUEST for rid; records of other ids are kept in result.records too."""
        res = FcgiResult()
        while True:
            rec = self.read_record()
            if rec is None:
                raise EOFError("connection closed before END_REQUEST (got %d stdout bytes: %r)"
                               % (len(res.stdout), res.stdout[:300]))
            rtype, r, content, _ = rec
            res.records.append((time.monotonic(), rtype, r, content))
            if r != rid:
                continue
            if rtype == FCGI_STDOUT:
                res.stdout += content
            elif rtype == FCGI_STDERR:
                res.stderr += content
            elif rtype == FCGI_END_REQUEST:
                res.app_status, res.protocol_status = struct.unpack(">IB3x", content)
                res.ended = True
                return res

    def request(self, params, body=b"", rid=1, keep_conn=False):
        self.send_request(params, body, rid, keep_conn)
        return self.read_response(rid)


class FcgiUnixClient(FcgiClient):
    """FcgiClient on a unix socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""


def fcgi_request(server, params, body=b"", timeout=60):
    """One request on a new connection with the raw client; returns (Response, FcgiResult)."""
    path = getattr(server, "path", None)
    with (FcgiUnixClient(path, timeout=timeout) if path else FcgiClient(server.port, timeout=timeout)) as c:
        res = c.request(params, body)
    return res.response(), res


# ---------------------------------------------------------------------------------------------------------
# nginx in front of the server


class Nginx:
    """A real nginx on a free loopback port, one process (master_process off), files in the workspace."""

    def __init__(self, ws, server, extra_server=""):
        self.ws = ws
        self.server = server
        self.port = free_port()
        self.dir = ws.path("nginx-%d" % self.port)
        self.extra_server = extra_server
        self.proc = None
        self.log_path = os.path.join(self.dir, "error.log")
        _processes.append(self)

    def conf(self):
        d = self.dir
        return """\
error_log {d}/error.log notice;
pid {d}/nginx.pid;
daemon off;
master_process off;
worker_processes 1;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 200m;
    fastcgi_read_timeout 60s;
    default_type application/octet-stream;

    upstream php {{
        server {upstream};
        keepalive 8;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {docroot};

        location ~ [^/]\\.php(/|$) {{
            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_pass php;
            fastcgi_keep_conn on;
        }}

        # The body reaches PHP as a file name, not as FastCGI STDIN.
        location = /bodyfile/echo.php {{
            client_body_in_file_only on;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root/echo.php;
            fastcgi_param SCRIPT_NAME /echo.php;
            fastcgi_param REQUEST_BODY_FILE $request_body_file;
            fastcgi_pass_request_body off;
            fastcgi_pass php;
            fastcgi_keep_conn on;
        }}
{extra}
    }}
}}
""".format(d=d, upstream=self.upstream(), port=self.port, docroot=self.ws.docroot, extra=self.extra_server)

    def upstream(self):
        """unix:PATH for a pool on a unix socket (pool setting "listen"), else 127.0.0.1:PORT."""
        unix_path = getattr(self.server, "unix_path", None)
        path = unix_path() if unix_path else None
        return "unix:" + path if path else "127.0.0.1:%d" % self.server.port

    def start(self, timeout=10):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.conf())
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir + "/", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out, start_new_session=True)
        out.close()
        self.started = _proc_stat(self.proc.pid)[2]
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError("nginx did not accept within %ds:\n%s" % (timeout, self.log_text()))
            time.sleep(0.05)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.proc.pid, self.started)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def log_text(self):
        out = ""
        for name in ("stdout.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    out += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return out

    def describe(self):
        return "nginx on 127.0.0.1:%d (dir %s)" % (self.port, self.dir)

    def connection(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=60):
        """One HTTP/1.1 request; body may be bytes or an iterable of bytes (then give Content-Length)."""
        own = conn is None
        if own:
            conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data)
        finally:
            if own:
                conn.close()


# ---------------------------------------------------------------------------------------------------------
# The other web servers PHP-FPM users run, Debian 12's packages: Apache 2.4 + mod_proxy_fcgi, Caddy 2.6
# php_fastcgi, lighttpd 1.4 mod_fastcgi. Each runs in the foreground on a free 127.0.0.1 port with its config,
# pid and logs in a folder of the workspace, and proxies PHP to a server: a Server (TCP or unix socket, see the
# pool setting "listen") or an FcgiRecorder.

APACHE = os.environ.get("APACHE", "/usr/sbin/apache2")
APACHE_MODULES = "/usr/lib/apache2/modules"
CADDY = os.environ.get("CADDY", "/usr/bin/caddy")
LIGHTTPD = os.environ.get("LIGHTTPD", "/usr/sbin/lighttpd")
# Debian's web servers run their workers as www-data (Apache's User, lighttpd's server.username)
WEB_USER = "www-data"


def make_alias_dir(ws, name="app"):
    """A folder outside the docroot for an Alias (Debian's phpMyAdmin/Roundcube layout): info.php, index.php
    and sub/info.php copied from the fixtures. Returns its path."""
    d = ws.path(name)
    for f in ("info.php", "index.php", "sub/info.php"):
        os.makedirs(os.path.dirname(os.path.join(d, f)), exist_ok=True)
        shutil.copy(os.path.join(PHP_DIR, f), os.path.join(d, f))
    return d


class WebServer:
    """Base of Apache, Caddy and Lighttpd: a real web server in the foreground (its own session), on a free
    127.0.0.1 port, files in ws/NAME-PORT/, in front of server (anything with address(): a Server, an
    FcgiRecorder). Subclasses give conf() and argv()."""

    NAME = "webserver"
    BINARY = None
    LOGS = ("stdout.log", "error.log")

    def __init__(self, ws, server):
        self.ws = ws
        self.server = server
        self.port = free_port()
        self.dir = ws.path("%s-%d" % (self.NAME, self.port))
        self.conf_path = None
        self.proc = None
        _processes.append(self)

    def conf(self):
        raise NotImplementedError

    def argv(self):
        raise NotImplementedError

    def env(self):
        """A clean environment, as an init system gives: Apache passes its PATH on to PHP as a param."""
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

    @staticmethod
    def fcgi_target(server):
        """("tcp", "127.0.0.1", port) or ("unix", path): where PHP is proxied."""
        addr = server.address()
        if addr.startswith("/"):
            return ("unix", addr)
        host, _, port = addr.rpartition(":")
        return ("tcp", host, int(port))

    def start(self, timeout=10):
        if not os.access(self.BINARY, os.X_OK):
            raise RuntimeError("missing %s (.ci/install-deps installs apache2, caddy, lighttpd)" % self.BINARY)
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            # The workers may run as www-data: they must reach the docroot, the Alias folder and a unix socket
            # of the workspace (mkdtemp makes it 0700). Traverse only; the files themselves are 0644.
            os.chmod(self.ws.dir, 0o711)
        with open(self.conf_path, "w") as f:
            f.write(self.conf())
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     start_new_session=True, env=self.env(), cwd=self.dir)
        out.close()
        self.started = _proc_stat(self.proc.pid)[2]
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.NAME, self.proc.returncode, self.log_text()))
            if can_connect("127.0.0.1:%d" % self.port):
                return self
            if time.monotonic() >= deadline:
                raise RuntimeError("%s did not accept within %ds:\n%s" % (self.NAME, timeout, self.log_text()))
            time.sleep(0.05)

    STOP_SIGNAL = signal.SIGTERM

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.STOP_SIGNAL)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.proc.pid, self.started)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def log_text(self):
        out = ""
        for name in self.LOGS:
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if text:
                out += "== %s ==\n%s" % (name, text)
        return out

    def describe(self):
        return "%s on 127.0.0.1:%d (dir %s, in front of %s)" % (self.NAME, self.port, self.dir,
                                                               self.server.address())

    def connection(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=60):
        """One HTTP/1.1 request, path sent as given (not normalised); returns a Response."""
        own = conn is None
        if own:
            conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data)
        finally:
            if own:
                conn.close()


class Apache(WebServer):
    """Apache 2.4 (apache2 -DFOREGROUND -f CONF, mpm_event, LoadModule lines from /usr/lib/apache2/modules)
    with mod_proxy_fcgi, as Debian's apache2 package and its php8.2-fpm.conf set it up. variant:

      proxypassmatch  the Apache manual's ProxyPassMatch "^/(.*\\.php(/.*)?)$" "fcgi://HOST:PORT/DOCROOT/$1"
                      (a TCP server)
      sethandler      Debian's /etc/apache2/conf-available/php8.2-fpm.conf: <FilesMatch ".+\\.ph(?:ar|p|tml)$">
                      SetHandler "proxy:unix:SOCK|fcgi://localhost" (a unix socket server)
      generic         sethandler plus ProxyFCGIBackendType GENERIC
      reuse           sethandler plus <Proxy "fcgi://localhost"> ProxySet enablereuse=on </Proxy>
      alias           sethandler plus Alias /app ALIAS_DIR, a folder outside DocumentRoot (make_alias_dir)
      generic-alias   alias plus ProxyFCGIBackendType GENERIC (SCRIPT_FILENAME without "proxy:fcgi://...")

    As root the workers run as www-data (User/Group, as Debian's apache2.conf)."""

    NAME = "apache"
    BINARY = APACHE
    LOGS = ("stdout.log", "error.log", "access.log")
    VARIANTS = ("proxypassmatch", "sethandler", "generic", "reuse", "alias", "generic-alias")
    MODULES = ("mpm_event", "authz_core", "authz_host", "alias", "dir", "mime", "setenvif", "env", "proxy",
               "proxy_fcgi")

    def __init__(self, ws, server, variant="sethandler", extra=""):
        if variant not in self.VARIANTS:
            raise ValueError("unknown Apache variant %r" % variant)
        WebServer.__init__(self, ws, server)
        self.variant = variant
        self.extra = extra
        self.alias_dir = make_alias_dir(ws) if variant.endswith("alias") else None
        self.conf_path = os.path.join(self.dir, "apache2.conf")
        self.NAME = "apache-" + variant

    def handler_conf(self):
        target = self.fcgi_target(self.server)
        if self.variant == "proxypassmatch":
            if target[0] != "tcp":
                raise ValueError("the ProxyPassMatch variant proxies to fcgi://HOST:PORT: give it a TCP server")
            return ('ProxyPassMatch "^/(.*\\.php(/.*)?)$" "fcgi://%s:%d%s/$1"\n'
                    % (target[1], target[2], self.ws.docroot))
        if target[0] == "unix":
            handler = "proxy:unix:%s|fcgi://localhost" % target[1]
        else:
            handler = "proxy:fcgi://%s:%d" % target[1:]
        lines = [
            "# Debian's /etc/apache2/conf-available/php8.2-fpm.conf",
            '<IfModule setenvif_module>',
            'SetEnvIfNoCase ^Authorization$ "(.+)" HTTP_AUTHORIZATION=$1',
            '</IfModule>',
            '<FilesMatch ".+\\.ph(?:ar|p|tml)$">',
            '    SetHandler "%s"' % handler,
            '</FilesMatch>',
            '<FilesMatch ".+\\.phps$">',
            '    Require all denied',
            '</FilesMatch>',
            '<FilesMatch "^\\.ph(?:ar|p|ps|tml)$">',
            '    Require all denied',
            '</FilesMatch>',
        ]
        if self.variant.startswith("generic"):
            lines.append("ProxyFCGIBackendType GENERIC")
        if self.variant == "reuse":
            lines += ['<Proxy "fcgi://localhost">', "    ProxySet enablereuse=on", "</Proxy>"]
        if self.alias_dir:
            lines += ["# Debian's phpMyAdmin/Roundcube layout: an application folder outside DocumentRoot",
                      "Alias /app %s" % self.alias_dir,
                      "<Directory %s>" % self.alias_dir,
                      "    Options FollowSymLinks",
                      "    DirectoryIndex index.php",
                      "    Require all granted",
                      "</Directory>"]
        return "\n".join(lines) + "\n"

    def conf(self):
        d = self.dir
        user = ""
        if os.geteuid() == 0:
            user = "User %s\nGroup %s\n" % (WEB_USER, WEB_USER)
        modules = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, APACHE_MODULES, m) for m in self.MODULES)
        return """\
ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{d}/apache2.pid"
Listen 127.0.0.1:{port}
ServerName localhost
{modules}{user}
# Debian's apache2.conf, mods-available/mpm_event.conf (smaller), dir.conf and mime.conf
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
Timeout 300
KeepAlive On
HostnameLookups Off
ErrorLog "{d}/error.log"
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
CustomLog "{d}/access.log" combined
TypesConfig /etc/mime.types
DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>
<Directory {docroot}>
    Options Indexes FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
DocumentRoot {docroot}

{handler}{extra}
""".format(d=d, port=self.port, modules=modules, user=user, docroot=self.ws.docroot,
           handler=self.handler_conf(), extra=self.extra)

    def start(self, timeout=10):
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        return WebServer.start(self, timeout)

    def argv(self):
        return [self.BINARY, "-DFOREGROUND", "-f", self.conf_path]


class Caddy(WebServer):
    """Caddy 2.6 (caddy run --adapter caddyfile) with php_fastcgi to a TCP server or unix//SOCK; admin off,
    auto_https off, HOME and XDG folders in its own folder. Runs as the user running the tests. /app/* is an
    application folder outside the docroot as Caddy's users serve one (handle_path /app/* { root * ALIAS_DIR
    php_fastcgi ... }: the prefix is stripped)."""

    NAME = "caddy"
    BINARY = CADDY
    LOGS = ("stdout.log", "access.log")
    STOP_SIGNAL = signal.SIGINT

    def __init__(self, ws, server, extra=""):
        WebServer.__init__(self, ws, server)
        self.extra = extra
        self.alias_dir = make_alias_dir(ws)
        self.conf_path = os.path.join(self.dir, "Caddyfile")

    def upstream(self):
        target = self.fcgi_target(self.server)
        if target[0] == "unix":
            return "unix/" + target[1]
        return "%s:%d" % target[1:]

    def conf(self):
        return """\
{{
    admin off
    auto_https off
    storage file_system {d}/storage
}}
http://127.0.0.1:{port} {{
    log {{
        output file {d}/access.log
    }}
    handle_path /app/* {{
        root * {alias}
        php_fastcgi {upstream}
    }}
    handle {{
        root * {docroot}
        php_fastcgi {upstream}
    }}
{extra}
}}
""".format(d=self.dir, port=self.port, docroot=self.ws.docroot, alias=self.alias_dir, upstream=self.upstream(),
           extra=self.extra)

    def env(self):
        env = WebServer.env(self)
        env.update(HOME=self.dir, XDG_DATA_HOME=os.path.join(self.dir, "data"),
                   XDG_CONFIG_HOME=os.path.join(self.dir, "config"))
        return env

    def argv(self):
        return [self.BINARY, "run", "--adapter", "caddyfile", "--config", self.conf_path]


class Lighttpd(WebServer):
    """lighttpd 1.4 (lighttpd -D -f CONF) with mod_fastcgi as Debian's
    /etc/lighttpd/conf-available/15-fastcgi-php-fpm.conf sets it: ".php" => "socket" => SOCK,
    "broken-scriptfilename" => "enable"; for a TCP server "host"/"port" in place of "socket". The rest from
    Debian's lighttpd.conf (modules, http-parseopts, index-file.names ...). As root it runs as www-data.
    /app is an alias.url to a folder outside the docroot, as Debian's phpmyadmin package sets it up."""

    NAME = "lighttpd"
    BINARY = LIGHTTPD
    LOGS = ("stdout.log", "error.log")
    STOP_SIGNAL = signal.SIGINT  # graceful: finish the requests in flight

    def __init__(self, ws, server, extra=""):
        WebServer.__init__(self, ws, server)
        self.extra = extra
        self.alias_dir = make_alias_dir(ws)
        self.conf_path = os.path.join(self.dir, "lighttpd.conf")

    def conf(self):
        target = self.fcgi_target(self.server)
        if target[0] == "unix":
            backend = '"socket" => "%s",' % target[1]
        else:
            backend = '"host" => "%s", "port" => %d,' % target[1:]
        user = ""
        if os.geteuid() == 0:
            user = 'server.username = "%s"\nserver.groupname = "%s"\n' % (WEB_USER, WEB_USER)
        return """\
server.modules = (
    "mod_indexfile",
    "mod_access",
    "mod_alias",
    "mod_redirect",
    "mod_fastcgi",
)
server.document-root = "{docroot}"
server.upload-dirs = ( "{d}/uploads" )
server.errorlog = "{d}/error.log"
server.pid-file = "{d}/lighttpd.pid"
{user}server.bind = "127.0.0.1"
server.port = {port}
server.http-parseopts = (
  "header-strict"           => "enable",
  "host-strict"             => "enable",
  "host-normalize"          => "enable",
  "url-normalize-unreserved"=> "enable",
  "url-normalize-required"  => "enable",
  "url-ctrls-reject"        => "enable",
  "url-path-2f-decode"      => "enable",
  "url-path-dotseg-remove"  => "enable",
)
index-file.names = ( "index.php", "index.html" )
url.access-deny = ( "~", ".inc" )
static-file.exclude-extensions = ( ".php", ".pl", ".fcgi" )
mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain" )

# Debian's conf-available/15-fastcgi-php-fpm.conf
fastcgi.server += ( ".php" =>
    ((
        {backend}
        "broken-scriptfilename" => "enable"
    ))
)
# Debian's /etc/phpmyadmin/lighttpd.conf
alias.url += ( "/app" => "{alias}" )
{extra}
server.modules += ( "mod_dirlisting", "mod_staticfile" )
""".format(d=self.dir, docroot=self.ws.docroot, user=user, port=self.port, backend=backend, extra=self.extra,
           alias=self.alias_dir)

    def start(self, timeout=10):
        os.makedirs(os.path.join(self.dir, "uploads"), exist_ok=True)
        if os.geteuid() == 0:
            # lighttpd opens its error log after it has become www-data
            for p in (self.dir, os.path.join(self.dir, "uploads")):
                shutil.chown(p, WEB_USER, WEB_USER)
        return WebServer.start(self, timeout)

    def argv(self):
        return [self.BINARY, "-D", "-f", self.conf_path]


# ---------------------------------------------------------------------------------------------------------
# A FastCGI recorder: what a web server sends, exactly


class FcgiRecorder:
    """A FastCGI responder in Python that records every request's PARAMS (name, value) pairs, in order, as
    bytes, and answers each with the same 200 response. Listens on a free 127.0.0.1 port, or on the unix socket
    path given (mode 0666, so a web server's www-data workers can connect). Keeps a connection when the client
    asks (FCGI_KEEP_CONN). Stand-in for a Server behind a web server: it has address() and unix_path()."""

    RESPONSE = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nrecorded\n"

    def __init__(self, ws, unix_path=None):
        self.ws = ws
        self._unix_path = unix_path
        self.port = None if unix_path else free_port()
        self.requests = []  # {"params": [(name, value)], "stdin": bytes, "conn": n, "keep_conn": bool}
        self.connections = 0
        self.errors = []
        self._lock = threading.Lock()
        self._sock = None
        self._stopping = threading.Event()
        _processes.append(self)

    def unix_path(self, name="www"):
        return self._unix_path

    def address(self):
        return self._unix_path or "127.0.0.1:%d" % self.port

    def start(self):
        if self._unix_path:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.bind(self._unix_path)
            os.chmod(self._unix_path, 0o666)
        else:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                n = self.connections
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    @staticmethod
    def _read_exact(conn, n, buf):
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk
        return buf[:n], buf[n:]

    def _serve(self, conn, n):
        conn.settimeout(60)
        buf = b""
        current = {}  # request id -> {"params": bytes, "stdin": bytes, "keep_conn": bool}
        try:
            while True:
                head, buf = self._read_exact(conn, 8, buf)
                if head is None:
                    return
                _, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", head)
                content, buf = self._read_exact(conn, clen + plen, buf)
                if content is None:
                    return
                content = content[:clen]
                if rtype == FCGI_BEGIN_REQUEST:
                    _, flags = struct.unpack(">HB5x", content)
                    current[rid] = {"params": b"", "stdin": b"", "keep_conn": bool(flags & FCGI_KEEP_CONN),
                                    "params_done": False}
                elif rtype == FCGI_GET_VALUES:
                    conn.sendall(fcgi_record(FCGI_GET_VALUES_RESULT, 0))
                elif rtype == FCGI_PARAMS and rid in current:
                    if content:
                        current[rid]["params"] += content
                    else:
                        current[rid]["params_done"] = True
                elif rtype == FCGI_STDIN and rid in current:
                    if content:
                        current[rid]["stdin"] += content
                        continue
                    req = current.pop(rid)
                    with self._lock:
                        self.requests.append({"params": parse_pair_list(req["params"]), "stdin": req["stdin"],
                                              "conn": n, "keep_conn": req["keep_conn"]})
                    conn.sendall(fcgi_stream(FCGI_STDOUT, rid, self.RESPONSE)
                                 + fcgi_record(FCGI_END_REQUEST, rid, struct.pack(">IB3x", 0, 0)))
                    if not req["keep_conn"]:
                        return
                elif rtype == FCGI_ABORT_REQUEST:
                    current.pop(rid, None)
                    conn.sendall(fcgi_record(FCGI_END_REQUEST, rid, struct.pack(">IB3x", 0, 0)))
        except Exception as e:  # shown with the logs of a failed test
            self.errors.append("connection %d: %r" % (n, e))
        finally:
            conn.close()

    def take(self):
        """The requests recorded so far, forgotten by the recorder."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def stop(self):
        self._stopping.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            if self._unix_path:
                try:
                    os.unlink(self._unix_path)
                except OSError:
                    pass

    def log_text(self):
        return "\n".join(self.errors)

    def describe(self):
        return "FastCGI recorder on %s" % self.address()


def connected_unix_inodes(path):
    """Inodes of the accepted (server side) connections on the unix socket path, from /proc/net/unix (state
    03, connected, and the path: the client's end has none)."""
    out = set()
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == path and fields[5] == "03":
                    out.add(fields[6])
    except OSError:
        pass
    return out


def parse_pair_list(data):
    """FastCGI name-value pairs -> [(name bytes, value bytes)] in the order sent (parse_pairs keeps the last)."""
    out, i = [], 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]]
        i += lens[0]
        out.append((name, data[i:i + lens[1]]))
        i += lens[1]
    return out


def server_connections(server):
    """Established TCP connections to server.port, counted from /proc/net/tcp (server side)."""
    n = 0
    port_hex = "%04X" % server.port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if local.endswith(":" + port_hex) and state == "01":
                        n += 1
        except OSError:
            pass
    return n


# ---------------------------------------------------------------------------------------------------------
# Test case base and main


class TestCase(unittest.TestCase):
    """Base: one Workspace and one Server per class. Override POOL / GLOBAL in subclasses."""

    POOL = None
    GLOBAL = None
    START_SERVER = True

    @classmethod
    def setUpClass(cls):
        # The workspace is removed at exit, after the logs of a failed run have been shown.
        cls.ws = Workspace(cls.__name__.lower())
        cls.server = None
        if cls.START_SERVER:
            cls.server = cls.start_server(cls.POOL, cls.GLOBAL)

    @classmethod
    def start_server(cls, pool=None, global_=None):
        s = Server(cls.ws, pool, global_)
        cls.addClassCleanup(s.stop)
        s.start()
        return s

    @classmethod
    def start_nginx(cls, server=None, extra_server=""):
        n = Nginx(cls.ws, server or cls.server, extra_server)
        cls.addClassCleanup(n.stop)
        n.start()
        return n

    def params(self, script, **kw):
        return cgi_params(self.ws, script, **kw)

    def cgi(self, script, body=b"", server=None, **kw):
        return cgi_fcgi(server or self.server, cgi_params(self.ws, script, body=body, **kw), body)

    def raw(self, script, body=b"", server=None, **kw):
        return fcgi_request(server or self.server, cgi_params(self.ws, script, body=body, **kw), body)[0]

    def assertServes(self, server=None, msg=""):
        """A plain request still gets the exact expected answer."""
        r = self.cgi("/hello.php", server=server)
        self.assertEqual((r.status, r.body), (200, b"hello\n"), msg)


def _cleanup_all():
    for p in reversed(_processes):
        try:
            p.stop()
        except Exception:
            pass
    for w in _workspaces:
        w.cleanup()


atexit.register(_cleanup_all)


def _on_signal(signo, frame):
    # meson's timeout (SIGTERM) or ^C: leave through sys.exit so atexit stops the servers we started.
    sys.stderr.write("[%s] signal %d: stopping the servers\n" % (SERVER, signo))
    sys.exit(1)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def _dump_logs():
    for p in _processes:
        text = p.log_text()
        if text:
            tail = text[-6000:]
            sys.stderr.write("\n----- %s -----\n%s\n" % (p.describe(), tail))


def skip_file(reason):
    print("SKIP: " + reason)
    sys.exit(EXIT_SKIP)


def main():
    """unittest.main, with the process exit status meson expects and the servers' logs on failure."""
    log("server under test: %s%s" % (SERVER, (" (" + os.environ.get("FPMD", "$FPMD unset") + ")")
                                          if IS_FPMD else " (" + PHP_FPM + ")"))
    for tool in (CGI_FCGI, NGINX) + ((PHP_FPM,) if IS_PHP_FPM else ()):
        if not os.access(tool, os.X_OK):
            sys.stderr.write("missing %s (install libfcgi-bin, nginx, php8.2-fpm)\n" % tool)
            sys.exit(1)
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    if not ok:
        try:
            _dump_logs()
        except Exception:
            traceback.print_exc()
    _cleanup_all()
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------------------------------------
# Request bodies


class Multipart:
    """A multipart/form-data body built in pieces, so a large file can be streamed without being held whole."""

    def __init__(self, boundary="----fpmd-test-boundary-7MA4YWxkTrZu0gW"):
        self.boundary = boundary
        self.pieces = []  # bytes or (iterable factory, length)

    @property
    def content_type(self):
        return "multipart/form-data; boundary=" + self.boundary

    def field(self, name, value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        self.pieces.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                            % (self.boundary, name)).encode() + value + b"\r\n")
        return self

    def file(self, name, filename, data, content_type="application/octet-stream", length=None):
        """data: bytes, or a function returning an iterable of bytes chunks totalling length bytes."""
        head = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (self.boundary, name, filename, content_type)).encode()
        self.pieces.append(head)
        if isinstance(data, bytes):
            self.pieces.append(data)
        else:
            self.pieces.append((data, length))
        self.pieces.append(b"\r\n")
        return self

    def _end(self):
        return ("--%s--\r\n" % self.boundary).encode()

    def __len__(self):
        return sum(len(p) if isinstance(p, bytes) else p[1] for p in self.pieces) + len(self._end())

    def chunks(self):
        for p in self.pieces:
            if isinstance(p, bytes):
                yield p
            else:
                yield from p[0]()
        yield self._end()

    def bytes(self):
        return b"".join(self.chunks())


# ---------------------------------------------------------------------------------------------------------
# fpmd's process manager from outside: pools written from fpmd's own setting names, processes read from /proc


def proc_state(pid):
    """The one-letter state of /proc/PID/stat (R, S, Z ...), or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2:].split()[0].decode()


def children(pid):
    """The living children of pid (zombies, already dead, are left out), sorted."""
    return sorted(c for c, pp in _proc_ppids().items() if pp == pid and proc_state(c) not in (None, "Z"))


def proc_status(pid):
    """/proc/PID/status as {field: value text}, or {} when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                name, _, value = line.partition(":")
                out[name] = value.strip()
    except OSError:
        pass
    return out


def listen_queue(port):
    """Connections waiting in the accept queue of the socket listening on TCP port (rx_queue of its
    /proc/net/tcp line), or of the unix socket at a path (Recv-Q of `ss -xl`), or None when nothing listens
    there."""
    if isinstance(port, str):
        out = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[4] == port:
                return int(fields[2])
        return None
    port_hex = "%04X" % port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(":" + port_hex) and fields[3] == "0A":
                        return int(fields[4].split(":")[1], 16)
        except OSError:
            pass
    return None


def listening_inodes(port):
    """Socket inodes listening on TCP port (any address), from /proc/net/tcp and tcp6."""
    out = set()
    port_hex = "%04X" % port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(":" + port_hex) and fields[3] == "0A":
                        out.add(fields[9])
        except OSError:
            pass
    return out


def listening_unix_inodes(path):
    """Socket inodes listening on the unix socket path, from /proc/net/unix (flag __SO_ACCEPTCON)."""
    out = set()
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                    out.add(fields[6])
    except OSError:
        pass
    return out


def holds_socket(pid, inodes):
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def connect_refused(port):
    """True when nothing listens on 127.0.0.1:port any more."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class Endpoint:
    """What cgi_fcgi(), fcgi_request() and Nginx need of a server: a port (one pool of an FpmdServer), or the
    unix socket's path when the pool listens on one (fcgi_request only)."""

    def __init__(self, port, path=None):
        self.port = port
        self.path = path

    def address(self):
        """As Server.address(): the unix socket's path, else 127.0.0.1:PORT (what the web servers proxy to)."""
        return self.path or "127.0.0.1:%d" % self.port


def libconfig_lines(tree, indent):
    """A dict of settings as libconfig lines: nested dicts are groups, lists are arrays."""
    pad = " " * indent
    lines = []
    for k, v in tree.items():
        if v is None:
            continue
        if isinstance(v, dict):
            lines.append("%s%s = {" % (pad, k))
            lines.extend(libconfig_lines(v, indent + 2))
            lines.append("%s};" % pad)
        elif isinstance(v, (list, tuple)):
            lines.append("%s%s = [ %s ];" % (pad, k, ", ".join(_libconfig_scalar(x) for x in v)))
        else:
            lines.append("%s%s = %s;" % (pad, k, _libconfig_scalar(v)))
    return lines


class FpmdServer(Server):
    """fpmd with pool files written from dicts of fpmd's own settings ({"pm": {"mode": "dynamic", ...},
    "request_terminate_timeout": "1s", "user": "nobody", ...}), any number of pools (pool "www" on self.port,
    the others on ports of their own), and the files rewritten in place for reloads. fpmd only.

    Every pool gets name, listen.address, php_ini, a static pm of 2 and, when the tests run as root,
    allow_root = true; a setting given as None is left out (allow_root=None: not written). php_value and
    its siblings take dotted ini names, as Server's pool dict does."""

    POOL_BASE = {"pm": {"mode": "static", "max_children": 2}, "clear_env": True}

    def __init__(self, ws, pools=None, global_settings=None, log_level="info"):
        Server.__init__(self, ws, kind="fpmd")
        self.log_level = log_level
        self.global_settings = dict(global_settings or {})
        self.conf_dir = ws.path("fpmd-%d" % self.port)
        self.pool_settings = {}
        self.ports = {}
        for name, settings in (pools if pools is not None else {"www": {}}).items():
            self.set_pool(name, settings, write=False)

    # -- configuration ----------------------------------------------------------------------------------

    @property
    def conf_path(self):
        return os.path.join(self.conf_dir, "fpmd.conf")

    def pool_path(self, name):
        return os.path.join(self.conf_dir, "pool.d", name + ".conf")

    def set_pool(self, name, settings, write=True):
        """Adds or replaces pool name (its port is kept across calls); write=True rewrites the files."""
        if name not in self.ports:
            self.ports[name] = self.port if name == "www" else free_port()
        self.pool_settings[name] = dict(settings)
        if write:
            self.write_config()
        return self.ports[name]

    def remove_pool(self, name, write=True):
        del self.pool_settings[name]
        if write:
            self.write_config()

    def endpoint(self, name="www"):
        return Endpoint(self.ports[name], self.unix_path(name))

    def pool_text(self, name):
        s = {"name": name, "listen": {"address": "127.0.0.1:%d" % self.ports[name]}, "php_ini": PHP_INI}
        s.update(self.POOL_BASE)
        if os.geteuid() == 0:
            s["allow_root"] = True
        s.update(self.pool_settings[name])
        for group in ("php_value", "php_admin_value", "php_flag", "php_admin_flag"):
            if s.get(group):
                s[group] = _ini_tree(s[group])
        return "\n".join(["pool = {"] + libconfig_lines(s, 2) + ["};"]) + "\n"

    def global_text(self):
        g = {"log_level": self.log_level, "include_dir": "pool.d", "php_ini": PHP_INI,
             "process_control_timeout": "%ds" % self.glob["process_control_timeout"]}
        g.update(self.global_settings)
        return "\n".join(libconfig_lines(g, 0)) + "\n"

    @staticmethod
    def write_file(path, text):
        """Replaces path at once (a reload never reads half a file); the temporary name is not a *.conf."""
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    def write_config(self):
        os.makedirs(os.path.join(self.conf_dir, "pool.d"), exist_ok=True)
        self.write_file(self.conf_path, self.global_text())
        for name in self.pool_settings:
            self.write_file(self.pool_path(name), self.pool_text(name))
        for f in os.listdir(os.path.join(self.conf_dir, "pool.d")):
            if f.endswith(".conf") and f[:-5] not in self.pool_settings:
                os.unlink(os.path.join(self.conf_dir, "pool.d", f))

    def argv(self):
        fpmd = os.environ.get("FPMD")
        return [os.path.abspath(fpmd) if fpmd else "", "--config", self.conf_path]

    def _write_fpmd(self):
        self.write_config()
        return self.argv()

    def _write_php_fpm(self):
        raise RuntimeError("FpmdServer runs fpmd only")

    def initial_workers(self, name="www"):
        """How many workers the pool starts with (fpmd's defaults for what the settings leave out)."""
        pm = self.pool_settings[name].get("pm", self.POOL_BASE["pm"])
        mode = pm.get("mode", "dynamic")
        max_children = pm.get("max_children", 5)
        if mode == "static":
            return max_children
        if mode == "ondemand":
            return 0
        lo = pm.get("min_spare_servers", 1)
        hi = pm.get("max_spare_servers", min(max(3, lo), max_children))
        return min(pm.get("start_servers", lo + (hi - lo) // 2), max_children)

    def _wait_accepting(self, timeout):
        """Until fpmd says every pool serves. Not by connecting, as Server does: a connection makes an ondemand
        pool spawn a worker."""
        ready = r"^fpmd\[\d+\]: notice: fpmd \S+ ready: \d+ pools? serving\.$"
        if not wait_for(lambda: self.log_find(ready) or self.proc.poll() is not None, max(timeout, 15)):
            raise RuntimeError("fpmd did not report ready within %ds; its output:\n%s"
                               % (max(timeout, 15), self.log_text()))
        if not self.log_find(ready):
            raise RuntimeError("fpmd exited with status %s before it was ready; its output:\n%s"
                               % (self.proc.returncode, self.log_text()))

    def _wait_started(self):
        """Until the pools' first workers exist as processes (fpmd says ready once it has asked for them), or
        fails with fpmd's log."""
        for name in self.pool_settings:
            n = self.initial_workers(name)
            if not wait_for(lambda: len(self.pool_workers(name)) >= n, 5):
                raise RuntimeError("pool %s: %d workers, not %d, 5s after ready; fpmd's output:\n%s"
                                   % (name, len(self.pool_workers(name)), n, self.log_text()))

    # -- processes --------------------------------------------------------------------------------------

    def leaders(self, name="www"):
        """The pool's leaders: children of the supervisor leading a process group of their own and holding the
        pool's listening socket (two while a reload or an emergency restart replaces a generation)."""
        if not self.alive():
            return []
        # The socket is kept across generations, so its inode is read once: /proc/net/tcp is produced in
        # pieces and can miss a line while connections come and go. A pool removed and added again has a new
        # socket: read again when no leader holds the one known.
        cache = self.__dict__.setdefault("_inodes", {})

        def holding(inodes):
            return [c for c in children(self.pid)
                    if (_proc_stat(c) or (0, 0, 0))[1] == c and holds_socket(c, inodes)]

        found = holding(cache[name]) if name in cache else []
        if not found:
            path = self.unix_path(name)
            inodes = listening_unix_inodes(path) if path else listening_inodes(self.ports[name])
            found = holding(inodes)
            if found:
                cache[name] = inodes
        return found

    def unix_path(self, name="www"):
        """The pool's unix socket when its settings give one ({"listen": {"address": "/path"}}), else None (the
        pool listens on 127.0.0.1:self.ports[name])."""
        addr = ((self.pool_settings.get(name) or {}).get("listen") or {}).get("address")
        return addr if isinstance(addr, str) and addr.startswith("/") else None

    def leader(self, name="www"):
        """The pool's only leader, or None when there is none or more than one."""
        ls = self.leaders(name)
        return ls[0] if len(ls) == 1 else None

    def pool_workers(self, name="www"):
        """The pool's workers: the living children of its leaders, sorted."""
        return sorted(w for l in self.leaders(name) for w in children(l))

    # -- log --------------------------------------------------------------------------------------------

    def log_offset(self):
        return len(self.log_text())

    def log_lines(self, since=0):
        return self.log_text()[since:].splitlines()

    def log_find(self, regex, since=0):
        """Every match of regex (re.M: ^ and $ are line ends) in the log after offset since."""
        return list(re.finditer(regex, self.log_text()[since:], re.M))

    def wait_log(self, regex, since=0, timeout=10):
        """The first match of regex after offset since, waiting up to timeout; None if it never came."""
        found = wait_for(lambda: self.log_find(regex, since), timeout)
        return found[0] if found else None

    def reload(self, sig=signal.SIGHUP):
        """Sends the reload signal; returns the log offset from before it, for wait_log()."""
        offset = self.log_offset()
        self.signal(sig)
        return offset

    def reload_command(self, *pools, timeout=60):
        """`fpmd reload --pid PID [POOL...]` as an operator (or systemd's ExecReload=) runs it: it returns once
        the new generations serve; a CompletedProcess with returncode, stdout and stderr."""
        return subprocess.run([self.argv()[0], "reload", "--pid", str(self.pid)] + list(pools),
                              capture_output=True, text=True, timeout=timeout)


def fpmd_status(*args, timeout=15):
    """`fpmd status ARGS...` as an operator runs it: a CompletedProcess with returncode, stdout and stderr."""
    r = subprocess.run([os.path.abspath(os.environ["FPMD"]), "status"] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    log("fpmd status %s: exit %d, stderr %r" % (" ".join(map(str, args)), r.returncode, r.stderr))
    return r


def require_fpmd(what):
    """A file of fpmd-only tests: skipped (77) with its reason when the server under test is PHP-FPM."""
    if IS_PHP_FPM:
        skip_file("%s: fpmd-only (the harness writes PHP-FPM's pm as static only, and fpmd's settings, log "
                  "lines and process tree are what is tested)" % what)


def require_root(what):
    if os.geteuid() != 0:
        skip_file("%s needs root (user switch, chroot, allow_root)" % what)


class Sampler:
    """Calls fn every interval seconds in a thread and keeps (monotonic time, value), until stop()."""

    def __init__(self, fn, interval=0.05):
        self.fn = fn
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.fn()))
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.samples

    def values(self):
        return [v for _, v in self.samples]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_concurrently(fn, args_list, timeout=60):
    """fn(*args) for every args in args_list, each in a thread of its own; returns the results in order
    (an exception raised by fn is returned in its place)."""
    results = [None] * len(args_list)

    def run(i, args):
        try:
            results[i] = fn(*args)
        except Exception as e:  # reported by the caller, which asserts on the results
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return results


class FpmdTestCase(TestCase):
    """Base of the fpmd-only process-manager tests: no server per class; each test starts the FpmdServer it
    needs with fpmd(), stopped when the test ends."""

    START_SERVER = False

    def fpmd(self, pools=None, global_settings=None, log_level="info", start=True):
        s = FpmdServer(self.ws, pools, global_settings, log_level)
        self.addCleanup(s.stop)
        if start:
            s.start()
        return s

    def nginx(self, server, extra_server=""):
        n = Nginx(self.ws, server, extra_server)
        self.addCleanup(n.stop)
        n.start()
        return n
