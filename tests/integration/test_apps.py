#!/usr/bin/python3
"""Real applications from Debian 12's packages, in Debian's own layouts, through real web servers: phpMyAdmin,
MediaWiki, DokuWiki and WordPress, each behind Apache (the package's own Apache configuration, Included as it
ships, plus Debian's php8.2-fpm.conf SetHandler to a unix socket) and behind nginx (a location as people write
it), against the server under test. Every check is an HTTP flow a browser makes (cookies, redirects, forms) and
asserts exact things the page must contain; the expectations are PHP-FPM 8.2's (SERVER=php-fpm).

The packages' state lives in the host's /etc and /var/lib. The test changes none of it: it runs in a mount
namespace of its own (unshare(CLONE_NEWNS), every mount private) and binds folders of its workspace over the
folders the applications write or read their site configuration from:

    /etc/phpmyadmin/conf.d         the server to log in to (the test's MariaDB), a blowfish secret
    /var/lib/phpmyadmin/tmp        phpMyAdmin's template cache
    /var/lib/php/sessions          PHP's session files (Debian's session.save_path)
    /etc/mediawiki                 LocalSettings.php (/var/lib/mediawiki/LocalSettings.php links to it)
    /var/lib/mediawiki/cache, images
    /var/lib/dokuwiki/data, acl    a copy of the package's data, a user of the test's
    /etc/dokuwiki/local.php
    /etc/wordpress                 config-localhost.php and config-127.0.0.1.php (Debian's config-HOST.php)
    /var/lib/wordpress/wp-content  a copy (symbolic links into /usr/share/wordpress kept)

Every process the test starts (the server under test, MariaDB, Apache, nginx, php for MediaWiki's installer)
runs in that namespace; the binds vanish with it. One MariaDB (mariadbd --no-defaults, its datadir, socket and
port in the workspace) and one pool (a unix socket, as Debian's php8.2-fpm) serve every application.

Needs root (the namespace); exit 77 without."""

import html
import os
import re
import shutil
import struct
import subprocess
import unittest
import zlib

import appkit
import harness
from appkit import AppApache, AppNginx, Browser, find_form, title

DB_USER = "fpmdtest"
DB_PASS = "Fpmd-db-pass-7"

PHP_CLI = "/usr/bin/php8.2"

# Set up by setUpModule: the workspace ("ws"), MariaDB ("db"), the pool ("server")
ENV = {}


def once(fn):
    """fn runs at the first call only (an application's setup shared by its web server classes)."""
    done = []

    def wrapper():
        if not done:
            done.append(fn())
        return done[0]
    return wrapper


def setUpModule():
    # main() entered it already (to exit 77 without the privilege); this is for other test runners
    why = appkit.enter_private_mount_namespace()
    if why:
        raise unittest.SkipTest(why)
    ws = harness.Workspace("apps")
    ENV["ws"] = ws
    os.chmod(ws.dir, 0o711)
    db = appkit.MariaDB(ws).start()
    ENV["db"] = db
    db.sql("CREATE USER '{u}'@'localhost' IDENTIFIED BY '{p}';"
           "CREATE USER '{u}'@'127.0.0.1' IDENTIFIED BY '{p}';"
           "GRANT ALL PRIVILEGES ON *.* TO '{u}'@'localhost';"
           "GRANT ALL PRIVILEGES ON *.* TO '{u}'@'127.0.0.1';".format(u=DB_USER, p=DB_PASS))
    # PHP's sessions: Debian's session.save_path, root-owned sticky and world-writable as php-common makes it
    sessions = ws.path("php-sessions")
    os.makedirs(sessions)
    os.chmod(sessions, 0o1733)
    appkit.bind(sessions, "/var/lib/php/sessions")
    server = harness.Server(ws, {"listen": ws.path("php.sock"), "max_children": 4})
    ENV["server"] = server
    server.start()


def tearDownModule():
    for k in ("server", "db"):
        if k in ENV:
            ENV[k].stop()


class AppCase(harness.TestCase):
    """One application behind one web server: make_web(ws, server) gives it, not started."""

    START_SERVER = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ENV["server"]
        cls.web = cls.make_web(cls.ws, cls.server)
        cls.addClassCleanup(cls.web.stop)
        cls.web.start()

    def browser(self, host=None):
        return Browser(self.web, host)

    def assertStatusTitle(self, r, status, want_title):
        self.assertEqual((r.status, title(r)), (status, want_title), "%s %r" % (r.url, r.body[:2000]))


def squash(r):
    """The page's text: tags dropped, entities decoded, whitespace collapsed."""
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", r.body.decode("utf-8", "replace"), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


# ---------------------------------------------------------------------------------------------------------
# phpMyAdmin: /usr/share/phpmyadmin, the package's /etc/phpmyadmin/apache.conf (Alias /phpmyadmin), so
# SCRIPT_FILENAME is outside DOCUMENT_ROOT; a real login against the test's MariaDB over TCP.

PMA_DB = "fpmd_pma_db"
PMA_USER = "fpmdpma"  # sees its own database only
PMA_PASS = "Fpmd-pma-pass-3"
PMA_BLOWFISH = "fpmd-test-blowfish-secret-32byte"  # 32 bytes: sodium's key length


