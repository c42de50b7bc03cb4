#!/usr/bin/python3
"""PHP as PHP-FPM sets it up: the same extensions, functions, constants, classes and ini entries for the same
php.ini and conf.d (no pcntl, no chroot()), cgi.* and fastcgi.* entries with PHP-FPM's defaults, USER and HOME
of the pool's user; fpmd's allow_pcntl and php_ini_scan_dir."""

import json
import os

import harness

ROOT = os.geteuid() == 0
# The workers run as www-data when the tests run as root (CI does): USER and HOME are the pool user's
POOL = {"user": "www-data"} if ROOT else {}


def environment(server, ws):
    """What environment.php reports, asked with no params but the script's (cgi-fcgi would pass its own
    environment, HOME included, as params)."""
    r, _ = harness.fcgi_request(server, harness.cgi_params(ws, "/environment.php"))
    assert r.status == 200, r
    return json.loads(r.body)


class PhpEnvironment(harness.TestCase):
    POOL = POOL

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.chmod(cls.ws.dir, 0o711)
        cls.env = environment(cls.server, cls.ws)
        # The reference, whatever SERVER says: PHP-FPM with the same pool
        cls.ref_server = harness.PhpFpmServer(cls.ws, POOL)
        cls.addClassCleanup(cls.ref_server.stop)
        cls.ref_server.start()
        cls.ref = environment(cls.ref_server, cls.ws)

    def test_same_extensions(self):
        self.assertEqual(self.env["extensions"], self.ref["extensions"])
        self.assertNotIn("pcntl", self.env["extensions"])

    def test_same_functions(self):
        self.assertEqual(self.env["functions"], self.ref["functions"])
        for f in ("pcntl_fork", "pcntl_exec", "chroot"):
            self.assertNotIn(f, self.env["functions"])
        self.assertIn("fastcgi_finish_request", self.env["functions"])
        self.assertIn("fpm_get_status", self.env["functions"])

    def test_same_constants_and_classes(self):
        self.assertEqual(self.env["constants"], self.ref["constants"])
        self.assertEqual(self.env["classes"], self.ref["classes"])

    def test_same_ini_entries(self):
        self.assertEqual(self.env["ini"], self.ref["ini"])
        cgi = {k: v for k, v in self.env["ini"].items() if k.split(".")[0] in ("cgi", "fastcgi", "fpm")}
        self.assertEqual(cgi, {"cgi.discard_path": "0", "cgi.fix_pathinfo": "1", "cgi.force_redirect": "1",
                               "cgi.nph": "0", "cgi.redirect_status_env": None, "cgi.rfc2616_headers": "0",
                               "fastcgi.error_header": None, "fastcgi.logging": "1", "fpm.config": None})

    def test_sapi(self):
        self.assertEqual((self.env["sapi"], self.ref["sapi"]), ("fpm-fcgi", "fpm-fcgi"))

    @harness.unittest.skipUnless(ROOT, "the pool runs as another user only when the tests run as root")
    def test_user_and_home(self):
        want = {"USER": "www-data", "HOME": "/var/www", "SERVER_USER": "www-data", "SERVER_HOME": "/var/www",
                "uid": 33}
        self.assertEqual({k: self.ref[k] for k in want}, want)
        self.assertEqual({k: self.env[k] for k in want}, want)


