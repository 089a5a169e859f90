//! `sqlpool_pool`: one pool for one database file. Any thread, concurrently.

use super::conn::{sqlpool_conn, ConnEntry};
use super::error::{call, SQLPOOL_OK};
use super::handle::{HandleTable, Refusal, Shared};
use super::options::sqlpool_options;
use super::{
    address, c_str, check_out, check_out_size, new_handle, new_handle_with_action, write_out, write_sized, Handle,
};
use crate::error::Error;
use crate::pool::WeakPool;
use crate::{Pool, Stats};
use std::cell::RefCell;
use std::ffi::{c_char, c_int};

/// A pool of connections to one database file, in one process. Thread-safe:
/// any thread may use it concurrently. Released by sqlpool_close().
pub struct sqlpool_pool {
    _private: [u8; 0],
}

/// A pool handle's object. sqlpool_close() releases the handle and its
/// slot, which a later pool may reuse under a newer generation: the closed
/// handle is then "released" (an older generation than its slot's), which
/// the pool functions answer with SQLPOOL_CLOSED, and a second close with
/// SQLPOOL_MISUSE. The pool itself lives on until its last connection is
/// checked in.
pub(crate) enum PoolEntry {
    Open(Pool),
    /// A reference to a pool of the shared registry (sqlpool_open_shared()).
    Shared(Pool),
}

impl PoolEntry {
    pub(crate) fn pool(&self) -> &Pool {
        match self {
            PoolEntry::Open(pool) | PoolEntry::Shared(pool) => pool,
        }
    }
}

pub(crate) static POOLS: HandleTable<PoolEntry> = HandleTable::new("pool");

/// Shares a pool handle for one call. A handle that was closed, or is being
/// closed by another thread right now, is SQLPOOL_CLOSED.
#[inline]
fn share(pool: *const sqlpool_pool) -> crate::Result<Shared<'static, PoolEntry>> {
    POOLS.try_shared(address(pool)?).map_err(|refusal| match refusal {
        Refusal::Released | Refusal::Busy => Error::new(
            crate::ErrorKind::Closed,
            "the pool was closed (sqlpool_close() was called on this handle)",
        ),
        other => POOLS.refusal_error(other),
    })
}

/// A pool of a live handle, owned: the handle is not held while the caller
/// waits or opens a connection, so that sqlpool_close() never waits for it.
#[inline]
fn pool_of(pool: *const sqlpool_pool) -> crate::Result<Pool> {
    Ok(share(pool)?.pool().clone())
}

/// Ways of the per-thread cache of recent pools, chosen by handle slot.
const RECENT_POOLS: usize = 8;

thread_local! {
    /// Pool handles this thread checked out from lately, with a reference
    /// to their pool that does not keep it alive.
    static RECENT_POOLS_BY_HANDLE: RefCell<[Option<(u64, WeakPool)>; RECENT_POOLS]> =
        const { RefCell::new([const { None }; RECENT_POOLS]) };
}

/// As `pool_of`, for checkouts: a handle this thread used lately is checked
/// with one load (still live, no close under way) and its pool taken from
/// the cache (one atomic step), instead of sharing the handle for the
/// length of a clone (three). Handles are never reused, so a cached entry
/// whose handle is live still names the pool in the handle's slot; a close
/// racing the check may still let the checkout through, as with `pool_of`
/// (the connection then closes at checkin).
#[inline(always)]
fn pool_for_checkout(pool: *const sqlpool_pool) -> crate::Result<Pool> {
    let handle = address(pool)?;
    let way = handle as usize % RECENT_POOLS;
    let recent = RECENT_POOLS_BY_HANDLE
        .try_with(|recent| match &recent.try_borrow().ok()?[way] {
            Some((cached, weak)) if *cached == handle && POOLS.is_open(handle) => weak.upgrade(),
            _ => None,
        })
        .ok()
        .flatten();
    match recent {
        Some(pool) => Ok(pool),
        None => Ok(remember(handle, way, pool_of(pool)?)),
    }
}

