//! Contended checkout: T threads share one pool and each does a fixed number
//! of checkout (timed: the wait) + hold + checkin operations. Pools of 5 and
//! of 5 + 10 overflow (r2d2: max_size 15, min_idle 5), 1, 2, 8 and 64 threads,
//! sqlpool (Rust API in its three fairness modes: bounded, the default;
//! strict; barging ("unfair"); and the C API) against r2d2 (default
//! test_on_check_out, and without it) and a pool written by hand the way a
//! C++ user would (a mutex, a condition variable and a vector of
//! connections). Two holds: none (the pool alone) and one point query.
//! Reports ops/s, the p50 / p99 / p99.9 / max wait and, for sqlpool, how many
//! checkouts were handed off to a queued waiter vs taken ahead of one
//! (barged); each configuration runs `REPS` times, interleaved, and the
//! report takes the median by ops/s.
//!
//! Then checks that waiters are served in order: a pool of one connection,
//! held; 16 threads start waiting one after the other; the connection is
//! checked in; the order in which the threads get it is compared with the
//! order in which they arrived.
//!
//! Not a criterion benchmark (it needs its own threads and percentiles). Flags:
//! --quick (few operations), --threads 1,2,8,64, --ops N (per configuration
//! and hold; 200,000 by default: fewer runs too short to show the tails
//! that max wait compares), and, for profilers,
//! --impl sqlpool_rust,sqlpool_rust_strict,sqlpool_rust_unfair,sqlpool_c,
//! r2d2_default,r2d2_unchecked,mutex_condvar, --pool 5+0,5+10,
//! --hold none,point_query, --reps N, --no-fifo.

mod common;

use common::capi::{self, COpts};
use common::POINT_SQL;
use std::ffi::CString;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    /// The Rust API with its defaults: bounded fairness.
    SqlpoolRust,
    /// Strict: first come, first served, direct handoff (0.1's fair on).
    SqlpoolRustStrict,
    /// Barging: returned connections go to whoever asks first (fair off).
    SqlpoolRustUnfair,
    SqlpoolC,
    R2d2Default,
    R2d2Unchecked,
    /// A mutex + condition variable pool, as written by hand.
    MutexCondvar,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::SqlpoolRust => "sqlpool_rust",
            Impl::SqlpoolRustStrict => "sqlpool_rust_strict",
            Impl::SqlpoolRustUnfair => "sqlpool_rust_unfair",
            Impl::SqlpoolC => "sqlpool_c",
            Impl::R2d2Default => "r2d2_default",
            Impl::R2d2Unchecked => "r2d2_unchecked",
            Impl::MutexCondvar => "mutex_condvar",
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
    Condvar(CondvarPool),
}

/// What a C++ user writes by hand: idle connections in a vector under a
/// mutex; a checkout waits on a condition variable; a checkin pushes the
/// connection back and notifies one waiter (who competes with newcomers).
/// Opens up to `capacity` connections on demand, keeps them all.
struct CondvarPool {
    path: String,
    capacity: u32,
    state: Mutex<(Vec<rusqlite::Connection>, u32)>,
    returned: Condvar,
}

impl CondvarPool {
    fn new(path: &str, size: u32, capacity: u32) -> CondvarPool {
        let pool = CondvarPool {
            path: path.to_owned(),
            capacity,
            state: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
        };
        let conns: Vec<_> = (0..size).map(|_| pool.get()).collect();
        for c in conns {
            pool.put(c);
        }
        pool
    }

    fn get(&self) -> rusqlite::Connection {
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(c) = st.0.pop() {
                return c;
            }
            if st.1 < self.capacity {
                st.1 += 1;
                drop(st);
                let c = rusqlite::Connection::open(&self.path).unwrap();
                c.set_prepared_statement_cache_capacity(64);
                return c;
            }
            st = self.returned.wait(st).unwrap();
        }
    }

    fn put(&self, conn: rusqlite::Connection) {
        self.state.lock().unwrap().0.push(conn);
        self.returned.notify_one();
    }
}

struct RunResult {
    ops: u64,
    secs: f64,
    waits_ns: Vec<u64>,
    pool_waits: Option<u64>,
    /// sqlpool: checkouts handed off to a queued waiter, and taken ahead of one.
    handoffs_barges: Option<(u64, u64)>,
}

