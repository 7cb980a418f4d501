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

fn load_fixture(env: &TestEnv) -> &'static str {
    let fx =
        oxpod_test_support::image::Fixture::new(std::path::Path::new(oxpod_test_support::BUSYBOX))
            .expect("build the test image");
    let archive = env.path().join("fx.tar");
    std::fs::write(&archive, fx.docker_archive(&["localhost/fx:1"])).expect("write");
    env.ok(["load", "-q", "-i", &archive.display().to_string()]);
    "localhost/fx:1"
}

fn volume_field(env: &TestEnv, name: &str, field: &str) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(["volume", "inspect", name])).expect("json");
    doc[0][field].clone()
}

#[test]
fn image_content_is_copied_up_once_into_an_empty_volume() {
    require_containers!();
    let env = TestEnv::new();
    let image = load_fixture(&env);
    // The image's /data (after its whiteouts) lands in the new volume.
    assert_eq!(
        env.ok(["run", "--rm", "-v", "d1:/data", image, "ls /data"]),
        "y\n"
    );
    assert_eq!(
        volume_field(&env, "d1", "NeedsCopyUp"),
        serde_json::Value::Null
    );
    assert_eq!(
        volume_field(&env, "d1", "NeedsChown"),
        serde_json::Value::Null
    );
    let mountpoint = volume_field(&env, "d1", "Mountpoint");
    let data = std::path::PathBuf::from(mountpoint.as_str().expect("mountpoint"));
    assert_eq!(std::fs::read(data.join("y")).expect("copied up"), b"y\n");
    assert!(!data.join(oxpod_storage_staging()).exists());
    // Once only: what a container removes stays removed.
    // (The image's user is app, 1000; the volume took /data's owner, root.)
    env.ok([
        "run",
        "--rm",
        "-u",
        "0",
        "-v",
        "d1:/data",
        image,
        "rm /data/y && echo z > /data/z",
    ]);
    assert_eq!(
        env.ok(["run", "--rm", "-v", "d1:/data", image, "ls /data"]),
        "z\n"
    );
    // nocopy: the volume stays empty and still wants its copy-up.
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "-v",
            "d2:/data:nocopy",
            image,
            "ls /data | wc -l"
        ]),
        "0\n"
    );
    assert_eq!(volume_field(&env, "d2", "NeedsCopyUp"), true);
    // A volume written to on the host is never copied over.
    env.ok(["volume", "create", "d3"]);
    let d3 = std::path::PathBuf::from(
        volume_field(&env, "d3", "Mountpoint")
            .as_str()
            .expect("mountpoint"),
    );
    std::fs::write(d3.join("mine"), b"host\n").expect("write");
    assert_eq!(
        env.ok(["run", "--rm", "-v", "d3:/data", image, "ls /data"]),
        "mine\n"
    );
    // The new volume takes its mount point's owner and mode: /etc's.
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "-v",
            "d4:/etc",
            image,
            "stat -c %u:%g:%a /etc; cat /etc/group | head -1"
        ]),
        "0:0:755\nroot:x:0:\n"
    );
    // The image's Volumes: an anonymous volume each, gone with rm -v.
    env.ok(["create", "--name", "a", image, "true"]);
    let mounts = env.ok([
        "inspect",
        "a",
        "--format",
        "{{range .Mounts}}{{.Type}} {{.Destination}};{{end}}",
    ]);
    assert_eq!(mounts, "volume /vol/data;\n");
    let before = env.ok(["volume", "ls", "-q"]).lines().count();
    env.ok(["rm", "-v", "a"]);
    assert_eq!(env.ok(["volume", "ls", "-q"]).lines().count(), before - 1);
    // A mount of the container's own at the same place replaces it.
    env.ok(["create", "--name", "b", "-v", "d1:/vol/data", image, "true"]);
    assert_eq!(
        env.ok([
            "inspect",
            "b",
            "--format",
            "{{range .Mounts}}{{.Name}};{{end}}"
        ]),
        "d1;\n"
    );
    env.ok(["rm", "b"]);
    // --image-volume tmpfs and ignore.
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "--image-volume",
            "tmpfs",
            image,
            "grep -c ' /vol/data tmpfs ' /proc/mounts"
        ]),
        "1\n"
    );
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "--image-volume",
            "ignore",
            image,
            "grep -c ' /vol/data ' /proc/mounts || true"
        ]),
        "0\n"
    );
    env.fails(125, ["create", "--image-volume", "nope", image, "true"]);
    check_clean(&env, "the end");
}

