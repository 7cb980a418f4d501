//! `Runtime::open`: the init order of podman's `makeRuntime`, written once.
//!
//! config → conmon → static dir → state → database config → namespace →
//! events → tmp dir → OCI runtimes (the driver) → alive lock + reboot
//! check → lock manager → refresh → repair interrupted commands →
//! renumber → valid → migrate.
//!
//! A driver given in the options (tests: the fake) replaces the conmon and
//! OCI-runtime discovery steps.
//!
//! Refresh runs before renumber (podman 1.4 had it the other way round,
//! which made every re-claim after a renumber clash; libpod-spec §8).

use std::fs::File;
use std::io::ErrorKind;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use oxpod_config::{Config, Loaded};
use oxpod_events::{Backend, Eventer, EventerOptions};
use oxpod_locks::{LockManager, MemLockManager, ShmLockManager};
use oxpod_ociruntime::{Conmon, ConmonDriver, DiscoveryOptions, Driver, Runtimes};
use oxpod_state::{DbConfig, InMemoryState, LmdbOptions, LmdbState, State};
use tracing::{debug, info, warn};

use crate::layout::{Layout, private_dir};
use crate::options::{LockBackend, RuntimeOptions, StateBackend};
use crate::{Error, Result, Runtime};

/// Runs one init step, logging its name and duration at debug level.
fn step<T>(name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let result = f();
    match &result {
        Ok(_) => debug!(step = name, elapsed = ?started.elapsed(), "init step done"),
        Err(e) => debug!(step = name, elapsed = ?started.elapsed(), error = %e, "init step failed"),
    }
    result
}

impl Runtime {
    /// Opens the runtime: every layer, in podman's order. Detects a reboot
    /// and refreshes; renumbers and migrates when asked.
    pub fn open(options: RuntimeOptions) -> Result<Runtime> {
        let started = Instant::now();
        let mut loaded = step("config", || load_config(&options))?;
        let conmon = match &options.driver {
            Some(_) => None,
            None => Some(step("conmon", || find_conmon(&loaded.config))?),
        };
        step("static dir", || {
            existing_or_make(
                options.existing_only,
                "static dir",
                &loaded.config.static_dir,
            )
        })?;
        let mut state = step("state", || {
            let state = open_state(&options, &loaded.config)?;
            // The database and bundle dirs, made before modes were kept.
            for (what, dir) in [("database dir", "state"), ("bundles dir", "containers")] {
                let dir = loaded.config.static_dir.join(dir);
                if dir.is_dir() {
                    private_dir(what, &dir)?;
                }
            }
            Ok(state)
        })?;
        step("database config", || {
            apply_db_config(&mut loaded, state.as_mut(), options.reset)
        })?;
        step("namespace", || {
            state.set_namespace(&loaded.config.namespace);
            Ok(())
        })?;
        let events = step("events", || open_events(&loaded.config))?;
        let layout = Layout::new(&loaded.config);
        step("tmp dir", || {
            existing_or_make(options.existing_only, "tmp dir", &layout.tmp_dir)
        })?;
        let driver: Arc<dyn Driver> = match (&options.driver, conmon) {
            (Some(d), _) => d.clone(),
            (None, conmon) => {
                let runtimes = step("oci runtimes", || discover_runtimes(&loaded, &layout))?;
                let conmon = conmon.unwrap_or_else(|| unreachable!("found above"));
                Arc::new(conmon_driver(conmon, runtimes, &layout, &loaded.config))
            }
        };
        let alive = step("alive lock", || AliveLock::take(&layout))?;
        // Written before a new segment is made and removed once every lock
        // is re-claimed: a command killed in between (the segment complete,
        // nothing claimed in it) leaves it, and the next open re-claims.
        let claiming = layout.claiming_file();
        let (locks, mut fresh_locks, repaired_segment) = step("locks", || {
            open_locks(
                &options,
                &loaded.config,
                state.as_mut(),
                driver.as_ref(),
                &claiming,
            )
        })?;
        if claiming.exists() && !fresh_locks {
            info!(
                "a command was killed before it re-claimed the locks of a new segment: re-claiming them"
            );
            fresh_locks = true;
        }

        let lock_timeout = options
            .lock_timeout
            .unwrap_or(std::time::Duration::from_secs(loaded.config.lock_timeout));
        let mut runtime = Runtime {
            identity: options
                .identity
                .clone()
                .unwrap_or_else(oxpod_config::Identity::current),
            loaded,
            state: Mutex::new(state),
            locks,
            events,
            driver,
            layout,
            exit_command: options.exit_command.clone(),
            valid: AtomicBool::new(false),
            refreshed: false,
            lock_timeout,
            storage: std::sync::OnceLock::new(),
        };
        let mut after_reboot = Vec::new();
        let mut restart_after_reboot = Vec::new();
        if alive.needs_refresh {
            (after_reboot, restart_after_reboot) = step("refresh", || runtime.refresh(&alive))?;
            runtime.refreshed = true;
        } else if fresh_locks {
            step("reclaim locks", || runtime.reclaim_locks())?;
        }
        if fresh_locks || alive.needs_refresh {
            match std::fs::remove_file(&claiming) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &claiming, e)),
            }
        }
        let leftover_rm = step("repair", || {
            let mut remove = after_reboot;
            for i in crate::ledger::repair(&runtime, true)? {
                warn!(op = %i.op, pid = i.pid, released = ?i.released, "repaired a command interrupted midway");
                remove.extend(i.remove);
            }
            Ok(remove)
        })?;
        if options.renumber {
            // A damaged segment recreated at its size, with every lock
            // re-claimed, is what the renumber was for; while containers
            // run, moving their lock numbers waits (but their commands
            // work again, so they can be stopped).
            let running = if repaired_segment {
                crate::open::refuse_renumber_while_running(
                    runtime.state().as_mut(),
                    runtime.driver.as_ref(),
                )
                .err()
            } else {
                None
            };
            match running {
                Some(Error::RenumberWhileRunning { running }) => warn!(
                    running,
                    "recreated the damaged lock segment and re-claimed every lock; lock numbers stay as they were while containers run"
                ),
                Some(e) => return Err(e),
                None => step("renumber", || runtime.renumber_under_alive_lock())?,
            }
        }
        runtime
            .valid
            .store(true, std::sync::atomic::Ordering::Release);
        if options.migrate {
            step("migrate", || runtime.migrate_under_alive_lock())?;
        }
        drop(alive);
        // Containers of `run --rm` clients that were killed: removed now,
        // outside the alive lock a removal takes shared.
        runtime.remove_leftover(&leftover_rm);
        runtime.restart_after_reboot(&restart_after_reboot);
        debug!(elapsed = ?started.elapsed(), "runtime open");
        Ok(runtime)
    }
}

