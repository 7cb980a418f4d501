//! Resource limits and capabilities (issue #20, first part) end to end
//! with runc: what the container's cgroup and process status say, what
//! `inspect` shows, and the values podman refuses.

use oxpod_tests::{TestEnv, require_containers};

/// A line of `/proc/self/status` as the container's process sees it.
fn status_line(env: &TestEnv, args: &[&str], key: &str) -> String {
    let (code, out, err) = env.sh(args, &format!("grep '^{key}:' /proc/self/status"));
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn cgroup_limits_reach_the_containers_cgroup() {
    require_containers!();
    let env = TestEnv::new();
    // cgroup v1 (this host) or v2 file names, read inside the container.
    let script = "for f in memory/memory.limit_in_bytes memory.max pids/pids.max pids.max \
                  cpu/cpu.cfs_quota_us cpu.max cpuset/cpuset.cpus cpuset.cpus; do \
                  [ -f /sys/fs/cgroup/$f ] && echo \"$f=$(cat /sys/fs/cgroup/$f)\"; done; true";
    let (code, out, err) = env.sh(
        &[
            "--memory",
            "64m",
            "--memory-swap",
            "-1",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            "--cpuset-cpus",
            "0",
        ],
        script,
    );
    assert_eq!(code, Some(0), "{err}");
    let has = |v1: &str, v2: &str| out.lines().any(|l| l == v1 || l == v2);
    assert!(
        has(
            "memory/memory.limit_in_bytes=67108864",
            "memory.max=67108864"
        ),
        "{out}"
    );
    assert!(has("pids/pids.max=50", "pids.max=50"), "{out}");
    assert!(
        has("cpu/cpu.cfs_quota_us=50000", "cpu.max=50000 100000"),
        "{out}"
    );
    assert!(has("cpuset/cpuset.cpus=0", "cpuset.cpus=0"), "{out}");
    // inspect shows podman's fields.
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "create",
        "--name",
        "l",
        "-m",
        "1g",
        "--cpus",
        "1.5",
        "--pids-limit",
        "-1",
        "--ulimit",
        "nofile=100:200",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    let got = env.ok([
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.HostConfig.PidsLimit}} {{json .HostConfig.Ulimits}}",
        "l",
    ]);
    assert_eq!(
        got.trim(),
        "1073741824 1500000000 150000 100000 -1 [{\"Hard\":200,\"Name\":\"RLIMIT_NOFILE\",\"Soft\":100}]"
    );
    let (_, out, _) = env.sh(&["--ulimit", "nofile=100:200"], "ulimit -n; ulimit -Hn");
    assert_eq!(out, "100\n200\n");
}

