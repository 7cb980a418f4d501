//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong with networks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system call failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `mount`).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A flag or a definition that is not valid.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was given (`--subnet 10.0.0.1/24`).
        what: String,
        /// Why it is refused, with the remedy where there is one.
        reason: String,
    },
    /// No network of that name.
    #[error("unable to find network with name or ID {name}: network not found")]
    NotFound {
        /// The name or id asked for.
        name: String,
    },
    /// The name is taken.
    #[error("network name {name} already used: network already exists")]
    Exists {
        /// The name.
        name: String,
    },
    /// A definition file that does not read.
    #[error("network definition {}: {reason}", path.display())]
    BadDefinition {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// netavark failed, or answered what cannot be read.
    #[error("netavark {op}: {reason}")]
    Netavark {
        /// `setup` or `teardown`.
        op: &'static str,
        /// Its own error, or what was wrong with its answer.
        reason: String,
    },
    /// No address is free.
    #[error(
        "network {network}: no free address in {range}: remove containers or create a larger network"
    )]
    Exhausted {
        /// The network.
        network: String,
        /// The range searched.
        range: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
