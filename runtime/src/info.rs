//! `oxpod info` and `oxpod system locks`: what the runtime sees, as plain
//! serialisable data. Versions and packages of conmon and the runtimes are
//! probed only here, never at start-up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oxpod_state::ContainerStatus;
use serde::Serialize;

use crate::{Result, System, VERSION, host};

/// Everything `oxpod info` shows, in podman 4's layout (its JSON keys;
/// templates name the Go fields, see the CLI).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// The host.
    pub host: Host,
    /// Where things are stored and how many there are.
    pub store: Store,
    /// Registries searched for short names (`search`, from
    /// registries.conf's `unqualified-search-registries`).
    pub registries: BTreeMap<String, Vec<String>>,
    /// Plugins by kind: volume, network, log, authorization.
    pub plugins: BTreeMap<String, Option<Vec<String>>>,
    /// oxpod's own version.
    pub version: Version,
}

/// The host part of [`Info`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    /// CPU architecture as Go names it (`amd64`, `arm64`), as podman shows.
    pub arch: String,
    /// Operating system (`linux`).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// Host name.
    pub hostname: String,
    /// The distribution (`/etc/os-release`).
    pub distribution: Distribution,
    /// Usable CPUs.
    pub cpus: usize,
    /// Memory, bytes.
    pub mem_total: u64,
    /// Available memory, bytes.
    pub mem_free: u64,
    /// Swap, bytes.
    pub swap_total: u64,
    /// Free swap, bytes.
    pub swap_free: u64,
    /// Uptime as podman prints it.
    pub uptime: String,
    /// `cgroupfs` or `systemd`.
    pub cgroup_manager: String,
    /// `v1` or `v2`.
    pub cgroup_version: String,
    /// The cgroup controllers the host offers.
    pub cgroup_controllers: Vec<String>,
    /// The user namespace mappings (none for root).
    pub id_mappings: IdMappings,
    /// How container output is logged (conmon's `k8s-file`).
    pub log_driver: String,
    /// The network backend (none yet: every container is in the host's
    /// network).
    pub network_backend: String,
    /// Security features in force.
    pub security: Security,
    /// The container monitor.
    pub conmon: Program,
    /// The default OCI runtime.
    pub oci_runtime: Program,
    /// Every usable runtime: name → path.
    pub oci_runtimes: BTreeMap<String, PathBuf>,
    /// The events backend.
    pub event_logger: String,
    /// Locks not allocated.
    pub free_locks: u32,
    /// Locks in the segment.
    pub total_locks: u32,
    /// The segment's name.
    pub lock_segment: String,
    /// `lmdb` or `memory`.
    pub database_backend: String,
}

/// uid and gid mappings of a user namespace.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMappings {
    /// gid mappings; null without a user namespace.
    pub gidmap: Option<Vec<String>>,
    /// uid mappings; null without a user namespace.
    pub uidmap: Option<Vec<String>>,
}

/// Security features, podman's `host.security`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    /// AppArmor profiles applied (never: oxpod applies none yet).
    pub apparmor_enabled: bool,
    /// The default capability set, comma separated.
    pub capabilities: String,
    /// Running without root.
    pub rootless: bool,
    /// Whether containers get a seccomp profile (the configured one is
    /// readable).
    pub seccomp_enabled: bool,
    /// The seccomp profile's path.
    pub seccomp_profile_path: String,
    /// SELinux labels applied (never).
    #[serde(rename = "selinuxEnabled")]
    pub selinux_enabled: bool,
}

/// A distribution's name and version (`/etc/os-release`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    /// Its `ID` (`debian`).
    pub distribution: String,
    /// Its version.
    pub version: String,
}

/// conmon or an OCI runtime.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// Its name (runtimes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its binary.
    pub path: PathBuf,
    /// The package that installed it.
    pub package: String,
    /// Its version.
    pub version: String,
}

/// The store part of [`Info`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    /// Configuration files read, lowest first.
    pub config_files: Vec<PathBuf>,
    /// Persistent directory.
    pub static_dir: PathBuf,
    /// Per-boot directory.
    pub tmp_dir: PathBuf,
    /// Named volumes.
    pub volume_path: PathBuf,
    /// The storage configuration file (none: the store is configured by
    /// oxpod's own file).
    pub config_file: String,
    /// The image store's directory.
    pub graph_root: PathBuf,
    /// The image store's per-boot directory.
    pub run_root: PathBuf,
    /// The storage driver (`overlay` or `vfs`).
    pub graph_driver_name: String,
    /// podman's driver status: for overlay the backing file system and
    /// whether overlay works there (probed once per boot); empty for vfs.
    pub graph_status: BTreeMap<String, String>,
    /// Images.
    pub image_store: ImageStore,
    /// The events log.
    pub events_log: PathBuf,
    /// Containers by status.
    pub container_store: ContainerStore,
    /// Pods.
    pub pod_store: PodStore,
}

