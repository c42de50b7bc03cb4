#!/usr/bin/python3
"""POST: urlencoded fields, a raw JSON body, multipart uploads, a 100 MB upload through nginx,
and nginx's REQUEST_BODY_FILE (the body handed over as a file name)."""

import hashlib
import json
import os

import harness

MiB = 1024 * 1024


class Post(harness.TestCase):
    POOL = {"php_admin_value": {"upload_max_filesize": "200M", "post_max_size": "200M"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx = cls.start_nginx()

    def test_urlencoded(self):
        body = b"name=J%C3%B6rg&list[]=a&list[]=b&map[k]=v&empty=&plus=a+b"
        for client in (self.cgi, self.raw):
            r = client("/echo.php", method="POST", body=body, content_type="application/x-www-form-urlencoded",
                       query="q=1")
            self.assertEqual(r.status, 200)
            j = r.json()
            self.assertEqual(j["post"], {"name": "J\u00f6rg", "list": ["a", "b"], "map": {"k": "v"}, "empty": "",
                                         "plus": "a b"})
            self.assertEqual(j["get"], {"q": "1"})
            self.assertEqual(j["server"]["REQUEST_METHOD"], "POST")
            self.assertEqual(j["server"]["CONTENT_LENGTH"], str(len(body)))
            self.assertEqual(j["server"]["CONTENT_TYPE"], "application/x-www-form-urlencoded")
            # php://input stays readable for urlencoded bodies
            self.assertEqual(j["input"], body.decode())

    def test_raw_json(self):
        body = json.dumps({"x": [1, 2, 3], "s": "caf\u00e9", "nested": {"t": True, "n": None}},
                          ensure_ascii=False).encode("utf-8")
        for client in (self.cgi, self.raw):
            r = client("/echo.php", method="POST", body=body, content_type="application/json")
            self.assertEqual(r.status, 200)
            j = r.json()
            self.assertEqual(j["post"], [])
            self.assertEqual(j["input"], body.decode("utf-8"))
            self.assertEqual(j["input_length"], len(body))
            self.assertEqual(j["input_md5"], harness.md5(body))

    def test_raw_body_split_over_many_records(self):
        # 300 KB in STDIN records of 65535 bytes and less: the body is joined back exactly.
        body = bytes(range(256)) * 1200
        r = self.raw("/echo.php", method="PUT", body=body, content_type="application/octet-stream")
        j = r.json()
        self.assertEqual((j["input_length"], j["input_md5"]), (len(body), harness.md5(body)))
        self.assertEqual(j["server"]["REQUEST_METHOD"], "PUT")

    def multipart_small(self):
        one_mib = hashlib.sha256(b"seed").digest() * (MiB // 32)
        mp = harness.Multipart()
        mp.field("title", "two files")
        mp.file("big", "one-mib.bin", one_mib)
        mp.file("empty", "empty.txt", b"", content_type="text/plain")
        mp.field("tags[]", "x")
        mp.field("tags[]", "y")
        return mp, one_mib

    def check_multipart_small(self, r, one_mib):
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual(j["post"], {"title": "two files", "tags": ["x", "y"]})
        self.assertEqual(j["files"], {
            "big": {"name": "one-mib.bin", "type": "application/octet-stream", "size": MiB, "error": 0,
                    "md5": harness.md5(one_mib)},
            "empty": {"name": "empty.txt", "type": "text/plain", "size": 0, "error": 0,
                      "md5": "d41d8cd98f00b204e9800998ecf8427e"},
        })
        # multipart bodies are consumed by the upload parser: php://input is empty
        self.assertEqual(j["input_length"], 0)

    def test_multipart_cgi_fcgi(self):
        mp, one_mib = self.multipart_small()
        r = self.cgi("/echo.php", method="POST", body=mp.bytes(), content_type=mp.content_type)
        self.check_multipart_small(r, one_mib)

    def test_multipart_raw_client(self):
        mp, one_mib = self.multipart_small()
        r = self.raw("/echo.php", method="POST", body=mp.bytes(), content_type=mp.content_type)
        self.check_multipart_small(r, one_mib)

    def test_multipart_nginx(self):
        mp, one_mib = self.multipart_small()
        r = self.nginx.request("POST", "/echo.php", body=mp.bytes(), headers={"Content-Type": mp.content_type})
        self.check_multipart_small(r, one_mib)

    def test_upload_100mb_through_nginx(self):
        size = 100 * MiB
        block = os.urandom(MiB)

        def chunks():
            for i in range(size // MiB):
                yield i.to_bytes(8, "big") + block[8:]

        digest = hashlib.md5()
        for c in chunks():
            digest.update(c)

        hwm_before = {p: harness.proc_status_kb(p, "VmHWM") for p in self.server.workers()}
        mp = harness.Multipart()
        mp.field("what", "large")
        mp.file("blob", "blob.bin", chunks, length=size)
        r = self.nginx.request("POST", "/echo.php", body=mp.chunks(),
                               headers={"Content-Type": mp.content_type, "Content-Length": str(len(mp))},
                               timeout=120)
        self.assertEqual(r.status, 200, r.body[:500])
        j = r.json()
        self.assertEqual(j["post"], {"what": "large"})
        self.assertEqual(j["files"], {"blob": {"name": "blob.bin", "type": "application/octet-stream", "size": size,
                                               "error": 0, "md5": digest.hexdigest()}})

        hwm_after = {p: harness.proc_status_kb(p, "VmHWM") for p in self.server.workers()}
        harness.log("VmHWM kB of the server's processes before/after the 100 MB upload: %s"
                    % {p: (hwm_before.get(p), hwm_after[p]) for p in hwm_after})
        harness.log("PHP memory_get_peak_usage(true) of the upload request: %d" % j["memory_peak"])
        self.assertLess(j["memory_peak"], 16 * MiB)
        if harness.IS_FPMD:
            # fpmd-only: the body streams to the upload temp file, it is never held whole in a worker.
            peak = max(v for v in hwm_after.values() if v is not None)
            self.assertLess(peak, 60 * 1024, "a worker's peak RSS reached %d kB" % peak)
            for p, after in hwm_after.items():
                before = hwm_before.get(p)
                if before is not None and after is not None:
                    self.assertLess(after - before, 24 * 1024, "pid %d grew by %d kB" % (p, after - before))

    def test_request_body_file(self):
        body = b'{"from": "a file", "n": 42}'
        r = self.nginx.request("POST", "/bodyfile/echo.php?via=file", body=body,
                               headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r.body[:500])
        j = r.json()
        self.assertEqual(j["server"]["REQUEST_BODY_FILE"][:len(self.nginx.dir)], self.nginx.dir)
        self.assertEqual(j["input"], body.decode())
        self.assertEqual(j["input_length"], len(body))
        self.assertEqual(j["get"], {"via": "file"})

    def test_request_body_file_urlencoded(self):
        body = b"a=1&b[]=2&b[]=3"
        r = self.nginx.request("POST", "/bodyfile/echo.php", body=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        j = r.json()
        self.assertEqual(j["post"], {"a": "1", "b": ["2", "3"]})
        self.assertEqual(j["input"], body.decode())


if __name__ == "__main__":
    harness.main()
