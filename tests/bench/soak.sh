#!/usr/bin/env bash
# Bounded soak: a mixed load (static files, dynamic pages, application errors, 404s, uploads)
# for about REQUESTS requests (default 1,000,000) in rounds, against one w2pserve; prints RSS,
# open descriptors and threads after each round. Flat RSS after warm-up (growth < 1 MiB), and
# no descriptor or thread growth, is the pass mark.
# Usage: tests/bench/soak.sh   (env: REQUESTS, ROUND_SECONDS)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null
REQUESTS="${REQUESTS:-1000000}"
ROUND_SECONDS="${ROUND_SECONDS:-10}"
work=$(mktemp -d /tmp/w2p-soak-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT

cat >"$work/soak.py" <<'PY'
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/error":
        raise RuntimeError("soak: an application error")
    if path == "/upload":
        n = 0
        inp = environ["wsgi.input"]
        while True:
            block = inp.read(65536)
            if not block:
                break
            n += len(block)
        body = b"%d" % n
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"block %d\n" % i for i in range(20))
    elif path == "/page":
        body = b"<html><body>" + b"<p>row</p>" * 200 + b"</body></html>"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
mkdir -p "$work/static"
head -c 4096 /dev/urandom >"$work/static/small.bin"
head -c 262144 /dev/urandom >"$work/static/large.bin"
head -c 100000 /dev/urandom >"$work/upload.bin"
cat >"$work/mix.lua" <<'LUA'
-- Built in init(): wrk sets the Host header only after the script is loaded.
local requests = {}
init = function(args)
  local upload = io.open(os.getenv("SOAK_UPLOAD")):read("*a")
  requests = {
    wrk.format("GET", "/s/small.bin"),
    wrk.format("GET", "/page"),
    wrk.format("GET", "/s/large.bin"),
    wrk.format("GET", "/stream"),
    wrk.format("GET", "/error"),
    wrk.format("GET", "/missing"),
    wrk.format("GET", "/s/none.bin"),
    wrk.format("POST", "/upload", {["Content-Type"] = "application/octet-stream"}, upload),
  }
end
local i = 0
request = function()
  i = i + 1
  return requests[(i % #requests) + 1]
end
LUA

port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --app soak:application --pythonpath "$work" \
  --static /s="$work/static" --log-level error 2>"$work/server.log" & PIDS+=($!)
pid=$!
wait_http "http://127.0.0.1:$port/page"
fds() { ls /proc/"$pid"/fd | wc -l; }
threads() { ls /proc/"$pid"/task | wc -l; }
printf '%-8s %12s %10s %8s %8s\n' round requests "RSS KiB" fds threads
printf '%-8s %12s %10s %8s %8s\n' start 0 "$(rss_kib "$pid")" "$(fds)" "$(threads)"
done_requests=0
round=0
warm_rss=""
while ((done_requests < REQUESTS)); do
  round=$((round + 1))
  n=$(SOAK_UPLOAD="$work/upload.bin" wrk -t1 -c16 -d"${ROUND_SECONDS}s" -s "$work/mix.lua" \
      "http://127.0.0.1:$port" | awk '/requests in/ {print $1}')
  done_requests=$((done_requests + n))
  rss=$(rss_kib "$pid")
  [[ $round == 1 ]] && warm_rss=$rss
  printf '%-8s %12s %10s %8s %8s\n' "$round" "$done_requests" "$rss" "$(fds)" "$(threads)"
  ((round < 200)) || break
done
end_rss=$(rss_kib "$pid")
echo "RSS growth after warm-up: $((end_rss - warm_rss)) KiB (pass: < 1024)"
echo "application errors logged: $(grep -c '\] application error' "$work/server.log" || true)"
echo "other error-log lines: $(grep -vc 'application error\|^ \|\[error\]   ' "$work/server.log" || true)"
