//! oxpod-image: what an image is, apart from where its bytes are kept.
//!
//! - [`Reference`]: names normalised as docker and podman do, and the
//!   local candidates of a short name.
//! - [`ImageConfig`]: the image's configuration and docker's rules for a
//!   container's command and environment.
//! - [`Archive`]: docker-archive, oci-archive and oci-dir readers (several
//!   images, every name); [`write_docker_archive`] and
//!   [`write_oci_archive`] the writers.
//!
//! A leaf crate: it reads and writes bytes and metadata, and never touches
//! the store (oxpod-storage) or the records (oxpod-state).

#![forbid(unsafe_code)]

mod archive;
mod auth;
mod config;
mod error;
mod reference;
mod registry;
mod write;

pub use archive::{
    Archive, ArchiveImage, ArchiveLayer, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD,
    OCI_MANIFEST, blob_path, host_arch,
};
pub use auth::{
    default_auth_file, lookup as lookup_credentials, remove as remove_credentials,
    store as store_credentials,
};
pub use config::{ImageConfig, RootFs, RunConfig};
pub use error::{Error, Result};
pub use reference::{DEFAULT_REGISTRY, Reference, local_candidates, valid_digest};
pub use registry::{Credentials, Endpoint, PlatformChoice, RegistryClient};
pub use write::{OpenLayer, SaveImage, SaveLayer, write_docker_archive, write_oci_archive};
