//! Containers in the state: create, look up, list, inspect, remove.
//!
//! Creation allocates the lock first and frees it again if anything after
//! fails, so a failed create leaves nothing behind. Removal frees the lock
//! only after the record is gone. Listing reads in one transaction and
//! takes no lock; an exit that conmon recorded is folded in from the exit
//! file (a stat, no runtime process).

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_locks::{Lock, LockGuard};
use oxpod_ociruntime::{CgroupManager, ContainerSpec};
use oxpod_state::{Container, ContainerConfig, ContainerState, ContainerStatus};
use tracing::{debug, warn};

use crate::names::{new_id, random_name, valid_name};
use crate::open::AliveLock;
use crate::{Error, Result, Runtime, container_event};

/// What a new container is made of.
#[derive(Debug, Clone, Default)]
pub struct NewContainer {
    /// Its name; `None` generates an `adjective_surname` no other container
    /// or pod has.
    pub name: Option<String>,
    /// A pod to join (name, id or unique id prefix).
    pub pod: Option<String>,
    /// The root filesystem directory.
    pub rootfs: PathBuf,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Working directory inside the container (default `/`).
    pub working_dir: Option<String>,
    /// Hostname (default: the short id).
    pub hostname: Option<String>,
    /// Remove the container once it has exited (`run --rm`).
    pub auto_remove: bool,
    /// Signal `stop` sends first (default SIGTERM).
    pub stop_signal: Option<u32>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    pub stop_timeout: Option<u32>,
}

/// A `ps --filter key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerFilter {
    /// Id starts with this.
    Id(String),
    /// Name contains this.
    Name(String),
    /// Has this label (`key`) or label value (`key=value`).
    Label(String, Option<String>),
    /// Has this status (`created`, `running`, `exited`, ...).
    Status(String),
    /// Is in this pod (name or id prefix).
    Pod(String),
    /// Exited with this code.
    Exited(i32),
}

impl ContainerFilter {
    /// Parses `key=value`.
    pub fn parse(text: &str) -> Result<Self> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(Error::InvalidKeyValue {
                what: "filter",
                value: text.to_owned(),
            });
        };
        Ok(match key {
            "id" => ContainerFilter::Id(value.to_owned()),
            "name" => ContainerFilter::Name(value.to_owned()),
            "label" => match value.split_once('=') {
                Some((k, v)) => ContainerFilter::Label(k.to_owned(), Some(v.to_owned())),
                None => ContainerFilter::Label(value.to_owned(), None),
            },
            "status" => {
                let ok = value.parse::<ContainerStatus>().is_ok();
                if !ok {
                    return Err(Error::InvalidKeyValue {
                        what: "status filter",
                        value: value.to_owned(),
                    });
                }
                ContainerFilter::Status(value.to_owned())
            }
            "pod" => ContainerFilter::Pod(value.to_owned()),
            "exited" => {
                ContainerFilter::Exited(value.parse().map_err(|_| Error::InvalidKeyValue {
                    what: "exited filter",
                    value: value.to_owned(),
                })?)
            }
            other => {
                return Err(Error::UnknownFilter {
                    key: other.to_owned(),
                });
            }
        })
    }

    fn matches(&self, c: &Container, pod_ids: &[String]) -> bool {
        match self {
            ContainerFilter::Id(p) => c.config.id.starts_with(p.as_str()),
            ContainerFilter::Name(n) => c.config.name.contains(n.as_str()),
            ContainerFilter::Label(k, v) => match (c.config.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            },
            ContainerFilter::Status(s) => c.state.status.as_str() == s,
            ContainerFilter::Pod(_) => c
                .config
                .pod
                .as_ref()
                .is_some_and(|p| pod_ids.iter().any(|id| id == p)),
            ContainerFilter::Exited(code) => {
                c.state.status == ContainerStatus::Exited && c.state.exit_code == *code
            }
        }
    }
}

/// Splits `KEY=VALUE` pairs into a map.
pub fn parse_key_values(what: &'static str, items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(Error::InvalidKeyValue {
                what,
                value: s.clone(),
            }),
        })
        .collect()
}

