//! The C ABI as a host uses it: the built cdylib loaded with dlopen, configuration, errors, reload, concurrency,
//! bad arguments and panics.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::Mutex;

type LogFn = unsafe extern "C" fn(i32, *const c_char, *mut c_void);

/// Lines the library logged through the callback (any test, any library copy in this process).
static LOG: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record_log(level: i32, message: *const c_char, _userdata: *mut c_void) {
    // SAFETY: the library passes a NUL-terminated string valid for the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    LOG.lock().unwrap().push((level, text));
}
use std::net::TcpListener;

#[test]
fn abi_version_matches_the_header() {
    let lib = Lib::load();
    let f = lib.sym::<unsafe extern "C" fn() -> u32>("prom_rs_abi_version");
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/res_prom_rs.h"
    ))
    .unwrap();
    let line = header
        .lines()
        .find(|l| l.starts_with("#define PROM_RS_ABI_VERSION"))
        .expect("define in header");
    let n: u32 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    // SAFETY: no arguments.
    assert_eq!(unsafe { f() }, n);
    assert_eq!(lib.version(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn config_errors_name_the_key_the_value_and_what_is_allowed() {
    let lib = Lib::load();
    let (code, msg) = lib.try_config(&[("port", "http")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(
        msg.contains("\"port\"") && msg.contains("\"http\"") && msg.contains("1 to 65535"),
        "{msg}"
    );
    let (code, msg) = lib.try_config(&[("bindadr", "0.0.0.0")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(
        msg.contains("bindadr") && msg.contains("did you mean \"bindaddr\""),
        "{msg}"
    );
    let (_, msg) = lib
        .try_config(&[("vicidial.password", "")])
        .map(|c| lib.free_config(c))
        .map(|_| (0, String::new()))
        .unwrap_or_else(|e| e);
    assert!(!msg.contains("hunter2"));
    let (code, msg) = lib
        .start(&[
            ("auth_username", "prom"),
            ("auth_password", "hunter2"),
            ("port", "70000"),
        ])
        .unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(msg.contains("port") && !msg.contains("hunter2"), "{msg}");
    let (code, msg) = lib.start(&[("auth_username", "prom")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(msg.contains("auth_password"), "{msg}");
}

type GetIntFn = unsafe extern "C" fn(Cfg, *const c_char, *mut i64) -> i32;

/// `prom_rs_config_get_int(cfg, key, &out)`: the value, or the code and the message. `out` starts at a marker so a
/// failure that wrote it anyway shows.
fn get_int(lib: &Lib, cfg: Cfg, key: &str) -> Result<i64, (i32, String)> {
    let get = lib.sym::<GetIntFn>("prom_rs_config_get_int");
    let key = CString::new(key).unwrap();
    let mut out = -7_i64;
    // SAFETY: valid handle, string and out pointer.
    let r = unsafe { get(cfg, key.as_ptr(), &mut out) };
    if r == OK {
        Ok(out)
    } else {
        assert_eq!(out, -7, "out written on failure");
        Err((r, lib.last_error()))
    }
}

#[test]
fn config_get_int_reads_back_booleans_durations_and_integers() {
    let lib = Lib::load();
    let cfg = lib.config(&[]);
    assert_eq!(get_int(&lib, cfg, "sample_interval"), Ok(5000));
    assert_eq!(get_int(&lib, cfg, "queues"), Ok(1));
    assert_eq!(get_int(&lib, cfg, "port"), Ok(9101));
    lib.free_config(cfg);

    let cfg = lib.config(&[
        ("sample_interval", "250ms"),
        ("queues", "no"),
        ("bridges", "yes"),
        ("vicidial.interval", "2m"),
        ("max_series_per_family", "42"),
    ]);
    assert_eq!(get_int(&lib, cfg, "sample_interval"), Ok(250));
    assert_eq!(get_int(&lib, cfg, "queues"), Ok(0));
    assert_eq!(
        get_int(&lib, cfg, "Bridges"),
        Ok(1),
        "keys are case-insensitive"
    );
    assert_eq!(get_int(&lib, cfg, "vicidial.interval"), Ok(120_000));
    assert_eq!(get_int(&lib, cfg, "max_series_per_family"), Ok(42));

    let (code, msg) = get_int(&lib, cfg, "sample_intervall").unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(
        msg.contains("\"sample_intervall\"")
            && msg.contains("did you mean \"sample_interval\"")
            && msg.contains("booleans (as 0 or 1), durations (in milliseconds) and integers"),
        "{msg}"
    );
    let (code, msg) = get_int(&lib, cfg, "bindaddr").unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    assert!(
        msg.contains("\"bindaddr\"")
            && msg.contains("holds text")
            && msg.contains("sample_interval"),
        "{msg}"
    );

    let get = lib.sym::<GetIntFn>("prom_rs_config_get_int");
    let key = CString::new("port").unwrap();
    let mut out = 0_i64;
    // SAFETY: NULL where NULL is being tested, valid pointers elsewhere.
    unsafe {
        assert_eq!(get(cfg, key.as_ptr(), std::ptr::null_mut()), ERR_NULL);
        assert!(lib.last_error().contains("out"), "{}", lib.last_error());
        assert_eq!(get(cfg, std::ptr::null(), &mut out), ERR_NULL);
        assert_eq!(get(std::ptr::null_mut(), key.as_ptr(), &mut out), ERR_NULL);
    }
    assert_eq!(out, 0);
    lib.free_config(cfg);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let lib = Lib::load();
    let port = port();
    let _taken = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (code, msg) = lib.start(&[("port", &port.to_string())]).unwrap_err();
    assert_eq!(code, ERR_BIND);
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("in use"),
        "{msg}"
    );
}

#[test]
fn reload_keeps_counters_and_a_bad_reload_keeps_the_old_config() {
    let lib = Lib::load();
    let (p1, p2) = (port(), port());
    let core = lib
        .start(&[("port", &p1.to_string()), ("labels", "server=a")])
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            lib.trace(core, "security_event\tPJSIP\tInvalidPassword\t1"),
            OK
        );
    }
    let series = |server: &str| {
        format!("asterisk_security_events_total{{server=\"{server}\",service=\"PJSIP\",event=\"invalid_password\"}}")
    };
    assert_eq!(value(&scrape(p1), &series("a")), Some(5.0));

    // New labels and a new port: counters survive, the old port is released.
    lib.reload(core, &[("port", &p2.to_string()), ("labels", "server=b")])
        .unwrap();
    assert_eq!(value(&scrape(p2), &series("b")), Some(5.0));
    assert!(
        TcpListener::bind(("127.0.0.1", p1)).is_ok(),
        "old port released after a rebinding reload"
    );

    // A refused key never reaches the core; a port that cannot be bound leaves everything as it was.
    let (code, _) = lib.reload(core, &[("port", "-1")]).unwrap_err();
    assert_eq!(code, ERR_CONFIG);
    let blocker = TcpListener::bind(("127.0.0.1", p1)).unwrap();
    let (code, msg) = lib
        .reload(core, &[("port", &p1.to_string()), ("labels", "server=c")])
        .unwrap_err();
    assert_eq!(code, ERR_BIND, "{msg}");
    drop(blocker);
    assert_eq!(
        lib.trace(core, "security_event\tPJSIP\tInvalidPassword\t1"),
        OK
    );
    assert_eq!(
        value(&scrape(p2), &series("b")),
        Some(6.0),
        "still serving the old configuration"
    );
    lib.stop(core);
}

#[test]
fn n_threads_times_m_events_are_counted_exactly() {
    const THREADS: usize = 4;
    const EVENTS: usize = 50_000;
    let lib = Lib::load();
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap() as usize;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let lib = &lib;
            s.spawn(move || {
                let dial = lib.sym::<unsafe extern "C" fn(usize, *const c_char, i64) -> i32>(
                    "prom_rs_dial_result",
                );
                let sec = lib
                    .sym::<unsafe extern "C" fn(usize, *const c_char, *const c_char, i64) -> i32>(
                        "prom_rs_security_event",
                    );
                let answer = CString::new("ANSWER").unwrap();
                let service = CString::new(format!("svc{t}")).unwrap();
                let ev = CString::new("FailedACL").unwrap();
                for i in 0..EVENTS {
                    // SAFETY: valid handle and strings for the whole loop.
                    unsafe {
                        assert_eq!(dial(core, answer.as_ptr(), i as i64), OK);
                        assert_eq!(sec(core, service.as_ptr(), ev.as_ptr(), i as i64), OK);
                    }
                }
            });
        }
    });
    let page = scrape(port);
    assert_eq!(
        value(&page, "asterisk_dial_results_total{dialstatus=\"ANSWER\"}"),
        Some((THREADS * EVENTS) as f64)
    );
    for t in 0..THREADS {
        let s =
            format!("asterisk_security_events_total{{service=\"svc{t}\",event=\"failed_acl\"}}");
        assert_eq!(value(&page, &s), Some(EVENTS as f64), "{s}");
    }
    assert_eq!(
        value(&page, "prom_rs_events_total{kind=\"dial_result\"}"),
        Some((THREADS * EVENTS) as f64)
    );
    lib.stop(core as Core);
}

#[test]
fn null_bad_utf8_and_out_of_range_arguments_are_refused() {
    let lib = Lib::load();
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap();
    let state = lib
        .sym::<unsafe extern "C" fn(Core, *const c_char, i32, i64) -> i32>("prom_rs_channel_state");
    let created = lib.sym::<unsafe extern "C" fn(
        Core,
        *const c_char,
        *const c_char,
        *const c_char,
        i32,
        i64,
    ) -> i32>("prom_rs_channel_created");
    let id = CString::new("1.1").unwrap();
    let tech = CString::new("PJSIP").unwrap();
    let bad = [0xffu8, 0xfe, 0];
    // SAFETY: the pointers are valid or NULL, which is what is being tested.
    unsafe {
        assert_eq!(state(std::ptr::null_mut(), id.as_ptr(), 6, 0), ERR_NULL);
        assert!(lib.last_error().contains("core"));
        assert_eq!(state(core, std::ptr::null(), 6, 0), ERR_NULL);
        assert!(lib.last_error().contains("uniqueid"));
        assert_eq!(state(core, bad.as_ptr().cast(), 6, 0), ERR_UTF8);
        assert_eq!(
            created(core, id.as_ptr(), tech.as_ptr(), tech.as_ptr(), 42, 0),
            ERR_INVALID
        );
        assert!(lib.last_error().contains("42"), "{}", lib.last_error());
    }
    let page = scrape(port);
    assert!(
        !page.contains("asterisk_channels{"),
        "a refused event changes nothing:\n{page}"
    );
    // Stopping NULL is allowed.
    lib.stop(std::ptr::null_mut());
    lib.stop(core);
}

#[test]
fn a_panic_in_the_core_comes_back_as_an_error_code() {
    let path = std::env::var_os("PROM_RS_FAULT_LIB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/fault/release/libres_prom_rs.so"
            )
            .into()
        });
    let lib = Lib::load_from(path);
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap();
    let set_logger =
        lib.sym::<unsafe extern "C" fn(Option<LogFn>, *mut c_void)>("prom_rs_set_logger");
    // SAFETY: a callback valid for the whole process; no userdata.
    unsafe { set_logger(Some(record_log), std::ptr::null_mut()) };
    let inject = lib.sym::<unsafe extern "C" fn(Core) -> i32>("prom_rs_test_inject_panic");
    // SAFETY: valid handle.
    assert_eq!(unsafe { inject(core) }, ERR_PANIC);
    assert!(lib.last_error().contains("panic"));
    // The panic message went to the host's logger, at error level.
    let logged = LOG.lock().unwrap().clone();
    assert!(
        logged.iter().any(|(level, m)| *level == 1
            && m.contains("deliberate panic")
            && m.contains("src/ffi/stats.rs")),
        "{logged:?}"
    );
    // The core carries on.
    assert_eq!(lib.trace(core, "dial_result\tBUSY\t1"), OK);
    assert_eq!(
        value(
            &scrape(port),
            "asterisk_dial_results_total{dialstatus=\"BUSY\"}"
        ),
        Some(1.0)
    );
    lib.stop(core);
}

