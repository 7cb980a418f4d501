//! `cargo xtask ci`: the one entry point for CI and developers.
//!
//! Steps, in order; the first that fails stops the run with its name:
//! deps, fmt, clippy, build, journald, test, layers, tidy. On success the HEAD
//! commit id is written to `target/xtask-ci.pass`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{output, run as sh, workspace_root};

/// Tier 1, the leaf crates: each depends on no oxpod crate.
pub const TIER1: &[&str] = &[
    "oxpod-config",
    "oxpod-locks",
    "oxpod-events",
    "oxpod-state",
    "oxpod-ociruntime",
    "oxpod-storage",
    "oxpod-image",
    "oxpod-network",
];

/// Tier 2, the composer: depends on tier-1 crates only.
pub const TIER2: &[&str] = &["oxpod-runtime"];

/// Tier 3, the front ends (`oxpod-api` later): depend on the composer
/// alone, reaching tier 1 only through its re-exports.
pub const TIER3: &[&str] = &["oxpod"];

/// Dev-only crates and what they may use: test support (the fake driver
/// needs tier 1's trait), the end-to-end tests (the binary, as a user).
const DEV: &[(&str, &[&str])] = &[
    ("oxpod-test-support", TIER1),
    ("oxpod-tests", &["oxpod-test-support"]),
];

/// Library crates: `anyhow` is not allowed in their normal dependencies.
const LIBRARIES: &[&str] = &[
    "oxpod-config",
    "oxpod-locks",
    "oxpod-events",
    "oxpod-state",
    "oxpod-ociruntime",
    "oxpod-storage",
    "oxpod-image",
    "oxpod-network",
    "oxpod-runtime",
    "oxpod-test-support",
];

