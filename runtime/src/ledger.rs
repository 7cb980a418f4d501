//! The ledger of a multi-step operation: the resources it took or is about
//! to give back (a lock number, a bundle directory, the OCI runtime's
//! record of a container; later mounts, network namespaces, volumes), each
//! a [`Step`], released unless a committed record claims it.
//!
//! - **create** claims a lock and writes a bundle, then adds the record:
//!   the record is the commit point ([`Ledger::commit`]). A failure before
//!   it releases every step in reverse order (drop).
//! - **start** notes the runtime's record before conmon creates it, and
//!   commits once the state says `created`.
//! - **remove** notes the resources, removes the record, then releases
//!   them ([`Ledger::release_all`]): the same steps, rolled forward.
//!
//! Each ledger is also journalled to `<tmp dir>/ledger/<pid>.<n>`, one JSON
//! line per step, flock'ed by its owner for its lifetime. A command killed
//! midway leaves its journal unlocked; the next open (which holds the alive
//! lock exclusively) or `system check --repair` finds it and releases every
//! step no record claims ([`repair`]). A step is claimed when a record
//! holds that lock number, has that id, or (for the runtime's record) is
//! past `configured`, so a repair never undoes a committed operation.
//!
//! This is also the one home of the lock-number protocol: a number is
//! allocated only through [`Ledger::claim_lock`] (under a shared hold of
//! the alive lock, which `check`, refresh and renumber take exclusively)
//! and freed only through [`release_lock`].

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use oxpod_state::{ContainerStatus, ItemsExt};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::layout::make_dir;
use crate::open::AliveLock;
use crate::{Error, Result, Runtime};

/// One resource an operation took, or is about to give back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub(crate) enum Step {
    /// A lock number is about to be allocated (written first: a kill
    /// between the allocation and the `Lock` line leaves only this).
    Claiming,
    /// A lock number allocated in the segment.
    Lock {
        /// The number.
        lock: u32,
    },
    /// A container's files: bundle dir, per-boot dir, exit file.
    Bundle {
        /// The container id.
        id: String,
    },
    /// The OCI runtime's record of a container (and its processes).
    Runtime {
        /// The runtime's name.
        runtime: String,
        /// The container id.
        id: String,
    },
    /// A volume's directory (`<volume_path>/<name>`).
    VolumeDir {
        /// The volume's name.
        name: String,
    },
    /// An image being added to the store (a load, import, commit or
    /// pull): killed, it may leave blobs and layers no image names, which
    /// the repair sweeps.
    StoreAddition,
    /// A container's network namespace, leases and netavark setup
    /// (`<tmp>/netns/<id>` and its options file).
    Network {
        /// The container id.
        id: String,
    },
    /// A `run --rm` client that removes its container once it has the
    /// exit code. While it lives, conmon's exit command leaves the removal
    /// to it; once it is gone, whoever comes next removes the container.
    AutoRemove {
        /// The container id.
        id: String,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Claiming => write!(f, "a lock being claimed"),
            Step::Lock { lock } => write!(f, "lock {lock}"),
            Step::Bundle { id } => write!(f, "files of container {}", short(id)),
            Step::Runtime { runtime, id } => {
                write!(f, "{runtime}'s container {}", short(id))
            }
            Step::AutoRemove { id } => write!(f, "the --rm removal of container {}", short(id)),
            Step::VolumeDir { name } => write!(f, "the directory of volume {name}"),
            Step::StoreAddition => write!(f, "what an image addition stored"),
            Step::Network { id } => write!(f, "the network of container {}", short(id)),
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The first line of a journal.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    op: String,
    pid: u32,
}

/// A multi-step operation in progress. Dropped without
/// [`Ledger::commit`], it releases its steps in reverse order.
#[derive(Debug)]
pub(crate) struct Ledger<'r> {
    rt: &'r Runtime,
    op: &'static str,
    steps: Vec<Step>,
    journal: Option<(File, PathBuf)>,
    _alive: Option<File>,
    done: bool,
}

