//! The workloads, as one table both engines run, and the runner that brings
//! an engine's store into the state a workload needs before timing it.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::engine::{Cmd, Engine, write_events_log};
use super::measure::{Measured, Sample, exec};

/// The sizes of one bench run (`--quick` shrinks them).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// The smaller container population (200).
    pub small: usize,
    /// The larger container population (1000).
    pub large: usize,
    /// Events in the generated events log (100 000).
    pub events: usize,
    /// `run --rm true` processes per sample (20).
    pub run_count: usize,
    /// Samples per workload.
    pub runs: usize,
    /// Samples per heavy workload (one that creates or removes many
    /// containers per sample: podman takes 20 s to create 200, 75 s for 1000).
    pub heavy_runs: usize,
    /// Images in the many-images rows (100).
    pub images: usize,
}

impl Sizes {
    pub const FULL: Sizes = Sizes {
        small: 200,
        large: 1000,
        events: 100_000,
        run_count: 20,
        runs: 5,
        heavy_runs: 2,
        images: 100,
    };
    pub const QUICK: Sizes = Sizes {
        small: 20,
        large: 50,
        events: 5_000,
        run_count: 3,
        runs: 3,
        heavy_runs: 2,
        images: 10,
    };

    pub fn get(&self, size: Size) -> usize {
        match size {
            Size::Zero => 0,
            Size::Small => self.small,
            Size::Large => self.large,
            Size::Events => self.events,
            Size::RunCount => self.run_count,
        }
    }
}

/// A size in the table, resolved through [`Sizes`].
#[derive(Debug, Clone, Copy)]
pub enum Size {
    Zero,
    Small,
    Large,
    Events,
    RunCount,
}

/// The store an engine must have before a sample is timed.
#[derive(Debug, Clone, Copy)]
pub enum Setup {
    /// Nothing at all: no database, no tmp dir, no lock segment.
    Nothing,
    /// An initialised store holding exactly this many containers.
    Containers(Size),
    /// This many containers, then a simulated reboot.
    Rebooted(Size),
    /// An initialised store whose events log holds this many events.
    EventsLog(Size),
    /// An initialised store without containers, the bench image loaded
    /// (`true`) or not (`false`).
    Image(bool),
    /// An initialised store without containers holding the many images.
    ManyImages,
    /// An initialised store whose one container runs (exec's target).
    Running,
    /// An initialised store without containers holding exactly this many
    /// named volumes.
    Volumes(Size),
    /// An initialised store whose only containers are this many running
    /// ones.
    RunningMany(Size),
    /// An initialised store without containers, the registry's big image
    /// pulled (`true`) or not (`false`).
    Pulled(bool),
    /// An initialised store without containers whose networks are the
    /// default one and [`BENCH_NETWORK`](super::engine::BENCH_NETWORK).
    Network,
}

/// What is timed.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// One process.
    Once(Op),
    /// `create`, one process per container; the sample is their sum.
    CreateEach(Size),
    /// `rm ID`, one process per container in the store.
    RmEach,
    /// `rmi NAME`, one process per image of the many-images archive.
    RmiEach,
    /// The same command this many times.
    Repeat(Op, Size),
    /// `volume create`, one process per volume.
    VolumeCreateEach(Size),
    /// `volume rm NAME`, one process per volume in the store.
    VolumeRmEach,
    /// `run -d -p` then `rm -f`, this many times; the sample is their sum.
    PublishAndRm(Size),
    /// `network create NAME` then `network rm NAME`, this many times.
    NetworkCreateRm(Size),
}

/// A command without arguments that depend on the store.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Info,
    Ps,
    PsJson,
    /// `inspect` of the container in the middle of the store.
    InspectMiddle,
    RmAll,
    RunRmTrue,
    Events,
    EventsCreate,
    Renumber,
    /// `load -i` of the bench image (its store has no image before).
    Load,
    /// `run --rm IMAGE true`.
    RunImageTrue,
    /// `images`.
    Images,
    /// `exec CTR true` in the running container.
    ExecTrue,
    /// `run --rm -i` of `cat`, fed 100 MiB.
    RunStdin,
    /// `volume ls`.
    VolumeLs,
    /// `run --rm -v NAME:/d true`.
    RunRmVolumeTrue,
    /// `run --rm --memory 64m --cpus 0.5 --pids-limit 100 true`.
    RunRmLimitsTrue,
    /// `run --rm --security-opt seccomp=unconfined true`.
    RunRmUnconfinedTrue,
    /// `stats --no-stream`.
    StatsNoStream,
    /// `pull` of the bench registry's big image.
    PullBig,
    /// `run --rm --network bench-net true`.
    RunRmNetworkTrue,
}

