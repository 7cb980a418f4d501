//! The state's rules, written once over a small key-value transaction
//! interface that both backends (LMDB and in-memory) provide.
//!
//! Tables (one LMDB named database each; keys sorted bytewise):
//! - `containers`: id → JSON [`Container`]
//! - `pods`: id → JSON [`Pod`]
//! - `names`: name → `container/<id>` or `pod/<id>` (one registry for both)
//! - `pod-members`: `<pod id>/<container id>` → empty
//! - `dependencies`: `<dependency id>/<dependent id>` → empty
//! - `meta`: `schema-version` → decimal, `db-config` → JSON [`DbConfig`]
//! - `items`: `<kind>/<id>` → JSON, records of the kinds other crates add
//!   (images, layers, volumes, exec sessions, IP leases), see `items.rs`
//! - `item-refs`: `<kind>/<id>` → JSON list of the item's `(index, target)`
//! - `index`: `<index>/<target>/<kind>/<id>` → empty: who refers to what
//!
//! Ids never contain `/`, so `<id>/` is a safe prefix for range scans.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ObjectKind, Result};
use crate::model::{
    Container, ContainerConfig, ContainerState, DbConfig, Listing, Pod, PodConfig, PodState,
    Skipped,
};

/// The newest schema version this crate writes and understands.
pub const SCHEMA_VERSION: u32 = 1;

pub(crate) const SCHEMA_KEY: &[u8] = b"schema-version";
pub(crate) const DB_CONFIG_KEY: &[u8] = b"db-config";
pub(crate) const DB_ID_KEY: &[u8] = b"db-id";

/// One table of the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Containers,
    Pods,
    Names,
    PodMembers,
    Dependents,
    Meta,
    Items,
    ItemRefs,
    Index,
}

/// How many tables there are.
pub(crate) const TABLES: usize = 9;

impl Table {
    pub(crate) const ALL: [Table; TABLES] = [
        Table::Containers,
        Table::Pods,
        Table::Names,
        Table::PodMembers,
        Table::Dependents,
        Table::Meta,
        Table::Items,
        Table::ItemRefs,
        Table::Index,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Containers => "containers",
            Table::Pods => "pods",
            Table::Names => "names",
            Table::PodMembers => "pod-members",
            Table::Dependents => "dependencies",
            Table::Meta => "meta",
            Table::Items => "items",
            Table::ItemRefs => "item-refs",
            Table::Index => "index",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Called for each entry of a scan with its key and value; `false` stops.
pub(crate) type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// Reads inside one transaction.
pub(crate) trait ReadTx {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Visits the entries whose key starts with `prefix`, in key order,
    /// until `f` returns `false`.
    fn scan(&self, table: Table, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()>;
}

/// Reads and writes inside one transaction.
pub(crate) trait WriteTx: ReadTx {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()>;
}

/// A storage engine: runs a closure in one read or one write transaction.
/// A write closure that fails leaves nothing behind.
pub(crate) trait Backend: Send + std::fmt::Debug {
    fn read<R>(&self, f: impl FnOnce(&dyn ReadTx) -> Result<R>) -> Result<R>;
    fn write<R>(&mut self, f: impl FnOnce(&mut dyn WriteTx) -> Result<R>) -> Result<R>;
    /// Where the data lives (for messages).
    fn path(&self) -> &Path;
}

/// One stored entry: table, key, value (tests).
#[cfg(test)]
pub(crate) type Entry = (Table, Vec<u8>, Vec<u8>);

/// The rules of the state over a backend.
#[derive(Debug)]
pub(crate) struct Store<B> {
    pub(crate) backend: B,
    namespace: String,
    closed: bool,
}

fn key_of(table: Table, key: &[u8]) -> String {
    format!("{}/{}", table.name(), String::from_utf8_lossy(key))
}

pub(crate) fn decode<T: DeserializeOwned>(table: Table, key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        key: key_of(table, key),
        reason: e.to_string(),
    })
}

pub(crate) fn encode<T: Serialize>(table: Table, key: &[u8], value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Corrupt {
        key: key_of(table, key),
        reason: format!("cannot encode: {e}"),
    })
}

fn visible(ours: &str, theirs: &str) -> bool {
    ours.is_empty() || ours == theirs
}

fn pair_key(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(b'/');
    k.extend_from_slice(b.as_bytes());
    k
}

fn prefix_of(a: &str) -> Vec<u8> {
    let mut k = a.as_bytes().to_vec();
    k.push(b'/');
    k
}

