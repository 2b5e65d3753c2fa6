"""--root with a web2py-shaped fixture tree (tests/fixtures/web2py): the loader, the environ web2py
relies on, trusted proxies, native static files with web2py's semantics, what falls through to
Python, and set-admin-password."""

import gzip
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import FIXTURES, Server, app_dir, main, read_response, run_cli, send_request  # noqa: E402

SECRET = b"fixture-secret-model"


def make_tree():
    """A private copy of the fixture (the server writes into it), with a .gz sibling and a
    symlink pointing out of the static folder."""
    tmp = tempfile.mkdtemp(prefix="w2p-web2py-")
    root = os.path.join(tmp, "web2py")
    shutil.copytree(os.path.join(FIXTURES, "web2py"), root)
    static = os.path.join(root, "applications", "welcome", "static")
    with open(os.path.join(static, "js", "app.js"), "rb") as f:
        data = f.read()
    with open(os.path.join(static, "js", "app.js.gz"), "wb") as f:
        f.write(gzip.compress(data))
    # An older .gz must not be used.
    with open(os.path.join(static, "css", "site.css.gz"), "wb") as f:
        f.write(gzip.compress(b"stale"))
    # Relative to the files' own times (copytree keeps the fixture's): one .gz newer, one older.
    css_time = os.stat(os.path.join(static, "css", "site.css")).st_mtime
    os.utime(os.path.join(static, "css", "site.css.gz"), (css_time - 3600, css_time - 3600))
    js_time = os.stat(os.path.join(static, "js", "app.js")).st_mtime
    os.utime(os.path.join(static, "js", "app.js.gz"), (js_time + 10, js_time + 10))
    os.symlink(os.path.join(root, "applications", "welcome", "models", "db.py"),
               os.path.join(static, "escape.py"))
    return tmp, root


def from_python(resp):
    return resp.header("X-Fixture") == "python"


class Web2pyEnviron(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.root = make_tree()
        cls.server = Server("--root", cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp)

    def report(self, path="/welcome/default/index", headers=None):
        r = self.server.request("GET", path, headers=headers)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(from_python(r))
        return json.loads(r.body)

    def test_loaded_like_wsgihandler(self):
        rep = self.report()
        self.assertEqual(rep["loaded_in"], self.root)
        self.assertEqual(rep["cwd"], self.root)
        self.assertEqual(rep["sys_path0"], self.root)
        self.assertTrue(rep["runtime_handler"])
        self.assertTrue(rep["environ"]["web2py.use_wsgi_file_wrapper"])

    def test_server_port_and_scheme(self):
        env = self.report()["environ"]
        self.assertEqual(env["SERVER_PORT"], str(self.server.port))
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertIsNone(env["HTTPS"])

    def test_spoofed_forwarding_headers_are_removed(self):
        env = self.report(headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
                                   ("X-Forwarded-Host", "evil.example"),
                                   ("Forwarded", "for=6.6.6.6;proto=https"),
                                   ("X-Real-IP", "6.6.6.6")])["environ"]
        for key in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                    "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
            self.assertIsNone(env[key], key)
        self.assertEqual(env["wsgi.url_scheme"], "http")

    def test_stream_uses_native_file_wrapper(self):
        r = self.server.request("GET", "/welcome/default/download")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"body { background: #fff; }\n")
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))

    def test_sessions_are_written_in_the_tree(self):
        r = self.server.request("GET", "/welcome/default/session")
        path = json.loads(r.body)["wrote"]
        self.assertTrue(path.startswith(os.path.join(self.root, "applications", "welcome", "sessions")))
        self.assertTrue(os.path.exists(path))


