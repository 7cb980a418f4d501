//! What a podman user types gets what podman 4.3.1 gives (issue #14, the
//! parts done so far): states, repeated filters, exit codes of `rm`,
//! commands over several names, `inspect` of several objects. The expected
//! outputs are podman's, as `shared/reference/podman-conformance.md`
//! recorded them; podman is not needed to run these.

use oxpod_tests::{TestEnv, require_containers};

fn rootfs(env: &TestEnv) -> String {
    env.rootfs().display().to_string()
}

fn names(env: &TestEnv, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    let mut v: Vec<String> = env.ok(&args).lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn a_created_container_is_created_and_filters_of_one_key_are_ored() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    env.ok([
        "create", "--name", "created1", "--rootfs", &r, "sleep", "1000",
    ]);
    assert_eq!(
        env.run([
            "run", "--name", "exited3", "--rootfs", &r, "sh", "-c", "exit 3"
        ])
        .status
        .code(),
        Some(3)
    );
    env.ok(["create", "--name", "aa", "--rootfs", &r, "true"]);
    env.ok(["create", "--name", "bb", "--rootfs", &r, "true"]);
    // podman: created1 (and the other never-started ones) for status=created.
    assert_eq!(names(&env, &["status=created"]), ["aa", "bb", "created1"]);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "created1"])
            .trim(),
        "created"
    );
    let ps: serde_json::Value = serde_json::from_str(&env.ok([
        "ps",
        "-a",
        "--format",
        "json",
        "--filter",
        "name=created1",
    ]))
    .expect("json");
    assert_eq!(ps[0]["State"], "created");
    // Same key ORed, different keys ANDed.
    assert_eq!(
        names(&env, &["status=exited", "status=created", "name=created1"]),
        ["created1"]
    );
    assert_eq!(names(&env, &["status=exited", "status=created"]).len(), 4);
    assert_eq!(names(&env, &["name=aa", "name=bb"]), ["aa", "bb"]);
    // podman: "unknown container state: bogus"; the internal word is not a state.
    for bad in ["status=bogus", "status=configured"] {
        let err = env.fails(125, ["ps", "-a", "--filter", bad]);
        assert!(err.contains("unknown container state"), "{bad}: {err}");
    }
}

#[test]
fn rm_exit_codes_and_idempotent_force_are_podmans() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    // podman: rm -f of a missing container or pod prints nothing, rc 0.
    assert_eq!(env.ok(["rm", "-f", "nosuch"]), "");
    assert_eq!(env.ok(["pod", "rm", "-f", "nosuch"]), "");
    // rm nosuch: rc 1; pod rm nosuch: rc 1.
    env.fails(1, ["rm", "nosuch"]);
    env.fails(1, ["pod", "rm", "nosuch"]);
    // A running container without -f: rc 2.
    env.ok([
        "run", "-d", "--name", "runner", "--rootfs", &r, "sleep", "1000",
    ]);
    let err = env.fails(2, ["rm", "runner"]);
    assert!(err.contains("runner"), "{err}");
    // Several names with one missing: nothing is removed, rc 1.
    env.ok(["create", "--name", "m1", "--rootfs", &r, "true"]);
    env.ok(["create", "--name", "m2", "--rootfs", &r, "true"]);
    env.fails(1, ["rm", "m1", "nosuch", "m2"]);
    assert_eq!(names(&env, &["name=m"]), ["m1", "m2"]);
    // With -f the missing one is ignored and the others go.
    env.ok(["rm", "-f", "m1", "nosuch", "m2"]);
    assert!(names(&env, &["name=m"]).is_empty());
    env.ok(["rm", "-f", "runner"]);
}

#[test]
fn several_names_are_all_resolved_before_anything_is_done() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    env.ok(["create", "--name", "s1", "--rootfs", &r, "sleep", "1000"]);
    env.ok(["create", "--name", "s2", "--rootfs", &r, "sleep", "1000"]);
    // podman starts nothing, rc 125.
    env.fails(125, ["start", "s1", "nosuch", "s2"]);
    assert_eq!(names(&env, &["status=running"]), Vec::<String>::new());
    // inspect prints what it found, then the error, rc 125.
    let out = env.run(["inspect", "--format", "{{.Name}}", "s1", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "s1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such object: \"nosuch\""));
    env.ok(["rm", "-a", "-f"]);
}

