//! Single-process tests of `ShmLockManager`: podman's own shm tests
//! (libpod-spec §4.6), bad segments, and a model check against
//! `MemLockManager`.

mod common;

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::time::Duration;

use common::TestSegment;
use oxpod_locks::{Error, LockManager, MemLockManager, ShmLockManager};
use proptest::prelude::*;

/// podman's setup: a fresh 4 × 32 = 128-lock segment.
fn podman_setup() -> (TestSegment, ShmLockManager) {
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, 128).unwrap();
    (seg, m)
}

#[test]
fn create_rounds_up_to_32_and_zero_fails() {
    let seg = TestSegment::new();
    let m = ShmLockManager::create(&seg.name, 7).unwrap();
    assert_eq!(m.capacity(), 32);
    assert_eq!(m.available().unwrap(), 32);
    assert_eq!(m.name(), seg.name);
    let seg0 = TestSegment::new();
    assert!(matches!(
        ShmLockManager::create(&seg0.name, 0),
        Err(Error::ZeroLocks)
    ));
    assert!(
        !seg0.path().exists(),
        "a failed create leaves nothing behind"
    );
    assert!(matches!(
        ShmLockManager::open(&seg.name, 0),
        Err(Error::ZeroLocks)
    ));
}

#[test]
fn create_is_exclusive_open_needs_a_segment_and_remove_reports() {
    let seg = TestSegment::new();
    assert!(matches!(
        ShmLockManager::open(&seg.name, 32),
        Err(Error::SegmentMissing { ref name }) if *name == seg.name
    ));
    let first = ShmLockManager::open_or_create(&seg.name, 32).unwrap();
    let err = ShmLockManager::create(&seg.name, 32).unwrap_err();
    assert!(matches!(err, Error::SegmentExists { .. }), "{err}");
    let second = ShmLockManager::open_or_create(&seg.name, 32).unwrap();
    // Both see the same bitmaps.
    let id = first.allocate().unwrap().id();
    assert_eq!(second.allocated().unwrap(), vec![id]);
    assert!(matches!(
        second.allocate_given(id),
        Err(Error::AlreadyAllocated { .. })
    ));
    drop((first, second));
    assert!(ShmLockManager::remove(&seg.name).unwrap());
    assert!(!ShmLockManager::remove(&seg.name).unwrap());
    assert!(matches!(
        ShmLockManager::remove("no-slash"),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn segment_mode_is_0600() {
    use std::os::unix::fs::PermissionsExt;
    let (seg, _m) = podman_setup();
    let mode = std::fs::metadata(seg.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn freeing_a_free_lock_fails() {
    let (_seg, m) = podman_setup();
    assert!(matches!(m.free(3), Err(Error::NotAllocated { id: 3 })));
    let lock = m.allocate().unwrap();
    m.free(lock.id()).unwrap();
    assert!(matches!(m.free(lock.id()), Err(Error::NotAllocated { .. })));
}

#[test]
fn lifecycle_allocate_lock_unlock_free() {
    let (_seg, m) = podman_setup();
    let lock = m.allocate().unwrap();
    let guard = lock.lock().unwrap();
    assert_eq!(guard.id(), lock.id());
    assert!(!guard.owner_died());
    guard.unlock().unwrap();
    m.free(lock.id()).unwrap();
    assert_eq!(m.available().unwrap(), 128);
}

#[test]
fn two_allocations_differ() {
    let (_seg, m) = podman_setup();
    let a = m.allocate().unwrap();
    let b = m.allocate().unwrap();
    assert_ne!(a.id(), b.id());
}

#[test]
fn all_128_are_unique_and_the_129th_fails() {
    let (_seg, m) = podman_setup();
    let ids: BTreeSet<u32> = (0..128).map(|_| m.allocate().unwrap().id()).collect();
    assert_eq!(ids.len(), 128);
    assert_eq!(ids, (0..128).collect());
    assert_eq!(m.available().unwrap(), 0);
    let err = m.allocate().unwrap_err();
    assert!(matches!(err, Error::Exhausted { capacity: 128 }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("all 128 locks are in use") && text.contains("oxpod system renumber"),
        "{text}"
    );
}

#[test]
fn with_all_allocated_freeing_j_makes_j_the_next() {
    let (_seg, m) = podman_setup();
    for _ in 0..128 {
        m.allocate().unwrap();
    }
    for j in 0..128 {
        m.free(j).unwrap();
        assert_eq!(m.allocate().unwrap().id(), j);
    }
}

#[test]
fn free_all_then_allocate_returns_the_same_id() {
    let (_seg, m) = podman_setup();
    let first = m.allocate().unwrap().id();
    m.allocate().unwrap();
    m.free_all().unwrap();
    assert_eq!(m.allocated().unwrap(), Vec::<u32>::new());
    assert_eq!(m.allocate().unwrap().id(), first);
}

#[test]
fn allocate_given_and_retrieve() {
    let (_seg, m) = podman_setup();
    assert_eq!(m.allocate_given(77).unwrap().id(), 77);
    assert!(matches!(
        m.allocate_given(77),
        Err(Error::AlreadyAllocated { id: 77 })
    ));
    assert_eq!(m.allocated().unwrap(), vec![77]);
    // Retrieve does not check allocation.
    assert_eq!(m.retrieve(5).unwrap().id(), 5);
    assert_eq!(m.allocated().unwrap(), vec![77]);
    assert_eq!(m.allocate().unwrap().id(), 0);
}

#[test]
fn ids_out_of_range_are_refused() {
    let (_seg, m) = podman_setup();
    for id in [128, 129, u32::MAX] {
        let err = m.retrieve(id).unwrap_err();
        assert!(
            matches!(err, Error::IdOutOfRange { capacity: 128, .. }),
            "{err}"
        );
        assert!(matches!(
            m.allocate_given(id),
            Err(Error::IdOutOfRange { .. })
        ));
        assert!(matches!(m.free(id), Err(Error::IdOutOfRange { .. })));
    }
}

#[test]
fn a_handle_stays_usable_after_free() {
    let (_seg, m) = podman_setup();
    let lock = m.allocate().unwrap();
    m.free(lock.id()).unwrap();
    let guard = lock.lock().unwrap();
    assert_eq!(
        m.holders().unwrap().get(&lock.id()),
        Some(&(std::process::id() as i32))
    );
    drop(guard);
    assert!(m.holders().unwrap().is_empty());
}

#[test]
fn locking_excludes_other_threads() {
    // podman: a thread holds lock 0 for a while; the main thread must wait.
    // Checked by order of events, not by time.
    let (_seg, m) = podman_setup();
    let lock = m.retrieve(0).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        let theirs = lock.clone();
        let their_tx = tx.clone();
        s.spawn(move || {
            let guard = theirs.lock().unwrap();
            their_tx.send("holding").unwrap();
            std::thread::sleep(Duration::from_millis(200));
            their_tx.send("releasing").unwrap();
            drop(guard);
        });
        assert_eq!(rx.recv().unwrap(), "holding");
        assert!(lock.try_lock().unwrap().is_none());
        let guard = lock.lock().unwrap();
        tx.send("main got it").unwrap();
        drop(guard);
    });
    let order: Vec<_> = rx.try_iter().collect();
    assert_eq!(order, ["releasing", "main got it"]);
}

#[test]
fn nested_locks_keep_thread_affinity() {
    // podman: lock 5, lock 6, unlock 6, yield, unlock 5.
    let (_seg, m) = podman_setup();
    let five = m.retrieve(5).unwrap().lock().unwrap();
    let six = m.retrieve(6).unwrap().lock().unwrap();
    six.unlock().unwrap();
    std::thread::yield_now();
    five.unlock().unwrap();
    assert!(m.holders().unwrap().is_empty());
}

#[test]
fn relocking_from_the_same_thread_is_an_error() {
    let (seg, m) = podman_setup();
    let lock = m.retrieve(9).unwrap();
    let _guard = lock.lock().unwrap();
    assert!(matches!(lock.lock(), Err(Error::WouldDeadlock { id: 9 })));
    assert!(matches!(
        lock.lock_timeout(Duration::from_millis(10)),
        Err(Error::WouldDeadlock { id: 9 })
    ));
    assert!(matches!(
        lock.try_lock(),
        Err(Error::WouldDeadlock { id: 9 })
    ));
    // Also through a second mapping of the same segment.
    let other = ShmLockManager::open(&seg.name, 128).unwrap();
    assert!(matches!(
        other.retrieve(9).unwrap().lock(),
        Err(Error::WouldDeadlock { id: 9 })
    ));
}

#[test]
fn timeout_names_the_holder() {
    let (_seg, m) = podman_setup();
    let lock = m.retrieve(3).unwrap();
    let _guard = lock.lock().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let err = lock.lock_timeout(Duration::from_millis(30)).unwrap_err();
            let me = std::process::id() as i32;
            assert!(
                matches!(err, Error::Timeout { id: 3, holder: Some(pid), .. } if pid == me),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("process {me}")), "{err}");
        });
    });
}

