//! The behaviours of libpod's `state_test.go` that apply to our model, each
//! run against the in-memory state and against LMDB in a temp dir.

use super::*;

/// Defines `<name>::memory` and `<name>::lmdb`, both running `$body` on a
/// fresh state.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn memory() {
                let mut s = InMemoryState::new();
                let f: fn(&mut dyn State) = $body;
                f(&mut s);
            }
            #[test]
            fn lmdb() {
                let (mut s, _dir) = super::lmdb();
                let f: fn(&mut dyn State) = $body;
                f(&mut s);
            }
        }
    };
}

macro_rules! assert_err {
    ($e:expr, $pat:pat) => {
        match $e {
            Err($pat) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pat)),
        }
    };
}

fn in_ns(mut c: Container, ns: &str) -> Container {
    c.config.namespace = ns.to_string();
    c
}

fn with_deps(mut c: Container, deps: &[&str]) -> Container {
    c.config.dependencies = deps.iter().map(|d| d.to_string()).collect();
    c
}

fn in_pod(mut c: Container, pod: &str) -> Container {
    c.config.pod = Some(pod.to_string());
    c
}

both!(add_and_get, |s| {
    let a = ctr(&rid('1'), "test1");
    let b = ctr(&rid('2'), "test2");
    s.add_container(&a).unwrap();
    s.add_container(&b).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap(), a);
    assert_eq!(s.container(&rid('2')).unwrap(), b);
    assert_err!(s.container(&rid('3')), Error::NotFound { .. });
    assert_err!(s.container(""), Error::EmptyId);
});

both!(add_rejects_duplicates_and_pod_conflicts, |s| {
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    s.add_pod(&pod(&rid('9'), "pod1")).unwrap();
    let before = (s.all_containers().unwrap(), s.all_pods().unwrap());
    assert_err!(
        s.add_container(&ctr(&rid('1'), "other")),
        Error::IdInUse { .. }
    );
    assert_err!(
        s.add_container(&ctr(&rid('2'), "test1")),
        Error::NameInUse { .. }
    );
    assert_err!(
        s.add_container(&ctr(&rid('9'), "other")),
        Error::IdInUse { .. }
    );
    assert_err!(
        s.add_container(&ctr(&rid('2'), "pod1")),
        Error::NameInUse { .. }
    );
    assert_err!(s.add_pod(&pod(&rid('1'), "pod2")), Error::IdInUse { .. });
    assert_err!(s.add_pod(&pod(&rid('8'), "test1")), Error::NameInUse { .. });
    assert_eq!((s.all_containers().unwrap(), s.all_pods().unwrap()), before);
});

both!(add_rejects_invalid_records, |s| {
    assert_err!(s.add_container(&ctr("", "x")), Error::EmptyId);
    assert_err!(s.add_container(&ctr("a/b", "x")), Error::InvalidId { .. });
    assert_err!(s.add_container(&ctr("ab", "")), Error::EmptyId);
    assert_err!(
        s.add_container(&ctr("ab", "-bad")),
        Error::InvalidName { .. }
    );
    assert_err!(s.add_pod(&pod("p/q", "x")), Error::InvalidId { .. });
    assert!(s.all_containers().unwrap().items.is_empty());
});

both!(add_container_in_pod_field_rejected, |s| {
    s.add_pod(&pod(&rid('9'), "pod1")).unwrap();
    let c = in_pod(ctr(&rid('1'), "test1"), &rid('9'));
    assert_err!(s.add_container(&c), Error::InPod { .. });
    assert!(!s.has_container(&rid('1')).unwrap());
});

both!(dependencies_are_validated, |s| {
    s.add_pod(&pod(&rid('9'), "pod1")).unwrap();
    s.add_container_to_pod(&rid('9'), &in_pod(ctr(&rid('8'), "inpod"), &rid('9')))
        .unwrap();
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    assert_err!(
        s.add_container(&with_deps(ctr(&rid('2'), "test2"), &[&rid('8')])),
        Error::DependencyInPod { .. }
    );
    assert_err!(
        s.add_container(&with_deps(ctr(&rid('2'), "test2"), &[&rid('9')])),
        Error::DependencyNotFound { .. }
    );
    assert_err!(
        s.add_container(&with_deps(ctr(&rid('2'), "test2"), &["nope"])),
        Error::DependencyNotFound { .. }
    );
    assert_err!(
        s.add_container(&with_deps(ctr(&rid('2'), "test2"), &[""])),
        Error::DependencyNotFound { .. }
    );
    s.add_container(&with_deps(ctr(&rid('2'), "test2"), &[&rid('1')]))
        .unwrap();
    assert_eq!(s.container_dependents(&rid('1')).unwrap(), vec![rid('2')]);
});