#[test]
fn capabilities_start_from_podmans_set() {
    require_containers!();
    let env = TestEnv::new();
    assert_eq!(status_line(&env, &[], "CapEff"), "00000000800405fb");
    // NET_ADMIN is bit 12; CHOWN bit 0.
    assert_eq!(
        status_line(
            &env,
            &["--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN"],
            "CapEff"
        ),
        "00000000800415fa"
    );
    assert_eq!(
        status_line(&env, &["--cap-drop", "all", "--cap-add", "KILL"], "CapEff"),
        "0000000000000020"
    );
    // ALL: what oxpod itself holds, never more.
    let bounding = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_owned()))
        .unwrap();
    assert_eq!(status_line(&env, &["--cap-add", "all"], "CapEff"), bounding);
    assert_eq!(status_line(&env, &[], "NoNewPrivs"), "0");
    assert_eq!(
        status_line(&env, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
}

#[test]
fn bad_limits_are_refused_before_anything_is_made() {
    require_containers!();
    let env = TestEnv::new();
    for (args, want) in [
        (&["-m", "1m"][..], "minimum memory limit allowed is 6MB"),
        (&["-m", "10q"], "invalid size"),
        (&["--memory-swap", "1g"], "needs --memory"),
        (
            &["-m", "64m", "--memory-swap", "32m"],
            "larger than the memory limit",
        ),
        (&["--cpus", "0"], "range of CPUs"),
        (
            &["--cpus", "1", "--cpu-quota", "5000"],
            "cannot be set together",
        ),
        (&["--cpuset-cpus", "x"], "0-2,4"),
        (&["--cap-add", "bogus"], "unknown capability"),
        (&["--ulimit", "nofile=10:5"], "soft limit is above"),
        (&["--ulimit", "colour=1"], "colour"),
        (&["--security-opt", "apparmor=unconfined"], "not supported"),
        (&["--security-opt", "seccomp=/nonexistent.json"], "seccomp"),
    ] {
        env.create_refused(args, want);
    }
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

#[test]
fn init_sysctls_oom_score_and_shm_size_apply() {
    require_containers!();
    let env = TestEnv::new();
    // --init: catatonit is pid 1, the command runs under it, its exit code
    // is the container's.
    let (code, out, err) = env.sh(&["--init"], "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 3");
    assert_eq!(code, Some(3), "{err}");
    assert!(out.starts_with("/run/podman-init -- "), "{out}");
    let (code, out, err) = env.sh(
        &[
            "--sysctl",
            "kernel.shmmax=1000000",
            "--sysctl",
            "fs.mqueue.msg_max=20",
        ],
        "cat /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "1000000\n20\n");
    let (_, out, _) = env.sh(&["--oom-score-adj", "100"], "cat /proc/self/oom_score_adj");
    assert_eq!(out, "100\n");
    let (_, out, _) = env.sh(&["--shm-size", "1m"], "grep ' /dev/shm ' /proc/mounts");
    assert!(out.contains("size=1024k"), "{out}");
    let (_, out, _) = env.sh(&[], "grep ' /dev/shm ' /proc/mounts");
    assert!(out.contains("size=65536k"), "{out}");
    for (args, want) in [
        (
            &["--sysctl", "net.ipv4.ip_forward=1"][..],
            "host's network namespace",
        ),
        (&["--sysctl", "vm.swappiness=1"], "not namespaced"),
        (&["--sysctl", "novalue"], "KEY=VALUE"),
        (&["--oom-score-adj", "1001"], "between -1000 and 1000"),
        (&["--shm-size", "0"], "more than 0"),
    ] {
        env.create_refused(args, want);
    }
}

#[test]
fn conmon_gets_the_configured_log_limit_environment_and_no_pivot() {
    require_containers!();
    let mut env = TestEnv::new();
    let conf = env.path().join("conmon.conf");
    std::fs::write(
        &conf,
        "max_log_size = 2000\nno_pivot_root = true\nconmon_env_vars = [\"PATH=/usr/bin:/bin:/usr/sbin:/sbin\", \"OXPOD_TEST_MARK=seen\"]\n",
    )
    .expect("config");
    env.extra = vec!["--config".into(), conf.display().to_string()];
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run", "-d", "--name", "c", "--rootfs", &rootfs, "sh", "-c",
        "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; sleep 100",
    ]);
    let conmon: i32 = env
        .ok(["inspect", "c", "--format", "{{.State.ConmonPid}}"])
        .trim()
        .parse()
        .expect("conmon pid");
    let environ = std::fs::read(format!("/proc/{conmon}/environ")).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|e| e == b"OXPOD_TEST_MARK=seen"),
        "conmon_env_vars reach conmon"
    );
    let cmdline = String::from_utf8_lossy(
        &std::fs::read(format!("/proc/{conmon}/cmdline")).expect("cmdline"),
    )
    .replace('\0', " ");
    assert!(
        cmdline.contains("--no-pivot") && cmdline.contains("--log-size-max 2000"),
        "{cmdline}"
    );
    // The log stays near the limit although 16 KB were written.
    let log = env.ok(["inspect", "c", "--format", "{{.HostConfig.LogConfig.Path}}"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logs = env.ok(["logs", "c"]);
        if logs.contains("line-399-") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last line reached the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let size = std::fs::metadata(log.trim()).expect("log file").len();
    assert!(size <= 4000, "log of {size} bytes with max_log_size 2000");
    env.ok(["rm", "-f", "c"]);
}

#[test]
fn oom_kill_disable_cgroup_parent_and_blkio_weight_as_podman() {
    require_containers!();
    let env = TestEnv::new();
    let (code, out, err) = env.sh(
        &["-m", "64m", "--oom-kill-disable"],
        "busybox grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "oom_kill_disable 1\n");
    // A parent of our own, removed afterwards from every hierarchy.
    let parent = format!("/oxpod/test-{}", std::process::id());
    let (code, out, err) = env.sh(
        &["--cgroup-parent", &parent],
        "busybox grep ':pids:' /proc/self/cgroup",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!(":pids:{parent}/")), "{out}");
    if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
        for d in dirs.flatten() {
            let _ = std::fs::remove_dir(d.path().join(parent.trim_start_matches('/')));
        }
    }
    env.create_refused(&["--cgroup-parent", "/a/../../b"], "leave the cgroup tree");
    env.create_refused(&["--blkio-weight", "5"], "from 10 to 1000");
    // Where the kernel has no weight (this host's v1 with bfq but no
    // bfq.weight), podman warns and drops it; so does oxpod.
    let supported = [
        "/sys/fs/cgroup/blkio/blkio.weight",
        "/sys/fs/cgroup/blkio/blkio.bfq.weight",
        "/sys/fs/cgroup/io.weight",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists());
    let (code, _, err) = env.sh(&["--blkio-weight", "300"], "true");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.contains("does not support Block I/O weight"),
        !supported,
        "{err}"
    );
}

