//! The system service: whole-runtime operations. Refresh after a reboot,
//! renumber and migrate run inside `Runtime::open` (under the alive lock);
//! check (and repair), reset, shutdown and the events log are asked for.

use oxpod_state::ItemsExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use oxpod_events::{Event, EventStatus};
use oxpod_state::{Container, ContainerStatus, Item, ItemOp, Pod, State};
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::layout::Layout;
use crate::ledger::{self, Interrupted};
use crate::open::AliveLock;
use crate::{ContainerRef, Error, PodRef, ReadOptions, Result, Runtime};

/// One inconsistency `system check` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// Several objects claim the same lock number (they would deadlock
    /// each other).
    DuplicateLock {
        /// The lock number.
        lock: u32,
        /// The objects claiming it, as `container NAME` / `pod NAME`.
        objects: Vec<String>,
    },
    /// An object's lock is not marked allocated in the segment, so another
    /// object could be given it.
    UnallocatedLock {
        /// The lock number.
        lock: u32,
        /// The object.
        object: String,
    },
    /// A lock is allocated but no object claims it.
    LeakedLock {
        /// The lock number.
        lock: u32,
    },
    /// An object's lock number is beyond the segment's size.
    LockOutOfRange {
        /// The lock number.
        lock: u32,
        /// The object.
        object: String,
    },
    /// A container has no `config.json` bundle.
    MissingBundle {
        /// The container.
        object: String,
    },
    /// A command was killed midway through an operation; what it left
    /// that no record claims is released by the repair (and by the next
    /// open of the runtime).
    Interrupted {
        /// The operation (`create`, `start`, `remove`, ...).
        op: String,
        /// The process that was running it.
        pid: u32,
        /// What it left that no record claims.
        left: Vec<String>,
    },
    /// The database does not read back everything it lists (a damaged
    /// page); not repaired: restore a backup or reset.
    DatabaseDamage {
        /// What did not read.
        problem: String,
    },
    /// A bundle directory no container record claims (a create or remove
    /// interrupted before this build kept a ledger).
    OrphanBundle {
        /// Its id (the directory's name).
        id: String,
    },
    /// A layer directory of the image store no image uses (a load or a
    /// removal interrupted by a crash of an older build, or files put there).
    OrphanLayer {
        /// Its chain id.
        chain_id: String,
    },
    /// An image whose layer is missing from the store (its files were
    /// deleted): its containers cannot start.
    MissingLayer {
        /// The image (its first name, or id).
        image: String,
        /// The missing layer's chain id.
        chain_id: String,
    },
    /// A blob of the image store no image uses (a removal killed before
    /// its sweep).
    OrphanBlob {
        /// Its digest.
        digest: String,
    },
    /// A container root in the image store that belongs to no container.
    OrphanContainerRoot {
        /// Its directory's name.
        id: String,
    },
    /// A network namespace no container's record claims (a command killed
    /// between making it and recording it, or one from before a reboot).
    LeakedNetns {
        /// The container id it was made for.
        id: String,
    },
    /// A record that does not decode (never removed automatically).
    CorruptRecord {
        /// Its key.
        key: String,
        /// Why it does not decode.
        reason: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::DuplicateLock { lock, objects } => {
                write!(f, "lock {lock} is shared by {}", objects.join(", "))
            }
            Finding::UnallocatedLock { lock, object } => {
                write!(f, "{object} uses lock {lock}, which is not allocated")
            }
            Finding::LeakedLock { lock } => {
                write!(
                    f,
                    "lock {lock} is allocated but no container or pod uses it"
                )
            }
            Finding::LockOutOfRange { lock, object } => {
                write!(f, "{object} uses lock {lock}, beyond the segment's size")
            }
            Finding::MissingBundle { object } => write!(f, "{object} has no config.json bundle"),
            Finding::Interrupted { op, pid, left } if left.is_empty() => {
                write!(
                    f,
                    "{op} by process {pid} was interrupted (nothing left over)"
                )
            }
            Finding::Interrupted { op, pid, left } => {
                write!(
                    f,
                    "{op} by process {pid} was interrupted, leaving {}",
                    left.join(", ")
                )
            }
            Finding::DatabaseDamage { problem } => {
                write!(
                    f,
                    "database damage: {problem} (not repaired: restore a backup or `oxpod system reset --force`)"
                )
            }
            Finding::OrphanBundle { id } => {
                write!(f, "bundle directory {id} belongs to no container")
            }
            Finding::OrphanLayer { chain_id } => {
                write!(f, "layer {chain_id} of the image store belongs to no image")
            }
            Finding::MissingLayer { image, chain_id } => write!(
                f,
                "image {image} lacks its layer {chain_id} (--repair removes the image when no container uses it; load it again)"
            ),
            Finding::OrphanBlob { digest } => {
                write!(f, "blob {digest} of the image store belongs to no image")
            }
            Finding::OrphanContainerRoot { id } => {
                write!(
                    f,
                    "container root {id} of the image store belongs to no container"
                )
            }
            Finding::LeakedNetns { id } => {
                write!(f, "network namespace {id} belongs to no container's run")
            }
            Finding::CorruptRecord { key, reason } => {
                write!(f, "record {key} does not decode: {reason} (not repaired)")
            }
        }
    }
}

