#!/usr/bin/env bash
# Side by side on one web2py tree (loopback, wrk -t1 -c8):
#   w2pserve --root | lighttpd + uWSGI in FastCGI mode (the classic setup on Python 3) |
#   uWSGI alone (--http11-socket, --static-map, one process) | gunicorn (one gthread worker) |
#   web2py's wsgibase called in a bare interpreter, no server (memory only).
# Reports RSS (all processes summed) idle and after 2000 welcome-page requests, and req/s and
# p99 for the welcome page, a static CSS file and a minimal action.
# Usage: tests/bench/web2py.sh /path/to/web2py   (env: DURATION, THREADS_FCGI)
# It writes into that tree: wsgihandler.py, an application `w2pbench`, sessions.
set -euo pipefail
ROOT=$(cd "${1:?usage: web2py.sh WEB2PY_ROOT}" && pwd)
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null
CONNS=8
THREADS_FCGI="${THREADS_FCGI:-4}"
work=$(mktemp -d /tmp/w2p-bench-web2py-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT

cp "$ROOT/handlers/wsgihandler.py" "$ROOT/wsgihandler.py"
mkdir -p "$ROOT/applications/w2pbench/"{controllers,models,views,static,errors,sessions,databases,cache,private,languages}
touch "$ROOT/applications/w2pbench/__init__.py"
printf 'def hello():\n    return "hello"\n' >"$ROOT/applications/w2pbench/controllers/default.py"

PAGE=/welcome/default/index
CSS=/welcome/static/css/web2py.css
MINI=/w2pbench/default/hello


printf '%-28s %9s %9s | %9s %7s | %9s %7s | %9s %7s\n' server "idle KiB" "2000 KiB" \
  "page r/s" "p99 ms" "css r/s" "p99 ms" "mini r/s" "p99 ms"

report() {  # key name base_url pids...
  local key=$1 name=$2 base=$3; shift 3
  sequential_gets "$base$PAGE" 1
  local idle; idle=$(rss_kib "$@")
  sequential_gets "$base$PAGE" 1999
  local after; after=$(rss_kib "$@")
  read -r prps pp99 _ < <(load "$base$PAGE")
  read -r crps cp99 _ < <(load "$base$CSS")
  read -r mrps mp99 _ < <(load "$base$MINI")
  printf '%-28s %9s %9s | %9s %7s | %9s %7s | %9s %7s\n' "$name" "$idle" "$after" \
    "$prps" "$pp99" "$crps" "$cp99" "$mrps" "$mp99"
  echo "$key $after $prps $crps $mrps" >>"$work/results"
}

# w2pserve
port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --root "$ROOT" --listen 127.0.0.1:$port --log-level warn & PIDS+=($!)
pid=$!
wait_http "http://127.0.0.1:$port$CSS"
report w2pserve w2pserve "http://127.0.0.1:$port" "$pid"
kill "$pid"; wait "$pid" 2>/dev/null || true

# lighttpd + uWSGI FastCGI (web2py book's lighttpd rewrite rules).
port=$(free_port)
start_web2py_fastcgi "$ROOT" "$port" "$work" "$THREADS_FCGI"
fpid=$FCGI_PID
lpid=$LIGHTTPD_PID
wait_http "http://127.0.0.1:$port$CSS"
report fastcgi "lighttpd+uWSGI-FastCGI(${THREADS_FCGI}t)" "http://127.0.0.1:$port" "$fpid" "$lpid"
echo "  (FastCGI Python process alone: $(rss_kib "$fpid") KiB)"
fcgi_python=$(rss_kib "$fpid")
kill "$lpid"; kill -INT "$fpid"; wait "$lpid" "$fpid" 2>/dev/null || true

# uWSGI alone, static-map.
port=$(free_port)
start_web2py_uwsgi "$ROOT" "$port" "$work"
upid=$UWSGI_PID
wait_http "http://127.0.0.1:$port$CSS"
report uwsgi "uWSGI http+static-map" "http://127.0.0.1:$port" "$upid"
kill -INT "$upid"; wait "$upid" 2>/dev/null || true

# gunicorn, one gthread worker.
port=$(free_port)
(cd "$ROOT" && exec gunicorn -k gthread --threads 1 -w 1 -b 127.0.0.1:$port wsgihandler:application \
  >"$work/gunicorn.log" 2>&1) & PIDS+=($!)
gpid=$!
wait_http "http://127.0.0.1:$port$CSS"
report gunicorn "gunicorn gthread" "http://127.0.0.1:$port" "$gpid"
kill "$gpid"; wait "$gpid" 2>/dev/null || true

# web2py alone: wsgibase called 2000 times in a bare interpreter, no server.
bare=$(cd "$ROOT" && /usr/bin/python3.11 "$BENCH_DIR/web2py_bare_loop.py" 2000 | cut -d" " -f1)
printf '%-28s %9s %9s\n' "web2py bare (no server)" "-" "$bare"

echo
read -r _ w_rss w_page w_css w_mini < <(grep '^w2pserve ' "$work/results")
read -r _ f_rss f_page f_css f_mini < <(grep '^fastcgi ' "$work/results")
read -r _ u_rss u_page u_css u_mini < <(grep '^uwsgi ' "$work/results")
awk -v w="$w_rss" -v f="$fcgi_python" -v b="$bare" 'BEGIN {
  printf "w2pserve RSS after 2000 / FastCGI Python process alone: %.2f (target <= 1.0)\n", w/f
  printf "w2pserve RSS - bare web2py: %+d KiB (stretch target <= 2048)\n", w-b }'
awk -v a="$w_mini" -v f="$f_mini" -v u="$u_mini" 'BEGIN {
  printf "minimal action req/s vs lighttpd+FastCGI: %.2f, vs uWSGI: %.2f (target >= 1.1)\n", a/f, a/u }'
awk -v a="$w_page" -v f="$f_page" -v u="$u_page" 'BEGIN {
  printf "welcome page req/s vs lighttpd+FastCGI: %.2f, vs uWSGI: %.2f (target >= 1.0)\n", a/f, a/u }'
awk -v a="$w_css" -v f="$f_css" 'BEGIN { printf "static CSS req/s vs lighttpd: %.2f (target >= 1.0)\n", a/f }'
