//! `exec`: a command in a running container, its stdio relayed through
//! conmon's attach socket; with `-t` the caller's terminal in raw mode and
//! its resizes passed on; the detach keys (with `-i`) leave it running.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use anyhow::{Result, bail};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use oxpod_runtime::{ContainerRef, ExecSpec, Runtime};
use oxpod_runtime::{DetachKeys, Ended, Flow, Relay, resize};

use crate::args::ExecArgs;
use crate::terminal::{self, RawMode};

/// Exit code when a signal ended our side (128 + SIGTERM).
const EXIT_SIGNALLED: u8 = 143;

pub fn exec(rt: &Runtime, a: &ExecArgs) -> Result<u8> {
    let (r, command) = if a.latest {
        let c = rt
            .containers()
            .list(&[])?
            .into_iter()
            .max_by_key(|c| c.config.created)
            .ok_or_else(|| anyhow::anyhow!("no containers: --latest found none"))?;
        (ContainerRef::from(&c), a.args.clone())
    } else {
        let Some((name, rest)) = a.args.split_first() else {
            bail!("give a container name or id, then the command");
        };
        (rt.containers().resolve(name)?, rest.to_vec())
    };
    let keys = a
        .detach_keys
        .clone()
        .unwrap_or_else(|| rt.config().detach_keys.clone());
    let keys = DetachKeys::parse(&keys)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let raw_wanted = a.tty && a.interactive && stdin.is_terminal() && !a.detach;
    let spec = ExecSpec {
        command,
        env: crate::parse::environment(&a.env, &a.env_file)?,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        privileged: a.privileged,
        tty: a.tty,
        stdin: a.interactive,
        detach: a.detach,
        // Sized before the process starts: `stty size` is right at once.
        console_size: a
            .tty
            .then(|| terminal::size(stdout.as_fd()).or_else(|| terminal::size(stdin.as_fd())))
            .flatten(),
    };
    // Signals are taken through a signalfd, blocked before the session
    // starts so no resize is missed; in raw mode a SIGTERM or SIGHUP ends
    // the relay (the terminal restored) instead of killing us in raw mode.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    if raw_wanted {
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGHUP);
    }
    mask.thread_block()?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;

    let session = rt.containers().exec(&r, &spec)?;
    if a.detach {
        println!("{}", session.session.id);
        return Ok(0);
    }
    let Some(socket) = session.socket() else {
        bail!("the exec session has no attach socket");
    };
    let raw = if raw_wanted {
        RawMode::enter(stdin.as_fd())
    } else {
        None
    };
    let ctl = session.ctl().to_path_buf();
    let mut on_signal = |signo: i32| {
        if signo == Signal::SIGWINCH as i32 {
            if let Some((rows, cols)) = terminal::size(std::io::stdout().as_fd())
                && let Err(e) = resize(&ctl, rows, cols)
            {
                tracing::debug!(error = %e, "resize");
            }
            Flow::Continue
        } else {
            Flow::Stop
        }
    };
    let mut out = stdout.lock();
    let mut err = std::io::stderr().lock();
    let ended = Relay {
        socket,
        stdin: a.interactive.then(|| stdin.as_fd()),
        stdout: &mut out,
        stderr: &mut err,
        detach: if a.interactive { keys.bytes() } else { &[] },
        signals: Some((&signals, &mut on_signal)),
    }
    .run();
    drop(raw);
    drop(out);
    drop(err);
    match ended? {
        Ended::Closed => {
            let code = session.wait()?;
            Ok(u8::try_from(code.rem_euclid(256)).unwrap_or(125))
        }
        Ended::Detached => {
            session.detach()?;
            Ok(0)
        }
        // Our side was asked to end: the session is an orphan now, which
        // the next command on the container ends.
        Ended::Stopped => Ok(EXIT_SIGNALLED),
    }
}
