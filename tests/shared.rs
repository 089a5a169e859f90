//! The shared registry: one reference-counted pool per canonical file and
//! options, the process-wide connection budget, idle pools closed, through
//! Rust and through the C API, and after fork().
//!
//! The registry and its limits are process-wide: the tests take LOCK so
//! that they do not change each other's limits.

mod common;

use common::{make_db, query_i64, TempDir};
use sqlpool::ffi::error::*;
use sqlpool::ffi::pool::{sqlpool_checkout, sqlpool_close, sqlpool_get_stats, sqlpool_pool, sqlpool_stats};
use sqlpool::ffi::shared::*;
use sqlpool::{shared, ErrorKind, Options};
use std::ffi::CString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    shared::set_limits(0, None);
    guard
}

fn opts() -> Options {
    Options::default()
}

#[test]
fn the_same_file_by_any_name_is_one_pool_released_by_reference_count() {
    let _g = serial();
    let dir = TempDir::new("shared-same");
    let path = dir.path("a.db");
    make_db(&path, 5);
    let link = dir.path("link.db");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let dotted = format!("{}/./a.db", dir.0.display());

    let a = shared::open_shared(path.to_str().unwrap(), &opts()).unwrap();
    let b = shared::open_shared(&dotted, &opts()).unwrap();
    let c = shared::open_shared(link.to_str().unwrap(), &opts()).unwrap();
    let uri = format!("file:{}", path.display());
    assert!(a.same_pool(&b) && a.same_pool(&c));
    assert_eq!(shared::references(&a), 3);
    assert_eq!(a.stats().connections_created, 1, "opened once");

    // Other options: another pool; a URI: another key.
    let mut other = opts();
    other.set_pool_size(2).unwrap();
    let d = shared::open_shared(path.to_str().unwrap(), &other).unwrap();
    assert!(!a.same_pool(&d));
    let e = shared::open_shared(&uri, &opts()).unwrap();
    assert!(!a.same_pool(&e));
    assert_eq!(
        shared::canonical_key(&uri),
        format!("file:{}", path.canonicalize().unwrap().display())
    );

    shared::release(&b).unwrap();
    shared::release(&c).unwrap();
    assert!(!a.is_closed(), "one reference left");
    assert_eq!(
        query_i64(&mut a.checkout().unwrap(), "SELECT count(*) FROM t").unwrap(),
        5
    );
    shared::release(&a).unwrap();
    assert!(a.is_closed(), "the last release closes the pool");
    assert_eq!(shared::references(&a), 0);
    let err = shared::release(&a).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse);
    // Opened again after it closed: a new pool.
    let f = shared::open_shared(path.to_str().unwrap(), &opts()).unwrap();
    assert!(!f.same_pool(&a));
    for p in [&d, &e, &f] {
        shared::release(p).unwrap();
    }
}

#[test]
fn a_missing_file_fails_and_leaves_nothing_in_the_registry() {
    let _g = serial();
    let dir = TempDir::new("shared-missing");
    let before = shared::stats().pools;
    let err = shared::open_shared(dir.path("nope.db").to_str().unwrap(), &opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CantOpen);
    assert_eq!(shared::stats().pools, before);
}

