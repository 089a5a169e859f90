//! `sqlpool_pool`: one pool for one database file. Any thread, concurrently.

use super::conn::{sqlpool_conn, ConnEntry};
use super::error::{call, SQLPOOL_OK};
use super::handle::HandleTable;
use super::options::sqlpool_options;
use super::{c_str, check_out, lock_for_release, new_handle, new_handle_with_action, share, write_out, Handle};
use crate::error::Error;
use crate::{Pool, Stats};
use std::ffi::{c_char, c_int};

/// A pool of connections to one database file, in one process. Thread-safe:
/// any thread may use it concurrently. Released by sqlpool_close().
pub struct sqlpool_pool {
    _private: [u8; 0],
}

/// A pool handle's object. After sqlpool_close() the handle stays valid as a
/// small tombstone, so that later calls get SQLPOOL_CLOSED (and a second
/// close SQLPOOL_MISUSE) while the pool itself is released once its last
/// connection is checked in.
pub(crate) enum PoolEntry {
    Open(Pool),
    /// A reference to a pool of the shared registry (sqlpool_open_shared()).
    Shared(Pool),
    Closed {
        path: Box<str>,
    },
}

impl PoolEntry {
    pub(crate) fn pool(&self) -> crate::Result<&Pool> {
        match self {
            PoolEntry::Open(pool) | PoolEntry::Shared(pool) => Ok(pool),
            PoolEntry::Closed { path } => Err(Error::new(
                crate::ErrorKind::Closed,
                format!("the pool on '{path}' was closed"),
            )),
        }
    }
}

pub(crate) static POOLS: HandleTable<PoolEntry> = HandleTable::new("pool");

impl Handle for sqlpool_pool {
    type Object = PoolEntry;
    const NAME: &'static str = "pool";
    fn table() -> &'static HandleTable<PoolEntry> {
        &POOLS
    }
}

/// A snapshot of a pool's state and counters (sqlpool_get_stats()). Counts
/// are since open (in a forked child, since the fork). Later versions may
/// add fields at the end only.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sqlpool_stats {
    pub pool_size: u32,
    /// -1 when overflow is unlimited.
    pub max_overflow: i32,
    /// Held by callers now.
    pub checked_out: u32,
    /// Open and waiting in the pool now.
    pub idle: u32,
    /// Open beyond pool_size now (negative below it).
    pub overflow: i32,
    /// Callers blocked in checkout now.
    pub waiting: u32,
    /// Since open.
    pub connections_created: u64,
    pub connections_closed: u64,
    /// Successful checkouts by callers.
    pub checkouts: u64,
    /// Checkouts that had to wait.
    pub waits: u64,
    pub timeouts: u64,
    pub wait_ns_total: u64,
    pub pre_ping_failures: u64,
    pub recycled: u64,
    /// Counted at the checkin that closes the connection.
    pub invalidated: u64,
    pub statement_cache_hits: u64,
    pub statement_cache_misses: u64,
    /// Checkins that had to roll back or reset.
    pub resets_on_checkin: u64,
}

impl From<Stats> for sqlpool_stats {
    fn from(s: Stats) -> Self {
        sqlpool_stats {
            pool_size: s.pool_size,
            max_overflow: s.max_overflow,
            checked_out: s.checked_out,
            idle: s.idle,
            overflow: s.overflow,
            waiting: s.waiting,
            connections_created: s.connections_created,
            connections_closed: s.connections_closed,
            checkouts: s.checkouts,
            waits: s.waits,
            timeouts: s.timeouts,
            wait_ns_total: s.wait_ns_total,
            pre_ping_failures: s.pre_ping_failures,
            recycled: s.recycled,
            invalidated: s.invalidated,
            statement_cache_hits: s.statement_cache_hits,
            statement_cache_misses: s.statement_cache_misses,
            resets_on_checkin: s.resets_on_checkin,
        }
    }
}

