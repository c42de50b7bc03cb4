"""systemd test harness for fpmd: a real systemd 252 booted in a container (Python 3 standard library only).

Each test file boots its own container(s) with systemd-nspawn, as /work/shared/SYSTEMD-TESTS.md describes:

    systemd-nspawn --directory=/ --volatile=yes --register=no --keep-unit --boot -M NAME --console=pipe
                   --bind-ro=BUILDDIR:/opt/fpmd  --bind-ro=/etc/php  --bind-ro=CONF:/etc/fpmd
                   --bind-ro=DOCROOT:/srv/www    --bind-ro=BIN:/usr/local/bin

- The root is a tmpfs with this machine's /usr read-only; /etc, /run, /var and /tmp start empty. At boot
  systemd-sysusers writes /etc/passwd, /etc/group and /etc/shadow from /usr/lib/sysusers.d, so root, nobody
  and www-data (uid/gid 33: Debian's systemd ships it in basic.conf) exist inside, with the host's ids, and the
  host's files need no bind. Binds: /etc/php (PHP's ini files), the test's configuration folder at /etc/fpmd
  (the unit's --config /etc/fpmd/fpmd.conf; bound read-only, edited from the host for reloads) and the
  docroot at /srv/www (0755 folders, 0644 files, readable by www-data).
- nspawn runs with SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 (pure cgroup v2 inside) in a host cgroup of its own,
  sdbox-NAME, created under the launching process's cgroup in the cgroup2 mount and in the name=systemd
  mount; nspawn moves itself to sdbox-NAME/supervisor and the container to sdbox-NAME/payload. stop() removes
  both trees.
- The binary: the generated fpmd.service runs @bindir@/fpmd (/usr/local/bin/fpmd with the default prefix).
  /usr is the host's, read-only, and has no fpmd to bind a file onto, so when the unit's ExecStart lives in
  /usr/local/bin or /usr/local/sbin a temporary folder holding only a symlink fpmd -> /opt/fpmd/src/fpmd is
  bound over that folder: the unit file runs exactly as generated, and the symlink follows rebuilds. For any
  other bindir (e.g. /usr/bin, which must not be hidden) a drop-in fpmd.service.d/exec.conf replaces only
  argv[0] of the unit's own ExecStart.
- Units: build/units/* are copied into the container's /run/systemd/system/, then `systemctl daemon-reload`.
- Cleanup: stop() kills PID 1, reaps nspawn and removes the sdbox folders. Because meson ends a test that
  times out with SIGTERM then SIGKILL 0.5 s later, every container also has a guard: a small process in a
  session of its own (this file run with --guard) that waits on a pipe; if the test process dies without
  saying "done", it writes 1 to sdbox-NAME/cgroup.kill (nspawn and the whole container at once), removes the
  folders and the temporary folder.
- Reaching fpmd: a TCP socket inside is 127.0.0.1:PORT outside (shared network); a unix socket is
  /proc/PID1/root/run/... outside. Commands run inside with `nsenter -t PID1 -a`.

Exit status of a test file: 0 pass, 1 fail, 77 skip (not root, or systemd-nspawn missing: never for a missing
feature of fpmd). KEEP_TMP=1 keeps the temporary folders.
"""

import atexit
import json
import os
import re
import shlex
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

EXIT_SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
BUILDDIR = os.path.abspath(os.environ.get("BUILDDIR") or os.path.join(HERE, "..", "..", "build"))
FPMD = os.path.abspath(os.environ.get("FPMD") or os.path.join(BUILDDIR, "src", "fpmd"))
KEEP_TMP = os.environ.get("KEEP_TMP") == "1"
PHP_INI = "/etc/php/8.2/fpm/php.ini"

# Paths inside the container
C_BUILD = "/opt/fpmd"
C_CONF = "/etc/fpmd"
C_DOCROOT = "/srv/www"

# A deadline, not a wait: a container boots in seconds on the host, many times slower under tests/vm's software
# emulation, and slower still when the host is busy (both VM tests missed 30 s while fuzzers ran beside them)
BOOT_TIMEOUT = 120 if os.environ.get("FPMD_IN_VM") == "1" else 30

