//! Tidy checks over every `.rs` file of the workspace, run by `cargo xtask
//! ci` and as a test: a `//!` doc first; a `// SAFETY:` comment before every
//! `unsafe` block; no `todo!`, `dbg!` or `unimplemented!`; and
//! `#![forbid(unsafe_code)]` in every crate root but those of locks and state;
//! no printing to stdout in library code (only the CLI prints); library
//! crate roots warn on `missing_docs` (clippy's `-D warnings` makes that an
//! error); and every pin of `[workspace.dependencies]` is used by a member.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Library crates: their non-test code must not print to stdout.
const LIBRARIES: &[&str] = &[
    "config",
    "locks",
    "events",
    "state",
    "ociruntime",
    "runtime",
    "test-support",
];

/// Crates whose roots may allow `unsafe` (locks; heed's open in state).
const UNSAFE_ALLOWED: &[&str] = &["locks", "state"];

pub fn run(root: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let rel = file.strip_prefix(root).unwrap_or(file);
        problems.extend(check_file(&rel.display().to_string(), &text));
    }
    problems.extend(unused_pins(root)?);
    if problems.is_empty() {
        eprintln!("xtask: tidy: {} files ok", files.len());
        Ok(())
    } else {
        bail!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if name.starts_with('.') || name == "target" {
                continue;
            }
            collect(&path, out)?;
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The problems of one file; `rel` is its path from the workspace root.
pub fn check_file(rel: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !first.starts_with("//!") {
        problems.push(format!("{rel}: must begin with a `//!` doc comment"));
    }
    // Built from pieces so this file does not trip its own check.
    let banned = [
        ["todo", "!("].concat(),
        ["dbg", "!("].concat(),
        ["unimplemented", "!("].concat(),
    ];
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for b in &banned {
            if code.contains(b.as_str()) {
                problems.push(format!(
                    "{rel}:{}: `{}` is not allowed",
                    i + 1,
                    &b[..b.len() - 1]
                ));
            }
        }
        if is_unsafe_block(code) && !has_safety_comment(&lines, i) {
            problems.push(format!(
                "{rel}:{}: `unsafe` block without a `// SAFETY:` comment above it",
                i + 1
            ));
        }
    }
    problems.extend(check_no_stdout(rel, &lines));
    let crate_root = rel.ends_with("src/lib.rs") || rel.ends_with("src/main.rs");
    let krate = rel.split('/').next().unwrap_or("");
    let forbid = ["#![forbid(", "unsafe_code)]"].concat();
    if crate_root && !UNSAFE_ALLOWED.contains(&krate) && !text.contains(&forbid) {
        problems.push(format!("{rel}: crate root must say {forbid}"));
    }
    let docs = ["#![warn(", "missing_docs)]"].concat();
    if rel == format!("{krate}/src/lib.rs") && LIBRARIES.contains(&krate) && !text.contains(&docs) {
        problems.push(format!("{rel}: library crate root must say {docs}"));
    }
    problems
}

/// Pins in the root manifest's `[workspace.dependencies]` that no member
/// manifest uses (`name.workspace = true` or `name = { workspace = true`).
fn unused_pins(root: &Path) -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut members = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path().join("Cargo.toml");
        if path.is_file() {
            members.push(std::fs::read_to_string(&path)?);
        }
    }
    Ok(pins_unused_by(&manifest, &members))
}

fn pins_unused_by(manifest: &str, members: &[String]) -> Vec<String> {
    let mut in_pins = false;
    let mut unused = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_pins = line == "[workspace.dependencies]";
            continue;
        }
        let Some((name, _)) = line
            .split_once('=')
            .filter(|_| in_pins && !line.starts_with('#'))
        else {
            continue;
        };
        let name = name.trim();
        let used = members.iter().any(|m| {
            m.lines().any(|l| {
                let l = l.trim();
                l.starts_with(&format!("{name}.workspace"))
                    || (l.starts_with(&format!("{name} ")) && l.contains("workspace = true"))
            })
        });
        if !used {
            unused.push(format!(
                "Cargo.toml: workspace dependency `{name}` is pinned but no member uses it"
            ));
        }
    }
    unused
}

/// Library code (before any `#[cfg(test)]`, outside test files) must not
/// print to stdout: only the CLI does.
fn check_no_stdout(rel: &str, lines: &[&str]) -> Vec<String> {
    let mut parts = rel.split('/');
    let krate = parts.next().unwrap_or("");
    let in_src = parts.next() == Some("src");
    let test_file = rel.contains("/tests/")
        || rel.ends_with("tests.rs")
        || rel.ends_with("_tests.rs")
        || rel.ends_with("test_support.rs");
    if !LIBRARIES.contains(&krate) || !in_src || test_file {
        return Vec::new();
    }
    let banned = [["print", "ln!("].concat(), ["print", "!("].concat()];
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        for b in &banned {
            let hit = code.match_indices(b.as_str()).any(|(at, _)| {
                // `eprintln!` / `eprint!` go to stderr and are fine.
                !code[..at].ends_with('e')
            });
            if hit {
                problems.push(format!(
                    "{rel}:{}: library code must not print to stdout; only the cli prints",
                    i + 1
                ));
            }
        }
    }
    problems
}

