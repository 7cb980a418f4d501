//! `volume create|ls|inspect|rm|prune|exists`, in podman 4.3's shapes and
//! exit codes (rm: 1 for a missing volume, 2 for one in use).

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use oxpod_runtime::{Error as RtError, NewVolume, Runtime, Volume};
use serde_json::{Value, json};

use crate::args::{VolumeCommand, VolumeLsArgs};
use crate::output::{Format, print_json, print_table, print_template};

/// `volume inspect` and `volume ls --format json`: podman's document.
pub fn volume_doc(v: &Volume, mount_count: usize) -> Value {
    let mut doc = json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "CreatedAt": v.created.to_string(),
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
        "MountCount": mount_count,
    });
    // podman leaves these out once false (`omitempty`).
    if v.needs_copy_up {
        doc["NeedsCopyUp"] = Value::Bool(true);
    }
    if v.needs_chown {
        doc["NeedsChown"] = Value::Bool(true);
    }
    if v.anonymous {
        doc["Anonymous"] = Value::Bool(true);
    }
    doc
}

fn docs(rt: &Runtime, list: &[Volume]) -> Result<Vec<Value>> {
    let volumes = rt.volumes();
    list.iter()
        .map(|v| Ok(volume_doc(v, volumes.mount_count(v)?)))
        .collect()
}

