#!/usr/bin/python3
"""Writes seed inputs for the libFuzzer targets of tests/fuzz into OUTDIR/NAME/ (default /tmp/fpmd-seeds):

  request, fcgi  the bytes nginx, Apache (mod_proxy_fcgi, enablereuse), Caddy and lighttpd send on their FastCGI
                 connections for a few requests (a GET with a query and PATH_INFO, cookies, a form POST, a 75 KiB
                 POST, a HEAD, a 5 KB header), recorded behind each by a harness.FcgiRecorder that keeps the raw
                 bytes; plus a few a web server would rarely send (GET_VALUES, an unknown management record, an
                 abort, a second request id, another role, a bad version). Needs root and the web servers.
  config         the pool files of tests/unit/data and conf.d
  pathinfo       the cases of tests/unit/data/pathinfo-*.txt in fuzz-pathinfo's format, and a few with options
  status         pages and queries in fuzz-status's format, and a scoreboard
  accesslog      PHP-FPM's formats, good and bad, with a request

tests/fuzz/corpus/NAME/ holds what `fuzz-NAME -merge=1 tests/fuzz/corpus/NAME OUTDIR/NAME` kept of them: the
smallest set with the same coverage (see README.md).

Usage: gen-corpus.py [--out OUTDIR] [NAME...]"""

import argparse
import glob
import os
import struct
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def write(outdir, name, data):
    os.makedirs(os.path.dirname(os.path.join(outdir, name)), exist_ok=True)
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------------------
# request, fcgi


class _Tap:
    """A socket that keeps a copy of what it receives"""

    def __init__(self, conn):
        self.conn = conn
        self.data = bytearray()

    def recv(self, n):
        d = self.conn.recv(n)
        self.data += d
        return d

    def __getattr__(self, name):
        return getattr(self.conn, name)


def raw_recorder(harness):
    class RawRecorder(harness.FcgiRecorder):
        """An FcgiRecorder that also keeps each connection's bytes, in the order connections end"""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.streams = []
            self.done = threading.Condition()

        def _serve(self, conn, n):
            tap = _Tap(conn)
            try:
                super()._serve(tap, n)
            finally:
                with self.done:
                    self.streams.append(bytes(tap.data))
                    self.done.notify_all()

    return RawRecorder


BIG_BODY = bytes(range(256)) * 300

