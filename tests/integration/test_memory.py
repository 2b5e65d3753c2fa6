"""Memory the server gives back: the C heap's freed pages return to the system once the server
has been idle for a second after serving (glibc itself only trims the top of its heap)."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import IO_TIMEOUT, Server, app_dir, main  # noqa: E402

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


if __name__ == "__main__":
    main()
