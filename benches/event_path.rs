//! `make bench`: measures the core through its C ABI, as a host calls it, against the `prometheus` crate doing the
//! same work, and writes BENCHMARKS.md.
//!
//! Sections: (1) event path on one thread, (2) two-thread scaling, (3) full-page render at 10k and 100k series,
//! (4) scrape latency under event load, (5) resident memory of the reference host at 10k series, (6) the ViciDial
//! reader's poll and the scrape during a poll (a private MariaDB; skipped with the reason when none can start),
//! (7) this build against an earlier commit's build (`BENCH_BASE_LIB`), (8) events during a slow reload, (9) big pages
//! (a small scrape during full renders, memory with slow readers) against the same earlier build.
//!
//! Environment: `PROM_RS_LIB` (the cdylib, default `target/release/libres_prom_rs.so`), `PROM_RS_HOST` (default
//! `build/prom_host`), `BENCH_REPORT` (output, default `BENCHMARKS.md` in the crate root), `BENCH_BASE_LIB` and `BENCH_BASE` (the
//! earlier build for section 7 and its commit), `BENCH_QUICK=1` (a tenth
//! of the iterations, for trying changes; do not publish those figures), `BENCH_SECTIONS=9` (section 9 alone, put in
//! place in the existing report).

// Calls the built library's C ABI through dlopen: unsafe by nature (Cargo.toml denies it elsewhere).
#![allow(unsafe_code)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;
use support::baseline::Baseline;
use support::events::Plan;
use support::ffi::{lib_path, Api};
use support::http::{free_port, loopback};
use support::machine::{CpuMeter, Machine};
use support::render::BaselinePage;
use support::report::Results;
use support::{events, host, progress, render, scaling, scrape};

/// Series for the render, load and memory sections.
const SMALL: usize = 10_000;
const LARGE: usize = 100_000;

