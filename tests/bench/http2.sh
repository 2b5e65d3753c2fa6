#!/usr/bin/env bash
# HTTP/2 side by side on loopback (cleartext, prior knowledge: h2c): h2load against w2pserve
# --h2c, lighttpd (h2c on) and nginx (listen ... http2), a 3 KiB and a 145 KiB static file, 10
# connections x 10 concurrent streams, ROUNDS alternating runs each (medians and the ratios of
# w2pserve to the others); then the RSS cost of 1,000 idle HTTP/2 connections on w2pserve, a
# tiny WSGI page over HTTP/2 against HTTP/1.1, and the RSS of 99 application streams in flight.
# Usage: tests/bench/http2.sh   (env: ROUNDS, REQUESTS)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/common.sh"
bash "$BENCH_DIR/../../scripts/deps.sh" bench >/dev/null
ROUNDS="${ROUNDS:-6}"
REQUESTS="${REQUESTS:-50000}"
work=$(mktemp -d /tmp/w2p-bench-h2-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/www"
chmod 755 "$work" "$work/www"  # nginx reads as its worker user
head -c 3072 /dev/urandom >"$work/www/f3k.bin"
head -c 148480 /dev/urandom >"$work/www/f145k.bin"

w2p_port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$w2p_port --static /="$work/www" --h2c \
  --log-level warn & PIDS+=($!)
w2p_pid=$!
li_port=$(free_port)
cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$work/www"
server.port = $li_port
server.bind = "127.0.0.1"
server.errorlog = "$work/lighttpd.err"
mimetype.assign = (".bin" => "application/octet-stream")
server.feature-flags += ("server.h2proto" => "enable", "server.h2c" => "enable")
CONF
lighttpd -D -f "$work/lighttpd.conf" & PIDS+=($!)
li_pid=$!
ng_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 2048; }
http {
  access_log off;
  keepalive_requests 1000000;  # HTTP/2 too: no GOAWAY after 1,000 streams
  server { listen 127.0.0.1:$ng_port http2; root $work/www; }
}
CONF
nginx -c "$work/nginx.conf" -e "$work/nginx.err" & PIDS+=($!)
ng_pid=$!
for p in $w2p_port $li_port $ng_port; do  # until each answers over h2c (bounded: 30 s)
  for _ in $(seq 300); do
    curl -s --http2-prior-knowledge --max-time 1 -o /dev/null "http://127.0.0.1:$p/f3k.bin" && break
    sleep 0.1
  done
done

echo "ports: w2pserve $w2p_port, lighttpd $li_port, nginx $ng_port"
h2rps() {  # URL: req/s of one h2load run (every request must succeed)
  local out
  out=$(timeout 120 h2load -n "$REQUESTS" -c 10 -m 10 "$1" 2>&1)
  if ! grep -q "$REQUESTS succeeded, 0 failed" <<<"$out"; then
    echo "h2load on $1: $(grep -E '^requests:|^status codes:' <<<"$out" | tr '\n' ' ')" >&2
    echo 0
    return
  fi
  awk '/^finished in/ {print $4}' <<<"$out"
}

for file in f3k.bin f145k.bin; do
  : >"$work/runs"
  for _ in $(seq "$ROUNDS"); do
    echo "$(h2rps "http://127.0.0.1:$w2p_port/$file") $(h2rps "http://127.0.0.1:$li_port/$file") $(h2rps "http://127.0.0.1:$ng_port/$file")" >>"$work/runs"
  done
  /usr/bin/python3.11 - "$work/runs" "$file" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
w, l, n = ([r[i] for r in rows] for i in range(3))
med = statistics.median
print("%s: w2pserve %.0f, lighttpd %.0f, nginx %.0f req/s (medians of %d); w2pserve/lighttpd %.3f, w2pserve/nginx %.3f (target >= 1.0 against lighttpd)"
      % (sys.argv[2], med(w), med(l), med(n), len(rows), med([a / b for a, b in zip(w, l)]),
         med([a / b for a, b in zip(w, n)])))
PY
done

# 1,000 idle HTTP/2 connections (preface and SETTINGS exchanged, no stream): on a fresh
# w2pserve (every byte they take is new to the process) and on the one that served the rounds
# above (its heap has room to reuse: the cost a busy server sees).
fresh_port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$fresh_port --static /="$work/www" --h2c \
  --log-level warn & PIDS+=($!)
