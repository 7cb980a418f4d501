//! xtask: oxpod's developer tasks, run as `cargo xtask <task>`.
//!
//! `ci` is the one entry point for CI and developers; `deps` installs what
//! the tests need; `demo` runs the main job; `bench` compares oxpod with
//! podman. It depends on no oxpod crate: it drives them through cargo and the
//! built binary, as a user would.

#![forbid(unsafe_code)]

mod bench;
mod ci;
mod demo;
mod deps;
mod rootfs;
mod tidy;
mod util;

use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci      deps, fmt check, clippy, all tests, layering guard, tidy; writes target/xtask-ci.pass
  demo    the main job: a real container run, listed, stopped, removed (installs what it needs)
  deps    install runc, conmon and busybox-static when missing (root), else print the command
  tidy    check every .rs file: //! doc first, // SAFETY: on unsafe, no todo!/dbg!/unimplemented!
  layers  check the crate dependency rules with cargo tree
  bench   oxpod vs podman, same workloads, one run (--quick, --micro; see bench --help)
";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no task given");
    };
    match task.as_str() {
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "deps" => deps::run(),
        "demo" => demo::run(),
        "tidy" => tidy::run(&util::workspace_root()),
        "layers" => ci::layering_guard(),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}
