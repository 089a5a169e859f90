//! Shared by the benchmarks: the nuPlan-shaped database (generated once from
//! examples/nuplan/schema.sql + generate.sql), the 145-query step parsed from
//! examples/nuplan/step_queries.sql, the result checksum of
//! examples/simulator (so that every way of running the step is checked to
//! return the same rows), the point query, and thin wrappers over the C API
//! called through its extern functions.
//!
//! Environment:
//!   SQLPOOL_BENCH_DIR   where the database and the result files go
//!                       (default: <repo>/build/bench)
//!   SQLPOOL_BENCH_QUICK set (to anything but 0) by `scripts/bench.sh --quick`:
//!                       the custom-loop benchmarks run a few operations only.

#![allow(dead_code)]

use rusqlite::types::ValueRef;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

pub const SCHEMA_SQL: &str = include_str!("../../examples/nuplan/schema.sql");
pub const GENERATE_SQL: &str = include_str!("../../examples/nuplan/generate.sql");
pub const STEP_SQL: &str = include_str!("../../examples/nuplan/step_queries.sql");

/// nuPlan's first scenario query: one row by primary key.
pub const POINT_SQL: &str = "SELECT timestamp FROM lidar_pc WHERE token = ?";

pub fn quick() -> bool {
    std::env::var("SQLPOOL_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::args().any(|a| a == "--quick" || a == "--test")
}

pub fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("SQLPOOL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("build/bench"));
    std::fs::create_dir_all(&dir).expect("create the benchmark directory");
    dir
}

/// The nuPlan-shaped log database, generated on first use (about 5 MB, a
/// second) and kept for later runs. nuplan.db.sql holds a hash of the
/// schema.sql + generate.sql that made it: when they change, the database is
/// generated again (scripts/bench.sh's C and Python benchmarks use it too).
pub fn nuplan_db() -> String {
    let path = bench_dir().join("nuplan.db");
    let stamp_path = bench_dir().join("nuplan.db.sql");
    let stamp = format!(
        "{:016x}\n",
        fold_bytes(fold_bytes(0, SCHEMA_SQL.as_bytes()), GENERATE_SQL.as_bytes())
    );
    if path.exists() && std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(&stamp[..]) {
        std::fs::remove_file(&path).expect("remove the outdated database");
    }
    if !path.exists() {
        let tmp = bench_dir().join(format!("nuplan.db.tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let db = rusqlite::Connection::open(&tmp).expect("create the database");
        db.execute_batch(SCHEMA_SQL).expect("schema.sql");
        db.execute_batch(GENERATE_SQL).expect("generate.sql");
        drop(db);
        std::fs::rename(&tmp, &path).expect("rename the database into place");
        std::fs::write(&stamp_path, &stamp).expect("write nuplan.db.sql");
    }
    path.to_str().expect("UTF-8 path").to_owned()
}

/// Writes a result file (JSON) for scripts/bench.sh's report.
pub fn write_result(name: &str, json: &str) {
    let dir = bench_dir().join("results");
    std::fs::create_dir_all(&dir).expect("create the results directory");
    std::fs::write(dir.join(format!("{name}.json")), json).expect("write a result file");
}

// ------------------------------------------------------------------ the step

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    LidarPcToken,
    Timestamp,
    WindowStart,
    WindowEnd,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub sql: &'static str,
    pub c_sql: CString,
    pub params: Vec<Var>,
}

pub type Batch = Vec<Query>;

/// Parses step_queries.sql (its format is documented at its top).
pub fn step_batches() -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for (n, line) in STEP_SQL.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let where_ = format!("step_queries.sql:{}", n + 1);
        if let Some(rest) = line.strip_prefix("-- batch ") {
            let num: usize = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("{where_}: bad batch line"));
            assert_eq!(num, batches.len() + 1, "{where_}: batches out of order");
            batches.push(Vec::new());
            continue;
        }
        if line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let at = line
            .rfind(" -- params:")
            .unwrap_or_else(|| panic!("{where_}: no '-- params:'"));
        let sql = &line[..at];
        let params: Vec<Var> = line[at + " -- params:".len()..]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|name| match name {
                "lidar_pc_token" => Var::LidarPcToken,
                "timestamp" => Var::Timestamp,
                "timestamp_window_start" => Var::WindowStart,
                "timestamp_window_end" => Var::WindowEnd,
                other => panic!("{where_}: unknown step variable {other}"),
            })
            .collect();
        assert_eq!(sql.matches('?').count(), params.len(), "{where_}: ? and params differ");
        batches
            .last_mut()
            .unwrap_or_else(|| panic!("{where_}: query before batch 1"))
            .push(Query {
                sql,
                c_sql: CString::new(sql).unwrap(),
                params,
            });
    }
    assert_eq!(batches.len(), 8, "8 batches");
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 145, "145 queries");
    batches
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub token: Vec<u8>,
    pub timestamp: i64,
}

