//! exec sessions through conmon's exec mode (conmon 2.1.6, as podman 4.3's
//! `startExec`): a process spec in the session's directory, three pipes
//! (sync, start, attach), and the session's attach socket.
//!
//! The order matters (conmon `src/conmon.c`):
//! 1. we write the start pipe once; conmon forks its monitor (the first
//!    process exits 0 after writing `--conmon-pidfile`);
//! 2. the monitor binds `<session>/attach` and makes `<session>/ctl`, then
//!    writes `{"data":0}` on the attach pipe;
//! 3. we connect to the attach socket and write the start pipe again; only
//!    then does conmon's child exec `runc exec`, so no output is lost;
//! 4. the sync pipe carries `{"data":<pid>}` (or `{"data":-N,"message":…}`
//!    when runc failed), and once the process has exited a second line
//!    with its exit code.
//!
//! Without attaching (`exec -d`), steps 2 and 3 are skipped.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;

use crate::conmon::{check_id, classify_create_error, inheritable, private_dir, read_pid_file};
use crate::error::{Error, Result};
use crate::runtime::{OciRuntime, SPAWN_LOCK, clean_runtime_message};
use crate::watch::wait_readable;

/// How long conmon may take to answer each step of an exec's handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything conmon's exec mode needs.
#[derive(Debug, Clone)]
pub struct ExecOptions<'a> {
    /// The container's id (`-c`).
    pub container_id: &'a str,
    /// The session's id (`-u`).
    pub session_id: &'a str,
    /// The container's OCI runtime.
    pub runtime: &'a OciRuntime,
    /// The session's directory (conmon's bundle: `process.json`, `attach`,
    /// `ctl`, the pid files and the exit directory).
    pub session_dir: &'a Path,
    /// conmon's `--socket-dir-path`.
    pub socket_dir: &'a Path,
    /// The OCI `process` to run (written as `process.json`).
    pub process: &'a serde_json::Value,
    /// A terminal (`-t`).
    pub terminal: bool,
    /// Keep stdin open (`-i`).
    pub stdin: bool,
    /// Attach to the session (false: `exec -d`).
    pub attach: bool,
}

/// A started exec session.
#[derive(Debug)]
pub struct ExecStarted {
    /// The process's pid (on the host).
    pub pid: i32,
    /// Its conmon's pid.
    pub conmon_pid: i32,
    /// The attach socket, connected (when attaching).
    pub socket: Option<OwnedFd>,
    /// The session's `ctl` fifo (resize messages).
    pub ctl: PathBuf,
    sync: SyncReader,
    exit_file: PathBuf,
}

impl ExecStarted {
    /// Waits for the process's exit code: conmon's second sync message, or
    /// the exit file it writes (a conmon that died says neither: an error).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<i32> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(Instant::now())
            });
            match self.sync.next_line(left)? {
                Some(line) if line.trim().is_empty() => continue,
                Some(line) => {
                    let (code, message) = parse_message(&line)?;
                    return match message {
                        Some(m) if code < 0 => Err(Error::Conmon {
                            id: self.exit_file.display().to_string(),
                            message: m,
                        }),
                        _ => Ok(i32::try_from(code).unwrap_or(-1)),
                    };
                }
                None if deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(Error::Timeout {
                        what: "the exec session's exit".into(),
                        seconds: timeout.map_or(0, |t| t.as_secs()),
                    });
                }
                None if self.sync.eof => {
                    return read_exit(&self.exit_file)?.ok_or_else(|| Error::Conmon {
                        id: self.exit_file.display().to_string(),
                        message: "the exec session's conmon exited without reporting an exit code"
                            .into(),
                    });
                }
                None => {}
            }
        }
    }
}

fn read_exit(path: &Path) -> Result<Option<i32>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

/// Lines from a conmon pipe, keeping what follows the first (the pid and
/// the exit code of a quick process can arrive in one read).
#[derive(Debug)]
struct SyncReader {
    file: fs::File,
    buf: Vec<u8>,
    eof: bool,
}

impl SyncReader {
    fn new(fd: OwnedFd) -> Self {
        SyncReader {
            file: fs::File::from(fd),
            buf: Vec::new(),
            eof: false,
        }
    }

