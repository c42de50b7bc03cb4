#!/usr/bin/python3
"""Each pool its own php.ini under the leaders' zygote: two ondemand pools whose leaders start on demand, forked
from the zygote, which has preloaded the union of both pools' extensions (shmop for pool a, named in a's php.ini;
calendar for pool b, in b's scan folder). Each pool sees what its own files say and nothing of the other's:
extension_loaded(), get_loaded_extensions(), the functions and classes, ini_get() of values set in the php.ini
itself, php_ini_loaded_file() and php_ini_scanned_files(), exactly as PHP-FPM gives them when its master runs
with that pool's php.ini.

PHP-FPM has one php.ini for all its pools (-c, php-src #11723): with SERVER=php-fpm the test records that, one
master with both pools and a's php.ini, in which b sees a's extension, values and file."""

import json
import os
import re
import unittest
from unittest import mock

import harness

SUP = r"fpmd\[\d+\]: "
EXT_DIR = "/usr/lib/php/20220829"

# What each pool's files say. a: its php.ini loads shmop and sets its values, no scan folder. b: its php.ini sets
# other values, its scan folder loads calendar.
A_INI = "memory_limit = 96M\nprecision = 10\ndefault_charset = \"ISO-8859-1\"\nextension = shmop\n"
B_INI = "memory_limit = 80M\nprecision = 12\n"
B_SCAN = {"20-calendar.ini": "extension = calendar.so\n"}

PROBE = """<?php
header('Content-Type: application/json');
echo json_encode([
    'php_ini_loaded_file' => php_ini_loaded_file(),
    'php_ini_scanned_files' => php_ini_scanned_files(),
    'extensions' => get_loaded_extensions(),
    'zend_extensions' => get_loaded_extensions(true),
    'extension_loaded' => ['shmop' => extension_loaded('shmop'), 'calendar' => extension_loaded('calendar')],
    'functions' => ['shmop_open' => function_exists('shmop_open'),
                    'cal_days_in_month' => function_exists('cal_days_in_month')],
    'classes' => ['Shmop' => class_exists('Shmop', false)],
    'constants' => ['CAL_GREGORIAN' => defined('CAL_GREGORIAN')],
    'ini' => ['memory_limit' => ini_get('memory_limit'), 'precision' => ini_get('precision'),
              'default_charset' => ini_get('default_charset')],
], JSON_UNESCAPED_SLASHES), "\\n";
"""

LAZY = {"mode": "ondemand", "max_children": 2, "process_idle_timeout": "1s", "leader_idle_timeout": "1s"}


class PhpFpmWithIni(harness.PhpFpmServer):
    """PHP-FPM with a php.ini and a scan folder of the test's (-c and PHP_INI_SCAN_DIR, "" for none): one for the
    whole master, whatever its pools."""

    def __init__(self, ws, php_ini, scan_dir, extra_lines=()):
        harness.PhpFpmServer.__init__(self, ws, {"max_children": 2}, extra_lines)
        self.php_ini = php_ini
        self.scan_dir = scan_dir

    def _write_php_fpm(self):
        argv = harness.PhpFpmServer._write_php_fpm(self)
        argv[argv.index("-c") + 1] = self.php_ini
        return argv

    def start(self, timeout=10):
        with mock.patch.dict(os.environ, {"PHP_INI_SCAN_DIR": self.scan_dir}):
            return harness.PhpFpmServer.start(self, timeout)


