//! Parser tests: valid heads, garbage, limits, random input.

use super::*;

fn complete(s: &str) -> Request {
    match parse_head(s.as_bytes(), 8192) {
        Parsed::Complete(r, n) => {
            assert_eq!(n, s.len());
            r
        }
        other => panic!("{s:?}: {other:?}"),
    }
}

fn error(s: &[u8]) -> ParseError {
    match parse_head(s, 8192) {
        Parsed::Error(e) => e,
        other => panic!("{s:?}: {other:?}"),
    }
}

#[test]
fn simple_get() {
    let r =
        complete("GET /metrics?collect[]=a HTTP/1.1\r\nHost: x\r\nAccept:  text/plain \r\n\r\n");
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/metrics");
    assert_eq!(r.query, "collect[]=a");
    assert_eq!(r.version, Version::Http11);
    assert_eq!(r.header("accept"), Some("text/plain"));
    assert_eq!(r.header("host"), Some("x"));
    assert!(r.keep_alive());
    assert_eq!(r.has_body(), Ok(false));
}

#[test]
fn bare_lf_and_leading_blank_lines() {
    let r = complete("\r\n\nHEAD / HTTP/1.0\nCONNECTION: Keep-Alive\n\n");
    assert_eq!(r.method, "HEAD");
    assert_eq!(r.version, Version::Http10);
    assert!(r.keep_alive());
    let r = complete("GET / HTTP/1.0\r\n\r\n");
    assert!(!r.keep_alive());
    let r = complete("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n");
    assert!(!r.keep_alive());
}

#[test]
fn absolute_form() {
    assert_eq!(complete("GET http://h:1/m?x HTTP/1.1\r\n\r\n").path, "/m");
    let r = complete("GET HTTP://h?q=1 HTTP/1.1\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_str()), ("/", "q=1"));
    assert_eq!(complete("GET http://h HTTP/1.1\r\n\r\n").path, "/");
}

#[test]
fn pipelined_consumes_first_only() {
    let s = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    match parse_head(s, 8192) {
        Parsed::Complete(r, n) => {
            assert_eq!(r.path, "/a");
            assert_eq!(n, 19);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn incomplete() {
    for s in [
        "",
        "GET",
        "GET / HTTP/1.1",
        "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r",
    ] {
        assert_eq!(parse_head(s.as_bytes(), 8192), Parsed::Incomplete, "{s:?}");
    }
}

#[test]
fn garbage_rejected() {
    for s in [
        &b"\x00\x01\x02\xff\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00",
        b"hello\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1 x\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET foo HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: \xff\xfe\r\n\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
        b"\rGET / HTTP/1.1\r\n\r\n",
        b"garbage line\n",
    ] {
        assert_eq!(error(s), ParseError::BadRequest, "{s:?}");
    }
    assert_eq!(
        error(b"GET / HTTP/2.0\r\n\r\n"),
        ParseError::VersionNotSupported
    );
    assert_eq!(
        error(b"GET / HTTP/1.2\r\n\r\n"),
        ParseError::VersionNotSupported
    );
}

#[test]
fn oversized() {
    let mut s = b"GET / HTTP/1.1\r\nX: ".to_vec();
    s.resize(9000, b'a');
    assert_eq!(error(&s), ParseError::HeadTooLarge);
    s.extend_from_slice(b"\r\n\r\n");
    assert_eq!(error(&s), ParseError::HeadTooLarge);
    // exactly at the limit is fine
    let mut ok = b"GET / HTTP/1.1\r\nX: ".to_vec();
    ok.resize(8192 - 4, b'a');
    ok.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(parse_head(&ok, 8192), Parsed::Complete(_, 8192)));
    // blank lines alone count against the limit too
    assert_eq!(error(&[b'\n'; 9000]), ParseError::HeadTooLarge);
}

#[test]
fn body_framing() {
    let r = complete("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(r.has_body(), Ok(true));
    let r = complete("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.has_body(), Ok(false));
    let r = complete("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(r.has_body(), Ok(true));
    let r = complete("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    assert_eq!(r.has_body(), Err(ParseError::BadRequest));
    let r = complete("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(r.has_body(), Err(ParseError::BadRequest));
    let r = complete("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    assert_eq!(r.has_body(), Err(ParseError::BadRequest));
}

/// xorshift; deterministic pseudo-random bytes without extra crates.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let alphabet = b"GET /HTP1.0\r\n: \t?=&%\x00\xff\xc3\xa9aZ";
    for i in 0..20_000 {
        let len = (rng(&mut seed) % 300) as usize;
        let buf: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng(&mut seed);
                if i % 2 == 0 {
                    r as u8
                } else {
                    alphabet[(r % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        for max in [0, 1, 16, 8192] {
            if let Parsed::Complete(r, n) = parse_head(&buf, max) {
                assert!(n <= max && n <= buf.len());
                let _ = (r.keep_alive(), r.has_body());
            }
        }
    }
}

#[test]
fn random_mutations_of_valid_request_never_panic() {
    let base = b"GET /metrics?collect%5B%5D=a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    let mut seed = 42u64;
    for _ in 0..20_000 {
        let mut buf = base.to_vec();
        for _ in 0..(rng(&mut seed) % 4 + 1) {
            let pos = (rng(&mut seed) % buf.len() as u64) as usize;
            match rng(&mut seed) % 3 {
                0 => buf[pos] = rng(&mut seed) as u8,
                1 => {
                    buf.remove(pos);
                }
                _ => buf.insert(pos, rng(&mut seed) as u8),
            }
            if buf.is_empty() {
                break;
            }
        }
        let _ = parse_head(&buf, 8192);
        for cut in 0..buf.len() {
            let _ = parse_head(&buf[..cut], 8192);
        }
    }
}

#[test]
fn pipelined_garbage_does_not_spoil_the_first_request() {
    let s = b"GET /a HTTP/1.1\r\n\r\n\x00\x01garbage";
    assert!(matches!(parse_head(s, 8192), Parsed::Complete(_, 19)));
    assert_eq!(
        parse_head(&s[19..], 8192),
        Parsed::Error(ParseError::BadRequest)
    );
}
