//! Per-connection cache of prepared statements, keyed by SQL text, evicting
//! the least recently returned one when full.

use crate::statement::Statement;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

pub(crate) struct StatementCache {
    capacity: usize,
    entries: HashMap<Arc<str>, (Statement, u64), BuildHasherDefault<SqlHasher>>,
    clock: u64,
}

/// FxHash (rustc's): SQL text is the caller's own, not an attacker's, so a
/// fast non-cryptographic hash is enough, and SipHash showed in profiles.
#[derive(Default)]
pub(crate) struct SqlHasher(u64);

impl Hasher for SqlHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl StatementCache {
    pub(crate) fn new(capacity: u32) -> Self {
        StatementCache {
            capacity: capacity as usize,
            entries: HashMap::default(),
            clock: 0,
        }
    }

    /// Takes the cached statement for `sql`, if any, out of the cache.
    pub(crate) fn take(&mut self, sql: &str) -> Option<Statement> {
        self.entries.remove(sql).map(|(stmt, _)| stmt)
    }

    /// Returns a statement (already reset) to the cache; finalizes it when the
    /// cache is disabled or already holds the same SQL.
    pub(crate) fn put(&mut self, mut stmt: Statement) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(stmt.sql()) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(sql, _)| sql.clone());
            if let Some(sql) = oldest {
                self.entries.remove(&sql);
            }
        }
        self.clock += 1;
        // One hash, and no copy of the SQL: the key shares the statement's.
        if let Entry::Vacant(slot) = self.entries.entry(stmt.sql_shared()) {
            stmt.clear_bindings();
            slot.insert((stmt, self.clock));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
