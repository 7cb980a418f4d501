//! Unit tests of the composer's own rules over real layers (the in-memory
//! state and locks, and LMDB with a shared-memory segment of its own in
//! temp dirs) and the fake driver of `oxpod-test-support`: they need no
//! root, runc or conmon. The real binaries are covered end to end in
//! `tests/`.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use oxpod_config::{CgroupManager, EventsBackend};
use oxpod_events::EventStatus;
use oxpod_locks::ShmLockManager;
use oxpod_test_support::fake::{FakeDriver, FakeStatus, Op};

use crate::{
    Container, ContainerRef, Error, Finding, LockBackend, NewContainer, NewPod, PodRef,
    ReadOptions, Result, Runtime, RuntimeOptions, StateBackend, StateError,
};

/// A test's directories and lock-segment name; dropping it removes the
/// segment.
struct Env {
    dir: tempfile::TempDir,
    lock_name: String,
    fake: Arc<FakeDriver>,
}

impl Env {
    fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().expect("temp dir"),
            lock_name: oxpod_test_support::unique("/oxpod_rt_test"),
            fake: Arc::new(FakeDriver::new()),
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
            .cgroup_manager(CgroupManager::Cgroupfs)
            .events_backend(EventsBackend::File)
            // The fake driver runs nothing: no namespace to set up.
            .set("netns", "host")
            .driver(self.fake.clone())
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

/// The container called `key` (name, id or prefix), resolved then read.
fn get(rt: &Runtime, key: &str) -> Result<Container> {
    let r = rt.containers().resolve(key)?;
    rt.containers().get(&r)
}

fn cref(rt: &Runtime, key: &str) -> ContainerRef {
    rt.containers().resolve(key).expect("resolve")
}

fn rm(rt: &Runtime, key: &str, force: bool) -> Result<()> {
    let r = rt.containers().resolve(key)?;
    rt.containers().remove(&r, force)
}

fn rm_pod(rt: &Runtime, key: &str, force: bool) -> Result<()> {
    let r = rt.pods().resolve(key)?;
    rt.pods().remove(&r, force)
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
        .containers()
        .list(&[])
        .expect("containers")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    set.extend(
        rt.pods()
            .list()
            .expect("pods")
            .iter()
            .map(|(p, _)| p.config.lock_id),
    );
    set
}

fn count_events(rt: &Runtime, status: EventStatus) -> usize {
    let mut n = 0;
    rt.system()
        .events(ReadOptions::default(), &mut |e| {
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
        .containers()
        .create(env.new_container("alpha"))
        .expect("create");
    assert_eq!(a.config.id.len(), 64);
    assert_eq!(allocated(rt), BTreeSet::from([a.config.lock_id]));
    for key in ["alpha", a.config.id.as_str(), &a.config.id[..12]] {
        assert_eq!(get(rt, key).expect("lookup").config.id, a.config.id);
    }
    // A generated name.
    let b = rt
        .containers()
        .create(NewContainer {
            name: None,
            ..env.new_container("unused")
        })
        .expect("create unnamed");
    assert!(b.config.name.contains('_'), "{}", b.config.name);
    assert_ne!(a.config.lock_id, b.config.lock_id);
    assert_eq!(rt.containers().list(&[]).expect("list").len(), 2);
    assert!(matches!(
        get(rt, "nope"),
        Err(Error::State(StateError::NotFound { .. }))
    ));

    rm(rt, "alpha", false).expect("rm");
    assert!(matches!(
        get(rt, &a.config.id),
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
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    create_and_lookup(&rt, &env);
}

#[test]
fn create_lookup_remove_in_lmdb_and_shm() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    create_and_lookup(&rt, &env);
    drop(rt);
    // Still there after reopening.
    let rt = Runtime::open(env.lmdb()).expect("reopen");
    assert_eq!(rt.containers().list(&[]).expect("list").len(), 1);
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn names_are_unique_across_pods_and_containers() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    rt.pods()
        .create(NewPod {
            name: Some("shared".into()),
            ..NewPod::default()
        })
        .expect("pod");
    let err = rt
        .containers()
        .create(env.new_container("shared"))
        .expect_err("name taken by a pod");
    assert!(
        matches!(&err, Error::State(StateError::NameInUse { .. })),
        "{err}"
    );
    rt.containers()
        .create(env.new_container("solo"))
        .expect("create");
    let err = rt
        .pods()
        .create(NewPod {
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
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let first = rt
        .containers()
        .create(env.new_container("first"))
        .expect("create");
    let before = allocated(&rt);

    let mut bad_rootfs = env.new_container("bad-rootfs");
    bad_rootfs.rootfs = env.dir.path().join("missing");
    let err = rt.containers().create(bad_rootfs).expect_err("bad rootfs");
    assert!(err.to_string().contains("missing"), "{err}");

    let mut file_rootfs = env.new_container("file-rootfs");
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    file_rootfs.rootfs = file;
    rt.containers()
        .create(file_rootfs)
        .expect_err("rootfs is a file");

    let err = rt
        .containers()
        .create(env.new_container("first"))
        .expect_err("duplicate name");
    assert!(
        matches!(err, Error::State(StateError::NameInUse { .. })),
        "{err}"
    );
    let err = rt
        .containers()
        .create(env.new_container("-bad"))
        .expect_err("invalid name");
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    // A pod removed after the caller resolved it: the add fails, the
    // lock and bundle claimed before are given back.
    let gone = rt
        .pods()
        .create(NewPod {
            name: Some("gone".into()),
            ..NewPod::default()
        })
        .expect("pod");
    rm_pod(&rt, "gone", false).expect("rm pod");
    let mut in_no_pod = env.new_container("orphan");
    in_no_pod.pod = Some(PodRef::from(&gone));
    rt.containers().create(in_no_pod).expect_err("no such pod");

    assert_eq!(allocated(&rt), before, "no lock leaked");
    assert_eq!(rt.containers().list(&[]).expect("list").len(), 1);
    let bundles = std::fs::read_dir(env.dir.path().join("root/containers"))
        .expect("bundles dir")
        .count();
    assert_eq!(bundles, 1, "no bundle left by a failed create");
    assert_eq!(
        rt.system().check(false).expect("check").findings,
        Vec::<Finding>::new()
    );
    rm(&rt, &first.config.id, false).expect("rm");
    assert!(allocated(&rt).is_empty(), "rm frees the lock");
}

#[test]
fn pod_remove_refused_while_members_run_and_force_removes_them() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let pod = rt
        .pods()
        .create(NewPod {
            name: Some("p".into()),
            labels: [("a".to_owned(), "b".to_owned())].into(),
            ..NewPod::default()
        })
        .expect("pod");
    let mut members = Vec::new();
    for name in ["m1", "m2"] {
        let mut new = env.new_container(name);
        new.pod = Some(rt.pods().resolve("p").expect("pod"));
        members.push(rt.containers().create(new).expect("member"));
    }
    let outside = rt
        .containers()
        .create(env.new_container("outside"))
        .expect("ctr");
    assert_eq!(allocated(&rt).len(), 4);
    assert_eq!(
        rt.pods().list().expect("pods")[0].1.len(),
        2,
        "the pod lists its members"
    );

    for m in &members {
        rt.containers()
            .start(&ContainerRef::from(m))
            .expect("start");
    }
    let err = rm_pod(&rt, "p", false).expect_err("members run");
    assert!(matches!(err, Error::PodNotEmpty { count: 2, .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        rt.containers().list(&[]).expect("list").len(),
        3,
        "nothing removed"
    );

    rm_pod(&rt, "p", true).expect("rm -f");
    assert!(rt.pods().get(&PodRef::from(&pod)).is_err());
    let left: Vec<String> = rt
        .containers()
        .list(&[])
        .expect("list")
        .into_iter()
        .map(|c| c.config.id)
        .collect();
    assert_eq!(left, vec![outside.config.id.clone()]);
    assert!(rt.pods().list().expect("pods").is_empty());
    assert_eq!(allocated(&rt), BTreeSet::from([outside.config.lock_id]));
    for m in &members {
        assert!(!rt.layout.bundle_dir(&m.config.id).exists());
    }
    // An empty pod goes without force.
    rt.pods()
        .create(NewPod {
            name: Some("empty".into()),
            ..NewPod::default()
        })
        .expect("pod");
    rm_pod(&rt, "empty", false).expect("rm empty pod");
    assert_eq!(allocated(&rt), BTreeSet::from([outside.config.lock_id]));
}

#[test]
fn renumber_gives_dense_lock_ids_containers_first() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    for i in 0..5 {
        rt.containers()
            .create(env.new_container(&format!("c{i}")))
            .expect("create");
        if i % 2 == 0 {
            rt.pods()
                .create(NewPod {
                    name: Some(format!("p{i}")),
                    ..NewPod::default()
                })
                .expect("pod");
        }
    }
    for name in ["c1", "c3"] {
        rm(&rt, name, false).expect("rm");
    }
    rm_pod(&rt, "p0", false).expect("rm pod");
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
        .containers()
        .list(&[])
        .expect("list")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    let pod_locks: BTreeSet<u32> = rt
        .pods()
        .list()
        .expect("pods")
        .iter()
        .map(|(p, _)| p.config.lock_id)
        .collect();
    assert_eq!(ctr_locks, BTreeSet::from([0, 1, 2]));
    assert_eq!(pod_locks, BTreeSet::from([3, 4]));
    assert_eq!(allocated(&rt), (0..5).collect());
    assert_eq!(count_events(&rt, EventStatus::Renumber), 1);
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

#[test]
fn check_finds_leaked_unallocated_and_duplicate_locks_and_repairs_them() {
    for lmdb in [false, true] {
        let env = Env::new();
        let options = if lmdb { env.lmdb() } else { env.memory() };
        let rt = Runtime::open(options).expect("open");
        let a = rt.containers().create(env.new_container("a")).expect("a");
        let b = rt.containers().create(env.new_container("b")).expect("b");
        let c = rt.containers().create(env.new_container("c")).expect("c");
        assert!(rt.system().check(false).expect("check").findings.is_empty());

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

        let report = rt.system().check(false).expect("check");
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
            rt.system().check(false).expect("check").findings.len(),
            3,
            "check alone changes nothing"
        );

        let report = rt.system().check(true).expect("repair");
        assert_eq!(report.repaired, 3, "{report:?}");
        assert!(rt.system().check(false).expect("check").findings.is_empty());
        let locks: Vec<u32> = rt
            .containers()
            .list(&[])
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
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    rt.system().shutdown(false).expect("shutdown");

    fn stopped<T: std::fmt::Debug>(what: &str, r: Result<T>) {
        match r {
            Err(e @ Error::Stopped) => {
                assert_eq!(e.to_string(), "runtime has already been stopped")
            }
            other => panic!("{what} after shutdown: {other:?}"),
        }
    }
    let r = ContainerRef::from(&c);
    let ctrs = rt.containers();
    stopped("create", ctrs.create(env.new_container("d")));
    stopped("resolve", ctrs.resolve("c"));
    stopped("get", ctrs.get(&r));
    stopped("list", ctrs.list(&[]));
    stopped("remove", ctrs.remove(&r, true));
    stopped("create_pod", rt.pods().create(NewPod::default()));
    stopped("pod", rt.pods().resolve("p"));
    stopped("pods", rt.pods().list());
    stopped("start", ctrs.start(&r));
    stopped("stop", ctrs.stop(&r, Some(0)));
    stopped("kill", ctrs.kill(&r, 9));
    stopped("wait", ctrs.wait(&r));
    stopped("info", rt.system().info());
    stopped("locks", rt.system().locks());
    stopped("check", rt.system().check(true));
    stopped(
        "events",
        rt.system()
            .events(ReadOptions::default(), &mut |_| ControlFlow::Continue(())),
    );
    stopped("shutdown", rt.system().shutdown(true));
    stopped("reset", rt.system().reset());
}

#[test]
fn refresh_after_the_alive_file_goes_reclaims_locks_once() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    assert!(rt.refreshed(), "the first open refreshes");
    for name in ["a", "b", "c"] {
        rt.containers()
            .create(env.new_container(name))
            .expect("create");
    }
    rt.pods()
        .create(NewPod {
            name: Some("p".into()),
            ..NewPod::default()
        })
        .expect("pod");
    rm(&rt, "b", false).expect("rm");
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
    let d = rt
        .containers()
        .create(env.new_container("d"))
        .expect("create");
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
    let a = get(&rt, "a").expect("a");
    let mut c = get(&rt, "c").expect("c").config;
    rt.locks.free(c.lock_id).expect("free");
    c.lock_id = a.config.lock_id;
    rt.state().rewrite_container_config(&c).expect("rewrite");
    drop(rt);
    std::fs::remove_file(env.tmp_dir().join("alive")).expect("remove alive");
    ShmLockManager::remove(&env.lock_name).expect("remove segment");
    let rt = Runtime::open(env.lmdb()).expect("open after reboot");
    assert!(rt.refreshed());
    let ids: BTreeSet<u32> = rt
        .containers()
        .list(&[])
        .expect("list")
        .iter()
        .map(|c| c.config.lock_id)
        .collect();
    assert_eq!(ids.len(), 3, "a, c, d have distinct locks");
    assert_eq!(allocated(&rt), claimed(&rt));
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

#[test]
fn db_config_mismatch_names_the_key_and_both_values() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    rt.containers()
        .create(env.new_container("a"))
        .expect("create");
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
    assert_eq!(rt.containers().list(&[]).expect("list").len(), 1);
}

#[test]
fn repair_counts_each_finding_once_even_for_a_lock_shared_three_ways() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let ctrs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            rt.containers()
                .create(env.new_container(n))
                .expect("create")
        })
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
    let report = rt.system().check(false).expect("check");
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(matches!(
        &report.findings[0],
        Finding::DuplicateLock { lock, objects } if *lock == shared && objects.len() == 3
    ));
    let report = rt.system().check(true).expect("repair");
    assert_eq!(
        report.repaired,
        report.findings.len(),
        "every finding repaired once: {report:?}"
    );
    assert!(rt.system().check(false).expect("check").findings.is_empty());
    assert_eq!(claimed(&rt).len(), 3);
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn removing_many_answers_each_name_and_frees_every_lock() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let pod = rt
        .pods()
        .create(NewPod {
            name: Some("pod1".into()),
            ..NewPod::default()
        })
        .expect("pod");
    let mut ids = Vec::new();
    for name in ["c1", "c2", "c3"] {
        ids.push(
            rt.containers()
                .create(env.new_container(name))
                .expect("create")
                .config
                .id,
        );
    }
    let member = rt
        .containers()
        .create(NewContainer {
            pod: Some(PodRef::from(&pod)),
            ..env.new_container("member")
        })
        .expect("member");
    let mut refs: Vec<ContainerRef> = ["c3", "member", "c1", "c2"]
        .into_iter()
        .map(|n| cref(&rt, n))
        .collect();
    // Removed by someone else after the lookup.
    let stale = cref(&rt, "c2");
    rm(&rt, "c2", false).expect("rm c2");
    refs[3] = stale;
    assert_eq!(refs[1].id(), member.config.id);
    let results = rt.containers().remove_many(&refs, false);
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[1].is_ok() && results[2].is_ok());
    assert!(matches!(
        results[3],
        Err(Error::State(StateError::NotFound { .. }))
    ));
    assert!(rt.containers().list(&[]).expect("list").is_empty());
    assert_eq!(allocated(&rt), BTreeSet::from([pod.config.lock_id]));
    assert_eq!(count_events(&rt, EventStatus::Remove), 4);
    for id in &ids {
        assert!(!rt.layout.bundle_dir(id).exists());
    }
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

#[test]
fn lifecycle_start_kill_wait_and_cleanup_follow_the_driver() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let r = ContainerRef::from(&c);
    let ctrs = rt.containers();
    let started = ctrs.start(&r).expect("start");
    assert_eq!(started.state.status, crate::ContainerStatus::Running);
    assert_eq!(env.fake.status(r.id()), Some(FakeStatus::Running));
    assert_eq!(
        ctrs.start(&r).expect("start again").state.status,
        crate::ContainerStatus::Running
    );
    ctrs.pause(&r).expect("pause");
    assert!(ctrs.pause(&r).is_err(), "paused twice");
    ctrs.unpause(&r).expect("unpause");
    ctrs.kill(&r, 10).expect("kill");
    assert_eq!(ctrs.wait(&r).expect("wait"), 138);
    let got = ctrs.get(&r).expect("get");
    assert_eq!(got.state.status, crate::ContainerStatus::Exited);
    assert_eq!(got.state.exit_code, 138);
    assert_eq!(count_events(&rt, EventStatus::Died), 1, "one died event");
    assert!(ctrs.kill(&r, 9).is_err(), "not running");
    ctrs.cleanup(r.id()).expect("cleanup");
    assert_eq!(
        env.fake.status(r.id()),
        None,
        "cleanup deletes the runtime's record"
    );
    // Started again: a fresh runtime record, a fresh exit.
    ctrs.start(&r).expect("restart");
    env.fake.finish(r.id(), 3);
    assert_eq!(ctrs.wait(&r).expect("wait"), 3);
    rm(&rt, "c", false).expect("rm");
    assert!(env.fake.is_empty(), "rm deletes the runtime's record");
    assert!(allocated(&rt).is_empty());
}

#[test]
fn a_failed_runtime_create_or_start_leaves_the_container_configured() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let r = ContainerRef::from(&c);
    env.fake
        .fail_next(Op::Create, |id| oxpod_ociruntime::Error::CommandNotFound {
            command: "nope".into(),
            message: format!("exec of {id} failed"),
        });
    let err = rt.containers().start(&r).expect_err("create fails");
    assert_eq!(err.command_exit_code(), Some(127));
    assert_eq!(
        get(&rt, "c").expect("c").state.status,
        crate::ContainerStatus::Configured
    );
    env.fake
        .fail_next(Op::Start, |id| oxpod_ociruntime::Error::Runtime {
            runtime: "fake".into(),
            action: "start",
            id: id.into(),
            message: "boom".into(),
        });
    rt.containers().start(&r).expect_err("start fails");
    assert_eq!(
        get(&rt, "c").expect("c").state.status,
        crate::ContainerStatus::Configured
    );
    assert!(
        env.fake.is_empty(),
        "the half-made runtime container was deleted"
    );
    assert!(
        !rt.layout
            .tmp_dir
            .join("ledger")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
    rt.containers().start(&r).expect("then it starts");
}

#[test]
fn stop_signals_then_kills_and_never_holds_the_lock_while_waiting() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let mut new = env.new_container("c");
    new.stop_timeout = Some(1);
    let c = rt.containers().create(new).expect("create");
    let r = ContainerRef::from(&c);
    rt.containers().start(&r).expect("start");
    env.fake.ignore_signal(15);
    std::thread::scope(|s| {
        let stopping = s.spawn(|| rt.containers().stop(&r, None));
        // While stop waits out its timeout, the lock is free.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let lock = rt.locks.retrieve(r.lock_id()).expect("lock");
        let free = matches!(lock.try_lock(), Ok(Some(_)));
        assert!(free, "stop holds the container's lock while it waits");
        assert_eq!(
            stopping.join().expect("thread").expect("stop"),
            crate::StopOutcome::Killed(137)
        );
    });
    assert!(get(&rt, "c").expect("c").state.stopped_by_user);
    assert_eq!(
        rt.containers().stop(&r, None).expect("stop again"),
        crate::StopOutcome::AlreadyStopped
    );
}

#[test]
fn rm_force_kills_many_running_containers_then_removes_them_together() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let refs: Vec<ContainerRef> = (0..4)
        .map(|i| {
            let c = rt
                .containers()
                .create(env.new_container(&format!("c{i}")))
                .expect("create");
            let r = ContainerRef::from(&c);
            rt.containers().start(&r).expect("start");
            r
        })
        .collect();
    let refused = rt.containers().remove_many(&refs, false);
    assert!(
        refused
            .iter()
            .all(|r| matches!(r, Err(Error::ContainerState { .. })))
    );
    let results = rt.containers().remove_many(&refs, true);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(env.fake.is_empty());
    assert!(allocated(&rt).is_empty());
    let kills = env
        .fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("kill --all"))
        .count();
    assert_eq!(kills, 4, "each got one SIGKILL");
}

