//! Tests of the state: the conformance suite (libpod-spec §3.11) run against
//! both backends, LMDB-specific bad inputs, multi-process tests, and a
//! model-based comparison of the two backends.

use std::collections::BTreeMap;

use jiff::Timestamp;
use tempfile::TempDir;

use crate::store::{Entry, Table};
use crate::*;

mod conformance;
mod lmdb_bad_input;
mod model;
mod procs;

/// A container id made of one repeated character (as upstream's tests).
pub(crate) fn rid(c: char) -> String {
    std::iter::repeat_n(c, 32).collect()
}

pub(crate) fn ctr(id: &str, name: &str) -> Container {
    Container {
        config: ContainerConfig {
            id: id.to_string(),
            name: name.to_string(),
            lock_id: 7,
            rootfs: "/srv/rootfs".into(),
            command: vec!["/bin/sh".into(), "-c".into(), "true".into()],
            env: vec!["PATH=/usr/bin".into()],
            labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
            stop_signal: 15,
            stop_timeout: 10,
            created: Timestamp::from_second(1_700_000_000).unwrap(),
            ..Default::default()
        },
        state: ContainerState::default(),
    }
}

pub(crate) fn pod(id: &str, name: &str) -> Pod {
    Pod {
        config: PodConfig {
            id: id.to_string(),
            name: name.to_string(),
            lock_id: 3,
            shared_namespaces: vec!["ipc".into(), "net".into()],
            created: Timestamp::from_second(1_700_000_000).unwrap(),
            ..Default::default()
        },
        state: PodState {
            cgroup_path: "/sys/fs/cgroup/x".into(),
            infra_container_id: None,
        },
    }
}

/// A fresh LMDB state in a new temp dir.
pub(crate) fn lmdb() -> (LmdbState, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    (s, dir)
}

/// Checks that every index entry agrees with the records (no dangling
/// names, memberships or dependency entries; every record indexed).
pub(crate) fn check_integrity(entries: &[Entry]) {
    let table = |t: Table| -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .filter(|(tt, _, _)| *tt == t)
            .map(|(_, k, v)| (String::from_utf8(k.clone()).unwrap(), v.clone()))
            .collect()
    };
    let ctrs: BTreeMap<String, Container> = table(Table::Containers)
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_slice(&v).unwrap()))
        .collect();
    let pods: BTreeMap<String, Pod> = table(Table::Pods)
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_slice(&v).unwrap()))
        .collect();
    let names = table(Table::Names);
    assert_eq!(names.len(), ctrs.len() + pods.len(), "one name per object");
    for (id, c) in &ctrs {
        assert_eq!(&c.config.id, id);
        assert_eq!(
            names.get(&c.config.name).map(|v| v.as_slice()),
            Some(format!("container/{id}").as_bytes())
        );
        for d in &c.config.dependencies {
            assert!(ctrs.contains_key(d), "dependency {d} of {id} exists");
            assert!(table(Table::Dependents).contains_key(&format!("{d}/{id}")));
        }
        if let Some(p) = &c.config.pod {
            assert!(pods.contains_key(p));
            assert!(table(Table::PodMembers).contains_key(&format!("{p}/{id}")));
        }
    }
    for (id, p) in &pods {
        assert_eq!(&p.config.id, id);
        assert!(!ctrs.contains_key(id), "ids are unique across kinds");
        assert_eq!(
            names.get(&p.config.name).map(|v| v.as_slice()),
            Some(format!("pod/{id}").as_bytes())
        );
    }
    for k in table(Table::Dependents).keys() {
        let (dep, dependent) = k.split_once('/').unwrap();
        assert!(ctrs[dependent].config.dependencies.iter().any(|d| d == dep));
    }
    for k in table(Table::PodMembers).keys() {
        let (p, c) = k.split_once('/').unwrap();
        assert_eq!(ctrs[c].config.pod.as_deref(), Some(p));
    }
}
