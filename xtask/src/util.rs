//! Small helpers for running commands from xtask.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs a command in the workspace root, inheriting stdio; fails when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    cmd.current_dir(workspace_root());
    eprintln!("xtask: $ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed: {status}", display(cmd));
    }
    Ok(())
}

/// Runs a command in the workspace root and returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    cmd.current_dir(workspace_root());
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}\n{}",
            display(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A command line as a user would type it, for messages.
pub fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Whether a program is on PATH (or an existing path).
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // /proc/self/status has "Uid: real effective saved fs"; no libc needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `unshare -n sleep infinity`: a network namespace with its loopback up,
/// where the demo and the bench's network rows run (never the host's).
#[derive(Debug)]
pub struct NetnsHolder {
    child: std::process::Child,
}

impl NetnsHolder {
    pub fn start() -> Result<NetnsHolder> {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "infinity"])
            .spawn()
            .context("cannot run unshare -n (util-linux)")?;
        let holder = NetnsHolder { child };
        let ours = std::fs::read_link("/proc/self/ns/net")?;
        for _ in 0..200 {
            if std::fs::read_link(holder.path()).is_ok_and(|l| l != ours) {
                run(Command::new("nsenter")
                    .arg(format!("--net={}", holder.path().display()))
                    .args(["--", "ip", "link", "set", "lo", "up"]))?;
                return Ok(holder);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        bail!("unshare -n did not make a network namespace")
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.child.id()))
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
