//! Result codes, the thread-local last error, the panic boundary that every
//! exported function runs inside, and the error and version functions.

use crate::error::{panic_text, Error, ErrorKind};
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Success.
pub const SQLPOOL_OK: c_int = 0;
/// An SQLite error; sqlpool_sqlite_errcode() gives the extended code.
pub const SQLPOOL_SQLITE: c_int = 1;
/// A NULL, stale or foreign handle; calls in the wrong order; a connection
/// used by two threads at once. Also the library's fixed limits, which only
/// leaked handles or runaway threads reach: more than 1,048,576 live handles
/// of one kind (pools, options, connections or statements) at once, or more
/// than 32,767 threads inside calls on one handle at once.
pub const SQLPOOL_MISUSE: c_int = 2;
/// A NULL non-handle pointer, invalid UTF-8, an invalid option value.
pub const SQLPOOL_INVALID_ARGUMENT: c_int = 3;
/// Checkout waited timeout_ms.
pub const SQLPOOL_TIMEOUT: c_int = 4;
/// The pool was closed.
pub const SQLPOOL_CLOSED: c_int = 5;
/// The database file is missing, unreadable or a directory.
pub const SQLPOOL_CANTOPEN: c_int = 6;
/// A Rust panic caught at the boundary: it never unwinds into C.
pub const SQLPOOL_INTERNAL: c_int = 7;
/// sqlpool_step has a row.
pub const SQLPOOL_ROW: c_int = 100;
/// sqlpool_step has finished.
pub const SQLPOOL_DONE: c_int = 101;

/// Column type: 64-bit signed integer.
pub const SQLPOOL_INTEGER: c_int = 1;
/// Column type: 64-bit IEEE floating point.
pub const SQLPOOL_FLOAT: c_int = 2;
/// Column type: UTF-8 text.
pub const SQLPOOL_TEXT: c_int = 3;
/// Column type: bytes.
pub const SQLPOOL_BLOB: c_int = 4;
/// Column type: SQL NULL.
pub const SQLPOOL_NULL: c_int = 5;

pub(crate) fn code_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Sqlite => SQLPOOL_SQLITE,
        ErrorKind::Misuse => SQLPOOL_MISUSE,
        ErrorKind::InvalidArgument => SQLPOOL_INVALID_ARGUMENT,
        ErrorKind::Timeout => SQLPOOL_TIMEOUT,
        ErrorKind::Closed => SQLPOOL_CLOSED,
        ErrorKind::CantOpen => SQLPOOL_CANTOPEN,
        ErrorKind::Internal => SQLPOOL_INTERNAL,
    }
}

struct LastError {
    message: CString,
    sqlite_code: c_int,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError {
        message: CString::default(),
        sqlite_code: 0,
    });
    /// Depth of boundary calls on this thread: the panic hook stays quiet
    /// inside them and keeps the message for the last error instead.
    static IN_BOUNDARY: Cell<u32> = const { Cell::new(0) };
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records `err` as this thread's last error and returns its code. While
/// the thread exits (a pthread key or C++ thread_local destructor calling
/// in after Rust destroyed the record) the message is lost, never the code.
pub(crate) fn record(err: &Error) -> c_int {
    let message = CString::new(err.message().replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = LastError {
                message,
                sqlite_code: err.sqlite_code(),
            }
        }
    });
    code_of(err.kind())
}

/// This thread's boundary depth; 0 once its thread-locals are gone.
fn boundary_depth() -> u32 {
    IN_BOUNDARY.try_with(Cell::get).unwrap_or(0)
}

fn add_boundary_depth(delta: i32) {
    let _ = IN_BOUNDARY.try_with(|d| d.set(d.get().wrapping_add_signed(delta)));
}

