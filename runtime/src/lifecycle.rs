//! Running containers (the containers service, continued): start, stop,
//! kill, wait, pause, unpause, restart, logs and the cleanup conmon
//! triggers when a container exits.
//!
//! A container's lock is held for each state change and never while
//! waiting for it to exit, so `stop`, `ps`, `wait` and `rm -f` in other
//! processes go on while one waits.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::sys::signal::Signal;
use oxpod_events::EventStatus;
use oxpod_ociruntime::{CreateRequest, LogLine, LogOptions, Waited};
use oxpod_state::{Container, ContainerStatus};
use tracing::{debug, warn};

use crate::ledger::{Ledger, Step};
use crate::{ContainerRef, Containers, Error, Result, container_event};

/// How long a SIGKILLed container may take to be reported dead.
const KILL_WAIT: Duration = Duration::from_secs(30);

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
    deadline: Instant,
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
    /// Only lines written at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Only lines written at or before this time.
    pub until: Option<jiff::Timestamp>,
}

fn is_running(status: ContainerStatus) -> bool {
    matches!(status, ContainerStatus::Running | ContainerStatus::Paused)
}

impl<'r> Containers<'r> {
    /// Starts a container: conmon spawned detached (it outlives this
    /// process), the runtime's `create` through it, then `start`. Returns
    /// the container as running.
    pub fn start(&self, r: &ContainerRef) -> Result<Container> {
        Ok(self.start_inner(r, false)?.0)
    }

