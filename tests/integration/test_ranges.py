"""Byte ranges, conditional requests and precompressed variants on native static files, checked
byte for byte against real files (a 50 MiB one included, resumed with curl -C -)."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import Server, app_dir, main  # noqa: E402

BIG = 50 * 1024 * 1024


def parse_multipart(body, boundary):
    """[(content-range, content-type, bytes)] of a multipart/byteranges body."""
    parts = []
    delimiter = b"--" + boundary.encode()
    chunks = body.split(b"\r\n" + delimiter)
    assert chunks[0] == b"", chunks[0][:80]
    assert chunks[-1] == b"--\r\n", chunks[-1][:80]
    for chunk in chunks[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n") if line)
        parts.append((fields[b"Content-Range"].decode(), fields[b"Content-Type"].decode(), data))
    return parts


class Ranges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-ranges-")
        cls.root = os.path.join(cls.tmp, "public")
        os.makedirs(cls.root)
        cls.small = bytes(range(256)) * 4  # 1 KiB
        with open(os.path.join(cls.root, "small.bin"), "wb") as f:
            f.write(cls.small)
        cls.mid = os.urandom(200 * 1024 + 5)
        with open(os.path.join(cls.root, "mid.bin"), "wb") as f:
            f.write(cls.mid)
        with open(os.path.join(cls.root, "empty.txt"), "wb"):
            pass
        # 50 MiB, written in blocks with a recognisable pattern.
        cls.big_path = os.path.join(cls.root, "video.mp4")
        block = os.urandom(1024 * 1024)
        with open(cls.big_path, "wb") as f:
            for i in range(BIG // len(block)):
                f.write(bytes([i]) + block[1:])
        cls.text = b"body { color: blue }\n" * 200
        with open(os.path.join(cls.root, "site.css"), "wb") as f:
            f.write(cls.text)
        with open(os.path.join(cls.root, "site.css.gz"), "wb") as f:
            f.write(gzip.compress(cls.text))
        with open(os.path.join(cls.root, "site.css.br"), "wb") as f:
            f.write(b"pretend-brotli")
        # An older sibling is never used.
        with open(os.path.join(cls.root, "old.js"), "wb") as f:
            f.write(b"var fresh = 1;\n")
        with open(os.path.join(cls.root, "old.js.gz"), "wb") as f:
            f.write(gzip.compress(b"var stale = 1;\n"))
        t = os.stat(os.path.join(cls.root, "old.js")).st_mtime
        os.utime(os.path.join(cls.root, "old.js.gz"), (t - 60, t - 60))
        cls.server = Server("--static", "/f=" + cls.root, "--app", "app:application",
                            "--pythonpath", app_dir("basic"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp)

    def get(self, path, *headers, method="GET"):
        return self.server.request(method, path, headers=list(headers))

    def test_whole_file_advertises_ranges(self):
        r = self.get("/f/small.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_single_ranges(self):
        size = len(self.mid)
        for spec, first, last in [("0-0", 0, 0), ("0-99", 0, 99), ("100-", 100, size - 1),
                                  ("-100", size - 100, size - 1), ("5-999999999", 5, size - 1),
                                  ("-999999999", 0, size - 1), ("70000-140000", 70000, 140000)]:
            r = self.get("/f/mid.bin", ("Range", "bytes=" + spec))
            self.assertEqual(r.status, 206, spec)
            self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, size), spec)
            self.assertEqual(int(r.header("Content-Length")), last - first + 1, spec)
            self.assertEqual(r.body, self.mid[first:last + 1], spec)
            self.assertEqual(r.header("Content-Type"), "application/octet-stream", spec)
        # Small files too (read into the response in one write).
        r = self.get("/f/small.bin", ("Range", "bytes=10-19"))
        self.assertEqual((r.status, r.body), (206, self.small[10:20]))

    def test_unsatisfiable_and_ignored(self):
        r = self.get("/f/mid.bin", ("Range", "bytes=%d-" % len(self.mid)))
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("Content-Range"), "bytes */%d" % len(self.mid))
        self.assertEqual(r.body, b"")
        r = self.get("/f/empty.txt", ("Range", "bytes=0-"))
        self.assertEqual(r.status, 416)
        for bad in ("bytes=5-1", "items=0-1", "bytes=x", "bytes=0-1," * 40):
            r = self.get("/f/small.bin", ("Range", bad))
            self.assertEqual((r.status, r.body), (200, self.small), bad)
        # Ranges apply to GET only.
        r = self.get("/f/small.bin", ("Range", "bytes=0-1"), method="HEAD")
        self.assertEqual(r.status, 200)

    def test_multipart_byte_for_byte(self):
        size = len(self.mid)
        r = self.get("/f/mid.bin", ("Range", "bytes=500-599, 0-9, -20, 100000-170000"))
        self.assertEqual(r.status, 206)
        m = re.match(r"multipart/byteranges; boundary=(\S+)$", r.header("Content-Type"))
        self.assertIsNotNone(m, r.header("Content-Type"))
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        parts = parse_multipart(r.body, m.group(1))
        want = [(500, 599), (0, 9), (size - 20, size - 1), (100000, 170000)]  # order kept
        self.assertEqual(len(parts), len(want))
        for (crange, ctype, data), (first, last) in zip(parts, want):
            self.assertEqual(crange, "bytes %d-%d/%d" % (first, last, size))
            self.assertEqual(ctype, "application/octet-stream")
            self.assertEqual(data, self.mid[first:last + 1])
        # Overlapping ranges are merged.
        r = self.get("/f/small.bin", ("Range", "bytes=0-10,5-20,100-110"))
        parts = parse_multipart(r.body, r.header("Content-Type").split("boundary=")[1])
        self.assertEqual([p[0] for p in parts], ["bytes 0-20/1024", "bytes 100-110/1024"])
        self.assertEqual(parts[0][2] + parts[1][2], self.small[0:21] + self.small[100:111])
        # The connection stays usable after a multipart response.
        with self.server.connect() as s:
            from w2ptest import read_response, send_request
            send_request(s, "GET", "/f/mid.bin", [("Range", "bytes=0-1,10-11")])
            first = read_response(s)
            send_request(s, "GET", "/f/small.bin", [("Range", "bytes=1-2")], close=True)
            second = read_response(s)
        self.assertEqual(first.status, 206)
        self.assertEqual(second.body, self.small[1:3])

    def test_if_range(self):
        r = self.get("/f/mid.bin")
        etag, modified = r.header("ETag"), r.header("Last-Modified")
        r = self.get("/f/mid.bin", ("Range", "bytes=0-9"), ("If-Range", etag))
        self.assertEqual((r.status, r.body), (206, self.mid[:10]))
        r = self.get("/f/mid.bin", ("Range", "bytes=0-9"), ("If-Range", modified))
        self.assertEqual(r.status, 206)
        # Changed (or weak, or an older date): the whole file.
        for validator in ('"other"', "W/" + etag, "Mon, 01 Jan 2001 00:00:00 GMT"):
            r = self.get("/f/mid.bin", ("Range", "bytes=0-9"), ("If-Range", validator))
            self.assertEqual(r.status, 200, validator)
            self.assertEqual(len(r.body), len(self.mid), validator)

    def test_preconditions(self):
        r = self.get("/f/small.bin")
        etag, modified = r.header("ETag"), r.header("Last-Modified")
        self.assertEqual(self.get("/f/small.bin", ("If-Match", etag)).status, 200)
        self.assertEqual(self.get("/f/small.bin", ("If-Match", '"nope", ' + etag)).status, 200)
        self.assertEqual(self.get("/f/small.bin", ("If-Match", "*")).status, 200)
        self.assertEqual(self.get("/f/small.bin", ("If-Match", '"nope"')).status, 412)
        self.assertEqual(self.get("/f/small.bin", ("If-Match", "W/" + etag)).status, 412)
        self.assertEqual(self.get("/f/small.bin", ("If-Unmodified-Since", modified)).status, 200)
        self.assertEqual(self.get("/f/small.bin", ("If-Unmodified-Since",
                                                   "Mon, 01 Jan 2001 00:00:00 GMT")).status, 412)
        # If-Match wins over If-Unmodified-Since; 412 comes before 304.
        self.assertEqual(self.get("/f/small.bin", ("If-Match", etag), ("If-Unmodified-Since",
                                  "Mon, 01 Jan 2001 00:00:00 GMT")).status, 200)
        self.assertEqual(self.get("/f/small.bin", ("If-Match", '"x"'), ("If-None-Match", etag)).status, 412)
        r = self.get("/f/small.bin", ("If-None-Match", "W/" + etag))
        self.assertEqual((r.status, r.body), (304, b""))
        self.assertEqual(r.header("ETag"), etag)
        r = self.get("/f/small.bin", ("If-None-Match", etag), ("Range", "bytes=0-1"))
        self.assertEqual(r.status, 304)

    def test_precompressed_variants(self):
        plain = self.get("/f/site.css")
        self.assertEqual(plain.body, self.text)
        self.assertIsNone(plain.header("Content-Encoding"))
        gz = self.get("/f/site.css", ("Accept-Encoding", "gzip, deflate"))
        self.assertEqual(gz.header("Content-Encoding"), "gzip")
        self.assertEqual(gz.header("Vary"), "Accept-Encoding")
        self.assertEqual(gz.header("Content-Type"), "text/css; charset=utf-8")
        self.assertEqual(gzip.decompress(gz.body), self.text)
        br = self.get("/f/site.css", ("Accept-Encoding", "gzip, br"))
        self.assertEqual(br.header("Content-Encoding"), "br")
        self.assertEqual(br.body, b"pretend-brotli")
        # Each encoding is its own representation, with its own ETag.
        self.assertEqual(len({plain.header("ETag"), gz.header("ETag"), br.header("ETag")}), 3)
        no = self.get("/f/site.css", ("Accept-Encoding", "br;q=0, gzip;q=0"))
        self.assertIsNone(no.header("Content-Encoding"))
        self.assertEqual(no.body, self.text)
        stale = self.get("/f/old.js", ("Accept-Encoding", "gzip"))
        self.assertIsNone(stale.header("Content-Encoding"))
        self.assertEqual(stale.body, b"var fresh = 1;\n")

    def test_resumed_download_of_50_mib(self):
        out = os.path.join(self.tmp, "download.mp4")
        with open(self.big_path, "rb") as f:
            head = f.read(BIG // 3)
        with open(out, "wb") as f:
            f.write(head)  # an interrupted download
        url = "http://127.0.0.1:%d/f/video.mp4" % self.server.port
        r = subprocess.run(["curl", "-sS", "--fail", "-C", "-", "-o", out, "-w", "%{http_code}",
                            "--max-time", "120", url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"206")
        with open(out, "rb") as a, open(self.big_path, "rb") as b:
            while True:
                x, y = a.read(1 << 20), b.read(1 << 20)
                self.assertEqual(x, y)
                if not x:
                    break
        # Seeking into the middle, as a video player does.
        r = self.get("/f/video.mp4", ("Range", "bytes=%d-%d" % (BIG // 2, BIG // 2 + 65535)))
        with open(self.big_path, "rb") as f:
            f.seek(BIG // 2)
            self.assertEqual(r.body, f.read(65536))


def wait_for_files(folder, suffix, count, timeout=60):
    """Entries ending in suffix in folder, once there are `count` of them (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [n for n in os.listdir(folder) if n.endswith(suffix) and not n.startswith(".")]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return []


class OnTheFlyCompression(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-compress-")
        cls.root = os.path.join(cls.tmp, "public")
        cls.cache = os.path.join(cls.tmp, "cache")
        os.makedirs(cls.root)
        os.makedirs(cls.cache)
        cls.css = b"".join(b".c%d { margin: %dpx }\n" % (i, i) for i in range(5000))
        with open(os.path.join(cls.root, "app.css"), "wb") as f:
            f.write(cls.css)
        cls.png = os.urandom(5000)
        with open(os.path.join(cls.root, "logo.png"), "wb") as f:
            f.write(cls.png)
        with open(os.path.join(cls.root, "tiny.css"), "wb") as f:
            f.write(b"a{}")
        cls.server = Server("--static", "/f=" + cls.root, "--compress-cache", cls.cache,
                            "--app", "app:application", "--pythonpath", app_dir("basic"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp)

    def get(self, path, *headers):
        return self.server.request("GET", path, headers=list(headers))

    def get_encoded(self, path, accept, timeout=10):
        """The first response with a Content-Encoding (the server re-checks what it knows
        about a file at most once a second, so a new cache entry shows within about that)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(path, ("Accept-Encoding", accept))
            if r.header("Content-Encoding") or time.monotonic() > deadline:
                return r

    def test_compressed_once_then_served_from_the_cache(self):
        import brotli
        first = self.get("/f/app.css", ("Accept-Encoding", "gzip"))
        # Never compressed while the client waits: the first answer is the file itself.
        self.assertEqual(first.body, self.css)
        self.assertIsNone(first.header("Content-Encoding"))
        self.assertEqual(first.header("Vary"), "Accept-Encoding")
        self.assertEqual(len(wait_for_files(self.cache, ".gz", 1)), 1)
        gz = self.get_encoded("/f/app.css", "gzip")
        self.assertEqual(gz.header("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(gz.body), self.css)
        self.assertLess(len(gz.body), len(self.css) // 3)
        self.assertNotEqual(gz.header("ETag"), first.header("ETag"))
        self.assertEqual(gz.header("Last-Modified"), first.header("Last-Modified"))
        self.get("/f/app.css", ("Accept-Encoding", "br, gzip"))
        self.assertEqual(len(wait_for_files(self.cache, ".br", 1)), 1)
        br = self.get_encoded("/f/app.css", "br")
        self.assertEqual(br.header("Content-Encoding"), "br")
        self.assertEqual(brotli.decompress(br.body), self.css)
        # Ranges and revalidation apply to the compressed representation.
        r = self.get("/f/app.css", ("Accept-Encoding", "br"), ("If-None-Match", br.header("ETag")))
        self.assertEqual(r.status, 304)
        # A new version of the file is compressed again; the old entry is not used.
        with open(os.path.join(self.root, "app.css"), "ab") as f:
            f.write(b".new {}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the file cache trusts an entry for a second
            r = self.get("/f/app.css", ("Accept-Encoding", "gzip"))
            if r.header("Content-Encoding") is None:
                break
        self.assertEqual(r.body, self.css + b".new {}\n")
        self.assertEqual(len(wait_for_files(self.cache, ".gz", 2)), 2)
        r = self.get_encoded("/f/app.css", "gzip")
        self.assertEqual(gzip.decompress(r.body), self.css + b".new {}\n")

    def test_not_compressed(self):
        for path in ("/f/logo.png", "/f/tiny.css"):
            r = self.get(path, ("Accept-Encoding", "gzip, br"))
            self.assertIsNone(r.header("Content-Encoding"), path)
        r = self.get("/f/logo.png", ("Accept-Encoding", "gzip"))
        self.assertEqual(r.body, self.png)
        self.assertIsNone(r.header("Vary"))


class XSendfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-xsendfile-")
        cls.allowed = os.path.join(cls.tmp, "uploads")
        cls.private = os.path.join(cls.tmp, "private")
        os.makedirs(cls.allowed)
        os.makedirs(cls.private)
        cls.data = os.urandom(300 * 1024)
        with open(os.path.join(cls.allowed, "report.pdf"), "wb") as f:
            f.write(cls.data)
        with open(os.path.join(cls.private, "secret.txt"), "wb") as f:
            f.write(b"secret")
        os.symlink(os.path.join(cls.private, "secret.txt"), os.path.join(cls.allowed, "link.txt"))
        cls.server = Server("--app", "app:application", "--pythonpath", app_dir("xsendfile"),
                            "--x-sendfile", cls.allowed, "--x-accel", "/protected=" + cls.allowed)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.check_sanitizers()
        shutil.rmtree(cls.tmp)

    def get(self, path, *headers):
        return self.server.request("GET", path, headers=list(headers))

    def test_x_sendfile_serves_the_file(self):
        path = os.path.join(self.allowed, "report.pdf")
        r = self.get("/send?" + path)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.data)
        self.assertIsNone(r.header("X-Sendfile"))
        self.assertEqual(r.header("Content-Type"), "application/pdf")  # the application's
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="report.pdf"')
        self.assertNotEqual(r.header("ETag"), '"from-the-app"')  # the file's own validators
        self.assertEqual(int(r.header("Content-Length")), len(self.data))
        # With ranges and revalidation, like any static file.
        r2 = self.get("/send?" + path, ("Range", "bytes=100-199"))
        self.assertEqual((r2.status, r2.body), (206, self.data[100:200]))
        r3 = self.get("/send?" + path, ("If-None-Match", r.header("ETag")))
        self.assertEqual(r3.status, 304)

    def test_streamed_body_is_dropped(self):
        r = self.get("/send-streamed?" + os.path.join(self.allowed, "report.pdf"))
        self.assertEqual((r.status, r.body), (200, self.data))

    def test_x_accel_redirect(self):
        r = self.get("/accel?/protected/report.pdf")
        self.assertEqual((r.status, r.body), (200, self.data))
        self.assertIsNone(r.header("X-Accel-Redirect"))
        # The internal prefix is not a public URL: it reaches the application.
        self.assertEqual(self.get("/protected/report.pdf").body, b"plain /protected/report.pdf")

    def test_refused(self):
        mark = self.server.log_mark()
        for path in ("/send?" + os.path.join(self.private, "secret.txt"),
                     "/send?" + self.allowed + "/../private/secret.txt",
                     "/send?" + self.allowed + "2/x",
                     "/send?relative/path",
                     "/accel?/elsewhere/secret.txt",
                     "/accel?/protected/../../private/secret.txt",
                     "/send-404?" + os.path.join(self.allowed, "report.pdf")):
            r = self.get(path)
            self.assertEqual(r.status, 500, path)
            self.assertNotIn(b"secret", r.body)
            self.assertNotIn(b"dropped", r.body)
        self.assertIsNotNone(self.server.wait_for_log("X-Sendfile .* refused", start=mark))
        # A symlink out of the allowed folder, and a missing file.
        self.assertEqual(self.get("/send?" + os.path.join(self.allowed, "link.txt")).status, 403)
        self.assertEqual(self.get("/send?" + os.path.join(self.allowed, "none.pdf")).status, 404)


if __name__ == "__main__":
    main()
