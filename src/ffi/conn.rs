//! `sqlpool_conn`: one checked-out connection. Its holder only, one thread
//! at a time (it may move between threads).

use super::error::{call, SQLPOOL_OK};
use super::handle::HandleTable;
use super::stmt::{sqlpool_stmt, StmtEntry, STATEMENTS};
use super::{c_bytes, c_str, check_out, lock, new_tagged_handle, take, write_out, Handle};
use crate::PooledConnection;
use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// A connection checked out of a pool with sqlpool_checkout(). Used by its
/// holder only, one thread at a time; it may move between threads. Returned
/// with sqlpool_checkin(); stale after that.
pub struct sqlpool_conn {
    _private: [u8; 0],
}

/// The statement handles handed out on this checkout, released at checkin,
/// are listed in the connection (`Connection::ffi_statements`).
pub(crate) struct ConnEntry {
    pub(crate) conn: PooledConnection,
}

impl ConnEntry {
    #[inline]
    pub(crate) fn new(conn: PooledConnection) -> Self {
        ConnEntry { conn }
    }

    /// A new handle for statement `id` of this connection (`conn`), released
    /// at checkin; on failure the statement goes back to the cache.
    pub(crate) fn hand_out(&mut self, conn: *mut sqlpool_conn, id: crate::StmtId) -> crate::Result<*mut sqlpool_stmt> {
        let conn = conn as usize as u64;
        match new_tagged_handle::<sqlpool_stmt>(StmtEntry { id }, conn) {
            Ok(handle) => {
                self.conn.ffi_statements.push(handle as usize as u64);
                Ok(handle)
            }
            Err(e) => {
                let _ = self.conn.finalize(id);
                Err(e)
            }
        }
    }

    /// Runs `f` on the connection; a panic inside poisons its pool, whose
    /// state may be broken, before it reaches the boundary.
    pub(crate) fn guarded<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        poison_on_panic(self, |entry| entry.conn.pool(), f)
    }
}

/// Runs `f` on `target`; a panic inside poisons the pool `pool_of` names
/// (its state may be broken) before the panic goes on to the boundary.
pub(crate) fn poison_on_panic<T, R>(
    target: &mut T,
    pool_of: impl FnOnce(&T) -> crate::Pool,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    match catch_unwind(AssertUnwindSafe(|| f(target))) {
        Ok(r) => r,
        Err(payload) => {
            pool_of(target).poison();
            resume_unwind(payload)
        }
    }
}

pub(crate) static CONNECTIONS: HandleTable<ConnEntry> = HandleTable::with_thread_cache("connection", 0);

impl Handle for sqlpool_conn {
    type Object = ConnEntry;
    const NAME: &'static str = "connection";
    fn table() -> &'static HandleTable<ConnEntry> {
        &CONNECTIONS
    }
}

/// Returns the connection to its pool and releases the handle. The
/// connection is left clean: statements of this checkout are reset and their
/// handles released; an open transaction is rolled back. A NULL or stale
/// handle (checked in twice) is SQLPOOL_MISUSE; so is a connection in use by
/// another thread at that moment.
#[no_mangle]
pub extern "C" fn sqlpool_checkin(conn: *mut sqlpool_conn) -> c_int {
    call(|| {
        let ConnEntry { mut conn } = take(conn)?;
        if !conn.ffi_statements.is_empty() {
            release_statements(&mut conn.ffi_statements);
        }
        drop(conn);
        Ok(SQLPOOL_OK)
    })
}

/// Releases the statement handles of a checkout that is being checked in.
#[cold]
fn release_statements(handles: &mut Vec<u64>) {
    for statement in handles.drain(..) {
        if let Ok(stmt) = STATEMENTS.lock_exclusive_waiting(statement) {
            stmt.remove();
        }
    }
}

/// Interrupts the connection's running query (sqlite3_interrupt): it fails
/// with SQLPOOL_SQLITE and extended code 9 (SQLITE_INTERRUPT). Unlike every
/// other call on a connection, this one may come from any thread, while the
/// holder is inside a query; it does nothing when no query runs. A stale
/// handle is SQLPOOL_MISUSE.
#[no_mangle]
pub extern "C" fn sqlpool_conn_interrupt(conn: *mut sqlpool_conn) -> c_int {
    call(|| {
        super::run_action(conn)?;
        Ok(SQLPOOL_OK)
    })
}

/// Marks the connection to be closed, not reused, when it is checked in
/// (after an error the caller does not trust, say). It stays usable until
/// then.
#[no_mangle]
pub extern "C" fn sqlpool_conn_invalidate(conn: *mut sqlpool_conn) -> c_int {
    call(|| {
        lock(conn)?.conn.invalidate();
        Ok(SQLPOOL_OK)
    })
}

