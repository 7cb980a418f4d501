//! OCI hooks from `hooks_dir` (podman's `oci-hooks(5)` files, version
//! 1.0.0): each `*.json` names a program, the stages it runs at and when it
//! applies (`always`, an annotation, the command, bind mounts: any one
//! matching is enough). A file in a later directory replaces one of the
//! same name in an earlier one (`/etc` over `/usr/share`). A file that does
//! not parse is an error naming it, never skipped in silence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxpod_ociruntime::oci_spec::runtime::{Hook, HookBuilder, Hooks, HooksBuilder};
use serde::Deserialize;

use crate::{Error, Result};

/// podman's default hooks directories, lowest priority first.
pub const DEFAULT_HOOKS_DIRS: &[&str] = &[
    "/usr/share/containers/oci/hooks.d",
    "/etc/containers/oci/hooks.d",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookFile {
    version: String,
    hook: HookSpec,
    when: When,
    stages: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookSpec {
    path: PathBuf,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    timeout: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct When {
    #[serde(default)]
    always: Option<bool>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    commands: Option<Vec<String>>,
    #[serde(default)]
    has_bind_mounts: Option<bool>,
}

/// What a hook's `when` is matched against.
#[derive(Debug, Clone)]
pub(crate) struct HookContext<'a> {
    /// The container's annotations.
    pub annotations: &'a BTreeMap<String, String>,
    /// The container's command (its first word is matched).
    pub command: &'a [String],
    /// Whether it has bind mounts (or volumes, which are binds).
    pub has_bind_mounts: bool,
}

const STAGES: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        what: format!("OCI hook {}", path.display()),
        reason: reason.into(),
    }
}

fn regex(path: &Path, pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern)
        .map_err(|e| bad(path, format!("bad regular expression {pattern:?}: {e}")))
}