@once
def setup_phpmyadmin():
    ws, db = ENV["ws"], ENV["db"]
    conf_d = ws.path("etc-phpmyadmin-conf.d")
    os.makedirs(conf_d)
    # /etc/phpmyadmin/config.inc.php includes conf.d/*.php last: the one server is the test's MariaDB; no
    # control user (the package's dbconfig one does not exist there)
    with open(os.path.join(conf_d, "fpmd-test.php"), "w") as f:
        f.write("""<?php
$cfg['blowfish_secret'] = '%s';
$cfg['Servers'] = [1 => [
    'auth_type' => 'cookie',
    'host' => '127.0.0.1',
    'port' => '%d',
    'connect_type' => 'tcp',
    'compress' => false,
    'AllowNoPassword' => false,
]];
""" % (PMA_BLOWFISH, db.port))
    appkit.bind(conf_d, "/etc/phpmyadmin/conf.d")
    tmp = ws.path("phpmyadmin-tmp")
    os.makedirs(tmp)
    shutil.chown(tmp, "www-data", "www-data")
    appkit.bind(tmp, "/var/lib/phpmyadmin/tmp")
    db.sql("CREATE DATABASE {d}; CREATE TABLE {d}.fpmd_table (id INT PRIMARY KEY, name VARCHAR(20));"
           "INSERT INTO {d}.fpmd_table VALUES (1, 'one'), (2, 'two');"
           "CREATE USER '{u}'@'127.0.0.1' IDENTIFIED BY '{p}';"
           "GRANT ALL PRIVILEGES ON {d}.* TO '{u}'@'127.0.0.1';".format(d=PMA_DB, u=PMA_USER, p=PMA_PASS))


def pma_version():
    """phpMyAdmin's version as it shows it: Version::VERSION and Debian's versionSuffix ("5.2.1deb1+deb12u1")."""
    with open("/usr/share/phpmyadmin/libraries/classes/Version.php") as f:
        version = re.search(r"public const VERSION = '([^']+)' \. VERSION_SUFFIX;", f.read()).group(1)
    with open("/usr/share/phpmyadmin/libraries/vendor_config.php") as f:
        suffix = re.search(r"'versionSuffix' => '([^']*)'", f.read()).group(1)
    return version + suffix


class PhpMyAdminCase:
    PREFIX = "/phpmyadmin"

    @classmethod
    def setUpClass(cls):
        setup_phpmyadmin()
        super().setUpClass()

    def login(self):
        """Logs in through the login form; returns the browser and the main page."""
        b = self.browser()
        r = b.get(self.PREFIX + "/")
        r = b.submit(r, find_form(r, id="login_form"), {"pma_username": PMA_USER, "pma_password": PMA_PASS})
        return b, r

    def test_login_page(self):
        r = self.browser().get(self.PREFIX + "/")
        self.assertStatusTitle(r, 200, "phpMyAdmin")
        self.assertEqual(r.history, [])
        form = find_form(r, id="login_form")
        self.assertEqual((form.attrs.get("action"), form.attrs.get("method")), ("index.php?route=/", "post"))
        self.assertEqual([n for n in form.names if n.startswith("pma_") or n in ("server", "route", "token")],
                         ["route", "token", "pma_username", "pma_password", "server"])
        self.assertEqual(len(form.get("token")), 32, form)

    def test_static_files_and_denied_folders(self):
        r = self.browser().get(self.PREFIX + "/themes/pmahomme/css/theme.css")
        with open("/usr/share/phpmyadmin/themes/pmahomme/css/theme.css", "rb") as f:
            want = f.read()
        self.assertEqual((r.status, r.headers.get("content-type"), harness.md5(r.body)),
                         (200, "text/css", harness.md5(want)))
        # the package's apache.conf denies libraries/ and templates/ (PHP never sees them)
        for path in ("/libraries/config.default.php", "/templates/login/form.twig"):
            self.assertEqual(self.browser().get(self.PREFIX + path).status, 403, path)

    def test_login_reaches_main_page(self):
        b, r = self.login()
        self.assertEqual(r.history, [(302, self.PREFIX + "/index.php?route=/&route=%2F")])
        self.assertStatusTitle(r, 200, "127.0.0.1:%d / 127.0.0.1 | phpMyAdmin %s" % (self.web.port, pma_version()))
        text = squash(r)
        self.assertIn("Server type: MariaDB", text)
        self.assertIn("User: %s@127.0.0.1" % PMA_USER, text)
        # the navigation tree: the databases the user may see
        self.assertEqual(re.findall(rb'title="Structure">([^<]+)</a>', r.body),
                         [PMA_DB.encode(), b"information_schema"])
        for name in ("phpMyAdmin", "pmaUser-1", "pmaAuth-1"):
            self.assertIsNotNone(b.cookie(name), name)

    def test_browse_table_rows(self):
        b, r = self.login()
        r = b.get(self.PREFIX + "/index.php?route=/sql&db=%s&table=fpmd_table&pos=0" % PMA_DB)
        self.assertEqual(r.status, 200)
        text = squash(r)
        self.assertIn("Showing rows 0 - 1 (2 total", text)
        self.assertIn("SELECT * FROM `fpmd_table`", text)
        cells = re.findall(rb'<td data-decimals="0" data-type="int" class="[^"]*">\s*([0-9]+)\s*</td>', r.body)
        self.assertEqual(cells, [b"1", b"2"])