/// What `system check` found, and what `--repair` fixed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Everything found.
    pub findings: Vec<Finding>,
    /// How many findings were repaired.
    pub repaired: usize,
}

/// Objects with a lock, for refresh, renumber and check.
pub(crate) enum Object {
    Container(Box<Container>),
    Pod(Box<Pod>),
    Volume(Box<crate::Volume>),
}

/// Every object, and the records that did not decode (key, reason).
pub(crate) type Objects = (Vec<Object>, Vec<(String, String)>);

impl Object {
    pub(crate) fn lock_id(&self) -> u32 {
        match self {
            Object::Container(c) => c.config.lock_id,
            Object::Pod(p) => p.config.lock_id,
            Object::Volume(v) => v.lock_id,
        }
    }
    pub(crate) fn label(&self) -> String {
        match self {
            Object::Container(c) => format!("container {}", c.config.name),
            Object::Pod(p) => format!("pod {}", p.config.name),
            Object::Volume(v) => format!("volume {}", v.name),
        }
    }
}

/// Removes what a reset removes: the images and their store (container
/// roots unmounted first), the database, the bundles, the volumes, the tmp
/// dir, the events log and the lock segment.
fn remove_store(config: &oxpod_config::Config) -> Result<()> {
    oxpod_storage::destroy(&config.static_dir.join("storage"))?;
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    for dir in [
        config.static_dir.join("state"),
        config.static_dir.join("containers"),
        config.volume_path.clone(),
        config.tmp_dir.clone(),
    ] {
        if runtime_dir.as_deref() == Some(dir.as_path()) {
            warn!(dir = %dir.display(), "not removing XDG_RUNTIME_DIR itself");
            continue;
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => debug!(dir = %dir.display(), "removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", dir, e)),
        }
    }
    if let Some(parent) = config.events_logfile_path.parent()
        && !parent.starts_with(&config.tmp_dir)
    {
        let _ = std::fs::remove_file(&config.events_logfile_path);
    }
    oxpod_locks::ShmLockManager::remove(&config.lock_name)?;
    Ok(())
}

/// `system reset` when the database cannot be opened (truncated, emptied,
/// damaged): nothing is read from it. Every container whose bundle is
/// still there is deleted from each OCI runtime (killing what runs), then
/// the store is removed as a reset removes it. Returns the ids deleted.
pub fn reset_unopened(options: crate::RuntimeOptions) -> Result<Vec<String>> {
    let loaded = options.loader().load()?;
    let config = &loaded.config;
    let ids: Vec<String> = std::fs::read_dir(config.static_dir.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| !id.is_empty() && !id.starts_with('.'))
        .collect();
    let driver: Option<std::sync::Arc<dyn oxpod_ociruntime::Driver>> = match &options.driver {
        Some(d) => Some(d.clone()),
        None => crate::open::real_driver(&loaded, &crate::layout::Layout::new(config))
            .map_err(|e| warn!(error = %e, "no OCI runtime to delete containers with"))
            .ok(),
    };
    if let Some(driver) = &driver {
        let runtimes: Vec<String> = driver.programs().runtimes.into_keys().collect();
        for id in &ids {
            for runtime in &runtimes {
                match driver.delete(runtime, id, true) {
                    Ok(()) => info!(id, runtime, "deleted"),
                    Err(e) => debug!(id, runtime, error = %e, "runtime delete"),
                }
            }
        }
    }
    remove_store(config)?;
    Ok(ids)
}

