"""What test_apps.py needs besides harness.py: a private mount namespace for the binds over the packages' state
folders, a MariaDB of the test's own, a small browser (cookies, redirects, forms) and web server configs made
of the packages' own files. Python 3 standard library only."""

import ctypes
import html
import html.parser
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse

import harness

CLONE_NEWNS = 0x00020000


# ---------------------------------------------------------------------------------------------------------
# A private mount namespace: the binds over /etc/mediawiki, /var/lib/dokuwiki/data ... exist for this process and
# its children only, and vanish with them. Nothing of the host's file system is changed.


MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_private_ns = []  # the namespace's inode once this process is in a private mount namespace of its own


def _mount_ns():
    return os.stat("/proc/self/ns/mnt").st_ino


def _mount(src, dst, flags):
    if _libc.mount(src, dst.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "mount(%s, %s, %#x): %s" % (src, dst, flags, os.strerror(errno)))


def enter_private_mount_namespace():
    """Moves this process (and all it starts from now on) into a mount namespace of its own in which no mount
    propagates back to the host (as mount --make-rprivate /). Returns None, or why it could not (no privilege).
    Once entered, a second call does nothing."""
    if _private_ns:
        return None
    if os.geteuid() != 0:
        return "needs root (a mount namespace with bind mounts over the packages' state folders)"
    before = _mount_ns()
    if _libc.unshare(CLONE_NEWNS) != 0:
        return "unshare(CLONE_NEWNS) failed: %s" % os.strerror(ctypes.get_errno())
    if _mount_ns() == before:
        raise RuntimeError("unshare(CLONE_NEWNS) succeeded but the mount namespace is the same")
    _mount(None, "/", MS_REC | MS_PRIVATE)
    with open("/proc/self/mountinfo") as f:
        shared = [line for line in f if " shared:" in line.split(" - ")[0]]
    if shared:
        # a bind made now would show on the host too: stop before making any
        raise RuntimeError("mounts still shared with the host after MS_REC|MS_PRIVATE:\n" + "".join(shared))
    _private_ns.append(_mount_ns())
    return None


def bind(src, dst):
    """Bind mounts src over dst in the private namespace; refuses anywhere else (the host's own namespace)."""
    if not _private_ns or _private_ns[0] != _mount_ns():
        raise RuntimeError("not in the private mount namespace: %s is not bound over %s" % (src, dst))
    _mount(src.encode(), dst, MS_BIND)


# ---------------------------------------------------------------------------------------------------------
# MariaDB of the test's own: mariadbd --no-defaults, datadir, socket and port in the workspace