fn oxpod_storage_staging() -> &'static str {
    ".oxpod-copyup"
}

#[test]
fn a_volume_with_its_own_file_system_is_mounted_while_used() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m,uid=1000",
        "tv",
    ]);
    let data = std::path::PathBuf::from(
        volume_field(&env, "tv", "Mountpoint")
            .as_str()
            .expect("mountpoint")
            .to_owned(),
    );
    assert_eq!(
        volume_field(&env, "tv", "Options"),
        serde_json::json!({"device": "tmpfs", "o": "size=2m,uid=1000", "type": "tmpfs"})
    );
    env.ok([
        "run", "-d", "--name", "r", "-v", "tv:/m", "--rootfs", &rootfs, "sleep", "100",
    ]);
    // Both containers see one file system: what one writes the other reads.
    let out = env.ok([
        "run",
        "--rm",
        "-v",
        "tv:/m",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "grep ' /m ' /proc/mounts | cut -d' ' -f3; stat -c %u /m; echo hi > /m/f",
    ]);
    assert_eq!(out, "tmpfs\n1000\n");
    assert_eq!(env.ok(["exec", "r", "cat", "/m/f"]), "hi\n");
    assert_eq!(volume_field(&env, "tv", "MountCount"), 1);
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .expect("mountinfo")
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(&*data.to_string_lossy()))
    };
    assert!(mounted(), "mounted on the host while r runs");
    env.ok(["rm", "-f", "r"]);
    assert!(!mounted(), "unmounted once no container uses it");
    // One mount and one unmount: the second container found it mounted.
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "type=volume",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        ["create tv", "mount tv", "unmount tv"]
    );
    assert_eq!(volume_field(&env, "tv", "MountCount"), 0);
    env.ok(["volume", "rm", "tv"]);

    // A bind volume: removing the volume never deletes the host's data.
    let host = env.path().join("host-data");
    std::fs::create_dir_all(&host).expect("mkdir");
    std::fs::write(host.join("keep"), b"precious\n").expect("write");
    let device = format!("device={}", host.display());
    env.ok([
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "bv",
    ]);
    env.ok([
        "run", "-d", "--name", "r2", "-v", "bv:/b", "--rootfs", &rootfs, "sleep", "100",
    ]);
    assert_eq!(env.ok(["exec", "r2", "cat", "/b/keep"]), "precious\n");
    env.ok(["volume", "rm", "-f", "bv"]);
    assert_eq!(
        std::fs::read(host.join("keep")).expect("the host's data is still there"),
        b"precious\n"
    );

    // Bad options are refused at create; a file system that cannot be
    // mounted fails the start and leaves nothing running or mounted.
    for (opts, want) in [
        (vec!["-o", "foo=bar"], "invalid mount option foo"),
        (vec!["-o", "o=size=1m"], "Project Quota"),
        (
            vec!["-o", "type=bind", "-o", "device=/nonexistent/x"],
            "does not exist",
        ),
        (vec!["-o", "o=uid=abc"], "cannot convert UID"),
        (
            vec!["-o", "copy", "-o", "nocopy"],
            "only one of copy and nocopy",
        ),
    ] {
        let mut args = vec!["volume", "create"];
        args.extend(opts);
        args.push("bad");
        let err = env.fails(125, args);
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(env.ok(["volume", "ls", "-q"]), "");
    env.ok([
        "volume",
        "create",
        "-o",
        "type=nosuchfs",
        "-o",
        "device=x",
        "nf",
    ]);
    let err = env.fails(
        125,
        ["run", "--rm", "-v", "nf:/n", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("cannot mount volume nf"), "{err}");
    assert_eq!(env.ok(["ps", "-a", "-q"]), "", "run --rm removed it");
    check_clean(&env, "the end");
}

#[test]
fn bad_volume_names_mounts_and_lock_exhaustion_are_clean_errors() {
    require_containers!();
    let mut env = TestEnv::new();
    env.extra = vec!["--num-locks".into(), "32".into()];
    let rootfs = env.rootfs().display().to_string();
    for bad in ["a/b", "..", ".hidden", "x y", &"v".repeat(256)] {
        let err = env.fails(125, ["volume", "create", bad]);
        assert!(err.contains("names are"), "{bad:?}: {err}");
        // (With a leading `.`, `-v` reads a host path, as podman does.)
        if !bad.starts_with('.') {
            let spec = format!("{bad}:/x");
            let out = env.run(["create", "-v", &spec, "--rootfs", &rootfs, "true"]);
            assert_eq!(out.status.code(), Some(125), "-v {spec:?}");
        }
    }
    // An empty name is podman's "no name": a random one.
    let made = env.ok(["volume", "create", ""]);
    assert_eq!(made.trim().len(), 64, "{made}");
    env.ok(["volume", "rm", made.trim()]);
    // Over /proc: refused at create, not by runc at start.
    let dir = env.path().display().to_string();
    for dst in ["/proc", "/proc/sys", "/x/../proc/self"] {
        env.create_refused(&["-v".to_owned(), format!("{dir}:{dst}")], "refused");
    }
    // Volumes take locks from the same segment as containers: the 33rd
    // object fails with the remedy and leaves nothing half made.
    for i in 0..32 {
        env.ok(["volume", "create", &format!("v{i}")]);
    }
    let err = env.fails(125, ["volume", "create", "v32"]);
    assert!(err.contains("all 32 locks are in use"), "{err}");
    let err = env.fails(
        125,
        ["run", "--rm", "-v", "new:/n", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("all 32 locks are in use"), "{err}");
    assert_eq!(env.ok(["volume", "ls", "-q"]).lines().count(), 32);
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    check_clean(&env, "after exhaustion");
    env.ok(["volume", "rm", "v3"]);
    env.ok(["volume", "create", "v32"]);
    check_clean(&env, "the end");
}

#[test]
fn killed_creates_and_removes_of_containers_with_volumes_leave_nothing_half_made() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    for (i, ms) in (0..=60).step_by(5).enumerate() {
        let name = format!("k{i}");
        let vol = format!("kv{i}:/d");
        let mut c = env
            .cmd([
                "create", "--name", &name, "-v", &vol, "-v", "/anon", "--rootfs", &rootfs, "true",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(ms));
        let _ = c.kill();
        let _ = c.wait();
        check_clean(&env, &format!("create -v killed after {ms} ms"));
        // A container made is whole: it runs with its volumes.
        if env.run(["container", "exists", &name]).status.success() {
            env.ok(["start", "-a", &name]);
            let mut c = env
                .cmd(["rm", "-v", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(Duration::from_millis(ms));
            let _ = c.kill();
            let _ = c.wait();
            check_clean(&env, &format!("rm -v killed after {ms} ms"));
        }
    }
    // Whatever is left is removable, and the volumes with it.
    env.ok(["rm", "-a", "-v"]);
    env.ok(["volume", "prune", "-f"]);
    assert_eq!(env.ok(["volume", "ls", "-q"]), "");
    check_clean(&env, "the end");
    let dir = env.root().join("volumes");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no volume directory left in {}", dir.display());
}

#[test]
fn ls_and_prune_filters_select_as_podmans() {
    let env = TestEnv::new();
    env.ok(["volume", "create", "--label", "a=1", "v1"]);
    env.ok([
        "volume", "create", "--label", "a=2", "--label", "keep", "v2",
    ]);
    env.ok(["volume", "create", "-o", "nocopy", "v3"]);
    let ls = |f: &str| env.ok(["volume", "ls", "-q", "--filter", f]);
    assert_eq!(ls("label=a=1"), "v1\n");
    assert_eq!(ls("label=a"), "v1\nv2\n");
    assert_eq!(ls("opt=nocopy"), "v3\n");
    assert_eq!(ls("scope=local").lines().count(), 3);
    assert_eq!(ls("until=2000-01-01T00:00:00Z"), "");
    assert_eq!(ls("until=2099-01-01T00:00:00Z").lines().count(), 3);
    assert_eq!(ls("name=v").lines().count(), 3);
    env.fails(125, ["volume", "ls", "--filter", "colour=red"]);
    env.fails(125, ["volume", "prune", "-f", "--filter", "name=v1"]);
    assert_eq!(
        env.ok([
            "volume",
            "prune",
            "-f",
            "--filter",
            "label=a",
            "--filter",
            "label!=keep"
        ]),
        "v1\n"
    );
    assert_eq!(env.ok(["volume", "prune", "-f"]), "v2\nv3\n");
}
