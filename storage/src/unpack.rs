//! Unpacking one layer tar into a directory, in overlay form, without ever
//! writing outside it.
//!
//! Every path is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`
//! below the layer's root, and every file is made with an `*at` call on its
//! parent's descriptor, so neither `..`, an absolute name, a symlink planted
//! by an earlier entry (`a -> /etc`, then `a/passwd`) nor a hard link can
//! reach outside; such entries are refused by name. OCI whiteouts become
//! overlay's: `.wh.NAME` a 0:0 character device, `.wh..wh..opq` the
//! `trusted.overlay.opaque` attribute on its directory (matched exactly,
//! before the generic prefix; in overlay form its position in the tar does
//! not matter). Modes, owners, mtimes (directories last), extended
//! attributes, hard links, symlinks and device nodes are kept.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::digest::{Digest, HashingReader, OVER_LIMIT};
use crate::error::{Error, Result};

/// Limits on what one layer may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Bytes of uncompressed tar; past it the layer is refused as a
    /// decompression bomb.
    pub max_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        // Larger than any real image layer; small enough to stop a bomb
        // before it fills a disk.
        UnpackLimits {
            max_bytes: 64 << 30,
        }
    }
}

/// What unpacking a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar: the layer's diff id.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub size: u64,
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Unpacks the (plain, gzip or zstd) tar `blob` into the empty
/// directory `root`. `layer` names the layer in errors.
pub fn unpack_layer(
    layer: &str,
    blob: impl Read,
    root: &Path,
    limits: &UnpackLimits,
) -> Result<Unpacked> {
    let decompressed = crate::compress::decompressed(layer, blob)?;
    let hashing = HashingReader::new(decompressed, limits.max_bytes);
    let root_fd = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno("open layer directory", root, e))?;
    let mut u = Unpacker {
        layer,
        root_fd,
        root,
        limit: limits.max_bytes,
        dir_times: Vec::new(),
        plain: false,
        owner: None,
    };
    let (diff_id, size) = u.run(hashing)?;
    Ok(Unpacked { diff_id, size })
}

/// Unpacks the plain tar `tar` below the directory open as `dir_fd`
/// (`shown` names it in errors): as a layer is, never through a symlink,
/// but `.wh.` names are ordinary files (a `cp`, a copy-up). Returns the
/// bytes of tar read.
pub(crate) fn unpack_plain(
    what: &str,
    tar: impl Read,
    dir_fd: OwnedFd,
    shown: &Path,
    limits: &UnpackLimits,
    owner: Option<(u32, u32)>,
) -> Result<u64> {
    let hashing = HashingReader::new(tar, limits.max_bytes);
    let mut u = Unpacker {
        layer: what,
        root_fd: dir_fd,
        root: shown,
        limit: limits.max_bytes,
        dir_times: Vec::new(),
        plain: true,
        owner,
    };
    let (_, size) = u.run(hashing)?;
    Ok(size)
}

/// The diff id (sha256 of the uncompressed tar) and uncompressed size of
/// a layer stream (plain, gzip or zstd), without unpacking it.
pub fn diff_id_of(blob: impl Read) -> Result<(Digest, u64)> {
    let plain = crate::compress::decompressed("(import)", blob)?;
    HashingReader::new(plain, u64::MAX)
        .finish()
        .map_err(|source| bad_tar("(import)", source))
}

/// Whether a read failed because the size limit was passed (the tar crate
/// may wrap the reader's error).
fn over_limit(e: &std::io::Error) -> bool {
    e.to_string() == OVER_LIMIT
        || e.get_ref()
            .is_some_and(|inner| inner.to_string() == OVER_LIMIT)
}

fn bad_tar(layer: &str, source: std::io::Error) -> Error {
    Error::BadTar {
        layer: layer.to_owned(),
        source,
    }
}

struct Unpacker<'a> {
    layer: &'a str,
    root_fd: OwnedFd,
    root: &'a Path,
    limit: u64,
    /// Directories made or updated, with the mtime to give them once every
    /// entry is in (writing into a directory changes its mtime).
    dir_times: Vec<(PathBuf, i64)>,
    /// Not a layer: no whiteouts.
    plain: bool,
    /// Every entry's owner, whatever the tar says (`cp`: the destination's
    /// user, as podman's).
    owner: Option<(u32, u32)>,
}

