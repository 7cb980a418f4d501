//! Tests across processes: each one re-executes this test binary as a child
//! (`--exact <test>` with an environment variable naming its role), so the
//! locks are exercised between real, separate processes.

mod common;

use std::time::Duration;

use common::{COUNT, ChildProc, FILE, LOCK, SEGMENT, TestSegment, child_role, tell_parent, var};
use oxpod_locks::{Error, LockManager, ShmLockManager};

fn open_in_child() -> (ShmLockManager, u32) {
    let m = ShmLockManager::open(&var(SEGMENT), COUNT).expect("child opens the segment");
    let id = var(LOCK).parse().expect("lock id");
    (m, id)
}

#[test]
fn cross_process_exclusion() {
    const TEST: &str = "cross_process_exclusion";
    if child_role(TEST) {
        let (m, id) = open_in_child();
        let guard = m.retrieve(id).unwrap().lock().unwrap();
        tell_parent("HOLDING");
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(var(FILE), "released by child").unwrap();
        drop(guard);
        return;
    }
    let seg = TestSegment::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("order");
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    let lock = m.retrieve(17).unwrap();
    let mut child = ChildProc::spawn(
        TEST,
        &[
            (SEGMENT, &seg.name),
            (LOCK, "17"),
            (FILE, file.to_str().unwrap()),
        ],
    );
    child.wait_for("HOLDING");
    assert!(lock.try_lock().unwrap().is_none(), "the child holds it");
    assert_eq!(lock.holder(), Some(child.pid()));
    assert_eq!(m.holders().unwrap().get(&17), Some(&child.pid()));
    let guard = lock.lock().unwrap();
    // We only got the lock after the child wrote the file and released it.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "released by child");
    assert!(!guard.owner_died());
    assert_eq!(lock.holder(), Some(std::process::id() as i32));
    drop(guard);
    child.finish();
}

#[test]
fn timeout_names_the_holding_process() {
    const TEST: &str = "timeout_names_the_holding_process";
    if child_role(TEST) {
        let (m, id) = open_in_child();
        let _guard = m.retrieve(id).unwrap().lock().unwrap();
        tell_parent("HOLDING");
        // Hold until the parent is done (it kills us).
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    let mut child = ChildProc::spawn(TEST, &[(SEGMENT, &seg.name), (LOCK, "5")]);
    child.wait_for("HOLDING");
    let err = m
        .retrieve(5)
        .unwrap()
        .lock_timeout(Duration::from_millis(50))
        .unwrap_err();
    let pid = child.pid();
    assert!(
        matches!(err, Error::Timeout { id: 5, holder: Some(p), .. } if p == pid),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("process {pid}")), "{err}");
}

#[test]
fn owner_death_is_recovered() {
    const TEST: &str = "owner_death_is_recovered";
    if child_role(TEST) {
        let (m, id) = open_in_child();
        let guard = m.retrieve(id).unwrap().lock().unwrap();
        tell_parent("HOLDING");
        std::thread::sleep(Duration::from_secs(60));
        drop(guard);
        return;
    }
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    let lock = m.retrieve(42).unwrap();
    let mut child = ChildProc::spawn(TEST, &[(SEGMENT, &seg.name), (LOCK, "42")]);
    child.wait_for("HOLDING");
    let dead = child.pid();
    assert_eq!(m.holders().unwrap().get(&42), Some(&dead));
    child.child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.child.wait().unwrap();

    let log = common::Captured::default();
    let guard = log.during(|| lock.lock().unwrap());
    assert!(guard.owner_died());
    assert_eq!(guard.dead_holder(), Some(dead));
    let me = std::process::id() as i32;
    assert_eq!(
        m.holders().unwrap().get(&42),
        Some(&me),
        "the table no longer names the child"
    );
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains(&format!("process {dead}")),
        "a warning naming the dead pid: {text}"
    );
    drop(guard);
    assert!(m.holders().unwrap().is_empty());
    let again = lock.lock().unwrap();
    assert!(!again.owner_died(), "recovered for good");
}

