//! The pool: ties the handoff core (src/handoff.rs: who gets a connection)
//! to SQLite connections, pre_ping's file watch (src/file_watch.rs), recycle,
//! clean checkin, events and counters. Connections are opened, validated and
//! closed outside the core's lock.

use crate::connection::{ConnMeta, Connection};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{wait_bucket, Event, Holding, LogLevel, WAIT_BUCKETS_SECONDS};
use crate::file_watch::WatchedFile;
use crate::handoff::{CloseReason, Grant, Handoff, Refused, Returned, Rules, Snapshot};

use crate::monitor;
use crate::options::Options;
use crate::prim::{
    AtomicBool, AtomicU64,
    Ordering::{AcqRel, Relaxed, Release},
};
use crate::registry;
use crate::stats::Stats;
use crate::sync::ForkMutex;
use std::ops::{Deref, DerefMut};
use crate::prim::{Arc, Weak};

/// A pool of connections to one database file. Cheap to clone; every clone
/// is the same pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<PoolShared>,
}

/// A checked-out connection's reference to its pool (`Connection::checked_out_from`).
pub(crate) type PoolRef = Arc<PoolShared>;

pub(crate) struct PoolShared {
    path: String,
    opts: Options,
    core: Handoff<Box<Connection>>,
    /// Bumped when the database file is replaced or removed (pre_ping).
    file_generation: AtomicU64,
    watched_file: Option<WatchedFile>,
    poisoned: AtomicBool,
    /// Opened through the shared registry: each open connection holds one
    /// unit of the registry's connection budget (crate::shared).
    budgeted: bool,
    counters: Counters,
    next_connection_id: AtomicU64,
    /// Who holds each open connection, scanned for leaks (when detected).
    holdings: ForkMutex<Vec<Weak<Holding>>>,
    /// Every open connection's interrupter, for close().
    interrupters: ForkMutex<Vec<Weak<dyn Fn() + Send + Sync>>>,
    /// Mirrors `State::fork_epoch`, so that checkin can tell a parent's
    /// connection before touching it.
    fork_epoch: AtomicU64,
    /// Set after a connection carrying its read snapshot went idle: the
    /// monitor then ends the snapshots that are too old (snapshot_linger_ms).
    lingering: AtomicBool,
}

/// Counters updated off the pool lock.
#[derive(Default)]
struct Counters {
    created: AtomicU64,
    closed: AtomicU64,

    timeouts: AtomicU64,
    wait_ns_total: AtomicU64,
    pre_ping_failures: AtomicU64,
    recycled: AtomicU64,
    invalidated: AtomicU64,

    /// Closed at checkin because pool_size were already idle.
    closed_overflow: AtomicU64,
    /// Closed by dispose or close.
    closed_disposed: AtomicU64,
    /// Checkouts that waited, by wait time (WAIT_BUCKETS_SECONDS, then +Inf).
    wait_histogram: [AtomicU64; WAIT_BUCKETS_SECONDS.len() + 1],

    /// Added at checkin, only when not zero: a checkin through the parked
    /// slot takes no lock to count them under.
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    resets_on_checkin: AtomicU64,
}

impl Pool {
    /// Opens a pool on `path` (a file name or an SQLite URI). One connection is
    /// opened now, so that a missing, unreadable or non-SQLite file fails here,
    /// and kept as the first idle connection.
    pub fn open(path: &str, opts: Options) -> Result<Pool> {
        Self::open_in(path, opts, false)
    }

    /// [`Pool::open`], with `budgeted` pools counted against the shared
    /// registry's connection budget.
    pub(crate) fn open_in(path: &str, opts: Options, budgeted: bool) -> Result<Pool> {
        check_path(path)?;
        crate::fork::install_handlers();
        monitor::refresh_clock();
        let shared = Arc::new(PoolShared {
            path: path.to_owned(),
            opts: opts.clone(),
            core: Handoff::new(
                Rules {
                    capacity: opts.capacity(),
                    pool_size: opts.pool_size,
                    lifo: opts.lifo,
                    fairness: opts.fairness,
                    min_threshold: opts.fairness_threshold,
                },
                [],
            ),
            file_generation: AtomicU64::new(0),
            watched_file: None,
            poisoned: AtomicBool::new(false),
            budgeted,
            counters: Counters::default(),
            next_connection_id: AtomicU64::new(1),
            holdings: ForkMutex::new(Vec::new()),
            interrupters: ForkMutex::new(Vec::new()),
            fork_epoch: AtomicU64::new(0),
            lingering: AtomicBool::new(false),
        });
        let first = shared.open_connection(0)?;
        let filename = first.main_filename();
        let mut shared = shared;
        if !filename.is_empty() {
            let watched = WatchedFile::new(filename, path);
            Arc::get_mut(&mut shared).expect("not shared yet").watched_file = Some(watched);
        }
        shared.core.add_idle(first);
        registry::register(&shared);
        if shared.opts.leak_threshold.is_some() || shared.opts.snapshot_linger_ms() != 0 {
            monitor::watch_each_tick(&shared);
        }
        if shared.needs_monitor() {
            monitor::ensure_running();
        }
        Ok(Pool { shared })
    }