#[test]
fn a_dead_monitor_is_recorded_as_exit_minus_one() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let r = ContainerRef::from(&c);
    rt.containers().start(&r).expect("start");
    env.fake.kill_monitor(r.id());
    assert_eq!(rt.containers().wait(&r).expect("wait"), -1);
    rm(&rt, "c", true).expect("rm -f");
}

#[test]
fn pod_operations_name_every_failed_member_once() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let pod = rt
        .pods()
        .create(NewPod {
            name: Some("p".into()),
            ..NewPod::default()
        })
        .expect("pod");
    let p = PodRef::from(&pod);
    for name in ["m1", "m2", "m3"] {
        let mut new = env.new_container(name);
        new.pod = Some(p.clone());
        rt.containers().create(new).expect("member");
    }
    for _ in 0..2 {
        env.fake
            .fail_next(Op::Create, |id| oxpod_ociruntime::Error::Conmon {
                id: id.into(),
                message: "no".into(),
            });
    }
    let err = rt.pods().start(&p).expect_err("two members fail");
    let text = err.to_string();
    assert!(matches!(err, Error::PodMembers { .. }), "{text}");
    assert_eq!(text.matches("conmon failed").count(), 2, "{text}");
    rt.pods().start(&p).expect("the rest start");
    assert_eq!(env.fake.len(), 3);
    rt.pods().stop(&p, Some(0)).expect("stop");
    rm_pod(&rt, "p", true).expect("rm -f");
    assert!(allocated(&rt).is_empty());
}

