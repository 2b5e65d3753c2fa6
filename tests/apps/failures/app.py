"""Applications that break the WSGI contract or fail. Served raw (no wsgiref.validate): the
point is to see what the server does with them.

  /ok                 a normal response
  /raise              raises RuntimeError("boom from the application")
  /raise-in-iter      calls start_response, then its generator raises before the first block
  /str                returns a str instead of an iterable of bytes
  /str-list           returns ["a str in a list"]
  /none               returns None
  /twice              calls start_response twice without exc_info
  /no-start           returns [b"body"] without calling start_response
  /no-start-empty     returns [] without calling start_response
  /exit               calls sys.exit(3)
  /inject-crlf        a header value with "\r\n" in it (header injection)
  /inject-lf          a header value with a bare "\n"
  /inject-cr          a header value with a bare "\r"
  /inject-name        a header name with "\r\n" in it
  /inject-status      a status line with "\r\n" in it
"""

import sys

INJECTED = "Injected: yes"


def application(environ, start_response):
    route = environ["PATH_INFO"]
    text = [("Content-Type", "text/plain")]
    if route == "/ok":
        start_response("200 OK", text)
        return [b"ok"]
    if route == "/raise":
        raise RuntimeError("boom from the application")
    if route == "/raise-in-iter":
        start_response("200 OK", text)

        def gen():
            raise RuntimeError("boom from the generator")
            yield b"never"

        return gen()
    if route == "/str":
        start_response("200 OK", text)
        return "a str, not bytes"
    if route == "/str-list":
        start_response("200 OK", text)
        return ["a str in a list"]
    if route == "/none":
        start_response("200 OK", text)
        return None
    if route == "/twice":
        start_response("200 OK", text)
        start_response("201 Created", text)
        return [b"second start_response accepted"]
    if route == "/no-start":
        return [b"body without start_response"]
    if route == "/no-start-empty":
        return []
    if route == "/exit":
        sys.exit(3)
    if route == "/inject-crlf":
        start_response("200 OK", text + [("X-Note", "a\r\n" + INJECTED)])
        return [b"injected"]
    if route == "/inject-lf":
        start_response("200 OK", text + [("X-Note", "a\n" + INJECTED)])
        return [b"injected"]
    if route == "/inject-cr":
        start_response("200 OK", text + [("X-Note", "a\r" + INJECTED)])
        return [b"injected"]
    if route == "/inject-name":
        start_response("200 OK", text + [("X-Note\r\n" + INJECTED + "\r\nX-Other", "a")])
        return [b"injected"]
    if route == "/inject-status":
        start_response("200 OK\r\n" + INJECTED, text)
        return [b"injected"]
    start_response("404 Not Found", text)
    return [b"no such route"]
