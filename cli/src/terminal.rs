//! The caller's terminal while attached: raw mode (restored on every way
//! out, a panic's unwinding included, by the guard's drop) and its size.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

/// Puts a terminal in raw mode until dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl std::fmt::Debug for RawMode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMode").field("fd", &self.fd).finish()
    }
}

impl<'a> RawMode<'a> {
    /// Raw mode on `fd` when it is a terminal; `None` otherwise.
    pub fn enter(fd: BorrowedFd<'a>) -> Option<RawMode<'a>> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// The size of the terminal on `fd` (rows, columns), if it is one.
pub fn size(fd: impl AsFd) -> Option<(u16, u16)> {
    let w = rustix::termios::tcgetwinsize(fd).ok()?;
    (w.ws_row > 0 && w.ws_col > 0).then_some((w.ws_row, w.ws_col))
}