/// Writes the journal a command killed midway leaves: its header and
/// steps, no flock held.
fn leave_journal(rt: &Runtime, op: &str, steps: &[crate::ledger::Step]) {
    let dir = rt.layout.tmp_dir.join("ledger");
    std::fs::create_dir_all(&dir).expect("ledger dir");
    let mut text = format!("{{\"op\":\"{op}\",\"pid\":4242}}\n");
    for s in steps {
        text.push_str(&serde_json::to_string(s).expect("json"));
        text.push('\n');
    }
    // A torn last line, as a kill mid-write leaves.
    text.push_str("{\"step\":\"lo");
    std::fs::write(dir.join("4242.0"), text).expect("journal");
}

#[test]
fn the_next_open_releases_what_a_killed_create_or_start_left() {
    use crate::ledger::Step;
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let keep = rt
        .containers()
        .create(env.new_container("keep"))
        .expect("create");
    // A create killed after claiming a lock and writing a bundle.
    let lock = rt.locks.allocate().expect("allocate").id();
    let orphan = "f".repeat(64);
    std::fs::create_dir_all(rt.layout.bundle_dir(&orphan)).expect("bundle");
    // A start killed after conmon created the runtime's container.
    let started = ContainerRef::from(&keep);
    let bundle = rt.layout.bundle_dir(started.id());
    let run_dir = rt.layout.run_dir(started.id());
    use oxpod_ociruntime::Driver;
    env.fake
        .create(&oxpod_ociruntime::CreateRequest {
            id: started.id(),
            name: "keep",
            runtime: "fake",
            bundle_dir: &bundle,
            run_dir: &run_dir,
            log_path: &bundle.join("ctr.log"),
            terminal: false,
            stdin: false,
            exit_command: None,
            hold: &[],
        })
        .expect("fake create");
    leave_journal(
        &rt,
        "create",
        &[
            Step::Lock { lock },
            Step::Bundle { id: orphan.clone() },
            // Claimed by a committed record: never released.
            Step::Lock {
                lock: keep.config.lock_id,
            },
            Step::Bundle {
                id: keep.config.id.clone(),
            },
        ],
    );
    let report = rt.system().check(false).expect("check");
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Interrupted { op, left, .. }
            if op == "create" && left.len() == 2)),
        "{:?}",
        report.findings
    );
    drop(rt);
    let rt = Runtime::open(env.lmdb()).expect("reopen repairs");
    assert!(!rt.layout.bundle_dir(&orphan).exists());
    assert!(rt.layout.bundle_config(keep.config.id.as_str()).exists());
    assert_eq!(allocated(&rt), BTreeSet::from([keep.config.lock_id]));
    assert!(rt.system().check(false).expect("check").findings.is_empty());
    leave_journal(
        &rt,
        "start",
        &[Step::Runtime {
            runtime: "fake".into(),
            id: started.id().to_owned(),
        }],
    );
    drop(rt);
    let rt = Runtime::open(env.lmdb()).expect("reopen repairs");
    assert_eq!(
        env.fake.status(started.id()),
        None,
        "runtime container deleted"
    );
    rt.containers()
        .start(&started)
        .expect("the next start succeeds");
    rm(&rt, "keep", true).expect("rm -f");
    assert!(env.fake.is_empty());
}

