//! Hooks for the host application: pool events, log messages, and the
//! bookkeeping behind leak detection. All are off unless set; when off they
//! cost one branch on the hot path.

use crate::sync::ForkMutex;
use std::fmt;
use crate::prim::Ordering::Relaxed;
use crate::prim::{Arc, AtomicBool, AtomicU64};

/// What happened in a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Event {
    /// A new connection was opened.
    Connect = 1,
    /// A caller got a connection.
    Checkout = 2,
    /// A caller returned a connection.
    Checkin = 3,
    /// A connection marked invalid (or broken by a fatal error) was closed.
    Invalidate = 4,
    /// A connection older than recycle_ms was replaced at checkout.
    Recycle = 5,
    /// A connection whose database file was replaced or removed was replaced.
    PrePingFailure = 6,
    /// A checkout waited timeout_ms in vain.
    Timeout = 7,
}

/// Details passed with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    /// The pool-local number of the connection (0 when none, e.g. a timeout).
    pub connection_id: u64,
    /// How long the checkout waited, in ns (checkout and timeout events).
    pub wait_ns: u64,
}

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

type EventFn = dyn Fn(Event, &EventInfo) + Send + Sync;
type LogFn = dyn Fn(LogLevel, &str) + Send + Sync;

/// Receives pool events, on the thread where they happen, never under the
/// pool's lock.
#[derive(Clone)]
pub struct EventHandler(Arc<EventFn>);

/// Receives log messages: errors, timeouts, leaks. Leak reports come from the
/// pool's background thread.
#[derive(Clone)]
pub struct LogHandler(Arc<LogFn>);

impl EventHandler {
    pub fn new(f: impl Fn(Event, &EventInfo) + Send + Sync + 'static) -> Self {
        EventHandler(Arc::new(f))
    }

    /// Calls the handler; a panic in it is contained here (and reported by
    /// the panic hook), so that it never leaves the pool half-way through a
    /// checkout or checkin.
    pub(crate) fn emit(&self, event: Event, connection_id: u64, wait_ns: u64) {
        contain(|| (self.0)(event, &EventInfo { connection_id, wait_ns }));
    }
}

impl LogHandler {
    pub fn new(f: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Self {
        LogHandler(Arc::new(f))
    }

    /// Calls the handler; a panic in it is contained here, as for events.
    pub(crate) fn log(&self, level: LogLevel, message: &str) {
        contain(|| (self.0)(level, message));
    }
}

/// Runs a host application's callback, containing its panic: the pool's
/// state is only ever changed around the call, never by it, so nothing is
/// left inconsistent by unwinding out of it.
fn contain(callback: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback));
}

// Handlers compare by identity, so that options stay comparable.
impl PartialEq for EventHandler {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PartialEq for LogHandler {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for EventHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventHandler")
    }
}

impl fmt::Debug for LogHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogHandler")
    }
}

/// Who holds a connection and since when, for leak detection. Shared between
/// the connection and the pool's list that the background thread scans.
#[derive(Default)]
pub(crate) struct Holding {
    connection_id: u64,
    /// Coarse-clock ms of the checkout; 0 while idle.
    since_ms: AtomicU64,
    thread_id: AtomicU64,
    reported: AtomicBool,
    tag: ForkMutex<Option<Box<str>>>,
}

impl Holding {
    pub(crate) fn new(connection_id: u64) -> Self {
        Holding {
            connection_id,
            ..Holding::default()
        }
    }

    pub(crate) fn connection_id(&self) -> u64 {
        self.connection_id
    }

    pub(crate) fn start(&self, now_ms: u64) {
        self.thread_id.store(current_thread_id(), Relaxed);
        self.reported.store(false, Relaxed);
        // Never 0 while held, so 0 can mean idle.
        self.since_ms.store(now_ms.max(1), Relaxed);
    }

