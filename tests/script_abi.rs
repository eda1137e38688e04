//! The script-metric C ABI (`prom_rs_script_*`) as the Kamailio module uses it: the built cdylib loaded with dlopen,
//! declarations checked without a core, families declared in a started core, series set, removed and counted as
//! dropped, and the page scraped over HTTP.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::ffi::{c_char, CString};

type CheckFn = unsafe extern "C" fn(
    i32,
    *const c_char,
    *const c_char,
    *const *const c_char,
    usize,
    *const f64,
    usize,
) -> i32;
type DeclareFn = unsafe extern "C" fn(
    Core,
    i32,
    *const c_char,
    *const c_char,
    *const *const c_char,
    usize,
    *const f64,
    usize,
    *mut u32,
) -> i32;
type SetFn = unsafe extern "C" fn(Core, u32, *const *const c_char, usize, f64) -> i32;
type SetHistFn =
    unsafe extern "C" fn(Core, u32, *const *const c_char, usize, *const u64, usize, f64) -> i32;
type RemoveFn = unsafe extern "C" fn(Core, u32, *const *const c_char, usize) -> i32;
type DroppedFn = unsafe extern "C" fn(Core, u32, u64) -> i32;

fn cstrs(v: &[&str]) -> (Vec<CString>, Vec<*const c_char>) {
    let owned: Vec<CString> = v.iter().map(|s| CString::new(*s).unwrap()).collect();
    let ptrs = owned.iter().map(|c| c.as_ptr()).collect();
    (owned, ptrs)
}

