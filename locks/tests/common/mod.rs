//! Helpers shared by the integration tests: unique segment names removed on
//! drop, child processes that re-execute the test binary, and a tracing
//! capture.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use oxpod_locks::ShmLockManager;

/// Environment variable telling a re-executed test binary which child role to play.
pub const ROLE: &str = "OXPOD_LOCKS_TEST_ROLE";
/// Segment name passed to a child.
pub const SEGMENT: &str = "OXPOD_LOCKS_TEST_SEGMENT";
/// A file path passed to a child.
pub const FILE: &str = "OXPOD_LOCKS_TEST_FILE";
/// A lock ID passed to a child.
pub const LOCK: &str = "OXPOD_LOCKS_TEST_LOCK";
/// Locks a segment is created with by the multi-process tests.
pub const COUNT: u32 = 64;

/// A unique segment name, unlinked when dropped (also when a test fails).
#[derive(Debug)]
pub struct TestSegment {
    pub name: String,
}

impl TestSegment {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            name: format!("/oxpod_test_{}_{n}", std::process::id()),
        }
    }

    /// The object's path under /dev/shm, for tests that damage it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.name))
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        let _ = ShmLockManager::remove(&self.name);
    }
}

/// True when this process is a child started to play the child role of `test`.
pub fn child_role(test: &str) -> bool {
    std::env::var(ROLE).is_ok_and(|role| role == test)
}

/// Reads a variable a parent set for its child.
pub fn var(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("child started without {key}"))
}

/// A child process running test `test` in its child role; killed on drop.
#[derive(Debug)]
pub struct ChildProc {
    pub child: Child,
    stdout: BufReader<ChildStdout>,
}

impl ChildProc {
    pub fn spawn(test: &str, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().expect("current test binary");
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE, test)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn child test process");
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        Self { child, stdout }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until the child prints a line containing `marker`.
    pub fn wait_for(&mut self, marker: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read child stdout");
            assert!(n > 0, "child exited before printing {marker:?}");
            if line.contains(marker) {
                return;
            }
        }
    }

    /// Waits for the child to exit and asserts it succeeded.
    pub fn finish(mut self) {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        let status = self.child.wait().expect("wait for child");
        assert!(status.success(), "child failed: {status}\n{rest}");
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Says something to the parent (a line on stdout, flushed).
pub fn tell_parent(marker: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{marker}");
    let _ = out.flush();
}

/// Collects what tracing logs, as text.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Runs `f` with every tracing event of this thread written to `self`.
    pub fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
