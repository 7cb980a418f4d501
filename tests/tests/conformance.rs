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
    // The signal is sent; the exit is recorded when the process is gone.
    env.ok(["wait", "a1", "a2"]);
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
    env.ok(["pod", "create", "--infra=false", "--name", "app"]);
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

/// Splits a table row at podman's column gaps (two or more spaces).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Go's `time.Time` string: `2026-12-01 11:22:50.89205132 +0000 UTC`.
fn is_go_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    parts.len() == 4
        && parts[0].len() == 10
        && parts[0].as_bytes()[4] == b'-'
        && parts[1].len() >= 8
        && parts[1].as_bytes()[2] == b':'
        && (parts[2].starts_with('+') || parts[2].starts_with('-'))
        && parts[2].len() == 5
        && !parts[3].is_empty()
}

/// Group 4 and 5 of the issue: templates, JSON shapes, ps columns. Every
/// expected value below is what podman 4.3.1 printed for the same input
/// (two containers made with `--rootfs`, one started; a pod with one).
#[test]
fn templates_json_shapes_and_columns_match_podman() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    let web = env.ok([
        "create",
        "--name",
        "web",
        "-l",
        "app=web",
        "-e",
        "FOO=bar",
        "--rootfs",
        &r,
        "sh",
        "-c",
        "i=0; while true; do sleep 1; done",
    ]);
    let web = web.trim();
    env.ok(["create", "--name", "db", "--rootfs", &r, "true"]);
    env.ok(["start", "web"]);
    let ps = |format: &str| env.ok(["ps", "-a", "--format", format]);

    // Templates: index, if, pipelines, json, Go's printing; oldest first.
    assert_eq!(
        ps(
            r#"{{index .Labels "app"}}|{{.Names}}{{if .Labels}} L{{end}}|{{json .Labels}}|{{.Command}}|{{.Mounts}}|{{.Ports}}|{{.ExitedAt}}"#
        ),
        "web|web L|{\"app\":\"web\"}|sh -c i=0; while ...|[]||-62135596800\n\
         |db|null|true|[]||-62135596800\n"
    );
    assert_eq!(
        ps(r#"{{.ID | printf "%.4s"}}"#).lines().next(),
        Some(&web[..4])
    );
    let states = ps("{{.State}}");
    let states: Vec<&str> = states.lines().collect();
    assert!(
        states[0].starts_with("Up ") && states[0].ends_with(" ago"),
        "{states:?}"
    );
    assert_eq!(states[1], "Created");
    for line in ps("{{.CreatedAt}}").lines() {
        assert!(is_go_time(line), "{line}");
    }
    // `table` headers: podman's titles, spaces are column breaks.
    let table = ps("table {{.ID}} {{.CreatedAt}} {{.Pod}} {{.Names}}");
    let mut lines = table.lines();
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        ["CONTAINER ID", "CREATED AT", "POD ID", "NAMES"]
    );
    assert_eq!(cells(lines.next().unwrap_or_default())[0], &web[..12]);
    assert_eq!(ps("table"), "table\ntable\n");
    // A format wins over --quiet.
    assert_eq!(
        env.ok(["ps", "-a", "-q", "--format", "{{.Names}}"]),
        "web\ndb\n"
    );
    // The default columns, COMMAND cut at 17 characters and "...".
    let out = env.ok(["ps", "-a"]);
    let mut lines = out.lines();
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .contains("sh -c i=0; while ...  "),
        "{out}"
    );
    // Every column is at least 12 wide, as podman's tabwriter makes it.
    assert!(
        out.starts_with("CONTAINER ID  IMAGE       COMMAND "),
        "{out}"
    );
    assert_eq!(
        env.ok(["ps", "-a", "--sort", "names", "--format", "{{.Names}}"]),
        "db\nweb\n"
    );
    assert_eq!(env.ok(["ps", "-n", "1", "--format", "{{.Names}}"]), "db\n");
    assert_eq!(
        env.ok(["ps", "-l", "--noheading", "--format", "table {{.Names}}"]),
        "db\n"
    );

    // `ps --format json` has podman 4.3's keys and types; `{{json .}}` is
    // the same list.
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["ps", "-a", "--format", "json"])).unwrap_or_default();
    let keys: Vec<&str> = json[0]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "AutoRemove",
            "Command",
            "Created",
            "CreatedAt",
            "ExitCode",
            "Exited",
            "ExitedAt",
            "Id",
            "Image",
            "ImageID",
            "IsInfra",
            "Labels",
            "Mounts",
            "Names",
            "Namespaces",
            "Networks",
            "Pid",
            "Pod",
            "PodName",
            "Ports",
            "Size",
            "StartedAt",
            "State",
            "Status"
        ]
    );
    assert!(json[0]["Created"].is_i64(), "{json}");
    assert_eq!(json[0]["Names"], serde_json::json!(["web"]));
    assert_eq!(json[1]["Labels"], serde_json::Value::Null);
    assert_eq!(json[1]["State"], "created");
    let whole: serde_json::Value = serde_json::from_str(&ps("{{json .}}")).unwrap_or_default();
    assert_eq!(whole[1]["Id"], json[1]["Id"]);

    // inspect: podman's environment, empty values for what oxpod lacks,
    // Go times in templates.
    let hostname = &web[..12];
    assert_eq!(
        env.ok(["inspect", "--format", "{{.Config.Env}}", "web"])
            .trim(),
        format!(
            "[FOO=bar PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=xterm HOSTNAME={hostname}]"
        )
    );
    assert_eq!(
        env.ok([
            "inspect", "--format",
            "{{.HostConfig.AutoRemove}}|{{.HostConfig.RestartPolicy.Name}}|{{.NetworkSettings.IPAddress}}|{{.Mounts}}|{{.Config.Entrypoint}}|{{.ImageName}}|{{.State.FinishedAt}}|{{.Config.User}}|{{.Config.Labels}}",
            "web",
        ]),
        "false|||[]|||0001-01-01 00:00:00 +0000 UTC||map[app:web]\n"
    );
    assert!(is_go_time(
        env.ok(["inspect", "--format", "{{.Created}}", "db"]).trim()
    ));
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(["inspect", "web"])).unwrap_or_default();
    for key in [
        "HostConfig",
        "Image",
        "ImageName",
        "Mounts",
        "NetworkSettings",
        "GraphDriver",
        "ExecIDs",
        "OCIConfigPath",
        "StaticDir",
        "IsInfra",
        "EffectiveCaps",
    ] {
        assert!(doc[0].get(key).is_some(), "no {key} in inspect");
    }
    assert_eq!(doc[0]["State"]["Health"]["Status"], "");
    assert_eq!(doc[0]["Config"]["Entrypoint"], "");
    assert_eq!(doc[0]["HostConfig"]["LogConfig"]["Type"], "k8s-file");
    assert_eq!(
        env.ok([
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Name}}",
            "-l"
        ]),
        "db\n"
    );

    // info: podman's Go field names, counts and architecture names.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let cgroups = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1"
    };
    assert_eq!(
        env.ok([
            "info", "--format",
            "{{.Host.Arch}}|{{.Host.CgroupsVersion}}|{{.Host.Security.Rootless}}|{{.Host.LogDriver}}|{{.Store.ImageStore.Number}}|{{.Store.ContainerStore.Running}}|{{.Store.ContainerStore.Stopped}}|{{.Version.APIVersion}}",
        ]),
        format!("{arch}|{cgroups}|false|k8s-file|0|1|1|{}\n", env!("CARGO_PKG_VERSION"))
    );
    // version: Client (and Server for templates), one JSON line.
    let v = env.ok(["version", "--format", "json"]);
    assert_eq!(v.lines().count(), 1, "{v}");
    let v: serde_json::Value = serde_json::from_str(&v).unwrap_or_default();
    assert_eq!(v["Client"]["OsArch"], format!("linux/{arch}"));
    let both = env.ok([
        "version",
        "--format",
        "{{.Client.Version}} {{.Server.Version}}",
    ]);
    assert_eq!(both, format!("{0} {0}\n", env!("CARGO_PKG_VERSION")));

    // Pods: podman's ps fields and columns, inspect of one is an object.
    env.ok(["pod", "create", "--infra=false", "--name", "app"]);
    env.ok([
        "create", "--pod", "app", "--name", "w1", "--rootfs", &r, "sleep", "100",
    ]);
    let pod_id = env.ok(["pod", "ps", "-q", "--no-trunc"]);
    assert_eq!(
        env.ok([
            "pod", "ps", "--format",
            "{{.ID}}|{{.Name}}|{{.Status}}|{{.InfraID}}|{{.NumberOfContainers}}|{{.ContainerNames}}|{{.ContainerStatuses}}",
        ]),
        format!("{}|app|Created||1|w1|created\n", &pod_id[..12])
    );
    assert_eq!(
        cells(env.ok(["pod", "ps"]).lines().next().unwrap_or_default()),
        [
            "POD ID",
            "NAME",
            "STATUS",
            "CREATED",
            "INFRA ID",
            "# OF CONTAINERS"
        ]
    );
    let pods: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "ps", "--format", "json"])).unwrap_or_default();
    assert_eq!(pods[0]["Status"], "Created");
    assert_eq!(pods[0]["Containers"][0]["Names"], "w1");
    assert_eq!(pods[0]["Containers"][0]["Status"], "created");
    let one: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "app"])).unwrap_or_default();
    assert_eq!(one["Name"], "app", "{one}");
    assert_eq!(one["ExitPolicy"], "continue");

    // events: full ids by default, Attributes and Go times in templates.
    let events = env.ok(["events", "--stream=false", "--filter", "event=create"]);
    assert!(events.contains(web), "{events}");
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "container=web",
        "--filter",
        "event=create",
        "--format",
        "{{.Type}} {{.Status}} {{.Attributes}}|{{.Time}}",
    ]);
    let (head, time) = events.trim().split_once('|').unwrap_or_default();
    assert_eq!(head, "container create map[app:web]");
    assert!(is_go_time(time), "{time}");
    env.ok(["pod", "rm", "-f", "app"]);
    env.ok(["rm", "-a", "-f"]);
}