fn install_panic_hook() {
    // Not a std Once: one running at fork() would hang the child for ever.
    static ONCE: crate::fork::OnceInProcess = crate::fork::OnceInProcess::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if boundary_depth() > 0 {
                let text = format!("{info}");
                let _ = PANIC_MESSAGE.try_with(|m| {
                    if let Ok(mut m) = m.try_borrow_mut() {
                        *m = Some(text);
                    }
                });
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` inside the panic boundary. An error becomes the thread's last
/// error; a panic becomes SQLPOOL_INTERNAL; either way `on_error` gives the
/// value returned to C.
fn boundary<T>(f: impl FnOnce() -> Result<T, Error>, on_error: impl FnOnce(c_int) -> T) -> T {
    install_panic_hook();
    add_boundary_depth(1);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    add_boundary_depth(-1);
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => on_error(record(&err)),
        Err(payload) => {
            let hooked = PANIC_MESSAGE
                .try_with(|m| m.try_borrow_mut().ok().and_then(|mut m| m.take()))
                .ok()
                .flatten();
            let text = hooked.unwrap_or_else(|| panic_text(&*payload));
            let err = Error::new(
                ErrorKind::Internal,
                format!("internal error (a panic inside sqlpool): {text}"),
            );
            on_error(record(&err))
        }
    }
}

/// The boundary for functions that return a result code.
pub(crate) fn call(f: impl FnOnce() -> Result<c_int, Error>) -> c_int {
    boundary(f, |code| code)
}

/// The boundary for functions that return a value, with `default` (what
/// SQLite returns for "no such column") on error.
pub(crate) fn value<T>(default: T, f: impl FnOnce() -> Result<T, Error>) -> T {
    boundary(f, |_| default)
}

/// The message of the last failing call on this thread, naming what failed
/// and why (the path, the SQL error, the time waited); "" if none.
///
/// The pointer stays valid until the next failing call on this thread.
/// Never fails; never NULL.
#[no_mangle]
pub extern "C" fn sqlpool_errmsg() -> *const c_char {
    value(c"".as_ptr(), || {
        // The record is never borrowed mutably across a call, so try_borrow
        // fails only while the thread exits with the record gone.
        Ok(LAST_ERROR
            .try_with(|last| last.try_borrow().map(|l| l.message.as_ptr()).unwrap_or(c"".as_ptr()))
            .unwrap_or(c"".as_ptr()))
    })
}

/// The SQLite extended result code of the last failing call on this thread,
/// 0 if it was not an SQLite error.
#[no_mangle]
pub extern "C" fn sqlpool_sqlite_errcode() -> c_int {
    value(0, || {
        Ok(LAST_ERROR
            .try_with(|last| last.try_borrow().map_or(0, |l| l.sqlite_code))
            .unwrap_or(0))
    })
}

/// A static name for a result code ("SQLPOOL_TIMEOUT"); "SQLPOOL_UNKNOWN"
/// for a value that is not one. Never NULL; never freed.
#[no_mangle]
pub extern "C" fn sqlpool_errstr(rc: c_int) -> *const c_char {
    value(c"SQLPOOL_UNKNOWN".as_ptr(), || {
        let name: &'static CStr = match rc {
            SQLPOOL_OK => c"SQLPOOL_OK",
            SQLPOOL_SQLITE => c"SQLPOOL_SQLITE",
            SQLPOOL_MISUSE => c"SQLPOOL_MISUSE",
            SQLPOOL_INVALID_ARGUMENT => c"SQLPOOL_INVALID_ARGUMENT",
            SQLPOOL_TIMEOUT => c"SQLPOOL_TIMEOUT",
            SQLPOOL_CLOSED => c"SQLPOOL_CLOSED",
            SQLPOOL_CANTOPEN => c"SQLPOOL_CANTOPEN",
            SQLPOOL_INTERNAL => c"SQLPOOL_INTERNAL",
            SQLPOOL_ROW => c"SQLPOOL_ROW",
            SQLPOOL_DONE => c"SQLPOOL_DONE",
            _ => c"SQLPOOL_UNKNOWN",
        };
        Ok(name.as_ptr())
    })
}

const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(v) => v,
    Err(_) => panic!("the package version contains a NUL"),
};

/// The library's version, e.g. "0.2.0". Compare with SQLPOOL_VERSION_MAJOR,
/// _MINOR and _PATCH from the header to check header against library.
#[no_mangle]
pub extern "C" fn sqlpool_version() -> *const c_char {
    value(VERSION.as_ptr(), || Ok(VERSION.as_ptr()))
}

/// The library's version as a number: MAJOR * 1000000 + MINOR * 1000 +
/// PATCH, as SQLITE_VERSION_NUMBER; equals SQLPOOL_VERSION_NUMBER when the
/// header matches the library.
#[no_mangle]
pub extern "C" fn sqlpool_version_number() -> c_int {
    value(0, || Ok(version_number()))
}

pub(crate) fn version_number() -> c_int {
    let part = |s: &str| s.parse::<c_int>().unwrap_or(0);
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_message() -> String {
        // SAFETY: sqlpool_errmsg never returns NULL.
        unsafe { CStr::from_ptr(sqlpool_errmsg()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_internal_with_its_message_and_never_unwinds() {
        assert_eq!(call(|| panic!("boom at the boundary")), SQLPOOL_INTERNAL);
        assert!(last_message().contains("boom at the boundary"), "{}", last_message());
        assert_eq!(value(7, || -> Result<i32, Error> { panic!("again") }), 7);
        assert!(last_message().contains("again"));
    }

    #[test]
    fn errors_set_the_message_and_code_and_success_leaves_them() {
        let code = call(|| Err(Error::sqlite(1555, "constraint failed")));
        assert_eq!(code, SQLPOOL_SQLITE);
        assert_eq!(sqlpool_sqlite_errcode(), 1555);
        assert_eq!(call(|| Ok(SQLPOOL_OK)), SQLPOOL_OK);
        assert_eq!(last_message(), "constraint failed");
        assert_eq!(call(|| Err(Error::misuse("x"))), SQLPOOL_MISUSE);
        assert_eq!(sqlpool_sqlite_errcode(), 0);
    }

    #[test]
    fn every_code_has_a_distinct_static_name() {
        let codes = [0, 1, 2, 3, 4, 5, 6, 7, 100, 101];
        let names: std::collections::HashSet<_> = codes
            .iter()
            // SAFETY: errstr returns static NUL-terminated strings.
            .map(|&c| unsafe { CStr::from_ptr(sqlpool_errstr(c)) }.to_str().unwrap())
            .collect();
        assert_eq!(names.len(), codes.len());
        // SAFETY: as above.
        assert_eq!(
            unsafe { CStr::from_ptr(sqlpool_errstr(42)) }.to_str().unwrap(),
            "SQLPOOL_UNKNOWN"
        );
    }
}
