//! `registries.conf` (containers-registries.conf(5)), as far as `pull`
//! needs it: version 2's `unqualified-search-registries` and `[[registry]]`
//! tables (`prefix`, `location`, `insecure`, `blocked`, `[[registry.mirror]]`
//! with `location`, `insecure` and `pull-from-mirror`, and the older
//! `mirror-by-digest-only`), `[aliases]`, and the version 1 tables podman
//! 1.4 read (`[registries.search]`, `.insecure`, `.block`). The file is
//! `$CONTAINERS_REGISTRIES_CONF` when set (podman's variable), else
//! `/etc/containers/registries.conf`; a missing file is an empty one. Its
//! drop-in directory's `*.conf` files are read after it, in name order.

use std::path::PathBuf;

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    #[serde(rename = "unqualified-search-registries")]
    unqualified: Vec<String>,
    registry: Vec<Entry>,
    registries: Option<V1>,
    aliases: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
struct Entry {
    prefix: Option<String>,
    location: Option<String>,
    insecure: bool,
    blocked: bool,
    mirror: Vec<MirrorEntry>,
    #[serde(rename = "mirror-by-digest-only")]
    mirror_by_digest_only: bool,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default, deny_unknown_fields)]
struct MirrorEntry {
    location: String,
    insecure: bool,
    /// `all` (the default), `digest-only` or `tag-only`.
    #[serde(rename = "pull-from-mirror")]
    pull_from_mirror: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct V1 {
    search: Option<V1List>,
    insecure: Option<V1List>,
    block: Option<V1List>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct V1List {
    registries: Vec<String>,
}

/// The registries configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registries {
    /// The file read (for messages).
    pub path: PathBuf,
    /// Where short names are looked for, in order.
    pub unqualified: Vec<String>,
    entries: Vec<Entry>,
    /// Short-name aliases (`[aliases]` of the file and of its drop-in
    /// directory's `*.conf`, later files winning).
    aliases: std::collections::BTreeMap<String, String>,
}

/// What the configuration says of one image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The reference to pull from (a `location` may rewrite its prefix).
    pub pull_from: String,
    /// Plain HTTP and unverified TLS allowed.
    pub insecure: bool,
    /// Refused before connecting.
    pub blocked: bool,
    /// Mirrors to try first, in order, the prefix rewritten to each.
    pub mirrors: Vec<Mirror>,
}

/// One mirror of a resolved reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirror {
    pub pull_from: String,
    pub insecure: bool,
}

