//! The line format of the file backend: an [`Event`]'s JSON object plus a
//! `Seq` field, a sequence number that grows by one per write across all
//! writers, so a follower can resume after a rotation without repeating or
//! silently losing events. Parsing borrows from the line so filters run
//! before anything is allocated.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::{parse_rfc3339, rfc3339_nano_fixed};
use crate::filter::EventView;
use crate::{Error, Event, EventStatus, EventType, Result};

#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(rename = "ContainerExitCode")]
    code: i32,
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Image")]
    image: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Status")]
    status: EventStatus,
    #[serde(rename = "Time")]
    time: String,
    #[serde(rename = "Type")]
    event_type: EventType,
    #[serde(rename = "Attributes", skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, String>,
    #[serde(rename = "Seq")]
    seq: u64,
}

/// Encodes `event` with sequence number `seq` as one line ending in `\n`.
pub(crate) fn encode(event: &Event, seq: u64) -> Result<Vec<u8>> {
    let out = LineOut {
        code: event.container_exit_code,
        id: &event.id,
        image: &event.image,
        name: &event.name,
        status: event.status,
        time: rfc3339_nano_fixed(event.time),
        event_type: event.event_type,
        attributes: &event.attributes,
        seq,
    };
    let mut buf = Vec::with_capacity(256);
    serde_json::to_writer(&mut buf, &out).map_err(|source| Error::Encode { source })?;
    buf.push(b'\n');
    Ok(buf)
}

/// A parsed line that still borrows from the buffer.
#[derive(Debug, Deserialize)]
pub(crate) struct RawLine<'a> {
    #[serde(rename = "ContainerExitCode", default)]
    code: i32,
    #[serde(rename = "ID", default, borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "Image", default, borrow)]
    image: Cow<'a, str>,
    #[serde(rename = "Name", default, borrow)]
    name: Cow<'a, str>,
    #[serde(rename = "Status")]
    status: EventStatus,
    #[serde(rename = "Time", borrow)]
    time: Cow<'a, str>,
    #[serde(rename = "Type")]
    event_type: EventType,
    #[serde(rename = "Attributes", default)]
    attributes: BTreeMap<String, String>,
    #[serde(rename = "Seq", default)]
    pub(crate) seq: Option<u64>,
}

impl<'a> RawLine<'a> {
    /// Parses one line (without its newline).
    pub(crate) fn parse(line: &'a [u8]) -> std::result::Result<Self, String> {
        serde_json::from_slice(line).map_err(|e| e.to_string())
    }

    /// The event time, if it is valid RFC 3339.
    pub(crate) fn time(&self) -> Option<Timestamp> {
        parse_rfc3339(&self.time)
    }

    /// The owned event, given its already parsed time.
    pub(crate) fn into_event(self, time: Timestamp) -> Event {
        Event {
            container_exit_code: self.code,
            id: self.id.into_owned(),
            image: self.image.into_owned(),
            name: self.name.into_owned(),
            status: self.status,
            time,
            event_type: self.event_type,
            attributes: self.attributes,
        }
    }
}

impl EventView for RawLine<'_> {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn status(&self) -> EventStatus {
        self.status
    }
    fn event_type(&self) -> EventType {
        self.event_type
    }
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// Reads only the `Seq` of a line (for recovering the counter).
pub(crate) fn seq_of(line: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct SeqOnly {
        #[serde(rename = "Seq")]
        seq: Option<u64>,
    }
    serde_json::from_slice::<SeqOnly>(line).ok()?.seq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse_round_trips() {
        let ev = Event::container(EventStatus::Died, "id\"with\\escapes", "näme")
            .with_exit_code(137)
            .with_attribute("k", "v\nw");
        let line = encode(&ev, 42).map_err(|e| e.to_string());
        let Ok(line) = line else { panic!("{line:?}") };
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let body = &line[..line.len() - 1];
        assert_eq!(seq_of(body), Some(42));
        let raw = RawLine::parse(body);
        let Ok(raw) = raw else { panic!("{raw:?}") };
        assert_eq!(raw.seq, Some(42));
        let t = raw.time();
        assert_eq!(t, Some(ev.time));
        let back = raw.into_event(ev.time);
        assert_eq!(back, ev);
        // the line is also a plain podman-style Event
        let plain: std::result::Result<Event, _> = serde_json::from_slice(body);
        assert_eq!(plain.ok(), Some(ev));
    }

    #[test]
    fn podman_lines_without_seq_parse() {
        let l = br#"{"ContainerExitCode":0,"ID":"abc","Image":"alpine","Name":"foo","Status":"start","Time":"2019-07-01T10:00:00.123456789+02:00","Type":"container"}"#;
        let raw = RawLine::parse(l);
        let Ok(raw) = raw else { panic!("{raw:?}") };
        assert_eq!(raw.seq, None);
        assert_eq!(raw.name(), "foo");
        assert!(RawLine::parse(b"{\"Status\":\"start\"").is_err());
    }
}
