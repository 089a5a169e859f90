//! The C ABI: a thin veneer over the safe core. Each exported function checks
//! its pointers and handles, converts strings, runs inside the panic boundary
//! (`error::call` / `error::value`) and maps errors to a code plus the
//! thread-local message. No pool logic lives here.
//!
//! One file per handle type; `handle` is the only place that turns a C handle
//! into a Rust object.

// The C names of the handle types are the contract (API.md).
#![allow(non_camel_case_types)]

// In the order the header presents them.
pub mod error;
pub mod options;
pub mod pool;
pub mod conn;
pub mod stmt;
pub mod batch;
pub mod shared;
pub(crate) mod fork;
pub mod function;
mod handle;

use crate::error::{Error, Result};
use handle::{Exclusive, HandleTable};
use std::ffi::{c_char, CStr};

/// An opaque C handle type and the table its objects live in.
pub(crate) trait Handle: Sized + 'static {
    type Object: Send + 'static;
    fn table() -> &'static HandleTable<Self::Object>;
    /// What the handle is called in messages.
    const NAME: &'static str;
}

pub(crate) fn address<H: Handle>(handle: *const H) -> Result<u64> {
    if handle.is_null() {
        return Err(Error::misuse(format!("{} handle is NULL", H::NAME)));
    }
    Ok(handle as usize as u64)
}

/// Takes the handle's object for this thread alone.
pub(crate) fn lock<H: Handle>(handle: *const H) -> Result<Exclusive<'static, H::Object>> {
    H::table().lock_exclusive(address(handle)?)
}

/// Takes the handle's object for release, waiting out shared users.
pub(crate) fn lock_for_release<H: Handle>(handle: *const H) -> Result<Exclusive<'static, H::Object>> {
    H::table().lock_exclusive_waiting(address(handle)?)
}

/// Releases a handle no thread is using and returns its object.
pub(crate) fn take<H: Handle>(handle: *const H) -> Result<H::Object> {
    H::table().take(address(handle)?)
}

/// Stores `object` and returns a new handle for it.
pub(crate) fn new_handle<H: Handle>(object: H::Object) -> Result<*mut H> {
    let value = H::table().insert(object)?;
    Ok(std::ptr::without_provenance_mut(value as usize))
}

/// Stores `object` with a tag any thread may read (`HandleTable::tag`) and
/// returns a new handle for it.
pub(crate) fn new_tagged_handle<H: Handle>(object: H::Object, tag: u64) -> Result<*mut H> {
    let value = H::table().insert_tagged(object, tag)?;
    Ok(std::ptr::without_provenance_mut(value as usize))
}

/// Stores `object` with an action any thread may run on it (`run_action`).
///
/// # Safety
/// `action` stays valid as long as `object` lives.
#[inline(always)]
pub(crate) unsafe fn new_handle_with_action<H: Handle>(object: H::Object, action: handle::Action) -> Result<*mut H> {
    // SAFETY: the table keeps `object`, which keeps the action, while the
    // handle is live.
    let value = unsafe { H::table().insert_with_action(object, Some(action)) }?;
    Ok(std::ptr::without_provenance_mut(value as usize))
}

/// Runs the handle's action, even while another thread uses the object.
pub(crate) fn run_action<H: Handle>(handle: *const H) -> Result<bool> {
    H::table().run_action(address(handle)?)
}

