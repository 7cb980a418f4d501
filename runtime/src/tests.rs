//! Unit tests of the runtime over real layers: the in-memory state and
//! locks, and LMDB with a shared-memory segment of its own in temp dirs.
//! conmon and runc must be installed (`Runtime::open` discovers them).

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use oxpod_events::EventStatus;
use oxpod_locks::ShmLockManager;

use crate::{
    Error, Finding, NewContainer, NewPod, ReadOptions, Result, Runtime, RuntimeOptions,
    StateBackend, StateError,
};
use crate::{LockBackend, container::parse_key_values};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether conmon and runc are where discovery looks; a skip outside CI,
/// a failure under it.
fn components_missing() -> bool {
    let any = |paths: &[&str]| paths.iter().any(|p| Path::new(p).exists());
    let conmon = any(&[
        "/usr/bin/conmon",
        "/usr/local/bin/conmon",
        "/usr/libexec/podman/conmon",
    ]);
    let runc = any(&[
        "/usr/bin/runc",
        "/usr/sbin/runc",
        "/usr/local/bin/runc",
        "/usr/local/sbin/runc",
    ]);
    if conmon && runc {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "CI=true but conmon or runc is not installed");
    eprintln!("skipped: needs conmon and runc");
    true
}

/// A test's directories and lock-segment name; dropping it removes the
/// segment.
struct Env {
    dir: tempfile::TempDir,
    lock_name: String,
}

impl Env {
    fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let env = Env {
            dir: tempfile::tempdir().expect("temp dir"),
            lock_name: format!("/oxpod_rt_test_{}_{n}", std::process::id()),
        };
        std::fs::create_dir_all(env.rootfs()).expect("rootfs");
        env
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Options for LMDB and the shared-memory segment.
    fn lmdb(&self) -> RuntimeOptions {
        RuntimeOptions::new()
            .system_files(vec![])
            .user_file(None)
            .env_file(None)
            .static_dir(self.dir.path().join("root"))
            .tmp_dir(self.tmp_dir())
            .lock_name(&self.lock_name)
            .num_locks(64)
            .cgroup_manager("cgroupfs")
            .events_backend("file")
    }

    /// Options for the in-memory state and locks.
    fn memory(&self) -> RuntimeOptions {
        self.lmdb()
            .state_backend(StateBackend::Memory)
            .lock_backend(LockBackend::Memory)
    }

    fn new_container(&self, name: &str) -> NewContainer {
        NewContainer {
            name: Some(name.to_owned()),
            rootfs: self.rootfs(),
            command: vec!["true".to_owned()],
            ..NewContainer::default()
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = ShmLockManager::remove(&self.lock_name);
    }
}

fn allocated(rt: &Runtime) -> BTreeSet<u32> {
    rt.locks
        .allocated()
        .expect("allocated")
        .into_iter()
        .collect()
}

/// Lock numbers the database's objects claim.
fn claimed(rt: &Runtime) -> BTreeSet<u32> {
    let mut set: BTreeSet<u32> = rt
        .containers(&[])
        .expect("containers")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    set.extend(
        rt.pods()
            .expect("pods")
            .iter()
            .map(|(p, _)| p.config.lock_id),
    );
    set
}

fn count_events(rt: &Runtime, status: EventStatus) -> usize {
    let mut n = 0;
    rt.read_events(ReadOptions::default(), &mut |e| {
        if e.status == status {
            n += 1;
        }
        ControlFlow::Continue(())
    })
    .expect("read events");
    n
}

fn create_and_lookup(rt: &Runtime, env: &Env) {
    let a = rt
        .create_container(env.new_container("alpha"))
        .expect("create");
    assert_eq!(a.config.id.len(), 64);
    assert_eq!(allocated(rt), BTreeSet::from([a.config.lock_id]));
    for key in ["alpha", a.config.id.as_str(), &a.config.id[..12]] {
        assert_eq!(rt.container(key).expect("lookup").config.id, a.config.id);
    }
    // A generated name.
    let b = rt
        .create_container(NewContainer {
            name: None,
            ..env.new_container("unused")
        })
        .expect("create unnamed");
    assert!(b.config.name.contains('_'), "{}", b.config.name);
    assert_ne!(a.config.lock_id, b.config.lock_id);
    assert_eq!(rt.containers(&[]).expect("list").len(), 2);
    assert!(matches!(
        rt.container("nope"),
        Err(Error::State(StateError::NotFound { .. }))
    ));

    assert_eq!(
        rt.remove_container("alpha", false).expect("rm"),
        a.config.id
    );
    assert!(matches!(
        rt.container(&a.config.id),
        Err(Error::State(StateError::NotFound { .. }))
    ));
    assert_eq!(allocated(rt), BTreeSet::from([b.config.lock_id]));
    assert!(!rt.layout.bundle_dir(&a.config.id).exists());
    assert!(
        rt.layout
            .bundle_dir(&b.config.id)
            .join("config.json")
            .is_file()
    );
    assert_eq!(count_events(rt, EventStatus::Create), 2);
    assert_eq!(count_events(rt, EventStatus::Remove), 1);
}

#[test]
fn create_lookup_remove_in_memory() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    create_and_lookup(&rt, &env);
}

