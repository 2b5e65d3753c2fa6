#!/usr/bin/env bash
# Rewrite rules on the static-file path: a 4 KiB file served natively by one w2pserve with 50
# rewrite rules that do not match its URL (every rule is consulted on every request) and by one
# with no rules, measured in turns (A B A B ...) in one run; then the per-request cost of the
# rules themselves with the Google Benchmark micro-benchmark (build/tests/rewrite_bench).
# Usage: tests/bench/rewrite.sh   (env: DURATION seconds per run, ROUNDS, CONNS)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null
ROUNDS="${ROUNDS:-3}"

work=$(mktemp -d /tmp/w2p-bench-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
cat >"$work/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
PY
mkdir -p "$work/static"
head -c 4096 /dev/urandom >"$work/static/file4k.bin"

# 50 rules of the kinds web2py sites carry; none matches /s/file4k.bin.
{
  echo "document-root = \"$work/static\""
  echo 'rewrite = ['
  echo '  { match = "^/$", to = "/app/default/index" },'
  for i in $(seq 0 45); do
    case $((i % 4)) in
      0) echo "  { match = '^/page$i(\\?|\$)', to = \"/app/default/page/$i\" }," ;;
      1) echo "  { match = '^/blog$i/(\\d+)\$', to = \"/blog$i/default/post/\$1\" }," ;;
      2) echo "  { match = '^/old$i/(.*)\$', to = \"redirect 301 https://example.com/\$1\" }," ;;
      3) echo "  { match = '^/(?:en|de|fr)/section$i/(.*)\$', to = \"/app/s$i/\$1\" }," ;;
    esac
  done
  echo "  { match = '^(?!.*admin)(/.+?/media/.+\$)', to = \"static /applications\$1\" },"
  echo "  { match = '^/(about|contact|team)(\\?|\$)', to = \"/app/default/\$1\" },"
  echo "  { match = '^/last/(.*)\$', to = \"/app/last/\$1\" },"
  echo ']'
} >"$work/rules.toml"
"$W2PSERVE_BIN" check-config "$work/rules.toml" | grep -c "match =" | {
  read -r n; [[ "$n" == 50 ]] || { echo "expected 50 rules, got $n" >&2; exit 1; }; }

start() {  # start VAR [args...]: starts a server (in this shell, so PIDS keeps it), sets VAR to its port
  local port; port=$(free_port)
  "$W2PSERVE_BIN" "${W2P_ARGS[@]}" --listen 127.0.0.1:$port --app hello:application --pythonpath "$work" \
    --static /s="$work/static" --log-level warn "${@:2}" >/dev/null 2>&1 & PIDS+=($!)
  wait_http "http://127.0.0.1:$port/s/file4k.bin"
  printf -v "$1" '%s' "$port"
}
start plain
start rules --config "$work/rules.toml"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rules/old2/x" | grep -q 301 || {
  echo "the rules server does not apply its rules" >&2; exit 1; }

printf '%-40s %10s %9s\n' "w2pserve static 4 KiB" "req/s" "p99 ms"
sum_plain=0; sum_rules=0
for round in $(seq "$ROUNDS"); do
  read -r rps p99 _ < <(load "http://127.0.0.1:$plain/s/file4k.bin")
  printf '%-40s %10s %9s\n' "no rules (round $round)" "$rps" "$p99"
  sum_plain=$(awk -v a="$sum_plain" -v b="$rps" 'BEGIN {print a + b}')
  read -r rps p99 _ < <(load "http://127.0.0.1:$rules/s/file4k.bin")
  printf '%-40s %10s %9s\n' "50 non-matching rules (round $round)" "$rps" "$p99"
  sum_rules=$(awk -v a="$sum_rules" -v b="$rps" 'BEGIN {print a + b}')
done
awk -v a="$sum_rules" -v b="$sum_plain" 'BEGIN {printf "ratio, 50 rules / no rules: %.3f (target >= 0.95)\n", a / b}'

bench_bin="$(dirname "$W2PSERVE_BIN")/tests/rewrite_bench"
if [[ -x "$bench_bin" ]]; then
  echo
  "$bench_bin" --benchmark_min_time=0.5 2>/dev/null | grep -E "^(Benchmark|NoMatch|Match|NoRules|HostSelect)"
else
  echo "($bench_bin is not built: configure with tests on and libbenchmark-dev installed)"
fi