class PhpMyAdminApache(PhpMyAdminCase, AppCase):
    """The package's /etc/phpmyadmin/apache.conf, Included as it ships."""

    @classmethod
    def make_web(cls, ws, server):
        return AppApache(ws, server, "Include /etc/phpmyadmin/apache.conf\n")


class PhpMyAdminNginx(PhpMyAdminCase, AppCase):
    """nginx: root /usr/share/ for /phpmyadmin/ (the phpMyAdmin path is the folder's name), Debian's
    snippets/fastcgi-php.conf, and the folders the package's apache.conf denies denied."""

    @classmethod
    def make_web(cls, ws, server):
        return AppNginx(ws, server, """
        root %s;
        location ^~ /phpmyadmin/ {
            root /usr/share/;
            index index.php;
            location ~ ^/phpmyadmin/(libraries|templates)/ {
                deny all;
            }
            location ~ \\.php$ {
                include snippets/fastcgi-php.conf;
                fastcgi_pass php;
            }
        }
""" % ws.docroot)


# ---------------------------------------------------------------------------------------------------------
# MediaWiki in Debian's symlinked layout: /var/lib/mediawiki is the document root, its index.php, load.php ...
# are symbolic links into /usr/share/mediawiki, LocalSettings.php a link to /etc/mediawiki/LocalSettings.php.
# The wiki is made by the package's maintenance/install.php (SQLite in the workspace), its LocalSettings.php
# written where Debian expects it (/etc/mediawiki, a bind of the workspace's).

MW_ADMIN = "Admin"
MW_PASS = "Fpmd-wiki-pass-5"
MW_NAME = "fpmd test wiki"


