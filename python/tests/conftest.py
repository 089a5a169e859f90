"""Shared fixtures: databases made with the stdlib sqlite3 (the reference)."""

import os
import sqlite3
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NUPLAN = os.path.join(ROOT, "examples", "nuplan")

# Without an installed package (running from a checkout), use the source
# tree and the release build.
try:
    import sqlpool  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(HERE))
    os.environ.setdefault("SQLPOOL_LIBRARY", os.path.join(ROOT, "target", "release", "libsqlpool.so"))
    import sqlpool  # noqa: F401

sys.path.insert(0, NUPLAN)
import check_sql  # noqa: E402  (examples/nuplan/check_sql.py)
from check_sql import parse_step_queries  # noqa: E402

STEP_QUERIES = parse_step_queries(os.path.join(NUPLAN, "step_queries.sql"))


def make_nuplan_db(path, frames=200):
    """A small nuPlan-shaped log (examples/nuplan/schema.sql + generate.sql)."""
    return check_sql.generate_db(path, frames=frames)


@pytest.fixture(scope="session")
def nuplan_db(tmp_path_factory):
    return make_nuplan_db(str(tmp_path_factory.mktemp("nuplan") / "log.db"))


def step_variables(db_file, step):
    """The step variables of examples/nuplan/step_queries.sql for one step."""
    conn = sqlite3.connect(db_file)
    frames = conn.execute("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp").fetchall()
    conn.close()
    return check_sql.step_variables(*frames[(step * 7) % len(frames)])


def sqlite3_step(db_file, variables):
    """The reference: every step query with Python's sqlite3, rows as tuples."""
    conn = sqlite3.connect(db_file)
    out = []
    for batch in STEP_QUERIES:
        for sql, names in batch:
            out.append([tuple(r) for r in conn.execute(sql, [variables[n] for n in names])])
    conn.close()
    return out


def sqlpool_step(db_file, variables):
    """The same through the drop-ins (execute_many), rows as tuples."""
    out = []
    for batch in STEP_QUERIES:
        for sql, names in batch:
            out.append([tuple(r) for r in sqlpool.execute_many(sql, [variables[n] for n in names], db_file)])
    return out


@pytest.fixture
def db(tmp_path):
    """A database with t(i INTEGER, f REAL, s TEXT, b BLOB), rows 1..100, and kv."""
    path = str(tmp_path / "t.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        """
        CREATE TABLE t(i INTEGER PRIMARY KEY, f REAL, s TEXT, b BLOB);
        CREATE TABLE kv(k TEXT PRIMARY KEY, v);
        """
    )
    conn.execute("BEGIN")
    for i in range(1, 101):
        conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (i, i / 4, f"row {i}", bytes([i % 256, 0, 255])))
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def pool(db):
    with sqlpool.Pool(db) as p:
        yield p
