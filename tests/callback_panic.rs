//! A panicking Rust callback is contained where the pool calls it: an event
//! handler panicking at checkout or checkin used to leak the connection's
//! place (every later checkout timed out), and a log handler panicking on
//! the monitor thread ended that thread for the whole process (no more leak
//! reports, file checks, coarse clock or sweeps).

mod common;

use common::{make_db, open, opts, TempDir};
use sqlpool::{Event, EventHandler, LogHandler, LogLevel};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn an_event_handler_panicking_at_checkout_and_checkin_leaks_no_place() {
    let dir = TempDir::new("panic-event");
    let path = dir.path("e.db");
    make_db(&path, 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut o = opts();
    o.set_pool_size(1).unwrap();
    o.set_max_overflow(0).unwrap();
    o.set_timeout(Duration::from_secs(5));
    o.set_event_handler(Some(EventHandler::new(move |event, _| {
        if matches!(event, Event::Checkout | Event::Checkin) {
            seen.fetch_add(1, Ordering::Relaxed);
            panic!("event handler panics on {event:?}");
        }
    })));
    let pool = open(&path, o);
    for round in 0..3 {
        let mut conn = pool
            .checkout()
            .unwrap_or_else(|e| panic!("checkout {round} after a panicking handler: {e}"));
        conn.exec("SELECT 1").unwrap();
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        6,
        "every checkout and checkin called the handler"
    );
    let stats = pool.stats();
    assert_eq!((stats.checked_out, stats.idle), (0, 1), "{stats:?}");
}

/// Polls `done` for up to a generous minute (a watchdog, not a timing check).
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_log_handler_panicking_on_the_monitor_thread_does_not_stop_it() {
    let dir = TempDir::new("panic-log");
    let path = dir.path("l.db");
    make_db(&path, 1);
    let leaks = Arc::new(Mutex::new(Vec::new()));
    let sink = leaks.clone();
    let mut o = opts();
    o.set_leak_threshold(Some(Duration::from_millis(1))).unwrap();
    o.set_log_handler(Some(LogHandler::new(move |level, msg| {
        if level == LogLevel::Warn && msg.starts_with("possible leak") {
            let mut leaks = sink.lock().unwrap();
            leaks.push(msg.to_owned());
            if leaks.len() == 1 {
                drop(leaks);
                panic!("log handler panics on the first leak report");
            }
        }
    })));
    let pool = open(&path, o);
    // The first leak report panics on the monitor thread (and the "returned"
    // report at checkin would panic in this thread: it is not a leak report,
    // so it does not).
    let first = pool.checkout().unwrap();
    wait_for("the first leak report", || !leaks.lock().unwrap().is_empty());
    drop(first);
    // The monitor still runs: a second holding is reported too.
    let _second = pool.checkout().unwrap();
    wait_for("a leak report after the panicking one", || {
        leaks.lock().unwrap().len() >= 2
    });
}
