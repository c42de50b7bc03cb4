#!/usr/bin/python3
"""Worker mode (worker.script): each worker runs the pool's script once; the script keeps its application in
memory and serves each request through fpmd_handle_request(handler) (frankenphp_handle_request() the same).

- each request has its own $_GET, $_POST, $_COOKIE, $_SERVER, php://input, headers, status and output buffers;
  what a request leaves in them (a header, a status, an open buffer, a changed superglobal) never reaches the
  next, while the application's own objects persist;
- an uncaught exception and a fatal error in the handler answer 500 and replace that worker, not the pool;
- worker.max_requests replaces a worker after that many requests; a stop ends the script's loop;
- a classic pool runs beside a worker pool.

fpmd only: PHP-FPM has no worker mode."""

import json
import socket

import harness

harness.require_fpmd("test_worker_mode")

WORKER = r"""<?php
ini_set('precision', '10');  // the script's own setting stays for every request
$app = new stdClass;
$app->count = 0;
$handle = function () use ($app) {
    $app->count++;
    if (isset($_GET['status'])) http_response_code((int)$_GET['status']);
    if (isset($_GET['header'])) header('X-Seen: ' . $_GET['header']);
    if (isset($_GET['throw'])) throw new RuntimeException('boom');
    if (isset($_GET['fatal'])) { ini_set('memory_limit', '16M'); $x = str_repeat('x', 64 << 20); }
    if (isset($_GET['ob'])) { ob_start(); echo "left open|"; }
    if (isset($_GET['leak'])) { $_GET['leaked'] = 1; $_SERVER['LEAKED'] = 1; $_COOKIE['leaked'] = 1; }
    if (isset($_GET['ini'])) { ini_set('precision', '3'); ini_set('default_charset', 'ISO-8859-1'); }
    if (isset($_GET['session'])) {
        session_save_path(sys_get_temp_dir());
        session_start();
        if ($_GET['session'] !== '') $_SESSION['v'] = $_GET['session'];
    }
    if (isset($_GET['upload'])) {
        $f = reset($_FILES);
        echo json_encode(['tmp' => $f['tmp_name'], 'there' => is_file($f['tmp_name']),
            'content' => file_get_contents($f['tmp_name'])]);
        return;
    }
    if (isset($_GET['exists'])) { echo json_encode(['there' => file_exists($_GET['exists'])]); return; }
    if (isset($_GET['sleep'])) { $end = microtime(true) + $_GET['sleep']; while (microtime(true) < $end) usleep(20000); }
    if (isset($_GET['fpm'])) { $st = fpm_get_status(); echo json_encode(['pool' => $st['pool'], 'procs' => count($st['procs'])]); return; }
    if (isset($_GET['finish'])) { echo "finished early"; fastcgi_finish_request(); echo "never sent"; return; }
    echo json_encode(['get' => $_GET, 'post' => $_POST, 'cookie' => $_COOKIE,
        'method' => $_SERVER['REQUEST_METHOD'], 'uri' => $_SERVER['REQUEST_URI'],
        'server_leak' => isset($_SERVER['LEAKED']), 'count' => $app->count, 'pid' => getmypid(),
        'headers' => headers_list(), 'input' => file_get_contents('php://input'),
        'precision' => ini_get('precision'), 'charset' => ini_get('default_charset'),
        'session' => session_status() === PHP_SESSION_ACTIVE ? $_SESSION : null]);
};
while (%s($handle)) {
    echo "between requests: goes nowhere\n";
    gc_collect_cycles();
}
"""


