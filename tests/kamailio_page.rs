//! Pages written by the real Kamailio module: the fixtures in tests/kamailio/pages/ (recorded by
//! tests/kamailio/live_test.py) and, when `make test-kamailio` ran before this test (as `make test` does), the
//! pages of that run in build/kamailio/pages/. An independent parser (openmetrics-parser) reads both formats, the
//! two carry the same families, and the families read from Kamailio's RPCs are there with their types.
//!
//! openmetrics-parser 0.4's grammars accept lowercase metric names only (`metricname = ASCII_ALPHA_LOWER ...`),
//! while the formats allow `[a-zA-Z_:]` and Kamailio has names like `tmx:UAS_transactions` (promtool, which the live
//! test runs, accepts them). The parser therefore reads a copy with the metric names lowercased, after a check that
//! lowercasing merges no two names.

use openmetrics_parser::{openmetrics::parse_openmetrics, prometheus::parse_prometheus};
use std::path::PathBuf;

fn dirs() -> Vec<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![repo.join("tests/kamailio/pages")];
    let live = repo.join("build/kamailio/pages");
    if live.join("metrics.txt").is_file() {
        out.push(live);
    }
    out
}

fn read(dir: &std::path::Path, name: &str) -> String {
    let page = std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
    lowercase_names(&page)
}

/// The metric name of a HELP/TYPE/UNIT line or a sample line, and where it starts.
fn name_span(line: &str) -> Option<(usize, usize)> {
    let start = ["# HELP ", "# TYPE ", "# UNIT "]
        .iter()
        .find(|p| line.starts_with(**p))
        .map_or(0, |p| p.len());
    if start == 0 && line.starts_with('#') {
        return None;
    }
    let end = line[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .map_or(line.len(), |i| start + i);
    (end > start).then_some((start, end))
}

/// The page with its metric names lowercased (see the module comment); panics if that merges two names.
fn lowercase_names(page: &str) -> String {
    let mut names = std::collections::BTreeSet::new();
    let mut lowered = std::collections::BTreeSet::new();
    let mut out = String::with_capacity(page.len());
    for line in page.lines() {
        match name_span(line) {
            Some((a, b)) => {
                names.insert(line[a..b].to_string());
                lowered.insert(line[a..b].to_ascii_lowercase());
                out.push_str(&line[..a]);
                out.push_str(&line[a..b].to_ascii_lowercase());
                out.push_str(&line[b..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    assert_eq!(
        names.len(),
        lowered.len(),
        "lowercasing merged two metric names"
    );
    out
}

#[test]
fn both_formats_of_a_kamailio_page_are_read_by_an_independent_parser() {
    for dir in dirs() {
        let text = read(&dir, "metrics.txt");
        let om = read(&dir, "metrics.om.txt");
        let prom = parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("{}: text format rejected: {e:?}", dir.display()));
        let open = parse_openmetrics(&om)
            .unwrap_or_else(|e| panic!("{}: OpenMetrics rejected: {e:?}", dir.display()));
        let strip = |n: &String| n.strip_suffix("_total").unwrap_or(n).to_string();
        let mut a: Vec<String> = prom.families.keys().map(strip).collect();
        let mut b: Vec<String> = open.families.keys().cloned().collect();
        a.sort();
        b.sort();
        assert_eq!(
            a,
            b,
            "{}: the two formats carry the same families",
            dir.display()
        );
        assert!(a.len() > 150, "{}: {} families", dir.display(), a.len());
        // RPC-only data: tm.stats, pkg.stats (one series per process), core.uptime, core.info.
        for (family, kind) in [
            ("kamailio_tm_current_transactions", "gauge"),
            ("kamailio_tm_transactions_total", "counter"),
            ("kamailio_tm_completed_transactions_total", "counter"),
            ("kamailio_pkg_real_used_bytes", "gauge"),
            ("kamailio_core_uptime_seconds", "gauge"),
            ("kamailio_core_build_info", "gauge"),
        ] {
            let f = prom
                .families
                .get(family)
                .unwrap_or_else(|| panic!("{}: no {family}", dir.display()));
            assert_eq!(
                format!("{:?}", f.family_type).to_lowercase(),
                kind,
                "{family}"
            );
        }
        let pkg = &prom.families["kamailio_pkg_real_used_bytes"];
        let processes = pkg.iter_samples().count();
        assert!(processes >= 10, "{processes} processes in pkg.stats");
        for s in pkg.iter_samples() {
            let l = s.get_labelset().unwrap();
            for name in ["pid", "rank", "desc"] {
                assert!(
                    l.get_label_value(name).is_some(),
                    "{name} missing on a pkg series"
                );
            }
        }
        let up = text
            .lines()
            .find(|l| l.starts_with("prom_rs_collector_up{collector=\"kamailio\"}"));
        assert_eq!(up.map(|l| l.rsplit(' ').next().unwrap()), Some("1"));
    }
}

#[test]
fn the_dispatcher_page_shows_one_destination_up_and_one_down() {
    for dir in dirs() {
        let text = read(&dir, "dispatcher.txt");
        let prom = parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("{}: rejected: {e:?}", dir.display()));
        let states = &prom.families["kamailio_dispatcher_destination_state"];
        // Four series per destination (one per state), exactly one of them 1.
        assert_eq!(states.iter_samples().count(), 8, "{}", dir.display());
        let counts = &prom.families["kamailio_dispatcher_destinations"];
        assert_eq!(counts.iter_samples().count(), 4);
        for line in text
            .lines()
            .filter(|l| l.starts_with("kamailio_dispatcher_destinations{"))
        {
            // Recorded after the live destination stopped answering: both inactive.
            let want = if line.contains("state=\"inactive\"") {
                "2"
            } else {
                "0"
            };
            assert_eq!(line.rsplit(' ').next(), Some(want), "{line}");
        }
    }
}
