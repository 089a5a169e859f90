//! fork() safety. A child can go on only if, across fork(), no other thread
//! holds a lock it will need: every lock of the library, SQLite's static
//! mutexes (measured: without them about a third of children hung), and the
//! unix VFS's per-file mutexes. One set of handlers, registered once, takes
//! them all in the prepare handler in one fixed order (the order in which
//! normal code nests them, outermost first):
//!
//! 0. no connection the VFS guard does not cover (cache=shared, a URI's own
//!    vfs=) inside SQLite (call_gate; its lock also orders two threads
//!    forking at once);
//! 1. the shared registry, then its budget (crate::shared);
//! 2. the live-pool list, then each pool's locks (crate::pool), the tags of
//!    its leak-detection holdings included;
//! 3. the C API's handle tables (crate::ffi::fork), leaves;
//! 4. the VFS: no lock transition in progress (crate::vfs);
//! 5. SQLite's static mutexes.
//!
//! Nothing else waits for other threads' statements: a thread inside SQLite
//! holds none of these except briefly (5) or inside a marked VFS method (4).
//! The parent handler releases everything; the child handler makes every
//! lock free and abandons the parent's connections.

mod call_gate;

pub(crate) use call_gate::{needs_call_gate, new_call_flag, InSqlite, SqliteCall};

use crate::registry::LIVE_POOLS;
use crate::sync::ForkMutex;
use crate::{monitor, pool::PoolShared, vfs};
use rusqlite::ffi;
use crate::prim::Ordering::{Acquire, Release};
use crate::prim::{thread, Arc, AtomicBool, AtomicU64, Weak};

/// SQLite's static mutexes, outermost first: SQLite takes OPEN then MAIN,
/// VFS1 or LRU then MEM, so taking them in this order cannot deadlock with
/// a thread inside SQLite. PRNG nests MAIN only on its first use, which
/// `install` forces before any handler runs.
const SQLITE_STATIC_MUTEXES: [i32; 12] = [
    ffi::SQLITE_MUTEX_STATIC_OPEN,
    ffi::SQLITE_MUTEX_STATIC_MAIN,
    ffi::SQLITE_MUTEX_STATIC_VFS1,
    ffi::SQLITE_MUTEX_STATIC_VFS2,
    ffi::SQLITE_MUTEX_STATIC_VFS3,
    ffi::SQLITE_MUTEX_STATIC_APP1,
    ffi::SQLITE_MUTEX_STATIC_APP2,
    ffi::SQLITE_MUTEX_STATIC_APP3,
    ffi::SQLITE_MUTEX_STATIC_LRU,
    ffi::SQLITE_MUTEX_STATIC_PMEM,
    ffi::SQLITE_MUTEX_STATIC_PRNG,
    ffi::SQLITE_MUTEX_STATIC_MEM,
];

/// Pools whose locks the prepare handler took, kept alive until released.
static HELD: ForkMutex<Vec<Arc<PoolShared>>> = ForkMutex::new(Vec::new());

/// A one-time initialization that a forked child can finish. Not a `Once`:
/// a `Once` running in another thread at fork() stays "running" for ever in
/// the child. The state word holds the running process's pid + 1, which tells
/// a child that the runner is a thread of its parent, absent here: the child
/// runs `f` again itself (so `f` must tolerate being cut short and rerun).
pub(crate) struct OnceInProcess(AtomicU64);

const NOT_RUN: u64 = 0;
const DONE: u64 = u64::MAX;

impl OnceInProcess {
    pub(crate) const fn new() -> Self {
        OnceInProcess(AtomicU64::new(NOT_RUN))
    }

    pub(crate) fn call_once(&self, f: impl FnOnce()) {
        if self.0.load(Acquire) != DONE {
            self.call_once_slow(f);
        }
    }

    #[cold]
    fn call_once_slow(&self, f: impl FnOnce()) {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() } as u64 + 1;
        let mut expected = NOT_RUN;
        loop {
            match self.0.compare_exchange(expected, me, Acquire, Acquire) {
                Ok(_) => {
                    f();
                    self.0.store(DONE, Release);
                    return;
                }
                Err(DONE) => return,
                Err(runner) if runner == me => {
                    // Another thread of this process is running it.
                    thread::yield_now();
                    expected = NOT_RUN;
                }
                // Begun by a thread of our parent: take it over.
                Err(parent) => expected = parent,
            }
        }
    }
}

