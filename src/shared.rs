//! The process-wide registry of shared pools: one pool per canonical database
//! file and set of options, reference-counted, for callers that only know a
//! file name (nuPlan's `execute_one(query, params, db_file)` and the like).
//!
//! The registry bounds what a process reading hundreds of files keeps open:
//! - a connection budget: at most `max_connections` connections open at once
//!   across all shared pools (0: no limit). A pool that needs a new
//!   connection when the budget is spent first closes the idle connections of
//!   the least recently used shared pool, then waits (up to its own checkout
//!   timeout) for a connection to be closed;
//! - an idle timeout: the idle connections of a pool that nobody used for
//!   `idle_timeout` are closed at the next sweep (`sweep`, the monitor
//!   thread every second, and `open_shared` at most once per monitor tick,
//!   so that opening thousands of files does not scan them all each time).
//!   The pool itself stays and reopens on demand.
//!
//! A pool leaves the registry, and is closed, when its last reference is
//! released.

use crate::error::{Error, ErrorKind, Result};
use crate::monitor;
use crate::options::Options;
use crate::pool::Pool;
use crate::sync::ForkMutex;
use hashbrown::HashMap;
use std::hash::BuildHasher;
use crate::prim::thread::Parker;
use crate::prim::Instant;
use std::time::Duration;

/// Default idle timeout of shared pools.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a checkout waiting for the budget looks for idle connections
/// to close (a checkin does not signal the budget).
const BUDGET_POLL: Duration = Duration::from_millis(2);

struct Entry {
    key: String,
    pool: Pool,
    refs: usize,
    /// `checkouts` when the sweep last looked, and when it last changed.
    seen_checkouts: u64,
    last_used_ms: u64,
}

/// The registry's hash maps' hasher (std's SipHash; `const`-constructible,
/// unlike std's RandomState, for the static registry).
#[derive(Clone, Copy, Default)]
struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        Self::Hasher::new()
    }
}

struct Registry {
    /// By pool id (`Pool::id`): open and release cost O(1) with thousands
    /// of pools.
    entries: HashMap<usize, Entry, KeyHasher>,
    /// The pools of each canonical file (one per set of options).
    by_key: HashMap<String, Vec<usize>, KeyHasher>,
    /// When `open_shared` last swept (coarse clock, ms).
    last_sweep_ms: u64,
    max_connections: u32,
    idle_timeout: Option<Duration>,
    idle_disposals: u64,
    budget_evictions: u64,
}

static REGISTRY: ForkMutex<Registry> = ForkMutex::new(Registry {
    entries: HashMap::with_hasher(KeyHasher),
    by_key: HashMap::with_hasher(KeyHasher),
    last_sweep_ms: 0,
    max_connections: 0,
    idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
    idle_disposals: 0,
    budget_evictions: 0,
});

struct Budget {
    /// Connections of shared pools open (or being opened) now.
    open: u32,
    /// Mirrors `Registry::max_connections`, read without the registry lock.
    max: u32,
    /// The connections each shared pool (by `Pool::id`) holds, for the
    /// eviction to look only at pools that hold some, not at every pool.
    holders: HashMap<usize, u32, KeyHasher>,
    waiters: Vec<Parker>,
    waits: u64,
    timeouts: u64,
}

static BUDGET: ForkMutex<Budget> = ForkMutex::new(Budget {
    open: 0,
    max: 0,
    holders: HashMap::with_hasher(KeyHasher),
    waiters: Vec::new(),
    waits: 0,
    timeouts: 0,
});

/// The registry's limits and counters (see [`stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedStats {
    /// Pools in the registry now.
    pub pools: u32,
    /// Connections of shared pools open now.
    pub open_connections: u32,
    /// The budget; 0 when there is no limit.
    pub max_connections: u32,
    /// The idle timeout in ms; -1 when idle pools are never closed.
    pub idle_timeout_ms: i64,
    /// Times the sweep closed the idle connections of a pool not used recently.
    pub idle_disposals: u64,
    /// Times a pool closed another pool's idle connections to stay in budget.
    pub budget_evictions: u64,
    /// Connection opens that had to wait for the budget.
    pub budget_waits: u64,
    /// Connection opens that gave up waiting for the budget.
    pub budget_timeouts: u64,
}

