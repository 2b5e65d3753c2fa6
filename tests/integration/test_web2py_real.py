"""Checks against a real web2py tree, run only when W2PSERVE_WEB2PY_ROOT points at one (a web2py
checkout with gluon/packages/{pydal,yatl,rocket3}); see README. The tests write into that tree:
a parameters_<port>.py, sessions, and a small application `w2pserve_test` (removed afterwards)."""

import os
import shutil
import socket
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import Server, main, posts_then_sigterm, read_response, run_cli  # noqa: E402

ROOT = os.environ.get("W2PSERVE_WEB2PY_ROOT")
PUBLIC_PORT = 8766  # SERVER_PORT seen by web2py, so the admin password file has a known name
TEST_APP = "w2pserve_test"


def request_from(server, source, path, headers=()):
    """A request whose peer address is `source` (127.0.0.2 is not local for web2py)."""
    s = socket.socket()
    s.settimeout(30)
    s.bind((source, 0))
    s.connect(("127.0.0.1", server.port))
    head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (path, PUBLIC_PORT)
    head += "".join("%s: %s\r\n" % h for h in headers)
    s.sendall(head.encode() + b"\r\n")
    try:
        return read_response(s)
    finally:
        s.close()


VIEWS = {
    "views/page.html": "{{extend 'layout_t.html'}}<p>page v1</p>",
    "layout_t.html": "<main>{{include 'part_t.html'}}{{include}}</main>",
    "part_t.html": "<b>part v1</b>",
    "views/dyn.html": "{{extend response.layout_name}}dyn",
    "layout_a.html": "A[{{include}}]",
    "layout_b.html": "B[{{include}}]",
    "views/broken.html": "<p>{{=1 +* 2}}</p>",
}


def write_view(name, text):
    with open(os.path.join(ROOT, "applications", TEST_APP, "views", name), "w") as f:
        f.write(text)


def setUpModule():
    if not ROOT:
        return
    app = os.path.join(ROOT, "applications", TEST_APP)
    for sub in ("controllers", "models", "views", "static", "errors", "sessions",
                "databases", "cache", "private", "uploads", "languages"):
        os.makedirs(os.path.join(app, sub), exist_ok=True)
    with open(os.path.join(app, "__init__.py"), "w"):
        pass
    with open(os.path.join(app, "controllers", "default.py"), "w") as f:
        f.write("def ping():\n    return 'pong'\n\n"
                "def counter():\n    session.n = (session.n or 0) + 1\n    return str(session.n)\n\n"
                "def fail():\n    return 1 / 0\n\n"
                "def order():\n"
                "    oid = request.body.read().decode()\n"
                "    db.orders.insert(oid=oid)\n"
                "    db.lines.insert(oid=oid, qty=1)\n"
                "    return 'ok'\n\n"
                "def lean():\n"
                "    import sys, hashlib, ssl, tarfile, yaml\n"
                "    return ' '.join([str('_hashlib' in sys.modules), ssl.PROTOCOL_TLS_CLIENT.name,\n"
                "                     yaml.dump({'a': 1}).strip(), tarfile.TarFile.__name__,\n"
                "                     hashlib.sha256(b'x').hexdigest()[:8]])\n")
    with open(os.path.join(app, "controllers", "views.py"), "w") as f:
        f.write("def page():\n    return dict()\n\n"
                "def dyn():\n    response.layout_name = request.vars.l or 'layout_a.html'\n"
                "    return dict()\n\n"
                "def broken():\n    return dict()\n")
    os.makedirs(os.path.join(app, "views", "views"), exist_ok=True)
    for name, text in VIEWS.items():
        write_view(name, text)
    with open(os.path.join(app, "models", "db.py"), "w") as f:
        f.write("db = DAL('sqlite://storage.sqlite', pool_size=0)\n"
                "db.define_table('orders', Field('oid', unique=True))\n"
                "db.define_table('lines', Field('oid'), Field('qty', 'integer'))\n")
    r = run_cli("--root", ROOT, "set-admin-password", "--port", str(PUBLIC_PORT),
                input=b"w2pserve-test-password\n")
    assert r.returncode == 0, r.stderr


def tearDownModule():
    if not ROOT:
        return
    shutil.rmtree(os.path.join(ROOT, "applications", TEST_APP), ignore_errors=True)
    try:
        os.unlink(os.path.join(ROOT, "parameters_%d.py" % PUBLIC_PORT))
    except OSError:
        pass


