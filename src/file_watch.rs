//! pre_ping's watch on the database file: notices when it is replaced or
//! removed (and, for `immutable=1` URIs, written in place).
//!
//! Files are checked lazily, so that thousands of idle pools cost the
//! monitor nothing: the monitor checks at each tick only the files of pools
//! used since the last tick; a checkout of a pool not used lately checks its
//! file itself. The checkout's fast path is one atomic load (`freshness`).

use crate::sync::ForkMutex;
use crate::prim::{AtomicU8, Ordering};

/// Not on the monitor's list: the last check may be old, so the next
/// checkout checks the file itself.
const STALE: u8 = 0;
/// On the monitor's list, checked at its last tick, not used since.
const CHECKED: u8 = 1;
/// On the monitor's list and used since its last tick.
const IN_USE: u8 = 2;

pub(crate) struct WatchedFile {
    path: String,
    /// Also compare size and mtime: for `immutable=1` URIs, whose connections
    /// trust the file never to change and would not see an in-place write.
    content_too: bool,
    identity: ForkMutex<Option<FileIdentity>>,
    /// STALE, CHECKED or IN_USE.
    freshness: AtomicU8,
}

/// What a checkout of a pool not used since the monitor's last tick did.
pub(crate) struct FirstUse {
    /// The monitor must now watch this pool (it was not on its list).
    pub(crate) start_watching: bool,
}

/// What pre_ping compares: device and inode (replaced or removed), and for
/// immutable files size and mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    /// Seconds and nanoseconds apart: as one i64 of nanoseconds, a date after
    /// 2262 would overflow.
    mtime_s: i64,
    mtime_ns: i64,
}

impl WatchedFile {
    /// Watches `path` (the connection's main file) as it is now; `uri` is what
    /// the pool was opened with (it tells whether the file is immutable).
    pub(crate) fn new(path: String, uri: &str) -> WatchedFile {
        let content_too = is_immutable_uri(uri);
        WatchedFile {
            identity: ForkMutex::new(file_identity(&path, content_too)),
            content_too,
            path,
            freshness: AtomicU8::new(STALE),
        }
    }

    /// Compares the file with the last identity seen and, when it changed,
    /// calls `on_change` before any other check can report it unchanged:
    /// a concurrent checker that finds no change knows `on_change` is done.
    pub(crate) fn check(&self, on_change: impl FnOnce()) {
        let now = file_identity(&self.path, self.content_too);
        let mut seen = self.identity.lock();
        if *seen != now {
            *seen = now;
            on_change();
        }
    }

    /// The checkout's fast path: true when the pool was used since the
    /// monitor's last tick, whose check is then recent enough.
    #[inline]
    pub(crate) fn used_this_tick(&self) -> bool {
        self.freshness.load(Ordering::Acquire) == IN_USE
    }

    /// The checkout's slow path (once per pool and tick): checks the file now
    /// unless the monitor checked it at its last tick, and marks the pool used.
    #[cold]
    pub(crate) fn first_use(&self, on_change: impl Fn()) -> FirstUse {
        let checked_now = self.freshness.load(Ordering::Acquire) == STALE;
        if checked_now {
            self.check(&on_change);
        }
        let before = self.freshness.swap(IN_USE, Ordering::AcqRel);
        if before == STALE && !checked_now {
            // The monitor let the pool go between the load and the swap.
            self.check(&on_change);
        }
        FirstUse {
            start_watching: before == STALE,
        }
    }

    /// The monitor's tick, for a pool on its list: checks the file of a pool
    /// used since the last tick; lets go of one that was not (its next
    /// checkout checks the file itself). True while the pool stays watched.
    pub(crate) fn tick(&self, on_change: impl FnOnce()) -> bool {
        if self
            .freshness
            .compare_exchange(IN_USE, CHECKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.check(on_change);
            return true;
        }
        match self
            .freshness
            .compare_exchange(CHECKED, STALE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            // A checkout marked it used meanwhile: keep it.
            Err(now) => now != STALE,
        }
    }

    pub(crate) fn lock_for_fork(&self) {
        self.identity.lock_for_fork();
    }

