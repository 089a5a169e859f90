"""The sqlite+sqlpool dialect: URL parameters and create_engine's pool
keywords reach sqlpool, SQLAlchemy's pool delegates to it, errors arrive as
sqlalchemy.exc.*."""

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, exc, text  # noqa: E402

import sqlpool.sqlalchemy  # noqa: E402,F401  (registers the dialect)
from sqlpool import dbapi2  # noqa: E402
from sqlpool.sqlalchemy import SQLPoolDialect, SQLPoolPool  # noqa: E402


@pytest.fixture
def path(tmp_path):
    p = str(tmp_path / "e.db")
    e = create_engine(f"sqlite+sqlpool:///{p}")
    with e.begin() as c:
        c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        c.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
    e.dispose()
    return p


def test_dialect_and_pool_classes(path):
    e = create_engine(f"sqlite+sqlpool:///{path}")
    assert isinstance(e.dialect, SQLPoolDialect) and isinstance(e.pool, SQLPoolPool)
    assert e.dialect.dbapi is dbapi2 and e.dialect.driver == "sqlpool" and e.name == "sqlite"
    with e.connect() as c:
        assert c.execute(text("SELECT v FROM t ORDER BY id")).scalars().all() == ["a", "b"]
        assert c.execute(text("SELECT 'abc' REGEXP 'b'")).scalar() == 1
    assert e.dialect.server_version_info == dbapi2.sqlite_version_info


def test_url_parameters_are_pool_keywords(path):
    e = create_engine(f"sqlite+sqlpool:///{path}?read_only=true&pool_size=3&max_overflow=0"
                      "&busy_timeout=1.5&init_sql=PRAGMA%20cache_size%3D-1000")
    options = e.pool.sqlpool.options
    assert (options["read_only"], options["pool_size"], options["max_overflow"], options["busy_timeout"]) == (
        True, 3, 0, 1.5)
    assert options["init_sql"].endswith("PRAGMA cache_size=-1000")
    assert options["snapshot_linger"] == dbapi2.DEFAULT_SNAPSHOT_LINGER  # read-only: lingering reads
    lingering = create_engine(f"sqlite+sqlpool:///{path}?read_only=true&snapshot_linger=0.002")
    assert lingering.pool.sqlpool.options["snapshot_linger"] == 0.002
    with e.connect() as c:
        assert c.execute(text("PRAGMA cache_size")).scalar() == -1000
        with pytest.raises(exc.OperationalError):
            c.execute(text("INSERT INTO t (v) VALUES ('read only')"))
    with pytest.raises(exc.ArgumentError):
        create_engine(f"sqlite+sqlpool:///{path}?pool_size=many").connect()
    with pytest.raises(exc.ArgumentError):
        create_engine(f"sqlite+sqlpool:///{path}?no_such_option=1").connect()
    with pytest.raises(exc.ArgumentError):
        create_engine("sqlite+sqlpool://").connect()


def test_create_engine_pool_keywords_go_to_sqlpool(path):
    e = create_engine(f"sqlite+sqlpool:///{path}", pool_size=2, max_overflow=1, pool_timeout=4,
                      pool_recycle=60, pool_pre_ping=False, pool_use_lifo=True)
    options = e.pool.sqlpool.options
    assert {k: options[k] for k in ("pool_size", "max_overflow", "timeout", "recycle", "pre_ping", "lifo")} == dict(
        pool_size=2, max_overflow=1, timeout=4, recycle=60, pre_ping=False, lifo=True)
    # SQLAlchemy's own pre-ping and recycle stay off: sqlpool does them once.
    assert e.pool._pre_ping is False and e.pool._recycle == -1
    assert e.pool.status() == e.pool.sqlpool.status()
    assert e.pool.status().startswith("Pool size: 2 ")


def test_sqlalchemy_does_not_pool_on_top(path):
    e = create_engine(f"sqlite+sqlpool:///{path}", pool_size=1, max_overflow=0, pool_timeout=0.3)
    # Ten SQLAlchemy connections open at once on a pool of one: each holds a
    # physical connection only while its statement runs.
    conns = [e.connect() for _ in range(10)]
    for c in conns:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 2
    assert e.pool.checkedout() == 0
    for c in conns:
        c.close()
    # A transaction holds it: another writer times out as sqlpool's pool does.
    with e.connect() as a:
        transaction = a.begin()
        a.execute(text("INSERT INTO t (v) VALUES ('x')"))
        assert e.pool.checkedout() == 1
        with e.connect() as b:
            with pytest.raises(exc.OperationalError) as info:
                b.execute(text("INSERT INTO t (v) VALUES ('y')"))
            assert isinstance(info.value.orig, dbapi2.OperationalError)
        transaction.rollback()
    assert e.pool.checkedout() == 0


