//! What one poll learns from fail2ban-server, read out of its decoded answers, and the `fail2ban_*` families built
//! from it. The answers are nested `(name, value)` pairs, as `fail2ban-client status` prints them:
//! `status` gives `[("Number of jail", n), ("Jail list", "a, b")]`; `status JAIL` gives
//! `[("Filter", [("Currently failed", n), ("Total failed", n), ...]), ("Actions", [("Currently banned", n),
//! ("Total banned", n), ...])]`.

use crate::registry::render::{render_labels, Kind, PageWriter};
use crate::registry::Collect;
use serde_pickle::Value;
use std::collections::BTreeMap;

/// One jail's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JailStatus {
    /// Jail name.
    pub name: String,
    /// Addresses with failures not (yet) banned.
    pub currently_failed: u64,
    /// Failures seen since the jail started.
    pub total_failed: u64,
    /// Addresses banned now.
    pub currently_banned: u64,
    /// Bans since the jail started.
    pub total_banned: u64,
}

/// Everything one poll read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// fail2ban's version.
    pub version: String,
    /// Jails the server runs (whatever `fail2ban.jails` selects).
    pub jails_running: usize,
    /// The selected jails, by name.
    pub jails: Vec<JailStatus>,
}

/// The value of the pair named `key` in a list of `(name, value)` pairs.
fn field<'a>(pairs: &'a Value, key: &str) -> Result<&'a Value, String> {
    let items = match pairs {
        Value::List(v) | Value::Tuple(v) => v,
        _ => return Err("is not a list of (name, value) pairs".into()),
    };
    items
        .iter()
        .find_map(|item| match item {
            Value::Tuple(p) | Value::List(p) if p.len() == 2 => match &p[0] {
                Value::String(name) if name == key => Some(&p[1]),
                _ => None,
            },
            _ => None,
        })
        .ok_or_else(|| format!("has no \"{key}\""))
}

fn count(v: &Value, key: &str) -> Result<u64, String> {
    match v {
        Value::I64(n) if *n >= 0 => Ok(*n as u64),
        _ => Err(format!("has \"{key}\" that is not a count")),
    }
}

/// The jail names of a `status` answer, and how many the server says it runs.
pub fn jail_list(status: &Value) -> Result<(usize, Vec<String>), String> {
    let n = count(field(status, "Number of jail")?, "Number of jail")?;
    let list = match field(status, "Jail list")? {
        Value::String(s) => s,
        _ => return Err("has a \"Jail list\" that is not text".into()),
    };
    let names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    Ok((usize::try_from(n).unwrap_or(usize::MAX), names))
}

/// The numbers of a `status JAIL` answer.
pub fn jail_status(name: &str, v: &Value) -> Result<JailStatus, String> {
    let filter = field(v, "Filter")?;
    let actions = field(v, "Actions")?;
    let get = |pairs: &Value, key: &str| field(pairs, key).and_then(|x| count(x, key));
    Ok(JailStatus {
        name: name.to_string(),
        currently_failed: get(filter, "Currently failed")?,
        total_failed: get(filter, "Total failed")?,
        currently_banned: get(actions, "Currently banned")?,
        total_banned: get(actions, "Total banned")?,
    })
}

/// Whether a server of this version knows the `short` jail status (without the list of banned addresses): 1.0.2
/// does; older ones would log a warning for it, so they are asked for the full one.
pub fn knows_short_status(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v >= (1, 0, 2)
}

/// A family's fixed parts.
pub struct FamilyDef {
    /// Metric name.
    pub name: &'static str,
    /// HELP text.
    pub help: &'static str,
    /// Type.
    pub kind: Kind,
    /// Label names.
    pub labels: &'static [&'static str],
}

const JAIL: &[&str] = &["jail"];

