//! The one module of the crate with `unsafe`: the shared mapping, typed
//! atomic views into it, raw robust pthread mutexes, and the cached pid.
//!
//! Everything here is a thin, bounds-checked wrapper; the segment format and
//! all policy (what to check, what an error means) live in safe modules.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags};

/// Size in bytes of this libc's `pthread_mutex_t` (40 on glibc x86_64).
pub(crate) const MUTEX_SIZE: usize = size_of::<libc::pthread_mutex_t>();
/// Alignment of `pthread_mutex_t`.
pub(crate) const MUTEX_ALIGN: usize = align_of::<libc::pthread_mutex_t>();

// The layout puts the segment mutex at offset 8, after two u16 and one u32.
const _: () = assert!(MUTEX_ALIGN <= 8 && MUTEX_ALIGN >= 4);

/// Offset of glibc's `__kind` inside `pthread_mutex_t` (after `__lock`,
/// `__count`, `__owner`, `__nusers`): the mutex type and flags, set by
/// `pthread_mutex_init` and never changed by locking. `None` where the
/// layout is not known, and the check is skipped.
pub(crate) const MUTEX_KIND_OFFSET: Option<usize> =
    if cfg!(all(target_env = "gnu", target_os = "linux")) {
        Some(16)
    } else {
        None
    };

/// The `__kind` word of a freshly initialised process-shared, robust,
/// error-checking mutex, computed once: every mutex of a sound segment has
/// it, so another value means the segment was written over.
pub(crate) fn reference_mutex_kind() -> Option<i32> {
    static KIND: std::sync::OnceLock<Option<i32>> = std::sync::OnceLock::new();
    *KIND.get_or_init(|| {
        let off = MUTEX_KIND_OFFSET?;
        let map = Mapping::anonymous(MUTEX_SIZE.max(8)).ok()?;
        map.mutex_at(0).init().ok()?;
        Some(map.i32_at(off).load(Ordering::Relaxed))
    })
}

/// A shared read-write mapping of a file descriptor, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory that is only accessed through
// atomics and pthread calls designed for concurrent use; the pointer is owned
// by this value and is valid until drop, whatever thread drops it.
unsafe impl Send for Mapping {}
// SAFETY: as above, every access through `&Mapping` is an atomic operation or
// a pthread mutex call, both safe to perform from several threads at once.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` read-write and shared, from offset 0.
    pub(crate) fn map_shared(fd: BorrowedFd<'_>, len: usize) -> Result<Self, Errno> {
        let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        // SAFETY: we ask for a fresh mapping (no fixed address), so no existing
        // memory is affected; the result is owned by the returned value and
        // unmapped exactly once in `Drop`. Accesses past the end of the file
        // are prevented by the callers, which fstat the object first.
        let ptr = unsafe {
            nix::sys::mman::mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }?;
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// An anonymous shared mapping of `len` zero bytes (a reference mutex,
    /// and tests).
    pub(crate) fn anonymous(len: usize) -> Result<Self, Errno> {
        let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing; owned by the returned value and unmapped once in `Drop`.
        let ptr = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Checks that `[off, off + size)` lies inside the mapping and that `off`
    /// is aligned to `align`. The layout code computes offsets from sizes it
    /// has already checked, so a failure here is a bug, not bad input.
    fn check(&self, off: usize, size: usize, align: usize) {
        let end = off.checked_add(size);
        assert!(
            end.is_some_and(|end| end <= self.len) && off.is_multiple_of(align),
            "oxpod-locks bug: access at {off}+{size} outside a {}-byte mapping",
            self.len
        );
    }

    /// The u16 at byte offset `off`, as an atomic.
    pub(crate) fn u16_at(&self, off: usize) -> &AtomicU16 {
        self.check(off, 2, align_of::<AtomicU16>());
        // SAFETY: in bounds and aligned (checked above); the memory stays mapped
        // for the lifetime of `&self`, and is only ever accessed atomically.
        unsafe { AtomicU16::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    /// The u32 at byte offset `off`, as an atomic.
    pub(crate) fn u32_at(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4, align_of::<AtomicU32>());
        // SAFETY: in bounds and aligned (checked above); the memory stays mapped
        // for the lifetime of `&self`, and is only ever accessed atomically.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    /// The i32 at byte offset `off`, as an atomic.
    pub(crate) fn i32_at(&self, off: usize) -> &AtomicI32 {
        self.check(off, 4, align_of::<AtomicI32>());
        // SAFETY: in bounds and aligned (checked above); the memory stays mapped
        // for the lifetime of `&self`, and is only ever accessed atomically.
        unsafe { AtomicI32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    /// The pthread mutex at byte offset `off`.
    pub(crate) fn mutex_at(&self, off: usize) -> RawMutex<'_> {
        self.check(off, MUTEX_SIZE, MUTEX_ALIGN);
        RawMutex {
            // SAFETY: `off` is in bounds (checked above), so the result stays
            // inside the same mapping.
            ptr: unsafe { self.ptr.as_ptr().add(off) }.cast(),
            _mapping: PhantomData,
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping created in the
        // constructor; every borrow of it (atomics, `RawMutex`) is tied to
        // `&self`, so none outlives this call.
        let res = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.len) };
        if let Err(errno) = res {
            tracing::warn!(%errno, "failed to unmap the lock segment");
        }
    }
}

/// The futex word's bits (linux/futex.h).
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_WAITERS: u32 = 0x8000_0000;

/// Whether thread (or process) `tid` exists in our pid namespace.
pub(crate) fn thread_alive(tid: i32) -> bool {
    // kill(2) finds any thread by its id; EPERM means it exists.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(tid), None),
        Err(Errno::ESRCH)
    )
}

/// How a lock call acquired the mutex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The usual case.
    Clean,
    /// The previous holder died holding it (`EOWNERDEAD`): the caller holds it
    /// now and must call [`RawMutex::consistent`] before unlocking.
    OwnerDied,
}

/// A process-shared, robust, error-checking pthread mutex inside a [`Mapping`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMutex<'a> {
    ptr: *mut libc::pthread_mutex_t,
    _mapping: PhantomData<&'a Mapping>,
}

