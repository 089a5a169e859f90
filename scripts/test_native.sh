#!/usr/bin/env bash
# Native (C, C++, CMake, pkg-config) checks of sqlpool as users get it:
#   1. scripts/install.sh into a fresh prefix (build/prefix), twice (idempotent)
#   2. c_tests/ configured against that prefix with find_package(sqlpool CONFIG),
#      built with -Wall -Wextra -Werror, run with ctest
#   3. consumer checks: NEEDED is the soname; pkg-config builds and runs a C
#      program; the static library links and runs; only sqlpool_* is exported;
#      the installed package files hold no absolute paths, and a CMake
#      consumer builds against the prefix after it was moved; find_package
#      refuses another minor or major version
#   4. the same tests built with ASan + UBSan
#   5. the test programs under valgrind (memcheck, leak check)
# Runnable from any directory, as root on Debian: scripts/tools.sh checks that
# the C/C++ toolchain, ASan+UBSan, cmake (with make), pkg-config and valgrind
# work, and installs what does not with apt-get.
# Build products go to $SQLPOOL_BUILD_DIR (default: <repo>/build).
# SQLPOOL_SKIP_BUILD=1 is passed on to install.sh (use the existing release build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQLPOOL_BUILD_DIR:-$root/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
prefix="$build/prefix"
jobs="$(nproc 2>/dev/null || echo 2)"

stage="setup"
passed=0
trap 'echo "test_native: FAILED in stage: $stage" >&2' ERR
step() { stage="$1"; echo; echo "=== test_native: $1"; }
ok() { passed=$((passed + 1)); echo "--- ok: $stage"; }
die() { echo "test_native: $*" >&2; exit 1; }

step "tools"
if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo is not installed"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
need cc binutils cmake pkgconfig asan valgrind
cmake --version | head -n 1
valgrind --version
ok

step "install.sh into $prefix"
rm -rf "$prefix"
"$root/scripts/install.sh" "$prefix"
# Again, without building: idempotent, same layout.
SQLPOOL_SKIP_BUILD=1 "$root/scripts/install.sh" "$prefix"
version="$(sed -n 's/^Version: *//p' "$prefix/lib/pkgconfig/sqlpool.pc")"
[ -n "$version" ] || die "no Version in sqlpool.pc"
for f in "lib/libsqlpool.so.$version" lib/libsqlpool.a include/sqlpool.h include/sqlpool.hpp \
         lib/pkgconfig/sqlpool.pc lib/cmake/sqlpool/sqlpoolConfig.cmake \
         lib/cmake/sqlpool/sqlpoolConfigVersion.cmake; do
  [ -f "$prefix/$f" ] || die "not installed: $f"
done
[ "$(readlink "$prefix/lib/libsqlpool.so.0")" = "libsqlpool.so.$version" ] || die "libsqlpool.so.0 does not point to libsqlpool.so.$version"
[ "$(readlink "$prefix/lib/libsqlpool.so")" = "libsqlpool.so.0" ] || die "libsqlpool.so does not point to libsqlpool.so.0"
soname="$(readelf -d "$prefix/lib/libsqlpool.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
[ "$soname" = "libsqlpool.so.0" ] || die "SONAME of libsqlpool.so.$version is '${soname}', expected libsqlpool.so.0 (build.rs)"
cmp -s "$root/include/sqlpool.h" "$prefix/include/sqlpool.h" || die "installed sqlpool.h differs from include/sqlpool.h"
ok

step "installed package files are relocatable"
if grep -rlF "$prefix" "$prefix/lib/cmake" "$prefix/lib/pkgconfig"; then
  die "absolute install paths in the files above"
fi
if grep -rlF "$root" "$prefix/lib/cmake" "$prefix/lib/pkgconfig" "$prefix/include"; then
  die "source/build paths in the files above"
fi
ok

