//! `oxpod info` and `oxpod system locks`: what the runtime sees, as plain
//! serialisable data. Versions and packages of conmon and the runtimes are
//! probed only here, never at start-up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oxpod_state::ContainerStatus;
use serde::Serialize;

use crate::{Result, Runtime, VERSION};

/// Everything `oxpod info` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// The host.
    pub host: Host,
    /// Where things are stored and how many there are.
    pub store: Store,
    /// oxpod's own version.
    pub version: Version,
}

/// The host part of [`Info`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    pub arch: String,
    pub os: String,
    pub kernel: String,
    pub hostname: String,
    pub distribution: Distribution,
    pub cpus: usize,
    pub mem_total: u64,
    pub mem_free: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub uptime: String,
    pub cgroup_manager: String,
    pub cgroup_version: String,
    pub conmon: Program,
    pub oci_runtime: Program,
    /// Every usable runtime: name → path.
    pub oci_runtimes: BTreeMap<String, PathBuf>,
    pub rootless: bool,
    pub event_logger: String,
    pub free_locks: u32,
    pub total_locks: u32,
    pub lock_segment: String,
    pub database_backend: String,
}

/// A distribution's name and version (`/etc/os-release`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    pub distribution: String,
    pub version: String,
}

/// conmon or an OCI runtime.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub path: PathBuf,
    pub package: String,
    pub version: String,
}

/// The store part of [`Info`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub config_files: Vec<PathBuf>,
    pub static_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub volume_path: PathBuf,
    pub events_log: PathBuf,
    pub container_store: ContainerStore,
    pub pod_store: PodStore,
}

/// Containers by status.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStore {
    pub number: usize,
    pub created: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
}

/// Pods.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStore {
    pub number: usize,
}

/// oxpod's version.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: String,
    pub os_arch: String,
}

impl Version {
    /// This build's version.
    pub fn current() -> Self {
        Version {
            version: VERSION.to_owned(),
            os_arch: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// The lock segment, as `oxpod system locks` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocksReport {
    pub segment: String,
    pub capacity: u32,
    pub available: u32,
    /// Allocated lock → the objects using it (more than one is a problem).
    pub allocated: BTreeMap<u32, Vec<String>>,
    /// Locks held now → the pid holding each.
    pub held: BTreeMap<u32, i32>,
}

impl Runtime {
    /// Host and store information; probes conmon's and the default
    /// runtime's versions and packages.
    pub fn info(&self) -> Result<Info> {
        self.check_valid()?;
        let config = self.config();
        let mem = meminfo();
        let default = self.runtimes.default();
        let mut store = ContainerStore::default();
        for c in self.containers(&[])? {
            store.number += 1;
            match c.state.status {
                ContainerStatus::Running => store.running += 1,
                ContainerStatus::Paused => store.paused += 1,
                ContainerStatus::Configured | ContainerStatus::Created => store.created += 1,
                _ => store.stopped += 1,
            }
        }
        let pods = self.state().all_pods()?.items.len();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let conmon_version = || self.conmon.version();
        let runtime_version = || default.version();
        let probes = crate::probe::probe_all(
            &self.layout.tmp_dir.join("probes.json"),
            &[
                (&self.conmon.path, &conmon_version),
                (&default.path, &runtime_version),
            ],
        );
        let (conmon_probe, runtime_probe) = (&probes[0], &probes[1]);
        Ok(Info {
            host: Host {
                arch: std::env::consts::ARCH.to_owned(),
                os: std::env::consts::OS.to_owned(),
                kernel: nix::sys::utsname::uname()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                hostname: nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                distribution: Distribution {
                    distribution: os_release_value(&os_release, "ID"),
                    version: os_release_value(&os_release, "VERSION_ID"),
                },
                cpus: std::thread::available_parallelism().map_or(1, usize::from),
                mem_total: mem.get("MemTotal").copied().unwrap_or(0),
                mem_free: mem.get("MemAvailable").copied().unwrap_or(0),
                swap_total: mem.get("SwapTotal").copied().unwrap_or(0),
                swap_free: mem.get("SwapFree").copied().unwrap_or(0),
                uptime: uptime(),
                cgroup_manager: config.cgroup_manager.clone(),
                cgroup_version: cgroup_version().to_owned(),
                conmon: Program {
                    name: String::new(),
                    path: self.conmon.path.clone(),
                    package: conmon_probe.package.clone(),
                    version: conmon_probe.version.clone(),
                },
                oci_runtime: Program {
                    name: default.name.clone(),
                    path: default.path.clone(),
                    package: runtime_probe.package.clone(),
                    version: runtime_probe.version.clone(),
                },
                oci_runtimes: self
                    .runtimes
                    .all()
                    .map(|r| (r.name.clone(), r.path.clone()))
                    .collect(),
                rootless: self.identity.rootless,
                event_logger: config.events_logger.clone(),
                free_locks: self.locks.available()?,
                total_locks: self.locks.capacity(),
                lock_segment: config.lock_name.clone(),
                database_backend: "lmdb".to_owned(),
            },
            store: Store {
                config_files: self.loaded.files_read.clone(),
                static_dir: config.static_dir.clone(),
                tmp_dir: config.tmp_dir.clone(),
                volume_path: config.volume_path.clone(),
                events_log: config.events_logfile_path.clone(),
                container_store: store,
                pod_store: PodStore { number: pods },
            },
            version: Version::current(),
        })
    }

    /// The lock segment: capacity, free locks, who uses each allocated lock
    /// and who holds which lock now.
    pub fn locks_report(&self) -> Result<LocksReport> {
        self.check_valid()?;
        let mut allocated: BTreeMap<u32, Vec<String>> = self
            .locks
            .allocated()?
            .into_iter()
            .map(|id| (id, Vec::new()))
            .collect();
        let listing = self.state().all_containers()?;
        for c in listing.items {
            allocated
                .entry(c.config.lock_id)
                .or_default()
                .push(format!("container {}", c.config.name));
        }
        let pods = self.state().all_pods()?.items;
        for p in pods {
            allocated
                .entry(p.config.lock_id)
                .or_default()
                .push(format!("pod {}", p.config.name));
        }
        Ok(LocksReport {
            segment: self.config().lock_name.clone(),
            capacity: self.locks.capacity(),
            available: self.locks.available()?,
            allocated,
            held: self.locks.holders()?,
        })
    }
}

/// `/proc/meminfo` in bytes.
fn meminfo() -> BTreeMap<String, u64> {
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
fn uptime() -> String {
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
fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1"
    }
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
}
