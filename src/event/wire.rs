//! One event as a trace line (the format is described in [`crate::trace`]): the types an event field may have, how
//! each is written and read back, and [`encode`]/[`decode`], completed per event by the code the event table
//! generates.

use super::{read_fields, Event};
use std::fmt::Write as _;

/// A type an event field may have: how it is written to a trace line, read back from one, and spelled in the C
/// header.
pub(crate) trait Field<'a>: Sized {
    /// The parameter type of the matching C export, as cbindgen writes it.
    #[cfg(test)]
    const C_TYPE: &'static str;
    /// Appends a TAB and the value.
    fn write(&self, line: &mut String);
    /// Takes the next value of the line; `name` is the field's name, for errors.
    fn read(fields: &mut Fields<'a>, name: &str) -> Result<Self, String>;
    /// A test value picked by `i` (any number): every value that is hard to round-trip comes up for some `i`.
    #[cfg(test)]
    fn sample(i: usize) -> Self;
}

fn escape_into(line: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c => line.push(c),
        }
    }
}

#[cfg(test)]
fn pick<T: Clone>(samples: &[T], i: usize) -> T {
    samples[i % samples.len()].clone()
}

impl<'a> Field<'a> for &'a str {
    #[cfg(test)]
    const C_TYPE: &'static str = "const char *";
    fn write(&self, line: &mut String) {
        line.push('\t');
        escape_into(line, self);
    }
    fn read(fields: &mut Fields<'a>, name: &str) -> Result<Self, String> {
        fields.string(name)
    }
    #[cfg(test)]
    fn sample(i: usize) -> Self {
        pick(&["PJSIP", "", "a\tb\\c\nd\re", "\\N", "\\", "ünïcödé €"], i)
    }
}

impl<'a> Field<'a> for Option<&'a str> {
    #[cfg(test)]
    const C_TYPE: &'static str = "const char *";
    fn write(&self, line: &mut String) {
        match self {
            Some(v) => v.write(line),
            None => line.push_str("\t\\N"),
        }
    }
    fn read(fields: &mut Fields<'a>, name: &str) -> Result<Self, String> {
        Ok(fields.take(name)?.as_deref())
    }
    #[cfg(test)]
    fn sample(i: usize) -> Self {
        pick(
            &[None, Some(""), Some("ulaw"), Some("\\N"), Some("x\ty")],
            i,
        )
    }
}

/// Numbers are written with `Display`: integers in decimal, floats in shortest round-trip form, so a replay
/// reproduces them bit for bit.
macro_rules! number_fields {
    ($($ty:ty => $c_type:literal, samples $samples:expr;)*) => {$(
        impl Field<'_> for $ty {
            #[cfg(test)]
            const C_TYPE: &'static str = $c_type;
            fn write(&self, line: &mut String) {
                let _ = write!(line, "\t{self}");
            }
            fn read(fields: &mut Fields<'_>, name: &str) -> Result<Self, String> {
                fields.number(name)
            }
            #[cfg(test)]
            fn sample(i: usize) -> Self {
                pick(&$samples, i)
            }
        }
    )*};
}

number_fields! {
    i32 => "int32_t", samples [0, 4, -1, i32::MIN, i32::MAX];
    i64 => "int64_t", samples [1_700_000_000_000_000, 0, -1, i64::MIN, i64::MAX];
    f64 => "double", samples [
        0.1 + 0.2, 1e-9, -1.0, -0.0, 87.5, f64::MAX, f64::MIN_POSITIVE, 5e-324, f64::INFINITY, f64::NAN,
    ];
}

/// Encodes an event as one trace line (without the newline).
pub fn encode(ev: &Event<'_>) -> String {
    let mut line = String::with_capacity(64);
    line.push_str(ev.name());
    ev.write_fields(&mut line);
    line
}

fn unescape(field: &str) -> Result<Option<String>, String> {
    if field == "\\N" {
        return Ok(None);
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "bad escape \"\\{}\"",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(Some(out))
}

/// The values of one line, read in order, with errors that name the event and the argument.
pub(crate) struct Fields<'a> {
    event: &'a str,
    values: &'a [Option<String>],
    next: usize,
}

