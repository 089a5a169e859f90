//! sqlpool_close through the C API: closed pools give their handle slots
//! back, a stale handle of a closed pool still answers SQLPOOL_CLOSED (and a
//! second close SQLPOOL_MISUSE) without ever reaching the pool now in its
//! slot, calls racing with close succeed or say CLOSED, and close never
//! waits for a checkout that is opening a connection.

mod common;

use common::{ffi_checkout, make_db, TempDir};
use sqlpool::ffi::conn::{sqlpool_checkin, sqlpool_exec, sqlpool_prepare};
use sqlpool::ffi::error::{
    sqlpool_sqlite_errcode, SQLPOOL_CLOSED, SQLPOOL_DONE, SQLPOOL_MISUSE, SQLPOOL_OK, SQLPOOL_ROW, SQLPOOL_SQLITE,
};
use sqlpool::ffi::options::{
    sqlpool_options, sqlpool_options_free, sqlpool_options_new, sqlpool_options_set_busy_timeout_ms,
    sqlpool_options_set_init_sql, sqlpool_options_set_pool_size, sqlpool_options_set_timeout_ms,
};
use sqlpool::ffi::pool::{sqlpool_close, sqlpool_get_stats, sqlpool_open, sqlpool_pool, sqlpool_stats};
use sqlpool::ffi::stmt::{sqlpool_column_int64, sqlpool_finalize, sqlpool_reset, sqlpool_step};
use std::collections::HashSet;
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn open(path: &Path, opts: *const sqlpool_options) -> *mut sqlpool_pool {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut pool = std::ptr::null_mut();
    // SAFETY: a valid C string, options from sqlpool_options_new (or NULL)
    // and an out-pointer to a local.
    assert_eq!(unsafe { sqlpool_open(c_path.as_ptr(), opts, &mut pool) }, SQLPOOL_OK);
    pool
}

fn stats_code(pool: *const sqlpool_pool) -> i32 {
    let mut stats = sqlpool_stats::default();
    // SAFETY: out points to a local of the size passed.
    unsafe { sqlpool_get_stats(pool, &mut stats, std::mem::size_of::<sqlpool_stats>()) }
}

fn stats(pool: *const sqlpool_pool) -> sqlpool_stats {
    let mut stats = sqlpool_stats::default();
    // SAFETY: as above.
    let rc = unsafe { sqlpool_get_stats(pool, &mut stats, std::mem::size_of::<sqlpool_stats>()) };
    assert_eq!(rc, SQLPOOL_OK);
    stats
}

fn slot_of(pool: *mut sqlpool_pool) -> usize {
    pool as usize & 0xffff_ffff
}

#[test]
fn closed_pools_give_their_slots_back_and_their_old_handles_say_closed() {
    let dir = TempDir::new("close-slots");
    let path = dir.path("a.db");
    make_db(&path, 1);
    let mut closed = Vec::new();
    for _ in 0..200 {
        let pool = open(&path, std::ptr::null());
        assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
        closed.push(pool);
    }
    let slots: HashSet<usize> = closed.iter().map(|&p| slot_of(p)).collect();
    assert!(
        slots.len() < closed.len() / 2,
        "closed pools' slots are reused: {} slots for {} pools",
        slots.len(),
        closed.len()
    );
    // A live pool now sits in the slots of closed ones: their handles never
    // reach it.
    let live = open(&path, std::ptr::null());
    let (rc, conn) = ffi_checkout(live);
    assert_eq!(rc, SQLPOOL_OK);
    for &old in &closed {
        assert_eq!(stats_code(old), SQLPOOL_CLOSED);
        assert_eq!(ffi_checkout(old).0, SQLPOOL_CLOSED);
        assert_eq!(sqlpool_close(old), SQLPOOL_MISUSE, "closing twice");
    }
    assert_eq!(stats(live).checked_out, 1, "the live pool was not touched");
    assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
    assert_eq!(sqlpool_close(live), SQLPOOL_OK);
}

#[test]
fn calls_racing_with_close_succeed_or_say_closed() {
    let dir = TempDir::new("close-race");
    let path = dir.path("a.db");
    make_db(&path, 1);
    let current = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (current, done) = (current.clone(), done.clone());
        std::thread::spawn(move || {
            let mut unexpected = Vec::new();
            let mut calls = 0u64;
            while !done.load(Ordering::Acquire) {
                let pool = current.load(Ordering::Acquire) as *const sqlpool_pool;
                if pool.is_null() {
                    continue;
                }
                let rc = stats_code(pool);
                calls += 1;
                if rc != SQLPOOL_OK && rc != SQLPOOL_CLOSED {
                    unexpected.push(rc);
                }
            }
            (calls, unexpected)
        })
    };
    for _ in 0..1000 {
        let pool = open(&path, std::ptr::null());
        current.store(pool as usize, Ordering::Release);
        std::thread::yield_now();
        assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
    }
    done.store(true, Ordering::Release);
    let (calls, unexpected) = prober.join().unwrap();
    assert!(calls > 0);
    assert!(
        unexpected.is_empty(),
        "{} of {calls} calls racing with close returned something else than OK or CLOSED: {:?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    CloseReturned,
    LockReleased,
}

