"""A small app for the HTTP-level integration tests (tests/integration/test_http.py)."""

import hashlib
import json
import time


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        # Signals the test through the error log, then keeps the request in flight for a while.
        environ["wsgi.errors"].write("slow request started\n")
        environ["wsgi.errors"].flush()
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
        body = b"slow done"
    elif path == "/echo":
        data = environ["wsgi.input"].read()
        body = json.dumps(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": environ["QUERY_STRING"],
                "uri": environ["REQUEST_URI"],
                "length": environ.get("CONTENT_LENGTH"),
                "received": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "protocol": environ["SERVER_PROTOCOL"],
                "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
            }
        ).encode()
    elif path == "/nolength":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"block%d\n" % i for i in range(5))
    else:
        body = b"hello " + path.encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
