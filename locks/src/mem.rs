//! `MemLockManager`: process-local locks with the same semantics as the
//! shared-memory manager, for tests and embedding. Built on std's `Mutex`
//! and `Condvar` only, independently of the shared-memory code, so the two
//! can be checked against each other.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lock::{Backend, Lock, Taken, Wait};
use crate::{LockManager, MAX_LOCKS};

/// Locks living in this process's memory. Capacity is exactly the number
/// asked for (no rounding). Holders are reported with this process's pid.
#[derive(Clone)]
pub struct MemLockManager {
    shared: Arc<MemShared>,
}

impl fmt::Debug for MemLockManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemLockManager")
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

/// State shared by the manager and its handles.
pub(crate) struct MemShared {
    capacity: u32,
    allocated: Mutex<Vec<bool>>,
    slots: Box<[Slot]>,
}

/// One lock: which thread holds it, and a condition to wait on.
struct Slot {
    owner: Mutex<Option<ThreadId>>,
    released: Condvar,
}

/// Takes a std mutex; nothing in this module panics while holding one, so a
/// poisoned mutex still holds consistent data.
fn take<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemLockManager {
    /// A manager with exactly `n` locks, all free. [`Error::ZeroLocks`] for 0.
    pub fn new(n: u32) -> Result<Self> {
        if n == 0 {
            return Err(Error::ZeroLocks);
        }
        if n > MAX_LOCKS {
            return Err(Error::TooManyLocks {
                requested: n,
                max: MAX_LOCKS,
            });
        }
        let slots = (0..n)
            .map(|_| Slot {
                owner: Mutex::new(None),
                released: Condvar::new(),
            })
            .collect();
        Ok(Self {
            shared: Arc::new(MemShared {
                capacity: n,
                allocated: Mutex::new(vec![false; n as usize]),
                slots,
            }),
        })
    }

    fn check(&self, id: u32) -> Result<()> {
        if id >= self.shared.capacity {
            return Err(Error::IdOutOfRange {
                id,
                capacity: self.shared.capacity,
            });
        }
        Ok(())
    }

    fn handle(&self, id: u32) -> Lock {
        Lock::new(id, Backend::Mem(Arc::clone(&self.shared)))
    }
}

impl LockManager for MemLockManager {
    fn allocate(&self) -> Result<Lock> {
        let mut allocated = take(&self.shared.allocated);
        let Some(id) = allocated.iter().position(|used| !used) else {
            return Err(Error::Exhausted {
                capacity: self.shared.capacity,
            });
        };
        allocated[id] = true;
        drop(allocated);
        // `id < capacity <= u32::MAX`, so the conversion cannot fail.
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        Ok(self.handle(id))
    }

    fn retrieve(&self, id: u32) -> Result<Lock> {
        self.check(id)?;
        Ok(self.handle(id))
    }

    fn allocate_given(&self, id: u32) -> Result<Lock> {
        self.check(id)?;
        let mut allocated = take(&self.shared.allocated);
        if allocated[id as usize] {
            return Err(Error::AlreadyAllocated { id });
        }
        allocated[id as usize] = true;
        drop(allocated);
        Ok(self.handle(id))
    }

    fn free(&self, id: u32) -> Result<()> {
        self.check(id)?;
        let mut allocated = take(&self.shared.allocated);
        if !allocated[id as usize] {
            return Err(Error::NotAllocated { id });
        }
        allocated[id as usize] = false;
        Ok(())
    }

    fn free_all(&self) -> Result<()> {
        take(&self.shared.allocated).fill(false);
        Ok(())
    }

    fn capacity(&self) -> u32 {
        self.shared.capacity
    }

    fn available(&self) -> Result<u32> {
        let free = take(&self.shared.allocated)
            .iter()
            .filter(|used| !**used)
            .count();
        Ok(u32::try_from(free).unwrap_or(u32::MAX))
    }

    fn allocated(&self) -> Result<Vec<u32>> {
        Ok(take(&self.shared.allocated)
            .iter()
            .zip(0u32..)
            .filter_map(|(used, id)| used.then_some(id))
            .collect())
    }

