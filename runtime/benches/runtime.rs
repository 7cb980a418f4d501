//! Benchmarks of the composed runtime, through its public API: opening it
//! (the whole init order), creating a container (lock, bundle, record,
//! event), and listing 1 000 containers (one read transaction, no lock, no
//! process). Each run has its own temp dirs and lock segment.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oxpod_runtime::{ContainerRef, NewContainer, Runtime, RuntimeOptions, config};

fn options(dir: &Path, lock_name: &str) -> RuntimeOptions {
    RuntimeOptions::new()
        .system_files(Vec::new())
        .user_file(None)
        .env_file(None)
        .static_dir(dir.join("root"))
        .tmp_dir(dir.join("run"))
        .lock_name(lock_name)
        .num_locks(4096)
        .cgroup_manager(config::CgroupManager::Cgroupfs)
}

fn new_container(rootfs: &Path) -> NewContainer {
    NewContainer {
        rootfs: rootfs.to_path_buf(),
        command: vec!["true".into()],
        ..NewContainer::default()
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    let lock_name = format!("/oxpod_bench_runtime_{}", std::process::id());
    let opts = options(dir.path(), &lock_name);
    let rt = match Runtime::open(opts.clone()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skipped: cannot open a runtime here ({e}); run `cargo xtask deps`");
            return;
        }
    };
    c.bench_function("open (warm, no refresh)", |b| {
        b.iter(|| black_box(Runtime::open(opts.clone()).expect("open")))
    });
    c.bench_function("create + remove", |b| {
        b.iter(|| {
            let ctr = rt
                .containers()
                .create(new_container(&rootfs))
                .expect("create");
            rt.containers()
                .remove(&ContainerRef::from(&ctr), false)
                .expect("remove");
        })
    });
    for _ in 0..1000 {
        rt.containers()
            .create(new_container(&rootfs))
            .expect("create");
    }
    c.bench_function("list 1000 containers", |b| {
        b.iter(|| black_box(rt.containers().list(&[]).expect("list")))
    });
    let _ = std::fs::remove_file(Path::new("/dev/shm").join(lock_name.trim_start_matches('/')));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
