//! `sqlpool_stmt`: a prepared statement on a checked-out connection. Used by
//! the connection's holder; stale after finalize or checkin.

use super::conn::{ConnEntry, CONNECTIONS};
use super::error::{call, value, SQLPOOL_DONE, SQLPOOL_NULL, SQLPOOL_OK, SQLPOOL_ROW};
use super::handle::{Exclusive, HandleTable};
use super::{address, c_blob, c_str, c_text, Handle};
use crate::error::{Error, Result};
use crate::{Connection, Step, StmtId};
use std::ffi::{c_char, c_int, c_void};

/// A prepared statement (sqlpool_prepare()). Follows SQLite's conventions:
/// bind indexes are 1-based, column indexes 0-based. Valid until
/// sqlpool_finalize() or its connection's checkin, whichever comes first.
pub struct sqlpool_stmt {
    _private: [u8; 0],
}

/// A statement handle's object; its tag is the handle of the connection it
/// was prepared on.
pub(crate) struct StmtEntry {
    pub(crate) id: StmtId,
}

pub(crate) static STATEMENTS: HandleTable<StmtEntry> = HandleTable::with_thread_cache("statement", 1);

impl Handle for sqlpool_stmt {
    type Object = StmtEntry;
    const NAME: &'static str = "statement";
    fn table() -> &'static HandleTable<StmtEntry> {
        &STATEMENTS
    }
}

/// A statement call's hold: its connection, taken for this thread alone
/// (which also catches two threads using one connection at once). The
/// statement itself needs no lock of its own: only a thread holding its
/// connection releases it.
pub(crate) struct Held {
    pub(crate) conn: Exclusive<'static, ConnEntry>,
    pub(crate) id: StmtId,
    handle: u64,
}

pub(crate) fn hold(stmt: *const sqlpool_stmt) -> Result<Held> {
    let handle = address(stmt)?;
    let conn_handle = STATEMENTS.tag(handle)?;
    let conn = CONNECTIONS
        .lock_exclusive(conn_handle)
        .map_err(|e| Error::misuse(format!("statement's connection: {}", e.message())))?;
    // SAFETY: statements are released by finalize, which holds their
    // connection, and by checkin once the connection's handle is retired; we
    // hold the connection, so the statement stays as it is meanwhile.
    let id = unsafe { STATEMENTS.get_unlocked(handle) }?.id;
    Ok(Held { conn, id, handle })
}

/// Runs `f` with the statement's connection and id; a panic inside poisons
/// the pool (for calls that change the connection's state: step, reset).
pub(crate) fn with<R>(stmt: *const sqlpool_stmt, f: impl FnOnce(&mut Connection, StmtId) -> Result<R>) -> Result<R> {
    let mut held = hold(stmt)?;
    let id = held.id;
    held.conn.guarded(|entry| f(&mut entry.conn, id))
}

/// As `with`, for binds and column reads, which touch only the statement:
/// a panic there cannot leave the pool's state broken.
fn with_statement<R>(stmt: *const sqlpool_stmt, f: impl FnOnce(&mut Connection, StmtId) -> Result<R>) -> Result<R> {
    let mut held = hold(stmt)?;
    let id = held.id;
    f(&mut held.conn.conn, id)
}

fn bind(stmt: *mut sqlpool_stmt, f: impl FnOnce(&mut crate::Statement) -> Result<()>) -> c_int {
    call(|| {
        with_statement(stmt, |conn, id| f(conn.statement(id)?))?;
        Ok(SQLPOOL_OK)
    })
}

/// Binds a 64-bit integer to parameter `idx` (1-based). Out of range is
/// SQLPOOL_SQLITE with extended code 25 (SQLITE_RANGE); binding while the
/// statement is mid-step (after ROW, before reset) is SQLPOOL_MISUSE.
#[no_mangle]
pub extern "C" fn sqlpool_bind_int64(stmt: *mut sqlpool_stmt, idx: c_int, v: i64) -> c_int {
    bind(stmt, |s| s.bind_int64(idx, v))
}

/// Binds a double to parameter `idx` (1-based).
#[no_mangle]
pub extern "C" fn sqlpool_bind_double(stmt: *mut sqlpool_stmt, idx: c_int, v: f64) -> c_int {
    bind(stmt, |s| s.bind_double(idx, v))
}

