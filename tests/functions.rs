//! User-defined scalar SQL functions through the Rust API: each type and
//! arity, NULL and error results, a panicking function, per-pool functions
//! on every connection, and the closure dropped exactly once.

mod common;

use common::{make_db, open, opts, TempDir};
use sqlpool::{Connection, ErrorKind, Function, FunctionOutput, Step, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts its drops: captured by a closure, it tells when the closure went.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn echo() -> Function {
    Function::new("echo", 1, true, |args| {
        Ok(match args[0] {
            Value::Integer(i) => FunctionOutput::Integer(i),
            Value::Float(f) => FunctionOutput::Float(f),
            Value::Text(t) => FunctionOutput::Text(String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?),
            Value::Blob(b) => FunctionOutput::Blob(b.to_vec()),
            Value::Null => FunctionOutput::Null,
        })
    })
    .unwrap()
}

/// The first column of the only row, as SQL text through quote().
fn quoted(conn: &mut Connection, sql: &str) -> sqlpool::Result<String> {
    conn.with_statement(&format!("SELECT quote(({sql}))"), |s| {
        assert_eq!(s.step()?, Step::Row);
        Ok(String::from_utf8(s.stmt().column_text(0)?.unwrap().to_vec()).unwrap())
    })
}

#[test]
fn a_function_gets_and_returns_each_type() {
    let dir = TempDir::new("fn-types");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    conn.create_function(&echo()).unwrap();
    for sql in [
        "7",
        "-9223372036854775808",
        "2.5",
        "'héllo'",
        "''",
        "X'00FF'",
        "X''",
        "NULL",
    ] {
        assert_eq!(
            quoted(&mut conn, &format!("echo({sql})")).unwrap(),
            quoted(&mut conn, sql).unwrap()
        );
    }
}

#[test]
fn arity_any_number_and_zero_arguments() {
    let dir = TempDir::new("fn-arity");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    let count = Function::new("count_args", -1, false, |args| {
        Ok(FunctionOutput::Integer(args.len() as i64))
    })
    .unwrap();
    let answer = Function::new("answer", 0, false, |_| Ok(FunctionOutput::Integer(42))).unwrap();
    conn.create_function(&count).unwrap();
    conn.create_function(&answer).unwrap();
    assert_eq!(quoted(&mut conn, "count_args()").unwrap(), "0");
    assert_eq!(quoted(&mut conn, "count_args(1, 'a', NULL)").unwrap(), "3");
    assert_eq!(quoted(&mut conn, "answer()").unwrap(), "42");
    let err = quoted(&mut conn, "answer(1)").unwrap_err();
    assert!(err.message().contains("wrong number of arguments"), "{err}");
}

#[test]
fn an_error_result_and_a_panic_fail_the_query_and_leave_the_connection_usable() {
    let dir = TempDir::new("fn-errors");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    let refuse = Function::new("refuse", 1, false, |_| Err("refused on purpose".to_owned())).unwrap();
    let explode = Function::new("explode", 0, false, |_| panic!("exploded on purpose")).unwrap();
    conn.create_function(&refuse).unwrap();
    conn.create_function(&explode).unwrap();
    let err = quoted(&mut conn, "refuse(1)").unwrap_err();
    assert_eq!((err.kind(), err.sqlite_code()), (ErrorKind::Sqlite, 1));
    assert!(err.message().contains("refused on purpose"), "{err}");
    let err = quoted(&mut conn, "explode()").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sqlite);
    assert!(
        err.message().contains("function explode panicked: exploded on purpose"),
        "{err}"
    );
    assert_eq!(quoted(&mut conn, "1 + 1").unwrap(), "2");
}

