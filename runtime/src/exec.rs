//! exec sessions: a process started in a running container through conmon's
//! exec mode, recorded as a state item (kind `exec`, indexed by its
//! container) from before it starts until it is done.
//!
//! - The container's lock is held to create a session and to record its
//!   end, never while its process runs.
//! - A session knows the pid of the `oxpod exec` that attached to it: a
//!   session whose client was killed is found by the next command on the
//!   container (exec, inspect, stop, rm) and its process killed, so a
//!   killed `oxpod exec` leaves nothing running. A detached session (`-d`)
//!   runs until it exits; its exit code is kept until the container stops.
//! - A container that stops takes every session with it (one pid
//!   namespace): their records go then, and all of them at a refresh.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_ociruntime::ExecStarted;
use oxpod_state::{Container, ContainerStatus, Item, ItemOp, ItemsExt};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::{ContainerRef, Containers, Error, Result, Runtime, container_event};

/// Where an exec session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecStatus {
    /// Recorded; its process is being started.
    Created,
    /// Its process runs.
    Running,
    /// Its process exited (a detached session's record keeps the code).
    Stopped,
}

/// One exec session's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecSession {
    /// Its id (64 hex digits).
    pub id: String,
    /// The container it runs in.
    pub container_id: String,
    /// The command.
    pub command: Vec<String>,
    /// With a terminal.
    pub tty: bool,
    /// Started with `-d`: nobody waits for it.
    pub detached: bool,
    /// Its process's pid (0 until started).
    pub pid: i32,
    /// Its conmon's pid (0 until started).
    pub conmon_pid: i32,
    /// Where it is.
    pub status: ExecStatus,
    /// Its exit code, once it exited.
    pub exit_code: Option<i32>,
    /// The `oxpod exec` attached to it, and that process's start time
    /// (`/proc/<pid>/stat` field 22), so a reused pid is not taken for it.
    pub client: (u32, u64),
    /// When it was created.
    pub created_at: Timestamp,
}

impl Item for ExecSession {
    const KIND: &'static str = "exec";
    fn id(&self) -> &str {
        &self.id
    }
    fn refs(&self) -> Vec<(String, String)> {
        vec![(EXEC_INDEX.to_owned(), self.container_id.clone())]
    }
}

/// The index from a container to its exec sessions.
const EXEC_INDEX: &str = "ctr_exec";

/// What to run in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `KEY=VALUE` added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    /// The working directory (default: the container's).
    pub workdir: Option<String>,
    /// `--user` (default: the container's).
    pub user: Option<String>,
    /// Every capability.
    pub privileged: bool,
    /// A terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Do not attach (`-d`).
    pub detach: bool,
    /// The terminal's size, set before the process starts (rows, columns).
    pub console_size: Option<(u16, u16)>,
}

/// A started exec session: its attach socket (unless detached), and the
/// wait for its exit.
#[derive(Debug)]
pub struct Exec<'r> {
    rt: &'r Runtime,
    ctr: ContainerRef,
    config: oxpod_state::ContainerConfig,
    /// The session's record.
    pub session: ExecSession,
    started: ExecStarted,
    dir: PathBuf,
}

/// This process's start time (`/proc/self/stat` field 22).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

fn client_alive(client: (u32, u64)) -> bool {
    start_time(client.0) == Some(client.1)
}