both!(dependencies_must_share_the_namespace, |s| {
    s.add_container(&in_ns(ctr(&rid('1'), "test1"), "ns1"))
        .unwrap();
    s.add_container(&in_ns(
        with_deps(ctr(&rid('2'), "test2"), &[&rid('1')]),
        "ns1",
    ))
    .unwrap();
    assert_err!(
        s.add_container(&in_ns(
            with_deps(ctr(&rid('3'), "test3"), &[&rid('1')]),
            "ns2"
        )),
        Error::NamespaceMismatch { .. }
    );
    assert!(!s.has_container(&rid('3')).unwrap());
});

both!(add_in_other_namespace_fails_and_leaves_nothing, |s| {
    s.set_namespace("ns1");
    assert_err!(
        s.add_container(&in_ns(ctr(&rid('1'), "test1"), "ns2")),
        Error::NamespaceMismatch { .. }
    );
    s.set_namespace("");
    assert!(!s.has_container(&rid('1')).unwrap());
    assert!(!s.name_exists("test1").unwrap());
});

both!(namespaces_filter_reads, |s| {
    s.add_container(&in_ns(ctr(&rid('1'), "test1"), "ns1"))
        .unwrap();
    s.add_container(&ctr(&rid('2'), "test2")).unwrap();
    // No namespace: everything is visible.
    assert_eq!(s.container(&rid('1')).unwrap().config.namespace, "ns1");
    assert_eq!(s.all_containers().unwrap().items.len(), 2);
    s.set_namespace("ns1");
    assert_eq!(s.namespace(), "ns1");
    assert!(s.container(&rid('1')).is_ok());
    assert_err!(s.container(&rid('2')), Error::NotFound { .. });
    assert!(!s.has_container(&rid('2')).unwrap());
    assert_err!(s.lookup_container("test2"), Error::NotFound { .. });
    let all = s.all_containers().unwrap().items;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].config.id, rid('1'));
    s.set_namespace("ns2");
    assert!(s.all_containers().unwrap().items.is_empty());
    assert_err!(s.remove_container(&rid('1')), Error::NotFound { .. });
    assert_err!(
        s.update_container_state(&rid('1'), &ContainerState::default()),
        Error::NotFound { .. }
    );
});

both!(lookup_container_by_id_name_and_prefix, |s| {
    assert_err!(s.lookup_container(""), Error::EmptyId);
    assert_err!(s.lookup_container("nothing"), Error::NotFound { .. });
    let a = ctr(&rid('0'), "test1");
    let b = ctr(&format!("{}1", "0".repeat(31)), "test2");
    let c = ctr(&rid('5'), "test3");
    s.add_container(&a).unwrap();
    s.add_container(&b).unwrap();
    s.add_container(&c).unwrap();
    assert_eq!(s.lookup_container(&rid('0')).unwrap(), a);
    assert_eq!(s.lookup_container("test2").unwrap(), b);
    assert_eq!(s.lookup_container("555").unwrap(), c);
    assert_err!(
        s.lookup_container("00000000"),
        Error::Ambiguous { count: 2, .. }
    );
    s.add_pod(&pod(&rid('7'), "pod1")).unwrap();
    assert_err!(s.lookup_container("pod1"), Error::IsPod { .. });
    assert_err!(s.lookup_container(&rid('7')), Error::IsPod { .. });
    // A prefix of a pod id only is not a container.
    assert_err!(s.lookup_container("777"), Error::NotFound { .. });
});

both!(lookup_prefix_respects_namespace, |s| {
    let a = in_ns(ctr(&rid('0'), "test1"), "ns1");
    let b = in_ns(ctr(&format!("{}1", "0".repeat(31)), "test2"), "ns2");
    s.add_container(&a).unwrap();
    s.add_container(&b).unwrap();
    assert_err!(s.lookup_container("000"), Error::Ambiguous { .. });
    s.set_namespace("ns1");
    assert_eq!(s.lookup_container("000").unwrap(), a);
    s.set_namespace("ns2");
    assert_eq!(s.lookup_container("000").unwrap(), b);
});

both!(has_container, |s| {
    assert_err!(s.has_container(""), Error::EmptyId);
    assert!(!s.has_container(&rid('1')).unwrap());
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    s.add_pod(&pod(&rid('2'), "pod1")).unwrap();
    assert!(s.has_container(&rid('1')).unwrap());
    assert!(!s.has_container(&rid('2')).unwrap());
    assert!(s.has_pod(&rid('2')).unwrap());
    assert!(!s.has_pod(&rid('1')).unwrap());
    assert!(s.name_exists("test1").unwrap() && s.name_exists("pod1").unwrap());
    assert!(!s.name_exists("test9").unwrap());
});

