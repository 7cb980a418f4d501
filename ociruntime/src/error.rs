//! The crate's error type: one enum, context in fields, messages that say
//! what to do.

use std::path::PathBuf;

/// Everything that can go wrong in `oxpod-ociruntime`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable conmon binary among the configured paths.
    #[error(
        "could not find a working conmon binary (tried: {}); install conmon or set conmon_path",
        display_paths(tried)
    )]
    ConmonNotFound {
        /// Every path that was tried, in order.
        tried: Vec<PathBuf>,
    },

    /// A runtime (the default, or one named explicitly) has no usable binary.
    #[error(
        "no valid executable found for OCI runtime {name} (tried: {}); install it or fix the runtimes table",
        display_paths(tried)
    )]
    RuntimeNotFound {
        /// The runtime's name.
        name: String,
        /// Every path that was tried, in order.
        tried: Vec<PathBuf>,
    },

    /// The configured default runtime is neither a registered name nor an
    /// absolute path.
    #[error(
        "default OCI runtime {name:?} not found; name one of the runtimes table or give an absolute path"
    )]
    DefaultRuntimeNotFound {
        /// The name that was asked for.
        name: String,
    },

    /// Discovery ended with no runtime at all.
    #[error("no OCI runtime has been configured; install runc or crun, or set runtimes")]
    NoRuntimes,

    /// Discovery ended with runtimes but none of them is the default.
    #[error("no default OCI runtime was configured; set runtime")]
    NoDefaultRuntime,

    /// A configuration value given to this crate is not usable.
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong, naming the key.
        message: String,
    },

    /// A signal given as text is neither a number from 1 to 64 nor a name.
    #[error("invalid signal {text:?}: use a number from 1 to 64 or a name such as TERM or KILL")]
    InvalidSignal {
        /// The text given.
        text: String,
    },

    /// A seccomp profile that cannot be read or translated.
    #[error("seccomp profile {}: {reason}", path.display())]
    InvalidSeccomp {
        /// The profile file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Detach keys that name an unknown key.
    #[error("invalid detach keys {spec:?}: {reason}")]
    InvalidDetachKeys {
        /// The keys as given.
        spec: String,
        /// Which key, and what is accepted.
        reason: String,
    },

    /// A container id that cannot name files (empty, or with a `/`).
    #[error("container id {id:?} is empty or contains '/'")]
    InvalidId {
        /// The id given.
        id: String,
    },

    /// A bundle without its `config.json`.
    #[error("bundle {} has no config.json; write the bundle first (`oxpod system check --repair` rewrites missing ones)", dir.display())]
    MissingBundleConfig {
        /// The bundle directory.
        dir: PathBuf,
    },

    /// A call named an OCI runtime the driver was not given.
    #[error("OCI runtime {name:?} is not configured; add it to [runtimes]")]
    UnknownRuntime {
        /// The runtime's name.
        name: String,
    },

    /// A value in the container spec is not usable.
    #[error("invalid container spec: {message}")]
    InvalidSpec {
        /// What is wrong, naming the field.
        message: String,
    },

    /// A path could not be read, written or inspected.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot stat", "writing", ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The OCI spec could not be built or saved.
    #[error("generating the OCI spec: {source}")]
    Spec {
        /// The error from `oci-spec`.
        #[source]
        source: oci_spec::OciSpecError,
    },

    /// A program (runtime or conmon) could not be started at all.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// The program.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The OCI runtime failed; `message` is the runtime's own error text.
    #[error("{runtime} {action} {id}: {message}")]
    Runtime {
        /// Runtime name (runc, crun, ...).
        runtime: String,
        /// The subcommand (start, kill, delete, ...).
        action: &'static str,
        /// The container id.
        id: String,
        /// The runtime's stderr, cleaned of log-format decoration.
        message: String,
    },

    /// The runtime does not know the container.
    #[error("{runtime}: container {id} does not exist: {message}")]
    NoSuchContainer {
        /// Runtime name.
        runtime: String,
        /// The container id.
        id: String,
        /// The runtime's message.
        message: String,
    },

    /// The container is not running (a kill or pause of a stopped
    /// container): often a harmless race with its exit.
    #[error("{runtime}: container {id} is not running: {message}")]
    NotRunning {
        /// Runtime name.
        runtime: String,
        /// The container id.
        id: String,
        /// The runtime's message.
        message: String,
    },

    /// The container's command does not exist (CLI exit code 127).
    #[error("{command}: command not found: {message}")]
    CommandNotFound {
        /// The command as given (`args[0]`), or what the runtime named.
        command: String,
        /// The runtime's message.
        message: String,
    },

    /// The container's command exists but cannot be executed (CLI exit
    /// code 126).
    #[error("{command}: permission denied (the file is not executable): {message}")]
    PermissionDenied {
        /// The command as given (`args[0]`), or what the runtime named.
        command: String,
        /// The runtime's message.
        message: String,
    },

    /// conmon failed to create the container; `message` is conmon's (which
    /// carries the runtime's) error text.
    #[error("conmon failed to create container {id}: {message}")]
    Conmon {
        /// The container id.
        id: String,
        /// conmon's message.
        message: String,
    },

    /// conmon or the runtime did not answer in time.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        seconds: u64,
    },

    /// The runtime's output could not be understood.
    #[error("cannot parse {what}: {message}: {text:?}")]
    Parse {
        /// What was being parsed ("runc state output", "exit file", ...).
        what: String,
        /// The parser's complaint.
        message: String,
        /// The text (possibly shortened).
        text: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The exit code the CLI should use for this error, when it is one of
    /// the "cannot run the container's command" cases: 127 for command not
    /// found, 126 for permission denied.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Error::CommandNotFound { .. } => Some(127),
            Error::PermissionDenied { .. } => Some(126),
            _ => None,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<oci_spec::OciSpecError> for Error {
    fn from(source: oci_spec::OciSpecError) -> Self {
        Error::Spec { source }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no paths configured".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conmon_not_found_lists_paths() {
        let e = Error::ConmonNotFound {
            tried: vec!["/a/conmon".into(), "/b/conmon".into()],
        };
        let s = e.to_string();
        assert!(s.contains("/a/conmon, /b/conmon"), "{s}");
        let e = Error::ConmonNotFound { tried: vec![] };
        assert!(e.to_string().contains("no paths configured"));
    }

    #[test]
    fn exit_codes() {
        let nf = Error::CommandNotFound {
            command: "x".into(),
            message: "m".into(),
        };
        let pd = Error::PermissionDenied {
            command: "x".into(),
            message: "m".into(),
        };
        assert_eq!(nf.exit_code(), Some(127));
        assert_eq!(pd.exit_code(), Some(126));
        assert_eq!(Error::NoRuntimes.exit_code(), None);
    }
}
