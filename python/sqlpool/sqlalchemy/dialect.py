"""``sqlite+sqlpool``: SQLAlchemy's pysqlite dialect on sqlpool.dbapi2.

URL query parameters are sqlpool.Pool's keywords
(``sqlite+sqlpool:///log.db?read_only=true&init_sql=PRAGMA%20cache_size=-4000``);
create_engine's pool_size, max_overflow, pool_timeout, pool_recycle,
pool_pre_ping and pool_use_lifo go to sqlpool through SQLPoolPool.
"""

import os

import sqlalchemy
from sqlalchemy import exc
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from sqlpool.dbapi2 import Connection as _Connection
from sqlpool.dbapi2 import Cursor as _Cursor

from .pool import SQLPoolPool

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(name, text):
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise exc.ArgumentError(f"sqlite+sqlpool URL parameter {name}={text!r}: expected true or false")


def _number(kind):
    def parse(name, text):
        if text.lower() in ("none", ""):
            return None
        try:
            return kind(text)
        except ValueError:
            raise exc.ArgumentError(
                f"sqlite+sqlpool URL parameter {name}={text!r}: expected {kind.__name__}"
            ) from None

    return parse


# sqlpool.Pool's keywords and how a URL spells them.
_URL_OPTIONS = {
    "pool_size": _number(int),
    "max_overflow": _number(int),
    "statement_cache_capacity": _number(int),
    "timeout": _number(float),
    "recycle": _number(float),
    "busy_timeout": _number(float),
    "leak_threshold": _number(float),
    "snapshot_linger": _number(float),
    "pre_ping": _bool,
    "read_only": _bool,
    "create": _bool,
    "read_snapshot": _bool,
    "lifo": _bool,
    "fair": _bool,
    "init_sql": lambda name, text: text,
    "isolation_level": lambda name, text: text,
}


class SQLPoolExecutionContext(SQLiteExecutionContext):
    def create_default_cursor(self):
        # The cursor made directly: SQLAlchemy makes one per statement, and
        # the pool proxy's cursor() and Connection.cursor() are two Python
        # calls that only pass the connection on (a closed connection still
        # raises, at execute). Another connection class (a do_connect
        # event's) makes its own.
        conn = self._dbapi_connection.dbapi_connection
        if conn.__class__ is _Connection:
            return _Cursor(conn)
        return conn.cursor()


class _LargeBinary(sqltypes.LargeBinary):
    def result_processor(self, dialect, coltype):
        # sqlpool.dbapi2 returns BLOBs as bytes: SQLAlchemy 1.4 would call
        # bytes(value) on each one (2.x knows, returns_native_bytes).
        return None


class SQLPoolDialect(SQLiteDialect_pysqlite):
    driver = "sqlpool"
    supports_statement_cache = True
    execution_ctx_cls = SQLPoolExecutionContext
    colspecs = {**SQLiteDialect_pysqlite.colspecs, sqltypes.LargeBinary: _LargeBinary}

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        # Set by SQLPoolPool: create_engine's pool keywords, in sqlpool's names.
        self._sqlpool_pool_options = {}

    @classmethod
    def import_dbapi(cls):
        from sqlpool import dbapi2

        return dbapi2

    if sqlalchemy.__version__.startswith("1."):
        # SQLAlchemy 1.4 finds the DB-API module through dbapi().
        dbapi = import_dbapi

    @classmethod
    def get_pool_class(cls, url):
        return SQLPoolPool

    def create_connect_args(self, url):
        if url.username or url.password or url.host or url.port:
            raise exc.ArgumentError(f"Invalid sqlite+sqlpool URL: {url}: use sqlite+sqlpool:///path/to/file.db")
        database = url.database
        if not database or database == ":memory:":
            raise exc.ArgumentError(
                "sqlite+sqlpool needs a database file (each pooled connection to :memory: would be "
                "its own database); for memory use sqlite+sqlpool:///file:NAME?mode=memory&cache=shared&uri=true"
            )
        query = dict(url.query)
        options = {}
        for key in list(query):
            if key in _URL_OPTIONS:
                value = query.pop(key)
                if isinstance(value, tuple):
                    value = value[-1]
                options[key] = _URL_OPTIONS[key](key, value)
        uri = _bool("uri", query.pop("uri", "false"))
        if uri:
            if query:
                database += "?" + "&".join(f"{k}={query[k]}" for k in sorted(query))
        else:
            for key in ("check_same_thread", "detect_types", "cached_statements"):
                query.pop(key, None)
            if query:
                raise exc.ArgumentError(
                    f"sqlite+sqlpool URL parameters {sorted(query)} are not sqlpool.Pool keywords "
                    "(for SQLite URI parameters add uri=true)"
                )
            if not database.startswith("file:"):  # an SQLite URI stays as it is
                database = os.path.abspath(database)
        return ([database], options)

    def connect(self, *cargs, **cparams):
        from sqlpool import dbapi2

        conn = dbapi2.connect(*cargs, **{**cparams, **self._sqlpool_pool_options})
        # SQLAlchemy reads rows by position only: plain tuples (as pysqlite
        # gives) index in C, sqlpool.Row's name lookup costs a Python call
        # per column.
        conn._row_class = tuple
        return conn


dialect = SQLPoolDialect
