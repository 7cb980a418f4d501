//! The image configuration (OCI image-spec `config.json`, docker's shape)
//! and docker's rules for turning it into a container's process.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An image's configuration. Unknown fields are ignored here; the stored
/// blob keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfig {
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8` for arm64, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// When it was made (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The container defaults.
    pub config: RunConfig,
    /// The layers' diff ids.
    pub rootfs: RootFs,
    /// How it was built, one entry per step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
}

/// The defaults a container from the image starts with (docker's
/// `ContainerConfig` keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RunConfig {
    /// `uid[:gid]` or `name[:group]`; empty is root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `KEY=value` entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The executable and its first arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments (or command, without an entrypoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The process's directory.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops it (`SIGTERM`, `15`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Ports it listens on (`80/tcp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Paths that hold data (`/data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
}

/// The layers of the root file system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each layer's uncompressed tar, bottom first.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_owned(),
            diff_ids: Vec::new(),
        }
    }
}

impl ImageConfig {
    /// Parses a config blob; `what` names it in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let c: ImageConfig = serde_json::from_slice(bytes).map_err(|e| Error::BadArchive {
            reason: format!("the config of {what} is not an image config: {e}"),
        })?;
        for d in &c.rootfs.diff_ids {
            if !crate::reference::valid_digest(d) {
                return Err(Error::BadArchive {
                    reason: format!(
                        "the config of {what} has the diff id {d:?}, not a sha256 digest"
                    ),
                });
            }
        }
        Ok(c)
    }

    /// The container's command by docker's rules: `entrypoint` (when
    /// given) replaces the image's and clears its Cmd; `args` (when given)
    /// replace Cmd; the command is Entrypoint then Cmd. Empty is an error.
    pub fn command(&self, entrypoint: Option<&[String]>, args: &[String]) -> Result<Vec<String>> {
        let ep: Vec<String> = match entrypoint {
            Some(e) => e.to_vec(),
            None => self.config.entrypoint.clone().unwrap_or_default(),
        };
        let cmd: Vec<String> = if !args.is_empty() {
            args.to_vec()
        } else if entrypoint.is_some() {
            Vec::new()
        } else {
            self.config.cmd.clone().unwrap_or_default()
        };
        let all: Vec<String> = ep.into_iter().chain(cmd).collect();
        if all.is_empty() {
            return Err(Error::NoCommand);
        }
        Ok(all)
    }

    /// The image's environment with `user` entries (KEY=value) over it,
    /// key by key, in the image's order, new keys after.
    pub fn env(&self, user: &[String]) -> Vec<String> {
        let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_owned();
        let mut out: Vec<String> = self.config.env.clone().unwrap_or_default();
        for u in user {
            let k = key(u);
            match out.iter_mut().find(|e| key(e) == k) {
                Some(slot) => *slot = u.clone(),
                None => out.push(u.clone()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        ImageConfig {
            config: RunConfig {
                entrypoint: ep.map(v),
                cmd: cmd.map(v),
                env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
                ..RunConfig::default()
            },
            ..ImageConfig::default()
        }
    }

    fn s(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dockers_entrypoint_and_cmd_rules() {
        let c = cfg(Some(&["/ep"]), Some(&["a", "b"]));
        assert_eq!(c.command(None, &[]).unwrap(), s(&["/ep", "a", "b"]));
        assert_eq!(c.command(None, &s(&["x"])).unwrap(), s(&["/ep", "x"]));
        // --entrypoint replaces the entrypoint and clears the image's Cmd.
        assert_eq!(c.command(Some(&s(&["/new"])), &[]).unwrap(), s(&["/new"]));
        assert_eq!(
            c.command(Some(&s(&["/new"])), &s(&["y"])).unwrap(),
            s(&["/new", "y"])
        );
        let c = cfg(None, Some(&["sh"]));
        assert_eq!(c.command(None, &[]).unwrap(), s(&["sh"]));
        assert!(matches!(
            cfg(None, None).command(None, &[]),
            Err(Error::NoCommand)
        ));
        // `--entrypoint ''` with no args: nothing to run.
        assert!(
            cfg(Some(&["/ep"]), Some(&["a"]))
                .command(Some(&[]), &[])
                .is_err()
        );
    }

    #[test]
    fn env_is_merged_key_by_key() {
        let c = cfg(None, None);
        assert_eq!(c.env(&s(&["A=2", "B=3"])), s(&["PATH=/bin", "A=2", "B=3"]));
    }

    #[test]
    fn bad_configs_are_errors() {
        assert!(ImageConfig::parse(b"\"text\"", "x").is_err());
        assert!(ImageConfig::parse(b"{", "x").is_err());
        assert!(
            ImageConfig::parse(
                br#"{"rootfs":{"type":"layers","diff_ids":["sha256:../x"]}}"#,
                "x"
            )
            .is_err()
        );
        let c = ImageConfig::parse(br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]},"unknown":1}"#, "x").unwrap();
        assert_eq!(c.config.cmd, Some(s(&["sh"])));
    }
}
