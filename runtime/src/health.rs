//! Health checks (`--health-cmd` and friends, `healthcheck run`), podman's
//! rules: the command runs as an exec session; exit 0 is healthy and
//! resets the failing streak; a failure outside the start period adds to
//! it, and `retries` in a row make the container unhealthy; the last five
//! results are kept (their output cut at 500 bytes) and shown by inspect.
//!
//! Better than podman 4.3: the timeout is enforced (podman only notices a
//! check that ran too long once it ended, so a hung check hangs
//! `healthcheck run`): past it the check's process is killed. Checks run
//! when asked (`healthcheck run`); there is no daemon, and a timer is not
//! set up (systemd is not PID 1 on the hosts oxpod is tested on).

use std::time::{Duration, Instant};

use jiff::Timestamp;
use oxpod_events::EventStatus;
use oxpod_state::{ContainerStatus, HealthConfig, HealthLog, HealthState};
use tracing::debug;

use crate::{ContainerRef, Containers, Error, ExecSpec, Result, container_event};

/// Results kept (podman's `MaxHealthCheckNumberLogs`).
const KEEP: usize = 5;
/// Output kept per result, in bytes (podman's `MaxHealthCheckLogLength`).
const OUTPUT_MAX: usize = 500;

/// `--health-cmd` as podman reads it: `NONE` disables, a JSON array is the
/// test as given (`["CMD", ...]`, `["CMD-SHELL", "..."]`), anything else a
/// shell command.
pub fn parse_health_cmd(cmd: &str) -> Result<Vec<String>> {
    let t = cmd.trim();
    if t.is_empty() {
        return Err(Error::InvalidArgument {
            what: "--health-cmd".to_owned(),
            reason: "must not be empty".to_owned(),
        });
    }
    if t == "NONE" {
        return Ok(vec!["NONE".to_owned()]);
    }
    if t.starts_with('[') {
        let v: Vec<String> = serde_json::from_str(t).map_err(|e| Error::InvalidArgument {
            what: format!("--health-cmd {cmd:?}"),
            reason: format!("not a JSON array of strings: {e}"),
        })?;
        if v.is_empty() {
            return Err(Error::InvalidArgument {
                what: "--health-cmd".to_owned(),
                reason: "an empty array".to_owned(),
            });
        }
        return Ok(v);
    }
    Ok(vec!["CMD-SHELL".to_owned(), t.to_owned()])
}

/// A Go duration (`30s`, `1m30s`, `500ms`, `1.5h`), as podman's flags take
/// them; a bare `0` is zero.
pub fn parse_go_duration(flag: &str, text: &str) -> Result<Duration> {
    let bad = || Error::InvalidArgument {
        what: format!("{flag} {text:?}"),
        reason: "not a duration such as 30s, 1m30s or 500ms".to_owned(),
    };
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * nanos;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e18 {
        return Err(bad());
    }
    // Whole nanoseconds: the fraction below one is dropped.
    Ok(Duration::from_nanos(total as u64))
}

/// The process a test runs, or `None` when the test is none.
fn command_of(test: &[String]) -> Option<Vec<String>> {
    let out = match test.first().map(String::as_str) {
        None | Some("" | "NONE") => return None,
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".to_owned(), "-c".to_owned(), test[1..].join(" ")],
        Some(_) => test.to_vec(),
    };
    (!out.is_empty() && !out[0].is_empty()).then_some(out)
}

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthOutcome {
    /// The check passed.
    pub passed: bool,
    /// The container's health after it: `healthy`, `unhealthy`, or
    /// `starting`.
    pub status: String,
}

/// Folds one result into the health, podman's way.
pub(crate) fn apply(
    health: &mut HealthState,
    config: &HealthConfig,
    result: HealthLog,
    in_start_period: bool,
) {
    if result.exit_code == 0 {
        health.status = "healthy".to_owned();
        health.failing_streak = 0;
    } else {
        if health.status.is_empty() {
            health.status = "healthy".to_owned();
        }
        if !in_start_period {
            health.failing_streak += 1;
            if health.failing_streak >= config.retries.max(1) {
                health.status = "unhealthy".to_owned();
            }
        }
    }
    health.log.push(result);
    if health.log.len() > KEEP {
        let extra = health.log.len() - KEEP;
        health.log.drain(..extra);
    }
}

