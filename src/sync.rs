//! A mutex that survives fork(). parking_lot's and std's locks may hand a
//! lock to, or record, waiters that do not exist in a forked child; this one
//! is a plain futex word that the child can simply reset, since it is the
//! only thread left. Uncontended, lock and unlock are one atomic each.

use crate::prim::{spin_hint, Futex, Ordering, UnsafeCell};
use std::ops::{Deref, DerefMut};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and some thread may be sleeping on the word.
const CONTENDED: u32 = 2;

/// Spins before sleeping: the pool's critical sections are tiny. Under the
/// model a spin is a yield, and a short one keeps the state space small.
const SPINS: u32 = if cfg!(loom) { 2 } else { 100 };

pub struct ForkMutex<T> {
    state: Futex,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which exists for one
// thread at a time (the lock), or by the fork handlers while they hold it.
unsafe impl<T: Send> Sync for ForkMutex<T> {}
// SAFETY: as above; moving the mutex moves its data.
unsafe impl<T: Send> Send for ForkMutex<T> {}

impl<T> ForkMutex<T> {
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        ForkMutex {
            state: Futex::new(UNLOCKED),
            data: UnsafeCell::new(value),
        }
    }

    /// Constructible per model run (loom's primitives are not `const`).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        ForkMutex {
            state: Futex::new(UNLOCKED),
            data: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> ForkMutexGuard<'_, T> {
        if self
            .state
            .word()
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        ForkMutexGuard {
            mutex: self,
            _not_send: std::marker::PhantomData,
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let word = self.state.word();
        for _ in 0..SPINS {
            if word.load(Ordering::Relaxed) == UNLOCKED
                && word
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            spin_hint();
        }
        while word.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            self.state.wait(CONTENDED);
        }
    }

    fn unlock(&self) {
        if self.state.word().swap(UNLOCKED, Ordering::Release) == CONTENDED {
            self.state.wake_one();
        }
    }

    /// The data, for the fork handlers, which hold the lock without a guard.
    #[cfg(not(loom))]
    pub(crate) fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// Takes the lock across fork() (prepare handler).
    pub(crate) fn lock_for_fork(&self) {
        std::mem::forget(self.lock());
    }

    /// Releases the lock taken by `lock_for_fork` (parent handler).
    ///
    /// # Safety
    /// Only after `lock_for_fork` on this thread.
    pub(crate) unsafe fn unlock_after_fork_in_parent(&self) {
        self.unlock();
    }

    /// Makes the lock free in a forked child, whatever the parent's threads
    /// were doing with it: none of them exists here.
    ///
    /// # Safety
    /// Only in a forked child, before it starts any thread.
    pub(crate) unsafe fn reset_after_fork_in_child(&self) {
        self.state.word().store(UNLOCKED, Ordering::Release);
    }
}

impl<T: Default> Default for ForkMutex<T> {
    fn default() -> Self {
        ForkMutex::new(T::default())
    }
}

/// Holds the lock; reaches the data. `Sync` only for `T: Sync` (as std's
/// guard): a shared guard gives `&T` to every thread that holds it.
pub struct ForkMutexGuard<'a, T> {
    mutex: &'a ForkMutex<T>,
    /// Not Send (the lock belongs to the thread that took it) and no
    /// auto-`Sync` from the `&ForkMutex<T>`, which is `Sync` for `T: Send`.
    _not_send: std::marker::PhantomData<*const ()>,
}

// SAFETY: sharing the guard only shares `&T` (Deref), which needs `T: Sync`.
unsafe impl<T: Sync> Sync for ForkMutexGuard<'_, T> {}

impl<T> Deref for ForkMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for ForkMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably, so this is
        // the only reference.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for ForkMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn many_threads_increment_under_the_lock_without_losing_updates() {
        let counter = Arc::new(ForkMutex::new(0u64));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 160_000);
    }

    /// Issue 10: a guard shared between threads gives `&T` to each, so it may
    /// be `Sync` only for `T: Sync`. Fails to compile (ambiguous impl) when
    /// the guard of a `Cell` is `Sync`.
    #[test]
    fn a_guard_of_a_cell_is_not_sync() {
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        <ForkMutexGuard<'static, std::cell::Cell<u32>> as AmbiguousIfSync<_>>::check();
        // And the guard of a Sync type still is.
        fn is_sync<T: Sync>() {}
        is_sync::<ForkMutexGuard<'static, u32>>();
    }

    #[test]
    fn a_reset_lock_can_be_taken_again() {
        let m = ForkMutex::new(1);
        m.lock_for_fork();
        // SAFETY: simulates the child: no other thread uses m.
        unsafe { m.reset_after_fork_in_child() };
        assert_eq!(*m.lock(), 1);
    }
}
