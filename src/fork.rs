//! fork() safety. A child can go on only if, across fork(), no other thread
//! holds a pool's lock or one of SQLite's static mutexes (measured: without
//! the SQLite part about a third of children hung). The prepare handler takes
//! them all; the parent and child handlers release them; the child abandons
//! the parent's connections.

use crate::registry::LIVE_POOLS;
use crate::sync::ForkMutex;
use crate::{monitor, pool::PoolShared};
use rusqlite::ffi;
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release, Ordering::SeqCst};
use std::sync::{Arc, Once, Weak};

/// SQLite's static mutexes, outermost first: SQLite takes OPEN then MAIN,
/// VFS1 or LRU then MEM, so taking them in this order cannot deadlock with
/// a thread inside SQLite. PRNG nests MAIN only on its first use, which
/// `install_handlers` forces before any handler runs.
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

/// Registers the fork handlers once per process.
pub(crate) fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_initialize is idempotent and thread-safe;
        // sqlite3_randomness writes 8 bytes into buf.
        unsafe {
            ffi::sqlite3_initialize();
            let mut buf = [0u8; 8];
            ffi::sqlite3_randomness(buf.len() as i32, buf.as_mut_ptr().cast());
        }
        // SAFETY: the handlers are extern "C" functions that live for the
        // whole process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        debug_assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

fn sqlite_mutex(id: i32) -> *mut ffi::sqlite3_mutex {
    // SAFETY: static mutexes always exist once SQLite is initialized (done in
    // install_handlers); the returned pointer is never freed.
    unsafe { ffi::sqlite3_mutex_alloc(id) }
}

extern "C" fn prepare() {
    wait_for_sqlite_calls();
    LIVE_POOLS.lock_for_fork();
    // SAFETY: the registry lock is held (taken just above), so the list
    // cannot change while it is read.
    let pools: Vec<Arc<PoolShared>> = unsafe { &*LIVE_POOLS.data_ptr() }
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect();
    for pool in &pools {
        pool.lock_for_fork();
    }
    HELD.lock_for_fork();
    // SAFETY: HELD's lock is held (taken just above) and never by a guard.
    unsafe { *HELD.data_ptr() = pools };
    for id in SQLITE_STATIC_MUTEXES {
        let m = sqlite_mutex(id);
        if !m.is_null() {
            // SAFETY: m is a static SQLite mutex; it is left in parent/child.
            unsafe { ffi::sqlite3_mutex_enter(m) };
        }
    }
}

/// Releases everything `prepare` took; in the child, first abandons the
/// parent's connections and makes every lock free.
fn release(in_child: bool) {
    for id in SQLITE_STATIC_MUTEXES.iter().rev() {
        let m = sqlite_mutex(*id);
        if !m.is_null() {
            // SAFETY: prepare entered this mutex on this thread.
            unsafe { ffi::sqlite3_mutex_leave(m) };
        }
    }
    // SAFETY: prepare holds HELD's lock; nothing else reaches it.
    let pools = std::mem::take(unsafe { &mut *HELD.data_ptr() });
    // SAFETY: every lock below was taken by prepare on this thread; in the
    // child this thread is the only one.
    unsafe {
        for pool in &pools {
            if in_child {
                pool.reset_after_fork_in_child();
            } else {
                pool.unlock_after_fork_in_parent();
            }
        }
        if in_child {
            HELD.reset_after_fork_in_child();
            LIVE_POOLS.reset_after_fork_in_child();
        } else {
            HELD.unlock_after_fork_in_parent();
            LIVE_POOLS.unlock_after_fork_in_parent();
        }
    }
    release_sqlite_calls(in_child);
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

/// Set while a pool connection is inside an SQLite call that may take a
/// per-file lock mutex. SQLite keeps one such mutex per open file (besides
/// its static ones); a thread holding it at fork() leaves it locked forever
/// in the child, whose next open of that file hangs (seen: about one fork in
/// fifty under load). So `prepare` raises FORK_PENDING and waits until no
/// connection is inside such a call; new calls wait until the fork is done.
pub(crate) struct InSqlite(AtomicBool);

static FORK_PENDING: AtomicBool = AtomicBool::new(false);
static CALL_FLAGS: ForkMutex<Vec<Weak<InSqlite>>> = ForkMutex::new(Vec::new());

/// A new flag for one connection, registered for the prepare handler.
pub(crate) fn new_call_flag() -> Arc<InSqlite> {
    let flag = Arc::new(InSqlite(AtomicBool::new(false)));
    let mut flags = CALL_FLAGS.lock();
    flags.retain(|f| f.strong_count() > 0);
    flags.push(Arc::downgrade(&flag));
    flag
}

/// Marks its connection as inside SQLite until dropped.
pub(crate) struct SqliteCall {
    flag: *const InSqlite,
}

impl SqliteCall {
    /// # Safety
    /// `flag` must outlive the returned guard (the connection owns it and
    /// drops the guard before returning).
    pub(crate) unsafe fn enter(flag: &InSqlite) -> SqliteCall {
        loop {
            // SeqCst on both sides (here and in wait_for_sqlite_calls): either
            // prepare sees our flag, or we see its FORK_PENDING.
            flag.0.store(true, SeqCst);
            if !FORK_PENDING.load(SeqCst) {
                return SqliteCall { flag };
            }
            flag.0.store(false, SeqCst);
            while FORK_PENDING.load(Acquire) {
                std::thread::yield_now();
            }
        }
    }
}

impl Drop for SqliteCall {
    fn drop(&mut self) {
        // SAFETY: the caller of enter keeps the flag alive while we exist.
        unsafe { (*self.flag).0.store(false, Release) };
    }
}

fn wait_for_sqlite_calls() {
    FORK_PENDING.store(true, SeqCst);
    CALL_FLAGS.lock_for_fork();
    // SAFETY: the lock is held (just taken) and never through a guard.
    for flag in unsafe { &*CALL_FLAGS.data_ptr() }.iter().filter_map(Weak::upgrade) {
        while flag.0.load(SeqCst) {
            std::thread::yield_now();
        }
    }
}

fn release_sqlite_calls(in_child: bool) {
    // SAFETY: wait_for_sqlite_calls took the lock on this thread; in the
    // child this thread is the only one.
    unsafe {
        if in_child {
            CALL_FLAGS.reset_after_fork_in_child();
        } else {
            CALL_FLAGS.unlock_after_fork_in_parent();
        }
    }
    FORK_PENDING.store(false, SeqCst);
}
