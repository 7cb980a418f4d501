//! The journald backend against a real systemd-journald. `cargo xtask ci`
//! starts one; run by hand without it, each test prints why it did not run
//! (with CI=true it fails instead).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use oxpod_events::{
    Backend, Event, EventStatus, Eventer, EventerOptions, JOURNAL_SOCKET, JournaldEventer,
    ReadOptions, new_eventer,
};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The eventer, or `None` (after saying why) when journald is not running
/// and we are not in CI.
fn journald() -> Option<JournaldEventer> {
    match JournaldEventer::open() {
        Ok(e) => Some(e),
        Err(e) => {
            oxpod_test_support::skip_or_fail(&format!("journald: {e}"));
            None
        }
    }
}

/// A name no other run uses.
fn unique(tag: &str) -> String {
    // The journal outlives the run: the time keeps a reused pid apart.
    let nanos = Timestamp::now().as_nanosecond();
    format!(
        "{}-{nanos}",
        oxpod_test_support::unique(&format!("oxpod-test-{tag}"))
    )
}

/// Reads (without follow) until `want` matching events are there; journald
/// stores datagrams asynchronously.
fn read_until(e: &dyn Eventer, options: &ReadOptions, want: usize) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut got = Vec::new();
        ok(e.read(options.clone(), &mut |ev| {
            got.push(ev);
            ControlFlow::Continue(())
        }));
        if got.len() >= want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn write_then_read_back_with_filters() {
    let Some(e) = journald() else { return };
    let name = unique("rw");
    // low-order digits first, so the 12-character prefix is unique too
    let hex: String = format!("{:x}", Timestamp::now().as_nanosecond())
        .chars()
        .rev()
        .collect();
    let id: String = hex.repeat(64).chars().take(64).collect();
    let since = Timestamp::now() - SignedDuration::from_secs(2);
    let events = [
        Event::container(EventStatus::Create, &id, &name).with_image("alpine"),
        Event::container(EventStatus::Start, &id, &name)
            .with_image("alpine")
            .with_attribute("app", "multi\nline"),
        Event::container(EventStatus::Died, &id, &name)
            .with_image("alpine")
            .with_exit_code(137),
    ];
    for ev in &events {
        ok(e.write(ev));
    }
    let mut options = ok(ReadOptions::parse(
        &[format!("container={name}")],
        None,
        None,
        Timestamp::now(),
    ));
    options.since = Some(since);
    let got = read_until(&e, &options, 3);
    assert_eq!(got, events, "exact round trip through the journal");
    // journalctl field matches (type, event) plus our own filters
    let mut options = ok(ReadOptions::parse(
        &[
            format!("container={}", &id[..12]),
            "event=died".into(),
            "type=container".into(),
        ],
        None,
        None,
        Timestamp::now(),
    ));
    options.since = Some(since);
    let got = read_until(&e, &options, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].container_exit_code, 137);
    // same key OR
    let mut options = ok(ReadOptions::parse(
        &[
            format!("container={name}"),
            "event=create".into(),
            "event=died".into(),
        ],
        None,
        None,
        Timestamp::now(),
    ));
    options.since = Some(since);
    let got: Vec<EventStatus> = read_until(&e, &options, 2)
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(got, [EventStatus::Create, EventStatus::Died]);
    // until before them: nothing
    let mut options = ok(ReadOptions::parse(
        &[format!("container={name}")],
        None,
        None,
        Timestamp::now(),
    ));
    options.until = Some(since);
    let mut n = 0;
    ok(e.read(options, &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    }));
    assert_eq!(n, 0);
}

#[test]
fn follow_sees_new_entries_and_stops() {
    let Some(e) = journald() else { return };
    let name = unique("follow");
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let stop = stop.clone();
        let name = name.clone();
        std::thread::spawn(move || {
            let e = ok(new_eventer(EventerOptions {
                backend: Backend::Journald,
                log_path: Default::default(),
                max_size: 0,
            }));
            let mut got = Vec::new();
            let options = ReadOptions {
                filters: vec![ok(format!("volume={name}").parse())],
                follow: true,
                stop: Some(stop),
                ..Default::default()
            };
            let r = e.read(options, &mut |ev| {
                got.push(ev.status);
                if got.len() == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            (r.map_err(|e| e.to_string()), got)
        })
    };
    // let journalctl start and reach the end of the journal
    std::thread::sleep(Duration::from_millis(700));
    ok(e.write(&Event::volume(EventStatus::Create, &name)));
    ok(e.write(&Event::volume(EventStatus::Remove, &name)));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !follower.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let Ok((result, got)) = follower.join() else {
        panic!("follower panicked")
    };
    assert_eq!(result, Ok(()));
    assert_eq!(got, [EventStatus::Create, EventStatus::Remove]);
}

#[test]
fn a_stopped_follow_returns_promptly() {
    let Some(e) = journald() else { return };
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        s2.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let r = e.read(
        ReadOptions {
            filters: vec![ok(format!("container={}", unique("never")).parse())],
            follow: true,
            stop: Some(stop),
            ..Default::default()
        },
        &mut |_| ControlFlow::Continue(()),
    );
    assert!(r.is_ok(), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(t.join().is_ok());
    // the socket is where we expect it
    assert!(std::path::Path::new(JOURNAL_SOCKET).exists());
}
