//! `cargo xtask bench`: the same workloads through oxpod and podman, side by
//! side, in one run.
//!
//! The outer process builds what is needed (a busybox rootfs under
//! `target/bench/rootfs`, `target/release/oxpod`), finds podman, then
//! re-executes itself as `unshare -m --propagation private xtask bench
//! --inner`. The inner process mounts a tmpfs of its own on `/dev/shm`, so
//! neither engine's lock segment nor any mount touches the host, and runs
//! every [`workload::WORKLOADS`] row through one [`workload::Runner`] per
//! engine. Each command is timed as a whole process by [`measure`]. The
//! markdown table goes to stdout, JSON to `target/bench/`.
//!
//! `--micro` instead runs `cargo bench` (criterion) of every crate that has
//! benches.

mod engine;
mod measure;
mod report;
mod workload;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{have, is_root, output, run as sh, workspace_root};
use engine::{Engine, Tool};
use report::{Outcome, Report, Row};
use workload::{Runner, Sizes, WORKLOADS, human};

const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--runs N] [--only oxpod|podman] [--no-build]
       cargo xtask bench --micro

  --quick     small N (20/50 containers, 5000 events) for a fast check
  --runs N    samples per workload (default 5; rows creating or removing
              hundreds of containers take 2)
  --only T    run one tool only
  --no-build  use the existing target/release/oxpod
  --micro     run the criterion benches of every crate instead
";

/// Where the inner process finds the tools: a path, or `missing:<reason>`.
const OXPOD_ENV: &str = "XTASK_BENCH_OXPOD";
const PODMAN_ENV: &str = "XTASK_BENCH_PODMAN";
/// The device of the host's `/dev/shm`, to prove the inner one is private.
const SHM_DEV_ENV: &str = "XTASK_BENCH_HOST_SHM_DEV";

#[derive(Debug, Default)]
struct Options {
    quick: bool,
    micro: bool,
    runs: Option<usize>,
    only: Option<Tool>,
    no_build: bool,
    inner: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => o.quick = true,
                "--micro" => o.micro = true,
                "--no-build" => o.no_build = true,
                "--inner" => o.inner = true,
                "--runs" => {
                    let n = args.next().context("--runs needs a number")?;
                    o.runs =
                        Some(n.parse().ok().filter(|&n| n > 0).with_context(|| {
                            format!("--runs needs a positive number, not `{n}`")
                        })?);
                }
                "--only" => {
                    o.only = Some(match args.next().map(String::as_str) {
                        Some("oxpod") => Tool::Oxpod,
                        Some("podman") => Tool::Podman,
                        other => bail!("--only takes oxpod or podman, not {other:?}"),
                    })
                }
                "-h" | "--help" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown bench option `{other}`\n{USAGE}"),
            }
        }
        Ok(o)
    }

    /// The options the inner process gets.
    fn forward(&self) -> Vec<String> {
        let mut v = vec!["bench".to_owned(), "--inner".to_owned()];
        if self.quick {
            v.push("--quick".into());
        }
        if let Some(n) = self.runs {
            v.extend(["--runs".into(), n.to_string()]);
        }
        v
    }

    fn sizes(&self) -> Sizes {
        let mut sizes = if self.quick {
            Sizes::QUICK
        } else {
            Sizes::FULL
        };
        if let Some(n) = self.runs {
            sizes.runs = n;
            sizes.heavy_runs = sizes.heavy_runs.min(n);
        }
        sizes
    }
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(("--measure", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        let command = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
        return measure::wrapper(command);
    }
    let options = Options::parse(args)?;
    if options.micro {
        micro()
    } else if options.inner {
        inner(&options)
    } else {
        outer(&options)
    }
}

fn bench_dir() -> PathBuf {
    workspace_root().join("target/bench")
}