impl<'r> Containers<'r> {
    /// Starts `spec` in the running container `r`. Attached (not `-d`),
    /// the returned [`Exec`]'s socket carries its stdio until it exits;
    /// [`Exec::wait`] then gives its exit code.
    pub fn exec(&self, r: &ContainerRef, spec: &ExecSpec) -> Result<Exec<'r>> {
        let rt = self.rt;
        rt.check_valid()?;
        if spec.command.is_empty() || spec.command[0].is_empty() {
            return Err(Error::InvalidArgument {
                what: "exec".into(),
                reason: "a command is needed: oxpod exec CONTAINER COMMAND [ARG...]".into(),
            });
        }
        let (ctr, guard) = self.lock(r)?;
        self.reap_sessions(&ctr, false)?;
        match ctr.state.status {
            ContainerStatus::Running => {}
            ContainerStatus::Paused => {
                return Err(Error::ContainerState {
                    name: ctr.config.name.clone(),
                    status: "paused".into(),
                    remedy: "exec needs a running container; unpause it first",
                });
            }
            other => {
                return Err(Error::ContainerState {
                    name: ctr.config.name.clone(),
                    status: other.podman_word().to_owned(),
                    remedy: "exec needs a running container; start it first",
                });
            }
        }
        let process = self.exec_process(&ctr, spec)?;
        let id = crate::names::new_id().map_err(|e| Error::io("make", "an exec session id", e))?;
        let me = std::process::id();
        let session = ExecSession {
            id: id.clone(),
            container_id: ctr.config.id.clone(),
            command: spec.command.clone(),
            tty: spec.tty,
            detached: spec.detach,
            pid: 0,
            conmon_pid: 0,
            status: ExecStatus::Created,
            exit_code: None,
            client: (me, start_time(me).unwrap_or(0)),
            created_at: Timestamp::now(),
        };
        // Recorded before it starts: a command killed from here on leaves
        // a record the next one finds.
        rt.state().write_items(&[ItemOp::put(&session)?])?;
        let dir = session_dir(rt, &ctr.config.id, &id);
        let started = rt.driver.exec(&oxpod_ociruntime::ExecRequest {
            container_id: &ctr.config.id,
            session_id: &id,
            runtime: &ctr.config.oci_runtime,
            session_dir: &dir,
            process: &process,
            terminal: spec.tty,
            stdin: spec.stdin,
            attach: !spec.detach,
        });
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                forget(rt, &session, &dir);
                return Err(e.into());
            }
        };
        let mut session = session;
        session.pid = started.pid;
        session.conmon_pid = started.conmon_pid;
        session.status = ExecStatus::Running;
        rt.state().write_items(&[ItemOp::put(&session)?])?;
        drop(guard);
        rt.emit(
            container_event(EventStatus::Exec, &ctr.config).with_attribute("execID", id.clone()),
        );
        debug!(session = %id, pid = started.pid, "exec session running");
        Ok(Exec {
            rt,
            ctr: r.clone(),
            config: ctr.config,
            session,
            started,
            dir,
        })
    }

    /// The OCI process of an exec: the container's own (from its bundle),
    /// with the command, environment, directory, user and terminal asked.
    fn exec_process(&self, ctr: &Container, spec: &ExecSpec) -> Result<serde_json::Value> {
        let rt = self.rt;
        let path = rt.layout.bundle_config(&ctr.config.id);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let bundle: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::io("decode", &path, std::io::Error::other(e)))?;
        let mut process = bundle
            .get("process")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        process["args"] = serde_json::json!(spec.command);
        let mut env: Vec<String> = process["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for kv in &spec.env {
            let key = kv.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        process["env"] = serde_json::json!(env);
        if let Some(w) = &spec.workdir {
            if !w.starts_with('/') {
                return Err(Error::InvalidArgument {
                    what: "--workdir".into(),
                    reason: format!("{w:?} is not an absolute path"),
                });
            }
            process["cwd"] = serde_json::json!(w);
        }
        if let Some(u) = &spec.user {
            let root = match &ctr.config.image_id {
                Some(_) => rt.storage()?.container_root(&ctr.config.id),
                None => ctr.config.rootfs.clone(),
            };
            let ids = crate::users::resolve_in_root(&root, u)?;
            let (uid, gid) = ids.split_once(':').unwrap_or((&ids, "0"));
            process["user"] = serde_json::json!({
                "uid": uid.parse::<u32>().unwrap_or(0),
                "gid": gid.parse::<u32>().unwrap_or(0),
            });
        }
        process["terminal"] = serde_json::json!(spec.tty);
        match (spec.tty, spec.console_size) {
            (true, Some((rows, cols))) if rows > 0 && cols > 0 => {
                process["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
            }
            _ => {
                if let Some(p) = process.as_object_mut() {
                    p.remove("consoleSize");
                }
            }
        }
        if spec.privileged {
            let all = serde_json::json!(oxpod_ociruntime::ALL_CAPABILITY_NAMES);
            process["capabilities"] = serde_json::json!({
                "bounding": all, "effective": all, "permitted": all,
            });
        }
        Ok(process)
    }

    /// The container's exec sessions.
    pub fn exec_sessions(&self, container_id: &str) -> Result<Vec<ExecSession>> {
        let state = self.rt.state();
        let mut out = Vec::new();
        for (kind, id) in state.referrers(EXEC_INDEX, container_id)? {
            if kind != ExecSession::KIND {
                continue;
            }
            if let Some(s) = state.item::<ExecSession>(&id)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Brings a container's sessions up to date, under its lock: a
    /// session whose attached client is gone has its process killed and
    /// its record removed; a detached one that exited gets its exit code;
    /// with `all` (or a container no longer running) every session goes.
    pub(crate) fn reap_sessions(&self, ctr: &Container, all: bool) -> Result<()> {
        let rt = self.rt;
        let running = matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused
        );
        let mut ops = Vec::new();
        let mut gone = Vec::new();
        for mut s in self.exec_sessions(&ctr.config.id)? {
            let dir = session_dir(rt, &ctr.config.id, &s.id);
            let exit = std::fs::read_to_string(dir.join("exit").join(&s.id))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            let orphan = !s.detached && s.status != ExecStatus::Stopped && !client_alive(s.client);
            if all || !running || orphan {
                if exit.is_none() {
                    kill_session(&dir, &s, ctr.state.pid);
                }
                ops.push(ItemOp::remove::<ExecSession>(&s.id));
                gone.push(dir);
                continue;
            }
            if s.status == ExecStatus::Running
                && let Some(code) = exit
            {
                s.status = ExecStatus::Stopped;
                s.exit_code = Some(code);
                ops.push(ItemOp::put(&s)?);
                rt.emit(
                    container_event(EventStatus::ExecDied, &ctr.config)
                        .with_attribute("execID", s.id.clone())
                        .with_attribute("exitCode", code.to_string()),
                );
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        rt.state().write_items(&ops)?;
        for dir in gone {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    }
}

/// SIGKILLs what is left of a session: its process (when it still lives
/// in the container's pid namespace, so a reused pid is never hit) and its
/// conmon (when it is still a conmon). Pids come from the record, or from
/// the pid files a killed start left.
fn kill_session(dir: &Path, s: &ExecSession, init_pid: Option<u32>) {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|&p| p > 1)
    };
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    // The session's conmon: from the record, its pid file, or (a client
    // killed before either was written) found by its `-u <session id>`.
    let session_conmon = || {
        Some(s.conmon_pid)
            .filter(|&p| p > 1)
            .or_else(|| read("conmon.pid"))
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "conmon")
            })
            .or_else(|| conmon_of_session(&s.id))
    };
    let conmon_alive = || session_conmon().is_some();
    // A start cut short: its conmon may still be running `runc exec`, whose
    // process would start after we looked. Wait (bounded) for its pid.
    if s.pid <= 1 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while read("pid").is_none() && conmon_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let pid = Some(s.pid)
        .filter(|&p| p > 1)
        .or_else(|| read("pid"))
        .filter(|&p| {
            init_pid
                .and_then(|i| ns(i as i32))
                .is_some_and(|n| ns(p) == Some(n))
        });
    let conmon = session_conmon();
    for p in [pid, conmon].into_iter().flatten() {
        warn!(session = %s.id, pid = p, "killing what an exec session left running");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The pid of a conmon running exec session `session_id` (its command
/// line has `-u <session id>`), found in /proc.
fn conmon_of_session(session_id: &str) -> Option<i32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let is_conmon =
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "conmon");
        if !is_conmon {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args
            .windows(2)
            .any(|w| w[0] == b"-u" && w[1] == session_id.as_bytes())
        {
            return Some(pid);
        }
    }
    None
}

