//! One prepared SQLite statement, with safe methods that mirror SQLite's C
//! API (1-based bind indexes, 0-based columns). Owned by the connection that
//! prepared it; it never outlives that connection.

use crate::error::{Error, Result};
use rusqlite::ffi;
use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

/// The kinds `column_type` reports (SQLite's values).
pub const COLUMN_INTEGER: i32 = ffi::SQLITE_INTEGER;
pub const COLUMN_FLOAT: i32 = ffi::SQLITE_FLOAT;
pub const COLUMN_TEXT: i32 = ffi::SQLITE_TEXT;
pub const COLUMN_BLOB: i32 = ffi::SQLITE_BLOB;
pub const COLUMN_NULL: i32 = ffi::SQLITE_NULL;

/// What a step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Row,
    Done,
}

/// How a statement interacts with the per-checkout read snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StmtClass {
    /// Reads only: may run inside the snapshot.
    Read,
    /// Writes or DDL: the snapshot is ended before it runs.
    Write,
    /// BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/END: the user's own transaction.
    TransactionControl,
}

/// One value of a row (borrowed from the statement until its row changes)
/// or of a user function's argument (borrowed for the call).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Integer(i64),
    Float(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Null,
}

impl Value<'_> {
    /// SQLite's type code (SQLITE_INTEGER .. SQLITE_NULL, which the C API's
    /// SQLPOOL_INTEGER .. SQLPOOL_NULL equal).
    pub(crate) fn kind(&self) -> i32 {
        match self {
            Value::Integer(_) => ffi::SQLITE_INTEGER,
            Value::Float(_) => ffi::SQLITE_FLOAT,
            Value::Text(_) => ffi::SQLITE_TEXT,
            Value::Blob(_) => ffi::SQLITE_BLOB,
            Value::Null => ffi::SQLITE_NULL,
        }
    }
}

/// SQL text with a NUL byte right after it, so that SQLite can read it in
/// place instead of copying it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TerminatedSql<'a>(&'a str);

impl<'a> TerminatedSql<'a> {
    /// Checks that `sql` is UTF-8.
    pub(crate) fn new(sql: &'a CStr) -> Result<Self> {
        std::str::from_utf8(sql.to_bytes())
            .map(TerminatedSql)
            .map_err(|e| Error::invalid(format!("sql is not valid UTF-8 (at byte {})", e.valid_up_to())))
    }

    pub(crate) fn as_str(self) -> &'a str {
        self.0
    }

    /// The text from byte `at` on: still followed by the same NUL.
    pub(crate) fn rest(self, at: usize) -> Self {
        TerminatedSql(self.0.get(at..).unwrap_or(""))
    }
}

pub struct Statement {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
    sql: Box<str>,
    class: StmtClass,
    /// Stepped since the last reset: only then does a reset do anything.
    stepped: bool,
    /// Bound since the last clear_bindings.
    bound: bool,
    /// Its connection's fork gate, if it has one (crate::fork::call_gate):
    /// `reset` is public and may halt a running statement.
    call_gate: Option<crate::prim::Arc<crate::fork::InSqlite>>,
}

// SAFETY: a Statement is owned by one pooled connection, which has a single
// holder at a time; connections are opened in SQLite's multi-thread mode, in
// which a connection and its statements may move between threads as long as
// no two threads use them at once.
unsafe impl Send for Statement {}

impl Statement {
    /// Prepares the first statement of `sql` on `db` (SQLite copies `sql`
    /// once: it has no NUL after it); an error when `sql` holds no statement.
    /// The statement keeps all of `sql`, which the statement cache matches.
    pub(crate) fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Statement> {
        let len =
            c_int::try_from(sql.len()).map_err(|_| Error::invalid(format!("SQL is too long ({} bytes)", sql.len())))?;
        match Statement::compile(db, sql, len, sql)? {
            (Some(stmt), _) => Ok(stmt),
            (None, _) => Err(Error::invalid(format!(
                "prepare found no statement in SQL `{}` (empty or only a comment)",
                abbreviate(sql)
            ))),
        }
    }

    /// Prepares the first statement of a script, returning it (`None` when
    /// only white space or comments are left) and the byte offset of the
    /// rest. SQLite reads the script in place up to its NUL, and the
    /// statement keeps only its own text, so running a script statement by
    /// statement costs time linear in its length.
    pub(crate) fn prepare_next(
        db: NonNull<ffi::sqlite3>,
        sql: TerminatedSql<'_>,
    ) -> Result<(Option<Statement>, usize)> {
        Statement::compile(db, sql.as_str(), -1, "")
    }

