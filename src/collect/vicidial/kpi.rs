//! What a call-center manager and a compliance officer read off ViciDial: drop rate against the legal ceiling,
//! dialer health, in-group service level and abandons, handle time and agent time, per campaign or in-group.
//!
//! Plain rows in, `vicidial_*` families out (no database types here). Each group of families is `None` when its
//! tables are not readable (missing, older schema, no GRANT): that group is left off the page while every other
//! family is served.

use super::snapshot::{add, keep, Builder, FamilyDef};
use std::collections::BTreeSet;

/// First index of the KPI families in [`super::FAMILIES`].
pub(crate) const FIRST: usize = 8;
pub(crate) const CALLS_TODAY: usize = FIRST;
pub(crate) const ANSWERS_TODAY: usize = FIRST + 1;
pub(crate) const DROPS_TODAY: usize = FIRST + 2;
pub(crate) const DROP_RATIO_TODAY: usize = FIRST + 3;
pub(crate) const CALLS_LAST_MINUTE: usize = FIRST + 4;
pub(crate) const DROPS_30D: usize = FIRST + 5;
pub(crate) const ANSWERS_30D: usize = FIRST + 6;
pub(crate) const ACTIVE: usize = FIRST + 7;
pub(crate) const DIAL_LEVEL: usize = FIRST + 8;
pub(crate) const DIAL_METHOD: usize = FIRST + 9;
pub(crate) const HOPPER: usize = FIRST + 10;
pub(crate) const IN_CALLS: usize = FIRST + 11;
pub(crate) const IN_ANSWERED: usize = FIRST + 12;
pub(crate) const IN_WITHIN_SL: usize = FIRST + 13;
pub(crate) const IN_ABANDONED: usize = FIRST + 14;
pub(crate) const IN_SL_SECONDS: usize = FIRST + 15;
pub(crate) const AGENT_SECONDS: usize = FIRST + 16;
pub(crate) const AGENT_CALLS: usize = FIRST + 17;
pub(crate) const HANDLE_AVG: usize = FIRST + 18;
const _: () = assert!(HANDLE_AVG + 1 == super::snapshot::FAMILY_COUNT);

/// The KPI families, in page order (after the live-state ones).
pub(super) const FAMILIES: [FamilyDef; 19] = [
    FamilyDef {
        name: "vicidial_campaign_calls_today",
        help: "Calls placed today by campaign (vicidial_campaign_stats.calls_today, kept by ViciDial).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_answers_today",
        help: "Human-answered calls today by campaign (vicidial_campaign_stats.answers_today).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_drops_today",
        help: "Dropped calls today by campaign (vicidial_campaign_stats.drops_today; fractional under the UK Ofcom method).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_drop_answered_ratio_today",
        help: "Drops over human-answered calls today, as ViciDial computes it for the campaign (drops_answers_today_pct / 100; drop rate groups and Ofcom included).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_calls_last_minute",
        help: "Calls the campaign placed in the last minute (vicidial_campaign_stats.calls_onemin).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_drops_30d",
        help: "Dropped outbound calls (status DROP) of today and the 29 days before, by campaign, from vicidial_log.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_answers_30d",
        help: "Human-answered outbound calls (statuses with human_answered = Y) of today and the 29 days before, by campaign, from vicidial_log.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_active",
        help: "1 when the campaign is active (vicidial_campaigns.active = Y), else 0.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_dial_level",
        help: "The campaign's current auto-dial level (lines dialed per waiting agent).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_dial_method",
        help: "The campaign's dial method (value 1).",
        labels: &["campaign", "dial_method"],
    },
    FamilyDef {
        name: "vicidial_hopper_leads",
        help: "Leads in the campaign's hopper ready to dial (READY, RHOLD, RQUEUE); 0 for a campaign with none.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_inbound_calls_today",
        help: "Inbound (closer) calls of today by in-group.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_inbound_answered_today",
        help: "Inbound calls of today answered by an agent, by in-group.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_inbound_answered_within_service_level_today",
        help: "Inbound calls of today answered after at most the in-group's service-level seconds in queue, by in-group.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_inbound_abandoned_today",
        help: "Inbound calls of today dropped before an agent answered (status DROP or XDROP), by in-group.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_inbound_service_level_seconds",
        help: "The in-group's service-level target: seconds in queue within which a call counts as answered in time.",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_agent_seconds_today",
        help: "Agent time of today by campaign and state (pause, wait, talk, dispo, dead), summed over agents.",
        labels: &["campaign", "state"],
    },
    FamilyDef {
        name: "vicidial_campaign_agent_calls_today",
        help: "Calls agents handled today by campaign (agent log rows with a lead).",
        labels: &["campaign"],
    },
    FamilyDef {
        name: "vicidial_campaign_handle_seconds_avg_today",
        help: "Average handle time of today by campaign: talk plus dispo (wrap-up) seconds over handled calls.",
        labels: &["campaign"],
    },
];

