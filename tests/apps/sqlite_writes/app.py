"""Each POST writes an order and its line in one SQLite transaction, then answers 201; used to
show that no acknowledged write is lost and none is half-applied across a SIGTERM."""

import os
import sqlite3
import threading

DB = os.environ["W2P_TEST_DB"]
_local = threading.local()


def _db():
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE IF NOT EXISTS lines (order_id TEXT PRIMARY KEY, qty INTEGER)")
        _local.conn = conn
    return conn


def application(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ready"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    order_id = environ["wsgi.input"].read(length).decode()
    db = _db()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO orders (id) VALUES (?)", (order_id,))
        db.execute("INSERT INTO lines (order_id, qty) VALUES (?, 1)", (order_id,))
        db.execute("COMMIT")
    except Exception:
        db.execute("ROLLBACK")
        raise
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
