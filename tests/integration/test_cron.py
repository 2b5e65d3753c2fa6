"""web2py cron inside the server process (--cron) on the fixture tree: a * job that writes a row
into the application's SQLite database through its models and a ** job without models, both
observed to run in the server's own process (same pid, no child process), the timeout, skipped
external commands, bad crontab lines, the ledger across a restart, the status page, and the
session janitor."""

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import FIXTURES, Server, main, wait_until  # noqa: E402

MODEL = '''
import os, sqlite3
db = sqlite3.connect(os.path.join("applications", "cronapp", "databases", "storage.sqlite"))
db.execute("CREATE TABLE IF NOT EXISTS marks (pid INTEGER, kind TEXT)")
'''

TASK = '''
import os
db.execute("INSERT INTO marks VALUES (?, ?)", (os.getpid(), "models"))
db.commit()
'''

PLAIN = '''
import os
with open(os.path.join("applications", "cronapp", "plain.out"), "w") as f:
    f.write("%d %s" % (os.getpid(), "db" in globals()))
'''

# Busy: an exception raised into a thread lands at its next bytecode (a job blocked in a C call
# such as time.sleep gets it when the call returns).
SLEEPY = '''
import time
end = time.time() + 60
while time.time() < end:
    pass
'''

CRONTAB = '''# jobs for the test
@reboot root *applications/cronapp/cron/task.py
@reboot root **applications/cronapp/cron/plain.py
@reboot root **applications/cronapp/cron/sleepy.py
@reboot root /bin/echo external
61 * * * * root **applications/cronapp/cron/never.py
0 3 * * * root **applications/cronapp/cron/nightly.py
'''


def make_tree():
    tmp = tempfile.mkdtemp(prefix="w2p-cron-")
    root = os.path.join(tmp, "web2py")
    shutil.copytree(os.path.join(FIXTURES, "web2py"), root)
    app = os.path.join(root, "applications", "cronapp")
    for d in ("models", "cron", "databases", "sessions", "errors"):
        os.makedirs(os.path.join(app, d))
    files = {"models/db.py": MODEL, "cron/task.py": TASK, "cron/plain.py": PLAIN,
             "cron/sleepy.py": SLEEPY, "cron/crontab": CRONTAB}
    for name, text in files.items():
        with open(os.path.join(app, name), "w") as f:
            f.write(text)
    return tmp, root, app


def children(pid):
    path = "/proc/%d/task" % pid
    out = set()
    for tid in os.listdir(path):
        try:
            with open(os.path.join(path, tid, "children")) as f:
                out.update(f.read().split())
        except OSError:
            pass
    return out


