//! Few crossings per query, for bindings whose every call is costly (ctypes,
//! cffi, JNI): bind all parameters in one call, fetch a batch of rows into a
//! caller buffer in one call, or prepare + bind + fetch (+ checkout and
//! checkin) in one call.
//!
//! Packed values (parameters in, rows out) are native-endian and unaligned:
//! a value is one tag byte (SQLPOOL_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL)
//! then, for INTEGER an int64, for FLOAT a double, for TEXT and BLOB a
//! uint32 length and that many bytes, for NULL nothing.
//!
//! A fetched row is: uint32 row size in bytes (this field included), uint32
//! column count n, n type bytes, n cells (INTEGER int64, FLOAT double, TEXT
//! and BLOB uint32 length, NULL nothing), then the TEXT and BLOB bytes in
//! column order (TEXT is UTF-8, not NUL-terminated). Rows follow each other.

use super::conn::{poison_on_panic, sqlpool_conn};
use super::error::{
    call, value, SQLPOOL_BLOB, SQLPOOL_DONE, SQLPOOL_FLOAT, SQLPOOL_INTEGER, SQLPOOL_NULL, SQLPOOL_OK, SQLPOOL_ROW,
    SQLPOOL_TEXT,
};
use super::pool::sqlpool_pool;
use super::stmt::{sqlpool_stmt, with};
use super::{c_bytes, check_out, lock, write_out};
use crate::error::{Error, Result};
use crate::statement::Value;
use crate::{Connection, Statement, Step, StmtId};
use std::ffi::{c_char, c_int, c_void};

/// One value to bind (sqlpool_bind_values()). `kind` says which field is
/// used: SQLPOOL_INTEGER `int_value`; SQLPOOL_FLOAT `float_value`;
/// SQLPOOL_TEXT (UTF-8) and SQLPOOL_BLOB `len` bytes at `bytes` (which may
/// be NULL when `len` is 0); SQLPOOL_NULL none. The arguments of a user
/// function (sqlpool_function_fn) come filled the same way, valid for the
/// call: TEXT `bytes` is also NUL-terminated, INTEGER also sets
/// `float_value`, FLOAT also `int_value` (truncated).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sqlpool_value {
    pub kind: c_int,
    pub int_value: i64,
    pub float_value: f64,
    pub bytes: *const c_void,
    pub len: i64,
}

/// A value to bind, read from packed values or an sqlpool_value.
enum Param<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
    Blob(&'a [u8]),
    Null,
}

fn bind_param(stmt: &mut Statement, idx: i32, p: &Param<'_>) -> Result<()> {
    match *p {
        Param::Int(v) => stmt.bind_int64(idx, v),
        Param::Float(v) => stmt.bind_double(idx, v),
        Param::Text(v) => stmt.bind_text(idx, v),
        Param::Blob(v) => stmt.bind_blob(idx, v),
        Param::Null => stmt.bind_null(idx),
    }
}

