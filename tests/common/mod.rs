//! Helpers shared by the integration tests.
#![allow(dead_code)]

use sqlpool::ffi::conn::sqlpool_conn;
use sqlpool::ffi::pool::{sqlpool_checkout, sqlpool_pool};
use sqlpool::{Connection, Options, Pool, Result};
use std::path::{Path, PathBuf};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sqlpool-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes a database at `path` with table t(x) holding 1..=rows.
pub fn make_db(path: &Path, rows: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE t(x INTEGER); CREATE TABLE kv(k TEXT PRIMARY KEY, v)")
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 1..=rows {
        tx.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
    }
    tx.commit().unwrap();
}

pub fn opts() -> Options {
    Options::default()
}

pub fn open(path: &Path, opts: Options) -> Pool {
    Pool::open(path.to_str().unwrap(), opts).unwrap()
}

/// The single integer the query returns.
pub fn query_i64(conn: &mut Connection, sql: &str) -> Result<i64> {
    conn.with_statement(sql, |s| {
        s.step()?;
        s.stmt().column_int64(0)
    })
}

/// A connection's identity for the duration of the test (its address).
pub fn identity(conn: &Connection) -> usize {
    conn as *const Connection as usize
}

/// sqlpool_checkout through the C API: its code and the connection it gave.
pub fn ffi_checkout(pool: *mut sqlpool_pool) -> (i32, *mut sqlpool_conn) {
    let mut conn = std::ptr::null_mut();
    // SAFETY: an out-pointer to a local.
    let rc = unsafe { sqlpool_checkout(pool, &mut conn) };
    (rc, conn)
}
