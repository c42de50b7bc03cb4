#!/usr/bin/python3
"""ini settings: php_value / php_admin_value / php_flag / php_admin_flag from the pool, ini_set against
admin values, the PHP_VALUE FastCGI param, and .user.ini with user_ini.cache_ttl."""

import json
import time
import urllib.parse

import harness

NAMES = ["precision", "session.name", "memory_limit", "upload_max_filesize", "short_open_tag", "html_errors",
         "allow_url_fopen", "log_errors", "user_agent", "serialize_precision"]

POOL = {
    "php_value": {"precision": "10", "session.name": "FPMDSESS"},
    "php_admin_value": {"memory_limit": "96M", "upload_max_filesize": "7M"},
    "php_flag": {"short_open_tag": True, "html_errors": False},
    "php_admin_flag": {"allow_url_fopen": False, "log_errors": True},
}

POOL_VALUES = {"precision": "10", "session.name": "FPMDSESS", "memory_limit": "96M", "upload_max_filesize": "7M",
               "short_open_tag": "1", "html_errors": "0", "allow_url_fopen": "0", "log_errors": "1",
               "user_agent": "", "serialize_precision": "-1"}

PHP_VALUE_PARAMS = {"PHP_VALUE": "precision=7\nuser_agent=fromparam", "PHP_ADMIN_VALUE": "serialize_precision=5"}


def query(get=NAMES, set_=None):
    return urllib.parse.urlencode([("get[]", n) for n in get] +
                                  [("set[%s]" % k, v) for k, v in (set_ or {}).items()])


class Ini(harness.TestCase):
    POOL = POOL

    def ini(self, script="/ini.php", server=None, set_=None, extra=None):
        r = self.cgi(script, server=server, query=query(set_=set_), extra=extra)
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)

    def test_pool_values(self):
        self.assertEqual(self.ini()["get"], POOL_VALUES)

    def test_ini_set(self):
        j = self.ini(set_={"memory_limit": "256M", "allow_url_fopen": "1", "precision": "12", "session.name": "X"})
        self.assertEqual(j["set"], {
            "memory_limit": {"returned": False, "after": "96M"},  # php_admin_value: locked
            "allow_url_fopen": {"returned": False, "after": "0"},  # php_admin_flag: locked
            "precision": {"returned": "10", "after": "12"},  # php_value: a default the script may change
            "session.name": {"returned": "FPMDSESS", "after": "X"},
        })
        # ini_set lasts for its request only
        self.assertEqual(self.ini()["get"], POOL_VALUES)
        self.assertEqual(self.ini()["get"], POOL_VALUES)

    @harness.fpmd_only("PHP-FPM always applies PHP_VALUE / PHP_ADMIN_VALUE params")
    def test_php_value_param_ignored_by_default(self):
        for _ in range(3):
            self.assertEqual(self.ini(extra=PHP_VALUE_PARAMS)["get"], POOL_VALUES)

    def test_php_value_param_php_fpm_record(self):
        if harness.IS_FPMD:
            self.skipTest("records what PHP-FPM does")
        # its own one-worker server: in PHP-FPM the values outlive the request and would leak into other tests
        server = self.start_server(dict(POOL, max_children=1))
        j = self.ini(server=server, extra=PHP_VALUE_PARAMS)
        self.assertEqual(j["get"], dict(POOL_VALUES, precision="7", user_agent="fromparam", serialize_precision="5"))
        after = self.ini(server=server)["get"]
        harness.log("PHP-FPM, PHP_VALUE param: applied; the next request without it sees %r"
                    % {k: after[k] for k in ("precision", "user_agent", "serialize_precision")})
        server.stop()

    @harness.fpmd_only("security.allow_php_value_params is fpmd's setting")
    def test_php_value_param_allowed(self):
        server = self.start_server(dict(POOL, max_children=1, allow_php_value_params=True))
        j = self.ini(server=server, extra=PHP_VALUE_PARAMS)
        self.assertEqual(j["get"], dict(POOL_VALUES, precision="7", user_agent="fromparam", serialize_precision="5"))
        # PHP_VALUE cannot unlock a php_admin_value
        j = self.ini(server=server, extra={"PHP_VALUE": "memory_limit=1G"})
        self.assertEqual(j["get"]["memory_limit"], "96M")
        # and the values last for their request only (PHP-FPM keeps them in the worker)
        self.assertEqual(self.ini(server=server)["get"], POOL_VALUES)
        server.stop()


class UserIni(harness.TestCase):
    # One worker, so the .user.ini cache being checked is the one that serves every request.
    POOL = dict(POOL, max_children=1, php_admin_value=dict(POOL["php_admin_value"], **{"user_ini.cache_ttl": 2}))

    def ini(self):
        r = self.cgi("/uini/ini.php", query=query())
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)["get"]

    def test_user_ini_and_cache_ttl(self):
        a = dict(POOL_VALUES, user_agent="ua-A", precision="3")  # memory_limit is a php_admin_value: stays
        t0 = time.monotonic()
        self.assertEqual(self.ini(), POOL_VALUES)
        self.ws.write("uini/.user.ini", 'user_agent = "ua-A"\nprecision = 3\nmemory_limit = 200M\n')
        # within user_ini.cache_ttl (2 s) the directory is not looked at again
        self.assertEqual(self.ini(), POOL_VALUES)
        self.assertLess(time.monotonic() - t0, 1.0)
        time.sleep(3.1)
        t0 = time.monotonic()
        self.assertEqual(self.ini(), a)
        self.ws.write("uini/.user.ini", 'user_agent = "ua-B"\n')
        self.assertEqual(self.ini(), a)
        self.assertLess(time.monotonic() - t0, 1.0)
        time.sleep(3.1)
        self.assertEqual(self.ini(), dict(POOL_VALUES, user_agent="ua-B"))
        # a script in another folder is not touched by it
        self.assertEqual(json.loads(self.cgi("/ini.php", query=query()).body)["get"], POOL_VALUES)


class IniExpressions(harness.TestCase):
    # PHP-FPM reads its pool file with PHP's ini parser: constants and operators are evaluated, as in php.ini
    POOL = {"php_admin_value": {"error_reporting": harness.IniExpr("E_ALL & ~E_NOTICE & ~E_DEPRECATED")},
            "php_value": {"session.serialize_handler": "php", "date.timezone": "UTC"}}

    def test_constant_expression(self):
        r = self.cgi("/ini.php", query=query(get=["error_reporting", "session.serialize_handler", "date.timezone"]))
        self.assertEqual(json.loads(r.body)["get"], {"error_reporting": "24567", "session.serialize_handler": "php",
                                                     "date.timezone": "UTC"})


if __name__ == "__main__":
    harness.main()
