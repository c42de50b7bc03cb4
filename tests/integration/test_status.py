#!/usr/bin/python3
"""The status page (status_path), the ping page (ping_path) and fpm_get_status(), as PHP-FPM 8.2 serves them.

- every format (text, ?json, ?xml, ?html, ?openmetrics), with and without &full, through cgi-fcgi and through
  nginx: 200, PHP-FPM's exact Content-Type, Expires and Cache-Control, and a body that a real parser reads
  (json, xml.etree for XML and XHTML, prometheus_client's OpenMetrics parser) plus the OpenMetrics text rules;
- the values: accepted conn, processes, process manager, pool name, max children reached, slow requests, start
  since; with &full one entry per worker with the real worker pids, the worker serving the page "Running" with
  the page's own URI; the counters as PHP-FPM keeps them (a request is counted when it starts, on kept
  connections too), checked against PHP-FPM itself;
- escaping: a request whose SCRIPT_NAME and query hold '"', '<', '&', a newline and invalid UTF-8 does not break
  any format;
- the names of the fields, compared with PHP-FPM 8.2's for the same pool: fpmd adds "memory peak" (and cgroup
  fields when it has a delegated cgroup), and its OpenMetrics counters' samples end in _total (PHP-FPM's do not,
  which strict parsers reject);
- ping: 200, "pong" or the ping_response, text/plain;charset=UTF-8;
- fpm_get_status(): PHP-FPM's keys, in PHP-FPM's order, with PHP-FPM's types;
- the listen queue of a TCP pool: connections waiting while every worker is busy, and its size (listen.backlog).

fpmd-only (the pool settings are fpmd's); PHP-FPM 8.2 runs next to it where the test compares with it."""

import json
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET

import harness

harness.require_fpmd("test_status")

SUP = r"fpmd\[\d+\]: "
XHTML = "{http://www.w3.org/1999/xhtml}"

CONTENT_TYPES = {
    "text": "text/plain;charset=UTF-8",
    "json": "application/json",
    "xml": "text/xml;charset=UTF-8",
    "html": "text/html;charset=UTF-8",
    "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8",
}
EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"
CACHE_CONTROL = "no-cache, no-store, must-revalidate, max-age=0"

# PHP-FPM 8.2's fields (the text format's spelling), in its order
POOL_FIELDS = ["pool", "process manager", "start time", "start since", "accepted conn", "listen queue",
               "max listen queue", "listen queue len", "idle processes", "active processes", "total processes",
               "max active processes", "max children reached", "slow requests"]
PROC_FIELDS = ["pid", "state", "start time", "start since", "requests", "request duration", "request method",
               "request URI", "content length", "user", "script", "last request cpu", "last request memory"]
# what fpmd may add after them: memory peak always, the cgroup's numbers when it has a cgroup of its own
FPMD_EXTRA = ["memory peak", "cgroup memory current", "cgroup cpu usage usec", "requests abandoned",
              "requests aborted", "requests shed", "max children", "responses 1xx", "responses 2xx", "responses 3xx",
              "responses 4xx", "responses 5xx", "requests terminated", "workers killed"]
# the request duration and queue wait histograms (cumulative buckets named by their bound in seconds, as the
# OpenMetrics page's "le"), and the pool's opcache, as the OpenMetrics page has them
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "inf"]
FPMD_EXTRA += ["%s le %s" % (h, b) for h in ("request duration", "queue wait") for b in BUCKETS]
FPMD_EXTRA += ["request duration count", "request duration sum usec", "queue wait count", "queue wait sum usec"]
FPMD_EXTRA += ["opcache " + n for n in ("enabled", "used memory", "free memory", "wasted memory", "cached keys",
                                        "hits", "misses", "oom restarts", "hash restarts", "manual restarts")]

GET_STATUS_KEYS = ["pool", "process-manager", "start-time", "start-since", "accepted-conn", "listen-queue",
                   "max-listen-queue", "listen-queue-len", "idle-processes", "active-processes", "total-processes",
                   "max-active-processes", "max-children-reached", "slow-requests", "procs"]
GET_STATUS_PROC_KEYS = ["pid", "state", "start-time", "start-since", "requests", "request-duration",
                        "request-method", "request-uri", "query-string", "request-length", "user", "script",
                        "last-request-cpu", "last-request-memory"]

NGINX_LOCATIONS = """
        location = /status {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass php;
            fastcgi_keep_conn on;
        }
        location = /ping {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass php;
            fastcgi_keep_conn on;
        }
"""

_om_parser = None


def default_backlog():
    """The accept queue's size for fpmd's default listen.backlog (511): the kernel caps it at somaxconn."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return min(511, int(f.read()))
    except OSError:
        return 511


def openmetrics_parser():
    """prometheus_client's OpenMetrics parser (Debian: python3-prometheus-client)."""
    global _om_parser
    if _om_parser is None:
        try:
            from prometheus_client.openmetrics.parser import text_string_to_metric_families
        except ImportError:
            # meson may run another python3 (pyenv) than Debian's: the package is pure Python, add its folder
            if "/usr/lib/python3/dist-packages" not in sys.path:
                sys.path.append("/usr/lib/python3/dist-packages")
            try:
                from prometheus_client.openmetrics.parser import text_string_to_metric_families
            except ImportError:
                raise AssertionError("no prometheus_client: install python3-prometheus-client (.ci/install-deps)")
        _om_parser = text_string_to_metric_families
    return _om_parser


