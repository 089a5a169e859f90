"""sqlpool.dbapi2 beyond PEP 249's suite: when a physical connection is
held, sqlite3's legacy transactions, rowcount/lastrowid/description, the
error classes, functions, and sqlite3 parity where a user would notice."""

import datetime
import sqlite3
import threading

import pytest

from sqlpool import dbapi2


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "d.db")


@pytest.fixture
def conn(path):
    c = dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=5)
    c.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(10), data BLOB, n REAL);"
                    "INSERT INTO t (name, n) VALUES ('a', 1.5), ('b', 2.5), ('c', 3.5);")
    yield c
    c.close()


def held(c):
    return c._conn is not None


def test_module_globals():
    assert (dbapi2.apilevel, dbapi2.threadsafety, dbapi2.paramstyle) == ("2.0", 1, "qmark")
    assert dbapi2.sqlite_version_info >= (3, 35, 0)
    assert dbapi2.sqlite_version == ".".join(map(str, dbapi2.sqlite_version_info))
    for name in ("InterfaceError", "DatabaseError"):
        assert issubclass(getattr(dbapi2, name), dbapi2.Error)
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
                 "NotSupportedError"):
        assert issubclass(getattr(dbapi2, name), dbapi2.DatabaseError)


def test_a_read_outside_a_transaction_holds_no_connection(conn):
    cur = conn.execute("SELECT name FROM t ORDER BY id")
    assert not held(conn)  # the rows fitted one batch
    assert cur.fetchall() == [("a",), ("b",), ("c",)]
    assert conn.pool.stats()["checked_out"] == 0


def test_a_long_read_holds_until_exhausted_or_closed(conn):
    conn.executemany("INSERT INTO t (name) VALUES (?)", [("x" * 1000,)] * 200)
    conn.commit()
    assert not held(conn)
    cur = conn.execute("SELECT name FROM t")
    assert held(conn)  # 200 KB do not fit one batch
    rows = cur.fetchmany(10)
    assert len(rows) == 10 and held(conn)
    rest = cur.fetchall()
    assert len(rows) + len(rest) == 203 and not held(conn)
    cur = conn.execute("SELECT name FROM t")
    assert held(conn)
    cur.close()
    assert not held(conn)


def test_many_connections_share_a_small_pool(path, conn):
    conns = [dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=5) for _ in range(20)]
    cursors = [c.cursor() for c in conns]
    for cur in cursors:
        assert cur.execute("SELECT count(*) FROM t").fetchone() == (3,)
    assert conn.pool.stats()["checked_out"] == 0
    for c in conns:
        c.close()


def test_implicit_begin_before_dml_and_commit(path, conn):
    conn.execute("INSERT INTO t (name) VALUES ('d')")
    assert conn.in_transaction and held(conn)
    other = dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=5)
    assert other.execute("SELECT count(*) FROM t").fetchone() == (3,)  # not yet committed
    conn.commit()
    assert not conn.in_transaction and not held(conn)
    assert other.execute("SELECT count(*) FROM t").fetchone() == (4,)
    conn.commit()  # nothing open: nothing happens
    conn.rollback()


def test_rollback_and_select_does_not_begin(conn):
    conn.execute("SELECT * FROM t")
    assert not conn.in_transaction
    conn.execute("DELETE FROM t")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_autocommit_isolation_level_none(path, conn):
    conn.isolation_level = None
    conn.execute("INSERT INTO t (name) VALUES ('e')")
    assert not conn.in_transaction and not held(conn)
    conn.execute("BEGIN")
    assert conn.in_transaction and held(conn)
    conn.execute("DELETE FROM t")
    conn.execute("ROLLBACK")
    assert not held(conn)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (4,)
    with pytest.raises(ValueError):
        conn.isolation_level = "SOMETIMES"


def test_setting_autocommit_commits(conn):
    conn.execute("DELETE FROM t WHERE id = 1")
    conn.isolation_level = None
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_context_manager_commits_or_rolls_back(conn):
    with conn:
        conn.execute("DELETE FROM t WHERE id = 1")
    with pytest.raises(ZeroDivisionError):
        with conn:
            conn.execute("DELETE FROM t")
            1 / 0
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_close_rolls_back_and_is_idempotent(path, conn):
    conn.execute("DELETE FROM t")
    conn.close()
    conn.close()
    with pytest.raises(dbapi2.ProgrammingError):
        conn.cursor()
    assert dbapi2.connect(path).execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_rowcount_lastrowid_description(conn):
    cur = conn.execute("UPDATE t SET n = n + 1 WHERE id < 3")
    assert cur.rowcount == 2 and cur.description is None
    cur.execute("INSERT INTO t (name) VALUES ('z')")
    assert cur.rowcount == 1 and cur.lastrowid == 4
    cur.execute("SELECT id, name, data, n, n * 2 AS twice FROM t")
    assert cur.rowcount == -1
    assert [d[:2] for d in cur.description] == [
        ("id", "INTEGER"), ("name", "VARCHAR(10)"), ("data", "BLOB"), ("n", "REAL"), ("twice", None)]
    assert cur.description[1][1] == dbapi2.STRING and cur.description[0][1] == dbapi2.NUMBER
    assert cur.description[2][1] == dbapi2.BINARY and cur.description[1][1] != dbapi2.NUMBER
    cur.executemany("DELETE FROM t WHERE id = ?", [(1,), (2,), (99,)])
    assert cur.rowcount == 2
    with pytest.raises(dbapi2.ProgrammingError):
        cur.executemany("SELECT 1", [()])


