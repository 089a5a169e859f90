"""User-defined SQL functions written in Python (sqlpool_conn_create_function,
sqlpool_options_add_function).

Each registered function is a ctypes callback kept in ``_LIVE`` under a key
passed to the library as user_data; the library calls ``_DESTROY`` with that
key when the function is gone (replaced, its connection closed, or its pool
and options gone), and only then is the callback released. So a function
stays callable exactly as long as some connection can call it, whatever
happens to the Python objects.
"""

import ctypes
import itertools
import threading

from . import _ffi
from .errors import InvalidArgument, check

lib = _ffi.lib

_LIVE = {}
_KEYS = itertools.count(1)  # 0 would reach C as NULL
_LOCK = threading.Lock()


def _destroy(key):
    with _LOCK:
        _LIVE.pop(key, None)


_DESTROY = _ffi.DestroyCallback(_destroy)

_INT64 = (-(2**63), 2**63 - 1)


def _argument(v):
    kind = v.kind
    if kind == _ffi.SQLPOOL_INTEGER:
        return v.int_value
    if kind == _ffi.SQLPOOL_FLOAT:
        return v.float_value
    if kind == _ffi.SQLPOOL_TEXT:
        return ctypes.string_at(v.bytes, v.len).decode("utf-8") if v.len else ""
    if kind == _ffi.SQLPOOL_BLOB:
        return ctypes.string_at(v.bytes, v.len) if v.len else b""
    return None


def _set_result(ctx, value):
    """Gives ``value`` to SQLite as sqlite3 does: None, int (bool too), float,
    str, bytes-like; anything else fails the query."""
    if value is None:
        return lib.sqlpool_result_null(ctx)
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise OverflowError(f"int {value} does not fit in 64 bits")
        return lib.sqlpool_result_int64(ctx, value)
    if isinstance(value, float):
        return lib.sqlpool_result_double(ctx, value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return lib.sqlpool_result_text(ctx, data, len(data))
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return lib.sqlpool_result_blob(ctx, data, len(data))
    raise TypeError(f"unsupported result type {type(value).__name__}")


def _callback(name, fn):
    def call(ctx, argc, argv, _user_data):
        try:
            args = [_argument(argv[i].contents) for i in range(argc)]
            check(_set_result(ctx, fn(*args)))
        except BaseException as e:  # an exception must not cross into C
            message = f"user-defined function {name} raised {type(e).__name__}: {e}"
            lib.sqlpool_result_error(ctx, message.encode("utf-8", "replace"))

    return _ffi.FunctionCallback(call)


def check_function(name, n_args, fn):
    """The arguments of create_function, checked; returns the encoded name."""
    if not isinstance(name, str):
        raise InvalidArgument(f"function name must be str, not {type(name).__name__}")
    if "\x00" in name:
        raise InvalidArgument(f"function name {name!r} contains a null character")
    if isinstance(n_args, bool) or not isinstance(n_args, int) or not -1 <= n_args <= 127:
        raise InvalidArgument(f"function {name}: n_args = {n_args!r} must be an int in [-1, 127] (-1: any number)")
    if not callable(fn):
        raise InvalidArgument(f"function {name}: {fn!r} is not callable")
    return name.encode("utf-8")


def register(register_fn, handle, name, n_args, fn, deterministic=False):
    """Registers ``fn`` through ``register_fn`` (sqlpool_conn_create_function
    or sqlpool_options_add_function) on ``handle``."""
    encoded = check_function(name, n_args, fn)
    callback = _callback(name, fn)
    with _LOCK:
        key = next(_KEYS)
        _LIVE[key] = callback
    flags = _ffi.SQLPOOL_DETERMINISTIC if deterministic else 0
    # On failure the library has already called _DESTROY for this key.
    check(register_fn(handle, encoded, n_args, flags, callback, key, _DESTROY))


def live_count():
    """Python functions the library still holds (for tests)."""
    with _LOCK:
        return len(_LIVE)
