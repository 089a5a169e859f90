//! fork() while other threads churn every table of the C API (options, pools,
//! shared pools, connections, statements): no lock of the library may be
//! left held in the child, whose first calls must all work (issue 10, 3.A).

mod common;
mod fork_support;

use common::{make_db, TempDir};
use fork_support::fork_children;
use sqlpool::ffi::conn::{sqlpool_checkin, sqlpool_conn, sqlpool_exec, sqlpool_prepare};
use sqlpool::ffi::error::{SQLPOOL_OK, SQLPOOL_ROW};
use sqlpool::ffi::options::{sqlpool_options_free, sqlpool_options_new, sqlpool_options_set_busy_timeout_ms};
use sqlpool::ffi::pool::{sqlpool_checkout, sqlpool_close, sqlpool_open, sqlpool_pool};
use sqlpool::ffi::shared::sqlpool_open_shared;
use sqlpool::ffi::stmt::{sqlpool_column_int64, sqlpool_finalize, sqlpool_step, sqlpool_stmt};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const FORKS: usize = 60;

/// Opens a pool on `path` (shared or not) with fresh options, checks out,
/// counts t's rows, and closes everything; the error step's number, or 0.
fn open_query_close(path: &CStr, shared: bool, rows: i64) -> i32 {
    let opts = sqlpool_options_new();
    if opts.is_null() {
        return 10;
    }
    let mut pool: *mut sqlpool_pool = std::ptr::null_mut();
    // SAFETY: valid C string, live options, out-pointer to a local.
    let rc = unsafe {
        sqlpool_options_set_busy_timeout_ms(opts, 5_000);
        if shared {
            sqlpool_open_shared(path.as_ptr(), opts, &mut pool)
        } else {
            sqlpool_open(path.as_ptr(), opts, &mut pool)
        }
    };
    sqlpool_options_free(opts);
    if rc != SQLPOOL_OK {
        return 11;
    }
    let mut conn: *mut sqlpool_conn = std::ptr::null_mut();
    // SAFETY: a live pool, out-pointer to a local.
    if unsafe { sqlpool_checkout(pool, &mut conn) } != SQLPOOL_OK {
        return 12;
    }
    let code = count_rows(conn, rows);
    if sqlpool_checkin(conn) != SQLPOOL_OK {
        return 16;
    }
    if sqlpool_close(pool) != SQLPOOL_OK {
        return 17;
    }
    code
}

fn count_rows(conn: *mut sqlpool_conn, rows: i64) -> i32 {
    let sql = c"SELECT count(*) FROM t";
    let mut stmt: *mut sqlpool_stmt = std::ptr::null_mut();
    // SAFETY: a live connection, a valid C string, out-pointer to a local.
    if unsafe { sqlpool_prepare(conn, sql.as_ptr(), &mut stmt) } != SQLPOOL_OK {
        return 13;
    }
    if sqlpool_step(stmt) != SQLPOOL_ROW || sqlpool_column_int64(stmt, 0) != rows {
        return 14;
    }
    if sqlpool_finalize(stmt) != SQLPOOL_OK {
        return 15;
    }
    // SAFETY: a live connection and a valid C string.
    if unsafe { sqlpool_exec(conn, c"SELECT 1".as_ptr()) } != SQLPOOL_OK {
        return 18;
    }
    0
}

