//! The few-crossings C API (src/ffi/batch.rs): packed and struct binds,
//! fetching rows into a caller buffer, one-call queries on a connection and
//! on a pool, and their error rules.

mod common;

use common::TempDir;
use sqlpool::ffi::batch::*;
use sqlpool::ffi::conn::{sqlpool_checkin, sqlpool_conn, sqlpool_exec, sqlpool_prepare};
use sqlpool::ffi::error::*;
use sqlpool::ffi::options::{sqlpool_options_free, sqlpool_options_new, sqlpool_options_set_create};
use sqlpool::ffi::pool::{
    sqlpool_checkout, sqlpool_close, sqlpool_get_stats, sqlpool_open, sqlpool_pool, sqlpool_stats,
};
use sqlpool::ffi::stmt::{sqlpool_finalize, sqlpool_step, sqlpool_stmt};
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};

#[derive(Debug, Clone, PartialEq)]
enum V {
    I(i64),
    F(f64),
    T(String),
    B(Vec<u8>),
    N,
}

fn pack(values: &[V]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        match v {
            V::I(i) => {
                out.push(SQLPOOL_INTEGER as u8);
                out.extend_from_slice(&i.to_ne_bytes());
            }
            V::F(f) => {
                out.push(SQLPOOL_FLOAT as u8);
                out.extend_from_slice(&f.to_ne_bytes());
            }
            V::T(s) => {
                out.push(SQLPOOL_TEXT as u8);
                out.extend_from_slice(&(s.len() as u32).to_ne_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            V::B(b) => {
                out.push(SQLPOOL_BLOB as u8);
                out.extend_from_slice(&(b.len() as u32).to_ne_bytes());
                out.extend_from_slice(b);
            }
            V::N => out.push(SQLPOOL_NULL as u8),
        }
    }
    out
}

/// Decodes `rows` rows of the fetch format, checking each row's size field.
fn decode(buf: &[u8], rows: u32) -> Vec<Vec<V>> {
    let u32_at = |p: usize| u32::from_ne_bytes(buf[p..p + 4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut pos = 0;
    for _ in 0..rows {
        let size = u32_at(pos);
        let n = u32_at(pos + 4);
        let types = &buf[pos + 8..pos + 8 + n];
        let mut cell = pos + 8 + n;
        let mut data = cell
            + types
                .iter()
                .map(|&t| match t as i32 {
                    SQLPOOL_INTEGER | SQLPOOL_FLOAT => 8,
                    SQLPOOL_TEXT | SQLPOOL_BLOB => 4,
                    _ => 0,
                })
                .sum::<usize>();
        let mut row = Vec::new();
        for &t in types {
            match t as i32 {
                SQLPOOL_INTEGER => {
                    row.push(V::I(i64::from_ne_bytes(buf[cell..cell + 8].try_into().unwrap())));
                    cell += 8;
                }
                SQLPOOL_FLOAT => {
                    row.push(V::F(f64::from_ne_bytes(buf[cell..cell + 8].try_into().unwrap())));
                    cell += 8;
                }
                SQLPOOL_TEXT | SQLPOOL_BLOB => {
                    let len = u32_at(cell);
                    cell += 4;
                    let bytes = buf[data..data + len].to_vec();
                    data += len;
                    row.push(if t as i32 == SQLPOOL_TEXT {
                        V::T(String::from_utf8(bytes).unwrap())
                    } else {
                        V::B(bytes)
                    });
                }
                SQLPOOL_NULL => row.push(V::N),
                other => panic!("bad type {other}"),
            }
        }
        assert_eq!(data - pos, size, "row size field");
        pos += size;
        out.push(row);
    }
    assert_eq!(pos, buf.len(), "rows fill the used bytes exactly");
    out
}

struct Db {
    _dir: TempDir,
    pool: *mut sqlpool_pool,
}

impl Db {
    /// A pool on a new database with table t(i, f, s, b) holding rows 1..=n
    /// (row 3 all NULL except i).
    fn new(n: i64) -> Db {
        let dir = TempDir::new("batch");
        let path = CString::new(dir.path("b.db").to_str().unwrap()).unwrap();
        let mut pool = null_mut();
        // SAFETY: live options handle, valid C strings, out-pointers to locals.
        unsafe {
            let opts = sqlpool_options_new();
            assert_eq!(sqlpool_options_set_create(opts, true), SQLPOOL_OK);
            assert_eq!(sqlpool_open(path.as_ptr(), opts, &mut pool), SQLPOOL_OK);
            sqlpool_options_free(opts);
        }
        let db = Db { _dir: dir, pool };
        let conn = db.checkout();
        exec(conn, "CREATE TABLE t(i INTEGER, f REAL, s TEXT, b BLOB)");
        exec(
            conn,
            &format!(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {n}) \
                 INSERT INTO t SELECT x, x * 0.5, 'row ' || x, CAST(x'0001' || x AS BLOB) FROM n"
            ),
        );
        exec(conn, "UPDATE t SET f = NULL, s = NULL, b = NULL WHERE i = 3");
        checkin(conn);
        db
    }

    fn checkout(&self) -> *mut sqlpool_conn {
        let mut conn = null_mut();
        // SAFETY: live pool, out-pointer to a local.
        assert_eq!(unsafe { sqlpool_checkout(self.pool, &mut conn) }, SQLPOOL_OK);
        conn
    }

    fn stats(&self) -> sqlpool_stats {
        let mut s = sqlpool_stats::default();
        // SAFETY: out points to a local of the given size.
        let rc = unsafe { sqlpool_get_stats(self.pool, &mut s, std::mem::size_of::<sqlpool_stats>()) };
        assert_eq!(rc, SQLPOOL_OK);
        s
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        assert_eq!(sqlpool_close(self.pool), SQLPOOL_OK);
    }
}

fn exec(conn: *mut sqlpool_conn, sql: &str) {
    let sql = CString::new(sql).unwrap();
    // SAFETY: live connection, valid C string.
    assert_eq!(unsafe { sqlpool_exec(conn, sql.as_ptr()) }, SQLPOOL_OK, "{}", errmsg());
}

fn checkin(conn: *mut sqlpool_conn) {
    assert_eq!(sqlpool_checkin(conn), SQLPOOL_OK);
}

fn prepare(conn: *mut sqlpool_conn, sql: &str) -> *mut sqlpool_stmt {
    let sql = CString::new(sql).unwrap();
    let mut stmt = null_mut();
    // SAFETY: live connection, valid C string, out-pointer to a local.
    assert_eq!(unsafe { sqlpool_prepare(conn, sql.as_ptr(), &mut stmt) }, SQLPOOL_OK);
    stmt
}

fn errmsg() -> String {
    // SAFETY: never NULL, NUL-terminated.
    unsafe { CStr::from_ptr(sqlpool_errmsg()) }
        .to_string_lossy()
        .into_owned()
}

/// sqlpool_query; returns (rc, stmt, rows decoded).
fn query(
    conn: *mut sqlpool_conn,
    sql: &str,
    params: &[V],
    buf: &mut [u8],
    max_rows: u32,
) -> (i32, *mut sqlpool_stmt, Vec<Vec<V>>) {
    let packed = pack(params);
    let (mut stmt, mut rows, mut used) = (null_mut(), 0u32, 0usize);
    // SAFETY: every pointer is to a live local of the given length.
    let rc = unsafe {
        sqlpool_query(
            conn,
            sql.as_ptr().cast(),
            sql.len() as i64,
            packed.as_ptr().cast(),
            packed.len(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            max_rows,
            &mut stmt,
            &mut rows,
            &mut used,
        )
    };
    let decoded = if rc == SQLPOOL_ROW || rc == SQLPOOL_DONE {
        if rows == 0 {
            Vec::new()
        } else {
            decode(&buf[..used], rows)
        }
    } else {
        Vec::new()
    };
    (rc, stmt, decoded)
}

fn fetch(stmt: *mut sqlpool_stmt, buf: &mut [u8], max_rows: u32) -> (i32, u32, usize) {
    let (mut rows, mut used) = (0u32, 0usize);
    // SAFETY: pointers to live locals of the given length.
    let rc = unsafe { sqlpool_fetch(stmt, buf.as_mut_ptr().cast(), buf.len(), max_rows, &mut rows, &mut used) };
    (rc, rows, used)
}

fn expected_row(i: i64) -> Vec<V> {
    if i == 3 {
        return vec![V::I(3), V::N, V::N, V::N];
    }
    let mut blob = vec![0u8, 1];
    blob.extend_from_slice(i.to_string().as_bytes());
    vec![V::I(i), V::F(i as f64 * 0.5), V::T(format!("row {i}")), V::B(blob)]
}

#[test]
fn query_returns_every_type_in_one_call_and_the_statement_goes_back_to_the_cache() {
    let db = Db::new(5);
    let conn = db.checkout();
    let mut buf = vec![0u8; 4096];
    let sql = "SELECT i, f, s, b FROM t WHERE i <= ? ORDER BY i";
    let (rc, stmt, rows) = query(conn, sql, &[V::I(5)], &mut buf, 0);
    assert_eq!(rc, SQLPOOL_DONE, "{}", errmsg());
    assert!(stmt.is_null(), "a finished query leaves no statement");
    assert_eq!(rows, (1..=5).map(expected_row).collect::<Vec<_>>());
    // Again: the compiled statement comes from the cache.
    let before = db.stats().statement_cache_hits;
    let (rc, _, rows) = query(conn, sql, &[V::I(2)], &mut buf, 0);
    assert_eq!(rc, SQLPOOL_DONE);
    assert_eq!(rows.len(), 2);
    checkin(conn);
    assert!(db.stats().statement_cache_hits > before);
}

#[test]
fn query_binds_every_kind_of_value() {
    let db = Db::new(1);
    let conn = db.checkout();
    let mut buf = vec![0u8; 4096];
    let params = [
        V::I(-7),
        V::F(2.25),
        V::T("héllo".into()),
        V::B(vec![0, 255, 0]),
        V::B(vec![]),
        V::N,
        V::T(String::new()),
    ];
    let (rc, _, rows) = query(conn, "SELECT ?, ?, ?, ?, ?, ?, ?, typeof(?5)", &params, &mut buf, 0);
    assert_eq!(rc, SQLPOOL_DONE, "{}", errmsg());
    let mut want = params.to_vec();
    want.push(V::T("blob".into()));
    assert_eq!(rows, vec![want]);
    checkin(conn);
}

#[test]
fn fetch_continues_in_batches_limited_by_max_rows_and_by_the_buffer() {
    let db = Db::new(50);
    let conn = db.checkout();
    let mut buf = vec![0u8; 4096];
    let (rc, stmt, first) = query(conn, "SELECT i, f, s, b FROM t ORDER BY i", &[], &mut buf, 7);
    assert_eq!(rc, SQLPOOL_ROW);
    assert!(!stmt.is_null());
    assert_eq!(first.len(), 7);
    let mut all = first;
    // A small buffer: a few rows per call.
    let mut small = vec![0u8; 150];
    loop {
        let (rc, rows, used) = fetch(stmt, &mut small, 0);
        assert!(rc == SQLPOOL_ROW || rc == SQLPOOL_DONE, "{rc}: {}", errmsg());
        assert!(rows > 0 || rc == SQLPOOL_DONE, "150 bytes hold a row");
        all.extend(decode(&small[..used], rows));
        if rc == SQLPOOL_DONE {
            break;
        }
    }
    assert_eq!(all, (1..=50).map(expected_row).collect::<Vec<_>>());
    assert_eq!(sqlpool_finalize(stmt), SQLPOOL_OK);
    checkin(conn);
}

#[test]
fn a_row_that_does_not_fit_stays_current_and_its_size_is_reported() {
    let db = Db::new(3);
    let conn = db.checkout();
    let mut tiny = vec![0u8; 10];
    let (rc, stmt, rows) = query(conn, "SELECT i, s FROM t WHERE i = 1", &[], &mut tiny, 0);
    assert_eq!(rc, SQLPOOL_ROW);
    assert!(rows.is_empty());
    let (rc, rows, needed) = fetch(stmt, &mut tiny, 0);
    assert_eq!((rc, rows), (SQLPOOL_ROW, 0));
    // 8 header + 2 types + 8 int + 4 len + "row 1"
    assert_eq!(needed, 8 + 2 + 8 + 4 + 5);
    let mut exact = vec![0u8; needed];
    let (rc, rows, used) = fetch(stmt, &mut exact, 0);
    assert_eq!((rc, rows, used), (SQLPOOL_DONE, 1, needed));
    assert_eq!(decode(&exact, 1), vec![vec![V::I(1), V::T("row 1".into())]]);
    // A NULL buffer of size 0 asks for the size only.
    let (mut r, mut u) = (0u32, 0usize);
    // SAFETY: out-pointers to locals; NULL buffer with size 0 is allowed.
    let rc = unsafe { sqlpool_fetch(stmt, null_mut(), 0, 0, &mut r, &mut u) };
    assert_eq!((rc, r, u), (SQLPOOL_ROW, 0, needed), "after DONE a fetch runs it again");
    assert_eq!(sqlpool_finalize(stmt), SQLPOOL_OK);
    checkin(conn);
}

#[test]
fn fetch_starts_with_the_row_sqlpool_step_returned() {
    let db = Db::new(3);
    let conn = db.checkout();
    let stmt = prepare(conn, "SELECT i FROM t ORDER BY i");
    assert_eq!(sqlpool_step(stmt), SQLPOOL_ROW);
    let mut buf = vec![0u8; 1024];
    let (rc, rows, used) = fetch(stmt, &mut buf, 0);
    assert_eq!((rc, rows), (SQLPOOL_DONE, 3));
    assert_eq!(
        decode(&buf[..used], rows),
        vec![vec![V::I(1)], vec![V::I(2)], vec![V::I(3)]]
    );
    checkin(conn);
}

#[test]
fn bind_values_and_bind_packed_bind_all_parameters_or_none() {
    let db = Db::new(1);
    let conn = db.checkout();
    let stmt = prepare(conn, "SELECT ?1, ?2, ?3, ?4, ?5");
    let text = "tëxt";
    let blob = [9u8, 8, 7];
    let values = [
        sqlpool_value {
            kind: SQLPOOL_INTEGER,
            int_value: 42,
            float_value: 0.0,
            bytes: null(),
            len: 0,
        },
        sqlpool_value {
            kind: SQLPOOL_FLOAT,
            int_value: 0,
            float_value: -1.5,
            bytes: null(),
            len: 0,
        },
        sqlpool_value {
            kind: SQLPOOL_TEXT,
            int_value: 0,
            float_value: 0.0,
            bytes: text.as_ptr().cast(),
            len: text.len() as i64,
        },
        sqlpool_value {
            kind: SQLPOOL_BLOB,
            int_value: 0,
            float_value: 0.0,
            bytes: blob.as_ptr().cast(),
            len: 3,
        },
        sqlpool_value {
            kind: SQLPOOL_NULL,
            int_value: 0,
            float_value: 0.0,
            bytes: null(),
            len: 0,
        },
    ];
    // SAFETY: values is a live array of 5.
    assert_eq!(
        unsafe { sqlpool_bind_values(stmt, values.as_ptr(), 5) },
        SQLPOOL_OK,
        "{}",
        errmsg()
    );
    let mut buf = vec![0u8; 1024];
    let (rc, rows, used) = fetch(stmt, &mut buf, 0);
    assert_eq!((rc, rows), (SQLPOOL_DONE, 1));
    assert_eq!(
        decode(&buf[..used], 1),
        vec![vec![V::I(42), V::F(-1.5), V::T(text.into()), V::B(blob.to_vec()), V::N]]
    );
    // Too few values: refused with the counts, nothing bound.
    // SAFETY: as above.
    assert_eq!(
        unsafe { sqlpool_bind_values(stmt, values.as_ptr(), 4) },
        SQLPOOL_INVALID_ARGUMENT
    );
    assert!(errmsg().contains("5 parameters, 4 values"), "{}", errmsg());
    // An invalid kind, a NULL pointer with a length: refused.
    let mut bad = values;
    bad[0].kind = 99;
    // SAFETY: as above.
    assert_eq!(
        unsafe { sqlpool_bind_values(stmt, bad.as_ptr(), 5) },
        SQLPOOL_INVALID_ARGUMENT
    );
    let mut bad = values;
    bad[3].bytes = null();
    // SAFETY: as above.
    assert_eq!(
        unsafe { sqlpool_bind_values(stmt, bad.as_ptr(), 5) },
        SQLPOOL_INVALID_ARGUMENT
    );
    // Packed: the same values.
    let packed = pack(&[V::I(1), V::F(2.0), V::T("x".into()), V::B(vec![1]), V::N]);
    // SAFETY: packed is a live buffer of its length.
    assert_eq!(
        unsafe { sqlpool_bind_packed(stmt, packed.as_ptr().cast(), packed.len()) },
        SQLPOOL_OK
    );
    let (rc, rows, used) = fetch(stmt, &mut buf, 0);
    assert_eq!((rc, rows), (SQLPOOL_DONE, 1));
    assert_eq!(
        decode(&buf[..used], 1),
        vec![vec![V::I(1), V::F(2.0), V::T("x".into()), V::B(vec![1]), V::N]]
    );
    // Truncated, a bad tag, invalid UTF-8, too many values.
    for bad in [
        packed[..packed.len() - 3].to_vec(),
        [&[77u8][..], &packed[1..]].concat(),
        pack(&[V::I(1), V::F(2.0), V::T("x".into()), V::B(vec![1]), V::I(5), V::I(6)]),
    ] {
        // SAFETY: as above.
        let rc = unsafe { sqlpool_bind_packed(stmt, bad.as_ptr().cast(), bad.len()) };
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
    }
    let mut not_utf8 = vec![SQLPOOL_TEXT as u8];
    not_utf8.extend_from_slice(&2u32.to_ne_bytes());
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    let stmt1 = prepare(conn, "SELECT ?");
    // SAFETY: as above.
    let rc = unsafe { sqlpool_bind_packed(stmt1, not_utf8.as_ptr().cast(), not_utf8.len()) };
    assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
    assert!(errmsg().contains("UTF-8"), "{}", errmsg());
    checkin(conn);
}

#[test]
fn parameter_names_and_readonly() {
    let db = Db::new(1);
    let conn = db.checkout();
    let stmt = prepare(conn, "SELECT :a, ?, @c");
    // SAFETY: returned pointers are NUL-terminated strings owned by the statement.
    let name = |i| unsafe {
        let p = sqlpool_bind_parameter_name(stmt, i);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_str().unwrap().to_owned())
    };
    assert_eq!(name(1).as_deref(), Some(":a"));
    assert_eq!(name(2), None);
    assert_eq!(name(3).as_deref(), Some("@c"));
    assert_eq!(name(4), None);
    assert_eq!(sqlpool_stmt_readonly(stmt), 1);
    let insert = prepare(conn, "INSERT INTO t(i) VALUES (1)");
    assert_eq!(sqlpool_stmt_readonly(insert), 0);
    assert_eq!(sqlpool_stmt_readonly(null()), 0);
    assert!(sqlpool_bind_parameter_name(null(), 1).is_null());
    checkin(conn);
    assert_eq!(sqlpool_stmt_readonly(stmt), 0, "stale after checkin");
}

#[test]
fn pool_query_checks_out_and_in_within_the_call() {
    let db = Db::new(10);
    let mut buf = vec![0u8; 4096];
    let run = |sql: &str, params: &[V], buf: &mut [u8], max_rows: u32| {
        let packed = pack(params);
        let (mut rows, mut used) = (0u32, 0usize);
        // SAFETY: pointers to live locals of the given lengths.
        let rc = unsafe {
            sqlpool_pool_query(
                db.pool,
                sql.as_ptr().cast(),
                sql.len() as i64,
                packed.as_ptr().cast(),
                packed.len(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                max_rows,
                &mut rows,
                &mut used,
            )
        };
        (rc, rows, used)
    };
    let (rc, rows, used) = run("SELECT i, s FROM t WHERE i = ?", &[V::I(4)], &mut buf, 2);
    assert_eq!((rc, rows), (SQLPOOL_DONE, 1), "{}", errmsg());
    assert_eq!(decode(&buf[..used], 1), vec![vec![V::I(4), V::T("row 4".into())]]);
    // max_rows 2 on a query with more rows: ROW, two rows, nothing held.
    let (rc, rows, _) = run("SELECT i FROM t ORDER BY i", &[], &mut buf, 2);
    assert_eq!((rc, rows), (SQLPOOL_ROW, 2));
    let s = db.stats();
    assert_eq!(s.checked_out, 0);
    assert_eq!(s.resets_on_checkin, 0, "the statement was finalized before checkin");
    // No rows.
    let (rc, rows, used) = run("SELECT i FROM t WHERE i > 100", &[], &mut buf, 0);
    assert_eq!((rc, rows, used), (SQLPOOL_DONE, 0, 0));
    // A row larger than the buffer: its size.
    let (rc, rows, used) = run("SELECT s FROM t WHERE i = 10", &[], &mut buf[..4], 0);
    assert_eq!((rc, rows, used), (SQLPOOL_ROW, 0, 8 + 1 + 4 + 6));
    // Errors: SQL, binding count, NULL pool and out-pointers.
    let (rc, _, _) = run("SELECT nope FROM t", &[], &mut buf, 0);
    assert_eq!(rc, SQLPOOL_SQLITE);
    assert!(errmsg().contains("nope"), "{}", errmsg());
    let (rc, _, _) = run("SELECT ?", &[], &mut buf, 0);
    assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
    assert_eq!(db.stats().checked_out, 0, "an error checks the connection in too");
    let (mut rows, mut used) = (0u32, 0usize);
    // SAFETY: NULL pool and NULL out-pointers are what is tested.
    unsafe {
        let sql = c"SELECT 1";
        let rc = sqlpool_pool_query(
            null_mut(),
            sql.as_ptr(),
            -1,
            null(),
            0,
            null_mut(),
            0,
            0,
            &mut rows,
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_MISUSE);
        let rc = sqlpool_pool_query(
            db.pool,
            sql.as_ptr(),
            -1,
            null(),
            0,
            null_mut(),
            0,
            0,
            null_mut(),
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
        let rc = sqlpool_pool_query(db.pool, null(), -1, null(), 0, null_mut(), 0, 0, &mut rows, &mut used);
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
        let rc = sqlpool_pool_query(
            db.pool,
            sql.as_ptr(),
            -1,
            null(),
            0,
            null_mut(),
            16,
            0,
            &mut rows,
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT, "NULL buffer with a size");
    }
}

#[test]
fn pool_query_call_takes_the_arguments_in_one_struct() {
    let db = Db::new(10);
    let mut buf = vec![0u8; 4096];
    let sql = "SELECT i, s FROM t WHERE i = ?";
    let mut call = sqlpool_query_call {
        pool: db.pool,
        sql: sql.as_ptr().cast(),
        sql_len: sql.len() as i64,
        params: null(),
        params_len: 0,
        buf: buf.as_mut_ptr().cast(),
        buf_size: buf.len(),
        max_rows: 0,
        out_rows: 99,
        out_used: 99,
    };
    // Filled once; only the parameters change between calls.
    for i in [4, 7] {
        let packed = pack(&[V::I(i)]);
        call.params = packed.as_ptr().cast();
        call.params_len = packed.len();
        // SAFETY: every pointer in `call` is to a live local of the given length.
        let rc = unsafe { sqlpool_pool_query_call(&mut call) };
        assert_eq!((rc, call.out_rows), (SQLPOOL_DONE, 1), "{}", errmsg());
        let used = call.out_used;
        assert_eq!(decode(&buf[..used], 1), vec![vec![V::I(i), V::T(format!("row {i}"))]]);
    }
    assert_eq!(db.stats().checked_out, 0);
    // Errors as sqlpool_pool_query()'s, and a NULL struct.
    call.params_len = 0;
    // SAFETY: as above; then a NULL struct pointer, which is what is tested.
    unsafe {
        assert_eq!(
            sqlpool_pool_query_call(&mut call),
            SQLPOOL_INVALID_ARGUMENT,
            "one parameter unbound"
        );
        call.pool = null_mut();
        assert_eq!(sqlpool_pool_query_call(&mut call), SQLPOOL_MISUSE);
        assert_eq!(sqlpool_pool_query_call(null_mut()), SQLPOOL_INVALID_ARGUMENT);
    }
    assert!(errmsg().contains("args"), "{}", errmsg());
}

#[test]
fn query_rules_for_handles_out_pointers_and_errors() {
    let db = Db::new(3);
    let conn = db.checkout();
    let mut buf = vec![0u8; 256];
    let (mut stmt, mut rows, mut used) = (null_mut(), 0u32, 0usize);
    let sql = c"SELECT i FROM t";
    // SAFETY: NULL handles and out-pointers are what is tested; the rest are live.
    unsafe {
        let b = buf.as_mut_ptr().cast::<c_void>();
        let rc = sqlpool_query(
            null_mut(),
            sql.as_ptr(),
            -1,
            null(),
            0,
            b,
            256,
            0,
            &mut stmt,
            &mut rows,
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_MISUSE);
        let rc = sqlpool_query(
            conn,
            sql.as_ptr(),
            -1,
            null(),
            0,
            b,
            256,
            0,
            null_mut(),
            &mut rows,
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
        let rc = sqlpool_query(
            conn,
            sql.as_ptr(),
            -2,
            null(),
            0,
            b,
            256,
            0,
            &mut stmt,
            &mut rows,
            &mut used,
        );
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
        let rc = sqlpool_query(conn, null(), 0, null(), 0, b, 256, 0, &mut stmt, &mut rows, &mut used);
        assert_eq!(rc, SQLPOOL_INVALID_ARGUMENT);
        assert!(stmt.is_null(), "nothing written on error");
        let (mut r, mut u) = (0u32, 0usize);
        assert_eq!(sqlpool_fetch(null_mut(), b, 256, 0, &mut r, &mut u), SQLPOOL_MISUSE);
    }
    // A statement from sqlpool_query is released at checkin: stale after.
    let (rc, stmt, _) = query(conn, "SELECT i FROM t ORDER BY i", &[], &mut buf, 1);
    assert_eq!(rc, SQLPOOL_ROW);
    // A constraint error while stepping: SQLITE with the extended code.
    exec(conn, "CREATE TABLE u(x PRIMARY KEY)");
    let (rc, _, _) = query(conn, "INSERT INTO u VALUES (1), (1)", &[], &mut buf, 0);
    assert_eq!(rc, SQLPOOL_SQLITE);
    assert_eq!(sqlpool_sqlite_errcode(), 1555, "SQLITE_CONSTRAINT_PRIMARYKEY");
    // A writing statement through sqlpool_query.
    let (rc, s, rows) = query(conn, "INSERT INTO u VALUES (?)", &[V::T("k".into())], &mut buf, 0);
    assert_eq!((rc, s.is_null(), rows.len()), (SQLPOOL_DONE, true, 0));
    checkin(conn);
    assert_eq!(fetch(stmt, &mut buf, 0).0, SQLPOOL_MISUSE);
    assert_eq!(sqlpool_finalize(stmt), SQLPOOL_MISUSE);
}
