//! The shared registry in the C API: one reference-counted pool per
//! canonical database file and options, with a process-wide connection
//! budget and an idle timeout (see `crate::shared`).

use super::error::{call, SQLPOOL_OK};
use super::options::sqlpool_options;
use super::pool::{sqlpool_pool, PoolEntry};
use super::{c_str, check_out, check_out_size, new_handle, write_out, write_sized};
use crate::error::Error;
use crate::shared;
use std::ffi::{c_char, c_int};
use std::time::Duration;

/// The shared registry's limits and counters (sqlpool_shared_get_stats()).
/// Later versions may add fields at the end only.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sqlpool_shared_stats {
    /// Pools in the registry now.
    pub pools: u32,
    /// Connections of shared pools open now.
    pub open_connections: u32,
    /// The connection budget; 0 when there is no limit.
    pub max_connections: u32,
    pub _reserved: u32,
    /// The idle timeout in ms; -1 when idle pools keep their connections.
    pub idle_timeout_ms: i64,
    /// Times the idle connections of a pool not used for the idle timeout
    /// were closed.
    pub idle_disposals: u64,
    /// Times a pool closed another shared pool's idle connections to stay
    /// within the budget.
    pub budget_evictions: u64,
    /// Connection opens that had to wait for the budget.
    pub budget_waits: u64,
    /// Connection opens that gave up waiting for the budget (SQLPOOL_TIMEOUT).
    pub budget_timeouts: u64,
}

/// Opens, or finds, the process's shared pool for `path` and `opts`: the
/// same pool for the same canonical file ("a.db", "./a.db" and a symlink to
/// it are one file) and equal options, and a new one otherwise. `opts` may be
/// NULL for the defaults; they are copied.
///
/// Each call writes a new handle to `*out`, owned by the caller and released
/// with sqlpool_close(), which gives back its reference: the pool closes when
/// its last handle is closed. Shared pools count against the registry's
/// connection budget (sqlpool_shared_set_limits()). Errors as for
/// sqlpool_open(). Thread-safe.
///
/// # Safety
/// `path` is a NUL-terminated string borrowed for the call; `out` is NULL or
/// points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_open_shared(
    path: *const c_char,
    opts: *const sqlpool_options,
    out: *mut *mut sqlpool_pool,
) -> c_int {
    call(|| {
        check_out(out, "out")?;
        // SAFETY: the caller passes a NUL-terminated string.
        let path = unsafe { c_str(path, "path") }?;
        let options = super::options::copy_or_default(opts)?;
        let pool = shared::open_shared(path, &options)?;
        let handle = match new_handle::<sqlpool_pool>(PoolEntry::Shared(pool.clone())) {
            Ok(handle) => handle,
            Err(e) => {
                let _ = shared::release(&pool);
                return Err(e);
            }
        };
        // SAFETY: out was checked above.
        unsafe { write_out(out, handle) };
        Ok(SQLPOOL_OK)
    })
}

/// Sets the shared registry's limits, for all shared pools of the process:
/// `max_connections`, the most connections open at once across them (0: no
/// limit, the default); `idle_timeout_ms`, after which a shared pool nobody
/// used has its idle connections closed (-1: never; default 60000). When the
/// budget is spent, a shared pool that needs a connection closes the idle
/// connections of the least recently used shared pool, else waits up to its
/// timeout_ms and fails with SQLPOOL_TIMEOUT. An idle timeout below -1 is
/// SQLPOOL_INVALID_ARGUMENT. Thread-safe.
#[no_mangle]
pub extern "C" fn sqlpool_shared_set_limits(max_connections: u32, idle_timeout_ms: i64) -> c_int {
    call(|| {
        let idle = match idle_timeout_ms {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            ms => {
                return Err(Error::invalid(format!(
                    "invalid idle_timeout_ms = {ms}: it must be -1 (never) or >= 0"
                )))
            }
        };
        shared::set_limits(max_connections, idle);
        Ok(SQLPOOL_OK)
    })
}

/// Closes now the idle connections of every shared pool not used for the
/// idle timeout, and writes how many pools it disposed to `*out_disposed`
/// (which may be NULL). Thread-safe. A background thread does this every
/// second, and sqlpool_open_shared() at most once per 50 ms (so that
/// opening thousands of files does not look at every pool each time).
///
/// # Safety
/// `out_disposed` is NULL or points to writable memory for a uint32_t.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_shared_sweep(out_disposed: *mut u32) -> c_int {
    call(|| {
        let n = shared::sweep() as u32;
        if !out_disposed.is_null() {
            // SAFETY: checked non-NULL; the caller promises it is writable.
            unsafe { write_out(out_disposed, n) };
        }
        Ok(SQLPOOL_OK)
    })
}

/// Writes the shared registry's limits and counters to `*out`. `out_size`
/// is sizeof(sqlpool_shared_stats) as the caller compiled it: the library
/// writes min(out_size, its own sizeof(sqlpool_shared_stats)) bytes and
/// zeroes the rest up to out_size (an older, shorter struct is filled as far
/// as it reaches; a newer one reads 0 in the fields this library lacks).
/// out_size 0 is SQLPOOL_INVALID_ARGUMENT. Thread-safe.
///
/// # Safety
/// `out` is NULL or points to `out_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_shared_get_stats(out: *mut sqlpool_shared_stats, out_size: usize) -> c_int {
    call(|| {
        check_out(out, "out")?;
        check_out_size(out_size, "sqlpool_shared_stats")?;
        let s = shared::stats();
        let stats = sqlpool_shared_stats {
            pools: s.pools,
            open_connections: s.open_connections,
            max_connections: s.max_connections,
            _reserved: 0,
            idle_timeout_ms: s.idle_timeout_ms,
            idle_disposals: s.idle_disposals,
            budget_evictions: s.budget_evictions,
            budget_waits: s.budget_waits,
            budget_timeouts: s.budget_timeouts,
        };
        // SAFETY: out points to out_size writable bytes (the caller's promise).
        unsafe { write_sized(out, out_size, stats) };
        Ok(SQLPOOL_OK)
    })
}
