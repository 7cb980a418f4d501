//! The one error type of oxpod-events.

use std::path::PathBuf;

/// Everything that can go wrong while recording or reading events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The events directory could not be created.
    #[error("cannot create events directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The log (or its lock file) could not be opened.
    #[error("cannot open events log {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock file could not be locked or its counter not updated.
    #[error("cannot lock events log through {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Appending to the log failed.
    #[error("cannot write events log {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading the log failed.
    #[error("cannot read events log {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Rotating the log failed; the old log is left as it was.
    #[error("cannot rotate events log {path}: {source}")]
    Rotate {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// inotify could not be set up or read while following.
    #[error("cannot watch {path} for new events: {source}")]
    Watch {
        /// The watched directory.
        path: PathBuf,
        /// The OS error.
        source: nix::Error,
    },
    /// A filter is not of the form `key=value`.
    #[error("{filter:?} is an invalid filter: expected key=value")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
    },
    /// A filter key is not known.
    #[error(
        "{key:?} is an invalid filter key: use container, event, image, label, pod, type or volume"
    )]
    UnknownFilterKey {
        /// The key as given.
        key: String,
    },
    /// An event status is not known.
    #[error("unknown event status {value:?}")]
    UnknownStatus {
        /// The status as given.
        value: String,
    },
    /// An event type is not known.
    #[error("unknown event type {value:?}")]
    UnknownType {
        /// The type as given.
        value: String,
    },
    /// `events_logger` names no backend.
    #[error("unknown event logger type: {value}: use file, journald or none")]
    UnknownBackend {
        /// The value, upper-cased as podman prints it.
        value: String,
    },
    /// A time is neither a date, a Unix timestamp nor a duration.
    #[error(
        "unable to interpret time value {value:?}: use RFC 3339 (2019-07-01T10:00:00+02:00), \
         a date (2019-07-01), a Unix timestamp (1561968000.5) or a duration (10m, 1h30m)"
    )]
    InvalidTime {
        /// The value as given.
        value: String,
    },
    /// journald's socket is missing or nobody listens on it.
    #[error(
        "journald is not running: cannot connect to {path}: {source}; \
         start systemd-journald or set events_logger = \"file\""
    )]
    JournaldUnavailable {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Sending an entry to journald failed.
    #[error("cannot send event to journald at {path}: {source}")]
    JournaldWrite {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// journalctl could not be run.
    #[error("cannot run journalctl: {source}; is systemd's journalctl installed?")]
    Journalctl {
        /// The OS error.
        source: std::io::Error,
    },
    /// journalctl ran and failed.
    #[error("journalctl failed ({status}): {stderr}")]
    JournalctlFailed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The `none` backend was asked to read.
    #[error(
        "events are disabled (events_logger = \"none\"): set events_logger to \"file\" or \
         \"journald\" to record events"
    )]
    Disabled,
    /// An event could not be encoded as JSON.
    #[error("cannot encode event: {source}")]
    Encode {
        /// The serde error.
        source: serde_json::Error,
    },
}

/// The result type of oxpod-events.
pub type Result<T, E = Error> = std::result::Result<T, E>;
