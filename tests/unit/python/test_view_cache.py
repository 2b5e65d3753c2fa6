"""python/w2pserve/web2py.py's ViewCache against a toy template engine with yatl's signature
(parse_template(filename, path, context, lexers, delimiters, reader); {{extend X}} and
{{include X}} name files with Python expressions). The real-web2py checks are in
tests/integration/test_web2py_real.py."""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "python"))
from w2pserve.web2py import ViewCache  # noqa: E402

CALLS = {"parse": 0, "compile": 0}


def file_reader(filename, mode="rb"):
    with open(filename, mode) as f:
        return f.read()


def toy_parse(filename, path="views/", context=None, lexers=None, delimiters=None, reader=None):
    CALLS["parse"] += 1
    context = context or {}
    reader = reader or file_reader
    text = filename.read() if not isinstance(filename, str) else file_reader(os.path.join(path, filename))
    text = text.decode() if isinstance(text, bytes) else text

    def expand(text):
        def sub(m):
            name = eval(m.group(2), context)
            return expand(reader(os.path.join(path, name)).decode())
        return re.sub(r"\{\{(extend|include) (.+?)\}\}", sub, text)
    return "out = %r" % expand(text)


def toy_compile2(code, layer):
    CALLS["compile"] += 1
    return compile(code, layer, "exec")


def run(code):
    env = {}
    exec(code, env)
    return env["out"]


class ViewCacheTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.cache = ViewCache(toy_parse, toy_compile2, file_reader)
        CALLS["parse"] = CALLS["compile"] = 0

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def render(self, view, context=None):
        scode = self.cache.parse_template(view, self.dir, context=context or {})
        return run(self.cache.compile2(scode, os.path.join(self.dir, view)))

    def test_kept_until_any_file_it_read_changes(self):
        self.write("page.html", "{{extend 'layout.html'}}page")
        self.write("layout.html", "L[{{include 'part.html'}}]")
        self.write("part.html", "part")
        for _ in range(3):
            self.assertEqual(self.render("page.html"), "L[part]page")
        self.assertEqual((CALLS["parse"], CALLS["compile"]), (1, 1))
        for name, text, expect in (("page.html", "{{extend 'layout.html'}}page2", "L[part]page2"),
                                   ("layout.html", "LL[{{include 'part.html'}}]", "LL[part]page2"),
                                   ("part.html", "part22", "LL[part22]page2")):
            self.write(name, text)
            self.assertEqual(self.render(name if name == "page.html" else "page.html"), expect)
        self.assertEqual((CALLS["parse"], CALLS["compile"]), (4, 4))
        self.assertEqual(self.cache.stats()["hits"], 2)

    def test_a_deleted_file_is_read_again_and_fails_as_before(self):
        self.write("page.html", "{{include 'part.html'}}")
        self.write("part.html", "part")
        self.assertEqual(self.render("page.html"), "part")
        os.unlink(os.path.join(self.dir, "part.html"))
        with self.assertRaises(OSError):
            self.render("page.html")

    def test_names_that_are_expressions_are_never_kept(self):
        self.write("page.html", "{{extend layout}}x")
        self.write("a.html", "A")
        self.write("b.html", "B")
        self.assertEqual(self.render("page.html", {"layout": "a.html"}), "Ax")
        self.assertEqual(self.render("page.html", {"layout": "b.html"}), "Bx")
        self.assertEqual(self.cache.stats()["uncacheable"], 2)
        self.assertEqual(self.cache.stats()["views"], 0)

    def test_bounded_least_recently_used_out(self):
        self.cache.limit = 6000
        for i in range(20):
            self.write("v%d.html" % i, "x" * 1000 + str(i))
        for i in range(20):
            self.assertEqual(self.render("v%d.html" % i), "x" * 1000 + str(i))
            self.assertLessEqual(self.cache.size, self.cache.limit)
        self.assertGreater(self.cache.stats()["evictions"], 0)
        kept = self.cache.stats()["views"]
        self.assertTrue(0 < kept < 20)
        # The newest are the ones kept: rendering them again parses nothing.
        before = CALLS["parse"]
        self.render("v19.html")
        self.assertEqual(CALLS["parse"], before)

    def test_other_code_passes_through(self):
        self.assertEqual(run(self.cache.compile2("out = 1", "models/db.py")), 1)
        self.assertEqual(run(self.cache.compile2("out = 1", "models/db.py")), 1)
        self.assertEqual(CALLS["compile"], 2)  # models are cached by web2py itself (getcfs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
