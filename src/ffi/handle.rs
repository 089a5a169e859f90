//! Generation-tagged handle tables: the one place that turns a C handle into
//! a Rust object. A handle is `(generation << 32) | (slot + 1)`, never a
//! pointer to freed memory: a stale handle (its slot freed, or reused with a
//! newer generation) is detected and refused, never dereferenced. Slots are
//! never freed, so a lookup never touches released memory either.
//! Generations never wrap: a slot whose last generation has been released is
//! retired for good, so a handle value is never accepted again once released.
//!
//! A slot's state word holds its generation, a LIVE bit, an EXCLUSIVE bit
//! (one thread is using the object) and a count of shared users. Taking it
//! exclusively is how "a connection used by two threads at once" is caught.
//!
//! Tables whose handles come and go on every checkout or query (connections,
//! statements) keep a per-thread cache of free slots, so that handing out and
//! releasing a handle takes no lock: the global free list is touched once per
//! `CACHE_BATCH` handles.

use crate::error::{Error, Result};
use crate::prim::thread;
pub(crate) use crate::slot::{Action, Refusal};
use crate::slot::{Slot, PINS};
use crate::slot_table::{FreeList, Slots, MAX_SLOTS};
use crate::sync::ForkMutex;
use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};

/// How many free slots move between a thread's cache and the global free
/// list at a time; a cache holds at most twice as many.
const CACHE_BATCH: usize = 16;
/// Tables that may have a per-thread cache (`HandleTable::with_thread_cache`).
const THREAD_CACHES: usize = 4;

/// A thread's free slots of one table. Given back to the table's free list
/// when the thread exits. (In a forked child, the caches of the parent's
/// other threads are gone: their few slots are never reused there.)
#[derive(Default)]
struct ThreadCache {
    owner: Option<&'static ForkMutex<FreeList>>,
    free: Vec<u32>,
    /// Its cache index, whose LAST_FREED cell it empties at thread exit.
    index: usize,
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        if let Some(owner) = self.owner {
            let mut free = owner.lock();
            free.free.append(&mut self.free);
            // No destructor: always there. Closed from now on (not KEPT).
            let last = LAST_FREED.try_with(|cells| cells[self.index].replace(0)).unwrap_or(0);
            let slot = last & (LAST_FREED_KEPT - 1);
            if slot != 0 {
                free.free.push((slot - 1) as u32);
            }
        }
    }
}

thread_local! {
    static THREAD_CACHE: RefCell<[ThreadCache; THREAD_CACHES]> = RefCell::default();
    /// Per cache index: the slot this thread freed last, in front of its
    /// cache (0: none; else slot + 1), and whether the cache is alive to
    /// give it back at thread exit (LAST_FREED_KEPT). A plain cell, with no
    /// destructor to check for: the cheapest thread-local there is.
    static LAST_FREED: [Cell<u64>; THREAD_CACHES] = const { [const { Cell::new(0) }; THREAD_CACHES] };
}

/// In a LAST_FREED cell: the thread's cache (which empties the cell at
/// thread exit) is alive.
const LAST_FREED_KEPT: u64 = 1 << 32;

pub(crate) struct HandleTable<T> {
    /// What the handles are, for messages ("connection", "statement", ...).
    kind: &'static str,
    slots: Slots<T>,
    /// Which per-thread cache of free slots this table uses, if any.
    thread_cache: Option<usize>,
}

// SAFETY: the slots are Sync for T: Send (src/slot.rs); `try_shared`,
// which hands out &T to several threads, requires T: Sync.
unsafe impl<T: Send> Sync for HandleTable<T> {}

fn decode(handle: u64) -> Option<(usize, u32)> {
    let index = (handle & 0xffff_ffff) as usize;
    if index == 0 || index > MAX_SLOTS {
        return None;
    }
    Some((index - 1, (handle >> 32) as u32))
}

impl<T> HandleTable<T> {
    pub(crate) const fn new(kind: &'static str) -> Self {
        HandleTable {
            kind,
            slots: Slots::new(MAX_SLOTS),
            thread_cache: None,
        }
    }

