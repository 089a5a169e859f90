//! A snapshot of a pool's state and counters.

/// Counts are since the pool was opened (in a forked child, since the fork).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub pool_size: u32,
    /// -1 when overflow is unlimited.
    pub max_overflow: i32,
    /// Held by callers now.
    pub checked_out: u32,
    /// Open and waiting in the pool now.
    pub idle: u32,
    /// Open beyond pool_size now (negative below it).
    pub overflow: i32,
    /// Callers blocked in checkout now.
    pub waiting: u32,
    pub connections_created: u64,
    pub connections_closed: u64,
    pub checkouts: u64,
    /// Checkouts that had to wait.
    pub waits: u64,
    pub timeouts: u64,
    pub wait_ns_total: u64,
    pub pre_ping_failures: u64,
    pub recycled: u64,
    pub invalidated: u64,
    pub statement_cache_hits: u64,
    pub statement_cache_misses: u64,
    /// Checkins that had to roll back a transaction or reset a statement.
    pub resets_on_checkin: u64,
}
