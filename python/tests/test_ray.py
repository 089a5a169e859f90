"""Inside Ray: a local instance with 2 workers; each runs simulation steps
(the 145 queries of examples/nuplan/step_queries.sql) through sqlpool; the
results equal a single-process sqlite3 run."""

import os

import pytest

import sqlpool
from conftest import STEP_QUERIES, sqlite3_step, step_variables

ray = pytest.importorskip("ray", reason="ray cannot be installed for this Python version")


@pytest.fixture(scope="module")
def ray_local():
    package_dir = os.path.dirname(os.path.dirname(sqlpool.__file__))
    env = {"SQLPOOL_LIBRARY": os.path.abspath(sqlpool.library_path)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir, os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": env},
    )
    yield ray
    ray.shutdown()


def test_ray_workers_run_simulation_steps_through_sqlpool(ray_local, nuplan_db):
    queries = STEP_QUERIES

    @ray.remote
    def simulate(db_file, steps_vars):
        import os

        import sqlpool

        out = []
        for v in steps_vars:
            step = []
            for batch in queries:
                for sql, names in batch:
                    step.append([tuple(r) for r in sqlpool.execute_many(sql, [v[n] for n in names], db_file)])
            out.append(step)
        return os.getpid(), out, sqlpool.shared_stats()["pools"]

    steps = [step_variables(nuplan_db, s) for s in range(8)]
    expected = [sqlite3_step(nuplan_db, v) for v in steps]
    chunks = [steps[0:2], steps[2:4], steps[4:6], steps[6:8]]
    results = ray.get([simulate.remote(nuplan_db, c) for c in chunks], timeout=300)
    assert [s for _, out, _ in results for s in out] == expected
    assert all(pools >= 1 for _, _, pools in results)
    assert {pid for pid, _, _ in results} - {os.getpid()}, "ran in Ray worker processes"
