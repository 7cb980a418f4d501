//! Layered loading with provenance: defaults, system files, the user file,
//! `OXPOD_CONFIG`, `--config`, flags set in code; later layers replace only the
//! keys they set (`[runtimes]` entry by entry). Then, at runtime init, values
//! from the database may fill keys that were not explicitly set.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::{Config, SetOutcome};
use crate::error::{Error, Problem, Result, Warning};
use crate::identity::Identity;

/// Default system files, lowest precedence first.
pub const SYSTEM_FILES: [&str; 2] = ["/usr/share/oxpod/oxpod.conf", "/etc/oxpod/oxpod.conf"];
/// The environment variable naming a config file that must exist.
pub const CONFIG_ENV: &str = "OXPOD_CONFIG";

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Built-in default (or derived from another key, e.g. `volume_path`).
    Default,
    /// A system or user configuration file, or `--config`.
    File(PathBuf),
    /// The file named by `OXPOD_CONFIG`.
    Env,
    /// Set in code (the CLI's flags).
    Flag,
    /// Filled from the database (never overrides an explicit value).
    Database,
}

impl Origin {
    /// File, Env and Flag are explicit; Default and Database are not.
    pub fn is_explicit(&self) -> bool {
        matches!(self, Origin::File(_) | Origin::Env | Origin::Flag)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the defaults"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env => write!(f, "the {CONFIG_ENV} file"),
            Origin::Flag => f.write_str("a command-line flag"),
            Origin::Database => f.write_str("the database"),
        }
    }
}

/// Builds a [`Loaded`] configuration from layers. Every path is injectable.
#[derive(Debug, Clone)]
pub struct Loader {
    identity: Identity,
    system_files: Vec<PathBuf>,
    user_file: Option<PathBuf>,
    env_file: Option<PathBuf>,
    config_file: Option<PathBuf>,
    flags: Vec<(String, toml::Value)>,
    strict: bool,
}

impl Loader {
    /// A loader for `identity` with the default system files, the identity's
    /// user file (rootless only), no `OXPOD_CONFIG`, no `--config`, no flags.
    pub fn new(identity: Identity) -> Loader {
        Loader {
            user_file: identity.user_config_file(),
            identity,
            system_files: SYSTEM_FILES.iter().map(PathBuf::from).collect(),
            env_file: None,
            config_file: None,
            flags: Vec::new(),
            strict: false,
        }
    }

    /// [`Loader::new`] for [`Identity::current`], with `OXPOD_CONFIG` read
    /// from the environment (an empty value counts as unset).
    pub fn from_env() -> Loader {
        let env = std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Loader::new(Identity::current()).env_file(env)
    }

