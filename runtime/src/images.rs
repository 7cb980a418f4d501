//! The images service: load and save archives, list, name, inspect and
//! remove images, and what a container of an image needs (its config, its
//! layers, its root).
//!
//! The bytes are in the store (`<static dir>/storage`, oxpod-storage); the
//! records are items of `state`'s environment. Adding (load) holds the
//! store's shared lock from the first blob to the record, so a removal's
//! sweep (exclusive) never deletes what a load is about to name; removal
//! decides "no container uses it" under the exclusive lock, which creating
//! a container from an image holds shared.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use jiff::Timestamp;
use oxpod_events::{Event, EventStatus, EventType};
use oxpod_image::{Archive, ImageConfig, Reference};
use oxpod_state::{Item, ItemOp, ItemsExt};
use oxpod_storage::{Compression, Digest, Store, UnpackLimits, chain_ids};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::{ContainerRef, Error, Result, Runtime};

/// An image, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The config's sha256 hex: podman's image id.
    pub id: String,
    /// Its names (full references), sorted.
    pub names: Vec<String>,
    /// Its layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// When the image was made, as its config says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When it came into this store.
    pub loaded: Timestamp,
    /// `amd64`...
    #[serde(default)]
    pub architecture: String,
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// Bytes of its layers, uncompressed.
    pub size: u64,
    /// Labels from its config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its config's `Volumes` (kept here so a start need not read the
    /// config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayer {
    /// Its chain id (the store's layer directory).
    pub chain_id: String,
    /// sha256 of its uncompressed tar.
    pub diff_id: String,
    /// Bytes of uncompressed tar.
    pub size: u64,
    /// The stored blob (as it came: compressed or not).
    pub blob: String,
    /// The blob's size.
    pub blob_size: u64,
    /// Whether the blob is gzip-compressed.
    pub gzip: bool,
    /// Whether the blob is zstd-compressed (absent in records written
    /// before zstd layers were read).
    #[serde(default)]
    pub zstd: bool,
}

impl ImageLayer {
    fn new(
        chain: &Digest,
        diff: &Digest,
        size: u64,
        blob: &Digest,
        blob_size: u64,
        compression: Compression,
    ) -> Self {
        ImageLayer {
            chain_id: chain.to_string(),
            diff_id: diff.to_string(),
            size,
            blob: blob.to_string(),
            blob_size,
            gzip: compression == Compression::Gzip,
            zstd: compression == Compression::Zstd,
        }
    }

    /// How the stored blob is compressed.
    pub fn compression(&self) -> Compression {
        if self.zstd {
            Compression::Zstd
        } else if self.gzip {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

impl Item for Image {
    const KIND: &'static str = "image";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Image {
    /// The record of a new image: its config's digest and content, its
    /// layers, its names; loaded now.
    fn new(
        config_digest: &Digest,
        config: &ImageConfig,
        layers: Vec<ImageLayer>,
        names: &BTreeSet<String>,
    ) -> Image {
        Image {
            id: config_digest.hex().to_owned(),
            names: names.iter().cloned().collect(),
            size: layers.iter().map(|l| l.size).sum(),
            layers,
            created: config.created.clone(),
            loaded: Timestamp::now(),
            architecture: config.architecture.clone(),
            os: config.os.clone(),
            labels: config.config.labels.clone().unwrap_or_default(),
            volumes: config
                .config
                .volumes
                .iter()
                .flat_map(|v| v.keys().cloned())
                .collect(),
        }
    }

    /// `sha256:<id>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.id)
    }

    fn chain(&self) -> Result<Vec<Digest>> {
        self.layers
            .iter()
            .map(|l| Digest::parse(&l.chain_id).map_err(Error::from))
            .collect()
    }
}

/// A pull's progress callback: a layer's digest, its bytes so far, its
/// size when known.
pub type Progress = std::sync::Arc<dyn Fn(&str, u64, Option<u64>) + Send + Sync>;

/// How to pull.
#[derive(Clone, Default)]
pub struct PullOptions {
    /// `--tls-verify`: `Some(false)` allows plain HTTP and unverified TLS
    /// for this pull; `None` follows registries.conf.
    pub tls_verify: Option<bool>,
    /// `--platform os/arch[/variant]` (default: the host's).
    pub platform: Option<String>,
    /// `--os`: replaces the platform's (the host's, or `platform`'s).
    pub os: Option<String>,
    /// `--arch`: replaces the platform's.
    pub arch: Option<String>,
    /// `--variant`: replaces the platform's.
    pub variant: Option<String>,
    /// `--creds user:password`.
    pub credentials: Option<oxpod_image::Credentials>,
    /// `--authfile` (default: podman's, see [`oxpod_image::default_auth_file`]).
    pub auth_file: Option<std::path::PathBuf>,
    /// Told, as each layer's blob arrives, its digest, the bytes so far
    /// and its size (a front end's progress display).
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("tls_verify", &self.tls_verify)
            .field("platform", &self.platform)
            .field("os", &self.os)
            .field("arch", &self.arch)
            .field("variant", &self.variant)
            .field("auth_file", &self.auth_file)
            .finish_non_exhaustive()
    }
}

/// A reader that tells how far it got.
struct Counted<R> {
    inner: R,
    done: u64,
    digest: String,
    size: Option<u64>,
    tell: Progress,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.tell)(&self.digest, self.done, self.size);
        Ok(n)
    }
}

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// See [`PullOptions::tls_verify`].
    pub tls_verify: Option<bool>,
    /// `--creds`.
    pub credentials: Option<oxpod_image::Credentials>,
    /// `--authfile`.
    pub auth_file: Option<std::path::PathBuf>,
    /// `--format`: `v2s2` (default) or `oci`.
    pub format: Option<String>,
}

/// What a load added: each image's id and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id.
    pub id: String,
    /// The names it has now.
    pub names: Vec<String>,
}

/// Archive formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// docker's `docker save` format.
    DockerArchive,
    /// An OCI layout in a tar.
    OciArchive,
}

/// The images of a [`Runtime`].
#[derive(Debug, Clone, Copy)]
pub struct Images<'r> {
    rt: &'r Runtime,
}

fn store_err(e: oxpod_storage::Error) -> Error {
    Error::Storage(e)
}

impl<'r> Images<'r> {
    pub(crate) fn new(rt: &'r Runtime) -> Self {
        Images { rt }
    }

