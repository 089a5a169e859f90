"""A PEP 249 (DB-API 2.0) module over sqlpool's process-wide shared pools.

    from sqlpool import dbapi2
    conn = dbapi2.connect("log.db", read_only=True)
    cur = conn.cursor()
    cur.execute("SELECT timestamp FROM lidar_pc WHERE token = ?", (token,))

``connect(database, **options)`` takes ``sqlpool.Pool``'s keywords; every
DB-API connection to the same file with the same options shares one pool.
A DB-API connection holds a physical pooled connection only while a statement
has rows left or a transaction is open: a read outside a transaction that
fits one fetch batch never holds one, a longer read gives it back when its
cursor is exhausted or closed. So any number of DB-API connections share
``pool_size + max_overflow`` physical ones.

Transactions follow sqlite3's legacy ``isolation_level``: an implicit
``BEGIN`` before INSERT/UPDATE/DELETE/REPLACE, ``None`` for autocommit,
commit and rollback with no transaction open do nothing.
"""

import datetime
import re
import time
import weakref

from . import _core, dropin, errors
from ._core import _DONE, _PLANS, _ROW, _buffer, _decode_known, _pack, _plan, _sqlpool_pool_query_call, _tls, _var_row

apilevel = "2.0"
# Threads may share the module, not connections (as sqlite3 declares).
threadsafety = 1
paramstyle = "qmark"

# ---------------------------------------------------------------- exceptions


class Warning(Exception):  # noqa: A001 - the name PEP 249 requires
    """PEP 249 Warning."""


class Error(Exception):
    """Base of every error this module raises. ``sqlite_errorcode`` is
    SQLite's extended result code (0 when the error is not SQLite's) and
    ``sqlpool_code`` the library's result code, as in sqlpool.errors."""

    sqlite_errorcode = 0
    sqlpool_code = None


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


# SQLite's primary result codes -> DB-API classes, as sqlite3 maps them.
_BY_SQLITE_CODE = {
    2: InternalError,  # SQLITE_INTERNAL
    12: InternalError,  # SQLITE_NOTFOUND
    11: DatabaseError,  # SQLITE_CORRUPT
    26: DatabaseError,  # SQLITE_NOTADB
    18: DataError,  # SQLITE_TOOBIG
    19: IntegrityError,  # SQLITE_CONSTRAINT
    20: IntegrityError,  # SQLITE_MISMATCH
    21: InterfaceError,  # SQLITE_MISUSE
    25: ProgrammingError,  # SQLITE_RANGE
}

_BY_SQLPOOL_ERROR = {
    errors.Misuse: ProgrammingError,
    errors.InvalidArgument: ProgrammingError,
    errors.PoolTimeout: OperationalError,
    errors.PoolClosed: OperationalError,
    errors.CantOpen: OperationalError,
    errors.InternalError: InternalError,
}


def _dbapi_error(exc):
    """The DB-API exception for a sqlpool exception."""
    if isinstance(exc, errors.OperationalError):
        cls = _BY_SQLITE_CODE.get(exc.sqlite_errorcode & 0xFF, OperationalError)
    else:
        cls = _BY_SQLPOOL_ERROR.get(type(exc), DatabaseError)
    err = cls(str(exc))
    err.sqlite_errorcode = exc.sqlite_errorcode
    err.sqlpool_code = exc.code
    return err


# ---------------------------------------------------------------- types


class _TypeObject:
    """A PEP 249 type object: equal to the declared types (``description[i][1]``)
    whose SQLite affinity it stands for, and to its own name."""

    def __init__(self, name, *markers):
        self.name = name
        self._markers = markers

    def __eq__(self, other):
        if isinstance(other, _TypeObject):
            return self is other
        if isinstance(other, str):
            upper = other.upper()
            return upper == self.name or any(m in upper for m in self._markers)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"<sqlpool.dbapi2 type {self.name}>"