both!(update_container_state_round_trips, |s| {
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    let st = ContainerState {
        status: ContainerStatus::Stopped,
        exit_code: 127,
        exited: true,
        finished_at: Some(Timestamp::from_second(1_700_000_100).unwrap()),
        ..Default::default()
    };
    s.update_container_state(&rid('1'), &st).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap().state, st);
    assert_eq!(s.lookup_container("test1").unwrap().state, st);
    assert_err!(
        s.update_container_state(&rid('2'), &st),
        Error::NotFound { .. }
    );
    assert_err!(s.update_container_state("", &st), Error::EmptyId);
});

both!(remove_container_rules, |s| {
    assert_err!(s.remove_container(&rid('1')), Error::NotFound { .. });
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    // Depends on it twice (as in upstream's user + IPC namespace case).
    s.add_container(&with_deps(ctr(&rid('2'), "test2"), &[&rid('1'), &rid('1')]))
        .unwrap();
    s.add_container(&with_deps(ctr(&rid('3'), "test3"), &[&rid('1')]))
        .unwrap();
    assert_eq!(
        s.container_dependents(&rid('1')).unwrap(),
        vec![rid('2'), rid('3')]
    );
    match s.remove_container(&rid('1')) {
        Err(Error::HasDependents { id, dependents }) => {
            assert_eq!(id, rid('1'));
            assert_eq!(dependents, vec![rid('2'), rid('3')]);
        }
        other => panic!("{other:?}"),
    }
    s.remove_container(&rid('2')).unwrap();
    s.remove_container(&rid('3')).unwrap();
    assert!(s.container_dependents(&rid('1')).unwrap().is_empty());
    s.remove_container(&rid('1')).unwrap();
    assert!(!s.has_container(&rid('1')).unwrap());
    assert!(!s.name_exists("test1").unwrap());
    // The name and id are free again.
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
});

both!(all_containers_lists, |s| {
    assert!(s.all_containers().unwrap().items.is_empty());
    s.add_container(&ctr(&rid('2'), "test2")).unwrap();
    assert_eq!(s.all_containers().unwrap().items.len(), 1);
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    let l = s.all_containers().unwrap();
    assert_eq!(
        l.items
            .iter()
            .map(|c| c.config.id.clone())
            .collect::<Vec<_>>(),
        vec![rid('1'), rid('2')]
    );
    assert!(l.skipped.is_empty());
});

both!(rewrite_configs, |s| {
    let mut c = ctr(&rid('1'), "test1");
    assert_err!(
        s.rewrite_container_config(&c.config),
        Error::NotFound { .. }
    );
    s.add_container(&c).unwrap();
    c.config.lock_id = 42;
    s.rewrite_container_config(&c.config).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap().config.lock_id, 42);
    c.config.name = "renamed".into();
    assert_err!(
        s.rewrite_container_config(&c.config),
        Error::ImmutableField { field: "name", .. }
    );
    let mut p = pod(&rid('2'), "pod1");
    assert_err!(s.rewrite_pod_config(&p.config), Error::NotFound { .. });
    s.add_pod(&p).unwrap();
    p.config.lock_id = 43;
    s.rewrite_pod_config(&p.config).unwrap();
    assert_eq!(s.pod(&rid('2')).unwrap().config.lock_id, 43);
});

both!(pods_get_lookup_has_add_remove, |s| {
    assert_err!(s.pod(""), Error::EmptyId);
    assert_err!(s.pod(&rid('1')), Error::NotFound { .. });
    let a = pod(&rid('0'), "pod1");
    let b = pod(&format!("{}1", "0".repeat(31)), "pod2");
    s.add_pod(&a).unwrap();
    s.add_pod(&b).unwrap();
    assert_eq!(s.pod(&rid('0')).unwrap(), a);
    assert_eq!(s.lookup_pod("pod2").unwrap(), b);
    assert_eq!(s.lookup_pod(&b.config.id).unwrap(), b);
    assert_err!(s.lookup_pod("0000"), Error::Ambiguous { .. });
    s.add_container(&ctr(&rid('5'), "test1")).unwrap();
    assert_err!(s.pod(&rid('5')), Error::NotFound { .. });
    assert_err!(s.lookup_pod("test1"), Error::IsContainer { .. });
    assert_err!(s.lookup_pod(&rid('5')), Error::IsContainer { .. });
    assert_eq!(s.all_pods().unwrap().items.len(), 2);
    s.remove_pod(&rid('0')).unwrap();
    assert_err!(s.remove_pod(&rid('0')), Error::NotFound { .. });
    assert_eq!(s.all_pods().unwrap().items, vec![b]);
    assert!(!s.name_exists("pod1").unwrap());
});

