//! The engines under test, oxpod and podman: how each is invoked, where each
//! keeps its state, and how its store is wiped, "rebooted" or given an events
//! log. Both get the same isolation: their own static dir, run root and tmp
//! dir under `target/bench/<tool>/`, and the private `/dev/shm` of the bench's
//! mount namespace for their lock segment.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Lock slots for both tools (podman's default `num_locks`).
const NUM_LOCKS: &str = "2048";

/// oxpod's lock segment, `/dev/shm/oxpod_bench` in the private `/dev/shm`.
const OXPOD_LOCK_NAME: &str = "/oxpod_bench";

/// podman's defaults that would make the comparison unfair or touch the
/// host: event-log rotation off, cgroupfs, runc, the same lock count.
const PODMAN_CONF: &str = "\
[engine]
events_logger = \"file\"
events_logfile_max_size = \"0\"
cgroup_manager = \"cgroupfs\"
runtime = \"runc\"
num_locks = 2048
";

/// The same settings for oxpod (libpod.conf keys).
const OXPOD_CONF: &str = "\
events_logger = \"file\"
events_logfile_max_size = 0
cgroup_manager = \"cgroupfs\"
runtime = \"runc\"
num_locks = 2048
";

/// How both engines were run, for the report.
pub const METHOD: &str = "\
both run as root in a private mount namespace with their own tmpfs on /dev/shm (lock segment), \
their own --root and --runroot (podman also --tmpdir), runc, cgroupfs, the file events backend \
without rotation and 2048 locks; podman's create and run also get \
`--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host` (oxpod gets `--network host` too); \
containers run a busybox rootfs (`--rootfs DIR true`); the events log is generated in each \
tool's own line format, one create in six events";

/// The two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Oxpod = 0,
    Podman = 1,
}

impl Tool {
    pub const ALL: [Tool; 2] = [Tool::Oxpod, Tool::Podman];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Oxpod => "oxpod",
            Tool::Podman => "podman",
        }
    }

    /// The prefix of this tool's lock segment names in `/dev/shm`.
    fn shm_prefix(self) -> &'static str {
        match self {
            Tool::Oxpod => "oxpod",
            Tool::Podman => "libpod",
        }
    }
}

