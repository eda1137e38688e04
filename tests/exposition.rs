//! The page is valid exposition in both formats: `promtool check metrics` and an independent parser
//! (openmetrics-parser) accept it, hostile label values round-trip, and distinct label tuples stay distinct.

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod common;
use common::*;
use openmetrics_parser::{openmetrics::parse_openmetrics, prometheus::parse_prometheus};
use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// A label value with everything that needs escaping or care: quote, backslash, newline, tab, non-ASCII.
const NASTY: &str = "tr\"unk\\1\nsecond line\tünï 日本";

fn trace_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

/// A core with at least one series in every Asterisk family, some with hostile label values.
fn rich_core(lib: &Lib, port: u16) -> Core {
    let core = lib
        .start(&[
            ("port", &port.to_string()),
            ("labels", "server=ex\"am\\ple"),
            ("phone_fleet", "1031-1033"),
            ("channel_detail", "yes"),
        ])
        .unwrap();
    let n = trace_escape(NASTY);
    let lines = [
        "sample_system\t20.10.0\t1000000\t2000000\t3\t42\t61000000".to_string(),
        "sample_codecs_begin".to_string(),
        "sample_channel_codec\tulaw\t\\N\t\\N".to_string(),
        "sample_channel_codec\topus\topus\tulaw".to_string(),
        "sample_codecs_end".to_string(),
        format!("channel_created\t1.1\t{n}\t1031\t4\t1000000"),
        "channel_state\t1.1\t6\t2000000".to_string(),
        "channel_created\t1.2\tPJSIP\t1032\t6\t1000000".to_string(),
        "channel_hangup\t1.2\tPJSIP\t16\t1000000\t9000000".to_string(),
        "dial_result\tANSWER\t1".to_string(),
        "dial_result\tNOANSWER\t1".to_string(),
        "endpoint_state\tPJSIP\t1031\t2\t1\t1".to_string(),
        "endpoint_contact\tPJSIP\t1031\tReachable\t15000\t1".to_string(),
        format!("endpoint_state\tPJSIP\t{n}\t1\t0\t1"),
        format!("endpoint_contact\tPJSIP\t{n}\tUnreachable\t-1\t1"),
        "endpoint_state\tPJSIP\t1032\t2\t0\t1".to_string(),
        "endpoint_state\tPJSIP\t1032\t1\t0\t2".to_string(),
        "outbound_registration\tPJSIP\tacct\tsip.example.com\tRegistered\t1".to_string(),
        "rtcp_report\tPJSIP\t1031\t0\t0.012\t0.01\t0.08\t91.5\t1".to_string(),
        "rtcp_report\tPJSIP\t1031\t1\t0.02\t0.0\t-1\t-1\t1".to_string(),
        "bridge_created\tb1\tsimple_bridge\t0\t1".to_string(),
        "bridge_enter\tb1\t1.1\t1".to_string(),
        "confbridge_event\tstandup\t0\t1".to_string(),
        "confbridge_event\tstandup\t2\t1".to_string(),
        "queue_caller\tsales\tq1\t0\t1000000".to_string(),
        "queue_caller\tsales\tq1\t1\t5000000".to_string(),
        "queue_caller\tsales\tq2\t0\t1000000".to_string(),
        "queue_caller\tsales\tq2\t2\t3000000".to_string(),
        "queue_caller\tsales\tq3\t0\t4000000".to_string(),
        format!("security_event\t{n}\tInvalidPassword\t1"),
        "security_event\tAMI\tFailedACL\t1".to_string(),
    ];
    for l in &lines {
        assert_eq!(lib.trace(core, l), OK, "{l}: {}", lib.last_error());
    }
    core
}

/// openmetrics-parser returns label values as written on the page (still escaped); undo the format's three escapes.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("dangling backslash in {v:?}"),
        }
    }
    out
}

