//! The image crate's one error type.

use std::path::PathBuf;

/// What went wrong with a reference, a config or an archive.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference that does not parse.
    #[error("invalid image name {reference:?}: {reason}")]
    InvalidReference {
        /// The text given.
        reference: String,
        /// Why.
        reason: String,
    },
    /// An archive that is damaged or of no format we read.
    #[error("cannot load the archive: {reason}")]
    BadArchive {
        /// What is wrong.
        reason: String,
    },
    /// A file the archive's manifest names, missing from it.
    #[error("cannot load the archive: it names {name:?}, which it does not hold")]
    MissingMember {
        /// The name.
        name: String,
    },
    /// Content that does not hash to the digest it is named by.
    #[error(
        "cannot load the archive: {what} does not match its digest {expected} (it is {actual})"
    )]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest it is named by.
        expected: String,
        /// Its digest.
        actual: String,
    },
    /// An image whose config gives no command and none was given.
    #[error(
        "no command given and the image has no Entrypoint or Cmd: give one after the image name"
    )]
    NoCommand,
    /// A registry that cannot be reached, refuses, or answers wrongly.
    #[error("registry {registry}: {reason}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What happened, with the remedy where there is one.
        reason: String,
    },
    /// An auth file that cannot be read or written as one.
    #[error("auth file {}: {reason}", path.display())]
    BadAuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file-system or stream operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The image crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_auth(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::BadAuthFile {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad(reason: impl Into<String>) -> Self {
        Error::BadArchive {
            reason: reason.into(),
        }
    }
}
