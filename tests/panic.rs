//! A panic inside the library (the `test-panic` feature's hook) comes back
//! to C as SQLPOOL_INTERNAL with its message, the process lives, the pool it
//! happened in refuses further work, and other pools go on.
//! Run with: cargo test --features test-panic --test panic
#![cfg(feature = "test-panic")]

mod common;

use common::{make_db, TempDir};
use sqlpool::ffi::conn::{sqlpool_checkin, sqlpool_conn, sqlpool_exec};
use sqlpool::ffi::error::{sqlpool_errmsg, SQLPOOL_INTERNAL, SQLPOOL_OK};
use sqlpool::ffi::pool::{sqlpool_checkout, sqlpool_close, sqlpool_open, sqlpool_pool};
use std::ffi::{CStr, CString};

fn open(path: &std::path::Path) -> *mut sqlpool_pool {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut pool = std::ptr::null_mut();
    // SAFETY: a valid C string and an out-pointer to a local.
    assert_eq!(
        unsafe { sqlpool_open(c_path.as_ptr(), std::ptr::null(), &mut pool) },
        SQLPOOL_OK
    );
    pool
}

fn checkout(pool: *mut sqlpool_pool) -> (i32, *mut sqlpool_conn) {
    let mut conn = std::ptr::null_mut();
    // SAFETY: an out-pointer to a local.
    let rc = unsafe { sqlpool_checkout(pool, &mut conn) };
    (rc, conn)
}

#[test]
fn a_panic_inside_the_library_is_sqlpool_internal_and_poisons_only_its_pool() {
    let dir = TempDir::new("panic");
    let (a_path, b_path) = (dir.path("a.db"), dir.path("b.db"));
    make_db(&a_path, 1);
    make_db(&b_path, 1);
    let (a, b) = (open(&a_path), open(&b_path));
    let (rc, conn) = checkout(a);
    assert_eq!(rc, SQLPOOL_OK);
    let trigger = CString::new(sqlpool::TEST_PANIC_SQL).unwrap();
    // SAFETY: a live handle and a valid C string.
    assert_eq!(unsafe { sqlpool_exec(conn, trigger.as_ptr()) }, SQLPOOL_INTERNAL);
    // SAFETY: errmsg never returns NULL.
    let message = unsafe { CStr::from_ptr(sqlpool_errmsg()) }
        .to_string_lossy()
        .into_owned();
    assert!(message.contains("test panic requested"), "{message}");
    assert_eq!(
        sqlpool_checkin(conn),
        SQLPOOL_OK,
        "the connection can still be returned"
    );
    let (rc, _) = checkout(a);
    assert_eq!(rc, SQLPOOL_INTERNAL, "the pool that panicked refuses work");
    let (rc, other) = checkout(b);
    assert_eq!(rc, SQLPOOL_OK, "another pool goes on");
    let select = CString::new("SELECT 1").unwrap();
    // SAFETY: a live handle and a valid C string.
    assert_eq!(unsafe { sqlpool_exec(other, select.as_ptr()) }, SQLPOOL_OK);
    assert_eq!(sqlpool_checkin(other), SQLPOOL_OK);
    assert_eq!(sqlpool_close(a), SQLPOOL_OK);
    assert_eq!(sqlpool_close(b), SQLPOOL_OK);
}
