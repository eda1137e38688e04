//! Versions, errors, logging, configuration objects and the core's start/reload/stop.

use super::*;
use crate::config::ConfigBuilder;
use crate::core::{Core, CoreError};
use crate::log::{self, Level};
use std::ffi::{c_void, CString};
use std::sync::Arc;

/// Opaque configuration being built: key/value pairs validated one by one.
#[allow(non_camel_case_types)]
pub struct prom_rs_config {
    _private: [u8; 0],
}

/// Opaque running exporter.
#[allow(non_camel_case_types)]
pub struct prom_rs_core {
    _private: [u8; 0],
}

/// The host's logger (may be NULL). `level`: 1 error, 2 warning, 3 notice, 4 debug. `message` is valid only during
/// the call. It may be called from any thread, including the core's own threads.
#[allow(non_camel_case_types)]
pub type prom_rs_log_fn =
    Option<unsafe extern "C" fn(level: i32, message: *const c_char, userdata: *mut c_void)>;

/// Converts our handle pointer back to the Rust object.
///
/// # Safety
///
/// `core` is NULL or a handle from `prom_rs_core_start` that is not stopped for `'a` (the header: only
/// `prom_rs_core_stop` must not race with other calls on a handle).
pub(crate) unsafe fn core_ref<'a>(core: *const prom_rs_core) -> Result<&'a Core, prom_rs_result> {
    // SAFETY: such a handle is a leaked `Box<Core>`, live and only shared (`Core` synchronises itself) for `'a`.
    unsafe { arg_ref(core.cast::<Core>(), "core") }
}

/// # Safety
///
/// `cfg` is NULL or a handle from `prom_rs_config_new`, not freed and used by no other call for `'a`.
unsafe fn builder_mut<'a>(
    cfg: *mut prom_rs_config,
) -> Result<&'a mut ConfigBuilder, prom_rs_result> {
    // SAFETY: such a handle is a leaked `Box<ConfigBuilder>`, exclusively ours for `'a`.
    unsafe { arg_mut(cfg.cast::<ConfigBuilder>(), "cfg") }
}

/// # Safety
///
/// `cfg` is NULL or a handle from `prom_rs_config_new`, not freed or changed for `'a`.
unsafe fn builder_ref<'a>(cfg: *const prom_rs_config) -> Result<&'a ConfigBuilder, prom_rs_result> {
    // SAFETY: such a handle is a leaked `Box<ConfigBuilder>`, live and unchanged for `'a`.
    unsafe { arg_ref(cfg.cast::<ConfigBuilder>(), "cfg") }
}

/// Returns `PROM_RS_ABI_VERSION` of the library actually loaded.
#[no_mangle]
pub extern "C" fn prom_rs_abi_version() -> u32 {
    crate::ABI_VERSION
}

static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("version contains NUL"),
    };

/// The library version as a static NUL-terminated string (never freed).
#[no_mangle]
pub extern "C" fn prom_rs_version() -> *const c_char {
    VERSION.as_ptr()
}

/// A static description of a result code (never freed).
#[no_mangle]
pub extern "C" fn prom_rs_strerror(result: prom_rs_result) -> *const c_char {
    let s: &'static CStr = match result {
        PROM_RS_OK => c"ok",
        PROM_RS_ERR_NULL => c"a required pointer argument was NULL",
        PROM_RS_ERR_UTF8 => c"a string argument was not valid UTF-8",
        PROM_RS_ERR_CONFIG => c"configuration refused",
        PROM_RS_ERR_BIND => c"cannot listen on the configured address",
        PROM_RS_ERR_STATE => c"call not valid in the current state",
        PROM_RS_ERR_PANIC => c"internal error (panic) in res_prom_rs",
        PROM_RS_ERR_INVALID => c"argument out of range",
        PROM_RS_ERR_IO => c"file error",
    };
    s.as_ptr()
}