/// One row of the report.
#[derive(Debug)]
pub struct Workload {
    pub name: &'static str,
    pub setup: Setup,
    pub action: Action,
    /// The issue's target for the ratio oxpod / podman, if it sets one.
    pub target: Option<f64>,
    /// Uses `heavy_runs` samples and no warm-up.
    pub heavy: bool,
}

impl Workload {
    /// The N of the report: containers, processes or events involved.
    pub fn n(&self, sizes: &Sizes) -> usize {
        match (self.action, self.setup) {
            (
                Action::CreateEach(n)
                | Action::Repeat(_, n)
                | Action::VolumeCreateEach(n)
                | Action::PublishAndRm(n)
                | Action::NetworkCreateRm(n),
                _,
            ) => sizes.get(n),
            (_, Setup::Volumes(n) | Setup::RunningMany(n)) => sizes.get(n),
            (Action::RmiEach, _) | (_, Setup::ManyImages) => sizes.images,
            (
                _,
                Setup::Nothing
                | Setup::Image(_)
                | Setup::Running
                | Setup::Pulled(_)
                | Setup::Network,
            ) => 0,
            (_, Setup::Containers(n) | Setup::Rebooted(n) | Setup::EventsLog(n)) => sizes.get(n),
        }
    }
}

const fn w(
    name: &'static str,
    setup: Setup,
    action: Action,
    target: Option<f64>,
    heavy: bool,
) -> Workload {
    Workload {
        name,
        setup,
        action,
        target,
        heavy,
    }
}

use Action::{
    CreateEach, NetworkCreateRm, Once, PublishAndRm, Repeat, RmEach, RmiEach, VolumeCreateEach,
    VolumeRmEach,
};
use Setup::{
    Containers, EventsLog, Image, ManyImages, Network, Nothing, Pulled, Rebooted, Running,
    RunningMany, Volumes,
};
use Size::{Events, Large, RunCount, Small, Zero};

/// The row of runs on a network (the bare netavark peer compares with it).
pub const NETWORK_RUN_ROW: &str = "run --rm --network NAME true (one process each)";

/// The row of a pull into an empty store (its peers compare with it).
pub const PULL_ROW: &str = "pull (local registry, 5 layers, ~64 MB, 4000 files)";

