//! Reading conmon's k8s-file container logs: one record per line,
//! `<RFC 3339 time> <stdout|stderr> <F|P> <text>`, where `P` marks a
//! partial line continued by the next record of the same stream.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::watch::DirWatch;

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl LogStream {
    fn index(self) -> usize {
        match self {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
        }
    }
}

/// One complete line of container output (partials already joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When conmon received (the first part of) the line.
    pub time: Timestamp,
    /// stdout or stderr.
    pub stream: LogStream,
    /// The text, without the newline.
    pub text: String,
    /// Whether the line ended with a newline. False only for the last
    /// output of a stream that closed mid-line (`printf tail`), which a
    /// printer must not end with a newline of its own.
    pub newline: bool,
}

/// What to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep reading new lines while the container runs.
    pub follow: bool,
    /// Only the last N lines of what exists when reading starts.
    pub tail: Option<usize>,
    /// Only lines at or after this time.
    pub since: Option<Timestamp>,
    /// Only lines at or before this time.
    pub until: Option<Timestamp>,
}

/// One parsed record of a k8s-file log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// Time stamp.
    pub time: Timestamp,
    /// Stream.
    pub stream: LogStream,
    /// `true` for `F` (line complete), `false` for `P` (partial).
    pub full: bool,
    /// The text.
    pub text: &'a str,
}

/// Parses one k8s-file record; `None` for a damaged line.
pub fn parse_log_record(line: &str) -> Option<LogRecord<'_>> {
    let mut parts = line.splitn(4, ' ');
    let time: Timestamp = parts.next()?.parse().ok()?;
    let stream = match parts.next()? {
        "stdout" => LogStream::Stdout,
        "stderr" => LogStream::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        "F" => true,
        "P" => false,
        _ => return None,
    };
    let text = parts.next().unwrap_or("");
    Some(LogRecord {
        time,
        stream,
        full,
        text,
    })
}

/// Incremental reader: remembers its offset, an unfinished trailing
/// record, and partial lines per stream.
#[derive(Debug)]
struct Reader {
    path: PathBuf,
    offset: u64,
    carry: Vec<u8>,
    pending: [Option<(Timestamp, String)>; 2],
}

impl Reader {
    fn new(path: &Path) -> Self {
        Reader {
            path: path.to_path_buf(),
            offset: 0,
            carry: Vec::new(),
            pending: [None, None],
        }
    }

    /// Reads what was appended since the last call; complete lines go to
    /// `out`.
    fn read_new(&mut self, out: &mut Vec<LogLine>) -> Result<()> {
        let mut file = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("opening log", &self.path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot stat", &self.path, e))?
            .len();
        if len < self.offset {
            tracing::debug!(
                "log {} was truncated; reading from the start",
                self.path.display()
            );
            self.offset = 0;
            self.carry.clear();
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| Error::io("seeking in log", &self.path, e))?;
        let mut buf = Vec::new();
        let n = file
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("reading log", &self.path, e))?;
        self.offset += n as u64;
        self.carry.extend_from_slice(&buf);
        let Some(last_nl) = self.carry.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let rest = self.carry.split_off(last_nl + 1);
        let complete = std::mem::replace(&mut self.carry, rest);
        for raw in complete.split(|b| *b == b'\n') {
            if raw.is_empty() {
                continue;
            }
            let line = String::from_utf8_lossy(raw);
            let Some(rec) = parse_log_record(&line) else {
                tracing::warn!("skipping damaged line in {}: {line:?}", self.path.display());
                continue;
            };
            let slot = &mut self.pending[rec.stream.index()];
            let (time, mut text) = slot.take().unwrap_or((rec.time, String::new()));
            text.push_str(rec.text);
            if rec.full {
                out.push(LogLine {
                    time,
                    stream: rec.stream,
                    text,
                    newline: true,
                });
            } else {
                *slot = Some((time, text));
            }
        }
        Ok(())
    }

