//! The three value types behind every series: counters, gauges and histograms.
//!
//! All of them are plain atomics updated with relaxed ordering: a scrape may see one update a little before another,
//! which Prometheus tolerates, and the event path never waits. Floats live in `AtomicU64` as their bit pattern and
//! are updated with a compare-and-swap loop, as prometheus-client does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Adds `delta` to an f64 stored as bits in `cell`.
fn add_f64(cell: &AtomicU64, delta: f64) {
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + delta).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => old = actual,
        }
    }
}

/// A monotonically increasing integer count.
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }
    /// Current value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (or is set outright). Also used for counters whose value the host owns
/// (e.g. `ast_processed_calls()`), which are set rather than incremented.
#[derive(Debug, Default)]
pub struct Gauge {
    bits: AtomicU64,
}

impl Gauge {
    /// Replaces the value.
    pub fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }
    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: f64) {
        add_f64(&self.bits, delta);
    }
    /// Current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

/// Upper bounds of a histogram's buckets, strictly increasing and finite; `+Inf` is implicit.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Arc<[f64]>);

impl Buckets {
    /// Builds a bucket layout. Returns an error text when the bounds are empty, not finite or not increasing.
    pub fn new(bounds: &[f64]) -> Result<Buckets, String> {
        if bounds.is_empty() {
            return Err("at least one bucket bound is needed".into());
        }
        if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
            return Err(format!(
                "bucket bound {b} is not a finite number (+Inf is added by itself)"
            ));
        }
        if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!(
                "bucket bounds must be strictly increasing, but {} is followed by {}",
                w[0], w[1]
            ));
        }
        Ok(Buckets(bounds.into()))
    }
    /// The finite upper bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }
}

/// A histogram: per-bucket counts (not cumulative in memory), their sum and the count.
#[derive(Debug)]
pub struct Histogram {
    buckets: Buckets,
    /// One slot per finite bound plus one for `+Inf`.
    counts: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

/// A consistent-enough reading of a histogram for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per finite bound.
    pub cumulative: Vec<(f64, u64)>,
    /// Total observations (the `+Inf` bucket and `_count`).
    pub count: u64,
    /// Sum of observed values.
    pub sum: f64,
}

impl Histogram {
    /// An empty histogram with the given layout.
    pub fn new(buckets: &Buckets) -> Histogram {
        let counts = (0..=buckets.bounds().len())
            .map(|_| AtomicU64::new(0))
            .collect();
        Histogram {
            buckets: buckets.clone(),
            counts,
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }
    /// Records one observation. NaN is ignored (it would poison the sum forever).
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let idx = self.buckets.bounds().partition_point(|b| *b < v);
        self.counts[idx].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.sum_bits, v);
    }
    /// Replaces every count and the sum with a reading taken elsewhere (a host's own store): `counts` holds one
    /// count per finite bound and one for `+Inf`, not cumulative.
    pub fn set(&self, counts: &[u64], sum: f64) -> Result<(), String> {
        if counts.len() != self.counts.len() {
            return Err(format!(
                "{} bucket counts given, the layout has {} (its bounds and +Inf)",
                counts.len(),
                self.counts.len()
            ));
        }
        for (cell, c) in self.counts.iter().zip(counts) {
            cell.store(*c, Ordering::Relaxed);
        }
        self.sum_bits.store(sum.to_bits(), Ordering::Relaxed);
        Ok(())
    }
    /// The layout this histogram was made with.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }
    /// Reads the counts. The count is derived from the buckets so `+Inf` always equals `_count`.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut acc = 0u64;
        let mut cumulative = Vec::with_capacity(self.buckets.bounds().len());
        for (bound, c) in self.buckets.bounds().iter().zip(self.counts.iter()) {
            acc += c.load(Ordering::Relaxed);
            cumulative.push((*bound, acc));
        }
        acc += self.counts[self.counts.len() - 1].load(Ordering::Relaxed);
        HistogramSnapshot {
            cumulative,
            count: acc,
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_places_values_in_le_buckets() {
        let h = Histogram::new(&Buckets::new(&[1.0, 5.0]).unwrap());
        for v in [0.5, 1.0, 3.0, 5.0, 7.0, f64::NAN] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![(1.0, 2), (5.0, 4)]);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 16.5);
    }

    #[test]
    fn buckets_are_validated() {
        assert!(Buckets::new(&[]).is_err());
        assert!(Buckets::new(&[1.0, 1.0])
            .unwrap_err()
            .contains("strictly increasing"));
        assert!(Buckets::new(&[1.0, f64::INFINITY]).is_err());
    }

    #[test]
    fn gauge_adds_concurrently() {
        let g = Arc::new(Gauge::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| g.add(1.0)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(g.get(), 40_000.0);
    }
}
