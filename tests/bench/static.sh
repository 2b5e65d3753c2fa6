#!/usr/bin/env bash
# Static files side by side on loopback (wrk -t1, one run): w2pserve, lighttpd and nginx
# (Debian's nginx-light, one worker) serving a 1 KiB, a 100 KiB and a 10 MiB file; then the RSS
# cost of 1,000 idle keep-alive connections on w2pserve.
# Usage: tests/bench/static.sh   (env: DURATION seconds per run, CONNS connections)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null

work=$(mktemp -d /tmp/w2p-bench-XXXXXX)
chmod 755 "$work"
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/urandom >"$work/www/f1k.bin"
head -c $((100 * 1024)) /dev/urandom >"$work/www/f100k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$work/www/f10m.bin"
cat >"$work/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
PY

declare -A RPS
run_all() {  # run_all NAME PORT PID
  local name=$1 port=$2 pid=$3 f rps p99
  for f in f1k f100k f10m; do
    read -r rps p99 _ < <(load "http://127.0.0.1:$port/$f.bin")
    RPS[$name,$f]=$rps
    printf '%-12s %-8s %12s %9s %10s\n' "$name" "$f" "$rps" "$p99" "$(rss_kib "$pid")"
  done
}
printf '%-12s %-8s %12s %9s %10s\n' "server" "file" "req/s" "p99 ms" "RSS KiB"

port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --app hello:application --pythonpath "$work" \
  --static /="$work/www" --log-level warn & PIDS+=($!)
w2p_pid=$!
wait_http "http://127.0.0.1:$port/f1k.bin"
run_all w2pserve "$port" "$w2p_pid"
w2p_port=$port

lport=$(free_port)
start_lighttpd "$work/www" "$lport" "$work"
li_pid=$LIGHTTPD_PID
wait_http "http://127.0.0.1:$lport/f1k.bin"
run_all lighttpd "$lport" "$li_pid"
kill "$li_pid"; wait "$li_pid" 2>/dev/null || true

nport=$(free_port)
cat >"$work/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { application/octet-stream bin; }
  server { listen 127.0.0.1:$nport; root $work/www; }
}
CONF
nginx -c "$work/nginx.conf" & PIDS+=($!)
ng_pid=$!
wait_http "http://127.0.0.1:$nport/f1k.bin"
run_all nginx "$nport" "$ng_pid"
kill -QUIT "$ng_pid"; wait "$ng_pid" 2>/dev/null || true

echo
for f in f1k f100k f10m; do
  awk -v a="${RPS[w2pserve,$f]}" -v l="${RPS[lighttpd,$f]}" -v n="${RPS[nginx,$f]}" -v f="$f" \
    'BEGIN {printf "%-6s w2pserve/lighttpd %.2f (target >= 1.0)   w2pserve/nginx %.2f (target >= 0.9)\n", f, a/l, a/n}'
done

# 1,000 idle keep-alive connections: each sends one request, reads the answer, and stays open
# until the client is told to stop (a line on its stdin), so RSS is read while they are all idle.
before=$(rss_kib "$w2p_pid")
cat >"$work/idle.py" <<'PY'
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
port, count = int(sys.argv[1]), int(sys.argv[2])
socks = []
deadline = time.monotonic() + 60
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /f1k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 1024:
        chunk = s.recv(65536)
        if not chunk or time.monotonic() > deadline:
            sys.exit("connection %d failed" % i)
        got += chunk
    socks.append(s)
print("ready", len(socks), flush=True)
sys.stdin.readline()
PY
coproc IDLE { /usr/bin/python3.11 "$work/idle.py" "$w2p_port" 1000; }
idle_pid=$IDLE_PID
PIDS+=("$idle_pid")
read -r -t 90 status opened <&"${IDLE[0]}"
[[ "$status" == ready ]] || { echo "idle client failed" >&2; exit 1; }
after=$(rss_kib "$w2p_pid")
echo "ready" >&"${IDLE[1]}"
wait "$idle_pid" 2>/dev/null || true
awk -v a="$after" -v b="$before" -v n="$opened" \
  'BEGIN {printf "w2pserve RSS: %d KiB before, %d KiB with %d idle keep-alive connections: %.1f KiB each (target <= 10)\n", b, a, n, (a - b) / n}'
