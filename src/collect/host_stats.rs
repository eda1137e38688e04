//! Host statistics for OpenSIPS/Kamailio-style hosts: the host pushes `group`/`name` values, the core names them
//! `<prefix>_<group>_<name>` (or per `stats.group_mode`), types them, and serves them with everything else.
//!
//! Families are found by their `(group, name)` pair without allocating; a family is created on first sight with the
//! label names it was given, and later calls must use the same ones.

use crate::config::StatsConfig;
use crate::registry::metric::Gauge;
use crate::registry::render::{is_valid_label_name, Kind};
use crate::registry::{
    tuple_map, Collect, Family, FloatCounter, LabelKey, LabelRef, SeriesCap, TupleMap,
};
use crate::sync::lock;
use std::sync::{Arc, Mutex};

/// Most labels a statistic may carry.
pub const MAX_LABELS: usize = 8;

/// How the host wants a statistic typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// Counter when the name ends in `_total`, `_seconds` or `_bytes`, else gauge.
    Auto,
    /// Monotonic; rendered with a `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
}

enum StatFamily {
    Counter(Family<FloatCounter>),
    Gauge(Family<Gauge>),
}

impl StatFamily {
    fn collect(&self) -> &dyn Collect {
        match self {
            StatFamily::Counter(f) => f,
            StatFamily::Gauge(f) => f,
        }
    }
}

struct Entry {
    label_names: Box<[Box<str>]>,
    /// Shared by statistics exported under one name (group mode 2: the same name in several groups).
    family: Arc<StatFamily>,
    /// True when another entry owns (and renders) the family.
    shared: bool,
    /// The family's first label is `group` (group mode 2 when the entry was made; a mode change clears all entries).
    group_label: bool,
}

/// One statistic update.
pub struct StatUpdate<'a> {
    /// Statistic group (`core`, `tm`, `shmem` ...).
    pub group: &'a str,
    /// Statistic name.
    pub name: &'a str,
    /// Requested type.
    pub kind: StatKind,
    /// Label names and values (same length).
    pub labels: &'a [(&'a str, &'a str)],
}

