//! The health every pulling collector reports: up, last success, and how long the last attempt took. The
//! collector's thread writes it; the page reads it (`prom_rs_collector_*`).

use crate::clock::unix_now;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Health of one pulling collector, updated by its own thread.
#[derive(Debug)]
pub struct CollectorHealth {
    name: &'static str,
    up: AtomicBool,
    last_success_bits: AtomicU64,
    /// Seconds the last attempt took, as f64 bits; `NO_DURATION` until one is recorded.
    duration_bits: AtomicU64,
}

/// Bits no finite duration has: "not measured yet".
const NO_DURATION: u64 = u64::MAX;

impl CollectorHealth {
    /// A collector that has not succeeded yet.
    pub fn new(name: &'static str) -> Arc<CollectorHealth> {
        Arc::new(CollectorHealth {
            name,
            up: AtomicBool::new(false),
            last_success_bits: AtomicU64::new(0),
            duration_bits: AtomicU64::new(NO_DURATION),
        })
    }
    /// Records a success now.
    pub fn success(&self) {
        self.up.store(true, Ordering::Relaxed);
        self.last_success_bits
            .store(unix_now().to_bits(), Ordering::Relaxed);
    }
    /// Records a failure.
    pub fn failure(&self) {
        self.up.store(false, Ordering::Relaxed);
    }
    /// Records how long the last attempt (successful or not) took.
    pub fn set_duration(&self, seconds: f64) {
        self.duration_bits
            .store(seconds.max(0.0).to_bits(), Ordering::Relaxed);
    }
    /// Seconds the last attempt took, once one has been measured.
    pub fn last_duration(&self) -> Option<f64> {
        match self.duration_bits.load(Ordering::Relaxed) {
            NO_DURATION => None,
            bits => Some(f64::from_bits(bits)),
        }
    }
    /// Collector name (label value).
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// Whether the last attempt worked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    /// Unix time of the last success (0 if never).
    pub fn last_success(&self) -> f64 {
        f64::from_bits(self.last_success_bits.load(Ordering::Relaxed))
    }
}

/// One row of `prom_rs_collector_*`: what the page shows for one collector.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRow {
    /// Collector name (label value).
    pub name: &'static str,
    /// Whether its last attempt worked.
    pub up: bool,
    /// Unix time of its last success (0 if none yet).
    pub last_success: f64,
    /// Seconds its last attempt took, for collectors that time their own attempts.
    pub duration: Option<f64>,
}

impl CollectorHealth {
    /// The page's row for this collector.
    pub fn row(&self) -> HealthRow {
        HealthRow {
            name: self.name,
            up: self.is_up(),
            last_success: self.last_success(),
            duration: self.last_duration(),
        }
    }
}
