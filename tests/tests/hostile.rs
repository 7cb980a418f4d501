//! Files planted by another user (fault-findings 3, 12): a second user,
//! made with `useradd` for the test and removed after, creates the lock
//! segment and the static dir first; root's oxpod refuses both, naming the
//! owner and the remedy, and never uses them.

use std::os::unix::process::CommandExt;
use std::process::Stdio;

use oxpod_tests::{TestEnv, require_containers};

/// A user of its own for one test, deleted on drop.
struct User {
    name: String,
    uid: u32,
}

impl User {
    fn new() -> Option<User> {
        let name = format!("oxpt{}", std::process::id() % 100_000);
        let add = || {
            std::process::Command::new("useradd")
                .args(["--no-create-home", "--shell", "/usr/sbin/nologin", &name])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        // A run that was killed may have left the user behind.
        if !add() {
            let _ = std::process::Command::new("userdel").arg(&name).status();
            if !add() {
                return None;
            }
        }
        let out = std::process::Command::new("id")
            .args(["-u", &name])
            .output()
            .ok()?;
        let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        Some(User { name, uid })
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel")
            .arg(&self.name)
            .status();
    }
}

#[test]
fn a_segment_or_static_dir_planted_by_another_user_is_refused() {
    require_containers!();
    let Some(user) = User::new() else {
        assert!(!oxpod_tests::under_ci(), "useradd failed under CI");
        eprintln!("skipped: cannot create a user");
        return;
    };
    let env = TestEnv::new();
    // The other user runs oxpod first with the same segment name, in dirs
    // of their own: the segment is theirs (mode 0600, their uid).
    let theirs = tempfile::tempdir().expect("dir");
    std::os::unix::fs::chown(theirs.path(), Some(user.uid), Some(user.uid)).expect("chown");
    let planted = std::process::Command::new(oxpod_tests::oxpod_bin())
        .args(["--root", &theirs.path().join("root").display().to_string()])
        .args([
            "--runroot",
            &theirs.path().join("run").display().to_string(),
        ])
        .args(["--lock-name", &env.lock_name, "info"])
        .env("HOME", theirs.path())
        .uid(user.uid)
        .gid(user.uid)
        .output()
        .expect("run as the other user");
    assert!(planted.status.success(), "{planted:?}");
    let shm = format!("/dev/shm{}", env.lock_name);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&shm).expect("segment"));
    assert_eq!(owner, user.uid, "the other user made the segment");
    // Root refuses it, naming the owner and the remedy.
    let err = env.fails(125, ["ps", "-a"]);
    assert!(err.contains(&format!("uid {}", user.uid)), "{err}");
    assert!(err.contains("system renumber"), "{err}");
    // The remedy works: renumber replaces it with root's own.
    env.ok(["system", "renumber"]);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&shm).expect("segment"));
    assert_eq!(owner, 0);
    env.ok(["ps", "-a"]);

    // A static dir the other user made before root's first command.
    let env2 = TestEnv::new();
    std::fs::create_dir_all(env2.root()).expect("root dir");
    std::os::unix::fs::chown(env2.root(), Some(user.uid), Some(user.uid)).expect("chown");
    let err = env2.fails(125, ["ps", "-a"]);
    assert!(
        err.contains("static dir") && err.contains(&format!("uid {}", user.uid)),
        "{err}"
    );
}