/// The bytes of a NUL-terminated string from C, borrowed for the call (for
/// SQL, whose UTF-8 is checked only when it is not already cached).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for 'a.
pub(crate) unsafe fn c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A NUL-terminated UTF-8 string from C, borrowed for the call.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for 'a.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller's promise, passed on.
    let bytes = unsafe { c_bytes(p, what) }?;
    std::str::from_utf8(bytes)
        .map_err(|e| Error::invalid(format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// UTF-8 text from C: `len` bytes at `s`, or up to its NUL when `len` is
/// -1. NULL `s`, `len` below -1 and invalid UTF-8 are INVALID_ARGUMENT.
///
/// # Safety
/// `s` is NULL or points to `len` readable bytes (a NUL-terminated string
/// when `len` is -1) that stay valid for 'a.
pub(crate) unsafe fn c_text<'a>(s: *const c_char, len: i64, what: &str) -> Result<&'a str> {
    let bytes = match len {
        // SAFETY: the caller's promise, passed on.
        -1 => return unsafe { c_str(s, what) },
        _ if s.is_null() => return Err(Error::invalid(format!("{what} is NULL"))),
        len if len < 0 => {
            return Err(Error::invalid(format!(
                "{what} length {len} is invalid (use -1 or >= 0)"
            )))
        }
        // SAFETY: the caller promises len readable bytes at s.
        len => unsafe { std::slice::from_raw_parts(s.cast::<u8>(), len as usize) },
    };
    std::str::from_utf8(bytes)
        .map_err(|e| Error::invalid(format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// Bytes from C: `len` bytes at `p`, which may be NULL when `len` is 0.
/// NULL `p` with `len` > 0, or `len` < 0, is INVALID_ARGUMENT.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay valid for 'a.
pub(crate) unsafe fn c_blob<'a>(p: *const std::ffi::c_void, len: i64, what: &str) -> Result<&'a [u8]> {
    match len {
        0 => Ok(&[]),
        len if len < 0 => Err(Error::invalid(format!("{what} length {len} is invalid (must be >= 0)"))),
        _ if p.is_null() => Err(Error::invalid(format!("{what} pointer is NULL"))),
        // SAFETY: the caller promises len readable bytes at p.
        len => Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len as usize) }),
    }
}

/// Checks an out-pointer before any work is done, so that a NULL one fails
/// without side effects.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<()> {
    if out.is_null() {
        return Err(Error::invalid(format!("{what} (the out-pointer) is NULL")));
    }
    Ok(())
}

/// Writes a result through a checked out-pointer.
///
/// # Safety
/// `out` passed `check_out` and points to writable memory for a T.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the caller checked out and promises it is writable.
    unsafe { out.write(value) };
}

/// Checks the size of a struct passed with its size (API.md, "ABI"): any
/// size is accepted (an older, shorter struct or a newer, longer one) but 0.
pub(crate) fn check_out_size(out_size: usize, what: &str) -> Result<()> {
    if out_size == 0 {
        return Err(Error::invalid(format!(
            "out_size is 0: pass sizeof({what}) as the caller compiled it"
        )));
    }
    Ok(())
}

/// Writes a struct passed with its size: min(out_size, its size) bytes of
/// `value`, then zeros up to out_size, so that an older caller's shorter
/// struct is filled as far as it reaches and a newer one's extra fields
/// read 0.
///
/// # Safety
/// `out` passed `check_out` and points to `out_size` writable bytes; `T` is
/// a `repr(C)` struct without padding (every byte of it is initialised).
pub(crate) unsafe fn write_sized<T: Copy>(out: *mut T, out_size: usize, value: T) {
    let written = out_size.min(std::mem::size_of::<T>());
    // SAFETY: `value` has size_of::<T>() >= written readable bytes; `out`
    // has out_size >= written writable bytes (the caller's promise); a local
    // and the caller's memory do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.cast::<u8>(), written);
        std::ptr::write_bytes(out.cast::<u8>().add(written), 0, out_size - written);
    }
}

/// Copies `text` into a caller's buffer, NUL-terminated, the way every text
/// function of the API does: with `buf` NULL and `size` 0 it only reports
/// the size needed (text + NUL) through `needed`; a buffer too small is
/// SQLPOOL_INVALID_ARGUMENT and leaves it untouched. `needed` may be NULL.
///
/// # Safety
/// `buf` is NULL or points to `size` writable bytes; `needed` is NULL or
/// points to a writable size_t.
pub(crate) unsafe fn write_text(text: &str, buf: *mut c_char, size: usize, needed: *mut usize) -> Result<()> {
    let required = text.len() + 1;
    if buf.is_null() {
        if size != 0 {
            return Err(Error::invalid(format!("buf is NULL but size is {size}")));
        }
    } else if size < required {
        return Err(Error::invalid(format!(
            "buffer of {size} bytes is too small: {required} needed"
        )));
    } else {
        // SAFETY: buf has size >= required writable bytes; text has
        // required - 1 readable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            *buf.add(text.len()) = 0;
        }
    }
    if !needed.is_null() {
        // SAFETY: the caller promises needed is writable.
        unsafe { needed.write(required) };
    }
    Ok(())
}
