//! Versions and packages of conmon and the OCI runtimes, for `info`.
//!
//! Probing runs the programs (`runc --version` is a Go start-up, ~10 ms),
//! so the answers are kept in `<tmp dir>/probes.json`, keyed by the
//! binary's path, size, inode and modification time: an upgraded binary is
//! probed again, an unchanged one never is. The file is per boot (tmp
//! dir) and a damaged one is simply probed over.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::debug;

/// What is known of one binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Probe {
    len: u64,
    ino: u64,
    mtime_ns: i64,
    pub version: String,
    pub package: String,
}

/// The binary's identity now; `None` when it cannot be read.
fn stamp(path: &Path) -> Option<(u64, u64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
}

/// Probes each `(path, version probe)` not already known for its current
/// stamp, all at once, and returns path → probe in the order given.
pub(crate) fn probe_all(
    cache_file: &Path,
    programs: &[(&Path, &(dyn Fn() -> String + Sync))],
) -> Vec<Probe> {
    let mut cache: BTreeMap<PathBuf, Probe> = std::fs::read(cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let fresh = |path: &Path, cache: &BTreeMap<PathBuf, Probe>| {
        let (len, ino, mtime_ns) = stamp(path)?;
        cache
            .get(path)
            .filter(|p| (p.len, p.ino, p.mtime_ns) == (len, ino, mtime_ns))
            .cloned()
    };
    let missing: Vec<usize> = (0..programs.len())
        .filter(|&i| fresh(programs[i].0, &cache).is_none())
        .collect();
    if !missing.is_empty() {
        // Two probes per program (version, package): run them all at once,
        // so `info` costs the slowest one, not their sum.
        let probed: Vec<(usize, Probe)> = std::thread::scope(|s| {
            let handles: Vec<_> = missing
                .iter()
                .map(|&i| {
                    let (path, version) = programs[i];
                    let package = s.spawn(move || oxpod_ociruntime::package_of(path));
                    let version = s.spawn(version);
                    (i, package, version)
                })
                .collect();
            handles
                .into_iter()
                .map(|(i, package, version)| {
                    let (len, ino, mtime_ns) = stamp(programs[i].0).unwrap_or_default();
                    let probe = Probe {
                        len,
                        ino,
                        mtime_ns,
                        version: version.join().unwrap_or_default(),
                        package: package.join().unwrap_or_default(),
                    };
                    (i, probe)
                })
                .collect()
        });
        for (i, probe) in probed {
            cache.insert(programs[i].0.to_path_buf(), probe);
        }
        save(cache_file, &cache);
    }
    programs
        .iter()
        .map(|(path, _)| {
            cache.get(*path).cloned().unwrap_or(Probe {
                len: 0,
                ino: 0,
                mtime_ns: 0,
                version: String::new(),
                package: "Unknown".to_owned(),
            })
        })
        .collect()
}

/// Writes the cache atomically; a failure only costs a probe next time.
fn save(cache_file: &Path, cache: &BTreeMap<PathBuf, Probe>) {
    let tmp = cache_file.with_extension(format!("tmp{}", std::process::id()));
    let result = serde_json::to_vec(cache)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, cache_file));
    if let Err(e) = result {
        debug!(path = %cache_file.display(), error = %e, "cannot save probe cache");
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn probes_once_until_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        std::fs::write(&bin, "v1").unwrap();
        let cache = dir.path().join("probes.json");
        let calls = AtomicUsize::new(0);
        let version = || {
            calls.fetch_add(1, Ordering::SeqCst);
            "tool version 1".to_owned()
        };
        let first = probe_all(&cache, &[(&bin, &version)]);
        let second = probe_all(&cache, &[(&bin, &version)]);
        assert_eq!(first, second);
        assert_eq!(first[0].version, "tool version 1");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the second call used the cache"
        );
        std::fs::write(&bin, "version two").unwrap();
        probe_all(&cache, &[(&bin, &version)]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "a changed binary is probed again"
        );
        std::fs::write(&cache, "not json").unwrap();
        probe_all(&cache, &[(&bin, &version)]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "a damaged cache is probed over"
        );
    }
}