#[test]
fn a_child_forked_while_threads_churn_every_table_can_use_the_library() {
    let dir = TempDir::new("fork-locks");
    let path = dir.path("locks.db");
    make_db(&path, 7);
    let c_path = CString::new(path.to_str().unwrap()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let spawn = |work: fn(&CStr) -> bool| {
        let (stop, rounds, c_path) = (stop.clone(), rounds.clone(), c_path.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert!(work(&c_path), "churn step failed");
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let churners = vec![
        spawn(|_| {
            sqlpool_options_free(sqlpool_options_new());
            true
        }),
        spawn(|_| {
            sqlpool_options_free(sqlpool_options_new());
            true
        }),
        spawn(|p| open_query_close(p, false, 7) == 0),
        spawn(|p| open_query_close(p, true, 7) == 0),
    ];
    while rounds.load(Ordering::Relaxed) < 1_000 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }

    let failures = fork_children(FORKS, || {
        let private = open_query_close(&c_path, false, 7);
        if private != 0 {
            return private;
        }
        open_query_close(&c_path, true, 7)
    });
    stop.store(true, Ordering::Relaxed);
    for t in churners {
        t.join().unwrap();
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// The same with a WAL database that other threads write: the shared-memory
/// lock paths (xShmMap/xShmLock) run all the time. The child reads (a write
/// there can see SQLITE_BUSY: SQLite's per-process lock bookkeeping, copied
/// from the parent, still counts the parent's connections; see README).
#[test]
fn a_child_forked_while_threads_write_a_wal_database_can_read_it() {
    use sqlpool::{Options, Pool};
    let dir = TempDir::new("fork-wal");
    let path = dir.path("wal.db");
    make_db(&path, 7);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "journal_mode", "wal")
        .unwrap();
    let mut opts = Options::default();
    opts.set_busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    opts.set_pool_size(4).unwrap();
    let pool = Pool::open(path.to_str().unwrap(), opts.clone()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|n| {
            let (pool, stop, writes) = (pool.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut c = pool.checkout().unwrap();
                    c.exec(&format!("INSERT OR REPLACE INTO kv VALUES ('w{n}-{}', {i})", i % 50))
                        .unwrap();
                    common::query_i64(&mut c, "SELECT count(*) FROM kv").unwrap();
                    i += 1;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while writes.load(Ordering::Relaxed) < 100 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let failures = fork_children(30, || {
        let Ok(pool) = Pool::open(path.to_str().unwrap(), opts.clone()) else {
            return 2;
        };
        let Ok(mut c) = pool.checkout() else {
            return 3;
        };
        if common::query_i64(&mut c, "SELECT count(*) FROM kv").is_err() {
            return 4;
        }
        match common::query_i64(&mut c, "SELECT count(*) FROM t") {
            Ok(7) => 0,
            _ => 5,
        }
    });
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// A shared-cache database (the in-memory URI the library suggests): SQLite
/// holds the shared btree's mutex across whole calls, outside the VFS, so
/// fork() must wait for those connections' calls, also when several threads
/// fork at once; the child then reads it.
#[test]
fn a_child_forked_while_threads_query_a_shared_cache_database_can_query_it() {
    use sqlpool::{Options, Pool};
    let uri = format!("file:fork-shared-{}?mode=memory&cache=shared", std::process::id());
    let mut opts = Options::default();
    opts.set_pool_size(3).unwrap();
    let pool = Pool::open(&uri, opts.clone()).unwrap();
    let mut keep = pool.checkout().unwrap(); // keeps the shared memory database alive
    keep.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, stop, queries) = (pool.clone(), stop.clone(), queries.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut c = pool.checkout().unwrap();
                    common::query_i64(
                        &mut c,
                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) \
                         SELECT count(*) FROM c, t",
                    )
                    .unwrap();
                    queries.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while queries.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let child = || {
        let Ok(pool) = Pool::open(&uri, opts.clone()) else {
            return 2;
        };
        let Ok(mut c) = pool.checkout() else {
            return 3;
        };
        match common::query_i64(&mut c, "SELECT count(*) FROM t") {
            Ok(1) => 0,
            _ => 4,
        }
    };
    // Three threads fork at once: their handlers may run at the same time.
    let failures: Vec<String> = std::thread::scope(|s| {
        let forkers: Vec<_> = (0..3).map(|_| s.spawn(|| fork_children(20, child))).collect();
        forkers.into_iter().flat_map(|f| f.join().unwrap()).collect()
    });
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    drop(keep);
    assert!(failures.is_empty(), "{failures:?}");
}
