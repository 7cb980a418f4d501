//! `top`, `stats`, `pod top` and `pod stats`, with podman's columns.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Result, bail};
use oxpod_runtime::{Container, ContainerRef, Process, Runtime, Stats};
use serde_json::{Value, json};

use crate::args::{StatsArgs, TopArgs};
use crate::output::{Format, print_json, print_table, print_template};
use crate::{human, views};

/// Go's `time.Duration` string: `2.679613613s`, `1m5.5s`, `0s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        // ms, µs or ns with their fraction, Go's way.
        let (unit, div) = if nanos >= 1_000_000 {
            ("ms", 1_000_000u128)
        } else if nanos >= 1_000 {
            ("µs", 1_000)
        } else {
            ("ns", 1)
        };
        let whole = nanos / div;
        let frac = nanos % div;
        let mut s = whole.to_string();
        if frac > 0 {
            let width = div.to_string().len() - 1;
            let f = format!("{frac:0width$}");
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        s.push_str(unit);
        return s;
    }
    let total_secs = d.as_secs();
    let (h, m, sec) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    let frac = d.subsec_nanos();
    let mut s = String::new();
    if h > 0 {
        s.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        s.push_str(&format!("{m}m"));
    }
    s.push_str(&sec.to_string());
    if frac > 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('s');
    s
}

const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

fn column(descriptor: &str) -> Result<&'static str> {
    Ok(match descriptor {
        "user" => "USER",
        "uid" => "UID",
        "gid" => "GID",
        "group" => "GROUP",
        "pid" => "PID",
        "ppid" => "PPID",
        "pcpu" => "%CPU",
        "etime" => "ELAPSED",
        "tty" => "TTY",
        "time" => "TIME",
        "args" => "COMMAND",
        "comm" => "COMMAND",
        "vsz" => "VSZ",
        "rss" => "RSS",
        "nice" => "NI",
        other => bail!(
            "unknown descriptor {other:?}: use user, uid, gid, group, pid, ppid, pcpu, etime, tty, time, args, comm, vsz, rss or nice"
        ),
    })
}

fn cell(p: &Process, descriptor: &str) -> String {
    match descriptor {
        // podman shows ids (it finds no names in a plain busybox root).
        "user" | "uid" => p.uid.to_string(),
        "group" | "gid" => p.gid.to_string(),
        "pid" => p.pid.to_string(),
        "ppid" => p.ppid.to_string(),
        "pcpu" => format!("{:.3}", p.cpu_percent()),
        "etime" => go_duration(p.elapsed),
        "tty" => p.tty.clone(),
        "time" => go_duration(Duration::from_secs(p.cpu_time.as_secs())),
        "args" => format!("{} ", p.args.join(" ")),
        "comm" => p.comm.clone(),
        "vsz" => p.vsz_kib.to_string(),
        "rss" => p.rss_kib.to_string(),
        "nice" => p.nice.to_string(),
        _ => String::new(),
    }
}

fn descriptors(given: &[String]) -> Result<Vec<String>> {
    // podman also takes one comma-separated list (`-eo pid,args` style).
    let list: Vec<String> = given
        .iter()
        .flat_map(|d| d.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|d| !d.is_empty())
        .collect();
    let list = if list.is_empty() {
        DEFAULT_DESCRIPTORS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        list
    };
    for d in &list {
        column(d)?;
    }
    Ok(list)
}

fn print_processes(out: &mut impl Write, procs: &[Process], desc: &[String]) -> Result<()> {
    let mut rows = vec![
        desc.iter()
            .map(|d| column(d).map(str::to_owned))
            .collect::<Result<Vec<_>>>()?,
    ];
    for p in procs {
        rows.push(desc.iter().map(|d| cell(p, d)).collect());
    }
    print_table(out, &rows)
}

/// `top CONTAINER [DESCRIPTOR...]`.
pub fn top(out: &mut impl Write, rt: &Runtime, a: &TopArgs) -> Result<u8> {
    let (r, rest) = if a.latest {
        let c = rt
            .containers()
            .list(&[])?
            .into_iter()
            .max_by_key(|c| c.config.created)
            .ok_or_else(|| anyhow::anyhow!("no containers: --latest found none"))?;
        (ContainerRef::from(&c), &a.args[..])
    } else {
        let Some((name, rest)) = a.args.split_first() else {
            bail!("give a container name or id, or --latest");
        };
        (rt.containers().resolve(name)?, rest)
    };
    let desc = descriptors(rest)?;
    let procs = rt.containers().top(&r)?;
    print_processes(out, &procs, &desc)?;
    Ok(0)
}