/// Copies the calling thread's last error message into `buf` (`len` bytes, truncated, NUL-terminated when
/// `len > 0`) and returns its full length. `buf` may be NULL to ask for the length.
#[no_mangle]
pub extern "C" fn prom_rs_last_error(buf: *mut c_char, len: usize) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the header requires `buf` to be NULL or `len` writable bytes.
        unsafe { copy_out(&last_error(), buf, len) }
    }
}

/// Registers the host's logger (NULL: log to stderr). `userdata` is passed back unchanged. Call it before
/// `prom_rs_core_start`, and keep `cb` callable until it is replaced or the library is unloaded.
#[no_mangle]
pub extern "C" fn prom_rs_set_logger(cb: prom_rs_log_fn, userdata: *mut c_void) {
    ffi_panic_boundary! {
        log::install_panic_hook();
        let ud = userdata as usize;
        log::set_sink(cb.map(|cb| -> log::Sink {
            Arc::new(move |level: Level, msg: &str| {
                let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: the host registered `cb` for exactly this and keeps it valid until it registers another;
                // `text` outlives the call and the userdata is returned unchanged.
                unsafe { cb(level as i32, text.as_ptr(), ud as *mut c_void) }
            })
        }));
    }
}

/// Creates an empty configuration holding the defaults. Free it with `prom_rs_config_free`.
#[no_mangle]
pub extern "C" fn prom_rs_config_new(out: *mut *mut prom_rs_config) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `out` to be NULL or a writable `prom_rs_config *` of the caller's.
        let out = try_ffi!(unsafe { arg_mut(out, "out") });
        *out = Box::into_raw(Box::new(ConfigBuilder::new())).cast::<prom_rs_config>();
        PROM_RS_OK
    }
}

/// Sets one key (`section.key` for keys outside `[general]`). A bad key or value returns `PROM_RS_ERR_CONFIG` and a
/// message naming the key, the value (secrets hidden) and what is allowed; the configuration is unchanged then.
#[no_mangle]
pub extern "C" fn prom_rs_config_set(
    cfg: *mut prom_rs_config,
    key: *const c_char,
    value: *const c_char,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `cfg` to be NULL or a live configuration that no other call uses meanwhile.
        let b = try_ffi!(unsafe { builder_mut(cfg) });
        // SAFETY: the header requires `key` and `value` to be NULL or NUL-terminated and unchanged during the call.
        let key = try_ffi!(unsafe { arg_str(key, "key") });
        // SAFETY: as for `key`.
        let value = try_ffi!(unsafe { arg_str(value, "value") });
        match b.set(key, value) {
            Ok(()) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_CONFIG, e.to_string()),
        }
    }
}

/// Reads back the value `cfg` holds for `key` (spelled as for `prom_rs_config_set`; the default when the key was
/// not set), so a shim acts on what the core accepted instead of parsing the text again: a boolean as 0 or 1, a
/// duration in milliseconds, an integer as it is. An unknown key, or one whose value is text (an address, a path, a
/// list), returns `PROM_RS_ERR_CONFIG` and a message naming the key and the keys that can be read. `*out` is
/// written only on success. `cfg` is only read.
#[no_mangle]
pub extern "C" fn prom_rs_config_get_int(
    cfg: *const prom_rs_config,
    key: *const c_char,
    out: *mut i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `cfg` to be NULL or a live configuration that is only read meanwhile.
        let b = try_ffi!(unsafe { builder_ref(cfg) });
        // SAFETY: the header requires `key` to be NULL or NUL-terminated and unchanged during the call.
        let key = try_ffi!(unsafe { arg_str(key, "key") });
        // SAFETY: the header requires `out` to be NULL or a writable `int64_t` of the caller's.
        let out = try_ffi!(unsafe { arg_mut(out, "out") });
        match b.get_int(key) {
            Ok(v) => {
                *out = v;
                PROM_RS_OK
            }
            Err(e) => fail(PROM_RS_ERR_CONFIG, e.to_string()),
        }
    }
}

