//! The pool's rules, through the safe Rust API.

mod common;

use common::{identity, make_db, open, opts, query_i64, TempDir};
use sqlpool::{ErrorKind, Options, Pool, Step};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn open_fails_fast_on_a_missing_file_naming_the_path_and_never_creates_it() {
    let dir = TempDir::new("missing");
    let path = dir.path("typo.db");
    let err = Pool::open(path.to_str().unwrap(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CantOpen);
    assert!(err.message().contains(path.to_str().unwrap()), "{err}");
    assert!(!path.exists(), "create is off by default");

    let mut o = opts();
    o.set_create(true);
    let pool = Pool::open(path.to_str().unwrap(), o).unwrap();
    assert!(path.exists());
    assert_eq!(pool.stats().connections_created, 1);
}

#[test]
fn open_rejects_a_file_that_is_not_a_database_with_sqlite_notadb() {
    let dir = TempDir::new("notadb");
    let path = dir.path("text.db");
    std::fs::write(&path, "this is not an SQLite database, just some text".repeat(50)).unwrap();
    let err = Pool::open(path.to_str().unwrap(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sqlite);
    assert_eq!(err.sqlite_code(), 26);
    assert!(err.message().contains(path.to_str().unwrap()), "{err}");
}

#[test]
fn open_rejects_a_directory_and_private_memory_databases() {
    let dir = TempDir::new("dir");
    let err = Pool::open(dir.0.to_str().unwrap(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CantOpen, "{err}");
    for path in [":memory:", ""] {
        let err = Pool::open(path, opts()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("cache=shared"), "{err}");
    }
}

#[test]
fn uri_filenames_work_including_read_only_immutable() {
    let dir = TempDir::new("uri");
    let path = dir.path("u.db");
    make_db(&path, 10);
    let uri = format!("file:{}?mode=ro&immutable=1", path.display());
    let pool = Pool::open(&uri, opts()).unwrap();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 10);
    let err = c.exec("INSERT INTO t VALUES (11)").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sqlite);
    assert!(
        err.message().contains("INSERT INTO t"),
        "the message names the SQL: {err}"
    );
}

#[test]
fn read_only_sets_query_only_and_options_reach_every_connection() {
    let dir = TempDir::new("ro");
    let path = dir.path("ro.db");
    make_db(&path, 3);
    let mut o = opts();
    o.set_read_only(true)
        .set_busy_timeout(Duration::from_millis(1234))
        .unwrap()
        .set_init_sql(Some("PRAGMA cache_size = -4321"))
        .unwrap();
    o.set_pool_size(2).unwrap();
    let pool = open(&path, o);
    let mut a = pool.checkout().unwrap();
    let mut b = pool.checkout().unwrap();
    for c in [&mut a, &mut b] {
        assert_eq!(query_i64(c, "PRAGMA query_only").unwrap(), 1);
        assert_eq!(query_i64(c, "PRAGMA busy_timeout").unwrap(), 1234);
        assert_eq!(query_i64(c, "PRAGMA cache_size").unwrap(), -4321);
        assert!(c.exec("DELETE FROM t").is_err());
    }
}

#[test]
fn never_more_than_pool_size_plus_overflow_and_timeout_reports_the_state() {
    let dir = TempDir::new("cap");
    let path = dir.path("cap.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(2).unwrap().set_max_overflow(1).unwrap();
    o.set_timeout(Duration::from_millis(50));
    let pool = open(&path, o);
    let held: Vec<_> = (0..3).map(|_| pool.checkout().unwrap()).collect();
    let s = pool.stats();
    assert_eq!((s.checked_out, s.idle, s.overflow), (3, 0, 1));
    let err = pool.checkout().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    for part in [
        "timed out after",
        "timeout_ms=50",
        "checked_out=3",
        "pool_size=2",
        path.to_str().unwrap(),
    ] {
        assert!(err.message().contains(part), "missing {part:?} in {err}");
    }
    let s = pool.stats();
    assert_eq!((s.timeouts, s.waits, s.waiting), (1, 1, 0));
    assert!(s.wait_ns_total >= 40_000_000, "waited about 50 ms: {}", s.wait_ns_total);
    drop(held);
    // The overflow connection was closed at checkin: pool_size were idle.
    let s = pool.stats();
    assert_eq!((s.idle, s.checked_out, s.connections_closed), (2, 0, 1));
    assert_eq!(
        s.idle as u64 + s.checked_out as u64,
        s.connections_created - s.connections_closed
    );
}

#[test]
fn timeout_zero_does_not_wait() {
    let dir = TempDir::new("t0");
    let path = dir.path("t0.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    o.set_timeout(Duration::ZERO);
    let pool = open(&path, o);
    let _held = pool.checkout().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(pool.checkout().unwrap_err().kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn waiters_are_served_first_come_first_served_and_latecomers_do_not_barge() {
    let dir = TempDir::new("fifo");
    let path = dir.path("fifo.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap().set_fair(true);
    let pool = open(&path, o);
    let holder = pool.checkout().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for i in 0..6 {
        let (shared, order) = (pool.clone(), order.clone());
        threads.push(std::thread::spawn(move || {
            let c = shared.checkout().unwrap();
            order.lock().unwrap().push(i);
            std::thread::sleep(Duration::from_millis(2));
            drop(c);
        }));
        // Wait until this thread is queued before starting the next.
        while pool.stats().waiting != i + 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    drop(holder);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    let s = pool.stats();
    assert_eq!((s.waits, s.checkouts, s.connections_created), (6, 7, 1));
}

#[test]
fn many_threads_never_exceed_the_cap_never_share_a_connection_and_lose_nothing() {
    let dir = TempDir::new("threads");
    let path = dir.path("threads.db");
    make_db(&path, 100);
    let mut o = opts();
    o.set_pool_size(3).unwrap().set_max_overflow(2).unwrap();
    let pool = open(&path, o);
    let holders = Arc::new(Mutex::new(HashSet::new()));
    let concurrent = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (pool, holders, concurrent, peak) = (pool.clone(), holders.clone(), concurrent.clone(), peak.clone());
            std::thread::spawn(move || {
                for i in 0..300 {
                    let mut c = pool.checkout().unwrap();
                    let now = concurrent.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    assert!(
                        holders.lock().unwrap().insert(identity(&c)),
                        "a connection had two holders"
                    );
                    let x = (t * 300 + i) % 100 + 1;
                    assert_eq!(
                        query_i64(&mut c, &format!("SELECT x FROM t WHERE x = {x}")).unwrap(),
                        x as i64
                    );
                    if i % 50 == 7 {
                        c.invalidate();
                    }
                    holders.lock().unwrap().remove(&identity(&c));
                    concurrent.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 5, "peak {}", peak.load(Ordering::SeqCst));
    let s = pool.stats();
    assert_eq!(s.checked_out, 0);
    assert_eq!(s.checkouts, 16 * 300);
    assert_eq!(s.invalidated, 16 * 6);
    assert_eq!(s.idle as u64, s.connections_created - s.connections_closed);
    assert!(s.idle <= 3);
}

#[test]
fn checkin_rolls_back_an_open_transaction_and_resets_running_statements() {
    let dir = TempDir::new("clean");
    let path = dir.path("clean.db");
    make_db(&path, 5);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    let pool = open(&path, o);
    {
        let mut c = pool.checkout().unwrap();
        c.exec("BEGIN; INSERT INTO t VALUES (100)").unwrap();
        assert!(!c.is_autocommit());
    }
    {
        let mut c = pool.checkout().unwrap();
        assert!(c.is_autocommit());
        assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 5);
        let id = c.prepare("SELECT x FROM t ORDER BY x").unwrap();
        assert_eq!(c.step(id).unwrap(), Step::Row);
    }
    let s = pool.stats();
    assert_eq!(s.resets_on_checkin, 2);
    let mut c = pool.checkout().unwrap();
    // The statement left mid-step comes back from the cache reset.
    let id = c.prepare("SELECT x FROM t ORDER BY x").unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    assert_eq!(c.statement(id).unwrap().column_int64(0).unwrap(), 1);
    // A clean checkout is not counted.
    c.finalize(id).unwrap();
    drop(c);
    assert_eq!(pool.stats().resets_on_checkin, 2);
}

#[test]
fn prepared_statements_are_reused_in_later_checkouts() {
    let dir = TempDir::new("cache");
    let path = dir.path("cache.db");
    make_db(&path, 5);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    let pool = open(&path, o);
    for round in 0..3 {
        let mut c = pool.checkout().unwrap();
        let id = c.prepare("SELECT x FROM t WHERE x = ?").unwrap();
        c.statement(id).unwrap().bind_int64(1, round + 1).unwrap();
        assert_eq!(c.step(id).unwrap(), Step::Row);
        assert_eq!(c.statement(id).unwrap().column_int64(0).unwrap(), round + 1);
        c.finalize(id).unwrap();
        assert!(c.statement(id).is_err(), "a finalized statement is gone");
    }
    let s = pool.stats();
    assert_eq!((s.statement_cache_misses, s.statement_cache_hits), (1, 2));
}

/// A pool of one connection whose statement cache holds two statements.
fn pool_caching_two(name: &str) -> (TempDir, Pool) {
    let dir = TempDir::new(name);
    let path = dir.path("c.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_statement_cache_capacity(2);
    let pool = open(&path, o);
    (dir, pool)
}

#[test]
fn statement_cache_capacity_bounds_the_cache() {
    let (_dir, pool) = pool_caching_two("cachecap");
    let mut c = pool.checkout().unwrap();
    for i in 0..5 {
        query_i64(&mut c, &format!("SELECT {i}")).unwrap();
    }
    assert_eq!(c.cached_statements(), 2);
}

#[test]
fn the_statement_cache_evicts_the_least_recently_returned_and_keeps_one_per_sql() {
    let (_dir, pool) = pool_caching_two("cachelru");
    let mut c = pool.checkout().unwrap();
    for sql in ["SELECT 0", "SELECT 1", "SELECT 0", "SELECT 2"] {
        query_i64(&mut c, sql).unwrap();
    }
    // "SELECT 1" was the least recently returned: evicted by "SELECT 2".
    drop(c);
    let before = pool.stats();
    let mut c = pool.checkout().unwrap();
    query_i64(&mut c, "SELECT 0").unwrap();
    query_i64(&mut c, "SELECT 2").unwrap();
    query_i64(&mut c, "SELECT 1").unwrap();
    // The same SQL out twice at once goes back as one entry.
    let a = c.prepare("SELECT 9").unwrap();
    let b = c.prepare("SELECT 9").unwrap();
    c.finalize(a).unwrap();
    c.finalize(b).unwrap();
    assert_eq!(c.cached_statements(), 2);
    // So "SELECT 1" is still cached beside it (two copies would have evicted it).
    query_i64(&mut c, "SELECT 1").unwrap();
    drop(c);
    let after = pool.stats();
    assert_eq!(
        after.statement_cache_hits - before.statement_cache_hits,
        3,
        "SELECT 0, 2, then 1"
    );
    assert_eq!(
        after.statement_cache_misses - before.statement_cache_misses,
        3,
        "SELECT 1 and 9 twice"
    );
}

#[test]
fn invalidate_closes_the_connection_at_checkin_and_dispose_closes_idle_ones() {
    let dir = TempDir::new("inval");
    let path = dir.path("inval.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let mut a = pool.checkout().unwrap();
    let b = pool.checkout().unwrap();
    a.invalidate();
    drop(a);
    let s = pool.stats();
    assert_eq!((s.invalidated, s.connections_closed, s.idle), (1, 1, 0));
    drop(b);
    assert_eq!(pool.stats().idle, 1);
    pool.dispose();
    let s = pool.stats();
    assert_eq!((s.idle, s.connections_closed), (0, 2));
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 1);
    assert_eq!(pool.stats().connections_created, 3);
}

#[test]
fn close_wakes_waiters_refuses_checkout_and_lets_held_connections_finish() {
    let dir = TempDir::new("close");
    let path = dir.path("close.db");
    make_db(&path, 2);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    let pool = open(&path, o);
    let mut held = pool.checkout().unwrap();
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.checkout().map(drop))
    };
    while pool.stats().waiting != 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    pool.close().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(pool.checkout().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(pool.close().unwrap_err().kind(), ErrorKind::Misuse);
    // Still usable, and closed at checkin.
    assert_eq!(query_i64(&mut held, "SELECT count(*) FROM t").unwrap(), 2);
    drop(held);
    let s = pool.stats();
    assert_eq!((s.idle, s.checked_out, s.connections_closed), (0, 0, 1));
}

#[test]
fn lifo_hands_out_the_most_recently_returned_connection_and_fifo_the_oldest() {
    let dir = TempDir::new("lifo");
    let path = dir.path("lifo.db");
    make_db(&path, 1);
    for lifo in [false, true] {
        let mut o = opts();
        o.set_pool_size(2).unwrap().set_lifo(lifo);
        let pool = open(&path, o);
        let a = pool.checkout().unwrap();
        let b = pool.checkout().unwrap();
        let (ia, ib) = (identity(&a), identity(&b));
        drop(a);
        drop(b);
        let next = pool.checkout().unwrap();
        assert_eq!(identity(&next), if lifo { ib } else { ia }, "lifo={lifo}");
    }
}

/// Replaces the database file at `path` by a new one holding `rows` rows.
fn replace_file(path: &std::path::Path, rows: i64) {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    make_db(&tmp, rows);
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn pre_ping_replaces_connections_whose_file_was_replaced() {
    let dir = TempDir::new("replace");
    let path = dir.path("r.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    {
        let mut c = pool.checkout().unwrap();
        assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 3);
    }
    replace_file(&path, 7);
    pool.check_file_now();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 7);
    let s = pool.stats();
    assert_eq!((s.pre_ping_failures, s.connections_created), (1, 2));
}

#[test]
fn the_monitor_notices_a_replaced_file_by_itself() {
    let dir = TempDir::new("monitor");
    let path = dir.path("m.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    drop(pool.checkout().unwrap());
    replace_file(&path, 9);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = pool.checkout().unwrap();
        if query_i64(&mut c, "SELECT count(*) FROM t").unwrap() == 9 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replaced file was never noticed"
        );
        drop(c);
        std::thread::sleep(sqlpool::MONITOR_TICK);
    }
    assert_eq!(pool.stats().pre_ping_failures, 1);
}

/// Issue 11: the monitor stops checking the files of idle pools, so the
/// checkout of a pool idle for a long time checks its file itself, before
/// choosing a connection.
#[test]
fn a_checkout_after_a_long_idle_time_never_gets_a_connection_to_a_replaced_file() {
    let dir = TempDir::new("idle-replace");
    let path = dir.path("i.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    let mut rows = 3;
    for round in 0..3 {
        {
            let mut c = pool.checkout().unwrap();
            assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), rows);
        }
        // Idle for many ticks: the monitor no longer looks at this pool.
        std::thread::sleep(sqlpool::MONITOR_TICK * 6);
        rows += 1;
        replace_file(&path, rows);
        let mut c = pool.checkout().unwrap();
        assert_eq!(
            query_i64(&mut c, "SELECT count(*) FROM t").unwrap(),
            rows,
            "round {round}: the connection to the replaced file was handed out"
        );
    }
    assert_eq!(pool.stats().pre_ping_failures, 3);
}

#[test]
fn a_removed_file_gives_cantopen_and_the_pool_serves_again_once_it_is_back() {
    let dir = TempDir::new("removed");
    let path = dir.path("gone.db");
    make_db(&path, 4);
    let pool = open(&path, opts());
    std::fs::rename(&path, dir.path("aside.db")).unwrap();
    pool.check_file_now();
    let err = pool.checkout().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CantOpen, "{err}");
    let s = pool.stats();
    assert_eq!(
        (s.checked_out, s.idle),
        (0, 0),
        "a failed checkout leaves nothing reserved"
    );
    std::fs::rename(dir.path("aside.db"), &path).unwrap();
    pool.check_file_now();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 4);
}

#[test]
fn without_pre_ping_a_replaced_file_is_not_noticed() {
    let dir = TempDir::new("noping");
    let path = dir.path("n.db");
    make_db(&path, 3);
    let mut o = opts();
    o.set_pre_ping(false);
    let pool = open(&path, o);
    replace_file(&path, 7);
    pool.check_file_now();
    let mut c = pool.checkout().unwrap();
    assert_eq!(
        query_i64(&mut c, "SELECT count(*) FROM t").unwrap(),
        3,
        "the old, unlinked file"
    );
}

#[test]
fn recycle_replaces_connections_older_than_recycle_ms() {
    let dir = TempDir::new("recycle");
    let path = dir.path("rc.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_recycle_ms(100).unwrap();
    let pool = open(&path, o);
    drop(pool.checkout().unwrap());
    assert_eq!(pool.stats().recycled, 0);
    std::thread::sleep(Duration::from_millis(300));
    drop(pool.checkout().unwrap());
    let s = pool.stats();
    assert_eq!((s.recycled, s.connections_created, s.connections_closed), (1, 2, 1));
}

#[test]
fn a_read_only_pool_sees_one_snapshot_per_checkout() {
    let dir = TempDir::new("snapshot");
    let path = dir.path("s.db");
    make_db(&path, 10);
    let writer = {
        let mut o = opts();
        o.set_pool_size(1).unwrap();
        open(&path, o)
    };
    let mut ro = opts();
    ro.set_read_only(true);
    let reader = open(&path, ro.clone());
    let mut no_snapshot = ro.clone();
    no_snapshot.set_read_snapshot(false);
    let plain = open(&path, no_snapshot);

    let mut r = reader.checkout().unwrap();
    let mut p = plain.checkout().unwrap();
    assert_eq!(query_i64(&mut r, "SELECT count(*) FROM t").unwrap(), 10);
    assert!(!r.is_autocommit(), "the snapshot is open after the first read");
    assert_eq!(query_i64(&mut p, "SELECT count(*) FROM t").unwrap(), 10);
    assert!(p.is_autocommit());
    // A writer cannot commit while the snapshot holds its read lock in
    // rollback-journal mode, so it waits; use WAL to let it through.
    drop(r);
    writer.checkout().unwrap().exec("PRAGMA journal_mode=WAL").unwrap();
    let mut r = reader.checkout().unwrap();
    assert_eq!(query_i64(&mut r, "SELECT count(*) FROM t").unwrap(), 10);
    writer.checkout().unwrap().exec("INSERT INTO t VALUES (11)").unwrap();
    assert_eq!(
        query_i64(&mut r, "SELECT count(*) FROM t").unwrap(),
        10,
        "same snapshot"
    );
    assert_eq!(
        query_i64(&mut p, "SELECT count(*) FROM t").unwrap(),
        11,
        "autocommit sees it"
    );
    drop(r);
    let mut r = reader.checkout().unwrap();
    assert_eq!(
        query_i64(&mut r, "SELECT count(*) FROM t").unwrap(),
        11,
        "a new checkout, a new snapshot"
    );
    drop(r);
    assert_eq!(
        reader.stats().resets_on_checkin,
        0,
        "ending the snapshot is not a reset"
    );
}

#[test]
fn a_write_or_the_callers_begin_ends_the_snapshot_first() {
    let dir = TempDir::new("snapwrite");
    let path = dir.path("w.db");
    make_db(&path, 2);
    let mut o = opts();
    o.set_read_snapshot(true);
    let pool = open(&path, o);
    {
        let mut c = pool.checkout().unwrap();
        assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 2);
        assert!(!c.is_autocommit());
        c.exec("INSERT INTO t VALUES (3)").unwrap();
        assert!(
            c.is_autocommit(),
            "the write ran in autocommit, after the snapshot ended"
        );
        assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 3);
        c.exec("BEGIN").unwrap();
        c.exec("INSERT INTO t VALUES (4)").unwrap();
        c.exec("COMMIT").unwrap();
    }
    let mut c = pool.checkout().unwrap();
    assert_eq!(
        query_i64(&mut c, "SELECT count(*) FROM t").unwrap(),
        4,
        "writes were kept"
    );
}

#[test]
fn a_cached_statement_comes_back_unbound_and_from_its_start() {
    let dir = TempDir::new("cached");
    let path = dir.path("c.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    let mut c = pool.checkout().unwrap();
    let sql = "SELECT ?1, ?2";
    // Bound, stepped, left mid-step.
    let id = c.prepare(sql).unwrap();
    c.statement(id).unwrap().bind_int64(1, 5).unwrap();
    c.statement(id).unwrap().bind_text(2, "x").unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    c.finalize(id).unwrap();
    // From the cache: no bindings left, runs from its start.
    let id = c.prepare(sql).unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    let row = c.statement(id).unwrap();
    assert_eq!(
        (row.column_type(0).unwrap(), row.column_type(1).unwrap()),
        (5, 5),
        "NULL, NULL"
    );
    assert_eq!(c.step(id).unwrap(), Step::Done);
    // Finished: reset (it ran, so this one is real), bound again, rerun.
    c.reset(id).unwrap();
    c.statement(id).unwrap().bind_int64(1, 7).unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    assert_eq!(c.statement(id).unwrap().column_int64(0).unwrap(), 7);
    c.finalize(id).unwrap();
    // Bound but never stepped: still comes back unbound.
    let id = c.prepare(sql).unwrap();
    c.statement(id).unwrap().bind_int64(1, 9).unwrap();
    c.finalize(id).unwrap();
    let id = c.prepare(sql).unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    assert_eq!(c.statement(id).unwrap().column_type(0).unwrap(), 5);
    c.finalize(id).unwrap();
    drop(c); // counters reach the pool at checkin
    assert_eq!(pool.stats().statement_cache_hits, 3);
}

#[test]
fn statement_errors_name_the_sql_and_mid_step_binds_are_misuse() {
    let dir = TempDir::new("errors");
    let path = dir.path("e.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    let mut c = pool.checkout().unwrap();
    let err = c.prepare("SELECT nope FROM t").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sqlite);
    assert!(
        err.message().contains("SELECT nope FROM t") && err.message().contains("no such column"),
        "{err}"
    );
    let id = c.prepare("SELECT x FROM t WHERE x > ?").unwrap();
    let err = c.statement(id).unwrap().bind_int64(2, 1).unwrap_err();
    assert_eq!((err.kind(), err.sqlite_code()), (ErrorKind::Sqlite, 25));
    c.statement(id).unwrap().bind_int64(1, 0).unwrap();
    assert_eq!(c.step(id).unwrap(), Step::Row);
    let err = c.statement(id).unwrap().bind_int64(1, 5).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse);
    assert_eq!(
        c.statement(id).unwrap().column_int64(3).unwrap_err().kind(),
        ErrorKind::Misuse
    );
    assert_eq!(
        c.prepare("   -- only a comment").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn a_pool_is_shared_by_its_clones() {
    let dir = TempDir::new("clone");
    let path = dir.path("c.db");
    make_db(&path, 1);
    let pool = open(&path, Options::default());
    let other = pool.clone();
    assert!(pool.same_pool(&other));
    let c = other.checkout().unwrap();
    assert_eq!(pool.stats().checked_out, 1);
    assert!(c.pool().same_pool(&pool));
}

#[test]
fn pre_ping_notices_an_in_place_change_of_an_immutable_file() {
    let dir = TempDir::new("immutable");
    let path = dir.path("i.db");
    make_db(&path, 3);
    let uri = format!("file:{}?immutable=1", path.display());
    let pool = Pool::open(&uri, opts()).unwrap();
    drop(pool.checkout().unwrap());
    {
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer.execute_batch("INSERT INTO t SELECT x + 3 FROM t").unwrap();
    }
    pool.check_file_now();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 6);
    assert_eq!(pool.stats().pre_ping_failures, 1);
}

#[test]
fn a_connection_that_hits_a_fatal_error_is_closed_at_checkin_and_the_pool_recovers() {
    let dir = TempDir::new("truncated");
    let path = dir.path("tr.db");
    make_db(&path, 2000);
    let saved = std::fs::read(&path).unwrap();
    let mut o = opts();
    o.set_pool_size(1).unwrap();
    let pool = open(&path, o);
    {
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(saved.len() as u64 / 2).unwrap();
        let mut c = pool.checkout().unwrap();
        let err = query_i64(&mut c, "SELECT sum(x) FROM t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Sqlite);
        assert!(
            matches!(err.sqlite_code() & 0xff, 11 | 10 | 26),
            "corrupt, I/O error or not a database: {err}"
        );
        assert!(c.is_invalidated(), "marked for closing at checkin");
    }
    let s = pool.stats();
    assert_eq!((s.invalidated, s.idle), (1, 0));
    std::fs::write(&path, &saved).unwrap();
    let mut c = pool.checkout().unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 2000);
}

#[test]
fn a_writer_holding_the_lock_gives_busy_after_busy_timeout_then_the_pool_goes_on() {
    let dir = TempDir::new("busy");
    let path = dir.path("b.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_busy_timeout(Duration::from_millis(150)).unwrap();
    let pool = open(&path, o);
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut c = pool.checkout().unwrap();
    let started = std::time::Instant::now();
    let err = query_i64(&mut c, "SELECT count(*) FROM t").unwrap_err();
    assert_eq!(err.sqlite_code() & 0xff, 5, "SQLITE_BUSY: {err}");
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "busy_timeout was honoured"
    );
    assert!(!c.is_invalidated(), "busy is not fatal");
    locker.execute_batch("COMMIT").unwrap();
    assert_eq!(query_i64(&mut c, "SELECT count(*) FROM t").unwrap(), 1);
}

const LONG_QUERY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";

#[test]
fn closing_the_pool_interrupts_queries_still_running() {
    let dir = TempDir::new("interrupt-close");
    let path = dir.path("i.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let runner = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let mut c = pool.checkout().unwrap();
            query_i64(&mut c, LONG_QUERY)
        })
    };
    while pool.stats().checked_out != 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    pool.close().unwrap();
    let err = runner.join().unwrap().unwrap_err();
    assert_eq!(err.sqlite_code(), 9, "SQLITE_INTERRUPT: {err}");
}

#[test]
fn an_interrupter_stops_the_running_query_from_another_thread() {
    let dir = TempDir::new("interrupter");
    let path = dir.path("i.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    let mut c = pool.checkout().unwrap();
    let interrupt = c.interrupter();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        interrupt();
    });
    let err = query_i64(&mut c, LONG_QUERY).unwrap_err();
    assert_eq!(err.sqlite_code(), 9, "{err}");
    stopper.join().unwrap();
    assert_eq!(
        query_i64(&mut c, "SELECT count(*) FROM t").unwrap(),
        3,
        "the connection goes on"
    );
    assert!(!c.is_invalidated());
}

#[test]
fn a_checkout_may_wait_less_than_the_pool_timeout() {
    let dir = TempDir::new("checkout-timeout");
    let path = dir.path("t.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    let pool = open(&path, o);
    let _held = pool.checkout().unwrap();
    let started = std::time::Instant::now();
    let err = pool.checkout_timeout(Duration::from_millis(30)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("timeout_ms=30"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_fair_pool_hands_a_returned_connection_to_the_waiter_not_to_a_latecomer() {
    let dir = TempDir::new("fair");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap().set_fair(true);
    let pool = open(&path, o);
    let holder = pool.checkout().unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let c = pool.checkout().unwrap();
            release_rx.recv().unwrap();
            drop(c);
        })
    };
    while pool.stats().waiting != 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(holder);
    // Handed over under the lock: nothing is left for a latecomer.
    assert!(pool.try_checkout().unwrap().is_none());
    release_tx.send(()).unwrap();
    waiter.join().unwrap();
    assert!(pool.try_checkout().unwrap().is_some());
}