both!(pods_respect_namespaces, |s| {
    s.add_pod(&{
        let mut p = pod(&rid('1'), "pod1");
        p.config.namespace = "ns1".into();
        p
    })
    .unwrap();
    s.set_namespace("ns2");
    assert_err!(s.pod(&rid('1')), Error::NotFound { .. });
    assert!(!s.has_pod(&rid('1')).unwrap());
    assert!(s.all_pods().unwrap().items.is_empty());
    assert_err!(s.remove_pod(&rid('1')), Error::NotFound { .. });
    assert_err!(
        s.add_pod(&pod(&rid('2'), "pod2")),
        Error::NamespaceMismatch { .. }
    );
    s.set_namespace("ns1");
    assert!(s.has_pod(&rid('1')).unwrap());
});

both!(pod_membership, |s| {
    let p = rid('9');
    assert_err!(s.pod_has_container(&p, &rid('1')), Error::NotFound { .. });
    assert_err!(s.pod_container_ids(&p), Error::NotFound { .. });
    s.add_pod(&pod(&p, "pod1")).unwrap();
    assert_err!(s.pod_has_container(&p, ""), Error::EmptyId);
    assert!(s.pod_container_ids(&p).unwrap().is_empty());
    assert!(!s.pod_has_container(&p, &rid('1')).unwrap());
    s.add_container(&ctr(&rid('3'), "outside")).unwrap();
    assert!(!s.pod_has_container(&p, &rid('3')).unwrap());
    let a = in_pod(ctr(&rid('1'), "test1"), &p);
    let b = in_pod(with_deps(ctr(&rid('2'), "test2"), &[&rid('1')]), &p);
    s.add_container_to_pod(&p, &a).unwrap();
    s.add_container_to_pod(&p, &b).unwrap();
    assert!(s.pod_has_container(&p, &rid('1')).unwrap());
    assert_eq!(s.container(&rid('1')).unwrap(), a);
    assert_eq!(s.pod_container_ids(&p).unwrap(), vec![rid('1'), rid('2')]);
    assert_eq!(s.pod_containers(&p).unwrap(), vec![a.clone(), b]);
    assert_eq!(s.all_containers().unwrap().items.len(), 3);
    assert_err!(s.remove_pod(&p), Error::PodHasContainers { .. });
    assert_err!(s.remove_container(&rid('1')), Error::InPod { .. });
    assert_err!(
        s.remove_container_from_pod(&p, &rid('1')),
        Error::HasDependents { .. }
    );
    // Intra-pod dependencies are fine for the whole-pod removal.
    assert_eq!(
        s.remove_pod_containers(&p).unwrap(),
        vec![rid('1'), rid('2')]
    );
    assert!(
        s.has_container(&rid('3')).unwrap(),
        "outside container kept"
    );
    assert!(!s.name_exists("test1").unwrap());
    assert!(s.remove_pod_containers(&p).unwrap().is_empty());
    s.remove_pod(&p).unwrap();
});

both!(add_container_to_pod_rules, |s| {
    let p = rid('9');
    let q = rid('8');
    let a = in_pod(ctr(&rid('1'), "test1"), &p);
    assert_err!(s.add_container_to_pod(&p, &a), Error::NotFound { .. });
    s.add_pod(&pod(&p, "pod1")).unwrap();
    s.add_pod(&pod(&q, "pod2")).unwrap();
    assert_err!(s.add_container_to_pod(&q, &a), Error::NotInPod { .. });
    assert_err!(
        s.add_container_to_pod(&p, &ctr(&rid('1'), "test1")),
        Error::NotInPod { .. }
    );
    s.add_container_to_pod(&p, &a).unwrap();
    assert_err!(
        s.add_container_to_pod(&p, &in_pod(ctr(&rid('1'), "x"), &p)),
        Error::IdInUse { .. }
    );
    assert_err!(
        s.add_container_to_pod(&p, &in_pod(ctr(&q, "x"), &p)),
        Error::IdInUse { .. }
    );
    assert_err!(
        s.add_container_to_pod(&p, &in_pod(ctr(&rid('2'), "pod2"), &p)),
        Error::NameInUse { .. }
    );
    s.add_container(&ctr(&rid('3'), "outside")).unwrap();
    assert_err!(
        s.add_container_to_pod(
            &p,
            &in_pod(with_deps(ctr(&rid('2'), "t2"), &[&rid('3')]), &p)
        ),
        Error::DependencyNotInPod { .. }
    );
    assert_err!(
        s.add_container_to_pod(&p, &in_pod(with_deps(ctr(&rid('2'), "t2"), &[&q]), &p)),
        Error::DependencyNotFound { .. }
    );
    s.add_container_to_pod(&q, &in_pod(ctr(&rid('4'), "inq"), &q))
        .unwrap();
    assert_err!(
        s.add_container_to_pod(
            &p,
            &in_pod(with_deps(ctr(&rid('2'), "t2"), &[&rid('4')]), &p)
        ),
        Error::DependencyNotInPod { .. }
    );
    s.add_container_to_pod(
        &p,
        &in_pod(with_deps(ctr(&rid('2'), "t2"), &[&rid('1')]), &p),
    )
    .unwrap();
    assert_eq!(s.container_dependents(&rid('1')).unwrap(), vec![rid('2')]);
    // Namespace only on the container, or only on the pod: refused.
    assert_err!(
        s.add_container_to_pod(&p, &in_ns(in_pod(ctr(&rid('5'), "t5"), &p), "ns1")),
        Error::NamespaceMismatch { .. }
    );
    let mut nsp = pod(&rid('7'), "pod3");
    nsp.config.namespace = "ns1".into();
    s.add_pod(&nsp).unwrap();
    assert_err!(
        s.add_container_to_pod(&rid('7'), &in_pod(ctr(&rid('5'), "t5"), &rid('7'))),
        Error::NamespaceMismatch { .. }
    );
    s.add_container_to_pod(
        &rid('7'),
        &in_ns(in_pod(ctr(&rid('5'), "t5"), &rid('7')), "ns1"),
    )
    .unwrap();
});

