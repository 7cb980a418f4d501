//! What the CLI shows of containers and pods: `ps` rows, `inspect`
//! documents, with podman's field names. Built by hand from the records,
//! so the on-disk format and the output format can change separately.

use std::time::Duration;

use jiff::Timestamp;
use oxpod_runtime::{Container, ContainerStatus, Pod};
use serde_json::{Value, json};

use crate::human;

/// Ids are shown with 12 characters unless `--no-trunc`.
pub fn short(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    }
}

fn since(t: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(t)).unwrap_or_default()
}

/// podman's STATUS column: `Created`, `Up 3 seconds ago`, `Exited (3) 2
/// seconds ago`, `Paused`. podman 4.3 writes "ago" after an uptime too;
/// scripts match on it, so oxpod does the same.
pub fn status_text(c: &Container, now: Timestamp) -> String {
    let st = &c.state;
    match st.status {
        ContainerStatus::Configured | ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => {
            let up = match st.started_at {
                Some(t) => format!("Up {}", human::ago(since(t, now))),
                None => "Up".into(),
            };
            // podman's: the health after the uptime.
            match st.health.as_ref().map(|h| h.status.as_str()) {
                Some(h) if !h.is_empty() => format!("{up} ({h})"),
                _ => up,
            }
        }
        ContainerStatus::Paused => "Paused".into(),
        ContainerStatus::Stopped | ContainerStatus::Exited => match st.finished_at {
            Some(t) => format!("Exited ({}) {}", st.exit_code, human::ago(since(t, now))),
            None => format!("Exited ({})", st.exit_code),
        },
        ContainerStatus::Removing => "Removing".into(),
    }
}

/// The command line as podman's COMMAND column: cut to 17 characters and
/// `...` unless `--no-trunc`.
pub fn command_text(c: &Container, no_trunc: bool) -> String {
    let full = c.config.command.join(" ");
    if no_trunc || full.chars().count() <= 20 {
        return full;
    }
    let mut cut: String = full.chars().take(17).collect();
    cut.push_str("...");
    cut
}

/// How times look: RFC 3339 in JSON, Go's `time.Time` string in templates
/// (`2026-12-01 07:20:31.067814601 +0000 UTC`), as podman prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// JSON output.
    Json,
    /// Template output.
    Go,
}

impl Times {
    /// A time, or Go's zero time when there is none.
    pub fn show(self, t: Option<Timestamp>) -> Value {
        Value::String(match (self, t) {
            (Times::Json, Some(t)) => rfc3339(t),
            (Times::Json, None) => "0001-01-01T00:00:00Z".to_owned(),
            (Times::Go, Some(t)) => oxpod_runtime::events::go_time_string(t),
            (Times::Go, None) => "0001-01-01 00:00:00 +0000 UTC".to_owned(),
        })
    }
}

fn rfc3339(t: Timestamp) -> String {
    // jiff prints the shortest fraction, as Go's RFC3339Nano.
    t.to_string()
}

/// Go's `time.Time{}.Unix()`: what podman shows for a time that never was.
const ZERO_UNIX: i64 = -62_135_596_800;

fn labels_or_null(c: &Container) -> Value {
    if c.config.labels.is_empty() {
        Value::Null
    } else {
        json!(c.config.labels)
    }
}

/// One `ps` row, for templates: podman's fields and its reporter's
/// helpers (`{{.ID}}` shortened, `{{.Names}}` a string, `{{.State}}` the
/// status words, `{{.RunningFor}}`, times as Go prints them).
pub fn ps_row(c: &Container, pod_name: Option<&str>, no_trunc: bool, now: Timestamp) -> Value {
    let status = status_text(c, now);
    let created_human = human::ago(since(c.config.created, now));
    let created = Times::Go.show(Some(c.config.created));
    json!({
        "AutoRemove": c.config.auto_remove,
        "Command": command_text(c, no_trunc),
        "Created": created,
        "CreatedAt": created,
        "CreatedHuman": created_human,
        "RunningFor": created_human,
        "Exited": c.state.exited,
        "ExitedAt": c.state.finished_at.map_or(ZERO_UNIX, |t| t.as_second()),
        "ExitCode": c.state.exit_code,
        "ID": short(&c.config.id, no_trunc),
        "Image": c.config.image_name.clone().unwrap_or_default(),
        "ImageID": c.config.image_id.as_deref().map(|i| short(i, no_trunc)).unwrap_or(""),
        "IsInfra": c.config.is_infra,
        "Labels": labels_or_null(c),
        "Mounts": bind_destinations(c),
        "Names": c.config.name,
        "Namespaces": {},
        "Networks": network_names(c).join(","),
        "Pid": c.state.pid.unwrap_or(0),
        "Pod": c.config.pod.as_deref().map(|p| short(p, no_trunc)).unwrap_or(""),
        "PodName": pod_name.unwrap_or(""),
        "Ports": crate::networks::ports_column(c),
        "Size": "",
        "StartedAt": c.state.started_at.map_or(ZERO_UNIX, |t| t.as_second()),
        "State": status,
        "Status": status,
    })
}

