//! Lock handles and guards, shared by both managers.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::mem::MemShared;
use crate::shm::Segment;

/// Where a handle's mutex lives.
#[derive(Clone)]
pub(crate) enum Backend {
    Shm(Arc<Segment>),
    Mem(Arc<MemShared>),
}

/// How long to wait for a held lock.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    Block,
    Try,
    Timeout(Duration),
}

/// A successful acquisition.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Taken {
    /// The previous holder died holding the lock.
    pub(crate) owner_died: bool,
    /// Its pid, when it was recorded.
    pub(crate) dead_pid: Option<i32>,
}

/// A handle for one numbered lock. Cheap to clone; every handle with the same
/// ID on the same segment, in any process, refers to the same mutex.
#[derive(Clone)]
pub struct Lock {
    id: u32,
    backend: Backend,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.backend {
            Backend::Shm(seg) => seg.name(),
            Backend::Mem(_) => "memory",
        };
        f.debug_struct("Lock")
            .field("id", &self.id)
            .field("in", &kind)
            .finish()
    }
}

impl Lock {
    pub(crate) fn new(id: u32, backend: Backend) -> Self {
        Self { id, backend }
    }

    /// The lock's ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Blocks until the lock is acquired. [`Error::WouldDeadlock`] when this
    /// thread already holds it. When the previous holder died, the lock is
    /// recovered with a warning (see [`LockGuard::owner_died`]).
    pub fn lock(&self) -> Result<LockGuard> {
        match self.acquire(Wait::Block)? {
            Some(taken) => Ok(self.guard(taken)),
            // A blocking wait only ends by acquiring or by an error.
            None => Err(Error::Timeout {
                id: self.id,
                waited: Duration::MAX,
                holder: self.holder(),
            }),
        }
    }

    /// Acquires the lock if nobody holds it; `Ok(None)` when someone does.
    pub fn try_lock(&self) -> Result<Option<LockGuard>> {
        Ok(self.acquire(Wait::Try)?.map(|taken| self.guard(taken)))
    }

    /// Waits at most `timeout`; [`Error::Timeout`] names the holder's pid so
    /// the caller can report who holds the lock instead of hanging.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        match self.acquire(Wait::Timeout(timeout))? {
            Some(taken) => Ok(self.guard(taken)),
            None => Err(Error::Timeout {
                id: self.id,
                waited: timeout,
                holder: self.holder(),
            }),
        }
    }

    /// Pid recorded as holding the lock now, if any (a snapshot).
    pub fn holder(&self) -> Option<i32> {
        match &self.backend {
            Backend::Shm(seg) => seg.holder_of(self.id),
            Backend::Mem(mem) => mem.holder_of(self.id),
        }
    }

    fn acquire(&self, wait: Wait) -> Result<Option<Taken>> {
        match &self.backend {
            Backend::Shm(seg) => seg.acquire(self.id, wait),
            Backend::Mem(mem) => mem.acquire(self.id, wait),
        }
    }

    fn release(&self) -> Result<()> {
        match &self.backend {
            Backend::Shm(seg) => seg.release(self.id),
            Backend::Mem(mem) => mem.release(self.id),
        }
    }

    fn guard(&self, taken: Taken) -> LockGuard {
        LockGuard {
            lock: self.clone(),
            taken,
            released: false,
            _not_send: PhantomData,
        }
    }
}

/// Proof that the calling thread holds a lock; unlocks on drop.
///
/// Not `Send`: a pthread mutex must be released by the thread that took it.
/// Do not hold one across an `.await` on a multi-threaded executor.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    lock: Lock,
    taken: Taken,
    released: bool,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.lock)
            .field("owner_died", &self.taken.owner_died)
            .finish()
    }
}

impl LockGuard {
    /// The ID of the held lock.
    pub fn id(&self) -> u32 {
        self.lock.id
    }

    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// True when the previous holder died holding the lock and this
    /// acquisition recovered it: whatever it protected may be half-updated.
    pub fn owner_died(&self) -> bool {
        self.taken.owner_died
    }

    /// Pid of the dead previous holder, when [`owner_died`](Self::owner_died)
    /// and its pid was recorded.
    pub fn dead_holder(&self) -> Option<i32> {
        self.taken.dead_pid
    }

    /// Releases the lock, reporting an error instead of logging it.
    pub fn unlock(mut self) -> Result<()> {
        self.released = true;
        self.lock.release()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            if let Err(err) = self.lock.release() {
                tracing::warn!(lock = self.lock.id, %err, "failed to release lock");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_and_managers_cross_threads_and_are_object_safe() {
        send_sync::<Lock>();
        send_sync::<crate::ShmLockManager>();
        send_sync::<crate::MemLockManager>();
        send_sync::<Error>();
        let boxed: Box<dyn crate::LockManager> =
            Box::new(crate::MemLockManager::new(2).expect("manager"));
        let lock = boxed.allocate().expect("allocate");
        let guard = lock.lock().expect("lock");
        assert_eq!(guard.id(), 0);
        assert_eq!(guard.lock().id(), 0);
        assert!(format!("{guard:?}").contains("LockGuard"));
        drop(guard);
        assert_eq!(boxed.holders().expect("holders").len(), 0);
    }
}
