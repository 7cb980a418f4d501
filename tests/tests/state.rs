//! End-to-end tests of containers and pods in the state, driving the built
//! `oxpod` binary: create / ps / inspect / rm, names, id prefixes, racing
//! creates, a simulated reboot, lock renumbering and exhaustion, database
//! configuration mismatches, podman's `libpod.conf`, and `system check`.
//!
//! None of these runs a container, so none needs root; `Runtime::open`
//! still discovers conmon and runc, which must be installed. Every test has
//! its own `TestEnv` (directories and lock segment) and runs in parallel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use oxpod_tests::TestEnv;
use serde_json::Value;

/// The env's rootfs directory, made empty when busybox is not installed
/// (creating a container needs only a directory).
fn rootfs(env: &TestEnv) -> String {
    let dir = env.rootfs();
    std::fs::create_dir_all(&dir).expect("rootfs dir");
    dir.display().to_string()
}

/// `oxpod create --name NAME --rootfs ROOTFS true`, returning the id.
fn create(env: &TestEnv, name: &str) -> String {
    let out = env.ok(["create", "--name", name, "--rootfs", &rootfs(env), "true"]);
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 64, "create prints the full id: {out:?}");
    id
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `system locks --format json`: capacity and the allocated lock numbers.
fn locks(env: &TestEnv) -> (u64, BTreeSet<u32>) {
    let v = json(&env.ok(["system", "locks", "--format", "json"]));
    let capacity = v["capacity"].as_u64().expect("capacity");
    let allocated = v["allocated"]
        .as_object()
        .expect("allocated map")
        .keys()
        .map(|k| k.parse().expect("lock number"))
        .collect();
    (capacity, allocated)
}