impl<'r> Ledger<'r> {
    /// Starts an operation. `hold_alive`: take the alive lock shared for
    /// its whole life (create and remove, while a lock number moves
    /// between the segment and the database).
    pub fn begin(rt: &'r Runtime, op: &'static str, hold_alive: bool) -> Result<Self> {
        let alive = if hold_alive {
            Some(AliveLock::shared(&rt.layout)?)
        } else {
            None
        };
        Ok(Ledger {
            rt,
            op,
            steps: Vec::new(),
            journal: None,
            _alive: alive,
            done: false,
        })
    }

    /// Allocates a lock number and records it.
    pub fn claim_lock(&mut self) -> Result<u32> {
        self.write(&Step::Claiming)?;
        let lock = self.rt.locks.allocate()?.id();
        debug!(op = self.op, lock, "claimed lock");
        if let Err(e) = self.write(&Step::Lock { lock }) {
            release_lock(self.rt, lock);
            return Err(e);
        }
        self.steps.push(Step::Lock { lock });
        Ok(lock)
    }

    /// Records a step before it is taken (its release must be harmless if
    /// it then never happened).
    pub fn note(&mut self, step: Step) -> Result<()> {
        self.write(&step)?;
        self.steps.push(step);
        Ok(())
    }

    /// A record now claims every step so far: they are no longer this
    /// process's to release; the journal stays for the steps that follow.
    pub fn commit_steps(&mut self) {
        self.steps.clear();
        // No lock number moves any more: other commands may open (they take
        // the alive lock exclusively) while this ledger lives on.
        self._alive = None;
    }

    /// The commit point was reached: the record now claims every step.
    pub fn commit(mut self) {
        self.done = true;
        self.close_journal();
    }

    /// The record is gone: gives back every step, newest first.
    pub fn release_all(mut self) {
        self.done = true;
        for step in self.steps.iter().rev() {
            release(self.rt, step);
        }
        self.close_journal();
    }

    fn write(&mut self, step: &Step) -> Result<()> {
        if self.journal.is_none() {
            self.journal = Some(open_journal(self.rt, self.op)?);
        }
        let Some((file, path)) = &mut self.journal else {
            unreachable!("the journal was opened just above");
        };
        let mut line =
            serde_json::to_vec(step).map_err(|e| Error::io("encode", &*path, e.into()))?;
        line.push(b'\n');
        file.write_all(&line)
            .map_err(|e| Error::io("write", &*path, e))
    }

    fn close_journal(&mut self) {
        if let Some((file, path)) = self.journal.take() {
            // Unlinked while still locked: a repairer that opened it
            // meanwhile sees no link and leaves it.
            if let Err(e) = std::fs::remove_file(&path) {
                warn!(path = %path.display(), error = %e, "cannot remove ledger journal");
            }
            drop(file);
        }
    }
}

impl Drop for Ledger<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for step in self.steps.iter().rev() {
            debug!(op = self.op, %step, "undoing");
            undo(self.rt, step);
        }
        self.close_journal();
    }
}

fn ledger_dir(rt: &Runtime) -> PathBuf {
    rt.layout.tmp_dir.join("ledger")
}