/// Opens a pool on `path`: a file name or an SQLite URI
/// ("file:x.db?mode=ro&immutable=1"). `opts` may be NULL for the defaults;
/// they are copied, so the caller may free them right after.
///
/// One connection is opened now, so that a missing file (SQLPOOL_CANTOPEN),
/// an unreadable one, or one that is not a database (SQLPOOL_SQLITE with
/// extended code 26) fails here with a message naming the path. ":memory:"
/// is SQLPOOL_INVALID_ARGUMENT (each connection would see its own database).
/// On success writes the new pool to `*out`; the caller releases it with
/// sqlpool_close().
///
/// # Safety
/// `path` is a NUL-terminated string borrowed for the call; `out` is NULL or
/// points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_open(
    path: *const c_char,
    opts: *const sqlpool_options,
    out: *mut *mut sqlpool_pool,
) -> c_int {
    call(|| {
        check_out(out, "out")?;
        // SAFETY: the caller passes a NUL-terminated string.
        let path = unsafe { c_str(path, "path") }?;
        let options = super::options::copy_or_default(opts)?;
        let pool = Pool::open(path, options)?;
        let handle = new_handle::<sqlpool_pool>(PoolEntry::Open(pool))?;
        // SAFETY: out was checked above.
        unsafe { write_out(out, handle) };
        Ok(SQLPOOL_OK)
    })
}

/// Checks a connection out of the pool, waiting up to timeout_ms for one
/// (served as the fairness mode says: sqlpool_options_set_fairness()). On success writes it to `*out`; the caller
/// returns it with sqlpool_checkin(). SQLPOOL_TIMEOUT after the wait, with a
/// message giving the pool state and the ms waited; SQLPOOL_CLOSED after
/// sqlpool_close().
///
/// # Safety
/// `out` is NULL or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_checkout(pool: *mut sqlpool_pool, out: *mut *mut sqlpool_conn) -> c_int {
    call(|| {
        check_out(out, "out")?;
        // SAFETY: out was checked above.
        unsafe { checkout_into(pool, None, out) }
    })
}

/// As sqlpool_checkout(), waiting up to `timeout_ms` (0: not at all)
/// instead of the pool's timeout_ms.
///
/// # Safety
/// `out` is NULL or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_checkout_timeout(
    pool: *mut sqlpool_pool,
    timeout_ms: u64,
    out: *mut *mut sqlpool_conn,
) -> c_int {
    call(|| {
        check_out(out, "out")?;
        // SAFETY: out was checked above.
        unsafe { checkout_into(pool, Some(std::time::Duration::from_millis(timeout_ms)), out) }
    })
}

/// Checks a connection out of the pool behind a handle, waiting up to
/// `timeout` (or the pool's).
pub(crate) fn checkout_from(
    pool: *mut sqlpool_pool,
    timeout: Option<std::time::Duration>,
) -> crate::Result<crate::PooledConnection> {
    let held = share(pool)?;
    if let Some(conn) = held.pool()?.try_checkout()? {
        return Ok(conn);
    }
    // Let go of the handle before waiting, so that sqlpool_close() from
    // another thread is not held up.
    let pool = held.pool()?.clone();
    drop(held);
    pool.checkout_timeout(timeout.unwrap_or(pool.options().timeout()))
}

/// Checks a connection out (waiting up to `timeout`, or the pool's) and
/// writes its new handle to `out`.
///
/// # Safety
/// `out` passed check_out.
unsafe fn checkout_into(
    pool: *mut sqlpool_pool,
    timeout: Option<std::time::Duration>,
    out: *mut *mut sqlpool_conn,
) -> crate::Result<c_int> {
    let conn = checkout_from(pool, timeout)?;
    let interrupt = conn.interrupt_fn();
    // SAFETY: the connection, which the entry owns, keeps its interrupter.
    let handle = unsafe { new_handle_with_action::<sqlpool_conn>(ConnEntry::new(conn), interrupt) }?;
    // SAFETY: the caller checked out.
    unsafe { write_out(out, handle) };
    Ok(SQLPOOL_OK)
}

/// Closes the idle connections now; new ones are opened on demand.
/// Checked-out connections are not affected.
#[no_mangle]
pub extern "C" fn sqlpool_dispose(pool: *mut sqlpool_pool) -> c_int {
    call(|| {
        share(pool)?.pool()?.dispose();
        Ok(SQLPOOL_OK)
    })
}