    pub fn path(&self) -> &str {
        &self.shared.path
    }

    pub fn options(&self) -> &Options {
        &self.shared.opts
    }

    /// Takes a connection, waiting up to the pool's timeout for one.
    pub fn checkout(&self) -> Result<PooledConnection> {
        self.checkout_timeout(self.shared.opts.timeout)
    }

    /// Takes a connection if one is free (or may be opened) now, without
    /// waiting; `Ok(None)` when the caller would have to wait.
    pub fn try_checkout(&self) -> Result<Option<PooledConnection>> {
        self.note_file_use();
        Ok(self
            .shared
            .try_checkout()?
            .map(|conn| PooledConnection::new(conn, self.shared.clone())))
    }

    /// Takes a connection, waiting up to `timeout` (instead of the pool's).
    pub fn checkout_timeout(&self, timeout: std::time::Duration) -> Result<PooledConnection> {
        self.note_file_use();
        let conn = self.shared.checkout(timeout)?;
        Ok(PooledConnection::new(conn, self.shared.clone()))
    }

    /// A connection now if one is free, else waiting up to `timeout` (or the
    /// pool's). Consumes this handle on the pool: its reference goes to the
    /// connection, so a caller that cloned the pool to check out (the C API,
    /// which must not hold its handle while waiting) pays no second count.
    #[inline(always)]
    pub(crate) fn checkout_owned(self, timeout: Option<std::time::Duration>) -> Result<PooledConnection> {
        self.note_file_use();
        let conn = match self.shared.try_checkout()? {
            Some(conn) => conn,
            None => self.shared.checkout(timeout.unwrap_or(self.shared.opts.timeout))?,
        };
        Ok(PooledConnection::new(conn, self.shared))
    }

    /// pre_ping: makes sure the file was checked within the monitor's last
    /// tick before a connection is chosen. One atomic load when the pool was
    /// used since that tick; otherwise (once per tick) the file is checked
    /// now unless the monitor just did, and the monitor watches the pool.
    #[inline]
    fn note_file_use(&self) {
        let Some(watched) = &self.shared.watched_file else {
            return;
        };
        if !self.shared.opts.pre_ping || watched.used_this_tick() {
            return;
        }
        if watched.first_use(|| self.shared.file_replaced()).start_watching {
            monitor::watch_file(&self.shared);
        }
    }

    /// Closes the idle connections; new ones are opened on demand.
    pub fn dispose(&self) {
        let idle = self.shared.core.dispose();
        self.shared
            .counters
            .closed_disposed
            .fetch_add(idle.len() as u64, Relaxed);
        self.shared.close_connections(idle);
    }

    /// Closes the pool: idle connections now, checked-out ones at their
    /// checkin; waiting checkouts fail with `Closed`. Closing twice is misuse.
    pub fn close(&self) -> Result<()> {
        let Some(idle) = self.shared.core.close() else {
            return Err(Error::misuse(format!("pool on '{}' closed twice", self.shared.path)));
        };
        if self.shared.budgeted {
            crate::shared::wake_budget_waiters();
        }
        self.shared
            .counters
            .closed_disposed
            .fetch_add(idle.len() as u64, Relaxed);
        self.shared.close_connections(idle);
        // What is left is checked out: stop its running queries.
        let running: Vec<_> = self
            .shared
            .interrupters
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for interrupt in running {
            interrupt();
        }
        Ok(())
    }

    pub fn is_closed(&self) -> bool {
        self.shared.core.lock().is_closed()
    }

