//! Per-connection cache of prepared statements, keyed by SQL text, evicting
//! the least recently returned one when full. Lookups hash the SQL once: the
//! hash travels with the statement while it is out and brings it back.

use crate::statement::Statement;
use hashbrown::HashTable;

pub(crate) struct StatementCache {
    capacity: usize,
    entries: HashTable<Entry>,
    clock: u64,
}

struct Entry {
    hash: u64,
    stmt: Statement,
    /// `clock` when it was returned: the smallest is evicted first.
    used: u64,
}

/// FxHash (rustc's) of the SQL bytes: SQL text is the caller's own, not an
/// attacker's, so a fast non-cryptographic hash is enough (SipHash showed in
/// profiles).
pub(crate) fn sql_hash(sql: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = 0u64;
    let mut chunks = sql.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    for &byte in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
    }
    h
}

impl StatementCache {
    pub(crate) fn new(capacity: u32) -> Self {
        StatementCache {
            capacity: capacity as usize,
            entries: HashTable::new(),
            clock: 0,
        }
    }

    /// Takes the cached statement for `sql` (whose `sql_hash` is `hash`), if
    /// any, out of the cache.
    pub(crate) fn take(&mut self, hash: u64, sql: &[u8]) -> Option<Statement> {
        let entry = self.entries.find_entry(hash, |e| e.stmt.sql().as_bytes() == sql).ok()?;
        Some(entry.remove().0.stmt)
    }

    /// Returns a statement (already reset) with its SQL's `hash` to the cache;
    /// finalizes it when the cache is disabled or already holds the same SQL.
    pub(crate) fn put(&mut self, hash: u64, mut stmt: Statement) {
        if self.capacity == 0 {
            return;
        }
        let sql = stmt.sql().as_bytes();
        // Compares text only with entries of the same hash: no comparison at
        // all unless the same SQL is there already.
        if self.entries.find(hash, |e| e.stmt.sql().as_bytes() == sql).is_some() {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.evict_oldest();
        }
        self.clock += 1;
        stmt.clear_bindings();
        let used = self.clock;
        self.entries.insert_unique(hash, Entry { hash, stmt, used }, |e| e.hash);
    }

    fn evict_oldest(&mut self) {
        let Some((hash, used)) = self.entries.iter().min_by_key(|e| e.used).map(|e| (e.hash, e.used)) else {
            return;
        };
        if let Ok(oldest) = self.entries.find_entry(hash, |e| e.used == used) {
            oldest.remove();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::sql_hash;

    #[test]
    fn the_hash_depends_on_every_byte() {
        let a = sql_hash(b"SELECT timestamp FROM lidar_pc WHERE token = ?");
        assert_eq!(a, sql_hash(b"SELECT timestamp FROM lidar_pc WHERE token = ?"));
        assert_ne!(a, sql_hash(b"SELECT timestamp FROM lidar_pc WHERE token = ?;"));
        assert_ne!(sql_hash(b"SELECT 1"), sql_hash(b"SELECT 2"));
        assert_ne!(
            sql_hash(b"abcdefgh1"),
            sql_hash(b"abcdefgh2"),
            "the tail after whole words counts"
        );
    }
}
