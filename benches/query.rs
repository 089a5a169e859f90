//! A point query (nuPlan's `SELECT timestamp FROM lidar_pc WHERE token = ?`,
//! one row by primary key, a different frame each time) through the pool,
//! against the same query on a held rusqlite connection with prepare_cached
//! (the floor), r2d2, and opening a connection per query.

mod common;

use common::capi::{self, COpts};
use common::POINT_SQL;
use criterion::{criterion_group, criterion_main, Criterion};
use std::ffi::CString;
use std::hint::black_box;

fn point_query(c: &mut Criterion) {
    let db = common::nuplan_db();
    let frames = common::frames(&db);
    let n = frames.len();
    let c_sql = CString::new(POINT_SQL).unwrap();
    let mut g = c.benchmark_group("point_query");

    // The floor: one connection, held, statement cached.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut i = 0;
        g.bench_function("held_rusqlite", |b| {
            b.iter(|| {
                i = (i + 1) % n;
                let f = &frames[i];
                let mut st = conn.prepare_cached(POINT_SQL).unwrap();
                let ts: i64 = st.query_row([&f.token], |r| r.get(0)).unwrap();
                assert_eq!(ts, f.timestamp);
            })
        });
    }

    for (name, read_only) in [("sqlpool_rust", false), ("sqlpool_rust_read_only", true)] {
        let pool = common::sqlpool_pool(&db, |o| {
            o.set_read_only(read_only);
        });
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % n;
                let f = &frames[i];
                let mut conn = pool.checkout().unwrap();
                let ts = conn
                    .with_statement(POINT_SQL, |r| {
                        r.stmt().bind_blob(1, &f.token)?;
                        assert_eq!(r.step()?, sqlpool::Step::Row);
                        r.stmt().column_int64(0)
                    })
                    .unwrap();
                assert_eq!(ts, f.timestamp);
            })
        });
    }

    for (name, read_only) in [("sqlpool_c", false), ("sqlpool_c_read_only", true)] {
        let pool = capi::open(
            &db,
            COpts {
                read_only,
                ..COpts::default()
            },
        );
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % n;
                let f = &frames[i];
                let conn = pool.checkout();
                let ts = capi::point_query(conn, &c_sql, &f.token);
                capi::checkin(conn);
                assert_eq!(ts, f.timestamp);
            })
        });
    }

    {
        let pool = common::r2d2_pool(&db, 5, 5, true);
        let mut i = 0;
        g.bench_function("r2d2_default", |b| {
            b.iter(|| {
                i = (i + 1) % n;
                let f = &frames[i];
                let conn = pool.get().unwrap();
                let mut st = conn.prepare_cached(POINT_SQL).unwrap();
                let ts: i64 = st.query_row([&f.token], |r| r.get(0)).unwrap();
                assert_eq!(ts, f.timestamp);
            })
        });
    }

    {
        let mut i = 0;
        g.bench_function("open_per_query", |b| {
            b.iter(|| {
                i = (i + 1) % n;
                let f = &frames[i];
                let conn = rusqlite::Connection::open(&db).unwrap();
                let ts: i64 = conn.query_row(POINT_SQL, [&f.token], |r| r.get(0)).unwrap();
                drop(black_box(conn));
                assert_eq!(ts, f.timestamp);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, point_query);
criterion_main!(benches);
