//! A background thread that keeps a coarse clock and watches database files,
//! so that checkout reads neither the clock nor the file system: recycle
//! compares with the coarse clock and pre_ping with a file generation, each
//! one atomic load.

use crate::registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often the clock advances and the files are checked.
pub const TICK: Duration = Duration::from_millis(50);

/// The shared registry's idle sweep runs every this many ticks (1 s).
const SWEEP_EVERY_TICKS: u64 = 20;

static EPOCH: OnceLock<Instant> = OnceLock::new();
static COARSE_MS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since the library started, as of the last tick.
pub(crate) fn coarse_now_ms() -> u64 {
    COARSE_MS.load(Ordering::Relaxed)
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
    for pool in registry::live_pools() {
        pool.check_file();
        pool.check_leaks();
    }
    // Shared pools of files not used lately give back their idle
    // connections even when no one opens another shared pool.
    if tick % SWEEP_EVERY_TICKS == 0 {
        crate::shared::sweep();
    }
}

/// In a forked child the monitor thread does not exist.
pub(crate) fn forget_thread_after_fork() {
    RUNNING.store(false, Ordering::Release);
}
