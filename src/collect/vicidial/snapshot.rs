//! One complete reading of the ViciDial tables, turned into the `vicidial_*` families (the live state here, the
//! KPI families in [`super::kpi`]).
//!
//! A snapshot is built on the reader thread from plain rows (no database types here, so it is unit-tested without a
//! server), with every label set escaped once. The scrape only walks the prepared lines: rendering a snapshot costs
//! the same as copying its bytes, whatever the database is doing.

use super::kpi::{self, KpiReading};
use crate::registry::render::{render_labels, Kind, PageWriter};
use crate::registry::Collect;
use crate::status::numbers::CallCenter;
use std::collections::BTreeMap;

/// Agent statuses, in the order `vicidial_agents` lists them for each campaign. `DISPO` is not a database value:
/// ViciDial's real-time report shows a READY or PAUSED agent who still holds a lead (`lead_id > 0`) as DISPO.
pub const AGENT_STATUSES: &[&str] = &[
    "READY", "QUEUE", "INCALL", "PAUSED", "CLOSER", "MQUEUE", "DISPO",
];

/// A family's fixed parts.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDef {
    /// Metric name.
    pub name: &'static str,
    /// HELP text.
    pub help: &'static str,
    /// Label names, in order.
    pub labels: &'static [&'static str],
}

/// Index of each family in [`FAMILIES`] and [`Snapshot::rows`].
pub(crate) const AGENTS: usize = 0;
pub(crate) const AGENT_STATUS: usize = 1;
pub(crate) const AGENT_STATE_SECONDS: usize = 2;
pub(crate) const AGENT_PAUSE_CODE: usize = 3;
pub(crate) const AUTO_CALLS: usize = 4;
pub(crate) const RECORDINGS_MISSING: usize = 5;
pub(crate) const INBOUND_LAST_HOUR: usize = 6;
pub(crate) const QUEUE_WAIT_AVG: usize = 7;

/// How many families there are: the live state's, then the KPI families.
pub const FAMILY_COUNT: usize = LIVE.len() + kpi::FAMILIES.len();

/// The ViciDial families, in page order.
pub const FAMILIES: [FamilyDef; FAMILY_COUNT] = {
    let mut all = [LIVE[0]; FAMILY_COUNT];
    let mut i = 0;
    while i < FAMILY_COUNT {
        all[i] = if i < LIVE.len() {
            LIVE[i]
        } else {
            kpi::FAMILIES[i - LIVE.len()]
        };
        i += 1;
    }
    all
};

/// The live-state families.
const LIVE: [FamilyDef; 8] = [
    FamilyDef {
        name: "vicidial_agents",
        help: "Logged-in ViciDial agents by campaign and status (every status listed for each campaign with agents; DISPO = READY or PAUSED still holding a lead).",
        labels: &["campaign", "status"],
    },
    FamilyDef {
        name: "vicidial_agent_status",
        help: "Status of each logged-in ViciDial agent (value 1).",
        labels: &["agent", "status"],
    },
    FamilyDef {
        name: "vicidial_agent_state_seconds",
        help: "Seconds each logged-in agent has been in its current status (database clock).",
        labels: &["agent", "status"],
    },
    FamilyDef {
        name: "vicidial_agent_pause_code",
        help: "Pause code of each paused agent that gave one (value 1).",
        labels: &["agent", "pause_code"],
    },
    FamilyDef {
        name: "vicidial_auto_calls",
        help: "Calls the dialer is handling by campaign or in-group and status (LIVE = answered, waiting for an agent).",
        labels: &["campaign", "status"],
    },
    FamilyDef {
        name: "vicidial_recordings_missing",
        help: "Inbound (closer) calls of the last hour longer than 10 s with no recording_log row.",
        labels: &[],
    },
    FamilyDef {
        name: "vicidial_inbound_calls_last_hour",
        help: "Inbound (closer) calls of the last hour by in-group and termination reason.",
        labels: &["campaign", "term_reason"],
    },
    FamilyDef {
        name: "vicidial_queue_wait_seconds_avg_last_hour",
        help: "Average time in queue of the inbound (closer) calls of the last hour, by in-group.",
        labels: &["campaign"],
    },
];