REQUESTS = [
    ("GET", "/info.php?a=1&b=%20x", None, {}),
    ("GET", "/sub/info.php/foo/bar?q", None,
     {"Cookie": "a=b; c=d", "Accept-Language": "de-CH, en;q=0.5", "User-Agent": "fpmd-seed/1.0"}),
    ("POST", "/echo.php", b"name=value&x=%26", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/echo.php", BIG_BODY, {"Content-Type": "application/octet-stream"}),
    ("HEAD", "/index.php", None, {}),
    ("GET", "/info.php", None, {"X-Long": "v" * 5000}),
]


def capture(outdir):
    import harness

    if os.geteuid() != 0:
        sys.exit("request: run as root (Apache and lighttpd drop to www-data)")
    servers = [
        ("nginx", lambda ws, rec: harness.Nginx(ws, rec)),
        ("apache", lambda ws, rec: harness.Apache(ws, rec, "reuse")),
        ("caddy", lambda ws, rec: harness.Caddy(ws, rec)),
        ("lighttpd", lambda ws, rec: harness.Lighttpd(ws, rec)),
    ]
    Recorder = raw_recorder(harness)
    for name, make in servers:
        ws = harness.Workspace("fuzz-seeds")
        harness.make_alias_dir(ws)
        rec = Recorder(ws).start()
        web = make(ws, rec)
        try:
            web.start()
            conn = web.connection()
            for method, path, body, headers in REQUESTS:
                web.request(method, path, body=body, headers=dict(headers), conn=conn)
            conn.close()
        finally:
            web.stop()
            with rec.done:
                rec.done.wait_for(lambda: len(rec.streams) >= rec.connections, timeout=10)
            rec.stop()
            ws.cleanup()
        if rec.errors:
            sys.exit("%s: recorder: %s" % (name, rec.errors))
        for i, data in enumerate(rec.streams):
            for target in ("request", "fcgi"):
                write(outdir, "%s/%s-%d" % (target, name, i), data)
        print("request: %s sent %d connection(s), %s bytes" % (name, len(rec.streams),
                                                           "+".join(str(len(d)) for d in rec.streams)))


def synthetic(outdir):
    import harness as h

    params = h.fcgi_pair(b"SCRIPT_FILENAME", b"/srv/www/index.php") + h.fcgi_pair(b"REQUEST_METHOD", b"POST") + \
        h.fcgi_pair(b"CONTENT_LENGTH", b"5")

    def request(rid=1, flags=h.FCGI_KEEP_CONN, role=h.FCGI_RESPONDER, pairs=params, body=b"a=b&c"):
        """fcgi_stream() ends each stream with its empty record"""
        return h.fcgi_begin(rid, role, flags) + h.fcgi_stream(h.FCGI_PARAMS, rid, pairs) + \
            h.fcgi_stream(h.FCGI_STDIN, rid, body)

    get_values = h.fcgi_pair(b"FCGI_MAX_CONNS", b"") + h.fcgi_pair(b"FCGI_MAX_REQS", b"") + \
        h.fcgi_pair(b"FCGI_MPXS_CONNS", b"") + h.fcgi_pair(b"UNKNOWN", b"")
    one = request()
    cases = {
        "get-values": h.fcgi_record(h.FCGI_GET_VALUES, 0, get_values) + one,
        "unknown-type": h.fcgi_record(42, 0, b"x") + one,
        "abort": h.fcgi_begin(1, flags=h.FCGI_KEEP_CONN) + h.fcgi_record(h.FCGI_ABORT_REQUEST, 1) + one,
        "abort-body": request(body=b"")[:-8] + h.fcgi_record(h.FCGI_ABORT_REQUEST, 1) + request(rid=3, flags=0),
        "second-id": h.fcgi_begin(1) + h.fcgi_begin(2) + h.fcgi_stream(h.FCGI_PARAMS, 1, params) +
        h.fcgi_stream(h.FCGI_STDIN, 1, b"x=1&y"),
        "authorizer": h.fcgi_begin(1, role=2, flags=h.FCGI_KEEP_CONN) + one,
        "keep-twice": one + request(rid=7, flags=0),
        "bad-version": one[:8] + b"\x02" + one[9:],
        "long-pair": request(flags=0, pairs=h.fcgi_pair(b"HTTP_X", b"y" * 300), body=b""),
    }
    for name, data in cases.items():
        for target in ("request", "fcgi"):
            write(outdir, "%s/%s" % (target, name), data)


# ---------------------------------------------------------------------------------------------------------
# config, pathinfo


def config(outdir):
    files = sorted(glob.glob(os.path.join(ROOT, "tests/unit/data/**/*.conf"), recursive=True) +
                   glob.glob(os.path.join(ROOT, "conf.d/pool.d/*.conf")))
    n = 0
    for path in files:
        # pool files live in a folder named *.d (conf.d, pool.d, errors/x.d); the others are global files
        if os.path.isfile(path) and any(part.endswith(".d") for part in path.split("/")[:-1]):
            with open(path, "rb") as f:
                write(outdir, "config/" + os.path.relpath(path, ROOT).replace("/", "_"), f.read())
            n += 1
    print("config: %d pool files" % n)


def pathinfo(outdir):
    n = 0
    for table in ("pathinfo-cases.txt", "pathinfo-manual.txt"):
        with open(os.path.join(ROOT, "tests/unit/data", table), "rb") as f:
            lines = f.read().split(b"\n")
        tree = [line for line in lines if line.startswith(b"file ") or line.startswith(b"dir ")]
        case = None
        for line in lines:
            if line.startswith(b"case "):
                case = []
            elif case is not None and line.startswith(b"param "):
                case.append(line)
            elif case is not None and line == b"end":
                n += 1
                write(outdir, "pathinfo/%s-%03d" % (table.split(".")[0], n), b"\n".join(tree + case) + b"\n")
                case = None
    tree = b"file /srv/www/info.php\nfile /srv/www/index.php\ndir /srv/www\ndir /srv/www/sub\n"
    extra = {
        "no-fix": b"option fix_pathinfo=0\nparam SCRIPT_FILENAME=/srv/www/info.php\nparam PATH_INFO=/x\n"
                  b"param PATH_TRANSLATED=/srv/www/x\n",
        "discard": b"option fix_pathinfo=0\noption discard_path=1\nparam SCRIPT_FILENAME=/srv/www/info.php\n"
                   b"param PATH_TRANSLATED=/srv/www/x\n",
        "doc-root": b"option doc_root=/srv/www/\nparam SCRIPT_FILENAME=/srv/www/info.php/a/b\n"
                    b"param SCRIPT_NAME=/info.php/a/b\nparam PATH_INFO=/a/b\n",
        "iis": b"param SERVER_SOFTWARE=Microsoft-IIS/10.0\nparam SCRIPT_FILENAME=/srv/www/info.php\n"
               b"param SCRIPT_NAME=/info.php\nparam PATH_INFO=/info.php/extra\n",
        "redirect": b"param SCRIPT_FILENAME=/usr/lib/cgi-bin/php\nparam SCRIPT_NAME=/cgi-bin/php\n"
                    b"param REDIRECT_URL=/info.php\nparam PATH_INFO=/info.php\n"
                    b"param PATH_TRANSLATED=/srv/www/info.php\nfile /usr/lib/cgi-bin/php\n",
        "proxy": b"param SCRIPT_FILENAME=proxy:fcgi://127.0.0.1:9000/srv/www/info.php/a%20b?x=1\n"
                 b"param SCRIPT_NAME=/info.php/a b\nparam DOCUMENT_ROOT=/srv/www\n",
        "escapes": b"param SCRIPT_FILENAME=/srv/www/info.php/\\x00a\\nb\nparam PATH_INFO=/\\0a\\tb\n"
                   b"param SCRIPT_NAME=/info.php\n",
        "cve-2019-11043": b"param SCRIPT_FILENAME=/srv/www/info.php/PHP_VALUE\\nsession.auto_start=1;;;\n"
                          b"param PATH_INFO=\nparam SCRIPT_NAME=/info.php/PHP_VALUE\\nsession.auto_start=1;;;\n"
                          b"param DOCUMENT_ROOT=/srv/www\n",
    }
    for name, data in extra.items():
        write(outdir, "pathinfo/%s" % name, tree + data)
    print("pathinfo: %d table cases, %d more" % (n, len(extra)))


# ---------------------------------------------------------------------------------------------------------
# status, accesslog: the byte formats fuzz-status.c and fuzz-accesslog.c read (big-endian numbers)


def s(v):
    """A string: its bytes and a NUL; an empty one is followed by the byte that makes it "" (0) or NULL (1)"""
    return v + b"\0" + (b"\0" if v == b"" else b"")


def u(v, n):
    return (v % (1 << (8 * n))).to_bytes(n, "big")


def opt(v):
    """A number that may be unknown (UINT64_MAX): a flag byte, then the number"""
    return b"\1" if v is None else b"\0" + u(v, 8)


def status_page(query, pool=b"www", pm=b"dynamic", procs=()):
    out = b"\0" + s(query) + s(pool) + s(pm)
    out += u(1700000000, 5) + u(3600, 8) + u(1234, 8)
    for v in (0, 3, 511, 2, 1, 3, 2, 0):
        out += u(v, 2)
    out += u(7, 8) + opt(33554432) + opt(None) + opt(1500000)
    out += u(len(procs), 1)
    for p in procs:
        out += u(p["pid"], 4) + s(p["state"]) + u(1700000100, 5) + u(3500, 4) + u(p["requests"], 8)
        out += u(p["duration"], 8) + s(p["method"]) + s(p["uri"]) + s(p["query"]) + u(len(p["query"]), 8)
        out += s(p["user"]) + s(p["script"]) + struct.pack(">d", p["cpu"]) + u(2097152, 8)
    return out


PROCS = [
    dict(pid=1001, state=b"Idle", requests=12, duration=5230, method=b"GET", uri=b"/index.php", query=b"a=1&b=2",
         user=b"-", script=b"/srv/www/index.php", cpu=12.5),
    dict(pid=1002, state=b"Running", requests=3, duration=100, method=b"POST", uri=b"/caf\xc3\xa9/<x>&\"'",
         query=b"", user=b"alice", script=b"/srv/www/a\nb\tc\x7f\xff.php", cpu=0.0),
]


def scoreboard(n_slots=2):
    head = struct.pack("<Q64s16sI4xQ8Q", 0, b"www", b"ondemand", n_slots, 1699990000000000,
                       40, 1, 2, 3, 4, 1 << 25, 1 << 26, 123456789)
    slots = b""
    for i in range(n_slots):
        slot = struct.pack("<iiQQQQQQQQQ", 2000 + i, (2, 4)[i % 2], 5, 1699990000000000, 1699999999000000,
                           77, 88, 250000, 0, 120000, 1 << 21)
        slot += struct.pack("16s256s256s256s64sI", b"GET", b"/status", b"full&json", b"/srv/www/s.php", b"www-data", 0)
        slot += b"\0" * (5032 - len(slot))
        slots += slot
    assert len(head) == 168
    return head + slots


def status(outdir):
    for i, q in enumerate([b"", b"json", b"json&full", b"html&full", b"xml&full", b"openmetrics", b"full",
                           b"%6Aso%6E[]=1&f%75ll=", b"+xml&json=1", b"a=b&html[x&json"]):
        write(outdir, "status/page-%d" % i, status_page(q, procs=PROCS if b"full" in q or not q else ()))
    write(outdir, "status/odd-strings", status_page(b"xml&full", pool=b"p\"o<o>l&\\\n", pm=b"",
                                                   procs=PROCS[1:]))
    write(outdir, "status/scoreboard", b"\1" + s(b"full") + scoreboard())
    print("status: 12 pages, 1 scoreboard")


def access_entry(vars_=()):
    out = s(b"www") + s(b"127.0.0.1") + s(b"") + s(b"GET") + s(b"/index.php") + s(b"a=1") + s(b"/srv/www/index.php")
    out += u(4242, 4) + u(1, 8) + u(200, 4) + u(0, 8) + u(152000, 8) + u(4000, 8) + u(1000, 8) + u(2 << 20, 8)
    out += u(1700000000123456, 8) + u(1700000000275456, 8)
    for name, value in vars_:
        out += name + b"=" + value + b"\0"
    return out


def accesslog(outdir):
    formats = [
        b'%R - %u %t "%m %r" %s',
        b'%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%',
        b'%{REMOTE_ADDR}e %{Content-Type}o %{%Y-%m-%dT%H:%M:%S%z}t %{user}C %{system}C %{micro}d %{mega}M',
        b"%p %P %n %l %T %{seconds}d %{bytes}M %{total}C",
        b"%{", b"%z", b"%{x}s", b"abc%", b"%{HTTP_HOST}e}",
    ]
    for i, f in enumerate(formats):
        write(outdir, "accesslog/format-%d" % i, f + b"\0" + access_entry(
            [(b"REMOTE_ADDR", b"192.0.2.1"), (b"Content-Type", b"text/html"), (b"HTTP_HOST", b"example.org")]))
    print("accesslog: %d formats" % len(formats))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/fpmd-seeds")
    ap.add_argument("names", nargs="*", default=["request", "config", "pathinfo", "status", "accesslog"])
    args = ap.parse_args()
    for name in args.names:
        if name in ("request", "fcgi"):
            synthetic(args.out)
            capture(args.out)
        else:
            globals()[name](args.out)


if __name__ == "__main__":
    main()