#[test]
fn lock_timeout_acquires_a_free_lock() {
    let (_seg, m) = podman_setup();
    let lock = m.retrieve(4).unwrap();
    let guard = lock.lock_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(lock.holder(), Some(std::process::id() as i32));
    drop(guard);
    assert_eq!(lock.holder(), None);
}

#[test]
fn a_thread_that_dies_holding_a_lock_is_recovered_with_a_warning() {
    let (_seg, m) = podman_setup();
    let lock = m.retrieve(11).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(lock.lock().unwrap()));
    });
    let log = common::Captured::default();
    let guard = log.during(|| lock.lock().unwrap());
    assert!(guard.owner_died());
    assert_eq!(guard.dead_holder(), Some(std::process::id() as i32));
    assert!(
        log.text().contains("WARN") && log.text().contains("lock 11"),
        "{}",
        log.text()
    );
    drop(guard);
    assert!(!lock.lock().unwrap().owner_died());
}

// ---- bad segments ------------------------------------------------------

/// Creates a 64-lock segment, drops the mapping, and returns the name.
fn made(seg: &TestSegment) {
    drop(ShmLockManager::create(&seg.name, 64).unwrap());
}

fn write_at(seg: &TestSegment, off: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(seg.path()).unwrap();
    f.write_all_at(bytes, off).unwrap();
}