fn check_id(kind: ObjectKind, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::EmptyId);
    }
    if id.len() > 200 || id.contains(['/', '\0']) {
        return Err(Error::InvalidId {
            kind,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Checks `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (at most 200 characters).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() <= 200 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::EmptyId);
    }
    if !is_valid_name(name) {
        return Err(Error::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Who owns a name.
enum NameOwner {
    Container(String),
    Pod(String),
}

impl NameOwner {
    fn into_parts(self) -> (ObjectKind, String) {
        match self {
            NameOwner::Container(id) => (ObjectKind::Container, id),
            NameOwner::Pod(id) => (ObjectKind::Pod, id),
        }
    }
}

fn name_value(kind: ObjectKind, id: &str) -> Vec<u8> {
    format!("{kind}/{id}").into_bytes()
}

fn name_owner(tx: &dyn ReadTx, name: &str) -> Result<Option<NameOwner>> {
    let Some(v) = tx.get(Table::Names, name.as_bytes())? else {
        return Ok(None);
    };
    let corrupt = || Error::Corrupt {
        key: key_of(Table::Names, name.as_bytes()),
        reason: "expected container/<id> or pod/<id>".to_string(),
    };
    let s = std::str::from_utf8(&v).map_err(|_| corrupt())?;
    match s.split_once('/') {
        Some(("container", id)) => Ok(Some(NameOwner::Container(id.to_string()))),
        Some(("pod", id)) => Ok(Some(NameOwner::Pod(id.to_string()))),
        _ => Err(corrupt()),
    }
}

fn get_ctr(tx: &dyn ReadTx, id: &str) -> Result<Option<Container>> {
    get_record(tx, id)
}

fn get_pod(tx: &dyn ReadTx, id: &str) -> Result<Option<Pod>> {
    get_record(tx, id)
}

/// What lookups need of a container or pod record.
trait Record: DeserializeOwned {
    const KIND: ObjectKind;
    const TABLE: Table;
    fn namespace(&self) -> &str;
    /// The error for looking up this kind's name or id as the other kind.
    fn is_other_error(name_or_id: &str) -> Error;
}

impl Record for Container {
    const KIND: ObjectKind = ObjectKind::Container;
    const TABLE: Table = Table::Containers;
    fn namespace(&self) -> &str {
        &self.config.namespace
    }
    fn is_other_error(name_or_id: &str) -> Error {
        Error::IsContainer {
            name_or_id: name_or_id.to_owned(),
        }
    }
}

impl Record for Pod {
    const KIND: ObjectKind = ObjectKind::Pod;
    const TABLE: Table = Table::Pods;
    fn namespace(&self) -> &str {
        &self.config.namespace
    }
    fn is_other_error(name_or_id: &str) -> Error {
        Error::IsPod {
            name_or_id: name_or_id.to_owned(),
        }
    }
}

fn get_record<T: Record>(tx: &dyn ReadTx, id: &str) -> Result<Option<T>> {
    match tx.get(T::TABLE, id.as_bytes())? {
        Some(b) => decode(T::TABLE, id.as_bytes(), &b).map(Some),
        None => Ok(None),
    }
}

fn not_found(kind: ObjectKind, s: &str) -> Error {
    Error::NotFound {
        kind,
        name_or_id: s.to_string(),
    }
}

/// Keys after `prefix` in `table` (the part after the prefix, as strings).
fn suffixes(tx: &dyn ReadTx, table: Table, prefix: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    tx.scan(table, prefix, &mut |k, _| {
        out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        Ok(true)
    })?;
    Ok(out)
}

fn put_json<T: Serialize>(tx: &mut dyn WriteTx, table: Table, key: &str, v: &T) -> Result<()> {
    let bytes = encode(table, key.as_bytes(), v)?;
    tx.put(table, key.as_bytes(), &bytes)
}

/// Reads the stored schema version (`None` for a fresh database).
pub(crate) fn read_schema(tx: &dyn ReadTx) -> Result<Option<u32>> {
    let Some(v) = tx.get(Table::Meta, SCHEMA_KEY)? else {
        return Ok(None);
    };
    std::str::from_utf8(&v)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|v| *v >= 1)
        .map(Some)
        .ok_or_else(|| Error::Corrupt {
            key: key_of(Table::Meta, SCHEMA_KEY),
            reason: format!("not a schema version: {:?}", String::from_utf8_lossy(&v)),
        })
}

/// Migrations: entry `i` turns schema `i + 1` into `i + 2`. Empty while
/// schema 1 is the only one; each later schema adds one function here.
type Migration = fn(&mut dyn WriteTx) -> Result<()>;
const MIGRATIONS: &[Migration] = &[];

/// Brings the schema to [`SCHEMA_VERSION`] in one write transaction: a fresh
/// database gets the current version, an older one is migrated step by step,
/// a newer one is refused.
pub(crate) fn ensure_schema<B: Backend>(backend: &mut B) -> Result<()> {
    let path = backend.path().to_path_buf();
    let too_new = |found| Error::SchemaTooNew {
        path: path.clone(),
        found,
        supported: SCHEMA_VERSION,
    };
    match backend.read(read_schema)? {
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) if v > SCHEMA_VERSION => return Err(too_new(v)),
        _ => {}
    }
    backend.write(|tx| {
        let start = match read_schema(tx)? {
            None => SCHEMA_VERSION,
            Some(v) if v > SCHEMA_VERSION => return Err(too_new(v)),
            Some(v) => v,
        };
        for v in start..SCHEMA_VERSION {
            tracing::debug!(from = v, to = v + 1, "migrating state schema");
            let idx = (v - 1) as usize;
            if let Some(m) = MIGRATIONS.get(idx) {
                m(tx)?;
            }
        }
        tx.put(
            Table::Meta,
            SCHEMA_KEY,
            SCHEMA_VERSION.to_string().as_bytes(),
        )
    })
}

/// Cleans a path lexically and resolves symlinks of its longest existing
/// ancestor, so `/home/x` and `/var/home/x` compare equal when `/home` is a
/// link, even before `x` exists.
pub(crate) fn canonical(p: &Path) -> PathBuf {
    let mut clean = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (
            existing.file_name().map(|f| f.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return clean,
        }
    }
}

/// Merges our config into the stored one. Returns the merged config and
/// whether a stored key was missing, or the first mismatch.
fn merge_db_config(stored: &DbConfig, ours: &DbConfig) -> Result<(DbConfig, bool)> {
    let mut merged = stored.clone();
    let mut missing = false;
    fn string(
        key: &'static str,
        stored: &mut String,
        ours: &str,
        missing: &mut bool,
    ) -> Result<()> {
        if stored.is_empty() {
            *missing |= !ours.is_empty();
            *stored = ours.to_string();
        } else if !ours.is_empty() && ours != stored {
            return Err(Error::DbConfigMismatch {
                key,
                stored: stored.clone(),
                ours: ours.to_string(),
            });
        }
        Ok(())
    }
    fn path(
        key: &'static str,
        stored: &mut PathBuf,
        ours: &Path,
        missing: &mut bool,
    ) -> Result<()> {
        if stored.as_os_str().is_empty() {
            *missing |= !ours.as_os_str().is_empty();
            *stored = ours.to_path_buf();
        } else if !ours.as_os_str().is_empty() && canonical(ours) != canonical(stored) {
            return Err(Error::DbConfigMismatch {
                key,
                stored: stored.display().to_string(),
                ours: ours.display().to_string(),
            });
        }
        Ok(())
    }
    string("os", &mut merged.os, &ours.os, &mut missing)?;
    path(
        "static_dir",
        &mut merged.static_dir,
        &ours.static_dir,
        &mut missing,
    )?;
    path("tmp_dir", &mut merged.tmp_dir, &ours.tmp_dir, &mut missing)?;
    path(
        "volume_path",
        &mut merged.volume_path,
        &ours.volume_path,
        &mut missing,
    )?;
    path(
        "graph_root",
        &mut merged.graph_root,
        &ours.graph_root,
        &mut missing,
    )?;
    path(
        "run_root",
        &mut merged.run_root,
        &ours.run_root,
        &mut missing,
    )?;
    string(
        "graph_driver",
        &mut merged.graph_driver,
        &ours.graph_driver,
        &mut missing,
    )?;
    Ok((merged, missing))
}

fn read_db_config(tx: &dyn ReadTx) -> Result<DbConfig> {
    match tx.get(Table::Meta, DB_CONFIG_KEY)? {
        Some(b) => decode(Table::Meta, DB_CONFIG_KEY, &b),
        None => Ok(DbConfig::default()),
    }
}

impl<B: Backend> Store<B> {
    pub(crate) fn new(backend: B) -> Self {
        Store {
            backend,
            namespace: String::new(),
            closed: false,
        }
    }

    pub(crate) fn read<R>(&self, f: impl FnOnce(&dyn ReadTx, &str) -> Result<R>) -> Result<R> {
        if self.closed {
            return Err(Error::Closed);
        }
        let ns = self.namespace.as_str();
        self.backend.read(|tx| f(tx, ns))
    }

    pub(crate) fn write<R>(
        &mut self,
        f: impl FnOnce(&mut dyn WriteTx, &str) -> Result<R>,
    ) -> Result<R> {
        if self.closed {
            return Err(Error::Closed);
        }
        let ns = self.namespace.as_str();
        self.backend.write(|tx| f(tx, ns))
    }

    pub(crate) fn close(&mut self) -> Result<()> {
        self.closed = true;
        Ok(())
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(crate) fn set_namespace(&mut self, ns: &str) {
        self.namespace = ns.to_string();
    }

    /// The database's id: the stored one, or `new` stored now if there is
    /// none (in one transaction, so concurrent openers agree).
    pub(crate) fn db_id_or(&mut self, new: &str) -> Result<(String, bool)> {
        self.write(|tx, _| match tx.get(Table::Meta, DB_ID_KEY)? {
            Some(b) => Ok((String::from_utf8_lossy(&b).into_owned(), false)),
            None => {
                tx.put(Table::Meta, DB_ID_KEY, new.as_bytes())?;
                Ok((new.to_owned(), true))
            }
        })
    }

    /// Reads every entry of every table, by scan and again by key (the
    /// two paths through LMDB's tree): what does not read is returned, one
    /// line each. `system check` uses it to see damage a listing alone
    /// misses (records that read but do not decode are the listings' to
    /// report).
    pub(crate) fn verify(&self) -> Result<Vec<String>> {
        self.read(|tx, _| {
            let mut problems = Vec::new();
            for t in Table::ALL {
                let mut keys = Vec::new();
                if let Err(e) = tx.scan(t, b"", &mut |k, _| {
                    keys.push(k.to_vec());
                    Ok(true)
                }) {
                    problems.push(format!("table {}: {e}", t.name()));
                }
                for k in keys {
                    match tx.get(t, &k) {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            problems.push(format!("{}: listed but not found by key", key_of(t, &k)))
                        }
                        Err(e) => problems.push(format!("{}: {e}", key_of(t, &k))),
                    }
                }
            }
            Ok(problems)
        })
    }

    /// The database's id, if it has one.
    pub(crate) fn db_id(&self) -> Result<Option<String>> {
        self.read(|tx, _| {
            Ok(tx
                .get(Table::Meta, DB_ID_KEY)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()))
        })
    }

    pub(crate) fn db_config(&self) -> Result<DbConfig> {
        self.read(|tx, _| read_db_config(tx))
    }

    pub(crate) fn validate_db_config(&mut self, ours: &DbConfig) -> Result<DbConfig> {
        let stored = self.db_config()?;
        let (merged, missing) = merge_db_config(&stored, ours)?;
        if !missing {
            return Ok(merged);
        }
        self.write(|tx, _| {
            // Check again: another process may have stored it meanwhile.
            let stored = read_db_config(tx)?;
            let (merged, missing) = merge_db_config(&stored, ours)?;
            if missing {
                put_json(tx, Table::Meta, "db-config", &merged)?;
            }
            Ok(merged)
        })
    }

    pub(crate) fn refresh(&mut self) -> Result<()> {
        self.write(|tx, _| {
            let mut ctrs = Vec::new();
            tx.scan(Table::Containers, b"", &mut |k, v| {
                ctrs.push((k.to_vec(), v.to_vec()));
                Ok(true)
            })?;
            for (k, v) in ctrs {
                match decode::<Container>(Table::Containers, &k, &v) {
                    Ok(mut c) => {
                        c.state.reset_for_reboot();
                        let bytes = encode(Table::Containers, &k, &c)?;
                        tx.put(Table::Containers, &k, &bytes)?;
                    }
                    Err(e) => tracing::warn!("refresh: skipping container: {e}"),
                }
            }
            let mut pods = Vec::new();
            tx.scan(Table::Pods, b"", &mut |k, v| {
                pods.push((k.to_vec(), v.to_vec()));
                Ok(true)
            })?;
            for (k, v) in pods {
                match decode::<Pod>(Table::Pods, &k, &v) {
                    Ok(mut p) => {
                        p.state.cgroup_path.clear();
                        let bytes = encode(Table::Pods, &k, &p)?;
                        tx.put(Table::Pods, &k, &bytes)?;
                    }
                    Err(e) => tracing::warn!("refresh: skipping pod: {e}"),
                }
            }
            Ok(())
        })
    }

    // ---- containers ----

    pub(crate) fn container(&self, id: &str) -> Result<Container> {
        self.get(id)
    }

    pub(crate) fn has_container(&self, id: &str) -> Result<bool> {
        self.has::<Container>(id)
    }

    /// The visible `T` with exactly this id.
    fn get<T: Record>(&self, id: &str) -> Result<T> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| match get_record::<T>(tx, id)? {
            Some(r) if visible(ns, r.namespace()) => Ok(r),
            _ => Err(not_found(T::KIND, id)),
        })
    }

    /// Whether a visible `T` has exactly this id.
    fn has<T: Record>(&self, id: &str) -> Result<bool> {
        match self.get::<T>(id) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn lookup_container(&self, s: &str) -> Result<Container> {
        self.lookup::<Container, Pod>(s)
    }

    pub(crate) fn name_exists(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, _| Ok(tx.get(Table::Names, name.as_bytes())?.is_some()))
    }

    pub(crate) fn add_container(&mut self, ctr: &Container, pod: Option<&str>) -> Result<()> {
        let cfg = &ctr.config;
        check_id(ObjectKind::Container, &cfg.id)?;
        check_name(&cfg.name)?;
        self.write(|tx, ns| {
            match (pod, &cfg.pod) {
                (None, Some(p)) => {
                    return Err(Error::InPod {
                        id: cfg.id.clone(),
                        pod: p.clone(),
                    });
                }
                (Some(p), other) if other.as_deref() != Some(p) => {
                    return Err(Error::NotInPod {
                        id: cfg.id.clone(),
                        pod: p.to_string(),
                    });
                }
                _ => {}
            }
            if !visible(ns, &cfg.namespace) {
                return Err(Error::NamespaceMismatch {
                    what: format!("container {}", cfg.id),
                    expected: ns.to_string(),
                    found: cfg.namespace.clone(),
                });
            }
            if let Some(p) = pod {
                let pod_rec = match get_pod(tx, p)? {
                    Some(r) if visible(ns, &r.config.namespace) => r,
                    _ => return Err(not_found(ObjectKind::Pod, p)),
                };
                if pod_rec.config.namespace != cfg.namespace {
                    return Err(Error::NamespaceMismatch {
                        what: format!("container {} in pod {p}", cfg.id),
                        expected: pod_rec.config.namespace,
                        found: cfg.namespace.clone(),
                    });
                }
            }
            if tx.get(Table::Containers, cfg.id.as_bytes())?.is_some()
                || tx.get(Table::Pods, cfg.id.as_bytes())?.is_some()
            {
                return Err(Error::IdInUse { id: cfg.id.clone() });
            }
            if tx.get(Table::Names, cfg.name.as_bytes())?.is_some() {
                return Err(Error::NameInUse {
                    name: cfg.name.clone(),
                });
            }
            let deps: BTreeSet<&str> = cfg.dependencies.iter().map(String::as_str).collect();
            for dep in &deps {
                let missing = || Error::DependencyNotFound {
                    id: cfg.id.clone(),
                    dependency: dep.to_string(),
                };
                if dep.is_empty() || dep.contains('/') {
                    return Err(missing());
                }
                let Some(d) = get_ctr(tx, dep)? else {
                    return Err(missing());
                };
                if d.config.namespace != cfg.namespace {
                    return Err(Error::NamespaceMismatch {
                        what: format!("container {} depending on container {dep}", cfg.id),
                        expected: cfg.namespace.clone(),
                        found: d.config.namespace,
                    });
                }
                match (pod, d.config.pod) {
                    (None, Some(dp)) => {
                        return Err(Error::DependencyInPod {
                            id: cfg.id.clone(),
                            dependency: dep.to_string(),
                            pod: dp,
                        });
                    }
                    (Some(p), dp) if dp.as_deref() != Some(p) => {
                        return Err(Error::DependencyNotInPod {
                            id: cfg.id.clone(),
                            dependency: dep.to_string(),
                            pod: p.to_string(),
                        });
                    }
                    _ => {}
                }
            }
            put_json(tx, Table::Containers, &cfg.id, ctr)?;
            tx.put(
                Table::Names,
                cfg.name.as_bytes(),
                &name_value(ObjectKind::Container, &cfg.id),
            )?;
            for dep in &deps {
                tx.put(Table::Dependents, &pair_key(dep, &cfg.id), b"")?;
            }
            if let Some(p) = pod {
                tx.put(Table::PodMembers, &pair_key(p, &cfg.id), b"")?;
            }
            tracing::debug!(id = %cfg.id, name = %cfg.name, "added container to state");
            Ok(())
        })
    }

    pub(crate) fn remove_container(&mut self, id: &str, pod: Option<&str>) -> Result<()> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.write(|tx, ns| {
            if let Some(p) = pod {
                match get_pod(tx, p)? {
                    Some(r) if visible(ns, &r.config.namespace) => {}
                    _ => return Err(not_found(ObjectKind::Pod, p)),
                }
            }
            let ctr = match get_ctr(tx, id)? {
                Some(c) if visible(ns, &c.config.namespace) => c,
                _ => return Err(not_found(ObjectKind::Container, id)),
            };
            match (pod, &ctr.config.pod) {
                (None, Some(p)) => {
                    return Err(Error::InPod {
                        id: id.to_string(),
                        pod: p.clone(),
                    });
                }
                (Some(p), other) if other.as_deref() != Some(p) => {
                    return Err(Error::NotInPod {
                        id: id.to_string(),
                        pod: p.to_string(),
                    });
                }
                _ => {}
            }
            let dependents = suffixes(tx, Table::Dependents, &prefix_of(id))?;
            if !dependents.is_empty() {
                return Err(Error::HasDependents {
                    id: id.to_string(),
                    dependents,
                });
            }
            delete_container(tx, &ctr)
        })
    }

    pub(crate) fn update_container_state(
        &mut self,
        id: &str,
        state: &ContainerState,
    ) -> Result<()> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.write(|tx, ns| {
            let mut ctr = match get_ctr(tx, id)? {
                Some(c) if visible(ns, &c.config.namespace) => c,
                _ => return Err(not_found(ObjectKind::Container, id)),
            };
            ctr.state = state.clone();
            put_json(tx, Table::Containers, id, &ctr)
        })
    }

    pub(crate) fn rewrite_container_config(&mut self, cfg: &ContainerConfig) -> Result<()> {
        self.write(|tx, ns| rewrite_ctr_in(tx, ns, cfg))
    }

    /// Gives a container a new name, in one transaction: the new name must
    /// be valid and free (of containers and pods), the old one is freed.
    pub(crate) fn rename_container(&mut self, id: &str, new_name: &str) -> Result<Container> {
        check_name(new_name)?;
        self.write(|tx, ns| {
            let mut ctr = match get_ctr(tx, id)? {
                Some(c) if visible(ns, &c.config.namespace) => c,
                _ => return Err(not_found(ObjectKind::Container, id)),
            };
            if ctr.config.name == new_name {
                return Ok(ctr);
            }
            if tx.get(Table::Names, new_name.as_bytes())?.is_some() {
                return Err(Error::NameInUse {
                    name: new_name.to_owned(),
                });
            }
            tx.delete(Table::Names, ctr.config.name.as_bytes())?;
            tx.put(
                Table::Names,
                new_name.as_bytes(),
                &name_value(ObjectKind::Container, id),
            )?;
            ctr.config.name = new_name.to_owned();
            put_json(tx, Table::Containers, id, &ctr)?;
            tracing::debug!(id, name = new_name, "renamed container");
            Ok(ctr)
        })
    }

    /// Many configs in one transaction, all or none (renumber).
    pub(crate) fn rewrite_configs(
        &mut self,
        containers: &[ContainerConfig],
        pods: &[PodConfig],
        items: &[crate::ItemOp],
    ) -> Result<()> {
        crate::items::check_ops(items)?;
        self.write(|tx, ns| {
            for cfg in containers {
                rewrite_ctr_in(tx, ns, cfg)?;
            }
            for cfg in pods {
                rewrite_pod_in(tx, ns, cfg)?;
            }
            crate::items::apply_ops(tx, items)
        })
    }

    /// Removes several containers (standalone or pod members) in one
    /// transaction, all or none. A dependent inside the set does not block
    /// its dependency's removal.
    pub(crate) fn remove_containers(&mut self, ids: &[String]) -> Result<()> {
        self.write(|tx, ns| {
            let set: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            for id in ids {
                if id.is_empty() {
                    return Err(Error::EmptyId);
                }
                let ctr = match get_ctr(tx, id)? {
                    Some(c) if visible(ns, &c.config.namespace) => c,
                    _ => return Err(not_found(ObjectKind::Container, id)),
                };
                let dependents: Vec<String> = suffixes(tx, Table::Dependents, &prefix_of(id))?
                    .into_iter()
                    .filter(|d| !set.contains(d.as_str()))
                    .collect();
                if !dependents.is_empty() {
                    return Err(Error::HasDependents {
                        id: id.clone(),
                        dependents,
                    });
                }
                delete_container(tx, &ctr)?;
            }
            Ok(())
        })
    }

    pub(crate) fn container_dependents(&self, id: &str) -> Result<Vec<String>> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| {
            match get_ctr(tx, id)? {
                Some(c) if visible(ns, &c.config.namespace) => {}
                _ => return Err(not_found(ObjectKind::Container, id)),
            }
            suffixes(tx, Table::Dependents, &prefix_of(id))
        })
    }

    pub(crate) fn all_containers(&self) -> Result<Listing<Container>> {
        self.read(|tx, ns| {
            list(tx, Table::Containers, |c: &Container| {
                visible(ns, &c.config.namespace)
            })
        })
    }

    // ---- pods ----

    pub(crate) fn pod(&self, id: &str) -> Result<Pod> {
        self.get(id)
    }

    pub(crate) fn has_pod(&self, id: &str) -> Result<bool> {
        self.has::<Pod>(id)
    }

    pub(crate) fn lookup_pod(&self, s: &str) -> Result<Pod> {
        self.lookup::<Pod, Container>(s)
    }

    /// A `T` by full id, else by name, else by unique id prefix, in one read
    /// transaction. A name or id of an `Other` (a pod when looking for a
    /// container, and back) is its own error, not "not found".
    fn lookup<T: Record, Other: Record>(&self, s: &str) -> Result<T> {
        if s.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| {
            if let Some(r) = get_record::<T>(tx, s)?
                && visible(ns, r.namespace())
            {
                return Ok(r);
            }
            if let Some((kind, id)) = name_owner(tx, s)?.map(NameOwner::into_parts) {
                if kind == T::KIND {
                    match get_record::<T>(tx, &id)? {
                        Some(r) if visible(ns, r.namespace()) => return Ok(r),
                        Some(_) => {}
                        None => {
                            return Err(Error::Corrupt {
                                key: key_of(Table::Names, s.as_bytes()),
                                reason: format!("names {kind} {id}, which does not exist"),
                            });
                        }
                    }
                } else if get_record::<Other>(tx, &id)?.is_some_and(|o| visible(ns, o.namespace()))
                {
                    return Err(Other::is_other_error(s));
                }
            }
            if get_record::<Other>(tx, s)?.is_some_and(|o| visible(ns, o.namespace())) {
                return Err(Other::is_other_error(s));
            }
            find_by_prefix(tx, T::TABLE, T::KIND, s, ns, |r: &T| r.namespace())
        })
    }

    pub(crate) fn add_pod(&mut self, pod: &Pod) -> Result<()> {
        let cfg = &pod.config;
        check_id(ObjectKind::Pod, &cfg.id)?;
        check_name(&cfg.name)?;
        self.write(|tx, ns| {
            if !visible(ns, &cfg.namespace) {
                return Err(Error::NamespaceMismatch {
                    what: format!("pod {}", cfg.id),
                    expected: ns.to_string(),
                    found: cfg.namespace.clone(),
                });
            }
            if tx.get(Table::Containers, cfg.id.as_bytes())?.is_some()
                || tx.get(Table::Pods, cfg.id.as_bytes())?.is_some()
            {
                return Err(Error::IdInUse { id: cfg.id.clone() });
            }
            if tx.get(Table::Names, cfg.name.as_bytes())?.is_some() {
                return Err(Error::NameInUse {
                    name: cfg.name.clone(),
                });
            }
            put_json(tx, Table::Pods, &cfg.id, pod)?;
            tx.put(
                Table::Names,
                cfg.name.as_bytes(),
                &name_value(ObjectKind::Pod, &cfg.id),
            )?;
            tracing::debug!(id = %cfg.id, name = %cfg.name, "added pod to state");
            Ok(())
        })
    }

    pub(crate) fn remove_pod(&mut self, id: &str) -> Result<()> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.write(|tx, ns| {
            let pod = match get_pod(tx, id)? {
                Some(p) if visible(ns, &p.config.namespace) => p,
                _ => return Err(not_found(ObjectKind::Pod, id)),
            };
            let containers = suffixes(tx, Table::PodMembers, &prefix_of(id))?;
            if !containers.is_empty() {
                return Err(Error::PodHasContainers {
                    pod: id.to_string(),
                    containers,
                });
            }
            tx.delete(Table::Pods, id.as_bytes())?;
            delete_name(tx, &pod.config.name, ObjectKind::Pod, id)
        })
    }

    pub(crate) fn update_pod_state(&mut self, id: &str, state: &PodState) -> Result<()> {
        if id.is_empty() {
            return Err(Error::EmptyId);
        }
        self.write(|tx, ns| {
            let mut pod = match get_pod(tx, id)? {
                Some(p) if visible(ns, &p.config.namespace) => p,
                _ => return Err(not_found(ObjectKind::Pod, id)),
            };
            pod.state = state.clone();
            put_json(tx, Table::Pods, id, &pod)
        })
    }

    pub(crate) fn rewrite_pod_config(&mut self, cfg: &PodConfig) -> Result<()> {
        self.write(|tx, ns| rewrite_pod_in(tx, ns, cfg))
    }

    pub(crate) fn all_pods(&self) -> Result<Listing<Pod>> {
        self.read(|tx, ns| list(tx, Table::Pods, |p: &Pod| visible(ns, &p.config.namespace)))
    }

    fn visible_pod(tx: &dyn ReadTx, ns: &str, pod: &str) -> Result<Pod> {
        match get_pod(tx, pod)? {
            Some(p) if visible(ns, &p.config.namespace) => Ok(p),
            _ => Err(not_found(ObjectKind::Pod, pod)),
        }
    }

    pub(crate) fn pod_has_container(&self, pod: &str, ctr: &str) -> Result<bool> {
        if pod.is_empty() || ctr.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| {
            Self::visible_pod(tx, ns, pod)?;
            Ok(tx.get(Table::PodMembers, &pair_key(pod, ctr))?.is_some())
        })
    }

    pub(crate) fn pod_container_ids(&self, pod: &str) -> Result<Vec<String>> {
        if pod.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| {
            Self::visible_pod(tx, ns, pod)?;
            suffixes(tx, Table::PodMembers, &prefix_of(pod))
        })
    }

    pub(crate) fn pod_containers(&self, pod: &str) -> Result<Vec<Container>> {
        if pod.is_empty() {
            return Err(Error::EmptyId);
        }
        self.read(|tx, ns| {
            Self::visible_pod(tx, ns, pod)?;
            suffixes(tx, Table::PodMembers, &prefix_of(pod))?
                .iter()
                .map(|id| {
                    get_ctr(tx, id)?.ok_or_else(|| Error::Corrupt {
                        key: key_of(Table::PodMembers, &pair_key(pod, id)),
                        reason: format!("member container {id} does not exist"),
                    })
                })
                .collect()
        })
    }

    pub(crate) fn remove_pod_containers(&mut self, pod: &str) -> Result<Vec<String>> {
        if pod.is_empty() {
            return Err(Error::EmptyId);
        }
        self.write(|tx, ns| {
            Self::visible_pod(tx, ns, pod)?;
            let ids = suffixes(tx, Table::PodMembers, &prefix_of(pod))?;
            let members: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            for id in &ids {
                for dependent in suffixes(tx, Table::Dependents, &prefix_of(id))? {
                    if !members.contains(dependent.as_str()) {
                        return Err(Error::DependentOutsidePod {
                            pod: pod.to_string(),
                            id: id.clone(),
                            dependent,
                        });
                    }
                }
            }
            for id in &ids {
                match get_ctr(tx, id)? {
                    Some(c) => delete_container(tx, &c)?,
                    None => tx.delete(Table::PodMembers, &pair_key(pod, id))?,
                }
            }
            Ok(ids)
        })
    }

    /// Writes raw bytes (tests of damaged records).
    #[cfg(test)]
    pub(crate) fn raw_put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.backend.write(|tx| tx.put(table, key, value))
    }

    /// Every table's entries (tests compare backends and check integrity).
    #[cfg(test)]
    pub(crate) fn dump(&self) -> Result<Vec<Entry>> {
        self.backend.read(|tx| {
            let mut out = Vec::new();
            for t in Table::ALL {
                tx.scan(t, b"", &mut |k, v| {
                    // The database's random id differs between any two.
                    if !(t == Table::Meta && k == DB_ID_KEY) {
                        out.push((t, k.to_vec(), v.to_vec()));
                    }
                    Ok(true)
                })?;
            }
            Ok(out)
        })
    }
}

fn delete_name(tx: &mut dyn WriteTx, name: &str, kind: ObjectKind, id: &str) -> Result<()> {
    if tx.get(Table::Names, name.as_bytes())?.as_deref() == Some(&name_value(kind, id)[..]) {
        tx.delete(Table::Names, name.as_bytes())?;
    }
    Ok(())
}

/// Deletes a container and every index entry that mentions it.
/// Replaces a container's config inside a write; its name, namespace, pod
/// and dependencies may not change.
fn rewrite_ctr_in(tx: &mut dyn WriteTx, ns: &str, cfg: &ContainerConfig) -> Result<()> {
    if cfg.id.is_empty() {
        return Err(Error::EmptyId);
    }
    let mut ctr = match get_ctr(tx, &cfg.id)? {
        Some(c) if visible(ns, &c.config.namespace) => c,
        _ => return Err(not_found(ObjectKind::Container, &cfg.id)),
    };
    let old = &ctr.config;
    let changed = if old.name != cfg.name {
        Some("name")
    } else if old.namespace != cfg.namespace {
        Some("namespace")
    } else if old.pod != cfg.pod {
        Some("pod")
    } else if old.dependencies != cfg.dependencies {
        Some("dependencies")
    } else {
        None
    };
    if let Some(field) = changed {
        return Err(Error::ImmutableField {
            kind: ObjectKind::Container,
            id: cfg.id.clone(),
            field,
        });
    }
    ctr.config = cfg.clone();
    put_json(tx, Table::Containers, &cfg.id, &ctr)
}

/// Replaces a pod's config inside a write; its name and namespace may not
/// change.
fn rewrite_pod_in(tx: &mut dyn WriteTx, ns: &str, cfg: &PodConfig) -> Result<()> {
    if cfg.id.is_empty() {
        return Err(Error::EmptyId);
    }
    let mut pod = match get_pod(tx, &cfg.id)? {
        Some(p) if visible(ns, &p.config.namespace) => p,
        _ => return Err(not_found(ObjectKind::Pod, &cfg.id)),
    };
    let field = if pod.config.name != cfg.name {
        Some("name")
    } else if pod.config.namespace != cfg.namespace {
        Some("namespace")
    } else {
        None
    };
    if let Some(field) = field {
        return Err(Error::ImmutableField {
            kind: ObjectKind::Pod,
            id: cfg.id.clone(),
            field,
        });
    }
    pod.config = cfg.clone();
    put_json(tx, Table::Pods, &cfg.id, &pod)
}

fn delete_container(tx: &mut dyn WriteTx, ctr: &Container) -> Result<()> {
    let id = &ctr.config.id;
    tx.delete(Table::Containers, id.as_bytes())?;
    delete_name(tx, &ctr.config.name, ObjectKind::Container, id)?;
    for dep in &ctr.config.dependencies {
        tx.delete(Table::Dependents, &pair_key(dep, id))?;
    }
    for dependent in suffixes(tx, Table::Dependents, &prefix_of(id))? {
        tx.delete(Table::Dependents, &pair_key(id, &dependent))?;
    }
    if let Some(p) = &ctr.config.pod {
        tx.delete(Table::PodMembers, &pair_key(p, id))?;
    }
    tracing::debug!(id = %id, "removed container from state");
    Ok(())
}

/// The one record whose id starts with `prefix` among those visible in
/// `ns`: a range scan over the sorted keys. Without a namespace only the
/// single match is decoded; with one, every candidate is.
fn find_by_prefix<T: DeserializeOwned>(
    tx: &dyn ReadTx,
    table: Table,
    kind: ObjectKind,
    prefix: &str,
    ns: &str,
    ns_of: impl Fn(&T) -> &str,
) -> Result<T> {
    let mut count = 0;
    let mut found: Option<T> = None;
    let mut first_raw: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut err = None;
    tx.scan(table, prefix.as_bytes(), &mut |k, v| {
        if ns.is_empty() {
            count += 1;
            if count == 1 {
                first_raw = Some((k.to_vec(), v.to_vec()));
            }
            return Ok(true);
        }
        match decode::<T>(table, k, v) {
            Ok(r) if visible(ns, ns_of(&r)) => {
                count += 1;
                found = Some(r);
            }
            Ok(_) => {}
            Err(e) => err = Some(e),
        }
        Ok(true)
    })?;
    match count {
        0 => Err(err.unwrap_or_else(|| not_found(kind, prefix))),
        1 => match (found, first_raw) {
            (Some(r), _) => Ok(r),
            (None, Some((k, v))) => decode(table, &k, &v),
            (None, None) => Err(not_found(kind, prefix)),
        },
        n => Err(Error::Ambiguous {
            kind,
            prefix: prefix.to_string(),
            count: n,
        }),
    }
}

/// Decodes every record of a table once; bad ones are logged and skipped.
fn list<T: DeserializeOwned>(
    tx: &dyn ReadTx,
    table: Table,
    keep: impl Fn(&T) -> bool,
) -> Result<Listing<T>> {
    let mut out = Listing::default();
    tx.scan(table, b"", &mut |k, v| {
        match decode::<T>(table, k, v) {
            Ok(rec) => {
                if keep(&rec) {
                    out.items.push(rec);
                }
            }
            Err(e) => {
                tracing::warn!("skipping unreadable record: {e}");
                out.skipped.push(Skipped {
                    key: key_of(table, k),
                    reason: e.to_string(),
                });
            }
        }
        Ok(true)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["a", "A1", "web_1.x-y", "0"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "a/b", "a b", "ä"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_name(&"a".repeat(200)));
        assert!(!is_valid_name(&"a".repeat(201)), "at most 200 characters");
    }

    #[test]
    fn canonical_cleans_and_resolves_existing_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let a = canonical(&link.join("x/./y/../z"));
        let b = canonical(&real.join("x/z/"));
        assert_eq!(a, b);
        assert!(a.ends_with("real/x/z"));
    }

    #[test]
    fn db_config_merge_rules() {
        let stored = DbConfig {
            os: "linux".into(),
            static_dir: "/var/lib/oxpod".into(),
            ..Default::default()
        };
        let ours = DbConfig {
            os: "linux".into(),
            static_dir: "/var/lib/oxpod/".into(),
            tmp_dir: "/run/oxpod".into(),
            ..Default::default()
        };
        let (merged, missing) = merge_db_config(&stored, &ours).unwrap();
        assert!(missing);
        assert_eq!(merged.tmp_dir, Path::new("/run/oxpod"));
        // Empty on our side means "use the stored one".
        let (merged, missing) = merge_db_config(&merged, &DbConfig::default()).unwrap();
        assert!(!missing);
        assert_eq!(merged.static_dir, Path::new("/var/lib/oxpod"));
        let bad = DbConfig {
            static_dir: "/srv/oxpod".into(),
            ..Default::default()
        };
        let err = merge_db_config(&stored, &bad).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(
            err,
            Error::DbConfigMismatch {
                key: "static_dir",
                ..
            }
        ));
        assert!(
            msg.contains("/var/lib/oxpod") && msg.contains("/srv/oxpod"),
            "{msg}"
        );
        assert!(msg.contains("oxpod system reset"), "{msg}");
    }
}
