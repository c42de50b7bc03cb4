"""What test_apache.py, test_caddy.py and test_lighttpd.py share: a test case class that starts the server under
test (TCP or unix socket) behind one web server, and turns a table of URL -> PHP-FPM 8.2's answer into one test
per URL; plus the response tests (status, headers, bodies) every web server variant runs.

Expectation tables use {D} for the workspace docroot, {A} for the Alias folder (harness.make_alias_dir) and
{PORT} for the web server's port. Every value was taken from PHP-FPM 8.2 behind the same web server
(SERVER=php-fpm) and is asserted exactly against both servers."""

import re

import harness

# The variables tests/integration/php/info.php prints (FILE is its __FILE__).
INFO_KEYS = ("SCRIPT_NAME", "SCRIPT_FILENAME", "PHP_SELF", "PATH_INFO", "PATH_TRANSLATED", "DOCUMENT_ROOT",
             "REQUEST_URI", "QUERY_STRING", "ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME", "ORIG_PATH_INFO",
             "ORIG_PATH_TRANSLATED", "FILE")

NOT_FOUND = b"File not found.\n"
NO_INPUT = b"No input file specified.\n"

# Not compared: the framing headers the web server chooses from how the response arrives (chunked or not),
# the date, and the web server's own name and version.
FRAMING = ("date", "transfer-encoding", "content-length", "connection", "keep-alive", "server")


def php(**values):
    """PHP ran info.php (or one of its copies): status 200, and exactly these variables; every other one of
    INFO_KEYS is unset."""
    unknown = set(values) - set(INFO_KEYS)
    if unknown:
        raise KeyError("not printed by info.php: %s" % ", ".join(sorted(unknown)))
    return ("php", 200, values)


def fpm_error(status, body):
    """The server under test refused the request: status and its exact body."""
    return ("fpm", status, body)


def web(status, location=None):
    """The web server answered itself (its own 404 page, a redirect to the folder): status and Location."""
    return ("web", status, location)


def _slug(url):
    """"/info.php/a%20b?y" -> "info_php_a_20b_y"; a folder's trailing slash counts ("/dir.php/" -> "dir_php_slash")."""
    if url == "/":
        return "root"
    s = re.sub(r"[^A-Za-z0-9]+", "_", url).strip("_")
    return s + "_slash" if url.endswith("/") else s


class WebServerCase:
    """One web server variant in front of the server under test, a mixin: a test class is
    class X(WebServerCase subclass, harness.TestCase), so that unittest does not run the shared classes on their
    own. Subclasses set UNIX (the pool listens on a unix socket in the workspace, else on TCP), EXPECT
    (URL -> php()/fpm_error()/web()), HEADERS (script -> the response's header list without FRAMING) and
    make_web(ws, server) -> a harness.WebServer, not started."""

    START_SERVER = False
    UNIX = False
    EXPECT = {}
    HEADERS = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for url in cls.EXPECT:
            name = "test_url_" + _slug(url)
            if name in cls.__dict__:
                continue
            if getattr(cls, name, None) is not None and getattr(cls, name).__doc__ != "GET %s" % url:
                raise ValueError("%s: two URLs make the test name %s" % (cls.__name__, name))
            setattr(cls, name, (lambda u: lambda self: self.check_url(u))(url))
            getattr(cls, name).__doc__ = "GET %s" % url

    @classmethod
    def make_web(cls, ws, server):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server({"listen": cls.ws.path("php.sock") if cls.UNIX else None})
        cls.web = cls.make_web(cls.ws, cls.server)
        cls.addClassCleanup(cls.web.stop)
        cls.web.start()

    def subst(self, value):
        if isinstance(value, str):
            return (value.replace("{D}", self.ws.docroot).replace("{A}", self.ws.path("app"))
                    .replace("{PORT}", str(self.web.port)))
        return value

    def check_url(self, url):
        kind, status, detail = self.EXPECT[url]
        r = self.web.request("GET", url)
        if kind == "php":
            self.assertEqual((r.status, r.headers.get("content-type")), (200, "application/json"),
                             "%s: %r" % (url, r))
            got = r.json()
            got["FILE"] = got.pop("__FILE__")
            got.pop("pid")
            want = {k: self.subst(detail.get(k)) for k in INFO_KEYS}
            self.assertEqual(got, want, url)
        elif kind == "fpm":
            self.assertEqual((r.status, r.body), (status, detail), url)
        else:
            self.assertEqual((r.status, r.headers.get("location")), (status, self.subst(detail)), url)
            self.assertNotIn(r.body, (NOT_FOUND, NO_INPUT), "%s: answered by PHP, not by the web server" % url)

    # -- responses: status, headers, bodies ----------------------------------------------------------------

    def header_list(self, r):
        return [(k, v) for k, v in r.header_list if k.lower() not in FRAMING]

    def check_headers(self, script, status, body):
        r = self.web.request("GET", script)
        self.assertEqual((r.status, r.body), (status, body), script)
        self.assertEqual(self.header_list(r), self.HEADERS[script], script)
        return r

    def test_status_teapot(self):
        self.check_headers("/teapot.php", 418, b"short and stout\n")

    def test_status_404_from_script(self):
        self.check_headers("/status404.php", 404, b"gone\n")

    def test_location_redirect(self):
        self.check_headers("/redirect.php", 302, b"")

    def test_several_set_cookie(self):
        r = self.check_headers("/cookies.php", 200, b"cookies\n")
        self.assertEqual(r.header_values("Set-Cookie"),
                         ["a=1", "b=two%20words; path=/sub; HttpOnly", "c=3; SameSite=Strict"])

    def test_custom_and_repeated_headers(self):
        self.check_headers("/headers.php", 200, b"headers\n")

    def test_post_form_echo(self):
        body = b"a=1&b=two+words&c%5B%5D=x"
        r = self.web.request("POST", "/echo.php?q=1", body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual((j["get"], j["post"], j["input_length"], j["input_md5"]),
                         ({"q": "1"}, {"a": "1", "b": "two words", "c": ["x"]}, 25, harness.md5(body)))
        self.assertEqual((j["server"]["REQUEST_METHOD"], j["server"]["CONTENT_LENGTH"], j["server"]["CONTENT_TYPE"]),
                         ("POST", "25", "application/x-www-form-urlencoded"))

    def test_post_large_body(self):
        # 3 MiB of bytes 0..255: many FastCGI STDIN records, through the web server's own buffering
        body = bytes(range(256)) * (3 * 4096)
        r = self.web.request("POST", "/echo.php", body=body, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual((j["input_length"], j["input_md5"], j["post"]), (len(body), harness.md5(body), []))

    def test_large_response(self):
        # big.php: 10 MiB, line i is "%063d\n" % i
        r = self.web.request("GET", "/big.php")
        self.assertEqual((r.status, len(r.body)), (200, 10485760))
        self.assertEqual(harness.md5(r.body), harness.md5(b"".join(b"%063d\n" % i for i in range(163840))))