#[test]
fn a_live_commands_journal_is_left_alone() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let mut ledger = crate::ledger::Ledger::begin(&rt, "create", false).expect("begin");
    let lock = ledger.claim_lock().expect("claim");
    let found = crate::ledger::repair(&rt, true).expect("repair");
    assert!(found.is_empty(), "{found:?}");
    assert!(allocated(&rt).contains(&lock));
    drop(ledger);
    assert!(
        !allocated(&rt).contains(&lock),
        "dropped uncommitted: released"
    );
    assert!(crate::ledger::repair(&rt, true).expect("repair").is_empty());
}

#[test]
fn locks_report_covers_every_namespace() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb().namespace("one")).expect("open");
    rt.containers()
        .create(env.new_container("a"))
        .expect("create");
    drop(rt);
    let rt = Runtime::open(env.lmdb().namespace("two")).expect("open");
    rt.containers()
        .create(env.new_container("b"))
        .expect("create");
    let report = rt.system().locks().expect("locks");
    assert_eq!(report.allocated.len(), 2);
    assert!(
        report.allocated.values().all(|users| users.len() == 1),
        "no lock of another namespace shows as leaked: {:?}",
        report.allocated
    );
}

#[test]
fn a_container_whose_runtime_went_away_can_still_be_removed() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let mut config = c.config.clone();
    config.oci_runtime = "gone".into();
    rt.state()
        .rewrite_container_config(&config)
        .expect("rewrite");
    let r = ContainerRef::from(&c);
    let err = rt.containers().start(&r).expect_err("no such runtime");
    assert!(matches!(err, Error::RuntimeNotConfigured { .. }), "{err}");
    rt.containers().remove(&r, true).expect("rm -f");
    assert!(allocated(&rt).is_empty());
}