/// Prepares the rootfs and the tools, then re-runs itself in a private
/// mount namespace.
fn outer(options: &Options) -> Result<()> {
    if !is_root() {
        bail!(
            "the bench needs root: it runs both engines as root inside a private \
             mount namespace (unshare -m) with its own /dev/shm; try `sudo -E cargo xtask bench`"
        );
    }
    for program in ["unshare", "mount", "umount"] {
        if !have(program) {
            bail!("`{program}` is missing (package util-linux / mount)");
        }
    }
    rootfs(&bench_dir().join("rootfs"))?;
    let wanted = |tool| options.only.is_none_or(|only| only == tool);
    let oxpod = match wanted(Tool::Oxpod) {
        true => find_oxpod(options.no_build),
        false => Err("not asked for (--only podman)".into()),
    };
    let podman = match wanted(Tool::Podman) {
        true => find_podman(),
        false => Err("not asked for (--only oxpod)".into()),
    };
    let encode = |found: Result<PathBuf, String>| match found {
        Ok(path) => path.into_os_string(),
        Err(why) => format!("missing:{why}").into(),
    };
    let host_shm = std::fs::metadata("/dev/shm").context("no /dev/shm")?.dev();
    sh(Command::new("unshare")
        .args(["-m", "--propagation", "private"])
        .arg(private_copy_of_self()?)
        .args(options.forward())
        .env(OXPOD_ENV, encode(oxpod))
        .env(PODMAN_ENV, encode(podman))
        .env(SHM_DEV_ENV, host_shm.to_string()))
}

/// A copy of this binary under `target/bench/`: the inner process and every
/// measuring wrapper run from it, so a `cargo build` replacing
/// `target/debug/xtask` during a long bench does not pull it from under them.
/// Written beside and renamed into place, so a running copy is never changed.
fn private_copy_of_self() -> Result<PathBuf> {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("xtask-bench");
    let partial = dir.join(format!("xtask-bench.{}", std::process::id()));
    // /proc/self/exe is this process's binary even after cargo replaced the file.
    std::fs::copy("/proc/self/exe", &partial).context("cannot copy the xtask binary")?;
    std::fs::rename(&partial, &copy)?;
    Ok(copy)
}

/// A busybox root filesystem: `bin/busybox` and the applets the workloads use.
fn rootfs(dir: &Path) -> Result<()> {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .context("busybox is missing: run `cargo xtask deps` (busybox-static)")?;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(busybox, bin.join("busybox"))
        .with_context(|| format!("cannot copy {busybox} into {}", bin.display()))?;
    for applet in ["sh", "echo", "sleep", "true", "cat"] {
        let link = bin.join(applet);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    Ok(())
}

/// Builds `target/release/oxpod` (unless `no_build`) and checks it works.
fn find_oxpod(no_build: bool) -> Result<PathBuf, String> {
    if !no_build {
        sh(Command::new("cargo").args(["build", "--release", "-j2", "-p", "oxpod"]))
            .map_err(|e| format!("cannot build it: {e:#}"))?;
    }
    let binary = workspace_root().join("target/release/oxpod");
    if !binary.is_file() {
        return Err(format!("{} does not exist", binary.display()));
    }
    match output(Command::new(&binary).arg("version")) {
        Ok(v) if !v.trim().is_empty() => Ok(binary),
        Ok(_) => Err(format!(
            "`{} version` printed nothing: the CLI is not there yet",
            binary.display()
        )),
        Err(e) => Err(format!("`oxpod version` failed: {e:#}")),
    }
}

fn find_podman() -> Result<PathBuf, String> {
    if !have("podman") {
        return Err(
            "podman is not installed (no `podman` on PATH); oxpod's figures are shown alone".into(),
        );
    }
    Ok(PathBuf::from("podman"))
}

/// Reads a tool's location from the outer process.
fn tool_from_env(var: &str) -> Result<PathBuf, String> {
    match std::env::var(var) {
        Err(_) => Err(format!(
            "{var} is not set (run `cargo xtask bench`, not --inner)"
        )),
        Ok(v) => match v.strip_prefix("missing:") {
            Some(why) => Err(why.to_owned()),
            None => Ok(PathBuf::from(v)),
        },
    }
}

/// Gives this mount namespace its own `/dev/shm` and proves it is not the host's.
fn private_shm() -> Result<()> {
    let host: u64 = std::env::var(SHM_DEV_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .context("--inner is only for the bench's own re-execution")?;
    sh(Command::new("mount").args([
        "-t",
        "tmpfs",
        "-o",
        "mode=1777,size=256m",
        "xtask-bench-shm",
        "/dev/shm",
    ]))?;
    let dev = std::fs::metadata("/dev/shm")?.dev();
    let empty = std::fs::read_dir("/dev/shm")?.next().is_none();
    if dev == host || !empty {
        bail!("/dev/shm is not a private, empty tmpfs after mounting one; refusing to run");
    }
    Ok(())
}

/// Runs every workload through every available engine and reports.
fn inner(options: &Options) -> Result<()> {
    private_shm()?;
    let dir = bench_dir();
    let rootfs = dir.join("rootfs");
    let archive = crate::rootfs::build_image_archive(&dir, &rootfs, engine::BENCH_IMAGE)?;
    let sizes = options.sizes();
    let many =
        crate::rootfs::build_many_images_archive(&dir, &rootfs, engine::MANY_IMAGES, sizes.images)?;
    // The pull rows' registry: Debian's docker-registry on a free port of
    // 127.0.0.1, its data in the bench dir, the big image pushed by skopeo.
    let registry = match BenchRegistry::start(&dir, &rootfs) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("xtask: bench: no registry, the pull rows fail: {e:#}");
            None
        }
    };
    // The network rows' own network namespace: bridges, firewall rules and
    // aardvark-dns never touch the host's.
    let holder = match crate::util::NetnsHolder::start() {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("xtask: bench: no network namespace, the network rows fail: {e:#}");
            None
        }
    };
    let found = [tool_from_env(OXPOD_ENV), tool_from_env(PODMAN_ENV)];
    let mut engines = Vec::new();
    let mut versions = [String::new(), String::new()];
    let mut missing = [None, None];
    for (i, (tool, found)) in Tool::ALL.into_iter().zip(found).enumerate() {
        match found {
            Ok(program) => {
                versions[i] = output(Command::new(&program).arg("--version"))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                let mut engine = Engine::new(tool, program, &dir, &rootfs, &archive, &many)?;
                engine.registry = registry.as_ref().map(|r| r.host.clone());
                engine.netns = holder.as_ref().map(|h| h.path());
                engines.push(engine);
            }
            Err(why) => {
                eprintln!("xtask: bench: {} not run: {why}", tool.name());
                missing[i] = Some(why);
            }
        }
    }
    if engines.is_empty() {
        bail!("neither oxpod nor podman can be run");
    }
    let mut runners: Vec<Runner> = engines.iter().map(|e| Runner::new(e, sizes)).collect();
    let rows = run_workloads(&mut runners, &sizes);
    for runner in &mut runners {
        runner.wipe()?;
    }
    let mut peers = match &registry {
        Some(r) => r.peers(&dir, sizes.heavy_runs),
        None => Vec::new(),
    };
    if let Some(h) = &holder {
        peers.push(netavark_peer(
            &dir,
            h,
            sizes.runs,
            sizes.get(workload::Size::RunCount),
        ));
    }
    drop(holder);
    let report = Report {
        date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?
            .trim()
            .to_owned(),
        quick: options.quick,
        sizes,
        versions,
        missing,
        rows,
        peers,
    };
    let path = report.write_json(&dir)?;
    print!("{}", report.markdown());
    eprintln!("xtask: bench: JSON in {}", path.display());
    Ok(())
}