    /// Compiles the first statement of `sql`, handing SQLite `len` (-1: up to
    /// the NUL after `sql`); the statement keeps `keep`, or its own text
    /// when `keep` is empty.
    fn compile(db: NonNull<ffi::sqlite3>, sql: &str, len: c_int, keep: &str) -> Result<(Option<Statement>, usize)> {
        let mut raw = std::ptr::null_mut();
        let mut tail: *const std::ffi::c_char = std::ptr::null();
        // SAFETY: db is a live connection owned by the caller; sql points to
        // len readable bytes, or (len -1) is followed by a NUL (TerminatedSql);
        // raw and tail are valid out-pointers.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut raw, &mut tail) };
        if rc != ffi::SQLITE_OK {
            return Err(db_error(db, &format!("prepare failed for SQL `{}`", abbreviate(sql))));
        }
        let consumed = if tail.is_null() {
            sql.len()
        } else {
            // SAFETY: SQLite sets tail to a position inside sql's buffer.
            ((unsafe { tail.offset_from(sql.as_ptr().cast()) }) as usize).min(sql.len())
        };
        let Some(raw) = NonNull::new(raw) else {
            return Ok((None, consumed));
        };
        // SQLite ends a statement on a token boundary, which is a char boundary.
        let text = sql.get(..consumed).unwrap_or(sql);
        // SAFETY: raw is the statement just prepared.
        let read_only = unsafe { ffi::sqlite3_stmt_readonly(raw.as_ptr()) } != 0;
        let class = if is_transaction_control(text) {
            StmtClass::TransactionControl
        } else if read_only {
            StmtClass::Read
        } else {
            StmtClass::Write
        };
        let stmt = Statement {
            raw,
            db,
            sql: if keep.is_empty() { text.into() } else { keep.into() },
            class,
            stepped: false,
            bound: false,
            call_gate: None,
        };
        Ok((Some(stmt), consumed))
    }

