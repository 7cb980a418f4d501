//! Running containers: start, stop, kill, wait, pause, unpause, restart,
//! logs and the cleanup conmon triggers when a container exits.
//!
//! A container's lock is held for each state change and never while
//! waiting for the container to exit, so `stop`, `ps` and `wait` in other
//! processes go on while one waits.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_ociruntime::{CreateOptions, LogLine, LogOptions};
use oxpod_state::{Container, ContainerStatus};
use tracing::{debug, warn};

use crate::container_event;
use crate::layout::make_dir;
use crate::{Error, Result, Runtime};

/// SIGKILL.
const SIGKILL: i32 = 9;

/// The exit code recorded when conmon died without writing one.
const UNKNOWN_EXIT_CODE: i32 = -1;

/// How often a waiter checks that conmon is still alive.
const CONMON_CHECK: Duration = Duration::from_millis(500);

/// Whether `pid` is a live (not zombie) conmon. A reused pid running
/// something else counts as dead.
fn conmon_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = stat.get(open + 1..close).unwrap_or_default();
    let state = stat.get(close + 1..).unwrap_or_default().trim_start();
    comm == "conmon" && !state.starts_with('Z')
}

/// The signals an attached `run` forwards to its container (podman's
/// `--sig-proxy`): what a terminal or a service manager sends.
const PROXIED_SIGNALS: [nix::sys::signal::Signal; 6] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]
};

/// Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
/// this process to the container process `pid` instead of dying of them, as
/// podman's attached `run` does (so Ctrl-C reaches the container, and a
/// `run --rm` still gets the exit code and removes the container). Blocks
/// them in the calling thread, so call it before other threads start
/// (children started later get a clean mask from std), and starts a thread
/// that waits for them.
pub fn proxy_signals_to(pid: u32) -> Result<()> {
    use nix::sys::signal::{SigSet, kill};
    use nix::unistd::Pid;
    let target = i32::try_from(pid).map_err(|_| {
        Error::io(
            "signal",
            format!("process {pid}"),
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    })?;
    let mut set = SigSet::empty();
    for s in PROXIED_SIGNALS {
        set.add(s);
    }
    set.thread_block()
        .map_err(|e| Error::io("block signals for", "the signal proxy", e.into()))?;
    std::thread::Builder::new()
        .name("sig-proxy".to_owned())
        .spawn(move || {
            loop {
                let sig = match set.wait() {
                    Ok(sig) => sig,
                    Err(e) => {
                        warn!(error = %e, "signal proxy stopped");
                        return;
                    }
                };
                debug!(?sig, pid = target, "forwarding signal to the container");
                if let Err(e) = kill(Pid::from_raw(target), sig) {
                    debug!(error = %e, "forwarding signal");
                }
            }
        })
        .map_err(|e| Error::io("start", "the signal proxy thread", e))?;
    Ok(())
}

/// Writes `<exit_dir>/<id>` as conmon would (decimal, no newline), through
/// a temporary file so no reader sees it half written.
fn write_exit_file(exit_dir: &std::path::Path, id: &str, code: i32) -> Result<()> {
    // Per process: several waiters may notice the dead conmon at once.
    let tmp = exit_dir.join(format!(".{id}.{}.oxpod-tmp", std::process::id()));
    let path = oxpod_ociruntime::exit_file_path(exit_dir, id);
    std::fs::write(&tmp, code.to_string()).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

/// How a `stop` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// It was not running.
    AlreadyStopped,
    /// It exited after the stop signal.
    Exited(i32),
    /// It had to be killed after the timeout.
    Killed(i32),
}

/// A stop whose signal was sent and whose exit is still to be waited for.
#[derive(Debug)]
pub(crate) struct PendingStop {
    ctr: Container,
    signalled: bool,
    deadline: std::time::Instant,
}

impl PendingStop {
    /// The container's id.
    pub(crate) fn id(&self) -> &str {
        &self.ctr.config.id
    }
}

/// What `logs` reads.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Keep reading while the container runs.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
}

