//! The built cdylib, loaded with `dlopen` (libloading) exactly as a host loads it, and a started core.
//!
//! Every entry point the benchmarks use is resolved once into a plain function pointer, so a timed call is one
//! indirect call through the C ABI, as from the C shim. The safe wrappers below hold the only `unsafe` blocks.

use libloading::Library;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};

/// `PROM_RS_OK`.
pub const OK: i32 = 0;

type Handle = *mut c_void;
type Str = *const c_char;

/// Entry points of the C ABI (signatures from `include/res_prom_rs.h`).
pub struct Api {
    config_new: unsafe extern "C" fn(*mut Handle) -> i32,
    config_set: unsafe extern "C" fn(Handle, Str, Str) -> i32,
    config_free: unsafe extern "C" fn(Handle),
    core_start: unsafe extern "C" fn(Handle, *mut Handle) -> i32,
    core_stop: unsafe extern "C" fn(Handle),
    core_reload: unsafe extern "C" fn(Handle, Handle) -> i32,
    last_error: unsafe extern "C" fn(*mut c_char, usize) -> usize,
    set_logger: unsafe extern "C" fn(Option<LogFn>, *mut c_void),
    dial_result: unsafe extern "C" fn(Handle, Str, i64) -> i32,
    security_event: unsafe extern "C" fn(Handle, Str, Str, i64) -> i32,
    #[allow(clippy::type_complexity)]
    rtcp_report: unsafe extern "C" fn(Handle, Str, Str, i32, f64, f64, f64, f64, i64) -> i32,
    channel_created: unsafe extern "C" fn(Handle, Str, Str, Str, i32, i64) -> i32,
    channel_state: unsafe extern "C" fn(Handle, Str, i32, i64) -> i32,
    channel_hangup: unsafe extern "C" fn(Handle, Str, Str, i32, i64, i64) -> i32,
    #[allow(clippy::type_complexity)]
    stat_set:
        unsafe extern "C" fn(Handle, Str, Str, i32, f64, *const Str, *const Str, usize) -> i32,
    /// Kept last and never moved out: the function pointers above stay valid while it is loaded.
    _lib: Library,
}

type LogFn = unsafe extern "C" fn(i32, *const c_char, *mut c_void);

/// The core's logger while benchmarking: errors and warnings only, so progress lines stay readable.
unsafe extern "C" fn quiet_logger(level: i32, message: *const c_char, _userdata: *mut c_void) {
    if level <= 2 && !message.is_null() {
        // SAFETY: the header promises a NUL-terminated message valid for the duration of the call.
        let msg = unsafe { CStr::from_ptr(message) };
        eprintln!("res_prom_rs[{level}]: {}", msg.to_string_lossy());
    }
}

/// Resolves `name` as a `T` (a function pointer type).
///
/// # Safety
/// `T` must be the symbol's real prototype, and the result must not be called after `lib` is unloaded.
unsafe fn sym<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
    // SAFETY: forwarded to the caller (see above).
    unsafe { lib.get::<T>(name.as_bytes()) }
        .map(|s| *s)
        .map_err(|e| format!("symbol {name}: {e}"))
}

/// The library path: `PROM_RS_LIB`, else `target/release/libres_prom_rs.so` (as in `tests/common`).
pub fn lib_path() -> PathBuf {
    std::env::var_os("PROM_RS_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/libres_prom_rs.so")
        })
}

