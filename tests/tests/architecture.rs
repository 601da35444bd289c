//! The layout rules of the workspace, checked on its sources: no import cycle between the
//! modules of a crate (a module may use the ones below it, never one that uses it back), no
//! source file over 600 lines outside its tests, and a thin binary (`inference/src/main.rs`
//! under 150 lines, one module per subcommand in `commands/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ferrofold_tests::workspace_root;

const CRATES: [&str; 6] = ["features", "data", "model", "training", "inference", "tests"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A file's code outside its unit tests, without comment lines.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The crate's top-level modules that `code` names through `crate::`.
fn modules_named(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let mut named = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            named.extend(group.split(',').map(|item| ident(item.trim())));
        } else {
            named.insert(ident(rest));
        }
    }
    named.retain(|m: &String| !m.is_empty());
    named
}

/// Module → the modules it names, for the library of `crate_dir` (the binary's own modules,
/// `main.rs`, `commands/` and `bin/`, are left out: they sit above the library).
fn module_graph(crate_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let src = crate_dir.join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if ["lib", "main", "bin", "commands"].contains(&top.as_str()) {
            continue;
        }
        let named = modules_named(&code(&path));
        graph.entry(top.clone()).or_default().extend(named.into_iter().filter(|m| *m != top));
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten().filter(|n| graph.contains_key(*n)) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_import_cycle() {
    for name in CRATES {
        let graph = module_graph(&workspace_root().join(name));
        assert!(graph.len() > 1 || name == "tests", "{name}: modules not found");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{name}: modules import each other: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let names = modules_named("use crate::{error::Result, plan::Stage};\nx = crate::host::f();");
    assert_eq!(names, BTreeSet::from(["error".into(), "plan".into(), "host".into()]));
}

#[test]
fn source_files_stay_under_600_lines_and_the_binary_is_thin() {
    for name in CRATES {
        for path in rust_files(&workspace_root().join(name).join("src")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines = text.split("#[cfg(test)]").next().unwrap_or_default().lines().count();
            assert!(lines <= 600, "{}: {lines} lines outside its tests", path.display());
        }
    }
    let main = std::fs::read_to_string(workspace_root().join("inference/src/main.rs")).unwrap();
    assert!(main.lines().count() < 150, "main.rs: {} lines", main.lines().count());
}
