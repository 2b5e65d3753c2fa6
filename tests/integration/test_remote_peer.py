"""What a client on another host can and cannot make the server believe: a network namespace
pair made by this test (veth, 10.231.x.0/24) puts the client on a non-loopback address, so
nothing a loopback peer is trusted with applies. Needs root (CI runs as root)."""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import FIXTURES, IO_TIMEOUT, Server, main  # noqa: E402

PY = "/usr/bin/python3.11"
CLIENT = r'''
import socket, sys
host, port, raw = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode("latin-1")
s = socket.create_connection((host, port), timeout=%d)
s.sendall(raw.replace(b"\n", b"\r\n"))
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
''' % IO_TIMEOUT


def ip(*args):
    subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=30)


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root (CI runs as root)")
class RemotePeer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        n = os.getpid() % 200 + 10
        cls.ns_server, cls.ns_client = "w2ps%d" % os.getpid(), "w2pc%d" % os.getpid()
        cls.server_ip, cls.client_ip = "10.231.%d.1" % n, "10.231.%d.2" % n
        ip("netns", "add", cls.ns_server)
        ip("netns", "add", cls.ns_client)
        a, b = "w2va%d" % os.getpid(), "w2vb%d" % os.getpid()
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("link", "set", a, "netns", cls.ns_server)
        ip("link", "set", b, "netns", cls.ns_client)
        for ns, dev, addr in ((cls.ns_server, a, cls.server_ip), (cls.ns_client, b, cls.client_ip)):
            ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for srv in cls.servers:
            srv.stop()
        for ns in (cls.ns_server, cls.ns_client):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, timeout=30)

    def serve(self, *args):
        srv = Server("--listen", self.server_ip + ":0", *args,
                     wrap=("ip", "netns", "exec", self.ns_server))
        self.servers.append(srv)
        line = srv.wait_for_log(r"listening on http://%s:(\d+)" % re.escape(self.server_ip))
        self.assertIsNotNone(line, srv.log_text())
        srv.remote_port = int(re.search(r":(\d+)$", line).group(1))
        return srv

    def remote(self, srv, head):
        """Sends `head` (lines joined by \\n, sent with CRLF) from the client namespace."""
        r = subprocess.run(["ip", "netns", "exec", self.ns_client, PY, "-c", CLIENT, self.server_ip,
                            str(srv.remote_port), head], stdout=subprocess.PIPE, timeout=60,
                           check=True)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body

    def report(self, srv, *headers, path="/welcome/default/index"):
        status, body = self.remote(srv, "GET %s HTTP/1.1\nHost: example.com\n%s\nConnection: close\n\n"
                                   % (path, "\n".join(headers)))
        self.assertEqual(status, 200)
        report = json.loads(body)
        # As web2py reads them: no other spelling may become a forwarding key.
        web2py_view = [k.lower().replace(".", "_") for k in report["http_keys"]]
        self.assertEqual(len(web2py_view), len(set(web2py_view)), report["http_keys"])
        for key in report["http_keys"]:
            self.assertRegex(key, r"^HTTP_[A-Z0-9_]+$")
        report["environ"]["keys"] = report["http_keys"]
        return report["environ"]

    def test_spoofed_forwarding_in_any_spelling_is_dropped(self):
        srv = self.serve("--root", os.path.join(FIXTURES, "web2py"))
        env = self.report(srv, "X-Forwarded-Proto: https", "X-Forwarded.Proto: https",
                          "X_Forwarded_Proto: https", "X-Forwarded-For: 127.0.0.1",
                          "X-Forwarded.For: 127.0.0.1", "X.Real.IP: 127.0.0.1",
                          "Forwarded: for=127.0.0.1;proto=https")
        # web2py would open admin to an https or local client: neither may be claimed.
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertIsNone(env["HTTPS"])
        self.assertEqual(env["REMOTE_ADDR"], self.client_ip)
        for key in ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP",
                    "HTTP_FORWARDED"):
            self.assertIsNone(env[key], key)
        self.assertEqual(env["keys"], ["HTTP_CONNECTION", "HTTP_HOST"])

    def test_status_page_is_not_for_remote_peers(self):
        srv = self.serve("--root", os.path.join(FIXTURES, "web2py"))
        status, body = self.remote(srv, "GET /server-status HTTP/1.1\nHost: h\nConnection: close\n\n")
        self.assertNotIn(b"uptime", body)

    def test_a_trusted_proxy_may_forward_but_only_plain_names(self):
        srv = self.serve("--root", os.path.join(FIXTURES, "web2py"), "--trusted-proxy", self.client_ip)
        env = self.report(srv, "X-Forwarded-Proto: https", "X-Forwarded-For: 203.0.113.7")
        self.assertEqual(env["wsgi.url_scheme"], "https")
        self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "203.0.113.7")
        env = self.report(srv, "X-Forwarded.Proto: https", "X_Forwarded_For: 203.0.113.8")
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertIsNone(env["HTTP_X_FORWARDED_FOR"])


if __name__ == "__main__":
    main()