impl Runtime {
    /// Starts a container: conmon spawned detached (it outlives this
    /// process), the runtime's `create` through it, then `start`. Returns
    /// the container as running.
    pub fn start_container(&self, name_or_id: &str) -> Result<Container> {
        self.check_valid()?;
        let id = self.state().lookup_container(name_or_id)?.config.id;
        let (mut ctr, _guard) = self.lock_container(&id)?;
        match ctr.state.status {
            ContainerStatus::Running => return Ok(ctr),
            ContainerStatus::Paused | ContainerStatus::Removing => {
                return Err(Error::ContainerState {
                    name: ctr.config.name.clone(),
                    status: ctr.state.status.to_string(),
                    remedy: "unpause it, or stop it first",
                });
            }
            ContainerStatus::Configured => {}
            ContainerStatus::Created | ContainerStatus::Stopped | ContainerStatus::Exited => {
                // A runtime record from an earlier run: remove it first.
                self.delete_from_runtime(&ctr);
            }
        }
        self.create_in_runtime(&mut ctr)?;
        let runtime = self.oci_runtime(&ctr)?;
        if let Err(e) = runtime.start(&id) {
            self.delete_from_runtime(&ctr);
            ctr.state.status = ContainerStatus::Configured;
            ctr.state.pid = None;
            ctr.state.conmon_pid = None;
            self.state().update_container_state(&id, &ctr.state)?;
            return Err(e.into());
        }
        ctr.state.status = ContainerStatus::Running;
        ctr.state.started_at = Some(Timestamp::now());
        ctr.state.finished_at = None;
        ctr.state.exited = false;
        ctr.state.exit_code = 0;
        ctr.state.stopped_by_user = false;
        self.state().update_container_state(&id, &ctr.state)?;
        self.emit(container_event(EventStatus::Start, &ctr.config));
        Ok(ctr)
    }

    /// conmon + runtime `create`; on success the container is `created`.
    fn create_in_runtime(&self, ctr: &mut Container) -> Result<()> {
        let id = ctr.config.id.clone();
        let exit_dir = self.layout.exit_dir();
        let run_dir = self.layout.run_dir(&id);
        for (dir, mode) in [
            (&exit_dir, 0o700),
            (&run_dir, 0o700),
            (&self.layout.socket_dir(), 0o700),
        ] {
            make_dir(dir, mode)?;
        }
        let _ = std::fs::remove_file(exit_dir.join(&id));
        let bundle = self.layout.bundle_dir(&id);
        if !bundle.join("config.json").exists() {
            self.write_bundle(&ctr.config)?;
        }
        let runtime = self.oci_runtime(ctr)?;
        let exit_command = self.exit_command.as_ref().map(|(prog, args)| {
            let mut args = args.clone();
            args.push(id.clone());
            (prog.clone(), args)
        });
        let created = self.conmon.create(&CreateOptions {
            id: id.clone(),
            name: ctr.config.name.clone(),
            bundle_dir: bundle,
            runtime,
            exit_dir,
            log_path: ctr.config.log_path.clone(),
            pid_file: self.layout.pid_file(&id),
            conmon_pid_file: self.layout.conmon_pid_file(&id),
            socket_dir: self.layout.socket_dir(),
            log_level: String::new(),
            exit_command,
            terminal: ctr.config.terminal,
        })?;
        debug!(
            id,
            pid = created.pid,
            conmon = created.conmon_pid,
            "created in runtime"
        );
        ctr.state.status = ContainerStatus::Created;
        ctr.state.pid = u32::try_from(created.pid).ok();
        ctr.state.conmon_pid = u32::try_from(created.conmon_pid).ok();
        ctr.state.run_dir = Some(run_dir);
        self.state().update_container_state(&id, &ctr.state)?;
        self.emit(container_event(EventStatus::Init, &ctr.config));
        Ok(())
    }

    fn oci_runtime(&self, ctr: &Container) -> Result<&oxpod_ociruntime::OciRuntime> {
        self.runtimes.get(&ctr.config.oci_runtime).ok_or_else(|| {
            Error::Oci(oxpod_ociruntime::Error::InvalidConfig {
                message: format!(
                    "container {} uses OCI runtime {:?}, which is not configured; add it to [runtimes]",
                    ctr.config.name, ctr.config.oci_runtime
                ),
            })
        })
    }

    /// `runtime delete --force`, logging failures (the record may be gone).
    fn delete_from_runtime(&self, ctr: &Container) {
        if let Ok(rt) = self.oci_runtime(ctr)
            && let Err(e) = rt.delete(&ctr.config.id, true)
        {
            debug!(id = %ctr.config.id, error = %e, "runtime delete");
        }
    }

