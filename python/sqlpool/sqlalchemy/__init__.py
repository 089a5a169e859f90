"""SQLAlchemy on sqlpool: the ``sqlite+sqlpool`` dialect, the SQLAlchemy pool
that delegates to sqlpool, and nuPlan's SessionManager.

    from sqlpool.sqlalchemy import SessionManager
    db = SessionManager("log.db", read_only=True)
    lidar_pc = db.session.get(LidarPc, token)

Importing this package registers the dialect (pip installs also register it
through the ``sqlalchemy.dialects`` entry point), so
``create_engine("sqlite+sqlpool:///log.db")`` works either way.
"""

from sqlalchemy.dialects import registry as _registry

from .dialect import SQLPoolDialect
from .pool import SQLPoolPool
from .session import SessionManager

_registry.register("sqlite.sqlpool", "sqlpool.sqlalchemy.dialect", "SQLPoolDialect")

__all__ = ["SessionManager", "SQLPoolDialect", "SQLPoolPool"]
