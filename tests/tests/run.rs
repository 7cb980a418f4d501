//! End-to-end tests of running containers (issue #8): `run`, exit codes,
//! `stop`, `kill`, `wait`, `logs`, `--rm`, pause, restart, `rm -f`, pods,
//! and many processes starting and stopping containers at once. Each test
//! drives the built `oxpod` binary with real runc and conmon in its own
//! `TestEnv`.
//!
//! Waits poll with a deadline; conmon's exit command (`container cleanup`)
//! runs asynchronously after a container exits, so checks of what it does
//! (its `cleanup` event, removal of `--rm` containers, lock release) poll.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use oxpod_tests::{TestEnv, require_containers};
use serde_json::Value;

/// How long any polling loop waits before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A command that exits 0 promptly on SIGTERM even as pid 1 (busybox
/// `sleep` as pid 1 ignores SIGTERM, a shell with a trap does not).
const TRAPPING_LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

fn rootfs(env: &TestEnv) -> String {
    env.rootfs().display().to_string()
}

/// `run -d --name NAME --rootfs R CMD...`, returning the id.
fn run_detached(env: &TestEnv, name: &str, cmd: &[&str]) -> String {
    let rootfs = rootfs(env);
    let mut args = vec!["run", "-d", "--name", name, "--rootfs", &rootfs];
    args.extend_from_slice(cmd);
    let id = env.ok(&args).trim().to_owned();
    assert_eq!(id.len(), 64, "run -d prints the full id, got {id:?}");
    id
}

/// Polls `f` until it returns `Some`, failing the test after [`DEADLINE`].
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `inspect NAME --format TEMPLATE`, trimmed.
fn inspect(env: &TestEnv, name: &str, template: &str) -> String {
    env.ok(["inspect", "--format", template, name])
        .trim()
        .to_owned()
}

/// The `ps` (with `all`, `ps -a`) status column of container `name`, if listed.
fn ps_status(env: &TestEnv, all: bool, name: &str) -> Option<String> {
    let mut args = vec!["ps", "--format", "{{.Names}}|{{.Status}}"];
    if all {
        args.push("-a");
    }
    env.ok(&args).lines().find_map(|l| {
        l.split_once('|')
            .filter(|(n, _)| *n == name)
            .map(|(_, s)| s.to_owned())
    })
}

/// The events of this env (`events --stream=false --format json`), filtered.
fn events(env: &TestEnv, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "--stream=false", "--format", "json"];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    env.ok(&args)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}")))
        .collect()
}

fn count_events(env: &TestEnv, id: &str, status: &str) -> usize {
    events(env, &[&format!("event={status}")])
        .iter()
        .filter(|e| e["ID"] == id)
        .count()
}

/// Waits until conmon's exit command (`container cleanup`) has run for `id`.
fn wait_for_cleanup(env: &TestEnv, id: &str) {
    poll("the exit command's cleanup event", || {
        (count_events(env, id, "cleanup") > 0).then_some(())
    });
}

/// `system locks --format json`.
fn locks(env: &TestEnv) -> Value {
    serde_json::from_str(&env.ok(["system", "locks", "--format", "json"])).expect("locks json")
}