fn utf8(bytes: &[u8], idx: usize) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid(format!(
            "text of parameter {idx} is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// Parses packed values; `each` is called with the 1-based index.
fn parse_packed(mut data: &[u8], mut each: impl FnMut(usize, Param<'_>) -> Result<()>) -> Result<usize> {
    fn take<'a>(data: &mut &'a [u8], n: usize, idx: usize) -> Result<&'a [u8]> {
        if data.len() < n {
            return Err(Error::invalid(format!("packed parameters end inside parameter {idx}")));
        }
        let (head, rest) = data.split_at(n);
        *data = rest;
        Ok(head)
    }
    fn len(data: &mut &[u8], idx: usize) -> Result<usize> {
        let b = take(data, 4, idx)?;
        Ok(u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize)
    }
    let mut idx = 0;
    while let Some((&tag, rest)) = data.split_first() {
        idx += 1;
        data = rest;
        let param = match c_int::from(tag) {
            SQLPOOL_INTEGER => Param::Int(i64::from_ne_bytes(
                take(&mut data, 8, idx)?.try_into().expect("8 bytes"),
            )),
            SQLPOOL_FLOAT => Param::Float(f64::from_ne_bytes(
                take(&mut data, 8, idx)?.try_into().expect("8 bytes"),
            )),
            SQLPOOL_TEXT => {
                let n = len(&mut data, idx)?;
                Param::Text(utf8(take(&mut data, n, idx)?, idx)?)
            }
            SQLPOOL_BLOB => {
                let n = len(&mut data, idx)?;
                Param::Blob(take(&mut data, n, idx)?)
            }
            SQLPOOL_NULL => Param::Null,
            other => {
                return Err(Error::invalid(format!(
                    "packed parameter {idx} has an invalid type tag {other}"
                )))
            }
        };
        each(idx, param)?;
    }
    Ok(idx)
}

fn check_count(stmt: &Statement, supplied: usize) -> Result<()> {
    let wanted = stmt.parameter_count();
    if supplied != wanted as usize {
        return Err(Error::invalid(format!(
            "incorrect number of bindings supplied: the statement has {wanted} parameters, \
             {supplied} values were supplied: `{}`",
            crate::statement::abbreviate(stmt.sql())
        )));
    }
    Ok(())
}

/// Binds packed values to parameters 1..n: all or none are checked first.
fn bind_packed(stmt: &mut Statement, data: &[u8]) -> Result<()> {
    let n = parse_packed(data, |_, _| Ok(()))?;
    check_count(stmt, n)?;
    stmt.reset_if_finished()?;
    parse_packed(data, |idx, p| bind_param(stmt, idx as i32, &p))?;
    Ok(())
}

/// A byte slice from C: NULL is allowed only with length 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that outlive 'a.
unsafe fn bytes_in<'a>(p: *const c_void, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller promises len readable bytes at p.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// A writable byte slice from C: NULL is allowed only with size 0.
///
/// # Safety
/// `p` is NULL or points to `size` writable bytes that outlive 'a.
unsafe fn bytes_out<'a>(p: *mut c_void, size: usize) -> Result<&'a mut [u8]> {
    if size == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::invalid("buf is NULL"));
    }
    // SAFETY: the caller promises size writable bytes at p.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), size) })
}

/// SQL text from C: NUL-terminated when `len` is -1.
///
/// # Safety
/// As for `c_str` when `len` is -1; otherwise `sql` points to `len` bytes.
/// The inputs of a one-call query: the SQL, the packed parameters, the
/// output buffer.
///
/// # Safety
/// As for sql_in, bytes_in and bytes_out.
unsafe fn query_inputs<'a>(
    sql: *const c_char,
    sql_len: i64,
    params: *const c_void,
    params_len: usize,
    buf: *mut c_void,
    buf_size: usize,
) -> Result<(&'a [u8], &'a [u8], &'a mut [u8])> {
    // SAFETY: forwarded from the caller.
    unsafe {
        Ok((
            sql_in(sql, sql_len)?,
            bytes_in(params, params_len, "params")?,
            bytes_out(buf, buf_size)?,
        ))
    }
}

/// The SQL's bytes (UTF-8 is checked when it is compiled, not on cache hits).
unsafe fn sql_in<'a>(sql: *const c_char, len: i64) -> Result<&'a [u8]> {
    match len {
        // SAFETY: the caller passes a NUL-terminated string.
        -1 => unsafe { c_bytes(sql, "sql") },
        _ if sql.is_null() => Err(Error::invalid("sql is NULL")),
        len if len < 0 => Err(Error::invalid(format!("sql length {len} is invalid (use -1 or >= 0)"))),
        // SAFETY: the caller promises len readable bytes at sql.
        len => Ok(unsafe { std::slice::from_raw_parts(sql.cast::<u8>(), len as usize) }),
    }
}