/// Fork prepare handler's part (crate::fork): registry, then budget.
pub(crate) fn lock_for_fork() {
    REGISTRY.lock_for_fork();
    BUDGET.lock_for_fork();
}

/// # Safety
/// Only after `lock_for_fork` on this thread.
pub(crate) unsafe fn unlock_after_fork_in_parent() {
    // SAFETY: lock_for_fork took both locks on this thread.
    unsafe {
        BUDGET.unlock_after_fork_in_parent();
        REGISTRY.unlock_after_fork_in_parent();
    }
}

/// # Safety
/// Only in a forked child, after `lock_for_fork` in the parent.
pub(crate) unsafe fn reset_after_fork_in_child() {
    // SAFETY: lock_for_fork took both locks on the thread that is now the
    // child's only one. The child's pools abandon the parent's connections,
    // so none of them is open here; the parent's waiters do not exist.
    unsafe {
        let budget = &mut *BUDGET.data_ptr();
        budget.open = 0;
        budget.holders.clear();
        for waiter in budget.waiters.drain(..) {
            std::mem::forget(waiter);
        }
        BUDGET.reset_after_fork_in_child();
        REGISTRY.reset_after_fork_in_child();
    }
}

/// The registry's key for `path`: the canonical file name, so that
/// "./a.db", "a.db" and a symlink to it share one pool. URIs keep their
/// query ("file:/x/a.db?mode=ro"); what cannot be resolved is kept as given.
pub fn canonical_key(path: &str) -> String {
    fn canonical(p: &str) -> String {
        match std::fs::canonicalize(p) {
            Ok(c) => c.to_string_lossy().into_owned(),
            Err(_) => match std::path::absolute(p) {
                Ok(a) => a.to_string_lossy().into_owned(),
                Err(_) => p.to_owned(),
            },
        }
    }
    if let Some(rest) = path.strip_prefix("file:") {
        let (file, query) = match rest.split_once('?') {
            Some((f, q)) => (f, Some(q)),
            None => (rest, None),
        };
        // file:///abs and file://localhost/abs name /abs.
        let file = match file.strip_prefix("//") {
            Some(after) => after.find('/').map_or(after, |i| &after[i..]),
            None => file,
        };
        if query.is_some_and(|q| q.contains("mode=memory")) || file.is_empty() {
            return path.to_owned();
        }
        let mut key = format!("file:{}", canonical(file));
        if let Some(q) = query {
            key.push('?');
            key.push_str(q);
        }
        return key;
    }
    canonical(path)
}

/// The shared pool for `path` and `opts`: the same pool for the same
/// canonical file and equal options, opened on first use. Each call takes
/// one reference, given back with [`release`].
pub fn open_shared(path: &str, opts: &Options) -> Result<Pool> {
    crate::fork::install_handlers();
    let key = canonical_key(path);
    let found = {
        let mut reg = REGISTRY.lock();
        let found = reg.find(&key, opts).map(|e| {
            e.refs += 1;
            e.pool.clone()
        });
        // Not at every open: a sweep looks at every shared pool.
        let now = monitor::refresh_clock();
        let idle = if now.saturating_sub(reg.last_sweep_ms) >= monitor::TICK.as_millis() as u64 {
            sweep_locked(&mut reg)
        } else {
            Vec::new()
        };
        drop(reg);
        dispose_all(idle);
        found
    };
    if let Some(pool) = found {
        return Ok(pool);
    }
    // Opening takes a connection, which may wait for the budget: never under
    // the registry lock.
    let opened = Pool::open_in(path, opts.clone(), true)?;
    let mut reg = REGISTRY.lock();
    if let Some(e) = reg.find(&key, opts) {
        // Another thread opened it meanwhile: use theirs.
        e.refs += 1;
        let pool = e.pool.clone();
        drop(reg);
        let _ = opened.close();
        return Ok(pool);
    }
    let id = opened.id();
    reg.by_key.entry_ref(key.as_str()).or_default().push(id);
    let entry = Entry {
        key,
        pool: opened.clone(),
        refs: 1,
        seen_checkouts: 0,
        last_used_ms: monitor::refresh_clock(),
    };
    reg.entries.insert(id, entry);
    Ok(opened)
}

