//! One running exporter: the model, host statistics and self metrics (shared with the HTTP thread), plus the threads
//! it owns. `start` spawns, `stop` joins everything before it returns, `reload` applies a new configuration while
//! keeping every counter, or keeps the old one when the new one cannot be applied.

use crate::clock::{now_us, unix_now};
use crate::collect::asterisk::Model;
use crate::collect::host_health::HostHealth;
use crate::collect::host_stats::{HostStats, StatUpdate};
use crate::collect::poller::PollerSlot;
use crate::collect::script::ScriptMetrics;
use crate::collect::selfmetrics::SelfMetrics;
use crate::collect::{pollers, EventCollector, HealthRow, Poller};
use crate::config::Config;
use crate::event::{Event, KINDS, KIND_STAT};
use crate::http::{
    BasicAuth, HttpError, HttpServer, HttpSettings, PageSource, Password, TlsServer,
};
use crate::log::{log, Level};
use crate::registry::metric::Buckets;
use crate::registry::render::{escape_label_value, PageWriter};
use crate::registry::{Collect, Format, SeriesCap};
use crate::status::history::{start_sampler, History};
use crate::status::numbers::Numbers;
use crate::sync::lock;
use crate::trace::{TraceQueue, TraceWriter};
use crate::worker::Worker;
use arc_swap::ArcSwapOption;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a start or reload failed.
#[derive(Debug)]
pub enum CoreError {
    /// The port could not be bound or the thread not started.
    Http(HttpError),
    /// The trace file could not be opened.
    Trace(std::path::PathBuf, std::io::Error),
    /// A certificate or key file (checked when the configuration was read) cannot be used now.
    Tls(crate::http::TlsError),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::Http(e) => write!(f, "{e}"),
            // Key first and the path escaped, like a configuration error (the Asterisk module reports this one).
            CoreError::Trace(p, e) => write!(
                f,
                "key \"trace_file\": cannot open {} for appending: {e}",
                crate::config::values::quoted(&p.to_string_lossy())
            ),
            CoreError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CoreError {}

/// State read by the event path and the HTTP thread.
pub struct Shared {
    /// Asterisk families (the event collector).
    pub model: Model,
    /// Host statistics.
    pub stats: HostStats,
    /// Metrics of the host's routing script.
    pub script: ScriptMetrics,
    /// Collectors the host runs and reports on (`prom_rs_collector_report`).
    pub host_health: HostHealth,
    /// Own health.
    pub selfm: SelfMetrics,
    /// Every poller, in page order ([`crate::collect::pollers`]).
    pub pollers: Vec<Arc<dyn Poller>>,
    /// The last minutes of the status page's headline numbers.
    pub history: Arc<History>,
    const_labels: Mutex<Arc<str>>,
    sample_interval: Mutex<Duration>,
    last_error_log: [AtomicU64; KINDS.len()],
    /// Trace lines dropped because the writer fell behind, over every trace file of this core.
    trace_dropped: Arc<AtomicU64>,
}

fn escaped_labels(cfg: &Config) -> Arc<str> {
    let mut s = String::new();
    for (i, (n, v)) in cfg.labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(n);
        s.push_str("=\"");
        escape_label_value(v, &mut s);
        s.push('"');
    }
    s.into()
}

