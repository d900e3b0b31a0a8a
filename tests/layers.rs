//! The architecture, as a test: imports point down the layers, and no two modules import each
//! other.
//!
//! ```text
//! apps           main/CLI, console, mic, server, bench, composition root
//! orchestration  pipeline stages, agent loop
//! domain         hospital store + tools + prompt + built-in receptionist
//! providers      the four seams (vad, stt, llm, tts) and what stands behind them
//! foundation     audio, text, the pipeline's shared vocabulary
//! ```
//!
//! Every path a source file names (`use crate::...`, `super::...`, inline `crate::a::b::f()`,
//! a child module's `child::x`) is resolved to the module it points into. Then:
//! - a module of a lower layer never names one of a higher layer;
//! - inside every folder, the files and subfolders (and the folder's own `mod.rs`) import each
//!   other without a cycle.
//!
//! Test code (`#[cfg(test)]` items and `tests.rs` files) may reach anywhere and is skipped.
//! `cargo test --test layers -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first: the top-level folders of `src/`.
const LAYERS: &[&str] = &["foundation", "providers", "domain", "orchestration", "apps"];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// One source line's tokens, with comments, strings and characters removed.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let n = b.len();
    while i < n {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && i + 1 < n && b[i + 1] == '/' {
            while i < n && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && i + 1 < n && b[i + 1] == '*' {
            let mut depth = 0;
            while i < n {
                if b[i] == '/' && i + 1 < n && b[i + 1] == '*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && i + 1 < n && b[i + 1] == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && i + 1 < n && (b[i + 1] == '#' || b[i + 1] == '"') && {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            while j < n && b[j] == '#' {
                j += 1;
            }
            j < n && b[j] == '"'
        } {
            let mut j = i + 1;
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= n {
                    break;
                }
                if b[j] == '\n' {
                    line += 1;
                }
                if b[j] == '"' && (0..hashes).all(|k| j + 1 + k < n && b[j + 1 + k] == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < n && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if i < n && b[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if i + 2 < n && b[i + 1] == '\\' {
                i += 2;
                while i < n && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if i + 2 < n && b[i + 2] == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < n && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            if !word.starts_with(|c: char| c.is_ascii_digit()) {
                out.push((Tok::Ident(word), line));
            }
        } else if c == ':' && i + 1 < n && b[i + 1] == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// Drops `#[cfg(test)]` items: test code may import anything.
fn strip_test_items(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let pattern = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let is_cfg_test = i + pattern.len() <= toks.len()
            && pattern.iter().enumerate().all(|(k, p)| toks[i + k].0 == *p);
        if !is_cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to a `;` at depth 0, or through its first brace block.
        i += pattern.len();
        let mut depth = 0i32;
        while i < toks.len() {
            match toks[i].0 {
                Tok::Punct('{') | Tok::Punct('(') | Tok::Punct('[') => depth += 1,
                Tok::Punct('}') | Tok::Punct(')') | Tok::Punct(']') => {
                    depth -= 1;
                    if depth == 0 && toks[i].0 == Tok::Punct('}') {
                        i += 1;
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

/// Parses a path tree starting at `toks[i]` (just after a leading `crate::`, `super::` ...),
/// appending every leaf path to `out`. Returns the index after the tree.
fn path_tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(w)) => {
                if w == "self" && !path.is_empty() {
                    // `a::{self, ..}` names `a` itself.
                } else {
                    path.push(w.clone());
                }
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                out.push(path);
                return i;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        None => return i,
                        _ => i = path_tree(toks, i, path.clone(), out),
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                out.push(path);
                return i + 1;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// A module: its path from the crate root and its file.
struct Module {
    path: Vec<String>,
    file: PathBuf,
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<Module>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, root, out);
            continue;
        }
        if p.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = p.strip_prefix(root).expect("under src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        let last = parts.last().cloned().unwrap_or_default();
        if last == "main" && parts.len() == 1 {
            continue; // the binary: a crate of its own, at the top of the apps layer
        }
        if last == "tests" {
            continue; // test code
        }
        if last == "mod" || (last == "lib" && parts.len() == 1) {
            parts.pop();
        }
        out.push(Module {
            path: parts,
            file: p,
        });
    }
}

/// One import: from a module to a module, where it was written.
struct Import {
    from: Vec<String>,
    to: Vec<String>,
    at: String,
}

fn imports(modules: &[Module]) -> Vec<Import> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut out = Vec::new();
    for m in modules {
        let src = fs::read_to_string(&m.file).expect("read source");
        let toks = strip_test_items(lex(&src));
        // Children of this module, named relative to it (`stages::vad::run`).
        let children: BTreeSet<String> = known
            .iter()
            .filter(|p| p.len() == m.path.len() + 1 && p.starts_with(&m.path))
            .map(|p| p[p.len() - 1].clone())
            .collect();
        let mut i = 0;
        while i < toks.len() {
            let (tok, line) = (&toks[i].0, toks[i].1);
            let next_is_sep = toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep);
            let prev_is_sep = i > 0 && toks[i - 1].0 == Tok::PathSep;
            let prev_is_mod = i > 0 && toks[i - 1].0 == Tok::Ident("mod".into());
            let Tok::Ident(w) = tok else {
                i += 1;
                continue;
            };
            if !next_is_sep || prev_is_sep || prev_is_mod {
                i += 1;
                continue;
            }
            // The absolute prefix the path starts from.
            let mut j = i;
            let base: Option<Vec<String>> = match w.as_str() {
                "crate" => {
                    j += 2;
                    Some(Vec::new())
                }
                "super" => {
                    let mut base = m.path.clone();
                    while toks.get(j).map(|t| &t.0) == Some(&Tok::Ident("super".into()))
                        && toks.get(j + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                    {
                        base.pop();
                        j += 2;
                    }
                    Some(base)
                }
                "self" => {
                    j += 2;
                    Some(m.path.clone())
                }
                c if children.contains(c) => {
                    let mut base = m.path.clone();
                    base.push(c.to_string());
                    j += 2;
                    Some(base)
                }
                _ => None,
            };
            let Some(base) = base else {
                i += 1;
                continue;
            };
            let mut leaves = Vec::new();
            i = path_tree(&toks, j, base, &mut leaves);
            for leaf in leaves {
                // The deepest module the path reaches.
                let to = (0..=leaf.len())
                    .rev()
                    .map(|k| leaf[..k].to_vec())
                    .find(|p| known.contains(p))
                    .unwrap_or_default();
                if to != m.path {
                    out.push(Import {
                        from: m.path.clone(),
                        to,
                        at: format!("{}:{line}", m.file.display()),
                    });
                }
            }
        }
    }
    out
}

fn name(p: &[String]) -> String {
    if p.is_empty() {
        "crate".into()
    } else {
        p.join("::")
    }
}

/// The node of folder `dir` that holds `module`: a child of `dir`, or `dir`'s own file.
fn node_in(dir: &[String], module: &[String]) -> String {
    if module.len() == dir.len() {
        "(mod)".into()
    } else {
        module[dir.len()].clone()
    }
}

/// The cycles of a directed graph, one per strongly connected component with more than one node.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a).chain(bs.iter()))
        .collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reachable[n].contains(*n) {
            continue;
        }
        let comp: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[n].contains(**m) && reachable[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn graph() -> (Vec<Module>, Vec<Import>) {
    let root = src_dir();
    let mut modules = Vec::new();
    collect(&root, &root, &mut modules);
    let imports = imports(&modules);
    (modules, imports)
}

#[test]
fn the_top_level_folders_are_the_layers() {
    let (modules, _) = graph();
    let tops: BTreeSet<String> = modules
        .iter()
        .filter_map(|m| m.path.first().cloned())
        .collect();
    let layers: BTreeSet<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        tops, layers,
        "src/ holds one folder per layer, nothing else"
    );
}

#[test]
fn imports_point_down_the_layers() {
    let (_, imports) = graph();
    let rank = |p: &[String]| p.first().and_then(|t| LAYERS.iter().position(|l| l == t));
    let mut upward = Vec::new();
    for imp in &imports {
        if let (Some(a), Some(b)) = (rank(&imp.from), rank(&imp.to)) {
            if b > a {
                upward.push(format!(
                    "{} ({}) imports {} ({}) at {}",
                    name(&imp.from),
                    LAYERS[a],
                    name(&imp.to),
                    LAYERS[b],
                    imp.at
                ));
            }
        }
        assert!(
            !imp.to.is_empty() || imp.from.is_empty(),
            "{} names an item of the crate root at {}: name the module that defines it",
            name(&imp.from),
            imp.at
        );
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn no_two_modules_import_each_other() {
    let (modules, imports) = graph();
    // Folder -> (node -> nodes it imports), with one example import per edge.
    let mut dirs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut example: BTreeMap<(Vec<String>, String, String), String> = BTreeMap::new();
    for imp in &imports {
        let common = imp
            .from
            .iter()
            .zip(imp.to.iter())
            .take_while(|(a, b)| a == b)
            .count();
        let dir = imp.from[..common].to_vec();
        let (a, b) = (node_in(&dir, &imp.from), node_in(&dir, &imp.to));
        if a == b {
            continue;
        }
        dirs.entry(dir.clone())
            .or_default()
            .entry(a.clone())
            .or_default()
            .insert(b.clone());
        example
            .entry((dir, a, b))
            .or_insert_with(|| format!("{} -> {} at {}", name(&imp.from), name(&imp.to), imp.at));
    }
    let mut found = Vec::new();
    for (dir, edges) in &dirs {
        for cycle in cycles(edges) {
            let mut why = Vec::new();
            for a in &cycle {
                for b in &cycle {
                    if let Some(e) = example.get(&(dir.clone(), a.clone(), b.clone())) {
                        why.push(format!("    {e}"));
                    }
                }
            }
            found.push(format!(
                "in {}: {} import each other\n{}",
                name(dir),
                cycle.join(", "),
                why.join("\n")
            ));
        }
    }
    // Print the graph of the layers and of each folder (`--nocapture`).
    let lines: usize = modules
        .iter()
        .map(|m| fs::read_to_string(&m.file).map_or(0, |s| s.lines().count()))
        .sum();
    println!("{} modules, {lines} lines", modules.len());
    for (dir, edges) in &dirs {
        println!("{}:", name(dir));
        for (a, bs) in edges {
            println!(
                "  {a} -> {}",
                bs.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    assert!(found.is_empty(), "cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_every_kind_of_path() {
    let src = r#"
        use crate::{a::b::{self, C}, d::*};
        use super::super::e::F;
        // use crate::commented::Out;
        fn f() { let s = "crate::in_string::X"; crate::g::h(); stages::vad::run(); }
        #[cfg(test)]
        mod tests { use crate::only_in_tests::X; }
        pub(crate) fn k() {}
    "#;
    let toks = strip_test_items(lex(src));
    let mut paths = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if matches!(&toks[i].0, Tok::Ident(w) if w == "crate" || w == "super" || w == "stages")
            && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep)
        {
            let mut leaves = Vec::new();
            i = path_tree(&toks, i + 2, Vec::new(), &mut leaves);
            paths.extend(leaves.into_iter().map(|l| l.join("::")));
        } else {
            i += 1;
        }
    }
    assert_eq!(
        paths,
        ["a::b", "a::b::C", "d", "super::e::F", "g::h", "vad::run"]
    );
}
