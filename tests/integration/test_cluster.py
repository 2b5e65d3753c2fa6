"""The cluster test (tests/cluster/cluster.py) as part of the suite: three nodes behind HAProxy,
PostgreSQL, reloads and a SIGKILL under load. Its figures are printed."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import BIN, main  # noqa: E402

CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster", "cluster.py")


class Cluster(unittest.TestCase):
    def test_three_nodes_behind_haproxy(self):
        r = subprocess.run([sys.executable, "-B", CLUSTER, "--seconds", "70"],
                           env=dict(os.environ, W2PSERVE_BIN=BIN), capture_output=True,
                           timeout=600)
        out = r.stdout.decode() + r.stderr.decode()
        print("\n" + out, file=sys.stderr)
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("\nOK", out)


if __name__ == "__main__":
    main()