/// The whole runtime of a [`Runtime`].
#[derive(Debug, Clone, Copy)]
pub struct System<'r> {
    rt: &'r Runtime,
}

impl Runtime {
    /// Every container and pod of every namespace (refresh and renumber
    /// must cover all of them, whatever namespace this runtime is in).
    pub(crate) fn all_objects(&self) -> Result<Objects> {
        let (ctrs, pods) =
            self.in_all_namespaces(|state| (state.all_containers(), state.all_pods()));
        let (ctrs, pods) = (ctrs?, pods?);
        let mut skipped: Vec<(String, String)> = ctrs
            .skipped
            .iter()
            .chain(&pods.skipped)
            .map(|s| (s.key.clone(), s.reason.clone()))
            .collect();
        let mut objects: Vec<Object> = ctrs
            .items
            .into_iter()
            .map(|c| Object::Container(Box::new(c)))
            .chain(pods.items.into_iter().map(|p| Object::Pod(Box::new(p))))
            .collect();
        let volumes = self.state().all_items::<crate::Volume>()?;
        for v in volumes {
            match v {
                Ok(v) => objects.push(Object::Volume(Box::new(v))),
                Err(e) => skipped.push(("volume".to_owned(), e.to_string())),
            }
        }
        Ok((objects, skipped))
    }

    /// Runs `f` on the state with no namespace filter (refresh, renumber
    /// and check cover every object, whatever this runtime's namespace).
    pub(crate) fn in_all_namespaces<T>(&self, f: impl FnOnce(&mut dyn State) -> T) -> T {
        let mut state = self.state();
        let ns = state.namespace().to_owned();
        state.set_namespace("");
        let result = f(state.as_mut());
        state.set_namespace(&ns);
        result
    }

    fn set_lock_id(&self, obj: &mut Object, lock: u32) -> Result<()> {
        match obj {
            Object::Container(c) => {
                c.config.lock_id = lock;
                self.in_all_namespaces(|s| s.rewrite_container_config(&c.config))?;
            }
            Object::Pod(p) => {
                p.config.lock_id = lock;
                self.in_all_namespaces(|s| s.rewrite_pod_config(&p.config))?;
            }
            Object::Volume(v) => {
                v.lock_id = lock;
                self.state()
                    .write_items(&[oxpod_state::ItemOp::put(v.as_ref())?])?;
            }
        }
        Ok(())
    }

