//! Filters (`key=value`): parsing and matching. The same key repeated is OR,
//! different keys AND (podman v5's rule, not v1.4's AND-everything).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Event, EventStatus, EventType, Result};

/// One parsed `--filter key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `container=V`: a container event whose name is V or whose ID starts with V.
    Container(String),
    /// `event=V` (or `status=V`): the status is V (`die` means `died`).
    Event(EventStatus),
    /// `image=V`: an image event whose name is V or whose ID starts with V.
    Image(String),
    /// `pod=V`: a pod event whose name is V or whose ID starts with V.
    Pod(String),
    /// `volume=V`: a volume event whose name starts with V.
    Volume(String),
    /// `network=V`: a network event of network V (its name, or an ID
    /// starting with V).
    Network(String),
    /// `type=V`: the type is V.
    Type(EventType),
    /// `label=K` or `label=K=V`: attribute K is present (and equals V).
    Label {
        /// The attribute key.
        key: String,
        /// The wanted value, if any.
        value: Option<String>,
    },
}

/// Filter keys in a fixed order, for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Container,
    Event,
    Image,
    Pod,
    Volume,
    Network,
    Type,
    Label,
}

const KEYS: [Key; 8] = [
    Key::Container,
    Key::Event,
    Key::Image,
    Key::Pod,
    Key::Volume,
    Key::Network,
    Key::Type,
    Key::Label,
];

impl Filter {
    /// Parses `key=value`. The key is case-insensitive; the value is split
    /// off at the first `=`. Unknown keys, a missing `=`, an empty value, or
    /// an unknown status or type are errors.
    pub fn parse(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidFilter {
            filter: s.to_string(),
        };
        let (key, value) = s.split_once('=').ok_or_else(invalid)?;
        let key_lc = key.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Err(invalid());
        }
        Ok(match key_lc.as_str() {
            "container" => Filter::Container(value.to_string()),
            "event" | "status" => Filter::Event(EventStatus::parse_lenient(value)?),
            "image" => Filter::Image(value.to_string()),
            "pod" => Filter::Pod(value.to_string()),
            "volume" => Filter::Volume(value.to_string()),
            "network" => Filter::Network(value.to_string()),
            "type" => Filter::Type(value.to_ascii_lowercase().parse()?),
            "label" => match value.split_once('=') {
                Some((k, v)) if !k.is_empty() => Filter::Label {
                    key: k.to_string(),
                    value: Some(v.to_string()),
                },
                Some(_) => return Err(invalid()),
                None => Filter::Label {
                    key: value.to_string(),
                    value: None,
                },
            },
            _ => {
                return Err(Error::UnknownFilterKey {
                    key: key.to_string(),
                });
            }
        })
    }

    fn key(&self) -> Key {
        match self {
            Filter::Container(_) => Key::Container,
            Filter::Event(_) => Key::Event,
            Filter::Image(_) => Key::Image,
            Filter::Pod(_) => Key::Pod,
            Filter::Volume(_) => Key::Volume,
            Filter::Network(_) => Key::Network,
            Filter::Type(_) => Key::Type,
            Filter::Label { .. } => Key::Label,
        }
    }

    /// Whether this one filter accepts `event`.
    pub fn matches(&self, event: &Event) -> bool {
        self.matches_view(event)
    }

    pub(crate) fn matches_view(&self, e: &impl EventView) -> bool {
        let name_or_id =
            |t: EventType, v: &str| e.event_type() == t && (e.name() == v || e.id().starts_with(v));
        match self {
            Filter::Container(v) => name_or_id(EventType::Container, v),
            Filter::Image(v) => name_or_id(EventType::Image, v),
            Filter::Pod(v) => name_or_id(EventType::Pod, v),
            Filter::Volume(v) => e.event_type() == EventType::Volume && e.name().starts_with(v),
            Filter::Network(v) => name_or_id(EventType::Network, v),
            Filter::Event(s) => e.status() == *s,
            Filter::Type(t) => e.event_type() == *t,
            Filter::Label { key, value } => match (e.attribute(key), value) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            },
        }
    }
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Container(v) => write!(f, "container={v}"),
            Filter::Event(s) => write!(f, "event={s}"),
            Filter::Image(v) => write!(f, "image={v}"),
            Filter::Pod(v) => write!(f, "pod={v}"),
            Filter::Volume(v) => write!(f, "volume={v}"),
            Filter::Network(v) => write!(f, "network={v}"),
            Filter::Type(t) => write!(f, "type={t}"),
            Filter::Label { key, value: None } => write!(f, "label={key}"),
            Filter::Label {
                key,
                value: Some(v),
            } => write!(f, "label={key}={v}"),
        }
    }
}

