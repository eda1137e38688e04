//! Writing the exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0 from the same calls.
//!
//! Label sets are escaped once, when a series is created ([`render_labels`]); a scrape only copies bytes. The
//! constant labels from the configuration are prepended to every series at write time, so a reload that changes
//! them touches no series.

use super::metric::HistogramSnapshot;
use std::fmt::Write as _;

/// Exposition format of a page (the HTTP layer chooses it by content negotiation on `Accept`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), the default.
    Text004,
    /// OpenMetrics 1.0.0 (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics100,
}

impl Format {
    /// The `Content-Type` header value sent with a page in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics100 => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The metric type written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic count; the family name ends in `_total`.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Appends `v` to `out` escaped for use inside a label value's double quotes.
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders `name="value",...` (no braces), escaping the values. Names must already be valid label names.
pub fn render_labels<N: AsRef<str>, V: AsRef<str>>(names: &[N], values: &[V]) -> String {
    let mut s = String::new();
    for (i, (n, v)) in names.iter().zip(values.iter()).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(n.as_ref());
        s.push_str("=\"");
        escape_label_value(v.as_ref(), &mut s);
        s.push('"');
    }
    s
}

/// True when `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True when `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Builds one metrics page.
pub struct PageWriter<'a> {
    out: String,
    format: Format,
    const_labels: &'a str,
}

impl<'a> PageWriter<'a> {
    /// A writer for `format`; `const_labels` is a pre-escaped `k="v",...` list (or empty).
    pub fn new(format: Format, const_labels: &'a str) -> PageWriter<'a> {
        PageWriter {
            out: String::with_capacity(64 * 1024),
            format,
            const_labels,
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes `# HELP` and `# TYPE` for a family. `name` is the sample name; for counters it ends in `_total`,
    /// which OpenMetrics leaves out of the family name.
    pub fn header(&mut self, name: &str, help: &str, kind: Kind) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics100, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        self.out.push_str("# HELP ");
        self.out.push_str(family);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '"' if self.format == Format::OpenMetrics100 => self.out.push_str("\\\""),
                c => self.out.push(c),
            }
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(family);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    fn open_sample(&mut self, name: &str, suffix: &str, labels: &str) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        let has_const = !self.const_labels.is_empty();
        if has_const || !labels.is_empty() {
            self.out.push('{');
            self.out.push_str(self.const_labels);
            if has_const && !labels.is_empty() {
                self.out.push(',');
            }
            self.out.push_str(labels);
            self.out.push('}');
        }
        self.out.push(' ');
    }

    fn push_f64(&mut self, v: f64) {
        if v.is_nan() {
            self.out.push_str("NaN");
        } else if v.is_infinite() {
            self.out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(self.out, "{v}");
        }
    }

    /// Writes a float sample line.
    pub fn sample_f64(&mut self, name: &str, labels: &str, v: f64) {
        self.open_sample(name, "", labels);
        self.push_f64(v);
        self.out.push('\n');
    }

    /// Writes an integer sample line.
    pub fn sample_u64(&mut self, name: &str, labels: &str, v: u64) {
        self.open_sample(name, "", labels);
        let _ = write!(self.out, "{v}");
        self.out.push('\n');
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of one histogram series.
    pub fn histogram(&mut self, name: &str, labels: &str, snap: &HistogramSnapshot) {
        let mut le = String::with_capacity(labels.len() + 16);
        for (bound, count) in snap
            .cumulative
            .iter()
            .map(|(b, c)| (Some(*b), *c))
            .chain([(None, snap.count)])
        {
            le.clear();
            le.push_str(labels);
            if !labels.is_empty() {
                le.push(',');
            }
            le.push_str("le=\"");
            match bound {
                None => le.push_str("+Inf"),
                Some(b) => {
                    let _ = write!(le, "{b}");
                    // OpenMetrics wants canonical floats ("1.0"); the text format's readers take either.
                    if self.format == Format::OpenMetrics100
                        && b.fract() == 0.0
                        && !le.contains('e')
                    {
                        le.push_str(".0");
                    }
                }
            }
            le.push('"');
            self.open_sample(name, "_bucket", &le);
            let _ = write!(self.out, "{count}");
            self.out.push('\n');
        }
        self.open_sample(name, "_sum", labels);
        self.push_f64(snap.sum);
        self.out.push('\n');
        self.open_sample(name, "_count", labels);
        let _ = write!(self.out, "{}", snap.count);
        self.out.push('\n');
    }

    /// Ends the page (OpenMetrics needs `# EOF`) and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.format == Format::OpenMetrics100 {
            self.out.push_str("# EOF\n");
        }
        self.out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_backslashes_and_newlines() {
        let s = render_labels(&["a", "b"], &["x\"y\\z\nw", "ünï"]);
        assert_eq!(s, r#"a="x\"y\\z\nw",b="ünï""#);
    }

    #[test]
    fn openmetrics_counter_family_drops_total_and_page_ends_with_eof() {
        let mut w = PageWriter::new(Format::OpenMetrics100, "server=\"a\"");
        w.header("x_total", "Things.", Kind::Counter);
        w.sample_u64("x_total", "k=\"v\"", 3);
        let page = String::from_utf8(w.finish()).unwrap();
        assert_eq!(
            page,
            "# HELP x Things.\n# TYPE x counter\nx_total{server=\"a\",k=\"v\"} 3\n# EOF\n"
        );
    }

    #[test]
    fn histogram_lines() {
        let snap = HistogramSnapshot {
            cumulative: vec![(0.5, 1), (2.0, 3)],
            count: 4,
            sum: 9.5,
        };
        let mut w = PageWriter::new(Format::Text004, "");
        w.histogram("h", "", &snap);
        let page = String::from_utf8(w.finish()).unwrap();
        assert_eq!(
            page,
            "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 9.5\nh_count 4\n"
        );
    }

    #[test]
    fn names_are_validated() {
        assert!(is_valid_metric_name("asterisk_channels"));
        assert!(!is_valid_metric_name("1abc"));
        assert!(!is_valid_metric_name("a-b"));
        assert!(is_valid_label_name("tech"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("a b"));
    }
}
