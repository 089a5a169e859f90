"""Pool, Connection, Result and Row over the C API.

A query costs few crossings into the library: ``sqlpool_query`` prepares
(from the connection's statement cache), binds every parameter (packed into
one bytes object) and fetches a batch of rows into a per-thread buffer in one
call; ``sqlpool_pool_query`` does the same with the checkout and the checkin
for ``Pool.execute`` and the drop-ins. Rows are decoded with one
``struct.unpack_from`` per row, its format cached per column-type signature.
"""

import ctypes
import logging
import operator
import os
import re
import struct
import threading
import weakref
from ctypes import byref, c_bool, c_char, c_int64, c_size_t, c_uint32, c_void_p

from . import _ffi, _functions
from .errors import InvalidArgument, Misuse, MultipleRowsError, check, error_from

lib = _ffi.lib
_OK = _ffi.SQLPOOL_OK
_ROW = _ffi.SQLPOOL_ROW
_DONE = _ffi.SQLPOOL_DONE
_INTEGER = _ffi.SQLPOOL_INTEGER
_FLOAT = _ffi.SQLPOOL_FLOAT
_TEXT = _ffi.SQLPOOL_TEXT
_BLOB = _ffi.SQLPOOL_BLOB
_NULL = _ffi.SQLPOOL_NULL

_sqlpool_query = lib.sqlpool_query
_sqlpool_pool_query = lib.sqlpool_pool_query
_sqlpool_pool_query_call = lib.sqlpool_pool_query_call
_sqlpool_fetch = lib.sqlpool_fetch
_sqlpool_checkout = lib.sqlpool_checkout
_sqlpool_checkin = lib.sqlpool_checkin
_sqlpool_finalize = lib.sqlpool_finalize

# ---------------------------------------------------------------- rows


class Row(tuple):
    """A result row: a tuple that also answers ``row["name"]`` (first column of
    that name; case-insensitive, as ``sqlite3.Row``), ``keys()`` and
    ``as_dict()``. Compares equal to the tuple of its values; pickles."""

    __slots__ = ()
    _keys = ()
    _index = {}

    def __getitem__(self, key, _get=tuple.__getitem__):
        if key.__class__ is str:
            try:
                return _get(self, self._index[key])
            except KeyError:
                try:
                    return _get(self, self._index[key.lower()])
                except KeyError:
                    raise IndexError(f"No item with that key: {key!r}") from None
        return _get(self, key)

    def keys(self):
        """The column names, in order."""
        return list(self._keys)

    def as_dict(self):
        """{column name: value}."""
        return dict(zip(self._keys, self))

    def __repr__(self):
        return "<sqlpool.Row " + ", ".join(f"{k}={v!r}" for k, v in zip(self._keys, self)) + ">"

    def __reduce__(self):
        return (_rebuild_row, (self._keys, tuple(self)))


_ROW_CLASSES = {}


def row_class(names):
    """The Row subclass for these column names (cached)."""
    cls = _ROW_CLASSES.get(names)
    if cls is None:
        index = {}
        for i, name in enumerate(names):
            index.setdefault(name, i)
        for i, name in enumerate(names):
            index.setdefault(name.lower(), i)
        cls = type("Row", (Row,), {"__slots__": (), "_keys": names, "_index": index, "__module__": __name__})
        _ROW_CLASSES[names] = cls
    return cls


def _rebuild_row(names, values):
    return row_class(tuple(names))(values)


# ---------------------------------------------------------------- buffers


class _Buffer:
    """One thread's fetch buffer and out-parameters, reused by every call."""

    __slots__ = ("size", "arr", "mv", "rows", "used", "handle", "calls")

    def __init__(self, size):
        self.size = size
        self.arr = (c_char * size)()
        self.mv = memoryview(self.arr).cast("B")
        self.rows = c_uint32()
        self.used = c_size_t()
        self.handle = c_void_p()
        # statement metadata -> its sqlpool_pool_query_call() struct on this
        # buffer (one ctypes argument per call instead of ten)
        self.calls = {}

    def call_for(self, pool_handle, meta):
        """The query-call struct for ``meta``'s statement (of the pool
        ``pool_handle``) into this buffer; set ``params`` and
        ``params_len`` before each call."""
        calls = self.calls
        if len(calls) > 256:
            calls.clear()
        call = calls[meta] = _ffi.QueryCall(
            pool_handle, meta.sql, meta.sql_len, None, 0, ctypes.addressof(self.arr), self.size, 0
        )
        return call


_DEFAULT_BUFFER = 64 * 1024
_tls = threading.local()


def _buffer():
    try:
        return _tls.buf
    except AttributeError:
        buf = _tls.buf = _Buffer(_DEFAULT_BUFFER)
        return buf


def _grow(needed):
    """A larger buffer for this thread, for a row of ``needed`` bytes."""
    size = max(needed, _tls.buf.size * 2)
    buf = _tls.buf = _Buffer(size)
    return buf


# ---------------------------------------------------------------- decoding

_HEADER = struct.Struct("=II")
_PLANS = {}
_CELL = {_INTEGER: "q", _FLOAT: "d", _TEXT: "I", _BLOB: "I", _NULL: ""}


