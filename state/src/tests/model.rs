//! Model-based test: random sequences of operations applied to an
//! `LmdbState` and an `InMemoryState` give the same results, and leave the
//! same tables behind, which are internally consistent.

use proptest::prelude::*;

use super::*;

const IDS: [&str; 6] = ["aa01", "aa02", "ab01", "b001", "b002", "c001"];
const POD_IDS: [&str; 3] = ["aa03", "c002", "d001"];
const NAMES: [&str; 5] = ["web", "db", "cache", "web2", "pod"];
const NAMESPACES: [&str; 2] = ["", "ns1"];

#[derive(Debug, Clone)]
enum Op {
    AddCtr {
        id: usize,
        name: usize,
        ns: usize,
        deps: Vec<usize>,
        pod: Option<usize>,
        via_pod: bool,
    },
    AddPod {
        id: usize,
        name: usize,
        ns: usize,
    },
    RemoveCtr(usize),
    RemoveFromPod(usize, usize),
    RemovePod(usize),
    RemovePodContainers(usize),
    Lookup(String),
    LookupPod(String),
    Get(usize),
    UpdateState(usize, u8),
    SetNs(usize),
    All,
    AllPods,
    Dependents(usize),
    PodContainers(usize),
    Refresh,
}

fn lookup_key() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..IDS.len()).prop_map(|i| IDS[i].to_string()),
        (0..POD_IDS.len()).prop_map(|i| POD_IDS[i].to_string()),
        (0..NAMES.len()).prop_map(|i| NAMES[i].to_string()),
        prop_oneof![
            Just("a"),
            Just("aa"),
            Just("ab"),
            Just("b"),
            Just("c"),
            Just("x")
        ]
        .prop_map(str::to_string),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (
            0..IDS.len(),
            0..NAMES.len(),
            0..NAMESPACES.len(),
            proptest::collection::vec(0..IDS.len(), 0..2),
            proptest::option::of(0..POD_IDS.len()),
            any::<bool>(),
        )
            .prop_map(|(id, name, ns, deps, pod, via_pod)| Op::AddCtr {
                id,
                name,
                ns,
                deps,
                pod,
                via_pod
            }),
        4 => (0..POD_IDS.len(), 0..NAMES.len(), 0..NAMESPACES.len())
            .prop_map(|(id, name, ns)| Op::AddPod { id, name, ns }),
        2 => (0..IDS.len()).prop_map(Op::RemoveCtr),
        1 => (0..POD_IDS.len(), 0..IDS.len()).prop_map(|(p, c)| Op::RemoveFromPod(p, c)),
        1 => (0..POD_IDS.len()).prop_map(Op::RemovePod),
        1 => (0..POD_IDS.len()).prop_map(Op::RemovePodContainers),
        2 => lookup_key().prop_map(Op::Lookup),
        1 => lookup_key().prop_map(Op::LookupPod),
        1 => (0..IDS.len()).prop_map(Op::Get),
        1 => (0..IDS.len(), 0..7u8).prop_map(|(i, s)| Op::UpdateState(i, s)),
        1 => (0..NAMESPACES.len()).prop_map(Op::SetNs),
        1 => Just(Op::All),
        1 => Just(Op::AllPods),
        1 => (0..IDS.len()).prop_map(Op::Dependents),
        1 => (0..POD_IDS.len()).prop_map(Op::PodContainers),
        1 => Just(Op::Refresh),
    ]
}

fn show<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {e}"),
    }
}

fn apply(s: &mut dyn State, op: &Op) -> String {
    match op {
        Op::AddCtr {
            id,
            name,
            ns,
            deps,
            pod,
            via_pod,
        } => {
            let mut c = ctr(IDS[*id], NAMES[*name]);
            c.config.namespace = NAMESPACES[*ns].to_string();
            c.config.dependencies = deps.iter().map(|d| IDS[*d].to_string()).collect();
            c.config.pod = pod.map(|p| POD_IDS[p].to_string());
            match (via_pod, pod) {
                (true, Some(p)) => show(s.add_container_to_pod(POD_IDS[*p], &c)),
                (true, None) => show(s.add_container_to_pod(POD_IDS[0], &c)),
                (false, _) => show(s.add_container(&c)),
            }
        }
        Op::AddPod { id, name, ns } => {
            let mut p = pod(POD_IDS[*id], NAMES[*name]);
            p.config.namespace = NAMESPACES[*ns].to_string();
            show(s.add_pod(&p))
        }
        Op::RemoveCtr(i) => show(s.remove_container(IDS[*i])),
        Op::RemoveFromPod(p, c) => show(s.remove_container_from_pod(POD_IDS[*p], IDS[*c])),
        Op::RemovePod(p) => show(s.remove_pod(POD_IDS[*p])),
        Op::RemovePodContainers(p) => show(s.remove_pod_containers(POD_IDS[*p])),
        Op::Lookup(k) => show(s.lookup_container(k)),
        Op::LookupPod(k) => show(s.lookup_pod(k)),
        Op::Get(i) => show(s.container(IDS[*i])),
        Op::UpdateState(i, st) => {
            let state = ContainerState {
                status: ContainerStatus::ALL[*st as usize % 7],
                pid: Some(u32::from(*st) + 100),
                ..Default::default()
            };
            show(s.update_container_state(IDS[*i], &state))
        }
        Op::SetNs(n) => {
            s.set_namespace(NAMESPACES[*n]);
            String::new()
        }
        Op::All => show(s.all_containers()),
        Op::AllPods => show(s.all_pods()),
        Op::Dependents(i) => show(s.container_dependents(IDS[*i])),
        Op::PodContainers(p) => show(s.pod_containers(POD_IDS[*p])),
        Op::Refresh => show(s.refresh()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn lmdb_and_memory_agree(ops in proptest::collection::vec(op(), 1..60)) {
        let mut mem = InMemoryState::new();
        let (mut disk, _dir) = lmdb();
        for (i, op) in ops.iter().enumerate() {
            let a = apply(&mut mem, op);
            let b = apply(&mut disk, op);
            prop_assert_eq!(&a, &b, "step {} {:?}", i, op);
        }
        let m = mem.store.dump().unwrap();
        let d = disk.store.dump().unwrap();
        prop_assert_eq!(&m, &d);
        check_integrity(&d);
    }
}
