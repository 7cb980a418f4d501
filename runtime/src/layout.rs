//! Where the runtime keeps things, derived once from the configuration.
//!
//! ```text
//! <static dir>/state/                LMDB environment (oxpod-state)
//! <static dir>/containers/<id>/      bundle: config.json, ctr.log
//! <tmp dir>/alive, alive.lck         reboot detection (boot id) and its lock
//! <tmp dir>/containers/<id>/         per boot: pid files, attach sockets
//! <tmp dir>/exits/<id>               exit code written by conmon
//! <tmp dir>/ledger/<pid>.<n>         journals of operations in progress (ledger.rs)
//! <tmp dir>/runtime/<runtime name>/  the OCI runtime's own state (--root)
//! <tmp dir>/events/events.log        events (file backend)
//! <tmp dir>/netns/<id>               a container's network namespace (bound)
//! <tmp dir>/netns/<id>.json          the netavark options it was set up with
//! <tmp dir>/networks/                netavark's --config (aardvark-dns), the
//!                                    address lock ipam.lock
//! <tmp dir>/probes.json              versions and packages of conmon and
//!                                    the runtimes, for `info` (probe.rs)
//! ```

use std::path::{Path, PathBuf};

use oxpod_config::Config;

/// The runtime's directories.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub static_dir: PathBuf,
    pub tmp_dir: PathBuf,
}

impl Layout {
    pub fn new(config: &Config) -> Self {
        Layout {
            static_dir: config.static_dir.clone(),
            tmp_dir: config.tmp_dir.clone(),
        }
    }

    pub fn alive_file(&self) -> PathBuf {
        self.tmp_dir.join("alive")
    }
    pub fn alive_lock(&self) -> PathBuf {
        self.tmp_dir.join("alive.lck")
    }
    pub fn exit_dir(&self) -> PathBuf {
        self.tmp_dir.join("exits")
    }
    pub fn runtime_root(&self) -> PathBuf {
        self.tmp_dir.join("runtime")
    }
    /// Present while a new lock segment's locks are not all re-claimed.
    pub fn claiming_file(&self) -> PathBuf {
        self.tmp_dir.join("locks.claiming")
    }
    /// Network namespaces of containers, and their netavark options.
    pub fn netns_dir(&self) -> PathBuf {
        self.tmp_dir.join("netns")
    }
    /// A container's network namespace.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.netns_dir().join(id)
    }
    /// The netavark options a container's namespace was set up with.
    pub fn netns_options(&self, id: &str) -> PathBuf {
        self.netns_dir().join(format!("{id}.json"))
    }
    /// netavark's `--config` directory (aardvark-dns's files).
    pub fn network_run_dir(&self) -> PathBuf {
        self.tmp_dir.join("networks")
    }
    /// Held while addresses and host ports are chosen.
    pub fn ipam_lock(&self) -> PathBuf {
        self.network_run_dir().join("ipam.lock")
    }
    /// The image store.
    pub fn storage_dir(&self) -> PathBuf {
        self.static_dir.join("storage")
    }
    /// The container's bundle directory, holding `config.json`.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.static_dir.join("containers").join(id)
    }
    /// The container's per-boot directory.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.tmp_dir.join("containers").join(id)
    }
    /// The `/etc/hosts` every member of pod `id` shares (per boot).
    pub fn pod_hosts(&self, id: &str) -> PathBuf {
        self.tmp_dir.join("pods").join(id).join("hosts")
    }
    /// The container's `config.json`.
    pub fn bundle_config(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join(oxpod_ociruntime::BUNDLE_CONFIG)
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join("ctr.log")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.tmp_dir.join("socket")
    }
}

/// The bytes of the regular files under `path`, symlinks not followed; 0
/// for a missing path. What removing it gives back.
pub(crate) fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum::<u64>())
        .unwrap_or(0)
}

/// `mkdir -p` to a directory only we can use: made 0700, an existing one
/// with looser bits tightened to 0700, and one owned by another user
/// refused (it could have been planted to read our bundles' secrets).
pub(crate) fn private_dir(what: &'static str, path: &Path) -> crate::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    make_dir(path, 0o700)?;
    let meta = std::fs::metadata(path).map_err(|e| crate::Error::io("stat", path, e))?;
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(crate::Error::NotOurs {
            what,
            path: path.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    // A directory every user may write to (/tmp, say) cannot be made ours
    // by a chmod without breaking the others who use it; others could also
    // have planted anything in it.
    if meta.mode() & 0o002 != 0 {
        return Err(crate::Error::SharedDir {
            what,
            path: path.to_path_buf(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        tracing::info!(path = %path.display(), mode = format!("{:o}", meta.mode() & 0o777), "making {what} private (0700)");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| crate::Error::io("set the mode of", path, e))?;
    }
    Ok(())
}

/// `mkdir -p` with a mode for the last component.
pub(crate) fn make_dir(path: &Path, mode: u32) -> crate::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| crate::Error::io("create", path, e))
}
