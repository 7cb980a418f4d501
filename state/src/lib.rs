//! oxpod-state: the records of containers and pods and the `State` trait
//! over them, with an LMDB backend (crash-safe, shared by processes) and an
//! in-memory twin.
//!
//! It stores and finds records; it never runs a container or takes a
//! container lock. Every [`State`] call is one transaction, so a check and
//! the write it guards are atomic across processes.
//!
//! Both backends run the same rules (in `store.rs`) over a small key-value
//! transaction interface, so they give the same results and the same errors.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod items;
mod lmdb;
mod lmdb_check;
mod memory;
mod model;
mod store;

#[cfg(test)]
mod tests;

pub use error::{Error, ObjectKind, Result};
pub use items::{Item, ItemOp, Items, ItemsExt};
pub use lmdb::{DEFAULT_MAP_SIZE, LmdbOptions, LmdbState};
pub use memory::InMemoryState;
pub use model::{
    Container, ContainerConfig, ContainerMount, ContainerState, ContainerStatus, DbConfig,
    HealthConfig, HealthLog, HealthState, Listing, NetworkAttachment, NetworkStatus, Pod,
    PodConfig, PodState, PublishedPort, Resources, Skipped, UnknownStatus,
};
pub use store::{SCHEMA_VERSION, is_valid_name};

/// The store of containers and pods.
///
/// Object-safe and `Send`: the runtime holds a `Box<dyn State>`. Every
/// method is one transaction. Reads see only objects in the current
/// namespace (all objects when the namespace is ""); an object outside it
/// is reported as not found.
pub trait State: Items + Send + std::fmt::Debug {
    /// The backend's name, as `info` reports it (`lmdb`, `memory`).
    fn backend_name(&self) -> &'static str;

    /// Reads every entry by scan and by key; returns what does not read,
    /// one line each (damage a listing may miss).
    fn verify(&self) -> Result<Vec<String>>;

    /// Marks the state unusable: every later call fails with [`Error::Closed`].
    fn close(&mut self) -> Result<()>;

    /// The stored database configuration (empty fields where none is stored).
    fn db_config(&self) -> Result<DbConfig>;

    /// Compares `ours` with the stored configuration: an empty field on
    /// either side is fine, paths are compared after canonicalising, and a
    /// difference is [`Error::DbConfigMismatch`]. Fields not stored yet are
    /// stored from `ours`. Returns the stored values merged with ours.
    fn validate_db_config(&mut self, ours: &DbConfig) -> Result<DbConfig>;

    /// The namespace filter ("" for none).
    fn namespace(&self) -> &str;

    /// Sets the namespace filter for every later call ("" for none).
    fn set_namespace(&mut self, namespace: &str);

    /// After a reboot: resets the per-boot fields of every container
    /// ([`ContainerState::reset_for_reboot`]) and pod (cgroup path), in all
    /// namespaces. A record that does not decode is logged and left alone.
    fn refresh(&mut self) -> Result<()>;

    /// Settles a writer that was killed mid-commit: LMDB's readers keep
    /// seeing the state before its commit until the next writer takes the
    /// writer lock, finds its owner dead and publishes the commit. Call
    /// before deciding from a read that a commit did not happen (a repair
    /// releasing what no record claims), so the commit cannot surface
    /// afterwards. An empty write transaction; cheap.
    fn settle(&mut self) -> Result<()>;

    /// The container with exactly this id.
    fn container(&self, id: &str) -> Result<Container>;

    /// The container with this full id, else this name, else the one whose
    /// id starts with this prefix. Errors: [`Error::NotFound`],
    /// [`Error::Ambiguous`], [`Error::IsPod`].
    fn lookup_container(&self, name_or_id: &str) -> Result<Container>;

    /// Whether a container with exactly this id is visible.
    fn has_container(&self, id: &str) -> Result<bool>;

    /// Whether any container or pod (in any namespace) has this name.
    fn name_exists(&self, name: &str) -> Result<bool>;

    /// Adds a container that is not in a pod. Its id and name must be unused
    /// by containers and pods; its dependencies must exist, be outside pods
    /// and share its namespace.
    fn add_container(&mut self, ctr: &Container) -> Result<()>;

    /// Removes a container that is not in a pod; refused with
    /// [`Error::HasDependents`] while another container depends on it.
    fn remove_container(&mut self, id: &str) -> Result<()>;

    /// Replaces a container's state.
    fn update_container_state(&mut self, id: &str, state: &ContainerState) -> Result<()>;

    /// Replaces a container's config (renumber, migrate). Its name,
    /// namespace, pod and dependencies may not change.
    fn rewrite_container_config(&mut self, config: &ContainerConfig) -> Result<()>;

