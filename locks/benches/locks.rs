//! Criterion benchmarks of the lock layer: uncontended lock+unlock,
//! allocate+free, opening a 2048-lock segment, and two processes contending
//! on one lock (the bench binary re-executes itself as the second process).

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::Criterion;
use oxpod_locks::{LockManager, MemLockManager, ShmLockManager};

const CHILD: &str = "OXPOD_LOCKS_BENCH_CHILD";
const STOP: &str = "OXPOD_LOCKS_BENCH_STOP";

/// A bench segment, removed on drop.
struct Segment(String);

impl Segment {
    fn new(what: &str) -> Self {
        let name = format!("/oxpod_bench_{}_{what}", std::process::id());
        let _ = ShmLockManager::remove(&name);
        Self(name)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = ShmLockManager::remove(&self.0);
    }
}

fn uncontended(c: &mut Criterion) {
    let seg = Segment::new("uncontended");
    let shm = ShmLockManager::create(&seg.0, 2048).expect("create segment");
    let lock = shm.retrieve(0).expect("lock 0");
    c.bench_function("shm lock+unlock uncontended", |b| {
        b.iter(|| drop(black_box(lock.lock().expect("lock"))))
    });
    c.bench_function("shm try_lock+unlock uncontended", |b| {
        b.iter(|| drop(black_box(lock.try_lock().expect("try_lock"))))
    });
    let mem = MemLockManager::new(2048).expect("mem manager");
    let mem_lock = mem.retrieve(0).expect("lock 0");
    c.bench_function("mem lock+unlock uncontended", |b| {
        b.iter(|| drop(black_box(mem_lock.lock().expect("lock"))))
    });
}

fn allocate_free(c: &mut Criterion) {
    let seg = Segment::new("alloc");
    let shm = ShmLockManager::create(&seg.0, 2048).expect("create segment");
    // Half full, so the scan passes some full groups.
    for _ in 0..1024 {
        shm.allocate().expect("allocate");
    }
    c.bench_function("shm allocate+free (1024 of 2048 in use)", |b| {
        b.iter(|| {
            let id = shm.allocate().expect("allocate").id();
            shm.free(black_box(id)).expect("free");
        })
    });
    let mem = MemLockManager::new(2048).expect("mem manager");
    for _ in 0..1024 {
        mem.allocate().expect("allocate");
    }
    c.bench_function("mem allocate+free (1024 of 2048 in use)", |b| {
        b.iter(|| {
            let id = mem.allocate().expect("allocate").id();
            mem.free(black_box(id)).expect("free");
        })
    });
}

fn open(c: &mut Criterion) {
    let seg = Segment::new("open");
    drop(ShmLockManager::create(&seg.0, 2048).expect("create segment"));
    c.bench_function("shm open 2048-lock segment", |b| {
        b.iter(|| black_box(ShmLockManager::open(&seg.0, 2048).expect("open")))
    });
    let seg2 = Segment::new("create");
    c.bench_function("shm create+remove 2048-lock segment", |b| {
        b.iter(|| {
            drop(black_box(
                ShmLockManager::create(&seg2.0, 2048).expect("create"),
            ));
            ShmLockManager::remove(&seg2.0).expect("remove");
        })
    });
}

fn contended(c: &mut Criterion) {
    let seg = Segment::new("contended");
    let shm = ShmLockManager::create(&seg.0, 32).expect("create segment");
    let lock = shm.retrieve(0).expect("lock 0");
    let stop = std::env::temp_dir().join(format!("oxpod_bench_stop_{}", std::process::id()));
    let _ = std::fs::remove_file(&stop);
    let exe = std::env::current_exe().expect("bench binary");
    let mut child = Command::new(exe)
        .env(CHILD, &seg.0)
        .env(STOP, &stop)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn contending process");
    let mut ready = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut ready);
    }
    c.bench_function("shm lock+unlock, 2 processes contending", |b| {
        b.iter(|| drop(black_box(lock.lock().expect("lock"))))
    });
    let _ = std::fs::write(&stop, b"stop");
    let _ = child.wait();
    let _ = std::fs::remove_file(&stop);
}

/// The second process of `contended`: lock+unlock lock 0 until told to stop.
fn contend_child(name: &str) {
    let stop = PathBuf::from(std::env::var_os(STOP).unwrap_or_default());
    let shm = ShmLockManager::open(name, 32).expect("open segment");
    let lock = shm.retrieve(0).expect("lock 0");
    println!("ready");
    let mut rounds = 0u64;
    while !stop.exists() {
        for _ in 0..1000 {
            drop(black_box(lock.lock().expect("lock")));
        }
        rounds += 1000;
    }
    eprintln!("contending process: {rounds} lock+unlock");
}

fn main() {
    if let Ok(name) = std::env::var(CHILD) {
        contend_child(&name);
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    uncontended(&mut c);
    allocate_free(&mut c);
    open(&mut c);
    contended(&mut c);
    c.final_summary();
}