/// A private (0700, ours) directory, made when missing; with
/// `existing_only` a check that it is there.
fn existing_or_make(existing_only: bool, what: &'static str, dir: &std::path::Path) -> Result<()> {
    if !existing_only || dir.is_dir() {
        return private_dir(what, dir);
    }
    Err(Error::NotInitialised {
        what,
        path: dir.to_path_buf(),
    })
}

fn load_config(options: &RuntimeOptions) -> Result<Loaded> {
    let loaded = options.loader().load()?;
    // The loader has logged its warnings (unknown keys) already.
    Ok(loaded)
}

/// conmon and the discovered runtimes as a driver (for a reset that cannot
/// open the database).
pub(crate) fn real_driver(loaded: &Loaded, layout: &Layout) -> Result<Arc<dyn Driver>> {
    let conmon = find_conmon(&loaded.config)?;
    let runtimes = discover_runtimes(loaded, layout)?;
    Ok(Arc::new(conmon_driver(
        conmon,
        runtimes,
        layout,
        &loaded.config,
    )))
}

/// The conmon driver with the configuration's `no_pivot_root`,
/// `max_log_size` and `conmon_env_vars`.
fn conmon_driver(
    conmon: Conmon,
    runtimes: oxpod_ociruntime::Runtimes,
    layout: &Layout,
    config: &Config,
) -> ConmonDriver {
    ConmonDriver::new(conmon, runtimes, layout.exit_dir(), layout.socket_dir()).with_settings(
        oxpod_ociruntime::ConmonSettings {
            no_pivot: config.no_pivot_root,
            log_size_max: (config.max_log_size > 0).then_some(config.max_log_size),
            env: config.conmon_env_vars.clone(),
        },
    )
}

fn find_conmon(config: &Config) -> Result<Conmon> {
    let path = oxpod_ociruntime::find_conmon(&config.conmon_path)?;
    Ok(Conmon::new(path))
}

fn open_state(options: &RuntimeOptions, config: &Config) -> Result<Box<dyn State>> {
    Ok(match options.state {
        StateBackend::Lmdb => {
            let lmdb = LmdbOptions {
                map_size: usize::try_from(config.state_map_size).unwrap_or(usize::MAX),
                ..LmdbOptions::default()
            };
            Box::new(LmdbState::open(&config.static_dir, &lmdb)?)
        }
        StateBackend::Memory => Box::new(InMemoryState::new()),
    })
}

/// Keys of the configuration the database remembers.
const DB_KEYS: [&str; 3] = ["static_dir", "tmp_dir", "volume_path"];

