//! The handoff core: who gets a connection, and when. Generic over the
//! connection type (no SQLite here) so that the loom models in
//! tests/loom_handoff.rs check it: the waiter queue, grants (a connection, or
//! the right to open one), the three fairness modes, timeouts, close, and
//! passing capacity on when an open fails.
//!
//! The parked slot: when nobody waits and at most one connection is idle,
//! that connection is parked in one atomic word instead of the idle list, so
//! that an uncontended checkout or checkin is one compare-and-swap instead of
//! a lock and an unlock. Every locked operation first takes the parked
//! connection back into the idle list and disables the slot (so the state
//! under the lock is as if the slot did not exist), and re-enables it when
//! it unlocks if the pool is open, nobody waits and at most one connection
//! is idle: the slot never holds a connection a waiter should have, and the
//! modes, the cap, close and fork see the same state as before.

use crate::prim::{thread, Arc, AtomicU64, Instant, Ordering, UnsafeCell};
use crate::sync::{ForkMutex, ForkMutexGuard};
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// Who gets a returned connection when threads are waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fairness {
    /// First come, first served: a returned connection goes straight to the
    /// oldest waiter (a thread switch per checkout once a queue forms).
    Strict,
    /// The default: whoever asks first while the oldest waiter has waited
    /// less than the threshold; strict after that, until the queue is young.
    Bounded,
    /// Whoever asks first, always (fastest; a waiter may wait until its timeout).
    Barging,
}

/// Bounded mode's threshold: T = max(min_threshold, PER_WAITER × waiters).
/// Below ~2 ms a holder preempted for one scheduler slice trips strict mode.
pub const DEFAULT_MIN_THRESHOLD: Duration = Duration::from_millis(2);
/// A forced round of the queue costs a thread switch per waiter: T grows
/// with the queue so that a long queue is not in strict mode all the time.
/// 500 µs measured 0.97× r2d2 at 64 threads with a point query held, where
/// 250 µs measured 0.82× (max waits alike, ~24 ms): docs/BENCHMARKS.md.
pub const THRESHOLD_PER_WAITER: Duration = Duration::from_micros(500);

/// A connection the parked slot can hold: one word, with bits 0..3 and
/// 48..64 clear (aligned, below 2^48). A value that does not fit is simply
/// never parked.
pub trait Parkable: Sized {
    /// The value as a nonzero word with `PARKED_VALUE`'s bits only, or itself.
    fn into_word(self) -> Result<u64, Self>;
    /// # Safety
    /// `word` came from `into_word` and is turned back once.
    unsafe fn from_word(word: u64) -> Self;
}

impl<T> Parkable for Box<T> {
    #[inline(always)]
    fn into_word(self) -> Result<u64, Self> {
        let raw = Box::into_raw(self);
        let word = raw as usize as u64;
        if word != 0 && word & !PARKED_VALUE == 0 {
            Ok(word)
        } else {
            // SAFETY: from into_raw just above, not used since.
            Err(unsafe { Box::from_raw(raw) })
        }
    }

    #[inline(always)]
    unsafe fn from_word(word: u64) -> Self {
        // SAFETY: the caller's word came from into_word (Box::into_raw), once.
        unsafe { Box::from_raw(word as usize as *mut T) }
    }
}

/// Connection ids of the loom models (tests/loom_handoff.rs); 0 is never parked.
impl Parkable for u32 {
    fn into_word(self) -> Result<u64, Self> {
        match self {
            0 => Err(self),
            id => Ok(u64::from(id) << 3),
        }
    }

    unsafe fn from_word(word: u64) -> Self {
        (word >> 3) as u32
    }
}

/// The parked slot's word: the parked connection (or 0) in these bits...
const PARKED_VALUE: u64 = ((1 << 48) - 1) & !7;
/// ...the slot is disabled (a lock holder owns it, or the pool does not
/// allow parking now): no checkout or checkin touches it...
const PARKED_DISABLED: u64 = 1;
/// ...and checkouts from the slot not yet counted under the lock, here.
const PARKED_CHECKOUT: u64 = 1 << 48;
const PARKED_CHECKOUTS_MAX: u64 = (1 << 16) - 1;

