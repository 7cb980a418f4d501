//! oxpod-locks: numbered locks shared by every oxpod process on a host,
//! as robust process-shared pthread mutexes in a POSIX shared-memory segment,
//! plus an in-memory twin for tests and embedding.
//!
//! It knows nothing of containers, pods or the database: it hands out and
//! takes back lock numbers, and locks them. It is the one crate allowed
//! `unsafe`, confined to one module (`sys`).
//!
//! ```
//! use oxpod_locks::{LockManager, MemLockManager};
//!
//! let manager = MemLockManager::new(64)?;
//! let lock = manager.allocate()?;
//! {
//!     let _guard = lock.lock()?; // released at the end of the block
//!     // The same thread locking again gets an error instead of hanging.
//!     assert!(matches!(lock.lock(), Err(oxpod_locks::Error::WouldDeadlock { .. })));
//! }
//! manager.free(lock.id())?;
//! # Ok::<(), oxpod_locks::Error>(())
//! ```
//!
//! A guard must be released by the thread that took it, so it is not `Send`:
//!
//! ```compile_fail
//! fn needs_send<T: Send>() {}
//! needs_send::<oxpod_locks::LockGuard>();
//! ```

#![warn(missing_docs)]

mod error;
mod lock;
mod mem;
mod shm;
mod sys;

use std::collections::BTreeMap;

pub use error::{Error, Result};
pub use lock::{Lock, LockGuard};
pub use mem::MemLockManager;
pub use shm::{LAYOUT_VERSION, MAGIC, ShmLockManager};

/// Name of the root segment (`/dev/shm/oxpod_lock`).
pub const DEFAULT_SEGMENT_NAME: &str = "/oxpod_lock";

/// Locks come in groups of this many (one 32-bit allocation bitmap each);
/// [`ShmLockManager`] rounds the number of locks up to a multiple of it.
pub const LOCKS_PER_GROUP: u32 = 32;

/// The largest number of locks one manager supports.
pub const MAX_LOCKS: u32 = 1 << 20;

/// Name of a rootless user's segment (`/dev/shm/oxpod_rootless_lock_<uid>`).
pub fn rootless_segment_name(uid: u32) -> String {
    format!("/oxpod_rootless_lock_{uid}")
}

/// Hands out numbered locks and takes them back.
///
/// Allocation is lowest-free-first and deterministic. Locking does not check
/// allocation: a handle stays usable after its ID is freed, because another
/// process may still hold it. Object-safe, so the runtime can hold a
/// `Box<dyn LockManager>`.
pub trait LockManager: Send + Sync + std::fmt::Debug {
    /// Allocates the lowest free lock ID. [`Error::Exhausted`] when none is left.
    fn allocate(&self) -> Result<Lock>;

    /// A handle for lock `id`, allocated or not. [`Error::IdOutOfRange`] when
    /// `id >= capacity()`.
    fn retrieve(&self, id: u32) -> Result<Lock>;

    /// Marks `id` allocated and returns its handle (refresh after a reboot).
    /// [`Error::AlreadyAllocated`] when it is.
    fn allocate_given(&self, id: u32) -> Result<Lock>;

    /// Frees `id`. [`Error::NotAllocated`] when it is free (callers may
    /// downgrade that to a warning).
    fn free(&self, id: u32) -> Result<()>;

    /// Frees every lock (renumber and tests only).
    fn free_all(&self) -> Result<()>;

    /// Number of locks.
    fn capacity(&self) -> u32;

    /// Number of free locks.
    fn available(&self) -> Result<u32>;

    /// Allocated IDs, ascending.
    fn allocated(&self) -> Result<Vec<u32>>;

    /// Locks held now (allocated or not), each with the pid of its holder.
    /// A holder that died stays listed until the next locker recovers the lock.
    fn holders(&self) -> Result<BTreeMap<u32, i32>>;
}
