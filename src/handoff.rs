//! The handoff core: who gets a connection, and when. Generic over the
//! connection type (no SQLite here) so that the loom models in
//! tests/loom_handoff.rs check it: the waiter queue, grants (a connection, or
//! the right to open one), the three fairness modes, timeouts, close, and
//! passing capacity on when an open fails.

use crate::prim::{thread, Arc, Instant, UnsafeCell};
use crate::sync::{ForkMutex, ForkMutexGuard};
use std::collections::VecDeque;
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

/// Counted under the lock that every checkout takes anyway.
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

/// The state under the core's lock; `extra` is the owner's (counters it
/// updates under the same lock).
pub struct State<C, X> {
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
    pub extra: X,
}

impl<C, X> State<C, X> {
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
    fn give<X>(&self, _locked: &mut State<C, X>, given: Given<C>) {
        // SAFETY: the caller holds the lock (witnessed by &mut State).
        self.given.with_mut(|g| unsafe { *g = Some(given) });
        self.parker.unpark();
    }

    fn take<X>(&self, _locked: &mut State<C, X>) -> Option<Given<C>> {
        // SAFETY: the caller holds the lock (witnessed by &mut State).
        self.given.with_mut(|g| unsafe { (*g).take() })
    }
}

/// The core: a lock over the idle connections, the counts and the queue.
pub struct Handoff<C, X> {
    rules: Rules,
    state: ForkMutex<State<C, X>>,
}

impl<C: Send, X> Handoff<C, X> {
    /// A core with `idle` connections already open.
    pub fn new(rules: Rules, idle: impl IntoIterator<Item = C>, extra: X) -> Self {
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
                extra,
            }),
        }
    }

    /// Adds a connection opened outside a grant (the pool's first) as idle.
    pub fn add_idle(&self, conn: C) {
        let mut st = self.state.lock();
        st.open += 1;
        st.idle.push_back(conn);
        self.serve_queue(&mut st);
    }

    /// The state, for reading counts or updating the owner's `extra`.
    pub fn lock(&self) -> ForkMutexGuard<'_, State<C, X>> {
        self.state.lock()
    }

    /// A connection, or the right to open one, if the caller may have one
    /// now; `Ok(None)` when it would have to wait.
    #[inline(always)]
    pub fn try_checkout(&self) -> Result<Option<Grant<C>>, Refused> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(Refused::Closed { while_waiting: false });
        }
        Ok(self.take_as_newcomer(&mut st))
    }

    /// A connection or the right to open one, waiting up to `timeout`; also
    /// how long the caller waited (`None`: it did not queue).
    pub fn checkout(&self, timeout: Duration) -> Result<(Grant<C>, Option<Duration>), Refused> {
        let mut st = self.state.lock();
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
    /// invalidated connection) closes it; `under_lock` updates the owner's
    /// counters while the lock is held.
    #[inline(always)]
    pub fn checkin(&self, conn: C, reusable: bool, under_lock: impl FnOnce(&mut X)) -> Returned<C> {
        let mut st = self.state.lock();
        under_lock(&mut st.extra);
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
        let mut st = self.state.lock();
        st.unreserve();
        st.open -= 1;
        self.serve_queue(&mut st);
    }

    /// Takes the idle connections out (the caller closes them); new ones are
    /// opened on demand.
    pub fn dispose(&self) -> Vec<C> {
        let mut st = self.state.lock();
        st.open -= st.idle.len() as u32;
        let idle = st.idle.drain(..).collect();
        self.serve_queue(&mut st);
        idle
    }

    /// Closes: the idle connections are returned (the caller closes them),
    /// waiters wake with `Closed`. `None` when already closed.
    pub fn close(&self) -> Option<Vec<C>> {
        let mut st = self.state.lock();
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
    fn take_as_newcomer(&self, st: &mut State<C, X>) -> Option<Grant<C>> {
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
    fn take_free(&self, st: &mut State<C, X>) -> Option<Grant<C>> {
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

    fn head_is_old(&self, st: &State<C, X>, now: Instant) -> bool {
        st.waiters
            .front()
            .is_some_and(|head| now.saturating_duration_since(head.since) >= self.threshold(st.waiters.len()))
    }

    /// Hand what is free straight to the queue's head?
    fn hands_off_directly(&self, st: &State<C, X>) -> bool {
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
    fn serve_queue(&self, st: &mut State<C, X>) {
        // Nobody waits (the usual case): nothing to do, no call.
        if st.closed || st.waiters.is_empty() {
            return;
        }
        self.serve_waiters(st);
    }

    /// `serve_queue` with a queue.
    fn serve_waiters(&self, st: &mut State<C, X>) {
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
    fn waiter_may_take(&self, st: &State<C, X>, waiter: &Arc<Waiter<C>>) -> bool {
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
    fn wait<'a>(
        &'a self,
        mut st: ForkMutexGuard<'a, State<C, X>>,
        timeout: Duration,
    ) -> Result<(Grant<C>, Option<Duration>), Refused> {
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
            st = self.state.lock();
        }
    }
}

/// The fork handlers' side (never under the model: no fork there).
#[cfg(not(loom))]
impl<C, X> Handoff<C, X> {
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
    pub unsafe fn reset_after_fork_in_child(&self, reset_extra: impl FnOnce(&mut X)) -> u64 {
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
        reset_extra(&mut st.extra);
        st.fork_epoch += 1;
        let epoch = st.fork_epoch;
        // SAFETY: as above.
        unsafe { self.state.reset_after_fork_in_child() };
        epoch
    }
}
