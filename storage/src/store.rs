//! The store's directory: blobs, layers, short links and container roots.
//!
//! ```text
//! <root>/storage.lock           flock: shared to add, exclusive to sweep
//! <root>/blobs/sha256/<hex>     immutable blobs (layers, configs, manifests)
//! <root>/ingest/<pid>-<n>       a blob being written
//! <root>/layers/<hex>/diff/     a layer, unpacked in overlay form
//! <root>/layers/<hex>/meta.json its diff id, size and short link
//! <root>/layers/<hex>.tmp-<pid> a layer being unpacked (or removed)
//! <root>/l/<26 chars>           short link to a layer's diff (lowerdir)
//! <root>/containers/<id>/       a container's diff, work and merged
//! ```
//!
//! Every step that makes something visible is a rename of a finished,
//! fsynced file or directory, so a killed load leaves only temporaries,
//! which the next [`Store::open`] removes when their process is gone.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::unpack::{UnpackLimits, unpack_layer};

/// How container roots are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// overlayfs: the image's layers as lower directories, the container's
    /// own upper and work directories.
    Overlay,
    /// A copy of the layers per container, whiteouts applied as deletions:
    /// for file systems overlay cannot work on (slow, always works).
    Vfs,
}

impl Driver {
    /// The name podman's `info` shows (`GraphDriverName`).
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Vfs => "vfs",
        }
    }
}

/// A layer in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Its chain id (the directory's name).
    pub chain_id: Digest,
    /// sha256 of its uncompressed tar.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub size: u64,
    /// Its short link's name under `l/`.
    pub link: String,
}

/// The store: a directory of blobs, layers and container roots.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
}

/// A held store lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _flock: nix::fcntl::Flock<File>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

const DIRS: &[&str] = &["blobs/sha256", "ingest", "layers", "l", "containers", "tmp"];

