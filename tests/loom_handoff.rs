//! loom models of the concurrency core: the futex mutex (src/sync.rs) and the
//! handoff (src/handoff.rs) in each fairness mode. loom runs each model under
//! every interleaving (up to LOOM_MAX_PREEMPTIONS) and fails on a data race,
//! a failed assert, or a deadlock: a thread asleep for ever is a lost wake-up.
//! Run: scripts/loom.sh (RUSTFLAGS="--cfg loom" cargo test --release --test loom_handoff).

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use sqlpool::handoff::{CloseReason, Fairness, Grant, Handoff, Refused, Returned, Rules};
use sqlpool::sync::ForkMutex;
use std::time::Duration;

/// Never times out: the deadline overflows, so the waiter parks without one
/// (and loom reports a deadlock if nobody wakes it).
const FOREVER: Duration = Duration::MAX;

const MODES: [Fairness; 3] = [Fairness::Strict, Fairness::Bounded, Fairness::Barging];

fn rules(fairness: Fairness, capacity: u32) -> Rules {
    Rules {
        capacity,
        pool_size: capacity,
        lifo: false,
        fairness,
        min_threshold: Duration::from_millis(2),
    }
}

/// A connection id, from a grant (an `Open` grant "opens" connection `fresh`).
fn conn_of(grant: Grant<u32>, fresh: u32) -> u32 {
    match grant {
        Grant::Idle(conn) => conn,
        Grant::Open { .. } => fresh,
    }
}

fn checkin(pool: &Handoff<u32>, conn: u32) {
    assert!(matches!(pool.checkin(conn, true), Returned::Kept));
}

#[test]
fn the_mutex_excludes_and_loses_no_wake_up() {
    loom::model(|| {
        let counter = Arc::new(ForkMutex::new(0u32));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || {
                    *counter.lock() += 1;
                })
            })
            .collect();
        *counter.lock() += 1;
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 3);
    });
}

/// Issue 11's lost wake-up: a pool of 1, a waiter with a short timeout and
/// one without. The connection comes back while the first is timing out; if
/// it leaves without passing on the wake-up, the second sleeps for ever next
/// to an idle connection (a deadlock to loom).
#[test]
fn a_timeout_racing_a_checkin_loses_no_wake_up() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 1), [1u32]));
            let (held, _) = pool.checkout(FOREVER).unwrap();
            let hurried = {
                let pool = pool.clone();
                thread::spawn(move || match pool.checkout(Duration::from_millis(2)) {
                    Ok((grant, _)) => checkin(&pool, conn_of(grant, 2)),
                    Err(refused) => assert!(matches!(refused, Refused::TimedOut { .. })),
                })
            };
            let patient = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let (grant, _) = pool.checkout(FOREVER).expect("the patient waiter is served");
                    checkin(&pool, conn_of(grant, 3));
                })
            };
            checkin(&pool, conn_of(held, 0));
            hurried.join().unwrap();
            patient.join().unwrap();
            let st = pool.lock().snapshot_counts();
            assert_eq!((st.open, st.checked_out, st.idle, st.waiting), (1, 0, 1, 0));
        });
    }
}

/// Close while a checkout waits: it wakes with Closed; the held connection
/// is closed at its checkin.
#[test]
fn close_wakes_a_waiter_with_closed() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 1), [1u32]));
            let (held, _) = pool.checkout(FOREVER).unwrap();
            let waiter = {
                let pool = pool.clone();
                thread::spawn(move || match pool.checkout(FOREVER) {
                    Ok((grant, _)) => {
                        // Served before the close: its checkin after the close closes it.
                        let conn = conn_of(grant, 2);
                        pool.checkin(conn, true);
                    }
                    Err(refused) => assert!(matches!(refused, Refused::Closed { .. })),
                })
            };
            let closer = {
                let pool = pool.clone();
                thread::spawn(move || {
                    pool.close().expect("closed once");
                })
            };
            let returned = pool.checkin(conn_of(held, 0), true);
            closer.join().unwrap();
            waiter.join().unwrap();
            if let Returned::Close(_, reason) = returned {
                assert_eq!(reason, CloseReason::PoolClosed);
            }
            let st = pool.lock().snapshot_counts();
            assert_eq!((st.open, st.checked_out, st.idle, st.waiting), (0, 0, 0, 0));
            assert!(matches!(
                pool.checkout(FOREVER),
                Err(Refused::Closed { while_waiting: false })
            ));
        });
    }
}