#[test]
fn log_lines_reach_the_host_logger_and_status_describes_the_core() {
    let lib = Lib::load();
    let set_logger =
        lib.sym::<unsafe extern "C" fn(Option<LogFn>, *mut c_void)>("prom_rs_set_logger");
    // SAFETY: a callback valid for the whole process; no userdata.
    unsafe { set_logger(Some(record_log), std::ptr::null_mut()) };
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    assert!(
        LOG.lock()
            .unwrap()
            .iter()
            .any(|(level, m)| *level == 3 && m.contains(&url)),
        "start is logged at notice level with the URL"
    );
    assert_eq!(lib.trace(core, "dial_result\tANSWER\t1"), OK);
    scrape(port);
    let status =
        lib.sym::<unsafe extern "C" fn(Core, *mut c_char, usize) -> usize>("prom_rs_core_status");
    let mut buf = vec![0u8; 2048];
    // SAFETY: buffer of the given length.
    let n = unsafe { status(core, buf.as_mut_ptr().cast(), buf.len()) };
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(text.contains(&format!("Listening:        {url}")), "{text}");
    assert!(text.contains("Events received:  1"), "{text}");
    assert!(
        text.contains("Last scrape:") && !text.contains("never"),
        "{text}"
    );
    // A too-small buffer gets a truncated, terminated copy and the full length back.
    let mut small = [0xffu8; 8];
    // SAFETY: buffer of the given length.
    assert_eq!(
        unsafe { status(core, small.as_mut_ptr().cast(), small.len()) },
        n
    );
    assert_eq!(&small, b"Listeni\0");
    lib.stop(core);
    // SAFETY: removing the logger again.
    unsafe { set_logger(None, std::ptr::null_mut()) };
}