/// Every workload, in the order run. The order keeps populations between
/// rows where it can (200 containers serve the `ps` rows after `create`).
#[rustfmt::skip]
pub const WORKLOADS: &[Workload] = &[
    w("info (cold: empty store)", Nothing, Once(Op::Info), Some(0.05), false),
    w("info", Containers(Zero), Once(Op::Info), Some(0.05), false),
    w("ps -a", Containers(Zero), Once(Op::Ps), None, false),
    w("ps -a --format json", Containers(Zero), Once(Op::PsJson), None, false),
    w("create (one process each)", Containers(Zero), CreateEach(Small), Some(0.1), true),
    w("ps -a", Containers(Small), Once(Op::Ps), None, false),
    w("ps -a --format json", Containers(Small), Once(Op::PsJson), None, false),
    w("create (one process each)", Containers(Zero), CreateEach(Large), Some(0.1), true),
    w("ps -a", Containers(Large), Once(Op::Ps), Some(0.03), false),
    w("ps -a --format json", Containers(Large), Once(Op::PsJson), Some(0.03), false),
    w("inspect (one of N)", Containers(Large), Once(Op::InspectMiddle), Some(0.05), false),
    w("system renumber", Containers(Large), Once(Op::Renumber), Some(0.05), false),
    w("first command after reboot (ps -a)", Rebooted(Large), Once(Op::Ps), Some(0.05), false),
    w("rm (one process each)", Containers(Large), RmEach, None, true),
    w("rm -a", Containers(Large), Once(Op::RmAll), Some(0.02), true),
    w("run --rm true (one process each)", Containers(Zero), Repeat(Op::RunRmTrue, RunCount), Some(0.5), false),
    w("run --rm -v NAME:/d true (one process each)", Containers(Zero), Repeat(Op::RunRmVolumeTrue, RunCount), Some(0.5), false),
    w("run --rm --memory --cpus --pids-limit true (one process each)", Containers(Zero), Repeat(Op::RunRmLimitsTrue, RunCount), Some(0.5), false),
    w("run --rm --security-opt seccomp=unconfined true (one process each)", Containers(Zero), Repeat(Op::RunRmUnconfinedTrue, RunCount), None, false),
    w("volume create (one process each)", Volumes(Zero), VolumeCreateEach(Small), Some(0.1), true),
    w("volume rm (one process each)", Volumes(Small), VolumeRmEach, Some(0.1), true),
    w("volume ls", Volumes(Large), Once(Op::VolumeLs), Some(0.1), false),
    w("events --stream=false", EventsLog(Events), Once(Op::Events), Some(0.1), false),
    w("events --stream=false --filter event=create", EventsLog(Events), Once(Op::EventsCreate), Some(0.1), false),
    w("load (docker-archive, busybox)", Image(false), Once(Op::Load), Some(0.6), false),
    w("run --rm IMAGE true (one process each)", Image(true), Repeat(Op::RunImageTrue, RunCount), Some(0.35), false),
    w("images", ManyImages, Once(Op::Images), None, false),
    w("rmi (one process each)", ManyImages, RmiEach, None, true),
    w(PULL_ROW, Pulled(false), Once(Op::PullBig), Some(0.6), false),
    w("pull (local registry, image present)", Pulled(true), Once(Op::PullBig), None, false),
    w("run --rm -i cat (100 MiB through stdin)", Containers(Zero), Once(Op::RunStdin), Some(1.0), false),
    // Last: its running container would show in the `ps` rows.
    w("exec CTR true (one process each)", Running, Repeat(Op::ExecTrue, RunCount), Some(0.3), false),
    w("stats --no-stream (N running)", RunningMany(RunCount), Once(Op::StatsNoStream), Some(0.1), false),
    w(NETWORK_RUN_ROW, Network, Repeat(Op::RunRmNetworkTrue, RunCount), Some(0.5), false),
    w("run -d -p + rm -f (pairs)", Network, PublishAndRm(RunCount), None, false),
    w("network create + rm (pairs)", Network, NetworkCreateRm(Small), Some(0.1), true),
];

/// What the runner knows about an engine's store.
#[derive(Debug, Default)]
struct Store {
    /// Whether the store exists and is in the state recorded here; `false`
    /// after a failure, which makes the next setup start from nothing.
    known: bool,
    /// The containers in the store, in creation order.
    ids: Vec<String>,
    /// The size of the generated events log, while it is untouched.
    events: Option<usize>,
    /// Whether the bench image is loaded.
    image: bool,
    /// Whether the many images are loaded.
    many: bool,
    /// Whether the exec rows' container runs.
    running: bool,
    /// The named volumes `bench-v<i>` in the store, for i below this.
    volumes: usize,
    /// Whether the `run --rm -v` row's volume is in the store.
    bench_volume: bool,
    /// Running containers `bench-run-<i>`, for i below this.
    running_many: usize,
    /// Whether the registry's big image is pulled.
    pulled: bool,
    /// Whether the bench network exists.
    network: bool,
}

/// Runs workloads against one engine.
#[derive(Debug)]
pub struct Runner<'a> {
    pub engine: &'a Engine,
    sizes: Sizes,
    store: Store,
}

impl<'a> Runner<'a> {
    pub fn new(engine: &'a Engine, sizes: Sizes) -> Runner<'a> {
        Runner {
            engine,
            sizes,
            store: Store::default(),
        }
    }

    /// Takes the samples of one workload (after one discarded warm-up
    /// unless the workload is heavy).
    pub fn samples(&mut self, workload: &Workload) -> Result<Vec<Sample>> {
        let (warmup, runs) = match workload.heavy {
            true => (0, self.sizes.heavy_runs),
            false => (1, self.sizes.runs),
        };
        let mut samples = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let sample = self.sample(workload).inspect_err(|_| {
                self.store.known = false;
            })?;
            if i >= warmup {
                samples.push(sample);
            }
        }
        Ok(samples)
    }

