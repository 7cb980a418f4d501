//! The store and the unpacker against real files (as root: owners, device
//! nodes, trusted xattrs and overlay mounts need it).

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use std::io::Write as _;

use super::*;
use crate::{UnpackLimits, chain_ids};

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// One tar entry as a test writes it: the name is put in the header raw,
/// so hostile names (`..`, absolute) can be made.
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Fifo(&'a str),
}

fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let raw = &mut h.as_ustar_mut().expect("ustar").name;
    raw.fill(0);
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_700_000_000);
    h
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::Dir(n, mode) => {
                let mut h = header(n, tar::EntryType::Directory, *mode, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::File(n, data, mode) => {
                let mut h = header(n, tar::EntryType::Regular, *mode, data.len() as u64);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            E::Sym(n, target) | E::Hard(n, target) => {
                let kind = if matches!(e, E::Sym(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(n, kind, 0o777, 0);
                let raw = &mut h.as_ustar_mut().expect("ustar").linkname;
                raw.fill(0);
                raw[..target.len()].copy_from_slice(target.as_bytes());
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Fifo(n) => {
                let mut h = header(n, tar::EntryType::Fifo, 0o640, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn unpack(bytes: &[u8]) -> (tempfile::TempDir, Result<crate::Unpacked>) {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::unpack_layer("sha256:test", bytes, dir.path(), &UnpackLimits::default());
    (dir, r)
}

fn refused(bytes: &[u8], why: &str) {
    let (dir, r) = unpack(bytes);
    match r {
        Err(Error::BadEntry { reason, .. }) => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
    // Nothing was written outside the layer directory.
    assert!(!dir.path().parent().unwrap().join("escaped").exists());
}

#[test]
fn files_dirs_links_and_metadata_are_kept() {
    if !root() {
        eprintln!("skipped: needs root (owners and device nodes)");
        return;
    }
    let layer = tar_of(&[
        E::Dir("./", 0o755),
        E::Dir("bin/", 0o755),
        E::File("bin/tool", b"#!/bin/sh\n", 0o4755),
        E::Hard("bin/tool2", "bin/tool"),
        E::Sym("bin/sh", "tool"),
        E::File("etc/motd", b"hi\n", 0o644),
        E::Fifo("run.fifo"),
    ]);
    let (dir, r) = unpack(&layer);
    let u = r.unwrap();
    assert_eq!(
        u.diff_id,
        Digest::of(&layer),
        "the diff id is the tar's sha256"
    );
    let tool = dir.path().join("bin/tool");
    let meta = std::fs::metadata(&tool).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1001));
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o4755,
        "set-uid kept after chown"
    );
    assert_eq!(meta.mtime(), 1_700_000_000);
    assert_eq!(meta.nlink(), 2, "the hard link is a link");
    assert_eq!(
        std::fs::read_link(dir.path().join("bin/sh")).unwrap(),
        Path::new("tool")
    );
    assert!(
        std::fs::metadata(dir.path().join("run.fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A parent made for an entry without its own directory entry.
    assert!(dir.path().join("etc").is_dir());
    // Directory times are set last.
    assert_eq!(
        std::fs::metadata(dir.path().join("bin")).unwrap().mtime(),
        1_700_000_000
    );
}

#[test]
fn whiteouts_take_overlay_form() {
    if !root() {
        eprintln!("skipped: needs root (trusted xattrs, device nodes)");
        return;
    }
    let layer = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.motd", b"", 0o600),
        // The opaque marker before its directory's own entry.
        E::File("data/.wh..wh..opq", b"", 0o600),
        E::Dir("data/", 0o750),
        E::File("data/y", b"y", 0o644),
    ]);
    let (dir, r) = unpack(&layer);
    r.unwrap();
    let wh = std::fs::metadata(dir.path().join("etc/motd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    let opaque = rustix::fs::getxattr(
        dir.path().join("data"),
        "trusted.overlay.opaque",
        &mut [0u8; 4],
    );
    assert_eq!(opaque.ok(), Some(1));
    assert!(!dir.path().join("data/.wh..wh..opq").exists());
    assert_eq!(
        std::fs::metadata(dir.path().join("data"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o750
    );
}

#[test]
fn hostile_entries_are_refused_by_name() {
    refused(&tar_of(&[E::File("../escaped", b"x", 0o644)]), "`..`");
    refused(&tar_of(&[E::File("/escaped", b"x", 0o644)]), "absolute");
    refused(
        &tar_of(&[E::Sym("a", "/"), E::File("a/escaped", b"x", 0o644)]),
        "symlink in its path",
    );
    refused(
        &tar_of(&[E::Sym("a", ".."), E::File("a/escaped", b"x", 0o644)]),
        "symlink in its path",
    );
    refused(
        &tar_of(&[E::Hard("h", "../../etc/passwd")]),
        "outside the layer",
    );
    refused(&tar_of(&[E::Hard("h", "not/yet")]), "not in the layer");
    refused(
        &tar_of(&[E::File(".wh.", b"", 0o600)]),
        "must name an entry",
    );
    refused(
        &tar_of(&[E::File(".wh..", b"", 0o600)]),
        "must name an entry",
    );
    refused(
        &tar_of(&[E::File("gone/.wh.x", b"", 0o600)]),
        "not in the layer",
    );
    refused(
        &tar_of(&[E::Dir("d/", 0o755), E::File("d", b"x", 0o644)]),
        "replace a directory",
    );
}

#[test]
fn later_entries_replace_earlier_ones_and_gzip_is_read() {
    let layer = tar_of(&[
        E::File("f", b"first", 0o644),
        E::File("f", b"second", 0o600),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let (dir, r) = unpack(&gz);
    assert_eq!(
        r.unwrap().diff_id,
        Digest::of(&layer),
        "diff id of the uncompressed tar"
    );
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"second");
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_layers_are_read_with_their_diff_id() {
    let layer = tar_of(&[E::Dir("d", 0o755), E::File("d/f", b"zstd content", 0o640)]);
    let zst =
        ruzstd::encoding::compress_to_vec(&layer[..], ruzstd::encoding::CompressionLevel::Fastest);
    let (dir, r) = unpack(&zst);
    assert_eq!(r.unwrap().diff_id, Digest::of(&layer));
    assert_eq!(
        std::fs::read(dir.path().join("d/f")).unwrap(),
        b"zstd content"
    );
    assert_eq!(
        crate::diff_id_of(&zst[..]).unwrap(),
        (Digest::of(&layer), layer.len() as u64)
    );
}

#[test]
fn a_decompression_bomb_is_stopped() {
    let big = vec![0u8; 1 << 20];
    let layer = tar_of(&[E::File("zeros", &big, 0o644)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 8 << 10, "it compresses well: {}", gz.len());
    let dir = tempfile::tempdir().unwrap();
    let r = crate::unpack_layer(
        "sha256:bomb",
        &gz[..],
        dir.path(),
        &UnpackLimits {
            max_bytes: 256 << 10,
        },
    );
    assert!(
        matches!(r, Err(Error::TooLarge { limit, .. }) if limit == 256 << 10),
        "{r:?}"
    );
    #[cfg(not(feature = "zstd"))]
    {
        let r = crate::unpack_layer(
            "sha256:zstd",
            &[0x28, 0xb5, 0x2f, 0xfd, 0, 0][..],
            dir.path(),
            &UnpackLimits::default(),
        );
        assert!(
            matches!(r, Err(Error::Compression { format: "zstd", .. })),
            "{r:?}"
        );
    }
    #[cfg(feature = "zstd")]
    {
        let zst = ruzstd::encoding::compress_to_vec(
            &layer[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(zst.len() < 64 << 10, "it compresses well: {}", zst.len());
        let dir = tempfile::tempdir().unwrap();
        let r = crate::unpack_layer(
            "sha256:zstd-bomb",
            &zst[..],
            dir.path(),
            &UnpackLimits {
                max_bytes: 256 << 10,
            },
        );
        assert!(
            matches!(r, Err(Error::TooLarge { limit, .. }) if limit == 256 << 10),
            "{r:?}"
        );
    }
    let r = crate::unpack_layer(
        "sha256:junk",
        &b"not a tar at all, just text that goes on and on"[..],
        dir.path(),
        &UnpackLimits::default(),
    );
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn blobs_are_verified_before_they_are_visible() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (d, n) = store.put_blob(&b"hello"[..], None).unwrap();
    assert_eq!((d.clone(), n), (Digest::of(b"hello"), 5));
    assert_eq!(store.read_blob(&d).unwrap(), b"hello");
    let wrong = Digest::of(b"other");
    let e = store
        .put_blob(&b"hello!"[..], Some((&wrong, None)))
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    let e = store
        .put_blob(&b"hello"[..], Some((&d, Some(4))))
        .unwrap_err();
    assert!(matches!(e, Error::SizeMismatch { .. }), "{e}");
    assert_eq!(
        store.blobs().unwrap(),
        vec![d.clone()],
        "nothing half-visible"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
    // A stored blob written over on disk is an error when read.
    std::fs::write(store.blob_path(&d), b"HELLO").unwrap();
    assert!(matches!(
        store.read_blob(&d),
        Err(Error::DigestMismatch { .. })
    ));
}

#[test]
fn layers_are_renamed_into_place_and_leftovers_swept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layer = tar_of(&[E::File("f", b"x", 0o644)]);
    let diff = Digest::of(&layer);
    let chain = chain_ids(std::slice::from_ref(&diff))[0].clone();
    // A diff id that does not match leaves nothing.
    let e = store
        .add_layer(
            &chain,
            Some(&Digest::of(b"no")),
            &layer[..],
            &UnpackLimits::default(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(store.layers().unwrap().is_empty());
    let info = store
        .add_layer(&chain, Some(&diff), &layer[..], &UnpackLimits::default())
        .unwrap();
    assert_eq!(info.diff_id, diff);
    assert_eq!(info.link.len(), 26);
    assert_eq!(store.layers().unwrap(), vec![chain.clone()]);
    assert!(
        dir.path().join("l").join(&info.link).join("f").is_file(),
        "the short link reaches the diff"
    );
    // What a killed unpack (pid 2^22+1 never exists) and a killed blob
    // write leave is gone after the next open.
    let dead = 4_194_305;
    std::fs::create_dir_all(
        dir.path()
            .join(format!("layers/{}.tmp-{dead}-0/diff", chain.hex())),
    )
    .unwrap();
    std::fs::write(dir.path().join(format!("ingest/{dead}-3")), b"half").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
    // The sweep keeps what it is told to.
    let (l, b) = store
        .sweep(&BTreeSet::from([chain.clone()]), &BTreeSet::new())
        .unwrap();
    assert_eq!((l, b), (0, 0));
    let (l, _) = store.sweep(&BTreeSet::new(), &BTreeSet::new()).unwrap();
    assert_eq!(l, 1);
    assert!(store.layers().unwrap().is_empty());
    assert!(!dir.path().join("l").join(&info.link).exists());
}

#[test]
fn overlay_roots_show_whiteouts_and_opaque_dirs() {
    if !root() {
        eprintln!("skipped: needs root (overlay mounts)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let l1 = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/motd", b"motd", 0o644),
        E::Dir("data/", 0o755),
        E::File("data/x", b"x", 0o644),
    ]);
    let l2 = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.motd", b"", 0o600),
        E::Dir("data/", 0o755),
        E::File("data/.wh..wh..opq", b"", 0o600),
        E::File("data/y", b"y", 0o644),
    ]);
    let diffs = [Digest::of(&l1), Digest::of(&l2)];
    let chain = chain_ids(&diffs);
    store
        .add_layer(
            &chain[0],
            Some(&diffs[0]),
            &l1[..],
            &UnpackLimits::default(),
        )
        .unwrap();
    store
        .add_layer(
            &chain[1],
            Some(&diffs[1]),
            &l2[..],
            &UnpackLimits::default(),
        )
        .unwrap();
    let id = "c".repeat(64);
    let merged = match store.mount(&id, &chain, Driver::Overlay) {
        Ok(m) => m,
        Err(e) => {
            assert!(
                !oxpod_test_support_under_ci(),
                "overlay must work under CI: {e}"
            );
            eprintln!("skipped: overlay cannot mount here: {e}");
            return;
        }
    };
    assert!(!merged.join("etc/motd").exists(), "the whiteout hides it");
    assert!(merged.join("data/y").is_file());
    assert!(
        !merged.join("data/x").exists(),
        "the opaque dir hides the lower one's files"
    );
    std::fs::write(merged.join("new"), b"n").unwrap();
    assert_eq!(
        store.mount(&id, &chain, Driver::Overlay).unwrap(),
        merged,
        "mounting twice is a no-op"
    );
    store.unmount(&id).unwrap();
    assert!(!merged.join("data").exists(), "unmounted");
    assert!(
        dir.path()
            .join("containers")
            .join(&id)
            .join("diff/new")
            .is_file(),
        "changes are in the upper dir"
    );
    store.remove_container(&id).unwrap();
    assert!(store.containers().unwrap().is_empty());
    store.unmount(&id).unwrap();
}

#[test]
fn vfs_roots_apply_whiteouts_and_opaque_dirs_as_deletions() {
    if !root() {
        eprintln!("skipped: needs root (trusted xattrs, device nodes)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let l1 = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/motd", b"motd", 0o644),
        E::Dir("data/", 0o755),
        E::File("data/x", b"x", 0o644),
        E::Sym("link", "etc"),
    ]);
    let l2 = tar_of(&[
        E::Dir("etc/", 0o700),
        E::File("etc/.wh.motd", b"", 0o600),
        E::File("data/.wh..wh..opq", b"", 0o600),
        E::Dir("data/", 0o755),
        E::File("data/y", b"y", 0o644),
        // A directory replaces the lower layer's symlink, never writes through it.
        E::Dir("link/", 0o755),
        E::File("link/inside", b"i", 0o644),
    ]);
    let diffs = [Digest::of(&l1), Digest::of(&l2)];
    let chain = chain_ids(&diffs);
    store
        .add_layer(
            &chain[0],
            Some(&diffs[0]),
            &l1[..],
            &UnpackLimits::default(),
        )
        .unwrap();
    store
        .add_layer(
            &chain[1],
            Some(&diffs[1]),
            &l2[..],
            &UnpackLimits::default(),
        )
        .unwrap();
    let id = "d".repeat(64);
    let root = store.mount(&id, &chain, Driver::Vfs).unwrap();
    assert!(!root.join("etc/motd").exists(), "the whiteout deleted it");
    assert_eq!(
        std::fs::metadata(root.join("etc"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert!(root.join("data/y").is_file());
    assert!(
        !root.join("data/x").exists(),
        "the opaque dir hid the lower file"
    );
    assert!(
        std::fs::symlink_metadata(root.join("link"))
            .unwrap()
            .is_dir()
    );
    assert!(
        !root.join("etc/inside").exists(),
        "nothing went through the old symlink"
    );
    // Copied once; a second mount keeps the container's changes.
    std::fs::write(root.join("new"), b"n").unwrap();
    assert_eq!(store.mount(&id, &chain, Driver::Vfs).unwrap(), root);
    assert!(root.join("new").exists());
    store.unmount(&id).unwrap();
    store.remove_container(&id).unwrap();
    assert!(store.containers().unwrap().is_empty());
}

/// The vfs driver's commit: a root compared with its layers gives only
/// what changed, with whiteouts for what went, and the result stacked on
/// the layers is the root again.
#[test]
fn a_vfs_root_diffs_against_its_layers() {
    if !root() {
        eprintln!("skipped: needs root (trusted xattrs, device nodes)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let l1 = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/motd", b"motd", 0o644),
        E::File("etc/keep", b"same", 0o644),
        E::Dir("data/", 0o755),
        E::File("data/x", b"x", 0o644),
        E::Dir("gone/", 0o755),
        E::File("gone/a", b"a", 0o644),
        E::File("mode", b"m", 0o644),
    ]);
    let diffs = [Digest::of(&l1)];
    let chain = chain_ids(&diffs);
    store
        .add_layer(
            &chain[0],
            Some(&diffs[0]),
            &l1[..],
            &UnpackLimits::default(),
        )
        .unwrap();
    let id = "e".repeat(64);
    let root = store.mount(&id, &chain, Driver::Vfs).unwrap();
    std::fs::write(root.join("etc/motd"), b"changed").unwrap();
    std::fs::write(root.join("data/new"), b"new").unwrap();
    std::fs::remove_file(root.join("data/x")).unwrap();
    std::fs::remove_dir_all(root.join("gone")).unwrap();
    std::fs::set_permissions(root.join("mode"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("etc/keep", root.join("ln")).unwrap();
    let xattr = rustix::fs::setxattr(
        root.join("data/new"),
        "user.oxpod",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok();
    let mut tar = Vec::new();
    crate::tar_changes(&root, &[store.layer_diff(&chain[0])], &mut tar).unwrap();
    let mut names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".wh.gone",
            "data/",
            "data/.wh.x",
            "data/new",
            "etc/",
            "etc/motd",
            "ln",
            "mode"
        ],
        "only the changes, with their parents"
    );
    // Stacked on the layer, the diff shows the root again.
    let (up, r) = unpack(&tar);
    r.unwrap();
    assert_eq!(
        std::fs::read(up.path().join("etc/motd")).unwrap(),
        b"changed"
    );
    assert!(!up.path().join("etc/keep").exists());
    let wh = std::fs::metadata(up.path().join("gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        std::fs::metadata(up.path().join("mode"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    if xattr {
        let mut v = [0u8; 8];
        let n = rustix::fs::getxattr(up.path().join("data/new"), "user.oxpod", &mut v).unwrap();
        assert_eq!(&v[..n], b"v", "xattrs travel in PAX records");
    }
    // No changes at all: an empty layer.
    let id2 = "f".repeat(64);
    let root2 = store.mount(&id2, &chain, Driver::Vfs).unwrap();
    let mut empty = Vec::new();
    crate::tar_changes(&root2, &[store.layer_diff(&chain[0])], &mut empty).unwrap();
    assert_eq!(tar::Archive::new(&empty[..]).entries().unwrap().count(), 0);
    // A root keeps the driver that made it.
    assert_eq!(store.container_driver(&id2), Some(Driver::Vfs));
    assert_eq!(store.mount(&id2, &chain, Driver::Overlay).unwrap(), root2);
    assert!(!is_mount_point(&root2).unwrap());
}

fn oxpod_test_support_under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

#[test]
fn short_links_are_26_characters_and_distinct() {
    let a = short_link_name(&Digest::of(b"a"));
    let b = short_link_name(&Digest::of(b"b"));
    assert_eq!(a.len(), 26);
    assert_ne!(a, b);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    );
}

#[test]
fn a_tree_written_as_a_layer_keeps_its_whiteouts() {
    if !root() {
        eprintln!("skipped: needs root (trusted xattrs, device nodes)");
        return;
    }
    let layer = tar_of(&[
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.motd", b"", 0o600),
        E::Dir("data/", 0o755),
        E::File("data/.wh..wh..opq", b"", 0o600),
        E::File("data/y", b"y", 0o640),
        E::Sym("data/l", "y"),
        E::Hard("data/h", "data/y"),
    ]);
    let (first, r) = unpack(&layer);
    r.unwrap();
    let mut again = Vec::new();
    crate::tar_tree(first.path(), &mut again, true).unwrap();
    let (second, r) = unpack(&again);
    r.unwrap();
    let wh = std::fs::metadata(second.path().join("etc/motd")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "the whiteout came back"
    );
    let opaque = rustix::fs::getxattr(
        second.path().join("data"),
        "trusted.overlay.opaque",
        &mut [0u8; 4],
    );
    assert_eq!(opaque.ok(), Some(1), "and the opaque directory");
    assert_eq!(
        std::fs::read_link(second.path().join("data/l")).unwrap(),
        Path::new("y")
    );
    assert_eq!(
        std::fs::metadata(second.path().join("data/h"))
            .unwrap()
            .nlink(),
        2
    );
    assert_eq!(
        std::fs::metadata(second.path().join("data/y"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
}

#[test]
fn directories_made_in_a_root_never_leave_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // An absolute symlink and a `..` one, both meant to leave the root.
    std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("rel")).unwrap();
    crate::make_dir_in_root(&root, "/abs/made").unwrap();
    assert!(root.join("etc/made").is_dir(), "resolved inside the root");
    assert!(!Path::new("/etc/made").exists());
    let _ = crate::make_dir_in_root(&root, "rel/made");
    assert!(!outside.join("made").exists(), "never outside");
    crate::make_dir_in_root(&root, "vol/a/b").unwrap();
    assert!(root.join("vol/a/b").is_dir());
}