/// The fail2ban families, in page order.
pub const FAMILIES: [FamilyDef; 6] = [
    FamilyDef {
        name: "fail2ban_build_info",
        help: "fail2ban-server's version (value 1).",
        kind: Kind::Gauge,
        labels: &["version"],
    },
    FamilyDef {
        name: "fail2ban_jails",
        help: "Jails fail2ban-server runs (all of them, whatever fail2ban.jails selects).",
        kind: Kind::Gauge,
        labels: &[],
    },
    FamilyDef {
        name: "fail2ban_banned",
        help: "Addresses a fail2ban jail bans now.",
        kind: Kind::Gauge,
        labels: JAIL,
    },
    FamilyDef {
        name: "fail2ban_bans_total",
        help: "Bans by a fail2ban jail since it started.",
        kind: Kind::Counter,
        labels: JAIL,
    },
    FamilyDef {
        name: "fail2ban_failed",
        help: "Addresses with failures a fail2ban jail counts now (not banned yet).",
        kind: Kind::Gauge,
        labels: JAIL,
    },
    FamilyDef {
        name: "fail2ban_failures_total",
        help: "Failures (matched log lines) seen by a fail2ban jail since it started.",
        kind: Kind::Counter,
        labels: JAIL,
    },
];

/// Sample lines of one family: pre-escaped labels and the value.
pub type Rows = Vec<(Box<str>, f64)>;

/// A complete reading, ready to render.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per family (indexed like [`FAMILIES`]).
    pub rows: [Rows; 6],
}

impl Snapshot {
    /// Builds the families from one reading, at most `cap` jails per family. Returns the snapshot and, per family,
    /// the series the cap dropped.
    pub fn build(r: &Reading, cap: usize) -> (Snapshot, [u64; 6]) {
        let mut snap = Snapshot::default();
        let mut dropped = [0u64; 6];
        snap.rows[0].push((render_labels(FAMILIES[0].labels, &[&r.version]).into(), 1.0));
        snap.rows[1].push((String::new().into(), r.jails_running as f64));
        let by_name: BTreeMap<&str, &JailStatus> =
            r.jails.iter().map(|j| (j.name.as_str(), j)).collect();
        for (i, (name, j)) in by_name.into_iter().enumerate() {
            let values = [
                j.currently_banned,
                j.total_banned,
                j.currently_failed,
                j.total_failed,
            ];
            for (f, v) in values.into_iter().enumerate() {
                if i < cap {
                    snap.rows[2 + f].push((render_labels(JAIL, &[name]).into(), v as f64));
                } else {
                    dropped[2 + f] += 1;
                }
            }
        }
        (snap, dropped)
    }

