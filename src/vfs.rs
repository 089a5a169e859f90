//! The "sqlpool-unix" VFS: SQLite's "unix" VFS with its lock transitions
//! marked, so that fork() waits only for them (see crate::fork).
//!
//! Besides its static mutexes (which the fork handler takes), the unix VFS
//! keeps a mutex per open inode (`unixInodeInfo.pLockMutex`) and per shared
//! memory region (`unixShmNode.pShmMutex`). A thread holding one at fork()
//! leaves it locked for ever in the child, whose next use of that file then
//! hangs. They are held only inside these methods (read in the bundled
//! os_unix.c, SQLite 3.46): xOpen (findReusableFd), xClose, xLock, xUnlock,
//! xCheckReservedLock, xFileControl (unixFcntlExternalReader), xShmMap,
//! xShmLock, xShmBarrier and xShmUnmap. Each runs as a `Transition`: the fork
//! handler raises FORK_PENDING and waits until no transition is in progress;
//! a thread starting one while a fork is pending waits until it is done.
//! Whole statements, busy waits included, never delay fork().

use rusqlite::ffi;
use std::ffi::{c_int, c_void, CStr};
use crate::prim::Ordering::{Acquire, Release, SeqCst};
use crate::prim::{spin_hint, thread, AtomicBool, AtomicPtr, AtomicUsize};

/// The name every pool connection opens with.
pub(crate) const NAME: &CStr = c"sqlpool-unix";

static FORK_PENDING: AtomicBool = AtomicBool::new(false);
/// Threads inside a marked method now.
static IN_TRANSITION: AtomicUsize = AtomicUsize::new(0);
/// The wrapped "unix" VFS.
static INNER: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(std::ptr::null_mut());

/// A marked method in progress (until dropped).
struct Transition;

impl Transition {
    fn enter() -> Transition {
        loop {
            // SeqCst here and in `drain_for_fork` (Dekker): either the fork
            // handler sees our count, or we see its FORK_PENDING.
            IN_TRANSITION.fetch_add(1, SeqCst);
            if !FORK_PENDING.load(SeqCst) {
                return Transition;
            }
            IN_TRANSITION.fetch_sub(1, SeqCst);
            while FORK_PENDING.load(Acquire) {
                thread::yield_now();
            }
        }
    }
}

impl Drop for Transition {
    fn drop(&mut self) {
        IN_TRANSITION.fetch_sub(1, Release);
    }
}

/// Prepare handler: from now on no thread starts a transition; returns when
/// none is in progress. Called, and `end_fork` too, with the library's locks
/// held, which orders two threads forking at once. Transitions never wait for anything the forking
/// thread holds (SQLite's static mutexes are taken after this), so this ends.
pub(crate) fn drain_for_fork() {
    FORK_PENDING.store(true, SeqCst);
    let mut spins = 0u32;
    while IN_TRANSITION.load(SeqCst) != 0 {
        spins += 1;
        if spins < 64 {
            spin_hint();
        } else {
            thread::yield_now();
        }
    }
}

/// Parent and child handlers: transitions may start again.
pub(crate) fn end_fork() {
    FORK_PENDING.store(false, SeqCst);
}

/// Registers the VFS (not as the default) unless it already is.
///
/// # Safety
/// SQLite is initialized.
pub(crate) unsafe fn register() {
    // SAFETY: NAME is NUL-terminated; vfs_find only reads the VFS list.
    if !unsafe { ffi::sqlite3_vfs_find(NAME.as_ptr()) }.is_null() {
        return;
    }
    // SAFETY: as above; "unix" is SQLite's built-in VFS, never freed.
    let inner = unsafe { ffi::sqlite3_vfs_find(c"unix".as_ptr()) };
    if inner.is_null() {
        return; // no unix VFS: opens then fail naming the missing VFS
    }
    INNER.store(inner, Release);
    // SAFETY: inner is a live VFS; the copy keeps its methods and app data,
    // which its methods other than xOpen read (the copy is passed to them).
    let mut shim = unsafe { *inner };
    shim.szOsFile = unsafe { (*inner).szOsFile } + HEADER as c_int;
    shim.zName = NAME.as_ptr();
    shim.pNext = std::ptr::null_mut();
    shim.xOpen = Some(shim_open);
    // SAFETY: the leaked VFS lives for the whole process, as SQLite needs.
    unsafe { ffi::sqlite3_vfs_register(Box::leak(Box::new(shim)), 0) };
}

/// Our part of each file: SQLite's base (pMethods), then the unix file.
const HEADER: usize = std::mem::size_of::<ffi::sqlite3_file>();
const _: () = assert!(HEADER % 8 == 0);

