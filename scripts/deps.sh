#!/usr/bin/env bash
# Installs the Debian 12 packages w2pserve needs. Idempotent: apt runs only when
# something is missing. Usage: scripts/deps.sh [build|test|bench|package]...
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config ccache python3.11 python3.11-dev pybind11-dev
  libboost1.81-dev libssl-dev libpcre2-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
  libbrotli-dev libsqlite3-dev libnghttp2-dev)
test_pkgs=(libgtest-dev libgmock-dev python3-flask python3-bottle python3-brotli openssl curl clang
  libclang-rt-14-dev iproute2 clang-format clang-tidy dpkg-dev systemd nghttp2-client python3-h2
  pebble postgresql python3-psycopg2 haproxy)
package_pkgs=(dpkg-dev)  # dpkg-shlibdeps: the package's Depends from the binary's libraries
bench_pkgs=(wrk curl lighttpd nginx-light uwsgi uwsgi-plugin-python3 gunicorn libbenchmark-dev)

want=("${build_pkgs[@]}")
for kind in "$@"; do
  case "$kind" in
    build) ;;
    test) want+=("${test_pkgs[@]}") ;;
    bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    package) want+=("${package_pkgs[@]}") ;;
    *) echo "deps.sh: unknown set '$kind' (expected build, test, bench or package)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
