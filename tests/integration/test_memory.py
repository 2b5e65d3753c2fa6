"""Memory the server gives back (the C heap's freed pages return to the system once the server
has been idle for a second after serving; glibc itself only trims the top of its heap), and the
memory report that says where the rest goes."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, app_dir, main, run_cli  # noqa: E402

APP = ("--app", "app:application", "--pythonpath", app_dir("memory"))


def status(srv):
    return json.loads(srv.request("GET", "/server-status").body)


def wait_for_trims(srv, count):
    """Polls the status page (which never wakes a worker) until `count` idle trims happened."""
    deadline = time.monotonic() + IO_TIMEOUT
    while time.monotonic() < deadline:
        trims = status(srv)["python"]["idle_heap_trims"]
        if trims >= count:
            return trims
        time.sleep(0.05)
    raise AssertionError("no idle heap trim within %s s" % IO_TIMEOUT)


class IdleHeapTrim(unittest.TestCase):
    def test_freed_heap_goes_back_after_an_idle_second(self):
        with Server(*APP) as srv:
            self.assertEqual(status(srv)["python"]["idle_heap_trims"], 0)
            before = srv.rss_kib()
            for _ in range(3):
                self.assertEqual(srv.request("GET", "/churn").body, b"churned")
            grown = srv.rss_kib()
            wait_for_trims(srv, 1)
            after = srv.rss_kib()
            print("RSS KiB: started %d, after churning %d, after the idle trim %d"
                  % (before, grown, after), file=sys.stderr)
            if not os.environ.get("W2PSERVE_SANITIZED"):  # sanitizers keep their own heap
                self.assertGreater(grown - before, 6 * 1024)
                self.assertLess(after - before, 2 * 1024)
            # Serving goes on, and the next idle spell trims again.
            self.assertEqual(srv.request("GET", "/churn").body, b"churned")
            wait_for_trims(srv, 2)


    def test_connections_that_never_reach_python_give_their_memory_back_too(self):
        # 500 idle HTTP/2 connections (nghttp2's sessions), then closed: no worker ran, and
        # the server itself gives the heap back once a second passes without activity.
        import socket
        from w2ptest import wait_until
        with Server(*APP, "--h2c") as srv:
            before = srv.rss_kib()
            conns = []
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                conns.append(s)
            for s in conns:
                s.recv(100)  # the server's SETTINGS: it holds the connection
            grown = srv.rss_kib()
            for s in conns:
                s.close()
            # Polled from /proc, not the status page: a request would be activity.
            back = wait_until(lambda: srv.rss_kib() - before < (grown - before) / 2,
                              timeout=IO_TIMEOUT)
            print("RSS KiB: started %d, 500 idle HTTP/2 connections %d, closed and idle %d"
                  % (before, grown, srv.rss_kib()), file=sys.stderr)
            if not os.environ.get("W2PSERVE_SANITIZED"):  # sanitizers keep their own heap
                self.assertGreater(grown - before, 4 * 1024)
                self.assertTrue(back)
            self.assertEqual(status(srv)["python"]["idle_heap_trims"], 0)  # no worker did it


PARTS = ["w2pserve binary (text, data; with Python's core when linked in)",
         "libpython (shared library)", "Python extension modules (.so)", "OpenSSL (TLS, hashlib)",
         "other shared libraries", "other mapped files", "Python object arenas",
         "C heap (malloc: [heap], large blocks)", "thread stacks"]


class MemoryReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(*APP)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_parts_add_up_to_the_kernels_figure(self):
        self.server.request("GET", "/churn")
        doc = json.loads(self.server.request("GET", "/server-status?memory").body)
        memory = doc["memory"]
        self.assertEqual([p["part"] for p in memory["parts"]], PARTS)
        counted = sum(p["rss_bytes"] for p in memory["parts"])
        self.assertEqual(counted, memory["counted_bytes"])
        # Read a moment apart from VmRSS, by the same process: within 1 MiB.
        self.assertLess(abs(memory["resident_bytes"] - counted), 1 << 20, memory)
        by_part = {p["part"]: p["rss_bytes"] for p in memory["parts"]}
        self.assertGreater(by_part[PARTS[0]], 1 << 20)  # the binary
        self.assertGreater(by_part["thread stacks"], 0)
        self.assertGreater(by_part["C heap (malloc: [heap], large blocks)"], 0)
        if not os.environ.get("W2PSERVE_SANITIZED"):  # sanitizers run Python on plain malloc
            self.assertGreater(memory["python_arenas"], 0)
            self.assertGreater(by_part["Python object arenas"], 256 << 10)
        # The plain status page does not read smaps unless asked.
        self.assertNotIn("memory", json.loads(self.server.request("GET", "/server-status").body))

    def test_memory_report_prints_the_table(self):
        r = run_cli("memory-report", "--listen", "127.0.0.1:%d" % self.server.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout.decode()
        for part in PARTS + ["sum of the parts", "VmRSS (the kernel's figure)"]:
            self.assertIn(part, text)
        r = run_cli("memory-report", "http://127.0.0.1:%d/server-status" % self.server.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Python object arenas allocated:", r.stdout.decode())

    def test_memory_report_errors_are_one_line(self):
        r = run_cli("memory-report", "ftp://127.0.0.1/")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"is not an http://HOST[:PORT]/PATH URL", r.stderr)
        port = self.server.port
        r = run_cli("memory-report", "http://127.0.0.1:%d/not-the-status-page" % port)
        self.assertEqual(r.returncode, 1)  # the application answered: not a status page
        self.assertIn(b"is not a w2pserve status page", r.stderr)
        r = run_cli("memory-report", "--status-path", "/other-status", "--listen",
                    "127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"/other-status is not a w2pserve status page", r.stderr)


if __name__ == "__main__":
    main()
