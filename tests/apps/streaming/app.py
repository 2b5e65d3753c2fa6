"""Generators without a Content-Length: the server must frame them itself (chunked on HTTP/1.1,
close-delimited on HTTP/1.0) and send every block as soon as it is yielded.

  /gen?n=N            yields b"block <i>\n" for i in range(N)
  /gated?id=X         yields b"first\n", waits until /release?id=X is requested (at most 20 s;
                      then it yields b"timed out\n"), then yields b"second\n"
  /release?id=X       releases the gated generator X (needs a second worker)
"""

import threading
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)

GATE_TIMEOUT = 20.0
_gates = {}
_lock = threading.Lock()


def gate(name):
    with _lock:
        return _gates.setdefault(name, threading.Event())


def raw_application(environ, start_response):
    route = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    headers = [("Content-Type", "text/plain")]
    if route == "/gen":
        n = int(qs.get("n", ["5"])[0])
        start_response("200 OK", headers)
        return (b"block %d\n" % i for i in range(n))
    if route == "/gated":
        event = gate(qs["id"][0])
        start_response("200 OK", headers)

        def gen():
            yield b"first\n"
            if not event.wait(GATE_TIMEOUT):
                yield b"timed out\n"
            yield b"second\n"

        return gen()
    if route == "/release":
        gate(qs["id"][0]).set()
        start_response("200 OK", headers)
        return [b"released"]
    start_response("404 Not Found", headers)
    return [b"no such route"]


application = validator(raw_application)
