#!/usr/bin/python3
"""Writes tests/unit/data/pathinfo-cases.txt: for every web server variant the integration suite runs
(harness.Nginx of most integration tests, test_apache.py, test_caddy.py, test_lighttpd.py) and every URL shape, (1) exactly the
FastCGI params the web server sends, recorded by harness.FcgiRecorder behind it, and (2) what PHP-FPM 8.2 makes
of them: the same web server in front of real PHP-FPM, reading info.php's output.

Run by hand, as root (Apache and lighttpd switch to www-data), on Debian 12 with apache2, caddy, lighttpd and
php8.2-fpm installed (.ci/install-deps):

    python3 tests/unit/gen-pathinfo-cases.py [OUTPUT]

Not part of meson test. The temporary docroot is written /srv/www, the Alias folder /srv/app; the ports and the
unix socket, which change from run to run, are written as fixed values (see the header of the output)."""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402

DOCROOT = "/srv/www"
ALIAS = "/srv/app"
SOCKET = "/run/php/php8.2-fpm.sock"
FCGI_PORT = 9000
WEB_PORT = 8080
REMOTE_PORT = 50000

# The variables tests/integration/php/info.php prints
INFO_KEYS = ("SCRIPT_NAME", "SCRIPT_FILENAME", "PHP_SELF", "PATH_INFO", "PATH_TRANSLATED", "DOCUMENT_ROOT",
             "REQUEST_URI", "QUERY_STRING", "ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME", "ORIG_PATH_INFO",
             "ORIG_PATH_TRANSLATED", "__FILE__")

URLS = ["/info.php", "/info.php?x=1", "/sub/info.php", "/info.php/foo/bar", "/info.php/foo/bar?x=1",
        "/info.php/caf%C3%A9/a%20b", "/sub/info.php/a%20b/c?y", "/", "/dir.php/", "/dir.php", "/nothere.php",
        "/nothere.php/foo"]
# CVE-2019-11043: a newline in the path info, which nginx's fastcgi_split_path_info regex does not cross (its
# PATH_INFO comes out empty) behind the documented location block without try_files (harness.Nginx's)
CVE_URLS = ["/info.php/PHP%0Ais_the_shortest?a=b", "/info.php/PHP_VALUE%0Asession.auto_start=1;;;?a",
            "/sub/info.php/x%0Ay/z"]
APP_URLS = ["/app/info.php", "/app/info.php?x=1", "/app/info.php/foo/bar", "/app/sub/info.php/a%20b/c?y",
            "/app/", "/app/nothere.php", "/app/nothere.php/foo"]

# name, web server class and Apache variant, pool on a unix socket, URLs
VARIANTS = [
    ("nginx-tcp", harness.Nginx, None, False, URLS + CVE_URLS),
    ("nginx-unix", harness.Nginx, None, True, URLS + CVE_URLS),
    ("apache-proxypassmatch-tcp", harness.Apache, "proxypassmatch", False, URLS),
    ("apache-sethandler-unix", harness.Apache, "sethandler", True, URLS),
    ("apache-generic-unix", harness.Apache, "generic", True, URLS),
    ("apache-reuse-unix", harness.Apache, "reuse", True, URLS),
    ("apache-alias-unix", harness.Apache, "alias", True, URLS + APP_URLS),
    ("apache-generic-alias-unix", harness.Apache, "generic-alias", True, URLS + APP_URLS),
    ("caddy-tcp", harness.Caddy, None, False, URLS + APP_URLS),
    ("caddy-unix", harness.Caddy, None, True, URLS + APP_URLS),
    ("lighttpd-tcp", harness.Lighttpd, None, False, URLS + APP_URLS),
    ("lighttpd-unix", harness.Lighttpd, None, True, URLS + APP_URLS),
]

# The fixture tree: the docroot and the Alias folder hold just what the URLs reach
DOCROOT_FILES = ("info.php", "index.php", "sub/info.php", "dir.php/index.php")


def escape(value):
    """C-style: backslash and newline escaped, other control bytes as \\xHH; UTF-8 as it is."""
    out = bytearray()
    for b in value:
        if b == 0x5C:
            out += b"\\\\"
        elif b == 0x0A:
            out += b"\\n"
        elif b < 0x20 or b == 0x7F:
            out += b"\\x%02x" % b
        else:
            out.append(b)
    return bytes(out)


class Normaliser:
    """Replaces what changes from run to run: the workspace paths, the ports, the unix socket."""

    def __init__(self, ws):
        self.pairs = [(ws.docroot.encode(), DOCROOT.encode()), (ws.path("app").encode(), ALIAS.encode())]
        self.web_port = None
        self.fcgi = None

    def set_run(self, web, server):
        self.web_port = web.port
        self.fcgi = server.address()

    def __call__(self, name, value):
        for old, new in self.pairs:
            value = value.replace(old, new)
        if self.fcgi is None:
            pass
        elif self.fcgi.startswith("/"):
            value = value.replace(self.fcgi.encode(), SOCKET.encode())
        else:
            value = value.replace(self.fcgi.encode(), b"127.0.0.1:%d" % FCGI_PORT)
        value = value.replace(b"127.0.0.1:%d" % self.web_port, b"127.0.0.1:%d" % WEB_PORT)
        if name == b"SERVER_PORT" and value == b"%d" % self.web_port:
            value = b"%d" % WEB_PORT
        if name == b"REMOTE_PORT":
            value = b"%d" % REMOTE_PORT
        return value


