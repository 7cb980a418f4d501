//! Named volumes with the `local` driver: a directory
//! `<volume_path>/<name>/_data`, a record (a `state` item) and a lock from
//! the segment, as podman gives each volume one.
//!
//! - Create and remove are ledgers (lock, directory), as containers' are:
//!   a killed one is repaired by the next open.
//! - Every create, remove and prune, and every container create that uses
//!   a volume, holds `<tmp dir>/volumes.lock` (exclusive): "in use" is
//!   decided with no container create between the check and the removal,
//!   and two creates of one name cannot both make it (podman #7862 is the
//!   bug not to repeat).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_state::{Item, ItemOp, ItemsExt};
use serde::{Deserialize, Serialize};

use crate::ledger::{Ledger, Step};
use crate::{Error, Result, Runtime};

/// A named volume's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Its name (unique among volumes).
    pub name: String,
    /// Its driver: `local`.
    pub driver: String,
    /// Where its data lives on the host.
    pub mountpoint: PathBuf,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its lock number in the segment.
    pub lock_id: u32,
    /// Made for one container (`-v /dst`): `rm -v` and `run --rm` remove it
    /// with that container.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// When it was created.
    pub created: Timestamp,
}

impl Item for Volume {
    const KIND: &'static str = "volume";
    fn id(&self) -> &str {
        &self.name
    }
}

/// What `volume create` is given.
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    /// Its name; `None` generates a 64-hex one.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Anonymous (`-v /dst`).
    pub anonymous: bool,
}

/// A volume name: podman's container-name rule, at most 255 bytes.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.len() > 255 || !oxpod_state::is_valid_name(name) {
        return Err(Error::InvalidArgument {
            what: format!("volume name {name:?}"),
            reason: "names are [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes".to_owned(),
        });
    }
    Ok(())
}

/// Volumes: create, look up, list, remove, prune.
#[derive(Debug)]
pub struct Volumes<'r> {
    rt: &'r Runtime,
}

impl<'r> Volumes<'r> {
    pub(crate) fn new(rt: &'r Runtime) -> Self {
        Volumes { rt }
    }