def query_of(fmt, full):
    q = [] if fmt == "text" else [fmt]
    if full:
        q.append("full")
    return "&".join(q)


# ---------------------------------------------------------------------------------------------------------
# The formats, each read into the same shape: (pool fields, [process fields]) as ordered lists of (name, value)
# with the names as the text format spells them, so that the formats can be compared with each other.


def _text_name(name):
    """A JSON/XML/HTML field name in the text format's spelling (lower case, blanks; "request URI")."""
    name = name.replace("-", " ")
    return "request URI" if name == "request uri" else name


def parse_text(body):
    text = body.decode("utf-8")
    blocks = text.split("\n************************\n")
    out = []
    for b in blocks:
        fields = []
        for line in b.splitlines():
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9 .]+):( +)(.*)", line)
            assert m, "text line %r" % line
            # PHP-FPM's column: the value starts at the 23rd character (one blank after longer names)
            assert len(m.group(1)) + 1 + len(m.group(2)) == max(22, len(m.group(1)) + 2), line
            fields.append((m.group(1), m.group(3)))
        out.append(fields)
    assert text.endswith("\n"), text[-50:]
    return out[0], out[1:]


def parse_json(body):
    d = json.loads(body.decode("utf-8"), object_pairs_hook=list)
    pool = [(_text_name(k), v) for k, v in d if k != "processes"]
    procs = [[(_text_name(k), v) for k, v in p] for k, ps in d if k == "processes" for p in ps]
    return pool, procs


def parse_xml(body):
    root = ET.fromstring(body)
    assert root.tag == "status", root.tag
    pool, procs = [], []
    for el in root:
        if el.tag == "processes":
            for p in el:
                assert p.tag == "process", p.tag
                procs.append([(_text_name(f.tag), f.text or "") for f in p])
        else:
            assert len(el) == 0, el.tag
            pool.append((_text_name(el.tag), el.text or ""))
    return pool, procs


def parse_html(body):
    root = ET.fromstring(body)  # XHTML: a well-formed XML document
    assert root.tag == XHTML + "html", root.tag
    assert root.find(XHTML + "head/" + XHTML + "title").text == "PHP-FPM Status Page"
    tables = root.findall(XHTML + "body/" + XHTML + "table")
    assert len(tables) in (1, 2), len(tables)
    pool = []
    for tr in tables[0]:
        th, td = tr.find(XHTML + "th"), tr.find(XHTML + "td")
        pool.append((_text_name(th.text), td.text or ""))
    procs = []
    if len(tables) == 2:
        rows = tables[1].findall(XHTML + "tr")
        names = [_text_name(th.text) for th in rows[0].findall(XHTML + "th")]
        for tr in rows[1:]:
            values = [td.text or "" for td in tr.findall(XHTML + "td")]
            assert len(values) == len(names), (names, values)
            procs.append(list(zip(names, values)))
    return pool, procs


def openmetrics_text_rules(body):
    """OpenMetrics' text rules, checked line by line: the page ends with "# EOF\\n", every sample's family has a
    TYPE line before its samples, a counter's samples end in _total. Returns {family: (type, help, [sample])}."""
    text = body.decode("utf-8")
    assert text.endswith("\n# EOF\n"), text[-50:]
    assert text.count("# EOF") == 1
    families = {}
    order = []
    for line in text[:-len("# EOF\n")].splitlines():
        m = re.fullmatch(r"# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)", line)
        if m:
            fam = families.setdefault(m.group(2), {"samples": []})
            if m.group(2) not in order:
                order.append(m.group(2))
            assert not fam["samples"], "%s after the samples of %s" % (m.group(1), m.group(2))
            assert m.group(1).lower() not in fam, "two %s lines for %s" % (m.group(1), m.group(2))
            fam[m.group(1).lower()] = m.group(3)
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*",?)*\})? (\S+)',
                         line)
        assert m, "not an OpenMetrics line: %r" % line
        name = m.group(1)
        fam = None
        for suffix in ("", "_total", "_bucket", "_count", "_sum"):
            f = name[:len(name) - len(suffix)] if suffix and name.endswith(suffix) else (name if not suffix else None)
            if f in families and "type" in families[f]:
                fam = f
                break
        assert fam is not None, "sample %s has no TYPE line before it" % name
        if families[fam]["type"] == "counter":
            assert name == fam + "_total", "counter sample %s does not end in _total" % name
        elif families[fam]["type"] == "histogram":
            assert name in (fam + "_bucket", fam + "_count", fam + "_sum"), "histogram sample %s" % name
        else:
            assert name == fam, "%s sample %s" % (families[fam]["type"], name)
        float(m.group(3))
        families[fam]["samples"].append((name, m.group(3)))
    return order, families


def parse_openmetrics(body):
    """The pool fields the OpenMetrics page carries, in the text format's names, read by prometheus_client."""
    parse = openmetrics_parser()
    families = list(parse(body.decode("utf-8")))
    names = {"phpfpm_start_since": "start since", "phpfpm_accepted_connections": "accepted conn",
             "phpfpm_listen_queue": "listen queue", "phpfpm_max_listen_queue": "max listen queue",
             "phpfpm_listen_queue_length": "listen queue len", "phpfpm_idle_processes": "idle processes",
             "phpfpm_active_processes": "active processes", "phpfpm_total_processes": "total processes",
             "phpfpm_max_active_processes": "max active processes",
             "phpfpm_max_children_reached": "max children reached", "phpfpm_slow_requests": "slow requests",
             "phpfpm_memory_peak": "memory peak"}
    pool = []
    for f in families:
        if f.name not in names and f.name != "phpfpm_up":
            continue  # fpmd's labelled families: see test_metrics
        assert len(f.samples) == 1, f
        if f.name == "phpfpm_up":
            assert f.samples[0].value == 1
            m = re.fullmatch(r"Could pool (.*) using a (\S+) PM on PHP-FPM be reached\?", f.documentation)
            assert m, f.documentation
            pool += [("pool", m.group(1)), ("process manager", m.group(2))]
        elif f.name in names:
            pool.append((names[f.name], int(f.samples[0].value)))
    return pool, []


