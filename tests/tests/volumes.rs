//! Named volumes (issue #18) end to end: the commands in podman's shapes
//! and exit codes, `-v NAME:/dst` creating on first use, data kept across
//! containers, "in use" decided with no create racing it, each volume's
//! lock accounted by check and renumber, and killed creates and removes.

use std::process::Stdio;
use std::time::Duration;

use oxpod_tests::{TestEnv, require_containers};

fn check_clean(env: &TestEnv, after: &str) {
    let out = env.run(["system", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("no problems found"),
        "{after}: {text}"
    );
}

#[test]
fn volumes_keep_data_and_are_refused_while_used() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    assert_eq!(
        env.ok(["volume", "create", "--label", "app=db", "data"]),
        "data\n"
    );
    let dup = env.run(["volume", "create", "data"]);
    assert_eq!(dup.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert_eq!(env.run(["volume", "exists", "data"]).status.code(), Some(0));
    assert_eq!(env.run(["volume", "exists", "nope"]).status.code(), Some(1));
    // Written by one container, read by the next; `fresh` made on first use.
    env.ok([
        "run",
        "--rm",
        "-v",
        "data:/d",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo kept > /d/f",
    ]);
    let out = env.ok([
        "run",
        "--rm",
        "-v",
        "data:/d:ro",
        "-v",
        "fresh:/e",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "cat /d/f; echo x > /d/g 2>/dev/null || echo ro; ls /e | wc -l",
    ]);
    assert_eq!(out, "kept\nro\n0\n");
    assert_eq!(env.ok(["volume", "ls", "-q"]), "data\nfresh\n");
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(["volume", "inspect", "data"])).expect("json");
    assert_eq!(doc[0]["Name"], "data");
    assert_eq!(doc[0]["Driver"], "local");
    assert_eq!(doc[0]["Labels"]["app"], "db");
    let mountpoint = doc[0]["Mountpoint"].as_str().unwrap().to_owned();
    assert!(mountpoint.ends_with("/data/_data"), "{mountpoint}");
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(),
        "kept\n"
    );
    // In use: rm exits 2 naming the container; prune keeps it; -f removes both.
    env.ok([
        "create", "--name", "user", "-v", "data:/d", "--rootfs", &rootfs, "true",
    ]);
    let id = env
        .ok(["inspect", "--format", "{{.Id}}", "user"])
        .trim()
        .to_owned();
    let rm = env.run(["volume", "rm", "data"]);
    assert_eq!(rm.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rm.stderr).contains(&id));
    assert_eq!(env.run(["volume", "rm", "nope"]).status.code(), Some(1));
    assert_eq!(
        env.ok(["volume", "ls", "-q", "--filter", "dangling=true"]),
        "fresh\n"
    );
    assert_eq!(env.ok(["volume", "prune", "-f"]), "fresh\n");
    assert_eq!(env.ok(["volume", "ls", "-q"]), "data\n");
    let mounts = env.ok(["inspect", "--format", "{{json .Mounts}}", "user"]);
    assert!(
        mounts.contains("\"Type\":\"volume\"") && mounts.contains("\"Name\":\"data\""),
        "{mounts}"
    );
    env.ok(["volume", "rm", "-f", "data"]);
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    assert!(
        !std::path::Path::new(&mountpoint).exists(),
        "its directory is gone"
    );
    let events = env.ok(["events", "--stream=false", "--filter", "type=volume"]);
    for e in [
        "volume create data",
        "volume create fresh",
        "volume remove fresh",
        "volume remove data",
    ] {
        assert!(events.contains(e), "{e}: {events}");
    }
    check_clean(&env, "the end");
}

#[test]
fn each_volume_holds_a_lock_that_check_and_renumber_count() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    for i in 0..20 {
        env.ok(["volume", "create", &format!("v{i}")]);
        if i % 2 == 0 {
            env.ok(["volume", "rm", &format!("v{i}")]);
        }
    }
    check_clean(&env, "after 20 creates and 10 removes");
    env.ok(["system", "renumber"]);
    check_clean(&env, "after renumber");
    // A container's lock never collides with a volume's.
    env.ok([
        "create", "--name", "c", "-v", "v1:/d", "--rootfs", &rootfs, "true",
    ]);
    check_clean(&env, "after a create");
    env.ok(["rm", "c"]);
    env.ok(["volume", "prune", "-f"]);
    assert_eq!(env.ok(["volume", "ls", "-q"]), "");
    check_clean(&env, "after prune");
}

