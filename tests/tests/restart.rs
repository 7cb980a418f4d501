//! Restart policies (issue #20) end to end: conmon's exit command starts a
//! container again by its policy (`on-failure[:N]`, `always`,
//! `unless-stopped`), counts it in inspect and as `restart` events, never
//! after a user's stop or kill; a refresh after a reboot starts `always`
//! ones (podman-restart's job).

use std::time::{Duration, Instant};

use oxpod_tests::{TestEnv, require_containers};

fn field(env: &TestEnv, name: &str, format: &str) -> String {
    env.ok(["inspect", name, "--format", format])
        .trim()
        .to_owned()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn restart_events(env: &TestEnv, name: &str) -> usize {
    env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=restart",
        "--filter",
        &format!("container={name}"),
    ])
    .lines()
    .count()
}

#[test]
fn on_failure_restarts_up_to_its_retries_and_always_until_stopped() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run",
        "-d",
        "--name",
        "f",
        "--restart",
        "on-failure:2",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_for("two restarts and a final exit", || {
        field(&env, "f", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        field(&env, "f", "{{.RestartCount}} {{.State.ExitCode}}"),
        "2 3"
    );
    assert_eq!(restart_events(&env, "f"), 2);
    assert_eq!(
        field(
            &env,
            "f",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // on-failure: a clean exit is final.
    env.ok([
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    env.ok(["wait", "ok"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        field(&env, "ok", "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
    // always: again and again, until the user stops it.
    env.ok([
        "run",
        "-d",
        "--name",
        "a",
        "--restart",
        "always",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    wait_for("restarts", || {
        field(&env, "a", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 2
    });
    env.ok(["stop", "-t", "0", "a"]);
    let after_stop = field(&env, "a", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(field(&env, "a", "{{.State.Status}}"), "exited");
    assert_eq!(
        field(&env, "a", "{{.RestartCount}}"),
        after_stop,
        "stop is final"
    );
    // A user start begins the count again.
    env.ok(["start", "a"]);
    env.ok(["stop", "-t", "0", "a"]);
    assert_eq!(field(&env, "a", "{{.RestartCount}}"), "0");
    // kill is the user's too.
    env.ok([
        "run",
        "-d",
        "--name",
        "k",
        "--restart",
        "always",
        "--rootfs",
        &rootfs,
        "sleep",
        "100",
    ]);
    env.ok(["kill", "k"]);
    env.ok(["wait", "k"]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        field(&env, "k", "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
    // podman's refusals.
    let out = env.run([
        "run",
        "--rm",
        "--restart",
        "always",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("conflicts with --restart"));
    for (args, want) in [
        (vec!["--restart", "sometimes"], "must be no"),
        (
            vec!["--restart", "always:3"],
            "only be specified with on-failure",
        ),
        (vec!["--restart", "on-failure:x"], "must be a number"),
    ] {
        env.create_refused(&args, want);
    }
}

#[test]
fn a_refresh_after_a_reboot_starts_the_always_containers() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    for (name, policy) in [
        ("al", "always"),
        ("us", "unless-stopped"),
        ("us2", "unless-stopped"),
        ("no", "no"),
    ] {
        env.ok([
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "--rootfs",
            &rootfs,
            "sleep",
            "1000",
        ]);
    }
    env.ok(["stop", "-t", "0", "us2"]);
    // "Reboot": every process gone (conmon first, so no exit command runs),
    // the tmp dir and the lock segment too.
    let pids: Vec<i32> = ["al", "us", "no"]
        .iter()
        .map(|n| field(&env, n, "{{.State.Pid}}").parse().expect("pid"))
        .collect();
    let conmons: Vec<i32> = ["al", "us", "no"]
        .iter()
        .map(|n| {
            field(&env, n, "{{.State.ConmonPid}}")
                .parse()
                .expect("conmon pid")
        })
        .collect();
    for p in conmons.iter().chain(&pids) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_for("the processes to die", || {
        pids.iter()
            .chain(&conmons)
            .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
    });
    std::fs::remove_dir_all(env.runroot()).expect("remove runroot");
    let shm = std::path::Path::new("/dev/shm").join(env.lock_name.trim_start_matches('/'));
    std::fs::remove_file(shm).expect("remove lock segment");
    // The first command refreshes and starts what must run.
    env.ok(["ps", "-a"]);
    let status = |n: &str| field(&env, n, "{{.State.Status}}");
    assert_eq!(status("al"), "running");
    assert_eq!(status("us"), "running");
    assert_ne!(
        status("us2"),
        "running",
        "stopped by the user before the reboot"
    );
    assert_ne!(status("no"), "running");
    env.ok(["rm", "-f", "-a"]);
}

#[test]
fn health_checks_run_on_demand_as_podmans() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run",
        "-d",
        "--name",
        "h",
        "--health-cmd",
        "test -e /tmp/ok && echo fine",
        "--health-retries",
        "2",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    assert_eq!(field(&env, "h", "{{.State.Health.Status}}"), "starting");
    assert!(env.ok(["ps"]).contains("(starting)"));
    let check = |env: &TestEnv| {
        let out = env.run(["healthcheck", "run", "h"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(check(&env), (Some(1), "unhealthy\n".to_owned()));
    assert_eq!(
        field(
            &env,
            "h",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"
        ),
        "starting 1"
    );
    assert_eq!(check(&env), (Some(1), "unhealthy\n".to_owned()));
    assert_eq!(
        field(
            &env,
            "h",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"
        ),
        "unhealthy 2"
    );
    env.ok(["exec", "h", "busybox", "touch", "/tmp/ok"]);
    assert_eq!(check(&env), (Some(0), String::new()));
    assert_eq!(
        field(
            &env,
            "h",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}"
        ),
        "healthy 0 3"
    );
    assert_eq!(
        field(
            &env,
            "h",
            "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}};{{end}}"
        ),
        "1:;1:;0:fine;"
    );
    assert!(env.ok(["ps"]).contains("(healthy)"));
    let statuses = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.HealthStatus}}",
    ]);
    assert_eq!(
        statuses.lines().count(),
        2,
        "starting→unhealthy, unhealthy→healthy: {statuses}"
    );
    // A check that hangs is killed at its timeout (podman 4.3 waits for it).
    env.ok([
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 100",
        "--health-timeout",
        "1s",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    let began = Instant::now();
    let out = env.run(["healthcheck", "run", "slow"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        field(
            &env,
            "slow",
            "{{range .State.Health.Log}}{{.ExitCode}}{{end}}"
        ),
        "-1"
    );
    // podman's refusals.
    env.ok(["create", "--name", "none", "--rootfs", &rootfs, "true"]);
    let err = env.fails(125, ["healthcheck", "run", "none"]);
    assert!(err.contains("no defined healthcheck"), "{err}");
    env.ok(["stop", "-t", "0", "h"]);
    let err = env.fails(125, ["healthcheck", "run", "h"]);
    assert!(err.contains("start it first"), "{err}");
    env.create_refused(&["--health-cmd", "[broken"], "JSON array");
    env.create_refused(
        &["--health-cmd", "true", "--health-interval", "3x"],
        "duration",
    );
    env.ok(["rm", "-f", "-a"]);
}
