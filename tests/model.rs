//! Model unit tests: feed host events into `res_prom_rs::collect::asterisk::Model` through its Rust API, render the
//! page in text format 0.0.4, and check exact sample values family by family (the Asterisk families of the README's
//! metric reference), plus `res_prom_rs::collect::host_stats::HostStats` for OpenSIPS/Kamailio-style statistics.

use res_prom_rs::collect::asterisk::Model;
use res_prom_rs::collect::EventCollector;
use res_prom_rs::config::{Config, ConfigBuilder};
use res_prom_rs::event::Event;
use res_prom_rs::registry::render::PageWriter;
use res_prom_rs::registry::Format;

#[path = "model/bridges.rs"]
mod bridges;
#[path = "model/caps.rs"]
mod caps;
#[path = "model/channels.rs"]
mod channels;
#[path = "model/endpoints.rs"]
mod endpoints;
#[path = "model/host_stats.rs"]
mod host_stats;
#[path = "model/media.rs"]
mod media;
#[path = "model/samples.rs"]
mod samples;
#[path = "model/switches.rs"]
mod switches;

/// A fixed "now" for event timestamps: 2023-11-14T22:13:20Z, in microseconds.
pub const T0: i64 = 1_700_000_000_000_000;

/// Microseconds in `s` seconds.
pub const fn secs(s: i64) -> i64 {
    s * 1_000_000
}

/// A configuration from `key = value` pairs (panics on a refused key: the test is wrong then).
pub fn cfg(pairs: &[(&str, &str)]) -> Config {
    let mut b = ConfigBuilder::new();
    for (k, v) in pairs {
        b.set(k, v)
            .unwrap_or_else(|e| panic!("config {k}={v}: {e}"));
    }
    b.finish().expect("configuration finishes")
}

/// A fresh model built from `pairs`.
pub fn model(pairs: &[(&str, &str)]) -> Model {
    Model::new(&cfg(pairs))
}

/// The page of every enabled family, rendered at scrape time `now_us`.
pub fn page_at(m: &Model, now_us: i64) -> String {
    let mut w = PageWriter::new(Format::Text004, "");
    m.visit(now_us, &mut |c| c.render(&mut w));
    String::from_utf8(w.finish()).expect("the page is UTF-8")
}

/// The page at `T0`.
pub fn page(m: &Model) -> String {
    page_at(m, T0)
}

/// The value of the sample line `series value` (series is `name` or `name{labels}` exactly as rendered).
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        Some(
            rest.parse::<f64>()
                .unwrap_or_else(|e| panic!("bad value in {l:?}: {e}")),
        )
    })
}

/// The value of `series`, which must be on the page.
#[track_caller]
pub fn val(page: &str, series: &str) -> f64 {
    value(page, series).unwrap_or_else(|| panic!("{series} is not on the page:\n{page}"))
}

/// Asserts `series` has exactly the value `want`.
#[track_caller]
pub fn assert_val(page: &str, series: &str, want: f64) {
    let got = val(page, series);
    assert_eq!(got, want, "{series}\n{page}");
}

/// Asserts `series` is within 1e-9 of `want` (for sums of floats).
#[track_caller]
pub fn assert_approx(page: &str, series: &str, want: f64) {
    let got = val(page, series);
    assert!(
        (got - want).abs() < 1e-9,
        "{series} = {got}, want {want}\n{page}"
    );
}

/// Asserts no sample line of `series` is on the page.
#[track_caller]
pub fn assert_absent(page: &str, series: &str) {
    assert_eq!(
        value(page, series),
        None,
        "{series} should be absent\n{page}"
    );
}

/// True when the page declares the family `name` (`# TYPE name ...`).
pub fn has_family(page: &str, name: &str) -> bool {
    let prefix = format!("# TYPE {name} ");
    page.lines().any(|l| l.starts_with(&prefix))
}

