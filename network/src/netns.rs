//! Network namespaces oxpod makes for its containers: a new namespace
//! bind-mounted on a file, so it lives without a process until removed.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use crate::{Error, Result};

/// Makes a new network namespace and binds it on `path` (a file made
/// here, 0600; its directory must exist). Its loopback is brought up by
/// netavark's setup, or by the container's runtime for `--network none`.
/// When anything fails, nothing is left at `path`.
pub fn create(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    let target = path.to_owned();
    // A thread of its own unshares, so this one keeps its namespace; it
    // ends with the bind made, and the namespace lives on in the mount.
    let made = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::io("unshare the network namespace for", &target, e.into()))?;
        nix::mount::mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| Error::io("bind the network namespace on", &target, e.into()))
    })
    .join()
    .unwrap_or_else(|_| {
        Err(Error::invalid(
            "network namespace",
            "the thread making it panicked",
        ))
    });
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Whether `path` holds a namespace bind (an nsfs mount).
pub fn is_mounted(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC)
}

/// Unmounts and removes a namespace file; one that is gone, or never got
/// its mount, is fine.
pub fn remove(path: &Path) -> Result<()> {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(Error::io("unmount", path, e.into())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_made_bound_and_removed() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: making a network namespace needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns");
        create(&p).unwrap();
        assert!(is_mounted(&p));
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let theirs = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&f)
        ))
        .unwrap();
        drop(f);
        assert_ne!(ours, theirs, "a namespace of its own");
        assert!(create(&p).is_err(), "never over an existing one");
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