    /// After a reboot (under the alive lock, before the runtime is valid):
    /// reset per-boot state, re-claim every object's lock, clean conmon's
    /// leftovers, write the alive file, record a `refresh` event. No object
    /// lock is taken: the alive lock excludes other processes.
    ///
    /// Returns the `--rm` containers the last boot left (their run ended
    /// with the boot), for removal once the alive lock is released, as
    /// podman's refresh drops them.
    pub(crate) fn refresh(&self, alive: &AliveLock) -> Result<(Vec<String>, Vec<String>)> {
        info!("system restart detected: refreshing state");
        // Restarted after the reboot, as podman-restart.service does:
        // `always` ones, and `unless-stopped` ones the user had not
        // stopped (read before the refresh forgets who stopped what).
        let restart: Vec<String> = match self.state().all_containers() {
            Ok(listing) => listing
                .items
                .iter()
                .filter(|c| {
                    c.config.restart_policy == "always"
                        || (c.config.restart_policy == "unless-stopped" && !c.state.stopped_by_user)
                })
                .map(|c| c.config.id.clone())
                .collect(),
            Err(e) => {
                warn!(error = %e, "cannot list the containers to restart after the reboot");
                Vec::new()
            }
        };
        self.state().refresh()?;
        // No exec session survives a reboot.
        let sessions: Vec<ItemOp> = self
            .state()
            .items_bytes(crate::ExecSession::KIND)?
            .into_iter()
            .map(|(id, _)| ItemOp::remove::<crate::ExecSession>(&id))
            .collect();
        if !sessions.is_empty() {
            self.state().write_items(&sessions)?;
        }
        let (objects, _) = self.all_objects()?;
        let mut claimed = BTreeSet::new();
        let mut leftover_rm = Vec::new();
        for mut obj in objects {
            if let Err(e) = self.reclaim_lock(&mut obj, &mut claimed) {
                warn!(object = %obj.label(), error = %e, "cannot refresh");
            }
            if let Object::Container(c) = &obj {
                self.clean_leftovers(&self.layout, c);
                if c.config.auto_remove {
                    leftover_rm.push(c.config.id.clone());
                }
            }
        }
        // Network namespaces from before (a real reboot took them with
        // the tmpfs; a simulated one leaves them bound). The refresh freed
        // every lease.
        if let Err(e) = self.networks().leftovers(true) {
            warn!(error = %e, "cannot sweep the network namespaces");
        }
        alive.mark_alive(&self.layout)?;
        self.emit(Event::system(EventStatus::Refresh));
        Ok((leftover_rm, restart))
    }

    /// Re-marks every object's lock allocated in a lock manager that was
    /// just made while the tmp dir survived (the segment was removed by
    /// hand, or the locks live in memory): without it new objects would be
    /// given locks existing ones use. Runs under the alive lock.
    pub(crate) fn reclaim_locks(&self) -> Result<()> {
        let (objects, _) = self.all_objects()?;
        if !objects.is_empty() {
            warn!(
                count = objects.len(),
                "the lock segment was new: re-claiming the locks of every container and pod"
            );
        }
        let mut claimed = BTreeSet::new();
        for mut obj in objects {
            if let Err(e) = self.reclaim_lock(&mut obj, &mut claimed) {
                warn!(object = %obj.label(), error = %e, "cannot re-claim lock");
            }
        }
        Ok(())
    }