    /// Checkouts given directly to a queued waiter, and checkouts that took a
    /// connection ahead of queued waiters, since the pool opened (or fork).
    pub fn handoffs_and_barges(&self) -> (u64, u64) {
        let counts = self.shared.core.lock().counts();
        (counts.handoffs, counts.barges)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The stats with the wait-time histogram and close reasons.
    pub fn metrics(&self) -> crate::Metrics {
        let c = &self.shared.counters;
        let stats = self.shared.stats();
        let mut wait_histogram: [u64; WAIT_BUCKETS_SECONDS.len() + 1] =
            std::array::from_fn(|i| c.wait_histogram[i].load(Relaxed));
        // Checkouts that did not wait are not counted on the hot path.
        wait_histogram[0] += stats.checkouts.saturating_sub(wait_histogram.iter().sum());
        crate::Metrics {
            stats,
            wait_histogram,
            closed_overflow: c.closed_overflow.load(Relaxed),
            closed_disposed: c.closed_disposed.load(Relaxed),
            capacity: self
                .shared
                .opts
                .max_overflow
                .map(|n| u64::from(self.shared.opts.pool_size) + u64::from(n)),
        }
    }

    /// `QueuePool.status()`'s text: "Pool size: 5  Connections in pool: 1
    /// Current Overflow: -4 Current Checked out connections: 0".
    pub fn status(&self) -> String {
        crate::metrics::status(&self.stats())
    }

    /// The pool's metrics in the Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        crate::metrics::prometheus(&self.shared.path, &self.metrics())
    }

    /// Checks the database file now instead of at the monitor's next tick.
    pub fn check_file_now(&self) {
        self.shared.check_file();
    }

    /// Makes every later checkout fail with `Internal`: used after a panic
    /// that may have left the pool's state broken.
    pub fn poison(&self) {
        self.shared.poisoned.store(true, Relaxed);
    }

    /// The pool's identity: equal for handles of the same pool, never
    /// reused while a handle lives.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Checkouts since the pool opened, and connections checked out and idle
    /// now: what the shared registry's sweep needs, without a full Stats.
    pub(crate) fn use_counts(&self) -> (u64, u32, u32) {
        let st = self.shared.core.lock();
        let now = st.snapshot_counts();
        (st.counts().checkouts, now.checked_out, now.idle)
    }

    /// True when both handles are the same pool.
    pub fn same_pool(&self, other: &Pool) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// A reference to a pool that does not keep it alive (see
/// `Pool::downgrade`).
#[derive(Clone)]
pub(crate) struct WeakPool(Weak<PoolShared>);

impl WeakPool {
    /// The pool, unless every handle on it is gone.
    #[inline]
    pub(crate) fn upgrade(&self) -> Option<Pool> {
        self.0.upgrade().map(|shared| Pool { shared })
    }
}

impl Pool {
    /// A reference that does not keep the pool alive.
    pub(crate) fn downgrade(&self) -> WeakPool {
        WeakPool(Arc::downgrade(&self.shared))
    }
}

// A panic while using a pool cannot leave it half-changed for other users:
// its state only changes under its lock, in steps that do not panic.
impl std::panic::UnwindSafe for Pool {}
impl std::panic::RefUnwindSafe for Pool {}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("path", &self.shared.path).finish()
    }
}

fn check_path(path: &str) -> Result<()> {
    if path.is_empty() || path == ":memory:" {
        return Err(Error::invalid(format!(
            "path '{path}' would give each pooled connection its own private database; \
             use a file, or a shared in-memory URI such as 'file:name?mode=memory&cache=shared'"
        )));
    }
    if path.contains('\0') {
        return Err(Error::invalid("path contains a NUL byte"));
    }
    Ok(())
}

impl PoolShared {
    fn checkout(&self, timeout: std::time::Duration) -> Result<Box<Connection>> {
        self.check_usable()?;
        match self.core.checkout(timeout) {
            Ok((grant, waited)) => {
                let waited_ns = waited.map_or(0, |w| w.as_nanos() as u64);
                if waited.is_some() {
                    self.counters.wait_ns_total.fetch_add(waited_ns, Relaxed);
                    self.counters.wait_histogram[wait_bucket(waited_ns)].fetch_add(1, Relaxed);
                }
                self.finish_checkout(grant, waited_ns)
            }
            Err(refused) => Err(self.refusal(refused, timeout)),
        }
    }

    /// A connection if one can be had without waiting; `None` otherwise.
    #[inline(always)]
    fn try_checkout(&self) -> Result<Option<Box<Connection>>> {
        self.check_usable()?;
        match self.core.try_checkout() {
            Ok(Some(grant)) => self.finish_checkout(grant, 0).map(Some),
            Ok(None) => Ok(None),
            Err(refused) => Err(self.refusal(refused, std::time::Duration::ZERO)),
        }
    }

