//! An in-memory [`Driver`]: containers are records with a status, a pid
//! and a monitor pid; nothing is spawned. It behaves as runc under conmon
//! does where the composer can tell (a container exists once created, a
//! signal ends it unless it ignores that signal, a delete of a running one
//! needs force, an exit is recorded once), and a test can make the next
//! call of a kind fail, end a container, or kill its monitor.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use oxpod_ociruntime::{
    CreateRequest, Created, Driver, Error, Exit, Programs, Result, RuntimeState, UNKNOWN_EXIT_CODE,
    Waited,
};

/// The calls a test can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// [`Driver::create`].
    Create,
    /// [`Driver::start`].
    Start,
    /// [`Driver::kill`].
    Kill,
    /// [`Driver::delete`].
    Delete,
    /// [`Driver::pause`].
    Pause,
    /// [`Driver::resume`].
    Resume,
}

/// What the fake runtime knows of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeStatus {
    /// Created, waiting for start.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited.
    Stopped,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    runtime: String,
    status: FakeStatus,
    pid: u32,
    monitor: u32,
    /// A signal delivered while paused: the exit code it has on resume.
    pending_exit: Option<i32>,
}

type Failure = Box<dyn FnOnce(&str) -> Error + Send>;

#[derive(Default)]
struct FakeState {
    containers: BTreeMap<String, FakeContainer>,
    exits: BTreeMap<String, Exit>,
    archived: BTreeMap<String, Exit>,
    live_monitors: BTreeSet<u32>,
    ignored: BTreeSet<i32>,
    failures: BTreeMap<Op, VecDeque<Failure>>,
    calls: Vec<String>,
    next_pid: u32,
}

/// The fake driver. One runtime, `fake`, is the default; more can be
/// added with [`FakeDriver::with_runtime`].
pub struct FakeDriver {
    runtimes: BTreeMap<String, PathBuf>,
    default: String,
    state: Mutex<FakeState>,
    changed: Condvar,
}

impl std::fmt::Debug for FakeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDriver")
            .field("runtimes", &self.runtimes)
            .finish_non_exhaustive()
    }
}

impl Default for FakeDriver {
    fn default() -> Self {
        Self::new()
    }
}

/// SIGKILL: never ignored.
const SIGKILL: i32 = 9;

impl FakeDriver {
    /// A driver with the one runtime `fake`.
    pub fn new() -> Self {
        FakeDriver {
            runtimes: [("fake".to_owned(), PathBuf::from("/fake/bin/fake-runtime"))].into(),
            default: "fake".to_owned(),
            state: Mutex::new(FakeState {
                next_pid: 1000,
                ..FakeState::default()
            }),
            changed: Condvar::new(),
        }
    }

    /// Adds a runtime named `name`.
    pub fn with_runtime(mut self, name: &str) -> Self {
        self.runtimes
            .insert(name.to_owned(), PathBuf::from(format!("/fake/bin/{name}")));
        self
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the next call of `op` fail with what `error` returns (given
    /// the container id). Several queue up in order.
    pub fn fail_next(&self, op: Op, error: impl FnOnce(&str) -> Error + Send + 'static) {
        self.lock()
            .failures
            .entry(op)
            .or_default()
            .push_back(Box::new(error));
    }

    /// Containers ignore `signal` from now on (SIGKILL cannot be ignored).
    pub fn ignore_signal(&self, signal: i32) {
        self.lock().ignored.insert(signal);
    }

    /// The container's process exits with `code`: its monitor records it
    /// and exits.
    pub fn finish(&self, id: &str, code: i32) {
        let mut st = self.lock();
        Self::record_exit(&mut st, id, code);
        self.changed.notify_all();
    }

    /// The container's monitor dies without recording an exit (conmon
    /// killed); the container's process goes with it.
    pub fn kill_monitor(&self, id: &str) {
        let mut st = self.lock();
        if let Some(c) = st.containers.get_mut(id) {
            c.status = FakeStatus::Stopped;
            let m = c.monitor;
            st.live_monitors.remove(&m);
        }
        self.changed.notify_all();
    }

    /// What the fake runtime knows of `id` (`None`: no record).
    pub fn status(&self, id: &str) -> Option<FakeStatus> {
        self.lock().containers.get(id).map(|c| c.status)
    }

    /// Every call made so far, as `op id` (`kill id 15`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// How many containers the fake runtime has a record of.
    pub fn len(&self) -> usize {
        self.lock().containers.len()
    }

    /// Whether it has no container record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record_exit(st: &mut FakeState, id: &str, code: i32) {
        if let Some(c) = st.containers.get_mut(id) {
            if c.status == FakeStatus::Stopped {
                return;
            }
            c.status = FakeStatus::Stopped;
            let m = c.monitor;
            st.live_monitors.remove(&m);
            st.exits.insert(
                id.to_owned(),
                Exit {
                    code,
                    at: SystemTime::now(),
                },
            );
        }
    }

    /// Logs the call, checks the runtime, and takes a queued failure.
    fn enter(
        &self,
        op: Option<Op>,
        call: String,
        runtime: &str,
        id: &str,
    ) -> Result<MutexGuard<'_, FakeState>> {
        let mut st = self.lock();
        st.calls.push(call);
        if !self.runtimes.contains_key(runtime) {
            return Err(Error::UnknownRuntime {
                name: runtime.to_owned(),
            });
        }
        if let Some(op) = op
            && let Some(f) = st.failures.get_mut(&op).and_then(VecDeque::pop_front)
        {
            return Err(f(id));
        }
        Ok(st)
    }

