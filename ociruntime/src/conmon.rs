//! Creating containers through conmon, as podman does: conmon becomes the
//! container's parent, writes its output to a k8s-file log and its exit
//! code to an exit file, and daemonises so the caller can exit.
//!
//! The handshake (see `shared/reference/conmon.md`): two pipes are passed
//! to conmon as inherited descriptors named by `_OCI_SYNCPIPE` and
//! `_OCI_STARTPIPE`; we write a byte to the start pipe, the first conmon
//! process exits 0 after forking the monitor, and the monitor writes one
//! JSON line to the sync pipe: `{"data": <pid>}` or
//! `{"data": -1, "message": "<runtime's error>"}`.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::runtime::{OciRuntime, SPAWN_LOCK, clean_runtime_message};
use crate::watch::{DirWatch, wait_readable};

/// How long to wait for conmon to report the container pid (podman's
/// container create timeout).
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(240);

/// The conmon binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conmon {
    /// Path to conmon (from [`crate::find_conmon`]).
    pub path: PathBuf,
}

/// Everything `create` passes to conmon.
#[derive(Debug, Clone)]
pub struct CreateOptions<'a> {
    /// Container id (`-c`, `-u`).
    pub id: String,
    /// Container name (`-n`).
    pub name: String,
    /// Bundle directory holding `config.json` (`-b`).
    pub bundle_dir: PathBuf,
    /// The OCI runtime conmon runs (`-r`, its `--root` and cgroup driver
    /// passed as `--runtime-arg`).
    pub runtime: &'a OciRuntime,
    /// Where conmon writes `<exit_dir>/<id>` with the exit code.
    pub exit_dir: PathBuf,
    /// The k8s-file log (`-l k8s-file:<path>`).
    pub log_path: PathBuf,
    /// The runtime writes the container pid here (`-p`).
    pub pid_file: PathBuf,
    /// conmon writes its own (monitor) pid here (`--conmon-pidfile`).
    pub conmon_pid_file: PathBuf,
    /// Directory for attach sockets (`--socket-dir-path`).
    pub socket_dir: PathBuf,
    /// conmon's `--log-level` (`debug`, `info`, `warn`, `error`); empty
    /// leaves conmon's default.
    pub log_level: String,
    /// Program and arguments conmon runs after the container exits
    /// (`--exit-command`, `--exit-command-arg`).
    pub exit_command: Option<(PathBuf, Vec<String>)>,
    /// Allocate a terminal (`-t`).
    pub terminal: bool,
    /// Keep stdin open for attach clients (`-i`).
    pub stdin: bool,
    /// The configuration's conmon settings.
    pub settings: ConmonSettings,
    /// Sockets conmon inherits and holds (published ports).
    pub hold: &'a [OwnedFd],
}

/// What the configuration says about every conmon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConmonSettings {
    /// `no_pivot_root`: the runtime uses chroot, not pivot_root
    /// (`--no-pivot`).
    pub no_pivot: bool,
    /// `max_log_size`: conmon rotates the log past this many bytes
    /// (`--log-size-max`); `None` unlimited.
    pub log_size_max: Option<i64>,
    /// `conmon_env_vars`: `KEY=VALUE` entries set in conmon's environment.
    pub env: Vec<String>,
}

/// What a successful create reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The container's init pid (waiting for `start`).
    pub pid: i32,
    /// The conmon monitor's pid.
    pub conmon_pid: i32,
}

#[derive(Debug, Deserialize)]
struct SyncMessage {
    data: i64,
    #[serde(default)]
    message: Option<String>,
}

