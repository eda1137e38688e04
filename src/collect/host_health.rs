//! Health of collectors that run in the host rather than on a thread of ours: the host samples its own source (a
//! Kamailio shim reading counters and RPCs on the exporter process's main thread) and reports each attempt with
//! `prom_rs_collector_report`. The page shows them like the pollers (`prom_rs_collector_up{collector=...}`, last
//! success, duration); a collector whose reports stop is shown down after three sample intervals, so a host thread
//! that hangs is visible even though the HTTP thread keeps serving.

use super::health::{CollectorHealth, HealthRow};
use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most host-reported collectors one core shows (a host reports a handful; more is a host bug).
pub const MAX_HOST_COLLECTORS: usize = 8;

/// Longest collector name a host may report.
pub const MAX_NAME_LEN: usize = 32;

/// Names the core's own collectors use: a host collector may not take them (the page would repeat a series).
const RESERVED: &[&str] = &["sampler", "vicidial"];

/// Collector names seen in this process, leaked once each so rows can carry `&'static str` like the pollers' rows.
/// Bounded: a name is added only after it passed validation and the per-core cap, and names are shared by every
/// core this process starts.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// At most this many distinct names are ever interned per process.
const MAX_INTERNED: usize = 64;

fn intern(name: &str) -> Option<&'static str> {
    let mut names = lock(&NAMES);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return Some(n);
    }
    if names.len() >= MAX_INTERNED {
        return None;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    Some(leaked)
}

/// Checks a host collector name: 1 to 32 characters of `a-z`, `0-9` and `_`, not a name of the core's own.
pub fn validate_name(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(40).filter(|c| !c.is_control()).collect();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "collector name \"{shown}\" must have 1 to {MAX_NAME_LEN} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "collector name \"{shown}\" may only contain a-z, 0-9 and _"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "collector name \"{name}\" is the core's own collector; choose another"
        ));
    }
    Ok(())
}

struct Entry {
    health: Arc<CollectorHealth>,
    last_report: Instant,
}

/// The host-reported collectors of one core.
#[derive(Default)]
pub struct HostHealth {
    entries: Mutex<Vec<Entry>>,
}

impl HostHealth {
    /// Records one attempt of collector `name`: whether it worked and how long it took (seconds).
    pub fn report(&self, name: &str, ok: bool, duration: f64) -> Result<(), String> {
        validate_name(name)?;
        if !duration.is_finite() || duration < 0.0 {
            return Err(format!(
                "collector {name}: duration {duration} is not a finite number of seconds >= 0"
            ));
        }
        let mut entries = lock(&self.entries);
        let i = match entries.iter().position(|e| e.health.name() == name) {
            Some(i) => i,
            None => {
                if entries.len() >= MAX_HOST_COLLECTORS {
                    return Err(format!(
                        "collector {name}: at most {MAX_HOST_COLLECTORS} host collectors may report"
                    ));
                }
                let Some(name) = intern(name) else {
                    return Err(format!("collector {name}: too many collector names"));
                };
                entries.push(Entry {
                    health: CollectorHealth::new(name),
                    last_report: Instant::now(),
                });
                entries.len() - 1
            }
        };
        let e = &mut entries[i];
        if ok {
            e.health.success();
        } else {
            e.health.failure();
        }
        e.health.set_duration(duration);
        e.last_report = Instant::now();
        Ok(())
    }

    /// One row per reporting collector: up while its last report worked and is at most `3 * interval` old.
    pub fn rows(&self, interval: Duration) -> Vec<HealthRow> {
        let stale_after = interval.max(Duration::from_millis(100)) * 3;
        lock(&self.entries)
            .iter()
            .map(|e| {
                let mut row = e.health.row();
                row.up = row.up && e.last_report.elapsed() <= stale_after;
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_rows_with_up_last_success_and_duration() {
        let h = HostHealth::default();
        assert!(h.rows(Duration::from_secs(1)).is_empty());
        h.report("kamailio", true, 0.004).unwrap();
        let rows = h.rows(Duration::from_secs(1));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "kamailio");
        assert!(rows[0].up);
        assert_eq!(rows[0].duration, Some(0.004));
        let first_success = rows[0].last_success;
        assert!(first_success > 1.0e9);
        h.report("kamailio", false, 0.5).unwrap();
        let rows = h.rows(Duration::from_secs(1));
        assert_eq!(rows.len(), 1, "one row per name");
        assert!(!rows[0].up);
        assert_eq!(rows[0].duration, Some(0.5));
        assert_eq!(
            rows[0].last_success, first_success,
            "a failure keeps the last success"
        );
    }

    #[test]
    fn a_collector_that_stops_reporting_is_down_after_three_intervals() {
        let h = HostHealth::default();
        h.report("kamailio", true, 0.0).unwrap();
        assert!(h.rows(Duration::from_millis(100)).iter().all(|r| r.up));
        std::thread::sleep(Duration::from_millis(350));
        assert!(h.rows(Duration::from_millis(100)).iter().all(|r| !r.up));
        assert!(h.rows(Duration::from_secs(10)).iter().all(|r| r.up));
    }

    #[test]
    fn bad_names_and_durations_are_refused_with_the_reason() {
        let h = HostHealth::default();
        for (name, want) in [
            ("", "1 to 32"),
            ("Kamailio", "a-z, 0-9"),
            ("a b", "a-z, 0-9"),
            ("x\ny", "a-z, 0-9"),
            ("sampler", "core's own"),
            ("vicidial", "core's own"),
        ] {
            let e = h.report(name, true, 0.0).unwrap_err();
            assert!(e.contains(want), "{name:?}: {e}");
            assert!(!e.contains('\n'), "no control characters echoed: {e:?}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(h.report(&long, true, 0.0).is_err());
        assert!(h.report(&"a".repeat(MAX_NAME_LEN), true, 0.0).is_ok());
        for d in [f64::NAN, -1.0, f64::INFINITY] {
            assert!(h
                .report("kamailio", true, d)
                .unwrap_err()
                .contains("duration"));
        }
    }

    #[test]
    fn the_number_of_host_collectors_is_capped() {
        let h = HostHealth::default();
        for i in 0..MAX_HOST_COLLECTORS {
            h.report(&format!("c{i}"), true, 0.0).unwrap();
        }
        let e = h.report("one_more", true, 0.0).unwrap_err();
        assert!(e.contains("at most"), "{e}");
        h.report("c0", false, 0.0).unwrap();
        assert_eq!(h.rows(Duration::from_secs(1)).len(), MAX_HOST_COLLECTORS);
    }
}
