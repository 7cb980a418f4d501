//! The file backend for real: concurrent writer processes, rotation, a
//! follower across rotations, every filter and time bound, damaged lines.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use oxpod_events::{
    Backend, Error, Event, EventStatus, EventType, Eventer, EventerOptions, FileEventer,
    ReadOptions, new_eventer,
};

/// The two tests that start writer processes take this, so they do not
/// starve each other of the few CPUs.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn file_eventer(path: &Path, max_size: u64) -> FileEventer {
    ok(FileEventer::open(path, max_size))
}

/// Reads everything (no follow) with `options`.
fn read_all(e: &dyn Eventer, options: ReadOptions) -> Vec<Event> {
    let mut out = Vec::new();
    ok(e.read(options, &mut |ev| {
        out.push(ev);
        ControlFlow::Continue(())
    }));
    out
}

/// Child role: write `count` container events named `<tag>-<i>`, sleeping
/// `pause_us` every 10 events. Ignored in a normal run; started by a parent
/// test (`oxpod_test_support::child`), and failing without its role.
#[test]
#[ignore = "child-process entry point, started by its parent test"]
fn writer_child() {
    let spec = oxpod_test_support::child::role();
    let parts: Vec<&str> = spec.split('|').collect();
    let [path, max_size, tag, count, pause_us] = parts.as_slice() else {
        panic!("bad writer spec: {spec}");
    };
    let max_size: u64 = ok(max_size.parse());
    let count: usize = ok(count.parse());
    let pause_us: u64 = ok(pause_us.parse());
    let e = file_eventer(Path::new(path), max_size);
    for i in 0..count {
        let status = if i % 2 == 0 {
            EventStatus::Start
        } else {
            EventStatus::Stop
        };
        let ev = Event::container(status, format!("{tag}{i:08}"), format!("{tag}-{i}"))
            .with_image("alpine")
            .with_attribute("writer", *tag);
        ok(e.write(&ev));
        if pause_us > 0 && i % 10 == 9 {
            std::thread::sleep(Duration::from_micros(pause_us));
        }
    }
}

fn spawn_writer(path: &Path, max_size: u64, tag: &str, count: usize, pause_us: u64) -> Child {
    let spec = format!("{}|{max_size}|{tag}|{count}|{pause_us}", path.display());
    ok(oxpod_test_support::child::command("writer_child", &spec)
        .stdout(std::process::Stdio::null())
        .spawn())
}

fn wait_ok(children: Vec<Child>) {
    for mut c in children {
        let status = ok(c.wait());
        assert!(status.success(), "writer child failed: {status}");
    }
}

#[test]
fn eight_processes_never_interleave() {
    let _heavy = heavy();
    let dir = tempdir();
    let path = dir.path().join("events").join("events.log");
    let _ = file_eventer(&path, 0);
    let children = (0..8)
        .map(|w| spawn_writer(&path, 0, &format!("w{w}"), 2000, 0))
        .collect();
    wait_ok(children);
    let text = ok(std::fs::read_to_string(&path));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 16_000);
    assert!(text.ends_with('\n'));
    let mut seqs = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in &lines {
        let v: serde_json::Value = ok(serde_json::from_str(line));
        let ev: Event = ok(serde_json::from_value(v.clone()));
        assert!(names.insert(ev.name.clone()), "duplicate {}", ev.name);
        let seq = v["Seq"].as_u64();
        let Some(seq) = seq else {
            panic!("no Seq in {line}")
        };
        assert!(seqs.insert(seq), "duplicate seq {seq}");
    }
    // sequence numbers are exactly 1..=16000 and in file order
    assert_eq!(seqs.first(), Some(&1));
    assert_eq!(seqs.last(), Some(&16_000));
    let in_order: Vec<u64> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["Seq"].as_u64())
        .collect();
    assert!(in_order.windows(2).all(|w| w[0] + 1 == w[1]));
    for w in 0..8 {
        for i in [0, 999, 1999] {
            assert!(names.contains(&format!("w{w}-{i}")));
        }
    }
    // and the backend reads them all back
    let e = file_eventer(&path, 0);
    assert_eq!(read_all(&e, ReadOptions::default()).len(), 16_000);
}

