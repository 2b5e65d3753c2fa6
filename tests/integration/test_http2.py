"""HTTP/2 with prior knowledge on a plain listener (--h2c): real clients from Debian (curl,
h2load) and Python's h2 (python3-h2) for exact frames and the hostile cases."""

import gzip
import hashlib
import json
import os
import signal
import shutil
import socket
import select
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, app_dir, main, wait_until  # noqa: E402

APP = ("--app", "app:application", "--pythonpath", app_dir("h2"))
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


class GracefulGoawayMachine(h2.connection.H2ConnectionStateMachine):
    """python3-h2 (4.1) ends the connection when a GOAWAY arrives, and fails on the frames of
    streams still in flight; RFC 9113 6.8 says streams up to its last-stream-id go on. This one
    stays open to read them (the client sends no new request after a GOAWAY)."""
    _transitions = dict(h2.connection.H2ConnectionStateMachine._transitions)
    _transitions[(h2.connection.ConnectionState.CLIENT_OPEN,
                  h2.connection.ConnectionInputs.RECV_GOAWAY)] = (
        None, h2.connection.ConnectionState.CLIENT_OPEN)


class H2Client:
    """One HTTP/2 connection spoken with python3-h2 over a blocking socket."""

    def __init__(self, port, settings=None, window=None, graceful_goaway=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        if graceful_goaway:
            self.conn.state_machine = GracefulGoawayMachine()
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.streams = {}  # id -> {"status", "headers", "body", "ended", "reset"}
        self.goaway = None
        self.closed = False
        self.window = window

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), body=None, authority="localhost"):
        sid = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", authority), *headers]
        self.conn.send_headers(sid, head, end_stream=body is None)
        self.streams[sid] = {"status": None, "headers": [], "body": b"", "ended": False,
                             "reset": None}
        self.flush()
        if body is not None:
            self.send_body(sid, body)
        return sid

    def send_body(self, sid, body):
        sent = 0
        while sent < len(body):
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room == 0:
                self.pump()
                continue
            chunk = body[sent:sent + room]
            self.conn.send_data(sid, chunk)
            sent += len(chunk)
            self.flush()
        self.conn.end_stream(sid)
        self.flush()

    def pump(self):
        """Reads once and handles what arrived; False when the server closed."""
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            s = self.streams.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived):
                s["headers"] = event.headers
                s["status"] = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.DataReceived):
                s["body"] += event.data
                if self.window is None:
                    self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                        event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                s["ended"] = True
            elif isinstance(event, h2.events.StreamReset):
                if s is not None:
                    s["reset"] = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event
        self.flush()
        return True

    def response(self, sid):
        s = self.streams[sid]
        while not s["ended"] and s["reset"] is None:
            if not self.pump():
                break
        return s

    def close(self):
        self.sock.close()


def curl(*args):
    return subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--max-time",
                           str(int(IO_TIMEOUT)), *args], capture_output=True, timeout=IO_TIMEOUT + 5)


def frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


