"""Returns files through environ['wsgi.file_wrapper'].

The file is named by the W2P_TEST_FILE environment variable (set by the test). Routes:
  /whole            the whole file
  /offset?o=N       the file opened and seeked to N
  /read-ahead?o=N   the file after f.read(N) (a buffered read that pulled more into the buffer)
  /blksize          the whole file, with a block size of 1000
  /bytesio          an io.BytesIO of the file's bytes (no fileno(): iterated, not sent natively)
  /empty            the file named by W2P_TEST_EMPTY_FILE (0 bytes)

`application` is wrapped in wsgiref.validate; the validator hides the wrapper behind its own
iterator, so the server has to fall back to iterating it. `native` is the same application
unwrapped, so the server sees its own FileWrapper and sends the file natively.
"""

import io
import os
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def native(environ, start_response):
    path = os.environ["W2P_TEST_FILE"]
    route = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    offset = int(qs.get("o", ["0"])[0])
    wrapper = environ["wsgi.file_wrapper"]
    headers = [("Content-Type", "application/octet-stream")]
    if route == "/whole":
        result = wrapper(open(path, "rb"))
    elif route == "/offset":
        f = open(path, "rb")
        f.seek(offset)
        result = wrapper(f)
    elif route == "/read-ahead":
        f = open(path, "rb")
        f.read(offset)
        result = wrapper(f)
    elif route == "/blksize":
        result = wrapper(open(path, "rb"), 1000)
    elif route == "/bytesio":
        with open(path, "rb") as f:
            result = wrapper(io.BytesIO(f.read()))
    elif route == "/empty":
        result = wrapper(open(os.environ["W2P_TEST_EMPTY_FILE"], "rb"))
    else:
        start_response("404 Not Found", headers)
        return [b"no such route"]
    start_response("200 OK", headers)
    return result


application = validator(native)
