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
            Ok(s) => ContainerFilter::Status(s),
            Err(_) => bail!(
                "invalid status filter {value:?}: use one of {}",
                ContainerStatus::ALL.map(ContainerStatus::as_str).join(", ")
            ),
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
        for bad in ["colour=red", "status=sleepy", "nokey", "exited=x"] {
            assert!(container_filter(bad).is_err(), "{bad}");
        }
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
