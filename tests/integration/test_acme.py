"""Automatic HTTPS against a real ACME CA, offline: Debian's pebble (Let's Encrypt's test CA) and
pebble-challtestsrv (its DNS answers 127.0.0.1 for the test names), on loopback ports. pebble's
HTTP-01 and TLS-ALPN-01 checks go to w2pserve's plain and TLS listeners."""

import base64
import json
import re
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, main, run_cli, wait_until  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pebble:
    """pebble and its DNS, with an HTTPS certificate for pebble's API made here."""

    def __init__(self, http_port, tls_port, env=None, eab_keys=None):
        self.tmp = tempfile.mkdtemp(prefix="w2p-pebble-")
        self.ca = os.path.join(self.tmp, "ca.pem")
        key, cert, csr, ext = (os.path.join(self.tmp, n) for n in ("api.key", "api.pem", "api.csr",
                                                                    "ext.cnf"))
        ossl = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", os.path.join(self.tmp, "ca.key"), "-out", self.ca, "-days", "2",
             "-subj", "/CN=w2pserve test ACME API CA")
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             key, "-out", csr, "-subj", "/CN=localhost")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        ossl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", os.path.join(self.tmp, "ca.key"),
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
        self.dns_port, self.dns_mgmt, self.port, self.mgmt = (free_port() for _ in range(4))
        config = os.path.join(self.tmp, "pebble.json")
        with open(config, "w") as f:
            json.dump({"pebble": {
                "listenAddress": "127.0.0.1:%d" % self.port,
                "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
                "certificate": cert, "privateKey": key,
                "httpPort": http_port, "tlsPort": tls_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": bool(eab_keys),
                "externalAccountMACKeys": eab_keys or {}}}, f)
        self.chall = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.dns_mgmt,
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        full_env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            ["pebble", "-config", config, "-dnsserver", "127.0.0.1:%d" % self.dns_port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env)
        self.log = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.context = ssl.create_default_context(cafile=self.ca)
        self.assert_up()

    def _read(self):
        for line in self.proc.stdout:
            self.log.append(line.decode("utf-8", "replace"))

    def assert_up(self):
        def answers():
            try:
                urllib.request.urlopen(self.directory, context=self.context, timeout=2).read()
                return True
            except OSError:
                return False
        if not wait_until(answers, timeout=IO_TIMEOUT):
            raise RuntimeError("pebble did not start: " + "".join(self.log[-20:]))
        # pebble's issuing root, made at its start: what clients of the sites trust.
        self.root = os.path.join(self.tmp, "root.pem")
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.mgmt,
                                    context=self.context, timeout=IO_TIMEOUT) as r, \
                open(self.root, "wb") as f:
            f.write(r.read())

    @property
    def directory(self):
        return "https://localhost:%d/dir" % self.port

    def add_a(self, host, address):
        req = urllib.request.Request("http://127.0.0.1:%d/add-a" % self.dns_mgmt, method="POST",
                                     data=json.dumps({"host": host + ".",
                                                      "addresses": [address]}).encode())
        urllib.request.urlopen(req, timeout=IO_TIMEOUT).read()

    def stop(self):
        for p in (self.proc, self.chall):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._reader.join(10)
        self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def ari_id(cert_path):
    """RFC 9773's certificate id, from openssl's own reading of the certificate."""
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-ext", "authorityKeyIdentifier",
                          "-in", cert_path], capture_output=True, text=True, check=True).stdout
    serial = bytes.fromhex(re.search(r"serial=([0-9A-F]+)", out).group(1))
    if serial[0] & 0x80:
        serial = b"\0" + serial  # DER: a positive INTEGER whose high bit is set gets a zero
    kid = bytes.fromhex(re.search(r"(?:keyid:)?((?:[0-9A-F]{2}:)+[0-9A-F]{2})", out.split(
        "Authority Key Identifier:")[1]).group(1).replace(":", ""))
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return b64(kid) + "." + b64(serial)


