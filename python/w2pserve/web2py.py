"""What w2pserve does around web2py itself: importing gluon without what a server never uses, and
keeping compiled views in memory (web2py's own functions, wrapped, not copied)."""

import collections
import ast
import io
import marshal
import os
import re
import sys
import threading
import types

# --- Importing gluon -------------------------------------------------------------------------

# gluon.messageboxhandler imports tkinter (and with it _tkinter, libtk and libtcl: ~3.5 MiB
# resident) for logging handlers that open a Tk window or call notify-send; a server has no
# screen. Only web2py's own import is refused these modules: an application that imports tkinter
# later gets it.
KEPT_OUT_OF_GLUON = ("tkinter", "_tkinter", "Tkinter")


class _KeepOut:
    def __init__(self, names):
        self.names = names
        self.refused = []

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            self.refused.append(name)
            raise ImportError("w2pserve: %s is not loaded while web2py starts (a server has no "
                              "screen for Tk windows)" % name, name=name)
        return None


# --lean: modules web2py imports at start that most sites never run (database drivers for other
# databases, IMAP, YAML, tar archives, TLS for outgoing connections) are made lazy: the import
# binds a module that runs its code on first use. Measured: ~3.6 MiB less after 2,000 welcome
# pages. The trade: a driver that would fail to import fails at first use instead.
LAZY_IN_LEAN = ("gluon.contrib.pypyodbc", "gluon.contrib.pymysql", "gluon.contrib.pg8000",
                "imaplib", "yaml", "tarfile", "ssl")
# --lean without TLS: OpenSSL's digests (_hashlib maps libcrypto: ~3.5 MiB) are not loaded;
# hashlib then uses CPython's own md5/sha1/sha2/sha3/blake2 (the same digests) and its Python
# pbkdf2_hmac (~1 ms for web2py's 1,000 rounds); hashlib.scrypt and OpenSSL-only algorithms are
# missing. An application that uses ssl loads libcrypto anyway.
KEPT_OUT_IN_LEAN = ("_hashlib",)

_lazy_lock = threading.RLock()


class _LazyModule(types.ModuleType):
    """A module whose code has not run yet: the first attribute it lacks runs it (under a lock,
    once), then it is an ordinary module. __spec__, __name__ and the like are there already, so
    another `import` of it does not run it."""

    def __getattr__(self, attr):
        if not self.__dict__.get("_w2pserve_deferred"):
            raise AttributeError(attr)  # the import system is still setting it up
        _run_lazy(self)
        return getattr(self, attr)


def _run_lazy(module):
    with _lazy_lock:
        if type(module) is not _LazyModule:
            return
        loader = module.__spec__.loader.real
        del module.__dict__["_w2pserve_deferred"]
        module.__class__ = types.ModuleType
        module.__spec__.loader = loader
        module.__loader__ = loader
        loader.exec_module(module)


class _DeferredLoader:
    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return _LazyModule(spec.name)

    def exec_module(self, module):
        module.__dict__["_w2pserve_deferred"] = True  # in sys.modules now: runs on first use


class _LeanFinder:
    def __init__(self, lazy, kept_out):
        self.lazy = lazy
        self.kept_out = kept_out

    def find_spec(self, name, path=None, target=None):
        if name in self.kept_out:
            raise ImportError("w2pserve --lean: %s is not loaded" % name, name=name)
        if name not in self.lazy:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        # Only modules written in Python: an extension module's code cannot wait.
        if spec.loader is None or not (spec.origin or "").endswith(".py"):
            return spec
        spec.loader = _DeferredLoader(spec.loader)
        return spec


def import_gluon_main(lean=False, tls=False):
    """Imports gluon.main as handlers/wsgihandler.py does (web2py_runtime_handler set), with
    KEPT_OUT_OF_GLUON refused for the duration (and in lean mode LAZY_IN_LEAN made lazy,
    KEPT_OUT_IN_LEAN refused unless the server speaks TLS). Returns the module."""
    finders = [_KeepOut(KEPT_OUT_OF_GLUON)]
    if lean:
        finders.insert(0, _LeanFinder(LAZY_IN_LEAN, () if tls else KEPT_OUT_IN_LEAN))
    sys.meta_path[:0] = finders
    try:
        import gluon.settings

        gluon.settings.global_settings.web2py_runtime_handler = True
        import gluon.main
    finally:
        for finder in finders:
            sys.meta_path.remove(finder)
    return gluon.main


# --- Compiled views in memory ----------------------------------------------------------------

