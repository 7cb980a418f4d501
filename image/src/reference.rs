//! Image references, normalised as docker and podman do: `busybox` is
//! `docker.io/library/busybox:latest`; a first component with a dot, a
//! colon or `localhost` is a registry.

use std::fmt;

use crate::error::{Error, Result};

/// The registry of names without one.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// `docker.io`, `quay.io`, `localhost`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/busybox`.
    pub repository: String,
    /// `latest`; `None` when only a digest is given.
    pub tag: Option<String>,
    /// `sha256:...`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `[registry/]repo[:tag][@digest]`, filling docker's defaults
    /// (`docker.io`, `library/`, `latest`).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidReference {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() || text.len() > 255 * 2 {
            return Err(bad("a name is 1 to 510 characters"));
        }
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) => {
                if !valid_digest(d) {
                    return Err(bad(
                        "the digest must be sha256: and 64 lower-case hex digits",
                    ));
                }
                (n, Some(d.to_owned()))
            }
            None => (text, None),
        };
        // A tag is after the last colon that follows the last slash.
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], Some(name[slash + i + 1..].to_owned())),
            None => (name, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad(
                "a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with . or -",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_registry(&registry) {
            return Err(bad("the registry must be a host name, with a port if any"));
        }
        if !valid_repository(&repository) {
            return Err(bad(
                "repository names are lower case: [a-z0-9] parts joined by ., _, __, - or /",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The name without tag or digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag.
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        Reference::parse(&format!("{}:{tag}", self.name()))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The full names a short name may mean locally, in podman's order: a
/// local (`localhost/NAME`) image first, then Docker Hub's.
pub fn local_candidates(short: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let first = short.split('/').next().unwrap_or("");
    let qualified =
        short.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !qualified && let Ok(r) = Reference::parse(&format!("localhost/{short}")) {
        out.push(r);
    }
    if let Ok(r) = Reference::parse(short) {
        out.push(r);
    }
    out
}

/// `sha256:` and 64 lower-case hex digits.
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_normalisation() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("quay.io/a/b:v1"), "quay.io/a/b:v1");
        assert_eq!(norm("localhost/bb"), "localhost/bb:latest");
        assert_eq!(norm("127.0.0.1:5000/t/bb:1"), "127.0.0.1:5000/t/bb:1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            Reference::parse("127.0.0.1:5000/bb").unwrap().name(),
            "127.0.0.1:5000/bb"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "busybox@sha256:abc",
            "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
            "bad host/x",
            "x/../y",
            "busybox:tag with space",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_names_look_local_first() {
        let c: Vec<String> = local_candidates("busybox")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            c,
            [
                "localhost/busybox:latest",
                "docker.io/library/busybox:latest"
            ]
        );
        let c = local_candidates("quay.io/a/b");
        assert_eq!(c.len(), 1);
    }

    proptest! {
        /// A parsed reference prints to one that parses to itself.
        #[test]
        fn display_round_trips(s in "[a-z0-9./:@_-]{1,40}") {
            if let Ok(r) = Reference::parse(&s) {
                prop_assert_eq!(Reference::parse(&r.to_string()).ok(), Some(r));
            }
        }
    }
}
