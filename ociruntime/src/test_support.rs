//! Test helpers: skipping when a real component is missing (failing
//! instead under CI), and a busybox root filesystem.

use std::path::{Path, PathBuf};

/// Prints "skipped: <reason>", or panics when `CI=true`.
pub(crate) fn skip_or_fail(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required for CI but missing: {reason}");
    }
    eprintln!("skipped: {reason}");
}

pub(crate) const RUNC: &str = "/usr/sbin/runc";
pub(crate) const CONMON: &str = "/usr/bin/conmon";
pub(crate) const BUSYBOX: &str = "/usr/bin/busybox";

/// Whether root + runc + conmon + busybox are present; prints the skip
/// reason (or fails under CI) when not.
pub(crate) fn have_real_tools() -> bool {
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("needs root to run containers");
        return false;
    }
    for tool in [RUNC, CONMON, BUSYBOX] {
        if !Path::new(tool).exists() {
            skip_or_fail(&format!("{tool} not installed"));
            return false;
        }
    }
    true
}

/// Builds `<dir>/rootfs` with busybox and a few applet links; returns it.
pub(crate) fn busybox_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in ["sh", "echo", "sleep", "true", "cat", "printf"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    rootfs
}