STRING = _TypeObject("STRING", "CHAR", "CLOB", "TEXT")
BINARY = _TypeObject("BINARY", "BLOB")
NUMBER = _TypeObject("NUMBER", "INT", "REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "BOOL")
DATETIME = _TypeObject("DATETIME", "DATE", "TIME")
ROWID = _TypeObject("ROWID", "ROWID")

Binary = memoryview
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks):
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    return Timestamp(*time.localtime(ticks)[:6])


def _adapt(value):
    """sqlite3's default adapters, for values the library cannot bind."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.isoformat()
    return value


def _adapted(params):
    if isinstance(params, dict):
        return {k: _adapt(v) for k, v in params.items()}
    return [_adapt(v) for v in params]


# ---------------------------------------------------------------- SQLite version


def _bundled_sqlite_version():
    pool = _core.Pool(f"file:sqlpool-dbapi2-version-{id(_core)}?mode=memory&cache=shared", create=True, pool_size=1)
    try:
        return pool.execute("SELECT sqlite_version()")[0][0]
    finally:
        pool.close()


def __getattr__(name):
    # The bundled SQLite's version, found on first use (PEP 562).
    if name in ("sqlite_version", "sqlite_version_info"):
        version = _bundled_sqlite_version()
        globals()["sqlite_version"] = version
        globals()["sqlite_version_info"] = tuple(int(p) for p in version.split("."))
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- statements

_KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))\s*)*([A-Za-z]*)", re.S)
_DML = frozenset(("INSERT", "UPDATE", "DELETE", "REPLACE"))
_TRANSACTION_CONTROL = frozenset(("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"))
# Statements that give a connection state of its own (attached databases,
# temporary tables, settings): the DB-API connection then keeps that physical
# connection until it closes, and the pool closes it instead of reusing it.
_SESSION_STATE = re.compile(r"\b(?:ATTACH|DETACH)\b|\bCREATE\s+TEMP|\bPRAGMA\b[^;]*=", re.I)


class _Statement:
    """What the DB-API needs to know of one SQL text: its first keyword's
    kind, and (once prepared) the library's metadata."""

    __slots__ = ("dml", "insert", "fast", "pins", "needs_functions")

    def __init__(self, sql):
        keyword = _KEYWORD.match(sql).group(1).upper()
        self.dml = keyword in _DML
        self.insert = keyword in ("INSERT", "REPLACE")
        self.pins = keyword in ("ATTACH", "DETACH", "CREATE", "PRAGMA") and _SESSION_STATE.search(sql) is not None
        # None: not yet known whether it only reads (needs the prepared statement).
        self.fast = None if keyword not in _TRANSACTION_CONTROL and not self.dml and not self.pins else False
        self.needs_functions = False


_STATEMENTS = {}


def _statement(sql):
    st = _STATEMENTS.get(sql)
    if st is None:
        if sql.__class__ is not str:
            raise ProgrammingError(f"operation must be str, not {type(sql).__name__}")
        if len(_STATEMENTS) > 4096:
            _STATEMENTS.clear()
        st = _STATEMENTS[sql] = _Statement(sql)
    return st


def _description(meta):
    if not meta.names:
        return None
    return tuple((name, decl, None, None, None, None, None) for name, decl in zip(meta.names, meta.decltypes))


# ---------------------------------------------------------------- functions

# Functions given to create_function, per pool: {(name, n_args): (fn, deterministic)}.
# They are registered on a physical connection the first time a statement
# there needs one (SQLite then reports "no such function").
_FUNCTIONS = weakref.WeakKeyDictionary()
_FUNCTION_ERROR = re.compile(r"(?:no such function: |wrong number of arguments to function )(\w+)", re.I)


def _missing_function(pool, exc):
    """True when ``exc`` is SQLite not knowing a function this pool has."""
    match = isinstance(exc, errors.OperationalError) and _FUNCTION_ERROR.search(str(exc))
    if not match:
        return False
    name = match.group(1).lower()
    return any(key[0] == name for key in _FUNCTIONS.get(pool, ()))


