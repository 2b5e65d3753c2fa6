"""Operations: root refusal and the privilege drop, pidfile, access and error logs (and their
reopening), in-place reloads under load with no failed request, a refused reload, reload
triggers, socket activation and sd_notify without systemd, idle exit."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import (BIN, IO_TIMEOUT, Server, app_dir, main, read_response, run_cli,  # noqa: E402
                     send_request, wait_until)

Q = r'"((?:[^"\\]|\\.)*)"'  # a quoted field, with \" and \\ escapes
COMBINED = re.compile(r'^(\S+) - - \[(\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] ' + Q +
                      r' (\d{3}) (\d+|-) ' + Q + " " + Q + r'(.*)$')


def public_copy(case):
    """A copy of an app any account can read (for --user tests)."""
    tmp = tempfile.mkdtemp(prefix="w2p-ops-")
    os.chmod(tmp, 0o755)
    dst = os.path.join(tmp, case)
    shutil.copytree(app_dir(case), dst)
    for dirpath, dirs, files in os.walk(tmp):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return tmp, dst


def status_ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


@unittest.skipUnless(os.geteuid() == 0, "privilege tests need root (CI runs as root)")
class Privileges(unittest.TestCase):
    def test_python_as_root_is_refused(self):
        r = run_cli("--listen", "127.0.0.1:0", "--app", "app:application", "--pythonpath",
                    app_dir("basic"), allow_root=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to run Python as root: give --user", r.stderr.decode())

    def test_drop_to_nobody_before_python(self):
        tmp, app = public_copy("basic")
        try:
            pidfile = os.path.join(tmp, "w2pserve.pid")
            with Server("--user", "nobody", "--app", "app:application", "--pythonpath", app,
                        "--pidfile", pidfile) as srv:
                uid = status_ids(srv.pid, "Uid")
                gid = status_ids(srv.pid, "Gid")
                nobody = 65534
                self.assertEqual(uid, [nobody] * 4)  # real, effective, saved, filesystem
                self.assertNotIn(0, gid)
                self.assertEqual(srv.request("GET", "/").status, 200)
                with open(pidfile) as f:
                    self.assertEqual(f.read().strip(), str(srv.pid))
                # Python's own view: it never ran as root.
                r = srv.request("GET", "/echo")
                self.assertEqual(r.status, 200)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp)

    def test_unknown_user(self):
        r = run_cli("--listen", "127.0.0.1:0", "--user", "no-such-user-here", "--app",
                    "app:application", "--pythonpath", app_dir("basic"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--user no-such-user-here: no such user", r.stderr.decode())

    def test_unwritable_web2py_folders_are_named(self):
        tmp = tempfile.mkdtemp(prefix="w2p-ops-")
        try:
            os.chmod(tmp, 0o755)
            root = os.path.join(tmp, "web2py")
            shutil.copytree(os.path.join(os.path.dirname(app_dir("basic")), "..", "fixtures", "web2py"), root)
            for dirpath, dirs, files in os.walk(root):
                os.chmod(dirpath, 0o755)
                for f in files:
                    os.chmod(os.path.join(dirpath, f), 0o644)
            with Server("--user", "nobody", "--root", root) as srv:
                line = srv.wait_for_log(r"applications/welcome/sessions is not writable")
                self.assertIsNotNone(line, srv.log_text())
                self.assertIn("chown", line)
                srv.stop()
        finally:
            shutil.rmtree(tmp)


@unittest.skipUnless(os.geteuid() == 0, "privilege tests need root (CI runs as root)")
class PlantedLinks(unittest.TestCase):
    """Root opens the logs and writes the pidfile in folders the service account may own: a
    symlink or hard link it planted there must never aim root at another file."""

    def setUp(self):
        self.tmp, self.app = public_copy("basic")
        self.run_dir = os.path.join(self.tmp, "run")
        os.makedirs(self.run_dir)
        os.chown(self.run_dir, 65534, 65534)  # the service account's own folder
        self.victim = os.path.join(self.tmp, "victim")
        with open(self.victim, "w") as f:
            f.write("precious\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def serve(self, *args, expect_start=True):
        return Server("--user", "nobody", "--app", "app:application", "--pythonpath", self.app,
                      *args, expect_start=expect_start)

    def assert_victim_untouched(self):
        with open(self.victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertEqual(os.stat(self.victim).st_uid, 0)

    def test_symlinked_logs_are_refused(self):
        for flag in ("--access-log", "--error-log"):
            link = os.path.join(self.run_dir, "planted.log")
            os.symlink(self.victim, link)
            srv = self.serve(flag, link, expect_start=False)
            self.assertEqual(srv.proc.wait(timeout=60), 2)
            srv.stop()
            self.assertIn("symbolic link", srv.log_text(), flag)
            self.assert_victim_untouched()
            os.remove(link)

    def test_hard_linked_log_is_refused(self):
        link = os.path.join(self.run_dir, "hard.log")
        os.link(self.victim, link)
        srv = self.serve("--access-log", link, expect_start=False)
        self.assertEqual(srv.proc.wait(timeout=60), 2)
        srv.stop()
        self.assertIn("hard links", srv.log_text())
        self.assert_victim_untouched()

    def test_planted_pidfile_links_are_not_followed(self):
        pidfile = os.path.join(self.run_dir, "w2pserve.pid")
        os.symlink(self.victim, pidfile + ".tmp")
        os.symlink(self.victim, pidfile)
        with self.serve("--pidfile", pidfile) as srv:
            self.assertFalse(os.path.islink(pidfile))
            with open(pidfile) as f:
                self.assertEqual(f.read().strip(), str(srv.pid))
            srv.stop()
        self.assert_victim_untouched()

    def test_logs_made_by_root_belong_to_the_service_account(self):
        access = os.path.join(self.run_dir, "access.log")
        error = os.path.join(self.run_dir, "error.log")
        with self.serve("--access-log", access, "--error-log", error, expect_start=False) as srv:
            listening = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
            self.assertTrue(wait_until(lambda: os.path.exists(error) and
                                       listening.search(open(error).read())))
            srv.port = int(listening.search(open(error).read()).group(1))
            self.assertEqual(srv.request("GET", "/").status, 200)
            for path in (access, error):
                self.assertEqual(os.stat(path).st_uid, 65534, path)
            # So a reload, which re-checks them as that account, is accepted.
            def error_log():
                with open(error) as f:
                    return f.read()
            mark = len(error_log())
            os.kill(srv.pid, signal.SIGHUP)
            self.assertTrue(wait_until(lambda: "reloading (SIGHUP)" in error_log()[mark:]))
            srv.stop()


@unittest.skipUnless(os.geteuid() == 0, "privilege tests need root (CI runs as root)")
class SubcommandsDropPrivileges(unittest.TestCase):
    """Subcommands that run web2py's or the application's code do it as --user, like the server,
    and refuse root without --allow-root."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="w2p-ops-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "web2py")
        shutil.copytree(os.path.join(os.path.dirname(app_dir("basic")), "..", "fixtures", "web2py"),
                        self.root)
        for dirpath, dirs, files in os.walk(self.root):
            os.chown(dirpath, 65534, 65534)
            for f in files:
                os.chown(os.path.join(dirpath, f), 65534, 65534)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_set_admin_password_as_the_service_account(self):
        r = run_cli("--root", self.root, "--user", "nobody", "set-admin-password", "--port", "8001",
                    input=b"s3cret\n", allow_root=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(os.path.join(self.root, "parameters_8001.py")).st_uid, 65534)
        r = run_cli("--root", self.root, "set-admin-password", "--port", "8002", input=b"x\n",
                    allow_root=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to run Python as root", r.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.root, "parameters_8002.py")))

    def test_cron_run_as_the_service_account(self):
        app = os.path.join(self.root, "applications", "welcome")
        os.makedirs(os.path.join(app, "cron"), exist_ok=True)
        with open(os.path.join(app, "cron", "crontab"), "w") as f:
            f.write("0 3 * * * root **applications/welcome/cron/whoami.py\n")
        with open(os.path.join(app, "cron", "whoami.py"), "w") as f:
            f.write("import os\nopen('applications/welcome/whoami.out', 'w').write(str(os.geteuid()))\n")
        for dirpath, dirs, files in os.walk(app):
            os.chown(dirpath, 65534, 65534)
            for f in files:
                os.chown(os.path.join(dirpath, f), 65534, 65534)
        ledger = os.path.join(self.root, "ledger.sqlite")
        r = run_cli("--root", self.root, "--user", "nobody", "--cron-ledger", ledger, "cron", "run",
                    "welcome", "1", allow_root=False)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        with open(os.path.join(app, "whoami.out")) as f:
            self.assertEqual(f.read(), "65534")
        r = run_cli("--root", self.root, "--cron-ledger", ledger, "cron", "run", "welcome", "1",
                    allow_root=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to run Python as root", r.stderr.decode())


class Logs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="w2p-logs-")
        self.www = os.path.join(self.tmp, "www")
        os.makedirs(self.www)
        with open(os.path.join(self.www, "a.txt"), "wb") as f:
            f.write(b"0123456789")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def read(self, path):
        with open(path) as f:
            return f.read().splitlines()

    def test_combined_access_log_and_reopen(self):
        access = os.path.join(self.tmp, "access.log")
        with Server("--app", "app:application", "--pythonpath", app_dir("basic"), "--static",
                    "/s=" + self.www, "--access-log", access) as srv:
            srv.request("GET", "/s/a.txt", headers=[("Referer", "http://ref/"), ("User-Agent", 'ua "q"')])
            srv.request("GET", "/echo?x=1")
            srv.request("GET", "/s/missing")
            srv.request("HEAD", "/s/a.txt")
            srv.stop()
            srv.check_sanitizers()
        lines = self.read(access)
        self.assertEqual(len(lines), 4, lines)
        m = [COMBINED.match(l) for l in lines]
        self.assertTrue(all(m), lines)
        self.assertEqual(m[0].group(1), "127.0.0.1")
        self.assertEqual(m[0].group(3), "GET /s/a.txt HTTP/1.1")
        self.assertEqual((m[0].group(4), m[0].group(5)), ("200", "10"))
        self.assertEqual(m[0].group(6), "http://ref/")
        self.assertEqual(m[0].group(7), 'ua \\"q\\"')  # quotes escaped
        self.assertEqual(m[1].group(3), "GET /echo?x=1 HTTP/1.1")
        self.assertEqual(m[1].group(4), "200")
        self.assertGreater(int(m[1].group(5)), 10)
        self.assertEqual(m[2].group(4), "404")
        self.assertEqual((m[3].group(4), m[3].group(5)), ("200", "-"))  # HEAD: no body

    def test_extended_format_and_sigusr1(self):
        access = os.path.join(self.tmp, "access.log")
        errors = os.path.join(self.tmp, "error.log")
        srv = Server("--app", "app:application", "--pythonpath", app_dir("basic"), "--static",
                     "/s=" + self.www, "--access-log", access, "--access-log-format", "extended",
                     "--error-log", errors, expect_start=False)
        try:
            # The server's own lines go to the error log file, not to standard error.
            self.assertTrue(wait_until(lambda: os.path.exists(errors) and
                                       any("listening on" in l for l in self.read(errors))))
            port = int(re.search(r"listening on http://[^:]+:(\d+)", "\n".join(self.read(errors))).group(1))
            srv.port = port
            srv.request("GET", "/s/a.txt")
            srv.request("GET", "/")
            # logrotate: rename, then SIGUSR1; new lines go to a new file at the old path.
            os.rename(access, access + ".1")
            os.rename(errors, errors + ".1")
            os.kill(srv.pid, signal.SIGUSR1)
            self.assertTrue(wait_until(lambda: os.path.exists(errors) and
                                       any("logs reopened" in l for l in self.read(errors))))
            srv.request("GET", "/s/a.txt?after")
            srv.stop()
            srv.check_sanitizers()
        finally:
            srv.kill()
        old = self.read(access + ".1")
        new = self.read(access)
        self.assertEqual(len(old), 2, old)
        self.assertEqual(len(new), 1, new)
        fields = new[0].split(" ")
        # ... "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %{served}x %v
        self.assertEqual(fields[-2], "static")
        self.assertEqual(fields[-1], "default")
        self.assertTrue(fields[-3].isdigit())
        self.assertIn("app", old[1].split(" ")[-2])

    def test_bad_format_is_a_startup_error(self):
        r = run_cli("--listen", "127.0.0.1:0", "--access-log", os.path.join(self.tmp, "a.log"),
                    "--access-log-format", "%h %Z")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown field %Z", r.stderr.decode())
        r = run_cli("--listen", "127.0.0.1:0", "--access-log", "/nonexistent/dir/a.log")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/dir/a.log", r.stderr.decode())


class Reload(unittest.TestCase):
    def test_relative_paths_and_counters_survive_reloads(self):
        # Started from a folder with relative --config and --root: the server then works from
        # the web2py folder, and every reload reads the same files.
        tmp = tempfile.mkdtemp(prefix="w2p-reload-")
        try:
            shutil.copytree(os.path.join(os.path.dirname(app_dir("basic")), "..", "fixtures",
                                         "web2py"), os.path.join(tmp, "web2py"))
            with open(os.path.join(tmp, "w2pserve.toml"), "w") as f:
                f.write("workers = 1\n")
            with Server("--config", "w2pserve.toml", "--root", "web2py", cwd=tmp) as srv:
                for _ in range(3):
                    self.assertEqual(srv.request("GET", "/welcome/default/index").status, 200)
                for n in (1, 2):
                    mark = srv.log_mark()
                    os.kill(srv.pid, signal.SIGHUP)
                    self.assertIsNotNone(srv.wait_for_log(r"listening on http://", start=mark),
                                         srv.log_text()[-2000:])
                    self.assertIsNone(srv.wait_for_log(r"refused", start=mark, timeout=0))
                    status = json.loads(srv.request("GET", "/server-status").body)
                    self.assertEqual(status["reloads"], n)
                    # Counters go on from the image before (3 pages, then each status request).
                    self.assertGreaterEqual(status["requests"]["app"], 3)
                    self.assertGreaterEqual(status["uptime_seconds"], status["since_reload_seconds"])
                srv.stop()
        finally:
            shutil.rmtree(tmp)

    def test_max_rss_below_the_start_size_is_refused(self):
        r = run_cli("--listen", "127.0.0.1:0", "--app", "app:application", "--pythonpath",
                    app_dir("basic"), "--max-rss", "1M")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-rss 1024 KiB is below the server's size once started", r.stderr.decode())

    def test_five_reloads_under_load_lose_nothing(self):
        with Server("--app", "app:application", "--pythonpath", app_dir("basic")) as srv:
            pid = srv.pid
            stop = threading.Event()
            results = {"ok": 0, "failed": [], "slowest": 0.0}
            lock = threading.Lock()

            def client():
                deadline = time.monotonic() + 120
                while not stop.is_set() and time.monotonic() < deadline:
                    t0 = time.monotonic()
                    try:
                        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
                            send_request(s, "GET", "/", close=True)
                            r = read_response(s)
                        ok = r.status == 200 and r.body
                    except (OSError, EOFError) as e:
                        ok = False
                        r = e
                    with lock:
                        if ok:
                            results["ok"] += 1
                        else:
                            results["failed"].append(repr(r))
                        results["slowest"] = max(results["slowest"], time.monotonic() - t0)

            threads = [threading.Thread(target=client) for _ in range(4)]
            for t in threads:
                t.start()
            try:
                rss = []
                for i in range(5):
                    before = results["ok"]
                    self.assertTrue(wait_until(lambda: results["ok"] >= before + 50), results)
                    rss.append(srv.rss_kib())
                    srv.reload()  # the new image listens again: same pid, same port
                after = results["ok"]
                self.assertTrue(wait_until(lambda: results["ok"] >= after + 50), results)
            finally:
                stop.set()
                for t in threads:
                    t.join(60)
            self.assertEqual(results["failed"], [])
            self.assertEqual(srv.pid, pid)
            self.assertEqual(srv.proc.poll(), None)
            print("\n  reloads: %d requests, none failed, slowest %.0f ms, RSS before each reload %s KiB"
                  % (results["ok"], results["slowest"] * 1000, rss), file=sys.stderr)
            srv.stop()
            srv.check_sanitizers()

    def test_invalid_configuration_refuses_the_reload(self):
        tmp = tempfile.mkdtemp(prefix="w2p-reload-")
        try:
            conf = os.path.join(tmp, "w2pserve.toml")
            with open(conf, "w") as f:
                f.write('workers = 1\n')
            with Server("--config", conf, "--app", "app:application", "--pythonpath",
                        app_dir("basic")) as srv:
                with open(conf, "w") as f:
                    f.write('workers = "many"\n')
                mark = srv.log_mark()
                os.kill(srv.pid, signal.SIGHUP)
                line = srv.wait_for_log(r"reload \(SIGHUP\) refused, still serving", start=mark)
                self.assertIsNotNone(line, srv.log_text())
                self.assertIn("w2pserve.toml:1: workers: expected a whole number", line)
                self.assertEqual(srv.request("GET", "/").status, 200)
                # Numbers out of every range are refusals too, not the end of the process.
                for bad in ('[[site]]\nhosts = ["a.test"]\nrewrite = [{ match = "^/x", '
                            'to = "redirect 2147483648 https://b.test/" }]\n',
                            'max-body = "17179869184G"\n',
                            'session-max-age = "99999999999999999y"\n'):
                    with open(conf, "w") as f:
                        f.write(bad)
                    mark = srv.log_mark()
                    os.kill(srv.pid, signal.SIGHUP)
                    self.assertIsNotNone(srv.wait_for_log(r"reload \(SIGHUP\) refused, still serving",
                                                          start=mark), bad)
                    self.assertEqual(srv.request("GET", "/").status, 200)
                # Fixed: the next SIGHUP reloads.
                with open(conf, "w") as f:
                    f.write('workers = 2\n')
                os.kill(srv.pid, signal.SIGHUP)
                self.assertIsNotNone(srv.wait_for_log(r"2 Python worker", start=mark))
                self.assertEqual(srv.request("GET", "/").status, 200)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp)

    @unittest.skipUnless(os.geteuid() == 0, "needs root (switches to www-data)")
    def test_a_reload_as_the_service_account_refuses_what_only_a_restart_can_change(self):
        # Running as www-data, the next image could not bind new ports or switch users: a
        # configuration that changes them is refused, naming the option, and serving goes on.
        tmp = tempfile.mkdtemp(prefix="w2p-reload-")
        try:
            os.chmod(tmp, 0o755)
            conf = os.path.join(tmp, "w2pserve.toml")
            with open(conf, "w") as f:
                f.write("workers = 1\n")
            with Server("--config", conf, "--user", "www-data", "--app", "app:application",
                        "--pythonpath", app_dir("basic")) as srv:
                for change, option in (('group = "nogroup"\n', "group"),
                                       ('allow-root = true\n', "allow-root")):
                    with open(conf, "w") as f:
                        f.write("workers = 1\n" + change)
                    mark = srv.log_mark()
                    os.kill(srv.pid, signal.SIGHUP)
                    line = srv.wait_for_log(r"reload \(SIGHUP\) refused, still serving",
                                            start=mark)
                    self.assertIsNotNone(line, srv.log_text()[-2000:])
                    self.assertIn(option + " changed: a reload cannot apply it", line)
                    self.assertIn("restart instead", line)
                    self.assertEqual(srv.request("GET", "/").status, 200)
                # Back to what it started with: the next SIGHUP reloads.
                with open(conf, "w") as f:
                    f.write("workers = 2\n")
                mark = srv.log_mark()
                os.kill(srv.pid, signal.SIGHUP)
                self.assertIsNotNone(srv.wait_for_log(r"2 Python worker", start=mark),
                                     srv.log_text()[-2000:])
                self.assertEqual(srv.request("GET", "/").status, 200)
                srv.stop()
                srv.check_sanitizers()
        finally:
            shutil.rmtree(tmp)

    def test_triggers(self):
        tmp = tempfile.mkdtemp(prefix="w2p-reload-")
        try:
            watched = os.path.join(tmp, "routes.py")
            with open(watched, "w") as f:
                f.write("# routes\n")
            with Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                        "--watch", watched, "--max-requests", "20") as srv:
                pid = srv.pid
                mark = srv.log_mark()
                with open(watched, "a") as f:
                    f.write("routes_in = ()\n")
                self.assertIsNotNone(srv.wait_for_log(r"reloading \(.*routes\.py changed\)", start=mark))
                self.assertIsNotNone(srv.wait_for_log(r"listening on", start=mark))
                mark = srv.log_mark()
                for _ in range(25):
                    self.assertEqual(srv.request("GET", "/").status, 200)
                self.assertIsNotNone(srv.wait_for_log(r"reloading \(after \d+ requests\)", start=mark))
                self.assertIsNotNone(srv.wait_for_log(r"listening on", start=mark))
                self.assertEqual(srv.request("GET", "/").status, 200)
                self.assertEqual(srv.pid, pid)
                srv.stop()
        finally:
            shutil.rmtree(tmp)


