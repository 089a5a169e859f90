//! What SQLite already knows about a connection and a statement, read
//! without running a statement: changes, last insert rowid, whether the
//! holder's transaction is open, declared column types.

mod common;

use common::{make_db, open, opts, TempDir};
use sqlpool::Step;

#[test]
fn changes_and_last_insert_rowid_follow_insert_update_delete() {
    let dir = TempDir::new("changes");
    let path = dir.path("c.db");
    make_db(&path, 5);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    conn.exec("INSERT INTO t VALUES (10), (11)").unwrap();
    assert_eq!(conn.changes(), 2);
    assert_eq!(conn.last_insert_rowid(), 7);
    conn.exec("UPDATE t SET x = x + 1 WHERE x <= 3").unwrap();
    assert_eq!(conn.changes(), 3);
    assert_eq!(conn.last_insert_rowid(), 7, "an UPDATE leaves the rowid");
    conn.exec("DELETE FROM t WHERE x > 9").unwrap();
    assert_eq!(conn.changes(), 2);
    // A read changes neither.
    conn.exec("SELECT count(*) FROM t").unwrap();
    assert_eq!((conn.changes(), conn.last_insert_rowid()), (2, 7));
}

#[test]
fn in_transaction_excludes_the_read_snapshot() {
    let dir = TempDir::new("intx");
    let path = dir.path("i.db");
    make_db(&path, 3);
    let mut o = opts();
    o.set_read_snapshot(true).set_pool_size(1).unwrap();
    let pool = open(&path, o);
    let mut conn = pool.checkout().unwrap();
    assert!(!conn.in_transaction());
    // A read begins the snapshot: SQLite has a transaction open, the holder has not.
    let id = conn.prepare("SELECT x FROM t").unwrap();
    assert_eq!(conn.step(id).unwrap(), Step::Row);
    assert!(!conn.is_autocommit(), "the snapshot is open");
    assert!(!conn.in_transaction());
    conn.finalize(id).unwrap();
    conn.exec("BEGIN").unwrap();
    assert!(conn.in_transaction());
    conn.exec("INSERT INTO t VALUES (4)").unwrap();
    assert!(conn.in_transaction());
    conn.exec("COMMIT").unwrap();
    assert!(!conn.in_transaction());
    conn.exec("BEGIN IMMEDIATE").unwrap();
    assert!(conn.in_transaction());
    conn.exec("ROLLBACK").unwrap();
    assert!(!conn.in_transaction());
    conn.exec("BEGIN").unwrap();
    drop(conn);
    // Checkin rolled the transaction back: the next holder has none.
    let conn = pool.checkout().unwrap();
    assert!(!conn.in_transaction());
}

#[test]
fn decltype_is_the_declared_type_of_a_table_column_and_none_for_an_expression() {
    let dir = TempDir::new("decltype");
    let path = dir.path("d.db");
    make_db(&path, 1);
    let pool = open(&path, opts());
    let mut conn = pool.checkout().unwrap();
    conn.exec("CREATE TABLE typed(a VARCHAR(10), b, c BLOB)").unwrap();
    let id = conn.prepare("SELECT x, x + 1, k, a, b, c FROM t, kv, typed").unwrap();
    let stmt = conn.statement_ref(id).unwrap();
    let types: Vec<Option<&str>> = (0..6)
        .map(|i| stmt.column_decltype(i).unwrap().map(|t| t.to_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            Some("INTEGER"),
            None,
            Some("TEXT"),
            Some("VARCHAR(10)"),
            None,
            Some("BLOB")
        ]
    );
    let err = stmt.column_decltype(6).unwrap_err();
    assert_eq!(err.kind(), sqlpool::ErrorKind::Misuse);
    assert!(err.message().contains("column 6 is out of range"), "{err}");
}
