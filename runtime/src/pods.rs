//! The pods service: create, resolve, list, remove, and acting on their
//! containers. A pod's lock is always taken before any of its containers'
//! locks.

use std::collections::BTreeMap;

use jiff::Timestamp;
use oxpod_events::{Event, EventStatus};
use oxpod_state::{Container, ContainerStatus, Pod, PodConfig, PodState};
use tracing::debug;

use crate::ledger::{Ledger, Step};
use crate::names::new_id;
use crate::{ContainerRef, Error, PodRef, Result, Runtime};

/// What a new pod is made of.
#[derive(Debug, Clone, Default)]
pub struct NewPod {
    /// Its name; `None` generates one.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// One member's failure in an operation over a pod's containers.
type MemberErrors = Vec<(String, Error)>;

/// The pods of a [`Runtime`].
#[derive(Debug, Clone, Copy)]
pub struct Pods<'r> {
    rt: &'r Runtime,
}

impl<'r> Pods<'r> {
    pub(crate) fn new(rt: &'r Runtime) -> Self {
        Pods { rt }
    }

    /// Creates a pod with its own lock; `create` pod event.
    pub fn create(&self, new: NewPod) -> Result<Pod> {
        let rt = self.rt;
        rt.check_valid()?;
        if let Some(name) = &new.name
            && !oxpod_state::is_valid_name(name)
        {
            return Err(Error::InvalidName { name: name.clone() });
        }
        let id = new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?;
        let name = match new.name {
            Some(n) => n,
            None => rt.containers().generate_name()?,
        };
        let mut ledger = Ledger::begin(rt, "pod create", true)?;
        let lock_id = ledger.claim_lock()?;
        let pod = Pod {
            config: PodConfig {
                id: id.clone(),
                name,
                namespace: rt.config().namespace.clone(),
                labels: new.labels,
                lock_id,
                created: Timestamp::now(),
                ..PodConfig::default()
            },
            state: PodState::default(),
        };
        rt.state().add_pod(&pod)?;
        ledger.commit();
        rt.emit(Event::pod(EventStatus::Create, &id, &pod.config.name));
        Ok(pod)
    }

    /// Resolves a name, full id or unique id prefix, once.
    pub fn resolve(&self, name_or_id: &str) -> Result<PodRef> {
        self.rt.check_valid()?;
        Ok(PodRef::from(&self.rt.state().lookup_pod(name_or_id)?))
    }

    /// The pod now.
    pub fn get(&self, r: &PodRef) -> Result<Pod> {
        self.rt.check_valid()?;
        Ok(self.rt.state().pod(&r.id)?)
    }

    /// The pod's containers, each with any recorded exit folded in.
    pub fn members(&self, r: &PodRef) -> Result<Vec<Container>> {
        self.rt.check_valid()?;
        let mut members = self.rt.state().pod_containers(&r.id)?;
        let ctrs = self.rt.containers();
        for c in &mut members {
            ctrs.sync_unlocked(c);
        }
        Ok(members)
    }

