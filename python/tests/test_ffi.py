"""The ctypes declarations match include/sqlpool.h; the library is found in
the documented order and its version is checked."""

import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

import sqlpool
from sqlpool import _ffi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "include", "sqlpool.h")

SCALARS = {
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "double": ctypes.c_double,
    "bool": ctypes.c_bool,
    "void": None,
}
STRUCTS = {
    "sqlpool_stats": _ffi.Stats,
    "sqlpool_shared_stats": _ffi.SharedStats,
    "sqlpool_value": _ffi.Value,
    "sqlpool_query_call": _ffi.QueryCall,
}
HANDLES = {"sqlpool_options", "sqlpool_pool", "sqlpool_conn", "sqlpool_stmt", "sqlpool_context"}
CALLBACKS = {
    "sqlpool_event_callback": _ffi.EventCallback,
    "sqlpool_log_callback": _ffi.LogCallback,
    "sqlpool_function_fn": _ffi.FunctionCallback,
    "sqlpool_destroy_fn": _ffi.DestroyCallback,
}


def ctype_of(decl):
    """The ctypes type a C declaration (without its name) must be declared as."""
    decl = " ".join(decl.replace("const ", "").replace("struct ", "").split())
    stars = decl.count("*")
    base = decl.replace("*", "").strip()
    if stars == 0:
        return CALLBACKS[base] if base in CALLBACKS else SCALARS[base]
    if stars == 2 and base in STRUCTS:
        return ctypes.POINTER(ctypes.POINTER(STRUCTS[base]))
    if stars == 2:
        assert base in HANDLES, decl
        return ctypes.POINTER(ctypes.c_void_p)
    if base in HANDLES or base == "void":
        return ctypes.c_void_p
    if base == "char":
        return ctypes.c_char_p
    if base in STRUCTS:
        return ctypes.POINTER(STRUCTS[base])
    return ctypes.POINTER(SCALARS[base])


def header_functions():
    text = open(HEADER, encoding="utf-8").read()
    found = {}
    for m in re.finditer(r"^([A-Za-z_][\w \*]*?[\s\*])(sqlpool_\w+)\((.*?)\);", text, re.M | re.S):
        ret, name, args = m.groups()
        params = []
        if args.strip() != "void":
            for a in args.split(","):
                a = a.strip()
                pname = re.search(r"(\w+)$", a).group(1)
                params.append(ctype_of(a[: -len(pname)]))
        found[name] = (ctype_of(ret), params)
    return found


def test_every_header_function_is_declared_with_its_exact_types():
    declared = _ffi.FUNCTIONS
    header = header_functions()
    assert len(header) >= 55
    assert set(declared) == set(header), (set(header) - set(declared), set(declared) - set(header))
    for name, (restype, argtypes) in header.items():
        d_res, d_args = declared[name]
        assert d_res == restype, f"{name}: restype {d_res} != {restype}"
        assert list(d_args) == argtypes, f"{name}: argtypes {d_args} != {argtypes}"
        fn = getattr(_ffi.lib, name)
        assert fn.restype == restype and list(fn.argtypes) == argtypes, name


def test_callback_types_match_the_header():
    text = open(HEADER, encoding="utf-8").read()
    for cname, cls in CALLBACKS.items():
        m = re.search(r"typedef (\w+) \(\*%s\)\((.*?)\);" % cname, text)
        assert m, cname
        args = [ctype_of(a.strip()[: -len(re.search(r"(\w+)$", a.strip()).group(1))]) for a in m.group(2).split(",")]
        assert cls._restype_ == SCALARS[m.group(1)] and list(cls._argtypes_) == args, cname


def test_struct_layouts_match_the_header():
    text = open(HEADER, encoding="utf-8").read()
    for cname, cls in STRUCTS.items():
        body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), text, re.S).group(1)
        fields = []
        for line in body.splitlines():
            line = line.strip()
            if line.endswith(";") and not line.startswith(("/*", "*")):
                decl, fname = line[:-1].rsplit(None, 1)
                fields.append((fname.lstrip("*"), ctype_of(decl + "*" * fname.count("*"))))
        assert [(n, t) for n, t in cls._fields_] == fields, cname
    assert ctypes.sizeof(_ffi.Stats) == 6 * 4 + 12 * 8


