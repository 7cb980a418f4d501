//! Writing image archives: docker-archive (uncompressed `layer.tar`s, so
//! the diff ids are the layer files' digests, as podman writes them) and
//! oci-archive (the stored blobs as they are, with a manifest per image and
//! every name in `index.json`).

use std::io::{Read, Write};

use serde_json::json;

use crate::archive::{OCI_CONFIG, OCI_MANIFEST, blob_path, sha256};
use crate::error::{Error, Result};

/// Opens a layer's bytes for writing into an archive.
pub type OpenLayer<'a> = Box<dyn Fn() -> Result<Box<dyn Read + 'a>> + 'a>;

/// One layer of an image to save.
pub struct SaveLayer<'a> {
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub diff_size: u64,
    /// The stored blob's digest (compressed or not).
    pub blob_digest: String,
    /// The stored blob's size.
    pub blob_size: u64,
    /// The stored blob's OCI media type ([`OCI_LAYER_TAR`](crate::OCI_LAYER_TAR),
    /// [`OCI_LAYER_GZIP`](crate::OCI_LAYER_GZIP) or
    /// [`OCI_LAYER_ZSTD`](crate::OCI_LAYER_ZSTD)).
    pub media_type: &'static str,
    /// Opens the stored blob.
    pub open: OpenLayer<'a>,
    /// Opens the layer's plain tar (the blob decompressed).
    pub open_plain: OpenLayer<'a>,
}

impl std::fmt::Debug for SaveLayer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveLayer")
            .field("diff_id", &self.diff_id)
            .finish()
    }
}

/// One image to save.
#[derive(Debug)]
pub struct SaveImage<'a> {
    /// Its names (full references).
    pub names: Vec<String>,
    /// Its config blob.
    pub config: Vec<u8>,
    /// Its layers, bottom first.
    pub layers: Vec<SaveLayer<'a>>,
}

fn io(e: std::io::Error) -> Error {
    Error::io("write", "the archive", e)
}

fn put(tar: &mut tar::Builder<impl Write>, name: &str, size: u64, data: impl Read) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).map_err(io)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    h.set_cksum();
    tar.append(&h, data).map_err(io)
}

/// Reads exactly `size` bytes from `r` (a layer whose stored size is
/// known), so the tar header written before it is right.
struct Exactly<R> {
    inner: R,
    left: u64,
    what: String,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is longer than recorded",
                    self.what
                )));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "{} is shorter than recorded",
                self.what
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes a docker-archive of `images` to `out`: their configs, each layer
/// once (uncompressed, as `<diff id hex>/layer.tar`), and `manifest.json`.
pub fn write_docker_archive(out: impl Write, images: &[SaveImage<'_>]) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::BTreeSet::new();
    let mut manifest = Vec::new();
    for img in images {
        let config_digest = sha256(&img.config);
        let config_name = format!("{}.json", &config_digest["sha256:".len()..]);
        if written.insert(config_name.clone()) {
            put(
                &mut tar,
                &config_name,
                img.config.len() as u64,
                &img.config[..],
            )?;
        }
        let mut layers = Vec::new();
        for l in &img.layers {
            let name = format!("{}/layer.tar", &l.diff_id["sha256:".len()..]);
            if written.insert(name.clone()) {
                let exact = Exactly {
                    inner: (l.open_plain)()?,
                    left: l.diff_size,
                    what: format!("layer {}", l.diff_id),
                };
                put(&mut tar, &name, l.diff_size, exact)?;
            }
            layers.push(name);
        }
        manifest.push(json!({
            "Config": config_name,
            "RepoTags": img.names.iter().map(|n| docker_tag(n)).collect::<Vec<_>>(),
            "Layers": layers,
        }));
    }
    let bytes = serde_json::to_vec(&manifest).map_err(|e| io(std::io::Error::other(e)))?;
    put(&mut tar, "manifest.json", bytes.len() as u64, &bytes[..])?;
    tar.into_inner().map_err(io)?.flush().map_err(io)
}

/// docker's RepoTags drop `docker.io/library/` and `docker.io/`.
fn docker_tag(name: &str) -> String {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
        .to_owned()
}

/// Writes an oci-archive of `images`: `oci-layout`, every blob once under
/// `blobs/sha256/`, one manifest per image, and `index.json` with one
/// entry per name (`org.opencontainers.image.ref.name`), or one unnamed
/// entry for an image without names.
pub fn write_oci_archive(out: impl Write, images: &[SaveImage<'_>]) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    put(&mut tar, "oci-layout", layout.len() as u64, &layout[..])?;
    let mut written = std::collections::BTreeSet::new();
    let mut index = Vec::new();
    for img in images {
        let config_digest = sha256(&img.config);
        if written.insert(config_digest.clone()) {
            put(
                &mut tar,
                &blob_path(&config_digest),
                img.config.len() as u64,
                &img.config[..],
            )?;
        }
        let mut layers = Vec::new();
        for l in &img.layers {
            if written.insert(l.blob_digest.clone()) {
                let exact = Exactly {
                    inner: (l.open)()?,
                    left: l.blob_size,
                    what: format!("blob {}", l.blob_digest),
                };
                put(&mut tar, &blob_path(&l.blob_digest), l.blob_size, exact)?;
            }
            layers.push(json!({
                "mediaType": l.media_type,
                "digest": l.blob_digest,
                "size": l.blob_size,
            }));
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": img.config.len()},
            "layers": layers,
        }))
        .map_err(|e| io(std::io::Error::other(e)))?;
        let manifest_digest = sha256(&manifest);
        if written.insert(manifest_digest.clone()) {
            put(
                &mut tar,
                &blob_path(&manifest_digest),
                manifest.len() as u64,
                &manifest[..],
            )?;
        }
        let entry = |name: Option<&String>| {
            let mut e = json!({
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest.len(),
            });
            if let Some(n) = name {
                e["annotations"] = json!({ "org.opencontainers.image.ref.name": n });
            }
            e
        };
        if img.names.is_empty() {
            index.push(entry(None));
        }
        for n in &img.names {
            index.push(entry(Some(n)));
        }
    }
    let bytes = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": index}))
        .map_err(|e| io(std::io::Error::other(e)))?;
    put(&mut tar, "index.json", bytes.len() as u64, &bytes[..])?;
    tar.into_inner().map_err(io)?.flush().map_err(io)
}
