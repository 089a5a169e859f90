//! A mutex that survives fork(). parking_lot's and std's locks may hand a
//! lock to, or record, waiters that do not exist in a forked child; this one
//! is a plain futex word that the child can simply reset, since it is the
//! only thread left. Uncontended, lock and unlock are one atomic each.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and some thread may be sleeping on the word.
const CONTENDED: u32 = 2;

pub(crate) struct ForkMutex<T> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which exists for one
// thread at a time (the lock), or by the fork handlers while they hold it.
unsafe impl<T: Send> Sync for ForkMutex<T> {}
// SAFETY: as above; moving the mutex moves its data.
unsafe impl<T: Send> Send for ForkMutex<T> {}

impl<T> ForkMutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        ForkMutex {
            state: AtomicU32::new(UNLOCKED),
            data: UnsafeCell::new(value),
        }
    }

    pub(crate) fn lock(&self) -> ForkMutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        ForkMutexGuard { mutex: self }
    }

    #[cold]
    fn lock_contended(&self) {
        // A short spin first: the pool's critical sections are tiny.
        for _ in 0..100 {
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            std::hint::spin_loop();
        }
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            futex_wait(&self.state, CONTENDED);
        }
    }

    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex_wake_one(&self.state);
        }
    }

    /// The data, for the fork handlers, which hold the lock without a guard.
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
        self.state.store(UNLOCKED, Ordering::Release);
    }
}

impl<T: Default> Default for ForkMutex<T> {
    fn default() -> Self {
        ForkMutex::new(T::default())
    }
}

pub(crate) struct ForkMutexGuard<'a, T> {
    mutex: &'a ForkMutex<T>,
}

impl<T> Deref for ForkMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> DerefMut for ForkMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, so this is the only reference.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for ForkMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: word is a live, aligned u32; FUTEX_WAIT returns at once when
    // the value differs and tolerates spurious wake-ups (the caller loops).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

#[cfg(target_os = "linux")]
fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: word is a live, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn futex_wait(_word: &AtomicU32, _expected: u32) {
    std::thread::yield_now();
}

#[cfg(not(target_os = "linux"))]
fn futex_wake_one(_word: &AtomicU32) {}

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

    #[test]
    fn a_reset_lock_can_be_taken_again() {
        let m = ForkMutex::new(1);
        m.lock_for_fork();
        // SAFETY: simulates the child: no other thread uses m.
        unsafe { m.reset_after_fork_in_child() };
        assert_eq!(*m.lock(), 1);
    }
}