#[test]
fn update_changes_a_running_containers_limits_and_keeps_them() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run",
        "-d",
        "--name",
        "u",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    let read = |f: &str| env.ok(["exec", "u", "cat", &format!("/sys/fs/cgroup/{f}")]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let (mem, pids, cpu) = if v2 {
        ("memory.max", "pids.max", "cpu.max")
    } else {
        (
            "memory/memory.limit_in_bytes",
            "pids/pids.max",
            "cpu/cpu.cfs_quota_us",
        )
    };
    assert_eq!(read(pids).trim(), "50");
    let id = env.ok(["update", "--memory", "128m", "--cpus", "0.5", "u"]);
    assert_eq!(
        id.trim(),
        env.ok(["inspect", "u", "--format", "{{.Id}}"]).trim()
    );
    // Live: the memory and CPU changed, the pids limit stayed.
    assert_eq!(read(mem).trim(), "134217728");
    assert!(read(cpu).starts_with("50000"), "{}", read(cpu));
    assert_eq!(read(pids).trim(), "50");
    assert_eq!(
        env.ok([
            "inspect",
            "u",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}"
        ]),
        "134217728 50 500000000\n"
    );
    // Kept: a restart applies them again.
    env.ok(["restart", "-t", "0", "u"]);
    assert_eq!(read(mem).trim(), "134217728");
    // A stopped container's update waits for its start.
    env.ok(["stop", "-t", "0", "u"]);
    env.ok(["update", "--pids-limit", "33", "u"]);
    env.ok(["start", "u"]);
    assert_eq!(read(pids).trim(), "33");
    // Bad values are refused and change nothing.
    let err = env.fails(125, ["update", "-m", "1m", "u"]);
    assert!(err.contains("6MB"), "{err}");
    assert_eq!(read(mem).trim(), "134217728");
    env.fails(125, ["update", "--memory", "64m", "nosuch"]);
    env.ok(["rm", "-f", "u"]);
}

#[test]
fn an_init_path_that_is_not_executable_is_refused_at_create() {
    require_containers!();
    let mut env = TestEnv::new();
    let fake = env.path().join("not-an-init");
    std::fs::write(&fake, "#!/bin/sh\n").expect("write");
    let conf = env.path().join("init.conf");
    std::fs::write(&conf, format!("init_path = \"{}\"\n", fake.display())).expect("conf");
    env.extra = vec!["--config".into(), conf.display().to_string()];
    env.create_refused(&["--init"], "is not executable");
    std::fs::remove_file(&fake).expect("rm");
    env.create_refused(&["--init"], "is not there");
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
}