def _plan(types):
    plan = _PLANS.get(types)
    if plan is None:
        try:
            fmt = "=" + "".join(_CELL[t] for t in types)
        except KeyError:
            raise error_from(_ffi.SQLPOOL_INTERNAL) from None
        simple = all(t == _INTEGER or t == _FLOAT for t in types)
        if len(_PLANS) > 4096:
            _PLANS.clear()
        # Rows with TEXT or BLOB columns: the cells' positions that hold
        # lengths, and {lengths: whole-row reader} (see _var_row).
        var = [k for k, t in enumerate(t for t in types if t != _NULL) if t in (_TEXT, _BLOB)]
        lengths = operator.itemgetter(*var) if var and len(types) > 1 else None
        plan = _PLANS[types] = (struct.Struct(fmt), simple, types, lengths, {})
    return plan


# Whole-row readers kept per plan (distinct TEXT/BLOB length combinations);
# past that, rows of new lengths are read column by column (_fix).
_ROW_FORMATS_PER_PLAN = 64


def _row_reader(plan, lengths):
    """``read(mv, at)``: the row of ``plan``'s types whose TEXT and BLOB
    values have these lengths, as a tuple in column order. Generated code:
    one unpack of the cells and the values, the tuple built from them
    directly (no per-column loop, no intermediate lists), since a point
    query pays this per row."""
    types = plan[2]
    lens = lengths if isinstance(lengths, tuple) else (lengths,)
    unpack = struct.Struct(plan[0].format + "".join("%ds" % n for n in lens)).unpack_from
    n_cells = sum(1 for t in types if t != _NULL)
    targets = ["c%d" % k for k in range(n_cells)] + ["d%d" % j for j in range(len(lens))]
    values = []
    k = j = 0
    for t in types:
        if t == _NULL:
            values.append("None")
            continue
        if t == _TEXT:
            values.append("d%d.decode()" % j)  # UTF-8, strict: as sqlite3 decodes TEXT
            j += 1
        elif t == _BLOB:
            values.append("d%d" % j)
            j += 1
        else:
            values.append("c%d" % k)
        k += 1
    source = "def read(mv, at):\n    %s, = unpack(mv, at)\n    return (%s,)\n" % (
        ", ".join(targets), ", ".join(values))
    namespace = {"unpack": unpack}
    exec(source, namespace)  # noqa: S102 - the source is built above from type codes and lengths only
    return namespace["read"]


def _var_row(mv, values, plan, cells):
    """A row with TEXT, BLOB or NULL columns, whose cells (read by
    ``plan[0]`` at ``cells``) are ``values``: a tuple (a list when read
    column by column)."""
    lengths = plan[3]
    if lengths is None:
        return _fix(mv, values, plan[2], cells + plan[0].size)
    key = lengths(values)
    read = plan[4].get(key)
    if read is None:
        if len(plan[4]) >= _ROW_FORMATS_PER_PLAN:
            return _fix(mv, values, plan[2], cells + plan[0].size)
        read = plan[4][key] = _row_reader(plan, key)
    return read(mv, cells)


def _decode_known(mv, nrows, meta, rowcls, _plans=_PLANS):
    """The ``nrows`` rows at the start of ``mv`` as ``rowcls`` instances
    (``tuple`` or ``meta.rowcls``), each row's size, column count and column
    types read in one unpack with ``meta``'s header format; None when a row
    has another number of columns than ``meta`` knows (a re-prepared
    statement: see _stale)."""
    unpack_head = meta.unpack_head
    ncols = meta.ncols
    start = meta.cells_at
    out = []
    pos = 0
    while nrows:
        nrows -= 1
        size, n, key = unpack_head(mv, pos)
        if n != ncols:
            return None
        plan = _plans.get(key) or _plan(key)
        fmt = plan[0]
        values = fmt.unpack_from(mv, pos + start)
        if plan[1]:
            out.append(values if rowcls is tuple else rowcls(values))
        else:
            out.append(rowcls(_var_row(mv, values, plan, pos + start)))
        pos += size
    return out


def _decode(mv, nrows, rowcls, _header=_HEADER.unpack_from, _plans=_PLANS):
    """The ``nrows`` rows at the start of ``mv`` (the fetch format of
    sqlpool_fetch()), as ``rowcls`` instances."""
    out = []
    pos = 0
    for _ in range(nrows):
        size, ncols = _header(mv, pos)
        cells = pos + 8 + ncols
        key = mv[pos + 8:cells].tobytes()
        plan = _plans.get(key) or _plan(key)
        fmt = plan[0]
        values = fmt.unpack_from(mv, cells)
        if plan[1]:
            out.append(rowcls(values))
        else:
            out.append(rowcls(_var_row(mv, values, plan, cells)))
        pos += size
    return out


# Times a read is run again for fresh column metadata before its rows are
# returned as they come.
_MAX_REFRESHES = 4


def _stale(mv, meta, _header=_HEADER.unpack_from):
    """True when the first row at the start of ``mv`` has another number of
    columns than ``meta`` knows: the statement was re-prepared for a new
    schema."""
    return _header(mv, 0)[1] != len(meta.names)