/// Creates and locks `<tmp dir>/ledger/<pid>.<n>` with its header line.
fn open_journal(rt: &Runtime, op: &str) -> Result<(File, PathBuf)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = ledger_dir(rt);
    make_dir(&dir, 0o700)?;
    let pid = std::process::id();
    // Never an existing journal: one left by an earlier process with this
    // pid (pids wrap) is another command's unfinished work.
    let (mut file, path) = loop {
        let path = dir.join(format!("{pid}.{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        match File::options().create_new(true).write(true).open(&path) {
            Ok(f) => break (f, path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create", &path, e)),
        }
    };
    file.lock().map_err(|e| Error::io("lock", &path, e))?;
    let mut header = serde_json::to_vec(&Header {
        op: op.to_owned(),
        pid,
    })
    .map_err(|e| Error::io("encode", &path, e.into()))?;
    header.push(b'\n');
    file.write_all(&header)
        .map_err(|e| Error::io("write", &path, e))?;
    Ok((file, path))
}

/// Frees a lock number; one already free is fine (a repair ran, or the
/// segment was recreated), anything else is logged: the record that held
/// it is gone already, so the worst case is a leaked lock `system check
/// --repair` frees.
pub(crate) fn release_lock(rt: &Runtime, lock: u32) {
    match rt.locks.free(lock) {
        Ok(()) | Err(oxpod_locks::Error::NotAllocated { .. }) => {}
        Err(e) => warn!(lock, error = %e, "cannot free lock"),
    }
}

/// Undoes one step of this process's own failed operation. Its runtime
/// step failed in conmon's create, whose conmon is exiting on its own: a
/// plain delete, not [`release`]'s wait for another process's conmon.
fn undo(rt: &Runtime, step: &Step) {
    match step {
        Step::Runtime { runtime, id } => match rt.driver.delete(runtime, id, true) {
            Ok(()) | Err(oxpod_ociruntime::Error::NoSuchContainer { .. }) => {}
            Err(e) => debug!(id, error = %e, "runtime delete"),
        },
        other => release(rt, other),
    }
}

/// Gives back one step's resource, logging (not returning) failures: the
/// operation's outcome is decided already.
fn release(rt: &Runtime, step: &Step) {
    match step {
        Step::Claiming => {}
        Step::Lock { lock } => release_lock(rt, *lock),
        Step::Bundle { id } => release_bundle(rt, id),
        Step::VolumeDir { name } => crate::volumes::release_dir(rt, name),
        Step::StoreAddition => rt.images().sweep_if_idle(),
        Step::Network { id } => rt.networks().release(id),
        Step::Runtime { runtime, id } => rt.driver.clear(
            runtime,
            id,
            &rt.layout.run_dir(id),
            &rt.layout.bundle_dir(id),
        ),
        // A removal takes locks the releaser may hold (the alive lock in a
        // repair): the caller removes the container afterwards.
        Step::AutoRemove { .. } => {}
    }
}

/// Removes a container's files: bundle dir, per-boot dir, exit file.
pub(crate) fn release_bundle(rt: &Runtime, id: &str) {
    for dir in [rt.layout.bundle_dir(id), rt.layout.run_dir(id)] {
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(path = %dir.display(), error = %e, "cannot remove");
        }
    }
    if let Err(e) = rt.driver.forget_exit(id) {
        warn!(id, error = %e, "cannot remove exit file");
    }
    // A container of an image: its root and changes in the store (looked
    // for first, so `--rootfs` containers never open the store).
    if rt.layout.storage_dir().join("containers").join(id).exists() {
        match rt.storage() {
            Ok(store) => {
                if let Err(e) = store.remove_container(id) {
                    warn!(id, error = %e, "cannot remove the container's root");
                }
            }
            Err(e) => warn!(id, error = %e, "cannot open the image store"),
        }
    }
}

/// An operation a killed command left half done, and what the repair gave
/// back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interrupted {
    /// The operation (`create`, `start`, `remove`, ...).
    pub op: String,
    /// The process that was running it.
    pub pid: u32,
    /// The steps given back (those no record claims).
    pub released: Vec<String>,
    /// Containers of a dead `run --rm` client that have exited: to be
    /// removed once the alive lock is released.
    pub remove: Vec<String>,
}

/// The `run --rm` guard of a client: while it lives, conmon's exit command
/// leaves the container for the client to remove (after it has read the
/// log and the exit code); if the client is killed, the exit command, or
/// the next command, removes it instead.
#[derive(Debug)]
pub struct RemoveOnExit<'r> {
    ledger: Ledger<'r>,
}

impl<'r> RemoveOnExit<'r> {
    /// A create's ledger whose last step is the removal.
    pub(crate) fn from_ledger(ledger: Ledger<'r>) -> Self {
        RemoveOnExit { ledger }
    }

