//! Networks (podman 4's, on netavark): the definitions service behind
//! `network create|ls|inspect|rm|prune|exists`, the `--network` plan a
//! container is created with, and the setup and teardown of a container's
//! network namespace around its runs.
//!
//! Leases are the containers' own records: an address is held by the
//! container whose state lists it while its namespace file exists. They
//! are chosen under one file lock (`<tmp>/networks/ipam.lock`), the
//! namespace is made and the state written before the lock is let go, and
//! the state write of a cleanup frees them. A removed container's record
//! is gone, so is its lease; a namespace a killed command left is swept by
//! the next command's repair, which frees its lease the same way. After a
//! reboot the refresh drops every lease.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use oxpod_events::{Event, EventStatus};
use oxpod_network as net;
use oxpod_state::{Container, NetworkAttachment, NetworkStatus, PublishedPort};
use tracing::{debug, warn};

use crate::{Error, Result, Runtime};

pub use oxpod_network::{CreateRequest, Network};

/// The networks service.
#[derive(Debug)]
pub struct Networks<'a> {
    rt: &'a Runtime,
}

/// What `--network`, `--network-alias`, `--ip`, `--mac-address` and `-p`
/// ask of a new container.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    /// `--network` (`None`: the configured `netns`).
    pub mode: Option<String>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--mac-address`.
    pub mac: Option<String>,
    /// `-p` values.
    pub publish: Vec<String>,
    /// `-P`: the image's exposed ports, each on a free host port.
    pub publish_all: bool,
}

/// A container's network as decided at create.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkPlan {
    pub mode: String,
    pub networks: Vec<NetworkAttachment>,
    pub ports: Vec<PublishedPort>,
}

impl Runtime {
    /// Networks: create, list, inspect, remove, prune.
    pub fn networks(&self) -> Networks<'_> {
        Networks { rt: self }
    }

    fn definitions(&self) -> net::Definitions {
        net::Definitions::new(&self.config().network_config_dir)
    }

    fn netavark(&self) -> Result<net::Netavark> {
        let binary = net::find_helper("netavark").ok_or_else(|| Error::InvalidArgument {
            what: "netavark".to_owned(),
            reason: format!(
                "is not installed (looked in {} and PATH): apt-get install netavark",
                net::HELPER_DIRS.join(", ")
            ),
        })?;
        Ok(net::Netavark {
            binary,
            aardvark: net::find_helper("aardvark-dns"),
            config_dir: self.layout.network_run_dir(),
            rootless: self.identity.rootless,
        })
    }
}

fn network_event(status: EventStatus, net: &Network) -> Event {
    Event::network(status, &net.id, &net.name).with_attribute("type", net.driver.clone())
}

impl Networks<'_> {
    /// `network create`: checked against the other networks and the
    /// host's routes, then written whole.
    pub fn create(&self, req: &CreateRequest) -> Result<Network> {
        self.rt.check_valid()?;
        let started = std::time::Instant::now();
        let created =
            self.rt
                .definitions()
                .create(req, &net::host_routes(), crate::names::new_id)?;
        debug!(name = %created.name, took = ?started.elapsed(), "network created");
        self.rt.emit(network_event(EventStatus::Create, &created));
        Ok(created)
    }

    /// Every network by name (the default one too). A definition that does
    /// not read is skipped with a warning naming it.
    pub fn list(&self) -> Result<Vec<Network>> {
        self.rt.check_valid()?;
        Ok(self
            .rt
            .definitions()
            .list()?
            .into_iter()
            .filter_map(|n| match n {
                Ok(n) => Some(n),
                Err(e) => {
                    warn!("{e}");
                    None
                }
            })
            .collect())
    }

    /// One network by name, id or id prefix.
    pub fn inspect(&self, name_or_id: &str) -> Result<Network> {
        self.rt.check_valid()?;
        Ok(self.rt.definitions().get(name_or_id)?)
    }

    /// Whether the network exists.
    pub fn exists(&self, name_or_id: &str) -> Result<bool> {
        match self.inspect(name_or_id) {
            Ok(_) => Ok(true),
            Err(Error::Network(e)) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The containers attached to network `name`.
    pub fn users(&self, name: &str) -> Result<Vec<Container>> {
        let all = self.rt.state().all_containers()?;
        Ok(all
            .items
            .into_iter()
            .filter(|c| c.config.networks.iter().any(|n| n.name == name))
            .collect())
    }

    /// `network rm`: refused while containers use it, unless `force`
    /// (they are removed first, as podman's `-f`). Returns the name.
    pub fn remove(&self, name_or_id: &str, force: bool) -> Result<String> {
        let network = self.inspect(name_or_id)?;
        if network.name == net::DEFAULT_NETWORK {
            return Err(Error::InvalidArgument {
                what: format!("network {}", network.name),
                reason: "default network podman cannot be removed".to_owned(),
            });
        }
        let users = self.users(&network.name)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::NetworkInUse {
                    name: network.name,
                    containers: users.into_iter().map(|c| c.config.name).collect(),
                });
            }
            for c in &users {
                match self
                    .rt
                    .containers()
                    .remove(&crate::ContainerRef::from(c), true)
                {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.rt.definitions().remove(&network.name)?;
        self.rt.emit(network_event(EventStatus::Remove, &network));
        Ok(network.name)
    }

    /// `network prune`: every network no container uses, the default one
    /// kept. Returns their names.
    pub fn prune(&self) -> Result<Vec<String>> {
        let used: BTreeSet<String> = self
            .rt
            .state()
            .all_containers()?
            .items
            .into_iter()
            .flat_map(|c| c.config.networks.into_iter().map(|n| n.name))
            .collect();
        let mut out = Vec::new();
        for n in self.list()? {
            if n.name == net::DEFAULT_NETWORK || used.contains(&n.name) {
                continue;
            }
            self.rt.definitions().remove(&n.name)?;
            self.rt.emit(network_event(EventStatus::Remove, &n));
            out.push(n.name);
        }
        Ok(out)
    }

    /// The network plan of a new container (checked: the networks exist,
    /// addresses and ports parse). A member of a pod with an infra
    /// container (`pod_infra`) joins the infra's network: it takes no
    /// network or ports of its own.
    pub(crate) fn plan(
        &self,
        req: &NetworkRequest,
        pod_infra: Option<&str>,
    ) -> Result<NetworkPlan> {
        let bad = |what: &str, reason: &str| Error::InvalidArgument {
            what: what.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(infra) = pod_infra {
            if !req.publish.is_empty() || req.publish_all {
                return Err(bad(
                    "-p",
                    "invalid config provided: published or exposed ports must be defined when the pod is created",
                ));
            }
            if req.mode.as_deref().is_some_and(|m| !m.is_empty())
                || req.ip.is_some()
                || req.mac.is_some()
                || !req.aliases.is_empty()
            {
                return Err(bad(
                    "--network",
                    "invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod",
                ));
            }
            return Ok(NetworkPlan {
                mode: format!("container:{infra}"),
                ..NetworkPlan::default()
            });
        }
        let mode = match req.mode.as_deref() {
            None | Some("") => self.rt.config().netns.clone(),
            Some(m) => m.to_owned(),
        };
        let mut ports = Vec::new();
        for p in &req.publish {
            let m = net::parse_publish(p)?;
            ports.push(m);
        }
        net::check_unique(&ports)?;
        let ip: Option<Ipv4Addr> = req
            .ip
            .as_deref()
            .map(|ip| {
                ip.parse()
                    .map_err(|_| bad(&format!("--ip {ip}"), "not an IPv4 address"))
            })
            .transpose()?;
        if let Some(mac) = &req.mac {
            check_mac(mac)?;
        }
        // Each network asked for, with its `NAME:key=value,...` options.
        type Named = Vec<(String, Vec<(String, String)>)>;
        let (mode, names): (String, Named) = match mode.as_str() {
            "bridge" | "private" => (
                "bridge".to_owned(),
                vec![(net::DEFAULT_NETWORK.to_owned(), Vec::new())],
            ),
            "host" | "none" => (mode.clone(), Vec::new()),
            m if m.starts_with("container:") => {
                let target = &m["container:".len()..];
                let c = self.rt.state().lookup_container(target)?;
                if c.config.network_mode == "none" {
                    return Err(bad(
                        &format!("--network {m}"),
                        "joining a container with --network none is not supported yet",
                    ));
                }
                (format!("container:{}", c.config.id), Vec::new())
            }
            m if m.starts_with("ns:") => {
                let path = Path::new(&m[3..]);
                if !path.is_absolute() || !net::netns::is_mounted(path) {
                    return Err(bad(
                        &format!("--network {m}"),
                        "not a network namespace (an nsfs file such as /run/netns/NAME or /proc/PID/ns/net)",
                    ));
                }
                (m.to_owned(), Vec::new())
            }
            "slirp4netns" | "pasta" => {
                return Err(bad(
                    &format!("--network {mode}"),
                    "rootless networking is not supported yet: use bridge, a network's name, host or none",
                ));
            }
            list => {
                let mut names = Vec::new();
                for part in list.split(',') {
                    let (name, opts) = match part.split_once(':') {
                        Some((n, o)) => (n, o),
                        None => (part, ""),
                    };
                    let mut kv = Vec::new();
                    for o in opts.split(',').filter(|o| !o.is_empty()) {
                        let (k, v) = o.split_once('=').ok_or_else(|| {
                            bad(
                                &format!("--network {part}"),
                                "options are ip=, mac= or alias=",
                            )
                        })?;
                        kv.push((k.to_owned(), v.to_owned()));
                    }
                    names.push((name.to_owned(), kv));
                }
                ("bridge".to_owned(), names)
            }
        };
        if mode != "bridge" {
            if !ports.is_empty() {
                // podman's warning and podman's choice: they are dropped.
                warn!(
                    "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use"
                );
                ports.clear();
            }
            if ip.is_some() || req.mac.is_some() || !req.aliases.is_empty() {
                return Err(bad(
                    "--ip, --mac-address, --network-alias",
                    &format!("need a bridge network, not --network {mode}"),
                ));
            }
        }
        if names.len() > 1 && (ip.is_some() || req.mac.is_some()) {
            return Err(bad(
                "--ip, --mac-address",
                "apply to one network: give NAME:ip=...,mac=... for each instead",
            ));
        }
        let mut networks = Vec::new();
        for (i, (name, opts)) in names.into_iter().enumerate() {
            let network = self.rt.definitions().get(&name)?;
            if networks
                .iter()
                .any(|a: &NetworkAttachment| a.name == network.name)
            {
                return Err(bad(
                    &format!("--network {name}"),
                    "the same network is given twice",
                ));
            }
            let mut a = NetworkAttachment {
                name: network.name.clone(),
                interface: format!("eth{i}"),
                aliases: req.aliases.clone(),
                static_ip: ip.map(|i| i.to_string()),
                static_mac: req.mac.clone(),
            };
            for (k, v) in opts {
                match k.as_str() {
                    "ip" => {
                        let parsed: Ipv4Addr = v
                            .parse()
                            .map_err(|_| bad(&format!("ip={v}"), "not an IPv4 address"))?;
                        a.static_ip = Some(parsed.to_string());
                    }
                    "mac" => {
                        check_mac(&v)?;
                        a.static_mac = Some(v);
                    }
                    "alias" => a.aliases.push(v),
                    "interface_name" => a.interface = v,
                    other => {
                        return Err(bad(
                            &format!("--network {name}:{other}="),
                            "unknown option: use ip=, mac=, alias= or interface_name=",
                        ));
                    }
                }
            }
            if let Some(s) = &a.static_ip {
                // Inside the subnet and not its gateway (the lease itself
                // is checked at start, against what runs then).
                net::allocate(&network, &BTreeSet::new(), s.parse().ok())?;
            }
            networks.push(a);
        }
        Ok(NetworkPlan {
            mode,
            networks,
            ports: ports
                .into_iter()
                .map(|p| PublishedPort {
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    container_port: p.container_port,
                    range: p.range,
                    protocol: p.protocol,
                })
                .collect(),
        })
    }

    /// The spec's network namespace for a container's next run. A
    /// `container:` target must be running.
    pub(crate) fn namespace_for(&self, ctr: &Container) -> Result<oxpod_ociruntime::NetNamespace> {
        use oxpod_ociruntime::NetNamespace;
        let mode = ctr.config.network_mode.as_str();
        Ok(match mode {
            "" | "host" => NetNamespace::Host,
            "none" => NetNamespace::New,
            "bridge" => NetNamespace::Join(self.rt.layout.netns_path(&ctr.config.id)),
            m if m.starts_with("ns:") => NetNamespace::Join(PathBuf::from(&m[3..])),
            m if m.starts_with("container:") => {
                let target = self.rt.state().container(&m["container:".len()..])?;
                match target.config.network_mode.as_str() {
                    "" | "host" => NetNamespace::Host,
                    "bridge" => NetNamespace::Join(self.rt.layout.netns_path(&target.config.id)),
                    m if m.starts_with("ns:") => NetNamespace::Join(PathBuf::from(&m[3..])),
                    _ => {
                        return Err(Error::InvalidArgument {
                            what: format!("--network {mode}"),
                            reason: "its target's network cannot be joined".to_owned(),
                        });
                    }
                }
            }
            other => {
                return Err(Error::InvalidArgument {
                    what: format!("network mode {other:?}"),
                    reason: "unknown".to_owned(),
                });
            }
        })
    }

    /// Before a run: a `container:` target must be running; a bridge
    /// container gets its leases, its namespace, netavark's setup, and
    /// `/etc/hosts` and `/etc/resolv.conf` to match. The caller holds its
    /// lock and has noted `Step::Network` in its journal. On failure
    /// nothing is left set up.
    pub(crate) fn setup(&self, ctr: &mut Container) -> Result<()> {
        let mode = ctr.config.network_mode.clone();
        if let Some(target) = mode.strip_prefix("container:") {
            let t = self.rt.state().container(target)?;
            if !matches!(
                t.state.status,
                oxpod_state::ContainerStatus::Running | oxpod_state::ContainerStatus::Paused
            ) {
                return Err(Error::ContainerState {
                    name: t.config.name,
                    status: t.state.status.podman_word().to_owned(),
                    remedy: "the container whose network is joined must be running: start it first",
                });
            }
            return Ok(());
        }
        if mode != "bridge" {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let netavark = self.rt.netavark()?;
        let id = ctr.config.id.clone();
        let path = self.rt.layout.netns_path(&id);
        // What an earlier, killed run left.
        self.teardown_files(&id, &netavark);
        let defs: Vec<Network> = ctr
            .config
            .networks
            .iter()
            .map(|a| self.rt.definitions().get(&a.name))
            .collect::<std::result::Result<_, _>>()?;
        self.lease(ctr, &defs, &path)?;
        debug!(id, took = ?started.elapsed(), "leased and made the namespace");
        let options = options_for(ctr, &defs);
        let result = (|| -> Result<()> {
            let opts_file = self.rt.layout.netns_options(&id);
            let saved = SavedSetup {
                host_netns: own_netns(),
                options: options.clone(),
            };
            let text = serde_json::to_vec(&saved)
                .map_err(|e| Error::io("encode", &opts_file, e.into()))?;
            std::fs::write(&opts_file, text).map_err(|e| Error::io("write", &opts_file, e))?;
            let status = netavark.setup(&path, &options)?;
            for lease in &mut ctr.state.networks {
                if let Some(block) = status.get(&lease.name) {
                    if let Some(iface) = block.interfaces.get(&lease.interface) {
                        lease.mac = iface.mac_address.clone();
                    }
                    lease.dns_servers = block.dns_server_ips.clone().unwrap_or_default();
                    lease.dns_search = block.dns_search_domains.clone().unwrap_or_default();
                }
            }
            self.rt.state().update_container_state(&id, &ctr.state)?;
            self.rt.containers().write_network_files(ctr)?;
            Ok(())
        })();
        if let Err(e) = result {
            self.teardown(ctr);
            if let Err(e2) = self.rt.state().update_container_state(&id, &ctr.state) {
                warn!(id, error = %e2, "cannot free the container's addresses");
            }
            return Err(e);
        }
        debug!(id, took = ?started.elapsed(), "network set up");
        Ok(())
    }

    /// The address lock: held while leases are chosen and recorded, and
    /// while leftover namespaces are judged (so a namespace made but not
    /// yet recorded is never swept).
    fn ipam_lock(&self) -> Result<std::fs::File> {
        let lock_path = self.rt.layout.ipam_lock();
        crate::layout::private_dir(
            "the network run directory",
            &self.rt.layout.network_run_dir(),
        )?;
        crate::layout::private_dir(
            "the network namespace directory",
            &self.rt.layout.netns_dir(),
        )?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
        Ok(lock)
    }

    /// The addresses (by network) and host ports other containers hold:
    /// theirs whose namespace file still exists. Read under the address lock.
    fn taken(&self, except: &str) -> Result<Taken> {
        let mut taken: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        let mut ports_taken: Vec<PublishedPort> = Vec::new();
        for other in self.rt.state().all_containers()?.items {
            if other.config.id == except {
                continue;
            }
            let Some(p) = &other.state.netns else {
                continue;
            };
            if !net::netns::is_mounted(p) {
                continue;
            }
            for l in &other.state.networks {
                if let Ok(ip) = l.ip.parse() {
                    taken.entry(l.name.clone()).or_default().insert(ip);
                }
            }
            ports_taken.extend(other.state.ports.iter().cloned());
        }
        Ok((taken, ports_taken))
    }

    /// Chooses the addresses and host ports, makes the namespace and
    /// writes the lease, all under the address lock.
    fn lease(&self, ctr: &mut Container, defs: &[Network], path: &Path) -> Result<()> {
        let lock = self.ipam_lock()?;
        let (taken, ports_taken) = self.taken(&ctr.config.id)?;
        let leases = ctr
            .config
            .networks
            .iter()
            .zip(defs)
            .map(|(a, def)| lease_on(a, def, &taken))
            .collect::<Result<Vec<_>>>()?;
        let ports = choose_host_ports(&ctr.config.ports, &ports_taken)?;
        net::netns::create(path)?;
        ctr.state.netns = Some(path.to_owned());
        ctr.state.networks = leases;
        ctr.state.ports = ports;
        if let Err(e) = self
            .rt
            .state()
            .update_container_state(&ctr.config.id, &ctr.state)
        {
            let _ = net::netns::remove(path);
            ctr.state.netns = None;
            ctr.state.networks.clear();
            ctr.state.ports.clear();
            return Err(e.into());
        }
        drop(lock);
        Ok(())
    }

    /// Undoes [`Networks::setup`]: netavark's teardown, the namespace, and
    /// the lease fields (the caller writes the state). Failures are logged:
    /// the lease is freed whatever netavark says.
    pub(crate) fn teardown(&self, ctr: &mut Container) {
        if ctr.state.netns.is_none() && ctr.config.network_mode != "bridge" {
            return;
        }
        match self.rt.netavark() {
            Ok(n) => self.teardown_files(&ctr.config.id, &n),
            Err(e) => {
                warn!(id = %ctr.config.id, error = %e, "cannot tear the network down");
                let _ = net::netns::remove(&self.rt.layout.netns_path(&ctr.config.id));
            }
        }
        ctr.state.netns = None;
        ctr.state.networks.clear();
        ctr.state.ports.clear();
    }

    /// Tears down what the files of container `id` say was set up: its
    /// options (netavark teardown), then its namespace. Both may be absent.
    fn teardown_files(&self, id: &str, netavark: &net::Netavark) {
        let path = self.rt.layout.netns_path(id);
        let opts_file = self.rt.layout.netns_options(id);
        if let Ok(text) = std::fs::read(&opts_file) {
            match serde_json::from_slice::<SavedSetup>(&text) {
                // netavark's teardown works on the network namespace it
                // runs in: from another one it would undo nothing of ours
                // and could hit the same names there.
                Ok(saved) if saved.host_netns != own_netns() => warn!(
                    id,
                    "the network was set up from another network namespace ({}): its links and rules are left to that one",
                    saved.host_netns
                ),
                Ok(saved) if net::netns::is_mounted(&path) => {
                    let started = std::time::Instant::now();
                    if let Err(e) = netavark.teardown(&path, &saved.options) {
                        warn!(id, error = %e, "network teardown");
                    }
                    debug!(id, took = ?started.elapsed(), "network torn down");
                }
                Ok(_) => {}
                Err(e) => warn!(id, error = %e, "unreadable network options"),
            }
            let _ = std::fs::remove_file(&opts_file);
        }
        if let Err(e) = net::netns::remove(&path) {
            warn!(id, error = %e, "cannot remove the network namespace");
        }
    }

    /// Sockets bound on a running container's published host ports, for
    /// conmon to hold (`enable_port_reservation`, on by default); none when
    /// the configuration turns it off. A port something took since the
    /// lease was chosen fails the start with its number.
    pub(crate) fn reserve_ports(&self, ctr: &Container) -> Result<Vec<std::os::fd::OwnedFd>> {
        let mut out = Vec::new();
        if !self.rt.config().enable_port_reservation {
            return Ok(out);
        }
        for p in &ctr.state.ports {
            let ip: Ipv4Addr = p.host_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            for port in p.host_port..p.host_port.saturating_add(p.range) {
                let taken = |e: std::io::Error| Error::InvalidArgument {
                    what: format!("-p {port}/{}", p.protocol),
                    reason: format!("cannot reserve host port {port}: {e}"),
                };
                let fd: std::os::fd::OwnedFd = match p.protocol.as_str() {
                    "tcp" => std::net::TcpListener::bind((ip, port))
                        .map_err(taken)?
                        .into(),
                    "udp" => std::net::UdpSocket::bind((ip, port)).map_err(taken)?.into(),
                    _ => continue,
                };
                out.push(fd);
            }
        }
        Ok(out)
    }

    /// Writes what a running container's network now is beside its
    /// namespace, for its teardown.
    fn save_setup(&self, ctr: &Container) -> Result<()> {
        let defs = self.definitions_of(ctr)?;
        let opts_file = self.rt.layout.netns_options(&ctr.config.id);
        let saved = SavedSetup {
            host_netns: own_netns(),
            options: options_for(ctr, &defs),
        };
        let text =
            serde_json::to_vec(&saved).map_err(|e| Error::io("encode", &opts_file, e.into()))?;
        let tmp = opts_file.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &opts_file).map_err(|e| Error::io("write", &opts_file, e))
    }

    fn definitions_of(&self, ctr: &Container) -> Result<Vec<Network>> {
        ctr.config
            .networks
            .iter()
            .map(|a| Ok(self.rt.definitions().get(&a.name)?))
            .collect()
    }

    /// `network connect`: one more network for a bridge container; a
    /// running one gets its address and interface at once (netavark's
    /// setup of that network alone in its namespace).
    pub fn connect(
        &self,
        network: &str,
        r: &crate::ContainerRef,
        aliases: &[String],
        ip: Option<&str>,
        mac: Option<&str>,
    ) -> Result<()> {
        self.rt.check_valid()?;
        let def = self.inspect(network)?;
        let (mut ctr, _guard) = self.rt.containers().lock(r)?;
        let what = format!("network connect {} {}", def.name, ctr.config.name);
        if ctr.config.network_mode != "bridge" {
            return Err(Error::InvalidArgument {
                what,
                reason: format!(
                    "its network mode is {}: only a container on bridge networks can be connected",
                    if ctr.config.network_mode.is_empty() {
                        "host"
                    } else {
                        &ctr.config.network_mode
                    }
                ),
            });
        }
        if ctr.config.networks.iter().any(|a| a.name == def.name) {
            return Err(Error::InvalidArgument {
                what,
                reason: format!(
                    "container {} is already connected to network {}",
                    ctr.config.name, def.name
                ),
            });
        }
        if let Some(m) = mac {
            check_mac(m)?;
        }
        let static_ip = ip
            .map(|ip| {
                let parsed: Ipv4Addr = ip.parse().map_err(|_| Error::InvalidArgument {
                    what: format!("--ip {ip}"),
                    reason: "not an IPv4 address".to_owned(),
                })?;
                net::allocate(&def, &BTreeSet::new(), Some(parsed))?;
                Ok::<_, Error>(parsed.to_string())
            })
            .transpose()?;
        let interface = (0..)
            .map(|i| format!("eth{i}"))
            .find(|i| ctr.config.networks.iter().all(|a| a.interface != *i))
            .expect("a free interface name");
        let attachment = NetworkAttachment {
            name: def.name.clone(),
            interface,
            aliases: aliases.to_vec(),
            static_ip,
            static_mac: mac.map(str::to_owned),
        };
        let before = ctr.clone();
        ctr.config.networks.push(attachment.clone());
        self.rt.state().rewrite_container_config(&ctr.config)?;
        let running = ctr
            .state
            .netns
            .as_deref()
            .is_some_and(net::netns::is_mounted);
        if running && let Err(e) = self.connect_running(&mut ctr, &attachment, &def) {
            if let Err(e2) = self.rt.state().rewrite_container_config(&before.config) {
                warn!(error = %e2, "cannot undo the connect in the record");
            }
            return Err(e);
        }
        self.rt.emit(
            Event::network(EventStatus::Connect, &ctr.config.id, &def.name)
                .with_attribute("container", ctr.config.name.clone()),
        );
        Ok(())
    }

    fn connect_running(
        &self,
        ctr: &mut Container,
        a: &NetworkAttachment,
        def: &Network,
    ) -> Result<()> {
        let netavark = self.rt.netavark()?;
        let path = ctr.state.netns.clone().expect("running with a namespace");
        {
            let _lock = self.ipam_lock()?;
            let (taken, _) = self.taken(&ctr.config.id)?;
            ctr.state.networks.push(lease_on(a, def, &taken)?);
            self.rt
                .state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
        }
        let one = only_network(ctr, def, &a.name);
        let result = netavark.setup(&path, &one).map(|status| {
            if let (Some(block), Some(lease)) = (status.get(&a.name), ctr.state.networks.last_mut())
            {
                if let Some(iface) = block.interfaces.get(&a.interface) {
                    lease.mac = iface.mac_address.clone();
                }
                lease.dns_servers = block.dns_server_ips.clone().unwrap_or_default();
                lease.dns_search = block.dns_search_domains.clone().unwrap_or_default();
            }
        });
        if let Err(e) = result {
            ctr.state.networks.retain(|l| l.name != a.name);
            self.rt
                .state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
            return Err(e.into());
        }
        self.rt
            .state()
            .update_container_state(&ctr.config.id, &ctr.state)?;
        self.save_setup(ctr)?;
        self.rt.containers().write_network_files(ctr)?;
        Ok(())
    }

    /// `network disconnect`: a network taken from a container; a running
    /// one loses the interface and its address at once.
    pub fn disconnect(&self, network: &str, r: &crate::ContainerRef) -> Result<()> {
        self.rt.check_valid()?;
        let def = self.inspect(network)?;
        let (mut ctr, _guard) = self.rt.containers().lock(r)?;
        if !ctr.config.networks.iter().any(|a| a.name == def.name) {
            return Err(Error::InvalidArgument {
                what: format!("network disconnect {} {}", def.name, ctr.config.name),
                reason: format!(
                    "container {} is not connected to network {}",
                    ctr.config.name, def.name
                ),
            });
        }
        let running = ctr
            .state
            .netns
            .as_deref()
            .is_some_and(net::netns::is_mounted);
        if running {
            let netavark = self.rt.netavark()?;
            let path = ctr.state.netns.clone().expect("running with a namespace");
            let one = only_network(&ctr, &def, &def.name);
            if let Err(e) = netavark.teardown(&path, &one) {
                warn!(id = %ctr.config.id, error = %e, "network teardown");
            }
            ctr.state.networks.retain(|l| l.name != def.name);
            self.rt
                .state()
                .update_container_state(&ctr.config.id, &ctr.state)?;
        }
        ctr.config.networks.retain(|a| a.name != def.name);
        self.rt.state().rewrite_container_config(&ctr.config)?;
        if running {
            self.save_setup(&ctr)?;
            self.rt.containers().write_network_files(&ctr)?;
        }
        self.rt.emit(
            Event::network(EventStatus::Disconnect, &ctr.config.id, &def.name)
                .with_attribute("container", ctr.config.name.clone()),
        );
        Ok(())
    }

    /// `network reload`: a running container's firewall rules (and links)
    /// made again, as after a firewall flush: netavark's teardown, then its
    /// setup with the same addresses and MAC addresses.
    pub fn reload(&self, r: &crate::ContainerRef) -> Result<()> {
        self.rt.check_valid()?;
        let (mut ctr, _guard) = self.rt.containers().lock(r)?;
        let Some(path) = ctr
            .state
            .netns
            .clone()
            .filter(|p| net::netns::is_mounted(p))
        else {
            return Err(Error::InvalidArgument {
                what: format!("network reload {}", ctr.config.name),
                reason: "it is not running on a bridge network".to_owned(),
            });
        };
        let netavark = self.rt.netavark()?;
        let defs = self.definitions_of(&ctr)?;
        let mut opts = options_for(&ctr, &defs);
        for lease in &ctr.state.networks {
            if let Some(o) = opts.networks.get_mut(&lease.name)
                && !lease.mac.is_empty()
            {
                o.static_mac = Some(lease.mac.clone());
            }
        }
        if let Err(e) = netavark.teardown(&path, &opts) {
            debug!(id = %ctr.config.id, error = %e, "teardown before reload");
        }
        let status = netavark.setup(&path, &opts)?;
        for lease in &mut ctr.state.networks {
            if let Some(block) = status.get(&lease.name) {
                lease.dns_servers = block.dns_server_ips.clone().unwrap_or_default();
                lease.dns_search = block.dns_search_domains.clone().unwrap_or_default();
            }
        }
        self.rt
            .state()
            .update_container_state(&ctr.config.id, &ctr.state)?;
        self.save_setup(&ctr)?;
        Ok(())
    }

    /// The journal's release of `Step::Network`: the files torn down; the
    /// record's lease is dead without its namespace file.
    pub(crate) fn release(&self, id: &str) {
        match self.rt.netavark() {
            Ok(n) => self.teardown_files(id, &n),
            Err(_) => {
                let _ = net::netns::remove(&self.rt.layout.netns_path(id));
                let _ = std::fs::remove_file(self.rt.layout.netns_options(id));
            }
        }
    }

    /// Namespace files no container's record claims while it runs (a
    /// killed command's, or from before a simulated reboot): torn down
    /// when `apply`. Returns the container ids they belong to.
    pub(crate) fn leftovers(&self, apply: bool) -> Result<Vec<String>> {
        let dir = self.rt.layout.netns_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &dir, e)),
        };
        let _lock = self.ipam_lock()?;
        let claimed: BTreeSet<String> = self
            .rt
            .state()
            .all_containers()?
            .items
            .into_iter()
            .filter(|c| c.state.netns.is_some())
            .map(|c| c.config.id)
            .collect();
        let mut out = BTreeSet::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".json").unwrap_or(&name).to_owned();
            if id.starts_with('.') || claimed.contains(&id) {
                continue;
            }
            out.insert(id);
        }
        if apply {
            for id in &out {
                self.release(id);
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// The lease of attachment `a` on network `def`: its static address
/// (checked) or the first free one, none of `taken`'s.
fn lease_on(
    a: &NetworkAttachment,
    def: &Network,
    taken: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
) -> Result<NetworkStatus> {
    let wanted = a.static_ip.as_deref().and_then(|s| s.parse().ok());
    let ip = net::allocate(def, taken.get(&a.name).unwrap_or(&BTreeSet::new()), wanted)?;
    let subnet = &def.subnets[0];
    Ok(NetworkStatus {
        name: a.name.clone(),
        interface: a.interface.clone(),
        ip: ip.to_string(),
        prefix: subnet.subnet.prefix(),
        gateway: subnet.gateway.map(|g| g.to_string()).unwrap_or_default(),
        ..NetworkStatus::default()
    })
}

/// Addresses by network, and host ports, that others hold.
type Taken = (BTreeMap<String, BTreeSet<Ipv4Addr>>, Vec<PublishedPort>);

/// What a setup was, kept beside the namespace for its teardown.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SavedSetup {
    /// The network namespace netavark ran in (`net:[inode]`).
    host_netns: String,
    options: net::NetworkOptions,
}

/// This process's network namespace, as `/proc/self/ns/net` names it.
fn own_netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// netavark's options for one of a container's networks alone (its ports
/// too, for that network's address).
fn only_network(ctr: &Container, def: &Network, name: &str) -> net::NetworkOptions {
    let defs: Vec<Network> = ctr
        .config
        .networks
        .iter()
        .map(|a| {
            if a.name == name {
                def.clone()
            } else {
                net::default_network()
            }
        })
        .collect();
    let mut opts = options_for(ctr, &defs);
    opts.networks.retain(|n, _| n == name);
    opts.network_info.retain(|n, _| n == name);
    opts
}

/// netavark's options for a container and its leases.
fn options_for(ctr: &Container, defs: &[Network]) -> net::NetworkOptions {
    let mut networks = BTreeMap::new();
    let mut info = BTreeMap::new();
    for (a, def) in ctr.config.networks.iter().zip(defs) {
        // A network connected while stopped has no lease yet: not set up.
        let Some(lease) = ctr.state.networks.iter().find(|l| l.name == a.name) else {
            continue;
        };
        networks.insert(
            a.name.clone(),
            net::PerNetworkOptions {
                static_ips: lease.ip.parse().into_iter().collect(),
                // podman's: the short id answers too.
                aliases: a
                    .aliases
                    .iter()
                    .cloned()
                    .chain(std::iter::once(
                        ctr.config.id[..12.min(ctr.config.id.len())].to_owned(),
                    ))
                    .collect(),
                interface_name: a.interface.clone(),
                static_mac: a.static_mac.clone(),
            },
        );
        info.insert(a.name.clone(), def.clone());
    }
    net::NetworkOptions {
        container_id: ctr.config.id.clone(),
        container_name: ctr.config.name.clone(),
        port_mappings: ctr
            .state
            .ports
            .iter()
            .map(|p| net::PortMapping {
                host_ip: p.host_ip.clone(),
                container_port: p.container_port,
                host_port: p.host_port,
                range: p.range,
                protocol: p.protocol.clone(),
            })
            .collect(),
        networks,
        network_info: info,
        dns_servers: ctr.config.dns_servers.clone(),
    }
}

/// The host ports of a run: those asked for (refused when another
/// container publishes them, or something on the host listens there),
/// and a free one for each `0`.
fn choose_host_ports(
    asked: &[PublishedPort],
    taken: &[PublishedPort],
) -> Result<Vec<PublishedPort>> {
    let mut out = Vec::new();
    for p in asked {
        let mut p = p.clone();
        let ip: Ipv4Addr = if p.host_ip.is_empty() {
            Ipv4Addr::UNSPECIFIED
        } else {
            p.host_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        if p.host_port == 0 {
            p.host_port = free_port(ip, &p.protocol, p.range, taken)?;
        } else {
            for port in p.host_port..p.host_port.saturating_add(p.range) {
                let clash = taken.iter().any(|t| {
                    t.protocol == p.protocol
                        && (t.host_ip == p.host_ip || t.host_ip.is_empty() || p.host_ip.is_empty())
                        && t.host_port <= port
                        && port < t.host_port.saturating_add(t.range)
                });
                if clash || !bindable(ip, port, &p.protocol) {
                    return Err(Error::InvalidArgument {
                        what: format!("-p {}:{}", p.host_port, p.container_port),
                        reason: format!(
                            "host port {port}/{} is already in use{}",
                            p.protocol,
                            if clash { " by another container" } else { "" }
                        ),
                    });
                }
            }
        }
        out.push(p);
    }
    Ok(out)
}

/// Whether nothing listens on `ip:port` (`tcp`/`udp`; sctp is not
/// checked).
fn bindable(ip: Ipv4Addr, port: u16, protocol: &str) -> bool {
    match protocol {
        "tcp" => std::net::TcpListener::bind((ip, port)).is_ok(),
        "udp" => std::net::UdpSocket::bind((ip, port)).is_ok(),
        _ => true,
    }
}

/// A free host port (`range` of them in a row) chosen by the kernel.
fn free_port(ip: Ipv4Addr, protocol: &str, range: u16, taken: &[PublishedPort]) -> Result<u16> {
    for _ in 0..32 {
        let port = match protocol {
            "udp" => std::net::UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
            _ => std::net::TcpListener::bind((ip, 0)).and_then(|s| s.local_addr()),
        }
        .map_err(|e| Error::io("bind", format!("{ip}:0"), e))?
        .port();
        let all_free = (port..port.saturating_add(range)).all(|p| {
            (p == port || bindable(ip, p, protocol))
                && !taken.iter().any(|t| {
                    t.protocol == protocol
                        && t.host_port <= p
                        && p < t.host_port.saturating_add(t.range)
                })
        });
        if all_free && u32::from(port) + u32::from(range) <= 65536 {
            return Ok(port);
        }
    }
    Err(Error::InvalidArgument {
        what: "-p".to_owned(),
        reason: format!("no {range} free host port(s) in a row found"),
    })
}

fn check_mac(mac: &str) -> Result<()> {
    let parts: Vec<&str> = mac.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: format!("--mac-address {mac}"),
            reason: "not a MAC address (six hex pairs: 92:d0:c6:0a:29:33)".to_owned(),
        })
    }
}

/// `/etc/resolv.conf` of a container in its own network: aardvark-dns's
/// servers and search domain first, then the host's servers that are not
/// on its loopback (unreachable from another namespace; podman's rule,
/// with podman's fallback to public ones when none remain).
pub(crate) fn resolv_for_network(host: &str, leases: &[NetworkStatus]) -> String {
    let mut servers: Vec<String> = leases.iter().flat_map(|l| l.dns_servers.clone()).collect();
    let search: Vec<String> = leases.iter().flat_map(|l| l.dns_search.clone()).collect();
    let mut out = String::new();
    let mut host_search = Vec::new();
    let mut host_servers = Vec::new();
    let mut other = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(s) = words.next()
                    && !s.starts_with("127.")
                    && s != "::1"
                {
                    host_servers.push(s.to_owned());
                }
            }
            Some("search" | "domain") => host_search.extend(words.map(str::to_owned)),
            Some(_) => other.push(line.to_owned()),
            None => {}
        }
    }
    let all_search: Vec<String> = search.into_iter().chain(host_search).collect();
    if !all_search.is_empty() {
        out.push_str(&format!("search {}\n", all_search.join(" ")));
    }
    if servers.is_empty() && host_servers.is_empty() {
        host_servers = vec!["8.8.8.8".to_owned(), "8.8.4.4".to_owned()];
    }
    servers.extend(host_servers);
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    for l in other {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_puts_aardvark_first_and_drops_loopback_servers() {
        let lease = NetworkStatus {
            dns_servers: vec!["10.89.0.1".into()],
            dns_search: vec!["dns.podman".into()],
            ..Default::default()
        };
        let host =
            "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch example.org\noptions edns0\n";
        assert_eq!(
            resolv_for_network(host, &[lease]),
            "search dns.podman example.org\nnameserver 10.89.0.1\nnameserver 192.0.2.1\noptions edns0\n"
        );
        assert_eq!(
            resolv_for_network("nameserver 127.0.0.53\n", &[]),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn host_ports_clash_with_other_containers() {
        let asked = PublishedPort {
            host_port: 40001,
            container_port: 80,
            range: 1,
            protocol: "tcp".into(),
            ..Default::default()
        };
        let other = PublishedPort {
            host_port: 40000,
            range: 2,
            ..asked.clone()
        };
        let e = choose_host_ports(std::slice::from_ref(&asked), &[other]).unwrap_err();
        assert!(e.to_string().contains("another container"), "{e}");
        let any = PublishedPort {
            host_port: 0,
            ..asked
        };
        let got = choose_host_ports(&[any], &[]).unwrap();
        assert_ne!(got[0].host_port, 0);
        assert!(check_mac("92:d0:c6:0a:29:33").is_ok());
        assert!(check_mac("92:d0:c6:0a:29").is_err());
    }
}