#[test]
fn create_lookup_remove_in_lmdb_and_shm() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    create_and_lookup(&rt, &env);
    drop(rt);
    // Still there after reopening.
    let rt = Runtime::open(env.lmdb()).expect("reopen");
    assert_eq!(rt.containers(&[]).expect("list").len(), 1);
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn names_are_unique_across_pods_and_containers() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    rt.create_pod(NewPod {
        name: Some("shared".into()),
        ..NewPod::default()
    })
    .expect("pod");
    let err = rt
        .create_container(env.new_container("shared"))
        .expect_err("name taken by a pod");
    assert!(
        matches!(&err, Error::State(StateError::NameInUse { .. })),
        "{err}"
    );
    rt.create_container(env.new_container("solo"))
        .expect("create");
    let err = rt
        .create_pod(NewPod {
            name: Some("solo".into()),
            ..NewPod::default()
        })
        .expect_err("name taken by a container");
    assert!(err.to_string().contains("solo"), "{err}");
    assert_eq!(allocated(&rt).len(), 2, "failed creates freed their locks");
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn failed_creates_free_their_lock_and_leave_nothing() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let first = rt
        .create_container(env.new_container("first"))
        .expect("create");
    let before = allocated(&rt);

    let mut bad_rootfs = env.new_container("bad-rootfs");
    bad_rootfs.rootfs = env.dir.path().join("missing");
    let err = rt.create_container(bad_rootfs).expect_err("bad rootfs");
    assert!(err.to_string().contains("missing"), "{err}");

    let mut file_rootfs = env.new_container("file-rootfs");
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    file_rootfs.rootfs = file;
    rt.create_container(file_rootfs)
        .expect_err("rootfs is a file");

    let err = rt
        .create_container(env.new_container("first"))
        .expect_err("duplicate name");
    assert!(
        matches!(err, Error::State(StateError::NameInUse { .. })),
        "{err}"
    );
    let err = rt
        .create_container(env.new_container("-bad"))
        .expect_err("invalid name");
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    let mut in_no_pod = env.new_container("orphan");
    in_no_pod.pod = Some("no-such-pod".into());
    rt.create_container(in_no_pod).expect_err("no such pod");

    assert_eq!(allocated(&rt), before, "no lock leaked");
    assert_eq!(rt.containers(&[]).expect("list").len(), 1);
    let bundles = std::fs::read_dir(env.dir.path().join("root/containers"))
        .expect("bundles dir")
        .count();
    assert_eq!(bundles, 1, "no bundle left by a failed create");
    assert_eq!(
        rt.check(false).expect("check").findings,
        Vec::<Finding>::new()
    );
    rt.remove_container(&first.config.id, false).expect("rm");
    assert!(allocated(&rt).is_empty(), "rm frees the lock");
}

