//! Contended checkout: T threads share one pool and each does a fixed number
//! of checkout (timed: the wait) + hold + checkin operations. Pools of 5 and
//! of 5 + 10 overflow (r2d2: max_size 15, min_idle 5), 1, 2, 8 and 64 threads,
//! sqlpool (Rust API and C API) against r2d2 (default test_on_check_out, and
//! without it). Two holds: none (the pool alone) and one point query.
//! Reports ops/s and the p50 / p99 / max wait; each configuration runs
//! `REPS` times, interleaved, and the report takes the median by ops/s.
//!
//! Then checks that waiters are served in order: a pool of one connection,
//! held; 16 threads start waiting one after the other; the connection is
//! checked in; the order in which the threads get it is compared with the
//! order in which they arrived.
//!
//! Not a criterion benchmark (it needs its own threads and percentiles). Flags:
//! --quick (few operations), --threads 1,2,8,64, --ops N (per configuration,
//! hold none; a quarter of it with a point query), and, for profilers,
//! --impl sqlpool_rust,sqlpool_c,r2d2_default,r2d2_unchecked, --pool 5+0,5+10,
//! --hold none,point_query, --reps N, --no-fifo.

mod common;

use common::capi::{self, COpts};
use common::POINT_SQL;
use std::ffi::CString;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    SqlpoolRust,
    /// The Rust API with `fair` off: returned connections go to whoever asks first.
    SqlpoolRustUnfair,
    SqlpoolC,
    R2d2Default,
    R2d2Unchecked,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::SqlpoolRust => "sqlpool_rust",
            Impl::SqlpoolRustUnfair => "sqlpool_rust_unfair",
            Impl::SqlpoolC => "sqlpool_c",
            Impl::R2d2Default => "r2d2_default",
            Impl::R2d2Unchecked => "r2d2_unchecked",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hold {
    Nothing,
    PointQuery,
}

impl Hold {
    fn name(self) -> &'static str {
        match self {
            Hold::Nothing => "none",
            Hold::PointQuery => "point_query",
        }
    }
}

/// One pool of any kind, shared by the threads.
enum AnyPool {
    Rust(sqlpool::Pool),
    C(capi::CPool),
    R2d2(common::R2d2Pool),
}

struct RunResult {
    ops: u64,
    secs: f64,
    waits_ns: Vec<u64>,
    pool_waits: Option<u64>,
}

fn open(imp: Impl, db: &str, size: u32, overflow: u32) -> AnyPool {
    match imp {
        Impl::SqlpoolRust | Impl::SqlpoolRustUnfair => AnyPool::Rust(common::sqlpool_pool(db, |o| {
            o.set_pool_size(size).unwrap();
            o.set_max_overflow(overflow as i32).unwrap();
            o.set_fair(imp == Impl::SqlpoolRust);
        })),
        Impl::SqlpoolC => AnyPool::C(capi::open(
            db,
            COpts {
                pool_size: size,
                max_overflow: overflow as i32,
                ..COpts::default()
            },
        )),
        Impl::R2d2Default | Impl::R2d2Unchecked => {
            AnyPool::R2d2(common::r2d2_pool(db, size + overflow, size, imp == Impl::R2d2Default))
        }
    }
}

fn run(pool: &AnyPool, threads: usize, ops: u64, hold: Hold, tokens: &[Vec<u8>]) -> RunResult {
    let per_thread = ops.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    let c_sql = CString::new(POINT_SQL).unwrap();
    let before = match pool {
        AnyPool::Rust(p) => Some(p.stats().waits),
        AnyPool::C(p) => Some(p.stats().waits),
        AnyPool::R2d2(_) => None,
    };
    let (secs, waits_ns) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                let c_sql = &c_sql;
                s.spawn(move || {
                    let mut waits = Vec::with_capacity(per_thread as usize);
                    let mut k = t * 7919;
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..per_thread {
                        k = (k + 1) % tokens.len();
                        let token = &tokens[k];
                        let t0 = Instant::now();
                        match pool {
                            AnyPool::Rust(p) => {
                                let mut conn = p.checkout().unwrap();
                                waits.push(t0.elapsed().as_nanos() as u64);
                                if hold == Hold::PointQuery {
                                    let ts = conn
                                        .with_statement(POINT_SQL, |r| {
                                            r.stmt().bind_blob(1, token)?;
                                            r.step()?;
                                            r.stmt().column_int64(0)
                                        })
                                        .unwrap();
                                    std::hint::black_box(ts);
                                }
                            }
                            AnyPool::C(p) => {
                                let conn = p.checkout();
                                waits.push(t0.elapsed().as_nanos() as u64);
                                if hold == Hold::PointQuery {
                                    std::hint::black_box(capi::point_query(conn, c_sql, token));
                                }
                                capi::checkin(conn);
                            }
                            AnyPool::R2d2(p) => {
                                let conn = p.get().unwrap();
                                waits.push(t0.elapsed().as_nanos() as u64);
                                if hold == Hold::PointQuery {
                                    let mut st = conn.prepare_cached(POINT_SQL).unwrap();
                                    let ts: i64 = st.query_row([&token[..]], |r| r.get(0)).unwrap();
                                    std::hint::black_box(ts);
                                }
                            }
                        }
                    }
                    (started, Instant::now(), waits)
                })
            })
            .collect();
        barrier.wait();
        // From the first thread's start to the last thread's end.
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        let mut all = Vec::with_capacity((per_thread * threads as u64) as usize);
        for h in handles {
            let (started, ended, waits) = h.join().unwrap();
            first = Some(first.map_or(started, |f| f.min(started)));
            last = Some(last.map_or(ended, |l| l.max(ended)));
            all.extend(waits);
        }
        let secs = last.unwrap().duration_since(first.unwrap()).as_secs_f64();
        (secs, all)
    });
    let pool_waits = match pool {
        AnyPool::Rust(p) => Some(p.stats().waits - before.unwrap()),
        AnyPool::C(p) => Some(p.stats().waits - before.unwrap()),
        AnyPool::R2d2(_) => None,
    };
    RunResult {
        ops: per_thread * threads as u64,
        secs,
        waits_ns,
        pool_waits,
    }
}