/// Group 6: the flags and commands podman users type, with podman 4.3.1's
/// outputs and exit codes on the same input.
#[test]
fn daily_flags_and_commands_as_podman() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    // logs: -t, --tail -1, several containers, --since/--until, -n.
    assert_eq!(
        env.run([
            "run",
            "--name",
            "lg",
            "--rootfs",
            &r,
            "sh",
            "-c",
            "echo one; echo two >&2; echo three"
        ])
        .status
        .code(),
        Some(0)
    );
    env.ok(["run", "--name", "lg2", "--rootfs", &r, "echo", "x"]);
    let stamped = env.ok(["logs", "-t", "lg"]);
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 2, "{stamped}");
    for l in &lines {
        // podman: `2026-12-01T11:28:18.979446160Z one`.
        let (t, _) = l.split_once(' ').unwrap_or_default();
        assert!(
            t.len() == 30 && t.ends_with('Z') && t.as_bytes()[19] == b'.',
            "{l}"
        );
    }
    assert_eq!(env.ok(["logs", "--tail", "-1", "lg"]), "one\nthree\n");
    assert_eq!(env.ok(["logs", "--tail", "1", "lg2"]), "x\n");
    let lg = env.ok(["inspect", "--format", "{{.Id}}", "lg"]);
    let lg2 = env.ok(["inspect", "--format", "{{.Id}}", "lg2"]);
    assert_eq!(
        env.ok(["logs", "lg", "lg2"]),
        format!("{0} one\n{0} three\n{1} x\n", &lg[..12], &lg2[..12])
    );
    assert_eq!(env.ok(["logs", "-n", "lg2"]), "lg2 x\n");
    assert_eq!(env.ok(["logs", "--since", "1h", "--until", "1s", "lg"]), "");
    assert_eq!(env.ok(["logs", "--since", "1h", "lg2"]), "x\n");
    assert_eq!(env.ok(["logs", "-l"]), "x\n");

    // wait --condition: -1 for a state that is not an exit.
    env.ok(["create", "--name", "wc", "--rootfs", &r, "sleep", "30"]);
    let waiter = env
        .cmd(["wait", "--condition", "running", "--interval", "20ms", "wc"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wait");
    std::thread::sleep(std::time::Duration::from_millis(200));
    env.ok(["start", "wc"]);
    let waited = waiter.wait_with_output().expect("wait for wait");
    assert_eq!(String::from_utf8_lossy(&waited.stdout), "-1\n");
    assert_eq!(env.ok(["wait", "--condition", "running", "wc"]), "-1\n");
    env.fails(125, ["wait", "--condition", "bogus", "wc"]);
    // rm: -t with -f stops first, -i ignores a missing one, the name is
    // echoed as given.
    assert_eq!(env.ok(["rm", "-f", "-t", "0", "wc"]), "wc\n");
    assert_eq!(env.ok(["rm", "-i", "nosuch"]), "");
    env.fails(1, ["rm", "nosuch"]);
    // start: nothing printed for a running one; -a attaches.
    env.ok([
        "create",
        "--name",
        "att",
        "--rootfs",
        &r,
        "sh",
        "-c",
        "echo attached; exit 3",
    ]);
    let out = env.run(["start", "-a", "att"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "attached\n");
    env.ok(["run", "-d", "--name", "up", "--rootfs", &r, "sleep", "1000"]);
    assert_eq!(env.ok(["start", "up"]), "");

    // `container <verb>`, rename, exists, prune.
    assert_eq!(
        env.ok(["container", "ps", "--format", "{{.Names}}"]),
        "up\n"
    );
    env.ok(["container", "rename", "up", "upper"]);
    assert_eq!(
        env.ok(["container", "inspect", "--format", "{{.Name}}", "upper"]),
        "upper\n"
    );
    assert_eq!(
        env.run(["container", "exists", "upper"]).status.code(),
        Some(0)
    );
    assert_eq!(
        env.run(["container", "exists", "up"]).status.code(),
        Some(1)
    );
    let pruned = env.ok(["container", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 3, "lg, lg2, att: {pruned}");
    assert_eq!(env.ok(["ps", "-a", "--format", "{{.Names}}"]), "upper\n");
    // podman's name filter is a regular expression.
    assert_eq!(
        env.ok([
            "ps",
            "-a",
            "--filter",
            "name=^upp.r$",
            "--format",
            "{{.Names}}"
        ]),
        "upper\n"
    );
    assert_eq!(
        env.ok([
            "ps",
            "-a",
            "--filter",
            "name=^up$",
            "--format",
            "{{.Names}}"
        ]),
        ""
    );

    // Pods: restart, pause, unpause, exists, prune; full ids printed.
    let pod = env.ok(["pod", "create", "--infra=false", "--name", "app"]);
    env.ok([
        "create", "--pod", "app", "--name", "m1", "--rootfs", &r, "sleep", "1000",
    ]);
    assert_eq!(env.ok(["pod", "start", "app"]), pod);
    assert_eq!(env.ok(["pod", "pause", "app"]), pod);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "m1"]),
        "paused\n"
    );
    assert_eq!(env.ok(["pod", "unpause", "app"]), pod);
    assert_eq!(env.ok(["pod", "restart", "-t", "0", "app"]), pod);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "m1"]),
        "running\n"
    );
    assert_eq!(env.run(["pod", "exists", "app"]).status.code(), Some(0));
    assert_eq!(env.run(["pod", "exists", "m1"]).status.code(), Some(1));
    assert_eq!(env.ok(["pod", "prune", "-f"]), "", "a running pod is kept");
    env.ok(["pod", "stop", "-a", "-t", "0"]);
    assert_eq!(env.ok(["pod", "prune", "-f"]), pod);

    // Messages: an unknown flag is "unknown flag", before or after
    // --rootfs; `run ""` is a missing command (127); `-l key` has "".
    let err = env.fails(125, ["run", "--bogus", "--rootfs", &r, "true"]);
    assert!(err.starts_with("Error: unknown flag: --bogus"), "{err}");
    let err = env.fails(125, ["run", "--rootfs", &r, "--bogus", "true"]);
    assert!(err.starts_with("Error: unknown flag: --bogus"), "{err}");
    env.fails(127, ["run", "--rm", "--rootfs", &r, ""]);
    env.ok([
        "create", "-l", "novalue", "--name", "nv", "--rootfs", &r, "true",
    ]);
    assert_eq!(
        env.ok(["inspect", "--format", "{{json .Config.Labels}}", "nv"]),
        "{\"novalue\":\"\"}\n"
    );
    // Help: subcommands' own options apart from the global ones.
    let help = env.ok(["pod", "rm", "--help"]);
    assert!(
        help.contains("Global Options:") && help.contains("Pods (name"),
        "{help}"
    );
    assert!(env.ok(["help", "--help"]).contains("Usage: oxpod"));
    env.ok(["rm", "-a", "-f"]);
}