    /// The client removed the container itself.
    pub fn done(self) {
        self.ledger.commit();
    }
}

/// Whether a live `run --rm` client waits to remove container `id` (its
/// journal names the container and is flock'ed).
pub(crate) fn attached_client_alive(rt: &Runtime, id: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(ledger_dir(rt)) else {
        return false;
    };
    let want = Step::AutoRemove { id: id.to_owned() };
    entries.flatten().any(|e| {
        let Ok(file) = File::open(e.path()) else {
            return false;
        };
        let names_it = std::io::BufReader::new(&file)
            .lines()
            .map_while(|l| l.ok())
            .any(|l| serde_json::from_str::<Step>(&l).is_ok_and(|s| s == want));
        names_it
            && matches!(
                file.try_lock_shared(),
                Err(std::fs::TryLockError::WouldBlock)
            )
    })
}

/// Finds the journals of operations whose process died (their flock is
/// free) and, with `apply`, releases every step no record claims and
/// removes the journal. Call under the exclusive alive lock, so no create
/// or remove is between its steps. Journals of live processes are left.
pub(crate) fn repair(rt: &Runtime, apply: bool) -> Result<Vec<Interrupted>> {
    let dir = ledger_dir(rt);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    let mut found = Vec::new();
    let mut claims: Option<Claims> = None;
    let mut sweep = false;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some((file, header, steps)) = open_abandoned(&path) else {
            continue;
        };
        let claims = match &claims {
            Some(c) => c,
            None => claims.insert(Claims::read(rt)?),
        };
        // Killed between allocating a lock and noting its number.
        let noted = steps
            .iter()
            .filter(|s| matches!(s, Step::Lock { .. }))
            .count();
        let claiming = steps.iter().filter(|s| matches!(s, Step::Claiming)).count();
        sweep |= claiming > noted;
        let remove: Vec<String> = steps
            .iter()
            .filter_map(|s| match s {
                Step::AutoRemove { id } if claims.exited.contains(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let unclaimed: Vec<Step> = steps
            .into_iter()
            .filter(|s| !claims.claims(s) && !matches!(s, Step::AutoRemove { .. }))
            .collect();
        if apply {
            for step in unclaimed.iter().rev() {
                warn!(op = %header.op, pid = header.pid, %step, "releasing what an interrupted command left");
                release(rt, step);
            }
            if let Err(e) = std::fs::remove_file(&path) {
                warn!(path = %path.display(), error = %e, "cannot remove ledger journal");
            }
        }
        drop(file);
        found.push(Interrupted {
            op: header.op,
            pid: header.pid,
            released: unclaimed.iter().map(ToString::to_string).collect(),
            remove,
        });
    }
    // Every allocation is made under a shared hold of the alive lock, which
    // the repair holds exclusively: an allocated lock no record claims now
    // is one a killed command took without noting it.
    if sweep && apply {
        let claims = match &claims {
            Some(c) => c,
            None => claims.insert(Claims::read(rt)?),
        };
        for lock in rt.locks.allocated()? {
            if !claims.locks.contains(&lock) {
                warn!(
                    lock,
                    "freeing a lock a killed command allocated without noting it"
                );
                release_lock(rt, lock);
                if let Some(last) = found.last_mut() {
                    last.released.push(Step::Lock { lock }.to_string());
                }
            }
        }
    }
    Ok(found)
}

/// Opens a journal whose owner is gone: its flock is free and it is still
/// linked. Returns it locked, with its header and steps (a torn last line,
/// from a kill mid-write, is skipped).
fn open_abandoned(path: &Path) -> Option<(File, Header, Vec<Step>)> {
    use std::os::unix::fs::MetadataExt;
    let file = File::options().read(true).write(true).open(path).ok()?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return None,
        Err(std::fs::TryLockError::Error(e)) => {
            warn!(path = %path.display(), error = %e, "cannot lock ledger journal");
            return None;
        }
    }
    // Unlinked between our open and our lock: its owner finished.
    if file.metadata().ok()?.nlink() == 0 {
        return None;
    }
    let mut lines = std::io::BufReader::new(&file).lines();
    let header: Header = match lines.next().and_then(|l| l.ok()) {
        Some(l) => serde_json::from_str(&l).ok()?,
        // Killed before the header was written: nothing was taken.
        None => Header {
            op: "unknown".to_owned(),
            pid: 0,
        },
    };
    let steps = lines
        .map_while(|l| l.ok())
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    Some((file, header, steps))
}

/// What committed records claim: lock numbers, container ids, and the ids
/// whose runtime record is theirs (started at least once).
struct Claims {
    locks: BTreeSet<u32>,
    ids: BTreeSet<String>,
    runtime: BTreeSet<String>,
    /// Containers whose exit is recorded (or that never ran).
    exited: BTreeSet<String>,
    /// Volume names.
    volumes: BTreeSet<String>,
    /// Containers running with their network set up.
    networked: BTreeSet<String>,
}

impl Claims {
    fn read(rt: &Runtime) -> Result<Self> {
        // The dead command may have been killed inside its commit: settled
        // first, or its removal could surface after we decided from the
        // records it removed that they still claim their steps.
        rt.state().settle()?;
        let (ctrs, pods) = rt.in_all_namespaces(|s| (s.all_containers(), s.all_pods()));
        let (ctrs, pods) = (ctrs?, pods?);
        if !ctrs.skipped.is_empty() || !pods.skipped.is_empty() {
            // A record that does not decode may claim anything: release nothing.
            return Err(Error::UndecodableRecords {
                count: ctrs.skipped.len() + pods.skipped.len(),
            });
        }
        let mut c = Claims {
            locks: pods.items.iter().map(|p| p.config.lock_id).collect(),
            ids: BTreeSet::new(),
            runtime: BTreeSet::new(),
            exited: BTreeSet::new(),
            volumes: BTreeSet::new(),
            networked: BTreeSet::new(),
        };
        let volumes = rt.state().all_items::<crate::volumes::Volume>()?;
        for v in volumes {
            // One that does not decode may claim anything: release nothing.
            let v = v.map_err(|_| Error::UndecodableRecords { count: 1 })?;
            c.locks.insert(v.lock_id);
            c.volumes.insert(v.name);
        }
        for ctr in ctrs.items {
            c.locks.insert(ctr.config.lock_id);
            if ctr.state.status != ContainerStatus::Configured {
                c.runtime.insert(ctr.config.id.clone());
            }
            let running = matches!(
                ctr.state.status,
                ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Created
            ) && matches!(rt.driver.exit(&ctr.config.id), Ok(None));
            if !running {
                c.exited.insert(ctr.config.id.clone());
            } else if ctr.state.netns.is_some() {
                c.networked.insert(ctr.config.id.clone());
            }
            c.ids.insert(ctr.config.id);
        }
        Ok(c)
    }

    fn claims(&self, step: &Step) -> bool {
        match step {
            Step::Claiming => true,
            Step::Lock { lock } => self.locks.contains(lock),
            Step::Bundle { id } => self.ids.contains(id),
            Step::Runtime { id, .. } => self.runtime.contains(id),
            Step::AutoRemove { id } => !self.exited.contains(id),
            Step::VolumeDir { name } => self.volumes.contains(name),
            Step::Network { id } => self.networked.contains(id),
            // What no image names is never claimed: always swept.
            Step::StoreAddition => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_as_json_lines() {
        for s in [
            Step::Claiming,
            Step::StoreAddition,
            Step::Lock { lock: 7 },
            Step::Bundle { id: "abc".into() },
            Step::Runtime {
                runtime: "runc".into(),
                id: "abc".into(),
            },
            Step::AutoRemove { id: "abc".into() },
            Step::Network { id: "abc".into() },
            Step::VolumeDir {
                name: "data".into(),
            },
        ] {
            let line = serde_json::to_string(&s).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Step>(&line).unwrap(), s);
        }
    }
}