/// How the core hands out connections.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Most connections open at once (pool_size + max_overflow).
    pub capacity: u32,
    /// Most idle connections kept (more are closed at checkin).
    pub pool_size: u32,
    /// Hand out the most recently returned idle connection first.
    pub lifo: bool,
    pub fairness: Fairness,
    /// Bounded mode: the least threshold.
    pub min_threshold: Duration,
}

/// What a checkout is given: a connection, or the right (and a reserved
/// place) to open one.
#[derive(Debug)]
pub enum Grant<C> {
    Idle(C),
    Open { fork_epoch: u64 },
}

/// Why a checkout got nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The pool was closed before the checkout, or while it waited.
    Closed {
        while_waiting: bool,
    },
    TimedOut {
        waited: Duration,
        counts: Snapshot,
    },
}

/// The counts at one moment, for stats and error messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub open: u32,
    pub checked_out: u32,
    pub idle: u32,
    pub waiting: u32,
}

/// What checkin did with a connection.
#[derive(Debug)]
pub enum Returned<C> {
    Kept,
    /// Not kept: the caller closes it (its place is already given back).
    Close(C, CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The caller said it must not be reused.
    Invalidated,
    PoolClosed,
    /// pool_size connections were already idle.
    Overflow,
}

/// Counted under the lock (checkouts through the parked slot are added
/// when the next lock takes the slot back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub checkouts: u64,
    /// Checkouts that queued.
    pub waits: u64,
    /// Connections (or rights to open one) given directly to a queued waiter.
    pub handoffs: u64,
    /// Checkouts that took a connection ahead of queued waiters.
    pub barges: u64,
}

/// The state under the core's lock.
pub struct State<C> {
    idle: VecDeque<C>,
    /// Connections open or being opened.
    open: u32,
    /// Held by callers, or reserved for a caller while being opened.
    checked_out: u32,
    waiters: VecDeque<Arc<Waiter<C>>>,
    /// The head waiter was unparked to compete and has not run since: the
    /// next one is woken only after it (one waiter at a time).
    head_woken: bool,
    closed: bool,
    /// Bumped in a forked child: connections of an older epoch are the parent's.
    fork_epoch: u64,
    counts: Counts,
}

impl<C> State<C> {
    fn reserve(&mut self) {
        self.checked_out += 1;
        self.counts.checkouts += 1;
    }

    fn unreserve(&mut self) {
        self.checked_out -= 1;
        self.counts.checkouts -= 1;
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            open: self.open,
            checked_out: self.checked_out,
            idle: self.idle.len() as u32,
            waiting: self.waiters.len() as u32,
        }
    }

    fn remove_waiter(&mut self, waiter: &Arc<Waiter<C>>) {
        if self.waiters.front().is_some_and(|w| Arc::ptr_eq(w, waiter)) {
            self.head_woken = false;
            self.waiters.pop_front();
        } else {
            self.waiters.retain(|w| !Arc::ptr_eq(w, waiter));
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn snapshot_counts(&self) -> Snapshot {
        self.snapshot()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

enum Given<C> {
    Grant(Grant<C>),
    Closed,
}

/// A checkout waiting its turn. The thread parks; whoever grants it
/// something stores the grant and unparks it.
pub struct Waiter<C> {
    parker: thread::Parker,
    since: Instant,
    /// Written and read only under the core's lock.
    given: UnsafeCell<Option<Given<C>>>,
}

// SAFETY: `given` is only reached under the core's lock (witnessed by the
// `&mut State` that give/take require); C crosses threads, so C: Send.
unsafe impl<C: Send> Sync for Waiter<C> {}
// SAFETY: as above.
unsafe impl<C: Send> Send for Waiter<C> {}

impl<C> Waiter<C> {
    fn give(&self, _locked: &mut State<C>, given: Given<C>) {
        // SAFETY: the caller holds the lock (witnessed by &mut State).
        self.given.with_mut(|g| unsafe { *g = Some(given) });
        self.parker.unpark();
    }

    fn take(&self, _locked: &mut State<C>) -> Option<Given<C>> {
        // SAFETY: the caller holds the lock (witnessed by &mut State).
        self.given.with_mut(|g| unsafe { (*g).take() })
    }
}

/// The core: a lock over the idle connections, the counts and the queue,
/// and the parked slot in front of it.
pub struct Handoff<C> {
    rules: Rules,
    state: ForkMutex<State<C>>,
    /// See the module's note and PARKED_*. While it holds a connection, that
    /// connection is counted as checked out in `State`, and its checkouts
    /// from the slot are counted here until the next lock.
    parked: AtomicU64,
}

/// The core's state, locked: the parked connection was taken back into the
/// idle list; the slot is re-enabled (if the state allows) on unlock.
pub struct Locked<'a, C: Send + Parkable> {
    guard: ForkMutexGuard<'a, State<C>>,
    core: &'a Handoff<C>,
}

impl<C: Send + Parkable> Deref for Locked<'_, C> {
    type Target = State<C>;
    fn deref(&self) -> &State<C> {
        &self.guard
    }
}

impl<C: Send + Parkable> DerefMut for Locked<'_, C> {
    fn deref_mut(&mut self) -> &mut State<C> {
        &mut self.guard
    }
}

