//! The file backend: JSON lines in `<tmp dir>/events/events.log`.
//!
//! Writing: under an in-process mutex and an exclusive `flock` on
//! `<log>.lock`, take the next sequence number (kept in the lock file), open
//! the log by path with `O_APPEND` and append the line with one `write(2)`.
//! When the write would make the log reach `max_size`, first rotate: copy the
//! newest half (from the first line boundary after the middle) plus a system
//! `log-rotation` event into a new file and rename it over the log.
//!
//! Reading: parse line by line (a damaged line is skipped with a warning),
//! filter, and hand on. Following: at the end of the file wait on inotify
//! for the directory; when the path names a new inode (a rotation), read the
//! old file to its end, then continue in the new one, skipping lines whose
//! sequence number was already seen.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tracing::{debug, warn};

use crate::filter::{Prefilter, matches_all_view};
use crate::line::{RawLine, encode, seq_of};
use crate::{Backend, Error, Event, EventStatus, Eventer, ReadOptions, Result};

/// How much is read at a time.
const CHUNK: usize = 1 << 20;
/// How far back from the end to look for the last line and its `Seq`.
const TAIL_WINDOW: u64 = 64 * 1024;
/// How often a follower checks `stop` and `until` while idle (ms).
const IDLE_POLL_MS: u16 = 100;

/// Events as JSON lines in a file, with rotation.
#[derive(Debug)]
pub struct FileEventer {
    path: PathBuf,
    lock_path: PathBuf,
    max_size: u64,
    /// The lock file; the mutex keeps threads of one process apart (a
    /// `flock` is per open file, so it alone would not).
    lock: Mutex<File>,
}

/// Releases the flock when dropped.
struct FlockGuard<'a>(&'a File);

