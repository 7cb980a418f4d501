//! Typed references: what one lookup of a name, id or id prefix yields, so
//! a command resolves once and every call below works from the id and the
//! lock number without reading the record again to find them.

use oxpod_state::{Container, Pod};

/// A container, resolved: its full id, name, lock number and pod.
///
/// It stays valid while the container exists. A renumber may change the
/// lock number meanwhile; the lock is re-checked under the lock (see
/// `Containers::lock`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) lock_id: u32,
    pub(crate) pod: Option<String>,
}

impl ContainerRef {
    /// The full 64-character id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock number at the time of the lookup.
    pub fn lock_id(&self) -> u32 {
        self.lock_id
    }

    /// The id of the pod it belongs to.
    pub fn pod(&self) -> Option<&str> {
        self.pod.as_deref()
    }
}

impl From<&Container> for ContainerRef {
    fn from(c: &Container) -> Self {
        ContainerRef {
            id: c.config.id.clone(),
            name: c.config.name.clone(),
            lock_id: c.config.lock_id,
            pod: c.config.pod.clone(),
        }
    }
}

/// A pod, resolved: its full id, name and lock number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodRef {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) lock_id: u32,
}

impl PodRef {
    /// The full 64-character id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock number at the time of the lookup.
    pub fn lock_id(&self) -> u32 {
        self.lock_id
    }
}

impl From<&Pod> for PodRef {
    fn from(p: &Pod) -> Self {
        PodRef {
            id: p.config.id.clone(),
            name: p.config.name.clone(),
            lock_id: p.config.lock_id,
        }
    }
}