/// Whether `event` passes all `filters`: for every key present, at least one
/// filter with that key matches. No filters match everything.
pub fn matches_all(filters: &[Filter], event: &Event) -> bool {
    matches_all_view(filters, event)
}

pub(crate) fn matches_all_view(filters: &[Filter], e: &impl EventView) -> bool {
    if filters.is_empty() {
        return true;
    }
    KEYS.iter().all(|k| {
        let mut present = false;
        for f in filters.iter().filter(|f| f.key() == *k) {
            if f.matches_view(e) {
                return true;
            }
            present = true;
        }
        !present
    })
}

/// A cheap test on the raw bytes of a log line: for every filter key
/// present, the line must contain at least one of that key's values
/// (container/image/pod/volume value, status, type, label key) verbatim.
/// A line that fails cannot match, so it need not be parsed. Values with
/// characters a JSON encoder may escape (quotes, backslash, `<>&/`,
/// control and non-ASCII characters) are not used.
#[derive(Debug, Default)]
pub(crate) struct Prefilter {
    groups: Vec<Vec<Vec<u8>>>,
}

impl Prefilter {
    pub(crate) fn new(filters: &[Filter]) -> Self {
        let safe = |v: &str| {
            !v.is_empty()
                && v.bytes().all(|b| {
                    (0x20..0x7f).contains(&b)
                        && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | b'/')
                })
        };
        let mut groups = Vec::new();
        for k in KEYS {
            let needles: Vec<&str> = filters
                .iter()
                .filter(|f| f.key() == k)
                .map(|f| match f {
                    Filter::Container(v)
                    | Filter::Image(v)
                    | Filter::Pod(v)
                    | Filter::Volume(v)
                    | Filter::Network(v) => v.as_str(),
                    Filter::Event(s) => s.as_str(),
                    Filter::Type(t) => t.as_str(),
                    Filter::Label { key, .. } => key.as_str(),
                })
                .collect();
            if !needles.is_empty() && needles.iter().all(|n| safe(n)) {
                groups.push(needles.iter().map(|n| n.as_bytes().to_vec()).collect());
            }
        }
        Prefilter { groups }
    }

    /// False only when the line cannot pass the filters.
    pub(crate) fn may_match(&self, line: &[u8]) -> bool {
        self.groups
            .iter()
            .all(|g| g.iter().any(|n| contains(line, n)))
    }
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|b| *b == first) {
        let at = from + p;
        if hay[at + 1..].starts_with(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// The fields filters look at, so a line can be filtered before it is
/// turned into an owned [`Event`].
pub(crate) trait EventView {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
    fn status(&self) -> EventStatus;
    fn event_type(&self) -> EventType;
    fn attribute(&self, key: &str) -> Option<&str>;
}

impl EventView for Event {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Filter {
        match Filter::parse(s) {
            Ok(f) => f,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn fs(list: &[&str]) -> Vec<Filter> {
        list.iter().map(|s| f(s)).collect()
    }

    fn ctr(status: EventStatus, id: &str, name: &str) -> Event {
        Event::container(status, id, name)
    }

    #[test]
    fn parse_every_key() {
        assert_eq!(f("container=web"), Filter::Container("web".into()));
        assert_eq!(f("CONTAINER=web"), Filter::Container("web".into()));
        assert_eq!(f("event=start"), Filter::Event(EventStatus::Start));
        assert_eq!(f("status=die"), Filter::Event(EventStatus::Died));
        assert_eq!(f("image=alpine"), Filter::Image("alpine".into()));
        assert_eq!(f("pod=p"), Filter::Pod("p".into()));
        assert_eq!(f("volume=v"), Filter::Volume("v".into()));
        assert_eq!(f("type=Pod"), Filter::Type(EventType::Pod));
        assert_eq!(
            f("label=a=b=c"),
            Filter::Label {
                key: "a".into(),
                value: Some("b=c".into())
            }
        );
        assert_eq!(
            f("label=a"),
            Filter::Label {
                key: "a".into(),
                value: None
            }
        );
        // Display round-trips
        for s in [
            "container=web",
            "event=died",
            "type=pod",
            "label=a=b=c",
            "label=a",
        ] {
            assert_eq!(f(s).to_string(), s);
        }
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Filter::parse("colour=red"),
            Err(Error::UnknownFilterKey { key }) if key == "colour"
        ));
        for bad in ["container", "container=", "", "=x", "label==v"] {
            let r = Filter::parse(bad);
            assert!(
                matches!(
                    r,
                    Err(Error::InvalidFilter { .. } | Error::UnknownFilterKey { .. })
                ),
                "{bad}: {r:?}"
            );
        }
        assert!(matches!(
            Filter::parse("event=explode"),
            Err(Error::UnknownStatus { .. })
        ));
        assert!(matches!(
            Filter::parse("type=machine"),
            Err(Error::UnknownType { .. })
        ));
        let msg = Filter::parse("colour=red").err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some(
                "\"colour\" is an invalid filter key: use container, event, image, label, pod, type or volume"
            )
        );
    }

    #[test]
    fn container_matches_name_or_id_prefix_only_for_containers() {
        let e = ctr(EventStatus::Start, "abcdef123", "web");
        assert!(f("container=web").matches(&e));
        assert!(f("container=abc").matches(&e));
        assert!(!f("container=we").matches(&e));
        assert!(!f("container=def").matches(&e));
        let p = Event::pod(EventStatus::Start, "abcdef123", "web");
        assert!(!f("container=web").matches(&p));
        assert!(f("pod=web").matches(&p));
        assert!(f("pod=abcd").matches(&p));
        let i = Event::image(EventStatus::Pull, "sha1", "alpine");
        assert!(f("image=alpine").matches(&i));
        assert!(f("image=sha").matches(&i));
        assert!(!f("image=alpine").matches(&e.clone().with_image("alpine")));
    }

    #[test]
    fn volume_matches_name_prefix() {
        let v = Event::volume(EventStatus::Create, "data-1");
        assert!(f("volume=data").matches(&v));
        assert!(!f("volume=x").matches(&v));
        assert!(!f("volume=web").matches(&ctr(EventStatus::Start, "", "web")));
    }

    #[test]
    fn label_and_type_and_event() {
        let e = ctr(EventStatus::Died, "id", "n").with_attribute("app", "db");
        assert!(f("label=app").matches(&e));
        assert!(f("label=app=db").matches(&e));
        assert!(!f("label=app=web").matches(&e));
        assert!(!f("label=tier").matches(&e));
        assert!(f("type=container").matches(&e));
        assert!(!f("type=system").matches(&e));
        assert!(f("event=die").matches(&e));
        assert!(!f("event=start").matches(&e));
    }

    #[test]
    fn prefilter_never_rejects_a_match() {
        let lines: Vec<(Event, Vec<u8>)> = [
            Event::container(EventStatus::Start, "abcdef", "web").with_image("alpine"),
            Event::container(EventStatus::Died, "123456", "db").with_attribute("tier", "x"),
            Event::pod(EventStatus::Create, "fedcba", "pod1"),
            Event::image(EventStatus::Pull, "sha", "docker.io/library/alpine"),
            Event::volume(EventStatus::Remove, "data"),
            Event::system(EventStatus::Refresh),
            Event::container(EventStatus::Stop, "q\"uote", "we\"b/<x>"),
        ]
        .into_iter()
        .map(|e| {
            let line = serde_json::to_vec(&e).unwrap_or_default();
            (e, line)
        })
        .collect();
        let sets: &[&[&str]] = &[
            &["container=web"],
            &["container=abc"],
            &["container=we\"b/<x>"],
            &["container=q\"u"],
            &["event=died", "event=start"],
            &["type=pod"],
            &["image=docker.io/library/alpine"],
            &["image=sha", "event=pull"],
            &["volume=da"],
            &["label=tier", "container=db"],
            &["label=tier=y"],
            &["pod=pod1", "type=pod"],
            &["container=nomatch"],
        ];
        for set in sets {
            let filters = fs(set);
            let pre = Prefilter::new(&filters);
            for (e, line) in &lines {
                if matches_all(&filters, e) {
                    assert!(pre.may_match(line), "{set:?} rejected {e:?}");
                }
            }
        }
        // and it does reject
        let pre = Prefilter::new(&fs(&["container=nomatch"]));
        assert!(lines.iter().all(|(_, l)| !pre.may_match(l)));
        assert!(contains(b"abc", b"bc") && contains(b"abc", b"") && !contains(b"ab", b"abc"));
    }

    #[test]
    fn same_key_or_different_keys_and() {
        let start = ctr(EventStatus::Start, "1", "a");
        let stop = ctr(EventStatus::Stop, "2", "b");
        let kill = ctr(EventStatus::Kill, "3", "a");
        let both = fs(&["event=start", "event=stop"]);
        assert!(matches_all(&both, &start));
        assert!(matches_all(&both, &stop));
        assert!(!matches_all(&both, &kill));
        let and = fs(&["event=start", "container=a"]);
        assert!(matches_all(&and, &start));
        assert!(!matches_all(&and, &stop));
        assert!(!matches_all(&and, &kill));
        let mixed = fs(&["event=start", "event=kill", "container=a"]);
        assert!(matches_all(&mixed, &start));
        assert!(matches_all(&mixed, &kill));
        assert!(!matches_all(&mixed, &stop));
        assert!(matches_all(&[], &kill));
    }
}
