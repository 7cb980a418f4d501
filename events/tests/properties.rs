//! Property tests: any event survives the file log unchanged, and reading
//! with filters returns exactly the events `matches_all` accepts (so the
//! byte prefilter never drops a match), whatever the names contain.

use std::ops::ControlFlow;

use oxpod_events::{
    Event, EventStatus, EventType, Eventer, FileEventer, Filter, ReadOptions, matches_all,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{0,12}",
        "[a-z0-9/<>&\"\\\\.:=-]{1,12}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(EventType::ALL),
        prop::sample::select(EventStatus::ALL),
        text(),
        text(),
        text(),
        prop::collection::btree_map(text(), text(), 0..3),
        any::<i32>(),
        0i64..4_000_000_000,
        0i32..1_000_000_000,
    )
        .prop_map(|(t, s, id, name, image, attrs, code, secs, nanos)| {
            let mut e = Event::new(t, s);
            e.id = id;
            e.name = name;
            e.image = image;
            e.attributes = attrs;
            e.container_exit_code = code;
            e.time = jiff::Timestamp::new(secs, nanos).unwrap_or_default();
            e
        })
}

/// Filters built partly from the event's own values, so some match.
fn filters_for(e: &Event) -> impl Strategy<Value = Vec<Filter>> + use<> {
    let id_prefix: String = e.id.chars().take(3).collect();
    // the key that names this event's object, so the own filters match
    let key = match e.event_type {
        EventType::Container => "container",
        EventType::Pod => "pod",
        EventType::Image => "image",
        EventType::Volume => "volume",
        EventType::Network => "network",
        EventType::System => "container",
    };
    let mut own = vec![
        format!("{key}={}", e.name),
        format!("{key}={id_prefix}"),
        format!("event={}", e.status),
        format!("type={}", e.event_type),
    ];
    if let Some((k, v)) = e.attributes.iter().next() {
        own.push(format!("label={k}"));
        own.push(format!("label={k}={v}"));
    }
    let own: Vec<Filter> = own.iter().filter_map(|s| s.parse().ok()).collect();
    let other = prop_oneof![
        text().prop_map(|v| format!("container={v}")),
        text().prop_map(|v| format!("volume={v}")),
        prop::sample::select(EventStatus::ALL).prop_map(|s| format!("event={s}")),
        prop::sample::select(EventType::ALL).prop_map(|t| format!("type={t}")),
    ]
    .prop_filter_map("valid filter", |s| s.parse::<Filter>().ok());
    (
        prop::sample::subsequence(own.clone(), 0..=own.len().min(3)),
        prop::collection::vec(other, 0..2),
    )
        .prop_map(|(mut a, b)| {
            a.extend(b);
            a
        })
}

fn read_back(e: &FileEventer, filters: Vec<Filter>) -> Vec<Event> {
    let mut out = Vec::new();
    let r = e.read(
        ReadOptions {
            filters,
            ..Default::default()
        },
        &mut |ev| {
            out.push(ev);
            ControlFlow::Continue(())
        },
    );
    assert!(r.is_ok(), "{r:?}");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn file_round_trip_and_filters_agree(
        (ev, filters) in event().prop_flat_map(|e| {
            let f = filters_for(&e);
            (Just(e), f)
        })
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let log = FileEventer::open(dir.path().join("events.log"), 0)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        log.write(&ev).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let all = read_back(&log, Vec::new());
        prop_assert_eq!(&all, &vec![ev.clone()]);
        let got = read_back(&log, filters.clone());
        let want = if matches_all(&filters, &ev) { vec![ev] } else { Vec::new() };
        prop_assert_eq!(got, want, "filters {:?}", filters);
    }

    #[test]
    fn filter_display_parses_back(ev in event()) {
        for s in [format!("container={}", ev.name), format!("label={}={}", ev.id, ev.image)] {
            if let Ok(f) = s.parse::<Filter>() {
                prop_assert_eq!(f.to_string().parse::<Filter>().ok(), Some(f));
            }
        }
    }
}
