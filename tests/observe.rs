//! Events, logs, leak detection and the text forms of a pool's figures.

mod common;

use common::{make_db, open, opts, query_i64, TempDir};
use sqlpool::{Event, EventHandler, LogHandler, LogLevel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(Event, u64)>>>;

fn recorder() -> (EventHandler, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let handler = EventHandler::new(move |event, info| sink.lock().unwrap().push((event, info.connection_id)));
    (handler, seen)
}

#[test]
fn events_fire_in_order_with_the_connection_they_concern() {
    let dir = TempDir::new("events");
    let path = dir.path("e.db");
    make_db(&path, 1);
    let (handler, seen) = recorder();
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(0).unwrap();
    o.set_timeout(Duration::from_millis(20));
    o.set_event_handler(Some(handler));
    let pool = open(&path, o);
    let mut c = pool.checkout().unwrap();
    assert!(pool.checkout().is_err(), "timeout");
    c.invalidate();
    drop(c);
    drop(pool.checkout().unwrap());
    std::fs::rename(&path, dir.path("moved.db")).unwrap();
    make_db(&path, 2);
    pool.check_file_now();
    drop(pool.checkout().unwrap());
    use Event::*;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (Connect, 1),
            (Checkout, 1),
            (Timeout, 0),
            (Checkin, 1),
            (Invalidate, 1),
            (Connect, 2),
            (Checkout, 2),
            (Checkin, 2),
            (PrePingFailure, 2),
            (Connect, 3),
            (Checkout, 3),
            (Checkin, 3),
        ]
    );
}

#[test]
fn recycling_is_an_event_too() {
    let dir = TempDir::new("recycle-event");
    let path = dir.path("r.db");
    make_db(&path, 1);
    let (handler, seen) = recorder();
    let mut o = opts();
    o.set_recycle_ms(0).unwrap();
    o.set_event_handler(Some(handler));
    let pool = open(&path, o);
    drop(pool.checkout().unwrap());
    let events: Vec<Event> = seen.lock().unwrap().iter().map(|(e, _)| *e).collect();
    assert_eq!(
        events,
        vec![
            Event::Connect,
            Event::Recycle,
            Event::Connect,
            Event::Checkout,
            Event::Checkin
        ]
    );
}

#[test]
fn a_leak_is_reported_once_with_its_tag_and_again_when_it_returns() {
    let dir = TempDir::new("leak");
    let path = dir.path("l.db");
    make_db(&path, 1);
    let logs = Arc::new(Mutex::new(Vec::<(LogLevel, String)>::new()));
    let sink = logs.clone();
    let mut o = opts();
    o.set_leak_threshold(Some(Duration::from_millis(100))).unwrap();
    o.set_log_handler(Some(LogHandler::new(move |level, msg| {
        sink.lock().unwrap().push((level, msg.to_owned()))
    })));
    let pool = open(&path, o);
    let mut c = pool.checkout().unwrap();
    c.set_tag(Some("simulation step 42"));
    assert_eq!(query_i64(&mut c, "SELECT 1").unwrap(), 1);
    std::thread::sleep(Duration::from_millis(400));
    drop(c);
    let logs = logs.lock().unwrap();
    let leaks: Vec<_> = logs.iter().filter(|(_, m)| m.starts_with("possible leak")).collect();
    assert_eq!(leaks.len(), 1, "{logs:?}");
    assert_eq!(leaks[0].0, LogLevel::Warn);
    assert!(leaks[0].1.contains("simulation step 42"), "{}", leaks[0].1);
    assert!(
        leaks[0].1.contains("by thread ") && leaks[0].1.contains("connection 1 "),
        "{}",
        leaks[0].1
    );
    let returned: Vec<_> = logs.iter().filter(|(_, m)| m.contains("returned after")).collect();
    assert_eq!(returned.len(), 1, "{logs:?}");
}

#[test]
fn a_short_hold_is_not_a_leak() {
    let dir = TempDir::new("noleak");
    let path = dir.path("n.db");
    make_db(&path, 1);
    let logs = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = logs.clone();
    let mut o = opts();
    o.set_leak_threshold(Some(Duration::from_secs(5))).unwrap();
    o.set_log_handler(Some(LogHandler::new(move |_, msg| {
        sink.lock().unwrap().push(msg.to_owned())
    })));
    let pool = open(&path, o);
    for _ in 0..3 {
        drop(pool.checkout().unwrap());
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(logs.lock().unwrap().is_empty(), "{:?}", logs.lock().unwrap());
}

#[test]
fn status_and_prometheus_text_describe_the_pool() {
    let dir = TempDir::new("metrics");
    let path = dir.path("m.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(2).unwrap().set_max_overflow(1).unwrap();
    o.set_timeout(Duration::from_millis(30));
    let pool = open(&path, o);
    let a = pool.checkout().unwrap();
    let b = pool.checkout().unwrap();
    let c = pool.checkout().unwrap();
    assert!(pool.checkout().is_err());
    assert_eq!(
        pool.status(),
        "Pool size: 2  Connections in pool: 0 Current Overflow: 1 Current Checked out connections: 3"
    );
    drop((a, b, c));
    let text = pool.prometheus();
    let pool_label = format!("pool=\"{}\"", path.display());
    for line in [
        format!("sqlpool_connections{{{pool_label}}} 2"),
        format!("sqlpool_connections_active{{{pool_label}}} 0"),
        format!("sqlpool_connections_idle{{{pool_label}}} 2"),
        format!("sqlpool_connections_max{{{pool_label}}} 3"),
        format!("sqlpool_connections_timeout_total{{{pool_label}}} 1"),
        format!("sqlpool_connections_created_total{{{pool_label}}} 3"),
        format!("sqlpool_connections_closed_total{{{pool_label},reason=\"overflow\"}} 1"),
        format!("sqlpool_connections_acquire_seconds_count{{{pool_label}}} 3"),
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
    // Every sample line is `name{labels} value` with a number.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "bad sample: {line}");
    }
}
