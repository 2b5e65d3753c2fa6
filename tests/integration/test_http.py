"""HTTP/1.1 behaviour of the real binary: keep-alive, pipelining, framing, limits, smuggling,
timeouts and graceful shutdown."""

import json
import os
import signal
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import Server, app_dir, main, read_response, send_request, wait_closed  # noqa: E402


class HttpBasics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                            "--max-body", "1M")

    @classmethod
    def tearDownClass(cls):
        cls.assertEqual(cls, cls.server.stop(), 0) if False else cls.server.stop()

    def test_get_has_date_server_and_length(self):
        r = self.server.request("GET", "/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"hello /x")
        self.assertIsNotNone(r.header("Date"))
        self.assertEqual(r.header("Server"), "w2pserve")
        self.assertEqual(r.header("Content-Length"), "8")

    def test_head_has_no_body(self):
        with self.server.connect() as s:
            send_request(s, "HEAD", "/x")
            r = read_response(s, method="HEAD")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Length"), "8")
            # The connection is still usable: nothing was sent after the head.
            send_request(s, "GET", "/y")
            self.assertEqual(read_response(s).body, b"hello /y")

    def test_keep_alive_and_pipelining_in_order(self):
        with self.server.connect() as s:
            batch = b"".join(
                b"GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(20)
            )
            s.sendall(batch)
            for i in range(20):
                r = read_response(s)
                self.assertEqual(r.body, b"hello /p%d" % i)
            send_request(s, "GET", "/last", close=True)
            self.assertEqual(read_response(s).body, b"hello /last")
            self.assertTrue(wait_closed(s))

    def test_http10_closes_unless_keep_alive(self):
        with self.server.connect() as s:
            s.sendall(b"GET /a HTTP/1.0\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.version, "HTTP/1.0")
            self.assertEqual(r.body, b"hello /a")
            self.assertTrue(wait_closed(s))
        with self.server.connect() as s:
            s.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.header("Connection").lower(), "keep-alive")
            s.sendall(b"GET /b HTTP/1.0\r\n\r\n")
            self.assertEqual(read_response(s).body, b"hello /b")

    def test_connection_close_is_honoured(self):
        with self.server.connect() as s:
            send_request(s, "GET", "/c", close=True)
            r = read_response(s)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(wait_closed(s))

    def test_chunked_request_body(self):
        with self.server.connect() as s:
            s.sendall(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
            )
            r = read_response(s)
            data = json.loads(r.body)
            self.assertEqual(data["received"], 11)
            self.assertEqual(data["length"], "11")

    def test_expect_100_continue(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            interim = read_response(s, skip_continue=False)
            self.assertEqual(interim.status, 100)
            s.sendall(b"data")
            r = read_response(s)
            self.assertEqual(json.loads(r.body)["received"], 4)

    def test_unknown_expectation_is_417(self):
        r = self.server.request("POST", "/echo", headers=[("Expect", "magic")], body=b"x")
        self.assertEqual(r.status, 417)

    def test_response_without_length_is_chunked(self):
        with self.server.connect() as s:
            send_request(s, "GET", "/nolength")
            r = read_response(s)
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertEqual(r.body, b"".join(b"block%d\n" % i for i in range(5)))
            send_request(s, "GET", "/after")
            self.assertEqual(read_response(s).body, b"hello /after")

    def test_http10_response_without_length_is_close_delimited(self):
        with self.server.connect() as s:
            s.sendall(b"GET /nolength HTTP/1.0\r\n\r\n")
            r = read_response(s)
            self.assertIsNone(r.header("Transfer-Encoding"))
            self.assertEqual(r.body, b"".join(b"block%d\n" % i for i in range(5)))

    def test_query_and_raw_uri(self):
        r = self.server.request("GET", "/echo?a=1&b=%20")
        data = json.loads(r.body)
        self.assertEqual(data["query"], "a=1&b=%20")
        self.assertEqual(data["uri"], "/echo?a=1&b=%20")

    def test_malformed_request_is_400(self):
        for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
                    b"GET / HTTP/1.1\r\n\r\n"]:  # HTTP/1.1 without Host
            with self.server.connect() as s:
                s.sendall(raw)
                r = read_response(s)
                self.assertEqual(r.status, 400, raw)
                self.assertTrue(wait_closed(s))

    def test_bad_version_is_505(self):
        with self.server.connect() as s:
            s.sendall(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n")
            r = read_response(s)
            self.assertIn(r.status, (505, 400))
            self.assertTrue(wait_closed(s))

    def test_body_over_limit_is_413(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
            r = read_response(s)
            self.assertEqual(r.status, 413)
            self.assertTrue(wait_closed(s))

    def test_chunked_body_over_limit_is_413(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
            try:
                for _ in range(40):
                    s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = read_response(s)
            self.assertEqual(r.status, 413)

    def test_long_uri_is_414(self):
        with self.server.connect() as s:
            s.sendall(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(s).status, 414)
        with self.server.connect() as s:
            s.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(s).status, 414)

    def test_huge_headers_are_431(self):
        with self.server.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n" +
                      b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(80)) + b"\r\n")
            self.assertEqual(read_response(s).status, 431)

    def test_smuggling_cl_and_te_is_rejected(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.status, 400)
            self.assertTrue(wait_closed(s))

    def test_smuggling_two_lengths_is_rejected(self):
        for second in (b"5", b"4"):
            with self.server.connect() as s:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                          b"Content-Length: " + second + b"\r\n\r\nabcde")
                r = read_response(s)
                self.assertEqual(r.status, 400)
                self.assertTrue(wait_closed(s))

    def test_unknown_transfer_encoding_is_rejected(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n")
            r = read_response(s)
            self.assertIn(r.status, (400, 501))
            self.assertTrue(wait_closed(s))

    def test_obfuscated_transfer_encoding_is_rejected(self):
        with self.server.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n")
            r = read_response(s)
            self.assertIn(r.status, (400, 501))

    def test_underscore_headers_do_not_reach_the_app(self):
        r = self.server.request("GET", "/echo", headers=[("X_Forwarded_For", "6.6.6.6"),
                                                         ("X-Real", "ok")])
        headers = json.loads(r.body)["headers"]
        self.assertEqual(headers.get("HTTP_X_REAL"), "ok")
        self.assertNotIn("HTTP_X_FORWARDED_FOR", headers)

    def test_request_line_with_control_chars_is_400(self):
        with self.server.connect() as s:
            s.sendall(b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(s).status, 400)
        r = self.server.request("GET", "/a%00b")
        self.assertEqual(r.status, 400)

    def test_many_sequential_connections(self):
        for i in range(200):
            r = self.server.request("GET", "/n%d" % i)
            self.assertEqual(r.body, b"hello /n%d" % i)


class Listeners(unittest.TestCase):
    def test_ipv6_and_second_listener(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6 on this machine")
        with Server("--listen", "[::1]:0", "--app", "app:application",
                    "--pythonpath", app_dir("basic")) as srv:
            line = srv.wait_for_log(r"listening on http://\[::1\]:\d+")
            self.assertIsNotNone(line)
            port = int(line.rsplit(":", 1)[1])
            with socket.create_connection(("::1", port), timeout=30) as s:
                send_request(s, "GET", "/v6", close=True)
                self.assertEqual(read_response(s).body, b"hello /v6")
            self.assertEqual(srv.request("GET", "/v4").body, b"hello /v4")


class Timeouts(unittest.TestCase):
    def test_slow_header_is_cut_and_others_still_served(self):
        with Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                    "--header-timeout", "1", "--keepalive-timeout", "1") as srv:
            slow = srv.connect()
            slow.sendall(b"GET / HTTP/1.1\r\nHost")
            # Meanwhile another client is served.
            self.assertEqual(srv.request("GET", "/ok").status, 200)
            self.assertTrue(wait_closed(slow, timeout=30))
            slow.close()
            # An idle keep-alive connection is closed after its timeout.
            idle = srv.connect()
            send_request(idle, "GET", "/x")
            self.assertEqual(read_response(idle).status, 200)
            self.assertTrue(wait_closed(idle, timeout=30))
            idle.close()


class Shutdown(unittest.TestCase):
    def test_sigterm_finishes_in_flight_request_and_exits_0(self):
        srv = Server("--app", "app:application", "--pythonpath", app_dir("basic"))
        try:
            s = srv.connect()
            send_request(s, "GET", "/slow", headers=[("Host", "t")])
            self.assertIsNotNone(srv.wait_for_log("slow request started"))
            srv.proc.send_signal(signal.SIGTERM)
            self.assertIsNotNone(srv.wait_for_log("stopping"))
            r = read_response(s)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"slow done")
            self.assertEqual(r.header("Connection"), "close")
            s.close()
            self.assertEqual(srv.proc.wait(timeout=60), 0)
            # New connections are refused once stopping.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
        finally:
            srv.stop()

    def test_sigint_on_idle_server_exits_0(self):
        srv = Server("--app", "app:application", "--pythonpath", app_dir("basic"))
        idle = srv.connect()
        self.assertEqual(srv.stop(signal.SIGINT), 0)
        self.assertTrue(wait_closed(idle))
        idle.close()


if __name__ == "__main__":
    main()
