#!/usr/bin/env bash
# Cost of compressing application responses (--compress-responses): one w2pserve serving a 12 KiB
# HTML page (words and markup like a web2py page, ~3.5x compressible), loaded in turns (A B C A
# B C ...) without Accept-Encoding, with "gzip" and with "br"; medians and ratios to the
# uncompressed runs, bytes per response, and the server's RSS after each kind of load (one
# encoder per response being compressed, freed at its end).
# With W2PSERVE_WEB2PY_ROOT set, the same turns on web2py's welcome index (a real page) as well.
# Usage: tests/bench/compression.sh   (env: DURATION seconds per run (3), ROUNDS (8), CONNS (16))
set -euo pipefail
DURATION="${DURATION:-3}"
CONNS="${CONNS:-16}"
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null
ROUNDS="${ROUNDS:-8}"

work=$(mktemp -d /tmp/w2p-bench-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
cat >"$work/page.py" <<'PY'
import random

rng = random.Random(7)
WORDS = ("web2py server request response table row column value name user date time page form "
         "field submit cancel record search next previous total item price order status").split()
parts = ['<!DOCTYPE html><html><head><title>Orders</title><link rel="stylesheet" '
         'href="/app/static/css/site.css"></head><body><table class="table">']
while sum(map(len, parts)) < 12 * 1024:
    parts.append('<tr><td class="id">%d</td><td>%s</td><td><a href="/app/default/item/%d">%s</a>'
                 '</td></tr>\n' % (rng.randrange(10**6), " ".join(rng.choices(WORDS, k=6)),
                                   rng.randrange(10**5), rng.choice(WORDS).title()))
PAGE = "".join(parts).encode()[:12 * 1024]


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [PAGE]
PY
# measure LABEL URL PID: bytes per coding, then the turns, medians and ratios.
measure() {
  local label=$1 url=$2 server=$3
  size() { curl -s -H "Accept-Encoding: $1" "$url" | wc -c; }
  echo "== $label: bytes per response: identity $(size identity), gzip $(size gzip), br $(size br)"
  run() {  # run CODING: req/s of one bounded run
    local hdr=()
    [[ "$1" != identity ]] && hdr=(-H "Accept-Encoding: $1")
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" "$url" | awk '/^Requests\/sec:/ {print $2}'
  }
  local -A rps rss
  local round c r m base
  for round in $(seq "$ROUNDS"); do
    for c in identity gzip br; do
      r=$(run "$c")
      rps[$c]+="$r "
      rss[$c]+="$(rss_kib "$server") "
      printf 'round %d %-8s %10s req/s  RSS %s KiB\n' "$round" "$c" "$r" "$(rss_kib "$server")"
    done
  done
  base=$(median <<<"${rps[identity]}")
  for c in identity gzip br; do
    m=$(median <<<"${rps[$c]}")
    printf '%-8s median %10s req/s  ratio to identity %.3f  median RSS %s KiB\n' "$c" "$m" \
      "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')" "$(median <<<"${rss[$c]}")"
  done
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --app page:application \
  --pythonpath "$work" --log-level warn >/dev/null 2>&1 & PIDS+=($!)
server=$!
wait_http "http://127.0.0.1:$port/"
measure "12 KiB page from a minimal WSGI app" "http://127.0.0.1:$port/" "$server"

if [[ -n "${W2PSERVE_WEB2PY_ROOT:-}" ]]; then
  port=$(free_port)
  "$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --root "$W2PSERVE_WEB2PY_ROOT" \
    --log-level warn >/dev/null 2>&1 & PIDS+=($!)
  server=$!
  wait_http "http://127.0.0.1:$port/welcome/default/index"
  measure "web2py welcome index" "http://127.0.0.1:$port/welcome/default/index" "$server"
fi