/// One `vicidial_live_agents` row, as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentRow {
    /// Agent login (`user`).
    pub user: String,
    /// Database status.
    pub status: String,
    /// `campaign_id`.
    pub campaign: String,
    /// `pause_code` (empty when none).
    pub pause_code: String,
    /// `lead_id`.
    pub lead_id: u64,
    /// Seconds since `last_state_change` by the database clock (`None` when the column is NULL).
    pub state_seconds: Option<i64>,
}

impl AgentRow {
    /// The status as ViciDial's real-time report shows it.
    pub fn shown_status(&self) -> &str {
        match self.status.as_str() {
            "READY" | "PAUSED" if self.lead_id > 0 => "DISPO",
            s => s,
        }
    }
}

/// A `GROUP BY` row: (campaign, status or term_reason, rows, sum of `queue_seconds`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRow {
    /// `campaign_id`.
    pub campaign: String,
    /// `status` or `term_reason`.
    pub key: String,
    /// `COUNT(*)`.
    pub count: u64,
    /// `SUM(queue_seconds)` (closer log only).
    pub queue_seconds: f64,
}

/// Everything one poll read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// `vicidial_live_agents`.
    pub agents: Vec<AgentRow>,
    /// `vicidial_auto_calls` by campaign and status.
    pub auto_calls: Vec<GroupRow>,
    /// `vicidial_closer_log` of the last hour by campaign and term_reason.
    pub closer: Vec<GroupRow>,
    /// Missing recordings.
    pub recordings_missing: u64,
    /// The KPI tables.
    pub kpi: KpiReading,
}

/// Sample lines of one family: pre-escaped labels and the value.
pub type Rows = Vec<(Box<str>, f64)>;

/// A complete, immutable reading, ready to render.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per family (indexed like [`FAMILIES`]).
    pub rows: [Rows; FAMILY_COUNT],
    /// The few numbers the status page shows.
    pub summary: CallCenter,
}

/// What the status page shows of one reading.
fn summary(r: &Reading) -> CallCenter {
    let agents_by_status = AGENT_STATUSES
        .iter()
        .map(|s| {
            (
                *s,
                r.agents.iter().filter(|a| a.shown_status() == *s).count() as u64,
            )
        })
        .collect();
    let calls_waiting = r
        .auto_calls
        .iter()
        .filter(|g| g.key == "LIVE")
        .map(|g| g.count)
        .sum();
    let mut longest: Vec<(String, String, i64)> = r
        .agents
        .iter()
        .filter_map(|a| {
            a.state_seconds
                .map(|secs| (a.user.clone(), a.shown_status().to_string(), secs))
        })
        .collect();
    longest.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    longest.truncate(5);
    CallCenter {
        agents_by_status,
        calls_waiting,
        recordings_missing: r.recordings_missing,
        longest,
    }
}

/// Collects one family's series in label order, refusing new ones past the cap.
pub(super) struct Builder {
    cap: usize,
    series: BTreeMap<Vec<String>, f64>,
    dropped: u64,
}

impl Builder {
    fn new(cap: usize) -> Builder {
        Builder {
            cap,
            series: BTreeMap::new(),
            dropped: 0,
        }
    }
    /// Sets or merges one series: `merge(old, new)` when the label set is already there.
    pub(super) fn put(&mut self, labels: &[&str], v: f64, merge: fn(f64, f64) -> f64) {
        let key: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        if let Some(old) = self.series.get_mut(&key) {
            *old = merge(*old, v);
        } else if self.series.len() < self.cap {
            self.series.insert(key, v);
        } else {
            self.dropped += 1;
        }
    }
    fn finish(self, def: &FamilyDef) -> (Rows, u64) {
        let rows = self
            .series
            .into_iter()
            .map(|(k, v)| (render_labels(def.labels, &k).into_boxed_str(), v))
            .collect();
        (rows, self.dropped)
    }
}

