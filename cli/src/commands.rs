//! One function per command. Each opens the runtime it needs, does its
//! work, prints, and returns the process exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::ops::ControlFlow;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use oxpod_runtime::events::Event;
use oxpod_runtime::{
    Container, ContainerFilter, LogStream, LogsOptions, NewContainer, NewPod, ReadOptions, Runtime,
    parse_key_values, parse_signal,
};
use serde_json::Value;

use crate::args::*;
use crate::output::{Format, print_json, print_table, print_template, print_yaml};
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
        Command::Create(a) => {
            let rt = open(g, |o| o)?;
            let c = rt.create_container(new_container(a, false)?)?;
            writeln!(out, "{}", c.config.id)?;
            Ok(0)
        }
        Command::Run(a) => run_container(out, &open(g, |o| o)?, a),
        Command::Ps(a) => ps(out, &open(g, |o| o)?, a),
        Command::Inspect(a) => inspect(out, &open(g, |o| o)?, a),
        Command::Rm(a) => rm(out, &open(g, |o| o)?, a),
        Command::Start(a) => each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
            rt.start_container(n).map(|_| ())
        }),
        Command::Stop(a) => each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
            rt.stop_container(n, a.time).map(|_| ())
        }),
        Command::Kill(a) => {
            let sig = parse_signal(&a.signal).map_err(oxpod_runtime::Error::from)?;
            each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
                rt.kill_container(n, sig).map(|_| ())
            })
        }
        Command::Wait(a) => {
            let rt = open(g, |o| o)?;
            for n in &a.names {
                let code = rt.wait_container(n)?;
                writeln!(out, "{code}")?;
            }
            Ok(0)
        }
        Command::Pause(a) => each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
            rt.pause_container(n).map(|_| ())
        }),
        Command::Unpause(a) => each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
            rt.unpause_container(n).map(|_| ())
        }),
        Command::Restart(a) => each_named(out, &open(g, |o| o)?, &a.names, |rt, n| {
            rt.restart_container(n, a.time).map(|_| ())
        }),
        Command::Logs(a) => logs(out, &open(g, |o| o)?, a),
        Command::Pod(p) => pod(out, g, p),
        Command::Events(a) => events(out, &open(g, |o| o)?, a),
        Command::System(s) => system(out, g, s),
        Command::Container(ContainerCommand::Cleanup { id }) => {
            // conmon runs this after the container exits; by then its
            // store may be gone (reset, a removed test dir): then there is
            // nothing to clean, and nothing may be created.
            match open(g, |o| o.existing_only(true)) {
                Ok(rt) => rt.cleanup_container(id)?,
                Err(e) if is_not_initialised(&e) => {
                    tracing::debug!(id, error = %e, "nothing to clean up");
                }
                Err(e) => return Err(e),
            }
            Ok(0)
        }
    }
}

fn is_not_initialised(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<oxpod_runtime::Error>(),
        Some(oxpod_runtime::Error::NotInitialised { .. })
    )
}

fn version(out: &mut impl Write, a: &FormatArg) -> Result<u8> {
    let v = serde_json::json!({
        "Version": oxpod_runtime::VERSION,
        "OsArch": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    });
    match Format::parse(a.format.as_deref())? {
        Format::Default => {
            writeln!(out, "Version:      {}", oxpod_runtime::VERSION)?;
            writeln!(out, "OS/Arch:      {}", v["OsArch"].as_str().unwrap_or(""))?;
        }
        Format::Json => print_json(out, &v)?,
        Format::Template(t) => print_template(out, &t, &[v])?,
    }
    Ok(0)
}

fn info(out: &mut impl Write, rt: &Runtime, a: &InfoArgs) -> Result<u8> {
    let value = serde_json::to_value(rt.info()?)?;
    match Format::parse(a.format.as_deref())? {
        Format::Default => print_yaml(out, &value)?,
        Format::Json => print_json(out, &value)?,
        Format::Template(t) => print_template(out, &t, &[value])?,
    }
    Ok(0)
}

