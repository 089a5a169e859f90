"""The SQLAlchemy pool of the ``sqlite+sqlpool`` dialect: it pools nothing
itself. sqlpool bounds the physical connections (pool_size, max_overflow,
timeout, pre-ping, recycle, lifo); a DB-API connection holds one only while
a statement or a transaction needs it, so this pool just keeps the cheap
DB-API connection objects for reuse, with no limit, no pre-ping and no
recycling of its own."""

import collections

from sqlalchemy import pool as sa_pool

# create_engine's pool keywords (as this class's __init__ receives them) ->
# sqlpool.Pool's keywords.
_SQLPOOL_NAMES = {
    "pool_size": "pool_size",
    "max_overflow": "max_overflow",
    "timeout": "timeout",
    "recycle": "recycle",
    "pre_ping": "pre_ping",
    "use_lifo": "lifo",
}


class SQLPoolPool(sa_pool.Pool):
    """Checkout and checkin are sqlpool's; ``status()`` is sqlpool's text."""

    def __init__(
        self,
        creator,
        pool_size=None,
        max_overflow=None,
        timeout=None,
        use_lifo=None,
        recycle=None,
        pre_ping=None,
        **kw,
    ):
        given = dict(
            pool_size=pool_size, max_overflow=max_overflow, timeout=timeout, use_lifo=use_lifo,
            recycle=recycle, pre_ping=pre_ping,
        )
        self._given = given
        self._sqlpool_options = {
            _SQLPOOL_NAMES[k]: v for k, v in given.items() if v is not None
        }
        if self._sqlpool_options.get("recycle") == -1:
            self._sqlpool_options["recycle"] = None
        # Pre-ping and recycling happen once, in sqlpool: not here as well.
        super().__init__(creator, recycle=-1, pre_ping=False, **kw)
        dialect = kw.get("dialect")
        if hasattr(dialect, "_sqlpool_pool_options"):
            dialect._sqlpool_pool_options = dict(self._sqlpool_options)
        self._idle = collections.deque()
        self._sqlpool = None

    def _do_get(self):
        idle = self._idle
        if idle:
            try:
                return idle.pop()
            except IndexError:  # another thread took the last one
                pass
        record = self._create_connection()
        if self._sqlpool is None:
            dbapi_conn = getattr(record, "dbapi_connection", None) or record.connection
            self._sqlpool = getattr(dbapi_conn, "pool", None)
        return record

    def _do_return_conn(self, record):
        self._idle.append(record)

    @property
    def sqlpool(self):
        """The sqlpool.Pool behind this pool (connects once to learn it)."""
        if self._sqlpool is None:
            self.connect().close()
        return self._sqlpool

    def dispose(self):
        """Closes the idle DB-API connections and sqlpool's idle physical ones."""
        while True:
            try:
                record = self._idle.pop()
            except IndexError:
                break
            record.close()
        if self._sqlpool is not None and not self._sqlpool.closed:
            self._sqlpool.dispose()

    def recreate(self):
        self.logger.info("Pool recreating")
        return self.__class__(
            self._creator,
            echo=self.echo,
            logging_name=self._orig_logging_name,
            reset_on_return=self._reset_on_return,
            _dispatch=self.dispatch,
            dialect=self._dialect,
            **self._given,
        )

    def status(self):
        return self.sqlpool.status()

    def size(self):
        return self.sqlpool.size()

    def checkedin(self):
        return self.sqlpool.checkedin()

    def checkedout(self):
        return self.sqlpool.checkedout()

    def overflow(self):
        return self.sqlpool.overflow()

    def timeout(self):
        return self.sqlpool.options["timeout"]