    /// Ends the holding; returns the held ms when it had been reported as a
    /// leak (so that its return is reported too).
    pub(crate) fn end(&self, now_ms: u64) -> Option<u64> {
        let since = self.since_ms.swap(0, Relaxed);
        *self.tag.lock() = None;
        (since != 0 && self.reported.load(Relaxed)).then(|| now_ms.saturating_sub(since))
    }

    pub(crate) fn set_tag(&self, tag: Option<&str>) {
        *self.tag.lock() = tag.map(Into::into);
    }

    /// Takes the tag's lock across fork() (crate::fork's prepare handler).
    pub(crate) fn lock_tag_for_fork(&self) {
        self.tag.lock_for_fork();
    }

    /// # Safety
    /// Only after `lock_tag_for_fork` on this thread.
    pub(crate) unsafe fn unlock_tag_after_fork_in_parent(&self) {
        // SAFETY: as the caller promises.
        unsafe { self.tag.unlock_after_fork_in_parent() };
    }

    /// # Safety
    /// Only in a forked child, after `lock_tag_for_fork` in the parent.
    pub(crate) unsafe fn reset_tag_after_fork_in_child(&self) {
        // SAFETY: as the caller promises.
        unsafe { self.tag.reset_after_fork_in_child() };
    }

    /// When held longer than `threshold_ms` and not yet reported: marks it
    /// reported and returns (held ms, thread id, tag).
    pub(crate) fn leak(&self, now_ms: u64, threshold_ms: u64) -> Option<(u64, u64, Option<Box<str>>)> {
        let since = self.since_ms.load(Relaxed);
        if since == 0 || now_ms.saturating_sub(since) < threshold_ms || self.reported.swap(true, Relaxed) {
            return None;
        }
        Some((now_ms - since, self.thread_id.load(Relaxed), self.tag.lock().clone()))
    }
}

/// The kernel's id of the calling thread, read once per thread.
pub(crate) fn current_thread_id() -> u64 {
    thread_local! {
        // SAFETY: gettid has no preconditions.
        static TID: u64 = unsafe { libc::gettid() } as u64;
    }
    TID.with(|t| *t)
}

/// Upper bounds, in seconds, of the checkout wait-time histogram's buckets
/// (the last one, +Inf, is implied).
pub const WAIT_BUCKETS_SECONDS: [f64; 7] = [0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 60.0];

/// The bucket a wait of `ns` falls in (WAIT_BUCKETS_SECONDS.len() for +Inf).
pub(crate) fn wait_bucket(ns: u64) -> usize {
    let seconds = ns as f64 / 1e9;
    WAIT_BUCKETS_SECONDS
        .iter()
        .position(|&bound| seconds <= bound)
        .unwrap_or(WAIT_BUCKETS_SECONDS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holding_is_reported_once_and_its_return_after_a_report() {
        let h = Holding::default();
        h.start(1000);
        h.set_tag(Some("step 42"));
        assert_eq!(h.leak(1500, 1000), None, "not yet over the threshold");
        let (held, tid, tag) = h.leak(2500, 1000).unwrap();
        assert_eq!(
            (held, tid, tag.as_deref()),
            (1500, current_thread_id(), Some("step 42"))
        );
        assert_eq!(h.leak(3000, 1000), None, "reported once");
        assert_eq!(h.end(3200), Some(2200));
        assert_eq!(h.leak(9000, 1000), None, "idle is never a leak");
        h.start(10_000);
        assert_eq!(h.end(10_010), None, "an unreported holding returns silently");
    }

    #[test]
    fn waits_fall_in_the_right_bucket() {
        assert_eq!(wait_bucket(0), 0);
        assert_eq!(wait_bucket(50_000), 0);
        assert_eq!(wait_bucket(500_000), 1);
        assert_eq!(wait_bucket(2_000_000_000), 5);
        assert_eq!(wait_bucket(100_000_000_000), WAIT_BUCKETS_SECONDS.len());
    }
}
