//! Errors, invalid-value problems and warnings of oxpod-config.

use std::fmt;
use std::path::PathBuf;

use crate::loader::Origin;

/// Result type of this crate.
impl Error {
    /// `Ok` when there are no problems, else [`Error::Invalid`] with all of them.
    pub(crate) fn check(problems: Vec<Problem>) -> Result<()> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid { problems })
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file is not valid TOML.
    #[error("syntax error in {}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the parser expected or found.
        message: String,
    },
    /// A key has a value of the wrong type.
    #[error("wrong type for key `{key}` in {location}: expected {expected}, found {found}{hint}")]
    Type {
        /// The key, e.g. `num_locks` or `runtimes.crun`.
        key: String,
        /// The type the key needs, in words.
        expected: &'static str,
        /// The TOML type and value that were found.
        found: String,
        /// Where the value came from: the file, a flag or the database.
        location: String,
        /// Extra help (may be empty).
        hint: String,
    },
    /// An unknown key while the loader is strict, or an unknown key set in code.
    #[error(
        "unknown configuration key `{key}` in {location} (the keys are those of libpod.conf v1.4 plus oxpod's own)"
    )]
    UnknownKey {
        /// The key.
        key: String,
        /// Where it was found: the file, a flag or the database.
        location: String,
    },
    /// A file that must exist (`OXPOD_CONFIG`, `--config`) does not.
    #[error("{what} file {} does not exist: create it or point {what} at an existing file", path.display())]
    MissingFile {
        /// `OXPOD_CONFIG` or `--config`.
        what: &'static str,
        /// The path that was given.
        path: PathBuf,
    },
    /// An empty path was given for a file that must exist.
    #[error("invalid configuration file specified: {what} is empty")]
    EmptyPath {
        /// `OXPOD_CONFIG` or `--config`.
        what: &'static str,
    },
    /// A configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// One or more keys have invalid values; one problem per bad value.
    #[error("invalid configuration: {}", ProblemList(problems))]
    Invalid {
        /// Every bad value found.
        problems: Vec<Problem>,
    },
    /// The rootless runtime directory could not be determined.
    #[error(
        "cannot find a runtime directory for uid {uid}: neither XDG_RUNTIME_DIR nor HOME was set non-empty \
         (tried {tried}); set XDG_RUNTIME_DIR to a directory owned by you with mode 0700"
    )]
    RuntimeDir {
        /// The user.
        uid: u32,
        /// What was tried, and why each candidate failed.
        tried: String,
    },
    /// A rootless user has no HOME (and no XDG variable replaces it).
    #[error(
        "unable to resolve HOME directory for uid {uid} (needed for {needed}): set HOME or {needed}"
    )]
    NoHome {
        /// The user.
        uid: u32,
        /// The variable that would have replaced HOME.
        needed: &'static str,
    },
    /// The configuration cannot be written as TOML (e.g. a non-UTF-8 path).
    #[error("cannot serialise the configuration as TOML: {message}")]
    Serialize {
        /// The serialiser's message.
        message: String,
    },
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// One invalid value: which key, what value, why, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, e.g. `cgroup_manager` or `runtimes.crun`.
    pub key: String,
    /// The offending value, rendered as TOML.
    pub value: String,
    /// Why it is invalid and what is allowed.
    pub reason: String,
    /// Where the value came from, when known.
    pub origin: Option<Origin>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {} is invalid", self.key, self.value)?;
        if let Some(origin) = &self.origin {
            write!(f, " (set in {origin})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Something worth telling the user that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A key that oxpod does not know; it was ignored.
    UnknownKey {
        /// The key.
        key: String,
        /// Where it was found (the file).
        location: String,
    },
    /// A system or user file exists but could not be read; it was skipped.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error, as text.
        error: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownKey { key, location } => {
                write!(
                    f,
                    "unknown configuration key `{key}` in {location} was ignored"
                )
            }
            Warning::Unreadable { path, error } => write!(
                f,
                "configuration file {} was skipped: {error}",
                path.display()
            ),
        }
    }
}
