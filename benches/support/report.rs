//! BENCHMARKS.md: the machine, the method, and one table per section.

use super::machine::Machine;
use super::{events, host, render, scaling, scrape};
use std::fmt::Write as _;

/// Event-path target for counter events whose label set was seen before, ns/event.
pub const EVENT_TARGET_NS: f64 = 50.0;
/// Render target, ns per series.
pub const RENDER_TARGET_NS: f64 = 300.0;

/// Everything measured in one run (a section is `Err` with the reason when it could not run).
pub struct Results {
    /// Section 1.
    pub events: Vec<events::Row>,
    /// Section 1 iterations.
    pub plan: events::Plan,
    /// Section 2.
    pub scaling: scaling::Scaling,
    /// Section 3.
    pub render: Vec<render::Row>,
    /// Section 4.
    pub scrape: Vec<scrape::Row>,
    /// Section 4 series on the page.
    pub scrape_series: usize,
    /// Section 5: idle and loaded host runs.
    pub host: Result<(host::HostRun, host::HostRun), String>,
    /// Library measured.
    pub lib: String,
    /// Wall time of the whole run, seconds.
    pub wall_secs: f64,
    /// Wall time of sections 1-5, seconds.
    pub measured_secs: f64,
    /// CPU seconds other processes used during sections 1-5.
    pub others_cpu_secs: f64,
}

fn verdict(value: f64, target: f64) -> String {
    if value <= target {
        format!("met ({value:.1} <= {target:.0})")
    } else {
        format!(
            "MISSED by {:.1} ({:.0}% over {target:.0})",
            value - target,
            (value / target - 1.0) * 100.0
        )
    }
}

fn section_events(out: &mut String, r: &Results) {
    let p = r.plan;
    let _ = writeln!(
        out,
        "## 1. Event path, one thread, label set already seen\n"
    );
    let _ = writeln!(
        out,
        "ns/event: median of {} runs of {} calls ({} lifecycles of 3 events for the channel row), after a warm-up; \
         p99 is over the means of 1,000-call batches of all runs (one call is too short to time alone). \
         Ratio = res_prom_rs / prometheus (below 1: res_prom_rs is faster).\n",
        p.runs, p.iters, p.lifecycles
    );
    let _ = writeln!(
        out,
        "| event | res_prom_rs median | p99 | prometheus median | p99 | ratio |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for row in &r.events {
        let _ = writeln!(
            out,
            "| {} | {:.1} ns | {:.1} ns | {:.1} ns | {:.1} ns | {:.2} |",
            row.name,
            row.ours.median,
            row.ours.p99_batch,
            row.base.median,
            row.base.p99_batch,
            row.ours.median / row.base.median
        );
    }
    let _ = writeln!(
        out,
        "\nTarget <= {EVENT_TARGET_NS:.0} ns/event for counter events:"
    );
    for row in r.events.iter().filter(|r| r.counter) {
        let _ = writeln!(
            out,
            "- {}: {}",
            row.name,
            verdict(row.ours.median, EVENT_TARGET_NS)
        );
    }
    let _ = writeln!(out, "\nRuns (ns/event, in order):\n");
    for row in &r.events {
        let f = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "- {}: res_prom_rs {}; prometheus {}",
            row.name,
            f(&row.ours.runs),
            f(&row.base.runs)
        );
    }
    let _ = writeln!(out);
}

fn section_scaling(out: &mut String, r: &Results) {
    let _ = writeln!(
        out,
        "## 2. Scaling: the same counter event from two threads\n"
    );
    let _ = writeln!(
        out,
        "`prom_rs_dial_result` (baseline: `IntCounterVec::with_label_values(..).inc()`), {} calls per thread per \
         run, median of {} runs; threads released together by a barrier. Total events/s and ratio to one thread.\n",
        r.plan.iters, r.plan.runs
    );
    let _ = writeln!(
        out,
        "| case | res_prom_rs events/s | vs 1 thread | prometheus events/s | vs 1 thread |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let one = r.scaling.rows.iter().find(|s| s.threads == 1);
    for s in &r.scaling.rows {
        let (o1, b1) = one.map_or((f64::NAN, f64::NAN), |o| (o.ours, o.base));
        let _ = writeln!(
            out,
            "| {} | {:.1} M | {:.2}x | {:.1} M | {:.2}x |",
            s.name,
            s.ours / 1e6,
            s.ours / o1,
            s.base / 1e6,
            s.base / b1
        );
    }
    let _ = writeln!(
        out,
        "\nControl: two threads of register-only arithmetic (nothing shared) ran {:.2}x the one-thread rate in this \
         run (2.00 means the machine really gave the benchmark two cores).\n",
        r.scaling.control
    );
}

fn section_render(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## 3. Render a full page\n");
    let _ = writeln!(
        out,
        "res_prom_rs: `GET /metrics` over loopback, fresh connection each, timed from connect to last byte (nothing \
         subtracted); filled with `prom_rs_stat_set` (one gauge family, one label, `max_series_per_family` = \
         200000). prometheus: `TextEncoder::encode(&registry.gather())` in-process on a registry with the same \
         family and label values (no HTTP). ns/series = median time / series filled. First byte: connect to the \
         first response byte; the core renders the whole page before it sends, so this is mostly render time and \
         the rest is the transfer. The res_prom_rs page also carries its own metrics (sample lines column).\n"
    );
    let _ = writeln!(
        out,
        "| series | scrapes | res_prom_rs median | p99 | ns/series | first byte (median) | page bytes (sample lines) | prometheus median | p99 | ns/series | page bytes | ratio |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for x in &r.render {
        let ns = |ms: f64| ms * 1e6 / x.series as f64;
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {} ({}) | {:.2} ms | {:.2} ms | {:.0} | {} | {:.2} |",
            x.series,
            x.ours.n,
            x.ours.p50,
            x.ours.p99,
            ns(x.ours.p50),
            x.first_byte.p50,
            x.bytes,
            x.page_lines,
            x.base.p50,
            x.base.p99,
            ns(x.base.p50),
            x.base_bytes,
            x.ours.p50 / x.base.p50
        );
    }
    let _ = writeln!(out, "\nTarget <= {RENDER_TARGET_NS:.0} ns/series:");
    for x in &r.render {
        let _ = writeln!(
            out,
            "- {} series: {}",
            x.series,
            verdict(x.ours.p50 * 1e6 / x.series as f64, RENDER_TARGET_NS)
        );
    }
    let _ = writeln!(out, "\np99 is the nearest-rank 99th percentile, i.e. the slowest scrape at these sample counts.\n");
}

