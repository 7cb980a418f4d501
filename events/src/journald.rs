//! The journald backend: writes entries with journald's native protocol
//! (datagrams of `FIELD=value` lines on `/run/systemd/journal/socket`) and
//! reads them back with `journalctl -o json`, matched by field.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use nix::poll::{PollFd, PollFlags, poll};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, warn};

use crate::event::{parse_rfc3339, rfc3339_nano_fixed};
use crate::filter::matches_all;
use crate::{Backend, Error, Event, EventType, Eventer, Filter, ReadOptions, Result};

/// journald's native-protocol socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// `SYSLOG_IDENTIFIER` of every oxpod entry.
const IDENTIFIER: &str = "oxpod";

/// Events in the systemd journal.
#[derive(Debug)]
pub struct JournaldEventer {
    socket_path: PathBuf,
    socket: Mutex<UnixDatagram>,
    journalctl: PathBuf,
}

impl JournaldEventer {
    /// Connects to journald at [`JOURNAL_SOCKET`]; fails when it is not
    /// running.
    pub fn open() -> Result<Self> {
        Self::open_at(JOURNAL_SOCKET)
    }

    /// Connects to journald at `socket_path`.
    pub fn open_at(socket_path: impl Into<PathBuf>) -> Result<Self> {
        let socket_path = socket_path.into();
        let socket = connect(&socket_path)?;
        debug!(socket = %socket_path.display(), "connected to journald");
        Ok(JournaldEventer {
            socket_path,
            socket: Mutex::new(socket),
            journalctl: PathBuf::from("journalctl"),
        })
    }