    /// The next line within `timeout`; `None` at the end or on timeout
    /// (`eof` tells which).
    fn next_line(&mut self, timeout: Duration) -> Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_owned()));
            }
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_owned()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !wait_readable(self.file.as_fd(), left)
                .map_err(|e| Error::io("waiting for", "the conmon sync pipe", e))?
            {
                return Ok(None);
            }
            let mut chunk = [0u8; 4096];
            match self.file.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("reading", "the conmon sync pipe", e)),
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Message {
    data: i64,
    #[serde(default)]
    message: Option<String>,
}

fn parse_message(line: &str) -> Result<(i64, Option<String>)> {
    let m: Message = serde_json::from_str(line).map_err(|e| Error::Parse {
        what: "conmon sync message".into(),
        message: e.to_string(),
        text: line.chars().take(512).collect(),
    })?;
    Ok((m.data, m.message))
}

impl crate::conmon::Conmon {
    /// The conmon command line of an exec session.
    pub fn exec_args(&self, o: &ExecOptions<'_>) -> Vec<std::ffi::OsString> {
        use std::ffi::OsString;
        let dir = o.session_dir;
        let mut a: Vec<OsString> = Vec::new();
        for s in [
            "--api-version",
            "1",
            "-c",
            o.container_id,
            "-u",
            o.session_id,
        ] {
            a.push(s.into());
        }
        let paths: [(&str, PathBuf); 6] = [
            ("-r", o.runtime.path.clone()),
            ("-b", dir.to_path_buf()),
            ("-p", dir.join("pid")),
            ("--exit-dir", dir.join("exit")),
            ("--socket-dir-path", o.socket_dir.to_path_buf()),
            ("--conmon-pidfile", dir.join("conmon.pid")),
        ];
        for (flag, p) in paths {
            a.push(flag.into());
            a.push(p.into_os_string());
        }
        a.push("--full-attach".into());
        a.push("-l".into());
        a.push("none".into());
        if o.runtime.systemd_cgroup {
            a.push("-s".into());
        }
        if o.terminal {
            a.push("-t".into());
        } else if o.stdin {
            a.push("-i".into());
        }
        for arg in o.runtime.global_args(false) {
            a.push("--runtime-arg".into());
            a.push(arg);
        }
        a.push("-e".into());
        if o.attach {
            a.push("--exec-attach".into());
        }
        a.push("--exec-process-spec".into());
        a.push(dir.join("process.json").into_os_string());
        a
    }

