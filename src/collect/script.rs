//! Metrics declared and updated by the host's routing script (Kamailio's `prom_rs_counter_inc` and friends).
//!
//! The values live in the host (in Kamailio's shared memory, where every SIP worker process updates them); the
//! process that runs the core reads them every sample interval and sets them here. This collector only declares
//! the families (validated names, help text, label names, bucket layout), holds the latest values, and counts the
//! series the host's own store refused at its cap, so `prom_rs_series_dropped_total` covers them too.

use crate::registry::metric::{Buckets, Gauge, Histogram};
use crate::registry::render::{is_valid_label_name, is_valid_metric_name, Kind, PageWriter};
use crate::registry::{Collect, Family, FloatCounter, SeriesCap};
use crate::sync::lock;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Most labels a script metric may carry.
pub const MAX_SCRIPT_LABELS: usize = 8;
/// Most buckets a script histogram may have (besides `+Inf`).
pub const MAX_SCRIPT_BUCKETS: usize = 64;
/// Most script families one core declares.
pub const MAX_SCRIPT_FAMILIES: usize = 256;

/// The type of a script metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// Only goes up (rendered with a `_total` suffix).
    Counter,
    /// Set, or goes up and down.
    Gauge,
    /// Observations counted into buckets.
    Histogram,
}

impl ScriptKind {
    /// The kind for its C ABI number (1 counter, 2 gauge, 3 histogram).
    pub fn from_code(code: i32) -> Result<ScriptKind, String> {
        match code {
            1 => Ok(ScriptKind::Counter),
            2 => Ok(ScriptKind::Gauge),
            3 => Ok(ScriptKind::Histogram),
            k => Err(format!(
                "script metric kind {k} is not 1 (counter), 2 (gauge) or 3 (histogram)"
            )),
        }
    }

    fn word(self) -> &'static str {
        match self {
            ScriptKind::Counter => "counter",
            ScriptKind::Gauge => "gauge",
            ScriptKind::Histogram => "histogram",
        }
    }
}

/// One declaration as the host's configuration wrote it.
#[derive(Debug, Clone, Copy)]
pub struct ScriptDecl<'a> {
    /// Counter, gauge or histogram.
    pub kind: ScriptKind,
    /// The name without prefix and without `_total` (`sip_requests`).
    pub name: &'a str,
    /// HELP text; empty gives a generated one.
    pub help: &'a str,
    /// Label names, at most [`MAX_SCRIPT_LABELS`].
    pub labels: &'a [&'a str],
    /// Finite, strictly increasing upper bounds (histograms only; empty otherwise).
    pub buckets: &'a [f64],
}

/// Checks a declaration without a core: what a host calls while it parses its configuration, so a bad one stops the
/// host at startup. The error names the part that is wrong and what is allowed.
pub fn check(d: &ScriptDecl<'_>) -> Result<Option<Buckets>, String> {
    let what = d.kind.word();
    if d.name.is_empty() {
        return Err(format!("{what}: name is missing; write name=NAME"));
    }
    if !is_valid_metric_name(d.name) || d.name.contains(':') {
        return Err(format!(
            "{what} name \"{}\" is not a metric name: use letters, digits and _, not starting with a digit",
            d.name.escape_debug()
        ));
    }
    let reserved: &[&str] = match d.kind {
        ScriptKind::Counter => &["_created"],
        ScriptKind::Gauge => &["_total", "_created"],
        ScriptKind::Histogram => &["_bucket", "_sum", "_count", "_total", "_created"],
    };
    if let Some(s) = reserved.iter().find(|s| d.name.ends_with(*s)) {
        return Err(format!(
            "{what} name \"{}\" ends in {s}, which the exposition format reserves for other samples",
            d.name
        ));
    }
    if d.labels.len() > MAX_SCRIPT_LABELS {
        return Err(format!(
            "{what} {}: {} labels, at most {MAX_SCRIPT_LABELS} are allowed",
            d.name,
            d.labels.len()
        ));
    }
    for (i, l) in d.labels.iter().enumerate() {
        if !is_valid_label_name(l) || (d.kind == ScriptKind::Histogram && *l == "le") {
            return Err(format!(
                "{what} {}: label \"{}\" is not a label name (letters, digits and _, not starting with a digit or __{})",
                d.name,
                l.escape_debug(),
                if d.kind == ScriptKind::Histogram { "; not le" } else { "" }
            ));
        }
        if d.labels[..i].contains(l) {
            return Err(format!("{what} {}: label \"{l}\" is repeated", d.name));
        }
    }
    if d.help.chars().any(char::is_control) {
        return Err(format!(
            "{what} {}: help contains a control character",
            d.name
        ));
    }
    match d.kind {
        ScriptKind::Histogram => {
            if d.buckets.len() > MAX_SCRIPT_BUCKETS {
                return Err(format!(
                    "histogram {}: {} buckets, at most {MAX_SCRIPT_BUCKETS} are allowed",
                    d.name,
                    d.buckets.len()
                ));
            }
            Buckets::new(d.buckets)
                .map(Some)
                .map_err(|e| format!("histogram {}: buckets: {e}", d.name))
        }
        _ if !d.buckets.is_empty() => Err(format!(
            "{what} {}: buckets are only for histograms",
            d.name
        )),
        _ => Ok(None),
    }
}

