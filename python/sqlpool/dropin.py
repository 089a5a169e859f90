"""Drop-ins for code that opens a connection per query, with the signatures
and behaviour of nuPlan's ``nuplan.database.nuplan_db.query_session``
helpers, backed by the process-wide registry of shared pools (one pool per
canonical database file, in the library's core: C and C++ callers in the same
process share it too).

    from sqlpool import execute_one, execute_many   # instead of query_session's

A missing ``db_file`` raises CantOpen instead of creating an empty file.
"""

import threading
from ctypes import byref, c_uint32, sizeof

from . import _ffi
from ._core import Pool
from .errors import InvalidArgument, PoolClosed, check

# The options of the drop-in pools: nuPlan's per-query connections are
# unbounded, so no overflow limit here either; the registry's budget
# (configure_shared) is what bounds a process.
DROPIN_OPTIONS = dict(max_overflow=-1)

_pools = {}
_lock = threading.Lock()


def shared_pool(db_file, **options):
    """The process's shared Pool for ``db_file`` (a path or an SQLite URI) and
    these Pool options; one per canonical file and options. The drop-ins
    use ``shared_pool(db_file)``. The Pool object is cached per (db_file,
    options) in this process; ``close_shared()`` closes them all."""
    opts = dict(DROPIN_OPTIONS)
    opts.update(options)
    key = (db_file, tuple(sorted(opts.items())))
    pool = _pools.get(key)
    if pool is None or pool.closed:
        with _lock:
            pool = _pools.get(key)
            if pool is None or pool.closed:
                pool = _pools[key] = Pool(db_file, shared=True, **opts)
    return pool


# db_file -> the drop-ins' Pool, without the options in the key (the fast path).
_dropin_pools = {}


def _dropin_pool(db_file):
    pool = _dropin_pools.get(db_file)
    if pool is None or pool.closed:
        pool = _dropin_pools[db_file] = shared_pool(db_file)
    return pool


def execute_one(query_text, query_parameters, db_file):
    """Runs a query with the provided arguments on a specified SQLite DB file
    and validates that it returns at most one row.

    :return: the row (a ``sqlpool.Row``: index and column-name access, like
        ``sqlite3.Row``), or None. Raises MultipleRowsError, a RuntimeError,
        when the query returns more than one row.
    """
    pool = _dropin_pools.get(db_file) or _dropin_pool(db_file)
    try:
        return pool.execute_one(query_text, query_parameters)
    except PoolClosed:
        # Someone closed the shared Pool object: take it again.
        return _dropin_pool(db_file).execute_one(query_text, query_parameters)


def execute_many(query_text, query_parameters, db_file):
    """Runs a query with the provided arguments on a specified SQLite DB file;
    a generator of the rows it returns (the query runs at the first
    ``next()``, as with nuPlan's helper)."""
    return _dropin_pool(db_file).execute_many(query_text, query_parameters)


def configure_shared(max_connections=0, idle_timeout=60.0):
    """Limits of the process-wide registry of shared pools (and so of the
    drop-ins): at most ``max_connections`` connections open across all shared
    pools (0: no limit), and the idle connections of a pool not used for
    ``idle_timeout`` seconds (None: never) are closed by the background sweep
    (every second), ``sweep_shared()``, or the next ``shared_pool`` of a new
    file (which sweeps at most once per 50 ms)."""
    if max_connections < 0:
        raise InvalidArgument("max_connections must be >= 0 (0: no limit)")
    if idle_timeout is None:
        ms = -1
    elif idle_timeout < 0:
        raise InvalidArgument("idle_timeout must be >= 0 seconds, or None")
    else:
        ms = int(round(idle_timeout * 1000))
    check(_ffi.lib.sqlpool_shared_set_limits(max_connections, ms))


def sweep_shared():
    """Closes now the idle connections of shared pools not used for the idle
    timeout; returns how many pools it disposed."""
    n = c_uint32()
    check(_ffi.lib.sqlpool_shared_sweep(byref(n)))
    return n.value


_SHARED_FIELDS = [name for name, _ in _ffi.SharedStats._fields_ if not name.startswith("_")]


def shared_stats():
    """The registry's limits and counters (struct sqlpool_shared_stats) as a dict."""
    s = _ffi.SharedStats()
    check(_ffi.lib.sqlpool_shared_get_stats(byref(s), sizeof(s)))
    return {name: getattr(s, name) for name in _SHARED_FIELDS}


def close_shared():
    """Closes this process's references to its shared pools (the drop-ins'
    included); they reopen on next use."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
        _dropin_pools.clear()
    for pool in pools:
        pool.close()
