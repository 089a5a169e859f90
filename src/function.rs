//! User-defined scalar SQL functions: a closure over the call's arguments,
//! registered on a connection with `sqlite3_create_function_v2`. SQLite owns
//! one reference to the closure per connection it is registered on and
//! drops it when the function is replaced or the connection closes. A panic
//! in the closure is caught here and becomes the query's error: it never
//! unwinds into SQLite.

use crate::error::{panic_text, Error, Result};
use crate::statement::{db_error, Value};
use rusqlite::ffi;
use std::ffi::{c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use crate::prim::Arc;

/// The most arguments SQLite lets a function declare (SQLITE_MAX_FUNCTION_ARG).
pub const MAX_FUNCTION_ARGS: i32 = 127;
/// SQLite's limit on a function name, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// What a function returns for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionOutput {
    Integer(i64),
    Float(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// The closure of a function: the call's arguments in, a value or an error
/// message (the query fails with it) out.
type Callback = dyn Fn(&[Value<'_>]) -> std::result::Result<FunctionOutput, String> + Send + Sync;

struct Definition {
    name: CString,
    n_args: i32,
    deterministic: bool,
    callback: Box<Callback>,
}

/// A scalar SQL function, ready to register on connections
/// ([`crate::Connection::create_function`]) or on every connection of a pool
/// ([`crate::Options::add_function`]). Clones share the closure, which is
/// dropped with the last clone and the last connection it is registered on.
///
/// Arguments arrive as [`Value`]s borrowed from SQLite for the call; a TEXT
/// argument's bytes are UTF-8 as SQLite stores them and are followed by a
/// NUL in SQLite's memory (`sqlite3_value_text`).
#[derive(Clone)]
pub struct Function {
    definition: Arc<Definition>,
}

impl Function {
    /// A function `name` taking `n_args` arguments (-1: any number, up to
    /// 127). `deterministic` lets SQLite use it in indexes and factor it out
    /// of loops (SQLITE_DETERMINISTIC). A name that is empty, longer than 255
    /// bytes or contains a NUL, or `n_args` outside [-1, 127], is
    /// `InvalidArgument`.
    pub fn new(
        name: &str,
        n_args: i32,
        deterministic: bool,
        callback: impl Fn(&[Value<'_>]) -> std::result::Result<FunctionOutput, String> + Send + Sync + 'static,
    ) -> Result<Function> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(Error::invalid(format!(
                "function name `{name}` must be 1 to {MAX_NAME_BYTES} bytes long"
            )));
        }
        let c_name = CString::new(name)
            .map_err(|_| Error::invalid(format!("function name `{}` contains a NUL", name.escape_debug())))?;
        if !(-1..=MAX_FUNCTION_ARGS).contains(&n_args) {
            return Err(Error::invalid(format!(
                "function `{name}`: n_args = {n_args} is invalid (use -1 for any number, or 0 to {MAX_FUNCTION_ARGS})"
            )));
        }
        Ok(Function {
            definition: Arc::new(Definition {
                name: c_name,
                n_args,
                deterministic,
                callback: Box::new(callback),
            }),
        })
    }

    pub fn name(&self) -> &str {
        self.definition.name.to_str().unwrap_or_default()
    }

    pub fn n_args(&self) -> i32 {
        self.definition.n_args
    }

    pub fn is_deterministic(&self) -> bool {
        self.definition.deterministic
    }

    /// True when registering `other` would replace this function (SQLite's
    /// rule: same name, ignoring ASCII case, and same number of arguments).
    pub(crate) fn same_signature(&self, other: &Function) -> bool {
        self.n_args() == other.n_args() && self.name().eq_ignore_ascii_case(other.name())
    }
}

// Functions compare by identity, so that options stay comparable.
impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.definition, &other.definition)
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name())
            .field("n_args", &self.n_args())
            .field("deterministic", &self.is_deterministic())
            .finish()
    }
}

/// Registers `function` on `db`, replacing one with the same name and number
/// of arguments; SQLite keeps a reference until then or until `db` closes.
/// Replacing a function while a statement of `db` is running is an error
/// (SQLITE_BUSY).
///
/// # Safety
/// `db` is a live connection, used by this thread alone for the call.
pub(crate) unsafe fn register(db: NonNull<ffi::sqlite3>, function: &Function) -> Result<()> {
    let definition = &function.definition;
    let app = Box::into_raw(Box::new(Arc::clone(definition))).cast::<c_void>();
    let mut flags = ffi::SQLITE_UTF8;
    if definition.deterministic {
        flags |= ffi::SQLITE_DETERMINISTIC;
    }
    // SAFETY: db is live (the caller's promise); name is NUL-terminated;
    // app is the Box that destroy_definition frees, which SQLite calls
    // exactly once: on replacement, at close, or at once if this call fails.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db.as_ptr(),
            definition.name.as_ptr(),
            definition.n_args,
            flags,
            app,
            Some(call_function),
            None,
            None,
            Some(destroy_definition),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(db_error(
            db,
            &format!("registering function {}({})", function.name(), function.n_args()),
        ));
    }
    Ok(())
}

