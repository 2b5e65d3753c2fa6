"""Sleeps 50 ms per request (as if waiting on a database) and reports which thread served it and
when, by time.monotonic(), it entered and left the application."""

import json
import threading
import time
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def raw_application(environ, start_response):
    start = time.monotonic()
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(0.05)
    body = json.dumps({
        "conn": qs.get("conn", [""])[0],
        "seq": qs.get("seq", [""])[0],
        "thread": threading.get_ident(),
        "start": start,
        "end": time.monotonic(),
    }).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = validator(raw_application)