    #[inline]
    fn check_usable(&self) -> Result<()> {
        if self.poisoned.load(Relaxed) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("the pool on '{}' refuses work after an internal panic", self.path),
            ));
        }
        Ok(())
    }

    /// The error for a checkout the core refused.
    #[cold]
    fn refusal(&self, refused: Refused, timeout: std::time::Duration) -> Error {
        match refused {
            Refused::Closed { while_waiting: false } => Error::new(
                ErrorKind::Closed,
                format!("checkout from the pool on '{}' after it was closed", self.path),
            ),
            Refused::Closed { while_waiting: true } => Error::new(
                ErrorKind::Closed,
                format!("the pool on '{}' was closed while waiting for a connection", self.path),
            ),
            Refused::TimedOut { waited, counts } => {
                if !waited.is_zero() {
                    self.counters.wait_ns_total.fetch_add(waited.as_nanos() as u64, Relaxed);
                }
                let err = self.timeout_error(counts, timeout, waited.as_millis());
                self.timed_out(err, waited.as_nanos() as u64)
            }
        }
    }

    /// Counts, reports and returns a checkout timeout (called off the lock).
    fn timed_out(&self, err: Error, waited_ns: u64) -> Error {
        self.counters.timeouts.fetch_add(1, Relaxed);
        self.emit(Event::Timeout, 0, waited_ns);
        self.log(LogLevel::Warn, err.message());
        err
    }

    #[inline]
    fn emit(&self, event: Event, connection_id: u64, wait_ns: u64) {
        if let Some(handler) = &self.opts.on_event {
            handler.emit(event, connection_id, wait_ns);
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        if let Some(handler) = &self.opts.on_log {
            handler.log(level, message);
        }
    }

    fn needs_monitor(&self) -> bool {
        self.opts.pre_ping
            || self.opts.recycle.is_some()
            || self.opts.leak_threshold.is_some()
            || self.opts.snapshot_linger_ms() != 0
    }

    fn timeout_error(&self, st: Snapshot, timeout: std::time::Duration, waited_ms: u128) -> Error {
        let max_overflow = match self.opts.max_overflow {
            Some(n) => n.to_string(),
            None => "unlimited".into(),
        };
        Error::new(
            ErrorKind::Timeout,
            format!(
                "checkout from the pool on '{}' timed out after {waited_ms} ms (timeout_ms={}): \
                 pool_size={}, max_overflow={max_overflow}, checked_out={}, idle={}, waiting={}",
                self.path,
                timeout.as_millis(),
                self.opts.pool_size,
                st.checked_out,
                st.idle,
                st.waiting,
            ),
        )
    }

    /// Turns a grant into a connection fit to hand out: pre_ping and recycle
    /// replace a stale idle connection; a grant to open one opens it. The
    /// usual case (a fresh idle connection) is inlined, the rest is cold.
    #[inline(always)]
    fn finish_checkout(&self, grant: Grant<Box<Connection>>, waited_ns: u64) -> Result<Box<Connection>> {
        match grant {
            Grant::Idle(conn) => match self.staleness(&conn) {
                None => Ok(self.handed_out(conn, waited_ns)),
                Some(stale) => self.replace_stale(conn, stale, waited_ns),
            },
            Grant::Open { fork_epoch } => self.open_granted(fork_epoch, waited_ns),
        }
    }

    /// Why an idle connection must not be handed out, if it must not.
    #[inline]
    fn staleness(&self, conn: &Connection) -> Option<Stale> {
        if self.opts.pre_ping && conn.meta.file_generation != self.file_generation.load(Relaxed) {
            Some(Stale::FileReplaced)
        } else if self.opts.recycle.is_some() && monitor::coarse_now_ms() >= conn.meta.expires_at_ms {
            Some(Stale::Expired)
        } else {
            None
        }
    }

    /// Closes a stale idle connection and opens one in its place.
    #[cold]
    fn replace_stale(&self, conn: Box<Connection>, stale: Stale, waited_ns: u64) -> Result<Box<Connection>> {
        match stale {
            Stale::FileReplaced => {
                self.counters.pre_ping_failures.fetch_add(1, Relaxed);
                self.emit(Event::PrePingFailure, conn.meta.id, 0);
                self.log(
                    LogLevel::Info,
                    &format!(
                        "pre_ping: replacing connection {} of the pool on '{}': its database file was replaced or removed",
                        conn.meta.id, self.path
                    ),
                );
            }
            Stale::Expired => {
                self.counters.recycled.fetch_add(1, Relaxed);
                self.emit(Event::Recycle, conn.meta.id, 0);
            }
        }
        let fork_epoch = conn.meta.fork_epoch;
        self.close_connections([conn]);
        self.open_granted(fork_epoch, waited_ns)
    }

    /// Opens the connection a grant (or a replacement) reserved room for.
    #[cold]
    fn open_granted(&self, fork_epoch: u64, waited_ns: u64) -> Result<Box<Connection>> {
        match self.open_connection(fork_epoch) {
            Ok(conn) => Ok(self.handed_out(conn, waited_ns)),
            Err(e) => {
                self.log(LogLevel::Error, e.message());
                // Give the reserved place back, to the first waiter if any.
                self.core.open_failed();
                Err(e)
            }
        }
    }

    /// Counts and reports a successful checkout.
    #[inline]
    fn handed_out(&self, conn: Box<Connection>, waited_ns: u64) -> Box<Connection> {
        if let Some(holding) = &conn.holding {
            holding.start(monitor::coarse_now_ms());
        }
        self.emit(Event::Checkout, conn.meta.id, waited_ns);
        conn
    }

    fn open_connection(&self, fork_epoch: u64) -> Result<Box<Connection>> {
        monitor::ensure_running_if(self.needs_monitor());
        let file_generation = self.file_generation.load(Relaxed);
        let meta = ConnMeta {
            id: self.next_connection_id.fetch_add(1, Relaxed),
            file_generation,
            fork_epoch,
            expires_at_ms: self.expiry_from_now(),
            invalidated: false,
            broken: false,
            cache_hits: 0,
            cache_misses: 0,
        };
        // Given back on every way out but success, panics included.
        let budget_unit = match self.budgeted {
            true => Some(crate::shared::acquire_connection(
                self.id(),
                &self.path,
                self.opts.timeout,
                || self.core.lock().is_closed(),
            )?),
            false => None,
        };
        let conn = Connection::open(&self.path, &self.opts, meta)?;
        self.counters.created.fetch_add(1, Relaxed);
        let mut conn = Box::new(conn);
        {
            let mut interrupters = self.interrupters.lock();
            interrupters.retain(|i| i.strong_count() > 0);
            interrupters.push(Arc::downgrade(&conn.interrupter()));
        }
        if self.opts.leak_threshold.is_some() {
            let holding = Arc::new(Holding::new(conn.meta.id));
            let mut holdings = self.holdings.lock();
            holdings.retain(|h| h.strong_count() > 0);
            holdings.push(Arc::downgrade(&holding));
            drop(holdings);
            conn.holding = Some(holding);
        }
        self.emit(Event::Connect, conn.meta.id, 0);
        if let Some(unit) = budget_unit {
            unit.keep();
        }
        Ok(conn)
    }

    /// recycle_ms from now, less a random jitter of up to 5 %, so that
    /// connections opened together do not expire together.
    fn expiry_from_now(&self) -> u64 {
        let Some(recycle) = self.opts.recycle else {
            return u64::MAX;
        };
        let ms = recycle.as_millis().min(u64::MAX as u128) as u64;
        let jitter = if ms >= 20 { jitter_random() % (ms / 20) } else { 0 };
        monitor::refresh_clock().saturating_add(ms - jitter)
    }

    #[inline(always)]
    fn checkin(&self, mut conn: Box<Connection>) {
        if conn.meta.fork_epoch != self.fork_epoch.load(Relaxed) {
            // The parent's connection, checked out before fork(): never touch it.
            std::mem::forget(conn);
            return;
        }
        // Normally emptied by sqlpool_checkin; stale handles left by a
        // panic there must not be released by the next holder's checkin.
        conn.ffi_statements.clear();
        self.emit(Event::Checkin, conn.meta.id, 0);
        if let Some(holding) = &conn.holding {
            if let Some(held_ms) = holding.end(monitor::coarse_now_ms()) {
                self.log(
                    LogLevel::Info,
                    &format!(
                        "connection {} of the pool on '{}' returned after {held_ms} ms (it was reported as a possible leak)",
                        conn.meta.id, self.path
                    ),
                );
            }
        }
        let reset = conn.clean_for_checkin();
        let hits = std::mem::take(&mut conn.meta.cache_hits);
        let misses = std::mem::take(&mut conn.meta.cache_misses);
        let c = &self.counters;
        for (counter, n) in [(&c.cache_hits, hits), (&c.cache_misses, misses), (&c.resets_on_checkin, u64::from(reset))] {
            if n != 0 {
                counter.fetch_add(n, Relaxed);
            }
        }
        let reusable = !conn.is_invalidated();
        let carried = conn.carries_snapshot();
        // Parked (no lock) if the slot takes it.
        let conn = if reusable {
            match self.core.try_park(conn) {
                Ok(()) => {
                    self.note_lingering(carried);
                    return;
                }
                Err(conn) => conn,
            }
        } else {
            conn
        };
        let returned = self.core.checkin(conn, reusable);
        // After the connection is idle, so that the monitor's sweep, which
        // clears the flag first, cannot miss it.
        self.note_lingering(carried && reusable);
        self.close_returned(returned);
    }

    /// A read-modify-write with Release, after the connection is idle: every
    /// such checkin then heads a release sequence that the sweep's AcqRel
    /// swap reads, so a sweep that clears the flag sees every connection
    /// whose checkin set it (tests/loom_handoff.rs). A load first, or a plain
    /// store, would not order an earlier checkin's connection before the
    /// sweep, and an idle pool could keep a snapshot for ever.
    #[inline(always)]
    fn note_lingering(&self, carried: bool) {
        if carried {
            self.lingering.swap(true, Release);
        }
    }

    /// The monitor's tick (and fork's prepare handler, with `force`): ends
    /// the read snapshots idle connections carry when too old, when a writer
    /// waits for them, or when `force`d. In place under the pool's lock (a
    /// few microseconds each): taken out, they would leave a checkout
    /// meanwhile an empty pool, and it would open a connection.
    pub(crate) fn end_lingering_snapshots(&self, force: bool) {
        if self.opts.snapshot_linger_ms() == 0 || !self.lingering.swap(false, AcqRel) {
            return;
        }
        let epoch = self.fork_epoch.load(Relaxed);
        let mut still_carried = false;
        let broken = self.core.sweep_idle(|conn| {
            if conn.meta.fork_epoch == epoch {
                still_carried |= conn.end_idle_snapshot(force);
            }
            !conn.is_invalidated()
        });
        if still_carried {
            self.lingering.swap(true, Release);
        }
        for conn in broken {
            self.close_returned(Returned::Close(conn, CloseReason::Invalidated));
        }
    }

    fn close_returned(&self, returned: Returned<Box<Connection>>) {
        let Returned::Close(conn, reason) = returned else {
            return;
        };
        match reason {
            CloseReason::Invalidated => {
                self.counters.invalidated.fetch_add(1, Relaxed);
                self.emit(Event::Invalidate, conn.meta.id, 0);
            }
            CloseReason::PoolClosed => {
                self.counters.closed_disposed.fetch_add(1, Relaxed);
            }
            CloseReason::Overflow => {
                self.counters.closed_overflow.fetch_add(1, Relaxed);
            }
        }
        self.close_connections([conn]);
    }

    fn close_connections(&self, conns: impl IntoIterator<Item = Box<Connection>>) {
        for conn in conns {
            drop(conn);
            if self.budgeted {
                crate::shared::release_connection(self.id());
            }
            self.counters.closed.fetch_add(1, Relaxed);
        }
    }

    /// The same as `Pool::id` for this pool's handles.
    fn id(&self) -> usize {
        self as *const PoolShared as usize
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        let st = self.core.lock();
        let counts = st.counts();
        let now = st.snapshot_counts();
        Stats {
            pool_size: self.opts.pool_size,
            max_overflow: self.opts.max_overflow.map_or(-1, |n| n.min(i32::MAX as u32) as i32),
            checked_out: now.checked_out,
            idle: now.idle,
            overflow: now.open as i32 - self.opts.pool_size as i32,
            waiting: now.waiting,
            connections_created: c.created.load(Relaxed),
            connections_closed: c.closed.load(Relaxed),
            checkouts: counts.checkouts,
            waits: counts.waits,
            timeouts: c.timeouts.load(Relaxed),
            wait_ns_total: c.wait_ns_total.load(Relaxed),
            pre_ping_failures: c.pre_ping_failures.load(Relaxed),
            recycled: c.recycled.load(Relaxed),
            invalidated: c.invalidated.load(Relaxed),
            statement_cache_hits: c.cache_hits.load(Relaxed),
            statement_cache_misses: c.cache_misses.load(Relaxed),
            resets_on_checkin: c.resets_on_checkin.load(Relaxed),
        }
    }

    /// Compares the database file's identity with the last one seen, and bumps
    /// the file generation when it was replaced or removed.
    pub(crate) fn check_file(&self) {
        if !self.opts.pre_ping {
            return;
        }
        let Some(watched) = &self.watched_file else {
            return;
        };
        watched.check(|| self.file_replaced());
    }

    fn file_replaced(&self) {
        self.file_generation.fetch_add(1, Relaxed);
    }

    /// The monitor's tick for a pool it watches: checks the file when the
    /// pool was used since the last tick. False once it was not (the pool's
    /// next checkout checks the file itself): the monitor lets it go.
    pub(crate) fn tick_file_watch(&self) -> bool {
        match &self.watched_file {
            Some(watched) if self.opts.pre_ping => watched.tick(|| self.file_replaced()),
            _ => false,
        }
    }

    /// Reports connections held longer than leak_threshold, once each
    /// (called by the monitor thread).
    pub(crate) fn check_leaks(&self) {
        let Some(threshold) = self.opts.leak_threshold else {
            return;
        };
        let threshold_ms = threshold.as_millis() as u64;
        let now = monitor::coarse_now_ms();
        let holdings: Vec<Arc<Holding>> = self.holdings.lock().iter().filter_map(Weak::upgrade).collect();
        for holding in holdings {
            if let Some((held_ms, thread_id, tag)) = holding.leak(now, threshold_ms) {
                self.log(
                    LogLevel::Warn,
                    &format!(
                        "possible leak: connection {} of the pool on '{}' has been held for {held_ms} ms \
                         (leak_threshold_ms={threshold_ms}) by thread {thread_id}, tag: {}",
                        holding.connection_id(),
                        self.path,
                        tag.as_deref().unwrap_or("(none)")
                    ),
                );
            }
        }
    }

    /// Takes the pool's locks across fork() (prepare handler).
    pub(crate) fn lock_for_fork(&self) {
        self.core.lock_for_fork();
        self.holdings.lock_for_fork();
        // SAFETY: the holdings lock is held (just taken), here and below.
        let holdings = || unsafe { &*self.holdings.data_ptr() }.iter().filter_map(Weak::upgrade);
        holdings().for_each(|h| h.lock_tag_for_fork());
        self.interrupters.lock_for_fork();
        if let Some(watched) = &self.watched_file {
            watched.lock_for_fork();
        }
    }

    /// Releases the locks taken by `lock_for_fork` (parent handler).
    ///
    /// # Safety
    /// Only after `lock_for_fork` on this thread.
    pub(crate) unsafe fn unlock_after_fork_in_parent(&self) {
        // SAFETY: the caller took both locks with lock_for_fork.
        unsafe {
            if let Some(watched) = &self.watched_file {
                watched.unlock_after_fork_in_parent();
            }
            self.interrupters.unlock_after_fork_in_parent();
            for holding in (*self.holdings.data_ptr()).iter().filter_map(Weak::upgrade) {
                holding.unlock_tag_after_fork_in_parent();
            }
            self.holdings.unlock_after_fork_in_parent();
            self.core.unlock_after_fork_in_parent();
        }
    }

    /// In a forked child (prepare took the locks): the parent's connections
    /// and waiters are abandoned, never used, closed or dropped, the counts
    /// start again, and the locks are made free.
    ///
    /// # Safety
    /// Only in a forked child, after `lock_for_fork` in the parent.
    pub(crate) unsafe fn reset_after_fork_in_child(&self) {
        // SAFETY: the caller's contract (prepare took the core's lock).
        let epoch = unsafe { self.core.reset_after_fork_in_child() };
        self.fork_epoch.store(epoch, Relaxed);
        let c = &self.counters;
        for counter in [
            &c.created,
            &c.closed,
            &c.timeouts,
            &c.wait_ns_total,
            &c.pre_ping_failures,
            &c.recycled,
            &c.invalidated,
            &c.cache_hits,
            &c.cache_misses,
            &c.resets_on_checkin,
        ] {
            counter.store(0, Relaxed);
        }
        for counter in c.wait_histogram.iter().chain([&c.closed_overflow, &c.closed_disposed]) {
            counter.store(0, Relaxed);
        }
        // SAFETY: the child has no other thread; prepare holds the holdings
        // lock, and the parent's holdings are abandoned with its connections.
        unsafe {
            for holding in (*self.holdings.data_ptr()).iter().filter_map(Weak::upgrade) {
                holding.reset_tag_after_fork_in_child();
            }
            for holding in (*self.holdings.data_ptr()).drain(..) {
                std::mem::forget(holding);
            }
            self.holdings.reset_after_fork_in_child();
            for interrupt in (*self.interrupters.data_ptr()).drain(..) {
                std::mem::forget(interrupt);
            }
            self.interrupters.reset_after_fork_in_child();
            if let Some(watched) = &self.watched_file {
                watched.reset_after_fork_in_child();
            }
        }
    }
}