    /// A table of at most `capacity` live handles, to reach the limit in tests.
    #[cfg(test)]
    const fn with_capacity(kind: &'static str, capacity: usize) -> Self {
        HandleTable {
            kind,
            slots: Slots::new(capacity),
            thread_cache: None,
        }
    }

    /// A table whose free slots are cached per thread, in cache `index`
    /// (< THREAD_CACHES, one per table).
    pub(crate) const fn with_thread_cache(kind: &'static str, index: usize) -> Self {
        assert!(index < THREAD_CACHES);
        let mut table = Self::new(kind);
        table.thread_cache = Some(index);
        table
    }

    #[inline]
    fn slot(&self, index: usize) -> Option<&Slot<T>> {
        self.slots.get(index)
    }

    /// Stores `value` and returns its new handle.
    pub(crate) fn insert(&'static self, value: T) -> Result<u64> {
        self.insert_tagged(value, 0)
    }

    /// Stores `value` with a tag (`tag`) and returns its new handle.
    pub(crate) fn insert_tagged(&'static self, value: T, tag: u64) -> Result<u64> {
        // SAFETY: no action.
        unsafe { self.insert_full(value, None, tag) }
    }

    /// Stores `value` with an action other threads may run on it
    /// (`run_action`), and returns its new handle.
    ///
    /// # Safety
    /// `action` stays valid while the handle is live (it points into `value`,
    /// say, which the table keeps until `remove`).
    #[inline(always)]
    pub(crate) unsafe fn insert_with_action(&'static self, value: T, action: Option<Action>) -> Result<u64> {
        // SAFETY: the caller keeps the action valid.
        unsafe { self.insert_full(value, action, 0) }
    }

    /// # Safety
    /// As for `insert_with_action`.
    #[inline(always)]
    unsafe fn insert_full(&'static self, value: T, action: Option<Action>, tag: u64) -> Result<u64> {
        // The tables register nothing themselves: the crate's handlers cover them.
        crate::fork::install_handlers();
        let index = match self.cached_free_slot() {
            Some(index) => index,
            None => self.free_slot(&mut self.slots.free.lock())?,
        };
        let slot = self.slot(index).expect("allocated above");
        // SAFETY: the slot is not LIVE and was just taken off the free list;
        // the caller keeps the action valid.
        let generation = unsafe { slot.fill(value, action, tag) };
        Ok(((generation as u64) << 32) | (index as u64 + 1))
    }

    /// Runs `f` on this thread's cache of this table's free slots; None when
    /// the table has no cache or the thread's is gone (thread exit).
    #[inline]
    fn in_thread_cache<R>(&'static self, f: impl FnOnce(&mut Vec<u32>) -> R) -> Option<R> {
        let cache = self.thread_cache?;
        THREAD_CACHE
            .try_with(|caches| {
                let mut caches = caches.try_borrow_mut().ok()?;
                let mine = &mut caches[cache];
                match mine.owner {
                    None => {
                        mine.owner = Some(&self.slots.free);
                        mine.index = cache;
                        // The cache now gives the cell's slot back at thread exit.
                        let _ = LAST_FREED.try_with(|cells| cells[cache].set(cells[cache].get() | LAST_FREED_KEPT));
                    }
                    Some(owner) => debug_assert!(std::ptr::eq(owner, &self.slots.free), "one table per cache index"),
                }
                Some(f(&mut mine.free))
            })
            .ok()
            .flatten()
    }

    /// A free slot from this thread's cell or cache, refilled from the free list.
    #[inline(always)]
    fn cached_free_slot(&'static self) -> Option<usize> {
        let cache = self.thread_cache?;
        let last = LAST_FREED
            .try_with(|cells| {
                let cell = cells[cache].get();
                let slot = cell & (LAST_FREED_KEPT - 1);
                if slot == 0 {
                    return None;
                }
                cells[cache].set(cell & LAST_FREED_KEPT);
                Some(slot as usize - 1)
            })
            .ok()
            .flatten();
        if last.is_some() {
            return last;
        }
        self.slot_from_thread_cache()
    }

