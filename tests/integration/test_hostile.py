"""What a hostile client tries (security round 2): requests that would make the server hold
memory without bound, block its I/O thread, pass for HTTPS or another client, or read around
deny rules; and the HTTP/1.1 corners of RFC 9112 a conformance suite checks."""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import (IO_TIMEOUT, Server, app_dir, main, read_response,  # noqa: E402
                     send_request, wait_closed)

APP = ("--app", "app:application", "--pythonpath", app_dir("hostile"))
MIB = 1 << 20


def read_all_until_closed(sock, limit=1 << 20, timeout=IO_TIMEOUT):
    """Everything the server sends until it closes (bounded), tolerating a reset at the end."""
    sock.settimeout(timeout)
    out = b""
    while len(out) < limit:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        out += data
    return out


def status_of(raw):
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


class HostileBodies(unittest.TestCase):
    """Each unbounded form, 32 MiB of it: a 4xx, and resident memory that does not follow."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP, "--max-body", "1M")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def flood(self, head, filler, total=32 * MIB):
        """Sends `head`, then `filler` repeatedly up to `total` bytes or until the server stops
        reading; returns what the server answered."""
        s = self.server.connect()
        answer = {}

        def reader():
            answer["raw"] = read_all_until_closed(s)

        t = threading.Thread(target=reader)
        t.start()
        sent = 0
        try:
            s.sendall(head)
            block = filler * max(1, 65536 // len(filler))
            while sent < total:
                s.sendall(block)
                sent += len(block)
        except OSError:
            pass  # the server answered and closed: the rest is refused
        t.join(IO_TIMEOUT)
        s.close()
        return answer.get("raw", b""), sent

    def check_bounded(self, head, filler):
        self.server.request("GET", "/")  # warm: the first request allocates the parser's pools
        before = self.server.rss_kib()
        raw, sent = self.flood(head, filler)
        after = self.server.rss_kib()
        status = status_of(raw)
        self.assertIsNotNone(status, raw[:200])
        self.assertTrue(400 <= status < 500, raw[:200])
        self.assertLess(after - before, 8 * 1024, "RSS grew by %d KiB" % (after - before))
        # And the server still serves.
        self.assertEqual(self.server.request("GET", "/").body, b"ok")
        return status, sent

    def chunked_head(self):
        return (b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")

    def test_endless_chunk_extension(self):
        self.check_bounded(self.chunked_head() + b"5;x=", b"a")

    def test_endless_chunk_size_digits(self):
        self.check_bounded(self.chunked_head() + b"000", b"0")

    def test_endless_trailer_field(self):
        self.check_bounded(self.chunked_head() + b"3\r\nabc\r\n0\r\nX-Trailer: ", b"a")

    def test_endless_header_field(self):
        status, _ = self.check_bounded(b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: ", b"a")
        self.assertEqual(status, 431)

    def test_endless_request_line(self):
        status, _ = self.check_bounded(b"GET /", b"a")
        self.assertEqual(status, 414)

    def test_body_past_max_body(self):
        status, _ = self.check_bounded(
            b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (64 * MIB), b"a")
        self.assertEqual(status, 413)

    def test_chunked_body_past_max_body(self):
        status, _ = self.check_bounded(self.chunked_head(), b"10000\r\n" + b"a" * 65536 + b"\r\n")
        self.assertEqual(status, 413)

    def test_many_header_fields(self):
        # Each field costs the parser an allocation: past 256 fields the head is refused.
        r = self.server.request("GET", "/", headers=[("X-%d" % i, "1") for i in range(300)])
        self.assertEqual(r.status, 431)


class NeverBlocks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP, "--io-timeout", "3", "--log-level", "debug")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_client_pipelining_expect_continue_without_reading_stalls_no_one(self):
        # Clients pipeline requests that each ask for "100 Continue" and never read: once their
        # receive buffers and our send buffers are full, the next write must wait without the
        # I/O thread (a blocking write there froze every client). Each response is about 1 KiB,
        # so the buffers fill after a few thousand requests.
        one = (b"POST /env HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
               b"Content-Length: 1\r\n\r\nx")
        mark = self.server.log_mark()
        stuck = []
        for _ in range(2):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
            s.connect(("127.0.0.1", self.server.port))
            s.setblocking(False)
            sent = 0
            try:
                while sent < 2 * MIB:
                    sent += s.send(one * 512)
            except BlockingIOError:
                pass
            stuck.append(s)
        # Everyone else is served meanwhile.
        for _ in range(5):
            t0 = time.monotonic()
            self.assertEqual(self.server.request("GET", "/").body, b"ok")
            self.assertLess(time.monotonic() - t0, 5.0)
        # Each stuck connection is cut after --io-timeout without progress (none has read a
        # byte).
        for _ in stuck:
            line = self.server.wait_for_log(r"connection from 127\.0\.0\.1 closed: no progress",
                                            start=mark, timeout=120)
            self.assertIsNotNone(line)
            mark = self.server.lines.index(line, mark) + 1
        for s in stuck:
            s.close()

    def test_slow_head_gets_408(self):
        with Server(*APP, "--header-timeout", "1") as srv:
            s = srv.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
            raw = read_all_until_closed(s)
            self.assertEqual(status_of(raw), 408, raw)
            s.close()
            # On a keep-alive connection's second request too.
            s = srv.connect()
            send_request(s, "GET", "/")
            self.assertEqual(read_response(s).status, 200)
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            raw = read_all_until_closed(s)
            self.assertEqual(status_of(raw), 408, raw)
            s.close()


class Conformance(unittest.TestCase):
    """RFC 9112 corners."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def raw(self, data):
        with self.server.connect() as s:
            s.sendall(data)
            return read_all_until_closed(s)

    def test_big_header_is_431_not_414(self):
        r = self.server.request("GET", "/", headers=[("X-Big", "a" * 200 * 1024)])
        self.assertEqual(r.status, 431)

    def test_transfer_codings_other_than_chunked_are_501(self):
        for te in ["gzip, chunked", "gzip", "deflate,chunked", "chunked;x=1"]:
            raw = self.raw(b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + te.encode() +
                           b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            self.assertIn(status_of(raw), (400, 501), te)
        raw = self.raw(b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                       b"5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(status_of(raw), 501)
        raw = self.raw(b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                       b"5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(status_of(raw), 400)
        raw = self.raw(b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n"
                       b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(status_of(raw), 200)
        self.assertTrue(raw.endswith(b"5"), raw)

    def test_empty_lines_before_the_request_line_are_ignored(self):
        raw = self.raw(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(raw), 200)
        # Not without bound: an endless stream of empty lines is a bad request.
        raw = self.raw(b"\r\n" * 64 + b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(status_of(raw), 400)

    def test_absolute_form_authority_replaces_host(self):
        r = self.server.request("GET", "http://target.example:8080/env?q=1",
                                headers=[("Host", "header.example")])
        self.assertEqual(r.status, 200)
        env = json.loads(r.body)
        self.assertEqual(env["HTTP_HOST"], "target.example:8080")
        self.assertEqual(env["SERVER_NAME"], "target.example")
        self.assertEqual(env["PATH_INFO"], "/env")
        self.assertEqual(env["QUERY_STRING"], "q=1")
        for bad in ["s://]x/", "http://]x/", "http://a b/", "http://user@host/", "http:///x",
                    "ftp://h/x", "http://h:99999/"]:
            r = self.server.request("GET", bad, headers=[("Host", "h")])
            self.assertEqual(r.status, 400, bad)

    def test_invalid_host_header_is_400(self):
        for bad in ["a b", "x/y", "[::1", "h:port", "a@b"]:
            r = self.server.request("GET", "/", headers=[("Host", bad)])
            self.assertEqual(r.status, 400, bad)
        for good in ["example.com", "example.com:8080", "[::1]:80", "127.0.0.1", "my_host"]:
            r = self.server.request("GET", "/", headers=[("Host", good)])
            self.assertEqual(r.status, 200, good)

    def test_options_asterisk(self):
        r = self.server.request("OPTIONS", "*")
        self.assertEqual(r.status, 200)
        self.assertIn("GET", r.header("Allow"))
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(self.server.request("GET", "*").status, 400)

    def test_bare_lf_is_400_not_505(self):
        raw = self.raw(b"GET / HTTP/1.1\n\r\nHost: h\r\n\r\n")
        self.assertEqual(status_of(raw), 400)
        raw = self.raw(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n")
        self.assertEqual(status_of(raw), 505)

    def test_interim_status_from_the_app_is_a_500(self):
        # Pipelined: a 1xx taken as the response would shift every response after it.
        with self.server.connect() as s:
            send_request(s, "GET", "/status/100")
            send_request(s, "GET", "/status/204")
            r = read_response(s, skip_continue=False)
            self.assertEqual(r.status, 500)
            r = read_response(s, skip_continue=False)
            self.assertEqual(r.status, 204)
        self.assertEqual(self.server.request("GET", "/status/600").status, 500)
        self.assertEqual(self.server.request("GET", "/status/599").status, 599)


class HeaderNames(unittest.TestCase):
    """One header-name policy for every application: only letters, digits and '-'."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP, "--trusted-proxy", "127.0.0.1")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_names_with_other_characters_never_reach_the_application(self):
        r = self.server.request("GET", "/env", headers=[
            ("X-Forwarded.Proto", "https"), ("X_Forwarded_For", "1.2.3.4"),
            ("X-Forwarded~For", "1.2.3.4"), ("X.Real.IP", "1.2.3.4"), ("X-Plain-Name", "kept"),
            ("Accept9", "kept")])
        env = json.loads(r.body)
        self.assertEqual(env.get("HTTP_X_PLAIN_NAME"), "kept")
        self.assertEqual(env.get("HTTP_ACCEPT9"), "kept")
        for key in env:
            self.assertNotIn(".", key)
            self.assertNotIn("~", key)
        self.assertNotIn("HTTP_X_FORWARDED_FOR", env)
        self.assertNotIn("HTTP_X_FORWARDED_PROTO", env)

    def test_status_page_is_not_for_proxied_requests(self):
        # A reverse proxy on this host connects from loopback: what it forwards is not local.
        self.assertEqual(self.server.request("GET", "/server-status").status, 200)
        r = self.server.request("GET", "/server-status",
                                headers=[("X-Forwarded-For", "203.0.113.9")])
        self.assertEqual(r.body, b"ok")  # the application's, not the status page
        r = self.server.request("GET", "/server-status",
                                headers=[("Forwarded", "for=203.0.113.9")])
        self.assertEqual(r.body, b"ok")


class RepeatedHeaders(unittest.TestCase):
    def test_repeated_headers_are_joined(self):
        with Server(*APP, "--max-header", "1M") as srv:
            # 255 fields (the most a head may have) of one name, joined for the environ.
            headers = [("X-Rep", "v%d" % i) for i in range(250)]
            r = srv.request("GET", "/env", headers=headers)
            env = json.loads(r.body)
            self.assertEqual(env["HTTP_X_REP"], ", ".join("v%d" % i for i in range(250)))


if __name__ == "__main__":
    main()