impl Api {
    /// Loads the library and resolves every symbol; an error names what is missing.
    pub fn load(path: &Path) -> Result<Api, String> {
        // SAFETY: loading our own library, whose initialisers are Rust statics with no side effects.
        let lib =
            unsafe { Library::new(path) }.map_err(|e| format!("dlopen {}: {e}", path.display()))?;
        // SAFETY: each field's type is the header's prototype for the symbol named, and the pointers are only used
        // while `lib` (moved into the same struct, never out of it) stays loaded.
        let api = unsafe {
            Api {
                config_new: sym(&lib, "prom_rs_config_new")?,
                config_set: sym(&lib, "prom_rs_config_set")?,
                config_free: sym(&lib, "prom_rs_config_free")?,
                core_start: sym(&lib, "prom_rs_core_start")?,
                core_stop: sym(&lib, "prom_rs_core_stop")?,
                core_reload: sym(&lib, "prom_rs_core_reload")?,
                last_error: sym(&lib, "prom_rs_last_error")?,
                set_logger: sym(&lib, "prom_rs_set_logger")?,
                dial_result: sym(&lib, "prom_rs_dial_result")?,
                security_event: sym(&lib, "prom_rs_security_event")?,
                rtcp_report: sym(&lib, "prom_rs_rtcp_report")?,
                channel_created: sym(&lib, "prom_rs_channel_created")?,
                channel_state: sym(&lib, "prom_rs_channel_state")?,
                channel_hangup: sym(&lib, "prom_rs_channel_hangup")?,
                stat_set: sym(&lib, "prom_rs_stat_set")?,
                _lib: lib,
            }
        };
        // SAFETY: `quiet_logger` is a plain function that stays callable for the life of the process.
        unsafe { (api.set_logger)(Some(quiet_logger), std::ptr::null_mut()) };
        Ok(api)
    }

    /// The calling thread's last error message.
    pub fn last_error(&self) -> String {
        let mut buf = vec![0u8; 1024];
        // SAFETY: the buffer is writable for the length passed.
        let n = unsafe { (self.last_error)(buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(n.min(buf.len() - 1));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Builds a configuration for `127.0.0.1:port` from `pairs`; free it with `config_free`.
    fn config(&self, port: u16, pairs: &[(&str, &str)]) -> Result<Handle, String> {
        let mut cfg: Handle = std::ptr::null_mut();
        // SAFETY: out pointer to a local.
        if unsafe { (self.config_new)(&mut cfg) } != OK {
            return Err(format!("prom_rs_config_new: {}", self.last_error()));
        }
        let port = port.to_string();
        let all = [("bindaddr", "127.0.0.1"), ("port", port.as_str())];
        for (k, v) in all.iter().chain(pairs) {
            let (ck, cv) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
            // SAFETY: a live configuration handle and NUL-terminated strings borrowed for the call.
            if unsafe { (self.config_set)(cfg, ck.as_ptr(), cv.as_ptr()) } != OK {
                let msg = self.last_error();
                // SAFETY: handle from config_new, freed once.
                unsafe { (self.config_free)(cfg) };
                return Err(format!("config {k}={v}: {msg}"));
            }
        }
        Ok(cfg)
    }

    /// Builds a configuration from `pairs` and starts a core on `127.0.0.1:port`.
    pub fn start(&self, port: u16, pairs: &[(&str, &str)]) -> Result<Core<'_>, String> {
        let cfg = self.config(port, pairs)?;
        let mut core: Handle = std::ptr::null_mut();
        // SAFETY: a valid configuration handle (only read) and an out pointer to a local.
        let rc = unsafe { (self.core_start)(cfg, &mut core) };
        let msg = if rc == OK {
            String::new()
        } else {
            self.last_error()
        };
        // SAFETY: handle from config_new, freed once; the core keeps its own copy.
        unsafe { (self.config_free)(cfg) };
        if rc != OK || core.is_null() {
            return Err(format!("prom_rs_core_start ({rc}): {msg}"));
        }
        Ok(Core {
            api: self,
            ptr: core,
        })
    }
}

/// A running core; stopped (threads joined, port released) when dropped.
pub struct Core<'a> {
    api: &'a Api,
    ptr: Handle,
}

// SAFETY: the header allows a core handle to be used for events from several threads at once; only `Drop` (which
// needs exclusive ownership) calls `prom_rs_core_stop`, so stop can never race with an event.
unsafe impl Sync for Core<'_> {}

impl Core<'_> {
    /// `prom_rs_core_reload` with a configuration built from `pairs` for `127.0.0.1:port`.
    pub fn reload(&self, port: u16, pairs: &[(&str, &str)]) -> Result<(), String> {
        let cfg = self.api.config(port, pairs)?;
        // SAFETY: a live core handle (reload may run alongside events) and a valid configuration handle.
        let rc = unsafe { (self.api.core_reload)(self.ptr, cfg) };
        let msg = if rc == OK {
            String::new()
        } else {
            self.api.last_error()
        };
        // SAFETY: handle from config_new, freed once; the core keeps its own copy.
        unsafe { (self.api.config_free)(cfg) };
        if rc == OK {
            Ok(())
        } else {
            Err(format!("prom_rs_core_reload ({rc}): {msg}"))
        }
    }

