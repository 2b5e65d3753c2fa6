"""The legacy write() callable returned by start_response, alone and mixed with an iterable.

  /mixed       write(b"one "), write(b"two "), then returns [b"three ", b"four"]
  /only-write  write(b"a"), write(b"b"), write(b"c"), returns []
  /length      sets Content-Length: 18 itself, write(b"one two "), returns [b"three ", b"four"]
  /empty-first write(b"") first, then write(b"x"), returns a generator yielding b"y"
"""

import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def raw_application(environ, start_response):
    route = environ["PATH_INFO"]
    headers = [("Content-Type", "text/plain")]
    if route == "/mixed":
        write = start_response("200 OK", headers)
        write(b"one ")
        write(b"two ")
        return [b"three ", b"four"]
    if route == "/only-write":
        write = start_response("200 OK", headers)
        for part in (b"a", b"b", b"c"):
            write(part)
        return []
    if route == "/length":
        write = start_response("200 OK", headers + [("Content-Length", "18")])
        write(b"one two ")
        return [b"three ", b"four"]
    if route == "/empty-first":
        write = start_response("200 OK", headers)
        write(b"")
        write(b"x")

        def rest():
            yield b"y"

        return rest()
    start_response("404 Not Found", headers)
    return [b"no such route"]


application = validator(raw_application)
