//! fork() does not wait for other threads' SQLite calls (issue 10, 3.B): not
//! for a long query, not for a writer's busy wait. The child still opens and
//! queries the same file. Ordering asserts only: "the other thread's call was
//! still running when fork() returned".

mod common;
mod fork_support;

use common::{make_db, TempDir};
use fork_support::{fork_child, wait_child, ChildEnd};
use sqlpool::{Options, Pool};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Runs in the child: a new pool on `path`, a checkout and a query.
fn child_opens_and_queries(path: &Path) -> i32 {
    let Ok(pool) = Pool::open(path.to_str().unwrap(), Options::default()) else {
        return 2;
    };
    let Ok(mut conn) = pool.checkout() else {
        return 3;
    };
    match common::query_i64(&mut conn, "SELECT count(*) FROM t") {
        Ok(5) => 0,
        _ => 4,
    }
}

/// Forks on another thread; returns the child's pid, or None when fork() did
/// not return within the deadline (`unblock` is then called, which lets it
/// return, and the test fails).
fn fork_with_deadline(path: &Path, unblock: impl FnOnce()) -> Option<libc::pid_t> {
    let (sent, received) = mpsc::channel();
    let path = path.to_owned();
    let forker = std::thread::spawn(move || {
        let pid = fork_child(move || child_opens_and_queries(&path));
        sent.send(pid).unwrap();
    });
    let pid = received.recv_timeout(fork_support::CHILD_DEADLINE).ok();
    if pid.is_none() {
        unblock();
        let pid = received.recv().unwrap();
        assert_eq!(wait_child(pid), ChildEnd::Exited(0));
    }
    forker.join().unwrap();
    pid
}

#[test]
fn fork_returns_while_another_thread_runs_a_long_query() {
    let dir = TempDir::new("fork-long-query");
    let path = dir.path("long.db");
    make_db(&path, 5);
    let pool = Pool::open(path.to_str().unwrap(), Options::default()).unwrap();
    let mut conn = pool.checkout().unwrap();
    let interrupt = conn.interrupter();
    let (entered, returned) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let query = {
        let (entered, returned) = (entered.clone(), returned.clone());
        std::thread::spawn(move || {
            entered.store(true, SeqCst);
            // Endless but interruptible, reading t (a read transaction on
            // the file is open all along).
            let result = common::query_i64(
                &mut conn,
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                 SELECT count(*) FROM c, t WHERE c.x < 0",
            );
            returned.store(true, SeqCst);
            result
        })
    };
    while !entered.load(SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(200)); // well inside SQLite now
    let pid = fork_with_deadline(&path, || interrupt());
    let query_was_running = !returned.load(SeqCst);
    interrupt();
    let result = query.join().unwrap();
    assert!(result.is_err(), "the query only ends when interrupted");
    let pid = pid.expect("fork() waited for the other thread's query");
    assert!(query_was_running, "fork() returned only after the query did");
    assert_eq!(wait_child(pid), ChildEnd::Exited(0));
}

#[test]
fn fork_returns_while_another_thread_waits_for_our_write_lock() {
    let dir = TempDir::new("fork-busy-wait");
    let path = dir.path("busy.db");
    make_db(&path, 5);
    let mut opts = Options::default();
    opts.set_busy_timeout(Duration::from_secs(10)).unwrap();
    let pool = Pool::open(path.to_str().unwrap(), opts).unwrap();
    let mut writer = pool.checkout().unwrap();
    writer
        .exec("BEGIN IMMEDIATE; INSERT INTO kv VALUES ('held', 1)")
        .unwrap();
    let (entered, returned) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let waiter = {
        let (pool, entered, returned) = (pool.clone(), entered.clone(), returned.clone());
        std::thread::spawn(move || {
            let mut conn = pool.checkout().unwrap();
            entered.store(true, SeqCst);
            // Waits in SQLite's busy handler for our write lock.
            let result = conn.exec("BEGIN IMMEDIATE; INSERT INTO kv VALUES ('waiter', 2); COMMIT");
            returned.store(true, SeqCst);
            result
        })
    };
    while !entered.load(SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(200)); // in its busy wait now
    let pid = fork_with_deadline(&path, || {});
    let waiter_was_waiting = !returned.load(SeqCst);
    writer.exec("COMMIT").unwrap();
    let waited = waiter.join().unwrap();
    let pid = pid.expect("fork() waited for the other thread's busy wait");
    assert!(waiter_was_waiting, "fork() returned only after the waiter gave up");
    waited.expect("the waiter gets the lock once we commit");
    assert_eq!(wait_child(pid), ChildEnd::Exited(0));
}

/// Measurement, not a check: fork() time while another thread runs an
/// endless query (before the VFS shim, fork() waited for the whole query).
#[test]
#[ignore = "measurement: cargo test --release --test fork_latency -- --ignored --nocapture"]
fn fork_time_while_another_thread_runs_a_long_query() {
    let dir = TempDir::new("fork-time");
    let path = dir.path("time.db");
    make_db(&path, 5);
    let pool = Pool::open(path.to_str().unwrap(), Options::default()).unwrap();
    let mut conn = pool.checkout().unwrap();
    let interrupt = conn.interrupter();
    let query = std::thread::spawn(move || {
        common::query_i64(
            &mut conn,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
             SELECT count(*) FROM c, t WHERE c.x < 0",
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = std::time::Instant::now();
        let pid = fork_child(|| 0);
        times.push(started.elapsed());
        assert_eq!(wait_child(pid), ChildEnd::Exited(0));
    }
    interrupt();
    assert!(query.join().unwrap().is_err());
    times.sort();
    println!(
        "fork() with a query running: median {:?}, max {:?} (20 forks)",
        times[times.len() / 2],
        times[times.len() - 1]
    );
}
