"""Allocates like a framework's page does: many mid-sized buffers (beyond pymalloc's 512 bytes,
below malloc's mmap threshold), all freed but the newest, which pins the top of the C heap."""

keep = []


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/churn":
        bufs = [bytearray(8192) for _ in range(1024)]  # 8 MiB from the C heap
        keep[:] = [bytearray(8192)]  # allocated last: the heap's top stays in use
        del bufs
        body = b"churned"
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
