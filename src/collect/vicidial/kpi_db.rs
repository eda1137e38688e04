//! The KPI queries: SELECT only, columns by name, every one bounded by an indexed time window or by a small table
//! (and a LIMIT), on the reader's one connection.
//!
//! Indexes they rely on, as ViciDial creates them: `vicidial_log (call_date)`, `vicidial_closer_log (call_date)`,
//! `vicidial_agent_log (event_time)`, the primary keys of `vicidial_campaigns`, `vicidial_campaign_stats` and
//! `vicidial_inbound_groups`. `vicidial_hopper`, the status tables and the campaign tables are small (a few hundred to
//! a few thousand rows).
//!
//! The 30-day drop rate reads `vicidial_log`, which holds every outbound call: a month of a large center is millions
//! of rows, too many to count every poll. Closed days are counted once, a few per poll within half the query
//! timeout, and kept (yesterday is read again until 01:00, for calls dispositioned after midnight); only today's rows
//! are counted every poll. The families appear once all 29 closed days are in.
//!
//! A group whose table or column is missing, or that the account may not read, is switched off with one log line
//! naming it (tried again every 10 minutes); the other families go on. Any other failure fails the poll.

use super::db::{number, opt_number, text, Db, Failure};
use super::kpi::{
    AgentTimeRow, CampaignRow, CampaignStatsRow, DropWindowRow, InGroupRow, KpiReading,
};
use crate::config::VicidialConfig;
use crate::log::Level;
use mysql::{Params, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const CAMPAIGNS_SQL: &str =
    "SELECT campaign_id, active, dial_method, auto_dial_level FROM vicidial_campaigns LIMIT 10000";
const STATS_SQL: &str = "SELECT campaign_id, calls_today, answers_today, drops_today, \
     drops_answers_today_pct, calls_onemin FROM vicidial_campaign_stats LIMIT 10000";
/// The statuses ViciDial's adapt script counts as ready to dial.
const HOPPER_SQL: &str = "SELECT campaign_id, COUNT(*) FROM vicidial_hopper \
     WHERE status IN ('READY','RHOLD','RQUEUE') GROUP BY campaign_id LIMIT 10000";
const INGROUPS_SQL: &str =
    "SELECT group_id, active, answer_sec_pct_rt_stat_one FROM vicidial_inbound_groups LIMIT 10000";
/// Statuses of a closer call that was not answered by an agent (ViciDial's in-group statistics exclude them).
const NOT_ANSWERED: &str =
    "('DROP','XDROP','HXFER','QVMAIL','HOLDTO','LIVE','QUEUE','TIMEOT','AFTHRS','NANQUE','IQNANQ','INBND','MAXCAL')";
/// Closer calls of today per in-group; answered in time = queue_seconds at most the in-group's
/// `answer_sec_pct_rt_stat_one`, the boundary included, as ViciDial counts it.
fn closer_today_sql() -> String {
    format!(
        "SELECT cl.campaign_id, COUNT(*), SUM(cl.status NOT IN {NOT_ANSWERED}), \
         SUM(cl.status NOT IN {NOT_ANSWERED} AND cl.queue_seconds <= ig.answer_sec_pct_rt_stat_one), \
         SUM(cl.status IN ('DROP','XDROP')) \
         FROM vicidial_closer_log cl JOIN vicidial_inbound_groups ig ON ig.group_id = cl.campaign_id \
         WHERE cl.call_date >= CURDATE() GROUP BY cl.campaign_id LIMIT 10000"
    )
}
/// Agent time of today; rows with a 65000 s or longer state are corrupt and left out, as ViciDial does.
const AGENT_TIME_SQL: &str = "SELECT campaign_id, SUM(pause_sec), SUM(wait_sec), SUM(talk_sec), \
     SUM(dispo_sec), SUM(dead_sec), SUM(lead_id > 0), SUM(IF(lead_id > 0, talk_sec + dispo_sec, 0)) \
     FROM vicidial_agent_log WHERE event_time >= CURDATE() AND pause_sec < 65000 AND wait_sec < 65000 \
     AND talk_sec < 65000 AND dispo_sec < 65000 AND dead_sec < 65000 GROUP BY campaign_id LIMIT 10000";
const CLOCK_SQL: &str = "SELECT CURDATE() + 0, TIME_TO_SEC(CURTIME())";
const SYSTEM_ANSWERED_SQL: &str =
    "SELECT status FROM vicidial_statuses WHERE human_answered = 'Y' LIMIT 10000";
const CAMPAIGN_ANSWERED_SQL: &str =
    "SELECT campaign_id, status FROM vicidial_campaign_statuses WHERE human_answered = 'Y' LIMIT 100000";
/// Outbound calls of one time range by campaign and status, with how many count as a drop by length (ViciDial's
/// outbound report leaves out DROP rows longer than 6000 s).
const LOG_RANGE_SQL: &str = "SELECT campaign_id, status, COUNT(*), \
     SUM(length_in_sec <= 6000 OR length_in_sec IS NULL) FROM vicidial_log \
     WHERE call_date >= ? AND call_date < ? GROUP BY campaign_id, status LIMIT 100000";

/// Closed days of the window (today is the 30th).
const WINDOW_DAYS: i64 = 29;
/// How long a switched-off group waits before it is tried again.
const RETRY_OFF: Duration = Duration::from_secs(600);

/// Families read together; a group is off as a whole when one of its tables or columns is not readable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Group {
    Campaigns,
    Stats,
    Hopper,
    InGroups,
    AgentTime,
    Drops30d,
}

