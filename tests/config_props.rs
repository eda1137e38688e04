//! Property tests of the configuration parser (`ConfigBuilder`): thousands of generated keys and values, fixed
//! seed, in the normal run. Whatever the input: no panic; a refusal names the key first, quotes at most a bounded,
//! escaped prefix of the value and no control character; a secret never appears; a key is set once; durations and
//! integers read back exactly what was accepted.

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, RngSeed, TestRng, TestRunner};
use res_prom_rs::config::{ConfigBuilder, KEYS};

/// Any key: a listed one (in any case, with spaces), a bucket family, or arbitrary text.
fn key() -> impl Strategy<Value = String> {
    let listed = proptest::sample::select(KEYS.to_vec())
        .prop_map(|k| k.replace("FAMILY", "asterisk_rtcp_mes"));
    prop_oneof![
        4 => listed.clone(),
        1 => listed.prop_map(|k| format!(" {} ", k.to_ascii_uppercase())),
        1 => any::<String>(),
        1 => "[a-z._]{0,30}".prop_map(String::from),
    ]
}

/// Any value: numbers near the limits, durations with every unit, lists, control characters, long text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (
            any::<u64>(),
            proptest::sample::select(vec!["", "ms", "s", "m", "h", "x", " s"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        any::<f64>().prop_map(|f| format!("{f}s")),
        "[0-9.,: -]{0,20}".prop_map(String::from),
        "[a-z_=,]{0,30}".prop_map(String::from),
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..3000).prop_map(|v| v.into_iter().collect()),
        Just("yes".to_string()),
        Just("x\n[prom_host] NOTICE: forged".to_string()),
    ]
}

fn runner(cases: u32) -> TestRunner {
    let config = PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5eed),
        ..PtConfig::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// What every refusal must look like.
fn check_message(text: &str, key: &str) -> Result<(), TestCaseError> {
    prop_assert!(text.starts_with("key \""), "not key first: {text:?}");
    prop_assert!(
        !text.chars().any(char::is_control),
        "control character: {text:?}"
    );
    // The key and the value are each shown by at most 48 characters (escapes make up to 10 bytes of one); the rest
    // of the message is our own text, whose longest part is the list of keys.
    prop_assert!(text.len() < 1600, "{} bytes: {text:?}", text.len());
    let shown_key: String = key
        .trim()
        .chars()
        .take(8)
        .filter(|c| c.is_alphanumeric())
        .collect();
    if !shown_key.is_empty()
        && key
            .trim()
            .chars()
            .take(8)
            .all(|c| c.is_ascii_alphanumeric())
    {
        prop_assert!(text[5..].starts_with(&shown_key), "key not first: {text:?}");
    }
    Ok(())
}

#[test]
fn any_key_and_value_is_accepted_or_refused_cleanly() {
    runner(3000)
        .run(
            &proptest::collection::vec((key(), value()), 1..6),
            |pairs| {
                let mut b = ConfigBuilder::new();
                for (k, v) in &pairs {
                    if let Err(e) = b.set(k, v) {
                        check_message(&e.to_string(), k)?;
                    }
                }
                match b.finish() {
                    Ok(_) => {}
                    Err(e) => {
                        let text = e.to_string();
                        prop_assert!(
                            text.starts_with("key \"") && !text.chars().any(char::is_control)
                        );
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn secrets_never_appear_in_a_message() {
    let secret_key =
        proptest::sample::select(vec!["auth_password", "vicidial.password", "AUTH_PASSWORD"]);
    runner(2000)
        .run(
            &(secret_key, any::<String>(), any::<bool>()),
            |(k, v, twice)| {
                let secret = format!("Zq9{v}");
                let mut b = ConfigBuilder::new();
                let mut errors = Vec::new();
                if twice {
                    let _ = b.set(k, "Zq9-first");
                }
                if let Err(e) = b.set(k, &secret) {
                    errors.push(e.to_string());
                }
                errors.extend(b.finish().err().map(|e| e.to_string()));
                for text in errors {
                    prop_assert!(!text.contains("Zq9"), "secret in {text:?}");
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn accepted_durations_and_integers_read_back_exactly() {
    runner(2000)
        .run(
            &(100u64..=3_600_000, 0u64..70_000, any::<u64>()),
            |(ms, port, big)| {
                let mut b = ConfigBuilder::new();
                b.set("sample_interval", &format!("{ms}ms")).unwrap();
                prop_assert_eq!(b.get_int("sample_interval").unwrap(), ms as i64);
                let accepted = b.set("port", &port.to_string()).is_ok();
                prop_assert_eq!(accepted, (1..=65535).contains(&port));
                if accepted {
                    prop_assert_eq!(b.get_int("port").unwrap(), port as i64);
                    // A second setting is refused and changes nothing.
                    prop_assert!(b.set("port", "1").is_err());
                    prop_assert_eq!(b.get_int("port").unwrap(), port as i64);
                }
                // Whole seconds of any size: refused past the key's maximum, never a panic.
                let r = b.set("vicidial.interval", &big.to_string());
                prop_assert_eq!(r.is_ok(), (1..=3600).contains(&big));
                Ok(())
            },
        )
        .unwrap();
}
