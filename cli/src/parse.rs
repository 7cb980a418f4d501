//! Parsing of argument values the runtime takes typed: `KEY=VALUE` lists
//! (labels) and `ps --filter key=value`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use jiff::Timestamp;
use oxpod_runtime::{ContainerFilter, ContainerStatus, NamePattern, PodFilter, PodStatus};

/// The environment a container gets from `-e` and `--env-file`, in order:
/// `KEY=VALUE` as given; a bare `KEY` takes the host's value, and is left
/// out when the host has none (podman's behaviour). Env files hold one
/// entry a line; blank lines and `#` comments are skipped.
pub fn environment(entries: &[String], files: &[std::path::PathBuf]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut add = |entry: &str| -> Result<()> {
        match entry.split_once('=') {
            Some(("", _)) => bail!("invalid environment entry {entry:?}: the name is empty"),
            Some(_) => out.push(entry.to_owned()),
            None if entry.is_empty() => bail!("invalid environment entry: empty"),
            None => {
                if let Some(value) = std::env::var_os(entry) {
                    out.push(format!("{entry}={}", value.to_string_lossy()));
                }
            }
        }
        Ok(())
    };
    for file in files {
        for line in read_lines(file)? {
            add(&line)?;
        }
    }
    for e in entries {
        add(e)?;
    }
    Ok(out)
}

/// Labels from `--label-file` files then `-l` entries (later wins).
pub fn labels(
    entries: &[String],
    files: &[std::path::PathBuf],
) -> Result<BTreeMap<String, String>> {
    let mut all = Vec::new();
    for file in files {
        all.extend(read_lines(file)?);
    }
    all.extend(entries.iter().cloned());
    // podman: a label without `=` has an empty value.
    let all: Vec<String> = all
        .into_iter()
        .map(|l| if l.contains('=') { l } else { format!("{l}=") })
        .collect();
    key_values("label", &all)
}

/// The meaningful lines of an env or label file.
fn read_lines(file: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The filter keys `ps` knows.
const FILTER_KEYS: &str =
    "id, name, label, status, pod, exited, ancestor, since, before, volume, network";

/// Splits `KEY=VALUE` pairs into a map (`what` names them in errors).
pub fn key_values(what: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("invalid {what} {s:?}: expected KEY=VALUE"),
        })
        .collect()
}

/// The states podman's `status=` filter knows.
const STATES: &str = "created, running, paused, stopped, exited, removing";

/// Parses one `ps --filter key=value` into the conditions it stands for
/// (`status=created` is a never-started container, whether or not the
/// runtime has it yet: two conditions of one key, ORed). `created_of`
/// gives the creation time of the container a `since=` or `before=`
/// filter names.
pub fn container_filters(
    text: &str,
    created_of: &dyn Fn(&str) -> Result<Timestamp>,
) -> Result<Vec<ContainerFilter>> {
    if let Some(value) = text.strip_prefix("status=") {
        return Ok(match value {
            "created" => vec![
                ContainerFilter::Status(ContainerStatus::Configured),
                ContainerFilter::Status(ContainerStatus::Created),
            ],
            "configured" => bail!("unknown container state: {value}: use one of {STATES}"),
            _ => match value.parse::<ContainerStatus>() {
                Ok(s) => vec![ContainerFilter::Status(s)],
                Err(_) => bail!("unknown container state: {value}: use one of {STATES}"),
            },
        });
    }
    match text.split_once('=') {
        Some(("since", name)) => return Ok(vec![ContainerFilter::CreatedAfter(created_of(name)?)]),
        Some(("before", name)) => {
            return Ok(vec![ContainerFilter::CreatedBefore(created_of(name)?)]);
        }
        _ => {}
    }
    Ok(vec![container_filter(text)?])
}

/// Parses one `ps --filter key=value`.
pub fn container_filter(text: &str) -> Result<ContainerFilter> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid filter {text:?}: expected KEY=VALUE, with a key of {FILTER_KEYS}");
    };
    Ok(match key {
        "id" => ContainerFilter::Id(value.to_owned()),
        "name" => ContainerFilter::Name(NamePattern::new(value)?),
        "ancestor" => ContainerFilter::Ancestor(value.to_owned()),
        "volume" => ContainerFilter::Volume(value.to_owned()),
        "network" => ContainerFilter::Network(value.to_owned()),
        "label" => match value.split_once('=') {
            Some((k, v)) => ContainerFilter::Label(k.to_owned(), Some(v.to_owned())),
            None => ContainerFilter::Label(value.to_owned(), None),
        },
        "status" => match value.parse::<ContainerStatus>() {
            Ok(s) if s != ContainerStatus::Configured => ContainerFilter::Status(s),
            _ => bail!("unknown container state: {value}: use one of {STATES}"),
        },
        "pod" => ContainerFilter::Pod(value.to_owned()),
        "exited" => match value.parse() {
            Ok(code) => ContainerFilter::Exited(code),
            Err(_) => bail!("invalid exited filter {value:?}: expected an exit code"),
        },
        other => bail!("invalid filter {other:?}: use one of {FILTER_KEYS}"),
    })
}

/// The filter keys `pod ps` knows.
const POD_FILTER_KEYS: &str =
    "id, name, label, status, ctr-names, ctr-ids, ctr-status, ctr-number, until, network";