_containers = []


def log(msg):
    sys.stderr.write("[sd %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def skip_file(reason):
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(EXIT_SKIP)


def check_privileges():
    """Exit 77 when the container cannot be started here: not root, or no systemd-nspawn."""
    if os.geteuid() != 0:
        skip_file("systemd tests need root (systemd-nspawn)")
    if not shutil.which("systemd-nspawn"):
        skip_file("systemd-nspawn is missing (apt-get install systemd-container)")
    if not shutil.which("nsenter"):
        sys.stderr.write("nsenter is missing (util-linux)\n")
        sys.exit(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.05):
    """predicate() until it returns something true, or its last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def _proc_ppid_comm(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None, None
    comm = stat[stat.find(b"(") + 1:stat.rfind(b")")].decode("latin-1")
    return int(stat[stat.rfind(b")") + 2:].split()[1]), comm


# ---------------------------------------------------------------------------------------------------------
# Host cgroups: a folder of our own per container, in the cgroup2 mount and in the name=systemd mount


def _cgroup_dirs(name):
    """[(mount point + our cgroup + /sdbox-NAME, is_v2)] for the cgroup2 and name=systemd hierarchies."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            fstype, opts = rfields[0], rfields[2].split(",")
            if fstype == "cgroup2" and "v2" not in mounts:
                mounts["v2"] = fields[4]
            elif fstype == "cgroup" and "name=systemd" in opts and "systemd" not in mounts:
                mounts["systemd"] = fields[4]
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            num, ctrls, path = line.rstrip("\n").split(":", 2)
            if num == "0" and ctrls == "":
                own["v2"] = path
            elif "name=systemd" in ctrls.split(","):
                own["systemd"] = path
    out = []
    for key in ("v2", "systemd"):
        if key in mounts and key in own:
            out.append((os.path.join(mounts[key], own[key].lstrip("/"), "sdbox-" + name), key == "v2"))
    return out


def _cgroup_procs(path):
    pids = []
    for d, _, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    return pids


def _rmdir_quiet(path):
    try:
        os.rmdir(path)  # only when empty
    except OSError:
        pass


def _cgroup_remove(path, is_v2):
    """Kill what is left in a cgroup tree we created, then remove it bottom-up. True when gone."""
    if not os.path.isdir(path):
        return True
    if _cgroup_procs(path):
        if is_v2 and os.path.exists(os.path.join(path, "cgroup.kill")):
            try:
                with open(os.path.join(path, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                pass
        else:
            for pid in _cgroup_procs(path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        wait_for(lambda: not _cgroup_procs(path), 10)
    ok = True
    for d, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)  # EBUSY while the kernel finishes the last exits
        else:
            ok = False
    return ok and not os.path.isdir(path)


# ---------------------------------------------------------------------------------------------------------
# The container


class Container:
    """A systemd booted by systemd-nspawn on a tmpfs root, with fpmd's units installed."""

    def __init__(self, name, conf_dir, docroot, workdir):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,50}", name):
            raise ValueError("bad machine name %r" % name)
        self.name = name
        self.conf_dir = conf_dir
        self.docroot = docroot
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "nspawn-%s.log" % name)
        self.nspawn = None
        self.pid1 = None
        self.boot_seconds = None
        self.cgroups = _cgroup_dirs(name)
        # nspawn's (empty) mount propagation folder on the host; nspawn removes it unless it is killed itself
        self.propagate_dir = "/run/systemd/nspawn/propagate/" + name
        self.final_journal = ""
        self.exec_dropin = None
        _containers.append(self)

    # -- life ---------------------------------------------------------------------------------------------

    def _exec_start(self):
        with open(os.path.join(BUILDDIR, "units", "fpmd.service")) as f:
            for line in f:
                if line.startswith("ExecStart="):
                    return shlex.split(line[len("ExecStart="):].strip())
        raise RuntimeError("no ExecStart= in build/units/fpmd.service")

    def _binary_binds(self):
        """Binds that make the unit's ExecStart binary be the fpmd under test (see the module comment)."""
        rel = os.path.relpath(FPMD, BUILDDIR)
        if rel.startswith(".."):
            raise RuntimeError("$FPMD=%s is not inside $BUILDDIR=%s" % (FPMD, BUILDDIR))
        inside = os.path.join(C_BUILD, rel)
        argv = self._exec_start()
        bindir = os.path.dirname(argv[0])
        if bindir in ("/usr/local/bin", "/usr/local/sbin"):
            bindir_host = os.path.join(self.workdir, "bin")
            os.makedirs(bindir_host, exist_ok=True)
            os.chmod(bindir_host, 0o755)
            os.symlink(inside, os.path.join(bindir_host, os.path.basename(argv[0])))
            return ["--bind-ro=%s:%s" % (bindir_host, bindir)]
        self.exec_dropin = "[Service]\nExecStart=\nExecStart=%s\n" % " ".join(
            shlex.quote(a) for a in [inside] + argv[1:])
        return []

    def _enter_cgroup(self):
        # Runs in the child between fork and exec: nspawn starts inside sdbox-NAME in both hierarchies
        pid = str(os.getpid())
        for path, _ in self.cgroups:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(pid)

    def start(self):
        self._start_guard()
        for path, is_v2 in self.cgroups:
            if os.path.isdir(path):  # a leftover of an earlier run of the same name: ours to remove
                _cgroup_remove(path, is_v2)
            os.makedirs(path)
        argv = ["systemd-nspawn", "--directory=/", "--volatile=yes", "--register=no", "--keep-unit", "--boot",
                "-M", self.name, "--console=pipe",
                "--bind-ro=%s:%s" % (BUILDDIR, C_BUILD),
                "--bind-ro=/etc/php",
                "--bind-ro=%s:%s" % (self.conf_dir, C_CONF),
                "--bind-ro=%s:%s" % (self.docroot, C_DOCROOT)] + self._binary_binds()
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        t0 = time.monotonic()
        out = open(self.log_path, "ab")
        self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                       start_new_session=True, preexec_fn=self._enter_cgroup)
        out.close()
        self.pid1 = wait_for(self._find_pid1, BOOT_TIMEOUT)
        if not self.pid1:
            raise RuntimeError("container %s: no systemd under nspawn within %ds:\n%s"
                               % (self.name, BOOT_TIMEOUT, self.console_text()))
        state = wait_for(lambda: self._system_state() in ("running", "degraded") and self._system_state(),
                         BOOT_TIMEOUT, 0.1)
        if not state:
            raise RuntimeError("container %s did not boot within %ds (is-system-running: %s):\n%s"
                               % (self.name, BOOT_TIMEOUT, self._system_state(), self.console_text()))
        self.boot_seconds = time.monotonic() - t0
        log("container %s booted in %.2fs (%s), PID 1 is %d" % (self.name, self.boot_seconds, state, self.pid1))
        self.install_units()
        return self

    def _start_guard(self):
        # meson ends a test that times out with SIGTERM and, 0.5 s later, SIGKILL to its process group: too soon
        # to stop a container, and nspawn (a session of its own) would outlive us. The guard, in a session of
        # its own too, waits for EOF on its stdin: "done" from stop(), or nothing when this process died.
        args = {"cgroups": self.cgroups, "workdir": None if KEEP_TMP else self.workdir,
                "propagate": self.propagate_dir}
        self.guard = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--guard", json.dumps(args)],
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)

    def kill_now(self):
        """From a signal handler: SIGKILL the container's PID 1 without waiting (the guard does the rest)."""
        if self.nspawn is not None and self.pid1 and _proc_ppid_comm(self.pid1)[0] == self.nspawn.pid:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except OSError:
                pass

    def _find_pid1(self):
        if self.nspawn.poll() is not None:
            raise RuntimeError("systemd-nspawn exited with %s:\n%s" % (self.nspawn.returncode, self.console_text()))
        for d in os.listdir("/proc"):
            if d.isdigit():
                ppid, comm = _proc_ppid_comm(int(d))
                if ppid == self.nspawn.pid and comm == "systemd":
                    return int(d)
        return None

    def _system_state(self):
        r = self.run(["systemctl", "is-system-running"], check=False, timeout=10)
        return r.stdout.strip()

    def install_units(self):
        for unit in sorted(os.listdir(os.path.join(BUILDDIR, "units"))):
            with open(os.path.join(BUILDDIR, "units", unit)) as f:
                self.write("/run/systemd/system/" + unit, f.read())
        if self.exec_dropin:
            self.write("/run/systemd/system/fpmd.service.d/exec.conf", self.exec_dropin)
        self.daemon_reload()

    def daemon_reload(self):
        self.run(["systemctl", "daemon-reload"])

    def alive(self):
        return self.nspawn is not None and self.nspawn.poll() is None

    def stop(self):
        """Kill PID 1 (that ends everything inside), reap nspawn, remove our host cgroups. Idempotent."""
        if self.nspawn is not None:
            if self.nspawn.poll() is None and self.pid1:
                if _proc_ppid_comm(self.pid1)[0] == self.nspawn.pid:  # still ours, not a recycled pid
                    try:
                        os.kill(self.pid1, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                self.nspawn.wait(20)
            except subprocess.TimeoutExpired:
                log("systemd-nspawn %d did not exit after its PID 1 was killed, killing it" % self.nspawn.pid)
                self.nspawn.kill()
                try:
                    self.nspawn.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        for path, is_v2 in self.cgroups:
            if not _cgroup_remove(path, is_v2):
                log("could not remove %s" % path)
        _rmdir_quiet(self.propagate_dir)
        self.pid1 = None
        if getattr(self, "guard", None) is not None:
            try:
                self.guard.communicate(b"done", timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.guard = None

    # -- inside ----------------------------------------------------------------------------------------------

    def host_path(self, path):
        """The container's path as seen from the host (through PID 1's root)."""
        if not self.pid1:
            raise RuntimeError("container %s is not running" % self.name)
        return "/proc/%d/root%s" % (self.pid1, path)

    def write(self, path, text, mode=0o644):
        p = self.host_path(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def run(self, cmd, check=True, timeout=60, input=None):
        """cmd (a list, or a string for sh -c) inside the container; a CompletedProcess with text output."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        env = dict(os.environ, SYSTEMD_PAGER="", SYSTEMD_COLORS="0", LC_ALL="C.UTF-8", COLUMNS="400")
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "--"] + cmd, input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise RuntimeError("in %s: %s exited with %d\nstdout: %s\nstderr: %s"
                               % (self.name, " ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def systemctl(self, *args, check=True, timeout=60):
        return self.run(["systemctl", "--no-pager"] + list(args), check=check, timeout=timeout)

    def show(self, unit, *props):
        """{property: value} from systemctl show."""
        out = self.systemctl("show", unit, "-p", ",".join(props)).stdout
        d = {}
        for line in out.splitlines():
            k, _, v = line.partition("=")
            d[k] = v
        return d

    def prop(self, unit, name):
        return self.show(unit, name).get(name, "")

    def journal(self, *args):
        """journalctl -o json entries (dicts) matching args, e.g. ("-u", "fpmd")."""
        r = self.run(["journalctl", "--no-pager", "-o", "json"] + list(args), timeout=30)
        out = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if line:
                out.append(json.loads(line))
        return out

    def journal_text(self, *args):
        return self.run(["journalctl", "--no-pager", "-o", "short-monotonic"] + list(args),
                        check=False, timeout=30).stdout

    def processes(self):
        """[(pid, comm, args)] of every process in the container, as ps inside sees them."""
        out = []
        for line in self.run(["ps", "-e", "-o", "pid=,comm=,args="]).stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) >= 2:
                out.append((int(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
        return out

    def console_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-6000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def capture_logs(self):
        """The units' state and journal, kept for the report of a failed run (the container goes away)."""
        if not self.alive() or not self.pid1:
            return
        try:
            st = self.systemctl("status", "--full", "fpmd.service", "fpmd@*.socket", check=False).stdout
            text = st + "\n" + self.journal_text("-u", "fpmd.service", "-u", "fpmd@*.socket")
            # long lines (the journal tests write some) cut for the report
            self.final_journal = "\n".join(line if len(line) <= 400 else line[:400] + " [...]"
                                            for line in text.splitlines()[-300:])
        except Exception as e:
            self.final_journal = "(could not read the journal: %s)" % e

    # -- helpers of the cgroup, watchdog and fd store tests --------------------------------------------------

    def read(self, path, check=True):
        """The text of a file inside (read through nsenter, so /sys and /proc are the container's); None when
        check is False and it cannot be read."""
        r = self.run(["cat", path], check=check, timeout=30)
        return r.stdout if r.returncode == 0 else None

    def exists(self, path):
        return self.run(["test", "-e", path], check=False, timeout=30).returncode == 0

    def proc_table(self):
        """{pid: ProcInfo} of every process inside, read from the container's /proc in one call."""
        out = json.loads(self.run(["python3", "-c", _PROC_TABLE_PY]).stdout)
        return {int(pid): ProcInfo(int(pid), *fields) for pid, fields in out.items()}

    def fpmd_procs(self):
        """{pid: ProcInfo} of the fpmd processes inside: the supervisor, the leaders' zygote, leaders and workers
        (php-fpm of the machine's own units excluded). Leaders and workers are titled "fpmd-leader: pool NAME" and
        "fpmd-worker: pool NAME", the zygote "fpmd-zygote"."""
        return {pid: p for pid, p in self.proc_table().items()
                if p.argv and os.path.basename(p.argv[0].split(":")[0]) in FPMD_PROCESS_NAMES}

    def main_pid(self, unit="fpmd.service"):
        return int(self.prop(unit, "MainPID") or 0)

    def dropin(self, unit, name, text):
        """/run/systemd/system/UNIT.d/NAME with text, then daemon-reload."""
        self.write("/run/systemd/system/%s.d/%s" % (unit, name), text)
        self.daemon_reload()

    def remove_dropin(self, unit, name):
        self.run(["rm", "-f", "/run/systemd/system/%s.d/%s" % (unit, name)])
        self.daemon_reload()

    def wait_props(self, unit, want, timeout=30, interval=0.05):
        """Waits until systemctl show UNIT has every property of want (a dict); returns the last values read."""
        last = {}

        def match():
            last.clear()
            last.update(self.show(unit, *want))
            return all(last.get(k) == v for k, v in want.items())

        wait_for(match, timeout, interval)
        return dict(last)

    def cursor(self):
        """The journal's cursor now: messages(..., after=cursor) gives only the entries written after it."""
        for e in reversed(self.journal("-n", "1")):
            return e["__CURSOR"]
        return None

    def messages(self, *args, after=None):
        """MESSAGE of each journal entry matching args (after the cursor after, when given), as text.

        Not journalctl --after-cursor: systemd 252's skips the first matching entry when the cursor's own entry
        does not match the filters. The entries are compared by the sequence number in their cursors."""
        out = []
        for e in self.journal(*args):
            if after and not _cursor_after(e.get("__CURSOR", ""), after):
                continue
            m = e.get("MESSAGE", "")
            if isinstance(m, list):
                m = bytes(m).decode("utf-8", "replace")
            out.append(m)
        return out


def _cursor_fields(cursor):
    return dict(kv.split("=", 1) for kv in cursor.split(";") if "=" in kv)


def _cursor_after(cursor, ref):
    """Whether the journal entry of cursor comes after the one of ref: by sequence number within one sequence
    (s=), else by realtime (t=)."""
    a, b = _cursor_fields(cursor), _cursor_fields(ref)
    if a.get("s") and a.get("s") == b.get("s"):
        return int(a["i"], 16) > int(b["i"], 16)
    return int(a.get("t", "0"), 16) > int(b.get("t", "0"), 16)


FPMD_PROCESS_NAMES = ("fpmd", "fpmd-leader", "fpmd-worker", "fpmd-zygote")


class ProcInfo:
    """A process inside the container: ids, its cgroup v2 path (the "0::" line) and its argv."""

    def __init__(self, pid, ppid, pgid, sid, uid, state, cgroup, argv):
        self.pid, self.ppid, self.pgid, self.sid, self.uid = pid, ppid, pgid, sid, uid
        self.state, self.cgroup, self.argv = state, cgroup, argv

    @property
    def zygote(self):
        """fpmd's leaders' zygote: a child of the supervisor that is no leader"""
        return bool(self.argv) and self.argv[0] == "fpmd-zygote"

    def __repr__(self):
        return "ProcInfo(pid=%d, ppid=%d, pgid=%d, sid=%d, uid=%d, state=%s, cgroup=%s, argv=%r)" % (
            self.pid, self.ppid, self.pgid, self.sid, self.uid, self.state, self.cgroup, self.argv)


# Run inside by Container.proc_table(): {pid: [ppid, pgid, sid, uid, state, cgroup, argv]} as JSON
_PROC_TABLE_PY = r"""
import json, os
out = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % d, "rb") as f:
            stat = f.read()
        with open("/proc/%s/status" % d) as f:
            uid = [int(l.split()[1]) for l in f if l.startswith("Uid:")][0]
        with open("/proc/%s/cgroup" % d) as f:
            cg = [l.rstrip("\n")[3:] for l in f if l.startswith("0::")]
        with open("/proc/%s/cmdline" % d, "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0")[:-1]]
    except (OSError, IndexError):
        continue
    rest = stat[stat.rfind(b")") + 2:].split()
    out[d] = [int(rest[1]), int(rest[2]), int(rest[3]), uid, rest[0].decode(), cg[0] if cg else "", argv]
print(json.dumps(out))
"""


# ---------------------------------------------------------------------------------------------------------
# A minimal FastCGI client (responder role) over TCP or a unix socket


FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 1, 3, 4, 5, 6, 7


def _record(rtype, content=b"", rid=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), pad, 0) + content + b"\0" * pad


def _length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _pair(k, v):
    k, v = k.encode("latin-1"), str(v).encode("latin-1")
    return _length(len(k)) + _length(len(v)) + k + v


class FcgiResponse:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.app_status = None
        self.protocol_status = None
        self.status = None
        self.headers = {}
        self.body = b""
        self.t_connected = None  # seconds since the start of connect()
        self.t_first_byte = None
        self.t_end = None

    def parse(self):
        sep = self.stdout.find(b"\r\n\r\n")
        head, body = (self.stdout[:sep], self.stdout[sep + 4:]) if sep >= 0 else (b"", self.stdout)
        self.status = 200
        for line in head.split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            self.headers[k.strip().lower()] = v.strip()
            if k.strip().lower() == "status":
                self.status = int(v.split()[0])
        self.body = body
        return self

    def __repr__(self):
        return "FcgiResponse(%s, %r, stderr=%r, end=%s)" % (self.status, self.stdout[:300], self.stderr[:300],
                                                           self.protocol_status)


def params(script, query="", method="GET", body=b"", extra=None):
    """The params a web server sends for GET /script?query with the docroot at /srv/www (inside)."""
    p = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "fpmd-sd-tests",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "REQUEST_URI": script + ("?" + query if query else ""),
        "DOCUMENT_URI": script,
        "DOCUMENT_ROOT": C_DOCROOT,
        "SCRIPT_NAME": script,
        "SCRIPT_FILENAME": C_DOCROOT + script,
        "HTTP_HOST": "localhost",
        "REDIRECT_STATUS": "200",
    }
    if body or method == "POST":
        p["CONTENT_LENGTH"] = str(len(body))
        p["CONTENT_TYPE"] = "application/octet-stream"
    p.update(extra or {})
    return p


def fcgi_request(address, script, query="", body=b"", timeout=30, extra=None, on_first_byte=None,
                 on_sent=None):
    """One request on a new connection. address: (host, port) or a unix socket path. Returns FcgiResponse,
    raises on a connection error, a timeout or a connection closed before END_REQUEST. on_first_byte() is
    called when the first bytes of the response arrive, on_sent() once the whole request has been written."""
    res = FcgiResponse()
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    t0 = time.monotonic()
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        res.t_connected = time.monotonic() - t0
        pairs = b"".join(_pair(k, v) for k, v in params(script, query, "POST" if body else "GET", body,
                                                         extra).items())
        out = _record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        for i in range(0, len(pairs), 65535):
            out += _record(FCGI_PARAMS, pairs[i:i + 65535])
        out += _record(FCGI_PARAMS)
        for i in range(0, len(body), 65535):
            out += _record(FCGI_STDIN, body[i:i + 65535])
        out += _record(FCGI_STDIN)
        s.sendall(out)
        if on_sent:
            on_sent()
        buf = b""
        while True:
            while len(buf) < 8 or len(buf) < 8 + struct.unpack(">H", buf[4:6])[0] + buf[6]:
                chunk = s.recv(65536)
                if not chunk:
                    raise EOFError("connection closed before END_REQUEST (stdout so far: %r)" % res.stdout[:300])
                if res.t_first_byte is None:
                    res.t_first_byte = time.monotonic() - t0
                    if on_first_byte:
                        on_first_byte()
                buf += chunk
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == FCGI_STDOUT:
                res.stdout += content
            elif rtype == FCGI_STDERR:
                res.stderr += content
            elif rtype == FCGI_END_REQUEST:
                res.app_status, res.protocol_status = struct.unpack(">IB3x", content)
                res.t_end = time.monotonic() - t0
                return res.parse()


class RequestLoop(threading.Thread):
    """Requests one after another on new connections until stop(); counts and keeps the failures."""

    def __init__(self, address, script, expect, query=""):
        super().__init__(daemon=True)
        self.address, self.script, self.expect, self.query = address, script, expect, query
        self.ok = 0
        self.failures = []  # (time, description)
        self.bodies = {}
        self.answers = []  # (time the request was sent, body) of every answer that met expect
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                t = time.monotonic()
                r = fcgi_request(self.address, self.script, self.query, timeout=30)
                if r.status == 200 and self.expect(r.body):
                    self.ok += 1
                    self.bodies[r.body] = self.bodies.get(r.body, 0) + 1
                    self.answers.append((t, r.body))
                else:
                    self.failures.append((time.monotonic(), repr(r)))
            except Exception as e:
                self.failures.append((time.monotonic(), "%s: %s" % (type(e).__name__, e)))

    def stop(self):
        self._stop_event.set()
        self.join(60)


# ---------------------------------------------------------------------------------------------------------
# Test workspace: configuration folder (/etc/fpmd inside) and docroot (/srv/www inside)


GLOBAL_CONF = """\
log_level = "notice";
include_dir = "pool.d";
php_ini = "%s";
process_control_timeout = "10s";
""" % PHP_INI

POOL_CONF = """\
pool = {
  name = "www";
  user = "www-data";
  group = "www-data";
  php_ini = "%s";
  pm = { mode = "static"; max_children = 2; };
%s};
"""


def pool_conf(name="www", port=None, max_children=2, extra=""):
    """The text of a whole pool file: static pm, user www-data, PHP's fpm php.ini, listen.address
    127.0.0.1:port when port is given, and extra lines (libconfig) inside the pool group."""
    lines = ['name = "%s";' % name, 'user = "www-data";', 'group = "www-data";', 'php_ini = "%s";' % PHP_INI,
             'pm = { mode = "static"; max_children = %d; };' % max_children]
    if port is not None:
        lines.append('listen = { address = "127.0.0.1:%d"; };' % port)
    lines += [line for line in extra.splitlines() if line.strip()]
    return "pool = {\n%s};\n" % "".join("  %s\n" % line.strip() for line in lines)


class Workspace:
    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="fpmd-sd-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "etc")
        self.docroot = os.path.join(self.dir, "www")
        for d in (self.conf, os.path.join(self.conf, "pool.d"), self.docroot):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self.write_global()
        self.write_pool()

    def write_global(self, text=GLOBAL_CONF):
        self._write(os.path.join(self.conf, "fpmd.conf"), text)

    def write_pool(self, extra="", text=None):
        """pool.d/www.conf: the default pool (static, 2 workers, www-data, no listen address) + extra lines."""
        self._write(os.path.join(self.conf, "pool.d", "www.conf"), text if text is not None else POOL_CONF % (
            PHP_INI, "".join("  %s\n" % line for line in extra.splitlines() if line.strip())))

    def set_pools(self, files):
        """pool.d holds exactly files ({"www.conf": text}): others are removed."""
        pool_d = os.path.join(self.conf, "pool.d")
        for f in os.listdir(pool_d):
            if f not in files:
                os.unlink(os.path.join(pool_d, f))
        for f, text in files.items():
            self._write(os.path.join(pool_d, f), text)

    def script(self, name, code):
        self._write(os.path.join(self.docroot, name.lstrip("/")), code)

    @staticmethod
    def _write(path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)

    def cleanup(self):
        if KEEP_TMP:
            log("keeping " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# Test case base and main


class TestCase(unittest.TestCase):
    """One workspace and one booted container per class. SCRIPTS: {"/name.php": code}; POOL: extra pool lines;
    SOCKET_DROPIN: text of fpmd@www.socket.d/tcp.conf ({port} is replaced by cls.port), or None."""

    SCRIPTS = {"/hello.php": "<?php echo \"hello\\n\";\n"}
    POOL = ""
    SOCKET_DROPIN = "[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n"

    @classmethod
    def setUpClass(cls):
        short = re.sub(r"[^a-z0-9]", "", cls.__name__.lower())[:24]
        cls.ws = Workspace(short)
        cls.addClassCleanup(cls.ws.cleanup)
        for name, code in cls.SCRIPTS.items():
            cls.ws.script(name, code)
        cls.ws.write_pool(cls.POOL)
        cls.port = free_port()
        cls.address = ("127.0.0.1", cls.port)
        cls.box = Container("fpmdsd-%s-%d" % (short, os.getpid()), cls.ws.conf, cls.ws.docroot, cls.ws.dir)
        cls.addClassCleanup(cls.box.stop)
        cls.addClassCleanup(cls.box.capture_logs)  # class cleanups run last in, first out
        cls.box.start()
        if cls.SOCKET_DROPIN is not None:
            cls.box.write("/run/systemd/system/fpmd@www.socket.d/tcp.conf",
                          cls.SOCKET_DROPIN.replace("{port}", str(cls.port)))
            cls.box.daemon_reload()

    def request(self, script, **kw):
        return fcgi_request(self.address, script, **kw)

    def assertServes(self, msg=""):
        r = self.request("/hello.php")
        self.assertEqual((r.status, r.body), (200, b"hello\n"), msg)

    def status_text(self):
        return self.box.prop("fpmd.service", "StatusText")


def _cleanup_all():
    for c in reversed(_containers):
        try:
            c.stop()
        except Exception:
            traceback.print_exc()


def _on_signal(signo, frame):
    # meson's timeout (SIGTERM, then SIGKILL 0.5 s later) or ^C. unittest would swallow SystemExit raised
    # inside a test, so leave at once: kill the containers' PID 1 now, the guards remove the rest.
    sys.stderr.write("[sd] signal %d: killing the containers, exiting\n" % signo)
    for c in _containers:
        c.kill_now()
    os._exit(1)


def _guard(args):
    """A container's last resort (see Container._start_guard): cleans up unless told "done"."""
    if sys.stdin.buffer.read() == b"done":
        return
    for path, is_v2 in args["cgroups"]:  # cgroup.kill ends nspawn and everything in the container at once
        _cgroup_remove(path, is_v2)
    _rmdir_quiet(args["propagate"])
    if args["workdir"]:
        shutil.rmtree(args["workdir"], ignore_errors=True)


def main():
    check_privileges()
    if not os.access(FPMD, os.X_OK):
        sys.stderr.write("$FPMD=%s is not an executable (build first: ninja -C build)\n" % FPMD)
        sys.exit(1)
    log("fpmd under test: %s (build %s)" % (FPMD, BUILDDIR))
    atexit.register(_cleanup_all)
    for signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signo, _on_signal)
    try:
        prog = unittest.main(module="__main__", exit=False, verbosity=2)
        ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    finally:
        _cleanup_all()
    if not ok:
        for c in _containers:
            if c.final_journal:
                sys.stderr.write("\n----- container %s: fpmd units and journal -----\n%s\n"
                                 % (c.name, c.final_journal))
    sys.exit(0 if ok else 1)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--guard":
    _guard(json.loads(sys.argv[2]))