/// Keeps `pool` as this thread's recent pool of `handle`.
#[cold]
fn remember(handle: u64, way: usize, pool: Pool) -> Pool {
    let _ = RECENT_POOLS_BY_HANDLE.try_with(|recent| {
        if let Ok(mut recent) = recent.try_borrow_mut() {
            recent[way] = Some((handle, pool.downgrade()));
        }
    });
    pool
}

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
/// (served as the fairness mode says: sqlpool_options_set_fairness()). On
/// success writes it to `*out`; the caller returns it with sqlpool_checkin(). SQLPOOL_TIMEOUT after the wait, with a
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
#[inline(always)]
pub(crate) fn checkout_from(
    pool: *mut sqlpool_pool,
    timeout: Option<std::time::Duration>,
) -> crate::Result<crate::PooledConnection> {
    pool_for_checkout(pool)?.checkout_owned(timeout)
}

/// Checks a connection out (waiting up to `timeout`, or the pool's) and
/// writes its new handle to `out`.
///
/// # Safety
/// `out` passed check_out.
#[inline(always)]
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
        // Closing connections may take a while (a WAL checkpoint): not
        // while holding the handle, which sqlpool_close() would wait for.
        pool_of(pool)?.dispose();
        Ok(SQLPOOL_OK)
    })
}

/// Closes the pool and releases the handle. Idle connections close now.
/// Threads waiting in checkout (for a connection, or for the shared
/// registry's budget) wake with SQLPOOL_CLOSED; later calls on the handle,
/// and calls racing with the close, return SQLPOOL_OK or SQLPOOL_CLOSED.
/// Close returns promptly: it never waits for a checkout that is opening a
/// connection or waiting (such a checkout may still succeed; its connection
/// closes at checkin).
///
/// Checked-out connections stay valid until their checkin, which closes
/// them; but the statements running on them when the pool closes (an exec,
/// or a statement stepped but not yet DONE or reset) are interrupted: their
/// next sqlpool_step() or sqlpool_exec() fails with SQLPOOL_SQLITE, extended
/// code 9 (SQLITE_INTERRUPT). Once none of its statements is running (reset
/// or finalized), the connection works normally until its checkin.
///
/// The pool's memory is released when its last connection is checked in;
/// the handle's slot may be reused by a later pool, never aliased: the old
/// handle keeps answering SQLPOOL_CLOSED. NULL is a no-op (SQLPOOL_OK);
/// closing twice is SQLPOOL_MISUSE. A handle from sqlpool_open_shared()
/// gives back its reference: the shared pool closes when its last handle is
/// closed.
#[no_mangle]
pub extern "C" fn sqlpool_close(pool: *mut sqlpool_pool) -> c_int {
    call(|| {
        if pool.is_null() {
            return Ok(SQLPOOL_OK);
        }
        let entry = POOLS.release_shared(address(pool)?).map_err(|refusal| match refusal {
            Refusal::Released | Refusal::Busy => {
                Error::misuse("the pool was closed twice (sqlpool_close() was already called on this handle)")
            }
            other => POOLS.refusal_error(other),
        })?;
        match entry {
            PoolEntry::Open(open) => open.close()?,
            PoolEntry::Shared(shared) => crate::shared::release(&shared)?,
        }
        Ok(SQLPOOL_OK)
    })
}