/// Parses one `pod ps --filter key=value` into its conditions (ORed).
pub fn pod_filters(text: &str, now: Timestamp) -> Result<Vec<PodFilter>> {
    if text == "ctr-status=created" {
        return Ok(vec![
            PodFilter::CtrStatus(ContainerStatus::Configured),
            PodFilter::CtrStatus(ContainerStatus::Created),
        ]);
    }
    Ok(vec![pod_filter(text, now)?])
}

fn pod_filter(text: &str, now: Timestamp) -> Result<PodFilter> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid filter {text:?}: expected KEY=VALUE, with a key of {POD_FILTER_KEYS}");
    };
    Ok(match key {
        "id" => PodFilter::Id(value.to_owned()),
        "name" => PodFilter::Name(NamePattern::new(value)?),
        "label" => match value.split_once('=') {
            Some((k, v)) => PodFilter::Label(k.to_owned(), Some(v.to_owned())),
            None => PodFilter::Label(value.to_owned(), None),
        },
        "status" => match PodStatus::parse(value) {
            Some(s) => PodFilter::Status(s),
            None => bail!(
                "invalid pod status {value:?}: use one of stopped, running, paused, exited, dead, created, degraded"
            ),
        },
        "ctr-names" => PodFilter::CtrName(NamePattern::new(value)?),
        "ctr-ids" => PodFilter::CtrId(value.to_owned()),
        "ctr-status" => match value.parse::<ContainerStatus>() {
            Ok(s) if s != ContainerStatus::Configured => PodFilter::CtrStatus(s),
            _ => bail!("unknown container state: {value}: use one of {STATES}"),
        },
        "ctr-number" => match value.parse() {
            Ok(n) => PodFilter::CtrNumber(n),
            Err(_) => bail!("invalid ctr-number filter {value:?}: expected a count"),
        },
        "until" => PodFilter::Until(
            oxpod_runtime::events::parse_time(value, now)
                .map_err(|e| anyhow::anyhow!("invalid until filter: {e}"))?,
        ),
        "network" => PodFilter::Network(value.to_owned()),
        other => bail!("invalid filter {other:?}: use one of {POD_FILTER_KEYS}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_containers(name: &str) -> Result<Timestamp> {
        bail!("no container {name}")
    }

    #[test]
    fn pod_filters_parse() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(
            pod_filters("status=degraded", now).unwrap(),
            [PodFilter::Status(PodStatus::Degraded)]
        );
        assert_eq!(pod_filters("ctr-status=created", now).unwrap().len(), 2);
        assert_eq!(
            pod_filters("ctr-number=2", now).unwrap(),
            [PodFilter::CtrNumber(2)]
        );
        for bad in [
            "status=sleepy",
            "ctr-number=x",
            "bogus=1",
            "nokey",
            "name=(",
        ] {
            assert!(pod_filters(bad, now).is_err(), "{bad}");
        }
        assert!(
            pod_filters("bogus=1", now)
                .unwrap_err()
                .to_string()
                .contains("ctr-names")
        );
    }

    #[test]
    fn filters_parse() {
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let one = |_: &str| Ok(at);
        assert_eq!(
            container_filters("since=web", &one).unwrap(),
            [ContainerFilter::CreatedAfter(at)]
        );
        assert_eq!(
            container_filters("before=web", &one).unwrap(),
            [ContainerFilter::CreatedBefore(at)]
        );
        assert!(container_filters("since=nope", &no_containers).is_err());
        assert!(
            container_filter("name=(")
                .unwrap_err()
                .to_string()
                .contains("invalid filter")
        );
        assert_eq!(
            container_filter("name=^web$").unwrap(),
            ContainerFilter::Name(NamePattern::new("^web$").unwrap())
        );
        assert_eq!(
            container_filter("label=a=b").unwrap(),
            ContainerFilter::Label("a".into(), Some("b".into()))
        );
        assert_eq!(
            container_filter("status=running").unwrap(),
            ContainerFilter::Status(ContainerStatus::Running)
        );
        for bad in [
            "colour=red",
            "status=sleepy",
            "nokey",
            "exited=x",
            "status=configured",
        ] {
            assert!(container_filters(bad, &no_containers).is_err(), "{bad}");
        }
        assert_eq!(
            container_filters("status=created", &no_containers)
                .unwrap()
                .len(),
            2
        );
        assert!(
            container_filters("status=bogus", &no_containers)
                .unwrap_err()
                .to_string()
                .starts_with("unknown container state: bogus")
        );
        assert!(
            container_filter("colour=red")
                .unwrap_err()
                .to_string()
                .contains("use one of id, name")
        );
    }

    #[test]
    fn environment_entries_and_files() {
        let dir = std::env::temp_dir().join(format!("oxpod-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env");
        std::fs::write(&file, "# a comment\nFROM_FILE=1\n\nPATH\n").unwrap();
        let env = environment(
            &["A=b=c".into(), "OXPOD_SURELY_UNSET_VAR".into()],
            std::slice::from_ref(&file),
        )
        .unwrap();
        assert_eq!(env[0], "FROM_FILE=1");
        assert!(env[1].starts_with("PATH="), "the host's value: {env:?}");
        assert_eq!(env[2], "A=b=c");
        assert_eq!(env.len(), 3, "an unset host variable is left out");
        assert!(environment(&["=x".into()], &[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn key_value_lists() {
        let m = key_values("label", &["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(m["b"], "x=y");
        assert!(key_values("label", &["=1".into()]).is_err());
        assert!(key_values("label", &["novalue".into()]).is_err());
    }
}