/// Asserts no lock stays held. conmon's exit command (`container cleanup`)
/// runs after a container exits and holds its lock for a moment, so this
/// polls; a lock left held (by a live process, or by a dead one that never
/// released it) fails after the deadline.
fn assert_no_lock_held(env: &TestEnv) {
    let start = Instant::now();
    loop {
        let l = locks(env);
        if l["held"] == serde_json::json!({}) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "locks still held: {l}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_system_check_clean(env: &TestEnv) {
    assert_no_lock_held(env);
    let out = env.ok(["system", "check"]);
    assert!(out.contains("no problems found"), "system check: {out}");
}

/// The bundle directories left under `<root>/containers`.
fn bundles(env: &TestEnv) -> Vec<String> {
    match std::fs::read_dir(env.root().join("containers")) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Asserts nothing of the container `id` is left: no record, no lock, no
/// bundle. Removal by conmon's exit command frees the lock just after the
/// record is gone, so this polls until all three are gone. `lock` is the
/// container's lock id; without it no lock at all may be allocated.
fn assert_nothing_left(env: &TestEnv, id: &str, lock: Option<&str>) {
    let start = Instant::now();
    loop {
        let ps = env.ok(["ps", "-a", "-q", "--no-trunc"]);
        let l = locks(env);
        let b = bundles(env);
        let record_left = ps.contains(id);
        let lock_left = match lock {
            Some(lock) => l["allocated"].get(lock).is_some(),
            None => l["allocated"] != serde_json::json!({}),
        };
        let bundle_left = b.iter().any(|d| d == id);
        // Per-boot files: run dir, exit file, conmon socket, runc's record.
        let run = env.runroot();
        let files_left: Vec<PathBuf> = [
            run.join("containers").join(id),
            run.join("exits").join(id),
            run.join("socket").join(id),
            run.join("runtime/runc").join(id),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        if !record_left && !lock_left && !bundle_left && files_left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "left behind: record {record_left} (ps: {ps:?}), lock {lock_left} ({l}), bundle {bundle_left} ({b:?}), files {files_left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a child with a deadline, killing it and failing on timeout.
fn wait_child(mut child: Child, what: &str) -> std::process::Output {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if start.elapsed() > DEADLINE => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what} did not finish in {DEADLINE:?}; stdout: {} stderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oxpod")
}

fn pid_alive(pid: &str) -> bool {
    // A zombie is dead for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn run_echo_prints_and_exits_zero() {
    require_containers!();
    let env = TestEnv::new();
    let out = env.ok(["run", "--rootfs", &rootfs(&env), "echo", "hello world"]);
    assert_eq!(out, "hello world\n");
}

#[test]
fn run_passes_the_exit_code_through() {
    require_containers!();
    let env = TestEnv::new();
    env.fails(7, ["run", "--rootfs", &rootfs(&env), "sh", "-c", "exit 7"]);
    let code = inspect(
        &env,
        env.ok(["ps", "-a", "-q"]).trim(),
        "{{.State.ExitCode}}",
    );
    assert_eq!(code, "7");
    // The attached run saved the exit once, whoever else looked.
    let id = inspect(&env, env.ok(["ps", "-a", "-q"]).trim(), "{{.Id}}");
    wait_for_cleanup(&env, &id);
    assert_eq!(count_events(&env, &id, "died"), 1);
    assert_no_lock_held(&env);
}

#[test]
fn stop_with_zero_timeout_kills_at_once() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "instant", &["sh", "-c", TRAPPING_LOOP]);
    env.ok(["stop", "-t", "0", "instant"]);
    // No stop signal was sent: the trap would have exited 0.
    assert_eq!(inspect(&env, "instant", "{{.State.ExitCode}}"), "137");
    assert_eq!(inspect(&env, "instant", "{{.State.Status}}"), "exited");
}

#[test]
fn run_of_a_missing_command_exits_127() {
    require_containers!();
    let env = TestEnv::new();
    let err = env.fails(127, ["run", "--rootfs", &rootfs(&env), "nosuchcommand"]);
    assert!(err.contains("nosuchcommand"), "stderr: {err}");
}

#[test]
fn run_of_a_non_executable_file_exits_126() {
    require_containers!();
    let env = TestEnv::new();
    let err = env.fails(126, ["run", "--rootfs", &rootfs(&env), "/etc/notexec"]);
    assert!(err.contains("/etc/notexec"), "stderr: {err}");
}

#[test]
fn start_of_a_missing_command_fails_with_125_not_127() {
    require_containers!();
    let env = TestEnv::new();
    env.ok([
        "create",
        "--name",
        "broken",
        "--rootfs",
        &rootfs(&env),
        "nosuchcommand",
    ]);
    // 126/127 are `run`'s, whose exit code is the container's; a failed
    // `start` is oxpod failing, as with podman.
    let err = env.fails(125, ["start", "broken"]);
    assert!(err.contains("nosuchcommand"), "stderr: {err}");
}

#[test]
fn detached_sleep_is_up_and_stop_kills_it_after_the_timeout() {
    require_containers!();
    let env = TestEnv::new();
    let id = run_detached(&env, "sleeper", &["sleep", "1000"]);
    let status = ps_status(&env, false, "sleeper").expect("running container in ps");
    assert!(status.starts_with("Up"), "status {status:?}");
    assert_eq!(inspect(&env, "sleeper", "{{.State.Status}}"), "running");
    assert_ne!(inspect(&env, "sleeper", "{{.State.Pid}}"), "0");

    // busybox sleep as pid 1 ignores SIGTERM: stop ends with SIGKILL.
    let start = Instant::now();
    let out = env.ok(["stop", "-t", "1", "sleeper"]);
    assert_eq!(out.trim(), "sleeper");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "stop -t 1 took {:?}",
        start.elapsed()
    );
    assert!(ps_status(&env, false, "sleeper").is_none());
    let status = ps_status(&env, true, "sleeper").expect("in ps -a");
    assert!(status.starts_with("Exited (137)"), "status {status:?}");
    assert_eq!(inspect(&env, &id, "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, &id, "{{.State.ExitCode}}"), "137");
    // Stopping a stopped container is fine.
    env.ok(["stop", "-t", "1", "sleeper"]);
    wait_for_cleanup(&env, &id);
    assert_eq!(count_events(&env, &id, "died"), 1);
    assert_eq!(count_events(&env, &id, "stop"), 1);
    assert_no_lock_held(&env);
}

#[test]
fn stop_with_a_handled_signal_exits_cleanly() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "trapper", &["sh", "-c", TRAPPING_LOOP]);
    let start = Instant::now();
    env.ok(["stop", "-t", "10", "trapper"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "stop waited for the timeout: {:?}",
        start.elapsed()
    );
    assert_eq!(inspect(&env, "trapper", "{{.State.ExitCode}}"), "0");
}

#[test]
fn container_killed_from_outside_is_seen_exited_with_one_died_event() {
    require_containers!();
    let env = TestEnv::new();
    let id = run_detached(&env, "victim", &["sleep", "1000"]);
    let pid = inspect(&env, "victim", "{{.State.Pid}}");
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 1), "pid {pid:?}");
    let st = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    let status = poll("ps -a to show the container exited", || {
        ps_status(&env, true, "victim").filter(|s| s.starts_with("Exited"))
    });
    assert!(status.starts_with("Exited (137)"), "status {status:?}");
    wait_for_cleanup(&env, &id);
    // More readers after the exit was saved add no event.
    env.ok(["ps", "-a"]);
    env.ok(["inspect", "victim"]);
    assert_eq!(env.ok(["wait", "victim"]).trim(), "137");
    let died = events(&env, &["event=died"]);
    let mine: Vec<&Value> = died.iter().filter(|e| e["ID"] == id.as_str()).collect();
    assert_eq!(mine.len(), 1, "died events: {died:?}");
    assert_eq!(mine[0]["ContainerExitCode"], 137);
    assert_eq!(mine[0]["Name"], "victim");
    assert_no_lock_held(&env);
}

