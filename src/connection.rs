//! A pooled SQLite connection: the rusqlite connection, the statements handed
//! out during the current checkout, the statement cache, and the read
//! snapshot of a checkout.

use crate::error::{Error, Result};
use crate::fork::{self, InSqlite, SqliteCall};
use crate::options::Options;
use crate::statement::{abbreviate, Statement, Step, StmtClass, TerminatedSql};
use crate::statement_cache::StatementCache;
use rusqlite::{ffi, OpenFlags};
use std::ffi::c_int;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use crate::prim::Arc;

/// With the `test-panic` feature, `exec` of this SQL panics inside the core.
#[cfg(feature = "test-panic")]
pub const TEST_PANIC_SQL: &str = "SELECT sqlpool_test_panic()";

/// Names a statement handed out by [`Connection::prepare`] during one checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StmtId {
    index: u32,
    /// 64 bits: never wraps, so an id of an earlier checkout never names a
    /// later statement in the same slot.
    generation: u64,
}

struct ActiveSlot {
    generation: u64,
    stmt: Option<Statement>,
    /// The statement cache's hash of its SQL, to go back without rehashing.
    hash: u64,
}

/// The read snapshot of a checkout: one read transaction, begun before the
/// first reading statement and ended at checkin or before a write; with
/// snapshot_linger_ms, kept across checkouts for up to that long.
struct Snapshot {
    enabled: bool,
    open: bool,
    begin: Option<Statement>,
    commit: Option<Statement>,
    /// 0: the snapshot ends at checkin (also whatever the option says for
    /// in-memory and shared-cache databases, where a held read transaction
    /// holds table locks that writers do not wait for).
    linger_ms: u64,
    /// When the open snapshot began (monitor::now_ms).
    began_ms: u64,
    /// Kept open at the last checkin: the next checkout's first statement
    /// checks that it may still be used.
    carried: bool,
    /// Whether the journal mode lets the open snapshot linger (a rollback
    /// journal); asked once per snapshot.
    journal_allows: Option<bool>,
    /// The database's change counter when the snapshot began (None: could
    /// not be read): a write through another copy of SQLite in this process
    /// ignores our shared lock, and changes it.
    change_counter: Option<u32>,
    /// A carried snapshot was ended for a waiting writer in this checkout:
    /// the next one is not carried, so the writer can commit.
    writer_seen: bool,
}

/// Pool bookkeeping carried by each connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnMeta {
    /// Numbered from 1 per pool, for events and leak reports.
    pub(crate) id: u64,
    pub(crate) file_generation: u64,
    pub(crate) fork_epoch: u64,
    /// Coarse-clock millisecond after which the connection is recycled.
    pub(crate) expires_at_ms: u64,
    pub(crate) invalidated: bool,
    /// Hit an error after which it cannot be trusted (corrupt, I/O, not a database).
    pub(crate) broken: bool,
    pub(crate) cache_hits: u64,
    pub(crate) cache_misses: u64,
}

pub struct Connection {
    // Drop (below) finalizes the statements, then closes `db`.
    active: Vec<ActiveSlot>,
    free_slots: Vec<u32>,
    next_generation: u64,
    cache: StatementCache,
    snapshot: Snapshot,
    raw: NonNull<ffi::sqlite3>,
    db: ManuallyDrop<rusqlite::Connection>,
    pub(crate) meta: ConnMeta,
    /// Set when the pool detects leaks.
    pub(crate) holding: Option<Arc<crate::events::Holding>>,
    /// For connections the fork VFS guard does not cover (fork::call_gate):
    /// raised while inside SQLite.
    call_gate: Option<Arc<InSqlite>>,
    /// Interrupts the running query from any thread (sqlite3_interrupt);
    /// does nothing once the connection is closed.
    interrupt: Interrupt,
    /// Handles of the statements the C API handed out on this checkout
    /// (src/ffi/conn.rs), released at its checkin. Kept in the boxed
    /// connection so that a C connection handle's object is two words,
    /// moved in registers, and the list's capacity serves every checkout.
    pub(crate) ffi_statements: Vec<u64>,
    /// The pool that handed this connection out, while it is checked out
    /// (None while idle, or the pool would keep itself alive). Kept here so
    /// that a checked-out connection is one word, moved in a register.
    pub(crate) checked_out_from: Option<crate::pool::PoolRef>,
}

