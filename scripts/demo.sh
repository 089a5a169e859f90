#!/usr/bin/env bash
# The nuPlan simulator demo (issue 3): builds and installs sqlpool into
# build/prefix, builds examples/simulator against the installed CMake package
# (find_package(sqlpool CONFIG)) and runs it: the same simulation steps the
# old way (a new SQLite connection per query batch, as nuPlan does) and
# through one sqlpool pool, checked equal, with a comparison table.
#
# Usage: scripts/demo.sh [SIMULATOR FLAGS...]
#   default flags: --threads 4 --steps 200; see build/simulator/simulator --help.
# Works from any directory. Installs a C/C++ toolchain and cmake (with make)
# with apt-get when they do not build a tiny package (scripts/tools.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/build/prefix"
builddir="$root/build/simulator"

if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
need cc cmake

if [ ! -x "$root/scripts/install.sh" ] && [ ! -f "$root/scripts/install.sh" ]; then
  echo "demo.sh: $root/scripts/install.sh is missing" >&2
  exit 1
fi
bash "$root/scripts/install.sh" "$prefix"

cmake -S "$root/examples/simulator" -B "$builddir" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$builddir" --parallel 2

if [ "$#" -eq 0 ]; then set -- --threads 4 --steps 200; fi
echo "demo.sh: $builddir/simulator $*"
"$builddir/simulator" "$@"
