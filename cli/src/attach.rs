//! The caller's side of an attach (`run -i/-t`, `attach`, `start -a`,
//! `exec`): the socket relayed to our stdio, our terminal in raw mode while
//! a terminal is attached (restored on every way out), its size sent at
//! once and on every SIGWINCH, and the detach keys matched on our stdin.

use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::Result;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use oxpod_runtime::{DetachKeys, Ended, Flow, Relay, resize};

use crate::terminal::{self, RawMode};

/// Exit code when a signal ended our side (128 + SIGTERM).
pub const EXIT_SIGNALLED: u8 = 143;

/// What to relay.
#[derive(Debug)]
pub struct Attach<'a> {
    /// The connected attach socket.
    pub socket: &'a OwnedFd,
    /// conmon's `ctl` fifo, for resizes.
    pub ctl: &'a Path,
    /// Pass our stdin on.
    pub stdin: bool,
    /// The process has a terminal.
    pub tty: bool,
    /// The detach sequence (matched only on a passed-on stdin).
    pub keys: &'a DetachKeys,
}

/// The signals to take through a signalfd, blocked in this thread before
/// anything is attached (so no resize is missed): SIGWINCH, and in raw
/// mode SIGTERM and SIGHUP, which end the relay with the terminal restored
/// instead of killing us in raw mode.
pub fn signals(raw: bool) -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    if raw {
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGHUP);
    }
    mask.thread_block()?;
    Ok(SignalFd::with_flags(
        &mask,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

/// Whether an attach with these wants puts our terminal in raw mode.
pub fn wants_raw(stdin: bool, tty: bool) -> bool {
    stdin && tty && std::io::stdin().is_terminal()
}

/// Our terminal's size (stdout's, else stdin's).
pub fn size() -> Option<(u16, u16)> {
    terminal::size(std::io::stdout().as_fd()).or_else(|| terminal::size(std::io::stdin().as_fd()))
}

/// Relays until the process's output ends, the detach keys are typed, or
/// a signal ends our side.
pub fn relay(a: &Attach<'_>, signals: &SignalFd) -> Result<Ended> {
    let stdin = std::io::stdin();
    let raw = if wants_raw(a.stdin, a.tty) {
        RawMode::enter(stdin.as_fd())
    } else {
        None
    };
    let send_size = || {
        if let Some((rows, cols)) = size()
            && let Err(e) = resize(a.ctl, rows, cols)
        {
            tracing::debug!(error = %e, "resize");
        }
    };
    if a.tty {
        send_size();
    }
    let mut on_signal = |signo: i32| {
        if signo == Signal::SIGWINCH as i32 {
            if a.tty {
                send_size();
            }
            Flow::Continue
        } else {
            Flow::Stop
        }
    };
    // Buffered: the relay flushes once per batch of frames.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
    let ended = Relay {
        socket: a.socket,
        stdin: a.stdin.then(|| stdin.as_fd()),
        stdout: &mut out,
        stderr: &mut err,
        // As podman and docker: the keys detach only with a terminal; piped
        // input is data, whatever its bytes.
        detach: if a.stdin && a.tty {
            a.keys.bytes()
        } else {
            &[]
        },
        signals: Some((signals, &mut on_signal)),
    }
    .run();
    drop(raw);
    Ok(ended?)
}