impl Shared {
    fn new(cfg: &Config) -> Shared {
        let model = Model::new(cfg);
        let cap = SeriesCap::new(usize::MAX);
        let scrape = Buckets::new(&cfg.buckets_for("prom_rs_scrape_duration_seconds"))
            .unwrap_or_else(|_| Buckets::new(&[0.01]).expect("one bound is valid"));
        Shared {
            stats: HostStats::new(
                &cfg.stats,
                label_names(cfg),
                SeriesCap::new(cfg.max_series_per_family),
            ),
            script: ScriptMetrics::new(
                &cfg.stats.prefix,
                label_names(cfg),
                SeriesCap::new(cfg.max_series_per_family),
            ),
            host_health: HostHealth::default(),
            selfm: SelfMetrics::new(&cap, scrape),
            pollers: pollers(cfg),
            history: Default::default(),
            model,
            const_labels: Mutex::new(escaped_labels(cfg)),
            sample_interval: Mutex::new(cfg.sample_interval),
            last_error_log: std::array::from_fn(|_| AtomicU64::new(0)),
            trace_dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Logs a refused event, at most once a minute per event kind, so a confused host cannot flood the PBX log.
    fn log_refused(&self, kind: usize, msg: &str) {
        let now = unix_now() as u64;
        let Some(last) = self.last_error_log.get(kind) else {
            return;
        };
        let prev = last.load(Ordering::Relaxed);
        if now >= prev + 60
            && last
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log(
                Level::Warning,
                &format!(
                    "event {} refused: {msg} (further ones this minute are not logged)",
                    KINDS[kind]
                ),
            );
        }
    }

    /// Renders the page in `format`, limited to families whose names start with one of `collect` (all if empty).
    pub fn render(&self, format: Format, collect: &[String]) -> Vec<u8> {
        let labels = lock(&self.const_labels).clone();
        let mut w = PageWriter::new(format, &labels);
        let want =
            |name: &str| collect.is_empty() || collect.iter().any(|p| name.starts_with(p.as_str()));
        let mut dropped: Vec<(String, u64)> = Vec::new();
        let mut each = |c: &dyn Collect| {
            dropped.push((c.name().to_string(), c.dropped()));
            if collect.is_empty() || collect.iter().any(|p| c.selected_by(p)) {
                c.render(&mut w);
            }
        };
        self.visit(&mut each);
        let mut untracked = self.model.untracked().to_vec();
        untracked.push(("trace_lines", self.trace_dropped.load(Ordering::Relaxed)));
        self.selfm
            .render(&mut w, &want, &dropped, &untracked, &self.health_rows());
        w.finish()
    }

    /// Calls `f` with every collector's families, in page order (the self families excepted).
    fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        self.model.visit(now_us(), f);
        self.stats.visit(f);
        self.script.visit(f);
        for p in self.pollers.iter().filter(|p| p.state().is_enabled()) {
            p.visit(f);
        }
    }

    /// A `prom_rs_collector_*` row for the host's sampler (once it has sampled), each collector the host reports on,
    /// and each enabled poller.
    fn health_rows(&self) -> Vec<HealthRow> {
        let interval = *lock(&self.sample_interval);
        let sampler = self.sampler_health().map(|(up, last)| HealthRow {
            name: "sampler",
            up,
            last_success: last,
            duration: None,
        });
        sampler
            .into_iter()
            .chain(self.host_health.rows(interval))
            .chain(self.pollers.iter().filter_map(|p| p.state().row()))
            .collect()
    }

    /// What the status page shows, from every collector.
    fn numbers(&self) -> Numbers {
        let mut n = Numbers::default();
        self.model.fill_status(&mut n);
        for p in self.pollers.iter().filter(|p| p.state().is_enabled()) {
            p.fill_status(&mut n);
        }
        n
    }

    /// Everything the status page shows, now.
    fn status_view(&self) -> crate::status::View {
        let collectors = self
            .health_rows()
            .into_iter()
            .map(|h| {
                let name = if h.name == "sampler" {
                    "sampler (host)".to_string()
                } else {
                    h.name.to_string()
                };
                (name, h.up)
            })
            .collect();
        crate::status::View {
            numbers: self.numbers(),
            history: self.history.points(),
            series: self.series_count(),
            events: self.selfm.events_total(),
            last_scrape: self.selfm.last_scrape(),
            collectors,
        }
    }

    /// (up, last success) of the host's sampler, once it has sampled: up while samples keep arriving within three
    /// intervals.
    pub(crate) fn sampler_health(&self) -> Option<(bool, f64)> {
        let last = self.model.samples.last_sample()?;
        let interval = *lock(&self.sample_interval);
        let age = last.elapsed();
        Some((age <= interval * 3, unix_now() - age.as_secs_f64()))
    }

    /// Series on the page now (all families).
    pub fn series_count(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |c| n += c.series_count());
        n
    }
}

fn label_names(cfg: &Config) -> Vec<String> {
    cfg.labels.iter().map(|(n, _)| n.clone()).collect()
}

impl PageSource for Shared {
    fn render_metrics(&self, format: Format, collect: &[String]) -> Vec<u8> {
        self.render(format, collect)
    }
    fn render_landing(&self) -> Vec<u8> {
        crate::status::page(&self.status_view()).into_bytes()
    }
    fn record_request(&self, code: u16) {
        let code = code.to_string();
        self.selfm.http.with(&[code.as_str()], |c| c.inc());
    }
    fn record_scrape(&self, seconds: f64) {
        self.selfm.scraped(seconds);
    }
}

struct Running {
    cfg: Config,
    http: Option<HttpServer>,
    trace: Option<TraceWriter>,
    pollers: Vec<PollerSlot>,
    history: Option<Worker>,
}

