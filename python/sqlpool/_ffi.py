"""Loads libsqlpool and declares every C function's argtypes and restype.

Which library: ``$SQLPOOL_LIBRARY`` when set (a path to the .so; an override
for development, so it wins, and a failure to load it is an error, not a
reason to load another copy), else the one in the package directory (which
``pip install`` compiles and installs there), else the system loader
(``libsqlpool.so.0``, ``find_library("sqlpool")``). The library's version is
checked right after loading.

``FUNCTIONS`` is the single table of C signatures; tests/test_ffi.py checks it
against include/sqlpool.h, so that it cannot drift from the header.
"""

import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

# The C API version this package was written against (it calls functions
# added in 0.2): the library must have the same major version and be at
# least this one (0.x libraries only add functions: API.md, "ABI").
REQUIRED_VERSION = (0, 2, 0)

# Result codes and column types (fixed by the C contract, never renumbered).
SQLPOOL_OK = 0
SQLPOOL_SQLITE = 1
SQLPOOL_MISUSE = 2
SQLPOOL_INVALID_ARGUMENT = 3
SQLPOOL_TIMEOUT = 4
SQLPOOL_CLOSED = 5
SQLPOOL_CANTOPEN = 6
SQLPOOL_INTERNAL = 7
SQLPOOL_ROW = 100
SQLPOOL_DONE = 101

SQLPOOL_INTEGER = 1
SQLPOOL_FLOAT = 2
SQLPOOL_TEXT = 3
SQLPOOL_BLOB = 4
SQLPOOL_NULL = 5


class Stats(Structure):
    """struct sqlpool_stats."""

    _fields_ = [
        ("pool_size", c_uint32),
        ("max_overflow", c_int32),
        ("checked_out", c_uint32),
        ("idle", c_uint32),
        ("overflow", c_int32),
        ("waiting", c_uint32),
        ("connections_created", c_uint64),
        ("connections_closed", c_uint64),
        ("checkouts", c_uint64),
        ("waits", c_uint64),
        ("timeouts", c_uint64),
        ("wait_ns_total", c_uint64),
        ("pre_ping_failures", c_uint64),
        ("recycled", c_uint64),
        ("invalidated", c_uint64),
        ("statement_cache_hits", c_uint64),
        ("statement_cache_misses", c_uint64),
        ("resets_on_checkin", c_uint64),
    ]


class SharedStats(Structure):
    """struct sqlpool_shared_stats."""

    _fields_ = [
        ("pools", c_uint32),
        ("open_connections", c_uint32),
        ("max_connections", c_uint32),
        ("_reserved", c_uint32),
        ("idle_timeout_ms", c_int64),
        ("idle_disposals", c_uint64),
        ("budget_evictions", c_uint64),
        ("budget_waits", c_uint64),
        ("budget_timeouts", c_uint64),
    ]


class Value(Structure):
    """struct sqlpool_value (sqlpool_bind_values())."""

    _fields_ = [
        ("kind", c_int),
        ("int_value", c_int64),
        ("float_value", c_double),
        ("bytes", c_void_p),
        ("len", c_int64),
    ]


class QueryCall(Structure):
    """struct sqlpool_query_call (sqlpool_pool_query_call())."""

    _fields_ = [
        ("pool", c_void_p),
        ("sql", c_char_p),
        ("sql_len", c_int64),
        ("params", c_char_p),
        ("params_len", c_size_t),
        ("buf", c_void_p),
        ("buf_size", c_size_t),
        ("max_rows", c_uint32),
        ("out_rows", c_uint32),
        ("out_used", c_size_t),
    ]


# Callback types (typedefs of the header).
EventCallback = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_uint64, c_uint64)
LogCallback = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)
# sqlpool_function_fn(ctx, argc, argv, user_data) and sqlpool_destroy_fn(user_data).
FunctionCallback = ctypes.CFUNCTYPE(None, c_void_p, c_int, POINTER(POINTER(Value)), c_void_p)
DestroyCallback = ctypes.CFUNCTYPE(None, c_void_p)
SQLPOOL_DETERMINISTIC = 0x800

# Opaque handles (sqlpool_options, _pool, _conn, _stmt) are c_void_p: Python
# ints, never dereferenced here.
_H = c_void_p
_HH = POINTER(c_void_p)  # an out-pointer to a handle