class WhatAServerNeverUses(unittest.TestCase):
    def test_tkinter_is_kept_out_of_gluon_but_not_out_of_apps(self):
        # gluon.messageboxhandler imports tkinter (libtk, libtcl: ~3.5 MiB resident) for Tk
        # message boxes. A stand-in tkinter on the path shows whether the import happened.
        tmp, root = make_tree()
        try:
            with Server("--root", root, "--pythonpath", app_dir("fake_tkinter")) as srv:
                r = srv.request("GET", "/welcome/default/modules")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(json.loads(r.body), {"tkinter_loaded_by_gluon": False,
                                                      "messagebox_tkinter": False,
                                                      "app_import": True})
                # The memory report names the module, under the application that imported it. The
                # worker notes it after the response went out: one more request to the one
                # worker is answered only after that.
                self.assertEqual(srv.request("GET", "/welcome/default/index").status, 200)
                memory = json.loads(srv.request("GET", "/server-status?memory").body)["memory"]
                apps = {a["app"]: a for a in memory["applications"]}
                self.assertIn("gluon.main", apps["(start-up)"]["modules"])
                self.assertEqual(apps["welcome"]["modules"], ["tkinter"])
        finally:
            shutil.rmtree(tmp)

    def test_lean_makes_rarely_used_imports_lazy_and_keeps_openssl_digests_out(self):
        tmp, root = make_tree()
        try:
            expect = {"ssl_works": "PROTOCOL_TLS_CLIENT", "sha256": "2d711642b726b044"}
            for args, loaded in (((), True), (("--lean",), False)):
                with Server("--root", root, *args) as srv:
                    r = srv.request("GET", "/welcome/default/lean")
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(json.loads(r.body),
                                     dict(expect, hashlib_openssl=loaded, ssl_ran=loaded), args)
        finally:
            shutil.rmtree(tmp)


class TrustedProxies(unittest.TestCase):
    def test_trusted_proxy_may_forward(self):
        tmp, root = make_tree()
        try:
            with Server("--root", root, "--trusted-proxy", "127.0.0.0/8") as srv:
                r = srv.request("GET", "/welcome/default/index",
                                headers=[("X-Forwarded-For", "203.0.113.9"),
                                         ("X-Forwarded-Proto", "https")])
                env = json.loads(r.body)["environ"]
                self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "203.0.113.9")
                self.assertEqual(env["HTTP_X_FORWARDED_PROTO"], "https")
                self.assertEqual(env["wsgi.url_scheme"], "https")
                self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
            with Server("--root", root, "--trusted-proxy", "10.0.0.0/8",
                        "--trusted-proxy", "::1") as srv:
                r = srv.request("GET", "/welcome/default/index",
                                headers=[("X-Forwarded-Proto", "https")])
                env = json.loads(r.body)["environ"]
                self.assertIsNone(env["HTTP_X_FORWARDED_PROTO"])
                self.assertEqual(env["wsgi.url_scheme"], "http")
        finally:
            shutil.rmtree(tmp)

    def test_public_port(self):
        tmp, root = make_tree()
        try:
            with Server("--root", root, "--public-port", "443") as srv:
                env = json.loads(srv.request("GET", "/welcome/default/index").body)["environ"]
                self.assertEqual(env["SERVER_PORT"], "443")
        finally:
            shutil.rmtree(tmp)

    def test_bad_cidr_is_a_startup_error(self):
        r = run_cli("--root", os.path.join(FIXTURES, "web2py"), "--trusted-proxy", "10.0.0.0/99")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--trusted-proxy", r.stderr.decode())


