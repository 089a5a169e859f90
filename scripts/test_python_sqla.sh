#!/usr/bin/env bash
# The DB-API module and the SQLAlchemy integration (issue 12), on SQLAlchemy
# 2.x and 1.4, against the library in $SQLPOOL_LIBRARY (default
# target/release/libsqlpool.so, built if missing):
#   1. venvs in $SQLPOOL_BUILD_DIR/venv-sqla2 (SQLPOOL_SQLA2_SPEC, default
#      "sqlalchemy>=2,<3") and venv-sqla14 (default
#      build/) with pytest, SQLAlchemy and dbapi-compliance from PyPI.
#      1.4: nuPlan's pin 1.4.27 first, 1.4.54 if it does not install.
#   2. on 2.x: python/tests/test_dbapi2*.py (with PEP 249's dbapi20.py),
#      test_sqlalchemy*.py, test_session_manager.py; then SQLAlchemy's dialect
#      compliance suite (python/tests/sqla_suite), with SQLAlchemy's own
#      test/requirements.py taken from the sdist of the installed version.
#   3. on 1.4: test_sqlalchemy*.py and test_session_manager.py.
# Runnable from any directory; reaches only PyPI. PYTHON picks the
# interpreter; extra arguments go to every pytest run (e.g. -x).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQLPOOL_BUILD_DIR:-$root/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
python="${PYTHON:-python3}"

if [ -z "${SQLPOOL_LIBRARY:-}" ]; then
  if [ ! -f "$root/target/release/libsqlpool.so" ]; then
    if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
      PATH="$HOME/.cargo/bin:$PATH"
    fi
    (cd "$root" && cargo build --release)
  fi
  export SQLPOOL_LIBRARY="$root/target/release/libsqlpool.so"
fi
echo "=== test_python_sqla: library $SQLPOOL_LIBRARY"
# The package from this source tree (python/tests/conftest.py does the same
# when it is not installed).
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"

make_venv() {  # make_venv DIR REQUIREMENT... : a venv with these installed
  local venv="$1"; shift
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

venv2="$build/venv-sqla2"
venv14="$build/venv-sqla14"
echo "=== test_python_sqla: SQLAlchemy 2.x venv $venv2"
make_venv "$venv2" pytest dbapi-compliance "${SQLPOOL_SQLA2_SPEC:-sqlalchemy>=2,<3}"
echo "=== test_python_sqla: SQLAlchemy 1.4 venv $venv14"
if ! make_venv "$venv14" pytest "sqlalchemy==1.4.27"; then
  echo "test_python_sqla: SQLAlchemy 1.4.27 (nuPlan's pin) does not install here; using 1.4.54" >&2
  make_venv "$venv14" pytest "sqlalchemy==1.4.54"
fi

cd "$root/python"
tests=(tests/test_sqlalchemy_dialect.py tests/test_sqlalchemy_nuplan.py tests/test_session_manager.py)
v2="$("$venv2/bin/python" -c 'import sqlalchemy; print(sqlalchemy.__version__)')"
v14="$("$venv14/bin/python" -c 'import sqlalchemy; print(sqlalchemy.__version__)')"

echo "=== test_python_sqla: DB-API, dialect, SessionManager tests on SQLAlchemy $v2"
"$venv2/bin/python" -m pytest -q -p no:cacheprovider tests/test_dbapi2.py tests/test_dbapi2_compliance.py "${tests[@]}" "$@"

echo "=== test_python_sqla: dialect and SessionManager tests on SQLAlchemy $v14"
"$venv14/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" "$@"

echo "=== test_python_sqla: SQLAlchemy $v2 dialect compliance suite"
suite="$build/sqla-suite-$v2"
rm -rf "$suite"
mkdir -p "$suite/sdist"
cp "$root/python/tests/sqla_suite/"{setup.cfg,requirements.py,suite_sqla.py} "$suite/"
# Named conftest.py only in the copy: a second conftest.py under python/tests
# would shadow that directory's (tests import from it).
cp "$root/python/tests/sqla_suite/suite_conftest.py" "$suite/conftest.py"
"$venv2/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  "sqlalchemy==$v2" -d "$suite/sdist"
tar -xzf "$suite/sdist/"*.tar.gz -C "$suite/sdist" --wildcards '*/test/requirements.py'
cp "$suite/sdist/"*/test/requirements.py "$suite/sqla_requirements.py"
cd "$suite"
SQLPOOL_SQLA_SUITE=1 "$venv2/bin/python" -m pytest -q -p no:randomly suite_sqla.py "$@"
echo "=== test_python_sqla: all passed"