    /// [`Containers::start`], attached: the container's attach socket is
    /// connected after conmon made it and before the process starts, so
    /// none of its output is missed (a running container is attached as
    /// it is). The socket carries its stdio (stdin when made with `-i`).
    pub fn start_attached(&self, r: &ContainerRef) -> Result<(Container, OwnedFd)> {
        let (ctr, socket) = self.start_inner(r, true)?;
        match socket {
            Some(s) => Ok((ctr, s)),
            None => Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.podman_word().to_owned(),
                remedy: "it has no attach socket",
            }),
        }
    }

    /// Attaches to a running container: its attach socket, connected.
    pub fn attach(&self, r: &ContainerRef) -> Result<(Container, OwnedFd)> {
        let rt = self.rt;
        rt.check_valid()?;
        let (ctr, _guard) = self.lock(r)?;
        self.require_running(&ctr)?;
        let socket = self.connect_attach(&ctr)?;
        rt.emit(container_event(EventStatus::Attach, &ctr.config));
        Ok((ctr, socket))
    }

    /// Connects to the attach socket of a running container's conmon; a
    /// conmon that died is named as such, not as a refused connection.
    fn connect_attach(&self, ctr: &Container) -> Result<OwnedFd> {
        let bundle = self.rt.layout.bundle_dir(&ctr.config.id);
        match oxpod_ociruntime::connect_attach(&bundle) {
            Ok(socket) => Ok(socket),
            Err(e) => match ctr.state.conmon_pid {
                Some(pid) if !self.rt.driver.monitor_alive(pid) => Err(Error::MonitorGone {
                    name: ctr.config.name.clone(),
                    pid,
                }),
                _ => Err(e.into()),
            },
        }
    }

    /// The container's `ctl` fifo (terminal resizes), made by its conmon.
    pub fn ctl_path(&self, ctr: &Container) -> std::path::PathBuf {
        self.rt.layout.bundle_dir(&ctr.config.id).join("ctl")
    }

    fn start_inner(&self, r: &ContainerRef, attach: bool) -> Result<(Container, Option<OwnedFd>)> {
        self.rt.check_valid()?;
        self.start_pod_infra(r)?;
        let (mut ctr, _guard) = self.lock(r)?;
        // A start by the user begins the restart count again (podman's).
        if !is_running(ctr.state.status) {
            ctr.state.restart_count = 0;
        }
        self.start_locked(ctr, attach)
    }

    /// A pod member's start begins with its infra container's (podman's):
    /// the member joins the infra's network namespace. Holds no lock.
    fn start_pod_infra(&self, r: &ContainerRef) -> Result<()> {
        let ctr = self.rt.state().container(&r.id)?;
        let Some(target) = ctr.config.network_mode.strip_prefix("container:") else {
            return Ok(());
        };
        let infra = match self.rt.state().container(target) {
            Ok(t) if t.config.is_infra => t,
            _ => return Ok(()),
        };
        if !is_running(infra.state.status) {
            self.start(&ContainerRef::from(&infra))?;
        }
        Ok(())
    }

    /// Starts a container whose lock the caller holds.
    fn start_locked(
        &self,
        mut ctr: Container,
        attach: bool,
    ) -> Result<(Container, Option<OwnedFd>)> {
        let rt = self.rt;
        let connect = |ctr: &Container| -> Result<Option<OwnedFd>> {
            if !attach {
                return Ok(None);
            }
            let socket = self.connect_attach(ctr)?;
            rt.emit(container_event(EventStatus::Attach, &ctr.config));
            Ok(Some(socket))
        };
        match ctr.state.status {
            ContainerStatus::Running => {
                let socket = connect(&ctr)?;
                return Ok((ctr, socket));
            }
            ContainerStatus::Paused | ContainerStatus::Removing => {
                return Err(Error::ContainerState {
                    name: ctr.config.name.clone(),
                    status: ctr.state.status.podman_word().to_owned(),
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
        let socket = match connect(&ctr) {
            Ok(s) => s,
            Err(e) => {
                self.delete_from_runtime(&ctr);
                ctr.state.status = ContainerStatus::Configured;
                rt.networks().teardown(&mut ctr);
                rt.state()
                    .update_container_state(&ctr.config.id, &ctr.state)?;
                return Err(e);
            }
        };
        if let Err(e) = rt.driver.start(&ctr.config.oci_runtime, &ctr.config.id) {
            self.delete_from_runtime(&ctr);
            ctr.state.status = ContainerStatus::Configured;
            ctr.state.pid = None;
            ctr.state.conmon_pid = None;
            rt.networks().teardown(&mut ctr);
            rt.state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
            return Err(e.into());
        }
        ctr.state.status = ContainerStatus::Running;
        ctr.state.started_at = Some(Timestamp::now());
        ctr.state.finished_at = None;
        ctr.state.exited = false;
        ctr.state.exit_code = 0;
        ctr.state.stopped_by_user = false;
        // A health check starts `starting` (its earlier results kept, as
        // podman's) until its first run.
        if ctr
            .config
            .healthcheck
            .as_ref()
            .is_some_and(|h| h.test.first().is_some_and(|t| t != "NONE"))
        {
            let mut health = ctr.state.health.take().unwrap_or_default();
            health.status = "starting".to_owned();
            health.failing_streak = 0;
            ctr.state.health = Some(health);
        }
        rt.state()
            .update_container_state(&ctr.config.id, &ctr.state)?;
        rt.emit(container_event(EventStatus::Start, &ctr.config));
        Ok((ctr, socket))
    }

    /// conmon + runtime `create`; on success the container is `created`.
    /// Journalled: a command killed between conmon's create and the state
    /// write leaves a runtime record the next open deletes.
    fn create_in_runtime(&self, ctr: &mut Container) -> Result<()> {
        let rt = self.rt;
        let id = ctr.config.id.clone();
        self.require_runtime(ctr)?;
        let bundle = rt.layout.bundle_dir(&id);
        if !bundle.join(oxpod_ociruntime::BUNDLE_CONFIG).exists() {
            self.write_bundle(&ctr.config)?;
        }
        let exit_command = rt.exit_command.as_ref().map(|(prog, args)| {
            let mut args = args.clone();
            args.push(id.clone());
            (prog.clone(), args)
        });
        let run_dir = rt.layout.run_dir(&id);
        let root = match &ctr.config.image_id {
            Some(image_id) => {
                let root = rt.images().mount_root(&id, image_id)?;
                debug!(id, root = %root.display(), "mounted the container's root");
                root
            }
            None => ctr.config.rootfs.clone(),
        };
        rt.volumes().prepare_for(&ctr.config, &root)?;
        // The pod's shared /etc/hosts names every member, this one too.
        if let Some(pod) = &ctr.config.pod
            && !crate::mounts::covered(&ctr.config.mounts, "/etc/hosts")
        {
            self.write_pod_hosts(pod)?;
        }
        fresh_overlay_layers(&ctr.config, &bundle)?;
        let mut ledger = Ledger::begin(rt, "start", false)?;
        if ctr.config.network_mode == "bridge" {
            ledger.note(Step::Network { id: id.clone() })?;
        }
        rt.networks().setup(ctr)?;
        // The published ports held by conmon while it runs (podman's port
        // reservation): nothing on the host can bind them meanwhile.
        let held = match rt.networks().reserve_ports(ctr) {
            Ok(h) => h,
            Err(e) => {
                self.free_network(ctr);
                return Err(e);
            }
        };
        ledger.note(Step::Runtime {
            runtime: ctr.config.oci_runtime.clone(),
            id: id.clone(),
        })?;
        let created = rt.driver.create(&CreateRequest {
            id: &id,
            name: &ctr.config.name,
            runtime: &ctr.config.oci_runtime,
            bundle_dir: &bundle,
            run_dir: &run_dir,
            log_path: &ctr.config.log_path,
            terminal: ctr.config.terminal,
            stdin: ctr.config.interactive,
            exit_command,
            hold: &held,
        });
        drop(held);
        let created = match created {
            Ok(c) => c,
            Err(e) => {
                self.free_network(ctr);
                return Err(e.into());
            }
        };
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
        rt.state().update_container_state(&id, &ctr.state)?;
        ledger.commit();
        rt.emit(container_event(EventStatus::Init, &ctr.config));
        Ok(())
    }

    /// Tears down a run's network that got no further (its lease freed
    /// by the state write); a failure to write is logged.
    fn free_network(&self, ctr: &mut Container) {
        if ctr.state.netns.is_none() {
            return;
        }
        self.rt.networks().teardown(ctr);
        if let Err(e) = self
            .rt
            .state()
            .update_container_state(&ctr.config.id, &ctr.state)
        {
            warn!(id = %ctr.config.id, error = %e, "cannot free the container's addresses");
        }
    }

    /// Fails when the container's OCI runtime is not configured (any more).
    fn require_runtime(&self, ctr: &Container) -> Result<()> {
        if self.rt.driver.has_runtime(&ctr.config.oci_runtime) {
            Ok(())
        } else {
            Err(Error::RuntimeNotConfigured {
                name: ctr.config.name.clone(),
                runtime: ctr.config.oci_runtime.clone(),
            })
        }
    }

    /// `runtime delete --force`, logging failures (the record may be gone).
    fn delete_from_runtime(&self, ctr: &Container) {
        if let Err(e) = self
            .rt
            .driver
            .delete(&ctr.config.oci_runtime, &ctr.config.id, true)
        {
            debug!(id = %ctr.config.id, error = %e, "runtime delete");
        }
    }

    /// Sends a signal (a number, 1 to 64) to a running (or paused)
    /// container.
    pub fn kill(&self, r: &ContainerRef, signal: i32) -> Result<Container> {
        let rt = self.rt;
        rt.check_valid()?;
        let (mut ctr, _guard) = self.lock(r)?;
        self.require_running(&ctr)?;
        rt.driver
            .kill(&ctr.config.oci_runtime, &ctr.config.id, signal, false)?;
        // A kill is the user's as a stop is: no restart policy undoes it.
        if !ctr.state.stopped_by_user {
            ctr.state.stopped_by_user = true;
            rt.state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
        }
        rt.emit(
            container_event(EventStatus::Kill, &ctr.config)
                .with_attribute("signal", signal.to_string()),
        );
        Ok(ctr)
    }

    fn require_running(&self, ctr: &Container) -> Result<()> {
        if is_running(ctr.state.status) {
            Ok(())
        } else {
            Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.podman_word().to_owned(),
                remedy: "it is not running; start it first",
            })
        }
    }

    /// Stops a container: its stop signal, then SIGKILL after `timeout`
    /// seconds (default: its own stop timeout). The lock is not held while
    /// waiting.
    pub fn stop(&self, r: &ContainerRef, timeout: Option<u32>) -> Result<StopOutcome> {
        match self.begin_stop(r, timeout)? {
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
        r: &ContainerRef,
        timeout: Option<u32>,
    ) -> Result<Option<PendingStop>> {
        let rt = self.rt;
        rt.check_valid()?;
        let (ctr, _guard) = self.lock(r)?;
        if !is_running(ctr.state.status) {
            return Ok(None);
        }
        let timeout = timeout.unwrap_or(ctr.config.stop_timeout);
        let signal = i32::try_from(ctr.config.stop_signal).unwrap_or(Signal::SIGTERM as i32);
        let mut st = ctr.state.clone();
        st.stopped_by_user = true;
        rt.state().update_container_state(&r.id, &st)?;
        if timeout > 0 {
            self.signal(&ctr, signal)?;
            if st.status == ContainerStatus::Paused {
                // Resumed so the signal is delivered: it runs until it exits.
                st.status = ContainerStatus::Running;
                rt.state().update_container_state(&r.id, &st)?;
            }
        }
        Ok(Some(PendingStop {
            ctr,
            signalled: timeout > 0,
            deadline: Instant::now() + Duration::from_secs(u64::from(timeout)),
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
        let r = ContainerRef::from(&ctr);
        let mut outcome = None;
        if signalled {
            let left = deadline.saturating_duration_since(Instant::now());
            outcome = self.wait_exit(&ctr, Some(left))?.map(StopOutcome::Exited);
        }
        let outcome = match outcome {
            Some(o) => o,
            None => match self.begin_kill(&r)? {
                Some(p) => StopOutcome::Killed(self.finish_kill(p)?),
                None => StopOutcome::AlreadyStopped,
            },
        };
        let (mut ctr, _guard) = self.lock(&r)?;
        // Its network goes with the stop (podman's), not only with conmon's
        // exit command, which may come later: its addresses are free once
        // `stop` returns.
        if ctr.state.exited && !is_running(ctr.state.status) && ctr.state.netns.is_some() {
            self.free_network(&mut ctr);
        }
        self.rt
            .emit(container_event(EventStatus::Stop, &ctr.config));
        Ok(outcome)
    }

    /// Under the container's lock, briefly: SIGKILL (thawing it if
    /// paused). `None` when it is not running.
    pub(crate) fn begin_kill(&self, r: &ContainerRef) -> Result<Option<Container>> {
        let (mut ctr, guard) = self.lock(r)?;
        if !is_running(ctr.state.status) {
            return Ok(None);
        }
        // The user's (a stop's last resort, an `rm -f`): no restart policy
        // brings it back while we wait for it.
        if !ctr.state.stopped_by_user {
            ctr.state.stopped_by_user = true;
            self.rt
                .state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
        }
        let (runtime, id) = (&ctr.config.oci_runtime, &ctr.config.id);
        if let Err(e) = self
            .rt
            .driver
            .kill(runtime, id, Signal::SIGKILL as i32, true)
        {
            debug!(id, error = %e, "SIGKILL");
        }
        if ctr.state.status == ContainerStatus::Paused {
            let _ = self.rt.driver.resume(runtime, id);
        }
        drop(guard);
        Ok(Some(ctr))
    }

    /// Without the lock: waits for a SIGKILLed container's exit, then saves
    /// it under the lock. Returns the exit code.
    pub(crate) fn finish_kill(&self, ctr: Container) -> Result<i32> {
        let code = self
            .wait_exit(&ctr, Some(KILL_WAIT))?
            .ok_or_else(|| Error::WaitTimeout {
                name: ctr.config.name.clone(),
                seconds: KILL_WAIT.as_secs(),
            })?;
        // Saves the exit (and its died event) under the lock.
        match self.lock(&ContainerRef::from(&ctr)) {
            Ok(_) => Ok(code),
            Err(e) if e.is_not_found() => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// `rm -f`'s first step: kill a running container and wait for it,
    /// holding no lock while it dies.
    pub(crate) fn kill_for_removal(&self, r: &ContainerRef) -> Result<()> {
        if let Some(ctr) = self.begin_kill(r)? {
            self.finish_kill(ctr)?;
        }
        Ok(())
    }

    /// Waits for the container's exit (also noticing a conmon that died
    /// without recording one). `None` when the timeout passed first.
    fn wait_exit(&self, ctr: &Container, timeout: Option<Duration>) -> Result<Option<i32>> {
        let rt = self.rt;
        let id = &ctr.config.id;
        let still_there = || rt.state().has_container(id).unwrap_or(true);
        match rt.driver.wait_exit(
            &ctr.config.oci_runtime,
            id,
            ctr.state.conmon_pid,
            timeout,
            &still_there,
        )? {
            Waited::Exited(code) => Ok(Some(code)),
            Waited::TimedOut => Ok(None),
            // Removed meanwhile: reading it gives the not-found error.
            Waited::Gone => {
                rt.state().container(id)?;
                Ok(None)
            }
        }
    }

    /// Sends the stop signal, unpausing first so it can be delivered.
    fn signal(&self, ctr: &Container, signal: i32) -> Result<()> {
        let (runtime, id) = (&ctr.config.oci_runtime, &ctr.config.id);
        self.rt.driver.kill(runtime, id, signal, false)?;
        if ctr.state.status == ContainerStatus::Paused {
            self.rt.driver.resume(runtime, id)?;
        }
        Ok(())
    }

    /// Waits until the container exits and returns its exit code. Holds no
    /// lock while waiting; any number of processes may wait at once.
    pub fn wait(&self, r: &ContainerRef) -> Result<i32> {
        self.rt.check_valid()?;
        let ctr = self.get(r)?;
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
        match self.lock(r) {
            Ok((ctr, _guard)) if ctr.state.exited => Ok(ctr.state.exit_code),
            Ok(_) => Ok(code),
            Err(e) if e.is_not_found() => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// Waits until the container's status is one of `states` (podman's
    /// `wait --condition`), reading its record every `interval`; a status
    /// of exited or stopped is found through the exit file as in
    /// [`Containers::wait`]. Returns the container as found. A container
    /// removed meanwhile is an error (not found).
    pub fn wait_for(
        &self,
        r: &ContainerRef,
        states: &[ContainerStatus],
        interval: std::time::Duration,
    ) -> Result<Container> {
        self.rt.check_valid()?;
        let exit_states = [ContainerStatus::Exited, ContainerStatus::Stopped];
        if !states.is_empty() && states.iter().all(|s| exit_states.contains(s)) {
            self.wait(r)?;
            return self.get(r);
        }
        loop {
            let ctr = self.get(r)?;
            if states.contains(&ctr.state.status) {
                return Ok(ctr);
            }
            // An exit not yet recorded (conmon's cleanup is on its way).
            if is_running(ctr.state.status)
                && states.iter().any(|s| exit_states.contains(s))
                && matches!(self.rt.driver.exit(&ctr.config.id), Ok(Some(_)))
            {
                self.wait(r)?;
                return self.get(r);
            }
            std::thread::sleep(interval);
        }
    }

    /// Freezes a running container.
    pub fn pause(&self, r: &ContainerRef) -> Result<Container> {
        self.set_paused(r, true)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, r: &ContainerRef) -> Result<Container> {
        self.set_paused(r, false)
    }

    fn set_paused(&self, r: &ContainerRef, pause: bool) -> Result<Container> {
        let rt = self.rt;
        rt.check_valid()?;
        let (mut ctr, _guard) = self.lock(r)?;
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
                status: ctr.state.status.podman_word().to_owned(),
                remedy: if pause {
                    "only a running container can be paused"
                } else {
                    "only a paused container can be unpaused"
                },
            });
        }
        let (runtime, id) = (&ctr.config.oci_runtime, &ctr.config.id);
        if pause {
            rt.driver.pause(runtime, id)?;
        } else {
            rt.driver.resume(runtime, id)?;
        }
        ctr.state.status = to;
        rt.state().update_container_state(&r.id, &ctr.state)?;
        rt.emit(container_event(status, &ctr.config));
        Ok(ctr)
    }

    /// Stops (if running) and starts a container again.
    pub fn restart(&self, r: &ContainerRef, timeout: Option<u32>) -> Result<Container> {
        self.stop(r, timeout)?;
        let ctr = self.start(r)?;
        self.rt
            .emit(container_event(EventStatus::Restart, &ctr.config));
        Ok(ctr)
    }

    /// Reads the container's output from conmon's log; with `follow`, goes
    /// on while it runs. `sink` returns false to stop.
    pub fn logs(
        &self,
        r: &ContainerRef,
        options: &LogsOptions,
        sink: impl FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let rt = self.rt;
        rt.check_valid()?;
        let ctr = self.get(r)?;
        let running = matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Created
        );
        let log_options = LogOptions {
            follow: options.follow && running,
            tail: options.tail,
            since: options.since,
            until: options.until,
        };
        let id = ctr.config.id.clone();
        oxpod_ociruntime::read_log(
            &ctr.config.log_path,
            &log_options,
            || matches!(rt.driver.exit(&id), Ok(None)),
            sink,
        )?;
        Ok(())
    }

    /// What conmon runs after a container exits (`oxpod container cleanup
    /// ID`): saves the exit and its `died` event, deletes the runtime's
    /// record, and removes the container when it was made with `--rm`.
    pub fn cleanup(&self, id: &str) -> Result<()> {
        let rt = self.rt;
        rt.check_valid()?;
        let r = match rt.state().container(id) {
            Ok(c) => ContainerRef::from(&c),
            // Removed already (e.g. `rm -f` raced us): nothing to do.
            Err(oxpod_state::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let (ctr, guard) = match self.lock(&r) {
            Ok(x) => x,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if !ctr.state.exited {
            return Ok(());
        }
        // Its exec sessions died with it.
        if let Err(e) = self.reap_sessions(&ctr, true) {
            warn!(id, error = %e, "cannot clear the exec sessions");
        }
        self.delete_from_runtime(&ctr);
        if ctr.config.image_id.is_some()
            && let Err(e) = rt.images().unmount_root(&ctr.config.id)
        {
            warn!(id, error = %e, "cannot unmount the container's root");
        }
        let mut ctr = ctr;
        if ctr.state.netns.is_some() {
            // The addresses are freed by this state write.
            rt.networks().teardown(&mut ctr);
            rt.state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
        }
        rt.emit(container_event(EventStatus::Cleanup, &ctr.config));
        if should_restart(&ctr) {
            rt.emit(container_event(EventStatus::Restart, &ctr.config));
            ctr.state.restart_count += 1;
            rt.state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
            debug!(id, count = ctr.state.restart_count, policy = %ctr.config.restart_policy, "restarting by policy");
            match self.start_locked(ctr, false) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    warn!(id, error = %e, "cannot restart the container by its restart policy");
                    drop(guard);
                    if let Ok(c) = rt.state().container(id) {
                        rt.volumes().release_for(&c.config);
                    }
                    return Ok(());
                }
            }
        }
        drop(guard);
        rt.volumes().release_for(&ctr.config);
        // A live `run --rm` client removes it itself, once it has read the
        // log and the exit code; without one (detached, or the client was
        // killed) it goes now.
        if ctr.config.auto_remove && !crate::ledger::attached_client_alive(rt, id) {
            match self.remove(&r, false) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => warn!(id, error = %e, "cannot auto-remove"),
            }
        }
        Ok(())
    }
}

/// Empty upper and work directories for each of the container's overlay
/// mounts (`:O`, a writable image mount): what the last run changed is
/// thrown away, as podman's.
fn fresh_overlay_layers(
    config: &oxpod_state::ContainerConfig,
    bundle: &std::path::Path,
) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for (index, m) in config.mounts.iter().enumerate() {
        if !crate::mounts::has_upper(m) {
            continue;
        }
        let (upper, work) = crate::mounts::overlay_dirs(bundle, index);
        if let Some(base) = upper.parent() {
            match std::fs::remove_dir_all(base) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", base, e)),
            }
        }
        for (dir, mode) in [(&upper, 0o755), (&work, 0o700)] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)
                .map_err(|e| Error::io("create", dir, e))?;
        }
    }
    Ok(())
}

/// Whether a container that exited on its own is started again by its
/// restart policy (podman's rules): `always` and `unless-stopped` unless
/// the user stopped or killed it; `on-failure` for a non-zero exit while
/// the retries last (`on-failure:N`; none given: no limit).
pub(crate) fn should_restart(ctr: &Container) -> bool {
    if ctr.state.stopped_by_user || ctr.config.auto_remove {
        return false;
    }
    match ctr.config.restart_policy.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            ctr.state.exit_code != 0
                && (ctr.config.restart_retries == 0
                    || ctr.state.restart_count < ctr.config.restart_retries)
        }
        _ => false,
    }
}

/// `--restart no|on-failure[:N]|always|unless-stopped` as podman parses
/// it: the policy and its retries (only `on-failure` takes some).
pub fn parse_restart(spec: &str) -> Result<(String, u32)> {
    let bad = |reason: &str| Error::InvalidArgument {
        what: format!("--restart {spec:?}"),
        reason: reason.to_owned(),
    };
    let (policy, retries) = match spec.split_once(':') {
        Some((p, n)) => (
            p,
            Some(
                n.parse::<u32>()
                    .map_err(|_| bad("the retry count must be a number"))?,
            ),
        ),
        None => (spec, None),
    };
    match (policy, retries) {
        ("" | "no", None) => Ok((String::new(), 0)),
        ("on-failure", n) => Ok(("on-failure".to_owned(), n.unwrap_or(0))),
        ("always" | "unless-stopped", None) => Ok((policy.to_owned(), 0)),
        ("always" | "unless-stopped" | "no", Some(_)) => Err(bad(
            "restart policy retries can only be specified with on-failure",
        )),
        _ => Err(bad("must be no, on-failure[:N], always or unless-stopped")),
    }
}