impl<C: Send + Parkable> Drop for Locked<'_, C> {
    #[inline(always)]
    fn drop(&mut self) {
        self.core.repark(&mut self.guard);
    }
}

impl<C: Send + Parkable> Handoff<C> {
    /// A core with `idle` connections already open.
    pub fn new(rules: Rules, idle: impl IntoIterator<Item = C>) -> Self {
        let idle: VecDeque<C> = idle.into_iter().collect();
        Handoff {
            rules,
            state: ForkMutex::new(State {
                open: idle.len() as u32,
                idle,
                checked_out: 0,
                waiters: VecDeque::new(),
                head_woken: false,
                closed: false,
                fork_epoch: 0,
                counts: Counts::default(),
            }),
            parked: AtomicU64::new(PARKED_DISABLED),
        }
    }

    /// Locks the state, taking the parked connection back first.
    #[inline(always)]
    fn locked(&self) -> Locked<'_, C> {
        let mut guard = self.state.lock();
        self.unpark(&mut guard);
        Locked { guard, core: self }
    }

    /// Disables the parked slot; its connection (if any) becomes idle again
    /// and its checkouts are counted. The lock is held.
    #[inline(always)]
    fn unpark(&self, st: &mut State<C>) {
        // Nobody changes a disabled slot but the lock holder: nothing to do.
        if self.parked.load(Ordering::Relaxed) == PARKED_DISABLED {
            return;
        }
        self.unpark_now(st);
    }

    #[cold]
    fn unpark_now(&self, st: &mut State<C>) {
        // Acquire: the parking checkin's Release, so its connection is whole.
        let word = self.parked.swap(PARKED_DISABLED, Ordering::Acquire);
        st.counts.checkouts += word / PARKED_CHECKOUT;
        let value = word & PARKED_VALUE;
        if value != 0 {
            // Parked only while the idle list was empty: the order is kept.
            st.checked_out -= 1;
            // SAFETY: parked by into_word, taken out of the word just now.
            st.idle.push_back(unsafe { C::from_word(value) });
        }
    }

    /// Before unlocking: re-enables the parked slot when the pool is open,
    /// nobody waits, pool_size allows one idle connection and at most one
    /// is idle (then parked, counted as checked out).
    #[inline(always)]
    fn repark(&self, st: &mut State<C>) {
        if st.closed || !st.waiters.is_empty() || self.rules.pool_size == 0 || st.idle.len() > 1 {
            return;
        }
        let value = match st.idle.pop_back() {
            None => 0,
            Some(conn) => match conn.into_word() {
                Ok(value) => {
                    st.checked_out += 1;
                    value
                }
                Err(conn) => {
                    st.idle.push_back(conn);
                    return;
                }
            },
        };
        // Disabled until now, so no other thread changed the word: a store.
        // Release: the connection is whole for whoever takes it.
        self.parked.store(value, Ordering::Release);
    }

    /// The parked connection, if one is parked and the slot is enabled: one
    /// compare-and-swap, no lock.
    #[inline(always)]
    fn take_parked(&self) -> Option<C> {
        let word = self.parked.load(Ordering::Relaxed);
        let value = word & PARKED_VALUE;
        if word & PARKED_DISABLED != 0 || value == 0 || word / PARKED_CHECKOUT >= PARKED_CHECKOUTS_MAX {
            return None;
        }
        let taken = (word & !PARKED_VALUE) + PARKED_CHECKOUT;
        // Acquire: the parking checkin's Release.
        self.parked
            .compare_exchange(word, taken, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // SAFETY: parked by into_word; this thread took it out of the word.
        Some(unsafe { C::from_word(value) })
    }

    /// Returns a connection the caller may keep idle (reusable, nothing to
    /// count under the lock) by parking it, if the slot is enabled and
    /// empty: one compare-and-swap, no lock. Gives it back otherwise (then
    /// `checkin` it).
    #[inline(always)]
    pub fn try_park(&self, conn: C) -> Result<(), C> {
        let word = self.parked.load(Ordering::Relaxed);
        if word & (PARKED_DISABLED | PARKED_VALUE) != 0 {
            return Err(conn);
        }
        let value = conn.into_word()?;
        // Release: the connection is whole for whoever takes it.
        match self
            .parked
            .compare_exchange(word, word | value, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            // SAFETY: from into_word just above; never stored.
            Err(_) => Err(unsafe { C::from_word(value) }),
        }
    }

    /// Adds a connection opened outside a grant (the pool's first) as idle.
    pub fn add_idle(&self, conn: C) {
        let mut st = self.locked();
        st.open += 1;
        st.idle.push_back(conn);
        self.serve_queue(&mut st);
    }

    /// The state, for reading its counts.
    pub fn lock(&self) -> Locked<'_, C> {
        self.locked()
    }

    /// A connection, or the right to open one, if the caller may have one
    /// now; `Ok(None)` when it would have to wait.
    #[inline(always)]
    pub fn try_checkout(&self) -> Result<Option<Grant<C>>, Refused> {
        if let Some(conn) = self.take_parked() {
            return Ok(Some(Grant::Idle(conn)));
        }
        let mut st = self.locked();
        if st.closed {
            return Err(Refused::Closed { while_waiting: false });
        }
        Ok(self.take_as_newcomer(&mut st))
    }

    /// A connection or the right to open one, waiting up to `timeout`; also
    /// how long the caller waited (`None`: it did not queue).
    pub fn checkout(&self, timeout: Duration) -> Result<(Grant<C>, Option<Duration>), Refused> {
        if let Some(conn) = self.take_parked() {
            return Ok((Grant::Idle(conn), None));
        }
        let mut st = self.locked();
        if st.closed {
            return Err(Refused::Closed { while_waiting: false });
        }
        if let Some(grant) = self.take_as_newcomer(&mut st) {
            return Ok((grant, None));
        }
        if timeout.is_zero() {
            return Err(Refused::TimedOut {
                waited: Duration::ZERO,
                counts: st.snapshot(),
            });
        }
        self.wait(st, timeout)
    }

    /// Returns a connection: to the queue's head in strict order, to the
    /// idle list for whoever comes first otherwise. `reusable` false (an
    /// invalidated connection) closes it.
    #[inline(always)]
    pub fn checkin(&self, conn: C, reusable: bool) -> Returned<C> {
        let mut st = self.locked();
        st.checked_out -= 1;
        let reason = if !reusable {
            Some(CloseReason::Invalidated)
        } else if st.closed {
            Some(CloseReason::PoolClosed)
        } else {
            None
        };
        if reason.is_none() && (!st.waiters.is_empty() || st.idle.len() < self.rules.pool_size as usize) {
            st.idle.push_back(conn);
            self.serve_queue(&mut st);
            return Returned::Kept;
        }
        st.open -= 1;
        // Room to open a connection for a waiter (none wait on overflow).
        self.serve_queue(&mut st);
        Returned::Close(conn, reason.unwrap_or(CloseReason::Overflow))
    }

    /// A granted `Open` failed: gives its place back, to a waiter if any.
    pub fn open_failed(&self) {
        let mut st = self.locked();
        st.unreserve();
        st.open -= 1;
        self.serve_queue(&mut st);
    }

    /// Runs `keep` on each idle connection in place, under the lock (so a
    /// checkout meanwhile waits instead of finding the pool empty); those it
    /// returns false for are taken out and returned, for the caller to close.
    pub fn sweep_idle(&self, mut keep: impl FnMut(&mut C) -> bool) -> Vec<C> {
        let mut st = self.locked();
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(st.idle.len());
        while let Some(mut conn) = st.idle.pop_front() {
            if keep(&mut conn) {
                kept.push_back(conn);
            } else {
                removed.push(conn);
            }
        }
        st.idle = kept;
        st.open -= removed.len() as u32;
        if !removed.is_empty() {
            // Room to open a connection for a waiter.
            self.serve_queue(&mut st);
        }
        removed
    }

    /// Takes the idle connections out (the caller closes them); new ones are
    /// opened on demand.
    pub fn dispose(&self) -> Vec<C> {
        let mut st = self.locked();
        st.open -= st.idle.len() as u32;
        let idle = st.idle.drain(..).collect();
        self.serve_queue(&mut st);
        idle
    }

    /// Closes: the idle connections are returned (the caller closes them),
    /// waiters wake with `Closed`. `None` when already closed.
    pub fn close(&self) -> Option<Vec<C>> {
        let mut st = self.locked();
        if st.closed {
            return None;
        }
        st.closed = true;
        st.open -= st.idle.len() as u32;
        let idle = st.idle.drain(..).collect();
        let waiters: Vec<_> = st.waiters.drain(..).collect();
        for w in &waiters {
            w.give(&mut st, Given::Closed);
        }
        drop(st);
        Some(idle)
    }

    /// An idle connection, or the right to open one, for a caller not in the
    /// queue: only ahead of waiters when the mode lets it barge.
    #[inline(always)]
    fn take_as_newcomer(&self, st: &mut State<C>) -> Option<Grant<C>> {
        if st.waiters.is_empty() {
            return self.take_free(st);
        }
        let may_barge = match self.rules.fairness {
            Fairness::Strict => false,
            Fairness::Barging => true,
            Fairness::Bounded => !self.head_is_old(st, Instant::now()),
        };
        if !may_barge {
            return None;
        }
        let grant = self.take_free(st)?;
        st.counts.barges += 1;
        Some(grant)
    }

    #[inline(always)]
    fn take_free(&self, st: &mut State<C>) -> Option<Grant<C>> {
        let conn = if self.rules.lifo {
            st.idle.pop_back()
        } else {
            st.idle.pop_front()
        };
        if let Some(conn) = conn {
            st.reserve();
            return Some(Grant::Idle(conn));
        }
        if st.open < self.rules.capacity {
            st.open += 1;
            st.reserve();
            return Some(Grant::Open {
                fork_epoch: st.fork_epoch,
            });
        }
        None
    }

    /// Bounded mode's threshold for a queue of `waiters`.
    fn threshold(&self, waiters: usize) -> Duration {
        let scaled = THRESHOLD_PER_WAITER.saturating_mul(waiters.min(u32::MAX as usize) as u32);
        self.rules.min_threshold.max(scaled)
    }

    fn head_is_old(&self, st: &State<C>, now: Instant) -> bool {
        st.waiters
            .front()
            .is_some_and(|head| now.saturating_duration_since(head.since) >= self.threshold(st.waiters.len()))
    }

    /// Hand what is free straight to the queue's head?
    fn hands_off_directly(&self, st: &State<C>) -> bool {
        match self.rules.fairness {
            Fairness::Strict => true,
            Fairness::Barging => false,
            Fairness::Bounded => self.head_is_old(st, Instant::now()),
        }
    }

    /// After something became free (a checkin, a waiter leaving, a failed
    /// open, a dispose): grants it straight to the head while the mode hands
    /// off, or else wakes the head to compete for it, one waiter at a time.
    #[inline(always)]
    fn serve_queue(&self, st: &mut State<C>) {
        // Nobody waits (the usual case): nothing to do, no call.
        if st.closed || st.waiters.is_empty() {
            return;
        }
        self.serve_waiters(st);
    }

    /// `serve_queue` with a queue.
    fn serve_waiters(&self, st: &mut State<C>) {
        while !st.waiters.is_empty() {
            if self.hands_off_directly(st) {
                let Some(grant) = self.take_free(st) else {
                    return;
                };
                let head = st.waiters.pop_front().expect("not empty");
                st.head_woken = false;
                st.counts.handoffs += 1;
                head.give(st, Given::Grant(grant));
                continue;
            }
            let something_free = !st.idle.is_empty() || st.open < self.rules.capacity;
            if something_free && !st.head_woken {
                st.head_woken = true;
                st.waiters.front().expect("not empty").parker.unpark();
            }
            return;
        }
    }

    /// May a queued waiter take what is free itself (after a wake-up)?
    fn waiter_may_take(&self, st: &State<C>, waiter: &Arc<Waiter<C>>) -> bool {
        let is_head = st.waiters.front().is_some_and(|w| Arc::ptr_eq(w, waiter));
        match self.rules.fairness {
            // Strict waiters are only ever granted directly.
            Fairness::Strict => false,
            Fairness::Barging => true,
            Fairness::Bounded => is_head || !self.head_is_old(st, Instant::now()),
        }
    }

    /// Queues the caller and parks it until it is granted something, the
    /// pool closes, or `timeout` passes.
    fn wait<'a>(&'a self, mut st: Locked<'a, C>, timeout: Duration) -> Result<(Grant<C>, Option<Duration>), Refused> {
        let start = Instant::now();
        let waiter = Arc::new(Waiter {
            parker: thread::Parker::current(),
            since: start,
            given: UnsafeCell::new(None),
        });
        st.waiters.push_back(waiter.clone());
        st.counts.waits += 1;
        let deadline = start.checked_add(timeout);
        loop {
            if let Some(given) = waiter.take(&mut st) {
                drop(st);
                return match given {
                    Given::Grant(grant) => Ok((grant, Some(start.elapsed()))),
                    Given::Closed => Err(Refused::Closed { while_waiting: true }),
                };
            }
            if st.waiters.front().is_some_and(|w| Arc::ptr_eq(w, &waiter)) {
                // The head runs: whoever is woken next is woken after this.
                st.head_woken = false;
            }
            if self.waiter_may_take(&st, &waiter) {
                if let Some(grant) = self.take_free(&mut st) {
                    st.remove_waiter(&waiter);
                    // More may be free: the next waiter competes for it.
                    self.serve_queue(&mut st);
                    drop(st);
                    return Ok((grant, Some(start.elapsed())));
                }
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                st.remove_waiter(&waiter);
                // It may have been woken for a connection it now leaves
                // behind: pass that on, or the next waiter sleeps next to it.
                self.serve_queue(&mut st);
                let counts = st.snapshot();
                drop(st);
                return Err(Refused::TimedOut {
                    waited: start.elapsed(),
                    counts,
                });
            }
            drop(st);
            match deadline {
                Some(deadline) => waiter.parker.park_timeout(deadline.saturating_duration_since(now)),
                None => waiter.parker.park(),
            }
            st = self.locked();
        }
    }
}

