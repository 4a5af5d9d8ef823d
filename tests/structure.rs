//! The layout rules of ARCHITECTURE.md, checked on the sources: no file imports a file that
//! imports it back (directly or through others), and no source file is over 500 lines.

// A test reading the sources: failing loudly on an unreadable file is the point.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 6] = [
    "usermgmt-core",
    "usermgmt-sql",
    "usermgmt-sqlite",
    "usermgmt-postgres",
    "usermgmt-axum",
    "usermgmt-testkit",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs` → `a::b`, `a/mod.rs` → `a`, `lib.rs` → `` (the crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = match parts.as_slice() {
        [only] if only == "lib" || only == "main" => Vec::new(),
        [rest @ .., last] if last == "mod" => rest.iter().map(String::as_str).collect(),
        all => all.iter().map(String::as_str).collect(),
    };
    parts.join("::")
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths written after each `anchor::` (`crate`, `super` or a child module's name), as
/// segments; a brace group ends the path.
fn paths_after(code: &str, anchor: &str) -> Vec<Vec<String>> {
    let needle = format!("{anchor}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(&needle) {
        let start = from + at;
        from = start + needle.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut segments = Vec::new();
        let mut rest = &code[from..];
        loop {
            let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if ident.is_empty() {
                break;
            }
            rest = &rest[ident.len()..];
            segments.push(ident);
            match rest.strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        out.push(segments);
    }
    out
}

/// The files each file of a crate refers to through `crate::`, `super::` and, in a module
/// root, its children's names.
fn imports(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let resolve = |base: &[String], path: &[String]| -> String {
        // The longest prefix naming a file; nothing named: the base module itself.
        for k in (0..=path.len()).rev() {
            let candidate: Vec<&str> = base
                .iter()
                .map(String::as_str)
                .chain(path[..k].iter().map(String::as_str))
                .collect();
            let candidate = candidate.join("::");
            if modules.contains_key(&candidate) {
                return candidate;
            }
        }
        String::new()
    };
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let code = code(&std::fs::read_to_string(file).unwrap());
        let own: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        // `super` of module `a::b` is `a`, whichever file holds `a::b`.
        let parent = own[..own.len().saturating_sub(1)].to_vec();
        let mut targets = BTreeSet::new();
        for path in paths_after(&code, "crate") {
            targets.insert(resolve(&[], &path));
        }
        for path in paths_after(&code, "super") {
            targets.insert(resolve(&parent, &path));
        }
        for child in modules.keys() {
            let Some(name) = child
                .strip_prefix(&format!("{module}::"))
                .or_else(|| (module.is_empty() && !child.is_empty()).then_some(child.as_str()))
            else {
                continue;
            };
            if name.contains("::") {
                continue;
            }
            if !paths_after(&code, name).is_empty() {
                targets.insert(child.clone());
            }
        }
        targets.remove(module);
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A cycle of the graph, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in CRATES {
        let edges = imports(&workspace.join(name));
        assert!(edges.len() > 3, "{name}: {} files", edges.len());
        if let Some(found) = cycle(&edges) {
            let shown: Vec<&str> = found
                .iter()
                .map(|m| if m.is_empty() { "lib" } else { m.as_str() })
                .collect();
            panic!("{name}: import circle {}", shown.join(" → "));
        }
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(cycle(&edges).is_some());
    edges.insert("c".to_owned(), BTreeSet::new());
    assert!(cycle(&edges).is_none());
    assert_eq!(
        paths_after(
            "use super::{a, b}; let x = crate::error::Error::X;",
            "crate"
        ),
        vec![vec!["error".to_owned(), "Error".to_owned(), "X".to_owned()]]
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in CRATES.iter().map(|c| format!("{c}/src")).chain([
        "src".into(),
        "benches".into(),
        "examples".into(),
    ]) {
        rust_files(&workspace.join(dir), &mut files);
    }
    let mut long = Vec::new();
    for file in files {
        let shown = file.strip_prefix(workspace).unwrap().display().to_string();
        // Tests aside: test modules in their own files, the conformance cases and the
        // invariant property test.
        if shown.ends_with("_tests.rs")
            || shown.contains("/cases/")
            || shown.ends_with("testkit/src/invariants.rs")
        {
            continue;
        }
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        if lines > 500 {
            long.push(format!("{shown}: {lines}"));
        }
    }
    assert!(long.is_empty(), "over 500 lines: {long:?}");
}