    /// `cached_free_slot` when the cell is empty.
    #[inline(never)]
    fn slot_from_thread_cache(&'static self) -> Option<usize> {
        self.in_thread_cache(|mine| {
            if mine.is_empty() {
                let mut free = self.slots.free.lock();
                for _ in 0..CACHE_BATCH {
                    match self.free_slot(&mut free) {
                        Ok(index) => mine.push(index as u32),
                        Err(_) => break,
                    }
                }
            }
            mine.pop().map(|index| index as usize)
        })
        .flatten()
    }

    /// Takes a slot off the free list, or a never-used one.
    fn free_slot(&self, free: &mut FreeList) -> Result<usize> {
        // Only live handles (and slots retired after 2^32 uses) hold slots:
        // this many at once means handles are never released.
        self.slots.free_slot(free).ok_or_else(|| {
            Error::misuse(format!(
                "too many live {} handles at once ({}): each must be released \
                 (sqlpool_close, _checkin, _finalize, _options_free) when no longer used",
                self.kind,
                self.slots.capacity()
            ))
        })
    }

    /// Puts a retired slot back: in this thread's cell or cache, or the free list.
    #[inline(always)]
    fn release_slot(&'static self, index: usize) {
        if let Some(cache) = self.thread_cache {
            // In the cell when the cache is alive (KEPT) and the cell empty.
            let kept = LAST_FREED.try_with(|cells| {
                let empty_and_kept = cells[cache].get() == LAST_FREED_KEPT;
                if empty_and_kept {
                    cells[cache].set(LAST_FREED_KEPT | (index as u64 + 1));
                }
                empty_and_kept
            });
            if kept == Ok(true) {
                return;
            }
        }
        self.release_slot_to_thread_cache(index);
    }

    /// `release_slot` when the cell is taken or not kept.
    #[inline(never)]
    fn release_slot_to_thread_cache(&'static self, index: usize) {
        let cached = self.in_thread_cache(|mine| {
            mine.push(index as u32);
            if mine.len() >= 2 * CACHE_BATCH {
                let spill = mine.len() - CACHE_BATCH;
                self.slots.free.lock().free.extend(mine.drain(..spill));
            }
        });
        if cached.is_none() {
            self.slots.free.lock().free.push(index as u32);
        }
    }

    fn stale(&self) -> Error {
        Error::misuse(format!(
            "stale or invalid {} handle (already released, or never handed out)",
            self.kind
        ))
    }

    fn too_many_users(&self) -> Error {
        Error::misuse(format!(
            "too many threads use one {} handle at once ({}): the rest are refused",
            self.kind, PINS
        ))
    }

    /// The usual error for a refusal; callers with a better word for some
    /// (a closed pool) map those themselves.
    pub(crate) fn refusal_error(&self, refusal: Refusal) -> Error {
        match refusal {
            Refusal::Invalid | Refusal::Released => self.stale(),
            Refusal::Busy => Error::misuse(format!("{} is in use by another thread at the same time", self.kind)),
            Refusal::TooManyUsers => self.too_many_users(),
        }
    }

    /// The slot of a handle, and the handle's generation.
    #[inline]
    fn locate(&self, handle: u64) -> std::result::Result<(usize, &Slot<T>, u32), Refusal> {
        let (index, generation) = decode(handle).ok_or(Refusal::Invalid)?;
        let slot = self.slot(index).ok_or(Refusal::Invalid)?;
        Ok((index, slot, generation))
    }