fn jitter_random() -> u64 {
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u64> = const { Cell::new(0) });
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = (s as *const _ as u64) ^ monitor::refresh_clock().wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        }
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// Why an idle connection is replaced at checkout.
#[derive(Clone, Copy)]
enum Stale {
    /// pre_ping: the database file was replaced or removed since it opened.
    FileReplaced,
    /// recycle: it is older than recycle_ms.
    Expired,
}

/// A checked-out connection: derefs to [`Connection`], returns to the pool
/// when dropped. One word: the pool it returns to is kept in the connection
/// (`Connection::checked_out_from`), so the C API's handle object moves in
/// a register.
pub struct PooledConnection {
    conn: Option<Box<Connection>>,
}

impl PooledConnection {
    #[inline(always)]
    fn new(mut conn: Box<Connection>, pool: Arc<PoolShared>) -> Self {
        conn.checked_out_from = Some(pool);
        PooledConnection { conn: Some(conn) }
    }

    /// Returns the connection to the pool now (the same as dropping it).
    pub fn checkin(self) {}

    /// The pool this connection came from.
    pub fn pool(&self) -> Pool {
        Pool {
            shared: self.shared().clone(),
        }
    }

    fn shared(&self) -> &Arc<PoolShared> {
        self.checked_out_from.as_ref().expect("set while checked out")
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let pool = conn.checked_out_from.take().expect("set while checked out");
            pool.checkin(conn);
        }
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("pool", &self.shared().path)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::scratch_dir;