impl Registries {
    /// Reads the configuration (see the module doc).
    pub fn load() -> Result<Registries> {
        let path = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.conf"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let mut conf = Self::parse(&text, path.clone())?;
        // Drop-ins: `<file>.d` beside a file given by the variable (so a
        // test's file brings its own), else podman's directory.
        let dir = if std::env::var_os("CONTAINERS_REGISTRIES_CONF").is_some() {
            PathBuf::from(format!("{}.d", path.display()))
        } else {
            PathBuf::from("/etc/containers/registries.conf.d")
        };
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(d) => d
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| Error::io("read", &f, e))?;
            let more = Self::parse(&text, f)?;
            conf.aliases.extend(more.aliases);
            if !more.unqualified.is_empty() {
                conf.unqualified = more.unqualified;
            }
            conf.entries.extend(more.entries);
        }
        Ok(conf)
    }

    /// What a short name's alias names (its tag or digest kept).
    pub fn alias(&self, short: &str) -> Option<String> {
        let (name, suffix) = match short.find(['@']) {
            Some(i) => short.split_at(i),
            None => match short.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') => (n, &short[n.len()..]),
                _ => (short, ""),
            },
        };
        self.aliases
            .get(name)
            .map(|target| format!("{target}{suffix}"))
    }

    pub(crate) fn parse(text: &str, path: PathBuf) -> Result<Registries> {
        let file: File = toml::from_str(text).map_err(|e| Error::InvalidArgument {
            what: format!("registries configuration {}", path.display()),
            reason: e.to_string(),
        })?;
        let mut unqualified = file.unqualified;
        let mut entries = file.registry;
        if let Some(v1) = file.registries {
            if !unqualified.is_empty() || !entries.is_empty() {
                return Err(Error::InvalidArgument {
                    what: format!("registries configuration {}", path.display()),
                    reason: "mixes version 1 ([registries.*]) and version 2 tables: use one"
                        .to_owned(),
                });
            }
            unqualified = v1.search.map(|l| l.registries).unwrap_or_default();
            for (list, insecure, blocked) in [(v1.insecure, true, false), (v1.block, false, true)] {
                for r in list.map(|l| l.registries).unwrap_or_default() {
                    entries.push(Entry {
                        prefix: Some(r.clone()),
                        location: Some(r),
                        insecure,
                        blocked,
                        ..Entry::default()
                    });
                }
            }
        }
        for e in &entries {
            for m in &e.mirror {
                let bad = |reason: String| Error::InvalidArgument {
                    what: format!("registries configuration {}", path.display()),
                    reason,
                };
                if m.location.is_empty() {
                    return Err(bad("a [[registry.mirror]] has no location".to_owned()));
                }
                if let Some(how) = &m.pull_from_mirror
                    && !["all", "digest-only", "tag-only"].contains(&how.as_str())
                {
                    return Err(bad(format!(
                        "pull-from-mirror {how:?} of mirror {:?}: use all, digest-only or tag-only",
                        m.location
                    )));
                }
            }
        }
        Ok(Registries {
            path,
            unqualified,
            entries,
            aliases: file.aliases,
        })
    }

    /// The entry whose prefix matches `name` (`registry/repository[:tag]`)
    /// longest, and what it makes of it.
    pub fn resolve(&self, name: &str) -> Resolved {
        let matches = |prefix: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(['/', ':', '@']))
        };
        let best = self
            .entries
            .iter()
            .filter_map(|e| {
                let prefix = e.prefix.clone().or_else(|| e.location.clone())?;
                matches(&prefix).then_some((prefix, e))
            })
            .max_by_key(|(p, _)| p.len());
        match best {
            Some((prefix, e)) => {
                let rest = &name[prefix.len()..];
                let by_digest = rest.contains('@');
                let mirrors = e
                    .mirror
                    .iter()
                    .filter(|m| {
                        let how = match m.pull_from_mirror.as_deref() {
                            Some(how) => how,
                            None if e.mirror_by_digest_only => "digest-only",
                            None => "all",
                        };
                        match how {
                            "digest-only" => by_digest,
                            "tag-only" => !by_digest,
                            _ => true,
                        }
                    })
                    .map(|m| Mirror {
                        pull_from: format!("{}{rest}", m.location),
                        insecure: m.insecure,
                    })
                    .collect();
                Resolved {
                    pull_from: match &e.location {
                        Some(loc) if *loc != prefix => format!("{loc}{rest}"),
                        _ => name.to_owned(),
                    },
                    insecure: e.insecure,
                    blocked: e.blocked,
                    mirrors,
                }
            }
            None => Resolved {
                pull_from: name.to_owned(),
                insecure: false,
                blocked: false,
                mirrors: Vec::new(),
            },
        }
    }
}