    /// Wipes the engine's store (its running container removed first, so
    /// no process outlives it).
    pub fn wipe(&mut self) -> Result<()> {
        if self.store.running_many > 0 {
            self.store.running_many = 0;
            self.exec(Cmd::RmAllForce)
                .context("removing the running containers")?;
        }
        if self.store.running {
            self.store.running = false;
            self.exec(Cmd::RmRunning)
                .context("removing the running container")?;
        }
        self.store = Store::default();
        self.engine.wipe()
    }

    fn sample(&mut self, workload: &Workload) -> Result<Sample> {
        self.prepare(workload.setup)?;
        self.act(workload.action)
    }

    fn prepare(&mut self, setup: Setup) -> Result<()> {
        match setup {
            Setup::Nothing => self.wipe(),
            Setup::Containers(n) => self.containers(self.sizes.get(n)),
            Setup::Rebooted(n) => {
                self.containers(self.sizes.get(n))?;
                self.store.events = None;
                self.engine.reboot()
            }
            Setup::EventsLog(n) => self.events_log(self.sizes.get(n)),
            Setup::ManyImages => {
                self.containers(0)?;
                if !self.store.many {
                    self.exec(Cmd::LoadMany)
                        .context("loading the many images")?;
                    self.store.many = true;
                }
                Ok(())
            }
            Setup::Running => {
                if !self.store.running {
                    self.containers(0)?;
                    self.exec(Cmd::RunDetached)
                        .context("running the exec container")?;
                    self.store.running = true;
                }
                Ok(())
            }
            Setup::Volumes(n) => {
                let n = self.sizes.get(n);
                self.containers(0)?;
                if self.store.volumes > n || self.store.bench_volume {
                    self.wipe()?;
                    self.containers(0)?;
                }
                while self.store.volumes < n {
                    self.volume_create()?;
                }
                Ok(())
            }
            Setup::RunningMany(n) => {
                let n = self.sizes.get(n);
                if self.store.running_many != n || !self.store.ids.is_empty() || self.store.running
                {
                    self.wipe()?;
                    self.containers(0)?;
                    for i in 0..n {
                        self.exec(Cmd::RunNamed(i))
                            .context("running the stats containers")?;
                        self.store.running_many = i + 1;
                    }
                }
                Ok(())
            }
            Setup::Pulled(want) => {
                if self.engine.registry.is_none() {
                    bail!("no bench registry (docker-registry and skopeo are needed)");
                }
                self.containers(0)?;
                if self.store.pulled && !want {
                    self.exec(Cmd::RmiBig)
                        .context("removing the pulled image")?;
                    self.store.pulled = false;
                }
                if !self.store.pulled && want {
                    self.exec(Cmd::PullBig).context("pulling the big image")?;
                    self.store.pulled = true;
                }
                Ok(())
            }
            Setup::Network => {
                self.containers(0)?;
                if !self.store.network {
                    self.exec(Cmd::NetworkCreate(super::engine::BENCH_NETWORK))
                        .context("creating the bench network")?;
                    self.store.network = true;
                }
                Ok(())
            }
            Setup::Image(loaded) => {
                self.containers(0)?;
                if self.store.image && !loaded {
                    self.exec(Cmd::RmiImage)
                        .context("removing the bench image")?;
                    self.store.image = false;
                }
                if !self.store.image && loaded {
                    self.exec(Cmd::Load).context("loading the bench image")?;
                    self.store.image = true;
                }
                Ok(())
            }
        }
    }

    /// Brings the store to exactly `n` containers, adding to it when it
    /// holds fewer, else starting again from an empty, initialised store.
    fn containers(&mut self, n: usize) -> Result<()> {
        if !self.store.known || self.store.ids.len() > n {
            self.wipe()?;
            self.exec(Cmd::Ps).context("initialising the store")?;
            self.store.known = true;
        }
        while self.store.ids.len() < n {
            self.create()?;
        }
        Ok(())
    }

