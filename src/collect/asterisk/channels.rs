//! Channels and calls: live counts by technology and state, creations, hangups by cause, call durations, dial
//! results. Per-channel state lives in a lock-free table from creation to hangup and is removed at hangup.

use super::names;
use crate::registry::metric::{Buckets, Counter, Gauge, Histogram};
use crate::registry::render::{render_labels, Kind, PageWriter};
use crate::registry::{Collect, Family, SeriesCap};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Channels tracked at once before new ones are no longer followed (protects memory if hangups are lost).
pub const MAX_TRACKED_CHANNELS: usize = 200_000;

struct ChannelRec {
    tech: Box<str>,
    endpoint: Box<str>,
    state: AtomicI32,
    created_us: i64,
    answered_us: AtomicI64,
}

/// The channel and call families plus the live channel table.
pub struct ChannelModel {
    table: papaya::HashMap<Box<str>, ChannelRec, foldhash::fast::RandomState>,
    untracked: AtomicU64,
    pub(crate) channels: Family<Gauge>,
    pub(crate) by_state: Family<Gauge>,
    pub(crate) created: Family<Counter>,
    pub(crate) hangups: Family<Counter>,
    pub(crate) duration: Family<Histogram>,
    pub(crate) answered: Family<Histogram>,
    pub(crate) dial: Family<Counter>,
}

fn secs_between(from_us: i64, to_us: i64) -> Option<f64> {
    (from_us > 0 && to_us >= from_us).then(|| (to_us - from_us) as f64 / 1e6)
}

impl ChannelModel {
    /// Empty families with the given bucket layouts.
    pub fn new(cap: &Arc<SeriesCap>, duration: Buckets, answered: Buckets) -> Self {
        ChannelModel {
            table: papaya::HashMap::builder()
                .hasher(foldhash::fast::RandomState::default())
                .build(),
            untracked: AtomicU64::new(0),
            channels: Family::new(
                "asterisk_channels",
                "Active channels by technology.",
                &["tech"],
                (),
                cap.clone(),
            ),
            by_state: Family::new(
                "asterisk_channels_by_state",
                "Active channels by channel state.",
                &["state"],
                (),
                cap.clone(),
            ),
            created: Family::new(
                "asterisk_channels_created_total",
                "Channels created, by technology.",
                &["tech"],
                (),
                cap.clone(),
            ),
            hangups: Family::new(
                "asterisk_channel_hangups_total",
                "Channels hung up, by technology and Q.850 cause name.",
                &["tech", "cause"],
                (),
                cap.clone(),
            ),
            duration: Family::new(
                "asterisk_channel_duration_seconds",
                "Channel lifetime from creation to hangup.",
                &["tech"],
                duration,
                cap.clone(),
            ),
            answered: Family::new(
                "asterisk_channel_answered_duration_seconds",
                "Time from answer (state Up) to hangup, for answered channels.",
                &["tech"],
                answered,
                cap.clone(),
            ),
            dial: Family::new(
                "asterisk_dial_results_total",
                "Dial attempts by final DIALSTATUS.",
                &["dialstatus"],
                (),
                cap.clone(),
            ),
        }
    }

    /// A channel appeared. A second creation of a known uniqueid (seeding racing the live event) is ignored.
    pub fn created(
        &self,
        uniqueid: &str,
        tech: &str,
        endpoint: &str,
        state: i32,
        created_us: i64,
    ) -> Result<(), String> {
        let state_label = names::channel_state(state)?;
        let table = self.table.pin();
        if table.contains_key(uniqueid) {
            return Ok(());
        }
        if table.len() >= MAX_TRACKED_CHANNELS {
            self.untracked.fetch_add(1, Ordering::Relaxed);
            self.created.with(&[tech], |c| c.inc());
            return Ok(());
        }
        let rec = ChannelRec {
            tech: tech.into(),
            endpoint: endpoint.into(),
            state: AtomicI32::new(state),
            created_us,
            answered_us: AtomicI64::new(if state == names::STATE_UP {
                created_us
            } else {
                0
            }),
        };
        if table.try_insert(uniqueid.into(), rec).is_err() {
            return Ok(());
        }
        self.channels.with(&[tech], |g| g.add(1.0));
        self.by_state.with(&[state_label], |g| g.add(1.0));
        self.created.with(&[tech], |c| c.inc());
        Ok(())
    }