#[test]
fn died_event_is_written_once_when_ps_wait_and_exit_command_race() {
    require_containers!();
    let env = TestEnv::new();
    let names = ["race0", "race1", "race2"];
    let ids: Vec<String> = names
        .iter()
        .map(|n| run_detached(&env, n, &["sh", "-c", "sleep 0.3; exit 5"]))
        .collect();
    // Readers racing each other and conmon's exit command.
    let mut children = Vec::new();
    for n in names {
        children.push(spawn(&env, &["wait", n]));
        children.push(spawn(&env, &["wait", n]));
    }
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(1200) {
                    env.ok(["ps", "-a"]);
                    env.ok(["inspect", "race0", "race1", "race2"]);
                }
            });
        }
    });
    for c in children {
        let out = wait_child(c, "wait");
        assert!(out.status.success(), "wait failed: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
    }
    for id in &ids {
        wait_for_cleanup(&env, id);
        assert_eq!(count_events(&env, id, "died"), 1, "died events of {id}");
        assert_eq!(inspect(&env, id, "{{.State.ExitCode}}"), "5");
    }
    assert_no_lock_held(&env);
    assert_system_check_clean(&env);
}

#[test]
fn wait_from_three_processes_all_print_the_code() {
    require_containers!();
    let env = TestEnv::new();
    let go = env.rootfs().join("go");
    run_detached(
        &env,
        "waited",
        &[
            "sh",
            "-c",
            "while [ ! -e /go ]; do sleep 0.05; done; exit 42",
        ],
    );
    let waiters: Vec<Child> = (0..3).map(|_| spawn(&env, &["wait", "waited"])).collect();
    // Let them get to waiting; the result is the same if one comes late.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        ps_status(&env, false, "waited").map(|s| s.starts_with("Up")),
        Some(true)
    );
    std::fs::write(&go, "").expect("write go");
    for w in waiters {
        let out = wait_child(w, "wait");
        assert!(out.status.success(), "wait failed: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    }
    // And once more, after the fact.
    assert_eq!(env.ok(["wait", "waited"]), "42\n");
}

#[test]
fn logs_show_the_output() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok([
        "run",
        "--name",
        "talker",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo first; echo second",
    ]);
    assert_eq!(env.ok(["logs", "talker"]), "first\nsecond\n");
    assert_eq!(env.ok(["logs", "--tail", "1", "talker"]), "second\n");
}

