//! The signature policy (containers-policy.json(5)) a pull obeys, as far
//! as oxpod can: `insecureAcceptAnything` lets the image in, `reject`
//! refuses it, and any requirement that needs a signature verified
//! (`signedBy`, `sigstoreSigned`) fails closed, saying so; oxpod verifies
//! no signatures yet. The scope is the most specific of the `docker`
//! transport's entries (`host/repo:tag`, `host/repo`, `host/namespace`,
//! `host`), else `default`. The file is `signature_policy_path`, else
//! `/etc/containers/policy.json`; without one nothing is pulled (podman's
//! rule), and the error says how to make one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Default, Deserialize)]
struct Policy {
    #[serde(default)]
    default: Vec<Requirement>,
    #[serde(default)]
    transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

#[derive(Debug, Deserialize)]
struct Requirement {
    #[serde(rename = "type")]
    kind: String,
}

/// Whether the policy at `path` lets `reference` (`host/repo:tag`) in.
pub(crate) fn check(path: Option<&Path>, reference: &str) -> Result<()> {
    let path: PathBuf = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/etc/containers/policy.json"));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::InvalidArgument {
                what: format!("signature policy {}", path.display()),
                reason: "there is none: install golang-github-containers-common, or write one (to accept every image: {\"default\":[{\"type\":\"insecureAcceptAnything\"}]}) or set signature_policy_path".to_owned(),
            });
        }
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let policy: Policy = serde_json::from_slice(&bytes).map_err(|e| Error::InvalidArgument {
        what: format!("signature policy {}", path.display()),
        reason: e.to_string(),
    })?;
    let docker = policy.transports.get("docker");
    let requirements = scopes(reference)
        .iter()
        .find_map(|scope| docker.and_then(|d| d.get(scope)))
        .unwrap_or(&policy.default);
    if requirements.is_empty() {
        return Err(Error::InvalidArgument {
            what: format!("signature policy {}", path.display()),
            reason: format!(
                "no requirement applies to {reference}: a policy must say what it accepts"
            ),
        });
    }
    for r in requirements {
        match r.kind.as_str() {
            "insecureAcceptAnything" => {}
            "reject" => {
                return Err(Error::InvalidArgument {
                    what: format!("docker://{reference}"),
                    reason: format!("rejected by the signature policy {}", path.display()),
                });
            }
            other => {
                return Err(Error::InvalidArgument {
                    what: format!("docker://{reference}"),
                    reason: format!(
                        "the signature policy {} requires {other:?}, which needs signatures verified; oxpod verifies none yet, so it refuses rather than pull unverified",
                        path.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A reference's policy scopes, most specific first.
fn scopes(reference: &str) -> Vec<String> {
    let mut out = vec![reference.to_owned()];
    let without_tag = reference
        .rsplit_once('@')
        .map(|(r, _)| r.to_owned())
        .unwrap_or_else(|| match reference.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r.to_owned(),
            _ => reference.to_owned(),
        });
    let mut cur = without_tag.as_str();
    loop {
        if !out.iter().any(|s| s == cur) {
            out.push(cur.to_owned());
        }
        match cur.rsplit_once('/') {
            Some((parent, _)) => cur = parent,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("policy.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_most_specific_scope_decides() {
        let t = tempfile::tempdir().unwrap();
        let p = write(
            t.path(),
            r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{
                "bad.io":[{"type":"reject"}],
                "bad.io/ok":[{"type":"insecureAcceptAnything"}],
                "signed.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}}}"#,
        );
        assert!(check(Some(&p), "quay.io/a/b:1").is_ok());
        assert!(
            check(Some(&p), "bad.io/x/y:1")
                .unwrap_err()
                .to_string()
                .contains("rejected")
        );
        assert!(check(Some(&p), "bad.io/ok/y:1").is_ok());
        let e = check(Some(&p), "signed.io/a:1").unwrap_err().to_string();
        assert!(e.contains("signedBy") && e.contains("refuses"), "{e}");
        let e = check(Some(&t.path().join("missing.json")), "x.io/a:1").unwrap_err();
        assert!(e.to_string().contains("insecureAcceptAnything"), "{e}");
        let empty = write(t.path(), r#"{"default":[]}"#);
        assert!(check(Some(&empty), "x.io/a:1").is_err());
        assert_eq!(
            scopes("h:5000/a/b:1"),
            ["h:5000/a/b:1", "h:5000/a/b", "h:5000/a", "h:5000"]
        );
    }
}