/// Interrupts a connection's running query, from any thread.
pub type Interrupt = Arc<dyn Fn() + Send + Sync>;

// SAFETY: the connection is opened in SQLite's multi-thread mode (no
// per-connection mutex) and the pool guarantees one holder at a time, so it
// may move between threads; all raw pointers are owned by it.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens and configures a connection as `opts` say.
    pub(crate) fn open(path: &str, opts: &Options, meta: ConnMeta) -> Result<Connection> {
        // Registers the "sqlpool-unix" VFS (crate::vfs) if not yet done.
        crate::fork::install_handlers();
        let call_gate = fork::needs_call_gate(path).then(fork::new_call_flag);
        // SAFETY: the flag outlives the guard (moved into the result, which
        // keeps the same allocation, or dropped after the guard).
        let _call = call_gate.as_deref().map(|flag| unsafe { SqliteCall::enter(flag) });
        let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if opts.read_only {
            flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
        } else {
            flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
            if opts.create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
        }
        // Through the fork-aware VFS; a URI's own `vfs=` parameter wins.
        let vfs = crate::vfs::NAME.to_str().expect("ASCII name");
        let db = rusqlite::Connection::open_with_flags_and_vfs(path, flags, vfs)
            .map_err(|e| Error::from_rusqlite(&format!("cannot open database '{path}'"), e))?;
        let configure = |what: &str, r: rusqlite::Result<()>| {
            r.map_err(|e| Error::from_rusqlite(&format!("{what} on database '{path}'"), e))
        };
        configure("setting busy_timeout", db.busy_timeout(opts.busy_timeout))?;
        if opts.read_only {
            configure("setting query_only", db.pragma_update(None, "query_only", true))?;
        }
        // Reading the schema now makes a file that is not a database fail here,
        // at open, rather than at the first query.
        configure(
            "reading the schema",
            db.query_row("PRAGMA schema_version", [], |_| Ok(())),
        )?;
        // A panic while a connection opens, for the tests of the budget guard.
        #[cfg(feature = "test-panic")]
        if opts.init_sql.as_deref() == Some(TEST_PANIC_SQL) {
            panic!("test panic requested through init_sql");
        }
        // SAFETY: the handle stays owned by `db`, which lives as long as self.
        let raw = NonNull::new(unsafe { db.handle() })
            .ok_or_else(|| Error::new(crate::ErrorKind::Internal, "SQLite returned a NULL connection"))?;
        for function in &opts.functions {
            // SAFETY: raw is live and used by this thread alone.
            unsafe { crate::function::register(raw, function) }
                .map_err(|e| Error::sqlite(e.sqlite_code(), format!("{} on '{path}'", e.message())))?;
        }
        if let Some(sql) = &opts.init_sql {
            db.execute_batch(sql)
                .map_err(|e| Error::from_rusqlite(&format!("init_sql `{}` failed on '{path}'", abbreviate(sql)), e))?;
        }
        let handle = db.get_interrupt_handle();
        let interrupt: Interrupt = Arc::new(move || handle.interrupt());
        Ok(Connection {
            active: Vec::new(),
            free_slots: Vec::new(),
            next_generation: 1,
            cache: StatementCache::new(opts.statement_cache_capacity),
            snapshot: Snapshot {
                enabled: opts.read_snapshot(),
                open: false,
                begin: None,
                commit: None,
                // Gated connections (a URI's own vfs=) never linger: the
                // monitor ends snapshots under the pool's lock, and a gated
                // SQLite call may wait for a fork that waits for that lock.
                linger_ms: if call_gate.is_none() && !filename_is_memory_or_shared_cache(path) {
                    u64::from(opts.snapshot_linger_ms())
                } else {
                    0
                },
                began_ms: 0,
                carried: false,
                journal_allows: None,
                change_counter: None,
                writer_seen: false,
            },
            raw,
            db: ManuallyDrop::new(db),
            meta,
            holding: None,
            call_gate,
            interrupt,
            ffi_statements: Vec::new(),
            checked_out_from: None,
        })
    }

    /// Marks a gated connection as inside SQLite until the guard is dropped.
    fn enter_sqlite(&self) -> Option<SqliteCall> {
        // SAFETY: the guard lives in a method of self, and self owns the flag.
        self.call_gate.as_deref().map(|flag| unsafe { SqliteCall::enter(flag) })
    }

    /// The file SQLite resolved the path to ("" for memory and temp databases).
    pub(crate) fn main_filename(&self) -> String {
        self.db.path().unwrap_or("").to_owned()
    }

    /// True when no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        // SAFETY: raw is live; get_autocommit only reads connection state.
        unsafe { ffi::sqlite3_get_autocommit(self.raw.as_ptr()) != 0 }
    }

    /// Runs every statement in `sql`, discarding any rows. A NUL byte in
    /// `sql` is an error (SQLite would stop reading there).
    pub fn exec(&mut self, sql: &str) -> Result<()> {
        let sql = std::ffi::CString::new(sql)
            .map_err(|e| Error::invalid(format!("sql contains a NUL byte (at byte {})", e.nul_position())))?;
        self.exec_terminated(TerminatedSql::new(&sql)?)
    }

    /// As `exec`, for SQL already followed by a NUL (from C): no copy.
    pub(crate) fn exec_terminated(&mut self, sql: TerminatedSql<'_>) -> Result<()> {
        // A panic deep inside the library, for the tests of the panic
        // boundary (cargo feature test-panic; never in a normal build).
        #[cfg(feature = "test-panic")]
        if sql.as_str() == TEST_PANIC_SQL {
            panic!("test panic requested through exec");
        }
        let _call = self.enter_sqlite();
        let mut rest = sql;
        loop {
            let (stmt, consumed) = Statement::prepare_next(self.raw, rest).inspect_err(|e| self.note_error(e))?;
            let Some(mut stmt) = stmt else { return Ok(()) };
            let result = (|| {
                self.before_first_step(stmt.class())?;
                while stmt.step_raw()? == Step::Row {}
                Ok(())
            })();
            result.inspect_err(|e| self.note_error(e))?;
            rest = rest.rest(consumed);
        }
    }

    /// Prepares `sql` (reusing the cached statement of an earlier checkout
    /// when there is one) and hands it out until `finalize` or checkin.
    pub fn prepare(&mut self, sql: &str) -> Result<StmtId> {
        self.prepare_bytes(sql.as_bytes())
    }

    /// As `prepare`, for SQL bytes from C: checked to be UTF-8 only when not
    /// in the cache (a cached statement's text was checked when compiled).
    pub(crate) fn prepare_bytes(&mut self, sql: &[u8]) -> Result<StmtId> {
        let hash = crate::statement_cache::sql_hash(sql);
        let stmt = match self.cache.take(hash, sql) {
            Some(stmt) => {
                self.meta.cache_hits += 1;
                stmt
            }
            None => {
                let sql = std::str::from_utf8(sql)
                    .map_err(|e| Error::invalid(format!("sql is not valid UTF-8 (at byte {})", e.valid_up_to())))?;
                self.meta.cache_misses += 1;
                let _call = self.enter_sqlite();
                let mut stmt = Statement::prepare(self.raw, sql).inspect_err(|e| self.note_error(e))?;
                stmt.set_call_gate(self.call_gate.clone());
                stmt
            }
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let index = match self.free_slots.pop() {
            Some(i) => {
                self.active[i as usize] = ActiveSlot {
                    generation,
                    stmt: Some(stmt),
                    hash,
                };
                i
            }
            None => {
                self.active.push(ActiveSlot {
                    generation,
                    stmt: Some(stmt),
                    hash,
                });
                (self.active.len() - 1) as u32
            }
        };
        Ok(StmtId { index, generation })
    }

    fn slot(&mut self, id: StmtId) -> Result<&mut Statement> {
        self.active
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.stmt.as_mut())
            .ok_or_else(|| Error::misuse("statement was finalized or belongs to an earlier checkout"))
    }

    /// The statement, for binding and reading columns.
    pub fn statement(&mut self, id: StmtId) -> Result<&mut Statement> {
        self.slot(id)
    }

    /// The statement, read-only.
    pub fn statement_ref(&self, id: StmtId) -> Result<&Statement> {
        self.active
            .get(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.stmt.as_ref())
            .ok_or_else(|| Error::misuse("statement was finalized or belongs to an earlier checkout"))
    }

    /// Steps the statement, beginning or ending the read snapshot first when
    /// the statement is about to start.
    pub fn step(&mut self, id: StmtId) -> Result<Step> {
        let _call = self.enter_sqlite();
        let stmt = self.slot(id)?;
        let starting = !stmt.is_busy();
        let class = stmt.class();
        if starting && self.snapshot.enabled {
            self.before_first_step(class).inspect_err(|e| self.note_error(e))?;
        }
        let result = self.slot(id)?.step_raw();
        result.inspect_err(|e| self.note_error(e))
    }

    /// Resets the statement and returns it to the statement cache.
    pub fn finalize(&mut self, id: StmtId) -> Result<()> {
        self.slot(id)?;
        let slot = &mut self.active[id.index as usize];
        let mut stmt = slot.stmt.take().expect("slot checked above");
        slot.generation = 0;
        let hash = slot.hash;
        self.free_slots.push(id.index);
        let _call = self.enter_sqlite();
        stmt.reset()?;
        self.cache.put(hash, stmt);
        Ok(())
    }

    /// Resets the statement to run again (bindings are kept).
    pub fn reset(&mut self, id: StmtId) -> Result<()> {
        let _call = self.enter_sqlite();
        self.slot(id)?.reset()
    }

    /// Prepares `sql`, gives it to `f`, and finalizes it whatever `f` returns.
    pub fn with_statement<R>(&mut self, sql: &str, f: impl FnOnce(&mut StatementRunner<'_>) -> Result<R>) -> Result<R> {
        let id = self.prepare(sql)?;
        let result = f(&mut StatementRunner { conn: self, id });
        self.finalize(id)?;
        result
    }

    /// Marks the connection to be closed, not reused, at its checkin.
    pub fn invalidate(&mut self) {
        self.meta.invalidated = true;
    }

    /// Names the current holder in leak reports (a step id, a traceback);
    /// cleared at checkin. Only kept when the pool detects leaks.
    pub fn set_tag(&self, tag: Option<&str>) {
        if let Some(holding) = &self.holding {
            holding.set_tag(tag);
        }
    }

    /// The pool-local number of this connection (as in events).
    pub fn id(&self) -> u64 {
        self.meta.id
    }

    pub fn is_invalidated(&self) -> bool {
        self.meta.invalidated || self.meta.broken
    }

    /// Statements prepared and kept by the cache now.
    pub fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    fn before_first_step(&mut self, class: StmtClass) -> Result<()> {
        if !self.snapshot.enabled {
            return Ok(());
        }
        match class {
            StmtClass::Read => {
                if self.snapshot.carried {
                    self.snapshot.carried = false;
                    if !self.carried_snapshot_fresh(false) {
                        self.end_snapshot()?;
                    }
                }
                if self.is_autocommit() {
                    if self.snapshot.linger_ms != 0 {
                        // Read before SQLite's own check: a commit between the
                        // two only ends the snapshot early.
                        self.snapshot.change_counter = self.change_counter();
                        self.snapshot.began_ms = crate::monitor::now_ms();
                        self.snapshot.journal_allows = None;
                    }
                    run_cached(self.raw, &mut self.snapshot.begin, "BEGIN")?;
                    self.snapshot.open = true;
                }
            }
            StmtClass::Write | StmtClass::TransactionControl => self.end_snapshot()?,
        }
        Ok(())
    }

    /// Ends the read snapshot, if one is open. It only ever holds reads, so
    /// committing it changes nothing and leaves running readers alone.
    fn end_snapshot(&mut self) -> Result<()> {
        self.snapshot.carried = false;
        if self.snapshot.open {
            self.snapshot.open = false;
            if !self.is_autocommit() {
                run_cached(self.raw, &mut self.snapshot.commit, "COMMIT")?;
            }
        }
        Ok(())
    }

    /// At checkin: whether the open snapshot may stay open for the next
    /// checkout (young enough, a rollback journal, no fork under way).
    fn snapshot_may_stay(&mut self) -> bool {
        if std::mem::take(&mut self.snapshot.writer_seen) {
            return false;
        }
        if crate::fork::linger_suspended() || !self.snapshot_young() {
            return false;
        }
        match self.snapshot.journal_allows {
            Some(allows) => allows,
            None => {
                let allows = self.journal_is_rollback();
                self.snapshot.journal_allows = Some(allows);
                allows
            }
        }
    }

    fn snapshot_young(&self) -> bool {
        crate::monitor::now_ms().saturating_sub(self.snapshot.began_ms) < self.snapshot.linger_ms
    }

    /// A carried snapshot may serve on while young and while the database's
    /// change counter is the one it began with (no write came through
    /// another copy of SQLite in this process, which ignores our shared
    /// lock; other writers cannot commit while we hold it). With
    /// `check_writer` (the monitor's sweep: one more system call), also only
    /// while no writer holds the RESERVED lock, about to need ours gone.
    fn carried_snapshot_fresh(&mut self, check_writer: bool) -> bool {
        if !self.snapshot_young() {
            return false;
        }
        let Some(file) = self.main_file() else { return false };
        if check_writer {
            let mut reserved: c_int = 0;
            // SAFETY: `file` is this connection's open main database file,
            // used by this thread alone; its methods live as long as it.
            let asked = unsafe { (*(*file).pMethods).xCheckReservedLock.map(|check| check(file, &mut reserved)) };
            if asked != Some(ffi::SQLITE_OK) || reserved != 0 {
                self.snapshot.writer_seen = true;
                return false;
            }
        }
        // SAFETY: as above.
        let counter = unsafe { read_change_counter(file) };
        counter.is_some() && counter == self.snapshot.change_counter
    }

    /// The main database's sqlite3_file, when open.
    fn main_file(&self) -> Option<*mut ffi::sqlite3_file> {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: raw is live; FILE_POINTER writes the main database's
        // sqlite3_file pointer (owned by the connection) into `file`.
        let rc = unsafe {
            ffi::sqlite3_file_control(self.raw.as_ptr(), c"main".as_ptr(), ffi::SQLITE_FCNTL_FILE_POINTER, (&raw mut file).cast())
        };
        // SAFETY: a non-null `file` from FILE_POINTER is a valid sqlite3_file.
        (rc == ffi::SQLITE_OK && !file.is_null() && unsafe { !(*file).pMethods.is_null() }).then_some(file)
    }

    fn change_counter(&self) -> Option<u32> {
        // SAFETY: as in carried_snapshot_fresh.
        self.main_file().and_then(|file| unsafe { read_change_counter(file) })
    }

    /// Whether the main database uses a rollback journal (not WAL, not in
    /// memory): then a writer needs every shared lock gone to commit.
    fn journal_is_rollback(&self) -> bool {
        let mode = self
            .db
            .prepare_cached("PRAGMA main.journal_mode")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, String>(0)));
        matches!(mode.as_deref().map(str::to_ascii_lowercase).as_deref(), Ok("delete" | "truncate" | "persist"))
    }

    /// Ends a carried snapshot of an idle connection when it is too old, a
    /// writer waits, or `force`; true while it stays carried.
    pub(crate) fn end_idle_snapshot(&mut self, force: bool) -> bool {
        if !self.snapshot.carried {
            return false;
        }
        let _call = self.enter_sqlite();
        if !force && self.carried_snapshot_fresh(true) {
            return true;
        }
        if self.end_snapshot().is_err() {
            self.meta.broken = true;
        }
        false
    }

    /// True while a snapshot kept at checkin is open.
    pub(crate) fn carries_snapshot(&self) -> bool {
        self.snapshot.carried
    }

    /// Errors after which a connection cannot be trusted mark it broken: the
    /// pool closes it at checkin instead of handing it out again.
    fn note_error(&mut self, err: &Error) {
        let primary = err.sqlite_code() & 0xff;
        if matches!(
            primary,
            ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB | ffi::SQLITE_IOERR | ffi::SQLITE_CANTOPEN
        ) {
            self.meta.broken = true;
        }
    }

    /// Returns the connection to a clean state for the next holder: statements
    /// reset and back in the cache, any open transaction rolled back. True when
    /// something was left running or open (the `resets_on_checkin` count).
    pub(crate) fn clean_for_checkin(&mut self) -> bool {
        // Every slot free: no statement handed out is still there.
        if self.active.len() == self.free_slots.len() && !self.snapshot.open && self.is_autocommit() {
            // Nothing to reset: no SQLite call.
            self.free_slots.clear();
            return false;
        }
        let _call = self.enter_sqlite();
        let mut reset_needed = false;
        for index in 0..self.active.len() {
            let slot = &mut self.active[index];
            if let Some(mut stmt) = slot.stmt.take() {
                reset_needed |= stmt.is_busy();
                let _ = stmt.reset();
                self.cache.put(slot.hash, stmt);
            }
        }
        self.active.clear();
        self.free_slots.clear();
        if self.snapshot.open && self.snapshot.linger_ms != 0 && self.snapshot_may_stay() {
            self.snapshot.carried = true;
            return reset_needed;
        }
        if self.end_snapshot().is_err() {
            self.meta.broken = true;
        }
        if !self.is_autocommit() {
            reset_needed = true;
            if self.db.execute_batch("ROLLBACK").is_err() {
                self.meta.broken = true;
            }
        }
        reset_needed
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection
    /// (`sqlite3_changes64`), possibly a previous holder's.
    pub fn changes(&self) -> i64 {
        // SAFETY: raw is live; changes64 only reads connection state.
        unsafe { ffi::sqlite3_changes64(self.raw.as_ptr()) }
    }

    /// The rowid of the last successful INSERT on this connection
    /// (`sqlite3_last_insert_rowid`), 0 if there was none.
    pub fn last_insert_rowid(&self) -> i64 {
        // SAFETY: raw is live; last_insert_rowid only reads connection state.
        unsafe { ffi::sqlite3_last_insert_rowid(self.raw.as_ptr()) }
    }

    /// True while the holder's own transaction (BEGIN .. COMMIT/ROLLBACK) is
    /// open. The read snapshot's transaction does not count: a BEGIN or a
    /// write ends the snapshot first, so an open snapshot is the only
    /// transaction there is.
    pub fn in_transaction(&self) -> bool {
        !self.snapshot.open && !self.is_autocommit()
    }

    /// Registers `function` on this pooled connection for as long as it
    /// lives (across checkouts), replacing one with the same name and number
    /// of arguments. Replacing one while a statement of this connection is
    /// mid-step is an error (SQLITE_BUSY).
    pub fn create_function(&mut self, function: &crate::Function) -> Result<()> {
        let _call = self.enter_sqlite();
        // SAFETY: raw is live and this connection has one holder.
        unsafe { crate::function::register(self.raw, function) }
    }

    /// Interrupts this connection's running query when called, from any
    /// thread (`sqlite3_interrupt`); the query fails with SQLITE_INTERRUPT.
    pub fn interrupter(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// The interrupter, borrowed: valid as long as this connection.
    pub(crate) fn interrupt_fn(&self) -> *const (dyn Fn() + Send + Sync) {
        Arc::as_ptr(&self.interrupt)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("path", &self.db.path()).finish()
    }
}

/// Runs a fixed statement kept prepared in `slot`.
fn run_cached(db: NonNull<ffi::sqlite3>, slot: &mut Option<Statement>, sql: &str) -> Result<()> {
    if slot.is_none() {
        *slot = Some(Statement::prepare(db, sql)?);
    }
    let stmt = slot.as_mut().expect("prepared above");
    let result = stmt.step_raw();
    stmt.reset()?;
    result.map(|_| ())
}

/// The 4-byte change counter at offset 24 of the database header, which
/// every commit increments.
///
/// # Safety
/// `file` is an open sqlite3_file (non-null methods) used by this thread alone.
unsafe fn read_change_counter(file: *mut ffi::sqlite3_file) -> Option<u32> {
    let mut bytes = [0u8; 4];
    // SAFETY: the caller's promise; xRead writes at most 4 bytes into `bytes`.
    let rc = unsafe { ((*(*file).pMethods).xRead?)(file, bytes.as_mut_ptr().cast(), 4, 24) };
    (rc == ffi::SQLITE_OK).then(|| u32::from_be_bytes(bytes))
}

/// SQLite URIs for databases in memory or in a shared cache, whose read
/// transactions hold table locks (SQLITE_LOCKED, no busy wait) instead of
/// file locks.
fn filename_is_memory_or_shared_cache(path: &str) -> bool {
    if path.is_empty() || path == ":memory:" {
        return true;
    }
    let Some(uri) = path.strip_prefix("file:") else {
        return false;
    };
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    uri.starts_with(":memory:")
        || query.split('&').any(|kv| matches!(kv, "mode=memory" | "cache=shared"))
}

/// A prepared statement together with its connection, for
/// [`Connection::with_statement`].
pub struct StatementRunner<'c> {
    conn: &'c mut Connection,
    id: StmtId,
}