/// `pod ps` filters and member columns, `system prune`, and the `run`
/// flags of group 6 that need no later feature, against podman 4.3.1.
#[test]
fn pod_ps_filters_prune_and_run_flags() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    let app = env.ok([
        "pod",
        "create",
        "--infra=false",
        "--name",
        "app",
        "-l",
        "tier=web",
    ]);
    env.ok([
        "create", "--pod", "app", "--name", "w1", "--rootfs", &r, "sleep", "1000",
    ]);
    let empty = env.ok(["pod", "create", "--infra=false", "--name", "empty"]);
    // podman: `pod ps -q` prints full ids.
    assert_eq!(env.ok(["pod", "ps", "-q"]), format!("{app}{empty}"));
    assert_eq!(
        env.ok([
            "pod",
            "ps",
            "--filter",
            "ctr-number=1",
            "--format",
            "{{.Name}}"
        ]),
        "app\n"
    );
    assert_eq!(
        env.ok([
            "pod",
            "ps",
            "--filter",
            "ctr-names=^w",
            "--filter",
            "label=tier=web",
            "--format",
            "{{.Name}}"
        ]),
        "app\n"
    );
    assert_eq!(
        env.ok([
            "pod",
            "ps",
            "--filter",
            "status=created",
            "--filter",
            "name=empty",
            "--format",
            "{{.Name}}"
        ]),
        "empty\n"
    );
    assert_eq!(
        env.ok([
            "pod",
            "ps",
            "--filter",
            "ctr-status=created",
            "--format",
            "{{.Name}}"
        ]),
        "app\n"
    );
    let err = env.fails(125, ["pod", "ps", "--filter", "colour=red"]);
    assert!(err.contains("ctr-names"), "{err}");
    let table = env.ok(["pod", "ps", "--ctr-names", "--ctr-ids", "--ctr-status"]);
    assert_eq!(
        cells(table.lines().next().unwrap_or_default()),
        [
            "POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "IDS", "NAMES", "STATUS"
        ]
    );
    let row = cells(table.lines().nth(1).unwrap_or_default());
    assert_eq!(row[row.len() - 2..], ["w1", "created"], "{table}");
    assert_eq!(
        env.ok([
            "pod",
            "ps",
            "--noheading",
            "--sort",
            "name",
            "--format",
            "table {{.Name}}"
        ]),
        "app\nempty\n"
    );
    assert_eq!(
        env.ok(["pod", "ps", "-l", "--format", "{{.Name}}"]),
        "empty\n"
    );

    // system prune: stopped standalone containers and exited pods go;
    // created pods and running containers stay.
    env.ok(["run", "--name", "done", "--rootfs", &r, "true"]);
    env.ok([
        "run", "-d", "--name", "live", "--rootfs", &r, "sleep", "1000",
    ]);
    let done = env.ok(["inspect", "--format", "{{.Id}}", "done"]);
    let pruned = env.ok(["system", "prune", "-f"]);
    let mut lines = pruned.lines();
    assert_eq!(lines.next(), Some("Deleted Containers"));
    assert_eq!(lines.next(), Some(done.trim()));
    let total = lines.next().unwrap_or_default();
    assert!(
        total.starts_with("Total reclaimed space: ") && total != "Total reclaimed space: 0B",
        "the bundle and log were removed: {pruned}"
    );
    assert_eq!(
        env.ok(["pod", "ps", "--format", "{{.Name}}"]),
        "app\nempty\n"
    );

    // --replace, --stop-signal, --stop-timeout.
    env.ok([
        "run",
        "-d",
        "--replace",
        "--name",
        "live",
        "--stop-signal",
        "INT",
        "--stop-timeout",
        "3",
        "--rootfs",
        &r,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.ok([
            "inspect",
            "--format",
            "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
            "live"
        ]),
        "2 3\n"
    );
    assert_eq!(env.ok(["ps", "--format", "{{.Names}}"]), "live\n");
    env.fails(
        125,
        ["run", "--stop-signal", "BOGUS", "--rootfs", &r, "true"],
    );
    env.ok(["rm", "-a", "-f"]);
    env.ok(["pod", "rm", "-a", "-f"]);
}

