"""Echoes the WSGI environ as JSON: every CGI-style key (no '.') with its value, the wsgi.* flags,
and the type name of every value, so the test can check both values and types."""

import json
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def raw_application(environ, start_response):
    out = {
        "cgi": {k: v for k, v in environ.items() if "." not in k},
        "wsgi": {
            "version": list(environ["wsgi.version"]),
            "url_scheme": environ["wsgi.url_scheme"],
            "multithread": environ["wsgi.multithread"],
            "multiprocess": environ["wsgi.multiprocess"],
            "run_once": environ["wsgi.run_once"],
            "has_file_wrapper": callable(environ.get("wsgi.file_wrapper")),
        },
        "types": {k: type(v).__name__ for k, v in environ.items()},
    }
    # latin-1 str values survive JSON as \u00XX escapes, so the test sees them exactly.
    body = json.dumps(out).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("X-Request-Method", environ["REQUEST_METHOD"])])
    return [body]


application = validator(raw_application)
