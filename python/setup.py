"""Builds libsqlpool from the Rust crate (setuptools-rust) into the package.

The crate is the repository root (``../Cargo.toml``) in a clone, or the copy
under ``rust/`` that ``sdist`` puts into the source distribution, so that
``pip install ./python``, ``pip wheel ./python`` and an sdist all compile the
library and install it as ``sqlpool/libsqlpool.so``. The wheel holds no Python
extension, only a library loaded through ctypes: it is tagged
``py3-none-<platform>``. Set ``CARGO_TARGET_DIR`` to share cargo's build with
the repository's.
"""

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension, Strip
from setuptools_rust.build import build_rust

HERE = Path(__file__).resolve().parent
# What cargo needs to build the library (benches/: Cargo.toml names its targets).
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "src", "include", "benches")
SDIST_CRATE_DIR = "rust"


def crate_dir():
    for candidate in (HERE / SDIST_CRATE_DIR, HERE.parent):
        if (candidate / "Cargo.toml").is_file() and (candidate / "src" / "ffi").is_dir():
            return candidate
    sys.exit(
        f"sqlpool setup.py: no Rust crate at {HERE / SDIST_CRATE_DIR} (an sdist) or {HERE.parent} (a clone); "
        "build from a clone of the repository or from an sdist made by `python -m build --sdist python`"
    )


def library_file_name():
    if sys.platform == "darwin":
        return "libsqlpool.dylib"
    if sys.platform == "win32":
        return "sqlpool.dll"
    return "libsqlpool.so"


class BuildLibraryIntoPackage(build_rust):
    """The cdylib goes into the package under the name _ffi.py loads, not a
    Python extension's name (libsqlpool.cpython-311-x86_64-linux-gnu.so)."""

    def get_dylib_ext_path(self, ext, target_fname):
        default = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(default), library_file_name())


class SdistWithCrate(sdist):
    """Copies the Rust crate into the sdist under rust/."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        source = crate_dir()
        dest = Path(base_dir) / SDIST_CRATE_DIR
        for name in CRATE_FILES:
            path = source / name
            if path.is_dir():
                shutil.copytree(path, dest / name, ignore=shutil.ignore_patterns("target", "__pycache__"))
            elif path.is_file():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / name)
            else:
                raise FileNotFoundError(f"sqlpool sdist: the crate has no {path}")


class PlatformWheel(bdist_wheel):
    """Any Python 3, one platform: the library is not a CPython extension."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(
    rust_extensions=[
        RustExtension(
            "sqlpool.libsqlpool",
            path=str(crate_dir() / "Cargo.toml"),
            binding=Binding.NoBinding,
            # The wheel carries the code, not the debug info (target/ keeps it).
            strip=Strip.Debug,
            args=["--locked", "--crate-type", "cdylib,staticlib,rlib"],
        )
    ],
    cmdclass={"build_rust": BuildLibraryIntoPackage, "sdist": SdistWithCrate, "bdist_wheel": PlatformWheel},
)