    /// A channel changed state; the first change to Up marks the answer time.
    pub fn state(&self, uniqueid: &str, state: i32, ts_us: i64) -> Result<(), String> {
        let new_label = names::channel_state(state)?;
        let table = self.table.pin();
        let Some(rec) = table.get(uniqueid) else {
            return Ok(());
        };
        let old = rec.state.swap(state, Ordering::Relaxed);
        if old != state {
            if let Ok(old_label) = names::channel_state(old) {
                self.by_state.with(&[old_label], |g| g.add(-1.0));
            }
            self.by_state.with(&[new_label], |g| g.add(1.0));
        }
        if state == names::STATE_UP {
            let _ =
                rec.answered_us
                    .compare_exchange(0, ts_us, Ordering::Relaxed, Ordering::Relaxed);
        }
        Ok(())
    }

    /// A channel hung up. Unknown channels (created before the module loaded and not seeded) are still counted,
    /// with their duration from the host's creation time.
    pub fn hangup(
        &self,
        uniqueid: &str,
        tech: &str,
        cause: i32,
        created_us: i64,
        ts_us: i64,
    ) -> Result<(), String> {
        let cause_label = names::cause(cause)?;
        let table = self.table.pin();
        match table.remove(uniqueid) {
            Some(rec) => {
                self.channels.with(&[&rec.tech], |g| g.add(-1.0));
                if let Ok(label) = names::channel_state(rec.state.load(Ordering::Relaxed)) {
                    self.by_state.with(&[label], |g| g.add(-1.0));
                }
                self.hangups.with(&[&rec.tech, cause_label], |c| c.inc());
                let created = if rec.created_us > 0 {
                    rec.created_us
                } else {
                    created_us
                };
                if let Some(d) = secs_between(created, ts_us) {
                    self.duration.with(&[&rec.tech], |h| h.observe(d));
                }
                if let Some(d) = secs_between(rec.answered_us.load(Ordering::Relaxed), ts_us) {
                    self.answered.with(&[&rec.tech], |h| h.observe(d));
                }
            }
            None => {
                self.hangups.with(&[tech, cause_label], |c| c.inc());
                if let Some(d) = secs_between(created_us, ts_us) {
                    self.duration.with(&[tech], |h| h.observe(d));
                }
            }
        }
        Ok(())
    }

    /// Counts a final dial status; interim ones are ignored.
    pub fn dial(&self, dialstatus: &str) {
        if let Some(label) = names::dial_status(dialstatus) {
            self.dial.with(&[label], |c| c.inc());
        }
    }

    /// Channels currently tracked.
    pub fn tracked(&self) -> usize {
        self.table.len()
    }

    /// Channels not tracked because the table was full.
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 7] {
        [
            &self.channels,
            &self.by_state,
            &self.created,
            &self.hangups,
            &self.duration,
            &self.answered,
            &self.dial,
        ]
    }
}

/// Opt-in per-channel series (`channel_detail = yes`): age and state of every live channel, rendered from the
/// table at scrape time and capped like any family.
pub struct ChannelDetail<'a> {
    /// The model to read.
    pub model: &'a ChannelModel,
    /// Scrape time, microseconds since the epoch.
    pub now_us: i64,
    /// Series cap.
    pub cap: usize,
}

impl Collect for ChannelDetail<'_> {
    fn name(&self) -> &str {
        "asterisk_channel_age_seconds"
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        let table = self.model.table.pin();
        if table.is_empty() {
            return;
        }
        w.header(
            self.name(),
            "Age of each live channel (channel_detail = yes).",
            Kind::Gauge,
        );
        for (id, rec) in table.iter().take(self.cap) {
            let state = names::channel_state(rec.state.load(Ordering::Relaxed)).unwrap_or("down");
            let labels = render_labels(
                &["uniqueid", "tech", "endpoint", "state"],
                &[&**id, &rec.tech, &rec.endpoint, state],
            );
            let age = secs_between(rec.created_us, self.now_us).unwrap_or(0.0);
            w.sample_f64(self.name(), &labels, age);
        }
    }
    fn dropped(&self) -> u64 {
        self.model.table.len().saturating_sub(self.cap) as u64
    }
    fn series_count(&self) -> usize {
        self.model.table.len().min(self.cap)
    }
}