impl Registry {
    /// The open pool for `key` with options `opts`.
    fn find(&mut self, key: &str, opts: &Options) -> Option<&mut Entry> {
        let ids = self.by_key.get(key)?;
        let id = *ids.iter().find(|id| {
            let pool = &self.entries[*id].pool;
            pool.options() == opts && !pool.is_closed()
        })?;
        self.entries.get_mut(&id)
    }

    fn remove(&mut self, id: usize) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(ids) = self.by_key.get_mut(entry.key.as_str()) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_key.remove(entry.key.as_str());
            }
        }
        Some(entry)
    }
}

/// Gives back one reference taken by [`open_shared`]; the last one closes
/// the pool and removes it from the registry. A pool that is not in the
/// registry is misuse.
pub fn release(pool: &Pool) -> Result<()> {
    let mut reg = REGISTRY.lock();
    let Some(entry) = reg.entries.get_mut(&pool.id()) else {
        return Err(Error::misuse(format!(
            "the pool on '{}' is not in the shared registry (released too often?)",
            pool.path()
        )));
    };
    entry.refs -= 1;
    if entry.refs > 0 {
        return Ok(());
    }
    let entry = reg.remove(pool.id()).expect("found just above");
    drop(reg);
    if entry.pool.is_closed() {
        return Ok(());
    }
    entry.pool.close()
}

/// References held on a shared pool now (0 when it is not in the registry).
pub fn references(pool: &Pool) -> usize {
    REGISTRY.lock().entries.get(&pool.id()).map_or(0, |e| e.refs)
}

/// Sets the connection budget (0: no limit) and the idle timeout (`None`:
/// idle pools keep their connections). A smaller budget than the
/// connections open now takes effect as they close.
pub fn set_limits(max_connections: u32, idle_timeout: Option<Duration>) {
    let mut reg = REGISTRY.lock();
    reg.max_connections = max_connections;
    reg.idle_timeout = idle_timeout;
    drop(reg);
    let mut budget = BUDGET.lock();
    budget.max = max_connections;
    // A larger budget may let waiters go on.
    for w in budget.waiters.drain(..) {
        w.unpark();
    }
}

/// Closes now the idle connections of shared pools not used for the idle
/// timeout. Returns how many pools it disposed.
pub fn sweep() -> usize {
    let idle = sweep_locked(&mut REGISTRY.lock());
    let n = idle.len();
    dispose_all(idle);
    n
}

pub fn stats() -> SharedStats {
    let reg = REGISTRY.lock();
    let budget = BUDGET.lock();
    SharedStats {
        pools: reg.entries.len() as u32,
        open_connections: budget.open,
        max_connections: reg.max_connections,
        idle_timeout_ms: reg
            .idle_timeout
            .map_or(-1, |d| d.as_millis().min(i64::MAX as u128) as i64),
        idle_disposals: reg.idle_disposals,
        budget_evictions: reg.budget_evictions,
        budget_waits: budget.waits,
        budget_timeouts: budget.timeouts,
    }
}

/// Notes which pools were used since the last look, and returns the pools
/// not used for the idle timeout that still hold idle connections.
fn sweep_locked(reg: &mut Registry) -> Vec<Pool> {
    let now = monitor::refresh_clock();
    reg.last_sweep_ms = now;
    note_use(reg, now);
    let Some(timeout) = reg.idle_timeout else {
        return Vec::new();
    };
    let timeout_ms = timeout.as_millis().min(u64::MAX as u128) as u64;
    let idle: Vec<Pool> = reg
        .entries
        .values()
        .filter(|e| now.saturating_sub(e.last_used_ms) >= timeout_ms)
        .filter(|e| {
            let (_, checked_out, idle) = e.pool.use_counts();
            idle > 0 && checked_out == 0
        })
        .map(|e| e.pool.clone())
        .collect();
    reg.idle_disposals += idle.len() as u64;
    idle
}

fn note_use(reg: &mut Registry, now: u64) {
    for e in reg.entries.values_mut() {
        note_entry_use(e, now);
    }
}

/// Notes whether the entry's pool was used since the last look; returns its
/// connections checked out and idle now.
fn note_entry_use(e: &mut Entry, now: u64) -> (u32, u32) {
    let (checkouts, checked_out, idle) = e.pool.use_counts();
    if checkouts != e.seen_checkouts || checked_out > 0 {
        e.seen_checkouts = checkouts;
        e.last_used_ms = now;
    }
    (checked_out, idle)
}

