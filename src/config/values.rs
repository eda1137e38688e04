//! Parsers for the value kinds that configuration keys take. Each returns the text of "what is allowed" on error,
//! which [`super::ConfigError`] completes with the key and the value.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `yes/no/true/false/1/0/on/off`, any case, as Asterisk's `ast_true` accepts.
pub fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" | "y" => Ok(true),
        "no" | "false" | "0" | "off" | "n" => Ok(false),
        _ => Err("expected yes/no (also true/false, on/off, 1/0)".into()),
    }
}

/// `500ms`, `5s`, `2m`, `1h`; a bare number means seconds. Must lie in `min..=max`.
pub fn duration(v: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let allowed = || {
        format!(
            "expected a duration such as 500ms, 5s or 2m, from {} to {}",
            show(min),
            show(max)
        )
    };
    let t = v.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| allowed())?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(allowed()),
    };
    if !secs.is_finite() {
        return Err(allowed());
    }
    // `try_from`: a value past `Duration::MAX` (2^64 s and more) is refused like any other bad value, not a panic.
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d >= min && d <= max => Ok(d),
        _ => Err(allowed()),
    }
}

/// How many characters of a refused value an error message shows; the rest is summarised by its length, so a
/// message always fits a host's log buffer with the key in front.
pub const SHOWN_CHARS: usize = 48;

/// `s` as an error message shows it: in double quotes, at most [`SHOWN_CHARS`] characters, with `"`, `\` and every
/// control character escaped (`\n`, `\t`, `\u{1b}`), so a value can neither forge a log line nor push the key out
/// of a fixed-size buffer.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(SHOWN_CHARS * 2) + 2);
    out.push('"');
    for (n, (at, c)) in s.char_indices().enumerate() {
        if n == SHOWN_CHARS {
            out.push_str(&format!("\"... ({} more bytes)", s.len() - at));
            return out;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Also the C1 controls and the line/paragraph separators, which some terminals and viewers honour,
            // and the bidirectional overrides that reorder what a reader sees ("Trojan Source").
            c if c.is_control()
                || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a duration the way it is written in the configuration.
pub fn show(d: Duration) -> String {
    if !d.as_millis().is_multiple_of(1000) {
        format!("{}ms", d.as_millis())
    } else if !d.as_secs().is_multiple_of(60) || d.as_secs() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}m", d.as_secs() / 60)
    }
}

/// An unsigned integer in `min..=max`.
pub fn integer(v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// An IP address literal, or `localhost`.
pub fn ip_addr(v: &str) -> Result<IpAddr, String> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    t.parse()
        .map_err(|_| "expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1".into())
}

/// A scrape path: starts with `/`, printable ASCII, no query string or spaces.
pub fn uri(v: &str) -> Result<String, String> {
    let t = v.trim();
    let ok = t.starts_with('/')
        && t.len() <= 256
        && t.chars()
            .all(|c| c.is_ascii_graphic() && c != '?' && c != '#');
    if ok {
        Ok(t.to_string())
    } else {
        Err(
            "expected a path starting with '/' (such as /metrics), without spaces, '?' or '#'"
                .into(),
        )
    }
}

/// `name=value,name=value`: constant labels. Names must be valid label names and not clash with `reserved`.
pub fn label_pairs(v: &str, reserved: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!(
                "expected name=value pairs separated by commas, but {} has no '='",
                quoted(part)
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if !crate::registry::render::is_valid_label_name(name) {
            return Err(format!("label name {} is not valid (letters, digits and '_', not starting with a digit or \"__\")", quoted(name)));
        }
        if reserved.contains(&name) {
            return Err(format!("label name {} is used by the exported families; pick another (e.g. server, site, cluster)", quoted(name)));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("label name {} is given twice", quoted(name)));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// A comma-separated list of increasing bucket bounds.
pub fn buckets(v: &str) -> Result<Vec<f64>, String> {
    let parsed: Result<Vec<f64>, _> = v.split(',').map(|p| p.trim().parse::<f64>()).collect();
    let bounds = parsed
        .map_err(|_| "expected numbers separated by commas, such as 1,5,15,30,60".to_string())?;
    crate::registry::metric::Buckets::new(&bounds).map(|_| bounds)
}

/// Numeric endpoint ranges such as `1031-1070,2001-2010` (single numbers allowed), at most 100,000 endpoints.
pub fn number_ranges(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let allowed = "expected extension ranges such as 1031-1070,2001-2010";
    let mut out = Vec::new();
    let mut total = 0u64;
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => {
                return Err(format!(
                    "{allowed}; {} is not a number or an increasing range",
                    quoted(part)
                ))
            }
        };
        total += b - a + 1;
        if total > 100_000 {
            return Err(format!("{allowed}, covering at most 100000 endpoints"));
        }
        out.push((a, b));
    }
    Ok(out)
}

