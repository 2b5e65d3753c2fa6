"""gluon.main for the cluster test (copied over the fixture tree's stand-in): an application
that writes rows and keeps sessions in the shared PostgreSQL, as a web2py application does with
`db = DAL("postgres://...")` and `session.connect(request, response, db)`, so any node serves
any request. One connection per worker thread (web2py's DAL pools per thread the same way)."""

import json
import os
import threading
import uuid
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

import psycopg2

from gluon.settings import global_settings  # noqa: F401  (the loader sets it)

NODE = os.environ["W2P_NODE"]
_local = threading.local()


def _db():
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg2.connect(os.environ["W2P_DB_URL"])
        _local.conn = conn
    return conn


def _answer(responder, body, headers=()):
    data = json.dumps(body).encode()
    responder("200 OK", [("Content-Type", "application/json"),
                         ("Content-Length", str(len(data))), *headers])
    return [data]


def wsgibase(environ, responder):
    path = environ["PATH_INFO"]
    conn = _db()
    try:
        with conn, conn.cursor() as cur:  # one transaction, committed before the answer
            if path == "/app/default/write":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                form = parse_qs(environ["wsgi.input"].read(size).decode())
                cur.execute("INSERT INTO rows (node, client, seq) VALUES (%s, %s, %s)"
                            " RETURNING id", (NODE, form["client"][0], int(form["seq"][0])))
                return _answer(responder, {"id": cur.fetchone()[0], "node": NODE})
            if path == "/app/default/session":
                cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
                sid = cookie["session_id_app"].value if "session_id_app" in cookie else None
                headers = []
                count = 0
                if sid:
                    cur.execute("SELECT data FROM web2py_session_app WHERE id = %s FOR UPDATE",
                                (sid,))
                    row = cur.fetchone()
                    count = json.loads(row[0])["count"] if row else 0
                else:
                    sid = uuid.uuid4().hex
                    headers.append(("Set-Cookie", "session_id_app=%s; Path=/; HttpOnly" % sid))
                count += 1
                cur.execute("INSERT INTO web2py_session_app (id, data) VALUES (%s, %s)"
                            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
                            (sid, json.dumps({"count": count})))
                return _answer(responder, {"count": count, "node": NODE,
                                           "remote": environ.get("REMOTE_ADDR")}, headers)
            return _answer(responder, {"node": NODE, "path": path})
    except psycopg2.Error:
        _local.conn = None
        raise