/// Writes the pool's stats to `*out`. `out_size` is sizeof(sqlpool_stats)
/// as the caller compiled it: the library writes min(out_size, its own
/// sizeof(sqlpool_stats)) bytes and zeroes the rest up to out_size, so a
/// program built against an older, shorter struct (0.1's was 96 bytes, up to
/// `invalidated`) gets the fields it knows, and one built against a newer
/// header reads 0 in the fields this library lacks. out_size 0 is
/// SQLPOOL_INVALID_ARGUMENT.
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
        check_out_size(out_size, "sqlpool_stats")?;
        let stats = sqlpool_stats::from(share(pool)?.pool().stats());
        // SAFETY: out points to out_size writable bytes (the caller's promise).
        unsafe { write_sized(out, out_size, stats) };
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
        let text = share(pool)?.pool().status();
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
        let text = share(pool)?.pool().prometheus();
        // SAFETY: forwarded from the caller.
        unsafe { super::write_text(&text, buf, size, needed) }?;
        Ok(SQLPOOL_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::conn::sqlpool_checkin;
    use crate::ffi::error::{SQLPOOL_CLOSED, SQLPOOL_OK};
    use crate::ffi::lock;
    use crate::test_support::scratch_dir;
    use crate::Options;

    fn open_handle(dir: &std::path::Path, name: &str) -> (*mut sqlpool_pool, Pool) {
        let mut opts = Options::default();
        opts.set_create(true);
        let pool = Pool::open(dir.join(name).to_str().unwrap(), opts).unwrap();
        (new_handle::<sqlpool_pool>(PoolEntry::Open(pool.clone())).unwrap(), pool)
    }

    /// Checks out through `handle`: Ok(whether the connection is `pool`'s) or the code.
    fn checkout_is_of(handle: *mut sqlpool_pool, pool: &Pool) -> Result<bool, c_int> {
        let mut conn = std::ptr::null_mut();
        // SAFETY: conn is a writable pointer.
        let rc = unsafe { sqlpool_checkout(handle, &mut conn) };
        if rc != SQLPOOL_OK {
            return Err(rc);
        }
        let same = lock(conn).unwrap().conn.pool().same_pool(pool);
        assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
        Ok(same)
    }

    /// These tests count on the slot a close frees being the next one handed out.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The per-thread cache of recent pools never outlives its handle: a
    /// closed handle is CLOSED, and a later pool in the same slot (same
    /// cache way) is checked out from, not the cached one.
    #[test]
    fn a_recently_used_pool_handle_is_closed_after_close_and_its_slot_reuse_serves_the_new_pool() {
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = scratch_dir("recent-pools");
        let (first, first_pool) = open_handle(&dir, "a.db");
        assert_eq!(checkout_is_of(first, &first_pool), Ok(true));
        assert_eq!(checkout_is_of(first, &first_pool), Ok(true), "from the cache");
        assert_eq!(sqlpool_close(first), SQLPOOL_OK);
        assert_eq!(checkout_is_of(first, &first_pool), Err(SQLPOOL_CLOSED));

        let (second, second_pool) = open_handle(&dir, "b.db");
        assert_eq!(
            (second as usize) & 0xffff_ffff,
            (first as usize) & 0xffff_ffff,
            "the slot is reused"
        );
        assert_eq!(checkout_is_of(second, &second_pool), Ok(true));
        assert_eq!(checkout_is_of(first, &first_pool), Err(SQLPOOL_CLOSED), "after the new pool was cached");
        assert_eq!(checkout_is_of(second, &second_pool), Ok(true));
        assert_eq!(sqlpool_close(second), SQLPOOL_OK);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A handle being closed (held exclusively by sqlpool_close) is CLOSED
    /// to a checkout, cached or not, as it was before the cache.
    #[test]
    fn a_recently_used_pool_handle_being_closed_is_refused() {
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = scratch_dir("recent-pools-closing");
        let (handle, pool) = open_handle(&dir, "c.db");
        assert_eq!(checkout_is_of(handle, &pool), Ok(true));
        {
            let _closing = POOLS.lock_exclusive(address(handle).unwrap()).unwrap();
            assert_eq!(checkout_is_of(handle, &pool), Err(SQLPOOL_CLOSED));
        }
        assert_eq!(checkout_is_of(handle, &pool), Ok(true));
        assert_eq!(sqlpool_close(handle), SQLPOOL_OK);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A closed handle on a shared pool that other handles keep open is
    /// CLOSED, though the pool its cache entry names is still open.
    #[test]
    fn a_recently_used_shared_pool_handle_is_closed_after_close_while_the_pool_stays_open() {
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = scratch_dir("recent-pools-shared");
        let (creator, _) = open_handle(&dir, "s.db");
        assert_eq!(sqlpool_close(creator), SQLPOOL_OK);
        let path = std::ffi::CString::new(dir.join("s.db").to_str().unwrap()).unwrap();
        let (mut closed, mut kept) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: a NUL-terminated path and writable out-pointers.
        unsafe {
            assert_eq!(crate::ffi::shared::sqlpool_open_shared(path.as_ptr(), std::ptr::null(), &mut closed), SQLPOOL_OK);
            assert_eq!(crate::ffi::shared::sqlpool_open_shared(path.as_ptr(), std::ptr::null(), &mut kept), SQLPOOL_OK);
        }
        let pool = share(kept).unwrap().pool().clone();
        assert_eq!(checkout_is_of(closed, &pool), Ok(true));
        assert_eq!(checkout_is_of(closed, &pool), Ok(true), "from the cache");
        assert_eq!(sqlpool_close(closed), SQLPOOL_OK);
        assert_eq!(checkout_is_of(closed, &pool), Err(SQLPOOL_CLOSED));
        assert_eq!(checkout_is_of(kept, &pool), Ok(true), "the pool is open");
        assert_eq!(sqlpool_close(kept), SQLPOOL_OK);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