    /// Renames a container: the new name must be valid and unused by any
    /// container or pod ([`Error::NameInUse`]); the old name is free after.
    /// Returns the renamed container.
    fn rename_container(&mut self, id: &str, new_name: &str) -> Result<Container>;

    /// Replaces many container and pod configs in one transaction, all or
    /// none (renumber), with the same rules as the single rewrites.
    fn rewrite_configs(
        &mut self,
        containers: &[ContainerConfig],
        pods: &[PodConfig],
        items: &[ItemOp],
    ) -> Result<()>;

    /// Removes several containers, standalone or in pods, in one
    /// transaction, all or none (`rm -a`). A dependent inside the set does
    /// not block its dependency; one outside does ([`Error::HasDependents`]).
    fn remove_containers(&mut self, ids: &[String]) -> Result<()>;

    /// Ids of the containers that depend on this one.
    fn container_dependents(&self, id: &str) -> Result<Vec<String>>;

    /// Every visible container, sorted by id; records that do not decode
    /// are skipped and reported in [`Listing::skipped`].
    fn all_containers(&self) -> Result<Listing<Container>>;

    /// The pod with exactly this id.
    fn pod(&self, id: &str) -> Result<Pod>;

    /// The pod with this full id, else this name, else unique id prefix.
    /// Errors: [`Error::NotFound`], [`Error::Ambiguous`], [`Error::IsContainer`].
    fn lookup_pod(&self, name_or_id: &str) -> Result<Pod>;

    /// Whether a pod with exactly this id is visible.
    fn has_pod(&self, id: &str) -> Result<bool>;

    /// Adds an empty pod. Its id and name must be unused by containers and pods.
    fn add_pod(&mut self, pod: &Pod) -> Result<()>;

    /// Removes a pod; refused with [`Error::PodHasContainers`] unless empty.
    fn remove_pod(&mut self, id: &str) -> Result<()>;

    /// Replaces a pod's state.
    fn update_pod_state(&mut self, id: &str, state: &PodState) -> Result<()>;

    /// Replaces a pod's config. Its name and namespace may not change.
    fn rewrite_pod_config(&mut self, config: &PodConfig) -> Result<()>;

    /// Every visible pod, sorted by id; bad records are skipped and reported.
    fn all_pods(&self) -> Result<Listing<Pod>>;

    /// Adds a container to pod `pod` (`ctr.config.pod` must name it). Its
    /// dependencies must be in the same pod; namespaces must agree.
    fn add_container_to_pod(&mut self, pod: &str, ctr: &Container) -> Result<()>;

    /// Removes a container of pod `pod`; refused while others depend on it.
    fn remove_container_from_pod(&mut self, pod: &str, id: &str) -> Result<()>;

    /// Whether the pod has this container.
    fn pod_has_container(&self, pod: &str, id: &str) -> Result<bool>;

    /// Ids of the pod's containers, sorted.
    fn pod_container_ids(&self, pod: &str) -> Result<Vec<String>>;

    /// The pod's containers, sorted by id.
    fn pod_containers(&self, pod: &str) -> Result<Vec<Container>>;

    /// Removes every container of the pod at once (the pod stays); refused
    /// with [`Error::DependentOutsidePod`] if a container outside depends on
    /// one inside. Returns the removed ids.
    fn remove_pod_containers(&mut self, pod: &str) -> Result<Vec<String>>;
}