impl Conmon {
    /// conmon at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Conmon { path: path.into() }
    }

    /// `conmon --version`, first newline turned into ", ", trailing newline
    /// trimmed; empty when it cannot be run. Call only when asked.
    pub fn version(&self) -> String {
        crate::version::program_version(&self.path, true)
    }

    /// The conmon command line for `opts` (without the pipe environment).
    pub fn args(&self, opts: &CreateOptions<'_>) -> Vec<std::ffi::OsString> {
        use std::ffi::OsString;
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(OsString::from(s));
        push("--api-version");
        push("1");
        push("-c");
        push(&opts.id);
        push("-u");
        push(&opts.id);
        push("-n");
        push(&opts.name);
        let mut a2 = a;
        let mut path_arg = |flag: &str, p: &Path| {
            a2.push(OsString::from(flag));
            a2.push(p.as_os_str().to_owned());
        };
        path_arg("-r", &opts.runtime.path);
        path_arg("-b", &opts.bundle_dir);
        path_arg("-p", &opts.pid_file);
        path_arg("--exit-dir", &opts.exit_dir);
        path_arg("--socket-dir-path", &opts.socket_dir);
        path_arg("--conmon-pidfile", &opts.conmon_pid_file);
        let mut a = a2;
        a.push("--full-attach".into());
        let mut log = OsString::from("k8s-file:");
        log.push(opts.log_path.as_os_str());
        a.push("-l".into());
        a.push(log);
        if !opts.log_level.is_empty() {
            a.push("--log-level".into());
            a.push(opts.log_level.clone().into());
        }
        if opts.runtime.systemd_cgroup {
            a.push("-s".into());
        }
        if opts.settings.no_pivot {
            a.push("--no-pivot".into());
        }
        if let Some(max) = opts.settings.log_size_max {
            a.push("--log-size-max".into());
            a.push(max.to_string().into());
        }
        // As podman: a terminal takes input from every attach client and
        // is never closed by one leaving; `-i` (a stdin pipe, closed when
        // its client's input ends) only without one.
        if opts.terminal {
            a.push("-t".into());
        } else if opts.stdin {
            a.push("-i".into());
        }
        for arg in opts.runtime.global_args(false) {
            a.push("--runtime-arg".into());
            a.push(arg);
        }
        if let Some((program, args)) = &opts.exit_command {
            a.push("--exit-command".into());
            a.push(program.clone().into_os_string());
            for arg in args {
                a.push("--exit-command-arg".into());
                a.push(arg.into());
            }
        }
        a
    }

    /// Creates the container through conmon and returns its pid once the
    /// runtime's `create` succeeded; the container then waits for
    /// [`OciRuntime::start`]. conmon gets `/dev/null` for stdin and stdout
    /// (and a scratch file in the bundle for its stderr), so it never holds
    /// a pipe of the caller's open. A failure carries the runtime's
    /// message; a missing or non-executable command gives
    /// [`Error::CommandNotFound`] / [`Error::PermissionDenied`].
    pub fn create(&self, opts: &CreateOptions<'_>) -> Result<Created> {
        self.create_with_timeout(opts, CREATE_TIMEOUT)
    }

    /// [`Conmon::create`] with a custom timeout for conmon's answer.
    pub fn create_with_timeout(
        &self,
        opts: &CreateOptions<'_>,
        timeout: Duration,
    ) -> Result<Created> {
        let absolute = absolute_paths(opts)?;
        let opts = &absolute;
        check_id(&opts.id)?;
        if !opts.bundle_dir.join(BUNDLE_CONFIG).is_file() {
            return Err(Error::MissingBundleConfig {
                dir: opts.bundle_dir.clone(),
            });
        }
        for dir in [&opts.exit_dir, &opts.socket_dir] {
            private_dir(dir)?;
        }
        for file in [&opts.log_path, &opts.pid_file, &opts.conmon_pid_file] {
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .map_err(|e| Error::io("creating directory", parent, e))?;
            }
        }
        opts.runtime.ensure_root()?;
        // A stale exit file or pid file from an earlier run would be
        // mistaken for this one's.
        for stale in [
            exit_file_path(&opts.exit_dir, &opts.id),
            opts.conmon_pid_file.clone(),
        ] {
            match fs::remove_file(&stale) {
                Ok(()) => tracing::debug!("removed stale {}", stale.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("removing stale", stale, e)),
            }
        }

        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| Error::io("creating pipe for", &self.path, std::io::Error::from(e)))
        };
        let (sync_r, sync_w) = pipe()?;
        let (start_r, start_w) = pipe()?;

        let err_path = opts.bundle_dir.join("conmon.stderr");
        let err_file =
            fs::File::create(&err_path).map_err(|e| Error::io("creating", &err_path, e))?;

        let mut cmd = Command::new(&self.path);
        for kv in &opts.settings.env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd.args(self.args(opts))
            .env("_OCI_SYNCPIPE", sync_w.as_raw_fd().to_string())
            .env("_OCI_STARTPIPE", start_r.as_raw_fd().to_string())
            // Our own service-manager hand-offs are not conmon's.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err_file))
            .current_dir(&opts.bundle_dir);
        tracing::debug!(
            "running {} {:?}",
            self.path.display(),
            cmd.get_args().collect::<Vec<_>>()
        );

        let spawned = {
            let _guard = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            // Only conmon's ends become inheritable, and only while the
            // lock keeps every other spawn of this crate out.
            inheritable(&sync_w).and_then(|()| inheritable(&start_r))?;
            for fd in opts.hold {
                inheritable(fd)?;
            }
            let spawned = cmd.spawn();
            drop(sync_w);
            drop(start_r);
            // Ours again only: no later child of this process inherits them.
            for fd in opts.hold {
                let _ = fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
            }
            spawned
        };
        let mut child = spawned.map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;

        let result = self.handshake(opts, &mut child, start_w, sync_r, timeout);
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        if let Err(e) = fs::remove_file(&err_path) {
            tracing::debug!("removing {}: {e}", err_path.display());
        }
        let pid = match result {
            Ok(pid) => pid,
            Err(Error::Conmon { id, message }) if message.is_empty() => {
                let stderr = clean_runtime_message(&stderr);
                return Err(Error::Conmon {
                    id,
                    message: if stderr.is_empty() {
                        "conmon exited without reporting a pid; rerun with --log-level debug".into()
                    } else {
                        stderr
                    },
                });
            }
            Err(e @ Error::Timeout { .. }) => {
                // Do not leave a stuck monitor behind.
                if let Ok(pid) = read_pid_file(&opts.conmon_pid_file) {
                    tracing::warn!("killing conmon {pid} after a create timeout");
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let conmon_pid = read_pid_file(&opts.conmon_pid_file)?;
        tracing::debug!(
            "container {} created: pid {pid}, conmon pid {conmon_pid}",
            opts.id
        );
        Ok(Created { pid, conmon_pid })
    }

    fn handshake(
        &self,
        opts: &CreateOptions<'_>,
        child: &mut std::process::Child,
        start_w: OwnedFd,
        sync_r: OwnedFd,
        timeout: Duration,
    ) -> Result<i32> {
        let deadline = Instant::now() + timeout;
        let mut start = fs::File::from(start_w);
        if let Err(e) = start.write_all(b"0") {
            // conmon died before reading: its exit status tells more.
            tracing::debug!("writing conmon start pipe: {e}");
        }
        drop(start);

        let status = child.wait().map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;
        if !status.success() {
            // Take whatever it managed to say on the sync pipe.
            let said = read_line(&sync_r, Duration::from_millis(200)).unwrap_or_default();
            match parse_sync(&said) {
                Ok(Some(Err(msg))) => {
                    return Err(classify_create_error(&opts.id, clean_runtime_message(&msg)));
                }
                Ok(Some(Ok(pid))) => {
                    tracing::warn!("conmon reported pid {pid} but exited with {status}")
                }
                _ => {}
            }
            return Err(Error::Conmon {
                id: opts.id.clone(),
                message: String::new(),
            });
        }

        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = match read_line(&sync_r, remaining) {
            Ok(l) => l,
            Err(ReadLine::Timeout) => {
                return Err(Error::Timeout {
                    what: format!("conmon to create container {}", opts.id),
                    seconds: timeout.as_secs(),
                });
            }
            Err(ReadLine::Io(e)) => {
                return Err(Error::io(
                    "reading conmon sync pipe for",
                    &opts.bundle_dir,
                    e,
                ));
            }
        };
        if line.trim().is_empty() {
            return Err(Error::Conmon {
                id: opts.id.clone(),
                message: String::new(),
            });
        }
        match parse_sync(&line)? {
            None => Err(Error::Conmon {
                id: opts.id.clone(),
                message: String::new(),
            }),
            Some(Ok(pid)) => Ok(pid),
            Some(Err(msg)) => Err(classify_create_error(&opts.id, clean_runtime_message(&msg))),
        }
    }
}

/// conmon runs in the bundle directory: relative paths are made absolute
/// against our own working directory first, so both sides agree.
fn absolute_paths<'a>(opts: &CreateOptions<'a>) -> Result<CreateOptions<'a>> {
    let abs =
        |p: &PathBuf| std::path::absolute(p).map_err(|e| Error::io("resolving", p.clone(), e));
    Ok(CreateOptions {
        bundle_dir: abs(&opts.bundle_dir)?,
        exit_dir: abs(&opts.exit_dir)?,
        log_path: abs(&opts.log_path)?,
        pid_file: abs(&opts.pid_file)?,
        conmon_pid_file: abs(&opts.conmon_pid_file)?,
        socket_dir: abs(&opts.socket_dir)?,
        ..opts.clone()
    })
}

