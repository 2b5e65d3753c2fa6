"""For the HTTP/2 tests: what the application sees, bodies echoed, hop-by-hop headers sent,
large streamed responses."""

import hashlib
import json
import time


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/env":
        body = json.dumps({k: v for k, v in environ.items() if "." not in k}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/echo":
        data = environ["wsgi.input"].read()
        body = json.dumps({"len": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                           "content_length": environ.get("CONTENT_LENGTH", "")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/stream":
        n = int(environ.get("QUERY_STRING") or "64")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (bytes([i % 256]) * 16384 for i in range(n))
    if path == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slow done"]
    if path == "/sendfile":
        # The file named by the query, handed to the server (--x-sendfile).
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Sendfile", environ["QUERY_STRING"])])
        return [b"never sent: the file replaces this body"]
    if path == "/wrapped":
        # wsgi.file_wrapper: the file is the body, sent by the server from its descriptor.
        f = open(environ["QUERY_STRING"], "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f)
    if path == "/padded":
        # As web2py writes its Set-Cookie: the value after "Name:" starts with a space.
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Set-Cookie", " session_id_x=1; Path=/"),
                                  ("X-Padded", "\tvalue  ")])
        return [b"padded"]
    if path == "/accel":
        start_response("200 OK", [("X-Accel-Redirect", "/protected/page.txt")])
        return [b""]
    if path == "/see-other":
        start_response("303 See Other", [("Location", "/env")])
        return [b""]
    if path == "/cut":
        # Promises 100000 bytes, then fails: the stream must not end as if complete.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100000")])

        def gen():
            yield b"x" * 1000
            raise RuntimeError("the application failed half-way")
        return gen()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello over " + environ["SERVER_PROTOCOL"].encode()]
