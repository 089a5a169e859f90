//! A background thread that keeps a coarse clock and watches database files,
//! so that checkout reads neither the clock nor the file system: recycle
//! compares with the coarse clock and pre_ping with a file generation, each
//! one atomic load. Each tick costs nothing per idle pool: only pools used
//! since the last tick have their file checked (src/file_watch.rs), and only
//! pools with a leak_threshold are looked at for leaks.

use crate::pool::PoolShared;
use crate::sync::ForkMutex;
use crate::prim::{Arc, AtomicBool, AtomicU64, Instant, Ordering, Weak};
use std::sync::OnceLock;
use std::time::Duration;

/// How often the clock advances and the files are checked.
pub const TICK: Duration = Duration::from_millis(50);

/// The shared registry's idle sweep runs every this many ticks (1 s).
const SWEEP_EVERY_TICKS: u64 = 20;

static EPOCH: OnceLock<Instant> = OnceLock::new();
static COARSE_MS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Pools whose file is checked at each tick: those used since the last one.
static FILE_WATCHED: ForkMutex<Vec<Weak<PoolShared>>> = ForkMutex::new(Vec::new());
/// Pools with a leak_threshold or a snapshot linger, looked at each tick.
static TICK_WATCHED: ForkMutex<Vec<Weak<PoolShared>>> = ForkMutex::new(Vec::new());

/// Has the monitor check `pool`'s file at each tick while it is used.
pub(crate) fn watch_file(pool: &Arc<PoolShared>) {
    FILE_WATCHED.lock().push(Arc::downgrade(pool));
    ensure_running();
}

/// Has the monitor look for `pool`'s leaks and lingering snapshots at each
/// tick, while it lives.
pub(crate) fn watch_each_tick(pool: &Arc<PoolShared>) {
    TICK_WATCHED.lock().push(Arc::downgrade(pool));
}

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since the library started, as of the last tick.
pub(crate) fn coarse_now_ms() -> u64 {
    COARSE_MS.load(Ordering::Relaxed)
}

/// Milliseconds since the library started, from the real clock (not
/// published as the coarse clock: no shared write).
pub(crate) fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// Reads the real clock and publishes it as the coarse clock.
pub(crate) fn refresh_clock() -> u64 {
    let now = epoch().elapsed().as_millis() as u64;
    COARSE_MS.fetch_max(now, Ordering::Relaxed);
    now
}

/// Starts the monitor when `needed` and it is not running in this process.
pub(crate) fn ensure_running_if(needed: bool) {
    if needed {
        ensure_running();
    }
}

/// Starts the monitor thread if it is not running (in this process).
pub(crate) fn ensure_running() {
    if RUNNING.load(Ordering::Acquire) || RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    refresh_clock();
    let started = std::thread::Builder::new().name("sqlpool-monitor".into()).spawn(|| {
        for tick in 1u64.. {
            std::thread::sleep(TICK);
            // A panic in one tick (a bug, a host callback) must not end the
            // thread: every pool of the process depends on it.
            let _ = std::panic::catch_unwind(|| run_tick(tick));
        }
    });
    if started.is_err() {
        // No thread now: the next pool operation tries again.
        RUNNING.store(false, Ordering::Release);
    }
}

fn run_tick(tick: u64) {
    refresh_clock();
    check_used_files();
    let tick_watched: Vec<Arc<PoolShared>> = {
        let mut list = TICK_WATCHED.lock();
        list.retain(|p| p.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    for pool in tick_watched {
        pool.check_leaks();
        pool.end_lingering_snapshots(false);
    }
    // Shared pools of files not used lately give back their idle
    // connections even when no one opens another shared pool.
    if tick % SWEEP_EVERY_TICKS == 0 {
        crate::shared::sweep();
    }
}

/// Checks the files of the pools used since the last tick, and lets go of
/// the others. The list is taken whole, so that checkouts that start
/// watching meanwhile do not wait for the file checks.
fn check_used_files() {
    let watched = std::mem::take(&mut *FILE_WATCHED.lock());
    if watched.is_empty() {
        return;
    }
    let mut kept = Vec::with_capacity(watched.len());
    for weak in watched {
        if weak.upgrade().is_some_and(|pool| pool.tick_file_watch()) {
            kept.push(weak);
        }
    }
    FILE_WATCHED.lock().extend(kept);
}

/// Fork prepare handler's part (crate::fork).
pub(crate) fn lock_for_fork() {
    FILE_WATCHED.lock_for_fork();
    TICK_WATCHED.lock_for_fork();
}

/// # Safety
/// Only after `lock_for_fork` on this thread.
pub(crate) unsafe fn unlock_after_fork_in_parent() {
    // SAFETY: lock_for_fork took both locks on this thread.
    unsafe {
        TICK_WATCHED.unlock_after_fork_in_parent();
        FILE_WATCHED.unlock_after_fork_in_parent();
    }
}

/// # Safety
/// Only in a forked child, after `lock_for_fork` in the parent.
pub(crate) unsafe fn reset_after_fork_in_child() {
    // SAFETY: lock_for_fork took both locks on the thread that is now the
    // child's only one. The child's pools start unwatched (their files are
    // checked at their next checkout), so the list starts empty; its
    // entries are forgotten, not dropped, like the rest of the parent's state.
    unsafe {
        std::mem::forget(std::mem::take(&mut *FILE_WATCHED.data_ptr()));
        FILE_WATCHED.reset_after_fork_in_child();
        TICK_WATCHED.reset_after_fork_in_child();
    }
}

/// In a forked child the monitor thread does not exist.
pub(crate) fn forget_thread_after_fork() {
    RUNNING.store(false, Ordering::Release);
}