class Variables(harness.TestCase):
    """$_SERVER, getenv() without a name and apache_request_headers() hold what PHP-FPM's hold, in its order:
    the pool's environment first, then the FastCGI params from the last sent to the first (FCGI_ROLE last, a name
    the path resolver adds first), then PHP_SELF and the request times. getenv() gives the params unfiltered."""

    POOL = dict(POOL, env={"FROM_POOL": "pool value"})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.chmod(cls.ws.dir, 0o711)
        cls.ref_server = harness.PhpFpmServer(cls.ws, cls.POOL)
        cls.addClassCleanup(cls.ref_server.stop)
        cls.ref_server.start()

    def variables(self, server, pairs):
        with harness.FcgiClient(server.port) as c:
            c.send(harness.fcgi_begin(1, harness.FCGI_RESPONDER, 0)
                   + harness.fcgi_stream(harness.FCGI_PARAMS, 1, b"".join(harness.fcgi_pair(k, v) for k, v in pairs))
                   + harness.fcgi_stream(harness.FCGI_STDIN, 1, b""))
            r = harness.parse_cgi(c.read_response().stdout)
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def assertSameAsPhpFpm(self, pairs):
        got, ref = self.variables(self.server, pairs), self.variables(self.ref_server, pairs)
        self.assertEqual(got, ref)
        return got

    def test_in_php_fpm_order(self):
        params = harness.cgi_params(self.ws, "/variables.php", headers={"X-One": "1", "Accept": "*/*"})
        v = self.assertSameAsPhpFpm(list(params.items()))
        sent = list(params)
        self.assertEqual(v["server"][0], "FROM_POOL")  # the worker's environment first
        self.assertEqual(v["server"][-len(sent) - 4:], list(reversed(sent)) + ["FCGI_ROLE", "PHP_SELF",
                                                                               "REQUEST_TIME_FLOAT", "REQUEST_TIME"])
        self.assertEqual(list(v["getenv"])[-len(sent) - 1:], list(reversed(sent)) + ["FCGI_ROLE"])
        self.assertEqual(v["getenv"]["FROM_POOL"], "pool value")
        self.assertEqual(list(v["headers"]), ["Accept", "X-One", "Host"])
        self.assertEqual((v["one"], v["pool"]), ("1", "pool value"))

    def test_through_nginx(self):
        # What users run: nginx with Debian's fastcgi_params in front of each server, a header of its own
        fronts = [self.start_nginx(server) for server in (self.server, self.ref_server)]
        got, ref = [json.loads(n.request("GET", "/variables.php?a=1", headers={"X-One": "1"}).body) for n in fronts]
        for v in (got, ref):  # each nginx has its own port
            for d in (v["values"], v["getenv"]):
                del d["REMOTE_PORT"], d["SERVER_PORT"], d["HTTP_HOST"]
            del v["headers"]["Host"]
        self.assertEqual(got, ref)
        self.assertEqual((got["one"], got["values"]["QUERY_STRING"]), ("1", "a=1"))
        self.assertEqual(got["server"][-4:], ["FCGI_ROLE", "PHP_SELF", "REQUEST_TIME_FLOAT", "REQUEST_TIME"])

    def test_names_sent_twice_and_path_info(self):
        # A name sent again keeps its first place and takes the last value; the path info walk adds ORIG_*
        # names, which PHP-FPM puts first
        params = harness.cgi_params(self.ws, "/variables.php", headers={"X-One": "1"},
                                    script_filename=self.ws.docroot + "/variables.php/extra/path",
                                    request_uri="/variables.php/extra/path")
        pairs = list(params.items()) + [("HTTP_X_ONE", "2"), ("QUERY_STRING", "a=b")]
        v = self.assertSameAsPhpFpm(pairs)
        self.assertEqual((v["one"], v["values"]["HTTP_X_ONE"], v["values"]["QUERY_STRING"]), ("2", "2", "a=b"))
        self.assertEqual(v["values"]["SCRIPT_FILENAME"], self.ws.docroot + "/variables.php")
        # After the pool's environment, what the walk added (the last added first), then the web server's
        # params from the last sent: HTTP_X_ONE and QUERY_STRING stay where they were first sent
        self.assertEqual(v["server"][0], "FROM_POOL")
        start = v["server"].index("PATH_TRANSLATED")
        self.assertEqual(v["server"][start:start + 5],
                         ["PATH_TRANSLATED", "ORIG_SCRIPT_FILENAME", "HTTP_X_ONE", "REDIRECT_STATUS", "HTTP_HOST"])
        self.assertEqual(v["server"][-6:], ["SERVER_SOFTWARE", "GATEWAY_INTERFACE", "FCGI_ROLE", "PHP_SELF",
                                            "REQUEST_TIME_FLOAT", "REQUEST_TIME"])


@harness.fpmd_only("allow_pcntl and php_ini_scan_dir are fpmd's")
class FpmdSettings(harness.TestCase):
    """fpmd's own: a pool may ask for pcntl; php_ini_scan_dir chooses the ini files PHP scans"""

    START_SERVER = False

    def pool(self, **settings):
        s = harness.FpmdServer(self.ws, {"www": settings})
        self.addCleanup(s.stop)
        s.start()
        return environment(s, self.ws)

    def test_allow_pcntl(self):
        env = self.pool(allow_pcntl=True)
        self.assertIn("pcntl", env["extensions"])
        self.assertIn("pcntl_fork", env["functions"])
        self.assertNotIn("chroot", env["functions"])

    def test_php_ini_scan_dir(self):
        d = self.ws.path("scan")
        os.makedirs(d)
        with open(os.path.join(d, "50-test.ini"), "w") as f:
            f.write("memory_limit = 77M\nextension = posix\n")
        env = self.pool(php_ini_scan_dir=d)
        self.assertEqual(env["ini"]["memory_limit"], "77M")
        # Debian's conf.d is not scanned: no opcache, no other shared extension
        self.assertNotIn("Zend OPcache", env["extensions"])
        self.assertIn("posix", env["extensions"])

    def test_extensions_from_the_pool(self):
        # Loaded once, at startup: neither "Module already loaded" nor "Unknown PHP setting"
        s = harness.FpmdServer(self.ws, {"www": {"php_ini_scan_dir": "",
                                                 "php_admin_value": {"extension": "calendar",
                                                                     "zend_extension": "opcache"}}})
        self.addCleanup(s.stop)
        s.start()
        env = environment(s, self.ws)
        self.assertIn("calendar", env["extensions"])
        self.assertIn("Zend OPcache", env["extensions"])
        self.assertNotIn("posix", env["extensions"])
        s.stop()
        self.assertEqual([l for l in s.log_text().splitlines() if "calendar" in l or "opcache" in l or
                          "Unknown PHP setting" in l], [])

    def test_php_ini_scan_dir_none(self):
        env = self.pool(php_ini_scan_dir="")
        for ext in ("Zend OPcache", "posix", "json"):
            self.assertEqual(ext in env["extensions"], ext == "json", ext)


if __name__ == "__main__":
    harness.main()