    /// Every pod, newest first, with the ids of its containers.
    pub fn list(&self) -> Result<Vec<(Pod, Vec<String>)>> {
        let rt = self.rt;
        rt.check_valid()?;
        let listing = rt.state().all_pods()?;
        for s in &listing.skipped {
            tracing::warn!(key = %s.key, reason = %s.reason, "skipping a pod record that does not decode");
        }
        let mut out = Vec::with_capacity(listing.items.len());
        for pod in listing.items {
            let ids = rt.state().pod_container_ids(&pod.config.id)?;
            out.push((pod, ids));
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.0.config.created));
        Ok(out)
    }

    /// Removes a pod and its containers: refused while one of them runs
    /// unless `force`, which kills them first (outside the pod's lock).
    /// Stopped and never-started members go with the pod, as podman's.
    pub fn remove(&self, r: &PodRef, force: bool) -> Result<()> {
        let rt = self.rt;
        rt.check_valid()?;
        let ctrs = rt.containers();
        if force {
            let members = rt.state().pod_containers(&r.id)?;
            for c in &members {
                ctrs.kill_for_removal(&ContainerRef::from(c))?;
            }
        }
        let guard = rt.take_lock(r.lock_id)?;
        let pod = rt.state().pod(&r.id)?;
        let mut members = rt.state().pod_containers(&r.id)?;
        for c in &mut members {
            ctrs.sync_unlocked(c);
        }
        let running = members
            .iter()
            .filter(|c| {
                matches!(
                    c.state.status,
                    ContainerStatus::Running | ContainerStatus::Paused
                )
            })
            .count();
        if running > 0 && !force {
            return Err(Error::PodNotEmpty {
                name: pod.config.name.clone(),
                count: running,
            });
        }
        for c in &members {
            ctrs.remove_locked(&ContainerRef::from(c), true)?;
        }
        let mut ledger = Ledger::begin(rt, "pod remove", true)?;
        ledger.note(Step::Lock {
            lock: pod.config.lock_id,
        })?;
        let removed = rt.state().remove_pod(&r.id);
        if let Err(e) = removed {
            ledger.commit();
            return Err(e.into());
        }
        drop(guard);
        ledger.release_all();
        rt.emit(Event::pod(EventStatus::Remove, &r.id, &r.name));
        Ok(())
    }

    /// Starts every container of the pod that is not running. Every member
    /// is tried; the failures are returned together, each with its
    /// container's name.
    pub fn start(&self, r: &PodRef) -> Result<Pod> {
        self.for_each_member(r, EventStatus::Start, |ctrs, c| {
            if c.state.status != ContainerStatus::Running {
                ctrs.start(&ContainerRef::from(c))?;
            }
            Ok(())
        })
    }

    /// Stops every running container of the pod. All members get their
    /// stop signal first and are then waited for, so the pod stops within
    /// one timeout, not one per member.
    pub fn stop(&self, r: &PodRef, timeout: Option<u32>) -> Result<Pod> {
        let rt = self.rt;
        rt.check_valid()?;
        let pod = rt.state().pod(&r.id)?;
        let members = rt.state().pod_containers(&r.id)?;
        let ctrs = rt.containers();
        let mut failed: MemberErrors = Vec::new();
        let mut pending = Vec::new();
        for c in &members {
            match ctrs.begin_stop(&ContainerRef::from(c), timeout) {
                Ok(Some(p)) => pending.push((c.config.name.clone(), p)),
                Ok(None) => {}
                Err(e) => failed.push((c.config.name.clone(), e)),
            }
        }
        for (name, p) in pending {
            let id = p.id().to_owned();
            match ctrs.finish_stop(p) {
                Ok(outcome) => debug!(id, ?outcome, "stopped pod member"),
                Err(e) => failed.push((name, e)),
            }
        }
        rt.emit(Event::pod(
            EventStatus::Stop,
            &pod.config.id,
            &pod.config.name,
        ));
        members_result(&pod, failed)
    }

    /// Sends a signal to every running container of the pod.
    pub fn kill(&self, r: &PodRef, signal: i32) -> Result<Pod> {
        self.for_each_member(r, EventStatus::Kill, |ctrs, c| {
            if matches!(
                c.state.status,
                ContainerStatus::Running | ContainerStatus::Paused
            ) {
                ctrs.kill(&ContainerRef::from(c), signal)?;
            }
            Ok(())
        })
    }

    /// Pauses every running container of the pod.
    pub fn pause(&self, r: &PodRef) -> Result<Pod> {
        self.for_each_member(r, EventStatus::Pause, |ctrs, c| {
            if c.state.status == ContainerStatus::Running {
                ctrs.pause(&ContainerRef::from(c))?;
            }
            Ok(())
        })
    }

    /// Unpauses every paused container of the pod.
    pub fn unpause(&self, r: &PodRef) -> Result<Pod> {
        self.for_each_member(r, EventStatus::Unpause, |ctrs, c| {
            if c.state.status == ContainerStatus::Paused {
                ctrs.unpause(&ContainerRef::from(c))?;
            }
            Ok(())
        })
    }

    /// Stops the pod's containers (within one timeout) and starts them all
    /// again, as podman's `pod restart` does.
    pub fn restart(&self, r: &PodRef, timeout: Option<u32>) -> Result<Pod> {
        self.stop(r, timeout)?;
        self.for_each_member(r, EventStatus::Restart, |ctrs, c| {
            ctrs.start(&ContainerRef::from(c))?;
            Ok(())
        })
    }

    /// Removes every pod none of whose containers runs or is paused (its
    /// stopped containers with it). Returns the removed pods' ids; a pod
    /// that started running meanwhile is refused by [`Pods::remove`] and
    /// left alone.
    pub fn prune(&self) -> Result<Vec<String>> {
        let rt = self.rt;
        rt.check_valid()?;
        let mut removed = Vec::new();
        for (pod, _) in self.list()? {
            let r = PodRef::from(&pod);
            let busy = self.members(&r)?.iter().any(|c| {
                matches!(
                    c.state.status,
                    ContainerStatus::Running | ContainerStatus::Paused
                )
            });
            if busy {
                continue;
            }
            match self.remove(&r, false) {
                Ok(()) => removed.push(pod.config.id),
                Err(e) if e.is_not_found() => {}
                Err(Error::PodNotEmpty { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Runs `f` on each container of the pod. No pod lock is held across
    /// the calls: each takes its container's lock for its own state change,
    /// and `stop` must not hold locks while it waits.
    fn for_each_member(
        &self,
        r: &PodRef,
        event: EventStatus,
        mut f: impl FnMut(&crate::Containers<'_>, &Container) -> Result<()>,
    ) -> Result<Pod> {
        let rt = self.rt;
        rt.check_valid()?;
        let pod = rt.state().pod(&r.id)?;
        let ctrs = rt.containers();
        let mut failed: MemberErrors = Vec::new();
        for c in self.members(r)? {
            if let Err(e) = f(&ctrs, &c) {
                failed.push((c.config.name.clone(), e));
            }
        }
        rt.emit(Event::pod(event, &pod.config.id, &pod.config.name));
        members_result(&pod, failed)
    }
}

/// The pod, or one error naming every member that failed (and why).
fn members_result(pod: &Pod, mut failed: MemberErrors) -> Result<Pod> {
    match failed.len() {
        0 => Ok(pod.clone()),
        1 => Err(failed.remove(0).1),
        _ => Err(Error::PodMembers {
            pod: pod.config.name.clone(),
            failures: failed
                .into_iter()
                .map(|(name, e)| format!("{name}: {e}"))
                .collect(),
        }),
    }
}