#[test]
fn pod_remove_refused_while_non_empty_and_force_removes_members() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let pod = rt
        .create_pod(NewPod {
            name: Some("p".into()),
            labels: parse_key_values("label", &["a=b".to_owned()]).expect("labels"),
        })
        .expect("pod");
    let mut members = Vec::new();
    for name in ["m1", "m2"] {
        let mut new = env.new_container(name);
        new.pod = Some("p".into());
        members.push(rt.create_container(new).expect("member"));
    }
    let outside = rt
        .create_container(env.new_container("outside"))
        .expect("ctr");
    assert_eq!(allocated(&rt).len(), 4);
    assert_eq!(
        rt.pods().expect("pods")[0].1.len(),
        2,
        "the pod lists its members"
    );

    let err = rt.remove_pod("p", false).expect_err("not empty");
    assert!(matches!(err, Error::PodNotEmpty { count: 2, .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        rt.containers(&[]).expect("list").len(),
        3,
        "nothing removed"
    );

    assert_eq!(rt.remove_pod("p", true).expect("rm -f"), pod.config.id);
    let left: Vec<String> = rt
        .containers(&[])
        .expect("list")
        .into_iter()
        .map(|c| c.config.id)
        .collect();
    assert_eq!(left, vec![outside.config.id.clone()]);
    assert!(rt.pods().expect("pods").is_empty());
    assert_eq!(allocated(&rt), BTreeSet::from([outside.config.lock_id]));
    for m in &members {
        assert!(!rt.layout.bundle_dir(&m.config.id).exists());
    }
    // An empty pod goes without force.
    rt.create_pod(NewPod {
        name: Some("empty".into()),
        ..NewPod::default()
    })
    .expect("pod");
    rt.remove_pod("empty", false).expect("rm empty pod");
    assert_eq!(allocated(&rt), BTreeSet::from([outside.config.lock_id]));
}

#[test]
fn renumber_gives_dense_lock_ids_containers_first() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    for i in 0..5 {
        rt.create_container(env.new_container(&format!("c{i}")))
            .expect("create");
        if i % 2 == 0 {
            rt.create_pod(NewPod {
                name: Some(format!("p{i}")),
                ..NewPod::default()
            })
            .expect("pod");
        }
    }
    for name in ["c1", "c3"] {
        rt.remove_container(name, false).expect("rm");
    }
    rt.remove_pod("p0", false).expect("rm pod");
    let sparse = claimed(&rt);
    assert_eq!(sparse.len(), 5);
    assert_ne!(sparse, (0..5).collect(), "ids have holes before renumber");
    drop(rt);

    // Another size without renumber: a clear error.
    let err = Runtime::open(env.lmdb().num_locks(96)).expect_err("count mismatch");
    assert!(err.to_string().contains("oxpod system renumber"), "{err}");

    let rt = Runtime::open(env.lmdb().num_locks(96).renumber(true)).expect("renumber");
    assert_eq!(rt.locks.capacity(), 96);
    let ctr_locks: BTreeSet<u32> = rt
        .containers(&[])
        .expect("list")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    let pod_locks: BTreeSet<u32> = rt
        .pods()
        .expect("pods")
        .iter()
        .map(|(p, _)| p.config.lock_id)
        .collect();
    assert_eq!(ctr_locks, BTreeSet::from([0, 1, 2]));
    assert_eq!(pod_locks, BTreeSet::from([3, 4]));
    assert_eq!(allocated(&rt), (0..5).collect());
    assert_eq!(count_events(&rt, EventStatus::Renumber), 1);
    assert!(rt.check(false).expect("check").findings.is_empty());
}

#[test]
fn check_finds_leaked_unallocated_and_duplicate_locks_and_repairs_them() {
    if components_missing() {
        return;
    }
    for lmdb in [false, true] {
        let env = Env::new();
        let options = if lmdb { env.lmdb() } else { env.memory() };
        let rt = Runtime::open(options).expect("open");
        let a = rt.create_container(env.new_container("a")).expect("a");
        let b = rt.create_container(env.new_container("b")).expect("b");
        let c = rt.create_container(env.new_container("c")).expect("c");
        assert!(rt.check(false).expect("check").findings.is_empty());

        // A leaked lock, an object whose lock is not allocated, and two
        // objects sharing a lock.
        let leaked = rt.locks.allocate().expect("allocate").id();
        rt.locks.free(a.config.lock_id).expect("free");
        let mut c_config = c.config.clone();
        c_config.lock_id = b.config.lock_id;
        rt.state()
            .rewrite_container_config(&c_config)
            .expect("rewrite");
        rt.locks.free(c.config.lock_id).expect("free c's own lock");

        let report = rt.check(false).expect("check");
        let f = &report.findings;
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f.contains(&Finding::LeakedLock { lock: leaked }), "{f:?}");
        assert!(
            f.contains(&Finding::UnallocatedLock {
                lock: a.config.lock_id,
                object: "container a".into()
            }),
            "{f:?}"
        );
        assert!(
            f.iter().any(|x| matches!(x,
                Finding::DuplicateLock { lock, objects }
                    if *lock == b.config.lock_id
                        && objects.contains(&"container b".to_owned())
                        && objects.contains(&"container c".to_owned()))),
            "{f:?}"
        );
        assert_eq!(report.repaired, 0);
        assert_eq!(
            rt.check(false).expect("check").findings.len(),
            3,
            "check alone changes nothing"
        );

        let report = rt.check(true).expect("repair");
        assert_eq!(report.repaired, 3, "{report:?}");
        assert!(rt.check(false).expect("check").findings.is_empty());
        let locks: Vec<u32> = rt
            .containers(&[])
            .expect("list")
            .iter()
            .map(|c| c.config.lock_id)
            .collect();
        let distinct: BTreeSet<u32> = locks.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            3,
            "every container has its own lock: {locks:?}"
        );
        assert_eq!(allocated(&rt), distinct);
    }
}

