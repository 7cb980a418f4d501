//! Pods: create, look up, list, remove, and acting on their containers.
//! A pod's lock is always taken before any of its containers' locks.

use std::collections::BTreeMap;

use jiff::Timestamp;
use oxpod_events::{Event, EventStatus};
use oxpod_state::{ContainerStatus, Pod, PodConfig, PodState};
use tracing::{debug, warn};

use crate::names::{new_id, valid_name};
use crate::open::AliveLock;
use crate::{Error, Result, Runtime};

/// What a new pod is made of.
#[derive(Debug, Clone, Default)]
pub struct NewPod {
    /// Its name; `None` generates one.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl Runtime {
    /// Creates a pod with its own lock; `create` pod event.
    pub fn create_pod(&self, new: NewPod) -> Result<Pod> {
        self.check_valid()?;
        if let Some(name) = &new.name
            && !valid_name(name)
        {
            return Err(Error::InvalidName { name: name.clone() });
        }
        let id = new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?;
        let name = match new.name {
            Some(n) => n,
            None => self.generate_name()?,
        };
        let _moving = AliveLock::shared(&self.layout)?;
        let lock = self.locks.allocate()?;
        let pod = Pod {
            config: PodConfig {
                id: id.clone(),
                name,
                namespace: self.config().namespace.clone(),
                labels: new.labels,
                lock_id: lock.id(),
                created: Timestamp::now(),
                ..PodConfig::default()
            },
            state: PodState::default(),
        };
        let added = self.state().add_pod(&pod);
        if let Err(e) = added {
            if let Err(fe) = self.locks.free(lock.id()) {
                warn!(lock = lock.id(), error = %fe, "cannot free lock of failed pod create");
            }
            return Err(e.into());
        }
        self.emit(Event::pod(EventStatus::Create, &id, &pod.config.name));
        Ok(pod)
    }

    /// The pod with this name, id or unique id prefix.
    pub fn pod(&self, name_or_id: &str) -> Result<Pod> {
        self.check_valid()?;
        Ok(self.state().lookup_pod(name_or_id)?)
    }

    /// Every pod, newest first, with the ids of its containers.
    pub fn pods(&self) -> Result<Vec<(Pod, Vec<String>)>> {
        self.check_valid()?;
        let listing = self.state().all_pods()?;
        for s in &listing.skipped {
            warn!(key = %s.key, reason = %s.reason, "skipping a pod record that does not decode");
        }
        let mut out = Vec::with_capacity(listing.items.len());
        for pod in listing.items {
            let ids = self.state().pod_container_ids(&pod.config.id)?;
            out.push((pod, ids));
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.0.config.created));
        Ok(out)
    }

    /// Removes a pod: refused while it has containers unless `force`, which
    /// removes them first (stopping running ones). Returns the id.
    pub fn remove_pod(&self, name_or_id: &str, force: bool) -> Result<String> {
        self.check_valid()?;
        let pod = self.state().lookup_pod(name_or_id)?;
        let id = pod.config.id.clone();
        let guard = self.take_lock(pod.config.lock_id)?;
        let members = self.state().pod_container_ids(&id)?;
        if !members.is_empty() && !force {
            return Err(Error::PodNotEmpty {
                name: pod.config.name.clone(),
                count: members.len(),
            });
        }
        for ctr in &members {
            self.remove_container_locked(ctr, true)?;
        }
        let moving = AliveLock::shared(&self.layout)?;
        self.state().remove_pod(&id)?;
        drop(guard);
        match self.locks.free(pod.config.lock_id) {
            Ok(()) | Err(oxpod_locks::Error::NotAllocated { .. }) => {}
            Err(e) => warn!(id, error = %e, "cannot free pod lock"),
        }
        drop(moving);
        self.emit(Event::pod(EventStatus::Remove, &id, &pod.config.name));
        Ok(id)
    }

    /// Starts every container of the pod that is not running; returns the
    /// first error after trying all.
    pub fn start_pod(&self, name_or_id: &str) -> Result<Pod> {
        self.for_each_pod_container(name_or_id, EventStatus::Start, |rt, id, status| {
            if status != ContainerStatus::Running {
                rt.start_container(id)?;
            }
            Ok(())
        })
    }

    /// Stops every running container of the pod.
    /// All members get their stop signal first and are then waited for, so
    /// the pod stops within one timeout, not one per member.
    pub fn stop_pod(&self, name_or_id: &str, timeout: Option<u32>) -> Result<Pod> {
        self.check_valid()?;
        let pod = self.state().lookup_pod(name_or_id)?;
        let members = self.state().pod_containers(&pod.config.id)?;
        let mut first_error = None;
        let mut pending = Vec::new();
        for ctr in &members {
            match self.begin_stop(&ctr.config.id, timeout) {
                Ok(Some(p)) => pending.push(p),
                Ok(None) => {}
                Err(e) => {
                    warn!(id = %ctr.config.id, error = %e, "pod member failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        for p in pending {
            let id = p.id().to_owned();
            match self.finish_stop(p) {
                Ok(outcome) => debug!(id, ?outcome, "stopped pod member"),
                Err(e) => {
                    warn!(id, error = %e, "pod member failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        self.emit(Event::pod(
            EventStatus::Stop,
            &pod.config.id,
            &pod.config.name,
        ));
        match first_error {
            Some(e) => Err(e),
            None => Ok(pod),
        }
    }

    /// Sends a signal to every running container of the pod.
    pub fn kill_pod(&self, name_or_id: &str, signal: i32) -> Result<Pod> {
        self.for_each_pod_container(name_or_id, EventStatus::Kill, |rt, id, status| {
            if matches!(status, ContainerStatus::Running | ContainerStatus::Paused) {
                rt.kill_container(id, signal)?;
            }
            Ok(())
        })
    }

    /// Runs `f` on each container of the pod. No pod lock is held across
    /// the calls: each takes its container's lock for its own state change,
    /// and `stop` must not hold locks while it waits.
    fn for_each_pod_container(
        &self,
        name_or_id: &str,
        event: EventStatus,
        mut f: impl FnMut(&Runtime, &str, ContainerStatus) -> Result<()>,
    ) -> Result<Pod> {
        self.check_valid()?;
        let pod = self.state().lookup_pod(name_or_id)?;
        let members = self.state().pod_containers(&pod.config.id)?;
        let mut first_error = None;
        for ctr in members {
            let status = self.container(&ctr.config.id)?.state.status;
            if let Err(e) = f(self, &ctr.config.id, status) {
                warn!(id = %ctr.config.id, error = %e, "pod member failed");
                first_error.get_or_insert(e);
            }
        }
        self.emit(Event::pod(event, &pod.config.id, &pod.config.name));
        match first_error {
            Some(e) => Err(e),
            None => Ok(pod),
        }
    }
}
