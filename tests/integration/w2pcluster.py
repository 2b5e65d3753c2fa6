"""Helpers for tests with several nodes: free loopback ports and a throwaway PostgreSQL cluster
(initdb and pg_ctl from Debian's postgresql, run as the postgres account when the tests run as
root, with its data and socket in a temporary folder)."""

import os
import shutil
import socket
import subprocess
import tempfile

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """One PostgreSQL server on a loopback port, trust authentication, database `cluster`."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="w2p-pg-")
        os.chmod(self.tmp, 0o755)
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")
        self.data = os.path.join(self.tmp, "data")
        self.port = free_port()
        self.run(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "w2p",
                 "--no-sync", "-E", "UTF8")
        self.run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l",
                 os.path.join(self.tmp, "server.log"), "-w", "-t", "60", "-o",
                 "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                 "-c max_connections=200" % (self.port, self.tmp), "start")
        self.run(os.path.join(PG_BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "w2p", "cluster")
        self.url = "postgresql://w2p@127.0.0.1:%d/cluster" % self.port

    def run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def connect(self):
        import psycopg2  # python3-psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="w2p", dbname="cluster")
        conn.autocommit = True
        return conn

    def query(self, sql, *params):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def stop(self):
        try:
            self.run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w",
                     "stop")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
