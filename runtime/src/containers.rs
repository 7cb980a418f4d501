//! The containers service: create, resolve, inspect, list, remove. Running
//! them (start, stop, kill, wait, ...) is in `lifecycle.rs`, the same
//! service.
//!
//! Create is a ledger: claim a lock, write the bundle, add the record (the
//! commit point); a failure before the record releases the rest. Remove
//! notes the same resources, removes the record, then releases them.
//! Listing reads in one transaction and takes no lock; an exit that conmon
//! recorded is folded in (a stat, no process).

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use nix::sys::signal::Signal;
use oxpod_events::EventStatus;
use oxpod_locks::LockGuard;
use oxpod_ociruntime::{CgroupManager, ContainerSpec};
use oxpod_state::{Container, ContainerConfig, ContainerState, ContainerStatus};
use tracing::{debug, warn};

use crate::ledger::{Ledger, Step};
use crate::names::{new_id, random_name};
use crate::{ContainerRef, Error, PodRef, Result, Runtime, container_event};

/// `uid:gid` as numbers (resolved so at create); root otherwise.
pub(crate) fn numeric_user(user: &str) -> (u32, u32) {
    user.split_once(':')
        .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)))
        .unwrap_or((0, 0))
}

/// What an image's `Volumes` become in its containers (`--image-volume`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageVolumeMode {
    /// An anonymous volume each (podman's default, `bind` or `anonymous`).
    #[default]
    Anonymous,
    /// A tmpfs each.
    Tmpfs,
    /// Nothing: the image's directory as it is.
    Ignore,
}

impl std::str::FromStr for ImageVolumeMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bind" | "anonymous" => Ok(ImageVolumeMode::Anonymous),
            "tmpfs" => Ok(ImageVolumeMode::Tmpfs),
            "ignore" => Ok(ImageVolumeMode::Ignore),
            _ => Err(Error::InvalidArgument {
                what: format!("--image-volume {s:?}"),
                reason: "must be one of bind, tmpfs or ignore".to_owned(),
            }),
        }
    }
}

/// The image's `Volumes` as mounts, podman's way: an anonymous volume (or
/// a tmpfs) at each, `rprivate,rw,nodev,exec`, unless the container mounts
/// something there itself.
fn image_volume_mounts(
    volumes: Option<&std::collections::BTreeMap<String, serde_json::Value>>,
    mode: ImageVolumeMode,
    given: &[crate::MountRequest],
) -> Result<Vec<crate::MountRequest>> {
    let mut out = Vec::new();
    if mode == ImageVolumeMode::Ignore {
        return Ok(out);
    }
    for dest in volumes.into_iter().flat_map(|v| v.keys()) {
        let request = match mode {
            ImageVolumeMode::Tmpfs => {
                crate::parse_tmpfs(&format!("{dest}:rprivate,rw,nodev,exec"))?
            }
            _ => crate::parse_volume(dest)?,
        };
        let request = match request {
            crate::MountRequest::Volume {
                name, destination, ..
            } => crate::MountRequest::Volume {
                name,
                destination,
                options: ["rprivate", "rw", "nodev", "exec", "rbind"]
                    .map(str::to_owned)
                    .to_vec(),
            },
            other => other,
        };
        let taken = given
            .iter()
            .chain(&out)
            .any(|m| m.destination() == request.destination());
        if !taken {
            out.push(request);
        }
    }
    Ok(out)
}

/// What a new container is made of.
#[derive(Debug, Clone, Default)]
pub struct NewContainer {
    /// Its name; `None` generates an `adjective_surname` no other container
    /// or pod has.
    pub name: Option<String>,
    /// A pod to join.
    pub pod: Option<PodRef>,
    /// The root filesystem directory (`--rootfs`); unused with `image`.
    pub rootfs: PathBuf,
    /// The image to run, by name or id as the user typed it; its config
    /// gives the defaults (docker's rules) and its layers the root.
    pub image: Option<String>,
    /// Replaces the image's Entrypoint (and clears its Cmd).
    pub entrypoint: Option<Vec<String>>,
    /// The user (`uid[:gid]` or `name[:group]`); default the image's, or
    /// root.
    pub user: Option<String>,
    /// The command and its arguments (with an image: its Cmd's
    /// replacement).
    pub command: Vec<String>,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Working directory inside the container (default `/`).
    pub working_dir: Option<String>,
    /// Hostname (default: the short id).
    pub hostname: Option<String>,
    /// Remove the container once it has exited (`run --rm`).
    pub auto_remove: bool,
    /// Signal `stop` sends first (default SIGTERM).
    pub stop_signal: Option<u32>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    pub stop_timeout: Option<u32>,
    /// A terminal (`-t`).
    pub terminal: bool,
    /// Its stdin kept open for attaching (`-i`).
    pub interactive: bool,
    /// Bind mounts and tmpfs (`-v`, `--mount`, `--tmpfs`), as parsed by
    /// [`crate::parse_volume`], [`crate::parse_mount`], [`crate::parse_tmpfs`].
    pub mounts: Vec<crate::MountRequest>,
    /// What the image's `Volumes` become (`--image-volume`).
    pub image_volume: ImageVolumeMode,
    /// The root mounted read-only (`--read-only`).
    pub read_only: bool,
    /// With `read_only`: no tmpfs on /tmp, /var/tmp and /run
    /// (`--read-only-tmpfs=false`).
    pub no_read_only_tmpfs: bool,
    /// `/etc/hosts` entries (`--add-host HOST:IP`).
    pub add_hosts: Vec<String>,
    /// `/etc/resolv.conf` name servers (`--dns`).
    pub dns_servers: Vec<String>,
    /// `/etc/resolv.conf` search domains (`--dns-search`; `.` for none).
    pub dns_search: Vec<String>,
    /// `/etc/resolv.conf` options (`--dns-option`).
    pub dns_options: Vec<String>,
    /// cgroup limits (sizes and CPUs parsed with [`crate::parse_size`],
    /// [`crate::parse_cpus`]).
    pub resources: oxpod_state::Resources,
    /// Capabilities added (`ALL`, names with or without `CAP_`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped (`ALL` drops every default one first).
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `--init`: the configured `init_path` (catatonit) runs as pid 1.
    pub init: bool,
    /// `--sysctl KEY=VALUE` (namespaced ones only).
    pub sysctls: BTreeMap<String, String>,
    /// `--oom-score-adj` (-1000 to 1000).
    pub oom_score_adj: Option<i32>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt seccomp=`: `unconfined` or a profile file; `None`
    /// is the configured `seccomp_profile` (unconfined when privileged).
    pub seccomp: Option<String>,
    /// `--security-opt mask=` paths.
    pub mask: Vec<String>,
    /// `--security-opt unmask=` paths (`ALL` for every default one).
    pub unmask: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]`.
    pub devices: Vec<String>,
    /// `--pid`, `--ipc`, `--uts`: `host` or `private` (the default) each.
    pub pid: Option<String>,
    /// See `pid`.
    pub ipc: Option<String>,
    /// See `pid`.
    pub uts: Option<String>,
    /// `--cgroupns host|private` (host is the default on cgroup v1).
    pub cgroupns: Option<String>,
    /// `--group-add` (group names or numbers).
    pub group_add: Vec<String>,
    /// `--restart` (see [`crate::parse_restart`]).
    pub restart: Option<String>,
    /// `--cgroup-parent`: a cgroupfs path, or a systemd slice.
    pub cgroup_parent: String,
    /// The health check (`--health-cmd` parsed by [`crate::parse_health_cmd`]).
    pub healthcheck: Option<oxpod_state::HealthConfig>,
    /// `--userns`: only the host's user namespace (the default for root)
    /// for now.
    pub userns: Option<String>,
    /// `--network`, `--network-alias`, `--ip`, `--mac-address`, `-p`.
    pub network: crate::NetworkRequest,
    /// The pod's infra container (made by `pod create`).
    pub infra: bool,
}

