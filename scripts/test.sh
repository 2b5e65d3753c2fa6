#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite:
#   1. Release build: unit tests (GoogleTest) and integration tests (the real binary over HTTP);
#   2. AddressSanitizer + UBSan build of the same suite (Python with PYTHONMALLOC=malloc);
#   3. ThreadSanitizer build of the C++-only unit tests;
#   4. libFuzzer targets (clang), each run for FUZZ_SECONDS (default 60) from tests/fuzz/corpus.
# Any test failure or sanitizer report fails the run. W2P_QUICK=1 runs only step 1.
# Extra real-web2py tests run when W2PSERVE_WEB2PY_ROOT points at a web2py tree.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/deps.sh test
jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# Hits across clones in other folders (CI builds a fresh clone).
export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
fuzz_seconds="${FUZZ_SECONDS:-60}"
started=$SECONDS
step() { echo; echo "== $* ($((SECONDS - started)) s)"; }
passed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# count_ctest: adds the number of tests ctest ran (all passed, or set -e stopped us) to $passed.
count_ctest() { passed=$((passed + $(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1))); }

step "Release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DW2P_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
step "Style (.clang-format) and static checks (.clang-tidy)"
files=$(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run --Werror $files
git ls-files 'server/*.cpp' 'embed/*.cpp' 'cmd/*.cpp' |
  xargs -P "$jobs" -n 4 clang-tidy -p build --quiet 2>&1 | { grep -v "warnings generated" || true; }  # pipefail: a finding fails the run

step "Release tests"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 900) | tee "$log"
count_ctest

if [[ "${W2P_QUICK:-}" == 1 ]]; then echo "release: $passed passed, 0 failed"; exit 0; fi

step "AddressSanitizer + UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DW2P_SANITIZE=ON \
  -DW2P_TESTS=ON >/dev/null
cmake --build build-asan -j "$jobs"
step "AddressSanitizer + UBSan tests"
(
  cd build-asan
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$repo/tests/sanitizers/lsan.supp:print_suppressions=0"
  export PYTHONMALLOC=malloc W2PSERVE_SANITIZED=1 W2PSERVE_BIG_UPLOAD_MB=64
  export W2PSERVE_START_TIMEOUT=120
  ctest --output-on-failure -j "$jobs" --timeout 900
) | tee "$log"
count_ctest

step "ThreadSanitizer build (C++-only unit tests)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DW2P_TSAN=ON \
  -DW2P_TESTS=ON >/dev/null
cmake --build build-tsan -j "$jobs" --target unit_server
step "ThreadSanitizer tests"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" build-tsan/tests/unit_server | tee "$log"
passed=$((passed + $(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\.$/\1/p' "$log" | tail -1)))

step "Fuzz targets (clang, libFuzzer)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DW2P_FUZZ=ON -DW2P_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$jobs"
step "Fuzzing, ${fuzz_seconds} s per target"
for target in request_head url_path headers rewrite route; do
  corpus=$(mktemp -d)
  cp tests/fuzz/corpus/$target/* "$corpus"/
  (cd build-fuzz && ./tests/fuzz/fuzz_$target -max_total_time="$fuzz_seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12) || {
    echo "fuzz_$target found a crash (the input is in build-fuzz/crash-*)"; rm -rf "$corpus"; exit 1; }
  rm -rf "$corpus"
  passed=$((passed + 1))
done
step "All passes done: release, ASan+UBSan, TSan, fuzzing"
echo "total: $passed passed, 0 failed"