fn open(imp: Impl, db: &str, size: u32, overflow: u32) -> AnyPool {
    match imp {
        Impl::SqlpoolRust | Impl::SqlpoolRustStrict | Impl::SqlpoolRustUnfair => {
            AnyPool::Rust(common::sqlpool_pool(db, |o| {
                o.set_pool_size(size).unwrap();
                o.set_max_overflow(overflow as i32).unwrap();
                match imp {
                    Impl::SqlpoolRustStrict => drop(o.set_fair(true)),
                    Impl::SqlpoolRustUnfair => drop(o.set_fair(false)),
                    _ => {}
                }
            }))
        }
        Impl::MutexCondvar => AnyPool::Condvar(CondvarPool::new(db, size, size + overflow)),
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
        AnyPool::R2d2(_) | AnyPool::Condvar(_) => None,
    };
    let handoffs_before = match pool {
        AnyPool::Rust(p) => Some(p.handoffs_and_barges()),
        _ => None,
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
                            AnyPool::Condvar(p) => {
                                let conn = p.get();
                                waits.push(t0.elapsed().as_nanos() as u64);
                                if hold == Hold::PointQuery {
                                    let mut st = conn.prepare_cached(POINT_SQL).unwrap();
                                    let ts: i64 = st.query_row([&token[..]], |r| r.get(0)).unwrap();
                                    std::hint::black_box(ts);
                                    drop(st);
                                }
                                p.put(conn);
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
        AnyPool::R2d2(_) | AnyPool::Condvar(_) => None,
    };
    let handoffs_barges = match pool {
        AnyPool::Rust(p) => {
            let (h0, b0) = handoffs_before.unwrap();
            let (h1, b1) = p.handoffs_and_barges();
            Some((h1 - h0, b1 - b0))
        }
        _ => None,
    };
    RunResult {
        ops: per_thread * threads as u64,
        secs,
        waits_ns,
        pool_waits,
        handoffs_barges,
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
        Condvar(rusqlite::Connection),
    }
    let held = match &*pool {
        AnyPool::Rust(p) => Held::Rust(p.checkout().unwrap()),
        AnyPool::C(p) => Held::C(p.checkout()),
        AnyPool::R2d2(p) => Held::R2d2(p.get().unwrap()),
        AnyPool::Condvar(p) => Held::Condvar(p.get()),
    };
    let waiting = |pool: &AnyPool| match pool {
        AnyPool::Rust(p) => Some(p.stats().waiting as usize),
        AnyPool::C(p) => Some(p.stats().waiting as usize),
        AnyPool::R2d2(_) | AnyPool::Condvar(_) => None,
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
                AnyPool::Condvar(p) => {
                    let c = p.get();
                    served(&order);
                    p.put(c);
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
        Held::Condvar(c) => match &*pool {
            AnyPool::Condvar(p) => p.put(c),
            _ => unreachable!("held from this pool"),
        },
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
    let ops_query = if quick { 1_000 } else { ops_empty };
    // Runs vary by ±40 % on a shared 2-core machine: a median of 5.
    let reps: usize = arg_value("--reps")
        .map(|s| s.parse().expect("--reps"))
        .unwrap_or(if quick { 1 } else { 5 });
    let list = |flag: &str| arg_value(flag).map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>());
    let impls: Vec<Impl> = [
        Impl::SqlpoolRust,
        Impl::SqlpoolRustStrict,
        Impl::SqlpoolRustUnfair,
        Impl::SqlpoolC,
        Impl::R2d2Default,
        Impl::R2d2Unchecked,
        Impl::MutexCondvar,
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
        "{:<12} {:<6} {:>4} {:<20} {:>10} {:>9} {:>10} {:>10} {:>11} {:>8} {:>17}",
        "hold", "pool", "thr", "impl", "ops/s", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "waits", "handoffs/barges"
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
        let p999 = common::percentile(&r.waits_ns, 99.9);
        let max = *r.waits_ns.last().unwrap_or(&0);
        println!(
            "{:<12} {:<6} {:>4} {:<20} {:>10.0} {:>9} {:>10} {:>10} {:>11} {:>8} {:>17}",
            hold.name(),
            format!("{size}+{overflow}"),
            t,
            imp.name(),
            ops_s,
            p50,
            p99,
            p999,
            max,
            r.pool_waits.map_or("-".into(), |w| w.to_string()),
            r.handoffs_barges.map_or("-".into(), |(h, b)| format!("{h}/{b}"))
        );
        rows.push(format!(
            "{{\"impl\": \"{}\", \"pool_size\": {size}, \"max_overflow\": {overflow}, \
             \"hold\": \"{}\", \"threads\": {t}, \"ops\": {}, \"secs\": {:.6}, \
             \"ops_per_s\": {ops_s:.1}, \"ops_per_s_runs\": [{}], \"p50_wait_ns\": {p50}, \
             \"p99_wait_ns\": {p99}, \"p999_wait_ns\": {p999}, \"max_wait_ns\": {max}, \"pool_waits\": {}, \
             \"handoffs\": {}, \"barges\": {}}}",
            imp.name(),
            hold.name(),
            r.ops,
            r.secs,
            all.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(", "),
            r.pool_waits.map_or("null".into(), |w| w.to_string()),
            r.handoffs_barges.map_or("null".into(), |(h, _)| h.to_string()),
            r.handoffs_barges.map_or("null".into(), |(_, b)| b.to_string()),
        ));
    }

    let waiters = 16;
    let mut fifo = Vec::new();
    let fifo_impls: &[Impl] = if fifo_check_on {
        &[
            Impl::SqlpoolRust,
            Impl::SqlpoolRustStrict,
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
    // Strict mode promises the order (bounded keeps it for waiters older
    // than its threshold; barging promises none).
    let sqlpool_in_order = fifo
        .iter()
        .filter(|f| f.contains("sqlpool_rust_strict"))
        .all(|f| f.contains("\"in_order\": true"));
    common::write_result(
        "contended",
        &format!(
            "{{\"quick\": {quick}, \"reps\": {reps}, \"runs\": [\n{}\n], \"fifo\": [{}]}}\n",
            rows.join(",\n"),
            fifo.join(", ")
        ),
    );
    assert!(sqlpool_in_order, "sqlpool in strict mode served waiters out of order");
}
