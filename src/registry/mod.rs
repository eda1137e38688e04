//! Metric families: a name, a help text, label names, and a lock-free map from label values to series.
//!
//! The map is a `papaya` hash map: lookups of a label set already seen take no lock and allocate nothing (the
//! borrowed `&[&str]` is hashed and compared against the stored tuple in place). Label sets are compared as whole
//! tuples, value by value, so `("ab","c")` and `("a","bc")` are always two series (the trap of the `prometheus`
//! crate, which keys series by a hash of the joined values). Each family stops creating series at the configured
//! cap and counts what it dropped.

pub mod metric;
pub mod render;

pub use render::Format;

use crate::sync::lock;
use metric::{Buckets, Counter, Gauge, Histogram};
use papaya::Equivalent;
use render::{render_labels, Kind, PageWriter};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The stored form of a tuple of strings (label values, or the key of a model table).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LabelKey(Box<[Box<str>]>);

impl LabelKey {
    /// Copies a borrowed tuple (allocates: only for tuples not seen before).
    pub(crate) fn new(values: &[&str]) -> LabelKey {
        LabelKey(values.iter().map(|v| Box::from(*v)).collect())
    }
}

/// The borrowed form used for lookups, hashed exactly like [`LabelKey`].
pub(crate) struct LabelRef<'a>(pub(crate) &'a [&'a str]);

/// A hash map keyed by string tuples, looked up without allocating.
pub(crate) type TupleMap<V> = papaya::HashMap<LabelKey, V, foldhash::fast::RandomState>;

/// An empty [`TupleMap`].
pub(crate) fn tuple_map<V>() -> TupleMap<V> {
    papaya::HashMap::builder()
        .hasher(foldhash::fast::RandomState::default())
        .build()
}

/// Hashes each value followed by 0xff, a byte UTF-8 never contains, so the tuple boundaries are part of the hash.
fn hash_values<'a, H: Hasher>(values: impl Iterator<Item = &'a str>, state: &mut H) {
    for v in values {
        state.write(v.as_bytes());
        state.write_u8(0xff);
    }
}

impl Hash for LabelKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().map(|v| &**v), state)
    }
}

impl Hash for LabelRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().copied(), state)
    }
}

impl Equivalent<LabelKey> for LabelRef<'_> {
    fn equivalent(&self, key: &LabelKey) -> bool {
        self.0.len() == key.0.len() && self.0.iter().zip(key.0.iter()).all(|(a, b)| *a == &**b)
    }
}

/// What a family stores per series, and how it is written.
pub trait SeriesValue: Send + Sync + 'static {
    /// Per-family settings every new series is made from (bucket layout for histograms).
    type Proto: Clone + PartialEq + Send + Sync + 'static;
    /// The `# TYPE` of the family.
    const KIND: Kind;
    /// A fresh series.
    fn new(proto: &Self::Proto) -> Self;
    /// Writes this series' sample line(s).
    fn write(&self, w: &mut PageWriter<'_>, name: &str, labels: &str);
}

impl SeriesValue for Counter {
    type Proto = ();
    const KIND: Kind = Kind::Counter;
    fn new(_: &()) -> Self {
        Counter::default()
    }
    fn write(&self, w: &mut PageWriter<'_>, name: &str, labels: &str) {
        w.sample_u64(name, labels, self.get())
    }
}

impl SeriesValue for Gauge {
    type Proto = ();
    const KIND: Kind = Kind::Gauge;
    fn new(_: &()) -> Self {
        Gauge::default()
    }
    fn write(&self, w: &mut PageWriter<'_>, name: &str, labels: &str) {
        w.sample_f64(name, labels, self.get())
    }
}

/// A counter whose value is a float, or is owned by the host and set rather than incremented
/// (`ast_processed_calls()`, an OpenSIPS statistic).
#[derive(Debug, Default)]
pub struct FloatCounter(pub Gauge);

impl SeriesValue for FloatCounter {
    type Proto = ();
    const KIND: Kind = Kind::Counter;
    fn new(_: &()) -> Self {
        FloatCounter::default()
    }
    fn write(&self, w: &mut PageWriter<'_>, name: &str, labels: &str) {
        w.sample_f64(name, labels, self.0.get())
    }
}