impl Store {
    /// Opens (making it, mode 0700) the store at `root` and removes what a
    /// killed process left half made. A directory of another user is
    /// refused.
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        for d in std::iter::once("").chain(DIRS.iter().copied()) {
            let path = root.join(d);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(|e| Error::io("create", &path, e))?;
            let meta = fs::metadata(&path).map_err(|e| Error::io("stat", &path, e))?;
            let uid = nix::unistd::geteuid().as_raw();
            if meta.uid() != uid {
                return Err(Error::NotOurs {
                    path,
                    owner: meta.uid(),
                    uid,
                });
            }
        }
        store.sweep_temporaries()?;
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, arg: nix::fcntl::FlockArg) -> Result<StoreLock> {
        let path = self.root.join("storage.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        let flock = nix::fcntl::Flock::lock(file, arg)
            .map_err(|(_, e)| Error::io("lock", &path, std::io::Error::from(e)))?;
        Ok(StoreLock { _flock: flock })
    }

    /// The lock adders hold (loads, pulls, container roots): many at once.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(nix::fcntl::FlockArg::LockShared)
    }

    /// The lock a sweep holds: nobody adds meanwhile.
    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(nix::fcntl::FlockArg::LockExclusive)
    }

    /// The exclusive lock if no addition holds the shared one now.
    pub fn try_lock_exclusive(&self) -> Result<Option<StoreLock>> {
        match self.lock(nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(l)),
            Err(Error::Io { source, .. })
                if source.raw_os_error() == Some(nix::errno::Errno::EWOULDBLOCK as i32) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes ingest files and layer temporaries whose process is gone.
    fn sweep_temporaries(&self) -> Result<()> {
        let dead = |pid: &str| {
            pid.parse::<i32>().is_ok_and(|p| {
                matches!(
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None),
                    Err(nix::errno::Errno::ESRCH)
                )
            })
        };
        for (dir, split) in [("ingest", '-'), ("layers", '-'), ("tmp", '-')] {
            let path = self.root.join(dir);
            let entries = fs::read_dir(&path).map_err(|e| Error::io("list", &path, e))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let pid = if dir == "layers" {
                    match name.split_once(".tmp-") {
                        Some((_, rest)) => rest.split(split).next().unwrap_or(""),
                        None => continue,
                    }
                } else {
                    name.split(split).next().unwrap_or("")
                };
                if dead(pid) {
                    let p = entry.path();
                    tracing::info!(path = %p.display(), "removing what a killed process left half made");
                    let r = if p.is_dir() {
                        // A probe killed while its overlay was mounted.
                        let merged = p.join("merged");
                        if merged.is_dir() && is_mount_point(&merged).unwrap_or(false) {
                            let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
                        }
                        fs::remove_dir_all(&p)
                    } else {
                        fs::remove_file(&p)
                    };
                    if let Err(e) = r {
                        tracing::warn!(path = %p.display(), error = %e, "cannot remove a leftover");
                    }
                }
            }
        }
        Ok(())
    }

    fn temp_name(&self) -> String {
        format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    // ---- blobs -------------------------------------------------------

    /// Where the blob of `digest` is (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Whether the blob is stored.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Opens a stored blob.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::BlobMissing {
                digest: digest.to_string(),
            },
            _ => Error::io("open", &path, e),
        })
    }

    /// Stores what `content` gives: into an ingest file while hashing,
    /// fsynced, checked against `expected` (digest and size) when given,
    /// then renamed into place. Returns its digest and size; an existing
    /// blob is kept.
    pub fn put_blob(
        &self,
        mut content: impl Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<(Digest, u64)> {
        let tmp = self.root.join("ingest").join(self.temp_name());
        let file = fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        let result = (|| {
            let mut w = HashingWriter::new(std::io::BufWriter::with_capacity(256 << 10, file));
            std::io::copy(&mut content, &mut w).map_err(|e| Error::io("write", &tmp, e))?;
            w.flush().map_err(|e| Error::io("write", &tmp, e))?;
            let digest = w.digest();
            let size = w.count;
            let file = w
                .inner
                .into_inner()
                .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
            if let Some((want, want_size)) = expected {
                if &digest != want {
                    return Err(Error::DigestMismatch {
                        what: "blob",
                        expected: want.to_string(),
                        actual: digest.to_string(),
                    });
                }
                if let Some(n) = want_size.filter(|&n| n != size) {
                    return Err(Error::SizeMismatch {
                        digest: digest.to_string(),
                        expected: n,
                        actual: size,
                    });
                }
            }
            Ok((digest, size))
        })();
        match result {
            Ok((digest, size)) => {
                let dest = self.blob_path(&digest);
                fs::rename(&tmp, &dest).map_err(|e| Error::io("rename into", &dest, e))?;
                sync_dir(&self.root.join("blobs/sha256"))?;
                Ok((digest, size))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Stores `bytes` (a config or manifest).
    pub fn put_blob_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let (d, _) = self.put_blob(bytes, expected.map(|d| (d, Some(bytes.len() as u64))))?;
        Ok(d)
    }

    /// Reads a small stored blob (a config or manifest) whole, checking
    /// its digest (a blob written over on disk is an error, not a lie).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", self.blob_path(digest), e))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: "stored blob",
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Every stored blob.
    pub fn blobs(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .flatten()
        {
            if let Ok(d) = Digest::parse(&format!("sha256:{}", e.file_name().to_string_lossy())) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    // ---- layers ------------------------------------------------------

    fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex())
    }

    /// The unpacked files of a layer.
    pub fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    /// The layer, if it is completely in the store.
    pub fn layer(&self, chain_id: &Digest) -> Result<Option<LayerInfo>> {
        let meta = self.layer_dir(chain_id).join("meta.json");
        match fs::read(&meta) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::io("read", &meta, std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &meta, e)),
        }
    }

    /// Unpacks `blob` as the layer `chain_id`: into a temporary directory,
    /// its diff id checked against `diff_id` when given, a short link
    /// made, fsynced, then renamed into place. A layer already there is
    /// returned as it is.
    pub fn add_layer(
        &self,
        chain_id: &Digest,
        diff_id: Option<&Digest>,
        blob: impl Read,
        limits: &UnpackLimits,
    ) -> Result<LayerInfo> {
        if let Some(info) = self.layer(chain_id)? {
            return Ok(info);
        }
        let tmp =
            self.root
                .join("layers")
                .join(format!("{}.tmp-{}", chain_id.hex(), self.temp_name()));
        let result = (|| {
            let diff = tmp.join("diff");
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&diff)
                .map_err(|e| Error::io("create", &diff, e))?;
            let unpacked = unpack_layer(chain_id.as_str(), blob, &diff, limits)?;
            if let Some(want) = diff_id
                && &unpacked.diff_id != want
            {
                return Err(Error::DigestMismatch {
                    what: "layer diff id",
                    expected: want.to_string(),
                    actual: unpacked.diff_id.to_string(),
                });
            }
            let info = LayerInfo {
                chain_id: chain_id.clone(),
                diff_id: unpacked.diff_id,
                size: unpacked.size,
                link: short_link_name(chain_id),
            };
            let link = self.root.join("l").join(&info.link);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(
                Path::new("../layers").join(chain_id.hex()).join("diff"),
                &link,
            )
            .map_err(|e| Error::io("link", &link, e))?;
            let meta = tmp.join("meta.json");
            write_synced(&meta, &serde_json::to_vec(&info).unwrap_or_default())?;
            sync_tree(&diff)?;
            Ok(info)
        })();
        match result {
            Ok(info) => {
                let dest = self.layer_dir(chain_id);
                match fs::rename(&tmp, &dest) {
                    Ok(()) => {}
                    // Another process unpacked it meanwhile: keep theirs.
                    Err(e) if dest.join("meta.json").exists() => {
                        tracing::debug!(error = %e, "layer unpacked by another process");
                        let _ = fs::remove_dir_all(&tmp);
                    }
                    Err(e) => {
                        let _ = fs::remove_dir_all(&tmp);
                        return Err(Error::io("rename into", &dest, e));
                    }
                }
                sync_dir(&self.root.join("layers"))?;
                Ok(info)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    /// Every complete layer in the store.
    pub fn layers(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("layers");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(d) = Digest::parse(&format!("sha256:{name}"))
                && e.path().join("meta.json").is_file()
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a layer: first renamed aside (so a killed removal is swept
    /// as a temporary), then deleted.
    pub fn remove_layer(&self, chain_id: &Digest) -> Result<()> {
        let dir = self.layer_dir(chain_id);
        if let Some(info) = self.layer(chain_id)? {
            let _ = fs::remove_file(self.root.join("l").join(&info.link));
        }
        let aside =
            self.root
                .join("layers")
                .join(format!("{}.tmp-{}", chain_id.hex(), self.temp_name()));
        match fs::rename(&dir, &aside) {
            Ok(()) => fs::remove_dir_all(&aside).map_err(|e| Error::io("remove", &aside, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir, e)),
        }
    }

    /// Removes every layer not in `keep_layers` and every blob not in
    /// `keep_blobs`. Call with the exclusive lock held. Returns how many
    /// of each went.
    pub fn sweep(
        &self,
        keep_layers: &BTreeSet<Digest>,
        keep_blobs: &BTreeSet<Digest>,
    ) -> Result<(usize, usize)> {
        let mut layers = 0;
        for l in self.layers()? {
            if !keep_layers.contains(&l) {
                self.remove_layer(&l)?;
                layers += 1;
            }
        }
        let mut blobs = 0;
        for b in self.blobs()? {
            if !keep_blobs.contains(&b) {
                let p = self.blob_path(&b);
                fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
                blobs += 1;
            }
        }
        Ok((layers, blobs))
    }

    /// Reads file `rel` (`etc/passwd`) of the root that `layers` (bottom
    /// first) stack up, without mounting: the topmost layer holding it
    /// wins; a whiteout of it or of a directory above, or an opaque
    /// directory above it in a higher layer, hides the lower ones. A
    /// symlink is not followed (`None`). Small files only (1 MiB).
    pub fn read_layered_file(&self, layers: &[Digest], rel: &str) -> Result<Option<Vec<u8>>> {
        use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
        let parts: Vec<&str> = rel
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.is_empty() || parts.contains(&"..") {
            return Ok(None);
        }
        for l in layers.iter().rev() {
            let diff = self.layer_diff(l);
            let root = match rustix::fs::open(
                &diff,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) => return Err(Error::errno("open", &diff, e)),
            };
            let mut hidden_below = false;
            for depth in 0..parts.len() {
                let path = parts[..=depth].join("/");
                match rustix::fs::statat(&root, path.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => {
                        let kind = FileType::from_raw_mode(st.st_mode);
                        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
                            return Ok(None);
                        }
                        if depth + 1 == parts.len() {
                            if kind != FileType::RegularFile {
                                return Ok(None);
                            }
                            let fd = rustix::fs::openat2(
                                &root,
                                path.as_str(),
                                OFlags::RDONLY | OFlags::CLOEXEC,
                                Mode::empty(),
                                ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS,
                            )
                            .map_err(|e| Error::errno("open", diff.join(&path), e))?;
                            let mut bytes = Vec::new();
                            std::fs::File::from(fd)
                                .take(1 << 20)
                                .read_to_end(&mut bytes)
                                .map_err(|e| Error::io("read", diff.join(&path), e))?;
                            return Ok(Some(bytes));
                        }
                        if kind != FileType::Directory {
                            return Ok(None);
                        }
                        let opaque = rustix::fs::lgetxattr(
                            diff.join(&path),
                            "trusted.overlay.opaque",
                            &mut [0u8; 4],
                        );
                        if opaque.is_ok() {
                            hidden_below = true;
                        }
                    }
                    Err(rustix::io::Errno::NOENT) => break,
                    Err(e) => return Err(Error::errno("look at", diff.join(&path), e)),
                }
            }
            if hidden_below {
                return Ok(None);
            }
        }
        Ok(None)
    }

    // ---- container roots ---------------------------------------------

    /// Whether overlay works for this store: a small overlay mounted in
    /// it, its lower directory marked opaque (trusted xattrs, which
    /// layers' opaque directories need), then unmounted and removed.
    /// `Err` says why not.
    pub fn probe_overlay(&self) -> std::result::Result<(), String> {
        // Under tmp/ with our pid first: swept (unmounted) if we are killed.
        let dir = self
            .root
            .join("tmp")
            .join(format!("{}-probe", std::process::id()));
        let r = (|| {
            let _ = fs::remove_dir_all(&dir);
            for sub in ["lower/d", "upper", "work", "merged"] {
                fs::create_dir_all(dir.join(sub)).map_err(|e| format!("create {sub}: {e}"))?;
            }
            rustix::fs::setxattr(
                dir.join("lower/d"),
                "trusted.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| format!("the file system keeps no trusted xattrs ({e})"))?;
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                dir.join("lower").display(),
                dir.join("upper").display(),
                dir.join("work").display()
            );
            let merged = dir.join("merged");
            nix::mount::mount(
                Some("overlay"),
                &merged,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(|e| format!("mounting overlay failed ({e})"))?;
            let seen = merged.join("d").is_dir();
            let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
            if seen {
                Ok(())
            } else {
                Err("the overlay mount does not show its lower directory".to_owned())
            }
        })();
        let _ = fs::remove_dir_all(&dir);
        r
    }

    /// The file system the store is on, by podman's names (`extfs`,
    /// `xfs`, `btrfs`, `tmpfs`, ...).
    pub fn backing_filesystem(&self) -> String {
        let Ok(st) = rustix::fs::statfs(&self.root) else {
            return "unknown".to_owned();
        };
        #[allow(clippy::unnecessary_cast)]
        let kind = st.f_type as i64;
        match kind {
            0xEF53 => "extfs".to_owned(),
            0x5846_5342 => "xfs".to_owned(),
            0x9123_683E => "btrfs".to_owned(),
            0x0102_1994 => "tmpfs".to_owned(),
            0x794C_7630 => "overlayfs".to_owned(),
            0x2FC1_2FC1 => "zfs".to_owned(),
            0x6969 => "nfs".to_owned(),
            0x6573_5546 => "fuse".to_owned(),
            other => format!("<unknown: {other:#x}>"),
        }
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// A container's own changes (overlay's upper directory).
    pub fn container_diff(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("diff")
    }

    /// The mount point of a container's root.
    pub fn container_root(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("merged")
    }

    /// The driver that made a container's root, if it has one: a root
    /// keeps its driver when the configured one changes.
    pub fn container_driver(&self, id: &str) -> Option<Driver> {
        let dir = self.container_dir(id);
        if dir.join("vfs-ready").exists() {
            Some(Driver::Vfs)
        } else if dir.join("diff").is_dir() {
            Some(Driver::Overlay)
        } else {
            None
        }
    }

    /// Mounts the container's root: its layers (`layers`, bottom first) as
    /// overlay's lower directories through their short links, its own
    /// upper and work directories; or, with the vfs driver, a copy. A root
    /// made before keeps the driver that made it. Mounting a mounted root
    /// is a no-op.
    pub fn mount(&self, id: &str, layers: &[Digest], driver: Driver) -> Result<PathBuf> {
        let driver = self.container_driver(id).unwrap_or(driver);
        let mount_err = |reason: String| Error::Mount {
            id: id.to_owned(),
            driver: driver.name(),
            reason,
        };
        if driver == Driver::Vfs {
            if id.is_empty() || id.contains('/') || id.starts_with('.') {
                return Err(mount_err(format!("{id:?} is not a container id")));
            }
            return self.vfs_root(id, layers);
        }
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return Err(mount_err(format!("{id:?} is not a container id")));
        }
        let dir = self.container_dir(id);
        for (sub, mode) in [("diff", 0o755), ("work", 0o700), ("merged", 0o755)] {
            let p = dir.join(sub);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&p)
                .map_err(|e| Error::io("create", &p, e))?;
        }
        let merged = dir.join("merged");
        if is_mount_point(&merged)? {
            return Ok(merged);
        }
        let mut lower: Vec<String> = self
            .lower_dirs(layers)?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if lower.is_empty() {
            // An image without layers: an empty lower directory.
            let empty = dir.join("empty");
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&empty)
                .map_err(|e| Error::io("create", &empty, e))?;
            lower.push(empty.display().to_string());
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            dir.join("diff").display(),
            dir.join("work").display()
        );
        // The kernel takes one page of options.
        if data.len() >= 4096 {
            return Err(mount_err(format!(
                "{} layers make {} bytes of mount options, more than a page; put the store at a shorter path",
                layers.len(),
                data.len()
            )));
        }
        nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(|e| {
            mount_err(format!(
                "{e}; if overlay cannot work on this file system, set storage_driver = \"vfs\""
            ))
        })?;
        Ok(merged)
    }

    /// The vfs driver: the layers copied, bottom first, into the
    /// container's root (once; a copy a killed process left half made is
    /// redone).
    fn vfs_root(&self, id: &str, layers: &[Digest]) -> Result<PathBuf> {
        let dir = self.container_dir(id);
        let merged = dir.join("merged");
        let ready = dir.join("vfs-ready");
        if ready.exists() && merged.is_dir() {
            return Ok(merged);
        }
        let tmp = dir.join("merged.tmp");
        let _ = fs::remove_dir_all(&tmp);
        let _ = fs::remove_dir_all(&merged);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        for l in layers {
            if self.layer(l)?.is_none() {
                return Err(Error::LayerMissing {
                    chain_id: l.to_string(),
                });
            }
            crate::vfs::apply_layer(&self.layer_diff(l), &tmp)?;
        }
        sync_tree(&tmp)?;
        fs::rename(&tmp, &merged).map_err(|e| Error::io("rename into", &merged, e))?;
        write_synced(&ready, b"")?;
        Ok(merged)
    }

    /// The layers' directories as overlay's `lowerdir` takes them: top
    /// first, each by its short link (`l/<26 chars>`, so many layers fit
    /// in a page of options).
    pub fn lower_dirs(&self, layers: &[Digest]) -> Result<Vec<PathBuf>> {
        layers
            .iter()
            .rev()
            .map(|l| {
                let info = self.layer(l)?.ok_or_else(|| Error::LayerMissing {
                    chain_id: l.to_string(),
                })?;
                Ok(self.root.join("l").join(info.link))
            })
            .collect()
    }

    /// Unmounts a container's root if it is mounted.
    pub fn unmount(&self, id: &str) -> Result<()> {
        let merged = self.container_root(id);
        if !merged.exists() || !is_mount_point(&merged)? {
            return Ok(());
        }
        match nix::mount::umount(&merged) {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::EBUSY) => {
                nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH)
                    .map_err(|e| Error::io("unmount", &merged, std::io::Error::from(e)))
            }
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::io("unmount", &merged, std::io::Error::from(e))),
        }
    }

    /// Unmounts and deletes a container's root and its changes.
    pub fn remove_container(&self, id: &str) -> Result<()> {
        self.unmount(id)?;
        let dir = self.container_dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir, e)),
        }
    }

    /// Container ids with a root directory in the store.
    pub fn containers(&self) -> Result<Vec<String>> {
        let dir = self.root.join("containers");
        let mut out: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Makes directory `rel` (and its parents, 0755) inside the container root
/// `root`, every step resolved inside it (`openat2(RESOLVE_IN_ROOT)`): an
/// image's symlinks may point anywhere, never out. For an image's
/// `Volumes` until volumes are mounted there.
pub fn make_dir_in_root(root: &Path, rel: &str) -> Result<()> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno("open", root, e))?;
    let mut done = PathBuf::new();
    for part in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let parent = rustix::fs::openat2(
            &root_fd,
            if done.as_os_str().is_empty() {
                Path::new(".")
            } else {
                done.as_path()
            },
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| Error::errno("open", root.join(&done), e))?;
        match rustix::fs::mkdirat(&parent, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::errno("create", root.join(&done).join(part), e)),
        }
        done.push(part);
    }
    Ok(())
}