pub fn run(_args: &[String]) -> Result<()> {
    let started = Instant::now();
    step("deps", crate::deps::run)?;
    step("fmt", || sh(cargo().args(["fmt", "--all", "--check"])))?;
    step("clippy", || {
        sh(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // The end-to-end tests drive the built `oxpod` binary, which `cargo
    // test` alone does not build (it is another package's binary).
    step("build", || {
        sh(cargo().args(["build", "--workspace", "--bins"]))
    })?;
    // Broken intra-doc links and malformed docs fail the run.
    step("doc", || {
        sh(cargo()
            .args(["doc", "--workspace", "--no-deps", "--quiet"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    let journald = step("journald", Journald::start)?;
    let tests = step("test", || {
        sh(cargo()
            // Libraries, binaries, integration and doc tests. Benches are
            // built by clippy above and run by `cargo xtask bench --micro`.
            .args(["test", "--workspace"])
            .env("CI", std::env::var("CI").unwrap_or_else(|_| "true".into())))
    });
    drop(journald);
    tests?;
    step("layers", layering_guard)?;
    step("tidy", || crate::tidy::run(&workspace_root()))?;
    let head = output(Command::new("git").args(["rev-parse", "HEAD"]))
        .unwrap_or_else(|_| "no-commit\n".into());
    let pass = workspace_root().join("target/xtask-ci.pass");
    std::fs::create_dir_all(pass.parent().expect("has parent"))?;
    std::fs::write(&pass, &head).with_context(|| format!("cannot write {}", pass.display()))?;
    eprintln!(
        "xtask: ci passed in {:.0?} at {}",
        started.elapsed(),
        head.trim()
    );
    Ok(())
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("xtask: ci: step `{name}`");
    let t = Instant::now();
    let r = f().with_context(|| format!("ci step `{name}` failed"));
    eprintln!("xtask: ci: step `{name}` took {:.1?}", t.elapsed());
    r
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Names of the oxpod crates `package` depends on (normal edges only).
fn oxpod_deps(package: &str, depth: Option<u32>) -> Result<BTreeSet<String>> {
    let mut cmd = cargo();
    cmd.args([
        "tree", "--quiet", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}",
    ]);
    if let Some(d) = depth {
        cmd.args(["--depth", &d.to_string()]);
    }
    let out = output(&mut cmd)?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != package)
        .map(str::to_owned)
        .collect())
}

/// The layering rules of docs/ARCHITECTURE.md (the tiers of
/// shared/design.md), checked with `cargo tree` over normal dependencies.
pub fn layering_guard() -> Result<()> {
    let mut problems = Vec::new();
    let known: BTreeSet<&str> = TIER1
        .iter()
        .chain(TIER2)
        .chain(TIER3)
        .copied()
        .chain(DEV.iter().map(|(name, _)| *name))
        .collect();
    for member in workspace_members()? {
        if member.starts_with("oxpod") && !known.contains(member.as_str()) {
            problems.push(format!(
                "{member} is in no tier: add it to xtask/src/ci.rs (TIER1, TIER2, TIER3 or DEV)"
            ));
        }
    }
    let oxpod = |deps: &BTreeSet<String>| -> Vec<String> {
        deps.iter()
            .filter(|d| d.starts_with("oxpod"))
            .cloned()
            .collect()
    };
    for leaf in TIER1 {
        for d in oxpod(&oxpod_deps(leaf, None)?) {
            problems.push(format!("{leaf} (tier 1) must not depend on {d}"));
        }
    }
    for composer in TIER2 {
        for d in oxpod(&oxpod_deps(composer, Some(1))?) {
            if !TIER1.contains(&d.as_str()) {
                problems.push(format!(
                    "{composer} (tier 2) may depend on tier 1 only, not {d}"
                ));
            }
        }
    }
    for front in TIER3 {
        let direct = oxpod(&oxpod_deps(front, Some(1))?);
        if !direct.iter().any(|d| TIER2.contains(&d.as_str())) {
            problems.push(format!("{front} (tier 3) must depend on the composer"));
        }
        for d in direct.iter().filter(|d| !TIER2.contains(&d.as_str())) {
            problems.push(format!(
                "{front} (tier 3) must reach {d} only through the composer's re-exports"
            ));
        }
    }
    for (dev, allowed) in DEV {
        for d in oxpod(&oxpod_deps(dev, Some(1))?) {
            if !allowed.contains(&d.as_str()) {
                problems.push(format!("{dev} (dev) must not depend on {d}"));
            }
        }
    }
    for lib in LIBRARIES {
        if oxpod_deps(lib, None)?.contains("anyhow") {
            problems.push(format!("{lib} must not depend on anyhow (thiserror only)"));
        }
    }
    if oxpod_deps("xtask", None)?
        .iter()
        .any(|d| d.starts_with("oxpod"))
    {
        problems.push("xtask must depend on no oxpod crate".into());
    }
    if problems.is_empty() {
        eprintln!("xtask: layers: ok");
        Ok(())
    } else {
        bail!("layering violations:\n  {}", problems.join("\n  "))
    }
}

/// The workspace's package names (`cargo tree` at depth 0 lists them).
fn workspace_members() -> Result<BTreeSet<String>> {
    let out = output(cargo().args([
        "tree",
        "--workspace",
        "--quiet",
        "--depth",
        "0",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// A journald started for the tests of the journald events backend, and
/// stopped again when dropped. `None` inside when one already runs.
pub struct Journald(Option<Child>);

const JOURNALD: &str = "/lib/systemd/systemd-journald";
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl Journald {
    pub fn start() -> Result<Self> {
        if journald_answers() {
            eprintln!("xtask: journald already runs");
            return Ok(Self(None));
        }
        if !Path::new(JOURNALD).exists() {
            bail!("{JOURNALD} not found; install the `systemd` package");
        }
        std::fs::create_dir_all("/run/systemd/journal")
            .context("cannot create /run/systemd/journal (run as root)")?;
        let _ = std::fs::remove_file(JOURNAL_SOCKET);
        let child = Command::new(JOURNALD)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {JOURNALD}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !journald_answers() {
            if Instant::now() > deadline {
                bail!("journald did not answer on {JOURNAL_SOCKET} within 10s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("xtask: started journald (pid {})", child.id());
        Ok(Self(Some(child)))
    }
}

/// Whether a journald listens on its socket now. The socket file alone
/// proves nothing: a journald that was killed leaves it behind, and
/// `journalctl` reads the journal files without the daemon.
fn journald_answers() -> bool {
    std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.connect(JOURNAL_SOCKET))
        .is_ok()
}

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
