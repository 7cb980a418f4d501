//! Resource limits and capabilities a container asks for (`--memory`,
//! `--cpus`, `--pids-limit`, `--ulimit`, `--cap-add`, `--cap-drop`,
//! `--security-opt no-new-privileges`): parsed and checked as podman does,
//! kept in the record, and turned into the OCI spec's.

use oxpod_state::{ContainerConfig, Resources};

use crate::{Error, Result};

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// A size as podman reads it: a number (a fraction allowed) with an
/// optional `b`, `k`, `m`, `g` or `t` unit (`kb`, `MB`, ... too), 1024-based.
pub fn parse_size(flag: &str, value: &str) -> Result<i64> {
    let v = value.trim().to_ascii_lowercase();
    let digits_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(digits_end);
    let mult: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(invalid(
                &format!("{flag} {value:?}"),
                "invalid size: a number with an optional b, k, m, g or t unit",
            ));
        }
    };
    let n: f64 = num.parse().map_err(|_| {
        invalid(
            &format!("{flag} {value:?}"),
            "invalid size: a number with an optional b, k, m, g or t unit",
        )
    })?;
    let bytes = n * mult;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(invalid(&format!("{flag} {value:?}"), "too large"));
    }
    // Whole bytes: a fraction of a byte is dropped, as podman does.
    #[allow(clippy::cast_possible_truncation)]
    Ok(bytes as i64)
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn parse_swap(value: &str) -> Result<i64> {
    if value.trim() == "-1" {
        return Ok(-1);
    }
    parse_size("--memory-swap", value)
}

/// `--cpus N`: a CFS quota over podman's 100 ms period, N between 0.01 and
/// the number of CPUs here.
pub fn parse_cpus(value: &str) -> Result<(i64, u64)> {
    const PERIOD: u64 = 100_000;
    let what = format!("--cpus {value:?}");
    let n: f64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(&what, "not a number"))?;
    let online = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    #[allow(clippy::cast_precision_loss)]
    let max = online as f64;
    if !(0.01..=max).contains(&n) {
        return Err(invalid(
            &what,
            format!(
                "range of CPUs is from 0.01 to {max:.2}, as there are only {online} CPUs available"
            ),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let quota = (n * PERIOD as f64).round() as i64;
    Ok((quota, PERIOD))
}

/// Checks what a new container asks for; returns the capabilities in
/// their canonical names.
pub(crate) fn check(
    resources: &Resources,
    cap_add: &[String],
    cap_drop: &[String],
    ulimits: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    if resources
        .blkio_weight
        .is_some_and(|w| !(10..=1000).contains(&w))
    {
        return Err(invalid(
            "--blkio-weight",
            "range of blkio weight is from 10 to 1000",
        ));
    }
    const MIN_MEMORY: i64 = 6 * 1024 * 1024;
    if let Some(m) = resources.memory
        && m < MIN_MEMORY
    {
        return Err(invalid("--memory", "minimum memory limit allowed is 6MB"));
    }
    if let Some(r) = resources.memory_reservation {
        if r < MIN_MEMORY {
            return Err(invalid(
                "--memory-reservation",
                "minimum memory reservation allowed is 6MB",
            ));
        }
        if resources.memory.is_some_and(|m| r > m) {
            return Err(invalid(
                "--memory-reservation",
                "must be smaller than the memory limit (--memory)",
            ));
        }
    }
    if let Some(s) = resources.memory_swap
        && s != -1
    {
        match resources.memory {
            None => {
                return Err(invalid(
                    "--memory-swap",
                    "needs --memory too (memory-swap is memory plus swap)",
                ));
            }
            Some(m) if s < m => {
                return Err(invalid(
                    "--memory-swap",
                    "must be larger than the memory limit (--memory), or -1 for unlimited",
                ));
            }
            Some(_) => {}
        }
    }
    if resources
        .cpu_period
        .is_some_and(|p| !(1000..=1_000_000).contains(&p))
    {
        return Err(invalid(
            "--cpu-period",
            "must be between 1000 and 1000000 microseconds",
        ));
    }
    if resources.cpu_quota.is_some_and(|q| q != -1 && q < 1000) {
        return Err(invalid(
            "--cpu-quota",
            "must be at least 1000 microseconds (or -1)",
        ));
    }
    for (flag, set) in [
        ("--cpuset-cpus", &resources.cpuset_cpus),
        ("--cpuset-mems", &resources.cpuset_mems),
    ] {
        if !set.is_empty() && !valid_cpuset(set) {
            return Err(invalid(
                &format!("{flag} {set:?}"),
                "expected a list such as 0-2,4",
            ));
        }
    }
    let canon = |names: &[String]| -> Result<Vec<String>> {
        names
            .iter()
            .map(|c| {
                if c.eq_ignore_ascii_case("all") {
                    Ok("ALL".to_owned())
                } else {
                    oxpod_ociruntime::canonical_capability(c).map_err(Error::from)
                }
            })
            .collect()
    };
    let (add, drop) = (canon(cap_add)?, canon(cap_drop)?);
    for u in ulimits {
        parse_ulimit(u)?;
    }
    Ok((add, drop))
}

/// `0-2,4,7-8`.
fn valid_cpuset(s: &str) -> bool {
    s.split(',').all(|part| {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(x), Ok(y)) if x <= y)
    })
}

