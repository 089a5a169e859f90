//! Reading a column in two forms through the safe API: each slice is copied
//! before the next accessor (the borrow checker now insists), so SQLite's
//! in-place conversions never free bytes still in use. Run under valgrind to
//! see it clean: the old `&self` accessors read freed memory here.

mod common;

use common::{open, opts, TempDir};
use sqlpool::Step;

/// 1,000 characters: stored on the page (not in SQLite's shared overflow
/// cache) and larger than a lookaside slot, so a conversion really frees it.
fn long_text() -> String {
    format!("héllo wörld {}", "x".repeat(988))
}

/// A database whose text is UTF-16 (SQLite converts it to UTF-8 in place on
/// column_text), holding one BLOB (which column_text NUL-terminates in place).
fn utf16_db(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path("utf16.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA encoding = 'UTF-16le'; CREATE TABLE v(t TEXT, b BLOB);")
        .unwrap();
    conn.execute("INSERT INTO v VALUES (?1, x'68656c6c6f')", [long_text()])
        .unwrap();
    path
}

#[test]
fn blob_then_text_of_the_same_column_reads_both_forms_correctly() {
    let dir = TempDir::new("column-access");
    let pool = open(&utf16_db(&dir), opts());
    let mut conn = pool.checkout().unwrap();
    let text = long_text();
    let id = conn.prepare("SELECT t, b FROM v").unwrap();
    assert_eq!(conn.step(id).unwrap(), Step::Row);
    let stmt = conn.statement(id).unwrap();

    // Text column: blob gives the UTF-16 bytes, text then converts in place.
    let utf16: Vec<u8> = stmt.column_blob(0).unwrap().unwrap().to_vec();
    let as_text = stmt.column_text(0).unwrap().unwrap().to_vec();
    let expected16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(utf16, expected16);
    assert_eq!(as_text, text.as_bytes());

    // BLOB column: text after blob adds the terminator (and converts).
    let blob = stmt.column_blob(1).unwrap().unwrap().to_vec();
    let blob_as_text = stmt.column_text(1).unwrap().map(<[u8]>::to_vec);
    let blob_again = stmt.column_blob(1).unwrap().map(<[u8]>::to_vec);
    assert_eq!(blob, b"hello");
    assert!(blob_as_text.is_some());
    assert!(blob_again.is_some());
    conn.finalize(id).unwrap();
}

#[test]
fn for_each_row_reads_text_and_blob_in_a_utf16_database() {
    let dir = TempDir::new("column-access-rows");
    let pool = open(&utf16_db(&dir), opts());
    let mut conn = pool.checkout().unwrap();
    conn.with_statement("SELECT t, b, length(t) FROM v", |s| {
        s.for_each_row(|stmt| {
            assert_eq!(stmt.column_int64(2)?, 1000);
            let t = stmt.column_text(0)?.unwrap().to_vec();
            assert_eq!(String::from_utf8(t).unwrap().chars().count(), 1000);
            assert_eq!(stmt.column_blob(1)?, Some(&b"hello"[..]));
            Ok(())
        })
    })
    .unwrap();
}