fn promtool(page: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by `make test` (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Asserts promtool finds no problem at all (errors or lint findings).
pub fn assert_promtool_clean(page: &str) {
    let (ok, text) = promtool(page);
    assert!(
        ok && text.trim().is_empty(),
        "promtool check metrics:\n{text}\n--- page ---\n{page}"
    );
}

#[test]
fn promtool_accepts_every_family() {
    let lib = Lib::load();
    let port = port();
    let core = rich_core(&lib, port);
    let page = scrape(port);
    for family in [
        "asterisk_build_info",
        "asterisk_uptime_seconds",
        "asterisk_last_reload_timestamp_seconds",
        "asterisk_active_calls",
        "asterisk_calls_processed_total",
        "asterisk_channels",
        "asterisk_channels_by_state",
        "asterisk_channels_created_total",
        "asterisk_channel_hangups_total",
        "asterisk_channel_duration_seconds",
        "asterisk_channel_answered_duration_seconds",
        "asterisk_dial_results_total",
        "asterisk_channels_by_codec",
        "asterisk_transcoding_channels",
        "asterisk_codec_translations",
        "asterisk_endpoint_up",
        "asterisk_endpoint_status",
        "asterisk_endpoint_rtt_seconds",
        "asterisk_endpoint_channels",
        "asterisk_endpoints",
        "asterisk_endpoint_state_changes_total",
        "asterisk_phone_fleet_state",
        "asterisk_phone_fleet_registered",
        "asterisk_phone_fleet_incall",
        "asterisk_phone_fleet_size",
        "asterisk_outbound_registration_status",
        "asterisk_rtcp_jitter_seconds",
        "asterisk_rtcp_packet_loss_ratio",
        "asterisk_rtcp_rtt_seconds",
        "asterisk_rtcp_mes",
        "asterisk_endpoint_rtcp_jitter_seconds",
        "asterisk_endpoint_rtcp_packet_loss_ratio",
        "asterisk_endpoint_rtcp_rtt_seconds",
        "asterisk_bridges",
        "asterisk_bridged_channels",
        "asterisk_confbridge_conferences",
        "asterisk_confbridge_participants",
        "asterisk_queue_callers",
        "asterisk_queue_callers_joined_total",
        "asterisk_queue_callers_abandoned_total",
        "asterisk_queue_wait_seconds",
        "asterisk_security_events_total",
        "prom_rs_build_info",
        "prom_rs_events_total",
        "prom_rs_series_dropped_total",
        "prom_rs_collector_up",
        "prom_rs_collector_last_success_timestamp_seconds",
        "asterisk_channel_age_seconds",
    ] {
        assert!(
            page.contains(&format!("# TYPE {family} ")),
            "family {family} missing from the page:\n{page}"
        );
    }
    assert_promtool_clean(&page);
    lib.stop(core);
}

#[test]
fn an_independent_parser_reads_both_formats_and_label_values_round_trip() {
    let lib = Lib::load();
    let port = port();
    let core = rich_core(&lib, port);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // One scrape first, so both pages carry the HTTP and scrape-duration self families.
    get(addr, "/metrics", &[]).unwrap();
    let text = get(addr, "/metrics", &[]).unwrap();
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let om = get(
        addr,
        "/metrics",
        &["Accept: application/openmetrics-text; version=1.0.0"],
    )
    .unwrap();
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.text().ends_with("# EOF\n"));

    let prom = parse_prometheus(&text.text())
        .unwrap_or_else(|e| panic!("text format rejected: {e:?}\n{}", text.text()));
    let open = parse_openmetrics(&om.text())
        .unwrap_or_else(|e| panic!("OpenMetrics rejected: {e:?}\n{}", om.text()));
    assert!(
        prom.families.len() >= 45,
        "{} families",
        prom.families.len()
    );
    let strip = |n: &String| n.strip_suffix("_total").unwrap_or(n).to_string();
    let mut a: Vec<String> = prom.families.keys().map(strip).collect();
    let mut b: Vec<String> = open.families.keys().cloned().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the two formats carry the same families");

    // The hostile value comes back byte for byte, in the family label and in the constant label.
    let sec = &prom.families["asterisk_security_events_total"];
    let services: HashSet<String> = sec
        .iter_samples()
        .map(|s| {
            unescape(
                s.get_labelset()
                    .unwrap()
                    .get_label_value("service")
                    .unwrap(),
            )
        })
        .collect();
    assert!(services.contains(NASTY), "{services:?}");
    let sample = sec.iter_samples().next().unwrap();
    assert_eq!(
        unescape(
            sample
                .get_labelset()
                .unwrap()
                .get_label_value("server")
                .unwrap()
        ),
        "ex\"am\\ple"
    );
    let om_sec = &open.families["asterisk_security_events"];
    assert!(om_sec.iter_samples().any(|s| unescape(
        s.get_labelset()
            .unwrap()
            .get_label_value("service")
            .unwrap()
    ) == NASTY));
    lib.stop(core);
}

#[test]
fn distinct_label_tuples_never_merge() {
    let lib = Lib::load();
    let port = port();
    let core = lib.start(&[("port", &port.to_string())]).unwrap();
    // ("ab","c") and ("a","bc") join to the same text; the prometheus crate would make them one series.
    for (svc, ev, times) in [("ab", "c", 1), ("a", "bc", 2)] {
        for _ in 0..times {
            assert_eq!(
                lib.trace(core, &format!("security_event\t{svc}\t{ev}\t1")),
                OK
            );
        }
    }
    let stat = lib.sym::<unsafe extern "C" fn(
        Core,
        *const i8,
        *const i8,
        i32,
        f64,
        *const *const i8,
        *const *const i8,
        usize,
    ) -> i32>("prom_rs_stat_set");
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let (g, n, l1, l2) = (c("tm"), c("active"), c("a"), c("b"));
    for (v1, v2, val) in [("ab", "c", 1.0), ("a", "bc", 2.0)] {
        let (v1, v2) = (c(v1), c(v2));
        let names = [l1.as_ptr(), l2.as_ptr()];
        let values = [v1.as_ptr(), v2.as_ptr()];
        // SAFETY: arrays of two valid strings each.
        assert_eq!(
            unsafe {
                stat(
                    core,
                    g.as_ptr(),
                    n.as_ptr(),
                    2,
                    val,
                    names.as_ptr(),
                    values.as_ptr(),
                    2,
                )
            },
            OK
        );
    }
    let page = scrape(port);
    assert_eq!(
        value(
            &page,
            "asterisk_security_events_total{service=\"ab\",event=\"other\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &page,
            "asterisk_security_events_total{service=\"a\",event=\"other\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&page, "opensips_tm_active{a=\"ab\",b=\"c\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&page, "opensips_tm_active{a=\"a\",b=\"bc\"}"),
        Some(2.0)
    );
    assert_promtool_clean(&page);
    lib.stop(core);
}

/// `path` of a core holding every family (started and stopped here).
fn rich_page(path: &str) -> String {
    let lib = Lib::load();
    let port = port();
    let core = rich_core(&lib, port);
    let body = get(SocketAddr::from(([127, 0, 0, 1], port)), path, &[])
        .unwrap()
        .text();
    lib.stop(core);
    body
}

#[test]
fn collect_filter_limits_the_page_to_the_named_prefixes() {
    let body = rich_page("/metrics?collect[]=asterisk_queue&collect%5B%5D=prom_rs_build");
    let got: Vec<&str> = families(&body).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        got,
        [
            "asterisk_queue_callers",
            "asterisk_queue_callers_abandoned_total",
            "asterisk_queue_callers_joined_total",
            "asterisk_queue_wait_seconds",
            "prom_rs_build_info"
        ]
    );
}

/// (family, type) of every `# TYPE` line on a page, sorted by name.
fn families(page: &str) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = page
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    v.sort();
    v
}

/// Families listed in the README's metric reference.
fn readme_families() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- metric-reference:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- metric-reference:end -->")
        .expect("end marker");
    readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect()
}

