//! `config.json` generation: a small [`ContainerSpec`] in, a complete OCI
//! runtime spec out (podman's defaults, adapted to what this host accepts),
//! and [`write_bundle`] to lay it out on disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder, Mount,
    MountBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder,
    Spec, SpecBuilder, UserBuilder,
};

use crate::error::{Error, Result};

/// The PATH given to a container whose environment has none (podman's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default `RLIMIT_NOFILE` (podman's), lowered to the caller's hard limit.
pub const DEFAULT_NOFILE: u64 = 1_048_576;
/// Default `RLIMIT_NPROC` (podman's), lowered to the caller's hard limit.
pub const DEFAULT_NPROC: u64 = 4_194_304;

/// podman's default capability set (containers.conf, podman 4+).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Paths masked inside the container (podman's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// Paths made read-only inside the container (podman's list).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Which cgroup manager the runtime is told to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CgroupManager {
    /// Plain cgroupfs: `cgroupsPath` is a path such as `/oxpod/<id>`.
    #[default]
    Cgroupfs,
    /// systemd: `cgroupsPath` is `slice:prefix:name`, and the runtime and
    /// conmon are told `--systemd-cgroup` / `-s`.
    Systemd,
}

impl CgroupManager {
    /// The configuration spelling: `cgroupfs` or `systemd`.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupManager::Cgroupfs => "cgroupfs",
            CgroupManager::Systemd => "systemd",
        }
    }
}

impl std::fmt::Display for CgroupManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CgroupManager {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cgroupfs" => Ok(CgroupManager::Cgroupfs),
            "systemd" => Ok(CgroupManager::Systemd),
            other => Err(Error::InvalidConfig {
                message: format!(
                    "invalid cgroup manager specified: {other:?}; use \"cgroupfs\" or \"systemd\""
                ),
            }),
        }
    }
}

/// One resource limit: `kind` is `nofile`, `RLIMIT_NOFILE`, `nproc`, ...
/// (case-insensitive, with or without the `RLIMIT_` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    /// The limit's name.
    pub kind: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// A mount added to the defaults (a bind mount unless `kind` says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraMount {
    /// Where it appears inside the container (absolute).
    pub destination: PathBuf,
    /// The host path (or the source for other types).
    pub source: PathBuf,
    /// Filesystem type; empty means `bind`.
    pub kind: String,
    /// Mount options; for a bind mount `rbind` is added when neither `bind`
    /// nor `rbind` is given.
    pub options: Vec<String>,
}

/// A container's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetNamespace {
    /// The host's (no namespace entry).
    #[default]
    Host,
    /// A new one the runtime makes, with a loopback only (`--network none`).
    New,
    /// The one bound at this path (made by oxpod, or `ns:PATH`).
    Join(PathBuf),
}

/// What oxpod knows about a container that the OCI spec needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container id: names the cgroup and the default hostname.
    pub id: String,
    /// Root filesystem directory (absolute, or relative to the bundle).
    pub rootfs: PathBuf,
    /// The command and its arguments; must not be empty.
    pub args: Vec<String>,
    /// `KEY=value` entries; a default `PATH` is added when none is given.
    pub env: Vec<String>,
    /// Working directory inside the container; empty means `/`.
    pub cwd: PathBuf,
    /// User id inside the container.
    pub uid: u32,
    /// Group id inside the container.
    pub gid: u32,
    /// Supplementary groups inside the container.
    pub additional_gids: Vec<u32>,
    /// Hostname; `None` means the first 12 characters of the id.
    pub hostname: Option<String>,
    /// Allocate a terminal for the process.
    pub terminal: bool,
    /// Mount the root filesystem read-only.
    pub readonly_rootfs: bool,
    /// OCI annotations.
    pub annotations: BTreeMap<String, String>,
    /// Extra or overriding resource limits.
    pub rlimits: Vec<Rlimit>,
    /// Extra mounts, after the default ones.
    pub mounts: Vec<ExtraMount>,
    /// The cgroup manager (decides the `cgroupsPath` form).
    pub cgroup_manager: CgroupManager,
    /// Cgroup parent: a path for cgroupfs (default `/oxpod`), a slice for
    /// systemd (default `machine.slice`, `user.slice` when rootless).
    pub cgroup_parent: Option<String>,
    /// Generate the rootless variant: a user namespace mapping the
    /// caller's uid and gid to root, bind-mounted /sys, no device cgroup.
    pub rootless: bool,
    /// cgroup limits.
    pub limits: Limits,
    /// Capabilities added to podman's default set (`ALL`, names with or
    /// without `CAP_`, any case).
    pub cap_add: Vec<String>,
    /// Capabilities dropped from it (`ALL` first drops every one).
    pub cap_drop: Vec<String>,
    /// `no_new_privileges` for the process.
    pub no_new_privileges: bool,
    /// An init (catatonit) to run as pid 1 before the command: its host
    /// path, bound read-only at `/run/podman-init` (podman's place).
    pub init: Option<PathBuf>,
    /// Namespaced sysctls (`--sysctl`).
    pub sysctls: BTreeMap<String, String>,
    /// The process's `oom_score_adj` (-1000 to 1000).
    pub oom_score_adj: Option<i32>,
    /// The size of `/dev/shm` in bytes (default 64 MiB, podman's).
    pub shm_size: Option<u64>,
    /// `--privileged`: every capability the caller holds, the host's
    /// devices, no masked or read-only paths, `/sys` writable.
    pub privileged: bool,
    /// The seccomp profile (containers/common's format) to translate;
    /// `None` runs unconfined.
    pub seccomp_profile: Option<PathBuf>,
    /// Paths masked besides podman's (`--security-opt mask=`).
    pub mask: Vec<String>,
    /// Default masked or read-only paths left open (`--security-opt
    /// unmask=`; `ALL` for every one).
    pub unmask: Vec<String>,
    /// Host devices given to the container (`--device`).
    pub devices: Vec<DeviceRequest>,
    /// Namespaces shared with the host instead of made (`pid`, `ipc`, `uts`).
    pub host_namespaces: Vec<String>,
    /// A cgroup namespace of its own (`--cgroupns private`).
    pub cgroupns: bool,
    /// The network namespace: the host's, a new empty one, or one to join.
    pub network: NetNamespace,
    /// OCI hooks (`hooks_dir`), by stage.
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

