//! `prom_rs_config_check`: the startup check of hosts that parse their configuration before they fork (Kamailio,
//! OpenSIPS). It refuses what `prom_rs_core_start` would refuse, and starts nothing: no thread, no port.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::net::TcpListener;

type CheckFn = unsafe extern "C" fn(Cfg) -> i32;

fn check(lib: &Lib, pairs: &[(&str, &str)]) -> Result<(), (i32, String)> {
    let cfg = lib.config(pairs);
    let f = lib.sym::<CheckFn>("prom_rs_config_check");
    // SAFETY: a valid configuration handle, freed below.
    let r = unsafe { f(cfg) };
    let out = if r == OK {
        Ok(())
    } else {
        Err((r, lib.last_error()))
    };
    lib.free_config(cfg);
    out
}

#[test]
fn refuses_what_start_would_refuse_and_starts_nothing() {
    let lib = Lib::load();
    let threads = thread_count();
    let (code, msg) = check(&lib, &[("auth_username", "prom")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(
        msg.contains("auth_password") && msg.contains("set both or neither"),
        "{msg}"
    );
    let (code, msg) = check(&lib, &[("tls_key", "/k")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(msg.contains("tls_cert"), "{msg}");
    let (_, msg) = check(&lib, &[("auth_password", "hunter2")]).unwrap_err();
    assert!(!msg.contains("hunter2"), "{msg}");
    // A good configuration passes, and its port stays unbound.
    let p = port();
    let ps = p.to_string();
    check(
        &lib,
        &[
            ("port", &ps),
            ("auth_username", "u"),
            ("auth_password", "p"),
        ],
    )
    .unwrap();
    // Nothing listens: we can bind the port ourselves.
    TcpListener::bind(("127.0.0.1", p)).expect("the check bound the port");
    // One test in this binary, so no other test's thread is counted.
    assert_eq!(thread_count(), threads, "the check started a thread");
    let f = lib.sym::<CheckFn>("prom_rs_config_check");
    // SAFETY: NULL is documented as refused.
    assert_eq!(unsafe { f(std::ptr::null_mut()) }, ERR_NULL);
}
