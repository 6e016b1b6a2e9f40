//! The house's layering, checked: the `use crate::…` graph between the top-level modules of
//! `shared/src` and of `shared/core/src` has no cycle, the core names nothing above it, and the
//! core depends on no crate that does I/O. (The compiler holds the last line too: CI builds the
//! core for `wasm32-unknown-unknown`.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules declared in `src/lib.rs`, each with the files that make it up.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(name) = line
            .trim()
            .strip_prefix("pub mod ")
            .or_else(|| line.trim().strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        // `name.rs`, and everything below `name/` (which holds `mod.rs` when there is one).
        let mut files: Vec<PathBuf> = Some(src.join(format!("{name}.rs")))
            .filter(|f| f.is_file())
            .into_iter()
            .collect();
        collect(&src.join(name), &mut files);
        assert!(!files.is_empty(), "module {name} has no file");
        out.insert(name.to_owned(), files);
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Edges `module → other` for every `<prefix>other` in a module's code (comments left out).
fn graph(src: &Path, prefix: &str) -> Graph {
    let mods = modules(src);
    let mut g = Graph::new();
    for (name, files) in &mods {
        let deps = g.entry(name.clone()).or_default();
        for f in files {
            let text = fs::read_to_string(f).expect("source file");
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices(prefix) {
                    let rest = &line[i + prefix.len()..];
                    let target: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if mods.contains_key(&target) && &target != name {
                        deps.insert(target);
                    }
                }
            }
        }
    }
    g
}

/// A cycle in `g`, if there is one, as the path that closes it.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("core")
        .join("src")
}

fn show(g: &Graph) -> String {
    g.iter()
        .map(|(m, d)| format!("{m} -> {}", d.iter().cloned().collect::<Vec<_>>().join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The graph of the crate at `src` has the modules `expected` (so the reading worked) and no
/// cycle.
fn assert_acyclic(src: &Path, expected: &[&str]) {
    let g = graph(src, "crate::");
    assert!(expected.iter().all(|m| g.contains_key(*m)), "{}", show(&g));
    if let Some(c) = cycle(&g) {
        panic!("module cycle {}\n{}", c.join(" -> "), show(&g));
    }
}

#[test]
fn the_library_modules_form_no_cycle() {
    assert_acyclic(&shared_src(), &["store", "http"]);
}

#[test]
fn the_core_modules_form_no_cycle() {
    assert_acyclic(&core_src(), &["ledger", "digest"]);
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let g: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .fold(Graph::new(), |mut g, (m, d)| {
            g.entry(m.into()).or_default().insert(d.into());
            g
        });
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let mut acyclic = g.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&acyclic), None);
}

/// The core may name only crates that compute: no runtime, network, database or file access.
#[test]
fn the_core_depends_on_nothing_that_does_io() {
    let manifest =
        fs::read_to_string(core_src().parent().unwrap().join("Cargo.toml")).expect("manifest");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['=', '.', ' ']).next())
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    const PURE: &[&str] = &[
        "chrono",
        "ed25519-dalek",
        "hex",
        "hmac",
        // A substring search, for the verifier's brand check.
        "memchr",
        "rustc-hash",
        "serde",
        "serde_json",
        // RFC 8785 bytes of disposition entries: serde_json values, canonically ordered.
        "serde_jcs",
        "sha2",
        "thiserror",
    ];
    for n in &names {
        assert!(
            PURE.contains(n),
            "greenloop-core depends on {n}; the core does no I/O, so a new dependency must be \
             one that only computes (and builds for wasm32-unknown-unknown)"
        );
    }
    for (name, files) in modules(&core_src()) {
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            for io in [
                "std::fs",
                "std::net",
                "std::process",
                "std::env",
                "tokio",
                "std::io",
            ] {
                assert!(
                    !text.contains(io),
                    "core module {name} ({}) names {io}",
                    f.display()
                );
            }
        }
    }
}

/// The shared crate reaches the core through its crate name, never the other way round.
#[test]
fn the_core_names_nothing_above_it() {
    for (name, files) in modules(&core_src()) {
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains("greenloop::"),
                "core module {name} ({}) names the greenloop crate",
                f.display()
            );
        }
    }
}
