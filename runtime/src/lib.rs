//! oxpod-runtime: the composer. It opens the configuration, the state, the
//! locks, the events log and the container driver in podman's init order,
//! and offers the operations over them as one service per resource:
//! [`Runtime::containers`], [`Runtime::pods`], [`Runtime::system`].
//!
//! It parses no arguments and prints nothing; that is the front ends' job.
//! The types a caller needs from the layers below are re-exported here, so
//! a front end depends on this crate alone.
//!
//! - A command resolves a name or id prefix once, to a [`ContainerRef`] or
//!   [`PodRef`] (id, name, lock number), and passes that down; nothing
//!   below goes back through name lookup.
//! - conmon and the OCI runtime are reached only through the
//!   `oxpod_ociruntime::Driver` trait, so these rules are tested
//!   against a fake without root (`src/tests.rs`).
//! - Multi-step operations (create, start, remove) record what they did in
//!   a ledger (`ledger.rs`): a failure undoes it, and a command killed
//!   midway is repaired by the next open or `system check --repair`.
//!
//! Locking rules: a container's lock is held while its state changes and
//! never while waiting for it to exit; a pod's lock is taken before any of
//! its containers' locks; listing takes no container lock and spawns no
//! process.
//!
//! ```no_run
//! use oxpod_runtime::{NewContainer, Runtime, RuntimeOptions};
//! let rt = Runtime::open(RuntimeOptions::new())?;
//! let ctr = rt.containers().create(NewContainer {
//!     rootfs: "/srv/rootfs".into(),
//!     command: vec!["true".into()],
//!     ..NewContainer::default()
//! })?;
//! let r = rt.containers().resolve(&ctr.config.name)?;
//! rt.containers().start(&r)?;
//! let code = rt.containers().wait(&r)?;
//! rt.containers().remove(&r, false)?;
//! # let _ = code;
//! # Ok::<(), oxpod_runtime::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod containers;
mod copy;
mod error;
mod exec;
mod health;
mod hooks;
mod host;
mod images;
mod info;
mod layout;
mod ledger;
mod lifecycle;
mod limits;
mod mounts;
mod names;
mod networks;
mod open;
mod options;
mod pods;
mod policy;
mod probe;
mod refs;
mod registries;
mod system;
#[cfg(test)]
mod tests;
mod top;
mod users;
mod volumes;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use oxpod_config::{Config, Identity, Loaded};
use oxpod_events::{Event, Eventer};
use oxpod_locks::LockManager;
use oxpod_ociruntime::Driver;
use oxpod_state::State;

pub use containers::{
    ContainerFilter, Containers, ImageVolumeMode, NamePattern, NewContainer, device_parts,
    etc_file_path,
};
pub use copy::CopyEnd;
pub use error::{Error, Result};
pub use exec::{Exec, ExecSession, ExecSpec, ExecStatus};
pub use health::{HealthOutcome, parse_go_duration, parse_health_cmd};
pub use images::{
    Image, ImageLayer, Images, LoadedImage, Progress, PullOptions, PushOptions, Removed, SaveFormat,
};
pub use info::{Info, LocksReport, Version};
pub use ledger::RemoveOnExit;
pub use lifecycle::{LogsOptions, StopOutcome, parse_restart};
pub use limits::{parse_cpus, parse_size, parse_swap};
pub use mounts::{
    MountRequest, PROPAGATIONS as MOUNT_PROPAGATIONS, check_add_host, check_dns_server,
    covered as mount_covers, parse_mount, parse_tmpfs, parse_volume,
};
pub use networks::{CreateRequest as NewNetwork, Network, NetworkRequest, Networks};
pub use options::{LockBackend, RuntimeOptions, StateBackend};
pub use oxpod_state::{ContainerMount, HealthConfig, HealthLog, HealthState, Resources};
pub use pods::{NewPod, PodFilter, PodStatus, Pods};
pub use refs::{ContainerRef, PodRef};
pub use system::{CheckReport, Finding, System, reset_unopened};
pub use top::{Process, Stats};
pub use volumes::{NewVolume, Volume, Volumes};

/// Re-exports of the layers' types a front end needs.
pub use oxpod_config::{self as config, Origin};
pub use oxpod_events::{self as events, ReadOptions};
pub use oxpod_image::{self as image, ImageConfig, Reference};
pub use oxpod_network::{self as network, DEFAULT_NETWORK};
pub use oxpod_ociruntime::{
    DEFAULT_DETACH_KEYS, DetachKeys, Ended, Flow, LogLine, LogStream, Relay, parse_signal, resize,
};
pub use oxpod_state::{
    Container, ContainerConfig, ContainerState, ContainerStatus, Error as StateError,
    NetworkAttachment, NetworkStatus, Pod, PublishedPort,
};

/// A container event, carrying the container's labels as podman's do.
pub(crate) fn container_event(status: events::EventStatus, config: &ContainerConfig) -> Event {
    Event::container(status, &config.id, &config.name)
        .with_image(config.image_name.as_deref().unwrap_or_default())
        .with_attributes(config.labels.clone())
}

/// How long a lock wait goes on before it says who it waits for.
const LOCK_NOTICE: std::time::Duration = std::time::Duration::from_secs(3);

