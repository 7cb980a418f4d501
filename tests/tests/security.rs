//! Security and namespaces (issue #20) end to end with runc: the seccomp
//! profile (podman's default translated, a file, unconfined), privileged,
//! masked paths, devices, host namespaces, users and groups, OCI hooks.
//! Values are read from inside the container.

use oxpod_tests::{TestEnv, require_containers};

fn status_line(env: &TestEnv, args: &[&str], key: &str) -> String {
    let (code, out, err) = env.sh(args, &format!("busybox grep '^{key}:' /proc/self/status"));
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn seccomp_is_podmans_profile_unless_unconfined_or_a_file_is_given() {
    require_containers!();
    let env = TestEnv::new();
    assert_eq!(
        status_line(&env, &[], "Seccomp"),
        "2",
        "filtered by default"
    );
    assert_eq!(
        status_line(&env, &["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    // A profile of our own: mkdir refused with EPERM, the rest allowed.
    let profile = env.path().join("nomkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errno":"EPERM"}]}"#,
    )
    .expect("write");
    let opt = format!("seccomp={}", profile.display());
    let (code, out, err) = env.sh(
        &["--security-opt", &opt],
        "busybox mkdir /tmp/x 2>&1; echo rc=$?; echo ok > /tmp/f && busybox cat /tmp/f",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
    assert!(out.ends_with("ok\n"), "{out}");
    // A profile with an unknown action fails the create, naming it.
    let broken = env.path().join("broken.json");
    std::fs::write(&broken, r#"{"defaultAction":"SCMP_ACT_SOMETIMES"}"#).expect("write");
    env.create_refused(
        &[
            "--security-opt".to_owned(),
            format!("seccomp={}", broken.display()),
        ],
        "SCMP_ACT_SOMETIMES",
    );
    env.create_refused(&["--security-opt", "apparmor=x"], "not supported");
    let inspect = env.ok([
        "create",
        "--name",
        "u",
        "--security-opt",
        "seccomp=unconfined",
        "--rootfs",
        &env.rootfs().display().to_string(),
        "true",
    ]);
    assert!(!inspect.is_empty());
    assert_eq!(
        env.ok(["inspect", "u", "--format", "{{.HostConfig.SecurityOpt}}"]),
        "[seccomp=unconfined]\n"
    );
}

#[test]
fn privileged_has_every_capability_no_masks_and_the_hosts_devices() {
    require_containers!();
    let env = TestEnv::new();
    let bounding = std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_owned()))
        .expect("CapBnd");
    assert_eq!(status_line(&env, &["--privileged"], "CapEff"), bounding);
    assert_eq!(status_line(&env, &["--privileged"], "Seccomp"), "0");
    // /proc/timer_list is masked (empty) by default, readable when
    // privileged or unmasked.
    let lines = |args: &[&str]| {
        let (code, out, err) = env.sh(args, "busybox wc -l < /proc/timer_list");
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out.trim().parse::<u64>().expect("a count")
    };
    assert_eq!(lines(&[]), 0);
    assert!(lines(&["--privileged"]) > 0);
    assert!(lines(&["--security-opt", "unmask=/proc/timer_list"]) > 0);
    assert!(lines(&["--security-opt", "unmask=ALL"]) > 0);
    let (code, out, _) = env.sh(
        &["--security-opt", "mask=/etc/passwd"],
        "busybox wc -c < /etc/passwd",
    );
    assert_eq!((code, out.trim()), (Some(0), "0"));
    // The host's devices: /dev/zero is there anyway, /dev/loop-control or
    // /dev/mem only when privileged.
    let (_, out, _) = env.sh(&["--privileged"], "busybox ls /dev");
    let host_has = |d: &str| std::path::Path::new("/dev").join(d).exists();
    for d in ["mem", "loop-control", "kmsg"] {
        if host_has(d) {
            assert!(out.lines().any(|l| l == d), "{d} in {out}");
        }
    }
    let (_, out, _) = env.sh(&[], "busybox ls /dev");
    assert!(!out.lines().any(|l| l == "mem"), "{out}");
    // /sys is writable only when privileged.
    let (_, out, _) = env.sh(&[], "busybox grep ' /sys ' /proc/mounts");
    assert!(out.contains(" ro,"), "{out}");
    let (_, out, _) = env.sh(&["--privileged"], "busybox grep ' /sys ' /proc/mounts");
    assert!(out.contains(" rw,"), "{out}");
}

#[test]
fn devices_and_host_namespaces_are_given_as_asked() {
    require_containers!();
    let env = TestEnv::new();
    let (code, out, err) = env.sh(
        &["--device", "/dev/null:/dev/mynull:rw"],
        "busybox test -c /dev/mynull && echo x > /dev/mynull && echo wrote",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "wrote\n");
    env.create_refused(&["--device", "/etc/passwd"], "not a device node");
    env.create_refused(&["--device", "/dev/null:/dev/n:rwx"], "invalid permissions");
    env.create_refused(&["--device", "/nonexistent"], "--device");
    // Namespaces: the host's when asked for.
    let own = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("ns");
    let inside = |args: &[&str], ns: &str| {
        let (code, out, err) = env.sh(args, &format!("busybox readlink /proc/self/ns/{ns}"));
        assert_eq!(code, Some(0), "{err}");
        std::path::PathBuf::from(out.trim())
    };
    for (flag, ns) in [("--pid", "pid"), ("--ipc", "ipc"), ("--uts", "uts")] {
        assert_eq!(inside(&[flag, "host"], ns), own(ns), "{flag} host");
        assert_ne!(inside(&[], ns), own(ns), "{ns} private by default");
    }
    assert_ne!(inside(&["--cgroupns", "private"], "cgroup"), own("cgroup"));
    assert_eq!(inside(&[], "cgroup"), own("cgroup"), "host cgroupns on v1");
    let (_, out, _) = env.sh(&["--uts", "host"], "busybox hostname");
    assert_eq!(
        out.trim(),
        nix::unistd::gethostname()
            .expect("hostname")
            .to_string_lossy()
    );
    env.create_refused(&["--pid", "container:x"], "not supported yet");
    env.create_refused(&["--userns", "keep-id"], "only supported in rootless mode");
    env.create_refused(&["--userns", "auto"], "not supported yet");
    let (code, _, err) = env.sh(&["--userns", "host"], "true");
    assert_eq!(code, Some(0), "{err}");
    env.create_refused(&["--ipc", "sideways"], "host or private");
    env.create_refused(&["--uts", "host", "--hostname", "h"], "--uts host");
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "create",
        "--name",
        "h",
        "--pid",
        "host",
        "--device",
        "/dev/null",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    assert_eq!(
        env.ok(["inspect", "h", "--format", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{range .HostConfig.Devices}}{{.PathOnHost}}:{{.CgroupPermissions}}{{end}}"]),
        "host private /dev/null:rwm\n"
    );
}

#[test]
fn users_get_their_home_and_groups_from_the_roots_files() {
    require_containers!();
    let env = TestEnv::new();
    let etc = env.rootfs().join("etc");
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(
        etc.join("group"),
        "root:x:0:\napp:x:1000:\nextra:x:2000:app\nother:x:3000:\n",
    )
    .expect("group");
    let id = |args: &[&str]| {
        let (code, out, err) = env.sh(args, "busybox id -u; busybox id -G; echo $HOME");
        assert_eq!(code, Some(0), "{args:?}: {err}");
        let lines: Vec<String> = out.lines().map(str::to_owned).collect();
        let mut groups: Vec<u32> = lines[1]
            .split(' ')
            .map(|g| g.parse().expect("gid"))
            .collect();
        groups.sort_unstable();
        (lines[0].clone(), groups, lines[2].clone())
    };
    // podman's answers on the same root (podman 4.3.1, run side by side).
    assert_eq!(id(&[]), ("0".to_owned(), vec![0], "/root".to_owned()));
    assert_eq!(
        id(&["-u", "app"]),
        ("1000".to_owned(), vec![1000, 2000], "/home/app".to_owned())
    );
    assert_eq!(
        id(&["-u", "app", "--group-add", "other", "--group-add", "77"]),
        (
            "1000".to_owned(),
            vec![77, 1000, 2000, 3000],
            "/home/app".to_owned()
        )
    );
    assert_eq!(
        id(&["-u", "4242"]),
        ("4242".to_owned(), vec![0], "/".to_owned())
    );
    let (_, out, _) = env.sh(&["-u", "app", "-e", "HOME=/elsewhere"], "echo $HOME");
    assert_eq!(out, "/elsewhere\n");
    // Unknown names are refused at create (podman: 126 at start).
    env.create_refused(&["--group-add", "nosuch"], "no group \"nosuch\"");
    env.create_refused(&["-u", "nobody"], "no user \"nobody\"");
    // An absolute link climbing out resolves inside the root: the root's
    // file is read, never the host's.
    std::fs::rename(etc.join("passwd"), etc.join("real-passwd")).expect("mv");
    std::os::unix::fs::symlink("/../../../../etc/real-passwd", etc.join("passwd")).expect("link");
    assert_eq!(id(&["-u", "app"]).0, "1000");
    env.create_refused(&["-u", "daemon"], "no user \"daemon\"");
}

#[test]
fn oci_hooks_from_hooks_dir_run_at_their_stages() {
    require_containers!();
    let mut env = TestEnv::new();
    let hooks = env.path().join("hooks.d");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    let out = env.path().join("hook-out");
    std::fs::create_dir_all(&out).expect("mkdir");
    for (name, stage, when) in [
        ("pre.json", "prestart", r#"{"always":true}"#),
        ("post.json", "poststop", r#"{"always":true}"#),
        ("never.json", "prestart", r#"{"commands":["^/nothing$"]}"#),
    ] {
        let file = out.join(name.trim_end_matches(".json"));
        std::fs::write(
            hooks.join(name),
            format!(
                r#"{{"version":"1.0.0","hook":{{"path":"/bin/sh","args":["sh","-c","cat > {}"]}},"when":{when},"stages":["{stage}"]}}"#,
                file.display()
            ),
        )
        .expect("hook");
    }
    let conf = env.path().join("hooks.conf");
    std::fs::write(&conf, format!("hooks_dir = [\"{}\"]\n", hooks.display())).expect("conf");
    env.extra = vec!["--config".into(), conf.display().to_string()];
    let rootfs = env.rootfs().display().to_string();
    let id = env.ok(["run", "-d", "--rootfs", &rootfs, "true"]);
    let id = id.trim();
    env.ok(["wait", id]);
    env.ok(["rm", id]);
    // The hooks got the container's state on stdin (its id).
    let pre = std::fs::read_to_string(out.join("pre")).expect("the prestart hook ran");
    assert!(pre.contains(id), "{pre}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !out.join("post").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the poststop hook ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!out.join("never").exists());
    // A broken hook file fails the start, naming it.
    std::fs::write(hooks.join("zz.json"), "{").expect("write");
    let err = env.fails(125, ["run", "--rm", "--rootfs", &rootfs, "true"]);
    assert!(err.contains("zz.json"), "{err}");
}