/// Column titles of `ps` templates where podman's differ from the field
/// names.
pub const PS_TITLES: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("CreatedHuman", "CREATED"),
    ("RunningFor", "CREATED"),
    ("ImageID", "IMAGE ID"),
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
    ("StartedAt", "STARTED AT"),
    ("CreatedAt", "CREATED AT"),
];

/// One `ps --format json` entry: podman 4.3's keys and types.
pub fn ps_json(c: &Container, pod_name: Option<&str>, now: Timestamp) -> Value {
    json!({
        "AutoRemove": c.config.auto_remove,
        "Command": c.config.command,
        // podman 4.3: Unix seconds here, a time in templates.
        "Created": c.config.created.as_second(),
        "CreatedAt": human::ago(since(c.config.created, now)),
        "Exited": c.state.exited,
        "ExitedAt": c.state.finished_at.map_or(ZERO_UNIX, |t| t.as_second()),
        "ExitCode": c.state.exit_code,
        "Id": c.config.id,
        "Image": c.config.image_name.clone().unwrap_or_default(),
        "ImageID": c.config.image_id.clone().unwrap_or_default(),
        "IsInfra": c.config.is_infra,
        "Labels": labels_or_null(c),
        "Mounts": bind_destinations(c),
        "Names": [c.config.name],
        "Namespaces": {},
        "Networks": network_names(c),
        "Pid": c.state.pid.unwrap_or(0),
        "Pod": c.config.pod.clone().unwrap_or_default(),
        "PodName": pod_name.unwrap_or(""),
        "Ports": ps_json_ports(c),
        "Size": null,
        "StartedAt": c.state.started_at.map_or(ZERO_UNIX, |t| t.as_second()),
        "State": c.state.status.podman_word(),
        "Status": status_text(c, now),
    })
}

/// `inspect` of a container in podman 4.3's layout. Features oxpod does not
/// have yet (images, networks, mounts, health checks) show podman's empty
/// values, so templates over them work.
pub fn inspect_container(c: &Container, times: Times) -> Value {
    let st = &c.state;
    let bundle = st.bundle_path.clone().unwrap_or_default();
    let run_dir = st.run_dir.clone().unwrap_or_default();
    json!({
        "Id": c.config.id,
        "Created": times.show(Some(c.config.created)),
        "Path": c.config.command.first().cloned().unwrap_or_default(),
        "Args": c.config.command.iter().skip(1).collect::<Vec<_>>(),
        "State": state_doc(c, times),
        "Image": c.config.image_id.clone().unwrap_or_default(),
        "ImageDigest": "",
        "ImageName": c.config.image_name.clone().unwrap_or_default(),
        "Rootfs": c.config.rootfs,
        "Pod": c.config.pod.clone().unwrap_or_default(),
        "ResolvConfPath": etc_file(c, "resolv.conf"),
        "HostnamePath": etc_file(c, "hostname"),
        "HostsPath": etc_file(c, "hosts"),
        "StaticDir": bundle,
        "OCIConfigPath": if bundle.as_os_str().is_empty() { Default::default() } else { bundle.join("config.json") },
        "OCIRuntime": c.config.oci_runtime,
        "ConmonPidFile": if run_dir.as_os_str().is_empty() { Default::default() } else { run_dir.join("conmon.pid") },
        "PidFile": if run_dir.as_os_str().is_empty() { Default::default() } else { run_dir.join("pidfile") },
        "Name": c.config.name,
        "RestartCount": st.restart_count,
        "Driver": "",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": null,
        "BoundingCaps": null,
        "ExecIDs": [],
        "GraphDriver": {"Name": "", "Data": null},
        "Mounts": inspect_mounts(c),
        "Dependencies": c.config.dependencies,
        "NetworkSettings": network_settings(c),
        "Namespace": c.config.namespace,
        "IsInfra": c.config.is_infra,
        "IsService": false,
        "LockNumber": c.config.lock_id,
        "Config": config_doc(c),
        "HostConfig": host_config(c),
    })
}

