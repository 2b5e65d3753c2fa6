# Shared helpers for the side-by-side benchmarks (sourced). Loopback only; every process started
# is stopped by its PID; every load run is bounded in time.

W2PSERVE_BIN="${W2PSERVE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/w2pserve}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
PIDS=()
# Benchmarks run as root on the test machine: Python as root must be allowed explicitly there.
W2P_ARGS=()
[[ $(id -u) -eq 0 ]] && W2P_ARGS=(--allow-root)

cleanup() {
  # SIGINT as well: uWSGI takes SIGTERM as "reload".
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL: until it answers (bounded: 30 s).
wait_http() {
  for _ in $(seq 300); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# sum_kib FILE FIELD PID...: FIELD (kB) from /proc/PID/FILE, summed over the processes and
# their children.
sum_kib() {
  local file=$1 field=$2 total=0 pid p v
  shift 2
  for pid in "$@"; do
    for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
      v=$(awk -v f="$field:" '$1 == f {print $2}' /proc/"$p"/"$file" 2>/dev/null || echo 0)
      total=$((total + ${v:-0}))
    done
  done
  echo "$total"
}
rss_kib() { sum_kib status VmRSS "$@"; }
pss_kib() { sum_kib smaps_rollup Pss "$@"; }

# start_lighttpd DOCROOT PORT WORKDIR: lighttpd serving DOCROOT on loopback (config and error log
# in WORKDIR); sets LIGHTTPD_PID (started in this shell, so PIDS keeps it).
start_lighttpd() {
  cat >"$3/lighttpd.conf" <<CONF
server.document-root = "$1"
server.port = $2
server.bind = "127.0.0.1"
server.errorlog = "$3/lighttpd.err"
mimetype.assign = (".bin" => "application/octet-stream")
CONF
  lighttpd -D -f "$3/lighttpd.conf" & PIDS+=($!)
  LIGHTTPD_PID=$!
}

# sequential_gets URL N: N sequential keep-alive GETs, each must be a 200 (bounded: 300 s).
sequential_gets() {
  timeout 300 /usr/bin/python3.11 - "$1" "$2" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for _ in range(int(sys.argv[2])):
    c.request("GET", u.path)
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit("status %d" % r.status)
PY
}

# load URL [duration] [conns]: prints "req/s p99_ms requests"
load() {
  local out
  out=$(wrk -t1 -c"${3:-$CONNS}" -d"${2:-$DURATION}s" --latency "$1")
  local rps p99 reqs
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [[ -n "$errors" ]] && echo "  ($1: $errors)" >&2
  echo "$rps $p99 $reqs"
}

# start_web2py_fastcgi ROOT PORT WORKDIR [THREADS]: the classic set-up, lighttpd + a uWSGI
# FastCGI process running web2py's handlers/wsgihandler.py (the web2py book's rewrite rules);
# sets FCGI_PID and LIGHTTPD_PID. ROOT/wsgihandler.py must exist. LIGHTTPD_EXTRA: more lines
# for lighttpd.conf.
start_web2py_fastcgi() {
  local root=$1 port=$2 work=$3 threads=${4:-4}
  (cd "$root" && exec uwsgi --plugin python3 --fastcgi-socket "$work/fcgi.sock" \
    --wsgi-file wsgihandler.py --callable application --processes 1 --threads "$threads" \
    --disable-logging >"$work/uwsgi-fcgi.log" 2>&1) & PIDS+=($!)
  FCGI_PID=$!
  cat >"$work/lighttpd.conf" <<CONF
server.modules = ("mod_rewrite", "mod_fastcgi")
server.document-root = "$root"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$work/lighttpd.err"
mimetype.assign = (".css" => "text/css", ".js" => "text/javascript")
url.rewrite-once = ( "^(/.+?/static/.+)$" => "/applications\$1",
                     "(^|/.*)$" => "/handler_web2py.fcgi\$1" )
fastcgi.server = ( "/handler_web2py.fcgi" => ( "web2py" => ( "socket" => "$work/fcgi.sock",
                   "check-local" => "disable", "fix-root-scriptname" => "enable" ) ) )
${LIGHTTPD_EXTRA:-}
CONF
  lighttpd -D -f "$work/lighttpd.conf" & PIDS+=($!)
  LIGHTTPD_PID=$!
}

# start_web2py_uwsgi ROOT PORT WORKDIR: uWSGI alone (one process, one thread) serving web2py's
# handlers/wsgihandler.py and the welcome app's static files; sets UWSGI_PID. --http-socket,
# not --http11-socket: web2py's pages carry no Content-Length and uWSGI's HTTP/1.1 socket then
# holds each response until a 4 s timeout.
start_web2py_uwsgi() {
  local root=$1 port=$2 work=$3
  (cd "$root" && exec uwsgi --plugin python3 --http-socket 127.0.0.1:$port \
    --wsgi-file wsgihandler.py --callable application --processes 1 --threads 1 \
    --disable-logging --static-map /welcome/static="$root/applications/welcome/static" \
    >"$work/uwsgi.log" 2>&1) & PIDS+=($!)
  UWSGI_PID=$!
}
