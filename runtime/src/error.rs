//! The runtime's error type: the leaf crates' errors, passed through
//! unchanged, plus the runtime's own.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration could not be loaded or is invalid.
    #[error(transparent)]
    Config(#[from] oxpod_config::Error),
    /// The lock segment or a lock failed.
    #[error(transparent)]
    Locks(#[from] oxpod_locks::Error),
    /// The database failed.
    #[error(transparent)]
    State(#[from] oxpod_state::Error),
    /// The events log failed.
    #[error(transparent)]
    Events(#[from] oxpod_events::Error),
    /// conmon or the OCI runtime failed.
    #[error(transparent)]
    Oci(#[from] oxpod_ociruntime::Error),
    /// The image store failed.
    #[error(transparent)]
    Storage(#[from] oxpod_storage::Error),
    /// An image reference, config or archive is bad.
    #[error(transparent)]
    Image(#[from] oxpod_image::Error),
    /// A network definition, namespace or netavark error.
    #[error(transparent)]
    Network(#[from] oxpod_network::Error),
    /// A network that containers still use.
    #[error("\"{name}\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used (by {})", containers.join(", "))]
    NetworkInUse {
        /// The network.
        name: String,
        /// The names of the containers using it.
        containers: Vec<String>,
    },
    /// The overlay driver is configured where overlay cannot work.
    #[error(
        "overlay does not work for the store at {} on {filesystem}: {reason}; set storage_driver = \"vfs\" in oxpod's config",
        store.display()
    )]
    OverlayUnusable {
        /// The store's directory.
        store: std::path::PathBuf,
        /// Its file system.
        filesystem: String,
        /// What the probe found.
        reason: String,
    },
    /// A bad argument to an operation.
    #[error("{what}: {reason}")]
    InvalidArgument {
        /// The operation or flag.
        what: String,
        /// What is wrong, and the remedy.
        reason: String,
    },
    /// A user or group the image does not know.
    #[error("invalid user {spec:?}: {reason}")]
    UnknownUser {
        /// The user as given.
        spec: String,
        /// Why.
        reason: String,
    },
    /// No image has this name or id.
    #[error(
        "{name}: image not known: load it first (`oxpod load -i FILE`), or give its full name or id"
    )]
    ImageNotFound {
        /// What was looked up.
        name: String,
    },
    /// An id prefix of several images.
    #[error(
        "more than one image matches ID prefix {prefix} ({count} matches): give more characters"
    )]
    ImageAmbiguous {
        /// The prefix.
        prefix: String,
        /// How many match.
        count: usize,
    },
    /// An image containers are made from.
    #[error(
        "image {image} is in use by container(s) {}: remove them first, or use --force to remove them with it",
        containers.join(", ")
    )]
    ImageInUse {
        /// The image as given.
        image: String,
        /// The containers' names.
        containers: Vec<String>,
    },

    /// A listing filter that cannot be used.
    #[error("invalid filter {filter:?}: {reason}")]
    InvalidFilter {
        /// The filter as given (`key=value`).
        filter: String,
        /// Why.
        reason: String,
    },
    /// The runtime was shut down; open a new one.
    #[error("runtime has already been stopped")]
    Stopped,
    /// A file-system operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`create`, `read`, `write`, `remove`, `lock`).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A user-given name is not valid.
    #[error(
        "invalid name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and have at most 200 characters"
    )]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// `--rootfs` names the host's root directory.
    #[error(
        "rootfs {} is the host's root directory: a container would get the host read-write; give a directory holding the container's own files", given.display()
    )]
    HostRootfs {
        /// The path given.
        given: PathBuf,
    },
    /// A container's OCI runtime is not (or no longer) configured.
    #[error(
        "container {name} uses OCI runtime {runtime:?}, which is not configured; add it to [runtimes], or remove the container"
    )]
    RuntimeNotConfigured {
        /// The container's name.
        name: String,
        /// The runtime it was created with.
        runtime: String,
    },
    /// A container's lock number kept changing under us (renumbers racing).
    #[error("the lock of container {name} keeps changing (a renumber is running?); try again")]
    LockMoving {
        /// The container's name.
        name: String,
    },
    /// Records that do not decode: a repair that releases what no record
    /// claims cannot know what they claim.
    #[error("{count} record(s) do not decode; nothing was released (see `oxpod system check`)")]
    UndecodableRecords {
        /// How many.
        count: usize,
    },
    /// Several members of a pod failed.
    #[error("pod {pod}: {}", failures.join("; "))]
    PodMembers {
        /// The pod's name.
        pod: String,
        /// Each failed member, as `name: error`.
        failures: Vec<String>,
    },
    /// A reset could not remove everything; nothing else was removed.
    #[error("reset stopped: {}", failures.join("; "))]
    ResetIncomplete {
        /// Each object that could not be removed, with why.
        failures: Vec<String>,
    },
    /// A forced shutdown could not stop everything.
    #[error("shutdown incomplete: {}", failures.join("; "))]
    ShutdownIncomplete {
        /// What failed, with why.
        failures: Vec<String>,
    },
    /// An operation that needs the container in another state.
    #[error("container {name} is {status}: {remedy}")]
    ContainerState {
        /// Name of the container.
        name: String,
        /// Its status now.
        status: String,
        /// What to do about it.
        remedy: &'static str,
    },
    /// Every place a pull tried failed.
    #[error("cannot pull {name}: {}", errors.join("; "))]
    PullFailed {
        /// The name asked for.
        name: String,
        /// What each candidate said.
        errors: Vec<String>,
    },
    /// A volume name already taken.
    #[error("volume with name {name} already exists: volume already exists")]
    VolumeExists {
        /// The name.
        name: String,
    },
    /// No volume by that name.
    #[error("no volume with name {name:?} found: no such volume")]
    NoSuchVolume {
        /// The name.
        name: String,
    },
    /// A volume containers use.
    #[error("volume {name} is being used by the following container(s): {}: volume is being used (remove them first, or use --force)", containers.join(", "))]
    VolumeInUse {
        /// The volume.
        name: String,
        /// The containers using it.
        containers: Vec<String>,
    },
    /// A volume's own file system (`volume create -o type=...`) cannot be
    /// mounted.
    #[error("cannot mount volume {name} ({command}): {reason}")]
    VolumeMount {
        /// The volume.
        name: String,
        /// The `mount` command run.
        command: String,
        /// What `mount` said.
        reason: String,
    },
    /// A bad `-v`, `--mount` or `--tmpfs`.
    #[error("invalid mount {spec:?}: {reason}")]
    InvalidMount {
        /// The mount as given (or its destination).
        spec: String,
        /// What is wrong, and the remedy.
        reason: String,
    },
    /// A running container whose conmon died: its attach socket, log and
    /// exit went with it.
    #[error(
        "container {name}'s conmon (pid {pid}) is gone, and with it the container's attach socket and log: stop it (`oxpod stop {name}`) or remove it (`oxpod rm -f {name}`), then run it again"
    )]
    MonitorGone {
        /// Name of the container.
        name: String,
        /// The conmon's pid.
        pid: u32,
    },
    /// A pod whose containers run cannot be removed without force.
    #[error("pod {name} has {count} running container(s): stop them first, or use --force")]
    PodNotEmpty {
        /// Name of the pod.
        name: String,
        /// How many containers it has.
        count: usize,
    },
    /// Renumbering while containers run could give two live objects the
    /// same lock.
    #[error("cannot renumber locks while containers run ({running}): stop them first")]
    RenumberWhileRunning {
        /// Names of the running containers.
        running: String,
    },
    /// Live processes hold locks a renumber would move.
    #[error(
        "cannot renumber locks while processes hold them ({held}): let them finish (or stop them), then retry"
    )]
    LocksHeld {
        /// Each held lock, as `lock N by process P`.
        held: String,
    },
    /// A directory of ours is writable by every user.
    #[error(
        "{what} {} is writable by every user: oxpod keeps container specs and state there, so it needs a directory of its own; choose another path", path.display()
    )]
    SharedDir {
        /// What it is (`static dir`, `tmp dir`).
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
    /// A directory of ours belongs to another user.
    #[error(
        "{what} {} is owned by uid {owner}, not by us (uid {uid}): it may have been planted by another user; remove it or give it to us (chown)", path.display()
    )]
    NotOurs {
        /// What it is (`static dir`, `tmp dir`).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        uid: u32,
    },
    /// Reading the boot id or the alive file failed in a way that is not
    /// "missing".
    #[error("cannot read runtime status file {path}: {source}")]
    AliveFile {
        /// The alive file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Opening only what exists, and this does not.
    #[error("{what} {path} does not exist: nothing to open")]
    NotInitialised {
        /// What is missing (`static dir`, `tmp dir`, `lock segment`).
        what: &'static str,
        /// Its path or name.
        path: PathBuf,
    },
    /// Waiting for a container took longer than allowed.
    #[error("timed out after {seconds}s waiting for container {name} to exit")]
    WaitTimeout {
        /// Name of the container.
        name: String,
        /// How long we waited.
        seconds: u64,
    },
}

impl Error {
    /// An I/O error with its operation and path.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Whether the database cannot be opened because its file is damaged,
    /// truncated, emptied or replaced ([`crate::reset_unopened`] can still
    /// reset).
    pub fn is_damaged_database(&self) -> bool {
        matches!(
            self,
            Error::State(
                oxpod_state::Error::Damaged { .. }
                    | oxpod_state::Error::Truncated { .. }
                    | oxpod_state::Error::Emptied { .. }
                    | oxpod_state::Error::Replaced { .. }
            )
        )
    }

    /// Whether this refuses an operation because the container runs.
    pub fn is_running(&self) -> bool {
        matches!(self, Error::ContainerState { status, .. } if status == "running" || status == "paused")
    }

    /// Whether this says the container or pod does not exist.
    pub fn is_image_not_found(&self) -> bool {
        matches!(self, Error::ImageNotFound { .. })
    }

    /// Whether the error is "no such container or pod".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::State(oxpod_state::Error::NotFound { .. }))
    }

    /// The exit code a CLI should use when the container's command could
    /// not be run: 127 not found, 126 cannot be invoked.
    pub fn command_exit_code(&self) -> Option<i32> {
        match self {
            Error::Oci(e) => e.exit_code(),
            _ => None,
        }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