    fn open(dir: &std::path::Path, lifo: bool) -> Pool {
        let mut opts = Options::default();
        opts.set_create(true).set_lifo(lifo);
        Pool::open(dir.join("p.db").to_str().unwrap(), opts).unwrap()
    }

    /// Checkouts through the parked slot are counted (past the slot's own
    /// counter, which is flushed under the lock when full), and the parked
    /// connection is idle, not checked out, in the stats.
    #[test]
    fn checkouts_through_the_parked_slot_are_counted_and_it_is_idle() {
        let dir = scratch_dir("parked-stats");
        let pool = open(&dir, false);
        let rounds = 70_000u64;
        for _ in 0..rounds {
            drop(pool.checkout().unwrap());
        }
        let stats = pool.stats();
        assert_eq!(stats.checkouts, rounds);
        assert_eq!((stats.checked_out, stats.idle, stats.connections_created), (0, 1, 1));
        let held = pool.checkout().unwrap();
        let stats = pool.stats();
        assert_eq!((stats.checkouts, stats.checked_out, stats.idle), (rounds + 1, 1, 0));
        drop(held);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The slot keeps the idle order: FIFO hands out the connection returned
    /// first, LIFO the one returned last, whichever way each came back.
    #[test]
    fn the_parked_slot_keeps_fifo_and_lifo_order() {
        for lifo in [false, true] {
            let dir = scratch_dir(if lifo { "parked-lifo" } else { "parked-fifo" });
            let pool = open(&dir, lifo);
            let (a, b) = (pool.checkout().unwrap(), pool.checkout().unwrap());
            let (a_id, b_id) = (a.id(), b.id());
            drop(a); // parked
            drop(b); // under the lock, after the parked one
            let first = pool.checkout().unwrap();
            assert_eq!(first.id(), if lifo { b_id } else { a_id }, "lifo={lifo}");
            let second = pool.checkout().unwrap();
            assert_eq!(second.id(), if lifo { a_id } else { b_id }, "lifo={lifo}");
            drop((first, second));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// Statement cache hits and misses are counted at a checkin through the
    /// parked slot (no lock) as under the lock.
    #[test]
    fn statement_cache_counts_are_kept_through_the_parked_slot() {
        let dir = scratch_dir("parked-cache-counts");
        let pool = open(&dir, false);
        for _ in 0..3 {
            let mut conn = pool.checkout().unwrap();
            let id = conn.prepare("SELECT 1").unwrap();
            conn.finalize(id).unwrap();
        }
        let stats = pool.stats();
        assert_eq!((stats.statement_cache_misses, stats.statement_cache_hits), (1, 2));
        assert_eq!((stats.checked_out, stats.idle), (0, 1), "parked, and idle in the stats");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// pool_size is kept with the slot: of connections returned at once, at
    /// most pool_size stay idle (the parked one counts).
    #[test]
    fn the_parked_slot_counts_toward_pool_size() {
        let dir = scratch_dir("parked-size");
        let mut opts = Options::default();
        opts.set_create(true).set_pool_size(1).unwrap().set_max_overflow(2).unwrap();
        let pool = Pool::open(dir.join("p.db").to_str().unwrap(), opts).unwrap();
        let held: Vec<_> = (0..3).map(|_| pool.checkout().unwrap()).collect();
        drop(held);
        let stats = pool.stats();
        assert_eq!((stats.idle, stats.checked_out, stats.connections_closed), (1, 0, 2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