/// The hook files of `dirs` (a missing directory has none), later ones
/// replacing earlier ones of the same file name, in name order.
fn hook_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read", dir, e)),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                by_name.insert(name, e.path());
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// The hooks that apply to a container, by stage; `None` when none does.
pub(crate) fn hooks_for(dirs: &[PathBuf], ctx: &HookContext<'_>) -> Result<Option<Hooks>> {
    let mut stages: BTreeMap<&str, Vec<Hook>> = BTreeMap::new();
    for path in hook_files(dirs)? {
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let file: HookFile =
            serde_json::from_slice(&bytes).map_err(|e| bad(&path, e.to_string()))?;
        if file.version != "1.0.0" {
            return Err(bad(
                &path,
                format!("version {:?} is not supported: only 1.0.0 is", file.version),
            ));
        }
        if file.stages.is_empty() {
            return Err(bad(&path, "no stages"));
        }
        for st in &file.stages {
            if !STAGES.contains(&st.as_str()) {
                return Err(bad(
                    &path,
                    format!("unknown stage {st:?}: valid are {}", STAGES.join(", ")),
                ));
            }
        }
        if !file.hook.path.is_absolute() {
            return Err(bad(&path, "hook.path must be absolute"));
        }
        let w = &file.when;
        if w.always.is_none()
            && w.annotations.is_none()
            && w.commands.is_none()
            && w.has_bind_mounts.is_none()
        {
            return Err(bad(&path, "when has no condition"));
        }
        let mut applies =
            w.always == Some(true) || (w.has_bind_mounts == Some(true) && ctx.has_bind_mounts);
        if let Some(cmds) = &w.commands {
            let first = ctx.command.first().map(String::as_str).unwrap_or("");
            for c in cmds {
                applies |= regex(&path, c)?.is_match(first);
            }
        }
        if let Some(ann) = &w.annotations {
            for (k, v) in ann {
                let (k, v) = (regex(&path, k)?, regex(&path, v)?);
                applies |= ctx
                    .annotations
                    .iter()
                    .any(|(ak, av)| k.is_match(ak) && v.is_match(av));
            }
        }
        if !applies {
            continue;
        }
        let mut hook = HookBuilder::default().path(file.hook.path.clone());
        if let Some(a) = &file.hook.args {
            hook = hook.args(a.clone());
        }
        if let Some(e) = &file.hook.env {
            hook = hook.env(e.clone());
        }
        if let Some(t) = file.hook.timeout {
            if t <= 0 {
                return Err(bad(&path, "hook.timeout must be positive"));
            }
            hook = hook.timeout(t);
        }
        let hook = hook.build().map_err(|e| bad(&path, e.to_string()))?;
        for st in &file.stages {
            if let Some(stage) = STAGES.iter().find(|s| **s == st.as_str()) {
                stages.entry(stage).or_default().push(hook.clone());
            }
        }
    }
    if stages.is_empty() {
        return Ok(None);
    }
    let mut b = HooksBuilder::default();
    for (stage, list) in stages {
        b = match stage {
            "prestart" => b.prestart(list),
            "createRuntime" => b.create_runtime(list),
            "createContainer" => b.create_container(list),
            "startContainer" => b.start_container(list),
            "poststart" => b.poststart(list),
            _ => b.poststop(list),
        };
    }
    Ok(Some(b.build().map_err(|e| Error::InvalidArgument {
        what: "OCI hooks".to_owned(),
        reason: e.to_string(),
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn hooks_apply_by_their_conditions_and_later_dirs_win() {
        let t = tempfile::tempdir().unwrap();
        let (low, high) = (t.path().join("usr"), t.path().join("etc"));
        write(
            &low,
            "a.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/low"},"when":{"always":true},"stages":["prestart"]}"#,
        );
        write(
            &high,
            "a.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/high","args":["high","x"]},"when":{"always":true},"stages":["prestart","poststop"]}"#,
        );
        write(
            &low,
            "b.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/cmd"},"when":{"commands":["^/bin/sle+p$"]},"stages":["poststart"]}"#,
        );
        write(
            &low,
            "c.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/ann"},"when":{"annotations":{"^io\\.x$":"^on$"}},"stages":["createContainer"]}"#,
        );
        write(
            &low,
            "d.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/binds"},"when":{"hasBindMounts":true},"stages":["prestart"]}"#,
        );
        write(&low, "notes.txt", "not a hook");
        let dirs = vec![low.clone(), high.clone(), t.path().join("missing")];
        let ann = BTreeMap::from([("io.x".to_owned(), "on".to_owned())]);
        let cmd = vec!["/bin/sleep".to_owned(), "1".to_owned()];
        let ctx = HookContext {
            annotations: &ann,
            command: &cmd,
            has_bind_mounts: false,
        };
        let h = hooks_for(&dirs, &ctx).unwrap().unwrap();
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["prestart"].as_array().unwrap().len(), 1);
        assert_eq!(v["prestart"][0]["path"], "/bin/high");
        assert_eq!(v["poststop"][0]["args"][1], "x");
        assert_eq!(v["poststart"][0]["path"], "/bin/cmd");
        assert_eq!(v["createContainer"][0]["path"], "/bin/ann");
        let none = BTreeMap::new();
        let ctx = HookContext {
            annotations: &none,
            command: &[],
            has_bind_mounts: true,
        };
        let v = serde_json::to_value(hooks_for(&dirs, &ctx).unwrap().unwrap()).unwrap();
        assert!(
            v["prestart"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["path"] == "/bin/binds")
        );
        assert!(v.get("poststart").is_none_or(|p| p.is_null()));
        assert!(
            hooks_for(&[t.path().join("missing")], &ctx)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_hook_files_are_errors_naming_them() {
        for (text, want) in [
            (
                r#"{"version":"2.0.0","hook":{"path":"/x"},"when":{"always":true},"stages":["prestart"]}"#,
                "version",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/x"},"when":{"always":true},"stages":["soon"]}"#,
                "unknown stage",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"x"},"when":{"always":true},"stages":["prestart"]}"#,
                "absolute",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/x"},"when":{},"stages":["prestart"]}"#,
                "no condition",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/x"},"when":{"commands":["("]},"stages":["prestart"]}"#,
                "regular expression",
            ),
            (r#"{"version":"1.0.0""#, "EOF"),
        ] {
            let t = tempfile::tempdir().unwrap();
            write(t.path(), "bad.json", text);
            let none = BTreeMap::new();
            let ctx = HookContext {
                annotations: &none,
                command: &[],
                has_bind_mounts: false,
            };
            let err = hooks_for(&[t.path().to_path_buf()], &ctx)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(want) && err.contains("bad.json"),
                "{text}: {err}"
            );
        }
    }
}