/// The conventional files of a bundle directory (podman's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePaths {
    /// The bundle directory.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// `ctr.log`, the k8s-file log.
    pub log: PathBuf,
    /// `pidfile`, written by the runtime.
    pub pid_file: PathBuf,
    /// `conmon.pid`, written by conmon.
    pub conmon_pid_file: PathBuf,
}

impl BundlePaths {
    /// The files under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        BundlePaths {
            config: dir.join("config.json"),
            log: dir.join("ctr.log"),
            pid_file: dir.join("pidfile"),
            conmon_pid_file: dir.join("conmon.pid"),
            dir,
        }
    }
}

pub(crate) fn inheritable(fd: &OwnedFd) -> Result<()> {
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(drop)
        .map_err(|e| {
            Error::io(
                "clearing close-on-exec on a pipe for",
                "conmon",
                std::io::Error::from(e),
            )
        })
}

enum ReadLine {
    Timeout,
    Io(std::io::Error),
}

/// Reads up to the first newline (or EOF) within `timeout`.
fn read_line(fd: &OwnedFd, timeout: Duration) -> std::result::Result<String, ReadLine> {
    let deadline = Instant::now() + timeout;
    let mut file = fs::File::from(fd.try_clone().map_err(ReadLine::Io)?);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !wait_readable(fd.as_fd(), left).map_err(ReadLine::Io)? {
            return Err(ReadLine::Timeout);
        }
        let n = match file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadLine::Io(e)),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// `None`: nothing usable; `Some(Ok(pid))`; `Some(Err(message))`.