def _fix(mv, values, types, data):
    """The values of a row with TEXT, BLOB or NULL columns."""
    row = []
    k = 0
    for t in types:
        if t == _NULL:
            row.append(None)
            continue
        v = values[k]
        k += 1
        if t == _TEXT:
            end = data + v
            v = str(mv[data:end], "utf-8")
            data = end
        elif t == _BLOB:
            end = data + v
            v = mv[data:end].tobytes()
            data = end
        row.append(v)
    return row


# ---------------------------------------------------------------- parameters

_pack_int = struct.Struct("=Bq").pack
_pack_float = struct.Struct("=Bd").pack
_pack_len = struct.Struct("=BI").pack
_NULL_BYTE = bytes([_NULL])


def _pack_value(i, v, parts):
    t = v.__class__
    if t is int or t is bool:
        try:
            parts.append(_pack_int(_INTEGER, v))
        except struct.error:
            raise OverflowError("Python int too large to convert to SQLite INTEGER") from None
    elif t is str:
        b = v.encode("utf-8")
        parts.append(_pack_len(_TEXT, len(b)))
        parts.append(b)
    elif t is bytes:
        parts.append(_pack_len(_BLOB, len(v)))
        parts.append(v)
    elif t is float:
        parts.append(_pack_float(_FLOAT, v))
    elif v is None:
        parts.append(_NULL_BYTE)
    elif isinstance(v, (bytearray, memoryview)):
        b = bytes(v) if t is bytearray else v.tobytes()
        parts.append(_pack_len(_BLOB, len(b)))
        parts.append(b)
    elif isinstance(v, int):
        _pack_value(i, int(v), parts)
    elif isinstance(v, float):
        _pack_value(i, float(v), parts)
    elif isinstance(v, str):
        _pack_value(i, str(v), parts)
    elif isinstance(v, bytes):
        _pack_value(i, bytes(v), parts)
    else:
        raise InvalidArgument(f"Error binding parameter {i}: type '{t.__name__}' is not supported")


def _pack(params, meta):
    """Packed values (sqlpool_bind_packed()) for a tuple, list or dict."""
    cls = params.__class__
    if cls is tuple or cls is list:
        if len(params) == 1:
            # The common point query: one key.
            v = params[0]
            c = v.__class__
            if c is bytes:
                return _pack_len(_BLOB, len(v)) + v
            if c is memoryview:  # sqlite3.Binary, as SQLAlchemy binds a LargeBinary key
                v = v.tobytes()
                return _pack_len(_BLOB, len(v)) + v
            if c is int and -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
                return _pack_int(_INTEGER, v)
    elif isinstance(params, dict):
        keys = meta.param_keys
        if keys is None:
            raise InvalidArgument(
                f"named parameters given, but the statement has nameless ('?') parameters: {meta.text!r}"
            )
        values = []
        for key in keys:
            try:
                values.append(params[key])
            except KeyError:
                raise InvalidArgument(f"You did not supply a value for binding parameter :{key}.") from None
        params = values
    elif params is None:
        return b""
    elif isinstance(params, (str, bytes, bytearray)) or not hasattr(params, "__len__"):
        raise InvalidArgument(f"parameters are of unsupported type {type(params).__name__}: use a tuple, list or dict")
    parts = []
    i = 0
    for v in params:
        i += 1
        _pack_value(i, v, parts)
    return b"".join(parts)


# ---------------------------------------------------------------- statements

# Statements that change a schema: after one runs, every cached column list
# in the process may be stale (SQLite re-prepares its statements; the
# metadata cached above them must follow).
_SCHEMA_SQL = re.compile(r"\b(CREATE|DROP|ALTER|ATTACH|DETACH)\b", re.IGNORECASE)

# Every open Pool of the process, whose statement metadata a schema change
# clears.
_POOLS = weakref.WeakSet()


# Schema changes seen in this process. Once there was one, metadata is read
# from a fresh preparation: a cached statement's column list is the one of
# its last preparation, until a step makes SQLite re-prepare it.
_SCHEMA_CHANGES = [0]


def _schema_changed():
    """Forgets the statement metadata of every pool in the process."""
    _SCHEMA_CHANGES[0] += 1
    for pool in list(_POOLS):
        pool._metas.clear()


def _column_names(stmt):
    """The column names of a prepared statement, as SQLite has them now."""
    n = lib.sqlpool_column_count(stmt)
    return tuple((lib.sqlpool_column_name(stmt, i) or b"").decode("utf-8") for i in range(n))