# name: (restype, [argtypes]) for every function of include/sqlpool.h.
FUNCTIONS = {
    # errors and version
    "sqlpool_errmsg": (c_char_p, []),
    "sqlpool_sqlite_errcode": (c_int, []),
    "sqlpool_errstr": (c_char_p, [c_int]),
    "sqlpool_version": (c_char_p, []),
    "sqlpool_version_number": (c_int, []),
    # options
    "sqlpool_options_new": (_H, []),
    "sqlpool_options_free": (None, [_H]),
    "sqlpool_options_set_pool_size": (c_int, [_H, c_uint32]),
    "sqlpool_options_set_max_overflow": (c_int, [_H, c_int32]),
    "sqlpool_options_set_timeout_ms": (c_int, [_H, c_uint64]),
    "sqlpool_options_set_pre_ping": (c_int, [_H, c_bool]),
    "sqlpool_options_set_recycle_ms": (c_int, [_H, c_int64]),
    "sqlpool_options_set_lifo": (c_int, [_H, c_bool]),
    "sqlpool_options_set_fair": (c_int, [_H, c_bool]),
    "sqlpool_options_set_fairness": (c_int, [_H, c_int, c_uint64]),
    "sqlpool_options_set_read_only": (c_int, [_H, c_bool]),
    "sqlpool_options_set_create": (c_int, [_H, c_bool]),
    "sqlpool_options_set_init_sql": (c_int, [_H, c_char_p]),
    "sqlpool_options_set_busy_timeout_ms": (c_int, [_H, c_uint32]),
    "sqlpool_options_set_statement_cache_capacity": (c_int, [_H, c_uint32]),
    "sqlpool_options_set_read_snapshot": (c_int, [_H, c_bool]),
    "sqlpool_options_set_snapshot_linger_ms": (c_int, [_H, c_uint32]),
    "sqlpool_options_set_leak_threshold_ms": (c_int, [_H, c_int64]),
    "sqlpool_options_set_event_callback": (c_int, [_H, EventCallback, c_void_p]),
    "sqlpool_options_set_log_callback": (c_int, [_H, LogCallback, c_void_p]),
    # pool
    "sqlpool_open": (c_int, [c_char_p, _H, _HH]),
    "sqlpool_checkout": (c_int, [_H, _HH]),
    "sqlpool_checkout_timeout": (c_int, [_H, c_uint64, _HH]),
    "sqlpool_dispose": (c_int, [_H]),
    "sqlpool_close": (c_int, [_H]),
    "sqlpool_get_stats": (c_int, [_H, POINTER(Stats), c_size_t]),
    "sqlpool_status": (c_int, [_H, c_char_p, c_size_t, POINTER(c_size_t)]),
    "sqlpool_metrics_prometheus": (c_int, [_H, c_char_p, c_size_t, POINTER(c_size_t)]),
    # shared registry
    "sqlpool_open_shared": (c_int, [c_char_p, _H, _HH]),
    "sqlpool_shared_set_limits": (c_int, [c_uint32, c_int64]),
    "sqlpool_shared_sweep": (c_int, [POINTER(c_uint32)]),
    "sqlpool_shared_get_stats": (c_int, [POINTER(SharedStats), c_size_t]),
    # connection
    "sqlpool_checkin": (c_int, [_H]),
    "sqlpool_conn_invalidate": (c_int, [_H]),
    "sqlpool_conn_interrupt": (c_int, [_H]),
    "sqlpool_exec": (c_int, [_H, c_char_p]),
    "sqlpool_prepare": (c_int, [_H, c_char_p, _HH]),
    "sqlpool_conn_set_tag": (c_int, [_H, c_char_p]),
    # connection state SQLite already knows (DB-API: rowcount, lastrowid, in_transaction)
    "sqlpool_conn_changes": (c_int, [_H, POINTER(c_int64)]),
    "sqlpool_conn_last_insert_rowid": (c_int, [_H, POINTER(c_int64)]),
    "sqlpool_conn_in_transaction": (c_int, [_H, POINTER(c_bool)]),
    # statement
    "sqlpool_bind_int64": (c_int, [_H, c_int, c_int64]),
    "sqlpool_bind_double": (c_int, [_H, c_int, c_double]),
    "sqlpool_bind_text": (c_int, [_H, c_int, c_char_p, c_int64]),
    "sqlpool_bind_blob": (c_int, [_H, c_int, c_void_p, c_int64]),
    "sqlpool_bind_null": (c_int, [_H, c_int]),
    "sqlpool_bind_parameter_count": (c_int, [_H]),
    "sqlpool_bind_parameter_index": (c_int, [_H, c_char_p]),
    "sqlpool_step": (c_int, [_H]),
    "sqlpool_reset": (c_int, [_H]),
    "sqlpool_finalize": (c_int, [_H]),
    "sqlpool_column_count": (c_int, [_H]),
    "sqlpool_column_type": (c_int, [_H, c_int]),
    "sqlpool_column_name": (c_char_p, [_H, c_int]),
    "sqlpool_column_int64": (c_int64, [_H, c_int]),
    "sqlpool_column_double": (c_double, [_H, c_int]),
    "sqlpool_column_text": (c_char_p, [_H, c_int]),
    "sqlpool_column_blob": (c_void_p, [_H, c_int]),
    "sqlpool_column_bytes": (c_int64, [_H, c_int]),
    "sqlpool_column_decltype": (c_char_p, [_H, c_int]),
    # batch: few crossings per query
    "sqlpool_bind_parameter_name": (c_char_p, [_H, c_int]),
    "sqlpool_stmt_readonly": (c_int, [_H]),
    "sqlpool_bind_values": (c_int, [_H, POINTER(Value), c_int]),
    "sqlpool_bind_packed": (c_int, [_H, c_void_p, c_size_t]),
    "sqlpool_fetch": (c_int, [_H, c_void_p, c_size_t, c_uint32, POINTER(c_uint32), POINTER(c_size_t)]),
    "sqlpool_query": (
        c_int,
        [_H, c_char_p, c_int64, c_void_p, c_size_t, c_void_p, c_size_t, c_uint32,
         _HH, POINTER(c_uint32), POINTER(c_size_t)],
    ),
    # user-defined SQL functions: registration, arguments, results
    "sqlpool_conn_create_function": (c_int, [_H, c_char_p, c_int, c_int, FunctionCallback, c_void_p, DestroyCallback]),
    "sqlpool_options_add_function": (c_int, [_H, c_char_p, c_int, c_int, FunctionCallback, c_void_p, DestroyCallback]),
    "sqlpool_value_type": (c_int, [POINTER(Value)]),
    "sqlpool_value_int64": (c_int64, [POINTER(Value)]),
    "sqlpool_value_double": (c_double, [POINTER(Value)]),
    "sqlpool_value_text": (c_char_p, [POINTER(Value)]),
    "sqlpool_value_blob": (c_void_p, [POINTER(Value)]),
    "sqlpool_value_bytes": (c_int64, [POINTER(Value)]),
    "sqlpool_result_int64": (c_int, [_H, c_int64]),
    "sqlpool_result_double": (c_int, [_H, c_double]),
    "sqlpool_result_text": (c_int, [_H, c_char_p, c_int64]),
    "sqlpool_result_blob": (c_int, [_H, c_void_p, c_int64]),
    "sqlpool_result_null": (c_int, [_H]),
    "sqlpool_result_error": (c_int, [_H, c_char_p]),
    "sqlpool_pool_query_call": (c_int, [POINTER(QueryCall)]),
    "sqlpool_pool_query": (
        c_int,
        [_H, c_char_p, c_int64, c_void_p, c_size_t, c_void_p, c_size_t, c_uint32,
         POINTER(c_uint32), POINTER(c_size_t)],
    ),
}