/// `pod top POD [DESCRIPTOR...]`: every running member's processes.
pub fn pod_top(out: &mut impl Write, rt: &Runtime, a: &TopArgs) -> Result<u8> {
    let Some((name, rest)) = a.args.split_first() else {
        bail!("give a pod name or id");
    };
    let desc = descriptors(rest)?;
    let pod = rt.pods().resolve(name)?;
    let mut procs = Vec::new();
    for c in rt.pods().members(&pod)? {
        if matches!(c.state.status, oxpod_runtime::ContainerStatus::Running) {
            procs.extend(rt.containers().top(&ContainerRef::from(&c))?);
        }
    }
    if procs.is_empty() {
        bail!("pod {name} has no running container");
    }
    print_processes(out, &procs, &desc)?;
    Ok(0)
}

fn io_pair(a: u64, b: u64) -> String {
    format!("{} / {}", human::size(a), human::size(b))
}

fn stats_doc(c: &Container, s: &Stats) -> Value {
    let mem_percent = if s.mem_limit == 0 {
        0.0
    } else {
        s.mem_usage as f64 / s.mem_limit as f64 * 100.0
    };
    json!({
        "ID": views::short(&c.config.id, false),
        "Name": c.config.name,
        "CPUPerc": format!("{:.2}%", s.cpu_percent()),
        "AVGCPU": format!("{:.2}%", s.cpu_percent()),
        "CPUTime": go_duration(Duration::from_nanos(s.cpu_nanos)),
        "MemUsage": format!("{} / {}", human::size(s.mem_usage), human::size(s.mem_limit)),
        "MemUsageBytes": format!("{} / {}", s.mem_usage, s.mem_limit),
        "MemPerc": format!("{mem_percent:.2}%"),
        // In the host's network there are no counters of its own.
        "NetIO": s.net.map_or_else(|| "-- / --".to_owned(), |(rx, tx)| io_pair(rx, tx)),
        "BlockIO": io_pair(s.block_read, s.block_write),
        "PIDs": s.pids.to_string(),
    })
}

fn selected(rt: &Runtime, a: &StatsArgs) -> Result<Vec<Container>> {
    let all = rt
        .containers()
        .list(&[oxpod_runtime::ContainerFilter::Status(
            oxpod_runtime::ContainerStatus::Running,
        )])?;
    if a.all || a.containers.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for n in &a.containers {
        let r = rt.containers().resolve(n)?;
        out.push(rt.containers().get(&r)?);
    }
    Ok(out)
}

