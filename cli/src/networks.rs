//! `network create|ls|inspect|rm|prune|exists` and `port`, in podman
//! 4.3's shapes and exit codes (rm: 1 for a missing network, 2 for one in
//! use).

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use oxpod_runtime::{Container, Error as RtError, Network, NewNetwork, Runtime};
use serde_json::{Value, json};

use crate::args::{NetworkCommand, NetworkLsArgs, PortArgs};
use crate::output::{Format, print_json, print_table, print_template};

/// A network for templates: podman's Go field names.
fn template_doc(n: &Network, no_trunc: bool) -> Value {
    json!({
        "Name": n.name,
        "ID": if no_trunc { n.id.clone() } else { n.id.chars().take(12).collect() },
        "Driver": n.driver,
        "NetworkInterface": n.network_interface.clone().unwrap_or_default(),
        "Created": n.created,
        "Subnets": n.subnets.iter().map(|s| json!({
            "Subnet": s.subnet.to_string(),
            "Gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "IPv6Enabled": n.ipv6_enabled,
        "Internal": n.internal,
        "DNSEnabled": n.dns_enabled,
        "Labels": n.labels,
        "Options": n.options,
        "IPAMOptions": n.ipam_options,
    })
}

/// Runs a `network` subcommand.
pub fn network(out: &mut impl Write, rt: &Runtime, cmd: &NetworkCommand) -> Result<u8> {
    let networks = rt.networks();
    match cmd {
        NetworkCommand::Create(a) => {
            if a.ipv6 {
                bail!("--ipv6: IPv6 networks are not supported yet");
            }
            let options = a
                .opts
                .iter()
                .map(|o| match o.split_once('=') {
                    Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
                    None => bail!("-o {o:?}: expected KEY=VALUE"),
                })
                .collect::<Result<_>>()?;
            let n = networks.create(&NewNetwork {
                name: a.name.clone().unwrap_or_default(),
                driver: a.driver.clone(),
                subnet: a.subnet.clone(),
                gateway: a.gateway.clone(),
                ip_range: a.ip_range.clone(),
                internal: a.internal,
                disable_dns: a.disable_dns,
                labels: crate::parse::labels(&a.labels, &[])?,
                options,
            })?;
            writeln!(out, "{}", n.name)?;
            Ok(0)
        }
        NetworkCommand::Ls(a) => ls(out, rt, a),
        NetworkCommand::Inspect(a) => {
            let list = a
                .names
                .iter()
                .map(|n| networks.inspect(n))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            match Format::parse(a.format.as_deref())? {
                Format::Template(t) => {
                    for n in &list {
                        writeln!(out, "{}", t.render(&template_doc(n, true))?)?;
                    }
                }
                _ => {
                    let docs: Vec<Value> = list
                        .iter()
                        .map(serde_json::to_value)
                        .collect::<std::result::Result<_, _>>()?;
                    print_json(out, &docs)?;
                }
            }
            Ok(0)
        }
        NetworkCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match networks.remove(n, a.force) {
                    Ok(name) => writeln!(out, "{name}")?,
                    Err(RtError::Network(e)) if e.is_not_found() => {
                        eprintln!("Error: {e}");
                        code = code.max(1);
                    }
                    Err(e @ RtError::NetworkInUse { .. }) => {
                        eprintln!("Error: {e}");
                        code = 2;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(code)
        }
        NetworkCommand::Prune(a) => {
            if !a.force {
                eprint!(
                    "WARNING! This will remove all networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
                );
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    return Ok(0);
                }
            }
            for n in networks.prune()? {
                writeln!(out, "{n}")?;
            }
            Ok(0)
        }
        NetworkCommand::Exists(a) => Ok(if networks.exists(&a.name)? { 0 } else { 1 }),
        NetworkCommand::Connect(a) => {
            let r = rt.containers().resolve(&a.container)?;
            networks.connect(
                &a.network,
                &r,
                &a.aliases,
                a.ip.as_deref(),
                a.mac_address.as_deref(),
            )?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            let r = rt.containers().resolve(&a.container)?;
            networks.disconnect(&a.network, &r)?;
            Ok(0)
        }
        NetworkCommand::Reload(a) => {
            let refs = if a.all {
                rt.containers()
                    .list(&[])?
                    .iter()
                    .filter(|c| c.state.netns.is_some())
                    .map(oxpod_runtime::ContainerRef::from)
                    .collect()
            } else {
                if a.containers.is_empty() {
                    bail!("give a container, or --all");
                }
                a.containers
                    .iter()
                    .map(|n| rt.containers().resolve(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
            };
            let mut code = 0;
            for r in refs {
                match networks.reload(&r) {
                    Ok(()) => writeln!(out, "{}", r.id())?,
                    Err(e) => {
                        eprintln!("Error: {e}");
                        code = 125;
                    }
                }
            }
            Ok(code)
        }
    }
}

fn ls(out: &mut impl Write, rt: &Runtime, a: &NetworkLsArgs) -> Result<u8> {
    let mut filters = Vec::new();
    for f in &a.filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected KEY=VALUE"))?;
        if !matches!(k, "name" | "id" | "driver" | "label") {
            bail!("invalid filter key {k:?}: valid keys are name, id, driver, label");
        }
        filters.push((k.to_owned(), v.to_owned()));
    }
    let keeps = |n: &Network| {
        // The same key ORs, different keys AND (podman's rule).
        let mut by_key: std::collections::BTreeMap<&str, bool> = Default::default();
        for (k, v) in &filters {
            let hit = match k.as_str() {
                "name" => n.name.contains(v.as_str()),
                "id" => n.id.starts_with(v.as_str()),
                "driver" => &n.driver == v,
                _ => match v.split_once('=') {
                    Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                    None => n.labels.contains_key(v),
                },
            };
            *by_key.entry(k.as_str()).or_default() |= hit;
        }
        by_key.values().all(|v| *v)
    };
    let list: Vec<Network> = rt.networks().list()?.into_iter().filter(keeps).collect();
    if a.quiet {
        for n in &list {
            writeln!(out, "{}", n.name)?;
        }
        return Ok(0);
    }
    match Format::parse_list(a.format.as_deref())? {
        Format::Json => {
            let docs: Vec<Value> = list
                .iter()
                .map(serde_json::to_value)
                .collect::<std::result::Result<_, _>>()?;
            print_json(out, &docs)?;
        }
        Format::Template(t) => {
            let docs: Vec<Value> = list.iter().map(|n| template_doc(n, a.no_trunc)).collect();
            let titles = crate::template::titles(
                &template_doc(&oxpod_runtime::network::default_network(), false),
                &[("ID", "NETWORK ID")],
            );
            let t = if a.noheading { t.without_header() } else { t };
            print_template(out, &t, &docs, &titles)?;
        }
        Format::Default => {
            let mut rows = Vec::new();
            if !a.noheading {
                rows.push(vec!["NETWORK ID".into(), "NAME".into(), "DRIVER".into()]);
            }
            for n in &list {
                let id = if a.no_trunc {
                    n.id.clone()
                } else {
                    n.id.chars().take(12).collect()
                };
                rows.push(vec![id, n.name.clone(), n.driver.clone()]);
            }
            print_table(out, &rows)?;
        }
    }
    Ok(0)
}

/// A container's published ports as `port` and `ps` show them:
/// `80/tcp -> 0.0.0.0:8080`.
pub fn port_lines(c: &Container) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let ports = if c.state.ports.is_empty() {
        &c.config.ports
    } else {
        &c.state.ports
    };
    for p in ports {
        for i in 0..p.range {
            let host_ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                p.host_ip.as_str()
            };
            out.push((
                format!("{}/{}", p.container_port + i, p.protocol),
                format!("{host_ip}:{}", p.host_port + i),
            ));
        }
    }
    out
}

/// `ps`'s PORTS column: `0.0.0.0:8080->80/tcp, ...` (ranges joined).
pub fn ports_column(c: &Container) -> String {
    let ports = if c.state.ports.is_empty() {
        &c.config.ports
    } else {
        &c.state.ports
    };
    ports
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                p.host_ip.as_str()
            };
            if p.range > 1 {
                format!(
                    "{ip}:{}-{}->{}-{}/{}",
                    p.host_port,
                    p.host_port + p.range - 1,
                    p.container_port,
                    p.container_port + p.range - 1,
                    p.protocol
                )
            } else {
                format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.protocol)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `port CTR [PORT[/PROTO]]` and `port -a`.
pub fn port(out: &mut impl Write, rt: &Runtime, a: &PortArgs) -> Result<u8> {
    let containers = rt.containers();
    let list: Vec<Container> = match (&a.container, a.all) {
        (Some(name), false) => vec![containers.get(&containers.resolve(name)?)?],
        (None, true) => containers
            .list(&[])?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state.status,
                    oxpod_runtime::ContainerStatus::Running
                        | oxpod_runtime::ContainerStatus::Paused
                )
            })
            .collect(),
        (Some(_), true) => bail!("the container and --all are mutually exclusive"),
        (None, false) => bail!("give a container, or --all"),
    };
    let want = a.port.as_deref().map(|p| {
        if p.contains('/') {
            p.to_owned()
        } else {
            format!("{p}/tcp")
        }
    });
    for c in &list {
        let running = matches!(
            c.state.status,
            oxpod_runtime::ContainerStatus::Running | oxpod_runtime::ContainerStatus::Paused
        );
        if !running {
            continue;
        }
        for (ctr, host) in port_lines(c) {
            match &want {
                Some(w) if *w != ctr => {}
                Some(_) => writeln!(out, "{host}")?,
                None if a.all => writeln!(out, "{} {ctr} -> {host}", &c.config.id[..12])?,
                None => writeln!(out, "{ctr} -> {host}")?,
            }
        }
    }
    Ok(0)
}
