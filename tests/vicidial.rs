//! The ViciDial reader against a real MariaDB (a private server started by the tests), through the built cdylib as a
//! host loads it: every family's values on a known scenario, agents logging out, the server killed and restarted, a
//! query that hangs, a wrong password, a missing column, the older schema, the cardinality cap and reload; the KPI
//! families (drop rate, hopper, service level, agent time) on the same scenario, and one of their tables, columns or
//! GRANTs missing.
//!
//! Tests that do not stop the server share one (each with its own database); the kill/restart test has its own.
//! Intervals are 1 s and timeouts below 1 s; every wait polls the page up to a deadline instead of sleeping blindly.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
#[path = "vicidial/expected.rs"]
mod expected;
#[path = "vicidial/server.rs"]
mod server;

use common::*;
use expected::expected_scenario;
use server::{MariaDb, Schema, PASSWORD, USER};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Query timeout used by the tests (the reader's socket and statement limit).
const QUERY_TIMEOUT: Duration = Duration::from_millis(800);

fn shared_server() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    if let Some(why) = server::unavailable() {
        panic!("{why}");
    }
    SERVER.get_or_init(MariaDb::start)
}

type LogFn = unsafe extern "C" fn(i32, *const c_char, *mut c_void);

/// Every line the library logged (all tests of this binary share the logger; each filters by its own database).
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

