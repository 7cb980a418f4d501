//! Parsing of argument values the runtime takes typed: `KEY=VALUE` lists
//! (labels) and `ps --filter key=value`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use oxpod_runtime::{ContainerFilter, ContainerStatus};

/// The filter keys `ps` knows.
const FILTER_KEYS: &str = "id, name, label, status, pod, exited";

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
/// runtime has it yet: two conditions of one key, ORed).
pub fn container_filters(text: &str) -> Result<Vec<ContainerFilter>> {
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
    Ok(vec![container_filter(text)?])
}

/// Parses one `ps --filter key=value`.
pub fn container_filter(text: &str) -> Result<ContainerFilter> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid filter {text:?}: expected KEY=VALUE, with a key of {FILTER_KEYS}");
    };
    Ok(match key {
        "id" => ContainerFilter::Id(value.to_owned()),
        "name" => ContainerFilter::Name(value.to_owned()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
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
            assert!(container_filters(bad).is_err(), "{bad}");
        }
        assert_eq!(container_filters("status=created").unwrap().len(), 2);
        assert!(
            container_filters("status=bogus")
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
    fn key_value_lists() {
        let m = key_values("label", &["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(m["b"], "x=y");
        assert!(key_values("label", &["=1".into()]).is_err());
        assert!(key_values("label", &["novalue".into()]).is_err());
    }
}
