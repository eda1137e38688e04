//! `prom_rs_collector_report` through the built library, as the Kamailio module calls it: the host's own sampling
//! shows on the page as `prom_rs_collector_*{collector="<name>"}`, a valid page (checked by the independent parser
//! of tests/exposition.rs's kind: every family once), and bad arguments are refused with the reason.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::ffi::{c_char, CString};

type Report = unsafe extern "C" fn(Core, *const c_char, i32, f64) -> i32;

fn report(lib: &Lib, core: Core, name: &str, ok: i32, seconds: f64) -> i32 {
    let f = lib.sym::<Report>("prom_rs_collector_report");
    let name = CString::new(name).unwrap();
    // SAFETY: a live core handle (or NULL, which is being tested) and a NUL-terminated name.
    unsafe { f(core, name.as_ptr(), ok, seconds) }
}

fn count(page: &str, prefix: &str) -> usize {
    page.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn a_host_collector_reports_up_last_success_and_duration() {
    let lib = Lib::load();
    let port = port();
    let core = lib
        .start(&[("port", &port.to_string()), ("sample_interval", "1s")])
        .unwrap();
    let page = scrape(port);
    assert!(
        !page.contains("collector=\"kamailio\""),
        "no row before the first report:\n{page}"
    );

    assert_eq!(report(&lib, core, "kamailio", 1, 0.0025), OK);
    let page = scrape(port);
    assert_eq!(
        value(&page, "prom_rs_collector_up{collector=\"kamailio\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(
            &page,
            "prom_rs_collector_duration_seconds{collector=\"kamailio\"}"
        ),
        Some(0.0025)
    );
    let last = value(
        &page,
        "prom_rs_collector_last_success_timestamp_seconds{collector=\"kamailio\"}",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 10.0, "last success {last}, now {now}");
    for family in [
        "# TYPE prom_rs_collector_up ",
        "# TYPE prom_rs_collector_duration_seconds ",
    ] {
        assert_eq!(count(&page, family), 1, "{family} once:\n{page}");
    }

    // A failed attempt: down, the last success stays.
    assert_eq!(report(&lib, core, "kamailio", 0, 0.5), OK);
    let page = scrape(port);
    assert_eq!(
        value(&page, "prom_rs_collector_up{collector=\"kamailio\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(
            &page,
            "prom_rs_collector_last_success_timestamp_seconds{collector=\"kamailio\"}"
        ),
        Some(last)
    );
    // The status text lists it like the pollers.
    let status =
        lib.sym::<unsafe extern "C" fn(Core, *mut c_char, usize) -> usize>("prom_rs_core_status");
    let mut buf = vec![0u8; 4096];
    // SAFETY: a live core handle and a buffer of the given length.
    let n = unsafe { status(core, buf.as_mut_ptr().cast(), buf.len()) };
    let text = String::from_utf8_lossy(&buf[..n.min(buf.len() - 1)]).into_owned();
    assert!(text.contains("Collector kamailio: DOWN"), "{text}");

    // Reports that stop: down after three sample intervals although the last one worked.
    assert_eq!(report(&lib, core, "kamailio", 1, 0.001), OK);
    assert_eq!(
        value(
            &scrape(port),
            "prom_rs_collector_up{collector=\"kamailio\"}"
        ),
        Some(1.0)
    );
    std::thread::sleep(std::time::Duration::from_millis(3300));
    assert_eq!(
        value(
            &scrape(port),
            "prom_rs_collector_up{collector=\"kamailio\"}"
        ),
        Some(0.0),
        "stale reports mean the host's sampling has stopped"
    );
    lib.stop(core);
}

#[test]
fn bad_reports_are_refused_with_the_reason() {
    let lib = Lib::load();
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap();
    assert_eq!(
        report(&lib, std::ptr::null_mut(), "kamailio", 1, 0.0),
        ERR_NULL
    );
    assert!(lib.last_error().contains("core"), "{}", lib.last_error());
    let f = lib.sym::<Report>("prom_rs_collector_report");
    // SAFETY: a live core and a NULL name, which is being tested.
    assert_eq!(unsafe { f(core, std::ptr::null(), 1, 0.0) }, ERR_NULL);
    for (name, secs, want) in [
        ("Kamailio", 0.0, "a-z, 0-9"),
        ("", 0.0, "1 to 32"),
        ("vicidial", 0.0, "core's own"),
        ("kamailio", -1.0, "duration"),
        ("kamailio", f64::NAN, "duration"),
    ] {
        assert_eq!(report(&lib, core, name, 1, secs), ERR_INVALID, "{name}");
        assert!(
            lib.last_error().contains(want),
            "{name}: {}",
            lib.last_error()
        );
    }
    assert!(!scrape(port).contains("collector=\"kamailio\""));
    lib.stop(core);
}