class _Meta:
    """What is known about one SQL text on one pool: encoded SQL, column
    names, parameter names, whether it only reads."""

    __slots__ = (
        "text", "sql", "sql_len", "names", "decltypes", "param_keys", "readonly", "ddl", "rowcls", "description",
        "unpack_head", "ncols", "cells_at",
    )

    def __init__(self, text, conn_handle):
        if "\x00" in text:
            raise InvalidArgument("the query contains a null character")
        self.text = text
        self.sql = text.encode("utf-8")
        self.sql_len = len(self.sql)
        stmt = c_void_p()
        sql = self.sql
        if _SCHEMA_CHANGES[0]:
            # A cached statement keeps the column list of its last
            # preparation until a step re-prepares it: after a schema change,
            # read the metadata from a fresh preparation of the same SQL (a
            # text of its own, so not the cache's statement), never by
            # running the statement.
            sql += b"\n/* sqlpool: metadata after schema change %d */" % _SCHEMA_CHANGES[0]
        check(lib.sqlpool_prepare(conn_handle, sql, byref(stmt)))
        try:
            names = _column_names(stmt)
            decltypes = (lib.sqlpool_column_decltype(stmt, i) for i in range(len(names)))
            self.decltypes = tuple(None if t is None else t.decode("utf-8") for t in decltypes)
            count = lib.sqlpool_bind_parameter_count(stmt)
            params = [lib.sqlpool_bind_parameter_name(stmt, i) for i in range(1, count + 1)]
            # sqlite3's rule: a dict binds by name without the prefix (":x" -> "x").
            self.param_keys = None if any(p is None for p in params) else tuple(p.decode()[1:] for p in params)
            self.readonly = lib.sqlpool_stmt_readonly(stmt) == 1
            self.ddl = not self.readonly and _SCHEMA_SQL.search(text) is not None
        finally:
            check(lib.sqlpool_finalize(stmt))
        self._name(names)

    def _name(self, names):
        self.names = names
        # A row's size, column count and column types (sqlpool_fetch()'s
        # format) in one unpack, and where its cells start (_decode_known).
        head = struct.Struct("=II%ds" % len(names))
        self.unpack_head = head.unpack_from
        self.ncols = len(names)
        self.cells_at = head.size
        self.rowcls = row_class(names)
        self.description = tuple((name, None, None, None, None, None, None) for name in names) or None

    def renamed(self, names):
        """A copy with other column names (of the re-prepared statement)."""
        meta = object.__new__(_Meta)
        for slot in _Meta.__slots__:
            setattr(meta, slot, getattr(self, slot))
        meta._name(names)
        return meta


# ---------------------------------------------------------------- results


class Result:
    """The rows of one ``Connection.execute``, like a DB-API cursor: iterate
    it, or call ``fetchone``, ``fetchmany``, ``fetchall``. Rows come from the
    library in batches; the statement is released when the last row has been
    read, by ``close()``, or at the connection's checkin (after which a
    result with rows left raises Misuse)."""

    __slots__ = ("_conn", "_stmt", "_rows", "_pos", "_meta")

    def __init__(self, conn, stmt, rows, meta):
        self._conn = conn
        self._stmt = stmt
        self._rows = rows
        self._pos = 0
        self._meta = meta

    @property
    def description(self):
        """DB-API description: a 7-tuple per column, name first; None for a
        statement that returns no columns."""
        return self._meta.description

    @property
    def columns(self):
        """The column names."""
        return self._meta.names

    @property
    def decltypes(self):
        """The declared type of each column ("INTEGER", "VARCHAR(10)") as in
        its table's definition; None for an expression."""
        return self._meta.decltypes

    def _more(self):
        """Fetches the next batch; False when there is none."""
        stmt = self._stmt
        if stmt is None:
            return False
        buf = _buffer()
        while True:
            rc = _sqlpool_fetch(stmt, buf.arr, buf.size, 0, buf.rows, buf.used)
            if rc == _ROW and buf.rows.value == 0:
                buf = _grow(buf.used.value)
                continue
            break
        if rc != _ROW and rc != _DONE:
            self._stmt = None
            raise error_from(rc)
        self._rows = _decode(buf.mv, buf.rows.value, self._meta.rowcls)
        self._pos = 0
        if rc == _DONE:
            self._release()
        return bool(self._rows)

    def _release(self):
        stmt, self._stmt = self._stmt, None
        if stmt is not None:
            check(_sqlpool_finalize(stmt))

    def fetchone(self):
        """The next row, or None when there are no more."""
        pos = self._pos
        rows = self._rows
        if pos < len(rows):
            self._pos = pos + 1
            return rows[pos]
        if self._more():
            self._pos = 1
            return self._rows[0]
        return None

    def fetchmany(self, size=100):
        out = []
        while len(out) < size:
            row = self.fetchone()
            if row is None:
                break
            out.append(row)
        return out

    def fetchall(self):
        """Every remaining row, as a list."""
        out = self._rows[self._pos:]
        self._rows = []
        self._pos = 0
        while self._more():
            out.extend(self._rows)
            self._rows = []
        return out

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self):
        """Releases the statement now (idempotent); remaining rows are dropped."""
        self._rows = []
        self._pos = 0
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if self._stmt is not None:
            try:
                _sqlpool_finalize(self._stmt)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass


# ---------------------------------------------------------------- connections