impl Runtime {
    /// Creates a container: id, name, lock, bundle (`config.json`), record,
    /// `create` event. Nothing is left behind when it fails.
    pub fn create_container(&self, new: NewContainer) -> Result<Container> {
        self.check_valid()?;
        if let Some(name) = &new.name
            && !valid_name(name)
        {
            return Err(Error::InvalidName { name: name.clone() });
        }
        let rootfs = std::fs::canonicalize(&new.rootfs)
            .map_err(|e| Error::io("use rootfs", &new.rootfs, e))?;
        if !rootfs.is_dir() {
            return Err(Error::io(
                "use rootfs",
                &rootfs,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        let pod = match &new.pod {
            Some(p) => Some(self.state().lookup_pod(p)?),
            None => None,
        };
        let id = new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?;
        let _moving = AliveLock::shared(&self.layout)?;
        let lock = self.locks.allocate()?;
        debug!(lock = lock.id(), id, "allocated lock for new container");
        let result = self.create_with_lock(new, rootfs, pod.as_ref(), &id, &lock);
        if result.is_err() {
            if let Err(e) = self.locks.free(lock.id()) {
                warn!(lock = lock.id(), error = %e, "cannot free lock of failed create");
            }
            let _ = std::fs::remove_dir_all(self.layout.bundle_dir(&id));
        }
        result
    }

    fn create_with_lock(
        &self,
        new: NewContainer,
        rootfs: PathBuf,
        pod: Option<&oxpod_state::Pod>,
        id: &str,
        lock: &Lock,
    ) -> Result<Container> {
        let generated = new.name.is_none();
        let name = match new.name {
            Some(n) => n,
            None => self.generate_name()?,
        };
        let config = ContainerConfig {
            id: id.to_owned(),
            name,
            namespace: self.config().namespace.clone(),
            pod: pod.map(|p| p.config.id.clone()),
            lock_id: lock.id(),
            rootfs,
            command: new.command,
            env: new.env,
            working_dir: new.working_dir.unwrap_or_else(|| "/".to_owned()),
            user: "0:0".to_owned(),
            hostname: new.hostname.unwrap_or_else(|| id[..12].to_owned()),
            auto_remove: new.auto_remove,
            labels: new.labels,
            oci_runtime: self.runtimes.default_name().to_owned(),
            stop_signal: new.stop_signal.unwrap_or(15),
            stop_timeout: new.stop_timeout.unwrap_or(10),
            log_path: self.layout.log_path(id),
            created: Timestamp::now(),
            ..ContainerConfig::default()
        };
        self.write_bundle(&config)?;
        let mut ctr = Container {
            config,
            state: ContainerState {
                status: ContainerStatus::Configured,
                bundle_path: Some(self.layout.bundle_dir(id)),
                ..ContainerState::default()
            },
        };
        // A generated name another process took between our check and our
        // add: draw again (the user never asked for that name).
        let mut tries = 0;
        loop {
            match self.add_to_state(pod, &ctr) {
                Err(Error::State(oxpod_state::Error::NameInUse { .. }))
                    if generated && tries < 8 =>
                {
                    tries += 1;
                    ctr.config.name = self.generate_name()?;
                }
                other => break other?,
            }
        }
        self.emit(container_event(EventStatus::Create, &ctr.config));
        Ok(ctr)
    }

    fn add_to_state(&self, pod: Option<&oxpod_state::Pod>, ctr: &Container) -> Result<()> {
        match pod {
            Some(pod) => {
                // Pod lock around the add, so the pod cannot be removed meanwhile.
                let _g = self.take_lock(pod.config.lock_id)?;
                self.state().add_container_to_pod(&pod.config.id, ctr)?;
            }
            None => self.state().add_container(ctr)?,
        }
        Ok(())
    }

    /// Writes `config.json` for the container into its bundle directory.
    pub(crate) fn write_bundle(&self, config: &ContainerConfig) -> Result<()> {
        let manager = match self.config().cgroup_manager.as_str() {
            "systemd" => CgroupManager::Systemd,
            _ => CgroupManager::Cgroupfs,
        };
        let spec = ContainerSpec {
            id: config.id.clone(),
            rootfs: config.rootfs.clone(),
            args: config.command.clone(),
            env: config.env.clone(),
            cwd: PathBuf::from(&config.working_dir),
            hostname: Some(config.hostname.clone()),
            terminal: config.terminal,
            annotations: config.annotations.clone(),
            cgroup_manager: manager,
            rootless: self.identity.rootless,
            ..ContainerSpec::default()
        };
        let spec = oxpod_ociruntime::generate_spec(&spec)?;
        oxpod_ociruntime::write_bundle(&self.layout.bundle_dir(&config.id), &spec)?;
        Ok(())
    }

    /// A generated name no container or pod has.
    pub(crate) fn generate_name(&self) -> Result<String> {
        loop {
            let name = random_name().map_err(|e| Error::io("read", "/dev/urandom", e))?;
            if !self.state().name_exists(&name)? {
                return Ok(name);
            }
        }
    }

    /// The container with this name, id or unique id prefix, with any exit
    /// conmon recorded folded in.
    pub fn container(&self, name_or_id: &str) -> Result<Container> {
        self.check_valid()?;
        let mut ctr = self.state().lookup_container(name_or_id)?;
        self.sync_unlocked(&mut ctr);
        Ok(ctr)
    }

    /// Every container (in one read transaction), optionally filtered,
    /// sorted by creation time, newest first, as `ps` shows them. Takes no
    /// container lock and spawns no process.
    pub fn containers(&self, filters: &[ContainerFilter]) -> Result<Vec<Container>> {
        self.check_valid()?;
        let listing = self.state().all_containers()?;
        for s in &listing.skipped {
            warn!(key = %s.key, reason = %s.reason, "skipping a container record that does not decode");
        }
        let pod_ids = self.filter_pod_ids(filters)?;
        let mut out: Vec<Container> = listing
            .items
            .into_iter()
            .map(|mut c| {
                self.sync_unlocked(&mut c);
                c
            })
            .filter(|c| filters.iter().all(|f| f.matches(c, &pod_ids)))
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        Ok(out)
    }

    fn filter_pod_ids(&self, filters: &[ContainerFilter]) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for f in filters {
            if let ContainerFilter::Pod(p) = f {
                let found = self.state().lookup_pod(p);
                match found {
                    Ok(pod) => ids.push(pod.config.id),
                    Err(oxpod_state::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(ids)
    }

    /// Removes a container: refused while it runs unless `force` (then it
    /// is stopped first). The lock is freed after the record is gone.
    /// Returns the id.
    pub fn remove_container(&self, name_or_id: &str, force: bool) -> Result<String> {
        self.check_valid()?;
        let ctr = self.state().lookup_container(name_or_id)?;
        let pod_guard = match &ctr.config.pod {
            Some(pod_id) => {
                let pod = self.state().pod(pod_id)?;
                Some(self.take_lock(pod.config.lock_id)?)
            }
            None => None,
        };
        let id = self.remove_container_locked(&ctr.config.id, force)?;
        drop(pod_guard);
        Ok(id)
    }

    /// Removes several containers (`rm -a`, `rm a b c`): what
    /// [`Runtime::remove_container`] does for each, but the records of the
    /// standalone ones go in one transaction, so removing a thousand costs
    /// one commit, not a thousand. Returns each name with its id or error,
    /// in the order given.
    pub fn remove_containers(
        &self,
        names: &[String],
        force: bool,
    ) -> Vec<(String, Result<String>)> {
        if self.check_valid().is_err() {
            return names
                .iter()
                .map(|n| (n.clone(), Err(Error::Stopped)))
                .collect();
        }
        let mut results: Vec<Option<Result<String>>> = names.iter().map(|_| None).collect();
        // Pod members one by one (pod lock first); the rest in one batch.
        let mut batch: Vec<(usize, Container)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let found = self.state().lookup_container(name);
            match found {
                Ok(c) if c.config.pod.is_none() => batch.push((i, c)),
                Ok(_) => results[i] = Some(self.remove_container(name, force)),
                Err(e) => results[i] = Some(Err(e.into())),
            }
        }
        // Locks in ascending order, each once (two records sharing a lock
        // is a damaged store: the second falls back to one by one).
        batch.sort_by_key(|(_, c)| c.config.lock_id);
        let mut guards = Vec::new();
        let mut locked: Vec<(usize, Container)> = Vec::new();
        let mut alone: Vec<usize> = Vec::new();
        for (i, c) in batch {
            if guards
                .last()
                .is_some_and(|(id, _): &(u32, LockGuard)| *id == c.config.lock_id)
            {
                alone.push(i);
                continue;
            }
            match self.lock_container(&c.config.id) {
                Ok((ctr, guard)) => {
                    guards.push((ctr.config.lock_id, guard));
                    match self.prepare_removal(&ctr, force) {
                        Ok(()) => locked.push((i, ctr)),
                        Err(e) => results[i] = Some(Err(e)),
                    }
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let ids: Vec<String> = locked.iter().map(|(_, c)| c.config.id.clone()).collect();
        let moving = AliveLock::shared(&self.layout);
        let removed = match &moving {
            Ok(_) => self.state().remove_containers(&ids).map_err(Error::from),
            Err(e) => Err(Error::io(
                "lock",
                self.layout.alive_lock(),
                std::io::Error::other(e.to_string()),
            )),
        };
        match removed {
            Ok(()) => {
                for (_, ctr) in &locked {
                    self.cleanup_runtime_files(ctr);
                }
                drop(guards);
                for (i, ctr) in locked {
                    match self.locks.free(ctr.config.lock_id) {
                        Ok(()) | Err(oxpod_locks::Error::NotAllocated { .. }) => {}
                        Err(e) => warn!(id = %ctr.config.id, error = %e, "cannot free lock"),
                    }
                    self.emit(container_event(EventStatus::Remove, &ctr.config));
                    results[i] = Some(Ok(ctr.config.id));
                }
                drop(moving);
            }
            Err(e) => {
                // A dependent outside the set, say: one by one, so each
                // gets its own answer.
                debug!(error = %e, "batch removal failed; removing one by one");
                drop(moving);
                drop(guards);
                alone.extend(locked.into_iter().map(|(i, _)| i));
            }
        }
        for i in alone {
            results[i] = Some(self.remove_container(&names[i], force));
        }
        names
            .iter()
            .cloned()
            .zip(
                results
                    .into_iter()
                    .map(|r| r.unwrap_or(Err(Error::Stopped))),
            )
            .collect()
    }

    /// Under the container's lock: refuses a running container without
    /// `force`, stops it with.
    fn prepare_removal(&self, ctr: &Container, force: bool) -> Result<()> {
        match ctr.state.status {
            ContainerStatus::Running | ContainerStatus::Paused if !force => {
                Err(Error::ContainerState {
                    name: ctr.config.name.clone(),
                    status: ctr.state.status.to_string(),
                    remedy: "stop it first, or remove it with --force",
                })
            }
            ContainerStatus::Running | ContainerStatus::Paused => self.stop_locked(ctr, Some(0)),
            _ => Ok(()),
        }
    }

    /// Removal once any pod lock is held.
    pub(crate) fn remove_container_locked(&self, id: &str, force: bool) -> Result<String> {
        let (ctr, guard) = self.lock_container(id)?;
        self.prepare_removal(&ctr, force)?;
        let moving = AliveLock::shared(&self.layout)?;
        {
            let mut state = self.state();
            match &ctr.config.pod {
                Some(pod) => state.remove_container_from_pod(pod, id)?,
                None => state.remove_container(id)?,
            }
        }
        self.cleanup_runtime_files(&ctr);
        drop(guard);
        match self.locks.free(ctr.config.lock_id) {
            Ok(()) | Err(oxpod_locks::Error::NotAllocated { .. }) => {}
            Err(e) => warn!(id, lock = ctr.config.lock_id, error = %e, "cannot free lock"),
        }
        drop(moving);
        self.emit(container_event(EventStatus::Remove, &ctr.config));
        Ok(ctr.config.id)
    }

    /// Deletes the runtime's record and our files of a container that is
    /// gone from the state. Failures are logged: the record is already gone.
    fn cleanup_runtime_files(&self, ctr: &Container) {
        let id = &ctr.config.id;
        if ctr.state.status != ContainerStatus::Configured
            && let Some(rt) = self.runtimes.get(&ctr.config.oci_runtime)
            && let Err(e) = rt.delete(id, true)
        {
            debug!(id, error = %e, "runtime delete");
        }
        for dir in [self.layout.bundle_dir(id), self.layout.run_dir(id)] {
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                warn!(path = %dir.display(), error = %e, "cannot remove");
            }
        }
        let _ = std::fs::remove_file(self.layout.exit_dir().join(id));
    }

    /// Takes the container's lock and reads its current state under it,
    /// folding in (and saving) an exit conmon recorded.
    pub(crate) fn lock_container(&self, id: &str) -> Result<(Container, LockGuard)> {
        let lock_id = self.state().container(id)?.config.lock_id;
        let guard = self.take_lock(lock_id)?;
        // Re-read: it may have changed (or gone) while we waited.
        let mut ctr = self.state().container(id)?;
        self.sync_locked(&mut ctr)?;
        Ok((ctr, guard))
    }

    /// Folds a recorded exit into `ctr` without saving it.
    fn apply_exit(&self, ctr: &mut Container) -> bool {
        if !matches!(
            ctr.state.status,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Stopped
        ) {
            return false;
        }
        let exit_dir = self.layout.exit_dir();
        let code = match oxpod_ociruntime::read_exit_file(&exit_dir, &ctr.config.id) {
            Ok(Some(code)) => code,
            Ok(None) => return false,
            Err(e) => {
                warn!(id = %ctr.config.id, error = %e, "cannot read exit file");
                return false;
            }
        };
        let finished = std::fs::metadata(exit_dir.join(&ctr.config.id))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok())
            .unwrap_or_else(Timestamp::now);
        let st = &mut ctr.state;
        st.status = ContainerStatus::Exited;
        st.exit_code = code;
        st.exited = true;
        st.finished_at = Some(finished);
        st.pid = None;
        st.conmon_pid = None;
        true
    }

    /// Under the container's lock: folds in and saves a recorded exit, and
    /// writes its one `died` event.
    pub(crate) fn sync_locked(&self, ctr: &mut Container) -> Result<()> {
        if self.apply_exit(ctr) {
            self.state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
            self.emit(
                container_event(EventStatus::Died, &ctr.config).with_exit_code(ctr.state.exit_code),
            );
        }
        Ok(())
    }

    /// Without waiting for any lock: folds in a recorded exit; saves it
    /// (with its `died` event) only if the container's lock is free now.
    fn sync_unlocked(&self, ctr: &mut Container) {
        if !self.apply_exit(ctr) {
            return;
        }
        let Ok(lock) = self.locks.retrieve(ctr.config.lock_id) else {
            return;
        };
        if let Ok(Some(_guard)) = lock.try_lock() {
            let fresh = self.state().container(&ctr.config.id);
            match fresh {
                Ok(mut fresh) => {
                    if let Err(e) = self.sync_locked(&mut fresh) {
                        warn!(id = %ctr.config.id, error = %e, "cannot save exit");
                    }
                }
                Err(e) => debug!(id = %ctr.config.id, error = %e, "container gone"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(
            ContainerFilter::parse("label=a=b").unwrap(),
            ContainerFilter::Label("a".into(), Some("b".into()))
        );
        assert_eq!(
            ContainerFilter::parse("status=running").unwrap(),
            ContainerFilter::Status("running".into())
        );
        assert!(matches!(
            ContainerFilter::parse("colour=red"),
            Err(Error::UnknownFilter { .. })
        ));
        assert!(matches!(
            ContainerFilter::parse("status=sleepy"),
            Err(Error::InvalidKeyValue { .. })
        ));
        assert!(matches!(
            ContainerFilter::parse("nokey"),
            Err(Error::InvalidKeyValue { .. })
        ));
    }

    #[test]
    fn key_values() {
        let m = parse_key_values("label", &["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(m["b"], "x=y");
        assert!(parse_key_values("label", &["=1".into()]).is_err());
    }
}