/// A core with the reader enabled, stopped on drop.
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
                vicidial_part(&page)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status(&self) -> String {
        let status = self
            .lib
            .sym::<unsafe extern "C" fn(Core, *mut c_char, usize) -> usize>("prom_rs_core_status");
        let mut buf = vec![0u8; 4096];
        // SAFETY: buffer of the given length; the core is running.
        let n = unsafe { status(self.core.unwrap(), buf.as_mut_ptr().cast(), buf.len()) };
        String::from_utf8_lossy(&buf[..n.min(4095)]).into_owned()
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

/// `vicidial.*` keys for database `db` on `server` over TCP, 1 s polls.
fn reader_keys(server: &MariaDb, db: &str) -> Vec<(String, String)> {
    [
        ("vicidial.enabled", "yes".to_string()),
        ("vicidial.host", "127.0.0.1".into()),
        ("vicidial.port", server.port.to_string()),
        ("vicidial.user", USER.into()),
        ("vicidial.password", PASSWORD.into()),
        ("vicidial.database", db.into()),
        ("vicidial.interval", "1s".into()),
        ("vicidial.connect_timeout", "500ms".into()),
        ("vicidial.query_timeout", "800ms".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn with_keys<R>(
    keys: &[(String, String)],
    extra: &[(&str, &str)],
    f: impl FnOnce(&[(&str, &str)]) -> R,
) -> R {
    let mut pairs: Vec<(&str, &str)> = keys
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .collect();
    pairs.extend_from_slice(extra);
    f(&pairs)
}

fn start_reader(server: &MariaDb, db: &str, extra: &[(&str, &str)]) -> Exporter {
    with_keys(&reader_keys(server, db), extra, Exporter::start)
}

/// The `vicidial_*` sample lines of a page, by series.
fn vicidial_series(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| l.starts_with("vicidial_"))
        .map(|l| {
            let (series, v) = l.rsplit_once(' ').unwrap();
            (series.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// True when a sample line's name starts with `prefix`.
fn has_samples(page: &str, prefix: &str) -> bool {
    page.lines().any(|l| l.starts_with(prefix))
}

fn vicidial_part(page: &str) -> String {
    page.lines()
        .filter(|l| l.contains("vicidial"))
        .collect::<Vec<_>>()
        .join("\n")
}

const UP: &str = "prom_rs_collector_up{collector=\"vicidial\"}";

fn up(page: &str) -> Option<f64> {
    value(page, UP)
}

/// Checks every ViciDial series of `page` against the scenario; state seconds may have grown by at most
/// `elapsed` (plus one second of rounding) since the rows were inserted.
fn assert_scenario(page: &str, elapsed: Duration) {
    let (mut expected, seconds) = expected_scenario();
    let mut got = vicidial_series(page);
    for (series, at_insert) in seconds {
        let v = got
            .remove(&series)
            .unwrap_or_else(|| panic!("{series} missing:\n{}", vicidial_part(page)));
        let slack = elapsed.as_secs_f64().ceil() + 1.0;
        assert!(
            v >= at_insert && v <= at_insert + slack,
            "{series} = {v}, expected {at_insert}..={}",
            at_insert + slack
        );
    }
    // Exact equality for everything else, including that nothing else is there.
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "unexpected series {extra:?}, missing {missing:?}"
    );
    for (k, v) in &got {
        let want = expected.remove(k).unwrap();
        assert_eq!(*v, want, "{k}");
    }
}

fn scenario_db(server: &MariaDb, name: &str, schema: Schema) -> Instant {
    // "Today" in the scenario is the last minute: not across midnight.
    server.wait_past_midnight(Duration::from_secs(120));
    server.create_database(name, schema);
    server.load(name, "scenario.sql");
    Instant::now()
}

#[test]
fn every_family_has_the_scenario_values_exactly() {
    let server = shared_server();
    let db = "vd_scenario";
    let loaded = scenario_db(server, db, Schema::Current);
    let ex = start_reader(server, db, &[("vicidial.server_ip", "10.0.0.1")]);
    let page = ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    assert_scenario(&page, loaded.elapsed());
    // Health of the reader is on the page.
    assert!(
        value(
            &page,
            "prom_rs_collector_last_success_timestamp_seconds{collector=\"vicidial\"}"
        )
        .unwrap()
            > 1.7e9
    );
    let took = value(
        &page,
        "prom_rs_collector_duration_seconds{collector=\"vicidial\"}",
    )
    .expect("poll duration on the page");
    assert!(took > 0.0 && took < QUERY_TIMEOUT.as_secs_f64(), "{took}");
    // Personal data is never a label; the other dialer's agent and calls are not counted.
    assert!(!page.contains("555010"), "phone number on the page");
    assert!(
        !page.contains("a11"),
        "agent of dialer 10.0.0.2 on the page"
    );
    // Every family is documented in the README with its type.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in page.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = line.split_once(' ').unwrap();
        assert!(
            readme.contains(&format!("| `{name}` | {kind} |")),
            "README does not document {name} ({kind})"
        );
    }
    // `collect[]` selects the ViciDial families like any other.
    let r = get(
        SocketAddr::from(([127, 0, 0, 1], ex.port)),
        "/metrics?collect[]=vicidial_auto_calls",
        &[],
    )
    .unwrap();
    let body = r.text();
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(families, ["vicidial_auto_calls"]);
    // The CLI status shows the reader.
    let status = ex.status();
    assert!(
        status.contains("Collector vicidial: up") && status.contains("ViciDial reader:  up"),
        "{status}"
    );
    assert!(!status.contains(PASSWORD));
}

#[test]
fn logged_out_agents_vanish_at_the_next_poll_and_new_ones_appear() {
    let server = shared_server();
    let db = "vd_logout";
    scenario_db(server, db, Schema::Current);
    // No server_ip: every dialer's rows count.
    let ex = start_reader(server, db, &[]);
    let page = ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    let series = vicidial_series(&page);
    assert_eq!(
        series.get("vicidial_agent_status{agent=\"a11\",status=\"INCALL\"}"),
        Some(&1.0)
    );
    assert_eq!(
        series.get("vicidial_auto_calls{campaign=\"SALES\",status=\"LIVE\"}"),
        Some(&4.0)
    );
    assert_eq!(
        series.get("vicidial_auto_calls{campaign=\"IN_SUP\",status=\"XFER\"}"),
        Some(&1.0)
    );
    server.exec(
        db,
        &[
            "DELETE FROM vicidial_live_agents WHERE user IN ('a04', 'a11')",
            "INSERT INTO vicidial_live_agents (user, server_ip, status, lead_id, campaign_id, last_state_change) \
             VALUES ('a13', '10.0.0.1', 'READY', 0, 'NEWCAMP', NOW())",
            "DELETE FROM vicidial_auto_calls WHERE campaign_id = 'IN_SUP'",
        ],
    );
    let page = ex.wait_for(10, "a04 and a11 gone", |p| {
        !p.contains("agent=\"a04\"") && p.contains("agent=\"a13\"")
    });
    assert!(!page.contains("agent=\"a11\""));
    assert!(
        !page.contains("pause_code=\"LUNCH\""),
        "a04's pause code went with it"
    );
    assert!(!page.contains("campaign=\"IN_SUP\",status="));
    let s = vicidial_series(&page);
    assert_eq!(
        s.get("vicidial_agents{campaign=\"SALES\",status=\"PAUSED\"}"),
        Some(&1.0)
    );
    assert_eq!(
        s.get("vicidial_agents{campaign=\"SUPPORT\",status=\"INCALL\"}"),
        Some(&0.0)
    );
    assert_eq!(
        s.get("vicidial_agents{campaign=\"NEWCAMP\",status=\"READY\"}"),
        Some(&1.0)
    );
    // Everyone logs out: the agent families leave the page, the others stay.
    server.exec(db, &["DELETE FROM vicidial_live_agents"]);
    let page = ex.wait_for(10, "no agents", |p| !has_samples(p, "vicidial_agent"));
    assert_eq!(up(&page), Some(1.0));
    assert_eq!(value(&page, "vicidial_recordings_missing"), Some(2.0));
}

#[test]
fn the_older_schema_works_over_the_unix_socket() {
    let server = shared_server();
    let db = "vd_old1540";
    let loaded = scenario_db(server, db, Schema::Old1540);
    let socket = server.socket.to_string_lossy().into_owned();
    let ex = start_reader(
        server,
        db,
        &[
            ("vicidial.server_ip", "10.0.0.1"),
            ("vicidial.socket", &socket),
        ],
    );
    let page = ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    assert_scenario(&page, loaded.elapsed());
}

#[test]
fn wrong_password_is_one_clear_error_and_the_password_is_never_shown() {
    let server = shared_server();
    let db = "vd_wrongpw";
    server.create_database(db, Schema::Current);
    let user = "vd_wrongpw_user";
    server.grant(db, user, "the-right-one");
    let wrong = "Wr0ng-pa55word-x9";
    let ex = start_reader(
        server,
        db,
        &[("vicidial.user", user), ("vicidial.password", wrong)],
    );
    // Let it retry several times (1 s, then 1 s backoff capped at the 1 s interval).
    std::thread::sleep(Duration::from_millis(3500));
    let page = ex.page();
    assert_eq!(up(&page), Some(0.0));
    assert!(!has_samples(&page, "vicidial_agent"));
    let errors: Vec<_> = log_lines(user)
        .into_iter()
        .filter(|(level, _)| *level <= 2)
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {errors:#?}");
    let line = &errors[0].1;
    assert!(
        line.contains("access denied")
            && line.contains(&format!("{user}@127.0.0.1:{}/{db}", server.port))
            && line.contains("vicidial.password"),
        "{line}"
    );
    let status = ex.status();
    assert!(status.contains("DOWN"), "{status}");
    for text in LOG
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m)| m.clone())
        .chain([page, status])
    {
        assert!(!text.contains(wrong), "password shown: {text}");
        assert!(!text.contains(PASSWORD), "password shown: {text}");
    }
}

#[test]
fn a_missing_column_or_table_is_named_once() {
    let server = shared_server();
    let db = "vd_schema";
    server.create_database(db, Schema::Current);
    server.exec(
        db,
        &["ALTER TABLE vicidial_live_agents DROP COLUMN pause_code"],
    );
    let mut ex = start_reader(server, db, &[]);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(up(&ex.page()), Some(0.0));
    let who = format!("/{db})");
    let errors: Vec<_> = log_lines(&who)
        .into_iter()
        .filter(|(l, _)| *l <= 2)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].1.contains("vicidial_live_agents") && errors[0].1.contains("'pause_code'"),
        "{}",
        errors[0].1
    );
    ex.stop();
    // A dropped table is named too.
    let db = "vd_notable";
    server.create_database(db, Schema::Current);
    server.exec(db, &["DROP TABLE recording_log"]);
    let ex = start_reader(server, db, &[]);
    ex.wait_for(10, "the error", |_| {
        !log_lines(&format!("/{db})")).is_empty()
    });
    let line = log_lines(&format!("/{db})")).remove(0).1;
    assert!(line.contains(&format!("{db}.recording_log")), "{line}");
    assert_eq!(up(&ex.page()), Some(0.0));
}

#[test]
fn no_server_is_one_clear_error_and_the_page_is_served() {
    let nothing_there = server::free_port().to_string();
    let mut ex = Exporter::start(&[
        ("vicidial.enabled", "yes"),
        ("vicidial.host", "127.0.0.1"),
        ("vicidial.port", &nothing_there),
        ("vicidial.database", "vd_noserver"),
        ("vicidial.password", PASSWORD),
        ("vicidial.interval", "1s"),
        ("vicidial.query_timeout", "800ms"),
    ]);
    std::thread::sleep(Duration::from_millis(2500));
    let page = ex.page();
    assert_eq!(up(&page), Some(0.0));
    assert_eq!(
        value(
            &page,
            "prom_rs_collector_last_success_timestamp_seconds{collector=\"vicidial\"}"
        ),
        Some(0.0)
    );
    assert_scrapes_fast(&ex, 10);
    let errors: Vec<_> = log_lines("/vd_noserver)")
        .into_iter()
        .filter(|(l, _)| *l <= 2)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .1
            .contains(&format!("cannot connect to 127.0.0.1:{nothing_there}")),
        "{}",
        errors[0].1
    );
    assert!(ex.stop() < Duration::from_millis(500));
}

/// Scrape time while the reader is failing or stuck: the page never waits on the database.
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
fn server_killed_then_restarted_the_reader_recovers_by_itself() {
    let mut server = MariaDb::start();
    let db = "vd_restart";
    scenario_db(&server, db, Schema::Current);
    let ex = start_reader(&server, db, &[]);
    ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    server.kill();
    let page = ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    assert!(
        !has_samples(&page, "vicidial_agent"),
        "no stale agent series while down"
    );
    assert!(
        page.contains("prom_rs_collector_last_success_timestamp_seconds{collector=\"vicidial\"}")
    );
    assert_scrapes_fast(&ex, 30);
    server.restart();
    let page = ex.wait_for(15, "recovery", |p| up(p) == Some(1.0));
    // MyISAM rows survived the crash; the MEMORY table of dialer calls did not, as on a real dialer.
    assert!(page.contains("vicidial_agent_status{agent=\"a01\",status=\"READY\"} 1"));
    assert!(!has_samples(&page, "vicidial_auto_calls"));
    let who = format!("/{db})");
    let lines = log_lines(&who);
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 3 && m.contains("connected again")),
        "{lines:#?}"
    );
    // One line per change of situation, not one per poll: at most lost + unreachable while it was down.
    let errors = lines.iter().filter(|(l, _)| *l <= 2).count();
    assert!((1..=2).contains(&errors), "{lines:#?}");
}

