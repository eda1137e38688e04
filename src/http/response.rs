//! Response building and serialisation.

use std::io::Write;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A response ready to be serialised onto a connection.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    /// Status code.
    pub status: u16,
    /// Extra header fields (`Content-Length`, `Date` and `Connection` are added
    /// by [`Response::write_head`]).
    pub headers: Vec<(&'static str, String)>,
    /// Body (the full one also for `HEAD`, so `Content-Length` is right); shared by every connection sending it.
    pub body: Arc<Vec<u8>>,
}

impl Response {
    /// A response with a `Content-Type` and a body.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: Arc::new(body),
        }
    }

    /// A short `text/plain` response naming the status.
    pub fn plain(status: u16) -> Response {
        let body = format!("{} {}\n", status, reason(status)).into_bytes();
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// Add a header field.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Serialise status line and headers onto `out` (the body is sent from [`Response::body`] as it is).
    /// `keep_alive` selects the `Connection` header; `http10` whether the
    /// client needs `Connection: keep-alive` spelled out.
    pub fn write_head(&self, out: &mut Vec<u8>, keep_alive: bool, http10: bool) {
        out.reserve(256);
        // Writing into a Vec cannot fail.
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let _ = write!(out, "Date: {}\r\n", http_date(SystemTime::now()));
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Reason phrase of the status codes this server sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Gzip `data` at the fast compression level.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WD[(days % 7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31); H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let at = |s| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn serialise() {
        let r = Response::plain(404).with("X-A", "b");
        let mut out = Vec::new();
        r.write_head(&mut out, false, false);
        out.extend_from_slice(&r.body);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 404 Not Found\r\nDate: "), "{s}");
        assert!(
            s.contains("\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: b\r\n"),
            "{s}"
        );
        assert!(s.contains("\r\nContent-Length: 14\r\nConnection: close\r\n\r\n404 Not Found\n"));
        let mut out = Vec::new();
        r.write_head(&mut out, true, true);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.ends_with("Content-Length: 14\r\nConnection: keep-alive\r\n\r\n"),
            "{s}"
        );
    }

    #[test]
    fn gzip_roundtrip() {
        use std::io::Read;
        let data = b"metric_a 1\nmetric_b 2\n".repeat(100);
        let z = gzip(&data);
        assert!(z.len() < data.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}