/// The fork handlers' side (never under the model: no fork there).
#[cfg(not(loom))]
impl<C> Handoff<C> {
    pub fn lock_for_fork(&self) {
        self.state.lock_for_fork();
    }

    /// # Safety
    /// Only after `lock_for_fork` on this thread.
    pub unsafe fn unlock_after_fork_in_parent(&self) {
        // SAFETY: the caller took the lock with lock_for_fork.
        unsafe { self.state.unlock_after_fork_in_parent() }
    }

    /// In a forked child: the parent's connections and waiters are abandoned
    /// (never used, closed or dropped), the counts start again, the epoch
    /// moves on, and the lock is made free. Returns the new epoch.
    ///
    /// # Safety
    /// Only in a forked child, after `lock_for_fork` in the parent.
    pub unsafe fn reset_after_fork_in_child(&self) -> u64 {
        // SAFETY: prepare took the lock on the thread that is now the child's
        // only thread, so nothing else reaches the state.
        let st = unsafe { &mut *self.state.data_ptr() };
        for conn in st.idle.drain(..) {
            std::mem::forget(conn);
        }
        for waiter in st.waiters.drain(..) {
            std::mem::forget(waiter);
        }
        st.open = 0;
        st.checked_out = 0;
        st.head_woken = false;
        st.counts = Counts::default();
        // A parked connection is the parent's: abandoned with the idle ones.
        self.parked.store(PARKED_DISABLED, Ordering::Relaxed);
        st.fork_epoch += 1;
        let epoch = st.fork_epoch;
        // SAFETY: as above.
        unsafe { self.state.reset_after_fork_in_child() };
        epoch
    }
}
