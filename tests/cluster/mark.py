# The cron job of the cluster test: one row per run, naming the node and the minute.
import os
import time

import psycopg2

conn = psycopg2.connect(os.environ["W2P_DB_URL"])
with conn, conn.cursor() as cur:
    cur.execute("INSERT INTO cron_marks (node, minute) VALUES (%s, %s)",
                (os.environ["W2P_NODE"], int(time.time()) // 60 * 60))
conn.close()
