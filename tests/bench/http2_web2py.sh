#!/usr/bin/env bash
# A web2py page with its assets over HTTP/2 (cleartext, prior knowledge), side by side: w2pserve
# --h2c against lighttpd with h2c on in front of web2py by uWSGI FastCGI (4 threads), the
# classic set-up. h2load spreads its requests over the welcome page and every static file the
# page links (CSS, JS, images), 4 connections x 10 streams; ROUNDS alternating runs, medians and
# ratios. Then the same on w2pserve over HTTP/1.1 (h2load --h1, 4 connections).
# Usage: tests/bench/http2_web2py.sh WEB2PY_ROOT   (env: ROUNDS, REQUESTS)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/common.sh"
bash "$BENCH_DIR/../../scripts/deps.sh" bench >/dev/null
ROOT=$(cd "${1:?usage: http2_web2py.sh WEB2PY_ROOT}" && pwd)
ROUNDS="${ROUNDS:-4}"
REQUESTS="${REQUESTS:-3000}"
work=$(mktemp -d /tmp/w2p-bench-h2w-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
[[ -f "$ROOT/wsgihandler.py" ]] || cp "$ROOT/handlers/wsgihandler.py" "$ROOT/wsgihandler.py"

w2p_port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --root "$ROOT" --listen 127.0.0.1:$w2p_port --h2c \
  --log-level warn & PIDS+=($!)
li_port=$(free_port)
LIGHTTPD_EXTRA='server.feature-flags += ("server.h2proto" => "enable", "server.h2c" => "enable")' \
  start_web2py_fastcgi "$ROOT" "$li_port" "$work" 4
for p in $w2p_port $li_port; do
  for _ in $(seq 600); do
    curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$p/welcome/default/index" && break
    sleep 0.1
  done
done
page=/welcome/default/index
assets=$(curl -s "http://127.0.0.1:$w2p_port$page" |
  grep -oE '(href|src)="/welcome/static/[^"?]+' | sed 's/.*="//' | sort -u)
count=$(( $(wc -w <<<"$assets") + 1 ))
echo "page $page + $((count - 1)) assets; w2pserve $w2p_port, lighttpd+FastCGI $li_port"
urls() { local base=$1; echo "$base$page"; for a in $assets; do echo "$base$a"; done; }

rate() {  # h2load args...: req/s, every request a success
  local out
  out=$(timeout 300 h2load -n "$REQUESTS" "$@" 2>&1)
  if ! grep -q "$REQUESTS succeeded, 0 failed" <<<"$out"; then
    echo "h2load: $(grep -E '^requests:|^status codes:' <<<"$out" | tr '\n' ' ')" >&2
    echo 0
    return
  fi
  awk '/^finished in/ {print $4}' <<<"$out"
}
: >"$work/runs"
for _ in $(seq "$ROUNDS"); do
  a=$(rate -c 4 -m 10 $(urls "http://127.0.0.1:$w2p_port"))
  b=$(rate -c 4 -m 10 $(urls "http://127.0.0.1:$li_port"))
  c=$(rate --h1 -c 4 $(urls "http://127.0.0.1:$w2p_port"))
  echo "$a $b $c" >>"$work/runs"
done
/usr/bin/python3.11 - "$work/runs" "$count" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
w, l, h1 = ([r[i] for r in rows] for i in range(3))
med = statistics.median
print("requests/s (page + assets, medians of %d): w2pserve h2 %.0f, lighttpd+FastCGI h2 %.0f, "
      "w2pserve HTTP/1.1 %.0f; w2pserve/lighttpd %.2f; h2/h1.1 on w2pserve %.2f; "
      "pages with their assets per second: %.1f, %.1f, %.1f"
      % (len(rows), med(w), med(l), med(h1), med([a / b for a, b in zip(w, l)]),
         med([a / b for a, b in zip(w, h1)]), med(w) / n, med(l) / n, med(h1) / n))
PY
