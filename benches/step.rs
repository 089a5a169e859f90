//! The nuPlan-shaped simulation step: 145 read-only queries in 8 batches
//! (examples/nuplan/step_queries.sql), one connection per batch, on one
//! thread. sqlpool (read-only pool, read snapshot per checkout) against a held
//! autocommit connection, a new connection per batch (what nuPlan does) and
//! r2d2; every way is checked to return the same rows (the simulator's
//! checksum). Also counts the connections sqlpool creates per step after
//! warm-up, from the pool's stats.

mod common;

use common::capi::{self, COpts};
use common::{Batch, Frame};
use criterion::{criterion_group, criterion_main, Criterion};

/// The frames the steps cycle through, with each one's expected checksum.
const FRAMES: usize = 32;

struct Fixture {
    db: String,
    batches: Vec<Batch>,
    frames: Vec<Frame>,
    expected: Vec<u64>,
}

fn fixture() -> Fixture {
    let db = common::nuplan_db();
    let batches = common::step_batches();
    let all = common::frames(&db);
    // Frames spread over the log, away from its two ends.
    let frames: Vec<Frame> = (0..FRAMES)
        .map(|k| all[(all.len() / 8) + k * (all.len() * 3 / 4) / FRAMES].clone())
        .collect();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let expected = frames
        .iter()
        .map(|f| common::run_step(&batches, |b| common::batch_rusqlite(&conn, b, f, true)))
        .collect();
    Fixture {
        db,
        batches,
        frames,
        expected,
    }
}

/// Runs `step(frame)` for each iteration on the next frame, checking the checksum.
fn bench_step(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fx: &Fixture,
    name: &str,
    mut step: impl FnMut(&Frame) -> u64,
) {
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % FRAMES;
            let h = step(&fx.frames[i]);
            assert_eq!(h, fx.expected[i], "{name}: checksum of frame {i}");
        })
    });
}

fn step(c: &mut Criterion) {
    let fx = fixture();
    let batches = &fx.batches;
    let db = fx.db.as_str();
    let mut g = c.benchmark_group("step");
    g.sample_size(if common::quick() { 10 } else { 50 });

    // sqlpool, read-only pool, read snapshot per checkout (the default then).
    {
        let pool = common::sqlpool_pool(db, |o| {
            o.set_read_only(true);
        });
        assert!(pool.options().read_snapshot());
        bench_step(&mut g, &fx, "sqlpool_rust_read_only", |f| {
            common::run_step(batches, |b| common::batch_sqlpool(&mut pool.checkout().unwrap(), b, f))
        });
        let pool = capi::open(
            db,
            COpts {
                read_only: true,
                ..COpts::default()
            },
        );
        bench_step(&mut g, &fx, "sqlpool_c_read_only", |f| {
            common::run_step(batches, |b| {
                let conn = pool.checkout();
                let h = capi::batch(conn, b, f);
                capi::checkin(conn);
                h
            })
        });
        // Default options: read-write, autocommit per statement.
        let pool = common::sqlpool_pool(db, |_| {});
        bench_step(&mut g, &fx, "sqlpool_rust_autocommit", |f| {
            common::run_step(batches, |b| common::batch_sqlpool(&mut pool.checkout().unwrap(), b, f))
        });
    }

    // A held connection, autocommit (each query takes and drops the lock).
    {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.set_prepared_statement_cache_capacity(64);
        bench_step(&mut g, &fx, "held_autocommit", |f| {
            common::run_step(batches, |b| common::batch_rusqlite(&conn, b, f, true))
        });
        // The floor of the snapshot mode: the held connection, one read
        // transaction per batch.
        bench_step(&mut g, &fx, "held_read_tx_per_batch", |f| {
            common::run_step(batches, |b| {
                conn.prepare_cached("BEGIN").unwrap().execute([]).unwrap();
                let h = common::batch_rusqlite(&conn, b, f, true);
                conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
                h
            })
        });
    }

    // nuPlan's way: a new connection per batch.
    bench_step(&mut g, &fx, "connection_per_batch", |f| {
        common::run_step(batches, |b| {
            let conn = rusqlite::Connection::open(db).unwrap();
            common::batch_rusqlite(&conn, b, f, false)
        })
    });

    // r2d2 (default test_on_check_out), statement cache per connection.
    {
        let pool = common::r2d2_pool(db, 5, 5, true);
        bench_step(&mut g, &fx, "r2d2_default", |f| {
            common::run_step(batches, |b| common::batch_rusqlite(&pool.get().unwrap(), b, f, true))
        });
        bench_step(&mut g, &fx, "r2d2_read_tx_per_batch", |f| {
            common::run_step(batches, |b| {
                let conn = pool.get().unwrap();
                conn.prepare_cached("BEGIN").unwrap().execute([]).unwrap();
                let h = common::batch_rusqlite(&conn, b, f, true);
                conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
                h
            })
        });
    }
    g.finish();

    connections_per_step(&fx);
}

/// Connections created and statement-cache misses per step after warm-up.
fn connections_per_step(fx: &Fixture) {
    let steps = if common::quick() { 20 } else { 200 };
    let mut out = Vec::new();
    for (name, read_only) in [("read_only", true), ("default", false)] {
        let pool = common::sqlpool_pool(&fx.db, |o| {
            o.set_read_only(read_only);
        });
        let run = |k: usize| {
            let f = &fx.frames[k % FRAMES];
            let h = common::run_step(&fx.batches, |b| {
                common::batch_sqlpool(&mut pool.checkout().unwrap(), b, f)
            });
            assert_eq!(h, fx.expected[k % FRAMES]);
        };
        for k in 0..10 {
            run(k);
        }
        let before = pool.stats();
        for k in 0..steps {
            run(k);
        }
        let after = pool.stats();
        let per = |a: u64, b: u64| (a - b) as f64 / steps as f64;
        out.push(format!(
            "\"{name}\": {{\"steps\": {steps}, \"connections_created_per_step\": {}, \
             \"checkouts_per_step\": {}, \"statement_cache_misses_per_step\": {}, \
             \"statement_cache_hits_per_step\": {}, \"connections_open\": {}}}",
            per(after.connections_created, before.connections_created),
            per(after.checkouts, before.checkouts),
            per(after.statement_cache_misses, before.statement_cache_misses),
            per(after.statement_cache_hits, before.statement_cache_hits),
            after.idle + after.checked_out,
        ));
    }
    let json = format!("{{{}}}\n", out.join(", "));
    println!("step pool stats: {json}");
    common::write_result("step_pool_stats", &json);
}

criterion_group!(benches, step);
criterion_main!(benches);
