//! The ViciDial reader: agent, dialer-call, queue and recording metrics read from ViciDial's MySQL/MariaDB database.
//!
//! ViciDial keeps its live state in the database, not in Asterisk. A poller thread (`prom_rs-vicidial`, started
//! only when `vicidial.enabled = yes`) reads it every `vicidial.interval` over one connection, builds a complete
//! [`Snapshot`] and publishes it whole; the scrape renders the latest one and never waits on the database.
//!
//! While the reader is failing, the `vicidial_*` families are left off the page (the agents they described may have
//! logged out, paused or hung up since: an old reading shown as current misleads a supervisor more than a gap does),
//! and `prom_rs_collector_up{collector="vicidial"}` is 0; the last-success timestamp says how old the last good
//! reading was. Every other family is served as usual.

mod db;
pub mod kpi;
mod kpi_db;
mod session;
pub mod snapshot;

pub use snapshot::{Snapshot, FAMILIES};

use super::poller::{Plan, Poller, PollerState};
use crate::config::{Config, VicidialConfig};
use crate::registry::Collect;
use crate::status::numbers::Numbers;
use crate::sync::lock;
use snapshot::FamilyView;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Name of the collector on `prom_rs_collector_*`.
pub const COLLECTOR: &str = "vicidial";

/// What the reader thread publishes and the scrape reads.
struct Published {
    latest: Mutex<Option<Arc<Snapshot>>>,
    dropped: [AtomicU64; FAMILIES.len()],
    cap: AtomicUsize,
}

impl Published {
    /// Replaces the latest snapshot (`None`: the reader is down) and counts series the cap dropped.
    fn publish(&self, snap: Option<Snapshot>, dropped: &[u64; FAMILIES.len()]) {
        for (c, d) in self.dropped.iter().zip(dropped) {
            c.fetch_add(*d, Ordering::Relaxed);
        }
        let snap = snap.map(Arc::new);
        // The old snapshot is freed after the lock is released, not while a scrape waits.
        let old = std::mem::replace(&mut *lock(&self.latest), snap);
        drop(old);
    }

    fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }
}

/// The ViciDial poller: lives as long as the core, across reader restarts on reload.
pub struct Vicidial {
    state: PollerState,
    published: Arc<Published>,
    /// The settings the running reader started with.
    running: Mutex<Option<VicidialConfig>>,
}

impl Vicidial {
    /// No reader yet; series per family capped at `cap`.
    pub fn new(cap: usize) -> Vicidial {
        Vicidial {
            state: PollerState::new(COLLECTOR, "ViciDial reader", "vicidial_*"),
            published: Arc::new(Published {
                latest: Mutex::new(None),
                dropped: std::array::from_fn(|_| AtomicU64::new(0)),
                cap: AtomicUsize::new(cap),
            }),
            running: Mutex::new(None),
        }
    }

    /// The latest complete snapshot, if the reader is up.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        lock(&self.published.latest).clone()
    }
}

impl Poller for Vicidial {
    fn state(&self) -> &PollerState {
        &self.state
    }

    fn configure(&self, cfg: &Config) -> Plan {
        self.published
            .cap
            .store(cfg.max_series_per_family, Ordering::Relaxed);
        let mut running = lock(&self.running);
        let wanted = cfg.vicidial.enabled.then(|| cfg.vicidial.clone());
        // The reader restarts (new connection) only when one of its own settings changed.
        if *running == wanted {
            return Plan::Keep;
        }
        *running = wanted.clone();
        match wanted {
            None => Plan::Off,
            Some(vc) => Plan::Start(Box::new(session::ReaderSession::new(
                vc,
                self.published.clone(),
            ))),
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        // A family with no series renders nothing but still reports its dropped-series count.
        let snap = self.latest();
        for (i, def) in FAMILIES.iter().enumerate() {
            let rows = snap.as_ref().map_or(&[][..], |s| &s.rows[i][..]);
            f(&FamilyView {
                def,
                rows,
                dropped: self.published.dropped[i].load(Ordering::Relaxed),
            });
        }
    }

    fn clear(&self) {
        self.published.publish(None, &[0; FAMILIES.len()]);
    }

    fn fill_status(&self, n: &mut Numbers) {
        n.call_center = self.latest().map(|snap| snap.summary.clone());
    }
}
