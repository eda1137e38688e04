//! The layout's rules, checked on the sources: no import circle between the modules of `src/` (the collectors
//! under `src/collect/` counted one by one), and no call circle between the C files of `asterisk_module/` and of
//! each `c_shim/` folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// The code of a source file without line comments (doc comments name modules without importing them) and without
/// its unit tests (`super::` inside an inline `mod tests` means the file's own module, and tests may use anything).
fn code(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("mod tests"))
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Finds a cycle in `graph` and returns it, node by node.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let i = path.iter().position(|p| p == n).unwrap();
                let mut c = path[i..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut state, &mut Vec::new()))
}

/// The module path a file defines: `src/collect/vicidial/db.rs` -> `[collect, vicidial, db]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The node a module path belongs to: its top-level module, or `collect::<child>` under the collector layer.
fn node(path: &[String]) -> String {
    match path {
        [] => "lib".into(),
        [c, child, ..] if c == "collect" => format!("collect::{child}"),
        [top, ..] => top.clone(),
    }
}

/// Idents after `prefix` in `text`: `crate::a::b` gives `[a, b]`; `crate::{a, b::c}` gives `[a]` and `[b, c]`.
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty())
            .collect()
    };
    for (i, _) in text.match_indices(prefix) {
        if text[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        if let Some(inner) = rest.strip_prefix('{') {
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            out.extend(inner.split(',').map(|s| ident(s.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out
}

#[test]
fn src_modules_import_no_circle() {
    let src = repo().join("src");
    let mut rs = Vec::new();
    files(&src, "rs", &mut rs);
    let known: BTreeSet<Vec<String>> = rs.iter().map(|f| module_of(&src, f)).collect();
    // The module a path names: its longest prefix that is a module (the rest names an item in it).
    let module = |t: &[String]| -> Option<Vec<String>> {
        (0..=t.len())
            .rev()
            .map(|n| t[..n].to_vec())
            .find(|p| !p.is_empty() && known.contains(p))
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &rs {
        let here = module_of(&src, f);
        let from = node(&here);
        let text = code(f);
        let mut targets: Vec<Vec<String>> = paths_after(&text, "crate::");
        // A child module named by a relative path (`vicidial::Vicidial` in collect/mod.rs).
        for child in known
            .iter()
            .filter(|k| k.len() == here.len() + 1 && k.starts_with(&here))
        {
            let name = format!("{}::", child[child.len() - 1]);
            targets.extend(paths_after(&text, &name).into_iter().map(|_| child.clone()));
        }
        // `super::x` from module a::b::c (file c.rs) is a::b::x; from a::b (b/mod.rs) too, relative to a::b's parent.
        let parent = &here[..here.len().saturating_sub(1)];
        for p in paths_after(&text, "super::") {
            let mut full = parent.to_vec();
            full.extend(p);
            targets.push(full);
        }
        for t in targets.iter().filter_map(|t| module(t)) {
            let to = node(&t);
            if to != from && to != "lib" {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    assert!(graph.contains_key("core"), "the graph was read: {graph:?}");
    if let Some(c) = cycle(&graph) {
        panic!("import circle in src/: {}", c.join(" -> "));
    }
}

/// Functions a C file defines for other files (not `static`, at the start of a line).
fn c_exports(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.starts_with(char::is_whitespace)
                && !l.starts_with("static")
                && !l.starts_with('#')
                && !l.starts_with('}')
                && !l.contains(';')
                && l.contains('(')
        })
        .filter_map(|l| {
            let name: String = l[..l.find('(')?]
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

fn calls(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().last();
        let after = text[i + name.len()..].trim_start().chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after == Some('(')
    })
}

fn c_call_circle(dir: &Path) -> Option<Vec<String>> {
    let mut cs = Vec::new();
    files(dir, "c", &mut cs);
    let texts: Vec<(String, String)> = cs
        .iter()
        .map(|p| {
            (
                p.strip_prefix(repo()).unwrap().display().to_string(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (b, tb) in &texts {
        for f in c_exports(tb) {
            for (a, ta) in texts.iter().filter(|(a, _)| a != b) {
                if calls(ta, &f) {
                    graph.entry(a.clone()).or_default().insert(b.clone());
                }
            }
        }
    }
    cycle(&graph)
}

#[test]
fn c_files_call_no_circle() {
    let mut dirs = vec![repo().join("asterisk_module")];
    for e in std::fs::read_dir(repo().join("c_shim")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            dirs.push(p);
        }
    }
    dirs.push(repo().join("c_shim"));
    for d in dirs {
        if let Some(c) = c_call_circle(&d) {
            panic!("call circle between C files: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_checks_see_a_circle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        paths_after("use crate::{a::b, c};", "crate::"),
        [vec!["a", "b"], vec!["c"]]
    );
    assert_eq!(
        c_exports("int prom_x(void)\n{\nstatic void y(void)\n"),
        ["prom_x"]
    );
    assert!(calls("  r = prom_x (1);", "prom_x"));
    assert!(!calls("  r = my_prom_x(1);", "prom_x"));
}