both!(remove_container_from_pod_rules, |s| {
    let p = rid('9');
    assert_err!(
        s.remove_container_from_pod(&p, &rid('1')),
        Error::NotFound {
            kind: ObjectKind::Pod,
            ..
        }
    );
    s.add_pod(&pod(&p, "pod1")).unwrap();
    assert_err!(
        s.remove_container_from_pod(&p, &rid('1')),
        Error::NotFound {
            kind: ObjectKind::Container,
            ..
        }
    );
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    assert_err!(
        s.remove_container_from_pod(&p, &rid('1')),
        Error::NotInPod { .. }
    );
    s.add_container_to_pod(&p, &in_pod(ctr(&rid('2'), "test2"), &p))
        .unwrap();
    s.add_container_to_pod(
        &p,
        &in_pod(with_deps(ctr(&rid('3'), "test3"), &[&rid('2')]), &p),
    )
    .unwrap();
    assert_err!(
        s.remove_container_from_pod(&p, &rid('2')),
        Error::HasDependents { .. }
    );
    s.remove_container_from_pod(&p, &rid('3')).unwrap();
    s.remove_container_from_pod(&p, &rid('2')).unwrap();
    assert!(s.pod_container_ids(&p).unwrap().is_empty());
    s.remove_pod(&p).unwrap();
});

/// No API path creates a dependent outside the pod (the add rules forbid
/// it), so plant the index entry directly and check the guard.
fn remove_pod_containers_refuses_outside_dependents<B: crate::store::Backend>(
    store: &mut crate::store::Store<B>,
) {
    let p = rid('9');
    store.add_pod(&pod(&p, "pod1")).unwrap();
    store
        .add_container(&in_pod(ctr(&rid('1'), "test1"), &p), Some(&p))
        .unwrap();
    store.add_container(&ctr(&rid('2'), "test2"), None).unwrap();
    let key = format!("{}/{}", rid('1'), rid('2'));
    store
        .raw_put(Table::Dependents, key.as_bytes(), b"")
        .unwrap();
    match store.remove_pod_containers(&p) {
        Err(Error::DependentOutsidePod { id, dependent, .. }) => {
            assert_eq!((id, dependent), (rid('1'), rid('2')));
        }
        other => panic!("{other:?}"),
    }
    assert!(store.has_container(&rid('1')).unwrap(), "nothing removed");
}

#[test]
fn remove_pod_containers_refuses_outside_dependents_memory() {
    remove_pod_containers_refuses_outside_dependents(&mut InMemoryState::new().store);
}

#[test]
fn remove_pod_containers_refuses_outside_dependents_lmdb() {
    let (mut s, _dir) = lmdb();
    remove_pod_containers_refuses_outside_dependents(&mut s.store);
}

both!(update_pod_state_round_trips, |s| {
    let st = PodState {
        cgroup_path: "/x".into(),
        infra_container_id: Some(rid('4')),
    };
    assert_err!(s.update_pod_state(&rid('1'), &st), Error::NotFound { .. });
    s.add_pod(&pod(&rid('1'), "pod1")).unwrap();
    s.update_pod_state(&rid('1'), &st).unwrap();
    assert_eq!(s.pod(&rid('1')).unwrap().state, st);
});