/// Frees a configuration. NULL is allowed.
#[no_mangle]
pub extern "C" fn prom_rs_config_free(cfg: *mut prom_rs_config) {
    ffi_panic_boundary! {
        if !cfg.is_null() {
            // SAFETY: non-NULL handles come from `prom_rs_config_new` (a leaked `Box<ConfigBuilder>`); the header
            // says each is freed once and not used afterwards.
            drop(unsafe { Box::from_raw(cfg.cast::<ConfigBuilder>()) });
        }
    }
}

fn core_error(e: CoreError) -> prom_rs_result {
    let code = match e {
        CoreError::Http(_) => PROM_RS_ERR_BIND,
        CoreError::Trace(..) | CoreError::Tls(_) => PROM_RS_ERR_IO,
    };
    fail(code, e.to_string())
}

/// Validates `cfg` and starts the core: binds the scrape port and starts its threads. On success `*out` receives
/// the handle (stop it with `prom_rs_core_stop`). `cfg` is only read; the caller still frees it.
#[no_mangle]
pub extern "C" fn prom_rs_core_start(
    cfg: *const prom_rs_config,
    out: *mut *mut prom_rs_core,
) -> prom_rs_result {
    ffi_panic_boundary! {
        log::install_panic_hook();
        // SAFETY: the header requires `cfg` to be NULL or a live configuration, only read during the call.
        let b = try_ffi!(unsafe { builder_ref(cfg) });
        // SAFETY: the header requires `out` to be NULL or a writable `prom_rs_core *` of the caller's.
        let out = try_ffi!(unsafe { arg_mut(out, "out") });
        let config = match b.finish() {
            Ok(c) => c,
            Err(e) => return fail(PROM_RS_ERR_CONFIG, e.to_string()),
        };
        match Core::start(config) {
            Ok(core) => {
                *out = Box::into_raw(Box::new(core)).cast::<prom_rs_core>();
                PROM_RS_OK
            }
            Err(e) => core_error(e),
        }
    }
}

/// Applies a new configuration to a running core, keeping every counter. On any error the old configuration stays
/// in force and keeps serving.
#[no_mangle]
pub extern "C" fn prom_rs_core_reload(
    core: *mut prom_rs_core,
    cfg: *const prom_rs_config,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start` (reload may run
        // alongside events; only `_stop` must not race with it).
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `cfg` to be NULL or a live configuration, only read during the call.
        let b = try_ffi!(unsafe { builder_ref(cfg) });
        let config = match b.finish() {
            Ok(c) => c,
            Err(e) => return fail(PROM_RS_ERR_CONFIG, e.to_string()),
        };
        match core.reload(config) {
            Ok(()) => PROM_RS_OK,
            Err(e) => core_error(e),
        }
    }
}

/// Stops the core: stops and joins every thread it started and releases the port before returning, then frees the
/// handle. NULL is allowed. No other call may use the handle during or after this one.
#[no_mangle]
pub extern "C" fn prom_rs_core_stop(core: *mut prom_rs_core) {
    ffi_panic_boundary! {
        if !core.is_null() {
            // SAFETY: non-NULL handles come from `prom_rs_core_start` (a leaked `Box<Core>`); the header says each is
            // stopped once, with no concurrent calls on it.
            let core = unsafe { Box::from_raw(core.cast::<Core>()) };
            core.stop();
        }
    }
}

/// Writes a few human-readable status lines (listen address, series, events, last scrape, collectors) into `buf`
/// like `prom_rs_last_error`, and returns the full length. For a host CLI command.
#[no_mangle]
pub extern "C" fn prom_rs_core_status(
    core: *const prom_rs_core,
    buf: *mut c_char,
    len: usize,
) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        match unsafe { core_ref(core) } {
            // SAFETY: the header requires `buf` to be NULL or `len` writable bytes.
            Ok(c) => unsafe { copy_out(&c.status_text(), buf, len) },
            Err(_) => 0,
        }
    }
}
