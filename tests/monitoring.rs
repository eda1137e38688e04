//! The shipped monitoring content (`monitoring/`): Prometheus configuration, recording and alert rules, Grafana
//! dashboards.
//!
//! - promtool checks the configuration and the rules, and runs the unit tests of `monitoring/prometheus/tests/`;
//!   every alert (each severity) has a test that fires it and one where it must stay silent.
//! - Every dashboard is valid JSON; every panel has a datasource, queries, and the `$server` filter.
//! - End to end: the reference host runs the synthetic call center (20x) with the ViciDial reader on a private
//!   MariaDB loaded with the test scenario and the fail2ban poller on a private fail2ban-server with bans; a real
//!   Prometheus server scrapes it every second with the shipped rules;
//!   then every dashboard query and every recording rule must return data, and every rule must evaluate cleanly.
//!
//! Needs `promtool` and `prometheus` (Debian package `prometheus`), `mariadbd` (`mariadb-server`) and
//! `fail2ban-server` (`fail2ban`), which
//! `make test` installs, and the built library and host (`make`).

mod common;
#[allow(dead_code)]
#[path = "fail2ban/server.rs"]
mod f2b;
#[path = "monitoring/json.rs"]
mod json;
#[allow(dead_code)]
#[path = "vicidial/server.rs"]
mod server;
#[path = "monitoring/support.rs"]
mod support;

use json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn prometheus_dir() -> PathBuf {
    monitoring_dir().join("prometheus")
}

fn dashboards_dir() -> PathBuf {
    monitoring_dir().join("grafana/dashboards")
}

/// Files of `dir` ending in `ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

// ---- promtool ---------------------------------------------------------------------------------------------------

#[test]
fn promtool_accepts_the_prometheus_configuration() {
    let o = run_tool(
        "promtool",
        &["check", "config", "prometheus.yml"],
        &prometheus_dir(),
    );
    let text = assert_success("promtool check config", &o);
    // The configuration names both rule files and the file_sd example is valid.
    assert!(text.contains("2 rule files found"), "{text}");
}

#[test]
fn promtool_accepts_the_rules() {
    let rules = names(&files(&prometheus_dir().join("rules"), ".yml"));
    assert_eq!(rules, ["alerts.yml", "recording.yml"]);
    let mut args = vec!["check", "rules"];
    let paths: Vec<String> = rules.iter().map(|r| format!("rules/{r}")).collect();
    args.extend(paths.iter().map(String::as_str));
    let text = assert_success(
        "promtool check rules",
        &run_tool("promtool", &args, &prometheus_dir()),
    );
    assert!(!text.contains("WARNING"), "{text}");
}

#[test]
fn promtool_unit_tests_of_every_rule_file_pass() {
    let tests = names(&files(&prometheus_dir().join("tests"), "_test.yml"));
    assert!(tests.len() >= 5, "{tests:?}");
    let paths: Vec<String> = tests.iter().map(|t| format!("tests/{t}")).collect();
    let mut args = vec!["test", "rules"];
    args.extend(paths.iter().map(String::as_str));
    let text = assert_success(
        "promtool test rules",
        &run_tool("promtool", &args, &prometheus_dir()),
    );
    assert_eq!(text.matches("SUCCESS").count(), tests.len(), "{text}");
}

/// (alert name, severity) of every rule in alerts.yml, in file order.
fn alert_rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(prometheus_dir().join("rules/alerts.yml")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert:") {
            current = Some(name.trim().to_string());
        } else if let Some(sev) = line.strip_prefix("severity:") {
            let name = current.take().expect("severity: without a preceding alert");
            out.push((name, sev.trim().trim_matches('"').to_string()));
        }
    }
    out
}

/// One `alert_rule_test` item of a promtool test file: alert name and the severities it expects to fire.
struct AlertCheck {
    file: String,
    alertname: String,
    firing_severities: Vec<String>,
    expects_silence: bool,
}

