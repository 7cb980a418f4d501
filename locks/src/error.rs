//! The crate's error type: one variant per thing that can go wrong, each
//! message saying what to do about it.

use std::time::Duration;

use nix::errno::Errno;

/// Result of every fallible operation of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the lock layer can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment name must look like `/name`: one leading slash, no other.
    #[error("invalid lock segment name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A manager needs at least one lock.
    #[error("number of locks must be greater than 0; set num_locks to a positive number")]
    ZeroLocks,

    /// More locks than this crate supports in one segment.
    #[error(
        "number of locks {requested} is too large: at most {max} are supported; lower num_locks"
    )]
    TooManyLocks {
        /// The number asked for.
        requested: u32,
        /// The largest number supported.
        max: u32,
    },

    /// `create` found a segment of that name.
    #[error(
        "lock segment {name} already exists; open it instead, or remove it (`oxpod system renumber`) when no oxpod process is running"
    )]
    SegmentExists {
        /// The segment name.
        name: String,
    },

    /// `open` found no segment of that name.
    #[error(
        "lock segment {name} does not exist; create it (the first oxpod command after boot does)"
    )]
    SegmentMissing {
        /// The segment name.
        name: String,
    },

    /// The segment does not start with the lock-segment magic number.
    #[error(
        "lock segment {name} is not a lock segment (magic {found:#06x}, expected {expected:#06x}); stop all oxpod processes and run `oxpod system renumber` to recreate it"
    )]
    BadMagic {
        /// The segment name.
        name: String,
        /// The magic number found.
        found: u16,
        /// The magic number expected.
        expected: u16,
    },

    /// The segment was written with another layout version.
    #[error(
        "lock segment {name} has layout version {found} but this oxpod uses version {expected}; stop all oxpod processes and run `oxpod system renumber`"
    )]
    LayoutVersion {
        /// The segment name.
        name: String,
        /// The version found.
        found: u16,
        /// The version this build writes.
        expected: u16,
    },

    /// The segment was written by a build whose `pthread_mutex_t` has another
    /// size (another libc or architecture), so its mutexes cannot be shared.
    #[error(
        "lock segment {name} was made with {found}-byte mutexes but this build uses {expected}-byte mutexes (another libc or architecture); use another segment name, or stop all oxpod processes and run `oxpod system renumber`"
    )]
    MutexSize {
        /// The segment name.
        name: String,
        /// The mutex size found in the header.
        found: u32,
        /// This build's mutex size.
        expected: u32,
    },

    /// The segment holds another number of locks than configured (podman's
    /// `ERANGE`), usually because `num_locks` changed.
    #[error(
        "lock segment {name} holds {found} locks but {expected} are configured; run `oxpod system renumber` to recreate it"
    )]
    CountMismatch {
        /// The segment name.
        name: String,
        /// The number configured (rounded up to a multiple of 32).
        expected: u32,
        /// The number in the segment.
        found: u32,
    },

    /// The segment is shorter than its header says it must be.
    #[error(
        "lock segment {name} is {size} bytes but needs {needed}: it is damaged; stop all oxpod processes and run `oxpod system renumber`"
    )]
    SegmentTooSmall {
        /// The segment name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The size it needs.
        needed: u64,
    },

    /// The segment belongs to another user or is open to others: it may
    /// have been planted (squatted) to deny service or to hold our locks.
    #[error(
        "lock segment {name} is owned by uid {owner} with mode {mode:04o}, but oxpod (uid {uid}) only uses its own segments with mode 0600; it may have been planted by another user: remove /dev/shm{name} and run `oxpod system renumber`"
    )]
    NotOurs {
        /// The segment name.
        name: String,
        /// The owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// Our effective uid.
        uid: u32,
    },

    /// A mutex of the segment was written over (its type word is not a
    /// robust process-shared mutex's): locking it could abort the process.
    #[error(
        "lock segment {name} is damaged: the mutex of {what} was overwritten; stop all oxpod processes and run `oxpod system renumber` to recreate it"
    )]
    DamagedMutex {
        /// The segment name.
        name: String,
        /// Which mutex (`lock 5`, `the segment`).
        what: String,
    },

    /// The header's fields contradict each other.
    #[error(
        "lock segment {name} is damaged: {reason}; stop all oxpod processes and run `oxpod system renumber`"
    )]
    Corrupt {
        /// The segment name.
        name: String,
        /// What is inconsistent.
        reason: String,
    },

    /// A lock ID at or beyond the manager's capacity.
    #[error("lock ID {id} is out of range: this manager has {capacity} locks (IDs 0 to {last})", last = .capacity.saturating_sub(1))]
    IdOutOfRange {
        /// The ID given.
        id: u32,
        /// Number of locks of the manager.
        capacity: u32,
    },

    /// Every lock is allocated.
    #[error(
        "allocation failed: all {capacity} locks are in use; remove unused containers or pods, or raise num_locks and run `oxpod system renumber`"
    )]
    Exhausted {
        /// Number of locks of the manager.
        capacity: u32,
    },

    /// `allocate_given` on an allocated lock.
    #[error("lock {id} is already allocated; run `oxpod system renumber` if two objects claim it")]
    AlreadyAllocated {
        /// The lock ID.
        id: u32,
    },

    /// `free` on a lock that is not allocated.
    #[error("lock {id} is not allocated, so it cannot be freed")]
    NotAllocated {
        /// The lock ID.
        id: u32,
    },

    /// The calling thread already holds this lock; waiting would hang forever.
    #[error(
        "lock {id} is already held by this thread; locking it again would deadlock (release the first guard first)"
    )]
    WouldDeadlock {
        /// The lock ID.
        id: u32,
    },

    /// `lock_timeout` gave up.
    #[error("timed out after {waited:?} waiting for lock {id}, {}", holder_text(*.holder))]
    Timeout {
        /// The lock ID.
        id: u32,
        /// How long the caller waited.
        waited: Duration,
        /// Pid of the process recorded as holding the lock, when known.
        holder: Option<i32>,
    },

    /// A robust mutex whose dead holder's state was never repaired.
    #[error(
        "lock {id} is permanently unusable (a holder died and it was not recovered); run `oxpod system renumber`"
    )]
    NotRecoverable {
        /// The lock ID.
        id: u32,
    },

    /// Releasing a lock this thread does not hold.
    #[error("cannot unlock lock {id}: this thread does not hold it")]
    NotHeld {
        /// The lock ID.
        id: u32,
    },

    /// A system call on the segment failed.
    #[error("failed to {op} lock segment {name}: {source}")]
    Segment {
        /// What was being done (`open`, `map`, ...).
        op: &'static str,
        /// The segment name.
        name: String,
        /// The errno.
        #[source]
        source: Errno,
    },

    /// A pthread call on a mutex failed unexpectedly.
    #[error("failed to {op} {target}: {source}")]
    Mutex {
        /// What was being done (`lock`, `unlock`, ...).
        op: &'static str,
        /// Which mutex (`lock 5`, `the segment lock of /name`).
        target: String,
        /// The errno.
        #[source]
        source: Errno,
    },
}