enum Values {
    Counter(Family<FloatCounter>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

/// One declared family and the series its host store refused.
struct ScriptFamily {
    values: Values,
    host_dropped: AtomicU64,
}

impl ScriptFamily {
    fn inner(&self) -> &dyn Collect {
        match &self.values {
            Values::Counter(f) => f,
            Values::Gauge(f) => f,
            Values::Histogram(f) => f,
        }
    }
}

impl Collect for ScriptFamily {
    fn name(&self) -> &str {
        self.inner().name()
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        self.inner().render(w)
    }
    fn dropped(&self) -> u64 {
        self.inner().dropped() + self.host_dropped.load(Ordering::Relaxed)
    }
    fn series_count(&self) -> usize {
        self.inner().series_count()
    }
}

/// The script families of one core, in declaration order.
pub struct ScriptMetrics {
    prefix: String,
    const_labels: Vec<String>,
    cap: Arc<SeriesCap>,
    families: ArcSwap<Vec<Arc<ScriptFamily>>>,
    declare: Mutex<()>,
}

impl ScriptMetrics {
    /// No families yet. Names get `prefix` and `_`; label names may not repeat the constant `const_labels`.
    pub fn new(prefix: &str, const_labels: Vec<String>, cap: Arc<SeriesCap>) -> ScriptMetrics {
        ScriptMetrics {
            prefix: prefix.to_string(),
            const_labels,
            cap,
            families: ArcSwap::from_pointee(Vec::new()),
            declare: Mutex::new(()),
        }
    }

    /// The exported name of a declaration (`<prefix>_<name>`, `_total` added to counters).
    pub fn full_name(&self, d: &ScriptDecl<'_>) -> String {
        let mut s = if self.prefix.is_empty() {
            d.name.to_string()
        } else {
            format!("{}_{}", self.prefix, d.name)
        };
        if d.kind == ScriptKind::Counter && !s.ends_with("_total") {
            s.push_str("_total");
        }
        s
    }

    /// Declares a family and returns its index for [`ScriptMetrics::set`]. Refused: an invalid declaration, a name
    /// declared before, a label that a constant label already uses, more than [`MAX_SCRIPT_FAMILIES`].
    pub fn declare(&self, d: &ScriptDecl<'_>) -> Result<u32, String> {
        let buckets = check(d)?;
        let full = self.full_name(d);
        if let Some(l) = d
            .labels
            .iter()
            .find(|l| self.const_labels.iter().any(|c| c == *l))
        {
            return Err(format!(
                "{} {}: label \"{l}\" is already a constant label (labels)",
                d.kind.word(),
                d.name
            ));
        }
        let _one_at_a_time = lock(&self.declare);
        let old = self.families.load_full();
        if old.iter().any(|f| f.name() == full) {
            return Err(format!("{full} is declared twice"));
        }
        if old.len() >= MAX_SCRIPT_FAMILIES {
            return Err(format!(
                "{full}: more than {MAX_SCRIPT_FAMILIES} script metrics"
            ));
        }
        let help = if d.help.is_empty() {
            format!("Script {} {}.", d.kind.word(), d.name)
        } else {
            d.help.to_string()
        };
        let cap = self.cap.clone();
        let values = match buckets {
            Some(b) => Values::Histogram(Family::new(&full, &help, d.labels, b, cap)),
            None if d.kind == ScriptKind::Counter => {
                Values::Counter(Family::new(&full, &help, d.labels, (), cap))
            }
            None => Values::Gauge(Family::new(&full, &help, d.labels, (), cap)),
        };
        let mut next: Vec<Arc<ScriptFamily>> = old.iter().cloned().collect();
        next.push(Arc::new(ScriptFamily {
            values,
            host_dropped: AtomicU64::new(0),
        }));
        let idx = next.len() - 1;
        self.families.store(Arc::new(next));
        Ok(idx as u32)
    }

    fn family(&self, idx: u32) -> Result<Arc<ScriptFamily>, String> {
        self.families
            .load()
            .get(idx as usize)
            .cloned()
            .ok_or_else(|| format!("script family {idx} is not declared"))
    }

    /// Sets a counter or gauge series (created if new). A counter refuses a negative or non-finite value.
    pub fn set(&self, idx: u32, values: &[&str], v: f64) -> Result<(), String> {
        let f = self.family(idx)?;
        let done = match &f.values {
            Values::Counter(c) => {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!("{}: counter value {v} is not >= 0", c.name()));
                }
                c.with(values, |s| s.0.set(v))
            }
            Values::Gauge(g) => g.with(values, |s| s.set(v)),
            Values::Histogram(h) => {
                return Err(format!("{} is a histogram: set its buckets", h.name()))
            }
        };
        done.ok_or_else(|| format!("{}: label values refused (count or cap)", f.name()))
    }