// The fetch format's type bytes are SQLite's type codes (Value::kind).
const _: () = assert!(
    SQLPOOL_INTEGER == rusqlite::ffi::SQLITE_INTEGER
        && SQLPOOL_FLOAT == rusqlite::ffi::SQLITE_FLOAT
        && SQLPOOL_TEXT == rusqlite::ffi::SQLITE_TEXT
        && SQLPOOL_BLOB == rusqlite::ffi::SQLITE_BLOB
        && SQLPOOL_NULL == rusqlite::ffi::SQLITE_NULL
);

/// Cells read per row without a heap allocation; wider rows use one.
const STACK_CELLS: usize = 32;

/// Writes the statement's current row into the front of `out` in the fetch
/// format, reading each value from SQLite once. Ok(Err(size)) when it needs
/// `size` bytes and `out` is smaller (nothing written).
fn copy_row(stmt: &mut Statement, ncols: i32, out: &mut [u8]) -> Result<std::result::Result<usize, usize>> {
    let n = ncols as usize;
    let mut stack = [Value::Null; STACK_CELLS];
    let mut heap = Vec::new();
    let cells: &mut [Value] = if n <= STACK_CELLS {
        &mut stack[..n]
    } else {
        heap.resize(n, Value::Null);
        &mut heap
    };
    // n <= data_count: the caller's ncols.
    stmt.read_row(cells);
    let mut fixed = 8 + n;
    let mut variable = 0;
    for cell in cells.iter() {
        match cell {
            Value::Integer(_) | Value::Float(_) => fixed += 8,
            Value::Text(b) | Value::Blob(b) => {
                fixed += 4;
                variable += b.len();
            }
            Value::Null => {}
        }
    }
    let size = fixed + variable;
    if size > out.len() {
        return Ok(Err(size));
    }
    let size32 = u32::try_from(size).map_err(|_| Error::invalid(format!("a row of {size} bytes is too large")))?;
    out[0..4].copy_from_slice(&size32.to_ne_bytes());
    out[4..8].copy_from_slice(&(ncols as u32).to_ne_bytes());
    let (mut cell, mut data) = (8 + n, fixed);
    for (i, value) in cells.iter().enumerate() {
        out[8 + i] = value.kind() as u8;
        match *value {
            Value::Integer(v) => {
                out[cell..cell + 8].copy_from_slice(&v.to_ne_bytes());
                cell += 8;
            }
            Value::Float(v) => {
                out[cell..cell + 8].copy_from_slice(&v.to_ne_bytes());
                cell += 8;
            }
            Value::Text(bytes) | Value::Blob(bytes) => {
                out[cell..cell + 4].copy_from_slice(&(bytes.len() as u32).to_ne_bytes());
                cell += 4;
                out[data..data + bytes.len()].copy_from_slice(bytes);
                data += bytes.len();
            }
            Value::Null => {}
        }
    }
    debug_assert_eq!(data, size);
    Ok(Ok(size))
}

/// What one fetch produced.
struct Fetched {
    /// Done: the statement finished; Row: it has a current row not yet written.
    step: Step,
    rows: u32,
    /// Bytes written, or, when no row was written and step is Row, the size
    /// the current row needs.
    used: usize,
}

/// Writes the current row (stepping first when there is none) and the rows
/// after it into `buf`, up to `max_rows` (0: no limit) and what fits.
fn fetch_rows(conn: &mut Connection, id: StmtId, buf: &mut [u8], max_rows: u32) -> Result<Fetched> {
    let done = Fetched {
        step: Step::Done,
        rows: 0,
        used: 0,
    };
    if conn.statement_ref(id)?.data_count() == 0 && conn.step(id)? == Step::Done {
        return Ok(done);
    }
    let mut rows = 0u32;
    let mut used = 0usize;
    loop {
        if max_rows != 0 && rows >= max_rows {
            return Ok(Fetched {
                step: Step::Row,
                rows,
                used,
            });
        }
        let stmt = conn.statement(id)?;
        let ncols = stmt.data_count();
        match copy_row(stmt, ncols, &mut buf[used..])? {
            Ok(size) => used += size,
            Err(size) => {
                return Ok(Fetched {
                    step: Step::Row,
                    rows,
                    used: if rows == 0 { size } else { used },
                })
            }
        }
        rows += 1;
        if conn.step(id)? == Step::Done {
            return Ok(Fetched {
                step: Step::Done,
                rows,
                used,
            });
        }
    }
}