    fn try_exclusive(&self, handle: u64) -> std::result::Result<Exclusive<'_, T>, Refusal> {
        let (index, slot, generation) = self.locate(handle)?;
        slot.try_exclusive(generation)?;
        Ok(Exclusive {
            table: self,
            slot,
            index,
            generation,
        })
    }

    /// Runs the handle's action (if it has one), even while another thread
    /// holds the object. False when the handle has no action.
    pub(crate) fn run_action(&self, handle: u64) -> Result<bool> {
        let (_, slot, generation) = self.locate(handle).map_err(|_| self.stale())?;
        slot.pin(generation).map_err(|refusal| match refusal {
            Refusal::TooManyUsers => self.too_many_users(),
            _ => self.stale(),
        })?;
        // Run while pinned, so that the object cannot be released (and, say,
        // a connection handed to someone else) before the action is done.
        // SAFETY: pinned just above.
        let ran = match unsafe { slot.action() } {
            Some(action) => {
                // SAFETY: insert_with_action's caller keeps the action valid
                // while the handle is live, which the pin guarantees.
                unsafe { (*action)() };
                true
            }
            None => false,
        };
        slot.unpin();
        Ok(ran)
    }

    /// Takes the object for this thread alone.
    pub(crate) fn lock_exclusive(&self, handle: u64) -> Result<Exclusive<'_, T>> {
        self.try_exclusive(handle)
            .map_err(|refusal| self.refusal_error(refusal))
    }

    /// The handle's tag (`insert_tagged`), read without taking the handle:
    /// checked to be this handle's, not a later one's in the same slot.
    pub(crate) fn tag(&self, handle: u64) -> Result<u64> {
        let (_, slot, generation) = self.locate(handle).map_err(|_| self.stale())?;
        slot.tag(generation).map_err(|_| self.stale())
    }

    /// The object of a live handle, without taking it.
    ///
    /// # Safety
    /// The caller keeps the handle from being released (and its object from
    /// being used mutably) for 't by other means: a statement is released
    /// only by a thread that holds its connection, and the caller holds it.
    pub(crate) unsafe fn get_unlocked(&self, handle: u64) -> Result<&T> {
        let (_, slot, generation) = self.locate(handle).map_err(|_| self.stale())?;
        if !slot.is_live(generation) {
            return Err(self.stale());
        }
        // SAFETY: live, and the caller excludes its release and mutation.
        Ok(unsafe { slot.value() })
    }

    /// Releases the handle, which no thread may be using: its object is
    /// returned and the handle is stale from now on. One atomic step when no
    /// interrupt is pinning it (the usual case).
    #[inline(always)]
    pub(crate) fn take(&'static self, handle: u64) -> Result<T> {
        let (index, slot, generation) = self.locate(handle).map_err(|_| self.stale())?;
        match slot.try_take(generation) {
            // SAFETY: just retired by this thread.
            Some(reusable) => Ok(unsafe { self.empty_retired(index, slot, reusable) }),
            // Pinned, in use, or stale: the general path waits or says which.
            None => Ok(self.lock_exclusive(handle)?.remove()),
        }
    }

    /// Releases a handle other threads may be sharing (`try_shared`): new
    /// users are refused at once (Busy), those inside a call finish it, then
    /// the handle is retired and its object returned. A handle already
    /// released, or being released by another thread, is refused.
    pub(crate) fn release_shared(&'static self, handle: u64) -> std::result::Result<T, Refusal> {
        let (index, slot, generation) = self.locate(handle)?;
        slot.try_begin_release(generation)?;
        // Shared users hold the handle for one call, pins for one action.
        let reusable = slot.retire_exclusive(generation, thread::yield_now);
        // SAFETY: just retired by this thread.
        Ok(unsafe { self.empty_retired(index, slot, reusable) })
    }

    /// Empties `slot` (number `index`), which this thread has just retired,
    /// and puts it back for reuse if `reusable` (not after its last
    /// generation).
    ///
    /// # Safety
    /// This thread moved the slot's state from LIVE to retired.
    #[inline(always)]
    unsafe fn empty_retired(&'static self, index: usize, slot: &Slot<T>, reusable: bool) -> T {
        // SAFETY: the caller retired it; it is not free yet.
        let value = unsafe { slot.empty() };
        if reusable {
            self.release_slot(index);
        }
        value
    }

    /// Shares the object with other readers for the length of one call
    /// (for objects that are themselves thread-safe, such as pools).
    pub(crate) fn try_shared(&self, handle: u64) -> std::result::Result<Shared<'_, T>, Refusal>
    where
        T: Sync,
    {
        let (_, slot, generation) = self.locate(handle)?;
        slot.try_shared(generation)?;
        Ok(Shared { slot })
    }

    /// Whether the handle is live and a shared user would be let in now (no
    /// release under way): one load, for callers that already hold the
    /// object by other means and only need to know the handle is still open.
    #[inline]
    pub(crate) fn is_open(&self, handle: u64) -> bool {
        self.locate(handle)
            .is_ok_and(|(_, slot, generation)| slot.is_open(generation))
    }

    /// Takes the object exclusively, waiting for shared users to finish (they
    /// hold it only for the length of one call). Used to release it.
    pub(crate) fn lock_exclusive_waiting(&self, handle: u64) -> Result<Exclusive<'_, T>> {
        loop {
            match self.try_exclusive(handle) {
                Ok(held) => return Ok(held),
                Err(Refusal::Busy) => thread::yield_now(),
                Err(refusal) => return Err(self.refusal_error(refusal)),
            }
        }
    }

    /// Called in a forked child with the free list locked: every live handle
    /// becomes stale and its object is abandoned, never dropped (it belongs
    /// to the parent); then the lock is made free.
    ///
    /// # Safety
    /// Only in a forked child, after `lock_free_list_for_fork` in the parent.
    pub(crate) unsafe fn abandon_all_after_fork_in_child(&self) {
        // SAFETY: the fork handler holds the free-list lock on this thread,
        // the only thread in the child.
        let free = unsafe { &mut *self.slots.free.data_ptr() };
        for index in 0..free.next_unused as usize {
            let Some(slot) = self.slot(index) else {
                continue;
            };
            // SAFETY: single-threaded child.
            if unsafe { slot.abandon_in_child() } == Some(true) {
                free.free.push(index as u32);
            }
        }
        // SAFETY: the child has no other thread.
        unsafe { self.slots.free.reset_after_fork_in_child() };
    }

    pub(crate) fn lock_free_list_for_fork(&self) {
        self.slots.free.lock_for_fork();
    }

    /// # Safety
    /// Only after `lock_free_list_for_fork` on this thread.
    pub(crate) unsafe fn unlock_free_list_after_fork_in_parent(&self) {
        // SAFETY: the caller took the lock with lock_free_list_for_fork.
        unsafe { self.slots.free.unlock_after_fork_in_parent() };
    }

    /// In a forked child, for tables whose handles stay valid there (pools,
    /// options): the parent's other threads are gone, so their shares and
    /// pins are dropped; a handle one of them held exclusively becomes stale,
    /// its (perhaps half-changed) object never touched and its slot never
    /// reused. Then the free-list lock is made free.
    ///
    /// # Safety
    /// Only in a forked child, after `lock_free_list_for_fork` in the parent.
    pub(crate) unsafe fn release_parent_users_after_fork_in_child(&self) {
        // SAFETY: the fork handler holds the free-list lock on this thread,
        // the only thread in the child.
        let next_unused = unsafe { (*self.slots.free.data_ptr()).next_unused } as usize;
        for index in 0..next_unused {
            if let Some(slot) = self.slot(index) {
                // SAFETY: single-threaded child.
                unsafe { slot.drop_parent_users_in_child() };
            }
        }
        // SAFETY: the child has no other thread.
        unsafe { self.slots.free.reset_after_fork_in_child() };
    }
}