class PoolIni(harness.FpmdTestCase):
    def setUp(self):
        super().setUp()
        self.ws.write("/probe.php", PROBE)
        self.a_ini = self.ws.write("ini-a/php.ini", A_INI, docroot=False)
        self.b_ini = self.ws.write("ini-b/php.ini", B_INI, docroot=False)
        self.b_scan = self.ws.path("ini-b", "conf.d")
        for name, text in B_SCAN.items():
            self.ws.write(os.path.join("ini-b", "conf.d", name), text, docroot=False)
        # What is checked is shipped by Debian's php8.2-common
        for so in ("shmop.so", "calendar.so"):
            self.assertTrue(os.path.exists(os.path.join(EXT_DIR, so)), so)

    def probe(self, server):
        r = self.cgi("/probe.php", server=server)
        self.assertEqual((r.status, r.body[:1]), (200, b"{"), r)  # no warning before the JSON
        return json.loads(r.body)

    def reference(self, php_ini, scan_dir):
        """What PHP-FPM gives a pool when its master runs with php_ini and scan_dir."""
        ref = PhpFpmWithIni(self.ws, php_ini, scan_dir)
        self.addCleanup(ref.stop)
        ref.start()
        return self.probe(ref)

    def expected_a(self, got):
        self.assertEqual(got["php_ini_loaded_file"], self.a_ini)
        self.assertEqual(got["php_ini_scanned_files"], False)
        self.assertEqual((got["extension_loaded"], got["functions"], got["classes"], got["constants"]),
                         ({"shmop": True, "calendar": False}, {"shmop_open": True, "cal_days_in_month": False},
                          {"Shmop": True}, {"CAL_GREGORIAN": False}))
        self.assertEqual(got["ini"], {"memory_limit": "96M", "precision": "10", "default_charset": "ISO-8859-1"})
        self.assertEqual(got["extensions"][-1], "shmop")
        self.assertNotIn("calendar", got["extensions"])

    @harness.fpmd_only("PHP-FPM has one php.ini for all pools (test_one_php_ini_for_all_pools records it)")
    def test_each_pool_its_own_php_ini(self):
        s = self.fpmd({"a": {"pm": LAZY, "php_ini": self.a_ini, "php_ini_scan_dir": ""},
                       "b": {"pm": LAZY, "php_ini": self.b_ini, "php_ini_scan_dir": self.b_scan}},
                      log_level="debug")
        # Both at rest: the supervisor alone, not even the zygote yet
        self.assertEqual(harness.children(s.pid), [])

        # The first request to each starts the zygote, which loads the extensions of both pools' files, and forks
        # the pool's leader from it: both libraries are mapped in either leader
        a, b = self.probe(s.endpoint("a")), self.probe(s.endpoint("b"))
        zygotes = [c for c in harness.children(s.pid) if harness.is_zygote(c)]
        self.assertEqual(len(zygotes), 1)
        self.assertEqual(mapped(zygotes[0]), ["calendar.so", "shmop.so"])
        for name in ("a", "b"):
            leader = s.leader(name)
            self.assertIsNotNone(leader, name)
            self.assertEqual(harness.proc_stat_ppid(leader), s.pid)
            self.assertEqual(mapped(leader), ["calendar.so", "shmop.so"], name)
            self.assertEqual(len(s.log_find(r"^fpmd\[%d\]: debug: \[pool %s\] PHP \S+ started with %s\.$"
                                            % (leader, name, re.escape(s.pool_settings[name]["php_ini"])))), 1)

        # ... and PHP in each knows only its own pool's
        self.expected_a(a)
        self.assertEqual(b["php_ini_loaded_file"], self.b_ini)
        self.assertEqual(b["php_ini_scanned_files"], os.path.join(self.b_scan, "20-calendar.ini") + "\n")
        self.assertEqual((b["extension_loaded"], b["functions"], b["classes"], b["constants"]),
                         ({"shmop": False, "calendar": True}, {"shmop_open": False, "cal_days_in_month": True},
                          {"Shmop": False}, {"CAL_GREGORIAN": True}))
        self.assertEqual(b["ini"], {"memory_limit": "80M", "precision": "12", "default_charset": "UTF-8"})
        self.assertEqual(b["extensions"][-1], "calendar")
        self.assertNotIn("shmop", b["extensions"])
        self.assertEqual([e for e in a["extensions"] if e != "shmop"], [e for e in b["extensions"] if e != "calendar"])

        # Exactly what PHP-FPM gives a pool whose master runs with that php.ini
        self.assertEqual(a, self.reference(self.a_ini, ""))
        self.assertEqual(b, self.reference(self.b_ini, self.b_scan))

        # Each leader goes at rest and comes back from the zygote with its own php.ini again
        for name in ("a", "b"):
            self.assertIsNotNone(s.wait_log(SUP + r"info: \[pool %s\] no worker for 1 s \(pm.leader_idle_timeout\): "
                                            r"stopping its PHP" % name), s.log_text())
        self.assertTrue(harness.wait_for(lambda: s.pool_processes() == [], 10), s.pool_processes())
        self.assertEqual(self.probe(s.endpoint("b")), b)
        self.assertEqual(self.probe(s.endpoint("a")), a)
        self.assertEqual([mapped(s.leader("a")), mapped(s.leader("b"))], [["calendar.so", "shmop.so"]] * 2)
        self.assertEqual(s.log_find(SUP + r"(error|warning): (?!\[pool \w+\] runs PHP as root|cgroup v2 is not "
                                    r"mounted)"), [], s.log_text())
        self.assertEqual(s.stop(), 0)

    @unittest.skipUnless(harness.IS_PHP_FPM, "PHP-FPM only: what it gives two pools, one php.ini for both")
    def test_one_php_ini_for_all_pools(self):
        port_b = harness.free_port()
        s = PhpFpmWithIni(self.ws, self.a_ini, "", [
            "pm = ondemand", "pm.process_idle_timeout = 1s",
            "", "[b]", "listen = 127.0.0.1:%d" % port_b, "pm = ondemand", "pm.max_children = 2",
            "pm.process_idle_timeout = 1s", "clear_env = yes", "catch_workers_output = yes",
            "decorate_workers_output = no", "security.limit_extensions = .php"])
        self.addCleanup(s.stop)
        s.start()
        a, b = self.probe(s), self.probe(harness.Endpoint(port_b))
        # b has no php.ini of its own: a's extension, values and file are b's too
        self.expected_a(a)
        self.assertEqual(b, a)


def mapped(pid):
    """Which of the two extensions' libraries are mapped in pid, sorted."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    return sorted(so for so in ("calendar.so", "shmop.so") if re.search(r" %s/%s$" % (EXT_DIR, so), maps, re.M))


if __name__ == "__main__":
    harness.main()