fn set_len(seg: &TestSegment, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(seg.path())
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn another_count_is_a_count_mismatch() {
    let seg = TestSegment::new();
    made(&seg);
    let err = ShmLockManager::open(&seg.name, 2048).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                expected: 2048,
                found: 64,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("oxpod system renumber"), "{err}");
    assert_eq!(err.errno(), nix::errno::Errno::ERANGE);
    // 50 rounds up to 64, like create.
    assert_eq!(ShmLockManager::open(&seg.name, 50).unwrap().capacity(), 64);
}

#[test]
fn a_wrong_magic_is_refused() {
    let seg = TestSegment::new();
    made(&seg);
    write_at(&seg, 0, &0x1234u16.to_ne_bytes());
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(
        matches!(err, Error::BadMagic { found: 0x1234, .. }),
        "{err}"
    );
    assert_eq!(err.errno(), nix::errno::Errno::EBADF);
}

#[test]
fn a_magic_never_written_is_refused_after_a_short_wait() {
    let seg = TestSegment::new();
    made(&seg);
    write_at(&seg, 0, &[0, 0]);
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(matches!(err, Error::BadMagic { found: 0, .. }), "{err}");
}

#[test]
fn another_layout_version_is_refused() {
    let seg = TestSegment::new();
    made(&seg);
    write_at(&seg, 2, &7u16.to_ne_bytes());
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LayoutVersion {
                found: 7,
                expected: oxpod_locks::LAYOUT_VERSION,
                ..
            }
        ),
        "{err}"
    );
    // podman's own segments have 0 there.
    write_at(&seg, 2, &0u16.to_ne_bytes());
    assert!(matches!(
        ShmLockManager::open(&seg.name, 64),
        Err(Error::LayoutVersion { found: 0, .. })
    ));
}

#[test]
fn another_mutex_size_is_refused() {
    let seg = TestSegment::new();
    made(&seg);
    write_at(&seg, 4, &48u32.to_ne_bytes());
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(matches!(err, Error::MutexSize { found: 48, .. }), "{err}");
}

