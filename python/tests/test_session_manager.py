"""The seed's six SessionManager tests, for sqlpool.sqlalchemy.SessionManager,
and the pool sharing they rely on (24 threads on a pool of 2 + 1, fork)."""

import gc
import multiprocessing
import os
import threading

import pytest

pytest.importorskip("sqlalchemy")

from sqla_helpers import nuplan_orm  # noqa: E402
from sqlalchemy import text  # noqa: E402

from sqlpool.sqlalchemy import SessionManager  # noqa: E402


@pytest.fixture
def db_path(nuplan_db):
    return nuplan_db


@pytest.fixture
def writable(tmp_path):
    path = str(tmp_path / "w.db")
    m = SessionManager(path, create=True)
    with m.engine.begin() as c:
        c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    m.dispose()
    return path


def _tokens(path, n=20):
    return nuplan_orm.lidar_pc_tokens(path, n)


def test_session_reused_within_a_thread(db_path):
    m = SessionManager(db_path, read_only=True)
    first = m.session
    m.session.get(nuplan_orm.LidarPc, _tokens(db_path, 1)[0])
    assert m.session is first
    assert m.engine is m.engine
    assert first.autoflush is False


def test_a_new_session_configures_the_mappers(db_path):
    # Configured by the first query instead, they leave the engine's statement
    # cache a key that later lookups compare slowly.
    from sqlalchemy import Column, Integer, inspect
    from sqlalchemy.orm import declarative_base

    class Fresh(declarative_base()):
        __tablename__ = "fresh"
        id = Column(Integer, primary_key=True)

    assert not inspect(Fresh).configured
    assert SessionManager(db_path, read_only=True).session is not None
    assert inspect(Fresh).configured


def test_a_broken_mapping_fails_its_queries_not_the_session(db_path):
    from sqlalchemy import Column, Integer, exc
    from sqlalchemy.orm import declarative_base, relationship

    base = declarative_base()

    class Broken(base):
        __tablename__ = "broken"
        id = Column(Integer, primary_key=True)
        missing = relationship("NoSuchClass")

    try:
        session = SessionManager(db_path, read_only=True).session
        assert session.execute(text("SELECT 1")).scalar() == 1
        with pytest.raises(exc.InvalidRequestError, match="NoSuchClass"):
            session.get(Broken, 1)
    finally:
        base.registry.dispose()  # the process's other mappers configure again


def test_separate_sessions_across_threads(db_path):
    m = SessionManager(db_path, read_only=True)
    sessions = []
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()  # all alive at once: a dead thread's id could be reused
        sessions.append(m.session)
        assert m.session is sessions[-1]
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in sessions}) == 4
    assert m.session not in sessions
    assert all(s.get_bind() is m.engine for s in sessions)


def test_no_connection_created_per_query(db_path):
    m = SessionManager(db_path, read_only=True)
    tokens = _tokens(db_path)
    m.session.get(nuplan_orm.LidarPc, tokens[0])
    created = m.pool.stats()["connections_created"]
    for token in tokens * 5:
        m.session.expunge_all()
        assert m.session.get(nuplan_orm.LidarPc, token).token == token
    stats = m.pool.stats()
    assert stats["connections_created"] == created
    assert stats["checkouts"] >= len(tokens) * 5


def test_pool_configuration(db_path):
    m = SessionManager(db_path, read_only=True)
    options = m.pool.options
    assert (options["pool_size"], options["max_overflow"], options["pre_ping"], options["recycle"]) == (
        5, 10, True, 3600.0)
    assert m.engine.pool.status() == m.pool.status()
    assert m.pool.status().startswith("Pool size: 5 ")
    # Pre-ping and recycle are sqlpool's, not done a second time by SQLAlchemy.
    assert m.engine.pool._pre_ping is False and m.engine.pool._recycle == -1
    custom = SessionManager(db_path, pool_size=2, max_overflow=1, pre_ping=False, recycle=None, read_only=True)
    o = custom.pool.options
    assert (o["pool_size"], o["max_overflow"], o["pre_ping"], o["recycle"]) == (2, 1, False, None)


def test_reuse_across_many_queries(db_path):
    m = SessionManager(db_path, read_only=True)
    tokens = _tokens(db_path)
    lidar_pc = nuplan_orm.Table(nuplan_orm.LidarPc, m)
    for _ in range(10):
        for token in tokens:
            assert len(lidar_pc.get(token).lidar_boxes) > 0
    stats = m.pool.stats()
    assert stats["connections_created"] == 1  # one thread, one statement at a time
    assert stats["checked_out"] == 0  # a session holds none between queries


def test_cleanup_on_thread_exit(writable):
    m = SessionManager(writable)
    held = []

    def work():
        s = m.session
        s.execute(text("INSERT INTO t (v) VALUES ('uncommitted')"))
        assert m.pool.stats()["checked_out"] == 1  # the open transaction holds one
        held.append(s)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    del t
    gc.collect()
    assert m.pool.stats()["checked_out"] == 0
    assert not held[0].in_transaction()
    with m.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 0  # rolled back


def test_24_threads_with_a_session_each_on_a_pool_of_2_plus_1(db_path):
    m = SessionManager(db_path, pool_size=2, max_overflow=1, read_only=True)
    tokens = _tokens(db_path)
    errors = []
    barrier = threading.Barrier(24)
    expected = {t: nuplan_orm.row_of(m.session.get(nuplan_orm.LidarPc, t)) for t in tokens}

    def work():
        try:
            s = m.session
            barrier.wait()
            for token in tokens:
                pc = s.get(nuplan_orm.LidarPc, token)
                assert nuplan_orm.row_of(pc) == expected[token]
                assert len(pc.lidar_boxes) > 0
            barrier.wait()  # every thread still holds its session here
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = m.pool.stats()
    assert (stats["pool_size"], stats["max_overflow"], stats["checked_out"], stats["timeouts"]) == (2, 1, 0, 0)
    assert stats["idle"] <= 2


def _child_engine(m, token, queue):
    queue.put((os.getpid(), id(m.engine), m.session.get(nuplan_orm.LidarPc, token).token))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_forked_child_gets_its_own_engine(db_path):
    m = SessionManager(db_path, read_only=True)
    token = _tokens(db_path, 1)[0]
    assert m.session.get(nuplan_orm.LidarPc, token).token == token
    parent_engine = m.engine
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_child_engine, args=(m, token, queue))
    p.start()
    pid, engine_id, got = queue.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert pid != os.getpid() and got == token
    assert m.engine is parent_engine


def test_an_sqlite_uri(db_path):
    m = SessionManager(f"file:{db_path}?mode=ro", pre_ping=False)
    token = _tokens(db_path, 1)[0]
    assert m.session.get(nuplan_orm.LidarPc, token).token == token
    assert m.pool.path == f"file:{db_path}?mode=ro"
