//! sqlpool: a pool of SQLite connections, shared by C, C++ and Python through
//! a C ABI (`src/ffi`), over a safe Rust core (everything else here).
//!
//! ```no_run
//! use sqlpool::{Options, Pool};
//! let pool = Pool::open("log.db", Options::default())?;
//! let mut conn = pool.checkout()?;
//! conn.exec("CREATE TABLE IF NOT EXISTS t(x)")?;
//! # Ok::<(), sqlpool::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(loom, allow(dead_code))]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("sqlpool encodes handles in 64-bit pointers");

/// Items left out of `--cfg loom` builds (tests/loom_*.rs), which compile
/// only the concurrency core, public so that the models reach it: the rest
/// needs SQLite.
macro_rules! not_under_loom {
    ($($item:item)*) => { $(#[cfg(not(loom))] $item)* };
}

not_under_loom! {
    mod connection;
    mod error;
    mod events;
    pub mod ffi;
    mod file_watch;
    mod fork;
    mod function;
    mod handoff;
    mod metrics;
    mod monitor;
    mod options;
    mod pool;
    mod registry;
    pub mod shared;
    mod statement;
    mod statement_cache;
    mod stats;
    mod sync;
    mod vfs;
}
#[cfg(all(test, not(loom)))]
mod test_support;
#[cfg(loom)]
pub mod handoff;
mod prim;
#[cfg(loom)]
pub mod slot;
#[cfg(not(loom))]
mod slot;
#[cfg(loom)]
pub mod slot_table;
#[cfg(not(loom))]
mod slot_table;
#[cfg(loom)]
pub mod sync;

#[cfg(all(not(loom), feature = "test-panic"))]
pub use connection::TEST_PANIC_SQL;
#[cfg(not(loom))]
pub use {
    connection::{Connection, StatementRunner, StmtId},
    error::{Error, ErrorKind, Result},
    events::{Event, EventHandler, EventInfo, LogHandler, LogLevel, WAIT_BUCKETS_SECONDS},
    function::{Function, FunctionOutput, MAX_FUNCTION_ARGS},
    handoff::Fairness,
    metrics::Metrics,
    monitor::TICK as MONITOR_TICK,
    options::{Options, MAX_BUSY_TIMEOUT_MS, MAX_POOL_SIZE},
    pool::{Pool, PooledConnection},
    shared::SharedStats,
    statement::{Statement, Step, Value, COLUMN_BLOB, COLUMN_FLOAT, COLUMN_INTEGER, COLUMN_NULL, COLUMN_TEXT},
    stats::Stats,
};

/// The header cbindgen generated in this build; a test compares it with the
/// committed include/sqlpool.h.
#[cfg(not(loom))]
#[doc(hidden)]
pub const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/sqlpool.h"));
