//! Version and package probes for `info`: they run external programs, so
//! they are only ever called on request, never during discovery.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::runtime::spawn_locked;

fn run_stdout(program: &Path, args: &[&std::ffi::OsStr]) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child = match spawn_locked(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("cannot run {}: {e}", program.display());
            return None;
        }
    };
    match child.wait_with_output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => {
            tracing::debug!("{} exited with {}", program.display(), out.status);
            None
        }
        Err(e) => {
            tracing::debug!("waiting for {}: {e}", program.display());
            None
        }
    }
}

/// `<path> --version`. For conmon the first newline becomes ", " (as
/// podman's `info` shows it); the trailing newline is trimmed. Empty when
/// the program cannot be run.
pub(crate) fn probe_version(path: &Path, conmon: bool) -> String {
    let Some(out) = run_stdout(path, &["--version".as_ref()]) else {
        return String::new();
    };
    let out = out.trim_end_matches('\n');
    if conmon {
        out.replacen('\n', ", ", 1)
    } else {
        out.to_owned()
    }
}

/// The package that owns `path`: `rpm -q -f`, then `dpkg -S`; "Unknown"
/// when neither knows it. Runs external programs: call only when asked.
pub fn package_of(path: &Path) -> String {
    let rpm = Path::new("/usr/bin/rpm");
    if rpm.exists()
        && let Some(out) = run_stdout(rpm, &["-q".as_ref(), "-f".as_ref(), path.as_os_str()])
    {
        let out = out.trim();
        if !out.is_empty() {
            return out.to_owned();
        }
    }
    let dpkg = Path::new("/usr/bin/dpkg");
    if dpkg.exists()
        && let Some(out) = run_stdout(dpkg, &["-S".as_ref(), path.as_os_str()])
    {
        // "runc: /usr/sbin/runc" (first line; diversions add more).
        if let Some(pkg) = out.lines().next().and_then(|l| l.split(':').next()) {
            let pkg = pkg.trim();
            if !pkg.is_empty() {
                return pkg.to_owned();
            }
        }
    }
    "Unknown".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_real_tools() {
        let runc = Path::new("/usr/sbin/runc");
        let conmon = Path::new("/usr/bin/conmon");
        if !runc.exists() || !conmon.exists() {
            crate::test_support::skip_or_fail("runc or conmon not installed");
            return;
        }
        let v = probe_version(runc, false);
        assert!(v.starts_with("runc version"), "{v}");
        assert!(!v.ends_with('\n'));
        let c = probe_version(conmon, true);
        assert!(c.starts_with("conmon version"), "{c}");
        assert!(c.contains(", "), "{c}");
        assert!(!c.contains('\n'), "{c}");
    }

    #[test]
    fn version_of_missing_program_is_empty() {
        assert_eq!(probe_version(Path::new("/nonexistent/prog"), false), "");
    }

    #[test]
    fn package_lookup() {
        assert_eq!(
            package_of(Path::new("/nonexistent/oxpod-nothing")),
            "Unknown"
        );
        let runc = Path::new("/usr/sbin/runc");
        if runc.exists() && Path::new("/usr/bin/dpkg").exists() {
            assert_eq!(package_of(runc), "runc");
        }
    }
}