fn holder_text(holder: Option<i32>) -> String {
    match holder {
        Some(pid) => format!("held by process {pid}"),
        None => "holder unknown".to_owned(),
    }
}

impl Error {
    /// Whether the segment itself is unusable (foreign, damaged, another
    /// layout or size), so that only recreating it helps: what `system
    /// renumber` may do once no live process holds a lock in it.
    pub fn segment_unusable(&self) -> bool {
        matches!(
            self,
            Error::BadMagic { .. }
                | Error::LayoutVersion { .. }
                | Error::MutexSize { .. }
                | Error::CountMismatch { .. }
                | Error::SegmentTooSmall { .. }
                | Error::Corrupt { .. }
                | Error::DamagedMutex { .. }
                | Error::NotOurs { .. }
        )
    }

    /// The errno behind this error, for callers that branch on podman's
    /// codes (`ENOENT` missing, `EEXIST` exists, `ERANGE` count mismatch, ...).
    pub fn errno(&self) -> Errno {
        match self {
            Error::InvalidName { .. } | Error::ZeroLocks | Error::IdOutOfRange { .. } => {
                Errno::EINVAL
            }
            Error::TooManyLocks { .. } => Errno::E2BIG,
            Error::SegmentExists { .. } | Error::AlreadyAllocated { .. } => Errno::EEXIST,
            Error::SegmentMissing { .. } | Error::NotAllocated { .. } => Errno::ENOENT,
            Error::BadMagic { .. } | Error::LayoutVersion { .. } | Error::MutexSize { .. } => {
                Errno::EBADF
            }
            Error::CountMismatch { .. } => Errno::ERANGE,
            Error::SegmentTooSmall { .. } | Error::Corrupt { .. } | Error::DamagedMutex { .. } => {
                Errno::EIO
            }
            Error::NotOurs { .. } => Errno::EPERM,
            Error::Exhausted { .. } => Errno::ENOSPC,
            Error::WouldDeadlock { .. } => Errno::EDEADLK,
            Error::Timeout { .. } => Errno::ETIMEDOUT,
            Error::NotRecoverable { .. } => Errno::ENOTRECOVERABLE,
            Error::NotHeld { .. } => Errno::EPERM,
            Error::Segment { source, .. } | Error::Mutex { source, .. } => *source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_context_and_remedy() {
        let e = Error::CountMismatch {
            name: "/x".into(),
            expected: 2048,
            found: 64,
        };
        let text = e.to_string();
        assert!(
            text.contains("2048") && text.contains("64") && text.contains("oxpod system renumber")
        );
        assert_eq!(e.errno(), Errno::ERANGE);

        let e = Error::Timeout {
            id: 3,
            waited: Duration::from_millis(5),
            holder: Some(42),
        };
        assert!(e.to_string().contains("process 42"), "{e}");
        let e = Error::Exhausted { capacity: 32 };
        assert!(
            e.to_string()
                .starts_with("allocation failed: all 32 locks are in use")
        );
        let e = Error::IdOutOfRange {
            id: 40,
            capacity: 32,
        };
        assert!(e.to_string().contains("0 to 31"), "{e}");
    }
}
