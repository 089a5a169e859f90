//! Pool settings. Defaults are those of nuPlan's SessionManager QueuePool
//! (SQLAlchemy: pool_size 5, max_overflow 10, timeout 30 s, pre_ping on,
//! recycle 3600 s). Setters validate and name the option they reject.

use crate::error::{Error, Result};
use crate::events::{EventHandler, LogHandler};
use crate::handoff::Fairness;
use crate::function::Function;
use std::time::Duration;

/// SQLite's busy_timeout is a C `int` of milliseconds.
pub const MAX_BUSY_TIMEOUT_MS: u32 = i32::MAX as u32;

/// The longest a read snapshot may stay open across checkouts.
pub const MAX_SNAPSHOT_LINGER_MS: u32 = 60_000;

/// The stats report `open - pool_size` as an `i32`.
pub const MAX_POOL_SIZE: u32 = i32::MAX as u32;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub(crate) pool_size: u32,
    pub(crate) max_overflow: Option<u32>,
    pub(crate) timeout: Duration,
    pub(crate) pre_ping: bool,
    pub(crate) recycle: Option<Duration>,
    pub(crate) lifo: bool,
    pub(crate) fairness: Fairness,
    /// Bounded mode's least threshold (it grows with the queue).
    pub(crate) fairness_threshold: Duration,
    pub(crate) read_only: bool,
    pub(crate) create: bool,
    pub(crate) init_sql: Option<String>,
    pub(crate) busy_timeout: Duration,
    pub(crate) statement_cache_capacity: u32,
    pub(crate) read_snapshot: Option<bool>,
    /// How long a read snapshot may outlive its checkout (0: ended at checkin).
    pub(crate) snapshot_linger_ms: u32,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) on_event: Option<EventHandler>,
    pub(crate) on_log: Option<LogHandler>,
    /// Registered on every connection the pool opens.
    pub(crate) functions: Vec<Function>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 5,
            max_overflow: Some(10),
            timeout: Duration::from_secs(30),
            pre_ping: true,
            recycle: Some(Duration::from_secs(3600)),
            lifo: false,
            fairness: Fairness::Bounded,
            fairness_threshold: crate::handoff::DEFAULT_MIN_THRESHOLD,
            read_only: false,
            create: false,
            init_sql: None,
            // Python's sqlite3 default: a writer briefly holding the lock is waited for.
            busy_timeout: Duration::from_millis(5000),
            statement_cache_capacity: 32,
            read_snapshot: None,
            snapshot_linger_ms: 0,
            leak_threshold: None,
            on_event: None,
            on_log: None,
            functions: Vec::new(),
        }
    }
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections kept open in the pool: from 1 to `i32::MAX` (the stats
    /// report the overflow beyond it as an `i32`).
    pub fn set_pool_size(&mut self, n: u32) -> Result<&mut Self> {
        if n == 0 || n > MAX_POOL_SIZE {
            return Err(Error::invalid(format!(
                "invalid option pool_size = {n}: it must be from 1 to {MAX_POOL_SIZE}"
            )));
        }
        self.pool_size = n;
        Ok(self)
    }

    /// Connections allowed beyond `pool_size`; -1 means no limit.
    pub fn set_max_overflow(&mut self, n: i32) -> Result<&mut Self> {
        self.max_overflow = match n {
            -1 => None,
            n if n >= 0 => Some(n as u32),
            n => {
                return Err(Error::invalid(format!(
                    "invalid option max_overflow = {n}: it must be -1 (no limit) or >= 0"
                )))
            }
        };
        Ok(self)
    }

    /// How long a checkout waits for a free connection; zero means no wait.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    pub fn set_pre_ping(&mut self, on: bool) -> &mut Self {
        self.pre_ping = on;
        self
    }

    /// Replace connections older than this at checkout; `None` never.
    pub fn set_recycle(&mut self, recycle: Option<Duration>) -> &mut Self {
        self.recycle = recycle;
        self
    }

    /// `recycle_ms` as the C API takes it: -1 never, >= 0 milliseconds.
    pub fn set_recycle_ms(&mut self, ms: i64) -> Result<&mut Self> {
        match ms {
            -1 => Ok(self.set_recycle(None)),
            ms if ms >= 0 => Ok(self.set_recycle(Some(Duration::from_millis(ms as u64)))),
            ms => Err(Error::invalid(format!(
                "invalid option recycle_ms = {ms}: it must be -1 (never) or >= 0"
            ))),
        }
    }

    pub fn set_lifo(&mut self, on: bool) -> &mut Self {
        self.lifo = on;
        self
    }

    /// `true` selects [`Fairness::Strict`], `false` [`Fairness::Barging`]
    /// (the 0.1 meanings of fair on and off).
    pub fn set_fair(&mut self, on: bool) -> &mut Self {
        self.fairness = if on { Fairness::Strict } else { Fairness::Barging };
        self
    }

    /// Who gets a returned connection while threads wait: strict (first come,
    /// first served, direct handoff), bounded (the default: whoever asks
    /// first while the oldest waiter has waited less than
    /// T = max(`threshold`, 500 µs × waiters); strict after that), barging
    /// (whoever asks first). `threshold` zero means the default, 2 ms; it
    /// only matters for bounded, and must be at most an hour.
    pub fn set_fairness(&mut self, mode: Fairness, threshold: Duration) -> Result<&mut Self> {
        if threshold > Duration::from_secs(3600) {
            return Err(Error::invalid(format!(
                "fairness threshold {} us is longer than an hour (3600000000 us)",
                threshold.as_micros()
            )));
        }
        self.fairness = mode;
        self.fairness_threshold = if threshold.is_zero() {
            crate::handoff::DEFAULT_MIN_THRESHOLD
        } else {
            threshold
        };
        Ok(self)
    }

    /// The fairness mode and bounded mode's least threshold.
    pub fn fairness(&self) -> (Fairness, Duration) {
        (self.fairness, self.fairness_threshold)
    }

    /// Open read-only (and `PRAGMA query_only`); turns on the read snapshot
    /// unless it was set explicitly.
    pub fn set_read_only(&mut self, on: bool) -> &mut Self {
        self.read_only = on;
        self
    }

    /// Create the database file if it is missing (off: a typo is an error).
    pub fn set_create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// SQL run on every new connection (`None` clears it).
    pub fn set_init_sql(&mut self, sql: Option<&str>) -> Result<&mut Self> {
        if let Some(sql) = sql {
            if sql.contains('\0') {
                return Err(Error::invalid("invalid option init_sql: it contains a NUL byte"));
            }
        }
        self.init_sql = sql.map(str::to_owned);
        Ok(self)
    }

    /// How long a connection waits for another writer's lock (SQLite's
    /// busy_timeout, an `int` of ms): at most `i32::MAX` ms, about 24.8 days.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        if timeout.as_millis() > MAX_BUSY_TIMEOUT_MS as u128 {
            return Err(Error::invalid(format!(
                "invalid option busy_timeout_ms = {}: SQLite takes at most {MAX_BUSY_TIMEOUT_MS} ms",
                timeout.as_millis()
            )));
        }
        self.busy_timeout = timeout;
        Ok(self)
    }

    /// Prepared statements kept per connection; 0 disables the cache.
    pub fn set_statement_cache_capacity(&mut self, n: u32) -> &mut Self {
        self.statement_cache_capacity = n;
        self
    }

    /// One read transaction per checkout (default: on when read-only).
    pub fn set_read_snapshot(&mut self, on: bool) -> &mut Self {
        self.read_snapshot = Some(on);
        self
    }

    /// Lets a read snapshot still open at checkin stay open for the next
    /// checkouts of that connection, up to `ms` after it began, so that
    /// back-to-back reads take SQLite's file locks once instead of once per
    /// checkout (0, the default: ended at checkin). Only on databases with a
    /// rollback journal, where no writer can commit while the snapshot holds
    /// its shared lock, so a read never misses a commit made before it
    /// started (a write through another copy of SQLite in this process is
    /// caught by the change counter, read at each such checkout); in WAL
    /// mode, in-memory and shared-cache databases the snapshot still ends
    /// at checkin.
    pub fn set_snapshot_linger_ms(&mut self, ms: u32) -> Result<&mut Self> {
        if ms > MAX_SNAPSHOT_LINGER_MS {
            return Err(Error::invalid(format!(
                "invalid option snapshot_linger_ms = {ms}: it must be from 0 to {MAX_SNAPSHOT_LINGER_MS}"
            )));
        }
        self.snapshot_linger_ms = ms;
        Ok(self)
    }

    /// Report a connection held longer than this through the log handler,
    /// once, and again when it comes back; `None` (the default) turns leak
    /// detection off.
    /// At most `i64::MAX` ms (what the C API can express).
    pub fn set_leak_threshold(&mut self, threshold: Option<Duration>) -> Result<&mut Self> {
        if let Some(t) = threshold {
            if t.as_millis() > i64::MAX as u128 {
                return Err(Error::invalid(format!(
                    "invalid option leak_threshold_ms = {}: it must be at most {} ms",
                    t.as_millis(),
                    i64::MAX
                )));
            }
        }
        self.leak_threshold = threshold;
        Ok(self)
    }

    /// Called for every pool event (connect, checkout, checkin, invalidate,
    /// recycle, pre_ping failure, timeout) on the thread where it happens.
    pub fn set_event_handler(&mut self, handler: Option<EventHandler>) -> &mut Self {
        self.on_event = handler;
        self
    }

    /// Receives the pool's log messages (errors, timeouts, leaks).
    pub fn set_log_handler(&mut self, handler: Option<LogHandler>) -> &mut Self {
        self.on_log = handler;
        self
    }

    /// Registers `function` on every connection a pool opened with these
    /// options opens, before `init_sql` runs; it replaces one added before
    /// with the same name (ignoring ASCII case) and number of arguments.
    pub fn add_function(&mut self, function: Function) -> &mut Self {
        self.functions.retain(|f| !f.same_signature(&function));
        self.functions.push(function);
        self
    }

    /// The functions registered on every new connection.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// `None` when overflow is unlimited.
    pub fn max_overflow(&self) -> Option<u32> {
        self.max_overflow
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn read_snapshot(&self) -> bool {
        self.read_snapshot.unwrap_or(self.read_only)
    }

    /// Milliseconds a read snapshot may linger after checkin (0 when the
    /// read snapshot is off).
    pub fn snapshot_linger_ms(&self) -> u32 {
        if self.read_snapshot() {
            self.snapshot_linger_ms
        } else {
            0
        }
    }

    /// The most connections open at once (`u32::MAX` when unlimited).
    pub(crate) fn capacity(&self) -> u32 {
        match self.max_overflow {
            Some(n) => self.pool_size.saturating_add(n),
            None => u32::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn defaults_are_the_nuplan_queuepool() {
        let o = Options::default();
        assert_eq!(o.pool_size, 5);
        assert_eq!(o.max_overflow, Some(10));
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert!(o.pre_ping);
        assert_eq!(o.recycle, Some(Duration::from_secs(3600)));
        assert!(!o.lifo && !o.read_only && !o.create);
        assert!(!o.read_snapshot());
        assert_eq!(o.capacity(), 15);
    }

    #[test]
    fn invalid_values_are_rejected_by_name_and_leave_options_as_they_were() {
        let mut o = Options::default();
        let e = o.set_pool_size(0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("pool_size"));
        let e = o.set_max_overflow(-2).unwrap_err();
        assert!(e.message().contains("max_overflow"));
        let e = o.set_recycle_ms(-5).unwrap_err();
        assert!(e.message().contains("recycle_ms"));
        let e = o.set_init_sql(Some("select 1\0")).unwrap_err();
        assert!(e.message().contains("init_sql"));
        assert_eq!(o, Options::default());
    }

    #[test]
    fn values_that_would_later_panic_or_overflow_are_rejected_at_the_setter() {
        let mut o = Options::default();
        // rusqlite panics ("too big") on a busy_timeout above i32::MAX ms.
        let e = o
            .set_busy_timeout(Duration::from_millis(u64::from(MAX_BUSY_TIMEOUT_MS) + 1))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("busy_timeout_ms") && e.message().contains("2147483647"),
            "{e}"
        );
        let e = o.set_busy_timeout(Duration::MAX).unwrap_err();
        assert!(e.message().contains("busy_timeout_ms"), "{e}");
        let e = o.set_pool_size(MAX_POOL_SIZE + 1).unwrap_err();
        assert!(
            e.message().contains("pool_size") && e.message().contains("2147483647"),
            "{e}"
        );
        let e = o.set_leak_threshold(Some(Duration::MAX)).unwrap_err();
        assert!(e.message().contains("leak_threshold_ms"), "{e}");
        assert_eq!(o, Options::default());
        // The limits themselves are accepted.
        o.set_busy_timeout(Duration::from_millis(MAX_BUSY_TIMEOUT_MS.into()))
            .unwrap();
        o.set_pool_size(MAX_POOL_SIZE).unwrap();
        o.set_leak_threshold(Some(Duration::from_millis(i64::MAX as u64)))
            .unwrap();
    }

    #[test]
    fn snapshot_linger_is_bounded_and_needs_the_read_snapshot() {
        let mut o = Options::default();
        assert_eq!(o.snapshot_linger_ms(), 0);
        let err = o.set_snapshot_linger_ms(MAX_SNAPSHOT_LINGER_MS + 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("snapshot_linger_ms = 60001"), "{}", err.message());
        assert_eq!(o.snapshot_linger_ms, 0, "a rejected value leaves the option as it was");
        o.set_snapshot_linger_ms(10).unwrap();
        assert_eq!(o.snapshot_linger_ms(), 0, "no read snapshot on a writable pool by default");
        o.set_read_only(true);
        assert_eq!(o.snapshot_linger_ms(), 10);
        o.set_read_snapshot(false);
        assert_eq!(o.snapshot_linger_ms(), 0);
    }

    #[test]
    fn read_snapshot_follows_read_only_unless_set() {
        let mut o = Options::default();
        o.set_read_only(true);
        assert!(o.read_snapshot());
        o.set_read_snapshot(false);
        assert!(!o.read_snapshot());
        o.set_max_overflow(-1).unwrap();
        assert_eq!(o.capacity(), u32::MAX);
    }
}
