//! The records the state stores: containers, pods and the database
//! configuration. All are JSON with `#[serde(default)]`, so a field added in
//! a later release reads as its default from an older record.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn is_empty_path(p: &std::path::Path) -> bool {
    p.as_os_str().is_empty()
}

/// The lifecycle status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Created in the state, nothing created in the OCI runtime yet.
    #[default]
    Configured,
    /// Created in the OCI runtime, not started.
    Created,
    /// Its process is running.
    Running,
    /// Stopped by the runtime, may be started again.
    Stopped,
    /// Frozen by the OCI runtime.
    Paused,
    /// Its process has exited.
    Exited,
    /// Being removed; a crash here leaves it for cleanup.
    Removing,
}

impl ContainerStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ContainerStatus; 7] = [
        ContainerStatus::Configured,
        ContainerStatus::Created,
        ContainerStatus::Running,
        ContainerStatus::Stopped,
        ContainerStatus::Paused,
        ContainerStatus::Exited,
        ContainerStatus::Removing,
    ];

    /// The lower-case name (`running`, ...), as shown to users and stored.
    /// The word podman shows for it: a container that was never started is
    /// `created` whether or not the runtime has it yet.
    pub fn podman_word(self) -> &'static str {
        match self {
            ContainerStatus::Configured => "created",
            other => other.as_str(),
        }
    }

    /// The stored name (`configured` for one the runtime has not seen).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Configured => "configured",
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Stopped => "stopped",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Removing => "removing",
        }
    }
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`ContainerStatus`] from a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown container state: {0}")]
pub struct UnknownStatus(pub String);

