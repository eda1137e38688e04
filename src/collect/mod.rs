//! The collector layer: every source of metric families, behind two small traits.
//!
//! - An [`EventCollector`] turns host events into families on the caller's thread (the Asterisk model,
//!   [`asterisk`]). Its switches, families and event handling live in its own folder.
//! - A [`Poller`] reads a source on a thread of ours every interval (the ViciDial reader, [`vicidial`]; the fail2ban poller, [`fail2ban`]). The shared
//!   runner in [`poller`] owns its thread (start, stop and join), its backoff, its log lines and its health, so
//!   every poller gets `prom_rs_collector_up`, `prom_rs_collector_last_success_timestamp_seconds` and
//!   `prom_rs_collector_duration_seconds` without code of its own.
//!
//! Host statistics ([`host_stats`], pushed by OpenSIPS/Kamailio-style hosts), the routing script's metrics
//! ([`script`], read from the host's shared-memory store) and the module's own metrics
//! ([`selfmetrics`]) complete the page. Adding a poller is one folder here plus one line in [`pollers`].

pub mod asterisk;
pub mod fail2ban;
pub mod health;
pub mod host_stats;
pub mod poller;
pub mod script;
pub mod selfmetrics;
pub mod vicidial;

use crate::config::Config;
use crate::event::Event;
use crate::registry::Collect;
use crate::status::numbers::Numbers;
use std::sync::Arc;

pub use health::{CollectorHealth, HealthRow};
pub use poller::{Plan, PollError, Polled, Poller, PollerState, Session};

/// A collector fed by host events on the host's threads: O(1) work per event on lock-free state.
pub trait EventCollector: Send + Sync {
    /// Applies one event (nothing when the event's collector switch is off). An error means a value was out of
    /// range; nothing was changed then.
    fn apply(&self, ev: &Event<'_>) -> Result<(), String>;
    /// Takes a new configuration, keeping every counter; returns a line for the log for each thing that restarted.
    fn reconfigure(&self, cfg: &Config) -> Vec<String>;
    /// Calls `f` with every family of the enabled switches, in page order. `now_us` is the scrape time.
    fn visit(&self, now_us: i64, f: &mut dyn FnMut(&dyn Collect));
    /// Adds what the status page shows of this collector.
    fn fill_status(&self, _n: &mut Numbers) {}
}

/// Every poller the core runs, in page order: one line each. Each is made once per core and lives across restarts
/// of its thread (reloads), so its dropped-series counts and last success survive them.
pub fn pollers(cfg: &Config) -> Vec<Arc<dyn Poller>> {
    vec![
        Arc::new(vicidial::Vicidial::new(cfg.max_series_per_family)),
        Arc::new(fail2ban::Fail2ban::new(cfg.max_series_per_family)),
    ]
}
