//! Section 2: the same counter event from two threads at once (shared and distinct label sets), against one thread.

use super::baseline::Baseline;
use super::events::TS0;
use super::ffi::{Core, OK};
use super::timing::Summary;
use std::ffi::CStr;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Section 2's figures: one row per configuration, plus the machine's own two-thread ratio.
pub struct Scaling {
    /// The configurations.
    pub rows: Vec<Row>,
    /// Two threads of independent arithmetic (nothing shared) against one: 2.0 when the machine really gave the
    /// benchmark two cores during the run.
    pub control: f64,
}

/// Throughput of one configuration, both ways (events per second, median run).
pub struct Row {
    /// Threads and label sets.
    pub name: &'static str,
    /// Threads used.
    pub threads: usize,
    /// The core through the C ABI.
    pub ours: f64,
    /// The `prometheus` crate.
    pub base: f64,
}

/// Median events/s of `runs` runs in which each of `threads` threads calls `work(thread, i)` for `i in 0..iters`,
/// all released together. `work` returns a result code; any non-OK code fails the benchmark.
fn throughput(
    threads: usize,
    runs: usize,
    iters: usize,
    work: impl Fn(usize, usize) -> i32 + Sync,
) -> f64 {
    let mut rates = Vec::with_capacity(runs);
    for run in 0..=runs {
        let barrier = Barrier::new(threads + 1);
        let (elapsed, rc) = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (barrier, work) = (&barrier, &work);
                    s.spawn(move || {
                        barrier.wait();
                        (0..iters).fold(OK, |rc, i| rc | work(t, i))
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let rc = handles
                .into_iter()
                .fold(OK, |rc, h| rc | h.join().expect("worker"));
            (start.elapsed(), rc)
        });
        assert_eq!(rc, OK, "an event failed during the scaling run");
        if run > 0 {
            // Run 0 warms caches and the allocator up and is not counted.
            rates.push((threads * iters) as f64 / elapsed.as_secs_f64());
        }
    }
    Summary::of(&mut rates).p50
}

/// About 40 ns of arithmetic on registers only.
fn arithmetic(i: usize) -> u64 {
    (0..16).fold(i as u64 | 1, |x, _| {
        let x = x ^ (x << 13);
        let x = x ^ (x >> 7);
        x ^ (x << 17)
    })
}

/// Runs one thread, two threads on one label set, and two threads on two label sets.
pub fn run(core: &Core, base: &Baseline, runs: usize, iters: usize) -> Scaling {
    let labels: [&CStr; 2] = [c"ANSWER", c"BUSY"];
    let base_labels = ["ANSWER", "BUSY"];
    let cases: [(&'static str, usize, [usize; 2]); 3] = [
        ("1 thread, dial_result ANSWER", 1, [0, 0]),
        ("2 threads, same label set (ANSWER, ANSWER)", 2, [0, 0]),
        ("2 threads, distinct label sets (ANSWER, BUSY)", 2, [0, 1]),
    ];
    let mut rows = Vec::new();
    for (name, threads, pick) in cases {
        let ours = throughput(threads, runs, iters, |t, i| {
            core.dial_result(black_box(labels[pick[t]]), TS0 + i as i64)
        });
        let base_eps = throughput(threads, runs, iters, |t, _| {
            base.dial_result(black_box(base_labels[pick[t]]));
            OK
        });
        rows.push(Row {
            name,
            threads,
            ours,
            base: base_eps,
        });
        super::progress(&format!("  {name} done"));
    }
    let spin = |_: usize, i: usize| {
        black_box(arithmetic(black_box(i)));
        OK
    };
    let control = throughput(2, runs, iters, spin) / throughput(1, runs, iters, spin);
    Scaling { rows, control }
}
