//! Property tests of the request-head parser: a few thousand generated inputs per property, from a fixed seed so
//! every run (and CI) checks the same inputs.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::*;

const MAX: usize = 1024;

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[13; 32]))
}

/// Pieces a head is made of, so that random inputs often get deep into the parser.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET ".to_vec()),
        Just(b"HEAD /metrics".to_vec()),
        Just(b" HTTP/1.1".to_vec()),
        Just(b" HTTP/1.0".to_vec()),
        Just(b" HTTP/2.0".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"Host: x".to_vec()),
        Just(b"Content-Length: 3".to_vec()),
        Just(b": ".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"http://h/p?q#f".to_vec()),
        Just(vec![0]),
        Just(vec![0x7f]),
        Just(vec![0xc3, 0x28]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

#[test]
fn any_input_gives_a_sane_outcome() {
    runner(2000)
        .run(&input(), |buf| {
            match parse_head(&buf, MAX) {
                Parsed::Complete(req, used) => {
                    prop_assert!(used <= buf.len() && used <= MAX);
                    prop_assert!(
                        buf[..used].ends_with(b"\n\n") || buf[..used].ends_with(b"\n\r\n")
                    );
                    prop_assert!(!req.method.is_empty() && req.method.bytes().all(is_tchar));
                    prop_assert!(req.path.starts_with('/') || req.path == "*");
                    for (name, value) in &req.headers {
                        prop_assert!(!name.is_empty() && name.bytes().all(is_tchar));
                        prop_assert_eq!(name.to_ascii_lowercase(), name.clone());
                        prop_assert!(!value.chars().any(|c| c.is_control() && c != '\t'));
                    }
                    // Nothing after the head changes how the head itself parses.
                    let mut longer = buf[..used].to_vec();
                    longer.extend_from_slice(b"GARBAGE \x00\r\n");
                    prop_assert_eq!(parse_head(&longer, MAX), Parsed::Complete(req, used));
                }
                Parsed::Incomplete => prop_assert!(buf.len() < MAX),
                Parsed::Error(_) => {}
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_prefix_of_a_complete_head_never_completes_differently() {
    runner(1000)
        .run(&(input(), any::<prop::sample::Index>()), |(buf, cut)| {
            if let Parsed::Complete(_, used) = parse_head(&buf, MAX) {
                let n = cut.index(used);
                // Cutting before the end of the head: more bytes needed, or the same verdict an error already gave.
                prop_assert!(
                    !matches!(parse_head(&buf[..n], MAX), Parsed::Complete(..)),
                    "{n}/{used}"
                );
            }
            Ok(())
        })
        .unwrap();
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

#[test]
fn generated_valid_heads_round_trip() {
    let head = (
        token(),
        "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,10}){1,4}",
        proptest::option::of("[A-Za-z0-9._~%&=\\[\\]-]{0,20}"),
        any::<bool>(),
        proptest::collection::vec((token(), "[ -~]{0,30}"), 0..8),
    );
    runner(1000)
        .run(&head, |(method, path, query, v11, headers)| {
            let mut raw = format!("{method} {path}");
            if let Some(q) = &query {
                raw.push('?');
                raw.push_str(q);
            }
            raw.push_str(if v11 {
                " HTTP/1.1\r\n"
            } else {
                " HTTP/1.0\r\n"
            });
            for (n, v) in &headers {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            let Parsed::Complete(req, used) = parse_head(raw.as_bytes(), 8192) else {
                return Err(TestCaseError::fail(format!("not parsed: {raw:?}")));
            };
            prop_assert_eq!(used, raw.len());
            prop_assert_eq!(&req.method, &method);
            prop_assert_eq!(&req.path, &path);
            prop_assert_eq!(&req.query, &query.unwrap_or_default());
            prop_assert_eq!(
                req.version,
                if v11 {
                    Version::Http11
                } else {
                    Version::Http10
                }
            );
            let want: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_ascii_lowercase(),
                        v.trim_matches([' ', '\t']).to_string(),
                    )
                })
                .collect();
            prop_assert_eq!(req.headers, want);
            // A head over the limit is 431, never parsed.
            let limit = raw.len() - 1;
            prop_assert_eq!(
                parse_head(raw.as_bytes(), limit),
                Parsed::Error(ParseError::HeadTooLarge)
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_forbidden_byte_anywhere_in_the_head_is_refused() {
    let forbidden = prop_oneof![0u8..0x09, 0x0bu8..0x0d, 0x0eu8..0x20, Just(0x7f)];
    runner(1000)
        .run(&(forbidden, any::<prop::sample::Index>()), |(b, at)| {
            let raw = b"GET /metrics?x=1 HTTP/1.1\r\nHost: example\r\nAccept: text/plain\r\n\r\n";
            let body_end = raw.len() - 4;
            let i = at.index(body_end);
            let mut bad = raw.to_vec();
            bad.insert(i, b);
            prop_assert!(
                matches!(parse_head(&bad, 8192), Parsed::Error(_)),
                "{:?}",
                String::from_utf8_lossy(&bad)
            );
            Ok(())
        })
        .unwrap();
}
