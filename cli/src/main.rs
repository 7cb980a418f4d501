//! oxpod: the command line over `oxpod-runtime`, with podman's flags,
//! output formats and exit codes.
//!
//! Exit codes are decided in one place, [`exit_code`]: 0 success, 125 when
//! oxpod itself failed (bad flag, bad config, no such container, ...), 126
//! when `run`'s command cannot be invoked, 127 when it is not found, else
//! the container's own code (`run`).
#![forbid(unsafe_code)]
// Doc comments on the argument types are clap's help text, not rustdoc:
// `[runtimes]` there names a config table, not an item.
#![allow(rustdoc::broken_intra_doc_links)]

mod args;
mod attach;
mod commands;
mod exec;
mod human;
mod images;
mod networks;
mod output;
mod parse;
mod sigproxy;
mod template;
mod terminal;
mod top;
mod views;
mod volumes;

use std::process::ExitCode;

use clap::Parser;
use oxpod_runtime::{Runtime, RuntimeOptions, config};

use crate::args::{Cli, Global, LogLevel};

/// oxpod itself failed.
const EXIT_FAILED: u8 = 125;

fn main() -> ExitCode {
    // `oxpod help --help` is `oxpod --help` (clap's help takes no flags).
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(i) = argv.iter().rposition(|a| a == "help")
        && i + 1 < argv.len()
        && argv[i + 1..].iter().all(|a| a == "--help" || a == "-h")
    {
        argv.truncate(i);
        argv.push("--help".into());
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_FAILED } else { 0 };
            // podman's words for a flag it does not know, which scripts
            // and people search for.
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && let Some(clap::error::ContextValue::String(flag)) =
                    e.get(clap::error::ContextKind::InvalidArg)
                && flag.starts_with('-')
            {
                let flag = flag.split('=').next().unwrap_or(flag);
                eprintln!("Error: unknown flag: {flag}\nSee 'oxpod --help'");
                return ExitCode::from(code);
            }
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.global.log_level);
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            print_error(&chain(&e));
            ExitCode::from(exit_code(&cli.command, &e))
        }
    }
}

/// An error that exits with podman's code for it rather than 125 (`rm`:
/// 1 for a missing container, 2 for a running one without `-f`).
#[derive(Debug)]
pub(crate) struct CodedError {
    code: u8,
    error: anyhow::Error,
}

impl CodedError {
    pub(crate) fn new(code: u8, error: anyhow::Error) -> Self {
        CodedError { code, error }
    }
}

impl std::fmt::Display for CodedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for CodedError {}

/// Writes `Error: MESSAGE` to stderr in one write, so lines of processes
/// failing at once do not interleave (eprintln! writes piece by piece).
pub(crate) fn print_error(message: &str) {
    use std::io::Write;
    let line = format!("Error: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The error and its causes, podman style: `a: b: c`, without repeating a
/// cause its parent already quoted.
fn chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// The one mapping from errors to exit codes. 126 and 127 belong to `run`
/// and `exec`,
/// whose exit code is the container's; any other command that fails
/// (`start` of a container whose command is missing, say) exits 125, as
/// podman's do.
fn exit_code(command: &args::Command, e: &anyhow::Error) -> u8 {
    if let Some(coded) = e.downcast_ref::<CodedError>() {
        return coded.code;
    }
    use args::{Command, ContainerCommand, ContainerVerb};
    if !matches!(
        command,
        Command::Verb(ContainerVerb::Run(_) | ContainerVerb::Exec(_))
            | Command::Container(ContainerCommand::Verb(
                ContainerVerb::Run(_) | ContainerVerb::Exec(_)
            ))
    ) {
        return EXIT_FAILED;
    }
    e.chain()
        .find_map(|c| c.downcast_ref::<oxpod_runtime::Error>())
        .and_then(oxpod_runtime::Error::command_exit_code)
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(EXIT_FAILED)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(level: LogLevel) {
    let level = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::new(level);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// The runtime options the global flags ask for.
pub(crate) fn runtime_options(g: &Global) -> RuntimeOptions {
    let mut o = RuntimeOptions::new();
    if let Some(c) = &g.config {
        o = o.config_file(c);
    }
    if let Some(d) = &g.root {
        o = o.static_dir(d);
    }
    if let Some(d) = &g.runroot {
        o = o.tmp_dir(d);
    }
    if let Some(r) = &g.runtime {
        o = o.default_runtime(r);
    }
    if let Some(b) = g.events_backend {
        o = o.events_backend(events_backend(b));
    }
    if let Some(m) = g.cgroup_manager {
        o = o.cgroup_manager(cgroup_manager(m));
    }
    if let Some(n) = g.num_locks {
        o = o.num_locks(n);
    }
    if let Some(n) = &g.lock_name {
        o = o.lock_name(n);
    }
    if let Some(ns) = &g.namespace {
        o = o.namespace(ns);
    }
    if let Some(d) = &g.network_config_dir {
        o = o.network_config_dir(std::path::absolute(d).unwrap_or_else(|_| d.clone()));
    }
    if let Ok(exe) = std::env::current_exe() {
        let mut args = global_args(g);
        args.extend(["container".to_owned(), "cleanup".to_owned()]);
        o = o.exit_command(exe, args);
    }
    o
}

/// The `--events-backend` flag's value as the configuration's type.
fn events_backend(b: args::EventsBackend) -> config::EventsBackend {
    match b {
        args::EventsBackend::File => config::EventsBackend::File,
        args::EventsBackend::Journald => config::EventsBackend::Journald,
        args::EventsBackend::None => config::EventsBackend::None,
    }
}

/// The `--cgroup-manager` flag's value as the configuration's type.
fn cgroup_manager(m: args::CgroupManager) -> config::CgroupManager {
    match m {
        args::CgroupManager::Cgroupfs => config::CgroupManager::Cgroupfs,
        args::CgroupManager::Systemd => config::CgroupManager::Systemd,
    }
}

/// The global flags again, for the exit command conmon runs, so the
/// cleanup opens the same runtime.
fn global_args(g: &Global) -> Vec<String> {
    let mut a = Vec::new();
    let mut push = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.push(flag.to_owned());
            a.push(v);
        }
    };
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref().map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
    };
    push("--config", path(&g.config));
    push("--root", path(&g.root));
    push("--runroot", path(&g.runroot));
    push("--runtime", g.runtime.clone());
    push("--num-locks", g.num_locks.map(|n| n.to_string()));
    push("--lock-name", g.lock_name.clone());
    push("--namespace", g.namespace.clone());
    push("--network-config-dir", path(&g.network_config_dir));
    push(
        "--events-backend",
        g.events_backend.map(|b| events_backend(b).to_string()),
    );
    push(
        "--cgroup-manager",
        g.cgroup_manager.map(|m| cgroup_manager(m).to_string()),
    );
    a
}

/// Opens the runtime with the global flags and these extra options.
fn open(
    g: &Global,
    extra: impl FnOnce(RuntimeOptions) -> RuntimeOptions,
) -> anyhow::Result<Runtime> {
    Ok(Runtime::open(extra(runtime_options(g)))?)
}