/// Prepares, binds and fetches; finalizes the statement when it finished or
/// failed. Some(id) when it has more rows.
fn query_on(
    conn: &mut Connection,
    sql: &[u8],
    params: &[u8],
    buf: &mut [u8],
    max_rows: u32,
) -> Result<(Option<StmtId>, Fetched)> {
    let id = conn.prepare_bytes(sql)?;
    let result = bind_packed(conn.statement(id)?, params).and_then(|()| fetch_rows(conn, id, buf, max_rows));
    match result {
        Ok(f) if f.step == Step::Row => Ok((Some(id), f)),
        other => {
            let finalized = conn.finalize(id);
            let f = other?;
            finalized?;
            Ok((None, f))
        }
    }
}

fn code(step: Step) -> c_int {
    match step {
        Step::Row => SQLPOOL_ROW,
        Step::Done => SQLPOOL_DONE,
    }
}

/// The name of parameter `idx` (1-based) with its prefix (":name", "@name",
/// "$name"), as SQLite spells it; NULL for a nameless "?" parameter, an
/// index out of range, or a NULL or stale statement (which also sets the
/// last error to SQLPOOL_MISUSE). Owned by the statement: valid until it is
/// finalized, or re-prepared by a step after a schema change (SQLite's
/// rule), or the connection is checked in.
#[no_mangle]
pub extern "C" fn sqlpool_bind_parameter_name(stmt: *const sqlpool_stmt, idx: c_int) -> *const c_char {
    value(std::ptr::null(), || {
        with(stmt, |conn, id| {
            Ok(conn
                .statement_ref(id)?
                .parameter_name(idx)
                .map_or(std::ptr::null(), |n| n.as_ptr()))
        })
    })
}

/// 1 when the statement makes no direct change to the database (a SELECT;
/// sqlite3_stmt_readonly()), 0 when it may write, and 0 on a NULL or stale
/// statement (which also sets the last error to SQLPOOL_MISUSE).
#[no_mangle]
pub extern "C" fn sqlpool_stmt_readonly(stmt: *const sqlpool_stmt) -> c_int {
    value(0, || {
        with(stmt, |conn, id| Ok(c_int::from(conn.statement_ref(id)?.is_read_only())))
    })
}