#[test]
fn logs_follow_prints_until_the_container_exits() {
    require_containers!();
    let env = TestEnv::new();
    let go = env.rootfs().join("go");
    run_detached(
        &env,
        "follower",
        &[
            "sh",
            "-c",
            "echo one; while [ ! -e /go ]; do sleep 0.05; done; echo two; exit 0",
        ],
    );
    let child = spawn(&env, &["logs", "-f", "follower"]);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(&go, "").expect("write go");
    let out = wait_child(child, "logs -f");
    assert!(out.status.success(), "logs -f failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
}

#[test]
fn run_rm_leaves_nothing_behind() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let out = env.ok([
        "run", "--rm", "--name", "gone", "--rootfs", &rootfs, "echo", "bye",
    ]);
    assert_eq!(out, "bye\n");
    let removed = events(&env, &["event=remove"]);
    assert_eq!(removed.len(), 1, "remove events: {removed:?}");
    let id = removed[0]["ID"].as_str().expect("id").to_owned();
    assert_nothing_left(&env, &id, None);
    assert!(bundles(&env).is_empty(), "bundles: {:?}", bundles(&env));
    // The exit code still comes through, and nothing is left either.
    env.fails(
        3,
        ["run", "--rm", "--rootfs", &rootfs, "sh", "-c", "exit 3"],
    );
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    assert_eq!(locks(&env)["allocated"], serde_json::json!({}));
    assert_system_check_clean(&env);
}

#[test]
fn run_detached_rm_of_a_quick_command_is_removed_by_the_exit_command() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let id2 = env
        .ok(["run", "--rm", "-d", "--rootfs", &rootfs, "true"])
        .trim()
        .to_owned();
    poll("conmon's exit command to remove the container", || {
        let ps = env.ok(["ps", "-a", "-q", "--no-trunc"]);
        (!ps.contains(&id2)).then_some(())
    });
    assert_nothing_left(&env, &id2, None);
    assert_eq!(count_events(&env, &id2, "died"), 1);
    assert_no_lock_held(&env);
}

