//! oxpod-events: the events log of oxpod: the event model (podman's JSON
//! field names), the file, journald and none backends, filters, time bounds,
//! following and rotation.
//!
//! It records and reads events; it never decides what happened.
//!
//! The file backend writes one JSON object per line: the [`Event`] fields
//! (podman's names) plus `"Seq"`, a number that grows by one per write
//! across all writers (kept in `<log>.lock`). Each line is appended with one
//! `write(2)` under an exclusive lock, so concurrent writers never
//! interleave. When a write would make the log reach `max_size`, the log is
//! first replaced (write a new file, rename it over) by its newest half plus
//! a system `log-rotation` event. A follower finishes the old file it holds
//! open, then continues in the new one after the last `Seq` it saw: nothing
//! is repeated, and nothing is lost unless the follower falls more than
//! half a log behind (two rotations while it sleeps), which it reports with
//! a warning naming the missing sequence numbers.
//!
//! ```no_run
//! use oxpod_events::{new_eventer, Backend, Event, EventStatus, EventerOptions, ReadOptions};
//! use std::ops::ControlFlow;
//!
//! let eventer = new_eventer(EventerOptions::file("/run/oxpod/events/events.log"))?;
//! eventer.write(&Event::container(EventStatus::Start, "0123abc", "web").with_image("alpine"))?;
//! let options = ReadOptions { filters: vec!["event=start".parse()?], ..Default::default() };
//! eventer.read(options, &mut |event| {
//!     println!("{}", event.to_human(false));
//!     ControlFlow::Continue(())
//! })?;
//! # Ok::<(), oxpod_events::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod event;
mod file;
mod filter;
mod journald;
mod line;
mod time;

use std::fmt;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;

pub use error::{Error, Result};
pub use event::{Event, EventStatus, EventType, go_time_string};
pub use file::FileEventer;
pub use filter::{Filter, matches_all};
pub use journald::{JOURNAL_SOCKET, JournaldEventer};
pub use time::{parse_duration, parse_time};

/// The default `events_logfile_max_size`: 1 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024;

/// Where events go: one backend of the `events_logger` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// JSON lines in a file (the default).
    #[default]
    File,
    /// The systemd journal, through its native protocol.
    Journald,
    /// Nothing is recorded; reading is an error.
    None,
}

impl Backend {
    /// The name as written in the configuration (`file`, `journald`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Journald => "journald",
            Backend::None => "none",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses `file`, `journald` or `none`, case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "file" => Ok(Backend::File),
            "journald" => Ok(Backend::Journald),
            "none" => Ok(Backend::None),
            _ => Err(Error::UnknownBackend {
                value: s.to_uppercase(),
            }),
        }
    }
}

/// How to build an eventer (see [`new_eventer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventerOptions {
    /// Which backend.
    pub backend: Backend,
    /// The log file of the file backend (`<tmp dir>/events/events.log`);
    /// ignored by the other backends.
    pub log_path: PathBuf,
    /// Rotate the file log when a write would make it reach this many bytes;
    /// `0` disables rotation.
    pub max_size: u64,
}