class Systemd(unittest.TestCase):
    def start_activated(self, sock, extra_env=None, *args):
        """Starts w2pserve as systemd would for a socket unit: the socket as fd 3."""
        env = dict(os.environ, **(extra_env or {}))
        fd = sock.fileno()

        def child():
            if fd != 3:
                os.dup2(fd, 3)
            os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())

        cmd = [BIN, "--app", "app:application", "--pythonpath", app_dir("basic"), *args]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        # env=None: the child's environment is the one preexec_fn edits.
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, preexec_fn=child, close_fds=False)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def test_socket_activation_and_notify(self):
        tmp = tempfile.mkdtemp(prefix="w2p-sd-")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        notify_path = os.path.join(tmp, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(IO_TIMEOUT)
        proc = self.start_activated(listener, {"NOTIFY_SOCKET": notify_path})
        try:
            try:
                ready = notify.recv(4096)
            except TimeoutError:
                proc.kill()
                self.fail("no READY=1; w2pserve said: " + proc.stderr.read().decode())
            self.assertIn(b"READY=1", ready)
            # The passed socket answers (and no default port was bound).
            with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
                send_request(s, "GET", "/", close=True)
                self.assertEqual(read_response(s).status, 200)
            proc.send_signal(signal.SIGHUP)
            self.assertIn(b"RELOADING=1", notify.recv(4096))
            self.assertIn(b"READY=1", notify.recv(4096))
            with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
                send_request(s, "GET", "/", close=True)
                self.assertEqual(read_response(s).status, 200)
            proc.send_signal(signal.SIGTERM)
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertEqual(proc.wait(timeout=60), 0)
            err = proc.stderr.read().decode()
            self.assertIn("listening on http://127.0.0.1:%d" % port, err)
            self.assertNotIn(":8000", err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
            listener.close()
            notify.close()
            shutil.rmtree(tmp)

    def test_idle_exit(self):
        with Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                    "--idle-exit", "1") as srv:
            self.assertEqual(srv.request("GET", "/").status, 200)
            self.assertEqual(srv.proc.wait(timeout=30), 0)
            self.assertIsNotNone(srv.wait_for_log(r"no connection for 1 s: exiting"))


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                       r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? [-+]?([0-9.eE+-]+|Inf|NaN)$')


class Status(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-status-")
        with open(os.path.join(cls.tmp, "a.txt"), "wb") as f:
            f.write(b"hello")
        cls.server = Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                            "--static", "/s=" + cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp)

    def test_json(self):
        import json
        for _ in range(3):
            self.server.request("GET", "/s/a.txt")
            self.server.request("GET", "/")
        self.server.request("GET", "/s/none")
        r = self.server.request("GET", "/server-status")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        st = json.loads(r.body)
        self.assertEqual(st["pid"], self.server.pid)
        self.assertGreaterEqual(st["requests"]["static"], 3)
        self.assertGreaterEqual(st["requests"]["app"], 3)
        self.assertGreaterEqual(st["requests"]["error"], 1)
        self.assertGreaterEqual(st["response_bytes"]["static"], 15)
        self.assertGreater(st["resident_memory_bytes"], 1 << 20)
        self.assertGreaterEqual(st["peak_resident_memory_bytes"], st["resident_memory_bytes"])
        # sys.getallocatedblocks() counts pymalloc's blocks: 0 under PYTHONMALLOC=malloc (the
        # sanitizer pass).
        if os.environ.get("PYTHONMALLOC", "").startswith("malloc"):
            self.assertGreaterEqual(st["python"]["allocated_blocks"], 0)
        else:
            self.assertGreater(st["python"]["allocated_blocks"], 1000)
        self.assertEqual(len(st["python"]["gc_count"]), 3)
        self.assertEqual(st["python"]["busy_workers"], 0)
        self.assertGreaterEqual(st["connections"], 1)  # this one
        buckets = st["latency_seconds"]["buckets"]
        self.assertEqual([b[1] for b in buckets], sorted(b[1] for b in buckets))  # cumulative
        self.assertIn("default", st["sites"])

    def test_prometheus_text(self):
        r = self.server.request("GET", "/server-status?format=prometheus")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        names = set()
        for line in r.body.decode().splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                parts = line.split(" ", 3)
                self.assertEqual(len(parts), 4, line)
                if line.startswith("# TYPE "):
                    self.assertIn(parts[3], ("gauge", "counter", "histogram"), line)
                    names.add(parts[2])
                continue
            self.assertRegex(line, PROM_LINE)
        for name in ("w2pserve_uptime_seconds", "w2pserve_resident_memory_bytes",
                     "w2pserve_requests_total", "w2pserve_request_duration_seconds",
                     "w2pserve_gil_wait_seconds_total", "w2pserve_python_allocated_blocks",
                     "w2pserve_queue_depth", "w2pserve_reloads_total"):
            self.assertIn(name, names)
        self.assertIn('w2pserve_request_duration_seconds_bucket{le="+Inf"}', r.body.decode())

    def test_path_and_allow_options(self):
        # Moved elsewhere, the old path is an ordinary URL (the application's).
        with Server("--app", "app:application", "--pythonpath", app_dir("basic"),
                    "--status-path", "/status") as srv:
            self.assertEqual(srv.request("GET", "/server-status").body, srv.request("GET", "/nothing-here").body.replace(b"/nothing-here", b"/server-status"))
            self.assertEqual(srv.request("GET", "/status").header("Content-Type"), "application/json")
        r = run_cli("--listen", "127.0.0.1:0", "--status-allow", "10.0.0.300")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--status-allow: '10.0.0.300' is not an IP address or CIDR", r.stderr.decode())


if __name__ == "__main__":
    main()