    /// Replaces the system files (lowest first); missing ones are skipped.
    pub fn system_files<P: Into<PathBuf>>(mut self, files: impl IntoIterator<Item = P>) -> Loader {
        self.system_files = files.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the user file (read after the system files; skipped if missing).
    pub fn user_file(mut self, file: Option<PathBuf>) -> Loader {
        self.user_file = file;
        self
    }

    /// The value of `OXPOD_CONFIG`: a file that must exist.
    pub fn env_file(mut self, file: Option<PathBuf>) -> Loader {
        self.env_file = file;
        self
    }

    /// The explicit file (`--config`): must exist.
    pub fn config_file(mut self, file: Option<PathBuf>) -> Loader {
        self.config_file = file;
        self
    }

    /// Sets `key` as a flag (the last layer), e.g. `("num_locks", 4096)`;
    /// the key is checked at [`Loader::load`]. A later call for the same key wins.
    pub fn flag(mut self, key: impl Into<String>, value: impl Into<toml::Value>) -> Loader {
        self.set_flag(key, value);
        self
    }

    /// Non-consuming form of [`Loader::flag`].
    pub fn set_flag(&mut self, key: impl Into<String>, value: impl Into<toml::Value>) {
        self.flags.push((key.into(), value.into()));
    }

    /// Strict: unknown keys in files are errors instead of warnings.
    pub fn strict(mut self, strict: bool) -> Loader {
        self.strict = strict;
        self
    }

    /// The identity this loader computes defaults for.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Reads every layer, merges, derives `volume_path` and
    /// `events_logfile_path` when not set, and validates.
    pub fn load(&self) -> Result<Loaded> {
        let config = Config::defaults(&self.identity)?;
        let mut loaded = Loaded {
            origins: Config::KEYS
                .iter()
                .map(|k| ((*k).to_owned(), Origin::Default))
                .chain(
                    config
                        .runtimes
                        .keys()
                        .map(|n| (format!("runtimes.{n}"), Origin::Default)),
                )
                .collect(),
            config,
            files_read: Vec::new(),
            warnings: Vec::new(),
        };
        let mut problems = Vec::new();

        let mut files: Vec<(PathBuf, Origin, Option<&'static str>)> = Vec::new();
        for f in &self.system_files {
            files.push((f.clone(), Origin::File(f.clone()), None));
        }
        if let Some(f) = &self.user_file {
            files.push((f.clone(), Origin::File(f.clone()), None));
        }
        if let Some(f) = &self.env_file {
            files.push((f.clone(), Origin::Env, Some(CONFIG_ENV)));
        }
        if let Some(f) = &self.config_file {
            files.push((f.clone(), Origin::File(f.clone()), Some("--config")));
        }
        for (path, origin, required) in files {
            let Some(text) = loaded.read(&path, required)? else {
                continue;
            };
            let table = parse(&path, &text)?;
            let location = match &origin {
                Origin::Env => format!("{} (from {CONFIG_ENV})", path.display()),
                _ => path.display().to_string(),
            };
            loaded.files_read.push(path);
            for (key, value) in table {
                loaded.apply(&key, value, &origin, &location, self.strict, &mut problems)?;
            }
        }
        for (key, value) in &self.flags {
            if !is_key(key) {
                return Err(Error::UnknownKey {
                    key: key.clone(),
                    location: "a command-line flag".to_owned(),
                });
            }
            loaded.apply(
                key,
                value.clone(),
                &Origin::Flag,
                "a command-line flag",
                true,
                &mut problems,
            )?;
        }
        loaded.derive();
        problems.extend(loaded.problems());
        if problems.is_empty() {
            tracing::debug!(files = ?loaded.files_read, "configuration loaded");
            Ok(loaded)
        } else {
            Err(Error::Invalid { problems })
        }
    }
}

fn is_key(key: &str) -> bool {
    Config::KEYS.contains(&key)
}

/// Parses a file as a TOML table, reporting syntax errors with line and column.
fn parse(path: &Path, text: &str) -> Result<toml::Table> {
    text.parse::<toml::Table>().map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => line_col(text, span.start),
            None => (1, 1),
        };
        Error::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().replace('\n', "; "),
        }
    })
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A short rendering of a value for messages: its TOML type and the value.
fn describe(value: &toml::Value) -> String {
    let mut shown = value.to_string();
    if shown.chars().count() > 60 {
        shown = shown.chars().take(57).collect::<String>() + "...";
    }
    format!("{} {shown}", value.type_str())
}

/// A configuration with the origin of every key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Origin of every key of [`Config::KEYS`], and of each `runtimes.<name>`
    /// entry (`runtimes` itself: the last layer that set any entry).
    pub origins: BTreeMap<String, Origin>,
    /// Files that were read, in order.
    pub files_read: Vec<PathBuf>,
    /// Non-fatal problems (also logged with `tracing::warn!`).
    pub warnings: Vec<Warning>,
}

