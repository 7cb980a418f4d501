//! `exec`: a command in a running container, its stdio relayed through
//! conmon's attach socket (`attach.rs`); the terminal sized before the
//! process starts; the detach keys (with `-i`) leave it running.

use anyhow::{Result, bail};
use oxpod_runtime::{ContainerRef, DetachKeys, Ended, ExecSpec, Runtime};

use crate::args::ExecArgs;
use crate::attach::{self, Attach};

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
    let keys = detach_keys(rt, a.detach_keys.as_deref())?;
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
        console_size: a.tty.then(attach::size).flatten(),
    };
    let signals = attach::signals(!a.detach && attach::wants_raw(a.interactive, a.tty))?;
    let session = rt.containers().exec(&r, &spec)?;
    if a.detach {
        println!("{}", session.session.id);
        return Ok(0);
    }
    let Some(socket) = session.socket() else {
        bail!("the exec session has no attach socket");
    };
    let ended = attach::relay(
        &Attach {
            socket,
            ctl: session.ctl(),
            stdin: a.interactive,
            tty: a.tty,
            keys: &keys,
        },
        &signals,
    )?;
    match ended {
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
        Ended::Stopped => Ok(attach::EXIT_SIGNALLED),
    }
}

/// `--detach-keys`, else the config's `detach_keys`.
pub fn detach_keys(rt: &Runtime, given: Option<&str>) -> Result<DetachKeys> {
    let keys = given.map_or_else(|| rt.config().detach_keys.clone(), str::to_owned);
    Ok(DetachKeys::parse(&keys)?)
}
