//! `top` and `stats`: a running container's processes (from `/proc`, those
//! in its pid namespace) and its resource use (from its cgroup, v1 or v2).

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxpod_state::ContainerStatus;

use crate::{ContainerRef, Containers, Error, Result};

/// One process of a container, as `top` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its pid inside the container.
    pub pid: i64,
    /// Its parent's pid inside the container (0: outside it).
    pub ppid: i64,
    /// Its pid on the host.
    pub host_pid: i32,
    /// Real user and group ids.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// How long it has run.
    pub elapsed: Duration,
    /// CPU time used (user + system).
    pub cpu_time: Duration,
    /// Its controlling terminal (`?` for none, `pts/0`).
    pub tty: String,
    /// Its command line (its name in brackets when it has none).
    pub args: Vec<String>,
    /// Its name (`comm`).
    pub comm: String,
    /// Virtual memory, KiB.
    pub vsz_kib: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Nice value.
    pub nice: i64,
}

impl Process {
    /// CPU use over its life, in percent of one CPU.
    pub fn cpu_percent(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.cpu_time.as_secs_f64() / self.elapsed.as_secs_f64() * 100.0
        }
    }
}

/// A container's resource use, as `stats` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// CPU time used, nanoseconds.
    pub cpu_nanos: u64,
    /// How long it has run.
    pub up: Duration,
    /// Memory in use, bytes.
    pub mem_usage: u64,
    /// Its memory limit (the host's memory when it has none), bytes.
    pub mem_limit: u64,
    /// Processes.
    pub pids: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Bytes received and sent on its interfaces (its loopback left out);
    /// `None` in the host's network, where there are no counters of its own.
    pub net: Option<(u64, u64)>,
}

