"""The exception hierarchy, mapped from the library's result codes.

Every exception raised for a failing library call carries the library's
message (``sqlpool_errmsg()``, fetched right after the call on the same
thread), the result code (``.code``) and, for SQLite errors, the SQLite
extended result code (``.sqlite_errorcode``, as in Python's sqlite3).
"""

from . import _ffi


class SqlpoolError(Exception):
    """Base class of every sqlpool error."""

    code = None
    sqlite_errorcode = 0

    def __init__(self, message, code=None, sqlite_errorcode=0):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.sqlite_errorcode = sqlite_errorcode


class OperationalError(SqlpoolError):
    """SQLPOOL_SQLITE: SQLite reported an error; see ``sqlite_errorcode``."""

    code = _ffi.SQLPOOL_SQLITE


class Misuse(SqlpoolError):
    """SQLPOOL_MISUSE: a stale handle (a connection used after checkin, a
    result after its connection was checked in), calls in the wrong order,
    or one connection used by two threads at once."""

    code = _ffi.SQLPOOL_MISUSE


class InvalidArgument(SqlpoolError, ValueError):
    """SQLPOOL_INVALID_ARGUMENT: an invalid option, path or parameter."""

    code = _ffi.SQLPOOL_INVALID_ARGUMENT


class PoolTimeout(SqlpoolError, TimeoutError):
    """SQLPOOL_TIMEOUT: no connection became free within the pool's timeout."""

    code = _ffi.SQLPOOL_TIMEOUT


class PoolClosed(SqlpoolError):
    """SQLPOOL_CLOSED: the pool was closed."""

    code = _ffi.SQLPOOL_CLOSED


class CantOpen(SqlpoolError):
    """SQLPOOL_CANTOPEN: the database file is missing, unreadable or a directory."""

    code = _ffi.SQLPOOL_CANTOPEN


class InternalError(SqlpoolError):
    """SQLPOOL_INTERNAL: a bug inside the library (a caught panic)."""

    code = _ffi.SQLPOOL_INTERNAL


class MultipleRowsError(SqlpoolError, RuntimeError):
    """execute_one's query returned more than one row (a RuntimeError, as
    nuPlan's helper raises)."""


_BY_CODE = {
    cls.code: cls
    for cls in (OperationalError, Misuse, InvalidArgument, PoolTimeout, PoolClosed, CantOpen, InternalError)
}


def error_from(rc):
    """The exception for result code ``rc``, with the calling thread's last
    library message; call it right after the failing call."""
    lib = _ffi.lib
    message = (lib.sqlpool_errmsg() or b"").decode("utf-8", "replace")
    sqlite_code = lib.sqlpool_sqlite_errcode() if rc == _ffi.SQLPOOL_SQLITE else 0
    cls = _BY_CODE.get(rc, SqlpoolError)
    if not message:
        message = (lib.sqlpool_errstr(rc) or b"SQLPOOL_UNKNOWN").decode()
    return cls(message, rc, sqlite_code)


def check(rc):
    """Raises the matching exception unless ``rc`` is SQLPOOL_OK."""
    if rc != _ffi.SQLPOOL_OK:
        raise error_from(rc)
    return rc
