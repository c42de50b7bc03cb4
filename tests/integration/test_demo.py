#!/usr/bin/python3
"""The demo app of the README (tests/demo/index.php) renders through nginx, and echoes a POST escaped."""

import os
import shutil

import harness

DEMO = os.path.join(os.path.dirname(harness.HERE), "demo", "index.php")


class Demo(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.makedirs(cls.ws.docroot + "/demo")
        shutil.copy(DEMO, cls.ws.docroot + "/demo/index.php")
        cls.nginx = cls.start_nginx()

    def test_get(self):
        r = self.nginx.request("GET", "/demo/index.php?x=1", headers={"X-Demo": "yes"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/html; charset=UTF-8")
        body = r.body.decode()
        self.assertIn("<h1>Hello from fpm-fcgi on PHP 8.2.", body)
        self.assertIn("<tr><th>Query</th><td>x=1</td></tr>", body)
        self.assertIn("<tr><th>X-Demo</th><td>yes</td></tr>", body)
        self.assertIn('<form method="post" action="/demo/index.php">', body)
        self.assertNotIn("You posted", body)
        self.assertTrue(body.rstrip().endswith("</html>"))

    def test_post_echo_is_escaped(self):
        r = self.nginx.request("POST", "/demo/index.php", body=b"message=%3Cb%3Ehi+%26+bye%3C%2Fb%3E",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200)
        body = r.body.decode()
        self.assertIn('<p class="echo">You posted: <strong>&lt;b&gt;hi &amp; bye&lt;/b&gt;</strong></p>', body)
        self.assertIn("<tr><th>Method</th><td>POST</td></tr>", body)


if __name__ == "__main__":
    harness.main()
