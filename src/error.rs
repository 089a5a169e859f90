//! The core's error type: a kind, the SQLite extended code (0 when the error
//! did not come from SQLite) and a message that names what failed and why.

use std::fmt;

/// What went wrong, independent of how a binding reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// SQLite returned an error; see [`Error::sqlite_code`].
    Sqlite,
    /// A stale or foreign handle, calls in the wrong order, or concurrent use.
    Misuse,
    /// An invalid value: an option, a path, text that is not UTF-8.
    InvalidArgument,
    /// Checkout waited `timeout` without a connection becoming free.
    Timeout,
    /// The pool was closed.
    Closed,
    /// The database file is missing, unreadable or a directory.
    CantOpen,
    /// A panic inside the library, or a pool left poisoned by one.
    Internal,
}

/// Boxed, so that a `Result` of a small value stays small (two registers):
/// the fast paths return results through every layer, and errors are rare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    kind: ErrorKind,
    sqlite_code: i32,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::with_code(kind, 0, message.into())
    }

    pub fn sqlite(extended_code: i32, message: impl Into<String>) -> Self {
        Self::with_code(ErrorKind::Sqlite, extended_code, message.into())
    }

    #[cold]
    fn with_code(kind: ErrorKind, sqlite_code: i32, message: String) -> Self {
        Error(Box::new(Details {
            kind,
            sqlite_code,
            message,
        }))
    }

    pub fn misuse(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Misuse, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Wraps a rusqlite error, prefixing what we were doing (`context`).
    pub(crate) fn from_rusqlite(context: &str, err: rusqlite::Error) -> Self {
        match err {
            rusqlite::Error::SqliteFailure(e, msg) => {
                let detail = msg.unwrap_or_else(|| e.to_string());
                let kind = if e.code == rusqlite::ErrorCode::CannotOpen {
                    ErrorKind::CantOpen
                } else {
                    ErrorKind::Sqlite
                };
                Error::with_code(kind, e.extended_code, format!("{context}: {detail}"))
            }
            other => Error::new(ErrorKind::Sqlite, format!("{context}: {other}")),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The SQLite extended result code, or 0 when SQLite did not report it.
    pub fn sqlite_code(&self) -> i32 {
        self.0.sqlite_code
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

/// The message a panic was raised with ("" when it is not a string).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<&str>() {
        Some(s) => (*s).to_owned(),
        None => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    }
}
