//! User-defined SQL functions from C: registration, the argument values and
//! the result of a call. Each call of a C function pushes a frame on a
//! per-thread stack; `ctx` and `argv` are checked against the top frame, so
//! a pointer used after its call, from another thread, or from an outer call
//! is SQLPOOL_MISUSE, never a read of freed memory.

use super::batch::sqlpool_value;
use super::conn::sqlpool_conn;
use super::error::{call, value, SQLPOOL_NULL, SQLPOOL_OK, SQLPOOL_TEXT};
use super::options::{sqlpool_options, UserData};
use super::{c_blob, c_bytes, c_text, lock};
use crate::error::{Error, Result};
use crate::{Function, FunctionOutput, Value};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use crate::prim::{AtomicUsize, Ordering};

/// The context of one call of a user function: pass it to the
/// sqlpool_result_*() functions. Valid only during the call, on its thread.
pub struct sqlpool_context {
    _private: [u8; 0],
}

/// A user-defined scalar SQL function: called with the call's context,
/// `argc` arguments (`argv[0]` .. `argv[argc - 1]`, each a filled
/// sqlpool_value, readable directly or through the sqlpool_value_*()
/// functions) and the registration's `user_data`. It sets the result with
/// one of the sqlpool_result_*() functions (the last one called wins; none
/// gives NULL). `ctx`, `argv` and every value and text they point to are
/// valid only until it returns, on its thread. It must not unwind (a C++
/// exception, a longjmp) out of the call.
pub type sqlpool_function_fn = Option<
    unsafe extern "C" fn(ctx: *mut sqlpool_context, argc: c_int, argv: *mut *mut sqlpool_value, user_data: *mut c_void),
>;

/// Frees a function's user_data when the function goes away.
pub type sqlpool_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Function flag: the same arguments always give the same result, so SQLite
/// may use the function in indexes and factor it out of loops (SQLite's
/// SQLITE_DETERMINISTIC value).
pub const SQLPOOL_DETERMINISTIC: c_int = 0x800;

/// One running call of a C function on this thread.
struct Frame {
    /// The call's `ctx`: unique in the process, never dereferenced.
    token: usize,
    values: Vec<sqlpool_value>,
    result: std::result::Result<FunctionOutput, String>,
}

thread_local! {
    /// Calls running on this thread, innermost last (a function may run a
    /// query on another connection that calls a function).
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

/// Runs `f` on the innermost call of this thread, if `ctx` is its context.
fn with_frame<R>(ctx: *mut sqlpool_context, f: impl FnOnce(&mut Frame) -> R) -> Result<R> {
    if ctx.is_null() {
        return Err(Error::misuse("function context is NULL"));
    }
    FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        match frames.last_mut() {
            Some(frame) if frame.token == ctx as usize => Ok(f(frame)),
            _ => Err(Error::misuse(
                "function context is not the running call's (used after its function returned, or from another thread)",
            )),
        }
    })
}

/// A copy of the value `v` points to, if it is an argument of the innermost
/// call of this thread.
fn argument(v: *const sqlpool_value) -> Result<sqlpool_value> {
    if v.is_null() {
        return Err(Error::misuse("function argument value is NULL"));
    }
    FRAMES.with(|frames| {
        let frames = frames.borrow();
        let found = frames.last().and_then(|frame| {
            let size = std::mem::size_of::<sqlpool_value>();
            let offset = (v as usize).checked_sub(frame.values.as_ptr() as usize)?;
            (offset % size == 0).then(|| frame.values.get(offset / size).copied())?
        });
        found.ok_or_else(|| {
            Error::misuse(
                "function argument value is not one of the running call's arguments (used after its function returned, or from another thread)",
            )
        })
    })
}

