//! snapshot_linger_ms: a read snapshot kept across checkouts, and everything
//! that must end it (a waiting writer, WAL, a shared cache, fork()).

mod common;
mod fork_support;

use common::{make_db, open, opts, query_i64, TempDir};
use fork_support::{fork_child, wait_child, ChildEnd};
use sqlpool::{Options, Pool};
use std::path::Path;
use std::time::Duration;

const LONG_LINGER_MS: u32 = 60_000;

fn lingering(path: &Path) -> Pool {
    let mut o = opts();
    o.set_read_only(true);
    o.set_pool_size(1).unwrap();
    o.set_snapshot_linger_ms(LONG_LINGER_MS).unwrap();
    open(path, o)
}

/// The rows of t, read through a checkout of its own.
fn rows(pool: &Pool) -> i64 {
    query_i64(&mut pool.checkout().unwrap(), "SELECT count(*) FROM t").unwrap()
}

fn writer(path: &Path, busy: Duration) -> rusqlite::Connection {
    let w = rusqlite::Connection::open(path).unwrap();
    w.busy_timeout(busy).unwrap();
    w
}

/// Whether this process holds a read lock on SQLite's shared-lock range of
/// `path` (what a read transaction holds in rollback-journal mode). An
/// open-file-description lock query conflicts with this process's own POSIX
/// locks, so the answer needs no writer, nor a race with the monitor.
fn shared_lock_held(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    const SHARED_FIRST: i64 = 0x4000_0000 + 2;
    const SHARED_SIZE: i64 = 510;
    let file = std::fs::File::open(path).unwrap();
    // SAFETY: a zeroed flock is a valid value; filled in below.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = SHARED_FIRST;
    lock.l_len = SHARED_SIZE;
    // SAFETY: a valid descriptor and flock for F_OFD_GETLK.
    assert_eq!(
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) },
        0
    );
    lock.l_type != libc::F_UNLCK as _
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy))
}

#[test]
fn a_lingering_snapshot_holds_writers_off_until_the_monitor_sees_one_wait() {
    let dir = TempDir::new("linger");
    let path = dir.path("l.db");
    make_db(&path, 10);
    let pool = lingering(&path);
    assert_eq!(rows(&pool), 10);

    // Checked in, its snapshot still holds SQLite's shared lock (a writer
    // that does not wait would get SQLITE_BUSY, unless the monitor's sweep
    // saw it take RESERVED first).
    assert!(shared_lock_held(&path));

    // A writer that waits: it holds RESERVED while its COMMIT retries, the
    // monitor's sweep sees it and ends the idle snapshot (its age, 60 s,
    // would not).
    let w = writer(&path, Duration::from_secs(20));
    w.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (11); COMMIT")
        .unwrap();
    assert_eq!(rows(&pool), 11, "the next checkout reads the commit");
}

#[test]
fn a_checkout_on_a_carried_snapshot_reads_the_same_data_without_a_new_transaction() {
    let dir = TempDir::new("linger-same");
    let path = dir.path("s.db");
    make_db(&path, 3);
    let pool = lingering(&path);
    assert_eq!(rows(&pool), 3);
    let mut c = pool.checkout().unwrap();
    assert!(
        !c.is_autocommit(),
        "the carried snapshot is open before the first statement"
    );
    assert!(!c.in_transaction(), "the snapshot is not the holder's transaction");
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 3);
    drop(c);
    assert_eq!(pool.stats().resets_on_checkin, 0, "a lingering snapshot is not a reset");
}

#[test]
fn without_linger_the_snapshot_ends_at_checkin() {
    let dir = TempDir::new("linger-off");
    let path = dir.path("o.db");
    make_db(&path, 3);
    let mut o = opts();
    o.set_read_only(true);
    let pool = open(&path, o);
    assert_eq!(rows(&pool), 3);
    assert!(!shared_lock_held(&path));
    writer(&path, Duration::ZERO)
        .execute("INSERT INTO t VALUES (4)", [])
        .unwrap();
    assert!(pool.checkout().unwrap().is_autocommit());
}

#[test]
fn in_wal_mode_the_snapshot_ends_at_checkin_so_reads_see_later_commits() {
    let dir = TempDir::new("linger-wal");
    let path = dir.path("w.db");
    make_db(&path, 10);
    let w = writer(&path, Duration::ZERO);
    w.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).unwrap();
    let pool = lingering(&path);
    assert_eq!(rows(&pool), 10);
    // WAL lets the writer commit under a reader's snapshot: a lingering one
    // would hide this row from the next checkout.
    w.execute("INSERT INTO t VALUES (11)", []).unwrap();
    assert_eq!(rows(&pool), 11);
}

#[test]
fn a_shared_cache_database_does_not_linger() {
    // A read transaction in a shared cache holds table locks that writers
    // get SQLITE_LOCKED for at once, without a busy wait.
    let dir = TempDir::new("linger-shared");
    let path = dir.path("c.db");
    make_db(&path, 1);
    let uri = format!("file:{}?cache=shared", path.display());
    let uri = uri.as_str();
    let mut wo = Options::default();
    wo.set_pool_size(1).unwrap();
    let w = Pool::open(uri, wo).unwrap();
    let mut ro = Options::default();
    ro.set_pool_size(1).unwrap();
    ro.set_read_snapshot(true);
    ro.set_snapshot_linger_ms(LONG_LINGER_MS).unwrap();
    let r = Pool::open(uri, ro).unwrap();
    assert_eq!(rows(&r), 1);
    w.checkout().unwrap().exec("INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(rows(&r), 2);
}

#[test]
fn fork_ends_lingering_snapshots_so_a_child_can_write() {
    let dir = TempDir::new("linger-fork");
    let path = dir.path("f.db");
    make_db(&path, 10);
    let pool = lingering(&path);
    assert_eq!(rows(&pool), 10);
    let pid = fork_child(|| {
        // A snapshot the parent still held at fork() would be counted in the
        // child's copy of SQLite's lock table, without a lock of the
        // child's own: its writes would wait for ever.
        match writer(&path, Duration::from_secs(2)).execute("INSERT INTO t VALUES (11)", []) {
            Ok(_) => 0,
            Err(e) if is_busy(&e) => 1,
            Err(_) => 2,
        }
    });
    assert_eq!(
        wait_child(pid),
        ChildEnd::Exited(0),
        "the child's write failed (1: busy, 2: another error)"
    );
    assert_eq!(rows(&pool), 11);
}

#[test]
fn the_monitors_sweep_never_makes_a_checkout_open_another_connection() {
    // The sweep ends old snapshots of idle connections while this thread
    // keeps checking one out: done with the connections taken out of the
    // pool, a checkout in that moment found it empty and opened another.
    let dir = TempDir::new("linger-sweep");
    let path = dir.path("p.db");
    make_db(&path, 3);
    let mut o = opts();
    o.set_read_only(true);
    o.set_snapshot_linger_ms(1).unwrap();
    let pool = open(&path, o);
    // Idle most of the time, as between an ORM's queries, so that sweeps
    // find the connection idle.
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        assert_eq!(rows(&pool), 3);
        let idle_until = std::time::Instant::now() + Duration::from_micros(30);
        while std::time::Instant::now() < idle_until {
            std::hint::spin_loop();
        }
    }
    assert_eq!(
        pool.stats().connections_created,
        1,
        "one thread, one connection at a time"
    );
}