    fn store(&self) -> Result<&'r Store> {
        self.rt.storage()
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>> {
        self.rt.check_valid()?;
        self.records()
    }

    /// Every image record (also while the runtime opens: a repair's sweep).
    fn records(&self) -> Result<Vec<Image>> {
        let mut out = Vec::new();
        for r in self.rt.state().all_items::<Image>()? {
            match r {
                Ok(i) => out.push(i),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an image record that does not decode")
                }
            }
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.loaded));
        Ok(out)
    }

    /// Finds an image by id, unique id prefix (3 or more characters), full
    /// name, or short name (`busybox` finds `localhost/busybox:latest` or
    /// `docker.io/library/busybox:latest`, local names first, as podman).
    pub fn resolve(&self, name_or_id: &str) -> Result<Image> {
        let all = self.list()?;
        let text = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        if text.len() >= 3 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&Image> = all.iter().filter(|i| i.id.starts_with(text)).collect();
            match hits.len() {
                1 => return Ok(hits[0].clone()),
                0 => {}
                n => {
                    return Err(Error::ImageAmbiguous {
                        prefix: text.to_owned(),
                        count: n,
                    });
                }
            }
        }
        for candidate in oxpod_image::local_candidates(name_or_id) {
            let full = candidate.to_string();
            if let Some(i) = all.iter().find(|i| i.names.contains(&full)) {
                return Ok(i.clone());
            }
        }
        Err(Error::ImageNotFound {
            name: name_or_id.to_owned(),
        })
    }

    /// The image's config, read (and its digest checked) from the store.
    pub fn config(&self, image: &Image) -> Result<ImageConfig> {
        let d = Digest::parse(&image.digest())?;
        let bytes = self.store()?.read_blob(&d)?;
        Ok(ImageConfig::parse(&bytes, &image.digest())?)
    }

    /// Loads every image of the archive at `path` (docker-archive,
    /// oci-archive, oci-dir; layers plain, gzip or zstd), with every name it gives.
    /// Layers already in the store are not unpacked again. A name another
    /// image has moves to the loaded one, as podman does.
    pub fn load(&self, path: &Path) -> Result<Vec<LoadedImage>> {
        self.rt.check_valid()?;
        self.adding(|store| self.load_locked(store, path))
    }

    /// Pulls `name` from its registry: a fully qualified name from its own,
    /// a short one from each `unqualified-search-registries` entry in turn
    /// (every failure collected). Blocked registries fail before any
    /// connection; plain HTTP only for insecure ones. Layers the store has
    /// are not fetched again; a pull killed midway leaves blobs that
    /// verified (kept for the next pull) or nothing (a blob is renamed into
    /// place only once its digest checked), never half a layer.
    pub fn pull(&self, name: &str, options: &PullOptions) -> Result<LoadedImage> {
        self.rt.check_valid()?;
        let conf = crate::registries::Registries::load()?;
        let candidates: Vec<String> = if crate::registries::is_qualified(name) {
            vec![name.to_owned()]
        } else if let Some(target) = conf.alias(name) {
            // An alias decides alone (podman's short-name aliases).
            vec![target]
        } else if conf.unqualified.is_empty() {
            return Err(Error::InvalidArgument {
                what: format!("short-name {name:?}"),
                reason: format!(
                    "did not resolve to an alias and no unqualified-search registries are defined in {:?}: give the full name (registry/repository:tag)",
                    conf.path.display().to_string()
                ),
            });
        } else {
            conf.unqualified
                .iter()
                .map(|r| format!("{r}/{name}"))
                .collect()
        };
        let mut errors = Vec::new();
        for candidate in &candidates {
            let resolved = conf.resolve(candidate);
            if resolved.blocked {
                errors.push(format!(
                    "{candidate}: the registry is blocked in {}",
                    conf.path.display()
                ));
                continue;
            }
            // Mirrors first, in order, then the registry itself (podman's
            // order); every failure is kept for the message.
            let sources = resolved
                .mirrors
                .iter()
                .map(|m| (m.pull_from.as_str(), m.insecure, true))
                .chain(std::iter::once((
                    resolved.pull_from.as_str(),
                    resolved.insecure,
                    false,
                )));
            for (pull_from, conf_insecure, mirror) in sources {
                let insecure = options.tls_verify.map_or(conf_insecure, |verify| !verify);
                let started = std::time::Instant::now();
                let pulled = Reference::parse(pull_from)
                    .map_err(Error::from)
                    .and_then(|r| self.pull_one(&r, candidate, insecure, options));
                match pulled {
                    Ok(image) => {
                        debug!(image = %candidate, from = %pull_from, took = ?started.elapsed(), "pulled");
                        return Ok(image);
                    }
                    Err(e) => {
                        debug!(image = %candidate, from = %pull_from, error = %e, "pull failed");
                        errors.push(match mirror {
                            true => format!("{candidate} (mirror {pull_from}): {e}"),
                            false => format!("{candidate}: {e}"),
                        });
                    }
                }
            }
        }
        Err(Error::PullFailed {
            name: name.to_owned(),
            errors,
        })
    }

    /// `search TERM`: the repositories whose name holds `term`, from the
    /// catalog of `host/` (the term's own registry) or of each search
    /// registry. Returns `registry/repository` names, at most `limit` per
    /// registry.
    pub fn search(
        &self,
        term: &str,
        limit: usize,
        tls_verify: Option<bool>,
    ) -> Result<Vec<String>> {
        self.rt.check_valid()?;
        let conf = crate::registries::Registries::load()?;
        let (registries, needle): (Vec<String>, &str) = match term.split_once('/') {
            Some((host, rest)) if crate::registries::is_qualified(term) => {
                (vec![host.to_owned()], rest)
            }
            _ => (conf.unqualified.clone(), term),
        };
        if registries.is_empty() {
            return Err(Error::InvalidArgument {
                what: format!("search {term:?}"),
                reason: format!(
                    "no registry to search: give one (host/term) or set unqualified-search-registries in {}",
                    conf.path.display()
                ),
            });
        }
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for host in registries {
            let resolved = conf.resolve(&host);
            if resolved.blocked {
                errors.push(format!("{host}: blocked"));
                continue;
            }
            let insecure = tls_verify.map_or(resolved.insecure, |v| !v);
            let endpoint = oxpod_image::Endpoint {
                host: if host == "docker.io" {
                    "registry-1.docker.io".to_owned()
                } else {
                    host.clone()
                },
                insecure,
            };
            match oxpod_image::RegistryClient::new(endpoint, None).catalog() {
                Ok(repos) => out.extend(
                    repos
                        .into_iter()
                        .filter(|r| r.contains(needle))
                        .take(limit)
                        .map(|r| format!("{host}/{r}")),
                ),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if out.is_empty() && !errors.is_empty() {
            return Err(Error::PullFailed {
                name: format!("search {term}"),
                errors,
            });
        }
        Ok(out)
    }

    /// `pull --all-tags`: every tag of a repository (a name without a tag
    /// or digest), one pull each; the first failure stops it.
    pub fn pull_all_tags(&self, name: &str, options: &PullOptions) -> Result<Vec<LoadedImage>> {
        self.rt.check_valid()?;
        if !crate::registries::is_qualified(name) {
            return Err(Error::InvalidArgument {
                what: format!("--all-tags {name}"),
                reason: "give the registry too (registry/repository)".to_owned(),
            });
        }
        let reference = Reference::parse(name)?;
        if name.contains('@')
            || name
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'))
        {
            return Err(Error::InvalidArgument {
                what: format!("--all-tags {name}"),
                reason: "a repository takes no tag or digest with --all-tags".to_owned(),
            });
        }
        let (client, insecure) = self.client_for(
            name,
            &reference,
            options.tls_verify,
            options.credentials.as_ref(),
            options.auth_file.as_deref(),
        )?;
        let mut out = Vec::new();
        for tag in client.tags(&reference.repository)? {
            let tagged = reference.with_tag(&tag)?;
            out.push(self.pull_one(&tagged, &tagged.to_string(), insecure, options)?);
        }
        Ok(out)
    }

    fn pull_one(
        &self,
        reference: &Reference,
        named: &str,
        insecure: bool,
        options: &PullOptions,
    ) -> Result<LoadedImage> {
        // The policy judges the image as named, not the mirror or
        // location it comes from (as containers/image does).
        let named = Reference::parse(named)?.to_string();
        crate::policy::check(self.rt.config().signature_policy_path.as_deref(), &named)?;
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => oxpod_image::lookup_credentials(
                &self.auth_file(options.auth_file.as_deref()),
                &reference.registry,
            )?,
        };
        let client = oxpod_image::RegistryClient::new(
            oxpod_image::Endpoint::of(reference, insecure),
            credentials,
        );
        let mut platform = match &options.platform {
            Some(p) => oxpod_image::PlatformChoice::parse(p)?,
            None => oxpod_image::PlatformChoice::host(),
        };
        for (part, given) in [
            (&mut platform.os, &options.os),
            (&mut platform.arch, &options.arch),
        ] {
            if let Some(v) = given.as_deref().filter(|v| !v.is_empty()) {
                *part = v.to_owned();
            }
        }
        if let Some(v) = options.variant.as_deref().filter(|v| !v.is_empty()) {
            platform.variant = Some(v.to_owned());
        }
        let mut img = client.image(reference, &platform)?;
        // The name as asked for (a `location` rewrite pulls from elsewhere).
        img.names = vec![named];
        let repository = reference.repository.clone();
        self.adding(|store| {
            self.add_image(
                store,
                img,
                &|layer| {
                    let blob = client.blob(&repository, &layer.member, layer.size.unwrap_or(0))?;
                    let blob: Box<dyn std::io::Read> = match &options.progress {
                        Some(tell) => Box::new(Counted {
                            inner: blob,
                            done: 0,
                            digest: layer.member.clone(),
                            size: layer.size,
                            tell: tell.clone(),
                        }),
                        None => blob,
                    };
                    Ok(blob)
                },
                EventStatus::Pull,
                // Both cores busy: one layer downloads while another unpacks.
                3,
            )
        })
    }

    /// `push`: the image's blobs the registry lacks (a HEAD each first),
    /// its config, then a manifest in `format` (`v2s2`, docker's, or `oci`)
    /// under `destination`'s tag. Holds the store's shared lock, so no
    /// `rmi` sweeps a blob while it is sent. Returns the blobs sent and
    /// the manifest's digest.
    pub fn push(
        &self,
        name: &str,
        destination: Option<&str>,
        options: &PushOptions,
    ) -> Result<(usize, String)> {
        self.rt.check_valid()?;
        let image = self.resolve(name)?;
        let dest = match destination {
            Some(d) => d.to_owned(),
            None => image
                .names
                .iter()
                .find(|n| {
                    n.as_str() == name || Reference::parse(name).is_ok_and(|r| r.to_string() == **n)
                })
                .cloned()
                .unwrap_or_else(|| name.to_owned()),
        };
        if !crate::registries::is_qualified(&dest) {
            return Err(Error::InvalidArgument {
                what: format!("push destination {dest:?}"),
                reason: "give the registry too (registry/repository:tag)".to_owned(),
            });
        }
        let reference = Reference::parse(&dest)?;
        let (client, _) = self.client_for(
            &dest,
            &reference,
            options.tls_verify,
            options.credentials.as_ref(),
            options.auth_file.as_deref(),
        )?;
        let oci = match options.format.as_deref() {
            None | Some("v2s2") => false,
            Some("oci") => true,
            Some(other) => {
                return Err(Error::InvalidArgument {
                    what: format!("--format {other:?}"),
                    reason: "use oci or v2s2".to_owned(),
                });
            }
        };
        let store = self.store()?;
        let _shared = store.lock_shared()?;
        let repo = &reference.repository;
        let mut sent = 0;
        let mut layers = Vec::new();
        for l in &image.layers {
            let digest = Digest::parse(&l.blob).map_err(store_err)?;
            let open = || -> oxpod_image::Result<Box<dyn std::io::Read + Send>> {
                store
                    .open_blob(&digest)
                    .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                    .map_err(|e| oxpod_image::Error::Registry {
                        registry: reference.registry.clone(),
                        reason: format!("reading blob {digest}: {e}"),
                    })
            };
            if client.push_blob(repo, &l.blob, l.blob_size, &open)? {
                sent += 1;
            }
            let media = match (oci, l.gzip, l.zstd) {
                (false, false, false) => "application/vnd.docker.image.rootfs.diff.tar",
                (false, true, _) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
                (false, false, true) => {
                    return Err(Error::InvalidArgument {
                        what: "--format v2s2".to_owned(),
                        reason: "a zstd layer has no docker media type: push with --format oci"
                            .to_owned(),
                    });
                }
                (true, false, false) => oxpod_image::OCI_LAYER_TAR,
                (true, true, _) => oxpod_image::OCI_LAYER_GZIP,
                (true, false, true) => oxpod_image::OCI_LAYER_ZSTD,
            };
            layers.push(
                serde_json::json!({"mediaType": media, "size": l.blob_size, "digest": l.blob}),
            );
        }
        let config_digest = Digest::parse(&image.digest()).map_err(store_err)?;
        let config = store.read_blob(&config_digest)?;
        let config_len = config.len() as u64;
        let config_bytes = std::sync::Arc::new(config);
        let open_config = || -> oxpod_image::Result<Box<dyn std::io::Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(
                config_bytes.as_ref().clone(),
            )))
        };
        if client.push_blob(repo, &image.digest(), config_len, &open_config)? {
            sent += 1;
        }
        let (manifest_type, config_type) = if oci {
            (oxpod_image::OCI_MANIFEST, oxpod_image::OCI_CONFIG)
        } else {
            (
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json",
            )
        };
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": config_len, "digest": image.digest()},
            "layers": layers,
        }))
        .map_err(|e| Error::InvalidArgument {
            what: "manifest".to_owned(),
            reason: e.to_string(),
        })?;
        let tag = reference.tag.clone().unwrap_or_else(|| "latest".to_owned());
        client.push_manifest(repo, &tag, manifest_type, &manifest)?;
        let digest = Digest::of(&manifest).to_string();
        self.rt.emit(image_event(EventStatus::Push, &image));
        Ok((sent, digest))
    }

    /// A client of `reference`'s registry as registries.conf and the
    /// options say: refused when blocked (before any connection), insecure
    /// when marked or `--tls-verify=false`, with the credentials given or
    /// the auth file's. `name` is what registries.conf is matched against.
    fn client_for(
        &self,
        name: &str,
        reference: &Reference,
        tls_verify: Option<bool>,
        credentials: Option<&oxpod_image::Credentials>,
        auth_file: Option<&Path>,
    ) -> Result<(oxpod_image::RegistryClient, bool)> {
        let conf = crate::registries::Registries::load()?;
        let resolved = conf.resolve(name);
        if resolved.blocked {
            return Err(Error::InvalidArgument {
                what: format!("registry {}", reference.registry),
                reason: format!("it is blocked in {}", conf.path.display()),
            });
        }
        let insecure = tls_verify.map_or(resolved.insecure, |v| !v);
        let credentials = match credentials {
            Some(c) => Some(c.clone()),
            None => {
                oxpod_image::lookup_credentials(&self.auth_file(auth_file), &reference.registry)?
            }
        };
        let client = oxpod_image::RegistryClient::new(
            oxpod_image::Endpoint::of(reference, insecure),
            credentials,
        );
        Ok((client, insecure))
    }

    fn auth_file(&self, given: Option<&Path>) -> std::path::PathBuf {
        given
            .map(Path::to_path_buf)
            .unwrap_or_else(|| oxpod_image::default_auth_file(self.rt.identity.uid))
    }

    /// `login`: checks the credentials against `registry` (`GET /v2/`
    /// through its challenge), then keeps them in the auth file. Returns
    /// the file written.
    pub fn login(
        &self,
        registry: &str,
        credentials: &oxpod_image::Credentials,
        tls_verify: Option<bool>,
        auth_file: Option<&Path>,
    ) -> Result<std::path::PathBuf> {
        let registry = registry
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let conf = crate::registries::Registries::load()?;
        let resolved = conf.resolve(registry);
        if resolved.blocked {
            return Err(Error::InvalidArgument {
                what: format!("registry {registry}"),
                reason: format!("it is blocked in {}", conf.path.display()),
            });
        }
        let insecure = tls_verify.map_or(resolved.insecure, |v| !v);
        let endpoint = match registry {
            "docker.io" => oxpod_image::Endpoint {
                host: "registry-1.docker.io".to_owned(),
                insecure,
            },
            other => oxpod_image::Endpoint {
                host: other.to_owned(),
                insecure,
            },
        };
        oxpod_image::RegistryClient::new(endpoint, Some(credentials.clone())).check_login()?;
        let file = self.auth_file(auth_file);
        oxpod_image::store_credentials(&file, registry, credentials)?;
        Ok(file)
    }

    /// `logout`: forgets `registry`'s credentials (`None`: all of them).
    /// Whether there were any.
    pub fn logout(&self, registry: Option<&str>, auth_file: Option<&Path>) -> Result<bool> {
        let file = self.auth_file(auth_file);
        Ok(oxpod_image::remove_credentials(&file, registry)?)
    }

    /// Runs `add` (a load, import or commit) under the store's shared
    /// lock. When it fails, what it stored (a blob before a full disk, a
    /// layer below a hostile one) belongs to no image: swept once no other
    /// addition is in flight (under the exclusive lock).
    fn adding<T>(&self, add: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let store = self.store()?;
        // Journalled: a killed addition's leftovers are swept by the next
        // command's repair (no alive lock held: a long pull must not keep
        // other commands from opening).
        let mut ledger = crate::ledger::Ledger::begin(self.rt, "image add", false)?;
        ledger.note(crate::ledger::Step::StoreAddition)?;
        let shared = store.lock_shared()?;
        let r = add(store);
        drop(shared);
        ledger.commit();
        if r.is_err()
            && let Ok(_exclusive) = store.lock_exclusive()
            && let Err(e) = self.sweep_locked(store)
        {
            tracing::warn!(error = %e, "cannot sweep after a failed addition; `system check --repair` will");
        }
        r
    }

    fn load_locked(&self, store: &Store, path: &Path) -> Result<Vec<LoadedImage>> {
        let archive = Archive::open(path, &store.root().join("tmp"))?;
        // Several index entries (one per name) may name one image: load it
        // once, with all of them.
        let mut found: Vec<oxpod_image::ArchiveImage> = Vec::new();
        for img in archive.images()? {
            match found
                .iter_mut()
                .find(|f| f.config_digest == img.config_digest)
            {
                Some(f) => f.names.extend(img.names),
                None => found.push(img),
            }
        }
        let mut loaded = Vec::new();
        for img in found {
            let one = self.add_image(
                store,
                img,
                &|layer| archive.open_member(&layer.member).map_err(Error::from),
                EventStatus::LoadFromArchive,
                1,
            )?;
            loaded.push(one);
        }
        Ok(loaded)
    }

    /// Adds one image whose config is `img`: each layer's blob read with
    /// `open` unless the store has it, unpacked unless the store has its
    /// chain, then the config and the record. The caller holds the store's
    /// shared lock ([`Images::adding`]).
    fn add_image<'a>(
        &self,
        store: &Store,
        img: oxpod_image::ArchiveImage,
        open: &(dyn Fn(&oxpod_image::ArchiveLayer) -> Result<Box<dyn std::io::Read + 'a>> + Sync),
        event: EventStatus,
        workers: usize,
    ) -> Result<LoadedImage> {
        let rt = self.rt;
        let config = ImageConfig::parse(&img.config, &img.config_digest)?;
        if config.rootfs.diff_ids.len() != img.layers.len() {
            return Err(Error::Image(oxpod_image::Error::BadArchive {
                reason: format!(
                    "image {} has {} layers but its config lists {} diff ids",
                    img.config_digest,
                    img.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            }));
        }
        let diff_ids = config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(store_err)?;
        let chains = chain_ids(&diff_ids);
        // One layer: its blob (fetched unless stored), then its directory
        // (unpacked unless stored). Layers do not depend on one another
        // here, so a pull runs several at once (`workers`).
        let one = |i: usize| -> Result<ImageLayer> {
            let (layer, diff, chain) = (&img.layers[i], &diff_ids[i], &chains[i]);
            let expected = layer
                .digest
                .as_deref()
                .map(Digest::parse)
                .transpose()
                .map_err(store_err)?;
            let (blob, blob_size) = match &expected {
                Some(d) if store.has_blob(d) => {
                    let size = std::fs::metadata(store.blob_path(d))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    (d.clone(), size)
                }
                _ => {
                    let member = open(layer)?;
                    store.put_blob(member, expected.as_ref().map(|d| (d, layer.size)))?
                }
            };
            let compression = compression_of(store, &blob)?;
            let info = match store.layer(chain)? {
                Some(info) => info,
                None => {
                    let started = std::time::Instant::now();
                    let info = store.add_layer(
                        chain,
                        Some(diff),
                        store.open_blob(&blob)?,
                        &UnpackLimits::default(),
                    )?;
                    debug!(layer = %chain, bytes = info.size, ms = started.elapsed().as_millis() as u64, "unpacked layer");
                    info
                }
            };
            Ok(ImageLayer::new(
                chain,
                diff,
                info.size,
                &blob,
                blob_size,
                compression,
            ))
        };
        let n = img.layers.len();
        let layers: Vec<ImageLayer> = if workers <= 1 || n <= 1 {
            (0..n).map(one).collect::<Result<_>>()?
        } else {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let slots: Vec<std::sync::Mutex<Option<Result<ImageLayer>>>> =
                (0..n).map(|_| std::sync::Mutex::new(None)).collect();
            std::thread::scope(|scope| {
                for _ in 0..workers.min(n) {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            let r = one(i);
                            let failed = r.is_err();
                            if let Ok(mut slot) = slots[i].lock() {
                                *slot = Some(r);
                            }
                            if failed {
                                // The others stop taking layers.
                                next.store(n, std::sync::atomic::Ordering::Relaxed);
                                break;
                            }
                        }
                    });
                }
            });
            let results: Vec<Option<Result<ImageLayer>>> = slots
                .into_iter()
                .map(|s| s.into_inner().ok().flatten())
                .collect();
            // The failure that stopped the others is the one to tell.
            let mut out = Vec::with_capacity(n);
            let mut skipped = false;
            for r in results {
                match r {
                    Some(Ok(l)) => out.push(l),
                    Some(Err(e)) => return Err(e),
                    None => skipped = true,
                }
            }
            if skipped {
                return Err(Error::InvalidArgument {
                    what: "pull".to_owned(),
                    reason: "a layer was not fetched".to_owned(),
                });
            }
            out
        };
        let config_digest = Digest::parse(&img.config_digest).map_err(store_err)?;
        store.put_blob_bytes(&img.config, Some(&config_digest))?;
        let mut names = BTreeSet::new();
        for n in &img.names {
            match Reference::parse(n) {
                Ok(r) => {
                    names.insert(r.to_string());
                }
                Err(e) => {
                    tracing::warn!(name = %n, error = %e, "ignoring a name the archive gives")
                }
            }
        }
        let image = Image::new(&config_digest, &config, layers, &names);
        let saved = self.save_record(image, &names)?;
        rt.emit(image_event(event, &saved));
        info!(id = %saved.id, names = ?saved.names, "added image");
        Ok(LoadedImage {
            id: saved.id,
            names: saved.names,
        })
    }

    /// Writes `image` (merging the names of a record of the same id), and
    /// takes `names` off any other image, in one transaction.
    fn save_record(&self, mut image: Image, names: &BTreeSet<String>) -> Result<Image> {
        let mut state = self.rt.state();
        let mut ops = Vec::new();
        if let Some(old) = state.item::<Image>(&image.id)? {
            let merged: BTreeSet<String> = old.names.iter().cloned().chain(image.names).collect();
            image.names = merged.into_iter().collect();
            image.loaded = old.loaded;
        }
        for r in state.all_items::<Image>()? {
            let Ok(mut other) = r else { continue };
            if other.id == image.id {
                continue;
            }
            let before = other.names.len();
            other.names.retain(|n| !names.contains(n));
            if other.names.len() != before {
                ops.push(ItemOp::put(&other)?);
            }
        }
        ops.push(ItemOp::put(&image)?);
        state.write_items(&ops)?;
        Ok(image)
    }

    /// Gives the image another name (`tag`); the name moves off any image
    /// that had it.
    pub fn tag(&self, image: &Image, name: &str) -> Result<Image> {
        self.rt.check_valid()?;
        let full = Reference::parse(name)?.to_string();
        let store = self.store()?;
        let _shared = store.lock_shared()?;
        let mut fresh =
            self.rt
                .state()
                .item::<Image>(&image.id)?
                .ok_or_else(|| Error::ImageNotFound {
                    name: image.id.clone(),
                })?;
        if !fresh.names.contains(&full) {
            fresh.names.push(full.clone());
            fresh.names.sort();
        }
        let saved = self.save_record(fresh, &BTreeSet::from([full]))?;
        self.rt.emit(image_event(EventStatus::Tag, &saved));
        Ok(saved)
    }

    /// Takes a name off the image (`untag`); all of them when `name` is
    /// `None`.
    pub fn untag(&self, image: &Image, name: Option<&str>) -> Result<Image> {
        self.rt.check_valid()?;
        let mut fresh =
            self.rt
                .state()
                .item::<Image>(&image.id)?
                .ok_or_else(|| Error::ImageNotFound {
                    name: image.id.clone(),
                })?;
        match name {
            None => fresh.names.clear(),
            Some(n) => {
                let full = Reference::parse(n)?.to_string();
                if !fresh.names.contains(&full) {
                    return Err(Error::ImageNotFound { name: n.to_owned() });
                }
                fresh.names.retain(|x| x != &full);
            }
        }
        self.rt.state().put_item(&fresh)?;
        self.rt.emit(image_event(EventStatus::Untag, &fresh));
        Ok(fresh)
    }

    /// The containers made from the image.
    pub fn users(&self, image: &Image) -> Result<Vec<ContainerRef>> {
        let listing = self.rt.in_all_namespaces(|s| s.all_containers())?;
        Ok(listing
            .items
            .iter()
            .filter(|c| {
                c.config.image_id.as_deref() == Some(image.id.as_str())
                    || c.config
                        .mounts
                        .iter()
                        .any(|m| m.kind == "image" && m.name == image.id)
            })
            .map(ContainerRef::from)
            .collect())
    }

    /// Removes an image named `name_or_id`. Given by one of several names,
    /// only that name goes (podman's "Untagged"); otherwise the image goes
    /// unless containers use it (refused, naming them; with `force` they
    /// are removed first, as podman's `rmi -f` does), and its layers and
    /// blobs that no other image uses are swept. Returns what was done.
    pub fn remove(&self, name_or_id: &str, force: bool) -> Result<Removed> {
        let rt = self.rt;
        rt.check_valid()?;
        let image = self.resolve(name_or_id)?;
        let by_name = oxpod_image::local_candidates(name_or_id)
            .into_iter()
            .map(|r| r.to_string())
            .find(|n| image.names.contains(n));
        if let Some(n) = &by_name
            && image.names.len() > 1
        {
            self.untag(&image, Some(n))?;
            return Ok(Removed::Untagged(n.clone()));
        }
        let store = self.store()?;
        let users = self.users(&image)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::ImageInUse {
                    image: name_or_id.to_owned(),
                    containers: users.iter().map(|r| r.name().to_owned()).collect(),
                });
            }
            for r in &users {
                match rt.containers().remove(r, true) {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let _exclusive = store.lock_exclusive()?;
        // A container created meanwhile (it held the shared lock) wins.
        let users = self.users(&image)?;
        if !users.is_empty() {
            return Err(Error::ImageInUse {
                image: name_or_id.to_owned(),
                containers: users.iter().map(|r| r.name().to_owned()).collect(),
            });
        }
        rt.state().remove_item::<Image>(&image.id)?;
        self.sweep_locked(store)?;
        rt.emit(image_event(EventStatus::Remove, &image));
        Ok(Removed::Deleted {
            id: image.id,
            names: image.names,
        })
    }

    /// Removes the layers and blobs no image record uses (the exclusive
    /// lock held).
    /// Sweeps what no image names, unless an addition is in flight (its
    /// blobs are not named yet): then the next failed addition, `rmi` or
    /// `system check --repair` does. A repair's release of a killed
    /// addition.
    pub(crate) fn sweep_if_idle(&self) {
        let swept = (|| -> Result<bool> {
            let store = self.store()?;
            let Some(_exclusive) = store.try_lock_exclusive()? else {
                return Ok(false);
            };
            self.sweep_locked(store)?;
            Ok(true)
        })();
        match swept {
            Ok(true) => debug!("swept what a killed image addition left"),
            Ok(false) => {
                debug!("an image addition is in flight: the sweep waits for a later command")
            }
            Err(e) => warn!(error = %e, "cannot sweep what a killed image addition left"),
        }
    }

    fn sweep_locked(&self, store: &Store) -> Result<()> {
        let mut layers = BTreeSet::new();
        let mut blobs = BTreeSet::new();
        for i in self.records()? {
            blobs.insert(Digest::parse(&i.digest())?);
            for l in &i.layers {
                layers.insert(Digest::parse(&l.chain_id)?);
                blobs.insert(Digest::parse(&l.blob)?);
            }
        }
        let (l, b) = store.sweep(&layers, &blobs)?;
        debug!(layers = l, blobs = b, "swept the store");
        Ok(())
    }

    /// Writes `images` to `out` as an archive of `format`.
    pub fn save(
        &self,
        images: &[Image],
        format: SaveFormat,
        out: impl std::io::Write,
    ) -> Result<()> {
        self.rt.check_valid()?;
        let store = self.store()?;
        let _shared = store.lock_shared()?;
        let mut save = Vec::new();
        for img in images {
            let config = store.read_blob(&Digest::parse(&img.digest())?)?;
            let mut layers = Vec::new();
            for l in &img.layers {
                let blob = Digest::parse(&l.blob)?;
                let blob2 = blob.clone();
                layers.push(oxpod_image::SaveLayer {
                    diff_id: l.diff_id.clone(),
                    diff_size: l.size,
                    blob_digest: l.blob.clone(),
                    blob_size: l.blob_size,
                    media_type: match l.compression() {
                        Compression::None => oxpod_image::OCI_LAYER_TAR,
                        Compression::Gzip => oxpod_image::OCI_LAYER_GZIP,
                        Compression::Zstd => oxpod_image::OCI_LAYER_ZSTD,
                    },
                    open: Box::new(move || {
                        store
                            .open_blob(&blob)
                            .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn Read>)
                            .map_err(archive_err)
                    }),
                    open_plain: Box::new(move || {
                        store
                            .open_blob(&blob2)
                            .and_then(|f| oxpod_storage::decompressed(&l.diff_id, f))
                            .map_err(archive_err)
                    }),
                });
            }
            save.push(oxpod_image::SaveImage {
                names: img.names.clone(),
                config,
                layers,
            });
        }
        match format {
            SaveFormat::DockerArchive => oxpod_image::write_docker_archive(out, &save)?,
            SaveFormat::OciArchive => oxpod_image::write_oci_archive(out, &save)?,
        }
        for img in images {
            self.rt.emit(image_event(EventStatus::Save, img));
        }
        Ok(())
    }

    /// Stores a new image made of `config` (a config blob) and `layers`
    /// (already in the store), named `names`.
    fn add_made(
        &self,
        config: Vec<u8>,
        layers: Vec<ImageLayer>,
        names: BTreeSet<String>,
        status: EventStatus,
    ) -> Result<Image> {
        let store = self.store()?;
        let parsed = ImageConfig::parse(&config, "the new image")?;
        let digest = store.put_blob_bytes(&config, None)?;
        let image = Image::new(&digest, &parsed, layers, &names);
        let saved = self.save_record(image, &names)?;
        self.rt.emit(image_event(status, &saved));
        Ok(saved)
    }

    /// Stores `blob` (a layer tar, plain, gzip or zstd) and unpacks it as the layer
    /// on top of `parent` (chain ids, bottom first).
    fn add_layer_from(&self, blob: &Path, parent: &[Digest]) -> Result<ImageLayer> {
        let store = self.store()?;
        let open = || std::fs::File::open(blob).map_err(|e| Error::io("open", blob, e));
        let (diff, _) = oxpod_storage::diff_id_of(open()?)?;
        let (digest, blob_size) = store.put_blob(open()?, None)?;
        let compression = compression_of(store, &digest)?;
        let chain = match parent.last() {
            None => diff.clone(),
            Some(p) => Digest::of(format!("{p} {diff}").as_bytes()),
        };
        let info = match store.layer(&chain)? {
            Some(i) => i,
            None => store.add_layer(
                &chain,
                Some(&diff),
                store.open_blob(&digest)?,
                &UnpackLimits::default(),
            )?,
        };
        Ok(ImageLayer::new(
            &chain,
            &diff,
            info.size,
            &digest,
            blob_size,
            compression,
        ))
    }

    /// `import`: a root file system tarball (plain, gzip or zstd) as a one-layer
    /// image with an empty config (a command must be given to run it), as
    /// podman's `import`.
    pub fn import(&self, tarball: &Path, name: Option<&str>) -> Result<Image> {
        self.rt.check_valid()?;
        let names = match name {
            Some(n) => BTreeSet::from([Reference::parse(n)?.to_string()]),
            None => BTreeSet::new(),
        };
        self.adding(|_| {
            let layer = self.add_layer_from(tarball, &[])?;
            let now = Timestamp::now().to_string();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": oxpod_image::host_arch(),
            "os": "linux",
            "created": now,
            "config": {"Env": [oxpod_ociruntime::DEFAULT_PATH]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [{"created": now, "created_by": "oxpod import", "comment": "imported from tarball"}],
        }))
        .map_err(|e| Error::io("encode", "the image config", std::io::Error::other(e)))?;
        self.add_made(config, vec![layer], names, EventStatus::Import)
        })
    }

    /// `commit`: a container's changes as a new layer over its image's:
    /// on overlay its upper directory (overlay's whiteouts written as
    /// OCI's), on vfs the differences between its root and the image's
    /// layers.
    pub fn commit(&self, r: &ContainerRef, name: Option<&str>) -> Result<Image> {
        let rt = self.rt;
        rt.check_valid()?;
        let ctr = rt.containers().get(r)?;
        let Some(image_id) = ctr.config.image_id.clone() else {
            return Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: "made from a root file system directory".into(),
                remedy: "commit needs a container made from an image",
            });
        };
        let names = match name {
            Some(n) => BTreeSet::from([Reference::parse(n)?.to_string()]),
            None => BTreeSet::new(),
        };
        self.adding(|store| self.commit_locked(store, &ctr, &image_id, names))
    }

    fn commit_locked(
        &self,
        store: &Store,
        ctr: &oxpod_state::Container,
        image_id: &str,
        names: BTreeSet<String>,
    ) -> Result<Image> {
        let base =
            self.rt
                .state()
                .item::<Image>(image_id)?
                .ok_or_else(|| Error::ImageNotFound {
                    name: image_id.to_owned(),
                })?;
        let mut config = self.config(&base)?;
        let tmp = store
            .root()
            .join("tmp")
            .join(format!("{}-commit.tar", std::process::id()));
        let id = &ctr.config.id;
        let written = (|| -> Result<ImageLayer> {
            let file = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
            let out = std::io::BufWriter::new(file);
            match store.container_driver(id) {
                // overlay: the upper directory is the changes.
                Some(oxpod_storage::Driver::Overlay) => {
                    oxpod_storage::tar_tree(&store.container_diff(id), out, true)?;
                }
                // vfs: the root compared with the image's layers.
                Some(oxpod_storage::Driver::Vfs) => {
                    let lower: Vec<_> = base.chain()?.iter().map(|l| store.layer_diff(l)).collect();
                    oxpod_storage::tar_changes(&store.container_root(id), &lower, out)?;
                }
                // Never started: no changes, an empty layer.
                None => {
                    tar_empty(
                        out.into_inner()
                            .map_err(|e| Error::io("write", &tmp, e.into_error()))?,
                    )
                    .map_err(|e| Error::io("write", &tmp, e))?;
                }
            }
            self.add_layer_from(&tmp, &base.chain()?)
        })();
        let _ = std::fs::remove_file(&tmp);
        let layer = written?;
        let now = Timestamp::now().to_string();
        config.created = Some(now.clone());
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        config.history.push(serde_json::json!({"created": now, "created_by": format!("oxpod commit {}", ctr.config.name)}));
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::io("encode", "the image config", std::io::Error::other(e)))?;
        let mut layers = base.layers.clone();
        layers.push(layer);
        self.add_made(bytes, layers, names, EventStatus::Commit)
    }

    /// `export`: the container's whole root as a tar (mounted for the
    /// while when it is not running).
    pub fn export(&self, r: &ContainerRef, out: impl std::io::Write) -> Result<()> {
        let rt = self.rt;
        rt.check_valid()?;
        let ctr = rt.containers().get(r)?;
        match &ctr.config.image_id {
            None => Ok(oxpod_storage::tar_tree(&ctr.config.rootfs, out, false)?),
            Some(image_id) => {
                let store = self.store()?;
                let root = store.container_root(&ctr.config.id);
                let was_mounted = root.exists()
                    && std::fs::metadata(&root)
                        .ok()
                        .zip(root.parent().and_then(|p| std::fs::metadata(p).ok()))
                        .is_some_and(|(a, b)| {
                            use std::os::unix::fs::MetadataExt;
                            a.dev() != b.dev()
                        });
                let root = self.mount_root(&ctr.config.id, image_id)?;
                let r = oxpod_storage::tar_tree(&root, out, false);
                if !was_mounted {
                    let _ = self.unmount_root(&ctr.config.id);
                }
                Ok(r?)
            }
        }
    }

    /// The image record `image_id` (a container's, so its id is exact).
    fn by_id(&self, image_id: &str) -> Result<Image> {
        self.rt
            .state()
            .item::<Image>(image_id)?
            .ok_or_else(|| Error::ImageNotFound {
                name: image_id.to_owned(),
            })
    }

    /// Mounts a container's root over its image's layers.
    pub(crate) fn mount_root(
        &self,
        container_id: &str,
        image_id: &str,
    ) -> Result<std::path::PathBuf> {
        let image = self.by_id(image_id)?;
        let store = self.store()?;
        let driver = self.root_driver(Some(container_id))?;
        let _shared = store.lock_shared()?;
        let root = store.mount(container_id, &image.chain()?, driver)?;
        // The image's Volumes exist in its root (empty directories until
        // volumes are mounted there).
        for path in &image.volumes {
            oxpod_storage::make_dir_in_root(&root, path)?;
        }
        Ok(root)
    }

    /// The directories of image `image_id`'s layers, top first, as
    /// overlay's `lowerdir` takes them (`--mount type=image`).
    pub(crate) fn lower_dirs(&self, image_id: &str) -> Result<Vec<std::path::PathBuf>> {
        let image = self.by_id(image_id)?;
        let store = self.store()?;
        let dirs = store.lower_dirs(&image.chain()?)?;
        if dirs.is_empty() {
            return Err(Error::InvalidMount {
                spec: image_id.to_owned(),
                reason: "the image has no layers to mount".to_owned(),
            });
        }
        Ok(dirs)
    }

    /// Whether overlay works for the store, probed once per boot (the
    /// answer kept in the tmp dir with the boot id): `Err` says why not.
    pub fn overlay_probe(&self) -> Result<std::result::Result<(), String>> {
        #[derive(Serialize, Deserialize)]
        struct Probe {
            boot_id: String,
            store: std::path::PathBuf,
            error: Option<String>,
        }
        let store = self.store()?;
        let path = self.rt.config().tmp_dir.join("overlay-probe.json");
        let boot_id = crate::host::boot_id();
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(p) = serde_json::from_slice::<Probe>(&bytes)
            && p.boot_id == boot_id
            && p.store == store.root()
        {
            return Ok(p.error.map_or(Ok(()), Err));
        }
        let started = std::time::Instant::now();
        let r = store.probe_overlay();
        debug!(
            ok = r.is_ok(),
            ms = started.elapsed().as_millis() as u64,
            "probed overlay"
        );
        let probe = Probe {
            boot_id,
            store: store.root().to_path_buf(),
            error: r.clone().err(),
        };
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        let bytes = serde_json::to_vec(&probe)
            .map_err(|e| Error::io("encode", &path, std::io::Error::other(e)))?;
        // A cache: a failure to keep it only means probing again.
        if std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(r)
    }

    /// The driver of a container's root: the one that made it, else the
    /// configured one, which for overlay must have passed this boot's
    /// probe (so `create` fails early, naming why and the remedy).
    pub(crate) fn root_driver(&self, container_id: Option<&str>) -> Result<oxpod_storage::Driver> {
        let store = self.store()?;
        if let Some(d) = container_id.and_then(|id| store.container_driver(id)) {
            return Ok(d);
        }
        let driver = self.driver();
        if driver == oxpod_storage::Driver::Overlay
            && let Err(reason) = self.overlay_probe()?
        {
            return Err(Error::OverlayUnusable {
                store: store.root().to_path_buf(),
                filesystem: store.backing_filesystem(),
                reason,
            });
        }
        Ok(driver)
    }

    /// The configured storage driver.
    pub(crate) fn driver(&self) -> oxpod_storage::Driver {
        match self.rt.config().storage_driver {
            oxpod_config::StorageDriver::Overlay => oxpod_storage::Driver::Overlay,
            oxpod_config::StorageDriver::Vfs => oxpod_storage::Driver::Vfs,
        }
    }

    /// Unmounts a container's root (it stays on disk).
    pub(crate) fn unmount_root(&self, container_id: &str) -> Result<()> {
        Ok(self.store()?.unmount(container_id)?)
    }

    /// Reads a file of the image's root as its layers stack it (the
    /// topmost layer that has it; a whiteout or an opaque directory above
    /// hides it). For `/etc/passwd` and `/etc/group` at create.
    pub(crate) fn read_file(&self, image: &Image, rel: &str) -> Result<Option<Vec<u8>>> {
        let store = self.store()?;
        Ok(store.read_layered_file(&image.chain()?, rel)?)
    }
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// Only this name was taken off (the image has others).
    Untagged(String),
    /// The image is gone.
    Deleted {
        /// Its id.
        id: String,
        /// The names it had.
        names: Vec<String>,
    },
}

/// An empty tar: two zero blocks.
fn tar_empty(mut f: std::fs::File) -> std::io::Result<()> {
    use std::io::Write;
    f.write_all(&[0u8; 1024])?;
    f.sync_all()
}

fn archive_err(e: oxpod_storage::Error) -> oxpod_image::Error {
    oxpod_image::Error::BadArchive {
        reason: e.to_string(),
    }
}

fn compression_of(store: &Store, blob: &Digest) -> Result<Compression> {
    let mut magic = [0u8; 4];
    let mut f = store.open_blob(blob)?;
    let mut n = 0;
    while n < magic.len() {
        match f.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io("read", store.blob_path(blob), e)),
        }
    }
    Ok(Compression::detect(&magic[..n]))
}

fn image_event(status: EventStatus, image: &Image) -> Event {
    let mut e = Event::new(EventType::Image, status);
    e.id = image.digest();
    e.name = image.names.first().cloned().unwrap_or_default();
    e
}