    /// `prom_rs_dial_result`.
    #[inline]
    pub fn dial_result(&self, status: &CStr, ts_us: i64) -> i32 {
        // SAFETY: live handle, NUL-terminated string borrowed for the call.
        unsafe { (self.api.dial_result)(self.ptr, status.as_ptr(), ts_us) }
    }

    /// `prom_rs_security_event`.
    #[inline]
    pub fn security_event(&self, service: &CStr, event: &CStr, ts_us: i64) -> i32 {
        // SAFETY: live handle, NUL-terminated strings borrowed for the call.
        unsafe { (self.api.security_event)(self.ptr, service.as_ptr(), event.as_ptr(), ts_us) }
    }

    /// `prom_rs_rtcp_report`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn rtcp_report(
        &self,
        tech: &CStr,
        endpoint: &CStr,
        direction: i32,
        jitter: f64,
        loss: f64,
        rtt: f64,
        mes: f64,
        ts_us: i64,
    ) -> i32 {
        let (t, e) = (tech.as_ptr(), endpoint.as_ptr());
        // SAFETY: live handle, NUL-terminated strings borrowed for the call.
        unsafe { (self.api.rtcp_report)(self.ptr, t, e, direction, jitter, loss, rtt, mes, ts_us) }
    }

    /// `prom_rs_channel_created`.
    #[inline]
    pub fn channel_created(
        &self,
        uid: &CStr,
        tech: &CStr,
        endpoint: &CStr,
        state: i32,
        ts: i64,
    ) -> i32 {
        let (u, t, e) = (uid.as_ptr(), tech.as_ptr(), endpoint.as_ptr());
        // SAFETY: live handle, NUL-terminated strings borrowed for the call.
        unsafe { (self.api.channel_created)(self.ptr, u, t, e, state, ts) }
    }

    /// `prom_rs_channel_state`.
    #[inline]
    pub fn channel_state(&self, uid: &CStr, state: i32, ts_us: i64) -> i32 {
        // SAFETY: live handle, NUL-terminated string borrowed for the call.
        unsafe { (self.api.channel_state)(self.ptr, uid.as_ptr(), state, ts_us) }
    }

    /// `prom_rs_channel_hangup`.
    #[inline]
    pub fn channel_hangup(
        &self,
        uid: &CStr,
        tech: &CStr,
        cause: i32,
        created_us: i64,
        ts_us: i64,
    ) -> i32 {
        let (u, t) = (uid.as_ptr(), tech.as_ptr());
        // SAFETY: live handle, NUL-terminated strings borrowed for the call.
        unsafe { (self.api.channel_hangup)(self.ptr, u, t, cause, created_us, ts_us) }
    }

    /// `prom_rs_stat_set` with one label (`kind` 2: gauge).
    pub fn stat_set_gauge(
        &self,
        group: &CStr,
        name: &CStr,
        label: &CStr,
        value: &CStr,
        v: f64,
    ) -> i32 {
        let (names, values) = ([label.as_ptr()], [value.as_ptr()]);
        let (g, n) = (group.as_ptr(), name.as_ptr());
        // SAFETY: live handle; both arrays hold exactly `n_labels` (1) NUL-terminated strings.
        unsafe { (self.api.stat_set)(self.ptr, g, n, 2, v, names.as_ptr(), values.as_ptr(), 1) }
    }

    /// The message of the last failed call on this thread.
    pub fn last_error(&self) -> String {
        self.api.last_error()
    }
}

impl Drop for Core<'_> {
    fn drop(&mut self) {
        // SAFETY: handle from core_start, stopped once; `&mut self` proves no event call is in flight.
        unsafe { (self.api.core_stop)(self.ptr) }
    }
}
