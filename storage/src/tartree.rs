//! Writing a directory tree as a tar stream: a container's changes as a
//! layer (overlay's whiteouts turned back into OCI ones, or, for the vfs
//! driver, the differences between its root and its image's layers) or a
//! whole root (`export`). Symlinks are stored, never followed; a file seen
//! again by inode is a hard link; extended attributes go into PAX
//! `SCHILY.xattr.` records, as podman writes them (overlay's own
//! `trusted.overlay.*` never).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};

fn libc_o_nofollow() -> i32 {
    // The raw bits of O_NOFOLLOW, as `OpenOptions::custom_flags` takes them.
    i32::try_from(OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Writes the tree below `root` to `out` as a tar. With `layer`, overlay's
/// whiteouts become OCI's: a 0:0 character device `NAME` is `.wh.NAME`, a
/// directory with `trusted.overlay.opaque=y` gets a `.wh..wh..opq` entry.
pub fn tar_tree(root: &Path, out: impl Write, layer: bool) -> Result<()> {
    let mut w = TarWriter::new(root, out, layer);
    w.walk(root, &|_| true)?;
    w.finish()
}

/// Writes, as a layer tar, how the tree below `root` differs from the
/// image's layers `lower` (layer directories in overlay form, bottom
/// first) stacked as overlay would show them: what is new or changed
/// (kind, mode, owner, size, mtime, link target or device), with its
/// parent directories, and a `.wh.NAME` for what was removed. The vfs
/// driver's `commit`, as containers/storage's naive diff does it.
pub fn tar_changes(root: &Path, lower: &[PathBuf], out: impl Write) -> Result<()> {
    let below = stacked(lower)?;
    let mut keep: BTreeSet<PathBuf> = BTreeSet::new();
    let mut present: BTreeSet<PathBuf> = BTreeSet::new();
    changed(root, root, &below, &mut keep, &mut present)?;
    // Removed: below, not in the root, and the topmost such (its parent
    // is still there; a removed directory is one whiteout, not one per
    // child).
    let mut whiteouts = Vec::new();
    for rel in below.keys() {
        if present.contains(rel) {
            continue;
        }
        let parent = rel.parent().unwrap_or(Path::new(""));
        if parent.as_os_str().is_empty() || present.contains(parent) {
            // A kind change below a directory that is now a file: the
            // file replaces the whole directory already.
            if !parent.as_os_str().is_empty() && !is_dir(&root.join(parent)) {
                continue;
            }
            whiteouts.push(rel.clone());
        }
    }
    for rel in &whiteouts {
        if let Some(p) = rel.parent() {
            keep.insert(p.to_path_buf());
        }
    }
    // Every kept entry's ancestors, so the layer carries their metadata.
    let ancestors: Vec<PathBuf> = keep
        .iter()
        .flat_map(|p| p.ancestors().skip(1).map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    keep.extend(ancestors);
    let mut w = TarWriter::new(root, out, true);
    w.walk(root, &|rel| keep.contains(rel))?;
    for rel in whiteouts {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let entry = match rel.parent().map(|p| p.to_string_lossy().into_owned()) {
            Some(p) if !p.is_empty() => format!("{p}/.wh.{name}"),
            _ => format!(".wh.{name}"),
        };
        w.whiteout(&entry)?;
    }
    w.finish()
}

/// A plain tar of the directory open as `dir` (`shown` names it in
/// errors): its entries at the top, or under `name` with an entry for the
/// directory itself.
pub(crate) fn tar_dir_fd(
    dir: &OwnedFd,
    shown: &Path,
    name: crate::copy::TarName<'_>,
    out: impl Write,
) -> Result<()> {
    let mut w = TarWriter::new(shown, out, false);
    let top = match name {
        crate::copy::TarName::Contents => PathBuf::new(),
        crate::copy::TarName::As(name) => {
            let path = PathBuf::from(format!("/proc/self/fd/{}/.", dir.as_raw_fd()));
            let meta = fs::metadata(&path).map_err(|e| Error::io("stat", shown, e))?;
            w.entry(&path, name, &meta)?;
            PathBuf::from(name)
        }
    };
    w.walk_fd(dir, &top, &|_| true)?;
    w.finish()
}

/// A plain tar of one open file (not a directory) under `name`.
pub(crate) fn tar_one_file(
    file: fs::File,
    meta: &fs::Metadata,
    name: &str,
    shown: &Path,
    out: impl Write,
) -> Result<()> {
    let mut w = TarWriter::new(shown, out, false);
    let io = |err: std::io::Error| Error::io("write the tar entry of", shown, err);
    let ft = meta.file_type();
    if ft.is_file() {
        let len = meta.len();
        let data = file.take(len).chain(std::io::repeat(0)).take(len);
        let mut h = header_for(meta, tar::EntryType::Regular, len);
        w.b.append_data(&mut h, name, data).map_err(io)?;
    } else {
        let kind = if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else if ft.is_fifo() {
            tar::EntryType::Fifo
        } else {
            return Err(Error::io(
                "copy",
                shown,
                std::io::Error::other("a socket cannot be copied"),
            ));
        };
        let mut h = header_for(meta, kind, 0);
        let rdev = meta.rdev();
        let _ = h.set_device_major(rustix::fs::major(rdev));
        let _ = h.set_device_minor(rustix::fs::minor(rdev));
        w.b.append_data(&mut h, name, &[][..]).map_err(io)?;
    }
    w.finish()
}

fn is_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// What a diff compares of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    rdev: u64,
    target: Option<PathBuf>,
}

fn seen(path: &Path, meta: &fs::Metadata) -> Result<Seen> {
    let ft = meta.file_type();
    Ok(Seen {
        kind: meta.mode() & 0o170_000,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if ft.is_file() { meta.len() } else { 0 },
        // A directory's own time changes with its entries; what matters
        // there is what changed inside, found entry by entry.
        mtime: if ft.is_dir() {
            (0, 0)
        } else {
            (meta.mtime(), meta.mtime_nsec())
        },
        rdev: meta.rdev(),
        target: if ft.is_symlink() {
            Some(fs::read_link(path).map_err(|e| Error::io("read the link", path, e))?)
        } else {
            None
        },
    })
}

/// The entries of `layers` (overlay form, bottom first) as overlay stacks
/// them: a 0:0 character device removes what is below, an opaque directory
/// hides its lower contents, a non-directory replaces a directory's tree.
fn stacked(layers: &[PathBuf]) -> Result<BTreeMap<PathBuf, Seen>> {
    let mut view = BTreeMap::new();
    for layer in layers {
        stack_dir(layer, Path::new(""), &mut view)?;
    }
    Ok(view)
}

fn drop_below(view: &mut BTreeMap<PathBuf, Seen>, rel: &Path) {
    let below: Vec<PathBuf> = view
        .range(rel.to_path_buf()..)
        .skip_while(|(k, _)| k.as_path() == rel)
        .take_while(|(k, _)| k.starts_with(rel))
        .map(|(k, _)| k.clone())
        .collect();
    for k in below {
        view.remove(&k);
    }
}

fn stack_dir(layer: &Path, rel: &Path, view: &mut BTreeMap<PathBuf, Seen>) -> Result<()> {
    let dir = layer.join(rel);
    for e in fs::read_dir(&dir).map_err(|e| Error::io("list", &dir, e))? {
        let e = e.map_err(|err| Error::io("list", &dir, err))?;
        let path = e.path();
        let r = rel.join(e.file_name());
        let meta = fs::symlink_metadata(&path).map_err(|err| Error::io("stat", &path, err))?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            view.remove(&r);
            drop_below(view, &r);
            continue;
        }
        let opaque = ft.is_dir()
            && rustix::fs::lgetxattr(&path, OPAQUE_XATTR, &mut [0u8; 4]).is_ok_and(|n| n == 1);
        if !ft.is_dir() || opaque || view.get(&r).is_some_and(|s| s.kind != 0o040_000) {
            drop_below(view, &r);
        }
        view.insert(r.clone(), seen(&path, &meta)?);
        if ft.is_dir() {
            stack_dir(layer, &r, view)?;
        }
    }
    Ok(())
}

/// Walks the container's root: the entries new or different from `below`
/// go into `keep`, every entry into `present`.
fn changed(
    root: &Path,
    dir: &Path,
    below: &BTreeMap<PathBuf, Seen>,
    keep: &mut BTreeSet<PathBuf>,
    present: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    for e in fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
        let e = e.map_err(|err| Error::io("list", dir, err))?;
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let meta = fs::symlink_metadata(&path).map_err(|err| Error::io("stat", &path, err))?;
        let now = seen(&path, &meta)?;
        if below.get(&rel) != Some(&now) {
            keep.insert(rel.clone());
        }
        present.insert(rel.clone());
        if meta.is_dir() {
            changed(root, &path, below, keep, present)?;
        }
    }
    Ok(())
}

