//! The README's configuration reference lists exactly the keys the core accepts.

use res_prom_rs::config::KEYS;

#[test]
fn the_readme_config_reference_lists_every_key_and_no_other() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## Configuration reference").unwrap();
    let end = readme[start..].find("## Metric reference").unwrap() + start;
    let mut documented: Vec<String> = Vec::new();
    for line in readme[start..end].lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap();
        documented.extend(first_cell.split('`').skip(1).step_by(2).map(String::from));
    }
    let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    documented.sort();
    keys.sort();
    assert_eq!(
        documented, keys,
        "README keys (left) vs config::KEYS (right)"
    );
}