#[test]
fn lock_type_file_is_refused_at_open() {
    let env = Env::new();
    let err = Runtime::open(env.memory().set("lock_type", "file")).expect_err("file locks");
    assert!(
        err.to_string().contains("file locks are not implemented"),
        "{err}"
    );
}

/// Starts a child process that takes lock `lock` of the env's segment and
/// holds it until killed; returns once it holds it.
fn hold_lock_in_child(env: &Env, lock: u32) -> std::process::Child {
    let ready = env.dir.path().join(format!("ready-{lock}"));
    let role = format!("hold:{}:{lock}:{}", env.lock_name, ready.display());
    let child = oxpod_test_support::child::command("tests::hold_lock_child", &role)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("child");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the child never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child
}

/// Child role `hold:<segment>:<lock>:<ready file>`: holds a lock until killed.
#[test]
#[ignore = "child-process entry point, started by its parent test"]
fn hold_lock_child() {
    use oxpod_locks::LockManager;
    let role = oxpod_test_support::child::role();
    let mut parts = role.splitn(4, ':');
    let (Some("hold"), Some(segment), Some(lock), Some(ready)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("bad role {role}");
    };
    let m = ShmLockManager::open_existing(segment).expect("segment");
    let lock = m.retrieve(lock.parse().expect("lock id")).expect("lock");
    let _held = lock.lock().expect("take");
    std::fs::write(ready, "held").expect("ready file");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn renumber_refuses_while_a_live_process_holds_a_lock_and_changes_nothing() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    drop(rt);
    let mut child = hold_lock_in_child(&env, c.config.lock_id);
    for options in [
        env.lmdb().renumber(true),
        env.lmdb().num_locks(96).renumber(true),
    ] {
        let err = Runtime::open(options).expect_err("held lock");
        assert!(matches!(err, Error::LocksHeld { .. }), "{err}");
        assert!(err.to_string().contains(&child.id().to_string()), "{err}");
    }
    // Nothing changed: the segment keeps its size, the record its lock.
    let rt = Runtime::open(env.lmdb()).expect("open");
    assert_eq!(rt.locks.capacity(), 64);
    assert_eq!(get(&rt, "c").expect("c").config.lock_id, c.config.lock_id);
    drop(rt);
    child.kill().expect("kill");
    child.wait().expect("wait");
    let rt = Runtime::open(env.lmdb().num_locks(96).renumber(true)).expect("renumber");
    assert_eq!(rt.locks.capacity(), 96);
}