class Web2pyStatic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.root = make_tree()
        cls.server = Server("--root", cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp)

    def get(self, path, headers=None, method="GET"):
        return self.server.request(method, path, headers=headers)

    def raw(self, target):
        with self.server.connect() as s:
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            return read_response(s)

    def test_static_file_is_native_with_web2py_headers(self):
        r = self.get("/welcome/static/css/site.css")
        self.assertEqual(r.status, 200)
        self.assertFalse(from_python(r))
        self.assertEqual(r.body, b"body { background: #fff; }\n")
        self.assertEqual(r.header("Content-Type"), "text/css; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "private")
        self.assertEqual(r.header("Pragma"), "cache")
        self.assertIsNotNone(r.header("Last-Modified"))
        self.assertIsNotNone(r.header("ETag"))

    def test_revalidation(self):
        r = self.get("/welcome/static/css/site.css")
        r2 = self.get("/welcome/static/css/site.css",
                      headers=[("If-Modified-Since", r.header("Last-Modified"))])
        self.assertEqual(r2.status, 304)
        r3 = self.get("/welcome/static/css/site.css", headers=[("If-None-Match", r.header("ETag"))])
        self.assertEqual(r3.status, 304)

    def test_versioned_url(self):
        r = self.get("/welcome/static/_2.21.3/css/site.css")
        self.assertEqual(r.status, 200)
        self.assertFalse(from_python(r))
        self.assertEqual(r.body, b"body { background: #fff; }\n")
        self.assertEqual(r.header("Cache-Control"), "max-age=315360000")
        self.assertEqual(r.header("Expires"), "Thu, 31 Dec 2037 23:59:59 GMT")

    def test_attachment_query(self):
        r = self.get("/welcome/static/css/site.css?attachment")
        self.assertEqual(r.header("Content-Disposition"), "attachment")
        r = self.get("/welcome/static/css/site.css?other")
        self.assertIsNone(r.header("Content-Disposition"))

    def test_gzip_sibling(self):
        r = self.get("/welcome/static/js/app.js", headers=[("Accept-Encoding", "gzip, deflate")])
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        self.assertEqual(r.header("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(gzip.decompress(r.body), b'console.log("fixture app.js");\n')
        plain = self.get("/welcome/static/js/app.js")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertEqual(plain.body, b'console.log("fixture app.js");\n')
        refused = self.get("/welcome/static/js/app.js", headers=[("Accept-Encoding", "gzip;q=0")])
        self.assertIsNone(refused.header("Content-Encoding"))
        # An older .gz than the file is never used.
        stale = self.get("/welcome/static/css/site.css", headers=[("Accept-Encoding", "gzip")])
        self.assertIsNone(stale.header("Content-Encoding"))
        self.assertEqual(stale.body, b"body { background: #fff; }\n")

    def test_spaces_map_to_underscores(self):
        r = self.get("/welcome/static/a%20file.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"spaced name\n")

    def test_favicon_and_robots_from_default_app(self):
        r = self.get("/favicon.ico")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"\x00\x00\x01\x00fixture-icon")
        self.assertEqual(r.header("Content-Type"), "image/x-icon")
        r = self.get("/robots.txt")
        self.assertEqual(r.body, b"User-agent: *\nDisallow: /admin/\n")

    def test_favicon_of_the_stock_welcome_layout(self):
        # web2py's welcome keeps its icon in static/images/favicon.ico.
        tmp, root = make_tree()
        try:
            static = os.path.join(root, "applications", "welcome", "static")
            os.remove(os.path.join(static, "favicon.ico"))
            os.makedirs(os.path.join(static, "images"))
            with open(os.path.join(static, "images", "favicon.ico"), "wb") as f:
                f.write(b"\x00\x00\x01\x00images-icon")
            with Server("--root", root) as srv:
                r = srv.request("GET", "/favicon.ico")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"\x00\x00\x01\x00images-icon")
                srv.stop()
        finally:
            shutil.rmtree(tmp)

    def test_head(self):
        r = self.get("/welcome/static/css/site.css", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "27")

    def test_admin_edit_url_goes_to_python(self):
        r = self.get("/admin/default/edit/welcome/static/css/site.css")
        self.assertTrue(from_python(r))
        self.assertEqual(json.loads(r.body)["environ"]["PATH_INFO"],
                         "/admin/default/edit/welcome/static/css/site.css")

    def test_uncertain_urls_fall_through_to_python(self):
        for path in ["/welcome/static/css/missing.css",      # web2py's own 404
                     "/welcome/static/css",                  # a directory
                     "/welcome/static/.hidden",              # REGEX_URL would refuse it
                     "/welcome/static/_1.2.3",               # a version with no file
                     "/welcome/static/css/%2573ite.css",     # web2py unquotes a second time
                     "/nosuchapp/static/x.css",
                     "/welcome/statics/css/site.css",
                     "/welcome/default/static/css/site.css"]:
            r = self.get(path)
            self.assertTrue(from_python(r), path)
        r = self.server.request("POST", "/welcome/static/css/site.css", body=b"x")
        self.assertTrue(from_python(r))

    def test_dot_segments_are_resolved_before_anything_else(self):
        # One view of the path: "/welcome/static/css/../css/site.css" is site.css, native;
        # "/welcome/static/../databases/x" is the databases URL, which is web2py's.
        r = self.get("/welcome/static/css/../css/site.css")
        self.assertFalse(from_python(r))
        self.assertEqual(r.status, 200)
        r = self.get("/welcome/static/../models/db.py")
        self.assertTrue(from_python(r))
        self.assertEqual(json.loads(r.body)["environ"]["PATH_INFO"], "/welcome/models/db.py")

    def test_ranges_served_natively(self):
        # As gluon/streamer.py would: 206 with the bytes asked for.
        with open(os.path.join(self.root, "applications", "welcome", "static", "css", "site.css"), "rb") as f:
            data = f.read()
        r = self.get("/welcome/static/css/site.css", headers=[("Range", "bytes=0-3")])
        self.assertFalse(from_python(r))
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, data[:4])
        self.assertEqual(r.header("Content-Range"), "bytes 0-3/%d" % len(data))
        r = self.server.request("POST", "/welcome/static/css/site.css", body=b"x")
        self.assertTrue(from_python(r))

    def test_traversal_never_leaks(self):
        targets = [b"/welcome/static/../models/db.py", b"/welcome/static/../../gluon/main.py",
                   b"/welcome/static/%2e%2e/models/db.py", b"/welcome/static/%2E%2E%2Fmodels%2Fdb.py",
                   b"/welcome/static/css/..%2f..%2fmodels/db.py", b"/welcome/static/..%5cmodels%5cdb.py",
                   b"/welcome/static/escape.py", b"/welcome/static/css/site.css%00.txt",
                   b"/welcome/static//../models/db.py", b"/welcome/static/%252e%252e/models/db.py"]
        for t in targets:
            r = self.raw(t)
            self.assertNotIn(SECRET, r.body, t)
            if not from_python(r):
                self.assertIn(r.status, (400, 403, 404), t)


class LoaderErrors(unittest.TestCase):
    def assertStartupError(self, args, needle):
        r = run_cli("--listen", "127.0.0.1:0", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        last = r.stderr.decode().strip().splitlines()[-1]
        self.assertTrue(last.startswith("w2pserve: error: "), last)
        self.assertIn(needle, last)
        return r

    def test_not_a_web2py_tree(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertStartupError(["--root", d], "applications")
        self.assertStartupError(["--root", "/no/such/dir"], "'/no/such/dir' is not a directory")

    def test_gluon_that_fails_to_import(self):
        tmp, root = make_tree()
        try:
            with open(os.path.join(root, "gluon", "main.py"), "a") as f:
                f.write("\nraise ImportError('fixture: gluon is broken')\n")
            r = self.assertStartupError(["--root", root], "gluon.main")
            self.assertIn("fixture: gluon is broken", r.stderr.decode())
        finally:
            shutil.rmtree(tmp)

    def test_root_and_app_together(self):
        self.assertStartupError(["--root", os.path.join(FIXTURES, "web2py"), "--app", "x:y"],
                                "--root and --app")


class AdminPassword(unittest.TestCase):
    def test_set_admin_password_from_stdin(self):
        tmp, root = make_tree()
        try:
            r = run_cli("--root", root, "set-admin-password", "--port", "8001", input=b"s3cret\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(root, "parameters_8001.py")) as f:
                self.assertIn("sha256$", f.read())
            # Without --port: the first --listen port.
            r = run_cli("--root", root, "--listen", "127.0.0.1:8123", "set-admin-password",
                        input=b"other\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.exists(os.path.join(root, "parameters_8123.py")))
            # Nothing on stdin: an error and no file.
            r = run_cli("--root", root, "set-admin-password", "--port", "8002", input=b"")
            self.assertEqual(r.returncode, 2)
            self.assertFalse(os.path.exists(os.path.join(root, "parameters_8002.py")))
        finally:
            shutil.rmtree(tmp)

    def test_needs_root(self):
        r = run_cli("set-admin-password", input=b"x\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--root", r.stderr.decode())


if __name__ == "__main__":
    main()
