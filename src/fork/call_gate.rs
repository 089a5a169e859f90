//! The whole-call gate, for the connections the VFS guard (crate::vfs) does
//! not cover: a shared cache (`cache=shared`: SQLite holds the shared btree's
//! mutex across whole calls, outside any VFS method) and a URI's own `vfs=`
//! (another VFS's mutexes). fork() waits until none of them is inside an
//! SQLite call; their new calls wait until the fork is done. Other
//! connections never pass through here.

use crate::sync::ForkMutex;
use crate::prim::thread;
use crate::prim::Ordering::{Acquire, Release, SeqCst};
use crate::prim::{Arc, AtomicBool, AtomicU32, Weak};

/// How deep its connection is inside SQLite calls (a gated connection
/// method may reset a statement, which is gated too).
pub(crate) struct InSqlite(AtomicU32);

static CALLS_PENDING: AtomicBool = AtomicBool::new(false);
static CALL_FLAGS: ForkMutex<Vec<Weak<InSqlite>>> = ForkMutex::new(Vec::new());

/// Whether a connection to `path` needs the gate: a URI (SQLite reads
/// "file:" in any case) with `cache=shared`, or naming a VFS not ours.
pub(crate) fn needs_call_gate(path: &str) -> bool {
    let is_uri = path.len() >= 5 && path.as_bytes()[..5].eq_ignore_ascii_case(b"file:");
    let Some((_, query)) = path.split_once('?').filter(|_| is_uri) else {
        return false;
    };
    let query = query.split('#').next().unwrap_or("");
    query.split('&').any(|param| match param.split_once('=') {
        Some(("cache", value)) => value == "shared",
        Some(("vfs", value)) => crate::vfs::NAME.to_bytes() != value.as_bytes(),
        _ => false,
    })
}

/// A new flag for one gated connection, registered for the prepare handler.
pub(crate) fn new_call_flag() -> Arc<InSqlite> {
    let flag = Arc::new(InSqlite(AtomicU32::new(0)));
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
            // SeqCst here and in wait_for_calls (Dekker): either the prepare
            // handler sees our count, or we see its CALLS_PENDING. A nested
            // call goes on: the handler is waiting for the outer one.
            let outer = flag.0.fetch_add(1, SeqCst);
            if outer > 0 || !CALLS_PENDING.load(SeqCst) {
                return SqliteCall { flag };
            }
            flag.0.fetch_sub(1, SeqCst);
            while CALLS_PENDING.load(Acquire) {
                thread::yield_now();
            }
        }
    }
}

impl Drop for SqliteCall {
    fn drop(&mut self) {
        // SAFETY: the caller of enter keeps the flag alive while we exist.
        unsafe { (*self.flag).0.fetch_sub(1, Release) };
    }
}

/// Prepare handler, first (before any other lock): waits until no gated
/// connection is inside SQLite. Two threads may fork at once: the lock
/// orders them, so CALLS_PENDING is raised only once it is held (and lowered
/// before it is released), never cleared by the other fork meanwhile.
pub(super) fn wait_for_calls() {
    CALL_FLAGS.lock_for_fork();
    CALLS_PENDING.store(true, SeqCst);
    // SAFETY: the lock is held (just taken) and never through a guard.
    for flag in unsafe { &*CALL_FLAGS.data_ptr() }.iter().filter_map(Weak::upgrade) {
        while flag.0.load(SeqCst) != 0 {
            thread::yield_now();
        }
    }
}

/// Parent and child handlers, last.
pub(super) fn release_calls(in_child: bool) {
    CALLS_PENDING.store(false, SeqCst);
    // SAFETY: wait_for_calls took the lock on this thread; in the child this
    // thread is the only one.
    unsafe {
        if in_child {
            CALL_FLAGS.reset_after_fork_in_child();
        } else {
            CALL_FLAGS.unlock_after_fork_in_parent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::needs_call_gate;

    #[test]
    fn only_shared_cache_and_foreign_vfs_uris_are_gated() {
        assert!(!needs_call_gate("/tmp/a.db"));
        assert!(!needs_call_gate("a.db?cache=shared")); // a file name, not a URI
        assert!(!needs_call_gate("file:a.db?mode=ro&immutable=1"));
        assert!(!needs_call_gate("file:a.db?vfs=sqlpool-unix"));
        assert!(needs_call_gate("file:m?mode=memory&cache=shared"));
        assert!(needs_call_gate("FILE:a.db?cache=shared#frag"));
        assert!(needs_call_gate("file:a.db?vfs=unix-dotfile"));
        assert!(needs_call_gate("file:/x?vfs=memdb"));
    }
}