unsafe extern "C" fn destroy_definition(app: *mut c_void) {
    // A panic in a closure's drop must not unwind into SQLite; the
    // definition is gone either way.
    let _ = catch_unwind(|| {
        // SAFETY: app is the Box made by register, freed only here.
        drop(unsafe { Box::from_raw(app.cast::<Arc<Definition>>()) });
    });
}

unsafe extern "C" fn call_function(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes the app pointer given to register, alive while
    // the function is registered, so for this call.
    let definition = unsafe { &*ffi::sqlite3_user_data(ctx).cast::<Arc<Definition>>() };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let argc = usize::try_from(argc).unwrap_or(0);
        let args: Option<Vec<Value<'_>>> = (0..argc)
            // SAFETY: SQLite passes argc live values in argv for the call.
            .map(|i| unsafe { read_value(*argv.add(i)) })
            .collect();
        args.map(|args| (definition.callback)(&args))
    }));
    // SAFETY: ctx is the call's context; results are copied by SQLite.
    unsafe {
        match outcome {
            Ok(Some(Ok(output))) => set_result(ctx, &output),
            Ok(Some(Err(message))) => set_error(ctx, &message),
            Ok(None) => ffi::sqlite3_result_error_nomem(ctx),
            Err(payload) => {
                let text = panic_text(&*payload);
                let name = definition.name.to_string_lossy();
                set_error(ctx, &format!("function {name} panicked: {text}"));
            }
        }
    }
}

/// One argument; `None` when SQLite ran out of memory converting it.
///
/// # Safety
/// `v` is a live value of the current call; the result borrows it.
unsafe fn read_value<'a>(v: *mut ffi::sqlite3_value) -> Option<Value<'a>> {
    // SAFETY: v is live; text/blob come before bytes, as SQLite requires,
    // and stay valid for the call since nothing converts v meanwhile.
    unsafe {
        let bytes = |p: *const u8| {
            if p.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(p, ffi::sqlite3_value_bytes(v) as usize)
            }
        };
        Some(match ffi::sqlite3_value_type(v) {
            ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_value_int64(v)),
            ffi::SQLITE_FLOAT => Value::Float(ffi::sqlite3_value_double(v)),
            ffi::SQLITE_TEXT => {
                let p = ffi::sqlite3_value_text(v);
                if p.is_null() {
                    return None;
                }
                Value::Text(bytes(p))
            }
            ffi::SQLITE_BLOB => Value::Blob(bytes(ffi::sqlite3_value_blob(v).cast())),
            _ => Value::Null,
        })
    }
}

/// # Safety
/// `ctx` is the context of the running call.
unsafe fn set_result(ctx: *mut ffi::sqlite3_context, output: &FunctionOutput) {
    // SAFETY: ctx is live; TRANSIENT makes SQLite copy text and blobs.
    unsafe {
        match output {
            FunctionOutput::Integer(v) => ffi::sqlite3_result_int64(ctx, *v),
            FunctionOutput::Float(v) => ffi::sqlite3_result_double(ctx, *v),
            FunctionOutput::Text(s) => ffi::sqlite3_result_text64(
                ctx,
                s.as_ptr().cast(),
                s.len() as u64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as u8,
            ),
            // An empty BLOB, not NULL (a NULL pointer would make it NULL).
            FunctionOutput::Blob(b) if b.is_empty() => ffi::sqlite3_result_zeroblob(ctx, 0),
            FunctionOutput::Blob(b) => {
                ffi::sqlite3_result_blob64(ctx, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_TRANSIENT())
            }
            FunctionOutput::Null => ffi::sqlite3_result_null(ctx),
        }
    }
}

/// # Safety
/// `ctx` is the context of the running call.
unsafe fn set_error(ctx: *mut ffi::sqlite3_context, message: &str) {
    let len = c_int::try_from(message.len()).unwrap_or(c_int::MAX);
    // SAFETY: ctx is live; message has at least len readable bytes; SQLite copies it.
    unsafe { ffi::sqlite3_result_error(ctx, message.as_ptr().cast(), len) };
}
