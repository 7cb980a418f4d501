//! One function per command. Each opens the runtime it needs, does its
//! work, prints, and returns the process exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::ops::ControlFlow;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use oxpod_runtime::events::Event;
use oxpod_runtime::{
    Container, ContainerFilter, ContainerRef, ContainerStatus, CopyEnd, LogStream, LogsOptions,
    NewContainer, NewPod, PodRef, ReadOptions, Runtime, parse_signal,
};
use serde_json::Value;

use crate::args::*;
use crate::output::{Format, print_json, print_table, print_template, print_yaml};
use crate::parse::{container_filters, key_values};
use crate::{open, views};

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<u8> {
    // Buffered: a listing of thousands of rows is a few writes, not one per
    // line (stdout alone flushes every newline). Commands that stream
    // (events, logs -f, attached run) flush as they go.
    let out = &mut std::io::BufWriter::new(std::io::stdout().lock());
    let code = dispatch(cli, out)?;
    out.flush()?;
    Ok(code)
}

fn dispatch(cli: &Cli, out: &mut impl Write) -> Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Version(a) => version(out, a),
        Command::Info(a) => info(out, &open(g, |o| o)?, a),
        Command::Inspect(a) => inspect(out, &open(g, |o| o)?, a),
        Command::Verb(v) | Command::Container(ContainerCommand::Verb(v)) => verb(out, g, v),
        Command::Container(ContainerCommand::Inspect(a)) => {
            let mut a = a.clone();
            a.kind = "container".to_owned();
            inspect(out, &open(g, |o| o)?, &a)
        }
        Command::Container(ContainerCommand::Exists(a)) => {
            let rt = open(g, |o| o)?;
            match rt.containers().resolve(&a.name) {
                Ok(_) => Ok(0),
                Err(e) if e.is_not_found() || is_pod_error(&e) => Ok(1),
                Err(e) => Err(e.into()),
            }
        }
        Command::Container(ContainerCommand::Prune(a)) => {
            let rt = open(g, |o| o)?;
            let mut filters = Vec::new();
            for f in &a.filters {
                filters.extend(container_filters(f, &created_of(&rt))?);
            }
            for (id, _) in rt.containers().prune(&filters)? {
                writeln!(out, "{id}")?;
            }
            Ok(0)
        }
        Command::Images(a) | Command::Image(ImageCommand::Images(a)) => {
            crate::images::list(out, &open(g, |o| o)?, a)
        }
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => {
            crate::images::load(out, &open(g, |o| o)?, a)
        }
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            let rt = open(g, |o| o)?;
            let credentials = creds_arg(a.creds.as_deref());
            if !a.quiet {
                eprintln!("Trying to pull {}...", a.image);
            }
            if a.platform.is_some() && (a.arch.is_some() || a.os.is_some()) {
                bail!("--platform option can not be specified with --arch or --os");
            }
            let options = oxpod_runtime::PullOptions {
                tls_verify: a.tls_verify,
                platform: a.platform.clone(),
                os: a.os.clone(),
                arch: a.arch.clone(),
                variant: a.variant.clone(),
                credentials,
                auth_file: a.authfile.clone(),
                progress: if a.quiet {
                    None
                } else {
                    crate::images::pull_progress()
                },
            };
            if a.all_tags {
                for pulled in rt.images().pull_all_tags(&a.image, &options)? {
                    writeln!(out, "{}", pulled.id)?;
                }
                return Ok(0);
            }
            let pulled = rt.images().pull(&a.image, &options)?;
            writeln!(out, "{}", pulled.id)?;
            Ok(0)
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            let rt = open(g, |o| o)?;
            let destination = a
                .destination
                .as_deref()
                .map(|d| d.strip_prefix("docker://").unwrap_or(d));
            let (sent, digest) = rt.images().push(
                &a.image,
                destination,
                &oxpod_runtime::PushOptions {
                    tls_verify: a.tls_verify,
                    credentials: creds_arg(a.creds.as_deref()),
                    auth_file: a.authfile.clone(),
                    format: a.format.clone(),
                },
            )?;
            if !a.quiet {
                eprintln!("Copied {sent} blobs the registry lacked; wrote manifest {digest}");
            }
            if let Some(f) = &a.digestfile {
                std::fs::write(f, &digest)?;
            }
            Ok(0)
        }
        Command::Search(a) => {
            let rt = open(g, |o| o)?;
            let found = rt.images().search(&a.term, a.limit, a.tls_verify)?;
            let docs: Vec<Value> = found
                .iter()
                .map(|n| serde_json::json!({"Index": n.split('/').next().unwrap_or_default(), "Name": n, "Description": "", "Stars": 0, "Official": "", "Automated": ""}))
                .collect();
            match crate::output::Format::parse_list(a.format.as_deref())? {
                crate::output::Format::Json => crate::output::print_json(out, &docs)?,
                crate::output::Format::Template(t) => {
                    for d in &docs {
                        writeln!(out, "{}", t.render(d)?)?;
                    }
                }
                crate::output::Format::Default => {
                    let mut rows = vec![vec!["NAME".to_owned(), "DESCRIPTION".to_owned()]];
                    rows.extend(found.iter().map(|n| vec![n.clone(), String::new()]));
                    crate::output::print_table(out, &rows)?;
                }
            }
            Ok(0)
        }
        Command::Login(a) => {
            let rt = open(g, |o| o)?;
            let username = match &a.username {
                Some(u) => u.clone(),
                None => bail!("give --username (oxpod does not prompt)"),
            };
            let password = match (&a.password, a.password_stdin) {
                (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
                (Some(p), false) => p.clone(),
                (None, true) => {
                    let mut p = String::new();
                    std::io::stdin().read_line(&mut p)?;
                    p.trim_end_matches(['\n', '\r']).to_owned()
                }
                (None, false) => bail!("give --password-stdin (or --password)"),
            };
            rt.images().login(
                &a.registry,
                &oxpod_runtime::image::Credentials { username, password },
                a.tls_verify,
                a.authfile.as_deref(),
            )?;
            writeln!(out, "Login Succeeded!")?;
            Ok(0)
        }
        Command::Logout(a) => {
            let rt = open(g, |o| o)?;
            let registry = match (&a.registry, a.all) {
                (Some(_), true) => bail!("--all takes no registry"),
                (None, false) => bail!("give a registry, or --all"),
                (r, _) => r.as_deref(),
            };
            let had = rt.images().logout(registry, a.authfile.as_deref())?;
            match registry {
                None => writeln!(out, "Removed login credentials for all registries")?,
                Some(r) if had => writeln!(out, "Removed login credentials for {r}")?,
                Some(r) => bail!("not logged into {r}"),
            }
            Ok(0)
        }
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => {
            crate::images::save(out, &open(g, |o| o)?, a)
        }
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => {
            crate::images::rmi(out, &open(g, |o| o)?, a)
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => {
            let rt = open(g, |o| o)?;
            let image = rt.images().resolve(&a.image)?;
            for n in &a.names {
                rt.images().tag(&image, n)?;
            }
            Ok(0)
        }
        Command::Untag(a) | Command::Image(ImageCommand::Untag(a)) => {
            let rt = open(g, |o| o)?;
            let image = rt.images().resolve(&a.image)?;
            if a.names.is_empty() {
                rt.images().untag(&image, None)?;
            }
            for n in &a.names {
                rt.images().untag(&image, Some(n))?;
            }
            Ok(0)
        }
        Command::Image(ImageCommand::Inspect(a)) => {
            crate::images::inspect(out, &open(g, |o| o)?, &a.images, a.format.as_deref())
        }
        Command::Image(ImageCommand::Exists(a)) => {
            let rt = open(g, |o| o)?;
            match rt.images().resolve(&a.image) {
                Ok(_) => Ok(0),
                Err(e) if e.is_image_not_found() => Ok(1),
                Err(e) => Err(e.into()),
            }
        }
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            crate::images::history(out, &open(g, |o| o)?, a)
        }
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            crate::images::import(out, &open(g, |o| o)?, a)
        }
        Command::Commit(a) => {
            let rt = open(g, |o| o)?;
            let r = rt.containers().resolve(&a.container)?;
            let image = rt.images().commit(&r, a.name.as_deref())?;
            writeln!(out, "{}", image.id)?;
            let _ = a.quiet;
            Ok(0)
        }
        Command::Export(a) => crate::images::export(out, &open(g, |o| o)?, a),
        Command::Image(ImageCommand::Prune(a)) => {
            crate::images::prune(out, &open(g, |o| o)?, a.all)
        }
        Command::Pod(p) => pod(out, g, p),
        Command::Volume(v) => crate::volumes::volume(out, &open(g, |o| o)?, v),
        Command::Network(n) => crate::networks::network(out, &open(g, |o| o)?, n),
        Command::Port(a) => crate::networks::port(out, &open(g, |o| o)?, a),
        Command::Healthcheck(crate::args::HealthcheckCommand::Run(a)) => {
            let rt = open(g, |o| o)?;
            let r = rt.containers().resolve(&a.name)?;
            let outcome = rt.containers().healthcheck(&r)?;
            // podman's: silent when healthy, "unhealthy" and 1 when not.
            if outcome.passed {
                Ok(0)
            } else {
                writeln!(out, "unhealthy")?;
                Ok(1)
            }
        }
        Command::Events(a) => events(out, &open(g, |o| o)?, a),
        Command::System(s) => system(out, g, s),
        Command::Container(ContainerCommand::Cleanup { id }) => {
            // conmon runs this after the container exits; by then its
            // store may be gone (reset, a removed test dir): then there is
            // nothing to clean, and nothing may be created.
            match open(g, |o| o.existing_only(true)) {
                Ok(rt) => rt.containers().cleanup(id)?,
                Err(e) if is_not_initialised(&e) => {
                    tracing::debug!(id, error = %e, "nothing to clean up");
                }
                Err(e) => return Err(e),
            }
            Ok(0)
        }
    }
}