_LIB_NAMES = ("libsqlpool.so", "libsqlpool.so.0", "libsqlpool.dylib", "sqlpool.dll")


def _candidates():
    """(where, path) pairs in search order, without $SQLPOOL_LIBRARY."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _LIB_NAMES:
        path = os.path.join(here, name)
        if os.path.exists(path):
            yield "package directory", path
    for name in ("libsqlpool.so.0", "libsqlpool.so"):
        yield "system loader", name
    found = ctypes.util.find_library("sqlpool")
    if found:
        yield "system loader", found


def _load():
    override = os.environ.get("SQLPOOL_LIBRARY")
    if override:
        try:
            return ctypes.CDLL(override), override
        except OSError as e:
            raise ImportError(
                f"sqlpool: cannot load the libsqlpool shared library that $SQLPOOL_LIBRARY names: {override}: {e}. "
                "Unset SQLPOOL_LIBRARY to use the library installed with the package."
            ) from None
    errors = []
    for where, path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"  {where}: {path}: {e}")
            continue
        return lib, path
    raise ImportError(
        "sqlpool: cannot load the libsqlpool shared library. `pip install ./python` builds it into the "
        "package; or build it (cargo build --release) and set SQLPOOL_LIBRARY=/path/to/libsqlpool.so. Tried:\n"
        + "\n".join(errors)
    )


def _declare(lib, path):
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(f"sqlpool: {path} has no function {name}: the library is older than this package") from None
        fn.restype = restype
        fn.argtypes = argtypes


def _check_version(lib, path):
    number = lib.sqlpool_version_number()
    have = (number // 1_000_000, number // 1_000 % 1_000, number % 1_000)
    want = REQUIRED_VERSION
    compatible = have[0] == want[0] and have >= want
    if not compatible:
        raise ImportError(
            f"sqlpool: {path} is version {'.'.join(map(str, have))}, this package needs "
            f"{'.'.join(map(str, want))} or a later {want[0]}.x"
        )
    return have


def load():
    lib, path = _load()
    # The version function first, by itself: an incompatible library may lack others.
    lib.sqlpool_version_number.restype = c_int
    lib.sqlpool_version_number.argtypes = []
    version = _check_version(lib, path)
    _declare(lib, path)
    return lib, path, version


lib, library_path, library_version = load()