#[test]
fn a_connection_function_lasts_across_checkouts_and_is_dropped_once_when_replaced_or_closed() {
    let dir = TempDir::new("fn-lifetime");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let mut o = opts();
    o.set_pool_size(1).unwrap();
    let pool = open(&path, o);
    let drops = Arc::new(AtomicUsize::new(0));
    let make = |n: i64| {
        let counter = DropCounter(drops.clone());
        Function::new("version", 0, false, move |_| {
            let _ = &counter;
            Ok(FunctionOutput::Integer(n))
        })
        .unwrap()
    };
    {
        let mut conn = pool.checkout().unwrap();
        conn.create_function(&make(1)).unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0, "SQLite holds it; our Function is gone");
        conn.create_function(&make(2)).unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "replacing drops the first");
    }
    let mut conn = pool.checkout().unwrap();
    assert_eq!(
        quoted(&mut conn, "version()").unwrap(),
        "2",
        "still there for the next holder"
    );
    conn.invalidate();
    drop(conn);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "closing the connection drops the second"
    );
}

#[test]
fn replacing_a_function_while_a_statement_runs_is_busy_and_drops_the_new_one() {
    let dir = TempDir::new("fn-busy");
    let path = dir.path("f.db");
    make_db(&path, 3);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    conn.create_function(&echo()).unwrap();
    let id = conn.prepare("SELECT echo(x) FROM t").unwrap();
    assert_eq!(conn.step(id).unwrap(), Step::Row);
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter(drops.clone());
    let other = Function::new("echo", 1, false, move |_| {
        let _ = &counter;
        Ok(FunctionOutput::Null)
    })
    .unwrap();
    let err = conn.create_function(&other).unwrap_err();
    assert_eq!(err.sqlite_code(), 5, "SQLITE_BUSY: {err}");
    drop(other);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "SQLite released its reference at once");
    assert_eq!(conn.step(id).unwrap(), Step::Row, "the running statement goes on");
}

#[test]
fn pool_functions_are_on_every_connection_overflow_included_and_dropped_with_the_last() {
    let dir = TempDir::new("fn-pool");
    let path = dir.path("f.db");
    make_db(&path, 1);
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter(drops.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let double = Function::new("double", 1, true, move |args| {
        let _ = &counter;
        seen.fetch_add(1, Ordering::SeqCst);
        match args[0] {
            Value::Integer(i) => Ok(FunctionOutput::Integer(2 * i)),
            _ => Err("double takes an integer".to_owned()),
        }
    })
    .unwrap();
    let mut o = opts();
    o.set_pool_size(1).unwrap().set_max_overflow(2).unwrap();
    o.add_function(double);
    let pool = open(&path, o.clone());
    let mut conns: Vec<_> = (0..3).map(|_| pool.checkout().unwrap()).collect();
    assert_eq!(pool.stats().overflow, 2);
    for (i, conn) in conns.iter_mut().enumerate() {
        assert_eq!(quoted(conn, &format!("double({i})")).unwrap(), (2 * i).to_string());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    drop(conns);
    drop(o);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the pool's connections still hold it");
    pool.close().unwrap();
    drop(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn add_function_replaces_one_with_the_same_name_and_arity() {
    let mut o = opts();
    o.add_function(Function::new("f", 1, false, |_| Ok(FunctionOutput::Null)).unwrap());
    o.add_function(Function::new("F", 1, false, |_| Ok(FunctionOutput::Integer(1))).unwrap());
    o.add_function(Function::new("f", 2, false, |_| Ok(FunctionOutput::Null)).unwrap());
    let names: Vec<_> = o
        .functions()
        .iter()
        .map(|f| (f.name().to_owned(), f.n_args()))
        .collect();
    assert_eq!(names, [("F".to_owned(), 1), ("f".to_owned(), 2)]);
}

#[test]
fn invalid_names_and_arities_are_rejected_by_name() {
    let ok = |_: &[Value<'_>]| Ok(FunctionOutput::Null);
    for (name, n_args, what) in [
        ("", 0, "1 to 255 bytes"),
        (&*"x".repeat(256), 0, "1 to 255 bytes"),
        ("a\0b", 0, "contains a NUL"),
        ("f", 128, "n_args = 128"),
        ("f", -2, "n_args = -2"),
    ] {
        let err = Function::new(name, n_args, false, ok).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains(what), "{err}");
    }
}
