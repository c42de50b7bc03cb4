#!/usr/bin/python3
"""The working directory a script runs in, as PHP-FPM gives it: its own folder, whatever ran before it in the
same worker (a script in another folder, a script that called chdir()), for relative includes and file names.
fpmd changes folder only when the next script's differs (SAPI_OPTION_NO_CHDIR; PHP-FPM does getcwd() and two
chdir() a request), and a script's chdir() makes it change again. One worker, so every request meets what the
previous one left."""

import os

import harness

WHERE = "<?php echo getcwd(), '|', file_get_contents('here.txt');\n"


class WorkingDirectory(harness.TestCase):
    POOL = {"max_children": 1}

    def setUp(self):
        for d in ("one", "two", "two/three"):
            self.ws.write("/cwd/%s/where.php" % d, WHERE)
            self.ws.write("/cwd/%s/here.txt" % d, d)
        self.ws.write("/cwd/one/away.php", "<?php chdir('/tmp'); echo getcwd();\n")
        self.ws.write("/cwd/where.php", WHERE)
        self.ws.write("/cwd/here.txt", "top")
        # a shutdown function sees the folder of the script too (PHP-FPM: the worker's, "/"): not compared

    def where(self, path):
        r = self.raw("/cwd/%s" % path)
        self.assertEqual(r.status, 200, r.body)
        return r.body.decode()

    def test_each_script_in_its_own_folder(self):
        root = os.path.realpath(self.ws.docroot) + "/cwd"
        docroot = self.ws.docroot + "/cwd"
        seq = ["one/where.php", "one/where.php", "two/where.php", "two/three/where.php", "where.php",
               "one/away.php", "one/where.php", "one/away.php", "two/where.php", "one/where.php"]
        want = {"one/where.php": "one", "two/where.php": "two", "two/three/where.php": "two/three", "where.php": "top"}
        pid = self.raw("/pid.php").body
        for path in seq:
            got = self.where(path)
            if path.endswith("away.php"):
                self.assertEqual(got, "/tmp", path)
                continue
            d = want[path]
            folder = docroot if d == "top" else docroot + "/" + d
            self.assertIn(got, ("%s|%s" % (folder, d), "%s|%s" % (root if d == "top" else root + "/" + d, d)),
                          path)
        self.assertEqual(self.raw("/pid.php").body, pid)  # one worker served them all


if __name__ == "__main__":
    harness.main()
