#!/usr/bin/env bash
# The cluster test (tests/cluster/cluster.py): three w2pserve nodes behind HAProxy with a
# throwaway PostgreSQL, reloads and a SIGKILL under load; bounded (10 minutes at most).
# Usage: tests/cluster/run.sh   (env W2PSERVE_BIN: the binary, default build/w2pserve)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/deps.sh" test >/dev/null
exec timeout 600 /usr/bin/python3.11 -B "$here/cluster.py" "$@"