impl<'a> Fields<'a> {
    /// The line's event name.
    pub(crate) fn event(&self) -> &'a str {
        self.event
    }
    fn take(&mut self, what: &str) -> Result<&'a Option<String>, String> {
        let v = self
            .values
            .get(self.next)
            .ok_or_else(|| format!("{}: missing argument {what}", self.event))?;
        self.next += 1;
        Ok(v)
    }
    fn string(&mut self, what: &str) -> Result<&'a str, String> {
        self.take(what)?
            .as_deref()
            .ok_or_else(|| format!("{}: argument {what} may not be NULL", self.event))
    }
    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, String> {
        let event = self.event;
        let s = self.string(what)?;
        s.parse()
            .map_err(|_| format!("{event}: argument {what} is not a number: \"{s}\""))
    }
    fn end(&self) -> Result<(), String> {
        if self.next == self.values.len() {
            Ok(())
        } else {
            Err(format!(
                "{}: {} arguments expected, {} given",
                self.event,
                self.next,
                self.values.len()
            ))
        }
    }
}

/// Parses one trace line and passes the event it records to `apply`. Blank lines and comments give `Ok(None)`.
pub fn decode<R>(line: &str, apply: impl FnOnce(Event<'_>) -> R) -> Result<Option<R>, String> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut parts = line.split('\t');
    let event = parts.next().unwrap_or_default();
    let values: Vec<Option<String>> = parts.map(unescape).collect::<Result<_, _>>()?;
    let mut fields = Fields {
        event,
        values: &values,
        next: 0,
    };
    let ev = read_fields(&mut fields)?;
    fields.end()?;
    Ok(Some(apply(ev)))
}

#[cfg(test)]
mod tests {
    use super::super::{samples, KINDS, KIND_STAT};
    use super::*;

    #[test]
    fn every_event_round_trips() {
        // Ten seeds walk every field through every sample of its type (the longest list has ten).
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..10 {
            for ev in &samples(seed) {
                let line = encode(ev);
                assert!(
                    !line.contains('\n') && !line.contains('\r'),
                    "line {line:?}"
                );
                assert!(line.starts_with(ev.name()));
                let back = decode(&line, |e| format!("{e:?}")).unwrap().unwrap();
                assert_eq!(back, format!("{ev:?}"), "line {line:?}");
                seen.insert(ev.name());
            }
        }
        assert_eq!(seen.len(), KIND_STAT);
        assert!(KINDS[..KIND_STAT].iter().all(|k| seen.contains(k)));
    }

    #[test]
    fn the_format_stays_what_recorded_traces_hold() {
        let rtcp = Event::RtcpReport {
            tech: "PJSIP",
            endpoint: "a\tb\\c\nd\re",
            direction: 1,
            jitter_seconds: 0.1 + 0.2,
            loss_ratio: 1e-9,
            rtt_seconds: -1.0,
            mes: 87.5,
            ts_us: 1_700_000_000_000_000,
        };
        assert_eq!(
            encode(&rtcp),
            "rtcp_report\tPJSIP\ta\\tb\\\\c\\nd\\re\t1\t0.30000000000000004\t0.000000001\t-1\t87.5\t1700000000000000"
        );
        let codec = Event::SampleChannelCodec {
            codec: "ulaw",
            translate_from: None,
            translate_to: Some(""),
        };
        assert_eq!(encode(&codec), "sample_channel_codec\tulaw\t\\N\t");
        assert_eq!(encode(&Event::SampleCodecsBegin), "sample_codecs_begin");
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(decode("# comment", |_| ()).unwrap(), None);
        assert_eq!(decode("   ", |_| ()).unwrap(), None);
        // The messages of before the event table, to the letter.
        for (line, error) in [
            ("nope\t1", "unknown event \"nope\""),
            ("dial_result\tANSWER", "dial_result: missing argument ts_us"),
            (
                "dial_result\tANSWER\tx",
                "dial_result: argument ts_us is not a number: \"x\"",
            ),
            (
                "dial_result\tANSWER\t1\t2",
                "dial_result: 2 arguments expected, 3 given",
            ),
            (
                "dial_result\t\\N\t1",
                "dial_result: argument dialstatus may not be NULL",
            ),
            ("dial_result\ta\\qb\t1", "bad escape \"\\q\""),
            (
                "sample_codecs_end\t1",
                "sample_codecs_end: 0 arguments expected, 1 given",
            ),
        ] {
            assert_eq!(decode(line, |_| ()).unwrap_err(), error, "{line:?}");
        }
    }
}