/// The host statistics of one core.
pub struct HostStats {
    families: TupleMap<Entry>,
    cap: Arc<SeriesCap>,
    settings: Mutex<(StatsConfig, Vec<String>)>,
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl HostStats {
    /// No statistics yet. `const_labels` are the configured constant label names (a statistic may not reuse them).
    pub fn new(cfg: &StatsConfig, const_labels: Vec<String>, cap: Arc<SeriesCap>) -> HostStats {
        HostStats {
            families: tuple_map(),
            cap,
            settings: Mutex::new((cfg.clone(), const_labels)),
        }
    }

    /// Applies new settings; when naming changes, existing statistics are dropped (they would keep old names).
    pub fn reconfigure(&self, cfg: &StatsConfig, const_labels: Vec<String>) -> bool {
        let mut s = lock(&self.settings);
        let changed = s.0 != *cfg || s.1 != const_labels;
        *s = (cfg.clone(), const_labels);
        drop(s);
        if changed {
            self.families.pin().clear();
        }
        changed
    }

    fn selected(cfg: &StatsConfig, group: &str, name: &str) -> bool {
        cfg.statistics.iter().any(|s| {
            s == "all"
                || s.strip_suffix(':').is_some_and(|g| g == group)
                || s == name
                || s.split_once(':')
                    .is_some_and(|(g, n)| g == group && n == name)
        })
    }

    fn create(&self, u: &StatUpdate<'_>) -> Result<Option<Entry>, String> {
        let s = lock(&self.settings);
        let (cfg, const_labels) = (&s.0, &s.1);
        if !Self::selected(cfg, u.group, u.name) {
            return Ok(None);
        }
        if u.name.is_empty() {
            return Err("statistic name is empty".into());
        }
        let base = sanitize(u.name);
        let mut full = match cfg.group_mode {
            1 if !u.group.is_empty() => format!("{}_{}_{}", cfg.prefix, sanitize(u.group), base),
            _ => format!("{}_{}", cfg.prefix, base),
        };
        let counter = Self::kind_of(u.kind, &base) == Kind::Counter;
        if counter && !full.ends_with("_total") {
            full.push_str("_total");
        }
        let mut names: Vec<&str> = Vec::new();
        if cfg.group_mode == 2 {
            names.push("group");
        }
        for (n, _) in u.labels {
            if !is_valid_label_name(n) || names.contains(n) || const_labels.iter().any(|c| c == n) {
                return Err(format!(
                    "statistic {}:{}: label name \"{n}\" is not valid, repeated, or used by the constant labels",
                    u.group, u.name
                ));
            }
            names.push(n);
        }
        let label_names: Box<[Box<str>]> = u.labels.iter().map(|(n, _)| Box::from(*n)).collect();
        // One family per exported name: a second one would repeat HELP/TYPE (an invalid page).
        if let Some((_, e)) = self
            .families
            .pin()
            .iter()
            .find(|(_, e)| e.family.collect().name() == full)
        {
            let same_kind = matches!(*e.family, StatFamily::Counter(_)) == counter;
            if cfg.group_mode == 2 && same_kind && e.label_names == label_names {
                return Ok(Some(Entry {
                    label_names,
                    family: e.family.clone(),
                    shared: true,
                    group_label: true,
                }));
            }
            return Err(format!(
                "statistic {}:{}: exported as {full}, which another statistic already uses with other labels or type",
                u.group, u.name
            ));
        }
        let help = format!("Host statistic {}:{}.", u.group, u.name);
        let family = if counter {
            StatFamily::Counter(Family::new(&full, &help, &names, (), self.cap.clone()))
        } else {
            StatFamily::Gauge(Family::new(&full, &help, &names, (), self.cap.clone()))
        };
        Ok(Some(Entry {
            label_names,
            family: Arc::new(family),
            shared: false,
            group_label: cfg.group_mode == 2,
        }))
    }

    /// Sets (`add == false`) or adds to a statistic. Unselected statistics are accepted and ignored.
    pub fn update(&self, u: &StatUpdate<'_>, value: f64, add: bool) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!(
                "statistic {}:{}: value {value} is not a finite number",
                u.group, u.name
            ));
        }
        if u.labels.len() > MAX_LABELS {
            return Err(format!(
                "statistic {}:{}: at most {MAX_LABELS} labels",
                u.group, u.name
            ));
        }
        let map = self.families.pin();
        let key = [u.group, u.name];
        let entry = match map.get(&LabelRef(&key)) {
            Some(e) => e,
            None => {
                if map.len() >= self.cap.get() {
                    return Err(format!(
                        "statistic {}:{}: too many statistics (max_series_per_family)",
                        u.group, u.name
                    ));
                }
                match self.create(u)? {
                    Some(e) => map.get_or_insert(LabelKey::new(&key), e),
                    None => return Ok(()),
                }
            }
        };
        let same_names = entry.label_names.len() == u.labels.len()
            && entry
                .label_names
                .iter()
                .zip(u.labels)
                .all(|(a, (b, _))| &**a == *b);
        if !same_names {
            let want: Vec<&str> = entry.label_names.iter().map(|n| &**n).collect();
            return Err(format!(
                "statistic {}:{}: label names must stay the same as at first use ({})",
                u.group,
                u.name,
                want.join(", ")
            ));
        }
        let mut vals: [&str; MAX_LABELS + 1] = [""; MAX_LABELS + 1];
        let mut n = 0;
        if entry.group_label {
            vals[0] = u.group;
            n = 1;
        }
        for (_, v) in u.labels {
            vals[n] = v;
            n += 1;
        }
        let vals = &vals[..n];
        match &*entry.family {
            StatFamily::Counter(f) => {
                if value < 0.0 && add {
                    return Err(format!(
                        "statistic {}:{}: a counter cannot go down ({value})",
                        u.group, u.name
                    ));
                }
                f.with(vals, |c| if add { c.0.add(value) } else { c.0.set(value) });
            }
            StatFamily::Gauge(f) => {
                f.with(vals, |g| if add { g.add(value) } else { g.set(value) });
            }
        }
        Ok(())
    }

    /// Calls `f` with every statistic family.
    pub fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        let map = self.families.pin();
        for (_, e) in map.iter().filter(|(_, e)| !e.shared) {
            f(e.family.collect());
        }
    }

    /// The type a statistic gets: the host's choice, or the suffix rule for [`StatKind::Auto`].
    pub fn kind_of(kind: StatKind, name: &str) -> Kind {
        match kind {
            StatKind::Counter => Kind::Counter,
            StatKind::Gauge => Kind::Gauge,
            StatKind::Auto
                if ["_total", "_seconds", "_bytes"]
                    .iter()
                    .any(|x| name.ends_with(x)) =>
            {
                Kind::Counter
            }
            StatKind::Auto => Kind::Gauge,
        }
    }
}