impl EventerOptions {
    /// File backend at `log_path` with the default maximum size.
    pub fn file(log_path: impl Into<PathBuf>) -> Self {
        EventerOptions {
            backend: Backend::File,
            log_path: log_path.into(),
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// What to read and how.
///
/// `since`/`until` are exclusive bounds on [`Event::time`]. Without
/// `follow`, the whole log is read once. With `follow`, reading starts at the
/// beginning when `since` or `until` is set and at the end otherwise (only new
/// events), and goes on until the sink breaks, `stop` becomes true, or the
/// clock passes `until`.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Filters: the same key repeated is OR, different keys AND.
    pub filters: Vec<Filter>,
    /// Only events strictly after this time.
    pub since: Option<Timestamp>,
    /// Only events strictly before this time.
    pub until: Option<Timestamp>,
    /// Keep waiting for new events.
    pub follow: bool,
    /// Set to true (from any thread) to end a follow; checked at least every
    /// 100 ms.
    pub stop: Option<Arc<AtomicBool>>,
}

impl ReadOptions {
    /// Parses `key=value` filter strings and `since`/`until` strings
    /// (see [`parse_time`]) relative to `now`.
    pub fn parse(
        filters: &[impl AsRef<str>],
        since: Option<&str>,
        until: Option<&str>,
        now: Timestamp,
    ) -> Result<Self> {
        let filters = filters
            .iter()
            .map(|f| Filter::parse(f.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let since = since.map(|s| parse_time(s, now)).transpose()?;
        let until = until.map(|s| parse_time(s, now)).transpose()?;
        Ok(ReadOptions {
            filters,
            since,
            until,
            follow: false,
            stop: None,
        })
    }

    /// Whether the caller asked to stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Whether a follow should end because the clock passed `until`.
    pub(crate) fn past_until(&self) -> bool {
        self.until.is_some_and(|u| Timestamp::now() >= u)
    }

    /// Whether a follow starts at the beginning of the log.
    pub(crate) fn starts_at_beginning(&self) -> bool {
        !self.follow || self.since.is_some() || self.until.is_some()
    }

    /// Whether an event time is inside the bounds.
    pub(crate) fn in_bounds(&self, time: Timestamp) -> bool {
        self.since.is_none_or(|s| time > s) && self.until.is_none_or(|u| time < u)
    }
}

/// A place to record events and read them back. Object-safe: the runtime
/// holds a `Box<dyn Eventer>`.
pub trait Eventer: Send + Sync + fmt::Debug {
    /// Records one event.
    fn write(&self, event: &Event) -> Result<()>;

    /// Reads events that pass `options`, oldest first, handing each to
    /// `sink`; returns when the log is read (or, when following, when
    /// `sink` breaks, `options.stop` is set or `until` has passed).
    fn read(
        &self,
        options: ReadOptions,
        sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<()>;

    /// Which backend this is.
    fn backend(&self) -> Backend;
}

/// Builds the eventer for `options`. The file backend creates its directory
/// and log file; the journald backend fails when journald is not running.
pub fn new_eventer(options: EventerOptions) -> Result<Box<dyn Eventer>> {
    Ok(match options.backend {
        Backend::File => Box::new(FileEventer::open(options.log_path, options.max_size)?),
        Backend::Journald => Box::new(JournaldEventer::open()?),
        Backend::None => Box::new(NoneEventer),
    })
}

/// The `none` backend: writes nothing, refuses to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneEventer;

impl Eventer for NoneEventer {
    fn write(&self, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn read(
        &self,
        _options: ReadOptions,
        _sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<()> {
        Err(Error::Disabled)
    }

    fn backend(&self) -> Backend {
        Backend::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_parses_case_insensitively() {
        assert_eq!("FILE".parse::<Backend>().ok(), Some(Backend::File));
        assert_eq!("journald".parse::<Backend>().ok(), Some(Backend::Journald));
        assert_eq!("None".parse::<Backend>().ok(), Some(Backend::None));
        let err = "syslog".parse::<Backend>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown event logger type: SYSLOG: use file, journald or none")
        );
    }

    #[test]
    fn none_backend_writes_nothing_and_refuses_reads() {
        let e = new_eventer(EventerOptions {
            backend: Backend::None,
            log_path: PathBuf::new(),
            max_size: 0,
        })
        .map_err(|e| e.to_string());
        let Ok(e) = e else {
            panic!("none eventer: {e:?}");
        };
        assert!(e.write(&Event::system(EventStatus::Refresh)).is_ok());
        let r = e.read(ReadOptions::default(), &mut |_| ControlFlow::Continue(()));
        assert!(matches!(r, Err(Error::Disabled)));
        assert_eq!(e.backend(), Backend::None);
    }

    #[test]
    fn read_options_parse_rejects_bad_input() {
        let now = Timestamp::now();
        assert!(
            ReadOptions::parse(&["container=a", "event=start"], Some("10m"), None, now).is_ok()
        );
        assert!(matches!(
            ReadOptions::parse(&["colour=red"], None, None, now),
            Err(Error::UnknownFilterKey { .. })
        ));
        assert!(matches!(
            ReadOptions::parse(&["event=start"], Some("yesterday"), None, now),
            Err(Error::InvalidTime { .. })
        ));
    }
}
