//! netavark's JSON (v1.4.0 `src/network/types.rs`, as podman writes and
//! sends it): network definitions, the options of a setup, its answer.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::ipv4::Cidr;

/// A network definition: the `<name>.json` file podman writes, and what
/// netavark is given of each network in `network_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The name (the file's stem).
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// `bridge` or `macvlan`.
    pub driver: String,
    /// The bridge (`podman0`) or the macvlan's parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    /// RFC 3339 with nanoseconds.
    #[serde(default)]
    pub created: String,
    /// Its subnets (one IPv4 subnet here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    /// IPv6 (not supported yet: always false).
    #[serde(default)]
    pub ipv6_enabled: bool,
    /// No route out, no gateway.
    #[serde(default)]
    pub internal: bool,
    /// aardvark-dns answers the names of its containers.
    #[serde(default)]
    pub dns_enabled: bool,
    /// `--label`s.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o mtu=`, `-o parent=`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `{"driver": "host-local"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipam_options: BTreeMap<String, String>,
}

/// One subnet of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// `10.89.0.0/24`.
    pub subnet: Cidr,
    /// The gateway (none on an internal network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`: the addresses handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

/// The addresses a subnet hands out, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRange {
    /// The first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<Ipv4Addr>,
    /// The last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<Ipv4Addr>,
}

/// What `netavark setup` and `teardown` read on stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOptions {
    /// The container's id.
    pub container_id: String,
    /// Its name (aardvark-dns answers it).
    pub container_name: String,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Per network: the interface, addresses and aliases (a map: netavark
    /// 1.4 reads no list).
    pub networks: BTreeMap<String, PerNetworkOptions>,
    /// Per network: its definition.
    pub network_info: BTreeMap<String, Network>,
    /// `--dns` servers aardvark-dns forwards to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
}

/// One network of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    /// The addresses (ours: oxpod's IPAM decides, netavark does not).
    pub static_ips: Vec<Ipv4Addr>,
    /// Names besides the container's (`--network-alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `eth0`, `eth1`, ...
    pub interface_name: String,
    /// `--mac-address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// A published port (or a range of `range` ports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address ("" for all).
    pub host_ip: String,
    /// The container's first port.
    pub container_port: u16,
    /// The host's first port.
    pub host_port: u16,
    /// How many ports (1 for one).
    pub range: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// What setup says of one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBlock {
    /// `dns.podman` when DNS is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search_domains: Option<Vec<String>>,
    /// The aardvark-dns addresses to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_server_ips: Option<Vec<String>>,
    /// By interface name.
    #[serde(default)]
    pub interfaces: BTreeMap<String, NetInterface>,
}

/// One interface made by setup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    /// Its MAC address.
    pub mac_address: String,
    /// Its addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<NetAddress>>,
}

/// An address of an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAddress {
    /// The gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// `10.89.0.2/24`.
    pub ipnet: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// netavark's own fixture (v1.4.0 `test/testfiles/simplebridge.json`,
    /// trimmed of its IPv6 parts) reads, and writes back the same.
    #[test]
    fn netavark_fixture_round_trips() {
        let text = r#"{"container_id":"6ce776ea58b5","container_name":"testcontainer","networks":{"podman":{"interface_name":"eth0","static_ips":["10.88.0.2"]}},"network_info":{"podman":{"dns_enabled":false,"driver":"bridge","id":"53ce4390f2adb1681eb1a90ec8b48c49c015e0a8d336c197637e7f65e365fa9e","internal":false,"ipv6_enabled":false,"name":"podman","network_interface":"podman0","subnets":[{"gateway":"10.88.0.1","subnet":"10.88.0.0/16"}]}}}"#;
        let opts: NetworkOptions = serde_json::from_str(text).unwrap();
        assert_eq!(
            opts.networks["podman"].static_ips,
            [Ipv4Addr::new(10, 88, 0, 2)]
        );
        let again: NetworkOptions =
            serde_json::from_str(&serde_json::to_string(&opts).unwrap()).unwrap();
        assert_eq!(again, opts);
        let v: serde_json::Value = serde_json::to_value(&opts).unwrap();
        assert!(v["networks"].is_object(), "netavark 1.4 reads a map only");
        let status: BTreeMap<String, StatusBlock> = serde_json::from_str(
            r#"{"n1":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.89.0.1"],"interfaces":{"eth0":{"mac_address":"9a:b8:5c:d9:69:81","subnets":[{"gateway":"10.89.0.1","ipnet":"10.89.0.2/24"}]}}}}"#,
        )
        .unwrap();
        assert_eq!(
            status["n1"].interfaces["eth0"].mac_address,
            "9a:b8:5c:d9:69:81"
        );
    }
}
