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

// Under `--cfg loom` (tests/loom_*.rs) only the concurrency core is built,
// public so that the models reach it; everything else needs SQLite.
#[cfg(not(loom))]
mod connection;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod events;
#[cfg(not(loom))]
pub mod ffi;
#[cfg(not(loom))]
mod file_watch;
#[cfg(not(loom))]
mod fork;
#[cfg(loom)]
pub mod handoff;
#[cfg(not(loom))]
mod handoff;
#[cfg(not(loom))]
mod metrics;
#[cfg(not(loom))]
mod monitor;
#[cfg(not(loom))]
mod options;
#[cfg(not(loom))]
mod pool;
mod prim;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
pub mod shared;
#[cfg(not(loom))]
mod statement;
#[cfg(not(loom))]
mod statement_cache;
#[cfg(not(loom))]
mod stats;
#[cfg(loom)]
pub mod sync;
#[cfg(not(loom))]
mod sync;

#[cfg(all(not(loom), feature = "test-panic"))]
pub use connection::TEST_PANIC_SQL;
#[cfg(not(loom))]
pub use {
    connection::{Connection, StatementRunner, StmtId},
    error::{Error, ErrorKind, Result},
    events::{Event, EventHandler, EventInfo, LogHandler, LogLevel, WAIT_BUCKETS_SECONDS},
    handoff::Fairness,
    metrics::Metrics,
    monitor::TICK as MONITOR_TICK,
    options::Options,
    pool::{Pool, PooledConnection},
    shared::SharedStats,
    statement::{Statement, Step, COLUMN_BLOB, COLUMN_FLOAT, COLUMN_INTEGER, COLUMN_NULL, COLUMN_TEXT},
    stats::Stats,
};

/// The header cbindgen generated in this build; a test compares it with the
/// committed include/sqlpool.h.
#[cfg(not(loom))]
#[doc(hidden)]
pub const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/sqlpool.h"));