/// Binds `values[0..n)` to parameters 1..n in one call. `n` must equal the
/// statement's parameter count (else SQLPOOL_INVALID_ARGUMENT, nothing bound);
/// values are checked (kind, UTF-8, NULL `bytes` with `len` > 0, `len` < 0)
/// before any is bound. TEXT and BLOB bytes are copied. A statement that ran
/// to its end is reset first; binding while it is mid-step (after
/// SQLPOOL_ROW, before reset) is SQLPOOL_MISUSE, as for the single binds.
///
/// # Safety
/// `values` is NULL (only when `n` is 0) or points to `n` readable values
/// whose `bytes` point to `len` readable bytes, all borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_bind_values(stmt: *mut sqlpool_stmt, values: *const sqlpool_value, n: c_int) -> c_int {
    call(|| {
        if n < 0 {
            return Err(Error::invalid(format!("value count {n} is negative")));
        }
        let values: &[sqlpool_value] = if n == 0 {
            &[]
        } else if values.is_null() {
            return Err(Error::invalid("values is NULL"));
        } else {
            // SAFETY: the caller promises n readable values.
            unsafe { std::slice::from_raw_parts(values, n as usize) }
        };
        let mut params = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            let idx = i + 1;
            let bytes = || -> Result<&[u8]> {
                let len = usize::try_from(v.len)
                    .map_err(|_| Error::invalid(format!("parameter {idx} has a negative length {}", v.len)))?;
                // SAFETY: the caller promises len readable bytes at v.bytes.
                unsafe { bytes_in(v.bytes, len, &format!("bytes of parameter {idx}")) }
            };
            params.push(match v.kind {
                SQLPOOL_INTEGER => Param::Int(v.int_value),
                SQLPOOL_FLOAT => Param::Float(v.float_value),
                SQLPOOL_TEXT => Param::Text(utf8(bytes()?, idx)?),
                SQLPOOL_BLOB => Param::Blob(bytes()?),
                SQLPOOL_NULL => Param::Null,
                other => return Err(Error::invalid(format!("parameter {idx} has an invalid kind {other}"))),
            });
        }
        with(stmt, |conn, id| {
            let s = conn.statement(id)?;
            check_count(s, params.len())?;
            s.reset_if_finished()?;
            for (i, p) in params.iter().enumerate() {
                bind_param(s, i as i32 + 1, p)?;
            }
            Ok(())
        })?;
        Ok(SQLPOOL_OK)
    })
}

/// Binds packed values to parameters 1..n in one call. Packed values are
/// native-endian and unaligned, one after the other: a tag byte
/// (SQLPOOL_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL) then, for INTEGER an
/// int64, for FLOAT a double, for TEXT (UTF-8) and BLOB a uint32 length and
/// that many bytes, for NULL nothing. The number of values must equal the statement's parameter count; the
/// buffer is checked whole before anything is bound (a bad tag, a truncated
/// value or invalid UTF-8 is SQLPOOL_INVALID_ARGUMENT). `len` 0 binds
/// nothing (`data` may then be NULL). Reset and mid-step rules as for
/// sqlpool_bind_values().
///
/// # Safety
/// `data` points to `len` readable bytes, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_bind_packed(stmt: *mut sqlpool_stmt, data: *const c_void, len: usize) -> c_int {
    call(|| {
        // SAFETY: the caller promises len readable bytes at data.
        let data = unsafe { bytes_in(data, len, "data") }?;
        with(stmt, |conn, id| bind_packed(conn.statement(id)?, data))?;
        Ok(SQLPOOL_OK)
    })
}

/// Fetches rows into `buf` in one call: the statement's current row (when
/// the last step returned a row: a row sqlpool_fetch() stopped at, or one
/// from sqlpool_step()), else the next one, then the rows after it, as many
/// as fit in `buf_size` bytes and at most `max_rows` (0: no limit). Writes
/// the number of rows to `*out_rows` and the bytes used to `*out_used`.
///
/// Rows follow each other; each is native-endian and unaligned: a uint32
/// row size in bytes (this field included), a uint32 column count n, n type
/// bytes (SQLPOOL_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL), n cells (INTEGER an
/// int64, FLOAT a double, TEXT and BLOB a uint32 length, NULL nothing), then
/// the TEXT and BLOB bytes in column order (TEXT is UTF-8 without a NUL).
///
/// Returns SQLPOOL_DONE when the statement finished (a further call runs it
/// again, as sqlpool_step() would), SQLPOOL_ROW when it has more rows: the
/// next call starts with the row it stopped at. When not even one row fits,
/// it returns SQLPOOL_ROW with `*out_rows` 0 and `*out_used` the bytes that
/// row needs; call again with a larger buffer. On error (a step failed) the
/// rows of this call are lost and the statement is reset.
///
/// # Safety
/// `buf` is NULL (only when `buf_size` is 0) or points to `buf_size`
/// writable bytes; `out_rows` and `out_used` are NULL or point to writable
/// memory; all borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_fetch(
    stmt: *mut sqlpool_stmt,
    buf: *mut c_void,
    buf_size: usize,
    max_rows: u32,
    out_rows: *mut u32,
    out_used: *mut usize,
) -> c_int {
    call(|| {
        check_out(out_rows, "out_rows")?;
        check_out(out_used, "out_used")?;
        // SAFETY: the caller promises buf_size writable bytes at buf.
        let buf = unsafe { bytes_out(buf, buf_size) }?;
        let f = with(stmt, |conn, id| fetch_rows(conn, id, buf, max_rows))?;
        // SAFETY: both out-pointers were checked above.
        unsafe {
            write_out(out_rows, f.rows);
            write_out(out_used, f.used);
        }
        Ok(code(f.step))
    })
}

