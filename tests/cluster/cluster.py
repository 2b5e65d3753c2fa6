"""The cluster test: three w2pserve nodes behind HAProxy (health checks on --health-path, the
PROXY protocol v2), sharing a throwaway PostgreSQL for rows, sessions and the cron lock. Under
load it reloads each node in turn, then kills one with SIGKILL and starts it again; then it
checks: no failed request during the reloads, failures only while the killed node's requests
were in flight, every acknowledged row in PostgreSQL, sessions that went on across nodes, the
every-minute cron job run once per slot. Loopback only; every wait bounded. Prints the figures.

Usage: cluster.py [--seconds N]   (W2PSERVE_BIN: the binary; default build/w2pserve)"""

import argparse
import http.client
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from w2pcluster import Postgres, free_port  # noqa: E402

BIN = os.environ.get("W2PSERVE_BIN", os.path.join(REPO, "build", "w2pserve"))
CLIENTS = 6


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


class Node:
    def __init__(self, index, tmp, pg):
        self.name = "node%d" % index
        self.port = free_port()
        self.root = os.path.join(tmp, self.name)
        shutil.copytree(os.path.join(REPO, "tests", "fixtures", "web2py"), self.root)
        shutil.copy(os.path.join(HERE, "gluon_main.py"), os.path.join(self.root, "gluon", "main.py"))
        app = os.path.join(self.root, "applications", "app")
        os.makedirs(os.path.join(app, "cron"))
        shutil.copy(os.path.join(HERE, "mark.py"), os.path.join(app, "cron", "mark.py"))
        with open(os.path.join(app, "cron", "crontab"), "w") as f:
            f.write("* * * * * root **applications/app/cron/mark.py\n")
        self.log_path = os.path.join(tmp, self.name + ".log")
        self.env = dict(os.environ, W2P_NODE=self.name, W2P_DB_URL=pg.url)
        self.proc = None
        self.args = [BIN, "--root", self.root, "--listen", "127.0.0.1:%d" % self.port,
                     "--proxy-protocol", "--trusted-proxy", "127.0.0.1", "--health-path",
                     "/healthz", "--drain-delay", "3", "--workers", "2", "--cron",
                     "--cron-lock", pg.url,
                     "--node-name", self.name, "--error-log", self.log_path]
        if os.geteuid() == 0:
            self.args.append("--allow-root")

    def start(self):
        mark = self.log_size()
        with open(self.log_path + ".stderr", "ab") as err:  # sanitizer reports land here
            self.proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        self.wait_log(r"serving web2py", mark, 60)

    def log_size(self):
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0

    def wait_log(self, pattern, start, timeout):
        rx = re.compile(pattern)

        def seen():
            if not os.path.exists(self.log_path):
                return False
            with open(self.log_path, errors="replace") as f:
                f.seek(start)
                return bool(rx.search(f.read()))
        wait_until(seen, timeout, self.name + ": " + pattern)

    def reload(self):
        mark = self.log_size()
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(r"serving web2py", mark, 60)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(next(l for l in f if l.startswith("VmRSS")).split()[1])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class HAProxy:
    def __init__(self, tmp, nodes):
        self.port = free_port()
        self.sock = os.path.join(tmp, "haproxy.sock")
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(os.path.join(REPO, "conf", "haproxy.cfg")) as f:
            text = f.read()
        servers = "".join("    server %s 127.0.0.1:%d\n" % (n.name, n.port) for n in nodes)
        text = (text.replace("bind :80", "bind 127.0.0.1:%d" % self.port)
                    .replace("stats socket /run/haproxy/admin.sock", "stats socket " + self.sock)
                    .replace("    server node1 10.0.0.11:8000\n", "")
                    .replace("    server node2 10.0.0.12:8000\n", "")
                    .replace("    server node3 10.0.0.13:8000\n", servers))
        text = re.sub(r"(?m)^\s*(log|chroot|user|group|daemon)\b.*\n", "", text)
        text = text.replace("maxconn 20000", "maxconn 1000")  # within this shell's fd limit
        with open(cfg, "w") as f:
            f.write(text)
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def status(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(self.sock)
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return {}
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == "nodes" and row.get("svname", "").startswith("node"):
                out[row["svname"]] = row["status"]
        return out

    def wait_all_up(self, names, timeout=30):
        try:
            wait_until(lambda: all(self.status().get(n) == "UP" for n in names), timeout,
                       "HAProxy to see " + ", ".join(names) + " UP")
        except RuntimeError as e:
            raise RuntimeError("%s (HAProxy says %s; its exit code %s)" %
                               (e, self.status(), self.proc.poll())) from None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Load:
    """CLIENTS threads, each a browser-like client (keep-alive, its session cookie): it writes a
    row, then reads its session, again and again; every answer checked."""

    def __init__(self, port):
        self.port = port
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []  # (time, what)
        self.rows = []  # acknowledged row ids
        self.sessions = {}  # client -> [(count, node)]
        self.threads = [threading.Thread(target=self.client, args=(i,)) for i in range(CLIENTS)]

    def client(self, i):
        name = "c%d" % i
        cookie = None
        conn = None
        seq = 0
        deadline = time.monotonic() + 600
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            seq += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/app/default/write", body="client=%s&seq=%d" % (name, seq),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError("write: HTTP %d %s" % (r.status, body[:80]))
                row = json.loads(body)["id"]
                conn.request("GET", "/app/default/session",
                             headers={"Cookie": cookie} if cookie else {})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError("session: HTTP %d %s" % (r.status, body[:80]))
                if r.getheader("Set-Cookie"):
                    cookie = r.getheader("Set-Cookie").split(";")[0]
                s = json.loads(body)
                with self.lock:
                    self.ok += 2
                    self.rows.append(row)
                    self.sessions.setdefault(name, []).append((s["count"], s["node"]))
            except (OSError, http.client.HTTPException, RuntimeError, ValueError) as e:
                with self.lock:
                    self.failed.append((time.monotonic(), "%s: %r" % (name, e)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(60)

    def progress(self, n, timeout=60):
        start = self.ok
        wait_until(lambda: self.ok >= start + n, timeout, "%d more answers" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=70,
                    help="run at least this long (a cron slot needs a minute boundary)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="w2p-cluster-")
    os.chmod(tmp, 0o755)
    pg = Postgres()
    nodes, haproxy, load = [], None, None
    started = time.monotonic()
    try:
        pg.query("CREATE TABLE rows (id serial PRIMARY KEY, node text, client text, seq int,"
                 " created timestamptz DEFAULT now())")
        pg.query("CREATE TABLE web2py_session_app (id text PRIMARY KEY, data text)")
        pg.query("CREATE TABLE cron_marks (node text, minute bigint)")
        nodes = [Node(i, tmp, pg) for i in (1, 2, 3)]
        for n in nodes:
            n.start()
        haproxy = HAProxy(tmp, nodes)
        haproxy.wait_all_up([n.name for n in nodes])
        load = Load(haproxy.port)
        load.start()
        load.progress(200)
        rss = {n.name: n.rss_kib() for n in nodes}

        # Reloads, one node at a time.
        reload_start = time.monotonic()
        for n in nodes:
            n.reload()
            haproxy.wait_all_up([n.name])
            load.progress(100)
        reload_end = time.monotonic()
        failed_in_reloads = [f for f in load.failed if reload_start <= f[0] <= reload_end]

        # SIGKILL one node, then start it again.
        victim = nodes[1]
        kill_at = time.monotonic()
        victim.proc.kill()
        victim.proc.wait()
        load.progress(100)
        victim.start()
        haproxy.wait_all_up([victim.name])
        load.progress(200)
        kill_end = time.monotonic()

        # Long enough for a cron slot (a minute boundary) while serving.
        left = args.seconds - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)  # the load keeps running meanwhile: a span of time, not a sync
        load.stop()
        elapsed = time.monotonic() - started

        # The checks.
        problems = []
        if failed_in_reloads:
            problems.append("failed during reloads: %s" % failed_in_reloads[:5])
        outside = [f for f in load.failed if not kill_at <= f[0] <= kill_end]
        if outside:
            problems.append("failed outside the kill: %s" % outside[:5])
        stored = {r[0] for r in pg.query("SELECT id FROM rows")}
        missing = [r for r in load.rows if r not in stored]
        if missing:
            problems.append("acknowledged rows missing: %s" % missing[:10])
        broken_sessions, moved = [], 0
        for client, seen in load.sessions.items():
            counts = [c for c, _ in seen]
            # A request whose answer was lost in the kill may have counted: never backwards.
            if any(b <= a for a, b in zip(counts, counts[1:])):
                broken_sessions.append(client)
            moved += len({node for _, node in seen}) > 1
        if broken_sessions:
            problems.append("sessions that went backwards: %s" % broken_sessions)
        claims = pg.query("SELECT slot, node, status FROM w2pserve_cron_claims ORDER BY slot")
        marks = pg.query("SELECT minute, count(*) FROM cron_marks GROUP BY minute ORDER BY minute")
        finished = [c for c in claims if c[2] is not None]
        if not finished:
            problems.append("no cron slot ran (run for at least --seconds 70)")
        if any(count != 1 for _, count in marks):
            problems.append("a cron slot ran more than once: %s" % marks)
        if sorted(m for m, _ in marks) != sorted(c[0] for c in claims if c[2] == "ok"):
            problems.append("cron marks %s do not match the claims %s" % (marks, claims))

        for n in nodes:
            with open(n.log_path + ".stderr", errors="replace") as f:
                m = re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error: ", f.read())
            if m:
                problems.append("%s: sanitizer report (%s)" % (n.name, n.log_path + ".stderr"))
        by_node = dict(pg.query("SELECT node, count(*) FROM rows GROUP BY node"))
        print("cluster: 3 nodes behind HAProxy (PROXY v2, health checks), PostgreSQL; %.0f s" %
              elapsed)
        print("  requests answered: %d; failed: %d (during the 3 reloads: %d; while node2 was "
              "killed and restarted: %d)" % (load.ok, len(load.failed), len(failed_in_reloads),
                                              len(load.failed) - len(outside)))
        for t, what in load.failed[:10]:
            print("    failure at +%.1f s: %s" % (t - started, what))
        print("  rows acknowledged: %d, all in PostgreSQL: %s; rows per node: %s" %
              (len(load.rows), not missing, by_node))
        print("  sessions: %d clients, %d served by more than one node, none went backwards: %s" %
              (len(load.sessions), moved, not broken_sessions))
        print("  cron: %d slot(s) claimed %s; marks per slot %s" %
              (len(claims), [(c[0] % 3600 // 60, c[1], c[2]) for c in claims],
               [c for _, c in marks]))
        print("  RSS per node under load (KiB): %s" % rss)
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems))
            return 1
        print("OK")
        return 0
    finally:
        if load:
            load.stop()
        if haproxy:
            haproxy.stop()
        for n in nodes:
            n.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