#[test]
fn a_hanging_query_times_out_without_blocking_the_reader_the_page_or_stop() {
    let server = shared_server();
    let db = "vd_hang";
    scenario_db(server, db, Schema::Current);
    let mut ex = start_reader(server, db, &[]);
    ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    // The dialer table becomes a view that takes 30 s per row.
    server.exec(
        db,
        &[
            "RENAME TABLE vicidial_auto_calls TO auto_calls_real",
            "CREATE VIEW vicidial_auto_calls AS SELECT * FROM auto_calls_real WHERE SLEEP(30) = 0",
        ],
    );
    server.grant(db, USER, PASSWORD);
    let page = ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    assert!(!has_samples(&page, "vicidial_agent"));
    let who = format!("/{db})");
    ex.wait_for(5, "the timeout line", |_| {
        log_lines(&who).iter().any(|(_, m)| m.contains("timed out"))
    });
    let lines = log_lines(&who);
    let timeout = lines.iter().find(|(_, m)| m.contains("timed out")).unwrap();
    assert!(
        timeout.1.contains("vicidial_auto_calls") && timeout.1.contains("800 ms"),
        "{timeout:?}"
    );
    assert_scrapes_fast(&ex, 20);
    // The reader is not stuck: the table comes back, so does the collector.
    server.exec(
        db,
        &[
            "DROP VIEW vicidial_auto_calls",
            "RENAME TABLE auto_calls_real TO vicidial_auto_calls",
        ],
    );
    ex.wait_for(10, "recovery", |p| up(p) == Some(1.0));
    // Hang again, then stop while a query is running: stop returns within about the query timeout.
    server.exec(
        db,
        &[
            "RENAME TABLE vicidial_auto_calls TO auto_calls_real",
            "CREATE VIEW vicidial_auto_calls AS SELECT * FROM auto_calls_real WHERE SLEEP(30) = 0",
        ],
    );
    ex.wait_for(10, "collector down", |p| up(p) == Some(0.0));
    // Stop at a moment the reader is inside the slow query (it retries every second).
    std::thread::sleep(Duration::from_millis(1200));
    let took = ex.stop();
    assert!(
        took < QUERY_TIMEOUT + Duration::from_millis(700),
        "stop took {took:?}"
    );
}