/// The container commands, at the top level or under `container`.
fn verb(out: &mut impl Write, g: &Global, v: &ContainerVerb) -> Result<u8> {
    match v {
        ContainerVerb::Create(a) => {
            let rt = open(g, |o| o)?;
            let new = new_container(&rt, a, false)?;
            replace_named(&rt, a)?;
            let c = rt.containers().create(new)?;
            writeln!(out, "{}", c.config.id)?;
            Ok(0)
        }
        ContainerVerb::Run(a) => run_container(out, &open(g, |o| o)?, a),
        ContainerVerb::Ps(a) => ps(out, &open(g, |o| o)?, a),
        ContainerVerb::Rm(a) => rm(out, &open(g, |o| o)?, a),
        ContainerVerb::Start(a) => start(out, &open(g, |o| o)?, a),
        ContainerVerb::Stop(a) => {
            let rt = open(g, |o| o)?;
            let names = names_or_all(
                &rt,
                &a.names,
                a.all,
                &[ContainerStatus::Running, ContainerStatus::Paused],
            )?;
            each_container(out, &rt, &names, |c, r| c.stop(r, a.time).map(drop))
        }
        ContainerVerb::Kill(a) => {
            let sig = parse_signal(&a.signal).map_err(oxpod_runtime::Error::from)?;
            let rt = open(g, |o| o)?;
            let names = names_or_all(
                &rt,
                &a.names,
                a.all,
                &[ContainerStatus::Running, ContainerStatus::Paused],
            )?;
            each_container(out, &rt, &names, |c, r| c.kill(r, sig).map(drop))
        }
        ContainerVerb::Wait(a) => wait(out, &open(g, |o| o)?, a),
        ContainerVerb::Pause(a) => {
            let rt = open(g, |o| o)?;
            let names = names_or_all(&rt, &a.names, a.all, &[ContainerStatus::Running])?;
            each_container(out, &rt, &names, |c, r| c.pause(r).map(drop))
        }
        ContainerVerb::Unpause(a) => {
            let rt = open(g, |o| o)?;
            let names = names_or_all(&rt, &a.names, a.all, &[ContainerStatus::Paused])?;
            each_container(out, &rt, &names, |c, r| c.unpause(r).map(drop))
        }
        ContainerVerb::Restart(a) => {
            let rt = open(g, |o| o)?;
            let names = names_or_all(&rt, &a.names, a.all, &[])?;
            each_container(out, &rt, &names, |c, r| c.restart(r, a.time).map(drop))
        }
        ContainerVerb::Logs(a) => logs(out, &open(g, |o| o)?, a),
        ContainerVerb::Top(a) => crate::top::top(out, &open(g, |o| o)?, a),
        ContainerVerb::Exec(a) => crate::exec::exec(&open(g, |o| o)?, a),
        ContainerVerb::Attach(a) => {
            let rt = open(g, |o| o)?;
            let r = if a.latest {
                let c = rt
                    .containers()
                    .list(&[])?
                    .into_iter()
                    .max_by_key(|c| c.config.created)
                    .ok_or_else(|| anyhow::anyhow!("no containers: --latest found none"))?;
                ContainerRef::from(&c)
            } else {
                let Some(name) = &a.name else {
                    bail!("give a container name or id, or --latest");
                };
                rt.containers().resolve(name)?
            };
            attach_to(
                &rt,
                &r,
                false,
                a.no_stdin,
                a.sig_proxy,
                a.detach_keys.as_deref(),
            )
        }
        ContainerVerb::Stats(a) => crate::top::stats(out, &open(g, |o| o)?, a),
        ContainerVerb::Cp(a) => cp(out, &open(g, |o| o)?, a),
        ContainerVerb::Update(a) => {
            let rt = open(g, |o| o)?;
            let r = rt.containers().resolve(&a.container)?;
            let changed = rt.containers().update(&r, &resources(&a.limits)?)?;
            writeln!(out, "{}", changed.config.id)?;
            Ok(0)
        }
        ContainerVerb::Rename(a) => {
            let rt = open(g, |o| o)?;
            let r = rt.containers().resolve(&a.container)?;
            rt.containers().rename(&r, &a.name)?;
            Ok(0)
        }
    }
}

/// One side of `cp` as typed: `-`, `CTR:PATH`, or a host path (one that
/// starts with `/` or `.` is the host's even with a colon, as podman reads
/// it).
enum CpArg<'a> {
    Stream,
    Container(&'a str, &'a str),
    Host(&'a str),
}

fn cp_arg(s: &str) -> CpArg<'_> {
    if s == "-" {
        return CpArg::Stream;
    }
    if s.starts_with('/') || s.starts_with('.') {
        return CpArg::Host(s);
    }
    match s.split_once(':') {
        Some((c, p)) if !c.is_empty() => CpArg::Container(c, p),
        _ => CpArg::Host(s),
    }
}

fn cp(out: &mut impl Write, rt: &Runtime, a: &crate::args::CpArgs) -> Result<u8> {
    if !a.archive {
        bail!(
            "cp --archive=false is not supported: what is copied is owned by the destination's user"
        );
    }
    if a.overwrite {
        bail!("cp --overwrite is not supported yet");
    }
    let ctrs = rt.containers();
    let end = |arg: CpArg<'_>| -> Result<CopyEnd> {
        Ok(match arg {
            CpArg::Container(c, p) => CopyEnd::Container(ctrs.resolve(c)?, p.to_owned()),
            CpArg::Host(p) => CopyEnd::Host(std::path::PathBuf::from(p)),
            CpArg::Stream => bail!("cp: - must be the only stream"),
        })
    };
    match (cp_arg(&a.src), cp_arg(&a.dst)) {
        (CpArg::Stream, CpArg::Stream) => bail!("cp: source and destination cannot both be -"),
        (CpArg::Stream, CpArg::Container(c, p)) => {
            ctrs.copy_in(&ctrs.resolve(c)?, p, std::io::stdin().lock())?;
        }
        (CpArg::Container(c, p), CpArg::Stream) => {
            ctrs.copy_out(&ctrs.resolve(c)?, p, &mut *out)?;
        }
        (CpArg::Stream, _) | (_, CpArg::Stream) => {
            bail!("cp: - is a tar stream to or from a container; the other side must be CTR:PATH")
        }
        (CpArg::Host(_), CpArg::Host(_)) => {
            bail!("cp: one of source and destination must be a container (CTR:PATH)")
        }
        (s, d) => ctrs.copy(&end(s)?, &end(d)?)?,
    }
    Ok(0)
}

fn is_not_initialised(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<oxpod_runtime::Error>(),
        Some(oxpod_runtime::Error::NotInitialised { .. })
    )
}

fn version(out: &mut impl Write, a: &FormatArg) -> Result<u8> {
    let client = oxpod_runtime::Version::current();
    match Format::parse(a.format.as_deref())? {
        Format::Default => {
            writeln!(out, "Client:       oxpod")?;
            writeln!(out, "Version:      {}", client.version)?;
            writeln!(out, "API Version:  {}", client.api_version)?;
            writeln!(out, "Rust Version: {}", client.go_version)?;
            if !client.git_commit.is_empty() {
                writeln!(out, "Git Commit:   {}", client.git_commit)?;
            }
            writeln!(out, "OS/Arch:      {}", client.os_arch)?;
        }
        // podman prints this one on a single line.
        Format::Json => writeln!(out, "{}", serde_json::json!({ "Client": client }))?,
        // There is no server: the local engine answers for both, as
        // podman's `{{.Server.Version}}` does without a remote.
        Format::Template(t) => {
            let v = serde_json::json!({ "Client": client, "Server": client });
            print_template(out, &t, &[v], &Value::Null)?
        }
    }
    Ok(0)
}

