"""Runs a script of wsgi.input calls given in the query string and reports every result.

?ops=read:5,readline,readline:3,readlines,readlines:10,iter,read_noarg,read:-1,read:none,read:0
Each result is {"op", "len", "sha256", "data" (latin-1, only for short results)}; list results
(readlines, iter) are lists of those. Also reports CONTENT_LENGTH and, when asked with
spool_dir=DIR, how many open descriptors point into DIR (the spooled request body).
"""

import hashlib
import json
import os
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def describe(op, data):
    return {
        "op": op,
        "len": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": data.decode("latin-1") if len(data) <= 4096 else None,
    }


def open_files_under(directory):
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(directory.rstrip("/") + "/"):
            count += 1
    return count


def raw_application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    ops = qs.get("ops", [""])[0].split(",")
    stream = environ["wsgi.input"]
    # The validator only lets read() through with exactly one argument (PEP 3333 lists
    # read(size)); a size-less read() is what many applications call, so it is made on the
    # server's own object underneath.
    raw = getattr(stream, "input", stream)
    spooled = None
    if "spool_dir" in qs:
        spooled = open_files_under(qs["spool_dir"][0])
    results = []
    for op in filter(None, ops):
        name, _, arg = op.partition(":")
        if arg == "none":
            arg = None
        elif arg:
            arg = int(arg)
        if name == "read":
            results.append(describe(op, stream.read(arg)))
        elif name == "read_noarg":
            results.append(describe(op, raw.read()))
        elif name == "readline":
            results.append(describe(op, stream.readline() if arg == "" else stream.readline(arg)))
        elif name == "readlines":
            lines = stream.readlines() if arg == "" else stream.readlines(arg)
            results.append([describe(op, line) for line in lines])
        elif name == "iter":
            results.append([describe(op, line) for line in stream])
        else:
            raise ValueError("unknown op %r" % op)
    body = json.dumps({
        "content_length": environ.get("CONTENT_LENGTH"),
        "spooled_fds": spooled,
        "results": results,
    }).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = validator(raw_application)