/// The oxpod version, as `oxpod version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An open runtime: every layer, initialised in order. Its operations are
/// in the services it hands out. Dropping it (or
/// [`System::shutdown`]) closes the database; containers keep running
/// under conmon.
#[derive(Debug)]
pub struct Runtime {
    loaded: Loaded,
    identity: Identity,
    state: Mutex<Box<dyn State>>,
    locks: Box<dyn LockManager>,
    events: Box<dyn Eventer>,
    driver: Arc<dyn Driver>,
    layout: layout::Layout,
    exit_command: Option<(PathBuf, Vec<String>)>,
    valid: AtomicBool,
    refreshed: bool,
    lock_timeout: std::time::Duration,
    /// The image store, opened on first use (most commands never need it).
    storage: std::sync::OnceLock<oxpod_storage::Store>,
}

impl Runtime {
    /// Images: load, save, list, name, remove.
    pub fn images(&self) -> Images<'_> {
        Images::new(self)
    }

    /// The image store at `<static dir>/storage`, opened (and swept of a
    /// killed load's leftovers) on first use.
    pub(crate) fn storage(&self) -> Result<&oxpod_storage::Store> {
        if let Some(s) = self.storage.get() {
            return Ok(s);
        }
        let store = oxpod_storage::Store::open(&self.layout.storage_dir())?;
        Ok(self.storage.get_or_init(|| store))
    }

    /// Containers: create, look up, list, run, stop, remove.
    pub fn containers(&self) -> Containers<'_> {
        Containers::new(self)
    }

    /// Volumes: create, look up, list, remove, prune.
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes::new(self)
    }

    /// Pods: create, look up, list, act on their members, remove.
    pub fn pods(&self) -> Pods<'_> {
        Pods::new(self)
    }

    /// The runtime as a whole: info, events, check, reset, shutdown.
    pub fn system(&self) -> System<'_> {
        System::new(self)
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.loaded.config
    }

    /// The configuration with the origin of every key.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// Whether this open detected a reboot (or a wiped tmp dir) and ran
    /// the refresh.
    pub fn refreshed(&self) -> bool {
        self.refreshed
    }

    /// Fails once the runtime has been shut down (the seed's `valid` flag).
    fn check_valid(&self) -> Result<()> {
        if self.valid.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::Stopped)
        }
    }

    /// The state, for one call. A poisoned mutex (a panic elsewhere) still
    /// yields the state: every state call is its own transaction.
    fn state(&self) -> MutexGuard<'_, Box<dyn State>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes lock `id`, waiting at most the lock timeout (`lock_timeout`);
    /// after a few seconds it says who it waits for, and the timeout error
    /// names the pid holding it, so a wedged (stopped) holder is
    /// diagnosable. A holder that died is recovered (and warned about) by
    /// the locks crate.
    fn take_lock(&self, id: u32) -> Result<oxpod_locks::LockGuard> {
        let lock = self.locks.retrieve(id)?;
        let notice = LOCK_NOTICE.min(self.lock_timeout);
        match lock.lock_timeout(notice) {
            Ok(guard) => Ok(guard),
            Err(oxpod_locks::Error::Timeout { holder, .. }) if self.lock_timeout > notice => {
                let holder = holder.map_or_else(
                    || "an unknown process".to_owned(),
                    |p| format!("process {p}"),
                );
                tracing::warn!(
                    "waiting for lock {id}, held by {holder}, for up to {}s more (lock_timeout)",
                    (self.lock_timeout - notice).as_secs()
                );
                match lock.lock_timeout(self.lock_timeout - notice) {
                    Ok(guard) => Ok(guard),
                    // The whole wait, not only its second part.
                    Err(oxpod_locks::Error::Timeout { id, holder, .. }) => {
                        Err(oxpod_locks::Error::Timeout {
                            id,
                            waited: self.lock_timeout,
                            holder,
                        }
                        .into())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes exited containers whose `run --rm` client is gone (the
    /// repair's findings); failures are logged, the next open tries again.
    fn remove_leftover(&self, ids: &[String]) {
        for id in ids {
            let found = self.state().container(id);
            let r = match found {
                Ok(c) => ContainerRef::from(&c),
                Err(_) => continue,
            };
            match self.containers().remove(&r, true) {
                Ok(()) => tracing::info!(id, "removed the container of a killed `run --rm`"),
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!(id, error = %e, "cannot remove a `run --rm` container"),
            }
        }
    }

    /// Starts the containers a refresh found with a restart policy that
    /// survives a reboot (`always`, `unless-stopped` not stopped by the
    /// user); a failure is logged, the others still start.
    fn restart_after_reboot(&self, ids: &[String]) {
        for id in ids {
            let Ok(c) = self.state().container(id) else {
                continue;
            };
            match self.containers().start(&ContainerRef::from(&c)) {
                Ok(_) => {
                    tracing::info!(id, policy = %c.config.restart_policy, "started after the reboot by its restart policy")
                }
                Err(e) => {
                    tracing::warn!(id, error = %e, "cannot start a container after the reboot")
                }
            }
        }
    }

    /// Records an event; a failure is logged, never fatal to the operation
    /// that already happened.
    fn emit(&self, event: Event) {
        if let Err(e) = self.events.write(&event) {
            tracing::warn!(error = %e, status = %event.status, "cannot write event");
        }
    }
}
