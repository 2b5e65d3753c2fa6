"""The bundled demo: a small guestbook backed by SQLite (stdlib only).

Its stylesheet and logo are served natively by w2pserve from ./static under /static/.
The database lives in $W2PSERVE_DEMO_DB, or w2pserve-demo-<uid>.sqlite3 in the temp folder: one
per account, so a demo run as root (scripts/run.sh) leaves nothing a later run as www-data cannot
write.
"""

import html
import os
import sqlite3
import tempfile
import threading
import time
from urllib.parse import parse_qs

DB_PATH = os.environ.get("W2PSERVE_DEMO_DB") or os.path.join(
    tempfile.gettempdir(), "w2pserve-demo-%d.sqlite3" % os.getuid()
)
MAX_ENTRIES_SHOWN = 50
MAX_FIELD = 500

_local = threading.local()


def _db():
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS entry ("
            " id INTEGER PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL,"
            " created REAL NOT NULL)"
        )
        conn.commit()
        _local.conn = conn
    return conn


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>w2pserve guestbook</title>
<link rel="stylesheet" href="/static/style.css">
</head><body>
<header><img src="/static/logo.svg" alt="" width="48" height="48">
<h1>w2pserve guestbook</h1></header>
<p class="lead">This page comes from a WSGI app running inside w2pserve's embedded Python;
the stylesheet and logo were served natively, without Python.</p>
<form method="post" action="/sign">
<label>Name <input name="name" maxlength="{max}" required></label>
<label>Message <textarea name="message" maxlength="{max}" required></textarea></label>
<button type="submit">Sign</button>
</form>
<h2>{count} entries</h2>
<ul class="entries">{entries}</ul>
</body></html>
"""


def _index(environ, start_response):
    db = _db()
    count = db.execute("SELECT COUNT(*) FROM entry").fetchone()[0]
    rows = db.execute(
        "SELECT name, message, created FROM entry ORDER BY id DESC LIMIT ?",
        (MAX_ENTRIES_SHOWN,),
    ).fetchall()
    items = "".join(
        "<li><strong>{}</strong> <time>{}</time><p>{}</p></li>".format(
            html.escape(name),
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(created)),
            html.escape(message),
        )
        for name, message, created in rows
    )
    body = PAGE.format(max=MAX_FIELD, count=count, entries=items).encode("utf-8")
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _sign(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 64 * 1024:
        start_response("413 Content Too Large", [("Content-Type", "text/plain")])
        return [b"too large\n"]
    form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
    name = (form.get("name") or [""])[0].strip()[:MAX_FIELD]
    message = (form.get("message") or [""])[0].strip()[:MAX_FIELD]
    if not name or not message:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"name and message are required\n"]
    db = _db()
    with db:
        db.execute(
            "INSERT INTO entry (name, message, created) VALUES (?, ?, ?)",
            (name, message, time.time()),
        )
    start_response("303 See Other", [("Location", "/"), ("Content-Length", "0")])
    return [b""]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    method = environ["REQUEST_METHOD"]
    if path == "/" and method in ("GET", "HEAD"):
        return _index(environ, start_response)
    if path == "/sign" and method == "POST":
        return _sign(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not found\n"]
