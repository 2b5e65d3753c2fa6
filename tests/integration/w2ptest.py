"""Helpers for integration tests: start the real w2pserve binary on an ephemeral loopback port,
speak raw HTTP/1.1 to it, and read its error log.

Every wait here is on an event (a log line, a socket read, a process exit) with a bound, never a
sleep. Run with Debian's python3.11; W2PSERVE_BIN names the binary.
"""

import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import unittest

BIN = os.environ.get("W2PSERVE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "w2pserve"
)
HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
APPS = os.path.join(TESTS, "apps")
FIXTURES = os.path.join(TESTS, "fixtures")
START_TIMEOUT = float(os.environ.get("W2PSERVE_START_TIMEOUT", "60"))
IO_TIMEOUT = float(os.environ.get("W2PSERVE_IO_TIMEOUT", "30"))

_LISTEN_RE = re.compile(r"listening on https?://(\[[^\]]+\]|[^:]+):(\d+)")
# What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and ThreadSanitizer print.
_SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |"
                           r"WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Thread)")


class SanitizerReport(AssertionError):
    pass


class Server:
    """One w2pserve process. Use as a context manager or call stop()."""

    def __init__(self, *args, env=None, cwd=None, expect_start=True, preexec_fn=None, wrap=(),
                 binary=None):
        # `wrap`: a command to run the server under (e.g. "ip netns exec NS"); `binary`: another
        # w2pserve than W2PSERVE_BIN (the installed one).
        self.args = [*wrap, binary or BIN, "--listen", "127.0.0.1:0", *args]
        # Tests run as root in CI: Python as root must then be allowed explicitly (the refusal
        # itself is tested in test_operations.py).
        if os.geteuid() == 0 and "--user" not in args:
            self.args.append("--allow-root")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
            preexec_fn=preexec_fn,
        )
        self.pid = self.proc.pid
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.port = None
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._drain_stdout, daemon=True)
        self._out_reader.start()
        if expect_start:
            line = self.wait_for_log(_LISTEN_RE, START_TIMEOUT)
            if line is None:
                self.kill()
                raise RuntimeError(
                    "w2pserve did not start: " + " | ".join(self.lines[-20:])
                )
            self.port = int(_LISTEN_RE.search(line).group(2))

    def _drain_stdout(self):
        self.stdout = self.proc.stdout.read()

    def _read_log(self):
        for raw in self.proc.stderr:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for_log(self, pattern, timeout=IO_TIMEOUT, start=0):
        """Waits until a log line at index >= start matches; returns it (None on timeout/exit)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return self.lines[i]
                    i += 1
                if self._eof:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def log_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def log_mark(self):
        with self._cond:
            return len(self.lines)

    def reload(self):
        """SIGHUP, then waits until the new image listens on the same port and serves (same
        pid: a reload in place); fails the calling test with the log's tail otherwise."""
        mark = self.log_mark()
        os.kill(self.pid, signal.SIGHUP)
        for pattern in (r"listening on https?://127\.0\.0\.1:%d" % self.port, r"serving"):
            if self.wait_for_log(pattern, start=mark) is None:
                raise AssertionError("no reload (%s): %s" % (pattern, self.log_text()[-3000:]))

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    def connect(self, timeout=IO_TIMEOUT):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def request(self, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1"):
        with self.connect() as s:
            send_request(s, method, path, headers, body, version, close=True)
            return read_response(s, method=method)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=10)
        self._out_reader.join(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        self.check_sanitizers()
        return code

    def check_sanitizers(self):
        """A sanitizer report anywhere in the server's output fails the test that ran it."""
        text = self.log_text()
        m = _SANITIZER_RE.search(text)
        if m:
            start = max(0, m.start() - 200)
            raise SanitizerReport("sanitizer report from w2pserve:\n" + text[start:start + 6000])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def run_cli(*args, env=None, timeout=60, input=None, cwd=None, allow_root=True):
    """Runs w2pserve to completion (for --help, bad options...). As root, --allow-root is
    given unless allow_root is False (the refusal's own test)."""
    if allow_root and os.geteuid() == 0:
        args = ("--allow-root", *args)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    r = subprocess.run(
        [BIN, *args],
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )
    m = _SANITIZER_RE.search(r.stderr.decode("utf-8", "replace"))
    if m:
        raise SanitizerReport("sanitizer report from w2pserve %s:\n%s" % (
            " ".join(args), r.stderr.decode("utf-8", "replace")[max(0, m.start() - 200):][:6000]))
    return r


def send_request(sock, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1",
                 close=False):
    hdrs = [("Host", "127.0.0.1")]
    if headers:
        names = {k.lower() for k, _ in headers}
        if "host" in names:
            hdrs = []
        hdrs += list(headers)
    names = {k.lower() for k, _ in hdrs}
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    if close and "connection" not in names:
        hdrs.append(("Connection", "close"))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs)
    sock.sendall(head.encode("latin-1") + b"\r\n" + body)


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<Response %s %s %r>" % (self.status, self.headers, self.body[:200])


class Reader:
    """Buffered reads from a socket, keeping leftovers between responses."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, sep):
        while sep not in self.buf:
            if not self._fill():
                raise EOFError("connection closed before %r" % sep)
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out


_readers = {}


def reader_for(sock):
    r = _readers.get(id(sock))
    if r is None or r.sock is not sock:
        r = Reader(sock)
        _readers[id(sock)] = r
    return r


def read_response(sock, method="GET", skip_continue=True):
    r = reader_for(sock)
    while True:
        head = r.read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        status = int(status)
        headers = []
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        if status == 100 and skip_continue:
            continue
        break
    resp = Response(version, status, reason, headers, b"", head)
    te = resp.header("Transfer-Encoding")
    cl = resp.header("Content-Length")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp
    if te and "chunked" in te.lower():
        body = b""
        while True:
            size_line = r.read_until(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                r.read_until(b"\r\n")
                break
            body += r.read_exact(size)
            r.read_exact(2)
        resp.body = body
    elif cl is not None:
        resp.body = r.read_exact(int(cl))
    else:
        resp.body = r.read_to_eof()
    return resp


def wait_closed(sock, timeout=IO_TIMEOUT):
    """True when the peer closes the connection (EOF or reset) within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, OSError):
                return True
            if not data:
                return True


def posts_then_sigterm(server, path, total=200, per_thread=10, stop_after=50, prefix="o"):
    """POSTs `total` distinct ids (as bodies) from total/per_thread threads, one connection per
    request; sends SIGTERM once `stop_after` were acknowledged; waits for the server to exit.
    Returns (acknowledged ids, exit code)."""
    acked, lock, enough = [], threading.Lock(), threading.Event()

    def client(t):
        for i in range(per_thread):
            oid = "%s%d-%d" % (prefix, t, i)
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
                    send_request(s, "POST", path, body=oid.encode(), close=True)
                    r = read_response(s)
                if 200 <= r.status < 300:
                    with lock:
                        acked.append(oid)
                        if len(acked) >= stop_after:
                            enough.set()
            except (OSError, EOFError, ValueError):
                pass

    threads = [threading.Thread(target=client, args=(t,)) for t in range(total // per_thread)]
    for t in threads:
        t.start()
    if not enough.wait(120):
        raise AssertionError("fewer than %d writes acknowledged" % stop_after)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(180)
    code = server.proc.wait(timeout=120)
    return acked, code


def wait_until(predicate, timeout=30):
    """Polls `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def app_dir(case):
    return os.path.join(APPS, case)


def main():
    unittest.main(verbosity=2)