/// A host device asked for with `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The device on the host.
    pub host: PathBuf,
    /// Where it appears in the container.
    pub container: PathBuf,
    /// `r`, `w`, `m` in any combination.
    pub access: String,
}

/// A device node's kind, numbers, mode and owner, from the host.
fn host_device(path: &std::path::Path) -> Result<(LinuxDeviceType, i64, i64, u32, u32, u32)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).map_err(|e| Error::InvalidSpec {
        message: format!("device {}: {e}", path.display()),
    })?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(Error::InvalidSpec {
            message: format!("{} is not a device node", path.display()),
        });
    };
    let rdev = meta.rdev();
    Ok((
        kind,
        i64::from(nix::sys::stat::major(rdev) as u32),
        i64::from(nix::sys::stat::minor(rdev) as u32),
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid(),
    ))
}

/// The host's device nodes under `/dev` that `--privileged` gives (podman's
/// walk: not the terminals, the console or what the container mounts
/// itself).
fn privileged_devices() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let rel = path
                .strip_prefix("/dev")
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if ft.is_dir() {
                if !matches!(rel.as_str(), "pts" | "shm" | "mqueue" | "fd" | "hugepages") {
                    stack.push(path);
                }
                continue;
            }
            use std::os::unix::fs::FileTypeExt;
            if !(ft.is_char_device() || ft.is_block_device()) {
                continue;
            }
            if rel == "console" || rel == "ptmx" || (rel.starts_with("tty") && rel != "tty") {
                continue;
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Where `--init`'s binary appears in the container (podman's path).
pub const INIT_PATH: &str = "/run/podman-init";

/// Sysctls a container may set: those of the IPC namespace, and `net.*`
/// only with a network namespace of its own (podman's rule).
pub fn check_sysctl(key: &str, own_network: bool) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        return Ok(());
    }
    let message = if key.starts_with("net.") && !own_network {
        format!(
            "sysctl {key:?} is not allowed in the host's network namespace: give the container its own (--network bridge or none)"
        )
    } else if key.starts_with("net.") {
        return Ok(());
    } else {
        format!(
            "sysctl {key:?} is not namespaced: only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.* can be set for a container"
        )
    };
    Err(Error::InvalidSpec { message })
}

/// cgroup limits (`--memory`, `--cpus`, ...); unset fields are not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory plus swap in bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// Relative CPU weight.
    pub cpu_shares: Option<u64>,
    /// CPU time per period, in microseconds.
    pub cpu_quota: Option<i64>,
    /// The CPU period, in microseconds.
    pub cpu_period: Option<u64>,
    /// CPUs allowed (`0-2,4`).
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    pub cpuset_mems: String,
    /// Most processes (-1 or 0: unlimited).
    pub pids_limit: Option<i64>,
    /// Relative block I/O weight (10 to 1000).
    pub blkio_weight: Option<u16>,
    /// The OOM killer spares the container.
    pub oom_kill_disable: bool,
}

