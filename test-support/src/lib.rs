//! oxpod-test-support: what every crate's tests share, written once.
//!
//! - [`under_ci`] and [`skip_or_fail`]: a test that needs a real component
//!   (root, runc, conmon, journald, ...) skips with a printed reason when run
//!   by hand without it, and fails under CI (`CI` set to anything but
//!   empty, `0` or `false`).
//! - [`unique`]: names (lock segments, journald tags) unique to one test of
//!   one process.
//! - [`child`]: the re-exec harness for multi-process tests: a parent test
//!   runs the test binary again on one ignored entry-point test with a role.
//! - [`busybox_rootfs`]: a root filesystem of busybox applets.
//! - `fake` (feature `fake-oci`): an in-memory `oxpod_ociruntime::Driver`
//!   with injectable failures, so the composer's rules run without root.
//!
//! It is a dev-dependency only; nothing here ships.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub mod child;
#[cfg(feature = "fake-oci")]
pub mod fake;
pub mod image;

/// Whether this is CI's run, where a missing component is a failure: `CI`
/// is set to anything but empty, `0` or `false` (GitHub and most CI
/// systems set `true`, some `1`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Prints `skipped: <reason>`; under CI panics instead, naming it.
pub fn skip_or_fail(reason: &str) {
    assert!(!under_ci(), "required under CI but missing: {reason}");
    eprintln!("skipped: {reason}");
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The real binaries end-to-end tests run: runc, conmon, busybox.
pub const RUNC: &str = "/usr/sbin/runc";
/// conmon, where Debian installs it.
pub const CONMON: &str = "/usr/bin/conmon";
/// busybox-static.
pub const BUSYBOX: &str = "/usr/bin/busybox";

/// `Some(reason)` when real containers cannot run here (not root, or runc,
/// conmon or busybox missing); under CI that panics instead.
pub fn missing_container_tools() -> Option<String> {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_owned());
    }
    for p in [RUNC, CONMON, BUSYBOX] {
        if !Path::new(p).exists() {
            missing.push(p.to_owned());
        }
    }
    if missing.is_empty() {
        return None;
    }
    let reason = format!(
        "needs {} (run `cargo xtask deps` as root)",
        missing.join(", ")
    );
    assert!(!under_ci(), "CI is set but this test {reason}");
    Some(reason)
}

/// A name unique to this process and call: `<prefix>_<pid>_<start>_<n>`,
/// `<start>` the process's first call in microseconds, so a later test
/// process given the same pid (pids wrap at 32768 here, and a CI run
/// spawns more) never meets an earlier one's segment or directory.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{start:x}_{n}", std::process::id())
}

/// Builds `<dir>/rootfs` with busybox and a few applet links; returns it.
pub fn busybox_rootfs(dir: &Path) -> std::io::Result<PathBuf> {
    let rootfs = dir.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin)?;
    for d in ["proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    std::fs::copy(BUSYBOX, bin.join("busybox"))?;
    for applet in ["sh", "echo", "sleep", "true", "cat", "printf"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet))?;
    }
    Ok(rootfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique("/x"), unique("/x"));
        assert!(unique("/x").starts_with(&format!("/x_{}_", std::process::id())));
    }
}
