//! `sqlpool_options`: pool settings, built before open. One thread at a time.

use super::error::{call, value, SQLPOOL_OK};
use super::handle::HandleTable;
use super::{c_str, lock, lock_for_release, new_handle, Handle};
use crate::{Fairness, Options};
use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

/// Pool settings. Create with sqlpool_options_new(), free with
/// sqlpool_options_free(). Copied by sqlpool_open(): free them right after.
/// Used by one thread at a time.
pub struct sqlpool_options {
    _private: [u8; 0],
}

pub(crate) static OPTIONS: HandleTable<Options> = HandleTable::new("options");

impl Handle for sqlpool_options {
    type Object = Options;
    const NAME: &'static str = "options";
    fn table() -> &'static HandleTable<Options> {
        &OPTIONS
    }
}

/// New options with the defaults (pool_size 5, max_overflow 10, timeout_ms
/// 30000, pre_ping on, recycle_ms 3600000, FIFO, read-write, no create,
/// busy_timeout_ms 5000, statement cache 32, read snapshot when read-only).
/// The caller owns the result and frees it with sqlpool_options_free();
/// NULL only if memory or handles ran out.
#[no_mangle]
pub extern "C" fn sqlpool_options_new() -> *mut sqlpool_options {
    value(std::ptr::null_mut(), || new_handle(Options::default()))
}

/// The options behind `opts`, copied (what open keeps), or the defaults for NULL.
pub(crate) fn copy_or_default(opts: *const sqlpool_options) -> crate::Result<Options> {
    if opts.is_null() {
        Ok(Options::default())
    } else {
        Ok(lock(opts)?.clone())
    }
}

/// Frees options. NULL is a no-op; a stale handle is ignored (nothing to free).
#[no_mangle]
pub extern "C" fn sqlpool_options_free(opts: *mut sqlpool_options) {
    value((), || {
        if !opts.is_null() {
            lock_for_release(opts)?.remove();
        }
        Ok(())
    })
}

fn set(opts: *mut sqlpool_options, apply: impl FnOnce(&mut Options) -> crate::Result<()>) -> c_int {
    call(|| {
        let mut held = lock(opts)?;
        // Validate on a copy so that a rejected value leaves the options as they were.
        let mut updated = held.clone();
        apply(&mut updated)?;
        *held = updated;
        Ok(SQLPOOL_OK)
    })
}

/// Connections kept open in the pool (default 5). 0 and values above
/// INT32_MAX are SQLPOOL_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_pool_size(opts: *mut sqlpool_options, n: u32) -> c_int {
    set(opts, |o| o.set_pool_size(n).map(drop))
}

/// Connections allowed beyond pool_size (default 10); -1 means no limit;
/// below -1 is SQLPOOL_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_max_overflow(opts: *mut sqlpool_options, n: i32) -> c_int {
    set(opts, |o| o.set_max_overflow(n).map(drop))
}

/// How long sqlpool_checkout() waits for a free connection, in ms (default
/// 30000); 0 means do not wait.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_timeout_ms(opts: *mut sqlpool_options, ms: u64) -> c_int {
    set(opts, |o| {
        o.set_timeout(Duration::from_millis(ms));
        Ok(())
    })
}

/// Replace, at checkout, a connection whose database file was replaced or
/// removed, or which hit a fatal error (default on). Costs two atomic loads
/// per checkout; the file is checked by a background thread every 50 ms
/// while the pool is used, and by the first checkout of a pool idle longer.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_pre_ping(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_pre_ping(on);
        Ok(())
    })
}

/// Replace connections older than this, in ms, at checkout (default
/// 3600000); -1 never. A random jitter of up to 5 % spreads expiries.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_recycle_ms(opts: *mut sqlpool_options, ms: i64) -> c_int {
    set(opts, |o| o.set_recycle_ms(ms).map(drop))
}

/// Hand out the most recently returned idle connection first (default off:
/// FIFO, which spreads use over all connections).
#[no_mangle]
pub extern "C" fn sqlpool_options_set_lifo(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_lifo(on);
        Ok(())
    })
}

/// true selects SQLPOOL_FAIRNESS_STRICT, false SQLPOOL_FAIRNESS_BARGING (the
/// 0.1 meanings of fair on and off); the default is SQLPOOL_FAIRNESS_BOUNDED.
/// See sqlpool_options_set_fairness().
#[no_mangle]
pub extern "C" fn sqlpool_options_set_fair(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_fair(on);
        Ok(())
    })
}

/// Fairness mode: first come, first served; a returned connection goes
/// straight to the oldest waiter (a thread switch per checkout under load).
pub const SQLPOOL_FAIRNESS_STRICT: c_int = 0;
/// Fairness mode (the default): a returned connection goes to whoever asks
/// first while the oldest waiter has waited less than a threshold T; once it
/// has, connections go to waiters in order until the queue is young again.
pub const SQLPOOL_FAIRNESS_BOUNDED: c_int = 1;
/// Fairness mode: a returned connection goes to whoever asks first (as r2d2
/// and SQLAlchemy's QueuePool): fastest, but a waiter may wait to its timeout.
pub const SQLPOOL_FAIRNESS_BARGING: c_int = 2;