def _register_functions(pool, conn):
    for (name, n_args), entry in list(_FUNCTIONS.get(pool, {}).items()):
        conn.create_function(name, n_args, _dispatcher(pool, name, n_args), entry[1])


def _dispatcher(pool, name, n_args):
    """The callable registered in SQLite: calls the function create_function
    last gave for this name, so a replacement reaches every connection."""
    functions = _FUNCTIONS[pool]
    key = (name, n_args)

    def call(*args):
        entry = functions.get(key)
        if entry is None or entry[0] is None:
            raise OperationalError(f"user-defined function {name} was removed")
        return entry[0](*args)

    return call


# ---------------------------------------------------------------- connections

_ISOLATION_LEVELS = (None, "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
# sqlite3's connect() keywords that have no meaning here.
_SQLITE3_ONLY = ("check_same_thread", "uri", "detect_types", "cached_statements", "factory")


def _check_isolation_level(level):
    if level is not None and not isinstance(level, str):
        raise TypeError(f"isolation_level must be str or None, not {type(level).__name__}")
    if (level if level is None else level.upper()) not in _ISOLATION_LEVELS:
        raise ValueError(f"invalid value for isolation_level: {level!r}")
    return level


_FOREIGN_KEYS_OFF = "PRAGMA foreign_keys = OFF"
# connect()'s snapshot_linger for read-only databases, in seconds.
DEFAULT_SNAPSHOT_LINGER = 0.01


def connect(database, *, isolation_level="", **options):
    """A DB-API connection to ``database`` (a path or an SQLite URI) on the
    process-wide shared pool for that file and ``options`` (sqlpool.Pool's
    keywords: pool_size, max_overflow, timeout, read_only, create, init_sql,
    busy_timeout, ...). As sqlite3 does, a missing file is created unless
    ``read_only`` (pass ``create=False`` to get OperationalError instead).
    sqlite3-only keywords (check_same_thread, uri, ...) are accepted and
    ignored."""
    for name in _SQLITE3_ONLY:
        options.pop(name, None)
    options.setdefault("create", not options.get("read_only", False))
    # Read-only: each statement is a checkout of its own, so the read
    # snapshot lingers (see Pool's snapshot_linger) to take SQLite's file
    # locks once per 10 ms rather than once per statement.
    if options.get("read_only"):
        options.setdefault("snapshot_linger", DEFAULT_SNAPSHOT_LINGER)
    # The bundled SQLite enforces foreign keys by default; sqlite3's does not.
    # init_sql given here runs after this, so it can turn them on.
    user_init = options.get("init_sql")
    options["init_sql"] = _FOREIGN_KEYS_OFF + (";\n" + user_init if user_init else "")
    database = str(database) if not isinstance(database, str) else database
    try:
        pool = dropin.shared_pool(database, **{"max_overflow": 10, **options})
    except errors.SqlpoolError as exc:
        raise _dbapi_error(exc) from exc
    return Connection(pool, isolation_level)


class Connection:
    """A PEP 249 connection. It checks a physical connection out of its pool
    when a statement needs one and gives it back as soon as no cursor has rows
    left and no transaction is open."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, pool, isolation_level=""):
        self._pool = pool
        self._isolation_level = _check_isolation_level(isolation_level)
        self._conn = None  # the held sqlpool Connection
        self._readers = 0  # cursors with rows left on _conn
        self._pinned = False  # _conn has state of its own (ATTACH, TEMP, PRAGMA): kept until close
        self._closed = False
        self.row_factory = None
        # None: rows are sqlpool.Row; tuple: plain tuples (the SQLAlchemy
        # dialect's choice: it indexes rows by position only, and a tuple's
        # indexing is C, Row's is Python)
        self._row_class = None
        # statement metadata -> cursor.description (None: no columns); keyed
        # by the metadata, which a schema change replaces
        self._descriptions = {}

    def _description(self, meta):
        """cursor.description for ``meta``'s statement (declared types are
        this database's)."""
        description = self._descriptions.get(meta)
        if description is None and meta not in self._descriptions:
            if len(self._descriptions) > 1024:
                self._descriptions.clear()
            description = self._descriptions[meta] = _description(meta)
        return description

    @property
    def pool(self):
        """The sqlpool.Pool the connections come from."""
        return self._pool

    # -- the physical connection

    def _check_open(self):
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed database.")

    def _acquire(self):
        conn = self._conn
        if conn is None:
            try:
                conn = self._conn = self._pool.connection()
            except errors.SqlpoolError as exc:
                raise _dbapi_error(exc) from exc
        return conn

    def _release_if_idle(self):
        """Gives the physical connection back when nothing needs it."""
        conn = self._conn
        if conn is not None and self._readers == 0 and not self._pinned:
            try:
                busy = conn.in_transaction
            except errors.SqlpoolError:
                busy = False
            if not busy:
                self._conn = None
                conn.close()

    def _run(self, sql, params):
        """Runs ``sql`` on the held connection (checked out if needed); its
        Result. Registers this pool's functions there when SQLite lacks one."""
        conn = self._acquire()
        try:
            try:
                return conn.execute(sql, params)
            except errors.InvalidArgument as exc:
                if "is not supported" not in str(exc):
                    raise
                return conn.execute(sql, _adapted(params))
            except errors.OperationalError as exc:
                if not _missing_function(self._pool, exc):
                    raise
                st = _statement(sql)
                st.needs_functions = True
                st.fast = False
                _register_functions(self._pool, conn)
                return conn.execute(sql, params)
        except errors.SqlpoolError as exc:
            self._release_if_idle()
            raise _dbapi_error(exc) from exc

    def _begin_if_needed(self, st):
        if st.dml and self._isolation_level is not None and not self.in_transaction:
            conn = self._acquire()
            try:
                conn.executescript("BEGIN " + self._isolation_level)
            except errors.SqlpoolError as exc:
                self._release_if_idle()
                raise _dbapi_error(exc) from exc

    # -- PEP 249

    def cursor(self, factory=None):
        if self._closed:
            self._check_open()
        return Cursor(self) if factory is None else factory(self)

    def commit(self):
        self._end("COMMIT")

    def rollback(self):
        self._end("ROLLBACK")

    def _end(self, sql):
        self._check_open()
        conn = self._conn
        if conn is None:
            return
        try:
            if conn.in_transaction:
                conn.executescript(sql)
        except errors.SqlpoolError as exc:
            raise _dbapi_error(exc) from exc
        finally:
            self._release_if_idle()

    def close(self):
        """Gives the physical connection back (an open transaction is rolled
        back, as sqlite3 discards it); idempotent."""
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        self._readers = 0
        if conn is not None:
            try:
                if self._pinned:
                    conn.invalidate()  # its ATTACHes, TEMP tables, PRAGMAs are this connection's
                conn.close()
            except errors.SqlpoolError as exc:
                raise _dbapi_error(exc) from exc

    def __del__(self):
        conn = getattr(self, "_conn", None)
        if conn is not None:
            self._conn = None
            try:
                if self._pinned:
                    conn.invalidate()
                conn.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    # -- sqlite3's extensions

    @property
    def isolation_level(self):
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, level):
        _check_isolation_level(level)
        if level is None and self.in_transaction:
            self.commit()  # sqlite3 commits when autocommit is turned on
        self._isolation_level = level

    @property
    def in_transaction(self):
        """True while a transaction is open on this connection."""
        self._check_open()
        conn = self._conn
        if conn is None:
            return False
        try:
            return conn.in_transaction
        except errors.SqlpoolError as exc:
            raise _dbapi_error(exc) from exc

    @property
    def total_changes(self):
        raise NotSupportedError("total_changes: the physical connection changes between statements")

    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script):
        return self.cursor().executescript(script)

    def create_function(self, name, narg, func, *, deterministic=False):
        """Registers a scalar SQL function for every connection of this
        connection's pool (sqlite3 registers it on one connection; here the
        physical connection changes between statements). ``func`` None
        removes it."""
        self._check_open()
        if not isinstance(name, str) or not isinstance(narg, int) or narg < -1 or narg > 127:
            raise ProgrammingError(f"create_function: invalid name {name!r} or number of arguments {narg!r}")
        functions = _FUNCTIONS.setdefault(self._pool, {})
        key = (name.lower(), narg)
        known = key in functions
        functions[key] = (func, bool(deterministic))
        if not known and self._conn is not None:
            try:
                self._conn.create_function(key[0], narg, _dispatcher(self._pool, *key), bool(deterministic))
            except errors.SqlpoolError as exc:
                raise _dbapi_error(exc) from exc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False


