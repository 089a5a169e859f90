#!/usr/bin/env bash
# Makes sure the tools a test stage needs can do their job, and installs what
# is missing (Debian, as root: apt-get update once, then the packages).
# A tool is checked by what it must do, never by its name on PATH:
# `apt-get install --no-install-recommends clang` puts clang on PATH without
# the runtime -fsanitize=fuzzer links against (libclang-rt-N-dev), and cmake
# comes without make.
#
#   source scripts/tools.sh; need cc fuzzer cmake      (from another script)
#   bash scripts/tools.sh cc asan cmake valgrind ...   (by hand)
#
# Capabilities:
#   cc        gcc and g++ compile, link and run C99 and C++17 programs
#   binutils  readelf and nm read a shared library
#   asan      cc and c++ build and run a program with -fsanitize=address,undefined
#   fuzzer    clang links and runs a libFuzzer target with -fsanitize=fuzzer,address,undefined
#   cmake     cmake configures, builds and runs a tiny C/C++ package
#   pkgconfig pkg-config reads a .pc file
#   valgrind  valgrind runs a tiny program with no error
#   venv      $PYTHON (default python3) makes a venv whose pip runs
#   abigail   abidw writes a tiny library's ABI and abidiff compares it
#   patchelf  patchelf reads a shared library's soname (auditwheel repair)

tools_apt_updated="${SQLPOOL_APT_UPDATED:-0}"
tools_dir=""

tools_die() { echo "tools: $*" >&2; exit 1; }