/// Who gets a returned connection while threads wait: `mode` is
/// SQLPOOL_FAIRNESS_STRICT, _BOUNDED (the default) or _BARGING. For bounded,
/// T = max(threshold_us, 500 us x waiting threads); `threshold_us` 0 means
/// the default, 2000 us (at most 3600000000, an hour). Another mode or a
/// longer threshold is SQLPOOL_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_fairness(opts: *mut sqlpool_options, mode: c_int, threshold_us: u64) -> c_int {
    set(opts, |o| {
        let mode = match mode {
            SQLPOOL_FAIRNESS_STRICT => Fairness::Strict,
            SQLPOOL_FAIRNESS_BOUNDED => Fairness::Bounded,
            SQLPOOL_FAIRNESS_BARGING => Fairness::Barging,
            other => {
                return Err(crate::Error::invalid(format!(
                    "fairness mode {other} is not SQLPOOL_FAIRNESS_STRICT (0), _BOUNDED (1) or _BARGING (2)"
                )))
            }
        };
        o.set_fairness(mode, Duration::from_micros(threshold_us)).map(drop)
    })
}

/// Open connections read-only, with PRAGMA query_only (default off). Turns
/// on the read snapshot unless sqlpool_options_set_read_snapshot() says
/// otherwise.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_read_only(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_read_only(on);
        Ok(())
    })
}

/// Create the database file when it is missing (default off: a missing
/// file is SQLPOOL_CANTOPEN at sqlpool_open, so a typo never makes an empty
/// database).
#[no_mangle]
pub extern "C" fn sqlpool_options_set_create(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_create(on);
        Ok(())
    })
}

/// SQL run on every new connection (e.g. PRAGMAs). Copied; NULL clears it.
/// Invalid UTF-8 is SQLPOOL_INVALID_ARGUMENT.
///
/// # Safety
/// `sql` is NULL or a NUL-terminated string, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sqlpool_options_set_init_sql(opts: *mut sqlpool_options, sql: *const c_char) -> c_int {
    call(|| {
        let sql = if sql.is_null() {
            None
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            Some(unsafe { c_str(sql, "init_sql") }?)
        };
        let mut held = lock(opts)?;
        held.set_init_sql(sql)?;
        Ok(SQLPOOL_OK)
    })
}

/// How long a connection waits for another writer's lock, in ms (SQLite's
/// busy_timeout; default 5000), applied to every connection. Above INT32_MAX
/// (SQLite's limit) is SQLPOOL_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_busy_timeout_ms(opts: *mut sqlpool_options, ms: u32) -> c_int {
    set(opts, |o| o.set_busy_timeout(Duration::from_millis(ms.into())).map(drop))
}

/// Prepared statements kept per connection for reuse by sqlpool_prepare()
/// (default 32); 0 disables the cache.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_statement_cache_capacity(opts: *mut sqlpool_options, n: u32) -> c_int {
    set(opts, |o| {
        o.set_statement_cache_capacity(n);
        Ok(())
    })
}

/// Run all reading statements of one checkout in one read transaction,
/// begun at the first statement and ended at checkin (default: on when
/// read-only). The checkout sees one consistent snapshot and SQLite takes its
/// file locks once per checkout instead of once per statement. A writing
/// statement or the caller's own BEGIN ends the snapshot first.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_read_snapshot(opts: *mut sqlpool_options, on: bool) -> c_int {
    set(opts, |o| {
        o.set_read_snapshot(on);
        Ok(())
    })
}

/// Lets a read snapshot (sqlpool_options_set_read_snapshot) still open at
/// checkin stay open for the next checkouts of that connection, up to `ms`
/// milliseconds after it began, so that back-to-back reads take SQLite's
/// file locks once instead of once per checkout (about 8 system calls per
/// query). Default 0: the snapshot ends at checkin. At most 60000.
///
/// Only on databases with a rollback journal: there no SQLite writer can
/// commit while a snapshot holds its shared lock, and a checkout on a
/// lingering snapshot first reads the database's change counter (one
/// pread), starting afresh if a write through another copy of SQLite in this
/// process (which ignores our lock) moved it; so a read still sees every
/// commit made before it started. A writer (another process or connection)
/// waits for lingering snapshots: one in use ends at its connection's first
/// checkout after it turned `ms` old, and the monitor thread ends idle ones
/// within 50 ms once they are that old or it sees a writer waiting; writers
/// need a busy timeout. In WAL mode, on in-memory and shared-cache databases
/// and on connections with a URI's own vfs= the snapshot ends at checkin as
/// without this option. fork() ends the idle ones first.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_snapshot_linger_ms(opts: *mut sqlpool_options, ms: u32) -> c_int {
    set(opts, |o| o.set_snapshot_linger_ms(ms).map(|_| ()))
}