@once
def setup_mediawiki():
    ws = ENV["ws"]
    etc = ws.path("etc-mediawiki")
    os.makedirs(etc)
    appkit.bind(etc, "/etc/mediawiki")
    for name in ("cache", "images"):
        d = ws.path("mediawiki-" + name)
        appkit.copytree("/var/lib/mediawiki/" + name, d)
        appkit.bind(d, "/var/lib/mediawiki/" + name)
    data = ws.path("mediawiki-data")
    os.makedirs(data)
    r = subprocess.run([PHP_CLI, "/usr/share/mediawiki/maintenance/install.php", "--dbtype=sqlite",
                        "--dbpath=" + data, "--dbname=fpmdwiki", "--scriptpath=/mediawiki",
                        "--server=http://127.0.0.1", "--confpath=/etc/mediawiki", "--pass=" + MW_PASS,
                        "--skins=Vector", "--lang=en", MW_NAME, MW_ADMIN],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0 or "MediaWiki has been successfully installed" not in out:
        raise RuntimeError("maintenance/install.php failed (%d):\n%s" % (r.returncode, out))
    path = "/etc/mediawiki/LocalSettings.php"
    with open(path) as f:
        text = f.read()
    # the wiki is reached through two web servers on two ports: its URL from the request, as MediaWiki's own
    # default does
    text = text.replace('$wgServer = "http://127.0.0.1";', "$wgServer = WebRequest::detectServer();")
    with open(path, "w") as f:
        f.write(text)


class MediaWikiCase:
    PREFIX = "/mediawiki"
    PAGE = None  # the page each web server's class creates

    @classmethod
    def setUpClass(cls):
        setup_mediawiki()
        super().setUpClass()

    def url(self, query):
        return "http://127.0.0.1:%d%s/index.php?%s" % (self.web.port, self.PREFIX, query)

    def test_main_page(self):
        # index.php without a title: MediaWiki redirects to the Main Page's canonical URL. Under PHP-FPM, PHP_SAPI
        # is "fpm-fcgi" and MediaWiki makes no PATH_INFO URLs ($wgUsePathInfo is false for a *cgi* SAPI).
        r = self.browser().get(self.PREFIX + "/")
        self.assertEqual(r.history, [(301, self.url("title=Main_Page"))])
        self.assertStatusTitle(r, 200, MW_NAME)
        self.assertIn(b'<h1 id="firstHeading" class="firstHeading mw-first-heading">'
                      b'<span class="mw-page-title-main">Main Page</span></h1>', r.body)
        text = squash(r)
        self.assertIn("MediaWiki has been installed. Consult the User's Guide for information on using the wiki "
                      "software.", text)
        self.assertIn('Retrieved from " %s "' % self.url("title=Main_Page&oldid=1"), text)
        self.assertIn(b'<link rel="stylesheet" href="/mediawiki/load.php?lang=en&amp;'
                      b'modules=skins.vector.styles.legacy&amp;only=styles&amp;skin=vector"/>', r.body)

    def test_load_php_css(self):
        r = self.browser().get(self.PREFIX + "/load.php?lang=en&modules=skins.vector.styles.legacy&only=styles"
                               "&skin=vector")
        self.assertEqual((r.status, r.headers.get("content-type"), r.headers.get("cache-control")),
                         (200, "text/css; charset=utf-8",
                          "public, max-age=300, s-maxage=300, stale-while-revalidate=60"))
        self.assertTrue(r.body.startswith(b"@media (prefers-reduced-motion:reduce){*,::before,::after{"), r.body[:200])
        self.assertIn(b"#mw-head{", r.body)

    def test_login_edit_and_read_back(self):
        b = self.browser()
        r = b.get(self.PREFIX + "/index.php?title=Special:UserLogin&returnto=Main+Page")
        self.assertStatusTitle(r, 200, "Log in - " + MW_NAME)
        r = b.submit(r, find_form(r, name="userlogin"), {"wpName": MW_ADMIN, "wpPassword": MW_PASS})
        self.assertEqual(r.history, [(302, self.url("title=Main_Page"))])
        self.assertIn(b'"wgUserName":"Admin"', r.body)
        self.assertEqual(b.cookie("fpmdwikiUserName"), "Admin")
        # the edit form (multipart/form-data, as MediaWiki's form says), saved with its button
        r = b.get(self.PREFIX + "/index.php?title=%s&action=edit" % self.PAGE)
        self.assertStatusTitle(r, 200, "Creating %s - %s" % (self.PAGE.replace("_", " "), MW_NAME))
        form = find_form(r, id="editform")
        self.assertEqual((form.attrs["action"], form.attrs["enctype"]),
                         ("/mediawiki/index.php?title=%s&action=submit" % self.PAGE, "multipart/form-data"))
        text = "Hello from '''fpmd''' on [[Main Page]], caf\u00e9 \u2603."
        r = b.submit(r, form, {"wpTextbox1": text, "wpSummary": "fpmd test edit"}, submit=("wpSave", "Save page"))
        self.assertEqual(r.history, [(302, self.url("title=" + self.PAGE))])
        self.assertStatusTitle(r, 200, "%s - %s" % (self.PAGE.replace("_", " "), MW_NAME))
        want = ('<div class="mw-parser-output"><p>Hello from <b>fpmd</b> on <a href="/mediawiki/index.php?'
                'title=Main_Page" title="Main Page">Main Page</a>, caf\u00e9 \u2603.\n</p>').encode()
        self.assertIn(want, r.body)
        # read back by someone else, and as wikitext
        r = self.browser().get(self.PREFIX + "/index.php?title=" + self.PAGE)
        self.assertEqual(r.status, 200)
        self.assertIn(want, r.body)
        r = self.browser().get(self.PREFIX + "/index.php?title=%s&action=raw" % self.PAGE)
        self.assertEqual((r.status, r.headers.get("content-type"), r.body),
                         (200, "text/x-wiki; charset=UTF-8", text.encode()))


class MediaWikiApache(MediaWikiCase, AppCase):
    """The package's /etc/apache2/conf-available/mediawiki.conf (Alias /mediawiki /var/lib/mediawiki),
    Included as it ships."""

    PAGE = "Fpmd_Apache_page"

    @classmethod
    def make_web(cls, ws, server):
        return AppApache(ws, server, "Include /etc/apache2/conf-available/mediawiki.conf\n")


class MediaWikiNginx(MediaWikiCase, AppCase):
    """nginx: root /var/lib for /mediawiki/ (Debian's document root is /var/lib/mediawiki), Debian's
    snippets/fastcgi-php.conf: SCRIPT_FILENAME is /var/lib/mediawiki/index.php, a symbolic link."""

    PAGE = "Fpmd_nginx_page"

    @classmethod
    def make_web(cls, ws, server):
        return AppNginx(ws, server, """
        root %s;
        location ^~ /mediawiki/ {
            root /var/lib;
            index index.php;
            location ~ ^/mediawiki/(cache|config|includes|languages|maintenance|vendor)/ {
                deny all;
            }
            location ~ \\.php$ {
                include snippets/fastcgi-php.conf;
                fastcgi_pass php;
            }
        }
""" % ws.docroot)


# ---------------------------------------------------------------------------------------------------------
# DokuWiki in Debian's layout: the program in /usr/share/dokuwiki (lib/plugins and lib/tpl links into
# /var/lib/dokuwiki/lib), the pages in /var/lib/dokuwiki/data, users and ACL in /var/lib/dokuwiki/acl (links
# from /etc/dokuwiki). The test's copy of the package's data, a user of its own, its own local.php.

DW_USER = "fpmd"
DW_PASS = "Fpmd-doku-pass-9"
DW_TITLE = "fpmd test DokuWiki"


@once
def setup_dokuwiki():
    ws = ENV["ws"]
    data = ws.path("dokuwiki-data")
    appkit.copytree("/var/lib/dokuwiki/data", data)
    appkit.bind(data, "/var/lib/dokuwiki/data")
    acl = ws.path("dokuwiki-acl")
    os.makedirs(acl)
    hashed = subprocess.run([PHP_CLI, "-r", "echo password_hash($argv[1], PASSWORD_BCRYPT);", DW_PASS],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    with open(os.path.join(acl, "users.auth.php"), "w") as f:
        f.write("# users.auth.php\n# <?php exit()?>\n# Don't modify the lines above\n"
                "%s:%s:fpmd Tester:fpmd@localhost:admin,user\n" % (DW_USER, hashed))
    # the package's postinst default: everyone reads, users write
    with open(os.path.join(acl, "acl.auth.php"), "w") as f:
        f.write("# acl.auth.php\n# <?php exit()?>\n# Don't modify the lines above\n"
                "*               @ALL          1\n*               @user         8\n")
    appkit.copy_owner("/var/lib/dokuwiki/acl", acl)
    appkit.bind(acl, "/var/lib/dokuwiki/acl")
    local = ws.path("dokuwiki-local.php")
    with open(local, "w") as f:
        f.write("<?php\n$conf['title'] = '%s';\n$conf['license'] = 'cc-by-sa';\n$conf['useacl'] = 1;\n"
                "$conf['superuser'] = '@admin';\n" % DW_TITLE)
    appkit.bind(local, "/etc/dokuwiki/local.php")


class DokuWikiCase:
    PREFIX = "/dokuwiki"
    PAGE = None  # the page each web server's class creates
    INDEX_HISTORY = None  # the redirects of GET /dokuwiki/

    @classmethod
    def setUpClass(cls):
        setup_dokuwiki()
        super().setUpClass()

    def url(self, query):
        return "http://127.0.0.1:%d%s/doku.php?%s" % (self.web.port, self.PREFIX, query)

    def wikipage(self, r):
        """The rendered page between DokuWiki's markers."""
        m = re.search(rb"<!-- wikipage start -->\s*(.*?)\s*<!-- wikipage stop -->", r.body, re.S)
        self.assertIsNotNone(m, r.body[:3000])
        return m.group(1)

    def test_start_page(self):
        r = self.browser().get(self.PREFIX + "/")
        self.assertEqual(r.history, self.INDEX_HISTORY)
        self.assertStatusTitle(r, 200, "start [%s]" % DW_TITLE)
        self.assertIn("This topic does not exist yet You've followed a link to a topic that doesn't exist yet. If "
                      "permissions allow, you may create it by clicking on Create this page .", squash(r))

    def test_package_page(self):
        r = self.browser().get(self.PREFIX + "/doku.php?id=wiki:welcome")
        self.assertStatusTitle(r, 200, "wiki:welcome [%s]" % DW_TITLE)
        self.assertIn(b'<h1 class="sectionedit1" id="welcome_to_your_new_dokuwiki">Welcome to your new DokuWiki</h1>',
                      self.wikipage(r))

    def test_static_files_css_and_denied_folders(self):
        b = self.browser()
        r = b.get(self.PREFIX + "/lib/tpl/dokuwiki/images/logo.png")
        with open("/usr/share/dokuwiki/lib/tpl/dokuwiki/images/logo.png", "rb") as f:
            self.assertEqual((r.status, r.headers.get("content-type"), r.body), (200, "image/png", f.read()))
        r = b.get(self.PREFIX + "/lib/exe/css.php?t=dokuwiki&tseed=fpmd")
        self.assertEqual((r.status, r.headers.get("content-type"), r.headers.get("cache-control")),
                         (200, "text/css; charset=utf-8", "public, max-age=31536000"))
        self.assertTrue(r.body.startswith(b"@media screen{a.interwiki{background:transparent url("
                                          b"/dokuwiki/lib/images/interwiki.svg) 0 0 no-repeat;"), r.body[:300])
        for path in ("/inc/init.php", "/bin/indexer.php"):
            self.assertEqual(b.get(self.PREFIX + path).status, 403, path)

    def test_login_create_and_read_back(self):
        b = self.browser()
        r = b.get(self.PREFIX + "/doku.php?id=start&do=login")
        self.assertStatusTitle(r, 200, "Log In [%s]" % DW_TITLE)
        r = b.submit(r, find_form(r, id="dw__login"), {"u": DW_USER, "p": DW_PASS})
        self.assertEqual(r.history, [(302, self.url("id=start"))])
        self.assertIn("Logged in as: fpmd Tester ( fpmd )", squash(r))
        r = b.get(self.PREFIX + "/doku.php?id=%s&do=edit" % self.PAGE)
        self.assertStatusTitle(r, 200, "\u270e %s [%s]" % (self.PAGE, DW_TITLE))
        form = find_form(r, id="dw__editform")
        self.assertEqual(form.attrs["action"], "/dokuwiki/doku.php?id=%s&do=edit" % self.PAGE)
        text = "====== fpmd page ======\nHello **fpmd**, caf\u00e9.\n"
        r = b.submit(r, form, {"wikitext": text, "summary": "fpmd test"}, submit=("do[save]", "Save"))
        self.assertEqual(r.history, [(302, self.url("id=" + self.PAGE))])
        self.assertStatusTitle(r, 200, "%s [%s]" % (self.PAGE, DW_TITLE))
        want = ('<h1 class="sectionedit1" id="fpmd_page">fpmd page</h1>\n<div class="level1">\n\n<p>\n'
                'Hello <strong>fpmd</strong>, caf\u00e9.\n</p>\n\n</div>').encode()
        self.assertEqual(self.wikipage(r), want)
        # read back by someone else (ACL: @ALL reads), and as the raw text
        r = self.browser().get(self.PREFIX + "/doku.php?id=" + self.PAGE)
        self.assertEqual((r.status, self.wikipage(r)), (200, want))
        r = self.browser().get(self.PREFIX + "/doku.php?id=%s&do=export_raw" % self.PAGE)
        self.assertEqual((r.status, r.headers.get("content-type"), r.headers.get("content-disposition"), r.body),
                         (200, "text/plain; charset=utf-8", "attachment; filename=" + self.PAGE.split(":")[-1] + ".txt",
                          text.encode()))


class DokuWikiApache(DokuWikiCase, AppCase):
    """The package's /etc/dokuwiki/apache.conf (Alias /dokuwiki /usr/share/dokuwiki/, AllowOverride All, the
    Debian-style "Allow from localhost 127.0.0.1 ::1"), Included as it ships."""

    PAGE = "fpmd:apache"
    # the package's index.php redirects to the start page
    INDEX_HISTORY = [(302, "/dokuwiki/doku.php?id=start")]

    @classmethod
    def make_web(cls, ws, server):
        return AppApache(ws, server, "Include /etc/dokuwiki/apache.conf\n")


class DokuWikiNginx(DokuWikiCase, AppCase):
    """nginx: alias /usr/share/dokuwiki/ for /dokuwiki/, denying the folders DokuWiki's nginx page denies,
    SCRIPT_FILENAME $request_filename after Debian's fastcgi_params. Debian 12's fastcgi_params sends
    HTTP_HOST as $host, without the port (a recent security update); a site on another port than 80 sets it
    again to $http_host. nginx then sends HTTP_HOST twice, "127.0.0.1" first and "127.0.0.1:PORT" last, and
    the last one counts (PHP-FPM): DokuWiki's redirects keep the port."""

    PAGE = "fpmd:nginx"
    INDEX_HISTORY = []  # index doku.php

    @classmethod
    def make_web(cls, ws, server):
        return AppNginx(ws, server, """
        root %s;
        location ^~ /dokuwiki/ {
            alias /usr/share/dokuwiki/;
            index doku.php;
            location ~ ^/dokuwiki/(data|conf|bin|inc|vendor)/ {
                deny all;
            }
            location ~ \\.php$ {
                include fastcgi_params;
                fastcgi_param SCRIPT_FILENAME $request_filename;
                fastcgi_param HTTP_HOST $http_host;
                fastcgi_pass php;
            }
        }
""" % ws.docroot)


# ---------------------------------------------------------------------------------------------------------
# WordPress with MariaDB in Debian's layout: /usr/share/wordpress, wp-content in /var/lib/wordpress/wp-content,
# and Debian's wp-config.php, which reads /etc/wordpress/config-HOST.php for the Host header's name: one blog
# per host name, as Debian's scheme intends. nginx serves the blog of "localhost" at /, Apache the blog of
# "127.0.0.1" at /blog (the package's examples/apache.conf, "hosted off /blog"), each with a database of its own.
# A must-use plugin in the test's wp-content replaces wp_mail(): WordPress mails its admin at install.

WP_ADMIN = "fpmdadmin"
WP_PASS = "Fpmd-wp-pass-8!x"
WP_TITLE = "fpmd test blog"


def png_image(width, height):
    """A small RGB PNG, a gradient (WordPress reads its size with getimagesize())."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"".join(bytes((x * 6 % 256, y * 8 % 256, 128)) for x in range(width))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def wp_config(db_name, db):
    keys = "".join("define('%s', '%s');\n" % (k, harness.md5(("fpmd-" + k + db_name).encode()) * 2)
                   for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                             "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
    # Debian's /usr/share/doc/wordpress/examples/config-default.php, filled in; the database over the socket
    return """<?php
define('DB_NAME', '{name}');
define('DB_USER', '{user}');
define('DB_PASSWORD', '{password}');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8');
define('DB_COLLATE', '');
{keys}$table_prefix = 'wp_';
define('WP_DEBUG', false);
/* no network here: no update checks, no cron requests */
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');
""".format(name=db_name, user=DB_USER, password=DB_PASS, socket=db.socket, keys=keys)


@once
def setup_wordpress():
    ws, db = ENV["ws"], ENV["db"]
    etc = ws.path("etc-wordpress")
    os.makedirs(etc)
    shutil.copy("/etc/wordpress/htaccess", etc)
    for host, name in (("localhost", "wp_nginx"), ("127.0.0.1", "wp_apache")):
        db.sql("CREATE DATABASE %s" % name)
        with open(os.path.join(etc, "config-%s.php" % host), "w") as f:
            f.write(wp_config(name, db))
    appkit.bind(etc, "/etc/wordpress")
    content = ws.path("wordpress-wp-content")
    appkit.copytree("/var/lib/wordpress/wp-content", content)
    # WordPress mails the admin at install: not from a test machine (a must-use plugin replaces wp_mail())
    os.makedirs(os.path.join(content, "mu-plugins"))
    with open(os.path.join(content, "mu-plugins", "fpmd-test-no-mail.php"), "w") as f:
        f.write("<?php\nfunction wp_mail() { return true; }\n")
    appkit.bind(content, "/var/lib/wordpress/wp-content")


class WordPressCase:
    """The steps build on each other (install, then the pages): they run in the order of their names."""

    HOST = None  # the Host header's name: Debian's wp-config.php reads /etc/wordpress/config-HOST.php
    PREFIX = None
    INSTALLED_PERMALINKS = None  # what install.php found working, by asking the web server itself

    @classmethod
    def setUpClass(cls):
        setup_wordpress()
        super().setUpClass()

    def browser(self, host=None):
        return Browser(self.web, "%s:%d" % (self.HOST, self.web.port))

    def origin(self):
        return "http://%s:%d%s" % (self.HOST, self.web.port, self.PREFIX)

    def post_link(self):
        """The link to "Hello world!" on the front page (one, the same everywhere on it)."""
        r = self.browser().get(self.PREFIX + "/")
        self.assertEqual(r.status, 200)
        links = set(re.findall(rb'href="([^"]*hello-world[^"]*)"', r.body))
        self.assertEqual(len(links), 1, links)
        return links.pop().decode()

    def login(self):
        b = self.browser()
        r = b.get(self.PREFIX + "/wp-login.php")
        self.assertStatusTitle(r, 200, "Log In \u2039 %s \u2014 WordPress" % WP_TITLE)
        self.assertEqual(b.cookie("wordpress_test_cookie"), "WP%20Cookie%20check")
        form = find_form(r, id="loginform")
        self.assertEqual(form.fields, [("log", ""), ("pwd", ""), ("redirect_to", self.origin() + "/wp-admin/"),
                                       ("testcookie", "1")])
        r = b.submit(r, form, {"log": WP_ADMIN, "pwd": WP_PASS})
        self.assertEqual(r.history, [(302, self.origin() + "/wp-admin/")])
        self.assertStatusTitle(r, 200, "Dashboard \u2039 %s \u2014 WordPress" % WP_TITLE)
        return b, r

    def test_1_install(self):
        b = self.browser()
        r = b.get(self.PREFIX + "/")
        self.assertEqual(r.history, [(302, self.origin() + "/wp-admin/install.php")])
        self.assertStatusTitle(r, 200, "WordPress \u203a Installation")
        # no translations to offer here (no network): the form comes first
        form = find_form(r, id="setup")
        self.assertEqual((form.attrs["action"], [k for k, _ in form.fields]),
                         ("install.php?step=2", ["weblog_title", "user_name", "admin_password", "admin_password2",
                                                 "admin_email", "language"]))
        r = b.submit(r, form, {"weblog_title": WP_TITLE, "user_name": WP_ADMIN, "admin_password": WP_PASS,
                               "admin_password2": WP_PASS, "admin_email": "fpmd@example.org"})
        self.assertEqual((r.status, r.history), (200, []))
        self.assertIn("Success! WordPress has been installed. Thank you, and enjoy! Username %s Password Your "
                      "chosen password. Log In" % WP_ADMIN, squash(r))

    def test_2_front_page_and_post(self):
        r = self.browser().get(self.PREFIX + "/")
        self.assertStatusTitle(r, 200, WP_TITLE)
        self.assertIn("Hello world! Welcome to WordPress. This is your first post. Edit or delete it, then start "
                      "writing!", squash(r))
        # install.php asked the web server which permalinks work (a request from PHP through the web server)
        link = self.post_link()
        self.assertRegex(link, "^%s%s$" % (re.escape(self.origin()), self.INSTALLED_PERMALINKS))
        type(self).installed_link = link
        r = self.browser().get(link)
        self.assertStatusTitle(r, 200, "Hello world! \u2013 " + WP_TITLE)
        text = squash(r)
        self.assertIn("One response to \u201cHello world!\u201d A WordPress Commenter", text)
        form = find_form(r, id="commentform")
        self.assertEqual((form.attrs["action"], form.get("comment_post_ID")),
                         (self.origin() + "/wp-comments-post.php", "1"))

    def test_3_static_files(self):
        b = self.browser()
        for path in ("/wp-content/themes/twentytwentythree/style.css", "/wp-includes/css/dashicons.min.css"):
            r = b.get(self.PREFIX + path)
            with open(os.path.realpath("/var/lib/wordpress" + path if path.startswith("/wp-content")
                                       else "/usr/share/wordpress" + path), "rb") as f:
                self.assertEqual((r.status, r.headers.get("content-type"), r.body), (200, "text/css", f.read()), path)

    def test_4_login_and_comment(self):
        b, r = self.login()
        # the auth cookie for wp-admin and the plugins folder, the logged-in cookie for the whole blog
        cookies = sorted((re.sub("[0-9a-f]{32}$", "HASH", n), p) for n, p in b.cookies)
        self.assertEqual(cookies, [("wordpress_HASH", self.PREFIX + "/wp-admin"),
                                   ("wordpress_HASH", self.PREFIX + "/wp-content/plugins"),
                                   ("wordpress_logged_in_HASH", self.PREFIX + "/"),
                                   ("wordpress_test_cookie", self.PREFIX + "/"),
                                   ("wp-settings-time-1", self.PREFIX + "/")])
        self.assertIn("Welcome to WordPress!", squash(r))
        # a comment by the logged-in admin: approved at once
        link = self.post_link()
        r = b.get(link)
        r = b.submit(r, find_form(r, id="commentform"), {"comment": "A comment through fpmd, caf\u00e9."})
        self.assertEqual(r.history, [(302, link + "#comment-2")])
        self.assertEqual(r.status, 200)
        self.assertEqual(len(re.findall(rb'<div class="wp-block-comment-author-name"><a [^>]*>%s</a></div>'
                                        % WP_ADMIN.encode(), r.body)), 1)
        self.assertIn('<div class="wp-block-comment-content"><p>A comment through fpmd, caf\u00e9.</p>'.encode(),
                      r.body)

    def test_5_pathinfo_permalinks(self):
        b, r = self.login()
        r = b.get(self.PREFIX + "/wp-admin/options-permalink.php")
        self.assertStatusTitle(r, 200, "Permalink Settings \u2039 %s \u2014 WordPress" % WP_TITLE)
        form = find_form(r, name="form")
        structure = "/index.php/%year%/%monthnum%/%postname%/"
        r = b.submit(r, form, {"selection": "custom", "permalink_structure": structure})
        self.assertEqual(r.history, [(302, self.origin() + "/wp-admin/options-permalink.php?settings-updated=true")])
        self.assertIn("Permalink structure updated.", squash(r))
        self.assertEqual(find_form(r, name="form").get("permalink_structure"), structure)
        link = self.post_link()
        self.assertRegex(link, r"^%s/index\.php/[0-9]{4}/[0-9]{2}/hello-world/$" % re.escape(self.origin()))
        r = self.browser().get(link)
        self.assertStatusTitle(r, 200, "Hello world! \u2013 " + WP_TITLE)
        # the link install.php chose: WordPress redirects an old PATH_INFO link to the new one; a link without
        # index.php is not found any more, WordPress's own 404 page
        r = self.browser().get(self.installed_link, follow=False)
        if "/index.php/" in self.installed_link:
            self.assertEqual((r.status, r.headers.get("location")), (301, link))
        else:
            self.assertStatusTitle(r, 404, "Page not found \u2013 " + WP_TITLE)

    def test_6_media_upload(self):
        # wp-admin/media-new.php's browser uploader: a multipart POST with a file, moved by PHP into
        # wp-content/uploads/YYYY/MM/, then served by the web server
        b, r = self.login()
        r = b.get(self.PREFIX + "/wp-admin/media-new.php?browser-uploader")
        self.assertStatusTitle(r, 200, "Upload New Media \u2039 %s \u2014 WordPress" % WP_TITLE)
        form = find_form(r, id="file-form")
        self.assertEqual(form.attrs["enctype"], "multipart/form-data")
        png = png_image(40, 30)
        name = "fpmd-%s" % self.__class__.__name__.lower()
        r = b.submit(r, form, submit=("html-upload", "Upload"),
                     files=[("async-upload", name + ".png", png, "image/png")])
        self.assertEqual(r.history, [(302, self.origin() + "/wp-admin/upload.php")])
        self.assertStatusTitle(r, 200, "Media Library \u2039 %s \u2014 WordPress" % WP_TITLE)
        # the library's list: the image's size as PHP read it, its URL
        r = b.get(self.PREFIX + "/wp-admin/upload.php?mode=list")
        self.assertIn(b'<span class="media-icon image-icon"><img width="40" height="30" src="', r.body)
        urls = set(re.findall(r"%s/wp-content/uploads/[0-9]{4}/[0-9]{2}/%s\.png" % (re.escape(self.origin()), name),
                              r.body.decode("utf-8", "replace")))
        self.assertEqual(len(urls), 1, urls)
        r = self.browser().get(urls.pop())
        self.assertEqual((r.status, r.headers.get("content-type"), r.body), (200, "image/png", png))


class WordPressApache(WordPressCase, AppCase):
    """README.Debian's blog "hosted off /blog": Alias /blog/wp-content /var/lib/wordpress/wp-content, Alias /blog
    /usr/share/wordpress, and their <Directory> blocks."""

    HOST = "127.0.0.1"
    PREFIX = "/blog"
    # no mod_rewrite: PATH_INFO permalinks, /index.php/YYYY/MM/DD/hello-world/
    INSTALLED_PERMALINKS = r"/index\.php/[0-9]{4}/[0-9]{2}/[0-9]{2}/hello-world/"

    @classmethod
    def make_web(cls, ws, server):
        return AppApache(ws, server, """\
# /usr/share/doc/wordpress/examples/apache.conf: "Without using Virtual host, hosted off /blog"
Alias /blog/wp-content /var/lib/wordpress/wp-content
Alias /blog /usr/share/wordpress
<Directory /usr/share/wordpress>
    Options FollowSymLinks
    AllowOverride Limit Options FileInfo
    DirectoryIndex index.php
    Require all granted
</Directory>
<Directory /var/lib/wordpress/wp-content>
    Options FollowSymLinks
    Require all granted
</Directory>
""")


class WordPressNginx(WordPressCase, AppCase):
    """Debian's /usr/share/doc/wordpress/examples/nginx-wordpress.conf (root /usr/share/wordpress, try_files to
    index.php, wp-content by alias), its PHP location made one that passes PATH_INFO, with Debian's
    snippets/fastcgi-php.conf."""

    HOST = "localhost"
    PREFIX = ""
    # try_files sends every path to index.php: permalinks without it
    INSTALLED_PERMALINKS = r"/[0-9]{4}/[0-9]{2}/[0-9]{2}/hello-world/"

    @classmethod
    def make_web(cls, ws, server):
        return AppNginx(ws, server, """
        root /usr/share/wordpress;
        index index.php;
        location / {
            try_files $uri $uri/ /index.php?$args;
        }
        location ~ ^/wp-content/(.*)$ {
            alias /var/lib/wordpress/wp-content/$1;
        }
        location ~ [^/]\\.php(/|$) {
            include snippets/fastcgi-php.conf;
            fastcgi_pass php;
        }
""")


def main():
    why = appkit.enter_private_mount_namespace()
    if why:
        harness.skip_file(why)
    harness.main()


if __name__ == "__main__":
    main()
