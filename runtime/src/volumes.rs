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
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_state::{ContainerConfig, Item, ItemOp, ItemsExt};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

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
    /// `volume create -o`, as given (podman's `Options`): `type`, `device`
    /// and `o` make it a filesystem mounted on the data directory while a
    /// container uses it; `o`'s `uid=`/`gid=` own the data directory.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// The next container that mounts it copies its image's content at the
    /// mount point in, if the volume is still empty (podman's copy-up).
    #[serde(default = "yes")]
    pub needs_copy_up: bool,
    /// The next container that mounts it gives the data directory the owner
    /// and mode of its mount point in the image (podman's chown).
    #[serde(default = "yes")]
    pub needs_chown: bool,
}

fn yes() -> bool {
    true
}

impl Volume {
    /// The filesystem mounted on the data directory while it is used
    /// (`-o type=... -o device=... -o o=...`), if it has one.
    pub fn mount_options(&self) -> Option<VolumeMount> {
        let kind = self.options.get("type").cloned().unwrap_or_default();
        let device = self.options.get("device").cloned().unwrap_or_default();
        if kind.is_empty() && device.is_empty() {
            return None;
        }
        let o = self
            .options
            .get("o")
            .map(|o| mount_only_options(o))
            .unwrap_or_default();
        Some(VolumeMount { kind, device, o })
    }

    /// Whether copy-up is off for this volume (`-o nocopy`).
    pub fn no_copy(&self) -> bool {
        self.options.contains_key("nocopy")
    }
}

/// What a volume with `-o type/device/o` mounts (podman runs `mount` with
/// these: `mount -t TYPE -o O DEVICE <data dir>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// `-t` (empty: `mount` guesses; `bind` becomes `-o bind`).
    pub kind: String,
    /// The device (defaults to the type, as for `tmpfs`).
    pub device: String,
    /// `-o`, without podman's own `uid=`/`gid=` for non-tmpfs types.
    pub o: String,
}

