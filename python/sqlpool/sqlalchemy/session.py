"""nuPlan's SessionManager (nuplan/database/common/db.py) on one sqlpool pool
per process: one engine per process, one ORM Session per thread."""

import os
import threading
import weakref

from sqlalchemy import create_engine, exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, configure_mappers


class _SessionHolder:
    """Lives in a thread's local storage: when the thread ends, its storage
    is dropped and so is the holder, which closes the thread's session."""

    __slots__ = ("session", "__weakref__")

    def __init__(self, session):
        self.session = session
        weakref.finalize(self, session.close)


class SessionManager:
    """``engine``: one per process (a forked child makes its own);
    ``session``: one Session per thread per process, autoflush off, the same
    object on every call from that thread, closed when the thread ends
    (making it configures SQLAlchemy's mappers, as a first query would);
    ``pool``: the sqlpool.Pool behind the engine.

    ``db`` is a path or an SQLite URI (``file:...``); ``options`` are
    sqlpool.Pool's other keywords (read_only, init_sql for nuPlan's PRAGMAs,
    busy_timeout, ...). A session does not pin a physical connection between
    queries, so any number of threads with a session share
    ``pool_size + max_overflow`` connections.
    """

    def __init__(self, db, *, pool_size=5, max_overflow=10, pre_ping=True, recycle=3600.0, **options):
        self._db = os.fspath(db)
        self._init_kw = dict(pool_size=pool_size, max_overflow=max_overflow, pre_ping=pre_ping, recycle=recycle, **options)
        self._engine_kw = dict(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pre_ping,
            pool_recycle=-1 if recycle is None else recycle,
        )
        self._options = options
        self._lock = threading.Lock()
        self._pid = None
        self._engine = None
        self._local = threading.local()

    def __reduce__(self):
        # Sent to a worker (multiprocessing, Ray): the worker makes its own
        # engine and sessions from the same settings.
        return (_rebuild, (self._db, self._init_kw))

    def _url(self):
        database = self._db if self._db.startswith("file:") else os.path.abspath(self._db)
        return URL.create("sqlite+sqlpool", database=database), dict(self._options)

    @property
    def engine(self):
        """The process's engine; created on first use in each process."""
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    url, connect_args = self._url()
                    self._engine = create_engine(url, connect_args=connect_args, **self._engine_kw)
                    self._local = threading.local()  # the parent's sessions are not the child's
                    self._pid = pid
        return self._engine

    @property
    def session(self):
        """This thread's Session (autoflush off), bound to ``engine``."""
        engine = self.engine
        holder = getattr(self._local, "holder", None)
        if holder is None:
            # Mappers configured before the first query, not by it: a query
            # that configures them leaves SQLAlchemy's compiled-statement
            # cache an equal but not identical key, which every later run of
            # that statement then compares slowly (about 2% of a session.get).
            try:
                configure_mappers()
            except exc.SQLAlchemyError:
                pass  # raised again by the first query that uses the mapping, as it would be anyway
            holder = self._local.holder = _SessionHolder(Session(bind=engine, autoflush=False))
        return holder.session

    @property
    def pool(self):
        """The sqlpool.Pool behind the engine (stats(), status(), prometheus())."""
        return self.engine.pool.sqlpool

    def dispose(self):
        """Closes this thread's session and the engine's idle connections."""
        holder = getattr(self._local, "holder", None)
        if holder is not None:
            holder.session.close()
        if self._engine is not None and self._pid == os.getpid():
            self._engine.dispose()


def _rebuild(db, kw):
    return SessionManager(db, **kw)