/// Reads file `rel` of the root file system `root`, every step resolved
/// inside it (`openat2(RESOLVE_IN_ROOT)`: a symlink to `/etc/shadow` of
/// the host reads the root's own). `None` when it is not there. At most
/// 4 MiB are read (a passwd or group file).
pub fn read_file_in_root(root: &Path, rel: &str) -> Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno("open", root, e))?;
    let fd = match rustix::fs::openat2(
        &root_fd,
        rel.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(Error::errno("open", root.join(rel), e)),
    };
    let mut bytes = Vec::new();
    File::from(fd)
        .take(4 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", root.join(rel), e))?;
    Ok(Some(bytes))
}

/// Removes a whole store (`system reset`): every container root mounted
/// under it is unmounted first (lazily, so a busy one cannot stop the
/// reset), so nothing is deleted through a mount. A missing store is fine.
pub fn destroy(root: &Path) -> Result<()> {
    let containers = root.join("containers");
    if let Ok(entries) = fs::read_dir(&containers) {
        for e in entries.flatten() {
            let merged = e.path().join("merged");
            if merged.exists() && is_mount_point(&merged).unwrap_or(false) {
                nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH)
                    .map_err(|err| Error::io("unmount", &merged, std::io::Error::from(err)))?;
            }
        }
    }
    match fs::remove_dir_all(root) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", root, e)),
    }
}

/// A short, stable link name for a layer: 26 characters of its chain id
/// in base-32 (c/storage's length, so 128 lower directories fit a page).
fn short_link_name(chain_id: &Digest) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: Vec<u8> = chain_id
        .hex()
        .as_bytes()
        .chunks(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect();
    let mut out = String::with_capacity(26);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < 26 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    out
}

fn is_mount_point(path: &Path) -> Result<bool> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io("stat", path, e))?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let pmeta = fs::metadata(parent).map_err(|e| Error::io("stat", parent, e))?;
    Ok(meta.dev() != pmeta.dev())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", path, e))
}

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", path, e))
}

/// fsyncs a freshly unpacked tree: one `syncfs` of its file system (what
/// podman's maintainers suggest for pulls, containers/storage #8005),
/// cheaper than one fsync per file.
fn sync_tree(path: &Path) -> Result<()> {
    let dir = File::open(path).map_err(|e| Error::io("open", path, e))?;
    rustix::fs::syncfs(&dir).map_err(|e| Error::errno("sync", path, e))
}

#[cfg(test)]
mod tests;