#[test]
fn close_does_not_wait_for_a_checkout_opening_a_connection() {
    let dir = TempDir::new("close-opening");
    let path = dir.path("a.db");
    make_db(&path, 1);
    let opts = sqlpool_options_new();
    assert_eq!(sqlpool_options_set_pool_size(opts, 2), SQLPOOL_OK);
    assert_eq!(sqlpool_options_set_timeout_ms(opts, 60_000), SQLPOOL_OK);
    assert_eq!(sqlpool_options_set_busy_timeout_ms(opts, 60_000), SQLPOOL_OK);
    // A write: a new connection waits here while another holds the lock.
    // SAFETY: a NUL-terminated literal.
    assert_eq!(
        unsafe { sqlpool_options_set_init_sql(opts, c"PRAGMA user_version = 7".as_ptr()) },
        SQLPOOL_OK
    );
    let pool = open(&path, opts);
    sqlpool_options_free(opts);
    let (rc, first) = ffi_checkout(pool);
    assert_eq!(rc, SQLPOOL_OK);

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let blocker = Arc::new(Mutex::new(Some(blocker)));
    let steps = Arc::new(Mutex::new(Vec::new()));
    let release_lock = {
        let (blocker, steps) = (blocker.clone(), steps.clone());
        move || {
            if let Some(b) = blocker.lock().unwrap().take() {
                b.execute_batch("COMMIT").unwrap();
                steps.lock().unwrap().push(Step::LockReleased);
            }
        }
    };

    let pool_addr = pool as usize;
    let opener = std::thread::spawn(move || {
        let (rc, conn) = ffi_checkout(pool_addr as *mut sqlpool_pool);
        if rc == SQLPOOL_OK {
            assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
        }
        rc
    });
    // The second checkout has its place and is opening its connection.
    while stats(pool).checked_out < 2 {
        std::thread::yield_now();
    }
    // Without this, a close that waits for the opener would hang until the
    // opener's busy_timeout: let the lock go after a while, and see the order.
    let watchdog = {
        let release_lock = release_lock.clone();
        let steps = steps.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if steps.lock().unwrap().contains(&Step::CloseReturned) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            release_lock();
        })
    };
    assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
    steps.lock().unwrap().push(Step::CloseReturned);
    release_lock();
    watchdog.join().unwrap();
    let rc = opener.join().unwrap();
    assert!(
        rc == SQLPOOL_OK || rc == SQLPOOL_CLOSED,
        "checkout racing with close: {rc}"
    );
    assert_eq!(sqlpool_checkin(first), SQLPOOL_OK);
    assert_eq!(
        steps.lock().unwrap()[0],
        Step::CloseReturned,
        "close returned before the opening checkout could finish"
    );
}

/// What sqlpool_close's documentation says happens to a checked-out
/// connection: a statement running on it is interrupted; once none runs,
/// the connection works normally until its checkin.
#[test]
fn close_interrupts_a_running_statement_and_the_connection_goes_on() {
    let dir = TempDir::new("close-interrupt");
    let path = dir.path("a.db");
    make_db(&path, 100);
    let pool = open(&path, std::ptr::null());
    let (rc, conn) = ffi_checkout(pool);
    assert_eq!(rc, SQLPOOL_OK);
    let mut stmt = std::ptr::null_mut();
    // SAFETY: a live connection, a NUL-terminated literal, an out-pointer to a local.
    assert_eq!(
        unsafe { sqlpool_prepare(conn, c"SELECT x FROM t ORDER BY x".as_ptr(), &mut stmt) },
        SQLPOOL_OK
    );
    assert_eq!(sqlpool_step(stmt), SQLPOOL_ROW, "running: mid-way through its rows");
    assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
    assert_eq!(sqlpool_step(stmt), SQLPOOL_SQLITE);
    assert_eq!(sqlpool_sqlite_errcode(), 9, "SQLITE_INTERRUPT");
    // Nothing runs any more: the same statement and new ones run normally.
    let _ = sqlpool_reset(stmt);
    assert_eq!(sqlpool_step(stmt), SQLPOOL_ROW);
    assert_eq!(sqlpool_column_int64(stmt, 0), 1);
    assert_eq!(sqlpool_finalize(stmt), SQLPOOL_OK);
    // SAFETY: a live connection and a NUL-terminated literal.
    assert_eq!(
        unsafe { sqlpool_exec(conn, c"SELECT count(*) FROM t".as_ptr()) },
        SQLPOOL_OK
    );
    let mut stmt = std::ptr::null_mut();
    // SAFETY: as above.
    assert_eq!(
        unsafe { sqlpool_prepare(conn, c"SELECT 1".as_ptr(), &mut stmt) },
        SQLPOOL_OK
    );
    assert_eq!(sqlpool_step(stmt), SQLPOOL_ROW);
    assert_eq!(sqlpool_step(stmt), SQLPOOL_DONE);
    assert_eq!(sqlpool_finalize(stmt), SQLPOOL_OK);
    assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
    assert_eq!(stats_code(pool), SQLPOOL_CLOSED);
}