#[test]
fn shutdown_makes_every_call_fail() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt.create_container(env.new_container("c")).expect("create");
    rt.shutdown(false).expect("shutdown");

    fn stopped<T: std::fmt::Debug>(what: &str, r: Result<T>) {
        match r {
            Err(e @ Error::Stopped) => {
                assert_eq!(e.to_string(), "runtime has already been stopped")
            }
            other => panic!("{what} after shutdown: {other:?}"),
        }
    }
    stopped("create", rt.create_container(env.new_container("d")));
    stopped("container", rt.container("c"));
    stopped("containers", rt.containers(&[]));
    stopped("remove", rt.remove_container(&c.config.id, true));
    stopped("create_pod", rt.create_pod(NewPod::default()));
    stopped("pod", rt.pod("p"));
    stopped("pods", rt.pods());
    stopped("remove_pod", rt.remove_pod("p", true));
    stopped("start", rt.start_container("c"));
    stopped("stop", rt.stop_container("c", Some(0)));
    stopped("kill", rt.kill_container("c", 9));
    stopped("wait", rt.wait_container("c"));
    stopped("info", rt.info());
    stopped("locks_report", rt.locks_report());
    stopped("check", rt.check(true));
    stopped(
        "read_events",
        rt.read_events(ReadOptions::default(), &mut |_| ControlFlow::Continue(())),
    );
    stopped("shutdown", rt.shutdown(true));
    stopped("reset", rt.reset());
}

#[test]
fn refresh_after_the_alive_file_goes_reclaims_locks_once() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    assert!(rt.refreshed(), "the first open refreshes");
    for name in ["a", "b", "c"] {
        rt.create_container(env.new_container(name))
            .expect("create");
    }
    rt.create_pod(NewPod {
        name: Some("p".into()),
        ..NewPod::default()
    })
    .expect("pod");
    rt.remove_container("b", false).expect("rm");
    let claimed_before = claimed(&rt);
    assert_eq!(count_events(&rt, EventStatus::Refresh), 1);
    drop(rt);

    // Reopening in the same boot does not refresh.
    let rt = Runtime::open(env.lmdb()).expect("reopen");
    assert!(!rt.refreshed());
    drop(rt);

    // A reboot: the alive file and the lock segment are gone.
    std::fs::remove_file(env.tmp_dir().join("alive")).expect("remove alive");
    ShmLockManager::remove(&env.lock_name).expect("remove segment");
    let rt = Runtime::open(env.lmdb()).expect("open after reboot");
    assert!(rt.refreshed());
    assert_eq!(claimed(&rt), claimed_before, "lock numbers kept");
    assert_eq!(allocated(&rt), claimed_before, "locks re-claimed");
    assert_eq!(
        count_events(&rt, EventStatus::Refresh),
        2,
        "one more refresh"
    );
    let d = rt.create_container(env.new_container("d")).expect("create");
    assert!(!claimed_before.contains(&d.config.lock_id));
    drop(rt);

    let rt = Runtime::open(env.lmdb()).expect("reopen");
    assert!(!rt.refreshed());
    assert_eq!(count_events(&rt, EventStatus::Refresh), 2);
    drop(rt);

    // Only the segment goes (no reboot): the new one re-claims every lock
    // without a refresh.
    ShmLockManager::remove(&env.lock_name).expect("remove segment");
    let rt = Runtime::open(env.lmdb()).expect("reopen");
    assert!(!rt.refreshed());
    assert_eq!(count_events(&rt, EventStatus::Refresh), 2);
    assert_eq!(allocated(&rt), claimed(&rt));
    assert_eq!(claimed(&rt).len(), 4);

    // A lock clash in the database: the refresh gives one object a new
    // lock instead of failing.
    let a = rt.container("a").expect("a");
    let mut c = rt.container("c").expect("c").config;
    rt.locks.free(c.lock_id).expect("free");
    c.lock_id = a.config.lock_id;
    rt.state().rewrite_container_config(&c).expect("rewrite");
    drop(rt);
    std::fs::remove_file(env.tmp_dir().join("alive")).expect("remove alive");
    ShmLockManager::remove(&env.lock_name).expect("remove segment");
    let rt = Runtime::open(env.lmdb()).expect("open after reboot");
    assert!(rt.refreshed());
    let ids: BTreeSet<u32> = rt
        .containers(&[])
        .expect("list")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    assert_eq!(ids.len(), 3, "a, c, d have distinct locks");
    assert_eq!(allocated(&rt), claimed(&rt));
    assert!(rt.check(false).expect("check").findings.is_empty());
}

