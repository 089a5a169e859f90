#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest), as users get it:
#   1. a virtual environment in $SQLPOOL_BUILD_DIR/venv (default build/venv),
#      with pytest, sqlalchemy and ray from PyPI (ray is skipped, and its test
#      reports why, only when pip has no ray for this Python)
#   2. cargo build --release, and `pip install ./python` into the venv, with
#      SQLPOOL_LIBRARY pointing the package at target/release/libsqlpool.so
#   3. pytest python/tests against the installed package
# Runnable from any directory. Needs python3 (3.8+, with venv or
# virtualenv) and cargo; reaches only PyPI. PYTHON=python3.11 picks the
# interpreter; extra arguments go to pytest (e.g. -k ray, -x).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQLPOOL_BUILD_DIR:-$root/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
venv="$build/venv"
python="${PYTHON:-python3}"

if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "test_python: cargo is not installed" >&2; exit 1; }
command -v "$python" >/dev/null 2>&1 || { echo "test_python: $python is not installed" >&2; exit 1; }

echo "=== test_python: virtual environment $venv ($("$python" --version 2>&1))"
if [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  if ! "$python" -m venv "$venv" 2>"$build/venv.err"; then
    cat "$build/venv.err" >&2
    rm -rf "$venv"
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
      # Debian's python3 ships venv separately.
      ver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update
      apt-get install -y --no-install-recommends "python$ver-venv" || apt-get install -y --no-install-recommends python3-venv
      "$python" -m venv "$venv"
    else
      "$python" -m pip install --user virtualenv
      "$python" -m virtualenv "$venv"
    fi
  fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
"${pip[@]}" install --quiet pytest sqlalchemy prometheus_client
if ! "${pip[@]}" install --quiet ray; then
  echo "test_python: pip has no ray for $("$venv/bin/python" --version 2>&1); its test will be skipped" >&2
fi

echo "=== test_python: cargo build --release"
(cd "$root" && cargo build --release)
lib="$root/target/release/libsqlpool.so"
[ -f "$lib" ] || { echo "test_python: $lib was not built" >&2; exit 1; }

echo "=== test_python: pip install ./python"
"${pip[@]}" install --quiet --force-reinstall --no-deps "$root/python"
export SQLPOOL_LIBRARY="$lib"
installed="$(cd "$build" && "$venv/bin/python" -c 'import sqlpool; print(sqlpool.__file__, sqlpool.library_path, sqlpool.library_version)')"
echo "sqlpool: $installed"

echo "=== test_python: pytest"
# Run from python/ with the pytest script (not python -m pytest, which would
# put python/ first on sys.path): the tests import the installed package.
cd "$root/python"
exec "$venv/bin/pytest" -p no:cacheprovider -ra "$@" tests
