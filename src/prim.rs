//! The only place that names the concurrency primitives: atomics and fences,
//! `UnsafeCell` (through `with`/`with_mut`), futex wait/wake, park/unpark/
//! yield, spin hints and the clock. Normal builds get std (and the Linux
//! futex); `--cfg loom` builds get the `loom` model checker's versions, so
//! that tests/loom_*.rs explore every interleaving of the code built on them.

// Not every build uses every name (loom models use what they check).
#![allow(unused_imports)]

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
/// loom has no `Weak`: the modules holding weak pool references (registry,
/// monitor, fork handlers, call gate) are not built under the model.
#[cfg(not(loom))]
pub(crate) use std::sync::Weak;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// `UnsafeCell` reached only through closures, as loom requires (it checks
/// each access against the others).
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// The raw pointer, for the fork handlers (never compiled under loom).
    #[inline]
    pub(crate) fn get(&self) -> *mut T {
        self.0.get()
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A futex word: a `u32` that threads can sleep on until it changes.
pub(crate) struct Futex {
    word: AtomicU32,
    /// Under loom, the kernel's check-and-sleep is a mutex and a condvar: the
    /// value is checked under the mutex that a wake takes, so a wake between
    /// the check and the sleep is not lost (as with the real futex).
    #[cfg(loom)]
    sleepers: loom::sync::Mutex<()>,
    #[cfg(loom)]
    wakeup: loom::sync::Condvar,
}

impl Futex {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: u32) -> Self {
        Futex {
            word: AtomicU32::new(value),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: u32) -> Self {
        Futex {
            word: AtomicU32::new(value),
            sleepers: loom::sync::Mutex::new(()),
            wakeup: loom::sync::Condvar::new(),
        }
    }

    #[inline]
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Sleeps while the word is `expected`; may return spuriously (callers loop).
    #[cfg(all(not(loom), target_os = "linux"))]
    pub(crate) fn wait(&self, expected: u32) {
        // SAFETY: the word is a live, aligned u32; FUTEX_WAIT returns at once
        // when the value differs and tolerates spurious wake-ups.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    /// Wakes one thread sleeping in `wait`, if any.
    #[cfg(all(not(loom), target_os = "linux"))]
    pub(crate) fn wake_one(&self) {
        // SAFETY: the word is a live, aligned u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }

    #[cfg(all(not(loom), not(target_os = "linux")))]
    pub(crate) fn wait(&self, _expected: u32) {
        std::thread::yield_now();
    }

    #[cfg(all(not(loom), not(target_os = "linux")))]
    pub(crate) fn wake_one(&self) {}

    #[cfg(loom)]
    pub(crate) fn wait(&self, expected: u32) {
        let guard = self.sleepers.lock().unwrap();
        if self.word.load(Ordering::SeqCst) == expected {
            drop(self.wakeup.wait(guard).unwrap());
        }
    }

    #[cfg(loom)]
    pub(crate) fn wake_one(&self) {
        let _guard = self.sleepers.lock().unwrap();
        self.wakeup.notify_one();
    }
}

/// Threads: parking (a `Parker` wakes the thread that made it) and yield.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::yield_now;

    #[cfg(loom)]
    pub(crate) use loom::thread::yield_now;

    /// Wakes one thread out of `park`; std's park token normally.
    #[cfg(not(loom))]
    pub(crate) struct Parker(std::thread::Thread);

    #[cfg(not(loom))]
    impl Parker {
        /// A parker for the calling thread.
        pub(crate) fn current() -> Parker {
            Parker(std::thread::current())
        }

        pub(crate) fn unpark(&self) {
            self.0.unpark();
        }

        /// Sleeps until unparked (or spuriously). Only on the parker's thread.
        pub(crate) fn park(&self) {
            std::thread::park();
        }

        /// As `park`, for at most `timeout`.
        pub(crate) fn park_timeout(&self, timeout: std::time::Duration) {
            std::thread::park_timeout(timeout);
        }

        /// Whether this is the calling thread's parker (a waiter list keeps
        /// one entry per thread). Not under loom: its parkers have no
        /// thread identity, and the list that asks (the shared registry's
        /// budget) is not modelled.
        pub(crate) fn is_current(&self) -> bool {
            self.0.id() == std::thread::current().id()
        }
    }

    /// Under loom, a flag under a mutex with a condvar: loom's own park token
    /// is also used by its Mutex and Condvar (so by the futex emulation),
    /// which would eat an unpark that a real futex never touches.
    #[cfg(loom)]
    pub(crate) struct Parker(loom::sync::Arc<(loom::sync::Mutex<bool>, loom::sync::Condvar)>);

    #[cfg(loom)]
    impl Parker {
        pub(crate) fn current() -> Parker {
            Parker(loom::sync::Arc::new((
                loom::sync::Mutex::new(false),
                loom::sync::Condvar::new(),
            )))
        }

        pub(crate) fn unpark(&self) {
            let (token, wakeup) = &*self.0;
            *token.lock().unwrap() = true;
            wakeup.notify_one();
        }

        pub(crate) fn park(&self) {
            let (token, wakeup) = &*self.0;
            let mut unparked = token.lock().unwrap();
            while !*unparked {
                unparked = wakeup.wait(unparked).unwrap();
            }
            *unparked = false;
        }

        /// Returns at once (a timeout or a spurious wake-up; callers loop),
        /// consuming a pending unpark; the model's clock moves on meanwhile.
        pub(crate) fn park_timeout(&self, _timeout: std::time::Duration) {
            *self.0 .0.lock().unwrap() = false;
            loom::thread::yield_now();
        }
    }
}

/// A spin-wait hint.
#[cfg(not(loom))]
#[inline]
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

#[cfg(loom)]
pub(crate) fn spin_hint() {
    loom::thread::yield_now();
}

/// The clock for deadlines and waiting times.
#[cfg(not(loom))]
pub(crate) use std::time::Instant;

/// Under loom: each model thread has its own clock, which moves on by one
/// millisecond at every reading, so waiting loops reach their deadlines.
#[cfg(loom)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant(std::time::Duration);

#[cfg(loom)]
loom::thread_local! {
    static CLOCK: std::cell::Cell<std::time::Duration> = std::cell::Cell::new(std::time::Duration::ZERO);
}

#[cfg(loom)]
impl Instant {
    pub(crate) fn now() -> Instant {
        CLOCK.with(|c| {
            let t = c.get() + std::time::Duration::from_millis(1);
            c.set(t);
            Instant(t)
        })
    }

    pub(crate) fn checked_add(&self, d: std::time::Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    pub(crate) fn saturating_duration_since(&self, earlier: Instant) -> std::time::Duration {
        self.0.saturating_sub(earlier.0)
    }

    pub(crate) fn elapsed(&self) -> std::time::Duration {
        Instant::now().saturating_duration_since(*self)
    }
}
