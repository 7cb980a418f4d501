//! Reading image archives: docker-archive (`manifest.json`, one or several
//! images, plain or gzip-compressed), oci-archive (an OCI layout in a
//! tar) and oci-dir (an OCI layout in a directory).
//!
//! A tar archive is indexed once (member name → offset and size) and its
//! members are read in place, so a layer is never copied out before it is
//! unpacked; a compressed archive is first decompressed into a spool file.
//! Only names the archive's own manifest gives are looked up, and only in
//! the index (never as paths on disk); blobs of an OCI directory are found
//! by validated digests.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::reference::valid_digest;

/// OCI media types.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI plain layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// One image found in an archive.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    /// The names it is given (`RepoTags`, or the index's ref names), as
    /// written; the caller normalises them.
    pub names: Vec<String>,
    /// The config blob.
    pub config: Vec<u8>,
    /// sha256 of the config: the image id.
    pub config_digest: String,
    /// Its layers, bottom first.
    pub layers: Vec<ArchiveLayer>,
}

/// Where one layer is in the archive.
#[derive(Debug, Clone)]
pub struct ArchiveLayer {
    /// The member (or blob path) holding it.
    pub member: String,
    /// Its blob digest when the archive says (OCI); docker-archive layers
    /// are digested while read.
    pub digest: Option<String>,
    /// Its size when the archive says.
    pub size: Option<u64>,
}

struct Member {
    offset: u64,
    size: u64,
    link: Option<String>,
}

enum Source {
    Dir(PathBuf),
    Tar {
        file: File,
        members: HashMap<String, Member>,
        /// The decompressed spool file, removed with the archive.
        spool: Option<PathBuf>,
    },
}