class MariaDB:
    def __init__(self, ws):
        self.dir = ws.path("mariadb")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.port = harness.free_port()
        self.log_path = os.path.join(self.dir, "mariadbd.log")
        self.proc = None
        harness._processes.append(self)

    def options(self):
        # small: a 4 MiB redo log instead of 96 MiB, no binary log, no host name lookups
        return ["--no-defaults", "--datadir=" + self.datadir, "--user=root", "--skip-name-resolve",
                "--innodb-log-file-size=4M", "--innodb-buffer-pool-size=32M"]

    def start(self, timeout=30):
        os.makedirs(self.dir)
        # the socket is reached by the pool's workers (root) and by Apache's www-data workers never
        os.chmod(self.dir, 0o755)
        r = subprocess.run(["mariadb-install-db"] + self.options() + ["--skip-test-db",
                                                                     "--auth-root-authentication-method=socket"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n" + r.stdout.decode("utf-8", "replace"))
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["mariadbd"] + self.options() + [
            "--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
            "--pid-file=" + os.path.join(self.dir, "mariadbd.pid")], stdin=subprocess.DEVNULL, stdout=logf,
            stderr=logf, start_new_session=True)
        logf.close()
        self.started = harness._proc_stat(self.proc.pid)[2]
        ready = lambda: self.proc.poll() is not None or "ready for connections" in self.log_text()
        if not harness.wait_for(ready, timeout) or self.proc.poll() is not None:
            raise RuntimeError("mariadbd did not get ready:\n" + self.log_text())
        return self

    def sql(self, statements):
        """Runs SQL as root over the socket; returns the output (tab separated, no column names)."""
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B", "-e", statements],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("mariadb: %s\n%s" % (statements, r.stderr.decode("utf-8", "replace")))
        return r.stdout.decode("utf-8")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        harness.kill_group(self.proc.pid, self.started)
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
        return "mariadbd on 127.0.0.1:%d and %s" % (self.port, self.socket)


# ---------------------------------------------------------------------------------------------------------
# A browser: cookies by name and path, redirects followed by hand, forms read from the HTML


class Cookie:
    def __init__(self, name, value, path):
        self.name, self.value, self.path = name, value, path


def _default_path(request_path):
    """RFC 6265 5.1.4: the request path up to its last slash."""
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[:path.rfind("/")]


def _path_matches(request_path, cookie_path):
    path = request_path.split("?", 1)[0]
    if path == cookie_path:
        return True
    if path.startswith(cookie_path):
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    return False


class Browser:
    """Talks to one web server (harness.Nginx or harness.WebServer) as HOST (the Host header, default
    127.0.0.1:PORT), keeps cookies, follows redirects when asked. Responses are harness.Response with .url (the
    path asked for) and .history ([(status, Location)] of the redirects followed)."""

    def __init__(self, web, host=None):
        self.web = web
        self.host = host or "127.0.0.1:%d" % web.port
        self.cookies = {}  # (name, path) -> Cookie

    def origin(self):
        return "http://" + self.host

    def local_path(self, url, base="/"):
        """A URL as the path to request: absolute URLs must name this browser's host."""
        full = urllib.parse.urljoin(self.origin() + base, url)
        parts = urllib.parse.urlsplit(full)
        if "%s://%s" % (parts.scheme, parts.netloc) != self.origin():
            raise AssertionError("URL %r leaves %s" % (url, self.origin()))
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def cookie_header(self, path):
        found = [c for c in self.cookies.values() if _path_matches(path, c.path)]
        found.sort(key=lambda c: -len(c.path))
        return "; ".join("%s=%s" % (c.name, c.value) for c in found)

    def cookie(self, name):
        """The value of the cookie name (any path), or None."""
        for c in self.cookies.values():
            if c.name == name:
                return c.value
        return None

    def store_cookies(self, path, resp):
        for header in resp.header_values("Set-Cookie"):
            parts = [p.strip() for p in header.split(";")]
            name, _, value = parts[0].partition("=")
            attrs = {}
            for p in parts[1:]:
                k, _, v = p.partition("=")
                attrs[k.strip().lower()] = v.strip()
            cpath = attrs.get("path") or _default_path(path)
            expired = False
            if "max-age" in attrs:
                expired = int(attrs["max-age"]) <= 0
            elif "expires" in attrs:
                try:
                    t = time.mktime(time.strptime(attrs["expires"].replace("-", " "), "%a, %d %b %Y %H:%M:%S GMT"))
                    expired = t - time.timezone < time.time()
                except ValueError:
                    pass
            if expired:
                self.cookies.pop((name, cpath), None)
            else:
                self.cookies[(name, cpath)] = Cookie(name, value, cpath)

    def request(self, method, url, fields=None, body=None, headers=None, follow=True, base="/", multipart=False,
                files=()):
        """One request (fields: a form, sent urlencoded, or as multipart/form-data with multipart or files:
        [(name, filename, data, content type)]); with follow, the redirects after it (as a browser: 303, and
        301/302 after a POST, become GETs). Returns the last response."""
        path = self.local_path(url, base)
        history = []
        for _ in range(10):
            h = {"Host": self.host, "User-Agent": "fpmd-test-browser/1.0", "Accept": "*/*"}
            if fields is not None and (multipart or files):
                m = harness.Multipart()
                for k, v in fields:
                    m.field(k, v)
                for name, filename, data, ctype in files:
                    m.file(name, filename, data, ctype)
                body = m.bytes()
                h["Content-Type"] = m.content_type
            elif fields is not None:
                body = urllib.parse.urlencode(fields).encode()
                h["Content-Type"] = "application/x-www-form-urlencoded"
            cookies = self.cookie_header(path)
            if cookies:
                h["Cookie"] = cookies
            h.update(headers or {})
            resp = self.web.request(method, path, body=body, headers=h)
            resp.url = path
            resp.history = history
            self.store_cookies(path, resp)
            location = resp.headers.get("location")
            if not follow or resp.status not in (301, 302, 303, 307, 308) or not location:
                return resp
            history.append((resp.status, location))
            path = self.local_path(location, path)
            if resp.status in (301, 302, 303):
                method, fields, body, multipart, files = "GET", None, None, False, ()
            headers = None
        raise AssertionError("more than 10 redirects: %r" % history)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, fields, **kw):
        """fields: a dict or (name, value) pairs."""
        return self.request("POST", url, fields=list(fields.items()) if isinstance(fields, dict) else fields, **kw)

    def submit(self, resp, form, overrides=None, submit=None, **kw):
        """Submits a form of resp (a Form) as a browser does: its fields, overrides on top, the submit button
        named submit ((name, value)) if any, to its action (resolved against the page), by its method; files=
        [(name, filename, data, content type)] for its file inputs."""
        fields = list(form.fields)
        over = dict(overrides or {})
        fields = [(k, over.pop(k)) if k in over else (k, v) for k, v in fields]
        fields += list(over.items())
        if submit:
            fields.append(submit)
        action = form.attrs.get("action") or resp.url
        method = (form.attrs.get("method") or "get").upper()
        if method == "GET":
            path = self.local_path(action, resp.url).split("?", 1)[0]
            return self.get(path + "?" + urllib.parse.urlencode(fields), **kw)
        multipart = form.attrs.get("enctype", "").lower() == "multipart/form-data"
        return self.request("POST", action, fields=fields, base=resp.url, multipart=multipart, **kw)


class Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.fields = []  # (name, value) a browser would send, submit buttons left out
        self.names = []  # every named control, in order, buttons included

    def get(self, name):
        for k, v in self.fields:
            if k == name:
                return v
        return None

    def __repr__(self):
        return "Form(%r, %r)" % (self.attrs, self.fields)


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        html.parser.HTMLParser.__init__(self, convert_charrefs=True)
        self.forms = []
        self.form = None
        self.textarea = None
        self.select = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.form = Form(a)
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        name = a.get("name")
        if tag == "input" and name is not None:
            self.form.names.append(name)
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image", "button", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.form.fields.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "button" and name is not None:
            self.form.names.append(name)
        elif tag == "textarea" and name is not None:
            self.form.names.append(name)
            self.textarea = [name, ""]
        elif tag == "select" and name is not None:
            self.form.names.append(name)
            self.select = [name, None, None]  # name, first option, selected option
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select[1] is None:
                self.select[1] = value
            if "selected" in a:
                self.select[2] = value

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea is not None:
            value = self.textarea[1]
            # HTML drops one newline right after <textarea>
            self.form.fields.append((self.textarea[0], value[1:] if value.startswith("\n") else value))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            value = self.select[2] if self.select[2] is not None else self.select[1]
            if value is not None:
                self.form.fields.append((self.select[0], value))
            self.select = None


def forms(resp):
    """The forms of an HTML response."""
    p = _FormParser()
    p.feed(resp.body.decode("utf-8", "replace"))
    p.close()
    return p.forms


def find_form(resp, **attrs):
    """The one form whose attributes include attrs (id="loginform", name=...; action_contains=...)."""
    found = []
    for f in forms(resp):
        ok = True
        for k, v in attrs.items():
            if k == "action_contains":
                ok = ok and v in f.attrs.get("action", "")
            else:
                ok = ok and f.attrs.get(k) == v
        if ok:
            found.append(f)
    if len(found) != 1:
        raise AssertionError("%d forms match %r in %s (%d bytes, status %d): %r"
                             % (len(found), attrs, resp.url, len(resp.body), resp.status, forms(resp)))
    return found[0]


def title(resp):
    """The text of <title>, entities decoded, whitespace collapsed."""
    m = re.search(rb"<title[^>]*>(.*?)</title>", resp.body, re.S | re.I)
    if not m:
        return None
    return " ".join(html.unescape(m.group(1).decode("utf-8", "replace")).split())


# ---------------------------------------------------------------------------------------------------------
# Web servers with the packages' own configuration


class AppApache(harness.Apache):
    """Apache as Debian 12's apache2 package enables it (the modules of its default mods-enabled, plus
    proxy_fcgi for php8.2-fpm.conf), Debian's php8.2-fpm.conf SetHandler to the pool's unix socket (the harness's
    "sethandler" variant), and the application's own configuration (Include of the package's file) in extra."""

    MODULES = ("mpm_event", "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_core",
               "authz_host", "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime", "negotiation",
               "reqtimeout", "setenvif", "proxy", "proxy_fcgi")

    # Debian's apache2.conf grants /usr/share (the packages' Alias folders rely on it) and /var/www
    DEBIAN_DIRECTORIES = """\
# Debian's apache2.conf
<Directory /usr/share>
    AllowOverride None
    Require all granted
</Directory>
"""

    def __init__(self, ws, server, extra):
        harness.Apache.__init__(self, ws, server, "sethandler", self.DEBIAN_DIRECTORIES + extra)
        self.NAME = "apache-app"


class AppNginx(harness.Nginx):
    """nginx (one process, as harness.Nginx) with one server block of the application's: server_conf is the body
    of the server block after listen; upstream "php" is the pool (fastcgi_pass php). Debian's fastcgi.conf,
    fastcgi_params, snippets/ and mime.types are linked into its folder, so includes read as in /etc/nginx."""

    ETC_NGINX = ("fastcgi.conf", "fastcgi_params", "snippets", "mime.types")

    def __init__(self, ws, server, server_conf):
        harness.Nginx.__init__(self, ws, server)
        self.server_conf = server_conf

    def start(self, timeout=10):
        os.makedirs(self.dir, exist_ok=True)
        for name in self.ETC_NGINX:
            os.symlink(os.path.join("/etc/nginx", name), os.path.join(self.dir, name))
        return harness.Nginx.start(self, timeout)

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
    include mime.types;
    default_type application/octet-stream;
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 20m;
    fastcgi_read_timeout 60s;
    upstream php {{
        server {upstream};
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost 127.0.0.1;
{conf}
    }}
}}
""".format(d=d, upstream=self.upstream(), port=self.port, conf=self.server_conf)


def copytree(src, dst):
    """A copy of a package's state folder (symbolic links kept as links), owner and mode kept."""
    shutil.copytree(src, dst, symlinks=True)
    for root, dirs, files in os.walk(dst):
        for n in [root] + [os.path.join(root, f) for f in dirs + files]:
            rel = os.path.relpath(n, dst)
            st = os.lstat(os.path.join(src, rel) if rel != "." else src)
            os.lchown(n, st.st_uid, st.st_gid)


def copy_owner(src, dst):
    """dst gets src's owner and mode."""
    st = os.stat(src)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)
