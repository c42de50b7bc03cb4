#!/usr/bin/python3
"""GET: query arrays, the $_SERVER a web server's params give, request headers, cookies."""

import time

import harness


class Get(harness.TestCase):
    QUERY = "a[]=1&a[]=2&b[x]=y"

    def check_request(self, r, t0, t1, path_info=None):
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        j = r.json()
        self.assertEqual(j["get"], {"a": ["1", "2"], "b": {"x": "y"}})
        self.assertEqual(j["post"], [])
        self.assertEqual(j["files"], [])
        self.assertEqual(j["input_length"], 0)
        self.assertEqual(j["sapi"], "fpm-fcgi")
        s = j["server"]
        self.assertEqual(s["REQUEST_METHOD"], "GET")
        self.assertEqual(s["QUERY_STRING"], self.QUERY)
        self.assertEqual(s["SCRIPT_NAME"], "/echo.php")
        self.assertEqual(s["SCRIPT_FILENAME"], self.ws.docroot + "/echo.php")
        self.assertEqual(s["REQUEST_URI"], "/echo.php?" + self.QUERY)
        self.assertEqual(s["PHP_SELF"], "/echo.php")
        self.assertEqual(s["DOCUMENT_ROOT"], self.ws.docroot)
        self.assertEqual(s["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertEqual(s["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(s["FCGI_ROLE"], "RESPONDER")
        self.assertIsInstance(s["REQUEST_TIME"], int)
        self.assertIsInstance(s["REQUEST_TIME_FLOAT"], float)
        self.assertGreaterEqual(s["REQUEST_TIME"], int(t0) - 1)
        self.assertLessEqual(s["REQUEST_TIME"], int(t1) + 1)
        self.assertGreaterEqual(s["REQUEST_TIME_FLOAT"], t0 - 1)
        self.assertLessEqual(s["REQUEST_TIME_FLOAT"], t1 + 1)
        self.assertEqual(int(s["REQUEST_TIME_FLOAT"]), s["REQUEST_TIME"])
        if path_info is None:
            # PATH_INFO is not made up when the web server gives none and SCRIPT_FILENAME names the script.
            self.assertNotIn("PATH_INFO", s)
        else:
            self.assertEqual(s["PATH_INFO"], path_info)
        return j

    def test_cgi_fcgi(self):
        t0 = time.time()
        r = self.cgi("/echo.php", query=self.QUERY,
                     headers={"Cookie": "c1=v1; c2=hello%20world; arr[k]=v",
                              "X-Custom-Header": "custom",
                              "Accept": "text/html",
                              "User-Agent": "fpmd-tests/1.0"})
        t1 = time.time()
        j = self.check_request(r, t0, t1)
        self.assertEqual(j["cookie"], {"c1": "v1", "c2": "hello world", "arr": {"k": "v"}})
        expected_headers = {"Host": "localhost", "Cookie": "c1=v1; c2=hello%20world; arr[k]=v",
                            "X-Custom-Header": "custom", "Accept": "text/html",
                            "User-Agent": "fpmd-tests/1.0"}
        self.assertEqual(j["getallheaders"], expected_headers)
        self.assertEqual(j["apache_request_headers"], expected_headers)
        self.assertEqual(j["server"]["HTTP_X_CUSTOM_HEADER"], "custom")
        self.assertEqual(j["server"]["HTTP_COOKIE"], "c1=v1; c2=hello%20world; arr[k]=v")
        # clear_env = true: nothing of the server's own environment leaks into $_SERVER.
        self.assertNotIn("PATH", j["server"])
        self.assertNotIn("HOME", j["server"])

    def test_raw_client(self):
        t0 = time.time()
        r = self.raw("/echo.php", query=self.QUERY, headers={"Cookie": "only=one"})
        t1 = time.time()
        j = self.check_request(r, t0, t1)
        self.assertEqual(j["cookie"], {"only": "one"})
        self.assertEqual(j["getallheaders"], {"Host": "localhost", "Cookie": "only=one"})

    def test_content_headers_without_http_prefix(self):
        # CONTENT_TYPE / CONTENT_LENGTH are request headers too, though the web server sends them bare.
        r = self.cgi("/echo.php", method="POST", body=b"k=v", content_type="application/x-www-form-urlencoded")
        j = r.json()
        self.assertEqual(j["post"], {"k": "v"})
        self.assertEqual(j["getallheaders"], {"Host": "localhost", "Content-Type": "application/x-www-form-urlencoded",
                                              "Content-Length": "3"})

    def test_nginx(self):
        nginx = self.start_nginx()
        t0 = time.time()
        r = nginx.request("GET", "/echo.php?" + self.QUERY, headers={"Cookie": "c=d", "X-Test": "1"})
        t1 = time.time()
        # nginx always sends PATH_INFO (here empty, from fastcgi_split_path_info)
        j = self.check_request(r, t0, t1, path_info="")
        self.assertEqual(j["cookie"], {"c": "d"})
        self.assertEqual(j["server"]["SERVER_SOFTWARE"], "nginx/1.22.1")
        self.assertEqual(j["server"]["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(j["server"]["SERVER_PORT"], str(nginx.port))
        self.assertEqual(j["getallheaders"]["X-Test"], "1")
        self.assertEqual(j["getallheaders"]["Cookie"], "c=d")
        self.assertEqual(j["getallheaders"]["Host"], "127.0.0.1")  # nginx sends $host: no port
        self.assertEqual(j["server"]["CONTENT_LENGTH"], "")
        self.assertEqual(j["server"]["CONTENT_TYPE"], "")


class RawParams(harness.TestCase):
    """The params stream, byte by byte: 1- and 4-byte lengths, record boundaries, padding."""

    def test_length_boundaries(self):
        p = self.params("/echo.php")
        p["HTTP_X_A127"] = "a" * 127  # the longest 1-byte length
        p["HTTP_X_B128"] = "b" * 128  # the shortest 4-byte length
        p["HTTP_X_EMPTY"] = ""
        long_name = "HTTP_" + "N" * 123  # a 128-byte name
        p[long_name] = "long name"
        p["HTTP_X_BIG"] = "z" * 40000
        r, _ = harness.fcgi_request(self.server, p)
        s = r.json()["server"]
        self.assertEqual((s["HTTP_X_A127"], s["HTTP_X_B128"], s["HTTP_X_EMPTY"], s[long_name], s["HTTP_X_BIG"]),
                         ("a" * 127, "b" * 128, "", "long name", "z" * 40000))
        # the encoding itself, as the harness sends it
        self.assertEqual(harness.fcgi_pair("N", "a" * 127)[:2], b"\x01\x7f")
        self.assertEqual(harness.fcgi_pair("N", "b" * 128)[:5], b"\x01\x80\x00\x00\x80")

    def test_padding_and_empty_records(self):
        pairs = b"".join(harness.fcgi_pair(k, v) for k, v in self.params("/id.php", query="i=5").items())
        with harness.FcgiClient(self.server.port) as c:
            c.send(harness.fcgi_begin(1) + harness.fcgi_record(harness.FCGI_PARAMS, 1, pairs, padding=255) +
                   harness.fcgi_record(harness.FCGI_PARAMS, 1) + harness.fcgi_record(harness.FCGI_STDIN, 1, padding=3))
            res = c.read_response()
        self.assertEqual(res.stdout, b"Content-type: text/html; charset=UTF-8\r\n\r\nrequest 5\n")

    def test_pair_split_across_records(self):
        # FastCGI 1.0 section 3.3: a stream is the bytes of its records, so a pair may span two records.
        # PHP-FPM parses each PARAMS record alone and drops the connection instead.
        pairs = b"".join(harness.fcgi_pair(k, v) for k, v in self.params("/id.php", query="i=6").items())
        for cut in (1, 7, 50):
            with harness.FcgiClient(self.server.port, timeout=10) as c:
                c.send(harness.fcgi_begin(1) + harness.fcgi_record(harness.FCGI_PARAMS, 1, pairs[:cut]) +
                       harness.fcgi_record(harness.FCGI_PARAMS, 1, pairs[cut:]) +
                       harness.fcgi_record(harness.FCGI_PARAMS, 1) + harness.fcgi_record(harness.FCGI_STDIN, 1))
                if harness.IS_PHP_FPM:
                    harness.log("PHP-FPM, a pair split after byte %d of the params stream: connection %s"
                                % (cut, "closed" if c.is_closed(5) else "open"))
                    continue
                # fpmd-only
                res = c.read_response()
                self.assertEqual(res.stdout, b"Content-type: text/html; charset=UTF-8\r\n\r\nrequest 6\n")
        self.assertServes()

    @harness.fpmd_only("PHP-FPM cannot take a value longer than one record (65535 bytes)")
    def test_value_longer_than_a_record(self):
        p = self.params("/echo.php")
        p["HTTP_X_HUGE"] = "h" * 70000
        r, _ = harness.fcgi_request(self.server, p)
        self.assertEqual(r.json()["server"]["HTTP_X_HUGE"], "h" * 70000)


class FilterInput(harness.TestCase):
    """ext/filter's view of a request, as PHP-FPM gives it: every FastCGI param passes PHP's input filter, so
    filter_input(INPUT_SERVER, ...) finds it (frameworks read REQUEST_URI and HTTP_HOST so)."""

    def test_filter_input_server_and_get(self):
        self.ws.write("/filter.php", "<?php echo json_encode([filter_input(INPUT_SERVER, 'REQUEST_URI'), "
                      "filter_input(INPUT_SERVER, 'HTTP_HOST'), filter_input(INPUT_SERVER, 'QUERY_STRING'), "
                      "filter_input(INPUT_GET, 'a', FILTER_VALIDATE_INT), filter_has_var(INPUT_SERVER, 'NOPE')]);\n")
        r = self.raw("/filter.php", query="a=42", headers={"Host": "example.test"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), ["/filter.php?a=42", "example.test", "a=42", 42, False])


if __name__ == "__main__":
    harness.main()
