//! The ViciDial reader: agent, dialer-call, queue and recording metrics read from ViciDial's MySQL/MariaDB database.
//!
//! ViciDial keeps its live state in the database, not in Asterisk. A thread of ours ([`Reader`], named
//! `prom_rs-vicidial`, started only when `vicidial.enabled = yes`) polls it every `vicidial.interval` over one
//! connection, builds a complete [`Snapshot`] and publishes it whole; the scrape renders the latest one and never
//! waits on the database.
//!
//! While the reader is failing, the `vicidial_*` families are left off the page (the agents they described may have
//! logged out, paused or hung up since: an old reading shown as current misleads a supervisor more than a gap does),
//! and `prom_rs_collector_up{collector="vicidial"}` is 0; the last-success timestamp says how old the last good
//! reading was. Every other family is served as usual.

mod db;
mod reader;
pub mod snapshot;

pub use reader::Reader;
pub use snapshot::{Snapshot, FAMILIES};

use crate::registry::Collect;
use crate::selfmetrics::CollectorHealth;
use crate::sync::lock;
use snapshot::FamilyView;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Name of the collector on `prom_rs_collector_*`.
pub const COLLECTOR: &str = "vicidial";

/// What the reader shares with the scrape: the latest snapshot and the reader's health. Lives as long as the core,
/// across reader restarts on reload.
pub struct Vicidial {
    enabled: AtomicBool,
    latest: Mutex<Option<Arc<Snapshot>>>,
    dropped: [AtomicU64; FAMILIES.len()],
    cap: AtomicUsize,
    health: Arc<CollectorHealth>,
    status: Mutex<String>,
}

impl Vicidial {
    /// No reader yet; series per family capped at `cap`.
    pub fn new(cap: usize) -> Vicidial {
        Vicidial {
            enabled: AtomicBool::new(false),
            latest: Mutex::new(None),
            dropped: std::array::from_fn(|_| AtomicU64::new(0)),
            cap: AtomicUsize::new(cap),
            health: CollectorHealth::new(COLLECTOR),
            status: Mutex::new("not started".into()),
        }
    }

    /// The reader's health (registered with the self metrics while the reader runs).
    pub fn health(&self) -> &Arc<CollectorHealth> {
        &self.health
    }

    /// Changes the cardinality cap (applies from the next poll).
    pub fn set_cap(&self, cap: usize) {
        self.cap.store(cap, Ordering::Relaxed);
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    /// Marks the reader as configured or not; when not, the families and their dropped counts leave the page.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            self.publish(None, &[0; FAMILIES.len()]);
        }
    }

    /// Replaces the latest snapshot (`None`: the reader is down) and counts series the cap dropped.
    pub(crate) fn publish(&self, snap: Option<Snapshot>, dropped: &[u64; FAMILIES.len()]) {
        for (c, d) in self.dropped.iter().zip(dropped) {
            c.fetch_add(*d, Ordering::Relaxed);
        }
        let snap = snap.map(Arc::new);
        // The old snapshot is freed after the lock is released, not while a scrape waits.
        let old = std::mem::replace(&mut *lock(&self.latest), snap);
        drop(old);
    }

    /// The latest complete snapshot, if the reader is up.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        lock(&self.latest).clone()
    }

    pub(crate) fn set_status(&self, text: String) {
        *lock(&self.status) = text;
    }

    /// One line for `prom_rs show status` (`None` when the reader is not enabled).
    pub fn status_line(&self) -> Option<String> {
        self.enabled
            .load(Ordering::Relaxed)
            .then(|| lock(&self.status).clone())
    }

    /// Calls `f` on each ViciDial family of the latest snapshot (nothing when the reader is not enabled). A family
    /// with no series renders nothing but still reports its dropped-series count.
    pub fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let snap = self.latest();
        for (i, def) in FAMILIES.iter().enumerate() {
            let rows = snap.as_ref().map_or(&[][..], |s| &s.rows[i][..]);
            f(&FamilyView {
                def,
                rows,
                dropped: self.dropped[i].load(Ordering::Relaxed),
            });
        }
    }
}