def test_errors_are_sqlalchemy_exceptions(path):
    e = create_engine(f"sqlite+sqlpool:///{path}")
    with e.connect() as c:
        with pytest.raises(exc.IntegrityError) as info:
            c.execute(text("INSERT INTO t (id, v) VALUES (1, 'dup')"))
        assert isinstance(info.value.orig, dbapi2.IntegrityError)
    with e.connect() as c:
        with pytest.raises(exc.OperationalError):
            c.execute(text("SELECT * FROM missing"))


def test_dispose_and_recreate(path):
    e = create_engine(f"sqlite+sqlpool:///{path}", pool_size=2)
    with e.connect() as c:
        c.execute(text("SELECT 1"))
    assert e.pool.sqlpool.stats()["idle"] >= 1
    sqlpool_pool = e.pool.sqlpool
    e.dispose()
    assert sqlpool_pool.stats()["idle"] == 0
    assert isinstance(e.pool, SQLPoolPool)
    with e.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 2
    assert e.pool.sqlpool.options["pool_size"] == 2


def test_dialect_rows_are_plain_tuples(path):
    # SQLAlchemy indexes DB-API rows by position; a plain tuple (as pysqlite
    # gives) does that in C, sqlpool.Row in Python.
    e = create_engine(f"sqlite+sqlpool:///{path}")
    raw = e.raw_connection()
    try:
        cur = raw.cursor()
        for _ in range(2):  # the first read learns the statement, the second takes the one-call path
            row = cur.execute("SELECT id, v FROM t WHERE id = ?", (1,)).fetchone()
            assert type(row) is tuple and row == (1, "a")
        cur.execute("INSERT INTO t (v) VALUES ('c')")  # a transaction: later reads run on the held connection
        assert [type(r) for r in cur.execute("SELECT id FROM t").fetchall()] == [tuple] * 3
        cur.execute("SELECT id FROM t ORDER BY id")
        assert type(cur.fetchone()) is tuple and [type(r) for r in cur.fetchall()] == [tuple] * 2
        raw.rollback()
    finally:
        raw.close()
    with e.connect() as c:
        assert c.execute(text("SELECT v FROM t WHERE id = :id"), {"id": 2}).one().v == "b"


def test_blobs_need_no_result_processor(path):
    # BLOBs arrive as bytes: SQLAlchemy 1.4 would otherwise call bytes() on
    # each one (2.x skips it for pysqlite too).
    from sqlalchemy import BLOB, Column, Integer, LargeBinary, MetaData, PickleType, Table, insert, select

    e = create_engine(f"sqlite+sqlpool:///{path}")
    assert e.dialect.type_descriptor(LargeBinary()).result_processor(e.dialect, None) is None
    t = Table("blobs", MetaData(), Column("id", Integer, primary_key=True), Column("b", LargeBinary),
              Column("c", BLOB), Column("p", PickleType))
    t.create(e)
    with e.begin() as c:
        c.execute(insert(t), [{"id": 1, "b": b"\x00\x01", "c": bytearray(b"xy"), "p": {"a": [1, 2]}},
                              {"id": 2, "b": None, "c": None, "p": None}])
    with e.connect() as c:
        rows = c.execute(select(t).order_by(t.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, b"\x00\x01", b"xy", {"a": [1, 2]}), (2, None, None, None)]
    assert type(rows[0].b) is bytes and type(rows[0].c) is bytes


def test_a_do_connect_connection_makes_its_own_cursors(path):
    from sqlalchemy import event

    made = []

    class Counting(dbapi2.Connection):
        def cursor(self, factory=None):
            made.append(1)
            return super().cursor(factory)

    e = create_engine(f"sqlite+sqlpool:///{path}")

    @event.listens_for(e, "do_connect")
    def connect(dialect, record, cargs, cparams):
        conn = dbapi2.connect(*cargs, **cparams)
        return Counting(conn.pool, conn.isolation_level)

    with e.connect() as c:
        made.clear()  # connecting makes cursors of its own (the dialect's first queries)
        assert c.execute(text("SELECT v FROM t WHERE id = 1")).scalar() == "a"
        assert made == [1]


def test_orm_transactions(path):
    from sqlalchemy.orm import Session

    e = create_engine(f"sqlite+sqlpool:///{path}")
    with Session(e) as s:
        s.execute(text("INSERT INTO t (v) VALUES ('c')"))
        s.commit()
        s.execute(text("DELETE FROM t"))
        s.rollback()
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 3
    with e.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("INSERT INTO t (v) VALUES ('d')"))
        assert e.pool.checkedout() == 0


def _count_in_child(engine, queue):
    with engine.connect() as c:
        queue.put(c.execute(text("SELECT count(*) FROM t")).scalar())


def test_a_parents_engine_works_in_a_forked_child(path):
    import multiprocessing
    import os

    if not hasattr(os, "fork"):
        pytest.skip("fork only")
    e = create_engine(f"sqlite+sqlpool:///{path}")
    with e.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 2  # idle DB-API connections exist
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_count_in_child, args=(e, queue))
    p.start()
    assert queue.get(timeout=60) == 2
    p.join(60)
    assert p.exitcode == 0