#[test]
fn reload_runs_safely_while_events_keep_arriving() {
    const THREADS: usize = 2;
    const MIN_RELOADS: usize = 20;
    let lib = Lib::load();
    let port = port();
    let p = port.to_string();
    let core = lib.start(&[("port", &p), ("labels", "server=a")]).unwrap() as usize;
    let done = std::sync::atomic::AtomicBool::new(false);
    let sent: usize = std::thread::scope(|s| {
        let senders: Vec<_> = (0..THREADS)
            .map(|_| {
                let (lib, done) = (&lib, &done);
                s.spawn(move || {
                    let dial = lib.sym::<unsafe extern "C" fn(usize, *const c_char, i64) -> i32>(
                        "prom_rs_dial_result",
                    );
                    let answer = CString::new("ANSWER").unwrap();
                    let mut n = 0usize;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        // SAFETY: valid handle and string for the whole loop.
                        assert_eq!(unsafe { dial(core, answer.as_ptr(), n as i64) }, OK);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        // Reload over and over (labels, buckets, cap) for half a second while both threads send.
        let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
        let mut i = 0;
        while std::time::Instant::now() < until || i < MIN_RELOADS {
            i += 1;
            let (labels, buckets) = if i % 2 == 0 {
                ("server=b", "1,10")
            } else {
                ("server=a", "1,5,15")
            };
            let cap = (10_000 + i).to_string();
            let pairs = [
                ("port", p.as_str()),
                ("labels", labels),
                ("buckets.asterisk_queue_wait_seconds", buckets),
                ("max_series_per_family", cap.as_str()),
            ];
            lib.reload(core as Core, &pairs).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        senders.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(
        sent > THREADS * 1000,
        "the threads sent {sent} events during the reloads"
    );
    let page = scrape(port);
    let total: f64 = page
        .lines()
        .filter(|l| l.starts_with("asterisk_dial_results_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, sent as f64, "no event lost across the reloads");
    lib.stop(core as Core);
}