/// An absolute path to a Unix socket: no control characters, and short enough for `sun_path` (107 bytes).
pub fn socket_path(v: &str) -> Result<PathBuf, String> {
    let t = v.trim();
    if !t.starts_with('/') || t.chars().any(char::is_control) {
        return Err(
            "expected an absolute path to a Unix socket, e.g. /var/run/fail2ban/fail2ban.sock"
                .into(),
        );
    }
    if t.len() > 107 {
        return Err(format!(
            "a Unix socket path holds at most 107 bytes, this one has {}",
            t.len()
        ));
    }
    Ok(PathBuf::from(t))
}

/// Most jail names `fail2ban.jails` may list.
pub const MAX_JAILS: usize = 256;

/// A list of fail2ban jail names separated by commas or spaces (empty: every jail). Each name is printable ASCII
/// without spaces or commas, at most 100 characters; duplicates are dropped, order is kept.
pub fn jail_names(v: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in v.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
        if name.len() > 100 || !name.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                "expected jail names (printable ASCII, at most 100 characters each) separated by commas or spaces, e.g. asterisk,sshd"
                    .into(),
            );
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    if out.len() > MAX_JAILS {
        return Err(format!("at most {MAX_JAILS} jail names, not {}", out.len()));
    }
    Ok(out)
}

/// Edit distance, for "did you mean" hints on unknown keys.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let (lo, hi) = (Duration::from_millis(100), Duration::from_secs(3600));
        assert_eq!(duration("500ms", lo, hi), Ok(Duration::from_millis(500)));
        assert_eq!(duration("5s", lo, hi), Ok(Duration::from_secs(5)));
        assert_eq!(duration("2m", lo, hi), Ok(Duration::from_secs(120)));
        assert_eq!(duration("7", lo, hi), Ok(Duration::from_secs(7)));
        assert!(duration("5x", lo, hi).is_err());
        assert!(duration("2h", lo, hi)
            .unwrap_err()
            .contains("from 100ms to 60m"));
        assert!(duration("", lo, hi).is_err());
    }

    #[test]
    fn labels_and_ranges() {
        assert_eq!(
            label_pairs("server=uk-primary, site=london", &["tech"]).unwrap(),
            vec![
                ("server".into(), "uk-primary".into()),
                ("site".into(), "london".into())
            ]
        );
        assert!(label_pairs("tech=x", &["tech"])
            .unwrap_err()
            .contains("used by"));
        assert!(label_pairs("bad name=x", &[]).is_err());
        assert_eq!(
            number_ranges("1031-1070,2001").unwrap(),
            vec![(1031, 1070), (2001, 2001)]
        );
        assert!(number_ranges("10-1").is_err());
        assert!(number_ranges("1-200000").is_err());
    }

    #[test]
    fn misc() {
        assert_eq!(boolean("Yes"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert!(uri("metrics").is_err());
        assert!(uri("/m?x").is_err());
        assert_eq!(distance("prot", "port"), 2);
        assert_eq!(distance("bindadr", "bindaddr"), 1);
    }

    #[test]
    fn fail2ban_values() {
        assert_eq!(
            socket_path(" /run/f2b.sock ").unwrap(),
            PathBuf::from("/run/f2b.sock")
        );
        assert!(socket_path("run/f2b.sock").is_err());
        assert!(socket_path("/run/f2b\n.sock").is_err());
        assert!(socket_path(&format!("/{}", "x".repeat(107)))
            .unwrap_err()
            .contains("at most 107 bytes"));
        assert_eq!(
            jail_names("asterisk, sshd,,asterisk recidive").unwrap(),
            ["asterisk", "sshd", "recidive"]
        );
        assert_eq!(jail_names("").unwrap(), Vec::<String>::new());
        assert!(jail_names("a\u{7f}b").is_err());
        let many: Vec<String> = (0..300).map(|i| format!("j{i}")).collect();
        assert!(jail_names(&many.join(","))
            .unwrap_err()
            .contains("at most 256"));
    }
}
