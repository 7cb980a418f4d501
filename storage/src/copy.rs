//! Copying into and out of a root file system without leaving it: `cp`
//! between the host and a container, and a volume's copy-up from its
//! image.
//!
//! A path inside a root is resolved with `openat2(RESOLVE_IN_ROOT)`: its
//! symlinks are followed as the container would see them, an absolute
//! target or `..` stops at the root. Below the resolved directory the tar
//! writer walks by descriptor and the unpacker never writes through a
//! symlink, so a container that swaps a directory for a link while it is
//! copied gains nothing.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::unpack::UnpackLimits;

/// What a path inside a root is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Not there.
    Missing,
    /// A directory.
    Dir,
    /// Anything else (a file, a device, a fifo).
    Other,
}

fn root_fd(root: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno("open", root, e))
}

/// `rel` without its leading slashes; `.` for the root itself.
fn relative(rel: &str) -> &str {
    match rel.trim_start_matches('/') {
        "" => ".",
        r => r,
    }
}

/// Opens `rel` inside `root` (`O_PATH`), following its symlinks inside
/// the root only.
pub fn open_in_root(root: &Path, rel: &str) -> Result<Option<OwnedFd>> {
    let base = root_fd(root)?;
    match rustix::fs::openat2(
        &base,
        relative(rel),
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(Error::errno("open", root.join(relative(rel)), e)),
    }
}

/// What `rel` inside `root` is (symlinks followed inside the root).
pub fn kind_in_root(root: &Path, rel: &str) -> Result<PathKind> {
    let Some(fd) = open_in_root(root, rel)? else {
        return Ok(PathKind::Missing);
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::errno("stat", root.join(rel), e))?;
    Ok(
        match rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
            true => PathKind::Dir,
            false => PathKind::Other,
        },
    )
}

/// The magic link naming an open descriptor.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// How the copied tree is named in the tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarName<'a> {
    /// A directory's entries, at the top of the tar (`cp SRC/. DST`, a
    /// copy-up).
    Contents,
    /// The path itself under this name (and a directory's entries below
    /// it).
    As(&'a str),
}