# ---------------------------------------------------------------- cursors

_NO_ROWS = ()


class _Reading:
    """A cursor's statement with rows left on its connection's physical
    connection (counted in ``_readers``). Collected unread with its cursor,
    it closes the statement and lets the connection give the physical one
    back. Cursor itself has no ``__del__``: that would cost a call at the end
    of every cursor, and SQLAlchemy makes a cursor per statement."""

    __slots__ = ("conn", "result")

    def __init__(self, conn, result):
        self.conn = conn
        self.result = result
        conn._readers += 1

    def end(self, close=True):
        """Stops counting as a reader (closing the statement unless it is
        exhausted) and gives the physical connection back if idle."""
        result = self.result
        if result is None:
            return
        self.result = None
        conn = self.conn
        conn._readers -= 1
        if close:
            try:
                result.close()
            except errors.SqlpoolError:
                pass
        conn._release_if_idle()

    def __del__(self):
        try:
            self.end()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _plain(rows):
    """sqlpool.Row rows as plain tuples (Connection._row_class)."""
    return [tuple(row) for row in rows]


class Cursor:
    """A PEP 249 cursor. Rows are ``sqlpool.Row`` (tuples that also answer
    ``row["name"]``)."""

    # Defaults as class attributes: SQLAlchemy makes a cursor per statement.
    arraysize = 1
    description = None
    rowcount = -1
    lastrowid = None
    _rows = _NO_ROWS  # buffered rows
    _pos = 0
    _result = None  # a Result with rows left on the connection's physical one
    _reading = None  # its _Reading while _result is set
    _closed = False

    def __init__(self, connection):
        self.connection = connection
        self.row_factory = connection.row_factory  # as sqlite3: the connection's, when the cursor is made

    def _check_open(self):
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        self.connection._check_open()

    def _finish(self):
        """Drops the current statement and gives back what it held."""
        self._rows = _NO_ROWS
        self._pos = 0
        if self._result is not None:
            self._result = None
            reading, self._reading = self._reading, None
            reading.end()

    def execute(self, operation, parameters=()):
        conn = self.connection
        if self._closed or conn._closed:
            self._check_open()
        if self._result is not None:
            self._finish()
        st = _STATEMENTS.get(operation) or _statement(operation)
        if st.fast and conn._conn is None:
            # The common read: checkout, query, checkin in one library call.
            pool = conn._pool
            meta = pool._metas.get(operation)
            if meta is not None:
                try:
                    packed = _pack(parameters, meta) if parameters else b""
                except errors.SqlpoolError:
                    packed = None  # the general path adapts or reports it
                if packed is not None:
                    try:
                        buf = _tls.buf
                    except AttributeError:
                        buf = _buffer()
                    call = buf.calls.get(meta) or buf.call_for(pool._handle, meta)
                    call.params = packed
                    call.params_len = len(packed)
                    rc = _sqlpool_pool_query_call(call)
                    if rc == _DONE:
                        n = call.out_rows
                        rowcls = conn._row_class or meta.rowcls
                        if n == 1:
                            # A point query's one row, decoded here (as _decode_known does).
                            mv = buf.mv
                            _, ncols, types = meta.unpack_head(mv, 0)
                            if ncols == meta.ncols:
                                plan = _PLANS.get(types) or _plan(types)
                                at = meta.cells_at
                                row = plan[0].unpack_from(mv, at)
                                if not plan[1]:
                                    # _var_row's common case inline: a reader for these lengths.
                                    lengths = plan[3]
                                    read = plan[4].get(lengths(row)) if lengths is not None else None
                                    row = read(mv, at) if read is not None else _var_row(mv, row, plan, at)
                                rows = [row if row.__class__ is rowcls else rowcls(row)]
                            else:
                                rows = None
                        else:
                            rows = _decode_known(buf.mv, n, meta, rowcls)
                        # None: stale rows (the schema changed elsewhere); the
                        # general path reads again with fresh metadata.
                        if rows is not None:
                            self._rows = rows
                            self._pos = 0
                            self.description = conn._descriptions.get(meta) or conn._description(meta)
                            self.rowcount = -1
                            return self
                    elif rc != _ROW:
                        raise _dbapi_error(errors.error_from(rc))
                    elif call.out_rows:
                        # More rows than one batch: the unheld path would only
                        # run the same query again to find that out.
                        return self._execute(conn, st, operation, parameters, unheld=False)
        return self._execute(conn, st, operation, parameters)

    def _execute(self, conn, st, operation, parameters, unheld=True):
        self._rows = _NO_ROWS
        self._pos = 0
        self.rowcount = -1
        if unheld and st.fast is not False and conn._conn is None and not st.needs_functions:
            if self._execute_unheld(conn, st, operation, parameters):
                return self
        conn._begin_if_needed(st)
        if st.pins:
            conn._pinned = True
        result = conn._run(operation, parameters)
        self.description = conn._descriptions.get(result._meta) or conn._description(result._meta)
        if result._stmt is None:
            self._rows = result._rows if conn._row_class is None else _plain(result._rows)
            self._pos = result._pos
            if st.dml or st.insert:
                self._count(conn, st)
            conn._release_if_idle()
        else:
            self._result = result
            self._reading = _Reading(conn, result)
        return self

    def _execute_unheld(self, conn, st, operation, parameters):
        """A read outside a transaction: checkout, query and checkin in one
        library call. False when the statement must run on a held connection
        (it writes, or its rows do not fit one batch)."""
        pool = conn._pool
        try:
            meta = pool._metas.get(operation) or pool._meta(operation)
            if st.fast is None:
                st.fast = meta.readonly
                if not st.fast:
                    return False
            packed = _pack(parameters, meta) if parameters else b""
            rc, rows = pool._pool_query(meta, packed, 0)
        except errors.InvalidArgument as exc:
            if "is not supported" in str(exc):
                return False
            raise _dbapi_error(exc) from exc
        except errors.SqlpoolError as exc:
            if _missing_function(pool, exc):
                st.needs_functions = True
                st.fast = False
                return False
            raise _dbapi_error(exc) from exc
        if rc != _DONE:
            return False
        meta = pool._metas.get(operation, meta)  # fresh if _pool_query saw a schema change
        self.description = conn._descriptions.get(meta) or conn._description(meta)
        self._rows = rows if conn._row_class is None else _plain(rows)
        return True

    def _count(self, conn, st):
        c = conn._conn
        try:
            if st.dml:
                self.rowcount = c.changes()
            if st.insert:
                self.lastrowid = c.last_insert_rowid()
        except errors.SqlpoolError as exc:
            raise _dbapi_error(exc) from exc

    def executemany(self, operation, seq_of_parameters):
        self._check_open()
        self._finish()
        conn = self.connection
        st = _statement(operation)
        if not st.dml:
            raise ProgrammingError("executemany() can only execute DML statements.")
        self.description = None
        total = 0
        conn._begin_if_needed(st)
        for parameters in seq_of_parameters:
            result = conn._run(operation, parameters)
            if result._stmt is not None:
                result.close()
            try:
                total += conn._conn.changes()
            except errors.SqlpoolError as exc:
                raise _dbapi_error(exc) from exc
        self.rowcount = total
        conn._release_if_idle()
        return self

    def executescript(self, sql_script):
        """Commits an open transaction, then runs every statement of the
        script (as sqlite3 does)."""
        self._check_open()
        self._finish()
        if not isinstance(sql_script, str):
            raise ValueError("script argument must be unicode.")
        conn = self.connection
        c = conn._acquire()
        if _SESSION_STATE.search(sql_script):
            conn._pinned = True
        try:
            if c.in_transaction:
                c.executescript("COMMIT")
            c.executescript(sql_script)
        except errors.SqlpoolError as exc:
            raise _dbapi_error(exc) from exc
        finally:
            conn._release_if_idle()
        self.description = None
        self.rowcount = -1
        return self

    # -- fetching

    def _next(self):
        pos = self._pos
        rows = self._rows
        if pos < len(rows):
            self._pos = pos + 1
            return rows[pos]
        result = self._result
        if result is None:
            if self.description is None:
                self._check_open()
                raise ProgrammingError("no results to fetch: the last statement returned no rows")
            return None
        try:
            row = result.fetchone()
        except errors.SqlpoolError as exc:
            self._finish()
            raise _dbapi_error(exc) from exc
        conn = self.connection
        if conn._row_class is not None and row is not None:
            row = tuple(row)
        if result._stmt is None:
            # Exhausted: keep the buffered rest, give the connection back.
            self._rows = result._rows if conn._row_class is None else _plain(result._rows)
            self._pos = result._pos
            self._result = None
            reading, self._reading = self._reading, None
            reading.end(close=False)
        return row

    def fetchone(self):
        pos = self._pos
        rows = self._rows
        if pos < len(rows) and self.row_factory is None:
            self._pos = pos + 1
            return rows[pos]
        row = self._next()
        if row is not None and self.row_factory is not None:
            return self.row_factory(self, row)
        return row

    def fetchmany(self, size=None):
        if size is None:
            size = self.arraysize
        out = []
        nxt = self._next
        while len(out) < size:
            row = nxt()
            if row is None:
                break
            out.append(row)
        if self.row_factory is not None:
            return [self.row_factory(self, r) for r in out]
        return out

    def fetchall(self):
        rows = self._rows
        if rows.__class__ is list and rows and self._result is None and self.row_factory is None:
            # Everything is buffered (a one-call read): hand the list over
            # (_pos needs no reset: no rows are left to index).
            pos = self._pos
            self._rows = _NO_ROWS
            return rows[pos:] if pos else rows
        out = []
        nxt = self._next
        while True:
            pos = self._pos
            rows = self._rows
            if pos < len(rows):
                out.extend(rows[pos:] if pos else rows)
                self._rows = _NO_ROWS
                self._pos = 0
            row = nxt()
            if row is None:
                break
            out.append(row)
        if self.row_factory is not None:
            return [self.row_factory(self, r) for r in out]
        return out

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self):
        """Releases the statement (idempotent)."""
        if self._result is not None:
            self._finish()
        self._rows = _NO_ROWS
        self._closed = True

    def setinputsizes(self, sizes):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = [
    "apilevel",
    "threadsafety",
    "paramstyle",
    "connect",
    "Connection",
    "Cursor",
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
    "Binary",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "sqlite_version",
    "sqlite_version_info",
]