def test_parameters_and_types(conn):
    cur = conn.cursor()
    cur.execute("INSERT INTO t (name, data) VALUES (:name, :data)", {"name": "blob", "data": dbapi2.Binary(b"\x00\x01")})
    cur.execute("INSERT INTO t (name, data) VALUES (?, ?)", ("ba", bytearray(b"\x02")))
    cur.execute("SELECT data FROM t WHERE name IN ('blob', 'ba') ORDER BY id")
    assert cur.fetchall() == [(b"\x00\x01",), (b"\x02",)]
    for _ in range(2):  # learns the statement, then the one-call path packs the key
        cur.execute("SELECT name FROM t WHERE data = ?", (dbapi2.Binary(b"\x00\x01"),))
        assert cur.fetchall() == [("blob",)]
    when = datetime.datetime(2021, 8, 30, 14, 54, 34)
    cur.execute("SELECT ?, ?", (when, when.date()))
    assert cur.fetchone() == ("2021-08-30 14:54:34", "2021-08-30")  # sqlite3's default adapters
    with pytest.raises(dbapi2.ProgrammingError):
        cur.execute("SELECT ?", (1, 2))
    with pytest.raises(dbapi2.ProgrammingError):
        cur.execute("SELECT ?", (object(),))


def test_errors_map_like_sqlite3(conn, tmp_path):
    with pytest.raises(dbapi2.OperationalError):
        conn.execute("SELECT * FROM missing")
    with pytest.raises(dbapi2.OperationalError):
        conn.execute("SELEKT 1")
    with pytest.raises(dbapi2.OperationalError):
        dbapi2.connect(str(tmp_path / "nope.db"), create=False)
    assert not held(conn)  # a failed statement outside a transaction gave it back
    with pytest.raises(dbapi2.IntegrityError) as info:
        conn.execute("INSERT INTO t (id) VALUES (1)")
    assert info.value.sqlite_errorcode == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
    assert conn.in_transaction  # as in sqlite3: the implicit BEGIN stays open
    conn.rollback()
    assert not held(conn)


def test_foreign_keys_off_unless_asked(path, conn):
    conn.executescript("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                       "CREATE TABLE ch (p_id INTEGER REFERENCES p(id));")
    conn.execute("INSERT INTO ch VALUES (42)")  # sqlite3 accepts it too
    conn.commit()
    strict = dbapi2.connect(path, init_sql="PRAGMA foreign_keys = ON")
    with pytest.raises(dbapi2.IntegrityError):
        strict.execute("INSERT INTO ch VALUES (43)")


def test_create_function_reaches_every_connection(path, conn):
    conn.create_function("twice", 1, lambda x: x * 2, deterministic=True)
    conns = [dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=5) for _ in range(2)]
    # Two statements held at once: both physical connections run it.
    a = conns[0].execute("SELECT twice(t.id), zeroblob(1000) FROM t, (SELECT 1 UNION SELECT 2) x, t AS t2, t AS t3, t AS t4")
    assert held(conns[0])  # 162 KB of rows: more than one batch
    b = conns[1].execute("SELECT twice(n) FROM t ORDER BY id")
    assert conn.pool.stats()["checked_out"] == 1 and held(conns[0])
    assert b.fetchall() == [(3.0,), (5.0,), (7.0,)]
    assert len(a.fetchall()) == 3 * 2 * 27
    conn.create_function("twice", 1, lambda x: x * 3)  # a replacement reaches them all
    assert conns[0].execute("SELECT twice(2)").fetchone() == (6,)
    assert conns[1].execute("SELECT twice(2)").fetchone() == (6,)


def test_session_state_pins_the_connection(path, tmp_path, conn):
    other = str(tmp_path / "other.db")
    sqlite3.connect(other).executescript("CREATE TABLE o (x); INSERT INTO o VALUES (7);")
    conn.execute(f"ATTACH DATABASE '{other}' AS other")
    assert held(conn)
    for _ in range(3):
        assert conn.execute("SELECT x FROM other.o").fetchone() == (7,)
    conn.execute("CREATE TEMP TABLE tmp (y)")
    conn.execute("INSERT INTO tmp VALUES (1)")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM tmp").fetchone() == (1,)
    invalidated = conn.pool.stats()["invalidated"]
    conn.close()
    assert conn.pool.stats()["invalidated"] == invalidated + 1  # not reused with the attachment