/// Event: a new connection was opened.
pub const SQLPOOL_EVENT_CONNECT: c_int = 1;
/// Event: a caller got a connection (wait_ns: how long it waited).
pub const SQLPOOL_EVENT_CHECKOUT: c_int = 2;
/// Event: a caller returned a connection.
pub const SQLPOOL_EVENT_CHECKIN: c_int = 3;
/// Event: an invalidated (or broken) connection was closed at its checkin.
pub const SQLPOOL_EVENT_INVALIDATE: c_int = 4;
/// Event: a connection older than recycle_ms was replaced at checkout.
pub const SQLPOOL_EVENT_RECYCLE: c_int = 5;
/// Event: a connection whose database file was replaced or removed was replaced.
pub const SQLPOOL_EVENT_PRE_PING_FAILURE: c_int = 6;
/// Event: a checkout timed out (connection_id 0).
pub const SQLPOOL_EVENT_TIMEOUT: c_int = 7;

/// Log level: an operation failed (a connection could not be opened).
pub const SQLPOOL_LOG_ERROR: c_int = 1;
/// Log level: a timeout, a possible connection leak.
pub const SQLPOOL_LOG_WARN: c_int = 2;
/// Log level: a replaced connection, a leaked connection's return.
pub const SQLPOOL_LOG_INFO: c_int = 3;
/// Log level: detail.
pub const SQLPOOL_LOG_DEBUG: c_int = 4;

/// Receives pool events: `event` is an SQLPOOL_EVENT_* value,
/// `connection_id` the pool-local number of the connection (from 1; 0 for a
/// timeout), `wait_ns` the time a checkout waited.
pub type sqlpool_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: c_int, connection_id: u64, wait_ns: u64)>;

/// Receives log messages: `level` is an SQLPOOL_LOG_* value; `message` is
/// valid for the call only.
pub type sqlpool_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: c_int, message: *const c_char)>;

/// The caller's user_data, handed back to its callback on any thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: the caller promises (see the setters) that user_data may be used
// from any thread; the library only passes it back.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// Report a connection held longer than `ms` through the log callback
/// (level SQLPOOL_LOG_WARN, with the holder's thread id, the time held and
/// the tag set by sqlpool_conn_set_tag()), once, and again (SQLPOOL_LOG_INFO)
/// when it is returned. -1 (the default) turns leak detection off; below -1
/// is SQLPOOL_INVALID_ARGUMENT. Checked by the pool's background thread
/// every 50 ms.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_leak_threshold_ms(opts: *mut sqlpool_options, ms: i64) -> c_int {
    set(opts, |o| {
        let threshold = match ms {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            ms => {
                return Err(crate::Error::invalid(format!(
                    "invalid option leak_threshold_ms = {ms}: it must be -1 (off) or >= 0"
                )))
            }
        };
        o.set_leak_threshold(threshold).map(drop)
    })
}

/// Calls `callback(user_data, event, connection_id, wait_ns)` for every pool
/// event (SQLPOOL_EVENT_*), on the thread where it happens, never while the
/// pool's lock is held; the callback may call into sqlpool (stats, even
/// checkout) but should be quick. NULL clears it. `user_data` is passed back
/// untouched and must be usable from any thread. When unset, events cost
/// nothing.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_event_callback(
    opts: *mut sqlpool_options,
    callback: sqlpool_event_callback,
    user_data: *mut c_void,
) -> c_int {
    set(opts, |o| {
        let handler = callback.map(|f| {
            let user_data = UserData(user_data);
            crate::EventHandler::new(move |event, info| {
                let data = user_data;
                // SAFETY: the caller gave a callback that accepts these
                // arguments and a user_data it may get back on any thread.
                unsafe { f(data.0, event as c_int, info.connection_id, info.wait_ns) }
            })
        });
        o.set_event_handler(handler);
        Ok(())
    })
}

/// Calls `callback(user_data, level, message)` for the pool's log messages
/// (SQLPOOL_LOG_*): failures to open connections, timeouts, replaced
/// connections, leaks. Leak reports come from the pool's background thread.
/// NULL clears it. `user_data` must be usable from any thread.
#[no_mangle]
pub extern "C" fn sqlpool_options_set_log_callback(
    opts: *mut sqlpool_options,
    callback: sqlpool_log_callback,
    user_data: *mut c_void,
) -> c_int {
    set(opts, |o| {
        let handler = callback.map(|f| {
            let user_data = UserData(user_data);
            crate::LogHandler::new(move |level, message| {
                let data = user_data;
                let text = std::ffi::CString::new(message.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: as for the event callback; text lives for the call.
                unsafe { f(data.0, level as c_int, text.as_ptr()) }
            })
        });
        o.set_log_handler(handler);
        Ok(())
    })
}