/// The agent-time states of `vicidial_campaign_agent_seconds_today`, in page order.
pub const AGENT_STATES: [&str; 5] = ["pause", "wait", "talk", "dispo", "dead"];

/// One `vicidial_campaigns` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignRow {
    /// `campaign_id`.
    pub campaign: String,
    /// `active = 'Y'`.
    pub active: bool,
    /// `dial_method` (MANUAL, RATIO, ADAPT_*, INBOUND_MAN, SHARED_*).
    pub dial_method: String,
    /// `auto_dial_level` (text in the schema; `None` when it is not a number).
    pub dial_level: Option<f64>,
}

/// One `vicidial_campaign_stats` row: ViciDial's own counters of today, kept by its adapt script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignStatsRow {
    /// `campaign_id`.
    pub campaign: String,
    /// `calls_today`.
    pub calls: f64,
    /// `answers_today` (human-answered).
    pub answers: f64,
    /// `drops_today` (fractional under the UK Ofcom method).
    pub drops: f64,
    /// `drops_answers_today_pct`, a percentage (`None` when not a number).
    pub drop_answered_pct: Option<f64>,
    /// `calls_onemin`: calls placed in the last minute.
    pub calls_last_minute: f64,
}

/// In-group counts of today and the in-group's service-level setting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InGroupRow {
    /// `group_id` (the closer log's `campaign_id`).
    pub ingroup: String,
    /// `answer_sec_pct_rt_stat_one`.
    pub threshold_seconds: f64,
    /// Closer calls today.
    pub calls: u64,
    /// Answered today.
    pub answered: u64,
    /// Answered with `queue_seconds` at most the threshold.
    pub within: u64,
    /// Dropped (abandoned) today.
    pub abandoned: u64,
}

/// Agent time of today in one campaign, from `vicidial_agent_log`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentTimeRow {
    /// `campaign_id`.
    pub campaign: String,
    /// Seconds in pause, wait, talk, dispo, dead (order of [`AGENT_STATES`]).
    pub seconds: [f64; 5],
    /// Handled calls (rows with a lead).
    pub calls: u64,
    /// Talk plus dispo seconds of the handled calls.
    pub handle_seconds: f64,
}

/// Drops and human-answered calls of one campaign over the 30-day window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DropWindowRow {
    /// `campaign_id`.
    pub campaign: String,
    /// Dropped calls.
    pub drops: u64,
    /// Human-answered calls.
    pub answers: u64,
}

/// Everything the KPI queries read in one poll; `None`: that group is off (unreadable, or the 30-day window is not
/// complete yet).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiReading {
    /// `vicidial_campaigns`.
    pub campaigns: Option<Vec<CampaignRow>>,
    /// `vicidial_campaign_stats`.
    pub stats: Option<Vec<CampaignStatsRow>>,
    /// `vicidial_hopper`: (campaign, leads ready to dial).
    pub hopper: Option<Vec<(String, u64)>>,
    /// `vicidial_closer_log` today joined with `vicidial_inbound_groups`.
    pub ingroups: Option<Vec<InGroupRow>>,
    /// `vicidial_agent_log` today.
    pub agent_time: Option<Vec<AgentTimeRow>>,
    /// `vicidial_log` over the 30-day window.
    pub drops_30d: Option<Vec<DropWindowRow>>,
}