def https_get(port, name, cafile, path="/"):
    """GET over TLS with SNI `name`, the chain checked against `cafile`: (status, DER cert)."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % (path, name)).encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return int(data.split(b" ", 2)[1]), s.getpeercert(binary_form=True)


class Acme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http_port, cls.tls_port = free_port(), free_port()
        cls.pebble = Pebble(cls.http_port, cls.tls_port)

    @classmethod
    def tearDownClass(cls):
        cls.pebble.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="w2p-acme-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.status_port = free_port()

    def server(self, *names, challenge=None, directory=None, extra=(), acme_dir=None):
        args = ["--listen", "127.0.0.1:%d" % self.tls_port,
                "--http-listen", "127.0.0.1:%d" % self.status_port,
                "--acme-agree-tos", "--acme-email", "admin@example.test",
                "--acme-directory", directory or self.pebble.directory,
                "--acme-ca-root", self.pebble.ca, "--acme-dir", acme_dir or self.tmp + "/acme"]
        if challenge == "tls-alpn-01":
            args += ["--acme-challenge", "tls-alpn-01"]
        else:
            args += ["--redirect-listen", "127.0.0.1:%d" % self.http_port]
        for n in names:
            args += ["--domain", n]
        return Server(*args, *extra)

    def status(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/server-status" % self.status_port,
                                    timeout=IO_TIMEOUT) as r:
            return json.loads(r.read())["acme"][0]

    def wait_state(self, state, timeout=IO_TIMEOUT):
        ok = wait_until(lambda: self.status()["state"] == state, timeout=timeout)
        self.assertTrue(ok, self.status())
        return self.status()

    def test_http01_two_names_then_a_restart_reuses_them(self):
        started = time.monotonic()
        srv = self.server("a.test", "www.a.test")
        try:
            st = self.wait_state("valid")
            took = time.monotonic() - started
            self.assertEqual((st["names"], st["orders"], st["failures"]),
                             (["a.test", "www.a.test"], 1, 0))
            for name in ("a.test", "www.a.test"):
                status, _ = https_get(self.tls_port, name, self.pebble.root)
                self.assertEqual(status, 200)
            # An unknown name gets no certificate (and orders none).
            with self.assertRaises(ssl.SSLError):
                https_get(self.tls_port, "other.test", self.pebble.root)
            # The challenge path of a token not being validated is an ordinary URL (a webroot's
            # file, if there is one; here nothing).
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=IO_TIMEOUT) as s:
                s.sendall(b"GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: a.test\r\n"
                          b"Connection: close\r\n\r\n")
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 404 "))
            self.assertEqual(self.status()["orders"], 1)
            srv.stop()
        finally:
            srv.kill()
        acme = os.path.join(self.tmp, "acme", "localhost_%d" % self.pebble.port)  # per CA
        for path, mode in (("account.key", 0o600), ("a.test/key.pem", 0o600),
                           ("a.test/cert.pem", 0o644)):
            self.assertEqual(os.stat(os.path.join(acme, path)).st_mode & 0o777, mode, path)
        print("\n  ACME http-01: certificate for 2 names served %.2f s after start" % took,
              file=sys.stderr)
        # A restart serves the stored certificate at once, without a new order.
        srv = self.server("a.test", "www.a.test")
        try:
            self.assertIsNotNone(srv.wait_for_log(r"ACME: certificate for a\.test loaded from"))
            status, _ = https_get(self.tls_port, "www.a.test", self.pebble.root)
            self.assertEqual(status, 200)
            st = self.status()
            self.assertEqual((st["state"], st["orders"]), ("valid", 0))
            # ACME Renewal Information: the certificate's id as RFC 9773 makes it (pebble 2.4
            # offers no renewalInfo, so the lifetime rule decides).
            self.assertEqual(st["ari_id"], ari_id(os.path.join(acme, "a.test", "cert.pem")))
            self.assertTrue(wait_until(
                lambda: self.status()["renewal_info"] == "not offered by the CA"), self.status())
            srv.stop()
        finally:
            srv.kill()
        # Another CA (here the same pebble by another name, as staging then production would
        # be): its own folder and account; the first CA's certificate is not served for it.
        srv = self.server("a.test", "www.a.test",
                          directory="https://127.0.0.1:%d/dir" % self.pebble.port)
        try:
            self.assertIsNone(srv.wait_for_log(r"loaded from", timeout=0))
            st = self.wait_state("valid")
            self.assertEqual(st["orders"], 1)
            self.assertTrue(os.path.exists(os.path.join(self.tmp, "acme", "127.0.0.1_%d" %
                                                        self.pebble.port, "a.test", "cert.pem")))
            srv.stop()
        finally:
            srv.kill()

    def test_tls_alpn01(self):
        srv = self.server("b.test", "www.b.test", challenge="tls-alpn-01",
                          extra=("--log-level", "debug"))
        try:
            self.wait_state("valid")
            for name in ("b.test", "www.b.test"):
                self.assertEqual(https_get(self.tls_port, name, self.pebble.root)[0], 200)
            self.assertIsNotNone(srv.wait_for_log(r"TLS-ALPN-01 handshake from 127\.0\.0\.1",
                                                  timeout=0))
            srv.stop()
        finally:
            srv.kill()

    def test_renewal_swaps_the_certificate_without_a_reload_or_a_failed_request(self):
        srv = self.server("r.test")
        try:
            st = self.wait_state("valid")
            srv.stop()
        finally:
            srv.kill()
        # Started again with the renewal due a few seconds from now.
        renew_before = st["expires_in_seconds"] - 4
        srv = self.server("r.test", extra=("--acme-renew-before", str(renew_before)))
        pid = srv.pid
        try:
            first = https_get(self.tls_port, "r.test", self.pebble.root)[1]
            results = {"ok": 0, "failed": [], "certs": set()}
            stop = threading.Event()

            def load():
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    try:
                        status, cert = https_get(self.tls_port, "r.test", self.pebble.root)
                        results["certs"].add(cert)
                        if status == 200:
                            results["ok"] += 1
                        else:
                            results["failed"].append(status)
                    except OSError as e:
                        results["failed"].append(repr(e))
            threads = [threading.Thread(target=load) for _ in range(2)]
            for t in threads:
                t.start()
            try:
                self.assertTrue(wait_until(lambda: self.status()["orders"] == 1, timeout=30),
                                self.status())
                later = results["ok"]
                self.assertTrue(wait_until(lambda: results["ok"] > later + 20))
            finally:
                stop.set()
                for t in threads:
                    t.join(30)
            self.assertEqual(results["failed"], [])
            self.assertEqual(len(results["certs"]), 2)  # the old one, then the renewed one
            self.assertNotEqual(https_get(self.tls_port, "r.test", self.pebble.root)[1], first)
            self.assertEqual(srv.pid, pid)
            self.assertIsNone(srv.wait_for_log(r"listening on", start=srv.log_mark(), timeout=0))
            print("\n  ACME renewal: %d HTTPS requests during it, none failed" % results["ok"],
                  file=sys.stderr)
            srv.stop()
        finally:
            srv.kill()

    def test_sites_with_acme_get_a_certificate_each_chosen_by_sni(self):
        conf = os.path.join(self.tmp, "w2pserve.toml")
        with open(conf, "w") as f:
            f.write('[[site]]\nhosts = ["s1.test"]\nacme = true\n\n'
                    '[[site]]\nhosts = ["s2.test", "www.s2.test"]\nacme = true\n\n'
                    '[[site]]\nhosts = ["plain.test"]\n')
        srv = self.server(extra=("--config", conf))
        try:
            def both_valid():
                with urllib.request.urlopen("http://127.0.0.1:%d/server-status" % self.status_port,
                                            timeout=IO_TIMEOUT) as r:
                    acme = json.loads(r.read())["acme"]
                return [a["state"] for a in acme] == ["valid", "valid"] and acme
            self.assertTrue(wait_until(both_valid), both_valid())
            self.assertEqual([a["names"] for a in both_valid()],
                             [["s1.test"], ["s2.test", "www.s2.test"]])
            certs = {}
            for name in ("s1.test", "s2.test", "www.s2.test"):
                status, certs[name] = https_get(self.tls_port, name, self.pebble.root)
                self.assertEqual(status, 200)
            self.assertNotEqual(certs["s1.test"], certs["s2.test"])
            self.assertEqual(certs["s2.test"], certs["www.s2.test"])
            with self.assertRaises(ssl.SSLError):  # a site without acme has no certificate
                https_get(self.tls_port, "plain.test", self.pebble.root)
            srv.stop()
        finally:
            srv.kill()

    def test_a_ca_that_is_down_gives_a_clear_status_and_no_tight_loop(self):
        closed = free_port()
        srv = self.server("down.test", directory="https://localhost:%d/dir" % closed)
        try:
            # Plain HTTP is served at once; the status says what failed and when it retries.
            st = self.wait_state("failing")
            self.assertIn("cannot connect to localhost:%d" % closed, st["error"])
            self.assertEqual(st["failures"], 1)
            self.assertGreater(st["next_attempt_in_seconds"], 30)
            with self.assertRaises(ssl.SSLError):  # no certificate yet: the handshake is refused
                https_get(self.tls_port, "down.test", self.pebble.root)
            mark = srv.log_mark()
            # Two seconds later, still one attempt.
            self.assertFalse(wait_until(lambda: self.status()["failures"] > 1, timeout=2))
            self.assertIsNone(srv.wait_for_log(r"ACME: ordering", start=mark, timeout=0))
            srv.stop()
        finally:
            srv.kill()

    def test_a_refused_validation_is_reported_with_the_cas_words(self):
        # The CA's DNS sends bad.test to an address where nothing listens.
        self.pebble.add_a("bad.test", "127.0.0.2")
        srv = self.server("bad.test")
        try:
            st = self.wait_state("failing")
            self.assertIn("could not validate bad.test by http-01", st["error"])
            self.assertIn("urn:ietf:params:acme:error:", st["error"])
            self.assertIsNotNone(srv.wait_for_log(r"\[error\] ACME: no certificate for bad\.test"))
            srv.stop()
        finally:
            srv.kill()


class AcmeExternalAccountBinding(unittest.TestCase):
    """A CA that ties accounts to its customers' (ZeroSSL, Google Trust Services do)."""
    KEY = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()

    @classmethod
    def setUpClass(cls):
        cls.http_port, cls.tls_port = free_port(), free_port()
        cls.pebble = Pebble(cls.http_port, cls.tls_port, eab_keys={"kid-w2p": cls.KEY})

    @classmethod
    def tearDownClass(cls):
        cls.pebble.stop()

    def test_without_then_with_the_binding(self):
        tmp = tempfile.mkdtemp(prefix="w2p-acme-eab-")
        self.addCleanup(shutil.rmtree, tmp, True)
        status_port = free_port()
        key_file = os.path.join(tmp, "eab.key")
        with open(key_file, "w") as f:
            f.write(self.KEY + "\n")
        common = ["--listen", "127.0.0.1:%d" % self.tls_port, "--http-listen",
                  "127.0.0.1:%d" % status_port, "--redirect-listen",
                  "127.0.0.1:%d" % self.http_port, "--acme-agree-tos", "--acme-directory",
                  self.pebble.directory, "--acme-ca-root", self.pebble.ca, "--acme-dir",
                  tmp + "/acme", "--domain", "eab.test"]

        def acme():
            with urllib.request.urlopen("http://127.0.0.1:%d/server-status" % status_port,
                                        timeout=IO_TIMEOUT) as r:
                return json.loads(r.read())["acme"][0]
        srv = Server(*common)
        try:  # the CA's own words: an account needs the binding
            self.assertTrue(wait_until(lambda: acme()["state"] == "failing"), acme())
            self.assertIn("externalAccountRequired", acme()["error"])
            srv.stop()
        finally:
            srv.kill()
        srv = Server(*common, "--acme-eab-kid", "kid-w2p", "--acme-eab-key-file", key_file)
        try:
            self.assertTrue(wait_until(lambda: acme()["state"] == "valid"), acme())
            self.assertEqual(https_get(self.tls_port, "eab.test", self.pebble.root)[0], 200)
            srv.stop()
        finally:
            srv.kill()
        with open(key_file, "w") as f:
            f.write("not base64!\n")
        r = run_cli(*common, "--acme-eab-kid", "kid-w2p", "--acme-eab-key-file", key_file)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a base64url key", r.stderr.decode())


