//! fork() while other threads hammer the pool: every child checks out and
//! queries on fresh connections, pre-fork handles are MISUSE there, no child
//! hangs, and the parent keeps its connections.

mod common;
mod fork_support;

use common::{make_db, query_i64, TempDir};
use fork_support::fork_children;
use sqlpool::ffi::conn::{sqlpool_conn, sqlpool_exec};
use sqlpool::ffi::error::{SQLPOOL_MISUSE, SQLPOOL_OK};
use sqlpool::ffi::pool::{
    sqlpool_checkout, sqlpool_close, sqlpool_get_stats, sqlpool_open, sqlpool_pool, sqlpool_stats,
};
use sqlpool::{Fairness, Options, Pool};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FORKS: usize = 50;

/// Runs in the child: returns the exit code (0 = every check passed).
fn child_checks(pool: &Pool, c_pool: *mut sqlpool_pool, pre_fork_conn: *mut sqlpool_conn) -> i32 {
    let mut conn = match pool.checkout() {
        Ok(c) => c,
        Err(_) => return 2,
    };
    if query_i64(&mut conn, "SELECT count(*) FROM t").ok() != Some(50) {
        return 3;
    }
    drop(conn);
    let stats = pool.stats();
    if stats.connections_created != 1 || stats.checkouts != 1 {
        return 4; // counts start again at the fork, on a fresh connection
    }
    let select = CString::new("SELECT 1").unwrap();
    // SAFETY: a handle from before the fork and a valid C string.
    if unsafe { sqlpool_exec(pre_fork_conn, select.as_ptr()) } != SQLPOOL_MISUSE {
        return 5;
    }
    let mut fresh: *mut sqlpool_conn = std::ptr::null_mut();
    // SAFETY: out-pointer to a local.
    if unsafe { sqlpool_checkout(c_pool, &mut fresh) } != SQLPOOL_OK {
        return 6;
    }
    // SAFETY: a live handle and a valid C string.
    if unsafe { sqlpool_exec(fresh, select.as_ptr()) } != SQLPOOL_OK {
        return 7;
    }
    0
}

#[test]
fn fork_while_six_threads_hammer_the_pool() {
    fork_while_six_threads_hammer(Fairness::Bounded);
}

#[test]
fn fork_while_six_threads_hammer_a_strict_pool() {
    fork_while_six_threads_hammer(Fairness::Strict);
}

#[test]
fn fork_while_six_threads_hammer_a_barging_pool() {
    fork_while_six_threads_hammer(Fairness::Barging);
}

fn fork_while_six_threads_hammer(fairness: Fairness) {
    let dir = TempDir::new(&format!("fork-{fairness:?}"));
    let path = dir.path("fork.db");
    make_db(&path, 50);
    let mut opts = Options::default();
    opts.set_pool_size(3).unwrap().set_max_overflow(3).unwrap();
    opts.set_fairness(fairness, Duration::ZERO).unwrap();
    let pool = Pool::open(path.to_str().unwrap(), opts).unwrap();

    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut c_pool: *mut sqlpool_pool = std::ptr::null_mut();
    let mut pre_fork_conn: *mut sqlpool_conn = std::ptr::null_mut();
    // SAFETY: valid C string and out-pointers to locals.
    unsafe {
        assert_eq!(sqlpool_open(c_path.as_ptr(), std::ptr::null(), &mut c_pool), SQLPOOL_OK);
        assert_eq!(sqlpool_checkout(c_pool, &mut pre_fork_conn), SQLPOOL_OK);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(AtomicU64::new(0));
    let hammers: Vec<_> = (0..6)
        .map(|_| {
            let (pool, stop, queries) = (pool.clone(), stop.clone(), queries.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut c = pool.checkout().unwrap();
                    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 50);
                    queries.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while queries.load(Ordering::Relaxed) < 100 {
        std::thread::sleep(Duration::from_millis(1));
    }

    let failures = fork_children(FORKS, || child_checks(&pool, c_pool, pre_fork_conn));
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    assert!(failures.is_empty(), "{failures:?}");

    // The parent kept its connections: nothing was reopened for the forks,
    // and its pre-fork handle still works.
    let select = CString::new("SELECT 1").unwrap();
    // SAFETY: live handles, valid C string, out-pointer to a local.
    unsafe {
        assert_eq!(sqlpool_exec(pre_fork_conn, select.as_ptr()), SQLPOOL_OK);
        let mut stats = sqlpool_stats::default();
        assert_eq!(
            sqlpool_get_stats(c_pool, &mut stats, std::mem::size_of::<sqlpool_stats>()),
            SQLPOOL_OK
        );
        assert_eq!(stats.connections_created, 1);
        assert_eq!(sqlpool::ffi::conn::sqlpool_checkin(pre_fork_conn), SQLPOOL_OK);
        assert_eq!(sqlpool_close(c_pool), SQLPOOL_OK);
    }
    let s = pool.stats();
    assert_eq!(s.checked_out, 0);
    assert_eq!(
        s.idle as u64,
        s.connections_created - s.connections_closed,
        "nothing lost: {s:?}"
    );
}

/// In a child that dropped root (root reads any file), a database made
/// unreadable under a live pool gives SQLPOOL_CANTOPEN naming the path, and
/// the pool serves again once the file is readable.
#[test]
fn an_unreadable_file_is_cantopen_and_the_pool_recovers() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        // Not root: the file's owner is us, so chmod 000 is enough.
        unreadable_checks(&make_owned_db("unreadable-user"));
        return;
    }
    let (dir, path) = make_owned_db("unreadable-root");
    const NOBODY: u32 = 65534;
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let c_dir = CString::new(dir.0.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings; giving the directory and file to nobody.
    unsafe {
        assert_eq!(libc::chown(c_dir.as_ptr(), NOBODY, NOBODY), 0);
        assert_eq!(libc::chown(c_path.as_ptr(), NOBODY, NOBODY), 0);
    }
    let pool = Pool::open(path.to_str().unwrap(), Options::default()).unwrap();
    drop(pool.checkout().unwrap());
    // SAFETY: the child only runs unreadable_checks and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: dropping privileges in the child.
        let dropped = unsafe { libc::setgid(NOBODY) == 0 && libc::setuid(NOBODY) == 0 };
        let code = if !dropped {
            10
        } else {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unreadable_checks_on(&pool, &path))) {
                Ok(()) => 0,
                Err(_) => 11,
            }
        };
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "checks failed in the child (10: setuid, 11: an assertion)"
    );
    drop(dir);
}

fn make_owned_db(tag: &str) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new(tag);
    let path = dir.path("u.db");
    make_db(&path, 3);
    (dir, path)
}

fn unreadable_checks((_dir, path): &(TempDir, std::path::PathBuf)) {
    let pool = Pool::open(path.to_str().unwrap(), Options::default()).unwrap();
    unreadable_checks_on(&pool, path);
}

fn unreadable_checks_on(pool: &Pool, path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    pool.dispose();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let err = pool.checkout().unwrap_err();
    assert_eq!(err.kind(), sqlpool::ErrorKind::CantOpen, "{err}");
    assert!(err.message().contains(path.to_str().unwrap()), "{err}");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 3);
}
