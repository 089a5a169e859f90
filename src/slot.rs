//! One handle-table slot's lock-free state machine (src/ffi/handle.rs keeps
//! the table around it: chunks, free list, per-thread caches). Built on the
//! primitives facade, so that tests/loom_handles.rs checks it under loom.
//!
//! The state word holds the generation of the handle the slot serves (high
//! 32 bits), a LIVE bit, an EXCLUSIVE bit (one thread is using the object, or
//! is releasing it), a count of shared users and a count of pins (users of
//! the slot's action only, allowed beside an exclusive user).

use crate::prim::{fence, AtomicU64, Ordering, UnsafeCell};

pub const LIVE: u64 = 1 << 31;
pub const EXCLUSIVE: u64 = 1 << 30;
/// Shared users of the object (bits 15..29).
pub const READER: u64 = 1 << 15;
pub const READERS: u64 = ((1 << 15) - 1) * READER;
/// Pins (bits 0..14).
pub const PINS: u64 = READER - 1;
/// The bits that say which handle a slot holds now: generation and LIVE.
pub const IDENTITY: u64 = !(EXCLUSIVE | READERS | PINS);
/// A slot whose handle of this generation is released is never reused.
pub const LAST_GENERATION: u32 = u32::MAX;

/// Something any thread may do to a handle's object while another thread
/// uses it (interrupting a connection's query). Borrowed from the object,
/// which keeps it alive as long as the handle is live.
pub type Action = *const (dyn Fn() + Send + Sync);

/// Why a handle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never handed out (or garbage).
    Invalid,
    /// Handed out once and released since (its slot moved on).
    Released,
    /// Another thread holds it exclusively, or is releasing it.
    Busy,
    /// Its counter of shared users (or pins) is full.
    TooManyUsers,
}

pub struct Slot<T> {
    pub(crate) state: AtomicU64,
    value: UnsafeCell<Option<T>>,
    /// Written only while the slot is not LIVE, or with every pin gone.
    action: UnsafeCell<Option<Action>>,
    /// A word any thread may read while the handle is live (`tag`).
    tag: AtomicU64,
}

// SAFETY: the value is only touched by the thread that holds the slot
// exclusively or has just retired it (state word CAS), or read-only while
// shared users hold it and EXCLUSIVE is clear; T: Send lets values move
// between threads. Handing &T to several threads (`value` under `try_shared`)
// needs T: Sync, which HandleTable::try_shared requires.
unsafe impl<T: Send> Sync for Slot<T> {}
// SAFETY: as above; the action pointer is only called while pinned.
unsafe impl<T: Send> Send for Slot<T> {}

pub fn generation_of(state: u64) -> u32 {
    (state >> 32) as u32
}

/// The state word of a live, unused handle of `generation`.
#[inline]
fn idle(generation: u32) -> u64 {
    ((generation as u64) << 32) | LIVE
}

/// Why a handle of `generation` does not match its slot's `state`.
fn mismatch(generation: u32, state: u64) -> Refusal {
    let current = generation_of(state);
    let retired_for_good = current == LAST_GENERATION && state & LIVE == 0;
    if generation < current || (generation == current && retired_for_good) {
        Refusal::Released
    } else {
        Refusal::Invalid
    }
}