    /// The exclusive hold every volume change takes (see the module doc).
    pub(crate) fn hold(&self) -> Result<File> {
        let path = self.rt.layout.tmp_dir.join("volumes.lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        f.lock().map_err(|e| Error::io("lock", &path, e))?;
        Ok(f)
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.rt.config().volume_path.join(name)
    }

    /// Creates a volume (an error if the name is taken).
    pub fn create(&self, new: NewVolume) -> Result<Volume> {
        self.rt.check_valid()?;
        let _hold = self.hold()?;
        self.create_held(new)
    }

    /// Creates a volume; the caller holds [`Volumes::hold`].
    pub(crate) fn create_held(&self, new: NewVolume) -> Result<Volume> {
        let rt = self.rt;
        let name = match new.name {
            Some(n) => n,
            None => crate::names::new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?,
        };
        check_name(&name)?;
        if rt.state().item::<Volume>(&name)?.is_some() {
            return Err(Error::VolumeExists { name });
        }
        let mut ledger = Ledger::begin(rt, "volume create", true)?;
        let lock_id = ledger.claim_lock()?;
        ledger.note(Step::VolumeDir { name: name.clone() })?;
        let data = self.dir(&name).join("_data");
        make_volume_dir(&data)?;
        let volume = Volume {
            name,
            driver: "local".to_owned(),
            mountpoint: data,
            labels: new.labels,
            lock_id,
            anonymous: new.anonymous,
            created: Timestamp::now(),
        };
        rt.state().write_items(&[ItemOp::put(&volume)?])?;
        ledger.commit();
        rt.emit(volume_event(EventStatus::Create, &volume.name));
        Ok(volume)
    }

    /// The volume named so.
    pub fn get(&self, name: &str) -> Result<Volume> {
        self.rt.check_valid()?;
        self.rt
            .state()
            .item::<Volume>(name)?
            .ok_or_else(|| Error::NoSuchVolume {
                name: name.to_owned(),
            })
    }

    /// Every volume, by name; one that does not decode is an error.
    pub fn list(&self) -> Result<Vec<Volume>> {
        self.rt.check_valid()?;
        let all = self.rt.state().all_items::<Volume>()?;
        all.into_iter().map(|v| v.map_err(Error::from)).collect()
    }

    /// The ids of the containers whose mounts use volume `name`.
    pub fn users(&self, name: &str) -> Result<Vec<String>> {
        let (ctrs, _) = self
            .rt
            .in_all_namespaces(|s| (s.all_containers(), s.all_pods()));
        Ok(ctrs?
            .items
            .into_iter()
            .filter(|c| {
                c.config
                    .mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
            })
            .map(|c| c.config.id)
            .collect())
    }

    /// Removes a volume. In use, it is refused naming the containers, or
    /// with `force` they are removed first (podman's `volume rm -f`).
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        self.rt.check_valid()?;
        let _hold = self.hold()?;
        let volume = self.get(name)?;
        let users = self.users(name)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::VolumeInUse {
                    name: name.to_owned(),
                    containers: users,
                });
            }
            let ctrs = self.rt.containers();
            for u in &users {
                let r = ctrs.resolve(u)?;
                ctrs.remove(&r, true)?;
            }
        }
        self.remove_held(&volume)
    }

    /// Removes the record, then its lock and directory; the caller holds
    /// [`Volumes::hold`] and has checked it is unused.
    fn remove_held(&self, volume: &Volume) -> Result<()> {
        let rt = self.rt;
        let mut ledger = Ledger::begin(rt, "volume remove", true)?;
        let noted = ledger
            .note(Step::Lock {
                lock: volume.lock_id,
            })
            .and_then(|()| {
                ledger.note(Step::VolumeDir {
                    name: volume.name.clone(),
                })
            });
        if let Err(e) = noted {
            ledger.commit();
            return Err(e);
        }
        if let Err(e) = rt
            .state()
            .write_items(&[ItemOp::remove::<Volume>(&volume.name)])
        {
            ledger.commit();
            return Err(e.into());
        }
        ledger.release_all();
        rt.emit(volume_event(EventStatus::Remove, &volume.name));
        Ok(())
    }

    /// Removes the anonymous volumes of a removed container (`rm -v`, `run
    /// --rm`); one another container also uses stays, as podman keeps it.
    pub fn remove_anonymous(&self, mounts: &[oxpod_state::ContainerMount]) -> Result<()> {
        let names: Vec<&str> = mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let _hold = self.hold()?;
        for name in names {
            let found = self.rt.state().item::<Volume>(name)?;
            match found {
                Some(v) if v.anonymous && self.users(name)?.is_empty() => self.remove_held(&v)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes every volume no container uses, deciding "unused" under the
    /// hold no container create passes. Returns the names removed.
    pub fn prune(&self) -> Result<Vec<String>> {
        self.rt.check_valid()?;
        let _hold = self.hold()?;
        let mut removed = Vec::new();
        for v in self.list()? {
            if self.users(&v.name)?.is_empty() {
                self.remove_held(&v)?;
                removed.push(v.name);
            }
        }
        self.rt.emit(volume_event(EventStatus::Prune, ""));
        Ok(removed)
    }

    /// The volume for a container's `-v NAME:/dst`: the existing one, or a
    /// new one (podman creates it on first use). The caller holds
    /// [`Volumes::hold`] until the container's record is in.
    pub(crate) fn for_container(&self, name: &str) -> Result<Volume> {
        if name.is_empty() {
            return self.create_held(NewVolume {
                anonymous: true,
                ..NewVolume::default()
            });
        }
        // The state's guard is released before a create takes it again.
        let found = self.rt.state().item::<Volume>(name)?;
        match found {
            Some(v) => Ok(v),
            None => self.create_held(NewVolume {
                name: Some(name.to_owned()),
                ..NewVolume::default()
            }),
        }
    }
}

/// `<volume_path>/<name>/_data`: the volume's dir 0700 (as podman's), its
/// data dir 0755 (the container's processes reach it through the mount).
fn make_volume_dir(data: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = data.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| Error::io("create", parent, e))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(data)
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| Error::io("create", data, e))
}

/// Removes a volume's directory (a ledger's release).
pub(crate) fn release_dir(rt: &Runtime, name: &str) {
    // A name from a journal: only a valid one ever becomes a path.
    if check_name(name).is_err() {
        tracing::warn!(name, "not removing a volume directory with an invalid name");
        return;
    }
    let dir = rt.config().volume_path.join(name);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), error = %e, "cannot remove volume dir");
    }
}

fn volume_event(status: EventStatus, name: &str) -> oxpod_events::Event {
    oxpod_events::Event::volume(status, name)
}