/// One thread's exclusive use of a handle's object.
pub(crate) struct Exclusive<'t, T> {
    table: &'t HandleTable<T>,
    slot: &'t Slot<T>,
    index: usize,
    generation: u32,
}

impl<T> Exclusive<'static, T> {
    /// Releases the handle: its object is returned and the handle is stale
    /// from now on.
    pub(crate) fn remove(self) -> T {
        // Retire the handle once no pin is left (pins last a few instructions).
        let reusable = self.slot.retire_exclusive(self.generation, crate::prim::spin_hint);
        let (table, index, slot) = (self.table, self.index, self.slot);
        std::mem::forget(self);
        // SAFETY: just retired by this thread.
        unsafe { table.empty_retired(index, slot, reusable) }
    }
}

impl<T> std::fmt::Debug for Exclusive<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exclusive({} #{})", self.table.kind, self.index)
    }
}

impl<T> Deref for Exclusive<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this thread holds the slot exclusively and the slot is LIVE.
        unsafe { self.slot.value() }
    }
}

impl<T> DerefMut for Exclusive<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for deref, and &mut self makes the reference unique.
        unsafe { self.slot.value_mut() }
    }
}

impl<T> Drop for Exclusive<'_, T> {
    fn drop(&mut self) {
        self.slot.release_exclusive();
    }
}