impl Frame {
    pub fn value(&self, v: Var) -> i64 {
        match v {
            Var::LidarPcToken => unreachable!("a blob"),
            Var::Timestamp => self.timestamp,
            Var::WindowStart => self.timestamp - 2_000_000,
            Var::WindowEnd => self.timestamp + 8_000_000,
        }
    }
}

/// The lidar_pc frames, in time order.
pub fn frames(db: &str) -> Vec<Frame> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok(Frame {
                token: r.get(0)?,
                timestamp: r.get(1)?,
            })
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

// ------------------------------------------------------------------ checksum
// The same fold as examples/simulator (and examples/nuplan/check_sql.py).

#[inline]
pub fn fold(mut h: u64, v: u64) -> u64 {
    h ^= v;
    h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

#[inline]
pub fn fold_bytes(h: u64, data: &[u8]) -> u64 {
    let mut x: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in data {
        x = (x ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    fold(fold(h, data.len() as u64), x)
}

const END_OF_QUERY: u64 = 0xBA7C4;
const NULL_MARK: u64 = 0x6E75_6C6C;

fn fold_value(h: u64, v: ValueRef<'_>) -> u64 {
    match v {
        ValueRef::Integer(i) => fold(h, i as u64),
        ValueRef::Real(d) => fold(h, d.to_bits()),
        ValueRef::Text(s) => fold_bytes(h, s),
        ValueRef::Blob(b) => fold_bytes(h, b),
        ValueRef::Null => fold(h, NULL_MARK),
    }
}

// ------------------------------------------------------------------ runners

/// Runs one batch on a rusqlite connection: `cached` uses prepare_cached (a
/// held connection, r2d2), otherwise each query is compiled afresh (a new
/// connection per batch, as nuPlan does).
pub fn batch_rusqlite(c: &rusqlite::Connection, batch: &Batch, f: &Frame, cached: bool) -> u64 {
    let mut h = 0u64;
    for q in batch {
        let mut fresh;
        let mut cached_st;
        let st: &mut rusqlite::Statement<'_> = if cached {
            cached_st = c.prepare_cached(q.sql).unwrap();
            &mut cached_st
        } else {
            fresh = c.prepare(q.sql).unwrap();
            &mut fresh
        };
        for (i, v) in q.params.iter().enumerate() {
            match v {
                Var::LidarPcToken => st.raw_bind_parameter(i + 1, &f.token[..]).unwrap(),
                v => st.raw_bind_parameter(i + 1, f.value(*v)).unwrap(),
            }
        }
        let columns = st.column_count();
        let mut rows = st.raw_query();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                h = fold_value(h, row.get_ref(i).unwrap());
            }
        }
        h = fold(h, END_OF_QUERY);
    }
    h
}

/// Runs one batch through sqlpool's Rust API.
pub fn batch_sqlpool(c: &mut sqlpool::Connection, batch: &Batch, f: &Frame) -> u64 {
    use sqlpool::{Step, COLUMN_BLOB, COLUMN_FLOAT, COLUMN_INTEGER, COLUMN_TEXT};
    let mut h = 0u64;
    for q in batch {
        let id = c.prepare(q.sql).unwrap();
        {
            let st = c.statement(id).unwrap();
            for (i, v) in q.params.iter().enumerate() {
                let idx = i as i32 + 1;
                match v {
                    Var::LidarPcToken => st.bind_blob(idx, &f.token).unwrap(),
                    v => st.bind_int64(idx, f.value(*v)).unwrap(),
                }
            }
        }
        while c.step(id).unwrap() == Step::Row {
            let st = c.statement(id).unwrap();
            for i in 0..st.column_count() {
                h = match st.column_type(i).unwrap() {
                    COLUMN_INTEGER => fold(h, st.column_int64(i).unwrap() as u64),
                    COLUMN_FLOAT => fold(h, st.column_double(i).unwrap().to_bits()),
                    COLUMN_TEXT => fold_bytes(h, st.column_text(i).unwrap().unwrap_or(&[])),
                    COLUMN_BLOB => fold_bytes(h, st.column_blob(i).unwrap().unwrap_or(&[])),
                    _ => fold(h, NULL_MARK),
                };
            }
        }
        h = fold(h, END_OF_QUERY);
        c.finalize(id).unwrap();
    }
    h
}

