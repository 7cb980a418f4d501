//! A minimal busybox root filesystem for the demo and the benchmarks:
//! `/usr/bin/busybox` (from Debian's busybox-static) in `<dir>/bin/` with
//! symlinks for the applets the workloads use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::run as sh;

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

/// `tar` of `rootfs` (owners numeric, all root) into `dest`.
fn tar_rootfs(rootfs: &Path, dest: &Path) -> Result<()> {
    sh(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(rootfs)
        .arg("-cf")
        .arg(dest)
        .arg("."))
}

/// The sha256 hex of a file, by `sha256sum`.
fn sha256_hex(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum").arg(path).output()?;
    if !out.status.success() {
        bail!("sha256sum {} failed", path.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// The host's architecture as images name it.
fn image_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Writes `<dir>/busybox-image.tar`, a docker-archive of `rootfs` as one
/// layer named `name`, with a config whose Cmd prints a greeting, made with
/// `tar` and `sha256sum`; returns its path.
pub fn build_image_archive(demo: &Path, rootfs: &Path, name: &str) -> Result<PathBuf> {
    let dir = demo.join("image");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("layer"))?;
    let layer = dir.join("layer/layer.tar");
    tar_rootfs(rootfs, &layer)?;
    let diff = sha256_hex(&layer)?;
    let arch = image_arch();
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["sh","-c","echo hello from an oxpod image"],"Env":["PATH=/bin"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}}}}"#
    );
    let tmp = dir.join("config.json");
    std::fs::write(&tmp, &config)?;
    let config_name = format!("{}.json", sha256_hex(&tmp)?);
    std::fs::rename(&tmp, dir.join(&config_name))?;
    std::fs::write(
        dir.join("manifest.json"),
        format!(
            r#"[{{"Config":"{config_name}","RepoTags":["{name}"],"Layers":["layer/layer.tar"]}}]"#
        ),
    )?;
    let archive = demo.join("busybox-image.tar");
    sh(Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&archive)
        .args(["manifest.json", &config_name, "layer/layer.tar"]))?;
    Ok(archive)
}

/// Writes `<dir>/many-images.tar`: one docker-archive holding `n` images
/// (`<prefix>:<i>`), each with its own config (a label tells them apart)
/// over one shared layer, the busybox rootfs. One `load` brings them all.
pub fn build_many_images_archive(
    dir: &Path,
    rootfs: &Path,
    prefix: &str,
    n: usize,
) -> Result<PathBuf> {
    let work = dir.join("many");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("layer"))?;
    let layer = work.join("layer/layer.tar");
    tar_rootfs(rootfs, &layer)?;
    let diff = sha256_hex(&layer)?;
    let arch = image_arch();
    let mut entries = Vec::new();
    let mut members = vec!["manifest.json".to_owned(), "layer/layer.tar".to_owned()];
    for i in 0..n {
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["true"],"Labels":{{"bench.index":"{i}"}}}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}}}}"#
        );
        let tmp = work.join("config.json");
        std::fs::write(&tmp, &config)?;
        let hex = sha256_hex(&tmp)?;
        let name = format!("{hex}.json");
        std::fs::rename(&tmp, work.join(&name))?;
        entries.push(format!(
            r#"{{"Config":"{name}","RepoTags":["{prefix}:{i}"],"Layers":["layer/layer.tar"]}}"#
        ));
        members.push(name);
    }
    std::fs::write(
        work.join("manifest.json"),
        format!("[{}]", entries.join(",")),
    )?;
    let archive = dir.join("many-images.tar");
    sh(Command::new("tar")
        .arg("-C")
        .arg(&work)
        .arg("-cf")
        .arg(&archive)
        .args(&members))?;
    Ok(archive)
}

/// Writes `<dir>/big-image.tar` (unless there): a docker-archive of
/// `layers` layers of `files` files each, `size` bytes of pseudo-random
/// (incompressible) content apiece, over the busybox rootfs: what a pull
/// bench needs (many small files dominate, as in real images). Returns
/// its path.
pub fn build_big_image_archive(
    dir: &Path,
    rootfs: &Path,
    name: &str,
    layers: usize,
    files: usize,
    size: usize,
) -> Result<PathBuf> {
    let archive = dir.join("big-image.tar");
    if archive.exists() {
        return Ok(archive);
    }
    let work = dir.join("big");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: fast, and enough to defeat gzip.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut diffs = Vec::new();
    let mut members = vec!["manifest.json".to_owned()];
    for l in 0..=layers {
        let tree = work.join(format!("tree{l}"));
        if l == 0 {
            // The bottom layer: the busybox rootfs, so the image runs.
            tar_rootfs(rootfs, &work.join("layer0.tar"))?;
        } else {
            for f in 0..files {
                let sub = tree.join(format!("d{}", f % 50));
                std::fs::create_dir_all(&sub)?;
                let mut bytes = vec![0u8; size];
                for chunk in bytes.chunks_mut(8) {
                    let v = next().to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
                std::fs::write(sub.join(format!("f{f}")), bytes)?;
            }
            let wrapped = work.join(format!("wrap{l}"));
            std::fs::create_dir_all(wrapped.join("data"))?;
            std::fs::rename(&tree, wrapped.join(format!("data/l{l}")))?;
            tar_rootfs(&wrapped, &work.join(format!("layer{l}.tar")))?;
            std::fs::remove_dir_all(&wrapped)?;
        }
        diffs.push(format!(
            "sha256:{}",
            sha256_hex(&work.join(format!("layer{l}.tar")))?
        ));
        members.push(format!("layer{l}.tar"));
    }
    let arch = image_arch();
    let diff_list = diffs
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(",");
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["true"],"Env":["PATH=/bin"]}},"rootfs":{{"type":"layers","diff_ids":[{diff_list}]}}}}"#
    );
    let tmp = work.join("config.json");
    std::fs::write(&tmp, &config)?;
    let config_name = format!("{}.json", sha256_hex(&tmp)?);
    std::fs::rename(&tmp, work.join(&config_name))?;
    let layer_list = (0..=layers)
        .map(|l| format!("\"layer{l}.tar\""))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(
        work.join("manifest.json"),
        format!(r#"[{{"Config":"{config_name}","RepoTags":["{name}"],"Layers":[{layer_list}]}}]"#),
    )?;
    members.push(config_name);
    let tmp_archive = dir.join("big-image.tar.tmp");
    sh(Command::new("tar")
        .arg("-C")
        .arg(&work)
        .arg("-cf")
        .arg(&tmp_archive)
        .args(&members))?;
    std::fs::rename(&tmp_archive, &archive)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(archive)
}
