"""Writes to wsgi.errors with write(), writelines() and flush(); the lines carry the token given
in the query string (?token=...) so the test can find them in the error log."""

import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def raw_application(environ, start_response):
    token = parse_qs(environ.get("QUERY_STRING", "")).get("token", ["none"])[0]
    errors = environ["wsgi.errors"]
    errors.write("write %s\n" % token)
    errors.writelines(["writelines-1 %s\n" % token, "writelines-2 %s\n" % token])
    errors.write("two lines %s (a)\ntwo lines %s (b)\n" % (token, token))
    errors.write("caf\u00e9 %s\n" % token)
    errors.write("unterminated %s" % token)
    errors.flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged " + token.encode("ascii")]


application = validator(raw_application)