    fn holders(&self) -> Result<BTreeMap<u32, i32>> {
        let pid = crate::sys::current_pid();
        Ok(self
            .shared
            .slots
            .iter()
            .zip(0u32..)
            .filter_map(|(slot, id)| take(&slot.owner).is_some().then_some((id, pid)))
            .collect())
    }
}

impl MemShared {
    pub(crate) fn holder_of(&self, id: u32) -> Option<i32> {
        let slot = self.slots.get(id as usize)?;
        take(&slot.owner).map(|_| crate::sys::current_pid())
    }

    pub(crate) fn acquire(&self, id: u32, wait: Wait) -> Result<Option<Taken>> {
        let slot = self.slots.get(id as usize).ok_or(Error::IdOutOfRange {
            id,
            capacity: self.capacity,
        })?;
        let me = thread::current().id();
        let mut owner = take(&slot.owner);
        if *owner == Some(me) {
            return Err(Error::WouldDeadlock { id });
        }
        match wait {
            Wait::Block => {
                while owner.is_some() {
                    owner = slot
                        .released
                        .wait(owner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            Wait::Try => {
                if owner.is_some() {
                    return Ok(None);
                }
            }
            Wait::Timeout(timeout) => {
                let deadline = Instant::now().checked_add(timeout);
                while owner.is_some() {
                    let left = match deadline {
                        Some(d) => d.saturating_duration_since(Instant::now()),
                        None => Duration::MAX,
                    };
                    if left.is_zero() {
                        return Ok(None);
                    }
                    owner = slot
                        .released
                        .wait_timeout(owner, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
        *owner = Some(me);
        Ok(Some(Taken::default()))
    }

    pub(crate) fn release(&self, id: u32) -> Result<()> {
        let slot = self.slots.get(id as usize).ok_or(Error::IdOutOfRange {
            id,
            capacity: self.capacity,
        })?;
        let mut owner = take(&slot.owner);
        if *owner != Some(thread::current().id()) {
            return Err(Error::NotHeld { id });
        }
        *owner = None;
        drop(owner);
        slot.released.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_locks_is_an_error() {
        assert!(matches!(MemLockManager::new(0), Err(Error::ZeroLocks)));
    }

    #[test]
    fn allocation_is_lowest_first_and_exact() {
        let m = MemLockManager::new(3).unwrap();
        assert_eq!(m.capacity(), 3);
        let ids: Vec<u32> = (0..3).map(|_| m.allocate().unwrap().id()).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert!(matches!(
            m.allocate(),
            Err(Error::Exhausted { capacity: 3 })
        ));
        m.free(1).unwrap();
        assert_eq!(m.available().unwrap(), 1);
        assert_eq!(m.allocate().unwrap().id(), 1);
        assert!(matches!(
            m.free(5),
            Err(Error::IdOutOfRange { id: 5, capacity: 3 })
        ));
        assert!(matches!(
            m.allocate_given(2),
            Err(Error::AlreadyAllocated { id: 2 })
        ));
        m.free_all().unwrap();
        assert_eq!(m.allocated().unwrap(), Vec::<u32>::new());
        assert!(matches!(m.free(0), Err(Error::NotAllocated { id: 0 })));
    }

    #[test]
    fn locks_exclude_threads_and_report_holders() {
        let m = MemLockManager::new(4).unwrap();
        let lock = m.retrieve(2).unwrap();
        let guard = lock.lock().unwrap();
        assert!(matches!(lock.lock(), Err(Error::WouldDeadlock { id: 2 })));
        assert!(matches!(
            lock.try_lock(),
            Err(Error::WouldDeadlock { id: 2 })
        ));
        assert_eq!(
            m.holders().unwrap(),
            BTreeMap::from([(2, std::process::id() as i32)])
        );
        thread::scope(|s| {
            s.spawn(|| {
                assert!(lock.try_lock().unwrap().is_none());
                let err = lock.lock_timeout(Duration::from_millis(20)).unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::Timeout {
                            id: 2,
                            holder: Some(_),
                            ..
                        }
                    ),
                    "{err}"
                );
            });
        });
        drop(guard);
        assert!(m.holders().unwrap().is_empty());
        thread::scope(|s| {
            s.spawn(|| lock.lock().unwrap().unlock().unwrap());
        });
    }
}