/// Runs every statement in `sql`; rows of a query are stepped through and
/// discarded. On a read-snapshot pool, reads join the checkout's snapshot.
///
/// # Safety
/// `sql` is a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_exec(conn: *mut sqlpool_conn, sql: *const c_char) -> c_int {
    call(|| {
        let mut held = lock(conn)?;
        if sql.is_null() {
            return Err(crate::Error::invalid("sql is NULL"));
        }
        // SAFETY: the caller passes a NUL-terminated string, borrowed for the call.
        let sql = crate::statement::TerminatedSql::new(unsafe { std::ffi::CStr::from_ptr(sql) })?;
        held.guarded(|entry| entry.conn.exec_terminated(sql))?;
        Ok(SQLPOOL_OK)
    })
}

/// Prepares the first statement of `sql` on the connection and writes its
/// handle to `*out`. The same SQL prepared again on the same pooled
/// connection, in this or a later checkout, reuses the compiled statement
/// (see statement_cache_hits). The statement is valid until
/// sqlpool_finalize() or the connection's checkin.
///
/// # Safety
/// `sql` is a NUL-terminated string borrowed for the call; `out` is NULL or
/// points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_prepare(
    conn: *mut sqlpool_conn,
    sql: *const c_char,
    out: *mut *mut sqlpool_stmt,
) -> c_int {
    call(|| {
        check_out(out, "out")?;
        let mut held = lock(conn)?;
        // SAFETY: the caller passes a NUL-terminated string.
        let sql = unsafe { c_bytes(sql, "sql") }?;
        let id = held.guarded(|entry| entry.conn.prepare_bytes(sql))?;
        let handle = held.hand_out(conn, id)?;
        // SAFETY: out was checked above.
        unsafe { write_out(out, handle) };
        Ok(SQLPOOL_OK)
    })
}

/// Names the connection's current holder in leak reports (a simulator step
/// id, a Python traceback): copied; cleared at checkin; NULL clears it now.
/// Kept only when the pool has a leak threshold
/// (sqlpool_options_set_leak_threshold_ms()). Invalid UTF-8 is
/// SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `tag` is NULL or a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_conn_set_tag(conn: *mut sqlpool_conn, tag: *const c_char) -> c_int {
    call(|| {
        let tag = if tag.is_null() {
            None
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            Some(unsafe { c_str(tag, "tag") }?)
        };
        lock(conn)?.conn.set_tag(tag);
        Ok(SQLPOOL_OK)
    })
}

/// Writes the number of rows changed by the last INSERT, UPDATE or DELETE
/// on this connection to `*out` (sqlite3_changes64). The count belongs to
/// the pooled connection: right after a checkout it may be a previous
/// holder's. NULL `out` is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `out` is NULL or points to a writable int64_t.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_conn_changes(conn: *mut sqlpool_conn, out: *mut i64) -> c_int {
    call(|| {
        check_out(out, "out")?;
        let changes = lock(conn)?.conn.changes();
        // SAFETY: out was checked above.
        unsafe { write_out(out, changes) };
        Ok(SQLPOOL_OK)
    })
}

/// Writes the rowid of the last successful INSERT on this connection to
/// `*out` (sqlite3_last_insert_rowid; 0 if there was none). Like
/// sqlpool_conn_changes(), it belongs to the pooled connection. NULL `out`
/// is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `out` is NULL or points to a writable int64_t.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_conn_last_insert_rowid(conn: *mut sqlpool_conn, out: *mut i64) -> c_int {
    call(|| {
        check_out(out, "out")?;
        let rowid = lock(conn)?.conn.last_insert_rowid();
        // SAFETY: out was checked above.
        unsafe { write_out(out, rowid) };
        Ok(SQLPOOL_OK)
    })
}

/// Writes whether the caller's own transaction is open (BEGIN ... not yet
/// COMMIT or ROLLBACK) to `*out`. The pool's read snapshot
/// (sqlpool_options_set_read_snapshot()) does not count: it is false with
/// only the snapshot open. False again after COMMIT, ROLLBACK and on every
/// new checkout. NULL `out` is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `out` is NULL or points to a writable bool.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_conn_in_transaction(conn: *mut sqlpool_conn, out: *mut bool) -> c_int {
    call(|| {
        check_out(out, "out")?;
        let open = lock(conn)?.conn.in_transaction();
        // SAFETY: out was checked above.
        unsafe { write_out(out, open) };
        Ok(SQLPOOL_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::SQLPOOL_INTERNAL;
    use crate::{ErrorKind, Options, Pool};

    #[test]
    fn a_panic_on_a_connection_poisons_its_pool() {
        let dir = crate::test_support::scratch_dir("poison");
        let path = dir.join("p.db");
        let mut opts = Options::default();
        opts.set_create(true);
        let pool = Pool::open(path.to_str().unwrap(), opts).unwrap();
        let mut entry = ConnEntry::new(pool.checkout().unwrap());
        let rc = call(|| entry.guarded(|_| panic!("inside a connection call")));
        assert_eq!(rc, SQLPOOL_INTERNAL);
        drop(entry);
        let err = pool.checkout().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.message().contains("refuses work"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