class RawH2:
    """Frames written by hand (python3-h2 will not send malformed sequences) and the server's
    frames read back, its header blocks decoded in order."""
    HEADERS, RST_STREAM, GOAWAY, CONTINUATION = 1, 3, 7, 9

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buf = b""

    def send(self, data):
        """False when the server has already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def next_frame(self):
        """(type, flags, stream, payload), or None once the server closed."""
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.buf += data
        n = int.from_bytes(self.buf[:3], "big")
        f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF,
             self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        if f[0] == self.HEADERS:
            f = (f[0], f[1], f[2], dict(self.decoder.decode(f[3])))
        return f

    def close(self):
        self.sock.close()


PSEUDO = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]


class Http2Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.static = os.path.join(cls.tmp, "static")
        os.mkdir(cls.static)
        cls.blob = os.urandom(300000)
        with open(os.path.join(cls.static, "blob.bin"), "wb") as f:
            f.write(cls.blob)
        cls.text = b"a page of text, compressed beside itself\n" * 200
        with open(os.path.join(cls.static, "page.txt"), "wb") as f:
            f.write(cls.text)
        with open(os.path.join(cls.static, "page.txt.gz"), "wb") as f:
            f.write(gzip.compress(cls.text))
        cls.log = os.path.join(cls.tmp, "access.log")
        cls.server = Server(*APP, "--h2c", "--static", "/s=" + cls.static, "--access-log", cls.log,
                            "--x-sendfile", cls.static, "--x-accel", "/protected=" + cls.static)
        cls.base = "http://127.0.0.1:%d" % cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_curl_speaks_http2_and_http11_on_the_same_port(self):
        r = curl("-D", "-", self.base + "/")
        self.assertTrue(r.stdout.startswith(b"HTTP/2 200"), r.stdout)
        self.assertTrue(r.stdout.endswith(b"hello over HTTP/2"), r.stdout)
        r = subprocess.run(["curl", "-s", "--http1.1", self.base + "/"], capture_output=True,
                           timeout=IO_TIMEOUT)
        self.assertEqual(r.stdout, b"hello over HTTP/1.1")

    def test_environ_says_http2_and_authority_is_the_host(self):
        c = H2Client(self.server.port)
        sid = c.request("/env", authority="example.test:8443",
                        headers=[("x-custom", "1"), ("x-custom", "2"), ("cookie", "a=1"),
                                 ("cookie", "b=2")])
        s = c.response(sid)
        c.close()
        self.assertEqual(s["status"], 200)
        env = json.loads(s["body"])
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/2")
        self.assertEqual(env["HTTP_HOST"], "example.test:8443")
        self.assertEqual(env["REQUEST_METHOD"], "GET")
        self.assertEqual(env["HTTP_X_CUSTOM"], "1, 2")  # joined as HTTP/1.1 would
        self.assertEqual(env["HTTP_COOKIE"], "a=1; b=2")  # RFC 9113 8.2.3

    def test_no_connection_specific_header_ever_reaches_the_client(self):
        c = H2Client(self.server.port)
        for path in ("/", "/s/blob.bin", "/env", "/stream?2", "/missing"):
            s = c.response(c.request(path))
            names = {n for n, _ in s["headers"]}
            self.assertFalse(names & HOP_BY_HOP, (path, s["headers"]))
        c.close()

    def test_static_files_ranges_conditionals_and_head(self):
        c = H2Client(self.server.port)
        s = c.response(c.request("/s/blob.bin"))
        self.assertEqual(s["status"], 200)
        self.assertEqual(s["body"], self.blob)
        etag = dict(s["headers"])["etag"]
        s = c.response(c.request("/s/blob.bin", headers=[("range", "bytes=1000-1999")]))
        self.assertEqual(s["status"], 206)
        self.assertEqual(s["body"], self.blob[1000:2000])
        self.assertEqual(dict(s["headers"])["content-range"], "bytes 1000-1999/300000")
        s = c.response(c.request("/s/blob.bin", headers=[("if-none-match", etag)]))
        self.assertEqual((s["status"], s["body"]), (304, b""))
        s = c.response(c.request("/s/blob.bin", method="HEAD"))
        self.assertEqual((s["status"], s["body"]), (200, b""))
        self.assertEqual(dict(s["headers"])["content-length"], "300000")
        c.close()

    def test_static_multipart_ranges_and_encoded_variants(self):
        # Served by the HTTP/2 layer itself: the same plan as over HTTP/1.1, read from the file.
        c = H2Client(self.server.port)
        s = c.response(c.request("/s/blob.bin", headers=[("range", "bytes=0-9,200000-200009")]))
        self.assertEqual(s["status"], 206)
        ctype = dict(s["headers"])["content-type"]
        self.assertTrue(ctype.startswith("multipart/byteranges; boundary="), ctype)
        boundary = ctype.split("boundary=")[1].encode()
        parts = [p for p in s["body"].split(b"--" + boundary) if p.strip(b"\r\n-")]
        self.assertEqual(len(parts), 2, s["body"][:300])
        self.assertTrue(parts[0].endswith(b"\r\n\r\n" + self.blob[0:10] + b"\r\n"))
        self.assertTrue(parts[1].endswith(b"\r\n\r\n" + self.blob[200000:200010] + b"\r\n"))
        self.assertEqual(len(s["body"]), int(dict(s["headers"])["content-length"]))
        s = c.response(c.request("/s/page.txt", headers=[("accept-encoding", "gzip")]))
        self.assertEqual(dict(s["headers"]).get("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(s["body"]), self.text)
        s = c.response(c.request("/s/page.txt"))
        self.assertNotIn("content-encoding", dict(s["headers"]))
        self.assertEqual(s["body"], self.text)
        s = c.response(c.request("/s/blob.bin", headers=[("range", "bytes=400000-")]))
        self.assertEqual(s["status"], 416)
        s = c.response(c.request("/s/missing.bin"))
        self.assertEqual(s["status"], 404)
        c.close()

    def test_a_file_that_shrinks_while_sent_resets_its_stream_only(self):
        path = os.path.join(self.static, "shrinks.bin")
        with open(path, "wb") as f:
            f.write(self.blob)
        # The client's window holds the response at 64 KiB; the file is cut meanwhile.
        c = H2Client(self.server.port, window=0)
        sid = c.request("/s/shrinks.bin")
        while len(c.streams[sid]["body"]) < 65535 and c.pump():
            pass
        self.assertEqual(c.streams[sid]["status"], 200)
        os.truncate(path, 70000)
        c.conn.acknowledge_received_data(65535, sid)
        c.flush()
        s = c.response(sid)
        self.assertIsNotNone(s["reset"], (s["ended"], len(s["body"])))
        self.assertFalse(s["ended"])
        other = c.request("/s/page.txt")
        c.window = None
        self.assertEqual(c.response(other)["body"], self.text)  # the connection goes on
        c.close()

    def test_request_bodies_with_and_without_length(self):
        body = os.urandom(1 << 20)
        c = H2Client(self.server.port)
        for headers in ([("content-length", str(len(body)))], []):
            s = c.response(c.request("/echo", method="POST", headers=headers, body=body))
            got = json.loads(s["body"])
            self.assertEqual(got["len"], len(body), headers)
            self.assertEqual(got["sha256"], hashlib.sha256(body).hexdigest())
        c.close()

    def test_many_streams_at_once_each_complete(self):
        c = H2Client(self.server.port)
        sids = [c.request("/stream?32") for _ in range(20)] + [c.request("/s/blob.bin")
                                                              for _ in range(20)]
        for sid in sids:
            s = c.response(sid)
            self.assertEqual(s["status"], 200)
            if len(s["body"]) != len(self.blob):
                self.assertEqual(s["body"], b"".join(bytes([i]) * 16384 for i in range(32)))
            else:
                self.assertEqual(s["body"], self.blob)
        c.close()

    def test_h2load_multiplexed_load_all_succeed(self):
        r = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10",
                            self.base + "/s/blob.bin"], capture_output=True, timeout=120)
        self.assertIn(b"2000 succeeded, 0 failed, 0 errored", r.stdout, r.stdout)

    def test_a_response_cut_short_is_reset_not_ended(self):
        c = H2Client(self.server.port)
        s = c.response(c.request("/cut"))
        c.close()
        self.assertIsNotNone(s["reset"], s)
        self.assertFalse(s["ended"])
        self.assertLess(len(s["body"]), 100000)

    def test_file_wrapper_and_head_requests_to_the_application(self):
        c = H2Client(self.server.port)
        blob = os.path.join(self.static, "blob.bin")
        s = c.response(c.request("/wrapped?" + blob))
        self.assertEqual((s["status"], s["body"]), (200, self.blob))
        self.assertEqual(dict(s["headers"])["content-length"], str(len(self.blob)))
        s = c.response(c.request("/wrapped?" + blob, method="HEAD"))
        self.assertEqual((s["status"], s["body"], s["ended"]), (200, b"", True))
        self.assertEqual(dict(s["headers"])["content-length"], str(len(self.blob)))
        s = c.response(c.request("/stream?3", method="HEAD"))  # streamed: no length, no body
        self.assertEqual((s["status"], s["body"], s["ended"]), (200, b"", True))
        c.close()

    def test_header_values_padded_by_the_application_are_trimmed(self):
        # HTTP/2 forbids whitespace around a value (clients reset such a stream: python3-h2
        # raises); HTTP/1.1 parsers drop it, so applications (web2py) send it.
        c = H2Client(self.server.port)
        s = c.response(c.request("/padded"))
        c.close()
        headers = dict(s["headers"])
        self.assertEqual((s["status"], s["body"]), (200, b"padded"))
        self.assertEqual(headers["set-cookie"], "session_id_x=1; Path=/")
        self.assertEqual(headers["x-padded"], "value")
        r = curl("-H", "accept-encoding: gzip", "-o", "/dev/null", "-w", "%{http_code}",
                 self.base + "/padded")
        self.assertEqual(r.stdout, b"200")

    def test_x_sendfile_redirects_and_the_status_page(self):
        c = H2Client(self.server.port)
        s = c.response(c.request("/sendfile?" + os.path.join(self.static, "blob.bin")))
        self.assertEqual((s["status"], s["body"]), (200, self.blob))
        headers = dict(s["headers"])
        self.assertEqual(headers["content-length"], str(len(self.blob)))
        self.assertNotIn("x-sendfile", headers)
        # A file outside the --x-sendfile folders: refused as over HTTP/1.1.
        s = c.response(c.request("/sendfile?/etc/passwd"))
        self.assertEqual(s["status"], 500)
        self.assertNotIn(b"root:", s["body"])
        s = c.response(c.request("/accel"))  # X-Accel-Redirect: an internal URL
        self.assertEqual((s["status"], s["body"]), (200, self.text))
        # The routing's own refusal (a POST to a static mapping), its body left unread: as over
        # HTTP/1.1, and the connection goes on.
        s = c.response(c.request("/s/page.txt", method="POST", body=b"x" * 100000))
        self.assertEqual((s["status"], dict(s["headers"]).get("allow")), (405, "GET, HEAD"))
        h1 = self.server.request("POST", "/s/page.txt", body=b"x")
        self.assertEqual((h1.status, h1.header("Allow")), (405, "GET, HEAD"))
        s = c.response(c.request("/see-other"))  # the application's redirect
        self.assertEqual((s["status"], dict(s["headers"])["location"]), (303, "/env"))
        s = c.response(c.request("/s"))  # the server's own: a folder without its slash
        self.assertEqual((s["status"], dict(s["headers"])["location"]), (301, "/s/"))
        s = c.response(c.request("/server-status"))
        self.assertEqual(s["status"], 200)
        self.assertIn("in_flight_requests", json.loads(s["body"]))
        c.close()

    def test_access_log_names_the_protocol(self):
        c = H2Client(self.server.port)
        c.response(c.request("/?logged"))  # the application, through a Session
        c.response(c.request("/s/page.txt?logged", headers=[("user-agent", "h2-agent")]))
        c.close()
        # Lines are written when a stream ends, after the response.
        wanted = ['"GET /?logged HTTP/2.0" 200',
                  '"GET /s/page.txt?logged HTTP/2.0" 200 %d "-" "h2-agent"' % len(self.text)]
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log) as f:
                text = f.read()
            if all(w in text for w in wanted):
                return
            time.sleep(0.05)
        self.fail("no HTTP/2.0 access-log lines: " + text)


class Http2OverTls(unittest.TestCase):
    """ALPN: h2 offered first on TLS listeners by default, as lighttpd does; --no-http2 off."""

    @classmethod
    def setUpClass(cls):
        from test_tls import make_pki
        cls.tmp = tempfile.mkdtemp(prefix="w2p-h2tls-")
        make_pki(cls.tmp)
        cls.blob = os.urandom(2 * 1024 * 1024 + 3)
        os.mkdir(os.path.join(cls.tmp, "www"))
        with open(os.path.join(cls.tmp, "www", "big.bin"), "wb") as f:
            f.write(cls.blob)
        cls.tls = ("--tls-cert", os.path.join(cls.tmp, "server.pem"), "--tls-key",
                   os.path.join(cls.tmp, "server.key"), "--static", "/s=" + os.path.join(cls.tmp, "www"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def curl(self, port, *args):
        return subprocess.run(["curl", "-s", "--cacert", os.path.join(self.tmp, "ca.pem"),
                               "--max-time", str(int(IO_TIMEOUT)), *args,
                               "https://127.0.0.1:%d/" % port], capture_output=True,
                              timeout=IO_TIMEOUT + 5)

    def test_alpn_h2_by_default_http11_still_served(self):
        with Server(*APP, *self.tls) as srv:
            r = self.curl(srv.port, "--http2", "-D", "-")
            self.assertTrue(r.stdout.startswith(b"HTTP/2 200"), r.stdout)
            self.assertTrue(r.stdout.endswith(b"hello over HTTP/2"))
            r = self.curl(srv.port, "--http1.1")
            self.assertEqual(r.stdout, b"hello over HTTP/1.1")
            # A real HTTP/2 client on the TLS stream: environ and a large file.
            ctx = ssl.create_default_context(cafile=os.path.join(self.tmp, "ca.pem"))
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            raw = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            self.assertEqual(tls.selected_alpn_protocol(), "h2")
            c = H2Client.__new__(H2Client)
            c.sock, c.window, c.goaway, c.closed, c.streams = tls, None, None, False, {}
            c.conn = h2.connection.H2Connection(
                config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
            c.conn.initiate_connection()
            c.flush()
            env = json.loads(c.response(c.request("/env", authority="localhost"))["body"])
            self.assertEqual((env["SERVER_PROTOCOL"], env["HTTPS"]), ("HTTP/2", "on"))
            self.assertEqual(c.response(c.request("/s/big.bin"))["body"], self.blob)
            c.close()

    def test_no_http2_offers_http11_only(self):
        with Server(*APP, *self.tls, "--no-http2") as srv:
            r = self.curl(srv.port, "--http2", "-D", "-")
            self.assertTrue(r.stdout.startswith(b"HTTP/1.1 200"), r.stdout)


class Http2Off(unittest.TestCase):
    def test_without_h2c_the_preface_is_not_http2(self):
        with Server(*APP) as srv:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 "))
            s.close()
            # No listener speaks HTTP/2: libnghttp2 is not even loaded.
            with open("/proc/%d/maps" % srv.pid) as f:
                self.assertNotIn("libnghttp2", f.read())


class Http2Timeout(unittest.TestCase):
    def test_request_timeout_is_504_on_that_stream_only(self):
        with Server(*APP, "--h2c", "--request-timeout", "1", "--workers", "2") as srv:
            c = H2Client(srv.port)
            slow = c.request("/slow?3")
            fast = c.request("/")
            s = c.response(slow)
            self.assertEqual(s["status"], 504, s)
            self.assertTrue(s["ended"])
            self.assertEqual(c.response(fast)["body"], b"hello over HTTP/2")
            # The connection goes on.
            self.assertEqual(c.response(c.request("/"))["body"], b"hello over HTTP/2")
            c.close()


class Http2Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP, "--h2c", "--io-timeout", "2", "--max-body", "1M")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assert_others_served(self):
        c = H2Client(self.server.port)
        s = c.response(c.request("/"))
        c.close()
        self.assertEqual(s["body"], b"hello over HTTP/2")

    def test_rapid_reset_is_cut_off(self):
        # CVE-2023-44487: streams opened and cancelled in a loop.
        c = H2Client(self.server.port)
        rss = self.server.rss_kib()
        try:
            for _ in range(5000):
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "GET"), (":path", "/"), (":scheme", "http"),
                                          (":authority", "x")], end_stream=True)
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                c.flush()
            while c.pump():
                pass
        except (BrokenPipeError, ConnectionResetError):
            c.closed = True
        c.close()
        self.assertTrue(c.closed or c.goaway is not None)  # cut off, not served on
        grown = self.server.rss_kib() - rss
        print("rapid reset: RSS grew by %d KiB" % grown, file=sys.stderr)
        if not os.environ.get("W2PSERVE_SANITIZED"):  # ASan's quarantine keeps what is freed
            self.assertLess(grown, 8 * 1024)
        self.assert_others_served()

    def test_continuation_flood_is_cut_off(self):
        # CVE-2024-27316 class: a header block that never ends, one CONTINUATION frame after
        # another. nghttp2 stops after a few frames (max_continuations) and the connection is
        # closed, holding none of it.
        with Server(*APP, "--h2c", "--log-level", "debug") as srv:
            c = RawH2(srv.port)
            rss = srv.rss_kib()
            block = c.encoder.encode(PSEUDO + [("x-f%d" % i, "v" * 50) for i in range(3000)])
            sent = 0
            if c.send(frame(RawH2.HEADERS, 0, 1, block[:1000])):
                for at in range(1000, len(block), 100):  # never END_HEADERS
                    if not c.send(frame(RawH2.CONTINUATION, 0, 1, block[at:at + 100])):
                        break
                    sent += 1
            kinds = []
            while (f := c.next_frame()) is not None:  # until the server closes (IO_TIMEOUT)
                kinds.append(f[0])
            c.close()
            self.assertNotIn(RawH2.HEADERS, kinds)  # closed, never answered
            srv.wait_for_log("Too many CONTINUATION frames")
            grown = srv.rss_kib() - rss
            print("CONTINUATION flood: %d frames sent, RSS grew by %d KiB" % (sent, grown),
                  file=sys.stderr)
            if not os.environ.get("W2PSERVE_SANITIZED"):
                self.assertLess(grown, 4 * 1024)
            c = H2Client(srv.port)
            self.assertEqual(c.response(c.request("/"))["body"], b"hello over HTTP/2")
            c.close()

    def test_hpack_bomb_is_refused_without_growing(self):
        # A 4 KiB value put in the header table once, then named 16,000 times in one block: 16
        # KB on the wire, 64 MB once decoded. The header list limit applies to what it decodes
        # to (431), and nothing of it is kept.
        c = RawH2(self.server.port)
        rss = self.server.rss_kib()
        bomb = [("x-bomb", "b" * 4000)]
        c.send(frame(RawH2.HEADERS, 0x5, 1, c.encoder.encode(PSEUDO + bomb)))
        ref = c.encoder.encode(bomb)  # now an index into the table: one byte or two
        c.send(frame(RawH2.HEADERS, 0x5, 3, c.encoder.encode(PSEUDO) + ref * (16000 // len(ref))))
        answers = {}
        while len(answers) < 2 and (f := c.next_frame()) is not None:
            if f[0] == RawH2.HEADERS:
                answers[f[2]] = f[3][":status"]
            elif f[0] in (RawH2.RST_STREAM, RawH2.GOAWAY):
                answers.setdefault(f[2] or 3, b"reset")
        c.close()
        self.assertEqual(answers.get(1), "200")  # one 4 KiB header is fine
        self.assertIn(answers.get(3), ("431", b"reset"))
        grown = self.server.rss_kib() - rss
        print("HPACK bomb: RSS grew by %d KiB" % grown, file=sys.stderr)
        if not os.environ.get("W2PSERVE_SANITIZED"):
            self.assertLess(grown, 4 * 1024)
        self.assert_others_served()

    def test_body_past_max_body_gets_413_and_the_connection_goes_on(self):
        body = b"z" * (3 << 20)
        for headers in ([("content-length", str(len(body)))], []):
            c = H2Client(self.server.port)
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo"), (":scheme", "http"),
                                      (":authority", "x"), *headers], end_stream=False)
            c.streams[sid] = {"status": None, "headers": [], "body": b"", "ended": False,
                              "reset": None}
            c.flush()
            try:  # the server may answer (and end the stream) before the body is all sent
                c.send_body(sid, body)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
            s = c.response(sid)
            self.assertEqual(s["status"], 413, (headers, s))
            # The connection's window was given back: the next request on it is served.
            s = c.response(c.request("/"))
            self.assertEqual(s["body"], b"hello over HTTP/2")
            c.close()

    def test_too_large_header_list_is_431(self):
        c = H2Client(self.server.port)
        s = c.response(c.request("/", headers=[("x-big", "a" * 70000)]))
        c.close()
        self.assertTrue(s["status"] == 431 or s["reset"] is not None or c.goaway, s)
        self.assert_others_served()

    def test_concurrent_streams_are_bounded(self):
        c = H2Client(self.server.port)
        sids = []
        for _ in range(130):  # requests whose bodies never come
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo"),
                                      (":scheme", "http"), (":authority", "x")], end_stream=False)
            c.streams[sid] = {"status": None, "headers": [], "body": b"", "ended": False,
                              "reset": None}
            sids.append(sid)
        c.flush()
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline and not any(c.streams[s]["reset"] for s in sids[100:]):
            if not c.pump():
                break
        refused = [s for s in sids if c.streams[s]["reset"] == h2.errors.ErrorCodes.REFUSED_STREAM]
        c.close()
        self.assertTrue(refused, "no stream beyond the 100th was refused")
        self.assertTrue(all(s > sids[99] for s in refused))
        self.assert_others_served()

    def test_settings_flood_ends_the_connection(self):
        c = H2Client(self.server.port)
        try:
            for _ in range(2000):
                c.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10})
            c.flush()
            # The flood's acknowledgements are never read: the server gives up on this client
            # (it may already have closed, so the half-close may fail).
            c.sock.shutdown(socket.SHUT_WR)
            while c.pump():
                pass
        except OSError:  # reset, broken pipe, not connected: the server cut the connection
            c.closed = True
        c.close()
        self.assertTrue(c.closed or c.goaway is not None)
        self.assert_others_served()

    def test_a_stalled_partial_preface_costs_no_cpu(self):
        # Part of the preface, then nothing: the server looks again now and then instead of
        # spinning on a socket that stays readable.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n")
            with open("/proc/%d/stat" % self.server.pid) as f:
                before = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
            time.sleep(1.0)  # a second of stall measured, not a wait for an event
            with open("/proc/%d/stat" % self.server.pid) as f:
                after = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        self.assertLess((after - before) / os.sysconf("SC_CLK_TCK"), 0.3)
        self.assert_others_served()

    def test_zero_window_stall_is_bounded_by_io_timeout(self):
        # A client that never opens its window: the response waits, then the connection goes.
        c = H2Client(self.server.port, window=0,
                     settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.request("/stream?64")
        started = time.monotonic()
        c.sock.settimeout(IO_TIMEOUT)
        try:
            while c.pump():
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        took = time.monotonic() - started
        c.close()
        self.assertLess(took, IO_TIMEOUT)
        self.assertGreater(took, 1.5)  # --io-timeout 2
        self.assert_others_served()


class Http2Shutdown(unittest.TestCase):
    def test_sigterm_sends_goaway_and_finishes_the_stream_in_flight(self):
        srv = Server(*APP, "--h2c")
        client = subprocess.Popen(["nghttp", "-v", "http://127.0.0.1:%d/slow?1" % srv.port],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            # Until the request is in the worker (the status page counts it), then SIGTERM.
            deadline = time.monotonic() + IO_TIMEOUT
            while json.loads(srv.request("GET", "/server-status").body)["in_flight_requests"] < 1:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            srv.proc.send_signal(signal.SIGTERM)
            out = client.communicate(timeout=IO_TIMEOUT)[0].decode()
        finally:
            client.kill()
        self.assertIn("recv GOAWAY frame", out)
        self.assertIn(":status: 200", out)
        self.assertIn("slow done", out)
        self.assertEqual(srv.proc.wait(timeout=IO_TIMEOUT), 0)  # a clean exit after the stream
        srv.stop()

    def test_a_request_sent_after_the_goaway_is_dropped_without_a_reset(self):
        # The connection ends (idle: GOAWAY), and the client's next request is already on its
        # way. The server reads and drops it instead of answering it with a TCP reset, so the
        # client reads the GOAWAY and a clean end: it knows the request was never processed and
        # may send it again (RFC 9113 6.8).
        with Server(*APP, "--h2c", "--keepalive-timeout", "1") as srv:
            c = RawH2(srv.port)
            c.send(frame(RawH2.HEADERS, 0x5, 1, c.encoder.encode(PSEUDO)))
            while (f := c.next_frame()) is not None and not (f[0] == 0 and f[1] & 0x1):
                pass  # until the response's DATA with END_STREAM
            poller = select.poll()
            poller.register(c.sock, select.POLLRDHUP)
            self.assertTrue(poller.poll(IO_TIMEOUT * 1000))  # the server's end (its FIN)
            # The request, then a PING: both reach a server that still reads (a closed socket
            # answers the first with a reset, and the second write then fails).
            self.assertTrue(c.send(frame(RawH2.HEADERS, 0x5, 3, c.encoder.encode(PSEUDO))))
            self.assertTrue(c.send(frame(6, 0, 0, b"12345678")))
            kinds, end = [], None
            while end is None:
                try:
                    data = c.sock.recv(65536)
                except ConnectionResetError as e:
                    end = e
                    break
                if not data:
                    end = "eof"
                c.buf += data
                while len(c.buf) >= 9 and len(c.buf) >= 9 + int.from_bytes(c.buf[:3], "big"):
                    kinds.append(c.buf[3])
                    c.buf = c.buf[9 + int.from_bytes(c.buf[:3], "big"):]
            c.close()
            self.assertIn(RawH2.GOAWAY, kinds)
            self.assertEqual(end, "eof")

    def test_five_reloads_under_http2_load_lose_nothing(self):
        # Each client keeps one HTTP/2 connection and sends a request at a time, alternately to
        # the application and to a static file. A reload sends GOAWAY: streams up to its
        # last-stream-id must complete; a later one was never processed, and the client retries
        # it on a new connection (RFC 9113 6.8), as browsers do. Anything else is a failure.
        www = tempfile.mkdtemp(prefix="w2p-h2-reload-")
        with open(os.path.join(www, "f.txt"), "wb") as f:
            f.write(b"static over h2\n" * 100)
        srv = Server(*APP, "--h2c", "--static", "/s=" + www)
        pid = srv.pid
        stop = threading.Event()
        lock = threading.Lock()
        results = {"ok": 0, "retried": 0, "failed": []}

        def client():
            c = None
            n = 0
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                if c is None or c.closed or c.goaway is not None:
                    if c is not None:
                        c.close()
                    c = H2Client(srv.port, graceful_goaway=True)
                n += 1
                path = "/" if n % 2 else "/s/f.txt"
                sid = None
                try:
                    sid = c.request(path)
                    s = c.response(sid)
                except (OSError, h2.exceptions.ProtocolError) as e:  # counted below
                    s = {"ended": False, "status": None, "error": repr(e)}
                    c.closed = True
                done = s["ended"] and s.get("status") == 200 and s.get("body")
                refused = (not done and c.goaway is not None and sid is not None
                           and sid > c.goaway.last_stream_id)
                with lock:
                    if done:
                        results["ok"] += 1
                    elif refused:
                        results["retried"] += 1
                    else:
                        results["failed"].append((path, sid, c.goaway and c.goaway.last_stream_id,
                                                  {k: v for k, v in s.items() if k != "body"}))
            if c is not None:
                c.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(5):
                before = results["ok"]
                self.assertTrue(wait_until(lambda: results["ok"] >= before + 100), results)
                srv.reload()
            after = results["ok"]
            self.assertTrue(wait_until(lambda: results["ok"] >= after + 100), results)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(results["failed"], [])
        self.assertEqual(srv.pid, pid)
        print("\n  HTTP/2 reloads: %d requests, none failed, %d retried after GOAWAY"
              % (results["ok"], results["retried"]), file=sys.stderr)
        srv.stop()
        srv.check_sanitizers()
        shutil.rmtree(www)


if __name__ == "__main__":
    main()