impl Group {
    /// The families of the group, for log lines.
    fn families(self) -> &'static str {
        match self {
            Group::Campaigns => "vicidial_campaign_active, _dial_level and _dial_method",
            Group::Stats => "vicidial_campaign_*_today and vicidial_campaign_calls_last_minute",
            Group::Hopper => "vicidial_hopper_leads",
            Group::InGroups => {
                "vicidial_inbound_*_today and vicidial_inbound_service_level_seconds"
            }
            Group::AgentTime => {
                "vicidial_campaign_agent_*_today and vicidial_campaign_handle_seconds_avg_today"
            }
            Group::Drops30d => "vicidial_campaign_drops_30d and _answers_30d",
        }
    }
}

/// One closed day of `vicidial_log`: (campaign, status, rows, rows short enough to count as a drop).
struct Day {
    rows: Vec<(String, String, u64, u64)>,
    /// False while calls of the day may still be dispositioned (read before 01:00 the next day).
    settled: bool,
}

/// What the KPI side keeps between polls: switched-off groups and the closed days of the 30-day window.
#[derive(Default)]
pub(super) struct KpiState {
    off: BTreeMap<Group, (String, Instant)>,
    days: BTreeMap<i64, Day>,
    /// Lines for the log (level, text), taken by the session after each poll.
    pub(super) events: Vec<(Level, String)>,
}

