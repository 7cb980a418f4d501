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

/// Frames read from the socket between two polls (and two flushes).
const DRAIN_FRAMES: usize = 32;

/// The largest stdin message conmon takes whole: it reads the socket into a
/// buffer of `CONN_SOCK_BUF_SIZE` (32768 since conmon 2.0.2), less one.
const INPUT_MESSAGE: usize = 32767;
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
        // Non-blocking, and stdin read only once what came before is sent:
        // conmon writes our frames without blocking and cuts off a client
        // whose socket is full (about 208 KiB), so we must never sit in a
        // send while its output waits for us.
        set_nonblocking(self.socket)?;
        let mut stdin_open = self.stdin.is_some();
        let mut frame = vec![0u8; STDIO_BUF_SIZE + 1];
        let mut input = vec![0u8; INPUT_MESSAGE];
        // Bytes for the socket not sent yet, and whether stdin's end
        // follows them.
        let mut pending: Vec<u8> = Vec::with_capacity(2 * INPUT_MESSAGE);
        let mut sent = 0usize;
        let mut end_after = false;
        loop {
            let waiting = sent < pending.len();
            let mut sock_events = PollFlags::POLLIN;
            if waiting {
                sock_events |= PollFlags::POLLOUT;
            }
            let mut fds = vec![PollFd::new(self.socket.as_fd(), sock_events)];
            let stdin_at = match (stdin_open && !waiting && !end_after, self.stdin) {
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
            let revents = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
            let sock = revents(0);
            let sock_readable =
                sock.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
            let sock_writable = waiting && sock.intersects(PollFlags::POLLOUT | PollFlags::POLLERR);
            let stdin_ready = stdin_at.is_some_and(|i| !revents(i).is_empty());
            let signal_ready = signal_at.is_some_and(|i| !revents(i).is_empty());
            drop(fds);
            if signal_ready && let Some((sfd, handler)) = self.signals.as_mut() {
                while let Ok(Some(info)) = sfd.read_signal() {
                    let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
                    if handler(signo) == Flow::Stop {
                        return Ok(Ended::Stopped);
                    }
                }
            }
            if sock_readable {
                // Every frame already queued (up to a bound, so stdin is not
                // starved), then one flush: a fast producer costs a write
                // per batch, not one per 8 KiB frame.
                for _ in 0..DRAIN_FRAMES {
                    match recv(self.socket.as_raw_fd(), &mut frame, MsgFlags::empty()) {
                        Ok(0) | Err(Errno::ECONNRESET) => {
                            let _ = self.stdout.flush();
                            let _ = self.stderr.flush();
                            return Ok(Ended::Closed);
                        }
                        Ok(n) => {
                            let out: &mut dyn Write = match frame[0] {
                                STDOUT => &mut *self.stdout,
                                STDERR => &mut *self.stderr,
                                _ => continue,
                            };
                            // A closed stdout (a pipe's reader gone) ends
                            // our side; the process goes on.
                            if out.write_all(&frame[1..n]).is_err() {
                                return Ok(Ended::Closed);
                            }
                        }
                        Err(Errno::EINTR) => {}
                        Err(Errno::EAGAIN) => break,
                        Err(e) => return Err(io("reading", e)),
                    }
                }
                if self.stdout.flush().is_err() || self.stderr.flush().is_err() {
                    return Ok(Ended::Closed);
                }
            }
            if sock_writable {
                sent = self.send_pending(&pending, sent, &mut stdin_open)?;
            }
            if sent == pending.len() {
                pending.clear();
                sent = 0;
                if end_after {
                    // The process sees the end of its stdin.
                    let _ = shutdown(self.socket.as_raw_fd(), Shutdown::Write);
                    end_after = false;
                    stdin_open = false;
                }
            }
            if stdin_ready && let Some(fd) = self.stdin {
                let n = match nix::unistd::read(fd, &mut input) {
                    Ok(n) => n,
                    Err(Errno::EINTR | Errno::EAGAIN) => continue,
                    // An unreadable stdin is an ended one.
                    Err(_) => 0,
                };
                if n == 0 {
                    pending.extend_from_slice(matcher.rest());
                    end_after = true;
                    if pending.is_empty() {
                        let _ = shutdown(self.socket.as_raw_fd(), Shutdown::Write);
                        end_after = false;
                        stdin_open = false;
                    }
                    continue;
                }
                let detached = matcher.feed(&input[..n], &mut pending);
                if !detached {
                    // Most often the socket has room: sent now, no poll.
                    sent = self.send_pending(&pending, sent, &mut stdin_open)?;
                    if sent == pending.len() {
                        pending.clear();
                        sent = 0;
                    }
                }
                if detached {
                    // What preceded the keys still goes, as best we can.
                    let _ = send(
                        self.socket.as_raw_fd(),
                        &pending[sent..],
                        MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
                    );
                    return Ok(Ended::Detached);
                }
            }
        }
    }
}

impl Relay<'_> {
    /// Sends what it can of `pending[sent..]`, one message per
    /// [`INPUT_MESSAGE`] bytes at most (conmon reads a message into a
    /// buffer of its own size), without blocking. Returns the new `sent`.
    fn send_pending(
        &self,
        pending: &[u8],
        mut sent: usize,
        stdin_open: &mut bool,
    ) -> Result<usize> {
        while sent < pending.len() {
            let chunk = &pending[sent..pending.len().min(sent + INPUT_MESSAGE)];
            match send(self.socket.as_raw_fd(), chunk, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => sent += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                // The process is gone; its output side will tell.
                Err(Errno::EPIPE | Errno::ECONNRESET) => {
                    *stdin_open = false;
                    return Ok(pending.len());
                }
                Err(e) => return Err(io("writing", e)),
            }
        }
        Ok(sent)
    }
}

/// Sets `O_NONBLOCK` on our end of the socket (ours alone: it is not
/// shared with any other process).
fn set_nonblocking(socket: &OwnedFd) -> Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(socket, FcntlArg::F_GETFL).map_err(|e| io("configuring", e))?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(socket, FcntlArg::F_SETFL(flags)).map_err(|e| io("configuring", e))?;
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