/// Closes the pool and releases the handle: idle connections close now;
/// checked-out ones stay usable and close at their checkin; threads waiting
/// in checkout wake with SQLPOOL_CLOSED, and later calls on the handle
/// return SQLPOOL_CLOSED. The pool's memory is released when its last
/// connection is checked in (the handle keeps a few bytes, so that it never
/// aliases another pool). NULL is a no-op (SQLPOOL_OK); closing twice is
/// SQLPOOL_MISUSE. A handle from sqlpool_open_shared() gives back its
/// reference: the shared pool closes when its last handle is closed.
#[no_mangle]
pub extern "C" fn sqlpool_close(pool: *mut sqlpool_pool) -> c_int {
    call(|| {
        if pool.is_null() {
            return Ok(SQLPOOL_OK);
        }
        let mut held = lock_for_release(pool)?;
        let path: Box<str> = match &*held {
            PoolEntry::Open(p) | PoolEntry::Shared(p) => p.path().into(),
            PoolEntry::Closed { path } => {
                return Err(Error::misuse(format!("the pool on '{path}' was closed twice")));
            }
        };
        let entry = std::mem::replace(&mut *held, PoolEntry::Closed { path });
        drop(held);
        match entry {
            PoolEntry::Open(open) => open.close()?,
            PoolEntry::Shared(shared) => crate::shared::release(&shared)?,
            PoolEntry::Closed { .. } => unreachable!("matched Closed above"),
        }
        Ok(SQLPOOL_OK)
    })
}

/// Writes the pool's stats to `*out`. `out_size` is sizeof(sqlpool_stats)
/// as the caller compiled it: smaller than this version's struct is
/// SQLPOOL_INVALID_ARGUMENT; bytes beyond it (a newer header) are zeroed.
///
/// # Safety
/// `out` is NULL or points to `out_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_get_stats(
    pool: *const sqlpool_pool,
    out: *mut sqlpool_stats,
    out_size: usize,
) -> c_int {
    call(|| {
        check_out(out, "out")?;
        let ours = std::mem::size_of::<sqlpool_stats>();
        if out_size < ours {
            return Err(Error::invalid(format!(
                "out_size {out_size} is smaller than sizeof(sqlpool_stats) = {ours} of this library version"
            )));
        }
        let stats = sqlpool_stats::from(share(pool)?.pool()?.stats());
        // SAFETY: out points to out_size >= ours writable bytes.
        unsafe {
            std::ptr::write_bytes(out.cast::<u8>().add(ours), 0, out_size - ours);
            write_out(out, stats);
        }
        Ok(SQLPOOL_OK)
    })
}

/// Writes the pool's state in SQLAlchemy QueuePool.status() wording ("Pool
/// size: 5  Connections in pool: 1 Current Overflow: -4 Current Checked out
/// connections: 0") into `buf`, NUL-terminated. With `buf` NULL and `size` 0
/// only `*needed` is set (the bytes needed, NUL included); a smaller buffer
/// is SQLPOOL_INVALID_ARGUMENT. `needed` may be NULL.
///
/// # Safety
/// `buf` is NULL or points to `size` writable bytes; `needed` is NULL or
/// points to a writable size_t.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_status(
    pool: *const sqlpool_pool,
    buf: *mut c_char,
    size: usize,
    needed: *mut usize,
) -> c_int {
    call(|| {
        let text = share(pool)?.pool()?.status();
        // SAFETY: forwarded from the caller.
        unsafe { super::write_text(&text, buf, size, needed) }?;
        Ok(SQLPOOL_OK)
    })
}

/// Writes the pool's metrics in the Prometheus text exposition format
/// (version 0.0.4; HikariCP's names adapted, label pool="<path>"):
/// sqlpool_connections, _active, _idle, _pending, _min, _max,
/// _timeout_total, _created_total, _closed_total{reason=...}, the
/// _acquire_seconds histogram, and statement cache hits and misses. Buffer
/// rules as sqlpool_status().
///
/// # Safety
/// As sqlpool_status().
#[no_mangle]
pub unsafe extern "C" fn sqlpool_metrics_prometheus(
    pool: *const sqlpool_pool,
    buf: *mut c_char,
    size: usize,
    needed: *mut usize,
) -> c_int {
    call(|| {
        let text = share(pool)?.pool()?.prometheus();
        // SAFETY: forwarded from the caller.
        unsafe { super::write_text(&text, buf, size, needed) }?;
        Ok(SQLPOOL_OK)
    })
}
