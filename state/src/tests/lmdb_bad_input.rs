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
    assert!(matches!(err, Error::Truncated { size: 100, .. }), "{err:?}");
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

/// A database of several hundred records, so truncating it cuts records.
fn make_big_db(dir: &std::path::Path) {
    let mut s = LmdbState::open(dir, &LmdbOptions::default()).unwrap();
    for i in 0..400u32 {
        let id = format!("{i:064x}");
        s.add_container(&ctr(&id, &format!("c{i}"))).unwrap();
    }
}

#[test]
fn truncated_at_any_point_is_an_error_never_sigbus() {
    // fault-findings 4: 75 %, 50 %, 25 % and 8 KiB crashed every command.
    for keep in [75u64, 50, 25, 0] {
        let dir = tempfile::tempdir().unwrap();
        make_big_db(dir.path());
        let data = dir.path().join("state/data.mdb");
        let size = std::fs::metadata(&data).unwrap().len();
        let len = if keep == 0 { 8192 } else { size * keep / 100 };
        std::fs::OpenOptions::new()
            .write(true)
            .open(&data)
            .unwrap()
            .set_len(len)
            .unwrap();
        // A SIGBUS here would kill the test binary: the test fails.
        let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "{keep}%: {err:?}");
        assert!(err.to_string().contains("system reset --force"), "{err}");
    }
}

#[test]
fn an_emptied_or_removed_data_file_is_reported_not_treated_as_new() {
    // fault-findings 6: `: > data.mdb` silently lost every record.
    for remove in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        make_db(dir.path());
        let data = dir.path().join("state/data.mdb");
        if remove {
            std::fs::remove_file(&data).unwrap();
        } else {
            std::fs::write(&data, b"").unwrap();
        }
        let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Emptied { .. }), "{err:?}");
    }
}

#[test]
fn a_data_file_of_another_database_is_reported() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    make_db(a.path());
    make_db(b.path());
    std::fs::copy(
        b.path().join("state/data.mdb"),
        a.path().join("state/data.mdb"),
    )
    .unwrap();
    let err = LmdbState::open(a.path(), &LmdbOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Replaced { .. }), "{err:?}");
    // Without its marker (an older oxpod's database) it opens and gets one.
    std::fs::remove_file(a.path().join("state/oxpod.id")).unwrap();
    let s = LmdbState::open(a.path(), &LmdbOptions::default()).unwrap();
    assert_eq!(s.container(&rid('1')).unwrap().config.name, "test1");
    assert!(a.path().join("state/oxpod.id").exists());
}

#[test]
fn stray_bytes_in_a_meta_page_say_so() {
    // fault-findings 9: 512 random bytes at offset 100 gave "cannot
    // allocate memory" on every command.
    let dir = tempfile::tempdir().unwrap();
    make_big_db(dir.path());
    let data = dir.path().join("state/data.mdb");
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    let noise: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8 | 0x80)
        .collect();
    std::os::unix::fs::FileExt::write_all_at(&f, &noise, 100).unwrap();
    drop(f);
    let err = LmdbState::open(dir.path(), &LmdbOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("meta page") || matches!(err, Error::Damaged { .. }),
        "{text}"
    );
    assert!(!text.contains("allocate memory"), "{text}");
}

#[test]
fn verify_sees_a_damaged_tree_page_a_listing_may_miss() {
    // fault-findings 10: noise at offset 8192 broke lookups while `ps`
    // listed everything and `system check` said "no problems".
    for page in [2u64, 3, 4] {
        let dir = tempfile::tempdir().unwrap();
        make_big_db(dir.path());
        let data = dir.path().join("state/data.mdb");
        let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
        let noise: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
            .collect();
        std::os::unix::fs::FileExt::write_all_at(&f, &noise, page * 4096).unwrap();
        drop(f);
        match LmdbState::open(dir.path(), &LmdbOptions::default()) {
            Err(e) => assert!(
                matches!(e, Error::Damaged { .. } | Error::Corrupt { .. }),
                "{e:?}"
            ),
            Ok(s) => {
                let problems = s.verify().unwrap_or_else(|e| vec![e.to_string()]);
                let listed = s.all_containers().map(|l| l.items.len()).unwrap_or(0);
                assert!(
                    !problems.is_empty() || listed == 400,
                    "page {page}: {listed} of 400 listed and verify saw nothing"
                );
            }
        }
    }
}

/// A small deterministic generator for the damage below (no dependency).
struct XorShift(u64);

impl XorShift {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

/// Exercises a damaged database: every read and a write. Errors are fine;
/// a SIGSEGV or SIGBUS kills the test binary, and so fails the test.
fn exercise(dir: &std::path::Path) -> std::result::Result<(), String> {
    let mut s = LmdbState::open(dir, &LmdbOptions::default()).map_err(|e| e.to_string())?;
    let _ = s.all_containers();
    let _ = s.all_pods();
    let _ = s.lookup_container("c7");
    let _ = s.container(&format!("{:064x}", 7));
    let _ = s.verify();
    let _ = s.add_container(&ctr(&rid('e'), "fresh"));
    let _ = s.remove_container(&format!("{:064x}", 3));
    let _ = s.all_containers();
    Ok(())
}

#[test]
fn stray_bytes_on_any_page_are_an_error_never_a_crash() {
    // fault-findings 3: 512 random bytes at 12288 (and a whole page at
    // 8192) made LMDB read past its map: SIGSEGV or SIGBUS on `ps`.
    let base = tempfile::tempdir().unwrap();
    make_big_db(base.path());
    {
        // One record larger than a page: the tree has an overflow run.
        let mut s = LmdbState::open(base.path(), &LmdbOptions::default()).unwrap();
        let mut big = ctr(&rid('b'), "big");
        big.config.labels = (0..400)
            .map(|i| (format!("label{i}"), "v".repeat(20)))
            .collect();
        s.add_container(&big).unwrap();
    }
    let original = std::fs::read(base.path().join("state/data.mdb")).unwrap();
    let marker = std::fs::read(base.path().join("state/oxpod.id")).ok();
    let pages = original.len() / 4096;
    assert!(
        pages > 20,
        "a tree of branch, leaf and overflow pages: {pages}"
    );
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0;
    for page in 2..pages {
        // (start within the page, bytes): the header, the node offsets,
        // the first 512 bytes, the whole page.
        for (start, len) in [(0, 16), (16, 48), (0, 512), (0, 4096)] {
            let mut bytes = original.clone();
            let at = page * 4096 + start;
            rng.fill(&mut bytes[at..at + len]);
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state");
            std::fs::create_dir_all(&state).unwrap();
            std::fs::write(state.join("data.mdb"), &bytes).unwrap();
            if let Some(m) = &marker {
                std::fs::write(state.join("oxpod.id"), m).unwrap();
            }
            if let Err(e) = exercise(dir.path()) {
                assert!(
                    e.contains("system reset --force") || e.contains("damaged"),
                    "page {page}: {e}"
                );
                refused += 1;
            }
        }
    }
    assert!(
        refused > pages,
        "most damage is found before LMDB reads it: {refused}"
    );
}
