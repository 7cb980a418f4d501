//! Finding conmon and the OCI runtimes from plain configuration values
//! (`conmon_path`, `runtimes`, `runtime`, `runtime_path`,
//! `runtime_supports_json`), as podman does, with clearer errors.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::runtime::OciRuntime;

/// Why a candidate path was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unusable {
    Missing,
    Directory,
    NotRegular,
    NotExecutable,
}

fn check_candidate(path: &Path, want_regular: bool) -> Result<Option<Unusable>> {
    match fs::metadata(path) {
        Ok(meta) => {
            if meta.is_dir() {
                Ok(Some(Unusable::Directory))
            } else if want_regular && !meta.is_file() {
                Ok(Some(Unusable::NotRegular))
            } else if meta.permissions().mode() & 0o111 == 0 {
                Ok(Some(Unusable::NotExecutable))
            } else {
                Ok(None)
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(Unusable::Missing)),
        // A dangling symlink's target, or a path through a non-directory.
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => Ok(Some(Unusable::Missing)),
        Err(e) => Err(Error::io("cannot stat", path, e)),
    }
}

/// Returns the first entry of `candidates` that exists, is not a directory
/// and is executable (symlinks are followed; the path returned is the
/// configured one). Otherwise [`Error::ConmonNotFound`] lists every path.
pub fn find_conmon(candidates: &[PathBuf]) -> Result<PathBuf> {
    for path in candidates {
        match check_candidate(path, false) {
            Ok(None) => {
                tracing::debug!("using conmon {}", path.display());
                return Ok(path.clone());
            }
            Ok(Some(why)) => {
                tracing::debug!("conmon candidate {} skipped: {why:?}", path.display())
            }
            Err(e) => tracing::warn!("conmon candidate skipped: {e}"),
        }
    }
    Err(Error::ConmonNotFound {
        tried: candidates.to_vec(),
    })
}

/// Returns the first entry of `candidates` that is a regular executable
/// file (symlinks followed). A path that exists but cannot be inspected
/// (permission denied on a parent, ...) is an error, as in podman.
pub fn find_runtime_binary(name: &str, candidates: &[PathBuf]) -> Result<PathBuf> {
    if name.is_empty() {
        return Err(Error::InvalidConfig {
            message: "the OCI runtime must be given a non-empty name".to_owned(),
        });
    }
    for path in candidates {
        match check_candidate(path, true)? {
            None => return Ok(path.clone()),
            Some(why) => tracing::debug!(
                "runtime {name}: candidate {} skipped: {why:?}",
                path.display()
            ),
        }
    }
    Err(Error::RuntimeNotFound {
        name: name.to_owned(),
        tried: candidates.to_vec(),
    })
}

/// The configuration values runtime discovery needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// The `[runtimes]` table: name → candidate paths. A runtime none of
    /// whose paths is usable is skipped with a warning.
    pub runtimes: BTreeMap<String, Vec<PathBuf>>,
    /// The `runtime` key: a name from `runtimes`, or an absolute path.
    /// Empty means "not set" (then the deprecated `runtime_path` must give
    /// the default).
    pub default_runtime: String,
    /// The deprecated `runtime_path` key. When set it wins (with a
    /// warning), as in podman; `Some(vec![])` is an error.
    pub runtime_path: Option<Vec<PathBuf>>,
    /// `runtime_supports_json`: names of runtimes that accept
    /// `--log-format=json`.
    pub supports_json: Vec<String>,
    /// When set, each runtime keeps its state under `<state_root>/<name>`
    /// (passed as `--root`), instead of the runtime's own default.
    pub state_root: Option<PathBuf>,
    /// Tell every runtime to use the systemd cgroup driver.
    pub systemd_cgroup: bool,
    /// Runtimes whose absence is logged at debug level instead of as a
    /// warning (those that come from built-in defaults, not from the user).
    pub quiet_missing: std::collections::BTreeSet<String>,
}

/// The usable runtimes and which one is the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtimes {
    by_name: BTreeMap<String, OciRuntime>,
    default: String,
}

impl Runtimes {
    /// The default runtime.
    pub fn default(&self) -> &OciRuntime {
        // `discover` registers the default before constructing `Runtimes`,
        // and nothing removes entries afterwards.
        &self.by_name[&self.default]
    }