/// Binds UTF-8 text to parameter `idx` (1-based). `len` is the length in
/// bytes, or -1 when `s` is NUL-terminated. The text is copied. NULL `s`,
/// `len` below -1, or invalid UTF-8 is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `s` points to `len` readable bytes (a NUL-terminated string when `len` is
/// -1), borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_bind_text(stmt: *mut sqlpool_stmt, idx: c_int, s: *const c_char, len: i64) -> c_int {
    call(|| {
        // SAFETY: the caller passes len readable bytes (a NUL-terminated string for -1).
        let text = unsafe { c_text(s, len, "text") }?;
        with(stmt, |conn, id| conn.statement(id)?.bind_text(idx, text))?;
        Ok(SQLPOOL_OK)
    })
}

/// Binds `len` bytes at `p` as a BLOB to parameter `idx` (1-based); copied.
/// `len` 0 binds an empty BLOB (p may then be NULL). NULL `p` with `len` > 0,
/// or `len` < 0, is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `p` points to `len` readable bytes, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_bind_blob(stmt: *mut sqlpool_stmt, idx: c_int, p: *const c_void, len: i64) -> c_int {
    call(|| {
        // SAFETY: the caller passes len readable bytes at p.
        let bytes = unsafe { c_blob(p, len, "blob") }?;
        with(stmt, |conn, id| conn.statement(id)?.bind_blob(idx, bytes))?;
        Ok(SQLPOOL_OK)
    })
}

/// Binds SQL NULL to parameter `idx` (1-based).
#[no_mangle]
pub extern "C" fn sqlpool_bind_null(stmt: *mut sqlpool_stmt, idx: c_int) -> c_int {
    bind(stmt, |s| s.bind_null(idx))
}

/// The number of parameters of the statement (0 on error).
#[no_mangle]
pub extern "C" fn sqlpool_bind_parameter_count(stmt: *const sqlpool_stmt) -> c_int {
    value(0, || {
        with(stmt, |conn, id| Ok(conn.statement_ref(id)?.parameter_count()))
    })
}

/// The 1-based index of the named parameter (":name", "@name", "$name"
/// with its prefix), 0 if there is none or on error.
///
/// # Safety
/// `name` is a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_bind_parameter_index(stmt: *const sqlpool_stmt, name: *const c_char) -> c_int {
    value(0, || {
        // SAFETY: the caller passes a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        let name = std::ffi::CString::new(name).map_err(|_| Error::invalid("name contains a NUL"))?;
        with(stmt, |conn, id| {
            Ok(conn.statement_ref(id)?.parameter_index(&name).unwrap_or(0))
        })
    })
}

/// Runs the statement to its next row: SQLPOOL_ROW when a row is ready,
/// SQLPOOL_DONE when finished, or an error code (the statement is then reset
/// and may be stepped again).
#[no_mangle]
pub extern "C" fn sqlpool_step(stmt: *mut sqlpool_stmt) -> c_int {
    call(|| {
        Ok(match with(stmt, |conn, id| conn.step(id))? {
            Step::Row => SQLPOOL_ROW,
            Step::Done => SQLPOOL_DONE,
        })
    })
}

/// Resets the statement to run again; bindings are kept.
#[no_mangle]
pub extern "C" fn sqlpool_reset(stmt: *mut sqlpool_stmt) -> c_int {
    call(|| {
        with(stmt, |conn, id| conn.reset(id))?;
        Ok(SQLPOOL_OK)
    })
}

/// Releases the statement handle and returns the compiled statement to the
/// connection's cache for reuse. NULL is a no-op (SQLPOOL_OK); a stale
/// handle (finalized twice, or after checkin) is SQLPOOL_MISUSE.
#[no_mangle]
pub extern "C" fn sqlpool_finalize(stmt: *mut sqlpool_stmt) -> c_int {
    call(|| {
        if stmt.is_null() {
            return Ok(SQLPOOL_OK);
        }
        let mut held = hold(stmt)?;
        let (handle, id) = (held.handle, held.id);
        held.conn.guarded(|entry| {
            entry.conn.ffi_statements.retain(|h| *h != handle);
            entry.conn.finalize(id)
        })?;
        // No other thread can be using it: they would hold the connection.
        STATEMENTS.take(handle)?;
        Ok(SQLPOOL_OK)
    })
}

