//! Lifecycle tests against the real runc and conmon, from a busybox root
//! filesystem. They need root; they print "skipped: ..." otherwise (and
//! fail under `CI=true`). Every test keeps runc's state (`--root`), the
//! bundles, exit files and logs in its own temp dir, uses unique ids, and
//! force-deletes its containers on the way out, even on failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::test_support::{CONMON, RUNC, busybox_rootfs, have_real_tools};
use crate::{
    BundlePaths, Conmon, ContainerSpec, CreateOptions, Created, Error, LogOptions, LogStream,
    OciRuntime, Result, RuntimeStatus, generate_spec, read_exit_file, read_log, wait_exit_file,
    write_bundle,
};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

struct Fixture {
    dir: tempfile::TempDir,
    cgroup_parent: String,
    rootfs: PathBuf,
    runtime: OciRuntime,
    conmon: Conmon,
    ids: Vec<String>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for id in &self.ids {
            if let Err(e) = self.runtime.delete(id, true) {
                match e {
                    Error::NoSuchContainer { .. } => {}
                    other => eprintln!("cleanup of {id}: {other}"),
                }
            }
        }
        // runc removes the container's cgroup but not our parent.
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for entry in entries.flatten() {
                let dir = entry
                    .path()
                    .join(self.cgroup_parent.trim_start_matches('/'));
                if dir.is_dir()
                    && let Err(e) = std::fs::remove_dir(&dir)
                {
                    eprintln!("cleanup of {}: {e}", dir.display());
                }
            }
        }
    }
}

impl Fixture {
    fn new() -> Option<Fixture> {
        if !have_real_tools() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let rootfs = busybox_rootfs(dir.path());
        let runtime = OciRuntime::new("runc", RUNC).with_root(dir.path().join("runc-root"));
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Some(Fixture {
            cgroup_parent: format!("/oxpod-test-{}-{n}", std::process::id()),
            rootfs,
            runtime,
            conmon: Conmon::new(CONMON),
            dir,
            ids: Vec::new(),
        })
    }

    fn new_id(&mut self, what: &str) -> String {
        let id = format!(
            "oxpod-t-{what}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.push(id.clone());
        id
    }

    fn exit_dir(&self) -> PathBuf {
        self.dir.path().join("exits")
    }

    fn bundle(&self, id: &str) -> PathBuf {
        self.dir.path().join("b").join(id)
    }

    fn spec(&self, id: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: id.to_owned(),
            rootfs: self.rootfs.clone(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            cgroup_parent: Some(self.cgroup_parent.clone()),
            ..Default::default()
        }
    }

    fn options(&self, id: &str) -> CreateOptions<'_> {
        let paths = BundlePaths::new(self.bundle(id));
        CreateOptions {
            id: id.to_owned(),
            name: format!("name-{id}"),
            bundle_dir: paths.dir,
            runtime: &self.runtime,
            exit_dir: self.exit_dir(),
            log_path: paths.log,
            pid_file: paths.pid_file,
            conmon_pid_file: paths.conmon_pid_file,
            socket_dir: self.dir.path().join("socket"),
            log_level: "info".into(),
            exit_command: None,
            terminal: false,
            stdin: false,
            settings: Default::default(),
            hold: &[],
        }
    }

    fn create_with(&self, spec: &ContainerSpec, opts: &CreateOptions<'_>) -> Result<Created> {
        write_bundle(&opts.bundle_dir, &generate_spec(spec)?)?;
        self.conmon.create(opts)
    }

    fn create(&self, id: &str, args: &[&str]) -> Result<Created> {
        self.create_with(&self.spec(id, args), &self.options(id))
    }

    fn wait_exit(&self, id: &str) -> Option<i32> {
        wait_exit_file(&self.exit_dir(), id, Some(Duration::from_secs(20))).unwrap()
    }
}

fn fd_target(pid: i32, fd: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
}

