//! `ShmLockManager`: locks in a POSIX shared-memory segment, shared by every
//! process that opens the same name.
//!
//! Layout (version 1), after podman's `shm_lock.c` with oxpod's additions;
//! `M` is `size_of::<pthread_mutex_t>()` (40 on glibc x86_64):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | u16 | magic `0x87D1` |
//! | 2 | u16 | layout version (podman leaves 0 here) |
//! | 4 | u32 | `M`, so a build with another libc refuses the segment |
//! | 8 | M | segment mutex, guarding every bitmap |
//! | 8+M | u32 | number of groups |
//! | 12+M | u32 | number of locks (groups × 32) |
//! | H = 16+M rounded to 8 | groups × G | groups: u32 bitmap, padding to the mutex alignment, 32 mutexes |
//! | H + groups × G | locks × 4 | holder table: pid holding each lock, 0 when free |
//!
//! Lock `i` is bit `i % 32` (least significant first) and mutex `i % 32` of
//! group `i / 32`. With glibc on x86_64, 2048 locks take 56 + 64 × 1288 +
//! 2048 × 4 = 90,680 bytes.
//!
//! Every mutex is process-shared, robust and error-checking. A new segment
//! is built under a temporary name and linked into place when complete, so
//! a creator killed midway leaves nothing half-initialised under the real
//! name (and the magic is still written last). An opener refuses a segment
//! that is not owned by its uid with mode 0600, whose header is
//! inconsistent, or one of whose mutexes was written over.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::lock::{Backend, Lock, Taken, Wait};
use crate::sys::{self, Acquired, MUTEX_ALIGN, MUTEX_SIZE, Mapping, RawMutex};
use crate::{LOCKS_PER_GROUP, LockManager, MAX_LOCKS};

/// First two bytes of every lock segment (podman's value).
pub const MAGIC: u16 = 0x87D1;

/// Version of the segment layout this build reads and writes.
pub const LAYOUT_VERSION: u16 = 1;

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 2;
const OFF_MUTEX_SIZE: usize = 4;
const OFF_SEGMENT_LOCK: usize = 8;
const OFF_NUM_GROUPS: usize = 8 + MUTEX_SIZE;
const OFF_NUM_LOCKS: usize = 12 + MUTEX_SIZE;
/// Size of the header; the groups start here.
const HEADER_SIZE: usize = round_up(16 + MUTEX_SIZE, 8);
/// Offset of the first mutex inside a group.
const GROUP_MUTEXES: usize = round_up(4, MUTEX_ALIGN);
/// Size of one group.
const GROUP_SIZE: usize = round_up(GROUP_MUTEXES + LOCKS_PER_GROUP as usize * MUTEX_SIZE, 8);
/// Bytes per holder-table entry.
const HOLDER_SIZE: usize = 4;

// Every field is aligned and the header holds all of its fields.
const _: () = assert!(OFF_NUM_LOCKS + 4 <= HEADER_SIZE);
const _: () =
    assert!(GROUP_MUTEXES.is_multiple_of(MUTEX_ALIGN) && GROUP_SIZE.is_multiple_of(MUTEX_ALIGN));

/// Size in bytes of a segment with `groups` groups.
fn segment_size(groups: usize) -> usize {
    HEADER_SIZE + groups * (GROUP_SIZE + LOCKS_PER_GROUP as usize * HOLDER_SIZE)
}

/// How long `open` waits for a segment another process is still creating.
const INIT_WAIT: Duration = Duration::from_millis(500);
const INIT_POLL: Duration = Duration::from_millis(5);

/// A mapped, validated segment. Handles keep it mapped through an `Arc`.
pub(crate) struct Segment {
    name: String,
    map: Mapping,
    num_locks: u32,
    holders_off: usize,
}

impl Segment {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn num_groups(&self) -> usize {
        (self.num_locks / LOCKS_PER_GROUP) as usize
    }

