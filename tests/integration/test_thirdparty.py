"""Real frameworks through w2pserve: a Flask and a Bottle application (Debian's python3-flask and
python3-bottle), each wrapped in wsgiref.validate. Both define the same routes
(tests/apps/flask_app, tests/apps/bottle_app), so one set of tests runs against each.

Run: W2PSERVE_BIN=build/w2pserve /usr/bin/python3.11 -B tests/integration/test_thirdparty.py
"""

import json
import os
import re
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import *  # noqa: E402,F403  (Server, send_request, read_response, ...)

TROUBLE = re.compile(r"AssertionError|WSGIWarning|garbage collected without being closed|"
                     r"\[error\]|Traceback")


def multipart(fields, files):
    boundary = "----w2pserve" + uuid.uuid4().hex
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                % (boundary, name)).encode() + value.encode("utf-8") + b"\r\n"
    for name, filename, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n"
                % (boundary, name, filename)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return "multipart/form-data; boundary=" + boundary, out


def cookie_pairs(resp):
    """name=value of every Set-Cookie header (attributes dropped)."""
    return [v.split(";", 1)[0].strip() for v in resp.header_all("Set-Cookie")]


class FrameworkTests:
    """Mixed into one TestCase per framework."""

    case = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--app", "app:application", "--pythonpath", app_dir(cls.case),
                            env={"PYTHONDONTWRITEBYTECODE": "1"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        bad = [l for l in cls.server.lines if TROUBLE.search(l)]
        if bad:
            raise AssertionError("errors in the log of %s:\n%s" % (cls.case, "\n".join(bad)))

    def setUp(self):
        self.mark = self.server.log_mark()

    def tearDown(self):
        new = self.server.lines[self.mark:]
        self.assertEqual([l for l in new if TROUBLE.search(l)], [],
                         "errors in the log:\n" + "\n".join(new))

    def request(self, method, path, headers=None, body=b""):
        return self.server.request(method, path, headers=headers, body=body)

    def json_of(self, resp, status=200):
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(resp.header("Content-Type", "").startswith("application/json"), resp)
        return json.loads(resp.body)

    def test_route_with_param(self):
        resp = self.request("GET", "/hello/World")
        self.assertEqual((resp.status, resp.body), (200, b"Hello, World!"))
        self.assertTrue(resp.header("Content-Type").startswith("text/html"))

    def test_route_with_utf8_param(self):
        # The framework turns PATH_INFO (latin-1 str of the raw bytes) back into UTF-8 text.
        resp = self.request("GET", "/hello/caf%C3%A9%20cr%C3%A8me")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body.decode("utf-8"), "Hello, caf\u00e9 cr\u00e8me!")

    def test_typed_params_and_query(self):
        out = self.json_of(self.request("GET", "/items/42/a/b%20c/d?q=x%20y&other=1"))
        self.assertEqual(out, {"id": 42, "rest": "a/b c/d", "q": "x y"})

    def test_converter_mismatch_is_404(self):
        self.assertEqual(self.request("GET", "/items/forty-two/x").status, 404)

    def test_unknown_route_is_404(self):
        resp = self.request("GET", "/no/such/route")
        self.assertEqual(resp.status, 404, resp)

    def test_wrong_method_is_405(self):
        self.assertEqual(self.request("GET", "/form").status, 405)
        self.assertEqual(self.request("DELETE", "/hello/x").status, 405)

    def test_head(self):
        resp = self.server.request("HEAD", "/hello/World")
        self.assertEqual((resp.status, resp.body), (200, b""))

    def test_urlencoded_form_post(self):
        body = "name=Ada+Lovelace&lang=py&lang=c&note=caf%C3%A9".encode()
        out = self.json_of(self.request(
            "POST", "/form", [("Content-Type", "application/x-www-form-urlencoded")], body))
        self.assertEqual(out["fields"], {"name": ["Ada Lovelace"], "lang": ["py", "c"],
                                         "note": ["caf\u00e9"]})
        self.assertEqual(out["files"], {})

    def test_multipart_form_post(self):
        data = bytes(range(256)) * 300  # over 64 KiB: the server spools it to a file
        ctype, body = multipart([("title", "r\u00e9sum\u00e9")],
                                [("upload", "data.bin", data)])
        out = self.json_of(self.request("POST", "/form", [("Content-Type", ctype)], body))
        self.assertEqual(out["fields"], {"title": ["r\u00e9sum\u00e9"]})
        self.assertEqual(out["files"], {"upload": data.decode("latin-1")})

    def test_chunked_form_post(self):
        body = b"name=chunked&lang=go"
        raw = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (7, body[:7], len(body) - 7, body[7:])
        out = self.json_of(self.request(
            "POST", "/form", [("Content-Type", "application/x-www-form-urlencoded"),
                              ("Transfer-Encoding", "chunked")], raw))
        self.assertEqual(out["fields"], {"name": ["chunked"], "lang": ["go"]})

    def test_json_request_and_response(self):
        payload = {"numbers": [1, 2, 3.5], "name": "\u00e9t\u00e9", "nested": {"a": [None, True]}}
        out = self.json_of(self.request("POST", "/json", [("Content-Type", "application/json")],
                                        json.dumps(payload).encode()), status=201)
        self.assertEqual(out, {"received": payload, "total": 6.5})

    def test_cookies_set_and_read_back(self):
        resp = self.request("GET", "/cookie/set")
        self.assertEqual(resp.status, 200, resp)
        pairs = cookie_pairs(resp)
        # Each cookie keeps its own Set-Cookie header (never folded into one).
        self.assertEqual(len(pairs), 2, resp.headers)
        self.assertTrue(any(p.startswith("flavour=") for p in pairs), pairs)
        expected = {"flavour": "oatmeal raisin", "user": "alice"}
        out = self.json_of(self.request("GET", "/cookie/get", [("Cookie", "; ".join(pairs))]))
        self.assertEqual(out, expected)
        # The same cookies in separate Cookie headers (as HTTP/2-to-1 proxies send them).
        out = self.json_of(self.request("GET", "/cookie/get", [("Cookie", p) for p in pairs]))
        self.assertEqual(out, expected)
        out = self.json_of(self.request("GET", "/cookie/get"))
        self.assertEqual(out, {"flavour": None, "user": None})

    def test_streaming_response(self):
        resp = self.request("GET", "/stream?n=200")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"".join(b"line %d\n" % i for i in range(200)))
        self.assertEqual((resp.header("Transfer-Encoding") or "").lower(), "chunked")
        self.assertIsNone(resp.header("Content-Length"))

    def test_streaming_response_http10(self):
        resp = self.server.request("GET", "/stream?n=20", version="HTTP/1.0")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"".join(b"line %d\n" % i for i in range(20)))

    def test_keep_alive_mix(self):
        with self.server.connect() as sock:
            for _ in range(3):
                send_request(sock, "GET", "/hello/again")
                self.assertEqual(read_response(sock).body, b"Hello, again!")
                send_request(sock, "GET", "/stream?n=3")
                self.assertEqual(read_response(sock).body, b"line 0\nline 1\nline 2\n")
                send_request(sock, "POST", "/json", [("Content-Type", "application/json")],
                             b'{"numbers": [2, 2]}')
                resp = read_response(sock)
                self.assertEqual(resp.status, 201)
                self.assertEqual(json.loads(resp.body)["total"], 4)
                send_request(sock, "GET", "/missing")
                self.assertEqual(read_response(sock).status, 404)


class Flask(FrameworkTests, unittest.TestCase):
    case = "flask_app"


class Bottle(FrameworkTests, unittest.TestCase):
    case = "bottle_app"


if __name__ == "__main__":
    main()
