//! Section 1: the event path on one thread, label sets already seen, through the C ABI and for the baseline.

use super::baseline::Baseline;
use super::ffi::{Core, OK};
use super::timing::{time_runs, EventTiming};
use std::ffi::{CStr, CString};
use std::hint::black_box;

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Timed runs per measurement (the median run is reported).
    pub runs: usize,
    /// Calls per run for single events.
    pub iters: usize,
    /// Lifecycles (3 events each) per run.
    pub lifecycles: usize,
}

/// One event kind measured both ways.
pub struct Row {
    /// What was measured.
    pub name: &'static str,
    /// Whether the 50 ns target applies (single counter events).
    pub counter: bool,
    /// The core through the C ABI.
    pub ours: EventTiming,
    /// The `prometheus` crate.
    pub base: EventTiming,
}

/// Base timestamp of generated events (µs since the epoch).
pub const TS0: i64 = 1_700_000_000_000_000;

/// Panics with the core's message when any call of a run failed (results are OR-ed together by the loops).
fn check(core: &Core, what: &str, rc: i32) {
    assert_eq!(rc, OK, "{what} failed: {}", core.last_error());
}

/// RTCP values that vary a little with `i`, so bucket choice is not constant.
fn rtcp_values(i: usize) -> (i32, f64, f64, f64, f64) {
    let dir = (i & 1) as i32;
    let jitter = 0.001 * (i % 50) as f64;
    let loss = 0.0005 * (i % 20) as f64;
    (
        dir,
        jitter,
        loss,
        0.02 + 0.001 * (i % 100) as f64,
        60.0 + (i % 40) as f64,
    )
}

/// Runs every single-thread measurement of section 1.
pub fn run(core: &Core, base: &Baseline, plan: Plan) -> Vec<Row> {
    let Plan { runs, iters, .. } = plan;
    let ts = |i: usize| TS0 + i as i64;
    let mut rows = Vec::new();

    let mut rc = OK;
    let answer = c"ANSWER";
    let ours = time_runs(runs, iters, 1, |i| {
        rc |= core.dial_result(black_box(answer), ts(i))
    });
    check(core, "prom_rs_dial_result", rc);
    let base_t = time_runs(runs, iters, 1, |_| base.dial_result(black_box("ANSWER")));
    rows.push(Row {
        name: "dial_result (1 counter, 1 label)",
        counter: true,
        ours,
        base: base_t,
    });
    super::progress("  dial_result done");

    let (svc, ev) = (c"PJSIP", c"InvalidPassword");
    let ours = time_runs(runs, iters, 1, |i| {
        rc |= core.security_event(black_box(svc), black_box(ev), ts(i))
    });
    check(core, "prom_rs_security_event", rc);
    let base_t = time_runs(runs, iters, 1, |_| {
        base.security_event(black_box("PJSIP"), black_box("invalid_password"))
    });
    rows.push(Row {
        name: "security_event (1 counter, 2 labels)",
        counter: true,
        ours,
        base: base_t,
    });
    super::progress("  security_event done");

    let (tech, ep) = (c"PJSIP", c"alice");
    let ours = time_runs(runs, iters, 1, |i| {
        let (d, j, l, r, m) = rtcp_values(i);
        rc |= core.rtcp_report(black_box(tech), black_box(ep), d, j, l, r, m, ts(i));
    });
    check(core, "prom_rs_rtcp_report", rc);
    let base_t = time_runs(runs, iters, 1, |i| {
        let (d, j, l, r, m) = rtcp_values(i);
        base.rtcp_report(
            black_box("PJSIP"),
            black_box("alice"),
            d as usize,
            j,
            l,
            r,
            m,
        );
    });
    rows.push(Row {
        name: "rtcp_report (4 histograms + 3 gauges)",
        counter: false,
        ours,
        base: base_t,
    });
    super::progress("  rtcp_report done");

    rows.push(lifecycle(core, base, plan));
    super::progress("  channel lifecycle done");
    rows
}

/// created (Down) + state Up + hangup, cycling through 1,024 uniqueids (the table is empty between cycles).
fn lifecycle(core: &Core, base: &Baseline, plan: Plan) -> Row {
    const IDS: usize = 1024;
    let uids: Vec<CString> = (0..IDS)
        .map(|i| CString::new(format!("1700000000.{i}")).unwrap())
        .collect();
    let uid_strs: Vec<&str> = uids.iter().map(|u| u.to_str().unwrap()).collect();
    let (tech, ep): (&CStr, &CStr) = (c"PJSIP", c"alice");
    let mut rc = OK;
    let ours = time_runs(plan.runs, plan.lifecycles, 3, |i| {
        let (uid, t0) = (uids[i % IDS].as_c_str(), TS0 + i as i64 * 1_000);
        rc |= core.channel_created(uid, tech, ep, 0, t0);
        rc |= core.channel_state(uid, 6, t0 + 2_000_000);
        rc |= core.channel_hangup(uid, tech, 16, t0, t0 + 62_000_000);
    });
    check(core, "channel lifecycle", rc);
    let base_t = time_runs(plan.runs, plan.lifecycles, 3, |i| {
        let (uid, t0) = (uid_strs[i % IDS], TS0 + i as i64 * 1_000);
        base.channel_created(uid, "PJSIP", "alice", 0, t0);
        base.channel_state(uid, 6, t0 + 2_000_000);
        base.channel_hangup(uid, "NORMAL_CLEARING", t0 + 62_000_000);
    });
    Row {
        name: "channel lifecycle (created + Up + hangup, per event)",
        counter: false,
        ours,
        base: base_t,
    }
}