    /// Emits partial lines still waiting for their end (the stream closed
    /// without a newline).
    fn flush(&mut self, out: &mut Vec<LogLine>) {
        for (i, stream) in [(0, LogStream::Stdout), (1, LogStream::Stderr)] {
            if let Some((time, text)) = self.pending[i].take() {
                out.push(LogLine {
                    time,
                    stream,
                    text,
                    newline: false,
                });
            }
        }
    }
}

fn wanted(line: &LogLine, options: &LogOptions) -> bool {
    options.since.is_none_or(|s| line.time >= s) && options.until.is_none_or(|u| line.time <= u)
}

/// Reads the k8s-file log at `path` and hands each line to `sink` (which
/// returns `false` to stop). A log that does not exist yet reads as empty.
/// With `options.follow`, keeps waiting (inotify, no busy loop) for new
/// lines while `still_running()` returns true, then reads what is left
/// and returns.
pub fn read_log(
    path: &Path,
    options: &LogOptions,
    mut still_running: impl FnMut() -> bool,
    mut sink: impl FnMut(LogLine) -> bool,
) -> Result<()> {
    let mut reader = Reader::new(path);
    let mut lines = Vec::new();
    reader.read_new(&mut lines)?;
    if !options.follow {
        reader.flush(&mut lines);
    }
    lines.retain(|l| wanted(l, options));
    if let Some(n) = options.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    for line in lines {
        if !sink(line) {
            return Ok(());
        }
    }
    if !options.follow {
        return Ok(());
    }

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let watch = DirWatch::new(dir)?;
    loop {
        let running = still_running();
        let mut lines = Vec::new();
        reader.read_new(&mut lines)?;
        if !running {
            reader.flush(&mut lines);
        }
        for line in lines.into_iter().filter(|l| wanted(l, options)) {
            if !sink(line) {
                return Ok(());
            }
        }
        if !running {
            return Ok(());
        }
        watch.wait(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const T1: &str = "2026-11-28T20:25:46.123456789+00:00";
    const T2: &str = "2026-11-28T20:25:47.000000001+00:00";
    const T3: &str = "2026-11-28T20:25:48+01:00";

    fn collect(path: &Path, options: &LogOptions) -> Vec<(LogStream, String)> {
        let mut got = Vec::new();
        read_log(
            path,
            options,
            || false,
            |l| {
                got.push((l.stream, l.text));
                true
            },
        )
        .unwrap();
        got
    }

    #[test]
    fn parses_records() {
        let l = format!("{T1} stdout F hello world");
        let r = parse_log_record(&l).unwrap();
        assert_eq!(r.stream, LogStream::Stdout);
        assert!(r.full);
        assert_eq!(r.text, "hello world");
        assert_eq!(r.time.subsec_nanosecond(), 123_456_789);
        let l = format!("{T1} stderr P ");
        let r = parse_log_record(&l).unwrap();
        assert!(!r.full);
        assert_eq!(r.text, "");
        let l = format!("{T1} stdout F");
        let r = parse_log_record(&l).unwrap();
        assert_eq!(r.text, "");
        assert!(parse_log_record("garbage").is_none());
        assert!(parse_log_record(&format!("{T1} stdin F x")).is_none());
        assert!(parse_log_record(&format!("{T1} stdout X x")).is_none());
    }

    #[test]
    fn joins_partials_and_skips_damage() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        fs::write(
            &p,
            format!(
                "{T1} stdout P hel\n{T1} stderr F err line\nnot a record\n{T2} stdout F lo\n{T3} stdout P tail-no-newline\n"
            ),
        )
        .unwrap();
        let got = collect(&p, &LogOptions::default());
        assert_eq!(
            got,
            // A joined line is emitted when its last part arrives.
            vec![
                (LogStream::Stderr, "err line".to_owned()),
                (LogStream::Stdout, "hello".to_owned()),
                (LogStream::Stdout, "tail-no-newline".to_owned()),
            ]
        );
    }

    #[test]
    fn tail_since_until_and_missing_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        assert!(collect(&p, &LogOptions::default()).is_empty());
        fs::write(
            &p,
            format!("{T1} stdout F a\n{T2} stdout F b\n{T3} stdout F c\n"),
        )
        .unwrap();
        let texts = |o: &LogOptions| collect(&p, o).into_iter().map(|x| x.1).collect::<Vec<_>>();
        assert_eq!(
            texts(&LogOptions {
                tail: Some(2),
                ..Default::default()
            }),
            ["b", "c"]
        );
        assert_eq!(
            texts(&LogOptions {
                since: Some(T2.parse().unwrap()),
                ..Default::default()
            }),
            // T3 is 19:25:48Z, before T2.
            ["b"]
        );
        assert_eq!(
            texts(&LogOptions {
                until: Some(T1.parse().unwrap()),
                ..Default::default()
            }),
            ["a", "c"]
        );
    }

    #[test]
    fn follow_sees_appended_lines_until_stopped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        fs::write(&p, format!("{T1} stdout F first\n")).unwrap();
        let writer_path = p.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done2 = done.clone();
        let writer = std::thread::spawn(move || {
            for (i, chunk) in [
                format!("{T2} stdout P sec"),
                "ond-half".to_owned(),
                format!("\n{T2} stdout F ond\n"),
            ]
            .iter()
            .enumerate()
            {
                std::thread::sleep(Duration::from_millis(50 + i as u64 * 20));
                let mut f = fs::OpenOptions::new()
                    .append(true)
                    .open(&writer_path)
                    .unwrap();
                f.write_all(chunk.as_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
            done2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut got = Vec::new();
        read_log(
            &p,
            &LogOptions {
                follow: true,
                ..Default::default()
            },
            || !done.load(std::sync::atomic::Ordering::SeqCst),
            |l| {
                got.push(l.text);
                true
            },
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(got, ["first", "second-halfond"]);
    }

    #[test]
    fn sink_can_stop_early() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        fs::write(&p, format!("{T1} stdout F a\n{T2} stdout F b\n")).unwrap();
        let mut n = 0;
        read_log(
            &p,
            &LogOptions::default(),
            || false,
            |_| {
                n += 1;
                false
            },
        )
        .unwrap();
        assert_eq!(n, 1);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// A line of output: stream, text (no newline), and where conmon split
    /// it into partial records.
    fn line() -> impl Strategy<Value = (bool, String, Vec<usize>)> {
        (
            any::<bool>(),
            "[a-zA-Z0-9 \\t!-~]{0,40}",
            proptest::collection::vec(0usize..40, 0..4),
        )
    }

    proptest! {
        #[test]
        fn partial_records_join_back_to_lines(lines in proptest::collection::vec(line(), 0..20)) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("ctr.log");
            let mut file = String::new();
            let mut expect_out = Vec::new();
            let mut expect_err = Vec::new();
            for (i, (is_err, text, cuts)) in lines.iter().enumerate() {
                let stream = if *is_err { "stderr" } else { "stdout" };
                let time = format!("2026-11-28T20:00:{:02}.000000001Z", i % 60);
                let mut cuts: Vec<usize> = cuts
                    .iter()
                    .map(|c| c % (text.len() + 1))
                    .collect();
                cuts.sort_unstable();
                let mut start = 0;
                for c in cuts {
                    file.push_str(&format!("{time} {stream} P {}\n", &text[start..c]));
                    start = c;
                }
                file.push_str(&format!("{time} {stream} F {}\n", &text[start..]));
                if *is_err { expect_err.push(text.clone()) } else { expect_out.push(text.clone()) }
            }
            fs::write(&p, file).unwrap();
            let mut got_out = Vec::new();
            let mut got_err = Vec::new();
            read_log(&p, &LogOptions::default(), || false, |l| {
                match l.stream {
                    LogStream::Stdout => got_out.push(l.text),
                    LogStream::Stderr => got_err.push(l.text),
                }
                true
            }).unwrap();
            prop_assert_eq!(got_out, expect_out);
            prop_assert_eq!(got_err, expect_err);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = parse_log_record(&s);
            let _ = crate::clean_runtime_message(&s);
        }
    }
}
