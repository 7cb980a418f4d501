//! LMDB-only behaviour: persistence, shared handles, and each bad input
//! (damaged file, full map, unknown schema) giving its own error.

use std::io::{Seek, SeekFrom, Write};

use super::*;

#[test]
fn records_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
        s.add_pod(&pod(&rid('9'), "pod1")).unwrap();
        s.add_container(&ctr(&rid('1'), "test1")).unwrap();
        assert!(s.path().ends_with("state"));
        assert!(s.path().join("data.mdb").exists());
    }
    let s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap(), ctr(&rid('1'), "test1"));
    assert_eq!(s.lookup_pod("pod1").unwrap().config.id, rid('9'));
    check_integrity(&s.store.dump().unwrap());
}

#[test]
fn second_handle_in_one_process_shares_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    let mut b = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    a.add_container(&in_ns_helper(ctr(&rid('1'), "test1"), "ns1"))
        .unwrap();
    let st = ContainerState {
        status: ContainerStatus::Stopped,
        exit_code: 127,
        exited: true,
        finished_at: Some(Timestamp::from_second(1_700_000_100).unwrap()),
        ..Default::default()
    };
    a.update_container_state(&rid('1'), &st).unwrap();
    assert_eq!(b.container(&rid('1')).unwrap().state, st);
    // Each handle has its own namespace.
    b.set_namespace("ns2");
    assert!(!b.has_container(&rid('1')).unwrap());
    assert!(a.has_container(&rid('1')).unwrap());
    b.close().unwrap();
    assert!(a.has_container(&rid('1')).unwrap());
}

fn in_ns_helper(mut c: Container, ns: &str) -> Container {
    c.config.namespace = ns.to_string();
    c
}

fn make_db(dir: &std::path::Path) {
    let mut s = LmdbState::open(dir, &LmdbOptions::default()).unwrap();
    s.add_container(&ctr(&rid('1'), "test1")).unwrap();
}

#[test]
fn damaged_header_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let data = dir.path().join("state/data.mdb");
    let mut f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.write_all(&[0xab; 8192]).unwrap();
    drop(f);
    let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("data") || msg.contains("damaged"), "{msg}");
    assert!(msg.contains("oxpod system reset"), "{msg}");
}

#[test]
fn file_that_is_not_lmdb_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let text: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("state/data.mdb"), text).unwrap();
    let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
}

#[test]
fn truncated_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let data = dir.path().join("state/data.mdb");
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.set_len(100).unwrap();
    drop(f);
    let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
}

#[test]
fn damaged_second_meta_page_falls_back_to_the_first() {
    // LMDB keeps two meta pages; damaging the older one loses nothing.
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let data = dir.path().join("state/data.mdb");
    let mut f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.seek(SeekFrom::Start(4096 + 16)).unwrap();
    f.write_all(&[0xab; 64]).unwrap();
    drop(f);
    match LmdbState::open(dir.path(), &LmdbOptions::default()) {
        Ok(s) => {
            // Whichever meta page survived, reading must not panic.
            let _ = s.all_containers();
        }
        Err(e) => assert!(matches!(e, Error::Damaged { .. }), "{e:?}"),
    }
}

#[test]
fn full_map_is_a_clear_error_and_keeps_committed_records() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = LmdbOptions {
        map_size: 128 * 1024,
        ..Default::default()
    };
    let mut n = 0;
    let err = {
        let mut s = LmdbState::open(dir.path(), &tiny).unwrap();
        loop {
            let mut c = ctr(&format!("{n:064x}"), &format!("c{n}"));
            c.config.env = vec!["X".repeat(512); 4];
            match s.add_container(&c) {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
            assert!(n < 10_000, "the map never filled");
        }
    };
    assert!(matches!(err, Error::MapFull { .. }), "{err:?}");
    assert!(err.to_string().contains("larger map size"), "{err}");
    assert!(n > 10, "only {n} records fit");
    // Everything committed before is intact; a larger map lets it grow.
    let mut s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
    let l = s.all_containers().unwrap();
    assert_eq!(l.items.len(), n);
    assert!(l.skipped.is_empty());
    check_integrity(&s.store.dump().unwrap());
    s.add_container(&ctr(&rid('z'), "after")).unwrap();
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
        s.add_container(&ctr(&rid('1'), "test1")).unwrap();
        s.store
            .raw_put(Table::Meta, b"schema-version", b"99")
            .unwrap();
    }
    match LmdbState::open(dir.path(), &LmdbOptions::default()) {
        Err(Error::SchemaTooNew {
            found, supported, ..
        }) => assert_eq!((found, supported), (99, SCHEMA_VERSION)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_schema_version_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap();
        s.store
            .raw_put(Table::Meta, b"schema-version", b"one")
            .unwrap();
    }
    match LmdbState::open(dir.path(), &LmdbOptions::default()) {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, "meta/schema-version"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn current_schema_is_written_on_creation() {
    let (s, _dir) = lmdb();
    let dump = s.store.dump().unwrap();
    assert!(dump.iter().any(|(t, k, v)| *t == Table::Meta
        && k == b"schema-version"
        && v == SCHEMA_VERSION.to_string().as_bytes()));
}

#[test]
fn unwritable_parent_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    // A regular file where the directory should be.
    let err = LmdbState::open(&file, &LmdbOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}
