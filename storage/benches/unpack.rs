//! Criterion benchmarks of layer unpack throughput: a busybox-sized layer
//! (the busybox binary, its applet links, and a few hundred small files),
//! gzip-compressed, unpacked by oxpod's confined unpacker, next to
//! `tar xzf` of the same blob (the floor: GNU tar writes without any of
//! the confinement checks).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use oxpod_storage::{UnpackLimits, unpack_layer};

fn layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).expect("name");
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, data).expect("entry");
    };
    let busybox = std::fs::read("/usr/bin/busybox").unwrap_or_else(|_| vec![0x7f; 2 << 20]);
    add("bin/busybox", &busybox, 0o755);
    let text = vec![b'x'; 2048];
    for d in 0..20 {
        for f in 0..20 {
            add(&format!("usr/share/d{d}/f{f}"), &text, 0o644);
        }
    }
    b.into_inner().expect("tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn fresh(base: &Path, n: &mut u64) -> std::path::PathBuf {
    *n += 1;
    let d = base.join(n.to_string());
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn unpack(c: &mut Criterion) {
    let plain = layer();
    let blob = gzip(&plain);
    let base = tempfile::tempdir().expect("temp dir");
    let archive = base.path().join("layer.tar.gz");
    std::fs::write(&archive, &blob).expect("write blob");
    let mut group = c.benchmark_group("unpack a gzip layer");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let mut n = 0;
    group.bench_function("oxpod unpack_layer", |b| {
        b.iter(|| {
            let dir = fresh(base.path(), &mut n);
            unpack_layer("sha256:bench", &blob[..], &dir, &UnpackLimits::default())
                .expect("unpack");
        })
    });
    group.bench_function("tar xzf (the floor)", |b| {
        b.iter(|| {
            let dir = fresh(base.path(), &mut n);
            let st = Command::new("tar")
                .arg("-xzf")
                .arg(&archive)
                .arg("-C")
                .arg(&dir)
                .status()
                .expect("tar");
            assert!(st.success());
        })
    });
    group.finish();
}

criterion::criterion_group!(benches, unpack);
criterion::criterion_main!(benches);
