//! Timing helpers: repeated runs of a loop with per-batch timestamps, and order statistics over samples.

use std::time::{Duration, Instant};

/// Iterations timed together; a batch mean is the unit of the tail figures (one call is too short to time alone).
pub const BATCH: usize = 1_000;

/// Median and tail of a set of samples (any unit).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// 50th percentile.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub n: usize,
}

impl Summary {
    /// Order statistics of `samples` (which it sorts). Panics on an empty set.
    pub fn of(samples: &mut [f64]) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_by(f64::total_cmp);
        Summary {
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
            n: samples.len(),
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Result of [`time_runs`], in nanoseconds per event.
#[derive(Debug, Clone)]
pub struct EventTiming {
    /// Mean ns/event of the median run.
    pub median: f64,
    /// 99th percentile of the per-batch means (batches of [`BATCH`] iterations), over all runs.
    pub p99_batch: f64,
    /// Mean ns/event of every run, in run order.
    pub runs: Vec<f64>,
}

/// Runs `body(i)` for `i in 0..iters`, `runs` times after a shorter warm-up, timing each batch of [`BATCH`]
/// iterations. `events_per_iter` converts iterations into events (3 for a channel lifecycle).
pub fn time_runs(
    runs: usize,
    iters: usize,
    events_per_iter: usize,
    mut body: impl FnMut(usize),
) -> EventTiming {
    assert!(
        iters.is_multiple_of(BATCH),
        "iterations must be a multiple of {BATCH}"
    );
    let per_batch = (BATCH * events_per_iter) as f64;
    (0..iters / 10).for_each(&mut body);
    let mut run_means = Vec::with_capacity(runs);
    let mut batches = Vec::with_capacity(runs * iters / BATCH);
    for _ in 0..runs {
        let start = Instant::now();
        let mut mark = start;
        for b in 0..iters / BATCH {
            for i in b * BATCH..(b + 1) * BATCH {
                body(i);
            }
            let now = Instant::now();
            batches.push((now - mark).as_nanos() as f64 / per_batch);
            mark = now;
        }
        run_means.push((mark - start).as_nanos() as f64 / (iters * events_per_iter) as f64);
    }
    let runs_in_order = run_means.clone();
    EventTiming {
        median: Summary::of(&mut run_means).p50,
        p99_batch: Summary::of(&mut batches).p99,
        runs: runs_in_order,
    }
}

/// Times `f` `n` times (after one untimed call) and returns the durations in milliseconds.
pub fn time_each<T>(n: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut last = f();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        last = f();
        out.push(ms(start.elapsed()));
    }
    (out, last)
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
