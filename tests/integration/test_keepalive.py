#!/usr/bin/python3
"""Connections: FCGI_KEEP_CONN, nginx's upstream keepalive, multiplexing refused, management records."""

import harness

CT = b"Content-type: text/html; charset=UTF-8\r\n\r\n"


class KeepAlive(harness.TestCase):
    def test_keep_conn_100_requests(self):
        workers = self.server.workers()
        with harness.FcgiClient(self.server.port) as c:
            for i in range(100):
                res = c.request(self.params("/id.php", query="i=%d" % i), rid=1 + i % 3, keep_conn=True)
                self.assertEqual(res.stdout, CT + b"request %d\n" % i)
                self.assertEqual((res.app_status, res.protocol_status), (0, harness.FCGI_REQUEST_COMPLETE))
                if harness.IS_FPMD:
                    # fpmd-only: the reserved bytes are zero (PHP-FPM leaves stale buffer bytes there)
                    end = [content for _, t, _, content in res.records if t == harness.FCGI_END_REQUEST]
                    self.assertEqual(end, [b"\0" * 8])
            self.assertEqual(harness.server_connections(self.server), 1)
            # still open after the last one: a POST on the same connection
            res = c.request(self.params("/echo.php", method="POST", body=b"a=1",
                                        content_type="application/x-www-form-urlencoded"), b"a=1", keep_conn=True)
            self.assertEqual(res.response().json()["post"], {"a": "1"})
        self.assertEqual(self.server.workers(), workers)

    def test_without_keep_conn_the_server_closes(self):
        with harness.FcgiClient(self.server.port) as c:
            res = c.request(self.params("/id.php", query="i=1"))
            self.assertEqual(res.stdout, CT + b"request 1\n")
            self.assertTrue(c.is_closed(5))

    def test_nginx_keepalive_200_requests(self):
        nginx = self.start_nginx()
        conn = nginx.connection()
        peak = 0
        try:
            for i in range(200):
                r = nginx.request("GET", "/id.php?i=%d" % i, conn=conn)
                self.assertEqual((r.status, r.body), (200, b"request %d\n" % i))
                if i % 20 == 0:
                    peak = max(peak, harness.server_connections(self.server))
        finally:
            conn.close()
        # Sequential requests from one nginx worker reuse one kept upstream connection.
        harness.log("server-side connections seen during 200 requests through nginx: at most %d" % peak)
        self.assertLessEqual(peak, 2)
        self.assertGreaterEqual(peak, 1)
        # nginx logs a request after its response has reached the client: wait for the last line
        def logged():
            with open(nginx.dir + "/access.log") as f:
                return sum(1 for line in f if '" 200 ' in line)
        harness.wait_for(lambda: logged() >= 200, 5)
        self.assertEqual(logged(), 200)
        nginx.stop()
        self.assertServes()

    def test_second_begin_request_while_one_is_in_flight(self):
        with harness.FcgiClient(self.server.port, timeout=10) as c:
            c.send_request(self.params("/stream.php", query="us=1000000"), rid=1, keep_conn=True)
            # "first\n" is flushed while the script sleeps a second (in as many records as the server likes)
            records, stdout = [], b""
            while b"first\n" not in stdout:
                rec = c.read_record()
                self.assertIsNotNone(rec)
                self.assertEqual(rec[:2], (harness.FCGI_STDOUT, 1))
                records.append(rec[:3])
                stdout += rec[2]
            c.send_request(self.params("/id.php", query="i=2"), rid=2, keep_conn=True)
            ended = set()
            while ended != {1, 2}:
                rec = c.read_record()
                self.assertIsNotNone(rec, "closed after %r" % records)
                records.append(rec[:3])
                if rec[0] == harness.FCGI_END_REQUEST:
                    ended.add(rec[1])
        by_id = {rid: [(t, content) for t, r, content in records if r == rid] for rid in (1, 2)}
        self.assertEqual(b"".join(content for t, content in by_id[1] if t == harness.FCGI_STDOUT),
                         CT + b"first\nsecond\n")
        # As PHP-FPM: one request at a time on a connection; the second, sent while the first ran, is served after
        # it (not refused with FCGI_CANT_MPX_CONN, which would cost a recv() after every request)
        self.assertEqual(b"".join(c for t, c in by_id[2] if t == harness.FCGI_STDOUT), CT + b"request 2\n")
        # appStatus 0, FCGI_REQUEST_COMPLETE; fpmd zeroes the reserved bytes, PHP-FPM leaves whatever its buffer
        # held there now and then (seen: ":[]")
        self.assertEqual(by_id[2][-1][0], harness.FCGI_END_REQUEST)
        end = by_id[2][-1][1]
        self.assertEqual(end if harness.IS_FPMD else end[:5], b"\0\0\0\0\0\0\0\0" if harness.IS_FPMD else b"\0" * 5)
        self.assertLess(max(i for i, r in enumerate(records) if r[1] == 1),
                        min(i for i, r in enumerate(records) if r[1] == 2))

    def test_get_values(self):
        names = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"]
        with harness.FcgiClient(self.server.port) as c:
            c.send(harness.fcgi_record(harness.FCGI_GET_VALUES, 0, b"".join(harness.fcgi_pair(n, "") for n in names)))
            rtype, rid, content, version = c.read_record()
            self.assertEqual((rtype, rid, version), (harness.FCGI_GET_VALUES_RESULT, 0, 1))
            values = harness.parse_pairs(content)
            harness.log("GET_VALUES_RESULT: %r" % values)
            self.assertEqual(values["FCGI_MPXS_CONNS"], "0")
            if harness.IS_FPMD:
                # fpmd-only: PHP-FPM answers FCGI_MPXS_CONNS alone
                self.assertEqual(values, {"FCGI_MAX_CONNS": "2", "FCGI_MAX_REQS": "2", "FCGI_MPXS_CONNS": "0"})
            else:
                self.assertEqual(values, {"FCGI_MPXS_CONNS": "0"})
            # a request on the same connection afterwards is served
            res = c.request(self.params("/id.php", query="i=7"))
            self.assertEqual(res.stdout, CT + b"request 7\n")

    def test_get_values_unknown_name(self):
        with harness.FcgiClient(self.server.port) as c:
            c.send(harness.fcgi_record(harness.FCGI_GET_VALUES, 0,
                                       harness.fcgi_pair("FCGI_NO_SUCH", "") + harness.fcgi_pair("FCGI_MPXS_CONNS", "")))
            rtype, rid, content, _ = c.read_record()
            self.assertEqual((rtype, rid, harness.parse_pairs(content)),
                             (harness.FCGI_GET_VALUES_RESULT, 0, {"FCGI_MPXS_CONNS": "0"}))

    def test_unknown_management_record(self):
        with harness.FcgiClient(self.server.port) as c:
            c.send(harness.fcgi_record(200, 0, b"12345678"))
            if harness.IS_PHP_FPM:
                closed = c.is_closed(5)
                harness.log("PHP-FPM, management record of type 200: connection %s, no UNKNOWN_TYPE"
                            % ("closed" if closed else "left open"))
                self.assertTrue(closed)
            else:
                # fpmd-only: FastCGI 1.0 section 4.2: FCGI_UNKNOWN_TYPE {type, 7 reserved bytes}, connection kept
                rec = c.read_record()
                self.assertEqual(rec, (harness.FCGI_UNKNOWN_TYPE, 0, b"\xc8\0\0\0\0\0\0\0", 1))
                res = c.request(self.params("/id.php", query="i=8"))
                self.assertEqual(res.stdout, CT + b"request 8\n")
        self.assertServes()

    def test_unknown_role(self):
        with harness.FcgiClient(self.server.port) as c:
            pairs = b"".join(harness.fcgi_pair(k, v) for k, v in self.params("/id.php", query="i=3").items())
            c.send(harness.fcgi_begin(1, role=2) + harness.fcgi_stream(harness.FCGI_PARAMS, 1, pairs) +
                   harness.fcgi_stream(harness.FCGI_STDIN, 1, b""))
            res = c.read_response()
        if harness.IS_PHP_FPM:
            harness.log("PHP-FPM, role AUTHORIZER: served as a responder: %r, protocolStatus %d"
                        % (res.stdout, res.protocol_status))
            self.assertEqual(res.stdout, CT + b"request 3\n")
        else:
            # fpmd-only: FastCGI 1.0 section 5.1: an unknown role is refused with FCGI_UNKNOWN_ROLE
            self.assertEqual((res.stdout, res.protocol_status), (b"", harness.FCGI_UNKNOWN_ROLE))
        self.assertServes()


if __name__ == "__main__":
    harness.main()