/// The floor of the network run row: netavark's own `setup` and `teardown`
/// of a namespace made once, `per_sample` times a sample, in the bench's
/// network namespace, with the options oxpod sends for one container on a
/// /24 bridge. oxpod's overhead is its row's median over this one.
fn netavark_peer(
    dir: &Path,
    holder: &crate::util::NetnsHolder,
    runs: usize,
    per_sample: usize,
) -> report::Peer {
    let outcome = (|| -> Result<Vec<measure::Sample>> {
        let netavark = ["/usr/libexec/podman/netavark", "/usr/lib/podman/netavark"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .context("netavark is not installed")?;
        let work = dir.join("netavark-peer");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let opts = work.join("opts.json");
        std::fs::write(
            &opts,
            r#"{"container_id":"0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef","container_name":"peer","networks":{"peer":{"static_ips":["10.123.0.2"],"aliases":[],"interface_name":"eth0"}},"network_info":{"peer":{"name":"peer","id":"1111111111111111111111111111111111111111111111111111111111111111","driver":"bridge","network_interface":"podman9","subnets":[{"subnet":"10.123.0.0/24","gateway":"10.123.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}"#,
        )?;
        let ns = work.join("ns");
        let script = format!(
            "set -e; touch {ns}; unshare -n mount --bind /proc/self/ns/net {ns}; \
             i=0; while [ $i -lt {per_sample} ]; do \
             {netavark} --config {cfg} --rootless=false setup {ns} < {opts} > /dev/null; \
             {netavark} --config {cfg} --rootless=false teardown {ns} < {opts}; i=$((i+1)); done; \
             umount {ns}",
            ns = ns.display(),
            cfg = work.join("run").display(),
            opts = opts.display(),
        );
        let mut samples = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new("nsenter");
            cmd.arg(format!("--net={}", holder.path().display()))
                .args(["--", "sh", "-c"])
                .arg(&script);
            samples.push(measure::exec(&cmd)?.sample);
        }
        let _ = std::fs::remove_dir_all(&work);
        Ok(samples)
    })();
    report::Peer {
        name: format!("netavark setup + teardown alone (×{per_sample} a sample)"),
        row: workload::NETWORK_RUN_ROW,
        target: None,
        outcome: match outcome {
            Ok(s) => Outcome::Samples(s),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        },
    }
}

