//! Pool settings. Defaults are those of nuPlan's SessionManager QueuePool
//! (SQLAlchemy: pool_size 5, max_overflow 10, timeout 30 s, pre_ping on,
//! recycle 3600 s). Setters validate and name the option they reject.

use crate::error::{Error, Result};
use crate::events::{EventHandler, LogHandler};
use crate::function::Function;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub(crate) pool_size: u32,
    pub(crate) max_overflow: Option<u32>,
    pub(crate) timeout: Duration,
    pub(crate) pre_ping: bool,
    pub(crate) recycle: Option<Duration>,
    pub(crate) lifo: bool,
    pub(crate) fair: bool,
    pub(crate) read_only: bool,
    pub(crate) create: bool,
    pub(crate) init_sql: Option<String>,
    pub(crate) busy_timeout: Duration,
    pub(crate) statement_cache_capacity: u32,
    pub(crate) read_snapshot: Option<bool>,
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
            fair: true,
            read_only: false,
            create: false,
            init_sql: None,
            // Python's sqlite3 default: a writer briefly holding the lock is waited for.
            busy_timeout: Duration::from_millis(5000),
            statement_cache_capacity: 32,
            read_snapshot: None,
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

    /// Connections kept open in the pool. Must be at least 1.
    pub fn set_pool_size(&mut self, n: u32) -> Result<&mut Self> {
        if n == 0 {
            return Err(Error::invalid("invalid option pool_size = 0: it must be at least 1"));
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

    /// Fair (the default): waiters are served first come, first served, and
    /// a caller arriving later never takes a connection ahead of one already
    /// waiting; a returned connection goes straight to the first waiter.
    /// Not fair: a returned connection goes back to the idle list and
    /// whoever asks first gets it (the first waiter is woken to compete), as
    /// in r2d2 and SQLAlchemy's QueuePool. Under heavy contention that saves
    /// a thread switch per checkout, at the cost of order and of tail waits.
    pub fn set_fair(&mut self, on: bool) -> &mut Self {
        self.fair = on;
        self
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

    pub fn set_busy_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.busy_timeout = timeout;
        self
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

    /// Report a connection held longer than this through the log handler,
    /// once, and again when it comes back; `None` (the default) turns leak
    /// detection off.
    pub fn set_leak_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.leak_threshold = threshold;
        self
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
