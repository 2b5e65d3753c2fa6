"""Responses for the server's compression of application output (--compress-responses).

  /page?n=N&type=T    N bytes of HTML-like text (default text/html; charset=utf-8), one block
  /stream?n=N         N blocks of text, yielded one by one, no Content-Length
  /gated?id=X         yields b"first ...", waits until /release?id=X (at most 20 s), then
                      yields b"second ..." (checks that a compressed stream is flushed per block)
  /release?id=X       releases /gated?id=X (needs a second worker)
  /headers?...        a 2 KiB page with the extra headers given as name=value in the query
  /status?code=C      a 2 KiB HTML page with that status
  /wrapped            a text file through wsgi.file_wrapper
  /written-file       a text block given to write(), then the same file through the wrapper
"""

import tempfile
import threading
import warnings
from urllib.parse import parse_qsl
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)

GATE_TIMEOUT = 20.0
_gates = {}
_lock = threading.Lock()
FILE_TEXT = b"".join(b"line %05d of a text file served through the file wrapper\n" % i
                     for i in range(2000))


def text_file():
    """A regular file holding FILE_TEXT (unlinked: nothing is left behind)."""
    f = tempfile.TemporaryFile()
    f.write(FILE_TEXT)
    f.seek(0)
    return f


def text(n):
    unit = b"<p>w2pserve compresses what the application sends.</p>\n"
    return (unit * (n // len(unit) + 1))[:n]


def gate(name):
    with _lock:
        return _gates.setdefault(name, threading.Event())


def raw_application(environ, start_response):
    route = environ["PATH_INFO"]
    qs = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    html = ("Content-Type", qs.get("type", "text/html; charset=utf-8"))
    if route == "/page":
        body = text(int(qs.get("n", "4096")))
        start_response("200 OK", [html, ("Content-Length", str(len(body)))])
        return [body]
    if route == "/stream":
        start_response("200 OK", [html])
        return (text(1000) for _ in range(int(qs.get("n", "5"))))
    if route == "/gated":
        event = gate(qs["id"])
        start_response("200 OK", [html])

        def gen():
            yield b"first " + text(500)
            if not event.wait(GATE_TIMEOUT):
                yield b"timed out"
            yield b"second " + text(500)

        return gen()
    if route == "/release":
        gate(qs["id"]).set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"released"]
    if route == "/headers":
        headers = [html] + [(k, v) for k, v in qs.items() if k != "type"]
        start_response("200 OK", headers)
        return [text(2048)]
    if route == "/status":
        code = qs["code"]
        start_response(code + " Whatever", [] if code in ("204", "304") else [html])
        return [] if code in ("204", "304") else [text(2048)]
    if route == "/wrapped":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](text_file())
    if route == "/written-file":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"header block\n")
        return environ["wsgi.file_wrapper"](text_file())
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such route"]


application = validator(raw_application)