/// podman's `State.Health`: the status, the failing streak and the last
/// results (`Log`, null without any).
fn health_doc(h: Option<&oxpod_runtime::HealthState>, times: Times) -> Value {
    let Some(h) = h else {
        return json!({"Status": "", "FailingStreak": 0, "Log": null});
    };
    let log: Vec<Value> = h
        .log
        .iter()
        .map(|l| {
            json!({
                "Start": times.show(Some(l.start)),
                "End": times.show(Some(l.end)),
                "ExitCode": l.exit_code,
                "Output": l.output,
            })
        })
        .collect();
    json!({
        "Status": h.status,
        "FailingStreak": h.failing_streak,
        "Log": if log.is_empty() { Value::Null } else { Value::Array(log) },
    })
}

/// podman's `State` of an inspected container.
fn state_doc(c: &Container, times: Times) -> Value {
    let st = &c.state;
    let running = matches!(
        st.status,
        ContainerStatus::Running | ContainerStatus::Paused
    );
    json!({
        "OciVersion": "1.0.2",
        "Status": st.status.podman_word(),
        "Running": running,
        "Paused": st.status == ContainerStatus::Paused,
        "Restarting": false,
        "OOMKilled": st.oom_killed,
        "Dead": false,
        "Pid": st.pid.unwrap_or(0),
        "ConmonPid": st.conmon_pid.unwrap_or(0),
        "ExitCode": st.exit_code,
        "Error": "",
        "StartedAt": times.show(st.started_at),
        "FinishedAt": times.show(st.finished_at),
        "Health": health_doc(st.health.as_ref(), times),
        "CgroupPath": "",
        "CheckpointedAt": times.show(None),
        "RestoredAt": times.show(None),
    })
}

/// podman's `Config` of an inspected container.
fn config_doc(c: &Container) -> Value {
    let mut doc = config_doc_base(c);
    // podman's `Healthcheck` (durations in nanoseconds), only with one.
    if let Some(h) = &c.config.healthcheck {
        doc["Healthcheck"] = json!({
            "Test": h.test,
            "Interval": h.interval_ns,
            "Timeout": h.timeout_ns,
            "StartPeriod": h.start_period_ns,
            "Retries": h.retries,
        });
    }
    doc
}

fn config_doc_base(c: &Container) -> Value {
    json!({
        "Hostname": c.config.hostname,
        "Domainname": "",
        // podman shows the user only when one was asked for.
        "User": if c.config.user == "0:0" { "" } else { c.config.user.as_str() },
        "AttachStdin": c.config.interactive,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": c.config.terminal,
        "OpenStdin": c.config.interactive,
        "StdinOnce": false,
        "Env": c.config.env,
        "Cmd": c.config.command,
        "Image": "",
        "Volumes": null,
        "WorkingDir": c.config.working_dir,
        // podman 4.3's Entrypoint is one string; none without an image.
        "Entrypoint": "",
        "OnBuild": null,
        "Labels": labels_or_null(c),
        "Annotations": c.config.annotations,
        "StopSignal": c.config.stop_signal,
        "CreateCommand": null,
        "Umask": "0022",
        "Timeout": 0,
        "StopTimeout": c.config.stop_timeout,
    })
}

/// podman's `NetworkSettings`: empty for the host's network; for a bridge
/// one, each network's lease under `Networks` while it runs, and at the top
/// too when its one network is the default one (podman 4.3's rule).
fn network_settings(c: &Container) -> Value {
    let mut doc = json!({
        "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "MacAddress": "", "Bridge": "", "SandboxID": "", "HairpinMode": false,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": port_bindings(c),
        "SandboxKey": c.state.netns.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    });
    if c.config.network_mode != "bridge" {
        return doc;
    }
    let running = c.state.netns.is_some();
    let mut networks = serde_json::Map::new();
    for a in &c.config.networks {
        let lease = c
            .state
            .networks
            .iter()
            .find(|l| l.name == a.name)
            .filter(|_| running);
        let aliases: Vec<String> = a
            .aliases
            .iter()
            .cloned()
            .chain(std::iter::once(
                c.config.id[..12.min(c.config.id.len())].to_owned(),
            ))
            .collect();
        networks.insert(
            a.name.clone(),
            json!({
                "EndpointID": "",
                "Gateway": lease.map(|l| l.gateway.clone()).unwrap_or_default(),
                "IPAddress": lease.map(|l| l.ip.clone()).unwrap_or_default(),
                "IPPrefixLen": lease.map_or(0, |l| l.prefix),
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": lease.map(|l| l.mac.clone()).unwrap_or_default(),
                "NetworkID": a.name,
                "DriverOpts": null, "IPAMConfig": null, "Links": null,
                "Aliases": aliases,
            }),
        );
    }
    if let [only] = c.config.networks.as_slice()
        && only.name == oxpod_runtime::DEFAULT_NETWORK
        && let Some(l) = c.state.networks.first().filter(|_| running)
    {
        doc["Gateway"] = json!(l.gateway);
        doc["IPAddress"] = json!(l.ip);
        doc["IPPrefixLen"] = json!(l.prefix);
        doc["MacAddress"] = json!(l.mac);
    }
    doc["Networks"] = Value::Object(networks);
    doc
}

