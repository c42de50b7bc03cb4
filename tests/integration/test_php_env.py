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
