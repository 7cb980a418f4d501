//! The signal proxy of an attached `run` (podman's `--sig-proxy`): process
//! policy of the front end, so it lives here and not in the runtime, which
//! an API server also embeds.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::Pid;

/// The signals an attached `run` forwards to its container: what a
/// terminal or a service manager sends.
const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
/// this process to the container process `pid` instead of dying of them
/// (so Ctrl-C reaches the container, and a `run --rm` still gets the exit
/// code and removes the container). Blocks them in the calling thread, so
/// call it before other threads start (children started later get a clean
/// mask from std), and starts a thread that waits for them.
pub fn proxy_signals_to(pid: u32) -> Result<()> {
    let target = i32::try_from(pid).with_context(|| format!("process id {pid} out of range"))?;
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(s);
    }
    set.thread_block()
        .context("cannot block signals for the signal proxy")?;
    std::thread::Builder::new()
        .name("sig-proxy".to_owned())
        .spawn(move || {
            loop {
                let sig = match set.wait() {
                    Ok(sig) => sig,
                    Err(e) => {
                        tracing::warn!(error = %e, "signal proxy stopped");
                        return;
                    }
                };
                tracing::debug!(?sig, pid = target, "forwarding signal to the container");
                if let Err(e) = kill(Pid::from_raw(target), sig) {
                    tracing::debug!(error = %e, "forwarding signal");
                }
            }
        })
        .context("cannot start the signal proxy thread")?;
    Ok(())
}
