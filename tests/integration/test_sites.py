"""--config with [[site]] tables: two websites from one web2py folder in one process, chosen by
Host; rewrite rules (short URLs, static files, redirects, the admin lookahead); access-deny and
never-served files; check-config and import-lighttpd from the command line."""

import email.utils
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import FIXTURES, TESTS, Server, main, run_cli  # noqa: E402

REPO = os.path.dirname(TESTS)
CONF = os.path.join(REPO, "conf")


def make_tree():
    """The fixture web2py folder plus the applications conf/w2pserve.toml names."""
    tmp = tempfile.mkdtemp(prefix="w2p-sites-")
    root = os.path.join(tmp, "web2py")
    shutil.copytree(os.path.join(FIXTURES, "web2py"), root)
    apps = os.path.join(root, "applications")
    for app in ("app", "blog"):
        os.makedirs(os.path.join(apps, app, "static", "css"))
        with open(os.path.join(apps, app, "static", "css", app + ".css"), "w") as f:
            f.write("/* %s */" % app)
    for folder in ("private", "databases", "models", "sessions", "errors", "cache"):
        os.makedirs(os.path.join(apps, "app", folder), exist_ok=True)
        with open(os.path.join(apps, "app", folder, "secret.txt"), "w") as f:
            f.write("secret")
    with open(os.path.join(apps, "app", "models", "db.py"), "w") as f:
        f.write("SECRET = 1\n")
    with open(os.path.join(apps, "app", "static", "notes.txt~"), "w") as f:
        f.write("editor backup")
    os.makedirs(os.path.join(apps, "app", "static", "docs"))
    with open(os.path.join(apps, "app", "static", "docs", "index.html"), "w") as f:
        f.write("<p>docs</p>")
    return tmp, root


