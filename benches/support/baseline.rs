//! The baseline: the `prometheus` crate (0.14) doing the same work as the core for each event, in-process and
//! called directly with `&str` (no C strings, no panic boundary, no event self-count; the core pays for those).
//!
//! Families, label names and bucket layouts mirror the core's defaults; a channel lifecycle keeps a per-call table in
//! a `Mutex<HashMap>`, which is what a host using this crate would need for durations.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// The core's default bucket layout for a histogram family, so both sides observe into the same buckets.
fn buckets(family: &str) -> Vec<f64> {
    res_prom_rs::config::Config::default().buckets_for(family)
}

/// Channel state names by `enum ast_channel_state` value, as the core labels them.
const STATES: &[&str] = res_prom_rs::collect::asterisk::names::CHANNEL_STATES;

fn counter(r: &Registry, name: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, "baseline"), labels).expect("valid counter");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge(r: &Registry, name: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, "baseline"), labels).expect("valid gauge");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn histogram(r: &Registry, name: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    let opts = HistogramOpts::new(name, "baseline").buckets(buckets.to_vec());
    let h = HistogramVec::new(opts, labels).expect("valid histogram");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

/// What the baseline remembers per live channel.
struct ChannelRec {
    tech: String,
    _endpoint: String,
    state: usize,
    created_us: i64,
    answered_us: i64,
}

/// The event families of the core, built with the `prometheus` crate.
pub struct Baseline {
    /// Where every family is registered (as a host would; not rendered here).
    _registry: Registry,
    dial: IntCounterVec,
    security: IntCounterVec,
    jitter: HistogramVec,
    loss: HistogramVec,
    rtt: Histogram,
    mes: HistogramVec,
    ep_jitter: GaugeVec,
    ep_loss: GaugeVec,
    ep_rtt: GaugeVec,
    latest: Mutex<HashMap<(String, String), [f64; 4]>>,
    channels: GaugeVec,
    by_state: GaugeVec,
    created: IntCounterVec,
    hangups: IntCounterVec,
    duration: HistogramVec,
    answered: HistogramVec,
    table: Mutex<HashMap<String, ChannelRec>>,
}

impl Default for Baseline {
    fn default() -> Self {
        Self::new()
    }
}

impl Baseline {
    /// Empty families in a fresh registry.
    pub fn new() -> Baseline {
        let r = Registry::new();
        let te = &["tech", "endpoint"];
        let rtt_opts = HistogramOpts::new("asterisk_rtcp_rtt_seconds", "baseline")
            .buckets(buckets("asterisk_rtcp_rtt_seconds"));
        let rtt = Histogram::with_opts(rtt_opts).expect("valid histogram");
        r.register(Box::new(rtt.clone())).expect("registered once");
        Baseline {
            dial: counter(&r, "asterisk_dial_results_total", &["dialstatus"]),
            security: counter(&r, "asterisk_security_events_total", &["service", "event"]),
            jitter: histogram(
                &r,
                "asterisk_rtcp_jitter_seconds",
                &["direction"],
                &buckets("asterisk_rtcp_jitter_seconds"),
            ),
            loss: histogram(
                &r,
                "asterisk_rtcp_packet_loss_ratio",
                &["direction"],
                &buckets("asterisk_rtcp_packet_loss_ratio"),
            ),
            rtt,
            mes: histogram(
                &r,
                "asterisk_rtcp_mes",
                &["direction"],
                &buckets("asterisk_rtcp_mes"),
            ),
            ep_jitter: gauge(&r, "asterisk_endpoint_rtcp_jitter_seconds", te),
            ep_loss: gauge(&r, "asterisk_endpoint_rtcp_packet_loss_ratio", te),
            ep_rtt: gauge(&r, "asterisk_endpoint_rtcp_rtt_seconds", te),
            latest: Mutex::new(HashMap::new()),
            channels: gauge(&r, "asterisk_channels", &["tech"]),
            by_state: gauge(&r, "asterisk_channels_by_state", &["state"]),
            created: counter(&r, "asterisk_channels_created_total", &["tech"]),
            hangups: counter(&r, "asterisk_channel_hangups_total", &["tech", "cause"]),
            duration: histogram(
                &r,
                "asterisk_channel_duration_seconds",
                &["tech"],
                &buckets("asterisk_channel_duration_seconds"),
            ),
            answered: histogram(
                &r,
                "asterisk_channel_answered_duration_seconds",
                &["tech"],
                &buckets("asterisk_channel_answered_duration_seconds"),
            ),
            table: Mutex::new(HashMap::new()),
            _registry: r,
        }
    }

    /// A final dial status: one counter.
    #[inline]
    pub fn dial_result(&self, status: &str) {
        self.dial.with_label_values(&[status]).inc();
    }

    /// A security event: one two-label counter.
    #[inline]
    pub fn security_event(&self, service: &str, event: &str) {
        self.security.with_label_values(&[service, event]).inc();
    }

    /// An RTCP report: four histograms, the latest values per endpoint, three gauges (as the core's media model).
    #[allow(clippy::too_many_arguments)]
    pub fn rtcp_report(
        &self,
        tech: &str,
        endpoint: &str,
        dir: usize,
        jitter: f64,
        loss: f64,
        rtt: f64,
        mes: f64,
    ) {
        let label = ["rx", "tx"][dir];
        self.jitter.with_label_values(&[label]).observe(jitter);
        self.loss.with_label_values(&[label]).observe(loss);
        self.rtt.observe(rtt);
        self.mes.with_label_values(&[label]).observe(mes);
        let (worst_jitter, worst_loss) = {
            let mut latest = self.latest.lock().unwrap();
            let cell = latest
                .entry((tech.to_owned(), endpoint.to_owned()))
                .or_default();
            cell[dir] = jitter;
            cell[2 + dir] = loss;
            (cell[0].max(cell[1]), cell[2].max(cell[3]))
        };
        let key = [tech, endpoint];
        self.ep_jitter.with_label_values(&key).set(worst_jitter);
        self.ep_loss.with_label_values(&key).set(worst_loss);
        self.ep_rtt.with_label_values(&key).set(rtt);
    }

    /// A channel appeared: table insert, three gauges/counters.
    pub fn channel_created(
        &self,
        uid: &str,
        tech: &str,
        endpoint: &str,
        state: usize,
        created_us: i64,
    ) {
        {
            let mut table = self.table.lock().unwrap();
            if table.contains_key(uid) {
                return;
            }
            let answered_us = if state == 6 { created_us } else { 0 };
            let rec = ChannelRec {
                tech: tech.to_owned(),
                _endpoint: endpoint.to_owned(),
                state,
                created_us,
                answered_us,
            };
            table.insert(uid.to_owned(), rec);
        }
        self.channels.with_label_values(&[tech]).inc();
        self.by_state.with_label_values(&[STATES[state]]).inc();
        self.created.with_label_values(&[tech]).inc();
    }

    /// A channel changed state: table update, two gauges.
    pub fn channel_state(&self, uid: &str, state: usize, ts_us: i64) {
        let old = {
            let mut table = self.table.lock().unwrap();
            let Some(rec) = table.get_mut(uid) else {
                return;
            };
            if state == 6 && rec.answered_us == 0 {
                rec.answered_us = ts_us;
            }
            std::mem::replace(&mut rec.state, state)
        };
        if old != state {
            self.by_state.with_label_values(&[STATES[old]]).dec();
            self.by_state.with_label_values(&[STATES[state]]).inc();
        }
    }

    /// A channel hung up: table remove, two gauges, a counter, two histograms.
    pub fn channel_hangup(&self, uid: &str, cause: &str, ts_us: i64) {
        let Some(rec) = self.table.lock().unwrap().remove(uid) else {
            return;
        };
        self.channels.with_label_values(&[rec.tech.as_str()]).dec();
        self.by_state.with_label_values(&[STATES[rec.state]]).dec();
        self.hangups
            .with_label_values(&[rec.tech.as_str(), cause])
            .inc();
        let secs = |from: i64| (ts_us - from) as f64 / 1e6;
        self.duration
            .with_label_values(&[rec.tech.as_str()])
            .observe(secs(rec.created_us));
        if rec.answered_us > 0 {
            self.answered
                .with_label_values(&[rec.tech.as_str()])
                .observe(secs(rec.answered_us));
        }
    }
}

/// A registry holding `n` gauge series `opensips_bench_series_value{id="<i>"}`, as the core's render benchmark fills it.
pub fn filled_registry(n: usize) -> (Registry, GaugeVec) {
    let r = Registry::new();
    let g = gauge(&r, "opensips_bench_series_value", &["id"]);
    grow(&g, 0, n);
    (r, g)
}

/// Adds series `from..to` to a gauge filled by [`filled_registry`].
pub fn grow(g: &GaugeVec, from: usize, to: usize) {
    for i in from..to {
        g.with_label_values(&[i.to_string().as_str()]).set(i as f64);
    }
}

/// One full page of `r` in text format 0.0.4 (gather + encode, as a `/metrics` handler does).
pub fn render(r: &Registry) -> Vec<u8> {
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&r.gather(), &mut buf)
        .expect("encodes");
    buf
}