    fn segment_mutex(&self) -> RawMutex<'_> {
        self.map.mutex_at(OFF_SEGMENT_LOCK)
    }

    fn bitmap(&self, group: usize) -> &AtomicU32 {
        self.map.u32_at(HEADER_SIZE + group * GROUP_SIZE)
    }

    /// Where the mutex of lock `id` starts; `id` must be below `num_locks`.
    fn mutex_off(&self, id: u32) -> usize {
        let group = (id / LOCKS_PER_GROUP) as usize;
        let slot = (id % LOCKS_PER_GROUP) as usize;
        HEADER_SIZE + group * GROUP_SIZE + GROUP_MUTEXES + slot * MUTEX_SIZE
    }

    /// The mutex of lock `id`; `id` must be below `num_locks`.
    fn mutex(&self, id: u32) -> RawMutex<'_> {
        self.map.mutex_at(self.mutex_off(id))
    }

    /// The holder-table entry of lock `id`; `id` must be below `num_locks`.
    fn holder(&self, id: u32) -> &AtomicI32 {
        self.map
            .i32_at(self.holders_off + id as usize * HOLDER_SIZE)
    }

    fn check(&self, id: u32) -> Result<()> {
        if id >= self.num_locks {
            return Err(Error::IdOutOfRange {
                id,
                capacity: self.num_locks,
            });
        }
        Ok(())
    }

    /// Refuses a segment one of whose mutexes does not carry the type word
    /// every mutex gets at initialisation (written over by stray bytes).
    fn check_mutexes(&self) -> Result<()> {
        let (Some(kind), Some(off)) = (sys::reference_mutex_kind(), sys::MUTEX_KIND_OFFSET) else {
            return Ok(());
        };
        let damaged = |what: String| Error::DamagedMutex {
            name: self.name.clone(),
            what,
        };
        if self
            .map
            .i32_at(OFF_SEGMENT_LOCK + off)
            .load(Ordering::Relaxed)
            != kind
        {
            return Err(damaged("the segment".to_owned()));
        }
        for id in 0..self.num_locks {
            if self
                .map
                .i32_at(self.mutex_off(id) + off)
                .load(Ordering::Relaxed)
                != kind
            {
                return Err(damaged(format!("lock {id}")));
            }
        }
        Ok(())
    }

    pub(crate) fn holder_of(&self, id: u32) -> Option<i32> {
        if id >= self.num_locks {
            return None;
        }
        let pid = self.holder(id).load(Ordering::Relaxed);
        // A holder that is not oxpod (so not in the table) is still named:
        // by the thread id in the mutex.
        (pid != 0)
            .then_some(pid)
            .or_else(|| self.mutex(id).owner_tid())
    }

    /// Runs `f` holding the segment mutex (recovering it if a process died
    /// holding it: bitmap words are single stores, so they stay consistent).
    fn with_segment_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        let mutex = self.segment_mutex();
        let target = || format!("the segment lock of {}", self.name);
        match mutex.lock() {
            Ok(Acquired::Clean) => {}
            Ok(Acquired::OwnerDied) => {
                tracing::warn!(segment = %self.name, "a process died holding the segment lock; recovered it");
                if let Err(source) = mutex.consistent() {
                    let _ = mutex.unlock();
                    return Err(Error::Mutex {
                        op: "recover",
                        target: target(),
                        source,
                    });
                }
            }
            Err(source) => {
                return Err(Error::Mutex {
                    op: "lock",
                    target: target(),
                    source,
                });
            }
        }
        let out = f();
        mutex.unlock().map_err(|source| Error::Mutex {
            op: "unlock",
            target: target(),
            source,
        })?;
        Ok(out)
    }

    pub(crate) fn acquire(&self, id: u32, wait: Wait) -> Result<Option<Taken>> {
        self.check(id)?;
        let mutex = self.mutex(id);
        let res = match wait {
            Wait::Try => mutex.try_lock(),
            Wait::Block => self.wait_for(id, None),
            Wait::Timeout(timeout) => self.wait_for(id, Some(timeout)),
        };
        let holder = self.holder(id);
        let me = sys::current_pid();
        match res {
            Ok(None) => Ok(None),
            Ok(Some(Acquired::Clean)) => {
                holder.store(me, Ordering::Relaxed);
                Ok(Some(Taken::default()))
            }
            Ok(Some(Acquired::OwnerDied)) => {
                let dead = holder.load(Ordering::Relaxed);
                let dead_pid = (dead != 0).then_some(dead);
                if let Err(source) = mutex.consistent() {
                    let _ = mutex.unlock();
                    return Err(Error::Mutex {
                        op: "recover",
                        target: format!("lock {id}"),
                        source,
                    });
                }
                holder.store(me, Ordering::Relaxed);
                match dead_pid {
                    Some(pid) => tracing::warn!(
                        lock = id,
                        dead_pid = pid,
                        "lock {id} was held by process {pid}, which died; recovered it"
                    ),
                    None => tracing::warn!(
                        lock = id,
                        "lock {id} was held by a process that died; recovered it"
                    ),
                }
                Ok(Some(Taken {
                    owner_died: true,
                    dead_pid,
                }))
            }
            Err(Errno::EDEADLK) => Err(Error::WouldDeadlock { id }),
            Err(Errno::ENOTRECOVERABLE) => Err(Error::NotRecoverable { id }),
            Err(source) => Err(Error::Mutex {
                op: "lock",
                target: format!("lock {id}"),
                source,
            }),
        }
    }

    /// Waits for lock `id` (for ever, or at most `timeout`), in slices:
    /// between them a holder that is gone without the kernel marking the
    /// mutex (it unmapped the segment before it died, as a script's
    /// finalisers do) is marked dead, so the next slice recovers the lock
    /// instead of waiting for a thread that no longer exists.
    fn wait_for(
        &self,
        id: u32,
        timeout: Option<Duration>,
    ) -> std::result::Result<Option<Acquired>, Errno> {
        const SLICE: Duration = Duration::from_millis(500);
        let mutex = self.mutex(id);
        let start = std::time::Instant::now();
        loop {
            let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
            let slice = left.map_or(SLICE, |l| l.min(SLICE));
            if let Some(got) = mutex.lock_timeout(slice)? {
                return Ok(Some(got));
            }
            if left.is_some_and(|l| l <= slice) {
                return Ok(None);
            }
            self.recover_orphan(id);
        }
    }

    /// Marks lock `id` owner-died when the thread its futex word names is
    /// gone and no live process is recorded as holding it.
    fn recover_orphan(&self, id: u32) {
        let mutex = self.mutex(id);
        let Some(tid) = mutex.owner_tid() else {
            return;
        };
        if sys::thread_alive(tid) {
            return;
        }
        // A live oxpod holder recorded in the table (in another pid
        // namespace, its thread id would mean nothing here) is never
        // overruled.
        let recorded = self.holder(id).load(Ordering::Relaxed);
        if recorded != 0 && recorded != tid && sys::thread_alive(recorded) {
            return;
        }
        if mutex.mark_owner_died(tid) {
            tracing::warn!(
                lock = id,
                tid,
                "lock {id} was held by thread {tid}, which is gone without releasing it; recovering it"
            );
        }
    }

    pub(crate) fn release(&self, id: u32) -> Result<()> {
        self.check(id)?;
        let holder = self.holder(id);
        let before = holder.swap(0, Ordering::Relaxed);
        match self.mutex(id).unlock() {
            Ok(()) => Ok(()),
            Err(Errno::EPERM) => {
                // Not ours: put back whatever the real holder recorded.
                let _ = holder.compare_exchange(0, before, Ordering::Relaxed, Ordering::Relaxed);
                Err(Error::NotHeld { id })
            }
            Err(source) => Err(Error::Mutex {
                op: "unlock",
                target: format!("lock {id}"),
                source,
            }),
        }
    }
}