    /// The default runtime's name.
    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The runtime registered under `name`. An empty name means the
    /// default; a name starting with `/` is reduced to its basename (podman
    /// records absolute paths that way).
    pub fn get(&self, name: &str) -> Option<&OciRuntime> {
        if name.is_empty() {
            return Some(self.default());
        }
        let key = if name.starts_with('/') {
            Path::new(name)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(name)
        } else {
            name
        };
        self.by_name.get(key)
    }

    /// Every usable runtime, sorted by name.
    pub fn all(&self) -> impl Iterator<Item = &OciRuntime> {
        self.by_name.values()
    }

    /// Number of usable runtimes.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Always false: discovery never returns an empty set.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

fn basename(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidConfig {
            message: format!("runtime path {} has no file name", path.display()),
        })
}

/// Builds the set of runtimes from configuration, in podman's order: the
/// deprecated `runtime_path` (fatal if unusable; becomes the default), the
/// `runtimes` table (an unusable entry is a warning), then the `runtime`
/// default (a registered name, or an absolute path that must be usable).
/// Nothing is executed: versions are probed only on request.
pub fn discover(options: DiscoveryOptions) -> Result<Runtimes> {
    let make = |name: &str, path: PathBuf| {
        let file = Path::new(name)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(name);
        let mut rt = OciRuntime::new(name, path)
            .with_supports_json(options.supports_json.iter().any(|n| n == name || n == file))
            .with_systemd_cgroup(options.systemd_cgroup);
        if let Some(base) = &options.state_root {
            // A runtime named by its path keeps its state under its file name.
            let dir = Path::new(name)
                .file_name()
                .map_or_else(|| name.into(), PathBuf::from);
            rt = rt.with_root(base.join(dir));
        }
        rt
    };

    let mut by_name = BTreeMap::new();
    let mut default: Option<String> = None;

    if let Some(paths) = &options.runtime_path {
        tracing::warn!(
            "the runtime_path option is deprecated and takes precedence over runtime; use runtime and runtimes instead"
        );
        let first = paths.first().ok_or_else(|| Error::InvalidConfig {
            message: "runtime_path: empty runtime path array passed; remove the key or give a path"
                .to_owned(),
        })?;
        let name = basename(first)?;
        let path = find_runtime_binary(&name, paths)?;
        by_name.insert(name.clone(), make(&name, path));
        default = Some(name);
    }

    for (name, paths) in &options.runtimes {
        if paths.is_empty() {
            return Err(Error::InvalidConfig {
                message: format!(
                    "runtimes.{name}: must provide at least 1 path to OCI runtime {name}"
                ),
            });
        }
        if by_name.contains_key(name) {
            // runtime_path already registered this name and wins.
            continue;
        }
        match find_runtime_binary(name, paths) {
            Ok(path) => {
                by_name.insert(name.clone(), make(name, path));
            }
            // A runtime the user configured is worth a warning; one that
            // is only in the built-in candidate list (youki on a host
            // without it) is not.
            Err(e) if options.quiet_missing.contains(name) => {
                tracing::debug!("OCI runtime {name} not available: {e}")
            }
            Err(e) => tracing::warn!("error initializing configured OCI runtime {name}: {e}"),
        }
    }

    if default.is_none() && !options.default_runtime.is_empty() {
        let want = &options.default_runtime;
        if want.starts_with('/') {
            // Registered under its path, so the containers made with it
            // record the path and can be run again without the flag
            // (they recorded only the file name, which nothing knew later).
            let path = PathBuf::from(want);
            let file = basename(&path)?;
            let path = find_runtime_binary(&file, &[path])?;
            by_name.insert(want.clone(), make(want, path));
            default = Some(want.clone());
        } else if by_name.contains_key(want) {
            default = Some(want.clone());
        } else if let Some(paths) = options.runtimes.get(want) {
            // Configured but unusable: say which paths were tried.
            return Err(Error::RuntimeNotFound {
                name: want.clone(),
                tried: paths.clone(),
            });
        } else {
            return Err(Error::DefaultRuntimeNotFound { name: want.clone() });
        }
    }

    if by_name.is_empty() {
        return Err(Error::NoRuntimes);
    }
    let default = default.ok_or(Error::NoDefaultRuntime)?;
    Ok(Runtimes { by_name, default })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Dir {
        tmp: tempfile::TempDir,
    }

    impl Dir {
        fn new() -> Self {
            Dir {
                tmp: tempfile::tempdir().unwrap(),
            }
        }
        fn path(&self, name: &str) -> PathBuf {
            self.tmp.path().join(name)
        }
        fn file(&self, name: &str, mode: u32) -> PathBuf {
            let p = self.path(name);
            fs::write(&p, "#!/bin/sh\necho fake 1.0\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            p
        }
        fn dir(&self, name: &str) -> PathBuf {
            let p = self.path(name);
            fs::create_dir(&p).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            p
        }
        fn link(&self, name: &str, target: &Path) -> PathBuf {
            let p = self.path(name);
            symlink(target, &p).unwrap();
            p
        }
    }

    #[test]
    fn conmon_skips_missing_dirs_and_non_executables() {
        let d = Dir::new();
        let missing = d.path("missing");
        let dir = d.dir("conmon-dir");
        let plain = d.file("plain", 0o644);
        let dangling = d.link("dangling", &d.path("nowhere"));
        let real = d.file("conmon", 0o755);
        let got = find_conmon(&[
            missing.clone(),
            dir.clone(),
            plain.clone(),
            dangling,
            real.clone(),
        ]);
        assert_eq!(got.unwrap(), real);

        let err = find_conmon(&[missing.clone(), dir.clone(), plain.clone()]).unwrap_err();
        match err {
            Error::ConmonNotFound { tried } => assert_eq!(tried, vec![missing, dir, plain]),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn conmon_symlink_to_binary_is_taken_as_configured() {
        let d = Dir::new();
        let real = d.file("conmon-real", 0o755);
        let link = d.link("conmon", &real);
        assert_eq!(find_conmon(std::slice::from_ref(&link)).unwrap(), link);
        // A symlink to a directory is a directory.
        let dir = d.dir("somedir");
        let dlink = d.link("dirlink", &dir);
        assert!(find_conmon(&[dlink]).is_err());
    }

    #[test]
    fn real_conmon_found_when_installed() {
        let paths = [PathBuf::from("/usr/bin/conmon")];
        if !paths[0].exists() {
            crate::test_support::skip_or_fail("conmon not installed");
            return;
        }
        assert_eq!(find_conmon(&paths).unwrap(), paths[0]);
    }

    fn table(entries: &[(&str, Vec<PathBuf>)]) -> BTreeMap<String, Vec<PathBuf>> {
        entries
            .iter()
            .map(|(n, p)| ((*n).to_owned(), p.clone()))
            .collect()
    }

    #[test]
    fn runtimes_table_first_regular_executable_wins() {
        let d = Dir::new();
        let dir = d.dir("runc-dir");
        let noexec = d.file("runc-noexec", 0o644);
        let real = d.file("runc", 0o755);
        let link = d.link("runc-link", &real);
        let opts = DiscoveryOptions {
            runtimes: table(&[(
                "runc",
                vec![d.path("nope"), dir, noexec, link.clone(), real],
            )]),
            default_runtime: "runc".into(),
            supports_json: vec!["runc".into()],
            ..Default::default()
        };
        let rts = discover(opts).unwrap();
        assert_eq!(rts.default().name, "runc");
        assert_eq!(rts.default().path, link);
        assert!(rts.default().supports_json);
        assert_eq!(rts.len(), 1);
        assert_eq!(rts.get("runc").map(|r| &r.path), Some(&link));
        assert_eq!(rts.get("").map(|r| r.name.as_str()), Some("runc"));
        assert_eq!(
            rts.get("/usr/sbin/runc").map(|r| r.name.as_str()),
            Some("runc")
        );
        assert!(rts.get("crun").is_none());
    }

    #[test]
    fn missing_optional_runtime_is_only_skipped() {
        let d = Dir::new();
        let runc = d.file("runc", 0o755);
        let opts = DiscoveryOptions {
            runtimes: table(&[
                ("runc", vec![runc.clone()]),
                ("kata", vec![d.path("kata-missing")]),
            ]),
            default_runtime: "runc".into(),
            ..Default::default()
        };
        let rts = discover(opts).unwrap();
        assert_eq!(
            rts.all().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["runc"]
        );
        assert!(!rts.default().supports_json);
    }

    #[test]
    fn missing_default_is_an_error_naming_paths() {
        let d = Dir::new();
        let crun = d.file("crun", 0o755);
        let missing = d.path("runc");
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![missing.clone()]), ("crun", vec![crun])]),
            default_runtime: "runc".into(),
            ..Default::default()
        };
        match discover(opts).unwrap_err() {
            Error::RuntimeNotFound { name, tried } => {
                assert_eq!(name, "runc");
                assert_eq!(tried, vec![missing]);
            }
            other => panic!("unexpected {other}"),
        }

        let opts = DiscoveryOptions {
            runtimes: table(&[("crun", vec![d.path("crun")])]),
            default_runtime: "youki".into(),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::DefaultRuntimeNotFound { name } if name == "youki"
        ));
    }

    #[test]
    fn no_runtime_and_no_default() {
        let d = Dir::new();
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![d.path("missing")])]),
            ..Default::default()
        };
        assert!(matches!(discover(opts).unwrap_err(), Error::NoRuntimes));
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![d.file("runc", 0o755)])]),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::NoDefaultRuntime
        ));
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![])]),
            default_runtime: "runc".into(),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::InvalidConfig { .. }
        ));
    }

    #[test]
    fn default_as_absolute_path() {
        let d = Dir::new();
        let custom = d.file("my-runtime", 0o755);
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![d.file("runc", 0o755)])]),
            default_runtime: custom.display().to_string(),
            supports_json: vec!["my-runtime".into()],
            ..Default::default()
        };
        let rts = discover(opts).unwrap();
        // Named by its path, so containers record where it is.
        assert_eq!(rts.default().name, custom.display().to_string());
        assert_eq!(rts.default().path, custom);
        assert!(rts.default().supports_json);
        assert_eq!(rts.len(), 2);

        let opts = DiscoveryOptions {
            default_runtime: d.path("absent").display().to_string(),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::RuntimeNotFound { name, .. } if name == "absent"
        ));
        let opts = DiscoveryOptions {
            default_runtime: d.dir("adir").display().to_string(),
            ..Default::default()
        };
        assert!(discover(opts).is_err());
    }

    #[test]
    fn deprecated_runtime_path_wins() {
        let d = Dir::new();
        let old = d.file("oldrunc", 0o755);
        let runc = d.file("runc", 0o755);
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![runc])]),
            default_runtime: "runc".into(),
            runtime_path: Some(vec![d.path("missing"), old.clone()]),
            supports_json: vec!["missing".into()],
            ..Default::default()
        };
        let rts = discover(opts).unwrap();
        // Named after the basename of the first entry, like podman.
        assert_eq!(rts.default_name(), "missing");
        assert_eq!(rts.default().path, old);
        assert!(rts.default().supports_json);
        assert!(rts.get("runc").is_some());

        let opts = DiscoveryOptions {
            runtime_path: Some(vec![]),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::InvalidConfig { .. }
        ));
        let opts = DiscoveryOptions {
            runtime_path: Some(vec![d.path("gone")]),
            default_runtime: "runc".into(),
            runtimes: table(&[("runc", vec![d.path("runc")])]),
            ..Default::default()
        };
        assert!(matches!(
            discover(opts).unwrap_err(),
            Error::RuntimeNotFound { .. }
        ));
    }

    #[test]
    fn state_root_and_systemd_flag_applied() {
        let d = Dir::new();
        let opts = DiscoveryOptions {
            runtimes: table(&[("runc", vec![d.file("runc", 0o755)])]),
            default_runtime: "runc".into(),
            state_root: Some(d.path("state")),
            systemd_cgroup: true,
            ..Default::default()
        };
        let rts = discover(opts).unwrap();
        assert_eq!(
            rts.default().root.as_deref(),
            Some(d.path("state/runc").as_path())
        );
        assert!(rts.default().systemd_cgroup);
    }

    #[test]
    fn real_runc_and_crun_when_installed() {
        let runc = PathBuf::from("/usr/sbin/runc");
        let crun = PathBuf::from("/usr/bin/crun");
        if !runc.exists() {
            crate::test_support::skip_or_fail("runc not installed");
            return;
        }
        let mut runtimes = table(&[("runc", vec![PathBuf::from("/usr/bin/runc"), runc.clone()])]);
        runtimes.insert("crun".into(), vec![crun.clone()]);
        let rts = discover(DiscoveryOptions {
            runtimes,
            default_runtime: "runc".into(),
            ..Default::default()
        })
        .unwrap();
        // /usr/bin/runc may be a symlink to /usr/sbin/runc: the first
        // usable configured path is kept as given.
        assert_eq!(fs::canonicalize(&rts.default().path).unwrap(), runc);
        // crun is present on this host but broken for running containers;
        // discovery only checks the binary, so it is registered.
        if crun.exists() {
            assert_eq!(rts.get("crun").map(|r| &r.path), Some(&crun));
        }
    }
}