/// Lets the database fill the keys the user did not set explicitly (the
/// seed's `runtimeConfiguredFrom`), validates, then checks ours against the
/// stored values (storing them on first use).
fn apply_db_config(loaded: &mut Loaded, state: &mut dyn State, reset: bool) -> Result<()> {
    let stored = state.db_config()?;
    let values = [
        ("static_dir", &stored.static_dir),
        ("tmp_dir", &stored.tmp_dir),
        ("volume_path", &stored.volume_path),
    ]
    .into_iter()
    .filter(|(_, p)| !p.as_os_str().is_empty())
    .map(|(k, p)| {
        (
            k,
            oxpod_config::Value::from(p.to_string_lossy().into_owned()),
        )
    });
    let changed = loaded.fill_from_database(values)?;
    for key in &changed {
        // Keys derived from a database value (events_logfile_path from
        // tmp_dir, ...) change too; only the stored keys come from it.
        if !DB_KEYS.contains(&key.as_str()) {
            debug!(key, "derived again from a database value");
            continue;
        }
        if let Some(oxpod_config::Origin::File(path)) = loaded.origins.get(key.as_str()) {
            debug!(key, file = %path.display(), "database value overrides the file's");
        }
        info!(key, "using the value stored in the database");
    }
    loaded.validate()?;
    let config = &loaded.config;
    let ours = DbConfig {
        os: std::env::consts::OS.to_owned(),
        static_dir: config.static_dir.clone(),
        tmp_dir: config.tmp_dir.clone(),
        volume_path: config.volume_path.clone(),
        ..DbConfig::default()
    };
    match state.validate_db_config(&ours) {
        Ok(_) => Ok(()),
        Err(e @ oxpod_state::Error::DbConfigMismatch { .. }) if reset => {
            warn!("{e} (ignored for reset)");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn open_events(config: &Config) -> Result<Box<dyn Eventer>> {
    let backend = match config.events_logger {
        oxpod_config::EventsBackend::File => Backend::File,
        oxpod_config::EventsBackend::Journald => Backend::Journald,
        oxpod_config::EventsBackend::None => Backend::None,
    };
    let max_size = u64::try_from(config.events_logfile_max_size).unwrap_or(0);
    debug!(%backend, path = %config.events_logfile_path.display(), "events");
    Ok(oxpod_events::new_eventer(EventerOptions {
        backend,
        log_path: config.events_logfile_path.clone(),
        max_size,
    })?)
}

fn discover_runtimes(loaded: &Loaded, layout: &Layout) -> Result<Runtimes> {
    let config = &loaded.config;
    let quiet_missing = config
        .runtimes
        .keys()
        .filter(|name| !loaded.is_explicit(&format!("runtimes.{name}")))
        .cloned()
        .collect();
    Ok(oxpod_ociruntime::discover(DiscoveryOptions {
        quiet_missing,
        runtimes: config.runtimes.clone(),
        default_runtime: config.runtime.to_string(),
        runtime_path: config.runtime_path.clone(),
        supports_json: config.runtime_supports_json.clone(),
        state_root: Some(layout.runtime_root()),
        systemd_cgroup: config.cgroup_manager == oxpod_config::CgroupManager::Systemd,
    })?)
}

/// The lock manager; whether its locks are all free because it was just
/// made (a new segment, or the in-memory manager), so the objects in the
/// database must re-claim theirs; and whether it replaced a damaged (or
/// planted) segment of the configured size.
///
/// A segment that cannot be used (another size, damaged, planted by
/// another user) is recreated for a renumber or a reset, but a renumber
/// first refuses, changing nothing, while a live process holds one of its
/// locks, and, for a segment of another size (whose lock numbers must
/// move), while containers run. A damaged one of the right size is
/// recreated even then: nothing else would let its containers be stopped.
fn open_locks(
    options: &RuntimeOptions,
    config: &Config,
    state: &mut dyn State,
    driver: &dyn Driver,
    claiming: &std::path::Path,
) -> Result<(Box<dyn LockManager>, bool, bool)> {
    let mark_claiming = || -> Result<()> {
        if let Some(dir) = claiming.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        std::fs::write(claiming, b"").map_err(|e| Error::io("write", claiming, e))
    };
    let n = config.num_locks;
    if options.locks == LockBackend::Memory {
        return Ok((Box::new(MemLockManager::new(n)?), true, false));
    }
    let name = config.lock_name.as_str();
    match ShmLockManager::open(name, n) {
        Ok(m) => Ok((Box::new(m), false, false)),
        Err(oxpod_locks::Error::SegmentMissing { .. }) if options.existing_only => {
            Err(Error::NotInitialised {
                what: "lock segment",
                path: name.into(),
            })
        }
        Err(oxpod_locks::Error::SegmentMissing { .. }) => {
            debug!(name, n, "creating lock segment");
            mark_claiming()?;
            match ShmLockManager::create(name, n) {
                Ok(m) => Ok((Box::new(m), true, false)),
                // Another process created it between our open and create
                // (and, holding the alive lock before us, re-claimed).
                Err(oxpod_locks::Error::SegmentExists { .. }) => {
                    Ok((Box::new(ShmLockManager::open(name, n)?), false, false))
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) if e.segment_unusable() && (options.renumber || options.reset) => {
            let resized = matches!(e, oxpod_locks::Error::CountMismatch { .. });
            if options.renumber {
                if resized {
                    refuse_renumber_while_running(state, driver)?;
                }
                // The old segment's holders, if it can still be read (a
                // planted or damaged one holds none of ours).
                if let Ok(old) = ShmLockManager::open_existing(name) {
                    refuse_while_locks_held(&old)?;
                }
            }
            info!(name, n, reason = %e, "recreating lock segment");
            mark_claiming()?;
            ShmLockManager::remove(name)?;
            Ok((Box::new(ShmLockManager::create(name, n)?), true, !resized))
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses a renumber while containers run (their processes would keep
/// locks the renumber hands to others). Reads every namespace.
pub(crate) fn refuse_renumber_while_running(
    state: &mut dyn State,
    driver: &dyn Driver,
) -> Result<()> {
    let ns = state.namespace().to_owned();
    state.set_namespace("");
    let listing = state.all_containers();
    state.set_namespace(&ns);
    let running: Vec<String> = listing?
        .items
        .into_iter()
        .filter(|c| {
            matches!(
                c.state.status,
                oxpod_state::ContainerStatus::Running | oxpod_state::ContainerStatus::Paused
            ) && matches!(driver.exit(&c.config.id), Ok(None))
        })
        .map(|c| c.config.name)
        .collect();
    if running.is_empty() {
        Ok(())
    } else {
        Err(Error::RenumberWhileRunning {
            running: running.join(", "),
        })
    }
}

/// Refuses while a live process (a stopped one too) holds a lock: moving
/// lock numbers under it would break mutual exclusion.
pub(crate) fn refuse_while_locks_held(locks: &dyn LockManager) -> Result<()> {
    let me = std::process::id();
    let held: Vec<String> = locks
        .holders()?
        .into_iter()
        .filter(|&(_, pid)| {
            u32::try_from(pid).is_ok_and(|p| p != me)
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        })
        .map(|(lock, pid)| format!("lock {lock} by process {pid}"))
        .collect();
    if held.is_empty() {
        Ok(())
    } else {
        Err(Error::LocksHeld {
            held: held.join(", "),
        })
    }
}

/// The exclusive lock on `<tmp dir>/alive.lck`, held during init (and
/// renumber, reset), and whether this boot still needs its refresh.
#[derive(Debug)]
pub(crate) struct AliveLock {
    _file: File,
    pub needs_refresh: bool,
    pub boot_id: String,
}

impl AliveLock {
    pub fn take(layout: &Layout) -> Result<Self> {
        let file = lock_file(layout, File::lock)?;
        let boot_id = crate::host::boot_id();
        let alive = layout.alive_file();
        let needs_refresh = match std::fs::read_to_string(&alive) {
            Ok(stored) if stored.trim() == boot_id => false,
            Ok(stored) => {
                info!(
                    stored = stored.trim(),
                    now = %boot_id,
                    "boot id changed: the system rebooted; refreshing state"
                );
                true
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                info!("no alive file: first run since boot; refreshing state");
                true
            }
            Err(source) => {
                return Err(Error::AliveFile {
                    path: alive,
                    source,
                });
            }
        };
        Ok(AliveLock {
            _file: file,
            needs_refresh,
            boot_id,
        })
    }

    /// A shared hold of the alive lock, for the moment a lock number moves
    /// between the segment and the database (create: allocate → record;
    /// remove: record gone → free). `check`, renumber and refresh hold it
    /// exclusively, so they never see a lock half-way and free or reuse
    /// it; creates and removes still run side by side. Released on drop.
    pub fn shared(layout: &Layout) -> Result<File> {
        lock_file(layout, File::lock_shared)
    }

    /// Records that this boot has been refreshed.
    pub fn mark_alive(&self, layout: &Layout) -> Result<()> {
        let alive = layout.alive_file();
        let tmp = alive.with_extension("tmp");
        std::fs::write(&tmp, &self.boot_id).map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &alive).map_err(|e| Error::io("write", &alive, e))
    }
}

/// Opens `<tmp dir>/alive.lck` and locks it with `how` (exclusive or shared).
fn lock_file(layout: &Layout, how: fn(&File) -> std::io::Result<()>) -> Result<File> {
    let lock_path = layout.alive_lock();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open", &lock_path, e))?;
    how(&file).map_err(|e| Error::io("lock", &lock_path, e))?;
    Ok(file)
}
