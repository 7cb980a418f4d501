//! The storage crate's one error type.

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
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
    /// A digest that is not `sha256:` and 64 lower-case hex digits.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The text given.
        digest: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Content that does not hash to the digest it was given under.
    #[error("{what} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked (`blob`, `layer diff id`).
        what: &'static str,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// Content of another size than its descriptor says.
    #[error("blob {digest} has {actual} bytes, but its descriptor says {expected}")]
    SizeMismatch {
        /// The blob's digest.
        digest: String,
        /// The size the descriptor gave.
        expected: u64,
        /// The size read.
        actual: u64,
    },
    /// No blob with this digest is stored.
    #[error("blob {digest} is not in the store")]
    BlobMissing {
        /// The digest.
        digest: String,
    },
    /// A layer tar entry that is refused (an escape, a bad whiteout, ...).
    #[error("layer {layer}: entry {entry:?}: {reason}")]
    BadEntry {
        /// The layer (its digest).
        layer: String,
        /// The entry's name as the tar gives it.
        entry: String,
        /// Why.
        reason: String,
    },
    /// A layer tar that cannot be read.
    #[error("layer {layer}: not a readable tar stream: {source}")]
    BadTar {
        /// The layer.
        layer: String,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// A layer that decompresses to more than the configured limit.
    #[error(
        "layer {layer}: unpacks to more than {limit} bytes (a decompression bomb?); raise storage's layer size limit if the image is real"
    )]
    TooLarge {
        /// The layer.
        layer: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A layer compressed with a format this build cannot read.
    #[error("layer {layer}: {format}-compressed layers are not supported by this build")]
    Compression {
        /// The layer.
        layer: String,
        /// The format found (`zstd`).
        format: &'static str,
    },
    /// A layer that is not unpacked in the store.
    #[error("layer {chain_id} is not in the store")]
    LayerMissing {
        /// The layer's chain id.
        chain_id: String,
    },
    /// Mounting a container's root failed.
    #[error("cannot mount the root of container {id} ({driver}): {reason}")]
    Mount {
        /// The container id.
        id: String,
        /// The driver (`overlay`).
        driver: &'static str,
        /// Why.
        reason: String,
    },
    /// A storage directory owned by another user.
    #[error(
        "{} is owned by uid {owner}, not by us (uid {uid}); it may have been planted: remove it, or point the store elsewhere",
        path.display()
    )]
    NotOurs {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our uid.
        uid: u32,
    },
}

/// The storage crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn errno(op: &'static str, path: impl Into<PathBuf>, e: rustix::io::Errno) -> Self {
        Error::io(
            op,
            path,
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        )
    }

    /// Whether the store is out of space (or quota).
    pub fn is_disk_full(&self) -> bool {
        match self {
            // ENOSPC, EDQUOT.
            Error::Io { source, .. } => matches!(source.raw_os_error(), Some(28 | 122)),
            _ => false,
        }
    }
}
