//! The one error type of the state crate.

use std::fmt;
use std::path::PathBuf;

/// Whether an object is a container or a pod (used in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A container.
    Container,
    /// A pod.
    Pod,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Container => "container",
            ObjectKind::Pod => "pod",
        })
    }
}

/// Everything that can go wrong in the state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The state was closed.
    #[error("database connection already closed")]
    Closed,
    /// An empty id or name was given.
    #[error("name or ID cannot be empty")]
    EmptyId,
    /// An item's kind, id, index or target that cannot be a key part.
    #[error("invalid item {what} {value:?}: it must be non-empty and without '/'")]
    InvalidItemKey {
        /// Which part (`kind`, `id`, `index`, `target`).
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// Removing an item that is not there.
    #[error("no {kind} with id {id}")]
    ItemNotFound {
        /// The kind.
        kind: String,
        /// The id.
        id: String,
    },
    /// An id that cannot be stored (it contains `/` or NUL, or is too long).
    #[error("invalid {kind} id {id:?}: ids are at most 200 characters without '/' or NUL")]
    InvalidId {
        /// Container or pod.
        kind: ObjectKind,
        /// The id.
        id: String,
    },
    /// A name that does not match `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    #[error("invalid name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// No such object (or it is in another namespace).
    #[error("no {kind} with name or ID {name_or_id} found")]
    NotFound {
        /// Container or pod.
        kind: ObjectKind,
        /// What was looked up.
        name_or_id: String,
    },
    /// An id prefix that matches more than one object.
    #[error(
        "more than one {kind} matches ID prefix {prefix} ({count} matches): give more characters"
    )]
    Ambiguous {
        /// Container or pod.
        kind: ObjectKind,
        /// The prefix.
        prefix: String,
        /// How many objects matched.
        count: usize,
    },
    /// A container lookup found a pod.
    #[error("{name_or_id} is a pod, not a container")]
    IsPod {
        /// What was looked up.
        name_or_id: String,
    },
    /// A pod lookup found a container.
    #[error("{name_or_id} is a container, not a pod")]
    IsContainer {
        /// What was looked up.
        name_or_id: String,
    },
    /// The name is taken by a container or a pod.
    #[error("name {name} is in use")]
    NameInUse {
        /// The name.
        name: String,
    },
    /// The id is taken by a container or a pod.
    #[error("ID {id} is in use")]
    IdInUse {
        /// The id.
        id: String,
    },
    /// Other containers depend on it.
    #[error(
        "container {id} is a dependency of the following containers: {}; remove them first",
        dependents.join(", ")
    )]
    HasDependents {
        /// The container.
        id: String,
        /// Ids of the containers that depend on it.
        dependents: Vec<String>,
    },
    /// A dependency that is not a container in the state.
    #[error("container {id} depends on container {dependency}, but it does not exist")]
    DependencyNotFound {
        /// The container being added.
        id: String,
        /// The missing dependency.
        dependency: String,
    },
    /// A container outside pods that depends on a container in a pod.
    #[error(
        "container {id} depends on container {dependency} which is in pod {pod}: containers outside pods cannot depend on containers in pods"
    )]
    DependencyInPod {
        /// The container being added.
        id: String,
        /// The dependency.
        dependency: String,
        /// The dependency's pod.
        pod: String,
    },
    /// A container in a pod that depends on a container outside that pod.
    #[error("container {id} depends on container {dependency} which is not in pod {pod}")]
    DependencyNotInPod {
        /// The container being added.
        id: String,
        /// The dependency.
        dependency: String,
        /// The pod of the container being added.
        pod: String,
    },
    /// Namespaces that must agree do not.
    #[error("{what}: namespace {found:?} does not match namespace {expected:?}")]
    NamespaceMismatch {
        /// What was checked (e.g. "container X").
        what: String,
        /// The namespace required.
        expected: String,
        /// The namespace found.
        found: String,
    },
    /// A container in a pod given to an operation for containers outside pods.
    #[error(
        "container {id} is part of pod {pod}: use the pod variant of this operation (add_container_to_pod / remove_container_from_pod)"
    )]
    InPod {
        /// The container.
        id: String,
        /// Its pod.
        pod: String,
    },
    /// A container that is not in the pod it was given with.
    #[error("container {id} is not part of pod {pod}")]
    NotInPod {
        /// The container.
        id: String,
        /// The pod given.
        pod: String,
    },
    /// The pod still has containers.
    #[error("pod {pod} is not empty: it has containers {}; remove them first", containers.join(", "))]
    PodHasContainers {
        /// The pod.
        pod: String,
        /// Ids of its containers.
        containers: Vec<String>,
    },
    /// Removing a pod's containers would orphan a container outside it.
    #[error("container {dependent} outside pod {pod} depends on container {id} in it")]
    DependentOutsidePod {
        /// The pod.
        pod: String,
        /// The container in the pod.
        id: String,
        /// The container outside the pod that depends on it.
        dependent: String,
    },
    /// A config rewrite tried to change a field that is fixed.
    #[error("cannot rewrite {kind} {id}: field {field} may not change")]
    ImmutableField {
        /// Container or pod.
        kind: ObjectKind,
        /// The object.
        id: String,
        /// The field.
        field: &'static str,
    },
    /// The stored database configuration differs from ours.
    #[error(
        "database {key} {stored:?} does not match our {key} {ours:?}: database configuration mismatch; use the stored value (drop the setting) or run `oxpod system reset`"
    )]
    DbConfigMismatch {
        /// The setting (`static_dir`, ...).
        key: &'static str,
        /// The stored value.
        stored: String,
        /// Our value.
        ours: String,
    },
    /// The database was written by a newer oxpod.
    #[error(
        "database {path} has schema version {found}, newer than the {supported} this oxpod supports: upgrade oxpod"
    )]
    SchemaTooNew {
        /// The database directory.
        path: PathBuf,
        /// The stored version.
        found: u32,
        /// The newest version we know.
        supported: u32,
    },
    /// A record that does not decode.
    #[error("corrupt record {key}: {reason}")]
    Corrupt {
        /// Where it is stored, e.g. `containers/<id>`.
        key: String,
        /// Why it does not decode.
        reason: String,
    },
    /// The database file is damaged or is not an LMDB file.
    #[error(
        "database {path} is damaged or not an oxpod database ({reason}): restore it from a backup or run `oxpod system reset --force` to start over"
    )]
    Damaged {
        /// The database directory.
        path: PathBuf,
        /// What LMDB reported.
        reason: String,
    },
    /// The data file is shorter than its meta pages say (truncated):
    /// mapping it would crash on the first read past its end.
    #[error(
        "database {path} is truncated: data.mdb has {size} bytes but its last committed page ends at byte {needed}; restore it from a backup, or run `oxpod system reset --force` to start over"
    )]
    Truncated {
        /// The database directory.
        path: PathBuf,
        /// The file's size.
        size: u64,
        /// The size its meta page needs.
        needed: u64,
    },
    /// The database held records (its marker says so) but the data file is
    /// gone or empty.
    #[error(
        "database {path} was emptied or removed: it was initialised (marker oxpod.id) but data.mdb is missing or empty; restore it from a backup, or run `oxpod system reset --force` to start over"
    )]
    Emptied {
        /// The database directory.
        path: PathBuf,
    },
    /// The data file is another database than the one this directory held.
    #[error(
        "database {path} was replaced: its marker names database {marker} but data.mdb is {found}; put the right file back, or run `oxpod system reset --force` to start over"
    )]
    Replaced {
        /// The database directory.
        path: PathBuf,
        /// The id in the marker.
        marker: String,
        /// The data file's id (`a database without an id` when none).
        found: String,
    },
    /// The database reached its map size.
    #[error("database {path} is full (map size {map_size} bytes): open it with a larger map size")]
    MapFull {
        /// The database directory.
        path: PathBuf,
        /// The map size in use.
        map_size: usize,
    },
    /// The database directory or files may not be written.
    #[error("database {path} is read-only ({reason}): run as its owner or make it writable")]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
        /// What the system reported.
        reason: String,
    },
    /// An I/O error on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another LMDB error.
    #[error("database {path}: {source}")]
    Lmdb {
        /// The database directory.
        path: PathBuf,
        /// The error.
        source: heed::Error,
    },
}

/// The state crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this says the object does not exist (or is not visible).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}