@unittest.skipUnless(ROOT, "set W2PSERVE_WEB2PY_ROOT to a web2py tree to run these")
class RealWeb2py(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--root", ROOT, "--public-port", str(PUBLIC_PORT))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_welcome_index(self):
        r = self.server.request("GET", "/welcome/default/index")
        self.assertEqual(r.status, 200)
        self.assertIn(b"web2py", r.body)
        self.assertIn(b"Welcome", r.body)

    def test_minimal_action(self):
        r = self.server.request("GET", "/%s/default/ping" % TEST_APP)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"pong")

    def test_compiled_views_show_every_edit_at_the_next_request(self):
        # --web2py-compile cache (the default): the second request runs the kept code, and an
        # edit of the view, of the layout it extends or of a file the layout includes shows at
        # once (each edit changes the size, as any real edit of these would).
        url = "/%s/views/page" % TEST_APP
        self.assertEqual(self.server.request("GET", url).body,
                         b"<main><b>part v1</b><p>page v1</p></main>")
        self.assertEqual(self.server.request("GET", url).body,
                         b"<main><b>part v1</b><p>page v1</p></main>")
        write_view("views/page.html", "{{extend 'layout_t.html'}}<p>page v2 edited</p>")
        self.assertEqual(self.server.request("GET", url).body,
                         b"<main><b>part v1</b><p>page v2 edited</p></main>")
        write_view("layout_t.html", "<main id=x>{{include 'part_t.html'}}{{include}}</main>")
        self.assertEqual(self.server.request("GET", url).body,
                         b"<main id=x><b>part v1</b><p>page v2 edited</p></main>")
        write_view("part_t.html", "<b>part v2 edited</b>")
        self.assertEqual(self.server.request("GET", url).body,
                         b"<main id=x><b>part v2 edited</b><p>page v2 edited</p></main>")
        for name in ("views/page.html", "layout_t.html", "part_t.html"):
            write_view(name, VIEWS[name])

    def test_a_view_that_picks_its_layout_at_run_time_gets_the_right_one(self):
        url = "/%s/views/dyn" % TEST_APP
        for layout, expect in (("layout_a.html", b"A[dyn]"), ("layout_b.html", b"B[dyn]"),
                               ("layout_a.html", b"A[dyn]")):
            self.assertEqual(self.server.request("GET", url + "?l=" + layout).body, expect)

    def test_a_broken_view_gives_web2pys_ticket_then_its_fix_shows(self):
        url = "/%s/views/broken" % TEST_APP
        for _ in range(2):
            r = self.server.request("GET", url)
            self.assertEqual(r.status, 500)
            self.assertIn(b"ticket", r.body.lower())
        write_view("views/broken.html", "<p>{{=1 + 2}}</p>")
        try:
            self.assertEqual(self.server.request("GET", url).body, b"<p>3</p>")
        finally:
            write_view("views/broken.html", VIEWS["views/broken.html"])

    def test_error_gives_a_web2py_ticket(self):
        r = self.server.request("GET", "/%s/default/fail" % TEST_APP)
        self.assertEqual(r.status, 500)
        self.assertIn(b"ticket", r.body.lower())
        errors = os.path.join(ROOT, "applications", TEST_APP, "errors")
        self.assertTrue(os.listdir(errors))

    def test_static_css_native_with_revalidation(self):
        r = self.server.request("GET", "/welcome/static/css/web2py.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Powered-By"), "web2py")
        validator = r.header("ETag")
        self.assertIsNotNone(validator)
        self.assertIsNotNone(r.header("Last-Modified"))
        r2 = self.server.request("GET", "/welcome/static/css/web2py.css",
                                 headers=[("If-None-Match", validator)])
        self.assertEqual(r2.status, 304)
        r3 = self.server.request("GET", "/welcome/static/css/web2py.css",
                                 headers=[("If-Modified-Since", r.header("Last-Modified"))])
        self.assertEqual(r3.status, 304)

    def test_admin_login_page_from_localhost(self):
        r = self.server.request("GET", "/admin/default/index")
        self.assertEqual(r.status, 200)
        self.assertIn(b"password", r.body.lower())
        self.assertNotIn(b"insecure channel", r.body)

    def test_dal_writes_survive_sigterm_under_load(self):
        # web2py commits the DAL transaction when the action returns: every 2xx has both rows.
        srv = Server("--root", ROOT, "--workers", "4")
        acked, code = posts_then_sigterm(srv, "/%s/default/order" % TEST_APP, prefix="w")
        self.assertEqual(code, 0)
        srv.stop()
        conn = sqlite3.connect(os.path.join(ROOT, "applications", TEST_APP, "databases",
                                            "storage.sqlite"))
        orders = {r[0] for r in conn.execute("SELECT oid FROM orders")}
        lines = {r[0] for r in conn.execute("SELECT oid FROM lines")}
        conn.close()
        self.assertTrue(set(acked) <= orders, set(acked) - orders)
        self.assertEqual(orders, lines)

    def test_admin_refuses_spoofed_https_from_remote_peer(self):
        r = request_from(self.server, "127.0.0.2", "/admin/default/index",
                         [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "127.0.0.1")])
        self.assertIn(b"insecure channel", r.body)