both!(refresh_resets_per_boot_fields, |s| {
    s.add_container(&in_ns(ctr(&rid('1'), "test1"), "ns1"))
        .unwrap();
    s.add_container(&ctr(&rid('2'), "test2")).unwrap();
    s.add_pod(&pod(&rid('3'), "pod1")).unwrap();
    let t = Timestamp::from_second(1_700_000_000).unwrap();
    let running = ContainerState {
        status: ContainerStatus::Running,
        pid: Some(10),
        conmon_pid: Some(9),
        started_at: Some(t),
        restart_count: 2,
        ..Default::default()
    };
    let exited = ContainerState {
        status: ContainerStatus::Exited,
        exit_code: 3,
        exited: true,
        finished_at: Some(t),
        ..Default::default()
    };
    s.update_container_state(&rid('1'), &running).unwrap();
    s.update_container_state(&rid('2'), &exited).unwrap();
    // Refresh covers every namespace, not only ours.
    s.set_namespace("other");
    s.refresh().unwrap();
    s.set_namespace("");
    let a = s.container(&rid('1')).unwrap().state;
    assert_eq!(a.status, ContainerStatus::Configured);
    assert_eq!((a.pid, a.conmon_pid, a.restart_count), (None, None, 0));
    assert_eq!(a.started_at, Some(t));
    assert_eq!(s.container(&rid('2')).unwrap().state, exited);
    assert_eq!(s.pod(&rid('3')).unwrap().state.cgroup_path, "");
});

both!(db_config_is_stored_on_first_use_and_validated, |s| {
    assert_eq!(s.db_config().unwrap(), DbConfig::default());
    let ours = DbConfig {
        os: "linux".into(),
        static_dir: "/var/lib/oxpod".into(),
        tmp_dir: "/run/oxpod".into(),
        volume_path: "/var/lib/oxpod/volumes".into(),
        ..Default::default()
    };
    assert_eq!(s.validate_db_config(&ours).unwrap(), ours);
    assert_eq!(s.db_config().unwrap(), ours);
    // Empty means default: the stored values come back.
    assert_eq!(s.validate_db_config(&DbConfig::default()).unwrap(), ours);
    // Lexically equal paths match.
    let same = DbConfig {
        tmp_dir: "/run/./oxpod/".into(),
        ..Default::default()
    };
    assert_eq!(s.validate_db_config(&same).unwrap(), ours);
    let other = DbConfig {
        tmp_dir: "/tmp/elsewhere".into(),
        ..Default::default()
    };
    let e = s.validate_db_config(&other).unwrap_err();
    assert!(
        matches!(e, Error::DbConfigMismatch { key: "tmp_dir", .. }),
        "{e:?}"
    );
    // A newly set key is added.
    let more = DbConfig {
        graph_driver: "overlay".into(),
        ..Default::default()
    };
    assert_eq!(s.validate_db_config(&more).unwrap().graph_driver, "overlay");
    assert_eq!(s.db_config().unwrap().graph_driver, "overlay");
});

both!(closed_state_refuses_everything, |s| {
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
    s.close().unwrap();
    assert_err!(s.container(&rid('1')), Error::Closed);
    assert_err!(s.all_containers(), Error::Closed);
    assert_err!(s.add_pod(&pod(&rid('2'), "p")), Error::Closed);
    assert_err!(s.refresh(), Error::Closed);
});

/// A record that does not decode is skipped (and reported) by listings,
/// and is a clear error when asked for directly; nothing panics.
fn undecodable_record_is_skipped<B: crate::store::Backend>(store: &mut crate::store::Store<B>) {
    store.add_container(&ctr(&rid('1'), "test1"), None).unwrap();
    store.add_container(&ctr(&rid('3'), "test3"), None).unwrap();
    store
        .raw_put(Table::Containers, rid('2').as_bytes(), b"{not json")
        .unwrap();
    store.raw_put(Table::Pods, b"badpod", b"[1,2").unwrap();
    let l = store.all_containers().unwrap();
    assert_eq!(l.items.len(), 2);
    assert_eq!(l.skipped.len(), 1);
    assert_eq!(l.skipped[0].key, format!("containers/{}", rid('2')));
    assert_eq!(store.all_pods().unwrap().skipped.len(), 1);
    match store.container(&rid('2')) {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, format!("containers/{}", rid('2'))),
        other => panic!("{other:?}"),
    }
    assert!(store.lookup_container("test1").is_ok());
    // Refresh leaves the bad record alone and resets the others.
    store.refresh().unwrap();
    assert_eq!(store.all_containers().unwrap().items.len(), 2);
    // They read fine: verify (the read paths) has nothing to say.
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn undecodable_record_is_skipped_memory() {
    let mut s = InMemoryState::new();
    undecodable_record_is_skipped(&mut s.store);
}

