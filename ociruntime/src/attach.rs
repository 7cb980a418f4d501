//! conmon's attach protocol, the client side: frames from the attach socket
//! (`SOCK_SEQPACKET`; byte 0 is the stream, 2 stdout and 3 stderr, then up
//! to 8192 bytes) to our stdout and stderr; our stdin to the socket as raw
//! bytes, `shutdown(SHUT_WR)` at its end; the detach keys matched on stdin
//! (a partial match is held back, never lost); resizes written to conmon's
//! `ctl` fifo (`1 <height> <width>`).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{MsgFlags, Shutdown, recv, send, shutdown};

use crate::error::{Error, Result};

/// conmon's stdio frame: one stream byte and up to this many bytes.
const STDIO_BUF_SIZE: usize = 8192;
const STDOUT: u8 = 2;
const STDERR: u8 = 3;

/// Detach keys, as podman and docker spell them (`ctrl-p,ctrl-q`): letters,
/// `ctrl-a`…`ctrl-z`, `ctrl-@`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`,
/// `ctrl-_`, comma-separated. The empty string disables detaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

/// podman's default.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

impl DetachKeys {
    /// Parses a key sequence; an unknown key is an error naming it.
    pub fn parse(spec: &str) -> Result<DetachKeys> {
        let mut out = Vec::new();
        if spec.is_empty() {
            return Ok(DetachKeys(out));
        }
        for key in spec.split(',') {
            let k = key.trim();
            let byte = match k.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let c = c.as_bytes()[0].to_ascii_lowercase();
                    match c {
                        b'a'..=b'z' => c - b'a' + 1,
                        b'@' => 0,
                        b'[' => 27,
                        b'\\' => 28,
                        b']' => 29,
                        b'^' => 30,
                        b'_' => 31,
                        _ => return Err(bad_keys(spec, k)),
                    }
                }
                None if k.len() == 1 && k.as_bytes()[0].is_ascii_graphic() => k.as_bytes()[0],
                _ => return Err(bad_keys(spec, k)),
            };
            out.push(byte);
        }
        Ok(DetachKeys(out))
    }

    /// The bytes that detach (empty: never).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

fn bad_keys(spec: &str, key: &str) -> Error {
    Error::InvalidDetachKeys {
        spec: spec.to_owned(),
        reason: format!(
            "unknown key {key:?}: use letters and ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_, separated by commas, or \"\" to disable"
        ),
    }
}

/// Matches the detach sequence in a byte stream, holding back a partial
/// match until it is known not to be one.
#[derive(Debug)]
struct Matcher<'k> {
    keys: &'k [u8],
    held: usize,
}

impl Matcher<'_> {
    /// Feeds `input`; appends what passes to `out`. True when the sequence
    /// completed (what followed it is dropped, as podman drops it).
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    return true;
                }
                continue;
            }
            // Not the sequence: what was held passes, and this byte may
            // begin it anew.
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }

    /// What is held back at the end of input.
    fn rest(&mut self) -> &[u8] {
        let n = std::mem::take(&mut self.held);
        &self.keys[..n]
    }
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The other side closed: the process's output is done.
    Closed,
    /// The detach keys were typed.
    Detached,
    /// A signal handler asked to stop.
    Stopped,
}

/// What a signal handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep relaying.
    Continue,
    /// End the relay.
    Stop,
}

/// One relay between the caller's stdio and an attach socket.
pub struct Relay<'a> {
    /// The connected attach socket.
    pub socket: &'a OwnedFd,
    /// Our stdin, when it is to be passed on.
    pub stdin: Option<BorrowedFd<'a>>,
    /// Where stdout frames go.
    pub stdout: &'a mut dyn Write,
    /// Where stderr frames go.
    pub stderr: &'a mut dyn Write,
    /// The detach sequence (empty: none).
    pub detach: &'a [u8],
    /// Signals to watch (SIGWINCH for resizes, SIGTERM…), with what to do.
    pub signals: Option<(&'a SignalFd, &'a mut dyn FnMut(i32) -> Flow)>,
}

impl std::fmt::Debug for Relay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("socket", &self.socket)
            .field("stdin", &self.stdin)
            .field("detach", &self.detach)
            .finish_non_exhaustive()
    }
}

fn io(what: &'static str, e: Errno) -> Error {
    Error::io(what, "the attach socket", std::io::Error::from(e))
}