impl Limits {
    /// Whether any limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// Every capability the caller holds in its bounding set (`CapBnd` of
/// `/proc/self/status`), for `--cap-add ALL`: a container never gets more
/// than oxpod has, and runc refuses to raise what the caller lacks.
fn all_capabilities() -> HashSet<Capability> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    ALL_CAPABILITY_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| *bit < 64 && bounding & (1u64 << bit) != 0)
        .filter_map(|(_, n)| parse_capability(n).ok())
        .collect()
}

/// Every capability name, by number (capability.h order).
pub const ALL_CAPABILITY_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability name as podman takes it: `net_admin`, `NET_ADMIN` or
/// `CAP_NET_ADMIN`.
pub fn canonical_capability(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPABILITY_NAMES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::InvalidSpec {
            message: format!("unknown capability {name:?}"),
        })
    }
}

/// podman's default set, with `cap_drop` and `cap_add` applied (`ALL`
/// in either first, as podman orders them).
fn capability_set(spec: &ContainerSpec) -> Result<HashSet<Capability>> {
    let is_all = |v: &[String]| v.iter().any(|c| c.eq_ignore_ascii_case("all"));
    let mut caps: HashSet<Capability> = if is_all(&spec.cap_drop) {
        HashSet::new()
    } else if spec.privileged {
        all_capabilities()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| parse_capability(c))
            .collect::<Result<_>>()?
    };
    for c in spec
        .cap_drop
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case("all"))
    {
        caps.remove(&parse_capability(&canonical_capability(c)?)?);
    }
    if is_all(&spec.cap_add) {
        caps.extend(all_capabilities());
    }
    for c in spec
        .cap_add
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case("all"))
    {
        caps.insert(parse_capability(&canonical_capability(c)?)?);
    }
    Ok(caps)
}

/// The caller's hard limits that cap `RLIMIT_NOFILE` and `RLIMIT_NPROC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostLimits {
    pub nofile_hard: u64,
    pub nproc_hard: u64,
    pub uid: u32,
    pub gid: u32,
}

