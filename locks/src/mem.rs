//! `MemLockManager`: process-local locks with the same semantics as the
//! shared-memory manager, for tests and embedding. Built on std's `Mutex`
//! and `Condvar` only, independently of the shared-memory code, so the two
//! can be checked against each other.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Instant;

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
    /// Allocation bitmap, 64 IDs a word, least significant bit first.
    allocated: Mutex<Vec<u64>>,
    slots: Box<[Slot]>,
}

/// One lock: who holds it and who waits, and a condition to wait on.
struct Slot {
    state: Mutex<SlotState>,
    released: Condvar,
}

#[derive(Default)]
struct SlotState {
    owner: Option<ThreadId>,
    /// Threads waiting on `released`, so an uncontended unlock skips the wake-up.
    waiters: u32,
}

/// Word index and mask of `id` in the allocation bitmap.
fn bit(id: u32) -> (usize, u64) {
    ((id / 64) as usize, 1u64 << (id % 64))
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
                state: Mutex::new(SlotState::default()),
                released: Condvar::new(),
            })
            .collect();
        Ok(Self {
            shared: Arc::new(MemShared {
                capacity: n,
                allocated: Mutex::new(vec![0; n.div_ceil(64) as usize]),
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
        let capacity = self.shared.capacity;
        let mut allocated = take(&self.shared.allocated);
        let free = allocated.iter().zip(0u32..).find_map(|(word, index)| {
            let id = index * 64 + word.trailing_ones();
            (*word != u64::MAX && id < capacity).then_some(id)
        });
        let Some(id) = free else {
            return Err(Error::Exhausted { capacity });
        };
        let (word, mask) = bit(id);
        allocated[word] |= mask;
        drop(allocated);
        Ok(self.handle(id))
    }

    fn retrieve(&self, id: u32) -> Result<Lock> {
        self.check(id)?;
        Ok(self.handle(id))
    }

    fn allocate_given(&self, id: u32) -> Result<Lock> {
        self.check(id)?;
        let (word, mask) = bit(id);
        let mut allocated = take(&self.shared.allocated);
        if allocated[word] & mask != 0 {
            return Err(Error::AlreadyAllocated { id });
        }
        allocated[word] |= mask;
        drop(allocated);
        Ok(self.handle(id))
    }

    fn free(&self, id: u32) -> Result<()> {
        self.check(id)?;
        let (word, mask) = bit(id);
        let mut allocated = take(&self.shared.allocated);
        if allocated[word] & mask == 0 {
            return Err(Error::NotAllocated { id });
        }
        allocated[word] &= !mask;
        Ok(())
    }

    fn free_all(&self) -> Result<()> {
        take(&self.shared.allocated).fill(0);
        Ok(())
    }

    fn capacity(&self) -> u32 {
        self.shared.capacity
    }

    fn available(&self) -> Result<u32> {
        let used: u32 = take(&self.shared.allocated)
            .iter()
            .map(|word| word.count_ones())
            .sum();
        Ok(self.shared.capacity - used)
    }

    fn allocated(&self) -> Result<Vec<u32>> {
        let allocated = take(&self.shared.allocated);
        Ok((0..self.shared.capacity)
            .filter(|id| {
                let (word, mask) = bit(*id);
                allocated[word] & mask != 0
            })
            .collect())
    }

    fn holders(&self) -> Result<BTreeMap<u32, i32>> {
        let pid = crate::sys::current_pid();
        Ok(self
            .shared
            .slots
            .iter()
            .zip(0u32..)
            .filter_map(|(slot, id)| take(&slot.state).owner.is_some().then_some((id, pid)))
            .collect())
    }
}

impl MemShared {
    fn slot(&self, id: u32) -> Result<&Slot> {
        self.slots.get(id as usize).ok_or(Error::IdOutOfRange {
            id,
            capacity: self.capacity,
        })
    }

    pub(crate) fn holder_of(&self, id: u32) -> Option<i32> {
        let slot = self.slots.get(id as usize)?;
        take(&slot.state).owner.map(|_| crate::sys::current_pid())
    }

    pub(crate) fn acquire(&self, id: u32, wait: Wait) -> Result<Option<Taken>> {
        let slot = self.slot(id)?;
        let me = thread::current().id();
        let mut state = take(&slot.state);
        if state.owner == Some(me) {
            return Err(Error::WouldDeadlock { id });
        }
        if state.owner.is_some() {
            // None: wait for ever; Some(None): a deadline too far to represent.
            let deadline = match wait {
                Wait::Try => return Ok(None),
                Wait::Block => None,
                Wait::Timeout(timeout) => Some(Instant::now().checked_add(timeout)),
            };
            state.waiters += 1;
            while state.owner.is_some() {
                state = match deadline {
                    None | Some(None) => slot
                        .released
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(Some(deadline)) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            state.waiters -= 1;
                            return Ok(None);
                        }
                        slot.released
                            .wait_timeout(state, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
            state.waiters -= 1;
        }
        state.owner = Some(me);
        Ok(Some(Taken::default()))
    }

    pub(crate) fn release(&self, id: u32) -> Result<()> {
        let slot = self.slot(id)?;
        let mut state = take(&slot.state);
        if state.owner != Some(thread::current().id()) {
            return Err(Error::NotHeld { id });
        }
        state.owner = None;
        let waiters = state.waiters;
        drop(state);
        if waiters > 0 {
            slot.released.notify_one();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    #[test]
    fn a_released_lock_wakes_its_waiters() {
        let m = MemLockManager::new(1).unwrap();
        let lock = m.retrieve(0).unwrap();
        let guard = lock.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::scope(|s| {
            for timed in [false, true] {
                let (lock, tx) = (&lock, tx.clone());
                s.spawn(move || {
                    let g = if timed {
                        lock.lock_timeout(Duration::from_secs(600)).unwrap()
                    } else {
                        lock.lock().unwrap()
                    };
                    tx.send(timed).unwrap();
                    drop(g);
                });
            }
            // Both threads must still be waiting while we hold the lock.
            thread::sleep(Duration::from_millis(50));
            assert!(rx.try_recv().is_err());
            guard.unlock().unwrap();
        });
        let mut woken: Vec<bool> = rx.try_iter().collect();
        woken.sort();
        assert_eq!(woken, [false, true]);
        assert!(matches!(lock.lock().unwrap().unlock(), Ok(())));
    }
}
