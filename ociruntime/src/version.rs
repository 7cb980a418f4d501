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
/// Runs the program: call only when asked.
pub fn program_version(path: &Path, conmon: bool) -> String {
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

/// Where dpkg keeps the file lists of installed packages.
const DPKG_INFO: &str = "/var/lib/dpkg/info";

/// The package that owns `path`: `rpm -q -f` where rpm exists, else dpkg's
/// own file lists; "Unknown" when neither knows it. Call only when asked.
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
    dpkg_owner(Path::new(DPKG_INFO), path).unwrap_or_else(|| "Unknown".to_owned())
}

/// What `dpkg -S` answers, without its ~50 ms: the package whose
/// `<pkg>[:<arch>].list` names `path` (or, through symlinks, the file it
/// is). The lists of packages named like the binary are read first (runc
/// is in runc.list), then every list.
fn dpkg_owner(info_dir: &Path, path: &Path) -> Option<String> {
    let mut wanted = vec![path.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(path)
        && real != path
    {
        wanted.push(real);
    }
    let names: Vec<String> = wanted
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    let lists: Vec<std::path::PathBuf> = std::fs::read_dir(info_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "list"))
        .collect();
    let package = |list: &Path| -> Option<String> {
        let stem = list.file_stem()?.to_str()?;
        Some(stem.split(':').next().unwrap_or(stem).to_owned())
    };
    let (likely, rest): (Vec<_>, Vec<_>) = lists
        .into_iter()
        .partition(|l| package(l).is_some_and(|p| names.contains(&p)));
    likely.into_iter().chain(rest).find_map(|list| {
        let text = std::fs::read_to_string(&list).ok()?;
        text.lines()
            .any(|line| wanted.iter().any(|w| w.as_os_str() == line))
            .then(|| package(&list))
            .flatten()
    })
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
        let v = program_version(runc, false);
        assert!(v.starts_with("runc version"), "{v}");
        assert!(!v.ends_with('\n'));
        let c = program_version(conmon, true);
        assert!(c.starts_with("conmon version"), "{c}");
        assert!(c.contains(", "), "{c}");
        assert!(!c.contains('\n'), "{c}");
    }

    #[test]
    fn version_of_missing_program_is_empty() {
        assert_eq!(program_version(Path::new("/nonexistent/prog"), false), "");
    }

    #[test]
    fn dpkg_lists_are_searched_like_dpkg_s() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("info");
        std::fs::create_dir(&info).unwrap();
        std::fs::write(info.join("tool.list"), "/.\n/usr\n/usr/bin/othertool\n").unwrap();
        std::fs::write(info.join("libthing:amd64.list"), "/usr/bin/tool\n").unwrap();
        std::fs::write(info.join("libthing:amd64.md5sums"), "/usr/bin/nope\n").unwrap();
        assert_eq!(
            dpkg_owner(&info, Path::new("/usr/bin/tool")).as_deref(),
            Some("libthing")
        );
        assert_eq!(
            dpkg_owner(&info, Path::new("/usr/bin/othertool")).as_deref(),
            Some("tool")
        );
        assert_eq!(dpkg_owner(&info, Path::new("/usr/bin/nope")), None);
        assert_eq!(
            dpkg_owner(&dir.path().join("missing"), Path::new("/x")),
            None
        );
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