/// `--ulimit NAME=SOFT[:HARD]` (`-1` for unlimited).
pub(crate) fn parse_ulimit(spec: &str) -> Result<oxpod_ociruntime::Rlimit> {
    let what = format!("--ulimit {spec:?}");
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| invalid(&what, "expected NAME=SOFT[:HARD]"))?;
    oxpod_ociruntime::parse_rlimit_kind(name)?;
    let value = |v: &str| -> Result<u64> {
        if v == "-1" {
            return Ok(u64::MAX);
        }
        v.parse::<u64>()
            .map_err(|_| invalid(&what, format!("{v:?} is not a number")))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => {
            let v = value(values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(invalid(&what, "the soft limit is above the hard limit"));
    }
    Ok(oxpod_ociruntime::Rlimit {
        kind: name.to_owned(),
        soft,
        hard,
    })
}

/// The record's limits as the spec's.
pub(crate) fn spec_limits(config: &ContainerConfig) -> oxpod_ociruntime::Limits {
    let r = &config.resources;
    oxpod_ociruntime::Limits {
        memory: r.memory,
        memory_reservation: r.memory_reservation,
        memory_swap: r.memory_swap,
        cpu_shares: r.cpu_shares,
        cpu_quota: r.cpu_quota,
        cpu_period: r.cpu_period,
        cpuset_cpus: r.cpuset_cpus.clone(),
        cpuset_mems: r.cpuset_mems.clone(),
        pids_limit: r.pids_limit,
        blkio_weight: r.blkio_weight,
        oom_kill_disable: r.oom_kill_disable,
    }
}

/// Whether the host's cgroups take a block I/O weight (podman's test):
/// v1 `blkio.weight` or `blkio.bfq.weight`, v2 `io.weight` or
/// `io.bfq.weight`.
pub(crate) fn blkio_weight_supported() -> bool {
    [
        "/sys/fs/cgroup/blkio/blkio.weight",
        "/sys/fs/cgroup/blkio/blkio.bfq.weight",
        "/sys/fs/cgroup/io.weight",
        "/sys/fs/cgroup/io.bfq.weight",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
}

/// The record's `--ulimit`s as the spec's (checked at creation).
pub(crate) fn spec_rlimits(config: &ContainerConfig) -> Result<Vec<oxpod_ociruntime::Rlimit>> {
    config.ulimits.iter().map(|u| parse_ulimit(u)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_podmans() {
        assert_eq!(parse_size("--memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("--memory", "1.5gb").unwrap(), 3 << 29);
        assert_eq!(parse_size("--memory", "4096").unwrap(), 4096);
        assert_eq!(parse_size("--memory", "64k").unwrap(), 64 << 10);
        for bad in ["", "m", "10q", "1..2m", "-5m"] {
            assert!(parse_size("--memory", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_swap("-1").unwrap(), -1);
    }

    #[test]
    fn cpus_are_a_quota_over_100ms() {
        assert_eq!(parse_cpus("0.5").unwrap(), (50_000, 100_000));
        assert_eq!(parse_cpus("1").unwrap(), (100_000, 100_000));
        for bad in ["0", "0.001", "x", "100000"] {
            let e = parse_cpus(bad).unwrap_err().to_string();
            assert!(e.contains("--cpus"), "{e}");
        }
    }

    #[test]
    fn limits_are_checked_as_podman_checks_them() {
        let r = |f: fn(&mut Resources)| {
            let mut r = Resources::default();
            f(&mut r);
            check(&r, &[], &[], &[])
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(r(|r| r.memory = Some(1 << 20)).unwrap_err().contains("6MB"));
        assert!(
            r(|r| r.memory_swap = Some(1 << 30))
                .unwrap_err()
                .contains("needs --memory")
        );
        assert!(
            r(|r| {
                r.memory = Some(64 << 20);
                r.memory_swap = Some(32 << 20);
            })
            .unwrap_err()
            .contains("larger")
        );
        assert!(
            r(|r| r.cpuset_cpus = "2-1".into())
                .unwrap_err()
                .contains("0-2,4")
        );
        assert!(r(|r| r.cpu_period = Some(10)).is_err());
        assert!(
            r(|r| {
                r.memory = Some(64 << 20);
                r.memory_swap = Some(-1);
                r.cpuset_cpus = "0".into();
                r.pids_limit = Some(10);
            })
            .is_ok()
        );
        let (add, drop) = check(
            &Resources::default(),
            &["net_admin".into(), "CAP_SYS_TIME".into()],
            &["all".into()],
            &["nofile=100:200".into()],
        )
        .unwrap();
        assert_eq!(add, ["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
        assert_eq!(drop, ["ALL"]);
        let e = check(&Resources::default(), &["bogus".into()], &[], &[]).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        for bad in ["nofile", "nofile=x", "nofile=10:5", "colour=1"] {
            assert!(
                check(&Resources::default(), &[], &[], &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }
}