#[test]
fn rotation_threshold_like_podman() {
    // a write rotates when size + line >= max_size
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let e = file_eventer(&path, 0);
    ok(e.write(&Event::volume(EventStatus::Create, "v1")));
    let one = ok(std::fs::metadata(&path)).len();
    // measure the next line's length with the same shape of event
    let max = 2 * one; // first + second reaches max exactly: rotates
    let path2 = dir.path().join("b.log");
    let e2 = file_eventer(&path2, max + 1);
    ok(e2.write(&Event::volume(EventStatus::Create, "v1")));
    ok(e2.write(&Event::volume(EventStatus::Create, "v2")));
    let kinds: Vec<EventStatus> = read_all(&e2, ReadOptions::default())
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        kinds,
        [EventStatus::Create, EventStatus::Create],
        "below max: no rotation"
    );
    let path3 = dir.path().join("c.log");
    let e3 = file_eventer(&path3, max);
    ok(e3.write(&Event::volume(EventStatus::Create, "v1")));
    ok(e3.write(&Event::volume(EventStatus::Create, "v2")));
    let evs = read_all(&e3, ReadOptions::default());
    let kinds: Vec<(EventStatus, &str)> = evs.iter().map(|e| (e.status, e.name.as_str())).collect();
    // the file was cut in half (the one line was in the older half), then
    // the rotation event, then the new event
    assert_eq!(
        kinds,
        [(EventStatus::LogRotation, ""), (EventStatus::Create, "v2")]
    );
    assert_eq!(evs[0].event_type, EventType::System);
}

#[test]
fn rotation_keeps_the_newest_half_and_stays_bounded() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let max = 16 * 1024;
    let e = file_eventer(&path, max);
    for i in 0..2000 {
        ok(e.write(&Event::container(
            EventStatus::Start,
            format!("{i:064}"),
            format!("c{i}"),
        )));
        assert!(ok(std::fs::metadata(&path)).len() < max);
    }
    let evs = read_all(&e, ReadOptions::default());
    let rotations = evs
        .iter()
        .filter(|e| e.status == EventStatus::LogRotation)
        .count();
    assert!(rotations >= 1);
    // the newest event is last, the kept ones are consecutive and newest
    let names: Vec<usize> = evs
        .iter()
        .filter_map(|e| e.name.strip_prefix('c')?.parse().ok())
        .collect();
    assert_eq!(names.last(), Some(&1999));
    assert!(names.windows(2).all(|w| w[0] + 1 == w[1]), "{names:?}");
    // newest half: at least a third of max is kept
    let size = ok(std::fs::metadata(&path)).len();
    assert!(size > max / 3, "{size}");
    // no temp file left behind
    let left: Vec<_> = ok(std::fs::read_dir(dir.path()))
        .filter_map(|d| d.ok())
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["events.log", "events.log.lock"]);
}

type FollowResult = (Result<(), String>, BTreeMap<String, usize>, usize);

