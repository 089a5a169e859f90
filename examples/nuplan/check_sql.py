#!/usr/bin/env python3
"""Sanity check of the nuPlan example SQL with Python's stdlib sqlite3 (>= 3.40).

Generates the database (schema.sql + generate.sql) into a temporary file,
checks its shape, parses step_queries.sql as the simulator does, runs the 145
queries for a few frames both ways (a new connection per batch, as nuPlan
does, and one connection) and checks the per-step checksums agree.

    python3 examples/nuplan/check_sql.py [--frames N] [--steps N] [--heavy]

--heavy runs step_queries_heavy.sql (the former, heavy step) against the
denser data it was made for (40 boxes and 30 traffic lights a frame).
"""
import argparse
import os
import sqlite3
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1


def parse_step_queries(path):
    """[[(sql, [param names])...] per batch], as examples/simulator parses it."""
    batches = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("-- batch "):
                number = int(line[len("-- batch "):].split(":")[0])
                assert number == len(batches) + 1, line
                batches.append([])
                continue
            if not line.strip() or line.startswith("--"):
                continue
            sql, sep, params = line.rpartition(" -- params:")
            assert sep and "--" not in sql, line
            names = [p for p in params.strip().split(",") if p]
            assert sql.count("?") == len(names), line
            batches[-1].append((sql, names))
    return batches


def generate_db(path, **gen_params):
    """Creates the nuPlan-shaped log at `path`: schema.sql, a gen_params row
    when given (frames=..., boxes_per_frame=..., ...), then generate.sql."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        with open(os.path.join(HERE, "schema.sql"), encoding="utf-8") as f:
            db.executescript(f.read())
        if gen_params:
            db.execute(f"INSERT INTO gen_params (id, {', '.join(gen_params)}) VALUES (1{', ?' * len(gen_params)})",
                       tuple(gen_params.values()))
        with open(os.path.join(HERE, "generate.sql"), encoding="utf-8") as f:
            db.executescript(f.read())
    finally:
        db.close()
    return path


def step_variables(token, timestamp):
    """The step variables of step_queries.sql for the frame (token, timestamp)."""
    return {
        "lidar_pc_token": token,
        "timestamp": timestamp,
        "timestamp_window_start": timestamp - 2_000_000,
        "timestamp_window_end": timestamp + 8_000_000,
    }


def fold(h, v):
    """splitmix64-style mixing of one 64-bit value into the running checksum."""
    h = (h ^ (v & MASK)) & MASK
    h = (h * 0x9E3779B97F4A7C15) & MASK
    return h ^ (h >> 29)


def fold_value(h, value):
    if value is None:
        return fold(h, 0x6E756C6C)
    if isinstance(value, int):
        return fold(h, value)
    if isinstance(value, float):
        return fold(h, struct.unpack("<Q", struct.pack("<d", value))[0])
    data = value.encode() if isinstance(value, str) else bytes(value)
    h = fold(h, len(data))
    x = 0xCBF29CE484222325  # FNV-1a over the bytes, then folded
    for b in data:
        x = ((x ^ b) * 0x100000001B3) & MASK
    return fold(h, x)


def run_batch(conn, batch, variables):
    h = 0
    rows = 0
    for sql, names in batch:
        for row in conn.execute(sql, [variables[n] for n in names]):
            rows += 1
            for value in row:
                h = fold_value(h, value)
        h = fold(h, 0xBA7C4)  # end of a query's rows
    return h, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=None, help="gen_params.frames (default: the schema default)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--heavy", action="store_true", help="step_queries_heavy.sql, 40 boxes and 30 lights a frame")
    args = ap.parse_args()

    fd, path = tempfile.mkstemp(suffix=".db")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        params = {"frames": args.frames} if args.frames else {}
        if args.heavy:
            params.update(boxes_per_frame=40, lights_per_frame=30)
        generate_db(path, **params)
        gen_s = time.perf_counter() - t0
        print(f"sqlite {sqlite3.sqlite_version}: generated {os.path.getsize(path) / 1e6:.1f} MB in {gen_s:.2f} s")

        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
            "log", "lidar", "ego_pose", "scene", "lidar_pc", "traffic_light_status",
            "category", "track", "lidar_box", "scenario_tag")}
        print("rows:", counts)
        assert db.execute("SELECT count(*) FROM sqlite_temp_master").fetchone()[0] == 0
        for table in counts:
            bad = db.execute(f"SELECT count(*) FROM {table} WHERE typeof(token) != 'blob' OR length(token) != 8").fetchone()[0]
            assert bad == 0, table
        frames = db.execute("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp").fetchall()

        step_file = "step_queries_heavy.sql" if args.heavy else "step_queries.sql"
        batches = parse_step_queries(os.path.join(HERE, step_file))
        sizes = [len(b) for b in batches]
        assert len(batches) == 8 and sum(sizes) == 145, sizes
        print(f"{step_file} batches:", sizes)

        def variables(step):
            return step_variables(*frames[(step * 7) % len(frames)])

        results = {}
        for mode in ("connection per batch", "one connection"):
            sums, total_rows = [], 0
            t0 = time.perf_counter()
            for step in range(args.steps):
                v = variables(step)
                h = 0
                for batch in batches:
                    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if mode != "one connection" else db
                    bh, rows = run_batch(conn, batch, v)
                    total_rows += rows
                    h = fold(h, bh)
                    if conn is not db:
                        conn.close()
                sums.append(h)
            ms = (time.perf_counter() - t0) * 1000 / args.steps
            print(f"{mode:>22}: {ms:.2f} ms/step, {total_rows / args.steps:.0f} rows/step")
            results[mode] = sums
        assert results["connection per batch"] == results["one connection"], "checksums differ"
        print("checksums agree; first:", hex(results["one connection"][0]))
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