fn is_access(p: &str) -> bool {
    !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// The host path, container path and permissions of a `--device` value
/// (`HOST`, `HOST:PERMISSIONS`, `HOST:CONTAINER`, `HOST:CONTAINER:PERMISSIONS`).
pub fn device_parts(spec: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [h] => Some((h, h, "rwm")),
        [h, a] if is_access(a) => Some((h, h, a)),
        [h, c] => Some((h, c, "rwm")),
        [h, c, a] => Some((h, c, a)),
        _ => None,
    }
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` as the spec takes it: the host
/// path must be a device node; permissions are `r`, `w`, `m`.
pub(crate) fn parse_device(spec: &str) -> Result<oxpod_ociruntime::DeviceRequest> {
    let bad = |reason: String| Error::InvalidArgument {
        what: format!("--device {spec:?}"),
        reason,
    };
    let Some((host, container, access)) = device_parts(spec) else {
        return Err(bad("expected HOST[:CONTAINER][:PERMISSIONS]".to_owned()));
    };
    if !is_access(access) {
        return Err(bad(format!(
            "invalid permissions {access:?}: use r, w and m"
        )));
    }
    for p in [host, container] {
        if !p.starts_with('/') {
            return Err(bad(format!("{p:?} must be an absolute path")));
        }
    }
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(host).map_err(|e| bad(format!("{host}: {e}")))?;
    if !(meta.file_type().is_char_device() || meta.file_type().is_block_device()) {
        return Err(bad(format!("{host} is not a device node")));
    }
    Ok(oxpod_ociruntime::DeviceRequest {
        host: PathBuf::from(host),
        container: PathBuf::from(container),
        access: access.to_owned(),
    })
}

/// Where a container's generated `/etc/<name>` (`hosts`, `hostname`,
/// `resolv.conf`) is on the host: its bundle's, or for `hosts` of a pod
/// member the pod's shared one. `None` when a mount of its own covers it or
/// it never started.
pub fn etc_file_path(c: &oxpod_state::Container, name: &str) -> Option<PathBuf> {
    if crate::mounts::covered(&c.config.mounts, &format!("/etc/{name}")) {
        return None;
    }
    if name == "hosts"
        && let Some(pod) = &c.config.pod
    {
        // `<tmp>/containers/<id>` → `<tmp>/pods/<pod>/hosts` (Layout's).
        let tmp = c.state.run_dir.as_ref()?.parent()?.parent()?;
        return Some(tmp.join("pods").join(pod).join("hosts"));
    }
    Some(c.state.bundle_path.as_ref()?.join(name))
}

/// `--pid`/`--ipc`/`--uts`/`--cgroupns` modes oxpod has: `host`, `private`.
fn namespace_mode(flag: &str, mode: Option<&str>) -> Result<bool> {
    match mode {
        None | Some("" | "private") => Ok(false),
        Some("shareable") if flag == "--ipc" => Ok(false),
        Some("host") => Ok(true),
        Some(other) => Err(Error::InvalidArgument {
            what: format!("{flag} {other:?}"),
            reason: if other.starts_with("container:") || other.starts_with("ns:") {
                "joining another container's or a path's namespace is not supported yet: use host or private".to_owned()
            } else {
                "use host or private".to_owned()
            },
        }),
    }
}

/// A compiled `name=` filter; equal when the patterns are.
#[derive(Debug, Clone)]
pub struct NamePattern(regex::Regex);

impl NamePattern {
    /// Compiles a pattern; a bad one is [`Error::InvalidFilter`].
    pub fn new(pattern: &str) -> Result<Self> {
        regex::Regex::new(pattern)
            .map(NamePattern)
            .map_err(|e| Error::InvalidFilter {
                filter: format!("name={pattern}"),
                reason: e.to_string(),
            })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `name` matches (anywhere, unless the pattern anchors).
    pub fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

impl PartialEq for NamePattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for NamePattern {}

/// One condition of a container listing (`ps --filter key=value`, parsed
/// by the front end). As podman does, conditions of one key are ORed
/// (`status=exited` and `status=created`: either), those of different keys
/// ANDed; labels are the exception, ANDed among themselves too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerFilter {
    /// Id starts with this.
    Id(String),
    /// Name matches this regular expression (podman's: unanchored, so a
    /// plain word matches names containing it).
    Name(NamePattern),
    /// Has this label (`key`) or label value (`key=value`).
    Label(String, Option<String>),
    /// Has this status.
    Status(ContainerStatus),
    /// Is in this pod (name, id or id prefix).
    Pod(String),
    /// Exited with this code.
    Exited(i32),
    /// Created after this time (podman's `since=CONTAINER`, resolved by
    /// the caller to that container's creation time).
    CreatedAfter(Timestamp),
    /// Created before this time (`before=CONTAINER`).
    CreatedBefore(Timestamp),
    /// Made from this image (`ancestor=`). Containers run from root
    /// filesystem directories until images land, so none matches yet.
    Ancestor(String),
    /// Uses this volume (`volume=`); none does until volumes land.
    Volume(String),
    /// Is on this network (`network=`); every container is in the host's
    /// network until networking lands, so none matches.
    Network(String),
}

impl ContainerFilter {
    /// Which conditions are ORed together; labels each get their own.
    fn group(&self, index: usize) -> (u8, usize) {
        match self {
            ContainerFilter::Id(_) => (0, 0),
            ContainerFilter::Name(_) => (1, 0),
            ContainerFilter::Label(..) => (2, index),
            ContainerFilter::Status(_) => (3, 0),
            ContainerFilter::Pod(_) => (4, 0),
            ContainerFilter::Exited(_) => (5, 0),
            ContainerFilter::CreatedAfter(_) => (6, index),
            ContainerFilter::CreatedBefore(_) => (7, index),
            ContainerFilter::Ancestor(_) => (8, 0),
            ContainerFilter::Volume(_) => (9, 0),
            ContainerFilter::Network(_) => (10, 0),
        }
    }

    /// Whether `c` passes all of `filters`: some condition of every group.
    fn all_match(filters: &[ContainerFilter], c: &Container, pod_ids: &[String]) -> bool {
        let mut groups: BTreeMap<(u8, usize), bool> = BTreeMap::new();
        for (i, f) in filters.iter().enumerate() {
            let hit = groups.entry(f.group(i)).or_insert(false);
            *hit = *hit || f.matches(c, pod_ids);
        }
        groups.values().all(|&hit| hit)
    }

    fn matches(&self, c: &Container, pod_ids: &[String]) -> bool {
        match self {
            ContainerFilter::Id(p) => c.config.id.starts_with(p.as_str()),
            ContainerFilter::Name(n) => n.is_match(&c.config.name),
            ContainerFilter::Label(k, v) => match (c.config.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            },
            ContainerFilter::Status(s) => c.state.status == *s,
            ContainerFilter::Pod(_) => c
                .config
                .pod
                .as_ref()
                .is_some_and(|p| pod_ids.iter().any(|id| id == p)),
            ContainerFilter::Exited(code) => {
                c.state.status == ContainerStatus::Exited && c.state.exit_code == *code
            }
            ContainerFilter::CreatedAfter(t) => c.config.created > *t,
            ContainerFilter::CreatedBefore(t) => c.config.created < *t,
            // A network's name (or the mode: `host`, `none`, `container:ID`).
            ContainerFilter::Network(n) => {
                c.config.networks.iter().any(|a| a.name == *n) || c.config.network_mode == *n
            }
            ContainerFilter::Ancestor(_) | ContainerFilter::Volume(_) => false,
        }
    }
}

/// The containers of a [`Runtime`].
#[derive(Debug, Clone, Copy)]
pub struct Containers<'r> {
    pub(crate) rt: &'r Runtime,
}

impl<'r> Containers<'r> {
    /// The seccomp profile a new container gets, checked now (a profile
    /// that does not translate fails the create, never the start): the
    /// file given, `unconfined`, or the configured one (unconfined when
    /// privileged, as podman's).
    fn seccomp_for(&self, new: &NewContainer) -> Result<String> {
        let path = match new.seccomp.as_deref() {
            Some("unconfined") => return Ok("unconfined".to_owned()),
            None if new.privileged => return Ok("unconfined".to_owned()),
            Some(file) => std::fs::canonicalize(file).map_err(|e| Error::InvalidArgument {
                what: format!("--security-opt seccomp={file}"),
                reason: e.to_string(),
            })?,
            None => self.rt.config().seccomp_profile.clone(),
        };
        oxpod_ociruntime::load_seccomp_profile(
            &path,
            &Default::default(),
            &oxpod_ociruntime::SeccompHost::current(),
        )?;
        Ok(path.display().to_string())
    }

    pub(crate) fn new(rt: &'r Runtime) -> Self {
        Containers { rt }
    }

    /// Creates a container: id, name, lock, bundle (`config.json`), record,
    /// `create` event. Nothing is left behind when it fails, or when the
    /// process is killed midway (the next open repairs it).
    pub fn create(&self, new: NewContainer) -> Result<Container> {
        Ok(self.create_inner(new, false)?.0)
    }

    /// [`Containers::create`] for an attached `run --rm`: the caller takes
    /// on the container's removal in the same journal as its creation, so
    /// a kill at any moment after the record exists leaves it to conmon's
    /// exit command or the next command (see [`crate::RemoveOnExit`]).
    pub fn create_removed_by_caller(
        &self,
        new: NewContainer,
    ) -> Result<(Container, crate::RemoveOnExit<'r>)> {
        let (ctr, ledger) = self.create_inner(new, true)?;
        let ledger = ledger.unwrap_or_else(|| unreachable!("kept for the removal"));
        Ok((ctr, crate::RemoveOnExit::from_ledger(ledger)))
    }

    fn create_inner(
        &self,
        new: NewContainer,
        removed_by_caller: bool,
    ) -> Result<(Container, Option<Ledger<'r>>)> {
        let rt = self.rt;
        rt.check_valid()?;
        if let Some(name) = &new.name
            && !oxpod_state::is_valid_name(name)
        {
            return Err(Error::InvalidName { name: name.clone() });
        }
        // A container of an image holds the store's shared lock until its
        // record is in, so `rmi` (exclusive) sees it or is not racing it.
        let mut from_image = None;
        let user_info: Option<crate::users::UserInfo>;
        let _image_lock;
        let mut new = new;
        let rootfs = match &new.image {
            Some(name) => {
                let images = rt.images();
                _image_lock = Some(rt.storage()?.lock_shared()?);
                let image = images.resolve(name)?;
                images.root_driver(None)?;
                let config = images.config(&image)?;
                let volumes = image_volume_mounts(
                    config.config.volumes.as_ref(),
                    new.image_volume,
                    &new.mounts,
                )?;
                new.mounts.extend(volumes);
                new.command = config.command(new.entrypoint.as_deref(), &new.command)?;
                new.env = config.env(&new.env);
                if new.working_dir.is_none() && !config.config.working_dir.is_empty() {
                    new.working_dir = Some(config.config.working_dir.clone());
                }
                if new.network.publish_all {
                    // `-P`: each exposed port on a free host port.
                    for port in config.config.exposed_ports.iter().flat_map(|m| m.keys()) {
                        new.network.publish.push(port.clone());
                    }
                }
                let mut labels = config.config.labels.clone().unwrap_or_default();
                labels.extend(std::mem::take(&mut new.labels));
                new.labels = labels;
                if new.stop_signal.is_none() && !config.config.stop_signal.is_empty() {
                    new.stop_signal = Some(
                        oxpod_ociruntime::parse_signal(&config.config.stop_signal)?.unsigned_abs(),
                    );
                }
                let user = new
                    .user
                    .clone()
                    .unwrap_or_else(|| config.config.user.clone());
                let info = crate::users::lookup(&images, &image, &user, &new.group_add)?;
                new.user = Some(info.ids.clone());
                user_info = Some(info);
                from_image = Some((image, name.clone()));
                PathBuf::new()
            }
            None => {
                _image_lock = None;
                let rootfs = std::fs::canonicalize(&new.rootfs)
                    .map_err(|e| Error::io("use rootfs", &new.rootfs, e))?;
                if !rootfs.is_dir() {
                    return Err(Error::io(
                        "use rootfs",
                        &rootfs,
                        std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
                    ));
                }
                // The host's own root would give the container the host read-write.
                if rootfs == std::path::Path::new("/") {
                    return Err(Error::HostRootfs {
                        given: new.rootfs.clone(),
                    });
                }
                // The rootfs's own passwd and group, every file read inside
                // it (`openat2(RESOLVE_IN_ROOT)`: a link to the host's
                // /etc/passwd reads the rootfs's).
                let user = new.user.clone().unwrap_or_default();
                let info = crate::users::lookup_in_root(&rootfs, &user, &new.group_add)?;
                new.user = Some(info.ids.clone());
                user_info = Some(info);
                rootfs
            }
        };
        // Checked (and bind sources resolved, `U` applied) before anything
        // is claimed.
        for h in &new.add_hosts {
            crate::mounts::check_add_host(h)?;
        }
        for d in &new.dns_servers {
            crate::mounts::check_dns_server(d)?;
        }
        let (uid, gid) = numeric_user(new.user.as_deref().unwrap_or("0:0"));
        let (cap_add, cap_drop) =
            crate::limits::check(&new.resources, &new.cap_add, &new.cap_drop, &new.ulimits)?;
        if new.resources.blkio_weight.is_some() && !crate::limits::blkio_weight_supported() {
            // podman's warning and podman's choice: the weight is dropped.
            warn!(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
            );
            new.resources.blkio_weight = None;
        }
        if !new.cgroup_parent.is_empty() {
            let systemd = rt.config().cgroup_manager == oxpod_config::CgroupManager::Systemd;
            if systemd && !new.cgroup_parent.ends_with(".slice") {
                return Err(Error::InvalidArgument {
                    what: format!("--cgroup-parent {:?}", new.cgroup_parent),
                    reason: "with the systemd cgroup manager it must be a slice (NAME.slice)"
                        .to_owned(),
                });
            }
            if !systemd && new.cgroup_parent.split('/').any(|p| p == "..") {
                return Err(Error::InvalidArgument {
                    what: format!("--cgroup-parent {:?}", new.cgroup_parent),
                    reason: "`..` would leave the cgroup tree".to_owned(),
                });
            }
        }
        match new.userns.as_deref() {
            None | Some("" | "host") => {}
            Some("keep-id") if !rt.identity.rootless => {
                return Err(Error::InvalidArgument {
                    what: "--userns keep-id".to_owned(),
                    reason: "keep-id is only supported in rootless mode".to_owned(),
                });
            }
            Some(other) => {
                return Err(Error::InvalidArgument {
                    what: format!("--userns {other:?}"),
                    reason: "user namespaces other than the host's are not supported yet (they come with rootless)".to_owned(),
                });
            }
        }
        let seccomp_profile = self.seccomp_for(&new)?;
        let (restart_policy, restart_retries) =
            crate::parse_restart(new.restart.as_deref().unwrap_or(""))?;
        if new.auto_remove && !restart_policy.is_empty() {
            return Err(Error::InvalidArgument {
                what: "--rm".to_owned(),
                reason: "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"".to_owned(),
            });
        }
        for d in &new.devices {
            parse_device(d)?;
        }
        for p in new.mask.iter().chain(&new.unmask) {
            if p != "ALL" && !p.starts_with('/') {
                return Err(Error::InvalidArgument {
                    what: format!("--security-opt mask/unmask {p:?}"),
                    reason: "paths must be absolute".to_owned(),
                });
            }
        }
        let mut host_namespaces = Vec::new();
        for (flag, name, mode) in [
            ("--pid", "pid", &new.pid),
            ("--ipc", "ipc", &new.ipc),
            ("--uts", "uts", &new.uts),
        ] {
            if namespace_mode(flag, mode.as_deref())? {
                host_namespaces.push(name.to_owned());
            }
        }
        if host_namespaces.iter().any(|n| n == "uts") && new.hostname.is_some() {
            return Err(Error::InvalidArgument {
                what: "--hostname".to_owned(),
                reason: "cannot set the hostname with --uts host".to_owned(),
            });
        }
        let cgroupns_private = match new.cgroupns.as_deref() {
            None | Some("" | "host") => false,
            Some("private") => true,
            Some(other) => {
                return Err(Error::InvalidArgument {
                    what: format!("--cgroupns {other:?}"),
                    reason: "use host or private".to_owned(),
                });
            }
        };
        // A member of a pod with an infra container joins its network.
        let pod_infra = match (&new.pod, new.infra) {
            (Some(p), false) => rt.state().pod(&p.id)?.state.infra_container_id,
            _ => None,
        };
        let network = rt.networks().plan(&new.network, pod_infra.as_deref())?;
        let (home, groups) = match &user_info {
            Some(u) => (u.home.clone(), u.groups.clone()),
            None => ("/".to_owned(), Vec::new()),
        };

        for key in new.sysctls.keys() {
            // net.* needs a network namespace of its own.
            let own_netns = network.mode != "host";
            oxpod_ociruntime::check_sysctl(key, own_netns)?;
        }
        if new
            .oom_score_adj
            .is_some_and(|a| !(-1000..=1000).contains(&a))
        {
            return Err(Error::InvalidArgument {
                what: "--oom-score-adj".to_owned(),
                reason: "must be between -1000 and 1000".to_owned(),
            });
        }
        if new.shm_size == Some(0) {
            return Err(Error::InvalidArgument {
                what: "--shm-size".to_owned(),
                reason: "must be more than 0".to_owned(),
            });
        }
        if new.init {
            use std::os::unix::fs::PermissionsExt;
            let path = &rt.config().init_path;
            let why = match std::fs::metadata(path) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => None,
                Ok(m) if m.is_file() => Some("is not executable"),
                Ok(_) => Some("is not a file"),
                Err(_) => Some("is not there"),
            };
            if let Some(why) = why {
                return Err(Error::InvalidArgument {
                    what: "--init".to_owned(),
                    reason: format!(
                        "the init binary {} {why}: install catatonit, or set init_path in the configuration",
                        path.display()
                    ),
                });
            }
        }
        // A container using volumes holds the volumes' lock until its
        // record is in: a `volume rm` sees it, or it sees no volume.
        let uses_volumes = new
            .mounts
            .iter()
            .any(|m| matches!(m, crate::MountRequest::Volume { .. }));
        let _volumes_hold = if uses_volumes {
            Some(rt.volumes().hold()?)
        } else {
            None
        };
        // An image mounted in it is a use of that image, held as one is.
        let uses_images = new
            .mounts
            .iter()
            .any(|m| matches!(m, crate::MountRequest::Image { .. }));
        let _mount_image_lock = if uses_images && from_image.is_none() {
            Some(rt.storage()?.lock_shared()?)
        } else {
            None
        };
        let volumes = rt.volumes();
        let images = rt.images();
        let mounts = crate::mounts::resolve(
            &new.mounts,
            uid,
            gid,
            &mut |name| {
                let v = volumes.for_container(name)?;
                Ok((v.name, v.mountpoint))
            },
            &mut |name| {
                let image = images.resolve(name)?;
                if let Err(reason) = images.overlay_probe()? {
                    return Err(Error::InvalidMount {
                        spec: format!("type=image,src={name}"),
                        reason: format!(
                            "an image mount needs overlay, which does not work here: {reason}"
                        ),
                    });
                }
                Ok(image.id)
            },
        )?;
        let id = new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?;
        let mut ledger = Ledger::begin(rt, "create", true)?;
        let lock_id = ledger.claim_lock()?;
        let generated = new.name.is_none();
        let name = match new.name {
            Some(n) => n,
            None => self.generate_name()?,
        };
        // The host's own name with its UTS namespace (podman's).
        let hostname = if host_namespaces.iter().any(|n| n == "uts") {
            crate::host::hostname()
        } else {
            new.hostname.unwrap_or_else(|| id[..12].to_owned())
        };
        let rootfs = match &from_image {
            Some(_) => rt.storage()?.container_root(&id),
            None => rootfs,
        };
        let config = ContainerConfig {
            env: container_env(new.env, &hostname),
            image_id: from_image.as_ref().map(|(i, _)| i.id.clone()),
            image_name: from_image.as_ref().map(|(_, n)| n.clone()),
            id: id.clone(),
            name,
            namespace: rt.config().namespace.clone(),
            pod: new.pod.as_ref().map(|p| p.id.clone()),
            lock_id,
            rootfs,
            command: new.command,
            working_dir: new.working_dir.unwrap_or_else(|| "/".to_owned()),
            user: new.user.unwrap_or_else(|| "0:0".to_owned()),
            hostname,
            auto_remove: new.auto_remove,
            terminal: new.terminal,
            interactive: new.interactive,
            labels: new.labels,
            oci_runtime: rt.driver.default_runtime().to_owned(),
            stop_signal: new.stop_signal.unwrap_or(Signal::SIGTERM as u32),
            stop_timeout: new.stop_timeout.unwrap_or(10),
            log_path: rt.layout.log_path(&id),
            created: Timestamp::now(),
            mounts,
            read_only: new.read_only,
            no_read_only_tmpfs: new.no_read_only_tmpfs,
            add_hosts: new.add_hosts,
            dns_servers: new.dns_servers,
            dns_search: new.dns_search,
            dns_options: new.dns_options,
            resources: new.resources,
            cap_add,
            cap_drop,
            no_new_privileges: new.no_new_privileges,
            privileged: new.privileged,
            seccomp_profile,
            mask: new.mask,
            unmask: new.unmask,
            devices: new.devices,
            host_namespaces,
            cgroupns_private,
            group_add: new.group_add,
            home,
            cgroup_parent: new.cgroup_parent,
            healthcheck: new.healthcheck,
            restart_policy,
            restart_retries,
            additional_gids: groups,
            ulimits: new.ulimits,
            init: new.init,
            sysctls: new.sysctls,
            oom_score_adj: new.oom_score_adj,
            shm_size: new.shm_size,
            // The container whose network it joins cannot go first.
            dependencies: network
                .mode
                .strip_prefix("container:")
                .map(|id| vec![id.to_owned()])
                .unwrap_or_default(),
            is_infra: new.infra,
            network_mode: network.mode,
            networks: network.networks,
            ports: network.ports,
            ..ContainerConfig::default()
        };
        ledger.note(Step::Bundle { id: id.clone() })?;
        self.write_bundle(&config)?;
        let mut ctr = Container {
            config,
            state: ContainerState {
                status: ContainerStatus::Configured,
                bundle_path: Some(rt.layout.bundle_dir(&id)),
                ..ContainerState::default()
            },
        };
        if removed_by_caller {
            ledger.note(Step::AutoRemove { id: id.clone() })?;
        }
        // A generated name another process took between our check and our
        // add: draw again (the user never asked for that name).
        let mut tries = 0;
        loop {
            match self.add_to_state(new.pod.as_ref(), &ctr) {
                Err(Error::State(oxpod_state::Error::NameInUse { .. }))
                    if generated && tries < 8 =>
                {
                    tries += 1;
                    ctr.config.name = self.generate_name()?;
                }
                other => break other?,
            }
        }
        rt.emit(container_event(EventStatus::Create, &ctr.config));
        if removed_by_caller {
            // The record claims the lock and the bundle now; the removal
            // stays in the journal.
            ledger.commit_steps();
            return Ok((ctr, Some(ledger)));
        }
        ledger.commit();
        Ok((ctr, None))
    }

    fn add_to_state(&self, pod: Option<&PodRef>, ctr: &Container) -> Result<()> {
        match pod {
            Some(pod) => {
                // Pod lock around the add, so the pod cannot be removed meanwhile.
                let _g = self.rt.take_lock(pod.lock_id)?;
                self.rt.state().add_container_to_pod(&pod.id, ctr)?;
            }
            None => self.rt.state().add_container(ctr)?,
        }
        Ok(())
    }

    /// Writes `config.json` for the container into its bundle directory.
    pub(crate) fn write_bundle(&self, config: &ContainerConfig) -> Result<()> {
        let rt = self.rt;
        let manager = match rt.config().cgroup_manager {
            oxpod_config::CgroupManager::Systemd => CgroupManager::Systemd,
            oxpod_config::CgroupManager::Cgroupfs => CgroupManager::Cgroupfs,
        };
        // Resolved to numbers at create (`uid:gid`).
        let (uid, gid) = numeric_user(&config.user);
        let bundle = rt.layout.bundle_dir(&config.id);
        let spec_mounts = self.container_mounts(config, &bundle)?;
        let spec = ContainerSpec {
            id: config.id.clone(),
            uid,
            gid,
            rootfs: config.rootfs.clone(),
            args: config.command.clone(),
            env: {
                let mut env = config.env.clone();
                if !config.home.is_empty() && !env.iter().any(|e| e.starts_with("HOME=")) {
                    env.push(format!("HOME={}", config.home));
                }
                env
            },
            cwd: PathBuf::from(&config.working_dir),
            // No hostname is set in the host's UTS namespace.
            hostname: (!config.host_namespaces.iter().any(|n| n == "uts"))
                .then(|| config.hostname.clone()),
            terminal: config.terminal,
            annotations: config.annotations.clone(),
            cgroup_manager: manager,
            cgroup_parent: (!config.cgroup_parent.is_empty()).then(|| config.cgroup_parent.clone()),
            rootless: rt.identity.rootless,
            readonly_rootfs: config.read_only,
            mounts: spec_mounts,
            limits: crate::limits::spec_limits(config),
            rlimits: crate::limits::spec_rlimits(config)?,
            cap_add: config.cap_add.clone(),
            cap_drop: config.cap_drop.clone(),
            no_new_privileges: config.no_new_privileges,
            privileged: config.privileged,
            seccomp_profile: match config.seccomp_profile.as_str() {
                "unconfined" => None,
                // A record from before seccomp: the configured profile.
                "" => Some(rt.config().seccomp_profile.clone()),
                path => Some(PathBuf::from(path)),
            },
            mask: config.mask.clone(),
            unmask: config.unmask.clone(),
            devices: config
                .devices
                .iter()
                .map(|d| parse_device(d))
                .collect::<Result<_>>()?,
            host_namespaces: config.host_namespaces.clone(),
            cgroupns: config.cgroupns_private,
            network: rt.networks().namespace_for(&Container {
                config: config.clone(),
                state: ContainerState::default(),
            })?,
            additional_gids: config.additional_gids.clone(),
            hooks: crate::hooks::hooks_for(
                &rt.config().hooks_dir.clone().unwrap_or_else(|| {
                    crate::hooks::DEFAULT_HOOKS_DIRS
                        .iter()
                        .map(PathBuf::from)
                        .collect()
                }),
                &crate::hooks::HookContext {
                    annotations: &config.annotations,
                    command: &config.command,
                    has_bind_mounts: config.mounts.iter().any(|m| m.kind != "tmpfs"),
                },
            )?,
            init: config.init.then(|| rt.config().init_path.clone()),
            sysctls: config.sysctls.clone(),
            oom_score_adj: config.oom_score_adj,
            shm_size: config.shm_size,
        };
        let spec = oxpod_ociruntime::generate_spec(&spec)?;
        oxpod_ociruntime::write_bundle(&bundle, &spec)?;
        Ok(())
    }

    /// The container's mounts after the runtime's defaults: `/etc/hostname`,
    /// `/etc/hosts` and `/etc/resolv.conf` made in its bundle (unless a
    /// mount of its own covers them), `--read-only`'s tmpfs on /tmp,
    /// /var/tmp and /run, then what it asked for.
    fn container_mounts(
        &self,
        config: &ContainerConfig,
        bundle: &std::path::Path,
    ) -> Result<Vec<oxpod_ociruntime::ExtraMount>> {
        use crate::mounts::{covered, hosts_file, resolv_file};
        let own = &config.mounts;
        let mut out = Vec::new();
        let read_host = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let files = [
            (
                "hostname",
                "/etc/hostname",
                format!("{}\n", config.hostname),
            ),
            (
                "hosts",
                "/etc/hosts",
                hosts_file(
                    &read_host("/etc/hosts"),
                    &config.add_hosts,
                    &config.hostname,
                    &config.name,
                ),
            ),
            (
                "resolv.conf",
                "/etc/resolv.conf",
                resolv_file(
                    &read_host("/etc/resolv.conf"),
                    &config.dns_servers,
                    &config.dns_search,
                    &config.dns_options,
                ),
            ),
        ];
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(bundle)
                .map_err(|e| Error::io("create", bundle, e))?;
        }
        // A container in another's network uses that one's resolv.conf
        // (and hosts, outside a pod): its names and servers are the same.
        let joined = config
            .network_mode
            .strip_prefix("container:")
            .map(|t| self.rt.layout.bundle_dir(t));
        for (file, destination, text) in files {
            if covered(own, destination) {
                continue;
            }
            if let Some(target) = &joined
                && (file == "resolv.conf" || (file == "hosts" && config.pod.is_none()))
                && target.join(file).is_file()
            {
                out.push(oxpod_ociruntime::ExtraMount {
                    destination: destination.into(),
                    source: target.join(file),
                    kind: "bind".to_owned(),
                    options: vec!["bind".to_owned(), "rprivate".to_owned()],
                });
                continue;
            }
            // A pod's members share one /etc/hosts (they share the host's
            // network, so its names on 127.0.0.1 reach one another).
            if file == "hosts"
                && let Some(pod) = &config.pod
            {
                let path = self.rt.layout.pod_hosts(pod);
                self.write_pod_hosts(pod)?;
                out.push(oxpod_ociruntime::ExtraMount {
                    destination: destination.into(),
                    source: path,
                    kind: "bind".to_owned(),
                    options: vec!["bind".to_owned(), "rprivate".to_owned()],
                });
                continue;
            }
            let path = bundle.join(file);
            let tmp = bundle.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io("write", &path, e))?;
            out.push(oxpod_ociruntime::ExtraMount {
                destination: destination.into(),
                source: path,
                kind: "bind".to_owned(),
                options: vec!["bind".to_owned(), "rprivate".to_owned()],
            });
        }
        if config.read_only && !config.no_read_only_tmpfs {
            for destination in ["/tmp", "/var/tmp", "/run"] {
                if !covered(own, destination) {
                    out.push(oxpod_ociruntime::ExtraMount {
                        destination: destination.into(),
                        source: "tmpfs".into(),
                        kind: "tmpfs".to_owned(),
                        options: ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
                            .map(String::from)
                            .to_vec(),
                    });
                }
            }
        }
        for (index, m) in own.iter().enumerate() {
            if m.kind == "image" {
                out.push(self.image_mount(m, bundle, index)?);
                continue;
            }
            if crate::mounts::is_overlay(&m.options) {
                let (upper, work) = crate::mounts::overlay_dirs(bundle, index);
                let text = format!("{}{}", upper.display(), work.display());
                if text.contains([',', ':']) {
                    return Err(Error::InvalidMount {
                        spec: m.destination.clone(),
                        reason: format!(
                            "the bundle path {} has `,` or `:`, which overlay's options cannot carry",
                            bundle.display()
                        ),
                    });
                }
                // Mounted by the runtime inside the container's mount
                // namespace only: nothing on the host to leak if a start
                // is killed.
                out.push(oxpod_ociruntime::ExtraMount {
                    destination: m.destination.clone().into(),
                    source: "overlay".into(),
                    kind: "overlay".to_owned(),
                    options: vec![
                        format!("lowerdir={}", m.source.display()),
                        format!("upperdir={}", upper.display()),
                        format!("workdir={}", work.display()),
                        "private".to_owned(),
                    ],
                });
                continue;
            }
            out.push(oxpod_ociruntime::ExtraMount {
                destination: m.destination.clone().into(),
                source: if m.kind == "tmpfs" {
                    "tmpfs".into()
                } else {
                    m.source.clone()
                },
                // A volume is its data directory bound in.
                kind: if m.kind == "volume" {
                    "bind".to_owned()
                } else {
                    m.kind.clone()
                },
                // copy/nocopy are oxpod's (copy-up), not the runtime's.
                options: m
                    .options
                    .iter()
                    .filter(|o| !matches!(o.as_str(), "copy" | "nocopy"))
                    .cloned()
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Writes pod `pod`'s shared `/etc/hosts`: every member's `--add-host`
    /// lines, the host's file, then each member's hostname and name on
    /// 127.0.0.1. Written in place (never renamed over), so running
    /// members, which have it bind-mounted, see the new members too.
    /// A bridge container's `/etc/hosts` and `/etc/resolv.conf` for this
    /// run, once its addresses are known: its address under its hostname
    /// and name, `host.containers.internal` on the first gateway, and
    /// aardvark-dns's servers. Rewritten in place in the bundle (bound by
    /// the runtime after this); a file a mount of its own covers is left.
    pub(crate) fn write_network_files(&self, ctr: &Container) -> Result<()> {
        let config = &ctr.config;
        let bundle = self.rt.layout.bundle_dir(&config.id);
        let host = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let mut files = Vec::new();
        if !crate::mounts::covered(&config.mounts, "/etc/hosts") {
            let mut text = String::new();
            for entry in &config.add_hosts {
                if let Some((name, ip)) = entry.split_once(':') {
                    text.push_str(&format!("{ip}\t{name}\n"));
                }
            }
            text.push_str(&host("/etc/hosts"));
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let names = if config.hostname == config.name {
                config.hostname.clone()
            } else {
                format!("{} {}", config.hostname, config.name)
            };
            // podman 4.3's lines: the host on the first gateway, then the
            // container on each of its addresses.
            if let Some(gw) = ctr.state.networks.iter().find(|l| !l.gateway.is_empty()) {
                text.push_str(&format!("{}\thost.containers.internal\n", gw.gateway));
            }
            for lease in &ctr.state.networks {
                text.push_str(&format!("{}\t{names}\n", lease.ip));
            }
            files.push(("hosts", text));
        }
        if !crate::mounts::covered(&config.mounts, "/etc/resolv.conf") {
            // `--dns`, `--dns-search` and `--dns-option` replace their
            // kind of line, as for a container in the host's network.
            let text = crate::mounts::resolv_file(
                &crate::networks::resolv_for_network(
                    &host("/etc/resolv.conf"),
                    &ctr.state.networks,
                ),
                &config.dns_servers,
                &config.dns_search,
                &config.dns_options,
            );
            files.push(("resolv.conf", text));
        }
        for (file, text) in files {
            let path = bundle.join(file);
            let tmp = bundle.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io("write", &path, e))?;
        }
        Ok(())
    }

    pub(crate) fn write_pod_hosts(&self, pod: &str) -> Result<()> {
        use std::io::Write;
        let members = self.rt.state().pod_containers(pod)?;
        let mut adds: Vec<String> = Vec::new();
        for m in &members {
            for a in &m.config.add_hosts {
                if !adds.contains(a) {
                    adds.push(a.clone());
                }
            }
        }
        let names: Vec<(&str, &str)> = members
            .iter()
            .map(|m| (m.config.hostname.as_str(), m.config.name.as_str()))
            .collect();
        let text = crate::mounts::shared_hosts_file(
            &std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            &adds,
            &names,
        );
        let path = self.rt.layout.pod_hosts(pod);
        if let Some(dir) = path.parent() {
            crate::layout::make_dir(dir, 0o700)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(())
    }

    /// `--mount type=image`: the image's layers as overlay's lower
    /// layers (one layer: that directory bound read-only), with an upper
    /// layer in the bundle when writable; made by the runtime inside the
    /// container only.
    fn image_mount(
        &self,
        m: &oxpod_state::ContainerMount,
        bundle: &std::path::Path,
        index: usize,
    ) -> Result<oxpod_ociruntime::ExtraMount> {
        let lower = self.rt.images().lower_dirs(&m.name)?;
        let rw = crate::mounts::has_upper(m);
        if lower.len() == 1 && !rw {
            return Ok(oxpod_ociruntime::ExtraMount {
                destination: m.destination.clone().into(),
                source: lower[0].clone(),
                kind: "bind".to_owned(),
                options: ["ro", "rprivate", "rbind"].map(str::to_owned).to_vec(),
            });
        }
        let mut options = vec![format!(
            "lowerdir={}",
            lower
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )];
        if rw {
            let (upper, work) = crate::mounts::overlay_dirs(bundle, index);
            options.push(format!("upperdir={}", upper.display()));
            options.push(format!("workdir={}", work.display()));
        } else {
            options.push("ro".to_owned());
        }
        options.push("private".to_owned());
        if options.iter().map(String::len).sum::<usize>() >= 4000 {
            return Err(Error::InvalidMount {
                spec: m.destination.clone(),
                reason: "the image has too many layers for one page of overlay options".to_owned(),
            });
        }
        Ok(oxpod_ociruntime::ExtraMount {
            destination: m.destination.clone().into(),
            source: "overlay".into(),
            kind: "overlay".to_owned(),
            options,
        })
    }

    /// A generated name no container or pod has.
    pub(crate) fn generate_name(&self) -> Result<String> {
        loop {
            let name = random_name().map_err(|e| Error::io("read", "/dev/urandom", e))?;
            if !self.rt.state().name_exists(&name)? {
                return Ok(name);
            }
        }
    }

    /// Changes a container's cgroup limits (`update`): the limits given
    /// replace the record's (the rest stay), checked as at create; a
    /// created, running or paused container gets them at once (`runc
    /// update`), and every later start does too (podman 4.3 applies them
    /// only to the running process and forgets them at its next start).
    pub fn update(&self, r: &ContainerRef, changes: &oxpod_state::Resources) -> Result<Container> {
        let rt = self.rt;
        rt.check_valid()?;
        let (mut ctr, _guard) = self.lock(r)?;
        let mut merged = ctr.config.resources.clone();
        let c = changes.clone();
        macro_rules! take {
            ($($f:ident),*) => {$(
                if c.$f.is_some() {
                    merged.$f = c.$f;
                }
            )*};
        }
        take!(
            memory,
            memory_reservation,
            memory_swap,
            cpu_shares,
            cpu_quota,
            cpu_period,
            pids_limit,
            blkio_weight
        );
        if !c.cpuset_cpus.is_empty() {
            merged.cpuset_cpus = c.cpuset_cpus;
        }
        if !c.cpuset_mems.is_empty() {
            merged.cpuset_mems = c.cpuset_mems;
        }
        if merged.blkio_weight.is_some() && !crate::limits::blkio_weight_supported() {
            warn!(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
            );
            merged.blkio_weight = ctr.config.resources.blkio_weight;
        }
        crate::limits::check(&merged, &[], &[], &[])?;
        let mut config = ctr.config.clone();
        config.resources = merged;
        if matches!(
            ctr.state.status,
            ContainerStatus::Created | ContainerStatus::Running | ContainerStatus::Paused
        ) {
            let resources =
                oxpod_ociruntime::limit_resources(&crate::limits::spec_limits(&config))?;
            let json = serde_json::to_vec(&resources).map_err(|e| Error::InvalidArgument {
                what: "update".to_owned(),
                reason: e.to_string(),
            })?;
            rt.driver.update(&config.oci_runtime, &config.id, &json)?;
        }
        rt.state().rewrite_container_config(&config)?;
        // The next start's spec carries them too.
        let bundle_config = rt
            .layout
            .bundle_dir(&config.id)
            .join(oxpod_ociruntime::BUNDLE_CONFIG);
        if bundle_config.exists() {
            self.write_bundle(&config)?;
        }
        ctr.config = config;
        Ok(ctr)
    }

    /// Renames a container (any state), under its lock; `rename` event.
    /// The new name must be valid and unused by containers and pods.
    pub fn rename(&self, r: &ContainerRef, new_name: &str) -> Result<Container> {
        let rt = self.rt;
        rt.check_valid()?;
        if !oxpod_state::is_valid_name(new_name) {
            return Err(Error::InvalidName {
                name: new_name.to_owned(),
            });
        }
        let (_, _guard) = self.lock(r)?;
        let ctr = rt.state().rename_container(&r.id, new_name)?;
        rt.emit(container_event(EventStatus::Rename, &ctr.config));
        Ok(ctr)
    }

    /// Removes every container that is not running or paused, is not in a
    /// pod (podman's `container prune` leaves pods to `pod prune`), and
    /// matches `filters`. Whether one is unused is decided under its lock
    /// by the removal itself, so a container started meanwhile is refused
    /// and kept, never killed. Returns the removed ids, each with the bytes
    /// its directories held.
    pub fn prune(&self, filters: &[ContainerFilter]) -> Result<Vec<(String, u64)>> {
        self.rt.check_valid()?;
        let idle: Vec<ContainerRef> = self
            .list(filters)?
            .iter()
            .filter(|c| {
                c.config.pod.is_none()
                    && !matches!(
                        c.state.status,
                        ContainerStatus::Running | ContainerStatus::Paused
                    )
            })
            .map(ContainerRef::from)
            .collect();
        let layout = &self.rt.layout;
        let sizes: Vec<u64> = idle
            .iter()
            .map(|r| {
                crate::layout::tree_size(&layout.bundle_dir(&r.id))
                    + crate::layout::tree_size(&layout.run_dir(&r.id))
            })
            .collect();
        let mut removed = Vec::new();
        for ((r, result), size) in idle.iter().zip(self.remove_many(&idle, false)).zip(sizes) {
            match result {
                Ok(()) => removed.push((r.id.clone(), size)),
                Err(e) if e.is_not_found() || e.is_running() => {
                    debug!(id = %r.id, error = %e, "not pruned");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Resolves a name, full id or unique id prefix, once.
    pub fn resolve(&self, name_or_id: &str) -> Result<ContainerRef> {
        self.rt.check_valid()?;
        Ok(ContainerRef::from(
            &self.rt.state().lookup_container(name_or_id)?,
        ))
    }

    /// The container now, with any exit conmon recorded folded in.
    pub fn get(&self, r: &ContainerRef) -> Result<Container> {
        self.rt.check_valid()?;
        let mut ctr = self.rt.state().container(&r.id)?;
        self.sync_unlocked(&mut ctr);
        Ok(ctr)
    }

    /// Every container (in one read transaction), optionally filtered,
    /// sorted by creation time, newest first, as `ps` shows them. Takes no
    /// container lock and spawns no process.
    pub fn list(&self, filters: &[ContainerFilter]) -> Result<Vec<Container>> {
        self.rt.check_valid()?;
        let listing = self.rt.state().all_containers()?;
        for s in &listing.skipped {
            warn!(key = %s.key, reason = %s.reason, "skipping a container record that does not decode");
        }
        let pod_ids = self.filter_pod_ids(filters)?;
        let mut out: Vec<Container> = listing
            .items
            .into_iter()
            .map(|mut c| {
                self.sync_unlocked(&mut c);
                c
            })
            .filter(|c| ContainerFilter::all_match(filters, c, &pod_ids))
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        Ok(out)
    }

    fn filter_pod_ids(&self, filters: &[ContainerFilter]) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for f in filters {
            if let ContainerFilter::Pod(p) = f {
                let found = self.rt.state().lookup_pod(p);
                match found {
                    Ok(pod) => ids.push(pod.config.id),
                    Err(oxpod_state::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(ids)
    }

    /// Removes a container: refused while it runs unless `force` (then it
    /// is killed first, without holding its lock while it dies). The lock
    /// is freed after the record is gone.
    pub fn remove(&self, r: &ContainerRef, force: bool) -> Result<()> {
        self.rt.check_valid()?;
        if force {
            self.kill_for_removal(r)?;
        }
        let pod_guard = match &r.pod {
            Some(pod_id) => {
                let pod = self.rt.state().pod(pod_id)?;
                Some(self.rt.take_lock(pod.config.lock_id)?)
            }
            None => None,
        };
        let removed = self.remove_locked(r, force)?;
        drop(pod_guard);
        // With no lock held: the volumes' hold is always taken before them.
        self.remove_auto_volumes(&removed);
        Ok(())
    }

    /// Removes several containers (`rm -a`, `rm a b c`): what
    /// [`Containers::remove`] does for each, but the records of the
    /// standalone ones go in one transaction, so removing a thousand costs
    /// one commit, not a thousand. Returns each result in the order given.
    pub fn remove_many(&self, refs: &[ContainerRef], force: bool) -> Vec<Result<()>> {
        if self.rt.check_valid().is_err() {
            return refs.iter().map(|_| Err(Error::Stopped)).collect();
        }
        let mut results: Vec<Option<Result<()>>> = refs.iter().map(|_| None).collect();
        if force {
            // Every running one gets SIGKILL first, then all are waited for
            // together, holding no lock (N containers: one wait, not N).
            let mut dying = Vec::new();
            for (i, r) in refs.iter().enumerate() {
                match self.begin_kill(r) {
                    Ok(Some(p)) => dying.push((i, p)),
                    Ok(None) => {}
                    Err(e) => results[i] = Some(Err(e)),
                }
            }
            for (i, p) in dying {
                if let Err(e) = self.finish_kill(p) {
                    results[i] = Some(Err(e));
                }
            }
        }
        // Pod members one by one (pod lock first); the rest in one batch.
        let mut batch: Vec<usize> = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            if r.pod.is_some() {
                results[i] = Some(self.remove(r, force));
            } else {
                batch.push(i);
            }
        }
        // Locks in ascending order, each once (two records sharing a lock
        // is a damaged store: the second falls back to one by one).
        batch.sort_by_key(|&i| refs[i].lock_id);
        let mut guards: Vec<(u32, LockGuard)> = Vec::new();
        let mut locked: Vec<(usize, Container)> = Vec::new();
        let mut alone: Vec<usize> = Vec::new();
        for i in batch {
            if guards.last().is_some_and(|(id, _)| *id == refs[i].lock_id) {
                alone.push(i);
                continue;
            }
            match self.lock(&refs[i]) {
                Ok((ctr, guard)) => {
                    guards.push((ctr.config.lock_id, guard));
                    match self.removable(&ctr) {
                        Ok(()) => locked.push((i, ctr)),
                        Err(e) => results[i] = Some(Err(e)),
                    }
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let outcome = self.remove_records(&locked);
        drop(guards);
        match outcome {
            Ok(()) => {
                for (i, ctr) in &locked {
                    self.remove_auto_volumes(ctr);
                    results[*i] = Some(Ok(()));
                }
            }
            Err(e) => {
                // A dependent outside the set, say: one by one, so each
                // gets its own answer.
                debug!(error = %e, "batch removal failed; removing one by one");
                alone.extend(locked.iter().map(|(i, _)| *i));
            }
        }
        for i in alone {
            results[i] = Some(self.remove(&refs[i], force));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| unreachable!("every container gets a result above")))
            .collect()
    }

    /// Removes the records of standalone containers whose locks are held,
    /// in one transaction, then releases their resources.
    fn remove_records(&self, locked: &[(usize, Container)]) -> Result<()> {
        if locked.is_empty() {
            return Ok(());
        }
        let rt = self.rt;
        let mut ledger = Ledger::begin(rt, "remove", true)?;
        for (_, ctr) in locked {
            if let Err(e) = self.note_resources(&mut ledger, ctr) {
                // The records still claim everything: nothing is released.
                ledger.commit();
                return Err(e);
            }
        }
        let ids: Vec<String> = locked.iter().map(|(_, c)| c.config.id.clone()).collect();
        let removed = rt.state().remove_containers(&ids);
        if let Err(e) = removed {
            // Nothing was removed: the records still claim everything.
            ledger.commit();
            return Err(e.into());
        }
        ledger.release_all();
        for (_, ctr) in locked {
            rt.emit(container_event(EventStatus::Remove, &ctr.config));
        }
        Ok(())
    }

    /// What a container's record claims, noted for its removal.
    fn note_resources(&self, ledger: &mut Ledger<'_>, ctr: &Container) -> Result<()> {
        ledger.note(Step::Lock {
            lock: ctr.config.lock_id,
        })?;
        ledger.note(Step::Bundle {
            id: ctr.config.id.clone(),
        })?;
        if ctr.config.network_mode == "bridge" {
            ledger.note(Step::Network {
                id: ctr.config.id.clone(),
            })?;
        }
        // A never-started record may still have a runtime container: a
        // killed start whose conmon finished its create afterwards.
        let (runtime, id) = (&ctr.config.oci_runtime, &ctr.config.id);
        if ctr.state.status != ContainerStatus::Configured || self.rt.driver.may_exist(runtime, id)
        {
            ledger.note(Step::Runtime {
                runtime: ctr.config.oci_runtime.clone(),
                id: ctr.config.id.clone(),
            })?;
        }
        Ok(())
    }

    /// Under the container's lock: refuses a running container.
    fn removable(&self, ctr: &Container) -> Result<()> {
        match ctr.state.status {
            ContainerStatus::Running | ContainerStatus::Paused => Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.podman_word().to_owned(),
                remedy: "stop it first, or remove it with --force",
            }),
            _ => Ok(()),
        }
    }

    /// Removal once any pod lock is held. With `force`, a container that is
    /// (again) running is killed first, outside its lock.
    pub(crate) fn remove_locked(&self, r: &ContainerRef, force: bool) -> Result<Container> {
        let rt = self.rt;
        let mut tries = 0;
        let (ctr, guard) = loop {
            let (ctr, guard) = self.lock(r)?;
            match self.removable(&ctr) {
                Ok(()) => break (ctr, guard),
                // Started again since the kill: kill again (bounded).
                Err(_) if force && tries < 3 => {
                    tries += 1;
                    drop(guard);
                    self.kill_for_removal(r)?;
                }
                Err(e) => return Err(e),
            }
        };
        // Its exec sessions go first: none outlives its container's record.
        self.reap_sessions(&ctr, true)?;
        let mut ledger = Ledger::begin(rt, "remove", true)?;
        if let Err(e) = self.note_resources(&mut ledger, &ctr) {
            // The record still claims everything: nothing is released.
            ledger.commit();
            return Err(e);
        }
        let removed = {
            let mut state = rt.state();
            match &ctr.config.pod {
                Some(pod) => state.remove_container_from_pod(pod, &ctr.config.id),
                None => state.remove_container(&ctr.config.id),
            }
        };
        if let Err(e) = removed {
            ledger.commit();
            return Err(e.into());
        }
        drop(guard);
        ledger.release_all();
        rt.emit(container_event(EventStatus::Remove, &ctr.config));
        Ok(ctr)
    }

    /// A `run --rm` container's anonymous volumes go with it (podman's
    /// rule); called with no container lock held, since the volumes' hold
    /// is taken before container locks elsewhere.
    fn remove_auto_volumes(&self, ctr: &Container) {
        // A volume's own file system goes once no running container uses
        // it (this one's exit may never have been cleaned up: `rm -f`).
        self.rt.volumes().release_for(&ctr.config);
        if ctr.config.auto_remove
            && let Err(e) = self.rt.volumes().remove_anonymous(&ctr.config.mounts)
        {
            warn!(id = %ctr.config.id, error = %e, "cannot remove the container's anonymous volumes");
        }
    }

    /// Takes the container's lock and reads its current state under it,
    /// folding in (and saving) an exit conmon recorded. A lock number that
    /// changed since the lookup (a renumber) is followed.
    pub(crate) fn lock(&self, r: &ContainerRef) -> Result<(Container, LockGuard)> {
        let mut lock_id = r.lock_id;
        for _ in 0..3 {
            let guard = self.rt.take_lock(lock_id)?;
            // Re-read: it may have changed (or gone) while we waited. Gone,
            // the error names the container as the user knew it.
            let found = self.rt.state().container(&r.id);
            let mut ctr = match found {
                Ok(c) => c,
                Err(oxpod_state::Error::NotFound { kind, .. }) => {
                    return Err(oxpod_state::Error::NotFound {
                        kind,
                        name_or_id: r.name.clone(),
                    }
                    .into());
                }
                Err(e) => return Err(e.into()),
            };
            if ctr.config.lock_id != lock_id {
                lock_id = ctr.config.lock_id;
                continue;
            }
            self.sync_locked(&mut ctr)?;
            return Ok((ctr, guard));
        }
        Err(Error::LockMoving {
            name: r.name.clone(),
        })
    }

    /// Folds a recorded exit into `ctr` without saving it. A `created`
    /// record counts too: a start killed after the runtime started the
    /// process but before it recorded `running` leaves one, and conmon's
    /// exit file (removed before every create) says the process ran.
    fn apply_exit(&self, ctr: &mut Container) -> bool {
        if !matches!(
            ctr.state.status,
            ContainerStatus::Created
                | ContainerStatus::Running
                | ContainerStatus::Paused
                | ContainerStatus::Stopped
        ) {
            return false;
        }
        let exit = match self.rt.driver.exit(&ctr.config.id) {
            Ok(Some(exit)) => exit,
            Ok(None) => return false,
            Err(e) => {
                warn!(id = %ctr.config.id, error = %e, "cannot read exit file");
                return false;
            }
        };
        let st = &mut ctr.state;
        st.status = ContainerStatus::Exited;
        st.exit_code = exit.code;
        st.exited = true;
        st.finished_at = Some(Timestamp::try_from(exit.at).unwrap_or_else(|_| Timestamp::now()));
        st.pid = None;
        st.conmon_pid = None;
        true
    }

    /// Under the container's lock: folds in and saves a recorded exit, and
    /// writes its one `died` event.
    pub(crate) fn sync_locked(&self, ctr: &mut Container) -> Result<()> {
        if self.apply_exit(ctr) {
            self.rt
                .state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
            self.rt.emit(
                container_event(EventStatus::Died, &ctr.config).with_exit_code(ctr.state.exit_code),
            );
        }
        Ok(())
    }

    /// Without waiting for any lock: folds in a recorded exit; saves it
    /// (with its `died` event) only if the container's lock is free now.
    pub(crate) fn sync_unlocked(&self, ctr: &mut Container) {
        if !self.apply_exit(ctr) {
            return;
        }
        let Ok(lock) = self.rt.locks.retrieve(ctr.config.lock_id) else {
            return;
        };
        if let Ok(Some(_guard)) = lock.try_lock() {
            let fresh = self.rt.state().container(&ctr.config.id);
            match fresh {
                Ok(mut fresh) => {
                    if let Err(e) = self.sync_locked(&mut fresh) {
                        warn!(id = %ctr.config.id, error = %e, "cannot save exit");
                    }
                }
                Err(e) => debug!(id = %ctr.config.id, error = %e, "container gone"),
            }
        }
    }
}

/// A container's environment as podman composes it: its defaults (`PATH`,
/// `TERM=xterm`) and the user's variables (a later one of a name wins),
/// sorted by name, then `HOSTNAME` (the container's host name) unless the
/// user set it. Stored in the record, so `inspect` shows what the process
/// gets.
fn container_env(user: Vec<String>, hostname: &str) -> Vec<String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for default in [oxpod_ociruntime::DEFAULT_PATH, "TERM=xterm"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(user)
    {
        let key = default.split_once('=').map_or(default.as_str(), |(k, _)| k);
        vars.insert(key.to_owned(), default.clone());
    }
    let hostname_var = vars
        .remove("HOSTNAME")
        .unwrap_or_else(|| format!("HOSTNAME={hostname}"));
    let mut env: Vec<String> = vars.into_values().collect();
    env.push(hostname_var);
    env
}

#[cfg(test)]
mod env_tests {
    use super::container_env;

    #[test]
    fn podman_defaults_then_user_then_hostname() {
        assert_eq!(
            container_env(vec!["FOO=bar".into()], "abc"),
            [
                "FOO=bar",
                oxpod_ociruntime::DEFAULT_PATH,
                "TERM=xterm",
                "HOSTNAME=abc"
            ]
        );
        let env = container_env(
            vec!["PATH=/x".into(), "TERM=dumb".into(), "HOSTNAME=h".into()],
            "abc",
        );
        assert_eq!(env, ["PATH=/x", "TERM=dumb", "HOSTNAME=h"]);
    }
}