fresh_pid=$!
for _ in $(seq 300); do
  curl -s --http2-prior-knowledge --max-time 1 -o /dev/null "http://127.0.0.1:$fresh_port/f3k.bin" && break
  sleep 0.1
done
idle_conns() {  # LABEL PORT PID
  timeout 120 /usr/bin/python3.11 - "$@" <<'PY'
import socket, sys
label, port, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss():
    return int([l.split()[1] for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")][0])
before = rss()
settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings)
    conns.append(s)
for s in conns:  # every connection answered with its SETTINGS: the server holds it
    s.settimeout(10)
    s.recv(100)
after = rss()
print("1,000 idle HTTP/2 connections, %s server: RSS %d -> %d KiB, %.1f KiB each (target <= 16)"
      % (label, before, after, (after - before) / 1000))
for s in conns:
    s.close()
PY
}
idle_conns fresh "$fresh_port" "$fresh_pid"
idle_conns warm "$w2p_port" "$w2p_pid"

# A tiny WSGI page (the application's cost, not Python's): HTTP/2 (10 connections x 10
# streams) against HTTP/1.1 (10 keep-alive connections), the same client (h2load) and server,
# ROUNDS alternating runs.
cat >"$work/tiny_app.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello world"]
PY
app_port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$app_port --app tiny_app:application \
  --pythonpath "$work" --h2c --log-level warn & PIDS+=($!)
for _ in $(seq 300); do
  curl -s --http2-prior-knowledge --max-time 1 -o /dev/null "http://127.0.0.1:$app_port/" && break
  sleep 0.1
done
h1rps() {  # URL: req/s of one h2load --h1 run (every request must succeed)
  local out
  out=$(timeout 120 h2load --h1 -n "$REQUESTS" -c 10 "$1" 2>&1)
  grep -q "$REQUESTS succeeded, 0 failed" <<<"$out" || { echo 0; return; }
  awk '/^finished in/ {print $4}' <<<"$out"
}
: >"$work/runs"
for _ in $(seq "$ROUNDS"); do
  echo "$(h2rps "http://127.0.0.1:$app_port/") $(h1rps "http://127.0.0.1:$app_port/")" >>"$work/runs"
done
/usr/bin/python3.11 - "$work/runs" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
h2, h1 = [r[0] for r in rows], [r[1] for r in rows]
print("tiny WSGI page: HTTP/2 %.0f, HTTP/1.1 %.0f req/s (medians of %d); h2/h1.1 %.3f"
      % (statistics.median(h2), statistics.median(h1), len(rows),
         statistics.median([a / b for a, b in zip(h2, h1)])))
PY

# 99 application requests in flight on one HTTP/2 connection (one in Python, the rest queued;
# the application waits until a file appears): what each costs the server while it waits.
cat >"$work/gate_app.py" <<PY
import os, time
def application(environ, start_response):
    deadline = time.monotonic() + 60
    while not os.path.exists("$work/gate") and time.monotonic() < deadline:
        time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"x" * 100]
PY
gate_port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$gate_port --app gate_app:application \
  --pythonpath "$work" --h2c --log-level warn & PIDS+=($!)
gate_pid=$!
timeout 120 /usr/bin/python3.11 - "$gate_port" "$gate_pid" "$work/gate" "$BENCH_DIR/../integration" <<'PY'
import os, socket, sys, time
port, pid, gate = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from test_http2 import H2Client
def rss():
    return int([l.split()[1] for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")][0])
for _ in range(300):  # until it listens
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.1)
time.sleep(1.5)  # past the start-up's idle release
before = rss()
c = H2Client(port)
sids = [c.request("/") for _ in range(99)]
time.sleep(1.5)  # the streams received and queued (a benchmark's settling, not a test)
during = rss()
open(gate, "w").close()
answered = sum(1 for s in sids if c.response(s)["status"] == 200)
c.close()
print("99 application streams in flight: RSS %d -> %d KiB, %.1f KiB each (%d answered)"
      % (before, during, (during - before) / 99.0, answered))
PY