#[test]
fn the_cardinality_cap_applies_and_is_counted() {
    let server = shared_server();
    let db = "vd_cap";
    scenario_db(server, db, Schema::Current);
    let ex = start_reader(
        server,
        db,
        &[
            ("max_series_per_family", "3"),
            ("vicidial.server_ip", "10.0.0.1"),
        ],
    );
    let page = ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    let s = vicidial_series(&page);
    let count = |f: &str| {
        s.keys()
            .filter(|k| k.starts_with(&format!("{f}{{")))
            .count()
    };
    assert_eq!(count("vicidial_agent_status"), 3);
    assert_eq!(count("vicidial_agents"), 3);
    let dropped = value(
        &page,
        "prom_rs_series_dropped_total{family=\"vicidial_agent_status\"}",
    )
    .unwrap();
    assert!(dropped >= 8.0, "11 agents, 3 kept: {dropped}");
}

#[test]
fn reload_stops_restarts_and_reconfigures_the_reader() {
    let server = shared_server();
    let db = "vd_reload";
    scenario_db(server, db, Schema::Current);
    let keys = reader_keys(server, db);
    let ex = with_keys(&keys, &[], Exporter::start);
    ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    // Disabled: reader stopped, families and collector gone.
    ex.reload(&[("vicidial.enabled", "no")]);
    let page = ex.page();
    assert!(!page.contains("vicidial"), "{}", vicidial_part(&page));
    assert!(!ex.status().contains("ViciDial"), "{}", ex.status());
    // Enabled again with a server_ip filter: the new setting applies.
    with_keys(&keys, &[("vicidial.server_ip", "10.0.0.2")], |p| {
        ex.reload(p)
    });
    let page = ex.wait_for(15, "the filtered snapshot", |p| {
        up(p) == Some(1.0) && p.contains("agent=\"a11\"")
    });
    assert!(!page.contains("agent=\"a01\""));
}