/// Maps a pthread return code (0 or an errno value) to a `Result`.
fn rc(code: libc::c_int) -> Result<(), Errno> {
    if code == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw(code))
    }
}

/// Maps the result of a lock call: 0 and `EOWNERDEAD` acquire.
fn acquired(code: libc::c_int) -> Result<Acquired, Errno> {
    match code {
        0 => Ok(Acquired::Clean),
        libc::EOWNERDEAD => Ok(Acquired::OwnerDied),
        other => Err(Errno::from_raw(other)),
    }
}

/// An attribute object for process-shared, robust, error-checking mutexes.
struct Attr(libc::pthread_mutexattr_t);

impl Attr {
    fn new() -> Result<Self, Errno> {
        // SAFETY: pthread_mutexattr_t is plain data; an all-zero value is a
        // valid place for pthread_mutexattr_init to initialise.
        let mut attr: libc::pthread_mutexattr_t = unsafe { std::mem::zeroed() };
        // SAFETY: `attr` is a valid, writable attribute object.
        rc(unsafe { libc::pthread_mutexattr_init(&mut attr) })?;
        let mut this = Self(attr);
        // SAFETY: `this.0` was initialised just above.
        rc(unsafe {
            libc::pthread_mutexattr_setpshared(&mut this.0, libc::PTHREAD_PROCESS_SHARED)
        })?;
        // SAFETY: `this.0` was initialised just above.
        rc(unsafe { libc::pthread_mutexattr_setrobust(&mut this.0, libc::PTHREAD_MUTEX_ROBUST) })?;
        // SAFETY: `this.0` was initialised just above.
        rc(unsafe {
            libc::pthread_mutexattr_settype(&mut this.0, libc::PTHREAD_MUTEX_ERRORCHECK)
        })?;
        Ok(this)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: the attribute object was initialised in `new` and is not used
        // after this call.
        unsafe { libc::pthread_mutexattr_destroy(&mut self.0) };
    }
}