class AcmeOptions(unittest.TestCase):
    def refused(self, *args):
        r = run_cli("--listen", "127.0.0.1:0", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr.decode()

    def test_site_acme_needs_exact_hosts(self):
        tmp = tempfile.mkdtemp(prefix="w2p-acme-conf-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "w2pserve.toml")
        for body, said in (('hosts = ["*.x.test"]\nacme = true\n', "needs the DNS-01 challenge"),
                           ('host-regex = "x"\nacme = true\n', "needs the site's hosts"),
                           ('hosts = ["x.test"]\nacme = true\ntls-cert = "c.pem"\n'
                            'tls-key = "k.pem"\n', "not both")):
            with open(conf, "w") as f:
                f.write("redirect-listen = [\"127.0.0.1:0\"]\nacme-agree-tos = true\n"
                        "[[site]]\n" + body)
            self.assertIn(said, self.refused("--config", conf))

    def test_bad_configurations_are_refused_before_anything_starts(self):
        self.assertIn("wildcard certificates need the DNS-01 challenge",
                      self.refused("--domain", "*.example.com", "--acme-agree-tos",
                                   "--redirect-listen", "127.0.0.1:0"))
        self.assertIn("give --acme-agree-tos",
                      self.refused("--domain", "example.com", "--redirect-listen", "127.0.0.1:0"))
        self.assertIn("not a DNS name",
                      self.refused("--domain", "exa mple.com", "--acme-agree-tos"))
        self.assertIn("--redirect-listen 0.0.0.0:80",
                      self.refused("--domain", "example.com", "--acme-agree-tos",
                                   "--acme-challenge", "http-01"))
        self.assertIn("https:// URL",
                      self.refused("--domain", "example.com", "--acme-agree-tos",
                                   "--acme-directory", "http://ca.example/dir",
                                   "--redirect-listen", "127.0.0.1:0"))


if __name__ == "__main__":
    main()