impl FromStr for ContainerStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContainerStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// What a container is, fixed at creation.
///
/// Only [`crate::State::rewrite_container_config`] changes it later, and it
/// may not change the id, name, namespace, pod or dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// 64 lower-case hex characters (any string without `/` is accepted).
    pub id: String,
    /// Unique across containers and pods; `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    pub name: String,
    /// The namespace ("" for none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The id of the pod it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Its lock number in the lock manager.
    pub lock_id: u32,
    /// The root filesystem directory it runs from (for a container of an
    /// image: where its overlay root is mounted).
    #[serde(skip_serializing_if = "is_empty_path")]
    pub rootfs: PathBuf,
    /// The id of the image it runs from (None: `--rootfs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The image name as the user typed it (podman shows it in `ps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// The command and its arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment, `KEY=value` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The working directory inside the container ("" for the default `/`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// The user (`uid[:gid]` or a name; "" for root).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// The hostname ("" for the short id).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Whether it gets a terminal.
    #[serde(skip_serializing_if = "is_false")]
    pub terminal: bool,
    /// Whether its stdin is kept open.
    #[serde(skip_serializing_if = "is_false")]
    pub interactive: bool,
    /// Remove it when it exits (`--rm`).
    #[serde(skip_serializing_if = "is_false")]
    pub auto_remove: bool,
    /// User labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// OCI annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The OCI runtime's name ("" for the default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub oci_runtime: String,
    /// The signal that stops it (15 = SIGTERM).
    pub stop_signal: u32,
    /// Seconds to wait after `stop_signal` before SIGKILL.
    pub stop_timeout: u32,
    /// Where conmon writes its output.
    #[serde(skip_serializing_if = "is_empty_path")]
    pub log_path: PathBuf,
    /// Ids of containers it depends on (they must exist when it is added).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// When it was created.
    pub created: Timestamp,
    /// Mounts it asked for (`-v`, `--mount`, `--tmpfs`), bind sources
    /// resolved at creation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<ContainerMount>,
    /// Its root mounted read-only (`--read-only`).
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// With `read_only`: no tmpfs on /tmp, /var/tmp and /run
    /// (`--read-only-tmpfs=false`).
    #[serde(skip_serializing_if = "is_false")]
    pub no_read_only_tmpfs: bool,
    /// `/etc/hosts` entries added (`--add-host NAME:IP`), as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_hosts: Vec<String>,
    /// Name servers replacing the host's in `/etc/resolv.conf` (`--dns`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// Search domains replacing the host's (`--dns-search`; `.` for none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// Resolver options replacing the host's (`--dns-option`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// cgroup limits (`--memory`, `--cpus`, `--pids-limit`, ...).
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Capabilities added to the default set (canonical `CAP_` names, or
    /// `ALL`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities dropped from it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    #[serde(skip_serializing_if = "is_false")]
    pub no_new_privileges: bool,
    /// `--ulimit NAME=SOFT[:HARD]`, as given (checked at creation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<String>,
    /// `--init`: the configured init (catatonit) runs as pid 1.
    #[serde(skip_serializing_if = "is_false")]
    pub init: bool,
    /// Namespaced sysctls (`--sysctl KEY=VALUE`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `--oom-score-adj`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// `--shm-size` in bytes (default 64 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--privileged`.
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// The seccomp profile resolved at creation: a file, or `unconfined`;
    /// empty in records made before seccomp (the configured profile).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub seccomp_profile: String,
    /// Paths masked besides the defaults (`--security-opt mask=`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// Default masked paths left open (`--security-opt unmask=`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmask: Vec<String>,
    /// Host devices (`--device HOST[:CONTAINER][:PERMISSIONS]`), checked
    /// at creation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Namespaces shared with the host (`--pid host`, `--ipc host`,
    /// `--uts host`): `pid`, `ipc`, `uts`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_namespaces: Vec<String>,
    /// A cgroup namespace of its own (`--cgroupns private`).
    #[serde(skip_serializing_if = "is_false")]
    pub cgroupns_private: bool,
    /// The restart policy: empty (none), `on-failure`, `always`,
    /// `unless-stopped`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart_policy: String,
    /// `on-failure:N`'s N (0: no limit).
    #[serde(skip_serializing_if = "is_zero")]
    pub restart_retries: u32,
    /// `--cgroup-parent`: the cgroup the container's goes under (empty:
    /// the default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// The user's home from the root's passwd, given as `HOME` when the
    /// environment has none (podman adds it to the process, not to the
    /// configuration inspect shows).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// The health check (`--health-cmd` and friends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// `--group-add`, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// Supplementary groups resolved at creation: the primary group, the
    /// groups `/etc/group` lists the user in, and `--group-add`'s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
    /// The infra container of its pod (it holds the pod's network).
    #[serde(skip_serializing_if = "is_false")]
    pub is_infra: bool,
    /// `--network`'s mode: `host` (also a record from before networks:
    /// empty), `none`, `bridge` (the networks in `networks`),
    /// `container:ID`, `ns:PATH`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// The networks of a `bridge` container, in interface order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    /// `-p`, as asked for (a host port of 0: any free one, chosen at start).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PublishedPort>,
}

/// One network a container is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    /// The network's name.
    pub name: String,
    /// `eth0`, `eth1`, ...
    pub interface: String,
    /// `--network-alias` (and `--network NAME:alias=`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `--ip` (and `--network NAME:ip=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_ip: Option<String>,
    /// `--mac-address` (and `--network NAME:mac=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// A published port, or a range of `range` ports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishedPort {
    /// The host address ("" for all).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    /// The host's first port (0: any free one).
    pub host_port: u16,
    /// The container's first port.
    pub container_port: u16,
    /// How many.
    pub range: u16,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
}

/// What a container's network setup made, per network: its lease.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStatus {
    /// The network's name.
    pub name: String,
    /// The interface.
    pub interface: String,
    /// The leased address.
    pub ip: String,
    /// Its subnet's prefix length.
    pub prefix: u8,
    /// The gateway ("" on an internal network).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// The interface's MAC address (once set up).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// aardvark-dns's addresses for it (networks with DNS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// Its search domains (`dns.podman`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
}

/// A container's cgroup limits; unset fields are not applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Memory limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// Memory soft limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap in bytes (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// Relative CPU weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// CPU time per period, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// The CPU period, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    /// CPUs allowed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset_mems: String,
    /// Most processes (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Relative block I/O weight (10 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
    /// The OOM killer spares it (`--oom-kill-disable`).
    #[serde(skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
}

