"""What a node behind a load balancer relies on: HAProxy's PROXY protocol (v1 and v2) from a
trusted proxy only, the client it names consistent in the environ and the access log; the
health path (200, 503 while draining or with a full queue); --drain-delay on SIGTERM."""

import json
import os
import shutil
import ssl
import subprocess
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, app_dir, main, read_response, run_cli, send_request, wait_until  # noqa: E402,E501

ENV_APP = ("--app", "app:application", "--pythonpath", app_dir("environ"))
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, sport, dport, ssl=False, command=1):
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    tlvs = b""
    if ssl:  # PP2_TYPE_SSL: client bit set, verify 0
        tlvs = b"\x20" + struct.pack("!H", 5) + b"\x01" + struct.pack("!I", 0)
    body = addrs + tlvs if command == 1 else b""
    return V2_SIG + bytes([0x20 | command, 0x11]) + struct.pack("!H", len(body)) + body


def exchange(port, raw, path="/", extra_headers=None):
    """Sends `raw` (a PROXY header) then a request; the response, or None when cut."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
        s.sendall(raw)
        try:
            send_request(s, "GET", path, extra_headers, close=True)
            return read_response(s)
        except (OSError, EOFError):
            return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-proxy-")
        cls.log = os.path.join(cls.tmp, "access.log")
        cls.server = Server(*ENV_APP, "--proxy-protocol", "--trusted-proxy", "127.0.0.1",
                            "--access-log", cls.log, "--health-path", "/healthz")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def env(self, raw, **kw):
        r = exchange(self.server.port, raw, **kw)
        self.assertIsNotNone(r, "cut")
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)

    def test_v1_names_the_client_everywhere(self):
        e = self.env(b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 8080\r\n", path="/v1-client")
        self.assertEqual((e["cgi"]["REMOTE_ADDR"], e["cgi"]["REMOTE_PORT"]),
                         ("203.0.113.7", "40001"))
        self.assertEqual(e["cgi"]["SERVER_PORT"], "8080")
        self.assertEqual(e["wsgi"]["url_scheme"], "http")
        e = self.env(b"PROXY TCP6 2001:db8::7 2001:db8::1 40002 443\r\n")
        self.assertEqual(e["cgi"]["REMOTE_ADDR"], "2001:db8::7")
        def logged():
            with open(self.log) as f:
                text = f.read()
            return "203.0.113.7 - - " in text and "/v1-client" in text
        self.assertTrue(wait_until(logged))

    def test_a_remote_client_behind_a_local_proxy_never_sees_the_status_page(self):
        # The proxy is on loopback, the client it names is not: the status page is for local
        # peers, so this is an ordinary URL for the client (the application answers it).
        e = self.env(b"PROXY TCP4 203.0.113.9 192.0.2.1 40009 80\r\n", path="/server-status")
        self.assertEqual(e["cgi"]["PATH_INFO"], "/server-status")
        r = exchange(self.server.port, b"PROXY TCP4 127.0.0.1 127.0.0.1 40010 80\r\n",
                     path="/server-status")
        self.assertIn(b'"uptime_seconds"', r.body)  # a local client still gets it

    def test_v2_with_tls_to_the_proxy_is_https(self):
        e = self.env(v2_header("198.51.100.9", "192.0.2.1", 50000, 443, ssl=True))
        self.assertEqual((e["cgi"]["REMOTE_ADDR"], e["cgi"]["REMOTE_PORT"]),
                         ("198.51.100.9", "50000"))
        self.assertEqual(e["wsgi"]["url_scheme"], "https")
        self.assertEqual(self.env(v2_header("198.51.100.9", "192.0.2.1", 50000, 80))["wsgi"]
                         ["url_scheme"], "http")

    def test_v2_local_is_the_proxys_own_connection(self):
        e = self.env(v2_header("0.0.0.0", "0.0.0.0", 0, 0, command=0))
        self.assertEqual(e["cgi"]["REMOTE_ADDR"], "127.0.0.1")

    def test_forwarding_headers_from_the_client_behind_the_proxy_are_not_believed(self):
        e = self.env(b"PROXY TCP4 203.0.113.8 192.0.2.1 40003 80\r\n",
                     extra_headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https")])
        self.assertNotIn("HTTP_X_FORWARDED_FOR", e["cgi"])
        self.assertEqual(e["wsgi"]["url_scheme"], "http")

    def test_anything_but_a_header_is_cut(self):
        for raw in (b"", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", b"PROXY SCTP a b 1 2\r\n",
                    b"PROXY TCP4 " + b"1" * 200 + b"\r\n", V2_SIG + b"\x30\x11\x00\x00"):
            self.assertIsNone(exchange(self.server.port, raw), raw)
        self.assertEqual(self.env(b"PROXY TCP4 203.0.113.1 192.0.2.1 1 80\r\n")["cgi"]
                         ["REMOTE_ADDR"], "203.0.113.1")  # still serving

    def test_a_header_in_pieces_is_read_and_a_stalled_one_costs_no_cpu(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT) as s:
            s.sendall(b"PROXY TCP4 203.0.113.5 ")
            before = cpu_seconds(self.server.pid)
            time.sleep(1.0)  # measuring a second of stall, not waiting for an event
            spent = cpu_seconds(self.server.pid) - before
            s.sendall(b"192.0.2.1 40005 80\r\n")
            send_request(s, "GET", "/", close=True)
            self.assertEqual(json.loads(read_response(s).body)["cgi"]["REMOTE_ADDR"],
                             "203.0.113.5")
        self.assertLess(spent, 0.3)  # not spinning on a readable socket

    def test_health_path_and_plain_health_check(self):
        r = exchange(self.server.port, v2_header("0.0.0.0", "0.0.0.0", 0, 0, command=0),
                     path="/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))


class ProxyProtocolBeforeTlsAndHttp2(unittest.TestCase):
    """HAProxy in TCP mode passes TLS through (or speaks h2c) after its PROXY header."""

    def test_tls_after_the_header(self):
        tmp = tempfile.mkdtemp(prefix="w2p-proxy-tls-")
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=node.test", "-addext",
                        "subjectAltName=DNS:node.test"], check=True, capture_output=True)
        with Server(*ENV_APP, "--proxy-protocol", "--trusted-proxy", "127.0.0.1",
                    "--tls-cert", cert, "--tls-key", key) as srv:
            ctx = ssl.create_default_context(cafile=cert)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT) as raw:
                raw.sendall(b"PROXY TCP4 203.0.113.20 192.0.2.1 40020 443\r\n")
                with ctx.wrap_socket(raw, server_hostname="node.test") as s:
                    send_request(s, "GET", "/", [("Host", "node.test")], close=True)
                    e = json.loads(read_response(s).body)
            self.assertEqual((e["cgi"]["REMOTE_ADDR"], e["wsgi"]["url_scheme"]),
                             ("203.0.113.20", "https"))
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def test_h2c_and_http11_after_the_header(self):
        with Server(*ENV_APP, "--proxy-protocol", "--trusted-proxy", "127.0.0.1",
                    "--h2c") as srv:
            e = json.loads(exchange(srv.port, b"PROXY TCP4 203.0.113.21 192.0.2.1 40021 80\r\n")
                           .body)
            self.assertEqual(e["cgi"]["REMOTE_ADDR"], "203.0.113.21")
            r = subprocess.run(["nghttp", "-v", "http://127.0.0.1:%d/" % srv.port],
                               capture_output=True, timeout=IO_TIMEOUT)  # no header: cut
            self.assertNotIn(b":status: 200", r.stdout)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT) as s:
                import h2.config
                import h2.connection
                import h2.events
                s.sendall(b"PROXY TCP4 203.0.113.22 192.0.2.1 40022 80\r\n")
                conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                conn.initiate_connection()
                conn.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"),
                                      (":authority", "node.test")], end_stream=True)
                s.sendall(conn.data_to_send())
                body, ended = b"", False
                while not ended:
                    data = s.recv(65536)
                    self.assertTrue(data, "closed before the answer")
                    for ev in conn.receive_data(data):
                        if isinstance(ev, h2.events.DataReceived):
                            body += ev.data
                            conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                        ended = ended or isinstance(ev, h2.events.StreamEnded)
                    s.sendall(conn.data_to_send())
            e = json.loads(body)
            self.assertEqual((e["cgi"]["REMOTE_ADDR"], e["cgi"]["SERVER_PROTOCOL"]),
                             ("203.0.113.22", "HTTP/2"))
            srv.stop()


class UntrustedProxy(unittest.TestCase):
    def test_only_trusted_proxies_may_send_the_header(self):
        with Server(*ENV_APP, "--proxy-protocol", "--trusted-proxy", "10.9.9.9") as srv:
            self.assertIsNone(exchange(srv.port, b"PROXY TCP4 203.0.113.7 192.0.2.1 1 80\r\n"))
            srv.stop()

    def test_proxy_protocol_needs_a_trusted_proxy(self):
        r = run_cli("--listen", "127.0.0.1:0", "--proxy-protocol")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--trusted-proxy", r.stderr.decode())


class Health(unittest.TestCase):
    def test_drain_delay_turns_health_to_503_while_requests_are_still_served(self):
        srv = Server(*ENV_APP, "--health-path", "/healthz", "--drain-delay", "3")
        try:
            self.assertEqual(srv.request("GET", "/healthz").status, 200)
            srv.proc.send_signal(signal.SIGTERM)
            self.assertIsNotNone(srv.wait_for_log(r"draining for 3 s"))
            r = srv.request("GET", "/healthz")
            self.assertEqual((r.status, r.body), (503, b"draining\n"))
            self.assertEqual(srv.request("GET", "/").status, 200)  # still serving
            self.assertIsNotNone(srv.wait_for_log(r"drained: stopping", timeout=10))
            srv.proc.wait(timeout=IO_TIMEOUT)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()

    def test_a_reload_drains_first_then_serves_again(self):
        with Server(*ENV_APP, "--health-path", "/healthz", "--drain-delay", "2") as srv:
            pid = srv.pid
            mark = srv.log_mark()
            srv.proc.send_signal(signal.SIGHUP)
            self.assertIsNotNone(srv.wait_for_log(r"reloading \(SIGHUP\) after draining for 2 s",
                                                  start=mark))
            r = srv.request("GET", "/healthz")
            self.assertEqual((r.status, r.body), (503, b"draining\n"))
            self.assertEqual(srv.request("GET", "/").status, 200)  # still serving
            self.assertIsNotNone(srv.wait_for_log(r"serving", start=srv.log_mark(), timeout=30))
            self.assertTrue(wait_until(lambda: srv.request("GET", "/healthz").status == 200))
            self.assertEqual(srv.pid, pid)
            srv.stop()

    def test_a_full_queue_is_503_busy(self):
        srv = Server("--app", "app:application", "--pythonpath", app_dir("h2"),
                     "--health-path", "/healthz", "--workers", "1", "--queue", "1")
        try:
            def slow():
                with socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT) as s:
                    send_request(s, "GET", "/slow?2", close=True)
                    read_response(s)
            def python():
                return json.loads(srv.request("GET", "/server-status").body)["python"]
            threads = [threading.Thread(target=slow) for _ in range(2)]
            threads[0].start()  # in the worker
            self.assertTrue(wait_until(lambda: python()["busy_workers"] == 1))
            self.assertEqual(srv.request("GET", "/healthz").status, 200)
            threads[1].start()  # waiting for it: the queue is full
            self.assertTrue(wait_until(lambda: python()["queue_depth"] == 1))
            r = srv.request("GET", "/healthz")
            self.assertEqual((r.status, r.body), (503, b"busy\n"))
            for t in threads:
                t.join(IO_TIMEOUT)
            self.assertEqual(srv.request("GET", "/healthz").status, 200)
            srv.stop()
        finally:
            srv.kill()


if __name__ == "__main__":
    main()
