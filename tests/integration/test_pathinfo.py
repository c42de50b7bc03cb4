#!/usr/bin/python3
"""PATH_INFO: nginx's fastcgi_split_path_info, PHP's cgi.fix_pathinfo split, the CVE-2019-11043 request
shape, and '..' in the script's path."""

import json

import harness


def info(r):
    return json.loads(r.body.decode("utf-8"))


class PathInfo(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx = cls.start_nginx()

    def test_nginx_split_path_info(self):
        d = self.ws.docroot
        r = self.nginx.request("GET", "/info.php/foo/bar?x=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(info(r), {
            "SCRIPT_FILENAME": d + "/info.php", "SCRIPT_NAME": "/info.php", "PATH_INFO": "/foo/bar",
            # nginx sends no PATH_TRANSLATED and PHP-FPM makes none up when SCRIPT_FILENAME is the script itself
            "PATH_TRANSLATED": None,
            "PHP_SELF": "/info.php/foo/bar", "REQUEST_URI": "/info.php/foo/bar?x=1", "DOCUMENT_ROOT": d,
            "QUERY_STRING": "x=1", "ORIG_SCRIPT_FILENAME": None, "ORIG_SCRIPT_NAME": None, "ORIG_PATH_INFO": None,
            "ORIG_PATH_TRANSLATED": None, "__FILE__": d + "/info.php", "pid": info(r)["pid"]})

    def test_nginx_split_path_info_decoded_and_nested(self):
        d = self.ws.docroot
        j = info(self.nginx.request("GET", "/sub/info.php/a%20b/c?y"))
        self.assertEqual((j["SCRIPT_FILENAME"], j["SCRIPT_NAME"], j["PATH_INFO"], j["PHP_SELF"], j["QUERY_STRING"]),
                         (d + "/sub/info.php", "/sub/info.php", "/a b/c", "/sub/info.php/a b/c", "y"))

    def test_nginx_without_path_info(self):
        j = info(self.nginx.request("GET", "/info.php"))
        self.assertEqual((j["SCRIPT_NAME"], j["PATH_INFO"], j["PHP_SELF"], j["PATH_TRANSLATED"]),
                         ("/info.php", "", "/info.php", None))

    def test_fix_pathinfo_split_without_path_info(self):
        # cgi.fix_pathinfo = 1 (the default): SCRIPT_FILENAME runs past the script; PHP cuts it back to the
        # script. No PATH_INFO was given, so PHP-FPM sets none (and PATH_TRANSLATED to DOCUMENT_ROOT).
        d = self.ws.docroot
        r = self.cgi("/info.php", script_filename=d + "/info.php/foo/bar")
        self.assertEqual(r.status, 200)
        j = info(r)
        self.assertEqual(j, {
            "SCRIPT_FILENAME": d + "/info.php", "SCRIPT_NAME": "/info.php", "PATH_INFO": None,
            "PATH_TRANSLATED": d, "PHP_SELF": "/info.php", "REQUEST_URI": "/info.php", "DOCUMENT_ROOT": d,
            "QUERY_STRING": "", "ORIG_SCRIPT_FILENAME": d + "/info.php/foo/bar", "ORIG_SCRIPT_NAME": None,
            "ORIG_PATH_INFO": None, "ORIG_PATH_TRANSLATED": None, "__FILE__": d + "/info.php", "pid": j["pid"]})

    def test_fix_pathinfo_split_script_name_with_path(self):
        d = self.ws.docroot
        r = self.cgi("/info.php", query="x=1", script_filename=d + "/info.php/foo/bar",
                     extra={"SCRIPT_NAME": "/info.php/foo/bar", "REQUEST_URI": "/info.php/foo/bar?x=1"})
        j = info(r)
        self.assertEqual((j["SCRIPT_FILENAME"], j["SCRIPT_NAME"], j["PATH_INFO"], j["PATH_TRANSLATED"],
                          j["PHP_SELF"], j["ORIG_SCRIPT_FILENAME"]),
                         (d + "/info.php", "/info.php/foo/bar", None, d, "/info.php/foo/bar", d + "/info.php/foo/bar"))

    def test_fix_pathinfo_split_with_path_info(self):
        # Apache's shape: SCRIPT_FILENAME with the path after the script, and PATH_INFO given too.
        d = self.ws.docroot
        r = self.cgi("/info.php", script_filename=d + "/info.php/foo/bar", extra={"PATH_INFO": "/foo/bar"})
        j = info(r)
        self.assertEqual((j["SCRIPT_FILENAME"], j["SCRIPT_NAME"], j["PATH_INFO"], j["PATH_TRANSLATED"],
                          j["PHP_SELF"], j["ORIG_SCRIPT_FILENAME"]),
                         (d + "/info.php", "/info.php", "/foo/bar", d + "/foo/bar", "/info.php/foo/bar",
                          d + "/info.php/foo/bar"))

    def test_fix_pathinfo_missing_script(self):
        r = self.cgi("/nothere.php", script_filename=self.ws.docroot + "/nothere.php/foo")
        self.assertEqual((r.status, r.body), (404, b"File not found.\n"))

    def test_cve_2019_11043_shape(self):
        # The public PoC: a %0A in the path breaks fastcgi_split_path_info's regex, so PATH_INFO is empty,
        # while long query strings and a D-Pisos header shift the params buffer. Every answer must be a
        # normal one, no worker may die, and no PHP_VALUE may get in.
        workers = self.server.workers()
        answers = {}
        paths = ["/info.php/PHP%0Ais_the_shittiest_lang.php", "/info.php/PHP_VALUE%0Asession.auto_start=1;;;"]
        conn = self.nginx.connection()
        try:
            for i in range(50):
                path = paths[i % 2]
                query = "a=/bin/sh+-c+'which+which'&QQ" + "Q" * (1000 + 20 * i)
                r = self.nginx.request("GET", path + "?" + query, conn=conn,
                                       headers={"D-Pisos": "8" + "=" * (i % 10) + "D", "Ebut": "mamku tvoyu"})
                answers.setdefault((path, r.status), r.body)
                self.assertIn(r.status, (200, 403, 404), "request %d: %r" % (i, r))
                if r.status == 200:
                    j = info(r)
                    self.assertEqual(j["SCRIPT_FILENAME"], self.ws.docroot + "/info.php")
                    self.assertEqual(j["QUERY_STRING"], query)
                elif r.status == 404:
                    self.assertEqual(r.body, b"File not found.\n")
                else:
                    self.assertEqual(r.body, b"Access denied.\n")
        finally:
            conn.close()
        for (path, status), body in sorted(answers.items()):
            harness.log("CVE-2019-11043 shape %s -> %d %r" % (path, status, body[:120]))
        self.assertEqual(self.server.workers(), workers)
        self.assertServes()
        r = self.cgi("/ini.php", query="get[]=session.auto_start")
        self.assertEqual(json.loads(r.body)["get"], {"session.auto_start": "0"})

    def test_dotdot_in_script_filename(self):
        # PHP-FPM refuses a SCRIPT_FILENAME with a '..' segment even when it resolves inside the docroot.
        d = self.ws.docroot
        for sf in ("/sub/../info.php", "/sub/../info.php/x", "/../www/info.php"):
            r, res = harness.fcgi_request(self.server, self.params("/info.php", script_filename=d + sf))
            self.assertEqual((r.status, r.body), (404, b"File not found.\n"), sf)
            self.assertEqual(res.stderr, b"Primary script unknown")
        self.assertServes()

    def test_dot_and_double_slash_in_script_filename(self):
        d = self.ws.docroot
        for sf, file in (("/sub/./info.php", "/sub/info.php"), ("//info.php", "/info.php")):
            r = self.cgi("/info.php", script_filename=d + sf)
            self.assertEqual(r.status, 200, sf)
            self.assertEqual(info(r)["__FILE__"], d + file)

    def test_dotdot_in_script_name(self):
        r, res = harness.fcgi_request(self.server, self.params("/info.php", extra={"SCRIPT_NAME": "/sub/../info.php"}))
        if harness.IS_PHP_FPM:
            harness.log("PHP-FPM, SCRIPT_NAME=/sub/../info.php: %d %r" % (r.status, r.body))
            self.assertEqual(r.status, 200)
            self.assertEqual(info(r)["PHP_SELF"], "/sub/../info.php")
        else:
            # fpmd-only: a '..' segment in SCRIPT_NAME is refused
            self.assertEqual((r.status, r.body), (404, b"File not found.\n"))
        self.assertServes()

    def test_dotdot_in_path_info_recorded(self):
        # Recorded only: PATH_INFO is not a file path of the script; both servers are free here.
        r = self.cgi("/info.php", extra={"PATH_INFO": "/../../etc/passwd"})
        harness.log("PATH_INFO=/../../etc/passwd: %d %r" % (r.status, r.body[:200]))
        self.assertIn(r.status, (200, 404))
        self.assertServes()


if __name__ == "__main__":
    harness.main()