impl Unpacker<'_> {
    /// Every entry of the tar `hashing` reads, then the directories'
    /// times; the digest and size of what was read.
    fn run<R: Read>(&mut self, mut hashing: HashingReader<R>) -> Result<(Digest, u64)> {
        {
            let mut archive = tar::Archive::new(&mut hashing);
            let entries = archive
                .entries()
                .map_err(|source| self.read_error(source))?;
            for entry in entries {
                let entry = entry.map_err(|source| self.read_error(source))?;
                self.entry(entry)?;
            }
        }
        self.finish_dirs()?;
        hashing.finish().map_err(|source| self.read_error(source))
    }

    fn read_error(&self, source: std::io::Error) -> Error {
        if over_limit(&source) {
            return self.too_large();
        }
        bad_tar(self.layer, source)
    }

    fn too_large(&self) -> Error {
        Error::TooLarge {
            layer: self.layer.to_owned(),
            limit: self.limit,
        }
    }

    fn refuse(&self, entry: &str, reason: impl Into<String>) -> Error {
        Error::BadEntry {
            layer: self.layer.to_owned(),
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = self.clean(&shown, &raw)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        // An empty numeric field is 0, as Go's archive/tar reads it (some
        // writers leave uid, gid or mtime blank).
        let old = header.as_old();
        let blank = |f: &[u8]| f.iter().all(|&b| b == 0 || b == b' ');
        let num = |v: std::io::Result<u64>, what: &str| -> Result<u64> {
            let field: &[u8] = match what {
                "uid" => &old.uid,
                "gid" => &old.gid,
                _ => &old.mtime,
            };
            match v {
                Ok(n) => Ok(n),
                Err(_) if blank(field) => Ok(0),
                Err(e) => Err(self.refuse(&shown, format!("bad {what} field: {e}"))),
            }
        };
        let mode = header
            .mode()
            .map_err(|e| self.refuse(&shown, format!("bad mode field: {e}")))?
            & 0o7777;
        let uid = u32::try_from(num(header.uid(), "uid")?)
            .map_err(|_| self.refuse(&shown, "uid does not fit 32 bits"))?;
        let gid = u32::try_from(num(header.gid(), "gid")?)
            .map_err(|_| self.refuse(&shown, "gid does not fit 32 bits"))?;
        let (uid, gid) = self.owner.unwrap_or((uid, gid));
        let mtime = i64::try_from(num(header.mtime(), "mtime")?).unwrap_or(i64::MAX);
        let mut xattrs: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| self.refuse(&shown, format!("bad PAX header: {e}")))?
        {
            for ext in pax {
                let ext = ext.map_err(|e| self.refuse(&shown, format!("bad PAX record: {e}")))?;
                if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((
                        String::from_utf8_lossy(name).into_owned(),
                        ext.value_bytes().to_vec(),
                    ));
                }
            }
        }

        // The root itself (`./`): its metadata only.
        let Some(name) = rel.file_name().map(OsStr::to_owned) else {
            if kind.is_dir() {
                self.metadata(
                    &self
                        .root_fd
                        .try_clone()
                        .map_err(|e| Error::io("dup", self.root, e))?,
                    uid,
                    gid,
                    mode,
                    &xattrs,
                    &shown,
                )?;
                self.dir_times.push((PathBuf::new(), mtime));
                return Ok(());
            }
            return Err(self.refuse(&shown, "names the layer's root but is not a directory"));
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let name_str = name.to_string_lossy().into_owned();

        // Whiteouts: the opaque marker first, exactly.
        if name_str == OPAQUE && !self.plain {
            if !kind.is_file() && kind != tar::EntryType::Regular {
                return Err(self.refuse(&shown, "an opaque marker must be a plain file"));
            }
            if parent_rel.as_os_str().is_empty() {
                // It would hide every lower layer; overlay ignores it there
                // and a copy would apply it: refused, so both agree.
                return Err(self.refuse(&shown, "an opaque marker at the layer's root"));
            }
            let dir = self.dir(&parent_rel, true, &shown)?;
            let dir = self.reopen_dir(&dir, &parent_rel, &shown)?;
            rustix::fs::fsetxattr(&dir, OPAQUE_XATTR, b"y", XattrFlags::empty()).map_err(|e| {
                self.refuse(
                    &shown,
                    format!(
                        "cannot mark the directory opaque ({e}): this filesystem has no trusted xattrs; use the vfs storage driver"
                    ),
                )
            })?;
            return Ok(());
        }
        if let Some(target) = name_str.strip_prefix(WHITEOUT).filter(|_| !self.plain) {
            if target.is_empty() || target == "." || target == ".." || target.starts_with(".wh.") {
                return Err(self.refuse(&shown, "a whiteout must name an entry of its directory"));
            }
            // Never made up: the directory must be in the layer already.
            let dir = self.dir(&parent_rel, false, &shown)?;
            self.clear(&dir, OsStr::new(target), false, &shown)?;
            rustix::fs::mknodat(
                &dir,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| self.refuse(&shown, format!("cannot make its whiteout: {e}")))?;
            return Ok(());
        }

        let dir = self.dir(&parent_rel, true, &shown)?;
        match kind {
            tar::EntryType::Directory => {
                match rustix::fs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => {
                        let st = rustix::fs::statat(
                            &dir,
                            name.as_os_str(),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )
                        .map_err(|e| self.refuse(&shown, format!("cannot look at it: {e}")))?;
                        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                            self.clear(&dir, &name, false, &shown)?;
                            rustix::fs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(0o700))
                                .map_err(|e| self.refuse(&shown, format!("cannot make it: {e}")))?;
                        }
                    }
                    Err(e) => return Err(self.refuse(&shown, format!("cannot make it: {e}"))),
                }
                let fd = self.reopen_dir(&dir, &rel, &shown)?;
                self.metadata(&fd, uid, gid, mode, &xattrs, &shown)?;
                self.dir_times.push((rel.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.clear(&dir, &name, true, &shown)?;
                let file = rustix::fs::openat(
                    &dir,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.refuse(&shown, format!("cannot create it: {e}")))?;
                let mut out = std::fs::File::from(file);
                std::io::copy(&mut entry, &mut out).map_err(|e| {
                    if over_limit(&e) {
                        self.too_large()
                    } else {
                        self.refuse(&shown, format!("cannot write it: {e}"))
                    }
                })?;
                self.metadata(&out, uid, gid, mode, &xattrs, &shown)?;
                let t = time(mtime);
                rustix::fs::futimens(
                    &out,
                    &Timestamps {
                        last_access: t,
                        last_modification: t,
                    },
                )
                .map_err(|e| self.refuse(&shown, format!("cannot set its time: {e}")))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refuse(&shown, "a symlink without a target"))?
                    .into_owned();
                self.clear(&dir, &name, true, &shown)?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &dir, name.as_os_str())
                    .map_err(|e| self.refuse(&shown, format!("cannot make the symlink: {e}")))?;
                if !xattrs.is_empty() {
                    return Err(
                        self.refuse(&shown, "extended attributes on a symlink are not supported")
                    );
                }
                self.own_nofollow(&dir, &name, uid, gid, mtime, &shown)?;
            }
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refuse(&shown, "a hard link without a target"))?
                    .into_owned();
                let target_shown = String::from_utf8_lossy(&target_raw).into_owned();
                let target = self.clean(&target_shown, &target_raw).map_err(|_| {
                    self.refuse(
                        &shown,
                        format!("hard link to {target_shown:?}, outside the layer"),
                    )
                })?;
                let (Some(tname), tparent) =
                    (target.file_name(), target.parent().unwrap_or(Path::new("")))
                else {
                    return Err(self.refuse(&shown, "a hard link to the layer's root"));
                };
                let tdir = self.dir(tparent, false, &shown).map_err(|_| {
                    self.refuse(
                        &shown,
                        format!("hard link to {target_shown:?}, which is not in the layer (yet)"),
                    )
                })?;
                let st =
                    rustix::fs::statat(&tdir, tname, AtFlags::SYMLINK_NOFOLLOW).map_err(|_| {
                        self.refuse(
                            &shown,
                            format!(
                                "hard link to {target_shown:?}, which is not in the layer (yet)"
                            ),
                        )
                    })?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(self.refuse(&shown, "a hard link to a directory"));
                }
                if target == rel {
                    return Ok(());
                }
                self.clear(&dir, &name, true, &shown)?;
                rustix::fs::linkat(&tdir, tname, &dir, name.as_os_str(), AtFlags::empty())
                    .map_err(|e| self.refuse(&shown, format!("cannot link it: {e}")))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let ftype = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                self.clear(&dir, &name, true, &shown)?;
                rustix::fs::mknodat(
                    &dir,
                    name.as_os_str(),
                    ftype,
                    Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(major, minor),
                )
                .map_err(|e| self.refuse(&shown, format!("cannot make the node: {e}")))?;
                if !xattrs.is_empty() {
                    return Err(
                        self.refuse(&shown, "extended attributes on a device are not supported")
                    );
                }
                rustix::fs::chownat(
                    &dir,
                    name.as_os_str(),
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| self.refuse(&shown, format!("cannot set its owner: {e}")))?;
                rustix::fs::chmodat(
                    &dir,
                    name.as_os_str(),
                    Mode::from_raw_mode(mode),
                    AtFlags::empty(),
                )
                .map_err(|e| self.refuse(&shown, format!("cannot set its mode: {e}")))?;
                self.own_nofollow(&dir, &name, uid, gid, mtime, &shown)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(self.refuse(&shown, format!("unsupported entry type {other:?}")));
            }
        }
        Ok(())
    }

    /// The entry's path below the root: `./` and leading `/`-free
    /// components only; `..` is refused, and so is an absolute name.
    fn clean(&self, shown: &str, raw: &[u8]) -> Result<PathBuf> {
        let path = Path::new(OsStr::from_bytes(raw));
        let mut out = PathBuf::new();
        for c in path.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                Component::ParentDir => return Err(self.refuse(shown, "a path with `..`")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.refuse(shown, "an absolute path"));
                }
            }
        }
        if raw.contains(&0) {
            return Err(self.refuse(shown, "a NUL byte in its name"));
        }
        Ok(out)
    }

    /// Opens directory `rel` below the root without following any symlink;
    /// with `create`, makes missing directories (0755, root's) on the way.
    fn dir(&self, rel: &Path, create: bool, shown: &str) -> Result<OwnedFd> {
        let resolve =
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let open = |p: &Path| {
            rustix::fs::openat2(
                &self.root_fd,
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                },
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            )
        };
        let why = |e: Errno| match e {
            Errno::LOOP => {
                "a symlink in its path (entries are never written through symlinks)".to_owned()
            }
            Errno::NOTDIR => "a part of its path is not a directory".to_owned(),
            Errno::NOENT => "its directory is not in the layer".to_owned(),
            other => format!("cannot open its directory: {other}"),
        };
        match open(rel) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) if create => {
                let mut cur = PathBuf::new();
                let mut fd = open(Path::new("")).map_err(|e| self.refuse(shown, why(e)))?;
                for c in rel.components() {
                    cur.push(c);
                    match rustix::fs::mkdirat(&fd, c.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(
                                self.refuse(shown, format!("cannot make {}: {e}", cur.display()))
                            );
                        }
                    }
                    fd = open(&cur).map_err(|e| self.refuse(shown, why(e)))?;
                }
                Ok(fd)
            }
            Err(e) => Err(self.refuse(shown, why(e))),
        }
    }

    /// A readable descriptor of directory `rel` (an `O_PATH` one cannot
    /// take owners, modes or attributes).
    fn reopen_dir(&self, _parent: &OwnedFd, rel: &Path, shown: &str) -> Result<OwnedFd> {
        rustix::fs::openat2(
            &self.root_fd,
            if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            },
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| self.refuse(shown, format!("cannot open the directory: {e}")))
    }

    /// Removes what is at `name` in `dir` so an entry can take its place.
    /// A directory is only replaced by a directory.
    fn clear(&self, dir: &OwnedFd, name: &OsStr, _file: bool, shown: &str) -> Result<()> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.refuse(shown, format!("cannot look at what is there: {e}"))),
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                Err(self.refuse(shown, "it would replace a directory of the same layer"))
            }
            Ok(_) => rustix::fs::unlinkat(dir, name, AtFlags::empty())
                .map_err(|e| self.refuse(shown, format!("cannot replace what is there: {e}"))),
        }
    }

    /// Owner, then mode (a chown clears set-id bits), then attributes.
    fn metadata(
        &self,
        fd: &impl AsFd,
        uid: u32,
        gid: u32,
        mode: u32,
        xattrs: &[(String, Vec<u8>)],
        shown: &str,
    ) -> Result<()> {
        rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(|e| self.refuse(shown, format!("cannot set its owner: {e}")))?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
            .map_err(|e| self.refuse(shown, format!("cannot set its mode: {e}")))?;
        for (name, value) in xattrs {
            rustix::fs::fsetxattr(fd, name.as_str(), value, XattrFlags::empty())
                .map_err(|e| self.refuse(shown, format!("cannot set attribute {name}: {e}")))?;
        }
        Ok(())
    }

    fn own_nofollow(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        uid: u32,
        gid: u32,
        mtime: i64,
        shown: &str,
    ) -> Result<()> {
        rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.refuse(shown, format!("cannot set its owner: {e}")))?;
        let t = time(mtime);
        rustix::fs::utimensat(
            dir,
            name,
            &Timestamps {
                last_access: t,
                last_modification: t,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.refuse(shown, format!("cannot set its time: {e}")))
    }

    /// Directory mtimes, deepest first, once nothing more is written.
    fn finish_dirs(&mut self) -> Result<()> {
        let mut dirs = std::mem::take(&mut self.dir_times);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, mtime) in dirs {
            let shown = rel.display().to_string();
            let fd = self.reopen_dir(
                &self
                    .root_fd
                    .try_clone()
                    .map_err(|e| Error::io("dup", self.root, e))?,
                &rel,
                &shown,
            )?;
            let t = time(mtime);
            rustix::fs::futimens(
                &fd,
                &Timestamps {
                    last_access: t,
                    last_modification: t,
                },
            )
            .map_err(|e| self.refuse(&shown, format!("cannot set its time: {e}")))?;
        }
        Ok(())
    }
}

fn time(secs: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    }
}
