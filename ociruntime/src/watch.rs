//! Waiting without busy loops: an inotify watch on a directory, and a
//! bounded wait for a file descriptor to become readable.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};

/// Waits until `fd` is readable (or hung up) or `timeout` passes. Returns
/// whether it became ready.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> std::io::Result<bool> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let t = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, t) {
            Ok(n) => return Ok(n > 0),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(std::io::Error::from(e)),
        }
    }
}

/// An inotify watch on one directory: wakes on files created, written,
/// closed, renamed into it or removed.
#[derive(Debug)]
pub(crate) struct DirWatch {
    inotify: Inotify,
}

impl DirWatch {
    pub(crate) fn new(dir: &Path) -> Result<Self> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| Error::io("watching", dir, std::io::Error::from(e)))?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CLOSE_WRITE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_DELETE,
            )
            .map_err(|e| Error::io("watching", dir, std::io::Error::from(e)))?;
        Ok(DirWatch { inotify })
    }

    /// Waits up to `timeout` for a change; drains the queued events.
    /// Returns whether anything happened.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        match wait_readable(self.inotify.as_fd(), timeout) {
            Ok(true) => {
                // Drain; EAGAIN just means the queue is empty.
                while let Ok(events) = self.inotify.read_events() {
                    if events.is_empty() {
                        break;
                    }
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!("waiting on inotify: {e}; falling back to a short sleep");
                std::thread::sleep(timeout.min(Duration::from_millis(100)));
                true
            }
        }
    }
}