    fn send(&self, payload: &[u8]) -> Result<()> {
        let mut socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        let err = |source| Error::JournaldWrite {
            path: self.socket_path.clone(),
            source,
        };
        match socket.send(payload) {
            Ok(_) => Ok(()),
            // journald restarted: connect again once
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::NotConnected
                        | io::ErrorKind::NotFound
                ) =>
            {
                *socket = connect(&self.socket_path)?;
                socket.send(payload).map(|_| ()).map_err(err)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// The cursor of the newest oxpod entry, if any.
    fn tail_cursor(&self) -> Result<Option<String>> {
        let out = Command::new(&self.journalctl)
            .args(["-o", "json", "-n", "1", "--no-pager", "-q"])
            .arg(format!("SYSLOG_IDENTIFIER={IDENTIFIER}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Journalctl { source })?;
        if !out.status.success() {
            return Err(Error::JournalctlFailed {
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        #[derive(Deserialize)]
        struct Cursor {
            #[serde(rename = "__CURSOR")]
            cursor: String,
        }
        Ok(out
            .stdout
            .rsplit(|b| *b == b'\n')
            .find_map(|l| serde_json::from_slice::<Cursor>(l).ok())
            .map(|c| c.cursor))
    }

    fn command(&self, options: &ReadOptions) -> Result<Command> {
        let mut cmd = Command::new(&self.journalctl);
        cmd.args(["-o", "json", "--no-pager", "-q", "--all"]);
        if options.follow {
            cmd.arg("-f");
            // not `-n 0`: systemd 252's `-f -n 0` drops the first new entry
            match (options.starts_at_beginning(), self.tail_cursor()?) {
                (false, Some(cursor)) => cmd.arg(format!("--after-cursor={cursor}")),
                _ => cmd.args(["-n", "all"]),
            };
        }
        if let Some(since) = options.since {
            // the journal's own time is never before the event's
            cmd.arg(format!("--since=@{}", since.as_second()));
        }
        cmd.arg(format!("SYSLOG_IDENTIFIER={IDENTIFIER}"));
        // journalctl ORs matches of one field and ANDs different fields,
        // as our filters do
        for f in &options.filters {
            match f {
                Filter::Type(t) => {
                    cmd.arg(format!("OXPOD_TYPE={t}"));
                }
                Filter::Event(s) => {
                    cmd.arg(format!("OXPOD_EVENT={s}"));
                }
                _ => {}
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Ok(cmd)
    }
}

fn connect(path: &Path) -> Result<UnixDatagram> {
    let unavailable = |source| Error::JournaldUnavailable {
        path: path.to_path_buf(),
        source,
    };
    let socket = UnixDatagram::unbound().map_err(unavailable)?;
    socket.connect(path).map_err(unavailable)?;
    Ok(socket)
}

/// Appends one field in the native protocol: `NAME=value\n`, or for values
/// with a newline `NAME\n<u64 LE length><value>\n`.
fn push_field(buf: &mut Vec<u8>, name: &str, value: &str) {
    buf.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        buf.push(b'=');
    }
    buf.extend_from_slice(value.as_bytes());
    buf.push(b'\n');
}

/// `OXPOD_LABEL_<KEY>`: upper case letters, digits and `_`, at most 64 bytes.
fn label_field(key: &str) -> String {
    let mut name = String::from("OXPOD_LABEL_");
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name.truncate(64);
    name
}

/// The datagram for one event.
pub(crate) fn encode_entry(event: &Event) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    push_field(&mut buf, "MESSAGE", &event.to_human(true));
    push_field(&mut buf, "PRIORITY", "6");
    push_field(&mut buf, "SYSLOG_IDENTIFIER", IDENTIFIER);
    push_field(&mut buf, "OXPOD_EVENT", event.status.as_str());
    push_field(&mut buf, "OXPOD_TYPE", event.event_type.as_str());
    push_field(&mut buf, "OXPOD_TIME", &rfc3339_nano_fixed(event.time));
    if !event.id.is_empty() {
        push_field(&mut buf, "OXPOD_ID", &event.id);
    }
    if !event.name.is_empty() {
        push_field(&mut buf, "OXPOD_NAME", &event.name);
    }
    if !event.image.is_empty() {
        push_field(&mut buf, "OXPOD_IMAGE", &event.image);
    }
    if event.event_type == EventType::Container {
        push_field(
            &mut buf,
            "OXPOD_EXIT_CODE",
            &event.container_exit_code.to_string(),
        );
    }
    if !event.attributes.is_empty() {
        let json =
            serde_json::to_string(&event.attributes).map_err(|source| Error::Encode { source })?;
        push_field(&mut buf, "OXPOD_ATTRIBUTES", &json);
        for (k, v) in &event.attributes {
            push_field(&mut buf, &label_field(k), v);
        }
    }
    Ok(buf)
}

/// The fields of a `journalctl -o json` entry that we read. Values are
/// strings, or arrays of bytes when journalctl deems them binary.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "OXPOD_EVENT")]
    event: Option<Value>,
    #[serde(rename = "OXPOD_TYPE")]
    event_type: Option<Value>,
    #[serde(rename = "OXPOD_TIME")]
    time: Option<Value>,
    #[serde(rename = "OXPOD_ID")]
    id: Option<Value>,
    #[serde(rename = "OXPOD_NAME")]
    name: Option<Value>,
    #[serde(rename = "OXPOD_IMAGE")]
    image: Option<Value>,
    #[serde(rename = "OXPOD_EXIT_CODE")]
    exit_code: Option<Value>,
    #[serde(rename = "OXPOD_ATTRIBUTES")]
    attributes: Option<Value>,
}

fn value_str(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s),
        Value::Array(bytes) => {
            let bytes: Option<Vec<u8>> = bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            String::from_utf8(bytes?).ok()
        }
        _ => None,
    }
}

/// Decodes one journalctl JSON line into an event.
pub(crate) fn decode_entry(line: &[u8]) -> std::result::Result<Event, String> {
    let entry: Entry = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let status = value_str(entry.event).ok_or("no OXPOD_EVENT")?;
    let status = status.parse().map_err(|e: Error| e.to_string())?;
    let event_type = value_str(entry.event_type).ok_or("no OXPOD_TYPE")?;
    let event_type = event_type.parse().map_err(|e: Error| e.to_string())?;
    let time = value_str(entry.time).ok_or("no OXPOD_TIME")?;
    let time = parse_rfc3339(&time).ok_or_else(|| format!("bad OXPOD_TIME {time:?}"))?;
    let container_exit_code = match value_str(entry.exit_code) {
        Some(c) => c
            .parse()
            .map_err(|_| format!("bad OXPOD_EXIT_CODE {c:?}"))?,
        None => 0,
    };
    let attributes: BTreeMap<String, String> = match value_str(entry.attributes) {
        Some(a) => serde_json::from_str(&a).map_err(|e| format!("bad OXPOD_ATTRIBUTES: {e}"))?,
        None => BTreeMap::new(),
    };
    Ok(Event {
        container_exit_code,
        id: value_str(entry.id).unwrap_or_default(),
        image: value_str(entry.image).unwrap_or_default(),
        name: value_str(entry.name).unwrap_or_default(),
        status,
        time,
        event_type,
        attributes,
    })
}

/// Kills and reaps the child on every way out.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

impl Eventer for JournaldEventer {
    fn write(&self, event: &Event) -> Result<()> {
        self.send(&encode_entry(event)?)
    }

    fn read(
        &self,
        options: ReadOptions,
        sink: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut cmd = self.command(&options)?;
        debug!(?cmd, "reading events from the journal");
        let child = cmd.spawn().map_err(|source| Error::Journalctl { source })?;
        let mut child = Reaper(child);
        let Some(mut stdout) = child.0.stdout.take() else {
            return Err(Error::Journalctl {
                source: io::Error::other("journalctl has no stdout"),
            });
        };
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if options.stopped() || (options.follow && options.past_until()) {
                return Ok(());
            }
            let ready = {
                let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, 100u16) {
                    Ok(n) => n > 0,
                    Err(nix::Error::EINTR) => false,
                    Err(source) => {
                        return Err(Error::Journalctl {
                            source: io::Error::from(source),
                        });
                    }
                }
            };
            if !ready {
                continue;
            }
            let n = match stdout.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(Error::Journalctl { source }),
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut consumed = 0;
            while let Some(nl) = buf[consumed..].iter().position(|b| *b == b'\n') {
                let line = &buf[consumed..consumed + nl];
                consumed += nl + 1;
                if !line.starts_with(b"{") {
                    continue;
                }
                let event = match decode_entry(line) {
                    Ok(e) => e,
                    Err(e) => {
                        warn!("skipping a journal entry that is not an oxpod event: {e}");
                        continue;
                    }
                };
                if matches_all(&options.filters, &event)
                    && options.in_bounds(event.time)
                    && sink(event).is_break()
                {
                    return Ok(());
                }
            }
            buf.drain(..consumed);
        }
        let status = child
            .0
            .wait()
            .map_err(|source| Error::Journalctl { source })?;
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            return Err(Error::JournalctlFailed {
                status,
                stderr: stderr.trim().to_string(),
            });
        }
        Ok(())
    }

    fn backend(&self) -> Backend {
        Backend::Journald
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventStatus;

    #[test]
    fn native_protocol_encoding() {
        let ev = Event::container(EventStatus::Died, "abc", "web")
            .with_image("alpine")
            .with_exit_code(2)
            .with_attribute("io.x/y", "multi\nline");
        let buf = encode_entry(&ev).map_err(|e| e.to_string());
        let Ok(buf) = buf else { panic!("{buf:?}") };
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("SYSLOG_IDENTIFIER=oxpod\n"));
        assert!(text.contains("OXPOD_EVENT=died\n"));
        assert!(text.contains("OXPOD_TYPE=container\n"));
        assert!(text.contains("OXPOD_EXIT_CODE=2\n"));
        assert!(text.contains("OXPOD_IMAGE=alpine\n"));
        let mut binary = b"OXPOD_LABEL_IO_X_Y\n".to_vec();
        binary.extend_from_slice(&10u64.to_le_bytes());
        binary.extend_from_slice(b"multi\nline\n");
        assert!(buf.windows(binary.len()).any(|w| w == binary.as_slice()));
    }

    #[test]
    fn decode_journalctl_json() {
        let ev = Event::container(EventStatus::Died, "abc", "web")
            .with_image("alpine")
            .with_exit_code(2)
            .with_attribute("k", "v");
        let line = serde_json::json!({
            "MESSAGE": ev.to_human(true),
            "SYSLOG_IDENTIFIER": "oxpod",
            "OXPOD_EVENT": "died",
            "OXPOD_TYPE": "container",
            "OXPOD_TIME": rfc3339_nano_fixed(ev.time),
            "OXPOD_ID": "abc",
            // journalctl prints binary-looking values as byte arrays
            "OXPOD_NAME": [119, 101, 98],
            "OXPOD_IMAGE": "alpine",
            "OXPOD_EXIT_CODE": "2",
            "OXPOD_ATTRIBUTES": "{\"k\":\"v\"}",
        })
        .to_string();
        assert_eq!(decode_entry(line.as_bytes()), Ok(ev));
        assert!(decode_entry(br#"{"MESSAGE":"hello"}"#).is_err());
        assert!(
            decode_entry(br#"{"OXPOD_EVENT":"boom","OXPOD_TYPE":"container","OXPOD_TIME":"2019-07-01T10:00:00Z"}"#)
                .is_err()
        );
    }

    #[test]
    fn opening_without_journald_fails_clearly() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("{dir:?}") };
        let r = JournaldEventer::open_at(dir.path().join("socket"));
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("journald is not running: cannot connect to"),
            "{msg}"
        );
        assert!(msg.contains("events_logger = \"file\""), "{msg}");
    }
}