    /// The container, as the runtime `runtime` knows it (another runtime
    /// has no record of it).
    fn find<'s>(st: &'s mut FakeState, runtime: &str, id: &str) -> Result<&'s mut FakeContainer> {
        st.containers
            .get_mut(id)
            .filter(|c| c.runtime == runtime)
            .ok_or_else(|| Self::no_such(runtime, id))
    }

    fn no_such(runtime: &str, id: &str) -> Error {
        Error::NoSuchContainer {
            runtime: runtime.to_owned(),
            id: id.to_owned(),
            message: "container does not exist".to_owned(),
        }
    }

    fn refuse(runtime: &str, action: &'static str, id: &str, message: &str) -> Error {
        Error::Runtime {
            runtime: runtime.to_owned(),
            action,
            id: id.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl Driver for FakeDriver {
    fn programs(&self) -> Programs {
        Programs {
            conmon: PathBuf::from("/fake/bin/conmon"),
            runtimes: self.runtimes.clone(),
            default_runtime: self.default.clone(),
        }
    }

    fn default_runtime(&self) -> &str {
        &self.default
    }

    fn has_runtime(&self, name: &str) -> bool {
        self.runtimes.contains_key(name)
    }

    fn create(&self, r: &CreateRequest<'_>) -> Result<Created> {
        let mut st = self.enter(
            Some(Op::Create),
            format!("create {}", r.id),
            r.runtime,
            r.id,
        )?;
        if !Path::new(r.bundle_dir).join("config.json").is_file() {
            return Err(Error::MissingBundleConfig {
                dir: r.bundle_dir.to_path_buf(),
            });
        }
        if st.containers.contains_key(r.id) {
            return Err(Self::refuse(
                r.runtime,
                "create",
                r.id,
                "container with given ID already exists",
            ));
        }
        st.exits.remove(r.id);
        let pid = st.next_pid;
        st.next_pid += 2;
        st.live_monitors.insert(pid + 1);
        st.containers.insert(
            r.id.to_owned(),
            FakeContainer {
                runtime: r.runtime.to_owned(),
                status: FakeStatus::Created,
                pid,
                monitor: pid + 1,
                pending_exit: None,
            },
        );
        let as_i32 = |p: u32| i32::try_from(p).unwrap_or(i32::MAX);
        Ok(Created {
            pid: as_i32(pid),
            conmon_pid: as_i32(pid + 1),
        })
    }

    fn clear(&self, runtime: &str, id: &str, _run_dir: &Path, _bundle_dir: &Path) {
        let mut st = self.lock();
        st.calls.push(format!("clear {id}"));
        if st.containers.get(id).is_some_and(|c| c.runtime == runtime)
            && let Some(old) = st.containers.remove(id)
        {
            st.live_monitors.remove(&old.monitor);
        }
    }

    fn may_exist(&self, runtime: &str, id: &str) -> bool {
        self.lock()
            .containers
            .get(id)
            .is_some_and(|c| c.runtime == runtime)
    }

    fn start(&self, runtime: &str, id: &str) -> Result<()> {
        let mut st = self.enter(Some(Op::Start), format!("start {id}"), runtime, id)?;
        let c = Self::find(&mut st, runtime, id)?;
        if c.status != FakeStatus::Created {
            return Err(Self::refuse(
                runtime,
                "start",
                id,
                "cannot start a container that is not created",
            ));
        }
        c.status = FakeStatus::Running;
        Ok(())
    }

    fn kill(&self, runtime: &str, id: &str, signal: i32, all: bool) -> Result<()> {
        let call = format!("kill{} {id} {signal}", if all { " --all" } else { "" });
        let mut st = self.enter(Some(Op::Kill), call, runtime, id)?;
        let ignored = st.ignored.contains(&signal) && signal != SIGKILL;
        let c = Self::find(&mut st, runtime, id)?;
        match c.status {
            FakeStatus::Stopped if !all => {
                return Err(Error::NotRunning {
                    runtime: runtime.to_owned(),
                    id: id.to_owned(),
                    message: "container not running".to_owned(),
                });
            }
            FakeStatus::Stopped => return Ok(()),
            _ if ignored => return Ok(()),
            // SIGKILL reaches a frozen process; other signals wait for the thaw.
            FakeStatus::Paused if signal != SIGKILL => {
                c.pending_exit = Some(128 + signal);
                return Ok(());
            }
            _ => {}
        }
        Self::record_exit(&mut st, id, 128 + signal);
        self.changed.notify_all();
        Ok(())
    }

    fn delete(&self, runtime: &str, id: &str, force: bool) -> Result<()> {
        let call = format!("delete{} {id}", if force { " --force" } else { "" });
        let mut st = self.enter(Some(Op::Delete), call, runtime, id)?;
        let c = &*Self::find(&mut st, runtime, id)?;
        if c.status != FakeStatus::Stopped && !force {
            return Err(Self::refuse(
                runtime,
                "delete",
                id,
                "cannot delete a running container",
            ));
        }
        if c.status != FakeStatus::Stopped {
            Self::record_exit(&mut st, id, 128 + SIGKILL);
            self.changed.notify_all();
        }
        st.containers.remove(id);
        Ok(())
    }

    fn state(&self, runtime: &str, id: &str) -> Result<RuntimeState> {
        let mut st = self.enter(None, format!("state {id}"), runtime, id)?;
        let c = &*Self::find(&mut st, runtime, id)?;
        let status = match c.status {
            FakeStatus::Created => "created",
            FakeStatus::Running => "running",
            FakeStatus::Paused => "paused",
            FakeStatus::Stopped => "stopped",
        };
        Ok(RuntimeState {
            id: id.to_owned(),
            status: status.to_owned(),
            pid: i32::try_from(c.pid)
                .ok()
                .filter(|_| c.status != FakeStatus::Stopped),
            ..RuntimeState::default()
        })
    }

    fn pause(&self, runtime: &str, id: &str) -> Result<()> {
        let mut st = self.enter(Some(Op::Pause), format!("pause {id}"), runtime, id)?;
        let c = Self::find(&mut st, runtime, id)?;
        if c.status != FakeStatus::Running {
            return Err(Self::refuse(runtime, "pause", id, "container not running"));
        }
        c.status = FakeStatus::Paused;
        Ok(())
    }

    fn update(&self, runtime: &str, id: &str, resources_json: &[u8]) -> Result<()> {
        let mut st = self.enter(None, format!("update {id}"), runtime, id)?;
        let c = Self::find(&mut st, runtime, id)?;
        if !matches!(c.status, FakeStatus::Running | FakeStatus::Paused) {
            return Err(Self::refuse(runtime, "update", id, "container not running"));
        }
        if resources_json.is_empty() {
            return Err(Self::refuse(runtime, "update", id, "no resources given"));
        }
        Ok(())
    }

    fn resume(&self, runtime: &str, id: &str) -> Result<()> {
        let mut st = self.enter(Some(Op::Resume), format!("resume {id}"), runtime, id)?;
        let c = Self::find(&mut st, runtime, id)?;
        if c.status != FakeStatus::Paused {
            return Err(Self::refuse(runtime, "resume", id, "container not paused"));
        }
        c.status = FakeStatus::Running;
        if let Some(code) = c.pending_exit.take() {
            Self::record_exit(&mut st, id, code);
            self.changed.notify_all();
        }
        Ok(())
    }

    fn exit(&self, id: &str) -> Result<Option<Exit>> {
        Ok(self.lock().exits.get(id).copied())
    }

    fn wait_exit(
        &self,
        _runtime: &str,
        id: &str,
        monitor: Option<u32>,
        timeout: Option<Duration>,
        still_wanted: &dyn Fn() -> bool,
    ) -> Result<Waited> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if let Some(e) = st.exits.get(id) {
                return Ok(Waited::Exited(e.code));
            }
            if let Some(m) = monitor
                && !st.live_monitors.contains(&m)
            {
                drop(st);
                if !still_wanted() {
                    return Ok(Waited::Gone);
                }
                st = self.lock();
                let stopped = st
                    .containers
                    .get(id)
                    .is_none_or(|c| c.status == FakeStatus::Stopped);
                if stopped {
                    st.exits.insert(
                        id.to_owned(),
                        Exit {
                            code: UNKNOWN_EXIT_CODE,
                            at: SystemTime::now(),
                        },
                    );
                    return Ok(Waited::Exited(UNKNOWN_EXIT_CODE));
                }
            }
            let step = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Waited::TimedOut);
                    }
                    left.min(Duration::from_millis(50))
                }
                None => Duration::from_millis(50),
            };
            st = self
                .changed
                .wait_timeout(st, step)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn forget_exit(&self, id: &str) -> Result<()> {
        self.lock().exits.remove(id);
        Ok(())
    }

    fn archive_exit(&self, id: &str) -> Result<()> {
        let mut st = self.lock();
        if let Some(e) = st.exits.remove(id) {
            st.archived.insert(id.to_owned(), e);
        }
        Ok(())
    }

    fn monitor_alive(&self, pid: u32) -> bool {
        self.lock().live_monitors.contains(&pid)
    }

    /// The fake runs no processes, so it has no exec sessions: exec is
    /// tested end to end with conmon and runc.
    fn exec(
        &self,
        r: &oxpod_ociruntime::ExecRequest<'_>,
    ) -> oxpod_ociruntime::Result<oxpod_ociruntime::ExecStarted> {
        Err(oxpod_ociruntime::Error::Conmon {
            id: r.container_id.to_owned(),
            message: "the fake driver runs no exec sessions".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(id: &'a str, bundle: &'a Path) -> CreateRequest<'a> {
        CreateRequest {
            id,
            name: id,
            runtime: "fake",
            bundle_dir: bundle,
            run_dir: bundle,
            log_path: bundle,
            terminal: false,
            stdin: false,
            exit_command: None,
            hold: &[],
        }
    }

    #[test]
    fn behaves_as_a_runtime_would() {
        let dir = std::env::temp_dir().join(crate::unique("oxpod-fake"));
        std::fs::create_dir_all(&dir).unwrap();
        let d = FakeDriver::new();
        assert!(matches!(
            d.create(&request("a", &dir)),
            Err(Error::MissingBundleConfig { .. })
        ));
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        d.create(&request("a", &dir)).unwrap();
        assert!(
            d.create(&request("a", &dir)).is_err(),
            "a second create of one id"
        );
        d.start("fake", "a").unwrap();
        d.ignore_signal(15);
        d.kill("fake", "a", 15, false).unwrap();
        assert_eq!(d.status("a"), Some(FakeStatus::Running));
        assert!(d.delete("fake", "a", false).is_err());
        d.kill("fake", "a", 9, false).unwrap();
        assert_eq!(d.exit("a").unwrap().map(|e| e.code), Some(137));
        assert!(matches!(
            d.kill("fake", "a", 9, false),
            Err(Error::NotRunning { .. })
        ));
        d.delete("fake", "a", false).unwrap();
        assert!(d.is_empty());
        assert!(matches!(
            d.start("other", "a"),
            Err(Error::UnknownRuntime { .. })
        ));
        d.fail_next(Op::Create, |id| Error::InvalidId { id: id.to_owned() });
        assert!(matches!(
            d.create(&request("b", &dir)),
            Err(Error::InvalidId { .. })
        ));
        d.create(&request("b", &dir)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_dead_monitor_is_an_unknown_exit_unless_gone() {
        let dir = std::env::temp_dir().join(crate::unique("oxpod-fake"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        let d = FakeDriver::new();
        let c = d.create(&request("m", &dir)).unwrap();
        let monitor = Some(u32::try_from(c.conmon_pid).unwrap());
        let short = Some(Duration::from_millis(20));
        assert_eq!(
            d.wait_exit("fake", "m", monitor, short, &|| true).unwrap(),
            Waited::TimedOut
        );
        d.kill_monitor("m");
        assert_eq!(
            d.wait_exit("fake", "m", monitor, short, &|| false).unwrap(),
            Waited::Gone
        );
        assert_eq!(
            d.wait_exit("fake", "m", monitor, short, &|| true).unwrap(),
            Waited::Exited(UNKNOWN_EXIT_CODE)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