fn session_dir(rt: &Runtime, container_id: &str, session_id: &str) -> PathBuf {
    rt.layout
        .run_dir(container_id)
        .join("exec")
        .join(session_id)
}

/// Removes a session that did not start (its record and directory; its
/// conmon reported the failure and exits on its own).
fn forget(rt: &Runtime, s: &ExecSession, dir: &Path) {
    if let Err(e) = rt
        .state()
        .write_items(&[ItemOp::remove::<ExecSession>(&s.id)])
    {
        warn!(session = %s.id, error = %e, "cannot remove the record of an exec that did not start");
    }
    let _ = std::fs::remove_dir_all(dir);
}

impl Exec<'_> {
    /// The attach socket (none for a detached session).
    pub fn socket(&self) -> Option<&std::os::fd::OwnedFd> {
        self.started.socket.as_ref()
    }

    /// The session's `ctl` fifo (terminal resizes).
    pub fn ctl(&self) -> &Path {
        &self.started.ctl
    }

    /// Leaves the session running on its own (its client typed the detach
    /// keys): recorded as detached, so nobody takes it for an orphan.
    pub fn detach(mut self) -> Result<()> {
        let containers = self.rt.containers();
        let (_ctr, _guard) = containers.lock(&self.ctr)?;
        self.session.detached = true;
        self.rt
            .state()
            .write_items(&[ItemOp::put(&self.session)?])?;
        Ok(())
    }

    /// Waits for the process to exit, records the end and removes the
    /// session (podman's `exec` does); returns its exit code.
    pub fn wait(mut self) -> Result<i32> {
        let code = self.started.wait(None);
        let rt = self.rt;
        let containers = rt.containers();
        let ended = match containers.lock(&self.ctr) {
            Ok((_ctr, _guard)) => {
                let r = rt
                    .state()
                    .write_items(&[ItemOp::remove::<ExecSession>(&self.session.id)]);
                let _ = std::fs::remove_dir_all(&self.dir);
                r.map_err(Error::from)
            }
            // The container went meanwhile (rm -f): its sessions with it.
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        };
        let code = code?;
        ended?;
        rt.emit(
            container_event(EventStatus::ExecDied, &self.config)
                .with_attribute("execID", self.session.id.clone())
                .with_attribute("exitCode", code.to_string()),
        );
        Ok(code)
    }
}
