//! `-p [ip:][hostPort[-end]:]containerPort[-end][/tcp|udp|sctp]`.

use std::net::Ipv4Addr;

use crate::types::PortMapping;
use crate::{Error, Result};

fn range(text: &str, what: &str, spec: &str) -> Result<(u16, u16)> {
    let bad = |reason: String| Error::invalid(format!("-p {spec}"), reason);
    let one = |t: &str| -> Result<u16> {
        t.parse::<u32>()
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .map(|p| p as u16)
            .ok_or_else(|| bad(format!("{what} {t:?} must be a number from 1 to 65535")))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(format!("{what} range {text} ends before it starts")));
            }
            Ok((a, b - a + 1))
        }
        None => Ok((one(text)?, 1)),
    }
}

/// One `-p` value. A host port of 0 means "any free one" (none given).
pub fn parse_publish(spec: &str) -> Result<PortMapping> {
    let bad = |reason: &str| Error::invalid(format!("-p {spec}"), reason);
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("the protocol must be tcp, udp or sctp"));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host, ctr) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => {
            return Err(bad(
                "too many colons: give [ip:][hostPort:]containerPort[/protocol]",
            ));
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<Ipv4Addr>().is_err() {
        return Err(bad("the host address must be an IPv4 address"));
    }
    let (container_port, n) = range(ctr, "container port", spec)?;
    let (host_port, host_n) = match host {
        "" => (0, n),
        h => range(h, "host port", spec)?,
    };
    if host_n != n {
        return Err(bad("host and container port ranges must be the same size"));
    }
    if u32::from(host_port) + u32::from(n) - 1 > 65535 {
        return Err(bad("the host port range passes 65535"));
    }
    Ok(PortMapping {
        host_ip: host_ip.to_owned(),
        container_port,
        host_port,
        range: n,
        protocol,
    })
}

/// Refuses two mappings that publish the same host port and protocol.
pub fn check_unique(ports: &[PortMapping]) -> Result<()> {
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[i + 1..] {
            let overlap = a.host_port != 0
                && b.host_port != 0
                && a.protocol == b.protocol
                && (a.host_ip == b.host_ip || a.host_ip.is_empty() || b.host_ip.is_empty())
                && a.host_port < b.host_port.saturating_add(b.range)
                && b.host_port < a.host_port.saturating_add(a.range);
            if overlap {
                return Err(Error::invalid(
                    format!("-p {}:{}", a.host_port, a.container_port),
                    format!(
                        "host port {} is published twice for {}",
                        a.host_port.max(b.host_port),
                        a.protocol
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs() {
        let p = parse_publish("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            (
                p.host_ip.as_str(),
                p.host_port,
                p.container_port,
                p.range,
                p.protocol.as_str()
            ),
            ("127.0.0.1", 8080, 80, 1, "udp")
        );
        let p = parse_publish("8080-8081:80-81").unwrap();
        assert_eq!((p.host_port, p.container_port, p.range), (8080, 80, 2));
        let p = parse_publish("80").unwrap();
        assert_eq!((p.host_port, p.protocol.as_str()), (0, "tcp"));
        let p = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!(p.host_port, 0);
        for bad in [
            "0:80",
            "70000:80",
            "8080-8081:80",
            "x:80",
            "1:2:3:4",
            "80/icmp",
            "a.b:1:80",
            "90-80:90-80",
            "65535-65535:1-1",
        ] {
            let e = parse_publish(bad);
            if bad == "65535-65535:1-1" {
                assert!(e.is_ok());
                continue;
            }
            assert!(e.is_err(), "{bad}");
        }
        let a = parse_publish("8080:80").unwrap();
        let b = parse_publish("8079-8080:90-91").unwrap();
        assert!(check_unique(&[a.clone(), b]).is_err());
        assert!(check_unique(&[a, parse_publish("8080:80/udp").unwrap()]).is_ok());
    }
}