/// An opened archive.
pub struct Archive {
    source: Source,
    shown: PathBuf,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.shown)
            .finish()
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        if let Source::Tar { spool: Some(p), .. } = &self.source {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

impl Archive {
    /// Opens an archive file or an OCI directory. A gzip-compressed file is
    /// decompressed into `spool_dir` first.
    pub fn open(path: &Path, spool_dir: &Path) -> Result<Archive> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("open", path, e))?;
        if meta.is_dir() {
            if !path.join("index.json").is_file() {
                return Err(Error::bad(format!(
                    "{} is a directory without index.json: not an OCI layout",
                    path.display()
                )));
            }
            return Ok(Archive {
                source: Source::Dir(path.to_path_buf()),
                shown: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let mut peek = BufReader::new(file);
        let magic = peek
            .fill_buf()
            .map_err(|e| Error::io("read", path, e))?
            .to_vec();
        let (file, spool) = if magic.starts_with(&[0x1f, 0x8b]) {
            let spool = spool_dir.join(format!(
                ".archive-{}-{}",
                std::process::id(),
                SPOOL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let mut out = std::fs::OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&spool)
                .map_err(|e| Error::io("create", &spool, e))?;
            let mut gz = flate2::bufread::MultiGzDecoder::new(peek);
            if let Err(e) = std::io::copy(&mut gz, &mut out) {
                let _ = std::fs::remove_file(&spool);
                return Err(Error::io("decompress", path, e));
            }
            (out, Some(spool))
        } else {
            (peek.into_inner(), None)
        };
        let mut archive = Archive {
            source: Source::Tar {
                file,
                members: HashMap::new(),
                spool,
            },
            shown: path.to_path_buf(),
        };
        archive.index()?;
        Ok(archive)
    }

    fn index(&mut self) -> Result<()> {
        let shown = self.shown.clone();
        let Source::Tar { file, members, .. } = &mut self.source else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("read", &shown, e))?;
        let mut tar = tar::Archive::new(&*file);
        let entries = tar
            .entries()
            .map_err(|e| Error::bad(format!("{} is not a tar archive: {e}", shown.display())))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| Error::bad(format!("{} is a damaged tar: {e}", shown.display())))?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            let link = match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned()),
                _ => None,
            };
            if kind.is_dir() {
                continue;
            }
            let link = link.map(|l| {
                if kind == tar::EntryType::Symlink && !l.starts_with('/') {
                    // Relative to the link's directory.
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    clean(&format!("{dir}/{l}"))
                } else {
                    clean(&l)
                }
            });
            members.insert(
                name,
                Member {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                    link,
                },
            );
        }
        Ok(())
    }

    /// Opens a member (a tar archive's file, or a file of the directory),
    /// following the archive's own links (docker writes shared layers as
    /// symlinks).
    pub fn open_member(&self, name: &str) -> Result<Box<dyn Read + '_>> {
        match &self.source {
            Source::Dir(dir) => {
                // Only blob paths, built from validated digests.
                let rel = clean(name);
                let ok = rel
                    .strip_prefix("blobs/sha256/")
                    .is_some_and(|hex| valid_digest(&format!("sha256:{hex}")))
                    || rel == "index.json"
                    || rel == "oci-layout";
                if !ok {
                    return Err(Error::MissingMember {
                        name: name.to_owned(),
                    });
                }
                let p = dir.join(&rel);
                let f = File::open(&p).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Error::MissingMember {
                        name: name.to_owned(),
                    },
                    _ => Error::io("open", &p, e),
                })?;
                Ok(Box::new(BufReader::with_capacity(256 << 10, f)))
            }
            Source::Tar { file, members, .. } => {
                let mut key = clean(name);
                for _ in 0..8 {
                    let m = members.get(&key).ok_or_else(|| Error::MissingMember {
                        name: name.to_owned(),
                    })?;
                    if let Some(l) = &m.link {
                        key = l.clone();
                        continue;
                    }
                    return Ok(Box::new(BufReader::with_capacity(
                        256 << 10,
                        MemberReader {
                            file,
                            pos: m.offset,
                            left: m.size,
                        },
                    )));
                }
                Err(Error::bad(format!("{name:?} is a chain of links")))
            }
        }
    }

    fn read_member(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_member(name)?
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::io("read", self.shown.join(name), e))?;
        if out.len() as u64 > limit {
            return Err(Error::bad(format!("{name:?} is larger than {limit} bytes")));
        }
        Ok(out)
    }

    fn has(&self, name: &str) -> bool {
        match &self.source {
            Source::Dir(dir) => dir.join(name).is_file(),
            Source::Tar { members, .. } => members.contains_key(name),
        }
    }

    /// Every image the archive holds, every name it gives each.
    pub fn images(&self) -> Result<Vec<ArchiveImage>> {
        // Docker 25+ writes both; the OCI index is the one that names
        // blobs by digest.
        if self.has("index.json") {
            return self.oci_images();
        }
        if self.has("manifest.json") {
            return self.docker_images();
        }
        Err(Error::bad(format!(
            "{} has neither manifest.json (docker-archive) nor index.json (OCI)",
            self.shown.display()
        )))
    }

    fn docker_images(&self) -> Result<Vec<ArchiveImage>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            #[serde(default)]
            layers: Vec<String>,
        }
        let bytes = self.read_member("manifest.json", 16 << 20)?;
        let entries: Vec<Entry> = serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad(format!(
                "manifest.json is not a docker-archive manifest: {e}"
            ))
        })?;
        if entries.is_empty() {
            return Err(Error::bad("manifest.json lists no image"));
        }
        let mut out = Vec::new();
        for e in entries {
            let config = self.read_member(&e.config, 64 << 20)?;
            let digest = sha256(&config);
            // docker names the config by its digest: check it when it does.
            let base = e.config.rsplit('/').next().unwrap_or("");
            let named = base.strip_suffix(".json").unwrap_or(base);
            let named = named.strip_prefix("sha256:").unwrap_or(named);
            if named.len() == 64
                && valid_digest(&format!("sha256:{named}"))
                && format!("sha256:{named}") != digest
            {
                return Err(Error::DigestMismatch {
                    what: format!("config {}", e.config),
                    expected: format!("sha256:{named}"),
                    actual: digest,
                });
            }
            out.push(ArchiveImage {
                names: e.repo_tags.unwrap_or_default(),
                config,
                config_digest: digest,
                layers: e
                    .layers
                    .into_iter()
                    .map(|member| ArchiveLayer {
                        member,
                        digest: None,
                        size: None,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    fn blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>> {
        if !valid_digest(digest) {
            return Err(Error::bad(format!("{digest:?} is not a sha256 digest")));
        }
        let bytes = self.read_member(&blob_path(digest), limit)?;
        let actual = sha256(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    fn oci_images(&self) -> Result<Vec<ArchiveImage>> {
        let index = self.read_member("index.json", 16 << 20)?;
        let mut out = Vec::new();
        self.oci_index(&index, &[], 0, &mut out)?;
        if out.is_empty() {
            return Err(Error::bad("index.json lists no image"));
        }
        Ok(out)
    }

    fn oci_index(
        &self,
        bytes: &[u8],
        names: &[String],
        depth: usize,
        out: &mut Vec<ArchiveImage>,
    ) -> Result<()> {
        if depth > 4 {
            return Err(Error::bad("indexes nested more than 4 deep"));
        }
        let index: Index = serde_json::from_slice(bytes)
            .map_err(|e| Error::bad(format!("not an OCI index: {e}")))?;
        let mut nested: Vec<&Descriptor> = Vec::new();
        for d in &index.manifests {
            let mut names = names.to_vec();
            for key in [REF_NAME, CONTAINERD_NAME] {
                if let Some(n) = d.annotations.get(key)
                    && !names.contains(n)
                {
                    names.push(n.clone());
                }
            }
            match d.media_type.as_str() {
                OCI_MANIFEST | DOCKER_MANIFEST | "" => {
                    let manifest = self.blob(&d.digest, 16 << 20)?;
                    out.push(self.oci_manifest(&manifest, names)?);
                }
                OCI_INDEX | DOCKER_LIST => nested.push(d),
                other => {
                    return Err(Error::bad(format!(
                        "index entry {} has media type {other}",
                        d.digest
                    )));
                }
            }
        }
        // A multi-platform index: the host's platform.
        if !nested.is_empty() {
            for d in nested {
                let names: Vec<String> = names
                    .iter()
                    .cloned()
                    .chain(d.annotations.get(REF_NAME).cloned())
                    .collect();
                let inner = self.blob(&d.digest, 16 << 20)?;
                let inner_index: Index = serde_json::from_slice(&inner)
                    .map_err(|e| Error::bad(format!("not an OCI index: {e}")))?;
                let arch = host_arch();
                let pick = inner_index.manifests.iter().find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.architecture == arch && p.os == "linux")
                });
                match pick {
                    Some(m) => {
                        let manifest = self.blob(&m.digest, 16 << 20)?;
                        out.push(self.oci_manifest(&manifest, names)?);
                    }
                    None => {
                        let on_offer: Vec<String> = inner_index
                            .manifests
                            .iter()
                            .filter_map(|m| {
                                m.platform
                                    .as_ref()
                                    .map(|p| format!("{}/{}", p.os, p.architecture))
                            })
                            .collect();
                        return Err(Error::bad(format!(
                            "no image for linux/{arch} in the index; it offers {}",
                            on_offer.join(", ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn oci_manifest(&self, bytes: &[u8], names: Vec<String>) -> Result<ArchiveImage> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::bad(format!("not an OCI image manifest: {e}")))?;
        let config = self.blob(&m.config.digest, 64 << 20)?;
        if m.config.size.is_some_and(|s| s != config.len() as u64) {
            return Err(Error::bad(format!(
                "config {} has {} bytes, but the manifest says {}",
                m.config.digest,
                config.len(),
                m.config.size.unwrap_or(0)
            )));
        }
        let mut layers = Vec::new();
        for l in m.layers {
            if !valid_digest(&l.digest) {
                return Err(Error::bad(format!(
                    "layer {:?} is not a sha256 digest",
                    l.digest
                )));
            }
            layers.push(ArchiveLayer {
                member: blob_path(&l.digest),
                digest: Some(l.digest),
                size: l.size,
            });
        }
        Ok(ArchiveImage {
            names,
            config_digest: m.config.digest,
            config,
            layers,
        })
    }
}

static SPOOL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Deserialize)]
pub(crate) struct Index {
    #[serde(default)]
    pub(crate) manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) annotations: HashMap<String, String>,
    #[serde(default)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Deserialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Manifest {
    pub(crate) config: Descriptor,
    #[serde(default)]
    pub(crate) layers: Vec<Descriptor>,
}

/// `blobs/sha256/<hex>` of a (validated) digest.
pub fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::from("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The host's architecture as images name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

struct MemberReader<'a> {
    file: &'a File,
    pos: u64,
    left: u64,
}

impl Read for MemberReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive ends inside a member",
            ));
        }
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{SaveImage, SaveLayer, write_docker_archive, write_oci_archive};

    fn layer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("hello").unwrap();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"hi\n"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn config(diff: &str) -> Vec<u8> {
        format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#).into_bytes()
    }

    fn image() -> (Vec<u8>, Vec<u8>) {
        let layer = layer_tar();
        (config(&sha256(&layer)), layer)
    }

    fn save(oci: bool, names: &[&str], gzip: bool) -> Vec<u8> {
        let (config, layer) = image();
        let blob = if gzip {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&layer).unwrap();
            gz.finish().unwrap()
        } else {
            layer.clone()
        };
        let blob2 = blob.clone();
        let layer2 = layer.clone();
        let img = SaveImage {
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            config,
            layers: vec![SaveLayer {
                diff_id: sha256(&layer),
                diff_size: layer.len() as u64,
                blob_digest: sha256(&blob),
                blob_size: blob.len() as u64,
                media_type: if gzip { OCI_LAYER_GZIP } else { OCI_LAYER_TAR },
                open: Box::new(move || {
                    Ok(Box::new(std::io::Cursor::new(blob2.clone())) as Box<dyn Read>)
                }),
                open_plain: Box::new(move || {
                    Ok(Box::new(std::io::Cursor::new(layer2.clone())) as Box<dyn Read>)
                }),
            }],
        };
        let mut out = Vec::new();
        if oci {
            write_oci_archive(&mut out, &[img]).unwrap();
        } else {
            write_docker_archive(&mut out, &[img]).unwrap();
        }
        out
    }

    fn open(bytes: &[u8]) -> (tempfile::TempDir, Archive) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        std::fs::write(&path, bytes).unwrap();
        let a = Archive::open(&path, dir.path()).unwrap();
        (dir, a)
    }

    #[test]
    fn docker_and_oci_archives_round_trip() {
        for oci in [false, true] {
            for gzip in [false, true] {
                let bytes = save(oci, &["docker.io/library/bb:1", "localhost/x:2"], gzip);
                let (_d, a) = open(&bytes);
                let imgs = a.images().unwrap();
                assert_eq!(
                    imgs.len(),
                    if oci { 2 } else { 1 },
                    "oci: one index entry per name"
                );
                let img = &imgs[0];
                assert_eq!(img.config_digest, sha256(&img.config));
                let mut layer = Vec::new();
                a.open_member(&img.layers[0].member)
                    .unwrap()
                    .read_to_end(&mut layer)
                    .unwrap();
                if oci {
                    assert_eq!(
                        Some(sha256(&layer)),
                        img.layers[0].digest,
                        "the stored blob as it was"
                    );
                } else {
                    assert_eq!(layer, layer_tar(), "docker-archive layers are uncompressed");
                    assert_eq!(img.names, ["bb:1", "localhost/x:2"]);
                }
            }
        }
    }

    #[test]
    fn a_gzip_compressed_archive_is_spooled_and_removed() {
        use std::io::Write as _;
        let bytes = save(false, &["bb:1"], false);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        let a = Archive::open(&path, &spool).unwrap();
        assert_eq!(a.images().unwrap().len(), 1);
        drop(a);
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    }

    fn tar_of(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_path(name).unwrap();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        for (name, target) in links {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn docker_symlinked_layers_null_tags_and_bad_manifests() {
        let layer = layer_tar();
        let cfg = config(&sha256(&layer));
        let cfg_name = format!("{}.json", &sha256(&cfg)[7..]);
        let manifest =
            format!(r#"[{{"Config":"{cfg_name}","RepoTags":null,"Layers":["b/layer.tar"]}}]"#);
        let bytes = tar_of(
            &[
                ("manifest.json", manifest.as_bytes()),
                (&cfg_name, &cfg),
                ("a/layer.tar", &layer),
            ],
            &[("b/layer.tar", "../a/layer.tar")],
        );
        let (_d, a) = open(&bytes);
        let imgs = a.images().unwrap();
        assert!(imgs[0].names.is_empty(), "RepoTags null: an unnamed image");
        let mut got = Vec::new();
        a.open_member("b/layer.tar")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(
            got, layer,
            "docker's shared-layer symlink is followed inside the archive"
        );

        let missing =
            format!(r#"[{{"Config":"{cfg_name}","RepoTags":["x"],"Layers":["nope/layer.tar"]}}]"#);
        let bytes = tar_of(
            &[("manifest.json", missing.as_bytes()), (&cfg_name, &cfg)],
            &[],
        );
        let (_d, a) = open(&bytes);
        let imgs = a.images().unwrap();
        assert!(matches!(
            a.open_member(&imgs[0].layers[0].member),
            Err(Error::MissingMember { .. })
        ));

        let wrong = format!("{}.json", "0".repeat(64));
        let m = format!(r#"[{{"Config":"{wrong}","RepoTags":["x"],"Layers":[]}}]"#);
        let bytes = tar_of(&[("manifest.json", m.as_bytes()), (&wrong, &cfg)], &[]);
        let (_d, a) = open(&bytes);
        assert!(matches!(a.images(), Err(Error::DigestMismatch { .. })));

        let (_d, a) = open(&tar_of(&[("other", b"x")], &[]));
        assert!(
            a.images()
                .unwrap_err()
                .to_string()
                .contains("neither manifest.json")
        );
        let (_d, a) = open(&tar_of(&[("index.json", br#"{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd"}]}"#)], &[]));
        assert!(a.images().is_err());
    }
}
