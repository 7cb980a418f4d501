//! Registry credentials in podman's files: `auth.json` (containers-auth.json(5):
//! `{"auths": {"registry": {"auth": base64("user:password")}}}`) at
//! `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
//! `/run/containers/<uid>/auth.json`; docker's `~/.docker/config.json` is
//! read too (never written). A registry's entry is found by its host, a
//! `docker.io` one also under docker's `https://index.docker.io/v1/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::registry::Credentials;

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// Where `login` writes and `pull` reads first.
pub fn default_auth_file(uid: u32) -> PathBuf {
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        return PathBuf::from(f);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(d).join("containers/auth.json");
    }
    PathBuf::from(format!("/run/containers/{uid}/auth.json"))
}

fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_owned()];
    if registry == "docker.io" {
        keys.extend([
            "https://index.docker.io/v1/".to_owned(),
            "registry-1.docker.io".to_owned(),
            "index.docker.io".to_owned(),
        ]);
    }
    keys
}

fn read(path: &Path) -> Result<AuthFile> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::bad_auth(path, format!("not an auth file: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn decode(path: &Path, auth: &str) -> Result<Credentials> {
    let bytes = base64_decode(auth)
        .ok_or_else(|| Error::bad_auth(path, "an auth entry that is not base64"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::bad_auth(path, "an auth entry that is not text"))?;
    let (u, p) = text
        .split_once(':')
        .ok_or_else(|| Error::bad_auth(path, "an auth entry without user:password"))?;
    Ok(Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    })
}

/// The credentials for `registry` from `auth_file`, then docker's config.
pub fn lookup(auth_file: &Path, registry: &str) -> Result<Option<Credentials>> {
    let mut files = vec![auth_file.to_path_buf()];
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".docker/config.json"));
    }
    for f in files {
        let file = read(&f)?;
        for k in keys_for(registry) {
            if let Some(e) = file.auths.get(&k)
                && !e.auth.is_empty()
            {
                return decode(&f, &e.auth).map(Some);
            }
        }
    }
    Ok(None)
}

/// Writes `creds` for `registry` into `auth_file` (0600, its directory
/// 0700), keeping what else it holds; written to a temporary file and
/// renamed, so a killed login leaves the old file or the new one.
pub fn store(auth_file: &Path, registry: &str, creds: &Credentials) -> Result<()> {
    let mut file = read(auth_file)?;
    let entry = file.auths.entry(registry.to_owned()).or_default();
    entry.auth = base64_encode(format!("{}:{}", creds.username, creds.password).as_bytes());
    write(auth_file, &file)
}

/// Removes `registry`'s entry (`None`: every entry); whether there was one.
pub fn remove(auth_file: &Path, registry: Option<&str>) -> Result<bool> {
    let mut file = read(auth_file)?;
    let had = match registry {
        Some(r) => {
            // Every key it may be under goes (no short circuit).
            let before = file.auths.len();
            for k in keys_for(r) {
                file.auths.remove(&k);
            }
            file.auths.len() != before
        }
        None => {
            let had = !file.auths.is_empty();
            file.auths.clear();
            had
        }
    };
    if had {
        write(auth_file, &file)?;
    }
    Ok(had)
}

fn write(path: &Path, file: &AuthFile) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("create", dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let bytes =
        serde_json::to_vec_pretty(file).map_err(|e| Error::bad_auth(path, e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into", path, e))
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let trimmed: &[u8] = {
        let mut end = clean.len();
        while end > 0 && clean[end - 1] == b'=' {
            end -= 1;
        }
        &clean[..end]
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        match chunk.len() {
            4 => out.extend_from_slice(&bytes),
            3 => out.extend_from_slice(&bytes[..2]),
            2 => out.push(bytes[0]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_keep_other_entries() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("sub/auth.json");
        std::fs::create_dir_all(t.path().join("sub")).unwrap();
        std::fs::write(
            &f,
            r#"{"auths":{"other.io":{"auth":"YTpi","identitytoken":"x"}},"credHelpers":{}}"#,
        )
        .unwrap();
        let c = Credentials {
            username: "user".into(),
            password: "p:ss".into(),
        };
        store(&f, "reg.example:5000", &c).unwrap();
        assert_eq!(lookup(&f, "reg.example:5000").unwrap(), Some(c));
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains("identitytoken") && text.contains("credHelpers"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(lookup(&f, "other.io").unwrap().unwrap().username, "a");
        assert!(remove(&f, Some("reg.example:5000")).unwrap());
        assert!(!remove(&f, Some("reg.example:5000")).unwrap());
        assert_eq!(lookup(&f, "reg.example:5000").unwrap(), None);
        std::fs::write(&f, "{not json").unwrap();
        assert!(
            lookup(&f, "x")
                .unwrap_err()
                .to_string()
                .contains("auth.json")
        );
    }

    #[test]
    fn base64_decodes_what_it_encodes() {
        for s in ["", "a", "ab", "abc", "user:pass", "héllo:wörld"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert!(base64_decode("a!b=").is_none());
    }
}
