//! The C ABI. Every `extern "C"` function of the crate lives under this module, one file per concern; the rest of
//! the crate is safe Rust.
//!
//! Conventions (also in the generated header and the README):
//! - Every function catches panics and returns `PROM_RS_ERR_PANIC` (or a documented neutral value); a panic never
//!   unwinds into the host.
//! - Pointer arguments are checked for NULL; strings must be NUL-terminated UTF-8 and are only borrowed for the call.
//! - Enum-like parameters arrive as `int32_t` and are range-checked, never transmuted.
//! - On failure, `prom_rs_last_error()` returns a message for the calling thread (like `errno`, it is not cleared
//!   by later successful calls).
//!
//! The exports are safe `extern "C"` functions although they dereference their pointer arguments: their callers are
//! C hosts, bound by the header's contract rather than by Rust's `unsafe`, and a `# Safety` section per export would
//! only repeat the conventions above in the header. The helpers that do the dereferencing are `unsafe fn`; each
//! export states in a `// SAFETY:` comment which part of the contract covers its call.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod check;
pub mod events;
pub mod lifecycle;
pub mod script;
pub mod stats;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};

/// Result of every fallible C ABI call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum prom_rs_result {
    /// Success.
    PROM_RS_OK = 0,
    /// A required pointer argument was NULL.
    PROM_RS_ERR_NULL = 1,
    /// A string argument was not valid UTF-8.
    PROM_RS_ERR_UTF8 = 2,
    /// A configuration key or value was refused (message names the key).
    PROM_RS_ERR_CONFIG = 3,
    /// The scrape port could not be bound or a thread not started.
    PROM_RS_ERR_BIND = 4,
    /// The call is not valid in the current state.
    PROM_RS_ERR_STATE = 5,
    /// The core panicked; the call was abandoned and the host may carry on.
    PROM_RS_ERR_PANIC = 6,
    /// An argument was out of range (message says which and what is allowed).
    PROM_RS_ERR_INVALID = 7,
    /// A file could not be opened or written.
    PROM_RS_ERR_IO = 8,
}

pub use prom_rs_result::*;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Remembers `msg` as this thread's last error.
pub(crate) fn set_last_error(msg: impl Into<String>) {
    let msg = msg.into();
    LAST_ERROR.with(|e| *e.borrow_mut() = msg);
}

/// This thread's last error message.
pub(crate) fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().clone())
}

/// Fails the call with `code` and `msg`.
pub(crate) fn fail(code: prom_rs_result, msg: impl Into<String>) -> prom_rs_result {
    set_last_error(msg);
    code
}

/// What an export returns when its body panicked.
pub(crate) trait PanicDefault {
    fn panic_default() -> Self;
}

impl PanicDefault for prom_rs_result {
    fn panic_default() -> Self {
        PROM_RS_ERR_PANIC
    }
}

impl PanicDefault for usize {
    fn panic_default() -> Self {
        0
    }
}

impl PanicDefault for () {
    fn panic_default() -> Self {}
}

/// Runs an export's body, turning a panic into the return type's panic default and a last-error message. The panic
/// hook has already sent the panic message to the host's log.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(ret) => ret,
            Err(_) => {
                $crate::ffi::set_last_error("internal error (panic) in res_prom_rs; the call was abandoned, see the log");
                $crate::ffi::PanicDefault::panic_default()
            }
        }
    };
}
pub(crate) use ffi_panic_boundary;

/// Unwraps a `Result<T, prom_rs_result>` inside an export, returning the error code.
macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_ffi;

/// Borrows a C string argument for the duration of the call.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that stays valid and unmodified for `'a`, which the caller keeps
/// within the C call the string was passed to (the header's contract for every `const char *` argument).
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, prom_rs_result> {
    if p.is_null() {
        return Err(fail(PROM_RS_ERR_NULL, format!("argument {name} is NULL")));
    }
    // SAFETY: non-NULL was checked; this function's contract gives a NUL-terminated string valid and unmodified for
    // `'a`, which bounds the returned borrow.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    // Hosts pass ASCII almost always (technologies, endpoint names, statuses); `is_ascii` checks a word at a time,
    // where full UTF-8 validation costs more than the rest of an event. Other strings take the full check.
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and any sequence of ASCII bytes is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| {
        fail(
            PROM_RS_ERR_UTF8,
            format!("argument {name} is not valid UTF-8"),
        )
    })
}

/// Like [`arg_str`], but NULL gives `None`.
///
/// # Safety
///
/// As for [`arg_str`]: `p` is NULL or a NUL-terminated string valid and unmodified for `'a`.
pub(crate) unsafe fn arg_opt_str<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, prom_rs_result> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: this function's contract is that of `arg_str`.
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// Borrows the object behind an opaque handle.
///
/// # Safety
///
/// `p` is NULL or points to a live `T` that is neither freed nor mutated (other than through its own
/// synchronisation) for `'a`: handles come from this crate's `_new`/`_start` functions (a leaked `Box`) and stay
/// valid until the matching `_free`/`_stop`, which the header forbids calling concurrently with other calls on them.
pub(crate) unsafe fn arg_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T, prom_rs_result> {
    if p.is_null() {
        return Err(fail(PROM_RS_ERR_NULL, format!("argument {name} is NULL")));
    }
    // SAFETY: non-NULL was checked; this function's contract gives a live, shared `T` for `'a`.
    Ok(unsafe { &*p })
}

/// Borrows the object behind an opaque handle (or an output pointer) mutably.
///
/// # Safety
///
/// `p` is NULL or points to a live, writable `T` that nothing else reads or writes for `'a` (configuration handles
/// and output pointers are documented as not shared between threads during a call).
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, prom_rs_result> {
    if p.is_null() {
        return Err(fail(PROM_RS_ERR_NULL, format!("argument {name} is NULL")));
    }
    // SAFETY: non-NULL was checked; this function's contract makes this the only reference for `'a`.
    Ok(unsafe { &mut *p })
}

/// Copies `text` into a caller buffer of `len` bytes (truncated, always NUL-terminated when `len > 0`) and returns
/// the full length of `text` (without NUL), so the caller can retry with a bigger buffer.
///
/// # Safety
///
/// `buf` is NULL or points to at least `len` writable bytes (the header's contract for every `buf`/`len` pair).
pub(crate) unsafe fn copy_out(text: &str, buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: this function's contract gives a writable buffer of at least `len` bytes; we write `n + 1 <= len`
        // bytes, and the source is a live Rust string that cannot overlap a caller buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}
