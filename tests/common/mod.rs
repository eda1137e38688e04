//! Helpers shared by the integration tests: the built library loaded the way a host loads it, ports, and a tiny
//! HTTP client over loopback.
#![allow(dead_code)]
// Loads the built library with dlopen and calls its C ABI: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

use libloading::{Library, Symbol};
use std::ffi::{c_char, CStr, CString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// `PROM_RS_OK` and friends, as the header numbers them.
pub const OK: i32 = 0;
pub const ERR_NULL: i32 = 1;
pub const ERR_UTF8: i32 = 2;
pub const ERR_CONFIG: i32 = 3;
pub const ERR_BIND: i32 = 4;
pub const ERR_PANIC: i32 = 6;
pub const ERR_INVALID: i32 = 7;

/// Opaque handles.
pub type Cfg = *mut std::ffi::c_void;
pub type Core = *mut std::ffi::c_void;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The release cdylib (`make` builds it); `PROM_RS_LIB` overrides.
pub fn lib_path() -> PathBuf {
    std::env::var_os("PROM_RS_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/libres_prom_rs.so"))
}

/// The reference host binary (`make` builds it); `PROM_RS_HOST` overrides.
pub fn host_path() -> PathBuf {
    std::env::var_os("PROM_RS_HOST")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("build/prom_host"))
}

/// A port no other test in this process uses (distinct per process too, by pid).
pub fn port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 400) as u16 * 100;
    base + NEXT.fetch_add(1, Ordering::Relaxed) % 100
}

/// The library, loaded with dlopen as a host would.
pub struct Lib {
    lib: Library,
}

impl Lib {
    pub fn load() -> Lib {
        Self::load_from(lib_path())
    }

    pub fn load_from(path: PathBuf) -> Lib {
        assert!(
            path.exists(),
            "{} is missing: run `make` first",
            path.display()
        );
        // SAFETY: loading our own library, whose initialisers are Rust statics with no side effects.
        let lib = unsafe { Library::new(&path) }
            .unwrap_or_else(|e| panic!("dlopen {}: {e}", path.display()));
        Lib { lib }
    }

    /// A symbol by name, typed by the caller.
    pub fn sym<T>(&self, name: &str) -> Symbol<'_, T> {
        // SAFETY: the caller names the type from the header.
        unsafe { self.lib.get(name.as_bytes()) }.unwrap_or_else(|e| panic!("symbol {name}: {e}"))
    }

    pub fn last_error(&self) -> String {
        let f = self.sym::<unsafe extern "C" fn(*mut c_char, usize) -> usize>("prom_rs_last_error");
        let mut buf = vec![0u8; 4096];
        // SAFETY: buffer of the length given.
        let n = unsafe { f(buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(n.min(4095));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Builds a configuration; panics with the core's message when a pair is refused.
    pub fn config(&self, pairs: &[(&str, &str)]) -> Cfg {
        self.try_config(pairs)
            .unwrap_or_else(|(code, msg)| panic!("config refused ({code}): {msg}"))
    }

    /// Builds a configuration, returning the first refusal.
    pub fn try_config(&self, pairs: &[(&str, &str)]) -> Result<Cfg, (i32, String)> {
        let new = self.sym::<unsafe extern "C" fn(*mut Cfg) -> i32>("prom_rs_config_new");
        let set = self.sym::<unsafe extern "C" fn(Cfg, *const c_char, *const c_char) -> i32>(
            "prom_rs_config_set",
        );
        let mut cfg: Cfg = std::ptr::null_mut();
        // SAFETY: out pointer to a local.
        assert_eq!(unsafe { new(&mut cfg) }, OK);
        for (k, v) in pairs {
            let (k, v) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
            // SAFETY: valid handle and strings.
            let r = unsafe { set(cfg, k.as_ptr(), v.as_ptr()) };
            if r != OK {
                let msg = self.last_error();
                self.free_config(cfg);
                return Err((r, msg));
            }
        }
        Ok(cfg)
    }

    pub fn free_config(&self, cfg: Cfg) {
        let free = self.sym::<unsafe extern "C" fn(Cfg)>("prom_rs_config_free");
        // SAFETY: handle from config_new, freed once.
        unsafe { free(cfg) }
    }

    /// Starts a core from pairs; the error is (code, message).
    pub fn start(&self, pairs: &[(&str, &str)]) -> Result<Core, (i32, String)> {
        let cfg = self.try_config(pairs)?;
        let start = self.sym::<unsafe extern "C" fn(Cfg, *mut Core) -> i32>("prom_rs_core_start");
        let mut core: Core = std::ptr::null_mut();
        // SAFETY: valid config handle, out pointer to a local.
        let r = unsafe { start(cfg, &mut core) };
        let msg = if r == OK {
            String::new()
        } else {
            self.last_error()
        };
        self.free_config(cfg);
        if r == OK {
            Ok(core)
        } else {
            Err((r, msg))
        }
    }

    pub fn reload(&self, core: Core, pairs: &[(&str, &str)]) -> Result<(), (i32, String)> {
        let cfg = self.try_config(pairs)?;
        let reload = self.sym::<unsafe extern "C" fn(Core, Cfg) -> i32>("prom_rs_core_reload");
        // SAFETY: valid handles.
        let r = unsafe { reload(core, cfg) };
        let msg = if r == OK {
            String::new()
        } else {
            self.last_error()
        };
        self.free_config(cfg);
        if r == OK {
            Ok(())
        } else {
            Err((r, msg))
        }
    }

    pub fn stop(&self, core: Core) {
        let stop = self.sym::<unsafe extern "C" fn(Core)>("prom_rs_core_stop");
        // SAFETY: handle from core_start, stopped once.
        unsafe { stop(core) }
    }

    /// Applies one trace line (a convenient way to send any event by text).
    pub fn trace(&self, core: Core, line: &str) -> i32 {
        let f = self.sym::<unsafe extern "C" fn(Core, *const c_char) -> i32>("prom_rs_trace_apply");
        let line = CString::new(line).unwrap();
        // SAFETY: valid handle and string.
        unsafe { f(core, line.as_ptr()) }
    }

    pub fn version(&self) -> String {
        let f = self.sym::<unsafe extern "C" fn() -> *const c_char>("prom_rs_version");
        // SAFETY: static NUL-terminated string.
        unsafe { CStr::from_ptr(f()) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A parsed HTTP response.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One GET over a fresh connection (`Connection: close`), with extra header lines.
pub fn get(addr: SocketAddr, path: &str, extra: &[&str]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Splits a raw HTTP/1.1 response (Content-Length or close-delimited body).
pub fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("head not utf-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("empty"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        let len: usize = len.1.parse().map_err(|_| bad("content-length"))?;
        body.truncate(len);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The metrics page of a core on 127.0.0.1:`port`.
pub fn scrape(port: u16) -> String {
    let r = get(SocketAddr::from(([127, 0, 0, 1], port)), "/metrics", &[]).expect("scrape");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The value of the sample line `series` (exact name and labels as rendered) on a page.
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    })
}

/// Threads of this process.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}