/// `top`, `stats`, `pod top`, `pod stats`: podman's columns, the
/// container's own pids (as it sees them), its cgroup's numbers.
#[test]
fn top_and_stats_of_containers_and_pods() {
    require_containers!();
    let env = TestEnv::new();
    let r = rootfs(&env);
    env.ok([
        "run",
        "-d",
        "--name",
        "busy",
        "--rootfs",
        &r,
        "sh",
        "-c",
        "sleep 1000 & exec sleep 999",
    ]);
    let mut top = String::new();
    for _ in 0..50 {
        top = env.ok(["top", "busy"]);
        if top.lines().count() == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut lines = top.lines();
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ]
    );
    let init = cells(lines.next().unwrap_or_default());
    assert_eq!(
        (init[1].as_str(), init[2].as_str(), init[7].as_str()),
        ("1", "0", "sleep 999"),
        "{top}"
    );
    let child = cells(lines.next().unwrap_or_default());
    assert_eq!(
        (child[2].as_str(), child[7].as_str()),
        ("1", "sleep 1000"),
        "{top}"
    );
    assert_eq!(
        env.ok(["top", "busy", "pid", "args"])
            .lines()
            .map(cells)
            .collect::<Vec<_>>()[1],
        ["1", "sleep 999"]
    );
    env.fails(125, ["top", "busy", "bogus"]);
    let stats = env.ok([
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "busy",
    ]);
    assert_eq!(stats, "busy 2\n");
    let table = env.ok(["stats", "--no-stream"]);
    assert_eq!(
        cells(table.lines().next().unwrap_or_default()),
        [
            "ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET IO",
            "BLOCK IO",
            "PIDS",
            "CPU TIME",
            "AVG CPU %"
        ]
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["stats", "--no-stream", "--format", "json"]))
            .unwrap_or_default();
    assert!(
        json[0]["mem_usage"]
            .as_str()
            .unwrap_or_default()
            .contains(" / "),
        "{json}"
    );
    // A stopped container has no processes.
    env.ok(["create", "--name", "idle", "--rootfs", &r, "true"]);
    let err = env.fails(125, ["top", "idle"]);
    assert!(err.contains("start it first"), "{err}");
    // Pods: their running members.
    env.ok(["pod", "create", "--infra=false", "--name", "tp"]);
    env.ok([
        "create", "--pod", "tp", "--name", "tpm", "--rootfs", &r, "sleep", "1000",
    ]);
    env.ok(["pod", "start", "tp"]);
    let ptop = env.ok(["pod", "top", "tp"]);
    assert!(
        ptop.lines()
            .nth(1)
            .unwrap_or_default()
            .ends_with("sleep 1000"),
        "{ptop}"
    );
    let pstats = env.ok(["pod", "stats", "--no-stream", "tp"]);
    assert_eq!(
        cells(pstats.lines().next().unwrap_or_default())[..3],
        ["POD", "CID", "NAME"]
    );
    assert_eq!(cells(pstats.lines().nth(1).unwrap_or_default())[2], "tpm");
    env.ok(["pod", "rm", "-f", "tp"]);
    env.ok(["rm", "-a", "-f"]);
}
