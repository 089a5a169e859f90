//! fork() handling for the handle tables: in the child, every connection and
//! statement handle from before the fork is stale (SQLPOOL_MISUSE) and its
//! object is abandoned. Pool and options handles stay valid.

use super::{conn::CONNECTIONS, stmt::STATEMENTS};
use std::sync::Once;

pub(crate) fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers are extern "C" functions that live for the
        // whole process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        debug_assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

extern "C" fn prepare() {
    CONNECTIONS.lock_free_list_for_fork();
    STATEMENTS.lock_free_list_for_fork();
}

extern "C" fn parent() {
    // SAFETY: prepare took both locks on this thread.
    unsafe {
        STATEMENTS.unlock_free_list_after_fork_in_parent();
        CONNECTIONS.unlock_free_list_after_fork_in_parent();
    }
}

extern "C" fn child() {
    // SAFETY: in the child, after prepare took both locks.
    unsafe {
        STATEMENTS.abandon_all_after_fork_in_child();
        CONNECTIONS.abandon_all_after_fork_in_child();
    }
}