@unittest.skipUnless(ROOT, "set W2PSERVE_WEB2PY_ROOT to a web2py tree to run these")
class LeanMode(unittest.TestCase):
    """--lean: every welcome, admin and examples page still works."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--root", ROOT, "--public-port", str(PUBLIC_PORT), "--lean")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def get(self, path, cookie=None):
        headers = [("Cookie", cookie)] if cookie else None
        r = self.server.request("GET", path, headers=headers)
        self.assertEqual(r.status, 200, (path, r))
        return r

    def test_welcome_and_examples_pages(self):
        self.assertIn(b"Welcome", self.get("/welcome/default/index").body)
        for page in ("index", "what", "who", "download", "support", "documentation",
                     "examples", "license", "videos"):
            self.get("/examples/default/" + page)
        for page in ("simple_examples/hello1", "simple_examples/hello2", "simple_examples/hello3",
                     "simple_examples/hello4", "simple_examples/hello5", "simple_examples/hello6",
                     "simple_examples/makejson", "simple_examples/servejs",
                     "template_examples/variables", "template_examples/test_for",
                     "template_examples/test_def", "template_examples/beautify",
                     "form_examples/form", "session_examples/counter", "layout_examples/civilized",
                     "cache_examples/cache_in_ram", "cache_examples/cache_on_disk"):
            self.get("/examples/" + page)

    def test_admin_login_and_pages(self):
        self.assertIn(b"password", self.get("/admin/default/index").body.lower())
        # The password check runs web2py's pbkdf2 (hashlib's own implementation in lean mode).
        body = b"password=w2pserve-test-password"
        r = self.server.request("POST", "/admin/default/index", body=body,
                                headers=[("Content-Type", "application/x-www-form-urlencoded")])
        self.assertEqual(r.status, 303, r)
        cookie = "; ".join(c.split(";")[0] for c in r.header_all("Set-Cookie"))
        self.assertIn(b"welcome", self.get("/admin/default/site", cookie).body)
        self.get("/admin/default/design/welcome", cookie)
        self.get("/admin/default/edit/welcome/controllers/default.py", cookie)
        self.get("/admin/default/errors/welcome", cookie)
        self.get("/welcome/appadmin/index", cookie)

    def test_lazy_modules_work_on_first_use(self):
        # ssl, yaml and tarfile were bound lazily at start; OpenSSL's digests are not loaded.
        r = self.get("/%s/default/lean" % TEST_APP)
        self.assertEqual(r.body, b"False PROTOCOL_TLS_CLIENT a: 1 TarFile 2d711642")



@unittest.skipUnless(ROOT, "set W2PSERVE_WEB2PY_ROOT to a web2py tree to run these")
class RealWeb2pyHttp2(unittest.TestCase):
    """web2py's pages over HTTP/2, checked by a strict client (python3-h2 refuses any field an
    HTTP/2 peer must not send), with compression on as browsers ask for it."""

    def test_welcome_over_http2_with_a_session_a_post_and_assets(self):
        from test_http2 import H2Client
        with Server("--root", ROOT, "--h2c") as srv:
            c = H2Client(srv.port)
            gz = [("accept-encoding", "gzip, deflate, br")]
            s = c.response(c.request("/welcome/default/index", headers=gz))
            self.assertEqual(s["status"], 200, s)
            self.assertTrue(s["ended"])
            headers = dict(s["headers"])
            cookie = headers["set-cookie"].split(";")[0]
            self.assertTrue(cookie.startswith("session_id_welcome="), cookie)
            # A session kept across requests, and a POST body.
            s = c.response(c.request("/%s/default/counter" % TEST_APP, headers=gz))
            self.assertEqual(s["body"], b"1")
            cookie = dict(s["headers"])["set-cookie"].split(";")[0]
            s = c.response(c.request("/%s/default/counter" % TEST_APP,
                                     headers=gz + [("cookie", cookie)]))
            self.assertEqual(s["body"], b"2")
            s = c.response(c.request("/%s/default/order" % TEST_APP, method="POST",
                                     body=b"h2-order-1"))
            self.assertEqual((s["status"], s["body"]), (200, b"ok"))
            s = c.response(c.request("/welcome/static/css/calendar.css"))
            self.assertEqual(s["status"], 200)
            self.assertIn(b"calendar", s["body"])
            s = c.response(c.request("/welcome/default/missing_action"))
            self.assertEqual(s["status"], 404)
            c.close()

if __name__ == "__main__":
    main()