/// A checkout granted the right to open a connection fails to open it: the
/// right passes to the waiter, who must not sleep for ever.
#[test]
fn a_failed_open_passes_the_right_on() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 2), [1u32]));
            let (held, _) = pool.checkout(FOREVER).unwrap();
            let (open_right, _) = pool.checkout(FOREVER).unwrap();
            assert!(matches!(open_right, Grant::Open { .. }));
            let waiter = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let (grant, _) = pool.checkout(FOREVER).expect("served after the failed open");
                    checkin(&pool, conn_of(grant, 3));
                })
            };
            let opener = {
                let pool = pool.clone();
                thread::spawn(move || pool.open_failed())
            };
            opener.join().unwrap();
            waiter.join().unwrap();
            checkin(&pool, conn_of(held, 0));
            let st = pool.lock().snapshot_counts();
            assert_eq!((st.checked_out, st.waiting), (0, 0));
            assert!(st.open <= 2 && st.idle == st.open);
        });
    }
}

/// Two checkouts compete on a pool of 1: never two holders at once (each
/// holder counts itself in), and both are served.
#[test]
fn one_connection_never_has_two_holders() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 1), [1u32]));
            let holders = Arc::new(loom::sync::atomic::AtomicU32::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, holders) = (pool.clone(), holders.clone());
                    thread::spawn(move || {
                        let (grant, _) = pool.checkout(FOREVER).unwrap();
                        let conn = conn_of(grant, 9);
                        assert_eq!(conn, 1, "capacity 1: never a second connection");
                        assert_eq!(holders.fetch_add(1, loom::sync::atomic::Ordering::SeqCst), 0);
                        holders.fetch_sub(1, loom::sync::atomic::Ordering::SeqCst);
                        checkin(&pool, conn);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(pool.lock().counts().checkouts, 2);
        });
    }
}

/// Waiters are woken one at a time: after the main thread's checkin, two
/// queued waiters must each be served in turn (the first, once done, wakes
/// the second), whatever the interleaving.
#[test]
fn two_waiters_are_both_served_one_wake_up_at_a_time() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 1), [1u32]));
            let (held, _) = pool.checkout(FOREVER).unwrap();
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let pool = pool.clone();
                    thread::spawn(move || {
                        let (grant, _) = pool.checkout(FOREVER).expect("served");
                        checkin(&pool, conn_of(grant, 9));
                    })
                })
                .collect();
            checkin(&pool, conn_of(held, 0));
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(pool.lock().counts().checkouts, 3);
        });
    }
}

/// Bounded with a 1 ms threshold: two connections come back while two
/// waiters queue, so that wake-ups (young queue) and direct handoffs (old
/// queue, by the model's clocks) mix; both waiters are served.
#[test]
fn bounded_mixes_wake_ups_and_handoffs_and_serves_every_waiter() {
    loom::model(|| {
        let mut bounded = rules(Fairness::Bounded, 2);
        bounded.min_threshold = Duration::from_millis(1);
        let pool = Arc::new(Handoff::new(bounded, [1u32, 2]));
        let (first, _) = pool.checkout(FOREVER).unwrap();
        let (second, _) = pool.checkout(FOREVER).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let (grant, _) = pool.checkout(FOREVER).expect("served");
                    checkin(&pool, conn_of(grant, 9));
                })
            })
            .collect();
        checkin(&pool, conn_of(first, 0));
        checkin(&pool, conn_of(second, 0));
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(pool.lock().counts().checkouts, 4);
    });
}

/// Returns `conn` as the pool does: parked if the slot takes it, else
/// checked in under the lock. Whether the return closed it (pool closed).
fn return_conn(pool: &Handoff<u32>, conn: u32) -> bool {
    let Err(conn) = pool.try_park(conn) else {
        return false;
    };
    match pool.checkin(conn, true) {
        Returned::Kept => false,
        Returned::Close(_, reason) => {
            assert_eq!(reason, CloseReason::PoolClosed);
            true
        }
    }
}