impl HostLimits {
    fn current() -> Self {
        use nix::sys::resource::{Resource, getrlimit};
        let hard = |r: Resource, default: u64| match getrlimit(r) {
            Ok((_, hard)) => hard,
            Err(e) => {
                tracing::warn!("cannot read rlimit {r:?}: {e}; using {default}");
                default
            }
        };
        HostLimits {
            nofile_hard: hard(Resource::RLIMIT_NOFILE, DEFAULT_NOFILE),
            nproc_hard: hard(Resource::RLIMIT_NPROC, DEFAULT_NPROC),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }
}

/// Builds the OCI runtime spec for `spec`: the usual mounts, pid / mount /
/// ipc / uts namespaces (host network), podman's capabilities, masked and
/// read-only paths, rlimits capped at the caller's hard limits, and a
/// cgroups path for the chosen manager.
pub fn generate_spec(spec: &ContainerSpec) -> Result<Spec> {
    generate_spec_with(spec, &HostLimits::current())
}

pub(crate) fn generate_spec_with(spec: &ContainerSpec, host: &HostLimits) -> Result<Spec> {
    validate(spec)?;

    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    if spec.terminal && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_owned());
    }
    if !env.iter().any(|e| e.starts_with("container=")) {
        env.push("container=oxpod".to_owned());
    }

    let caps = capability_set(spec)?;
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .build()?;
    // The builder starts from oci-spec's defaults, which grant ambient
    // capabilities; podman grants none.
    capabilities.set_ambient(None);

    let mut user = UserBuilder::default().uid(spec.uid).gid(spec.gid);
    if !spec.additional_gids.is_empty() {
        user = user.additional_gids(spec.additional_gids.clone());
    }

    let cwd = if spec.cwd.as_os_str().is_empty() {
        PathBuf::from("/")
    } else {
        spec.cwd.clone()
    };

    let args = match &spec.init {
        Some(_) => [INIT_PATH.to_owned(), "--".to_owned()]
            .into_iter()
            .chain(spec.args.iter().cloned())
            .collect(),
        None => spec.args.clone(),
    };
    let mut process = ProcessBuilder::default()
        .terminal(spec.terminal)
        .user(user.build()?)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capabilities)
        .rlimits(rlimits(spec, host)?)
        .no_new_privileges(spec.no_new_privileges);
    if let Some(adj) = spec.oom_score_adj {
        process = process.oom_score_adj(adj);
    }
    let process = process.build()?;

    let root = RootBuilder::default()
        .path(spec.rootfs.clone())
        .readonly(spec.readonly_rootfs)
        .build()?;

    let mut mounts = default_mounts(spec.rootless, spec.shm_size, spec.privileged)?;
    if let Some(init) = &spec.init {
        mounts.push(mount(
            INIT_PATH,
            "bind",
            &init.display().to_string(),
            &["bind", "rprivate", "ro"],
        )?);
    }
    for m in &spec.mounts {
        mounts.push(extra_mount(m)?);
    }

    let mut namespaces = Vec::new();
    for (typ, name) in [
        (LinuxNamespaceType::Pid, "pid"),
        (LinuxNamespaceType::Ipc, "ipc"),
        (LinuxNamespaceType::Uts, "uts"),
        (LinuxNamespaceType::Mount, "mnt"),
    ] {
        if spec.host_namespaces.iter().any(|n| n == name) {
            continue;
        }
        namespaces.push(LinuxNamespaceBuilder::default().typ(typ).build()?);
    }
    match &spec.network {
        NetNamespace::Host => {}
        NetNamespace::New => {
            namespaces.push(
                LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Network)
                    .build()?,
            );
        }
        NetNamespace::Join(path) => {
            namespaces.push(
                LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Network)
                    .path(path.clone())
                    .build()?,
            );
        }
    }
    if spec.cgroupns {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Cgroup)
                .build()?,
        );
    }

    // podman's masked and read-only paths, less what is unmasked, plus
    // what is masked; none at all when privileged.
    let unmask_all = spec.privileged || spec.unmask.iter().any(|u| u == "ALL");
    let kept = |list: &[&str]| -> Vec<String> {
        list.iter()
            .filter(|p| !unmask_all && !spec.unmask.iter().any(|u| u == *p))
            .map(|p| (*p).to_owned())
            .collect()
    };
    let mut masked = kept(MASKED_PATHS);
    masked.extend(spec.mask.iter().cloned());
    let mut linux = LinuxBuilder::default()
        .masked_paths(masked)
        .readonly_paths(kept(READONLY_PATHS));
    let device_paths: Vec<DeviceRequest> = if spec.privileged {
        privileged_devices()
            .into_iter()
            .map(|p| DeviceRequest {
                container: p.clone(),
                host: p,
                access: "rwm".to_owned(),
            })
            .collect()
    } else {
        spec.devices.clone()
    };
    let mut devices = Vec::new();
    let mut device_rules = Vec::new();
    for d in &device_paths {
        let (typ, major, minor, mode, uid, gid) = host_device(&d.host)?;
        devices.push(
            oci_spec::runtime::LinuxDeviceBuilder::default()
                .path(d.container.clone())
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(mode)
                .uid(uid)
                .gid(gid)
                .build()?,
        );
        device_rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .major(major)
                .minor(minor)
                .access(d.access.clone())
                .build()?,
        );
    }
    if !devices.is_empty() {
        linux = linux.devices(devices);
    }
    if let Some(profile) = &spec.seccomp_profile {
        let caps = capability_set(spec)?;
        linux = linux.seccomp(crate::seccomp::load_profile(
            profile,
            &caps,
            &crate::seccomp::SeccompHost::current(),
        )?);
    }

    if spec.rootless {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()?,
        );
        linux = linux
            .uid_mappings(vec![
                LinuxIdMappingBuilder::default()
                    .container_id(0u32)
                    .host_id(host.uid)
                    .size(1u32)
                    .build()?,
            ])
            .gid_mappings(vec![
                LinuxIdMappingBuilder::default()
                    .container_id(0u32)
                    .host_id(host.gid)
                    .size(1u32)
                    .build()?,
            ]);
    } else {
        let mut rules = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(spec.privileged)
                .access("rwm")
                .build()?,
        ];
        rules.extend(device_rules);
        let mut resources = limit_resources(&spec.limits)?;
        resources.set_devices(Some(rules));
        linux = linux.resources(resources);
    }
    if let Some(path) = cgroups_path(spec) {
        linux = linux.cgroups_path(PathBuf::from(path));
    }
    if !spec.sysctls.is_empty() {
        linux = linux.sysctl(
            spec.sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        );
    }
    let mut linux = linux.namespaces(namespaces).build()?;
    if spec.rootless {
        // No device cgroup: an unprivileged user cannot set one up.
        linux.set_resources(None);
    }

    let hostname = match &spec.hostname {
        Some(h) => h.clone(),
        // In the host's UTS namespace the runtime may set none.
        None if spec.host_namespaces.iter().any(|n| n == "uts") => String::new(),
        None => spec.id.chars().take(12).collect(),
    };
    let no_hostname = hostname.is_empty();
    let annotations: HashMap<String, String> = spec
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut builder = SpecBuilder::default()
        .version("1.0.2-dev")
        .root(root)
        .process(process)
        .mounts(mounts)
        .linux(linux);
    if let Some(hooks) = &spec.hooks {
        builder = builder.hooks(hooks.clone());
    }
    if !hostname.is_empty() {
        builder = builder.hostname(hostname);
    }
    let mut out = builder.build()?;
    if no_hostname {
        // oci-spec's default names one (`youki`); the host's UTS namespace
        // must get none.
        out.set_hostname(None);
    }
    out.set_annotations((!annotations.is_empty()).then_some(annotations));
    Ok(out)
}