/// The `# TYPE` of family `name` (gauge, counter, histogram).
#[track_caller]
pub fn type_of(page: &str, name: &str) -> String {
    let prefix = format!("# TYPE {name} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no TYPE for {name}\n{page}"))
        .to_string()
}

/// Sample lines whose series starts with `prefix` (e.g. `name{` or `name{tech="PJSIP",`).
pub fn count_lines(page: &str, prefix: &str) -> usize {
    page.lines().filter(|l| l.starts_with(prefix)).count()
}

/// Applies an event that must be accepted.
#[track_caller]
pub fn ok(m: &Model, ev: Event<'_>) {
    if let Err(e) = m.apply(&ev) {
        panic!("{ev:?} refused: {e}");
    }
}

/// Applies an event that must be refused, and returns the page before and after to compare.
#[track_caller]
pub fn refused(m: &Model, ev: Event<'_>) -> String {
    let before = page(m);
    match m.apply(&ev) {
        Ok(()) => panic!("{ev:?} was accepted"),
        Err(e) => {
            assert!(!e.is_empty(), "empty error for {ev:?}");
            assert_eq!(
                page(m),
                before,
                "{ev:?} was refused ({e}) but changed the page"
            );
            e
        }
    }
}

/// `ChannelCreated`.
pub fn create<'a>(id: &'a str, tech: &'a str, endpoint: &'a str, state: i32, us: i64) -> Event<'a> {
    Event::ChannelCreated {
        uniqueid: id,
        tech,
        endpoint,
        state,
        created_us: us,
    }
}

/// `ChannelState`.
pub fn state(id: &str, state: i32, us: i64) -> Event<'_> {
    Event::ChannelState {
        uniqueid: id,
        state,
        ts_us: us,
    }
}

/// `ChannelHangup`.
pub fn hangup<'a>(id: &'a str, tech: &'a str, cause: i32, created_us: i64, us: i64) -> Event<'a> {
    Event::ChannelHangup {
        uniqueid: id,
        tech,
        cause,
        created_us,
        ts_us: us,
    }
}

/// `EndpointState`.
pub fn ep_state<'a>(tech: &'a str, resource: &'a str, state: i32, channels: i32) -> Event<'a> {
    Event::EndpointState {
        tech,
        resource,
        state,
        channel_count: channels,
        ts_us: T0,
    }
}

/// `EndpointContact`.
pub fn contact<'a>(tech: &'a str, resource: &'a str, status: &'a str, rtt_us: i64) -> Event<'a> {
    Event::EndpointContact {
        tech,
        resource,
        status,
        rtt_us,
        ts_us: T0,
    }
}

/// `RtcpReport` for PJSIP/`endpoint`.
pub fn rtcp(
    endpoint: &str,
    direction: i32,
    jitter: f64,
    loss: f64,
    rtt: f64,
    mes: f64,
) -> Event<'_> {
    Event::RtcpReport {
        tech: "PJSIP",
        endpoint,
        direction,
        jitter_seconds: jitter,
        loss_ratio: loss,
        rtt_seconds: rtt,
        mes,
        ts_us: T0,
    }
}

/// The `dropped()` count the family `name` reports during a visit.
pub fn dropped(m: &Model, name: &str) -> u64 {
    let mut n = None;
    m.visit(T0, &mut |c| {
        if c.name() == name {
            n = Some(c.dropped());
        }
    });
    n.unwrap_or_else(|| panic!("{name} was not visited"))
}

#[test]
fn helpers_read_exact_series_only() {
    let p = "a_total{x=\"1\"} 3\na_total{x=\"12\"} 4\nb 0.5\n";
    assert_eq!(value(p, "a_total{x=\"1\"}"), Some(3.0));
    assert_eq!(value(p, "a_total{x=\"12\"}"), Some(4.0));
    assert_eq!(value(p, "b"), Some(0.5));
    assert_eq!(value(p, "a_total"), None);
    assert_eq!(count_lines(p, "a_total{"), 2);
}