fn info(out: &mut impl Write, rt: &Runtime, a: &InfoArgs) -> Result<u8> {
    let value = serde_json::to_value(rt.system().info()?)?;
    match Format::parse(a.format.as_deref())? {
        Format::Default => print_yaml(out, &value)?,
        Format::Json => print_json(out, &value)?,
        Format::Template(t) => {
            print_template(out, &t, &[crate::template::go_names(&value)], &Value::Null)?
        }
    }
    Ok(0)
}

fn new_container(rt: &Runtime, a: &CreateArgs, auto_remove: bool) -> Result<NewContainer> {
    let labels = crate::parse::labels(&a.labels, &a.label_file)?;
    let security = security_opts(&a.security_opt)?;
    // With --rootfs every argument is the command; else the first names
    // the image.
    let (image, command) = match &a.rootfs {
        Some(_) => (None, a.command.clone()),
        None => match a.command.split_first() {
            Some((image, rest)) => (Some(image.clone()), rest.to_vec()),
            None => bail!("give an image (or --rootfs DIR) and a command"),
        },
    };
    if let Some(name) = &image {
        pull_for_create(rt, name, a)?;
    }
    let entrypoint = a.entrypoint.as_deref().map(|e| {
        if e.is_empty() {
            Vec::new()
        } else if e.trim_start().starts_with('[') {
            // podman takes a JSON array too.
            serde_json::from_str::<Vec<String>>(e).unwrap_or_else(|_| vec![e.to_owned()])
        } else {
            vec![e.to_owned()]
        }
    });
    Ok(NewContainer {
        // `--name ''` asks for a generated name, as in podman.
        name: a.name.clone().filter(|n| !n.is_empty()),
        pod: a.pod.as_deref().map(|p| rt.pods().resolve(p)).transpose()?,
        rootfs: a.rootfs.clone().unwrap_or_default(),
        image,
        entrypoint,
        user: a.user.clone(),
        command,
        env: crate::parse::environment(&a.env, &a.env_file)?,
        hostname: a.hostname.clone(),
        labels,
        working_dir: a.workdir.clone(),
        auto_remove,
        stop_signal: a
            .stop_signal
            .as_deref()
            .map(|sig| {
                parse_signal(sig)
                    .map(|n| n.unsigned_abs())
                    .map_err(oxpod_runtime::Error::from)
            })
            .transpose()?,
        stop_timeout: a.stop_timeout,
        terminal: a.tty,
        interactive: a.interactive,
        mounts: a
            .volumes
            .iter()
            .map(|v| oxpod_runtime::parse_volume(v))
            .chain(a.mounts.iter().map(|m| oxpod_runtime::parse_mount(m)))
            .chain(a.tmpfs.iter().map(|t| oxpod_runtime::parse_tmpfs(t)))
            .collect::<std::result::Result<_, _>>()?,
        image_volume: a.image_volume.parse()?,
        read_only: a.read_only,
        no_read_only_tmpfs: !a.read_only_tmpfs,
        add_hosts: a.add_hosts.clone(),
        dns_servers: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_options.clone(),
        resources: oxpod_runtime::Resources {
            oom_kill_disable: a.oom_kill_disable,
            ..resources(&a.limits)?
        },
        cap_add: split_list(&a.cap_add),
        cap_drop: split_list(&a.cap_drop),
        no_new_privileges: security.no_new_privileges,
        privileged: a.privileged,
        seccomp: security.seccomp,
        mask: security.mask,
        unmask: security.unmask,
        devices: a.device.clone(),
        pid: a.pid.clone(),
        ipc: a.ipc.clone(),
        uts: a.uts.clone(),
        cgroupns: a.cgroupns.clone(),
        group_add: split_list(&a.group_add),
        restart: a.restart.clone(),
        cgroup_parent: a.cgroup_parent.clone().unwrap_or_default(),
        healthcheck: healthcheck(a)?,
        userns: a.userns.clone(),
        network: network_request(&a.net, a.publish_all),
        infra: false,
        ulimits: a.ulimit.clone(),
        init: a.init,
        sysctls: a
            .sysctl
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| anyhow::anyhow!("--sysctl {kv:?}: expected KEY=VALUE"))
            })
            .collect::<Result<_>>()?,
        oom_score_adj: a.oom_score_adj,
        shm_size: a
            .shm_size
            .as_deref()
            .map(|v| oxpod_runtime::parse_size("--shm-size", v).map(i64::unsigned_abs))
            .transpose()?,
    })
}

/// The network flags as the runtime takes them.
fn network_request(
    a: &crate::args::NetworkArgs,
    publish_all: bool,
) -> oxpod_runtime::NetworkRequest {
    oxpod_runtime::NetworkRequest {
        mode: a.network.clone(),
        aliases: a.network_aliases.clone(),
        ip: a.ip.clone(),
        mac: a.mac_address.clone(),
        publish: a.publish.clone(),
        publish_all,
    }
}

/// `--cap-add a,b` as podman takes it: commas separate names too.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `--creds USER[:PASSWORD]`.
fn creds_arg(creds: Option<&str>) -> Option<oxpod_runtime::image::Credentials> {
    creds.map(|c| {
        let (u, p) = c.split_once(':').unwrap_or((c, ""));
        oxpod_runtime::image::Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        }
    })
}