/// A tar of entries below one root.
struct TarWriter<'r, W: Write> {
    b: tar::Builder<W>,
    root: &'r Path,
    layer: bool,
    links: HashMap<(u64, u64), String>,
}

impl<'r, W: Write> TarWriter<'r, W> {
    fn new(root: &'r Path, out: W, layer: bool) -> Self {
        let mut b = tar::Builder::new(out);
        b.mode(tar::HeaderMode::Complete);
        TarWriter {
            b,
            root,
            layer,
            links: HashMap::new(),
        }
    }

    fn finish(self) -> Result<()> {
        let root = self.root;
        self.b
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io("write the tar of", root, e))
    }

    fn whiteout(&mut self, name: &str) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(0);
        self.b
            .append_data(&mut h, name, &[][..])
            .map_err(|e| Error::io("write the tar entry of", self.root.join(name), e))
    }

    /// Writes the entries below `root` for which `want(rel)` holds, in
    /// name order, parents before children.
    fn walk(&mut self, root: &Path, want: &dyn Fn(&Path) -> bool) -> Result<()> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno("open", root, e))?;
        self.walk_fd(&fd, Path::new(""), want)
    }

    /// The entries of the directory open as `dir` (at `rel` below the
    /// root). Every directory is reached by descriptor (`openat` with
    /// `O_NOFOLLOW`) and every entry named through `/proc/self/fd`, so a
    /// path is never resolved again from the top: a directory swapped for
    /// a symlink meanwhile (a running container's) leads nowhere outside.
    fn walk_fd(&mut self, dir: &OwnedFd, rel: &Path, want: &dyn Fn(&Path) -> bool) -> Result<()> {
        let base = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let shown = self.root.join(rel);
        let mut names: Vec<_> = fs::read_dir(&base)
            .map_err(|e| Error::io("list", &shown, e))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let path = base.join(&name);
            let rel = rel.join(&name);
            if !want(&rel) {
                continue;
            }
            let meta = fs::symlink_metadata(&path)
                .map_err(|err| Error::io("stat", self.root.join(&rel), err))?;
            self.entry(&path, &rel.to_string_lossy(), &meta)?;
            if meta.is_dir() {
                let child = rustix::fs::openat(
                    dir,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| Error::errno("open", self.root.join(&rel), e))?;
                self.walk_fd(&child, &rel, want)?;
            }
        }
        Ok(())
    }

    /// The PAX records of `path`'s extended attributes (overlay's own
    /// left out).
    fn xattrs(&mut self, path: &Path) -> Result<()> {
        let mut names = vec![0u8; 1024];
        let n = loop {
            match rustix::fs::llistxattr(path, &mut names[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) if names.len() < 1 << 20 => {
                    names.resize(names.len() * 4, 0);
                }
                // No xattrs here (a file system without them).
                Err(rustix::io::Errno::NOTSUP) => return Ok(()),
                Err(e) => return Err(Error::errno("list the attributes of", path, e)),
            }
        };
        let mut records: Vec<(String, Vec<u8>)> = Vec::new();
        for name in names[..n].split(|&c| c == 0).filter(|s| !s.is_empty()) {
            let name = String::from_utf8_lossy(name).into_owned();
            if name.starts_with("trusted.overlay.") {
                continue;
            }
            let mut value = vec![0u8; 4096];
            let len = loop {
                match rustix::fs::lgetxattr(path, name.as_str(), &mut value[..]) {
                    Ok(len) => break len,
                    Err(rustix::io::Errno::RANGE) if value.len() < 1 << 20 => {
                        value.resize(value.len() * 4, 0);
                    }
                    Err(rustix::io::Errno::NODATA) => break usize::MAX,
                    Err(e) => return Err(Error::errno("read the attributes of", path, e)),
                }
            };
            if len != usize::MAX {
                value.truncate(len);
                records.push((format!("SCHILY.xattr.{name}"), value));
            }
        }
        self.b
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|e| Error::io("write the attributes of", path, e))
    }

    fn entry(&mut self, path: &Path, rel: &str, meta: &fs::Metadata) -> Result<()> {
        let ft = meta.file_type();
        let io = |err: std::io::Error| Error::io("write the tar entry of", path, err);
        if self.layer && ft.is_char_device() && meta.rdev() == 0 {
            let name = match rel.rsplit_once('/') {
                Some((d, n)) => format!("{d}/.wh.{n}"),
                None => format!(".wh.{rel}"),
            };
            let mut h = header_for(meta, tar::EntryType::Regular, 0);
            return self.b.append_data(&mut h, &name, &[][..]).map_err(io);
        }
        if !ft.is_socket() {
            self.xattrs(path)?;
        }
        if ft.is_dir() {
            let mut h = header_for(meta, tar::EntryType::Directory, 0);
            self.b
                .append_data(&mut h, format!("{rel}/"), &[][..])
                .map_err(io)?;
            if self.layer
                && rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut [0u8; 4]).is_ok_and(|n| n == 1)
            {
                let mut h = header_for(meta, tar::EntryType::Regular, 0);
                h.set_mode(0o600);
                self.b
                    .append_data(&mut h, format!("{rel}/.wh..wh..opq"), &[][..])
                    .map_err(io)?;
            }
        } else if ft.is_symlink() {
            let target =
                fs::read_link(path).map_err(|err| Error::io("read the link", path, err))?;
            let mut h = header_for(meta, tar::EntryType::Symlink, 0);
            self.b.append_link(&mut h, rel, &target).map_err(io)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&key) {
                    let mut h = header_for(meta, tar::EntryType::Link, 0);
                    return self.b.append_link(&mut h, rel, first).map_err(io);
                }
                self.links.insert(key, rel.to_owned());
            }
            // Never through a symlink put in its place since the stat;
            // exactly the size the header says, whatever the file does.
            let f = fs::File::options()
                .read(true)
                .custom_flags(libc_o_nofollow())
                .open(path)
                .map_err(|err| Error::io("open", path, err))?;
            let len = meta.len();
            let data = f.take(len).chain(std::io::repeat(0)).take(len);
            let mut h = header_for(meta, tar::EntryType::Regular, len);
            self.b.append_data(&mut h, rel, data).map_err(io)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = header_for(meta, kind, 0);
            let rdev = meta.rdev();
            let _ = h.set_device_major(rustix::fs::major(rdev));
            let _ = h.set_device_minor(rustix::fs::minor(rdev));
            self.b.append_data(&mut h, rel, &[][..]).map_err(io)?;
        }
        // Sockets are not kept (tar has no type for them).
        Ok(())
    }
}

fn header_for(meta: &fs::Metadata, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(size);
    h
}