/// The wrapped unix file behind one of ours.
///
/// # Safety
/// `file` was allocated by SQLite with our szOsFile.
unsafe fn inner_file(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: szOsFile = HEADER + the unix file's size.
    unsafe { file.cast::<u8>().add(HEADER).cast() }
}

/// The unix file's methods.
///
/// # Safety
/// `file` is one of ours, opened (inner pMethods set).
unsafe fn inner_methods(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: the caller passes an open file; the unix VFS's method tables
    // are static.
    unsafe {
        let inner = inner_file(file);
        (inner, &*(*inner).pMethods)
    }
}

unsafe extern "C" fn shim_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner_vfs = INNER.load(Acquire);
    // SAFETY: registered only after INNER was set; SQLite gives us szOsFile
    // bytes at `file`, so the unix file fits behind our header.
    unsafe {
        (*file).pMethods = std::ptr::null();
        let inner = inner_file(file);
        (*inner).pMethods = std::ptr::null();
        let rc = {
            let _t = Transition::enter();
            match (*inner_vfs).xOpen {
                Some(open) => open(inner_vfs, name, inner, flags, out_flags),
                None => ffi::SQLITE_CANTOPEN,
            }
        };
        // SQLite calls xClose when pMethods is set, even if the open failed.
        let methods = (*inner).pMethods;
        if !methods.is_null() {
            (*file).pMethods = match (*methods).iVersion {
                1 => &METHODS_V1,
                2 => &METHODS_V2,
                _ => &METHODS_V3,
            };
        }
        rc
    }
}

/// Forwards one io method to the unix file, inside a transition or not.
macro_rules! forward {
    ($name:ident, $x:ident, marked: $marked:tt, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            // SAFETY: SQLite calls io methods only on a file we opened, whose
            // unix methods table has this method (our table's version is the
            // unix table's).
            unsafe {
                let (inner, methods) = inner_methods(file);
                let _t = forward!(@gate $marked);
                match methods.$x {
                    Some(method) => method(inner $(, $arg)*),
                    None => ffi::SQLITE_IOERR,
                }
            }
        }
    };
    (@gate true) => { Some(Transition::enter()) };
    (@gate false) => { None::<Transition> };
}

forward!(x_close, xClose, marked: true, () -> c_int);
forward!(x_read, xRead, marked: false, (buf: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64) -> c_int);
forward!(x_write, xWrite, marked: false, (buf: *const c_void, amount: c_int, offset: ffi::sqlite3_int64) -> c_int);
forward!(x_truncate, xTruncate, marked: false, (size: ffi::sqlite3_int64) -> c_int);
forward!(x_sync, xSync, marked: false, (flags: c_int) -> c_int);
forward!(x_file_size, xFileSize, marked: false, (size: *mut ffi::sqlite3_int64) -> c_int);
forward!(x_lock, xLock, marked: true, (level: c_int) -> c_int);
forward!(x_unlock, xUnlock, marked: true, (level: c_int) -> c_int);
forward!(x_check_reserved_lock, xCheckReservedLock, marked: true, (out: *mut c_int) -> c_int);
forward!(x_file_control, xFileControl, marked: true, (op: c_int, arg: *mut c_void) -> c_int);
forward!(x_sector_size, xSectorSize, marked: false, () -> c_int);
forward!(x_device_characteristics, xDeviceCharacteristics, marked: false, () -> c_int);
forward!(x_shm_map, xShmMap, marked: true, (page: c_int, page_size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int);
forward!(x_shm_lock, xShmLock, marked: true, (offset: c_int, n: c_int, flags: c_int) -> c_int);

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: as in `forward!`.
    unsafe {
        let (inner, methods) = inner_methods(file);
        let _t = Transition::enter();
        if let Some(barrier) = methods.xShmBarrier {
            barrier(inner);
        }
    }
}
forward!(x_shm_unmap, xShmUnmap, marked: true, (delete: c_int) -> c_int);
forward!(x_fetch, xFetch, marked: false, (offset: ffi::sqlite3_int64, amount: c_int, out: *mut *mut c_void) -> c_int);
forward!(x_unfetch, xUnfetch, marked: false, (offset: ffi::sqlite3_int64, page: *mut c_void) -> c_int);

const ALL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

static METHODS_V3: ffi::sqlite3_io_methods = ALL_METHODS;

/// For unix files without memory mapping (version 2).
static METHODS_V2: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xFetch: None,
    xUnfetch: None,
    ..ALL_METHODS
};

/// For unix files without shared memory (version 1: `nolock`, some locking
/// styles).
static METHODS_V1: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
    ..ALL_METHODS
};