/// The hex digests of a manifest's `layers`, in order (the config's digest
/// comes before `"layers"` and is skipped). xtask reads JSON without serde.
fn layer_digests(manifest: &str) -> Result<Vec<String>> {
    let (_, layers) = manifest
        .split_once("\"layers\"")
        .context("the copied manifest has no layers")?;
    let digests: Vec<String> = layers
        .split("sha256:")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .filter(|hex| hex.len() == 64)
        .collect();
    if digests.is_empty() {
        bail!("the copied manifest lists no sha256 layer");
    }
    Ok(digests)
}

/// docker-registry serving the bench's big image; killed when dropped.
struct BenchRegistry {
    child: std::process::Child,
    host: String,
}

impl BenchRegistry {
    fn start(dir: &Path, rootfs: &Path) -> Result<BenchRegistry> {
        for tool in ["/usr/bin/docker-registry", "/usr/bin/skopeo"] {
            if !Path::new(tool).exists() {
                bail!("{tool} is missing (cargo xtask deps installs it)");
            }
        }
        // 5 layers: the busybox rootfs, then 4 of 1000 files of 16 KiB.
        let archive = crate::rootfs::build_big_image_archive(
            dir,
            rootfs,
            "localhost/big:1",
            4,
            1000,
            16 << 10,
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data = dir.join("registry-data");
        std::fs::create_dir_all(&data)?;
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                data.display()
            ),
        )?;
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting docker-registry")?;
        let reg = BenchRegistry {
            child,
            host: format!("127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("docker-registry did not listen on {}", reg.host);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        crate::util::run(
            Command::new("/usr/bin/skopeo")
                .args(["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"])
                .arg(format!("docker-archive:{}", archive.display()))
                .arg(format!("docker://{}/{}", reg.host, engine::BIG_IMAGE)),
        )?;
        Ok(reg)
    }

    /// The pull row's peers, `runs` samples each: `skopeo copy` of the big
    /// image into a fresh `dir:` (the download alone), then a sequential
    /// `tar xzf` of the layers it fetched into one fresh directory (the
    /// unpack alone, on one core). oxpod's pull must not be slower than the
    /// second.
    fn peers(&self, dir: &Path, runs: usize) -> Vec<report::Peer> {
        let copy_dir = dir.join("peer-copy");
        let untar_dir = dir.join("peer-untar");
        let clean = |p: &Path| {
            let _ = std::fs::remove_dir_all(p);
        };
        let copy = |_: usize| -> Result<measure::Sample> {
            clean(&copy_dir);
            let mut cmd = Command::new("/usr/bin/skopeo");
            cmd.args(["--insecure-policy", "copy", "-q", "--src-tls-verify=false"])
                .arg(format!("docker://{}/{}", self.host, engine::BIG_IMAGE))
                .arg(format!("dir:{}", copy_dir.display()));
            Ok(measure::exec(&cmd)?.sample)
        };
        let untar = |_: usize| -> Result<measure::Sample> {
            clean(&untar_dir);
            std::fs::create_dir_all(&untar_dir)?;
            let manifest = std::fs::read_to_string(copy_dir.join("manifest.json"))?;
            let mut script = String::from("set -e\n");
            for hex in layer_digests(&manifest)? {
                script.push_str(&format!(
                    "tar xzf {} -C {}\n",
                    copy_dir.join(hex).display(),
                    untar_dir.display()
                ));
            }
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c").arg(script);
            Ok(measure::exec(&cmd)?.sample)
        };
        let sample = |f: &dyn Fn(usize) -> Result<measure::Sample>| match (0..runs)
            .map(f)
            .collect::<Result<Vec<_>>>()
        {
            Ok(s) => Outcome::Samples(s),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        };
        let copied = sample(&copy);
        // The unpack needs one copy's blobs, whatever the copy's timing gave.
        let untarred = match copy(0) {
            Ok(_) => sample(&untar),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        };
        clean(&copy_dir);
        clean(&untar_dir);
        vec![
            report::Peer {
                name: "skopeo copy docker:// dir: (download only)".into(),
                row: workload::PULL_ROW,
                target: None,
                outcome: copied,
            },
            report::Peer {
                name: "sequential tar xzf of the layers (unpack only)".into(),
                row: workload::PULL_ROW,
                target: Some(1.0),
                outcome: untarred,
            },
        ]
    }
}

