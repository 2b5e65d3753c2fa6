"""Hands file responses over to the server: /send?PATH answers with X-Sendfile: PATH,
/accel?URI with X-Accel-Redirect: URI, each with a body the server must drop."""

from urllib.parse import unquote


def application(environ, start_response):
    path = environ["PATH_INFO"]
    target = unquote(environ.get("QUERY_STRING", ""))
    headers = [("Content-Type", "application/pdf"),
               ("Content-Disposition", 'attachment; filename="report.pdf"'),
               ("Content-Length", "17"), ("ETag", '"from-the-app"')]
    if path == "/send":
        start_response("200 OK", headers + [("X-Sendfile", target)])
        return [b"dropped by server"]
    if path == "/accel":
        start_response("200 OK", headers + [("X-Accel-Redirect", target)])
        return [b"dropped by server"]
    if path == "/send-streamed":
        # The handoff waits for the application to finish its (ignored) body.
        start_response("200 OK", [("X-Sendfile", target)])
        return iter([b"a" * 70000, b"b" * 70000, b"c"])
    if path == "/send-404":
        start_response("404 Not Found", [("X-Sendfile", target)])
        return [b""]
    body = b"plain " + path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