/// Adds the KPI families of `k` to the builders (indexed like [`super::FAMILIES`]).
pub(super) fn build(k: &KpiReading, b: &mut [Builder]) {
    if let Some(campaigns) = &k.campaigns {
        for c in campaigns {
            let id = c.campaign.as_str();
            b[ACTIVE].put(&[id], f64::from(u8::from(c.active)), keep);
            if let Some(level) = c.dial_level {
                b[DIAL_LEVEL].put(&[id], level, keep);
            }
            b[DIAL_METHOD].put(&[id, &c.dial_method], 1.0, keep);
        }
    }
    if let Some(stats) = &k.stats {
        for s in stats {
            let id = [s.campaign.as_str()];
            b[CALLS_TODAY].put(&id, s.calls, add);
            b[ANSWERS_TODAY].put(&id, s.answers, add);
            b[DROPS_TODAY].put(&id, s.drops, add);
            if let Some(pct) = s.drop_answered_pct {
                b[DROP_RATIO_TODAY].put(&id, pct / 100.0, keep);
            }
            b[CALLS_LAST_MINUTE].put(&id, s.calls_last_minute, add);
        }
    }
    if let Some(hopper) = &k.hopper {
        // Every known campaign, so an empty hopper is a 0 an alert can see, not a missing series.
        let known: BTreeSet<&str> = k
            .campaigns
            .iter()
            .flatten()
            .map(|c| c.campaign.as_str())
            .collect();
        for c in known {
            b[HOPPER].put(&[c], 0.0, keep);
        }
        for (c, n) in hopper {
            b[HOPPER].put(&[c], *n as f64, add);
        }
    }
    if let Some(groups) = &k.ingroups {
        for g in groups {
            let id = [g.ingroup.as_str()];
            b[IN_CALLS].put(&id, g.calls as f64, add);
            b[IN_ANSWERED].put(&id, g.answered as f64, add);
            b[IN_WITHIN_SL].put(&id, g.within as f64, add);
            b[IN_ABANDONED].put(&id, g.abandoned as f64, add);
            b[IN_SL_SECONDS].put(&id, g.threshold_seconds, keep);
        }
    }
    if let Some(rows) = &k.agent_time {
        for r in rows {
            let c = r.campaign.as_str();
            for (state, secs) in AGENT_STATES.iter().zip(r.seconds) {
                b[AGENT_SECONDS].put(&[c, state], secs, add);
            }
            b[AGENT_CALLS].put(&[c], r.calls as f64, add);
            if r.calls > 0 {
                b[HANDLE_AVG].put(&[c], r.handle_seconds / r.calls as f64, keep);
            }
        }
    }
    if let Some(rows) = &k.drops_30d {
        for r in rows {
            b[DROPS_30D].put(&[&r.campaign], r.drops as f64, add);
            b[ANSWERS_30D].put(&[&r.campaign], r.answers as f64, add);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::vicidial::snapshot::{Reading, Snapshot};

    #[test]
    fn groups_that_are_off_leave_no_series_and_empty_hoppers_are_zero() {
        let k = KpiReading {
            campaigns: Some(vec![
                CampaignRow {
                    campaign: "A".into(),
                    active: true,
                    dial_method: "RATIO".into(),
                    dial_level: Some(2.5),
                },
                CampaignRow {
                    campaign: "B".into(),
                    active: false,
                    dial_method: "MANUAL".into(),
                    dial_level: None,
                },
            ]),
            hopper: Some(vec![("A".into(), 7)]),
            agent_time: Some(vec![AgentTimeRow {
                campaign: "A".into(),
                seconds: [1.0, 2.0, 3.0, 4.0, 5.0],
                calls: 4,
                handle_seconds: 10.0,
            }]),
            ..KpiReading::default()
        };
        let r = Reading {
            kpi: k,
            ..Reading::default()
        };
        let (s, _) = Snapshot::build(&r, 100);
        let lines = |i: usize| -> Vec<String> {
            s.rows[i].iter().map(|(l, v)| format!("{l} {v}")).collect()
        };
        assert_eq!(lines(HOPPER), ["campaign=\"A\" 7", "campaign=\"B\" 0"]);
        assert_eq!(lines(DIAL_LEVEL), ["campaign=\"A\" 2.5"]);
        assert_eq!(lines(ACTIVE), ["campaign=\"A\" 1", "campaign=\"B\" 0"]);
        assert_eq!(lines(HANDLE_AVG), ["campaign=\"A\" 2.5"]);
        assert_eq!(s.rows[AGENT_SECONDS].len(), 5);
        for off in [CALLS_TODAY, DROPS_30D, IN_CALLS, IN_SL_SECONDS] {
            assert!(s.rows[off].is_empty(), "{off}");
        }
    }
}