impl KpiState {
    /// Runs `f` for group `g` unless the group is off and not due for a retry. A missing table or column or a
    /// missing privilege switches the group off (logged once per message); any other failure is returned.
    fn run<T>(
        &mut self,
        g: Group,
        f: impl FnOnce(&mut Self) -> Result<T, Failure>,
    ) -> Result<Option<T>, Failure> {
        if let Some((_, tried)) = self.off.get(&g) {
            if tried.elapsed() < RETRY_OFF {
                return Ok(None);
            }
        }
        match f(self) {
            Ok(v) => {
                if self.off.remove(&g).is_some() {
                    let line = format!("{} are back", g.families());
                    self.events.push((Level::Notice, line));
                }
                Ok(Some(v))
            }
            Err(e @ (Failure::Schema(..) | Failure::NoPrivilege(..))) => {
                let msg = e.to_string();
                if !matches!(self.off.get(&g), Some((m, _)) if *m == msg) {
                    let line = format!(
                        "{} are off: {msg}; every other family is served (tried again every 10 minutes)",
                        g.families()
                    );
                    self.events.push((Level::Warning, line));
                }
                if g == Group::Drops30d {
                    self.days.clear();
                }
                self.off.insert(g, (msg, Instant::now()));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Reads every KPI group. `stopped()` is checked before each query.
pub(super) fn read(
    db: &mut Db,
    cfg: &VicidialConfig,
    stopped: &dyn Fn() -> bool,
    st: &mut KpiState,
) -> Result<KpiReading, Failure> {
    let mut q =
        |table: &'static str, sql: &str, params: Params| db.rows(cfg, stopped, table, sql, params);
    let campaigns = st.run(Group::Campaigns, |_| {
        Ok(q("vicidial_campaigns", CAMPAIGNS_SQL, Params::Empty)?
            .iter()
            .map(|r| CampaignRow {
                campaign: text(r, 0),
                active: text(r, 1) == "Y",
                dial_method: text(r, 2),
                dial_level: opt_number(r, 3),
            })
            .collect())
    })?;
    let stats = st.run(Group::Stats, |_| {
        Ok(q("vicidial_campaign_stats", STATS_SQL, Params::Empty)?
            .iter()
            .map(|r| CampaignStatsRow {
                campaign: text(r, 0),
                calls: number(r, 1),
                answers: number(r, 2),
                drops: number(r, 3),
                drop_answered_pct: opt_number(r, 4),
                calls_last_minute: number(r, 5),
            })
            .collect())
    })?;
    let hopper = st.run(Group::Hopper, |_| {
        Ok(q("vicidial_hopper", HOPPER_SQL, Params::Empty)?
            .iter()
            .map(|r| (text(r, 0), number(r, 1) as u64))
            .collect())
    })?;
    let ingroups = st.run(Group::InGroups, |_| {
        let groups = q("vicidial_inbound_groups", INGROUPS_SQL, Params::Empty)?;
        let today = q(
            "vicidial_closer_log and vicidial_inbound_groups",
            &closer_today_sql(),
            Params::Empty,
        )?;
        let mut counts: BTreeMap<String, [u64; 4]> = today
            .iter()
            .map(|r| (text(r, 0), std::array::from_fn(|i| number(r, i + 1) as u64)))
            .collect();
        // Active in-groups are listed with zeros; inactive ones only when they had calls today (the join above
        // keeps only in-groups that exist).
        Ok(groups
            .iter()
            .filter_map(|r| {
                let ingroup = text(r, 0);
                let c = counts.remove(&ingroup);
                (c.is_some() || text(r, 1) == "Y").then(|| {
                    let [calls, answered, within, abandoned] = c.unwrap_or_default();
                    InGroupRow {
                        ingroup,
                        threshold_seconds: number(r, 2),
                        calls,
                        answered,
                        within,
                        abandoned,
                    }
                })
            })
            .collect())
    })?;
    let agent_time = st.run(Group::AgentTime, |_| {
        Ok(q("vicidial_agent_log", AGENT_TIME_SQL, Params::Empty)?
            .iter()
            .map(|r| AgentTimeRow {
                campaign: text(r, 0),
                seconds: std::array::from_fn(|i| number(r, i + 1)),
                calls: number(r, 6) as u64,
                handle_seconds: number(r, 7),
            })
            .collect())
    })?;
    let budget = cfg.query_timeout / 2;
    let drops_30d = st.run(Group::Drops30d, |st| {
        drop_window(&mut q, &mut st.days, budget)
    })?;
    Ok(KpiReading {
        campaigns,
        stats,
        hopper,
        ingroups,
        agent_time,
        drops_30d: drops_30d.flatten(),
    })
}

type Query<'a> = dyn FnMut(&'static str, &str, Params) -> Result<Vec<mysql::Row>, Failure> + 'a;

/// Counts of one range of `vicidial_log` (`to` = `None`: up to now).
fn log_range(
    q: &mut Query<'_>,
    from: i64,
    to: Option<i64>,
) -> Result<Vec<(String, String, u64, u64)>, Failure> {
    let to = to.map_or_else(|| "9999-12-31 00:00:00".to_string(), date_text);
    let params = Params::Positional(vec![Value::from(date_text(from)), Value::from(to)]);
    Ok(q("vicidial_log", LOG_RANGE_SQL, params)?
        .iter()
        .map(|r| {
            (
                text(r, 0),
                text(r, 1),
                number(r, 2) as u64,
                number(r, 3) as u64,
            )
        })
        .collect())
}

/// Drops and human-answered calls per campaign over today and the 29 days before (`None` while the closed days
/// are still being read in).
fn drop_window(
    q: &mut Query<'_>,
    days: &mut BTreeMap<i64, Day>,
    budget: Duration,
) -> Result<Option<Vec<DropWindowRow>>, Failure> {
    let clock = q("vicidial_log", CLOCK_SQL, Params::Empty)?;
    let (ymd, sec_of_day) = clock
        .first()
        .map(|r| (number(r, 0) as i64, number(r, 1)))
        .unwrap_or_default();
    let today = day_number(ymd);
    days.retain(|d, _| (today - WINDOW_DAYS..today).contains(d));
    let started = Instant::now();
    for d in (today - WINDOW_DAYS..today).rev() {
        if days.get(&d).is_some_and(|day| day.settled) {
            continue;
        }
        // At least one day per poll, then more while the poll has time.
        if started.elapsed() > budget && days.len() < WINDOW_DAYS as usize {
            break;
        }
        let rows = log_range(q, d, Some(d + 1))?;
        let settled = d < today - 1 || sec_of_day >= 3600.0;
        days.insert(d, Day { rows, settled });
    }
    let current = log_range(q, today, None)?;
    let system: BTreeSet<String> = q("vicidial_statuses", SYSTEM_ANSWERED_SQL, Params::Empty)?
        .iter()
        .map(|r| text(r, 0))
        .collect();
    let per_campaign: BTreeSet<(String, String)> = q(
        "vicidial_campaign_statuses",
        CAMPAIGN_ANSWERED_SQL,
        Params::Empty,
    )?
    .iter()
    .map(|r| (text(r, 0), text(r, 1)))
    .collect();
    if days.len() < WINDOW_DAYS as usize {
        return Ok(None);
    }
    let mut out: BTreeMap<&str, DropWindowRow> = BTreeMap::new();
    let all = days.values().flat_map(|d| d.rows.iter()).chain(&current);
    for (campaign, status, n, short) in all {
        let row = out.entry(campaign).or_insert_with(|| DropWindowRow {
            campaign: campaign.clone(),
            ..DropWindowRow::default()
        });
        if status == "DROP" {
            row.drops += short;
        }
        if system.contains(status) || per_campaign.contains(&(campaign.clone(), status.clone())) {
            row.answers += n;
        }
    }
    Ok(Some(out.into_values().collect()))
}

/// Days since 1970-01-01 of a `YYYYMMDD` date (proleptic Gregorian calendar).
fn day_number(ymd: i64) -> i64 {
    let (y, m, d) = (ymd / 10000, (ymd / 100) % 100, ymd % 100);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD 00:00:00` of a day number.
fn date_text(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} 00:00:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_across_months_leap_days_and_years() {
        assert_eq!(day_number(19700101), 0);
        assert_eq!(date_text(0), "1970-01-01 00:00:00");
        let leap = day_number(20240229);
        assert_eq!(date_text(leap + 1), "2024-03-01 00:00:00");
        assert_eq!(date_text(leap - 29), "2024-01-31 00:00:00");
        assert_eq!(date_text(day_number(20270101) - 1), "2026-12-31 00:00:00");
        assert_eq!(day_number(20261203) - day_number(20261103), 30);
    }
}