fn is_unsafe_block(code: &str) -> bool {
    let kw = ["unsafe", " {"].concat();
    let kw2 = ["unsafe", "{"].concat();
    (code.contains(&kw) || code.contains(&kw2))
        && !code.contains("unsafe fn")
        && !code.contains("unsafe impl")
        && !code.contains("unsafe extern")
}

/// A `// SAFETY:` comment on the same line or in the comment lines just above
/// (skipping attributes and the start of the enclosing statement).
fn has_safety_comment(lines: &[&str], i: usize) -> bool {
    let marker = ["SAFETY", ":"].concat();
    if lines[i].contains(&marker) {
        return true;
    }
    let mut j = i;
    let mut looked = 0;
    while j > 0 && looked < 12 {
        j -= 1;
        looked += 1;
        let t = lines[j].trim();
        if t.contains(&marker) {
            return true;
        }
        let comment = t.starts_with("//");
        let continuation = t.starts_with("#[") || t.is_empty();
        if !comment && !continuation {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        run(&crate::util::workspace_root()).unwrap();
    }

    #[test]
    fn finds_unused_pins() {
        let manifest = "[workspace]\n[workspace.dependencies]\nfoo = \"1\"\nbar = { version = \"2\" }\n# baz = 3\n[profile.release]\ndebug = 1\n";
        let members = vec!["[dependencies]\nfoo.workspace = true\n".to_owned()];
        let unused = pins_unused_by(manifest, &members);
        assert_eq!(unused.len(), 1, "{unused:?}");
        assert!(unused[0].contains("`bar`"));
        let members = vec!["[dependencies]\nbar = { workspace = true, features = [\"x\"] }\nfoo.workspace = true\n".to_owned()];
        assert!(pins_unused_by(manifest, &members).is_empty());
    }

    #[test]
    fn finds_each_kind_of_problem() {
        let unsafe_block = ["let x = unsa", "fe { f() };"].concat();
        let text = format!("fn main() {{}}\n{unsafe_block}\n");
        let p = check_file("locks/src/x.rs", &text);
        assert!(p.iter().any(|m| m.contains("`//!` doc")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("SAFETY")), "{p:?}");
        let banned = ["//! doc\nfn f() { ", "todo", "!() }\n"].concat();
        let p = check_file("config/src/y.rs", &banned);
        assert!(p.iter().any(|m| m.contains("not allowed")), "{p:?}");
    }

    #[test]
    fn accepts_a_documented_unsafe_block() {
        let text = [
            "//! doc\n// SAFETY: the pointer is valid\nlet x = unsa",
            "fe { f() };\n",
        ]
        .concat();
        assert!(check_file("locks/src/x.rs", &text).is_empty());
    }

    #[test]
    fn libraries_must_not_print() {
        let text = ["//! doc\nfn f() { print", "ln!(\"x\"); }\n"].concat();
        let p = check_file("state/src/x.rs", &text);
        assert!(p.iter().any(|m| m.contains("stdout")), "{p:?}");
        assert!(check_file("cli/src/x.rs", &text).is_empty());
        let e = ["//! doc\nfn f() { eprint", "ln!(\"x\"); }\n"].concat();
        assert!(check_file("state/src/x.rs", &e).is_empty());
        let in_test = [
            "//! doc\n#[cfg(test)]\nmod t { fn f() { print",
            "ln!(); } }\n",
        ]
        .concat();
        assert!(check_file("state/src/x.rs", &in_test).is_empty());
    }

    #[test]
    fn crate_roots_must_forbid_unsafe() {
        let p = check_file("events/src/lib.rs", "//! doc\n");
        assert!(p.iter().any(|m| m.contains("forbid")), "{p:?}");
        let docs = ["#![warn(", "missing_docs)]"].concat();
        assert!(check_file("locks/src/lib.rs", &format!("//! doc\n{docs}\n")).is_empty());
        assert!(check_file("cli/src/main.rs", "//! doc\n#![forbid(unsafe_code)]\n").is_empty());
    }

    #[test]
    fn library_roots_must_warn_on_missing_docs() {
        let p = check_file("locks/src/lib.rs", "//! doc\n");
        assert!(p.iter().any(|m| m.contains("missing_docs")), "{p:?}");
    }
}