/// Runs a whole step: `with_conn` is given each batch in turn.
pub fn run_step(batches: &[Batch], mut with_conn: impl FnMut(&Batch) -> u64) -> u64 {
    let mut h = 0u64;
    for b in batches {
        h = fold(h, with_conn(b));
    }
    h
}

// ------------------------------------------------------------------ the C API
// Called through the extern "C" functions, exactly as C calls them.

pub mod capi {
    use super::*;
    use sqlpool::ffi::conn::{sqlpool_checkin, sqlpool_conn, sqlpool_prepare};
    use sqlpool::ffi::error::{sqlpool_errmsg, SQLPOOL_OK, SQLPOOL_ROW};
    use sqlpool::ffi::options as o;
    use sqlpool::ffi::pool::{
        sqlpool_checkout, sqlpool_close, sqlpool_get_stats, sqlpool_open, sqlpool_pool, sqlpool_stats,
    };
    use sqlpool::ffi::stmt as s;

    pub fn check(rc: i32, what: &str) {
        if rc != SQLPOOL_OK {
            // SAFETY: errmsg returns a NUL-terminated string.
            let msg = unsafe { CStr::from_ptr(sqlpool_errmsg()) };
            panic!("{what}: rc {rc}: {}", msg.to_string_lossy());
        }
    }

    /// Settings for [`open`], the C option setters' names.
    #[derive(Clone, Copy)]
    pub struct COpts {
        pub pool_size: u32,
        pub max_overflow: i32,
        pub pre_ping: bool,
        pub read_only: bool,
        pub read_snapshot: Option<bool>,
        pub timeout_ms: u64,
    }

    impl Default for COpts {
        fn default() -> Self {
            COpts {
                pool_size: 5,
                max_overflow: 10,
                pre_ping: true,
                read_only: false,
                read_snapshot: None,
                timeout_ms: 30_000,
            }
        }
    }

    pub struct CPool(pub *mut sqlpool_pool);
    // SAFETY: pool handles may be used from any thread (API.md).
    unsafe impl Send for CPool {}
    unsafe impl Sync for CPool {}

    pub fn open(path: &str, opts: COpts) -> CPool {
        let p = CString::new(path).unwrap();
        let opt = o::sqlpool_options_new();
        check(o::sqlpool_options_set_pool_size(opt, opts.pool_size), "pool_size");
        check(
            o::sqlpool_options_set_max_overflow(opt, opts.max_overflow),
            "max_overflow",
        );
        check(o::sqlpool_options_set_pre_ping(opt, opts.pre_ping), "pre_ping");
        check(o::sqlpool_options_set_read_only(opt, opts.read_only), "read_only");
        check(o::sqlpool_options_set_timeout_ms(opt, opts.timeout_ms), "timeout");
        if let Some(on) = opts.read_snapshot {
            check(o::sqlpool_options_set_read_snapshot(opt, on), "read_snapshot");
        }
        let mut pool = std::ptr::null_mut();
        // SAFETY: valid string, options and out-pointer.
        check(unsafe { sqlpool_open(p.as_ptr(), opt, &mut pool) }, "open");
        o::sqlpool_options_free(opt);
        CPool(pool)
    }

    impl CPool {
        #[inline]
        pub fn checkout(&self) -> *mut sqlpool_conn {
            let mut c = std::ptr::null_mut();
            // SAFETY: valid out-pointer.
            check(unsafe { sqlpool_checkout(self.0, &mut c) }, "checkout");
            c
        }

        pub fn stats(&self) -> sqlpool_stats {
            let mut st = sqlpool_stats::default();
            // SAFETY: st is a sqlpool_stats of the size passed.
            check(
                unsafe { sqlpool_get_stats(self.0, &mut st, std::mem::size_of_val(&st)) },
                "stats",
            );
            st
        }
    }

    impl Drop for CPool {
        fn drop(&mut self) {
            check(sqlpool_close(self.0), "close");
        }
    }

    #[inline]
    pub fn checkin(c: *mut sqlpool_conn) {
        check(sqlpool_checkin(c), "checkin");
    }