/// The parked slot (one compare-and-swap per checkout or checkin, no lock)
/// races close: a checkout from the slot and the checkin that parks the
/// connection again, while another thread closes the pool. The connection
/// is closed exactly once (by close, or by its checkin after the close),
/// never handed out after the close, and the counts add up.
#[test]
fn the_parked_slot_racing_close_closes_its_connection_once() {
    loom::model(|| {
        let pool = Arc::new(Handoff::new(rules(Fairness::Strict, 1), [1u32]));
        drop(pool.lock()); // unlocking parks the one idle connection
        let user = {
            let pool = pool.clone();
            thread::spawn(move || match pool.try_checkout() {
                Ok(Some(grant)) => {
                    let conn = conn_of(grant, 2);
                    assert_eq!(conn, 1, "capacity 1: never a second connection");
                    u32::from(return_conn(&pool, conn))
                }
                Ok(None) => panic!("nobody else holds the connection"),
                Err(refused) => {
                    assert_eq!(refused, Refused::Closed { while_waiting: false });
                    0
                }
            })
        };
        let closed_by_close = pool.close().expect("closed once").len() as u32;
        let closed_by_checkin = user.join().unwrap();
        assert_eq!(closed_by_close + closed_by_checkin, 1);
        let st = pool.lock().snapshot_counts();
        assert_eq!((st.open, st.checked_out, st.idle, st.waiting), (0, 0, 0, 0));
        assert!(pool.try_checkout().is_err(), "closed");
    });
}

/// A waiter arrives while the holder returns the connection through the
/// parked slot: the waiter either finds it parked (and takes it under the
/// lock) or disables the slot first, so the checkin goes under the lock and
/// serves the queue. Never a waiter asleep next to a parked connection (a
/// deadlock to loom). A second thread checks out through the slot meanwhile.
#[test]
fn a_waiter_arriving_while_a_checkin_parks_is_served() {
    for mode in MODES {
        loom::model(move || {
            let pool = Arc::new(Handoff::new(rules(mode, 1), [1u32]));
            let held = conn_of(pool.try_checkout().unwrap().expect("idle"), 0);
            let waiter = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let (grant, _) = pool.checkout(FOREVER).expect("served");
                    assert!(!return_conn(&pool, conn_of(grant, 9)));
                })
            };
            let newcomer = {
                let pool = pool.clone();
                thread::spawn(move || {
                    if let Ok(Some(grant)) = pool.try_checkout() {
                        assert!(!return_conn(&pool, conn_of(grant, 9)));
                    }
                })
            };
            assert!(!return_conn(&pool, held));
            waiter.join().unwrap();
            newcomer.join().unwrap();
            let st = pool.lock().snapshot_counts();
            assert_eq!((st.open, st.checked_out, st.idle, st.waiting), (1, 0, 1, 0));
        });
    }
}

/// The monitor's sweep of lingering snapshots (PoolShared::
/// end_lingering_snapshots) visits the idle connections in place, under the
/// lock, while their holder returns one through the parked slot and checks
/// it out and back again. The checkout always finds it (a sweep that took the idle
/// connections out of the pool left it looking empty: a checkout then opened
/// another connection), and the flag protocol never loses it: the checkin
/// sets `lingering` (a Release swap) after the connection is idle and the
/// sweep clears it (AcqRel) before looking, so either the sweep saw the
/// connection or the flag is still set for the next one. With a Relaxed
/// flag loom finds a sweep that reads the second checkin's flag yet misses
/// its parked connection.
#[test]
fn the_idle_sweep_hides_no_connection_and_misses_no_lingering_one() {
    use loom::sync::atomic::{
        AtomicBool,
        Ordering::{AcqRel, Relaxed, Release},
    };
    loom::model(|| {
        let pool = Arc::new(Handoff::new(rules(Fairness::Bounded, 1), [1u32]));
        let held = conn_of(pool.try_checkout().unwrap().expect("idle"), 0);
        let lingering = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicBool::new(false));
        let sweeper = {
            let (pool, lingering, seen) = (pool.clone(), lingering.clone(), seen.clone());
            thread::spawn(move || {
                if lingering.swap(false, AcqRel) {
                    let removed = pool.sweep_idle(|conn| {
                        assert_eq!(*conn, 1);
                        seen.store(true, Relaxed);
                        true
                    });
                    assert!(removed.is_empty());
                }
            })
        };
        assert!(!return_conn(&pool, held));
        lingering.swap(true, Release);
        let again = pool
            .try_checkout()
            .unwrap()
            .expect("the sweep never hides the idle connection");
        assert_eq!(conn_of(again, 2), 1, "capacity 1: never a second connection");
        assert!(!return_conn(&pool, 1));
        lingering.swap(true, Release);
        sweeper.join().unwrap();
        assert!(
            lingering.load(Relaxed) || seen.load(Relaxed),
            "the lingering connection was missed"
        );
        let st = pool.lock().snapshot_counts();
        assert_eq!((st.open, st.checked_out, st.idle), (1, 0, 1));
    });
}
