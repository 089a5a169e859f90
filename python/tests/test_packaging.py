"""The package as pip installs it: the library compiled from the Rust sources
travels inside it (issue 12 §5). scripts/test_python.sh installs it with
`pip install ./python` and sets SQLPOOL_EXPECT_BUNDLED=1, so that these
tests run there instead of being skipped (from a checkout without an
installed package there is nothing bundled to check)."""

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

import sqlpool

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)

expect_bundled = pytest.mark.skipif(
    os.environ.get("SQLPOOL_EXPECT_BUNDLED") != "1",
    reason="set by scripts/test_python.sh, which installs the package with pip",
)


def without_override():
    env = dict(os.environ)
    env.pop("SQLPOOL_LIBRARY", None)
    env.pop("PYTHONPATH", None)
    return env


def run(cmd, **kwargs):
    r = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


def loaded_library(python, cwd):
    """(package dir, library path) as a fresh interpreter sees them."""
    code = "import os, sqlpool; print(os.path.dirname(sqlpool.__file__)); print(sqlpool.library_path)"
    out = run([python, "-c", code], env=without_override(), cwd=cwd).stdout.split("\n")
    return out[0], out[1]


@expect_bundled
def test_the_installed_package_loads_its_own_library(tmp_path):
    package_dir, library = loaded_library(sys.executable, str(tmp_path))
    site_packages = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    assert os.path.realpath(os.path.dirname(package_dir)) in site_packages
    assert library == os.path.join(package_dir, "libsqlpool.so")
    # It is the library of this version, and it works.
    code = "import sqlpool; p = sqlpool.Pool('file:pkgtest?mode=memory&cache=shared', pool_size=1); print(p.execute_one('SELECT 40 + 2')[0])"
    assert run([sys.executable, "-c", code], env=without_override(), cwd=str(tmp_path)).stdout.strip() == "42"


@expect_bundled
def test_the_wheel_is_for_the_platform_and_manylinux(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), PYTHON_DIR])
    (wheel,) = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    assert wheel.startswith(f"sqlpool-{sqlpool.__version__}-py3-none-linux_"), wheel
    with zipfile.ZipFile(tmp_path / wheel) as z:
        assert "sqlpool/libsqlpool.so" in z.namelist()
    show = run([sys.executable, "-m", "auditwheel", "show", str(tmp_path / wheel)]).stdout
    assert "manylinux_" in show, show


@expect_bundled
def test_the_sdist_carries_the_crate_and_builds_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), PYTHON_DIR])
    (sdist,) = [p for p in os.listdir(dist) if p.endswith(".tar.gz")]
    top = f"sqlpool-{sqlpool.__version__}"
    with tarfile.open(dist / sdist) as t:
        names = set(t.getnames())
    for needed in ("setup.py", "pyproject.toml", "sqlpool/_ffi.py", "rust/Cargo.toml", "rust/Cargo.lock",
                   "rust/build.rs", "rust/cbindgen.toml", "rust/src/ffi/mod.rs", "rust/include/sqlpool.h"):
        assert f"{top}/{needed}" in names, needed
    assert not [n for n in names if n.endswith((".so", ".dylib"))]
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    # -vv shows the build backend's output; no wheel cache: build it now.
    r = run([python, "-m", "pip", "install", "-vv", "--no-cache-dir", "--disable-pip-version-check",
             str(dist / sdist)], env=without_override())
    log = r.stdout + r.stderr
    # cargo built the crate the sdist carries (rust/), not the clone's.
    assert re.search(r"cargo rustc .*--manifest-path (\S*/)?rust/Cargo\.toml", log), log[-4000:]
    package_dir, library = loaded_library(python, str(tmp_path))
    assert package_dir.startswith(str(venv)), package_dir
    assert library == os.path.join(package_dir, "libsqlpool.so")