impl Containers<'_> {
    /// Runs the container's health check once (`healthcheck run`).
    pub fn healthcheck(&self, r: &ContainerRef) -> Result<HealthOutcome> {
        let rt = self.rt;
        rt.check_valid()?;
        let ctr = self.get(r)?;
        let Some(config) = ctr.config.healthcheck.clone() else {
            return Err(Error::InvalidArgument {
                what: format!("container {}", ctr.config.name),
                reason: "has no defined healthcheck".to_owned(),
            });
        };
        let Some(command) = command_of(&config.test) else {
            return Err(Error::InvalidArgument {
                what: format!("container {}", ctr.config.name),
                reason: "has no defined healthcheck".to_owned(),
            });
        };
        if ctr.state.status != ContainerStatus::Running {
            return Err(Error::ContainerState {
                name: ctr.config.name.clone(),
                status: ctr.state.status.podman_word().to_owned(),
                remedy: "a health check runs in a running container; start it first",
            });
        }
        let start = Timestamp::now();
        let began = Instant::now();
        let (exit_code, output) = self.run_check(r, command, config.timeout())?;
        let end = Timestamp::now();
        let in_start_period = !config.start_period().is_zero()
            && ctr.state.started_at.is_some_and(|s| {
                jiff::SignedDuration::try_from(config.start_period())
                    .ok()
                    .and_then(|d| s.checked_add(d).ok())
                    .is_some_and(|until| start < until)
            });
        debug!(id = %r.id, took = ?began.elapsed(), exit_code, "health check ran");
        let mut out = output;
        if out.len() > OUTPUT_MAX {
            let mut cut = OUTPUT_MAX;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
        let result = HealthLog {
            start,
            end,
            exit_code,
            output: out,
        };
        let (mut ctr, _guard) = self.lock(r)?;
        let mut health = ctr.state.health.take().unwrap_or_default();
        let before = health.status.clone();
        apply(&mut health, &config, result, in_start_period);
        let status = health.status.clone();
        ctr.state.health = Some(health);
        rt.state()
            .update_container_state(&ctr.config.id, &ctr.state)?;
        if status != before {
            rt.emit(
                container_event(EventStatus::HealthStatus, &ctr.config)
                    .with_attribute("health_status", status.clone()),
            );
        }
        Ok(HealthOutcome {
            passed: exit_code == 0,
            status,
        })
    }

    /// Runs the check's command as an exec session and collects its output;
    /// past `timeout` its process is killed and the exit is -1 (podman's).
    fn run_check(
        &self,
        r: &ContainerRef,
        command: Vec<String>,
        timeout: Duration,
    ) -> Result<(i32, String)> {
        let exec = self.exec(
            r,
            &ExecSpec {
                command,
                ..ExecSpec::default()
            },
        )?;
        let pid = exec.session.pid;
        let mut output = Vec::new();
        let timed_out = std::sync::atomic::AtomicBool::new(false);
        let done = std::sync::atomic::AtomicBool::new(false);
        let relayed = std::thread::scope(|s| {
            s.spawn(|| {
                let deadline = Instant::now() + timeout;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    if Instant::now() >= deadline {
                        timed_out.store(true, std::sync::atomic::Ordering::Release);
                        if pid > 0 {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid),
                                nix::sys::signal::Signal::SIGKILL,
                            );
                        }
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let result = match exec.socket() {
                Some(socket) => {
                    let mut err = Vec::new();
                    let r = oxpod_ociruntime::Relay {
                        socket,
                        stdin: None,
                        stdout: &mut output,
                        stderr: &mut err,
                        detach: &[],
                        signals: None,
                    }
                    .run();
                    output.extend(err);
                    r.map(drop).map_err(Error::from)
                }
                None => Ok(()),
            };
            done.store(true, std::sync::atomic::Ordering::Release);
            result
        });
        let code = exec.wait();
        relayed?;
        let code = code?;
        let text = String::from_utf8_lossy(&output).trim_end().to_owned();
        if timed_out.load(std::sync::atomic::Ordering::Acquire) {
            debug!(id = %r.id, ?timeout, "health check timed out");
            return Ok((
                -1,
                format!("healthcheck command exceeded timeout of {timeout:?}"),
            ));
        }
        Ok((code, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(code: i32) -> HealthLog {
        HealthLog {
            start: Timestamp::UNIX_EPOCH,
            end: Timestamp::UNIX_EPOCH,
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn results_fold_as_podmans() {
        let config = HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            retries: 2,
            ..HealthConfig::default()
        };
        let mut h = HealthState::default();
        apply(&mut h, &config, log(1), false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 1));
        apply(&mut h, &config, log(1), true);
        assert_eq!(h.failing_streak, 1, "the start period does not count");
        apply(&mut h, &config, log(1), false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        apply(&mut h, &config, log(0), false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            apply(&mut h, &config, log(0), false);
        }
        assert_eq!(h.log.len(), KEEP);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(
            parse_go_duration("x", "30s").unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            parse_go_duration("x", "1m30s").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_go_duration("x", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_go_duration("x", "1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_go_duration("x", "0").unwrap(), Duration::ZERO);
        for bad in ["", "30", "s", "3x", "-1s", "1e9h"] {
            assert!(parse_go_duration("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_parse_as_podmans() {
        assert_eq!(parse_health_cmd("ls /").unwrap(), ["CMD-SHELL", "ls /"]);
        assert_eq!(
            parse_health_cmd(r#"["CMD","ls","/"]"#).unwrap(),
            ["CMD", "ls", "/"]
        );
        assert_eq!(parse_health_cmd("NONE").unwrap(), ["NONE"]);
        assert!(parse_health_cmd("").is_err());
        assert!(parse_health_cmd("[1]").is_err());
        assert_eq!(
            command_of(&["CMD-SHELL".into(), "a b".into()]).unwrap(),
            ["/bin/sh", "-c", "a b"]
        );
        assert_eq!(command_of(&["NONE".into()]), None);
        assert_eq!(command_of(&["x".into(), "y".into()]).unwrap(), ["x", "y"]);
    }
}
