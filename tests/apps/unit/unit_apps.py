"""WSGI callables used by the C++ unit tests of the gateway (tests/unit/wsgi_gateway_test.cpp)."""

import json


def echo_environ(environ, start_response):
    keys = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int, tuple))}
    body = json.dumps(keys, default=list).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello ", b"world"]


def generator(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(3):
        yield b"part%d;" % i


def raises(environ, start_response):
    raise ValueError("boom from the app")


def returns_str(environ, start_response):
    start_response("200 OK", [])
    return "a bare str is not an iterable of bytes"


def yields_int(environ, start_response):
    start_response("200 OK", [])
    return [b"ok", 42]


def list_of_str(environ, start_response):
    start_response("200 OK", [])
    return ["caf\u00e9"]


def twice(environ, start_response):
    start_response("200 OK", [])
    start_response("201 Created", [])
    return [b""]


def never(environ, start_response):
    return [b"body without a status"]


def injection(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])
    return [b"x"]


def exc_info_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise RuntimeError("late failure")
    except RuntimeError:
        import sys
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"sorry"]


def read_body(environ, start_response):
    inp = environ["wsgi.input"]
    first = inp.readline()
    rest = inp.read()
    after = inp.read(10)
    start_response("200 OK", [])
    return [b"%d|%d|%d|%s" % (len(first), len(rest), len(after), environ.get("CONTENT_LENGTH", "-").encode())]


CLOSED = []


class Closing:
    def __init__(self):
        self.items = [b"a", b"b"]

    def __iter__(self):
        return iter(self.items)

    def close(self):
        CLOSED.append(True)


def closing(environ, start_response):
    start_response("200 OK", [])
    return Closing()


def system_exit(environ, start_response):
    import sys
    sys.exit(3)


def file_wrapper(environ, start_response):
    f = open(environ["QUERY_STRING"], "rb")
    f.seek(2)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)
