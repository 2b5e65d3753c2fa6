"""Iterables whose close() the server must call (PEP 3333); each close() writes a line with the
request's token (?token=...) to wsgi.errors, which the test waits for in the error log.

  /list       an iterable object with close(), yielding b"first " and b"second"
  /generator  a generator that writes from its finally: block when closed
  /raises     an iterable whose first __next__ raises (after start_response): close() still due
  /big        a generator of 64 KiB blocks (up to ?blocks=N), for a client that hangs up early;
              its close logs how many blocks it produced
"""

import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


class ClosingIterable:
    def __init__(self, items, errors, token, fail=False):
        self.items = list(items)
        self.errors = errors
        self.token = token
        self.fail = fail

    def __iter__(self):
        return self

    def __next__(self):
        if self.fail:
            raise RuntimeError("iteration failed on purpose " + self.token)
        if not self.items:
            raise StopIteration
        return self.items.pop(0)

    def close(self):
        self.errors.write("close called %s\n" % self.token)
        self.errors.flush()


def raw_application(environ, start_response):
    route = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    token = qs.get("token", ["none"])[0]
    errors = environ["wsgi.errors"]
    headers = [("Content-Type", "text/plain")]
    if route == "/list":
        start_response("200 OK", headers)
        return ClosingIterable([b"first ", b"second"], errors, token)
    if route == "/raises":
        start_response("200 OK", headers)
        return ClosingIterable([b"never"], errors, token, fail=True)
    if route == "/generator":
        start_response("200 OK", headers)

        def gen():
            try:
                yield b"one "
                yield b"two"
            finally:
                errors.write("generator finished %s\n" % token)

        return gen()
    if route == "/big":
        limit = int(qs.get("blocks", ["16384"])[0])
        block = b"x" * 65536
        start_response("200 OK", headers)

        def big():
            produced = 0
            try:
                while produced < limit:
                    yield block
                    produced += 1
            finally:
                errors.write("big closed %s after %d of %d blocks\n" % (token, produced, limit))

        return big()
    start_response("404 Not Found", headers)
    return [b"no such route"]


application = validator(raw_application)