impl SeriesValue for Histogram {
    type Proto = Buckets;
    const KIND: Kind = Kind::Histogram;
    fn new(proto: &Buckets) -> Self {
        Histogram::new(proto)
    }
    fn write(&self, w: &mut PageWriter<'_>, name: &str, labels: &str) {
        w.histogram(name, labels, &self.snapshot())
    }
}

struct Series<M> {
    /// Pre-escaped `k="v",...`.
    labels: Box<str>,
    value: M,
}

/// The cardinality cap shared by every family of one core; changed on reload.
#[derive(Debug)]
pub struct SeriesCap(AtomicUsize);

impl SeriesCap {
    /// A cap of `n` series per family.
    pub fn new(n: usize) -> Arc<SeriesCap> {
        Arc::new(SeriesCap(AtomicUsize::new(n)))
    }
    /// Changes the cap; existing series are kept, new ones are refused while a family is over it.
    pub fn set(&self, n: usize) {
        self.0.store(n, Ordering::Relaxed)
    }
    /// The cap.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// A metric family with a fixed list of label names.
pub struct Family<M: SeriesValue> {
    name: Box<str>,
    help: Box<str>,
    label_names: Box<[Box<str>]>,
    proto: Mutex<M::Proto>,
    series: TupleMap<Series<M>>,
    len: AtomicUsize,
    cap: Arc<SeriesCap>,
    dropped: Counter,
}

impl<M: SeriesValue> Family<M> {
    /// A family. Names are checked by the caller (static names by tests, host names by [`render`]'s validators).
    pub fn new(
        name: &str,
        help: &str,
        label_names: &[&str],
        proto: M::Proto,
        cap: Arc<SeriesCap>,
    ) -> Self {
        debug_assert!(render::is_valid_metric_name(name), "bad metric name {name}");
        debug_assert!(
            label_names.iter().all(|l| render::is_valid_label_name(l)),
            "bad label in {name}"
        );
        Family {
            name: name.into(),
            help: help.into(),
            label_names: label_names.iter().map(|l| Box::from(*l)).collect(),
            proto: Mutex::new(proto),
            series: tuple_map(),
            len: AtomicUsize::new(0),
            cap,
            dropped: Counter::default(),
        }
    }

    /// Runs `f` on the series for `values`, creating it if needed. Returns `None` (and counts a dropped series)
    /// when the family is at its cap, or when the number of values does not match the label names.
    pub fn with<R>(&self, values: &[&str], f: impl FnOnce(&M) -> R) -> Option<R> {
        if values.len() != self.label_names.len() {
            self.dropped.inc();
            return None;
        }
        let map = self.series.pin();
        if let Some(s) = map.get(&LabelRef(values)) {
            return Some(f(&s.value));
        }
        // New label set: reserve a slot under the cap first so racing creators cannot overshoot it.
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.cap.get() {
            self.len.fetch_sub(1, Ordering::Relaxed);
            self.dropped.inc();
            return None;
        }
        let key = LabelKey::new(values);
        let proto = lock(&self.proto).clone();
        let series = Series {
            labels: render_labels(&self.label_names, values).into(),
            value: M::new(&proto),
        };
        match map.try_insert(key, series) {
            Ok(s) => Some(f(&s.value)),
            Err(occupied) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                Some(f(&occupied.current.value))
            }
        }
    }

    /// Runs `f` on the series for `values` only if it exists.
    pub fn with_existing<R>(&self, values: &[&str], f: impl FnOnce(&M) -> R) -> Option<R> {
        self.series
            .pin()
            .get(&LabelRef(values))
            .map(|s| f(&s.value))
    }

