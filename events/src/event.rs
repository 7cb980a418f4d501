//! The event record: podman's JSON field names, the types and statuses, and
//! the human-readable line of `podman events`.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $err:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name as written in the log and printed.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// Parses the exact name (`None` when unknown).
            pub(crate) fn from_name(s: &str) -> Option<Self> {
                match s {
                    $( $text => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                Self::from_name(s).ok_or_else(|| Error::$err { value: s.to_string() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name"))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<$name, E> {
                        $name::from_name(s).ok_or_else(|| {
                            E::custom(Error::$err { value: s.to_string() })
                        })
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

string_enum! {
    /// What kind of object an event is about.
    EventType, UnknownType {
        /// A container.
        Container => "container",
        /// An image.
        Image => "image",
        /// A pod.
        Pod => "pod",
        /// The engine itself (refresh, renumber, rotation, ...).
        System => "system",
        /// A volume.
        Volume => "volume",
        /// A network.
        Network => "network",
    }
}

string_enum! {
    /// What happened: podman 1.4's statuses plus oxpod's system ones.
    EventStatus, UnknownStatus {
        /// Attached to a container.
        Attach => "attach",
        /// Checkpointed a container.
        Checkpoint => "checkpoint",
        /// Cleaned up after a container.
        Cleanup => "cleanup",
        /// Committed a container to an image.
        Commit => "commit",
        /// Connected a container to a network.
        Connect => "connect",
        /// Disconnected a container from a network.
        Disconnect => "disconnect",
        /// Created an object.
        Create => "create",
        /// Ran an exec session.
        Exec => "exec",
        /// An exec session's process exited.
        ExecDied => "exec_died",
        /// A container exited (podman's `Exited`, written `died`).
        Died => "died",
        /// Exported a container.
        Export => "export",
        /// A container's health changed (`healthcheck run`).
        HealthStatus => "health_status",
        /// Image history.
        History => "history",
        /// Imported an image.
        Import => "import",
        /// Initialised a container.
        Init => "init",
        /// Sent a signal.
        Kill => "kill",
        /// Loaded an image from an archive.
        LoadFromArchive => "loadfromarchive",
        /// Mounted a container.
        Mount => "mount",
        /// Paused.
        Pause => "pause",
        /// Pruned.
        Prune => "prune",
        /// Pulled an image.
        Pull => "pull",
        /// Pushed an image.
        Push => "push",
        /// Refreshed state after a reboot.
        Refresh => "refresh",
        /// Removed an object.
        Remove => "remove",
        /// Renamed a container.
        Rename => "rename",
        /// Renumbered locks.
        Renumber => "renumber",
        /// Restarted.
        Restart => "restart",
        /// Restored from a checkpoint.
        Restore => "restore",
        /// Saved an image.
        Save => "save",
        /// Started.
        Start => "start",
        /// Stopped.
        Stop => "stop",
        /// Synced state.
        Sync => "sync",
        /// Tagged an image.
        Tag => "tag",
        /// Unmounted a container.
        Unmount => "unmount",
        /// Unpaused.
        Unpause => "unpause",
        /// Untagged an image.
        Untag => "untag",
        /// Migrated (`system migrate`).
        Migrate => "migrate",
        /// Reset everything (`system reset`).
        Reset => "reset",
        /// Checked consistency (`system check`).
        Check => "check",
        /// The file log was rotated.
        LogRotation => "log-rotation",
    }
}

impl EventStatus {
    /// Parses a status as a user may write it in a filter: the exact name,
    /// or `die` for `died`.
    pub fn parse_lenient(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "die" | "exited" => Ok(EventStatus::Died),
            other => Self::from_name(other).ok_or_else(|| Error::UnknownStatus {
                value: s.to_string(),
            }),
        }
    }
}

/// One event. Serialises with podman's field names, leaving out what
/// podman leaves out when empty (`ID`, `Image`, `Name`, `Attributes`, a 0
/// `ContainerExitCode`); `Attributes` is always there, as in podman.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The exit code of a `died` container; 0 otherwise.
    #[serde(rename = "ContainerExitCode", default, skip_serializing_if = "is_zero")]
    pub container_exit_code: i32,
    /// Container, pod or image ID; empty for volume and system events.
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The container's image (rootfs); empty otherwise.
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Container, pod, image or volume name.
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What happened.
    #[serde(rename = "Status")]
    pub status: EventStatus,
    /// When; written as RFC 3339 with nanoseconds in the local offset.
    #[serde(rename = "Time", with = "rfc3339")]
    pub time: Timestamp,
    /// What it happened to.
    #[serde(rename = "Type")]
    pub event_type: EventType,
    /// Labels and details.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `event_type` with `status`, now, and empty fields.
    pub fn new(event_type: EventType, status: EventStatus) -> Self {
        Event {
            container_exit_code: 0,
            id: String::new(),
            image: String::new(),
            name: String::new(),
            status,
            time: Timestamp::now(),
            event_type,
            attributes: BTreeMap::new(),
        }
    }

    /// A container event (add the image with [`Event::with_image`], the exit
    /// code of `died` with [`Event::with_exit_code`]).
    pub fn container(status: EventStatus, id: impl Into<String>, name: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new(EventType::Container, status)
        }
    }

    /// A pod event.
    pub fn pod(status: EventStatus, id: impl Into<String>, name: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new(EventType::Pod, status)
        }
    }

    /// An image event.
    pub fn image(status: EventStatus, id: impl Into<String>, name: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new(EventType::Image, status)
        }
    }

    /// A volume event (volumes have a name, no ID).
    pub fn volume(status: EventStatus, name: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            ..Event::new(EventType::Volume, status)
        }
    }

    /// A network event: `create` and `remove` name the network (`id` its
    /// id), `connect` and `disconnect` the container (`id` its id) and the
    /// network (`name`), as podman 4.4 writes them.
    pub fn network(status: EventStatus, id: impl Into<String>, name: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new(EventType::Network, status)
        }
    }

    /// A system event (`refresh`, `renumber`, `migrate`, `reset`, ...).
    pub fn system(status: EventStatus) -> Self {
        Event::new(EventType::System, status)
    }

    /// Sets the image.
    #[must_use]
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }

    /// Sets the container exit code.
    #[must_use]
    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.container_exit_code = code;
        self
    }

    /// Sets the time.
    #[must_use]
    pub fn with_time(mut self, time: Timestamp) -> Self {
        self.time = time;
        self
    }

    /// Adds one attribute (a label or detail).
    #[must_use]
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Adds attributes (labels).
    #[must_use]
    pub fn with_attributes<K: Into<String>, V: Into<String>>(
        mut self,
        attrs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.attributes
            .extend(attrs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The line `podman events` prints, e.g.
    /// `2019-03-02 10:33:42.312377447 -0600 CST container start 0123456789ab (image=alpine, name=web)`.
    /// IDs are cut to 12 characters unless `no_trunc`.
    pub fn to_human(&self, no_trunc: bool) -> String {
        let mut out = go_time_string(self.time);
        let id = if no_trunc {
            self.id.as_str()
        } else {
            truncate_id(&self.id)
        };
        let _ = write!(out, " {} {}", self.event_type, self.status);
        match self.event_type {
            EventType::Network => {
                let _ = write!(out, " {id} (name={}", visible(&self.name));
                for (k, v) in &self.attributes {
                    let _ = write!(out, ", {}={}", visible(k), visible(v));
                }
                out.push(')');
            }
            EventType::Container | EventType::Pod => {
                let _ = write!(
                    out,
                    " {id} (image={}, name={}",
                    visible(&self.image),
                    visible(&self.name)
                );
                for (k, v) in &self.attributes {
                    let _ = write!(out, ", {}={}", visible(k), visible(v));
                }
                out.push(')');
            }
            EventType::Image => {
                let _ = write!(out, " {id} {}", visible(&self.name));
            }
            EventType::Volume => {
                let _ = write!(out, " {}", visible(&self.name));
            }
            EventType::System => {
                if !self.name.is_empty() {
                    let _ = write!(out, " {}", visible(&self.name));
                }
            }
        }
        out
    }
}

/// The first 12 characters of an ID.
fn truncate_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

/// A value for a one-line listing: control characters (a label value's
/// newline would forge a second event line) written as Rust escapes.
fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        std::borrow::Cow::Owned(s.chars().flat_map(char::escape_default).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, in
/// the system time zone. Written field by field: `events` prints this for
/// every line, and strftime's parsing cost more than the rest of the line.
pub fn go_time_string(t: Timestamp) -> String {
    go_time_string_in(t, local_tz())
}

fn go_time_string_in(t: Timestamp, tz: &TimeZone) -> String {
    let info = tz.to_offset_info(t);
    let offset = info.offset();
    let dt = offset.to_datetime(t);
    let mut out = String::with_capacity(48);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    push_fraction(&mut out, t.subsec_nanosecond(), true);
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.unsigned_abs();
    let _ = write!(
        out,
        " {sign}{:02}{:02} {}",
        secs / 3600,
        (secs / 60) % 60,
        info.abbreviation()
    );
    out
}

/// Appends `.nnnnnnnnn`; with `trim`, drops trailing zeros (and the dot when
/// the fraction is zero), as Go's `.999999999` does.
fn push_fraction(out: &mut String, nanos: i32, trim: bool) {
    let nanos = nanos.unsigned_abs();
    let digits = format!("{nanos:09}");
    let digits = if trim {
        digits.trim_end_matches('0')
    } else {
        &digits
    };
    if !digits.is_empty() {
        out.push('.');
        out.push_str(digits);
    }
}

/// The local time zone, loaded once per process. Without `TZ`, it is read
/// straight from `/etc/localtime`: jiff's `TimeZone::system()` would first
/// index the whole zoneinfo tree (dozens of directory reads) just to learn
/// the zone's name, on every command that writes an event.
pub(crate) fn local_tz() -> &'static TimeZone {
    static LOCAL: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    LOCAL.get_or_init(|| {
        const LOCALTIME: &str = "/etc/localtime";
        if std::env::var_os("TZ").is_none()
            && let Ok(bytes) = std::fs::read(LOCALTIME)
        {
            // `/etc/localtime -> /usr/share/zoneinfo/Etc/UTC` names `Etc/UTC`.
            let name = std::fs::read_link(LOCALTIME)
                .ok()
                .and_then(|target| {
                    let target = target.to_string_lossy().into_owned();
                    target
                        .split_once("zoneinfo/")
                        .map(|(_, name)| name.to_owned())
                })
                .unwrap_or_else(|| "Local".to_owned());
            if let Ok(tz) = TimeZone::tzif(&name, &bytes) {
                return tz;
            }
        }
        TimeZone::system()
    })
}

/// RFC 3339 with nine fraction digits in the local offset (`Z` for UTC),
/// as podman writes `Time`.
fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// RFC 3339 with the fraction Go's `RFC3339Nano` writes (trailing zeros
/// dropped), in the local offset: what `--format json` shows.
pub(crate) fn rfc3339_nano(t: Timestamp) -> String {
    rfc3339_with(t, true)
}

/// RFC 3339 with all nine digits of fraction: the stored form (the file
/// log and the journal), whose lines are then of one length per shape.
pub(crate) fn rfc3339_nano_fixed(t: Timestamp) -> String {
    rfc3339_with(t, false)
}

fn rfc3339_with(t: Timestamp, trim: bool) -> String {
    let tz = local_tz();
    let offset = tz.to_offset(t);
    let dt = offset.to_datetime(t);
    let mut out = dt.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    push_fraction(&mut out, t.subsec_nanosecond(), trim);
    if offset.seconds() == 0 {
        out.push('Z');
    } else {
        let secs = offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let secs = secs.unsigned_abs();
        let _ = write!(out, "{sign}{:02}:{:02}", secs / 3600, (secs / 60) % 60);
    }
    out
}

/// Parses an RFC 3339 time with any offset.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// serde for `Time`.
mod rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339_nano(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        super::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("bad test time {s}: {e}"),
        }
    }

    #[test]
    fn json_uses_podman_field_names_and_round_trips() {
        let ev = Event::container(EventStatus::Died, "a".repeat(64), "web")
            .with_image("docker.io/library/alpine:latest")
            .with_exit_code(3)
            .with_time(at("2019-07-01T08:00:00.123456789Z"))
            .with_attribute("app", "x");
        let json = serde_json::to_value(&ev).map_err(|e| e.to_string());
        let Ok(json) = json else { panic!("{json:?}") };
        let obj = json
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>());
        assert_eq!(
            obj,
            Some(
                [
                    "Attributes",
                    "ContainerExitCode",
                    "ID",
                    "Image",
                    "Name",
                    "Status",
                    "Time",
                    "Type"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(json["Status"], "died");
        assert_eq!(json["Type"], "container");
        assert_eq!(json["ContainerExitCode"], 3);
        let back: Result<Event, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(ev));
    }

    #[test]
    fn time_is_rfc3339_with_nanoseconds_and_parses_back() {
        // Go's RFC3339Nano, as podman writes it: trailing zeros dropped.
        for (s, want) in [
            (
                "2019-07-01T08:00:00.000000001Z",
                "2019-07-01T08:00:00.000000001Z",
            ),
            ("2019-07-01T08:00:00Z", "2019-07-01T08:00:00Z"),
            ("1970-01-01T00:00:00.5Z", "1970-01-01T00:00:00.5Z"),
            (
                "2026-12-01T11:23:14.84151865Z",
                "2026-12-01T11:23:14.84151865Z",
            ),
        ] {
            let t = at(s);
            let text = rfc3339_nano(t);
            if local_tz().to_offset(t).seconds() == 0 {
                assert_eq!(text, want);
            }
            assert_eq!(parse_rfc3339(&text), Some(t), "{text}");
        }
        // podman's own example with a +02:00 offset reads back
        let ev: Result<Event, _> = serde_json::from_str(
            r#"{"ContainerExitCode":0,"ID":"abc","Image":"alpine","Name":"foo","Status":"start","Time":"2019-07-01T10:00:00.123456789+02:00","Type":"container"}"#,
        );
        let ev = ev.map_err(|e| e.to_string());
        assert_eq!(ev.map(|e| e.time), Ok(at("2019-07-01T08:00:00.123456789Z")));
    }

    #[test]
    fn unknown_status_and_type_are_rejected() {
        assert_eq!(
            "explode"
                .parse::<EventStatus>()
                .err()
                .map(|e| e.to_string()),
            Some("unknown event status \"explode\"".into())
        );
        assert_eq!(
            "machine".parse::<EventType>().err().map(|e| e.to_string()),
            Some("unknown event type \"machine\"".into())
        );
        let bad: Result<Event, _> = serde_json::from_str(
            r#"{"Status":"explode","Time":"2019-07-01T10:00:00Z","Type":"container"}"#,
        );
        assert!(bad.is_err());
        assert_eq!(
            EventStatus::parse_lenient("die").ok(),
            Some(EventStatus::Died)
        );
        for s in EventStatus::ALL {
            assert_eq!(s.as_str().parse::<EventStatus>().ok(), Some(*s));
        }
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().ok(), Some(*t));
        }
    }

    #[test]
    fn go_time_string_matches_strftime_in_any_zone() {
        for (zone, expect_suffix) in [("UTC", " +0000 UTC"), ("America/New_York", " -0500 EST")] {
            let tz = TimeZone::get(zone).unwrap();
            for (text, nanos) in [
                ("2019-03-02T16:33:42.3123774Z", ".3123774"),
                ("2019-12-31T23:59:59Z", ""),
                ("2024-02-29T05:06:07.000000001Z", ".000000001"),
            ] {
                let t = at(text);
                let zdt = t.to_zoned_datetime(tz.clone());
                let reference = format!(
                    "{}{nanos}{}",
                    zdt.strftime("%Y-%m-%d %H:%M:%S"),
                    zdt.strftime(" %z %Z")
                );
                assert_eq!(go_time_string_in(t, &tz), reference);
                assert!(reference.ends_with(expect_suffix), "{reference}");
            }
        }
    }

    #[test]
    fn human_lines_follow_podman() {
        let t = at("2019-03-02T16:33:42.3123774Z");
        let time = go_time_string(t);
        let id = "0123456789abcdef0123";
        let c = Event::container(EventStatus::Start, id, "web")
            .with_image("alpine")
            .with_time(t)
            .with_attribute("app", "x");
        assert_eq!(
            c.to_human(false),
            format!("{time} container start 0123456789ab (image=alpine, name=web, app=x)")
        );
        assert_eq!(
            c.to_human(true),
            format!("{time} container start {id} (image=alpine, name=web, app=x)")
        );
        let p = Event::pod(EventStatus::Create, id, "pod1").with_time(t);
        assert_eq!(
            p.to_human(false),
            format!("{time} pod create 0123456789ab (image=, name=pod1)")
        );
        let i = Event::image(EventStatus::Pull, id, "alpine").with_time(t);
        assert_eq!(
            i.to_human(false),
            format!("{time} image pull 0123456789ab alpine")
        );
        let v = Event::volume(EventStatus::Remove, "data").with_time(t);
        assert_eq!(v.to_human(false), format!("{time} volume remove data"));
        let s = Event::system(EventStatus::Refresh).with_time(t);
        assert_eq!(s.to_human(false), format!("{time} system refresh"));
    }

    #[test]
    fn a_label_with_a_newline_cannot_forge_an_event_line() {
        let ev = Event::container(EventStatus::Start, "a".repeat(64), "web")
            .with_attribute("k", "v\n2019-01-01 00:00:00 +0000 UTC container remove x");
        let line = ev.to_human(true);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("k=v\\n2019"), "{line}");
    }

    #[test]
    fn go_time_string_trims_fraction() {
        let s = go_time_string(at("2019-03-02T16:33:42.3123774Z"));
        // the wall clock depends on the system zone; the fraction does not
        assert!(s.contains(":42.3123774 "), "{s}");
        let s = go_time_string(at("2019-03-02T16:33:42Z"));
        assert!(s.contains(":42 "), "{s}");
    }
}