impl RawMutex<'_> {
    /// Initialises the mutex as process-shared, robust and error-checking
    /// (relocking from the holding thread gives `EDEADLK`, unlocking from
    /// another thread gives `EPERM`). Only for a segment nobody else uses yet.
    pub(crate) fn init(&self) -> Result<(), Errno> {
        let attr = Attr::new()?;
        // SAFETY: `ptr` points to MUTEX_SIZE writable, aligned bytes of the
        // mapping (checked in `mutex_at`), which no other process uses yet
        // because the segment is not published until its magic is written.
        rc(unsafe { libc::pthread_mutex_init(self.ptr, &attr.0) })
    }

    /// Blocks until the mutex is acquired.
    pub(crate) fn lock(&self) -> Result<Acquired, Errno> {
        loop {
            // SAFETY: `ptr` points to a mutex initialised by `init` (the
            // segment was validated before any mutex is handed out) inside a
            // mapping that outlives `self`.
            let code = unsafe { libc::pthread_mutex_lock(self.ptr) };
            if code != libc::EAGAIN {
                return acquired(code);
            }
        }
    }

    /// Acquires the mutex if it is free; `Ok(None)` when someone holds it.
    pub(crate) fn try_lock(&self) -> Result<Option<Acquired>, Errno> {
        loop {
            // SAFETY: as in `lock`.
            let code = unsafe { libc::pthread_mutex_trylock(self.ptr) };
            match code {
                libc::EAGAIN => continue,
                libc::EBUSY => return Ok(None),
                other => return acquired(other).map(Some),
            }
        }
    }

    /// Waits at most `timeout` for the mutex; `Ok(None)` on timeout.
    pub(crate) fn lock_timeout(&self, timeout: Duration) -> Result<Option<Acquired>, Errno> {
        // pthread_mutex_timedlock measures an absolute CLOCK_REALTIME deadline.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let deadline = now.saturating_add(timeout);
        let abstime = libc::timespec {
            tv_sec: libc::time_t::try_from(deadline.as_secs()).unwrap_or(libc::time_t::MAX),
            // Below 1e9, so it fits a c_long on every target.
            tv_nsec: deadline.subsec_nanos() as libc::c_long,
        };
        loop {
            // SAFETY: as in `lock`; `abstime` is a valid timespec on the stack.
            let code = unsafe { libc::pthread_mutex_timedlock(self.ptr, &abstime) };
            match code {
                libc::EAGAIN => continue,
                libc::ETIMEDOUT => return Ok(None),
                other => return acquired(other).map(Some),
            }
        }
    }

    /// The mutex's futex word: glibc's `pthread_mutex_t` begins with it
    /// (`__data.__lock`, an aligned int holding the owner's thread id and
    /// the waiters and owner-died bits), and glibc and the kernel only
    /// ever access it atomically.
    fn futex_word(&self) -> &AtomicU32 {
        // SAFETY: `ptr` points to an initialised, 4-aligned mutex inside a
        // mapping that outlives `self`; its first 4 bytes are the futex
        // word, which every party accesses with atomic operations only.
        unsafe { &*self.ptr.cast::<AtomicU32>() }
    }

    /// The thread id the futex word names as the holder; `None` when the
    /// mutex is free or its holder is already marked dead.
    pub(crate) fn owner_tid(&self) -> Option<i32> {
        let word = self.futex_word().load(Ordering::SeqCst);
        let tid = word & FUTEX_TID_MASK;
        (tid != 0 && word & FUTEX_OWNER_DIED == 0).then(|| i32::try_from(tid).ok())?
    }

    /// Does for a dead holder what the kernel does at a thread's exit for
    /// each robust mutex on its robust list (`handle_futex_death`): if
    /// thread `tid` still owns the word, it is marked owner-died (waiters
    /// bit kept) and one waiter is woken, whose lock then returns
    /// `EOWNERDEAD`. Needed when the holder unmapped the segment before it
    /// died, so the kernel could not reach the mutex. Returns whether it
    /// marked the mutex; the caller must know `tid` is dead.
    pub(crate) fn mark_owner_died(&self, tid: i32) -> bool {
        let word = self.futex_word();
        let cur = word.load(Ordering::SeqCst);
        if i32::try_from(cur & FUTEX_TID_MASK).ok() != Some(tid) || cur & FUTEX_OWNER_DIED != 0 {
            return false;
        }
        let marked = (cur & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if word
            .compare_exchange(cur, marked, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        // SAFETY: FUTEX_WAKE on the futex word inside our mapping: it wakes
        // at most one thread waiting on that address and touches no memory.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                1,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0,
            )
        };
        true
    }

    /// Marks a mutex acquired with [`Acquired::OwnerDied`] as consistent.
    pub(crate) fn consistent(&self) -> Result<(), Errno> {
        // SAFETY: as in `lock`; the calling thread holds the mutex.
        rc(unsafe { libc::pthread_mutex_consistent(self.ptr) })
    }

    /// Releases the mutex; `EPERM` when this thread does not hold it.
    pub(crate) fn unlock(&self) -> Result<(), Errno> {
        loop {
            // SAFETY: as in `lock`. Error-checking mutexes reject an unlock by
            // a thread that does not hold them (EPERM) instead of corrupting.
            let code = unsafe { libc::pthread_mutex_unlock(self.ptr) };
            if code != libc::EAGAIN {
                return rc(code);
            }
        }
    }
}