impl Resources {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// A mount a container asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerMount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The volume's name (`volume` mounts).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The host path of a bind mount (symlinks resolved at creation), or
    /// a volume's data directory.
    #[serde(skip_serializing_if = "is_empty_path")]
    pub source: PathBuf,
    /// Where it appears in the container (absolute, cleaned).
    pub destination: String,
    /// The OCI mount options, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What changes while a container lives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    /// Its status.
    pub status: ContainerStatus,
    /// The pid of its main process while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The pid of its conmon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conmon_pid: Option<u32>,
    /// The exit code of its last run (valid when `exited`).
    #[serde(skip_serializing_if = "is_zero")]
    pub exit_code: i32,
    /// Whether it has run and exited (exit code and finish time are valid).
    #[serde(skip_serializing_if = "is_false")]
    pub exited: bool,
    /// Whether the kernel's OOM killer ended its last run.
    #[serde(skip_serializing_if = "is_false")]
    pub oom_killed: bool,
    /// Whether the user stopped it (restart policies ignore it then).
    #[serde(skip_serializing_if = "is_false")]
    pub stopped_by_user: bool,
    /// How often a restart policy restarted it.
    #[serde(skip_serializing_if = "is_zero")]
    pub restart_count: u32,
    /// When it last started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it last exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Its per-boot run directory (under the tmp dir).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    /// Its OCI bundle directory (holds `config.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_path: Option<PathBuf>,
    /// Its health, when it has a health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
    /// Its network namespace while one is set up (under the tmp dir).
    /// Set, with `networks`, before the namespace is made: its addresses
    /// are leased from then until the state write that clears them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<PathBuf>,
    /// The addresses leased to it, per network, while `netns` is set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkStatus>,
    /// The ports published while it runs (host ports chosen).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PublishedPort>,
}

impl ContainerState {
    /// Reset the per-boot fields after a reboot (libpod-spec §3.8): no pids,
    /// status `configured` unless it exited (or is being removed), not
    /// stopped by the user, no restarts. Exit code, OOM flag and times are kept.
    pub fn reset_for_reboot(&mut self) {
        self.pid = None;
        self.conmon_pid = None;
        if !matches!(
            self.status,
            ContainerStatus::Exited | ContainerStatus::Removing
        ) {
            self.status = ContainerStatus::Configured;
        }
        self.stopped_by_user = false;
        self.restart_count = 0;
        // The namespace, the links and the firewall went with the boot.
        self.netns = None;
        self.networks.clear();
        self.ports.clear();
    }
}

/// A container: its config and its state, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    /// Fixed at creation.
    pub config: ContainerConfig,
    /// Changes while it lives.
    pub state: ContainerState,
}

/// What a pod is, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PodConfig {
    /// 64 lower-case hex characters (any string without `/` is accepted).
    pub id: String,
    /// Unique across containers and pods.
    pub name: String,
    /// The namespace ("" for none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// User labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The cgroup parent ("" for the default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// Whether its containers share the pod's cgroup.
    #[serde(skip_serializing_if = "is_false")]
    pub shares_cgroup: bool,
    /// Linux namespaces its containers share (`ipc`, `net`, `uts`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared_namespaces: Vec<String>,
    /// Whether it has an infra container.
    #[serde(skip_serializing_if = "is_false")]
    pub infra: bool,
    /// Its lock number in the lock manager.
    pub lock_id: u32,
    /// When it was created.
    pub created: Timestamp,
}

/// What changes while a pod lives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PodState {
    /// Its cgroup path (per boot; cleared by refresh).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_path: String,
    /// The id of its infra container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infra_container_id: Option<String>,
}

/// A pod: its config and its state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Fixed at creation.
    pub config: PodConfig,
    /// Changes while it lives.
    pub state: PodState,
}