/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, each port of a range
/// on its own.
fn port_bindings(c: &Container) -> Value {
    let ports = if c.state.ports.is_empty() {
        &c.config.ports
    } else {
        &c.state.ports
    };
    let mut map = serde_json::Map::new();
    for p in ports {
        for i in 0..p.range {
            let key = format!("{}/{}", p.container_port + i, p.protocol);
            let binding = json!({"HostIp": p.host_ip, "HostPort": if p.host_port == 0 { String::new() } else { (p.host_port + i).to_string() }});
            match map.get_mut(&key) {
                Some(Value::Array(list)) => list.push(binding),
                _ => {
                    map.insert(key, json!([binding]));
                }
            }
        }
    }
    Value::Object(map)
}

/// `ps --format json`'s `Ports`: netavark's mappings (null for none).
fn ps_json_ports(c: &Container) -> Value {
    let ports = if c.state.ports.is_empty() {
        &c.config.ports
    } else {
        &c.state.ports
    };
    if ports.is_empty() {
        return Value::Null;
    }
    ports
        .iter()
        .map(|p| {
            json!({"host_ip": p.host_ip, "container_port": p.container_port,
                   "host_port": p.host_port, "range": p.range, "protocol": p.protocol})
        })
        .collect()
}

/// `HostConfig.NetworkMode` as podman shows it.
fn network_mode(c: &Container) -> String {
    match c.config.network_mode.as_str() {
        "" => "host".to_owned(),
        m => m.to_owned(),
    }
}

/// `ps`'s `Networks`: the names of a bridge container's networks.
fn network_names(c: &Container) -> Vec<String> {
    c.config.networks.iter().map(|n| n.name.clone()).collect()
}

/// The bind mounts of a container, as `inspect` shows them (podman 4.3:
/// `Options` keeps only `rbind`/`bind`, propagation and ro apart).
fn inspect_mounts(c: &Container) -> Value {
    let propagations = oxpod_runtime::MOUNT_PROPAGATIONS;
    c.config
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "volume")
        .map(|m| {
            let has = |o: &str| m.options.iter().any(|x| x == o);
            let shown: Vec<&String> = m
                .options
                .iter()
                .filter(|o| {
                    *o == "rbind"
                        || *o == "bind"
                        || (m.kind == "volume"
                            && matches!(o.as_str(), "nosuid" | "nodev" | "noexec"))
                })
                .collect();
            let mut doc = json!({
                "Type": m.kind,
                "Source": m.source,
                "Destination": m.destination,
                "Driver": if m.kind == "volume" { "local" } else { "" },
                "Mode": "",
                "Options": shown,
                "RW": !has("ro"),
                "Propagation": propagations.iter().find(|p| has(p)).copied().unwrap_or("rprivate"),
            });
            if m.kind == "volume" {
                doc["Name"] = Value::from(m.name.clone());
            }
            doc
        })
        .collect()
}

/// `HostConfig.Binds`: `SRC:DST:OPTIONS` of each bind mount.
fn binds(c: &Container) -> Value {
    c.config
        .mounts
        .iter()
        .filter(|m| m.kind == "bind")
        .map(|m| {
            format!(
                "{}:{}:{}",
                m.source.display(),
                m.destination,
                m.options.join(",")
            )
        })
        .collect()
}

/// `PidMode`, `IpcMode`, `UTSMode`: `host` or `private`.
fn ns_mode(c: &Container, ns: &str) -> &'static str {
    if c.config.host_namespaces.iter().any(|n| n == ns) {
        "host"
    } else {
        "private"
    }
}

