//! One OCI runtime (runc, crun, ...) and the lifecycle calls made to it
//! directly: start, state, kill, delete, pause, resume. (Create goes
//! through conmon: see [`crate::conmon`].)

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Serialises the spawning of child processes by this crate, so that the
/// inheritable pipe ends made for one conmon are never inherited by another
/// child spawned at the same moment from another thread.
pub(crate) static SPAWN_LOCK: Mutex<()> = Mutex::new(());

pub(crate) fn spawn_locked(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let _guard = SPAWN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cmd.spawn()
}

/// A usable OCI runtime binary and how to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRuntime {
    /// The name it is registered under (`runc`, `crun`, ...).
    pub name: String,
    /// The binary.
    pub path: PathBuf,
    /// Accepts `--log-format=json` (then errors are parsed from JSON).
    pub supports_json: bool,
    /// State directory passed as `--root` (the runtime's default when
    /// `None`), e.g. `<tmp dir>/runtime/<name>`; tests use a temp dir.
    pub root: Option<PathBuf>,
    /// Pass `--systemd-cgroup` (the systemd cgroup manager).
    pub systemd_cgroup: bool,
}

/// What `<runtime> state <id>` reports. Tolerant: unknown fields are
/// ignored, missing ones default, and `status` is kept as text (runc and
/// crun report `paused`, which the OCI spec lacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RuntimeState {
    /// OCI version of the state format.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// `creating`, `created`, `running`, `paused`, `stopped`, ...
    pub status: String,
    /// The container's init pid (0 or absent once stopped).
    pub pid: Option<i32>,
    /// Bundle directory.
    pub bundle: Option<PathBuf>,
    /// Root filesystem (runc).
    pub rootfs: Option<PathBuf>,
    /// Creation time as the runtime printed it (RFC 3339).
    pub created: Option<String>,
    /// Owner (runc).
    pub owner: Option<String>,
    /// OCI annotations.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The `status` of a [`RuntimeState`], parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeStatus {
    /// Being created.
    Creating,
    /// Created, waiting for `start`.
    Created,
    /// Running.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Exited.
    Stopped,
    /// A status this crate does not know.
    Other(String),
}

impl RuntimeState {
    /// The parsed status.
    pub fn status_kind(&self) -> RuntimeStatus {
        match self.status.as_str() {
            "creating" => RuntimeStatus::Creating,
            "created" => RuntimeStatus::Created,
            "running" => RuntimeStatus::Running,
            "paused" => RuntimeStatus::Paused,
            "stopped" => RuntimeStatus::Stopped,
            other => RuntimeStatus::Other(other.to_owned()),
        }
    }
}