    /// Series in all families.
    pub fn series_count(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// One family of the latest snapshot as the page renderer sees it (no rows while the poller is down: left out).
pub struct FamilyView<'a> {
    /// The family.
    pub def: &'static FamilyDef,
    /// Its lines.
    pub rows: &'a [(Box<str>, f64)],
    /// Series dropped by the cap since the core started.
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
        w.header(self.def.name, self.def.help, self.def.kind);
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
    use crate::collect::fail2ban::client::answer;
    use crate::registry::Format;
    use serde_pickle::DeOptions;

    fn decode(hex: &str) -> Value {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        serde_pickle::value_from_slice(&bytes, DeOptions::new().replace_unresolved_globals())
            .unwrap()
    }

    // Answers of a fail2ban 1.0.2 server (Python 3.11, pickle protocol 5), as read from its socket.
    const STATUS: &str = "80059541000000000000004b005d94288c0e4e756d626572206f66206a61696c944b0286948c094a61696c206c697374948c127062782d617574682c207062782d7363616e9486946586942e";
    const JAIL_SHORT: &str = "800595a1000000000000004b005d94288c0646696c746572945d94288c1043757272656e746c79206661696c6564944b0186948c0c546f74616c206661696c6564944b0486948c0946696c65206c697374945d948c112f746d702f663262782f7062782e6c6f67946186946586948c07416374696f6e73945d94288c1043757272656e746c792062616e6e6564944b0186948c0c546f74616c2062616e6e6564944b0186946586946586942e";
    const JAIL_BASIC: &str = "800595b6000000000000004b005d94288c0646696c746572945d94288c1043757272656e746c79206661696c6564944b0186948c0c546f74616c206661696c6564944b0186948c0946696c65206c697374945d948c112f746d702f663262782f7062782e6c6f67946186946586948c07416374696f6e73945d94288c1043757272656e746c792062616e6e6564944b0086948c0c546f74616c2062616e6e6564944b0086948c0e42616e6e6564204950206c697374945d9486946586946586942e";

    #[test]
    fn real_answers_are_read() {
        let status = answer("status", decode(STATUS)).unwrap();
        assert_eq!(
            jail_list(&status).unwrap(),
            (2, vec!["pbx-auth".to_string(), "pbx-scan".to_string()])
        );
        let j = jail_status(
            "pbx-auth",
            &answer("status pbx-auth short", decode(JAIL_SHORT)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (
                j.currently_failed,
                j.total_failed,
                j.currently_banned,
                j.total_banned
            ),
            (1, 4, 1, 1)
        );
        let j = jail_status(
            "pbx-scan",
            &answer("status pbx-scan", decode(JAIL_BASIC)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (
                j.currently_failed,
                j.total_failed,
                j.currently_banned,
                j.total_banned
            ),
            (1, 1, 0, 0)
        );
    }

    #[test]
    fn wrong_shapes_are_named() {
        let e = jail_status("x", &Value::List(vec![])).unwrap_err();
        assert_eq!(e, "has no \"Filter\"");
        let pair = |k: &str, v: Value| Value::Tuple(vec![Value::String(k.into()), v]);
        let v = Value::List(vec![
            pair(
                "Filter",
                Value::List(vec![pair("Currently failed", Value::I64(-1))]),
            ),
            pair("Actions", Value::List(vec![])),
        ]);
        assert_eq!(
            jail_status("x", &v).unwrap_err(),
            "has \"Currently failed\" that is not a count"
        );
        assert!(jail_list(&Value::String("x".into())).is_err());
    }

    #[test]
    fn short_status_from_1_0_2_on() {
        assert!(knows_short_status("1.0.2"));
        assert!(knows_short_status("1.1.0"));
        assert!(knows_short_status("1.0.3.dev1"));
        assert!(!knows_short_status("1.0.1"));
        assert!(!knows_short_status("0.11.2"));
        assert!(!knows_short_status("garbage"));
    }

    #[test]
    fn families_render_with_the_cap_counted() {
        let j = |n: &str, b: u64| JailStatus {
            name: n.into(),
            currently_banned: b,
            total_banned: b + 1,
            currently_failed: 2,
            total_failed: 9,
        };
        let r = Reading {
            version: "1.0.2".into(),
            jails_running: 3,
            jails: vec![j("sshd", 1), j("asterisk", 4), j("a\"b", 0)],
        };
        let (s, dropped) = Snapshot::build(&r, 2);
        assert_eq!(dropped, [0, 0, 1, 1, 1, 1]);
        let mut w = PageWriter::new(Format::Text004, "");
        for (i, def) in FAMILIES.iter().enumerate() {
            FamilyView {
                def,
                rows: &s.rows[i],
                dropped: 0,
            }
            .render(&mut w);
        }
        let page = String::from_utf8(w.finish()).unwrap();
        assert!(
            page.contains("fail2ban_build_info{version=\"1.0.2\"} 1\n"),
            "{page}"
        );
        assert!(page.contains("fail2ban_jails 3\n"));
        assert!(page.contains("# TYPE fail2ban_bans_total counter\n"));
        assert!(
            page.contains("fail2ban_banned{jail=\"a\\\"b\"} 0\n"),
            "escaped, first by name"
        );
        assert!(page.contains("fail2ban_bans_total{jail=\"asterisk\"} 5\n"));
        assert!(
            !page.contains("jail=\"sshd\""),
            "third by name: over the cap"
        );
        assert!(page.contains("fail2ban_failures_total{jail=\"asterisk\"} 9\n"));
    }
}
