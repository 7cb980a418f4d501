//! containers/common's seccomp profiles (`/usr/share/containers/seccomp.json`,
//! the `seccomp_profile` key, `--security-opt seccomp=FILE`) translated to
//! the OCI spec's `linux.seccomp`, as podman does it: `archMap` gives the
//! native architecture and its sub-architectures; a rule applies only when
//! its `includes` hold and its `excludes` do not, against the container's
//! final capabilities, the host's architecture and kernel; an `errno` name
//! wins over `errnoRet`. Anything unknown (an action, an operator, an errno
//! name, a key) is an error naming it: a profile is never half applied and
//! never silently dropped.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{Capability, LinuxSeccomp};
use serde::Deserialize;

use crate::error::{Error, Result};

/// A containers/common profile.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    default_errno: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Option<Vec<ArchEntry>>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchEntry {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    args: Option<Vec<Arg>>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    errno: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

const OPERATORS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The errno names profiles use, with their numbers (Linux, every
/// architecture podman builds for).
const ERRNOS: &[(&str, u32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("ERANGE", 34),
    ("ENOSYS", 38),
    ("EOPNOTSUPP", 95),
    ("ENOTSUP", 95),
    ("EAFNOSUPPORT", 97),
];

/// The host as a profile's filters see it.
#[derive(Debug, Clone)]
pub struct SeccompHost {
    /// Go's name of the architecture (`amd64`), as `includes.arches` use.
    pub arch: String,
    /// libseccomp's name of it (`SCMP_ARCH_X86_64`), as `archMap` uses.
    pub scmp_arch: String,
    /// The kernel release as (major, minor).
    pub kernel: (u32, u32),
}

impl SeccompHost {
    /// This machine.
    pub fn current() -> SeccompHost {
        let (arch, scmp) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
            "x86" => ("x86", "SCMP_ARCH_X86"),
            "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
            "arm" => ("arm", "SCMP_ARCH_ARM"),
            "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
            "s390x" => ("s390x", "SCMP_ARCH_S390X"),
            "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
            "mips64" => ("mips64", "SCMP_ARCH_MIPS64"),
            other => (other, ""),
        };
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        SeccompHost {
            arch: arch.to_owned(),
            scmp_arch: scmp.to_owned(),
            kernel: kernel_version(&release).unwrap_or((0, 0)),
        }
    }
}

/// `6.1.0-13-amd64` → (6, 1).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::InvalidSeccomp {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn errno(path: &Path, name: Option<&str>, ret: Option<u32>) -> Result<Option<u32>> {
    match name.filter(|n| !n.is_empty()) {
        None => Ok(ret),
        Some(n) => match n.parse::<u32>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => ERRNOS
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| Some(*v))
                .ok_or_else(|| bad(path, format!("unknown errno {n:?}"))),
        },
    }
}

