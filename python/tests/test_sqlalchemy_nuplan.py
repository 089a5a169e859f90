"""nuPlan's ORM call shapes through sqlpool's SessionManager give what they
give through nuPlan's own engine (a creator returning a read-only sqlite3
connection): in one thread, in threads, in fork and spawn workers."""

import multiprocessing
import threading

import pytest

pytest.importorskip("sqlalchemy")

from sqla_helpers import nuplan_orm  # noqa: E402

from sqlpool.sqlalchemy import SessionManager  # noqa: E402


@pytest.fixture(scope="module")
def reference(nuplan_db):
    tokens = nuplan_orm.lidar_pc_tokens(nuplan_db, 12)
    return tokens, nuplan_orm.scenario(nuplan_orm.NuplanSessionManager(nuplan_db), tokens)


def test_same_results_as_nuplans_engine(nuplan_db, reference):
    tokens, expected = reference
    got = nuplan_orm.scenario(SessionManager(nuplan_db, read_only=True), tokens)
    assert got == expected
    assert expected[0] is not None and len(expected[3]) > 0 and expected[-2] > 0  # rows came back


def test_same_results_in_threads(nuplan_db, reference):
    tokens, expected = reference
    m = SessionManager(nuplan_db, pool_size=2, max_overflow=1, read_only=True)
    results = []

    def work():
        results.append(nuplan_orm.scenario(m, tokens))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == expected for r in results)


def _worker(args):
    m, tokens = args
    return nuplan_orm.scenario(m, tokens)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_same_results_in_workers(nuplan_db, reference, method):
    tokens, expected = reference
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    m = SessionManager(nuplan_db, read_only=True)
    assert nuplan_orm.scenario(m, tokens[:2]) == nuplan_orm.scenario(
        nuplan_orm.NuplanSessionManager(nuplan_db), tokens[:2])  # the parent's engine exists before the fork
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_worker, [(m, tokens)] * 4)
    assert all(r == expected for r in results)