class Connection:
    """A connection checked out of a Pool. Use it from one thread at a time;
    ``close()`` (or leaving the ``with`` block, also on an exception) checks it
    back in: an open transaction is rolled back, statements are released."""

    __slots__ = ("_handle", "_pool", "__weakref__")

    def __init__(self, pool, handle):
        self._pool = pool
        self._handle = handle

    def _h(self):
        h = self._handle
        if h is None:
            raise Misuse("the connection was checked in (closed)", _ffi.SQLPOOL_MISUSE)
        return h

    def _meta(self, sql):
        meta = self._pool._metas.get(sql)
        if meta is None:
            if sql.__class__ is not str:
                raise InvalidArgument(f"sql must be str, not {type(sql).__name__}")
            meta = self._pool._metas[sql] = _Meta(sql, self._h())
        return meta

    def execute(self, sql, params=()):
        """Runs the first statement of ``sql`` with ``params`` (a tuple or list
        for ``?``, a dict for ``:name``) and returns its Result."""
        h = self._handle
        if h is None:
            self._h()
        meta = self._pool._metas.get(sql) or self._meta(sql)
        packed = _pack(params, meta) if params else b""
        try:
            buf = _tls.buf
        except AttributeError:
            buf = _buffer()
        stmt = buf.handle
        rc = _sqlpool_query(
            h, meta.sql, meta.sql_len, packed, len(packed), buf.arr, buf.size, 0, stmt, buf.rows, buf.used
        )
        if meta.ddl:
            _schema_changed()
        if rc == _DONE:
            if not (buf.rows.value and meta.readonly and _stale(buf.mv, meta)):
                return Result(self, None, _decode(buf.mv, buf.rows.value, meta.rowcls), meta)
            # The schema changed elsewhere: a read runs again, once, with
            # the columns of the re-prepared statement.
            _schema_changed()
            meta = self._meta(sql)
            rc = _sqlpool_query(
                h, meta.sql, meta.sql_len, packed, len(packed), buf.arr, buf.size, 0, stmt, buf.rows, buf.used
            )
            if rc == _DONE:
                return Result(self, None, _decode(buf.mv, buf.rows.value, meta.rowcls), meta)
        if rc != _ROW:
            raise error_from(rc)
        names = _column_names(stmt.value)
        if names != meta.names:
            # The statement was re-prepared for a new schema: its names are
            # the truth (it has stepped), the cached ones are not.
            _schema_changed()
            meta = meta.renamed(names)
        result = Result(self, stmt.value, _decode(buf.mv, buf.rows.value, meta.rowcls), meta)
        if not result._rows:
            result._more()
        return result

    def executescript(self, sql):
        """Runs every statement in ``sql`` (sqlpool_exec), discarding rows."""
        if "\x00" in sql:
            raise InvalidArgument("the script contains a null character")
        try:
            check(lib.sqlpool_exec(self._h(), sql.encode("utf-8")))
        finally:
            # Even a failing script may have changed the schema before failing.
            if _SCHEMA_SQL.search(sql):
                _schema_changed()

    def invalidate(self):
        """Closes the connection, instead of reusing it, when it is checked in."""
        check(lib.sqlpool_conn_invalidate(self._h()))

    def set_tag(self, tag):
        """Names the holder in leak reports (e.g. a traceback or a step id);
        None clears it. Kept only when the pool has a ``leak_threshold``."""
        check(lib.sqlpool_conn_set_tag(self._h(), None if tag is None else str(tag).encode("utf-8")))

    def interrupt(self):
        """Stops the query running on this connection; it raises
        OperationalError (sqlite_errorcode 9). The one call that may come from
        another thread."""
        check(lib.sqlpool_conn_interrupt(self._h()))

    def create_function(self, name, n_args, fn, deterministic=False):
        """Registers ``fn`` as the SQL function ``name`` taking ``n_args``
        arguments (-1: any number) on this pooled connection, for as long as
        the connection lives (later holders see it too). Arguments arrive as
        int, float, str, bytes or None; ``fn`` returns one of those (or a
        bool, bytearray, memoryview). An exception it raises fails the query
        with OperationalError. ``deterministic`` lets SQLite use it in
        indexes."""
        _functions.register(lib.sqlpool_conn_create_function, self._h(), name, n_args, fn, deterministic)

    def changes(self):
        """Rows changed by the last INSERT, UPDATE or DELETE on this pooled
        connection (right after a checkout, possibly a previous holder's)."""
        out = c_int64()
        check(lib.sqlpool_conn_changes(self._h(), byref(out)))
        return out.value

    def last_insert_rowid(self):
        """The rowid of the last successful INSERT on this pooled connection
        (0 if there was none)."""
        out = c_int64()
        check(lib.sqlpool_conn_last_insert_rowid(self._h(), byref(out)))
        return out.value

    @property
    def in_transaction(self):
        """True while a transaction begun by the holder (BEGIN) is open; the
        pool's read snapshot does not count."""
        out = c_bool()
        check(lib.sqlpool_conn_in_transaction(self._h(), byref(out)))
        return out.value

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Checks the connection back in (idempotent)."""
        h, self._handle = self._handle, None
        if h is not None:
            check(_sqlpool_checkin(h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        h = self._handle
        if h is not None:
            self._handle = None
            try:
                _sqlpool_checkin(h)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    def __repr__(self):
        state = "checked in" if self._handle is None else "checked out"
        return f"<sqlpool.Connection {state} from {self._pool.path!r}>"


# ---------------------------------------------------------------- pools


def _close_pool(handle):
    """weakref.finalize callback: closes a pool handle (at GC or exit)."""
    try:
        lib.sqlpool_close(handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


_STATS_FIELDS = [name for name, _ in _ffi.Stats._fields_]

# Event and log level names, by the C API's values (SQLPOOL_EVENT_*, _LOG_*).
EVENTS = {1: "connect", 2: "checkout", 3: "checkin", 4: "invalidate", 5: "recycle", 6: "pre_ping_failure", 7: "timeout"}
_LOG_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}

# ctypes callbacks given to the library live as long as the process: a
# connection checked in after its Pool object is gone still reports events.
_CALLBACKS = []


def _event_callback(on_event):
    def call(_user, event, connection_id, wait_ns):
        try:
            on_event(EVENTS.get(event, str(event)), connection_id, wait_ns)
        except Exception:  # an exception must not cross into C
            logging.getLogger("sqlpool").exception("the on_event callback raised")

    cb = _ffi.EventCallback(call)
    _CALLBACKS.append(cb)
    return cb


def _log_callback(logger):
    def call(_user, level, message):
        try:
            logger.log(_LOG_LEVELS.get(level, logging.INFO), "%s", message.decode("utf-8", "replace"))
        except Exception:  # pragma: no cover - a broken handler must not cross into C
            pass

    cb = _ffi.LogCallback(call)
    _CALLBACKS.append(cb)
    return cb


def _text(fn, handle):
    """A text the C API writes into a caller's buffer (status, Prometheus)."""
    while True:
        needed = c_size_t()
        check(fn(handle, None, 0, byref(needed)))
        buf = ctypes.create_string_buffer(needed.value)
        rc = fn(handle, buf, needed.value, byref(needed))
        if rc == _ffi.SQLPOOL_INVALID_ARGUMENT:
            continue  # grew in between: ask again
        check(rc)
        return buf.value.decode("utf-8")