/// One call for a whole query on a checked-out connection: prepares `sql`
/// (from the connection's statement cache when it can), binds the packed
/// `params` (as sqlpool_bind_packed(); `params_len` 0 for none) and fetches
/// rows into `buf` (as sqlpool_fetch()).
///
/// `sql_len` is the length of `sql` in bytes, or -1 when it is
/// NUL-terminated; only its first statement runs. On SQLPOOL_DONE the
/// statement has finished and gone back to the cache: `*out_stmt` is set to
/// NULL. On SQLPOOL_ROW it has more rows: `*out_stmt` is a new statement
/// handle, owned by the caller like one from sqlpool_prepare() (valid until
/// sqlpool_finalize() or checkin), to pass to sqlpool_fetch(). `*out_rows`
/// and `*out_used` are as for sqlpool_fetch(). On error nothing is written
/// and no statement is left behind.
///
/// # Safety
/// `sql` points to `sql_len` bytes (a NUL-terminated string when -1),
/// `params` to `params_len` bytes, `buf` to `buf_size` writable bytes (NULL
/// only with size 0); the out-pointers are NULL or writable; all borrowed
/// for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_query(
    conn: *mut sqlpool_conn,
    sql: *const c_char,
    sql_len: i64,
    params: *const c_void,
    params_len: usize,
    buf: *mut c_void,
    buf_size: usize,
    max_rows: u32,
    out_stmt: *mut *mut sqlpool_stmt,
    out_rows: *mut u32,
    out_used: *mut usize,
) -> c_int {
    call(|| {
        check_out(out_stmt, "out_stmt")?;
        check_out(out_rows, "out_rows")?;
        check_out(out_used, "out_used")?;
        let mut held = lock(conn)?;
        // SAFETY: the caller's promises, as documented above.
        let (sql, params, buf) = unsafe { query_inputs(sql, sql_len, params, params_len, buf, buf_size) }?;
        let (id, f) = held.guarded(|entry| query_on(&mut entry.conn, sql, params, buf, max_rows))?;
        let stmt = match id {
            None => std::ptr::null_mut(),
            Some(id) => held.hand_out(conn, id)?,
        };
        // SAFETY: the out-pointers were checked above.
        unsafe {
            write_out(out_stmt, stmt);
            write_out(out_rows, f.rows);
            write_out(out_used, f.used);
        }
        Ok(code(f.step))
    })
}

