"""busy_timeout above SQLite's limit (INT32_MAX ms) is refused when the pool
is opened, naming the option, instead of failing inside the library; None
means the longest SQLite allows."""

import sqlite3

import pytest

import sqlpool


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "o.db")
    sqlite3.connect(path).close()
    return path


def test_busy_timeout_above_int32_max_ms_is_invalid(db):
    with pytest.raises(sqlpool.InvalidArgument, match="busy_timeout"):
        sqlpool.Pool(db, busy_timeout=(2**31) / 1000)
    with pytest.raises(sqlpool.InvalidArgument, match="busy_timeout"):
        sqlpool.Pool(db, busy_timeout=10**9)


def test_busy_timeout_at_the_limit_or_none_opens_a_working_pool(db):
    for value in ((2**31 - 1) / 1000, None):
        with sqlpool.Pool(db, busy_timeout=value) as pool:
            assert pool.execute("SELECT 1") == [(1,)]


def test_pool_size_above_int32_max_is_invalid(db):
    with pytest.raises(sqlpool.InvalidArgument, match="pool_size"):
        sqlpool.Pool(db, pool_size=2**31)