    /// The SQL, shared (the statement cache keys on it without copying).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub(crate) fn class(&self) -> StmtClass {
        self.class
    }

    /// True between the first step and the reset or DONE: the statement holds
    /// a read cursor.
    pub fn is_busy(&self) -> bool {
        // SAFETY: raw is live for self's lifetime.
        unsafe { ffi::sqlite3_stmt_busy(self.raw.as_ptr()) != 0 }
    }

    fn check_bind(&self, rc: c_int, idx: i32) -> Result<()> {
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        let what = format!("bind of parameter {idx} failed for SQL `{}`", abbreviate(&self.sql));
        if rc == ffi::SQLITE_RANGE {
            return Err(Error::sqlite(
                ffi::SQLITE_RANGE,
                format!(
                    "{what}: index out of range (the statement has {} parameters)",
                    self.parameter_count()
                ),
            ));
        }
        Err(db_error(self.db, &what))
    }

    fn ensure_not_stepping(&self, idx: i32) -> Result<()> {
        if self.is_busy() {
            return Err(Error::misuse(format!(
                "bind of parameter {idx} on a statement that is mid-step (reset it first): `{}`",
                abbreviate(&self.sql)
            )));
        }
        Ok(())
    }

    pub fn parameter_count(&self) -> i32 {
        // SAFETY: raw is live.
        unsafe { ffi::sqlite3_bind_parameter_count(self.raw.as_ptr()) }
    }

    /// The 1-based index of a named parameter (`:name`, `@name`, `$name`).
    pub fn parameter_index(&self, name: &CStr) -> Option<i32> {
        // SAFETY: raw is live; name is NUL-terminated.
        let idx = unsafe { ffi::sqlite3_bind_parameter_index(self.raw.as_ptr(), name.as_ptr()) };
        (idx > 0).then_some(idx)
    }

    /// The name of parameter `idx` (1-based) with its prefix (":name"),
    /// `None` for a nameless "?" parameter or an index out of range.
    pub fn parameter_name(&self, idx: i32) -> Option<&CStr> {
        // SAFETY: raw is live; SQLite checks idx and returns NULL or a
        // NUL-terminated string that lives as long as the statement.
        let p = unsafe { ffi::sqlite3_bind_parameter_name(self.raw.as_ptr(), idx) };
        // SAFETY: non-NULL p is NUL-terminated (above).
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
    }

    /// True when the statement makes no direct change to the database
    /// (`sqlite3_stmt_readonly`).
    pub fn is_read_only(&self) -> bool {
        // SAFETY: raw is live.
        unsafe { ffi::sqlite3_stmt_readonly(self.raw.as_ptr()) != 0 }
    }

    pub fn bind_int64(&mut self, idx: i32, v: i64) -> Result<()> {
        self.ensure_not_stepping(idx)?;
        self.bound = true;
        // SAFETY: raw is live; SQLite checks idx.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.raw.as_ptr(), idx, v) };
        self.check_bind(rc, idx)
    }

    pub fn bind_double(&mut self, idx: i32, v: f64) -> Result<()> {
        self.ensure_not_stepping(idx)?;
        self.bound = true;
        // SAFETY: raw is live; SQLite checks idx.
        let rc = unsafe { ffi::sqlite3_bind_double(self.raw.as_ptr(), idx, v) };
        self.check_bind(rc, idx)
    }

    pub fn bind_null(&mut self, idx: i32) -> Result<()> {
        self.ensure_not_stepping(idx)?;
        self.bound = true;
        // SAFETY: raw is live; SQLite checks idx.
        let rc = unsafe { ffi::sqlite3_bind_null(self.raw.as_ptr(), idx) };
        self.check_bind(rc, idx)
    }

    pub fn bind_text(&mut self, idx: i32, v: &str) -> Result<()> {
        self.ensure_not_stepping(idx)?;
        self.bound = true;
        // SAFETY: raw is live; v is valid for v.len() bytes and SQLITE_TRANSIENT
        // makes SQLite copy it before returning.
        let rc = unsafe {
            ffi::sqlite3_bind_text64(
                self.raw.as_ptr(),
                idx,
                v.as_ptr().cast(),
                v.len() as u64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as u8,
            )
        };
        self.check_bind(rc, idx)
    }

    pub fn bind_blob(&mut self, idx: i32, v: &[u8]) -> Result<()> {
        self.ensure_not_stepping(idx)?;
        self.bound = true;
        // SAFETY: raw is live; a zero-length blob is bound with zeroblob so that
        // SQLite stores an empty BLOB rather than NULL; otherwise v is valid for
        // v.len() bytes and SQLITE_TRANSIENT makes SQLite copy it.
        let rc = unsafe {
            if v.is_empty() {
                ffi::sqlite3_bind_zeroblob(self.raw.as_ptr(), idx, 0)
            } else {
                ffi::sqlite3_bind_blob64(
                    self.raw.as_ptr(),
                    idx,
                    v.as_ptr().cast(),
                    v.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                )
            }
        };
        self.check_bind(rc, idx)
    }

    pub fn clear_bindings(&mut self) {
        if !std::mem::take(&mut self.bound) {
            return;
        }
        // SAFETY: raw is live.
        unsafe { ffi::sqlite3_clear_bindings(self.raw.as_ptr()) };
    }

    /// Steps without the snapshot bookkeeping; `Connection::step` wraps it.
    pub(crate) fn step_raw(&mut self) -> Result<Step> {
        self.stepped = true;
        // SAFETY: raw is live and used by one thread (the holder).
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(Step::Row),
            ffi::SQLITE_DONE => Ok(Step::Done),
            _ => {
                let err = db_error(self.db, &format!("step failed for SQL `{}`", abbreviate(&self.sql)));
                // Leave the statement re-runnable, as sqlite3_reset would.
                // SAFETY: raw is live.
                unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
                self.stepped = false;
                Err(err)
            }
        }
    }

    /// Resets a statement that ran to its end, as binding again requires;
    /// one mid-step is left as it is (a bind then is MISUSE).
    pub(crate) fn set_call_gate(&mut self, gate: Option<crate::prim::Arc<crate::fork::InSqlite>>) {
        self.call_gate = gate;
    }

    pub(crate) fn reset_if_finished(&mut self) -> Result<()> {
        if self.stepped && !self.is_busy() {
            self.reset()?;
        }
        Ok(())
    }

    /// Crate-only: sqlite3_reset can release file locks, so it must run
    /// inside the fork gate; callers use `Connection::reset`, which enters it.
    pub(crate) fn reset(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.stepped) {
            return Ok(());
        }
        // SAFETY: the flag is ours and outlives the guard.
        let _call = self
            .call_gate
            .as_deref()
            .map(|flag| unsafe { crate::fork::SqliteCall::enter(flag) });
        // SAFETY: raw is live. The result repeats the last step's error, which
        // was already reported by that step.
        unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
        Ok(())
    }

    pub fn column_count(&self) -> i32 {
        // SAFETY: raw is live.
        unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) }
    }

    /// Columns available in the current row (0 when there is no row).
    pub fn data_count(&self) -> i32 {
        // SAFETY: raw is live.
        unsafe { ffi::sqlite3_data_count(self.raw.as_ptr()) }
    }

    fn check_column(&self, i: i32) -> Result<()> {
        let n = self.data_count();
        if i < 0 || i >= n {
            return Err(Error::misuse(if n == 0 {
                format!(
                    "column {i} read with no current row (step returned no ROW): `{}`",
                    abbreviate(&self.sql)
                )
            } else {
                format!(
                    "column {i} is out of range: the row has {n} columns: `{}`",
                    abbreviate(&self.sql)
                )
            }));
        }
        Ok(())
    }

    /// Checks a column index against the statement's columns (no row needed).
    fn check_column_index(&self, i: i32) -> Result<()> {
        if i < 0 || i >= self.column_count() {
            return Err(Error::misuse(format!(
                "column {i} is out of range: the statement has {} columns: `{}`",
                self.column_count(),
                abbreviate(&self.sql)
            )));
        }
        Ok(())
    }

    pub fn column_name(&self, i: i32) -> Result<&CStr> {
        self.check_column_index(i)?;
        // SAFETY: raw is live and i is in range; the name lives until the
        // statement is finalized or re-prepared, which needs &mut self.
        let p = unsafe { ffi::sqlite3_column_name(self.raw.as_ptr(), i) };
        if p.is_null() {
            return Err(Error::sqlite(ffi::SQLITE_NOMEM, "column_name: out of memory"));
        }
        // SAFETY: SQLite returns a NUL-terminated UTF-8 string.
        Ok(unsafe { CStr::from_ptr(p) })
    }

    /// The declared type of column `i` (`sqlite3_column_decltype`): the
    /// type in the table's definition for a column read straight from a
    /// table, `None` for an expression. Needs no current row.
    pub fn column_decltype(&self, i: i32) -> Result<Option<&CStr>> {
        self.check_column_index(i)?;
        // SAFETY: raw is live and i in range; the text lives until the
        // statement is finalized or re-prepared, which needs &mut self.
        let p = unsafe { ffi::sqlite3_column_decltype(self.raw.as_ptr(), i) };
        // SAFETY: non-NULL p is a NUL-terminated string (above).
        Ok((!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }))
    }

    /// Reads the current row's first `cells.len()` columns into `cells`, each
    /// value from SQLite once, for copying whole rows out. The caller keeps
    /// `cells.len()` at most `data_count()` (columns past it read as NULL).
    /// Takes `&mut self` so that no other accessor can convert a column (and
    /// free its bytes) while the cells borrow them.
    pub(crate) fn read_row<'s>(&'s mut self, cells: &mut [Value<'s>]) {
        let raw = self.raw.as_ptr();
        for (i, cell) in cells.iter_mut().enumerate() {
            let i = i as i32;
            // SAFETY: raw is live; SQLite checks i itself. Each column is read
            // with the accessor of its own type (which converts nothing), text
            // and blob before bytes as SQLite's documentation requires, and the
            // bytes stay valid while self is borrowed mutably by the cells.
            *cell = unsafe {
                let bytes = |p: *const u8| {
                    if p.is_null() {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(p, ffi::sqlite3_column_bytes(raw, i) as usize)
                    }
                };
                match ffi::sqlite3_column_type(raw, i) {
                    ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(raw, i)),
                    ffi::SQLITE_FLOAT => Value::Float(ffi::sqlite3_column_double(raw, i)),
                    ffi::SQLITE_TEXT => Value::Text(bytes(ffi::sqlite3_column_text(raw, i))),
                    ffi::SQLITE_BLOB => Value::Blob(bytes(ffi::sqlite3_column_blob(raw, i).cast())),
                    _ => Value::Null,
                }
            };
        }
    }

    pub fn column_type(&self, i: i32) -> Result<i32> {
        self.check_column(i)?;
        // SAFETY: raw is live, i in range of the current row.
        Ok(unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), i) })
    }

    pub fn column_int64(&self, i: i32) -> Result<i64> {
        self.check_column(i)?;
        // SAFETY: as above.
        Ok(unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), i) })
    }

    pub fn column_double(&self, i: i32) -> Result<f64> {
        self.check_column(i)?;
        // SAFETY: as above.
        Ok(unsafe { ffi::sqlite3_column_double(self.raw.as_ptr(), i) })
    }

    /// The column as text (without the NUL SQLite keeps after it); `None` for
    /// SQL NULL.
    ///
    /// SQLite may convert the value in place (a BLOB gains its NUL, UTF-16
    /// text becomes UTF-8), freeing bytes an earlier accessor returned; so
    /// this and [`Statement::column_blob`] borrow the statement mutably, and a
    /// slice must be dropped (or copied) before the next call:
    ///
    /// ```compile_fail
    /// # fn read(stmt: &mut sqlpool::Statement) -> sqlpool::Result<()> {
    /// let blob = stmt.column_blob(0)?;
    /// let text = stmt.column_text(0)?; // error: `*stmt` is already borrowed
    /// println!("{blob:?} {text:?}");
    /// # Ok(()) }
    /// ```
    pub fn column_text(&mut self, i: i32) -> Result<Option<&[u8]>> {
        self.check_column(i)?;
        // SAFETY: raw is live, i in range. text is called before bytes, as
        // SQLite's documentation requires, and the bytes stay valid while self
        // is borrowed mutably (no step, reset or converting accessor).
        unsafe {
            let p = ffi::sqlite3_column_text(self.raw.as_ptr(), i);
            if p.is_null() {
                return Ok(None);
            }
            let n = ffi::sqlite3_column_bytes(self.raw.as_ptr(), i) as usize;
            Ok(Some(std::slice::from_raw_parts(p, n)))
        }
    }

    /// The column as bytes; `None` for SQL NULL and for a zero-length BLOB,
    /// as SQLite reports them. Borrows the statement mutably, for the reason
    /// given at [`Statement::column_text`].
    pub fn column_blob(&mut self, i: i32) -> Result<Option<&[u8]>> {
        self.check_column(i)?;
        // SAFETY: as for column_text; blob before bytes.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.raw.as_ptr(), i);
            if p.is_null() {
                return Ok(None);
            }
            let n = ffi::sqlite3_column_bytes(self.raw.as_ptr(), i) as usize;
            Ok(Some(std::slice::from_raw_parts(p.cast(), n)))
        }
    }

    pub fn column_bytes(&self, i: i32) -> Result<i64> {
        self.check_column(i)?;
        // SAFETY: as above.
        Ok(unsafe { ffi::sqlite3_column_bytes(self.raw.as_ptr(), i) } as i64)
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: raw came from prepare and is finalized exactly once, here.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement").field("sql", &self.sql).finish()
    }
}

