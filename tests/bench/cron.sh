#!/usr/bin/env bash
# web2py cron, in-process vs web2py's own way, on a real web2py tree (one run, side by side):
# the same job (models loaded, 2000 rows written through the DAL) run by w2pserve --cron inside
# the serving process, and by `web2py.py -J -M -S welcome -R job.py` as web2py's cron spawns it.
# Prints the peak RSS of each, and the latency of a minimal action while the job runs vs not.
# Usage: tests/bench/cron.sh WEB2PY_ROOT   (the tree is copied; env: DURATION)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bash "$(dirname "$0")/../../scripts/deps.sh" bench >/dev/null
SRC=${1:?usage: cron.sh WEB2PY_ROOT}

work=$(mktemp -d /tmp/w2p-bench-XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT
cp -a "$SRC" "$work/web2py"
ROOT="$work/web2py"
APP="$ROOT/applications/welcome"
mkdir -p "$APP/cron"
cat >"$APP/cron/job.py" <<'PY'
import time
db.define_table("w2p_cron_bench", Field("n", "integer"), Field("note"))
for i in range(2000):
    db.w2p_cron_bench.insert(n=i, note="x" * 100)
db.commit()
# Long enough to be measured under load.
end = time.time() + 4
while time.time() < end:
    db(db.w2p_cron_bench.n < 100).count()
PY
cat >"$APP/controllers/bench.py" <<'PY'
def ping():
    return "ok"
PY

# web2py's way: a new process for the job.
peak_spawn=$(cd "$ROOT" && /usr/bin/python3.11 -c '
import resource, subprocess, sys
subprocess.run([sys.executable, "web2py.py", "-J", "-M", "-S", "welcome", "-R",
                "applications/welcome/cron/job.py"], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, timeout=300)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)')
echo "web2py cron, a new process for the job: peak RSS of that process ${peak_spawn} KiB"

# The same server without cron, for its own footprint (after the same warm-up load).
port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --root "$ROOT" --listen 127.0.0.1:$port --log-level warn & PIDS+=($!)
plain_pid=$!
wait_http "http://127.0.0.1:$port/welcome/bench/ping"
load "http://127.0.0.1:$port/welcome/bench/ping" 3 4 >/dev/null
plain_peak=$(awk '/VmHWM/ {print $2}' /proc/$plain_pid/status)
echo "w2pserve without cron, same load: peak RSS ${plain_peak} KiB; with web2py's cron the machine holds that plus the job's process: $((plain_peak + peak_spawn)) KiB"
kill "$plain_pid"; wait "$plain_pid" 2>/dev/null || true

# w2pserve: the job inside the serving process.
printf '@reboot root *applications/welcome/cron/job.py\n' >"$APP/cron/crontab"
port=$(free_port)
"$W2PSERVE_BIN" "${W2P_ARGS[@]}" --root "$ROOT" --listen 127.0.0.1:$port --log-level warn --cron \
  --cron-ledger "$work/ledger.sqlite" & PIDS+=($!)
pid=$!
wait_http "http://127.0.0.1:$port/welcome/bench/ping"
read -r rps_job p99_job _ < <(load "http://127.0.0.1:$port/welcome/bench/ping" 3 4)
for _ in $(seq 300); do
  [[ -s "$work/ledger.sqlite" ]] && /usr/bin/python3.11 -c "import sqlite3,sys; sys.exit(0 if sqlite3.connect('$work/ledger.sqlite').execute('select count(*) from runs').fetchone()[0] else 1)" 2>/dev/null && break
  sleep 0.1
done
peak_in=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
read -r rps_idle p99_idle _ < <(load "http://127.0.0.1:$port/welcome/bench/ping" 3 4)
rss_now=$(rss_kib "$pid")
echo "w2pserve --cron, the job in the serving process: peak RSS of the whole server ${peak_in} KiB (now ${rss_now} KiB)"
echo "minimal action while the job runs: ${rps_job} req/s, p99 ${p99_job} ms; after: ${rps_idle} req/s, p99 ${p99_idle} ms"
/usr/bin/python3.11 -c "import sqlite3; print('ledger:', sqlite3.connect('$work/ledger.sqlite').execute('select job, status, duration_ms from runs').fetchall())"
