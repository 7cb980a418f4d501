//! Writing a directory tree as a tar stream: a container's changes as a
//! layer (overlay's whiteouts turned back into OCI ones) or a whole root
//! (`export`). Symlinks are stored, never followed; a file seen again by
//! inode is a hard link.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Writes the tree below `root` to `out` as a tar. With `layer`, overlay's
/// whiteouts become OCI's: a 0:0 character device `NAME` is `.wh.NAME`, a
/// directory with `trusted.overlay.opaque=y` gets a `.wh..wh..opq` entry.
pub fn tar_tree(root: &Path, out: impl Write, layer: bool) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(&mut b, root, root, layer, &mut links)?;
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::io("write the tar of", root, e))
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

fn walk(
    b: &mut tar::Builder<impl Write>,
    root: &Path,
    dir: &Path,
    layer: bool,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path).map_err(|err| Error::io("stat", &path, err))?;
        let ft = meta.file_type();
        let io = |err: std::io::Error| Error::io("write the tar entry of", &path, err);
        if layer && ft.is_char_device() && meta.rdev() == 0 {
            let name = format!(
                "{}{}.wh.{}",
                rel.rsplit_once('/').map_or("", |(d, _)| d),
                if rel.contains('/') { "/" } else { "" },
                e.file_name().to_string_lossy()
            );
            let mut h = header_for(&meta, tar::EntryType::Regular, 0);
            b.append_data(&mut h, &name, &[][..]).map_err(io)?;
            continue;
        }
        if ft.is_dir() {
            let mut h = header_for(&meta, tar::EntryType::Directory, 0);
            b.append_data(&mut h, format!("{rel}/"), &[][..])
                .map_err(io)?;
            if layer
                && rustix::fs::lgetxattr(&path, "trusted.overlay.opaque", &mut [0u8; 4])
                    .is_ok_and(|n| n == 1)
            {
                let mut h = header_for(&meta, tar::EntryType::Regular, 0);
                h.set_mode(0o600);
                b.append_data(&mut h, format!("{rel}/.wh..wh..opq"), &[][..])
                    .map_err(io)?;
            }
            walk(b, root, &path, layer, links)?;
        } else if ft.is_symlink() {
            let target =
                fs::read_link(&path).map_err(|err| Error::io("read the link", &path, err))?;
            let mut h = header_for(&meta, tar::EntryType::Symlink, 0);
            b.append_link(&mut h, &rel, &target).map_err(io)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&key) {
                    let mut h = header_for(&meta, tar::EntryType::Link, 0);
                    b.append_link(&mut h, &rel, first).map_err(io)?;
                    continue;
                }
                links.insert(key, rel.clone());
            }
            let f = fs::File::open(&path).map_err(|err| Error::io("open", &path, err))?;
            let mut h = header_for(&meta, tar::EntryType::Regular, meta.len());
            b.append_data(&mut h, &rel, f).map_err(io)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = header_for(&meta, kind, 0);
            let rdev = meta.rdev();
            let _ = h.set_device_major(rustix::fs::major(rdev));
            let _ = h.set_device_minor(rustix::fs::minor(rdev));
            b.append_data(&mut h, &rel, &[][..]).map_err(io)?;
        }
        // Sockets are not kept (tar has no type for them).
    }
    Ok(())
}
