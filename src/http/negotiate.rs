//! Header and query interpretation: content negotiation (`Accept`,
//! `Accept-Encoding`), `collect[]` query values and Basic credentials (decoding; the check is
//! in `auth.rs`).

use crate::registry::Format;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Quality value of a `;`-separated parameter list (1.0 when absent,
/// invalid values read as 1.0, clamped to 0..=1).
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> f32 {
    for p in params {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("q") {
                return match v.trim().parse::<f32>() {
                    Ok(q) if q.is_nan() => 0.0,
                    Ok(q) => q.clamp(0.0, 1.0),
                    Err(_) => 1.0,
                };
            }
        }
    }
    1.0
}

/// Value of parameter `name` in a `;`-separated list, quotes removed.
fn param<'a>(params: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    params.filter_map(|p| p.split_once('=')).find_map(|(k, v)| {
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Choose the exposition format from the `Accept` header values.
///
/// OpenMetrics is chosen when `application/openmetrics-text` (version 1.0.0 or
/// no version) is acceptable (q > 0) and ranked at least as high as the best
/// text 0.0.4 match (`text/plain` with version 0.0.4 or none, `text/*`, `*/*`).
/// Everything else, including no `Accept` at all, gives text 0.0.4.
pub(crate) fn choose_format<'a>(accept: impl Iterator<Item = &'a str>) -> Format {
    let mut om_q: f32 = 0.0;
    let mut text_q: f32 = 0.0;
    for range in accept.flat_map(|v| v.split(',')) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let params = || range.split(';').skip(1);
        let q = quality(params());
        let version = param(params(), "version");
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            if version.is_none() || version == Some("1.0.0") {
                om_q = om_q.max(q);
            }
        } else if media.eq_ignore_ascii_case("text/plain") {
            if version.is_none() || version == Some("0.0.4") {
                text_q = text_q.max(q);
            }
        } else if media.eq_ignore_ascii_case("text/*") || media == "*/*" {
            text_q = text_q.max(q);
        }
    }
    if om_q > 0.0 && om_q >= text_q {
        Format::OpenMetrics100
    } else {
        Format::Text004
    }
}

/// Whether the `Accept-Encoding` header values allow gzip: `gzip` (or
/// `x-gzip`) with q > 0, or `*` with q > 0 when gzip is not listed.
pub(crate) fn accepts_gzip<'a>(accept_encoding: impl Iterator<Item = &'a str>) -> bool {
    let mut gzip: Option<f32> = None;
    let mut star: Option<f32> = None;
    for coding in accept_encoding.flat_map(|v| v.split(',')) {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = quality(parts);
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(q, |g| g.max(q)));
        } else if name == "*" {
            star = Some(q);
        }
    }
    gzip.or(star).is_some_and(|q| q > 0.0)
}

/// Percent-decode a query component (`+` means space). Malformed escapes are
/// kept as they are; invalid UTF-8 is replaced.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The non-empty `collect[]` values of a query string, decoded, in order.
pub(crate) fn collect_params(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (percent_decode(k) == "collect[]").then(|| percent_decode(v))
        })
        .filter(|v| !v.is_empty())
        .collect()
}

const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The (user, password) of a `Basic` `Authorization` header value; `None` when it is not one (other scheme, bad
/// base64, no `:`). The password is everything after the first `:`.
pub(crate) fn decode_basic(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = B64.decode(rest.trim()).ok()?;
    let i = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..i].to_vec(), decoded[i + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt_of(a: &str) -> Format {
        choose_format(std::iter::once(a))
    }

    #[test]
    fn accept_negotiation() {
        use Format::*;
        assert_eq!(choose_format(std::iter::empty()), Text004);
        assert_eq!(fmt_of(""), Text004);
        assert_eq!(fmt_of("*/*"), Text004);
        assert_eq!(fmt_of("text/plain"), Text004);
        assert_eq!(fmt_of("application/openmetrics-text"), OpenMetrics100);
        assert_eq!(
            fmt_of("Application/OpenMetrics-Text; version=1.0.0"),
            OpenMetrics100
        );
        assert_eq!(
            fmt_of("application/openmetrics-text;version=\"1.0.0\""),
            OpenMetrics100
        );
        assert_eq!(
            fmt_of("application/openmetrics-text; version=0.0.1"),
            Text004
        );
        assert_eq!(fmt_of("application/openmetrics-text; q=0"), Text004);
        assert_eq!(
            fmt_of("application/openmetrics-text;q=0.0,text/plain"),
            Text004
        );
        assert_eq!(
            fmt_of("application/openmetrics-text;q=0.5,text/plain;q=0.9"),
            Text004
        );
        assert_eq!(
            fmt_of("application/openmetrics-text;q=0.5,*/*;q=0.1"),
            OpenMetrics100
        );
        assert_eq!(
            fmt_of("text/plain, application/openmetrics-text"),
            OpenMetrics100
        );
        assert_eq!(
            fmt_of("application/openmetrics-text; q=garbage"),
            OpenMetrics100
        );
        assert_eq!(fmt_of(";;;,,=,q=,;q"), Text004);
        // What Prometheus 2.x/3.x send.
        assert_eq!(
            fmt_of(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            ),
            OpenMetrics100
        );
        assert_eq!(
            fmt_of(
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                 application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                 escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
            ),
            OpenMetrics100
        );
        assert_eq!(
            choose_format(["text/html", "application/openmetrics-text"].into_iter()),
            OpenMetrics100
        );
    }

    #[test]
    fn gzip_negotiation() {
        let g = |s: &str| accepts_gzip(std::iter::once(s));
        assert!(!accepts_gzip(std::iter::empty()));
        assert!(g("gzip"));
        assert!(g("deflate, GZIP;q=0.5"));
        assert!(g("x-gzip"));
        assert!(g("*"));
        assert!(!g("gzip;q=0"));
        assert!(!g("gzip;q=0.000, *"));
        assert!(!g("identity"));
        assert!(!g("*;q=0"));
        assert!(!g("gzipx"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%41%7a"), "Az");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode(""), "");
    }

    #[test]
    fn collect_values() {
        assert_eq!(collect_params(""), Vec::<String>::new());
        assert_eq!(
            collect_params("collect[]=a&x=1&collect%5B%5D=b%5Fc&collect%5b%5d=d&collect[]=&foo"),
            vec!["a", "b_c", "d"]
        );
        assert_eq!(collect_params("collect=a&collect[]"), Vec::<String>::new());
        assert_eq!(collect_params("collect[]=a=b"), vec!["a=b"]);
    }

    #[test]
    fn basic_auth() {
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let pair = |u: &str, p: &str| Some((u.as_bytes().to_vec(), p.as_bytes().to_vec()));
        assert_eq!(decode_basic(&enc("prom:s3:cret")), pair("prom", "s3:cret"));
        assert_eq!(
            decode_basic(&enc("prom:s3:cret").replace("Basic", "basic")),
            pair("prom", "s3:cret")
        );
        assert_eq!(
            decode_basic(enc("prom:s3:cret").trim_end_matches('=')),
            pair("prom", "s3:cret")
        );
        assert_eq!(decode_basic(&enc(":")), pair("", ""));
        for bad in [
            enc("prom"),
            "Basic !!!".into(),
            "Bearer abc".into(),
            "Basic".into(),
        ] {
            assert_eq!(decode_basic(&bad), None, "{bad}");
        }
    }
}