impl OciRuntime {
    /// A runtime `name` at `path`, with the runtime's own state root, no
    /// JSON logs and the cgroupfs driver.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        OciRuntime {
            name: name.into(),
            path: path.into(),
            supports_json: false,
            root: None,
            systemd_cgroup: false,
        }
    }

    /// Keep the runtime's state under `root` (`--root`).
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Set whether the runtime accepts `--log-format=json`.
    pub fn with_supports_json(mut self, yes: bool) -> Self {
        self.supports_json = yes;
        self
    }

    /// Set whether the runtime is told `--systemd-cgroup`.
    pub fn with_systemd_cgroup(mut self, yes: bool) -> Self {
        self.systemd_cgroup = yes;
        self
    }

    /// Global options placed before every subcommand (`--root`,
    /// `--systemd-cgroup`, `--log-format=json`). conmon gets the same ones
    /// as `--runtime-arg`s.
    pub fn global_args(&self, json: bool) -> Vec<OsString> {
        let mut args = Vec::new();
        if let Some(root) = &self.root {
            args.push(OsString::from("--root"));
            args.push(root.clone().into_os_string());
        }
        if self.systemd_cgroup {
            args.push(OsString::from("--systemd-cgroup"));
        }
        if json && self.supports_json {
            args.push(OsString::from("--log-format=json"));
        }
        args
    }

    /// Creates the `--root` directory if one is set (mode 0700).
    pub(crate) fn ensure_root(&self) -> Result<()> {
        if let Some(root) = &self.root {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(|e| Error::io("creating runtime state directory", root, e))?;
        }
        Ok(())
    }

    fn run(&self, action: &'static str, id: &str, args: &[&str]) -> Result<Output> {
        self.run_with_input(action, id, args, None)
    }

    fn run_with_input(
        &self,
        action: &'static str,
        id: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Output> {
        let mut cmd = Command::new(&self.path);
        cmd.args(self.global_args(true))
            .arg(action)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tracing::debug!(
            "running {} {action} {}",
            self.path.display(),
            args.join(" ")
        );
        let mut child = spawn_locked(&mut cmd).map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            // A runtime that exits early closes its end: its error below
            // says why, not this write's EPIPE.
            let _ = stdin.write_all(bytes);
        }
        let out = child.wait_with_output().map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;
        if out.status.success() {
            return Ok(out);
        }
        let mut message = clean_runtime_message(&String::from_utf8_lossy(&out.stderr));
        if message.is_empty() {
            message = clean_runtime_message(&String::from_utf8_lossy(&out.stdout));
        }
        if message.is_empty() {
            message = format!("exited with {}", out.status);
        }
        if is_no_such_container(&message) {
            return Err(Error::NoSuchContainer {
                runtime: self.name.clone(),
                id: id.to_owned(),
                message,
            });
        }
        if is_not_running(&message) {
            return Err(Error::NotRunning {
                runtime: self.name.clone(),
                id: id.to_owned(),
                message,
            });
        }
        Err(Error::Runtime {
            runtime: self.name.clone(),
            action,
            id: id.to_owned(),
            message,
        })
    }

    /// `start <id>`: runs the process of a created container.
    pub fn start(&self, id: &str) -> Result<()> {
        self.run("start", id, &[id]).map(drop)
    }

    /// `state <id>`, parsed tolerantly.
    pub fn state(&self, id: &str) -> Result<RuntimeState> {
        let out = self.run("state", id, &[id])?;
        parse_state(&out.stdout)
    }

    /// `kill [--all] <id> <signal>`; `signal` is a number (see
    /// [`parse_signal`]).
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        if all {
            self.run("kill", id, &["--all", id, &sig]).map(drop)
        } else {
            self.run("kill", id, &[id, &sig]).map(drop)
        }
    }

    /// `delete [--force] <id>`: removes the runtime's record (and with
    /// `force`, kills a running container first).
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        if force {
            self.run("delete", id, &["--force", id]).map(drop)
        } else {
            self.run("delete", id, &[id]).map(drop)
        }
    }

    /// `update --resources - <id>`: the cgroup limits of a created,
    /// running or paused container, as the spec's `linux.resources` JSON.
    pub fn update(&self, id: &str, resources_json: &[u8]) -> Result<()> {
        self.run_with_input(
            "update",
            id,
            &["--resources", "-", id],
            Some(resources_json),
        )
        .map(drop)
    }

    /// `pause <id>`: freezes the container's processes.
    pub fn pause(&self, id: &str) -> Result<()> {
        self.run("pause", id, &[id]).map(drop)
    }

    /// `resume <id>`: thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        self.run("resume", id, &[id]).map(drop)
    }

    /// `<runtime> --version` with the trailing newline trimmed; empty when
    /// it cannot be run (as podman's `info`). Runs the binary: call only
    /// when asked.
    pub fn version(&self) -> String {
        crate::version::program_version(&self.path, false)
    }
}

fn parse_state(stdout: &[u8]) -> Result<RuntimeState> {
    serde_json::from_slice(stdout).map_err(|e| Error::Parse {
        what: "runtime state output".to_owned(),
        message: e.to_string(),
        text: String::from_utf8_lossy(&stdout[..stdout.len().min(512)]).into_owned(),
    })
}