    /// Deletes the series for `values`; true when it existed.
    pub fn remove(&self, values: &[&str]) -> bool {
        let removed = self.series.pin().remove(&LabelRef(values)).is_some();
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Deletes every series.
    pub fn clear(&self) {
        let map = self.series.pin();
        let keys: Vec<Vec<String>> = map
            .keys()
            .map(|k| k.0.iter().map(|v| v.to_string()).collect())
            .collect();
        for k in keys {
            let refs: Vec<&str> = k.iter().map(String::as_str).collect();
            if map.remove(&LabelRef(&refs)).is_some() {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Replaces the series prototype (bucket layout). When it differs, existing series are cleared because
    /// their counts cannot be carried into other buckets; returns true in that case.
    pub fn set_proto(&self, proto: M::Proto) -> bool {
        let mut cur = lock(&self.proto);
        if *cur == proto {
            return false;
        }
        *cur = proto;
        drop(cur);
        self.clear();
        true
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when the family has no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sum of `f` over all series (e.g. the total of a gauge across label sets).
    pub fn fold<T>(&self, init: T, mut f: impl FnMut(T, &[Box<str>], &M) -> T) -> T {
        let map = self.series.pin();
        map.iter().fold(init, |acc, (k, s)| f(acc, &k.0, &s.value))
    }
}

/// What the page renderer needs from any family, whatever its value type.
pub trait Collect: Send + Sync {
    /// Sample name (ends in `_total` for counters).
    fn name(&self) -> &str;
    /// Writes HELP, TYPE and every series; writes nothing when the family has no series.
    fn render(&self, w: &mut PageWriter<'_>);
    /// Series refused because of the cap (or a label-count mismatch).
    fn dropped(&self) -> u64;
    /// Number of series.
    fn series_count(&self) -> usize;
    /// True when a `collect[]` prefix selects this collector. Collectors that write several families override it
    /// so that a prefix matching any of them selects the whole group.
    fn selected_by(&self, prefix: &str) -> bool {
        self.name().starts_with(prefix)
    }
}

impl<M: SeriesValue> Collect for Family<M> {
    fn name(&self) -> &str {
        &self.name
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        let map = self.series.pin();
        let mut iter = map.iter().peekable();
        if iter.peek().is_none() {
            return;
        }
        w.header(&self.name, &self.help, M::KIND);
        for (_, s) in iter {
            s.value.write(w, &self.name, &s.labels);
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped.get()
    }
    fn series_count(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Format;

    fn page(f: &dyn Collect) -> String {
        let mut w = PageWriter::new(Format::Text004, "");
        f.render(&mut w);
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn distinct_tuples_never_merge() {
        let f: Family<Counter> = Family::new("t_total", "h", &["a", "b"], (), SeriesCap::new(100));
        f.with(&["ab", "c"], |c| c.inc());
        f.with(&["a", "bc"], |c| c.inc_by(2));
        f.with(&["a", "bc"], |c| c.inc_by(2));
        assert_eq!(f.len(), 2);
        let p = page(&f);
        assert!(p.contains("t_total{a=\"ab\",b=\"c\"} 1\n"), "{p}");
        assert!(p.contains("t_total{a=\"a\",b=\"bc\"} 4\n"), "{p}");
    }

    #[test]
    fn cap_drops_and_counts_new_series_only() {
        let f: Family<Gauge> = Family::new("g", "h", &["k"], (), SeriesCap::new(2));
        assert!(f.with(&["1"], |g| g.set(1.0)).is_some());
        assert!(f.with(&["2"], |g| g.set(2.0)).is_some());
        assert!(f.with(&["3"], |g| g.set(3.0)).is_none());
        assert!(
            f.with(&["1"], |g| g.add(1.0)).is_some(),
            "existing series still update at the cap"
        );
        assert_eq!(f.dropped(), 1);
        assert!(f.remove(&["2"]));
        assert!(
            f.with(&["3"], |g| g.set(3.0)).is_some(),
            "room again after a removal"
        );
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn wrong_label_count_is_refused() {
        let f: Family<Counter> = Family::new("c_total", "h", &["k"], (), SeriesCap::new(10));
        assert!(f.with(&["a", "b"], |c| c.inc()).is_none());
        assert_eq!(f.dropped(), 1);
    }

    #[test]
    fn changing_buckets_resets_the_family() {
        let b1 = Buckets::new(&[1.0]).unwrap();
        let f: Family<Histogram> =
            Family::new("h_seconds", "h", &[], b1.clone(), SeriesCap::new(10));
        f.with(&[], |h| h.observe(0.5));
        assert!(!f.set_proto(b1));
        assert_eq!(f.len(), 1);
        assert!(f.set_proto(Buckets::new(&[2.0]).unwrap()));
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn concurrent_increments_are_exact() {
        let f: Arc<Family<Counter>> =
            Arc::new(Family::new("c_total", "h", &["k"], (), SeriesCap::new(10)));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let f = f.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        f.with(&["shared"], |c| c.inc());
                        f.with(&[if i % 2 == 0 { "even" } else { "odd" }], |c| c.inc());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(f.with(&["shared"], |c| c.get()), Some(40_000));
        assert_eq!(f.with(&["even"], |c| c.get()), Some(20_000));
        assert_eq!(f.len(), 3);
    }
}