#[test]
fn run_detached_rm_of_a_sleeper_is_removed_after_it_exits() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let id = env
        .ok([
            "run",
            "-d",
            "--rm",
            "--name",
            "temp",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "sleep 0.3",
        ])
        .trim()
        .to_owned();
    assert!(ps_status(&env, true, "temp").is_some(), "removed too early");
    poll("conmon's exit command to remove the container", || {
        ps_status(&env, true, "temp").is_none().then_some(())
    });
    assert_nothing_left(&env, &id, None);
    assert_system_check_clean(&env);
}

#[test]
fn pause_and_unpause() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "frozen", &["sh", "-c", TRAPPING_LOOP]);
    assert_eq!(env.ok(["pause", "frozen"]).trim(), "frozen");
    assert_eq!(inspect(&env, "frozen", "{{.State.Status}}"), "paused");
    assert_eq!(inspect(&env, "frozen", "{{.State.Paused}}"), "true");
    let status = ps_status(&env, true, "frozen").expect("in ps");
    assert!(status.contains("Paused"), "status {status:?}");
    // Pausing twice is an error (exit 125), and so is unpausing a running one.
    env.fails(125, ["pause", "frozen"]);
    assert_eq!(env.ok(["unpause", "frozen"]).trim(), "frozen");
    assert_eq!(inspect(&env, "frozen", "{{.State.Status}}"), "running");
    env.fails(125, ["unpause", "frozen"]);
    // A paused container can still be stopped.
    env.ok(["pause", "frozen"]);
    env.ok(["stop", "-t", "5", "frozen"]);
    assert_eq!(inspect(&env, "frozen", "{{.State.Status}}"), "exited");
    let paused = events(&env, &["event=pause"]).len();
    let unpaused = events(&env, &["event=unpause"]).len();
    assert_eq!((paused, unpaused), (2, 1));
    assert_no_lock_held(&env);
}

#[test]
fn restart_runs_the_container_again() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "again", &["sh", "-c", TRAPPING_LOOP]);
    let pid1 = inspect(&env, "again", "{{.State.Pid}}");
    assert_eq!(env.ok(["restart", "-t", "5", "again"]).trim(), "again");
    assert_eq!(inspect(&env, "again", "{{.State.Status}}"), "running");
    let pid2 = inspect(&env, "again", "{{.State.Pid}}");
    assert_ne!(pid1, pid2);
    assert_ne!(pid2, "0");
    assert!(!pid_alive(&pid1), "old process {pid1} still alive");
    assert!(pid_alive(&pid2), "new process {pid2} not alive");

    // An exited container restarts too.
    let rootfs = rootfs(&env);
    env.fails(
        3,
        [
            "run",
            "--name",
            "once",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "echo ran; exit 3",
        ],
    );
    env.ok(["restart", "once"]);
    assert_eq!(env.ok(["wait", "once"]).trim(), "3");
    let logs = env.ok(["logs", "once"]);
    assert!(logs.contains("ran"), "logs: {logs:?}");
    assert_eq!(events(&env, &["event=restart"]).len(), 2);
    env.ok(["stop", "-t", "5", "again"]);
    assert_no_lock_held(&env);
    assert_system_check_clean(&env);
}

#[test]
fn rm_force_removes_a_running_container() {
    require_containers!();
    let env = TestEnv::new();
    let id = run_detached(&env, "doomed", &["sleep", "1000"]);
    let pid = inspect(&env, "doomed", "{{.State.Pid}}");
    assert!(pid_alive(&pid));
    // Without force it is refused and nothing changes.
    // podman: 2 for a running container without -f.
    env.fails(2, ["rm", "doomed"]);
    assert_eq!(inspect(&env, "doomed", "{{.State.Status}}"), "running");
    let start = Instant::now();
    // podman echoes the name as given.
    assert_eq!(env.ok(["rm", "-f", "doomed"]).trim(), "doomed");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "rm -f took {:?}",
        start.elapsed()
    );
    poll("the container's process to be gone", || {
        (!pid_alive(&pid)).then_some(())
    });
    assert_nothing_left(&env, &id, None);
    env.fails(125, ["inspect", "doomed"]);
    assert_system_check_clean(&env);
}