/// The `o` option without what oxpod itself applies: `uid=`, `gid=` are
/// kept (filesystems such as tmpfs take them); `size=`, `inodes=` too;
/// nothing is dropped but `noquota` and `timeout=`, which podman consumes.
fn mount_only_options(o: &str) -> String {
    o.split(',')
        .filter(|x| !x.is_empty() && *x != "noquota" && !x.starts_with("timeout="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks `volume create -o` as podman 4.3's local driver does and returns
/// the owner the data directory gets from `o=uid=N,gid=N`.
pub fn check_options(options: &BTreeMap<String, String>) -> Result<(Option<u32>, Option<u32>)> {
    let bad = |reason: String| Error::InvalidArgument {
        what: "volume option".to_owned(),
        reason,
    };
    let (mut uid, mut gid) = (None, None);
    for (key, value) in options {
        match key.to_ascii_lowercase().as_str() {
            "device" => {
                if options.get("type").is_some_and(|t| t == "bind")
                    && !std::path::Path::new(value).exists()
                {
                    return Err(bad(format!(
                        "invalid volume option device for driver 'local': {value} does not exist"
                    )));
                }
            }
            "type" | "copy" | "nocopy" => {}
            "o" => {
                for o in value.split(',').filter(|o| !o.is_empty()) {
                    let (k, v) = o.split_once('=').unwrap_or((o, ""));
                    let id = |what: &str| {
                        v.parse::<u32>()
                            .map_err(|_| bad(format!("cannot convert {what} {v:?} to an integer")))
                    };
                    match k.to_ascii_lowercase().as_str() {
                        "uid" => uid = Some(id("UID")?),
                        "gid" => gid = Some(id("GID")?),
                        "size" | "inodes" if !options.contains_key("type") => {
                            return Err(bad(
                                "volume options size and inodes not supported. Filesystem does not support Project Quota"
                                    .to_owned(),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            "size" | "inodes" | "noquota" => {
                return Err(bad(format!(
                    "{key} is given inside o=, as -o o={key}=...; project quotas are not supported here"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "invalid mount option {key} for driver 'local': valid are device, o, type, copy, nocopy"
                )));
            }
        }
    }
    if options.contains_key("copy") && options.contains_key("nocopy") {
        return Err(bad("only one of copy and nocopy can be used".to_owned()));
    }
    Ok((uid, gid))
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
    /// `-o KEY=VALUE` (see `check_options`).
    pub options: BTreeMap<String, String>,
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
        let (uid, gid) = check_options(&new.options)?;
        if rt.state().item::<Volume>(&name)?.is_some() {
            return Err(Error::VolumeExists { name });
        }
        let mut ledger = Ledger::begin(rt, "volume create", true)?;
        let lock_id = ledger.claim_lock()?;
        ledger.note(Step::VolumeDir { name: name.clone() })?;
        let data = self.dir(&name).join("_data");
        make_volume_dir(&data)?;
        if uid.is_some() || gid.is_some() {
            for dir in [data.parent().unwrap_or(&data), &data] {
                std::os::unix::fs::lchown(dir, uid, gid).map_err(|e| Error::io("chown", dir, e))?;
            }
        }
        let volume = Volume {
            name,
            driver: "local".to_owned(),
            mountpoint: data,
            labels: new.labels,
            lock_id,
            anonymous: new.anonymous,
            created: Timestamp::now(),
            // An owner given by `-o o=uid=` is not changed by a container.
            needs_chown: uid.is_none() && gid.is_none(),
            needs_copy_up: true,
            options: new.options,
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

    /// Removes every volume no container uses that `wanted` selects,
    /// deciding "unused" under the hold no container create passes.
    /// Returns the names removed.
    pub fn prune(&self, wanted: &dyn Fn(&Volume) -> bool) -> Result<Vec<String>> {
        self.rt.check_valid()?;
        let _hold = self.hold()?;
        let mut removed = Vec::new();
        for v in self.list()? {
            if wanted(&v) && self.users(&v.name)?.is_empty() {
                self.remove_held(&v)?;
                // podman's: a `remove`, then a `prune`, for each.
                self.rt.emit(volume_event(EventStatus::Prune, &v.name));
                removed.push(v.name);
            }
        }
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

impl Volumes<'_> {
    /// Before a container's runtime create (its lock held, its root at
    /// `root`): each of its volumes with a file system of its own is mounted
    /// (once for all its users); an empty one gets the root's content at
    /// its mount point (podman's copy-up, but whole or not at all); a new
    /// one takes that directory's owner and mode (or the container user's).
    /// Each volume's own lock is held for it, as podman's.
    pub(crate) fn prepare_for(&self, config: &ContainerConfig, root: &Path) -> Result<()> {
        let (uid, gid) = crate::containers::numeric_user(&config.user);
        for m in config.mounts.iter().filter(|m| m.kind == "volume") {
            let missing = || Error::NoSuchVolume {
                name: m.name.clone(),
            };
            let first = self
                .rt
                .state()
                .item::<Volume>(&m.name)?
                .ok_or_else(missing)?;
            let _guard = self.rt.take_lock(first.lock_id)?;
            let mut v = self
                .rt
                .state()
                .item::<Volume>(&m.name)?
                .ok_or_else(missing)?;
            if let Some(fs) = v.mount_options()
                && mount_fs(&v, &fs)?
            {
                self.rt.emit(volume_event(EventStatus::Mount, &v.name));
            }
            let mut changed = false;
            let nocopy = v.no_copy() || m.options.iter().any(|o| o == "nocopy");
            if v.needs_copy_up && !nocopy {
                let t = std::time::Instant::now();
                let copied = oxpod_storage::copy_up(root, &m.destination, &v.mountpoint)?;
                debug!(volume = %v.name, copied, took = ?t.elapsed(), "copy-up");
                if copied {
                    v.needs_copy_up = false;
                    changed = true;
                }
            }
            if v.needs_chown {
                let (owner, group, mode) =
                    match oxpod_storage::dir_owner_in_root(root, &m.destination)? {
                        Some((u, g, mode)) => (u, g, Some(mode)),
                        None => (uid, gid, None),
                    };
                std::os::unix::fs::lchown(&v.mountpoint, Some(owner), Some(group))
                    .map_err(|e| Error::io("chown", &v.mountpoint, e))?;
                if let Some(mode) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&v.mountpoint, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| Error::io("chmod", &v.mountpoint, e))?;
                }
                v.needs_chown = false;
                changed = true;
            }
            if changed {
                self.rt.state().write_items(&[ItemOp::put(&v)?])?;
            }
        }
        Ok(())
    }

    /// After a container stopped using its volumes (its exit was cleaned
    /// up, or it was removed): a volume's own file system is unmounted
    /// once no other container that uses it is running. Whether one runs is
    /// read from the records, never counted, so a killed command cannot
    /// leave a count behind (podman's mount counter can drift).
    pub(crate) fn release_for(&self, config: &ContainerConfig) {
        for m in config.mounts.iter().filter(|m| m.kind == "volume") {
            if let Err(e) = self.release_one(&config.id, &m.name) {
                warn!(volume = %m.name, error = %e, "cannot release the volume");
            }
        }
    }

    fn release_one(&self, ctr_id: &str, name: &str) -> Result<()> {
        let Some(first) = self.rt.state().item::<Volume>(name)? else {
            return Ok(());
        };
        if first.mount_options().is_none() || !crate::host::is_mounted(&first.mountpoint) {
            return Ok(());
        }
        let _guard = self.rt.take_lock(first.lock_id)?;
        if self.running_users(name, ctr_id)? {
            return Ok(());
        }
        unmount_fs(&first.mountpoint)?;
        self.rt.emit(volume_event(EventStatus::Unmount, name));
        Ok(())
    }

    /// Whether a container other than `except` that uses volume `name` is
    /// created, running or paused (its mounts made).
    fn running_users(&self, name: &str, except: &str) -> Result<bool> {
        Ok(self.count_running_users(name, except)? > 0)
    }

    fn count_running_users(&self, name: &str, except: &str) -> Result<usize> {
        use oxpod_state::ContainerStatus as S;
        let (ctrs, _) = self
            .rt
            .in_all_namespaces(|s| (s.all_containers(), s.all_pods()));
        Ok(ctrs?
            .items
            .iter()
            .filter(|c| {
                c.config.id != except
                    && matches!(c.state.status, S::Created | S::Running | S::Paused)
                    && c.config
                        .mounts
                        .iter()
                        .any(|m| m.kind == "volume" && m.name == name)
            })
            .count())
    }

    /// podman's `MountCount`: for a volume with a file system of its own,
    /// while it is mounted, the containers using it that run; else 0.
    pub fn mount_count(&self, v: &Volume) -> Result<usize> {
        if v.mount_options().is_none() || !crate::host::is_mounted(&v.mountpoint) {
            return Ok(0);
        }
        self.count_running_users(&v.name, "")
    }
}

/// `mount [-t TYPE] [-o O] DEVICE <data dir>`, as podman runs it (the
/// `mount` program knows every file system's option syntax); nothing when
/// it is mounted already. Returns whether it mounted it.
fn mount_fs(v: &Volume, fs: &VolumeMount) -> Result<bool> {
    if crate::host::is_mounted(&v.mountpoint) {
        return Ok(false);
    }
    let mut args: Vec<String> = Vec::new();
    if !fs.o.is_empty() {
        args.extend(["-o".to_owned(), fs.o.clone()]);
    }
    match fs.kind.as_str() {
        "" => {}
        "bind" => args.extend(["-o".to_owned(), "bind".to_owned()]),
        t => args.extend(["-t".to_owned(), t.to_owned()]),
    }
    let device = if fs.device.is_empty() {
        fs.kind.clone()
    } else {
        fs.device.clone()
    };
    args.push(device);
    args.push(v.mountpoint.display().to_string());
    let command = format!("mount {}", args.join(" "));
    let t = std::time::Instant::now();
    let out = std::process::Command::new("mount")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::VolumeMount {
            name: v.name.clone(),
            command: command.clone(),
            reason: format!("cannot run mount: {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::VolumeMount {
            name: v.name.clone(),
            command,
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    debug!(volume = %v.name, command, took = ?t.elapsed(), "mounted the volume");
    Ok(true)
}

/// Unmounts a volume's own file system (lazily: a process of the host
/// still in it cannot keep the volume from going).
fn unmount_fs(path: &Path) -> Result<()> {
    match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {
            debug!(path = %path.display(), "unmounted the volume");
            Ok(())
        }
        Err(e) => Err(Error::io("unmount", path, std::io::Error::from(e))),
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
        warn!(name, "not removing a volume directory with an invalid name");
        return;
    }
    let dir = rt.config().volume_path.join(name);
    // Never deleted through a mount: a volume of `-o type=none -o o=bind
    // -o device=/srv/data` would take the host's data with it.
    let data = dir.join("_data");
    if crate::host::is_mounted(&data) {
        if let Err(e) = unmount_fs(&data) {
            warn!(path = %data.display(), error = %e, "cannot unmount the volume");
        }
        if crate::host::is_mounted(&data) {
            warn!(path = %data.display(), "the volume is still mounted: its directory is kept");
            return;
        }
    }
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %dir.display(), error = %e, "cannot remove volume dir");
    }
}

fn volume_event(status: EventStatus, name: &str) -> oxpod_events::Event {
    oxpod_events::Event::volume(status, name)
}