/// Whether `name` names its registry (`quay.io/x`, `localhost/x`,
/// `127.0.0.1:5000/x`), as docker's rule reads the first component.
pub(crate) fn is_qualified(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_2_tables_resolve_by_longest_prefix() {
        let r = Registries::parse(
            r#"
unqualified-search-registries = ["quay.io", "docker.io"]
[[registry]]
location = "127.0.0.1:5000"
insecure = true
[[registry]]
prefix = "example.com/foo"
location = "mirror.example.org/foo"
[[registry]]
location = "evil.example"
blocked = true
"#,
            PathBuf::from("r.conf"),
        )
        .unwrap();
        assert_eq!(r.unqualified, ["quay.io", "docker.io"]);
        let a = r.resolve("127.0.0.1:5000/x/y:1");
        assert!(a.insecure && !a.blocked);
        let b = r.resolve("example.com/foo/bar:2");
        assert_eq!(b.pull_from, "mirror.example.org/foo/bar:2");
        assert!(r.resolve("evil.example/x").blocked);
        assert!(
            !r.resolve("evil.examplex/x").blocked,
            "a prefix ends at a boundary"
        );
        assert_eq!(r.resolve("other.io/x").pull_from, "other.io/x");
    }

    #[test]
    fn mirrors_come_first_and_follow_pull_from_mirror() {
        let r = Registries::parse(
            r#"
[[registry]]
location = "example.com"
[[registry.mirror]]
location = "m1.example/cache"
insecure = true
[[registry.mirror]]
location = "m2.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m3.example"
pull-from-mirror = "tag-only"
[[registry]]
location = "old.example"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m4.example"
"#,
            PathBuf::from("m.conf"),
        )
        .unwrap();
        let tagged = r.resolve("example.com/a/b:1");
        let names: Vec<_> = tagged
            .mirrors
            .iter()
            .map(|m| m.pull_from.as_str())
            .collect();
        assert_eq!(names, ["m1.example/cache/a/b:1", "m3.example/a/b:1"]);
        assert!(tagged.mirrors[0].insecure && !tagged.mirrors[1].insecure);
        let digest = format!("example.com/a@sha256:{}", "0".repeat(64));
        let names: Vec<_> = r
            .resolve(&digest)
            .mirrors
            .into_iter()
            .map(|m| m.pull_from)
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names[1].starts_with("m2.example/a@sha256:"), "{names:?}");
        assert!(r.resolve("old.example/x:1").mirrors.is_empty());
        assert_eq!(
            r.resolve(&digest.replace("example.com", "old.example"))
                .mirrors
                .len(),
            1
        );
        let bad = Registries::parse(
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"b.io\"\npull-from-mirror = \"sometimes\"\n",
            PathBuf::from("bad.conf"),
        )
        .unwrap_err();
        assert!(bad.to_string().contains("pull-from-mirror"), "{bad}");
    }

    #[test]
    fn version_1_tables_are_read_on_their_own() {
        let r = Registries::parse(
            "[registries.search]\nregistries = ['docker.io']\n[registries.insecure]\nregistries = ['localhost:5000']\n[registries.block]\nregistries = ['bad.io']\n",
            PathBuf::from("v1.conf"),
        )
        .unwrap();
        assert_eq!(r.unqualified, ["docker.io"]);
        assert!(r.resolve("localhost:5000/a").insecure);
        assert!(r.resolve("bad.io/a").blocked);
        let err = Registries::parse(
            "unqualified-search-registries = ['a.io']\n[registries.search]\nregistries = ['b.io']\n",
            PathBuf::from("mixed.conf"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("mixes"), "{err}");
        assert!(Registries::parse("[[registry]\n", PathBuf::from("bad.conf")).is_err());
    }

    #[test]
    fn aliases_keep_the_tag() {
        let r = Registries::parse(
            "[aliases]\n\"alpine\" = \"docker.io/library/alpine\"\n\"opensuse/leap\" = \"registry.opensuse.org/opensuse/leap\"\n",
            PathBuf::from("a.conf"),
        )
        .unwrap();
        assert_eq!(r.alias("alpine").unwrap(), "docker.io/library/alpine");
        assert_eq!(
            r.alias("alpine:3.18").unwrap(),
            "docker.io/library/alpine:3.18"
        );
        assert_eq!(
            r.alias("opensuse/leap:15").unwrap(),
            "registry.opensuse.org/opensuse/leap:15"
        );
        assert_eq!(r.alias("nothing"), None);
    }

    #[test]
    fn qualified_names() {
        assert!(is_qualified("quay.io/a"));
        assert!(is_qualified("localhost/a"));
        assert!(is_qualified("127.0.0.1:5000/a"));
        assert!(!is_qualified("busybox"));
        assert!(!is_qualified("library/busybox"));
    }
}
