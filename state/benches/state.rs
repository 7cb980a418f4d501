//! Benchmarks of the state with 10 000 containers: add, lookup by name,
//! lookup by a 12-character id prefix, get by full id, and list all.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oxpod_state::{Container, ContainerConfig, InMemoryState, LmdbOptions, LmdbState, State};

const N: u64 = 10_000;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn id(i: u64) -> String {
    (0..4).map(|k| format!("{:016x}", mix(i * 4 + k))).collect()
}

fn ctr(i: u64) -> Container {
    Container {
        config: ContainerConfig {
            id: id(i),
            name: format!("ctr-{i}"),
            lock_id: i as u32,
            rootfs: format!("/var/lib/rootfs/{i}").into(),
            command: vec!["/bin/sh".into(), "-c".into(), "sleep 1000".into()],
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin".into()],
            oci_runtime: "runc".into(),
            stop_signal: 15,
            stop_timeout: 10,
            log_path: format!("/var/lib/oxpod/{i}/ctr.log").into(),
            ..Default::default()
        },
        state: Default::default(),
    }
}

fn fill(s: &mut dyn State) {
    for i in 0..N {
        s.add_container(&ctr(i)).expect("add");
    }
}

fn run(c: &mut Criterion, label: &str, s: &mut dyn State) {
    fill(s);
    let mut g = c.benchmark_group(label);
    let name = format!("ctr-{}", N / 2);
    g.bench_function("lookup_name", |b| {
        b.iter(|| black_box(s.lookup_container(black_box(&name)).expect("lookup")))
    });
    let prefix = id(N / 3)[..12].to_string();
    g.bench_function("lookup_prefix12", |b| {
        b.iter(|| black_box(s.lookup_container(black_box(&prefix)).expect("lookup")))
    });
    let full = id(N / 4);
    g.bench_function("get_full_id", |b| {
        b.iter(|| black_box(s.container(black_box(&full)).expect("get")))
    });
    g.bench_function("list_all", |b| {
        b.iter(|| {
            let l = s.all_containers().expect("list");
            assert!(l.items.len() >= N as usize);
            black_box(l)
        })
    });
    let mut next = N;
    g.bench_function("add", |b| {
        b.iter(|| {
            s.add_container(&ctr(next)).expect("add");
            next += 1;
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lmdb = LmdbState::open(dir.path(), &LmdbOptions::default()).expect("open");
    run(c, "lmdb_10k", &mut lmdb);
    let mut mem = InMemoryState::new();
    run(c, "memory_10k", &mut mem);
}

criterion_group! {
    name = state;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = benches
}
criterion_main!(state);