fn cap_name(c: &Capability) -> String {
    // oci-spec serialises capabilities as `CAP_...`.
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Reads and translates the profile at `path` for a container with the
/// capabilities `caps` on `host`.
pub fn load_profile(
    path: &Path,
    caps: &HashSet<Capability>,
    host: &SeccompHost,
) -> Result<LinuxSeccomp> {
    let bytes = std::fs::read(path).map_err(|e| {
        bad(
            path,
            format!(
                "cannot read it ({e}); install golang-github-containers-common, set seccomp_profile, or run with --security-opt seccomp=unconfined"
            ),
        )
    })?;
    translate(&bytes, path, caps, host)
}

/// Translates a profile's bytes (`path` names it in errors).
pub fn translate(
    bytes: &[u8],
    path: &Path,
    caps: &HashSet<Capability>,
    host: &SeccompHost,
) -> Result<LinuxSeccomp> {
    let profile: Profile = serde_json::from_slice(bytes).map_err(|e| bad(path, e.to_string()))?;
    let caps: HashSet<String> = caps.iter().map(cap_name).collect();
    let action = |a: &str| -> Result<String> {
        if ACTIONS.contains(&a) {
            Ok(a.to_owned())
        } else {
            Err(bad(
                path,
                format!("unknown action {a:?}: valid are {}", ACTIONS.join(", ")),
            ))
        }
    };
    if !profile.architectures.is_empty() && profile.arch_map.as_ref().is_some_and(|m| !m.is_empty())
    {
        return Err(bad(
            path,
            "both architectures and archMap are given: use one",
        ));
    }
    let mut arches: Vec<String> = profile.architectures.clone();
    for entry in profile.arch_map.iter().flatten() {
        if entry.architecture == host.scmp_arch {
            arches.push(entry.architecture.clone());
            arches.extend(entry.sub_architectures.iter().flatten().cloned());
            break;
        }
    }
    let mut syscalls = Vec::new();
    for rule in profile.syscalls.iter().flatten() {
        let act = action(&rule.action)?;
        let inc = rule.includes.as_ref();
        let exc = rule.excludes.as_ref();
        let listed = |f: Option<&Filter>, pick: fn(&Filter) -> &Option<Vec<String>>| {
            f.and_then(|f| pick(f).clone()).unwrap_or_default()
        };
        let exc_arches = listed(exc, |f| &f.arches);
        let exc_caps = listed(exc, |f| &f.caps);
        let inc_arches = listed(inc, |f| &f.arches);
        let inc_caps = listed(inc, |f| &f.caps);
        if exc_arches.contains(&host.arch) || exc_caps.iter().any(|c| caps.contains(c)) {
            continue;
        }
        if !inc_arches.is_empty() && !inc_arches.contains(&host.arch) {
            continue;
        }
        if !inc_caps.iter().all(|c| caps.contains(c)) {
            continue;
        }
        if let Some(min) = inc
            .and_then(|f| f.min_kernel.as_deref())
            .filter(|m| !m.is_empty())
        {
            let want = kernel_version(min)
                .ok_or_else(|| bad(path, format!("invalid minKernel {min:?}")))?;
            if host.kernel < want {
                continue;
            }
        }
        if let Some(min) = exc
            .and_then(|f| f.min_kernel.as_deref())
            .filter(|m| !m.is_empty())
        {
            let want = kernel_version(min)
                .ok_or_else(|| bad(path, format!("invalid minKernel {min:?}")))?;
            if host.kernel >= want {
                continue;
            }
        }
        let names: Vec<String> = match (&rule.name, &rule.names) {
            (Some(_), Some(n)) if !n.is_empty() => {
                return Err(bad(path, "a rule gives both name and names: use one"));
            }
            (Some(n), _) if !n.is_empty() => vec![n.clone()],
            (_, Some(n)) => n.clone(),
            _ => Vec::new(),
        };
        if names.is_empty() {
            continue;
        }
        let mut args = Vec::new();
        for a in rule.args.iter().flatten() {
            if !OPERATORS.contains(&a.op.as_str()) {
                return Err(bad(
                    path,
                    format!(
                        "unknown operator {:?}: valid are {}",
                        a.op,
                        OPERATORS.join(", ")
                    ),
                ));
            }
            if a.index > 5 {
                return Err(bad(
                    path,
                    format!("argument index {} is not 0 to 5", a.index),
                ));
            }
            args.push(serde_json::json!({
                "index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op,
            }));
        }
        let mut call = serde_json::json!({"names": names, "action": act});
        if !args.is_empty() {
            call["args"] = serde_json::Value::Array(args);
        }
        if let Some(e) = errno(path, rule.errno.as_deref(), rule.errno_ret)? {
            call["errnoRet"] = e.into();
        }
        let _ = &rule.comment;
        syscalls.push(call);
    }
    let mut out = serde_json::json!({
        "defaultAction": action(&profile.default_action)?,
        "architectures": arches,
        "syscalls": syscalls,
    });
    if let Some(e) = errno(
        path,
        profile.default_errno.as_deref(),
        profile.default_errno_ret,
    )? {
        out["defaultErrnoRet"] = e.into();
    }
    if let Some(flags) = &profile.flags {
        out["flags"] = serde_json::json!(flags);
    }
    if let Some(p) = &profile.listener_path {
        out["listenerPath"] = p.clone().into();
    }
    if let Some(m) = &profile.listener_metadata {
        out["listenerMetadata"] = m.clone().into();
    }
    serde_json::from_value(out)
        .map_err(|e| bad(path, format!("not a valid OCI seccomp section: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> SeccompHost {
        SeccompHost {
            arch: "amd64".to_owned(),
            scmp_arch: "SCMP_ARCH_X86_64".to_owned(),
            kernel: (6, 1),
        }
    }

    fn caps(names: &[&str]) -> HashSet<Capability> {
        names
            .iter()
            .map(|n| serde_json::from_value(serde_json::json!(n)).unwrap())
            .collect()
    }

    fn rules_for(s: &LinuxSeccomp, name: &str) -> Vec<serde_json::Value> {
        serde_json::to_value(s).unwrap()["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .cloned()
            .collect()
    }

    #[test]
    fn the_installed_profile_translates_as_podmans() {
        let path = Path::new("/usr/share/containers/seccomp.json");
        let Ok(bytes) = std::fs::read(path) else {
            oxpod_test_support::skip_or_fail("no /usr/share/containers/seccomp.json");
            return;
        };
        let default = caps(&["CAP_CHOWN", "CAP_SETUID"]);
        let s = translate(&bytes, path, &default, &host()).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        // defaultErrno ENOSYS wins over defaultErrnoRet.
        assert_eq!(v["defaultErrnoRet"], 38);
        assert_eq!(
            v["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        // Without CAP_SYS_ADMIN bpf is refused with EPERM, never allowed.
        let bpf = rules_for(&s, "bpf");
        assert_eq!(bpf.len(), 1, "{bpf:?}");
        assert_eq!(bpf[0]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(bpf[0]["errnoRet"], 1);
        // amd64-only rules are in, arm-only ones out.
        assert_eq!(rules_for(&s, "arch_prctl").len(), 1);
        assert!(rules_for(&s, "breakpoint").is_empty());
        // With CAP_SYS_ADMIN the allow rule applies instead.
        let admin = caps(&["CAP_SYS_ADMIN"]);
        let s = translate(&bytes, path, &admin, &host()).unwrap();
        let bpf = rules_for(&s, "bpf");
        assert_eq!(bpf.len(), 1);
        assert_eq!(bpf[0]["action"], "SCMP_ACT_ALLOW");
        // personality with its argument filters.
        let p = rules_for(&s, "personality");
        assert!(p.iter().any(|r| r["args"][0]["value"] == 8));
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        let p = Path::new("p.json");
        for (json, want) in [
            (
                r#"{"defaultAction":"SCMP_ACT_EXPLODE"}"#,
                "SCMP_ACT_EXPLODE",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_NOPE"}]}"#,
                "SCMP_ACT_NOPE",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","errno":"EWHAT"}]}"#,
                "EWHAT",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}"#,
                "SCMP_CMP_ABOUT",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","colour":"red"}"#,
                "colour",
            ),
            (r#"{"defaultAction":"#, "EOF"),
        ] {
            let err = translate(json.as_bytes(), p, &HashSet::new(), &host())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(want) && err.contains("p.json"),
                "{json}: {err}"
            );
        }
    }

    #[test]
    fn min_kernel_and_arch_filters_apply() {
        let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
            {"names":["new"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"6.5"}},
            {"names":["old"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}},
            {"names":["notarm"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}},
            {"name":"one","action":"SCMP_ACT_ERRNO","errnoRet":5}
        ]}"#;
        let s = translate(json.as_bytes(), Path::new("x"), &HashSet::new(), &host()).unwrap();
        assert!(rules_for(&s, "new").is_empty());
        assert_eq!(rules_for(&s, "old").len(), 1);
        assert!(rules_for(&s, "notarm").is_empty());
        assert_eq!(rules_for(&s, "one")[0]["errnoRet"], 5);
        assert_eq!(kernel_version("6.18.3-x"), Some((6, 18)));
    }
}