#[test]
fn generated_spec_is_accepted_by_runc_run() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("run");
    let spec = generate_spec(&fx.spec(&id, &["sh", "-c", "echo ok; exit 0"])).unwrap();
    let bundle = fx.bundle(&id);
    write_bundle(&bundle, &spec).unwrap();
    let out = Command::new(RUNC)
        .args(fx.runtime.global_args(false))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn sleep_container_full_lifecycle() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("sleep");
    let created = fx.create(&id, &["sleep", "60"]).unwrap();
    assert!(created.pid > 0);
    assert!(created.conmon_pid > 0);
    assert_ne!(created.pid, created.conmon_pid);

    // The state is in our temp dir, not the host's runc root.
    assert!(
        fx.dir
            .path()
            .join("runc-root")
            .join(&id)
            .join("state.json")
            .exists()
    );

    // conmon holds none of our pipes: its stdio is /dev/null.
    for fd in [0, 1] {
        assert_eq!(
            fd_target(created.conmon_pid, fd).as_deref(),
            Some(Path::new("/dev/null")),
            "conmon fd {fd}"
        );
    }
    let fd2 = fd_target(created.conmon_pid, 2).unwrap_or_default();
    assert!(
        !fd2.to_string_lossy().starts_with("pipe:"),
        "conmon stderr {fd2:?}"
    );

    let st = fx.runtime.state(&id).unwrap();
    assert_eq!(st.status_kind(), RuntimeStatus::Created);
    assert_eq!(st.pid, Some(created.pid));
    assert_eq!(st.id, id);

    fx.runtime.start(&id).unwrap();
    assert_eq!(
        fx.runtime.state(&id).unwrap().status_kind(),
        RuntimeStatus::Running
    );

    fx.runtime.pause(&id).unwrap();
    assert_eq!(
        fx.runtime.state(&id).unwrap().status_kind(),
        RuntimeStatus::Paused
    );
    fx.runtime.resume(&id).unwrap();
    assert_eq!(
        fx.runtime.state(&id).unwrap().status_kind(),
        RuntimeStatus::Running
    );
    assert_eq!(read_exit_file(&fx.exit_dir(), &id).unwrap(), None);

    fx.runtime.kill(&id, 9, false).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(137));
    assert_eq!(
        fx.runtime.state(&id).unwrap().status_kind(),
        RuntimeStatus::Stopped
    );

    fx.runtime.delete(&id, false).unwrap();
    assert!(matches!(
        fx.runtime.state(&id),
        Err(Error::NoSuchContainer { .. })
    ));
    // Errors carry runc's own words, not "exit status 1".
    match fx.runtime.start(&id) {
        Err(Error::NoSuchContainer { message, .. }) => {
            assert!(message.contains("does not exist"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn exit_code_and_logs() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("exit3");
    fx.create(
        &id,
        &[
            "sh",
            "-c",
            "echo hello; echo oops >&2; printf partial; exit 3",
        ],
    )
    .unwrap();
    fx.runtime.start(&id).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(3));

    let mut lines = Vec::new();
    read_log(
        &fx.bundle(&id).join("ctr.log"),
        &LogOptions::default(),
        || false,
        |l| {
            lines.push((l.stream, l.text));
            true
        },
    )
    .unwrap();
    assert!(
        lines.contains(&(LogStream::Stdout, "hello".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(LogStream::Stderr, "oops".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(LogStream::Stdout, "partial".to_owned())),
        "{lines:?}"
    );
    fx.runtime.delete(&id, false).unwrap();
}

#[test]
fn force_delete_and_kill_all() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("force");
    fx.create(&id, &["sleep", "60"]).unwrap();
    fx.runtime.start(&id).unwrap();
    // A plain delete of a running container is refused with runc's reason.
    match fx.runtime.delete(&id, false) {
        Err(Error::Runtime { message, .. }) => assert!(!message.is_empty()),
        other => panic!("unexpected {other:?}"),
    }
    fx.runtime.delete(&id, true).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(137));

    let id2 = fx.new_id("killall");
    fx.create(&id2, &["sleep", "60"]).unwrap();
    fx.runtime.start(&id2).unwrap();
    fx.runtime.kill(&id2, 9, true).unwrap();
    assert_eq!(fx.wait_exit(&id2), Some(137));
}

#[test]
fn missing_command_is_command_not_found() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("nocmd");
    match fx.create(&id, &["/bin/nonexistent"]) {
        Err(e @ Error::CommandNotFound { .. }) => {
            assert_eq!(e.exit_code(), Some(127));
            assert!(e.to_string().contains("/bin/nonexistent"), "{e}");
        }
        other => panic!("expected CommandNotFound, got {other:?}"),
    }
    assert_eq!(read_exit_file(&fx.exit_dir(), &id).unwrap(), None);
}

#[test]
fn non_executable_file_is_permission_denied() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("noexec");
    let target = fx.rootfs.join("etc/not-executable");
    std::fs::write(&target, "#!/bin/sh\necho hi\n").unwrap();
    match fx.create(&id, &["/etc/not-executable"]) {
        Err(e @ Error::PermissionDenied { .. }) => {
            assert_eq!(e.exit_code(), Some(126));
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[test]
fn conmon_failure_carries_a_message() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("badrootfs");
    let mut spec = fx.spec(&id, &["true"]);
    spec.rootfs = fx.dir.path().join("no-such-rootfs");
    let mut opts = fx.options(&id);
    opts.log_level = String::new();
    let err = fx.create_with(&spec, &opts).unwrap_err();
    match &err {
        Error::Conmon { message, .. } => {
            assert!(!message.is_empty());
            assert!(!message.contains("exit status 1"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.exit_code(), None);
}

#[test]
fn terminal_container_runs_and_logs() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("tty");
    let mut spec = fx.spec(&id, &["sh", "-c", "echo on-a-tty; exit 4"]);
    spec.terminal = true;
    let mut opts = fx.options(&id);
    opts.terminal = true;
    fx.create_with(&spec, &opts).unwrap();
    fx.runtime.start(&id).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(4));
    let mut text = String::new();
    read_log(
        &opts.log_path,
        &LogOptions::default(),
        || false,
        |l| {
            text.push_str(&l.text);
            true
        },
    )
    .unwrap();
    assert!(text.contains("on-a-tty"), "{text:?}");
}

#[test]
fn relative_paths_are_resolved_against_our_cwd() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("relpaths");
    let mut opts = fx.options(&id);
    // Express the exit dir relative to the current directory.
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(&fx.exit_dir(), &cwd);
    opts.exit_dir = rel.clone();
    fx.create_with(&fx.spec(&id, &["true"]), &opts).unwrap();
    fx.runtime.start(&id).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(0));
    assert_eq!(read_exit_file(&rel, &id).unwrap(), Some(0));
}

/// `target` relative to `base` (both absolute), with `..` as needed.
fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

const CHILD_DIR: &str = "OXPOD_OCIRUNTIME_TEST_CHILD_DIR";
const CHILD_ID: &str = "OXPOD_OCIRUNTIME_TEST_CHILD_ID";

/// Child half of `caller_can_exit_while_container_runs`: create and start a
/// container the way `oxpod run -d` would, print its pid, and exit.
fn detached_child(dir: &Path, id: &str) {
    let runtime = OciRuntime::new("runc", RUNC).with_root(dir.join("runc-root"));
    let bundle = dir.join("b").join(id);
    let paths = BundlePaths::new(&bundle);
    let spec = ContainerSpec {
        id: id.to_owned(),
        rootfs: dir.join("rootfs"),
        args: vec!["sleep".into(), "60".into()],
        cgroup_parent: Some(format!("/oxpod-test-child-{id}")),
        ..Default::default()
    };
    write_bundle(&bundle, &generate_spec(&spec).unwrap()).unwrap();
    let created = Conmon::new(CONMON)
        .create(&CreateOptions {
            id: id.to_owned(),
            name: id.to_owned(),
            bundle_dir: paths.dir,
            runtime: &runtime,
            exit_dir: dir.join("exits"),
            log_path: paths.log,
            pid_file: paths.pid_file,
            conmon_pid_file: paths.conmon_pid_file,
            socket_dir: dir.join("socket"),
            log_level: "error".into(),
            exit_command: None,
            terminal: false,
            stdin: false,
            settings: Default::default(),
            hold: &[],
        })
        .unwrap();
    runtime.start(id).unwrap();
    println!("container-pid={}", created.pid);
}

#[test]
fn caller_can_exit_while_container_runs() {
    if let (Ok(dir), Ok(id)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ID)) {
        detached_child(Path::new(&dir), &id);
        return;
    }
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("detach");
    // The child puts the container under this parent; the fixture removes it.
    fx.cgroup_parent = format!("/oxpod-test-child-{id}");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lifecycle_tests::caller_can_exit_while_container_runs",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, fx.dir.path())
        .env(CHILD_ID, &id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the child's stdout and stderr to EOF, as a shell or CI runner
    // does: this only ends if conmon kept none of these pipes.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err));
    });
    let (out, err) = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(v) => v,
        Err(_) => {
            let _ = child.kill();
            panic!("the caller's output pipes stayed open after it exited");
        }
    };
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {out}\n{err}");
    let pid: i32 = out
        .lines()
        .find_map(|l| l.split_once("container-pid=").map(|(_, p)| p))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in child output: {out}\n{err}"));
    // The container outlived the process that started it.
    let st = fx.runtime.state(&id).unwrap();
    assert_eq!(st.status_kind(), RuntimeStatus::Running);
    assert_eq!(st.pid, Some(pid));
    fx.runtime.delete(&id, true).unwrap();
    assert_eq!(fx.wait_exit(&id), Some(137));
}

#[test]
fn conmon_own_error_is_reported() {
    let Some(mut fx) = Fixture::new() else { return };
    let id = fx.new_id("badlevel");
    let mut opts = fx.options(&id);
    opts.log_level = "bogus".into();
    match fx.create_with(&fx.spec(&id, &["true"]), &opts) {
        Err(Error::Conmon { message, .. }) => {
            assert!(message.contains("No such log level bogus"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The scratch stderr file is gone.
    assert!(!fx.bundle(&id).join("conmon.stderr").exists());
}