/// A thread following `path` with `filters` until it has `expected`
/// non-rotation events or `stop` is set.
fn spawn_follower(
    path: &Path,
    max: u64,
    filters: &[&str],
    expected: usize,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<FollowResult> {
    let path = path.to_path_buf();
    let stop = stop.clone();
    let filters = filters.iter().map(|f| ok(f.parse())).collect();
    std::thread::spawn(move || {
        let e = file_eventer(&path, max);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut rotations = 0;
        let mut total = 0;
        let r = e.read(
            ReadOptions {
                filters,
                follow: true,
                stop: Some(stop),
                ..Default::default()
            },
            &mut |ev| {
                if ev.status == EventStatus::LogRotation {
                    rotations += 1;
                } else {
                    *seen.entry(ev.name).or_default() += 1;
                    total += 1;
                }
                if total >= expected {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        (r.map_err(|e| e.to_string()), seen, rotations)
    })
}

fn check_follow(name: &str, joined: std::thread::Result<FollowResult>, want: &[String]) -> usize {
    let Ok((result, seen, rotations)) = joined else {
        panic!("{name}: follower panicked");
    };
    assert_eq!(result, Ok(()), "{name}");
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "{name}: repeated: {repeated:?}");
    let missing: Vec<&String> = want.iter().filter(|n| !seen.contains_key(*n)).collect();
    assert!(
        missing.is_empty(),
        "{name}: lost {} events: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(seen.len(), want.len(), "{name}: unexpected events");
    rotations
}

/// Follows while writer processes rotate the log many times; every event
/// must arrive exactly once, with and without a filter.
#[test]
fn follower_survives_rotation_without_loss_or_repeat() {
    let _heavy = heavy();
    let dir = tempdir();
    let path = dir.path().join("events.log");
    // a rotation every ~650 events; writers pace themselves to ~5000 events
    // a second each, so a follower only loses if it stalls for ~60 ms
    let max = 256 * 1024;
    let e = file_eventer(&path, max);
    // some history that a from-the-end follower must not see
    for i in 0..50 {
        ok(e.write(&Event::container(
            EventStatus::Stop,
            "old",
            format!("old-{i}"),
        )));
    }
    let (writers, per_writer) = (2usize, 3000usize);
    let all: Vec<String> = (0..writers)
        .flat_map(|w| (0..per_writer).map(move |i| format!("f{w}-{i}")))
        .collect();
    // writers alternate start (even i) and stop (odd i)
    let stops: Vec<String> = (0..writers)
        .flat_map(|w| (1..per_writer).step_by(2).map(move |i| format!("f{w}-{i}")))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let everything = spawn_follower(&path, max, &[], all.len(), &stop);
    let filtered = spawn_follower(&path, max, &["event=stop"], stops.len(), &stop);
    // let the followers reach the end before writing
    std::thread::sleep(Duration::from_millis(300));
    let children = (0..writers)
        .map(|w| spawn_writer(&path, max, &format!("f{w}"), per_writer, 2000))
        .collect();
    wait_ok(children);
    // give the followers time to catch up, then stop them if not finished
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(everything.is_finished() && filtered.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let rotations = check_follow("unfiltered", everything.join(), &all);
    assert!(rotations >= 3, "only {rotations} rotations");
    let rotations = check_follow("event=stop", filtered.join(), &stops);
    assert_eq!(rotations, 0, "the filter excludes rotation events");
}

fn mixed_log(path: &Path) -> (FileEventer, Timestamp) {
    let e = file_eventer(path, 0);
    let base: Timestamp = ok("2024-01-01T00:00:00Z".parse());
    let at = |mins: i64| base + SignedDuration::from_mins(mins);
    let events = [
        Event::container(EventStatus::Create, "aaa111", "web")
            .with_image("alpine")
            .with_time(at(0)),
        Event::container(EventStatus::Start, "aaa111", "web")
            .with_image("alpine")
            .with_time(at(1)),
        Event::container(EventStatus::Died, "bbb222", "db")
            .with_exit_code(1)
            .with_attribute("tier", "back")
            .with_time(at(2)),
        Event::pod(EventStatus::Create, "ccc333", "pod1").with_time(at(3)),
        Event::image(EventStatus::Pull, "ddd444", "alpine").with_time(at(4)),
        Event::volume(EventStatus::Create, "data").with_time(at(5)),
        Event::system(EventStatus::Refresh).with_time(at(6)),
        Event::container(EventStatus::Stop, "aaa111", "web")
            .with_attribute("tier", "front")
            .with_time(at(7)),
    ];
    for ev in &events {
        ok(e.write(ev));
    }
    (e, base)
}

fn names_with(e: &dyn Eventer, filters: &[&str]) -> Vec<String> {
    let options = ok(ReadOptions::parse(filters, None, None, Timestamp::now()));
    read_all(e, options)
        .into_iter()
        .map(|e| {
            format!(
                "{}:{}",
                e.status,
                if e.name.is_empty() { "-" } else { &e.name }
            )
        })
        .collect()
}

#[test]
fn every_filter_on_the_file_backend() {
    let dir = tempdir();
    let (e, _) = mixed_log(&dir.path().join("events.log"));
    let all = names_with(&e, &[]);
    assert_eq!(all.len(), 8);
    // system events read fine (podman 1.4 broke here)
    assert!(all.contains(&"refresh:-".to_string()));
    assert_eq!(
        names_with(&e, &["container=web"]),
        ["create:web", "start:web", "stop:web"]
    );
    assert_eq!(names_with(&e, &["container=bbb"]), ["died:db"]);
    assert_eq!(names_with(&e, &["event=died"]), ["died:db"]);
    assert_eq!(names_with(&e, &["status=die"]), ["died:db"]);
    assert_eq!(names_with(&e, &["image=alpine"]), ["pull:alpine"]);
    assert_eq!(names_with(&e, &["pod=pod1"]), ["create:pod1"]);
    assert_eq!(names_with(&e, &["pod=ccc"]), ["create:pod1"]);
    assert_eq!(names_with(&e, &["volume=da"]), ["create:data"]);
    assert_eq!(names_with(&e, &["type=system"]), ["refresh:-"]);
    assert_eq!(names_with(&e, &["label=tier"]), ["died:db", "stop:web"]);
    assert_eq!(names_with(&e, &["label=tier=front"]), ["stop:web"]);
    // same key OR, different keys AND
    assert_eq!(
        names_with(&e, &["event=create", "event=stop"]),
        ["create:web", "create:pod1", "create:data", "stop:web"]
    );
    assert_eq!(
        names_with(&e, &["event=create", "event=stop", "type=container"]),
        ["create:web", "stop:web"]
    );
    assert_eq!(
        names_with(&e, &["container=web", "container=db", "event=start"]),
        ["start:web"]
    );
    assert!(names_with(&e, &["container=nope"]).is_empty());
}

#[test]
fn unknown_filter_key_is_an_error_not_a_hang() {
    let dir = tempdir();
    let (e, _) = mixed_log(&dir.path().join("events.log"));
    let r = ReadOptions::parse(&["nonsense=1"], None, None, Timestamp::now());
    assert!(matches!(r, Err(Error::UnknownFilterKey { .. })));
    let r = ReadOptions::parse(&["container"], None, None, Timestamp::now());
    assert!(matches!(r, Err(Error::InvalidFilter { .. })));
    // even with follow, a reader built from valid options returns at the
    // stop signal
    let stop = Arc::new(AtomicBool::new(true));
    let n = read_all(
        &e,
        ReadOptions {
            follow: true,
            stop: Some(stop),
            ..Default::default()
        },
    )
    .len();
    assert_eq!(n, 0);
}

#[test]
fn every_time_form_bounds_the_read() {
    let dir = tempdir();
    let (e, base) = mixed_log(&dir.path().join("events.log"));
    let count = |since: Option<&str>, until: Option<&str>, now: Timestamp| {
        let options = ok(ReadOptions::parse(&[] as &[&str], since, until, now));
        read_all(&e, options).len()
    };
    let now = base + SignedDuration::from_mins(10);
    // events are at minutes 0..=7; bounds are exclusive
    assert_eq!(count(Some("2024-01-01T00:02:00Z"), None, now), 5);
    assert_eq!(count(Some("2024-01-01T00:02:00.5Z"), None, now), 5);
    assert_eq!(count(Some("2024-01-01T01:02:00+01:00"), None, now), 5);
    assert_eq!(count(Some("2024-01-01T00:02:00"), None, now), 5);
    assert_eq!(count(Some("2024-01-01T00:01:59.999999999"), None, now), 6);
    assert_eq!(count(None, Some("2024-01-01T00:02:00Z"), now), 2);
    assert_eq!(count(Some("2024-01-01"), None, now), 7);
    assert_eq!(count(Some("2023-12-31"), Some("2024-01-02Z"), now), 8);
    assert_eq!(count(None, Some("2024-01-01+01:00"), now), 0);
    let unix = base.as_second() + 180;
    assert_eq!(count(Some(&unix.to_string()), None, now), 4);
    assert_eq!(count(Some(&format!("{unix}.5")), None, now), 4);
    // durations: before now (minute 10)
    assert_eq!(count(Some("5m"), None, now), 2); // after minute 5: 6, 7
    assert_eq!(count(Some("4m30s"), None, now), 2);
    assert_eq!(count(Some("0.1h"), None, now), 3); // after minute 4
    assert_eq!(count(None, Some("8m"), now), 2); // before minute 2
    assert_eq!(count(Some("9m"), Some("5m"), now), 3); // minutes 2, 3, 4
    assert!(ReadOptions::parse(&[] as &[&str], Some("soon"), None, now).is_err());
    assert!(ReadOptions::parse(&[] as &[&str], None, Some("1d"), now).is_err());
}

#[test]
fn damaged_lines_are_skipped_and_the_rest_is_read() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let (e, _) = mixed_log(&path);
    {
        let mut f = ok(std::fs::OpenOptions::new().append(true).open(&path));
        ok(f.write_all(b"this is not json\n"));
        ok(f.write_all(
            b"{\"Status\":\"explode\",\"Type\":\"container\",\"Time\":\"2024-01-01T00:00:00Z\"}\n",
        ));
        ok(f.write_all(b"{\"Status\":\"start\",\"Type\":\"container\",\"Time\":\"not a time\"}\n"));
        ok(f.write_all(b"\n   \n"));
        ok(f.write_all(&[0xff, 0xfe, b'{', b'\n']));
    }
    ok(e.write(&Event::container(EventStatus::Remove, "aaa111", "web")));
    {
        let mut f = ok(std::fs::OpenOptions::new().append(true).open(&path));
        // an unfinished last line
        ok(f.write_all(b"{\"ContainerExitCode\":0,\"ID\":\"x"));
    }
    let all = names_with(&e, &[]);
    assert_eq!(all.len(), 9, "{all:?}");
    assert_eq!(all.last().map(String::as_str), Some("remove:web"));
    // a writer after the damage still produces good lines
    ok(e.write(&Event::container(EventStatus::Start, "aaa111", "web")));
    let all = names_with(&e, &["container=web"]);
    assert_eq!(all.last().map(String::as_str), Some("start:web"));
}

#[test]
fn follow_starts_at_the_end_and_stops_on_request() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let (e, _) = mixed_log(&path);
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let path = path.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let e = file_eventer(&path, 0);
            let mut got = Vec::new();
            let r = e.read(
                ReadOptions {
                    follow: true,
                    stop: Some(stop),
                    filters: vec![ok("container=late".parse())],
                    ..Default::default()
                },
                &mut |ev| {
                    got.push(ev.status);
                    ControlFlow::Continue(())
                },
            );
            (r.is_ok(), got)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    ok(e.write(&Event::container(EventStatus::Create, "late1", "late")));
    ok(e.write(&Event::container(EventStatus::Start, "zzz9", "other")));
    ok(e.write(&Event::container(EventStatus::Start, "late1", "late")));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let stopped_at = Instant::now();
    let Ok((is_ok, got)) = follower.join() else {
        panic!("follower panicked")
    };
    assert!(stopped_at.elapsed() < Duration::from_secs(2));
    assert!(is_ok);
    // not the old history, only the new matching events
    assert_eq!(got, [EventStatus::Create, EventStatus::Start]);
}

#[test]
fn follow_with_since_replays_then_ends_at_until() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let (e, base) = mixed_log(&path);
    // until is in the past: replay what is before it, then stop on our own
    let got = read_all(
        &e,
        ReadOptions {
            follow: true,
            since: Some(base),
            until: Some(base + SignedDuration::from_mins(3)),
            ..Default::default()
        },
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn missing_log_reads_empty_and_follow_waits_for_it() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let e = file_eventer(&path, 0);
    ok(std::fs::remove_file(&path));
    assert!(read_all(&e, ReadOptions::default()).is_empty());
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let path = path.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let e = file_eventer(&path, 0);
            ok(std::fs::remove_file(&path));
            let mut got = Vec::new();
            let r = e.read(
                ReadOptions {
                    follow: true,
                    stop: Some(stop),
                    ..Default::default()
                },
                &mut |ev| {
                    got.push(ev.name);
                    ControlFlow::Break(())
                },
            );
            (r.is_ok(), got)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    ok(e.write(&Event::volume(EventStatus::Create, "born")));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !follower.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let Ok((is_ok, got)) = follower.join() else {
        panic!("follower panicked")
    };
    assert!(is_ok);
    assert_eq!(got, ["born"]);
}

#[test]
fn sequence_survives_a_lost_lock_file() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let e = file_eventer(&path, 0);
    for _ in 0..5 {
        ok(e.write(&Event::system(EventStatus::Renumber)));
    }
    drop(e);
    ok(std::fs::remove_file(dir.path().join("events.log.lock")));
    let e = file_eventer(&path, 0);
    ok(e.write(&Event::system(EventStatus::Migrate)));
    let text = ok(std::fs::read_to_string(&path));
    let last = text.lines().last().unwrap_or_default();
    let v: serde_json::Value = ok(serde_json::from_str(last));
    assert_eq!(v["Seq"].as_u64(), Some(6));
}

#[test]
fn new_eventer_builds_the_file_backend() {
    let dir = tempdir();
    let path: PathBuf = dir.path().join("a").join("b").join("events.log");
    let e = ok(new_eventer(EventerOptions::file(&path)));
    assert_eq!(e.backend(), Backend::File);
    assert!(path.exists(), "the log is created with the eventer");
    ok(e.write(&Event::pod(EventStatus::Create, "p1", "pod")));
    assert_eq!(read_all(e.as_ref(), ReadOptions::default()).len(), 1);
}

#[test]
fn rotation_keeps_an_unfinished_line_apart() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let unbounded = file_eventer(&path, 0);
    for i in 0..20 {
        ok(unbounded.write(&Event::volume(EventStatus::Create, format!("v{i}"))));
    }
    {
        let mut f = ok(std::fs::OpenOptions::new().append(true).open(&path));
        ok(f.write_all(b"{\"ContainerExitCode\":0,\"ID\":\"unfinished"));
    }
    // the log is already past this limit: the next write rotates, and the
    // unfinished line is at the end of the kept half
    let bounded = file_eventer(&path, 1000);
    ok(bounded.write(&Event::volume(EventStatus::Create, "last")));
    let evs = read_all(&bounded, ReadOptions::default());
    let kinds: Vec<(EventStatus, String)> = evs
        .iter()
        .rev()
        .take(2)
        .map(|e| (e.status, e.name.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventStatus::Create, "last".to_string()),
            (EventStatus::LogRotation, String::new())
        ]
    );
    let text = ok(std::fs::read_to_string(&path));
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Event>(l).is_err())
        .collect();
    assert_eq!(bad, ["{\"ContainerExitCode\":0,\"ID\":\"unfinished"]);
}

#[test]
fn follow_ends_when_the_clock_passes_until() {
    let dir = tempdir();
    let path = dir.path().join("events.log");
    let e = file_eventer(&path, 0);
    let started = Instant::now();
    let mut got = 0;
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let e = file_eventer(&path, 0);
            ok(e.write(&Event::system(EventStatus::Sync)));
        })
    };
    ok(e.read(
        ReadOptions {
            follow: true,
            until: Some(Timestamp::now() + SignedDuration::from_millis(600)),
            ..Default::default()
        },
        &mut |_| {
            got += 1;
            ControlFlow::Continue(())
        },
    ));
    let took = started.elapsed();
    assert!(writer.join().is_ok());
    assert_eq!(got, 1, "the event written while following arrives");
    assert!(took >= Duration::from_millis(550), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
