//! Benchmarks: writing one event to the file log, and reading and filtering
//! 1 000 000 events from a file (generated once per run).

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oxpod_events::{Event, EventStatus, Eventer, FileEventer, ReadOptions};

const N: usize = 1_000_000;

fn open(path: &std::path::Path, max: u64) -> FileEventer {
    match FileEventer::open(path, max) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    }
}

fn count(e: &FileEventer, options: &ReadOptions) -> usize {
    let mut n = 0;
    if let Err(err) = e.read(options.clone(), &mut |ev| {
        black_box(&ev);
        n += 1;
        ControlFlow::Continue(())
    }) {
        panic!("{err}");
    }
    n
}

fn benches(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };

    let w = open(
        &dir.path().join("write.log"),
        oxpod_events::DEFAULT_MAX_SIZE,
    );
    let ev = Event::container(EventStatus::Start, "f".repeat(64), "web").with_image("alpine");
    c.bench_function("write one event (file, 1 MiB rotation)", |b| {
        b.iter(|| w.write(black_box(&ev)))
    });

    // 1M events: 1000 containers x 1000 statuses cycling
    let path = dir.path().join("big.log");
    let big = open(&path, 0);
    let statuses = [
        EventStatus::Create,
        EventStatus::Init,
        EventStatus::Start,
        EventStatus::Stop,
        EventStatus::Died,
        EventStatus::Cleanup,
        EventStatus::Remove,
    ];
    let started = std::time::Instant::now();
    for i in 0..N {
        let c = i % 1000;
        let ev = Event::container(
            statuses[i % statuses.len()],
            format!("{c:064x}"),
            format!("ctr-{c}"),
        )
        .with_image("docker.io/library/alpine:latest");
        if let Err(e) = big.write(&ev) {
            panic!("{e}");
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "generated {N} events ({} MB) in {:.1?}",
        size / 1_000_000,
        started.elapsed()
    );

    let now = jiff::Timestamp::now();
    let one_ctr = match ReadOptions::parse(&["container=ctr-7"], None, None, now) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(count(&big, &one_ctr), 1000);
    let status_since =
        match ReadOptions::parse(&["event=died", "event=start"], Some("1h"), None, now) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
    let all = ReadOptions::default();

    let mut g = c.benchmark_group("read 1M events");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("filter container=ctr-7 (1000 match)", |b| {
        b.iter(|| count(&big, &one_ctr))
    });
    g.bench_function("filter event=died,start + since 1h (285k match)", |b| {
        b.iter(|| count(&big, &status_since))
    });
    g.bench_function("no filter (1M owned events)", |b| {
        b.iter(|| count(&big, &all))
    });
    g.finish();
}

criterion_group! {
    name = events;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = benches
}
criterion_main!(events);
