//! `cp` between the host and a container, podman's rules: a tar stream
//! from one side unpacked on the other, every path inside the container
//! resolved inside its root (`openat2(RESOLVE_IN_ROOT)`), what is written
//! owned by the destination's user (the caller on the host, the
//! container's user inside it).
//!
//! A running container is reached through `/proc/<pid>/root`, so its
//! volumes and mounts are what it sees; a stopped one through its root
//! (mounted for the copy if it is an image's, under its lock), with a path
//! below one of its bind mounts or volumes mapped to the host source.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use oxpod_locks::LockGuard;
use oxpod_state::ContainerStatus;
use oxpod_storage::{PathKind, TarName, UnpackLimits};
use tracing::debug;

use crate::{ContainerRef, Containers, Error, Result};

/// One side of a `cp`.
#[derive(Debug, Clone)]
pub enum CopyEnd {
    /// A host path.
    Host(PathBuf),
    /// A path in a container.
    Container(ContainerRef, String),
}

/// A root to copy in: a directory, the path inside it, whose user owns
/// what is written there, and what is held while it is used.
struct Side {
    root: PathBuf,
    rel: String,
    owner: (u32, u32),
    /// What `rel` was called by the user (errors, names).
    shown: String,
    _guard: Option<LockGuard>,
    /// A root mounted for the copy, unmounted after it.
    unmount: Option<String>,
}

fn basename(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..")
        .unwrap_or("")
        .to_owned()
}

fn parent(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) => "/".to_owned(),
        Some((p, _)) => p.to_owned(),
        None => ".".to_owned(),
    }
}

fn not_found(shown: &str, on: &str) -> Error {
    Error::InvalidArgument {
        what: format!("{shown:?}"),
        reason: format!("could not be found on {on}: no such file or directory"),
    }
}

