"""Events, logs, leak reports, interrupts and the text forms of a pool."""

import logging
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sqlpool

LONG_QUERY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def test_events_reach_the_callback_in_order(db):
    seen = []
    with sqlpool.Pool(db, pool_size=1, max_overflow=0, timeout=0.01,
                      on_event=lambda e, cid, wait_ns: seen.append((e, cid))) as pool:
        with pool.connection() as conn:
            with pytest.raises(sqlpool.PoolTimeout):
                pool.connection()
            conn.invalidate()
    assert seen == [("connect", 1), ("checkout", 1), ("timeout", 0), ("checkin", 1), ("invalidate", 1)]


def test_a_leak_is_logged_with_its_tag(db, caplog):
    caplog.set_level(logging.INFO, logger="sqlpool")
    with sqlpool.Pool(db, leak_threshold=0.1) as pool:
        with pool.connection() as conn:
            conn.set_tag("step 42 of scenario abc")
            time.sleep(0.4)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "sqlpool"]
    leaks = [m for level, m in messages if m.startswith("possible leak")]
    assert len(leaks) == 1, messages
    assert "step 42 of scenario abc" in leaks[0]
    assert any(level == logging.INFO and "returned after" in m for level, m in messages)


def test_status_and_prometheus_text_parse(db):
    with sqlpool.Pool(db, pool_size=2, timeout=0.02, max_overflow=0) as pool:
        a, b = pool.connection(), pool.connection()
        with pytest.raises(sqlpool.PoolTimeout):
            pool.connection()
        assert pool.status() == (
            "Pool size: 2  Connections in pool: 0 Current Overflow: 0 Current Checked out connections: 2"
        )
        a.close()
        b.close()
        families = {f.name: f for f in text_string_to_metric_families(pool.prometheus())}
        samples = {(s.name, s.labels.get("reason")): s.value for f in families.values() for s in f.samples}
        assert samples[("sqlpool_connections_idle", None)] == 2
        assert samples[("sqlpool_connections_timeout_total", None)] == 1
        assert samples[("sqlpool_connections_acquire_seconds_count", None)] == 2
        assert families["sqlpool_connections_acquire_seconds"].type == "histogram"
        assert all(s.labels["pool"] == str(db) for f in families.values() for s in f.samples)


def test_interrupt_from_another_thread(db):
    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        timer = threading.Timer(0.05, conn.interrupt)
        timer.start()
        with pytest.raises(sqlpool.OperationalError) as info:
            conn.execute(LONG_QUERY).fetchall()
        timer.join()
        assert info.value.sqlite_errorcode == 9
        assert conn.execute("SELECT 1").fetchone()[0] == 1


@pytest.mark.parametrize(
    "mode",
    [
        {"fair": False},
        {"fairness": "bounded", "fairness_threshold": 0.001},
        {"fairness": "strict"},
        {"fairness": "barging"},
    ],
)
def test_every_fairness_mode_serves_every_thread(db, mode):
    with sqlpool.Pool(db, pool_size=1, max_overflow=0, **mode) as pool:
        for key, value in mode.items():
            assert pool.options[key] == value
        results = []

        def work():
            for _ in range(50):
                with pool.connection() as conn:
                    results.append(conn.execute("SELECT count(*) FROM t").fetchone()[0])

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [100] * 400
        s = pool.stats()
        assert (s["checkouts"], s["checked_out"], s["connections_created"]) == (400, 0, 1)


def test_an_unknown_fairness_mode_or_a_negative_threshold_is_rejected_by_name(db):
    with pytest.raises(sqlpool.InvalidArgument, match="fairness"):
        sqlpool.Pool(db, fairness="fifo")
    with pytest.raises(sqlpool.InvalidArgument, match="fairness_threshold"):
        sqlpool.Pool(db, fairness_threshold=-1)
