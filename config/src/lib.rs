//! oxpod-config: the configuration model of oxpod, its defaults for root and
//! rootless users, layered loading (defaults, system files, user file,
//! `OXPOD_CONFIG`, an explicit file, flags) with the origin of every key, and
//! validation.
//!
//! It refuses to touch anything but the files it is told to read: every path
//! is injectable and it starts no process. The only directory it may create is
//! a rootless runtime dir (`/run/user/<uid>` or `$TMPDIR/run-<uid>`, mode 0700),
//! exactly as podman's fallback does, and only when `XDG_RUNTIME_DIR` is unset.
//!
//! ```no_run
//! let loaded = oxpod_config::Loader::from_env()
//!     .config_file(None)
//!     .flag("num_locks", 4096)
//!     .load()?;
//! assert!(loaded.is_explicit("num_locks"));
//! # Ok::<(), oxpod_config::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod identity;
mod kinds;
mod loader;

pub use config::{Config, MAX_NUM_LOCKS, MIN_STATE_MAP_SIZE};
pub use error::{Error, Problem, Result, Warning};
pub use identity::Identity;
pub use kinds::{CgroupManager, EventsBackend, LockType, RuntimeChoice, StorageDriver};
pub use loader::{CONFIG_ENV, Loaded, Loader, Origin, SYSTEM_FILES};

/// Re-export of the TOML value type used by [`Loader::flag`] and
/// [`Loaded::fill_from_database`].
pub use toml::Value;
