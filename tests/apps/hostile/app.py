"""The application behind tests/integration/test_hostile.py: shows what reaches it (the
environ's CGI keys, the body's length) and answers with any status it is asked for."""

import json


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/status/"):
        # A WSGI application has no interim responses: a 1xx here is the application's bug.
        start_response(path[len("/status/"):] + " Whatever", [("Content-Type", "text/plain")])
        return [b"body of a " + path[len("/status/"):].encode() + b"\n"]
    if path == "/body":
        data = environ["wsgi.input"].read()
        body = b"%d" % len(data)
    elif path.startswith("/env"):
        body = json.dumps({k: v for k, v in environ.items() if "." not in k}).encode("ascii")
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
