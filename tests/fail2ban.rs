//! The fail2ban poller against a real fail2ban-server (a private one started by each test, see
//! `tests/fail2ban/server.rs`), through the built cdylib as a host loads it and over HTTP: exact bans and failures per
//! jail after failed logins written to the jails' log and bans/unbans made with `fail2ban-client`, the jail filter on
//! reload, the server killed (collector down, families gone, scrapes fast) and restarted (recovered without a
//! reload), a hung server (SIGSTOP: the poll times out, the page and stop are not held up), and the log lines for a
//! wrong socket path, a path that is not a socket, and permission denied.
//!
//! Addresses are documentation addresses (192.0.2.0/24, 198.51.100.0/24); the ban action does nothing.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
#[path = "fail2ban/server.rs"]
mod server;

use common::*;
use server::Fail2banServer;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type LogFn = unsafe extern "C" fn(i32, *const c_char, *mut c_void);

/// Every line the library logged (the tests of this binary share the logger; each filters by its own socket path).
static LOG: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record_log(level: i32, message: *const c_char, _userdata: *mut c_void) {
    // SAFETY: the library passes a NUL-terminated string valid for the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    if std::env::var_os("PROM_RS_TEST_LOG").is_some() {
        eprintln!("log[{level}]: {text}");
    }
    LOG.lock().unwrap().push((level, text));
}

fn log_lines(containing: &str) -> Vec<(i32, String)> {
    LOG.lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.contains(containing))
        .cloned()
        .collect()
}

/// Error and warning lines (levels 1 and 2) that name `what`.
fn errors(what: &str) -> Vec<String> {
    log_lines(what)
        .into_iter()
        .filter(|(l, _)| *l <= 2)
        .map(|(_, m)| m)
        .collect()
}

fn need_fail2ban() {
    if let Some(why) = server::unavailable() {
        panic!("{why}");
    }
}

/// A core with the poller enabled, stopped on drop.
struct Exporter {
    lib: Lib,
    core: Option<Core>,
    port: u16,
}

impl Exporter {
    fn start(pairs: &[(&str, &str)]) -> Exporter {
        let lib = Lib::load();
        let set_logger =
            lib.sym::<unsafe extern "C" fn(Option<LogFn>, *mut c_void)>("prom_rs_set_logger");
        // SAFETY: a callback valid for the whole process; no userdata.
        unsafe { set_logger(Some(record_log), std::ptr::null_mut()) };
        let port = port();
        let port_s = port.to_string();
        let mut all = vec![("port", port_s.as_str())];
        all.extend_from_slice(pairs);
        let core = lib.start(&all).unwrap_or_else(|e| panic!("start: {e:?}"));
        Exporter {
            lib,
            core: Some(core),
            port,
        }
    }

    fn page(&self) -> String {
        scrape(self.port)
    }