class WorkerMode(harness.FpmdTestCase):
    def worker_pool(self, fn="fpmd_handle_request", **worker):
        self.ws.write("/worker-%s.php" % fn, WORKER % fn)
        settings = {"pm": {"mode": "static", "max_children": 1},
                    "worker": dict({"script": self.ws.script("/worker-%s.php" % fn)}, **worker)}
        return self.fpmd({"www": settings, "classic": {"pm": {"mode": "static", "max_children": 1}}})

    def idle_workers(self, s, pool):
        r = harness.fpmd_status(pool, "--json", "--pid", s.pid)
        return json.loads(r.stdout)["idle processes"] if r.returncode == 0 else None

    def get(self, s, query="", method="GET", body=b"", cookie=None, content_type=None):
        p = harness.cgi_params(self.ws, "/index.php", query=query, method=method, body=body)
        if cookie:
            p["HTTP_COOKIE"] = cookie
        if content_type:
            p["CONTENT_TYPE"] = content_type
        return harness.fcgi_request(s.endpoint(), p, body)[0]

    def test_requests_isolated_application_kept(self):
        s = self.worker_pool()
        r = self.get(s, "status=404&header=one&ob=1&leak=1", cookie="a=b")
        self.assertEqual((r.status, r.header_values("X-Seen")), (404, ["one"]))
        first = json.loads(r.body.split(b"|", 1)[1])
        self.assertEqual((first["count"], first["method"], first["uri"], first["cookie"]),
                         (1, "GET", "/index.php?status=404&header=one&ob=1&leak=1", {"a": "b", "leaked": 1}))
        # nothing of it in the next request; the application's object went on counting
        r = self.get(s, "x=1", method="POST", body=b"f=2&g=3", content_type="application/x-www-form-urlencoded")
        self.assertEqual((r.status, r.header_values("X-Seen")), (200, []))
        j = json.loads(r.body)
        self.assertEqual(j, {"get": {"x": "1"}, "post": {"f": "2", "g": "3"}, "cookie": [], "method": "POST",
                             "uri": "/index.php?x=1", "server_leak": False, "count": 2, "pid": first["pid"],
                             "headers": [], "input": "f=2&g=3", "precision": "10", "charset": "UTF-8",
                             "session": None})
        self.assertEqual(s.pool_workers(), [first["pid"]])
        # what the script prints between requests reaches neither a client nor the journal
        self.assertNotIn("goes nowhere", s.log_text())
        # a classic pool beside it
        r = self.raw("/hello.php", server=s.endpoint("classic"))
        self.assertEqual((r.status, r.body), (200, b"hello\n"))

    def test_ini_session_finish_request(self):
        s = self.worker_pool()
        # ini_set() of a request is undone after it; the script's own stays
        j = json.loads(self.get(s, "ini=1").body)
        self.assertEqual((j["precision"], j["charset"]), ("3", "ISO-8859-1"))
        j = json.loads(self.get(s).body)
        self.assertEqual((j["precision"], j["charset"]), ("10", "UTF-8"))
        # a session left open is written and closed; the next request without its cookie has none
        r = self.get(s, "session=kept")
        cookie = [v for k, v in r.header_list if k.lower() == "set-cookie"]
        self.assertEqual(len(cookie), 1, r.header_list)
        sid = cookie[0].split(";")[0]
        self.assertEqual(json.loads(r.body)["session"], {"v": "kept"})
        self.assertEqual(json.loads(self.get(s, "session=").body)["session"], [])
        self.assertEqual(json.loads(self.get(s, "session=", cookie=sid).body)["session"], {"v": "kept"})
        # fastcgi_finish_request() inside the handler ends that request's response; the next is whole
        r = self.get(s, "finish=1")
        self.assertEqual((r.status, r.body), (200, b"finished early"))
        self.assertEqual(json.loads(self.get(s, "after=1").body)["get"], {"after": "1"})

    def test_upload_gone_after_its_request(self):
        s = self.worker_pool()
        boundary = "xyzzy"
        body = ("--%s\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\nuploaded bytes\r\n--%s--\r\n" % (boundary, boundary)).encode()
        r = self.get(s, "upload=1", method="POST", body=body,
                     content_type="multipart/form-data; boundary=" + boundary)
        j = json.loads(r.body)
        self.assertEqual((j["there"], j["content"]), (True, "uploaded bytes"))
        self.assertEqual(json.loads(self.get(s, "exists=" + j["tmp"]).body), {"there": False})

    def test_reload_serves_new_code(self):
        s = self.worker_pool()
        self.assertEqual(json.loads(self.get(s).body)["precision"], "10")
        self.ws.write("/worker-fpmd_handle_request.php",
                      (WORKER % "fpmd_handle_request").replace("ini_set('precision', '10')", "ini_set('precision', '12')"))
        r = s.reload_command()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(self.get(s).body)["precision"], "12")

    def test_status_access_log_timeouts(self):
        # The status page and the access log count worker-mode requests like any other; fpm_get_status() works in
        # the handler; request_terminate_timeout and the slowlog act on a running handler as on a script
        self.ws.write("/worker-fpmd_handle_request.php", WORKER % "fpmd_handle_request")
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "status_path": "/status",
                               "access_log": True, "access_format": "%r %s",
                               "request_slowlog_timeout": "1s", "request_terminate_timeout": "3s",
                               "worker": {"script": self.ws.script("/worker-fpmd_handle_request.php")}}})
        offset = s.log_offset()
        for i in range(3):
            self.assertEqual(self.get(s, "n=%d" % i).status, 200)
        self.assertEqual(json.loads(self.get(s, "fpm=1").body), {"pool": "www", "procs": 1})
        st = harness.fcgi_request(s.endpoint(), harness.cgi_params(self.ws, "/status", query="json"))[0].json()
        self.assertEqual((st["accepted conn"], st["responses 2xx"]), (5, 4))
        self.assertEqual(len(s.log_find(r"/index\.php 200$", offset)), 4, s.log_text()[offset:])
        # slowlog: a backtrace naming the handler
        r = self.get(s, "sleep=1.5")
        self.assertEqual(r.status, 200)
        self.assertIsNotNone(s.wait_log(r"\{closure\}\(\)", offset), s.log_text()[offset:])
        # request_terminate_timeout: the worker is killed, the pool replaces it
        pid = json.loads(self.get(s).body)["pid"]
        with self.assertRaises(Exception):
            self.get(s, "sleep=10")
        self.assertIsNotNone(s.wait_log(r"execution timed out", offset), s.log_text()[offset:])
        j = json.loads(self.get(s).body)
        self.assertNotEqual(j["pid"], pid)
        self.assertEqual(j["count"], 1)

    def test_client_gone_while_handler_runs(self):
        # As in classic mode the handler is ended (connection_aborted()); the engine unwound it, so that worker is
        # replaced like one whose handler failed
        s = self.worker_pool()
        pid = json.loads(self.get(s).body)["pid"]
        offset = s.log_offset()
        c = harness.FcgiClient(s.port, timeout=30)
        c.send_request(harness.cgi_params(self.ws, "/index.php", query="sleep=8"))
        harness.wait_for(lambda: False, 0.5)
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        self.assertIsNotNone(s.wait_log(r"the web server gave up on /index\.php\?sleep=8 while it ran: ending it\.$",
                                        offset, timeout=10), s.log_text()[offset:])
        j = json.loads(self.get(s).body)
        self.assertNotEqual(j["pid"], pid)

    def test_dynamic_and_ondemand_pools(self):
        # Worker scripts in every pm mode: an ondemand pool starts its leader and a worker for the first
        # connection, a dynamic pool spawns more under concurrent requests; each worker keeps its own application
        self.ws.write("/worker-fpmd_handle_request.php", WORKER % "fpmd_handle_request")
        script = self.ws.script("/worker-fpmd_handle_request.php")
        s = self.fpmd({"od": {"pm": {"mode": "ondemand", "max_children": 2, "process_idle_timeout": "10s"},
                              "worker": {"script": script}},
                       "dyn": {"pm": {"mode": "dynamic", "max_children": 3, "start_servers": 1,
                                      "min_spare_servers": 1, "max_spare_servers": 2},
                               "worker": {"script": script}}})
        self.assertEqual(s.pool_workers("od"), [])
        counts = []
        for _ in range(3):
            counts.append(json.loads(harness.fcgi_request(s.endpoint("od"), harness.cgi_params(self.ws, "/index.php"))[0]
                                     .body)["count"])
            # The client has its answer a moment before the worker is back in its loop (as in PHP-FPM): a
            # connection in that moment finds no idle worker and ondemand rightly starts another
            self.assertTrue(harness.wait_for(lambda: self.idle_workers(s, "od") == 1, 10))
        self.assertEqual(counts, [1, 2, 3])
        self.assertEqual(len(s.pool_workers("od")), 1)
        busy = harness.FcgiClient(s.ports["dyn"], timeout=30)
        busy.send_request(harness.cgi_params(self.ws, "/index.php", query="sleep=2"))
        self.assertTrue(harness.wait_for(lambda: len(s.pool_workers("dyn")) >= 2, 10), s.pool_workers("dyn"))
        r = harness.fcgi_request(s.endpoint("dyn"), harness.cgi_params(self.ws, "/index.php"))[0]
        self.assertEqual(r.status, 200)
        self.assertEqual(busy.read_response().response().status, 200)
        busy.close()

    def test_nothing_kept_between_requests(self):
        # The Zend heap after 100 more requests is what it was: no request leaves anything behind (ext/filter's
        # copies of the request's variables were once left by every request, about 0.5 kB each), and
        # filter_input() sees the request's own variables only
        self.ws.write("/worker-mem.php", "<?php\nwhile (fpmd_handle_request(function () { echo json_encode(["
                      "memory_get_usage(), filter_input(INPUT_GET, 'a'), filter_input(INPUT_GET, 'b'), "
                      "filter_input(INPUT_SERVER, 'QUERY_STRING'), count($_SERVER)]); })) {}\n")
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1},
                               "worker": {"script": self.ws.script("/worker-mem.php")}}})
        self.assertEqual(json.loads(self.get(s, "a=1").body)[1:4], ["1", None, "a=1"])
        self.assertEqual(json.loads(self.get(s, "b=2").body)[1:4], [None, "2", "b=2"])
        for _ in range(20):
            self.get(s, "a=1")
        before = json.loads(self.get(s, "a=1").body)
        with harness.FcgiClient(s.port, timeout=30) as c:
            for _ in range(100):
                c.request(harness.cgi_params(self.ws, "/index.php", query="a=1"), keep_conn=True)
        self.assertEqual(json.loads(self.get(s, "a=1").body), before)

    def test_frankenphp_alias(self):
        s = self.worker_pool("frankenphp_handle_request")
        counts = [json.loads(self.get(s, "n=%d" % i).body)["count"] for i in range(3)]
        self.assertEqual(counts, [1, 2, 3])

    def test_failures_replace_the_worker(self):
        s = self.worker_pool()
        pid = json.loads(self.get(s).body)["pid"]
        for query in ("throw=1", "fatal=1"):
            offset = s.log_offset()
            r = self.get(s, query)
            self.assertEqual(r.status, 500, query)
            self.assertIsNotNone(s.wait_log(r"\[pool www\] worker script failed in a request: replacing the worker\.$",
                                            offset), s.log_text()[offset:])
            j = json.loads(self.get(s).body)
            self.assertNotEqual(j["pid"], pid, query)
            self.assertEqual(j["count"], 1, query)  # a new application
            pid = j["pid"]

    def test_max_requests(self):
        s = self.worker_pool(max_requests=3)
        pids = [json.loads(self.get(s).body)["pid"] for _ in range(7)]
        self.assertEqual(len(set(pids[:3])), 1)
        self.assertEqual(len(set(pids[3:6])), 1)
        self.assertNotEqual(pids[0], pids[3])
        self.assertNotEqual(pids[3], pids[6])
        self.assertEqual(s.stop(), 0)

    def test_script_without_loop_is_a_pool_fault(self):
        # A worker script that ends before its first fpmd_handle_request() serves nothing: each worker exits with
        # WORKER_EXIT_NEVER_SERVED (3), a fault of the pool's, throttled (one new worker a tick, never a fork
        # loop). After three, fpmd says once that the application does not boot and is ready, with the pool
        # marked failing (its other pools are not held back); a worker that boots later serves.
        self.ws.write("/noloop.php", "<?php if (!file_exists(__DIR__ . '/fixed')) { echo 'no loop'; exit; }\n"
                      "while (fpmd_handle_request(function () { echo 'fixed'; })) {}\n")
        script = self.ws.script("/noloop.php")
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1}, "worker": {"script": script}},
                       "classic": {"pm": {"mode": "static", "max_children": 1}}}, start=False)
        s._wait_started = lambda: None  # ready comes with no worker of www alive: the harness's check is not for it
        s.start()
        ended = r"worker\.script %s ended before its first fpmd_handle_request\(\)\.$" % script
        broken = (r"error: \[pool www\] worker\.script %s failed before its first request in 3 workers: the pool "
                  r"serves nothing until one boots \(a new worker each second\)\.$" % script)
        self.assertEqual(len(s.log_find(broken)), 1, s.log_text())
        self.assertGreaterEqual(len(s.log_find(r"\[pool www\] child \d+ exited before serving: its worker\.script "
                                               r"failed before its first request\.$")), 3, s.log_text())
        self.assertEqual(len(s.log_find(r"notice: fpmd [\d.]+ ready: 2 pools serving\.$")), 1, s.log_text())
        self.assertEqual(self.raw("/hello.php", server=s.endpoint("classic")).status, 200)
        n = len(s.log_find(ended))
        harness.wait_for(lambda: False, 2.0)  # two ticks
        self.assertLessEqual(len(s.log_find(ended)) - n, 4, s.log_text())
        # Fixed: the next worker boots, and the pool says it serves again
        offset = s.log_offset()
        self.ws.write("/fixed", "")
        self.assertIsNotNone(s.wait_log(r"notice: \[pool www\] a worker booted worker\.script %s: serving again\.$"
                                        % script, offset), s.log_text()[offset:])
        self.assertEqual(self.get(s).body, b"fixed")
        self.assertEqual(len(s.log_find(broken)), 1)

    def test_reload_to_a_script_that_does_not_boot(self):
        # A deploy whose worker script fails before serving: the new generation is stopped after three workers,
        # the previous one never stopped serving, and `fpmd reload` says the reload failed
        s = self.worker_pool()
        pid = json.loads(self.get(s).body)["pid"]
        self.ws.write("/noloop.php", "<?php throw new RuntimeException('cannot boot');\n")
        settings = dict(s.pool_settings["www"], worker={"script": self.ws.script("/noloop.php")})
        s.set_pool("www", settings)
        r = s.reload_command()
        self.assertEqual((r.returncode, r.stderr.strip()), (1, "fpmd: reload failed: pool www: its new generation "
                                                               "failed to start; the previous one keeps serving, see "
                                                               "the journal"), r.stdout)
        self.assertEqual(len(s.log_find(r"error: \[pool www\] worker\.script %s failed before its first request "
                                        r"in 3 workers of the new generation: stopping it\.$"
                                        % self.ws.script("/noloop.php"))), 1, s.log_text())
        j = json.loads(self.get(s).body)
        self.assertEqual((j["pid"], j["count"]), (pid, 2))  # the same worker, the same application


if __name__ == "__main__":
    harness.main()