/// Locks in a POSIX shared-memory segment, shared by all processes that
/// open the same name. Cheap to clone; the mapping lives until the manager
/// and every [`Lock`] handle from it are dropped.
#[derive(Clone)]
pub struct ShmLockManager {
    seg: Arc<Segment>,
}

impl fmt::Debug for ShmLockManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmLockManager")
            .field("name", &self.seg.name)
            .field("capacity", &self.seg.num_locks)
            .finish()
    }
}

/// Checks a segment name: `/` then 1 to 254 characters, none of them `/` or NUL.
/// Where Linux keeps POSIX shared-memory objects.
const SHM_DIR: &str = "/dev/shm";

fn shm_path(name: &str) -> String {
    format!("{SHM_DIR}{name}")
}

/// The temporary name a segment is built under by process `pid`.
fn draft_name(name: &str, pid: u32) -> String {
    format!("{name}.draft-{pid}")
}

/// Removes drafts of `name` left by creators that were killed.
fn remove_stale_drafts(name: &str) {
    let Some(base) = name.strip_prefix('/') else {
        return;
    };
    let prefix = format!("{base}.draft-");
    let Ok(entries) = std::fs::read_dir(SHM_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            tracing::debug!(segment = ?file, "removing a draft lock segment of a dead creator");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Refuses a segment that another user owns or that others may open.
fn check_owner(name: &str, fd: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    let st = nix::sys::stat::fstat(fd).map_err(|source| Error::Segment {
        op: "stat",
        name: name.to_owned(),
        source,
    })?;
    let uid = nix::unistd::geteuid().as_raw();
    let mode = st.st_mode & 0o7777;
    if st.st_uid != uid || mode != 0o600 {
        return Err(Error::NotOurs {
            name: name.to_owned(),
            owner: st.st_uid,
            mode,
            uid,
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    let Some(rest) = name.strip_prefix('/') else {
        return bad("it must start with '/'");
    };
    if rest.is_empty() || rest == "." || rest == ".." {
        return bad("it needs a name after the '/'");
    }
    if rest.len() > 254 {
        return bad("it is longer than 255 bytes");
    }
    if rest.contains(['/', '\0']) {
        return bad("it must not contain '/' after the first character or NUL");
    }
    Ok(())
}

/// Number of groups for `n` locks, checking the bounds.
fn groups_for(n: u32) -> Result<u32> {
    if n == 0 {
        return Err(Error::ZeroLocks);
    }
    if n > MAX_LOCKS {
        return Err(Error::TooManyLocks {
            requested: n,
            max: MAX_LOCKS,
        });
    }
    Ok(n.div_ceil(LOCKS_PER_GROUP))
}

impl ShmLockManager {
    /// Creates segment `name` (`/something`) with `n` locks rounded up to a
    /// multiple of 32, exclusively and with mode 0600, all locks free.
    /// [`Error::SegmentExists`] when it exists. Nothing is left behind on failure.
    pub fn create(name: &str, n: u32) -> Result<Self> {
        check_name(name)?;
        let groups = groups_for(n)?;
        if Path::new(&shm_path(name)).exists() {
            return Err(Error::SegmentExists {
                name: name.to_owned(),
            });
        }
        remove_stale_drafts(name);
        // Built complete under a name of this process's, then linked into
        // place: a kill at any point leaves no half-made segment at `name`.
        let draft = draft_name(name, std::process::id());
        let _ = nix::sys::mman::shm_unlink(draft.as_str());
        let fd = nix::sys::mman::shm_open(
            draft.as_str(),
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(|source| Error::Segment {
            op: "create",
            name: name.to_owned(),
            source,
        })?;
        let made = Self::init(name, &fd, groups).and_then(|m| {
            match std::fs::hard_link(shm_path(&draft), shm_path(name)) {
                Ok(()) => Ok(m),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::SegmentExists {
                        name: name.to_owned(),
                    })
                }
                Err(e) => Err(Error::Segment {
                    op: "publish",
                    name: name.to_owned(),
                    source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                }),
            }
        });
        if let Err(errno) = nix::sys::mman::shm_unlink(draft.as_str()) {
            tracing::warn!(segment = %draft, %errno, "failed to remove a draft lock segment");
        }
        made
    }

    fn init(name: &str, fd: &OwnedFd, groups: u32) -> Result<Self> {
        let seg_err = |op| {
            move |source| Error::Segment {
                op,
                name: name.to_owned(),
                source,
            }
        };
        let size = segment_size(groups as usize);
        let len = i64::try_from(size)
            .map_err(|_| Errno::EFBIG)
            .map_err(seg_err("size"))?;
        nix::unistd::ftruncate(fd.as_fd(), len).map_err(seg_err("size"))?;
        let map = Mapping::map_shared(fd.as_fd(), size).map_err(seg_err("map"))?;
        let num_locks = groups * LOCKS_PER_GROUP;
        let seg = Segment {
            name: name.to_owned(),
            map,
            num_locks,
            holders_off: HEADER_SIZE + groups as usize * GROUP_SIZE,
        };
        // ftruncate zero-filled the bitmaps and the holder table.
        seg.segment_mutex()
            .init()
            .map_err(seg_err("initialise the mutexes of"))?;
        for id in 0..num_locks {
            seg.mutex(id)
                .init()
                .map_err(seg_err("initialise the mutexes of"))?;
        }
        seg.map
            .u16_at(OFF_VERSION)
            .store(LAYOUT_VERSION, Ordering::Relaxed);
        seg.map
            .u32_at(OFF_MUTEX_SIZE)
            .store(MUTEX_SIZE as u32, Ordering::Relaxed);
        seg.map
            .u32_at(OFF_NUM_GROUPS)
            .store(groups, Ordering::Relaxed);
        seg.map
            .u32_at(OFF_NUM_LOCKS)
            .store(num_locks, Ordering::Relaxed);
        // Published last: an opener that sees the magic sees everything above.
        seg.map.u16_at(OFF_MAGIC).store(MAGIC, Ordering::Release);
        tracing::debug!(
            segment = name,
            locks = num_locks,
            bytes = size,
            "created lock segment"
        );
        Ok(Self { seg: Arc::new(seg) })
    }

    /// Opens existing segment `name`, expecting `n` locks (rounded up to a
    /// multiple of 32). The size is checked with fstat before anything is
    /// read, then the magic, layout version, mutex size and lock count.
    pub fn open(name: &str, n: u32) -> Result<Self> {
        check_name(name)?;
        let expected = groups_for(n)? * LOCKS_PER_GROUP;
        let fd =
            nix::sys::mman::shm_open(name, OFlag::O_RDWR, Mode::empty()).map_err(|source| {
                match source {
                    Errno::ENOENT => Error::SegmentMissing {
                        name: name.to_owned(),
                    },
                    source => Error::Segment {
                        op: "open",
                        name: name.to_owned(),
                        source,
                    },
                }
            })?;
        let seg_err = |op| {
            move |source| Error::Segment {
                op,
                name: name.to_owned(),
                source,
            }
        };
        check_owner(name, fd.as_fd())?;
        // A segment made by an older build (no draft) may still be being
        // sized or initialised: wait a little while the size is 0 or the
        // magic is not written yet.
        let started = std::time::Instant::now();
        let (map, size) = loop {
            let size = nix::sys::stat::fstat(fd.as_fd())
                .map_err(seg_err("stat"))?
                .st_size;
            let size = u64::try_from(size).unwrap_or(0);
            let young = started.elapsed() < INIT_WAIT;
            if size < HEADER_SIZE as u64 {
                if size == 0 && young {
                    std::thread::sleep(INIT_POLL);
                    continue;
                }
                return Err(Error::SegmentTooSmall {
                    name: name.to_owned(),
                    size,
                    needed: HEADER_SIZE as u64,
                });
            }
            let len = usize::try_from(size)
                .map_err(|_| Errno::EFBIG)
                .map_err(seg_err("map"))?;
            let map = Mapping::map_shared(fd.as_fd(), len).map_err(seg_err("map"))?;
            if map.u16_at(OFF_MAGIC).load(Ordering::Acquire) == 0 && young {
                drop(map);
                std::thread::sleep(INIT_POLL);
                continue;
            }
            break (map, size);
        };
        let magic = map.u16_at(OFF_MAGIC).load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(Error::BadMagic {
                name: name.to_owned(),
                found: magic,
                expected: MAGIC,
            });
        }
        let version = map.u16_at(OFF_VERSION).load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(Error::LayoutVersion {
                name: name.to_owned(),
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        let mutex_size = map.u32_at(OFF_MUTEX_SIZE).load(Ordering::Relaxed);
        if mutex_size as usize != MUTEX_SIZE {
            return Err(Error::MutexSize {
                name: name.to_owned(),
                found: mutex_size,
                expected: MUTEX_SIZE as u32,
            });
        }
        let groups = map.u32_at(OFF_NUM_GROUPS).load(Ordering::Relaxed);
        let found = map.u32_at(OFF_NUM_LOCKS).load(Ordering::Relaxed);
        if groups == 0
            || groups > MAX_LOCKS / LOCKS_PER_GROUP
            || groups.checked_mul(LOCKS_PER_GROUP) != Some(found)
        {
            return Err(Error::Corrupt {
                name: name.to_owned(),
                reason: format!("{groups} groups cannot hold {found} locks"),
            });
        }
        if found != expected {
            return Err(Error::CountMismatch {
                name: name.to_owned(),
                expected,
                found,
            });
        }
        let needed = segment_size(groups as usize) as u64;
        if size < needed {
            return Err(Error::SegmentTooSmall {
                name: name.to_owned(),
                size,
                needed,
            });
        }
        let seg = Segment {
            name: name.to_owned(),
            map,
            num_locks: found,
            holders_off: HEADER_SIZE + groups as usize * GROUP_SIZE,
        };
        seg.check_mutexes()?;
        tracing::debug!(segment = name, locks = found, "opened lock segment");
        Ok(Self { seg: Arc::new(seg) })
    }

    /// Opens segment `name` whatever number of locks it holds (a renumber
    /// that changes the size looks at the old one's holders first). The
    /// same checks as [`ShmLockManager::open`] otherwise.
    pub fn open_existing(name: &str) -> Result<Self> {
        match Self::open(name, LOCKS_PER_GROUP) {
            Err(Error::CountMismatch { found, .. }) => Self::open(name, found),
            other => other,
        }
    }

    /// Opens segment `name`, creating it when it does not exist (also when
    /// another process creates it at the same moment).
    pub fn open_or_create(name: &str, n: u32) -> Result<Self> {
        match Self::open(name, n) {
            Err(Error::SegmentMissing { .. }) => match Self::create(name, n) {
                Err(Error::SegmentExists { .. }) => Self::open(name, n),
                other => other,
            },
            other => other,
        }
    }

    /// Removes segment `name`: `Ok(true)` when it existed, `Ok(false)` when
    /// not. Processes that have it open keep using the old one, so only do
    /// this when no other oxpod process runs (renumber).
    pub fn remove(name: &str) -> Result<bool> {
        check_name(name)?;
        match nix::sys::mman::shm_unlink(name) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(source) => Err(Error::Segment {
                op: "remove",
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// The segment name.
    pub fn name(&self) -> &str {
        &self.seg.name
    }

    fn handle(&self, id: u32) -> Lock {
        Lock::new(id, Backend::Shm(Arc::clone(&self.seg)))
    }
}

impl LockManager for ShmLockManager {
    fn allocate(&self) -> Result<Lock> {
        let seg = &self.seg;
        let id = seg.with_segment_lock(|| {
            (0..seg.num_groups()).find_map(|group| {
                let bitmap = seg.bitmap(group);
                let bits = bitmap.load(Ordering::Relaxed);
                if bits == u32::MAX {
                    return None;
                }
                let bit = bits.trailing_ones();
                bitmap.store(bits | (1 << bit), Ordering::Relaxed);
                Some(group as u32 * LOCKS_PER_GROUP + bit)
            })
        })?;
        match id {
            Some(id) => Ok(self.handle(id)),
            None => Err(Error::Exhausted {
                capacity: seg.num_locks,
            }),
        }
    }

    fn retrieve(&self, id: u32) -> Result<Lock> {
        self.seg.check(id)?;
        Ok(self.handle(id))
    }

    fn allocate_given(&self, id: u32) -> Result<Lock> {
        let seg = &self.seg;
        seg.check(id)?;
        let bitmap = seg.bitmap((id / LOCKS_PER_GROUP) as usize);
        let mask = 1u32 << (id % LOCKS_PER_GROUP);
        let fresh = seg.with_segment_lock(|| {
            let bits = bitmap.load(Ordering::Relaxed);
            bitmap.store(bits | mask, Ordering::Relaxed);
            bits & mask == 0
        })?;
        if !fresh {
            return Err(Error::AlreadyAllocated { id });
        }
        Ok(self.handle(id))
    }

    fn free(&self, id: u32) -> Result<()> {
        let seg = &self.seg;
        seg.check(id)?;
        let bitmap = seg.bitmap((id / LOCKS_PER_GROUP) as usize);
        let mask = 1u32 << (id % LOCKS_PER_GROUP);
        let was_set = seg.with_segment_lock(|| {
            let bits = bitmap.load(Ordering::Relaxed);
            bitmap.store(bits & !mask, Ordering::Relaxed);
            bits & mask != 0
        })?;
        if !was_set {
            return Err(Error::NotAllocated { id });
        }
        Ok(())
    }

    fn free_all(&self) -> Result<()> {
        let seg = &self.seg;
        seg.with_segment_lock(|| {
            for group in 0..seg.num_groups() {
                seg.bitmap(group).store(0, Ordering::Relaxed);
            }
        })
    }

    fn capacity(&self) -> u32 {
        self.seg.num_locks
    }

    fn available(&self) -> Result<u32> {
        let seg = &self.seg;
        seg.with_segment_lock(|| {
            (0..seg.num_groups())
                .map(|group| seg.bitmap(group).load(Ordering::Relaxed).count_zeros())
                .sum()
        })
    }

    fn allocated(&self) -> Result<Vec<u32>> {
        let seg = &self.seg;
        seg.with_segment_lock(|| {
            let mut ids = Vec::new();
            for group in 0..seg.num_groups() {
                let bits = seg.bitmap(group).load(Ordering::Relaxed);
                let base = group as u32 * LOCKS_PER_GROUP;
                ids.extend(
                    (0..LOCKS_PER_GROUP)
                        .filter(|bit| bits & (1 << bit) != 0)
                        .map(|bit| base + bit),
                );
            }
            ids
        })
    }

    fn holders(&self) -> Result<BTreeMap<u32, i32>> {
        let seg = &self.seg;
        Ok((0..seg.num_locks)
            .filter_map(|id| seg.holder_of(id).map(|pid| (id, pid)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_podman_on_glibc_x86_64() {
        if cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
            assert_eq!(MUTEX_SIZE, 40);
            assert_eq!(HEADER_SIZE, 56);
            assert_eq!(GROUP_SIZE, 1288);
            assert_eq!(segment_size(64), 56 + 64 * 1288 + 2048 * 4);
        }
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "oxpod", "/", "/a/b", "/..", "/a\0b"] {
            assert!(
                matches!(check_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
        check_name("/oxpod_lock").unwrap();
        check_name(&crate::rootless_segment_name(1000)).unwrap();
        assert!(matches!(groups_for(0), Err(Error::ZeroLocks)));
        assert!(matches!(
            groups_for(MAX_LOCKS + 1),
            Err(Error::TooManyLocks { .. })
        ));
        assert_eq!(groups_for(7).unwrap(), 1);
        assert_eq!(groups_for(33).unwrap(), 2);
    }
}