    /// The point query through the C API; returns the timestamp.
    #[inline]
    pub fn point_query(c: *mut sqlpool_conn, sql: &CStr, token: &[u8]) -> i64 {
        let mut st = std::ptr::null_mut();
        // SAFETY: valid pointers for the call.
        unsafe {
            check(sqlpool_prepare(c, sql.as_ptr(), &mut st), "prepare");
            check(
                s::sqlpool_bind_blob(st, 1, token.as_ptr().cast(), token.len() as i64),
                "bind",
            );
        }
        let rc = s::sqlpool_step(st);
        assert_eq!(rc, SQLPOOL_ROW, "point query found no row");
        let v = s::sqlpool_column_int64(st, 0);
        check(s::sqlpool_finalize(st), "finalize");
        v
    }

    /// One batch of the step through the C API.
    pub fn batch(c: *mut sqlpool_conn, batch: &Batch, f: &Frame) -> u64 {
        use sqlpool::ffi::error::{SQLPOOL_BLOB, SQLPOOL_FLOAT, SQLPOOL_INTEGER, SQLPOOL_TEXT};
        let mut h = 0u64;
        for q in batch {
            let mut st = std::ptr::null_mut();
            // SAFETY: valid pointers for the calls; column pointers are read
            // before the next step.
            unsafe {
                check(sqlpool_prepare(c, q.c_sql.as_ptr(), &mut st), "prepare");
                for (i, v) in q.params.iter().enumerate() {
                    let idx = i as i32 + 1;
                    let rc = match v {
                        Var::LidarPcToken => {
                            s::sqlpool_bind_blob(st, idx, f.token.as_ptr().cast(), f.token.len() as i64)
                        }
                        v => s::sqlpool_bind_int64(st, idx, f.value(*v)),
                    };
                    check(rc, "bind");
                }
                let columns = s::sqlpool_column_count(st);
                loop {
                    let rc = s::sqlpool_step(st);
                    if rc != SQLPOOL_ROW {
                        check(if rc == 101 { 0 } else { rc }, "step");
                        break;
                    }
                    for i in 0..columns {
                        h = match s::sqlpool_column_type(st, i) {
                            SQLPOOL_INTEGER => fold(h, s::sqlpool_column_int64(st, i) as u64),
                            SQLPOOL_FLOAT => fold(h, s::sqlpool_column_double(st, i).to_bits()),
                            SQLPOOL_TEXT | SQLPOOL_BLOB => {
                                let p = s::sqlpool_column_blob(st, i);
                                let n = s::sqlpool_column_bytes(st, i) as usize;
                                let bytes = if p.is_null() {
                                    &[][..]
                                } else {
                                    std::slice::from_raw_parts(p.cast::<u8>(), n)
                                };
                                fold_bytes(h, bytes)
                            }
                            _ => fold(h, NULL_MARK),
                        };
                    }
                }
                check(s::sqlpool_finalize(st), "finalize");
            }
            h = fold(h, END_OF_QUERY);
        }
        h
    }
}

// ------------------------------------------------------------------ helpers

/// Opens an sqlpool pool through the Rust API.
pub fn sqlpool_pool(path: &str, f: impl FnOnce(&mut sqlpool::Options)) -> sqlpool::Pool {
    let mut o = sqlpool::Options::default();
    f(&mut o);
    sqlpool::Pool::open(path, o).expect("open the pool")
}

pub type R2d2Pool = r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>;

/// An r2d2 pool of at most `max` connections, `min_idle` kept open; `checked`
/// keeps r2d2's default test_on_check_out (r2d2_sqlite runs
/// `execute_batch("")` on every checkout).
pub fn r2d2_pool(path: &str, max: u32, min_idle: u32, checked: bool) -> R2d2Pool {
    // A statement cache that holds the step's 22 distinct queries (rusqlite's
    // default of 16 would thrash), as sqlpool's default of 32 does.
    let m = r2d2_sqlite::SqliteConnectionManager::file(path).with_init(|c| {
        c.set_prepared_statement_cache_capacity(64);
        Ok(())
    });
    r2d2::Pool::builder()
        .max_size(max)
        .min_idle(Some(min_idle))
        .test_on_check_out(checked)
        .connection_timeout(std::time::Duration::from_secs(30))
        .build(m)
        .expect("r2d2 pool")
}

/// Percentile (0..=100) of sorted nanosecond samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