def test_constants_match_the_header():
    text = open(HEADER, encoding="utf-8").read()
    for name in [n for n in dir(_ffi) if n.startswith("SQLPOOL_")]:
        m = re.search(r"#define %s (\d+)" % name, text)
        assert m and int(m.group(1)) == getattr(_ffi, name), name


def test_version_is_checked_and_reported():
    assert sqlpool.library_version == _ffi.REQUIRED_VERSION[:2] + (sqlpool.library_version[2],)
    assert _ffi.lib.sqlpool_version().decode() == ".".join(map(str, sqlpool.library_version))
    text = open(HEADER, encoding="utf-8").read()
    assert f'#define SQLPOOL_VERSION "{sqlpool.__version__}"' in text


def run_python(code, env_update, cwd=None):
    env = dict(os.environ)
    env.update(env_update)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def package_copy(tmp_path):
    """A copy of the sqlpool package (without a library) in tmp_path."""
    src = os.path.dirname(sqlpool.__file__)
    dst = tmp_path / "sqlpool"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    return dst


def test_library_next_to_the_package_then_the_override(tmp_path):
    pkg = package_copy(tmp_path)
    shutil.copy(_ffi.library_path, pkg / "libsqlpool.so")
    env = {"PYTHONPATH": str(tmp_path), "SQLPOOL_LIBRARY": ""}
    r = run_python("import sqlpool; print(sqlpool.library_path)", env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "libsqlpool.so")
    # $SQLPOOL_LIBRARY overrides the package's library ...
    override = tmp_path / "elsewhere" / "libsqlpool.so"
    override.parent.mkdir()
    shutil.copy(_ffi.library_path, override)
    r = run_python("import sqlpool; print(sqlpool.library_path)", {**env, "SQLPOOL_LIBRARY": str(override)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(override)
    # ... and a wrong override is an error, not a silent fallback to the package's.
    r = run_python("import sqlpool", {**env, "SQLPOOL_LIBRARY": "/nonexistent/libsqlpool.so"})
    assert r.returncode != 0
    assert "/nonexistent/libsqlpool.so" in r.stderr and "SQLPOOL_LIBRARY" in r.stderr


def test_library_from_the_environment_variable_then_a_clear_error(tmp_path):
    package_copy(tmp_path)
    env = {"PYTHONPATH": str(tmp_path), "SQLPOOL_LIBRARY": os.path.abspath(_ffi.library_path)}
    r = run_python("import sqlpool; print(sqlpool.library_path)", env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.abspath(_ffi.library_path)
    env = {"PYTHONPATH": str(tmp_path), "SQLPOOL_LIBRARY": str(tmp_path / "missing.so"), "LD_LIBRARY_PATH": ""}
    r = run_python("import sqlpool", env, cwd=str(tmp_path))
    assert r.returncode != 0
    assert "cannot load the libsqlpool shared library" in r.stderr
    assert "SQLPOOL_LIBRARY" in r.stderr


def test_an_incompatible_library_version_is_refused(monkeypatch):
    class Fake:
        class sqlpool_version_number:
            restype = argtypes = None

            def __new__(cls):
                return 1_002_003

    with pytest.raises(ImportError, match="version 1.2.3"):
        _ffi._check_version(Fake, "fake.so")
    # A newer minor than the library's is refused; an older one (0.x only
    # adds functions) is accepted.
    have = sqlpool.library_version
    monkeypatch.setattr(_ffi, "REQUIRED_VERSION", (have[0], have[1] + 1, 0))
    with pytest.raises(ImportError, match=r"or a later 0\.x"):
        _ffi._check_version(_ffi.lib, "lib")
    monkeypatch.setattr(_ffi, "REQUIRED_VERSION", (have[0], have[1] - 1, 0))
    assert _ffi._check_version(_ffi.lib, "lib") == have