fn new_container(a: &CreateArgs, auto_remove: bool) -> Result<NewContainer> {
    Ok(NewContainer {
        name: a.name.clone(),
        pod: a.pod.clone(),
        rootfs: a.rootfs.clone(),
        command: a.command.clone(),
        env: a.env.clone(),
        labels: parse_key_values("label", &a.labels)?,
        working_dir: a.workdir.clone(),
        auto_remove,
        ..NewContainer::default()
    })
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
            Ok(shown) => writeln!(out, "{shown}")?,
            Err(e) if first.is_none() => first = Some(e.into()),
            Err(e) => eprintln!("Error: {e}"),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// [`each`] for operations whose success prints the name given.
fn each_named(
    out: &mut impl Write,
    rt: &Runtime,
    names: &[String],
    mut f: impl FnMut(&Runtime, &str) -> oxpod_runtime::Result<()>,
) -> Result<u8> {
    each(out, names, |n| f(rt, n).map(|()| n.to_owned()))
}

fn run_container(out: &mut impl Write, rt: &Runtime, a: &RunArgs) -> Result<u8> {
    // Detached --rm containers are removed by conmon's exit command;
    // attached ones by us, after we have their exit code.
    let ctr = rt.create_container(new_container(&a.create, a.rm && a.detach)?)?;
    let id = ctr.config.id.clone();
    let started = match rt.start_container(&id) {
        Ok(c) => c,
        Err(e) => {
            if a.rm {
                let _ = rt.remove_container(&id, true);
            }
            return Err(e.into());
        }
    };
    if a.detach {
        writeln!(out, "{id}")?;
        return Ok(0);
    }
    // Ctrl-C and friends go to the container, not to us (podman's --sig-proxy).
    if let Some(pid) = started.state.pid
        && let Err(e) = oxpod_runtime::proxy_signals_to(pid)
    {
        tracing::warn!(error = %e, "signals will not reach the container");
    }
    out.flush()?;
    // A reader that went away (broken pipe) must not leave the container
    // behind: wait and remove first, report the write error after.
    let printed = print_logs(
        out,
        rt,
        &id,
        &LogsOptions {
            follow: true,
            tail: None,
        },
    );
    let code = rt.wait_container(&id)?;
    if a.rm {
        rt.remove_container(&id, true)?;
    }
    printed?;
    Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
}

fn pod_names(rt: &Runtime) -> Result<BTreeMap<String, String>> {
    Ok(rt
        .pods()?
        .into_iter()
        .map(|(p, _)| (p.config.id, p.config.name))
        .collect())
}

fn ps(out: &mut impl Write, rt: &Runtime, a: &PsArgs) -> Result<u8> {
    let mut filters = a
        .filters
        .iter()
        .map(|f| ContainerFilter::parse(f))
        .collect::<oxpod_runtime::Result<Vec<_>>>()?;
    if !a.all && !a.filters.iter().any(|f| f.starts_with("status=")) {
        filters.push(ContainerFilter::Status("running".into()));
    }
    let ctrs = rt.containers(&filters)?;
    let any_pod = ctrs.iter().any(|c| c.config.pod.is_some());
    let pods = if any_pod {
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
    let now = Timestamp::now();
    if a.quiet {
        for c in &ctrs {
            writeln!(out, "{}", views::short(&c.config.id, a.no_trunc))?;
        }
        return Ok(0);
    }
    match Format::parse(a.format.as_deref())? {
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
            print_template(out, &t, &rows)?;
        }
        Format::Default => {
            let mut rows = vec![vec![
                "CONTAINER ID".to_owned(),
                "COMMAND".to_owned(),
                "CREATED".to_owned(),
                "STATUS".to_owned(),
                "NAMES".to_owned(),
            ]];
            if any_pod {
                rows[0].push("POD".to_owned());
            }
            for c in &ctrs {
                let row = views::ps_row(c, pod_name(c), a.no_trunc, now);
                let mut cells: Vec<String> = ["ID", "Command", "CreatedHuman", "Status", "Names"]
                    .iter()
                    .map(|k| row[*k].as_str().unwrap_or_default().to_owned())
                    .collect();
                if any_pod {
                    cells.push(row["PodName"].as_str().unwrap_or_default().to_owned());
                }
                rows.push(cells);
            }
            print_table(out, &rows)?;
        }
    }
    Ok(0)
}

fn inspect(out: &mut impl Write, rt: &Runtime, a: &InspectArgs) -> Result<u8> {
    let mut docs = Vec::new();
    for n in &a.names {
        let doc =
            match rt.container(n) {
                Ok(c) => views::inspect_container(&c),
                Err(oxpod_runtime::Error::State(oxpod_runtime::StateError::IsPod { .. })) => {
                    inspect_pod_doc(rt, n)?
                }
                Err(oxpod_runtime::Error::State(oxpod_runtime::StateError::NotFound {
                    ..
                })) if rt.pod(n).is_ok() => inspect_pod_doc(rt, n)?,
                Err(e) => return Err(e.into()),
            };
        docs.push(doc);
    }
    match Format::parse(a.format.as_deref())? {
        Format::Template(t) => print_template(out, &t, &docs)?,
        _ => print_json(out, &docs)?,
    }
    Ok(0)
}

fn inspect_pod_doc(rt: &Runtime, name: &str) -> Result<Value> {
    let pod = rt.pod(name)?;
    let ctrs = rt.containers(&[ContainerFilter::Pod(pod.config.id.clone())])?;
    Ok(views::inspect_pod(&pod, &ctrs))
}

fn rm(out: &mut impl Write, rt: &Runtime, a: &RmArgs) -> Result<u8> {
    let names: Vec<String> = if a.all {
        rt.containers(&[])?
            .into_iter()
            .map(|c| c.config.id)
            .collect()
    } else {
        if a.names.is_empty() {
            bail!("give at least one container name or id, or --all");
        }
        a.names.clone()
    };
    let mut results = rt.remove_containers(&names, a.force).into_iter();
    each(out, &names, |_| match results.next() {
        Some((_, result)) => result,
        None => Err(oxpod_runtime::Error::Stopped),
    })
}

fn logs(out: &mut impl Write, rt: &Runtime, a: &LogsArgs) -> Result<u8> {
    print_logs(
        out,
        rt,
        &a.name,
        &LogsOptions {
            follow: a.follow,
            tail: a.tail,
        },
    )?;
    Ok(0)
}

/// Prints a container's output as it was written: its stdout to ours, its
/// stderr to ours, and a last line without a newline stays without one.
fn print_logs(out: &mut impl Write, rt: &Runtime, name: &str, options: &LogsOptions) -> Result<()> {
    let mut stderr = std::io::stderr().lock();
    let mut failed = None;
    rt.container_logs(name, options, |line| {
        let end = if line.newline { "\n" } else { "" };
        let r = match line.stream {
            LogStream::Stdout => write!(out, "{}{end}", line.text).and_then(|()| out.flush()),
            LogStream::Stderr => write!(stderr, "{}{end}", line.text),
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
            let pod = rt.create_pod(NewPod {
                name: a.name.clone(),
                labels: parse_key_values("label", &a.labels)?,
            })?;
            writeln!(out, "{}", pod.config.id)?;
            Ok(0)
        }
        PodCommand::Ps(a) => {
            let pods = rt.pods()?;
            if a.quiet {
                for (p, _) in &pods {
                    writeln!(out, "{}", views::short(&p.config.id, a.no_trunc))?;
                }
                return Ok(0);
            }
            let mut docs = Vec::new();
            for (pod, _) in &pods {
                let ctrs = rt.containers(&[ContainerFilter::Pod(pod.config.id.clone())])?;
                docs.push((views::inspect_pod(pod, &ctrs), pod));
            }
            match Format::parse(a.format.as_deref())? {
                Format::Json => {
                    print_json(out, &docs.iter().map(|(d, _)| d).collect::<Vec<_>>())?;
                }
                Format::Template(t) => {
                    let rows: Vec<Value> = docs.into_iter().map(|(d, _)| d).collect();
                    print_template(out, &t, &rows)?;
                }
                Format::Default => {
                    let now = Timestamp::now();
                    let mut rows = vec![
                        ["POD ID", "NAME", "STATUS", "CREATED", "# OF CONTAINERS"]
                            .map(str::to_owned)
                            .to_vec(),
                    ];
                    for (d, pod) in &docs {
                        let age = now.duration_since(pod.config.created).unsigned_abs();
                        rows.push(vec![
                            views::short(&pod.config.id, a.no_trunc).to_owned(),
                            pod.config.name.clone(),
                            d["State"].as_str().unwrap_or_default().to_owned(),
                            crate::human::ago(age),
                            d["NumContainers"].to_string(),
                        ]);
                    }
                    print_table(out, &rows)?;
                }
            }
            Ok(0)
        }
        PodCommand::Inspect(a) => {
            let docs = a
                .names
                .iter()
                .map(|n| inspect_pod_doc(&rt, n))
                .collect::<Result<Vec<_>>>()?;
            match Format::parse(a.format.as_deref())? {
                Format::Template(t) => print_template(out, &t, &docs)?,
                _ => print_json(out, &docs)?,
            }
            Ok(0)
        }
        PodCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                rt.pods()?.into_iter().map(|(p, _)| p.config.id).collect()
            } else {
                if a.names.is_empty() {
                    bail!("give at least one pod name or id, or --all");
                }
                a.names.clone()
            };
            each(out, &names, |n| rt.remove_pod(n, a.force))
        }
        PodCommand::Start(a) => each_named(out, &rt, &a.names, |rt, n| rt.start_pod(n).map(|_| ())),
        PodCommand::Stop(a) => each_named(out, &rt, &a.names, |rt, n| {
            rt.stop_pod(n, a.time).map(|_| ())
        }),
        PodCommand::Kill(a) => {
            let sig = parse_signal(&a.signal).map_err(oxpod_runtime::Error::from)?;
            each_named(out, &rt, &a.names, |rt, n| rt.kill_pod(n, sig).map(|_| ()))
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
                let v = serde_json::to_value(&e)?;
                let line = t
                    .render(&v)
                    .map_err(|err| std::io::Error::other(err.to_string()))?;
                writeln!(out, "{line}")?;
            }
        }
        // Following: show each event as it comes; listing: let it buffer.
        if a.stream { out.flush() } else { Ok(()) }
    };
    rt.read_events(options, &mut |e| match print(e) {
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
            open(g, |o| o.for_reset(true))?.reset()?;
            Ok(0)
        }
        SystemCommand::Check(a) => {
            let report = open(g, |o| o)?.check(a.repair)?;
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
        SystemCommand::Locks(a) => {
            let report = open(g, |o| o)?.locks_report()?;
            match Format::parse(a.format.as_deref())? {
                Format::Json => print_json(out, &report)?,
                Format::Template(t) => print_template(out, &t, &[serde_json::to_value(&report)?])?,
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