#[test]
fn concurrent_removes_and_first_uses_agree() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    for round in 0..5 {
        let name = format!("r{round}");
        env.ok(["volume", "create", &name]);
        let children: Vec<_> = (0..3)
            .map(|_| {
                env.cmd(["volume", "rm", &name])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let codes: Vec<Option<i32>> = children
            .into_iter()
            .map(|mut c| c.wait().expect("wait").code())
            .collect();
        assert_eq!(
            codes.iter().filter(|c| **c == Some(0)).count(),
            1,
            "{codes:?}"
        );
        assert_eq!(
            codes.iter().filter(|c| **c == Some(1)).count(),
            2,
            "{codes:?}"
        );
    }
    // Four containers asking for one new volume at once: one volume.
    let children: Vec<_> = (0..4)
        .map(|i| {
            env.cmd([
                "create",
                "--name",
                &format!("c{i}"),
                "-v",
                "shared:/d",
                "--rootfs",
                &rootfs,
                "true",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    assert_eq!(env.ok(["volume", "ls", "-q"]), "shared\n");
    check_clean(&env, "after concurrent first uses");
}

#[test]
fn killed_volume_creates_and_removes_leave_nothing() {
    require_containers!();
    let env = TestEnv::new();
    for (i, ms) in (0..=40).step_by(4).enumerate() {
        let name = format!("k{i}");
        let mut c = env
            .cmd(["volume", "create", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(ms));
        let _ = c.kill();
        let _ = c.wait();
        check_clean(&env, &format!("create killed after {ms} ms"));
        if env.run(["volume", "exists", &name]).status.success() {
            let mut c = env
                .cmd(["volume", "rm", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(Duration::from_millis(ms));
            let _ = c.kill();
            let _ = c.wait();
            check_clean(&env, &format!("rm killed after {ms} ms"));
        }
    }
    // Whatever is left is whole: removable, and its directory goes with it.
    for name in env.ok(["volume", "ls", "-q"]).lines() {
        env.ok(["volume", "rm", name]);
    }
    check_clean(&env, "the end");
    let dir = env.root().join("volumes");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no volume directory left in {}", dir.display());
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm_only() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let count = |env: &TestEnv| env.ok(["volume", "ls", "-q"]).lines().count();
    // run --rm: made, used, removed with the container (attached and detached).
    let out = env.ok([
        "run",
        "--rm",
        "-v",
        "/anon",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo x > /anon/f && echo wrote",
    ]);
    assert_eq!(out, "wrote\n");
    assert_eq!(count(&env), 0);
    env.ok([
        "run",
        "-d",
        "--rm",
        "--mount",
        "type=volume,dst=/a",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(&env) != 0 || !env.ok(["ps", "-a", "-q"]).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the detached --rm left its volume"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Plain rm keeps them (podman's rule); rm -v removes them, never a named one.
    env.ok(["volume", "create", "named"]);
    env.ok([
        "create", "--name", "k", "-v", "/a1", "-v", "named:/n", "--rootfs", &rootfs, "true",
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(["volume", "inspect", "--all"])).expect("json");
    assert_eq!(doc.as_array().map(Vec::len), Some(2));
    assert!(
        doc.as_array()
            .unwrap()
            .iter()
            .any(|v| v["Anonymous"] == true)
    );
    env.ok(["rm", "k"]);
    assert_eq!(count(&env), 2);
    env.ok([
        "create", "--name", "k2", "-v", "/a2", "-v", "named:/n", "--rootfs", &rootfs, "true",
    ]);
    assert_eq!(count(&env), 3);
    env.ok(["rm", "-v", "k2"]);
    assert_eq!(
        count(&env),
        2,
        "k2's anonymous volume went, k's and the named one stay"
    );
    assert!(env.ok(["volume", "ls", "-q"]).contains("named"));
    check_clean(&env, "the end");
}
