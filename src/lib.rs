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

#[cfg(not(target_pointer_width = "64"))]
compile_error!("sqlpool encodes handles in 64-bit pointers");

mod connection;
mod error;
mod events;
pub mod ffi;
mod fork;
mod function;
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

#[cfg(feature = "test-panic")]
pub use connection::TEST_PANIC_SQL;
pub use connection::{Connection, StatementRunner, StmtId};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventHandler, EventInfo, LogHandler, LogLevel, WAIT_BUCKETS_SECONDS};
pub use function::{Function, FunctionOutput, MAX_FUNCTION_ARGS};
pub use metrics::Metrics;
pub use monitor::TICK as MONITOR_TICK;
pub use options::Options;
pub use pool::{Pool, PooledConnection};
pub use shared::SharedStats;
pub use statement::{Statement, Step, Value, COLUMN_BLOB, COLUMN_FLOAT, COLUMN_INTEGER, COLUMN_NULL, COLUMN_TEXT};
pub use stats::Stats;

/// The header cbindgen generated in this build; a test compares it with the
/// committed include/sqlpool.h.
#[doc(hidden)]
pub const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/sqlpool.h"));
