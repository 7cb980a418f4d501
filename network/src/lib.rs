//! oxpod-network: networks as podman 4 has them, on netavark.
//!
//! - [`Definitions`]: netavark's network definitions, one JSON file per
//!   network, the default `podman` network, `network create`'s checks and
//!   subnet choice, and [`allocate`] (which address a container gets).
//! - [`netns`]: network namespaces bound on files.
//! - [`Netavark`]: the `setup`/`teardown` call.
//! - [`parse_publish`]: `-p` values.
//!
//! A leaf crate: it knows nothing of containers' records; the runtime
//! keeps the leases and decides when to set up and tear down.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod defs;
mod error;
mod ipv4;
mod netavark;
pub mod netns;
mod ports;
mod types;

pub use defs::{
    CREATE_POOL, CreateRequest, DEFAULT_INTERFACE, DEFAULT_NETWORK, DEFAULT_SUBNET, Definitions,
    allocate, default_network, host_address, host_routes, valid_name,
};
pub use error::{Error, Result};
pub use ipv4::Cidr;
pub use netavark::{HELPER_DIRS, Netavark, find_helper};
pub use ports::{check_unique, parse_publish};
pub use types::{
    LeaseRange, NetAddress, NetInterface, Network, NetworkOptions, PerNetworkOptions, PortMapping,
    StatusBlock, Subnet,
};
