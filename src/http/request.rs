//! Request-head parser: request line and header fields, nothing else.
//!
//! Strict on purpose: control characters, invalid UTF-8, malformed lines,
//! obsolete line folding and unknown HTTP versions are rejected. The parser
//! never panics and never looks past `max_head` bytes.

/// HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// HTTP/1.0: connection closes unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: connection kept unless `Connection: close`.
    Http11,
}

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// Method token, case-sensitive as sent.
    pub method: String,
    /// Path part of the request target (origin-form; absolute-form reduced).
    pub path: String,
    /// Query string without the `?`, empty if none.
    pub query: String,
    /// Protocol version.
    pub version: Version,
    /// Header fields in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// First value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of header `name` (lower-case), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client lets the connection stay open after the answer.
    pub fn keep_alive(&self) -> bool {
        let has = |tok: &str| {
            self.headers_named("connection")
                .flat_map(|v| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(tok))
        };
        match self.version {
            Version::Http11 => !has("close"),
            Version::Http10 => has("keep-alive") && !has("close"),
        }
    }

    /// Whether the request announces a body (which we do not support).
    /// `Err` when the framing headers are malformed.
    pub fn has_body(&self) -> Result<bool, ParseError> {
        if self.header("transfer-encoding").is_some() {
            return Ok(true);
        }
        let mut len: Option<u64> = None;
        for v in self.headers_named("content-length") {
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::BadRequest);
                }
                let n: u64 = part.parse().map_err(|_| ParseError::BadRequest)?;
                if len.is_some_and(|l| l != n) {
                    return Err(ParseError::BadRequest);
                }
                len = Some(n);
            }
        }
        Ok(len.unwrap_or(0) > 0)
    }
}

/// Why a head was rejected; maps to the status code answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Malformed head: 400.
    BadRequest,
    /// Head longer than the limit: 431.
    HeadTooLarge,
    /// `HTTP/x.y` other than 1.0 and 1.1: 505.
    VersionNotSupported,
}

impl ParseError {
    /// Status code answered for this error.
    pub fn status(self) -> u16 {
        match self {
            ParseError::BadRequest => 400,
            ParseError::HeadTooLarge => 431,
            ParseError::VersionNotSupported => 505,
        }
    }
}

/// Outcome of feeding the bytes received so far to [`parse_head`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A full head, and how many bytes of the buffer it used.
    Complete(Request, usize),
    /// The head is invalid; answer and close.
    Error(ParseError),
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes never allowed anywhere in a head (CR/LF are checked by line splitting).
fn is_forbidden(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f
}

/// Offset just past the blank line ending the head that starts at `start`.
fn find_head_end(buf: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Strip the line terminator; a CR left inside a line is an error.
fn line_text(line: &str) -> Result<&str, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\r') {
        return Err(ParseError::BadRequest);
    }
    Ok(line)
}

/// Parse the head at the front of `buf` (at most `max_head` bytes of it).
pub(crate) fn parse_head(buf: &[u8], max_head: usize) -> Parsed {
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let mut start = 0;
    while start < buf.len() && (buf[start] == b'\r' || buf[start] == b'\n') {
        if buf[start] == b'\r' && buf.get(start + 1).is_some_and(|&b| b != b'\n') {
            return Parsed::Error(ParseError::BadRequest);
        }
        start += 1;
    }
    let end = find_head_end(buf, start);
    // Only this head's bytes: a pipelined request behind it is judged on its own.
    let scan_to = end.unwrap_or(buf.len()).min(max_head.saturating_add(1));
    if buf[start.min(scan_to)..scan_to]
        .iter()
        .any(|&b| is_forbidden(b))
    {
        return Parsed::Error(ParseError::BadRequest);
    }
    let end = match end {
        Some(end) if end <= max_head => end,
        Some(_) => return Parsed::Error(ParseError::HeadTooLarge),
        None if buf.len() >= max_head => return Parsed::Error(ParseError::HeadTooLarge),
        None => {
            // Reject a bad request line early instead of waiting for a timeout.
            if let Some(p) = buf[start..].iter().position(|&b| b == b'\n') {
                let first = &buf[start..start + p];
                let checked = std::str::from_utf8(first)
                    .map_err(|_| ParseError::BadRequest)
                    .and_then(line_text)
                    .and_then(parse_request_line);
                if let Err(e) = checked {
                    return Parsed::Error(e);
                }
            }
            return Parsed::Incomplete;
        }
    };
    match parse_complete(&buf[start..end]) {
        Ok(req) => Parsed::Complete(req, end),
        Err(e) => Parsed::Error(e),
    }
}

type RequestLine = (String, String, String, Version);

fn parse_request_line(line: &str) -> Result<RequestLine, ParseError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequest);
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(ParseError::BadRequest);
    }
    let version = parse_version(version)?;
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError::BadRequest);
    }
    let origin = if target.starts_with('/') || target == "*" {
        target
    } else if let Some(rest) =
        strip_prefix_ci(target, "http://").or_else(|| strip_prefix_ci(target, "https://"))
    {
        // absolute-form: drop scheme and authority.
        match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
            Some(i) => return Ok(split_target(&format!("/{}", &rest[i..]), method, version)),
            None => "/",
        }
    } else {
        return Err(ParseError::BadRequest);
    };
    Ok(split_target(origin, method, version))
}

fn split_target(target: &str, method: &str, version: Version) -> RequestLine {
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (
        method.to_string(),
        path.to_string(),
        query.to_string(),
        version,
    )
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_version(v: &str) -> Result<Version, ParseError> {
    match v {
        "HTTP/1.1" => Ok(Version::Http11),
        "HTTP/1.0" => Ok(Version::Http10),
        _ => {
            let b = v.as_bytes();
            let looks_http = b.len() == 8
                && b.starts_with(b"HTTP/")
                && b[5].is_ascii_digit()
                && b[6] == b'.'
                && b[7].is_ascii_digit();
            Err(if looks_http {
                ParseError::VersionNotSupported
            } else {
                ParseError::BadRequest
            })
        }
    }
}

fn parse_complete(head: &[u8]) -> Result<Request, ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::BadRequest)?;
    let mut lines = text.split('\n');
    let first = line_text(lines.next().unwrap_or_default())?;
    let (method, path, query, version) = parse_request_line(first)?;
    let mut headers = Vec::new();
    for raw in lines {
        let line = line_text(raw)?;
        if line.is_empty() {
            break; // the blank line ending the head
        }
        let (name, value) = line.split_once(':').ok_or(ParseError::BadRequest)?;
        // Obsolete folding (leading whitespace) and whitespace before ':' are rejected.
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(ParseError::BadRequest);
        }
        let value = value.trim_matches([' ', '\t']);
        headers.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(Request {
        method,
        path,
        query,
        version,
        headers,
    })
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
