//! The module's own health: build info, events received by kind, scrape duration, HTTP requests by code, series
//! dropped by the cardinality cap, and whether each pulling collector (the host's sampler, every poller) is working.

use super::health::HealthRow;
use crate::clock::unix_now;
use crate::event::KINDS;
use crate::registry::metric::{Buckets, Counter, Histogram};
use crate::registry::render::{render_labels, Kind, PageWriter};
use crate::registry::{Collect, Family, SeriesCap};
use crate::ABI_VERSION;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Shards of the per-kind event counts. Every host thread counts every event it reports; with one shared counter
/// per kind, two threads reporting the same kind fight over one cache line. Threads take shards round-robin, each
/// shard on its own cache lines, and a scrape sums them.
const SHARDS: usize = 8;

#[repr(align(128))]
struct Shard([AtomicU64; KINDS.len()]);

struct EventCounts([Shard; SHARDS]);

impl Default for EventCounts {
    fn default() -> Self {
        EventCounts(std::array::from_fn(|_| {
            Shard(std::array::from_fn(|_| AtomicU64::new(0)))
        }))
    }
}

/// This thread's shard.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl EventCounts {
    fn add(&self, kind: usize) {
        if let Some(c) = self.0[shard()].0.get(kind) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn get(&self, kind: usize) -> u64 {
        self.0
            .iter()
            .filter_map(|s| s.0.get(kind))
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// The self families.
pub struct SelfMetrics {
    events: EventCounts,
    pub(crate) scrape: Family<Histogram>,
    pub(crate) http: Family<Counter>,
    last_scrape_bits: AtomicU64,
}

impl SelfMetrics {
    /// Zeroed self metrics.
    pub fn new(cap: &Arc<SeriesCap>, scrape_buckets: Buckets) -> SelfMetrics {
        SelfMetrics {
            events: EventCounts::default(),
            scrape: Family::new(
                "prom_rs_scrape_duration_seconds",
                "Time to render (and compress) one metrics page.",
                &[],
                scrape_buckets,
                cap.clone(),
            ),
            http: Family::new(
                "prom_rs_http_requests_total",
                "HTTP requests answered, by status code.",
                &["code"],
                (),
                cap.clone(),
            ),
            last_scrape_bits: AtomicU64::new(0),
        }
    }

    /// Counts one event of kind `k` (index into [`KINDS`]).
    pub fn event(&self, k: usize) {
        self.events.add(k);
    }

    /// Events received in total.
    pub fn events_total(&self) -> u64 {
        (0..KINDS.len()).map(|k| self.events.get(k)).sum()
    }

    /// Records a finished scrape.
    pub fn scraped(&self, seconds: f64) {
        self.scrape.with(&[], |h| h.observe(seconds));
        self.last_scrape_bits
            .store(unix_now().to_bits(), Ordering::Relaxed);
    }

    /// Unix time of the last scrape (0 if none).
    pub fn last_scrape(&self) -> f64 {
        f64::from_bits(self.last_scrape_bits.load(Ordering::Relaxed))
    }

    /// Writes the self families. `dropped` lists (family, series dropped) for every family on the page;
    /// `health` has a row for each pulling collector (the host's sampler once it has sampled, every enabled poller).
    pub fn render(
        &self,
        w: &mut PageWriter<'_>,
        want: &dyn Fn(&str) -> bool,
        dropped: &[(String, u64)],
        untracked: &[(&str, u64)],
        health: &[HealthRow],
    ) {
        if want("prom_rs_build_info") {
            w.header(
                "prom_rs_build_info",
                "res_prom_rs version and C ABI version (value 1).",
                Kind::Gauge,
            );
            let labels = render_labels(
                &["version", "abi"],
                &[env!("CARGO_PKG_VERSION"), &ABI_VERSION.to_string()],
            );
            w.sample_u64("prom_rs_build_info", &labels, 1);
        }
        if want("prom_rs_events_total") {
            w.header(
                "prom_rs_events_total",
                "Events received from the host, by kind.",
                Kind::Counter,
            );
            for (i, k) in KINDS.iter().enumerate() {
                w.sample_u64(
                    "prom_rs_events_total",
                    &render_labels(&["kind"], &[k]),
                    self.events.get(i),
                );
            }
        }
        if want("prom_rs_series_dropped_total") {
            w.header(
                "prom_rs_series_dropped_total",
                "Series not created because the family reached max_series_per_family.",
                Kind::Counter,
            );
            for (family, n) in dropped {
                w.sample_u64(
                    "prom_rs_series_dropped_total",
                    &render_labels(&["family"], &[family]),
                    *n,
                );
            }
        }
        if want("prom_rs_untracked_total") {
            w.header(
                "prom_rs_untracked_total",
                "Objects not tracked because a fixed-size internal table was full (their gauges and durations are missing), by table.",
                Kind::Counter,
            );
            for (table, n) in untracked {
                w.sample_u64(
                    "prom_rs_untracked_total",
                    &render_labels(&["table"], &[table]),
                    *n,
                );
            }
        }
        if !health.is_empty() && want("prom_rs_collector_up") {
            w.header(
                "prom_rs_collector_up",
                "1 when the collector's last attempt worked, 0 when its source is failing.",
                Kind::Gauge,
            );
            for h in health {
                w.sample_u64(
                    "prom_rs_collector_up",
                    &render_labels(&["collector"], &[h.name]),
                    u64::from(h.up),
                );
            }
        }
        if !health.is_empty() && want("prom_rs_collector_last_success_timestamp_seconds") {
            let n = "prom_rs_collector_last_success_timestamp_seconds";
            w.header(
                n,
                "Unix time of the collector's last success (0 if none yet).",
                Kind::Gauge,
            );
            for h in health {
                w.sample_f64(n, &render_labels(&["collector"], &[h.name]), h.last_success);
            }
        }
        // Only collectors that time their own attempts (the pollers); the host's sampler cannot be timed here.
        let timed: Vec<(&'static str, f64)> = health
            .iter()
            .filter_map(|h| h.duration.map(|d| (h.name, d)))
            .collect();
        let n = "prom_rs_collector_duration_seconds";
        if !timed.is_empty() && want(n) {
            w.header(
                n,
                "Time the collector's last attempt took (connect and queries), successful or not.",
                Kind::Gauge,
            );
            for (name, d) in &timed {
                w.sample_f64(n, &render_labels(&["collector"], &[name]), *d);
            }
        }
        for f in [&self.scrape as &dyn Collect, &self.http] {
            if want(f.name()) {
                f.render(w);
            }
        }
    }
}