/// `--pull` before a create from an image: `missing` (the default) pulls
/// an image the store lacks, `always` and `newer` pull every time (newer
/// is always here: no registry date is compared yet), `never` uses the
/// store's only.
fn pull_for_create(rt: &Runtime, name: &str, a: &CreateArgs) -> Result<()> {
    let local = match rt.images().resolve(name) {
        Ok(_) => true,
        Err(e) if e.is_image_not_found() => false,
        Err(e) => return Err(e.into()),
    };
    let pull = match a.pull.as_str() {
        "missing" => !local,
        "always" | "newer" => true,
        "never" => false,
        other => bail!("invalid --pull {other:?}: use always, missing, never or newer"),
    };
    if pull {
        eprintln!("Trying to pull {name}...");
        rt.images().pull(
            name,
            &oxpod_runtime::PullOptions {
                tls_verify: a.tls_verify,
                progress: crate::images::pull_progress(),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// `--health-*` as the record's health check (none without
/// `--health-cmd`, or with `--no-healthcheck`).
fn healthcheck(a: &CreateArgs) -> Result<Option<oxpod_runtime::HealthConfig>> {
    let Some(cmd) = a.health_cmd.as_deref().filter(|_| !a.no_healthcheck) else {
        return Ok(None);
    };
    let ns = |flag: &str, v: &str| -> Result<u64> {
        let d = oxpod_runtime::parse_go_duration(flag, v)?;
        Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    };
    let interval = ns("--health-interval", &a.health_interval)?;
    let timeout = ns("--health-timeout", &a.health_timeout)?;
    if timeout == 0 {
        bail!("healthcheck-timeout must be at least 1 second");
    }
    Ok(Some(oxpod_runtime::HealthConfig {
        test: oxpod_runtime::parse_health_cmd(cmd)?,
        interval_ns: interval,
        timeout_ns: timeout,
        start_period_ns: ns("--health-start-period", &a.health_start_period)?,
        retries: a.health_retries,
    }))
}

/// What `--security-opt` asked for.
#[derive(Default)]
struct SecurityOpts {
    no_new_privileges: bool,
    seccomp: Option<String>,
    mask: Vec<String>,
    unmask: Vec<String>,
}

/// `--security-opt` (`=` or podman's old `:` after the key):
/// `no-new-privileges[=true|false]`, `seccomp=unconfined|FILE`,
/// `mask=PATH[:PATH]`, `unmask=PATH[:PATH]|ALL`, `label=disable` (there is
/// no SELinux here to disable); `apparmor=` and other labels are refused.
fn security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for o in opts {
        let (key, value) = match o.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (o.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
            ("seccomp", Some(v)) if !v.is_empty() => out.seccomp = Some(v.to_owned()),
            ("mask", Some(v)) => out
                .mask
                .extend(v.split(':').filter(|p| !p.is_empty()).map(str::to_owned)),
            ("unmask", Some(v)) => out
                .unmask
                .extend(v.split(':').filter(|p| !p.is_empty()).map(str::to_owned)),
            ("label", Some("disable")) => {
                tracing::debug!("SELinux is not enabled: label=disable changes nothing");
            }
            _ => bail!(
                "--security-opt {o:?} is not supported: use no-new-privileges, seccomp=unconfined|FILE, mask=PATHS, unmask=PATHS|ALL or label=disable"
            ),
        }
    }
    Ok(out)
}

/// The limit flags as the runtime's record.
fn resources(a: &crate::args::LimitArgs) -> Result<oxpod_runtime::Resources> {
    let size = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        Ok(v.as_deref()
            .map(|v| oxpod_runtime::parse_size(flag, v))
            .transpose()?)
    };
    let mut r = oxpod_runtime::Resources {
        memory: size("--memory", &a.memory)?,
        memory_reservation: size("--memory-reservation", &a.memory_reservation)?,
        memory_swap: a
            .memory_swap
            .as_deref()
            .map(oxpod_runtime::parse_swap)
            .transpose()?,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
        oom_kill_disable: false,
    };
    if let Some(cpus) = &a.cpus {
        if a.cpu_quota.is_some() || a.cpu_period.is_some() {
            bail!("--cpus and --cpu-quota/--cpu-period cannot be set together");
        }
        let (quota, period) = oxpod_runtime::parse_cpus(cpus)?;
        r.cpu_quota = Some(quota);
        r.cpu_period = Some(period);
    }
    Ok(r)
}

/// `--replace`: the container holding the name goes first (killed at once,
/// as `rm -f`); nothing happens when the name is free.
fn replace_named(rt: &Runtime, a: &CreateArgs) -> Result<()> {
    let Some(name) = a.name.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    if !a.replace {
        return Ok(());
    }
    match rt.containers().resolve(name) {
        // Only an exact name is replaced, never an id prefix.
        Ok(r) if r.name() == name => match rt.containers().remove(&r, true) {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        },
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` for each name and prints what it returns (the name, or the id
/// for removals, as podman does); keeps going after a failure and fails with
/// the first error, printing the later ones.
fn each(
    out: &mut impl Write,
    names: &[String],
    mut f: impl FnMut(&str) -> oxpod_runtime::Result<String>,
) -> Result<u8> {
    let mut first: Option<anyhow::Error> = None;
    for n in names {
        match f(n) {
            Ok(shown) if shown.is_empty() => {}
            Ok(shown) => writeln!(out, "{shown}")?,
            Err(e) if first.is_none() => first = Some(e.into()),
            Err(e) => crate::print_error(&e.to_string()),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The names given, or with `all` the ids of every container in one of
/// `states` (every container when `states` is empty), oldest first.
fn names_or_all(
    rt: &Runtime,
    names: &[String],
    all: bool,
    states: &[ContainerStatus],
) -> Result<Vec<String>> {
    if !all {
        return Ok(names.to_vec());
    }
    let filters: Vec<ContainerFilter> =
        states.iter().map(|s| ContainerFilter::Status(*s)).collect();
    let mut ctrs = rt.containers().list(&filters)?;
    ctrs.reverse();
    Ok(ctrs.into_iter().map(|c| c.config.id).collect())
}

/// Resolves every name first, as podman does: one that does not resolve
/// fails the command before anything is done (its error is returned, the
/// others' printed).
fn resolve_all<R>(
    names: &[String],
    resolve: impl Fn(&str) -> oxpod_runtime::Result<R>,
) -> Result<Vec<R>> {
    let mut refs = Vec::with_capacity(names.len());
    let mut first: Option<anyhow::Error> = None;
    for n in names {
        match resolve(n) {
            Ok(r) => refs.push(r),
            Err(e) if first.is_none() => first = Some(e.into()),
            Err(e) => crate::print_error(&e.to_string()),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(refs),
    }
}

/// [`each`] over containers, all resolved first (a missing one fails the
/// command before any is acted on); success prints the name given.
fn each_container(
    out: &mut impl Write,
    rt: &Runtime,
    names: &[String],
    mut f: impl FnMut(&oxpod_runtime::Containers<'_>, &ContainerRef) -> oxpod_runtime::Result<()>,
) -> Result<u8> {
    let ctrs = rt.containers();
    let refs = resolve_all(names, |n| ctrs.resolve(n))?;
    let mut refs = refs.iter();
    each(out, names, |n| {
        let r = refs
            .next()
            .unwrap_or_else(|| unreachable!("one ref per name"));
        f(&ctrs, r).map(|()| n.to_owned())
    })
}

/// [`each`] over pods, all resolved first; success prints the name given.
fn each_pod(
    out: &mut impl Write,
    rt: &Runtime,
    names: &[String],
    mut f: impl FnMut(&oxpod_runtime::Pods<'_>, &PodRef) -> oxpod_runtime::Result<()>,
) -> Result<u8> {
    let pods = rt.pods();
    let refs = resolve_all(names, |n| pods.resolve(n))?;
    let mut refs = refs.iter();
    // podman prints the pod's full id.
    each(out, names, |_| {
        let r = refs
            .next()
            .unwrap_or_else(|| unreachable!("one ref per name"));
        f(&pods, r).map(|()| r.id().to_owned())
    })
}

/// The pods named, or every pod with `--all`.
fn pod_names_or_all(rt: &Runtime, names: &[String], all: bool) -> Result<Vec<String>> {
    if all {
        return Ok(rt
            .pods()
            .list()?
            .into_iter()
            .map(|(p, _)| p.config.id)
            .collect());
    }
    Ok(names.to_vec())
}

fn run_container(out: &mut impl Write, rt: &Runtime, a: &RunArgs) -> Result<u8> {
    // podman's warning, for run only (not create, start or exec).
    if a.create.tty && a.create.interactive && !std::io::stdin().is_terminal() {
        tracing::warn!(
            "The input device is not a TTY. The --tty and --interactive flags might not work properly"
        );
    }
    // Detached --rm containers are removed by conmon's exit command;
    // attached ones by us, after we have their exit code.
    let ctrs = rt.containers();
    let new = new_container(rt, &a.create, a.rm)?;
    replace_named(rt, &a.create)?;
    // An attached --rm: we remove it once we have the log and the exit
    // code; killed, conmon's exit command or the next command does.
    let (ctr, remove_guard) = if a.rm && !a.detach {
        let (ctr, guard) = ctrs.create_removed_by_caller(new)?;
        (ctr, Some(guard))
    } else {
        (ctrs.create(new)?, None)
    };
    let id = ctr.config.id.clone();
    let r = ContainerRef::from(&ctr);
    if !a.detach && (a.create.interactive || a.create.tty) {
        return run_attached(rt, a, &r, remove_guard);
    }
    let started = match ctrs.start(&r) {
        Ok(c) => c,
        Err(e) => {
            if a.rm {
                let _ = ctrs.remove(&r, true);
            }
            return Err(e.into());
        }
    };
    if a.detach {
        writeln!(out, "{id}")?;
        return Ok(0);
    }
    // Ctrl-C and friends go to the container, not to us (podman's
    // --sig-proxy, on unless --sig-proxy=false).
    if a.sig_proxy
        && let Some(pid) = started.state.pid
        && let Err(e) = crate::sigproxy::proxy_signals_to(pid)
    {
        tracing::warn!(error = %e, "signals will not reach the container");
    }
    out.flush()?;
    // A reader that went away (broken pipe) must not leave the container
    // behind: wait and remove first, report the write error after.
    let printed = print_logs(
        out,
        rt,
        &r,
        &LogsOptions {
            follow: true,
            ..LogsOptions::default()
        },
        false,
        None,
    );
    let code = ctrs.wait(&r)?;
    if let Some(guard) = remove_guard {
        match ctrs.remove(&r, true) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        guard.done();
    }
    printed?;
    Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
}

/// `run -i` / `run -t`: attached through conmon's socket before the
/// process starts, our stdin passed on with `-i`, our terminal raw with
/// `-t`; the detach keys leave it running (an `--rm` one is then removed
/// by conmon's exit command when it exits).
fn run_attached(
    rt: &Runtime,
    a: &RunArgs,
    r: &ContainerRef,
    remove_guard: Option<oxpod_runtime::RemoveOnExit<'_>>,
) -> Result<u8> {
    let ctrs = rt.containers();
    let keys = crate::exec::detach_keys(rt, a.create.detach_keys.as_deref())?;
    let signals =
        crate::attach::signals(crate::attach::wants_raw(a.create.interactive, a.create.tty))?;
    let (started, socket) = match ctrs.start_attached(r) {
        Ok(x) => x,
        Err(e) => {
            if a.rm {
                let _ = ctrs.remove(r, true);
            }
            return Err(e.into());
        }
    };
    // With a terminal, Ctrl-C is a byte for the container's terminal;
    // without one, signals are proxied as for any attached run.
    if a.sig_proxy
        && !a.create.tty
        && let Some(pid) = started.state.pid
        && let Err(e) = crate::sigproxy::proxy_signals_to(pid)
    {
        tracing::warn!(error = %e, "signals will not reach the container");
    }
    let ctl = ctrs.ctl_path(&started);
    let ended = crate::attach::relay(
        &crate::attach::Attach {
            socket: &socket,
            ctl: &ctl,
            stdin: a.create.interactive,
            tty: a.create.tty,
            keys: &keys,
        },
        &signals,
    )?;
    match ended {
        oxpod_runtime::Ended::Closed => {
            let code = ctrs.wait(r)?;
            if let Some(guard) = remove_guard {
                match ctrs.remove(r, true) {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                guard.done();
            }
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
        }
        // Left running: conmon's exit command removes an --rm one.
        oxpod_runtime::Ended::Detached | oxpod_runtime::Ended::Stopped => {
            if let Some(guard) = remove_guard {
                guard.done();
            }
            Ok(match ended {
                oxpod_runtime::Ended::Detached => 0,
                _ => crate::attach::EXIT_SIGNALLED,
            })
        }
    }
}

/// `attach`, and `start -a` of a container made with `-i` or `-t`: its
/// output until it exits (then its exit code), our stdin passed on when it
/// keeps one open (not with `--no-stdin`).
fn attach_to(
    rt: &Runtime,
    r: &ContainerRef,
    start: bool,
    no_stdin: bool,
    sig_proxy: bool,
    keys: Option<&str>,
) -> Result<u8> {
    let ctrs = rt.containers();
    let keys = crate::exec::detach_keys(rt, keys)?;
    let ctr = ctrs.get(r)?;
    let stdin = ctr.config.interactive && !no_stdin;
    let tty = ctr.config.terminal;
    let signals = crate::attach::signals(crate::attach::wants_raw(stdin, tty))?;
    let (ctr, socket) = if start {
        ctrs.start_attached(r)?
    } else {
        ctrs.attach(r)?
    };
    // As podman: without a terminal, the signals we get go to the
    // container's process (a terminal's Ctrl-C is a byte in the stream).
    if sig_proxy
        && !tty
        && let Some(pid) = ctr.state.pid
        && let Err(e) = crate::sigproxy::proxy_signals_to(pid)
    {
        tracing::warn!(error = %e, "signals will not reach the container");
    }
    let ctl = ctrs.ctl_path(&ctr);
    let ended = crate::attach::relay(
        &crate::attach::Attach {
            socket: &socket,
            ctl: &ctl,
            stdin,
            tty,
            keys: &keys,
        },
        &signals,
    )?;
    match ended {
        oxpod_runtime::Ended::Closed => {
            let code = ctrs.wait(r)?;
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
        }
        oxpod_runtime::Ended::Detached => Ok(0),
        oxpod_runtime::Ended::Stopped => Ok(crate::attach::EXIT_SIGNALLED),
    }
}

fn pod_names(rt: &Runtime) -> Result<BTreeMap<String, String>> {
    Ok(rt
        .pods()
        .list()?
        .into_iter()
        .map(|(p, _)| (p.config.id, p.config.name))
        .collect())
}

fn ps(out: &mut impl Write, rt: &Runtime, a: &PsArgs) -> Result<u8> {
    let mut filters = Vec::new();
    for f in &a.filters {
        filters.extend(container_filters(f, &created_of(rt))?);
    }
    let all = a.all || a.last.is_some() || a.latest;
    if !all && !a.filters.iter().any(|f| f.starts_with("status=")) {
        filters.push(ContainerFilter::Status(ContainerStatus::Running));
    }
    let format = Format::parse_list(a.format.as_deref())?;
    let mut ctrs = rt.containers().list(&filters)?;
    // `--last N` / `--latest`: the N most recently created.
    ctrs.sort_by_key(|c| std::cmp::Reverse(c.config.created));
    if let Some(n) = a.last.or(a.latest.then_some(1)) {
        ctrs.truncate(n);
    }
    let now = Timestamp::now();
    sort_containers(&mut ctrs, &a.sort, now)?;
    let pods = if a.pod || ctrs.iter().any(|c| c.config.pod.is_some()) {
        pod_names(rt)?
    } else {
        BTreeMap::new()
    };
    let pod_name = |c: &Container| {
        c.config
            .pod
            .as_ref()
            .and_then(|p| pods.get(p))
            .map(String::as_str)
    };
    // podman: a format wins over --quiet.
    if a.quiet && matches!(format, Format::Default) {
        for c in &ctrs {
            writeln!(out, "{}", views::short(&c.config.id, a.no_trunc))?;
        }
        return Ok(0);
    }
    match format {
        Format::Json => {
            let v: Vec<Value> = ctrs
                .iter()
                .map(|c| views::ps_json(c, pod_name(c), now))
                .collect();
            print_json(out, &v)?;
        }
        Format::Template(t) => {
            let rows: Vec<Value> = ctrs
                .iter()
                .map(|c| views::ps_row(c, pod_name(c), a.no_trunc, now))
                .collect();
            let titles = ps_titles(now);
            let t = if a.noheading { t.without_header() } else { t };
            print_template(out, &t, &rows, &titles)?;
        }
        Format::Default => {
            let mut columns = vec![
                ("CONTAINER ID", "ID"),
                ("IMAGE", "Image"),
                ("COMMAND", "Command"),
                ("CREATED", "CreatedHuman"),
                ("STATUS", "Status"),
                ("PORTS", "Ports"),
                ("NAMES", "Names"),
            ];
            if a.size {
                columns.push(("SIZE", "Size"));
            }
            if a.pod {
                columns.push(("POD ID", "Pod"));
                columns.push(("PODNAME", "PodName"));
            }
            let docs = ctrs
                .iter()
                .map(|c| views::ps_row(c, pod_name(c), a.no_trunc, now));
            let rows = columns_of(&columns, docs, !a.noheading);
            print_table(out, &rows)?;
        }
    }
    Ok(0)
}

/// A default listing: the titled columns picked from each row document,
/// strings as they are, other values as JSON.
fn columns_of(
    columns: &[(&str, &str)],
    docs: impl Iterator<Item = Value>,
    header: bool,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    if header {
        rows.push(columns.iter().map(|(h, _)| (*h).to_owned()).collect());
    }
    for doc in docs {
        rows.push(
            columns
                .iter()
                .map(|(_, k)| match &doc[*k] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    rows
}

/// For `since=`/`before=` filters: when the named container was created.
fn created_of(rt: &Runtime) -> impl Fn(&str) -> Result<Timestamp> + '_ {
    move |name| {
        let r = rt.containers().resolve(name)?;
        Ok(rt.containers().get(&r)?.config.created)
    }
}

/// The titles of `ps` template columns (from a row of a blank container).
fn ps_titles(now: Timestamp) -> Value {
    crate::template::titles(
        &views::ps_row(&Container::default(), None, false, now),
        views::PS_TITLES,
    )
}

/// `ps` order: oldest first (podman's), or `--sort KEY`.
fn sort_containers(ctrs: &mut [Container], key: &str, now: Timestamp) -> Result<()> {
    match key {
        "created" | "runningfor" => ctrs.sort_by_key(|c| c.config.created),
        "id" => ctrs.sort_by(|a, b| a.config.id.cmp(&b.config.id)),
        "names" => ctrs.sort_by(|a, b| a.config.name.cmp(&b.config.name)),
        "command" => ctrs.sort_by(|a, b| a.config.command.cmp(&b.config.command)),
        "status" => ctrs.sort_by_key(|c| views::status_text(c, now)),
        "pod" => ctrs.sort_by(|a, b| a.config.pod.cmp(&b.config.pod)),
        // No images or sizes yet: every container ties, creation breaks it.
        "image" | "size" => ctrs.sort_by_key(|c| c.config.created),
        other => anyhow::bail!(
            "invalid option for --sort {other:?}: use one of command, created, id, image, names, pod, runningfor, size, status"
        ),
    }
    Ok(())
}

/// `start`: podman prints each name given, except for a container that
/// was running already; `-a` follows the output of one container and
/// exits with its exit code.
fn start(out: &mut impl Write, rt: &Runtime, a: &StartArgs) -> Result<u8> {
    let ctrs = rt.containers();
    let names: Vec<String> = if a.all {
        ctrs.list(&[])?
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.state.status,
                    ContainerStatus::Running | ContainerStatus::Paused
                )
            })
            .map(|c| c.config.id)
            .collect()
    } else {
        if a.names.is_empty() {
            bail!("give at least one container name or id, or --all");
        }
        a.names.clone()
    };
    if a.attach {
        let [name] = names.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        let r = ctrs.resolve(name)?;
        let made = ctrs.get(&r)?;
        if a.interactive || made.config.terminal || made.config.interactive {
            return attach_to(rt, &r, true, !a.interactive, true, a.detach_keys.as_deref());
        }
        // This run's output only (podman's): the log keeps earlier runs'.
        let since = jiff::Timestamp::now();
        let started = ctrs.start(&r)?;
        if let Some(pid) = started.state.pid
            && let Err(e) = crate::sigproxy::proxy_signals_to(pid)
        {
            tracing::warn!(error = %e, "signals will not reach the container");
        }
        let printed = print_logs(
            out,
            rt,
            &r,
            &LogsOptions {
                follow: true,
                since: Some(since),
                ..LogsOptions::default()
            },
            false,
            None,
        );
        let code = ctrs.wait(&r)?;
        printed?;
        return Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255));
    }
    let mut refs = Vec::new();
    for n in &names {
        refs.push((ctrs.resolve(n)?, n));
    }
    let mut first: Option<anyhow::Error> = None;
    for (r, shown) in refs {
        let was_running = ctrs
            .get(&r)
            .is_ok_and(|c| c.state.status == ContainerStatus::Running);
        match ctrs.start(&r) {
            Ok(_) if was_running => {}
            Ok(_) => writeln!(out, "{shown}")?,
            Err(e) if first.is_none() => first = Some(e.into()),
            Err(e) => crate::print_error(&format!("{e:#}")),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// `wait`: the exit code of each container, or -1 for a `--condition`
/// that is not an exit (podman's).
fn wait(out: &mut impl Write, rt: &Runtime, a: &WaitArgs) -> Result<u8> {
    let ctrs = rt.containers();
    let mut states = Vec::new();
    for c in &a.conditions {
        states.extend(match c.to_ascii_lowercase().as_str() {
            "configured" => vec![ContainerStatus::Configured],
            "created" => vec![ContainerStatus::Configured, ContainerStatus::Created],
            "running" => vec![ContainerStatus::Running],
            "paused" => vec![ContainerStatus::Paused],
            "stopped" | "exited" => vec![ContainerStatus::Exited, ContainerStatus::Stopped],
            _ => bail!(
                "unknown container state {c:?}: use configured, created, running, paused, stopped or exited"
            ),
        });
    }
    if states.is_empty() {
        states = vec![ContainerStatus::Exited, ContainerStatus::Stopped];
    }
    let interval = parse_interval(&a.interval)?;
    let mut refs = Vec::new();
    if a.latest {
        let c = ctrs
            .list(&[])?
            .into_iter()
            .max_by_key(|c| c.config.created)
            .ok_or_else(|| anyhow::anyhow!("no containers: --latest found none"))?;
        refs.push(ContainerRef::from(&c));
    }
    for n in &a.names {
        refs.push(ctrs.resolve(n)?);
    }
    if refs.is_empty() {
        bail!("give at least one container name or id, or --latest");
    }
    for r in &refs {
        let c = ctrs.wait_for(r, &states, interval)?;
        let code = match c.state.status {
            ContainerStatus::Exited | ContainerStatus::Stopped => c.state.exit_code,
            _ => -1,
        };
        writeln!(out, "{code}")?;
    }
    Ok(0)
}

/// podman's `--interval`: a Go duration (`250ms`, `1s`) or milliseconds.
fn parse_interval(s: &str) -> Result<std::time::Duration> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_millis(ms));
    }
    let d = oxpod_runtime::events::parse_duration(s)
        .map_err(|e| anyhow::anyhow!("invalid --interval {s:?}: {e}"))?;
    std::time::Duration::try_from(d)
        .map_err(|_| anyhow::anyhow!("invalid --interval {s:?}: it must not be negative"))
}

/// Inspects every name it can, prints those, then fails naming the ones it
/// could not (podman prints what it found before the error).
fn inspect(out: &mut impl Write, rt: &Runtime, a: &InspectArgs) -> Result<u8> {
    let format = Format::parse(a.format.as_deref())?;
    let times = match format {
        Format::Template(_) => views::Times::Go,
        _ => views::Times::Json,
    };
    let (want_ctr, want_pod, want_image) = match a.kind.as_str() {
        "all" => (true, true, true),
        "container" => (true, false, false),
        "pod" => (false, true, false),
        "image" => (false, false, true),
        other => bail!("invalid --type {other:?}: use container, pod, image or all"),
    };
    let mut names = a.names.clone();
    if a.latest {
        let latest = rt
            .containers()
            .list(&[])?
            .into_iter()
            .max_by_key(|c| c.config.created)
            .ok_or_else(|| anyhow::anyhow!("no containers to inspect: --latest found none"))?;
        names.push(latest.config.id);
    }
    if names.is_empty() {
        bail!("give at least one name or id, or --latest");
    }
    let mut docs = Vec::new();
    let mut failed: Vec<anyhow::Error> = Vec::new();
    for n in &names {
        // podman's order: containers, then pods, then images.
        let image = || -> Result<Value> {
            match rt.images().resolve(n) {
                Ok(i) => crate::images::inspect_doc(rt, &i, times),
                Err(e) if e.is_image_not_found() => Err(anyhow::anyhow!("no such object: {n:?}")),
                Err(e) => Err(e.into()),
            }
        };
        let doc = if want_ctr {
            match rt
                .containers()
                .resolve(n)
                .and_then(|r| rt.containers().get(&r))
            {
                Ok(c) => {
                    let mut doc = views::inspect_container(&c, times);
                    let ids: Vec<String> = rt
                        .containers()
                        .exec_sessions(&c.config.id)?
                        .into_iter()
                        .map(|s| s.id)
                        .collect();
                    doc["ExecIDs"] = serde_json::json!(ids);
                    Ok(doc)
                }
                Err(e)
                    if want_pod
                        && (e.is_not_found() || is_pod_error(&e))
                        && rt.pods().resolve(n).is_ok() =>
                {
                    inspect_pod_doc(rt, n, times)
                }
                Err(e) if (e.is_not_found() || is_pod_error(&e)) && want_image => image(),
                Err(e) if e.is_not_found() || is_pod_error(&e) => {
                    Err(anyhow::anyhow!("no such object: {n:?}"))
                }
                Err(e) => Err(e.into()),
            }
        } else if want_pod {
            inspect_pod_doc(rt, n, times)
        } else {
            image()
        };
        match doc {
            Ok(d) => docs.push(d),
            Err(e) => failed.push(e),
        }
    }
    if !docs.is_empty() || failed.is_empty() {
        match format {
            Format::Template(t) => print_template(out, &t, &docs, &Value::Null)?,
            _ => print_json(out, &docs)?,
        }
    }
    let mut failed = failed.into_iter();
    match failed.next() {
        None => Ok(0),
        Some(first) => {
            out.flush()?;
            for e in failed {
                crate::print_error(&format!("{e:#}"));
            }
            Err(first)
        }
    }
}

fn is_container_error(e: &oxpod_runtime::Error) -> bool {
    matches!(
        e,
        oxpod_runtime::Error::State(oxpod_runtime::StateError::IsContainer { .. })
    )
}

fn is_pod_error(e: &oxpod_runtime::Error) -> bool {
    matches!(
        e,
        oxpod_runtime::Error::State(oxpod_runtime::StateError::IsPod { .. })
    )
}

fn inspect_pod_doc(rt: &Runtime, name: &str, times: views::Times) -> Result<Value> {
    let r = rt.pods().resolve(name)?;
    let pod = rt.pods().get(&r)?;
    let ctrs = rt.pods().members(&r)?;
    Ok(views::inspect_pod(&pod, &ctrs, times))
}

/// `rm`, with podman's exit codes: every name is resolved first; a missing
/// one removes nothing and exits 1, unless `-f`, which ignores it silently
/// (so `rm -f NAME` is an idempotent cleanup); a running container without
/// `-f` exits 2. The resolved ones go in one transaction; each is answered
/// with its id or its error, in the order given.
fn rm(out: &mut impl Write, rt: &Runtime, a: &RmArgs) -> Result<u8> {
    let ctrs = rt.containers();
    let quiet_missing = a.force || a.ignore;
    // Each container with what to print for it: podman echoes the name as
    // given, and the full id for --all and --latest.
    let mut targets: Vec<(ContainerRef, String)> = Vec::new();
    if a.all {
        for c in ctrs.list(&[])? {
            targets.push((ContainerRef::from(&c), c.config.id));
        }
    } else {
        if a.latest
            && let Some(c) = ctrs.list(&[])?.into_iter().max_by_key(|c| c.config.created)
        {
            targets.push((ContainerRef::from(&c), c.config.id));
        }
        if a.names.is_empty() && !a.latest {
            bail!("give at least one container name or id, --all or --latest");
        }
        let mut missing: Option<anyhow::Error> = None;
        for n in &a.names {
            match ctrs.resolve(n) {
                Ok(r) => targets.push((r, n.clone())),
                Err(e) if e.is_not_found() && quiet_missing => {}
                Err(e) if missing.is_none() => missing = Some(e.into()),
                Err(e) => crate::print_error(&e.to_string()),
            }
        }
        if let Some(e) = missing {
            return Err(crate::CodedError::new(1, e).into());
        }
    }
    // `-f -t N`: a stop within N seconds first, as podman does; plain `-f`
    // kills at once.
    if a.force
        && let Some(t) = a.time
    {
        for (r, _) in &targets {
            match ctrs.stop(r, Some(t)) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::debug!(id = r.id(), error = %e, "stop before removal"),
            }
        }
    }
    let refs: Vec<ContainerRef> = targets.iter().map(|(r, _)| r.clone()).collect();
    // `-v`: their anonymous volumes go too, once they are removed.
    let mounts: Vec<Vec<oxpod_runtime::ContainerMount>> = refs
        .iter()
        .map(|r| {
            if a.volumes {
                ctrs.get(r).map(|c| c.config.mounts).unwrap_or_default()
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut code = 0u8;
    let mut first: Option<anyhow::Error> = None;
    let results = ctrs.remove_many(&refs, a.force);
    for ((result, (_, shown)), mounts) in results.into_iter().zip(&targets).zip(&mounts) {
        match result {
            Ok(()) => {
                rt.volumes().remove_anonymous(mounts)?;
                writeln!(out, "{shown}")?;
            }
            Err(e) if e.is_not_found() && quiet_missing => {}
            Err(e) => {
                // Gone since it was resolved (a racing rm): podman's 1.
                let c = if e.is_running() {
                    2
                } else if e.is_not_found() {
                    1
                } else {
                    125
                };
                if first.is_none() {
                    code = c;
                    first = Some(e.into());
                } else {
                    crate::print_error(&e.to_string());
                }
            }
        }
    }
    match first {
        Some(e) => Err(crate::CodedError::new(code, e).into()),
        None => Ok(0),
    }
}

fn logs(out: &mut impl Write, rt: &Runtime, a: &LogsArgs) -> Result<u8> {
    let now = Timestamp::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<Timestamp>> {
        v.as_deref()
            .map(|s| {
                oxpod_runtime::events::parse_time(s, now)
                    .map_err(|e| anyhow::anyhow!("invalid --{flag}: {e}"))
            })
            .transpose()
    };
    let options = LogsOptions {
        follow: a.follow,
        // podman: a negative --tail is every line.
        tail: a.tail.and_then(|n| usize::try_from(n).ok()),
        since: time("since", &a.since)?,
        until: time("until", &a.until)?,
    };
    let mut refs = Vec::new();
    if a.latest {
        let latest = rt
            .containers()
            .list(&[])?
            .into_iter()
            .max_by_key(|c| c.config.created)
            .ok_or_else(|| anyhow::anyhow!("no containers: --latest found none"))?;
        refs.push(ContainerRef::from(&latest));
    }
    for n in &a.containers {
        refs.push(rt.containers().resolve(n)?);
    }
    if refs.is_empty() {
        bail!("give a container name or id, or --latest");
    }
    if a.follow && refs.len() > 1 {
        bail!("--follow takes one container");
    }
    // podman prefixes each line with the short id when it shows several
    // containers; `-n` asks for the name.
    for r in &refs {
        let prefix = if a.names {
            Some(r.name().to_owned())
        } else if refs.len() > 1 {
            Some(views::short(r.id(), false).to_owned())
        } else {
            None
        };
        print_logs(out, rt, r, &options, a.timestamps, prefix.as_deref())?;
    }
    Ok(0)
}

/// Prints a container's output as it was written: its stdout to ours, its
/// stderr to ours, and a last line without a newline stays without one;
/// with `timestamps` each line starts with its time, with `name` with the
/// container's name (podman's `-t` and `-n`).
fn print_logs(
    out: &mut impl Write,
    rt: &Runtime,
    r: &ContainerRef,
    options: &LogsOptions,
    timestamps: bool,
    name: Option<&str>,
) -> Result<()> {
    let mut stderr = std::io::stderr().lock();
    let mut failed = None;
    rt.containers().logs(r, options, |line| {
        let end = if line.newline { "\n" } else { "" };
        let mut head = String::new();
        use std::fmt::Write as _;
        if let Some(n) = name {
            head.push_str(n);
            head.push(' ');
        }
        if timestamps {
            // podman's form: UTC, nine digits of fraction.
            let _ = write!(
                head,
                "{}.{:09}Z ",
                line.time.strftime("%Y-%m-%dT%H:%M:%S"),
                line.time.subsec_nanosecond()
            );
        }
        let r = match line.stream {
            LogStream::Stdout => write!(out, "{head}{}{end}", line.text).and_then(|()| out.flush()),
            LogStream::Stderr => write!(stderr, "{head}{}{end}", line.text),
        };
        r.map_err(|e| failed = Some(e)).is_ok()
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn pod(out: &mut impl Write, g: &Global, p: &PodCommand) -> Result<u8> {
    let rt = open(g, |o| o)?;
    match p {
        PodCommand::Create(a) => {
            for ns in a.share.iter().flat_map(|s| s.split(',')) {
                if !matches!(ns, "" | "net" | "ipc" | "uts" | "cgroup" | "pid") {
                    bail!("--share {ns:?}: use net, ipc, uts, cgroup or pid");
                }
            }
            let pod = rt.pods().create(NewPod {
                name: a.name.clone(),
                labels: key_values("label", &a.labels)?,
                infra: a.infra,
                network: network_request(&a.net, false),
            })?;
            writeln!(out, "{}", pod.config.id)?;
            Ok(0)
        }
        PodCommand::Ps(a) => {
            let now = Timestamp::now();
            let mut filters = Vec::new();
            for f in &a.filters {
                filters.extend(crate::parse::pod_filters(f, now)?);
            }
            let mut pods = rt.pods().list_with_members(&filters)?;
            if a.latest {
                // Oldest first: the latest is the last.
                let keep = pods.len().saturating_sub(1);
                pods.drain(..keep);
            }
            match a.sort.as_str() {
                "created" => {}
                "id" => pods.sort_by(|x, y| x.0.config.id.cmp(&y.0.config.id)),
                "name" => pods.sort_by(|x, y| x.0.config.name.cmp(&y.0.config.name)),
                "number" => pods.sort_by_key(|(_, m)| m.len()),
                "status" => pods.sort_by_key(|(_, m)| views::pod_status(m)),
                other => bail!(
                    "invalid option for --sort {other:?}: use one of created, id, name, number, status"
                ),
            }
            // podman 4.3 prints full pod ids for -q.
            if a.quiet {
                for (p, _) in &pods {
                    writeln!(out, "{}", p.config.id)?;
                }
                return Ok(0);
            }
            match Format::parse_list(a.format.as_deref())? {
                Format::Json => {
                    let docs: Vec<Value> =
                        pods.iter().map(|(p, m)| views::pod_ps_json(p, m)).collect();
                    print_json(out, &docs)?;
                }
                Format::Template(t) => {
                    let rows: Vec<Value> = pods
                        .iter()
                        .map(|(p, m)| views::pod_ps_row(p, m, a.no_trunc, now))
                        .collect();
                    let blank = oxpod_runtime::Pod::default();
                    let titles = crate::template::titles(
                        &views::pod_ps_row(&blank, &[], false, now),
                        views::POD_PS_TITLES,
                    );
                    let t = if a.noheading { t.without_header() } else { t };
                    print_template(out, &t, &rows, &titles)?;
                }
                Format::Default => {
                    let mut columns = vec![
                        ("POD ID", "ID"),
                        ("NAME", "Name"),
                        ("STATUS", "Status"),
                        ("CREATED", "Created"),
                        ("INFRA ID", "InfraID"),
                    ];
                    // podman puts the member columns before the count.
                    if a.ctr_ids {
                        columns.push(("IDS", "ContainerIds"));
                    }
                    if a.ctr_names {
                        columns.push(("NAMES", "ContainerNames"));
                    }
                    if a.ctr_status {
                        columns.push(("STATUS", "ContainerStatuses"));
                    }
                    if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
                        columns.push(("# OF CONTAINERS", "NumberOfContainers"));
                    }
                    let docs = pods
                        .iter()
                        .map(|(pod, m)| views::pod_ps_row(pod, m, a.no_trunc, now));
                    let rows = columns_of(&columns, docs, !a.noheading);
                    print_table(out, &rows)?;
                }
            }
            Ok(0)
        }
        PodCommand::Inspect(a) => {
            let format = Format::parse(a.format.as_deref())?;
            let times = match format {
                Format::Template(_) => views::Times::Go,
                _ => views::Times::Json,
            };
            let docs = a
                .names
                .iter()
                .map(|n| inspect_pod_doc(&rt, n, times))
                .collect::<Result<Vec<_>>>()?;
            match format {
                Format::Template(t) => print_template(out, &t, &docs, &Value::Null)?,
                // podman 4.3 prints one pod as an object, not a list.
                _ if docs.len() == 1 => print_json(out, &docs[0])?,
                _ => print_json(out, &docs)?,
            }
            Ok(0)
        }
        PodCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                pod_names_or_all(&rt, &[], true)?
            } else {
                if a.names.is_empty() {
                    bail!("give at least one pod name or id, or --all");
                }
                a.names.clone()
            };
            // Removal prints the pod's id, as podman does; -f and -i ignore
            // a missing pod, without them one exits 1.
            let quiet_missing = a.force || a.ignore;
            let mut missing: Option<anyhow::Error> = None;
            let code = each(out, &names, |n| {
                let r = match rt.pods().resolve(n) {
                    Ok(r) => r,
                    Err(e) if e.is_not_found() && quiet_missing => return Ok(String::new()),
                    Err(e) if e.is_not_found() && missing.is_none() => {
                        missing = Some(anyhow::anyhow!("{e}"));
                        return Ok(String::new());
                    }
                    Err(e) => return Err(e),
                };
                rt.pods().remove(&r, a.force).map(|()| r.id().to_owned())
            });
            match (code, missing) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(e)) => Err(crate::CodedError::new(1, e).into()),
                (Ok(c), None) => Ok(c),
            }
        }
        PodCommand::Start(a) => {
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.start(r).map(drop))
        }
        PodCommand::Stop(a) => {
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.stop(r, a.time).map(drop))
        }
        PodCommand::Restart(a) => {
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.restart(r, a.time).map(drop))
        }
        PodCommand::Kill(a) => {
            let sig = parse_signal(&a.signal).map_err(oxpod_runtime::Error::from)?;
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.kill(r, sig).map(drop))
        }
        PodCommand::Pause(a) => {
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.pause(r).map(drop))
        }
        PodCommand::Unpause(a) => {
            let names = pod_names_or_all(&rt, &a.names, a.all)?;
            each_pod(out, &rt, &names, |p, r| p.unpause(r).map(drop))
        }
        PodCommand::Exists(a) => match rt.pods().resolve(&a.name) {
            Ok(_) => Ok(0),
            Err(e) if e.is_not_found() || is_container_error(&e) => Ok(1),
            Err(e) => Err(e.into()),
        },
        PodCommand::Top(a) => crate::top::pod_top(out, &rt, a),
        PodCommand::Stats(a) => crate::top::pod_stats(out, &rt, a),
        PodCommand::Prune(_) => {
            for id in rt.pods().prune()? {
                writeln!(out, "{id}")?;
            }
            Ok(0)
        }
    }
}

fn events(out: &mut impl Write, rt: &Runtime, a: &EventsArgs) -> Result<u8> {
    let mut options = ReadOptions::parse(
        &a.filters,
        a.since.as_deref(),
        a.until.as_deref(),
        Timestamp::now(),
    )
    .map_err(oxpod_runtime::Error::from)?;
    options.follow = a.stream;
    let format = Format::parse(a.format.as_deref())?;
    let mut failed = None;
    let mut print = |e: Event| -> std::io::Result<()> {
        match &format {
            Format::Default => writeln!(out, "{}", e.to_human(a.no_trunc))?,
            Format::Json => {
                serde_json::to_writer(&mut *out, &e)?;
                writeln!(out)?;
            }
            Format::Template(t) => {
                let v = views::event_doc(&e);
                let line = t
                    .render(&v)
                    .map_err(|err| std::io::Error::other(err.to_string()))?;
                writeln!(out, "{line}")?;
            }
        }
        // Following: show each event as it comes; listing: let it buffer.
        if a.stream { out.flush() } else { Ok(()) }
    };
    rt.system().events(options, &mut |e| match print(e) {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => {
            failed = Some(err);
            ControlFlow::Break(())
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

fn system(out: &mut impl Write, g: &Global, s: &SystemCommand) -> Result<u8> {
    match s {
        SystemCommand::Info(a) => info(out, &open(g, |o| o)?, a),
        SystemCommand::Renumber => {
            open(g, |o| o.renumber(true)).context("error renumbering locks")?;
            Ok(0)
        }
        SystemCommand::Migrate => {
            open(g, |o| o.migrate(true)).context("error migrating containers")?;
            Ok(0)
        }
        SystemCommand::Reset(a) => {
            if !a.force && !confirm_reset()? {
                writeln!(out, "reset cancelled")?;
                return Ok(0);
            }
            match open(g, |o| o.for_reset(true)) {
                Ok(rt) => rt.system().reset()?,
                Err(e)
                    if e.downcast_ref::<oxpod_runtime::Error>()
                        .is_some_and(oxpod_runtime::Error::is_damaged_database) =>
                {
                    eprintln!("Warning: {e:#}");
                    eprintln!("Warning: resetting without reading the database");
                    oxpod_runtime::reset_unopened(crate::runtime_options(g).for_reset(true))?;
                }
                Err(e) => return Err(e),
            }
            Ok(0)
        }
        SystemCommand::Check(a) => {
            let report = open(g, |o| o)?.system().check(a.repair)?;
            for f in &report.findings {
                writeln!(out, "{f}")?;
            }
            if report.findings.is_empty() {
                writeln!(out, "no problems found")?;
                Ok(0)
            } else if a.repair {
                writeln!(
                    out,
                    "repaired {} of {} problem(s)",
                    report.repaired,
                    report.findings.len()
                )?;
                Ok(if report.repaired == report.findings.len() {
                    0
                } else {
                    1
                })
            } else {
                writeln!(
                    out,
                    "{} problem(s) found; run `oxpod system check --repair` to fix them",
                    report.findings.len()
                )?;
                Ok(1)
            }
        }
        SystemCommand::Prune(a) => {
            let rt = open(g, |o| o)?;
            let mut filters = Vec::new();
            for f in &a.filters {
                filters.extend(container_filters(f, &created_of(&rt))?);
            }
            // podman's order and words.
            let pods = rt.pods().prune()?;
            let ctrs = rt.containers().prune(&filters)?;
            let reclaimed: u64 = ctrs.iter().map(|(_, size)| size).sum();
            let ctr_ids: Vec<String> = ctrs.into_iter().map(|(id, _)| id).collect();
            for (title, ids) in [("Deleted Pods", pods), ("Deleted Containers", ctr_ids)] {
                if !ids.is_empty() {
                    writeln!(out, "{title}")?;
                    for id in ids {
                        writeln!(out, "{id}")?;
                    }
                }
            }
            writeln!(
                out,
                "Total reclaimed space: {}",
                crate::human::size(reclaimed)
            )?;
            Ok(0)
        }
        SystemCommand::Locks(a) => {
            let report = open(g, |o| o)?.system().locks()?;
            match Format::parse(a.format.as_deref())? {
                Format::Json => print_json(out, &report)?,
                Format::Template(t) => print_template(
                    out,
                    &t,
                    &[crate::template::go_names(&serde_json::to_value(&report)?)],
                    &Value::Null,
                )?,
                Format::Default => {
                    writeln!(
                        out,
                        "segment {}: {} locks, {} free",
                        report.segment, report.capacity, report.available
                    )?;
                    let mut rows = vec![
                        ["LOCK", "USED BY", "HELD BY PID"]
                            .map(str::to_owned)
                            .to_vec(),
                    ];
                    for (id, users) in &report.allocated {
                        let users = if users.is_empty() {
                            "(leaked)".to_owned()
                        } else {
                            users.join(", ")
                        };
                        let held = report
                            .held
                            .get(id)
                            .map(|p| p.to_string())
                            .unwrap_or_default();
                        rows.push(vec![id.to_string(), users, held]);
                    }
                    for (id, pid) in report
                        .held
                        .iter()
                        .filter(|(id, _)| !report.allocated.contains_key(id))
                    {
                        rows.push(vec![id.to_string(), "(free)".to_owned(), pid.to_string()]);
                    }
                    print_table(out, &rows)?;
                    for (id, users) in report.allocated.iter().filter(|(_, u)| u.len() > 1) {
                        writeln!(
                            out,
                            "warning: lock {id} is shared by {}: run `oxpod system renumber`",
                            users.join(", ")
                        )?;
                    }
                }
            }
            Ok(0)
        }
    }
}

fn confirm_reset() -> Result<bool> {
    eprint!(
        "WARNING! This removes all containers, pods, the database, the lock segment and the events log.\nAre you sure you want to continue? [y/N] "
    );
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