fn section_scrape(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## 4. Scrape latency under event load\n");
    let _ = writeln!(
        out,
        "{} series on the page; two threads push dial_result / security_event / rtcp_report in a loop through the \
         C ABI while {} scrapes are taken back to back, per mode. Time from request (connect, for fresh \
         connections) to last byte. With 2 cores, the pushers, the core's HTTP thread and the client compete for \
         CPU.\n",
        r.scrape_series,
        r.scrape.first().map_or(0, |s| s.latency.n)
    );
    let _ = writeln!(
        out,
        "| mode | p50 | p99 | max | events/s pushed meanwhile |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for s in &r.scrape {
        let _ = writeln!(
            out,
            "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} M |",
            s.mode,
            s.latency.p50,
            s.latency.p99,
            s.latency.max,
            s.events_per_sec / 1e6
        );
    }
    let _ = writeln!(out);
}

fn section_host(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## 5. Resident memory of the reference host\n");
    match &r.host {
        Err(why) => {
            let _ = writeln!(out, "Not run: {why}\n");
        }
        Ok((idle, full)) => {
            let _ = writeln!(
                out,
                "`build/prom_host --config <generated> --replay <trace> --lib <library>`; the trace has one \
                 endpoint_state and one endpoint_contact line per endpoint ({} series each). VmRSS read from \
                 /proc/PID/status after the host printed `replay done`, and again after one scrape; then SIGTERM.\n",
                host::SERIES_PER_ENDPOINT
            );
            let _ = writeln!(
                out,
                "| endpoints | events (errors) | sample lines on page | VmRSS after replay | after 1 scrape | VmHWM | replay wall time |"
            );
            let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
            for h in [idle, full] {
                let _ = writeln!(
                    out,
                    "| {} | {} ({}) | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.2} s |",
                    h.endpoints,
                    h.events,
                    h.errors,
                    h.page_lines,
                    h.rss_kb as f64 / 1024.0,
                    h.rss_after_scrape_kb as f64 / 1024.0,
                    h.hwm_kb as f64 / 1024.0,
                    h.replay_secs
                );
            }
            let added = full.page_lines.saturating_sub(idle.page_lines).max(1);
            let per = (full.rss_kb as f64 - idle.rss_kb as f64) * 1024.0 / added as f64;
            let _ = writeln!(
                out,
                "\nGrowth: {:.1} MiB for {added} more sample lines, about {per:.0} bytes of RSS per series (after \
                 replay, before any scrape).\n",
                (full.rss_kb as f64 - idle.rss_kb as f64) / 1024.0
            );
        }
    }
}

/// The whole file.
pub fn markdown(m: &Machine, r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `make bench` (`benches/event_path.rs`), which replaces this file on every run. One run on one \
         machine: compare ratios more than absolute numbers.\n"
    );
    let _ = writeln!(out, "- Date: {}", m.date);
    let _ = writeln!(out, "- CPU: {} ({} cores available)", m.cpu, m.cores);
    let _ = writeln!(out, "- Kernel: {}", m.kernel);
    let _ = writeln!(out, "- Toolchain: {}", m.rustc);
    let _ = writeln!(out, "- Load average at start: {}", m.load);
    let _ = writeln!(
        out,
        "- Library: `{}`, loaded with dlopen (libloading); every call goes through the C ABI",
        r.lib
    );
    let _ = writeln!(
        out,
        "- Baseline: `prometheus` crate 0.14 in the same process and run, called directly with `&str` (no C strings, \
         no panic boundary, no self-count of events)"
    );
    let _ = writeln!(
        out,
        "- Sections 1-5: {:.0} s; other processes used {:.1} CPU-seconds meanwhile (of {:.0} available: {:.0}%). \
         Whole run: {:.0} s\n",
        r.measured_secs,
        r.others_cpu_secs,
        r.measured_secs * m.cores as f64,
        100.0 * r.others_cpu_secs / (r.measured_secs * m.cores.max(1) as f64),
        r.wall_secs
    );
    section_events(&mut out, r);
    section_scaling(&mut out, r);
    section_render(&mut out, r);
    section_scrape(&mut out, r);
    section_host(&mut out, r);
    out
}
