//! oxpod-ociruntime: finds conmon and the OCI runtimes (runc, crun, youki,
//! ...), writes an OCI `config.json`, and drives the runtime through conmon
//! (create, start, state, kill, delete, pause, resume).
//!
//! It takes plain paths and ids, never state records, and keeps no state of
//! its own. Nothing here runs an external program until asked: discovery
//! only inspects files; versions and packages are probed on request.
//!
//! Typical use:
//! 1. [`find_conmon`] and [`discover`] at start-up;
//! 2. [`generate_spec`] + [`write_bundle`] for a new container;
//! 3. a [`ConmonDriver`] over them: the [`Driver`] seam the composer uses
//!    (create through conmon, start, kill, delete, state, pause, resume,
//!    and the exits conmon records, including a conmon that died);
//! 4. or the parts directly: [`Conmon::create`], [`OciRuntime::start`],
//!    [`read_exit_file`] / [`wait_exit_file`], [`OciRuntime::delete`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attach;
mod conmon;
mod discovery;
mod driver;
mod error;
mod exec;
mod logs;
mod runtime;
mod seccomp;
mod spec;
mod version;
mod watch;

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod test_support;

pub use attach::{DEFAULT_DETACH_KEYS, DetachKeys, Ended, Flow, Relay, resize};
pub use conmon::{
    BUNDLE_CONFIG, BundlePaths, CREATE_TIMEOUT, Conmon, ConmonSettings, CreateOptions, Created,
    classify_create_error, exit_file_path, read_exit_file, wait_exit_file, write_exit_file,
};
pub use discovery::{DiscoveryOptions, Runtimes, discover, find_conmon, find_runtime_binary};
pub use driver::{
    ConmonDriver, CreateRequest, Driver, ExecRequest, Exit, Programs, UNKNOWN_EXIT_CODE, Waited,
    conmon_alive,
};
pub use error::{Error, Result};
pub use exec::{ExecOptions, ExecStarted, connect_attach};
pub use logs::{LogLine, LogOptions, LogRecord, LogStream, parse_log_record, read_log};
pub use runtime::{OciRuntime, RuntimeState, RuntimeStatus, clean_runtime_message, parse_signal};
pub use seccomp::{
    SeccompHost, load_profile as load_seccomp_profile, translate as translate_seccomp,
};
pub use spec::{
    ALL_CAPABILITY_NAMES, CgroupManager, ContainerSpec, DEFAULT_CAPABILITIES, DEFAULT_NOFILE,
    DEFAULT_NPROC, DEFAULT_PATH, DeviceRequest, ExtraMount, INIT_PATH, Limits, MASKED_PATHS,
    NetNamespace, READONLY_PATHS, Rlimit, canonical_capability, cgroups_path, check_sysctl,
    generate_spec, limit_resources, parse_rlimit_kind, write_bundle,
};
pub use version::{package_of, program_version};

/// The `oci-spec` crate, re-exported so callers name the same version.
pub use oci_spec;