    /// Marks the object's lock allocated again. A number another object
    /// already claimed, or one beyond the segment, gets a fresh lock.
    fn reclaim_lock(&self, obj: &mut Object, claimed: &mut BTreeSet<u32>) -> Result<()> {
        let id = obj.lock_id();
        let clash = claimed.contains(&id);
        if !clash {
            match self.locks.allocate_given(id) {
                Ok(_) | Err(oxpod_locks::Error::AlreadyAllocated { .. }) => {
                    claimed.insert(id);
                    return Ok(());
                }
                Err(oxpod_locks::Error::IdOutOfRange { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let fresh = self.locks.allocate()?.id();
        warn!(
            object = %obj.label(),
            old = id,
            new = fresh,
            "lock clash resolved: the object gets a new lock"
        );
        claimed.insert(fresh);
        self.set_lock_id(obj, fresh)
    }

    /// Removes what conmon and the runtime left of a container's last boot.
    fn clean_leftovers(&self, layout: &Layout, c: &Container) {
        let id = &c.config.id;
        let bundle = layout.bundle_dir(id);
        for f in ["attach", "ctl", "oom"] {
            let _ = std::fs::remove_file(bundle.join(f));
        }
        let _ = std::fs::remove_dir_all(layout.run_dir(id));
        if let Err(e) = self.driver.archive_exit(id) {
            warn!(id, error = %e, "cannot set the last boot's exit file aside");
        }
    }

    /// Gives every container, then every pod, a new lock in order, after
    /// freeing all. Refused while containers run.
    pub(crate) fn renumber_under_alive_lock(&self) -> Result<()> {
        let (objects, _) = self.all_objects()?;
        crate::open::refuse_renumber_while_running(self.state().as_mut(), self.driver.as_ref())?;
        crate::open::refuse_while_locks_held(self.locks.as_ref())?;
        self.locks.free_all()?;
        let mut containers = Vec::new();
        let mut pods = Vec::new();
        let mut volumes = Vec::new();
        for obj in objects {
            let lock = self.locks.allocate()?.id();
            match obj {
                Object::Container(mut c) => {
                    c.config.lock_id = lock;
                    containers.push(c.config);
                }
                Object::Pod(mut p) => {
                    p.config.lock_id = lock;
                    pods.push(p.config);
                }
                Object::Volume(mut v) => {
                    v.lock_id = lock;
                    volumes.push(oxpod_state::ItemOp::put(v.as_ref())?);
                }
            }
        }
        // One transaction for every record: all renumbered, or none.
        self.in_all_namespaces(|s| s.rewrite_configs(&containers, &pods, &volumes))?;
        info!(
            containers = containers.len(),
            pods = pods.len(),
            "renumbered locks"
        );
        self.emit(Event::system(EventStatus::Renumber));
        Ok(())
    }

    pub(crate) fn is_running(&self, c: &Container) -> bool {
        matches!(
            c.state.status,
            ContainerStatus::Running | ContainerStatus::Paused
        ) && matches!(self.driver.exit(&c.config.id), Ok(None))
    }

    /// The versioned migrations, each idempotent: a container without a
    /// log path or a `config.json` (records from before bundles were
    /// written at create) gets them.
    pub(crate) fn migrate_under_alive_lock(&self) -> Result<()> {
        let (objects, _) = self.all_objects()?;
        let mut changed = 0usize;
        for obj in objects {
            let Object::Container(mut c) = obj else {
                continue;
            };
            let id = c.config.id.clone();
            if c.config.log_path.as_os_str().is_empty() {
                c.config.log_path = self.layout.log_path(&id);
                self.state().rewrite_container_config(&c.config)?;
                changed += 1;
            }
            if !self.layout.bundle_config(&id).exists() {
                self.containers().write_bundle(&c.config)?;
                changed += 1;
            }
        }
        info!(changed, "migrated");
        self.emit(Event::system(EventStatus::Migrate));
        Ok(())
    }
}

impl<'r> System<'r> {
    pub(crate) fn new(rt: &'r Runtime) -> Self {
        System { rt }
    }

    pub(crate) fn rt(&self) -> &'r Runtime {
        self.rt
    }

    /// Reads the events log.
    pub fn events(
        &self,
        options: ReadOptions,
        sink: &mut dyn FnMut(oxpod_events::Event) -> std::ops::ControlFlow<()>,
    ) -> Result<()> {
        self.rt.check_valid()?;
        Ok(self.rt.events.read(options, sink)?)
    }

    /// Removes every container (stopping running ones) and pod, then the
    /// database, the container bundles, the tmp dir and the lock segment.
    /// The runtime is stopped afterwards: every later call fails.
    pub fn reset(&self) -> Result<()> {
        let rt = self.rt;
        rt.check_valid()?;
        // Removing takes the alive lock shared, so the exclusive hold comes
        // after the removals.
        let (objects, _) = rt.all_objects()?;
        let mut failed: Vec<String> = Vec::new();
        for obj in &objects {
            if let Object::Pod(p) = obj
                && let Err(e) = rt.pods().remove(&PodRef::from(p.as_ref()), true)
            {
                failed.push(format!("pod {}: {e}", p.config.name));
            }
        }
        for obj in &objects {
            if let Object::Container(c) = obj {
                match rt
                    .containers()
                    .remove(&ContainerRef::from(c.as_ref()), true)
                {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => failed.push(format!("container {}: {e}", c.config.name)),
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::ResetIncomplete { failures: failed });
        }
        let alive = AliveLock::take(&rt.layout)?;
        rt.valid.store(false, Ordering::Release);
        rt.state().close()?;
        drop(alive);
        remove_store(rt.config())
    }

    /// Checks the database against the lock segment, the bundles and the
    /// journals of interrupted commands; with `repair`, fixes what can be
    /// fixed without losing anything.
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let rt = self.rt;
        rt.check_valid()?;
        let alive = AliveLock::take(&rt.layout)?;
        // A commit of a writer killed midway is published before anything
        // is read (see `State::settle`).
        rt.state().settle()?;
        let mut report = CheckReport::default();
        let mut leftover_rm = Vec::new();
        // Interrupted operations first: what they release is then no
        // longer reported as leaked.
        for Interrupted {
            op,
            pid,
            released,
            remove,
        } in ledger::repair(rt, repair)?
        {
            leftover_rm.extend(remove);
            report.findings.push(Finding::Interrupted {
                op,
                pid,
                left: released,
            });
            if repair {
                report.repaired += 1;
            }
        }
        for problem in rt.state().verify()? {
            report.findings.push(Finding::DatabaseDamage { problem });
        }
        let (mut objects, skipped) = rt.all_objects()?;
        let all_decoded = skipped.is_empty();
        let allocated: BTreeSet<u32> = rt.locks.allocated()?.into_iter().collect();
        let capacity = rt.locks.capacity();
        for (key, reason) in skipped {
            report.findings.push(Finding::CorruptRecord { key, reason });
        }
        let mut by_lock: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, o) in objects.iter().enumerate() {
            by_lock.entry(o.lock_id()).or_default().push(i);
        }
        // Objects to give a new lock, and how many findings that repairs
        // (a lock shared three ways is one finding and two new locks).
        let mut needs_new_lock = Vec::new();
        let mut new_lock_findings = 0usize;
        for (&lock, users) in &by_lock {
            if lock >= capacity {
                for &i in users {
                    report.findings.push(Finding::LockOutOfRange {
                        lock,
                        object: objects[i].label(),
                    });
                    needs_new_lock.push(i);
                    new_lock_findings += 1;
                }
                continue;
            }
            if users.len() > 1 {
                report.findings.push(Finding::DuplicateLock {
                    lock,
                    objects: users.iter().map(|&i| objects[i].label()).collect(),
                });
                needs_new_lock.extend(users.iter().skip(1));
                new_lock_findings += 1;
            }
            if !allocated.contains(&lock) {
                report.findings.push(Finding::UnallocatedLock {
                    lock,
                    object: objects[users[0]].label(),
                });
                if repair {
                    rt.locks.allocate_given(lock)?;
                    report.repaired += 1;
                }
            }
        }
        let claimed: BTreeSet<u32> = by_lock.keys().copied().collect();
        for &lock in allocated.difference(&claimed) {
            report.findings.push(Finding::LeakedLock { lock });
            if repair {
                rt.locks.free(lock)?;
                report.repaired += 1;
            }
        }
        for o in &objects {
            if let Object::Container(c) = o
                && !rt.layout.bundle_config(&c.config.id).exists()
            {
                report
                    .findings
                    .push(Finding::MissingBundle { object: o.label() });
                if repair {
                    rt.containers().write_bundle(&c.config)?;
                    report.repaired += 1;
                }
            }
        }
        // Bundle dirs without a record (only when every record decoded: an
        // undecodable one may own a dir).
        if all_decoded {
            let ids: BTreeSet<&str> = objects
                .iter()
                .filter_map(|o| match o {
                    Object::Container(c) => Some(c.config.id.as_str()),
                    Object::Pod(_) | Object::Volume(_) => None,
                })
                .collect();
            let dir = rt.layout.static_dir.join("containers");
            let mut orphans: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| !ids.contains(name.as_str()))
                .collect();
            orphans.sort();
            for id in orphans {
                if repair {
                    crate::ledger::release_bundle(rt, &id);
                    report.repaired += 1;
                }
                report.findings.push(Finding::OrphanBundle { id });
            }
        }
        if all_decoded {
            for id in rt.networks().leftovers(repair)? {
                if repair {
                    report.repaired += 1;
                }
                report.findings.push(Finding::LeakedNetns { id });
            }
        }
        if all_decoded && rt.layout.storage_dir().exists() {
            self.check_store(&objects, repair, &mut report)?;
        }
        if repair {
            for i in needs_new_lock {
                let fresh = rt.locks.allocate()?.id();
                rt.set_lock_id(&mut objects[i], fresh)?;
            }
            report.repaired += new_lock_findings;
        }
        drop(alive);
        rt.remove_leftover(&leftover_rm);
        Ok(report)
    }

    /// The image store against the image and container records: layers no
    /// image uses, images missing a layer, container roots of no container.
    /// Run under the store's exclusive lock, so no load is half-way.
    fn check_store(
        &self,
        objects: &[Object],
        repair: bool,
        report: &mut CheckReport,
    ) -> Result<()> {
        let rt = self.rt();
        let store = rt.storage()?;
        let _exclusive = store.lock_exclusive()?;
        let images = rt.images().list()?;
        let mut used = BTreeSet::new();
        for img in &images {
            let name = img.names.first().cloned().unwrap_or_else(|| img.id.clone());
            let mut missing = None;
            let mut chains = Vec::new();
            for l in &img.layers {
                let chain = oxpod_storage::Digest::parse(&l.chain_id)?;
                if store.layer(&chain)?.is_none() && missing.is_none() {
                    missing = Some(l.chain_id.clone());
                }
                chains.push(chain);
            }
            let mut removed = false;
            if let Some(chain_id) = missing {
                let in_use = !rt.images().users(img)?.is_empty();
                if repair && !in_use {
                    oxpod_state::ItemsExt::remove_item::<crate::Image>(&mut **rt.state(), &img.id)?;
                    report.repaired += 1;
                    removed = true;
                }
                report.findings.push(Finding::MissingLayer {
                    image: name,
                    chain_id,
                });
            }
            // A removed image's other layers are then unused (swept below).
            if !removed {
                used.extend(chains);
            }
        }
        for chain in store.layers()? {
            if !used.contains(&chain) {
                if repair {
                    store.remove_layer(&chain)?;
                    report.repaired += 1;
                }
                report.findings.push(Finding::OrphanLayer {
                    chain_id: chain.to_string(),
                });
            }
        }
        let mut blobs = BTreeSet::new();
        for img in rt.images().list()? {
            blobs.insert(oxpod_storage::Digest::parse(&img.digest())?);
            for l in &img.layers {
                blobs.insert(oxpod_storage::Digest::parse(&l.blob)?);
            }
        }
        for b in store.blobs()? {
            if !blobs.contains(&b) {
                if repair {
                    let p = store.blob_path(&b);
                    std::fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
                    report.repaired += 1;
                }
                report.findings.push(Finding::OrphanBlob {
                    digest: b.to_string(),
                });
            }
        }
        let ids: BTreeSet<&str> = objects
            .iter()
            .filter_map(|o| match o {
                Object::Container(c) => Some(c.config.id.as_str()),
                Object::Pod(_) | Object::Volume(_) => None,
            })
            .collect();
        for id in store.containers()? {
            if !ids.contains(id.as_str()) {
                if repair {
                    store.remove_container(&id)?;
                    report.repaired += 1;
                }
                report.findings.push(Finding::OrphanContainerRoot { id });
            }
        }
        Ok(())
    }

    /// Stops the runtime: with `force`, stops running containers first.
    /// Every later call fails with "runtime has already been stopped".
    pub fn shutdown(&self, force: bool) -> Result<()> {
        let rt = self.rt;
        if !rt.valid.swap(false, Ordering::AcqRel) {
            return Err(Error::Stopped);
        }
        let mut failed: Vec<String> = Vec::new();
        if force {
            rt.valid.store(true, Ordering::Release);
            let running = rt.containers().list(&[]).unwrap_or_default();
            for c in running.iter().filter(|c| rt.is_running(c)) {
                if let Err(e) = rt.containers().stop(&ContainerRef::from(c), Some(10)) {
                    failed.push(format!("container {}: {e}", c.config.name));
                }
            }
            rt.valid.store(false, Ordering::Release);
        }
        if let Err(e) = rt.state().close() {
            failed.push(format!("database: {e}"));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::ShutdownIncomplete { failures: failed })
        }
    }
}
