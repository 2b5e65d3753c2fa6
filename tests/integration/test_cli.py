"""The command line: help, version, clear one-line errors with exit code 2, never a crash."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import Server, app_dir, main, run_cli  # noqa: E402


class Cli(unittest.TestCase):
    def test_help_explains_options(self):
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for opt in ("--listen", "--app", "--workers", "--threads", "--static", "--max-body",
                    "--pythonpath"):
            self.assertIn(opt, out)

    def test_version(self):
        r = run_cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.decode().startswith("w2pserve "))

    def assertOneLineError(self, r, needle):
        self.assertEqual(r.returncode, 2, r.stderr)
        err = r.stderr.decode()
        last = err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("w2pserve: error: "), err)
        self.assertIn(needle, last)

    def test_bad_options(self):
        self.assertOneLineError(run_cli("--workers", "zero"), "workers")
        self.assertOneLineError(run_cli("--no-such-option"), "no-such-option")
        self.assertOneLineError(run_cli("--listen", "127.0.0.1:99999"), "port")
        self.assertOneLineError(run_cli("--static", "/x=/no/such/dir"), "/no/such/dir")
        self.assertOneLineError(run_cli("--app", "justamodule"), "module:callable")

    def test_port_in_use(self):
        with Server("--app", "app:application", "--pythonpath", app_dir("basic")) as srv:
            r = run_cli("--listen", "127.0.0.1:%d" % srv.port, "--app", "app:application",
                        "--pythonpath", app_dir("basic"))
            self.assertOneLineError(r, "cannot listen on 127.0.0.1:%d" % srv.port)

    def test_app_that_fails_to_import(self):
        r = run_cli("--listen", "127.0.0.1:0", "--app", "no_such_module_here:app")
        self.assertOneLineError(r, "no_such_module_here")
        self.assertIn("ModuleNotFoundError", r.stderr.decode())  # the traceback is there too

    def test_app_module_raising_at_import(self):
        r = run_cli("--listen", "127.0.0.1:0", "--app", "broken:application",
                    "--pythonpath", app_dir("broken"))
        self.assertOneLineError(r, "broken")
        self.assertIn("ZeroDivisionError", r.stderr.decode())

    def test_missing_callable(self):
        r = run_cli("--listen", "127.0.0.1:0", "--app", "app:nothing_here",
                    "--pythonpath", app_dir("basic"))
        self.assertOneLineError(r, "nothing_here")

    def test_demo_serves_by_default(self):
        with Server(env={"W2PSERVE_DEMO_DB": os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                          "w2p-cli-demo-%d.sqlite3" % os.getpid())}) as srv:
            r = srv.request("GET", "/")
            self.assertEqual(r.status, 200)
            self.assertIn(b"guestbook", r.body)
            css = srv.request("GET", "/static/style.css")
            self.assertEqual(css.status, 200)
            self.assertEqual(css.header("Content-Type"), "text/css; charset=utf-8")
            post = srv.request("POST", "/sign", body=b"name=tester&message=hello+there",
                               headers=[("Content-Type", "application/x-www-form-urlencoded")])
            self.assertEqual(post.status, 303)
            self.assertIn(b"hello there", srv.request("GET", "/").body)
        os.unlink(os.path.join(os.environ.get("TMPDIR", "/tmp"), "w2p-cli-demo-%d.sqlite3" % os.getpid()))


if __name__ == "__main__":
    main()