#[test]
fn eight_processes_lose_no_increment() {
    const TEST: &str = "eight_processes_lose_no_increment";
    const PROCS: usize = 8;
    const ROUNDS: u64 = 1000;
    if child_role(TEST) {
        let (m, id) = open_in_child();
        let lock = m.retrieve(id).unwrap();
        let file = var(FILE);
        for _ in 0..ROUNDS {
            let _guard = lock.lock().unwrap();
            let n: u64 = std::fs::read_to_string(&file)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            std::fs::write(&file, (n + 1).to_string()).unwrap();
        }
        return;
    }
    let seg = TestSegment::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counter");
    std::fs::write(&file, "0").unwrap();
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    let id = m.allocate().unwrap().id().to_string();
    let children: Vec<ChildProc> = (0..PROCS)
        .map(|_| {
            ChildProc::spawn(
                TEST,
                &[
                    (SEGMENT, &seg.name),
                    (LOCK, &id),
                    (FILE, file.to_str().unwrap()),
                ],
            )
        })
        .collect();
    for child in children {
        child.finish();
    }
    let total: u64 = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(total, PROCS as u64 * ROUNDS);
    assert!(m.holders().unwrap().is_empty());
}

#[test]
fn allocations_are_shared_between_processes() {
    const TEST: &str = "allocations_are_shared_between_processes";
    if child_role(TEST) {
        let m = ShmLockManager::open(&var(SEGMENT), COUNT).unwrap();
        // The parent allocated 0 and 1; the child gets 2, then marks 40.
        assert_eq!(m.allocate().unwrap().id(), 2);
        m.allocate_given(40).unwrap();
        m.free(0).unwrap();
        return;
    }
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    m.allocate().unwrap();
    m.allocate().unwrap();
    ChildProc::spawn(TEST, &[(SEGMENT, &seg.name)]).finish();
    assert_eq!(m.allocated().unwrap(), vec![1, 2, 40]);
    assert_eq!(m.available().unwrap(), COUNT - 3);
    assert_eq!(m.allocate().unwrap().id(), 0);
}

/// Unmaps every mapping of shared-memory segment `name` in this process
/// (found in /proc/self/maps).
#[allow(unsafe_code)]
fn unmap_segment(name: &str) {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let path = format!("/dev/shm{name}");
    let mut found = 0;
    for line in maps.lines().filter(|l| l.ends_with(&path)) {
        let range = line.split_whitespace().next().unwrap();
        let (a, b) = range.split_once('-').unwrap();
        let start = usize::from_str_radix(a, 16).unwrap();
        let end = usize::from_str_radix(b, 16).unwrap();
        // SAFETY: the range is a whole mapping of this process, of the
        // segment only; nothing touches it again (every handle to it was
        // leaked and the process exits right after).
        let rc = unsafe { libc::munmap(start as *mut libc::c_void, end - start) };
        assert_eq!(rc, 0, "munmap {range}");
        found += 1;
    }
    assert!(found > 0, "no mapping of {path} in\n{maps}");
}

/// fault-findings 3: a holder that unmaps the segment before it dies (a
/// script's finalisers do; so would any program that drops its mapping
/// while holding a lock) leaves the kernel unable to mark the mutex, so
/// it stayed held by a thread that no longer existed. The waiter now sees
/// the thread is gone and recovers the lock.
#[test]
fn a_holder_that_unmapped_the_segment_before_dying_is_recovered() {
    const TEST: &str = "a_holder_that_unmapped_the_segment_before_dying_is_recovered";
    if child_role(TEST) {
        let (m, id) = open_in_child();
        let guard = m.retrieve(id).unwrap().lock().unwrap();
        // Neither unlocked nor left mapped: the guard and the manager are
        // leaked and the segment is unmapped under them, as a process that
        // drops its mapping while holding a lock would.
        std::mem::forget(guard);
        std::mem::forget(m);
        unmap_segment(&var(SEGMENT));
        tell_parent("HOLDING");
        std::process::exit(0);
    }
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, COUNT).unwrap();
    let lock = m.retrieve(9).unwrap();
    let mut child = ChildProc::spawn(TEST, &[(SEGMENT, &seg.name), (LOCK, "9")]);
    child.wait_for("HOLDING");
    child.child.wait().unwrap();
    let log = common::Captured::default();
    let guard = log
        .during(|| lock.lock_timeout(Duration::from_secs(10)))
        .expect("the orphaned lock is recovered, not waited on until the timeout");
    assert!(guard.owner_died());
    let text = log.text();
    assert!(
        text.contains("which is gone"),
        "a warning naming the gone thread: {text}"
    );
    drop(guard);
    let again = lock.try_lock().unwrap().expect("free again");
    assert!(!again.owner_died(), "recovered for good");
}
