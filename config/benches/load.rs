//! Benchmarks of configuration loading: the podman fixture through a full
//! layer stack, and serialising the effective configuration.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oxpod_config::{Identity, Loader};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libpod.conf")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc.conf");
    std::fs::write(
        &etc,
        "num_locks = 4096\n[runtimes]\nkata = [\"/usr/bin/kata\"]\n",
    )
    .expect("write etc.conf");
    let loader = Loader::new(Identity::root())
        .system_files([fixture(), etc])
        .user_file(None)
        .flag("namespace", "bench")
        .flag("cgroup_manager", "cgroupfs");

    c.bench_function("load fixture + file + flags", |b| {
        b.iter(|| black_box(loader.load().expect("load")))
    });
    let loaded = loader.load().expect("load");
    c.bench_function("to_toml", |b| {
        b.iter(|| black_box(loaded.to_toml().expect("to_toml")))
    });
    c.bench_function("validate", |b| {
        b.iter(|| black_box(loaded.validate().is_ok()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