    /// An events log of `n` events in the engine's format, modelled on a
    /// real `create` event the engine has just written.
    fn events_log(&mut self, n: usize) -> Result<()> {
        if self.store.known && self.store.events == Some(n) {
            return Ok(());
        }
        let have = if self.store.known {
            self.store.ids.len()
        } else {
            0
        };
        self.containers(have)?;
        self.create()?;
        let path = self.engine.events_log()?;
        let log = std::fs::read_to_string(&path)?;
        let template = log
            .lines()
            .rev()
            .find(|l| l.contains(r#""Status":"create""#))
            .with_context(|| format!("no create event in {}", path.display()))?;
        write_events_log(&path, template, n)?;
        self.store.events = Some(n);
        Ok(())
    }

    fn create(&mut self) -> Result<Sample> {
        let out = self.exec(Cmd::Create)?;
        let id = out.stdout.lines().rev().find(|l| !l.trim().is_empty());
        let Some(id) = id else {
            bail!("{} create printed no container id", self.engine.tool.name());
        };
        self.store.ids.push(id.trim().to_owned());
        self.store.events = None;
        Ok(out.sample)
    }

    fn volume_create(&mut self) -> Result<Sample> {
        let name = format!("bench-v{}", self.store.volumes);
        let out = self.exec(Cmd::VolumeCreate(&name))?;
        if out.stdout.trim() != name {
            bail!(
                "{} volume create printed {:?}",
                self.engine.tool.name(),
                out.stdout
            );
        }
        self.store.volumes += 1;
        self.store.events = None;
        Ok(out.sample)
    }

    fn act(&mut self, action: Action) -> Result<Sample> {
        let mut total = Sample::default();
        match action {
            Action::Once(op) => total.add(self.op(op)?),
            Action::CreateEach(n) => {
                for _ in 0..self.sizes.get(n) {
                    total.add(self.create()?);
                }
            }
            Action::RmEach => {
                self.store.events = None;
                while let Some(id) = self.store.ids.pop() {
                    total.add(self.exec(Cmd::Rm(&id))?.sample);
                }
            }
            Action::RmiEach => {
                for i in 0..self.sizes.images {
                    let name = format!("{}:{i}", super::engine::MANY_IMAGES);
                    total.add(self.exec(Cmd::Rmi(&name))?.sample);
                }
                self.store.many = false;
            }
            Action::Repeat(op, n) => {
                for _ in 0..self.sizes.get(n) {
                    total.add(self.op(op)?);
                }
            }
            Action::VolumeCreateEach(n) => {
                for _ in 0..self.sizes.get(n) {
                    total.add(self.volume_create()?);
                }
            }
            Action::PublishAndRm(n) => {
                for _ in 0..self.sizes.get(n) {
                    self.store.events = None;
                    total.add(self.exec(Cmd::RunPublished)?.sample);
                    total.add(self.exec(Cmd::RmPublished)?.sample);
                }
            }
            Action::NetworkCreateRm(n) => {
                for i in 0..self.sizes.get(n) {
                    let name = format!("bench-n{i}");
                    total.add(self.exec(Cmd::NetworkCreate(&name))?.sample);
                    total.add(self.exec(Cmd::NetworkRm(&name))?.sample);
                }
            }
            Action::VolumeRmEach => {
                self.store.events = None;
                while self.store.volumes > 0 {
                    let name = format!("bench-v{}", self.store.volumes - 1);
                    total.add(self.exec(Cmd::VolumeRm(&name))?.sample);
                    self.store.volumes -= 1;
                }
            }
        }
        Ok(total)
    }

    fn op(&mut self, op: Op) -> Result<Sample> {
        let cmd = match op {
            Op::Info => Cmd::Info,
            Op::Ps => Cmd::Ps,
            Op::PsJson => Cmd::PsJson,
            Op::InspectMiddle => {
                let ids = &self.store.ids;
                let id = ids
                    .get(ids.len() / 2)
                    .context("inspect needs a container")?;
                return Ok(self.exec(Cmd::Inspect(id))?.sample);
            }
            Op::RmAll => Cmd::RmAll,
            Op::RunRmTrue => Cmd::RunRmTrue,
            Op::Events => Cmd::Events,
            Op::EventsCreate => Cmd::EventsCreate,
            Op::Renumber => Cmd::Renumber,
            Op::Load => Cmd::Load,
            Op::RunImageTrue => Cmd::RunImageTrue,
            Op::Images => Cmd::Images,
            Op::ExecTrue => Cmd::ExecTrue,
            Op::RunStdin => Cmd::RunStdin,
            Op::VolumeLs => Cmd::VolumeLs,
            Op::RunRmLimitsTrue => Cmd::RunRmLimitsTrue,
            Op::RunRmUnconfinedTrue => Cmd::RunRmUnconfinedTrue,
            Op::StatsNoStream => Cmd::StatsNoStream,
            Op::PullBig => {
                self.store.pulled = true;
                Cmd::PullBig
            }
            Op::RunRmVolumeTrue => {
                self.store.bench_volume = true;
                Cmd::RunRmVolumeTrue
            }
            Op::RunRmNetworkTrue => Cmd::RunRmNetworkTrue,
        };
        let out = self.exec(cmd)?;
        self.check_output(op, &out.stdout)?;
        match op {
            Op::Load => self.store.image = true,
            Op::RmAll => self.store.ids.clear(),
            Op::Info
            | Op::Ps
            | Op::PsJson
            | Op::Events
            | Op::EventsCreate
            | Op::Images
            | Op::VolumeLs
            | Op::StatsNoStream
            | Op::PullBig => {}
            Op::ExecTrue | Op::RunStdin => self.store.events = None,
            _ => self.store.events = None,
        }
        Ok(out.sample)
    }

    /// Checks that a command did its whole job, so a fast wrong answer is
    /// never reported as a fast answer: `ps` lists every container, `events`
    /// prints one line per matching event.
    fn check_output(&self, op: Op, stdout: &str) -> Result<()> {
        let tool = self.engine.tool.name();
        let words: HashSet<&str> = stdout.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        let lines = stdout.lines().filter(|l| !l.trim().is_empty()).count();
        let ids = &self.store.ids;
        let (expected_lines, missing) = match op {
            Op::Ps => (
                Some(ids.len() + 1),
                ids.iter()
                    .find(|id| !words.contains(&id[..id.len().min(12)])),
            ),
            Op::PsJson => (None, ids.iter().find(|id| !words.contains(id.as_str()))),
            Op::Events => (self.store.events, None),
            // One event in six is a create (see `write_events_log`).
            Op::EventsCreate => (self.store.events.map(|n| n.div_ceil(6)), None),
            // A header and one line per volume.
            Op::VolumeLs => (Some(self.store.volumes + 1), None),
            // A header and one line per running container.
            Op::StatsNoStream => (Some(self.store.running_many + 1), None),
            _ => (None, None),
        };
        if let Some(id) = missing {
            bail!("{tool} {op:?} output lacks container {id}");
        }
        if let Some(expected) = expected_lines
            && lines != expected
        {
            bail!("{tool} {op:?} printed {lines} lines, expected {expected}");
        }
        Ok(())
    }

    fn exec(&self, cmd: Cmd) -> Result<Measured> {
        exec(&self.engine.command(cmd))
    }
}

/// A duration for people: `3.21 ms`, `45.6 ms`, `12.3 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms {
        _ if ms < 10.0 => format!("{ms:.2} ms"),
        _ if ms < 1000.0 => format!("{ms:.1} ms"),
        _ => format!("{:.2} s", ms / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_has_an_n() {
        let n: Vec<usize> = WORKLOADS.iter().map(|w| w.n(&Sizes::FULL)).collect();
        assert_eq!(n[..5], [0, 0, 0, 0, 200]);
        // The events rows, the image rows (run: 20 processes; 100
        // images), stdin, exec and stats (20 processes), then the network
        // rows (20 runs, 20 pairs, 200 networks).
        assert_eq!(n[n.len() - 13], 100_000);
        assert_eq!(n[n.len() - 11], 20);
        assert_eq!(n[n.len() - 9], 100);
        assert_eq!(n[n.len() - 8..], [0, 0, 0, 20, 20, 20, 20, 200]);
        assert!(
            WORKLOADS
                .iter()
                .filter(|w| w.heavy)
                .all(|w| w.n(&Sizes::FULL) >= 100)
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_micros(3210)), "3.21 ms");
        assert_eq!(human(Duration::from_micros(45_640)), "45.6 ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.34 s");
    }
}