# apt-get install PACKAGES, after one apt-get update per run of scripts/test.sh.
tools_apt_install() {
  command -v apt-get >/dev/null 2>&1 || tools_die "no apt-get: install $* by hand"
  [ "$(id -u)" -eq 0 ] || tools_die "not root: install $* by hand (apt-get install $*)"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$tools_apt_updated" != 1 ]; then
    apt-get update -qq
    tools_apt_updated=1
    export SQLPOOL_APT_UPDATED=1
  fi
  echo "tools: apt-get install $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

tools_scratch() {
  if [ -z "$tools_dir" ]; then
    tools_dir="$(mktemp -d "${TMPDIR:-/tmp}/sqlpool-tools.XXXXXX")"
  fi
  local d="$tools_dir/$1"
  rm -rf "$d"
  mkdir -p "$d"
  echo "$d"
}

# can_X: 0 when the capability works; the last attempt's output is in
# $tools_dir/X.log for the error message.
can_cc() {
  local d
  d="$(tools_scratch cc)"
  printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' > "$d/t.c"
  printf '#include <string>\nint main() { std::string s{"ok"}; return s.size() == 2 ? 0 : 1; }\n' > "$d/t.cpp"
  { cc -std=c99 -Wall -Werror "$d/t.c" -o "$d/c" && "$d/c" &&
    c++ -std=c++17 -Wall -Werror "$d/t.cpp" -o "$d/cpp" && "$d/cpp"; } > "$tools_dir/cc.log" 2>&1
}

can_binutils() {
  local d
  d="$(tools_scratch binutils)"
  printf 'int tools_f(void) { return 1; }\n' > "$d/t.c"
  { cc -shared -fPIC "$d/t.c" -o "$d/libt.so" && readelf -d "$d/libt.so" &&
    nm -D --defined-only "$d/libt.so" | grep -q tools_f; } > "$tools_dir/binutils.log" 2>&1
}

can_asan() {
  local d
  d="$(tools_scratch asan)"
  printf '#include <stdlib.h>\nint main(int argc, char **argv) { (void)argv; int *p = malloc(sizeof *p); *p = argc; int r = *p - 1; free(p); return r; }\n' > "$d/t.c"
  printf '#include <vector>\nint main(int argc, char **) { std::vector<int> v(4, argc); return v[3] - 1; }\n' > "$d/t.cpp"
  { cc -fsanitize=address,undefined -g "$d/t.c" -o "$d/c" && "$d/c" &&
    c++ -std=c++17 -fsanitize=address,undefined -g "$d/t.cpp" -o "$d/cpp" && "$d/cpp"; } > "$tools_dir/asan.log" 2>&1
}

can_fuzzer() {
  local d
  d="$(tools_scratch fuzzer)"
  cat > "$d/t.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return size > 0 && data[0] == 0 ? 0 : 0; }
EOF
  { clang -g -O1 -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/fuzz" && "$d/fuzz" -runs=10; } > "$tools_dir/fuzzer.log" 2>&1
}

can_cmake() {
  local d
  d="$(tools_scratch cmake)"
  mkdir -p "$d/src"
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(tools_probe C CXX)\nadd_executable(probe probe.c)\n' > "$d/src/CMakeLists.txt"
  printf 'int main(void) { return 0; }\n' > "$d/src/probe.c"
  { cmake -S "$d/src" -B "$d/build" && cmake --build "$d/build" && "$d/build/probe"; } > "$tools_dir/cmake.log" 2>&1
}

can_pkgconfig() {
  local d
  d="$(tools_scratch pkgconfig)"
  printf 'Name: probe\nDescription: probe\nVersion: 1.2.3\nCflags: -I/probe\nLibs: -lprobe\n' > "$d/probe.pc"
  [ "$(PKG_CONFIG_PATH="$d" pkg-config --modversion probe 2> "$tools_dir/pkgconfig.log")" = 1.2.3 ]
}

can_valgrind() {
  local d
  d="$(tools_scratch valgrind)"
  printf '#include <stdlib.h>\nint main(void) { char *p = malloc(8); p[0] = 1; int r = p[0] - 1; free(p); return r; }\n' > "$d/t.c"
  { cc -g "$d/t.c" -o "$d/t" && valgrind --error-exitcode=99 --leak-check=full -q "$d/t"; } > "$tools_dir/valgrind.log" 2>&1
}

can_venv() {
  local d python="${PYTHON:-python3}"
  d="$(tools_scratch venv)"
  { "$python" -m venv "$d/venv" && "$d/venv/bin/python" -m pip --version; } > "$tools_dir/venv.log" 2>&1
}

can_abigail() {
  local d
  d="$(tools_scratch abigail)"
  printf 'struct probe { int a; long b; };\nint probe_get(struct probe *p) { return p->a; }\n' > "$d/t.c"
  { cc -g -shared -fPIC "$d/t.c" -o "$d/libprobe.so" && abidw --out-file "$d/probe.abi" "$d/libprobe.so" &&
    grep -q "probe_get" "$d/probe.abi" && abidiff "$d/probe.abi" "$d/libprobe.so"; } > "$tools_dir/abigail.log" 2>&1
}

can_patchelf() {
  local d
  d="$(tools_scratch patchelf)"
  printf 'int probe(void) { return 0; }\n' > "$d/t.c"
  { cc -shared -fPIC -Wl,-soname,libprobe.so.1 "$d/t.c" -o "$d/libprobe.so" &&
    [ "$(patchelf --print-soname "$d/libprobe.so")" = libprobe.so.1 ]; } > "$tools_dir/patchelf.log" 2>&1
}

# The packages that provide a capability, in the order they are tried: each
# line is installed in turn until the capability works.
tools_packages() {
  case "$1" in
    cc | binutils) echo "gcc g++ libc6-dev binutils" ;;
    asan) echo "gcc g++ libc6-dev"; echo "libasan8 libubsan1" ;;
    fuzzer)
      echo clang
      # The compiler runtime is only a Recommends of clang's dependencies.
      local major
      major="$(clang -dumpversion 2>/dev/null | cut -d. -f1)"
      if [ -n "$major" ]; then echo "libclang-rt-$major-dev"; fi
      ;;
    cmake) echo "cmake make gcc g++ libc6-dev" ;;
    pkgconfig) echo pkg-config ;;
    valgrind) echo "valgrind"; echo "libc6-dbg" ;;
    venv)
      local ver
      ver="$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"
      echo "python3-venv${ver:+ python$ver-venv}"
      ;;
    abigail) echo abigail-tools ;;
    patchelf) echo patchelf ;;
    *) tools_die "unknown capability: $1" ;;
  esac
}

# need CAPABILITY...: check each, install its packages until it works, or stop
# with the last attempt's output.
need() {
  local cap line
  for cap in "$@"; do
    if "can_$cap"; then
      echo "tools: $cap ok"
      continue
    fi
    # tools_packages may depend on what the previous line installed (clang's version).
    local tried=0
    while :; do
      line="$(tools_packages "$cap" | sed -n "$((tried + 1))p")"
      [ -n "$line" ] || break
      tried=$((tried + 1))
      # shellcheck disable=SC2086 # a list of package names
      tools_apt_install $line
      if "can_$cap"; then
        echo "tools: $cap ok (installed: $line)"
        continue 2
      fi
    done
    cat "$tools_dir/$cap.log" >&2
    tools_die "$cap does not work, even after installing its packages (output above)"
  done
  rm -rf "$tools_dir"
  tools_dir=""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ "$#" -gt 0 ] || { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
  need "$@"
fi