    /// Sets a histogram series: `counts` holds one count per bucket and one for `+Inf` (not cumulative).
    pub fn set_histogram(
        &self,
        idx: u32,
        values: &[&str],
        counts: &[u64],
        sum: f64,
    ) -> Result<(), String> {
        let f = self.family(idx)?;
        let Values::Histogram(h) = &f.values else {
            return Err(format!("{} is not a histogram", f.name()));
        };
        h.with(values, |s| s.set(counts, sum))
            .ok_or_else(|| format!("{}: label values refused (count or cap)", f.name()))?
    }

    /// Removes a series (the host's store let it go idle); true when it was there.
    pub fn remove(&self, idx: u32, values: &[&str]) -> Result<bool, String> {
        let f = self.family(idx)?;
        Ok(match &f.values {
            Values::Counter(c) => c.remove(values),
            Values::Gauge(g) => g.remove(values),
            Values::Histogram(h) => h.remove(values),
        })
    }

    /// Records how many new series the host's store has refused for this family so far (a running total).
    pub fn set_host_dropped(&self, idx: u32, total: u64) -> Result<(), String> {
        self.family(idx)?
            .host_dropped
            .store(total, Ordering::Relaxed);
        Ok(())
    }

    /// Calls `f` with every family, in declaration order.
    pub fn visit(&self, f: &mut dyn FnMut(&dyn Collect)) {
        for fam in self.families.load().iter() {
            f(&**fam);
        }
    }

    /// The `# TYPE` of a family (for tests and the status page).
    pub fn kind(&self, idx: u32) -> Option<Kind> {
        let f = self.family(idx).ok()?;
        Some(match f.values {
            Values::Counter(_) => Kind::Counter,
            Values::Gauge(_) => Kind::Gauge,
            Values::Histogram(_) => Kind::Histogram,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Format;

    fn decl<'a>(kind: ScriptKind, name: &'a str, labels: &'a [&'a str]) -> ScriptDecl<'a> {
        ScriptDecl {
            kind,
            name,
            help: "",
            labels,
            buckets: &[],
        }
    }