fn is_not_running(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("container not running")
        || m.contains("is not running")
        || m.contains("no such process")
}

fn is_no_such_container(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("container") && m.contains("does not exist"))
        || (m.contains("error opening file") && m.contains("no such file or directory"))
}

/// Turns a runtime's stderr into the plain message: runc's JSON log lines
/// (`{"level":"error","msg":"..."}`) and logfmt lines
/// (`time=".." level=error msg=".."`) are reduced to their `msg`; other
/// lines are kept; lines are joined with "; ".
pub fn clean_runtime_message(stderr: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let msg = json_msg(line)
            .or_else(|| logfmt_msg(line))
            .unwrap_or_else(|| line.to_owned());
        let msg = msg.trim().to_owned();
        if !msg.is_empty() && !parts.contains(&msg) {
            parts.push(msg);
        }
    }
    parts.join("; ")
}

fn json_msg(line: &str) -> Option<String> {
    if !line.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("msg")
        .or_else(|| v.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
}

fn logfmt_msg(line: &str) -> Option<String> {
    let start = line.find("msg=")? + 4;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                '"' => break,
                c => out.push(c),
            }
        }
        Some(out)
    } else {
        Some(rest.split_whitespace().next().unwrap_or("").to_owned())
    }
}

/// Parses a signal given as a number (`9`), a name (`KILL`, `SIGKILL`,
/// `kill`) into its number.
pub fn parse_signal(text: &str) -> Result<i32> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    } else {
        let upper = t.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        if let Ok(sig) = name.parse::<nix::sys::signal::Signal>() {
            return Ok(sig as i32);
        }
    }
    Err(Error::InvalidSignal {
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parsing_is_tolerant() {
        let runc = br#"{"ociVersion":"1.0.2-dev","id":"abc","pid":1234,"status":"paused","bundle":"/b","rootfs":"/b/rootfs","created":"2026-11-28T20:00:00.1Z","owner":"","newfield":{"x":1}}"#;
        let s = parse_state(runc).unwrap();
        assert_eq!(s.id, "abc");
        assert_eq!(s.pid, Some(1234));
        assert_eq!(s.status_kind(), RuntimeStatus::Paused);
        assert_eq!(s.bundle.as_deref(), Some(std::path::Path::new("/b")));

        let minimal = br#"{"id":"x","status":"weird"}"#;
        let s = parse_state(minimal).unwrap();
        assert_eq!(s.status_kind(), RuntimeStatus::Other("weird".into()));
        assert_eq!(s.pid, None);

        assert!(matches!(parse_state(b"not json"), Err(Error::Parse { .. })));
    }

    #[test]
    fn runtime_messages_cleaned() {
        assert_eq!(
            clean_runtime_message(
                "time=\"2026-11-28T20:25:46Z\" level=error msg=\"container does not exist\"\n"
            ),
            "container does not exist"
        );
        assert_eq!(
            clean_runtime_message(
                "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"x\"}\n"
            ),
            "container does not exist"
        );
        assert_eq!(
            clean_runtime_message("error opening file `/x/status`: No such file or directory\n"),
            "error opening file `/x/status`: No such file or directory"
        );
        assert_eq!(
            clean_runtime_message("level=error msg=\"a \\\"q\\\" b\"\nsecond line\n\n"),
            "a \"q\" b; second line"
        );
        assert_eq!(clean_runtime_message(""), "");
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGHUP").unwrap(), 1);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn global_args() {
        let rt = OciRuntime::new("runc", "/usr/sbin/runc")
            .with_root("/tmp/r")
            .with_systemd_cgroup(true)
            .with_supports_json(true);
        let args: Vec<String> = rt
            .global_args(true)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            ["--root", "/tmp/r", "--systemd-cgroup", "--log-format=json"]
        );
        assert_eq!(OciRuntime::new("runc", "/x").global_args(true).len(), 0);
    }
}