/// `SecurityOpt` as podman lists it.
fn security_opt(c: &Container) -> Vec<String> {
    let mut out = Vec::new();
    if c.config.no_new_privileges {
        out.push("no-new-privileges".to_owned());
    }
    if c.config.seccomp_profile == "unconfined" {
        out.push("seccomp=unconfined".to_owned());
    }
    if !c.config.mask.is_empty() {
        out.push(format!("mask={}", c.config.mask.join(":")));
    }
    if !c.config.unmask.is_empty() {
        out.push(format!("unmask={}", c.config.unmask.join(":")));
    }
    out
}

/// `Devices`: podman's `PathOnHost`, `PathInContainer`, `CgroupPermissions`.
fn devices(c: &Container) -> Vec<Value> {
    c.config
        .devices
        .iter()
        .filter_map(|d| oxpod_runtime::device_parts(d))
        .map(|(host, ctr, perms)| {
            json!({"PathOnHost": host, "PathInContainer": ctr, "CgroupPermissions": perms})
        })
        .collect()
}

/// `HostConfig.Tmpfs`: destination → options.
fn tmpfs(c: &Container) -> Value {
    c.config
        .mounts
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| (m.destination.clone(), Value::from(m.options.join(","))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `ps`'s Mounts: where the bind mounts appear.
fn bind_destinations(c: &Container) -> Value {
    c.config
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "volume")
        .map(|m| m.destination.clone())
        .collect()
}

/// The path of a generated `/etc` file in the bundle, or "" when a mount of
/// the container's own covers it.
fn etc_file(c: &Container, name: &str) -> String {
    oxpod_runtime::etc_file_path(c, name)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// `HostConfig.NanoCpus`: `--cpus` as podman shows it (quota over period,
/// in billionths of a CPU).
fn nano_cpus(c: &Container) -> i64 {
    let r = &c.config.resources;
    match (r.cpu_quota, r.cpu_period) {
        (Some(q), Some(p)) if q > 0 && p > 0 => {
            q * 1_000_000_000 / i64::try_from(p).unwrap_or(i64::MAX)
        }
        _ => 0,
    }
}

/// `HostConfig.Ulimits` in podman's shape.
fn ulimits(c: &Container) -> Value {
    c.config
        .ulimits
        .iter()
        .filter_map(|u| {
            let (name, v) = u.split_once('=')?;
            let (soft, hard) = v.split_once(':').unwrap_or((v, v));
            Some(json!({
                "Name": format!("RLIMIT_{}", name.trim_start_matches("RLIMIT_").to_ascii_uppercase()),
                "Soft": soft.parse::<i64>().unwrap_or(-1),
                "Hard": hard.parse::<i64>().unwrap_or(-1),
            }))
        })
        .collect()
}

/// podman's `HostConfig`, with the values oxpod applies.
fn host_config(c: &Container) -> Value {
    // Two literals: one would pass serde_json's macro recursion limit.
    let mut doc = json!({
            "Binds": binds(c),
            "CgroupManager": "",
            "ContainerIDFile": "",
            "LogConfig": {"Type": "k8s-file", "Config": null, "Path": c.config.log_path, "Tag": "", "Size": "0B"},
            "NetworkMode": network_mode(c),
            "PortBindings": port_bindings(c),
            "RestartPolicy": {"Name": c.config.restart_policy, "MaximumRetryCount": c.config.restart_retries},
            "AutoRemove": c.config.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": null,
            "CapAdd": c.config.cap_add,
            "CapDrop": c.config.cap_drop,
            "Dns": c.config.dns_servers,
            "DnsOptions": c.config.dns_options,
            "DnsSearch": c.config.dns_search,
            "ExtraHosts": c.config.add_hosts,
            "GroupAdd": c.config.group_add,
            "IpcMode": ns_mode(c, "ipc"),
            "Cgroup": "",
            "Links": null,
            "OomScoreAdj": c.config.oom_score_adj.unwrap_or(0),
            "PidMode": ns_mode(c, "pid"),
            "Privileged": c.config.privileged,
    });
    let rest = json!({
            "PublishAllPorts": false,
            "ReadonlyRootfs": c.config.read_only,
            "SecurityOpt": security_opt(c),
            "Tmpfs": tmpfs(c),
            "UTSMode": ns_mode(c, "uts"),
            "UsernsMode": "",
            "ShmSize": c.config.shm_size.unwrap_or(65_536_000),
            "Init": c.config.init,
            "Sysctls": c.config.sysctls,
            "Runtime": "oci",
            "CgroupParent": c.config.cgroup_parent,
            "CpuShares": c.config.resources.cpu_shares.unwrap_or(0),
            "Memory": c.config.resources.memory.unwrap_or(0),
            "NanoCpus": nano_cpus(c),
            "CpuPeriod": c.config.resources.cpu_period.unwrap_or(0),
            "CpuQuota": c.config.resources.cpu_quota.unwrap_or(0),
            "CpusetCpus": c.config.resources.cpuset_cpus,
            "CpusetMems": c.config.resources.cpuset_mems,
            "Devices": devices(c),
            "CgroupnsMode": if c.config.cgroupns_private { "private" } else { "host" },
            "MemoryReservation": c.config.resources.memory_reservation.unwrap_or(0),
            "MemorySwap": c.config.resources.memory_swap.unwrap_or(0),
            "MemorySwappiness": 0,
            "OomKillDisable": c.config.resources.oom_kill_disable,
            "BlkioWeight": c.config.resources.blkio_weight.unwrap_or(0),
            "PidsLimit": c.config.resources.pids_limit.unwrap_or(0),
            "Ulimits": ulimits(c),
    });
    if let (Value::Object(d), Value::Object(r)) = (&mut doc, rest) {
        d.extend(r);
    }
    doc
}

/// `pod inspect`, podman 4.3's layout.
pub fn inspect_pod(pod: &Pod, containers: &[Container], times: Times) -> Value {
    json!({
        "Id": pod.config.id,
        "Name": pod.config.name,
        "Namespace": pod.config.namespace,
        "Created": times.show(Some(pod.config.created)),
        "CreateCommand": null,
        "ExitPolicy": "continue",
        "State": pod_status(containers),
        "Hostname": "",
        "Labels": pod.config.labels,
        "CreateCgroup": false,
        "CgroupParent": "",
        "CgroupPath": "",
        "CreateInfra": pod.config.infra,
        "InfraContainerID": pod.state.infra_container_id.clone().unwrap_or_default(),
        "SharedNamespaces": if pod.config.shared_namespaces.is_empty() { Value::Null } else { json!(pod.config.shared_namespaces) },
        "NumContainers": containers.len(),
        "LockNumber": pod.config.lock_id,
        "Containers": containers.iter().map(|c| json!({
            "Id": c.config.id,
            "Name": c.config.name,
            "State": c.state.status.podman_word(),
        })).collect::<Vec<_>>(),
    })
}

/// One `pod ps --format json` entry (podman 4.3's ListPodsReport).
pub fn pod_ps_json(pod: &Pod, containers: &[Container]) -> Value {
    json!({
        "Cgroup": "",
        "Containers": containers.iter().map(|c| json!({
            "Id": c.config.id,
            "Names": c.config.name,
            "Status": c.state.status.podman_word(),
        })).collect::<Vec<_>>(),
        "Created": rfc3339(pod.config.created),
        "Id": pod.config.id,
        "InfraId": pod.state.infra_container_id.clone().unwrap_or_default(),
        "Name": pod.config.name,
        "Namespace": pod.config.namespace,
        "Networks": [],
        "Status": pod_status(containers),
        "Labels": pod.config.labels,
    })
}

/// One `pod ps` row for templates: podman's reporter fields.
pub fn pod_ps_row(pod: &Pod, containers: &[Container], no_trunc: bool, now: Timestamp) -> Value {
    json!({
        "ID": short(&pod.config.id, no_trunc),
        "Name": pod.config.name,
        "Status": pod_status(containers),
        "Created": human::ago(since(pod.config.created, now)),
        "InfraID": pod.state.infra_container_id.as_deref().map(|i| short(i, no_trunc)).unwrap_or(""),
        "NumberOfContainers": containers.len(),
        "Cgroup": "",
        "Labels": pod.config.labels,
        "Networks": containers
            .iter()
            .find(|c| c.config.is_infra)
            .map(|c| c.config.networks.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        "Namespace": pod.config.namespace,
        "ContainerIds": containers.iter().map(|c| short(&c.config.id, no_trunc)).collect::<Vec<_>>().join(","),
        "ContainerNames": containers.iter().map(|c| c.config.name.as_str()).collect::<Vec<_>>().join(","),
        "ContainerStatuses": containers.iter().map(|c| c.state.status.podman_word()).collect::<Vec<_>>().join(","),
    })
}

/// Column titles of `pod ps` templates that differ from the field names.
pub const POD_PS_TITLES: &[(&str, &str)] = &[
    ("ID", "POD ID"),
    ("NumberOfContainers", "# OF CONTAINERS"),
    ("ContainerIds", "IDS"),
    ("ContainerNames", "NAMES"),
    ("ContainerStatuses", "STATUS"),
];

/// An event for templates: every field podman's has, times as Go prints
/// them.
pub fn event_doc(e: &oxpod_runtime::events::Event) -> Value {
    json!({
        "ContainerExitCode": e.container_exit_code,
        "ID": e.id,
        "Image": e.image,
        "Name": e.name,
        "Network": "",
        "Status": e.status.as_str(),
        "Time": Times::Go.show(Some(e.time)),
        "TimeNano": e.time.as_nanosecond(),
        "Type": e.event_type.as_str(),
        "HealthStatus": e.attributes.get("health_status").cloned().unwrap_or_default(),
        "Attributes": e.attributes,
    })
}

/// A pod's status word from its containers (podman's: Running, Degraded,
/// Paused, Exited, Stopped, Error, Created).
pub fn pod_status(containers: &[Container]) -> &'static str {
    oxpod_runtime::PodStatus::of(containers).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxpod_runtime::{ContainerConfig, ContainerState};

    fn ctr(status: ContainerStatus) -> Container {
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        Container {
            config: ContainerConfig {
                id: "0123456789abcdef".repeat(4),
                name: "web".into(),
                command: vec!["sleep".into(), "60".into()],
                created: t0,
                ..ContainerConfig::default()
            },
            state: ContainerState {
                status,
                started_at: Some(t0),
                finished_at: Some(t0),
                exit_code: 3,
                ..ContainerState::default()
            },
        }
    }

    #[test]
    fn status_column_like_podman() {
        let now = Timestamp::from_second(1_700_000_003).unwrap();
        assert_eq!(
            status_text(&ctr(ContainerStatus::Running), now),
            "Up 3 seconds ago"
        );
        assert_eq!(
            status_text(&ctr(ContainerStatus::Exited), now),
            "Exited (3) 3 seconds ago"
        );
        assert_eq!(
            status_text(&ctr(ContainerStatus::Configured), now),
            "Created"
        );
        assert_eq!(status_text(&ctr(ContainerStatus::Paused), now), "Paused");
    }

    #[test]
    fn inspect_snapshot() {
        let mut c = ctr(ContainerStatus::Exited);
        c.config.labels.insert("app".into(), "web".into());
        c.config.env = vec!["PATH=/bin".into()];
        c.state.pid = None;
        expect_test::expect![[r#"
            {
              "AppArmorProfile": "",
              "Args": [
                "60"
              ],
              "BoundingCaps": null,
              "Config": {
                "Annotations": {},
                "AttachStderr": false,
                "AttachStdin": false,
                "AttachStdout": false,
                "Cmd": [
                  "sleep",
                  "60"
                ],
                "CreateCommand": null,
                "Domainname": "",
                "Entrypoint": "",
                "Env": [
                  "PATH=/bin"
                ],
                "Hostname": "",
                "Image": "",
                "Labels": {
                  "app": "web"
                },
                "OnBuild": null,
                "OpenStdin": false,
                "StdinOnce": false,
                "StopSignal": 0,
                "StopTimeout": 0,
                "Timeout": 0,
                "Tty": false,
                "Umask": "0022",
                "User": "",
                "Volumes": null,
                "WorkingDir": ""
              },
              "ConmonPidFile": "",
              "Created": "2023-11-14T22:13:20Z",
              "Dependencies": [],
              "Driver": "",
              "EffectiveCaps": null,
              "ExecIDs": [],
              "GraphDriver": {
                "Data": null,
                "Name": ""
              },
              "HostConfig": {
                "AutoRemove": false,
                "Binds": [],
                "BlkioWeight": 0,
                "CapAdd": [],
                "CapDrop": [],
                "Cgroup": "",
                "CgroupManager": "",
                "CgroupParent": "",
                "CgroupnsMode": "host",
                "ContainerIDFile": "",
                "CpuPeriod": 0,
                "CpuQuota": 0,
                "CpuShares": 0,
                "CpusetCpus": "",
                "CpusetMems": "",
                "Devices": [],
                "Dns": [],
                "DnsOptions": [],
                "DnsSearch": [],
                "ExtraHosts": [],
                "GroupAdd": [],
                "Init": false,
                "IpcMode": "private",
                "Links": null,
                "LogConfig": {
                  "Config": null,
                  "Path": "",
                  "Size": "0B",
                  "Tag": "",
                  "Type": "k8s-file"
                },
                "Memory": 0,
                "MemoryReservation": 0,
                "MemorySwap": 0,
                "MemorySwappiness": 0,
                "NanoCpus": 0,
                "NetworkMode": "host",
                "OomKillDisable": false,
                "OomScoreAdj": 0,
                "PidMode": "private",
                "PidsLimit": 0,
                "PortBindings": {},
                "Privileged": false,
                "PublishAllPorts": false,
                "ReadonlyRootfs": false,
                "RestartPolicy": {
                  "MaximumRetryCount": 0,
                  "Name": ""
                },
                "Runtime": "oci",
                "SecurityOpt": [],
                "ShmSize": 65536000,
                "Sysctls": {},
                "Tmpfs": {},
                "UTSMode": "private",
                "Ulimits": [],
                "UsernsMode": "",
                "VolumeDriver": "",
                "VolumesFrom": null
              },
              "HostnamePath": "",
              "HostsPath": "",
              "Id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
              "Image": "",
              "ImageDigest": "",
              "ImageName": "",
              "IsInfra": false,
              "IsService": false,
              "LockNumber": 0,
              "MountLabel": "",
              "Mounts": [],
              "Name": "web",
              "Namespace": "",
              "NetworkSettings": {
                "Bridge": "",
                "EndpointID": "",
                "Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "HairpinMode": false,
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "MacAddress": "",
                "Ports": {},
                "SandboxID": "",
                "SandboxKey": ""
              },
              "OCIConfigPath": "",
              "OCIRuntime": "",
              "Path": "sleep",
              "PidFile": "",
              "Pod": "",
              "ProcessLabel": "",
              "ResolvConfPath": "",
              "RestartCount": 0,
              "Rootfs": "",
              "State": {
                "CgroupPath": "",
                "CheckpointedAt": "0001-01-01T00:00:00Z",
                "ConmonPid": 0,
                "Dead": false,
                "Error": "",
                "ExitCode": 3,
                "FinishedAt": "2023-11-14T22:13:20Z",
                "Health": {
                  "FailingStreak": 0,
                  "Log": null,
                  "Status": ""
                },
                "OOMKilled": false,
                "OciVersion": "1.0.2",
                "Paused": false,
                "Pid": 0,
                "Restarting": false,
                "RestoredAt": "0001-01-01T00:00:00Z",
                "Running": false,
                "StartedAt": "2023-11-14T22:13:20Z",
                "Status": "exited"
              },
              "StaticDir": ""
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&inspect_container(&c, Times::Json)).unwrap());
    }

    #[test]
    fn pod_status_from_members() {
        let running = ctr(ContainerStatus::Running);
        let exited = ctr(ContainerStatus::Exited);
        assert_eq!(pod_status(&[]), "Created");
        assert_eq!(pod_status(std::slice::from_ref(&running)), "Running");
        // podman's Degraded: some members run, not all (conformance A5).
        assert_eq!(pod_status(&[exited.clone(), running]), "Degraded");
        assert_eq!(
            pod_status(&[exited.clone(), ctr(ContainerStatus::Configured)]),
            "Stopped"
        );
        assert_eq!(pod_status(&[exited.clone(), exited]), "Exited");
        assert_eq!(pod_status(&[ctr(ContainerStatus::Configured)]), "Created");
    }

    #[test]
    fn ps_row_snapshot() {
        let now = Timestamp::from_second(1_700_000_003).unwrap();
        let row = ps_row(&ctr(ContainerStatus::Running), None, false, now);
        expect_test::expect![[r#"
            {
              "AutoRemove": false,
              "Command": "sleep 60",
              "Created": "2023-11-14 22:13:20 +0000 UTC",
              "CreatedAt": "2023-11-14 22:13:20 +0000 UTC",
              "CreatedHuman": "3 seconds ago",
              "ExitCode": 3,
              "Exited": false,
              "ExitedAt": 1700000000,
              "ID": "0123456789ab",
              "Image": "",
              "ImageID": "",
              "IsInfra": false,
              "Labels": null,
              "Mounts": [],
              "Names": "web",
              "Namespaces": {},
              "Networks": "",
              "Pid": 0,
              "Pod": "",
              "PodName": "",
              "Ports": "",
              "RunningFor": "3 seconds ago",
              "Size": "",
              "StartedAt": 1700000000,
              "State": "Up 3 seconds ago",
              "Status": "Up 3 seconds ago"
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&row).unwrap());
    }
}
