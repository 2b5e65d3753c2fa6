"""Native static files through --static: content, validators, and every way out of the folder."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2ptest import Server, app_dir, main, read_response  # noqa: E402


class StaticMapping(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="w2p-static-")
        cls.root = os.path.join(cls.tmp, "public")
        os.makedirs(os.path.join(cls.root, "css"))
        os.makedirs(os.path.join(cls.root, "docs"))
        with open(os.path.join(cls.root, "css", "site.css"), "wb") as f:
            f.write(b"body { color: red }\n")
        cls.blob = os.urandom(3 * 1024 * 1024 + 17)
        with open(os.path.join(cls.root, "big.bin"), "wb") as f:
            f.write(cls.blob)
        with open(os.path.join(cls.root, "docs", "index.html"), "wb") as f:
            f.write(b"<p>docs</p>")
        with open(os.path.join(cls.root, "a file.txt"), "wb") as f:
            f.write(b"spaced")
        with open(os.path.join(cls.tmp, "secret.txt"), "wb") as f:
            f.write(b"top secret")
        os.symlink(os.path.join(cls.tmp, "secret.txt"), os.path.join(cls.root, "leak.txt"))
        os.mkfifo(os.path.join(cls.root, "pipe"))
        cls.server = Server("--static", "/files=" + cls.root, "--app", "app:application",
                            "--pythonpath", app_dir("basic"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp)

    def get(self, path, headers=None, method="GET"):
        return self.server.request(method, path, headers=headers)

    def test_file_with_type_and_validators(self):
        r = self.get("/files/css/site.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"body { color: red }\n")
        self.assertEqual(r.header("Content-Type"), "text/css; charset=utf-8")
        self.assertIsNotNone(r.header("ETag"))
        self.assertIsNotNone(r.header("Last-Modified"))

    def test_large_file_is_complete(self):
        r = self.get("/files/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), len(self.blob))
        self.assertEqual(r.body, self.blob)

    def test_revalidation_gives_304(self):
        r = self.get("/files/css/site.css")
        etag, modified = r.header("ETag"), r.header("Last-Modified")
        r2 = self.get("/files/css/site.css", headers=[("If-None-Match", etag)])
        self.assertEqual(r2.status, 304)
        self.assertEqual(r2.body, b"")
        self.assertEqual(r2.header("ETag"), etag)
        r3 = self.get("/files/css/site.css", headers=[("If-Modified-Since", modified)])
        self.assertEqual(r3.status, 304)
        r4 = self.get("/files/css/site.css", headers=[("If-None-Match", '"other"')])
        self.assertEqual(r4.status, 200)

    def test_head(self):
        r = self.get("/files/css/site.css", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "20")
        self.assertEqual(r.body, b"")

    def test_post_is_405(self):
        r = self.server.request("POST", "/files/css/site.css", body=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_missing_is_404(self):
        self.assertEqual(self.get("/files/css/none.css").status, 404)

    def test_directory_index_and_no_listing(self):
        r = self.get("/files/docs/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<p>docs</p>")
        r = self.get("/files/css/")
        self.assertEqual(r.status, 404)
        self.assertNotIn(b"site.css", r.body)

    def test_percent_encoded_names(self):
        self.assertEqual(self.get("/files/a%20file.txt").body, b"spaced")

    def test_traversal_is_refused(self):
        for path in ["/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/%2E%2E/secret.txt",
                     "/files/css/../../secret.txt", "/files/css/%2e%2e%2f%2e%2e%2fsecret.txt",
                     "/files/..%2fsecret.txt", "/files/%252e%252e/secret.txt",
                     "/files/..\\secret.txt", "/files/leak.txt"]:
            r = self.get(path)
            self.assertNotIn(b"top secret", r.body, path)
            if r.status == 200:
                # Dot segments are resolved first: "/files/../secret.txt" is the URL
                # "/secret.txt", which is the application's, not a file.
                self.assertIsNone(r.header("ETag"), path)
            else:
                self.assertIn(r.status, (400, 403, 404), path)
        # Above the root, in any spelling: refused.
        for path in ["/../secret.txt", "/files/../../secret.txt", "/%2e%2e/secret.txt",
                     "/files/%2e%2e%2f%2e%2e%2fsecret.txt"]:
            self.assertEqual(self.get(path).status, 400, path)

    def test_nul_byte_is_400(self):
        self.assertEqual(self.get("/files/css/site.css%00.txt").status, 400)

    def test_fifo_is_not_served(self):
        self.assertEqual(self.get("/files/pipe").status, 403)

    def test_other_paths_go_to_the_app(self):
        r = self.get("/filesystem")
        self.assertEqual(r.body, b"hello /filesystem")
        r = self.get("/other/files/css/site.css")
        self.assertEqual(r.body, b"hello /other/files/css/site.css")

    def test_static_hits_never_touch_python(self):
        # A static file is served even while the only Python worker is busy.
        with self.server.connect() as slow:
            slow.sendall(b"GET /slow?3 HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertIsNotNone(self.server.wait_for_log("slow request started"))
            r = self.get("/files/css/site.css")
            self.assertEqual(r.status, 200)
            self.assertEqual(read_response(slow).body, b"slow done")


if __name__ == "__main__":
    main()