impl Drop for BenchRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every workload, each through every runner in turn; a failure is recorded
/// in its row and the bench goes on.
fn run_workloads(runners: &mut [Runner], sizes: &Sizes) -> Vec<Row> {
    let mut rows = Vec::new();
    for workload in WORKLOADS {
        let n = workload.n(sizes);
        let mut outcomes = [Outcome::Skipped, Outcome::Skipped];
        for runner in runners.iter_mut() {
            let tool = runner.engine.tool;
            let outcome = match runner.samples(workload) {
                Ok(samples) => {
                    let median = measure::Stats::of(&samples).map(|s| human(s.median));
                    let median = median.unwrap_or_default();
                    eprintln!(
                        "xtask: bench: {:6} {} N={n}: {median}",
                        tool.name(),
                        workload.name
                    );
                    Outcome::Samples(samples)
                }
                Err(e) => {
                    eprintln!(
                        "xtask: bench: {:6} {} N={n}: failed: {e:#}",
                        tool.name(),
                        workload.name
                    );
                    Outcome::Failed(format!("{e:#}"))
                }
            };
            outcomes[tool as usize] = outcome;
        }
        rows.push(Row {
            workload,
            n,
            outcomes,
        });
    }
    rows
}

/// `--micro`: the criterion benches of every crate that has a `benches/` dir.
fn micro() -> Result<()> {
    let root = workspace_root();
    let mut failed = Vec::new();
    let mut ran = 0;
    for entry in std::fs::read_dir(&root)? {
        let dir = entry?.path();
        if !dir.join("benches").is_dir() {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let Some(package) = package_name(&manifest) else {
            continue;
        };
        ran += 1;
        let mut cargo_bench = Command::new("cargo");
        cargo_bench.args(["bench", "-j2", "-p", package, "--benches"]);
        if let Err(e) = sh(&mut cargo_bench) {
            eprintln!("xtask: bench: {e:#}");
            failed.push(package.to_owned());
        }
    }
    match (ran, failed.is_empty()) {
        (0, _) => bail!("no crate has a benches/ directory"),
        (_, true) => Ok(()),
        (_, false) => bail!("cargo bench failed for {}", failed.join(", ")),
    }
}

/// The `name` of a manifest's `[package]` section.
fn package_name(manifest: &str) -> Option<&str> {
    let package = manifest.split("[package]").nth(1)?;
    package
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| l.trim().strip_prefix("name")?.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn layer_digests_skip_the_config() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let c = "c".repeat(64);
        let m = format!(
            r#"{{"config":{{"digest":"sha256:{a}"}},"layers":[{{"digest":"sha256:{b}"}},{{"digest": "sha256:{c}"}}]}}"#
        );
        assert_eq!(layer_digests(&m).unwrap(), vec![b, c]);
        assert!(layer_digests(r#"{"layers":[]}"#).is_err());
    }

    #[test]
    fn options_parse_and_forward() {
        let o = Options::parse(&args(&["--quick", "--runs", "4", "--only", "podman"])).unwrap();
        assert!(o.quick && o.only == Some(Tool::Podman));
        assert_eq!(
            o.forward(),
            args(&["bench", "--inner", "--quick", "--runs", "4"])
        );
        assert_eq!(o.sizes().runs, 4);
        assert!(Options::parse(&args(&["--runs", "0"])).is_err());
        assert!(Options::parse(&args(&["--only", "docker"])).is_err());
        assert!(Options::parse(&args(&["--fast"])).is_err());
    }

    #[test]
    fn package_names() {
        let m = "[package]\nname = \"oxpod-locks\"\nversion.workspace = true\n\n[dependencies]\nname = \"x\"\n";
        assert_eq!(package_name(m), Some("oxpod-locks"));
        assert_eq!(package_name("[workspace]\n"), None);
    }
}
