//! oxpod-storage: where images' bytes live, as containers/storage keeps
//! them for podman, minus its JSON databases (the records are in
//! oxpod-state's LMDB environment).
//!
//! - [`Digest`]: validated sha256 digests (a digest is a file name only
//!   after validation) and [`chain_ids`].
//! - [`unpack_layer`]: a layer tar (plain, gzip, or zstd with the `zstd`
//!   feature) into a directory in
//!   overlay form, every write confined with `openat2`.
//! - [`Store`]: the blob store (`blobs/sha256/<hex>`, written through an
//!   ingest file, fsynced, verified, renamed), layer directories keyed by
//!   chain id (unpacked under a temporary name, then renamed; leftovers of
//!   a killed unpack swept on open), short links for overlay's `lowerdir`,
//!   container roots mounted with overlay, and a sweep of what no image
//!   uses.
//!
//! A leaf crate: it knows digests and paths, never images or containers'
//! records.

#![forbid(unsafe_code)]

mod compress;
mod copy;
mod digest;
mod error;
mod store;
mod tartree;
mod unpack;
mod vfs;

pub use compress::{Compression, decompressed};
pub use copy::{
    COPY_UP_STAGING, PathKind, TarName, copy_up, dir_owner_in_root, kind_in_root, open_in_root,
    tar_in_root, untar_in_root,
};
pub use digest::{Digest, chain_ids};
pub use error::{Error, Result};
pub use store::{
    Driver, LayerInfo, Store, StoreLock, destroy, make_dir_in_root, read_file_in_root,
};
pub use tartree::{tar_changes, tar_tree};
pub use unpack::{UnpackLimits, Unpacked, diff_id_of, unpack_layer};