/// The state of a slot whose handle of `generation` is released, and
/// whether the slot may be handed out again (not after its last generation).
pub fn retired_state(generation: u32) -> (u64, bool) {
    match generation.checked_add(1) {
        Some(next) => ((next as u64) << 32, true),
        None => ((LAST_GENERATION as u64) << 32, false),
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slot<T> {
    pub fn new() -> Self {
        Slot {
            state: AtomicU64::new(0),
            value: UnsafeCell::new(None),
            action: UnsafeCell::new(None),
            tag: AtomicU64::new(0),
        }
    }

    /// Makes the slot LIVE with `value`, and returns its handle's generation.
    ///
    /// # Safety
    /// The slot is not LIVE and belongs to this thread (just taken off the
    /// free list); `action` stays valid while the handle is live.
    #[inline]
    pub unsafe fn fill(&self, value: T, action: Option<Action>, tag: u64) -> u32 {
        let generation = generation_of(self.state.load(Ordering::Acquire));
        // SAFETY: not LIVE and off the free list: no other thread reaches it.
        self.value.with_mut(|v| unsafe { *v = Some(value) });
        // SAFETY: as above.
        self.action.with_mut(|a| unsafe { *a = action });
        // Release: a reader of `tag` who then sees the slot retired (fence
        // in `tag`) knows the tag it read may be a later handle's.
        self.tag.store(tag, Ordering::Release);
        self.state.store(idle(generation), Ordering::Release);
        generation
    }

    /// Moves the state of the live handle of `generation` to `next(state)`
    /// (Acquire: the object's last user's Release pairs with it), unless
    /// the handle is not live or `next` refuses.
    #[inline]
    fn transition(&self, generation: u32, next: impl Fn(u64) -> Result<u64, Refusal>) -> Result<(), Refusal> {
        let idle = idle(generation);
        let mut now = self.state.load(Ordering::Relaxed);
        loop {
            if now & IDENTITY != idle {
                return Err(mismatch(generation, now));
            }
            match self
                .state
                .compare_exchange_weak(now, next(now)?, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => now = actual,
            }
        }
    }

    /// Takes the object of the handle of `generation` for this thread alone
    /// (undo with `release_exclusive`, or `retire_exclusive`).
    #[inline]
    pub fn try_exclusive(&self, generation: u32) -> Result<(), Refusal> {
        // Pins may come and go meanwhile; they do not conflict.
        self.transition(generation, |now| match now & (EXCLUSIVE | READERS) {
            0 => Ok(now | EXCLUSIVE),
            _ => Err(Refusal::Busy),
        })
    }

    /// Ends this thread's exclusive hold (`try_exclusive`).
    #[inline]
    pub fn release_exclusive(&self) {
        self.state.fetch_and(!EXCLUSIVE, Ordering::Release);
    }

    /// Retires the handle of `generation`, which this thread holds
    /// exclusively (`try_exclusive`, `try_begin_release`), once every other
    /// user (pins; shared users for `try_begin_release`) is gone, calling
    /// `wait` between tries. Then `empty` the slot. Returns whether the slot
    /// may be reused.
    #[inline]
    pub fn retire_exclusive(&self, generation: u32, wait: fn()) -> bool {
        let (retired, reusable) = retired_state(generation);
        while self
            .state
            .compare_exchange_weak(
                idle(generation) | EXCLUSIVE,
                retired,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            wait();
        }
        reusable
    }

    /// Retires the handle of `generation` in one step if no one uses it.
    /// Some(whether the slot may be reused) when done; then `empty` it.
    #[inline]
    pub fn try_take(&self, generation: u32) -> Option<bool> {
        let (retired, reusable) = retired_state(generation);
        self.state
            .compare_exchange(idle(generation), retired, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| reusable)
    }

    /// Turns new users of the handle of `generation` away (Busy) before it
    /// is released: then `retire_exclusive` waits for the current ones.
    #[inline]
    pub fn try_begin_release(&self, generation: u32) -> Result<(), Refusal> {
        self.transition(generation, |now| match now & EXCLUSIVE {
            0 => Ok(now | EXCLUSIVE),
            _ => Err(Refusal::Busy),
        })
    }

    /// Empties a slot this thread has just retired, returning its object.
    ///
    /// # Safety
    /// This thread moved the slot's state from LIVE to retired, and has not
    /// put the slot back for reuse yet.
    #[inline]
    pub unsafe fn empty(&self) -> T {
        // SAFETY: no longer LIVE, so no other thread reaches it, and not
        // free yet.
        self.action.with_mut(|a| unsafe { *a = None });
        // SAFETY: as above.
        let value = self.value.with_mut(|v| unsafe { (*v).take() });
        value.expect("a LIVE slot holds a value")
    }

    /// Shares the object of the handle of `generation` with other readers
    /// (undo with `release_shared_user`).
    #[inline]
    pub fn try_shared(&self, generation: u32) -> Result<(), Refusal> {
        self.transition(generation, |now| {
            if now & EXCLUSIVE != 0 {
                Err(Refusal::Busy)
            } else if now & READERS == READERS {
                Err(Refusal::TooManyUsers)
            } else {
                Ok(now + READER)
            }
        })
    }

    #[inline]
    pub fn release_shared_user(&self) {
        self.state.fetch_sub(READER, Ordering::Release);
    }

    /// Pins the handle of `generation`: it stays LIVE (its action valid)
    /// until `unpin`, even beside an exclusive user.
    #[inline]
    pub fn pin(&self, generation: u32) -> Result<(), Refusal> {
        self.transition(generation, |now| match now & PINS {
            PINS => Err(Refusal::TooManyUsers),
            _ => Ok(now + 1),
        })
    }

    #[inline]
    pub fn unpin(&self) {
        self.state.fetch_sub(1, Ordering::Release);
    }

    /// The slot's action.
    ///
    /// # Safety
    /// This thread pins the slot (`pin`): the action is only written when
    /// not LIVE, and the pin keeps it LIVE.
    #[inline]
    pub unsafe fn action(&self) -> Option<Action> {
        // SAFETY: the caller's pin excludes writers.
        self.action.with(|a| unsafe { *a })
    }

    /// The tag of the handle of `generation`, read without taking it:
    /// checked to be this handle's, not a later one's in the same slot.
    #[inline]
    pub fn tag(&self, generation: u32) -> Result<u64, Refusal> {
        let idle = idle(generation);
        let before = self.state.load(Ordering::Acquire);
        if before & IDENTITY != idle {
            return Err(mismatch(generation, before));
        }
        let tag = self.tag.load(Ordering::Relaxed);
        // A sequence lock's read side: if the tag read was written for a
        // later handle, the fence makes its retirement of ours visible here.
        fence(Ordering::Acquire);
        let after = self.state.load(Ordering::Relaxed);
        if after & IDENTITY != idle {
            return Err(mismatch(generation, after));
        }
        Ok(tag)
    }

    /// Whether the slot serves the handle of `generation` now.
    #[inline]
    pub fn is_live(&self, generation: u32) -> bool {
        self.state.load(Ordering::Acquire) & IDENTITY == idle(generation)
    }

    /// Whether the slot serves the handle of `generation` now and a shared
    /// user would be let in (no thread holds it exclusively or is releasing
    /// it), read without becoming one.
    #[inline]
    pub fn is_open(&self, generation: u32) -> bool {
        self.state.load(Ordering::Acquire) & (IDENTITY | EXCLUSIVE) == idle(generation)
    }

    /// The object, for a thread that holds the handle (exclusively, shared,
    /// or by other means; `is_live` checked).
    ///
    /// # Safety
    /// No other thread mutates or releases the object for 'a.
    #[inline]
    pub unsafe fn value<'a>(&'a self) -> &'a T {
        // SAFETY: the caller excludes mutation and release.
        let value: Option<&'a T> = self.value.with(|v| unsafe { (*v).as_ref() });
        value.expect("a LIVE slot holds a value")
    }

    /// # Safety
    /// This thread holds the slot exclusively, and makes no other reference
    /// to the object for 'a.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn value_mut<'a>(&'a self) -> &'a mut T {
        // SAFETY: the exclusive hold makes the reference unique.
        let value: Option<&'a mut T> = self.value.with_mut(|v| unsafe { (*v).as_mut() });
        value.expect("a LIVE slot holds a value")
    }

    /// In a forked child (one thread): a LIVE slot's handle becomes stale,
    /// its object abandoned, never dropped (it belongs to the parent).
    /// Some(whether the slot may be reused) if it was LIVE.
    ///
    /// # Safety
    /// Only in a forked child, whose only thread this is.
    #[cfg(not(loom))]
    pub(crate) unsafe fn abandon_in_child(&self) -> Option<bool> {
        let state = self.state.load(Ordering::Relaxed);
        if state & LIVE == 0 {
            return None;
        }
        // SAFETY: single-threaded child: no one else holds the slot.
        if let Some(value) = self.value.with_mut(|v| unsafe { (*v).take() }) {
            std::mem::forget(value);
        }
        // SAFETY: as above.
        self.action.with_mut(|a| unsafe { *a = None });
        let (retired, reusable) = retired_state(generation_of(state));
        self.state.store(retired, Ordering::Relaxed);
        Some(reusable)
    }

    /// In a forked child: the parent's other threads are gone, so their
    /// shares and pins are dropped; a handle one of them held exclusively
    /// becomes stale, its (perhaps half-changed) object never touched and its
    /// slot never reused.
    ///
    /// # Safety
    /// Only in a forked child, whose only thread this is.
    #[cfg(not(loom))]
    pub(crate) unsafe fn drop_parent_users_in_child(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & LIVE == 0 {
            return;
        }
        let after = if state & EXCLUSIVE != 0 {
            (generation_of(state).wrapping_add(1) as u64) << 32
        } else {
            state & IDENTITY
        };
        self.state.store(after, Ordering::Relaxed);
    }

    /// Adds shared users and pins as if other threads held them, to reach
    /// the counters' limits in tests and models.
    #[cfg(any(test, loom))]
    pub fn add_users_for_test(&self, readers: u64, pins: u64) {
        assert!(readers * READER <= READERS && pins <= PINS);
        self.state.fetch_add(readers * READER + pins, Ordering::SeqCst);
    }
}