impl StatementRunner<'_> {
    pub fn step(&mut self) -> Result<Step> {
        self.conn.step(self.id)
    }

    pub fn stmt(&mut self) -> &mut Statement {
        self.conn
            .slot(self.id)
            .expect("the runner's statement lives until with_statement returns")
    }

    /// Steps to the end, calling `row` for each row.
    pub fn for_each_row(&mut self, mut row: impl FnMut(&mut Statement) -> Result<()>) -> Result<()> {
        while self.step()? == Step::Row {
            row(self.stmt())?;
        }
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _call = self.enter_sqlite();
        // Statements first: a connection with live statements cannot close.
        self.active.clear();
        self.cache = StatementCache::new(0);
        self.snapshot.begin = None;
        self.snapshot.commit = None;
        // SAFETY: db is dropped exactly once, here; nothing uses it after.
        unsafe { ManuallyDrop::drop(&mut self.db) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_connection() -> Connection {
        let meta = ConnMeta {
            id: 1,
            file_generation: 0,
            fork_epoch: 0,
            expires_at_ms: u64::MAX,
            invalidated: false,
            broken: false,
            cache_hits: 0,
            cache_misses: 0,
        };
        Connection::open(":memory:", &Options::default(), meta).unwrap()
    }

    #[test]
    fn a_finalized_statement_id_stays_stale_past_the_32_bit_generation_boundary() {
        let mut conn = memory_connection();
        let old = conn.prepare("SELECT 1").unwrap();
        assert_eq!(old.generation, 1);
        conn.finalize(old).unwrap();
        // As after 2^32 prepares: the last 32-bit generation is handed out,
        // and the next one would wrap to the old id's.
        conn.next_generation = u64::from(u32::MAX);
        let last = conn.prepare("SELECT 2").unwrap();
        assert_eq!(last.index, old.index, "the slot is reused");
        conn.finalize(last).unwrap();
        let live = conn.prepare("SELECT 3").unwrap();
        assert_eq!(live.index, old.index);
        let err = conn.statement(old).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Misuse, "{err}");
        conn.finalize(live).unwrap();
    }

    #[test]
    fn exec_refuses_sql_with_a_nul_byte_instead_of_ignoring_what_follows_it() {
        let mut conn = memory_connection();
        conn.exec("CREATE TABLE t(x)").unwrap();
        let err = conn.exec("SELECT 1;\0DROP TABLE t").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.message().contains("NUL byte (at byte 9)"), "{err}");
        conn.exec("SELECT x FROM t").unwrap();
    }

    #[test]
    fn exec_stops_at_the_failing_statement_of_a_script_and_names_it() {
        let mut conn = memory_connection();
        conn.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);")
            .unwrap();
        let err = conn
            .exec("INSERT INTO t VALUES (3); SELECT nope FROM t; INSERT INTO t VALUES (4)")
            .unwrap_err();
        assert!(err.message().contains("SQL `SELECT nope FROM t"), "{err}");
        let id = conn.prepare("SELECT count(*) FROM t").unwrap();
        conn.step(id).unwrap();
        assert_eq!(conn.statement(id).unwrap().column_int64(0).unwrap(), 3);
        conn.finalize(id).unwrap();
    }
}
