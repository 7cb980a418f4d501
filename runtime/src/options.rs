//! How to open a runtime: podman's functional options, as a builder.

use std::path::PathBuf;

use std::sync::Arc;

use oxpod_config::{CgroupManager, EventsBackend, Identity, Loader};
use oxpod_ociruntime::Driver;

/// Which state backend holds containers and pods (the seed's `StateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateBackend {
    /// LMDB in `<static dir>/state`: shared by processes, crash-safe.
    #[default]
    Lmdb,
    /// In memory: for embedding and tests; gone when the runtime is.
    Memory,
}

/// Which lock manager hands out container and pod locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockBackend {
    /// Robust mutexes in the shared-memory segment `lock_name`.
    #[default]
    Shm,
    /// In memory: for embedding and tests, with the in-memory state.
    Memory,
}

/// Options of [`crate::Runtime::open`]. Values given here are flags: they
/// win over every configuration file, and the database does not override
/// them.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub(crate) identity: Option<Identity>,
    pub(crate) system_files: Option<Vec<PathBuf>>,
    pub(crate) user_file: Option<Option<PathBuf>>,
    pub(crate) env_file: Option<Option<PathBuf>>,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) flags: Vec<(String, oxpod_config::Value)>,
    pub(crate) state: StateBackend,
    pub(crate) locks: LockBackend,
    pub(crate) renumber: bool,
    pub(crate) migrate: bool,
    pub(crate) reset: bool,
    pub(crate) exit_command: Option<(PathBuf, Vec<String>)>,
    pub(crate) lock_timeout: Option<std::time::Duration>,
    pub(crate) existing_only: bool,
    pub(crate) driver: Option<Arc<dyn Driver>>,
}

impl RuntimeOptions {
    /// Options that read the configuration as the `oxpod` command does.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this identity instead of the process's (tests, embedding).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Read these system files instead of `/usr/share/oxpod/oxpod.conf` and
    /// `/etc/oxpod/oxpod.conf` (tests: an empty list).
    pub fn system_files(mut self, files: Vec<PathBuf>) -> Self {
        self.system_files = Some(files);
        self
    }

    /// Read this user file (rootless) instead of the XDG one; `None` reads none.
    pub fn user_file(mut self, file: Option<PathBuf>) -> Self {
        self.user_file = Some(file);
        self
    }

    /// Use this instead of the `OXPOD_CONFIG` environment variable.
    pub fn env_file(mut self, file: Option<PathBuf>) -> Self {
        self.env_file = Some(file);
        self
    }

    /// An explicit configuration file (`--config`); it must exist.
    pub fn config_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.config_file = Some(file.into());
        self
    }

    /// Sets any configuration key as a flag would.
    pub fn set(mut self, key: &str, value: impl Into<oxpod_config::Value>) -> Self {
        self.flags.push((key.to_owned(), value.into()));
        self
    }

    /// The static directory (database, bundles).
    pub fn static_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.set_path("static_dir", dir.into())
    }

    /// The per-boot directory (alive file, exit files, events log).
    pub fn tmp_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.set_path("tmp_dir", dir.into())
    }

    /// The default OCI runtime: a name from `[runtimes]` or an absolute path.
    pub fn default_runtime(self, runtime: &str) -> Self {
        self.set("runtime", runtime)
    }

    /// The events backend.
    pub fn events_backend(self, backend: EventsBackend) -> Self {
        self.set("events_logger", backend.as_str())
    }

    /// The cgroup manager.
    pub fn cgroup_manager(self, manager: CgroupManager) -> Self {
        self.set("cgroup_manager", manager.as_str())
    }

    /// Run containers through this driver instead of conmon and the
    /// discovered OCI runtimes (which are then not looked for): tests pass
    /// `oxpod-test-support`'s fake, embedders their own.
    pub fn driver(mut self, driver: Arc<dyn Driver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// The number of locks of the lock segment.
    pub fn num_locks(self, n: u32) -> Self {
        self.set("num_locks", i64::from(n))
    }

    /// The name of the shared-memory lock segment.
    pub fn lock_name(self, name: &str) -> Self {
        self.set("lock_name", name)
    }

    /// The directory of network definitions.
    pub fn network_config_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.set_path("network_config_dir", dir.into())
    }

    /// The namespace whose objects this runtime sees.
    pub fn namespace(self, namespace: &str) -> Self {
        self.set("namespace", namespace)
    }

    /// Which state backend to use.
    pub fn state_backend(mut self, backend: StateBackend) -> Self {
        self.state = backend;
        self
    }

    /// Which lock manager to use.
    pub fn lock_backend(mut self, backend: LockBackend) -> Self {
        self.locks = backend;
        self
    }

    /// Renumber locks while opening (recreating the segment when its size
    /// differs from `num_locks`).
    pub fn renumber(mut self, yes: bool) -> Self {
        self.renumber = yes;
        self
    }

    /// Run the migrations while opening.
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }

    /// Open for a reset: a database configuration mismatch is a warning,
    /// and a lock segment of another size is recreated.
    pub fn for_reset(mut self, yes: bool) -> Self {
        self.reset = yes;
        self
    }

    /// The program conmon runs when a container exits, with its arguments
    /// (the CLI passes itself and `container cleanup <id>` follows).
    pub fn exit_command(mut self, program: PathBuf, args: Vec<String>) -> Self {
        self.exit_command = Some((program, args));
        self
    }

    /// How long to wait for a container's or pod's lock before failing
    /// with the holder's pid (default: the `lock_timeout` key, 300 s).
    pub fn lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Open only what exists: no static dir, tmp dir or lock segment is
    /// created; their absence is [`crate::Error::NotInitialised`]. For
    /// `container cleanup`, which conmon may run after everything it
    /// would clean up is gone.
    pub fn existing_only(mut self, yes: bool) -> Self {
        self.existing_only = yes;
        self
    }

    fn set_path(self, key: &str, path: PathBuf) -> Self {
        let text = path.to_string_lossy().into_owned();
        self.set(key, text)
    }

    /// The configuration loader these options describe.
    pub(crate) fn loader(&self) -> Loader {
        let mut loader = match &self.identity {
            Some(id) => Loader::new(id.clone()),
            None => Loader::from_env(),
        };
        if let Some(files) = &self.system_files {
            loader = loader.system_files(files.clone());
        }
        if let Some(file) = &self.user_file {
            loader = loader.user_file(file.clone());
        }
        if let Some(file) = &self.env_file {
            loader = loader.env_file(file.clone());
        }
        loader = loader.config_file(self.config_file.clone());
        for (k, v) in &self.flags {
            loader.set_flag(k.clone(), v.clone());
        }
        loader
    }
}