#[allow(clippy::type_complexity)]
fn parse_sync(line: &str) -> Result<Option<std::result::Result<i32, String>>> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let msg: SyncMessage = serde_json::from_str(line).map_err(|e| Error::Parse {
        what: "conmon sync message".into(),
        message: e.to_string(),
        text: line.chars().take(512).collect(),
    })?;
    if msg.data > 0 {
        let pid = i32::try_from(msg.data).map_err(|_| Error::Parse {
            what: "conmon sync message".into(),
            message: "pid out of range".into(),
            text: line.to_owned(),
        })?;
        return Ok(Some(Ok(pid)));
    }
    Ok(Some(Err(msg.message.unwrap_or_else(|| {
        format!("conmon reported {}", msg.data)
    }))))
}

/// Maps a runtime's create-time error text to the distinguishable errors:
/// `exec: "X": ... no such file or directory` and `executable file not
/// found` → [`Error::CommandNotFound`]; `exec: "X": permission denied` →
/// [`Error::PermissionDenied`]; anything else → [`Error::Conmon`].
pub fn classify_create_error(id: &str, message: String) -> Error {
    let lower = message.to_ascii_lowercase();
    let command = exec_target(&message);
    if lower.contains("executable file not found")
        || (command.is_some() && lower.contains("no such file or directory"))
    {
        return Error::CommandNotFound {
            command: command.unwrap_or_default(),
            message,
        };
    }
    if command.is_some() && lower.contains("permission denied") {
        return Error::PermissionDenied {
            command: command.unwrap_or_default(),
            message,
        };
    }
    Error::Conmon {
        id: id.to_owned(),
        message,
    }
}

