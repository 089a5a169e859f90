//! pre_ping's watch on the database file: notices when it is replaced or
//! removed (and, for `immutable=1` URIs, written in place).

use crate::sync::ForkMutex;

pub(crate) struct WatchedFile {
    path: String,
    /// Also compare size and mtime: for `immutable=1` URIs, whose connections
    /// trust the file never to change and would not see an in-place write.
    content_too: bool,
    identity: ForkMutex<Option<FileIdentity>>,
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
        }
    }

    /// Compares the file with the last identity seen; true when it changed.
    pub(crate) fn changed(&self) -> bool {
        let now = file_identity(&self.path, self.content_too);
        let mut seen = self.identity.lock();
        if *seen != now {
            *seen = now;
            return true;
        }
        false
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

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sqlpool-file-watch-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        assert!(!watched.changed());
        file.set_modified(year_2300 + Duration::from_secs(1)).unwrap();
        assert!(watched.changed(), "an in-place change of a file dated 2300 is seen");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_replaced_file_is_seen_and_an_unchanged_one_is_not() {
        let path = temp_file("replace");
        let p = path.to_str().unwrap();
        let watched = WatchedFile::new(p.to_owned(), p);
        assert!(!watched.changed());
        let other = path.with_extension("new");
        std::fs::write(&other, b"y").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(watched.changed());
        assert!(!watched.changed());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
