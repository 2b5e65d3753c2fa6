#!/usr/bin/env bash
# Side by side on loopback (wrk -t1): hello-world WSGI on w2pserve, uWSGI (--http11-socket, one
# process, one thread) and gunicorn (one gthread worker); a 4 KiB static file on w2pserve and
# lighttpd; RSS after load and idle RSS against a bare python3.11.
# Usage: tests/bench/core.sh   (env: DURATION seconds per run, CONNS connections)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null

work=$(mktemp -d /tmp/w2p-bench-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
cat >"$work/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
PY
mkdir -p "$work/static"
head -c 4096 /dev/urandom >"$work/static/file4k.bin"

printf '%-34s %10s %9s %10s\n' "server" "req/s" "p99 ms" "RSS KiB"

# Bare interpreter, idle.
/usr/bin/python3.11 -c 'import time; time.sleep(120)' & PIDS+=($!)
bare_pid=$!
sleep 1
bare_rss=$(rss_kib "$bare_pid")
printf '%-34s %10s %9s %10s\n' "python3.11 -c sleep (idle)" "-" "-" "$bare_rss"

# w2pserve hello-world.
port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --app hello:application --pythonpath "$work" \
  --static /s="$work/static" --log-level warn & PIDS+=($!)
w2p_pid=$!
wait_http "http://127.0.0.1:$port/"
w2p_idle=$(rss_kib "$w2p_pid")
printf '%-34s %10s %9s %10s\n' "w2pserve hello (idle)" "-" "-" "$w2p_idle"
read -r rps p99 reqs < <(load "http://127.0.0.1:$port/")
w2p_rss1=$(rss_kib "$w2p_pid")
printf '%-34s %10s %9s %10s\n' "w2pserve hello ($reqs req)" "$rps" "$p99" "$w2p_rss1"
w2p_hello_rps=$rps
read -r rps2 p992 reqs2 < <(load "http://127.0.0.1:$port/" $((DURATION * 2)))
w2p_rss2=$(rss_kib "$w2p_pid")
printf '%-34s %10s %9s %10s\n' "w2pserve hello (+$reqs2 more req)" "$rps2" "$p992" "$w2p_rss2"
read -r srps sp99 sreqs < <(load "http://127.0.0.1:$port/s/file4k.bin")
printf '%-34s %10s %9s %10s\n' "w2pserve static 4 KiB" "$srps" "$sp99" "$(rss_kib "$w2p_pid")"
kill "$w2p_pid"; wait "$w2p_pid" 2>/dev/null || true

# uWSGI, its fastest native HTTP mode, one process, one thread.
port=$(free_port)
(cd "$work" && exec uwsgi --plugin python3 --http11-socket 127.0.0.1:$port --wsgi-file hello.py \
  --callable application --processes 1 --threads 1 --disable-logging >"$work/uwsgi.log" 2>&1) & PIDS+=($!)
uw_pid=$!
wait_http "http://127.0.0.1:$port/"
read -r rps p99 reqs < <(load "http://127.0.0.1:$port/")
printf '%-34s %10s %9s %10s\n' "uWSGI http11-socket hello" "$rps" "$p99" "$(rss_kib "$uw_pid")"
uw_rps=$rps
kill -INT "$uw_pid"; wait "$uw_pid" 2>/dev/null || true

# gunicorn, one gthread worker (master + worker RSS summed).
port=$(free_port)
(cd "$work" && exec gunicorn -k gthread --threads 1 -w 1 -b 127.0.0.1:$port hello:application \
  >"$work/gunicorn.log" 2>&1) & PIDS+=($!)
gu_pid=$!
wait_http "http://127.0.0.1:$port/"
read -r rps p99 reqs < <(load "http://127.0.0.1:$port/")
printf '%-34s %10s %9s %10s\n' "gunicorn gthread hello" "$rps" "$p99" "$(rss_kib "$gu_pid")"
gu_rps=$rps
kill "$gu_pid"; wait "$gu_pid" 2>/dev/null || true

# lighttpd static.
port=$(free_port)
start_lighttpd "$work/static" "$port" "$work"
li_pid=$LIGHTTPD_PID
wait_http "http://127.0.0.1:$port/file4k.bin"
read -r lrps lp99 lreqs < <(load "http://127.0.0.1:$port/file4k.bin")
printf '%-34s %10s %9s %10s\n' "lighttpd static 4 KiB" "$lrps" "$lp99" "$(rss_kib "$li_pid")"
kill "$li_pid"; wait "$li_pid" 2>/dev/null || true

echo
awk -v a="$w2p_hello_rps" -v b="$uw_rps" 'BEGIN {printf "hello req/s w2pserve/uWSGI:     %.2f (target >= 1.5)\n", a/b}'
awk -v a="$w2p_hello_rps" -v b="$gu_rps" 'BEGIN {printf "hello req/s w2pserve/gunicorn:  %.2f\n", a/b}'
awk -v a="$srps" -v b="$lrps" 'BEGIN {printf "static req/s w2pserve/lighttpd: %.2f (target >= 1.0)\n", a/b}'
echo "w2pserve RSS after load - bare python3.11: $(( (w2p_rss1 - bare_rss) / 1024 )) MiB (target <= 3)"
echo "w2pserve RSS growth from first to second run: $(( w2p_rss2 - w2p_rss1 )) KiB (target ~0)"
