//! Who is running oxpod: uid, root or rootless, HOME and the XDG directories,
//! and the rootless runtime-directory fallback of podman (libpod-spec §1).

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The user oxpod runs for. Read it from the process with [`Identity::current`]
/// or build one (all fields are public) in tests.
///
/// Empty environment values count as unset, as in podman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Effective uid.
    pub uid: u32,
    /// True when not running as root (oxpod then uses per-user paths).
    pub rootless: bool,
    /// `$HOME` (symlinks resolved by [`Identity::current`]), else the passwd entry.
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$TMPDIR` (the runtime-dir fallback uses `/tmp` when it is unset).
    pub tmpdir: Option<PathBuf>,
    /// Parent of the per-user runtime dirs, `/run/user` (injectable for tests).
    pub run_user_dir: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn non_empty(p: &Option<PathBuf>) -> Option<&Path> {
    p.as_deref().filter(|p| !p.as_os_str().is_empty())
}

impl Identity {
    /// The identity of this process: effective uid, `HOME` (falling back to the
    /// passwd entry, symlinks resolved), `XDG_*` and `TMPDIR` from the environment.
    pub fn current() -> Identity {
        let uid = nix::unistd::geteuid().as_raw();
        let home = env_path("HOME").or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                .ok()
                .flatten()
                .map(|u| u.dir)
                .filter(|d| !d.as_os_str().is_empty())
        });
        // Resolve symlinks (/home -> /var/home), as podman does for HOME.
        let home = home.map(|h| std::fs::canonicalize(&h).unwrap_or(h));
        Identity {
            uid,
            rootless: uid != 0,
            home,
            xdg_config_home: env_path("XDG_CONFIG_HOME"),
            xdg_data_home: env_path("XDG_DATA_HOME"),
            xdg_runtime_dir: env_path("XDG_RUNTIME_DIR"),
            tmpdir: env_path("TMPDIR"),
            run_user_dir: PathBuf::from("/run/user"),
        }
    }

    /// Root with HOME `/root` and no XDG variables.
    pub fn root() -> Identity {
        Identity {
            uid: 0,
            rootless: false,
            home: Some(PathBuf::from("/root")),
            xdg_config_home: None,
            xdg_data_home: None,
            xdg_runtime_dir: None,
            tmpdir: None,
            run_user_dir: PathBuf::from("/run/user"),
        }
    }

    /// A rootless user with the given uid and HOME and no XDG variables.
    pub fn rootless(uid: u32, home: impl Into<PathBuf>) -> Identity {
        Identity {
            uid,
            rootless: true,
            home: Some(home.into()),
            ..Identity::root()
        }
    }

    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    pub fn config_home(&self) -> Option<PathBuf> {
        non_empty(&self.xdg_config_home)
            .map(Path::to_path_buf)
            .or_else(|| non_empty(&self.home).map(|h| h.join(".config")))
    }

    /// `$XDG_DATA_HOME`, else `$HOME/.local/share`.
    pub fn data_home(&self) -> Option<PathBuf> {
        non_empty(&self.xdg_data_home)
            .map(Path::to_path_buf)
            .or_else(|| non_empty(&self.home).map(|h| h.join(".local/share")))
    }

    /// The per-user config file `<config home>/oxpod/oxpod.conf`, for rootless
    /// users only (root reads only the system files).
    pub fn user_config_file(&self) -> Option<PathBuf> {
        if !self.rootless {
            return None;
        }
        self.config_home().map(|c| c.join("oxpod/oxpod.conf"))
    }

    /// The rootless runtime directory, in podman's order: `$XDG_RUNTIME_DIR`;
    /// `/run/user/<uid>` if it exists or can be created, is owned by the uid and
    /// has mode 0700; `$TMPDIR/run-<uid>` (TMPDIR defaults to `/tmp`) under the
    /// same checks; `$HOME/rundir`. Fails when none applies.
    ///
    /// This may create `/run/user/<uid>` or `$TMPDIR/run-<uid>` (mode 0700),
    /// exactly as podman does. For root it returns `$XDG_RUNTIME_DIR` or `/run`.
    pub fn runtime_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = non_empty(&self.xdg_runtime_dir) {
            return Ok(dir.to_path_buf());
        }
        if !self.rootless {
            return Ok(PathBuf::from("/run"));
        }
        let mut tried = Vec::new();
        let run_user = self.run_user_dir.join(self.uid.to_string());
        match self.usable_private_dir(&run_user) {
            Ok(()) => return Ok(run_user),
            Err(why) => tried.push(format!("{}: {why}", run_user.display())),
        }
        let tmp = self
            .tmpdir
            .clone()
            .filter(|t| !t.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(format!("run-{}", self.uid));
        match self.usable_private_dir(&tmp) {
            Ok(()) => return Ok(tmp),
            Err(why) => tried.push(format!("{}: {why}", tmp.display())),
        }
        if let Some(home) = non_empty(&self.home) {
            return Ok(home.join("rundir"));
        }
        tried.push("$HOME/rundir: HOME is not set".to_owned());
        Err(Error::RuntimeDir {
            uid: self.uid,
            tried: tried.join("; "),
        })
    }

    /// Creates `dir` (one level, mode 0700) if missing, then checks that it is a
    /// directory owned by this uid with mode exactly 0700.
    fn usable_private_dir(&self, dir: &Path) -> std::result::Result<(), String> {
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create: {e}")),
        }
        let meta = std::fs::metadata(dir).map_err(|e| format!("cannot stat: {e}"))?;
        if !meta.is_dir() {
            return Err("not a directory".to_owned());
        }
        if meta.uid() != self.uid {
            return Err(format!("owned by uid {}, not {}", meta.uid(), self.uid));
        }
        let mode = meta.mode() & 0o7777;
        if mode != 0o700 {
            return Err(format!("mode {mode:04o}, not 0700"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn rootless_in(dir: &Path) -> Identity {
        Identity {
            uid: me(),
            rootless: true,
            home: Some(dir.join("home")),
            xdg_config_home: None,
            xdg_data_home: None,
            xdg_runtime_dir: None,
            tmpdir: Some(dir.join("tmp")),
            run_user_dir: dir.join("run-user"),
        }
    }

    #[test]
    fn xdg_runtime_dir_wins() {
        let t = tempfile::tempdir().unwrap();
        let mut id = rootless_in(t.path());
        id.xdg_runtime_dir = Some(t.path().join("xdg"));
        assert_eq!(id.runtime_dir().unwrap(), t.path().join("xdg"));
    }

    #[test]
    fn empty_xdg_runtime_dir_is_unset() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("run-user")).unwrap();
        let mut id = rootless_in(t.path());
        id.xdg_runtime_dir = Some(PathBuf::new());
        let uid = id.uid;
        assert_eq!(
            id.runtime_dir().unwrap(),
            t.path().join(format!("run-user/{uid}"))
        );
    }

    #[test]
    fn run_user_is_created_with_mode_0700() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("run-user")).unwrap();
        let id = rootless_in(t.path());
        let dir = id.runtime_dir().unwrap();
        assert_eq!(dir, t.path().join(format!("run-user/{}", id.uid)));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn run_user_with_wrong_mode_falls_back_to_tmpdir() {
        let t = tempfile::tempdir().unwrap();
        let id = rootless_in(t.path());
        let run_user = t.path().join(format!("run-user/{}", id.uid));
        std::fs::create_dir_all(&run_user).unwrap();
        std::fs::set_permissions(&run_user, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(t.path().join("tmp")).unwrap();
        assert_eq!(
            id.runtime_dir().unwrap(),
            t.path().join(format!("tmp/run-{}", id.uid))
        );
    }

    #[test]
    fn run_user_owned_by_someone_else_falls_back() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("run-user")).unwrap();
        std::fs::create_dir(t.path().join("tmp")).unwrap();
        let mut id = rootless_in(t.path());
        // Pretend to be another user: the directories are owned by us.
        id.uid = me().wrapping_add(4242);
        std::fs::create_dir(t.path().join(format!("run-user/{}", id.uid))).unwrap();
        std::fs::create_dir(t.path().join(format!("tmp/run-{}", id.uid))).unwrap();
        assert_eq!(id.runtime_dir().unwrap(), t.path().join("home/rundir"));
    }

    #[test]
    fn nothing_usable_and_no_home_fails_clearly() {
        let t = tempfile::tempdir().unwrap();
        let mut id = rootless_in(t.path());
        // Neither run-user nor tmp exists, so nothing can be created; no HOME.
        id.home = None;
        let err = id.runtime_dir().unwrap_err().to_string();
        assert!(
            err.contains("neither XDG_RUNTIME_DIR nor HOME was set non-empty"),
            "{err}"
        );
        assert!(err.contains("run-user"), "{err}");
        assert!(err.contains("set XDG_RUNTIME_DIR"), "{err}");
    }

    #[test]
    fn home_based_dirs() {
        let id = Identity::rootless(1000, "/home/u");
        assert_eq!(id.config_home(), Some(PathBuf::from("/home/u/.config")));
        assert_eq!(id.data_home(), Some(PathBuf::from("/home/u/.local/share")));
        assert_eq!(
            id.user_config_file(),
            Some(PathBuf::from("/home/u/.config/oxpod/oxpod.conf"))
        );
        let mut id = id;
        id.xdg_config_home = Some(PathBuf::from("/cfg"));
        id.xdg_data_home = Some(PathBuf::from("/data"));
        assert_eq!(
            id.user_config_file(),
            Some(PathBuf::from("/cfg/oxpod/oxpod.conf"))
        );
        assert_eq!(id.data_home(), Some(PathBuf::from("/data")));
        assert_eq!(Identity::root().user_config_file(), None);
    }

    #[test]
    fn current_is_consistent() {
        let id = Identity::current();
        assert_eq!(id.uid, me());
        assert_eq!(id.rootless, me() != 0);
    }
}