def _int(value, name, lo, hi):
    """``value`` checked against the C type's range (ctypes would wrap it)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"invalid option {name} = {value!r}: it must be an int in [{lo}, {hi}]")
    return value


def _ms(seconds, name, unlimited, limit=None):
    """Seconds as ms for C: None is ``unlimited``; above ``limit`` ms (a
    bound the library refuses to exceed) is an error, else ms saturate."""
    if seconds is None:
        return unlimited
    if seconds < 0:
        raise InvalidArgument(f"invalid option {name} = {seconds}: it must be >= 0")
    ms = int(round(seconds * 1000))
    if limit is not None and ms > limit:
        raise InvalidArgument(f"invalid option {name} = {seconds}: SQLite takes at most {limit / 1000} s")
    return min(ms, unlimited)


_FAIRNESS = {"strict": 0, "bounded": 1, "barging": 2}


class Pool:
    """A pool of SQLite connections to one database file.

    The defaults are those of nuPlan's SessionManager (SQLAlchemy QueuePool):
    ``pool_size`` connections kept open, ``max_overflow`` more allowed (-1: no
    limit), checkout waits up to ``timeout`` seconds (None: forever),
    ``pre_ping`` replaces connections whose file was replaced or that broke,
    ``recycle`` replaces connections older than that many seconds (None or
    -1: never). ``read_only`` opens read-only (and turns on
    ``read_snapshot``: one read transaction per checkout);
    ``snapshot_linger`` (seconds, at most 60, default 0) keeps that read
    transaction open across checkouts of a connection for up to that long
    after it began, so back-to-back reads take SQLite's file locks once (on
    rollback-journal databases only: a writer cannot commit while it is
    open, so reads still see every earlier commit; writers wait for it,
    see the README); ``create``
    creates a missing file; ``init_sql`` runs on each new connection;
    ``busy_timeout`` (seconds) waits for another writer's lock;
    ``statement_cache_capacity`` statements are kept prepared per
    connection; ``lifo`` hands out the most recently returned connection;
    ``fairness`` says who gets a returned connection while threads wait:
    ``"bounded"`` (the default: whoever asks first while the oldest waiter
    has waited less than ``fairness_threshold`` seconds, default 0.002,
    growing with the queue; waiters in order after that), ``"strict"``
    (first come, first served) or ``"barging"`` (whoever asks first, no
    bound); ``fair=True``/``False`` (0.1's switch) select strict/barging.

    ``functions`` registers SQL functions on every connection the pool
    opens: an iterable of ``(name, n_args, fn)`` or ``(name, n_args, fn,
    deterministic)`` tuples, as for ``Connection.create_function`` (``fn``
    may run on several threads at once). With ``shared=True`` and
    ``functions``, each ``Pool(...)`` call gets a shared pool of its own: the
    registry shares a pool between equal options, and every call registers
    new functions.

    ``shared=True`` takes the process-wide shared pool for this file and
    these options (``sqlpool_open_shared``): one pool per file, however many
    times it is asked for, within the registry's connection budget
    (``configure_shared``); it closes when its last user closes it.
    """

    def __init__(
        self,
        path,
        *,
        pool_size=5,
        max_overflow=10,
        timeout=30.0,
        pre_ping=True,
        recycle=3600,
        read_only=False,
        create=False,
        init_sql=None,
        busy_timeout=5.0,
        statement_cache_capacity=32,
        read_snapshot=None,
        snapshot_linger=0.0,
        lifo=False,
        fair=None,
        fairness="bounded",
        fairness_threshold=None,
        shared=False,
        leak_threshold=None,
        on_event=None,
        logger=None,
        functions=(),
    ):
        path = os.fspath(path)
        if not isinstance(path, str):
            raise InvalidArgument("path must be a str or os.PathLike of str")
        self._options = dict(
            pool_size=pool_size,
            max_overflow=max_overflow,
            timeout=timeout,
            pre_ping=pre_ping,
            recycle=recycle,
            read_only=read_only,
            create=create,
            init_sql=init_sql,
            busy_timeout=busy_timeout,
            statement_cache_capacity=statement_cache_capacity,
            read_snapshot=read_snapshot,
            snapshot_linger=snapshot_linger,
            lifo=lifo,
            fair=fair,
            fairness=fairness,
            fairness_threshold=fairness_threshold,
            leak_threshold=leak_threshold,
            on_event=on_event,
            logger=logger,
            functions=tuple(tuple(f) for f in functions),
        )
        self.path = path
        self.shared = bool(shared)
        self._metas = {}
        _POOLS.add(self)
        self._handle = None
        opts = lib.sqlpool_options_new()
        if not opts:
            raise error_from(_ffi.SQLPOOL_INTERNAL)
        try:
            check(lib.sqlpool_options_set_pool_size(opts, _int(pool_size, "pool_size", 0, 2**31 - 1)))
            check(lib.sqlpool_options_set_max_overflow(opts, _int(max_overflow, "max_overflow", -(2**31), 2**31 - 1)))
            check(lib.sqlpool_options_set_timeout_ms(opts, _ms(timeout, "timeout", 2**64 - 1)))
            check(lib.sqlpool_options_set_pre_ping(opts, bool(pre_ping)))
            check(lib.sqlpool_options_set_recycle_ms(opts, -1 if recycle in (None, -1) else _ms(recycle, "recycle", 2**63 - 1)))
            check(lib.sqlpool_options_set_lifo(opts, bool(lifo)))
            if fairness not in _FAIRNESS:
                raise InvalidArgument(f"fairness must be one of {sorted(_FAIRNESS)}, not {fairness!r}")
            if fairness_threshold is not None and fairness_threshold < 0:
                raise InvalidArgument(f"invalid option fairness_threshold = {fairness_threshold}: it must be >= 0")
            threshold_us = 0 if fairness_threshold is None else min(int(round(fairness_threshold * 1e6)), 2**64 - 1)
            check(lib.sqlpool_options_set_fairness(opts, _FAIRNESS[fairness], threshold_us))
            if fair is not None:
                check(lib.sqlpool_options_set_fair(opts, bool(fair)))
            check(lib.sqlpool_options_set_read_only(opts, bool(read_only)))
            check(lib.sqlpool_options_set_create(opts, bool(create)))
            if init_sql is not None:
                check(lib.sqlpool_options_set_init_sql(opts, init_sql.encode("utf-8")))
            check(lib.sqlpool_options_set_busy_timeout_ms(opts, _ms(busy_timeout, "busy_timeout", 2**31 - 1, limit=2**31 - 1)))
            check(lib.sqlpool_options_set_statement_cache_capacity(
                opts, _int(statement_cache_capacity, "statement_cache_capacity", 0, 2**32 - 1)))
            if read_snapshot is not None:
                check(lib.sqlpool_options_set_read_snapshot(opts, bool(read_snapshot)))
            # The library refuses more than 60000 ms, naming the option.
            linger_ms = 0 if snapshot_linger is None else _ms(snapshot_linger, "snapshot_linger", 2**32 - 1)
            check(lib.sqlpool_options_set_snapshot_linger_ms(opts, linger_ms))
            if leak_threshold is not None:
                check(lib.sqlpool_options_set_leak_threshold_ms(opts, _ms(leak_threshold, "leak_threshold", 2**63 - 1)))
            if on_event is not None:
                check(lib.sqlpool_options_set_event_callback(opts, _event_callback(on_event), None))
            if logger is not None or leak_threshold is not None:
                log = logger if isinstance(logger, logging.Logger) else logging.getLogger("sqlpool")
                check(lib.sqlpool_options_set_log_callback(opts, _log_callback(log), None))
            for function in self._options["functions"]:
                if len(function) not in (3, 4):
                    raise InvalidArgument(
                        f"functions: {function!r} must be (name, n_args, fn) or (name, n_args, fn, deterministic)")
                _functions.register(lib.sqlpool_options_add_function, opts, *function)
            out = c_void_p()
            opener = lib.sqlpool_open_shared if shared else lib.sqlpool_open
            check(opener(path.encode("utf-8"), opts, byref(out)))
        finally:
            lib.sqlpool_options_free(opts)
        self._handle = out.value
        self._finalizer = weakref.finalize(self, _close_pool, self._handle)

    # -- checkout

    def connection(self):
        """Checks a connection out (waiting up to ``timeout``); use it as a
        context manager, which checks it back in on exit, also on an
        exception."""
        buf = _buffer()
        out = buf.handle
        rc = _sqlpool_checkout(self._handle, out)
        if rc != _OK:
            raise error_from(rc)
        return Connection(self, out.value)

    connect = connection

    def _meta(self, sql):
        meta = self._metas.get(sql)
        if meta is None:
            with self.connection() as conn:
                meta = conn._meta(sql)
        return meta

    def _pool_query(self, meta, packed, max_rows):
        """sqlpool_pool_query: (rc, rows) with the rows decoded, the buffer
        grown until the first row fits."""
        refreshes = 0
        while True:
            buf = _buffer()
            rc = _sqlpool_pool_query(
                self._handle, meta.sql, meta.sql_len, packed, len(packed), buf.arr, buf.size, max_rows,
                buf.rows, buf.used,
            )
            if rc == _ROW and buf.rows.value == 0:
                # Not even the first row fitted: the statement reads, so
                # running it again with room for that row is safe.
                _grow(buf.used.value)
                continue
            if rc != _ROW and rc != _DONE:
                raise error_from(rc)
            if buf.rows.value and refreshes < _MAX_REFRESHES and _stale(buf.mv, meta):
                # The schema changed elsewhere (another process): reads may
                # run again, with the columns of the re-prepared statement
                # (a few times: the metadata may come from a connection that
                # has not seen the change yet).
                refreshes += 1
                _schema_changed()
                meta = self._meta(meta.text)
                continue
            return rc, _decode(buf.mv, buf.rows.value, meta.rowcls)

    def execute(self, sql, params=()):
        """Runs ``sql`` on a connection checked out for this call only and
        returns all its rows as a list."""
        meta = self._metas.get(sql) or self._meta(sql)
        packed = _pack(params, meta) if params else b""
        if meta.readonly:
            rc, rows = self._pool_query(meta, packed, 0)
            if rc == _DONE:
                return rows
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def execute_one(self, sql, params=()):
        """The one row ``sql`` returns, or None; MultipleRowsError (a
        RuntimeError) when it returns more than one. A read is one call into
        the library (checkout, query, checkin)."""
        meta = self._metas.get(sql) or self._meta(sql)
        packed = _pack(params, meta) if params else b""
        if meta.readonly:
            try:
                buf = _tls.buf
            except AttributeError:
                buf = _buffer()
            rc = _sqlpool_pool_query(
                self._handle, meta.sql, meta.sql_len, packed, len(packed), buf.arr, buf.size, 2,
                buf.rows, buf.used,
            )
            n = buf.rows.value
            if rc != _ROW and rc != _DONE:
                raise error_from(rc)
            if n == 0 and rc == _DONE:
                return None
            if n == 0 or _stale(buf.mv, meta):
                # The first row did not fit the buffer, or the columns
                # changed: again, with room and fresh metadata.
                rc, rows = self._pool_query(meta, packed, 2)
                n = len(rows)
                if rc == _DONE and n < 2:
                    return rows[0] if rows else None
            elif rc == _DONE and n == 1:
                return _decode(buf.mv, 1, meta.rowcls)[0]
        else:
            with self.connection() as conn:
                rows = conn.execute(sql, params).fetchmany(2)
            if len(rows) < 2:
                return rows[0] if rows else None
        # Two rows, or one and another that did not fit.
        raise MultipleRowsError("execute_one query returned multiple rows.")

    def execute_many(self, sql, params=()):
        """A generator of the rows of ``sql``. A read whose rows fit in one
        batch holds no connection while the rows are consumed; otherwise a
        connection is held until the generator is exhausted or closed."""
        meta = self._metas.get(sql) or self._meta(sql)
        if meta.readonly:
            packed = _pack(params, meta) if params else b""
            rc, rows = self._pool_query(meta, packed, 0)
            if rc == _DONE:
                yield from rows
                return
        with self.connection() as conn:
            yield from conn.execute(sql, params)

    # -- state

    def stats(self):
        """The pool's state and counters (struct sqlpool_stats) as a dict."""
        s = _ffi.Stats()
        check(lib.sqlpool_get_stats(self._handle, byref(s), ctypes.sizeof(s)))
        return {name: getattr(s, name) for name in _STATS_FIELDS}

    def status(self):
        """The state in SQLAlchemy's QueuePool.status() wording."""
        return _text(lib.sqlpool_status, self._handle)

    def prometheus(self):
        """The pool's metrics in the Prometheus text exposition format."""
        return _text(lib.sqlpool_metrics_prometheus, self._handle)

    def size(self):
        return self.stats()["pool_size"]

    def checkedin(self):
        return self.stats()["idle"]

    def checkedout(self):
        return self.stats()["checked_out"]

    def overflow(self):
        return self.stats()["overflow"]

    @property
    def options(self):
        """The options the pool was opened with, as keyword arguments."""
        return dict(self._options)

    def dispose(self):
        """Closes the idle connections; new ones open on demand."""
        check(lib.sqlpool_dispose(self._handle))

    @property
    def closed(self):
        finalizer = getattr(self, "_finalizer", None)
        return finalizer is None or not finalizer.alive

    def close(self):
        """Closes the pool (idempotent): idle connections now, checked-out
        ones at their checkin; later checkouts raise PoolClosed. A shared
        pool gives back this reference only."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None and finalizer.detach() is not None:
            check(lib.sqlpool_close(self._handle))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        # A pool is per process: unpickling (multiprocessing spawn, Ray)
        # opens an equal pool in the receiving process.
        return (_reopen, (self.path, self._options, self.shared))

    def __repr__(self):
        kind = "shared pool" if self.shared else "pool"
        state = "closed" if self.closed else "open"
        return f"<sqlpool.Pool {state} {kind} on {self.path!r}>"


def _reopen(path, options, shared):
    return Pool(path, shared=shared, **options)


__all__ = ["Pool", "Connection", "Result", "Row"]