/// Waiters served in order? Returns (served in arrival order, the order).
fn fifo_check(imp: Impl, db: &str, waiters: usize) -> (bool, Vec<usize>) {
    let pool = Arc::new(open(imp, db, 1, 0));
    let order = Arc::new(Mutex::new(Vec::new()));
    // The main thread holds the only connection while the others line up.
    enum Held {
        Rust(sqlpool::PooledConnection),
        C(*mut sqlpool::ffi::conn::sqlpool_conn),
        R2d2(r2d2::PooledConnection<r2d2_sqlite::SqliteConnectionManager>),
    }
    let held = match &*pool {
        AnyPool::Rust(p) => Held::Rust(p.checkout().unwrap()),
        AnyPool::C(p) => Held::C(p.checkout()),
        AnyPool::R2d2(p) => Held::R2d2(p.get().unwrap()),
    };
    let waiting = |pool: &AnyPool| match pool {
        AnyPool::Rust(p) => Some(p.stats().waiting as usize),
        AnyPool::C(p) => Some(p.stats().waiting as usize),
        AnyPool::R2d2(_) => None,
    };
    let mut threads = Vec::new();
    for i in 0..waiters {
        let shared = pool.clone();
        let order = order.clone();
        threads.push(std::thread::spawn(move || {
            let served = |order: &Mutex<Vec<usize>>| order.lock().unwrap().push(i);
            match &*shared {
                AnyPool::Rust(p) => {
                    let c = p.checkout().unwrap();
                    served(&order);
                    drop(c);
                }
                AnyPool::C(p) => {
                    let c = p.checkout();
                    served(&order);
                    capi::checkin(c);
                }
                AnyPool::R2d2(p) => {
                    let c = p.get().unwrap();
                    served(&order);
                    drop(c);
                }
            }
        }));
        // Wait until thread i is in line before starting the next one.
        let deadline = Instant::now() + Duration::from_secs(5);
        match waiting(&pool) {
            Some(_) => {
                while waiting(&pool) != Some(i + 1) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            // r2d2 tells no count of waiters: give the thread time to block.
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    match held {
        Held::Rust(c) => drop(c),
        Held::C(c) => capi::checkin(c),
        Held::R2d2(c) => drop(c),
    }
    for t in threads {
        t.join().unwrap();
    }
    let order = order.lock().unwrap().clone();
    let in_order = order == (0..waiters).collect::<Vec<_>>();
    (in_order, order)
}

fn arg_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    // `cargo bench` passes --bench; criterion-style filters are ignored.
    let quick = common::quick();
    let db = common::nuplan_db();
    let tokens: Vec<Vec<u8>> = common::frames(&db).into_iter().map(|f| f.token).collect();
    let threads: Vec<usize> = arg_value("--threads")
        .map(|s| s.split(',').map(|t| t.parse().expect("--threads")).collect())
        .unwrap_or_else(|| vec![1, 2, 8, 64]);
    let ops_empty: u64 = arg_value("--ops")
        .map(|s| s.parse().expect("--ops"))
        .unwrap_or(if quick { 2_000 } else { 200_000 });
    let ops_query = (ops_empty / 4).max(1_000);
    let reps: usize = arg_value("--reps")
        .map(|s| s.parse().expect("--reps"))
        .unwrap_or(if quick { 1 } else { 3 });
    let list = |flag: &str| arg_value(flag).map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>());
    let impls: Vec<Impl> = [
        Impl::SqlpoolRust,
        Impl::SqlpoolRustUnfair,
        Impl::SqlpoolC,
        Impl::R2d2Default,
        Impl::R2d2Unchecked,
    ]
    .into_iter()
    .filter(|i| list("--impl").is_none_or(|l| l.iter().any(|n| n == i.name())))
    .collect();
    let pools: Vec<(u32, u32)> = [(5u32, 0u32), (5, 10)]
        .into_iter()
        .filter(|(s, o)| list("--pool").is_none_or(|l| l.contains(&format!("{s}+{o}"))))
        .collect();
    let holds: Vec<Hold> = [Hold::Nothing, Hold::PointQuery]
        .into_iter()
        .filter(|h| list("--hold").is_none_or(|l| l.iter().any(|n| n == h.name())))
        .collect();
    let fifo_check_on = !std::env::args().any(|a| a == "--no-fifo");

    // Open every pool once; runs reuse them (warm connections and statements).
    let mut opened = Vec::new();
    for &imp in &impls {
        for &(size, overflow) in &pools {
            opened.push(((imp, size, overflow), open(imp, &db, size, overflow)));
        }
    }

    // results[(imp, pool, hold, threads)] = runs
    type Key = (Impl, u32, u32, Hold, usize);
    let mut results: Vec<(Key, Vec<RunResult>)> = Vec::new();
    for rep in 0..reps {
        for &hold in &holds {
            for &t in &threads {
                for ((imp, size, overflow), pool) in &opened {
                    let ops = if hold == Hold::Nothing { ops_empty } else { ops_query };
                    let r = run(pool, t, ops, hold, &tokens);
                    let key = (*imp, *size, *overflow, hold, t);
                    eprintln!(
                        "rep {rep} hold={:<11} pool={size}+{overflow:<2} threads={t:<3} {:<15} {:>10.0} ops/s",
                        hold.name(),
                        imp.name(),
                        r.ops as f64 / r.secs
                    );
                    match results.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => v.push(r),
                        None => results.push((key, vec![r])),
                    }
                }
            }
        }
    }

    let mut rows = Vec::new();
    println!(
        "{:<12} {:<6} {:>4} {:<15} {:>12} {:>10} {:>10} {:>10} {:>8}",
        "hold", "pool", "thr", "impl", "ops/s", "p50 ns", "p99 ns", "max ns", "waits"
    );
    for ((imp, size, overflow, hold, t), mut runs) in results {
        runs.sort_by(|a, b| (a.ops as f64 / a.secs).total_cmp(&(b.ops as f64 / b.secs)));
        let all: Vec<f64> = runs.iter().map(|r| r.ops as f64 / r.secs).collect();
        let mid = runs.len() / 2;
        let r = &mut runs[mid];
        r.waits_ns.sort_unstable();
        let ops_s = r.ops as f64 / r.secs;
        let p50 = common::percentile(&r.waits_ns, 50.0);
        let p99 = common::percentile(&r.waits_ns, 99.0);
        let max = *r.waits_ns.last().unwrap_or(&0);
        println!(
            "{:<12} {:<6} {:>4} {:<15} {:>12.0} {:>10} {:>10} {:>10} {:>8}",
            hold.name(),
            format!("{size}+{overflow}"),
            t,
            imp.name(),
            ops_s,
            p50,
            p99,
            max,
            r.pool_waits.map_or("-".into(), |w| w.to_string())
        );
        rows.push(format!(
            "{{\"impl\": \"{}\", \"pool_size\": {size}, \"max_overflow\": {overflow}, \
             \"hold\": \"{}\", \"threads\": {t}, \"ops\": {}, \"secs\": {:.6}, \
             \"ops_per_s\": {ops_s:.1}, \"ops_per_s_runs\": [{}], \"p50_wait_ns\": {p50}, \
             \"p99_wait_ns\": {p99}, \"max_wait_ns\": {max}, \"pool_waits\": {}}}",
            imp.name(),
            hold.name(),
            r.ops,
            r.secs,
            all.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(", "),
            r.pool_waits.map_or("null".into(), |w| w.to_string()),
        ));
    }

    let waiters = 16;
    let mut fifo = Vec::new();
    let fifo_impls: &[Impl] = if fifo_check_on {
        &[
            Impl::SqlpoolRust,
            Impl::SqlpoolRustUnfair,
            Impl::SqlpoolC,
            Impl::R2d2Default,
        ]
    } else {
        &[]
    };
    for &imp in fifo_impls {
        let (in_order, order) = fifo_check(imp, &db, waiters);
        println!(
            "waiters served in order ({}, {waiters} waiters): {in_order} {order:?}",
            imp.name()
        );
        fifo.push(format!(
            "{{\"impl\": \"{}\", \"waiters\": {waiters}, \"in_order\": {in_order}, \"order\": {order:?}}}",
            imp.name()
        ));
    }
    let sqlpool_in_order = fifo
        .iter()
        .filter(|f| f.contains("sqlpool"))
        .all(|f| f.contains("\"in_order\": true"));
    common::write_result(
        "contended",
        &format!(
            "{{\"quick\": {quick}, \"reps\": {reps}, \"runs\": [\n{}\n], \"fifo\": [{}]}}\n",
            rows.join(",\n"),
            fifo.join(", ")
        ),
    );
    assert!(sqlpool_in_order, "sqlpool served waiters out of order");
}
