//! The shared registry's connection budget through the C API: a checkout
//! waiting for the budget wakes with SQLPOOL_CLOSED when its pool is closed
//! (and close does not wait for it), and a connection that fails to open,
//! even by a panic, gives its unit of the budget back.
//! The panic case needs: cargo test --features test-panic --test ffi_shared_budget

mod common;

use common::{ffi_checkout, make_db, TempDir};
use sqlpool::ffi::conn::sqlpool_checkin;
use sqlpool::ffi::error::{SQLPOOL_CLOSED, SQLPOOL_OK};
use sqlpool::ffi::options::{
    sqlpool_options, sqlpool_options_free, sqlpool_options_new, sqlpool_options_set_timeout_ms,
};
use sqlpool::ffi::pool::{sqlpool_close, sqlpool_pool};
use sqlpool::ffi::shared::{
    sqlpool_open_shared, sqlpool_shared_get_stats, sqlpool_shared_set_limits, sqlpool_shared_stats,
};
use std::ffi::CString;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The registry is one per process: its tests take turns.
static REGISTRY_IN_USE: Mutex<()> = Mutex::new(());

fn open_shared(path: &Path, opts: *const sqlpool_options) -> (i32, *mut sqlpool_pool) {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut pool = std::ptr::null_mut();
    // SAFETY: a valid C string, options from sqlpool_options_new (or NULL)
    // and an out-pointer to a local.
    let rc = unsafe { sqlpool_open_shared(c_path.as_ptr(), opts, &mut pool) };
    (rc, pool)
}

fn shared_stats() -> sqlpool_shared_stats {
    let mut stats = sqlpool_shared_stats::default();
    // SAFETY: out points to a local of the size passed.
    let rc = unsafe { sqlpool_shared_get_stats(&mut stats, std::mem::size_of::<sqlpool_shared_stats>()) };
    assert_eq!(rc, SQLPOOL_OK);
    stats
}

fn options_with_timeout(ms: u64) -> *mut sqlpool_options {
    let opts = sqlpool_options_new();
    assert_eq!(sqlpool_options_set_timeout_ms(opts, ms), SQLPOOL_OK);
    opts
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    CloseReturned,
    CheckoutReturned(i32),
}

#[test]
fn a_checkout_waiting_for_the_budget_wakes_closed_without_holding_close_up() {
    let _turn = REGISTRY_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("budget-close");
    let path = dir.path("a.db");
    make_db(&path, 1);
    assert_eq!(sqlpool_shared_set_limits(1, -1), SQLPOOL_OK);
    let opts = options_with_timeout(3_000);
    let (rc, pool) = open_shared(&path, opts);
    sqlpool_options_free(opts);
    assert_eq!(rc, SQLPOOL_OK);
    // The budget's one connection is checked out: the next needs a unit.
    let (rc, first) = ffi_checkout(pool);
    assert_eq!(rc, SQLPOOL_OK);
    let waits_before = shared_stats().budget_waits;

    let steps = Arc::new(Mutex::new(Vec::new()));
    let waiter = {
        let steps = steps.clone();
        let pool = pool as usize;
        std::thread::spawn(move || {
            let (rc, conn) = ffi_checkout(pool as *mut sqlpool_pool);
            steps.lock().unwrap().push(Step::CheckoutReturned(rc));
            if rc == SQLPOOL_OK {
                assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
            }
        })
    };
    while shared_stats().budget_waits == waits_before {
        std::thread::yield_now();
    }
    assert_eq!(sqlpool_close(pool), SQLPOOL_OK);
    steps.lock().unwrap().push(Step::CloseReturned);
    waiter.join().unwrap();
    assert_eq!(sqlpool_checkin(first), SQLPOOL_OK);
    assert_eq!(sqlpool_shared_set_limits(0, 60_000), SQLPOOL_OK);
    // Close wakes the waiter, so either may finish first; but only a close
    // that did not wait for the checkout lets it see CLOSED (a close waiting
    // for it would leave it to time out, SQLPOOL_TIMEOUT, first).
    let steps = steps.lock().unwrap().clone();
    assert!(steps.contains(&Step::CloseReturned));
    assert!(
        steps.contains(&Step::CheckoutReturned(SQLPOOL_CLOSED)),
        "the budget waiter is told CLOSED: {steps:?}"
    );
    assert_eq!(shared_stats().open_connections, 0);
}

#[cfg(feature = "test-panic")]
#[test]
fn a_connection_that_panics_while_opening_gives_its_budget_unit_back() {
    use sqlpool::ffi::error::SQLPOOL_INTERNAL;
    use sqlpool::ffi::options::sqlpool_options_set_init_sql;
    let _turn = REGISTRY_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("budget-panic");
    let (bad, good_a, good_b) = (dir.path("bad.db"), dir.path("a.db"), dir.path("b.db"));
    for p in [&bad, &good_a, &good_b] {
        make_db(p, 1);
    }
    assert_eq!(sqlpool_shared_set_limits(2, -1), SQLPOOL_OK);
    let panicking = options_with_timeout(500);
    let panic_sql = CString::new(sqlpool::TEST_PANIC_SQL).unwrap();
    // SAFETY: a NUL-terminated string.
    assert_eq!(
        unsafe { sqlpool_options_set_init_sql(panicking, panic_sql.as_ptr()) },
        SQLPOOL_OK
    );
    for _ in 0..4 {
        let (rc, _) = open_shared(&bad, panicking);
        assert_eq!(rc, SQLPOOL_INTERNAL);
        assert_eq!(shared_stats().open_connections, 0, "the unit came back");
    }
    sqlpool_options_free(panicking);

    // The whole budget is there for others.
    let opts = options_with_timeout(500);
    let (rc_a, a) = open_shared(&good_a, opts);
    let (rc_b, b) = open_shared(&good_b, opts);
    sqlpool_options_free(opts);
    assert_eq!((rc_a, rc_b), (SQLPOOL_OK, SQLPOOL_OK));
    let ((rc_a, ca), (rc_b, cb)) = (ffi_checkout(a), ffi_checkout(b));
    assert_eq!((rc_a, rc_b), (SQLPOOL_OK, SQLPOOL_OK));
    assert_eq!(shared_stats().open_connections, 2);
    for c in [ca, cb] {
        assert_eq!(sqlpool_checkin(c), SQLPOOL_OK);
    }
    for p in [a, b] {
        assert_eq!(sqlpool_close(p), SQLPOOL_OK);
    }
    assert_eq!(sqlpool_shared_set_limits(0, 60_000), SQLPOOL_OK);
}
