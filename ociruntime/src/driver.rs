//! The seam between the composer and the processes that run containers:
//! the [`Driver`] trait, and [`ConmonDriver`], the real one (conmon plus
//! the discovered OCI runtimes, and the exit files conmon writes).
//!
//! The composer (`oxpod-runtime`) talks to containers only through a
//! `Driver`, so its own rules (locks, state transitions, rollback) can be
//! tested against a fake without root, runc or conmon; the fake lives in
//! `oxpod-test-support`. Everything about conmon's protocol (the exit
//! directory, exit files, a monitor that died) stays in this crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::conmon::{Conmon, CreateOptions, Created, private_dir, read_exit_file, wait_exit_file};
use crate::discovery::Runtimes;
use crate::error::{Error, Result};
use crate::runtime::{OciRuntime, RuntimeState, RuntimeStatus};

/// What a driver needs to create one container.
#[derive(Debug, Clone)]
pub struct CreateRequest<'a> {
    /// The container's id.
    pub id: &'a str,
    /// Its name (conmon's `-n`).
    pub name: &'a str,
    /// The OCI runtime to run it with, by name.
    pub runtime: &'a str,
    /// The bundle directory holding `config.json`; the log goes here too.
    pub bundle_dir: &'a Path,
    /// The per-boot directory for pid files.
    pub run_dir: &'a Path,
    /// The container's log (k8s-file).
    pub log_path: &'a Path,
    /// Allocate a terminal.
    pub terminal: bool,
    /// Keep the container's stdin open for attach clients.
    pub stdin: bool,
    /// What to run once the container has exited (program, arguments).
    pub exit_command: Option<(PathBuf, Vec<String>)>,
    /// Sockets conmon inherits and holds open while the container runs:
    /// its published host ports, reserved so nothing else takes them.
    pub hold: &'a [std::os::fd::OwnedFd],
}

/// What a driver needs to start one exec session.
#[derive(Debug, Clone)]
pub struct ExecRequest<'a> {
    /// The container's id.
    pub container_id: &'a str,
    /// The session's id.
    pub session_id: &'a str,
    /// The container's OCI runtime, by name.
    pub runtime: &'a str,
    /// The session's directory.
    pub session_dir: &'a Path,
    /// The OCI `process` to run.
    pub process: &'a serde_json::Value,
    /// A terminal.
    pub terminal: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Attach to it (false: detached, `exec -d`).
    pub attach: bool,
}

/// A container's recorded exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (-1: unknown, its monitor died without saying).
    pub code: i32,
    /// When it was recorded.
    pub at: SystemTime,
}

/// How a wait for an exit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// It exited with this code.
    Exited(i32),
    /// The timeout passed first.
    TimedOut,
    /// The caller's `still_wanted` said the container is gone (removed
    /// meanwhile): no exit will come.
    Gone,
}

/// The programs a driver runs, for `info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programs {
    /// The container monitor (conmon).
    pub conmon: PathBuf,
    /// Every usable OCI runtime: name → binary.
    pub runtimes: BTreeMap<String, PathBuf>,
    /// The default runtime's name.
    pub default_runtime: String,
}

/// The exit code recorded when a container's monitor died without writing
/// one (podman records the same).
pub const UNKNOWN_EXIT_CODE: i32 = -1;

