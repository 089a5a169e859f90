//! Option values that used to pass the setter and then panic or overflow
//! later (busy_timeout_ms above INT32_MAX made rusqlite panic "too big" and
//! sqlpool_open return SQLPOOL_INTERNAL) are refused by the setter, naming
//! the option and its limit.

use sqlpool::ffi::conn::sqlpool_checkin;
use sqlpool::ffi::error::*;
use sqlpool::ffi::options::*;
use sqlpool::ffi::pool::{sqlpool_checkout, sqlpool_close, sqlpool_open};
use std::ffi::CStr;

fn last_message() -> String {
    // SAFETY: sqlpool_errmsg returns a NUL-terminated string valid until the
    // next failing call on this thread.
    unsafe { CStr::from_ptr(sqlpool_errmsg()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn busy_timeout_above_int32_max_is_invalid_argument_at_the_setter() {
    let opts = sqlpool_options_new();
    assert!(!opts.is_null());
    assert_eq!(sqlpool_options_set_busy_timeout_ms(opts, i32::MAX as u32), SQLPOOL_OK);
    let rc = sqlpool_options_set_busy_timeout_ms(opts, i32::MAX as u32 + 1);
    assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
    let msg = last_message();
    assert!(msg.contains("busy_timeout_ms") && msg.contains("2147483647"), "{msg}");
    assert_eq!(
        sqlpool_options_set_busy_timeout_ms(opts, u32::MAX),
        SQLPOOL_INVALID_ARGUMENT
    );
    sqlpool_options_free(opts);
}

#[test]
fn snapshot_linger_above_a_minute_is_invalid_argument_at_the_setter() {
    let opts = sqlpool_options_new();
    assert_eq!(sqlpool_options_set_snapshot_linger_ms(opts, 60_000), SQLPOOL_OK);
    assert_eq!(
        sqlpool_options_set_snapshot_linger_ms(opts, 60_001),
        SQLPOOL_INVALID_ARGUMENT
    );
    let msg = last_message();
    assert!(
        msg.contains("snapshot_linger_ms = 60001") && msg.contains("60000"),
        "{msg}"
    );
    assert_eq!(
        sqlpool_options_set_snapshot_linger_ms(std::ptr::null_mut(), 10),
        SQLPOOL_MISUSE
    );
    sqlpool_options_free(opts);
}

#[test]
fn pool_size_above_int32_max_is_invalid_argument_at_the_setter() {
    let opts = sqlpool_options_new();
    assert_eq!(
        sqlpool_options_set_pool_size(opts, i32::MAX as u32 + 1),
        SQLPOOL_INVALID_ARGUMENT
    );
    let msg = last_message();
    assert!(msg.contains("pool_size") && msg.contains("2147483647"), "{msg}");
    sqlpool_options_free(opts);
}

#[test]
fn a_pool_opened_with_the_largest_busy_timeout_works() {
    let dir = std::env::temp_dir().join(format!("sqlpool-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::ffi::CString::new(dir.join("limits.db").to_str().unwrap()).unwrap();
    let opts = sqlpool_options_new();
    assert_eq!(sqlpool_options_set_busy_timeout_ms(opts, i32::MAX as u32), SQLPOOL_OK);
    assert_eq!(sqlpool_options_set_create(opts, true), SQLPOOL_OK);
    let mut pool = std::ptr::null_mut();
    // SAFETY: the path is NUL-terminated and out points to writable storage.
    let rc = unsafe { sqlpool_open(path.as_ptr(), opts, &mut pool) };
    sqlpool_options_free(opts);
    assert_eq!(rc, SQLPOOL_OK, "{}", last_message());
    let mut conn = std::ptr::null_mut();
    // SAFETY: pool is open; conn is a valid out-pointer.
    assert_eq!(
        unsafe { sqlpool_checkout(pool, &mut conn) },
        SQLPOOL_OK,
        "{}",
        last_message()
    );
    assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
    assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
    let _ = std::fs::remove_dir_all(&dir);
}