    /// Starts an exec session: conmon's handshake, then (attaching) the
    /// connected attach socket. A command that is missing or cannot be
    /// run gives [`Error::CommandNotFound`] / [`Error::PermissionDenied`].
    pub fn exec(&self, o: &ExecOptions<'_>) -> Result<ExecStarted> {
        check_id(o.container_id)?;
        check_id(o.session_id)?;
        let dir = std::path::absolute(o.session_dir)
            .map_err(|e| Error::io("resolving", o.session_dir, e))?;
        let o = &ExecOptions {
            session_dir: &dir,
            ..o.clone()
        };
        private_dir(&dir)?;
        private_dir(&dir.join("exit"))?;
        private_dir(o.socket_dir)?;
        let spec = serde_json::to_vec(o.process).map_err(|e| Error::Parse {
            what: "the exec process spec".into(),
            message: e.to_string(),
            text: String::new(),
        })?;
        let spec_path = dir.join("process.json");
        fs::write(&spec_path, spec).map_err(|e| Error::io("writing", &spec_path, e))?;

        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| Error::io("creating pipe for", &self.path, std::io::Error::from(e)))
        };
        let (sync_r, sync_w) = pipe()?;
        let (start_r, start_w) = pipe()?;
        let (attach_r, attach_w) = pipe()?;
        let err_path = dir.join("conmon.stderr");
        let err_file =
            fs::File::create(&err_path).map_err(|e| Error::io("creating", &err_path, e))?;
        let mut cmd = Command::new(&self.path);
        cmd.args(self.exec_args(o))
            .env("_OCI_SYNCPIPE", sync_w.as_raw_fd().to_string())
            .env("_OCI_STARTPIPE", start_r.as_raw_fd().to_string())
            .env("_OCI_ATTACHPIPE", attach_w.as_raw_fd().to_string())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err_file))
            .current_dir(&dir);
        tracing::debug!(
            "running {} {:?}",
            self.path.display(),
            cmd.get_args().collect::<Vec<_>>()
        );
        let spawned = {
            let _guard = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            inheritable(&sync_w)
                .and_then(|()| inheritable(&start_r))
                .and_then(|()| inheritable(&attach_w))?;
            let spawned = cmd.spawn();
            drop((sync_w, start_r, attach_w));
            spawned
        };
        let mut child = spawned.map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;
        let r = self.exec_handshake(o, &mut child, start_w, attach_r, sync_r);
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let _ = fs::remove_file(&err_path);
        match r {
            Err(Error::Conmon { id, message }) if message.is_empty() => Err(Error::Conmon {
                id,
                message: match clean_runtime_message(&stderr) {
                    s if s.is_empty() => {
                        "conmon exited without starting the exec session; rerun with --log-level debug"
                            .into()
                    }
                    s => s,
                },
            }),
            other => other,
        }
    }

    fn exec_handshake(
        &self,
        o: &ExecOptions<'_>,
        child: &mut std::process::Child,
        start_w: OwnedFd,
        attach_r: OwnedFd,
        sync_r: OwnedFd,
    ) -> Result<ExecStarted> {
        let dir = o.session_dir;
        let failed = || Error::Conmon {
            id: o.container_id.to_owned(),
            message: String::new(),
        };
        let mut start = fs::File::from(start_w);
        if let Err(e) = start.write_all(b"0") {
            tracing::debug!("writing the exec start pipe: {e}");
        }
        let status = child.wait().map_err(|source| Error::Spawn {
            path: self.path.clone(),
            source,
        })?;
        let mut sync = SyncReader::new(sync_r);
        if !status.success() {
            return Err(match sync.next_line(Duration::from_millis(200))? {
                Some(line) => match parse_message(&line) {
                    Ok((_, Some(m))) => {
                        classify_create_error(o.container_id, clean_runtime_message(&m))
                    }
                    _ => failed(),
                },
                None => failed(),
            });
        }
        let conmon_pid = read_pid_file(&dir.join("conmon.pid"))?;
        let mut socket = None;
        if o.attach {
            let mut attach = SyncReader::new(attach_r);
            match attach.next_line(STEP_TIMEOUT)? {
                Some(line) => {
                    let (code, message) = parse_message(&line)?;
                    if code < 0 {
                        return Err(Error::Conmon {
                            id: o.container_id.to_owned(),
                            message: message.unwrap_or_default(),
                        });
                    }
                }
                None => return Err(failed()),
            }
            socket = Some(connect_attach(dir)?);
            // The second start message: conmon's child execs the runtime.
            if let Err(e) = start.write_all(b"0") {
                tracing::debug!("writing the exec start pipe again: {e}");
            }
        }
        drop(start);
        let pid = match sync.next_line(STEP_TIMEOUT)? {
            Some(line) => {
                let (data, message) = parse_message(&line)?;
                if data <= 0 {
                    let m = message.unwrap_or_else(|| format!("conmon reported {data}"));
                    return Err(classify_create_error(
                        o.container_id,
                        clean_runtime_message(&m),
                    ));
                }
                i32::try_from(data).map_err(|_| failed())?
            }
            None => return Err(failed()),
        };
        tracing::debug!(
            session = o.session_id,
            pid,
            conmon_pid,
            "exec session started"
        );
        Ok(ExecStarted {
            pid,
            conmon_pid,
            socket,
            ctl: dir.join("ctl"),
            sync,
            exit_file: dir.join("exit").join(o.session_id),
        })
    }
}

/// Connects to `<dir>/attach` (conmon's `--full-attach` socket) through
/// `/proc/self/fd/<dir fd>/attach`, so a long directory never passes the
/// 108 bytes of `sun_path`.
pub fn connect_attach(dir: &Path) -> Result<OwnedFd> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    let dir_fd = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::io("opening", dir, std::io::Error::from(e)))?;
    let path = format!("/proc/self/fd/{}/attach", dir_fd.as_raw_fd());
    let addr = UnixAddr::new(path.as_str())
        .map_err(|e| Error::io("addressing", dir.join("attach"), std::io::Error::from(e)))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| {
        Error::io(
            "creating a socket for",
            dir.join("attach"),
            std::io::Error::from(e),
        )
    })?;
    connect(sock.as_raw_fd(), &addr)
        .map_err(|e| Error::io("connecting to", dir.join("attach"), std::io::Error::from(e)))?;
    drop(dir_fd);
    Ok(sock)
}