/// The connection's last error as an [`Error`], prefixed by `context`.
pub(crate) fn db_error(db: NonNull<ffi::sqlite3>, context: &str) -> Error {
    // SAFETY: db is live; errmsg returns a NUL-terminated string owned by SQLite
    // that we copy at once.
    let (code, msg) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let msg = CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr()))
            .to_string_lossy()
            .into_owned();
        (code, msg)
    };
    Error::sqlite(code, format!("{context}: {msg}"))
}

/// SQL shortened for messages, on a char boundary.
pub(crate) fn abbreviate(sql: &str) -> String {
    const MAX: usize = 200;
    let sql = sql.trim();
    if sql.len() <= MAX {
        return sql.to_owned();
    }
    let mut end = MAX;
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &sql[..end])
}

fn is_transaction_control(sql: &str) -> bool {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    matches!(
        word.as_str(),
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_recognised_by_its_first_word() {
        assert!(is_transaction_control("  begin immediate"));
        assert!(is_transaction_control("COMMIT"));
        assert!(is_transaction_control("savepoint a"));
        assert!(!is_transaction_control("SELECT 1"));
        assert!(!is_transaction_control("beginning"));
    }

    #[test]
    fn abbreviate_cuts_long_sql_on_a_char_boundary() {
        let sql = "é".repeat(150);
        let short = abbreviate(&sql);
        assert!(short.ends_with("..."));
        assert!(short.len() <= 203);
    }
}
