//! Section 6: the ViciDial reader against a private MariaDB (the test suite's server helper) holding 500 logged-in
//! agents and 2,000 dialer calls: the time of one poll, the scrape time of the page it produces, and the scrape time
//! while a poll is running compared with between polls.
//!
//! "While a poll is running" is made long on purpose: `vicidial_auto_calls` becomes a view that sleeps 300 ms once
//! per query, so a third of every 1 s interval is spent inside a poll. Each scrape is classified afterwards by whether
//! it started inside a poll (from the last-success timestamp and duration each page reports).

#[allow(dead_code)]
#[path = "../../tests/vicidial/server.rs"]
mod server;

use super::ffi::Api;
use super::http::{free_port, get_fresh, loopback};
use super::progress;
use super::timing::{ms, Summary};
use server::{MariaDb, Schema, PASSWORD, USER};
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const AGENTS: usize = 500;
const AUTO_CALLS: usize = 2_000;
/// Closer calls in the last hour (every other one with a recording).
const CLOSER_CALLS: usize = 1_000;
const DB: &str = "bench_vicidial";

/// What was measured.
struct Figures {
    first_poll_ms: f64,
    polls: Summary,
    scrape_idle: Summary,
    scrape_in_poll: Summary,
    page_bytes: usize,
    vicidial_series: usize,
    slow_poll_ms: f64,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn value(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

const LAST: &str = "prom_rs_collector_last_success_timestamp_seconds{collector=\"vicidial\"}";
const TOOK: &str = "prom_rs_collector_duration_seconds{collector=\"vicidial\"}";

fn fill(server: &MariaDb) {
    server.create_database(DB, Schema::Current);
    let statuses = [
        "READY", "QUEUE", "INCALL", "INCALL", "INCALL", "PAUSED", "CLOSER",
    ];
    let codes = ["LUNCH", "BREAK", "TRAIN", ""];
    let agents: Vec<String> = (0..AGENTS)
        .map(|i| {
            format!(
                "('agent{i:04}', '10.0.0.1', 'SIP/{}', '{}', {}, 'CAMP{:02}', NOW() - INTERVAL {} SECOND, '{}')",
                1000 + i,
                statuses[i % statuses.len()],
                if i % 11 == 0 { 7000 + i } else { 0 },
                i % 10,
                i % 900,
                if statuses[i % statuses.len()] == "PAUSED" { codes[i % codes.len()] } else { "" }
            )
        })
        .collect();
    let call_statuses = ["LIVE", "SENT", "RINGING", "XFER", "CLOSER", "IVR"];
    let calls: Vec<String> = (0..AUTO_CALLS)
        .map(|i| {
            format!(
                "('10.0.0.1', 'CAMP{:02}', '{}', {}, '1', '555{:07}', NOW())",
                i % 20,
                call_statuses[i % call_statuses.len()],
                i,
                i
            )
        })
        .collect();
    let reasons = ["CALLER", "AGENT", "ABANDON", "QUEUETIMEOUT"];
    let closer: Vec<String> = (0..CLOSER_CALLS)
        .map(|i| {
            format!(
                "({i}, 'IN{:02}', NOW() - INTERVAL {} SECOND, {}, 'SALE', '555{:07}', {}.5, '{}')",
                i % 8,
                i * 3 % 3500,
                5 + i % 300,
                i,
                i % 90,
                reasons[i % reasons.len()]
            )
        })
        .collect();
    let recordings: Vec<String> = (0..CLOSER_CALLS)
        .step_by(2)
        .map(|i| {
            format!(
                "('SIP/x', '10.0.0.1', NOW(), 60, 'rec{i}', {i}, '{}')",
                i + 1
            )
        })
        .collect();
    server.exec(
        DB,
        &[
            &format!(
                "INSERT INTO vicidial_live_agents (user, server_ip, extension, status, lead_id, campaign_id, \
                 last_state_change, pause_code) VALUES {}",
                agents.join(",")
            ),
            &format!(
                "INSERT INTO vicidial_auto_calls (server_ip, campaign_id, status, lead_id, phone_code, phone_number, \
                 call_time) VALUES {}",
                calls.join(",")
            ),
            &format!(
                "INSERT INTO vicidial_closer_log (lead_id, campaign_id, call_date, length_in_sec, status, \
                 phone_number, queue_seconds, term_reason) VALUES {}",
                closer.join(",")
            ),
            &format!(
                "INSERT INTO recording_log (channel, server_ip, start_time, length_in_sec, filename, lead_id, \
                 vicidial_id) VALUES {}",
                recordings.join(",")
            ),
        ],
    );
}

/// Scrapes until `n` distinct polls were seen; returns each poll's duration (ms) in order and the last page.
fn poll_durations(port: u16, n: usize) -> Result<(Vec<f64>, String), String> {
    let deadline = Instant::now() + Duration::from_secs(5 + 2 * n as u64);
    let (mut seen, mut out, mut page) = (0.0, Vec::new(), String::new());
    while out.len() < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} polls seen; page:\n{}",
                out.len(),
                page.lines()
                    .filter(|l| l.contains("vicidial\""))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        page = String::from_utf8_lossy(
            &get_fresh(loopback(port), "/metrics")
                .map_err(|e| e.to_string())?
                .body,
        )
        .into_owned();
        let last = value(&page, LAST).unwrap_or(0.0);
        if last > seen {
            seen = last;
            out.push(value(&page, TOOK).unwrap_or(f64::NAN) * 1e3);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((out, page))
}

fn measure(api: &Api, server: &MariaDb, quick: bool) -> Result<Figures, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let db_port = server.port.to_string();
    let core = api.start(
        port,
        &[
            ("vicidial.enabled", "yes"),
            ("vicidial.host", "127.0.0.1"),
            ("vicidial.port", &db_port),
            ("vicidial.user", USER),
            ("vicidial.password", PASSWORD),
            ("vicidial.database", DB),
            ("vicidial.interval", "1s"),
            ("vicidial.query_timeout", "900ms"),
        ],
    )?;
    let polls = if quick { 4 } else { 11 };
    let (mut durations, page) = poll_durations(port, polls)?;
    let first_poll_ms = durations.remove(0);
    let vicidial_series = page.lines().filter(|l| l.starts_with("vicidial_")).count();
    let page_bytes = page.len();

    // Make every poll last 300 ms longer (one SLEEP per query on the dialer table), then scrape for a while.
    server.exec(
        DB,
        &[
            "RENAME TABLE vicidial_auto_calls TO auto_calls_real",
            "CREATE VIEW vicidial_auto_calls AS SELECT a.* FROM auto_calls_real a \
             JOIN (SELECT SLEEP(0.3) AS s) pause",
        ],
    );
    let run_for = Duration::from_secs(if quick { 4 } else { 12 });
    let start = Instant::now();
    let mut scrapes: Vec<(f64, f64)> = Vec::new();
    let mut polls_seen: Vec<(f64, f64)> = Vec::new();
    while start.elapsed() < run_for {
        let at = unix_now();
        let t = Instant::now();
        let fetched = get_fresh(loopback(port), "/metrics").map_err(|e| e.to_string())?;
        scrapes.push((at, ms(t.elapsed())));
        let page = String::from_utf8_lossy(&fetched.body);
        if let (Some(end), Some(took)) = (value(&page, LAST), value(&page, TOOK)) {
            if took > 0.25 && !matches!(polls_seen.last(), Some(p) if p.0 == end) {
                polls_seen.push((end, took));
            }
        }
        std::thread::sleep(Duration::from_millis(7));
    }
    drop(core);
    server.exec(
        DB,
        &[
            "DROP VIEW vicidial_auto_calls",
            "RENAME TABLE auto_calls_real TO vicidial_auto_calls",
        ],
    );
    let inside = |at: f64| {
        polls_seen
            .iter()
            .any(|(end, took)| at >= end - took && at <= *end)
    };
    let (mut in_poll, mut idle): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (at, took) in scrapes {
        if inside(at) {
            in_poll.push(took);
        } else {
            idle.push(took);
        }
    }
    if in_poll.is_empty() || idle.is_empty() {
        return Err(format!(
            "no scrape fell {} a poll",
            if in_poll.is_empty() {
                "inside"
            } else {
                "outside"
            }
        ));
    }
    let slow_poll_ms = polls_seen.iter().map(|p| p.1 * 1e3).sum::<f64>() / polls_seen.len() as f64;
    Ok(Figures {
        first_poll_ms,
        polls: Summary::of(&mut durations),
        scrape_idle: Summary::of(&mut idle),
        scrape_in_poll: Summary::of(&mut in_poll),
        page_bytes,
        vicidial_series,
        slow_poll_ms,
    })
}

/// Runs the section and returns its markdown (a "skipped" note with the reason when no MariaDB can be started).
pub fn section(api: &Api, quick: bool) -> String {
    let mut out = String::from("## 6. ViciDial reader\n\n");
    let result = match server::unavailable() {
        Some(why) => Err(why),
        None => std::panic::catch_unwind(|| {
            let server = MariaDb::start();
            fill(&server);
            measure(api, &server, quick)
        })
        .unwrap_or_else(|_| {
            Err("the private MariaDB could not be started (see the panic above)".into())
        }),
    };
    let f = match result {
        Ok(f) => f,
        Err(why) => {
            progress(&format!("  vicidial section skipped: {why}"));
            let _ = writeln!(out, "Skipped: {why}\n");
            return out;
        }
    };
    let _ = writeln!(
        out,
        "A private MariaDB on loopback (TCP) with {AGENTS} logged-in agents in 10 campaigns, {AUTO_CALLS} \
         `vicidial_auto_calls` rows and {CLOSER_CALLS} closer calls of the last hour (half with a recording). The \
         reader polls every 1 s; a poll's time is `prom_rs_collector_duration_seconds` (four queries and building \
         the snapshot; the first poll includes connecting). Scrapes: `GET /metrics` over a fresh loopback \
         connection, connect to last byte.\n"
    );
    let _ = writeln!(out, "| measure | median | p99 | max | n |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| first poll (connect included) | {:.2} ms | | | 1 |",
        f.first_poll_ms
    );
    let row = |out: &mut String, what: &str, s: &Summary| {
        let _ = writeln!(
            out,
            "| {what} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            s.p50, s.p99, s.max, s.n
        );
    };
    row(&mut out, "one poll (connection kept)", &f.polls);
    row(&mut out, "scrape between polls", &f.scrape_idle);
    row(
        &mut out,
        &format!(
            "scrape while a poll runs (poll slowed to {:.0} ms)",
            f.slow_poll_ms
        ),
        &f.scrape_in_poll,
    );
    let _ = writeln!(
        out,
        "\nThe page had {} `vicidial_*` sample lines ({} bytes in all). The scrape renders the latest complete \
         snapshot under a mutex held only to clone an `Arc`, so a poll in progress does not change its time: \
         median {:.2} ms while a poll runs vs {:.2} ms between polls.\n",
        f.vicidial_series, f.page_bytes, f.scrape_in_poll.p50, f.scrape_idle.p50
    );
    out
}