    /// # Safety
    /// Only after `lock_for_fork` on this thread.
    pub(crate) unsafe fn unlock_after_fork_in_parent(&self) {
        // SAFETY: the caller took the lock with lock_for_fork.
        unsafe { self.identity.unlock_after_fork_in_parent() }
    }

    /// # Safety
    /// Only in a forked child, after `lock_for_fork` in the parent.
    pub(crate) unsafe fn reset_after_fork_in_child(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.identity.reset_after_fork_in_child() }
        // The child has no monitor thread (nor list) yet: checkouts check.
        self.freshness.store(STALE, Ordering::Relaxed);
    }
}

fn file_identity(path: &str, content_too: bool) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| FileIdentity {
        dev: m.dev(),
        ino: m.ino(),
        size: if content_too { m.size() } else { 0 },
        mtime_s: if content_too { m.mtime() } else { 0 },
        mtime_ns: if content_too { m.mtime_nsec() } else { 0 },
    })
}

fn is_immutable_uri(path: &str) -> bool {
    path.starts_with("file:")
        && path
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|kv| kv == "immutable=1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn changed(watched: &WatchedFile) -> bool {
        let mut changed = false;
        watched.check(|| changed = true);
        changed
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = crate::test_support::scratch_dir(&format!("file-watch-{name}"));
        let path = dir.join("f.db");
        std::fs::write(&path, b"x").unwrap();
        path
    }

    /// Issue 10: mtime as one i64 of nanoseconds overflowed (a panic in debug
    /// builds) for a file dated after 2262.
    #[test]
    fn a_file_dated_after_2262_is_watched_and_its_change_seen() {
        let path = temp_file("2300");
        let year_2300 = SystemTime::UNIX_EPOCH + Duration::from_secs(10_413_792_000);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(year_2300).unwrap();
        let p = path.to_str().unwrap();
        let watched = WatchedFile::new(p.to_owned(), &format!("file:{p}?immutable=1"));
        assert!(!changed(&watched));
        file.set_modified(year_2300 + Duration::from_secs(1)).unwrap();
        assert!(changed(&watched), "an in-place change of a file dated 2300 is seen");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_replaced_file_is_seen_and_an_unchanged_one_is_not() {
        let path = temp_file("replace");
        let p = path.to_str().unwrap();
        let watched = WatchedFile::new(p.to_owned(), p);
        assert!(!changed(&watched));
        let other = path.with_extension("new");
        std::fs::write(&other, b"y").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(changed(&watched));
        assert!(!changed(&watched));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    fn replace(path: &std::path::Path) {
        let other = path.with_extension("new");
        std::fs::write(&other, b"y").unwrap();
        std::fs::rename(&other, path).unwrap();
    }

    /// Issue 11: an idle pool is not checked by the monitor, so its first
    /// checkout checks the file itself; a pool in use is checked at each
    /// tick, and let go after a tick without use.
    #[test]
    fn first_use_after_idle_checks_the_file_and_ticks_let_unused_pools_go() {
        let path = temp_file("lazy");
        let p = path.to_str().unwrap();
        let watched = WatchedFile::new(p.to_owned(), p);
        let changes = std::cell::Cell::new(0);
        let bump = || changes.set(changes.get() + 1);
        assert!(!watched.used_this_tick());
        replace(&path);
        assert!(watched.first_use(bump).start_watching);
        assert_eq!(changes.get(), 1, "the first use after idle checked the file");
        assert!(watched.used_this_tick());
        assert!(!watched.first_use(bump).start_watching, "already watched");
        replace(&path);
        assert!(watched.tick(bump), "used: checked and kept");
        assert_eq!(changes.get(), 2);
        assert!(!watched.used_this_tick());
        assert!(!watched.first_use(bump).start_watching, "checked at the last tick: no check");
        assert_eq!(changes.get(), 2);
        assert!(watched.tick(bump));
        assert!(!watched.tick(bump), "a tick without use lets the pool go");
        replace(&path);
        assert!(watched.first_use(bump).start_watching);
        assert_eq!(changes.get(), 3);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