fn check(lib: &Lib, kind: i32, name: &str, labels: &[&str], buckets: &[f64]) -> Result<(), String> {
    let f = lib.sym::<CheckFn>("prom_rs_script_check");
    let n = CString::new(name).unwrap();
    let (_keep, l) = cstrs(labels);
    // SAFETY: every pointer is a live C string or array of the stated length for the call.
    let r = unsafe {
        f(
            kind,
            n.as_ptr(),
            std::ptr::null(),
            l.as_ptr(),
            l.len(),
            buckets.as_ptr(),
            buckets.len(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(lib.last_error())
    }
}

#[allow(clippy::too_many_arguments)]
fn declare(
    lib: &Lib,
    core: Core,
    kind: i32,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> u32 {
    let f = lib.sym::<DeclareFn>("prom_rs_script_declare");
    let (n, h) = (CString::new(name).unwrap(), CString::new(help).unwrap());
    let (_keep, l) = cstrs(labels);
    let mut idx = u32::MAX;
    // SAFETY: live C strings and arrays of the stated lengths; `idx` is writable.
    let r = unsafe {
        f(
            core,
            kind,
            n.as_ptr(),
            h.as_ptr(),
            l.as_ptr(),
            l.len(),
            buckets.as_ptr(),
            buckets.len(),
            &mut idx,
        )
    };
    assert_eq!(r, 0, "declare {name}: {}", lib.last_error());
    idx
}

fn set(lib: &Lib, core: Core, fam: u32, values: &[&str], v: f64) -> i32 {
    let f = lib.sym::<SetFn>("prom_rs_script_set");
    let (_keep, p) = cstrs(values);
    // SAFETY: `p` holds `p.len()` live C strings.
    unsafe { f(core, fam, p.as_ptr(), p.len(), v) }
}

#[test]
fn declarations_are_checked_without_a_core() {
    let lib = Lib::load();
    assert!(check(&lib, 1, "sip_requests", &["method", "code"], &[]).is_ok());
    assert!(check(&lib, 3, "setup_seconds", &[], &[0.1, 1.0]).is_ok());
    let e = check(&lib, 1, "9x", &[], &[]).unwrap_err();
    assert!(e.contains("\"9x\" is not a metric name"), "{e}");
    let e = check(&lib, 3, "h", &["le"], &[1.0]).unwrap_err();
    assert!(e.contains("not le"), "{e}");
    let e = check(&lib, 3, "h", &[], &[2.0, 1.0]).unwrap_err();
    assert!(e.contains("strictly increasing"), "{e}");
    let e = check(&lib, 4, "x", &[], &[]).unwrap_err();
    assert!(
        e.contains("is not 1 (counter), 2 (gauge) or 3 (histogram)"),
        "{e}"
    );
    let nine = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let e = check(&lib, 1, "c", &nine, &[]).unwrap_err();
    assert!(e.contains("at most 8"), "{e}");
    // NULL name: refused, not a crash.
    let f = lib.sym::<CheckFn>("prom_rs_script_check");
    // SAFETY: NULL is allowed by the contract (refused with PROM_RS_ERR_NULL).
    assert_eq!(
        unsafe {
            f(
                1,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
            )
        },
        1
    );
}

#[test]
fn script_families_reach_the_page_and_leave_it() {
    let lib = Lib::load();
    let p = port();
    let core = lib
        .start(&[("port", &p.to_string()), ("stats.prefix", "kamailio")])
        .expect("start");
    let c = declare(
        &lib,
        core,
        1,
        "sip_requests",
        "SIP requests.",
        &["method", "code"],
        &[],
    );
    let g = declare(&lib, core, 2, "calls", "", &[], &[]);
    let h = declare(
        &lib,
        core,
        3,
        "setup_seconds",
        "Setup time.",
        &["trunk"],
        &[0.5, 1.0],
    );
    assert_eq!(set(&lib, core, c, &["INVITE", "200"], 7.0), 0);
    assert_eq!(set(&lib, core, c, &["say \"hi\"", "ünï\\"], 2.0), 0);
    assert_eq!(set(&lib, core, g, &[], -1.5), 0);
    let counts = [1u64, 2, 3];
    let (_keep, t) = cstrs(&["t1"]);
    let sh = lib.sym::<SetHistFn>("prom_rs_script_set_histogram");
    // SAFETY: live arrays of the stated lengths.
    assert_eq!(
        unsafe { sh(core, h, t.as_ptr(), 1, counts.as_ptr(), 3, 4.25) },
        0
    );
    // SAFETY: as above, with one count too few: refused.
    assert_eq!(
        unsafe { sh(core, h, t.as_ptr(), 1, counts.as_ptr(), 2, 4.25) },
        7
    );
    assert!(
        lib.last_error().contains("2 bucket counts given"),
        "{}",
        lib.last_error()
    );
    assert_eq!(
        set(&lib, core, c, &["INVITE"], 1.0),
        7,
        "wrong number of label values"
    );
    assert_eq!(set(&lib, core, 99, &[], 1.0), 7, "undeclared family");
    let dropped = lib.sym::<DroppedFn>("prom_rs_script_dropped");
    // SAFETY: a live core.
    assert_eq!(unsafe { dropped(core, c, 4) }, 0);
    let page = scrape(p);
    assert!(
        page.contains("# HELP kamailio_sip_requests_total SIP requests.\n"),
        "{page}"
    );
    assert_eq!(
        value(
            &page,
            "kamailio_sip_requests_total{method=\"INVITE\",code=\"200\"}"
        ),
        Some(7.0)
    );
    assert!(
        page.contains(
            "kamailio_sip_requests_total{method=\"say \\\"hi\\\"\",code=\"ünï\\\\\"} 2\n"
        ),
        "{page}"
    );
    assert_eq!(value(&page, "kamailio_calls"), Some(-1.5));
    assert_eq!(
        value(
            &page,
            "kamailio_setup_seconds_bucket{trunk=\"t1\",le=\"1\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&page, "kamailio_setup_seconds_count{trunk=\"t1\"}"),
        Some(6.0)
    );
    // The host store's 4, and the label set with the wrong number of values refused here.
    assert_eq!(
        value(
            &page,
            "prom_rs_series_dropped_total{family=\"kamailio_sip_requests_total\"}"
        ),
        Some(5.0)
    );
    let remove = lib.sym::<RemoveFn>("prom_rs_script_remove");
    let (_keep2, v) = cstrs(&["INVITE", "200"]);
    // SAFETY: live arrays of the stated lengths.
    assert_eq!(unsafe { remove(core, c, v.as_ptr(), 2) }, 0);
    let page = scrape(p);
    assert_eq!(
        value(
            &page,
            "kamailio_sip_requests_total{method=\"INVITE\",code=\"200\"}"
        ),
        None
    );
    // Declared twice: refused.
    let f = lib.sym::<DeclareFn>("prom_rs_script_declare");
    let n = CString::new("calls").unwrap();
    let mut idx = 0u32;
    // SAFETY: live C string; `idx` writable.
    let r = unsafe {
        f(
            core,
            2,
            n.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            &mut idx,
        )
    };
    assert_eq!(r, 3);
    assert!(
        lib.last_error().contains("declared twice"),
        "{}",
        lib.last_error()
    );
    lib.stop(core);
}