/// This process's pid, cached (getpid is a system call) and reset in a forked child.
static PID: AtomicI32 = AtomicI32::new(0);
static ATFORK: Once = Once::new();

extern "C" fn reset_pid_after_fork() {
    PID.store(0, Ordering::Relaxed);
}

/// The pid of the calling process, for the holder table.
pub(crate) fn current_pid() -> i32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    ATFORK.call_once(|| {
        // SAFETY: registers a child handler that only performs an atomic store,
        // which is async-signal-safe and valid in a freshly forked child.
        let code = unsafe { libc::pthread_atfork(None, None, Some(reset_pid_after_fork)) };
        if code != 0 {
            tracing::warn!(
                code,
                "pthread_atfork failed; a forked child may report its parent's pid"
            );
        }
    });
    let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    PID.store(pid, Ordering::Relaxed);
    pid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutex_mapping() -> Mapping {
        let map = Mapping::anonymous(4096).expect("anonymous mapping");
        map.mutex_at(8).init().expect("init");
        map
    }

    #[test]
    fn unlocking_an_unlocked_mutex_fails() {
        let map = mutex_mapping();
        let m = map.mutex_at(8);
        assert_eq!(m.unlock(), Err(Errno::EPERM));
        assert_eq!(m.lock(), Ok(Acquired::Clean));
        assert_eq!(m.unlock(), Ok(()));
        assert_eq!(m.unlock(), Err(Errno::EPERM), "second unlock must fail");
    }

    #[test]
    fn relock_from_the_holding_thread_is_refused() {
        let map = mutex_mapping();
        let m = map.mutex_at(8);
        assert_eq!(m.lock(), Ok(Acquired::Clean));
        assert_eq!(m.lock(), Err(Errno::EDEADLK));
        assert_eq!(
            m.lock_timeout(Duration::from_millis(10)),
            Err(Errno::EDEADLK)
        );
        let tried = m.try_lock();
        assert!(
            matches!(tried, Err(Errno::EDEADLK) | Ok(None)),
            "trylock by the holder: {tried:?}"
        );
        assert_eq!(m.unlock(), Ok(()));
    }

    #[test]
    fn unlock_from_another_thread_fails() {
        let map = mutex_mapping();
        assert_eq!(map.mutex_at(8).lock(), Ok(Acquired::Clean));
        std::thread::scope(|s| {
            s.spawn(|| {
                let m = map.mutex_at(8);
                assert_eq!(m.unlock(), Err(Errno::EPERM));
                assert_eq!(m.try_lock(), Ok(None));
            });
        });
        assert_eq!(map.mutex_at(8).unlock(), Ok(()));
    }

    #[test]
    fn a_dead_thread_leaves_an_owner_dead_mutex() {
        let map = mutex_mapping();
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(map.mutex_at(8).lock(), Ok(Acquired::Clean)));
        });
        let m = map.mutex_at(8);
        assert_eq!(m.lock(), Ok(Acquired::OwnerDied));
        assert_eq!(m.consistent(), Ok(()));
        assert_eq!(m.unlock(), Ok(()));
        assert_eq!(m.lock(), Ok(Acquired::Clean));
        assert_eq!(m.unlock(), Ok(()));
    }

    #[test]
    fn pid_is_cached_and_right() {
        assert_eq!(current_pid() as u32, std::process::id());
        assert_eq!(current_pid() as u32, std::process::id());
    }

    #[test]
    fn typed_views_share_memory() {
        let map = Mapping::anonymous(64).expect("anonymous mapping");
        map.u32_at(4).store(0xdead_beef, Ordering::Relaxed);
        assert_eq!(map.u16_at(4).load(Ordering::Relaxed), 0xbeef);
        map.i32_at(8).store(-1, Ordering::Relaxed);
        assert_eq!(map.u32_at(8).load(Ordering::Relaxed), u32::MAX);
    }
}