impl Containers<'_> {
    fn side(&self, end: &CopyEnd) -> Result<Side> {
        match end {
            CopyEnd::Host(p) => {
                let abs = if p.is_absolute() {
                    p.clone()
                } else {
                    std::env::current_dir()
                        .map_err(|e| Error::io("read", ".", e))?
                        .join(p)
                };
                Ok(Side {
                    root: PathBuf::from("/"),
                    rel: abs.to_string_lossy().into_owned(),
                    owner: (
                        nix::unistd::geteuid().as_raw(),
                        nix::unistd::getegid().as_raw(),
                    ),
                    shown: p.display().to_string(),
                    _guard: None,
                    unmount: None,
                })
            }
            CopyEnd::Container(r, path) => {
                let rt = self.rt;
                let (ctr, guard) = self.lock(r)?;
                let owner = crate::containers::numeric_user(&ctr.config.user);
                let rel = if path.starts_with('/') {
                    path.clone()
                } else {
                    // podman: relative to the working directory.
                    format!("{}/{path}", ctr.config.working_dir.trim_end_matches('/'))
                };
                let running = matches!(
                    ctr.state.status,
                    ContainerStatus::Created | ContainerStatus::Running | ContainerStatus::Paused
                );
                if running && let Some(pid) = ctr.state.pid {
                    // Its own view, mounts and all; the lock is not needed
                    // for that (a copy must not stop a `stop`).
                    return Ok(Side {
                        root: PathBuf::from(format!("/proc/{pid}/root")),
                        rel,
                        owner,
                        shown: path.clone(),
                        _guard: None,
                        unmount: None,
                    });
                }
                // Stopped: a path below one of its mounts is the mount's
                // source (the longest destination that covers it).
                let clean = clean_path(&rel);
                if let Some(m) = ctr
                    .config
                    .mounts
                    .iter()
                    .filter(|m| m.kind != "tmpfs")
                    .filter(|m| {
                        clean == m.destination
                            || clean
                                .strip_prefix(&m.destination)
                                .is_some_and(|rest| rest.starts_with('/'))
                    })
                    .max_by_key(|m| m.destination.len())
                {
                    let rest = clean[m.destination.len()..].to_owned();
                    return Ok(Side {
                        root: m.source.clone(),
                        rel: if rest.is_empty() {
                            "/".to_owned()
                        } else {
                            rest
                        },
                        owner,
                        shown: path.clone(),
                        _guard: Some(guard),
                        unmount: None,
                    });
                }
                let (root, unmount) = match &ctr.config.image_id {
                    Some(image_id) => {
                        // Mounted for the copy only if it was not (an exited
                        // container not yet cleaned up still has its root).
                        let was = crate::host::is_mounted(&ctr.config.rootfs);
                        let root = rt.images().mount_root(&ctr.config.id, image_id)?;
                        (root, (!was).then(|| ctr.config.id.clone()))
                    }
                    None => (ctr.config.rootfs.clone(), None),
                };
                Ok(Side {
                    root,
                    rel,
                    owner,
                    shown: path.clone(),
                    _guard: Some(guard),
                    unmount,
                })
            }
        }
    }

    fn release(&self, side: Side) {
        if let Some(id) = &side.unmount
            && let Err(e) = self.rt.images().unmount_root(id)
        {
            tracing::warn!(id, error = %e, "cannot unmount the container's root after cp");
        }
    }

    /// `cp SRC DST` with one side a container, podman's rules: into an
    /// existing directory under the source's name (`SRC/.`: its
    /// contents); over an existing file; or as a new path whose parent
    /// exists.
    pub fn copy(&self, src: &CopyEnd, dst: &CopyEnd) -> Result<()> {
        self.rt.check_valid()?;
        if matches!((src, dst), (CopyEnd::Container(..), CopyEnd::Container(..))) {
            return Err(Error::InvalidArgument {
                what: "cp".to_owned(),
                reason: "copying between containers is not supported: copy through the host"
                    .to_owned(),
            });
        }
        let t = std::time::Instant::now();
        let s = self.side(src)?;
        let result = self.side(dst).and_then(|d| {
            let r = self.copy_between(&s, &d);
            self.release(d);
            r
        });
        self.release(s);
        debug!(took = ?t.elapsed(), "cp");
        result
    }

    fn copy_between(&self, s: &Side, d: &Side) -> Result<()> {
        let on = |side: &Side| {
            if side.root == Path::new("/") {
                "the host".to_owned()
            } else {
                "the container".to_owned()
            }
        };
        let src_kind = oxpod_storage::kind_in_root(&s.root, &s.rel)?;
        if src_kind == PathKind::Missing {
            return Err(not_found(&s.shown, &on(s)));
        }
        let contents = s.rel.ends_with("/.") && src_kind == PathKind::Dir;
        let name = basename(&s.rel);
        let (into, as_name) = match oxpod_storage::kind_in_root(&d.root, &d.rel)? {
            PathKind::Dir => (d.rel.clone(), if contents { None } else { Some(name) }),
            PathKind::Other if src_kind == PathKind::Dir => {
                return Err(Error::InvalidArgument {
                    what: format!("{:?}", d.shown),
                    reason: "destination must be a directory when copying a directory".to_owned(),
                });
            }
            kind => {
                if kind == PathKind::Missing && d.rel.ends_with('/') {
                    return Err(not_found(&d.shown, &on(d)));
                }
                let p = parent(&d.rel);
                if oxpod_storage::kind_in_root(&d.root, &p)? != PathKind::Dir {
                    return Err(not_found(&p, &on(d)));
                }
                (p, Some(basename(&d.rel)))
            }
        };
        let src_name = match &as_name {
            Some(n) if !n.is_empty() => TarName::As(n),
            Some(_) => {
                return Err(Error::InvalidArgument {
                    what: format!("{:?}", s.shown),
                    reason: "cannot tell the name to copy it under".to_owned(),
                });
            }
            None => TarName::Contents,
        };
        let (reader, writer) =
            std::io::pipe().map_err(|e| Error::io("make a pipe for", &d.shown, e))?;
        let (root, rel) = (s.root.clone(), s.rel.clone());
        let owned_name = match src_name {
            TarName::As(n) => Some(n.to_owned()),
            TarName::Contents => None,
        };
        let producer = std::thread::spawn(move || {
            let name = match &owned_name {
                Some(n) => TarName::As(n),
                None => TarName::Contents,
            };
            let w = std::io::BufWriter::with_capacity(1 << 16, writer);
            oxpod_storage::tar_in_root(&root, &rel, name, w)
        });
        let unpacked = oxpod_storage::untar_in_root(
            &d.root,
            &into,
            reader,
            &UnpackLimits::default(),
            Some(d.owner),
        );
        let produced = producer.join().unwrap_or_else(|_| {
            Err(oxpod_storage::Error::Io {
                op: "copy",
                path: s.root.join(&s.rel),
                source: std::io::Error::other("the tar writer panicked"),
            })
        });
        // The reader's error first: a write error of the producer is most
        // often the reader having stopped.
        unpacked?;
        produced?;
        Ok(())
    }

    /// `cp CTR:PATH -`: what `path` names, as a tar on `out` (under its own
    /// name; `PATH/.`: a directory's contents).
    pub fn copy_out(&self, r: &ContainerRef, path: &str, out: impl Write) -> Result<()> {
        self.rt.check_valid()?;
        let s = self.side(&CopyEnd::Container(r.clone(), path.to_owned()))?;
        let result = (|| {
            let kind = oxpod_storage::kind_in_root(&s.root, &s.rel)?;
            if kind == PathKind::Missing {
                return Err(not_found(&s.shown, "the container"));
            }
            let name = basename(&s.rel);
            let name = if (s.rel.ends_with("/.") && kind == PathKind::Dir) || name.is_empty() {
                TarName::Contents
            } else {
                TarName::As(&name)
            };
            oxpod_storage::tar_in_root(&s.root, &s.rel, name, out)?;
            Ok(())
        })();
        self.release(s);
        result
    }

    /// `cp - CTR:DIR`: the tar on `input` unpacked into directory `path`.
    pub fn copy_in(&self, r: &ContainerRef, path: &str, input: impl Read) -> Result<()> {
        self.rt.check_valid()?;
        let d = self.side(&CopyEnd::Container(r.clone(), path.to_owned()))?;
        let result = (|| {
            if oxpod_storage::kind_in_root(&d.root, &d.rel)? != PathKind::Dir {
                return Err(Error::InvalidArgument {
                    what: format!("{:?}", d.shown),
                    reason: "destination must be a directory when copying from stdin".to_owned(),
                });
            }
            oxpod_storage::untar_in_root(
                &d.root,
                &d.rel,
                input,
                &UnpackLimits::default(),
                Some(d.owner),
            )?;
            Ok(())
        })();
        self.release(d);
        result
    }
}

/// `path` without `.`, `..` (never above `/`) and repeated slashes.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parents() {
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename("/a/b/."), "");
        assert_eq!(basename("/"), "");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(clean_path("/a/../../b//./c"), "/b/c");
    }
}