#[test]
fn undecodable_record_is_skipped_lmdb() {
    let (mut s, _dir) = lmdb();
    undecodable_record_is_skipped(&mut s.store);
}

#[test]
fn state_is_object_safe_and_send() {
    fn takes(_: Box<dyn State>) {}
    fn is_send<T: Send>() {}
    is_send::<Box<dyn State>>();
    is_send::<LmdbState>();
    is_send::<InMemoryState>();
    takes(Box::new(InMemoryState::new()));
}

both!(remove_containers_is_one_all_or_nothing_transaction, |s| {
    s.add_container(&ctr(&rid('1'), "base")).unwrap();
    s.add_container(&with_deps(ctr(&rid('2'), "dependent"), &[&rid('1')]))
        .unwrap();
    s.add_container(&ctr(&rid('3'), "other")).unwrap();
    s.add_pod(&pod(&rid('9'), "pod1")).unwrap();
    s.add_container_to_pod(&rid('9'), &in_pod(ctr(&rid('4'), "member"), &rid('9')))
        .unwrap();
    // A dependent outside the set blocks, and nothing is removed.
    assert_err!(
        s.remove_containers(&[rid('3'), rid('1')]),
        Error::HasDependents { .. }
    );
    assert_eq!(s.all_containers().unwrap().items.len(), 4);
    // A missing id fails the whole batch too.
    assert_err!(
        s.remove_containers(&[rid('3'), rid('8')]),
        Error::NotFound { .. }
    );
    assert!(s.has_container(&rid('3')).unwrap());
    // Dependency and dependent together, a pod member, in any order.
    s.remove_containers(&[rid('1'), rid('4'), rid('2'), rid('3')])
        .unwrap();
    assert!(s.all_containers().unwrap().items.is_empty());
    assert!(s.pod_container_ids(&rid('9')).unwrap().is_empty());
    assert!(!s.name_exists("base").unwrap());
    s.remove_pod(&rid('9')).unwrap();
});

both!(rewrite_configs_is_one_all_or_nothing_transaction, |s| {
    s.add_container(&ctr(&rid('1'), "a")).unwrap();
    s.add_container(&ctr(&rid('2'), "b")).unwrap();
    s.add_pod(&pod(&rid('9'), "p")).unwrap();
    let mut a = s.container(&rid('1')).unwrap().config;
    let mut b = s.container(&rid('2')).unwrap().config;
    let mut p = s.pod(&rid('9')).unwrap().config;
    let before = a.lock_id;
    a.lock_id = 10;
    b.lock_id = 11;
    p.lock_id = 12;
    let mut renamed = b.clone();
    renamed.name = "changed".into();
    assert_err!(
        s.rewrite_configs(&[a.clone(), renamed], &[p.clone()], &[]),
        Error::ImmutableField { .. }
    );
    assert_eq!(s.container(&rid('1')).unwrap().config.lock_id, before);
    s.rewrite_configs(&[a, b], &[p], &[]).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap().config.lock_id, 10);
    assert_eq!(s.container(&rid('2')).unwrap().config.lock_id, 11);
    assert_eq!(s.pod(&rid('9')).unwrap().config.lock_id, 12);
});

/// A record of a kind the state knows nothing of (as images and volumes
/// will be): it refers to a volume and an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Thing {
    id: String,
    image: String,
    volumes: Vec<String>,
}

impl Item for Thing {
    const KIND: &'static str = "thing";
    fn id(&self) -> &str {
        &self.id
    }
    fn refs(&self) -> Vec<(String, String)> {
        let mut r = vec![("image".to_owned(), self.image.clone())];
        r.extend(
            self.volumes
                .iter()
                .map(|v| ("volume".to_owned(), v.clone())),
        );
        r
    }
}

fn thing(id: &str, image: &str, volumes: &[&str]) -> Thing {
    Thing {
        id: id.into(),
        image: image.into(),
        volumes: volumes.iter().map(|v| v.to_string()).collect(),
    }
}