/// Writes what `rel` names inside `root` to `out` as a plain tar
/// (symlinks stored, never followed below `rel`; xattrs kept).
pub fn tar_in_root(root: &Path, rel: &str, name: TarName<'_>, out: impl Write) -> Result<()> {
    let shown = root.join(relative(rel));
    let fd = open_in_root(root, rel)?.ok_or_else(|| {
        Error::io(
            "copy",
            &shown,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    // Reopened through its magic link: the very inode resolved above.
    let path = fd_path(&fd);
    let meta = fs::metadata(&path).map_err(|e| Error::io("stat", &shown, e))?;
    if meta.is_dir() {
        let dir = rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno("open", &shown, e))?;
        return crate::tartree::tar_dir_fd(&dir, &shown, name, out);
    }
    let TarName::As(name) = name else {
        return Err(Error::io(
            "copy the contents of",
            &shown,
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        ));
    };
    let file = File::open(&path).map_err(|e| Error::io("open", &shown, e))?;
    let meta = file.metadata().map_err(|e| Error::io("stat", &shown, e))?;
    crate::tartree::tar_one_file(file, &meta, name, &shown, out)
}

/// Unpacks the plain tar `tar` into directory `rel` of `root` (resolved
/// inside the root; it must exist). Entries are never written through a
/// symlink; `owner` replaces every entry's owner. Returns the bytes of tar
/// read.
pub fn untar_in_root(
    root: &Path,
    rel: &str,
    tar: impl Read,
    limits: &UnpackLimits,
    owner: Option<(u32, u32)>,
) -> Result<u64> {
    let shown = root.join(relative(rel));
    let fd = open_in_root(root, rel)?.ok_or_else(|| {
        Error::io(
            "copy into",
            &shown,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    let dir = rustix::fs::open(
        fd_path(&fd),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOTDIR => Error::io(
            "copy into",
            &shown,
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        ),
        e => Error::errno("open", &shown, e),
    })?;
    crate::unpack::unpack_plain(
        &shown.display().to_string(),
        tar,
        dir,
        &shown,
        limits,
        owner,
    )
}

/// The owner and mode of directory `rel` inside `root`, if it is one.
pub fn dir_owner_in_root(root: &Path, rel: &str) -> Result<Option<(u32, u32, u32)>> {
    let Some(fd) = open_in_root(root, rel)? else {
        return Ok(None);
    };
    let meta = fs::metadata(fd_path(&fd)).map_err(|e| Error::io("stat", root.join(rel), e))?;
    Ok(meta
        .is_dir()
        .then(|| (meta.uid(), meta.gid(), meta.mode() & 0o7777)))
}

/// The directory a copy-up builds its tree in, inside the volume.
pub const COPY_UP_STAGING: &str = ".oxpod-copyup";

/// A volume's copy-up: when directory `rel` of `root` has entries and
/// `dest` (a volume's data directory) has none, copies them into `dest`
/// with their owners, modes, times and xattrs. Whole or not at all: the
/// tree is built in [`COPY_UP_STAGING`] inside `dest` (so on its file
/// system, even when `dest` is a mount), then its entries are renamed
/// into `dest`; a staging directory a killed copy left is removed first
/// and does not make `dest` count as written to. Returns whether
/// anything was copied.
pub fn copy_up(root: &Path, rel: &str, dest: &Path) -> Result<bool> {
    let staging = &dest.join(COPY_UP_STAGING);
    if kind_in_root(root, rel)? != PathKind::Dir {
        return Ok(false);
    }
    let src_fd = open_in_root(root, rel)?;
    let src = src_fd.as_ref().map(|fd| fd_path(fd).join("."));
    let has_entries = |p: &Path| {
        fs::read_dir(p)
            .map(|d| d.flatten().any(|e| e.file_name() != COPY_UP_STAGING))
            .map_err(|e| Error::io("list", p, e))
    };
    match &src {
        Some(p) if has_entries(p)? => {}
        _ => return Ok(false),
    }
    drop(src_fd);
    if has_entries(dest)? {
        // Written to already (outside oxpod, or by another container):
        // never copied over (podman's CVE-2020-1726).
        return Ok(false);
    }
    match fs::remove_dir_all(staging) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", staging, e)),
    }
    fs::create_dir(staging).map_err(|e| Error::io("create", staging, e))?;
    let (reader, writer) = std::io::pipe().map_err(|e| Error::io("make a pipe for", dest, e))?;
    let root_owned = root.to_path_buf();
    let rel_owned = rel.to_owned();
    let producer = std::thread::spawn(move || {
        let writer = std::io::BufWriter::with_capacity(1 << 16, writer);
        tar_in_root(&root_owned, &rel_owned, TarName::Contents, writer)
    });
    let unpacked = {
        let staging_root = staging.to_path_buf();
        untar_in_root(&staging_root, "/", reader, &UnpackLimits::default(), None)
    };
    let produced = producer.join().unwrap_or_else(|_| {
        Err(Error::io(
            "copy",
            root.join(rel),
            std::io::Error::other("the tar writer panicked"),
        ))
    });
    produced?;
    unpacked?;
    let entries = fs::read_dir(staging).map_err(|e| Error::io("list", staging, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io("list", staging, e))?;
        let to = dest.join(e.file_name());
        fs::rename(e.path(), &to).map_err(|err| Error::io("move into place", &to, err))?;
    }
    // The copied root's own owner, mode and time are not the volume's
    // business (the chown step gives those); only its entries move.
    fs::remove_dir(staging).map_err(|e| Error::io("remove", staging, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copy_up_follows_links_inside_the_root_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("data/sub")).unwrap();
        fs::write(root.join("data/sub/f"), b"hello").unwrap();
        fs::set_permissions(root.join("data/sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("data/etc")).unwrap();
        // An absolute link in the root resolves inside it.
        std::os::unix::fs::symlink("/data", root.join("link")).unwrap();
        let vol = t.path().join("vol/_data");
        fs::create_dir_all(&vol).unwrap();
        let staging = vol.join(COPY_UP_STAGING);
        // What a killed copy left is not content, and goes.
        fs::create_dir_all(staging.join("half")).unwrap();
        assert!(copy_up(&root, "/link", &vol,).unwrap());
        assert_eq!(fs::read(vol.join("sub/f")).unwrap(), b"hello");
        let mode = fs::metadata(vol.join("sub/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        // The link is kept as a link, not followed.
        assert_eq!(fs::read_link(vol.join("etc")).unwrap(), Path::new("/etc"));
        assert!(!staging.exists());
        assert!(!vol.join("half").exists());
        // Not empty any more: never copied over.
        fs::write(root.join("data/new"), b"x").unwrap();
        assert!(!copy_up(&root, "/data", &vol).unwrap());
        assert!(!vol.join("new").exists());
    }

    #[test]
    fn a_path_escaping_by_link_stays_in_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/passwd"), b"inside").unwrap();
        std::os::unix::fs::symlink("../../../../../../etc", root.join("up")).unwrap();
        let mut tar = Vec::new();
        tar_in_root(&root, "/up/passwd", TarName::As("passwd"), &mut tar).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        let mut body = String::new();
        e.read_to_string(&mut body).unwrap();
        assert_eq!(body, "inside");
        // Unpacking through the same link lands inside the root too.
        untar_in_root(&root, "/up", &tar[..], &UnpackLimits::default(), None).unwrap();
        assert_eq!(fs::read(root.join("etc/passwd")).unwrap(), b"inside");
        assert_eq!(kind_in_root(&root, "/up").unwrap(), PathKind::Dir);
        assert_eq!(kind_in_root(&root, "/nothing").unwrap(), PathKind::Missing);
    }

    #[test]
    fn unpacking_never_writes_through_a_link_below_the_target() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        fs::create_dir_all(root.join("d")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/l")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "l/x", &b"x"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let err = untar_in_root(&root, "/d", &tar[..], &UnpackLimits::default(), None).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!outside.join("x").exists());
    }
}
