//! Uncontended checkout + checkin: sqlpool's Rust API and C API (its extern
//! functions called from Rust, as C calls them), r2d2 + r2d2_sqlite with and
//! without test_on_check_out, and the floor (a mutex around a Vec of boxed
//! connections, pop + push). Then scaling: checkout cost at pool sizes 5, 64
//! and 1,024, and with 1, 10 and 100 pools alive.

mod common;

use common::capi::{self, COpts};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn uncontended(c: &mut Criterion) {
    let db = common::nuplan_db();
    let mut g = c.benchmark_group("checkout");

    // The floor: what any pool has to do at least.
    {
        let m = std::sync::Mutex::new((0..5).map(|i| Box::new([i as u8; 64])).collect::<Vec<_>>());
        g.bench_function("floor_std_mutex_vec", |b| {
            b.iter(|| {
                let x = m.lock().unwrap().pop().unwrap();
                black_box(&x);
                m.lock().unwrap().push(x);
            })
        });
        let m = parking_lot::Mutex::new((0..5).map(|i| Box::new([i as u8; 64])).collect::<Vec<_>>());
        g.bench_function("floor_parking_lot_mutex_vec", |b| {
            b.iter(|| {
                let x = m.lock().pop().unwrap();
                black_box(&x);
                m.lock().push(x);
            })
        });
        g.bench_function("instant_now", |b| b.iter(std::time::Instant::now));
    }

    // sqlpool, default options (pre_ping on, recycle 1 h, FIFO).
    {
        let pool = common::sqlpool_pool(&db, |_| {});
        g.bench_function("sqlpool_rust", |b| b.iter(|| drop(black_box(pool.checkout().unwrap()))));
        let pool = common::sqlpool_pool(&db, |o| {
            o.set_pre_ping(false).set_recycle(None);
        });
        g.bench_function("sqlpool_rust_no_preping_no_recycle", |b| {
            b.iter(|| drop(black_box(pool.checkout().unwrap())))
        });
    }
    {
        let pool = capi::open(&db, COpts::default());
        g.bench_function("sqlpool_c", |b| b.iter(|| capi::checkin(black_box(pool.checkout()))));
        let pool = capi::open(
            &db,
            COpts {
                pre_ping: false,
                ..COpts::default()
            },
        );
        g.bench_function("sqlpool_c_no_preping", |b| {
            b.iter(|| capi::checkin(black_box(pool.checkout())))
        });
    }

    // r2d2 0.8 + r2d2_sqlite 0.25.
    for (name, checked) in [("r2d2_default", true), ("r2d2_unchecked", false)] {
        let pool = common::r2d2_pool(&db, 5, 5, checked);
        g.bench_function(name, |b| b.iter(|| drop(black_box(pool.get().unwrap()))));
    }
    g.finish();
}

fn scaling(c: &mut Criterion) {
    let db = common::nuplan_db();
    let quick = common::quick();

    // Pool size: every connection open and idle, so that the idle list is full.
    let mut g = c.benchmark_group("scaling_pool_size");
    let sizes: &[u32] = if quick { &[5, 64] } else { &[5, 64, 1024] };
    for &size in sizes {
        let pool = capi::open(
            &db,
            COpts {
                pool_size: size,
                ..COpts::default()
            },
        );
        let held: Vec<_> = (0..size).map(|_| pool.checkout()).collect();
        held.into_iter().for_each(capi::checkin);
        assert_eq!(pool.stats().idle, size);
        g.bench_with_input(BenchmarkId::new("sqlpool_c", size), &size, |b, _| {
            b.iter(|| capi::checkin(black_box(pool.checkout())))
        });
        let rpool = common::sqlpool_pool(&db, |o| {
            o.set_pool_size(size).unwrap();
        });
        let held: Vec<_> = (0..size).map(|_| rpool.checkout().unwrap()).collect();
        drop(held);
        g.bench_with_input(BenchmarkId::new("sqlpool_rust", size), &size, |b, _| {
            b.iter(|| drop(black_box(rpool.checkout().unwrap())))
        });
    }
    g.finish();

    // Pools alive in the process (the registry, the handle table).
    let mut g = c.benchmark_group("scaling_pools");
    let counts: &[usize] = if quick { &[1, 10] } else { &[1, 10, 100] };
    for &n in counts {
        let pools: Vec<_> = (0..n).map(|_| capi::open(&db, COpts::default())).collect();
        // Measure the middle one, not the first or last opened.
        let pool = &pools[n / 2];
        g.bench_with_input(BenchmarkId::new("sqlpool_c", n), &n, |b, _| {
            b.iter(|| capi::checkin(black_box(pool.checkout())))
        });
        drop(pools);
    }
    g.finish();
}

criterion_group!(benches, uncontended, scaling);
criterion_main!(benches);