fn exec_target(message: &str) -> Option<String> {
    let start = message.find("exec: \"")? + "exec: \"".len();
    let rest = &message[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

pub(crate) fn read_pid_file(path: &Path) -> Result<i32> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading pid file", path, e))?;
    text.trim().parse::<i32>().map_err(|e| Error::Parse {
        what: format!("pid file {}", path.display()),
        message: e.to_string(),
        text: text.chars().take(64).collect(),
    })
}

/// The name of the OCI config in a bundle directory.
pub const BUNDLE_CONFIG: &str = "config.json";

/// Refuses an id that cannot name a file: empty, `.`/`..`, or with a `/`.
pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') {
        return Err(Error::InvalidId { id: id.to_owned() });
    }
    Ok(())
}

/// `mkdir -p` with mode 0700 for the last component: the one way this
/// crate makes the exit and socket directories (other users must not read
/// exit codes or reach attach sockets).
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("creating directory", dir, e))
}

/// The exit file conmon writes for `id`.
pub fn exit_file_path(exit_dir: &Path, id: &str) -> PathBuf {
    exit_dir.join(id)
}

/// Writes `<exit_dir>/<id>` as conmon would (decimal, no newline), through
/// a temporary file of this process's, so no reader sees it half written
/// and several writers noticing one dead conmon do not collide.
pub fn write_exit_file(exit_dir: &Path, id: &str, code: i32) -> Result<()> {
    check_id(id)?;
    let tmp = exit_dir.join(format!(".{id}.{}.oxpod-tmp", std::process::id()));
    let path = exit_file_path(exit_dir, id);
    fs::write(&tmp, code.to_string()).map_err(|e| Error::io("writing exit file", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io("renaming exit file to", &path, e))
}

/// Reads `<exit_dir>/<id>`: `Ok(None)` while it does not exist (the
/// container has not exited, or failed before running), the exit code once
/// conmon wrote it.
pub fn read_exit_file(exit_dir: &Path, id: &str) -> Result<Option<i32>> {
    let path = exit_file_path(exit_dir, id);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading exit file", path, e)),
    };
    let t = text.trim();
    if t.is_empty() {
        // Being written: treat as not there yet.
        return Ok(None);
    }
    t.parse::<i32>().map(Some).map_err(|e| Error::Parse {
        what: format!("exit file {}", path.display()),
        message: e.to_string(),
        text: t.chars().take(64).collect(),
    })
}