/// Shared, read-only use of a handle's object for the length of one call.
pub(crate) struct Shared<'t, T> {
    slot: &'t Slot<T>,
}

impl<T> Deref for Shared<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a shared user with EXCLUSIVE clear: no one mutates the value.
        unsafe { self.slot.value() }
    }
}

impl<T> Drop for Shared<'_, T> {
    fn drop(&mut self) {
        self.slot.release_shared_user();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Ordering;
    use crate::slot::{EXCLUSIVE, READER, READERS};
    use crate::ErrorKind;
    use std::sync::Arc;

    static TABLE: HandleTable<String> = HandleTable::with_thread_cache("thing", 2);

    #[test]
    fn a_released_handle_is_stale_and_its_slot_reuse_does_not_revive_it() {
        let h1 = TABLE.insert("one".into()).unwrap();
        assert_eq!(&*TABLE.lock_exclusive(h1).unwrap(), "one");
        assert_eq!(TABLE.lock_exclusive(h1).unwrap().remove(), "one");
        let e = TABLE.lock_exclusive(h1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Misuse);
        let h2 = TABLE.insert("two".into()).unwrap();
        assert_ne!(h1, h2, "a reused slot gets a new generation");
        assert!(TABLE.lock_exclusive(h1).is_err());
        assert!(TABLE.try_shared(h1).is_err());
        assert_eq!(&*TABLE.try_shared(h2).unwrap(), "two");
        TABLE.lock_exclusive(h2).unwrap().remove();
    }

    #[test]
    fn exclusive_use_excludes_a_second_user_and_shared_users_coexist() {
        let h = TABLE.insert("x".into()).unwrap();
        {
            let _held = TABLE.lock_exclusive(h).unwrap();
            let e = TABLE.lock_exclusive(h).unwrap_err();
            assert!(e.message().contains("in use by another thread"), "{e}");
            assert!(TABLE.try_shared(h).is_err());
        }
        {
            let a = TABLE.try_shared(h).unwrap();
            let b = TABLE.try_shared(h).unwrap();
            assert_eq!(&*a, &*b);
            assert!(TABLE.lock_exclusive(h).is_err());
        }
        TABLE.lock_exclusive(h).unwrap().remove();
    }

    #[test]
    fn an_action_runs_beside_an_exclusive_user_and_never_after_release() {
        use crate::prim::AtomicUsize;
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let action: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        // SAFETY: `action` outlives the handle (it lives to the end of the test).
        let h = unsafe { TABLE.insert_with_action("conn".into(), Some(Arc::as_ptr(&action))) }.unwrap();
        let held = TABLE.lock_exclusive(h).unwrap();
        assert!(TABLE.run_action(h).unwrap());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        held.remove();
        assert!(TABLE.run_action(h).is_err(), "a released handle runs nothing");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let plain = TABLE.insert("plain".into()).unwrap();
        assert!(!TABLE.run_action(plain).unwrap());
        TABLE.lock_exclusive(plain).unwrap().remove();
    }

    #[test]
    fn take_retires_in_one_step_and_refuses_a_handle_in_use() {
        let h = TABLE.insert("t".into()).unwrap();
        {
            let _held = TABLE.lock_exclusive(h).unwrap();
            let e = TABLE.take(h).unwrap_err();
            assert!(e.message().contains("in use by another thread"), "{e}");
        }
        assert_eq!(TABLE.take(h).unwrap(), "t");
        assert_eq!(TABLE.take(h).unwrap_err().kind(), ErrorKind::Misuse);
        assert!(TABLE.lock_exclusive(h).is_err(), "taken handles are stale");
    }

    #[test]
    fn a_threads_cached_slots_go_back_to_the_table_when_it_exits() {
        static EXITING: HandleTable<u32> = HandleTable::with_thread_cache("exiting", 3);
        let used = std::thread::spawn(|| {
            let handles: Vec<u64> = (0..40).map(|i| EXITING.insert(i).unwrap()).collect();
            for h in handles {
                EXITING.take(h).unwrap();
            }
            EXITING.slots.free.lock().next_unused
        })
        .join()
        .unwrap();
        assert!(used >= 40);
        let free = EXITING.slots.free.lock();
        assert_eq!(free.free.len(), free.next_unused as usize, "every slot is free again");
        let mut sorted = free.free.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), free.free.len(), "no slot is free twice");
    }

    /// A slot released by a thread that never inserted (no cache of its own,
    /// so its last-freed cell is not kept) goes to the free list, not lost.
    #[test]
    fn a_slot_released_by_a_thread_without_a_cache_goes_back_to_the_table() {
        static CROSSING: HandleTable<u32> = HandleTable::with_thread_cache("crossing", 3);
        let handle = std::thread::spawn(|| CROSSING.insert(7).unwrap()).join().unwrap();
        let free_before = CROSSING.slots.free.lock().free.len();
        std::thread::spawn(move || assert_eq!(CROSSING.take(handle).unwrap(), 7))
            .join()
            .unwrap();
        let free = CROSSING.slots.free.lock();
        assert_eq!(free.free.len(), free_before + 1, "the released slot is free again");
        assert_eq!(free.free.len(), free.next_unused as usize, "every slot is free");
    }

    #[test]
    fn a_tag_is_read_only_for_its_own_handle() {
        let old = TABLE.insert_tagged("first".into(), 41).unwrap();
        assert_eq!(TABLE.tag(old).unwrap(), 41);
        TABLE.take(old).unwrap();
        assert!(TABLE.tag(old).is_err(), "a released handle has no tag");
        // This thread's cache hands the same slot out again, newer generation.
        let new = TABLE.insert_tagged("second".into(), 42).unwrap();
        assert_eq!(new & 0xffff_ffff, old & 0xffff_ffff, "same slot");
        assert!(TABLE.tag(old).is_err(), "the old handle never reads the new tag");
        assert_eq!(TABLE.tag(new).unwrap(), 42);
        // SAFETY: nothing else can release `new` (this test owns it).
        assert_eq!(unsafe { TABLE.get_unlocked(new) }.unwrap(), "second");
        // SAFETY: as above; a stale handle is refused before any access.
        assert!(unsafe { TABLE.get_unlocked(old) }.is_err());
        TABLE.take(new).unwrap();
    }

    /// Generations never wrap: a slot whose last generation was handed out
    /// is retired for good, so that no old handle is ever accepted again.
    #[test]
    fn a_slot_at_its_last_generation_is_retired_and_never_revives_an_old_handle() {
        static WRAPPING: HandleTable<u32> = HandleTable::with_thread_cache("wrapping", 3);
        let old = WRAPPING.insert(1).unwrap();
        let index = (old & 0xffff_ffff) as usize - 1;
        WRAPPING.take(old).unwrap();
        // As if the slot had been reused 2^32 - 2 more times since: the
        // next handle out of it carries the last generation there is.
        let slot = WRAPPING.slot(index).unwrap();
        slot.state.store((u32::MAX as u64) << 32, Ordering::SeqCst);
        let last = WRAPPING.insert(2).unwrap();
        assert_eq!(
            last & 0xffff_ffff,
            old & 0xffff_ffff,
            "this thread's cache hands the same slot out"
        );
        assert_eq!(last >> 32, u32::MAX as u64);
        WRAPPING.take(last).unwrap();
        let later: Vec<u64> = (0..3 * CACHE_BATCH as u32)
            .map(|i| WRAPPING.insert(i).unwrap())
            .collect();
        assert!(
            later.iter().all(|h| h & 0xffff_ffff != old & 0xffff_ffff),
            "the retired slot is never handed out again"
        );
        for stale in [old, last] {
            assert_eq!(WRAPPING.lock_exclusive(stale).unwrap_err().kind(), ErrorKind::Misuse);
            assert!(WRAPPING.take(stale).is_err());
        }
        for h in later {
            WRAPPING.take(h).unwrap();
        }
        assert!(!WRAPPING.slots.free.lock().free.contains(&(index as u32)));
    }

    #[test]
    fn shared_users_beyond_the_counters_width_are_refused_never_overflowed() {
        let h = TABLE.insert("many".into()).unwrap();
        let slot = TABLE.slot((h & 0xffff_ffff) as usize - 1).unwrap();
        // All but one of the shared users the counter can hold.
        slot.add_users_for_test(READERS / READER - 1, 0);
        let last_one = TABLE.try_shared(h).unwrap();
        let before = slot.state.load(Ordering::SeqCst);
        let e = TABLE.refusal_error(TABLE.try_shared(h).err().expect("refused"));
        assert!(e.message().contains("at once"), "{e}");
        assert_eq!(
            slot.state.load(Ordering::SeqCst),
            before,
            "nothing spilled into EXCLUSIVE"
        );
        drop(last_one);
        slot.state.fetch_sub(READERS - READER, Ordering::SeqCst);

        // The same for pins (users of the action).
        slot.add_users_for_test(0, PINS);
        let before = slot.state.load(Ordering::SeqCst);
        let e = TABLE.run_action(h).unwrap_err();
        assert!(e.message().contains("at once"), "{e}");
        assert_eq!(
            slot.state.load(Ordering::SeqCst),
            before,
            "nothing spilled into the readers"
        );
        slot.state.fetch_sub(PINS, Ordering::SeqCst);
        assert_eq!(TABLE.take(h).unwrap(), "many");
    }

    #[test]
    fn released_slots_serve_for_ever_and_a_full_table_is_a_clear_misuse() {
        static SMALL: HandleTable<u32> = HandleTable::with_capacity("small", 3);
        for i in 0..10 * 3 {
            let h = SMALL.insert(i).unwrap();
            assert_eq!(SMALL.take(h).unwrap(), i);
        }
        let live: Vec<u64> = (0..3).map(|i| SMALL.insert(i).unwrap()).collect();
        let e = SMALL.insert(3).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Misuse);
        assert!(e.message().contains("too many live small handles at once (3)"), "{e}");
        SMALL.take(live[1]).unwrap();
        let again = SMALL.insert(4).unwrap();
        for h in [live[0], live[2], again] {
            SMALL.take(h).unwrap();
        }
    }

    #[test]
    fn release_shared_turns_new_users_away_waits_for_current_ones_and_runs_once() {
        static SHARED: HandleTable<String> = HandleTable::new("shared thing");
        let h = SHARED.insert("pool".into()).unwrap();
        let inside = SHARED.try_shared(h).unwrap();
        let releaser = std::thread::spawn(move || SHARED.release_shared(h));
        let slot = SHARED.slot((h & 0xffff_ffff) as usize - 1).unwrap();
        while slot.state.load(Ordering::SeqCst) & EXCLUSIVE == 0 {
            thread::yield_now();
        }
        assert_eq!(SHARED.try_shared(h).err(), Some(Refusal::Busy), "a release in progress");
        assert_eq!(
            SHARED.release_shared(h).err(),
            Some(Refusal::Busy),
            "one release at a time"
        );
        assert!(!releaser.is_finished(), "it waits for the user inside its call");
        assert_eq!(&*inside, "pool", "the user inside its call keeps the object");
        drop(inside);
        assert_eq!(releaser.join().unwrap().unwrap(), "pool");
        assert_eq!(SHARED.try_shared(h).err(), Some(Refusal::Released));
        assert_eq!(SHARED.release_shared(h).err(), Some(Refusal::Released));
        assert_eq!(
            SHARED.try_shared(h ^ (1 << 40)).err(),
            Some(Refusal::Invalid),
            "never handed out"
        );
    }

    #[test]
    fn garbage_handles_are_refused() {
        for h in [0u64, 1, u64::MAX, 0xdead_beef_0000_0000, (7 << 32) | 3] {
            assert!(TABLE.lock_exclusive(h).is_err());
            assert!(TABLE.try_shared(h).is_err());
        }
    }
}
