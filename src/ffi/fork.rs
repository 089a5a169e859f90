//! fork() handling for the handle tables, called by the process's one set of
//! fork handlers (crate::fork). In the child, every connection and statement
//! handle from before the fork is stale (SQLPOOL_MISUSE) and its object is
//! abandoned. Pool and options handles stay valid, except one that another
//! thread was changing or releasing at the fork (stale there).

use super::{conn::CONNECTIONS, options::OPTIONS, pool::POOLS, stmt::STATEMENTS};

/// Prepare handler's part: every table's free-list lock (leaves: nothing is
/// taken while one is held).
pub(crate) fn lock_tables_for_fork() {
    OPTIONS.lock_free_list_for_fork();
    POOLS.lock_free_list_for_fork();
    CONNECTIONS.lock_free_list_for_fork();
    STATEMENTS.lock_free_list_for_fork();
}

/// # Safety
/// Only after `lock_tables_for_fork` on this thread.
pub(crate) unsafe fn unlock_tables_in_parent() {
    // SAFETY: lock_tables_for_fork took these locks on this thread.
    unsafe {
        STATEMENTS.unlock_free_list_after_fork_in_parent();
        CONNECTIONS.unlock_free_list_after_fork_in_parent();
        POOLS.unlock_free_list_after_fork_in_parent();
        OPTIONS.unlock_free_list_after_fork_in_parent();
    }
}

/// # Safety
/// Only in a forked child, after `lock_tables_for_fork` in the parent.
pub(crate) unsafe fn reset_tables_in_child() {
    // SAFETY: in the child, after lock_tables_for_fork.
    unsafe {
        STATEMENTS.abandon_all_after_fork_in_child();
        CONNECTIONS.abandon_all_after_fork_in_child();
        POOLS.release_parent_users_after_fork_in_child();
        OPTIONS.release_parent_users_after_fork_in_child();
    }
}