/// Waits (inotify, no busy loop) until `<exit_dir>/<id>` exists and returns
/// its exit code; `Ok(None)` when `timeout` passes first (`None` waits
/// without limit).
pub fn wait_exit_file(exit_dir: &Path, id: &str, timeout: Option<Duration>) -> Result<Option<i32>> {
    private_dir(exit_dir)?;
    let watch = DirWatch::new(exit_dir)?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(code) = read_exit_file(exit_dir, id)? {
            return Ok(Some(code));
        }
        let step = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                left.min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        watch.wait(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_runc_exec_errors() {
        let nf = "runc create failed: unable to start container process: exec: \"/bin/nonexistent\": stat /bin/nonexistent: no such file or directory";
        match classify_create_error("c1", nf.into()) {
            Error::CommandNotFound { command, .. } => assert_eq!(command, "/bin/nonexistent"),
            other => panic!("unexpected {other}"),
        }
        let path = "exec: \"nosuchcmd\": executable file not found in $PATH";
        assert!(matches!(
            classify_create_error("c1", path.into()),
            Error::CommandNotFound { .. }
        ));
        let pd = "unable to start container process: exec: \"/etc/passwd\": permission denied";
        match classify_create_error("c1", pd.into()) {
            Error::PermissionDenied { command, .. } => assert_eq!(command, "/etc/passwd"),
            other => panic!("unexpected {other}"),
        }
        let other =
            "rootfs_linux.go:76: mounting \"/x\" to rootfs at \"/y\": no such file or directory";
        assert!(matches!(
            classify_create_error("c1", other.into()),
            Error::Conmon { .. }
        ));
    }

    #[test]
    fn sync_messages() {
        assert_eq!(parse_sync("{\"data\": 1234}").unwrap(), Some(Ok(1234)));
        assert_eq!(
            parse_sync("{\"data\": -1, \"message\": \"boom\"}").unwrap(),
            Some(Err("boom".into()))
        );
        assert_eq!(parse_sync("").unwrap(), None);
        assert!(parse_sync("garbage").is_err());
    }

    #[test]
    fn exit_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_exit_file(d.path(), "c").unwrap(), None);
        fs::write(d.path().join("c"), "3").unwrap();
        assert_eq!(read_exit_file(d.path(), "c").unwrap(), Some(3));
        fs::write(d.path().join("c"), "137\n").unwrap();
        assert_eq!(read_exit_file(d.path(), "c").unwrap(), Some(137));
        fs::write(d.path().join("c"), "").unwrap();
        assert_eq!(read_exit_file(d.path(), "c").unwrap(), None);
        fs::write(d.path().join("c"), "x").unwrap();
        assert!(matches!(
            read_exit_file(d.path(), "c"),
            Err(Error::Parse { .. })
        ));
    }

    #[test]
    fn wait_exit_file_wakes_on_write() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            fs::write(dir.join("w.tmp"), "42").unwrap();
            fs::rename(dir.join("w.tmp"), dir.join("w")).unwrap();
        });
        let got = wait_exit_file(d.path(), "w", Some(Duration::from_secs(10))).unwrap();
        writer.join().unwrap();
        assert_eq!(got, Some(42));
        let none = wait_exit_file(d.path(), "never", Some(Duration::from_millis(50))).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn conmon_args_shape() {
        let rt = OciRuntime::new("runc", "/usr/sbin/runc").with_root("/t/runc");
        let opts = CreateOptions {
            id: "abc".into(),
            name: "web".into(),
            bundle_dir: "/t/b".into(),
            runtime: &rt,
            exit_dir: "/t/exits".into(),
            log_path: "/t/b/ctr.log".into(),
            pid_file: "/t/b/pidfile".into(),
            conmon_pid_file: "/t/b/conmon.pid".into(),
            socket_dir: "/t/socket".into(),
            log_level: "debug".into(),
            exit_command: Some((
                "/usr/bin/oxpod".into(),
                vec!["cleanup".into(), "abc".into()],
            )),
            terminal: false,
            stdin: false,
            hold: &[],
            settings: ConmonSettings::default(),
        };
        let args: Vec<String> = Conmon::new("/usr/bin/conmon")
            .args(&opts)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        for part in [
            "--api-version 1",
            "-c abc",
            "-u abc",
            "-n web",
            "-r /usr/sbin/runc",
            "-b /t/b",
            "-p /t/b/pidfile",
            "--exit-dir /t/exits",
            "--socket-dir-path /t/socket",
            "--conmon-pidfile /t/b/conmon.pid",
            "-l k8s-file:/t/b/ctr.log",
            "--log-level debug",
            "--runtime-arg --root --runtime-arg /t/runc",
            "--exit-command /usr/bin/oxpod --exit-command-arg cleanup --exit-command-arg abc",
        ] {
            assert!(joined.contains(part), "missing {part:?} in {joined}");
        }
        assert!(!args.contains(&"-t".to_owned()));
        assert!(!args.contains(&"-s".to_owned()));
        assert!(!args.contains(&"--no-pivot".to_owned()));
        assert!(!args.contains(&"--log-size-max".to_owned()));
        let opts = CreateOptions {
            settings: ConmonSettings {
                no_pivot: true,
                log_size_max: Some(4096),
                env: vec!["A=b".into()],
            },
            ..opts
        };
        let joined = Conmon::new("/usr/bin/conmon")
            .args(&opts)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(joined.contains("--no-pivot"), "{joined}");
        assert!(joined.contains("--log-size-max 4096"), "{joined}");
    }
}