pub(super) fn add(a: f64, b: f64) -> f64 {
    a + b
}
pub(super) fn keep(a: f64, _: f64) -> f64 {
    a
}
fn max(a: f64, b: f64) -> f64 {
    a.max(b)
}

impl Snapshot {
    /// Builds the families from one reading, at most `cap` series each. Returns the snapshot and, per family, the
    /// series dropped by the cap.
    pub fn build(r: &Reading, cap: usize) -> (Snapshot, [u64; FAMILY_COUNT]) {
        let mut b: [Builder; FAMILY_COUNT] = std::array::from_fn(|_| Builder::new(cap));
        // Every status of every campaign that has agents, so "nobody waiting in campaign X" is a 0, not a gap.
        let mut campaigns: Vec<&str> = r.agents.iter().map(|a| a.campaign.as_str()).collect();
        campaigns.sort_unstable();
        campaigns.dedup();
        for c in &campaigns {
            for s in AGENT_STATUSES {
                b[AGENTS].put(&[c, s], 0.0, keep);
            }
        }
        for a in &r.agents {
            let status = a.shown_status();
            b[AGENTS].put(&[&a.campaign, status], 1.0, add);
            b[AGENT_STATUS].put(&[&a.user, status], 1.0, keep);
            if let Some(secs) = a.state_seconds {
                // The same login twice (two dialers, no server_ip filter): the longer time in the state wins.
                b[AGENT_STATE_SECONDS].put(&[&a.user, status], secs.max(0) as f64, max);
            }
            if status == "PAUSED" && !a.pause_code.is_empty() {
                b[AGENT_PAUSE_CODE].put(&[&a.user, &a.pause_code], 1.0, keep);
            }
        }
        for g in &r.auto_calls {
            b[AUTO_CALLS].put(&[&g.campaign, &g.key], g.count as f64, add);
        }
        b[RECORDINGS_MISSING].put(&[], r.recordings_missing as f64, keep);
        let mut wait: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        for g in &r.closer {
            b[INBOUND_LAST_HOUR].put(&[&g.campaign, &g.key], g.count as f64, add);
            let w = wait.entry(&g.campaign).or_default();
            w.0 += g.count;
            w.1 += g.queue_seconds;
        }
        for (c, (n, sum)) in wait {
            if n > 0 {
                b[QUEUE_WAIT_AVG].put(&[c], sum / n as f64, keep);
            }
        }
        kpi::build(&r.kpi, &mut b);
        let mut dropped = [0u64; FAMILY_COUNT];
        let mut snap = Snapshot {
            summary: summary(r),
            ..Snapshot::default()
        };
        for (i, builder) in b.into_iter().enumerate() {
            let (rows, d) = builder.finish(&FAMILIES[i]);
            snap.rows[i] = rows;
            dropped[i] = d;
        }
        (snap, dropped)
    }