static INSTALL: OnceInProcess = OnceInProcess::new();
/// Set by the prepare handler: the handlers are registered (a child that
/// takes over an install must not register them twice).
static HANDLERS_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Set while a fork() is being prepared: checkins end their read snapshots
/// instead of letting them linger. A child would otherwise inherit SQLite's
/// record of a shared lock its kernel never gave it (fcntl locks are not
/// inherited), and could never write that file.
static LINGER_SUSPENDED: AtomicBool = AtomicBool::new(false);

/// True while a fork() is being prepared (see LINGER_SUSPENDED).
pub(crate) fn linger_suspended() -> bool {
    LINGER_SUSPENDED.load(Acquire)
}

/// Ends the read snapshots idle connections carry, before prepare takes any
/// lock (it runs SQLite). A connection checked out meanwhile ends its own at
/// checkin; one held across the fork is the holder's, as any statement
/// running at that moment.
fn end_lingering_snapshots() {
    LINGER_SUSPENDED.store(true, Release);
    let pools: Vec<Arc<PoolShared>> = LIVE_POOLS.lock().iter().filter_map(Weak::upgrade).collect();
    for pool in pools {
        pool.end_lingering_snapshots(true);
    }
}

/// Prepares the process for fork() once: initializes everything that would
/// otherwise be initialized lazily under a lock (SQLite, its PRNG, the
/// monitor's clock), registers the "sqlpool-unix" VFS, then the handlers.
/// Every pool operation calls it first; after the first, one atomic load.
pub(crate) fn install_handlers() {
    INSTALL.call_once(install);
}

fn install() {
    // SAFETY: sqlite3_initialize is idempotent and thread-safe;
    // sqlite3_randomness writes 8 bytes into buf; the VFS is registered
    // after SQLite is initialized.
    unsafe {
        ffi::sqlite3_initialize();
        let mut buf = [0u8; 8];
        ffi::sqlite3_randomness(buf.len() as i32, buf.as_mut_ptr().cast());
        vfs::register();
    }
    monitor::refresh_clock(); // initializes its epoch (a OnceLock)
    if !HANDLERS_REGISTERED.load(Acquire) {
        // SAFETY: the handlers are extern "C" functions that live for the
        // whole process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        debug_assert_eq!(rc, 0, "pthread_atfork failed");
    }
}

fn sqlite_mutex(id: i32) -> *mut ffi::sqlite3_mutex {
    // SAFETY: static mutexes always exist once SQLite is initialized (done in
    // install); the returned pointer is never freed.
    unsafe { ffi::sqlite3_mutex_alloc(id) }
}

extern "C" fn prepare() {
    HANDLERS_REGISTERED.store(true, Release);
    end_lingering_snapshots();
    call_gate::wait_for_calls();
    crate::shared::lock_for_fork();
    LIVE_POOLS.lock_for_fork();
    monitor::lock_for_fork();
    // SAFETY: the registry lock is held (taken just above), so the list
    // cannot change while it is read.
    let pools: Vec<Arc<PoolShared>> = unsafe { &*LIVE_POOLS.data_ptr() }
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for pool in &pools {
        pool.lock_for_fork();
    }
    HELD.lock_for_fork();
    // SAFETY: HELD's lock is held (taken just above) and never by a guard.
    unsafe { *HELD.data_ptr() = pools };
    crate::ffi::fork::lock_tables_for_fork();
    vfs::drain_for_fork();
    for id in SQLITE_STATIC_MUTEXES {
        let m = sqlite_mutex(id);
        if !m.is_null() {
            // SAFETY: m is a static SQLite mutex; it is left in parent/child.
            unsafe { ffi::sqlite3_mutex_enter(m) };
        }
    }
}

/// Releases everything `prepare` took, in reverse order; in the child, first
/// abandons the parent's connections and makes every lock free.
fn release(in_child: bool) {
    for id in SQLITE_STATIC_MUTEXES.iter().rev() {
        let m = sqlite_mutex(*id);
        if !m.is_null() {
            // SAFETY: prepare entered this mutex on this thread.
            unsafe { ffi::sqlite3_mutex_leave(m) };
        }
    }
    vfs::end_fork();
    // SAFETY: prepare holds HELD's lock; nothing else reaches it.
    let pools = std::mem::take(unsafe { &mut *HELD.data_ptr() });
    // SAFETY: every lock below was taken by prepare on this thread; in the
    // child this thread is the only one.
    unsafe {
        if in_child {
            crate::ffi::fork::reset_tables_in_child();
            for pool in &pools {
                pool.reset_after_fork_in_child();
            }
            HELD.reset_after_fork_in_child();
            monitor::reset_after_fork_in_child();
            LIVE_POOLS.reset_after_fork_in_child();
            crate::shared::reset_after_fork_in_child();
        } else {
            crate::ffi::fork::unlock_tables_in_parent();
            for pool in &pools {
                pool.unlock_after_fork_in_parent();
            }
            HELD.unlock_after_fork_in_parent();
            monitor::unlock_after_fork_in_parent();
            LIVE_POOLS.unlock_after_fork_in_parent();
            crate::shared::unlock_after_fork_in_parent();
        }
    }
    call_gate::release_calls(in_child);
    LINGER_SUSPENDED.store(false, Release);
    if in_child {
        monitor::forget_thread_after_fork();
        // The parent's pools stay referenced by the parent's (absent)
        // threads' handles; dropping our references is safe either way.
    }
    drop(pools);
}

