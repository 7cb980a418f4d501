//! Multi-process tests: the test binary re-executes itself on the ignored
//! entry point [`child_hook`] with a role (`oxpod_test_support::child`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::*;

const DIR: &str = "OXPOD_STATE_DIR";
const ARG: &str = "OXPOD_STATE_ARG";

fn spawn(role: &str, dir: &Path, arg: &str) -> Command {
    let mut cmd = oxpod_test_support::child::command("tests::procs::child_hook", role);
    cmd.env(DIR, dir).env(ARG, arg);
    cmd
}

fn wait_for(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Not a test of its own: the entry point of child processes (ignored in
/// a normal run; run without a role, it fails).
#[test]
#[ignore = "child-process entry point, started by its parent test"]
fn child_hook() {
    let role = oxpod_test_support::child::role();
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let arg = std::env::var(ARG).unwrap_or_default();
    let code = match role.as_str() {
        "race" => child_race(&dir, &arg),
        "loop" => child_loop(&dir),
        "readonly" => child_readonly(&dir),
        other => {
            eprintln!("unknown role {other}");
            99
        }
    };
    std::process::exit(code);
}

/// Opens the state, says it is ready, waits for `go`, adds a container
/// named `same` with id `arg`. Exit 0: added; 10: name in use.
fn child_race(dir: &Path, id: &str) -> i32 {
    let mut s = match LmdbState::open(dir, &LmdbOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open: {e}");
            return 20;
        }
    };
    let _ = std::fs::write(dir.join(format!("ready-{id}")), b"");
    if !wait_for(&dir.join("go"), Duration::from_secs(20)) {
        return 21;
    }
    match s.add_container(&ctr(id, "same")) {
        Ok(()) => 0,
        Err(Error::NameInUse { .. }) => 10,
        Err(e) => {
            eprintln!("add: {e}");
            22
        }
    }
}

/// Adds containers `0, 1, 2, ...` forever, each depending on the one
/// before and then updated to running; killed by the parent.
fn child_loop(dir: &Path) -> i32 {
    let mut s = match LmdbState::open(dir, &LmdbOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open: {e}");
            return 20;
        }
    };
    for i in 0u64.. {
        let mut c = ctr(&format!("{i:064x}"), &format!("c{i}"));
        if i > 0 {
            c.config.dependencies = vec![format!("{:064x}", i - 1)];
        }
        if let Err(e) = s.add_container(&c) {
            eprintln!("add {i}: {e}");
            return 22;
        }
        let st = ContainerState {
            status: ContainerStatus::Running,
            pid: Some(i as u32 + 1),
            ..Default::default()
        };
        if let Err(e) = s.update_container_state(&c.config.id, &st) {
            eprintln!("update {i}: {e}");
            return 23;
        }
        if i == 20 {
            let _ = std::fs::write(dir.join("progress"), b"");
        }
    }
    0
}

/// Expects opening `dir` to fail with `ReadOnly`. Exit 0 if so.
fn child_readonly(dir: &Path) -> i32 {
    match LmdbState::open(dir, &LmdbOptions::default()) {
        Err(Error::ReadOnly { .. }) => 0,
        Err(e) => {
            eprintln!("wrong error: {e:?}");
            1
        }
        Ok(_) => {
            eprintln!("opened a read-only database for writing");
            2
        }
    }
}

fn finish(child: Child) -> i32 {
    let out = child.wait_with_output().unwrap();
    if !out.stderr.is_empty() {
        eprintln!("child stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.code().unwrap_or(-1)
}

#[test]
fn two_processes_adding_the_same_name_exactly_one_wins() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
        let ids = [rid('a'), rid('b')];
        let children: Vec<Child> = ids
            .iter()
            .map(|id| {
                spawn("race", dir.path(), id)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for id in &ids {
            assert!(wait_for(
                &dir.path().join(format!("ready-{id}")),
                Duration::from_secs(20)
            ));
        }
        std::fs::write(dir.path().join("go"), b"").unwrap();
        let mut codes: Vec<i32> = children.into_iter().map(finish).collect();
        codes.sort();
        assert_eq!(codes, vec![0, 10], "round {round}");
        let s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
        let all = s.all_containers().unwrap().items;
        assert_eq!(all.len(), 1);
        assert_eq!(s.lookup_container("same").unwrap(), all[0]);
        check_integrity(&s.store.dump().unwrap());
    }
}

#[test]
fn sigkilled_writer_leaves_every_committed_record_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn("loop", dir.path(), "")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(&dir.path().join("progress"), Duration::from_secs(30)),
        "child made no progress"
    );
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL, likely in the middle of a transaction
    child.wait().unwrap();

    let mut s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    let l = s.all_containers().unwrap();
    assert!(l.skipped.is_empty(), "{:?}", l.skipped);
    let n = l.items.len();
    assert!(n > 20, "only {n} committed");
    for (i, c) in l.items.iter().enumerate() {
        // Committed in order, so exactly 0..n exist, complete.
        assert_eq!(c.config.id, format!("{i:064x}"));
        assert_eq!(c.config, ctr_with_dep(i as u64).config);
        let by_name = s.lookup_container(&format!("c{i}")).unwrap();
        assert_eq!(&by_name, c);
    }
    check_integrity(&s.store.dump().unwrap());
    // The write lock held by the dead child is recovered.
    s.add_container(&ctr(&rid('z'), "after-kill")).unwrap();
}

fn ctr_with_dep(i: u64) -> Container {
    let mut c = ctr(&format!("{i:064x}"), &format!("c{i}"));
    if i > 0 {
        c.config.dependencies = vec![format!("{:064x}", i - 1)];
    }
    c
}

#[test]
fn read_only_database_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let dir = tempfile::tempdir().unwrap();
    make_world_readable(dir.path());
    // One existing database and one not yet created, both read-only.
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    LmdbState::open(&existing, &LmdbOptions::default())
        .unwrap()
        .add_container(&ctr(&rid('1'), "test1"))
        .unwrap();
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let ro = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    for f in ["data.mdb", "lock.mdb"] {
        ro(&existing.join("state").join(f), 0o444).unwrap();
    }
    ro(&existing.join("state"), 0o555).unwrap();
    ro(&existing, 0o555).unwrap();
    ro(&fresh, 0o555).unwrap();

    // Root ignores permission bits, so run the child as `nobody` then.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    for target in [&existing, &fresh] {
        let mut cmd = spawn("readonly", target, "");
        if root {
            cmd.uid(65534).gid(65534);
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(finish(child), 0, "{}", target.display());
    }
    for p in [&existing, &existing.join("state"), &fresh] {
        ro(p, 0o755).unwrap();
    }
}

/// Lets an unprivileged child reach the temp dir.
fn make_world_readable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}