PARSERS = {"text": parse_text, "json": parse_json, "xml": parse_xml, "html": parse_html,
           "openmetrics": parse_openmetrics}


def parse(fmt, body):
    return PARSERS[fmt](body)


class StatusPage(harness.FpmdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = harness.FpmdServer(cls.ws, {"www": {"pm": {"mode": "static", "max_children": 2},
                                                         "status_path": "/status", "ping_path": "/ping"}})
        cls.addClassCleanup(cls.shared.stop)
        cls.shared.start()
        cls.shared_nginx = cls.start_nginx(cls.shared, NGINX_LOCATIONS)

    def status_json(self, s, full=True):
        r = self.raw("/status", server=s.endpoint() if isinstance(s, harness.FpmdServer) else s,
                     query="json&full" if full else "json")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def assert_headers(self, r, fmt, exact=True):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header_values("Content-Type"), [CONTENT_TYPES[fmt]], r.header_list)
        self.assertEqual(r.header_values("Expires"), [EXPIRES])
        self.assertEqual(r.header_values("Cache-Control"), [CACHE_CONTROL])
        if exact:
            # what PHP-FPM sends, nothing more (no X-Powered-By, no cookie, no Status: line for a 200)
            self.assertEqual(sorted(k.lower() for k, _ in r.header_list), ["cache-control", "content-type", "expires"])

    def check_page(self, s, r, fmt, full, uri_of_page, via_nginx=False):
        """A page of the shared two-worker pool, in any format, read back and checked."""
        self.assert_headers(r, fmt, exact=not via_nginx)
        pool, procs = parse(fmt, r.body)
        names = [k for k, _ in pool]
        if fmt == "openmetrics":
            openmetrics_text_rules(r.body)
            self.assertEqual(names[:2], ["pool", "process manager"])
        else:
            self.assertEqual(names[:len(POOL_FIELDS)], POOL_FIELDS)
            self.assertLessEqual(set(names[len(POOL_FIELDS):]), set(FPMD_EXTRA))
        d = dict(pool)
        self.assertEqual(d["pool"], "www")
        self.assertEqual(d["process manager"], "static")
        self.assertEqual(int(d["total processes"]), 2)
        self.assertEqual(int(d["active processes"]) + int(d["idle processes"]), 2)
        self.assertGreaterEqual(int(d["active processes"]), 1)  # the one serving the page
        self.assertGreaterEqual(int(d["accepted conn"]), 1)
        if not full or fmt == "openmetrics":
            # OpenMetrics has no per-process metrics in PHP-FPM 8.2: full changes nothing
            self.assertEqual(procs, [])
            return
        self.assertEqual(len(procs), 2)
        self.assertEqual(sorted(int(dict(p)["pid"]) for p in procs), s.pool_workers())
        for p in procs:
            self.assertEqual([k for k, _ in p], PROC_FIELDS)
        running = [dict(p) for p in procs if dict(p)["state"] == "Running"]
        self.assertGreaterEqual(len(running), 1)
        page = [p for p in running if p["request URI"] == uri_of_page]
        self.assertEqual(len(page), 1, (uri_of_page, running))
        self.assertEqual(page[0]["request method"], "GET")
        self.assertEqual(str(page[0]["content length"]), "0")

    # -------------------------------------------------------------------------------------------------------

    def test_formats_cgi_fcgi(self):
        s = self.shared
        for fmt in CONTENT_TYPES:
            for full in (False, True):
                q = query_of(fmt, full)
                with self.subTest(query=q):
                    r = self.cgi("/status", server=s, query=q)
                    self.check_page(s, r, fmt, full, "/status" + ("?" + q if q else ""))

    def test_formats_nginx(self):
        s, n = self.shared, self.shared_nginx
        for fmt in CONTENT_TYPES:
            for full in (False, True):
                q = query_of(fmt, full)
                with self.subTest(query=q):
                    r = n.request("GET", "/status" + ("?" + q if q else ""))
                    self.check_page(s, r, fmt, full, "/status" + ("?" + q if q else ""), via_nginx=True)

    def test_query_spellings(self):
        # PHP-FPM reads $_GET: json=1, json[] and a '&' before count; html wins over xml over json over openmetrics
        s = self.shared
        for q, fmt, full in (("json=1", "json", False), ("json[]=x&full=yes", "json", True),
                             ("full&xml", "xml", True), ("json&xml", "xml", False), ("xml&html", "html", False),
                             ("openmetrics&json", "json", False), ("&&json&", "json", False),
                             ("nothing=1", "text", False), ("fullness", "text", False)):
            with self.subTest(query=q):
                r = self.raw("/status", server=s, query=q)
                self.assert_headers(r, fmt)
                pool, procs = parse(fmt, r.body)
                self.assertEqual(len(procs), 2 if full else 0)

    def test_openmetrics_parser(self):
        s = self.shared
        r = self.raw("/status", server=s, query="openmetrics")
        self.assert_headers(r, "openmetrics")
        order, families = openmetrics_text_rules(r.body)
        parsed = list(openmetrics_parser()(r.body.decode("utf-8")))
        self.assertEqual([f.name for f in parsed], order)
        for f in parsed:
            self.assertEqual(f.type, families[f.name]["type"])
            self.assertEqual([x.name for x in f.samples], [n for n, _ in families[f.name]["samples"]])
            if f.type == "counter":
                self.assertEqual({x.name for x in f.samples}, {f.name + "_total"})
        # the same numbers as the JSON page (taken next: one more connection accepted)
        j = self.status_json(s, full=False)
        om = dict(parse_openmetrics(r.body)[0])
        for k in ("total processes", "listen queue len", "max children reached", "slow requests", "start since"):
            self.assertAlmostEqual(om[k], j[k], delta=1 if k == "start since" else 0, msg=k)
        self.assertEqual(om["accepted conn"] + 1, j["accepted conn"])

    @harness.fpmd_only("fpmd's own families")
    def test_metrics(self):
        # fpmd's families after PHP-FPM's, every sample labelled with the pool: max_children, responses by class,
        # the duration and queue-wait histograms, terminated and killed counts, the pool's own opcache, and with
        # "full" one sample per worker; all of it read by prometheus_client
        s = self.fpmd({"met": {"pm": {"mode": "static", "max_children": 3}, "status_path": "/status"}})
        ep = s.endpoint("met")
        statuses = [self.cgi(script, server=ep).status for script in
                    ("/hello.php", "/hello.php", "/status404.php", "/fatal.php", "/redirect.php")]
        self.assertEqual(sorted(statuses), [200, 200, 302, 404, 500])
        r = self.cgi("/status", server=ep, query="openmetrics&full")
        order, families = openmetrics_text_rules(r.body)
        parsed = {f.name: f for f in openmetrics_parser()(r.body.decode("utf-8"))}
        self.assertEqual(list(parsed), order)

        def samples(name, suffix=""):
            return {tuple(sorted((k, v) for k, v in x.labels.items() if k != "pool")): x.value
                    for x in parsed[name].samples if x.name == name + suffix and x.labels.get("pool") == "met"}

        self.assertEqual(samples("phpfpm_max_children"), {(): 3})
        self.assertEqual(samples("phpfpm_responses", "_total"),
                         {(("class", "1xx"),): 0, (("class", "2xx"),): 2, (("class", "3xx"),): 1,
                          (("class", "4xx"),): 1, (("class", "5xx"),): 1})
        self.assertEqual(samples("phpfpm_requests_terminated", "_total"), {(): 0})
        self.assertEqual(samples("phpfpm_workers_killed", "_total"), {(): 0})
        for h in ("phpfpm_request_duration_seconds", "phpfpm_request_queue_wait_seconds"):
            self.assertEqual(parsed[h].type, "histogram")
            buckets = samples(h, "_bucket")
            self.assertEqual(len(buckets), 12, buckets)
            self.assertEqual(buckets[(("le", "+Inf"),)], 5)  # the status request is not done yet
            self.assertEqual(samples(h, "_count"), {(): 5})
            counts = [buckets[k] for k in sorted(buckets, key=lambda k: float(k[0][1]))]
            self.assertEqual(counts, sorted(counts))  # cumulative
        self.assertEqual(samples("phpfpm_opcache_enabled"), {(): 1})
        mem = samples("phpfpm_opcache_memory_bytes")
        self.assertEqual(sorted(k[0][1] for k in mem), ["free", "used", "wasted"])
        self.assertGreater(mem[(("use", "used"),)], 0)
        self.assertGreaterEqual(samples("phpfpm_opcache_cached_keys")[()], 1)
        # one sample per worker, the pids the status page's JSON names
        workers = sorted(str(p) for p in s.pool_workers("met"))
        self.assertEqual(sorted(k[0][1] for k in samples("phpfpm_process_requests", "_total")), workers)
        rss = samples("phpfpm_process_resident_memory_bytes")
        self.assertEqual(sorted(k[0][1] for k in rss), workers)
        self.assertTrue(all(v > 1 << 20 for v in rss.values()), rss)
        states = samples("phpfpm_process_state")
        self.assertEqual(len(states), 3)
        self.assertIn("Running", [dict(k)["state"] for k in states])
        # without "full": no per-worker families; the JSON page has the counters too
        r = self.cgi("/status", server=ep, query="openmetrics")
        self.assertNotIn(b"phpfpm_process_", r.body)
        j = self.cgi("/status", server=ep, query="json").json()
        self.assertEqual((j["max children"], j["responses 2xx"], j["responses 5xx"], j["requests terminated"]),
                         (3, 4, 1, 0))  # and the two status pages before
        # ... and the histograms and the opcache, as the OpenMetrics page: 7 requests done before this one
        self.assertEqual((j["request duration le inf"], j["request duration count"], j["queue wait count"]), (7, 7, 7))
        self.assertEqual([j["request duration le " + b] for b in BUCKETS],
                         sorted(j["request duration le " + b] for b in BUCKETS))
        self.assertEqual(j["opcache enabled"], 1)
        self.assertGreater(j["opcache used memory"], 0)
        self.assertGreaterEqual(j["opcache cached keys"], 1)

    def test_values(self):
        s = self.fpmd({"shop": {"pm": {"mode": "static", "max_children": 3}, "status_path": "/status"}})
        ep = s.endpoint("shop")
        t_start = time.time()
        n = 5
        for i in range(n):
            r = self.cgi("/pid.php", server=ep)
            self.assertEqual(r.status, 200)
        r = self.cgi("/status", server=ep, query="json&full")
        self.assert_headers(r, "json")
        j = r.json()
        self.assertEqual(j["pool"], "shop")
        self.assertEqual(j["process manager"], "static")
        self.assertEqual(j["accepted conn"], n + 1)  # one connection per request, and this one
        self.assertEqual((j["listen queue"], j["max listen queue"], j["listen queue len"]), (0, 0, default_backlog()))
        self.assertEqual((j["idle processes"], j["active processes"], j["total processes"]), (2, 1, 3))
        self.assertEqual(j["max active processes"], 1)  # the requests came one at a time
        self.assertEqual((j["max children reached"], j["slow requests"]), (0, 0))
        self.assertLessEqual(abs(j["start time"] - t_start), 5)
        self.assertLessEqual(j["start since"], 5)
        self.assertGreater(j["memory peak"], 0)
        workers = s.pool_workers("shop")
        self.assertEqual(sorted(p["pid"] for p in j["processes"]), workers)
        running = [p for p in j["processes"] if p["state"] == "Running"]
        self.assertEqual(len(running), 1, j["processes"])
        self.assertEqual(running[0]["request uri"], "/status?json&full")
        self.assertEqual(running[0]["request method"], "GET")
        for p in j["processes"]:
            self.assertLessEqual(abs(p["start time"] - t_start), 5)
            if p["state"] == "Idle" and p["requests"] > 0:
                # an idle worker shows its last request
                self.assertEqual((p["request uri"], p["request method"], p["script"]),
                                 ("/pid.php", "GET", self.ws.script("/pid.php")))
                self.assertGreater(p["last request memory"], 0)
        # the served requests are all counted, by some worker
        self.assertGreaterEqual(sum(p["requests"] for p in j["processes"]), n)

        # the same numbers in the text page, one connection later; start since grows, start time stays
        time.sleep(1.1)
        r = self.cgi("/status", server=ep, query="full")
        self.assert_headers(r, "text")
        pool, procs = parse_text(r.body)
        t = dict(pool)
        self.assertEqual(t["accepted conn"], str(n + 2))
        self.assertEqual((t["pool"], t["total processes"], t["active processes"]), ("shop", "3", "1"))
        self.assertGreaterEqual(int(t["start since"]), j["start since"] + 1)
        self.assertEqual(sorted(int(dict(p)["pid"]) for p in procs), workers)
        self.assertEqual([dict(p)["request URI"] for p in procs if dict(p)["state"] == "Running"],
                         ["/status?full"])
        r = self.cgi("/status", server=ep, query="xml")
        x = dict(parse_xml(r.body)[0])
        self.assertEqual(int(x["start time"]), j["start time"])
        self.assertGreaterEqual(int(x["start since"]), j["start since"] + 1)

    def check_counters_as_php_fpm(self, server, params, before):
        """before: the requests the only worker had before (PHP-FPM counts the harness's probe connection)"""
        # On one kept connection: the page, three requests, the page again. PHP-FPM counts a request when it
        # starts: "accepted conn" grows by one per request, not per connection, and the worker's "requests"
        # includes the one it is running, so on a one-worker pool both always agree. While it runs, a worker's
        # "last request cpu" and "last request memory" are 0 (PHP-FPM's documentation: "always 0 if the process
        # is not in Idle state").
        with harness.FcgiClient(server.port) as c:
            pages = []
            for script in ("/status", "/pid.php", "/pid.php", "/pid.php", "/status"):
                q = "json&full" if script == "/status" else ""
                res = c.request(params(script, query=q), keep_conn=True)
                r = res.response()
                self.assertEqual(r.status, 200, r)
                if script == "/status":
                    pages.append(r.json())
        a, b = pages
        harness.log("%s: accepted conn %d -> %d, requests of the worker %d -> %d, last request cpu/memory "
                    "while running %r/%r" % (server.kind, a["accepted conn"], b["accepted conn"],
                                             a["processes"][0]["requests"], b["processes"][0]["requests"],
                                             b["processes"][0]["last request cpu"],
                                             b["processes"][0]["last request memory"]))
        for page in (a, b):
            self.assertEqual(len(page["processes"]), 1)
            self.assertEqual(page["processes"][0]["state"], "Running")
        with self.subTest(check="accepted conn counts requests"):
            self.assertEqual(b["accepted conn"] - a["accepted conn"], 4)
        with self.subTest(check="requests includes the running one"):
            self.assertEqual([p["processes"][0]["requests"] for p in (a, b)], [before + 1, before + 5])
        with self.subTest(check="a running worker's last request cpu and memory are 0"):
            p = b["processes"][0]
            self.assertEqual((p["last request cpu"], p["last request memory"]), (0, 0), p)

    def test_counters_as_php_fpm(self):
        if harness.php_fpm_available():
            ref = harness.PhpFpmServer(self.ws, {"max_children": 1}, ["pm.status_path = /status"])
            self.addCleanup(ref.stop)
            ref.start()
            with self.subTest(server="php-fpm (the reference)"):
                self.check_counters_as_php_fpm(ref, self.params, 1)
            ref.stop()
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "status_path": "/status"}})
        with self.subTest(server="fpmd"):
            self.check_counters_as_php_fpm(s, self.params, 0)

    def test_slow_requests_and_max_children_reached(self):
        s = self.fpmd({"www": {"pm": {"mode": "dynamic", "max_children": 2, "start_servers": 1,
                                      "min_spare_servers": 1, "max_spare_servers": 1},
                               "status_path": "/status", "request_slowlog_timeout": "1s", "slowlog": False}})
        j = self.status_json(s)
        self.assertEqual((j["slow requests"], j["max children reached"]), (0, 0))
        offset = s.log_offset()
        # two requests of 1.5 s on one worker: the pool grows to two (its max) and still has no idle worker
        results = harness.run_concurrently(lambda: self.raw("/sleep.php", server=s, query="ms=1500"), [(), ()])
        for r in results:
            self.assertFalse(isinstance(r, Exception), r)
            self.assertEqual(r.status, 200)
        self.assertEqual(len(s.log_find(r"executing too slow", offset)), 2, s.log_text()[offset:])
        self.assertEqual(len(s.log_find(r"server reached pm.max_children setting \(2\)", offset)), 1,
                         s.log_text()[offset:])
        for fmt in ("json", "text", "xml", "html", "openmetrics"):
            with self.subTest(format=fmt):
                r = self.raw("/status", server=s, query=query_of(fmt, False))
                self.assert_headers(r, fmt)
                d = dict(parse(fmt, r.body)[0])
                self.assertEqual(int(d["slow requests"]), 2)
                self.assertEqual(int(d["max children reached"]), 1)
                self.assertEqual(d["process manager"], "dynamic")
                self.assertEqual(int(d["max active processes"]), 2)

    def test_escaping(self):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}, "status_path": "/status"}})
        nasty = b'"<&\n\xff\xfe'
        script_name = b"/we" + nasty + b"ird.php"
        query = b"ms=2500&q=" + nasty
        params = self.params("/sleep.php")
        params.update({"SCRIPT_NAME": script_name, "QUERY_STRING": query, "REQUEST_URI": script_name + b"?" + query})
        result = {}

        def slow():
            with harness.FcgiClient(s.port, timeout=30) as c:
                result["r"] = c.request(params).response()

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        expected = (script_name + b"?" + query).decode("utf-8", "replace")
        self.assertEqual(expected, '/we"<&\n\ufffd\ufffdird.php?ms=2500&q="<&\n\ufffd\ufffd')

        def nasty_running():
            j = self.status_json(s)
            return any(p["state"] == "Running" and p["request uri"] == expected for p in j["processes"])
        self.assertTrue(harness.wait_for(nasty_running, 2), self.status_json(s))

        for fmt in ("json", "xml", "html", "text", "openmetrics"):
            with self.subTest(format=fmt):
                r = self.raw("/status", server=s, query=query_of(fmt, fmt != "openmetrics"))
                self.assert_headers(r, fmt)
                r.body.decode("utf-8")  # valid UTF-8, whatever the request brought
                pool, procs = parse(fmt, r.body)
                if fmt == "openmetrics":
                    openmetrics_text_rules(r.body)
                    self.assertEqual(dict(pool)["pool"], "www")
                    continue
                uris = [dict(p)["request URI"] for p in procs]
                # text: one line per field, the newline is replaced
                want = expected.replace("\n", "\ufffd") if fmt == "text" else expected
                self.assertIn(want, uris, r.body)
                if fmt == "json":
                    self.assertTrue(r.body.isascii())  # as PHP's json_encode(): \uXXXX
                    self.assertIn(b'\\/we\\"<&\\n\\ufffd\\ufffdird.php?ms=2500&q=\\"<&\\n\\ufffd\\ufffd', r.body)
                if fmt in ("xml", "html"):
                    self.assertIn("/we&quot;&lt;&amp;\n\ufffd\ufffdird.php?ms=2500&amp;q=&quot;&lt;&amp;\n"
                                  "\ufffd\ufffd", r.body.decode("utf-8"))
        t.join(10)
        self.assertEqual(result["r"].status, 200, result)

    def test_field_names_as_php_fpm(self):
        if not harness.php_fpm_available():
            self.skipTest("no %s to compare with" % harness.PHP_FPM)
        ref = harness.PhpFpmServer(self.ws, {"max_children": 2}, ["pm.status_path = /status"])
        self.addCleanup(ref.stop)
        ref.start()
        s = self.shared
        pages = {}
        for name, srv in (("php-fpm", ref), ("fpmd", s)):
            for fmt in CONTENT_TYPES:
                r = self.cgi("/status", server=srv, query=query_of(fmt, fmt != "openmetrics"))
                self.assertEqual(r.status, 200, (name, fmt, r))
                # header names are not case-sensitive: PHP-FPM sends "Content-type" for text/ types
                self.assertEqual(r.header_values("Content-Type"), [CONTENT_TYPES[fmt]], (name, r.header_list))
                self.assertEqual(r.header_values("Expires"), [EXPIRES])
                self.assertEqual(r.header_values("Cache-Control"), [CACHE_CONTROL])
                pages[name, fmt] = r.body

        for fmt in ("text", "json", "xml", "html"):
            with self.subTest(format=fmt):
                ref_pool, ref_procs = parse(fmt, pages["php-fpm", fmt])
                pool, procs = parse(fmt, pages["fpmd", fmt])
                ref_names = [k for k, _ in ref_pool]
                names = [k for k, _ in pool]
                self.assertEqual(ref_names, POOL_FIELDS)
                self.assertEqual(names[:len(ref_names)], ref_names)
                extra = names[len(ref_names):]
                self.assertEqual(extra[:1], ["memory peak"])
                self.assertLessEqual(set(extra), set(FPMD_EXTRA))
                self.assertEqual([[k for k, _ in p] for p in ref_procs], [PROC_FIELDS] * 2)
                self.assertEqual([[k for k, _ in p] for p in procs], [PROC_FIELDS] * 2)

        # the raw names, as each format spells them
        ref_j = json.loads(pages["php-fpm", "json"], object_pairs_hook=list)
        j = json.loads(pages["fpmd", "json"], object_pairs_hook=list)
        ref_keys = [k for k, _ in ref_j]
        keys = [k for k, _ in j]
        self.assertEqual(ref_keys[-1], "processes")
        self.assertEqual(keys[:len(ref_keys) - 1], ref_keys[:-1])
        self.assertEqual(keys[-1], "processes")
        self.assertEqual(keys[len(ref_keys) - 1], "memory peak")
        self.assertEqual([k for k, _ in dict(j)["processes"][0]], [k for k, _ in dict(ref_j)["processes"][0]])
        ref_x, x = ET.fromstring(pages["php-fpm", "xml"]), ET.fromstring(pages["fpmd", "xml"])
        ref_tags, tags = [e.tag for e in ref_x], [e.tag for e in x]
        self.assertEqual(tags[:len(ref_tags) - 1], ref_tags[:-1])
        self.assertEqual((tags[len(ref_tags) - 1], tags[-1], ref_tags[-1]), ("memory-peak", "processes", "processes"))
        self.assertEqual([e.tag for e in x.find("processes/process")],
                         [e.tag for e in ref_x.find("processes/process")])
        self.assertIn("request-uri", [e.tag for e in x.find("processes/process")])

        # OpenMetrics: the same families, HELP and TYPE in the same order, fpmd's phpfpm_memory_peak after them;
        # counters' samples: PHP-FPM "name", fpmd "name_total"
        ref_order, ref_fams = openmetrics_text_rules_lenient(pages["php-fpm", "openmetrics"])
        order, fams = openmetrics_text_rules(pages["fpmd", "openmetrics"])
        self.assertEqual(order[:len(ref_order)], ref_order)
        self.assertEqual(order[len(ref_order):][:1], ["phpfpm_memory_peak"])
        for f in ref_order:
            self.assertEqual((fams[f]["type"], fams[f]["help"]), (ref_fams[f]["type"], ref_fams[f]["help"]), f)
            want = f + "_total" if fams[f]["type"] == "counter" else f
            self.assertEqual([n for n, _ in fams[f]["samples"]], [want], f)
            self.assertEqual([n for n, _ in ref_fams[f]["samples"]], [f], f)
        counters = [f for f in ref_order if ref_fams[f]["type"] == "counter"]
        self.assertEqual(counters, ["phpfpm_start_since", "phpfpm_accepted_connections", "phpfpm_max_listen_queue",
                                    "phpfpm_max_active_processes", "phpfpm_max_children_reached",
                                    "phpfpm_slow_requests"])
        # which is why a strict parser takes fpmd's page and not PHP-FPM's
        parse_om = openmetrics_parser()
        list(parse_om(pages["fpmd", "openmetrics"].decode()))
        with self.assertRaisesRegex(ValueError, "Clashing name: phpfpm_start_since"):
            list(parse_om(pages["php-fpm", "openmetrics"].decode()))

    def test_ping(self):
        s, n = self.shared, self.shared_nginx
        for via in ("cgi-fcgi", "nginx"):
            with self.subTest(via=via):
                r = self.cgi("/ping", server=s) if via == "cgi-fcgi" else n.request("GET", "/ping")
                self.assertEqual((r.status, r.body), (200, b"pong"))
                self.assertEqual(r.header_values("Content-Type"), ["text/plain;charset=UTF-8"], r.header_list)
                self.assertEqual(r.header_values("Expires"), [EXPIRES])
                self.assertEqual(r.header_values("Cache-Control"), [CACHE_CONTROL])
        # the path is SCRIPT_NAME: a query does not matter, another path is a script like any other
        r = self.cgi("/ping", server=s, query="x=1")
        self.assertEqual((r.status, r.body), (200, b"pong"))
        r = self.cgi("/pingx", server=s)
        self.assertEqual(r.status, 404)

        c = self.fpmd({"www": {"ping_path": "/health", "ping_response": "I am alive & well"}})
        r = self.cgi("/health", server=c)
        self.assertEqual((r.status, r.body), (200, b"I am alive & well"))
        self.assertEqual(r.header_values("Content-Type"), ["text/plain;charset=UTF-8"])
        r = self.cgi("/ping", server=c)
        self.assertEqual(r.status, 404)
        # no status_path: /status is a script like any other
        self.assertEqual(self.cgi("/status", server=c).status, 404)

    def test_ping_as_php_fpm(self):
        if not harness.php_fpm_available():
            self.skipTest("no %s to compare with" % harness.PHP_FPM)
        ref = harness.PhpFpmServer(self.ws, {"max_children": 1}, ["ping.path = /ping"])
        self.addCleanup(ref.stop)
        ref.start()
        a, b = self.cgi("/ping", server=ref), self.cgi("/ping", server=self.shared)
        self.assertEqual((b.status, b.body), (a.status, a.body))
        self.assertEqual(sorted((k.lower(), v) for k, v in b.header_list),
                         sorted((k.lower(), v) for k, v in a.header_list))

    def check_get_status(self, srv):
        r = self.cgi("/fpm_get_status.php", server=srv, query="x=1")
        self.assertEqual(r.status, 200, r)
        d = json.loads(r.body, object_pairs_hook=list)
        st = dict(d)["status"]
        keys = [k for k, _ in st]
        proc_keys = [[k for k, _ in p] for p in dict(st)["procs"]]
        return dict(d), keys, proc_keys

    def test_fpm_get_status(self):
        d, keys, proc_keys = self.check_get_status(self.shared)
        self.assertEqual(keys, GET_STATUS_KEYS)
        self.assertEqual(proc_keys, [GET_STATUS_PROC_KEYS] * 2)
        st = dict(d["status"])
        self.assertEqual((st["pool"], st["process-manager"], st["total-processes"]), ("www", "static", 2))
        self.assertEqual(st["listen-queue-len"], default_backlog())
        procs = [dict(p) for p in st["procs"]]
        self.assertEqual(sorted(p["pid"] for p in procs), self.shared.pool_workers())
        me = [p for p in procs if p["pid"] == d["pid"]]
        self.assertEqual(len(me), 1)
        self.assertEqual((me[0]["state"], me[0]["request-method"], me[0]["request-uri"], me[0]["query-string"],
                          me[0]["script"]),
                         ("Running", "GET", "/fpm_get_status.php", "x=1", self.ws.script("/fpm_get_status.php")))
        if not harness.php_fpm_available():
            self.skipTest("no %s to compare with" % harness.PHP_FPM)
        ref = harness.PhpFpmServer(self.ws, {"max_children": 2}, [])
        self.addCleanup(ref.stop)
        ref.start()
        ref_d, ref_keys, ref_proc_keys = self.check_get_status(ref)
        self.assertEqual(keys, ref_keys)
        self.assertEqual(proc_keys, ref_proc_keys)
        self.assertEqual(d["types"], ref_d["types"])
        self.assertEqual(d["proc_types"], ref_d["proc_types"])

    def test_listen_queue(self):
        self.check_listen_queue(None)

    def test_listen_queue_unix(self):
        # PHP-FPM always says 0 for a unix socket (php-src #9943): fpmd asks the kernel (sock_diag)
        self.check_listen_queue(self.ws.path("status.sock"))

    def check_listen_queue(self, path):
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 2}, "status_path": "/status"}}, start=False)
        s.set_pool("www", dict(s.pool_settings["www"], listen={"address": path or "127.0.0.1:%d" % s.port,
                                                               "backlog": 77}), write=False)
        s.start()
        self.assertEqual(self.status_json(s, full=False)["listen queue len"], 77)
        clients = []

        def client(script, query):
            c = harness.FcgiUnixClient(path, timeout=30) if path else harness.FcgiClient(s.port, timeout=30)
            clients.append(c)
            c.send_request(self.params(script, query=query))
            return c

        try:
            # both workers busy, then the status request waits first in the accept queue, three more behind it
            busy = [client("/sleep.php", "ms=2000"), client("/sleep.php", "ms=3000")]
            harness.wait_running(s, 2)
            status = client("/status", "json&full")
            self.assertTrue(harness.wait_for(lambda: harness.listen_queue(path or s.port) == 1, 5))
            waiting = [client("/hello.php", "n=%d" % i) for i in range(3)]
            t0 = time.monotonic()
            j = status.read_response().response().json()
            harness.log("status after %.2fs: listen queue %d, max listen queue %d"
                        % (time.monotonic() - t0, j["listen queue"], j["max listen queue"]))
            self.assertEqual(j["listen queue len"], 77)
            self.assertGreaterEqual(j["listen queue"], 1)
            self.assertEqual(j["listen queue"], 3)  # the three behind it
            self.assertGreaterEqual(j["max listen queue"], j["listen queue"])
            self.assertEqual(j["active processes"], 2)
            self.assertEqual(j["idle processes"], 0)
            uris = sorted(p["request uri"] for p in j["processes"])
            self.assertEqual(uris, ["/sleep.php?ms=3000", "/status?json&full"])
            for c in busy + waiting:
                self.assertEqual(c.read_response().response().status, 200)
            # the same through the OpenMetrics page: nothing waits any more, the peak stays
            r = self.raw("/status", server=s.endpoint(), query="openmetrics")
            om = dict(parse_openmetrics(r.body)[0])
            self.assertEqual((om["listen queue"], om["listen queue len"]), (0, 77))
            self.assertGreaterEqual(om["max listen queue"], j["max listen queue"])
        finally:
            for c in clients:
                c.close()


def openmetrics_text_rules_lenient(body):
    """PHP-FPM's page, read as openmetrics_text_rules() reads fpmd's but taking counters' samples without _total."""
    text = body.decode("utf-8")
    assert text.endswith("\n# EOF\n")
    families, order = {}, []
    for line in text[:-len("# EOF\n")].splitlines():
        m = re.fullmatch(r"# (TYPE|HELP) (\S+) (.*)", line)
        if m:
            if m.group(2) not in order:
                order.append(m.group(2))
            families.setdefault(m.group(2), {"samples": []})[m.group(1).lower()] = m.group(3)
            continue
        name, value = line.split(" ")
        assert name in families, line
        families[name]["samples"].append((name, value))
    return order, families


if __name__ == "__main__":
    harness.main()