fn main() {
    let started = Instant::now();
    let meter = CpuMeter::start();
    let quick = std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0");
    let scale = if quick { 10 } else { 1 };
    let plan = Plan {
        runs: 5,
        iters: 2_000_000 / scale,
        lifecycles: 500_000 / scale,
    };
    let lib = lib_path();
    let api = Api::load(&lib).unwrap_or_else(|e| panic!("{e} (run `make` first)"));
    if std::env::var("BENCH_SECTIONS").as_deref() == Ok("9") {
        only_section_9(&api, quick);
        return;
    }
    let machine = Machine::probe();
    let port = || free_port().expect("a free port on 127.0.0.1");

    progress("[1/5] event path, one thread");
    let base = Baseline::new();
    let core = api.start(port(), &[]).expect("core start");
    let event_rows = events::run(&core, &base, plan);

    progress("[2/5] two-thread scaling");
    let scaling_rows = scaling::run(&core, &base, plan.runs, plan.iters);
    drop(core);

    progress("[3/5] render at 10k and 100k series");
    let big_cap = [("max_series_per_family", "200000")];
    let render_port = port();
    let core = api.start(render_port, &big_cap).expect("core start");
    let mut base_page = BaselinePage::default();
    let mut render_rows = Vec::new();
    for (series, scrapes) in [(SMALL, 50), (LARGE, 15)] {
        let have = render_rows.last().map_or(0, |r: &render::Row| r.series);
        render::fill(&core, have, series);
        base_page.grow_to(series);
        render_rows.push(render::measure(
            loopback(render_port),
            series,
            scrapes,
            &base_page,
        ));
        progress(&format!("  {series} series done"));
    }
    drop((core, base_page));

    progress("[4/5] scrape latency at 10k series under event load");
    let load_port = port();
    let core = api.start(load_port, &big_cap).expect("core start");
    render::fill(&core, 0, SMALL);
    let scrape_rows = scrape::run(&core, loopback(load_port), 200);
    drop(core);

    progress("[5/5] reference host memory at 10k series");
    let host_result = host_memory(&host::host_path(), &lib);
    if let Err(e) = &host_result {
        progress(&format!("  not run: {e}"));
    }

    // The noise figure covers sections 1-5 only: section 6 runs its own MariaDB, which counts as another process.
    let measured_secs = started.elapsed().as_secs_f64();
    let others_cpu_secs = meter.others_secs();

    progress("[6] ViciDial reader against a private MariaDB");
    let vicidial = support::vicidial::section(&api, quick);

    progress("[7] this build against an earlier commit's build");
    let previous = support::previous::section(&api, 7, plan.iters);
    progress("[8] events during a slow reload");
    let reload = support::previous::reload_section(&api);
    progress("[9] big pages against an earlier commit's build");
    let bigpage = support::bigpage::section(&api, quick);

    let results = Results {
        events: event_rows,
        plan,
        scaling: scaling_rows,
        render: render_rows,
        scrape: scrape_rows,
        scrape_series: SMALL,
        host: host_result,
        lib: lib.display().to_string(),
        wall_secs: started.elapsed().as_secs_f64(),
        measured_secs,
        others_cpu_secs,
    };
    let out = std::env::var_os("BENCH_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
    // The in-Asterisk figures need a locally built Asterisk (tests/asterisk/bench.py writes them); they are carried
    // over from their own file so that a run here does not drop them.
    let asterisk = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asterisk/BENCHMARKS.asterisk.md"),
    )
    .map(|t| format!("\n{t}"))
    .unwrap_or_default();
    // Likewise the in-Kamailio figures of the script metrics (tests/kamailio/bench_script.py, run by `make bench`
    // before this where Kamailio is installed).
    let kamailio = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/BENCHMARKS.script.md"),
    )
    .map(|t| format!("\n{t}"))
    .unwrap_or_default();
    let text = support::report::markdown(&machine, &results)
        + &vicidial
        + &previous
        + &reload
        + &bigpage
        + &asterisk
        + &kamailio;
    std::fs::write(&out, &text).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    print!("{text}");
    progress(&format!(
        "wrote {} in {:.0} s",
        out.display(),
        results.wall_secs
    ));
    // Warn above 10% of the CPU time the machine had (kernel threads serving loopback traffic count as "other").
    if results.others_cpu_secs > 0.1 * results.measured_secs * machine.cores as f64 {
        progress(&format!(
            "warning: other processes used {:.1} CPU-seconds during sections 1-5; figures may be noisy",
            results.others_cpu_secs
        ));
    }
}

/// Runs the host with no endpoints, then with enough for [`SMALL`] series, in a scratch directory.
fn host_memory(host_bin: &Path, lib: &Path) -> Result<(host::HostRun, host::HostRun), String> {
    if !host_bin.exists() {
        return Err(format!(
            "{} does not exist (build it with `make`)",
            host_bin.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("prom_rs_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = (|| {
        let idle = host::measure(host_bin, lib, &dir, 0)?;
        progress("  idle host done");
        let full = host::measure(host_bin, lib, &dir, SMALL / host::SERIES_PER_ENDPOINT)?;
        progress("  loaded host done");
        Ok((idle, full))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `BENCH_SECTIONS=9`: run section 9 alone and put it in place of the report's section 9 (or before the in-Asterisk
/// figures), leaving the other sections as they were.
fn only_section_9(api: &Api, quick: bool) {
    progress("[9] big pages against an earlier commit's build (alone)");
    let section = support::bigpage::section(api, quick);
    let out = std::env::var_os("BENCH_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
    let old = std::fs::read_to_string(&out).unwrap_or_default();
    let tail_at = old.find("\n## Inside Asterisk").unwrap_or(old.len());
    let start = old.find("\n## 9. ").unwrap_or(tail_at);
    let text = format!("{}{}{}", &old[..start], section, &old[tail_at..]);
    std::fs::write(&out, &text).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    print!("{section}");
}