/// One call for a whole query on a pool: checks a connection out (waiting
/// as sqlpool_checkout() does), runs the query as sqlpool_query() would,
/// and checks the connection back in, so that nothing is held between
/// calls. For the many short queries of code that only knows a pool.
///
/// Returns SQLPOOL_DONE when every row was written to `buf`; SQLPOOL_ROW
/// when it stopped early, after `max_rows` rows (0: no limit) or at a row
/// that did not fit (when none was written, `*out_used` is the bytes that
/// row needs): the rows not written are lost, so use it for reads, with
/// `max_rows` (say, 2 to check that a query returns at most one row) or a
/// buffer large enough, and fall back to sqlpool_query() on a checked-out
/// connection otherwise. A statement that writes has written by then.
///
/// # Safety
/// As for sqlpool_query().
#[no_mangle]
pub unsafe extern "C" fn sqlpool_pool_query(
    pool: *mut sqlpool_pool,
    sql: *const c_char,
    sql_len: i64,
    params: *const c_void,
    params_len: usize,
    buf: *mut c_void,
    buf_size: usize,
    max_rows: u32,
    out_rows: *mut u32,
    out_used: *mut usize,
) -> c_int {
    call(|| {
        check_out(out_rows, "out_rows")?;
        check_out(out_used, "out_used")?;
        let mut args = sqlpool_query_call {
            pool,
            sql,
            sql_len,
            params: params.cast(),
            params_len,
            buf,
            buf_size,
            max_rows,
            out_rows: 0,
            out_used: 0,
        };
        // SAFETY: the caller's promises, as documented above.
        let rc = unsafe { pool_query(&mut args) }?;
        // SAFETY: both out-pointers were checked above.
        unsafe {
            write_out(out_rows, args.out_rows);
            write_out(out_used, args.out_used);
        }
        Ok(rc)
    })
}

/// The body of sqlpool_pool_query() and sqlpool_pool_query_call(), inside
/// the caller's panic boundary: the results go to `args`' out fields, only
/// on success.
///
/// # Safety
/// `args`' fields keep sqlpool_pool_query()'s promises.
unsafe fn pool_query(args: &mut sqlpool_query_call) -> Result<c_int> {
    // SAFETY: the caller's promises, as documented above.
    let (sql, params, buf) = unsafe {
        query_inputs(args.sql, args.sql_len, args.params.cast(), args.params_len, args.buf, args.buf_size)
    }?;
    let mut conn = super::pool::checkout_from(args.pool, None)?;
    let max_rows = args.max_rows;
    let f = poison_on_panic(
        &mut conn,
        |c| c.pool(),
        |conn| {
            let (id, f) = query_on(conn, sql, params, buf, max_rows)?;
            if let Some(id) = id {
                conn.finalize(id)?;
            }
            Ok::<_, Error>(f)
        },
    )?;
    drop(conn);
    args.out_rows = f.rows;
    args.out_used = f.used;
    Ok(code(f.step))
}

/// The arguments of one sqlpool_pool_query() call in one struct, for
/// bindings where each argument of a call costs (Python's ctypes converts
/// every one on every call): fill it once per statement and buffer, then
/// change only `params` and `params_len` between calls. `params` is the
/// packed bytes (sqlpool_bind_packed()), not a string. The layout never
/// changes: a later need gets a new struct and function.
#[repr(C)]
#[derive(Debug)]
pub struct sqlpool_query_call {
    pub pool: *mut sqlpool_pool,
    pub sql: *const c_char,
    pub sql_len: i64,
    pub params: *const c_char,
    pub params_len: usize,
    pub buf: *mut c_void,
    pub buf_size: usize,
    pub max_rows: u32,
    /// Written by the call: sqlpool_pool_query()'s `*out_rows`.
    pub out_rows: u32,
    /// Written by the call: sqlpool_pool_query()'s `*out_used`.
    pub out_used: usize,
}

/// sqlpool_pool_query() with the arguments and results in `*args`; the same
/// return codes. NULL `args` is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `args` is NULL or points to a writable struct whose fields keep
/// sqlpool_pool_query()'s promises, all borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_pool_query_call(args: *mut sqlpool_query_call) -> c_int {
    call(|| {
        if args.is_null() {
            return Err(Error::invalid("args (the struct pointer) is NULL"));
        }
        // SAFETY: non-NULL, and the caller promises it is a writable struct
        // borrowed for this call; its out fields are distinct, aligned places.
        let c = unsafe { &mut *args };
        // SAFETY: the fields keep sqlpool_pool_query()'s promises (above).
        unsafe { pool_query(c) }
    })
}