/// The settings of the oxpod that created the database. An empty value
/// means "not set" (use the stored or the default value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DbConfig {
    /// The operating system (`linux`).
    pub os: String,
    /// The static dir (holds the database).
    pub static_dir: PathBuf,
    /// The per-boot tmp dir.
    pub tmp_dir: PathBuf,
    /// Where named volumes live.
    pub volume_path: PathBuf,
    /// Storage graph root (kept for compatibility).
    pub graph_root: PathBuf,
    /// Storage run root (kept for compatibility).
    pub run_root: PathBuf,
    /// Storage graph driver (kept for compatibility).
    pub graph_driver: String,
}

/// A record that could not be read and was left out of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is stored, e.g. `containers/<id>`.
    pub key: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The result of listing: the records that decoded, and those that did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    /// Records that decoded, sorted by id.
    pub items: Vec<T>,
    /// Records that did not decode (each also logged as a warning).
    pub skipped: Vec<Skipped>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_strings_and_json() {
        for st in ContainerStatus::ALL {
            assert_eq!(st.to_string().parse::<ContainerStatus>(), Ok(st));
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{st}\""));
        }
        assert_eq!(
            "sleeping"
                .parse::<ContainerStatus>()
                .unwrap_err()
                .to_string(),
            "unknown container state: sleeping"
        );
    }

    #[test]
    fn missing_fields_read_as_defaults() {
        let c: Container = serde_json::from_str(r#"{"config":{"id":"a","name":"b"}}"#).unwrap();
        assert_eq!(c.config.id, "a");
        assert_eq!(c.state.status, ContainerStatus::Configured);
        let c: Container =
            serde_json::from_str(r#"{"config":{"id":"a","future_field":1},"state":{}}"#).unwrap();
        assert_eq!(c.config.name, "");
    }

    #[test]
    fn reboot_reset_keeps_exit_information() {
        let t = Timestamp::from_second(1_700_000_000).unwrap();
        let mut s = ContainerState {
            status: ContainerStatus::Running,
            pid: Some(4),
            conmon_pid: Some(3),
            exit_code: 2,
            exited: true,
            stopped_by_user: true,
            restart_count: 5,
            started_at: Some(t),
            finished_at: Some(t),
            ..Default::default()
        };
        s.reset_for_reboot();
        assert_eq!(s.status, ContainerStatus::Configured);
        assert_eq!((s.pid, s.conmon_pid), (None, None));
        assert_eq!((s.exit_code, s.exited), (2, true));
        assert_eq!((s.started_at, s.finished_at), (Some(t), Some(t)));
        assert!(!s.stopped_by_user);
        assert_eq!(s.restart_count, 0);
        let mut e = ContainerState {
            status: ContainerStatus::Exited,
            ..Default::default()
        };
        e.reset_for_reboot();
        assert_eq!(e.status, ContainerStatus::Exited);
    }
}

/// A container's health check, as podman keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]`, or `["NONE"]`.
    pub test: Vec<String>,
    /// Nanoseconds between checks (podman's default 30 s).
    pub interval_ns: u64,
    /// Nanoseconds a check may take (default 30 s).
    pub timeout_ns: u64,
    /// Nanoseconds after the start in which failures do not count.
    pub start_period_ns: u64,
    /// Failures in a row that make the container unhealthy (default 3).
    pub retries: u32,
}

impl HealthConfig {
    /// The timeout (30 s when unset).
    pub fn timeout(&self) -> std::time::Duration {
        match self.timeout_ns {
            0 => std::time::Duration::from_secs(30),
            ns => std::time::Duration::from_nanos(ns),
        }
    }

    /// The start period.
    pub fn start_period(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.start_period_ns)
    }
}

/// One health check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthLog {
    /// When it began.
    pub start: Timestamp,
    /// When it ended.
    pub end: Timestamp,
    /// Its exit code (-1: it timed out).
    pub exit_code: i32,
    /// Its output (the first 500 bytes).
    pub output: String,
}

/// A container's health.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failures in a row.
    pub failing_streak: u32,
    /// The last results, oldest first.
    pub log: Vec<HealthLog>,
}