    /// Sends a signal to a running (or paused) container.
    pub fn kill_container(&self, name_or_id: &str, signal: i32) -> Result<Container> {
        self.check_valid()?;
        let id = self.state().lookup_container(name_or_id)?.config.id;
        let (ctr, _guard) = self.lock_container(&id)?;
        self.require_running(&ctr)?;
        self.oci_runtime(&ctr)?.kill(&id, signal, false)?;
        self.emit(
            container_event(EventStatus::Kill, &ctr.config)
                .with_attribute("signal", signal.to_string()),
        );
        Ok(ctr)
    }

    fn require_running(&self, ctr: &Container) -> Result<()> {
        if matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused
        ) {
            Ok(())
        } else {
            Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.to_string(),
                remedy: "it is not running; start it first",
            })
        }
    }

    /// Stops a container: its stop signal, then SIGKILL after `timeout`
    /// seconds (default: its own stop timeout). The lock is not held while
    /// waiting.
    pub fn stop_container(&self, name_or_id: &str, timeout: Option<u32>) -> Result<StopOutcome> {
        match self.begin_stop(name_or_id, timeout)? {
            Some(pending) => self.finish_stop(pending),
            None => Ok(StopOutcome::AlreadyStopped),
        }
    }

    /// First half of a stop, under the container's lock: marks it stopped
    /// by the user and sends its stop signal. `None` when it is not running.
    /// Several containers (a pod's) can be signalled first and then waited
    /// for together, so they all stop within one timeout.
    pub(crate) fn begin_stop(
        &self,
        name_or_id: &str,
        timeout: Option<u32>,
    ) -> Result<Option<PendingStop>> {
        self.check_valid()?;
        let id = self.state().lookup_container(name_or_id)?.config.id;
        let (ctr, _guard) = self.lock_container(&id)?;
        if !matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused
        ) {
            return Ok(None);
        }
        let timeout = timeout.unwrap_or(ctr.config.stop_timeout);
        let signal = i32::try_from(ctr.config.stop_signal).unwrap_or(15);
        let mut st = ctr.state.clone();
        st.stopped_by_user = true;
        self.state().update_container_state(&id, &st)?;
        if timeout > 0 {
            self.signal_for_stop(&ctr, signal)?;
            if st.status == ContainerStatus::Paused {
                // Resumed so the signal is delivered: it runs until it exits.
                st.status = ContainerStatus::Running;
                self.state().update_container_state(&id, &st)?;
            }
        }
        Ok(Some(PendingStop {
            ctr,
            signalled: timeout > 0,
            deadline: std::time::Instant::now() + Duration::from_secs(u64::from(timeout)),
        }))
    }

    /// Second half of a stop, without the lock while waiting: waits for the
    /// exit until the deadline, then SIGKILLs and waits again.
    pub(crate) fn finish_stop(&self, pending: PendingStop) -> Result<StopOutcome> {
        let PendingStop {
            ctr,
            signalled,
            deadline,
        } = pending;
        let id = ctr.config.id.clone();
        let rt = self.oci_runtime(&ctr)?;
        let mut outcome = None;
        if signalled {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let waited = self.wait_exit(&ctr, Some(left))?;
            outcome = waited.map(StopOutcome::Exited);
        }
        if outcome.is_none() {
            let (ctr, guard) = self.lock_container(&id)?;
            if matches!(
                ctr.state.status,
                ContainerStatus::Running | ContainerStatus::Paused
            ) {
                if let Err(e) = rt.kill(&id, SIGKILL, true) {
                    debug!(id, error = %e, "SIGKILL");
                }
                if ctr.state.status == ContainerStatus::Paused {
                    let _ = rt.resume(&id);
                }
            }
            drop(guard);
            let code = self
                .wait_exit(&ctr, Some(Duration::from_secs(30)))?
                .ok_or_else(|| Error::WaitTimeout {
                    name: ctr.config.name.clone(),
                    seconds: 30,
                })?;
            outcome = Some(StopOutcome::Killed(code));
        }
        let (ctr, _guard) = self.lock_container(&id)?;
        self.emit(container_event(EventStatus::Stop, &ctr.config));
        Ok(outcome.unwrap_or(StopOutcome::AlreadyStopped))
    }

    /// Waits for conmon's exit file like [`oxpod_ociruntime::wait_exit_file`]
    /// and also notices a conmon that died without writing one (killed,
    /// OOM): once the runtime then reports the container stopped, or has no
    /// record of it, the exit file is written here with code -1 (unknown, as
    /// podman records it), so stop, rm -f, wait and ps see an exit instead of
    /// waiting forever.
    fn wait_exit(&self, ctr: &Container, timeout: Option<Duration>) -> Result<Option<i32>> {
        let exit_dir = self.layout.exit_dir();
        let id = &ctr.config.id;
        let Some(conmon) = ctr.state.conmon_pid else {
            return Ok(oxpod_ociruntime::wait_exit_file(&exit_dir, id, timeout)?);
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let step = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(CONMON_CHECK),
                None => CONMON_CHECK,
            };
            if let Some(code) = oxpod_ociruntime::wait_exit_file(&exit_dir, id, Some(step))? {
                return Ok(Some(code));
            }
            if !conmon_alive(conmon) {
                // conmon writes the exit file before it exits: look once more.
                if let Some(code) = oxpod_ociruntime::read_exit_file(&exit_dir, id)? {
                    return Ok(Some(code));
                }
                // Removed meanwhile (its exit file with it): no file to write.
                self.state().container(id)?;
                if self.runtime_says_stopped(ctr) {
                    warn!(
                        id,
                        conmon, "conmon died without writing an exit file; recording exit code -1"
                    );
                    write_exit_file(&exit_dir, id, UNKNOWN_EXIT_CODE)?;
                    return Ok(Some(UNKNOWN_EXIT_CODE));
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Whether the OCI runtime reports the container stopped or gone.
    fn runtime_says_stopped(&self, ctr: &Container) -> bool {
        let Ok(rt) = self.oci_runtime(ctr) else {
            return false;
        };
        match rt.state(&ctr.config.id) {
            Ok(st) => st.status_kind() == oxpod_ociruntime::RuntimeStatus::Stopped,
            Err(oxpod_ociruntime::Error::NoSuchContainer { .. }) => true,
            Err(e) => {
                debug!(id = %ctr.config.id, error = %e, "runtime state");
                false
            }
        }
    }

    /// Sends the stop signal, unpausing first so it can be delivered.
    fn signal_for_stop(&self, ctr: &Container, signal: i32) -> Result<()> {
        let rt = self.oci_runtime(ctr)?;
        rt.kill(&ctr.config.id, signal, false)?;
        if ctr.state.status == ContainerStatus::Paused {
            rt.resume(&ctr.config.id)?;
        }
        Ok(())
    }

    /// Under the container's lock (removal with force): SIGKILL and wait for
    /// conmon's exit file (conmon needs no lock of ours to write it).
    pub(crate) fn stop_locked(&self, ctr: &Container, _timeout: Option<u32>) -> Result<()> {
        let id = &ctr.config.id;
        let rt = self.oci_runtime(ctr)?;
        if let Err(e) = rt.kill(id, SIGKILL, true) {
            debug!(id, error = %e, "SIGKILL");
        }
        if ctr.state.status == ContainerStatus::Paused {
            let _ = rt.resume(id);
        }
        match self.wait_exit(ctr, Some(Duration::from_secs(30)))? {
            Some(_) => {
                let mut fresh = ctr.clone();
                self.sync_locked(&mut fresh)?;
                Ok(())
            }
            None => Err(Error::WaitTimeout {
                name: ctr.config.name.clone(),
                seconds: 30,
            }),
        }
    }

    /// Waits until the container exits and returns its exit code. Holds no
    /// lock while waiting; any number of processes may wait at once.
    pub fn wait_container(&self, name_or_id: &str) -> Result<i32> {
        self.check_valid()?;
        let ctr = self.container(name_or_id)?;
        let id = ctr.config.id.clone();
        match ctr.state.status {
            ContainerStatus::Exited | ContainerStatus::Stopped => return Ok(ctr.state.exit_code),
            ContainerStatus::Configured if !ctr.state.exited => {
                // Never started: podman waits for a start; we wait for the exit file.
            }
            ContainerStatus::Configured => return Ok(ctr.state.exit_code),
            _ => {}
        }
        let code = self.wait_exit(&ctr, None)?.unwrap_or_default();
        // Save the exit (and its one died event) if nobody did yet.
        match self.lock_container(&id) {
            Ok((ctr, _guard)) if ctr.state.exited => Ok(ctr.state.exit_code),
            Ok(_) | Err(Error::State(oxpod_state::Error::NotFound { .. })) => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// Freezes a running container.
    pub fn pause_container(&self, name_or_id: &str) -> Result<Container> {
        self.set_paused(name_or_id, true)
    }

    /// Thaws a paused container.
    pub fn unpause_container(&self, name_or_id: &str) -> Result<Container> {
        self.set_paused(name_or_id, false)
    }

    fn set_paused(&self, name_or_id: &str, pause: bool) -> Result<Container> {
        self.check_valid()?;
        let id = self.state().lookup_container(name_or_id)?.config.id;
        let (mut ctr, _guard) = self.lock_container(&id)?;
        let (want, to, status) = if pause {
            (
                ContainerStatus::Running,
                ContainerStatus::Paused,
                EventStatus::Pause,
            )
        } else {
            (
                ContainerStatus::Paused,
                ContainerStatus::Running,
                EventStatus::Unpause,
            )
        };
        if ctr.state.status != want {
            return Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.to_string(),
                remedy: if pause {
                    "only a running container can be paused"
                } else {
                    "only a paused container can be unpaused"
                },
            });
        }
        let rt = self.oci_runtime(&ctr)?;
        if pause {
            rt.pause(&id)?;
        } else {
            rt.resume(&id)?;
        }
        ctr.state.status = to;
        self.state().update_container_state(&id, &ctr.state)?;
        self.emit(container_event(status, &ctr.config));
        Ok(ctr)
    }

    /// Stops (if running) and starts a container again.
    pub fn restart_container(&self, name_or_id: &str, timeout: Option<u32>) -> Result<Container> {
        let id = self.state().lookup_container(name_or_id)?.config.id;
        self.stop_container(&id, timeout)?;
        let ctr = self.start_container(&id)?;
        self.emit(container_event(EventStatus::Restart, &ctr.config));
        Ok(ctr)
    }

    /// Reads the container's output from conmon's log; with `follow`, goes
    /// on while it runs. `sink` returns false to stop.
    pub fn container_logs(
        &self,
        name_or_id: &str,
        options: &LogsOptions,
        sink: impl FnMut(LogLine) -> bool,
    ) -> Result<()> {
        self.check_valid()?;
        let ctr = self.container(name_or_id)?;
        let exit_file = self.layout.exit_dir().join(&ctr.config.id);
        let running = matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Created
        );
        let log_options = LogOptions {
            follow: options.follow && running,
            tail: options.tail,
            ..LogOptions::default()
        };
        oxpod_ociruntime::read_log(
            &ctr.config.log_path,
            &log_options,
            || !exit_file.exists(),
            sink,
        )?;
        Ok(())
    }

    /// What conmon runs after a container exits (`oxpod container cleanup
    /// ID`): saves the exit and its `died` event, deletes the runtime's
    /// record, and removes the container when it was made with `--rm`.
    pub fn cleanup_container(&self, id: &str) -> Result<()> {
        self.check_valid()?;
        let (ctr, guard) = match self.lock_container(id) {
            Ok(x) => x,
            // Removed already (e.g. `rm -f` raced us): nothing to do.
            Err(Error::State(oxpod_state::Error::NotFound { .. })) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !ctr.state.exited {
            return Ok(());
        }
        self.delete_from_runtime(&ctr);
        self.emit(container_event(EventStatus::Cleanup, &ctr.config));
        drop(guard);
        if ctr.config.auto_remove {
            match self.remove_container(id, false) {
                Ok(_) | Err(Error::State(oxpod_state::Error::NotFound { .. })) => {}
                Err(e) => warn!(id, error = %e, "cannot auto-remove"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conmon_alive_needs_a_live_conmon() {
        // This process is alive but not conmon; a pid past pid_max is gone.
        assert!(!conmon_alive(std::process::id()));
        assert!(!conmon_alive(u32::MAX));
    }

    #[test]
    fn written_exit_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        write_exit_file(dir.path(), "abc", UNKNOWN_EXIT_CODE).unwrap();
        assert_eq!(
            oxpod_ociruntime::read_exit_file(dir.path(), "abc").unwrap(),
            Some(-1)
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["abc"], "no temporary file is left");
    }
}