extern "C" fn parent() {
    release(false);
}

extern "C" fn child() {
    release(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Instant;

    /// A forked child finishes an initialization that a parent thread was
    /// running at the fork (a std Once would make it wait for ever).
    #[test]
    fn a_child_runs_an_initialization_cut_short_by_fork() {
        static INIT: OnceInProcess = OnceInProcess::new();
        static RAN_IN_CHILD: AtomicBool = AtomicBool::new(false);
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let runner = std::thread::spawn(move || {
            INIT.call_once(|| {
                entered_tx.send(()).unwrap();
                finish_rx.recv().unwrap();
            })
        });
        entered_rx.recv().unwrap();
        // SAFETY: the child only runs call_once, then _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            INIT.call_once(|| RAN_IN_CHILD.store(true, Release));
            let code = if RAN_IN_CHILD.load(Acquire) { 0 } else { 1 };
            // SAFETY: leaves the child without the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let started = Instant::now();
        let mut status = 0;
        let exited = loop {
            // SAFETY: our child; status is a local.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                break true;
            }
            if started.elapsed() > std::time::Duration::from_secs(20) {
                // SAFETY: killing and reaping our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        finish_tx.send(()).unwrap();
        runner.join().unwrap();
        assert!(exited, "the child waited for the parent's initialization");
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{status:#x}");
        let mut again = false;
        INIT.call_once(|| again = true);
        assert!(!again, "done once in this process");
    }

    /// Prepare and parent handlers back to back, timed: the library's part of
    /// what fork() costs the forking thread.
    #[test]
    #[ignore = "measurement: cargo test --release --lib fork_prepare_time -- --ignored --nocapture"]
    fn fork_prepare_time_with_10000_pools() {
        let dir = crate::test_support::scratch_dir("fork-prepare");
        let pools: Vec<crate::Pool> = (0..10_000)
            .map(|i| {
                let path = dir.join(format!("{i}.db"));
                std::fs::File::create(&path).unwrap(); // an empty file is an empty database
                crate::Pool::open(path.to_str().unwrap(), crate::Options::default()).unwrap()
            })
            .collect();
        let mut samples = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            prepare();
            let prepared = started.elapsed();
            parent();
            samples.push((prepared, started.elapsed()));
        }
        let median = |mut v: Vec<std::time::Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let p = median(samples.iter().map(|s| s.0).collect());
        let total = median(samples.iter().map(|s| s.1).collect());
        let (mut forks, mut in_child) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let mut pipe = [0; 2];
            // SAFETY: pipe writes two fds into the array.
            assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
            let started = Instant::now();
            // SAFETY: the child only writes to the pipe and calls _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let ns = started.elapsed().as_nanos() as u64;
                // SAFETY: writes 8 bytes from a local, then leaves at once.
                unsafe {
                    libc::write(pipe[1], (&ns as *const u64).cast(), 8);
                    libc::_exit(0);
                }
            }
            forks.push(started.elapsed());
            let mut ns = 0u64;
            // SAFETY: reads 8 bytes into a local; closes our fds; reaps our child.
            unsafe {
                libc::read(pipe[0], (&mut ns as *mut u64).cast(), 8);
                libc::close(pipe[0]);
                libc::close(pipe[1]);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            in_child.push(std::time::Duration::from_nanos(ns));
        }
        forks.sort();
        in_child.sort();
        println!(
            "10,000 pools: prepare {p:?}, prepare+parent {total:?}; whole fork() until it returns in the parent {:?}, in the child {:?} (medians of 20)",
            forks[forks.len() / 2],
            in_child[in_child.len() / 2]
        );
        drop(pools);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