/// Containers by status, counted as podman counts them.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStore {
    /// How many.
    pub number: usize,
    /// Running.
    pub running: usize,
    /// Paused.
    pub paused: usize,
    /// Neither running nor paused: created, stopped or exited (podman
    /// counts a created container as stopped).
    pub stopped: usize,
}

/// Images.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStore {
    /// How many.
    pub number: usize,
}

/// Pods.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStore {
    /// How many.
    pub number: usize,
}

/// oxpod's version, with podman's keys (`oxpod version` and `info`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    /// The API version (oxpod's own version: there is no API server yet).
    #[serde(rename = "APIVersion")]
    pub api_version: String,
    /// Its version.
    pub version: String,
    /// The compiler that built it (podman's key name).
    pub go_version: String,
    /// The commit it was built from, when known.
    pub git_commit: String,
    /// When it was built, when known.
    pub built_time: String,
    /// The build time in Unix seconds; 0 when not known.
    pub built: i64,
    /// `os/arch`, Go's names (`linux/amd64`).
    pub os_arch: String,
    /// `linux`.
    pub os: String,
}

impl Version {
    /// This build's version.
    pub fn current() -> Self {
        Version {
            api_version: VERSION.to_owned(),
            version: VERSION.to_owned(),
            go_version: env!("OXPOD_RUSTC_VERSION").to_owned(),
            git_commit: option_env!("OXPOD_GIT_COMMIT").unwrap_or("").to_owned(),
            built_time: String::new(),
            built: 0,
            os_arch: format!("{}/{}", std::env::consts::OS, host::go_arch()),
            os: std::env::consts::OS.to_owned(),
        }
    }
}

/// The lock segment, as `oxpod system locks` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocksReport {
    /// The segment's name.
    pub segment: String,
    /// Locks in the segment.
    pub capacity: u32,
    /// Locks not allocated.
    pub available: u32,
    /// Allocated lock → the objects using it (more than one is a problem).
    pub allocated: BTreeMap<u32, Vec<String>>,
    /// Locks held now by a live process → its pid.
    pub held: BTreeMap<u32, i32>,
}

