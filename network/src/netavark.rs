//! The `netavark` call: `setup` and `teardown` of a namespace, the
//! options as JSON on stdin, the answer (or `{"error": ...}`) on stdout.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::types::{NetworkOptions, StatusBlock};
use crate::{Error, Result};

/// Where podman looks for its helpers (containers.conf's
/// `helper_binaries_dir`).
pub const HELPER_DIRS: &[&str] = &[
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
];

/// A helper (`netavark`, `aardvark-dns`) in [`HELPER_DIRS`], then `PATH`.
pub fn find_helper(name: &str) -> Option<PathBuf> {
    HELPER_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|d| d.join(name))
                .collect::<Vec<_>>(),
        )
        .find(|p| p.is_file())
}

/// How netavark is run.
#[derive(Debug, Clone)]
pub struct Netavark {
    /// The program.
    pub binary: PathBuf,
    /// aardvark-dns, for networks with DNS.
    pub aardvark: Option<PathBuf>,
    /// Its `--config`: a per-boot directory (aardvark-dns's files).
    pub config_dir: PathBuf,
    /// `--rootless`.
    pub rootless: bool,
}

impl Netavark {
    fn command(&self, op: &str, netns: &Path) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--config")
            .arg(&self.config_dir)
            .arg(format!("--rootless={}", self.rootless));
        if let Some(a) = &self.aardvark {
            c.arg(format!("--aardvark-binary={}", a.display()));
        }
        c.arg(op).arg(netns);
        c
    }

    fn call(&self, op: &'static str, netns: &Path, opts: &NetworkOptions) -> Result<Vec<u8>> {
        let fail = |reason: String| Error::Netavark { op, reason };
        let input = serde_json::to_vec(opts).map_err(|e| fail(e.to_string()))?;
        std::fs::create_dir_all(&self.config_dir)
            .map_err(|e| Error::io("create", &self.config_dir, e))?;
        let started = std::time::Instant::now();
        let mut child = self
            .command(op, netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.binary.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&input)
                .map_err(|e| fail(format!("cannot write its options: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| fail(format!("cannot wait for it: {e}")))?;
        tracing::debug!(op, netns = %netns.display(), took = ?started.elapsed(), status = ?out.status.code(), "netavark");
        if !out.status.success() {
            #[derive(serde::Deserialize)]
            struct Failure {
                error: String,
            }
            let said = serde_json::from_slice::<Failure>(&out.stdout)
                .map(|f| f.error)
                .unwrap_or_else(|_| {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let err = err
                        .lines()
                        .filter(|l| !l.contains("failed to connect to syslog"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    format!("exited with {}: {}", out.status, err.trim())
                });
            return Err(fail(said));
        }
        Ok(out.stdout)
    }

    /// Configures the namespace at `netns`; the status of each network.
    pub fn setup(
        &self,
        netns: &Path,
        opts: &NetworkOptions,
    ) -> Result<BTreeMap<String, StatusBlock>> {
        let out = self.call("setup", netns, opts)?;
        let status: BTreeMap<String, StatusBlock> =
            serde_json::from_slice(&out).map_err(|e| Error::Netavark {
                op: "setup",
                reason: format!(
                    "its answer does not read ({e}): {}",
                    String::from_utf8_lossy(&out)
                ),
            })?;
        if status.len() != opts.networks.len() {
            return Err(Error::Netavark {
                op: "setup",
                reason: format!(
                    "unexpected netavark result length: {} networks set up, {} asked for",
                    status.len(),
                    opts.networks.len()
                ),
            });
        }
        Ok(status)
    }

    /// Undoes [`Netavark::setup`]: links, firewall rules, DNS entries.
    pub fn teardown(&self, netns: &Path, opts: &NetworkOptions) -> Result<()> {
        self.call("teardown", netns, opts).map(drop)
    }
}
