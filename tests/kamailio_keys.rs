//! The Kamailio module declares one modparam per configuration key (c_shim/kamailio/prom_rs_mod.c,
//! PROM_RS_KAM_KEYS): exactly the core's keys (`buckets.FAMILY` once per histogram family), plus the OpenSIPS
//! spellings of the statistics keys and `set`. A key added to the core without a modparam fails here.

use res_prom_rs::config::{DEFAULT_BUCKETS, KEYS};

const HOST_ONLY: &[&str] = &["statistics", "prefix", "group_mode", "set"];

#[test]
fn every_core_key_is_a_kamailio_modparam_and_no_other() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/c_shim/kamailio/prom_rs_mod.c"
    ))
    .unwrap();
    let start = src.find("#define PROM_RS_KAM_KEYS(X)").expect("key list");
    let end = start + src[start..].find("\n\n").unwrap();
    let mut declared: Vec<String> = Vec::new();
    let mut numbers: Vec<usize> = Vec::new();
    for item in src[start..end].split("X(").skip(1) {
        let (n, rest) = item.split_once(',').unwrap();
        numbers.push(n.trim().parse().unwrap());
        declared.push(rest.split('"').nth(1).unwrap().to_string());
    }
    let mut want: Vec<String> = Vec::new();
    for k in KEYS {
        if *k == "buckets.FAMILY" {
            want.extend(DEFAULT_BUCKETS.iter().map(|(f, _)| format!("buckets.{f}")));
        } else {
            want.push(k.to_string());
        }
    }
    want.extend(HOST_ONLY.iter().map(|k| k.to_string()));
    // The trampolines are named by these numbers: they must be distinct.
    assert_eq!(numbers, (0..numbers.len()).collect::<Vec<_>>());
    declared.sort();
    want.sort();
    assert_eq!(
        declared, want,
        "modparams (left) vs the core's keys (right)"
    );
}

#[test]
fn the_readme_kamailio_section_documents_every_host_only_modparam() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("\n## Kamailio\n").expect("a Kamailio section");
    let end = start + 1 + readme[start + 1..].find("\n## ").unwrap();
    let section = &readme[start..end];
    // The core's keys are in the configuration reference (tests/docs.rs); the modparams only this host has, and the
    // statement that every key is a modparam, must be in the Kamailio section.
    for key in HOST_ONLY {
        assert!(
            section.contains(&format!("`{key}`")) || section.contains(&format!("\"{key}\"")),
            "README's Kamailio section does not document modparam {key}"
        );
    }
    assert!(section.contains(
        "Every key of the [configuration reference](#configuration-reference) is a modparam"
    ));
    for line in ["make kamailio ", "sudo make install-kamailio"] {
        assert!(section.contains(line), "install line `{line}`");
    }
    assert!(section.contains("Kamailio cannot unload or reload modules"));
}