step "exports: only sqlpool_* (nm -D --defined-only)"
nm -D --defined-only "$prefix/lib/libsqlpool.so.$version" | awk '{print $NF}' | sort > "$build/exports.txt"
[ -s "$build/exports.txt" ] || die "the library exports nothing"
if grep -q '^sqlite3' "$build/exports.txt"; then
  grep '^sqlite3' "$build/exports.txt" | head -n 20 >&2
  die "the bundled SQLite is exported ($(grep -c '^sqlite3' "$build/exports.txt") sqlite3* symbols)"
fi
if grep -v '^sqlpool_' "$build/exports.txt" > "$build/exports-other.txt"; then
  head -n 20 "$build/exports-other.txt" >&2
  die "$(wc -l < "$build/exports-other.txt") exported symbols are not sqlpool_*"
fi
echo "$(wc -l < "$build/exports.txt") symbols exported, all sqlpool_*"
ok

step "c_tests: configure, build, ctest"
cmake -S "$root/c_tests" -B "$build/c_tests" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$prefix" -DSQLPOOL_SANITIZE=OFF -DSQLPOOL_VALGRIND=OFF
cmake --build "$build/c_tests" -j "$jobs"
(cd "$build/c_tests" && ctest --output-on-failure)
ok

step "consumer: NEEDED is the soname, not a path"
mapfile -t programs < "$build/c_tests/test_programs.txt"
((${#programs[@]})) || die "no test programs"
for prog in "${programs[@]}"; do
  needed="$(readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')"
  if grep -q / <<<"$needed"; then
    die "$prog has a NEEDED entry with a path: $(grep / <<<"$needed" | tr '\n' ' ')"
  fi
  case "$(basename "$prog")" in
    static_*)
      if grep -q '^libsqlpool' <<<"$needed"; then die "$prog is static but NEEDs $(grep '^libsqlpool' <<<"$needed")"; fi ;;
    *)
      grep -qx 'libsqlpool.so.0' <<<"$needed" || die "$prog does not NEED libsqlpool.so.0 (NEEDED: $(tr '\n' ' ' <<<"$needed"))" ;;
  esac
done
echo "checked ${#programs[@]} programs"
ok

step "consumer: pkg-config builds and runs a C program"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion sqlpool)" = "$version" ] || die "pkg-config --modversion sqlpool: $(pkg-config --modversion sqlpool)"
pc_flags="$(pkg-config --cflags --libs sqlpool)"
pc_libdir="$(pkg-config --variable=libdir sqlpool)"
echo "pkg-config --cflags --libs sqlpool: $pc_flags"
mkdir -p "$build/consumer"
# shellcheck disable=SC2086 # pkg-config output is a list of flags
cc -std=c99 -Wall -Wextra -Werror "$root/c_tests/consumer/consumer.c" -o "$build/consumer/consumer_pkgconfig" \
  $pc_flags -Wl,-rpath,"$pc_libdir"
readelf -d "$build/consumer/consumer_pkgconfig" | grep -q 'NEEDED.*\[libsqlpool\.so\.0\]' || die "pkg-config consumer does not NEED libsqlpool.so.0"
"$build/consumer/consumer_pkgconfig"
# Static, with the private libraries (the linker prefers .so, so name the archive).
# shellcheck disable=SC2086
cc -std=c99 -Wall -Wextra -Werror "$root/c_tests/consumer/consumer.c" -o "$build/consumer/consumer_pkgconfig_static" \
  $(pkg-config --cflags sqlpool) "$pc_libdir/libsqlpool.a" $(pkg-config --libs-only-l --static sqlpool | sed 's/-lsqlpool//')
"$build/consumer/consumer_pkgconfig_static"
ok

step "consumer: the static target links and runs"
static_prog="$(grep '/static_consumer$' "$build/c_tests/test_programs.txt")"
[ -x "$static_prog" ] || die "static_consumer was not built"
if readelf -d "$static_prog" | grep -q 'NEEDED.*libsqlpool'; then die "static_consumer NEEDs libsqlpool"; fi
"$static_prog"
ok