fn alert_checks() -> Vec<AlertCheck> {
    let mut out = Vec::new();
    for path in files(&prometheus_dir().join("tests"), "_test.yml") {
        let file = names(std::slice::from_ref(&path)).remove(0);
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().map(str::trim) {
            if line.starts_with("- eval_time:") || line.starts_with("- interval:") {
                // a new check (or a new test group) starts; alertname follows
            } else if let Some(name) = line.strip_prefix("alertname:") {
                out.push(AlertCheck {
                    file: file.clone(),
                    alertname: name.trim().to_string(),
                    firing_severities: Vec::new(),
                    expects_silence: false,
                });
            } else if line == "exp_alerts: []" {
                if let Some(c) = out.last_mut() {
                    c.expects_silence = true;
                }
            } else if let Some(sev) = line.strip_prefix("severity:") {
                if let Some(c) = out.last_mut() {
                    c.firing_severities
                        .push(sev.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_alert_has_a_unit_test_that_fires_it_and_one_that_keeps_it_silent() {
    let rules = alert_rules();
    assert!(rules.len() >= 15, "{rules:?}");
    let checks = alert_checks();
    let mut missing = Vec::new();
    for (name, sev) in &rules {
        let fires = checks
            .iter()
            .any(|c| &c.alertname == name && c.firing_severities.contains(sev));
        let silent = checks
            .iter()
            .any(|c| &c.alertname == name && c.expects_silence);
        if !fires {
            missing.push(format!("{name} ({sev}): no test where it fires"));
        }
        if !silent {
            missing.push(format!("{name}: no test where it must stay silent"));
        }
    }
    for c in &checks {
        if !rules.iter().any(|(n, _)| n == &c.alertname) {
            missing.push(format!(
                "{}: tests {}, which alerts.yml does not define",
                c.file, c.alertname
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "alert unit tests:\n{}",
        missing.join("\n")
    );
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(
            r#"count((up{job="pbx"} == 0) unless on (server) x:y_z{a="{b}"}) or vector(0)"#
        ),
        ["up", "x:y_z"]
    );
}

// ---- Grafana ----------------------------------------------------------------------------------------------------

/// One query of one panel.
struct PanelQuery {
    dashboard: String,
    panel: String,
    expr: String,
}

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    files(&dashboards_dir(), ".json")
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let json = json::parse(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON at {e}", p.display()));
            Dashboard {
                file: p.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            }
        })
        .collect()
}

/// Every panel, rows' nested panels included.
fn panels(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in v.get("panels").map(Value::as_array).unwrap_or(&[]) {
        out.push(p);
        out.extend(panels(p));
    }
    out
}

/// Checks one dashboard; returns its queries, or the list of problems.
fn check_dashboard(d: &Dashboard) -> Result<Vec<PanelQuery>, Vec<String>> {
    let mut problems = Vec::new();
    let title = d.json.str_at("title").to_string();
    let label = format!("{} ({})", d.file, title);
    if title.is_empty() || d.json.str_at("uid").is_empty() {
        problems.push(format!("{label}: no title or uid"));
    }
    let vars = d
        .json
        .path("templating.list")
        .map(Value::as_array)
        .unwrap_or(&[]);
    let var = |name: &str| vars.iter().find(|v| v.str_at("name") == name);
    match var("server") {
        Some(v) if v.str_at("definition").starts_with("label_values(") => {}
        _ => problems.push(format!("{label}: no `server` variable from label_values")),
    }
    if var("datasource").map(|v| v.str_at("type")) != Some("datasource") {
        problems.push(format!("{label}: no `datasource` variable"));
    }
    let mut ids = BTreeSet::new();
    let mut queries = Vec::new();
    for p in panels(&d.json) {
        let ptitle = p.str_at("title");
        let ptype = p.str_at("type");
        let at = format!("{label}, panel \"{ptitle}\"");
        let id = p.get("id").and_then(Value::as_f64);
        if !id.is_some_and(|id| ids.insert(id as i64)) {
            problems.push(format!("{at}: missing or duplicate id"));
        }
        if p.path("gridPos.w").is_none() || p.path("gridPos.h").is_none() {
            problems.push(format!("{at}: no gridPos"));
        }
        if ptype == "row" {
            continue;
        }
        if ptitle.is_empty() {
            problems.push(format!("{label}: a {ptype} panel without a title"));
        }
        match p.get("datasource") {
            Some(Value::Obj(_)) if !p.str_at("datasource.uid").is_empty() => {}
            Some(Value::Str(s)) if !s.is_empty() => {}
            _ => problems.push(format!("{at}: no datasource")),
        }
        let targets = p.get("targets").map(Value::as_array).unwrap_or(&[]);
        if targets.is_empty() {
            problems.push(format!("{at}: no query"));
        }
        for t in targets {
            let expr = t.str_at("expr");
            if expr.trim().is_empty() {
                problems.push(format!(
                    "{at}: target {} has no expression",
                    t.str_at("refId")
                ));
            } else if !expr.contains("$server") {
                problems.push(format!("{at}: `{expr}` does not filter by $server"));
            }
            queries.push(PanelQuery {
                dashboard: title.clone(),
                panel: ptitle.to_string(),
                expr: expr.to_string(),
            });
        }
        let defaults = p.path("fieldConfig.defaults");
        let has = |k: &str| defaults.and_then(|d| d.get(k)).is_some();
        if matches!(
            ptype,
            "timeseries" | "stat" | "gauge" | "bargauge" | "heatmap"
        ) && !has("unit")
        {
            problems.push(format!("{at}: no unit"));
        }
        if matches!(ptype, "stat" | "gauge" | "bargauge") && !has("thresholds") {
            problems.push(format!("{at}: no thresholds"));
        }
        if ptype == "state-timeline" && !has("mappings") {
            problems.push(format!("{at}: a state timeline without value mappings"));
        }
    }
    if queries.is_empty() {
        problems.push(format!("{label}: no panel"));
    }
    if problems.is_empty() {
        Ok(queries)
    } else {
        Err(problems)
    }
}

#[test]
fn every_dashboard_parses_and_every_panel_has_a_datasource_and_queries() {
    let all = dashboards();
    let files: Vec<&str> = all.iter().map(|d| d.file.as_str()).collect();
    for wanted in [
        "overview.json",
        "sip.json",
        "media.json",
        "agents.json",
        "queues.json",
        "codecs.json",
        "phone-fleet.json",
        "security.json",
    ] {
        assert!(files.contains(&wanted), "{wanted} missing: {files:?}");
    }
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for d in &all {
        if !uids.insert(d.json.str_at("uid").to_string()) {
            problems.push(format!("{}: uid used twice", d.file));
        }
        if let Err(p) = check_dashboard(d) {
            problems.extend(p);
        }
    }
    assert!(problems.is_empty(), "dashboards:\n{}", problems.join("\n"));
    // The provisioning files point Grafana at a Prometheus datasource and a dashboards directory.
    let prov = monitoring_dir().join("grafana/provisioning");
    let ds = std::fs::read_to_string(prov.join("datasources/prometheus.yml")).unwrap();
    assert!(ds.contains("type: prometheus"), "{ds}");
    let dp = std::fs::read_to_string(prov.join("dashboards/provider.yml")).unwrap();
    assert!(dp.contains("type: file") && dp.contains("path:"), "{dp}");
}

// ---- end to end ---------------------------------------------------------------------------------------------------

/// The `server` label Prometheus puts on the scraped target, and what Grafana sends for a multi-value `$server`.
const SERVER: &str = "e2e-pbx";
const SERVER_REGEX: &str = "(e2e-pbx|another-pbx)";

/// Grafana's variables as Grafana would expand them for a 1-second-scrape Prometheus and a short time range.
fn expand(expr: &str) -> String {
    let out = expr
        .replace("${server}", SERVER_REGEX)
        .replace("$server", SERVER_REGEX)
        .replace("${__rate_interval}", "1m")
        .replace("$__rate_interval", "1m")
        .replace("${__range}", "5m")
        .replace("$__range", "5m")
        .replace("${__interval}", "15s")
        .replace("$__interval", "15s");
    assert!(!out.contains('$'), "unexpanded variable in {expr}");
    out
}

/// Starts the reference host with the synthetic workload and the ViciDial reader; returns it and its port.
fn start_host(
    dir: &Path,
    db: &server::MariaDb,
    database: &str,
    fail2ban: &f2b::Fail2banServer,
) -> (Guard, u16, PathBuf) {
    let port = free_port();
    let conf = dir.join("host.conf");
    let pairs = [
        ("bindaddr", "127.0.0.1".to_string()),
        ("port", port.to_string()),
        // The page also names a server (and a site): Prometheus' target label wins, see prometheus.yml.
        ("labels", "server=module-side,site=lab".to_string()),
        ("phone_fleet", "1031-1070,2001-2004".to_string()),
        ("channel_detail", "yes".to_string()),
        ("vicidial.enabled", "yes".to_string()),
        ("vicidial.host", "127.0.0.1".to_string()),
        ("vicidial.port", db.port.to_string()),
        ("vicidial.user", server::USER.to_string()),
        ("vicidial.password", server::PASSWORD.to_string()),
        ("vicidial.database", database.to_string()),
        ("vicidial.interval", "1s".to_string()),
        ("vicidial.query_timeout", "800ms".to_string()),
        ("vicidial.connect_timeout", "800ms".to_string()),
        ("fail2ban.enabled", "yes".to_string()),
        (
            "fail2ban.socket",
            fail2ban.socket.to_string_lossy().into_owned(),
        ),
        ("fail2ban.interval", "1s".to_string()),
    ];
    let text: String = pairs
        .iter()
        .map(|(k, v)| format!("modparam(\"prom_rs\", \"{k}\", \"{v}\")\n"))
        .collect();
    std::fs::write(&conf, text).unwrap();
    let log = dir.join("host.log");
    let child = Command::new(common::host_path())
        .arg("--lib")
        .arg(common::lib_path())
        .arg("--config")
        .arg(&conf)
        .args(["--seed", "7", "--speed", "20"])
        .stdin(Stdio::null())
        .stdout(File::create(&log).unwrap())
        .stderr(File::create(dir.join("host.err")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make` first)", common::host_path().display()));
    (
        Guard {
            name: "prom_host",
            child,
        },
        port,
        dir.join("host.err"),
    )
}

/// Starts Prometheus scraping 127.0.0.1:`target` every second with the shipped rule files.
fn start_prometheus(dir: &Path, target: u16) -> (Guard, PromApi, PathBuf) {
    let rules = prometheus_dir().join("rules");
    let config = format!(
        "# Generated by tests/monitoring.rs: the shipped rules, one PBX scraped every second.\n\
         global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rec}\n  - {alerts}\n\
         scrape_configs:\n  - job_name: pbx\n    static_configs:\n      - targets: [\"127.0.0.1:{target}\"]\n\
         \x20       labels:\n          server: {SERVER}\n\
         \x20   metric_relabel_configs:\n      - action: labeldrop\n        regex: exported_server\n",
        rec = rules.join("recording.yml").display(),
        alerts = rules.join("alerts.yml").display(),
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let log = dir.join("prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("prometheus.out")).unwrap())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("prometheus: {e} (the Debian package `prometheus` provides it; `make test` installs it)")
        });
    (
        Guard {
            name: "prometheus",
            child,
        },
        PromApi { port },
        log,
    )
}

/// Waits for `cond`, checking that the processes live; panics with `what` after `secs`.
fn wait_until(
    secs: u64,
    what: &str,
    procs: &mut [(&mut Guard, &Path)],
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for (g, log) in procs.iter_mut() {
            g.assert_running(log);
        }
        if cond() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Rules as the running Prometheus reports them: (type, name, query, health, lastError).
fn loaded_rules(api: &PromApi) -> Vec<(String, String, String, String, String)> {
    let data = api
        .get("/api/v1/rules")
        .unwrap_or_else(|e| panic!("rules API: {e}"));
    let mut out = Vec::new();
    for g in data.get("groups").map(Value::as_array).unwrap_or(&[]) {
        for r in g.get("rules").map(Value::as_array).unwrap_or(&[]) {
            out.push((
                r.str_at("type").to_string(),
                r.str_at("name").to_string(),
                r.str_at("query").to_string(),
                r.str_at("health").to_string(),
                r.str_at("lastError").to_string(),
            ));
        }
    }
    out
}

fn count_lines(file: &str, prefix: &str) -> usize {
    std::fs::read_to_string(prometheus_dir().join(file))
        .unwrap()
        .lines()
        .filter(|l| l.trim_start().starts_with(prefix))
        .count()
}

/// Metric names an expression selects (`name{...}`), quoted strings skipped.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    for c in expr.chars() {
        if quoted {
            quoted = c != '"';
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
            continue;
        }
        if c == '{' && token.starts_with(|t: char| t.is_ascii_alphabetic() || t == '_') {
            out.push(token.clone());
        }
        quoted = c == '"';
        token.clear();
    }
    out
}

/// One check of the end-to-end run: what it is (for the failure message) and the expression to run.
struct Check {
    what: String,
    expr: String,
}

#[test]
fn every_dashboard_query_and_recording_rule_returns_data_from_a_real_prometheus() {
    let started = Instant::now();
    let scratch = Scratch::new("e2e");
    let dir = scratch.0.clone();

    // ViciDial's database: the test scenario of tests/sql (agents, calls, closer log, recordings).
    let db = server::MariaDb::start();
    let database = "vd_monitoring";
    // The scenario's rows of "today" are up to a minute old: not across midnight.
    db.wait_past_midnight(Duration::from_secs(120));
    db.create_database(database, server::Schema::Current);
    db.load(database, "scenario.sql");

    // fail2ban: a private server whose jails have failures and bans (tests/fail2ban/server.rs).
    if let Some(why) = f2b::unavailable() {
        panic!("{why}");
    }
    let fail2ban = f2b::Fail2banServer::start();
    fail2ban.append_log(&vec!["PBX scan from 198.51.100.7".to_string(); 2]);
    fail2ban.append_log(&["PBX auth failed for 1001 from 192.0.2.10".to_string()]);
    fail2ban.set("pbx-auth", "banip", &["192.0.2.20", "192.0.2.21"]);

    let (mut host, host_port, host_log) = start_host(&dir, &db, database, &fail2ban);
    let (mut prom, api, prom_log) = start_prometheus(&dir, host_port);

    wait_until(
        30,
        "Prometheus to be ready",
        &mut [(&mut prom, &prom_log)],
        || http_get(api.port, "/-/ready").is_ok_and(|(status, _)| status == 200),
    );
    let recording_rules = count_lines("rules/recording.yml", "- record:");
    let alert_rules = count_lines("rules/alerts.yml", "- alert:");
    // Data: 15 s of scrapes (rates over 1m windows need two), the ViciDial reader up, every rule evaluated.
    wait_until(
        90,
        "Prometheus to have 15 s of data, the ViciDial reader and the fail2ban poller up and every rule evaluated",
        &mut [(&mut host, &host_log), (&mut prom, &prom_log)],
        || {
            let samples = api
                .scalar("count_over_time(up{job=\"pbx\"}[1m])")
                .unwrap_or(0.0);
            let reader = api
                .scalar("prom_rs_collector_up{collector=\"vicidial\"}")
                .unwrap_or(0.0);
            let poller = api
                .scalar("prom_rs_collector_up{collector=\"fail2ban\"}")
                .unwrap_or(0.0);
            let rules = loaded_rules(&api);
            samples >= 15.0
                && reader == 1.0
                && poller == 1.0
                && rules.len() == recording_rules + alert_rules
                && rules.iter().all(|r| r.3 != "unknown")
        },
    );

    // Every rule of both files loaded and evaluates without error against real data.
    let rules = loaded_rules(&api);
    let bad: Vec<String> = rules
        .iter()
        .filter(|r| r.3 != "ok" || !r.4.is_empty())
        .map(|r| format!("{} rule {}: health {}, {}", r.0, r.1, r.3, r.4))
        .collect();
    assert!(
        bad.is_empty(),
        "rules failing in Prometheus:\n{}",
        bad.join("\n")
    );

    let mut checks: Vec<Check> = Vec::new();
    for (kind, name, query, _, _) in rules.iter().filter(|r| r.0 == "recording") {
        checks.push(Check {
            what: format!("{kind} rule {name}"),
            expr: query.clone(),
        });
        checks.push(Check {
            what: format!("series recorded by {name}"),
            expr: name.clone(),
        });
    }
    let mut panels = 0;
    let mut problems = Vec::new();
    let mut seen_metrics = BTreeSet::new();
    let mut panel_queries = 0;
    for d in dashboards() {
        match check_dashboard(&d) {
            Ok(queries) => {
                panels += queries
                    .iter()
                    .map(|q| q.panel.as_str())
                    .collect::<BTreeSet<_>>()
                    .len();
                panel_queries += queries.len();
                for q in queries {
                    // `... or vector(0)` always returns something: each metric named must exist on its own too.
                    for name in metric_names(&q.expr) {
                        if seen_metrics.insert(name.clone()) {
                            checks.push(Check {
                                what: format!(
                                    "metric {name} of dashboard \"{}\", panel \"{}\"",
                                    q.dashboard, q.panel
                                ),
                                expr: format!("group({{__name__=\"{name}\"}})"),
                            });
                        }
                    }
                    checks.push(Check {
                        what: format!("dashboard \"{}\", panel \"{}\"", q.dashboard, q.panel),
                        expr: expand(&q.expr),
                    });
                }
            }
            Err(p) => problems.extend(p),
        }
        // The `server` variable: label_values(METRIC, server) must list our server.
        for v in d
            .json
            .path("templating.list")
            .map(Value::as_array)
            .unwrap_or(&[])
        {
            if let Some(args) = v
                .str_at("definition")
                .strip_prefix("label_values(")
                .and_then(|a| a.strip_suffix(')'))
            {
                let (metric, label) = args.split_once(',').expect("label_values(metric, label)");
                checks.push(Check {
                    what: format!(
                        "dashboard \"{}\", variable {}",
                        d.json.str_at("title"),
                        v.str_at("name")
                    ),
                    expr: format!(
                        "group by ({l}) ({m}{{{l}=\"{SERVER}\"}})",
                        m = metric.trim(),
                        l = label.trim()
                    ),
                });
            }
        }
    }
    assert!(problems.is_empty(), "dashboards:\n{}", problems.join("\n"));

    // Run everything; retry the empty ones for a while (a rare event may need a few more seconds of workload).
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut pending: Vec<&Check> = checks.iter().collect();
    let mut last: Vec<String> = Vec::new();
    loop {
        host.assert_running(&host_log);
        let mut still = Vec::new();
        last.clear();
        for c in pending {
            match api.query(&c.expr) {
                Ok(r) if !r.is_empty() => {}
                Ok(_) => {
                    last.push(format!("{}: no data from `{}`", c.what, c.expr));
                    still.push(c);
                }
                // A query Prometheus refuses is wrong for good: no retry.
                Err(e) => panic!("{}: Prometheus refused `{}`: {e}", c.what, c.expr),
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(
        last.is_empty(),
        "queries without data:\n{}",
        last.join("\n")
    );

    // One server label per series: the page's own server=... was dropped in favour of the target's; other
    // constant labels pass through.
    assert_eq!(
        api.query("count({exported_server!=\"\"})").unwrap().len(),
        0
    );
    assert_eq!(
        api.query(&format!("count({{job=\"pbx\",server!=\"{SERVER}\"}})"))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        api.scalar("count(asterisk_uptime_seconds{site=\"lab\"})"),
        Some(1.0)
    );

    let firing: BTreeSet<String> = api
        .query("ALERTS")
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                a.str_at("metric.alertname"),
                a.str_at("metric.alertstate")
            )
        })
        .collect();
    println!(
        "monitoring e2e: {} dashboards, {panels} panels: {panel_queries} panel queries, {} metrics and \
         {recording_rules} recording rules (expression and recorded series) returned data; {} rules evaluate \
         cleanly; alerts on the synthetic workload: {firing:?}; {:.0} s",
        dashboards().len(),
        seen_metrics.len(),
        rules.len(),
        started.elapsed().as_secs_f64()
    );
}
