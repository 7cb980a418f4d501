//! `cargo xtask deps`: install what the tests and the demo need.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::util::{have, is_root, run as sh};

/// Debian packages and a file each one provides, to tell whether it is there.
pub const PACKAGES: &[(&str, &str)] = &[
    ("runc", "/usr/sbin/runc"),
    ("conmon", "/usr/bin/conmon"),
    ("busybox-static", "/bin/busybox"),
    // Its journald is started by `cargo xtask ci` for the journald tests.
    ("systemd", "/lib/systemd/systemd-journald"),
    // The other side of the image archive tests (podman saves, oxpod
    // loads, and back).
    ("podman", "/usr/bin/podman"),
    // An independent zstd compressor for the zstd layer tests.
    ("zstd", "/usr/bin/zstd"),
    // The default seccomp profile every container gets (`seccomp_profile`).
    (
        "golang-github-containers-common",
        "/usr/share/containers/seccomp.json",
    ),
    // `--init`'s default init.
    ("catatonit", "/usr/bin/catatonit"),
    // The pull tests' registry (started by each test on its own port) and
    // what pushes the test images into it.
    ("docker-registry", "/usr/bin/docker-registry"),
    ("skopeo", "/usr/bin/skopeo"),
    // Networking (issue #19): what sets networks up, their DNS, the
    // firewall netavark drives, and `ip` for the tests' namespaces.
    ("netavark", "/usr/lib/podman/netavark"),
    ("aardvark-dns", "/usr/lib/podman/aardvark-dns"),
    ("iptables", "/usr/sbin/iptables-save"),
    ("iproute2", "/sbin/ip"),
];

pub fn run() -> Result<()> {
    install(PACKAGES)
}

/// Installs the packages whose marker file is missing.
pub fn install(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        eprintln!("xtask: deps: all present ({})", names(packages));
        return Ok(());
    }
    let command = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() || !have("apt-get") {
        bail!(
            "missing packages: {}; install them as root with:\n    apt-get update && {command}",
            missing.join(", ")
        );
    }
    eprintln!("xtask: deps: installing {}", missing.join(" "));
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    if sh(&mut install).is_err() {
        // A fresh machine may have empty package lists: update, then try once more.
        sh(Command::new("apt-get")
            .args(["update"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        sh(&mut install)?;
    }
    let still: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if !still.is_empty() {
        bail!("packages installed but still missing: {}", still.join(", "));
    }
    Ok(())
}

fn names(packages: &[(&str, &str)]) -> String {
    packages
        .iter()
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(", ")
}