impl Relay<'_> {
    /// Relays until the socket closes, the detach keys are typed, or a
    /// signal handler says stop.
    pub fn run(mut self) -> Result<Ended> {
        let mut matcher = Matcher {
            keys: self.detach,
            held: 0,
        };
        let mut stdin_open = self.stdin.is_some();
        let mut frame = vec![0u8; STDIO_BUF_SIZE + 1];
        let mut input = vec![0u8; STDIO_BUF_SIZE];
        let mut pass = Vec::with_capacity(STDIO_BUF_SIZE);
        loop {
            let mut fds = vec![PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
            let stdin_at = match (stdin_open, self.stdin) {
                (true, Some(fd)) => {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    Some(fds.len() - 1)
                }
                _ => None,
            };
            let signal_at = self.signals.as_ref().map(|(sfd, _)| {
                fds.push(PollFd::new(sfd.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(io("polling", e)),
            }
            let ready = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
            let (sock_ready, stdin_ready, signal_ready) = (
                ready(0),
                stdin_at.is_some_and(ready),
                signal_at.is_some_and(ready),
            );
            drop(fds);
            if signal_ready && let Some((sfd, handler)) = self.signals.as_mut() {
                while let Ok(Some(info)) = sfd.read_signal() {
                    let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
                    if handler(signo) == Flow::Stop {
                        return Ok(Ended::Stopped);
                    }
                }
            }
            if sock_ready {
                match recv(self.socket.as_raw_fd(), &mut frame, MsgFlags::empty()) {
                    Ok(0) | Err(Errno::ECONNRESET) => return Ok(Ended::Closed),
                    Ok(n) => {
                        let out: &mut dyn Write = match frame[0] {
                            STDOUT => &mut *self.stdout,
                            STDERR => &mut *self.stderr,
                            _ => continue,
                        };
                        // A closed stdout (a pipe's reader gone) ends our
                        // side; the process goes on.
                        if out
                            .write_all(&frame[1..n])
                            .and_then(|()| out.flush())
                            .is_err()
                        {
                            return Ok(Ended::Closed);
                        }
                    }
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(e) => return Err(io("reading", e)),
                }
            }
            if stdin_ready && let Some(fd) = self.stdin {
                let n = match nix::unistd::read(fd, &mut input) {
                    Ok(n) => n,
                    Err(Errno::EINTR | Errno::EAGAIN) => continue,
                    // An unreadable stdin is an ended one.
                    Err(_) => 0,
                };
                pass.clear();
                if n == 0 {
                    pass.extend_from_slice(matcher.rest());
                    send_all(self.socket, &pass)?;
                    // The process sees the end of its stdin.
                    let _ = shutdown(self.socket.as_raw_fd(), Shutdown::Write);
                    stdin_open = false;
                    continue;
                }
                let detached = matcher.feed(&input[..n], &mut pass);
                send_all(self.socket, &pass)?;
                if detached {
                    return Ok(Ended::Detached);
                }
            }
        }
    }
}

fn send_all(socket: &OwnedFd, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match send(socket.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            // The process is gone; its output side will tell.
            Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(()),
            Err(e) => return Err(io("writing", e)),
        }
    }
    Ok(())
}

/// Asks conmon (through the session's or container's `ctl` fifo) to size
/// the terminal `height` × `width`. A 0×0 size is not sent, nor one to a
/// conmon that has gone.
pub fn resize(ctl: &Path, height: u16, width: u16) -> Result<()> {
    if height == 0 || width == 0 {
        return Ok(());
    }
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: a fifo whose conmon has gone (the process exited) has
    // no reader, and a blocking open would wait for one forever.
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(ctl)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => return Ok(()),
        Err(e) => return Err(Error::io("opening", ctl, e)),
    };
    f.write_all(format!("1 {height} {width}\n").as_bytes())
        .map_err(|e| Error::io("writing", ctl, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_podmans() {
        assert_eq!(
            DetachKeys::parse(DEFAULT_DETACH_KEYS).unwrap().bytes(),
            [0x10, 0x11]
        );
        assert_eq!(DetachKeys::parse("ctrl-a,d").unwrap().bytes(), [1, b'd']);
        assert_eq!(DetachKeys::parse("ctrl-[").unwrap().bytes(), [27]);
        assert!(DetachKeys::parse("").unwrap().bytes().is_empty());
        for bad in ["ctrl-", "ctrl-1", "shift-a", "ab", "a,,b", "ctrl-p, "] {
            let e = DetachKeys::parse(bad).unwrap_err().to_string();
            assert!(e.contains("unknown key"), "{bad}: {e}");
        }
    }

    fn run(keys: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut m = Matcher { keys, held: 0 };
        let mut out = Vec::new();
        for c in chunks {
            if m.feed(c, &mut out) {
                return (out, true);
            }
        }
        out.extend_from_slice(m.rest());
        (out, false)
    }

    #[test]
    fn the_matcher_holds_back_a_prefix_and_loses_nothing() {
        let keys = [0x10, 0x11];
        assert_eq!(run(&keys, &[b"ab"]), (b"ab".to_vec(), false));
        assert_eq!(run(&keys, &[b"a\x10", b"\x11b"]), (b"a".to_vec(), true));
        assert_eq!(run(&keys, &[b"\x10x"]), (b"\x10x".to_vec(), false));
        assert_eq!(run(&keys, &[b"\x10\x10\x11"]), (b"\x10".to_vec(), true));
        assert_eq!(run(&keys, &[b"x\x10"]), (b"x\x10".to_vec(), false));
        assert_eq!(run(&[], &[b"\x10\x11"]), (b"\x10\x11".to_vec(), false));
        assert_eq!(run(b"q", &[b"aq"]), (b"a".to_vec(), true));
    }

    proptest::proptest! {
        /// Without the full sequence every byte passes, in order.
        #[test]
        fn without_the_sequence_every_byte_passes(data in proptest::collection::vec(0u8..4, 0..64), split in 0usize..64) {
            let keys = [1u8, 2, 3];
            let has = data.windows(3).any(|w| w == keys);
            let split = split.min(data.len());
            let (out, detached) = run(&keys, &[&data[..split], &data[split..]]);
            proptest::prop_assert_eq!(detached, has);
            if !has {
                proptest::prop_assert_eq!(out, data);
            }
        }
    }
}