#[test]
fn a_refused_renumber_to_another_size_keeps_the_segment() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("runner"))
        .expect("create");
    rt.containers()
        .start(&ContainerRef::from(&c))
        .expect("start");
    drop(rt);
    let err = Runtime::open(env.lmdb().num_locks(96).renumber(true)).expect_err("running");
    assert!(matches!(err, Error::RenumberWhileRunning { .. }), "{err}");
    // The stop the error asks for works with the configured size.
    let rt = Runtime::open(env.lmdb()).expect("the old segment is untouched");
    assert_eq!(rt.locks.capacity(), 64);
    rt.containers()
        .stop(&cref(&rt, "runner"), Some(0))
        .expect("stop");
    drop(rt);
    Runtime::open(env.lmdb().num_locks(96).renumber(true)).expect("renumber");
}

#[test]
fn renumber_recreates_a_damaged_or_planted_segment() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    drop(rt);
    let path = format!("/dev/shm{}", env.lock_name);
    for damage in 0..2 {
        if damage == 0 {
            std::fs::write(&path, vec![0u8; 4096]).expect("zero the segment");
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        }
        let err = Runtime::open(env.lmdb()).expect_err("unusable segment");
        assert!(err.to_string().contains("oxpod system renumber"), "{err}");
        let rt = Runtime::open(env.lmdb().renumber(true)).expect("renumber recreates it");
        assert_eq!(allocated(&rt), claimed(&rt));
        assert!(get(&rt, "c").is_ok());
        drop(rt);
        Runtime::open(env.lmdb()).expect("usable again");
    }
    let _ = c;
}

/// fault-findings 3 (t3b `shmg`): with a mutex of the segment written
/// over and a container running, every command failed and `renumber`
/// refused while containers run: nothing could stop the container. The
/// segment is recreated at its size with the locks re-claimed; the numbers
/// stay; the container can then be stopped.
#[test]
fn a_damaged_segment_is_recreated_even_while_containers_run() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    rt.containers().start(&cref(&rt, "c")).expect("start");
    let lock = c.config.lock_id;
    drop(rt);
    let path = format!("/dev/shm{}", env.lock_name);
    let mut bytes = std::fs::read(&path).expect("read the segment");
    // Past the header: the first group's mutexes.
    for b in &mut bytes[64..1024] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).expect("damage the segment");
    let err = Runtime::open(env.lmdb()).expect_err("damaged segment");
    assert!(err.to_string().contains("oxpod system renumber"), "{err}");
    let rt = Runtime::open(env.lmdb().renumber(true)).expect("renumber recreates it");
    assert_eq!(
        get(&rt, "c").expect("get").config.lock_id,
        lock,
        "numbers stay while it runs"
    );
    assert_eq!(allocated(&rt), claimed(&rt));
    rt.containers()
        .stop(&cref(&rt, "c"), Some(0))
        .expect("stop works again");
    drop(rt);
    let rt = Runtime::open(env.lmdb().renumber(true)).expect("a real renumber now");
    assert_eq!(allocated(&rt), claimed(&rt));
}

