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
    /// An infra container holding the pod's network namespace (podman's
    /// default; `--infra=false` makes none, and members are on their own).
    pub infra: bool,
    /// The infra container's network: `--network`, `-p`, `--ip`, ...
    pub network: crate::NetworkRequest,
}

/// A pod's status, derived from its containers' as podman does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodStatus {
    /// No container, or none started.
    Created,
    /// Every container runs.
    Running,
    /// Some run, not all.
    Degraded,
    /// Every container is paused.
    Paused,
    /// Every container has stopped.
    Exited,
    /// Some have stopped, none runs.
    Stopped,
    /// A container is in an error state (being removed).
    Error,
}

impl PodStatus {
    /// The status of a pod with these containers, in podman's order of
    /// precedence: all running; some running; all paused; all stopped;
    /// some stopped; any in error; else created.
    pub fn of(containers: &[Container]) -> Self {
        let count = |s: &[ContainerStatus]| {
            containers
                .iter()
                .filter(|c| s.contains(&c.state.status))
                .count()
        };
        let n = containers.len();
        let running = count(&[ContainerStatus::Running]);
        let stopped = count(&[ContainerStatus::Exited, ContainerStatus::Stopped]);
        if n == 0 {
            PodStatus::Created
        } else if running == n {
            PodStatus::Running
        } else if running > 0 {
            PodStatus::Degraded
        } else if count(&[ContainerStatus::Paused]) == n {
            PodStatus::Paused
        } else if stopped == n {
            PodStatus::Exited
        } else if stopped > 0 {
            PodStatus::Stopped
        } else if count(&[ContainerStatus::Removing]) > 0 {
            PodStatus::Error
        } else {
            PodStatus::Created
        }
    }

    /// podman's word.
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Created => "Created",
            PodStatus::Running => "Running",
            PodStatus::Degraded => "Degraded",
            PodStatus::Paused => "Paused",
            PodStatus::Exited => "Exited",
            PodStatus::Stopped => "Stopped",
            PodStatus::Error => "Error",
        }
    }

    /// Parses podman's word, in any case.
    pub fn parse(word: &str) -> Option<Self> {
        [
            PodStatus::Created,
            PodStatus::Running,
            PodStatus::Degraded,
            PodStatus::Paused,
            PodStatus::Exited,
            PodStatus::Stopped,
            PodStatus::Error,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(word))
    }
}

/// One condition of a pod listing (`pod ps --filter`). Conditions of one
/// key are ORed, of different keys ANDed; labels are ANDed among
/// themselves too, as for containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodFilter {
    /// Id starts with this.
    Id(String),
    /// Name matches this regular expression.
    Name(crate::NamePattern),
    /// Has this label (`key`) or label value (`key=value`).
    Label(String, Option<String>),
    /// Has this status.
    Status(PodStatus),
    /// Has a container whose name matches.
    CtrName(crate::NamePattern),
    /// Has a container whose id starts with this.
    CtrId(String),
    /// Has a container with this status.
    CtrStatus(ContainerStatus),
    /// Has this many containers.
    CtrNumber(usize),
    /// Created before this time (`until=`).
    Until(Timestamp),
    /// Is on this network (its infra container is).
    Network(String),
}

impl PodFilter {
    fn group(&self, index: usize) -> (u8, usize) {
        match self {
            PodFilter::Id(_) => (0, 0),
            PodFilter::Name(_) => (1, 0),
            PodFilter::Label(..) => (2, index),
            PodFilter::Status(_) => (3, 0),
            PodFilter::CtrName(_) => (4, 0),
            PodFilter::CtrId(_) => (5, 0),
            PodFilter::CtrStatus(_) => (6, 0),
            PodFilter::CtrNumber(_) => (7, 0),
            PodFilter::Until(_) => (8, index),
            PodFilter::Network(_) => (9, 0),
        }
    }