/// The cgroup limits of `l` as the spec's `linux.resources` (no device
/// rules): what a spec starts from and what `runc update` is given.
pub fn limit_resources(l: &Limits) -> Result<oci_spec::runtime::LinuxResources> {
    let mut resources = LinuxResourcesBuilder::default();
    if l.memory.is_some()
        || l.memory_reservation.is_some()
        || l.memory_swap.is_some()
        || l.oom_kill_disable
    {
        let mut m = oci_spec::runtime::LinuxMemoryBuilder::default();
        if l.oom_kill_disable {
            m = m.disable_oom_killer(true);
        }
        if let Some(v) = l.memory {
            m = m.limit(v);
        }
        if let Some(v) = l.memory_reservation {
            m = m.reservation(v);
        }
        if let Some(v) = l.memory_swap {
            m = m.swap(v);
        }
        resources = resources.memory(m.build()?);
    }
    if l.cpu_shares.is_some()
        || l.cpu_quota.is_some()
        || l.cpu_period.is_some()
        || !l.cpuset_cpus.is_empty()
        || !l.cpuset_mems.is_empty()
    {
        let mut c = oci_spec::runtime::LinuxCpuBuilder::default();
        if let Some(v) = l.cpu_shares {
            c = c.shares(v);
        }
        if let Some(v) = l.cpu_quota {
            c = c.quota(v);
        }
        if let Some(v) = l.cpu_period {
            c = c.period(v);
        }
        if !l.cpuset_cpus.is_empty() {
            c = c.cpus(l.cpuset_cpus.clone());
        }
        if !l.cpuset_mems.is_empty() {
            c = c.mems(l.cpuset_mems.clone());
        }
        resources = resources.cpu(c.build()?);
    }
    if let Some(w) = l.blkio_weight {
        resources = resources.block_io(
            oci_spec::runtime::LinuxBlockIoBuilder::default()
                .weight(w)
                .build()?,
        );
    }
    if let Some(v) = l.pids_limit {
        resources = resources.pids(
            oci_spec::runtime::LinuxPidsBuilder::default()
                .limit(if v <= 0 { -1 } else { v })
                .build()?,
        );
    }
    Ok(resources.build()?)
}

/// The `cgroupsPath` for `spec`, or `None` where the runtime should not be
/// given one (rootless with cgroupfs: an unprivileged user cannot create
/// cgroups there).
pub fn cgroups_path(spec: &ContainerSpec) -> Option<String> {
    match spec.cgroup_manager {
        CgroupManager::Cgroupfs => {
            if spec.rootless {
                return None;
            }
            let parent = spec.cgroup_parent.as_deref().unwrap_or("/oxpod");
            let parent = parent.trim_end_matches('/');
            let parent = if parent.starts_with('/') {
                parent.to_owned()
            } else {
                format!("/{parent}")
            };
            Some(format!("{parent}/{}", spec.id))
        }
        CgroupManager::Systemd => {
            let default_slice = if spec.rootless {
                "user.slice"
            } else {
                "machine.slice"
            };
            let slice = spec.cgroup_parent.as_deref().unwrap_or(default_slice);
            Some(format!("{slice}:oxpod:{}", spec.id))
        }
    }
}

fn validate(spec: &ContainerSpec) -> Result<()> {
    let bad = |message: String| Err(Error::InvalidSpec { message });
    if spec.args.is_empty() {
        return bad("args: no command given".to_owned());
    }
    // podman lets runc fail on `run IMAGE ""`: an empty name is a command
    // that does not exist (exit code 127), not a bad spec.
    if spec.args[0].is_empty() {
        return Err(Error::CommandNotFound {
            command: String::new(),
            message: "exec: \"\": executable file not found in $PATH".to_owned(),
        });
    }
    if spec.rootfs.as_os_str().is_empty() {
        return bad("rootfs: no root filesystem given".to_owned());
    }
    if spec.id.is_empty() {
        return bad("id: the container id is empty".to_owned());
    }
    if spec.id.contains('/') || spec.id.contains(':') {
        return bad(format!("id: {:?} must not contain '/' or ':'", spec.id));
    }
    if let Some(e) = spec
        .env
        .iter()
        .find(|e| !e.contains('=') || e.starts_with('='))
    {
        return bad(format!("env: {e:?} is not KEY=value"));
    }
    if !spec.cwd.as_os_str().is_empty() && !spec.cwd.is_absolute() {
        return bad(format!("cwd: {} is not absolute", spec.cwd.display()));
    }
    if let Some(k) = spec.annotations.keys().find(|k| k.is_empty()) {
        return bad(format!(
            "annotations: empty key (value {:?})",
            spec.annotations[k]
        ));
    }
    if spec
        .oom_score_adj
        .is_some_and(|a| !(-1000..=1000).contains(&a))
    {
        return bad("oom_score_adj must be between -1000 and 1000".to_owned());
    }
    if let Some(init) = &spec.init
        && !init.is_absolute()
    {
        return bad(format!("init {} is not an absolute path", init.display()));
    }
    if spec.rootless && !spec.limits.is_empty() {
        return bad(
            "resource limits need root here (a rootless container has no cgroup of its own to limit)"
                .to_owned(),
        );
    }
    for c in spec.cap_add.iter().chain(&spec.cap_drop) {
        if !c.eq_ignore_ascii_case("all") {
            canonical_capability(c)?;
        }
    }
    for m in &spec.mounts {
        if !m.destination.is_absolute() {
            return bad(format!(
                "mounts: destination {} is not absolute",
                m.destination.display()
            ));
        }
    }
    Ok(())
}