/// The ids `ps -a -q --no-trunc` lists.
fn all_ids(env: &TestEnv) -> Vec<String> {
    env.ok(["ps", "-a", "-q", "--no-trunc"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `LockNumber` of a container or pod, from `inspect`.
fn lock_id(env: &TestEnv, name: &str) -> u32 {
    let v = json(&env.ok(["inspect", name]));
    let id = v[0]["LockNumber"]
        .as_u64()
        .unwrap_or_else(|| panic!("no LockNumber in inspect of {name}: {v}"));
    u32::try_from(id).expect("lock id fits u32")
}

/// The bundle directories under `<root>/containers`.
fn bundles(env: &TestEnv) -> usize {
    match std::fs::read_dir(env.root().join("containers")) {
        Ok(dir) => dir.count(),
        Err(_) => 0,
    }
}

/// `system check` exits 0 and says so.
fn assert_check_clean(env: &TestEnv) {
    let out = env.ok(["system", "check"]);
    assert!(out.contains("no problems found"), "system check: {out}");
}

fn shm_path(env: &TestEnv) -> PathBuf {
    Path::new("/dev/shm").join(env.lock_name.trim_start_matches('/'))
}

/// How many `refresh` events the events log holds.
fn refresh_events(env: &TestEnv) -> usize {
    let out = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=refresh",
        "--format",
        "json",
    ]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .inspect(|l| assert_eq!(json(l)["Status"], "refresh", "filtered line {l}"))
        .count()
}

#[test]
fn create_ps_inspect_rm_round_trip() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let id = env
        .ok([
            "create",
            "--name",
            "web",
            "--label",
            "tier=front",
            "--env",
            "A=b",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "echo hi",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    // Not running, so plain `ps` lists nothing but its header.
    let ps = env.ok(["ps"]);
    assert_eq!(ps.lines().count(), 1, "ps without -a: {ps}");
    assert!(!ps.contains("web"), "{ps}");

    let ps = env.ok(["ps", "-a"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines.len(), 2, "{ps}");
    assert!(lines[0].starts_with("CONTAINER ID"), "{ps}");
    assert!(lines[1].starts_with(&id[..12]), "{ps}");
    assert!(!lines[1].contains(&id[..13]), "ids are shortened: {ps}");
    assert!(
        lines[1].contains("web") && lines[1].contains("Created"),
        "{ps}"
    );
    assert!(
        env.ok(["ps", "-a", "--no-trunc"]).contains(&id),
        "--no-trunc shows the full id"
    );

    let v = json(&env.ok(["ps", "-a", "--format", "json"]));
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Id"], id.as_str());
    assert_eq!(rows[0]["Names"], serde_json::json!(["web"]));
    assert_eq!(rows[0]["Labels"]["tier"], "front");
    assert_eq!(
        rows[0]["Command"],
        serde_json::json!(["sh", "-c", "echo hi"])
    );

    assert_eq!(env.ok(["ps", "-a", "--format", "{{.Names}}"]), "web\n");
    assert_eq!(
        env.ok(["ps", "-a", "-q", "--no-trunc"]).trim(),
        id,
        "ps -q --no-trunc"
    );

    for key in ["web", id.as_str()] {
        let v = json(&env.ok(["inspect", key]));
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v[0]["Id"], id.as_str());
        assert_eq!(v[0]["Name"], "web");
        // podman's defaults around the user's variable, HOSTNAME last.
        let env_of = v[0]["Config"]["Env"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            env_of.first(),
            Some(&serde_json::json!("A=b")),
            "{env_of:?}"
        );
        assert!(
            env_of.contains(&serde_json::json!("TERM=xterm")),
            "{env_of:?}"
        );
        assert!(
            env_of
                .last()
                .and_then(|e| e.as_str())
                .is_some_and(|e| e.starts_with("HOSTNAME=")),
            "{env_of:?}"
        );
        assert_eq!(v[0]["Config"]["Labels"]["tier"], "front");
        assert_eq!(v[0]["Rootfs"], rootfs.as_str());
    }
    assert_eq!(env.ok(["inspect", "--format", "{{.Name}}", &id]), "web\n");
    let (_, allocated) = locks(&env);
    assert_eq!(allocated, BTreeSet::from([lock_id(&env, "web")]));
    assert_eq!(bundles(&env), 1);

    assert_eq!(
        env.ok(["rm", "web"]).trim(),
        "web",
        "rm echoes the name, as podman"
    );
    assert!(all_ids(&env).is_empty());
    let err = env.fails(125, ["inspect", "web"]);
    assert!(err.contains("no") && err.contains("web"), "{err}");
    // podman: 1 for a container that is not there.
    let err = env.fails(1, ["rm", "web"]);
    assert!(err.contains("web"), "{err}");
    assert!(locks(&env).1.is_empty(), "rm frees the lock");
    assert_eq!(bundles(&env), 0, "rm removes the bundle");
    assert_check_clean(&env);
}

#[test]
fn names_are_unique_across_pods_and_containers() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let pod = env
        .ok(["pod", "create", "--infra=false", "--name", "shared"])
        .trim()
        .to_owned();
    let err = env.fails(
        125,
        ["create", "--name", "shared", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("shared") && err.contains("in use"), "{err}");

    let ctr = create(&env, "solo");
    let err = env.fails(125, ["pod", "create", "--infra=false", "--name", "solo"]);
    assert!(err.contains("solo") && err.contains("in use"), "{err}");
    let err = env.fails(
        125,
        ["create", "--name", "solo", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("solo") && err.contains("in use"), "{err}");

    // The failed creates left nothing: one container, one pod, two locks.
    assert_eq!(all_ids(&env), vec![ctr.clone()]);
    assert_eq!(env.ok(["pod", "ps", "-q", "--no-trunc"]).trim(), pod);
    assert_eq!(locks(&env).1.len(), 2);
    assert_eq!(bundles(&env), 1);

    // A member of a pod, then the pod's name is free once it is gone.
    let member = env
        .ok([
            "create", "--name", "member", "--pod", "shared", "--rootfs", &rootfs, "true",
        ])
        .trim()
        .to_owned();
    let v = json(&env.ok(["inspect", "member"]));
    assert_eq!(v[0]["Pod"], pod.as_str());
    let err = env.fails(125, ["pod", "rm"]);
    assert!(err.contains("--all"), "{err}");
    // Its member never ran: `pod rm` removes both, as podman's does
    // (only running members need -f).
    env.ok(["pod", "rm", "shared"]);
    assert!(
        !all_ids(&env).contains(&member),
        "pod rm removes members that do not run"
    );
    create(&env, "shared");
    assert_eq!(locks(&env).1.len(), 2);
    assert_check_clean(&env);
}

#[test]
fn lookup_by_unique_id_prefix() {
    let env = TestEnv::new();
    // Create containers until two ids share their first character, so a
    // one-character prefix is ambiguous (at most 17 by pigeonhole). The
    // names hold non-hex letters, so no prefix is also a name.
    let mut ids: Vec<String> = Vec::new();
    let (a, b) = loop {
        let id = create(&env, &format!("name{}", ids.len()));
        if let Some(other) = ids.iter().find(|o| o.as_bytes()[0] == id.as_bytes()[0]) {
            break (other.clone(), id);
        }
        ids.push(id);
        assert!(
            ids.len() <= 16,
            "17 ids cannot all differ in the first hex digit"
        );
    };
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let err = env.fails(125, ["inspect", &a[..common]]);
    assert!(
        err.contains("more than one") && err.contains(&a[..common]),
        "ambiguous prefix: {err}"
    );
    let unique = &a[..common + 1];
    let v = json(&env.ok(["inspect", unique]));
    assert_eq!(v[0]["Id"], a.as_str());
    let err = env.fails(125, ["inspect", "zzzz"]);
    assert!(err.contains("zzzz"), "{err}");
    assert_eq!(env.ok(["rm", &b[..common + 1]]).trim(), &b[..common + 1]);
    assert!(!all_ids(&env).contains(&b));
    assert!(all_ids(&env).contains(&a));
}

#[test]
fn racing_creates_of_one_name_make_exactly_one_container() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    // Open once so the race is about the create, not the first-run refresh.
    env.ok(["ps", "-a"]);
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.cmd(["create", "--name", "same", "--rootfs", &rootfs, "true"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn oxpod")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let winners: Vec<_> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one create wins: {outputs:?}");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{err}");
        assert!(err.contains("name same is in use"), "clear message: {err}");
    }
    let id = String::from_utf8_lossy(&winners[0].stdout)
        .trim()
        .to_owned();
    assert_eq!(all_ids(&env), vec![id.clone()]);
    assert_eq!(locks(&env).1, BTreeSet::from([lock_id(&env, "same")]));
    assert_eq!(bundles(&env), 1, "losers removed their bundles");
    assert_check_clean(&env);
    env.ok(["rm", "same"]);
    assert!(locks(&env).1.is_empty());
}

/// Runs `oxpod ARGS` in `n` processes at once, one argument list each.
fn concurrently(env: &TestEnv, args: Vec<Vec<String>>) -> Vec<std::process::Output> {
    let children: Vec<_> = args
        .iter()
        .map(|a| {
            env.cmd(a)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn oxpod")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}

#[test]
fn racing_creates_of_distinct_names_all_get_their_own_lock() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok(["ps", "-a"]);
    let args = (0..8)
        .map(|i| {
            [
                "create",
                "--name",
                &format!("c{i}"),
                "--rootfs",
                &rootfs,
                "true",
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    for out in concurrently(&env, args) {
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(all_ids(&env).len(), 8);
    let ids: BTreeSet<u32> = (0..8).map(|i| lock_id(&env, &format!("c{i}"))).collect();
    assert_eq!(ids.len(), 8, "no two containers share a lock");
    assert_eq!(locks(&env).1, ids);
    assert_check_clean(&env);
}

#[test]
fn racing_removes_of_one_container_remove_it_once() {
    let env = TestEnv::new();
    create(&env, "victim");
    let keep = create(&env, "keep");
    let outputs = concurrently(&env, vec![vec!["rm".to_owned(), "victim".to_owned()]; 8]);
    let winners: Vec<_> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one rm wins: {outputs:?}");
    assert_eq!(String::from_utf8_lossy(&winners[0].stdout).trim(), "victim");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        // podman's code for "no such container"; named as the user typed it.
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("victim"), "{err}");
    }
    assert_eq!(all_ids(&env), vec![keep]);
    assert_eq!(locks(&env).1, BTreeSet::from([lock_id(&env, "keep")]));
    assert_eq!(bundles(&env), 1);
    assert_check_clean(&env);
}

#[test]
fn check_repair_racing_creates_and_removes_frees_no_live_lock() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok(["ps", "-a"]);
    let mut args: Vec<Vec<String>> = (0..12)
        .map(|i| {
            [
                "create",
                "--name",
                &format!("c{i}"),
                "--rootfs",
                &rootfs,
                "true",
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    args.extend(std::iter::repeat_n(
        vec![
            "system".to_owned(),
            "check".to_owned(),
            "--repair".to_owned(),
        ],
        6,
    ));
    for out in concurrently(&env, args) {
        // A check may find and repair nothing or something; it must not fail.
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{out:?}"
        );
    }
    let ids: BTreeSet<u32> = (0..12).map(|i| lock_id(&env, &format!("c{i}"))).collect();
    assert_eq!(ids.len(), 12, "no two containers share a lock");
    assert_eq!(locks(&env).1, ids, "every container's lock is allocated");

    // Removes racing checks: no lock is freed twice or left behind.
    let mut args: Vec<Vec<String>> = (0..12)
        .map(|i| ["rm".to_owned(), format!("c{i}")].to_vec())
        .collect();
    args.extend(std::iter::repeat_n(
        vec![
            "system".to_owned(),
            "check".to_owned(),
            "--repair".to_owned(),
        ],
        6,
    ));
    for out in concurrently(&env, args) {
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{out:?}"
        );
    }
    assert!(all_ids(&env).is_empty());
    assert!(locks(&env).1.is_empty());
}

#[test]
fn pod_rm_racing_creates_into_the_pod_leaves_no_orphan() {
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok(["pod", "create", "--infra=false", "--name", "p"]);
    let mut args: Vec<Vec<String>> = (0..6)
        .map(|i| {
            [
                "create",
                "--pod",
                "p",
                "--name",
                &format!("m{i}"),
                "--rootfs",
                &rootfs,
                "true",
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    args.insert(3, ["pod", "rm", "-f", "p"].map(str::to_owned).to_vec());
    let outputs = concurrently(&env, args);
    assert!(outputs[3].status.success(), "pod rm -f: {:?}", outputs[3]);
    for o in &outputs {
        assert!(o.status.success() || o.status.code() == Some(125), "{o:?}");
    }
    // Whatever won, no container is left in a pod that is gone.
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
    assert!(all_ids(&env).is_empty(), "no orphan members");
    assert!(locks(&env).1.is_empty(), "no lock left behind");
    assert_eq!(bundles(&env), 0, "no bundle left behind");
    assert_check_clean(&env);
}

#[test]
fn simulated_reboot_refreshes_once_and_reclaims_locks() {
    let env = TestEnv::new();
    let a = create(&env, "a");
    let b = create(&env, "b");
    env.ok(["rm", "a"]);
    let c = create(&env, "c");
    env.ok(["pod", "create", "--infra=false", "--name", "p"]);
    let before: BTreeSet<u32> = ["b", "c", "p"].iter().map(|n| lock_id(&env, n)).collect();
    assert_eq!(locks(&env).1, before);
    assert_eq!(refresh_events(&env), 1, "the first run refreshed once");

    // "Reboot": the tmpfs and the shared memory are gone.
    std::fs::remove_dir_all(env.runroot()).expect("remove runroot");
    std::fs::remove_file(shm_path(&env)).expect("remove lock segment");

    // Two commands at once after the reboot: one of them refreshes.
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.cmd(["ps", "-a", "-q", "--no-trunc"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn oxpod")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{out:?}");
        let ids: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(ids, BTreeSet::from([b.clone(), c.clone()]));
    }
    assert_eq!(
        refresh_events(&env),
        1,
        "exactly one refresh after the reboot"
    );
    assert!(env.runroot().join("alive").is_file());
    assert_eq!(locks(&env).1, before, "every object re-claimed its lock");
    assert_check_clean(&env);

    // A new object gets a lock nobody claims, and rm works.
    let d = create(&env, "d");
    assert!(!before.contains(&lock_id(&env, "d")));
    assert_eq!(env.ok(["rm", "b"]).trim(), "b");
    env.ok(["pod", "rm", "p"]);
    let left: BTreeSet<String> = all_ids(&env).into_iter().collect();
    assert_eq!(left, BTreeSet::from([c, d]));
    assert_eq!(locks(&env).1.len(), 2);
    assert!(!left.contains(&a));
    assert_eq!(refresh_events(&env), 1, "no further refresh");
    assert_check_clean(&env);
}

#[test]
fn refresh_from_a_namespace_reclaims_every_namespaces_locks() {
    let mut env = TestEnv::new();
    create(&env, "plain");
    env.extra = vec!["--namespace".into(), "ns1".into()];
    create(&env, "in-ns1");
    assert_eq!(all_ids(&env).len(), 1, "ns1 sees only its own");
    env.extra.clear();
    assert_eq!(all_ids(&env).len(), 2, "no namespace sees all");
    let before: BTreeSet<u32> = ["plain", "in-ns1"]
        .iter()
        .map(|n| lock_id(&env, n))
        .collect();

    std::fs::remove_dir_all(env.runroot()).expect("remove runroot");
    std::fs::remove_file(shm_path(&env)).expect("remove lock segment");
    env.extra = vec!["--namespace".into(), "ns1".into()];
    assert_eq!(all_ids(&env).len(), 1);
    env.extra.clear();
    assert_eq!(locks(&env).1, before, "objects outside ns1 re-claimed too");
    assert_check_clean(&env);
}

#[test]
fn lock_segment_removed_without_reboot_is_reclaimed() {
    let env = TestEnv::new();
    create(&env, "a");
    create(&env, "b");
    env.ok(["pod", "create", "--infra=false", "--name", "p"]);
    let before: BTreeSet<u32> = ["a", "b", "p"].iter().map(|n| lock_id(&env, n)).collect();
    // The segment goes (removed by hand), the tmp dir stays: no reboot.
    std::fs::remove_file(shm_path(&env)).expect("remove lock segment");
    assert_eq!(all_ids(&env).len(), 2);
    assert_eq!(
        locks(&env).1,
        before,
        "the new segment re-claimed every lock"
    );
    assert_eq!(refresh_events(&env), 1, "no refresh: the boot is the same");
    assert_check_clean(&env);
    create(&env, "c");
    assert!(
        !before.contains(&lock_id(&env, "c")),
        "no lock handed out twice"
    );
    env.ok(["rm", "a"]);
    assert_check_clean(&env);
}

#[test]
fn reset_works_after_num_locks_changed() {
    let mut env = TestEnv::new();
    create(&env, "a");
    env.ok(["pod", "create", "--infra=false", "--name", "p"]);
    env.extra = vec!["--num-locks".into(), "64".into()];
    env.ok(["system", "reset", "-f"]);
    assert!(!env.root().join("state").exists(), "database removed");
    assert!(!shm_path(&env).exists(), "segment removed");
    assert!(all_ids(&env).is_empty());
    assert_eq!(locks(&env), (64, BTreeSet::new()));
    create(&env, "a");
}

#[test]
fn changed_num_locks_asks_for_renumber_which_fixes_it() {
    let mut env = TestEnv::new();
    env.extra = vec!["--num-locks".into(), "64".into()];
    create(&env, "a");
    create(&env, "b");
    create(&env, "c");
    env.ok(["rm", "b"]);
    assert_eq!(locks(&env), (64, BTreeSet::from([0, 2])));

    env.extra = vec!["--num-locks".into(), "128".into()];
    let err = env.fails(125, ["ps", "-a"]);
    assert!(
        err.contains("oxpod system renumber") && err.contains("64") && err.contains("128"),
        "{err}"
    );
    env.ok(["system", "renumber"]);
    // Renumbered densely: containers first, in order, from 0.
    assert_eq!(locks(&env), (128, BTreeSet::from([0, 1])));
    let ids: BTreeSet<u32> = ["a", "c"].iter().map(|n| lock_id(&env, n)).collect();
    assert_eq!(ids, BTreeSet::from([0, 1]));
    assert_eq!(all_ids(&env).len(), 2);
    assert_check_clean(&env);
    let renumbered = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=renumber",
        "--format",
        "json",
    ]);
    assert_eq!(renumbered.lines().count(), 1, "{renumbered}");

    // The old size is now the wrong one.
    env.extra = vec!["--num-locks".into(), "64".into()];
    let err = env.fails(125, ["ps"]);
    assert!(err.contains("oxpod system renumber"), "{err}");
}

#[test]
fn lock_exhaustion_fails_cleanly_and_recovers_after_rm() {
    // Names that are not hex: `inspect c32` would also match an id that
    // starts with c32 (one in 128 runs).
    let mut env = TestEnv::new();
    env.extra = vec!["--num-locks".into(), "32".into()];
    let rootfs = rootfs(&env);
    for i in 0..32 {
        create(&env, &format!("k{i}"));
    }
    let err = env.fails(
        125,
        ["create", "--name", "k32", "--rootfs", &rootfs, "true"],
    );
    assert!(
        err.contains("all 32 locks are in use") && err.contains("num_locks"),
        "exhaustion message: {err}"
    );
    // Unnamed creates and pods fail the same way.
    env.fails(125, ["create", "--rootfs", &rootfs, "true"]);
    let err = env.fails(125, ["pod", "create", "--infra=false", "--name", "p"]);
    assert!(err.contains("all 32 locks are in use"), "{err}");

    assert_eq!(all_ids(&env).len(), 32, "nothing half-created");
    assert_eq!(bundles(&env), 32);
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
    assert_eq!(locks(&env), (32, (0..32).collect()));
    env.fails(125, ["inspect", "k32"]);
    assert_check_clean(&env);

    env.ok(["rm", "k7"]);
    create(&env, "k32");
    assert_eq!(lock_id(&env, "k32"), 7, "the freed lock is reused");
    env.fails(
        125,
        ["create", "--name", "k33", "--rootfs", &rootfs, "true"],
    );
    assert_eq!(all_ids(&env).len(), 32);
}

#[test]
fn database_config_mismatch_names_key_and_both_values() {
    let env = TestEnv::new();
    create(&env, "a");
    let first = env.runroot().display().to_string();
    let other = env.path().join("other-run");
    let other_text = other.display().to_string();
    // TestEnv gives --runroot first; a second one would be refused, so run
    // the binary with the other tmp dir by hand.
    let out = without_runroot(&env)
        .arg("--runroot")
        .arg(&other)
        .args(["ps", "-a"])
        .output()
        .expect("spawn oxpod");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("tmp_dir") && err.contains(&first) && err.contains(&other_text),
        "mismatch message: {err}"
    );
    assert!(
        !other.join("alive").exists(),
        "the mismatch stopped the open"
    );
    // The original configuration still works.
    assert_eq!(all_ids(&env).len(), 1);
}

/// An `oxpod` command with the env's root and lock segment but no
/// `--runroot` (TestEnv always gives one, and a second is refused).
fn without_runroot(env: &TestEnv) -> std::process::Command {
    let mut c = std::process::Command::new(oxpod_tests::oxpod_bin());
    c.arg("--root")
        .arg(env.root())
        .arg("--lock-name")
        .arg(&env.lock_name)
        .args(["--cgroup-manager", "cgroupfs"])
        .env_remove("OXPOD_CONFIG")
        .env("XDG_CONFIG_HOME", env.path().join("xdg-config"))
        .stdin(Stdio::null());
    c
}

#[test]
fn unset_tmp_dir_takes_the_databases_value() {
    let env = TestEnv::new();
    create(&env, "a");
    // No --runroot: the stored tmp dir is used, and what derives from it
    // (the events log) follows.
    let out = without_runroot(&env)
        .args(["info", "--format", "json"])
        .output()
        .expect("spawn oxpod");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["store"]["tmpDir"], env.runroot().display().to_string());
    assert_eq!(
        v["store"]["eventsLog"],
        env.runroot()
            .join("events/events.log")
            .display()
            .to_string()
    );
    let out = without_runroot(&env)
        .args(["rm", "a"])
        .output()
        .expect("spawn oxpod");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "a");
    assert!(all_ids(&env).is_empty());
}

#[test]
fn podmans_libpod_conf_loads_as_config() {
    let mut env = TestEnv::new();
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/fixtures/libpod.conf");
    assert!(conf.is_file(), "{}", conf.display());
    // Let the file decide the cgroup manager.
    env.cgroup_manager = None;
    env.extra = vec!["--config".into(), conf.display().to_string()];
    let v = json(&env.ok(["info", "--format", "json"]));
    let files: Vec<&str> = v["store"]["configFiles"]
        .as_array()
        .expect("configFiles")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The env's own base file (`netns = "host"`, OXPOD_CONFIG), then --config.
    let base = env.base_config();
    assert_eq!(
        files,
        vec![
            base.to_str().expect("utf-8 path"),
            conf.to_str().expect("utf-8 path")
        ],
        "{v}"
    );
    assert_eq!(v["host"]["cgroupManager"], "systemd", "from the file");
    assert_eq!(v["host"]["totalLocks"], 2048, "num_locks from the file");
    assert_eq!(
        v["host"]["ociRuntime"]["name"], "runc",
        "runtime from the file"
    );
    let conmon = v["host"]["conmon"]["path"].as_str().expect("conmon path");
    assert!(conmon.ends_with("/conmon"), "{conmon}");
    // The file's tmp_dir (/var/run/libpod) loses to --runroot, and its
    // unset static_dir to --root.
    assert_eq!(v["store"]["tmpDir"], env.runroot().display().to_string());
    assert_eq!(v["store"]["staticDir"], env.root().display().to_string());
    assert!(env.runroot().join("alive").is_file());

    // A flag still wins over the file.
    env.cgroup_manager = Some("cgroupfs".into());
    let v = json(&env.ok(["info", "--format", "json"]));
    assert_eq!(v["host"]["cgroupManager"], "cgroupfs");
    create(&env, "with-conf");
    assert_eq!(all_ids(&env).len(), 1);
}

#[test]
fn system_check_finds_a_leaked_lock_and_repair_frees_it() {
    let env = TestEnv::new();
    create(&env, "mine");
    let mine = lock_id(&env, "mine");
    assert_check_clean(&env);

    // A second store sharing our lock segment (a misconfiguration podman
    // users hit): its container takes a lock our database knows nothing of.
    let mut other = TestEnv::new();
    other.lock_name = env.lock_name.clone();
    create(&other, "theirs");
    let leaked = lock_id(&other, "theirs");
    assert_ne!(leaked, mine);
    assert_eq!(locks(&env).1, BTreeSet::from([mine, leaked]));

    let out = env.run(["system", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "findings exit 1: {text}");
    assert!(
        text.contains(&format!(
            "lock {leaked} is allocated but no container or pod uses it"
        )),
        "{text}"
    );
    assert!(text.contains("--repair"), "{text}");
    assert_eq!(locks(&env).1.len(), 2, "check alone changes nothing");

    let text = env.ok(["system", "check", "--repair"]);
    assert!(text.contains("repaired 1 of 1"), "{text}");
    assert_eq!(locks(&env).1, BTreeSet::from([mine]));
    assert_check_clean(&env);

    // The other store now has a container whose lock is not allocated.
    let out = other.run(["system", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "container theirs uses lock {leaked}, which is not allocated"
        )),
        "{text}"
    );
    other.ok(["system", "check", "--repair"]);
    assert_eq!(locks(&env).1, BTreeSet::from([mine, leaked]));
    assert_eq!(other.ok(["rm", "theirs"]).trim(), "theirs");
    assert_eq!(locks(&env).1, BTreeSet::from([mine]));
}