step "consumer: CMake package from a moved prefix; version compatibility"
# Move the installed tree (so nothing can still point into the old place),
# build the consumer against the new place, then move it back.
moved="$build/prefix-moved"
rm -rf "$moved" "$build/consumer-cmake"
mkdir -p "$build/consumer-cmake"
mv "$prefix" "$moved"
major="${version%%.*}"
minor="${version#*.}"; minor="${minor%%.*}"
cmake -S "$root/c_tests/consumer" -B "$build/consumer-cmake/ok" -DCMAKE_PREFIX_PATH="$moved" \
  -DSQLPOOL_REQUIRE_VERSION="$major.$minor" | tee "$build/consumer-cmake/ok.log"
grep -qF "sqlpool::sqlpool at $moved/lib/libsqlpool.so.$version" "$build/consumer-cmake/ok.log" \
  || die "the CMake package did not locate itself in the moved prefix"
cmake --build "$build/consumer-cmake/ok" -j "$jobs"
"$build/consumer-cmake/ok/consumer_shared"
"$build/consumer-cmake/ok/consumer_static"
# SameMajorVersion: a later version or another major is refused; an earlier
# minor of this major is accepted (0.x keeps the ABI, only adds functions).
for wanted in "$major.$((minor + 1))" "$((major + 1)).0" "$major.$minor.$(( ${version##*.} + 1 ))"; do
  if cmake -S "$root/c_tests/consumer" -B "$build/consumer-cmake/want-$wanted" -DCMAKE_PREFIX_PATH="$moved" \
       -DSQLPOOL_REQUIRE_VERSION="$wanted" > "$build/consumer-cmake/want-$wanted.log" 2>&1; then
    die "find_package(sqlpool $wanted) accepted installed $version"
  fi
  grep -q 'compatible with requested version' "$build/consumer-cmake/want-$wanted.log" \
    || { cat "$build/consumer-cmake/want-$wanted.log" >&2; die "find_package(sqlpool $wanted) failed for another reason"; }
  echo "find_package(sqlpool $wanted) refused, as it should be"
done
if [ "$minor" -gt 0 ]; then
  for wanted in "$major.$((minor - 1))" "$major.$((minor - 1))...$major.$minor"; do
    cmake -S "$root/c_tests/consumer" -B "$build/consumer-cmake/want-$wanted" -DCMAKE_PREFIX_PATH="$moved" \
      -DSQLPOOL_REQUIRE_VERSION="$wanted" > "$build/consumer-cmake/want-$wanted.log" 2>&1 \
      || { cat "$build/consumer-cmake/want-$wanted.log" >&2; die "find_package(sqlpool $wanted) refused installed $version"; }
    echo "find_package(sqlpool $wanted) accepted, as it should be"
  done
  wanted="$major.$((minor - 1))...<$major.$minor"
  if cmake -S "$root/c_tests/consumer" -B "$build/consumer-cmake/want-range-below" -DCMAKE_PREFIX_PATH="$moved" \
       -DSQLPOOL_REQUIRE_VERSION="$wanted" > "$build/consumer-cmake/want-range-below.log" 2>&1; then
    die "find_package(sqlpool $wanted) accepted installed $version"
  fi
  echo "find_package(sqlpool $wanted) refused, as it should be"
fi
mv "$moved" "$prefix"
ok

step "c_tests with ASan + UBSan"
cmake -S "$root/c_tests" -B "$build/c_tests-asan" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$prefix" -DSQLPOOL_SANITIZE=ON -DSQLPOOL_VALGRIND=OFF
cmake --build "$build/c_tests-asan" -j "$jobs"
(cd "$build/c_tests-asan" && ctest --output-on-failure)
ok

step "c_tests under valgrind"
# Same binaries as the plain build (flags unchanged): only the test commands change.
cmake -S "$root/c_tests" -B "$build/c_tests" -DSQLPOOL_VALGRIND=ON
cmake --build "$build/c_tests" -j "$jobs"
(cd "$build/c_tests" && ctest --output-on-failure -L valgrind)
cmake -S "$root/c_tests" -B "$build/c_tests" -DSQLPOOL_VALGRIND=OFF >/dev/null
ok

trap - ERR
echo
echo "test_native: $passed passed, 0 failed"
