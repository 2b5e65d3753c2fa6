"""start_response(status, headers, exc_info) as PEP 3333 describes it.

  /before       start_response("200 OK", [X-First]) then, on an error before any body was sent,
                start_response("503 Service Unavailable", [X-Replaced], exc_info): the second
                status and headers replace the first
  /after-yield  a generator: yields b"partial body", then on an error calls start_response
                with exc_info; the headers are gone, so start_response re-raises the error
  /after-write  the same with write(): write(b"partial body") sends the head, then exc_info
  /after-empty-yield  a generator that yields b"" (which sends nothing) before the error, so
                the exc_info call still replaces the status and headers
"""

import sys
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


class AppFailure(Exception):
    pass


def raw_application(environ, start_response):
    route = environ["PATH_INFO"]
    if route == "/before":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "yes")])
        try:
            raise AppFailure("failed before the body")
        except AppFailure:
            start_response("503 Service Unavailable",
                           [("Content-Type", "text/plain"), ("X-Replaced", "yes")],
                           sys.exc_info())
        return [b"replacement body"]
    if route == "/after-yield":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"partial body"
            try:
                raise AppFailure("failed after the head (generator)")
            except AppFailure:
                start_response("500 Internal Server Error",
                               [("Content-Type", "text/plain")], sys.exc_info())
            yield b"must never be sent"

        return gen()
    if route == "/after-write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial body")
        try:
            raise AppFailure("failed after the head (write)")
        except AppFailure:
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain")], sys.exc_info())
        return [b"must never be sent"]
    if route == "/after-empty-yield":
        # An empty block sends nothing, so the head is still unsent and can be replaced.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "yes")])

        def gen():
            yield b""
            try:
                raise AppFailure("failed after an empty block")
            except AppFailure:
                start_response("503 Service Unavailable",
                               [("Content-Type", "text/plain"), ("X-Replaced", "yes")],
                               sys.exc_info())
            yield b"replacement body"

        return gen()
    if route == "/ok":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such route"]


application = validator(raw_application)