fn stats_once(
    out: &mut impl Write,
    rt: &Runtime,
    ctrs: &[Container],
    format: &Format,
    pods: bool,
) -> Result<()> {
    let mut docs = Vec::new();
    for c in ctrs {
        match rt.containers().stats(&ContainerRef::from(c)) {
            Ok(s) => {
                let mut d = stats_doc(c, &s);
                if pods {
                    d["Pod"] = json!(
                        c.config
                            .pod
                            .as_deref()
                            .map(|p| views::short(p, false))
                            .unwrap_or("")
                    );
                    d["CID"] = d["ID"].clone();
                }
                docs.push(d);
            }
            // One that stopped meanwhile is left out, as podman does.
            Err(e) if e.is_running() || e.is_not_found() => {}
            Err(oxpod_runtime::Error::ContainerState { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match format {
        Format::Json => {
            let v: Vec<Value> = docs
                .iter()
                .map(|d| {
                    json!({
                        "id": d["ID"], "name": d["Name"], "cpu_time": d["CPUTime"],
                        "cpu_percent": d["CPUPerc"], "avg_cpu": d["AVGCPU"],
                        "mem_usage": d["MemUsage"], "mem_percent": d["MemPerc"],
                        "net_io": d["NetIO"], "block_io": d["BlockIO"], "pids": d["PIDs"],
                    })
                })
                .collect();
            print_json(out, &v)?;
        }
        Format::Template(t) => {
            let sample = docs.first().cloned().unwrap_or(Value::Null);
            let titles = crate::template::titles(
                &sample,
                &[
                    ("CPUPerc", "CPU %"),
                    ("AVGCPU", "AVG CPU %"),
                    ("CPUTime", "CPU TIME"),
                    ("MemUsage", "MEM USAGE / LIMIT"),
                    ("MemPerc", "MEM %"),
                    ("NetIO", "NET IO"),
                    ("BlockIO", "BLOCK IO"),
                    ("PIDs", "PIDS"),
                ],
            );
            print_template(out, t, &docs, &titles)?;
        }
        Format::Default => {
            let columns: &[(&str, &str)] = if pods {
                &[
                    ("POD", "Pod"),
                    ("CID", "CID"),
                    ("NAME", "Name"),
                    ("CPU %", "CPUPerc"),
                    ("MEM USAGE/ LIMIT", "MemUsage"),
                    ("MEM %", "MemPerc"),
                    ("NET IO", "NetIO"),
                    ("BLOCK IO", "BlockIO"),
                    ("PIDS", "PIDs"),
                ]
            } else {
                &[
                    ("ID", "ID"),
                    ("NAME", "Name"),
                    ("CPU %", "CPUPerc"),
                    ("MEM USAGE / LIMIT", "MemUsage"),
                    ("MEM %", "MemPerc"),
                    ("NET IO", "NetIO"),
                    ("BLOCK IO", "BlockIO"),
                    ("PIDS", "PIDs"),
                    ("CPU TIME", "CPUTime"),
                    ("AVG CPU %", "AVGCPU"),
                ]
            };
            let mut rows = vec![
                columns
                    .iter()
                    .map(|(h, _)| (*h).to_owned())
                    .collect::<Vec<_>>(),
            ];
            for d in &docs {
                rows.push(
                    columns
                        .iter()
                        .map(|(_, k)| d[*k].as_str().unwrap_or_default().to_owned())
                        .collect(),
                );
            }
            print_table(out, &rows)?;
        }
    }
    Ok(())
}

fn stream(
    out: &mut impl Write,
    a: &StatsArgs,
    mut once: impl FnMut(&mut dyn Write) -> Result<()>,
) -> Result<u8> {
    let mut out: &mut dyn Write = out;
    if a.no_stream {
        once(&mut out)?;
        return Ok(0);
    }
    let clear = std::io::stdout().is_terminal();
    loop {
        if clear {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        once(&mut out)?;
        out.flush()?;
        std::thread::sleep(Duration::from_secs(a.interval.max(1)));
    }
}

/// `stats`.
pub fn stats(out: &mut impl Write, rt: &Runtime, a: &StatsArgs) -> Result<u8> {
    let format = Format::parse_list(a.format.as_deref())?;
    stream(out, a, |w| {
        let ctrs = selected(rt, a)?;
        stats_once(&mut WriteRef(w), rt, &ctrs, &format, false)
    })
}

/// `pod stats`: every running member of the pods (all pods by default).
pub fn pod_stats(out: &mut impl Write, rt: &Runtime, a: &StatsArgs) -> Result<u8> {
    let format = Format::parse_list(a.format.as_deref())?;
    stream(out, a, |w| {
        let pods: Vec<oxpod_runtime::PodRef> = if a.all || a.containers.is_empty() {
            rt.pods()
                .list()?
                .iter()
                .map(|(p, _)| oxpod_runtime::PodRef::from(p))
                .collect()
        } else {
            a.containers
                .iter()
                .map(|n| rt.pods().resolve(n))
                .collect::<Result<_, _>>()?
        };
        let mut ctrs = Vec::new();
        for p in &pods {
            ctrs.extend(
                rt.pods()
                    .members(p)?
                    .into_iter()
                    .filter(|c| matches!(c.state.status, oxpod_runtime::ContainerStatus::Running)),
            );
        }
        stats_once(&mut WriteRef(w), rt, &ctrs, &format, true)
    })
}

struct WriteRef<'a>(&'a mut dyn Write);

impl Write for WriteRef<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_prints_them() {
        let d = Duration::from_nanos;
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(d(2_679_613_613)), "2.679613613s");
        assert_eq!(go_duration(d(41_163_273)), "41.163273ms");
        assert_eq!(
            go_duration(Duration::from_secs(65) + Duration::from_millis(500)),
            "1m5.5s"
        );
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(d(1500)), "1.5µs");
    }
}