def test_threads_each_with_a_connection(path, conn):
    errors = []

    def work():
        try:
            c = dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=30)
            for i in range(50):
                assert c.execute("SELECT count(*) FROM t WHERE id > ?", (i % 3,)).fetchone() == (3 - i % 3,)
            c.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_description_is_each_databases_own(tmp_path):
    a = dbapi2.connect(str(tmp_path / "a.db"))
    b = dbapi2.connect(str(tmp_path / "b.db"))
    a.execute("CREATE TABLE t (x INTEGER)")
    b.execute("CREATE TABLE t (x TEXT)")
    assert a.execute("SELECT x FROM t").description[0][:2] == ("x", "INTEGER")
    assert b.execute("SELECT x FROM t").description[0][:2] == ("x", "TEXT")


def test_a_pinned_connection_left_to_gc_is_not_reused(path, conn):
    import gc

    pinned = dbapi2.connect(path, pool_size=2, max_overflow=0, timeout=5)
    pinned.execute("CREATE TEMP TABLE scratch (x)")
    invalidated = conn.pool.stats()["invalidated"]
    del pinned
    gc.collect()
    assert conn.pool.stats()["invalidated"] == invalidated + 1
    assert conn.pool.stats()["checked_out"] == 0


def test_a_cursor_dropped_with_rows_left_gives_its_connection_back(path):
    c = dbapi2.connect(path, pool_size=1, max_overflow=0, timeout=5)
    cur = c.cursor()
    cur.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
        "SELECT i, 'row ' || i FROM n"
    )
    assert cur.fetchone() == (1, "row 1")
    assert c.pool.stats()["checked_out"] == 1  # more rows than one batch: still reading
    del cur  # unread, unclosed
    assert c.pool.stats()["checked_out"] == 0
    assert c.execute("SELECT 2").fetchone() == (2,)


def test_row_factory_from_the_connection(conn):
    conn.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row)}
    assert conn.execute("SELECT id, name FROM t WHERE id = 1").fetchone() == {"id": 1, "name": "a"}
    assert conn.execute("SELECT id FROM t ORDER BY id").fetchall() == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_schema_changed_by_another_connection(path):
    # Another process (here sqlite3) adds a column: a cached read must come
    # back with the new columns in both its rows and its description.
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE s(a)")
    other.execute("INSERT INTO s VALUES (1)")
    other.commit()
    c = dbapi2.connect(path)
    cur = c.cursor()
    for _ in range(2):  # the second run takes the cached fast path
        assert [tuple(r) for r in cur.execute("SELECT * FROM s WHERE a = ?", (1,))] == [(1,)]
    other.execute("ALTER TABLE s ADD COLUMN b DEFAULT 7")
    other.commit()
    assert [tuple(r) for r in cur.execute("SELECT * FROM s WHERE a = ?", (1,))] == [(1, 7)]
    assert [d[0] for d in cur.description] == ["a", "b"]
    c.close()
    other.close()


def _make_counter_db(path):
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE n(v)")
    other.execute("INSERT INTO n VALUES (1)")
    other.commit()
    other.close()


def test_read_only_reads_linger_yet_see_a_write_through_sqlite3_in_this_process(path):
    # Read-only connections keep their read snapshot across statements
    # (snapshot_linger, 10 ms by default). Python's sqlite3 is another copy of
    # SQLite: in this process its write ignores our shared lock and commits
    # at once; the next read must still see it (the change counter moved).
    _make_counter_db(path)
    c = dbapi2.connect(path, read_only=True, pool_size=1)
    assert c.pool.options["snapshot_linger"] == dbapi2.DEFAULT_SNAPSHOT_LINGER
    cur = c.cursor()
    writer = sqlite3.connect(path, timeout=5)
    for v in range(2, 12):
        assert cur.execute("SELECT v FROM n").fetchone() == (v - 1,)
        writer.execute("UPDATE n SET v = ?", (v,))
        writer.commit()
    writer.close()
    c.close()


def test_a_writer_in_another_process_gets_through_lingering_reads(path):
    # Another process's writer cannot commit while a lingering snapshot holds
    # SQLite's shared lock: the snapshots end (by age, or the monitor seeing
    # the writer wait), it commits within its busy timeout, and reads after
    # its exit see the row.
    import subprocess
    import sys

    _make_counter_db(path)
    c = dbapi2.connect(path, read_only=True, pool_size=2, snapshot_linger=1.0)
    cur = c.cursor()
    assert cur.execute("SELECT v FROM n").fetchone() == (1,)
    script = ("import sqlite3, sys; w = sqlite3.connect(sys.argv[1], timeout=10); "
              "w.execute('UPDATE n SET v = 2'); w.commit()")
    writer = subprocess.Popen([sys.executable, "-c", script, path])
    while writer.poll() is None:
        cur.execute("SELECT v FROM n").fetchone()
    assert writer.returncode == 0
    assert cur.execute("SELECT v FROM n").fetchone() == (2,)
    c.close()


def test_snapshot_linger_is_bounded(path):
    _make_counter_db(path)
    with pytest.raises(dbapi2.ProgrammingError, match="snapshot_linger"):
        dbapi2.connect(path, read_only=True, snapshot_linger=61)
    c = dbapi2.connect(path, read_only=True, snapshot_linger=0)
    assert c.cursor().execute("SELECT v FROM n").fetchone() == (1,)
    c.close()