impl Drop for FlockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl FileEventer {
    /// Opens (creating the directory, mode 0700, the log and `<log>.lock`,
    /// mode 0600, when missing) the log at `path`. `max_size` 0 disables
    /// rotation.
    pub fn open(path: impl Into<PathBuf>, max_size: u64) -> Result<Self> {
        let path = path.into();
        let dir = parent_dir(&path);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| Error::CreateDir {
                path: dir.clone(),
                source,
            })?;
        open_append(&path)?;
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| Error::Open {
                path: lock_path.clone(),
                source,
            })?;
        debug!(path = %path.display(), max_size, "opened file events log");
        Ok(FileEventer {
            path,
            lock_path,
            max_size,
            lock: Mutex::new(lock),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation threshold in bytes (0: never).
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    fn lock_err(&self, source: io::Error) -> Error {
        Error::Lock {
            path: self.lock_path.clone(),
            source,
        }
    }

    /// The last sequence number handed out: from the lock file, or (when the
    /// lock file is new) recovered from the end of the log.
    fn last_seq(&self, lock: &File) -> Result<u64> {
        let mut buf = [0u8; 8];
        match lock.read_exact_at(&mut buf, 0) {
            Ok(()) => Ok(u64::from_le_bytes(buf)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let recovered = match File::open(&self.path) {
                    Ok(f) => {
                        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                        tail_info(&f, size)
                            .map(|(_, s)| s.unwrap_or(0))
                            .unwrap_or(0)
                    }
                    Err(_) => 0,
                };
                debug!(recovered, "events sequence counter recovered from the log");
                Ok(recovered)
            }
            Err(e) => Err(self.lock_err(e)),
        }
    }

    fn store_seq(&self, lock: &File, seq: u64) -> Result<()> {
        lock.write_all_at(&seq.to_le_bytes(), 0)
            .map_err(|e| self.lock_err(e))
    }

    /// Replaces the log by its newest half plus a `log-rotation` event with
    /// sequence number `seq`. Call with the lock held.
    fn rotate(&self, seq: u64) -> Result<()> {
        let err = |source| Error::Rotate {
            path: self.path.clone(),
            source,
        };
        let mut old = File::open(&self.path).map_err(err)?;
        let size = old.metadata().map_err(err)?.len();
        let start = (size / 2).saturating_sub(1);
        old.seek(SeekFrom::Start(start)).map_err(err)?;
        let mut tail = Vec::with_capacity(usize::try_from(size - start).unwrap_or(0));
        old.read_to_end(&mut tail).map_err(err)?;
        let cut = tail
            .iter()
            .position(|b| *b == b'\n')
            .map_or(tail.len(), |i| i + 1);
        let dropped = start + cut as u64;
        let event = Event::system(EventStatus::LogRotation)
            .with_attribute("io.oxpod.rotate.dropped_bytes", dropped.to_string());
        let line = encode(&event, seq)?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(self.path.file_name().unwrap_or_default());
        tmp_name.push(".rotate");
        let tmp = parent_dir(&self.path).join(tmp_name);
        let result = (|| {
            let mut new = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut buf = Vec::with_capacity(tail.len() - cut + line.len() + 1);
            buf.extend_from_slice(&tail[cut..]);
            if buf.last().is_some_and(|b| *b != b'\n') {
                // an unfinished line stays on its own
                buf.push(b'\n');
            }
            buf.extend_from_slice(&line);
            new.write_all(&buf)?;
            new.sync_data()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        debug!(path = %self.path.display(), size, dropped, "rotated events log");
        Ok(())
    }
}

impl Eventer for FileEventer {
    fn write(&self, event: &Event) -> Result<()> {
        let lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        lock.lock().map_err(|e| self.lock_err(e))?;
        let _guard = FlockGuard(&lock);
        let seq = self.last_seq(&lock)?;
        let mut log = open_append(&self.path)?;
        let size = log
            .metadata()
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })?
            .len();
        let mut line = encode(event, seq + 1)?;
        let mut glue = unterminated(&log, size);
        if self.max_size > 0 && size > 0 && size + line.len() as u64 >= self.max_size {
            // reserve both numbers first: a crash leaves a gap, never a repeat
            self.store_seq(&lock, seq + 2)?;
            match self.rotate(seq + 1) {
                Ok(()) => {
                    log = open_append(&self.path)?;
                    glue = false;
                }
                Err(e) => warn!("{e}; appending to the old log"),
            }
            line = encode(event, seq + 2)?;
        } else {
            self.store_seq(&lock, seq + 1)?;
        }
        if glue {
            // someone left an unfinished line: end it so ours stays whole
            line.insert(0, b'\n');
        }
        // one write(2) for the whole line: a regular file takes it whole
        let n = log.write(&line).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })?;
        if n != line.len() {
            log.write_all(&line[n..]).map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn read(
        &self,
        options: ReadOptions,
        sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<()> {
        let dir = parent_dir(&self.path);
        let prefilter = Prefilter::new(&options.filters);
        // watch before opening, so nothing written in between is missed
        let watch = if options.follow {
            Some(Watch::new(&dir)?)
        } else {
            None
        };
        let mut tail = match Tail::open(&self.path)? {
            Some(mut t) => {
                if !options.starts_at_beginning() {
                    t.seek_to_end()?;
                }
                Some(t)
            }
            None => None,
        };
        loop {
            if options.stopped() {
                return Ok(());
            }
            if let Some(t) = tail.as_mut()
                && t.read_available(&prefilter, &options, sink)?.is_break()
            {
                return Ok(());
            }
            let Some(watch) = watch.as_ref() else {
                if let Some(t) = tail.as_mut() {
                    t.drop_partial();
                }
                return Ok(());
            };
            match tail.as_mut() {
                Some(t) if t.replaced() => {
                    // the old file is frozen now: finish it, then move on
                    if t.read_available(&prefilter, &options, sink)?.is_break() {
                        return Ok(());
                    }
                    t.drop_partial();
                    if !t.switch()? {
                        watch.wait()?;
                    }
                    continue;
                }
                Some(_) => {}
                None => {
                    tail = Tail::open(&self.path)?;
                    if tail.is_some() {
                        continue;
                    }
                }
            }
            if options.past_until() {
                return Ok(());
            }
            watch.wait()?;
        }
    }

    fn backend(&self) -> Backend {
        Backend::File
    }
}

/// The directory of `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// The `Seq` of a line as our writer ends it (`,"Seq":123}`), without
/// parsing the rest.
fn quick_seq(line: &[u8]) -> Option<u64> {
    let body = line.trim_ascii_end().strip_suffix(b"}")?;
    let colon = body.iter().rposition(|b| *b == b':')?;
    if !body[..colon].trim_ascii_end().ends_with(b"\"Seq\"") {
        return None;
    }
    std::str::from_utf8(&body[colon + 1..])
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether a non-empty log does not end with a newline.
fn unterminated(log: &File, size: u64) -> bool {
    let mut last = [0u8; 1];
    size > 0 && log.read_exact_at(&mut last, size - 1).is_ok() && last[0] != b'\n'
}

/// For the last `TAIL_WINDOW` bytes before `size`: the offset just after the
/// last newline and the `Seq` of the last complete line that has one.
fn tail_info(file: &File, size: u64) -> io::Result<(u64, Option<u64>)> {
    let start = size.saturating_sub(TAIL_WINDOW);
    let mut buf = vec![0u8; usize::try_from(size - start).unwrap_or(0)];
    file.read_exact_at(&mut buf, start)?;
    let Some(last_nl) = buf.iter().rposition(|b| *b == b'\n') else {
        return Ok((if start == 0 { 0 } else { size }, None));
    };
    let seq = buf[..last_nl].rsplit(|b| *b == b'\n').find_map(seq_of);
    Ok((start + last_nl as u64 + 1, seq))
}

/// inotify on the log's directory.
struct Watch {
    inotify: Inotify,
    dir: PathBuf,
}

impl Watch {
    fn new(dir: &Path) -> Result<Self> {
        let err = |source| Error::Watch {
            path: dir.to_path_buf(),
            source,
        };
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(err)?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_DELETE
                    | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .map_err(err)?;
        Ok(Watch {
            inotify,
            dir: dir.to_path_buf(),
        })
    }

    /// Sleeps until something in the directory changes or `IDLE_POLL_MS`
    /// passes, then empties the event queue.
    fn wait(&self) -> Result<()> {
        let err = |source| Error::Watch {
            path: self.dir.clone(),
            source,
        };
        let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, IDLE_POLL_MS) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(err(e)),
        }
        loop {
            match self.inotify.read_events() {
                Ok(ev) if !ev.is_empty() => continue,
                Ok(_) | Err(nix::Error::EAGAIN) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(err(e)),
            }
        }
    }
}

/// A reader positioned in one incarnation of the log.
struct Tail {
    path: PathBuf,
    file: File,
    ino: (u64, u64),
    /// Bytes read but not yet consumed (a partial last line).
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    offset: u64,
    /// The sequence number of the last line read.
    last_seq: Option<u64>,
    /// After a rotation: skip lines up to this sequence number.
    skip_through: Option<u64>,
}

impl Tail {
    fn open(path: &Path) -> Result<Option<Self>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let meta = file.metadata().map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Some(Tail {
            path: path.to_path_buf(),
            file,
            ino: (meta.dev(), meta.ino()),
            buf: Vec::with_capacity(CHUNK),
            offset: 0,
            last_seq: None,
            skip_through: None,
        }))
    }

    fn read_err(&self, source: io::Error) -> Error {
        Error::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// Starts after the last complete line, remembering its sequence number.
    fn seek_to_end(&mut self) -> Result<()> {
        let size = self.file.metadata().map_err(|e| self.read_err(e))?.len();
        let (pos, seq) = tail_info(&self.file, size).map_err(|e| self.read_err(e))?;
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| self.read_err(e))?;
        self.offset = pos;
        self.last_seq = seq;
        Ok(())
    }

    /// Whether the path now names another file (a rotation happened).
    fn replaced(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Ok(m) => (m.dev(), m.ino()) != self.ino,
            Err(_) => false,
        }
    }

    /// Opens the file the path names now, to skip what was already read.
    /// Returns false when there is no file at the moment.
    fn switch(&mut self) -> Result<bool> {
        let Some(mut next) = Tail::open(&self.path)? else {
            return Ok(false);
        };
        next.last_seq = self.last_seq;
        next.skip_through = self.last_seq;
        debug!(path = %self.path.display(), last_seq = ?self.last_seq, "events log rotated; following the new file");
        *self = next;
        Ok(true)
    }

    /// Warns about and forgets an unfinished last line.
    fn drop_partial(&mut self) {
        if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
            warn!(
                path = %self.path.display(),
                offset = self.offset,
                "skipping an unfinished event line at the end of the log"
            );
        }
        self.offset += self.buf.len() as u64;
        self.buf.clear();
    }

    /// Reads to the current end of the file, handing on every complete line
    /// that passes.
    fn read_available(
        &mut self,
        prefilter: &Prefilter,
        options: &ReadOptions,
        sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        loop {
            if options.stopped() {
                return Ok(ControlFlow::Break(()));
            }
            let old_len = self.buf.len();
            let want = CHUNK.max(old_len);
            self.buf.resize(old_len + want, 0);
            let n = loop {
                match self.file.read(&mut self.buf[old_len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(old_len);
                        return Err(self.read_err(e));
                    }
                }
            };
            self.buf.truncate(old_len + n);
            if n == 0 {
                return Ok(ControlFlow::Continue(()));
            }
            let buf = std::mem::take(&mut self.buf);
            let mut consumed = 0;
            let mut flow = ControlFlow::Continue(());
            while let Some(nl) = buf[consumed..].iter().position(|b| *b == b'\n') {
                let line = &buf[consumed..consumed + nl];
                let line_offset = self.offset + consumed as u64;
                consumed += nl + 1;
                if self
                    .handle_line(line, line_offset, prefilter, options, sink)
                    .is_break()
                {
                    flow = ControlFlow::Break(());
                    break;
                }
            }
            self.buf = buf;
            self.buf.drain(..consumed);
            self.offset += consumed as u64;
            if flow.is_break() {
                return Ok(flow);
            }
        }
    }

    fn handle_line(
        &mut self,
        line: &[u8],
        offset: u64,
        prefilter: &Prefilter,
        options: &ReadOptions,
        sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return ControlFlow::Continue(());
        }
        // lines that cannot pass the filters are not parsed, but their
        // sequence number still counts for resuming after a rotation
        let raw = if prefilter.may_match(line) {
            match RawLine::parse(line) {
                Ok(r) => Some(r),
                Err(e) => {
                    warn!(path = %self.path.display(), offset, "skipping a damaged event line: {e}");
                    return ControlFlow::Continue(());
                }
            }
        } else {
            None
        };
        let seq = match &raw {
            Some(r) => r.seq,
            None => quick_seq(line),
        };
        match (seq, self.skip_through) {
            (Some(seq), Some(skip)) if seq <= skip => return ControlFlow::Continue(()),
            (None, Some(_)) => return ControlFlow::Continue(()),
            (Some(seq), Some(skip)) => {
                if seq > skip + 1 {
                    warn!(
                        path = %self.path.display(),
                        "events {}..={} were rotated away before this reader saw them",
                        skip + 1,
                        seq - 1
                    );
                }
                self.skip_through = None;
            }
            _ => {}
        }
        if let Some(seq) = seq {
            self.last_seq = Some(seq);
        }
        let Some(raw) = raw else {
            return ControlFlow::Continue(());
        };
        if !matches_all_view(&options.filters, &raw) {
            return ControlFlow::Continue(());
        }
        let Some(time) = raw.time() else {
            warn!(path = %self.path.display(), offset, "skipping an event line with a bad Time");
            return ControlFlow::Continue(());
        };
        if !options.in_bounds(time) {
            return ControlFlow::Continue(());
        }
        sink(raw.into_event(time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_seq_reads_our_lines_only() {
        let line = encode(&Event::system(EventStatus::Refresh), 987_654).unwrap_or_default();
        assert_eq!(quick_seq(&line), Some(987_654));
        assert_eq!(quick_seq(br#"{"Seq" : 5 }"#), Some(5));
        assert_eq!(quick_seq(br#"{"Name":"x:1}"#), None);
        assert_eq!(quick_seq(br#"{"NotSeq":1}"#), None);
        assert_eq!(quick_seq(b"garbage"), None);
    }

    #[test]
    fn tail_info_finds_the_last_line_and_seq() {
        let dir = tempfile::tempdir();
        let Ok(dir) = dir else { panic!("{dir:?}") };
        let path = dir.path().join("log");
        let mut text = Vec::new();
        for seq in 1..=3 {
            text.extend(encode(&Event::system(EventStatus::Sync), seq).unwrap_or_default());
        }
        let complete = text.len() as u64;
        text.extend_from_slice(b"{\"partial");
        let _ = std::fs::write(&path, &text);
        let f = File::open(&path);
        let Ok(f) = f else { panic!("{f:?}") };
        let r = tail_info(&f, text.len() as u64).map_err(|e| e.to_string());
        assert_eq!(r, Ok((complete, Some(3))));
        assert_eq!(tail_info(&f, 0).map_err(|e| e.to_string()), Ok((0, None)));
    }
}