    /// Scrapes until `pred` holds, up to `secs` seconds; returns that page.
    fn wait_for(&self, secs: u64, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let page = self.page();
            if pred(&page) {
                return page;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last page:\n{}",
                fail2ban_part(&page)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn reload(&self, pairs: &[(&str, &str)]) {
        let port_s = self.port.to_string();
        let mut all = vec![("port", port_s.as_str())];
        all.extend_from_slice(pairs);
        self.lib.reload(self.core.unwrap(), &all).unwrap();
    }

    /// Stops the core; returns how long that took.
    fn stop(&mut self) -> Duration {
        let t = Instant::now();
        if let Some(c) = self.core.take() {
            self.lib.stop(c);
        }
        t.elapsed()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}

const UP: &str = "prom_rs_collector_up{collector=\"fail2ban\"}";

fn up(page: &str) -> Option<f64> {
    value(page, UP)
}

/// The `fail2ban_*` sample lines of a page, by series.
fn fail2ban_series(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| l.starts_with("fail2ban_"))
        .map(|l| {
            let (series, v) = l.rsplit_once(' ').unwrap();
            (series.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn fail2ban_part(page: &str) -> String {
    page.lines()
        .filter(|l| l.contains("fail2ban"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn poller_keys(socket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("fail2ban.enabled", "yes".into()),
        ("fail2ban.socket", socket.into()),
        ("fail2ban.interval", "1s".into()),
    ]
}

fn start_poller(socket: &str, extra: &[(&'static str, &str)]) -> Exporter {
    let mut pairs: Vec<(&str, String)> = poller_keys(socket);
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Exporter::start(&borrowed)
}

/// The page's series for the scenario of [`scenario`]: (jail, banned, bans, failed, failures).
fn expected(
    version: &str,
    jails: &[(&str, u64, u64, u64, u64)],
    running: u64,
) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert(format!("fail2ban_build_info{{version=\"{version}\"}}"), 1.0);
    m.insert("fail2ban_jails".to_string(), running as f64);
    for (jail, banned, bans, failed, failures) in jails {
        for (family, v) in [
            ("fail2ban_banned", banned),
            ("fail2ban_bans_total", bans),
            ("fail2ban_failed", failed),
            ("fail2ban_failures_total", failures),
        ] {
            m.insert(format!("{family}{{jail=\"{jail}\"}}"), *v as f64);
        }
    }
    m
}

/// Failed logins and scans in the log, bans and an unban by hand:
/// - pbx-auth (bans at 3): 192.0.2.10 fails twice, 192.0.2.11 once (2 addresses failing, 3 failures, no ban); then
///   192.0.2.20 and 192.0.2.21 are banned by hand and 192.0.2.20 unbanned (1 banned, 2 bans);
/// - pbx-scan (bans at 2): 198.51.100.7 scans twice and is banned (0 failing, 2 failures, 1 banned, 1 ban).
fn scenario(s: &Fail2banServer) {
    let auth = |user: &str, ip: &str| format!("PBX auth failed for {user} from {ip}");
    s.append_log(&[
        auth("1001", "192.0.2.10"),
        auth("1001", "192.0.2.10"),
        auth("1002", "192.0.2.11"),
        "PBX scan from 198.51.100.7".into(),
        "PBX scan from 198.51.100.7".into(),
    ]);
    s.set("pbx-auth", "banip", &["192.0.2.20", "192.0.2.21"]);
    s.set("pbx-auth", "unbanip", &["192.0.2.20"]);
}

const SCENARIO: [(&str, u64, u64, u64, u64); 2] =
    [("pbx-auth", 1, 2, 2, 3), ("pbx-scan", 1, 1, 0, 2)];

/// Scrape time while the poller is failing: the page never waits on the socket.
fn assert_scrapes_fast(ex: &Exporter, n: usize) {
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        let page = ex.page();
        worst = worst.max(t.elapsed());
        assert!(page.contains("prom_rs_build_info"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        worst < Duration::from_millis(100),
        "slowest scrape {worst:?}"
    );
}

#[test]
fn bans_and_failures_per_jail_exactly_then_the_server_dies_and_comes_back() {
    need_fail2ban();
    let mut server = Fail2banServer::start();
    let socket = server.socket.to_string_lossy().into_owned();
    let version = server.client(&["version"]).unwrap().trim().to_string();
    scenario(&server);
    let ex = start_poller(&socket, &[]);
    let want = expected(&version, &SCENARIO, 2);
    // fail2ban reads the log file about once a second: wait for it to have counted every line.
    let page = ex.wait_for(20, "the scenario's values", |p| {
        up(p) == Some(1.0) && fail2ban_series(p) == want
    });
    // What fail2ban-client shows agrees.
    let status = server.client(&["status", "pbx-auth"]).unwrap();
    assert!(
        status.contains("Currently failed:\t2") && status.contains("Total banned:\t2"),
        "{status}"
    );
    // Health, the poll's duration, and the types the README documents.
    let took = value(
        &page,
        "prom_rs_collector_duration_seconds{collector=\"fail2ban\"}",
    )
    .expect("poll duration");
    assert!(took > 0.0 && took < 1.0, "{took}");
    assert!(
        value(
            &page,
            "prom_rs_collector_last_success_timestamp_seconds{collector=\"fail2ban\"}"
        )
        .unwrap()
            > 1.7e9
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in page
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE fail2ban_"))
    {
        let (name, kind) = line.split_once(' ').unwrap();
        assert!(
            readme.contains(&format!("| `fail2ban_{name}` | {kind} |")),
            "README does not document fail2ban_{name} ({kind})"
        );
    }
    let connected = log_lines(&format!("({socket}): connected"));
    assert_eq!(connected.len(), 1, "{connected:?}");
    assert!(
        connected[0].1.contains(&format!("fail2ban {version}")),
        "{connected:?}"
    );

    // More failures and a ban while it runs: the next poll has them.
    server.append_log(&vec![
        "PBX auth failed for 1002 from 192.0.2.11".to_string();
        2
    ]);
    server.set("pbx-scan", "banip", &["198.51.100.9"]);
    let want = expected(
        &version,
        &[("pbx-auth", 2, 3, 1, 5), ("pbx-scan", 2, 2, 0, 2)],
        2,
    );
    ex.wait_for(20, "the new ban and failures", |p| {
        fail2ban_series(p) == want
    });

    // Killed: the socket stays behind and refuses; the families leave the page, the rest is served fast.
    server.kill();
    let page = ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    assert!(
        fail2ban_series(&page).is_empty(),
        "stale fail2ban series:\n{}",
        fail2ban_part(&page)
    );
    assert!(page.contains("prom_rs_build_info"));
    assert_scrapes_fast(&ex, 30);
    let down = errors(&format!("({socket})"));
    assert_eq!(
        down.len(),
        1,
        "one line for one change of situation: {down:#?}"
    );
    assert!(
        down[0].contains("refuses connections")
            && down[0].contains("fail2ban_* metrics are off the page"),
        "{}",
        down[0]
    );

    // Restarted: back by itself (no reload), with the bans fail2ban restored from its database.
    server.restart();
    let page = ex.wait_for(20, "recovery", |p| {
        up(p) == Some(1.0) && value(p, "fail2ban_banned{jail=\"pbx-scan\"}") == Some(2.0)
    });
    assert_eq!(value(&page, "fail2ban_jails"), Some(2.0));
    assert_eq!(
        value(&page, "fail2ban_banned{jail=\"pbx-auth\"}"),
        Some(2.0)
    );
    assert!(
        log_lines(&format!("({socket}): connected again")).len() == 1,
        "{:#?}",
        log_lines(&socket)
    );
    assert_eq!(
        errors(&format!("({socket})")).len(),
        1,
        "no new error line after recovery"
    );
}

#[test]
fn a_hung_server_times_out_without_holding_up_the_page_or_stop() {
    need_fail2ban();
    let server = Fail2banServer::start();
    let socket = server.socket.to_string_lossy().into_owned();
    let mut ex = start_poller(&socket, &[]);
    ex.wait_for(20, "the first reading", |p| up(p) == Some(1.0));
    // Stopped, the server still has its socket: connections queue (up to its backlog) and nobody answers.
    server.signal("STOP");
    let page = ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    assert!(fail2ban_series(&page).is_empty());
    assert_scrapes_fast(&ex, 20);
    let lines = errors(&format!("({socket})"));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("within 1000 ms: fail2ban-server is busy or hung"),
        "{}",
        lines[0]
    );
    // Going on again, it is read again.
    server.signal("CONT");
    ex.wait_for(20, "recovery", |p| up(p) == Some(1.0));
    // Hung again, stop returns within a read slice or a connect retry, not after the poll's deadline.
    server.signal("STOP");
    ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    std::thread::sleep(Duration::from_millis(300));
    let took = ex.stop();
    server.signal("CONT");
    assert!(took < Duration::from_millis(500), "stop took {took:?}");
}

#[test]
fn a_reload_applies_the_jail_filter_and_names_a_jail_the_server_lacks() {
    need_fail2ban();
    let server = Fail2banServer::start();
    let socket = server.socket.to_string_lossy().into_owned();
    let version = server.client(&["version"]).unwrap().trim().to_string();
    scenario(&server);
    let ex = start_poller(&socket, &[]);
    let want = expected(&version, &SCENARIO, 2);
    ex.wait_for(20, "both jails", |p| fail2ban_series(p) == want);
    let mut keys = poller_keys(&socket);
    keys.push(("fail2ban.jails", "pbx-scan, pbx-nothere".into()));
    let borrowed: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ex.reload(&borrowed);
    // Only the selected jail; the jail count is still the server's.
    let want = expected(&version, &SCENARIO[1..], 2);
    ex.wait_for(10, "only pbx-scan", |p| {
        up(p) == Some(1.0) && fail2ban_series(p) == want
    });
    let warned = errors("\"pbx-nothere\"");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(
        warned[0].contains(&format!("({socket})"))
            && warned[0].contains("does not run (it runs: pbx-auth, pbx-scan)"),
        "{}",
        warned[0]
    );
}

#[test]
fn a_wrong_socket_path_or_a_file_that_is_no_socket_is_one_clear_line() {
    let dir = std::env::temp_dir().join(format!("prom_rs_f2b_paths_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("nothing.sock").to_string_lossy().into_owned();
    let mut ex = start_poller(&missing, &[]);
    let page = ex.wait_for(10, "the poller's row", |p| up(p) == Some(0.0));
    assert!(fail2ban_series(&page).is_empty());
    // Several retries (1 s apart), one line.
    std::thread::sleep(Duration::from_millis(2500));
    let lines = errors(&format!("({missing})"));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(&format!("no socket at {missing}"))
            && lines[0].contains("fail2ban.socket"),
        "{}",
        lines[0]
    );
    assert_eq!(
        value(
            &ex.page(),
            "prom_rs_collector_last_success_timestamp_seconds{collector=\"fail2ban\"}"
        ),
        Some(0.0)
    );
    assert_scrapes_fast(&ex, 10);
    assert!(ex.stop() < Duration::from_millis(500));

    let file = dir.join("plain-file");
    std::fs::write(&file, "not a socket").unwrap();
    let file = file.to_string_lossy().into_owned();
    let ex = start_poller(&file, &[]);
    ex.wait_for(10, "the poller's row", |p| up(p) == Some(0.0));
    let deadline = Instant::now() + Duration::from_secs(5);
    while errors(&format!("({file})")).is_empty() {
        assert!(Instant::now() < deadline, "no line for {file}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = errors(&format!("({file})"));
    assert!(
        lines[0].contains(&format!("{file} is not a socket")),
        "{}",
        lines[0]
    );
    drop(ex);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The effective user of this process (the owner of `/proc/self`).
fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn permission_denied_is_one_clear_line_and_the_page_is_served() {
    need_fail2ban();
    let server = Fail2banServer::start();
    let socket = server.socket.to_string_lossy().into_owned();
    // fail2ban makes its socket owner-only (root, here). Root may connect anyway, so as root the exporter runs as
    // nobody (in the reference host, through setpriv); otherwise the socket loses its owner's permission too.
    let as_root = own_uid() == 0;
    if !as_root {
        std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let port = port();
    let cfg = server.dir.join("host.conf");
    std::fs::write(
        &cfg,
        format!(
            "modparam(\"prom_rs\", \"port\", \"{port}\")\nmodparam(\"prom_rs\", \"fail2ban.enabled\", \"yes\")\n\
             modparam(\"prom_rs\", \"fail2ban.socket\", \"{socket}\")\nmodparam(\"prom_rs\", \"fail2ban.interval\", \"1s\")\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = if as_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(host_path());
        c
    } else {
        Command::new(host_path())
    };
    let mut child = cmd
        .arg("--lib")
        .arg(lib_path())
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make` first)", host_path().display()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (out, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let page = loop {
        if let Ok(r) = get(([127, 0, 0, 1], port).into(), "/metrics", &[]) {
            let page = r.text();
            if up(&page) == Some(0.0) && stderr.lock().unwrap().contains("permission denied") {
                break page;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("prom_host exited ({status}): {}", stderr.lock().unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "no permission line: {}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(fail2ban_series(&page).is_empty());
    assert!(page.contains("prom_rs_build_info"));
    std::thread::sleep(Duration::from_millis(2500));
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let text = stderr.lock().unwrap().clone();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("({socket})")))
        .collect();
    assert_eq!(lines.len(), 1, "one line despite retries: {text}");
    let uid = if as_root { 65534 } else { own_uid() };
    assert!(
        lines[0].contains(&format!(
            "permission denied on {socket}: this process (uid {uid})"
        )) && lines[0].contains("README"),
        "{}",
        lines[0]
    );
}