fn dispose_all(pools: Vec<Pool>) {
    for pool in pools {
        pool.dispose();
    }
}

/// Closes the idle connections of the least recently used shared pool that
/// has some. False when no pool has an idle connection.
fn evict_least_recently_used() -> bool {
    // Only pools holding connections can have idle ones: O(budget), not
    // O(shared pools), per eviction.
    let holders: Vec<usize> = BUDGET.lock().holders.keys().copied().collect();
    let victim = {
        let mut reg = REGISTRY.lock();
        let now = monitor::refresh_clock();
        // (last used, pool id) of the least recently used with idle ones.
        let mut lru: Option<(u64, usize)> = None;
        for id in holders {
            let Some(e) = reg.entries.get_mut(&id) else {
                continue;
            };
            let (_, idle) = note_entry_use(e, now);
            if idle > 0 && lru.is_none_or(|(used, _)| e.last_used_ms < used) {
                lru = Some((e.last_used_ms, id));
            }
        }
        let victim = lru.map(|(_, id)| reg.entries[&id].pool.clone());
        if victim.is_some() {
            reg.budget_evictions += 1;
        }
        victim
    };
    match victim {
        Some(pool) => {
            pool.dispose();
            true
        }
        None => false,
    }
}

/// One unit of the connection budget, taken for a connection being opened.
/// Dropped, it is given back (the open failed, returned an error or
/// panicked); kept, it belongs to the open connection, whose close gives it
/// back (`release_connection`).
#[must_use = "dropping the unit gives it back at once"]
pub(crate) struct BudgetUnit {
    pool_id: usize,
}

impl BudgetUnit {
    /// The connection opened: its close gives the unit back.
    pub(crate) fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for BudgetUnit {
    fn drop(&mut self) {
        release_connection(self.pool_id);
    }
}

/// Takes one unit of the connection budget for a shared pool about to open
/// a connection, waiting up to `timeout` (the pool's checkout timeout).
/// Fails with `Closed` as soon as `closed()` says the pool was closed.
/// `pool_id` is the pool's `Pool::id`.
pub(crate) fn acquire_connection(
    pool_id: usize,
    path: &str,
    timeout: Duration,
    closed: impl Fn() -> bool,
) -> Result<BudgetUnit> {
    let start = Instant::now();
    let mut counted_wait = false;
    loop {
        {
            let mut budget = BUDGET.lock();
            if budget.max == 0 || budget.open < budget.max {
                budget.open += 1;
                *budget.holders.entry(pool_id).or_insert(0) += 1;
                return Ok(BudgetUnit { pool_id });
            }
        }
        if closed() {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("the pool on '{path}' was closed while waiting for the shared registry's connection budget"),
            ));
        }
        if evict_least_recently_used() {
            continue;
        }
        let waited = start.elapsed();
        let mut budget = BUDGET.lock();
        if budget.max == 0 || budget.open < budget.max {
            continue;
        }
        if waited >= timeout {
            budget.timeouts += 1;
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "opening a connection to '{path}' timed out after {} ms (timeout_ms={}): \
                     the shared registry's budget of {} connections is in use",
                    waited.as_millis(),
                    timeout.as_millis(),
                    budget.max
                ),
            ));
        }
        if !counted_wait {
            counted_wait = true;
            budget.waits += 1;
        }
        let me = Parker::current();
        budget.waiters.retain(|w| !w.is_current());
        budget.waiters.push(Parker::current());
        drop(budget);
        me.park_timeout(BUDGET_POLL.min(timeout - waited));
    }
}

/// Wakes the checkouts waiting for the budget, to see that their pool closed.
pub(crate) fn wake_budget_waiters() {
    for w in BUDGET.lock().waiters.drain(..) {
        w.unpark();
    }
}

/// Gives back the unit of a shared pool's connection that was closed
/// (`pool_id`: the pool's `Pool::id`).
pub(crate) fn release_connection(pool_id: usize) {
    let mut budget = BUDGET.lock();
    budget.open = budget.open.saturating_sub(1);
    if let Some(held) = budget.holders.get_mut(&pool_id) {
        *held -= 1;
        if *held == 0 {
            budget.holders.remove(&pool_id);
        }
    }
    for w in budget.waiters.drain(..) {
        w.unpark();
    }
}
