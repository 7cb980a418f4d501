//! The configuration's enumerated values, typed from parse to use: the
//! cgroup manager, the events backend and the lock type. Each parses from
//! its TOML string (`events_logger` case-insensitively, as podman does)
//! and prints back the same word; a word outside the set is a problem
//! reported with the key's origin, never a silent fallback.

use serde::{Deserialize, Serialize};

macro_rules! choice {
    (
        $(#[$meta:meta])* $name:ident, $key:literal, case_insensitive = $ci:literal,
        reason = $reason:literal,
        { $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, as written in a file.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Why another word is refused (shown with the key and origin).
            pub const REASON: &'static str = $reason;

            /// The word for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| if $ci { v.as_str().eq_ignore_ascii_case(s) } else { v.as_str() == s })
                    .ok_or_else(|| format!("{} = {s:?} is invalid: {}", $key, $reason))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        impl crate::config::FieldType for $name {
            const EXPECTED: &'static str = "a string";
            const CHOICE: Option<&'static str> = Some($reason);
        }
    };
}

choice! {
    /// Who manages container cgroups (`cgroup_manager`).
    CgroupManager, "cgroup_manager", case_insensitive = false,
    reason = "invalid cgroup manager specified: must be \"systemd\" or \"cgroupfs\"",
    {
        /// systemd, through its D-Bus API.
        Systemd = "systemd",
        /// Direct writes to the cgroup filesystem.
        Cgroupfs = "cgroupfs",
    }
}

choice! {
    /// Where events are written (`events_logger`).
    EventsBackend, "events_logger", case_insensitive = true,
    reason = "must be \"file\", \"journald\" or \"none\"",
    {
        /// A JSON-lines file.
        File = "file",
        /// The systemd journal.
        Journald = "journald",
        /// Nowhere.
        None = "none",
    }
}

choice! {
    /// The lock backend (`lock_type`). libpod.conf also named `file`, which
    /// podman 1.4 never implemented either; it is refused rather than
    /// accepted and ignored.
    LockType, "lock_type", case_insensitive = false,
    reason = "must be \"shm\" (file locks are not implemented)",
    {
        /// Robust mutexes in a shared-memory segment.
        Shm = "shm",
    }
}

choice! {
    /// How container roots are made from image layers (`storage_driver`).
    StorageDriver, "storage_driver", case_insensitive = false,
    reason = "must be \"overlay\" or \"vfs\"",
    {
        /// overlayfs: layers shared, a per-container upper directory.
        Overlay = "overlay",
        /// A full copy of the layers per container, for file systems where
        /// overlay cannot work (slow, always works).
        Vfs = "vfs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for v in CgroupManager::ALL {
            assert_eq!(v.as_str().parse::<CgroupManager>(), Ok(*v));
        }
        for v in EventsBackend::ALL {
            assert_eq!(v.to_string().parse::<EventsBackend>(), Ok(*v));
        }
        assert_eq!(
            "JournalD".parse::<EventsBackend>(),
            Ok(EventsBackend::Journald)
        );
        assert!(
            "Systemd".parse::<CgroupManager>().is_err(),
            "case matters here"
        );
        assert_eq!(
            "file".parse::<LockType>().unwrap_err(),
            "lock_type = \"file\" is invalid: must be \"shm\" (file locks are not implemented)"
        );
    }
}

/// The default OCI runtime (`runtime`): a name of the `[runtimes]` table,
/// or the absolute path of a runtime binary. A relative path or an empty
/// word is refused at parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RuntimeChoice {
    /// A name of the `[runtimes]` table.
    Name(String),
    /// An absolute path to a runtime binary.
    Path(std::path::PathBuf),
}

impl RuntimeChoice {
    /// Why a word is refused.
    pub const REASON: &'static str =
        "must be a name from [runtimes] or the absolute path of a runtime";
}

impl std::fmt::Display for RuntimeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeChoice::Name(n) => f.write_str(n),
            RuntimeChoice::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

impl std::str::FromStr for RuntimeChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with('/') {
            Ok(RuntimeChoice::Path(s.into()))
        } else if s.is_empty() || s.contains('/') {
            Err(format!("runtime = {s:?} is invalid: {}", Self::REASON))
        } else {
            Ok(RuntimeChoice::Name(s.to_owned()))
        }
    }
}

impl TryFrom<String> for RuntimeChoice {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<RuntimeChoice> for String {
    fn from(v: RuntimeChoice) -> String {
        v.to_string()
    }
}

impl crate::config::FieldType for RuntimeChoice {
    const EXPECTED: &'static str = "a string";
    const CHOICE: Option<&'static str> = Some(RuntimeChoice::REASON);
}

#[cfg(test)]
mod runtime_choice_tests {
    use super::*;

    #[test]
    fn names_and_absolute_paths_only() {
        assert_eq!("runc".parse(), Ok(RuntimeChoice::Name("runc".into())));
        assert_eq!(
            "/opt/bin/kata".parse(),
            Ok(RuntimeChoice::Path("/opt/bin/kata".into()))
        );
        assert!("bin/runc".parse::<RuntimeChoice>().is_err());
        assert!("".parse::<RuntimeChoice>().is_err());
        assert_eq!(RuntimeChoice::Path("/x/y".into()).to_string(), "/x/y");
    }
}