VIEW_CACHE_BYTES = 16 * 1024 * 1024
_DIRECTIVE = "%s\\s*(?:extend|include)\\b(.*?)%s"


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _names_are_literals(texts, delimiters):
    """True when every {{extend X}} / {{include X}} in the texts names its file with a string
    literal: then the files a view reads depend on nothing but the files themselves."""
    pattern = re.compile(_DIRECTIVE % (re.escape(delimiters[0]), re.escape(delimiters[1])), re.S)
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for arg in pattern.findall(text):
            arg = arg.strip()
            if not arg:
                continue  # the layout's bare {{include}}
            try:
                if not isinstance(ast.literal_eval(arg), str):
                    return False
            except (ValueError, SyntaxError):
                return False
    return True


class _Entry:
    __slots__ = ("deps", "scode", "layer", "ccode", "size")

    def __init__(self, deps, scode):
        self.deps = deps
        self.scode = scode
        self.layer = None
        self.ccode = None
        self.size = len(scode)


class ViewCache:
    """Parsed and compiled views keyed by the view, the folder and the delimiters, valid while
    every file the parse read (the view, what it extends and includes) has the same modification
    time, size and inode. Views whose extend/include names are expressions are not kept. Bounded
    by VIEW_CACHE_BYTES (source plus marshalled code), least recently used first out."""

    def __init__(self, parse_template, compile2, file_reader, limit=VIEW_CACHE_BYTES):
        self._parse = parse_template
        self._compile2 = compile2
        self._read = file_reader
        self.limit = limit
        self.size = 0
        self.hits = self.misses = self.uncacheable = self.evictions = 0
        self._entries = collections.OrderedDict()
        self._by_scode = {}
        self._lock = threading.Lock()

    def _fresh(self, entry):
        return all(_stamp(path) == stamp for path, stamp in entry.deps)

    def parse_template(self, filename, path="views/", context=None, lexers=None,
                       delimiters=None, reader=None):
        if not isinstance(filename, str) or not isinstance(path, str) or lexers or reader:
            return self._parse(filename, path, context=context, lexers=lexers,
                               delimiters=delimiters, reader=reader)
        response = (context or {}).get("response")
        delims = getattr(response, "delimiters", None) or delimiters or ("{{", "}}")
        key = (path, filename, tuple(delims))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and self._fresh(entry):
            self.hits += 1
            return entry.scode
        self.misses += 1
        # Each file is stamped before it is read: an edit during the parse shows next time.
        deps, texts = [], []

        def recording_reader(filepath, mode="rb"):
            stamp = _stamp(filepath)
            text = self._read(filepath, mode)
            deps.append((filepath, stamp))
            texts.append(text)
            return text

        top = os.path.join(path, filename)
        stamp = _stamp(top)
        data = self._read(top)
        deps.append((top, stamp))
        texts.append(data)
        scode = self._parse(io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data),
                            path, context=context, delimiters=delimiters,
                            reader=recording_reader)
        if None in (s for _, s in deps) or not _names_are_literals(texts, delims):
            self.uncacheable += 1
            return scode
        with self._lock:
            self._remove(key)
            entry = _Entry(tuple(deps), scode)
            self._entries[key] = entry
            self._by_scode[scode] = entry
            self.size += entry.size
            self._trim()
        return scode

    def compile2(self, code, layer):
        entry = self._by_scode.get(code) if isinstance(code, str) else None
        if entry is not None and entry.ccode is not None and entry.layer == layer:
            return entry.ccode
        ccode = self._compile2(code, layer)
        if entry is not None:
            with self._lock:
                if self._by_scode.get(code) is entry:
                    grown = len(marshal.dumps(ccode))
                    entry.layer, entry.ccode = layer, ccode
                    entry.size += grown
                    self.size += grown
                    self._trim()
        return ccode

    def _remove(self, key):
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= entry.size
            if self._by_scode.get(entry.scode) is entry:
                del self._by_scode[entry.scode]

    def _trim(self):
        while self.size > self.limit and self._entries:
            self._remove(next(iter(self._entries)))
            self.evictions += 1

    def stats(self):
        return {"views": len(self._entries), "bytes": self.size, "hits": self.hits,
                "misses": self.misses, "uncacheable": self.uncacheable,
                "evictions": self.evictions}


view_cache = None


def install_view_cache(limit=VIEW_CACHE_BYTES):
    """Wraps gluon.compileapp's parse_template and compile2 (the names run_view_in calls)."""
    global view_cache
    import gluon.compileapp as compileapp
    from yatl.template import file_reader

    view_cache = ViewCache(compileapp.parse_template, compileapp.compile2, file_reader, limit)
    compileapp.parse_template = view_cache.parse_template
    compileapp.compile2 = view_cache.compile2
    return view_cache