fn to_c(v: &Value<'_>) -> sqlpool_value {
    let (int_value, float_value, bytes): (i64, f64, &[u8]) = match *v {
        Value::Integer(i) => (i, i as f64, &[]),
        // `as` truncates toward zero and saturates, as SQLite's conversion.
        Value::Float(f) => (f as i64, f, &[]),
        Value::Text(b) | Value::Blob(b) => (0, 0.0, b),
        Value::Null => (0, 0.0, &[]),
    };
    sqlpool_value {
        kind: v.kind(),
        int_value,
        float_value,
        bytes: if bytes.is_empty() && !matches!(v, Value::Text(_)) {
            std::ptr::null()
        } else {
            bytes.as_ptr().cast()
        },
        len: bytes.len() as i64,
    }
}

/// The C function, its user_data and destroy; destroy runs when this is
/// dropped: with the last connection and options holding the function, or
/// at once when registration fails.
struct CFunction {
    function: sqlpool_function_fn,
    user_data: UserData,
    destroy: sqlpool_destroy_fn,
}

impl Drop for CFunction {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: the caller gave destroy for this user_data; it runs
            // once, as this drop does.
            unsafe { destroy(self.user_data.0) };
        }
    }
}

impl CFunction {
    fn call(&self, args: &[Value<'_>]) -> std::result::Result<FunctionOutput, String> {
        let Some(function) = self.function else {
            return Err("sqlpool: the function's fn is NULL".to_owned());
        };
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let mut pointers: Vec<*mut sqlpool_value> = Vec::with_capacity(args.len());
        FRAMES.with(|frames| {
            let mut frames = frames.borrow_mut();
            let mut values: Vec<sqlpool_value> = args.iter().map(to_c).collect();
            pointers.extend((0..values.len()).map(|i| values.as_mut_ptr().wrapping_add(i)));
            frames.push(Frame {
                token,
                values,
                result: Ok(FunctionOutput::Null),
            });
        });
        let argv = if pointers.is_empty() {
            std::ptr::null_mut()
        } else {
            pointers.as_mut_ptr()
        };
        // SAFETY: the caller's function takes these arguments; argv points
        // to argc pointers into the frame's values, whose heap buffer stays
        // put (moving the frame does not move it) until the frame is popped
        // below, after the call.
        unsafe {
            function(
                std::ptr::without_provenance_mut(token),
                args.len() as c_int,
                argv,
                self.user_data.0,
            )
        };
        FRAMES
            .with(|frames| frames.borrow_mut().pop().map(|frame| frame.result))
            .unwrap_or_else(|| Err("sqlpool: the function's call record was lost".to_owned()))
    }
}

/// Builds the Function for a C registration. `destroy` runs at once if this
/// fails (a bad name, n_args or flags, a NULL fn).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string borrowed for the call.
unsafe fn c_function(
    name: *const c_char,
    n_args: c_int,
    flags: c_int,
    function: sqlpool_function_fn,
    user_data: *mut c_void,
    destroy: sqlpool_destroy_fn,
) -> Result<Function> {
    // First, so that every failure below runs destroy.
    let c_function = CFunction {
        function,
        user_data: UserData(user_data),
        destroy,
    };
    // SAFETY: the caller passes a NUL-terminated string.
    let name = unsafe { c_bytes(name, "function name") }?;
    let name = std::str::from_utf8(name).map_err(|e| {
        Error::invalid(format!(
            "function name is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    if flags & !SQLPOOL_DETERMINISTIC != 0 {
        return Err(Error::invalid(format!(
            "function `{name}`: flags {flags:#x} has bits other than SQLPOOL_DETERMINISTIC (0x800)"
        )));
    }
    if function.is_none() {
        return Err(Error::invalid(format!("function `{name}`: fn is NULL")));
    }
    Function::new(name, n_args, flags & SQLPOOL_DETERMINISTIC != 0, move |args| {
        c_function.call(args)
    })
}

/// Registers the scalar SQL function `name` taking `n_args` arguments (-1:
/// any number; 0 to 127 otherwise) on this pooled connection, for as long as
/// the connection lives: it stays registered across checkouts, for later
/// holders too. It replaces a function with the same name (ignoring ASCII
/// case) and number of arguments, whose destroy then runs. `flags` is 0 or
/// SQLPOOL_DETERMINISTIC. `fn` runs on the thread that steps the statement,
/// with `user_data`. `destroy` (may be NULL) runs once with `user_data`:
/// when the function is replaced or the connection is closed, or before
/// this call returns if it fails.
///
/// A NULL `name` or `fn`, a name that is not UTF-8 or longer than 255
/// bytes, `n_args` out of range or unknown flags are
/// SQLPOOL_INVALID_ARGUMENT; replacing a function while a statement of this
/// connection is mid-step is SQLPOOL_SQLITE (SQLITE_BUSY).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_conn_create_function(
    conn: *mut sqlpool_conn,
    name: *const c_char,
    n_args: c_int,
    flags: c_int,
    r#fn: sqlpool_function_fn,
    user_data: *mut c_void,
    destroy: sqlpool_destroy_fn,
) -> c_int {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated string.
        let function = unsafe { c_function(name, n_args, flags, r#fn, user_data, destroy) }?;
        lock(conn)?.guarded(|entry| entry.conn.create_function(&function))?;
        Ok(SQLPOOL_OK)
    })
}

/// Registers the scalar SQL function `name` (as
/// sqlpool_conn_create_function()) on every connection that a pool opened
/// with these options opens, overflow and replacement connections included,
/// before init_sql runs. It replaces one added before with the same name
/// and number of arguments. `user_data` is shared by all those connections
/// (and by copies of the options): `fn` may run on several threads at once
/// and must be safe for that. `destroy` (may be NULL) runs once, when the
/// options, every pool opened with them and all their connections are gone
/// (or before this call returns if it fails).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_options_add_function(
    opts: *mut sqlpool_options,
    name: *const c_char,
    n_args: c_int,
    flags: c_int,
    r#fn: sqlpool_function_fn,
    user_data: *mut c_void,
    destroy: sqlpool_destroy_fn,
) -> c_int {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated string.
        let function = unsafe { c_function(name, n_args, flags, r#fn, user_data, destroy) }?;
        lock(opts)?.add_function(function);
        Ok(SQLPOOL_OK)
    })
}

/// The type of a function argument: SQLPOOL_INTEGER, _FLOAT, _TEXT, _BLOB
/// or _NULL. Like every sqlpool_value_*() function, it takes only an
/// argument of the running call (an `argv[i]`), on the call's thread;
/// anything else (NULL, after the call, another thread) is SQLPOOL_MISUSE
/// as the last error and gives the "no value" result: SQLPOOL_NULL, 0, 0.0,
/// NULL or 0.
#[no_mangle]
pub extern "C" fn sqlpool_value_type(v: *const sqlpool_value) -> c_int {
    value(SQLPOOL_NULL, || Ok(argument(v)?.kind))
}

/// A function argument as a 64-bit integer: an INTEGER's value, a FLOAT
/// truncated toward zero (saturating); 0 for TEXT, BLOB and NULL.
#[no_mangle]
pub extern "C" fn sqlpool_value_int64(v: *const sqlpool_value) -> i64 {
    value(0, || Ok(argument(v)?.int_value))
}

/// A function argument as a double: a FLOAT's value, an INTEGER converted;
/// 0.0 for TEXT, BLOB and NULL.
#[no_mangle]
pub extern "C" fn sqlpool_value_double(v: *const sqlpool_value) -> f64 {
    value(0.0, || Ok(argument(v)?.float_value))
}

/// A TEXT argument as NUL-terminated UTF-8 (as SQLite stores it; its length
/// is sqlpool_value_bytes()); NULL for any other type. Valid until the
/// function returns.
#[no_mangle]
pub extern "C" fn sqlpool_value_text(v: *const sqlpool_value) -> *const c_char {
    value(std::ptr::null(), || {
        let arg = argument(v)?;
        Ok(if arg.kind == SQLPOOL_TEXT {
            arg.bytes.cast()
        } else {
            std::ptr::null()
        })
    })
}

/// The bytes of a BLOB or TEXT argument (length: sqlpool_value_bytes());
/// NULL when there are none (an empty BLOB or TEXT) and for other types.
/// Valid until the function returns.
#[no_mangle]
pub extern "C" fn sqlpool_value_blob(v: *const sqlpool_value) -> *const c_void {
    value(std::ptr::null(), || {
        let arg = argument(v)?;
        Ok(if arg.len > 0 { arg.bytes } else { std::ptr::null() })
    })
}

/// The size in bytes of a TEXT (without its NUL) or BLOB argument; 0 for
/// other types.
#[no_mangle]
pub extern "C" fn sqlpool_value_bytes(v: *const sqlpool_value) -> i64 {
    value(0, || Ok(argument(v)?.len))
}

/// Sets the running call's result (every sqlpool_result_*() function: the
/// last one called wins). A `ctx` that is NULL or not the running call's
/// (after it returned, another thread) is SQLPOOL_MISUSE.
fn set_result(ctx: *mut sqlpool_context, result: std::result::Result<FunctionOutput, String>) -> Result<c_int> {
    with_frame(ctx, |frame| frame.result = result)?;
    Ok(SQLPOOL_OK)
}

/// Makes the call return the 64-bit integer `v`.
#[no_mangle]
pub extern "C" fn sqlpool_result_int64(ctx: *mut sqlpool_context, v: i64) -> c_int {
    call(|| set_result(ctx, Ok(FunctionOutput::Integer(v))))
}

/// Makes the call return the double `v`.
#[no_mangle]
pub extern "C" fn sqlpool_result_double(ctx: *mut sqlpool_context, v: f64) -> c_int {
    call(|| set_result(ctx, Ok(FunctionOutput::Float(v))))
}

/// Makes the call return the UTF-8 text `s` of `len` bytes (-1: up to its
/// NUL), copied. NULL `s`, `len` below -1, or invalid UTF-8 is
/// SQLPOOL_INVALID_ARGUMENT and leaves the result as it was.
///
/// # Safety
/// `s` points to `len` readable bytes (a NUL-terminated string when `len`
/// is -1), borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_result_text(ctx: *mut sqlpool_context, s: *const c_char, len: i64) -> c_int {
    call(|| {
        // SAFETY: the caller passes len readable bytes (a NUL-terminated string for -1).
        let text = unsafe { c_text(s, len, "result text") }?;
        set_result(ctx, Ok(FunctionOutput::Text(text.to_owned())))
    })
}

/// Makes the call return the `len` bytes at `p` as a BLOB, copied; `len` 0
/// is an empty BLOB (`p` may then be NULL). NULL `p` with `len` > 0, or
/// `len` < 0, is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `p` points to `len` readable bytes, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_result_blob(ctx: *mut sqlpool_context, p: *const c_void, len: i64) -> c_int {
    call(|| {
        // SAFETY: the caller passes len readable bytes at p.
        let bytes = unsafe { c_blob(p, len, "result blob") }?;
        set_result(ctx, Ok(FunctionOutput::Blob(bytes.to_vec())))
    })
}

/// Makes the call return SQL NULL (also the result when none is set).
#[no_mangle]
pub extern "C" fn sqlpool_result_null(ctx: *mut sqlpool_context) -> c_int {
    call(|| set_result(ctx, Ok(FunctionOutput::Null)))
}

/// Makes the query fail with `msg` (copied; invalid UTF-8 is replaced):
/// the step returns SQLPOOL_SQLITE, extended code 1 (SQLITE_ERROR), and
/// sqlpool_errmsg() contains `msg`. NULL `msg` is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `msg` is NULL or a NUL-terminated string borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_result_error(ctx: *mut sqlpool_context, msg: *const c_char) -> c_int {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated string.
        let msg = unsafe { c_bytes(msg, "msg") }?;
        set_result(ctx, Err(String::from_utf8_lossy(msg).into_owned()))
    })
}