#[test]
fn flags_podman_users_type_on_run() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    // podman: `run -h myhost2 ... hostname` prints myhost2 (-h is --hostname).
    let out = env.ok([
        "run",
        "--rm",
        "-h",
        "myhost2",
        "--rootfs",
        &r,
        "cat",
        "/proc/sys/kernel/hostname",
    ]);
    assert_eq!(out.trim(), "myhost2");
    // -e VAR passes the host's value; an unset one is left out: podman prints [].
    let out = env
        .cmd([
            "run",
            "--rm",
            "-e",
            "FROMHOST",
            "-e",
            "NOEQ",
            "--rootfs",
            &r,
            "sh",
            "-c",
            "echo \"[$FROMHOST][$NOEQ]\"",
        ])
        .env("FROMHOST", "yes")
        .env_remove("NOEQ")
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[yes][]",
        "{out:?}"
    );
    // --env-file and --label-file.
    let envf = env.path().join("env.list");
    std::fs::write(&envf, "# comment\nFILEVAR=from-file\n").expect("env file");
    let labf = env.path().join("labels.list");
    std::fs::write(&labf, "team=core\n").expect("label file");
    let envf = envf.display().to_string();
    let labf = labf.display().to_string();
    let out = env.ok([
        "run",
        "--name",
        "files",
        "--env-file",
        &envf,
        "--label-file",
        &labf,
        "--rootfs",
        &r,
        "sh",
        "-c",
        "echo $FILEVAR",
    ]);
    assert_eq!(out.trim(), "from-file");
    assert_eq!(
        env.ok(["inspect", "--format", "{{.Config.Labels.team}}", "files"])
            .trim(),
        "core"
    );
    // --name '' generates a name.
    let id = env.ok(["create", "--name", "", "--rootfs", &r, "true"]);
    let name = env.ok(["inspect", "--format", "{{.Name}}", id.trim()]);
    assert!(name.trim().contains('_'), "{name}");
    // `system info` is `info`; -v is --version.
    assert!(
        env.ok(["system", "info", "--format", "{{.Host.Arch}}"])
            .trim()
            .len()
            > 1
    );
    assert!(env.ok(["-v"]).starts_with("oxpod "));
    env.ok(["rm", "-a", "-f"]);
}

#[test]
fn stop_kill_pause_unpause_restart_take_all() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    for n in ["a1", "a2"] {
        env.ok(["run", "-d", "--name", n, "--rootfs", &r, "sleep", "1000"]);
    }
    env.ok(["create", "--name", "idle", "--rootfs", &r, "true"]);
    env.ok(["pause", "-a"]);
    assert_eq!(names(&env, &["status=paused"]), ["a1", "a2"]);
    env.ok(["unpause", "-a"]);
    assert_eq!(names(&env, &["status=running"]), ["a1", "a2"]);
    env.ok(["kill", "-a", "-s", "KILL"]);
    assert_eq!(names(&env, &["status=running"]), Vec::<String>::new());
    env.ok(["restart", "-t", "0", "a1"]);
    env.ok(["stop", "-a", "-t", "0"]);
    assert_eq!(names(&env, &["status=running"]), Vec::<String>::new());
    // A bad signal says so, not "invalid configuration".
    let err = env.fails(125, ["kill", "-s", "BOGUS", "a1"]);
    assert!(
        err.contains("invalid signal") && !err.contains("configuration"),
        "{err}"
    );
    env.ok(["rm", "-a", "-f"]);
}

#[test]
fn a_pod_with_some_members_running_is_degraded() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    env.ok(["pod", "create", "--name", "app"]);
    env.ok([
        "create", "--pod", "app", "--name", "w1", "--rootfs", &r, "sleep", "1000",
    ]);
    env.ok([
        "create", "--pod", "app", "--name", "w2", "--rootfs", &r, "sh", "-c", "exit 5",
    ]);
    env.ok(["pod", "start", "app"]);
    env.ok(["wait", "w2"]);
    // podman: `app  Degraded` in pod ps, "State": "Degraded" in pod inspect.
    let state = env.ok(["pod", "inspect", "--format", "{{.State}}", "app"]);
    assert_eq!(state.trim(), "Degraded");
    env.ok(["pod", "rm", "-f", "app"]);
}