fn parse_capability(name: &str) -> Result<Capability> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|e| {
        Error::InvalidSpec {
            message: format!("capability {name:?}: {e}"),
        }
    })
}

/// Parses an rlimit name: `nofile`, `RLIMIT_NOFILE`, `Nofile`, ...
pub fn parse_rlimit_kind(name: &str) -> Result<PosixRlimitType> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("RLIMIT_") {
        upper
    } else {
        format!("RLIMIT_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full)).map_err(|_| Error::InvalidSpec {
        message: format!(
            "rlimits: unknown limit {name:?}; use a name such as nofile, nproc, core, memlock"
        ),
    })
}

fn rlimits(spec: &ContainerSpec, host: &HostLimits) -> Result<Vec<PosixRlimit>> {
    let mut wanted: Vec<(PosixRlimitType, u64, u64, bool)> = vec![
        (
            PosixRlimitType::RlimitNofile,
            DEFAULT_NOFILE,
            DEFAULT_NOFILE,
            false,
        ),
        (
            PosixRlimitType::RlimitNproc,
            DEFAULT_NPROC,
            DEFAULT_NPROC,
            false,
        ),
    ];
    for r in &spec.rlimits {
        let typ = parse_rlimit_kind(&r.kind)?;
        if r.soft > r.hard {
            return Err(Error::InvalidSpec {
                message: format!(
                    "rlimits: {}: soft limit {} is above hard limit {}",
                    r.kind, r.soft, r.hard
                ),
            });
        }
        wanted.retain(|w| w.0 != typ);
        wanted.push((typ, r.soft, r.hard, true));
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (typ, mut soft, mut hard, explicit) in wanted {
        let cap = match typ {
            PosixRlimitType::RlimitNofile => Some(host.nofile_hard),
            PosixRlimitType::RlimitNproc => Some(host.nproc_hard),
            _ => None,
        };
        if let Some(cap) = cap
            && hard > cap
        {
            if explicit {
                tracing::warn!(
                    "rlimit {typ:?} hard limit {hard} is above the caller's hard limit {cap}; lowering it to {cap}"
                );
            }
            hard = cap;
            soft = soft.min(cap);
        }
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()?,
        );
    }
    Ok(out)
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .build()?)
}

fn default_mounts(rootless: bool, shm_size: Option<u64>, privileged: bool) -> Result<Vec<Mount>> {
    // `/sys` and the cgroup tree writable only for a privileged container.
    let sys_ro: &[&str] = if privileged { &[] } else { &["ro"] };
    let shm = format!("size={}k", shm_size.map_or(65536, |b| b.div_ceil(1024)));
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
    ];
    // The tty group (gid 5) exists only outside a user namespace.
    let mut pts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !rootless {
        pts.push("gid=5");
    }
    m.push(mount("/dev/pts", "devpts", "devpts", &pts)?);
    m.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", &shm],
    )?);
    if rootless {
        m.push(mount(
            "/dev/mqueue",
            "bind",
            "/dev/mqueue",
            &["rbind", "nosuid", "noexec", "nodev"],
        )?);
        m.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )?);
    } else {
        m.push(mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?);
        let sys: Vec<&str> = ["nosuid", "noexec", "nodev"]
            .into_iter()
            .chain(sys_ro.iter().copied())
            .collect();
        m.push(mount("/sys", "sysfs", "sysfs", &sys)?);
        let cgroup: Vec<&str> = ["rprivate", "nosuid", "noexec", "nodev", "relatime"]
            .into_iter()
            .chain(sys_ro.iter().copied())
            .collect();
        m.push(mount("/sys/fs/cgroup", "cgroup", "cgroup", &cgroup)?);
    }
    Ok(m)
}

