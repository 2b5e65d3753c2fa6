"""Python workers serve requests side by side: 200 requests over 20 keep-alive connections to an
application that sleeps 50 ms (tests/apps/sleepy), served with --workers 4.

The application reports its thread and when (time.monotonic(), one clock for the whole process)
it entered and left; the overlap is computed from those intervals, never from wall-clock time
measured by the test.

Run: W2PSERVE_BIN=build/w2pserve /usr/bin/python3.11 -B tests/integration/test_concurrency.py
"""

import json
import os
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import *  # noqa: E402,F403  (Server, send_request, read_response, ...)

WORKERS = 4
CONNECTIONS = 20
PER_CONNECTION = 10
TROUBLE = re.compile(r"AssertionError|WSGIWarning|garbage collected without being closed|"
                     r"\[error\]|\[warn\]")


def max_overlap(intervals):
    """The largest number of intervals open at one instant (an end at t comes before a start
    at the same t)."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


class Concurrency(unittest.TestCase):
    def test_keep_alive_connections_share_four_workers(self):
        results = {}
        failures = []

        def client(conn):
            try:
                responses = []
                with server.connect(timeout=max(IO_TIMEOUT, 60)) as sock:
                    targets = ["/?conn=%d&seq=%d" % (conn, i) for i in range(PER_CONNECTION)]
                    if conn % 2:
                        # Pipelined: every request first, then every response, in order.
                        for t in targets:
                            send_request(sock, "GET", t)
                        for _ in targets:
                            responses.append(read_response(sock))
                    else:
                        for t in targets:
                            send_request(sock, "GET", t)
                            responses.append(read_response(sock))
                results[conn] = responses
            except Exception as e:  # reported by the main thread
                failures.append("connection %d: %r" % (conn, e))

        with Server("--app", "app:application", "--pythonpath", app_dir("sleepy"),
                    "--workers", str(WORKERS), env={"PYTHONDONTWRITEBYTECODE": "1"}) as server:
            threads = [threading.Thread(target=client, args=(c,), daemon=True)
                       for c in range(CONNECTIONS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            self.assertFalse(any(t.is_alive() for t in threads), "clients still waiting")
            self.assertEqual(failures, [])
            log = [l for l in server.lines if TROUBLE.search(l)]
            self.assertEqual(log, [], "\n".join(log))

        self.assertEqual(sorted(results), list(range(CONNECTIONS)))
        intervals, threads_seen = [], set()
        for conn, responses in results.items():
            self.assertEqual(len(responses), PER_CONNECTION)
            for seq, resp in enumerate(responses):
                self.assertEqual(resp.status, 200, resp)
                self.assertNotEqual((resp.header("Connection") or "").lower(), "close",
                                    "the server closed a keep-alive connection")
                out = json.loads(resp.body)
                # Each response answers its own request, in request order.
                self.assertEqual((out["conn"], out["seq"]), (str(conn), str(seq)))
                self.assertLess(out["start"], out["end"])
                intervals.append((out["start"], out["end"]))
                threads_seen.add(out["thread"])

        self.assertEqual(len(intervals), CONNECTIONS * PER_CONNECTION)
        overlap = max_overlap(intervals)
        self.assertGreaterEqual(overlap, 2, "requests never overlapped in the application")
        self.assertLessEqual(overlap, WORKERS, "more requests in the application than workers")
        self.assertGreaterEqual(len(threads_seen), 2)
        self.assertLessEqual(len(threads_seen), WORKERS,
                             "requests were served by more threads than --workers")


if __name__ == "__main__":
    main()