impl System<'_> {
    /// Host and store information; probes conmon's and the default
    /// runtime's versions and packages (cached per boot).
    pub fn info(&self) -> Result<Info> {
        let rt = self.rt();
        rt.check_valid()?;
        let config = rt.config();
        let mem = host::meminfo();
        let mut store = ContainerStore::default();
        for c in rt.containers().list(&[])? {
            store.number += 1;
            match c.state.status {
                ContainerStatus::Running => store.running += 1,
                ContainerStatus::Paused => store.paused += 1,
                _ => store.stopped += 1,
            }
        }
        let pods = rt.state().all_pods()?.items.len();
        // Before the literal below: it holds the state's guard (for the
        // backend's name) until its end.
        let images = rt.images().list()?.len();
        let programs = rt.driver.programs();
        let default_path = programs
            .runtimes
            .get(&programs.default_runtime)
            .cloned()
            .unwrap_or_default();
        let conmon_version = || oxpod_ociruntime::program_version(&programs.conmon, true);
        let runtime_version = || oxpod_ociruntime::program_version(&default_path, false);
        let probes = crate::probe::probe_all(
            &rt.layout.tmp_dir.join("probes.json"),
            &[
                (&programs.conmon, &conmon_version),
                (&default_path, &runtime_version),
            ],
        );
        let (conmon_probe, runtime_probe) = (&probes[0], &probes[1]);
        let (distribution, version) = host::distribution();
        Ok(Info {
            host: Host {
                arch: host::go_arch().to_owned(),
                os: std::env::consts::OS.to_owned(),
                kernel: host::kernel(),
                hostname: host::hostname(),
                distribution: Distribution {
                    distribution,
                    version,
                },
                cpus: std::thread::available_parallelism().map_or(1, usize::from),
                mem_total: mem.get("MemTotal").copied().unwrap_or(0),
                mem_free: mem.get("MemAvailable").copied().unwrap_or(0),
                swap_total: mem.get("SwapTotal").copied().unwrap_or(0),
                swap_free: mem.get("SwapFree").copied().unwrap_or(0),
                uptime: host::uptime(),
                cgroup_manager: config.cgroup_manager.to_string(),
                cgroup_version: host::cgroup_version().to_owned(),
                cgroup_controllers: host::cgroup_controllers(),
                id_mappings: IdMappings::default(),
                log_driver: "k8s-file".to_owned(),
                // podman's word when netavark is what sets networks up.
                network_backend: if oxpod_network::find_helper("netavark").is_some() {
                    "netavark".to_owned()
                } else {
                    String::new()
                },
                security: Security {
                    rootless: rt.identity.rootless,
                    capabilities: oxpod_ociruntime::DEFAULT_CAPABILITIES.join(","),
                    seccomp_enabled: config.seccomp_profile.is_file(),
                    seccomp_profile_path: config.seccomp_profile.display().to_string(),
                    ..Security::default()
                },
                conmon: Program {
                    name: String::new(),
                    path: programs.conmon.clone(),
                    package: conmon_probe.package.clone(),
                    version: conmon_probe.version.clone(),
                },
                oci_runtime: Program {
                    name: programs.default_runtime.clone(),
                    path: default_path.clone(),
                    package: runtime_probe.package.clone(),
                    version: runtime_probe.version.clone(),
                },
                oci_runtimes: programs.runtimes.clone(),
                event_logger: config.events_logger.to_string(),
                free_locks: rt.locks.available()?,
                total_locks: rt.locks.capacity(),
                lock_segment: config.lock_name.clone(),
                database_backend: rt.state().backend_name().to_owned(),
            },
            store: Store {
                config_files: rt.loaded.files_read.clone(),
                static_dir: config.static_dir.clone(),
                tmp_dir: config.tmp_dir.clone(),
                volume_path: config.volume_path.clone(),
                config_file: String::new(),
                graph_root: config.static_dir.join("storage"),
                run_root: config.tmp_dir.clone(),
                graph_driver_name: rt.images().driver().name().to_owned(),
                graph_status: graph_status(rt)?,
                image_store: ImageStore { number: images },
                events_log: config.events_logfile_path.clone(),
                container_store: store,
                pod_store: PodStore { number: pods },
            },
            registries: match crate::registries::Registries::load() {
                Ok(r) if !r.unqualified.is_empty() => {
                    BTreeMap::from([("search".to_owned(), r.unqualified)])
                }
                Ok(_) => BTreeMap::new(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read registries.conf");
                    BTreeMap::new()
                }
            },
            plugins: [
                ("authorization", None),
                ("log", Some(vec!["k8s-file".to_owned()])),
                (
                    "network",
                    Some(vec!["bridge".to_owned(), "macvlan".to_owned()]),
                ),
                ("volume", Some(Vec::new())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            version: Version::current(),
        })
    }

    /// The lock segment: capacity, free locks, who uses each allocated lock
    /// (objects of every namespace: the segment is shared by all) and who
    /// holds which lock now.
    pub fn locks(&self) -> Result<LocksReport> {
        let rt = self.rt();
        rt.check_valid()?;
        let mut allocated: BTreeMap<u32, Vec<String>> = rt
            .locks
            .allocated()?
            .into_iter()
            .map(|id| (id, Vec::new()))
            .collect();
        let (objects, _) = rt.all_objects()?;
        for o in &objects {
            allocated.entry(o.lock_id()).or_default().push(o.label());
        }
        Ok(LocksReport {
            segment: rt.config().lock_name.clone(),
            capacity: rt.locks.capacity(),
            available: rt.locks.available()?,
            allocated,
            // A holder that died is recovered by the next lock of it; until
            // then its pid stays in the table: not held.
            held: rt
                .locks
                .holders()?
                .into_iter()
                .filter(|&(_, pid)| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                })
                .collect(),
        })
    }
}

/// `Store.GraphStatus` as podman shows it for overlay (nothing for vfs).
fn graph_status(rt: &crate::Runtime) -> Result<BTreeMap<String, String>> {
    let images = rt.images();
    if images.driver() != oxpod_storage::Driver::Overlay {
        return Ok(BTreeMap::new());
    }
    let works = images.overlay_probe()?.is_ok();
    Ok([
        ("Backing Filesystem", rt.storage()?.backing_filesystem()),
        ("Native Overlay Diff", works.to_string()),
        ("Supports d_type", "true".to_owned()),
        ("Using metacopy", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}
