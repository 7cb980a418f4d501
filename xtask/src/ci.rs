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

/// The leaf crates: each depends on no oxpod sibling.
pub const LEAVES: &[&str] = &[
    "oxpod-config",
    "oxpod-locks",
    "oxpod-events",
    "oxpod-state",
    "oxpod-ociruntime",
];

/// Library crates: `anyhow` is not allowed in their normal dependencies.
const LIBRARIES: &[&str] = &[
    "oxpod-config",
    "oxpod-locks",
    "oxpod-events",
    "oxpod-state",
    "oxpod-ociruntime",
    "oxpod-runtime",
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

/// The layering rules of docs/ARCHITECTURE.md, checked with `cargo tree`.
pub fn layering_guard() -> Result<()> {
    let mut problems = Vec::new();
    for leaf in LEAVES {
        let deps = oxpod_deps(leaf, None)?;
        for d in deps.iter().filter(|d| d.starts_with("oxpod")) {
            problems.push(format!("{leaf} must not depend on {d}"));
        }
    }
    for lib in LIBRARIES {
        if oxpod_deps(lib, None)?.contains("anyhow") {
            problems.push(format!("{lib} must not depend on anyhow (thiserror only)"));
        }
    }
    let runtime = oxpod_deps("oxpod-runtime", None)?;
    if runtime.contains("oxpod") {
        problems.push("oxpod-runtime must not depend on the cli (oxpod)".into());
    }
    let cli = oxpod_deps("oxpod", Some(1))?;
    if !cli.contains("oxpod-runtime") {
        problems.push("oxpod (cli) must depend on oxpod-runtime".into());
    }
    for d in cli
        .iter()
        .filter(|d| d.starts_with("oxpod-") && *d != "oxpod-runtime")
    {
        problems.push(format!(
            "oxpod (cli) must reach {d} only through oxpod-runtime's re-exports"
        ));
    }
    if problems.is_empty() {
        eprintln!("xtask: layers: ok");
        Ok(())
    } else {
        bail!("layering violations:\n  {}", problems.join("\n  "))
    }
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
