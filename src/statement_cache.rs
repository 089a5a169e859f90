//! Per-connection cache of prepared statements, keyed by SQL text, evicting
//! the least recently returned one when full.

use crate::statement::Statement;
use std::collections::HashMap;

pub(crate) struct StatementCache {
    capacity: usize,
    entries: HashMap<Box<str>, (Statement, u64)>,
    clock: u64,
}

impl StatementCache {
    pub(crate) fn new(capacity: u32) -> Self {
        StatementCache {
            capacity: capacity as usize,
            entries: HashMap::new(),
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
        if self.capacity == 0 || self.entries.contains_key(stmt.sql()) {
            return;
        }
        stmt.clear_bindings();
        if self.entries.len() >= self.capacity {
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
        self.entries.insert(stmt.sql().into(), (stmt, self.clock));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