#[test]
fn check_finds_and_removes_bundle_dirs_no_record_claims() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let keep = rt
        .containers()
        .create(env.new_container("keep"))
        .expect("create");
    let orphan = "e".repeat(64);
    std::fs::create_dir_all(rt.layout.bundle_dir(&orphan)).expect("orphan dir");
    std::fs::write(rt.layout.bundle_config(&orphan), "{}").expect("orphan config");
    let report = rt.system().check(false).expect("check");
    assert_eq!(
        report.findings,
        vec![Finding::OrphanBundle { id: orphan.clone() }]
    );
    let report = rt.system().check(true).expect("repair");
    assert_eq!(report.repaired, 1);
    assert!(!rt.layout.bundle_dir(&orphan).exists());
    assert!(rt.layout.bundle_config(&keep.config.id).exists());
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

#[test]
fn loose_dirs_are_made_private_and_foreign_ones_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let static_dir = env.dir.path().join("root");
    std::fs::create_dir_all(static_dir.join("containers")).expect("dirs");
    for d in [static_dir.clone(), static_dir.join("containers")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&static_dir), 0o700, "fault-findings 12");
    assert_eq!(mode(&static_dir.join("containers")), 0o700);
    assert_eq!(mode(&static_dir.join("state")), 0o700);
    assert_eq!(mode(&env.tmp_dir()), 0o700);
    assert_eq!(mode(&rt.layout.bundle_dir(&c.config.id)), 0o700);
    assert_eq!(mode(&rt.layout.bundle_config(&c.config.id)), 0o600);
    drop(rt);
    // A directory every user writes to (/tmp-like) is refused, not chmod'ed.
    std::fs::set_permissions(&static_dir, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let err = Runtime::open(env.lmdb()).expect_err("world-writable static dir");
    assert!(matches!(err, Error::SharedDir { .. }), "{err}");
    assert_eq!(mode(&static_dir), 0o777, "left as it was");
    std::fs::set_permissions(&static_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    if oxpod_test_support::is_root() {
        std::os::unix::fs::chown(&static_dir, Some(65534), None).expect("chown");
        let err = Runtime::open(env.lmdb()).expect_err("planted static dir");
        assert!(matches!(err, Error::NotOurs { owner: 65534, .. }), "{err}");
        std::os::unix::fs::chown(&static_dir, Some(0), None).expect("chown back");
    }
}

#[test]
fn reset_works_without_opening_a_truncated_database() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    rt.containers()
        .start(&ContainerRef::from(&c))
        .expect("start");
    drop(rt);
    let data = env.dir.path().join("root/state/data.mdb");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .expect("data")
        .set_len(5000)
        .expect("truncate");
    let err = Runtime::open(env.lmdb()).expect_err("truncated");
    assert!(err.is_damaged_database(), "{err}");
    let deleted = crate::reset_unopened(env.lmdb()).expect("reset");
    assert_eq!(deleted, vec![c.config.id.clone()]);
    assert!(
        env.fake.is_empty(),
        "the running container was deleted from its runtime"
    );
    assert!(!data.exists());
    let rt = Runtime::open(env.lmdb()).expect("a fresh store");
    assert!(rt.containers().list(&[]).expect("list").is_empty());
}

#[test]
fn a_lock_wait_ends_at_lock_timeout_naming_the_holder() {
    let env = Env::new();
    let rt =
        Runtime::open(env.lmdb().lock_timeout(std::time::Duration::from_secs(1))).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let mut child = hold_lock_in_child(&env, c.config.lock_id);
    let err = rt
        .containers()
        .start(&ContainerRef::from(&c))
        .expect_err("held");
    let text = err.to_string();
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(text.contains(&child.id().to_string()), "{text}");
    rt.containers()
        .start(&ContainerRef::from(&c))
        .expect("free again (dead holder recovered)");
}

#[test]
fn the_hosts_root_is_refused_as_a_rootfs() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let mut new = env.new_container("c");
    new.rootfs = "/".into();
    let err = rt.containers().create(new).expect_err("host root");
    assert!(matches!(err, Error::HostRootfs { .. }), "{err}");
    assert!(allocated(&rt).is_empty(), "nothing was claimed");
}