both!(items_are_stored_listed_and_indexed_by_the_store, |s| {
    s.put_item(&thing("t1", "img-a", &["v1", "v2"])).unwrap();
    s.put_item(&thing("t2", "img-a", &["v2"])).unwrap();
    assert_eq!(
        s.item::<Thing>("t1").unwrap(),
        Some(thing("t1", "img-a", &["v1", "v2"]))
    );
    assert_eq!(s.item::<Thing>("nope").unwrap(), None);
    let all: Vec<Thing> = s
        .all_items::<Thing>()
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.len(), 2);
    let users = |s: &dyn State, index: &str, target: &str| -> Vec<String> {
        s.referrers(index, target)
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    };
    assert_eq!(users(s, "image", "img-a"), ["t1", "t2"]);
    assert_eq!(users(s, "volume", "v2"), ["t1", "t2"]);
    // An update replaces the edges: t1 leaves img-a and v1.
    s.put_item(&thing("t1", "img-b", &["v2"])).unwrap();
    assert_eq!(users(s, "image", "img-a"), ["t2"]);
    assert_eq!(users(s, "image", "img-b"), ["t1"]);
    assert!(users(s, "volume", "v1").is_empty());
    s.remove_item::<Thing>("t2").unwrap();
    assert_eq!(users(s, "volume", "v2"), ["t1"]);
    assert!(users(s, "image", "img-a").is_empty());
    assert_err!(s.remove_item::<Thing>("t2"), Error::ItemNotFound { .. });
    // Containers and pods are untouched by items, and the other way round.
    s.add_container(&ctr(&rid('1'), "c1")).unwrap();
    assert_eq!(s.all_items::<Thing>().unwrap().len(), 1);
});

both!(an_item_batch_is_one_transaction, |s| {
    s.put_item(&thing("keep", "img", &[])).unwrap();
    let ops = vec![
        ItemOp::put(&thing("new", "img", &["v"])).unwrap(),
        ItemOp::remove::<Thing>("keep"),
        ItemOp::remove::<Thing>("missing"),
    ];
    assert_err!(s.write_items(&ops), Error::ItemNotFound { .. });
    assert!(
        s.item::<Thing>("new").unwrap().is_none(),
        "nothing of a failed batch stays"
    );
    assert!(s.item::<Thing>("keep").unwrap().is_some());
    assert!(s.referrers("volume", "v").unwrap().is_empty());
    s.write_items(&ops[..2]).unwrap();
    assert!(s.item::<Thing>("keep").unwrap().is_none());
    assert_eq!(
        s.referrers("image", "img").unwrap(),
        [("thing".to_owned(), "new".to_owned())]
    );
});

both!(item_keys_are_checked, |s| {
    assert_err!(
        s.put_item(&thing("a/b", "img", &[])),
        Error::InvalidItemKey { what: "id", .. }
    );
    assert_err!(
        s.put_item(&thing("", "img", &[])),
        Error::InvalidItemKey { .. }
    );
    assert_err!(
        s.put_item(&thing("a", "x/y", &[])),
        Error::InvalidItemKey { what: "target", .. }
    );
    assert_err!(s.item::<Thing>("../x"), Error::InvalidItemKey { .. });
    assert_err!(
        s.referrers("", "t"),
        Error::InvalidItemKey { what: "index", .. }
    );
    s.write_items(&[ItemOp::Put {
        kind: "thing".into(),
        id: "bad".into(),
        value: b"{not json".to_vec(),
        refs: vec![],
    }])
    .unwrap();
    assert_err!(s.item::<Thing>("bad"), Error::Corrupt { .. });
    let all = s.all_items::<Thing>().unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].is_err(), "an undecodable item is reported in place");
});

both!(
    verify_reads_every_entry_and_names_what_does_not_decode,
    |s| {
        s.add_container(&ctr(&rid('1'), "c1")).unwrap();
        assert_eq!(s.verify().unwrap(), Vec::<String>::new());
    }
);

both!(rename_frees_the_old_name_and_refuses_a_taken_one, |s| {
    s.add_container(&ctr(&rid('1'), "old")).unwrap();
    s.add_container(&ctr(&rid('2'), "other")).unwrap();
    s.add_pod(&pod(&rid('3'), "apod")).unwrap();
    let renamed = s.rename_container(&rid('1'), "new").unwrap();
    assert_eq!(renamed.config.name, "new");
    assert_eq!(s.lookup_container("new").unwrap().config.id, rid('1'));
    assert_err!(s.lookup_container("old"), Error::NotFound { .. });
    // The old name is free again; taken names and bad names are refused
    // and change nothing.
    s.add_container(&ctr(&rid('4'), "old")).unwrap();
    assert_err!(
        s.rename_container(&rid('1'), "other"),
        Error::NameInUse { .. }
    );
    assert_err!(
        s.rename_container(&rid('1'), "apod"),
        Error::NameInUse { .. }
    );
    assert_err!(
        s.rename_container(&rid('1'), "bad/name"),
        Error::InvalidName { .. }
    );
    assert_err!(s.rename_container(&rid('9'), "x"), Error::NotFound { .. });
    assert_eq!(s.container(&rid('1')).unwrap().config.name, "new");
    // Renaming to its own name is a no-op.
    s.rename_container(&rid('1'), "new").unwrap();
});