#[test]
fn the_budget_caps_connections_across_pools_closing_the_least_recently_used() {
    let _g = serial();
    let dir = TempDir::new("shared-cap");
    let files: Vec<_> = (0..6)
        .map(|i| {
            let p = dir.path(&format!("log{i}.db"));
            make_db(&p, 10 + i);
            p
        })
        .collect();
    let base = shared::stats();
    assert_eq!(base.open_connections, 0, "no other shared pool is open");
    shared::set_limits(3, None);
    let mut o = opts();
    o.set_timeout(Duration::from_millis(200));
    // A process reading many files, one after the other, keeps at most 3 open.
    let pools: Vec<_> = files
        .iter()
        .map(|f| shared::open_shared(f.to_str().unwrap(), &o).unwrap())
        .collect();
    for round in 0..3 {
        for (i, pool) in pools.iter().enumerate() {
            let mut conn = pool.checkout().unwrap();
            assert_eq!(query_i64(&mut conn, "SELECT count(*) FROM t").unwrap(), 10 + i as i64);
            assert!(shared::stats().open_connections <= 3, "round {round}");
        }
    }
    let s = shared::stats();
    assert!(s.budget_evictions >= 6, "{s:?}");
    assert_eq!(s.max_connections, 3);

    // All 3 held: a fourth waits its timeout, then fails naming the budget.
    let held: Vec<_> = pools[..3].iter().map(|p| p.checkout().unwrap()).collect();
    let started = Instant::now();
    let err = pools[3].checkout().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("budget of 3"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(shared::stats().budget_timeouts >= 1);
    assert_eq!(pools[3].stats().checked_out, 0, "the failed open gave its place back");

    // A waiter goes on as soon as a held connection goes idle.
    let waiter = {
        let p = pools[4].clone();
        std::thread::spawn(move || {
            let mut o2 = p.checkout().map_err(|e| e.to_string())?;
            query_i64(&mut o2, "SELECT count(*) FROM t").map_err(|e| e.to_string())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    drop(held);
    assert_eq!(waiter.join().unwrap(), Ok(14));
    assert!(shared::stats().budget_waits >= 1);
    assert!(shared::stats().open_connections <= 3);
    for p in &pools {
        shared::release(p).unwrap();
    }
    assert_eq!(
        shared::stats().open_connections,
        0,
        "closing the pools gave the budget back"
    );
    shared::set_limits(0, None);
}

#[test]
fn idle_pools_of_files_not_used_recently_close_their_connections() {
    let _g = serial();
    let dir = TempDir::new("shared-idle");
    let (a_path, b_path) = (dir.path("a.db"), dir.path("b.db"));
    make_db(&a_path, 1);
    make_db(&b_path, 2);
    shared::set_limits(0, Some(Duration::from_millis(100)));
    let a = shared::open_shared(a_path.to_str().unwrap(), &opts()).unwrap();
    drop(a.checkout().unwrap());
    assert_eq!(a.stats().idle, 1);
    // Used recently: kept.
    assert_eq!(shared::sweep(), 0);
    assert_eq!(a.stats().idle, 1);
    std::thread::sleep(Duration::from_millis(150));
    // Opening another file sweeps: a was not used for the idle timeout.
    let b = shared::open_shared(b_path.to_str().unwrap(), &opts()).unwrap();
    assert_eq!(a.stats().idle, 0, "{:?}", a.stats());
    assert_eq!(b.stats().idle, 1, "just opened: kept");
    assert!(shared::stats().idle_disposals >= 1);
    // A held connection is never taken; the pool reopens on demand.
    let mut conn = a.checkout().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    shared::sweep();
    assert_eq!(query_i64(&mut conn, "SELECT count(*) FROM t").unwrap(), 1);
    drop(conn);
    shared::release(&a).unwrap();
    shared::release(&b).unwrap();
    shared::set_limits(0, None);
}

fn c_stats() -> sqlpool_shared_stats {
    let mut s = sqlpool_shared_stats::default();
    // SAFETY: out points to a local of the given size.
    let rc = unsafe { sqlpool_shared_get_stats(&mut s, std::mem::size_of::<sqlpool_shared_stats>()) };
    assert_eq!(rc, SQLPOOL_OK);
    s
}

fn pool_stats(pool: *mut sqlpool_pool) -> sqlpool_stats {
    let mut s = sqlpool_stats::default();
    // SAFETY: out points to a local of the given size.
    assert_eq!(
        unsafe { sqlpool_get_stats(pool, &mut s, std::mem::size_of::<sqlpool_stats>()) },
        SQLPOOL_OK
    );
    s
}

#[test]
fn c_api_handles_share_one_pool_and_the_last_close_closes_it() {
    let _g = serial();
    let dir = TempDir::new("shared-c");
    let path = dir.path("c.db");
    make_db(&path, 3);
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let (mut h1, mut h2): (*mut sqlpool_pool, *mut sqlpool_pool) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: valid C string, out-pointers to locals; NULL options = defaults.
    unsafe {
        assert_eq!(
            sqlpool_open_shared(c_path.as_ptr(), std::ptr::null(), &mut h1),
            SQLPOOL_OK
        );
        assert_eq!(
            sqlpool_open_shared(c_path.as_ptr(), std::ptr::null(), &mut h2),
            SQLPOOL_OK
        );
    }
    assert_ne!(h1, h2, "one handle per call");
    let mut conn = std::ptr::null_mut();
    // SAFETY: live handle, out-pointer to a local.
    assert_eq!(unsafe { sqlpool_checkout(h1, &mut conn) }, SQLPOOL_OK);
    assert_eq!(pool_stats(h2).checked_out, 1, "the same pool behind both handles");
    assert_eq!(sqlpool::ffi::conn::sqlpool_checkin(conn), SQLPOOL_OK);
    assert_eq!(c_stats().pools, 1);

    assert_eq!(sqlpool_close(h1), SQLPOOL_OK);
    assert_eq!(sqlpool_close(h1), SQLPOOL_MISUSE, "closing a handle twice");
    // SAFETY: live handle, out-pointer to a local.
    assert_eq!(unsafe { sqlpool_checkout(h2, &mut conn) }, SQLPOOL_OK, "h2 still works");
    assert_eq!(sqlpool::ffi::conn::sqlpool_checkin(conn), SQLPOOL_OK);
    assert_eq!(sqlpool_close(h2), SQLPOOL_OK);
    // SAFETY: as above.
    assert_eq!(unsafe { sqlpool_checkout(h2, &mut conn) }, SQLPOOL_CLOSED);
    let s = c_stats();
    assert_eq!((s.pools, s.open_connections), (0, 0));

    // Limits and sweep.
    assert_eq!(sqlpool_shared_set_limits(7, 1234), SQLPOOL_OK);
    let s = c_stats();
    assert_eq!((s.max_connections, s.idle_timeout_ms), (7, 1234));
    assert_eq!(sqlpool_shared_set_limits(0, -2), SQLPOOL_INVALID_ARGUMENT);
    assert_eq!(sqlpool_shared_set_limits(0, -1), SQLPOOL_OK);
    assert_eq!(c_stats().idle_timeout_ms, -1);
    let mut n = 99u32;
    // SAFETY: out-pointer to a local, then NULL (allowed).
    unsafe {
        assert_eq!(sqlpool_shared_sweep(&mut n), SQLPOOL_OK);
        assert_eq!(sqlpool_shared_sweep(std::ptr::null_mut()), SQLPOOL_OK);
    }
    assert_eq!(n, 0);
    // SAFETY: NULL and short out-pointers are what is tested.
    unsafe {
        assert_eq!(
            sqlpool_shared_get_stats(std::ptr::null_mut(), 64),
            SQLPOOL_INVALID_ARGUMENT
        );
        let mut s = sqlpool_shared_stats::default();
        assert_eq!(sqlpool_shared_get_stats(&mut s, 0), SQLPOOL_INVALID_ARGUMENT);
        // A shorter (older) struct is filled as far as it reaches (API.md, ABI).
        s.max_connections = 99;
        assert_eq!(sqlpool_shared_get_stats(&mut s, 8), SQLPOOL_OK);
        assert_eq!(s.max_connections, 99, "beyond out_size untouched");
        let mut out = std::ptr::null_mut();
        assert_eq!(
            sqlpool_open_shared(std::ptr::null(), std::ptr::null(), &mut out),
            SQLPOOL_INVALID_ARGUMENT
        );
        assert_eq!(
            sqlpool_open_shared(c_path.as_ptr(), std::ptr::null(), std::ptr::null_mut()),
            SQLPOOL_INVALID_ARGUMENT
        );
        let missing = CString::new(dir.path("missing.db").to_str().unwrap()).unwrap();
        assert_eq!(
            sqlpool_open_shared(missing.as_ptr(), std::ptr::null(), &mut out),
            SQLPOOL_CANTOPEN
        );
        assert!(out.is_null());
    }
}

#[test]
fn after_fork_the_child_starts_with_an_empty_budget() {
    let _g = serial();
    let dir = TempDir::new("shared-fork");
    let path = dir.path("f.db");
    make_db(&path, 4);
    shared::set_limits(1, None);
    let mut o = opts();
    o.set_timeout(Duration::from_millis(300));
    let pool = shared::open_shared(path.to_str().unwrap(), &o).unwrap();
    let held = pool.checkout().unwrap();
    assert_eq!(shared::stats().open_connections, 1);
    // SAFETY: the child only uses the pool and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // The parent's connection is not the child's: the budget is free here.
        let code = match pool.checkout() {
            Ok(mut c) => match query_i64(&mut c, "SELECT count(*) FROM t") {
                Ok(4) if shared::stats().open_connections == 1 => 0,
                _ => 3,
            },
            Err(_) => 2,
        };
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: pid is our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    drop(held);
    shared::release(&pool).unwrap();
    shared::set_limits(0, None);
}

#[test]
fn the_background_thread_sweeps_idle_pools_without_being_asked() {
    let _g = serial();
    let dir = TempDir::new("shared-background");
    let path = dir.path("bg.db");
    make_db(&path, 1);
    shared::set_limits(0, Some(Duration::from_millis(100)));
    let pool = shared::open_shared(path.to_str().unwrap(), &opts()).unwrap();
    drop(pool.checkout().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pool.stats().idle != 0 {
        assert!(std::time::Instant::now() < deadline, "never swept: {:?}", pool.stats());
        std::thread::sleep(Duration::from_millis(50));
    }
    shared::release(&pool).unwrap();
    shared::set_limits(0, None);
}