class TwoSites(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.root = make_tree()
        # The shipped example, with the web2py folder given on the command line (flags win).
        cls.server = Server("--config", os.path.join(CONF, "w2pserve.toml"), "--root", cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, host, path, method="GET"):
        return self.server.request(method, path, headers=[("Host", host)])

    def app_view(self, host, path):
        r = self.get(host, path)
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.header("X-Fixture"), "python")
        env = json.loads(r.body)["environ"]
        return env["PATH_INFO"], env["QUERY_STRING"], env["REQUEST_URI"]

    def test_example_short_urls(self):
        self.assertEqual(self.app_view("example.com", "/"), ("/app/default/index", "", "/"))
        self.assertEqual(self.app_view("example.com", "/about?ref=x"),
                         ("/app/default/about", "ref=x", "/about?ref=x"))
        # A URL naming the site's application goes through unchanged.
        self.assertEqual(self.app_view("example.com", "/app/default/page/2")[0],
                         "/app/default/page/2")

    def test_host_forms(self):
        # Case, port and a trailing dot do not matter; *.example.com takes any name below it.
        for host in ("EXAMPLE.com:80", "example.com.", "www.example.com", "a.b.example.com"):
            self.assertEqual(self.app_view(host, "/")[0], "/app/default/index", host)

    def test_blog_by_host_regex_with_default_app(self):
        self.assertEqual(self.app_view("blog.example.org", "/")[0], "/blog/")
        self.assertEqual(self.app_view("www.blog.example.org", "/default/post/3?x=1"),
                         ("/blog/default/post/3", "x=1", "/default/post/3?x=1"))
        self.assertEqual(self.app_view("blog.example.org", "/blog/default/post/4")[0],
                         "/blog/default/post/4")

    def test_applications_are_confined_to_their_site(self):
        # On the blog, admin and app are not applications: the URL stays inside the blog.
        self.assertEqual(self.app_view("blog.example.org", "/admin/default/index")[0],
                         "/blog/admin/default/index")
        self.assertEqual(self.app_view("blog.example.org", "/app/default/index")[0],
                         "/blog/app/default/index")
        # example.com lists admin: it is reachable there.
        self.assertEqual(self.app_view("example.com", "/admin/default/index")[0],
                         "/admin/default/index")

    def test_unknown_host_goes_to_the_default_site(self):
        self.assertEqual(self.app_view("unknown.test", "/")[0], "/app/default/index")
        r = self.server.request("GET", "/", headers=[("Host", "")])
        self.assertEqual(r.status, 200)

    def test_static_rule_serves_files_natively(self):
        r = self.get("example.com", "/app/static/css/app.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"/* app */")
        self.assertIsNone(r.header("X-Fixture"))
        self.assertEqual(r.header("Content-Type").split(";")[0], "text/css")

    def test_static_rule_never_reaches_other_folders(self):
        # The rule sees "?query" too; whatever it makes of one, only a static folder is served.
        for path in ("/app/private/secret.txt?/static/x", "/app/databases/secret.txt?/static/y",
                     "/app/models/db.py?x=/static/z"):
            r = self.get("example.com", path)
            self.assertNotEqual(r.body, b"secret", path)
            self.assertNotEqual(r.body, b"SECRET = 1\n", path)

    def test_lookahead_keeps_admin_static_editor_urls_in_admin(self):
        path = "/admin/default/edit/app/static/css/app.css"
        self.assertEqual(self.app_view("example.com", path)[0], path)

    def test_blog_static_through_web2py_mapping(self):
        r = self.get("blog.example.org", "/blog/static/css/blog.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"/* blog */")
        # Short form: /static/... is the blog's own static folder.
        r = self.get("blog.example.org", "/static/css/blog.css")
        self.assertEqual(r.body, b"/* blog */")

    def test_redirect_rule(self):
        r = self.get("example.com", "/old-site/a/b?q=1")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "https://example.com/a/b?q=1")

    def test_access_deny_suffixes(self):
        for path in ("/app/static/notes.txt~", "/page.inc", "/x~",
                     # Every spelling of the same path: trailing slash, "/.", dots, escapes.
                     "/app/static/notes.txt~/", "/app/static/notes.txt~/.",
                     "/app/static/x/../notes.txt~", "/app/static/notes.txt%7E",
                     "/app/static//notes.txt~", "/page.inc/", "/page%2Einc"):
            r = self.get("example.com", path)
            self.assertEqual(r.status, 403, path)
            self.assertNotEqual(r.body, b"editor backup", path)
        # The blog inherits the top-level list.
        self.assertEqual(self.get("blog.example.org", "/x.inc").status, 403)

    def test_source_and_private_folders_never_served(self):
        for path in ("/app/static/../models/db.py", "/x/static/../../app/models/db.py"):
            r = self.get("example.com", path)
            self.assertNotEqual(r.body, b"SECRET = 1\n", path)
        # Dot segments are resolved first, encoded or not: these are URLs of other folders,
        # which the static rule does not match, so web2py answers them (or a 4xx), never a file.
        for folder in ("private", "databases", "sessions", "errors", "cache"):
            r = self.get("example.com", "/app/static/%2e%2e/" + folder + "/secret.txt")
            self.assertNotEqual(r.body, b"secret", folder)
            if r.status == 200:
                self.assertEqual(r.header("X-Fixture"), "python", folder)
            else:
                self.assertIn(r.status, (400, 403, 404), folder)

    def test_directory_index_and_redirect(self):
        r = self.get("example.com", "/app/static/docs/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<p>docs</p>")
        r = self.get("example.com", "/app/static/docs")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "/app/static/docs/")
        r = self.get("example.com", "/app/static/css/")
        self.assertEqual(r.status, 404)  # no index file, and no listing
        self.assertNotIn(b"app.css", r.body)


