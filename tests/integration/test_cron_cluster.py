"""Cron on one node only: two w2pserve nodes (each its own web2py tree, as on two machines)
share a PostgreSQL database through --cron-lock; an every-minute job runs once per slot, and
the claims table says which node ran it. PostgreSQL is a throwaway cluster (w2pcluster.py)."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2pcluster import Postgres  # noqa: E402
from w2ptest import FIXTURES, Server, main, run_cli, wait_until  # noqa: E402

MARK = '''
import os, time
with open(os.environ["W2P_MARKS"], "a") as f:
    f.write("%s %d\\n" % (os.environ["W2P_NODE"], int(time.time())))
'''
CRONTAB = "* * * * * root **applications/cronapp/cron/mark.py\n"


def make_tree(tmp, name):
    root = os.path.join(tmp, name)
    shutil.copytree(os.path.join(FIXTURES, "web2py"), root)
    app = os.path.join(root, "applications", "cronapp")
    for d in ("models", "cron", "databases", "sessions", "errors"):
        os.makedirs(os.path.join(app, d))
    with open(os.path.join(app, "cron", "mark.py"), "w") as f:
        f.write(MARK)
    with open(os.path.join(app, "cron", "crontab"), "w") as f:
        f.write(CRONTAB)
    return root


class CronCluster(unittest.TestCase):
    def test_each_slot_runs_on_one_node_only(self):
        pg = Postgres()
        tmp = tempfile.mkdtemp(prefix="w2p-cron-cluster-")
        marks = os.path.join(tmp, "marks")
        nodes = []
        try:
            for name in ("node-a", "node-b"):
                nodes.append(Server("--root", make_tree(tmp, name), "--cron", "--cron-lock", pg.url,
                                    "--node-name", name, "--log-level", "debug",
                                    env={"W2P_MARKS": marks, "W2P_NODE": name}))

            for n in nodes:
                self.assertIsNotNone(n.wait_for_log(r"cron: each job once per slot across the "
                                                    r"nodes sharing --cron-lock"))

            def claims():
                return pg.query("SELECT node, slot, status FROM w2pserve_cron_claims"
                                " WHERE status IS NOT NULL ORDER BY slot")

            # The next minute's slot (at most a minute away), run and finished.
            self.assertTrue(wait_until(lambda: claims(), timeout=90), "no slot ran")
            rows = claims()
            self.assertEqual(len(rows), 1, rows)
            node, slot, status = rows[0]
            self.assertEqual(status, "ok")
            self.assertEqual(slot % 60, 0)  # the minute's slot, the same key on both nodes
            with open(marks) as f:
                lines = f.read().split("\n")[:-1]
            self.assertEqual([l.split()[0] for l in lines], [node])  # run once, by that node
            other = nodes[1] if node == "node-a" else nodes[0]
            self.assertIsNotNone(other.wait_for_log(
                r"cronapp cron line 1: not run on this node: (another node claimed this slot|"
                r"the job's lease is held)", timeout=5))
            for n in nodes:
                n.stop()
        finally:
            for n in nodes:
                n.kill()
            pg.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_cron_lock_is_checked(self):
        r = run_cli("--listen", "127.0.0.1:0", "--root", os.path.join(FIXTURES, "web2py"),
                    "--cron", "--cron-lock", "mysql://x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("a PostgreSQL URI", r.stderr.decode())


if __name__ == "__main__":
    main()