impl Stats {
    /// CPU use since it started, in percent of one CPU.
    pub fn cpu_percent(&self) -> f64 {
        if self.up.is_zero() {
            0.0
        } else {
            self.cpu_nanos as f64 / self.up.as_nanos() as f64 * 100.0
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

fn boot_time_secs() -> u64 {
    read(Path::new("/proc/stat"))
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn pid_ns(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// The pid as its innermost namespace sees it (`NSpid`'s last field).
fn ns_pid(status: &str) -> Option<i64> {
    status_field(status, "NSpid")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

impl Containers<'_> {
    fn init_pid(&self, r: &ContainerRef) -> Result<i32> {
        let c = self.get(r)?;
        match (c.state.status, c.state.pid) {
            (ContainerStatus::Running | ContainerStatus::Paused, Some(pid)) => i32::try_from(pid)
                .map_err(|_| Error::ContainerState {
                    name: c.config.name.clone(),
                    status: "running".into(),
                    remedy: "its pid is out of range",
                }),
            _ => Err(Error::ContainerState {
                name: c.config.name.clone(),
                status: c.state.status.podman_word().to_owned(),
                remedy: "start it first: only a running container has processes",
            }),
        }
    }

    /// The processes in the container's pid namespace, by pid inside it.
    pub fn top(&self, r: &ContainerRef) -> Result<Vec<Process>> {
        self.rt.check_valid()?;
        let init = self.init_pid(r)?;
        let ns = pid_ns(init).ok_or_else(|| {
            Error::io(
                "read the pid namespace of",
                format!("/proc/{init}"),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        let ticks = clock_ticks();
        let boot = boot_time_secs();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut found: Vec<(Process, i32)> = Vec::new();
        let entries = std::fs::read_dir("/proc").map_err(|e| Error::io("list", "/proc", e))?;
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid_ns(pid).as_ref() != Some(&ns) {
                continue;
            }
            let (Some(stat), Some(status)) = (
                read(&PathBuf::from(format!("/proc/{pid}/stat"))),
                read(&PathBuf::from(format!("/proc/{pid}/status"))),
            ) else {
                continue;
            };
            // The fields after the command name (which may hold spaces).
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let comm = head.split_once('(').map_or("", |(_, c)| c).to_owned();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // rest[0] is field 3 (state): ppid 4, tty 7, utime 14, stime
            // 15, nice 19, starttime 22, vsize 23, rss 24.
            let host_ppid = i32::try_from(num(1)).unwrap_or(0);
            let tty_nr = num(4);
            let cpu_ticks = num(11) + num(12);
            let nice = f.get(16).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let start_ticks = num(19);
            let vsize = num(20);
            let rss_pages = num(21);
            let started =
                Duration::from_secs(boot) + Duration::from_millis(start_ticks * 1000 / ticks);
            let ids = |key: &str| {
                status_field(&status, key)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let args: Vec<String> = read(&PathBuf::from(format!("/proc/{pid}/cmdline")))
                .map(|c| {
                    c.split('\0')
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let tty = if tty_nr == 0 {
                "?".to_owned()
            } else {
                let major = (tty_nr >> 8) & 0xfff;
                let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
                if (136..=143).contains(&major) {
                    format!("pts/{}", (major - 136) * 256 + minor)
                } else {
                    format!("tty{minor}")
                }
            };
            found.push((
                Process {
                    pid: ns_pid(&status).unwrap_or(i64::from(pid)),
                    ppid: 0,
                    host_pid: pid,
                    uid: ids("Uid"),
                    gid: ids("Gid"),
                    elapsed: now.saturating_sub(started),
                    cpu_time: Duration::from_millis(cpu_ticks * 1000 / ticks),
                    tty,
                    args: if args.is_empty() {
                        vec![format!("[{comm}]")]
                    } else {
                        args
                    },
                    comm,
                    vsz_kib: vsize / 1024,
                    rss_kib: rss_pages * 4,
                    nice,
                },
                host_ppid,
            ));
        }
        // Parents as the container sees them.
        let host_to_ns: std::collections::HashMap<i32, i64> =
            found.iter().map(|(p, _)| (p.host_pid, p.pid)).collect();
        let mut out: Vec<Process> = found
            .into_iter()
            .map(|(mut p, host_ppid)| {
                p.ppid = host_to_ns.get(&host_ppid).copied().unwrap_or(0);
                p
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        Ok(out)
    }

    /// The container's resource use, from its cgroup.
    pub fn stats(&self, r: &ContainerRef) -> Result<Stats> {
        self.rt.check_valid()?;
        let init = self.init_pid(r)?;
        let c = self.get(r)?;
        let up = c
            .state
            .started_at
            .map(|t| {
                Duration::try_from(jiff::Timestamp::now().duration_since(t)).unwrap_or_default()
            })
            .unwrap_or_default();
        let cgroups = read(&PathBuf::from(format!("/proc/{init}/cgroup"))).unwrap_or_default();
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let path_of = |controller: &str| -> Option<PathBuf> {
            cgroups.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                let hit = if controller.is_empty() {
                    ctrls.is_empty()
                } else {
                    ctrls.split(',').any(|c| c == controller)
                };
                hit.then(|| {
                    let base = if controller.is_empty() {
                        PathBuf::from("/sys/fs/cgroup")
                    } else {
                        PathBuf::from("/sys/fs/cgroup").join(controller)
                    };
                    base.join(path.trim_start_matches('/'))
                })
            })
        };
        let num = |p: Option<PathBuf>| -> u64 {
            p.and_then(|p| read(&p))
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        let host_mem = crate::host::meminfo()
            .get("MemTotal")
            .copied()
            .unwrap_or(u64::MAX);
        let (cpu_nanos, mem_usage, mem_limit, pids, block_read, block_write);
        if v2 {
            let dir = path_of("");
            let file = |name: &str| dir.as_ref().map(|d| d.join(name));
            cpu_nanos = file("cpu.stat")
                .and_then(|p| read(&p))
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())
                })
                .unwrap_or(0)
                * 1000;
            mem_usage = num(file("memory.current"));
            mem_limit = file("memory.max")
                .and_then(|p| read(&p))
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(host_mem);
            pids = num(file("pids.current"));
            let io = file("io.stat").and_then(|p| read(&p)).unwrap_or_default();
            let sum = |key: &str| -> u64 {
                io.split_whitespace()
                    .filter_map(|w| w.strip_prefix(key)?.parse::<u64>().ok())
                    .sum()
            };
            block_read = sum("rbytes=");
            block_write = sum("wbytes=");
        } else {
            cpu_nanos = num(path_of("cpuacct").map(|p| p.join("cpuacct.usage")));
            mem_usage = num(path_of("memory").map(|p| p.join("memory.usage_in_bytes")));
            mem_limit = num(path_of("memory").map(|p| p.join("memory.limit_in_bytes")));
            pids = num(path_of("pids").map(|p| p.join("pids.current")));
            let io = path_of("blkio")
                .and_then(|p| read(&p.join("blkio.throttle.io_service_bytes")))
                .unwrap_or_default();
            let sum = |op: &str| -> u64 {
                io.lines()
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        (f.len() == 3 && f[1] == op).then(|| f[2].parse::<u64>().ok())?
                    })
                    .sum()
            };
            block_read = sum("Read");
            block_write = sum("Write");
        }
        Ok(Stats {
            cpu_nanos,
            up,
            mem_usage,
            mem_limit: if mem_limit == 0 {
                host_mem
            } else {
                mem_limit.min(host_mem)
            },
            pids,
            block_read,
            block_write,
            net: match c.config.network_mode.as_str() {
                "" | "host" => None,
                _ => read(&PathBuf::from(format!("/proc/{init}/net/dev"))).map(|t| net_bytes(&t)),
            },
        })
    }
}

/// Received and sent bytes of `/proc/PID/net/dev`, `lo` left out.
fn net_bytes(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            Some((*f.first()?, *f.get(8)?))
        })
        .fold((0, 0), |(r, t), (a, b)| (r + a, t + b))
}

#[cfg(test)]
mod net_tests {
    #[test]
    fn net_dev_sums_all_but_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1646      22    0    0    0     0          0         0     1282      13    0    0    0     0       0          0
  eth1:       4       1    0    0    0     0          0         0        6       1    0    0    0     0       0          0
";
        assert_eq!(super::net_bytes(text), (1650, 1288));
    }
}
