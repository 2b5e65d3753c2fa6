"""The Debian package, the way an administrator uses it: scripts/package.sh builds it from this
Release build, `apt-get install ./dist/w2pserve_*.deb` installs it, the installed binary serves a
web2py tree as the unit runs it (--config, --user www-data, logs under /var/log/w2pserve) with its
Python package from /usr/share (not from this source tree), reloads in place, and `apt-get
remove` then `purge` take everything away again. Changes the machine (it installs a package),
so it runs only as root: otherwise it exits 77, which ctest reports as skipped. Registered only
for Release builds without sanitizers (the package is built from the Release binary).

Run: W2PSERVE_BIN=build/w2pserve /usr/bin/python3.11 -B tests/integration/test_package.py
"""

import gzip
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import BIN, FIXTURES, Server  # noqa: E402

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALLED = "/usr/bin/w2pserve"
UNIT = "/usr/lib/systemd/system/w2pserve.service"


def run(*cmd, check=True, timeout=600):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=env)
    out = r.stdout.decode(errors="replace")
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, out))
    return r.returncode, out


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "w2pserve"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0 and b"installed" in r.stdout and b"not-installed" not in r.stdout


def owner(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if installed():
            raise unittest.SkipTest("a w2pserve package is already installed on this machine: "
                                    "this test would replace it")
        build = os.path.dirname(os.path.abspath(BIN))
        _, out = run("bash", os.path.join(SOURCE, "scripts", "package.sh"), build)
        print("\n  " + out.strip().replace("\n", "\n  "))
        cls.deb = out.strip().splitlines()[-2].split()[0]  # "<path> (<size>...)"
        assert cls.deb.endswith(".deb") and os.path.isfile(cls.deb), out

    def tearDown(self):
        if installed():
            run("apt-get", "purge", "-y", "w2pserve", check=False)

    def test_install_serve_reload_remove(self):
        _, out = run("apt-get", "install", "-y", "--no-install-recommends", self.deb)
        self.assertTrue(installed())
        # No web2py at /var/www/web2py here: the service is not started, and the admin is told
        # what to do.
        self.assertIn("edit /etc/w2pserve/w2pserve.toml", out)
        for path in (INSTALLED, UNIT, "/usr/lib/systemd/system/w2pserve.socket",
                     "/etc/logrotate.d/w2pserve", "/etc/w2pserve/w2pserve.toml",
                     "/usr/share/w2pserve/python/w2pserve/__init__.py",
                     "/usr/share/doc/w2pserve/copyright",
                     "/usr/share/doc/w2pserve/examples/w2pserve.toml"):
            self.assertTrue(os.path.isfile(path), path)
        with gzip.open("/usr/share/man/man1/w2pserve.1.gz", "rt") as f:
            man = f.read()
        self.assertIn("\\fB\\-\\-listen\\fR", man)
        self.assertEqual(owner("/var/log/w2pserve"), "www-data")
        self.assertEqual(owner("/var/cache/w2pserve"), "www-data")
        self.assertEqual(owner("/var/lib/w2pserve"), "www-data")  # --acme-dir's default
        # The unit as installed: systemd reads it without a complaint.
        _, out = run("systemd-analyze", "verify", "--man=no", UNIT)
        self.assertEqual(out.strip(), "", out)
        with open(UNIT) as f:
            self.assertIn("ExecStart=/usr/bin/w2pserve --config /etc/w2pserve/w2pserve.toml "
                          "--user www-data", f.read())
        # The packaged default configuration is valid once its web2py folder exists.
        _, out = run(INSTALLED, "check-config", "/etc/w2pserve/w2pserve.toml", check=False)
        self.assertIn("/var/www/web2py", out)

        self.serve_as_the_unit_does()

        # An administrator's edit of the configuration survives a reinstall (a conffile).
        with open("/etc/w2pserve/w2pserve.toml", "a") as f:
            f.write("# edited by the administrator\n")
        run("apt-get", "install", "-y", "--reinstall", self.deb)
        with open("/etc/w2pserve/w2pserve.toml") as f:
            self.assertIn("# edited by the administrator", f.read())

        run("apt-get", "remove", "-y", "w2pserve")
        self.assertFalse(os.path.exists(INSTALLED))
        self.assertFalse(os.path.exists(UNIT))
        self.assertFalse(os.path.exists("/usr/share/w2pserve"))
        self.assertTrue(os.path.exists("/etc/w2pserve/w2pserve.toml"))  # kept until purge
        run("apt-get", "purge", "-y", "w2pserve")
        for path in ("/etc/w2pserve", "/etc/logrotate.d/w2pserve", "/var/log/w2pserve",
                     "/var/cache/w2pserve", "/var/lib/w2pserve", "/usr/share/doc/w2pserve"):
            self.assertFalse(os.path.exists(path), path)
        self.assertFalse(installed())

    def serve_as_the_unit_does(self):
        tmp = tempfile.mkdtemp(prefix="w2p-package-")
        try:
            os.chmod(tmp, 0o755)
            root = os.path.join(tmp, "web2py")
            shutil.copytree(os.path.join(FIXTURES, "web2py"), root)
            run("chown", "-R", "www-data:www-data", root)
            config = os.path.join(tmp, "w2pserve.toml")
            with open(config, "w") as f:
                f.write('root = "%s"\naccess-log = "/var/log/w2pserve/access.log"\n'
                        'compress-cache = "/var/cache/w2pserve"\nlog-level = "debug"\n' % root)
            # Started as the unit starts it, from /: nothing of this source tree is used.
            with Server("--config", config, "--user", "www-data", binary=INSTALLED,
                        cwd="/") as srv:
                self.assertIsNotNone(srv.wait_for_log(
                    r"w2pserve's Python package: /usr/bin/\.\./share/w2pserve/python", timeout=0),
                    srv.log_text()[-2000:])
                self.assertEqual(srv.request("GET", "/welcome/default/index").status, 200)
                self.assertEqual(owner("/var/log/w2pserve/access.log"), "www-data")
                mark = srv.log_mark()
                os.kill(srv.pid, signal.SIGHUP)
                self.assertIsNotNone(srv.wait_for_log(r"listening on http://", start=mark),
                                     srv.log_text()[-2000:])
                self.assertIsNone(srv.wait_for_log(r"refused", start=mark, timeout=0))
                self.assertEqual(srv.request("GET", "/welcome/default/index").status, 200)
                srv.stop()
                self.assertEqual(srv.proc.returncode, 0)
            with open("/var/log/w2pserve/access.log") as f:
                self.assertEqual(sum("/welcome/default/index" in line for line in f), 2)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_package: installs a Debian package, so it runs only as root (skipped)")
        sys.exit(77)
    unittest.main(verbosity=2)