/// One engine command, in the vocabulary both CLIs share.
#[derive(Debug, Clone, Copy)]
pub enum Cmd<'a> {
    Info,
    Create,
    Ps,
    PsJson,
    Inspect(&'a str),
    Rm(&'a str),
    RmAll,
    RunRmTrue,
    Events,
    EventsCreate,
    Renumber,
    /// `load -i` of the bench's image archive.
    Load,
    /// `run --rm IMAGE true` of the loaded bench image.
    RunImageTrue,
    /// `rmi -f` of the bench image.
    RmiImage,
    /// `load -i` of the archive of many images.
    LoadMany,
    /// `images`.
    Images,
    /// `rmi` of one image by name.
    Rmi(&'a str),
    /// `run -d` of the long-running container exec goes into.
    RunDetached,
    /// `exec` of `true` in it.
    ExecTrue,
    /// `rm -f -t 0` of it.
    RmRunning,
    /// `run --rm -i` of `cat > /dev/null`, fed [`STDIN_MIB`] MiB.
    RunStdin,
    /// `volume create NAME`.
    VolumeCreate(&'a str),
    /// `volume rm NAME`.
    VolumeRm(&'a str),
    /// `volume ls`.
    VolumeLs,
    /// `run --rm -v` [`BENCH_VOLUME`]`:/d` of `true`.
    RunRmVolumeTrue,
    /// `run --rm` of `true` with `--memory 64m --cpus 0.5 --pids-limit 100`.
    RunRmLimitsTrue,
    /// `run --rm` of `true` with `--security-opt seccomp=unconfined`.
    RunRmUnconfinedTrue,
    /// `run -d --name bench-run-<i>` of a long sleep.
    RunNamed(usize),
    /// `stats --no-stream`.
    StatsNoStream,
    /// `rm -a -f -t 0`.
    RmAllForce,
    /// `pull -q --tls-verify=false` of the bench registry's [`BIG_IMAGE`].
    PullBig,
    /// `rmi -f` of it.
    RmiBig,
    /// `network create NAME`.
    NetworkCreate(&'a str),
    /// `network rm NAME`.
    NetworkRm(&'a str),
    /// `run --rm --network` [`BENCH_NETWORK`] of `true`.
    RunRmNetworkTrue,
    /// `run -d --name` [`PORT_CONTAINER`] `--network` [`BENCH_NETWORK`]
    /// `-p` [`BENCH_PORT`]`:80` of a long sleep.
    RunPublished,
    /// `rm -f -t 0` of it.
    RmPublished,
}

/// The network of the network rows (made by their setup).
pub const BENCH_NETWORK: &str = "bench-net";

/// The container of the `run -d -p` row.
pub const PORT_CONTAINER: &str = "bench-port";

/// The host port it publishes (inside the bench's network namespace).
pub const BENCH_PORT: u16 = 18090;

impl Cmd<'_> {
    /// Whether it touches networks, and so runs in the bench's own network
    /// namespace (never the host's bridges and firewall).
    pub fn networked(&self) -> bool {
        matches!(
            self,
            Cmd::NetworkCreate(_)
                | Cmd::NetworkRm(_)
                | Cmd::RunRmNetworkTrue
                | Cmd::RunPublished
                | Cmd::RmPublished
        )
    }
}

/// The named volume of the `run --rm -v` row (made by its first run).
pub const BENCH_VOLUME: &str = "bench-vol";

/// MiB the stdin row feeds through `run -i`.
pub const STDIN_MIB: u64 = 100;

/// The running container of the exec rows.
pub const EXEC_CONTAINER: &str = "bench-exec";

/// The names of the many-images archive's images: `<prefix>:<i>`.
pub const MANY_IMAGES: &str = "localhost/bench-many";

/// The bench image's name in both engines.
pub const BENCH_IMAGE: &str = "localhost/bench-busybox:1";

/// One engine, set up in its own directory.
#[derive(Debug)]
pub struct Engine {
    pub tool: Tool,
    program: PathBuf,
    /// `target/bench/<tool>`: everything the engine writes lives below it,
    /// except its lock segment in the private `/dev/shm`.
    dir: PathBuf,
    rootfs: PathBuf,
    /// A docker-archive of the busybox rootfs, named [`BENCH_IMAGE`].
    archive: PathBuf,
    /// A docker-archive of many images over one layer ([`MANY_IMAGES`]).
    many: PathBuf,
    /// The bench registry's `host:port` holding [`BIG_IMAGE`], when one
    /// could be started.
    pub registry: Option<String>,
    /// The bench's own network namespace (`/proc/<holder>/ns/net`), where
    /// the network rows run.
    pub netns: Option<PathBuf>,
}

/// The pull rows' image, as pushed to the bench registry (`<host>/` first).
pub const BIG_IMAGE: &str = "bench/big:1";

impl Engine {
    pub fn new(
        tool: Tool,
        program: PathBuf,
        bench_dir: &Path,
        rootfs: &Path,
        archive: &Path,
        many: &Path,
    ) -> Result<Engine> {
        let engine = Engine {
            tool,
            program,
            dir: bench_dir.join(tool.name()),
            rootfs: rootfs.to_path_buf(),
            archive: archive.to_path_buf(),
            many: many.to_path_buf(),
            registry: None,
            netns: None,
        };
        std::fs::create_dir_all(&engine.dir)?;
        let conf = match tool {
            Tool::Oxpod => OXPOD_CONF,
            Tool::Podman => PODMAN_CONF,
        };
        std::fs::write(engine.config_file(), conf)?;
        Ok(engine)
    }

    /// The static dir (podman: the storage graph root; libpod's static dir
    /// is `<root>/libpod`).
    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// The per-boot run root (podman: storage's run root).
    fn runroot(&self) -> PathBuf {
        self.dir.join("runroot")
    }

    /// podman's libpod tmp dir; oxpod keeps its per-boot state in the run root.
    fn tmpdir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// `oxpod.conf` (given with `--config`) or podman's `containers.conf`
    /// (given as `CONTAINERS_CONF`, which replaces the system's files).
    fn config_file(&self) -> PathBuf {
        self.dir.join(match self.tool {
            Tool::Oxpod => "oxpod.conf",
            Tool::Podman => "containers.conf",
        })
    }

    /// The command line for `cmd`, with this engine's global flags; a
    /// networked one through `nsenter` into the bench's namespace.
    pub fn command(&self, cmd: Cmd) -> Command {
        let networked = cmd.networked();
        let c = self.command_here(cmd);
        match (&self.netns, networked) {
            (Some(ns), true) => {
                let mut n = Command::new("nsenter");
                n.arg(format!("--net={}", ns.display()))
                    .arg("--")
                    .arg(c.get_program())
                    .args(c.get_args());
                for (k, v) in c.get_envs() {
                    match v {
                        Some(v) => n.env(k, v),
                        None => n.env_remove(k),
                    };
                }
                n
            }
            _ => c,
        }
    }

    fn command_here(&self, cmd: Cmd) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--network-config-dir").arg(self.dir.join("networks"));
        let root = self.root();
        let runroot = self.runroot();
        match self.tool {
            Tool::Oxpod => {
                c.env_remove("OXPOD_CONFIG");
                c.arg("--config").arg(self.config_file());
                c.arg("--root").arg(&root);
                c.arg("--runroot").arg(&runroot);
                c.args(["--lock-name", OXPOD_LOCK_NAME, "--num-locks", NUM_LOCKS]);
                c.args(["--events-backend", "file"]);
                c.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
            }
            Tool::Podman => {
                c.env("CONTAINERS_CONF", self.config_file());
                c.arg("--root").arg(&root);
                c.arg("--runroot").arg(&runroot);
                c.arg("--tmpdir").arg(self.tmpdir());
                c.args(["--cgroup-manager=cgroupfs", "--runtime", "runc"]);
                c.arg("--events-backend=file");
            }
        }
        match cmd {
            Cmd::Info => c.arg("info"),
            Cmd::Create => c
                .arg("create")
                .args(self.create_flags())
                .args(self.rootfs_true()),
            Cmd::Ps => c.args(["ps", "-a"]),
            Cmd::PsJson => c.args(["ps", "-a", "--format", "json"]),
            Cmd::Inspect(id) => c.args(["inspect", id]),
            Cmd::Rm(id) => c.args(["rm", id]),
            Cmd::RmAll => c.args(["rm", "-a"]),
            Cmd::RunRmTrue => c
                .args(["run", "--rm"])
                .args(self.create_flags())
                .args(self.rootfs_true()),
            Cmd::Events => c.args(["events", "--stream=false"]),
            Cmd::EventsCreate => c.args(["events", "--stream=false", "--filter", "event=create"]),
            Cmd::Renumber => c.args(["system", "renumber"]),
            Cmd::Load => c.args(["load", "-q", "-i"]).arg(&self.archive),
            Cmd::RunImageTrue => c
                .args(["run", "--rm"])
                .args(self.create_flags())
                .args([BENCH_IMAGE, "true"]),
            Cmd::RmiImage => c.args(["rmi", "-f", BENCH_IMAGE]),
            Cmd::LoadMany => c.args(["load", "-q", "-i"]).arg(&self.many),
            Cmd::Images => c.arg("images"),
            Cmd::Rmi(name) => c.args(["rmi", name]),
            Cmd::RunDetached => c
                .args(["run", "-d", "--name", EXEC_CONTAINER])
                .args(self.create_flags())
                .arg("--rootfs")
                .arg(&self.rootfs)
                .args(["sleep", "1000000"]),
            Cmd::ExecTrue => c.args(["exec", EXEC_CONTAINER, "true"]),
            Cmd::RmRunning => c.args(["rm", "-f", "-t", "0", EXEC_CONTAINER]),
            Cmd::RunStdin => c
                .env(super::measure::STDIN_BYTES, (STDIN_MIB << 20).to_string())
                .args(["run", "--rm", "-i"])
                .args(self.create_flags())
                .arg("--rootfs")
                .arg(&self.rootfs)
                .args(["sh", "-c", "cat > /dev/null"]),
            Cmd::VolumeCreate(name) => c.args(["volume", "create", name]),
            Cmd::VolumeRm(name) => c.args(["volume", "rm", name]),
            Cmd::VolumeLs => c.args(["volume", "ls"]),
            Cmd::RunRmLimitsTrue => c
                .args([
                    "run",
                    "--rm",
                    "--memory",
                    "64m",
                    "--cpus",
                    "0.5",
                    "--pids-limit",
                    "100",
                ])
                .args(self.create_flags())
                .args(self.rootfs_true()),
            Cmd::RunRmUnconfinedTrue => c
                .args(["run", "--rm", "--security-opt", "seccomp=unconfined"])
                .args(self.create_flags())
                .args(self.rootfs_true()),
            Cmd::RunNamed(i) => c
                .args(["run", "-d", "--name", &format!("bench-run-{i}")])
                .args(self.create_flags())
                .arg("--rootfs")
                .arg(&self.rootfs)
                .args(["sleep", "1000000"]),
            Cmd::StatsNoStream => c.args(["stats", "--no-stream"]),
            Cmd::PullBig => c
                .args(["pull", "-q", "--tls-verify=false"])
                .arg(self.big_image()),
            Cmd::RmiBig => c.args(["rmi", "-f"]).arg(self.big_image()),
            Cmd::RmAllForce => c.args(["rm", "-a", "-f", "-t", "0"]),
            Cmd::NetworkCreate(name) => c.args(["network", "create", name]),
            Cmd::NetworkRm(name) => c.args(["network", "rm", name]),
            Cmd::RunRmNetworkTrue => c
                .args(["run", "--rm"])
                .args(self.create_flags_without_network())
                .args(["--network", BENCH_NETWORK])
                .args(self.rootfs_true()),
            Cmd::RunPublished => c
                .args(["run", "-d", "--name", PORT_CONTAINER])
                .args(self.create_flags_without_network())
                .args(["--network", BENCH_NETWORK, "-p"])
                .arg(format!("{BENCH_PORT}:80"))
                .arg("--rootfs")
                .arg(&self.rootfs)
                .args(["sleep", "1000"]),
            Cmd::RmPublished => c.args(["rm", "-f", "-t", "0", PORT_CONTAINER]),
            Cmd::RunRmVolumeTrue => c
                .args(["run", "--rm", "-v", &format!("{BENCH_VOLUME}:/d")])
                .args(self.create_flags())
                .args(self.rootfs_true()),
        };
        c
    }

    /// The bench registry's image name (`<registry>/`[`BIG_IMAGE`]).
    fn big_image(&self) -> String {
        format!(
            "{}/{BIG_IMAGE}",
            self.registry.as_deref().unwrap_or("no-registry.invalid")
        )
    }

    /// Flags `create` and `run` need to do the same work in both: podman's
    /// default ulimits are raised to the hard limit, and both engines'
    /// default network for root is a bridge (netavark, iptables), which
    /// would edit the host's firewall: the host network for both rows.
    fn create_flags(&self) -> &'static [&'static str] {
        match self.tool {
            Tool::Oxpod => &["--network", "host"],
            Tool::Podman => &[
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                "--network",
                "host",
            ],
        }
    }

    /// [`Engine::create_flags`] less its `--network host`.
    fn create_flags_without_network(&self) -> &'static [&'static str] {
        let all = self.create_flags();
        &all[..all.len() - 2]
    }

    fn rootfs_true(&self) -> [&std::ffi::OsStr; 3] {
        [
            "--rootfs".as_ref(),
            self.rootfs.as_os_str(),
            "true".as_ref(),
        ]
    }

    /// Removes everything the engine stored: static dir, run root, tmp dir
    /// and lock segment, as if it had never run.
    pub fn wipe(&self) -> Result<()> {
        unmount_below(&self.dir)?;
        for dir in [self.root(), self.runroot(), self.tmpdir()] {
            remove_dir(&dir)?;
        }
        self.remove_lock_segments()?;
        Ok(())
    }

    /// A simulated reboot: the per-boot state (run root, tmp dir, lock
    /// segment) is gone, the static dir stays.
    pub fn reboot(&self) -> Result<()> {
        unmount_below(&self.runroot())?;
        unmount_below(&self.tmpdir())?;
        remove_dir(&self.runroot())?;
        remove_dir(&self.tmpdir())?;
        if self.remove_lock_segments()? == 0 {
            bail!(
                "{}: no lock segment named {}* in /dev/shm to remove for the reboot",
                self.tool.name(),
                self.tool.shm_prefix()
            );
        }
        Ok(())
    }

    /// Removes this tool's lock segments from `/dev/shm`. Only ever called
    /// inside the bench's private mount namespace, whose `/dev/shm` is a
    /// tmpfs of its own (checked by `bench::private_shm`).
    fn remove_lock_segments(&self) -> Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir("/dev/shm")? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(self.tool.shm_prefix())
            {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The engine's events log, found where the engine actually wrote it.
    pub fn events_log(&self) -> Result<PathBuf> {
        for dir in [self.tmpdir(), self.runroot(), self.root()] {
            if let Some(found) = find_file(&dir, "events.log") {
                return Ok(found);
            }
        }
        bail!(
            "{}: no events.log below {} after a create",
            self.tool.name(),
            self.dir.display()
        )
    }
}

/// Writes `count` events in the engine's own format, modelled on `template`,
/// a real `create` line the engine wrote: a cycle of create, init, start,
/// died, cleanup, remove per synthetic container, so one event in six is a
/// `create`. Only `ID`, `Name`, `Status`, `Time` and oxpod's sequence
/// number `Seq` (when the template has one) change between lines.
pub fn write_events_log(path: &Path, template: &str, count: usize) -> Result<()> {
    const CYCLE: [&str; 6] = ["create", "init", "start", "died", "cleanup", "remove"];
    let time = field(template, "Time").context("the template event has no Time")?;
    let (seconds, zone) = split_time(time)
        .with_context(|| format!("cannot read the event time `{time}` in the template"))?;
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut line = String::new();
    for i in 0..count {
        let container = i / CYCLE.len();
        line.clear();
        line.push_str(template.trim_end());
        let id = format!("{container:016x}").repeat(4);
        set_field(&mut line, "ID", &id)?;
        set_field(&mut line, "Name", &format!("bench_{container}"))?;
        set_field(&mut line, "Status", CYCLE[i % CYCLE.len()])?;
        let mut t = String::new();
        write!(t, "{seconds}.{:09}{zone}", i % 1_000_000_000)?;
        set_field(&mut line, "Time", &t)?;
        set_seq(&mut line, i as u64 + 1);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The string value of `"key":"value"` in a JSON line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    field_range(line, key).map(|r| &line[r])
}

/// Replaces the string value of `"key":"..."` in a JSON line.
fn set_field(line: &mut String, key: &str, value: &str) -> Result<()> {
    let Some(range) = field_range(line, key) else {
        bail!("the template event has no string field {key}: {line}");
    };
    line.replace_range(range, value);
    Ok(())
}

/// Sets the number of `"Seq":N` if the line has one (oxpod's lines do,
/// podman's do not).
fn set_seq(line: &mut String, seq: u64) {
    let Some(start) = line.find("\"Seq\":").map(|p| p + 6) else {
        return;
    };
    let len = line[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(line.len() - start);
    line.replace_range(start..start + len, &seq.to_string());
}

/// Where the string value of `"key":"..."` lies in a JSON line (values
/// written by the engines for these keys contain no escaped quotes).
fn field_range(line: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = line[start..].find('"')?;
    Some(start..start + len)
}

/// Splits an RFC 3339 time into whole seconds and zone, dropping any fraction:
/// `2026-11-28T20:26:21.5Z` gives `("2026-11-28T20:26:21", "Z")`.
fn split_time(time: &str) -> Option<(&str, &str)> {
    let t = time.find('T')?;
    let end = t + time[t..].find(['.', 'Z', '+', '-'])?;
    let zone_start = end + time[end..].find(|c: char| c != '.' && !c.is_ascii_digit())?;
    Some((&time[..end], &time[zone_start..]))
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let kind = entry.file_type().ok()?;
        if kind.is_file() && entry.file_name() == name {
            return Some(path);
        }
        if kind.is_dir()
            && let Some(found) = find_file(&path, name)
        {
            return Some(found);
        }
    }
    None
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Unmounts whatever an engine mounted below `dir` (podman's overlay driver
/// bind-mounts its home), deepest first. Runs inside the private namespace.
fn unmount_below(dir: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let status = Command::new("umount").args(["-l", point]).status()?;
        if !status.success() {
            bail!("cannot unmount {point}: {status}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODMAN_LINE: &str = r#"{"ID":"1dda4860f1948c4bafb87599875e477e6f762685560d735e9e182b2cca279c2d","Name":"stupefied_rosalind","Status":"create","Time":"2026-11-28T20:26:21.499762076Z","Type":"container","Attributes":{}}"#;

    #[test]
    fn split_time_handles_fractions_and_zones() {
        assert_eq!(
            split_time("2026-11-28T20:26:21.499762076Z"),
            Some(("2026-11-28T20:26:21", "Z"))
        );
        assert_eq!(
            split_time("2026-11-28T20:26:21+01:00"),
            Some(("2026-11-28T20:26:21", "+01:00"))
        );
        assert_eq!(
            split_time("2026-11-28T20:26:21.5-05:00"),
            Some(("2026-11-28T20:26:21", "-05:00"))
        );
        assert_eq!(split_time("yesterday"), None);
    }

    #[test]
    fn events_log_follows_the_template() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.log");
        write_events_log(&path, PODMAN_LINE, 13).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 13);
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(r#""Status":"create""#))
                .count(),
            3
        );
        assert_eq!(
            lines[7],
            format!(
                r#"{{"ID":"{}","Name":"bench_1","Status":"init","Time":"2026-11-28T20:26:21.000000007Z","Type":"container","Attributes":{{}}}}"#,
                "0000000000000001".repeat(4)
            )
        );
    }

    #[test]
    fn oxpod_lines_get_a_growing_seq() {
        let mut line = r#"{"ID":"a","Seq":17,"Time":"x"}"#.to_owned();
        set_seq(&mut line, 100_000);
        assert_eq!(line, r#"{"ID":"a","Seq":100000,"Time":"x"}"#);
        let mut line = r#"{"Seq":3}"#.to_owned();
        set_seq(&mut line, 4);
        assert_eq!(line, r#"{"Seq":4}"#);
        let mut podman = PODMAN_LINE.to_owned();
        set_seq(&mut podman, 4);
        assert_eq!(podman, PODMAN_LINE);
    }

    #[test]
    fn a_template_without_the_fields_is_an_error() {
        let path = std::env::temp_dir().join("xtask-bench-never-written.log");
        assert!(write_events_log(&path, r#"{"Status":"create"}"#, 1).is_err());
    }
}