#[test]
fn the_readme_metric_reference_is_exactly_what_the_page_serves() {
    let lib = Lib::load();
    let port = port();
    let core = rich_core(&lib, port);
    scrape(port);
    let page = scrape(port);
    let served: Vec<String> = families(&page)
        .into_iter()
        .map(|(name, _)| name.to_string())
        .collect();
    let mut documented = readme_families();
    documented.sort();
    assert_eq!(
        documented, served,
        "README metric reference (left) vs families on a full page (right)"
    );
    // Types match too.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (name, kind) in families(&page) {
        assert!(
            readme.contains(&format!("| `{name}` | {kind} |")),
            "README gives another type for {name} ({kind})"
        );
    }
    lib.stop(core);
}

#[test]
fn collect_filter_reaches_families_written_by_grouped_collectors() {
    let body =
        rich_page("/metrics?collect[]=asterisk_phone_fleet_size&collect[]=asterisk_transcoding");
    assert_eq!(
        value(
            &body,
            "asterisk_phone_fleet_size{server=\"ex\\\"am\\\\ple\"}"
        ),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            "asterisk_transcoding_channels{server=\"ex\\\"am\\\\ple\"}"
        ),
        Some(1.0),
        "{body}"
    );
    assert!(!body.contains("asterisk_channels{"), "{body}");
}
