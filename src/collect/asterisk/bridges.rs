//! Bridges (by technology, invisible ones excluded), channels in bridges, and ConfBridge conferences with their
//! participants. Bridges and conferences are tracked in lock-free tables so a destroyed bridge or an ended conference
//! takes its remaining members off the gauges.

use crate::registry::metric::Gauge;
use crate::registry::{Collect, Family, SeriesCap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Bridges or conferences tracked at once.
const MAX_TRACKED: usize = 100_000;

type Table<V> = papaya::HashMap<Box<str>, V, foldhash::fast::RandomState>;

fn table<V>() -> Table<V> {
    papaya::HashMap::builder()
        .hasher(foldhash::fast::RandomState::default())
        .build()
}

struct BridgeRec {
    technology: Box<str>,
    visible: bool,
    members: AtomicI64,
}

/// Bridge and ConfBridge families.
pub struct BridgeModel {
    bridges_table: Table<BridgeRec>,
    conferences_table: Table<AtomicI64>,
    /// Bridges and conferences not tracked because their table held `MAX_TRACKED`.
    untracked: [AtomicU64; 2],
    pub(crate) bridges: Family<Gauge>,
    pub(crate) bridged: Family<Gauge>,
    pub(crate) conferences: Family<Gauge>,
    pub(crate) participants: Family<Gauge>,
}

/// Decrements `n` unless it is already zero; true when it did.
fn take_one(n: &AtomicI64) -> bool {
    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        (v > 0).then(|| v - 1)
    })
    .is_ok()
}

impl BridgeModel {
    /// Empty families; the unlabelled gauges start at 0 so they are always on the page.
    pub fn new(cap: &Arc<SeriesCap>) -> Self {
        let m = BridgeModel {
            untracked: [AtomicU64::new(0), AtomicU64::new(0)],
            bridges_table: table(),
            conferences_table: table(),
            bridges: Family::new(
                "asterisk_bridges",
                "Bridges by technology (invisible bridges excluded).",
                &["technology"],
                (),
                cap.clone(),
            ),
            bridged: Family::new(
                "asterisk_bridged_channels",
                "Channels in visible bridges.",
                &[],
                (),
                cap.clone(),
            ),
            conferences: Family::new(
                "asterisk_confbridge_conferences",
                "Active ConfBridge conferences.",
                &[],
                (),
                cap.clone(),
            ),
            participants: Family::new(
                "asterisk_confbridge_participants",
                "Participants in ConfBridge conferences.",
                &[],
                (),
                cap.clone(),
            ),
        };
        for f in [&m.bridged, &m.conferences, &m.participants] {
            f.with(&[], |g| g.set(0.0));
        }
        m
    }

    /// Bridges, then conferences, not tracked because their table was full (missing from the bridge and
    /// ConfBridge gauges).
    pub fn untracked(&self) -> (u64, u64) {
        (
            self.untracked[0].load(Ordering::Relaxed),
            self.untracked[1].load(Ordering::Relaxed),
        )
    }

    /// A bridge was created (or seeded). A known id is ignored.
    pub fn created(&self, id: &str, technology: &str, invisible: bool) {
        let t = self.bridges_table.pin();
        if t.contains_key(id) {
            return;
        }
        if t.len() >= MAX_TRACKED {
            self.untracked[0].fetch_add(1, Ordering::Relaxed);
            return;
        }
        let rec = BridgeRec {
            technology: technology.into(),
            visible: !invisible,
            members: AtomicI64::new(0),
        };
        if t.try_insert(id.into(), rec).is_ok() && !invisible {
            self.bridges.with(&[technology], |g| g.add(1.0));
        }
    }

    /// A bridge was destroyed; its remaining members leave with it.
    pub fn destroyed(&self, id: &str) {
        if let Some(rec) = self.bridges_table.pin().remove(id) {
            if rec.visible {
                self.bridges.with(&[&rec.technology], |g| g.add(-1.0));
                let left = rec.members.swap(0, Ordering::Relaxed);
                self.bridged.with(&[], |g| g.add(-(left as f64)));
            }
        }
    }

    /// A channel entered a bridge. A bridge not seen before is created with technology `unknown`.
    pub fn enter(&self, id: &str) {
        let t = self.bridges_table.pin();
        let rec = match t.get(id) {
            Some(r) => r,
            None => {
                drop(t);
                self.created(id, "unknown", false);
                let t2 = self.bridges_table.pin();
                if let Some(r) = t2.get(id) {
                    r.members.fetch_add(1, Ordering::Relaxed);
                    if r.visible {
                        self.bridged.with(&[], |g| g.add(1.0));
                    }
                }
                return;
            }
        };
        rec.members.fetch_add(1, Ordering::Relaxed);
        if rec.visible {
            self.bridged.with(&[], |g| g.add(1.0));
        }
    }

    /// A channel left a bridge.
    pub fn leave(&self, id: &str) {
        if let Some(rec) = self.bridges_table.pin().get(id) {
            if take_one(&rec.members) && rec.visible {
                self.bridged.with(&[], |g| g.add(-1.0));
            }
        }
    }

    /// ConfBridge: 0 start, 1 end, 2 join, 3 leave. A join to an unknown conference starts it (module loaded
    /// mid-conference).
    pub fn confbridge(&self, conference: &str, kind: i32) -> Result<(), String> {
        let t = self.conferences_table.pin();
        match kind {
            0 | 2 => {
                let members = match t.get(conference) {
                    Some(m) => m,
                    None if t.len() >= MAX_TRACKED => {
                        self.untracked[1].fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    None => {
                        let mut started = false;
                        let m = t.get_or_insert_with(conference.into(), || {
                            started = true;
                            AtomicI64::new(0)
                        });
                        if started {
                            self.conferences.with(&[], |g| g.add(1.0));
                        }
                        m
                    }
                };
                if kind == 2 {
                    members.fetch_add(1, Ordering::Relaxed);
                    self.participants.with(&[], |g| g.add(1.0));
                }
            }
            1 => {
                if let Some(m) = t.remove(conference) {
                    self.conferences.with(&[], |g| g.add(-1.0));
                    let left = m.swap(0, Ordering::Relaxed);
                    self.participants.with(&[], |g| g.add(-(left as f64)));
                }
            }
            3 => {
                if let Some(m) = t.get(conference) {
                    if take_one(m) {
                        self.participants.with(&[], |g| g.add(-1.0));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "ConfBridge event kind {kind} is not 0 (start), 1 (end), 2 (join) or 3 (leave)"
                ))
            }
        }
        Ok(())
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 4] {
        [
            &self.bridges,
            &self.bridged,
            &self.conferences,
            &self.participants,
        ]
    }
}
