#!/usr/bin/env bash
# Installs sqlpool into PREFIX:
#   PREFIX/lib/libsqlpool.so.X.Y.Z, libsqlpool.so.0 -> it, libsqlpool.so -> libsqlpool.so.0
#   PREFIX/lib/libsqlpool.a
#   PREFIX/include/sqlpool.h, PREFIX/include/sqlpool.hpp
#   PREFIX/lib/pkgconfig/sqlpool.pc
#   PREFIX/lib/cmake/sqlpool/sqlpoolConfig.cmake, sqlpoolConfigVersion.cmake
#
# Usage: scripts/install.sh PREFIX
#   Builds with `cargo build --release` first, unless SQLPOOL_SKIP_BUILD=1 and
#   the release artifacts already exist. Honours CARGO_TARGET_DIR.
# Idempotent: running it again replaces the files (never in place, so a
# process that has the old library mapped is not disturbed). Needs only bash,
# coreutils, sed and cargo; it installs nothing else.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"

# The version is that of the [package] section of Cargo.toml.
version="$(awk '
  /^\[/ { in_pkg = ($0 == "[package]") }
  in_pkg && /^[[:space:]]*version[[:space:]]*=/ {
    if (match($0, /"[^"]+"/)) { print substr($0, RSTART + 1, RLENGTH - 2); exit }
  }' "$root/Cargo.toml")"
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "install.sh: cannot read a X.Y.Z version from $root/Cargo.toml (got '$version')" >&2
  exit 1
fi
major="${BASH_REMATCH[1]}"
minor="${BASH_REMATCH[2]}"
soname="libsqlpool.so.$major"   # 0.x keeps soname .so.0 (set by build.rs)

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
release="$target_dir/release"

if [ "${SQLPOOL_SKIP_BUILD:-0}" = 1 ] && [ -f "$release/libsqlpool.so" ] && [ -f "$release/libsqlpool.a" ]; then
  echo "install.sh: SQLPOOL_SKIP_BUILD=1, using $release"
else
  echo "install.sh: cargo build --release"
  cargo build --release --manifest-path "$root/Cargo.toml"
fi

for f in "$release/libsqlpool.so" "$release/libsqlpool.a" "$root/include/sqlpool.h" "$root/include/sqlpool.hpp"; do
  if [ ! -f "$f" ]; then
    echo "install.sh: missing $f" >&2
    exit 1
  fi
done

libdir="$prefix/lib"
mkdir -p "$libdir/pkgconfig" "$libdir/cmake/sqlpool" "$prefix/include"

# `install` unlinks and recreates, so a running process keeps its mapped copy.
install -m 0755 "$release/libsqlpool.so" "$libdir/libsqlpool.so.$version"
ln -sfn "libsqlpool.so.$version" "$libdir/$soname"
ln -sfn "$soname" "$libdir/libsqlpool.so"
install -m 0644 "$release/libsqlpool.a" "$libdir/libsqlpool.a"
install -m 0644 "$root/include/sqlpool.h" "$prefix/include/sqlpool.h"
install -m 0644 "$root/include/sqlpool.hpp" "$prefix/include/sqlpool.hpp"

# Fill a template into DEST: @SQLPOOL_VERSION@, _MAJOR@, _MINOR@, @SQLPOOL_SONAME@.
fill() {
  local tmp
  tmp="$(mktemp "$2.XXXXXX")"
  sed -e "s|@SQLPOOL_VERSION@|$version|g" \
      -e "s|@SQLPOOL_VERSION_MAJOR@|$major|g" \
      -e "s|@SQLPOOL_VERSION_MINOR@|$minor|g" \
      -e "s|@SQLPOOL_SONAME@|$soname|g" "$1" > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$2"
}
fill "$root/cmake/sqlpool.pc.in" "$libdir/pkgconfig/sqlpool.pc"
fill "$root/cmake/sqlpoolConfig.cmake.in" "$libdir/cmake/sqlpool/sqlpoolConfig.cmake"
fill "$root/cmake/sqlpoolConfigVersion.cmake.in" "$libdir/cmake/sqlpool/sqlpoolConfigVersion.cmake"

echo "install.sh: installed sqlpool $version into $prefix"