class Cron(unittest.TestCase):
    def test_jobs_run_in_process(self):
        tmp, root, app = make_tree()
        ledger = os.path.join(tmp, "ledger.sqlite")
        try:
            # An expired and a fresh session file, an old ticket.
            old = time.time() - 10 * 86400
            for name, when in (("old-session", old), ("new-session", time.time())):
                p = os.path.join(app, "sessions", name)
                open(p, "w").close()
                os.utime(p, (when, when))
            t = os.path.join(app, "errors", "old-ticket")
            open(t, "w").close()
            os.utime(t, (time.time() - 40 * 86400,) * 2)
            with Server("--root", root, "--cron", "--cron-timeout", "2", "--cron-ledger", ledger) as srv:
                db = os.path.join(app, "databases", "storage.sqlite")
                self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(app, "plain.out"))))
                with open(os.path.join(app, "plain.out")) as f:
                    pid, models = f.read().split()
                self.assertEqual(int(pid), srv.pid)  # in the server's own process
                self.assertEqual(models, "False")  # ** runs without the models
                self.assertTrue(wait_until(lambda: os.path.exists(db)))
                rows = sqlite3.connect(db).execute("SELECT pid, kind FROM marks").fetchall()
                self.assertEqual(rows, [(srv.pid, "models")])
                self.assertEqual(children(srv.pid), set())  # no subprocess
                # The runaway job is stopped by its timeout; the server keeps serving.
                self.assertIsNotNone(srv.wait_for_log(r"sleepy\.py\): still running after 2 s"))
                self.assertIsNotNone(srv.wait_for_log(r"sleepy\.py\): timeout after"))
                self.assertEqual(srv.request("GET", "/welcome/default/index").status, 200)
                self.assertIsNotNone(srv.wait_for_log(r"/bin/echo external\): skipped"))
                self.assertIsNotNone(srv.wait_for_log(r"cron/crontab:6: '61' is not a valid minute"))
                # The janitor ran at start: only the expired files went.
                self.assertTrue(wait_until(lambda: not os.path.exists(os.path.join(app, "sessions", "old-session"))))
                self.assertTrue(os.path.exists(os.path.join(app, "sessions", "new-session")))
                self.assertFalse(os.path.exists(t))
                # The status page lists the jobs.
                st = json.loads(srv.request("GET", "/server-status").body)
                by_line = {j["line"]: j for j in st["cron"]}
                self.assertEqual(by_line[2]["last_status"], "ok")
                self.assertEqual(by_line[4]["last_status"], "timeout")
                self.assertIsNone(by_line[7]["last_status"])
                self.assertGreater(by_line[7]["next_run"], time.time())
                srv.stop()
                srv.check_sanitizers()
            runs = sqlite3.connect(ledger).execute(
                "SELECT job, status, duration_ms, output FROM runs ORDER BY id").fetchall()
            status = {job: s for job, s, _, _ in runs}
            self.assertEqual(status["*applications/cronapp/cron/task.py"], "ok")
            self.assertEqual(status["**applications/cronapp/cron/plain.py"], "ok")
            self.assertEqual(status["**applications/cronapp/cron/sleepy.py"], "timeout")
            self.assertEqual(status["/bin/echo external"], "skipped")
            sleepy = [r for r in runs if r[0].endswith("sleepy.py")][0]
            self.assertIn("TimeoutError", sleepy[3])
            self.assertGreaterEqual(sleepy[2], 2000)
            # A restart keeps the ledger (and @reboot runs again).
            with Server("--root", root, "--cron", "--cron-timeout", "1", "--cron-ledger", ledger) as srv:
                self.assertIsNotNone(srv.wait_for_log(r"plain\.py\): ok"))
                srv.stop()
            count = sqlite3.connect(ledger).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            self.assertGreaterEqual(count, len(runs) + 2)
        finally:
            shutil.rmtree(tmp)

    def test_command_line_and_missed_runs(self):
        from w2ptest import run_cli
        tmp, root, app = make_tree()
        ledger = os.path.join(tmp, "ledger.sqlite")
        try:
            with open(os.path.join(app, "cron", "crontab"), "w") as f:
                f.write("#w2pserve: catch-up\n0 3 * * * root **applications/cronapp/cron/plain.py\n"
                        "0 4 * * * root *applications/cronapp/cron/task.py\n")
            # cron run: the job on line 2, now, in the w2pserve process itself.
            r = run_cli("--root", root, "--cron-ledger", ledger, "cron", "run", "cronapp", "2")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"plain.py: ok in", r.stdout)
            with open(os.path.join(app, "plain.out")) as f:
                self.assertEqual(f.read().split()[1], "False")
            r = run_cli("--root", root, "--cron-ledger", ledger, "cron", "run", "cronapp", "9")
            self.assertEqual(r.returncode, 2)
            self.assertIn(b"has no job on line 9", r.stderr)
            # Pretend both jobs last ran two days ago: both are reported as missed, only the
            # one that opted in runs at start.
            db = sqlite3.connect(ledger)
            long_ago = int(time.time()) - 2 * 86400
            db.execute("UPDATE runs SET started = ?", (long_ago,))
            db.execute("INSERT INTO runs(app, job, started, status) VALUES(?, ?, ?, ?)",
                       ("cronapp", "*applications/cronapp/cron/task.py", long_ago, "ok"))
            db.commit()
            db.close()
            os.remove(os.path.join(app, "plain.out"))
            with Server("--root", root, "--cron", "--cron-ledger", ledger) as srv:
                self.assertIsNotNone(srv.wait_for_log(r"crontab:2: runs were missed .*running it once now"))
                self.assertIsNotNone(srv.wait_for_log(r"crontab:3: runs were missed while the server was down \(first due \d+ s ago\)$"))
                self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(app, "plain.out"))))
                srv.stop()
            self.assertFalse(os.path.exists(os.path.join(app, "databases", "storage.sqlite")))
            # cron list: both jobs, their next and last run.
            r = run_cli("--root", root, "--cron-ledger", ledger, "cron", "list")
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.decode().splitlines()
            self.assertTrue(lines[0].startswith("app"))
            plain = [l for l in lines if "plain.py" in l][0]
            self.assertIn("cronapp", plain)
            self.assertIn(" ok ", plain)
            self.assertRegex(plain, r"\d{4}-\d\d-\d\d 03:00")
        finally:
            shutil.rmtree(tmp)

    def test_reboot_jobs_once_per_start_and_missing_folders_made(self):
        # An application copied from git has no databases/ yet: its @reboot job, whose models
        # open a database there, works as after a first request.
        tmp, root, app = make_tree()
        try:
            shutil.rmtree(os.path.join(app, "databases"))
            with open(os.path.join(app, "cron", "crontab"), "w") as f:
                f.write("@reboot root *applications/cronapp/cron/task.py\n")
            ledger = os.path.join(tmp, "ledger.sqlite")
            with Server("--root", root, "--cron", "--cron-ledger", ledger) as srv:
                self.assertIsNotNone(srv.wait_for_log(r"task\.py\): ok in"), srv.log_text())
                self.assertTrue(os.path.isdir(os.path.join(app, "databases")))
                # A reload is the same server: @reboot does not run again.
                mark = srv.log_mark()
                os.kill(srv.pid, 1)  # SIGHUP
                self.assertIsNotNone(srv.wait_for_log(r"listening on http://", start=mark))

                def board():
                    r = srv.request("GET", "/server-status")
                    return json.loads(r.body)["cron"]

                self.assertTrue(wait_until(lambda: board() != []))
                job = board()[0]
                self.assertEqual(job["next_run"], 0)
                self.assertEqual(job["last_status"], "ok")
                srv.stop()
            runs = sqlite3.connect(ledger).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            self.assertEqual(runs, 1)
            # A new start runs it again.
            with Server("--root", root, "--cron", "--cron-ledger", ledger) as srv:
                self.assertIsNotNone(srv.wait_for_log(r"task\.py\): ok in"))
                srv.stop()
        finally:
            shutil.rmtree(tmp)

    def test_cron_needs_root(self):
        from w2ptest import run_cli
        r = run_cli("--listen", "127.0.0.1:0", "--cron")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--cron runs web2py's cron: it needs --root", r.stderr.decode())


if __name__ == "__main__":
    main()
