//! The configuration model: every libpod.conf (v1.4) key plus oxpod's own,
//! defaults for root and rootless users, validation and TOML output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};
use crate::identity::Identity;
use crate::kinds::{CgroupManager, EventsBackend, LockType, RuntimeChoice, StorageDriver};

/// Largest accepted `num_locks` (2^20: a 40 MiB lock segment).
pub const MAX_NUM_LOCKS: u32 = 1 << 20;
/// Smallest accepted `state_map_size` (1 MiB).
pub const MIN_STATE_MAP_SIZE: u64 = 1 << 20;

/// A field type, described in words for type errors.
pub(crate) trait FieldType {
    /// What the key needs, e.g. "a string".
    const EXPECTED: &'static str;
    /// True for integer fields (an out-of-range integer is an invalid value,
    /// not a type error).
    const INTEGER: bool = false;
    /// For a field with a fixed set of words: why another word is refused
    /// (then a string outside the set is an invalid value, not a type error).
    const CHOICE: Option<&'static str> = None;
}

impl FieldType for String {
    const EXPECTED: &'static str = "a string";
}
impl FieldType for PathBuf {
    const EXPECTED: &'static str = "a path (a string)";
}
impl FieldType for bool {
    const EXPECTED: &'static str = "a boolean (true or false)";
}
impl FieldType for u32 {
    const EXPECTED: &'static str = "a non-negative integer";
    const INTEGER: bool = true;
}
impl FieldType for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    const INTEGER: bool = true;
}
impl FieldType for i64 {
    const EXPECTED: &'static str = "an integer";
    const INTEGER: bool = true;
}
impl FieldType for Vec<String> {
    const EXPECTED: &'static str = "an array of strings";
}
impl FieldType for Vec<PathBuf> {
    const EXPECTED: &'static str = "an array of paths (strings)";
}
impl<T: FieldType> FieldType for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    const INTEGER: bool = T::INTEGER;
}
impl FieldType for BTreeMap<String, Vec<PathBuf>> {
    const EXPECTED: &'static str = "a table of runtime name = [paths]";
}

/// Outcome of setting one key from a TOML value.
pub(crate) enum SetOutcome {
    Set,
    Unknown,
    /// Wrong type; `expected` in words, `integer` when the field is an integer.
    Mismatch {
        expected: &'static str,
        integer: bool,
        /// For a fixed set of words: why this one is refused.
        choice: Option<&'static str>,
    },
}

