//! Benchmarks: spec generation, bundle writing, log reading, runtime
//! message cleaning, and (as root with runc + conmon) a full
//! create → start → exit → delete cycle of `true`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oxpod_ociruntime::{
    BundlePaths, Conmon, ContainerSpec, CreateOptions, LogOptions, OciRuntime,
    clean_runtime_message, generate_spec, read_log, wait_exit_file, write_bundle,
};

fn spec(id: &str, rootfs: &Path) -> ContainerSpec {
    ContainerSpec {
        id: id.to_owned(),
        rootfs: rootfs.to_path_buf(),
        args: vec!["true".into()],
        cgroup_parent: Some(format!("/oxpod-bench-{}", std::process::id())),
        ..Default::default()
    }
}

fn bench_spec(c: &mut Criterion) {
    let s = spec("0123456789abcdef", Path::new("/tmp/rootfs"));
    c.bench_function("generate_spec", |b| {
        b.iter(|| generate_spec(black_box(&s)));
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = generate_spec(&s).expect("spec");
    c.bench_function("write_bundle", |b| {
        b.iter(|| write_bundle(black_box(dir.path()), black_box(&generated)));
    });
}

fn bench_logs(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ctr.log");
    let mut text = String::new();
    for i in 0..10_000 {
        let tag = if i % 10 == 0 { "P" } else { "F" };
        text.push_str(&format!(
            "2026-11-28T20:25:46.123456789+00:00 stdout {tag} line number {i} of the log\n"
        ));
    }
    std::fs::write(&path, text).expect("write log");
    c.bench_function("read_log_10k_lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            read_log(
                &path,
                &LogOptions::default(),
                || false,
                |_| {
                    n += 1;
                    true
                },
            )
            .expect("read");
            n
        });
    });
    let msg = "time=\"2026-11-28T20:25:46Z\" level=error msg=\"runc create failed: unable to start container process: exec: \\\"/bin/nonexistent\\\": stat /bin/nonexistent: no such file or directory\"\n";
    c.bench_function("clean_runtime_message", |b| {
        b.iter(|| clean_runtime_message(black_box(msg)));
    });
}

fn busybox_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::copy("/usr/bin/busybox", bin.join("busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("busybox", bin.join("true")).expect("symlink");
    rootfs
}

fn bench_lifecycle(c: &mut Criterion) {
    let tools = ["/usr/sbin/runc", "/usr/bin/conmon", "/usr/bin/busybox"];
    if !nix::unistd::geteuid().is_root() || tools.iter().any(|t| !Path::new(t).exists()) {
        eprintln!("skipped: lifecycle bench needs root, runc, conmon and busybox");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = busybox_rootfs(dir.path());
    let runtime = OciRuntime::new("runc", "/usr/sbin/runc").with_root(dir.path().join("runc"));
    let conmon = Conmon::new("/usr/bin/conmon");
    let exits = dir.path().join("exits");
    let mut n = 0u64;
    c.bench_function("create_start_exit_delete_true", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("oxpod-bench-{}-{n}", std::process::id());
            let paths = BundlePaths::new(dir.path().join(&id));
            let generated = generate_spec(&spec(&id, &rootfs)).expect("spec");
            write_bundle(&paths.dir, &generated).expect("bundle");
            conmon
                .create(&CreateOptions {
                    id: id.clone(),
                    name: id.clone(),
                    bundle_dir: paths.dir.clone(),
                    runtime: &runtime,
                    exit_dir: exits.clone(),
                    log_path: paths.log.clone(),
                    pid_file: paths.pid_file.clone(),
                    conmon_pid_file: paths.conmon_pid_file.clone(),
                    socket_dir: dir.path().join("socket"),
                    log_level: String::new(),
                    exit_command: None,
                    terminal: false,
                    stdin: false,
                    settings: Default::default(),
                    hold: &[],
                })
                .expect("create");
            runtime.start(&id).expect("start");
            let code = wait_exit_file(&exits, &id, Some(Duration::from_secs(10))).expect("wait");
            assert_eq!(code, Some(0));
            runtime.delete(&id, true).expect("delete");
        });
    });
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            let _ =
                std::fs::remove_dir(e.path().join(format!("oxpod-bench-{}", std::process::id())));
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_spec, bench_logs, bench_lifecycle
}
criterion_main!(benches);