    fn page(m: &ScriptMetrics) -> String {
        let mut w = PageWriter::new(Format::Text004, "");
        m.visit(&mut |c| c.render(&mut w));
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn bad_declarations_name_what_is_wrong() {
        let cases: &[(ScriptDecl<'_>, &str)] = &[
            (decl(ScriptKind::Counter, "", &[]), "name is missing"),
            (decl(ScriptKind::Counter, "9x", &[]), "not a metric name"),
            (decl(ScriptKind::Gauge, "a:b", &[]), "not a metric name"),
            (decl(ScriptKind::Gauge, "g_total", &[]), "ends in _total"),
            (decl(ScriptKind::Counter, "c", &["a", "a"]), "repeated"),
            (decl(ScriptKind::Counter, "c", &["__x"]), "not a label name"),
            (decl(ScriptKind::Histogram, "h", &["le"]), "not le"),
            (
                decl(
                    ScriptKind::Counter,
                    "c",
                    &["a", "b", "c", "d", "e", "f", "g", "h", "i"],
                ),
                "at most 8",
            ),
            (
                decl(ScriptKind::Histogram, "h", &[]),
                "buckets: at least one",
            ),
        ];
        for (d, want) in cases {
            let e = check(d).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
        let d = ScriptDecl {
            buckets: &[0.5, 0.1],
            ..decl(ScriptKind::Histogram, "h", &[])
        };
        assert!(check(&d).unwrap_err().contains("strictly increasing"));
        let d = ScriptDecl {
            buckets: &[1.0],
            ..decl(ScriptKind::Gauge, "g", &[])
        };
        assert!(check(&d).unwrap_err().contains("only for histograms"));
        let eight = ["a", "b", "c", "d", "e", "f", "g", "h"];
        assert!(check(&decl(ScriptKind::Counter, "c", &eight)).is_ok());
    }

    #[test]
    fn families_render_with_prefix_help_and_escaped_values() {
        let m = ScriptMetrics::new("kamailio", vec!["instance".into()], SeriesCap::new(10));
        let c = m
            .declare(&ScriptDecl {
                help: "SIP requests by method.",
                ..decl(ScriptKind::Counter, "sip_requests", &["method", "code"])
            })
            .unwrap();
        let g = m.declare(&decl(ScriptKind::Gauge, "calls", &[])).unwrap();
        let h = m
            .declare(&ScriptDecl {
                buckets: &[0.1, 1.0],
                ..decl(ScriptKind::Histogram, "setup_seconds", &["trunk"])
            })
            .unwrap();
        m.set(c, &["INVITE", "a\"b\\c\nd"], 3.0).unwrap();
        m.set(g, &[], -2.5).unwrap();
        m.set_histogram(h, &["t1"], &[1, 2, 3], 7.5).unwrap();
        let p = page(&m);
        assert!(
            p.contains("# HELP kamailio_sip_requests_total SIP requests by method.\n"),
            "{p}"
        );
        assert!(
            p.contains("# TYPE kamailio_sip_requests_total counter\n"),
            "{p}"
        );
        assert!(
            p.contains(
                "kamailio_sip_requests_total{method=\"INVITE\",code=\"a\\\"b\\\\c\\nd\"} 3\n"
            ),
            "{p}"
        );
        assert!(p.contains("kamailio_calls -2.5\n"), "{p}");
        assert!(
            p.contains("kamailio_setup_seconds_bucket{trunk=\"t1\",le=\"1\"} 3\n"),
            "{p}"
        );
        assert!(
            p.contains("kamailio_setup_seconds_bucket{trunk=\"t1\",le=\"+Inf\"} 6\n"),
            "{p}"
        );
        assert!(
            p.contains("kamailio_setup_seconds_sum{trunk=\"t1\"} 7.5\n"),
            "{p}"
        );
        assert!(m.remove(c, &["INVITE", "a\"b\\c\nd"]).unwrap());
        assert!(!page(&m).contains("sip_requests"));
        assert!(m
            .declare(&decl(ScriptKind::Gauge, "calls", &[]))
            .unwrap_err()
            .contains("twice"));
        assert!(m
            .declare(&decl(ScriptKind::Gauge, "x", &["instance"]))
            .unwrap_err()
            .contains("constant label"));
    }

    #[test]
    fn wrong_shapes_and_values_are_refused() {
        let m = ScriptMetrics::new("", vec![], SeriesCap::new(1));
        let c = m.declare(&decl(ScriptKind::Counter, "c", &["k"])).unwrap();
        assert!(m.set(c, &["a"], -1.0).is_err());
        assert!(m.set(c, &["a", "b"], 1.0).is_err());
        assert!(m.set_histogram(c, &["a"], &[1], 1.0).is_err());
        assert!(m.set(7, &["a"], 1.0).unwrap_err().contains("not declared"));
        m.set(c, &["a"], 1.0).unwrap();
        assert!(m.set(c, &["b"], 1.0).is_err(), "the core's cap applies too");
        m.set_host_dropped(c, 5).unwrap();
        let mut dropped = 0;
        m.visit(&mut |f| dropped += f.dropped());
        assert_eq!(dropped, 5 + 2, "host drops plus the two refused here");
        let h = m
            .declare(&ScriptDecl {
                buckets: &[1.0],
                ..decl(ScriptKind::Histogram, "h", &[])
            })
            .unwrap();
        assert!(
            m.set_histogram(h, &[], &[1, 2, 3], 1.0).is_err(),
            "one count too many"
        );
        assert!(m.set(h, &[], 1.0).is_err());
        assert_eq!(m.kind(h), Some(Kind::Histogram));
    }
}
