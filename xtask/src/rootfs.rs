//! A minimal busybox root filesystem for the demo and the benchmarks:
//! `/usr/bin/busybox` (from Debian's busybox-static) in `<dir>/bin/` with
//! symlinks for the applets the workloads use.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Where Debian's busybox-static puts its binary.
pub const BUSYBOX: &str = "/usr/bin/busybox";

/// The applets linked into `bin/`.
pub const APPLETS: &[&str] = &["sh", "echo", "sleep", "true", "cat", "ls", "date", "printf"];

/// Builds (or completes) a busybox rootfs in `dir`. Idempotent.
pub fn build(dir: &Path) -> Result<()> {
    if !Path::new(BUSYBOX).is_file() {
        bail!("{BUSYBOX} is missing; run `cargo xtask deps` (apt-get install busybox-static)");
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    for sub in ["proc", "sys", "dev", "tmp", "etc", "root"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let target = bin.join("busybox");
    if !target.exists() {
        std::fs::copy(BUSYBOX, &target)
            .with_context(|| format!("cannot copy {BUSYBOX} to {}", target.display()))?;
    }
    for applet in APPLETS {
        let link = bin.join(applet);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("busybox", &link)
                .with_context(|| format!("cannot link {}", link.display()))?;
        }
    }
    let passwd = dir.join("etc/passwd");
    if !passwd.exists() {
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/sh\n")?;
        std::fs::write(dir.join("etc/group"), "root:x:0:\n")?;
    }
    Ok(())
}