macro_rules! config_struct {
    ($( $(#[$meta:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        /// The effective configuration. Field names are the libpod.conf (v1.4)
        /// TOML keys, so an existing `libpod.conf` loads unchanged.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Config {
            $( $(#[$meta])* pub $field: $ty, )*
        }

        impl Config {
            /// Every key, in file order (`runtimes` last: it is a table).
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The value of `key` as TOML, or `None` for an unknown key or an
            /// unset optional key.
            pub fn value(&self, key: &str) -> Option<toml::Value> {
                match key {
                    $( stringify!($field) => toml::Value::try_from(&self.$field).ok(), )*
                    _ => None,
                }
            }

            /// Replaces the value of `key` (whole value, tables included).
            pub(crate) fn set_value(&mut self, key: &str, value: toml::Value) -> SetOutcome {
                match key {
                    $( stringify!($field) => match value.try_into::<$ty>() {
                        Ok(v) => {
                            self.$field = v;
                            SetOutcome::Set
                        }
                        Err(_) => SetOutcome::Mismatch {
                            expected: <$ty as FieldType>::EXPECTED,
                            integer: <$ty as FieldType>::INTEGER,
                            choice: <$ty as FieldType>::CHOICE,
                        },
                    }, )*
                    _ => SetOutcome::Unknown,
                }
            }
        }
    };
}

config_struct! {
    /// Directory for named volumes; default `<static_dir>/volumes`.
    volume_path: PathBuf,
    /// Default transport for images (`docker://`).
    image_default_transport: String,
    /// Signature policy file; unset uses the containers/image default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature_policy_path: Option<PathBuf>,
    /// Default OCI runtime: a name in `runtimes` or an absolute path.
    runtime: RuntimeChoice,
    /// Runtimes that accept `--log-format=json`.
    runtime_supports_json: Vec<String>,
    /// Deprecated: paths of the runtime to use; when set it wins over `runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime_path: Option<Vec<PathBuf>>,
    /// Candidate paths of conmon; the first existing non-directory is used.
    conmon_path: Vec<PathBuf>,
    /// Environment given to conmon.
    conmon_env_vars: Vec<String>,
    /// `systemd` or `cgroupfs`.
    cgroup_manager: CgroupManager,
    /// Container init binary (for `--init`).
    init_path: PathBuf,
    /// The seccomp profile containers get (containers/common's format).
    seccomp_profile: PathBuf,
    /// Persistent directory holding the database.
    static_dir: PathBuf,
    /// Per-boot directory; must be on tmpfs.
    tmp_dir: PathBuf,
    /// Maximum size of container log files in bytes; -1 is unlimited.
    max_log_size: i64,
    /// Use chroot instead of pivot_root.
    no_pivot_root: bool,
    /// CNI configuration directory.
    cni_config_dir: PathBuf,
    /// Directories holding CNI plugins.
    cni_plugin_dir: Vec<PathBuf>,
    /// Default CNI network name ("" uses CNI precedence).
    cni_default_network: String,
    /// OCI hooks directories; unset uses the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hooks_dir: Option<Vec<PathBuf>>,
    /// The libpod namespace to join ("" sees everything).
    namespace: String,
    /// Image of pod infra containers.
    infra_image: String,
    /// Command of pod infra containers.
    infra_command: String,
    /// Whether conmon holds forwarded host ports open.
    enable_port_reservation: bool,
    /// Whether containers are labelled (SELinux).
    label: bool,
    /// Directory of network definitions (netavark's JSON, one per network).
    network_config_dir: PathBuf,
    /// A container's network when `--network` is not given: `bridge` (the
    /// default network; podman's `private`), `host` or `none`.
    netns: String,
    /// Path of slirp4netns; unset searches PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_cmd_path: Option<PathBuf>,
    /// Number of locks for containers and pods (change needs `system renumber`).
    num_locks: u32,
    /// Lock backend: `shm`.
    lock_type: LockType,
    /// Name of the SHM lock segment (`shm_open` name, starts with `/`).
    lock_name: String,
    /// `file`, `journald` or `none` (case-insensitive).
    events_logger: EventsBackend,
    /// Events log of the file backend; default `<tmp_dir>/events/events.log`.
    events_logfile_path: PathBuf,
    /// Rotate the events log at this size in bytes; 0 or -1: never rotate.
    events_logfile_max_size: i64,
    /// Key sequence that detaches from a container.
    detach_keys: String,
    /// Default pids limit of containers; 0 or -1: unlimited.
    pids_limit: i64,
    /// LMDB map size of the state database in bytes.
    state_map_size: u64,
    /// Seconds an operation waits for a container's or pod's lock before it
    /// fails naming the holder's pid (podman waits forever).
    lock_timeout: u64,
    /// How container roots are made from image layers: `overlay` or `vfs`
    /// (storage.conf's `driver`).
    storage_driver: StorageDriver,
    /// OCI runtimes: name → candidate paths (merged entry by entry across layers).
    runtimes: BTreeMap<String, Vec<PathBuf>>,
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

impl Config {
    /// The built-in defaults for `identity` (design.md's Paths table).
    ///
    /// Root never fails. Rootless needs a data home (`XDG_DATA_HOME` or HOME)
    /// and a runtime dir ([`Identity::runtime_dir`], which may create it).
    pub fn defaults(identity: &Identity) -> Result<Config> {
        let (static_dir, tmp_dir, lock_name) = if identity.rootless {
            let data = identity.data_home().ok_or(Error::NoHome {
                uid: identity.uid,
                needed: "XDG_DATA_HOME",
            })?;
            (
                data.join("oxpod"),
                identity.runtime_dir()?.join("oxpod"),
                format!("/oxpod_rootless_lock_{}", identity.uid),
            )
        } else {
            (
                PathBuf::from("/var/lib/oxpod"),
                PathBuf::from("/run/oxpod"),
                "/oxpod_lock".to_owned(),
            )
        };
        // Rootless networks (slirp4netns, rootlessport) are not built yet:
        // a rootless container shares its user's network by default.
        let (network_config_dir, netns) = if identity.rootless {
            (
                identity
                    .config_home()
                    .map(|c| c.join("oxpod/networks"))
                    .unwrap_or_else(|| static_dir.join("networks")),
                "host",
            )
        } else {
            (PathBuf::from("/etc/oxpod/networks"), "bridge")
        };
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            "runc".to_owned(),
            paths(&[
                "/usr/bin/runc",
                "/usr/sbin/runc",
                "/usr/local/bin/runc",
                "/usr/local/sbin/runc",
                "/sbin/runc",
                "/bin/runc",
                "/usr/lib/cri-o-runc/sbin/runc",
            ]),
        );
        runtimes.insert(
            "crun".to_owned(),
            paths(&[
                "/usr/bin/crun",
                "/usr/sbin/crun",
                "/usr/local/bin/crun",
                "/usr/local/sbin/crun",
            ]),
        );
        runtimes.insert(
            "youki".to_owned(),
            paths(&[
                "/usr/bin/youki",
                "/usr/sbin/youki",
                "/usr/local/bin/youki",
                "/usr/local/sbin/youki",
            ]),
        );
        Ok(Config {
            volume_path: static_dir.join("volumes"),
            image_default_transport: "docker://".to_owned(),
            signature_policy_path: None,
            runtime: RuntimeChoice::Name("runc".to_owned()),
            runtime_supports_json: vec!["runc".to_owned(), "crun".to_owned()],
            runtime_path: None,
            conmon_path: paths(&[
                "/usr/libexec/podman/conmon",
                "/usr/local/libexec/podman/conmon",
                "/usr/libexec/crio/conmon",
                "/usr/local/lib/podman/conmon",
                "/usr/local/libexec/crio/conmon",
                "/usr/bin/conmon",
                "/usr/sbin/conmon",
                "/usr/local/bin/conmon",
                "/usr/local/sbin/conmon",
                "/usr/lib/crio/bin/conmon",
            ]),
            conmon_env_vars: vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ],
            cgroup_manager: CgroupManager::Cgroupfs,
            init_path: PathBuf::from("/usr/libexec/podman/catatonit"),
            seccomp_profile: PathBuf::from("/usr/share/containers/seccomp.json"),
            events_logfile_path: tmp_dir.join("events/events.log"),
            static_dir,
            tmp_dir,
            max_log_size: -1,
            no_pivot_root: false,
            cni_config_dir: PathBuf::from("/etc/cni/net.d/"),
            cni_plugin_dir: paths(&[
                "/usr/libexec/cni",
                "/usr/lib/cni",
                "/usr/local/lib/cni",
                "/opt/cni/bin",
            ]),
            cni_default_network: String::new(),
            hooks_dir: None,
            namespace: String::new(),
            infra_image: "k8s.gcr.io/pause:3.1".to_owned(),
            infra_command: "/pause".to_owned(),
            enable_port_reservation: true,
            label: true,
            network_config_dir,
            netns: netns.to_owned(),
            network_cmd_path: None,
            num_locks: 2048,
            lock_type: LockType::Shm,
            lock_name,
            events_logger: EventsBackend::File,
            events_logfile_max_size: 1_000_000,
            detach_keys: "ctrl-p,ctrl-q".to_owned(),
            pids_limit: 2048,
            state_map_size: 1 << 30,
            lock_timeout: 300,
            storage_driver: StorageDriver::Overlay,
            runtimes,
        })
    }

    /// The default volume path for this config's static dir.
    pub fn derived_volume_path(&self) -> PathBuf {
        self.static_dir.join("volumes")
    }

    /// The default events log for this config's tmp dir.
    pub fn derived_events_logfile_path(&self) -> PathBuf {
        self.tmp_dir.join("events/events.log")
    }

    /// The configuration as a TOML document (keys in [`Config::KEYS`] order,
    /// unset optional keys left out). Loading it gives the same config back.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Serialize {
            message: e.to_string(),
        })
    }

    /// Every invalid value, one [`Problem`] each (origins unknown here; see
    /// `Loaded::problems` for problems with origins).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key: &str, value: String, reason: String| {
            out.push(Problem {
                key: key.to_owned(),
                value,
                reason,
                origin: None,
            });
        };
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let qpath = |p: &Path| toml::Value::String(p.display().to_string()).to_string();

        if self.num_locks == 0 || self.num_locks > MAX_NUM_LOCKS {
            bad(
                "num_locks",
                self.num_locks.to_string(),
                format!(
                    "must be between 1 and {MAX_NUM_LOCKS}; after changing it run `oxpod system renumber`"
                ),
            );
        }
        if !matches!(self.netns.as_str(), "bridge" | "private" | "host" | "none") {
            bad(
                "netns",
                quote(&self.netns),
                "must be bridge (or private), host or none".to_owned(),
            );
        }
        if self.lock_timeout == 0 {
            bad(
                "lock_timeout",
                "0".to_owned(),
                "must be at least 1 second".to_owned(),
            );
        }
        if self.state_map_size < MIN_STATE_MAP_SIZE {
            bad(
                "state_map_size",
                self.state_map_size.to_string(),
                format!("must be at least {MIN_STATE_MAP_SIZE} bytes (1 MiB)"),
            );
        }
        for (key, v) in [
            ("max_log_size", self.max_log_size),
            ("events_logfile_max_size", self.events_logfile_max_size),
            ("pids_limit", self.pids_limit),
        ] {
            if v < -1 {
                bad(
                    key,
                    v.to_string(),
                    "must be -1 (unlimited) or a size of 0 or more".to_owned(),
                );
            }
        }
        // The default runtime.
        match &self.runtime_path {
            Some(list) if list.is_empty() => bad(
                "runtime_path",
                "[]".to_owned(),
                "empty runtime path array passed: remove runtime_path (deprecated) or list paths"
                    .to_owned(),
            ),
            Some(_) => {}
            None => {
                if let RuntimeChoice::Name(name) = &self.runtime {
                    match self.runtimes.get(name) {
                        None => bad(
                            "runtime",
                            quote(name),
                            format!(
                                "not in [runtimes] ({}) and not an absolute path: add it to [runtimes] or give its full path",
                                self.runtimes.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ),
                        Some(list) if list.is_empty() => bad(
                            &format!("runtimes.{name}"),
                            "[]".to_owned(),
                            "the default runtime needs at least one candidate path".to_owned(),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
        if self.conmon_path.is_empty() {
            bad(
                "conmon_path",
                "[]".to_owned(),
                "needs at least one candidate path, e.g. \"/usr/bin/conmon\"".to_owned(),
            );
        }
        // Directories (and the events log) must be absolute.
        let relative = "must be an absolute path".to_owned();
        for (key, p) in [
            ("static_dir", &self.static_dir),
            ("tmp_dir", &self.tmp_dir),
            ("volume_path", &self.volume_path),
            ("cni_config_dir", &self.cni_config_dir),
            ("network_config_dir", &self.network_config_dir),
            ("events_logfile_path", &self.events_logfile_path),
        ] {
            if !p.is_absolute() {
                bad(key, qpath(p), relative.clone());
            }
        }
        let mut lists: Vec<(String, &[PathBuf])> = vec![
            ("cni_plugin_dir".to_owned(), &self.cni_plugin_dir),
            ("conmon_path".to_owned(), &self.conmon_path),
        ];
        if let Some(h) = &self.hooks_dir {
            lists.push(("hooks_dir".to_owned(), h));
        }
        if let Some(r) = &self.runtime_path {
            lists.push(("runtime_path".to_owned(), r));
        }
        for (name, list) in &self.runtimes {
            lists.push((format!("runtimes.{name}"), list));
        }
        for (key, list) in lists {
            for p in list {
                if p.as_os_str().is_empty() && key == "hooks_dir" {
                    bad(
                        &key,
                        qpath(p),
                        "empty-string hook directories are not supported".to_owned(),
                    );
                } else if !p.is_absolute() {
                    bad(&key, qpath(p), relative.clone());
                }
            }
        }
        if !valid_lock_name(&self.lock_name) {
            bad(
                "lock_name",
                quote(&self.lock_name),
                "must be \"/\" followed by 1 to 254 characters other than \"/\" and NUL".to_owned(),
            );
        }
        if let Err(reason) = check_detach_keys(&self.detach_keys) {
            bad("detach_keys", quote(&self.detach_keys), reason);
        }
        out
    }

    /// Checks every value; [`Error::Invalid`] lists all bad values at once.
    pub fn validate(&self) -> Result<()> {
        Error::check(self.problems())
    }
}

fn valid_lock_name(name: &str) -> bool {
    match name.strip_prefix('/') {
        Some(rest) => {
            !rest.is_empty() && rest.len() < 255 && !rest.contains('/') && !rest.contains('\0')
        }
        None => false,
    }
}

/// podman's detach-key format: "" (disabled) or a comma-separated list of
/// single characters and `ctrl-<c>` with c in a-z, @, ^, [, \, ], _.
fn check_detach_keys(keys: &str) -> std::result::Result<(), String> {
    if keys.is_empty() {
        return Ok(());
    }
    for part in keys.split(',') {
        if part.chars().count() == 1 {
            continue;
        }
        let ok = part.strip_prefix("ctrl-").is_some_and(|c| {
            c.len() == 1
                && c.chars()
                    .all(|c| c.is_ascii_lowercase() || "@^[\\]_".contains(c))
        });
        if !ok {
            return Err(format!(
                "unknown key `{part}`: use single characters or ctrl-<a-z, @, ^, [, \\, ], _> separated by commas"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Config {
        Config::defaults(&Identity::root()).unwrap()
    }

    fn only_problem(c: &Config) -> Problem {
        let mut p = c.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        p.remove(0)
    }

    #[test]
    fn root_defaults() {
        let c = root();
        assert_eq!(c.static_dir, Path::new("/var/lib/oxpod"));
        assert_eq!(c.tmp_dir, Path::new("/run/oxpod"));
        assert_eq!(c.volume_path, Path::new("/var/lib/oxpod/volumes"));
        assert_eq!(
            c.events_logfile_path,
            Path::new("/run/oxpod/events/events.log")
        );
        assert_eq!(c.lock_name, "/oxpod_lock");
        assert_eq!(c.num_locks, 2048);
        assert_eq!(c.runtime, RuntimeChoice::Name("runc".into()));
        assert_eq!(c.cgroup_manager, CgroupManager::Cgroupfs);
        assert!(c.runtimes["runc"].contains(&PathBuf::from("/usr/sbin/runc")));
        assert!(c.runtimes["crun"].contains(&PathBuf::from("/usr/bin/crun")));
        assert!(c.runtimes.contains_key("youki"));
        assert!(c.conmon_path.contains(&PathBuf::from("/usr/bin/conmon")));
        assert!(
            c.conmon_path
                .contains(&PathBuf::from("/usr/local/libexec/podman/conmon"))
        );
        assert_eq!(c.problems(), vec![]);
    }

    #[test]
    fn rootless_defaults_use_xdg_dirs() {
        let t = tempfile::tempdir().unwrap();
        let mut id = Identity::rootless(1234, t.path().join("home"));
        id.xdg_runtime_dir = Some(t.path().join("xdg-run"));
        id.xdg_data_home = Some(t.path().join("xdg-data"));
        let c = Config::defaults(&id).unwrap();
        assert_eq!(c.static_dir, t.path().join("xdg-data/oxpod"));
        assert_eq!(c.volume_path, t.path().join("xdg-data/oxpod/volumes"));
        assert_eq!(c.tmp_dir, t.path().join("xdg-run/oxpod"));
        assert_eq!(
            c.events_logfile_path,
            t.path().join("xdg-run/oxpod/events/events.log")
        );
        assert_eq!(c.lock_name, "/oxpod_rootless_lock_1234");
        assert_eq!(c.problems(), vec![]);
    }

    #[test]
    fn rootless_defaults_fall_back_to_home() {
        let t = tempfile::tempdir().unwrap();
        let mut id = Identity::rootless(4321, t.path().join("home"));
        // No /run/user, no usable TMPDIR: HOME/rundir.
        id.run_user_dir = t.path().join("missing-run-user");
        id.tmpdir = Some(t.path().join("missing-tmp"));
        let c = Config::defaults(&id).unwrap();
        assert_eq!(c.static_dir, t.path().join("home/.local/share/oxpod"));
        assert_eq!(c.tmp_dir, t.path().join("home/rundir/oxpod"));
    }

    #[test]
    fn rootless_defaults_fall_back_to_tmpdir_run_uid() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("tmp")).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let mut id = Identity::rootless(uid, t.path().join("home"));
        id.run_user_dir = t.path().join("missing-run-user");
        id.tmpdir = Some(t.path().join("tmp"));
        let c = Config::defaults(&id).unwrap();
        assert_eq!(c.tmp_dir, t.path().join(format!("tmp/run-{uid}/oxpod")));
        assert_eq!(
            c.events_logfile_path,
            t.path()
                .join(format!("tmp/run-{uid}/oxpod/events/events.log"))
        );
        assert_eq!(c.lock_name, format!("/oxpod_rootless_lock_{uid}"));
    }

    #[test]
    fn rootless_without_runtime_dir_or_home_fails() {
        let t = tempfile::tempdir().unwrap();
        let mut id = Identity::rootless(4321, t.path().join("home"));
        id.xdg_data_home = Some(t.path().join("data"));
        id.home = None;
        id.run_user_dir = t.path().join("missing-run-user");
        id.tmpdir = Some(t.path().join("missing-tmp"));
        let err = Config::defaults(&id).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cannot find a runtime directory for uid 4321: neither XDG_RUNTIME_DIR nor HOME was set non-empty"
            ),
            "{err}"
        );
    }

    #[test]
    fn rootless_without_home_fails() {
        let mut id = Identity::rootless(4321, "/nonexistent");
        id.home = None;
        id.xdg_runtime_dir = Some(PathBuf::from("/run/user/4321"));
        let err = Config::defaults(&id).unwrap_err().to_string();
        assert_eq!(
            err,
            "unable to resolve HOME directory for uid 4321 (needed for XDG_DATA_HOME): set HOME or XDG_DATA_HOME"
        );
    }

    #[test]
    fn enumerated_keys_take_their_words_only() {
        let mut c = root();
        let set = |c: &mut Config, k: &str, v: &str| c.set_value(k, toml::Value::String(v.into()));
        assert!(matches!(
            set(&mut c, "events_logger", "JournalD"),
            SetOutcome::Set
        ));
        assert_eq!(c.events_logger, EventsBackend::Journald);
        assert!(matches!(
            set(&mut c, "cgroup_manager", "systemd"),
            SetOutcome::Set
        ));
        assert_eq!(c.cgroup_manager, CgroupManager::Systemd);
        for (key, word) in [
            ("cgroup_manager", "cgroupv3"),
            ("events_logger", "syslog"),
            ("lock_type", "file"),
        ] {
            assert!(
                matches!(
                    set(&mut c, key, word),
                    SetOutcome::Mismatch {
                        choice: Some(_),
                        ..
                    }
                ),
                "{key} = {word}"
            );
        }
        assert_eq!(c.cgroup_manager, CgroupManager::Systemd, "unchanged");
        assert_eq!(
            c.value("lock_type"),
            Some(toml::Value::String("shm".into()))
        );
    }

    #[test]
    fn bad_num_locks() {
        let mut c = root();
        c.num_locks = 0;
        let msg = only_problem(&c).to_string();
        assert!(
            msg.starts_with("num_locks = 0 is invalid: must be between 1 and 1048576"),
            "{msg}"
        );
        c.num_locks = MAX_NUM_LOCKS + 1;
        assert!(
            only_problem(&c)
                .to_string()
                .starts_with("num_locks = 1048577 is invalid")
        );
        c.num_locks = MAX_NUM_LOCKS;
        assert_eq!(c.problems(), vec![]);
    }

    #[test]
    fn bad_default_runtime() {
        let mut c = root();
        c.runtime = "kata".parse().unwrap();
        assert_eq!(
            only_problem(&c).to_string(),
            "runtime = \"kata\" is invalid: not in [runtimes] (crun, runc, youki) and not an absolute path: add it to [runtimes] or give its full path"
        );
        c.runtime = "/opt/kata/bin/kata-runtime".parse().unwrap();
        assert_eq!(c.problems(), vec![]);
        c.runtime = "kata".parse().unwrap();
        c.runtime_path = Some(vec![PathBuf::from("/usr/bin/runc")]);
        assert_eq!(c.problems(), vec![], "runtime_path wins over runtime");
        c.runtime_path = Some(vec![]);
        assert!(
            only_problem(&c)
                .to_string()
                .contains("empty runtime path array passed")
        );
    }

    #[test]
    fn relative_directories() {
        let mut c = root();
        c.static_dir = "var/lib/oxpod".into();
        c.cni_plugin_dir.push("cni".into());
        let p = c.problems();
        let msgs: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "static_dir = \"var/lib/oxpod\" is invalid: must be an absolute path",
                "cni_plugin_dir = \"cni\" is invalid: must be an absolute path",
            ]
        );
    }

    #[test]
    fn negative_sizes() {
        let mut c = root();
        c.max_log_size = -1;
        c.events_logfile_max_size = -1;
        c.pids_limit = 0;
        assert_eq!(c.problems(), vec![]);
        c.max_log_size = -2;
        c.events_logfile_max_size = -100;
        let msgs: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "max_log_size = -2 is invalid: must be -1 (unlimited) or a size of 0 or more",
                "events_logfile_max_size = -100 is invalid: must be -1 (unlimited) or a size of 0 or more",
            ]
        );
    }

    #[test]
    fn other_values() {
        let mut c = root();
        c.lock_name = "oxpod_lock".into();
        c.detach_keys = "ctrl-p,ctrl-1".into();
        c.conmon_path.clear();
        c.hooks_dir = Some(vec![PathBuf::new()]);
        c.state_map_size = 4096;
        let keys: Vec<String> = c.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            vec![
                "state_map_size",
                "conmon_path",
                "hooks_dir",
                "lock_name",
                "detach_keys"
            ]
        );
        assert!(check_detach_keys("ctrl-p,ctrl-q").is_ok());
        assert!(check_detach_keys("a,ctrl-[,ctrl-_").is_ok());
        assert!(check_detach_keys("").is_ok());
        assert!(check_detach_keys("ctrl-pq").is_err());
    }

    #[test]
    fn validate_lists_all_problems() {
        let mut c = root();
        c.num_locks = 0;
        c.state_map_size = 4096;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.starts_with("invalid configuration: num_locks = 0 is invalid"));
        assert!(err.contains("; state_map_size = 4096 is invalid"), "{err}");
    }

    #[test]
    fn value_by_key() {
        let c = root();
        assert_eq!(c.value("num_locks"), Some(toml::Value::Integer(2048)));
        assert_eq!(c.value("runtime_path"), None);
        assert_eq!(c.value("nope"), None);
        for key in Config::KEYS {
            let optional = [
                "runtime_path",
                "hooks_dir",
                "signature_policy_path",
                "network_cmd_path",
            ];
            assert_eq!(c.value(key).is_some(), !optional.contains(key), "{key}");
        }
    }
}