/// Runs a column accessor; on a NULL or stale statement, or an index out of
/// range, returns `default` and sets the last error to SQLPOOL_MISUSE. The
/// statement is lent mutably: text and blob may convert the column in place.
fn column<R>(stmt: *const sqlpool_stmt, default: R, f: impl FnOnce(&mut crate::Statement) -> Result<R>) -> R {
    value(default, || with_statement(stmt, |conn, id| f(conn.statement(id)?)))
}

/// The number of columns the statement returns (0 for none, or on error).
#[no_mangle]
pub extern "C" fn sqlpool_column_count(stmt: *const sqlpool_stmt) -> c_int {
    column(stmt, 0, |s| Ok(s.column_count()))
}

/// The type of column `i` (0-based) of the current row: SQLPOOL_INTEGER,
/// _FLOAT, _TEXT, _BLOB or _NULL (also on error).
#[no_mangle]
pub extern "C" fn sqlpool_column_type(stmt: *const sqlpool_stmt, i: c_int) -> c_int {
    column(stmt, SQLPOOL_NULL, |s| s.column_type(i))
}

/// The name of column `i` (0-based); NULL on error. Owned by the
/// statement: valid until it is finalized, or re-prepared by a step after a
/// schema change (SQLite's rule), or the connection is checked in.
#[no_mangle]
pub extern "C" fn sqlpool_column_name(stmt: *const sqlpool_stmt, i: c_int) -> *const c_char {
    column(stmt, std::ptr::null(), |s| Ok(s.column_name(i)?.as_ptr()))
}

/// The declared type of column `i` (0-based) as written in the table's
/// definition ("INTEGER", "VARCHAR(10)"; sqlite3_column_decltype), for a
/// column read straight from a table; NULL for an expression or a column
/// declared without a type, and on error (then SQLPOOL_MISUSE is the last
/// error). Needs no current row. Valid until the statement is finalized.
#[no_mangle]
pub extern "C" fn sqlpool_column_decltype(stmt: *const sqlpool_stmt, i: c_int) -> *const c_char {
    column(stmt, std::ptr::null(), |s| {
        Ok(s.column_decltype(i)?.map_or(std::ptr::null(), |t| t.as_ptr()))
    })
}

/// Column `i` of the current row as a 64-bit integer (0 on error).
#[no_mangle]
pub extern "C" fn sqlpool_column_int64(stmt: *const sqlpool_stmt, i: c_int) -> i64 {
    column(stmt, 0, |s| s.column_int64(i))
}

/// Column `i` of the current row as a double (0.0 on error).
#[no_mangle]
pub extern "C" fn sqlpool_column_double(stmt: *const sqlpool_stmt, i: c_int) -> f64 {
    column(stmt, 0.0, |s| s.column_double(i))
}

/// Column `i` of the current row as NUL-terminated UTF-8 text; NULL for SQL
/// NULL and on error. Owned by the statement: valid until the next step,
/// reset or finalize, or the next sqlpool_column_text() or _blob() on the
/// same column, which may convert the value in place (SQLite's rule: copy
/// the bytes before asking for the column in another form).
#[no_mangle]
pub extern "C" fn sqlpool_column_text(stmt: *const sqlpool_stmt, i: c_int) -> *const c_char {
    column(stmt, std::ptr::null(), |s| {
        Ok(s.column_text(i)?.map_or(std::ptr::null(), |t| t.as_ptr().cast()))
    })
}

/// Column `i` of the current row as bytes (length: sqlpool_column_bytes());
/// NULL for SQL NULL, an empty BLOB, and on error. Owned by the statement:
/// valid until the next step, reset or finalize, or the next
/// sqlpool_column_text() on the same column, which may convert the value in
/// place (SQLite's rule: copy the bytes before asking for another form).
#[no_mangle]
pub extern "C" fn sqlpool_column_blob(stmt: *const sqlpool_stmt, i: c_int) -> *const c_void {
    column(stmt, std::ptr::null(), |s| {
        Ok(s.column_blob(i)?.map_or(std::ptr::null(), |b| b.as_ptr().cast()))
    })
}

/// The size in bytes of column `i` of the current row as text or BLOB (0 on
/// error). Call it after sqlpool_column_text() or _blob(), as in SQLite.
#[no_mangle]
pub extern "C" fn sqlpool_column_bytes(stmt: *const sqlpool_stmt, i: c_int) -> i64 {
    column(stmt, 0, |s| s.column_bytes(i))
}