/// A started exporter.
pub struct Core {
    shared: Arc<Shared>,
    running: Mutex<Running>,
    /// The trace queue, read by the event path without a lock; replaced by start, reload and stop.
    trace: ArcSwapOption<TraceQueue>,
    /// Whether `trace` holds a queue: one relaxed load keeps the untraced event path as cheap as before.
    tracing: AtomicBool,
}

/// The server's settings; certificate files are read here, at every start and reload (renewals are picked up).
fn http_settings(cfg: &Config) -> Result<HttpSettings, CoreError> {
    let tls = match &cfg.tls {
        Some(t) => Some(TlsServer::load(t).map_err(CoreError::Tls)?),
        None => None,
    };
    let mut s = HttpSettings::new(cfg.listen_addr(), cfg.uri.clone());
    s.auth = cfg.auth.as_ref().map(|(u, p)| match p {
        Password::Plain(p) => BasicAuth::plain(u.clone(), p.clone()),
        Password::Bcrypt(h) => BasicAuth::bcrypt(u.clone(), h.clone()),
    });
    s.acl = cfg.acl.clone();
    s.tls = tls;
    Ok(s)
}

impl Core {
    /// Starts: binds the scrape port (unless `enabled = no`), opens the trace file and starts the pollers.
    pub fn start(cfg: Config) -> Result<Core, CoreError> {
        let shared = Arc::new(Shared::new(&cfg));
        let trace = match &cfg.trace_file {
            Some(p) => Some(
                TraceWriter::open(p, shared.trace_dropped.clone())
                    .map_err(|e| CoreError::Trace(p.clone(), e))?,
            ),
            None => None,
        };
        let http = if cfg.enabled {
            let source: Arc<dyn PageSource> = shared.clone();
            Some(HttpServer::start(http_settings(&cfg)?, source).map_err(CoreError::Http)?)
        } else {
            log(Level::Notice, "enabled = no: not serving metrics");
            None
        };
        if let Some(h) = &http {
            log(
                Level::Notice,
                &format!(
                    "serving metrics on {}://{}{}",
                    if cfg.tls.is_some() { "https" } else { "http" },
                    h.local_addr(),
                    cfg.uri
                ),
            );
        }
        let mut slots: Vec<PollerSlot> = shared
            .pollers
            .iter()
            .cloned()
            .map(PollerSlot::new)
            .collect();
        for slot in &mut slots {
            slot.configure(&cfg);
        }
        let history = {
            let s = shared.clone();
            start_sampler(shared.history.clone(), move || s.numbers())
                .inspect_err(|e| {
                    log(
                        Level::Warning,
                        &format!("status page history: cannot start its thread: {e}"),
                    )
                })
                .ok()
        };
        Ok(Core {
            shared,
            trace: ArcSwapOption::new(trace.as_ref().and_then(|t| t.queue())),
            tracing: AtomicBool::new(trace.is_some()),
            running: Mutex::new(Running {
                cfg,
                http,
                trace,
                pollers: slots,
                history,
            }),
        })
    }

    /// Applies a new configuration. Nothing changes unless all of it can be applied (a new port is bound before the
    /// old one is released); counters are kept. Events keep flowing meanwhile: the event path takes no lock that
    /// this holds.
    pub fn reload(&self, cfg: Config) -> Result<(), CoreError> {
        let mut run = lock(&self.running);
        let new_settings = http_settings(&cfg)?;
        let rebind =
            cfg.enabled && (run.http.is_none() || run.cfg.listen_addr() != cfg.listen_addr());
        let new_http = if rebind {
            let source: Arc<dyn PageSource> = self.shared.clone();
            Some(HttpServer::start(new_settings.clone(), source).map_err(CoreError::Http)?)
        } else {
            None
        };
        let new_trace = match (&cfg.trace_file, &run.cfg.trace_file) {
            (Some(p), old) if Some(p) != old.as_ref() => Some(Some(
                TraceWriter::open(p, self.shared.trace_dropped.clone())
                    .map_err(|e| CoreError::Trace(p.clone(), e))?,
            )),
            (None, Some(_)) => Some(None),
            _ => None,
        };
        // Everything that can fail has succeeded: switch over.
        if let Some(h) = new_http {
            if let Some(old) = run.http.replace(h) {
                old.stop();
            }
        } else if !cfg.enabled {
            if let Some(old) = run.http.take() {
                old.stop();
            }
        } else if let Some(h) = &run.http {
            h.update(new_settings);
        }
        if let Some(t) = new_trace {
            self.trace.store(t.as_ref().and_then(|t| t.queue()));
            self.tracing.store(t.is_some(), Ordering::Relaxed);
            if let Some(old) = std::mem::replace(&mut run.trace, t) {
                old.close();
            }
        }
        for line in self.shared.model.reconfigure(&cfg) {
            log(Level::Notice, &line);
        }
        if self.shared.stats.reconfigure(&cfg.stats, label_names(&cfg)) {
            log(
                Level::Notice,
                "stats naming changed: host statistics start again under the new names",
            );
        }
        *lock(&self.shared.const_labels) = escaped_labels(&cfg);
        *lock(&self.shared.sample_interval) = cfg.sample_interval;
        for slot in &mut run.pollers {
            slot.configure(&cfg);
        }
        run.cfg = cfg;
        log(Level::Notice, "configuration reloaded; counters kept");
        Ok(())
    }

