#!/usr/bin/env bash
# Installs what is missing, builds w2pserve (Release) and runs it. With no arguments it serves
# the bundled demo on http://127.0.0.1:8000/; any arguments go to w2pserve
# (e.g. scripts/run.sh --root /var/www/web2py --listen 0.0.0.0:8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DW2P_TESTS=OFF >/dev/null
cmake --build build --target w2pserve
# Started as root (as this set-up command is), Python runs as root only when asked: this script
# asks for it, and says so; give --user www-data (or your own account) to serve as that user.
extra=()
if [[ $(id -u) -eq 0 ]] && [[ " $* " != *" --user "* ]] && [[ " $* " != *" --allow-root "* ]]; then
  extra=(--allow-root)
  echo "scripts/run.sh: running as root, so Python runs as root (--allow-root); add --user www-data to run it as that account" >&2
fi
exec ./build/w2pserve "${extra[@]}" "$@"