#[test]
fn pod_start_and_stop_with_two_members() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok(["pod", "create", "--infra=false", "--name", "duo"]);
    for n in ["m1", "m2"] {
        env.ok([
            "create",
            "--pod",
            "duo",
            "--name",
            n,
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            TRAPPING_LOOP,
        ]);
    }
    // podman prints the pod's full id.
    let pod_id = env.ok(["pod", "inspect", "--format", "{{.Id}}", "duo"]);
    assert_eq!(env.ok(["pod", "start", "duo"]), pod_id);
    for n in ["m1", "m2"] {
        assert_eq!(inspect(&env, n, "{{.State.Status}}"), "running", "{n}");
    }
    let pod_state = env.ok(["pod", "inspect", "--format", "{{.State}}", "duo"]);
    assert_eq!(pod_state.trim(), "Running");
    assert_eq!(env.ok(["pod", "stop", "-t", "5", "duo"]), pod_id);
    for n in ["m1", "m2"] {
        assert_eq!(inspect(&env, n, "{{.State.Status}}"), "exited", "{n}");
        assert_eq!(inspect(&env, n, "{{.State.ExitCode}}"), "0", "{n}");
    }
    // And once more, then kill.
    env.ok(["pod", "start", "duo"]);
    env.ok(["pod", "kill", "duo"]);
    for n in ["m1", "m2"] {
        assert_eq!(env.ok(["wait", n]).trim(), "137", "{n}");
    }
    assert_no_lock_held(&env);
    assert_system_check_clean(&env);
}

#[test]
fn twenty_containers_started_and_stopped_by_parallel_processes() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    std::thread::scope(|s| {
        for p in 0..4 {
            let env = &env;
            let rootfs = &rootfs;
            s.spawn(move || {
                // Even processes stop with the stop signal (exit 0), odd
                // ones with an immediate SIGKILL (exit 137).
                let (cmd, timeout): (&[&str], &str) = if p % 2 == 0 {
                    (&["sh", "-c", TRAPPING_LOOP], "10")
                } else {
                    (&["sleep", "1000"], "0")
                };
                let names: Vec<String> = (0..5).map(|i| format!("par{p}_{i}")).collect();
                for n in &names {
                    let mut args = vec!["run", "-d", "--name", n, "--rootfs", rootfs];
                    args.extend(cmd);
                    env.ok(&args);
                }
                for n in &names {
                    env.ok(["ps"]);
                    assert_eq!(env.ok(["stop", "-t", timeout, n]).trim(), *n);
                }
            });
        }
    });
    let rows = env.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 20, "ps -a: {rows:?}");
    for r in &rows {
        let odd = ["par1_", "par3_"].iter().any(|p| r.starts_with(p));
        let want = if odd { "Exited (137)" } else { "Exited (0)" };
        assert!(r.contains(want), "row {r:?}, want {want}");
    }
    assert_eq!(env.ok(["ps", "-q"]), "");
    assert_system_check_clean(&env);
    assert_no_lock_held(&env);
    let l = locks(&env);
    assert_eq!(l["allocated"].as_object().map(|m| m.len()), Some(20), "{l}");
}

