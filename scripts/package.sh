#!/usr/bin/env bash
# Builds the Debian package dist/w2pserve_<version>_<arch>.deb: the Release build installed with
# `cmake --install --prefix /usr` into a staging folder (binary, Python package, manual page,
# systemd units, logrotate, examples, /etc/w2pserve/w2pserve.toml as a conffile), Depends worked
# out by dpkg-shlibdeps from the binary's libraries, and the maintainer scripts of
# packaging/debian. Install it with `apt install ./dist/w2pserve_*.deb`.
# Usage: scripts/package.sh [BUILD_DIR]   (default: build, configured Release if it is not)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
bash scripts/deps.sh build package
build=${1:-build}
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DW2P_TESTS=OFF >/dev/null
fi
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt" ||
  { echo "package.sh: $build is not a Release build" >&2; exit 1; }
grep -q '^W2P_SANITIZE:BOOL=ON$\|^W2P_TSAN:BOOL=ON$' "$build/CMakeCache.txt" &&
  { echo "package.sh: $build is a sanitizer build" >&2; exit 1; }
cmake --build "$build" --target w2pserve man >/dev/null

version=$(sed -n 's/^project(w2pserve VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
work=$(mktemp -d /tmp/w2pserve-package-XXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
# Debian's layout: manual pages compressed; the copyright file every package carries.
gzip -9n "$stage/usr/share/man/man1/w2pserve.1"
cat >"$stage/usr/share/doc/w2pserve/copyright" <<'TXT'
w2pserve: the source is the w2pserve repository; it bundles no third-party source. It
embeds CPython (linked from Debian's libpython3.11.a) and links Boost, zlib, brotli, PCRE2 and SQLite from Debian,
each under its own licence (see /usr/share/doc/<package>/copyright).
TXT
find "$stage" -name __pycache__ -prune -exec rm -rf {} +

# Depends from the binary's shared libraries (dpkg-shlibdeps wants a debian/control to read).
mkdir -p "$work/shlibs/debian"
printf 'Source: w2pserve\n\nPackage: w2pserve\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$stage/usr/bin/w2pserve" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[[ -n "$depends" ]] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# Python's standard library is named too (web2py imports much of it): the interpreter's core is
# inside the binary (linked from libpython3.11.a, as /usr/bin/python3.11 is), the standard
# library and its extension modules come from this package, at least the version built with.
pyver=$(dpkg-query -W -f='${Version}' libpython3.11-stdlib 2>/dev/null || true)
depends="$depends, libpython3.11-stdlib${pyver:+ (>= $pyver)}"

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" packaging/debian/control.in >"$stage/DEBIAN/control"
printf '/etc/w2pserve/w2pserve.toml\n/etc/logrotate.d/w2pserve\n' >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$stage/DEBIAN/$script"
done

mkdir -p dist
deb="dist/w2pserve_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$src/$deb ($(du -k "$deb" | cut -f1) KiB; installed $size KiB)"
echo "Depends: $depends"
