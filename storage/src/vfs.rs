//! The vfs driver's copy: one layer (in overlay form) applied onto a
//! directory the way overlay would show it: a 0:0 character device deletes
//! what is below, an opaque directory hides what the lower layers had in
//! it, anything else replaces what has its name. Nothing is followed: a
//! symlink in the destination is replaced, never written through.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Applies the layer directory `src` onto `dst`.
pub(crate) fn apply_layer(src: &Path, dst: &Path) -> Result<()> {
    let mut links = HashMap::new();
    apply_dir(src, dst, &mut links)?;
    copy_meta(
        src,
        &fs::symlink_metadata(src).map_err(|e| Error::io("stat", src, e))?,
        dst,
    )
}

fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("stat", path, e)),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| Error::io("remove", path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| Error::io("remove", path, e)),
    }
}

/// Copies `src`'s extended attributes (overlay's own left out) onto `dst`.
/// A file system without xattrs keeps none, as a copy there would.
fn copy_xattrs(src: &Path, dst: &Path) -> Result<()> {
    use rustix::io::Errno;
    let mut names = vec![0u8; 1024];
    let n = loop {
        match rustix::fs::llistxattr(src, &mut names[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) if names.len() < 1 << 20 => names.resize(names.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(Error::errno("list the attributes of", src, e)),
        }
    };
    for name in names[..n].split(|&c| c == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut value = vec![0u8; 4096];
        let len = loop {
            match rustix::fs::lgetxattr(src, name.as_str(), &mut value[..]) {
                Ok(len) => break len,
                Err(Errno::RANGE) if value.len() < 1 << 20 => value.resize(value.len() * 4, 0),
                Err(e) => return Err(Error::errno("read the attributes of", src, e)),
            }
        };
        match rustix::fs::lsetxattr(
            dst,
            name.as_str(),
            &value[..len],
            rustix::fs::XattrFlags::empty(),
        ) {
            Ok(()) => {}
            Err(Errno::NOTSUP) => {
                tracing::debug!(path = %dst.display(), %name, "attribute not kept: the file system has no xattrs");
            }
            Err(e) => return Err(Error::errno("set the attributes of", dst, e)),
        }
    }
    Ok(())
}

fn copy_meta(src: &Path, meta: &fs::Metadata, dst: &Path) -> Result<()> {
    copy_xattrs(src, dst)?;
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| Error::io("set the owner of", dst, e))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| Error::io("set the mode of", dst, e))?;
    }
    let t = rustix::fs::Timespec {
        tv_sec: meta.mtime(),
        tv_nsec: meta.mtime_nsec(),
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        dst,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Error::errno("set the time of", dst, e))
}

fn apply_dir(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
) -> Result<()> {
    let entries = fs::read_dir(src).map_err(|e| Error::io("list", src, e))?;
    for e in entries.flatten() {
        let s = e.path();
        let d = dst.join(e.file_name());
        let meta = fs::symlink_metadata(&s).map_err(|err| Error::io("stat", &s, err))?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove_any(&d)?;
            continue;
        }
        if ft.is_dir() {
            let opaque = rustix::fs::lgetxattr(&s, "trusted.overlay.opaque", &mut [0u8; 4])
                .is_ok_and(|n| n == 1);
            let existing = fs::symlink_metadata(&d).ok();
            match existing {
                Some(m) if m.is_dir() && !opaque => {}
                _ => {
                    remove_any(&d)?;
                    fs::create_dir(&d).map_err(|err| Error::io("create", &d, err))?;
                }
            }
            apply_dir(&s, &d, links)?;
            copy_meta(&s, &meta, &d)?;
            continue;
        }
        remove_any(&d)?;
        if ft.is_symlink() {
            let target = fs::read_link(&s).map_err(|err| Error::io("read the link", &s, err))?;
            std::os::unix::fs::symlink(&target, &d).map_err(|err| Error::io("link", &d, err))?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1
                && let Some(first) = links.get(&key)
                && fs::hard_link(first, &d).is_ok()
            {
                continue;
            }
            fs::copy(&s, &d).map_err(|err| Error::io("copy into", &d, err))?;
            if meta.nlink() > 1 {
                links.insert(key, d.clone());
            }
        } else {
            let kind = if ft.is_char_device() {
                rustix::fs::FileType::CharacterDevice
            } else if ft.is_block_device() {
                rustix::fs::FileType::BlockDevice
            } else if ft.is_fifo() {
                rustix::fs::FileType::Fifo
            } else {
                continue;
            };
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &d,
                kind,
                rustix::fs::Mode::from_raw_mode(0o600),
                meta.rdev(),
            )
            .map_err(|err| Error::errno("make the node", &d, err))?;
        }
        copy_meta(&s, &meta, &d)?;
    }
    Ok(())
}