#[test]
fn killing_an_attached_run_leaves_the_container_running_and_no_lock_held() {
    require_containers!();
    let env = TestEnv::new();
    let go = env.rootfs().join("go");
    let rootfs = rootfs(&env);
    let mut run = spawn(
        &env,
        &[
            "run",
            "--name",
            "orphan",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "echo up; while [ ! -e /go ]; do sleep 0.05; done; exit 9",
        ],
    );
    poll("the container to run", || {
        ps_status(&env, false, "orphan").filter(|s| s.starts_with("Up"))
    });
    run.kill().expect("kill oxpod run");
    let _ = run.wait();
    // The container outlives the client; nothing stays locked.
    assert_no_lock_held(&env);
    assert_eq!(inspect(&env, "orphan", "{{.State.Status}}"), "running");
    std::fs::write(&go, "").expect("write go");
    assert_eq!(env.ok(["wait", "orphan"]), "9\n");
    let id = inspect(&env, "orphan", "{{.Id}}");
    wait_for_cleanup(&env, &id);
    assert_eq!(count_events(&env, &id, "died"), 1);
    assert_eq!(env.ok(["logs", "orphan"]), "up\n");
    assert_system_check_clean(&env);
}

#[test]
fn kill_sends_the_signal_given() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "signalled", &["sh", "-c", TRAPPING_LOOP]);
    env.fails(125, ["kill", "-s", "NOSUCHSIG", "signalled"]);
    assert_eq!(
        env.ok(["kill", "-s", "TERM", "signalled"]).trim(),
        "signalled"
    );
    assert_eq!(env.ok(["wait", "signalled"]), "0\n");
    let kills = events(&env, &["event=kill"]);
    assert_eq!(kills.len(), 1, "kill events: {kills:?}");
    // Signalling or pausing a container that is not running is refused.
    env.fails(125, ["kill", "signalled"]);
    env.fails(125, ["pause", "signalled"]);
    assert_no_lock_held(&env);
}

#[test]
fn commands_on_a_missing_container_fail_with_125() {
    require_containers!();
    let env = TestEnv::new();
    for cmd in [
        "start", "stop", "kill", "wait", "pause", "unpause", "restart", "logs", "inspect",
    ] {
        let err = env.fails(125, [cmd, "nosuchcontainer"]);
        assert!(err.contains("nosuchcontainer"), "{cmd}: {err}");
    }
    // rm is podman's exception: 1 for a missing container.
    let err = env.fails(1, ["rm", "nosuchcontainer"]);
    assert!(err.contains("nosuchcontainer"), "rm: {err}");
}

#[test]
fn pod_stop_stops_every_member_within_one_timeout() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok(["pod", "create", "--infra=false", "--name", "stubborn"]);
    let members = ["s1", "s2", "s3", "s4"];
    for n in members {
        // busybox sleep as pid 1 ignores SIGTERM: each needs the SIGKILL.
        env.ok([
            "create", "--pod", "stubborn", "--name", n, "--rootfs", &rootfs, "sleep", "1000",
        ]);
    }
    env.ok(["pod", "start", "stubborn"]);
    let start = Instant::now();
    env.ok(["pod", "stop", "-t", "2", "stubborn"]);
    let took = start.elapsed();
    for n in members {
        assert_eq!(inspect(&env, n, "{{.State.ExitCode}}"), "137", "{n}");
    }
    // One member after the other would take 4 x 2 s.
    assert!(took < Duration::from_secs(6), "pod stop -t 2 took {took:?}");
    assert_system_check_clean(&env);
}