def make_fixture(ws):
    shutil.rmtree(ws.docroot)
    for f in DOCROOT_FILES:
        os.makedirs(os.path.dirname(os.path.join(ws.docroot, f)), exist_ok=True)
        shutil.copy(os.path.join(harness.PHP_DIR, f), os.path.join(ws.docroot, f))
    harness.make_alias_dir(ws)


def tree_lines(ws, norm):
    files, dirs = [], []
    for root in (ws.docroot, ws.path("app")):
        for d, subdirs, names in os.walk(root):
            dirs.append(norm(b"", d.encode()))
            files.extend(norm(b"", os.path.join(d, n).encode()) for n in names)
    return [b"file " + f for f in sorted(files)] + [b"dir " + d for d in sorted(dirs)]


def web_server(cls, apache_variant, ws, server):
    return cls(ws, server, apache_variant) if cls is harness.Apache else cls(ws, server)


def record_params(ws, cls, apache_variant, unix, urls, norm):
    """URL -> the list of requests the web server sent for it: [[(name, value)]] (normalised)."""
    rec = harness.FcgiRecorder(ws, ws.path("rec.sock") if unix else None).start()
    web = web_server(cls, apache_variant, ws, rec)
    out = {}
    try:
        web.start()
        norm.set_run(web, rec)
        for url in urls:
            rec.take()
            web.request("GET", url)
            out[url] = [[(k, norm(k, v)) for k, v in r["params"]] for r in rec.take()]
        if rec.errors:
            raise RuntimeError("recorder: %s" % rec.errors)
    finally:
        web.stop()
        rec.stop()
    return out


def php_fpm_answers(ws, cls, apache_variant, unix, urls, norm):
    """URL -> (HTTP status, {variable: value or None} when info.php ran, else None)."""
    server = harness.Server(ws, {"listen": ws.path("php.sock") if unix else None}, kind="php-fpm")
    out = {}
    try:
        server.start()
        web = web_server(cls, apache_variant, ws, server)
        try:
            web.start()
            norm.set_run(web, server)
            for url in urls:
                r = web.request("GET", url)
                info = None
                if r.status == 200 and r.headers.get("content-type") == "application/json":
                    j = r.json()
                    info = {k: None if j[k] is None else norm(k.encode(), j[k].encode()) for k in INFO_KEYS}
                out[url] = (r.status, info)
        finally:
            web.stop()
    finally:
        server.stop()
    return out


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: Apache and lighttpd drop to www-data, as Debian runs them")
    if not harness.php_fpm_available():
        sys.exit("missing %s (php8.2-fpm)" % harness.PHP_FPM)
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data", "pathinfo-cases.txt")

    ws = harness.Workspace("gen-pathinfo")
    make_fixture(ws)
    norm = Normaliser(ws)
    cases, unsent = [], []
    for name, cls, apache_variant, unix, urls in VARIANTS:
        harness.log("recording %s" % name)
        sent = record_params(ws, cls, apache_variant, unix, urls, norm)
        answers = php_fpm_answers(ws, cls, apache_variant, unix, urls, norm)
        for url in urls:
            requests = sent[url]
            status, info = answers[url]
            if not requests:
                unsent.append(b"#   %s GET %s: %d" % (name.encode(), url.encode(), status))
                continue
            if len(requests) != 1:
                raise RuntimeError("%s GET %s: %d FastCGI requests" % (name, url, len(requests)))
            lines = [b"case %s GET %s" % (name.encode(), url.encode())]
            lines += [b"param " + escape(k) + b"=" + escape(v) for k, v in requests[0]]
            if info is not None:
                for k in INFO_KEYS:
                    if info[k] is None:
                        lines.append(b"unset " + k.encode())
                    else:
                        lines.append(b"expect " + k.encode() + b"=" + escape(info[k]))
            lines += [b"status %d" % status, b"end"]
            cases.append(lines)

    head = [b"# generated by tests/unit/gen-pathinfo-cases.py; do not edit",
            b"# Web servers: Debian 12's nginx, apache2 (mod_proxy_fcgi), caddy, lighttpd (tests/integration/harness.py);",
            b"# expect/unset: PHP-FPM 8.2 (php8.2-fpm, Debian's php.ini) behind the same web server, from info.php.",
            b"# Rewritten from the run: docroot %s, Alias folder %s, unix socket %s, FastCGI TCP port %d,"
            % (DOCROOT.encode(), ALIAS.encode(), SOCKET.encode(), FCGI_PORT),
            b"# web server port %d, REMOTE_PORT %d. Caddy sends its params in random order (a Go map)."
            % (WEB_PORT, REMOTE_PORT),
            b"# No expect/unset lines: PHP-FPM did not run the script (status from PHP-FPM's refusal).",
            b"# Not sent to FastCGI at all (the web server answered itself: variant, URL, its status):"]
    head += unsent
    with open(output + ".tmp", "wb") as f:
        f.write(b"\n".join(head + tree_lines(ws, norm)) + b"\n")
        for lines in cases:
            f.write(b"\n".join(lines) + b"\n")
    os.replace(output + ".tmp", output)
    harness.log("wrote %d cases to %s" % (len(cases), output))
    harness._cleanup_all()


if __name__ == "__main__":
    main()
