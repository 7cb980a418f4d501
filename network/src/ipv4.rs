//! IPv4 subnets: parse, contain, overlap, count.

use std::net::Ipv4Addr;

use crate::{Error, Result};

/// An IPv4 subnet, `addr/prefix`, held as its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

impl Cidr {
    /// `10.89.0.0/24`; a host address with a prefix names its network
    /// (`10.89.0.5/24` is `10.89.0.0/24`, as podman reads it).
    pub fn parse(text: &str) -> Result<Cidr> {
        let bad = |reason: &str| Error::invalid(format!("subnet {text:?}"), reason);
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| bad("give an address and a prefix length (10.89.0.0/24)"))?;
        if addr.contains(':') {
            return Err(bad("IPv6 subnets are not supported yet; give an IPv4 one"));
        }
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("the prefix length must be 0 to 32"))?;
        Ok(Cidr::new(addr, prefix))
    }

    /// The subnet of `addr` with this prefix.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Cidr {
        let prefix = prefix.min(32);
        Cidr {
            network: u32::from(addr) & mask(prefix),
            prefix,
        }
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address (the last one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network | !mask(self.prefix))
    }

    /// Whether `ip` is in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.network
    }

    /// Whether the two share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let p = self.prefix.min(other.prefix);
        self.network & mask(p) == other.network & mask(p)
    }

    /// Whether `other` lies wholly inside this one.
    pub fn covers(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.network())
    }

    /// The first address a host can take (the network address + 1).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network.saturating_add(1))
    }

    /// The last address a host can take (the broadcast address - 1).
    pub fn last_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()).saturating_sub(1))
    }

    /// The next subnet of the same size (`None` past 255.255.255.255).
    pub fn next(&self) -> Option<Cidr> {
        let size = 1u64 << (32 - u32::from(self.prefix));
        let next = u64::from(self.network) + size;
        u32::try_from(next).ok().map(|n| Cidr {
            network: n,
            prefix: self.prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        Cidr::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_normalise() {
        let c = Cidr::parse("10.90.0.5/24").unwrap();
        assert_eq!(c.to_string(), "10.90.0.0/24");
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 90, 0, 255));
        assert_eq!(c.first_host(), Ipv4Addr::new(10, 90, 0, 1));
        assert_eq!(c.last_host(), Ipv4Addr::new(10, 90, 0, 254));
        assert_eq!(c.next().unwrap().to_string(), "10.90.1.0/24");
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "x/24",
            "fd00::/64",
            "10.0.0.0/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let big = Cidr::parse("10.88.0.0/16").unwrap();
        assert!(big.overlaps(&Cidr::parse("10.88.5.0/24").unwrap()));
        assert!(big.covers(&Cidr::parse("10.88.5.0/24").unwrap()));
        assert!(!big.overlaps(&Cidr::parse("10.89.0.0/24").unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(Ipv4Addr::BROADCAST)
        );
        assert!(Cidr::parse("255.255.255.0/24").unwrap().next().is_none());
    }

    proptest! {
        #[test]
        fn overlap_is_symmetric_and_matches_containment(a: u32, pa in 0u8..=32, b: u32, pb in 0u8..=32) {
            let x = Cidr::new(Ipv4Addr::from(a), pa);
            let y = Cidr::new(Ipv4Addr::from(b), pb);
            prop_assert_eq!(x.overlaps(&y), y.overlaps(&x));
            prop_assert_eq!(x.overlaps(&y), x.covers(&y) || y.covers(&x));
            prop_assert!(x.contains(x.network()) && x.contains(x.broadcast()));
            prop_assert_eq!(Cidr::parse(&x.to_string()).unwrap(), x);
        }
    }
}
