"""Reads wsgi.input in 64 KiB blocks and answers with the byte count and the SHA-256 of the body,
never holding more than one block: for uploads larger than memory should allow."""

import hashlib
import json
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)

BLOCK = 64 * 1024


def raw_application(environ, start_response):
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    count = 0
    while True:
        block = stream.read(BLOCK)
        if not block:
            break
        digest.update(block)
        count += len(block)
    body = json.dumps({
        "content_length": environ.get("CONTENT_LENGTH"),
        "count": count,
        "sha256": digest.hexdigest(),
    }).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = validator(raw_application)