#[test]
fn a_truncated_segment_is_too_small() {
    let seg = TestSegment::new();
    made(&seg);
    set_len(&seg, 1000);
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(
        matches!(err, Error::SegmentTooSmall { size: 1000, .. }),
        "{err}"
    );
    set_len(&seg, 10);
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(
        matches!(err, Error::SegmentTooSmall { size: 10, .. }),
        "{err}"
    );
    set_len(&seg, 0);
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(
        matches!(err, Error::SegmentTooSmall { size: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_count_that_contradicts_the_groups_is_corrupt() {
    if !cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
        println!("skipped: header offsets below are for glibc x86_64");
        return;
    }
    let seg = TestSegment::new();
    made(&seg);
    write_at(&seg, 52, &65u32.to_ne_bytes()); // num_locks, after 40-byte mutex
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn invalid_names_are_refused() {
    for name in ["", "oxpod_lock", "/", "/a/b"] {
        assert!(
            matches!(
                ShmLockManager::create(name, 32),
                Err(Error::InvalidName { .. })
            ),
            "{name:?}"
        );
        assert!(
            matches!(
                ShmLockManager::open(name, 32),
                Err(Error::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
}

// ---- model check against MemLockManager --------------------------------

#[derive(Debug, Clone)]
enum Op {
    Allocate,
    AllocateGiven(u32),
    Free(u32),
    FreeAll,
}

fn op() -> impl Strategy<Value = Op> {
    // IDs up to 70 on a 64-lock manager, so out-of-range cases happen too.
    prop_oneof![
        6 => Just(Op::Allocate),
        3 => (0u32..70).prop_map(Op::AllocateGiven),
        4 => (0u32..70).prop_map(Op::Free),
        1 => Just(Op::FreeAll),
    ]
}

/// The outcome of an operation, comparable across managers.
fn outcome(r: Result<Option<u32>, Error>) -> Result<Option<u32>, String> {
    r.map_err(|e| format!("{:?}", std::mem::discriminant(&e)) + &e.to_string())
}

fn apply(m: &dyn LockManager, op: &Op) -> Result<Option<u32>, Error> {
    match op {
        Op::Allocate => m.allocate().map(|l| Some(l.id())),
        Op::AllocateGiven(id) => m.allocate_given(*id).map(|l| Some(l.id())),
        Op::Free(id) => m.free(*id).map(|()| None),
        Op::FreeAll => m.free_all().map(|()| None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shm_and_mem_agree(ops in proptest::collection::vec(op(), 1..200)) {
        let seg = TestSegment::new();
        let shm = ShmLockManager::create(&seg.name, 64).unwrap();
        let mem = MemLockManager::new(64).unwrap();
        let mut model = BTreeSet::new();
        for op in &ops {
            let a = outcome(apply(&shm, op));
            let b = outcome(apply(&mem, op));
            prop_assert_eq!(&a, &b, "{:?}", op);
            match (op, &a) {
                (Op::Allocate | Op::AllocateGiven(_), Ok(Some(id))) => {
                    prop_assert!(model.insert(*id), "{} handed out twice", id);
                }
                (Op::Free(id), Ok(None)) => {
                    prop_assert!(model.remove(id));
                }
                (Op::FreeAll, _) => model.clear(),
                _ => {}
            }
            let allocated = shm.allocated().unwrap();
            prop_assert_eq!(&allocated, &mem.allocated().unwrap());
            prop_assert_eq!(allocated, model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(shm.available().unwrap(), mem.available().unwrap());
        }
    }
}

// ---- hostile and half-made segments (fault-findings 3, 5, 8) ----------

#[test]
fn a_segment_open_to_others_or_owned_by_another_user_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let seg = TestSegment::new();
    made(&seg);
    std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(matches!(err, Error::NotOurs { mode: 0o666, .. }), "{err}");
    assert!(err.segment_unusable());
    assert!(err.to_string().contains("oxpod system renumber"), "{err}");
    std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    ShmLockManager::open(&seg.name, 64).unwrap();
    if nix::unistd::geteuid().is_root() {
        // Planted by another user (nobody): refused even with mode 0600.
        std::os::unix::fs::chown(seg.path(), Some(65534), Some(65534)).unwrap();
        let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
        assert!(matches!(err, Error::NotOurs { owner: 65534, .. }), "{err}");
        // open_or_create does not fall back to using it either.
        assert!(ShmLockManager::open_or_create(&seg.name, 64).is_err());
    }
}

#[test]
fn a_written_over_mutex_is_refused_not_locked() {
    let seg = TestSegment::new();
    made(&seg);
    // Random bytes over the first group's mutexes (after the bitmap word).
    let noise: Vec<u8> = (0..400u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write_at(&seg, 56 + 8, &noise);
    let err = ShmLockManager::open(&seg.name, 64).unwrap_err();
    assert!(matches!(err, Error::DamagedMutex { .. }), "{err}");
    assert!(err.to_string().contains("lock 0"), "{err}");
    assert!(err.segment_unusable());
}

#[test]
fn a_creator_killed_midway_leaves_nothing_at_the_real_name() {
    let seg = TestSegment::new();
    // A draft of a dead creator: a process that has exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let draft = format!("{}.draft-{dead}", seg.name);
    let draft_path = format!("/dev/shm{draft}");
    std::fs::write(&draft_path, [0u8; 64]).unwrap();
    assert!(matches!(
        ShmLockManager::open(&seg.name, 64),
        Err(Error::SegmentMissing { .. })
    ));
    let m = ShmLockManager::create(&seg.name, 64).unwrap();
    assert_eq!(m.capacity(), 64);
    assert!(
        !std::path::Path::new(&draft_path).exists(),
        "the dead creator's draft is gone"
    );
    let own_draft = format!("/dev/shm{}.draft-{}", seg.name, std::process::id());
    assert!(
        !std::path::Path::new(&own_draft).exists(),
        "no draft of ours is left"
    );
    ShmLockManager::open(&seg.name, 64).unwrap();
}

#[test]
fn open_existing_takes_whatever_size_the_segment_has() {
    let seg = TestSegment::new();
    made(&seg);
    assert_eq!(
        ShmLockManager::open_existing(&seg.name).unwrap().capacity(),
        64
    );
}
