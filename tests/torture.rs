//! Torture: 64 threads on a pool of 5 + 10 with random hold times, random
//! timeouts, invalidate and dispose mixed in. The cap is never exceeded, no
//! connection has two holders, nothing is lost, and a watchdog fails the run
//! instead of letting a deadlock hang it. `SQLPOOL_STRESS_OPS` sets the
//! checkouts per thread (scripts/stress.sh runs the long form).

mod common;

use common::{make_db, open, opts, query_i64, TempDir};
use sqlpool::{ErrorKind, Fairness};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const THREADS: usize = 64;
const POOL_SIZE: u32 = 5;
const MAX_OVERFLOW: i32 = 10;

fn ops_per_thread() -> u64 {
    std::env::var("SQLPOOL_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The default mode, bounded.
#[test]
fn sixty_four_threads_on_five_plus_ten() {
    torture(Fairness::Bounded);
}

/// The same in strict and barging mode: the same invariants hold.
#[test]
fn sixty_four_threads_on_five_plus_ten_strict() {
    torture(Fairness::Strict);
}

#[test]
fn sixty_four_threads_on_five_plus_ten_barging() {
    torture(Fairness::Barging);
}

fn torture(fairness: Fairness) {
    let dir = TempDir::new(&format!("torture-{fairness:?}"));
    let path = dir.path("t.db");
    make_db(&path, 100);
    let mut o = opts();
    o.set_fairness(fairness, Duration::ZERO).unwrap();
    o.set_pool_size(POOL_SIZE)
        .unwrap()
        .set_max_overflow(MAX_OVERFLOW)
        .unwrap();
    o.set_timeout(Duration::from_secs(10));
    let pool = open(&path, o);
    let cap = (POOL_SIZE as i32 + MAX_OVERFLOW) as usize;

    let holders = Arc::new(Mutex::new(HashSet::new()));
    let held_now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let timeouts = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ops = ops_per_thread();

    // Samples the pool's own counts while the workers run.
    let sampler = {
        let (pool, stop) = (pool.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut samples = 0u64;
            while !stop.load(SeqCst) {
                let s = pool.stats();
                let open = (s.overflow + s.pool_size as i32) as usize;
                assert!(open <= cap, "{open} open > cap {cap}: {s:?}");
                assert!(s.checked_out as usize <= cap, "{s:?}");
                samples += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            samples
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, holders, held_now, peak, done, timeouts) = (
                pool.clone(),
                holders.clone(),
                held_now.clone(),
                peak.clone(),
                done.clone(),
                timeouts.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                for _ in 0..ops {
                    let roll = rng.next() % 100;
                    let attempt = if roll < 10 {
                        pool.checkout_timeout(Duration::from_micros(rng.next() % 500))
                    } else {
                        pool.checkout()
                    };
                    let mut conn = match attempt {
                        Ok(c) => c,
                        Err(e) if e.kind() == ErrorKind::Timeout && roll < 10 => {
                            timeouts.fetch_add(1, SeqCst);
                            continue;
                        }
                        Err(e) => panic!("checkout failed: {e}"),
                    };
                    let now = held_now.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    assert!(
                        holders.lock().unwrap().insert(conn.id()),
                        "connection {} has two holders",
                        conn.id()
                    );
                    if roll % 4 == 0 {
                        let x = (rng.next() % 100 + 1) as i64;
                        assert_eq!(
                            query_i64(&mut conn, &format!("SELECT x FROM t WHERE x = {x}")).unwrap(),
                            x
                        );
                    }
                    let hold = rng.next() % 200;
                    if hold > 150 {
                        std::thread::sleep(Duration::from_micros(hold));
                    }
                    if roll == 42 {
                        conn.invalidate();
                    }
                    holders.lock().unwrap().remove(&conn.id());
                    held_now.fetch_sub(1, SeqCst);
                    drop(conn);
                    if roll == 7 && rng.next() % 8 == 0 {
                        pool.dispose();
                    }
                    done.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();

    // Watchdog: progress must not stall.
    let deadline_per_stall = Duration::from_secs(60);
    let mut last = (0, Instant::now());
    while workers.iter().any(|w| !w.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        let now = done.load(SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > deadline_per_stall {
            stop.store(true, SeqCst);
            panic!("no progress for {deadline_per_stall:?} (deadlock?): {:?}", pool.stats());
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, SeqCst);
    let samples = sampler.join().unwrap();

    let s = pool.stats();
    assert!(peak.load(SeqCst) <= cap, "peak {} > cap {cap}", peak.load(SeqCst));
    assert_eq!(s.checked_out, 0);
    assert_eq!(s.waiting, 0);
    assert_eq!(
        s.idle as u64,
        s.connections_created - s.connections_closed,
        "nothing lost: {s:?}"
    );
    assert_eq!(s.checkouts, done.load(SeqCst), "every successful checkout counted once");
    assert_eq!(s.checkouts + timeouts.load(SeqCst), THREADS as u64 * ops);
    println!(
        "torture ({fairness:?}): {} checkouts, {} timeouts, {} waits, {} created, {} closed, peak {} held, {samples} samples",
        s.checkouts,
        s.timeouts,
        s.waits,
        s.connections_created,
        s.connections_closed,
        peak.load(SeqCst)
    );
}
