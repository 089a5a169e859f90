"""sqlpool: pooled SQLite connections for Python, over the libsqlpool C API.

    import sqlpool

    with sqlpool.Pool("log.db", read_only=True) as pool:
        with pool.connection() as conn:
            row = conn.execute("SELECT timestamp FROM lidar_pc WHERE token = ?", (token,)).fetchone()
            print(row["timestamp"], pool.status())

Drop-ins for nuPlan's query_session helpers: ``sqlpool.execute_one(query,
params, db_file)`` and ``sqlpool.execute_many(query, params, db_file)``.
"""

from ._ffi import library_path, library_version
from ._core import Connection, Pool, Result, Row
from .dropin import (
    close_shared,
    configure_shared,
    execute_many,
    execute_one,
    shared_pool,
    shared_stats,
    sweep_shared,
)
from .errors import (
    CantOpen,
    InternalError,
    InvalidArgument,
    Misuse,
    MultipleRowsError,
    OperationalError,
    PoolClosed,
    PoolTimeout,
    SqlpoolError,
)

__version__ = "0.2.0"

__all__ = [
    "Pool",
    "Connection",
    "Result",
    "Row",
    "execute_one",
    "execute_many",
    "shared_pool",
    "configure_shared",
    "sweep_shared",
    "shared_stats",
    "close_shared",
    "SqlpoolError",
    "OperationalError",
    "Misuse",
    "InvalidArgument",
    "PoolTimeout",
    "PoolClosed",
    "CantOpen",
    "InternalError",
    "MultipleRowsError",
    "library_path",
    "library_version",
]