#[test]
fn a_container_whose_conmon_died_can_still_be_stopped_waited_for_and_removed() {
    require_containers!();
    let env = TestEnv::new();
    for n in ["orphan1", "orphan2", "orphan3"] {
        run_detached(&env, n, &["sleep", "1000"]);
        let conmon = inspect(&env, n, "{{.State.ConmonPid}}");
        assert!(conmon.parse::<u32>().is_ok_and(|p| p > 1), "{conmon:?}");
        let st = std::process::Command::new("kill")
            .args(["-9", &conmon])
            .status()
            .expect("kill");
        assert!(st.success());
        poll("conmon to die", || (!pid_alive(&conmon)).then_some(()));
    }
    // No exit file will ever come from conmon: the exit is unknown (-1).
    let stop = spawn(&env, &["stop", "-t", "1", "orphan1"]);
    assert!(wait_child(stop, "stop").status.success());
    assert_eq!(inspect(&env, "orphan1", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, "orphan1", "{{.State.ExitCode}}"), "-1");

    let pid = inspect(&env, "orphan2", "{{.State.Pid}}");
    // Several waiters notice the dead conmon at once.
    let waits: Vec<Child> = (0..3).map(|_| spawn(&env, &["wait", "orphan2"])).collect();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    for wait in waits {
        let out = wait_child(wait, "wait");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "-1\n");
    }

    let id3 = inspect(&env, "orphan3", "{{.Id}}");
    let lock3 = inspect(&env, "orphan3", "{{.LockNumber}}");
    let rm = spawn(&env, &["rm", "-f", "orphan3"]);
    assert!(wait_child(rm, "rm -f").status.success());
    assert_nothing_left(&env, &id3, Some(&lock3));
    for n in ["orphan1", "orphan2"] {
        let id = inspect(&env, n, "{{.Id}}");
        assert_eq!(count_events(&env, &id, "died"), 1, "{n}");
    }
    assert_system_check_clean(&env);
}

#[test]
fn signals_to_an_attached_run_reach_the_container() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    let run = spawn(
        &env,
        &[
            "run",
            "--rm",
            "--name",
            "proxied",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "trap 'echo got INT; exit 5' INT; echo ready; while true; do sleep 0.1; done",
        ],
    );
    poll("the container to run", || {
        ps_status(&env, false, "proxied").filter(|s| s.starts_with("Up"))
    });
    let id = inspect(&env, "proxied", "{{.Id}}");
    // Ctrl-C: the container's trap answers, `run` reports its exit code
    // and, being --rm, removes it.
    let st = std::process::Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let out = wait_child(run, "run");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\ngot INT\n");
    assert_nothing_left(&env, &id, None);
}

#[test]
fn a_paused_container_being_stopped_shows_running_while_stop_waits() {
    require_containers!();
    let env = TestEnv::new();
    run_detached(&env, "thawed", &["sleep", "1000"]);
    env.ok(["pause", "thawed"]);
    // sleep ignores SIGTERM: stop resumes it to deliver the signal, then
    // waits out the timeout before SIGKILL.
    let stop = spawn(&env, &["stop", "-t", "3", "thawed"]);
    poll("stop to resume the container", || {
        (inspect(&env, "thawed", "{{.State.Status}}") != "paused").then_some(())
    });
    // Seen well before the SIGKILL 3 s later (it was "paused" until exit).
    assert_eq!(inspect(&env, "thawed", "{{.State.Status}}"), "running");
    assert!(wait_child(stop, "stop").status.success());
    assert_eq!(inspect(&env, "thawed", "{{.State.ExitCode}}"), "137");
    // Pause, unpause and stop work on it again after a restart.
    env.ok(["start", "thawed"]);
    env.ok(["pause", "thawed"]);
    env.ok(["unpause", "thawed"]);
    env.ok(["stop", "-t", "0", "thawed"]);
}

#[test]
fn a_container_made_with_runtime_by_path_starts_later_without_the_flag() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = rootfs(&env);
    env.ok([
        "--runtime",
        "/usr/sbin/runc",
        "create",
        "--name",
        "bypath",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    // fault-findings 13: only the file name was stored, and a plain start
    // said "uses OCI runtime \"runc\"... not configured" for other paths.
    env.ok(["start", "bypath"]);
    assert_eq!(inspect(&env, "bypath", "{{.State.Status}}"), "running");
    env.ok(["rm", "-f", "bypath"]);
    let err = env.fails(125, ["create", "--rootfs", "/", "true"]);
    assert!(err.contains("host's root directory"), "{err}");
}