class NeverStatic(unittest.TestCase):
    """Rules that point a static mapping at source files or private folders are refused."""

    def test_static_rule_into_source_and_private_folders(self):
        tmp, root = make_tree()
        try:
            conf = os.path.join(tmp, "w2pserve.toml")
            with open(conf, "w") as f:
                f.write('root = "%s"\n' % root)
                f.write('rewrite = [ { match = "^/raw(/.*)$", to = "static $1" } ]\n')
                f.write('static = ["/tree=%s"]\n' % root)
            with Server("--config", conf) as srv:
                self.assertEqual(srv.request("GET", "/raw/applications/app/static/css/app.css").status, 200)
                for path in ("/raw/applications/app/models/db.py", "/tree/applications/app/models/db.py",
                             "/raw/gluon/main.py", "/tree/applications/app/private/secret.txt",
                             "/raw/applications/app/databases/secret.txt",
                             "/raw/applications/app/sessions/secret.txt",
                             "/tree/applications/app/errors/secret.txt",
                             "/tree/./applications/app/cache/secret.txt"):
                    r = srv.request("GET", path)
                    self.assertEqual(r.status, 403, path)
                    self.assertNotIn(b"secret", r.body)
                # A file named like a private folder elsewhere is fine.
                self.assertEqual(srv.request("GET", "/tree/applications/app/static/css/app.css").status, 200)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_mapping_above_the_web2py_folder(self):
        # A --static folder that holds the web2py folder (a careless "/" or "/srv"), and a
        # symlink in a static folder that points at private data: only applications/<app>/static/
        # is ever a file, checked on the path and on the real path of what was opened.
        tmp, root = make_tree()
        try:
            os.symlink("../../databases/secret.txt",
                       os.path.join(root, "applications", "app", "static", "css", "link.txt"))
            os.symlink(os.path.join(root, "applications", "app", "private"),
                       os.path.join(tmp, "elsewhere"))
            with Server("--root", root, "--static", "/all=" + tmp) as srv:
                for path in ("/all/web2py/applications/app/databases/secret.txt",
                             "/all/web2py/applications/app/private/secret.txt",
                             "/all/web2py/applications/app/models/db.py",
                             "/all/web2py/gluon/main.py",
                             "/all/web2py/applications/app/static/css/link.txt",
                             "/all/elsewhere/secret.txt",
                             "/app/static/css/link.txt"):
                    r = srv.request("GET", path)
                    self.assertNotIn(b"secret", r.body, path)
                    self.assertNotEqual(r.body, b"SECRET = 1\n", path)
                    self.assertIn(r.status, (403, 404) if path.startswith("/all") else (200, 403, 404),
                                  path)
                r = srv.request("GET", "/all/web2py/applications/app/static/css/app.css")
                self.assertEqual((r.status, r.body), (200, b"/* app */"))
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class CacheRules(unittest.TestCase):
    """cache = [...] sets Cache-Control and Expires on native static files by path or type."""

    def test_rules(self):
        tmp = tempfile.mkdtemp(prefix="w2p-cache-")
        try:
            www = os.path.join(tmp, "www")
            os.makedirs(os.path.join(www, "img"))
            for name, data in (("app.css", b"a{}"), ("img/logo.png", b"png"), ("page.html", b"<p>"),
                               ("notes.txt", b"text")):
                with open(os.path.join(www, name), "wb") as f:
                    f.write(data)
            conf = os.path.join(tmp, "w2pserve.toml")
            with open(conf, "w") as f:
                f.write('static = ["/=%s"]\n' % www)
                f.write('cache = [\n'
                        '  { match = \'\\.(css|js)$\', cache-control = "public, max-age=604800" },\n'
                        '  { type = "image/", expires = "30d" },\n'
                        '  { match = "^/page", type = "text/html", cache-control = "no-cache" },\n'
                        ']\n')
            with Server("--config", conf, "--app", "app:application", "--pythonpath",
                        os.path.join(TESTS, "apps", "basic")) as srv:
                r = srv.request("GET", "/app.css")
                self.assertEqual(r.header("Cache-Control"), "public, max-age=604800")
                self.assertIsNone(r.header("Expires"))
                r = srv.request("GET", "/img/logo.png")
                self.assertEqual(r.header("Cache-Control"), "max-age=2592000")
                expires = email.utils.parsedate_to_datetime(r.header("Expires"))
                ahead = expires.timestamp() - time.time()
                self.assertTrue(30 * 86400 - 120 < ahead < 30 * 86400 + 120, ahead)
                self.assertEqual(srv.request("GET", "/page.html").header("Cache-Control"), "no-cache")
                self.assertIsNone(srv.request("GET", "/notes.txt").header("Cache-Control"))
                # A 304 keeps them too.
                etag = srv.request("GET", "/app.css").header("ETag")
                r = srv.request("GET", "/app.css", headers=[("If-None-Match", etag)])
                self.assertEqual(r.status, 304)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class CommandLine(unittest.TestCase):
    def test_check_config_prints_the_effective_configuration(self):
        tmp, root = make_tree()
        try:
            r = run_cli("--root", root, "check-config", os.path.join(CONF, "w2pserve.toml"))
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.decode()
            self.assertIn('root = "%s"' % root, out)
            self.assertIn('name = "blog"', out)
            self.assertIn('{ match = "^/$", to = "/app/default/index" },', out)
            self.assertTrue(out.rstrip().endswith("# configuration OK"))
            # What it prints is itself a valid configuration.
            again = os.path.join(tmp, "effective.toml")
            with open(again, "w") as f:
                f.write(out)
            r2 = run_cli("check-config", again)
            self.assertEqual(r2.returncode, 0, r2.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_check_config_errors_name_file_line_and_key(self):
        tmp = tempfile.mkdtemp(prefix="w2p-conf-")
        try:
            cases = [
                ('workers = 1\nlisten = ["127.0.0.1:80"]\nbogus = 3\n', ":3: bogus: unknown key"),
                ('[[site]]\nhosts = ["a.test"]\nrewrite = [ { match = "^(/x", to = "/y" } ]\n',
                 ":3: site[0].rewrite[0]: bad regular expression"),
                ('static = ["/s=/no/such/dir"]\n', ":1: static: /s=/no/such/dir: '/no/such/dir' is not a readable directory"),
                ('[[site]]\nhosts = ["a.test"]\n[[site]]\nhosts = ["A.test"]\n',
                 "host 'A.test' is claimed by"),
                ('workers = "two"\n', ":1: workers: expected a whole number"),
                ('workers = 0\n', ":1: workers: 0 is out of range (1 to 256)"),
                ('max-body = "lots"\n', ":1: max-body: 'lots' is not a size"),
                ('listen = ["1.2.3.4:99999"]\n', ":1: listen:"),
                ('[[site]]\nname = "x"\n', ":1: site[0].hosts: a site needs hosts"),
                ('[[site]]\nhosts = ["a b"]\n', ":2: site[0].hosts: 'a b' is not a host name"),
                ('[[site]]\nhost-regex = "(a"\n', ":1: site[0].host-regex: bad host-regex"),
                ('[[site]]\nhosts = ["a.test"]\nrewrite = [ { match = "x", to = "redirect 200 /y" } ]\n',
                 "redirect status 200"),
                ('[[site]]\nhosts = ["a.test"]\ndefault-app = "app"\n',
                 "default-app and apps are web2py settings: they need root"),
                ('[[site]]\ndefault = true\n[[site]]\ndefault = true\n', "a second default site"),
                ('workers = \n', ":1:"),
            ]
            for text, expected in cases:
                path = os.path.join(tmp, "c.toml")
                with open(path, "w") as f:
                    f.write(text)
                r = run_cli("check-config", path)
                err = r.stderr.decode()
                self.assertEqual(r.returncode, 2, text)
                self.assertIn(expected, err, text)
                self.assertTrue(err.startswith("w2pserve: error: "), err)
                self.assertEqual(r.stdout, b"", text)
                # The same file refuses to start the server.
                r = run_cli("--config", path, "--listen", "127.0.0.1:0")
                self.assertEqual(r.returncode, 2, text)
                self.assertIn(expected, r.stderr.decode(), text)
            r = run_cli("check-config", os.path.join(tmp, "missing.toml"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("missing.toml", r.stderr.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_command_line_overrides_the_file(self):
        tmp = tempfile.mkdtemp(prefix="w2p-conf-")
        try:
            path = os.path.join(tmp, "c.toml")
            with open(path, "w") as f:
                f.write('workers = 3\nlisten = ["127.0.0.1:1"]\nlog-level = "warn"\n')
            r = run_cli("--workers", "2", "check-config", path)
            out = r.stdout.decode()
            self.assertIn("workers = 2\n", out)
            self.assertIn('listen = ["127.0.0.1:1"]', out)
            self.assertIn('log-level = "warn"', out)
            r = run_cli("--listen", "127.0.0.1:2", "check-config", path)
            self.assertIn('listen = ["127.0.0.1:2"]', r.stdout.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_import_lighttpd_matches_the_shipped_conversion(self):
        r = run_cli("import-lighttpd", "conf/lighttpd-web2py.conf", cwd=REPO)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(CONF, "lighttpd-web2py.toml"), "rb") as f:
            self.assertEqual(r.stdout.decode(), f.read().decode())

    def test_imported_configuration_serves_like_lighttpd(self):
        tmp, root = make_tree()
        try:
            # The folders it names are the lighttpd machine's: given here on the command line.
            cache = os.path.join(tmp, "compress")
            os.makedirs(cache)
            r = run_cli("--root", root, "--compress-cache", cache, "check-config",
                        os.path.join(CONF, "lighttpd-web2py.toml"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('compress-types = ["application/javascript", "text/css", "text/html", '
                          '"text/plain"]', r.stdout.decode())
            # ... and so are its log files, pidfile and account.
            with Server("--config", os.path.join(CONF, "lighttpd-web2py.toml"), "--root", root,
                        "--compress-cache", cache, "--user", "root" if os.geteuid() == 0 else
                        __import__("pwd").getpwuid(os.geteuid()).pw_name,
                        "--error-log", "/dev/stderr", "--access-log", os.path.join(tmp, "access.log"),
                        "--pidfile", os.path.join(tmp, "w2pserve.pid")) as srv:
                def view(host, path):
                    resp = srv.request("GET", path, headers=[("Host", host)])
                    self.assertEqual(resp.status, 200, (host, path, resp.body[:200]))
                    return json.loads(resp.body)["environ"]["PATH_INFO"]
                self.assertEqual(view("www.example.com", "/"), "/app/default/index")
                self.assertEqual(view("example.com", "/contact"), "/app/default/contact")
                self.assertEqual(view("example.com", "/app/default/x"), "/app/default/x")
                self.assertEqual(view("blog.example.org", "/"), "/blog/default/index")
                self.assertEqual(view("blog.example.org", "/default/post"), "/blog/default/post")
                css = srv.request("GET", "/blog/static/css/blog.css", headers=[("Host", "blog.example.org")])
                self.assertEqual(css.body, b"/* blog */")
                moved = srv.request("GET", "/old-site/x", headers=[("Host", "example.com")])
                self.assertEqual((moved.status, moved.header("Location")), (301, "https://example.com/x"))
                # lighttpd's rule matches path and query: "?/static/x" after another folder's
                # URL made the rewritten path that folder's. Below the web2py folder only
                # applications/<app>/static/ is ever a static file.
                for folder, name in (("private", "secret.txt"), ("databases", "secret.txt"),
                                     ("models", "db.py")):
                    for host in ("www.example.com", "blog.example.org"):
                        r = srv.request("GET", "/app/%s/%s?/static/x" % (folder, name),
                                        headers=[("Host", host)])
                        self.assertNotEqual(r.body, b"secret", (host, folder))
                        self.assertNotEqual(r.body, b"SECRET = 1\n", (host, folder))
                        self.assertIn(r.status, (403, 404) if host != "blog.example.org"
                                      else (200, 403, 404), (host, folder, r.body[:100]))
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_import_lighttpd_errors(self):
        tmp = tempfile.mkdtemp(prefix="w2p-conf-")
        try:
            path = os.path.join(tmp, "bad.conf")
            with open(path, "w") as f:
                f.write('server.port = 80\nurl.rewrite-once = ( "^/$" => "/x" \n')
            r = run_cli("import-lighttpd", path)
            self.assertEqual(r.returncode, 2)
            self.assertIn("bad.conf:", r.stderr.decode())
            r = run_cli("import-lighttpd", os.path.join(tmp, "none.conf"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("cannot read", r.stderr.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
