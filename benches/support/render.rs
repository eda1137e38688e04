//! Section 3: time to render a full page of N series, scraped over loopback, against the `prometheus` crate's
//! `TextEncoder` on a registry with as many series.
//!
//! The core is filled through `prom_rs_stat_set` (one gauge family `opensips_bench_series_value{id="<i>"}`), so each
//! call adds exactly one series; the baseline registry holds the same family with the same label values.

use super::baseline;
use super::ffi::{Core, OK};
use super::http::{get_fresh, sample_lines};
use super::timing::{ms, time_each, Summary};
use prometheus::{GaugeVec, Registry};
use std::ffi::CString;
use std::net::SocketAddr;

/// The page of one core at one size, both ways.
pub struct Row {
    /// Series filled.
    pub series: usize,
    /// Sample lines on the core's page (the filled series plus the core's own metrics).
    pub page_lines: usize,
    /// Body bytes of the core's page.
    pub bytes: usize,
    /// Milliseconds per scrape (fresh connection, connect to last byte).
    pub ours: Summary,
    /// Milliseconds from connect to the first response byte (rendering happens before the first byte is sent).
    pub first_byte: Summary,
    /// Body bytes of the baseline page.
    pub base_bytes: usize,
    /// Milliseconds per gather + encode of the baseline registry.
    pub base: Summary,
}

/// Adds series `from..to` to the core with `prom_rs_stat_set`.
pub fn fill(core: &Core, from: usize, to: usize) {
    for i in from..to {
        let v = CString::new(i.to_string()).expect("digits");
        let rc = core.stat_set_gauge(c"bench", c"series_value", c"id", &v, i as f64);
        assert_eq!(rc, OK, "prom_rs_stat_set #{i}: {}", core.last_error());
    }
}

/// The baseline registry, grown along with the core.
pub struct BaselinePage {
    registry: Registry,
    gauge: GaugeVec,
    len: usize,
}

impl Default for BaselinePage {
    /// An empty one.
    fn default() -> BaselinePage {
        let (registry, gauge) = baseline::filled_registry(0);
        BaselinePage {
            registry,
            gauge,
            len: 0,
        }
    }
}

impl BaselinePage {
    /// Grows it to `n` series.
    pub fn grow_to(&mut self, n: usize) {
        baseline::grow(&self.gauge, self.len, n);
        self.len = n;
    }
}

/// Scrapes the core at `addr` and renders the baseline `scrapes` times each (after one untimed warm-up).
pub fn measure(addr: SocketAddr, series: usize, scrapes: usize, base: &BaselinePage) -> Row {
    assert_eq!(
        base.len, series,
        "baseline and core must hold the same number of series"
    );
    let mut first_ms = Vec::with_capacity(scrapes);
    let (mut ours_ms, page) = time_each(scrapes, || {
        let fetched = get_fresh(addr, "/metrics").expect("scrape");
        first_ms.push(ms(fetched.first_byte));
        fetched.body
    });
    first_ms.remove(0); // the untimed warm-up scrape
    let (mut base_ms, base_page) = time_each(scrapes, || baseline::render(&base.registry));
    let page_lines = sample_lines(&page);
    assert!(
        page_lines >= series,
        "the page has {page_lines} sample lines, fewer than the {series} series filled"
    );
    assert_eq!(sample_lines(&base_page), series, "baseline page");
    Row {
        series,
        page_lines,
        bytes: page.len(),
        ours: Summary::of(&mut ours_ms),
        first_byte: Summary::of(&mut first_ms),
        base_bytes: base_page.len(),
        base: Summary::of(&mut base_ms),
    }
}
