//! Facts about the host, read from `/proc`, `/sys`, `/etc` and the kernel:
//! the one place oxpod's composer parses them (for `info` and reboot
//! detection). Each reader is small and tolerant: a missing file gives an
//! empty or "unknown" value, never an error.

use std::collections::BTreeMap;

/// The kernel's boot id; a fixed text when the kernel does not say.
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown-boot".to_owned())
}

/// The kernel release (`uname -r`).
pub(crate) fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The host name.
pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `ID` and `VERSION_ID` of `/etc/os-release`.
pub(crate) fn distribution() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    (
        os_release_value(&text, "ID"),
        os_release_value(&text, "VERSION_ID"),
    )
}

/// `/proc/meminfo` in bytes.
pub(crate) fn meminfo() -> BTreeMap<String, u64> {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kb: u64 = v.split_whitespace().next()?.parse().ok()?;
            Some((k.to_owned(), kb * 1024))
        })
        .collect()
}

fn os_release_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Uptime as podman prints it: `5h 3m 2.05s (Approximately 0.21 days)`.
pub(crate) fn uptime() -> String {
    let secs: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let whole = secs as u64;
    let (h, m, s) = (whole / 3600, (whole % 3600) / 60, secs % 60.0);
    if h > 0 {
        format!(
            "{h}h {m}m {s:.2}s (Approximately {:.2} days)",
            secs / 86400.0
        )
    } else {
        format!("{m}m {s:.2}s")
    }
}

/// `v2` on a unified hierarchy, else `v1` (hybrid hosts count as v1).
pub(crate) fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1"
    }
}

/// The controllers the host offers: `cgroup.controllers` on v2, the
/// enabled ones of `/proc/cgroups` on v1.
pub(crate) fn cgroup_controllers() -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
        return text.split_whitespace().map(str::to_owned).collect();
    }
    std::fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] == "1").then(|| f[0].to_owned())
        })
        .collect()
}

/// The CPU architecture as Go (and so podman and OCI images) names it.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        other => other,
    }
}

/// Whether `path` is a mount point in our mount namespace (from
/// `/proc/self/mountinfo`, so a bind mount of the same file system counts).
pub(crate) fn is_mounted(path: &std::path::Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape_mountinfo(m) == want)
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(digits) = std::str::from_utf8(&b[i + 1..i + 4])
            && let Ok(v) = u8::from_str_radix(digits, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_parsing() {
        let t = "PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n";
        assert_eq!(os_release_value(t, "ID"), "debian");
        assert_eq!(os_release_value(t, "VERSION_ID"), "12");
        assert_eq!(os_release_value(t, "NOPE"), "unknown");
    }

    #[test]
    fn host_facts_read() {
        assert!(meminfo().contains_key("MemTotal"));
        assert!(!boot_id().is_empty());
        assert!(matches!(cgroup_version(), "v1" | "v2"));
        assert!(!cgroup_controllers().is_empty());
        assert!(!go_arch().contains('_'), "{}", go_arch());
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(super::unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(super::unescape_mountinfo("/é\\01"), "/é\\01");
        assert!(super::is_mounted(std::path::Path::new("/proc")));
        assert!(!super::is_mounted(std::path::Path::new("/proc/self")));
    }
}