    /// Stops every thread of the core and waits for them; the port is free when this returns.
    pub fn stop(self) {
        let mut run = lock(&self.running);
        if let Some(h) = run.http.take() {
            h.stop();
        }
        self.tracing.store(false, Ordering::Relaxed);
        self.trace.store(None);
        if let Some(t) = run.trace.take() {
            t.close();
        }
        for slot in &mut run.pollers {
            slot.stop();
        }
        if let Some(h) = run.history.take() {
            h.stop();
        }
        drop(run);
        log(Level::Notice, "stopped");
    }

    /// Handles one host event: counts it, records it when tracing, and updates the model. Takes no lock: a reload
    /// or a slow trace file never holds up the host's thread.
    pub fn dispatch(&self, ev: &Event<'_>) -> Result<(), String> {
        let kind = ev.kind();
        self.shared.selfm.event(kind);
        if self.tracing.load(Ordering::Relaxed) {
            if let Some(q) = &*self.trace.load() {
                q.record(ev);
            }
        }
        self.shared
            .model
            .apply(ev)
            .inspect_err(|e| self.shared.log_refused(kind, e))
    }

    /// Handles one host statistic update.
    pub fn stat(&self, u: &StatUpdate<'_>, value: f64, add: bool) -> Result<(), String> {
        self.shared.selfm.event(KIND_STAT);
        self.shared
            .stats
            .update(u, value, add)
            .inspect_err(|e| self.shared.log_refused(KIND_STAT, e))
    }

    /// Records one attempt of a collector the host runs itself (see [`HostHealth`]).
    pub fn collector_report(&self, name: &str, ok: bool, seconds: f64) -> Result<(), String> {
        self.shared.host_health.report(name, ok, seconds)
    }

    /// The shared state (for rendering in tests and benchmarks).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Where the scrape endpoint listens, if it is serving.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        lock(&self.running).http.as_ref().map(|h| h.local_addr())
    }

    /// A few lines for the host's CLI (`prom_rs show status`).
    pub fn status_text(&self) -> String {
        let run = lock(&self.running);
        let s = &self.shared;
        let listen = match &run.http {
            Some(h) => format!(
                "{}://{}{}",
                if run.cfg.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                h.local_addr(),
                run.cfg.uri
            ),
            None => "not serving (enabled = no)".into(),
        };
        let last = s.selfm.last_scrape();
        let last_scrape = if last > 0.0 {
            format!("{:.1} s ago", unix_now() - last)
        } else {
            "never".into()
        };
        let mut text = format!(
            "Listening:        {listen}\nSeries:           {}\nEvents received:  {}\nChannels tracked: {}\nLast scrape:      {last_scrape}\n",
            s.series_count(),
            s.selfm.events_total(),
            s.model.channels.tracked(),
        );
        let state = |up: bool| if up { "up" } else { "DOWN" };
        if let Some((up, _)) = s.sampler_health() {
            text.push_str(&format!("Collector sampler:  {}\n", state(up)));
        }
        let interval = *lock(&s.sample_interval);
        for row in s
            .host_health
            .rows(interval)
            .into_iter()
            .chain(s.pollers.iter().filter_map(|p| p.state().row()))
        {
            text.push_str(&format!("Collector {}: {}\n", row.name, state(row.up)));
        }
        for line in s.pollers.iter().filter_map(|p| p.state().status_line()) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_file_that_cannot_be_opened_is_named_by_its_key_with_the_path_escaped() {
        let cfg = Config {
            enabled: false,
            trace_file: Some("/nonexistent-dir/a\nforged".into()),
            ..Config::default()
        };
        let e = Core::start(cfg).err().expect("refused").to_string();
        assert!(
            e.starts_with(
                "key \"trace_file\": cannot open \"/nonexistent-dir/a\\nforged\" for appending:"
            ),
            "{e}"
        );
    }
}
