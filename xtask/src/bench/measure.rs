//! Timing one process: wall time and peak resident set size.
//!
//! Peak RSS comes from `wait4`'s rusage. `getrusage(RUSAGE_CHILDREN)` reports
//! the largest `ru_maxrss` of all children a process has waited for, so it is
//! exact for one child only. Each measured command therefore runs under a
//! tiny wrapper, this binary re-executed as `xtask bench --measure -- CMD...`,
//! which has exactly one child: it starts the clock, spawns the command,
//! collects its output, waits, stops the clock and asks the kernel for the
//! child's peak RSS. The wrapper's own start-up is outside the timed region.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};

use crate::util::display;

/// First line the wrapper prints: `MAGIC <nanos> <max_rss_kib> <exit code>`.
const MAGIC: &str = "xtask-bench-measure";

/// Set on a measured command: the wrapper feeds it this many bytes of stdin.
pub const STDIN_BYTES: &str = "XTASK_BENCH_STDIN_BYTES";

/// A command that takes longer than this is killed and reported as failed.
const TIMEOUT: Duration = Duration::from_secs(600);

/// One measured process, or the sum of a batch of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Wall time from spawn to reaped exit (summed over a batch).
    pub wall: Duration,
    /// Peak resident set size in KiB (the largest of a batch).
    pub peak_rss_kib: u64,
    /// How many processes the sample covers.
    pub processes: usize,
}

impl Sample {
    /// Adds one more process of a batch to this sample.
    pub fn add(&mut self, other: Sample) {
        self.wall += other.wall;
        self.peak_rss_kib = self.peak_rss_kib.max(other.peak_rss_kib);
        self.processes += other.processes;
    }
}

/// The result of one measured process that exited successfully.
#[derive(Debug)]
pub struct Measured {
    pub sample: Sample,
    pub stdout: String,
}

/// The wrapper's side: `xtask bench --measure -- PROGRAM ARGS...`.
pub fn wrapper(argv: &[String]) -> Result<()> {
    let (program, args) = argv.split_first().context("--measure needs a command")?;
    // A stdin workload: this many bytes fed to the command, then its end.
    let feed: Option<u64> = std::env::var(STDIN_BYTES)
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context(STDIN_BYTES)?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env_remove(STDIN_BYTES)
        .stdin(if feed.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{program}`"))?;
    let feeder = match (feed, child.stdin.take()) {
        (Some(mut left), Some(mut stdin)) => Some(std::thread::spawn(move || {
            let chunk: Vec<u8> = (0..1u32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                if stdin.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n as u64;
            }
        })),
        _ => None,
    };
    let output = child.wait_with_output()?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let code = output.status.code().unwrap_or(-1);
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{MAGIC} {} {} {code}",
        wall.as_nanos(),
        usage.max_rss()
    )?;
    stdout.write_all(&output.stdout)?;
    stdout.flush()?;
    std::io::stderr().write_all(&output.stderr)?;
    Ok(())
}

/// Runs `cmd` under the wrapper and returns its measurement and stdout.
/// A non-zero exit, a timeout or a missing measurement is an error that
/// quotes the command and the end of its stderr.
pub fn exec(cmd: &Command) -> Result<Measured> {
    let shown = display(cmd);
    let mut wrapper = Command::new(std::env::current_exe()?);
    wrapper
        .args(["bench", "--measure", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapper.env(key, v),
            None => wrapper.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapper.current_dir(dir);
    }
    // Its own process group, so a hung command can be killed with its children.
    std::os::unix::process::CommandExt::process_group(&mut wrapper, 0);
    let mut child = wrapper
        .spawn()
        .with_context(|| format!("cannot start the measuring wrapper for `{shown}`"))?;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = wait_with_timeout(&mut child, &shown)?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    parse(&shown, status, &stdout, &stderr)
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for the wrapper; the measurement is taken inside it, so polling
/// here costs no precision.
fn wait_with_timeout(child: &mut std::process::Child, shown: &str) -> Result<ExitStatus> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            // The wrapper leads its own group: kill the group, then reap it.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            bail!("`{shown}` took more than {}s; killed", TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn parse(shown: &str, status: ExitStatus, stdout: &str, stderr: &str) -> Result<Measured> {
    let (header, rest) = stdout.split_once('\n').unwrap_or((stdout, ""));
    let fields: Vec<&str> = header.split_whitespace().collect();
    let [MAGIC, nanos, rss, code] = fields[..] else {
        bail!(
            "`{shown}` was not measured (wrapper {status}): {}",
            tail(stderr)
        );
    };
    if code != "0" {
        bail!("`{shown}` failed with exit code {code}: {}", tail(stderr));
    }
    let sample = Sample {
        wall: Duration::from_nanos(nanos.parse()?),
        peak_rss_kib: rss.parse()?,
        processes: 1,
    };
    Ok(Measured {
        sample,
        stdout: rest.to_owned(),
    })
}

/// The last few lines of a command's stderr, for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let start = lines.len().saturating_sub(4);
    let text = lines[start..].join(" | ");
    if text.is_empty() {
        "no stderr".into()
    } else {
        text
    }
}

/// Median, minimum and maximum of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub peak_rss_kib: u64,
}

impl Stats {
    /// `None` for no samples.
    pub fn of(samples: &[Sample]) -> Option<Stats> {
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort();
        let n = walls.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => walls[n / 2],
            _ => (walls[n / 2 - 1] + walls[n / 2]) / 2,
        };
        Some(Stats {
            median,
            min: walls[0],
            max: walls[n - 1],
            peak_rss_kib: samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Sample {
        Sample {
            wall: Duration::from_millis(v),
            peak_rss_kib: v,
            processes: 1,
        }
    }

    #[test]
    fn stats_of_odd_and_even_counts() {
        let s = Stats::of(&[ms(5), ms(1), ms(3)]).unwrap();
        assert_eq!(s.median, Duration::from_millis(3));
        assert_eq!((s.min, s.max), (ms(1).wall, ms(5).wall));
        assert_eq!(s.peak_rss_kib, 5);
        let s = Stats::of(&[ms(4), ms(1), ms(2), ms(8)]).unwrap();
        assert_eq!(s.median, Duration::from_millis(3));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn parse_reads_the_header_and_keeps_stdout() {
        let ok = std::process::Command::new("true").status().unwrap();
        let m = parse("x", ok, &format!("{MAGIC} 1500000 2048 0\nabc\n"), "").unwrap();
        assert_eq!(m.sample.wall, Duration::from_micros(1500));
        assert_eq!(m.sample.peak_rss_kib, 2048);
        assert_eq!(m.stdout, "abc\n");
        let err = parse("x", ok, &format!("{MAGIC} 1 2 125\n"), "boom\n").unwrap_err();
        assert!(err.to_string().contains("125") && err.to_string().contains("boom"));
        assert!(parse("x", ok, "garbage", "").is_err());
    }
}
