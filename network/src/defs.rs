//! Network definitions: one `<name>.json` per network in a directory, as
//! podman 4 keeps them, plus the default network `podman` when it has no
//! file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::ipv4::Cidr;
use crate::types::{LeaseRange, Network, Subnet};
use crate::{Error, Result};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "podman";
/// The default network's bridge.
pub const DEFAULT_INTERFACE: &str = "podman0";
/// The default network's subnet.
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";
/// Where `network create` looks for a free /24.
pub const CREATE_POOL: &str = "10.89.0.0/16";

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// The name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`); empty picks `podmanN`.
    pub name: String,
    /// `bridge` (default) or `macvlan`.
    pub driver: String,
    /// `--subnet`; none picks a free /24 of [`CREATE_POOL`].
    pub subnet: Option<String>,
    /// `--gateway` (default: the subnet's first address).
    pub gateway: Option<String>,
    /// `--ip-range`, a CIDR inside the subnet.
    pub ip_range: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--disable-dns`.
    pub disable_dns: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `-o KEY=VALUE` (`mtu`, `parent` for macvlan, `mode`).
    pub options: BTreeMap<String, String>,
}

/// The directory of definitions.
#[derive(Debug, Clone)]
pub struct Definitions {
    dir: PathBuf,
}

/// Whether `name` is a valid network name (podman's rule).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 253
}

/// The default network, as podman synthesises it.
pub fn default_network() -> Network {
    Network {
        name: DEFAULT_NETWORK.to_owned(),
        // sha256("podman"): podman's id for it.
        id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9".to_owned(),
        driver: "bridge".to_owned(),
        network_interface: Some(DEFAULT_INTERFACE.to_owned()),
        created: jiff::Timestamp::now().to_string(),
        subnets: vec![Subnet {
            subnet: Cidr::parse(DEFAULT_SUBNET).expect("the default subnet parses"),
            gateway: Some(Ipv4Addr::new(10, 88, 0, 1)),
            lease_range: None,
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: BTreeMap::from([("driver".to_owned(), "host-local".to_owned())]),
    }
}

impl Definitions {
    /// The definitions in `dir` (made, 0755, when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Definitions {
        Definitions { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Reads one file; its `name` must be its stem (podman's rule).
    fn read(&self, path: &Path) -> Result<Network> {
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| Error::io("read", path, e))?;
        let bad = |reason: String| Error::BadDefinition {
            path: path.to_owned(),
            reason,
        };
        let net: Network =
            serde_json::from_str(&text).map_err(|e| bad(format!("{e}; fix or remove the file")))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if net.name != stem {
            return Err(bad(format!(
                "names network {:?}, not {stem:?} as its file name says; rename one of them",
                net.name
            )));
        }
        if !valid_name(&net.name) || net.id.len() != 64 {
            return Err(bad("has a bad name or id".to_owned()));
        }
        Ok(net)
    }

    /// Every network, by name, the default one included; a file that does
    /// not read is returned as its error, so a listing can warn and go on.
    pub fn list(&self) -> Result<Vec<Result<Network>>> {
        let mut out = Vec::new();
        let mut has_default = false;
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                paths.sort();
                for p in paths {
                    let n = self.read(&p);
                    has_default |= n.as_ref().is_ok_and(|n| n.name == DEFAULT_NETWORK);
                    out.push(n);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read", &self.dir, e)),
        }
        if !has_default && !self.file(DEFAULT_NETWORK).exists() {
            out.push(Ok(default_network()));
        }
        out.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.name.cmp(&b.name),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => std::cmp::Ordering::Equal,
        });
        Ok(out)
    }

    /// The network of this name, full id, or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Network> {
        if valid_name(name_or_id) {
            let file = self.file(name_or_id);
            if file.exists() {
                return self.read(&file);
            }
            if name_or_id == DEFAULT_NETWORK {
                return Ok(default_network());
            }
        }
        let hex = !name_or_id.is_empty() && name_or_id.bytes().all(|b| b.is_ascii_hexdigit());
        if hex {
            let found: Vec<Network> = self
                .list()?
                .into_iter()
                .flatten()
                .filter(|n| n.id.starts_with(name_or_id))
                .collect();
            match found.len() {
                1 => return Ok(found.into_iter().next().expect("one")),
                0 => {}
                _ => {
                    return Err(Error::invalid(
                        format!("network {name_or_id}"),
                        "more than one network has an id starting so: give more of it",
                    ));
                }
            }
        }
        Err(Error::NotFound {
            name: name_or_id.to_owned(),
        })
    }

    /// Writes a new network, its name, subnet and bridge checked against
    /// the others and `host_routes` (the subnets the host routes already).
    /// Two creates at once are serialised by a lock file in the directory.
    pub fn create(
        &self,
        req: &CreateRequest,
        host_routes: &[Cidr],
        new_id: impl FnOnce() -> std::io::Result<String>,
    ) -> Result<Network> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        let lock_path = self.dir.join(".oxpod-create.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
        let existing: Vec<Network> = self.list()?.into_iter().flatten().collect();
        let driver = match req.driver.as_str() {
            "" | "bridge" => "bridge",
            "macvlan" => "macvlan",
            other => {
                return Err(Error::invalid(
                    format!("driver {other:?}"),
                    "unsupported driver: use bridge or macvlan",
                ));
            }
        };
        let name = if req.name.is_empty() {
            (1..)
                .map(|n| format!("podman{n}"))
                .find(|n| existing.iter().all(|e| e.name != *n))
                .expect("a free name")
        } else {
            req.name.clone()
        };
        if !valid_name(&name) {
            return Err(Error::invalid(
                format!("network name {name}"),
                "invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
            ));
        }
        if existing.iter().any(|e| e.name == name) {
            return Err(Error::Exists { name });
        }
        let used: Vec<Cidr> = existing
            .iter()
            .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
            .chain(host_routes.iter().copied())
            .collect();
        let subnet = match &req.subnet {
            Some(text) => {
                let s = Cidr::parse(text)?;
                if s.prefix() > 30 {
                    return Err(Error::invalid(
                        format!("subnet {s}"),
                        "leaves no address for a container: use a /30 or larger",
                    ));
                }
                if used.iter().any(|u| u.overlaps(&s)) {
                    return Err(Error::invalid(
                        format!("subnet {s}"),
                        "is already used on the host or by another config",
                    ));
                }
                s
            }
            None => free_subnet(&used)?,
        };
        let gateway = match (&req.gateway, req.internal) {
            (Some(g), _) => {
                let g: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::invalid(format!("gateway {g:?}"), "not an IPv4 address"))?;
                if !host_address(&subnet, g) {
                    return Err(Error::invalid(
                        format!("gateway {g}"),
                        format!("not in subnet {subnet}"),
                    ));
                }
                Some(g)
            }
            (None, true) => None,
            (None, false) => Some(subnet.first_host()),
        };
        let lease_range = match &req.ip_range {
            Some(text) => {
                let r = Cidr::parse(text)?;
                if !subnet.covers(&r) {
                    return Err(Error::invalid(
                        format!("--ip-range {text}"),
                        format!("is not inside subnet {subnet}"),
                    ));
                }
                Some(LeaseRange {
                    start_ip: Some(if r.prefix() >= 31 {
                        r.network()
                    } else {
                        r.first_host()
                    }),
                    // podman's: the range's last address (a broadcast is
                    // never leased: `allocate` takes host addresses only).
                    end_ip: Some(r.broadcast()),
                })
            }
            None => None,
        };
        for key in req.options.keys() {
            let known: &[&str] = match driver {
                "bridge" => &["mtu", "vlan", "isolate"],
                _ => &["mtu", "parent", "mode"],
            };
            if !known.contains(&key.as_str()) {
                return Err(Error::invalid(
                    format!("-o {key}"),
                    format!("unsupported {driver} network option"),
                ));
            }
        }
        let interface = match driver {
            "bridge" => Some(
                (0..)
                    .map(|n| format!("podman{n}"))
                    .find(|i| {
                        existing
                            .iter()
                            .all(|e| e.network_interface.as_deref() != Some(i.as_str()))
                    })
                    .expect("a free bridge name"),
            ),
            _ => Some(req.options.get("parent").cloned().ok_or_else(|| {
                Error::invalid("macvlan", "needs its parent interface: -o parent=IFACE")
            })?),
        };
        let id = new_id().map_err(|e| Error::io("read", "/dev/urandom", e))?;
        let net = Network {
            name: name.clone(),
            id,
            driver: driver.to_owned(),
            network_interface: interface,
            created: jiff::Timestamp::now().to_string(),
            subnets: vec![Subnet {
                subnet,
                gateway,
                lease_range,
            }],
            ipv6_enabled: false,
            internal: req.internal,
            dns_enabled: driver == "bridge" && !req.disable_dns,
            labels: req.labels.clone(),
            options: req
                .options
                .iter()
                .filter(|(k, _)| driver != "macvlan" || *k != "parent")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ipam_options: BTreeMap::from([("driver".to_owned(), "host-local".to_owned())]),
        };
        self.write_new(&net)?;
        drop(lock);
        Ok(net)
    }

    /// Writes a definition whole (a temp file renamed over no existing one).
    fn write_new(&self, net: &Network) -> Result<()> {
        let path = self.file(&net.name);
        let tmp = self
            .dir
            .join(format!(".{}.json.tmp-{}", net.name, std::process::id()));
        let mut text = serde_json::to_string_pretty(net).map_err(|e| Error::BadDefinition {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            // A hard link fails when the name was taken meanwhile.
            std::fs::hard_link(&tmp, &path)
        };
        let r = write();
        let _ = std::fs::remove_file(&tmp);
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Exists {
                name: net.name.clone(),
            }),
            Err(e) => Err(Error::io("write", path, e)),
        }
    }

    /// Removes a network's file (the default one has none to remove).
    pub fn remove(&self, name: &str) -> Result<()> {
        let net = self.get(name)?;
        let path = self.file(&net.name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && net.name == DEFAULT_NETWORK => {
                Err(Error::invalid(
                    format!("network {DEFAULT_NETWORK}"),
                    "default network podman cannot be removed",
                ))
            }
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }
}

/// Whether `ip` can be a host of `subnet` (neither its network nor its
/// broadcast address).
pub fn host_address(subnet: &Cidr, ip: Ipv4Addr) -> bool {
    subnet.contains(ip)
        && (subnet.prefix() >= 31 || (ip != subnet.network() && ip != subnet.broadcast()))
}

/// The first /24 of [`CREATE_POOL`] that overlaps nothing in `used`.
fn free_subnet(used: &[Cidr]) -> Result<Cidr> {
    let pool = Cidr::parse(CREATE_POOL).expect("the pool parses");
    let mut candidate = Some(Cidr::new(pool.network(), 24));
    while let Some(c) = candidate.filter(|c| pool.covers(c)) {
        if used.iter().all(|u| !u.overlaps(&c)) {
            return Ok(c);
        }
        candidate = c.next();
    }
    Err(Error::invalid(
        "network create",
        format!("every /24 of {CREATE_POOL} is used: give --subnet"),
    ))
}

/// The address to lease on `net` for a container: `wanted` (checked:
/// inside the subnet, not its gateway, not taken), or the first free one of
/// its lease range.
pub fn allocate(
    net: &Network,
    taken: &BTreeSet<Ipv4Addr>,
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    let s = net.subnets.first().ok_or_else(|| {
        Error::invalid(
            format!("network {}", net.name),
            "has no subnet to lease from",
        )
    })?;
    let (start, end) = match &s.lease_range {
        Some(r) => (
            r.start_ip.unwrap_or_else(|| s.subnet.first_host()),
            r.end_ip.unwrap_or_else(|| s.subnet.last_host()),
        ),
        None => (s.subnet.first_host(), s.subnet.last_host()),
    };
    if let Some(ip) = wanted {
        if !host_address(&s.subnet, ip) {
            return Err(Error::invalid(
                format!("--ip {ip}"),
                format!(
                    "is not a host address of network {}'s subnet {}",
                    net.name, s.subnet
                ),
            ));
        }
        if Some(ip) == s.gateway {
            return Err(Error::invalid(
                format!("--ip {ip}"),
                format!("is network {}'s gateway", net.name),
            ));
        }
        if taken.contains(&ip) {
            return Err(Error::invalid(
                format!("--ip {ip}"),
                format!(
                    "requested ip address {ip} is already allocated on network {}",
                    net.name
                ),
            ));
        }
        return Ok(ip);
    }
    let (a, b) = (u32::from(start), u32::from(end));
    (a..=b)
        .map(Ipv4Addr::from)
        .find(|ip| Some(*ip) != s.gateway && !taken.contains(ip) && host_address(&s.subnet, *ip))
        .ok_or_else(|| Error::Exhausted {
            network: net.name.clone(),
            range: format!("{start}-{end}"),
        })
}

/// The IPv4 subnets the host routes (`/proc/net/route`), so a new network
/// does not shadow one. The default route is left out.
pub fn host_routes() -> Vec<Cidr> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    // Native-order hex of the network-order words.
    let addr = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = addr(f.get(1)?)?;
            let mask = u32::from(addr(f.get(7)?)?);
            (mask != 0).then(|| Cidr::new(dest, mask.count_ones() as u8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> std::io::Result<String> {
        Ok("0f".repeat(32))
    }

    #[test]
    fn create_picks_free_subnets_and_bridges_and_refuses_clashes() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(dir.path().join("nets"));
        let req = |name: &str| CreateRequest {
            name: name.to_owned(),
            ..Default::default()
        };
        let a = defs.create(&req("a"), &[], id).unwrap();
        assert_eq!(a.subnets[0].subnet.to_string(), "10.89.0.0/24");
        assert_eq!(a.subnets[0].gateway, Some(Ipv4Addr::new(10, 89, 0, 1)));
        assert_eq!(a.network_interface.as_deref(), Some("podman1"));
        assert!(a.dns_enabled);
        let route = Cidr::parse("10.89.1.0/24").unwrap();
        let b = defs.create(&req("b"), &[route], id).unwrap();
        assert_eq!(b.subnets[0].subnet.to_string(), "10.89.2.0/24");
        assert_eq!(b.network_interface.as_deref(), Some("podman2"));
        assert!(matches!(
            defs.create(&req("a"), &[], id),
            Err(Error::Exists { .. })
        ));
        for (r, want) in [
            (
                CreateRequest {
                    subnet: Some("10.88.5.0/24".into()),
                    ..req("c")
                },
                "already used",
            ),
            (
                CreateRequest {
                    subnet: Some("10.99.0.0/24".into()),
                    gateway: Some("10.98.0.1".into()),
                    ..req("c")
                },
                "not in subnet",
            ),
            (
                CreateRequest {
                    subnet: Some("10.99.0.0/31".into()),
                    ..req("c")
                },
                "no address",
            ),
            (
                CreateRequest {
                    subnet: Some("10.99.0.0/24".into()),
                    ip_range: Some("10.98.0.0/25".into()),
                    ..req("c")
                },
                "not inside",
            ),
            (req("a/b"), "names must match"),
            (
                CreateRequest {
                    driver: "ipvlan".into(),
                    ..req("c")
                },
                "unsupported driver",
            ),
            (
                CreateRequest {
                    driver: "macvlan".into(),
                    ..req("c")
                },
                "parent",
            ),
        ] {
            let e = defs.create(&r, &[], id).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let names: Vec<String> = defs
            .list()
            .unwrap()
            .into_iter()
            .map(|n| n.unwrap().name)
            .collect();
        assert_eq!(names, ["a", "b", "podman"]);
        assert_eq!(defs.get("a").unwrap(), a);
        defs.remove("a").unwrap();
        assert!(defs.get("a").unwrap_err().is_not_found());
        assert!(
            defs.remove("podman")
                .unwrap_err()
                .to_string()
                .contains("cannot be removed")
        );
        // A file whose name disagrees with its content is refused by name.
        std::fs::write(
            defs.dir().join("x.json"),
            serde_json::to_string(&b).unwrap(),
        )
        .unwrap();
        let e = defs.get("x").unwrap_err().to_string();
        assert!(e.contains("rename"), "{e}");
    }

    #[test]
    fn allocation_skips_the_gateway_and_what_is_taken() {
        let mut net = default_network();
        net.subnets[0].subnet = Cidr::parse("10.1.0.0/30").unwrap();
        net.subnets[0].gateway = Some(Ipv4Addr::new(10, 1, 0, 1));
        let mut taken = BTreeSet::new();
        let ip = allocate(&net, &taken, None).unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 1, 0, 2));
        taken.insert(ip);
        assert!(matches!(
            allocate(&net, &taken, None),
            Err(Error::Exhausted { .. })
        ));
        for bad in ["10.1.0.1", "10.1.0.3", "10.2.0.2", "10.1.0.2"] {
            assert!(
                allocate(&net, &taken, Some(bad.parse().unwrap())).is_err(),
                "{bad}"
            );
        }
    }
}