impl Loaded {
    /// Where `key` (a [`Config::KEYS`] entry or `runtimes.<name>`) came from;
    /// `None` for an unknown key.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.origins.get(key)
    }

    /// True when `key` was set by a file, `OXPOD_CONFIG` or a flag.
    pub fn is_explicit(&self, key: &str) -> bool {
        self.origin(key).is_some_and(Origin::is_explicit)
    }

    /// Lets database values fill keys not explicitly set (podman's
    /// `runtimeConfiguredFrom`). Empty strings are ignored. Keys whose value
    /// changed get origin [`Origin::Database`]; `volume_path` and
    /// `events_logfile_path` that were defaults are re-derived. Returns the
    /// keys whose value changed. Does not validate: call [`Loaded::validate`].
    pub fn fill_from_database<'a>(
        &mut self,
        values: impl IntoIterator<Item = (&'a str, toml::Value)>,
    ) -> Result<Vec<String>> {
        let before = self.config.clone();
        let mut problems = Vec::new();
        for (key, value) in values {
            if !is_key(key) {
                return Err(Error::UnknownKey {
                    key: key.to_owned(),
                    location: "the database".to_owned(),
                });
            }
            if self.is_explicit(key) {
                tracing::debug!(key, "explicitly set, database value not used");
                continue;
            }
            if value.as_str() == Some("") {
                continue;
            }
            if self.config.value(key).as_ref() == Some(&value) {
                continue;
            }
            tracing::debug!(key, value = %value, "using value from the database");
            self.apply(
                key,
                value,
                &Origin::Database,
                "the database",
                true,
                &mut problems,
            )?;
        }
        if !problems.is_empty() {
            return Err(Error::Invalid { problems });
        }
        self.derive();
        Ok(Config::KEYS
            .iter()
            .filter(|k| self.config.value(k) != before.value(k))
            .map(|k| (*k).to_owned())
            .collect())
    }

    /// Every invalid value, with the origin of each.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self.config.problems();
        for p in &mut problems {
            p.origin = self.origin(&p.key).cloned();
        }
        // A derived default is bad only because its source is: report the source once.
        let bad: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
        problems.retain(|p| {
            let source = match p.key.as_str() {
                "volume_path" => "static_dir",
                "events_logfile_path" => "tmp_dir",
                _ => return true,
            };
            p.origin != Some(Origin::Default) || !bad.iter().any(|k| k == source)
        });
        problems
    }

    /// Checks every value; [`Error::Invalid`] lists all bad values with origins.
    pub fn validate(&self) -> Result<()> {
        Error::check(self.problems())
    }

    /// The effective configuration as TOML (see [`Config::to_toml`]).
    pub fn to_toml(&self) -> Result<String> {
        self.config.to_toml()
    }

    /// Recomputes derived defaults from `static_dir` and `tmp_dir`.
    fn derive(&mut self) {
        if self.origin("volume_path") == Some(&Origin::Default) {
            self.config.volume_path = self.config.derived_volume_path();
        }
        if self.origin("events_logfile_path") == Some(&Origin::Default) {
            self.config.events_logfile_path = self.config.derived_events_logfile_path();
        }
    }

    /// Reads a layer file: `None` when an optional file is missing or unreadable.
    fn read(&mut self, path: &Path, required: Option<&'static str>) -> Result<Option<String>> {
        if let Some(what) = required
            && path.as_os_str().is_empty()
        {
            return Err(Error::EmptyPath { what });
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                tracing::debug!(path = %path.display(), "reading configuration file");
                Ok(Some(text))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match required {
                Some(what) => Err(Error::MissingFile {
                    what,
                    path: path.to_path_buf(),
                }),
                None => {
                    tracing::debug!(path = %path.display(), "no configuration file here, skipped");
                    Ok(None)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && required.is_none() => {
                let w = Warning::Unreadable {
                    path: path.to_path_buf(),
                    error: e.to_string(),
                };
                tracing::warn!("{w}");
                self.warnings.push(w);
                Ok(None)
            }
            Err(source) => Err(Error::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Applies one key of a layer.
    fn apply(
        &mut self,
        key: &str,
        value: toml::Value,
        origin: &Origin,
        location: &str,
        strict: bool,
        problems: &mut Vec<Problem>,
    ) -> Result<()> {
        if key == "runtimes" {
            return self.apply_runtimes(value, origin, location);
        }
        let shown = value.to_string();
        let found = describe(&value);
        let is_integer = value.is_integer();
        let is_string = value.is_str();
        match self.config.set_value(key, value) {
            SetOutcome::Set => {
                self.origins.insert(key.to_owned(), origin.clone());
                Ok(())
            }
            SetOutcome::Unknown if strict => Err(Error::UnknownKey {
                key: key.to_owned(),
                location: location.to_owned(),
            }),
            SetOutcome::Unknown => {
                let w = Warning::UnknownKey {
                    key: key.to_owned(),
                    location: location.to_owned(),
                };
                tracing::warn!("{w}");
                self.warnings.push(w);
                Ok(())
            }
            SetOutcome::Mismatch {
                integer: true,
                expected,
                ..
            } if is_integer => {
                problems.push(Problem {
                    key: key.to_owned(),
                    value: shown,
                    reason: format!("out of range: expected {expected} that fits"),
                    origin: Some(origin.clone()),
                });
                Ok(())
            }
            SetOutcome::Mismatch {
                choice: Some(reason),
                ..
            } if is_string => {
                problems.push(Problem {
                    key: key.to_owned(),
                    value: shown,
                    reason: reason.to_owned(),
                    origin: Some(origin.clone()),
                });
                Ok(())
            }
            SetOutcome::Mismatch { expected, .. } => Err(Error::Type {
                key: key.to_owned(),
                expected,
                found,
                location: location.to_owned(),
                hint: String::new(),
            }),
        }
    }

    /// Merges a `[runtimes]` table entry by entry.
    fn apply_runtimes(
        &mut self,
        value: toml::Value,
        origin: &Origin,
        location: &str,
    ) -> Result<()> {
        let toml::Value::Table(table) = value else {
            return Err(Error::Type {
                key: "runtimes".to_owned(),
                expected: "a table of runtime name = [paths]",
                found: describe(&value),
                location: location.to_owned(),
                hint: String::new(),
            });
        };
        for (name, paths) in table {
            let found = describe(&paths);
            let Ok(list) = paths.try_into::<Vec<PathBuf>>() else {
                let hint = if is_key(&name) {
                    format!(
                        " (every key after [runtimes] belongs to that table: move `{name}` above it)"
                    )
                } else {
                    String::new()
                };
                return Err(Error::Type {
                    key: format!("runtimes.{name}"),
                    expected: "an array of paths (strings)",
                    found,
                    location: location.to_owned(),
                    hint,
                });
            };
            self.config.runtimes.insert(name.clone(), list);
            self.origins
                .insert(format!("runtimes.{name}"), origin.clone());
            self.origins.insert("runtimes".to_owned(), origin.clone());
        }
        Ok(())
    }
}