/// Runs a `volume` subcommand.
pub fn volume(out: &mut impl Write, rt: &Runtime, cmd: &VolumeCommand) -> Result<u8> {
    let volumes = rt.volumes();
    match cmd {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                bail!(
                    "volume driver {:?} is not supported: only local is",
                    a.driver
                );
            }
            // podman's: KEY=VALUE, or a bare KEY (`nocopy`).
            let options = a
                .opts
                .iter()
                .map(|o| {
                    let (k, v) = o.split_once('=').unwrap_or((o, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let v = volumes.create(NewVolume {
                // An empty name is no name (podman's): a random one.
                name: a.name.clone().filter(|n| !n.is_empty()),
                labels: crate::parse::labels(&a.labels, &[])?,
                anonymous: false,
                options,
            })?;
            writeln!(out, "{}", v.name)?;
            Ok(0)
        }
        VolumeCommand::Ls(a) => ls(out, rt, a),
        VolumeCommand::Inspect(a) => {
            let list = if a.all {
                volumes.list()?
            } else {
                if a.names.is_empty() {
                    bail!("give a volume name, or --all");
                }
                a.names
                    .iter()
                    .map(|n| volumes.get(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
            };
            let docs = docs(rt, &list)?;
            match Format::parse(a.format.as_deref())? {
                Format::Template(t) => {
                    for d in &docs {
                        writeln!(out, "{}", t.render(d)?)?;
                    }
                }
                _ => print_json(out, &docs)?,
            }
            Ok(0)
        }
        VolumeCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                volumes.list()?.into_iter().map(|v| v.name).collect()
            } else {
                a.names.clone()
            };
            if names.is_empty() {
                bail!("give a volume name, or --all");
            }
            let mut code = 0;
            for n in &names {
                match volumes.remove(n, a.force) {
                    Ok(()) => writeln!(out, "{n}")?,
                    Err(e @ RtError::NoSuchVolume { .. }) => {
                        eprintln!("Error: {e}");
                        code = code.max(1);
                    }
                    Err(e @ RtError::VolumeInUse { .. }) => {
                        eprintln!("Error: {e}");
                        code = 2;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(code)
        }
        VolumeCommand::Prune(a) => {
            if !a.force && !confirm()? {
                return Ok(0);
            }
            let filters = a
                .filters
                .iter()
                .map(|f| parse_filter(f, true))
                .collect::<Result<Vec<_>>>()?;
            let wanted = |v: &Volume| {
                filters
                    .iter()
                    .all(|f| f.keeps(v, &mut || Ok(true)).unwrap_or(false))
            };
            for n in volumes.prune(&wanted)? {
                writeln!(out, "{n}")?;
            }
            Ok(0)
        }
        VolumeCommand::Exists(a) => match volumes.get(&a.name) {
            Ok(_) => Ok(0),
            Err(RtError::NoSuchVolume { .. }) => Ok(1),
            Err(e) => Err(e.into()),
        },
    }
}

fn confirm() -> Result<bool> {
    eprint!(
        "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\nAre you sure you want to continue? [y/N] "
    );
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// A `volume ls --filter` (or `volume prune --filter`).
enum Filter {
    Name(String),
    Label(String, Option<String>),
    NotLabel(String, Option<String>),
    Driver(String),
    Dangling(bool),
    Opt(String, Option<String>),
    Scope(String),
    Until(jiff::Timestamp),
}

fn key_value(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
        None => (v.to_owned(), None),
    }
}

fn has_pair(map: &std::collections::BTreeMap<String, String>, k: &str, v: &Option<String>) -> bool {
    match (map.get(k), v) {
        (Some(have), Some(want)) => have == want,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

impl Filter {
    /// Whether `v` passes; `unused` says whether no container uses it.
    fn keeps(&self, v: &Volume, unused: &mut dyn FnMut() -> Result<bool>) -> Result<bool> {
        Ok(match self {
            Filter::Name(n) => v.name.contains(n.as_str()),
            Filter::Label(k, val) => has_pair(&v.labels, k, val),
            Filter::NotLabel(k, val) => !has_pair(&v.labels, k, val),
            Filter::Driver(d) => &v.driver == d,
            Filter::Dangling(d) => unused()? == *d,
            Filter::Opt(k, val) => has_pair(&v.options, k, val),
            Filter::Scope(s) => s == "local",
            Filter::Until(t) => v.created < *t,
        })
    }
}

fn parse_filter(f: &str, prune: bool) -> Result<Filter> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected KEY=VALUE"))?;
    let now = jiff::Timestamp::now();
    let until = || -> Result<Filter> {
        Ok(Filter::Until(
            oxpod_runtime::events::parse_time(v, now)
                .map_err(|e| anyhow::anyhow!("invalid until filter: {e}"))?,
        ))
    };
    if prune {
        // podman's `volume prune` takes these only.
        return Ok(match k {
            "label" => {
                let (k, v) = key_value(v);
                Filter::Label(k, v)
            }
            "label!" => {
                let (k, v) = key_value(v);
                Filter::NotLabel(k, v)
            }
            "until" => until()?,
            other => {
                bail!("{other} is an invalid filter for volume prune: use label, label! or until")
            }
        });
    }
    Ok(match k {
        "name" => Filter::Name(v.to_owned()),
        "label" => {
            let (k, v) = key_value(v);
            Filter::Label(k, v)
        }
        "driver" => Filter::Driver(v.to_owned()),
        "dangling" => Filter::Dangling(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => bail!("invalid filter {f:?}: dangling takes true or false"),
        }),
        "opt" => {
            let (k, v) = key_value(v);
            Filter::Opt(k, v)
        }
        "scope" => Filter::Scope(v.to_owned()),
        "until" => until()?,
        other => {
            bail!(
                "invalid filter key {other:?}: valid keys are name, label, driver, dangling, opt, scope, until"
            )
        }
    })
}

fn ls(out: &mut impl Write, rt: &Runtime, a: &VolumeLsArgs) -> Result<u8> {
    let filters = a
        .filters
        .iter()
        .map(|f| parse_filter(f, false))
        .collect::<Result<Vec<_>>>()?;
    let volumes = rt.volumes();
    let mut list = Vec::new();
    for v in volumes.list()? {
        let mut keep = true;
        for f in &filters {
            keep &= f.keeps(&v, &mut || Ok(volumes.users(&v.name)?.is_empty()))?;
        }
        if keep {
            list.push(v);
        }
    }
    if a.quiet {
        for v in &list {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(0);
    }
    let docs = docs(rt, &list)?;
    match Format::parse_list(a.format.as_deref())? {
        Format::Json => print_json(out, &docs)?,
        Format::Template(t) => {
            let titles = crate::template::titles(&volume_doc(&blank(), 0), &[]);
            let t = if a.noheading { t.without_header() } else { t };
            print_template(out, &t, &docs, &titles)?;
        }
        Format::Default => {
            let mut rows = Vec::new();
            if !a.noheading {
                rows.push(vec!["DRIVER".to_owned(), "VOLUME NAME".to_owned()]);
            }
            for v in &list {
                rows.push(vec![v.driver.clone(), v.name.clone()]);
            }
            print_table(out, &rows)?;
        }
    }
    Ok(0)
}

fn blank() -> Volume {
    Volume {
        name: String::new(),
        driver: String::new(),
        mountpoint: Default::default(),
        labels: Default::default(),
        lock_id: 0,
        anonymous: false,
        created: jiff::Timestamp::UNIX_EPOCH,
        options: Default::default(),
        needs_copy_up: false,
        needs_chown: false,
    }
}