#[test]
fn db_config_mismatch_names_the_key_and_both_values() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    rt.create_container(env.new_container("a")).expect("create");
    drop(rt);
    let other = env.dir.path().join("other-run");
    let err = Runtime::open(env.lmdb().tmp_dir(&other)).expect_err("mismatch");
    assert!(
        matches!(
            &err,
            Error::State(StateError::DbConfigMismatch { key: "tmp_dir", .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("tmp_dir")
            && text.contains(&env.tmp_dir().display().to_string())
            && text.contains(&other.display().to_string()),
        "{text}"
    );
    assert!(!other.exists(), "nothing made in the other tmp dir");
    // A reset may open despite the mismatch.
    let rt = Runtime::open(env.lmdb().tmp_dir(&other).for_reset(true)).expect("open for reset");
    assert_eq!(rt.containers(&[]).expect("list").len(), 1);
}

#[test]
fn repair_counts_each_finding_once_even_for_a_lock_shared_three_ways() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let ctrs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| rt.create_container(env.new_container(n)).expect("create"))
        .collect();
    let shared = ctrs[0].config.lock_id;
    for c in &ctrs[1..] {
        let mut config = c.config.clone();
        rt.locks.free(config.lock_id).expect("free");
        config.lock_id = shared;
        rt.state()
            .rewrite_container_config(&config)
            .expect("rewrite");
    }
    let report = rt.check(false).expect("check");
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(matches!(
        &report.findings[0],
        Finding::DuplicateLock { lock, objects } if *lock == shared && objects.len() == 3
    ));
    let report = rt.check(true).expect("repair");
    assert_eq!(
        report.repaired,
        report.findings.len(),
        "every finding repaired once: {report:?}"
    );
    assert!(rt.check(false).expect("check").findings.is_empty());
    assert_eq!(claimed(&rt).len(), 3);
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn removing_many_answers_each_name_and_frees_every_lock() {
    if components_missing() {
        return;
    }
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let pod = rt
        .create_pod(NewPod {
            name: Some("pod1".into()),
            ..NewPod::default()
        })
        .expect("pod");
    let mut ids = Vec::new();
    for name in ["c1", "c2", "c3"] {
        ids.push(
            rt.create_container(env.new_container(name))
                .expect("create")
                .config
                .id,
        );
    }
    let member = rt
        .create_container(NewContainer {
            pod: Some("pod1".into()),
            ..env.new_container("member")
        })
        .expect("member");
    let names: Vec<String> = ["c3", "nosuch", "member", "c1", "c2"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let results = rt.remove_containers(&names, false);
    let answered: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(answered, ["c3", "nosuch", "member", "c1", "c2"]);
    assert_eq!(results[0].1.as_ref().expect("c3"), &ids[2]);
    assert!(matches!(
        results[1].1,
        Err(Error::State(StateError::NotFound { .. }))
    ));
    assert_eq!(results[2].1.as_ref().expect("member"), &member.config.id);
    assert_eq!(results[3].1.as_ref().expect("c1"), &ids[0]);
    assert!(rt.containers(&[]).expect("list").is_empty());
    assert_eq!(allocated(&rt), BTreeSet::from([pod.config.lock_id]));
    assert_eq!(count_events(&rt, EventStatus::Remove), 4);
    for id in &ids {
        assert!(!rt.layout.bundle_dir(id).exists());
    }
    assert!(rt.check(false).expect("check").findings.is_empty());
}