fn extra_mount(m: &ExtraMount) -> Result<Mount> {
    let kind = if m.kind.is_empty() { "bind" } else { &m.kind };
    let mut options = m.options.clone();
    if kind == "bind" && !options.iter().any(|o| o == "bind" || o == "rbind") {
        options.insert(0, "rbind".to_owned());
    }
    Ok(MountBuilder::default()
        .destination(m.destination.clone())
        .typ(kind)
        .source(m.source.clone())
        .options(options)
        .build()?)
}

/// Writes `spec` as `<dir>/config.json` (creating `dir`), atomically: a
/// temporary file renamed into place. Returns the path written.
pub fn write_bundle(dir: &Path, spec: &Spec) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    // config.json holds the container's environment (`-e` secrets): the
    // directory is 0700 and the file 0600, also when the directory existed.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("creating bundle directory", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("setting the mode of", dir, e))?;
    let path = dir.join(crate::BUNDLE_CONFIG);
    let tmp = dir.join(".config.json.tmp");
    let json = serde_json::to_vec_pretty(spec).map_err(|e| Error::Parse {
        what: "OCI spec".to_owned(),
        message: e.to_string(),
        text: String::new(),
    })?;
    let _ = fs::remove_file(&tmp);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&json))
        .map_err(|e| Error::io("writing", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io("renaming into place", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostLimits {
        HostLimits {
            nofile_hard: 20_000,
            nproc_hard: 96_364,
            uid: 1000,
            gid: 1001,
        }
    }

    fn base() -> ContainerSpec {
        ContainerSpec {
            id: "0123456789abcdef".into(),
            rootfs: "/tmp/rootfs".into(),
            args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
            ..Default::default()
        }
    }

    fn json(spec: &ContainerSpec) -> serde_json::Value {
        let s = generate_spec_with(spec, &host()).unwrap_or_else(|e| panic!("{e}"));
        serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rootful_shape() {
        let v = json(&base());
        if std::env::var("OXPOD_PRINT_SPEC").is_ok() {
            let mut r = base();
            r.rootless = true;
            eprintln!("{:#}\n{:#}", v, json(&r));
        }
        assert_eq!(v["root"]["path"], "/tmp/rootfs");
        assert_eq!(v["hostname"], "0123456789ab");
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["args"][0], "/bin/sh");
        let env: Vec<&str> = v["process"]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .collect();
        assert!(env.contains(&DEFAULT_PATH), "{env:?}");
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["destination"].as_str())
            .collect();
        for d in [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys",
        ] {
            assert!(dests.contains(&d), "missing {d} in {dests:?}");
        }
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["type"].as_str())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount"]);
        assert_eq!(v["linux"]["cgroupsPath"], "/oxpod/0123456789abcdef");
        assert!(v["linux"]["uidMappings"].is_null());
        assert_eq!(v["linux"]["resources"]["devices"][0]["allow"], false);
        let mut caps: Vec<&str> = v["process"]["capabilities"]["bounding"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        caps.sort_unstable();
        assert_eq!(caps, DEFAULT_CAPABILITIES);
        assert!(v["process"]["capabilities"]["ambient"].is_null());
        assert_eq!(
            v["process"]["capabilities"]["inheritable"],
            serde_json::json!([])
        );
        assert!(v["annotations"].is_null());
        assert_eq!(
            v["linux"]["maskedPaths"].as_array().map(Vec::len),
            Some(MASKED_PATHS.len())
        );
        assert!(
            v["linux"]["readonlyPaths"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p == "/proc/sys")
        );
    }

    #[test]
    fn rlimits_capped_at_host_hard_limits() {
        let v = json(&base());
        let rl = v["process"]["rlimits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let nofile = rl.iter().find(|r| r["type"] == "RLIMIT_NOFILE");
        let nproc = rl.iter().find(|r| r["type"] == "RLIMIT_NPROC");
        assert_eq!(nofile.map(|r| r["hard"].clone()), Some(20_000.into()));
        assert_eq!(nofile.map(|r| r["soft"].clone()), Some(20_000.into()));
        assert_eq!(nproc.map(|r| r["hard"].clone()), Some(96_364.into()));

        let mut s = base();
        s.rlimits = vec![
            Rlimit {
                kind: "nofile".into(),
                soft: 100,
                hard: 200,
            },
            Rlimit {
                kind: "RLIMIT_CORE".into(),
                soft: 0,
                hard: 0,
            },
        ];
        let v = json(&s);
        let rl = v["process"]["rlimits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let nofile: Vec<_> = rl.iter().filter(|r| r["type"] == "RLIMIT_NOFILE").collect();
        assert_eq!(nofile.len(), 1);
        assert_eq!(nofile[0]["hard"], 200);
        assert!(rl.iter().any(|r| r["type"] == "RLIMIT_CORE"));

        s.rlimits = vec![Rlimit {
            kind: "bogus".into(),
            soft: 1,
            hard: 1,
        }];
        assert!(matches!(
            generate_spec_with(&s, &host()),
            Err(Error::InvalidSpec { .. })
        ));
    }

    #[test]
    fn rootless_shape() {
        let mut s = base();
        s.rootless = true;
        let v = json(&s);
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(v["linux"]["uidMappings"][0]["containerID"], 0);
        assert_eq!(v["linux"]["uidMappings"][0]["size"], 1);
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], 1001);
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["type"].as_str())
            .collect();
        assert!(ns.contains(&"user"));
        assert!(!ns.contains(&"network"));
        assert!(v["linux"]["cgroupsPath"].is_null());
        assert!(v["linux"]["resources"].is_null());
        let sys = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["destination"] == "/sys")
            .cloned()
            .unwrap_or_default();
        assert_eq!(sys["type"], "bind");
        let pts = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["destination"] == "/dev/pts")
            .cloned()
            .unwrap_or_default();
        assert!(
            !pts["options"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o == "gid=5")
        );
    }

    #[test]
    fn cgroups_paths() {
        let mut s = base();
        s.cgroup_parent = Some("custom/".into());
        assert_eq!(
            cgroups_path(&s).as_deref(),
            Some("/custom/0123456789abcdef")
        );
        s.cgroup_manager = CgroupManager::Systemd;
        s.cgroup_parent = None;
        assert_eq!(
            cgroups_path(&s).as_deref(),
            Some("machine.slice:oxpod:0123456789abcdef")
        );
        s.rootless = true;
        assert_eq!(
            cgroups_path(&s).as_deref(),
            Some("user.slice:oxpod:0123456789abcdef")
        );
        assert_eq!(
            "systemd".parse::<CgroupManager>().ok(),
            Some(CgroupManager::Systemd)
        );
        assert!("bogus".parse::<CgroupManager>().is_err());
    }

    #[test]
    fn options_carried_through() {
        let mut s = base();
        s.hostname = Some("box".into());
        s.terminal = true;
        s.readonly_rootfs = true;
        s.uid = 5;
        s.gid = 6;
        s.cwd = "/tmp".into();
        s.env = vec!["PATH=/bin".into(), "A=b".into()];
        s.annotations.insert("io.oxpod.x".into(), "y".into());
        s.mounts.push(ExtraMount {
            destination: "/data".into(),
            source: "/srv/data".into(),
            ..Default::default()
        });
        let v = json(&s);
        assert_eq!(v["hostname"], "box");
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["process"]["user"]["uid"], 5);
        assert_eq!(v["process"]["user"]["gid"], 6);
        assert_eq!(v["process"]["cwd"], "/tmp");
        assert_eq!(v["process"]["env"][0], "PATH=/bin");
        assert!(
            v["process"]["env"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e == "TERM=xterm")
        );
        assert_eq!(v["annotations"]["io.oxpod.x"], "y");
        let data = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["destination"] == "/data")
            .cloned()
            .unwrap_or_default();
        assert_eq!(data["type"], "bind");
        assert_eq!(data["options"][0], "rbind");
    }

    #[test]
    fn invalid_specs_rejected() {
        type Mutation = Box<dyn Fn(&mut ContainerSpec)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|s| s.args.clear()),
            Box::new(|s| s.rootfs = PathBuf::new()),
            Box::new(|s| s.id.clear()),
            Box::new(|s| s.id = "a/b".into()),
            Box::new(|s| s.env = vec!["NOEQUALS".into()]),
            Box::new(|s| s.cwd = "relative".into()),
            Box::new(|s| {
                s.annotations.insert(String::new(), "v".into());
            }),
            Box::new(|s| {
                s.mounts.push(ExtraMount {
                    destination: "rel".into(),
                    ..Default::default()
                })
            }),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut s = base();
            f(&mut s);
            assert!(
                matches!(
                    generate_spec_with(&s, &host()),
                    Err(Error::InvalidSpec { .. })
                ),
                "case {i}"
            );
        }
    }

    #[test]
    fn write_bundle_roundtrip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = generate_spec_with(&base(), &host()).unwrap_or_else(|e| panic!("{e}"));
        let bundle = dir.path().join("b");
        let path = write_bundle(&bundle, &spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path, bundle.join("config.json"));
        let back = Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, spec);
    }

    #[test]
    fn bundles_are_private_even_in_an_open_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = generate_spec_with(&base(), &host()).unwrap_or_else(|e| panic!("{e}"));
        let bundle = dir.path().join("b");
        std::fs::create_dir(&bundle).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let path = write_bundle(&bundle, &spec).unwrap_or_else(|e| panic!("{e}"));
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(&bundle), Some(0o700));
        assert_eq!(mode(&path), Some(0o600));
    }
}