#[test]
fn a_missing_kpi_table_column_or_grant_turns_off_only_its_families() {
    let server = shared_server();
    let db = "vd_kpi_missing";
    scenario_db(server, db, Schema::Old1540);
    server.exec(
        db,
        &[
            "DROP TABLE vicidial_hopper",
            "ALTER TABLE vicidial_agent_log DROP COLUMN dead_sec",
            &format!("REVOKE SELECT ON {db}.vicidial_log FROM '{USER}'@'127.0.0.1'"),
        ],
    );
    let ex = start_reader(server, db, &[]);
    ex.wait_for(15, "the first snapshot", |p| up(p) == Some(1.0));
    // Several polls: still one line per group.
    std::thread::sleep(Duration::from_millis(2500));
    let page = ex.page();
    assert_eq!(up(&page), Some(1.0));
    for gone in [
        "vicidial_hopper_leads",
        "vicidial_campaign_agent_",
        "vicidial_campaign_handle_seconds_avg_today",
        "vicidial_campaign_drops_30d",
        "vicidial_campaign_answers_30d",
    ] {
        assert!(!has_samples(&page, gone), "{gone} still on the page");
    }
    let s = vicidial_series(&page);
    for (series, v) in [
        ("vicidial_campaign_calls_today{campaign=\"SALES\"}", 1200.0),
        ("vicidial_campaign_dial_level{campaign=\"SALES\"}", 2.5),
        (
            "vicidial_inbound_answered_within_service_level_today{campaign=\"IN_SLA\"}",
            2.0,
        ),
        ("vicidial_agents{campaign=\"SALES\",status=\"READY\"}", 1.0),
    ] {
        assert_eq!(s.get(series), Some(&v), "{series}");
    }
    let warnings: Vec<String> = log_lines(&format!("/{db})"))
        .into_iter()
        .filter(|(l, _)| *l == 2)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    let named = |what: &[&str]| {
        warnings
            .iter()
            .filter(|w| what.iter().all(|x| w.contains(x)))
            .count()
    };
    assert_eq!(
        named(&["vicidial_hopper_leads are off", "vicidial_hopper", "1146"]),
        1,
        "{warnings:#?}"
    );
    assert_eq!(
        named(&[
            "vicidial_campaign_agent_",
            "vicidial_agent_log",
            "'dead_sec'"
        ]),
        1,
        "{warnings:#?}"
    );
    assert_eq!(
        named(&[
            "vicidial_campaign_drops_30d",
            "no SELECT privilege on vicidial_log"
        ]),
        1,
        "{warnings:#?}"
    );
    assert!(
        !log_lines(&format!("/{db})")).iter().any(|(l, _)| *l == 1),
        "no error: the reader is up"
    );
}