/// Implements [`State`] for a type with a `store: Store<_>` field.
macro_rules! impl_state {
    ($ty:ty, $name:literal) => {
        impl $crate::Items for $ty {
            fn item_bytes(&self, kind: &str, id: &str) -> $crate::Result<Option<Vec<u8>>> {
                self.store.item_bytes(kind, id)
            }
            fn items_bytes(&self, kind: &str) -> $crate::Result<Vec<(String, Vec<u8>)>> {
                self.store.items_bytes(kind)
            }
            fn referrers(
                &self,
                index: &str,
                target: &str,
            ) -> $crate::Result<Vec<(String, String)>> {
                self.store.referrers(index, target)
            }
            fn write_items(&mut self, ops: &[$crate::ItemOp]) -> $crate::Result<()> {
                self.store.write_items(ops)
            }
        }

        impl $crate::State for $ty {
            fn backend_name(&self) -> &'static str {
                $name
            }
            fn verify(&self) -> $crate::Result<Vec<String>> {
                self.store.verify()
            }
            fn close(&mut self) -> $crate::Result<()> {
                self.store.close()
            }
            fn db_config(&self) -> $crate::Result<$crate::DbConfig> {
                self.store.db_config()
            }
            fn validate_db_config(
                &mut self,
                ours: &$crate::DbConfig,
            ) -> $crate::Result<$crate::DbConfig> {
                self.store.validate_db_config(ours)
            }
            fn namespace(&self) -> &str {
                self.store.namespace()
            }
            fn set_namespace(&mut self, namespace: &str) {
                self.store.set_namespace(namespace)
            }
            fn refresh(&mut self) -> $crate::Result<()> {
                self.store.refresh()
            }
            fn settle(&mut self) -> $crate::Result<()> {
                self.store.write(|_, _| Ok(()))
            }
            fn container(&self, id: &str) -> $crate::Result<$crate::Container> {
                self.store.container(id)
            }
            fn lookup_container(&self, name_or_id: &str) -> $crate::Result<$crate::Container> {
                self.store.lookup_container(name_or_id)
            }
            fn has_container(&self, id: &str) -> $crate::Result<bool> {
                self.store.has_container(id)
            }
            fn name_exists(&self, name: &str) -> $crate::Result<bool> {
                self.store.name_exists(name)
            }
            fn add_container(&mut self, ctr: &$crate::Container) -> $crate::Result<()> {
                self.store.add_container(ctr, None)
            }
            fn remove_container(&mut self, id: &str) -> $crate::Result<()> {
                self.store.remove_container(id, None)
            }
            fn update_container_state(
                &mut self,
                id: &str,
                state: &$crate::ContainerState,
            ) -> $crate::Result<()> {
                self.store.update_container_state(id, state)
            }
            fn rewrite_container_config(
                &mut self,
                config: &$crate::ContainerConfig,
            ) -> $crate::Result<()> {
                self.store.rewrite_container_config(config)
            }
            fn rename_container(
                &mut self,
                id: &str,
                new_name: &str,
            ) -> $crate::Result<$crate::Container> {
                self.store.rename_container(id, new_name)
            }
            fn rewrite_configs(
                &mut self,
                containers: &[$crate::ContainerConfig],
                pods: &[$crate::PodConfig],
                items: &[$crate::ItemOp],
            ) -> $crate::Result<()> {
                self.store.rewrite_configs(containers, pods, items)
            }
            fn remove_containers(&mut self, ids: &[String]) -> $crate::Result<()> {
                self.store.remove_containers(ids)
            }
            fn container_dependents(&self, id: &str) -> $crate::Result<Vec<String>> {
                self.store.container_dependents(id)
            }
            fn all_containers(&self) -> $crate::Result<$crate::Listing<$crate::Container>> {
                self.store.all_containers()
            }
            fn pod(&self, id: &str) -> $crate::Result<$crate::Pod> {
                self.store.pod(id)
            }
            fn lookup_pod(&self, name_or_id: &str) -> $crate::Result<$crate::Pod> {
                self.store.lookup_pod(name_or_id)
            }
            fn has_pod(&self, id: &str) -> $crate::Result<bool> {
                self.store.has_pod(id)
            }
            fn add_pod(&mut self, pod: &$crate::Pod) -> $crate::Result<()> {
                self.store.add_pod(pod)
            }
            fn remove_pod(&mut self, id: &str) -> $crate::Result<()> {
                self.store.remove_pod(id)
            }
            fn update_pod_state(
                &mut self,
                id: &str,
                state: &$crate::PodState,
            ) -> $crate::Result<()> {
                self.store.update_pod_state(id, state)
            }
            fn rewrite_pod_config(&mut self, config: &$crate::PodConfig) -> $crate::Result<()> {
                self.store.rewrite_pod_config(config)
            }
            fn all_pods(&self) -> $crate::Result<$crate::Listing<$crate::Pod>> {
                self.store.all_pods()
            }
            fn add_container_to_pod(
                &mut self,
                pod: &str,
                ctr: &$crate::Container,
            ) -> $crate::Result<()> {
                self.store.add_container(ctr, Some(pod))
            }
            fn remove_container_from_pod(&mut self, pod: &str, id: &str) -> $crate::Result<()> {
                self.store.remove_container(id, Some(pod))
            }
            fn pod_has_container(&self, pod: &str, id: &str) -> $crate::Result<bool> {
                self.store.pod_has_container(pod, id)
            }
            fn pod_container_ids(&self, pod: &str) -> $crate::Result<Vec<String>> {
                self.store.pod_container_ids(pod)
            }
            fn pod_containers(&self, pod: &str) -> $crate::Result<Vec<$crate::Container>> {
                self.store.pod_containers(pod)
            }
            fn remove_pod_containers(&mut self, pod: &str) -> $crate::Result<Vec<String>> {
                self.store.remove_pod_containers(pod)
            }
        }
    };
}
pub(crate) use impl_state;
