#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest), as users get it:
#   1. a virtual environment in $SQLPOOL_BUILD_DIR/venv (default build/venv),
#      with pytest, sqlalchemy, build and auditwheel from PyPI, and ray (its
#      test is skipped, and reports why, only when pip has no ray for this
#      Python)
#   2. `pip install ./python` into the venv: it compiles libsqlpool from the
#      Rust sources (setuptools-rust) into the package; cargo shares the
#      repository's target dir (CARGO_TARGET_DIR, default target/)
#   3. pytest python/tests against the installed package, WITHOUT
#      SQLPOOL_LIBRARY: the package loads its own library. The packaging tests
#      (test_packaging.py) also build the wheel (platform tag, auditwheel
#      show) and an sdist, which they install into a fresh venv.
# Runnable from any directory. Needs python3 (3.8+) and cargo; installs the
# venv module (Debian, as root) when a venv cannot be made; reaches only
# PyPI. PYTHON=python3.11 picks the interpreter; extra arguments go to pytest
# (e.g. -k ray, -x).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
build="${SQLPOOL_BUILD_DIR:-$root/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
venv="$build/venv"
python="${PYTHON:-python3}"
export PYTHON="$python"

if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "test_python: cargo is not installed" >&2; exit 1; }
command -v "$python" >/dev/null 2>&1 || { echo "test_python: $python is not installed" >&2; exit 1; }
need venv

echo "=== test_python: virtual environment $venv ($("$python" --version 2>&1))"
if [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
"${pip[@]}" install --quiet pytest sqlalchemy prometheus_client build auditwheel
if ! "${pip[@]}" install --quiet ray; then
  echo "test_python: pip has no ray for $("$venv/bin/python" --version 2>&1); its test will be skipped" >&2
fi

echo "=== test_python: pip install ./python (compiles libsqlpool into the package)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
unset SQLPOOL_LIBRARY
started=$SECONDS
"${pip[@]}" install --quiet --force-reinstall --no-deps "$root/python"
installed="$(cd "$build" && "$venv/bin/python" -c 'import sqlpool; print(sqlpool.__file__, sqlpool.library_path, sqlpool.library_version)')"
echo "sqlpool: $installed ($((SECONDS - started)) s)"
case "$installed" in
  *"$venv/"*"/site-packages/sqlpool/libsqlpool.so"*) ;;
  *) echo "test_python: the installed package does not load its own library" >&2; exit 1 ;;
esac

echo "=== test_python: pytest"
# Run from outside python/ with the pytest script (not python -m pytest, and
# not from python/, whose sqlpool/ would come first on sys.path, also for the
# `python -c` children the tests start): the tests import the installed package.
cd "$build"
SQLPOOL_EXPECT_BUNDLED=1 exec "$venv/bin/pytest" -p no:cacheprovider -ra \
  --rootdir "$root/python" -c "$root/python/pyproject.toml" "$@" "$root/python/tests"