#[test]
fn a_create_killed_between_allocating_and_noting_a_lock_leaks_nothing() {
    use crate::ledger::Step;
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let keep = rt
        .containers()
        .create(env.new_container("keep"))
        .expect("create");
    let lost = rt.locks.allocate().expect("allocate").id();
    leave_journal(&rt, "create", &[Step::Claiming]);
    drop(rt);
    let rt = Runtime::open(env.lmdb()).expect("reopen repairs");
    assert_eq!(allocated(&rt), BTreeSet::from([keep.config.lock_id]));
    assert!(!allocated(&rt).contains(&lost));
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

#[test]
fn filters_of_one_key_are_ored_of_different_keys_anded_labels_anded() {
    use crate::{ContainerFilter as F, ContainerStatus as S};
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    for (name, label) in [("aa", "x"), ("bb", "y"), ("cc", "x")] {
        let mut new = env.new_container(name);
        new.labels = [
            (label.to_owned(), "1".to_owned()),
            ("all".to_owned(), "1".to_owned()),
        ]
        .into();
        rt.containers().create(new).expect("create");
    }
    rt.containers().start(&cref(&rt, "cc")).expect("start");
    let names = |filters: &[F]| -> Vec<String> {
        let mut n: Vec<String> = rt
            .containers()
            .list(filters)
            .expect("list")
            .into_iter()
            .map(|c| c.config.name)
            .collect();
        n.sort();
        n
    };
    let name = |p: &str| F::Name(crate::NamePattern::new(p).expect("pattern"));
    assert_eq!(names(&[name("aa"), name("bb")]), ["aa", "bb"]);
    // podman's name filter is an unanchored regular expression.
    assert_eq!(names(&[name("^(a|c)")]), ["aa", "cc"]);
    assert_eq!(names(&[name("^a$")]), Vec::<String>::new());
    let created = |n: &str| {
        rt.containers()
            .get(&cref(&rt, n))
            .expect("get")
            .config
            .created
    };
    assert_eq!(names(&[F::CreatedAfter(created("aa"))]), ["bb", "cc"]);
    assert_eq!(names(&[F::CreatedBefore(created("bb"))]), ["aa"]);
    assert_eq!(
        names(&[F::Ancestor("busybox".into())]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&[F::Status(S::Configured), F::Status(S::Running)]),
        ["aa", "bb", "cc"]
    );
    assert_eq!(
        names(&[F::Status(S::Running), name("aa")]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&[F::Label("x".into(), None), F::Label("all".into(), None)]),
        ["aa", "cc"]
    );
    assert_eq!(
        names(&[F::Label("x".into(), None), F::Label("y".into(), None)]),
        Vec::<String>::new()
    );
}

#[test]
fn a_start_killed_after_the_runtime_started_it_still_gets_its_exit() {
    let env = Env::new();
    let rt = Runtime::open(env.memory()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("c"))
        .expect("create");
    let r = ContainerRef::from(&c);
    rt.containers().start(&r).expect("start");
    // As a start killed between `runc start` and recording `running` leaves it.
    let mut st = get(&rt, "c").expect("c").state;
    st.status = crate::ContainerStatus::Created;
    rt.state()
        .update_container_state(r.id(), &st)
        .expect("write");
    env.fake.finish(r.id(), 4);
    assert_eq!(rt.containers().wait(&r).expect("wait"), 4);
    assert_eq!(
        get(&rt, "c").expect("c").state.status,
        crate::ContainerStatus::Exited
    );
}

#[test]
fn a_live_run_rm_guard_does_not_keep_other_commands_out() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let (c, guard) = rt
        .containers()
        .create_removed_by_caller(env.new_container("c"))
        .expect("create");
    // Another command opens (taking the alive lock exclusively) while the
    // guard lives: it must not wait for the attached run to end.
    let (tx, rx) = std::sync::mpsc::channel();
    let options = env.lmdb();
    std::thread::spawn(move || {
        let opened = Runtime::open(options).map(|rt| rt.containers().list(&[]).map(|l| l.len()));
        let _ = tx.send(opened.is_ok());
    });
    let opened = rx.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(
        opened,
        Ok(true),
        "another open waited on the run --rm guard"
    );
    rt.containers()
        .remove(&ContainerRef::from(&c), true)
        .expect("rm");
    guard.done();
    assert!(allocated(&rt).is_empty());
}

/// fault-findings t1b `reboot-shm`: the segment gone and the first command
/// SIGKILLed after it made a new one but before it re-claimed the locks;
/// the next command found a complete, empty segment and every container's
/// lock unallocated. The marker it leaves makes the next open re-claim.
#[test]
fn a_segment_made_by_a_command_killed_before_it_reclaimed_is_reclaimed_next() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    for n in ["a", "b"] {
        rt.containers()
            .create(env.new_container(n))
            .expect("create");
    }
    let before = claimed(&rt);
    drop(rt);
    // What the killed command did: marked, made the segment, died.
    ShmLockManager::remove(&env.lock_name).expect("remove segment");
    std::fs::write(env.tmp_dir().join("locks.claiming"), b"").expect("marker");
    // (Without the marker this open would see all of them unallocated.)
    let seg = ShmLockManager::create(&env.lock_name, 64).expect("new segment");
    drop(seg);
    let rt = Runtime::open(env.lmdb()).expect("open after the kill");
    assert_eq!(allocated(&rt), before, "every lock re-claimed");
    assert!(
        !env.tmp_dir().join("locks.claiming").exists(),
        "marker removed"
    );
    assert!(rt.system().check(false).expect("check").findings.is_empty());
}

/// No exec session survives a reboot: the refresh removes every record,
/// and `exec_sessions` then finds none.
#[test]
fn a_refresh_clears_exec_sessions() {
    let env = Env::new();
    let rt = Runtime::open(env.lmdb()).expect("open");
    let c = rt
        .containers()
        .create(env.new_container("a"))
        .expect("create");
    let session = crate::ExecSession {
        id: "e".repeat(64),
        container_id: c.config.id.clone(),
        command: vec!["sh".into()],
        tty: false,
        detached: true,
        pid: 0,
        conmon_pid: 0,
        status: crate::ExecStatus::Running,
        exit_code: None,
        client: (0, 0),
        created_at: jiff::Timestamp::now(),
    };
    rt.state()
        .write_items(&[oxpod_state::ItemOp::put(&session).expect("encode")])
        .expect("write");
    assert_eq!(
        rt.containers().exec_sessions(&c.config.id).expect("list"),
        [session]
    );
    drop(rt);
    std::fs::remove_file(env.tmp_dir().join("alive")).expect("remove alive");
    let rt = Runtime::open(env.lmdb()).expect("open after reboot");
    assert!(rt.refreshed());
    assert!(
        rt.containers()
            .exec_sessions(&c.config.id)
            .expect("list")
            .is_empty()
    );
}
