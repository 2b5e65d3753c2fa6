"""TLS: a test CA and certificates made at test time; the handshake, wsgi.url_scheme and HTTPS
for the application, TLS 1.2+ only, SNI choosing a site's certificate, static files over TLS,
the HTTP-to-HTTPS redirect listener, bad certificate files, and a reload with TLS."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, app_dir, main, read_response, run_cli, send_request  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


def make_pki(folder):
    """A CA, a certificate for localhost/127.0.0.1 and one for other.test, both signed by it."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=w2pserve test CA", "-days", "2",
            cwd=folder)
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"), ("other", "DNS:other.test")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + san.split(",")[0][4:],
                cwd=folder)
        with open(os.path.join(folder, name + ".ext"), "w") as f:
            f.write("subjectAltName=" + san + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
                cwd=folder)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-tls-")
        make_pki(cls.tmp)
        cls.www = os.path.join(cls.tmp, "www")
        os.makedirs(cls.www)
        cls.blob = os.urandom(3 * 1024 * 1024 + 5)
        with open(os.path.join(cls.www, "big.bin"), "wb") as f:
            f.write(cls.blob)
        cls.conf = os.path.join(cls.tmp, "w2pserve.toml")
        with open(cls.conf, "w") as f:
            f.write('[[site]]\nhosts = ["other.test"]\ntls-cert = "other.pem"\ntls-key = "other.key"\n')
        cls.server = Server("--config", cls.conf, "--app", "app:application", "--pythonpath",
                            app_dir("environ"), "--tls-cert", os.path.join(cls.tmp, "server.pem"),
                            "--tls-key", os.path.join(cls.tmp, "server.key"), "--static",
                            "/s=" + cls.www, "--redirect-listen", "127.0.0.1:0")
        line = cls.server.wait_for_log(r"listening on http://127\.0\.0\.1:(\d+) \(redirecting to HTTPS\)")
        cls.redirect_port = int(re.search(r":(\d+) \(redirecting", line).group(1))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp)

    def client(self, hostname="localhost", **kw):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp, "ca.pem"))
        for k, v in kw.items():
            setattr(ctx, k, v)
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT)
        return ctx.wrap_socket(raw, server_hostname=hostname)

    def test_handshake_and_environ(self):
        with self.client() as s:
            self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
            send_request(s, "GET", "/x?y=1", close=True)
            r = read_response(s)
        self.assertEqual(r.status, 200)
        env = json.loads(r.body)
        self.assertEqual(env["wsgi"]["url_scheme"], "https")
        self.assertEqual(env["cgi"]["HTTPS"], "on")
        self.assertEqual(env["cgi"]["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["cgi"]["SERVER_PORT"], str(self.server.port))
        self.assertEqual(env["cgi"]["QUERY_STRING"], "y=1")

    def test_keep_alive_and_large_static_file(self):
        with self.client() as s:
            send_request(s, "GET", "/s/big.bin")
            r1 = read_response(s)
            send_request(s, "GET", "/s/big.bin", headers=[("Range", "bytes=100-199")], close=True)
            r2 = read_response(s)
        self.assertEqual(r1.body, self.blob)
        self.assertEqual((r2.status, r2.body), (206, self.blob[100:200]))

    def test_old_protocols_refused(self):
        with self.assertRaises(ssl.SSLError):
            with self.client(maximum_version=ssl.TLSVersion.TLSv1_1, minimum_version=ssl.TLSVersion.TLSv1) as s:
                s.recv(1)
        # Plain HTTP on the TLS port gets no HTTP answer.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            self.assertNotIn(b"HTTP/1.1 200", data)
        # The server is still fine afterwards.
        with self.client() as s:
            send_request(s, "GET", "/", close=True)
            self.assertEqual(read_response(s).status, 200)

    def test_sni_chooses_the_sites_certificate(self):
        with self.client("other.test") as s:
            cert = s.getpeercert()
            send_request(s, "GET", "/", headers=[("Host", "other.test")], close=True)
            self.assertEqual(read_response(s).status, 200)
        self.assertIn(("DNS", "other.test"), cert["subjectAltName"])
        with self.client("localhost") as s:
            self.assertIn(("DNS", "localhost"), s.getpeercert()["subjectAltName"])

    def test_redirect_listener(self):
        with socket.create_connection(("127.0.0.1", self.redirect_port), timeout=IO_TIMEOUT) as s:
            send_request(s, "GET", "/a/b?c=d", headers=[("Host", "localhost:%d" % self.redirect_port)], close=True)
            r = read_response(s)
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "https://localhost:%d/a/b?c=d" % self.server.port)

    def test_bad_files_are_startup_errors(self):
        key = os.path.join(self.tmp, "server.key")
        cert = os.path.join(self.tmp, "server.pem")
        other_key = os.path.join(self.tmp, "other.key")
        for args, needle in (
            (["--tls-cert", os.path.join(self.tmp, "none.pem"), "--tls-key", key], "none.pem"),
            (["--tls-cert", key, "--tls-key", key], "TLS certificate " + key),
            (["--tls-cert", cert, "--tls-key", other_key], "does not match the certificate"),
            (["--tls-cert", cert], "TLS needs both --tls-cert and --tls-key"),
        ):
            r = run_cli("--listen", "127.0.0.1:0", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(needle, r.stderr.decode(), args)


class TlsHostileClients(unittest.TestCase):
    """A TLS client that stops reading, or never says hello, is counted while it is open and
    cut after the same timeouts as a plain one: nothing waits forever."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-tls-")
        make_pki(cls.tmp)
        www = os.path.join(cls.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(os.urandom(16 * 1024 * 1024))
        cls.server = Server("--app", "app:application", "--pythonpath", app_dir("environ"),
                            "--tls-cert", os.path.join(cls.tmp, "server.pem"), "--tls-key",
                            os.path.join(cls.tmp, "server.key"), "--static", "/s=" + www,
                            "--io-timeout", "2", "--header-timeout", "2", "--log-level", "debug")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp)

    def client(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp, "ca.pem"))
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def connections(self):
        """Open connections as the status page counts them, this request's own excluded."""
        with self.client() as s:
            send_request(s, "GET", "/server-status", close=True)
            return json.loads(read_response(s).body)["connections"] - 1

    def test_client_that_stops_reading_is_cut_after_io_timeout(self):
        self.assertEqual(self.connections(), 0)
        mark = self.server.log_mark()
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp, "ca.pem"))
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(IO_TIMEOUT)
        raw.connect(("127.0.0.1", self.server.port))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        send_request(s, "GET", "/s/big.bin")
        s.recv(1)  # the response started; from now on nothing is read
        self.assertIsNotNone(self.server.wait_for_log(r"TLS connection from 127\.0\.0\.1 timed out",
                                                      start=mark))
        self.assertEqual(self.connections(), 0)
        s.close()

    def test_handshakes_in_progress_are_counted_and_bounded(self):
        mark = self.server.log_mark()
        silent = socket.create_connection(("127.0.0.1", self.server.port), timeout=IO_TIMEOUT)
        self.assertEqual(self.connections(), 1)
        self.assertIsNotNone(self.server.wait_for_log(r"TLS connection from 127\.0\.0\.1 timed out",
                                                      start=mark))
        self.assertEqual(self.connections(), 0)
        silent.close()


