//! oxpod-tests: helpers for the end-to-end tests in `tests/tests/`, which
//! drive the built `oxpod` binary with real runc and conmon, each test in its
//! own directories with its own lock-segment name.
//!
//! `TestEnv::new()` makes a temp dir holding the static dir, the tmp dir and
//! a busybox rootfs, and picks a lock-segment name no other test uses; its
//! drop removes the segment. Nothing here touches `/var/lib/oxpod`,
//! `/run/oxpod` or `/dev/shm/oxpod_lock`.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The applets linked into a test rootfs.
const APPLETS: &[&str] = &["sh", "echo", "sleep", "true", "cat", "ls"];

/// The `oxpod` binary under test: `$OXPOD_BIN`, else `target/<profile>/oxpod`
/// next to this test executable (`cargo xtask ci` builds it first).
pub fn oxpod_bin() -> PathBuf {
    let bin = find_oxpod_bin();
    assert!(
        bin.is_file(),
        "{} not found: build it first with `cargo build -p oxpod` (`cargo xtask ci` does)",
        bin.display()
    );
    bin
}

fn find_oxpod_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("OXPOD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/e2e-<hash> -> target/debug/oxpod
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .join("oxpod")
}

pub use oxpod_test_support::{is_root, under_ci};

/// Returns `Some(reason)` when real containers cannot run here (not root, or
/// runc, conmon or busybox missing). Under CI that is a test failure.
pub fn missing_components() -> Option<String> {
    oxpod_test_support::missing_container_tools()
}

/// Skips the calling test (returns) when real containers cannot run here.
#[macro_export]
macro_rules! require_containers {
    () => {
        if let Some(reason) = $crate::missing_components() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

/// One test's private oxpod world.
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    /// Lock-segment name, unique to this test (`/oxpod_test_<pid>_<n>`).
    pub lock_name: String,
    /// Extra global flags given to every command.
    pub extra: Vec<String>,
    /// The `--cgroup-manager` given to every command; `None` gives none,
    /// so the configuration decides.
    pub cgroup_manager: Option<String>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh env with a busybox rootfs when busybox is installed.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("oxpod-e2e-")
            .tempdir()
            .expect("temp dir");
        let env = Self {
            dir,
            lock_name: oxpod_test_support::unique("/oxpod_test"),
            extra: Vec::new(),
            cgroup_manager: Some("cgroupfs".to_owned()),
        };
        if Path::new("/usr/bin/busybox").exists() {
            env.build_rootfs().expect("build rootfs");
        }
        env
    }

    /// The temp dir holding everything of this env.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `--root`.
    pub fn root(&self) -> PathBuf {
        self.path().join("root")
    }
    /// `--runroot`.
    pub fn runroot(&self) -> PathBuf {
        self.path().join("run")
    }
    /// The busybox rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    fn build_rootfs(&self) -> std::io::Result<()> {
        let bin = self.rootfs().join("bin");
        std::fs::create_dir_all(&bin)?;
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(self.rootfs().join(d))?;
        }
        std::fs::copy("/usr/bin/busybox", bin.join("busybox"))?;
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(a))?;
        }
        std::fs::write(self.rootfs().join("etc/passwd"), "root:x:0:0::/:/bin/sh\n")?;
        std::fs::write(self.rootfs().join("etc/notexec"), "not a program\n")?;
        Ok(())
    }

    /// An `oxpod` command with this env's global flags.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(oxpod_bin());
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot())
            .arg("--lock-name")
            .arg(&self.lock_name);
        if let Some(m) = &self.cgroup_manager {
            c.arg("--cgroup-manager").arg(m);
        }
        c.arg("--network-config-dir")
            .arg(self.path().join("networks"))
            .args(&self.extra)
            .args(args)
            // Containers share the host's network unless a test asks for
            // one (tests/tests/network.rs, in a private network namespace):
            // a bridge here would edit the machine's firewall.
            .env("OXPOD_CONFIG", self.base_config())
            .env("XDG_CONFIG_HOME", self.path().join("xdg-config"))
            .stdin(Stdio::null());
        c
    }

    /// The configuration every command of this env reads first
    /// (`OXPOD_CONFIG`): `netns = "host"`.
    pub fn base_config(&self) -> PathBuf {
        let path = self.path().join("oxpod-test.conf");
        if !path.exists() {
            std::fs::write(&path, "netns = \"host\"\n").expect("write the test config");
        }
        path
    }

    /// Runs `oxpod ARGS` and returns its output, whatever its exit code.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).output().expect("spawn oxpod")
    }

    /// Runs `oxpod ARGS`, asserts success, returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.cmd(args).output().expect("spawn oxpod");
        assert!(
            out.status.success(),
            "oxpod failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `oxpod ARGS`, asserts it fails with `code`, returns stderr.
    pub fn fails<I, S>(&self, code: i32, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.cmd(args).output().expect("spawn oxpod");
        assert_eq!(
            out.status.code(),
            Some(code),
            "expected exit {code}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `run --rm ARGS --rootfs <its rootfs> sh -c SCRIPT`: the exit code,
    /// stdout and stderr.
    pub fn sh(&self, args: &[&str], script: &str) -> (Option<i32>, String, String) {
        let rootfs = self.rootfs().display().to_string();
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend(["--rootfs", &rootfs, "sh", "-c", script]);
        let out = self.run(all);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `create ARGS --rootfs <its rootfs> true` is refused with 125 and a
    /// message holding `want`.
    #[track_caller]
    pub fn create_refused<S: AsRef<str>>(&self, args: &[S], want: &str) {
        let rootfs = self.rootfs().display().to_string();
        let mut all = vec!["create".to_owned()];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        all.extend(["--rootfs".to_owned(), rootfs, "true".to_owned()]);
        let out = self.run(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        let shown: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        assert_eq!(out.status.code(), Some(125), "{shown:?}: {err}");
        assert!(err.contains(want), "{shown:?}: {err}");
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Without a binary nothing ran (the test failed saying so): do not
        // panic again while unwinding.
        if !find_oxpod_bin().is_file() {
            return;
        }
        // Best effort: stop what this test left running, then drop the segment.
        let _ = self
            .cmd(["rm", "-a", "-f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // conmon and its exit command (`oxpod ... container cleanup`) may
        // still run for containers that exited: the cleanup would make the
        // segment again after we removed it. Wait (a while) for them.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.processes().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let shm = Path::new("/dev/shm").join(self.lock_name.trim_start_matches('/'));
        let _ = std::fs::remove_file(shm);
    }
}

impl TestEnv {
    /// Pids of processes other than this one with this env's lock-segment
    /// name as an argument: conmon (in its exit-command arguments) and oxpod
    /// commands, such as the exit command itself.
    pub fn processes(&self) -> Vec<u32> {
        let me = std::process::id();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    c.split(|b| *b == 0)
                        .any(|arg| arg == self.lock_name.as_bytes())
                })
            })
            .collect()
    }
}