/// Runs containers: create (with a monitor that outlives the caller),
/// start, signal, delete, state, pause, resume, and the exits the monitor
/// records. Every call names the OCI runtime by name; a name the driver
/// does not have gives [`Error::UnknownRuntime`].
pub trait Driver: std::fmt::Debug + Send + Sync {
    /// The programs behind this driver.
    fn programs(&self) -> Programs;
    /// The default OCI runtime's name.
    fn default_runtime(&self) -> &str;
    /// Whether an OCI runtime of this name is usable.
    fn has_runtime(&self, name: &str) -> bool;
    /// Creates the container; it then waits for [`Driver::start`]. A stale
    /// exit of an earlier run is forgotten first, and a leftover runtime
    /// container of the same id (a killed start whose monitor finished its
    /// create later) is deleted, its monitor waited for, and replaced.
    fn create(&self, request: &CreateRequest<'_>) -> Result<Created>;
    /// Whether the runtime may have a container of this id (cheap: no
    /// process is run). False means it surely has none.
    fn may_exist(&self, runtime: &str, id: &str) -> bool;
    /// Removes whatever the runtime and its monitor still have of container
    /// `id` (a killed start's conmon may still be creating it): deletes it,
    /// killing its processes, until its monitor (from the pid file in
    /// `run_dir`) has exited. Bounded; never fails the caller.
    fn clear(&self, runtime: &str, id: &str, run_dir: &Path, bundle_dir: &Path);
    /// Starts a created container's process.
    fn start(&self, runtime: &str, id: &str) -> Result<()>;
    /// Sends `signal` to the container's init (`all`: every process).
    fn kill(&self, runtime: &str, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Deletes the runtime's record (`force`: kills it first).
    fn delete(&self, runtime: &str, id: &str, force: bool) -> Result<()>;
    /// The runtime's view of the container.
    fn state(&self, runtime: &str, id: &str) -> Result<RuntimeState>;
    /// Freezes the container.
    fn pause(&self, runtime: &str, id: &str) -> Result<()>;
    /// Thaws the container.
    fn resume(&self, runtime: &str, id: &str) -> Result<()>;
    /// Changes a live container's cgroup limits (`linux.resources` JSON).
    fn update(&self, runtime: &str, id: &str, resources_json: &[u8]) -> Result<()>;
    /// The exit the monitor recorded, if it has.
    fn exit(&self, id: &str) -> Result<Option<Exit>>;
    /// Waits for the exit (no busy loop). With `monitor` (its pid), also
    /// notices a monitor that died without recording one: once the runtime
    /// reports the container stopped or unknown, an exit of
    /// [`UNKNOWN_EXIT_CODE`] is recorded, unless `still_wanted` says the
    /// container is gone. `None` waits without limit.
    fn wait_exit(
        &self,
        runtime: &str,
        id: &str,
        monitor: Option<u32>,
        timeout: Option<Duration>,
        still_wanted: &dyn Fn() -> bool,
    ) -> Result<Waited>;
    /// Forgets the recorded exit (removal).
    fn forget_exit(&self, id: &str) -> Result<()>;
    /// Keeps the recorded exit of the last boot under another name, so it
    /// is not taken for this boot's (refresh).
    fn archive_exit(&self, id: &str) -> Result<()>;
    /// Whether the monitor with this pid is alive.
    fn monitor_alive(&self, pid: u32) -> bool;
    /// Starts an exec session in a running container (through its own
    /// monitor), attached or not.
    fn exec(&self, request: &ExecRequest<'_>) -> Result<crate::ExecStarted>;
}

/// The real driver: conmon and the OCI runtimes found by discovery, with
/// conmon's exit files in one directory.
#[derive(Debug, Clone)]
pub struct ConmonDriver {
    conmon: Conmon,
    runtimes: Runtimes,
    exit_dir: PathBuf,
    socket_dir: PathBuf,
    settings: crate::conmon::ConmonSettings,
}

/// How often a waiter checks that conmon is still alive.
const MONITOR_CHECK: Duration = Duration::from_millis(500);

impl ConmonDriver {
    /// A driver over `conmon` and `runtimes`, with exit files in
    /// `exit_dir` and attach sockets in `socket_dir` (both made 0700 when
    /// first needed).
    pub fn new(
        conmon: Conmon,
        runtimes: Runtimes,
        exit_dir: impl Into<PathBuf>,
        socket_dir: impl Into<PathBuf>,
    ) -> Self {
        ConmonDriver {
            conmon,
            runtimes,
            exit_dir: exit_dir.into(),
            socket_dir: socket_dir.into(),
            settings: crate::conmon::ConmonSettings::default(),
        }
    }

    /// The configuration's conmon settings for every container it makes.
    pub fn with_settings(mut self, settings: crate::conmon::ConmonSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The runtimes it drives.
    pub fn runtimes(&self) -> &Runtimes {
        &self.runtimes
    }

    /// Where conmon writes exit files.
    pub fn exit_dir(&self) -> &Path {
        &self.exit_dir
    }

    /// The runtime of this name; a runtime named by an absolute path (the
    /// `--runtime /path` a container was made with) is usable as long as
    /// that file is, with the default runtime's conventions.
    fn runtime(&self, name: &str) -> Result<std::borrow::Cow<'_, OciRuntime>> {
        if let Some(rt) = self.runtimes.get(name) {
            return Ok(std::borrow::Cow::Borrowed(rt));
        }
        let path = Path::new(name);
        if path.is_absolute() && is_executable(path) {
            let base = self.runtimes.default();
            let file = path.file_name().map(PathBuf::from).unwrap_or_default();
            let mut rt = OciRuntime::new(name, path).with_systemd_cgroup(base.systemd_cgroup);
            if let Some(root) = base.root.as_deref().and_then(Path::parent) {
                rt = rt.with_root(root.join(file));
            }
            return Ok(std::borrow::Cow::Owned(rt));
        }
        Err(Error::UnknownRuntime {
            name: name.to_owned(),
        })
    }

    fn conmon_create(&self, runtime: &OciRuntime, r: &CreateRequest<'_>) -> Result<Created> {
        self.conmon.create(&CreateOptions {
            id: r.id.to_owned(),
            name: r.name.to_owned(),
            bundle_dir: r.bundle_dir.to_path_buf(),
            runtime,
            exit_dir: self.exit_dir.clone(),
            log_path: r.log_path.to_path_buf(),
            pid_file: r.run_dir.join("pidfile"),
            conmon_pid_file: r.run_dir.join("conmon.pid"),
            socket_dir: self.socket_dir.clone(),
            log_level: String::new(),
            exit_command: r.exit_command.clone(),
            terminal: r.terminal,
            stdin: r.stdin,
            settings: self.settings.clone(),
            hold: r.hold,
        })
    }

    /// Deletes a leftover runtime container of `id` (killing its
    /// processes) until its conmon is done with it: a conmon whose client
    /// was killed may still be creating it. Done means conmon has exited,
    /// or has written the exit file (its container is dead; it may still
    /// be running its exit command, which waits for locks our caller may
    /// hold, so waiting for its exit could deadlock). The exit file is then
    /// removed, so it is not taken for a new container's.
    fn clear_leftover(&self, runtime: &OciRuntime, id: &str, run_dir: &Path, bundle_dir: &Path) {
        let conmon = || {
            std::fs::read_to_string(run_dir.join("conmon.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .filter(|&pid| conmon_alive(pid))
        };
        let exit_file = crate::exit_file_path(&self.exit_dir, id);
        // Whether the runtime no longer has the container.
        let delete = || match runtime.delete(id, true) {
            Ok(()) | Err(Error::NoSuchContainer { .. }) => true,
            Err(e) => {
                tracing::debug!(id, error = %e, "runtime delete of the leftover");
                false
            }
        };
        // A conmon whose client died before the handshake ended can wait
        // forever with no container: once the runtime has had none for a
        // moment, its process group (conmon, and a `runc create` it may
        // still run) is killed.
        let kill_group = |pid: u32| {
            tracing::warn!(pid, id, "killing the conmon of a leftover container");
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                nix::sys::signal::Signal::SIGKILL,
            );
        };
        tracing::debug!(id, conmon = ?conmon(), "clearing a leftover runtime container");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut none_since: Option<Instant> = None;
        // Whether a last delete is needed: not when conmon wrote the exit
        // file and the delete after it worked (its container is dead and
        // gone; no `runc create` of it can still be running).
        let mut again = true;
        loop {
            let deleted = delete();
            if exit_file.exists() {
                again = !deleted;
                break;
            }
            let Some(pid) = conmon() else { break };
            let has_container = runtime
                .root
                .as_deref()
                .is_none_or(|root| root.join(id).exists());
            let idle = if has_container {
                none_since = None;
                false
            } else {
                none_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(300)
            };
            if idle || Instant::now() >= deadline {
                kill_group(pid);
                std::thread::sleep(Duration::from_millis(20));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if again {
            delete();
        }
        // A `runc create` cut short (its conmon killed) can leave `runc init`
        // in the container's cgroup with no state for `delete` to find.
        kill_cgroup_processes(bundle_dir, id);
        let _ = std::fs::remove_file(&exit_file);
    }

    fn stopped_or_unknown(&self, runtime: &str, id: &str) -> bool {
        let Ok(rt) = self.runtime(runtime) else {
            return false;
        };
        match rt.state(id) {
            Ok(st) => st.status_kind() == RuntimeStatus::Stopped,
            Err(Error::NoSuchContainer { .. }) => true,
            Err(e) => {
                tracing::debug!(id, error = %e, "runtime state");
                false
            }
        }
    }
}

impl Driver for ConmonDriver {
    fn programs(&self) -> Programs {
        Programs {
            conmon: self.conmon.path.clone(),
            runtimes: self
                .runtimes
                .all()
                .map(|r| (r.name.clone(), r.path.clone()))
                .collect(),
            default_runtime: self.runtimes.default_name().to_owned(),
        }
    }

    fn default_runtime(&self) -> &str {
        self.runtimes.default_name()
    }

    fn has_runtime(&self, name: &str) -> bool {
        self.runtime(name).is_ok()
    }

    fn create(&self, r: &CreateRequest<'_>) -> Result<Created> {
        let runtime = self.runtime(r.runtime)?;
        private_dir(r.run_dir)?;
        if self.may_exist(r.runtime, r.id) || r.run_dir.join("conmon.pid").exists() {
            self.clear_leftover(&runtime, r.id, r.run_dir, r.bundle_dir);
        }
        match self.conmon_create(&runtime, r) {
            // A leftover's create finished, or was still running, as ours
            // began: clear it and try once more.
            Err(Error::Conmon { message, .. })
                if message.contains("already exists")
                    || message.contains("cgroup is not empty") =>
            {
                self.clear_leftover(&runtime, r.id, r.run_dir, r.bundle_dir);
                self.conmon_create(&runtime, r)
            }
            other => other,
        }
    }

    fn clear(&self, runtime: &str, id: &str, run_dir: &Path, bundle_dir: &Path) {
        match self.runtime(runtime) {
            Ok(rt) => self.clear_leftover(&rt, id, run_dir, bundle_dir),
            Err(e) => tracing::debug!(id, error = %e, "cannot clear"),
        }
    }

    fn may_exist(&self, runtime: &str, id: &str) -> bool {
        match self.runtime(runtime) {
            // runc and crun keep a directory per container under --root.
            Ok(rt) => rt.root.as_deref().is_none_or(|root| root.join(id).exists()),
            Err(_) => false,
        }
    }

    fn start(&self, runtime: &str, id: &str) -> Result<()> {
        self.runtime(runtime)?.start(id)
    }

    fn kill(&self, runtime: &str, id: &str, signal: i32, all: bool) -> Result<()> {
        self.runtime(runtime)?.kill(id, signal, all)
    }

    fn delete(&self, runtime: &str, id: &str, force: bool) -> Result<()> {
        self.runtime(runtime)?.delete(id, force)
    }

    fn state(&self, runtime: &str, id: &str) -> Result<RuntimeState> {
        self.runtime(runtime)?.state(id)
    }

    fn pause(&self, runtime: &str, id: &str) -> Result<()> {
        self.runtime(runtime)?.pause(id)
    }

    fn resume(&self, runtime: &str, id: &str) -> Result<()> {
        self.runtime(runtime)?.resume(id)
    }

    fn update(&self, runtime: &str, id: &str, resources_json: &[u8]) -> Result<()> {
        self.runtime(runtime)?.update(id, resources_json)
    }

    fn exit(&self, id: &str) -> Result<Option<Exit>> {
        let Some(code) = read_exit_file(&self.exit_dir, id)? else {
            return Ok(None);
        };
        let at = std::fs::metadata(crate::exit_file_path(&self.exit_dir, id))
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        Ok(Some(Exit { code, at }))
    }

    fn wait_exit(
        &self,
        runtime: &str,
        id: &str,
        monitor: Option<u32>,
        timeout: Option<Duration>,
        still_wanted: &dyn Fn() -> bool,
    ) -> Result<Waited> {
        let found = |c: Option<i32>| c.map(Waited::Exited);
        let Some(monitor) = monitor else {
            return Ok(
                found(wait_exit_file(&self.exit_dir, id, timeout)?).unwrap_or(Waited::TimedOut)
            );
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let step = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(MONITOR_CHECK),
                None => MONITOR_CHECK,
            };
            if let Some(w) = found(wait_exit_file(&self.exit_dir, id, Some(step))?) {
                return Ok(w);
            }
            if !conmon_alive(monitor) {
                // conmon writes the exit file before it exits: look once more.
                if let Some(w) = found(read_exit_file(&self.exit_dir, id)?) {
                    return Ok(w);
                }
                if !still_wanted() {
                    return Ok(Waited::Gone);
                }
                if self.stopped_or_unknown(runtime, id) {
                    tracing::warn!(
                        id,
                        conmon = monitor,
                        "conmon died without writing an exit file; recording exit code -1"
                    );
                    crate::write_exit_file(&self.exit_dir, id, UNKNOWN_EXIT_CODE)?;
                    return Ok(Waited::Exited(UNKNOWN_EXIT_CODE));
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Waited::TimedOut);
            }
        }
    }

    fn forget_exit(&self, id: &str) -> Result<()> {
        crate::conmon::check_id(id)?;
        let path = crate::exit_file_path(&self.exit_dir, id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing exit file", path, e)),
        }
    }

    fn archive_exit(&self, id: &str) -> Result<()> {
        crate::conmon::check_id(id)?;
        let path = crate::exit_file_path(&self.exit_dir, id);
        let old = self.exit_dir.join(format!("{id}-old"));
        match std::fs::rename(&path, &old) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("renaming exit file", path, e)),
        }
    }

    fn monitor_alive(&self, pid: u32) -> bool {
        conmon_alive(pid)
    }

    fn exec(&self, r: &ExecRequest<'_>) -> Result<crate::ExecStarted> {
        let runtime = self.runtime(r.runtime)?;
        self.conmon.exec(&crate::ExecOptions {
            container_id: r.container_id,
            session_id: r.session_id,
            runtime: &runtime,
            session_dir: r.session_dir,
            socket_dir: &self.socket_dir,
            process: r.process,
            terminal: r.terminal,
            stdin: r.stdin,
            attach: r.attach,
        })
    }
}

/// SIGKILLs every process in the cgroup the bundle's `config.json` names
/// (cgroupfs paths; v1 controllers and the v2 hierarchy), repeating until
/// none is left or a second has passed. Only a cgroup of the container's
/// own (its last component is the container's id) is touched: a damaged or
/// foreign `config.json` naming `/` or a shared cgroup kills nothing.
fn kill_cgroup_processes(bundle_dir: &Path, id: &str) {
    let Ok(text) = std::fs::read_to_string(bundle_dir.join(crate::BUNDLE_CONFIG)) else {
        return;
    };
    let Some(path) = own_cgroup(&text, id) else {
        return;
    };
    let path = path.as_str();
    let rel = path.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    let mut procs_files = vec![root.join(rel).join("cgroup.procs")];
    if let Ok(controllers) = std::fs::read_dir(root) {
        procs_files.extend(
            controllers
                .flatten()
                .map(|c| c.path().join(rel).join("cgroup.procs")),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let pids: Vec<i32> = procs_files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in pids {
            tracing::warn!(
                pid,
                cgroup = path,
                "killing a process left in a leftover container's cgroup"
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The cgroupfs path a bundle's `config.json` gives the container, if it is
/// the container's own: absolute, without `..`, ending in the id.
fn own_cgroup(config_json: &str, id: &str) -> Option<String> {
    let spec = serde_json::from_str::<serde_json::Value>(config_json).ok()?;
    spec["linux"]["cgroupsPath"]
        .as_str()
        .filter(|p| p.starts_with('/') && !p.contains(".."))
        .filter(|p| Path::new(p).file_name().is_some_and(|f| f == id))
        .map(str::to_owned)
}

/// Whether `path` is a regular file someone may execute.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `pid` is a live (not zombie) conmon. A reused pid running
/// something else counts as dead.
pub fn conmon_alive(pid: u32) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_own_cgroup_is_emptied() {
        let spec = |p: &str| serde_json::json!({"linux": {"cgroupsPath": p}}).to_string();
        assert_eq!(
            own_cgroup(&spec("/oxpod/x"), "x").as_deref(),
            Some("/oxpod/x")
        );
        // The root, another container's, an escape, a systemd-style path,
        // damaged JSON: nothing is touched.
        for bad in [
            "/",
            "/..",
            "/oxpod/other",
            "/oxpod/x/../..",
            "system.slice:oxpod:x",
        ] {
            assert_eq!(own_cgroup(&spec(bad), "x"), None, "{bad}");
        }
        assert_eq!(own_cgroup("{not json", "x"), None);
    }

    #[test]
    fn conmon_alive_needs_a_live_conmon() {
        // This process is alive but not conmon; a pid past pid_max is gone.
        assert!(!conmon_alive(std::process::id()));
        assert!(!conmon_alive(u32::MAX));
    }

    #[test]
    fn written_exit_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        crate::write_exit_file(dir.path(), "abc", UNKNOWN_EXIT_CODE).unwrap();
        assert_eq!(read_exit_file(dir.path(), "abc").unwrap(), Some(-1));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["abc"], "no temporary file is left");
        assert!(matches!(
            crate::write_exit_file(dir.path(), "../x", 1),
            Err(Error::InvalidId { .. })
        ));
    }

    #[test]
    fn exits_are_forgotten_and_archived() {
        let dir = tempfile::tempdir().unwrap();
        let exits = dir.path().join("exits");
        let runtimes = crate::discover(crate::DiscoveryOptions {
            runtimes: [("fake".to_owned(), vec![PathBuf::from("/bin/true")])].into(),
            default_runtime: "fake".into(),
            ..Default::default()
        })
        .unwrap();
        let d = ConmonDriver::new(
            Conmon::new("/nonexistent/conmon"),
            runtimes,
            &exits,
            dir.path().join("socket"),
        );
        assert_eq!(d.exit("c").unwrap(), None);
        private_dir(&exits).unwrap();
        crate::write_exit_file(&exits, "c", 3).unwrap();
        assert_eq!(d.exit("c").unwrap().map(|e| e.code), Some(3));
        d.archive_exit("c").unwrap();
        assert_eq!(d.exit("c").unwrap(), None);
        assert!(exits.join("c-old").exists());
        crate::write_exit_file(&exits, "c", 4).unwrap();
        d.forget_exit("c").unwrap();
        d.forget_exit("c").unwrap();
        assert_eq!(d.exit("c").unwrap(), None);
        assert!(matches!(
            d.start("nope", "c"),
            Err(Error::UnknownRuntime { .. })
        ));
    }

    #[test]
    fn exit_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exits = dir.path().join("a/exits");
        assert_eq!(
            wait_exit_file(&exits, "x", Some(Duration::from_millis(1))).unwrap(),
            None
        );
        let mode = std::fs::metadata(&exits).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