@unittest.skipUnless(os.geteuid() == 0, "privilege tests need root (CI runs as root)")
class TlsRootOnlyKey(unittest.TestCase):
    """Let's Encrypt's layout: privkey.pem readable by root only, the server running as another
    account. It starts, and a reload reads the renewed certificate and key (through the key
    helper) with no failed request."""

    def test_renewed_root_only_key_is_read_on_reload(self):
        tmp = tempfile.mkdtemp(prefix="w2p-tls-")
        try:
            os.chmod(tmp, 0o755)
            make_pki(tmp)
            live = os.path.join(tmp, "live")
            os.makedirs(live)
            os.chmod(live, 0o755)
            cert, key = os.path.join(live, "fullchain.pem"), os.path.join(live, "privkey.pem")
            shutil.copy(os.path.join(tmp, "server.pem"), cert)
            shutil.copy(os.path.join(tmp, "server.key"), key)
            os.chmod(cert, 0o644)
            os.chmod(key, 0o600)
            app = os.path.join(tmp, "app")
            shutil.copytree(app_dir("environ"), app)
            for dirpath, dirs, files in os.walk(app):
                os.chmod(dirpath, 0o755)
                for f in files:
                    os.chmod(os.path.join(dirpath, f), 0o644)
            ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.pem"))
            ctx.check_hostname = False
            with Server("--user", "nobody", "--app", "app:application", "--pythonpath", app,
                        "--tls-cert", cert, "--tls-key", key) as srv:
                with open("/proc/%d/status" % srv.pid) as f:
                    self.assertIn("Uid:\t65534", f.read())

                def served_name():
                    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port),
                                                                  timeout=IO_TIMEOUT)) as s:
                        return s.getpeercert()["subjectAltName"][0][1]

                self.assertEqual(served_name(), "localhost")
                failures, done, stop = [], [], threading.Event()

                def load():
                    deadline = time.monotonic() + 60
                    while not stop.is_set() and time.monotonic() < deadline and len(done) < 5000:
                        try:
                            with ctx.wrap_socket(socket.create_connection(
                                    ("127.0.0.1", srv.port), timeout=IO_TIMEOUT)) as s:
                                send_request(s, "GET", "/", close=True)
                                if read_response(s).status != 200:
                                    failures.append("status")
                                done.append(1)
                        except (OSError, ValueError, EOFError) as e:
                            failures.append(repr(e))

                threads = [threading.Thread(target=load) for _ in range(2)]
                for t in threads:
                    t.start()
                # Renewal: certbot writes a new certificate and key, still root-only.
                shutil.copy(os.path.join(tmp, "other.pem"), cert)
                shutil.copy(os.path.join(tmp, "other.key"), key)
                os.chmod(key, 0o600)
                mark = srv.log_mark()
                os.kill(srv.pid, signal.SIGHUP)
                self.assertIsNotNone(srv.wait_for_log(r"listening on https://", start=mark),
                                     srv.log_text())
                self.assertEqual(served_name(), "other.test")
                stop.set()
                for t in threads:
                    t.join(90)
                self.assertGreater(len(done), 0)
                self.assertEqual(failures, [])
                srv.stop()
        finally:
            shutil.rmtree(tmp)


class TlsReload(unittest.TestCase):
    def test_reload_rereads_certificates(self):
        tmp = tempfile.mkdtemp(prefix="w2p-tls-")
        try:
            make_pki(tmp)
            with Server("--app", "app:application", "--pythonpath", app_dir("environ"),
                        "--tls-cert", os.path.join(tmp, "server.pem"), "--tls-key",
                        os.path.join(tmp, "server.key")) as srv:
                # Swap in the other certificate, then reload.
                shutil.copy(os.path.join(tmp, "other.pem"), os.path.join(tmp, "server.pem"))
                shutil.copy(os.path.join(tmp, "other.key"), os.path.join(tmp, "server.key"))
                mark = srv.log_mark()
                os.kill(srv.pid, signal.SIGHUP)
                self.assertIsNotNone(srv.wait_for_log(r"listening on https://", start=mark))
                ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.pem"))
                with ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT),
                                     server_hostname="other.test") as s:
                    self.assertIn(("DNS", "other.test"), s.getpeercert()["subjectAltName"])
                    send_request(s, "GET", "/", close=True)
                    self.assertEqual(read_response(s).status, 200)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
