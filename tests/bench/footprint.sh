#!/usr/bin/env bash
# Every megabyte accounted for, side by side on one web2py tree and machine (loopback only):
#   RSS and PSS after 2,000 welcome pages (sequential keep-alive requests), measured at once
#   ("busy") and after 2 s without requests ("idle"), for web2py's wsgibase in a bare python3.11
#   loop (no server), w2pserve (default, --lean, --web2py-compile off), lighttpd + a uWSGI FastCGI
#   process (the classic set-up) and uWSGI alone; then w2pserve's own memory table; then the
#   welcome page's req/s with and without the compiled-view cache, alternating short runs.
# Usage: tests/bench/footprint.sh /path/to/web2py   (env: ROUNDS, RUN_SECONDS)
# Writes into that tree: wsgihandler.py, sessions.
set -euo pipefail
ROOT=$(cd "${1:?usage: footprint.sh WEB2PY_ROOT}" && pwd)
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/common.sh"
bash "$BENCH_DIR/../../scripts/deps.sh" bench >/dev/null
ROUNDS="${ROUNDS:-8}"
RUN_SECONDS="${RUN_SECONDS:-3}"
PAGE=/welcome/default/index
CSS=/welcome/static/css/web2py.css
work=$(mktemp -d /tmp/w2p-bench-footprint-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
cp "$ROOT/handlers/wsgihandler.py" "$ROOT/wsgihandler.py"


printf '%-34s %10s %10s %10s %10s\n' "after 2,000 welcome pages" "busy RSS" "busy PSS" "idle RSS" "idle PSS"
row() {  # name base_url pids...
  local name=$1 base=$2; shift 2
  sequential_gets "$base$PAGE" 2000
  local brss bpss irss ipss
  brss=$(rss_kib "$@"); bpss=$(pss_kib "$@")
  sleep 2  # the idle figure is by definition measured after 2 s without requests
  irss=$(rss_kib "$@"); ipss=$(pss_kib "$@")
  printf '%-34s %10s %10s %10s %10s\n' "$name" "$brss" "$bpss" "$irss" "$ipss"
  echo "$name|$brss|$irss" >>"$work/rows"
}

read -r bare_rss bare_pss < <(cd "$ROOT" && /usr/bin/python3.11 "$BENCH_DIR/web2py_bare_loop.py" 2000)
printf '%-34s %10s %10s %10s %10s\n' "web2py bare loop (no server)" "$bare_rss" "$bare_pss" "-" "-"

start_w2pserve() {  # port args...
  local port=$1; shift
  "$W2PSERVE_BIN" "${W2P_ARGS[@]}" --root "$ROOT" --listen 127.0.0.1:$port --log-level warn "$@" &
  PIDS+=($!)
  W2P_PID=$!
  wait_http "http://127.0.0.1:$port$CSS"
}

for variant in "default:" "--lean:--lean" "--web2py-compile off:--web2py-compile off"; do
  name=${variant%%:*}; args=${variant#*:}
  port=$(free_port)
  # shellcheck disable=SC2086
  start_w2pserve "$port" $args
  row "w2pserve $name" "http://127.0.0.1:$port" "$W2P_PID"
  if [[ $name == default ]]; then
    "$W2PSERVE_BIN" memory-report "http://127.0.0.1:$port/server-status" >"$work/table-idle"
    sequential_gets "http://127.0.0.1:$port$PAGE" 200
    "$W2PSERVE_BIN" memory-report "http://127.0.0.1:$port/server-status" >"$work/table-busy"
  fi
  kill "$W2P_PID"; wait "$W2P_PID" 2>/dev/null || true
done

port=$(free_port)
start_web2py_fastcgi "$ROOT" "$port" "$work" 4
wait_http "http://127.0.0.1:$port$CSS"
row "lighttpd + uWSGI FastCGI (4t)" "http://127.0.0.1:$port" "$FCGI_PID" "$LIGHTTPD_PID"
kill "$LIGHTTPD_PID"; kill -INT "$FCGI_PID"; wait "$LIGHTTPD_PID" "$FCGI_PID" 2>/dev/null || true

port=$(free_port)
start_web2py_uwsgi "$ROOT" "$port" "$work"
upid=$UWSGI_PID
wait_http "http://127.0.0.1:$port$CSS"
row "uWSGI http (1 process, 1 thread)" "http://127.0.0.1:$port" "$upid"
kill -INT "$upid"; wait "$upid" 2>/dev/null || true

echo
awk -F'|' -v b="$bare_rss" '$1 == "w2pserve default" || $1 == "w2pserve --lean" {
  printf "%s: busy %+d KiB, idle %+d KiB against the bare loop\n", $1, $2 - b, $3 - b }' "$work/rows"

echo
echo "w2pserve (default) memory, idle after the 2,000 pages:"
cat "$work/table-idle"
echo
echo "... and right after 200 more pages:"
cat "$work/table-busy"

# The compiled-view cache: A = --web2py-compile cache (default), B = off; alternating runs.
echo
echo "welcome req/s, wrk -t1 -c8, $ROUNDS alternating rounds of ${RUN_SECONDS} s (A: cache, B: off)"
port_a=$(free_port); start_w2pserve "$port_a"; pid_a=$W2P_PID
port_b=$(free_port); start_w2pserve "$port_b" --web2py-compile off; pid_b=$W2P_PID
sequential_gets "http://127.0.0.1:$port_a$PAGE" 20
sequential_gets "http://127.0.0.1:$port_b$PAGE" 20
: >"$work/ab"
for _ in $(seq "$ROUNDS"); do
  read -r a _ < <(load "http://127.0.0.1:$port_a$PAGE" "$RUN_SECONDS" 8)
  read -r b _ < <(load "http://127.0.0.1:$port_b$PAGE" "$RUN_SECONDS" 8)
  echo "$a $b" >>"$work/ab"
done
echo "RSS after the runs: A $(rss_kib "$pid_a") KiB, B $(rss_kib "$pid_b") KiB"
kill "$pid_a" "$pid_b"; wait "$pid_a" "$pid_b" 2>/dev/null || true
/usr/bin/python3.11 - "$work/ab" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
a = [r[0] for r in rows]; b = [r[1] for r in rows]
print("A (cache):", " ".join("%.0f" % x for x in a), " median %.1f" % statistics.median(a))
print("B (off):  ", " ".join("%.0f" % x for x in b), " median %.1f" % statistics.median(b))
print("pairwise A/B:", " ".join("%.2f" % (x / y) for x, y in zip(a, b)),
      " median ratio %.2f (target >= 1.3)" % statistics.median([x / y for x, y in zip(a, b)]))
PY