    /// Series in all families.
    pub fn series_count(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// One family of the latest snapshot as the page renderer sees it. `rows` is empty while the reader is down, so the
/// family is left out, but its dropped-series count stays on the page.
pub struct FamilyView<'a> {
    /// The family.
    pub def: &'static FamilyDef,
    /// Its lines (empty when there is no current snapshot).
    pub rows: &'a [(Box<str>, f64)],
    /// Series dropped by the cap since the reader started.
    pub dropped: u64,
}

impl Collect for FamilyView<'_> {
    fn name(&self) -> &str {
        self.def.name
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        if self.rows.is_empty() {
            return;
        }
        w.header(self.def.name, self.def.help, Kind::Gauge);
        for (labels, v) in self.rows {
            w.sample_f64(self.def.name, labels, *v);
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped
    }
    fn series_count(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Format;

    fn agent(user: &str, status: &str, campaign: &str, code: &str, lead: u64) -> AgentRow {
        AgentRow {
            user: user.into(),
            status: status.into(),
            campaign: campaign.into(),
            pause_code: code.into(),
            lead_id: lead,
            state_seconds: Some(7),
        }
    }

    fn page(s: &Snapshot) -> String {
        let mut w = PageWriter::new(Format::Text004, "");
        for (i, def) in FAMILIES.iter().enumerate() {
            FamilyView {
                def,
                rows: &s.rows[i],
                dropped: 0,
            }
            .render(&mut w);
        }
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn dispo_pause_codes_and_zero_filled_campaigns() {
        let r = Reading {
            agents: vec![
                agent("a1", "PAUSED", "C1", "LUNCH", 0),
                agent("a2", "PAUSED", "C1", "", 0),
                agent("a3", "PAUSED", "C1", "BRK", 42),
                agent("a4", "READY", "C2", "", 0),
            ],
            ..Reading::default()
        };
        let (s, dropped) = Snapshot::build(&r, 100);
        assert_eq!(dropped, [0; FAMILY_COUNT]);
        let p = page(&s);
        assert!(
            p.contains("vicidial_agents{campaign=\"C1\",status=\"PAUSED\"} 2\n"),
            "{p}"
        );
        assert!(p.contains("vicidial_agents{campaign=\"C1\",status=\"DISPO\"} 1\n"));
        assert!(p.contains("vicidial_agents{campaign=\"C2\",status=\"READY\"} 1\n"));
        assert!(p.contains("vicidial_agents{campaign=\"C2\",status=\"INCALL\"} 0\n"));
        assert_eq!(s.rows[AGENTS].len(), 2 * AGENT_STATUSES.len());
        assert!(p.contains("vicidial_agent_pause_code{agent=\"a1\",pause_code=\"LUNCH\"} 1\n"));
        assert!(
            !p.contains("agent=\"a2\",pause_code"),
            "no series for an empty code"
        );
        assert!(
            !p.contains("agent=\"a3\",pause_code"),
            "DISPO is not PAUSED"
        );
        assert!(p.contains("vicidial_agent_state_seconds{agent=\"a3\",status=\"DISPO\"} 7\n"));
        assert!(p.contains("vicidial_recordings_missing 0\n"));
    }

    #[test]
    fn queue_wait_is_averaged_over_every_term_reason() {
        let g = |c: &str, k: &str, n: u64, q: f64| GroupRow {
            campaign: c.into(),
            key: k.into(),
            count: n,
            queue_seconds: q,
        };
        let r = Reading {
            closer: vec![g("IN1", "CALLER", 3, 30.0), g("IN1", "ABANDON", 1, 50.0)],
            ..Reading::default()
        };
        let (s, _) = Snapshot::build(&r, 100);
        let p = page(&s);
        assert!(p.contains("vicidial_queue_wait_seconds_avg_last_hour{campaign=\"IN1\"} 20\n"));
        assert!(p.contains(
            "vicidial_inbound_calls_last_hour{campaign=\"IN1\",term_reason=\"ABANDON\"} 1\n"
        ));
    }

    #[test]
    fn the_cap_drops_and_counts_new_series() {
        let r = Reading {
            agents: (0..10)
                .map(|i| agent(&format!("a{i}"), "INCALL", "C", "", 1))
                .collect(),
            ..Reading::default()
        };
        let (s, dropped) = Snapshot::build(&r, 4);
        assert_eq!(s.rows[AGENT_STATUS].len(), 4);
        assert_eq!(dropped[AGENT_STATUS], 6);
        assert_eq!(dropped[AGENTS], 3, "7 statuses of one campaign, 4 kept");
    }

    #[test]
    fn hostile_label_values_are_escaped() {
        let r = Reading {
            agents: vec![agent("x\"y\\z\n", "READY", "C", "", 0)],
            ..Reading::default()
        };
        let (s, _) = Snapshot::build(&r, 100);
        assert!(page(&s)
            .contains("vicidial_agent_status{agent=\"x\\\"y\\\\z\\n\",status=\"READY\"} 1\n"));
    }
}
