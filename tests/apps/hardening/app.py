"""Misbehaving applications for tests/integration/test_hardening.py."""

import os
import subprocess
import sys
import threading
import time


def application(environ, start_response):
    path = environ["PATH_INFO"]
    errors = environ["wsgi.errors"]
    if path == "/spin":
        errors.write("spin started\n")
        errors.flush()
        while True:  # pure Python: a TimeoutError raised into this thread ends it
            pass
    if path == "/sleep":
        errors.write("sleep started\n")
        errors.flush()
        time.sleep(float(environ.get("QUERY_STRING") or "30"))  # in C, with the GIL released
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"woke up"]
    if path == "/fail-midway":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"first block;"
            raise RuntimeError("failed after the head went out")

        return body()
    if path == "/thread":
        t = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
        t.start()
        body = b"thread started"
    elif path == "/subprocess":
        out = subprocess.run(["/bin/echo", "child says hi"], capture_output=True, check=True)
        rc = os.system("true")
        body = out.stdout.strip() + b" rc=%d" % rc
    elif path == "/background":
        # A long-lived child started the careless way (inherits every descriptor not marked
        # close-on-exec); it reports its pid so the test can stop it.
        proc = subprocess.Popen(["/bin/sleep", "300"], close_fds=False,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        body = b"%d" % proc.pid
    elif path == "/fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        body = b"forked"
    elif path == "/exit":
        sys.exit(0)
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