    fn matches(&self, pod: &Pod, members: &[Container]) -> bool {
        match self {
            PodFilter::Id(p) => pod.config.id.starts_with(p.as_str()),
            PodFilter::Name(n) => n.is_match(&pod.config.name),
            PodFilter::Label(k, v) => match (pod.config.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            },
            PodFilter::Status(s) => PodStatus::of(members) == *s,
            PodFilter::CtrName(n) => members.iter().any(|c| n.is_match(&c.config.name)),
            PodFilter::CtrId(p) => members.iter().any(|c| c.config.id.starts_with(p.as_str())),
            PodFilter::CtrStatus(s) => members.iter().any(|c| c.state.status == *s),
            PodFilter::CtrNumber(n) => members.len() == *n,
            PodFilter::Until(t) => pod.config.created < *t,
            PodFilter::Network(n) => members
                .iter()
                .any(|c| c.config.is_infra && c.config.networks.iter().any(|a| a.name == *n)),
        }
    }

    /// Whether a pod passes all of `filters`.
    fn all_match(filters: &[PodFilter], pod: &Pod, members: &[Container]) -> bool {
        let mut groups: BTreeMap<(u8, usize), bool> = BTreeMap::new();
        for (i, f) in filters.iter().enumerate() {
            let hit = groups.entry(f.group(i)).or_insert(false);
            *hit = *hit || f.matches(pod, members);
        }
        groups.values().all(|&hit| hit)
    }
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
        if !new.infra {
            return Ok(pod);
        }
        // The infra container: catatonit -P from a rootfs oxpod makes, on
        // the pod's network; the members join its namespace.
        let infra = match self.create_infra(&pod, new.network) {
            Ok(c) => c,
            Err(e) => {
                if let Err(e2) = self.remove(&PodRef::from(&pod), true) {
                    tracing::warn!(pod = %pod.config.name, error = %e2, "cannot remove the pod whose infra container failed");
                }
                return Err(e);
            }
        };
        let mut pod = pod;
        pod.config.infra = true;
        pod.config.shared_namespaces = vec!["net".to_owned()];
        pod.state.infra_container_id = Some(infra.config.id.clone());
        rt.state().rewrite_pod_config(&pod.config)?;
        rt.state().update_pod_state(&pod.config.id, &pod.state)?;
        Ok(pod)
    }

    fn create_infra(&self, pod: &Pod, network: crate::NetworkRequest) -> Result<Container> {
        let rt = self.rt;
        let rootfs = self.infra_rootfs()?;
        let command = match rt.config().infra_command.as_str() {
            // The seed's default names the pause image's program.
            "" | "/pause" => vec!["/catatonit".to_owned(), "-P".to_owned()],
            other => other.split_whitespace().map(str::to_owned).collect(),
        };
        rt.containers().create(crate::NewContainer {
            name: Some(format!("{}-infra", &pod.config.id[..12])),
            pod: Some(PodRef::from(pod)),
            rootfs,
            command,
            hostname: Some(pod.config.name.clone()),
            network,
            infra: true,
            ..crate::NewContainer::default()
        })
    }

    /// `<static dir>/infra/rootfs`: catatonit (the configured `init_path`,
    /// else Debian's or podman's) alone, made once, whole or not at all.
    fn infra_rootfs(&self) -> Result<std::path::PathBuf> {
        let dir = self.rt.layout.static_dir.join("infra");
        let rootfs = dir.join("rootfs");
        if rootfs.join("catatonit").is_file() {
            return Ok(rootfs);
        }
        let init = &self.rt.config().init_path;
        let source = [init.as_path(), std::path::Path::new("/usr/bin/catatonit"), std::path::Path::new("/usr/libexec/podman/catatonit")]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::InvalidArgument {
                what: "pod infra container".to_owned(),
                reason: format!(
                    "catatonit is not installed ({} nor /usr/bin/catatonit): apt-get install catatonit, or create the pod with --infra=false",
                    init.display()
                ),
            })?;
        crate::layout::private_dir("the infra directory", &dir)?;
        let draft = dir.join(format!("rootfs.draft-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&draft);
        for sub in ["", "dev", "proc", "sys", "etc", "tmp"] {
            crate::layout::make_dir(&draft.join(sub), 0o755)?;
        }
        std::fs::copy(source, draft.join("catatonit")).map_err(|e| Error::io("copy", source, e))?;
        std::fs::write(draft.join("etc/passwd"), "root:x:0:0:root:/:/catatonit\n")
            .map_err(|e| Error::io("write", draft.join("etc/passwd"), e))?;
        match std::fs::rename(&draft, &rootfs) {
            Ok(()) => {}
            // Another process made it meanwhile.
            Err(_) if rootfs.join("catatonit").is_file() => {
                let _ = std::fs::remove_dir_all(&draft);
            }
            Err(e) => return Err(Error::io("rename", &draft, e)),
        }
        Ok(rootfs)
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

    /// The pod's containers, each with any recorded exit folded in, its
    /// infra container first.
    pub fn members(&self, r: &PodRef) -> Result<Vec<Container>> {
        self.rt.check_valid()?;
        let mut members = self.rt.state().pod_containers(&r.id)?;
        let ctrs = self.rt.containers();
        for c in &mut members {
            ctrs.sync_unlocked(c);
        }
        members.sort_by_key(|c| !c.config.is_infra);
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

    /// The pods passing `filters`, oldest first, each with its containers
    /// (their exits folded in).
    pub fn list_with_members(&self, filters: &[PodFilter]) -> Result<Vec<(Pod, Vec<Container>)>> {
        let mut out = Vec::new();
        for (pod, _) in self.list()? {
            let members = self.members(&PodRef::from(&pod))?;
            if PodFilter::all_match(filters, &pod, &members) {
                out.push((pod, members));
            }
        }
        out.sort_by_key(|(p, _)| p.config.created);
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
        // The infra container last: the others depend on it.
        members.sort_by_key(|c| Some(&c.config.id) == pod.state.infra_container_id.as_ref());
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
        // Its members' shared /etc/hosts (per boot) goes with it.
        if let Some(dir) = rt.layout.pod_hosts(&r.id).parent()
            && let Err(e) = std::fs::remove_dir_all(dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %dir.display(), error = %e, "cannot remove the pod's hosts file");
        }
        rt.emit(Event::pod(EventStatus::Remove, &r.id, &r.name));
        Ok(())
    }

    /// Starts every container of the pod that is not running. Every member
    /// is tried; the failures are returned together, each with its
    /// container's name.
    pub fn start(&self, r: &PodRef) -> Result<Pod> {
        // Members are ordered infra first (see `members`).
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
        let mut members = rt.state().pod_containers(&r.id)?;
        let ctrs = rt.containers();
        let mut failed: MemberErrors = Vec::new();
        // The infra container last: its namespace holds the others'.
        let infra = pod.state.infra_container_id.clone();
        let is_infra = |c: &Container| Some(&c.config.id) == infra.as_ref();
        let infra_member: Vec<Container> =
            members.iter().filter(|c| is_infra(c)).cloned().collect();
        members.retain(|c| !is_infra(c));
        for round in [members, infra_member] {
            let mut pending = Vec::new();
            for c in &round {
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

    /// Removes every pod whose status is Exited (all its containers have
    /// stopped), with its containers, as podman's `pod prune` does; pods
    /// that are Created (never started, or empty) stay. Returns the removed
    /// pods' ids; a pod started meanwhile is refused by [`Pods::remove`]
    /// and left alone.
    pub fn prune(&self) -> Result<Vec<String>> {
        let rt = self.rt;
        rt.check_valid()?;
        let mut removed = Vec::new();
        for (pod, _) in self.list_with_members(&[PodFilter::Status(PodStatus::Exited)])? {
            match self.remove(&PodRef::from(&pod), false) {
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
